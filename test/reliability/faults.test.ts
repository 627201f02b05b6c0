/**
 * Faults: the trainer is SIGKILLed at seeded random moments while it learns into an adapter
 * store — during collection, graph building, training, saving — and while it answers. After
 * every kill the store lists without error, its active adapter (if any) loads whole, and the
 * next request gets a restarted trainer that works.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { TrainerClient } from '../../native/client';
import { AdapterStore } from '../../native/lift/store';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { loadAdapter } from '../../native/model/peft';
import { saveModelFolder } from '../../native/model/weights';
import { memoryLogger, trainerBundle } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-faults-'));
let client: TrainerClient | undefined;
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('100 seeded SIGKILLs while learning and answering: the store is never corrupt, the trainer always recovers', async (t) => {
  const trials = Number(process.env.LIFT_FAULT_TRIALS ?? 100);
  const cfg = smallConfig({ hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 256 });
  const model = path.join(tmp, 'model');
  saveModelFolder(model, cfg, randomWeights(cfg, 2, 0.2), byteLevelTokenizerJson());
  const docs = path.join(tmp, 'docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'README.md'), '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(4));
  const store = new AdapterStore(path.join(tmp, 'store'));
  // crash-loop guard off: this test kills on purpose
  client = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'faults', version: '0' }, maxCrashes: 10_000 });
  let s = 0x5eed;
  const rand = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const phases = new Map<string, number>();
  let completed = 0;
  for (let trial = 0; trial < trials; trial++) {
    // vary the corpus so learning writes new adapters (and prunes old ones) too
    fs.writeFileSync(path.join(docs, 'NOTES.md'), `# Notes\n\nTrial ${trial % 7}.\n`);
    let phase = 'start';
    const answering = rand(4) === 0;
    const work = answering
      ? client.ask({ question: 'Which port?', roots: [docs], model, store: store.root, maxTokens: 64 }).then(() => 'answered')
      : client.learn({ roots: [docs], model, store: store.root, epochs: 4 + rand(16), rank: 2, segmentLength: 48, seed: trial }, (p) => (phase = p.phase)).then(() => 'learned');
    const killAfter = rand(1500);
    const killed = await Promise.race([work.then((r) => r, () => 'failed'), new Promise<string>((r) => setTimeout(() => r('kill'), killAfter))]);
    if (killed === 'kill') {
      const pid = client.pid;
      if (pid) process.kill(pid, 'SIGKILL');
      await work.catch(() => undefined);
      phases.set(answering ? 'answer' : phase, (phases.get(answering ? 'answer' : phase) ?? 0) + 1);
    } else completed++;
    // whatever happened, the store is consistent and its active adapter loads whole
    const listed = store.list();
    const active = store.activeDir();
    if (active) assert.ok(loadAdapter(active, cfg).tensors, `trial ${trial}: the active adapter loads`);
    assert.ok(listed.every((a) => fs.existsSync(path.join(a.dir, 'adapter_model.safetensors'))));
  }
  const status = await client.status();
  assert.equal(status.onnxruntime.loaded, true, 'a restarted trainer serves');
  t.diagnostic(`${trials} trials: ${trials - completed} killed (${[...phases].map(([p, n]) => `${n} during ${p}`).join(', ')}), ${completed} finished before the kill; 0 corrupt stores; ${store.list().length} adapters kept`);
  assert.ok(trials - completed >= trials / 2, 'most trials were killed mid-way');
});
