/**
 * Quantized weights cached beside the model (native/model/quantCache.ts): written once, read
 * back byte for byte, keyed by the model files (changed weights: a new file, the old one gone),
 * ignored when not whole, skipped without failing where the folder cannot be written; the
 * answerer quantizes on its first load and reads the cache on the next.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Answerer } from '../../native/lift/answer';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { quantCacheFile, readQuantCache, writeQuantCache } from '../../native/model/quantCache';
import { quantizeLinear } from '../../native/model/quantize';
import { saveModelFolder } from '../../native/model/weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-qcache-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cfg = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96, vocab: 259, maxPositions: 128 });
const model = (name: string, seed = 1): string => {
  const dir = path.join(tmp, name);
  saveModelFolder(dir, cfg, randomWeights(cfg, seed, 0.2), byteLevelTokenizerJson());
  return dir;
};

test('written whole, read back byte for byte; not whole: ignored; a folder that cannot be written: the reason, nothing left', () => {
  const dir = model('m');
  const w = randomWeights(cfg, 3);
  const q = new Map([
    ['a', quantizeLinear(w.layers[0]!.linear.q_proj.data, 64, 64, 8)],
    ['b', quantizeLinear(w.layers[0]!.linear.down_proj.data, 64, 96, 4)],
  ]);
  const file = quantCacheFile(dir, 8);
  assert.equal(writeQuantCache(file, q), undefined);
  assert.deepEqual(readQuantCache(file), q);
  const whole = fs.readFileSync(file);
  fs.writeFileSync(file, whole.subarray(0, whole.length - 5));
  assert.equal(readQuantCache(file), undefined, 'a truncated file');
  fs.writeFileSync(file, Buffer.concat([whole, Buffer.from([0])]));
  assert.equal(readQuantCache(file), undefined, 'a longer file');
  // the weights change: another file, and writing it removes the old one
  fs.writeFileSync(file, whole);
  const st = fs.statSync(path.join(dir, 'model.safetensors'));
  fs.utimesSync(path.join(dir, 'model.safetensors'), st.atime, new Date(st.mtimeMs + 5000));
  const next = quantCacheFile(dir, 8);
  assert.notEqual(next, file);
  assert.equal(writeQuantCache(next, q), undefined);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), [path.basename(next)]);
  // a file where the cache folder should be: the reason comes back, no partial file anywhere
  const blocked = model('blocked');
  fs.writeFileSync(path.join(blocked, '.lift'), 'not a folder');
  const problem = writeQuantCache(quantCacheFile(blocked, 4), q);
  assert.match(problem ?? '', /EEXIST|ENOTDIR|not a directory/);
  assert.deepEqual(fs.readdirSync(blocked).filter((f) => f.includes('partial')), []);
});

test('the answerer quantizes on its first load, reads the cache on the next, and answers the same', async () => {
  const dir = model('answer', 5);
  const before = process.env.LIFT_ANSWER_PRECISION;
  process.env.LIFT_ANSWER_PRECISION = 'int8';
  try {
    const first = await Answerer.load(dir);
    assert.match(first.quantCache ?? '', /^quantized and cached in .*weights-int8-b32-[0-9a-f]{16}\.bin$/);
    const file = quantCacheFile(dir, 8);
    assert.ok(fs.existsSync(file));
    const second = await Answerer.load(dir);
    assert.equal(second.quantCache, `read from ${file}`);
    assert.equal(second.weights, 'int8');
    const ids = [5, 70, 12, 99, 31];
    const a = await (first as unknown as { generator: { generate: (p: number[], o: object) => Promise<{ tokens: number[] }> } }).generator.generate(ids, { maxTokens: 16, temperature: 0 });
    const b = await (second as unknown as { generator: { generate: (p: number[], o: object) => Promise<{ tokens: number[] }> } }).generator.generate(ids, { maxTokens: 16, temperature: 0 });
    assert.deepEqual(b.tokens, a.tokens);
    await Promise.all([first.release(), second.release()]);
  } finally {
    if (before === undefined) delete process.env.LIFT_ANSWER_PRECISION;
    else process.env.LIFT_ANSWER_PRECISION = before;
  }
});
