/**
 * GGUF export, for llama.cpp and Ollama: a model folder (llama, mistral, qwen2) as one GGUF file
 * (f32, f16, q8_0 or q4_0 weights; the hyper-parameters, tokenizer and chat template llama.cpp
 * reads), a LIFT adapter as a GGUF LoRA adapter (or merged into the weights), and an Ollama
 * Modelfile. Written as llama.cpp's own converter (convert_hf_to_gguf.py) lays it out: tensor
 * names `token_embd`, `blk.N.attn_q`, …; dims innermost first; q/k rows of llama-arch models
 * reordered for llama.cpp's interleaved RoPE; quantized blocks as ggml's reference quantizers.
 * Every file is written beside its target and renamed into place at the end: an export that
 * fails (an architecture GGUF cannot express, a full disk) leaves nothing half-written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JSON_FILE_LIMIT, readText } from '../files';
import { describeFsError } from '../fsError';
import { loadChatTemplate } from './chatTemplate';
import type { LlamaConfig } from './config';
import { loraName } from './llama';
import { modelFile } from './modelFile';
import { type LoraAdapter, loadAdapter } from './peft';
import { toHalfBits } from './safetensors';
import { type LinearTarget, linearShape, loadModel, type Weight } from './weights';

export class GgufError extends Error {
  override name = 'GgufError';
}

export type GgufQuant = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const GGUF_QUANTS: readonly GgufQuant[] = ['f32', 'f16', 'q8_0', 'q4_0'];

/** ggml tensor types (ggml.h) and general.file_type values (llama.h's LLAMA_FTYPE_*). */
const GGML_TYPE = { f32: 0, f16: 1, q4_0: 2, q8_0: 8 } as const;
const FILE_TYPE = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 } as const;
const BLOCK = 32;
const ALIGNMENT = 32;

// ---------------------------------------------------------------------------------------------
// Values and tensors

type Kv =
  | { t: 'u32' | 'i32' | 'f32' | 'u64'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'strs'; v: readonly string[] }
  | { t: 'i32s'; v: readonly number[] };

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, str: 8, array: 9, u64: 10 } as const;

/** A tensor to write: its dims innermost first (ggml's ne), its type, and its bytes made on demand. */
export interface GgufTensor {
  name: string;
  ne: readonly number[];
  type: keyof typeof GGML_TYPE;
  bytes: () => Uint8Array;
}

const tensorBytes = (t: Pick<GgufTensor, 'ne' | 'type'>): number => {
  const n = t.ne.reduce((a, b) => a * b, 1);
  return t.type === 'f32' ? 4 * n : t.type === 'f16' ? 2 * n : (n / BLOCK) * (t.type === 'q8_0' ? 34 : 18);
};

/** An append-only little-endian byte buffer. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.room(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.room(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.room(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.room(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.room(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.room(b.length);
    this.length += b.copy(this.buf, this.length);
  }
  pad(to: number): void {
    const n = (to - (this.length % to)) % to;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeKv(b: Bytes, key: string, kv: Kv): void {
  b.str(key);
  switch (kv.t) {
    case 'u32':
    case 'i32':
    case 'f32':
    case 'u64':
      b.u32(VALUE_TYPE[kv.t]);
      if (kv.t === 'u32') b.u32(kv.v);
      else if (kv.t === 'i32') b.i32(kv.v);
      else if (kv.t === 'f32') b.f32(kv.v);
      else b.u64(kv.v);
      return;
    case 'bool':
      b.u32(VALUE_TYPE.bool);
      b.u8(kv.v ? 1 : 0);
      return;
    case 'str':
      b.u32(VALUE_TYPE.str);
      b.str(kv.v);
      return;
    case 'strs':
      b.u32(VALUE_TYPE.array);
      b.u32(VALUE_TYPE.str);
      b.u64(kv.v.length);
      for (const s of kv.v) b.str(s);
      return;
    case 'i32s':
      b.u32(VALUE_TYPE.array);
      b.u32(VALUE_TYPE.i32);
      b.u64(kv.v.length);
      for (const x of kv.v) b.i32(x);
  }
}

/**
 * Writes a GGUF v3 file: the header, the metadata, the tensor table and the tensors (each
 * aligned to 32 bytes), into `file + '.partial'`; the caller renames it into place.
 */
