/**
 * The bundled default model: a loadable Hugging Face folder within the size limit, with its
 * card, training record and LIFT settings; and LIFT visibly teaches it a small document it never
 * saw — closed-book answers go from none right to most right (the demo's claim, on a smaller
 * sample), in the generator's phrasings and in new ones.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MODEL_LIFT_CONFIG } from '../../native/lift/pipeline';
import { defaultModelDir } from '../../native/model/default';
import { TextTokenizer } from '../../native/model/tokenizer';
import { loadModel } from '../../native/model/weights';
import { knowledgeEval } from '../../native/pretrain/evaluate';
import { repoRoot } from '../helpers';

const dir = path.join(repoRoot, 'native', 'default-model');

test('the default model is a complete Hugging Face folder of at most 25 MB', () => {
  assert.equal(defaultModelDir(path.join(repoRoot, 'dist')), dir, 'found from the trainer bundle (run `npm run pretrain-default` to make it)');
  const size = fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  assert.ok(size <= 25e6, `${(size / 1e6).toFixed(1)} MB`);
  const { config, weights } = loadModel(dir);
  assert.equal(config.vocabSize, 4096);
  assert.ok(config.maxPositions >= 512);
  const params = [weights.embed, weights.norm, ...weights.layers.flatMap((l) => [l.inputNorm, l.postNorm, ...Object.values(l.linear)])].reduce((a, w) => a + w.data.length, 0);
  assert.ok(params > 2e6 && params < 50e6, `${params} parameters`);
  const tok = TextTokenizer.fromFolder(dir);
  assert.equal(tok.decode(tok.encodeText('const x = a !== b;\n')), 'const x = a !== b;\n');
  const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  for (const heading of ['## Training data', '## Training', '## Does LIFT teach it a new document?', '## Limits', '## Reproduce']) assert.ok(card.includes(heading), heading);
  const training = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8'));
  assert.ok(training.packages.length > 100 && training.packages.every((p: { license: string; version: string }) => p.license && p.version));
  assert.ok(training.stages.lm.heldOut.length > 0, 'held-out loss recorded');
  assert.ok(JSON.parse(fs.readFileSync(path.join(dir, MODEL_LIFT_CONFIG), 'utf8')).presets.fast.lr > 0);
});

test('LIFT teaches the default model a small document it never saw (closed book, before vs after)', async (t) => {
  const r = await knowledgeEval(dir, { facts: 4, seed: 29, learn: { seed: 1 } });
  t.diagnostic(`before: ${r.before.generator}/${r.asked.generator} generator phrasings, ${r.before.heldOut}/${r.asked.heldOut} new; after: ${r.after.generator}/${r.asked.generator}, ${r.after.heldOut}/${r.asked.heldOut}; ${r.steps} steps`);
  assert.ok(r.before.generator + r.before.heldOut <= 1, 'before learning it knows (almost) none of the facts');
  assert.ok(r.after.generator >= 0.75 * r.asked.generator, `${r.after.generator}/${r.asked.generator} in the generator's phrasings`);
  assert.ok(r.after.heldOut >= 0.5 * r.asked.heldOut, `${r.after.heldOut}/${r.asked.heldOut} in new phrasings`);
});
