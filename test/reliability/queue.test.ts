/**
 * Questions queued while the trainer learns: answered one at a time in the order they were asked
 * (a long answer first does not let shorter ones overtake), those cancelled while waiting leave
 * the line at once without running, and learning completes meanwhile.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { TrainerClient, TrainerError } from '../../native/client';
import { memoryLogger, trainerBundle, tinyWorkspace } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-queue-'));
let client: TrainerClient | undefined;
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('12 questions queued while learning: answered in order, the cancelled ones leave the line cleanly', async (t) => {
  const { model, docs } = tinyWorkspace(tmp, '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(6));
  const store = path.join(tmp, 'store');
  client = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'queue', version: '0' } });
  await client.initialize();
  let trainSteps = 0;
  let learnDone = false;
  const learning = client.learn({ roots: [docs], model, store, epochs: 30, rank: 2, segmentLength: 48 }, (p) => {
    if (p.phase === 'train') trainSteps++;
  }).finally(() => (learnDone = true));
  while (trainSteps === 0) await new Promise((r) => setTimeout(r, 5));

  const N = 12;
  const cancelled = new Set([2, 5, 6, 10]);
  const events: string[] = [];
  const sources = Array.from({ length: N }, () => new CancellationTokenSource());
  const asks = Array.from({ length: N }, (_, i) =>
    client!
      // the first answers are the longest: without the queue, later ones would finish first
      .ask({ question: `Question ${i}: which port?`, roots: [docs], model, store, maxTokens: 48 - 3 * i }, undefined, sources[i]!.token)
      .then(
        () => void events.push(`answered ${i}`),
        (err: unknown) => {
          assert.ok(err instanceof TrainerError && err.kind === 'cancelled', `question ${i}: ${String(err)}`);
          events.push(`cancelled ${i}`);
        },
      ),
  );
  await new Promise((r) => setTimeout(r, 20));
  for (const i of cancelled) sources[i]!.cancel();
  await Promise.all(asks);
  const answeredWhileLearning = !learnDone;
  const result = await learning;
  assert.ok(result.steps > 0, 'learning completed');

  const answered = events.filter((e) => e.startsWith('answered')).map((e) => Number(e.split(' ')[1]));
  assert.deepEqual(answered, [...Array(N).keys()].filter((i) => !cancelled.has(i)), `answered in order: ${events.join(', ')}`);
  assert.deepEqual(events.filter((e) => e.startsWith('cancelled')).map((e) => Number(e.split(' ')[1])).sort((a, b) => a - b), [...cancelled]);
  // a cancelled question leaves at once: it is not held until the answers before it are done
  for (const i of cancelled) {
    const before = events.indexOf(`cancelled ${i}`);
    assert.ok(before < events.indexOf(`answered ${N - 1}`), `question ${i} left before the last answer: ${events.join(', ')}`);
  }
  // and the trainer serves on
  await client.ask({ question: 'One more?', roots: [docs], model, store, maxTokens: 4 });
  t.diagnostic(`${N} questions while learning (${answeredWhileLearning ? 'all settled before learning finished' : 'learning finished first'}): ${answered.length} answered in order, ${cancelled.size} cancelled while waiting; ${events.join(', ')}`);
});
