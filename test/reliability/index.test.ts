/**
 * The retrieval index through the real trainer: built on the first question and saved in the
 * adapter store, loaded after a restart (not built again), following an edit, an addition and a
 * deletion from the editor's file events and from the stale check's collection, rebuilt with a
 * log line when its file is damaged, and never holding what collection skips (credential files,
 * ignored files, redacted secrets). On the reliability suite's 100,000-file tree: retrieval and
 * edit times, and memory before and after the build (diagnostics; the behaviour is asserted).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { TrainerClient } from '../../native/client';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';
import type { AskResult } from '../../native/protocol';
import { FAKE, memoryLogger, repoRoot, trainerBundle } from '../helpers';
import { bigTree } from './bigtree';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-index-'));
const model = path.join(tmp, 'model');
const ws = path.join(tmp, 'ws');
const store = path.join(tmp, 'store');
const logger = memoryLogger();
let client: TrainerClient;

before(() => {
  const cfg = smallConfig({ hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 1024 });
  saveModelFolder(model, cfg, randomWeights(cfg, 2, 0.2), byteLevelTokenizerJson());
  const write = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    fs.writeFileSync(path.join(ws, rel), text);
  };
  write('README.md', '# Orbit\n\nOrbit schedules batch jobs on port 7431.\n\n## Queues\n\nThe default queue is orbit-main.\n');
  write('src/app.ts', 'export function startOrbit(port: number): void {\n  console.log(`listening on ${port}`);\n}\n');
  write('src/config.ts', `export const githubToken = "${FAKE.github}";\nexport const region = "eu-west";\n`);
  // what collection skips: credential files, an ignored folder
  write('.env', 'ZEBRAWORD_SECRET=zebraword\n');
  write('keys/id_rsa', 'kiwiword private key\n');
  write('.gitignore', 'ignored/\n');
  write('ignored/notes.md', 'The gnuwordignored notes.\n');
  client = new TrainerClient({ trainerPath: trainerBundle, logger, client: { name: 'index', version: '0' } });
});
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ask = (question: string): Promise<AskResult> => client.ask({ question, roots: [ws], model, store, maxTokens: 1 });
const indexFiles = (): string[] => (fs.existsSync(path.join(store, 'retrieval')) ? fs.readdirSync(path.join(store, 'retrieval')) : []);
const count = (re: RegExp): number => logger.lines.filter((l) => re.test(l)).length;

/** Asks until the answer's sources satisfy `ok` (the index is updated in the trainer as events arrive). */
async function askUntil(question: string, ok: (r: AskResult) => boolean, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (ok(await ask(question))) return performance.now() - started;
    if (performance.now() - started > 10_000) throw new Error(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('built on the first question, saved beside the adapters, loaded (not built) after a restart', async () => {
  const r = await ask('Which port does Orbit schedule jobs on?');
  assert.equal(r.sources[0]?.path, 'README.md');
  assert.equal(count(/retrieval index built/), 1);
  assert.deepEqual(indexFiles().filter((f) => f.endsWith('.idx')).length, 1);
  await client.restart();
  const again = await ask('Which port does Orbit schedule jobs on?');
  assert.deepEqual(again.sources, r.sources);
  assert.equal(count(/retrieval index built/), 1, 'not built again');
  assert.equal(count(/retrieval index loaded/), 1);
});

test('follows an edit, an addition and a deletion from the file events', async (t) => {
  const readme = path.join(ws, 'README.md');
  fs.appendFileSync(readme, '\nJobs of the quasarzeta kind run first.\n');
  assert.ok(client.filesChanged({ roots: [ws], model, store, paths: [readme] }));
  const edit = await askUntil('Which jobs are quasarzeta jobs?', (r) => r.sources.some((s) => s.path === 'README.md' && s.endLine >= 9), 'the edit');
  const added = path.join(ws, 'docs', 'new.md');
  fs.mkdirSync(path.dirname(added));
  fs.writeFileSync(added, '# New\n\nThe xylophonic service plays at noon.\n');
  client.filesChanged({ roots: [ws], model, store, paths: [path.dirname(added)] }); // a new folder: its files
  const add = await askUntil('What is the xylophonic service?', (r) => r.sources[0]?.path === 'docs/new.md', 'the added file');
  fs.rmSync(path.dirname(added), { recursive: true });
  client.filesChanged({ roots: [ws], model, store, paths: [path.dirname(added)] }); // a deleted folder: everything under it
  const del = await askUntil('What is the xylophonic service?', (r) => !r.sources.some((s) => s.path === 'docs/new.md'), 'the deletion');
  t.diagnostic(`visible to the next question: edit ${edit.toFixed(0)} ms, addition ${add.toFixed(0)} ms, deletion ${del.toFixed(0)} ms (each including one answer)`);
});

test("follows the stale check's collection (a file added, then deleted, with no event)", async () => {
  // the stale check runs only for a learned workspace
  await client.learn({ roots: [ws], model, store, epochs: 1, rank: 2, segmentLength: 48 });
  fs.writeFileSync(path.join(ws, 'LATE.md'), '# Late\n\nThe marmalade queue drains at dusk.\n');
  assert.equal((await ask('Where does the marmalade queue drain?')).sources.some((s) => s.path === 'LATE.md'), false, 'no event: not yet indexed');
  const status = await client.adapterStatus({ store, roots: [ws], model });
  assert.ok(status.learned && status.stale.added.includes('LATE.md'));
  const r = await ask('Where does the marmalade queue drain?');
  assert.equal(r.sources[0]?.path, 'LATE.md', 'the question after the stale check sees the file it collected');
  // and a file deleted with no event is gone after the next stale check
  fs.rmSync(path.join(ws, 'LATE.md'));
  await client.adapterStatus({ store, roots: [ws], model });
  assert.equal((await ask('Where does the marmalade queue drain?')).sources.some((s) => s.path === 'LATE.md'), false);
  fs.writeFileSync(path.join(ws, 'LATE.md'), '# Late\n\nThe marmalade queue drains at dusk.\n');
  await client.adapterStatus({ store, roots: [ws], model });
});

test('never holds what collection skips, whatever the events say', async () => {
  const skipped = ['.env', 'keys/id_rsa', 'ignored/notes.md'].map((p) => path.join(ws, p));
  client.filesChanged({ roots: [ws], model, store, paths: skipped });
  for (const word of ['zebraword', 'kiwiword', 'gnuwordignored']) {
    const r = await ask(`What is ${word}?`);
    assert.deepEqual(r.sources.filter((s) => s.path !== 'README.md' && !s.path.endsWith('.ts') && !s.path.endsWith('.md')), [], word);
    assert.ok(!r.sources.some((s) => s.path === 'ignored/notes.md'), word);
  }
  // on disk: neither the skipped files' words nor the redacted token
  await client.stop(); // a shutdown saves what changed
  const [file] = indexFiles().filter((f) => f.endsWith('.idx'));
  const bytes = fs.readFileSync(path.join(store, 'retrieval', file!)).toString('latin1').toLowerCase();
  for (const word of ['zebraword', 'kiwiword', 'gnuwordignored', '.env', 'id_rsa', FAKE.github.slice(4).toLowerCase(), FAKE.github.slice(4, 20).toLowerCase()]) assert.ok(!bytes.includes(word), `the index file holds "${word}"`);
  assert.ok(bytes.includes('marmalad') && bytes.includes('githubtoken'), 'it does hold the words (stemmed) of the files it indexes');
});

test('a damaged index file is built again, with a log line, and answering goes on', async () => {
  await client.stop();
  const [file] = indexFiles().filter((f) => f.endsWith('.idx'));
  const where = path.join(store, 'retrieval', file!);
  const bytes = fs.readFileSync(where);
  fs.writeFileSync(where, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const built = count(/retrieval index built/);
  const r = await ask('Which port does Orbit schedule jobs on?');
  assert.equal(r.sources[0]?.path, 'README.md');
  assert.ok(logger.has('warn', /retrieval index .* is unusable \(truncated/), logger.lines.filter((l) => /retrieval/.test(l)).join('\n'));
  assert.equal(count(/retrieval index built/), built + 1);
  assert.deepEqual(indexFiles().filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
});

test('100,000 files: retrieval and edits after the first build, memory measured', async (t) => {
  const root = path.join(tmp, 'big');
  bigTree(root);
  execFileSync('git', ['init', '-q', root]);
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(__dirname, 'children', 'index.ts'), root, path.join(tmp, 'big-store')], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 20, timeout: 20 * 60_000 });
  type Measured = Record<'answeredDuringBuild' | 'duringBuildMs' | 'files' | 'chunks' | 'terms' | 'fileBytes' | 'buildSeconds' | 'retrieveMedianMs' | 'searchMedianMs' | 'found' | 'editMs' | 'editVisible' | 'loadMs' | 'reloadedFound' | 'rssBefore' | 'heapBefore' | 'rssPeak' | 'rssAfterGc' | 'heapAfterGc' | 'arrayBuffersAfterGc', number>;
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
  assert.ok(r.files > 10_000, `${r.files} files indexed (what collection takes under its caps)`);
  assert.equal(r.answeredDuringBuild, 1, 'a question during the first build is answered (from line windows of the collected files)');
  assert.equal(r.found, 1, 'a planted file is found');
  assert.equal(r.editVisible, 1, 'an edit is found after its event');
  assert.equal(r.reloadedFound, 1, 'the saved index, loaded, answers');
  const mb = (x: number): string => `${(x / 2 ** 20).toFixed(0)} MB`;
  // the index holds no text: far less than the 64 MiB of text the build read
  assert.ok(r.heapAfterGc - r.heapBefore < 120 * 2 ** 20, `heap kept after the build: ${mb(r.heapAfterGc - r.heapBefore)}`);
  t.diagnostic(
    `${r.files} files (${r.chunks} chunks, ${r.terms} terms, ${mb(r.fileBytes)} on disk) built in ${r.buildSeconds.toFixed(0)} s (a question meanwhile answered in ${(r.duringBuildMs / 1000).toFixed(1)} s); retrieval median ${r.retrieveMedianMs.toFixed(1)} ms (search ${r.searchMedianMs.toFixed(1)} ms); one edit visible ${r.editMs.toFixed(0)} ms after its event; load of the saved index ${r.loadMs.toFixed(0)} ms; RSS ${mb(r.rssBefore)} before, peak ${mb(r.rssPeak)}, ${mb(r.rssAfterGc)} after (heap ${mb(r.heapBefore)} → ${mb(r.heapAfterGc)}, typed arrays ${mb(r.arrayBuffersAfterGc)})`,
  );
});
