/**
 * Builds the retrieval index of one root with the default model's chunk size and measures it (for
 * index.test.ts): build time, retrieval (search and reading the chunks) over 25 questions, one
 * edit from its event to the next question that finds it, save and load; memory before, at its
 * peak and after (with --expose-gc). Prints one line of JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RetrievalIndexes } from '../../../native/server/indexes';

const peakRss = (): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

void (async () => {
  const [root, store] = [process.argv[2]!, process.argv[3]!];
  const model = path.resolve(__dirname, '..', '..', '..', 'native', 'default-model');
  const r = { roots: [root], model, store };
  // a file to find (collection takes the tree in path order up to its 64 MiB cap: pkg1 is within it)
  const planted = path.join(root, 'pkg1', 'src', 'planted.ts');
  fs.writeFileSync(planted, '/** The quixotic dispatcher routes parcels by weight. */\nexport function dispatchQuixotic(weight: number): string {\n  return weight > 10 ? "heavy" : "light";\n}\n');
  gc();
  const before = process.memoryUsage();
  const indexes = new RetrievalIndexes(() => undefined);
  let started = performance.now();
  const building = indexes.open(r);
  // a question during the first build is answered from line windows of the collected files
  let duringBuild = performance.now();
  const early = await indexes.retrieve(r, 'Which function dispatches quixotic parcels by weight?', 8);
  duringBuild = performance.now() - duringBuild;
  let buildDone = false;
  void building.then(() => (buildDone = true));
  await new Promise((resolve) => setImmediate(resolve));
  const answeredDuringBuild = Number(!buildDone && early.chunks.some((c) => c.path === 'pkg1/src/planted.ts'));
  const index = await building;
  const buildSeconds = (performance.now() - started) / 1000;
  const rssPeak = peakRss();
  const size = index.size;
  const times: number[] = [];
  const search: number[] = [];
  let found = 0;
  for (let i = 0; i < 25; i++) {
    const q = i === 0 ? 'Which function dispatches quixotic parcels by weight?' : `What does handler${(i * 37) % 1000} of module ${i % 16} return?`;
    started = performance.now();
    const got = await indexes.retrieve(r, q, 8);
    times.push(performance.now() - started);
    search.push(got.ms.search);
    if (i === 0) found = Number(got.chunks[0]?.path === 'pkg1/src/planted.ts');
  }
  // one edit: its event, then the next question
  const edited = path.join(root, 'pkg1', 'src', 'm5.ts');
  fs.appendFileSync(edited, '// the zanzibar step closes the loop\n');
  started = performance.now();
  await indexes.filesChanged(r, [edited]);
  const hit = await indexes.retrieve(r, 'Where is the zanzibar step?', 3);
  const editMs = performance.now() - started;
  const editVisible = Number(hit.chunks[0]?.path === 'pkg1/src/m5.ts');
  indexes.flush();
  const file = fs.readdirSync(path.join(store, 'retrieval')).find((f) => f.endsWith('.idx'))!;
  const fileBytes = fs.statSync(path.join(store, 'retrieval', file)).size;
  gc();
  const afterGc = process.memoryUsage();
  // a fresh process's view: the saved index, loaded
  started = performance.now();
  const again = new RetrievalIndexes(() => undefined);
  await again.open(r);
  const loadMs = performance.now() - started;
  const reloadedFound = Number((await again.retrieve(r, 'Which function dispatches quixotic parcels by weight?', 3)).chunks[0]?.path === 'pkg1/src/planted.ts');
  process.stdout.write(
    `${JSON.stringify({
      files: size.files,
      chunks: size.chunks,
      terms: size.terms,
      postings: size.postings,
      buildSeconds,
      answeredDuringBuild,
      duringBuildMs: duringBuild,
      retrieveMedianMs: median(times),
      searchMedianMs: median(search),
      found,
      editMs,
      editVisible,
      loadMs,
      reloadedFound,
      fileBytes,
      rssBefore: before.rss,
      heapBefore: before.heapUsed,
      rssPeak,
      rssAfterGc: afterGc.rss,
      heapAfterGc: afterGc.heapUsed,
      arrayBuffersAfterGc: afterGc.arrayBuffers,
    })}\n`,
  );
})();
