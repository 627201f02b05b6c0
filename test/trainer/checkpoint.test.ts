/**
 * Learning keeps its place: a trainer killed (SIGKILL) at a random step of a learn resumes, in a
 * new trainer process, from its last checkpoint and ends with the losses and the adapter of an
 * uninterrupted run; a cancelled learn keeps a checkpoint too; a damaged checkpoint or one of
 * other samples is discarded with a message and learning starts over; a finished learn leaves none.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { TrainerClient } from '../../native/client';
import type { LearnParams, LearnProgress } from '../../native/protocol';
import { checkpointFile } from '../../native/lift/checkpoint';
import { MANIFEST } from '../../native/lift/learn';
import { SafetensorsFile } from '../../native/model/safetensors';
import { memoryLogger, seededInts, tinyWorkspace, trainerBundle } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-checkpoint-'));
const clients: TrainerClient[] = [];
let ws: ReturnType<typeof tinyWorkspace>;

before(() => {
  ws = tinyWorkspace(tmp, '# Orbit\n\nOrbit schedules jobs on port 7431. Retries back off to 8 s. The queue is called orbit-main.\n\n## Workers\n\nEach worker takes 4 jobs at a time and reports to the Atlas team.\n'.repeat(4));
});
after(async () => {
  for (const c of clients) await c.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function trainer(): TrainerClient {
  const c = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'checkpoint', version: '0' } });
  clients.push(c);
  return c;
}

/** The same learn each time: fixed passes (no time budget), no self-check, a checkpoint after every step. */
const params = (adapterDir: string, checkpointSeconds = 0): LearnParams => ({
  roots: [ws.docs],
  model: ws.model,
  adapterDir,
  epochs: 2,
  rank: 4,
  lr: 2e-3,
  segmentLength: 48,
  budgetMinutes: 0,
  selfCheck: 0,
  checkpointSeconds,
});

/** The manifest's losses: [step, loss] (every step, or 200 spread over them). */
const losses = (dir: string): [number, number][] => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')).losses;
function adapterTensors(dir: string): Map<string, Float32Array> {
  const f = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
  return new Map([...f.tensors.keys()].map((k) => [k, f.readFloat32(k).data]));
}
const maxDiff = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): number => {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let m = 0;
  for (const [k, x] of a) x.forEach((v, i) => (m = Math.max(m, Math.abs(v - b.get(k)![i]!))));
  return m;
};

let reference: { dir: string; steps: number };

test('an uninterrupted learn leaves no checkpoint behind', async (t) => {
  const dir = path.join(tmp, 'reference');
  const r = await trainer().learn(params(dir));
  assert.ok(r.steps >= 20, `${r.steps} steps: enough to be interrupted in the middle`);
  t.diagnostic(`${r.steps} steps`);
  assert.equal(losses(dir).at(-1)![0], r.steps, 'the manifest has the losses up to the last step');
  assert.equal(fs.existsSync(checkpointFile(dir)), false);
  reference = { dir, steps: r.steps };
});

test('a trainer killed at a random step resumes from its checkpoint and ends as an uninterrupted run', async (t) => {
  const dir = path.join(tmp, 'killed');
  const at = 3 + (seededInts(Date.now() % 1000)(reference.steps - 6));
  t.diagnostic(`killing the trainer after step ${at} of ${reference.steps}`);
  const first = trainer();
  await assert.rejects(
    first.learn(params(dir), (p) => {
      if (p.phase === 'train' && p.step === at) process.kill(first.pid!, 'SIGKILL');
    }),
  );
  const file = checkpointFile(dir);
  assert.ok(fs.existsSync(file), 'a checkpoint survives the kill');
  assert.equal(fs.existsSync(dir), false, 'no adapter yet');
  fs.copyFileSync(file, path.join(tmp, 'kept.checkpoint'));
  const messages: string[] = [];
  const seen: number[] = [];
  const r = await trainer().learn(params(dir), (p: LearnProgress) => {
    if (p.message) messages.push(p.message);
    if (p.phase === 'train' && p.step) seen.push(p.step);
  });
  const resumed = messages.find((m) => m.startsWith('resuming at step'));
  assert.ok(resumed, messages.join('\n'));
  const from = Number(/resuming at step (\d+)/.exec(resumed)![1]);
  t.diagnostic(`${resumed}; steps run again: ${at - from}`);
  assert.ok(from >= at - 1 && from <= at, `resumed at ${from}, killed after ${at}`);
  assert.equal(seen[0], from + 1, 'training continues with the next step');
  assert.ok(messages.some((m) => /found the checkpoint of an interrupted learn at step/.test(m)), 'the plan says so before training');
  assert.equal(r.steps, reference.steps);
  const a = losses(reference.dir);
  const b = losses(dir);
  assert.deepEqual(b.map(([step]) => step), a.map(([step]) => step));
  const worst = Math.max(...a.map(([, l], i) => Math.abs(l - b[i]![1])));
  const diff = maxDiff(adapterTensors(reference.dir), adapterTensors(dir));
  t.diagnostic(`largest loss difference ${worst.toExponential(2)}, largest adapter difference ${diff.toExponential(2)}`);
  assert.ok(worst < 1e-3, `losses match the uninterrupted run's (${worst})`);
  assert.ok(diff < 1e-3, `the adapter matches the uninterrupted run's (${diff})`);
  assert.equal(fs.existsSync(file), false, 'the checkpoint is removed once the adapter is saved');
});