export function writeGguf(file: string, kvs: readonly [string, Kv][], tensors: readonly GgufTensor[]): void {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kvs.length);
  for (const [k, v] of kvs) writeKv(head, k, v);
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.ne.length);
    for (const d of t.ne) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    offset += Math.ceil(tensorBytes(t) / ALIGNMENT) * ALIGNMENT;
  }
  head.pad(ALIGNMENT);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, head.view());
    const zeros = Buffer.alloc(ALIGNMENT);
    for (const t of tensors) {
      const data = t.bytes();
      if (data.length !== tensorBytes(t)) throw new GgufError(`${t.name}: ${data.length} bytes, expected ${tensorBytes(t)}`);
      fs.writeSync(fd, data);
      const pad = (ALIGNMENT - (data.length % ALIGNMENT)) % ALIGNMENT;
      if (pad) fs.writeSync(fd, zeros, 0, pad);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref)

/** Q8_0: blocks of 32, a float16 scale amax/127 and 32 signed bytes. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = x.length / BLOCK;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[b * BLOCK + j]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    view.setUint16(b * 34, toHalfBits(Float32Array.of(d))[0]!, true);
    for (let j = 0; j < BLOCK; j++) view.setInt8(b * 34 + 2 + j, roundAway(x[b * BLOCK + j]! * id));
  }
  return out;
}

/** Q4_0: blocks of 32, a float16 scale (the value of largest magnitude ÷ −8) and 4-bit values offset by 8, two to a byte (j and j+16). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const blocks = x.length / BLOCK;
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < BLOCK; j++) {
      const v = x[b * BLOCK + j]!;
      if (Math.abs(v) > amax) [amax, max] = [Math.abs(v), v];
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    view.setUint16(b * 18, toHalfBits(Float32Array.of(d))[0]!, true);
    for (let j = 0; j < BLOCK / 2; j++) {
      const q0 = Math.min(15, Math.trunc(x[b * BLOCK + j]! * id + 8.5));
      const q1 = Math.min(15, Math.trunc(x[b * BLOCK + j + 16]! * id + 8.5));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** C's roundf: halves away from zero. */
const roundAway = (v: number): number => Math.sign(v) * Math.round(Math.abs(v));

const f32Bytes = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
const f16Bytes = (x: Float32Array): Uint8Array => {
  const h = toHalfBits(x);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
};

/** A 2-D weight ([out, in] row-major) as a tensor of `quant`; rows not a whole number of blocks stay f16 (as llama.cpp's converter does). */
function matrix(name: string, shape: readonly number[], data: () => Float32Array, quant: GgufQuant): GgufTensor {
  const ne = [...shape].reverse();
  const type = (quant === 'q8_0' || quant === 'q4_0') && ne[0]! % BLOCK !== 0 ? 'f16' : quant;
  const encode = { f32: f32Bytes, f16: f16Bytes, q8_0: quantizeQ8_0, q4_0: quantizeQ4_0 }[type];
  return { name, ne, type, bytes: () => encode(data()) };
}

const vector = (name: string, data: Float32Array): GgufTensor => ({ name, ne: [data.length], type: 'f32', bytes: () => f32Bytes(data) });

// ---------------------------------------------------------------------------------------------
// Llama-family models

/** llama.cpp's architecture name: mistral models are written as llama, as its converter does. */
function ggufArch(cfg: LlamaConfig): 'llama' | 'qwen2' {
  return cfg.modelType === 'qwen2' ? 'qwen2' : 'llama';
}

const GGUF_NAMES: Record<LinearTarget, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/**
 * Rows of a q or k projection reordered for llama.cpp's RoPE on llama-arch models: Hugging Face
 * rotates the two halves of each head (rotate_half), llama.cpp adjacent pairs, so within each
 * head row j of the first half goes to 2j and row j of the second half to 2j+1.
 */
