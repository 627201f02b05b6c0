/**
 * The pieces of the default model's pretraining: the BPE trainer (its tokenizer.json loads in
 * @huggingface/tokenizers, applies the learned merges, round-trips any text, and is the same on
 * every run), the licence filter and held-out split of the training data, the phrasings of the
 * pre-LIFT stage (never a held-out one), and checkpoints that resume a training run exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { HELD_OUT } from '../../native/lift/qa';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaTrainStep } from '../../native/model/llama';
import { floatToHalf, halfToFloat } from '../../native/model/safetensors';
import { TextTokenizer } from '../../native/model/tokenizer';
import { PieceCounter, trainBpe } from '../../native/pretrain/bpe';
import { collectPretrainData, isHeldOut, permissive } from '../../native/pretrain/data';
import { PRETRAIN_PHRASINGS } from '../../native/pretrain/phrasings';
import { loadOrt } from '../../native/runtime/ort';
import { createSession, TrainStepRunner } from '../../native/runtime/session';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-pretrain-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CODE = `export function parseConfig(text: string): Config {
  const config = JSON.parse(text);
  return validateConfig(config);
}
// parseConfig parses the configuration; validateConfig checks it.
export function validateConfig(config: unknown): Config {
  if (typeof config !== 'object') throw new Error('config must be an object');
  return config as Config;
}
`;

test('BPE: learned merges shorten code, load in @huggingface/tokenizers and round-trip any text', () => {
  const counter = new PieceCounter();
  for (let i = 0; i < 5; i++) counter.add(CODE);
  const merges = trainBpe(counter.counts, 200);
  assert.ok(merges.length > 50 && merges.length <= 200, `${merges.length} merges`);
  assert.deepEqual(trainBpe(counter.counts, 200), merges, 'deterministic');
  const tok = TextTokenizer.fromJson(byteLevelTokenizerJson(merges));
  const bytes = TextTokenizer.fromJson(byteLevelTokenizerJson([]));
  const ids = tok.encodeText(CODE);
  assert.ok(ids.length < bytes.encodeText(CODE).length / 3, `${ids.length} tokens vs ${Buffer.byteLength(CODE)} bytes`);
  // a frequent word is one token: the merges are applied as learned
  assert.equal(tok.encodeText(' parseConfig').length, 1);
  for (const text of [CODE, 'ünïcødé ✓ 日本語 🙂\r\n\t  tabs', 'never seen: zqxj_42']) assert.equal(tok.decode(tok.encodeText(text)), text);
  assert.equal(trainBpe(counter.counts, 10, { minFrequency: 1000 }).length, 0, 'no pair is that frequent');
});

test('training data: permissive licences only, a stable held-out twentieth, minified files skipped', () => {
  assert.equal(permissive('MIT'), true);
  assert.equal(permissive('(MIT OR GPL-3.0-or-later)'), true);
  assert.equal(permissive('(MIT AND Zlib)'), true);
  assert.equal(permissive('(MIT AND CC-BY-4.0)'), false);
  for (const l of ['GPL-3.0', 'CC-BY-4.0', 'SEE LICENSE IN LICENSE.txt', 'Artistic-2.0', undefined, { type: 'MIT' }]) assert.equal(permissive(l), false, String(l));
  const names = Array.from({ length: 2000 }, (_, i) => `pkg-${i}`);
  const held = names.filter(isHeldOut).length;
  assert.ok(held > 60 && held < 140, `${held} of 2000 held out`);

  const nm = path.join(tmp, 'node_modules');
  const pkg = (name: string, license: string, files: Record<string, string>): void => {
    const dir = path.join(nm, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.2.3', license }));
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
  };
  pkg('good', 'MIT', { 'README.md': `# Good\n\n${'Docs. '.repeat(60)}`, 'lib/index.js': CODE, 'lib/index.min.js': CODE, 'dist/bundle.js': `${'x'.repeat(3000)}\n`, 'key.js': `${CODE}const k = "AKIAIOSFODNN7EXAMPLE";\n` });
  pkg('copyleft', 'GPL-3.0', { 'index.js': CODE });
  const { docs, packages } = collectPretrainData(nm);
  assert.deepEqual(packages.map((p) => [p.name, p.version, p.license, p.files]), [['good', '1.2.3', 'MIT', 3]]);
  assert.deepEqual(docs.map((d) => d.path), ['good/README.md', 'good/key.js', 'good/lib/index.js'], 'README first; minified and bundled files skipped');
  assert.ok(!docs.some((d) => d.text.includes('AKIAIOSFODNN7EXAMPLE')), 'secret-looking strings are redacted');
});

test('the pre-LIFT phrasings include the generator\'s and never a held-out one', () => {
  for (const [kind, ps] of Object.entries(PRETRAIN_PHRASINGS)) {
    // a fact's questions are made from the fact itself, not from phrasings of a subject
    if (kind === 'fact') continue;
    const asked = new Set(ps.map((p) => p('X')));
    assert.ok(asked.size >= 10 && asked.size === ps.length, `${kind}: ${asked.size} distinct phrasings`);
    for (const h of HELD_OUT[kind as keyof typeof HELD_OUT]) assert.ok(!asked.has(h('X')), `${kind}: "${h('X')}" is held out`);
  }
});

test('a checkpoint (weights and AdamW moments) resumes training exactly', async () => {
  const { Tensor } = loadOrt();
  const cfg = smallConfig({ hidden: 16, layers: 1, heads: 2, intermediate: 32, vocab: 40, maxPositions: 8, tie: true });
  const graph = buildLlamaTrainStep(cfg, randomWeights(cfg, 3), { seqLen: 6, batch: 1 });
  const { session } = await createSession(graph.model, 'cpu');
  const batch = (k: number) => ({
    input_ids: new Tensor('int64', BigInt64Array.from([1, 2, 3, 4, 5, 6].map((x) => BigInt((x * k) % 40))), [1, 6]),
    labels: new Tensor('int64', BigInt64Array.from([2, 3, 4, 5, 6, 7].map((x) => BigInt((x * k) % 40))), [1, 6]),
    loss_mask: new Tensor('float32', new Float32Array(6).fill(1), [1, 6]),
  });
  const a = new TrainStepRunner(session, graph.spec, graph.params);
  for (let k = 1; k <= 3; k++) await a.step(batch(k), 1e-2);
  const saved = Object.fromEntries(Object.entries(a.exportState()).map(([n, v]) => [n, Float32Array.from(v.data)]));
  const b = new TrainStepRunner(session, graph.spec, graph.params);
  b.restore(saved, a.stepCount);
  const la = await a.step(batch(4), 1e-2);
  const lb = await b.step(batch(4), 1e-2);
  assert.equal(lb.loss, la.loss);
  for (const n of Object.keys(graph.params)) assert.deepEqual(b.get(n), a.get(n), n);
  assert.throws(() => b.restore({}, 1), /checkpoint: .* is missing/);
});

test('half precision: every fp16 value round-trips, midpoints round to even, overflow is infinite', () => {
  for (let h = 0; h < 0x10000; h++) {
    const f = halfToFloat(h);
    if (!Number.isNaN(f)) assert.equal(floatToHalf(f), h, `0x${h.toString(16)}`);
  }
  for (let h = 0; h < 0x7bff; h += 7) assert.equal(floatToHalf((halfToFloat(h) + halfToFloat(h + 1)) / 2), h % 2 ? h + 1 : h);
  assert.equal(floatToHalf(1e6), 0x7c00);
  assert.equal(floatToHalf(-1e-9), 0x8000);
});
