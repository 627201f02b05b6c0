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
import { loadAdapter } from '../../native/model/peft';
import { memoryLogger, seededInts, trainerBundle, tinyWorkspace } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-faults-'));
let client: TrainerClient | undefined;
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('100 seeded SIGKILLs while learning and answering: the store is never corrupt, the trainer always recovers', async (t) => {
  const trials = Number(process.env.LIFT_FAULT_TRIALS ?? 100);
  const { cfg, model, docs } = tinyWorkspace(tmp, '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(4));
  const store = new AdapterStore(path.join(tmp, 'store'));
  // crash-loop guard off: this test kills on purpose
  client = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'faults', version: '0' }, maxCrashes: 10_000 });
  const rand = seededInts(0x5eed);
  const phases = new Map<string, number>();
  let completed = 0;
  for (let trial = 0; trial < trials; trial++) {
    // vary the corpus so learning writes new adapters (and prunes old ones) too
    fs.writeFileSync(path.join(docs, 'NOTES.md'), `# Notes\n\nTrial ${trial % 7}.\n`);
    let phase = 'start';
    let events = 0;
    const pid = (): number | undefined => client!.pid;
    const answering = rand(4) === 0;
    // learning is killed at a seeded progress event (collection, build, a training step, save),
    // so where it dies does not depend on this machine's speed; answering after a seeded delay
    const target = 1 + rand(1200);
    const atSave = rand(5) === 0;
    let sent = false;
    const kill = (): void => {
      const p = pid();
      if (!sent && p) {
        sent = true;
        process.kill(p, 'SIGKILL');
      }
    };
    const work = answering
      ? client.ask({ question: 'Which port?', roots: [docs], model, store: store.root, maxTokens: 64 })
      : client.learn({ roots: [docs], model, store: store.root, epochs: 4 + rand(16), rank: 2, segmentLength: 48, seed: trial }, (p) => {
          phase = p.phase;
          if (++events === target || (atSave && p.phase === 'save')) kill();
        });
    const timer = answering ? setTimeout(kill, rand(400)) : undefined;
    await work.catch(() => undefined);
    clearTimeout(timer);
    if (sent) phases.set(answering ? 'answer' : phase, (phases.get(answering ? 'answer' : phase) ?? 0) + 1);
    else completed++;
    // whatever happened, the store is consistent and its active adapter loads whole
    const listed = store.list();
    const active = store.activeDir();
    if (active) assert.ok(loadAdapter(active, cfg).tensors, `trial ${trial}: the active adapter loads`);
    assert.ok(listed.every((a) => fs.existsSync(path.join(a.dir, 'adapter_model.safetensors'))));
  }
  const status = await client.status();
  assert.equal(status.onnxruntime.loaded, true, 'a restarted trainer serves');
  t.diagnostic(`${trials} trials: ${trials - completed} killed (${[...phases].map(([p, n]) => `${n} during ${p}`).join(', ')}), ${completed} finished before the kill; 0 corrupt stores; ${store.list().length} adapters kept`);
  // where learning dies is seeded by progress events, so these counts do not depend on speed
  const learnKills = [...phases].filter(([p]) => p !== 'answer').reduce((a, [, n]) => a + n, 0);
  if (trials >= 100) {
    assert.ok(learnKills >= 30, `${learnKills} learning runs were killed mid-way`);
    assert.ok((phases.get('save') ?? 0) > 0, 'some kills landed during the save');
  }
});