export function permuteRope(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const hd = rows / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < hd / 2; j++) {
        const from = h * hd + s * (hd / 2) + j;
        const to = h * hd + 2 * j + s;
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** The q/k reordering a target needs in this architecture (identity for qwen2, which llama.cpp runs with NeoX RoPE). */
function ropeOrder(cfg: LlamaConfig, t: LinearTarget): ((w: Float32Array, cols: number) => Float32Array) | undefined {
  if (ggufArch(cfg) !== 'llama') return undefined;
  if (t === 'q_proj') return (w, cols) => permuteRope(w, cfg.numHeads, cols);
  if (t === 'k_proj') return (w, cols) => permuteRope(w, cfg.numKvHeads, cols);
  return undefined;
}

/** What GGUF cannot express (yet) about a model, as the clear message of an export that stops. */
function unsupported(cfg: LlamaConfig): string | undefined {
  if (cfg.ropeScaling?.type === 'llama3') return 'llama3 RoPE scaling (its frequency table) is not written to GGUF yet';
  return undefined;
}

function hyperParameters(cfg: LlamaConfig): [string, Kv][] {
  const a = ggufArch(cfg);
  const kv: [string, Kv][] = [
    [`${a}.context_length`, { t: 'u32', v: cfg.maxPositions }],
    [`${a}.embedding_length`, { t: 'u32', v: cfg.hiddenSize }],
    [`${a}.block_count`, { t: 'u32', v: cfg.numLayers }],
    [`${a}.feed_forward_length`, { t: 'u32', v: cfg.intermediateSize }],
    [`${a}.attention.head_count`, { t: 'u32', v: cfg.numHeads }],
    [`${a}.attention.head_count_kv`, { t: 'u32', v: cfg.numKvHeads }],
    [`${a}.attention.key_length`, { t: 'u32', v: cfg.headDim }],
    [`${a}.attention.value_length`, { t: 'u32', v: cfg.headDim }],
    [`${a}.rope.dimension_count`, { t: 'u32', v: cfg.headDim }],
    [`${a}.rope.freq_base`, { t: 'f32', v: cfg.ropeTheta }],
    [`${a}.attention.layer_norm_rms_epsilon`, { t: 'f32', v: cfg.rmsEps }],
    [`${a}.vocab_size`, { t: 'u32', v: cfg.vocabSize }],
  ];
  if (cfg.ropeScaling?.type === 'linear') kv.push([`${a}.rope.scaling.type`, { t: 'str', v: 'linear' }], [`${a}.rope.scaling.factor`, { t: 'f32', v: cfg.ropeScaling.factor }]);
  return kv;
}

/** GPT-2's pre-tokenizer regex, and Qwen2's and Llama 3's, as their tokenizer.json files write them; llama.cpp knows each by name. */
const PRE_TOKENIZERS: [string, string][] = [
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen2'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'llama-bpe'],
];

/** The tokenizer as llama.cpp's "gpt2" (byte-level BPE) vocabulary, padded with unused tokens to the model's vocabulary size. */
function tokenizerKv(modelDir: string, cfg: LlamaConfig): { kv: [string, Kv][]; tokens: string[]; template?: string } {
  const file = modelFile(modelDir, 'tokenizer.json');
  let j: { model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] }; added_tokens?: { id: number; content: string; special?: boolean }[]; pre_tokenizer?: unknown };
  try {
    j = JSON.parse(readText(file, 64 * JSON_FILE_LIMIT)) as typeof j;
  } catch (err) {
    throw new GgufError(`${file}: ${(err as Error).message}`);
  }
  if (j.model?.type !== 'BPE' || !j.model.vocab) throw new GgufError(`${file}: only byte-level BPE tokenizers can be exported to GGUF yet (this one is ${j.model?.type ?? 'unknown'})`);
  const pre = JSON.stringify(j.pre_tokenizer ?? null);
  let preName: string | undefined;
  const p = j.pre_tokenizer as { type?: string; use_regex?: boolean } | null;
  if (p?.type === 'ByteLevel' && p.use_regex !== false) preName = 'gpt-2';
  else for (const [regex, name] of PRE_TOKENIZERS) if (pre.includes(JSON.stringify(regex).slice(1, -1))) preName = name;
  if (!preName) throw new GgufError(`${file}: its pre-tokenizer is not one llama.cpp knows by name (GPT-2's, Qwen2's, Llama 3's): ${pre.slice(0, 160)}`);
  const tokens: string[] = Array.from({ length: cfg.vocabSize }, (_, i) => `[PAD${i}]`);
  const types: number[] = Array.from({ length: cfg.vocabSize }, () => 5); // unused
  for (const [text, id] of Object.entries(j.model.vocab)) if (id < cfg.vocabSize) [tokens[id], types[id]] = [text, 1];
  for (const t of j.added_tokens ?? []) if (t.id < cfg.vocabSize) [tokens[t.id], types[t.id]] = [t.content, t.special ? 3 : 4];
  const merges = (j.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const kv: [string, Kv][] = [
    ['tokenizer.ggml.model', { t: 'str', v: 'gpt2' }],
    ['tokenizer.ggml.pre', { t: 'str', v: preName }],
    ['tokenizer.ggml.tokens', { t: 'strs', v: tokens }],
    ['tokenizer.ggml.token_type', { t: 'i32s', v: types }],
    ['tokenizer.ggml.merges', { t: 'strs', v: merges }],
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: false }],
  ];
  if (cfg.bosTokenId !== undefined) kv.push(['tokenizer.ggml.bos_token_id', { t: 'u32', v: cfg.bosTokenId }]);
  if (cfg.eosTokenIds[0] !== undefined) kv.push(['tokenizer.ggml.eos_token_id', { t: 'u32', v: cfg.eosTokenIds[0] }]);
  const template = loadChatTemplate(modelDir)?.text;
  if (template) kv.push(['tokenizer.chat_template', { t: 'str', v: template }]);
  return { kv, tokens, ...(template ? { template } : {}) };
}