test('a damaged checkpoint is discarded with a message and learning starts over', async () => {
  const kept = fs.readFileSync(path.join(tmp, 'kept.checkpoint'));
  const cases: [string, Buffer, RegExp][] = [
    ['a flipped byte in the values', Buffer.from(kept).fill(0x7f, kept.length - 64, kept.length - 60), /do not match their digest/],
    ['cut short', kept.subarray(0, Math.floor(kept.length / 2)), /cannot be read .*truncated/],
    ['not a checkpoint', Buffer.from('garbage'), /cannot be read/],
  ];
  for (const [what, bytes, why] of cases) {
    const dir = path.join(tmp, `damaged-${what.replace(/\W+/g, '-')}`);
    fs.writeFileSync(checkpointFile(dir), bytes);
    const messages: string[] = [];
    let firstStep: number | undefined;
    const r = await trainer().learn(params(dir), (p) => {
      if (p.message) messages.push(p.message);
      if (p.phase === 'train' && p.step) firstStep ??= p.step;
    });
    const said = messages.find((m) => m.startsWith('a checkpoint was discarded'));
    assert.ok(said && why.test(said), `${what}: ${messages.join(' | ')}`);
    assert.equal(firstStep, 1, `${what}: learning starts over`);
    assert.equal(r.steps, reference.steps);
    assert.equal(fs.existsSync(checkpointFile(dir)), false);
  }
});

test('a checkpoint of other samples is not used; a cancelled learn keeps one to resume from', async () => {
  const dir = path.join(tmp, 'cancelled');
  const client = trainer();
  const source = new CancellationTokenSource();
  await assert.rejects(
    client.learn(params(dir), (p) => {
      if (p.phase === 'train' && p.step === 5) source.cancel();
    }, source.token),
  );
  assert.ok(fs.existsSync(checkpointFile(dir)), 'cancelling keeps a checkpoint');
  // another learning rate: other steps from here on, so the checkpoint does not fit
  const messages: string[] = [];
  const r = await client.learn({ ...params(dir), lr: 1e-3 }, (p) => void (p.message && messages.push(p.message)));
  assert.ok(messages.some((m) => /a checkpoint was discarded: it was written for other samples or settings/.test(m)), messages.join(' | '));
  assert.equal(r.steps, reference.steps);
  assert.equal(fs.existsSync(checkpointFile(dir)), false);
});

test('the passes an interrupted learn planned are kept only for the same samples: a changed input plans afresh', async () => {
  const dir = path.join(tmp, 'changed-input');
  const client = trainer();
  const source = new CancellationTokenSource();
  await assert.rejects(
    client.learn({ ...params(dir), epochs: 3 }, (p) => {
      if (p.phase === 'train' && p.step === 3) source.cancel();
    }, source.token),
  );
  assert.ok(fs.existsSync(checkpointFile(dir)), 'cancelling keeps a checkpoint (3 passes planned)');
  // the workspace changes before the next learn, which asks for 2 passes
  const other = path.join(tmp, 'changed-docs');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'README.md'), fs.readFileSync(path.join(ws.docs, 'README.md'), 'utf8').replace(/7431/g, '7432'));
  const messages: string[] = [];
  const r = await client.learn({ ...params(dir), roots: [other] }, (p) => void (p.message && messages.push(p.message)));
  assert.ok(!messages.some((m) => /keeping the .* passes it planned/.test(m)), messages.join(' | '));
  assert.ok(messages.some((m) => /a checkpoint was discarded: it was written for other samples or settings/.test(m)), messages.join(' | '));
  assert.equal(r.steps, reference.steps, 'the 2 passes asked for, as an uninterrupted learn of the same size');
  assert.equal(fs.existsSync(checkpointFile(dir)), false);
});
