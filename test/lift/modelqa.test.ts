/**
 * Model-written QA (instruct models): the reply parser, the grounding check that drops answers
 * the source does not support, and the learn path — a model without chat tokens is skipped with
 * a message; a chat-format model is asked once per chunk and its (random, ungrounded) pairs are
 * all dropped, so nothing invented is trained on.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { grounded, parseQA } from '../../native/lift/modelqa';
import type { LearnProgress } from '../../native/lift/learn';
import { learnWorkspace } from '../../native/lift/pipeline';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-modelqa-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CHUNK = 'export function retryDelay(attempt: number): number {\n  // doubles from 250 ms, at most 8000 ms\n  return Math.min(8000, 250 * 2 ** attempt);\n}';

test('parseQA finds the first Q:/A: pair and refuses fragments', () => {
  assert.deepEqual(parseQA('Sure.\nQ: What does retryDelay return?\nA: The delay in ms, at most 8000.\nQ: another'), { question: 'What does retryDelay return?', answer: 'The delay in ms, at most 8000.' });
  assert.deepEqual(parseQA('Q: What is the largest delay?\nA: 8000 ms'), { question: 'What is the largest delay?', answer: '8000 ms' });
  for (const bad of ['', 'Q: only a question', 'A: only an answer', 'Q: hi?\nA: x', 'no pair at all']) assert.equal(parseQA(bad), undefined, bad);
});

test('grounded: identifiers and numbers must be in the source, and most words', () => {
  assert.equal(grounded('retryDelay doubles the delay from 250 ms, at most 8000 ms.', CHUNK), true);
  assert.equal(grounded('retryDelay doubles the delay from 500 ms.', CHUNK), false, 'an invented number');
  assert.equal(grounded('It calls computeBackoff.', CHUNK), false, 'an invented identifier');
  assert.equal(grounded('Exponential jitter with random sleeping between attempts.', CHUNK), false, 'mostly words the source lacks');
  assert.equal(grounded('the and of', CHUNK), false, 'no content');
});

test('learn asks a chat-format model once per chunk and drops ungrounded pairs; other models are skipped', async () => {
  const docs = path.join(tmp, 'docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'retry.ts'), `${CHUNK}\n`);
  const cfg = smallConfig({ hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 512 });
  const model = path.join(tmp, 'model');
  saveModelFolder(model, cfg, randomWeights(cfg, 4, 0.2), byteLevelTokenizerJson());
  const messages: string[] = [];
  const onProgress = (p: LearnProgress): void => void (p.message && messages.push(p.message));
  const common = { roots: [docs], modelDir: model, epochs: 1, rank: 2, segmentLength: 48, modelQA: 3 };
  const chat = await learnWorkspace({ ...common, adapterDir: path.join(tmp, 'a1') }, { onProgress });
  assert.ok(messages.includes('the model writes QA pairs: 1/1'), messages.join(' | '));
  assert.ok(messages.includes('model-written QA: 0 of 1 kept (grounded in the source)'), messages.join(' | '));
  const without = await learnWorkspace({ ...common, modelQA: 0, adapterDir: path.join(tmp, 'a0') });
  assert.equal(chat.qaPairs, without.qaPairs, 'nothing the random model wrote was trained on');

  const plain = path.join(tmp, 'plain');
  saveModelFolder(plain, cfg, randomWeights(cfg, 4, 0.2), byteLevelTokenizerJson([], ['<|endoftext|>']));
  messages.length = 0;
  await learnWorkspace({ ...common, modelDir: plain, adapterDir: path.join(tmp, 'a2') }, { onProgress });
  assert.ok(messages.includes('not an instruct model (no chat tokens): no model-written QA'), messages.join(' | '));
});