/** `layers.{i}.{t}` → W + (alpha/r)·B·A, for merging an adapter into the weights. */
function merged(w: Weight, adapter: LoraAdapter, layer: number, t: LinearTarget): Float32Array {
  const A = adapter.tensors[loraName(layer, t, 'A')];
  const B = adapter.tensors[loraName(layer, t, 'B')];
  if (!A || !B) return w.data;
  const [out, inF] = w.shape as [number, number];
  const r = adapter.rank;
  const s = adapter.alpha / r;
  const m = Float32Array.from(w.data);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k]! * s;
      if (b === 0) continue;
      for (let i = 0; i < inF; i++) m[o * inF + i]! += b * A[k * inF + i]!;
    }
  }
  return m;
}

export interface ExportOptions {
  modelDir: string;
  /** A LIFT (PEFT) adapter folder to export beside the model, or to merge. */
  adapterDir?: string;
  outDir: string;
  quant?: GgufQuant;
  /** Merge the adapter into the weights instead of writing it as a GGUF LoRA adapter. */
  merge?: boolean;
  name?: string;
}

export interface ExportResult {
  model: string;
  adapter?: string;
  modelfile: string;
  quant: GgufQuant;
  /** Tensors kept at f16 because their rows are not whole blocks of 32. */
  keptF16: string[];
}

