/**
 * Bad input to every parser, fuzzed with a seeded generator: mutated config.json values,
 * safetensors headers and offsets, tokenizer.json, adapter folders and manifests. Each case
 * must either load or fail with the parser's own clear error — never another exception (a
 * crash), never a hang, never an allocation the file's size does not justify.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { seededInts } from '../helpers';
import { readManifest, AdapterStore } from '../../native/lift/store';
import { MANIFEST } from '../../native/lift/learn';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { AdapterError, loadAdapter, saveAdapter } from '../../native/model/peft';
import { TextTokenizer, TokenizerError } from '../../native/model/tokenizer';
import { loadModel, ModelLoadError, saveModelFolder } from '../../native/model/weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-fuzz-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Seeded uniform integers in [0, n). */
const rng = seededInts;

const WEIRD: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 40), Number.MAX_VALUE, 1e308, '', 'x', '12', [], [1, 2], {}, { a: 1 }, 'NaN'];

/** Counts outcomes; anything but `ok` or an expected error class is a failure, with its case. */
class Tally {
  cases = 0;
  loaded = 0;
  rejected = 0;
  failures: string[] = [];
  run(label: string, expected: (new (...a: never[]) => Error)[], f: () => void): void {
    this.cases++;
    try {
      f();
      this.loaded++;
    } catch (err) {
      if (expected.some((E) => err instanceof E) && (err as Error).message.length > 10) this.rejected++;
      else if (this.failures.length < 10) this.failures.push(`${label}: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      else this.failures.push('…');
    }
  }
}

const cfg = smallConfig({ hidden: 16, layers: 1, heads: 2, intermediate: 32, vocab: 259, maxPositions: 64 });
const modelDir = path.join(tmp, 'model');
saveModelFolder(modelDir, cfg, randomWeights(cfg, 1), byteLevelTokenizerJson());
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
const weights = fs.readFileSync(path.join(modelDir, 'model.safetensors'));

test('config.json: 2000 mutated values load or give a ModelLoadError', (t) => {
  const r = rng(11);
  const tally = new Tally();
  const keys = Object.keys(config);
  const dir = path.join(tmp, 'cfg');
  fs.cpSync(modelDir, dir, { recursive: true });
  for (let i = 0; i < 2000; i++) {
    const c: Record<string, unknown> = { ...config };
    for (let k = 0; k <= r(3); k++) {
      const key = keys[r(keys.length)]!;
      if (r(5) === 0) delete c[key];
      else c[key] = WEIRD[r(WEIRD.length)];
    }
    const text = r(20) === 0 ? JSON.stringify(c).slice(0, r(60)) : JSON.stringify(c);
    fs.writeFileSync(path.join(dir, 'config.json'), text);
    tally.run(text, [ModelLoadError], () => void loadModel(dir));
  }
  t.diagnostic(`${tally.cases} cases: ${tally.loaded} loaded, ${tally.rejected} rejected with a clear error, ${tally.failures.length} failures`);
  assert.deepEqual(tally.failures, []);
});

test('model.safetensors: 2000 mutated headers, lengths and offsets load or give a ModelLoadError', (t) => {
  const r = rng(12);
  const tally = new Tally();
  const dir = path.join(tmp, 'st');
  fs.cpSync(modelDir, dir, { recursive: true });
  const headerLen = Number(weights.readBigUInt64LE(0));
  const header = JSON.parse(weights.subarray(8, 8 + headerLen).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  for (let i = 0; i < 2000; i++) {
    let bytes: Buffer;
    const kind = r(4);
    if (kind === 0) {
      // random bytes flipped anywhere in the header
      bytes = Buffer.from(weights);
      for (let k = 0; k <= r(4); k++) bytes[8 + r(headerLen)] = r(256);
    } else if (kind === 1) {
      // the length prefix: huge, zero, past the end, off by a few
      bytes = Buffer.from(weights);
      bytes.writeBigUInt64LE([0n, 1n, 2n ** 63n, BigInt(weights.length), BigInt(headerLen + r(9) - 4)][r(5)]!, 0);
    } else if (kind === 2) {
      // a tensor's entry: dtype, shape, offsets
      const h = structuredClone(header);
      const e = h[names[r(names.length)]!]!;
      const field = r(3);
      if (field === 0) e.dtype = ['F32', 'F16', 'BF16', 'I64', 'U8', 'F8', '', 'f32'][r(8)]!;
      else if (field === 1) e.shape = [[], [0], [-1, 4], [2 ** 31, 2 ** 31], [1e9], [3, 'x' as unknown as number]][r(6)]!;
      else e.data_offsets = [[0, 0], [-8, 8], [0, 2 ** 53], [10, 5], [0], [1.5, 9]][r(6)]!;
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      bytes = Buffer.concat([len, json, weights.subarray(8 + headerLen)]);
    } else {
      // truncated anywhere
      bytes = weights.subarray(0, r(weights.length));
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes);
    tally.run(`kind ${kind} #${i}`, [ModelLoadError], () => void loadModel(dir));
  }
  t.diagnostic(`${tally.cases} cases: ${tally.loaded} loaded, ${tally.rejected} rejected with a clear error, ${tally.failures.length} failures`);
  assert.deepEqual(tally.failures, []);
});

test('tokenizer.json: 1000 mutations load or give a TokenizerError', (t) => {
  const r = rng(13);
  const tally = new Tally();
  const good = byteLevelTokenizerJson([['Ġ', 't'], ['h', 'e']]) as Record<string, unknown>;
  const text = JSON.stringify(good);
  for (let i = 0; i < 1000; i++) {
    let json: unknown;
    const kind = r(3);
    if (kind === 0) {
      const j = structuredClone(good) as Record<string, Record<string, unknown>>;
      const part = ['model', 'pre_tokenizer', 'decoder', 'added_tokens', 'normalizer'][r(5)]!;
      if (r(2) === 0) j[part] = WEIRD[r(WEIRD.length)] as Record<string, unknown>;
      else if (j[part] && typeof j[part] === 'object') j[part]![['type', 'vocab', 'merges', 'id', 'content'][r(5)]!] = WEIRD[r(WEIRD.length)];
      json = j;
    } else if (kind === 1) {
      try {
        json = JSON.parse(`${text.slice(0, r(text.length))}`);
      } catch {
        json = WEIRD[r(WEIRD.length)];
      }
    } else {
      json = WEIRD[r(WEIRD.length)];
    }
    tally.run(`kind ${kind} #${i}`, [TokenizerError], () => {
      const tok = TextTokenizer.fromJson(json);
      tok.decode(tok.encodeText('fuzz the tokenizer'));
    });
  }
  t.diagnostic(`${tally.cases} cases: ${tally.loaded} loaded, ${tally.rejected} rejected with a clear error, ${tally.failures.length} failures`);
  assert.deepEqual(tally.failures, []);
});

test('adapters and manifests: 1000 mutated folders load or give an AdapterError; a store never throws on listing', (t) => {
  const r = rng(14);
  const tally = new Tally();
  const good = path.join(tmp, 'adapter-good');
  const lora = { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'] as ('q_proj' | 'v_proj')[] };
  const tensors: Record<string, Float32Array> = {};
  for (const tgt of lora.targets) {
    tensors[`layers.0.${tgt}.lora_A`] = new Float32Array(2 * 16).fill(0.1);
    tensors[`layers.0.${tgt}.lora_B`] = new Float32Array((tgt === 'q_proj' ? 16 : 16) * 2).fill(0.1);
  }
  saveAdapter(good, cfg, { ...lora, targets: [...lora.targets], tensors }, modelDir, { [MANIFEST]: JSON.stringify({ format: 1, files: [], losses: [], settings: {}, createdAt: '2026-01-01', baseModel: modelDir }) });
  const files = fs.readdirSync(good);
  const store = new AdapterStore(path.join(tmp, 'store'));
  fs.mkdirSync(store.root, { recursive: true });
  for (let i = 0; i < 1000; i++) {
    const dir = path.join(store.root, (0x1000000000000000 + i).toString(16).slice(0, 16).padStart(16, '0'));
    fs.cpSync(good, dir, { recursive: true });
    const f = files[r(files.length)]!;
    const full = path.join(dir, f);
    const bytes = fs.readFileSync(full);
    if (r(3) === 0) fs.writeFileSync(full, bytes.subarray(0, r(bytes.length)));
    else if (f.endsWith('.json')) {
      const j = JSON.parse(bytes.toString()) as Record<string, unknown>;
      const keys = Object.keys(j);
      j[keys[r(keys.length)]!] = WEIRD[r(WEIRD.length)];
      fs.writeFileSync(full, JSON.stringify(j));
    } else {
      const b = Buffer.from(bytes);
      for (let k = 0; k <= r(4); k++) b[r(Math.min(b.length, 200))] = r(256);
      fs.writeFileSync(full, b);
    }
    tally.run(`${f} #${i}`, [AdapterError], () => void loadAdapter(dir, cfg));
    tally.run(`manifest #${i}`, [], () => void readManifest(dir));
  }
  tally.run('list', [], () => void store.list());
  t.diagnostic(`${tally.cases} cases: ${tally.loaded} loaded, ${tally.rejected} rejected with a clear error, ${tally.failures.length} failures`);
  assert.deepEqual(tally.failures, []);
});
