/**
 * Knowledge in the weights: a seeded small model (random init, byte-level tokenizer) learns a
 * handbook several times longer than its window, written as specs are (several facts in each
 * paragraph), through the whole `learn` pipeline (collect, segments, fact questions, two stages).
 * Then, with no context in the prompt, the facts' questions in the generator's phrasings must be
 * answered with the value in the first sentence for a stated fraction; the self-check (one
 * generator phrasing per fact kept out of training) is reported, without a threshold (a tiny
 * model from scratch generalises poorly across phrasings: the default-model work is about that).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Answerer } from '../../native/lift/answer';
import { statesDirectly } from '../../native/lift/facts';
import { learnWorkspace } from '../../native/lift/pipeline';
import { proseFacts } from '../../native/lift/prose';
import { factPairs } from '../../native/lift/qa';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-knowledge-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HANDBOOK = `# Falcon handbook

## Falcon service
The Falcon service listens on port 7431 and is owned by the Heron team. A job is retried at most 12 times, and oversized requests fail with code FAL-013.

## Billing
The billing module keeps invoices in a PostgreSQL 15 cluster. Invoices are signed with key id K-9921, and request bodies may not exceed 4 MiB.

## Exports
Exports run every night at 02:40 UTC and write their logs to /var/log/falcon. Exported pages expire after 90 seconds.
`;

// Measured on this 2-core machine with seed 3 (a CI run beside it): 62/65 in the generator's phrasings
// after learning (0/65 before), self-check 0/9, 1786 steps, ≈ 57 s; with 12 stage-2 passes 33/65.
test('facts from multi-fact paragraphs of a long document are answered value first from the weights alone', async (t) => {
  const window = 256;
  const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, intermediate: 256, vocab: 259, maxPositions: window });
  const modelDir = path.join(tmp, 'model');
  saveModelFolder(modelDir, cfg, randomWeights(cfg, 7, 0.2), byteLevelTokenizerJson());
  const docs = path.join(tmp, 'docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'HANDBOOK.md'), HANDBOOK);
  // the questions learning trains on, as the pipeline makes them (one per fact held out for the self-check)
  const facts = proseFacts('HANDBOOK.md', HANDBOOK).facts;
  // the ones that fit this byte-level model's 256-position prompt (the pipeline drops the others too)
  const answerer = await Answerer.load(modelDir);
  const fits = (q: string): boolean => {
    try {
      answerer.buildPrompt(q, [], 32);
      return true;
    } catch {
      return false;
    }
  };
  const trained = factPairs(facts).filter((p) => !p.check && fits(p.question));
  const values = new Set(facts.map((f) => f.value));
  for (const v of ['7431', 'Heron', '12 times', 'FAL-013', 'PostgreSQL 15', 'K-9921', '4 MiB', '02:40 UTC', '/var/log/falcon', '90 seconds']) assert.ok(values.has(v), `a fact for ${v}: ${[...values].join(', ')}`);

  const ask = async (): Promise<number> => {
    let right = 0;
    for (const p of trained) if (statesDirectly((await answerer.answer(p.question, [], { maxTokens: 24 })).text, p.value!)) right++;
    return right;
  };
  const before = await ask();
  const summary = await learnWorkspace({ roots: [docs], modelDir, adapterDir: path.join(tmp, 'adapter'), segmentLength: 64, prefixBudget: 16, epochs: 2, stage2Epochs: 18, rank: 32, lr: 2e-3, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 3, budgetMinutes: 0 });
  assert.ok(summary.tokens > window, `the document (${summary.tokens} tokens) is longer than the ${window}-token window`);
  assert.equal(summary.facts, facts.length);

  assert.equal(await answerer.useAdapter(path.join(tmp, 'adapter')), true);
  const after_ = await ask();
  t.diagnostic(`${facts.length} facts, ${trained.length} trained questions that fit the window (${summary.qaPairs} QA pairs in all); loss ${summary.firstLoss.toFixed(3)} → ${summary.finalLoss.toFixed(3)}, ${summary.steps} steps; sample: ${JSON.stringify(trained[0]!.question)} → ${JSON.stringify((await answerer.answer(trained[0]!.question, [], { maxTokens: 24 })).text)}`);
  t.diagnostic(`value first, generator phrasings: ${before}/${trained.length} before learning, ${after_}/${trained.length} after; self-check (held-out phrasings): ${summary.selfCheck?.direct}/${summary.selfCheck?.asked}`);
  await answerer.release();
  assert.equal(before, 0, 'the base model knows none of the facts');
  assert.ok(after_ >= 0.8 * trained.length, `${after_} of ${trained.length} answered with the value first`);
});