/** Exports the model (and adapter) as GGUF files and an Ollama Modelfile into `outDir`. */
export function exportGguf(o: ExportOptions): ExportResult {
  const quant = o.quant ?? 'q8_0';
  if (!GGUF_QUANTS.includes(quant)) throw new GgufError(`--quant takes ${GGUF_QUANTS.join(', ')}, not ${quant}`);
  const { config: cfg, weights } = loadModel(o.modelDir);
  const problem = unsupported(cfg);
  if (problem) throw new GgufError(`${o.modelDir}: ${problem}`);
  const adapter = o.adapterDir ? loadAdapter(o.adapterDir, cfg) : undefined;
  if (adapter?.kind === 'gated-memory') {
    throw new GgufError(`${o.adapterDir} is a Gated Memory adapter: GGUF and llama.cpp have no per-head memory or gate, so it cannot be exported or merged (a LoRA adapter can; learn with "lift.adapter.kind" set to "lora" to export)`);
  }
  const arch = ggufArch(cfg);
  const name = o.name ?? path.basename(path.resolve(o.modelDir));
  const tensors: GgufTensor[] = [matrix('token_embd.weight', weights.embed.shape, () => weights.embed.data, quant)];
  weights.layers.forEach((l, i) => {
    tensors.push(vector(`blk.${i}.attn_norm.weight`, l.inputNorm.data));
    for (const t of Object.keys(GGUF_NAMES) as LinearTarget[]) {
      const w = l.linear[t];
      const order = ropeOrder(cfg, t);
      const data = (): Float32Array => {
        const d = adapter && o.merge ? merged(w, adapter, i, t) : w.data;
        return order ? order(d, w.shape[1]!) : d;
      };
      tensors.push(matrix(`blk.${i}.${GGUF_NAMES[t]}.weight`, w.shape, data, quant));
      const bias = t === 'q_proj' || t === 'k_proj' || t === 'v_proj' ? l.bias?.[t] : undefined;
      if (bias) tensors.push(vector(`blk.${i}.${GGUF_NAMES[t]}.bias`, bias.data));
    }
    tensors.push(vector(`blk.${i}.ffn_norm.weight`, l.postNorm.data));
  });
  tensors.push(vector('output_norm.weight', weights.norm.data));
  if (weights.lmHead) tensors.push(matrix('output.weight', weights.lmHead.shape, () => weights.lmHead!.data, quant));
  const keptF16 = tensors.filter((t) => t.type === 'f16' && quant !== 'f16').map((t) => t.name);
  const tok = tokenizerKv(o.modelDir, cfg);
  const kvs: [string, Kv][] = [
    ['general.architecture', { t: 'str', v: arch }],
    ['general.type', { t: 'str', v: 'model' }],
    ['general.name', { t: 'str', v: name }],
    ['general.file_type', { t: 'u32', v: FILE_TYPE[quant] }],
    ['general.quantization_version', { t: 'u32', v: 2 }],
    ...hyperParameters(cfg),
    ...tok.kv,
  ];
  const files: [string, (tmp: string) => void][] = [];
  const modelName = `model-${quant}${adapter && o.merge ? '-merged' : ''}.gguf`;
  files.push([modelName, (tmp) => writeGguf(tmp, kvs, tensors)]);
  let adapterName: string | undefined;
  if (adapter && !o.merge) {
    adapterName = 'adapter.gguf';
    const loraTensors: GgufTensor[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      for (const t of adapter.targets) {
        const [out, inF] = linearShape(cfg, t);
        const A = adapter.tensors[loraName(i, t, 'A')]!;
        const B = adapter.tensors[loraName(i, t, 'B')]!;
        const order = ropeOrder(cfg, t);
        // A [r, in] → ne [in, r]; B [out, r] → ne [r, out], its rows reordered as the weight's
        loraTensors.push({ name: `blk.${i}.${GGUF_NAMES[t]}.weight.lora_a`, ne: [inF, adapter.rank], type: 'f32', bytes: () => f32Bytes(A) });
        loraTensors.push({ name: `blk.${i}.${GGUF_NAMES[t]}.weight.lora_b`, ne: [adapter.rank, out], type: 'f32', bytes: () => f32Bytes(order ? order(B, adapter.rank) : B) });
      }
    }
    const adapterKv: [string, Kv][] = [
      ['general.architecture', { t: 'str', v: arch }],
      ['general.type', { t: 'str', v: 'adapter' }],
      ['general.name', { t: 'str', v: `${name} LIFT adapter` }],
      ['adapter.type', { t: 'str', v: 'lora' }],
      ['adapter.lora.alpha', { t: 'f32', v: adapter.alpha }],
    ];
    files.push([adapterName, (tmp) => writeGguf(tmp, adapterKv, loraTensors)]);
  }
  const stops = [...new Set(cfg.eosTokenIds)].map((id) => tok.tokens[id]).filter((s): s is string => !!s);
  files.push(['Modelfile', (tmp) => fs.writeFileSync(tmp, modelfile(modelName, adapterName, tok.template, stops))]);
  writeAll(o.outDir, files);
  return { model: path.join(o.outDir, modelName), ...(adapterName ? { adapter: path.join(o.outDir, adapterName) } : {}), modelfile: path.join(o.outDir, 'Modelfile'), quant, keptF16 };
}

/** An Ollama Modelfile: the model, the adapter, a ChatML template where the model's is ChatML, and its stop tokens. */
export function modelfile(model: string, adapter: string | undefined, chatTemplate: string | undefined, stops: readonly string[]): string {
  const lines = ['# Made by LIFT for VS Code. Use: ollama create <name> -f Modelfile', `FROM ./${model}`];
  if (adapter) lines.push(`ADAPTER ./${adapter}`);
  if (chatTemplate?.includes('<|im_start|>')) {
    lines.push(
      'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}',
      '{{ .Content }}<|im_end|>',
      '{{ end }}<|im_start|>assistant',
      '"""',
    );
  } else if (chatTemplate) {
    lines.push('# The chat template is in the GGUF file (tokenizer.chat_template); Ollama reads it from there.');
  }
  for (const s of stops) lines.push(`PARAMETER stop ${JSON.stringify(s)}`);
  lines.push('PARAMETER temperature 0');
  return `${lines.join('\n')}\n`;
}

/** Writes every file beside its place, then renames them all into `dir`; on any failure removes what it wrote. */
function writeAll(dir: string, files: readonly [string, (tmp: string) => void][]): void {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = (f: string): string => path.join(dir, `.${f}.${process.pid}.partial`);
  try {
    for (const [f, write] of files) write(tmp(f));
    for (const [f] of files) fs.renameSync(tmp(f), path.join(dir, f));
  } catch (err) {
    for (const [f] of files) fs.rmSync(tmp(f), { force: true });
    if (err instanceof GgufError) throw err;
    throw new GgufError(`could not write the export into ${dir}: ${describeFsError(err)}; nothing was written`);
  }
}
