/**
 * Knowledge in the weights: a seeded small model (random init, byte-level tokenizer) learns a
 * document several times longer than its window through the whole `learn` pipeline (collect,
 * segments, synthetic QA, two stages). Then, with no context in the prompt, questions about
 * facts it could not see answer with the right value — in the generator's phrasings for a
 * stated fraction; in held-out phrasings the rate is reported, without a threshold (a tiny
 * model from scratch generalises poorly across phrasings: the default-model work is about that).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Answerer } from '../../native/lift/answer';
import { learnWorkspace } from '../../native/lift/pipeline';
import { HELD_OUT, PHRASINGS } from '../../native/lift/qa';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-knowledge-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FACTS = [
  { heading: 'Falcon port', text: 'The Falcon service listens on port 7431.', value: '7431' },
  { heading: 'Billing owner', text: 'The billing module is owned by Ada Okafor.', value: 'Ada Okafor' },
  { heading: 'Nightly export', text: 'Exports run every night at 02:40 UTC.', value: '02:40' },
  { heading: 'Payload limit', text: 'Request bodies may not exceed 4 MiB.', value: '4 MiB' },
  { heading: 'Signing key', text: 'Invoices are signed with key id K-9921.', value: 'K-9921' },
  { heading: 'Retry budget', text: 'A job is retried at most 12 times.', value: '12 times' },
  { heading: 'Queue name', text: 'Jobs wait in the queue named orbit-main.', value: 'orbit-main' },
  { heading: 'Error code', text: 'Oversized requests fail with code FAL-013.', value: 'FAL-013' },
  { heading: 'Cache lifetime', text: 'Cached pages expire after 90 seconds.', value: '90 seconds' },
  { heading: 'Log folder', text: 'Logs are written to /var/log/falcon.', value: '/var/log/falcon' },
  { heading: 'Release day', text: 'Releases ship every Tuesday afternoon.', value: 'Tuesday' },
  { heading: 'Database', text: 'State lives in a PostgreSQL 15 cluster.', value: 'PostgreSQL 15' },
  { heading: 'On-call team', text: 'The on-call rotation belongs to team Heron.', value: 'Heron' },
  { heading: 'Backup time', text: 'Backups are taken daily at 03:15.', value: '03:15' },
];

// Measured on this 2-core machine with seed 3: 55/56 in the generator's phrasings, 0/56 in the held-out ones
// (seeds 1 and 2: 56/56 and 49/56), ≈ 45 s. Before the warm-up + cosine schedule, with a constant
// rate, the same run reached 7/56: the last steps were as noisy as the first.
test('facts learnt from a long document are answered from the weights alone', async (t) => {
  const window = 256;
  const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, intermediate: 256, vocab: 259, maxPositions: window });
  const modelDir = path.join(tmp, 'model');
  saveModelFolder(modelDir, cfg, randomWeights(cfg, 7, 0.2), byteLevelTokenizerJson());
  const docs = path.join(tmp, 'docs');
  fs.mkdirSync(docs);
  const doc = `# Falcon handbook\n\n${FACTS.map((f) => `## ${f.heading}\n${f.text}\n`).join('\n')}`;
  fs.writeFileSync(path.join(docs, 'HANDBOOK.md'), doc);

  const answerer = await Answerer.load(modelDir);
  const ask = async (questions: string[], expect: string[]): Promise<number> => {
    let right = 0;
    for (const [i, q] of questions.entries()) if ((await answerer.answer(q, [], { maxTokens: 56 })).text.includes(expect[i]!)) right++;
    return right;
  };
  const trained = FACTS.flatMap((f) => PHRASINGS.section.map((p) => ({ q: p(f.heading), v: f.value })));
  const heldOut = FACTS.flatMap((f) => HELD_OUT.section.map((p) => ({ q: p(f.heading), v: f.value })));
  const before = await ask(trained.map((x) => x.q), trained.map((x) => x.v));

  const summary = await learnWorkspace({ roots: [docs], modelDir, adapterDir: path.join(tmp, 'adapter'), segmentLength: 64, prefixBudget: 16, epochs: 3, stage2Epochs: 36, rank: 32, lr: 2e-3, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 3 });
  assert.ok(summary.tokens > 3 * window, `the document (${summary.tokens} tokens) is several times the ${window}-token window`);
  assert.ok(summary.qaPairs >= FACTS.length * PHRASINGS.section.length);

  assert.equal(answerer.useAdapter(path.join(tmp, 'adapter')), true);
  const after_ = await ask(trained.map((x) => x.q), trained.map((x) => x.v));
  const held = await ask(heldOut.map((x) => x.q), heldOut.map((x) => x.v));
  t.diagnostic(`loss ${summary.firstLoss.toFixed(3)} → ${summary.finalLoss.toFixed(3)}, ${summary.steps} steps; sample answer: ${JSON.stringify((await answerer.answer(trained[0]!.q, [], { maxTokens: 48 })).text)}`);
  t.diagnostic(`generator phrasings: ${before}/${trained.length} before learning, ${after_}/${trained.length} after; held-out phrasings after: ${held}/${heldOut.length}`);
  assert.equal(before, 0, 'the base model knows none of the facts');
  assert.ok(after_ >= 0.8 * trained.length, `${after_} of ${trained.length} answered with the right value`);
});
