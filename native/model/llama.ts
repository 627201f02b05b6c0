/**
 * The Llama-family network as engine ops, written once and used three ways: the training step
 * (LoRA, Gated Memory or full-parameter, through the autodiff), and the generation graph (prefill
 * and decode with a KV cache, adapter weights as inputs so a fresh adapter applies without a rebuild).
 * Semantics follow Hugging Face transformers' LlamaForCausalLM / Qwen2ForCausalLM.
 */
import { GraphBuilder, type Value } from '../onnx/graph';
import type { EncodedModel } from '../onnx/model';
import * as o from '../onnx/ops';
import { buildTrainStep, type TrainStepOptions, type TrainStepSpec } from '../onnx/train';
import { type LlamaConfig, ropeInvFreq } from './config';
import { type BlockQuantized, quantizeLinear } from './quantize';
import { toHalfBits } from './safetensors';
import { type LayerWeights, LINEAR_TARGETS, type LinearTarget, linearShape, type LlamaWeights, type Weight } from './weights';

/** What learning trains: LoRA pairs on linear layers, or LIFT v3's Gated Memory in every attention head. */
export type AdapterKind = 'lora' | 'gated-memory';
export const ADAPTER_KINDS: readonly AdapterKind[] = ['lora', 'gated-memory'];

/** The adapter's settings: its kind (default LoRA) and, for LoRA, rank, alpha and targets (Gated Memory has none). */
export interface LoraConfig {
  rank: number;
  alpha: number;
  targets: readonly LinearTarget[];
  kind?: AdapterKind;
}

export const adapterKind = (a: { kind?: AdapterKind }): AdapterKind => a.kind ?? 'lora';

/** Graph input names of a LoRA pair, and PEFT's layout: A [r, in], B [out, r]. */
export const loraName = (layer: number, target: LinearTarget, ab: 'A' | 'B'): string => `layers.${layer}.${target}.lora_${ab}`;

export interface Lora {
  A: Value;
  B: Value;
  scale: Value;
}

/**
 * A layer's Gated Memory (LIFT v3, ../shared/LIFT.md §6), one per attention head, read from the
 * head's pre-RoPE query q [B, H, T, d] (d = head size, r = ⌊√d⌋):
 *   memory m(q) = SiLU(q·W1)·W2          W1 [H, d, 2d], W2 [H, 2d, d]
 *   gate   g(q) = σ(3·(SiLU(q·U)·w − 1))  U [H, d, r], w [H, r, 1]
 * Row-vector layout (x·W), so each head's matrices are the transposes of the paper's column form.
 */
export interface Memory {
  W1: Value;
  W2: Value;
  U: Value;
  w: Value;
}
export const MEMORY_PARTS = ['W1', 'W2', 'U', 'w'] as const;
export type MemoryPart = (typeof MEMORY_PARTS)[number];
export const memoryName = (layer: number, part: MemoryPart): string => `layers.${layer}.memory.${part}`;

export function memoryShapes(cfg: LlamaConfig): Record<MemoryPart, readonly number[]> {
  const { numHeads: H, headDim: d } = cfg;
  const r = Math.floor(Math.sqrt(d));
  return { W1: [H, d, 2 * d], W2: [H, 2 * d, d], U: [H, d, r], w: [H, r, 1] };
}

/** The gate with w = 0 (as initialised): σ(−3) ≈ 0.0474. */
export const GATE_AT_INIT = 1 / (1 + Math.exp(3));

const silu = (x: Value): Value => o.mul(x, o.sigmoid(x));

/**
 * Mixes a layer's attention output `attn` [B, H, T, d] with its memory: the paper's
 * (1 − g)·attn + g·m(q), with the attention term divided by (1 − g₀), g₀ = σ(−3) the gate at
 * initialisation, so that the initial adapter (W2 = 0, w = 0) is the base model exactly (the
 * official code leaves attn scaled by 1 − g₀ ≈ 0.953 at step 0). Written as
 * attn + g·m − (g − g₀)/(1 − g₀)·attn with g₀ computed by the same kernel from the same tensor,
 * so at initialisation both added terms are exactly zero. Returns the mix and the gate [B, H, T, 1].
 */
export function gatedMemory(q: Value, attn: Value, m: Memory): { out: Value; gate: Value } {
  const memory = o.matmul(silu(o.matmul(q, m.W1)), m.W2);
  const z = o.matmul(silu(o.matmul(q, m.U)), m.w);
  const three = o.scalar(z, 3);
  const gate = o.sigmoid(o.mul(o.sub(z, o.scalar(z, 1)), three));
  const atInit = o.sigmoid(o.mul(o.sub(o.mul(z, o.scalar(z, 0)), o.scalar(z, 1)), three));
  const excess = o.mul(o.sub(gate, atInit), o.scalar(z, 1 / (1 - GATE_AT_INIT)));
  return { out: o.sub(o.add(attn, o.mul(gate, memory)), o.mul(excess, attn)), gate };
}

/** Where the network reads a weight and its adapter from (initializers or inputs). */
export interface WeightSource {
  weight(w: Weight): Value;
  lora(layer: number, target: LinearTarget): Lora | undefined;
  /** Layer i's Gated Memory, if it has one. */
  memory?(layer: number): Memory | undefined;
  /** x·Wᵀ computed another way (quantized weights); undefined: from `weight(w)`. */
  product?(x: Value, w: Weight): Value | undefined;
}

/**
 * Where the frozen weights' arithmetic happens: `float32` throughout, or `float16` (mixed
 * precision): the weight matrices stored in half precision and their matmuls computed in it,
 * while activations between matmuls, norms, softmax, the loss and the LoRA branch (parameters,
 * gradients and optimizer state) stay in float32. Graph inputs and outputs stay float32.
 */
export type Precision = 'float32' | 'float16';

/** x·Wᵀ for a frozen W in either precision: a half-precision W gets x in half, and gives back float32. */
export function matmulT(x: Value, w: Value): Value {
  if (w.dtype !== 'float16') return o.matmul(x, o.transpose(w, [1, 0]));
  return o.cast(o.matmul(o.cast(x, 'float16'), o.transpose(w, [1, 0])), 'float32');
}

/**
 * y = x·Wᵀ (+ b) (+ scale·(x·Aᵀ)·Bᵀ), with x·Wᵀ given as `product` (a float matmul, `matmulT`, or
 * a quantized one); weights stay in Hugging Face's [out, in] layout, the LoRA branch in float32.
 */
export function linear(x: Value, product: Value, bias?: Value, lora?: Lora): Value {
  let y = product;
  if (bias) y = o.add(y, bias);
  if (lora) y = o.add(y, o.mul(o.matmul(o.matmul(x, o.transpose(lora.A, [1, 0])), o.transpose(lora.B, [1, 0])), lora.scale));
  return y;
}

/**
 * The layers' linear weights in 4 or 8 bits (model/quantize.ts), multiplied by ONNX Runtime's
 * MatMulNBits; everything else (embeddings, norms, the output projection) stays as `frozen` has
 * it. `accuracyLevel` 4 lets the kernel quantize activations to int8 (about 3× a float32 MatMul
 * at decoding shapes on 2 CPU cores; ≈ 0.4% error).
 */
export function quantizedProducts(g: GraphBuilder, weights: LlamaWeights, bits: 4 | 8, accuracyLevel: 0 | 4 = 4, blockSize = 32, cache?: Map<string, BlockQuantized>): (x: Value, w: Weight) => Value | undefined {
  const linears = new Set<Weight>(weights.layers.flatMap((l) => LINEAR_TARGETS.map((t) => l.linear[t])));
  const packed = new Map<Weight, { data: Value; scales: Value; K: number; N: number }>();
  return (x, w) => {
    if (!linears.has(w)) return undefined;
    let p = packed.get(w);
    if (!p) {
      const [N, K] = w.shape as [number, number];
      const q = quantizedWeight(w, bits, blockSize, cache);
      const blocks = Math.ceil(K / blockSize);
      p = { data: g.initializer(`${w.name}.q${bits}`, 'uint8', [N, blocks, (blockSize * bits) / 8], q.data), scales: g.initializer(`${w.name}.scales`, 'float32', [N * blocks], q.scales), K, N };
      packed.set(w, p);
    }
    return o.matmulNBits(x, p.data, p.scales, { K: p.K, N: p.N, bits, blockSize, accuracyLevel });
  };
}

/** A linear weight ([out, in]) in 4 or 8 bits: its cached copy (quantCache.ts) where shape and width fit, else quantized now and kept in the cache map. */
export function quantizedWeight(w: Weight, bits: 4 | 8, blockSize: number, cache?: Map<string, BlockQuantized>): BlockQuantized {
  const [N, K] = w.shape as [number, number];
  const hit = cache?.get(w.name);
  const q = hit && hit.bits === bits && hit.blockSize === blockSize && hit.K === K && hit.N === N ? hit : quantizeLinear(w.data, N, K, bits, blockSize);
  cache?.set(w.name, q);
  return q;
}

export function rmsNorm(x: Value, weight: Value, eps: number): Value {
  const variance = o.reduceMean(o.mul(x, x), [-1], true);
  return o.mul(weight, o.div(x, o.sqrt(o.add(variance, o.scalar(x, eps)))));
}

function rotateHalf(x: Value, hd: number): Value {
  const x1 = o.slice(x, [0], [hd / 2], [-1]);
  const x2 = o.slice(x, [hd / 2], [hd], [-1]);
  return o.concat([o.neg(x2), x1], -1);
}

/**
 * Rotary tables for `positions`: cos and sin of position × inverse frequency, twice. Positions
 * [T] give [T, hd]; positions per row [B, T] (packed rows, where each sample starts again at 0)
 * give [B, 1, T, hd], to broadcast over the heads. A position's angles are the same either way.
 */
export interface Rope {
  cos: Value;
  sin: Value;
}

export function ropeTables(cfg: LlamaConfig, positions: Value): Rope {
  const invFreq = positions.graph.initializer('rope_inv_freq', 'float32', [1, cfg.headDim / 2], Float32Array.from(ropeInvFreq(cfg)));
  const freqs = o.mul(o.unsqueeze(o.cast(positions, 'float32'), [positions.rank]), invFreq);
  const angles = o.concat([freqs, freqs], -1);
  if (positions.rank === 1) return { cos: o.cos(angles), sin: o.sin(angles) };
  return { cos: o.unsqueeze(o.cos(angles), [1]), sin: o.unsqueeze(o.sin(angles), [1]) };
}

/**
 * Attention within packed rows: `segments` [B, T] numbers each position's sample within its
 * row (padding is a sample of its own); a query sees the keys of its own sample up to itself,
 * never another sample's. [B, 1, T, T] bool, broadcast over the heads.
 */
export function packedMask(segments: Value): Value {
  const same = o.equal(o.unsqueeze(segments, [2]), o.unsqueeze(segments, [1])); // [B, T (queries), T (keys)]
  const index = o.positionsAlong(segments, 1);
  const causal = o.lessOrEqual(o.unsqueeze(index, [0]), o.unsqueeze(index, [1])); // [T, T]: key ≤ query
  return o.unsqueeze(o.and(same, causal), [1]);
}

/**
 * One decoder layer on the hidden states `h` [B, T, D]: attention (RoPE, causal, grouped
 * key/value heads, an optional KV cache) and the SwiGLU MLP, each with its residual. Layer `i`'s
 * weights and LoRA pairs come from `src`. `mask` (bool, broadcast to [B, H, T, S]), when given,
 * replaces the causal mask made from `positions` (packed rows: packedMask).
 */
export function decoderLayer(
  cfg: LlamaConfig,
  layer: LayerWeights,
  i: number,
  src: WeightSource,
  h: Value,
  positions: Value,
  { cos, sin }: Rope,
  past?: { key: Value; value: Value },
  mask?: Value,
): { h: Value; present: { key: Value; value: Value }; gate?: Value } {
  const { numHeads: H, numKvHeads: KV, headDim: hd } = cfg;
  const groups = H / KV;
  const rope = (x: Value): Value => o.add(o.mul(x, cos), o.mul(rotateHalf(x, hd), sin));
  const lin = (x: Value, t: LinearTarget, bias?: Weight): Value => {
    const w = layer.linear[t];
    return linear(x, src.product?.(x, w) ?? matmulT(x, src.weight(w)), bias && src.weight(bias), src.lora(i, t));
  };
  const x = rmsNorm(h, src.weight(layer.inputNorm), cfg.rmsEps);
  const heads = (t: Value, n: number): Value => o.transpose(o.reshape(t, [0, 0, n, hd]), [0, 2, 1, 3]); // [B, n, T, hd]
  const q0 = heads(lin(x, 'q_proj', layer.bias?.q_proj), H); // pre-RoPE: what Gated Memory reads
  const q = rope(q0);
  let k = rope(heads(lin(x, 'k_proj', layer.bias?.k_proj), KV));
  let v = heads(lin(x, 'v_proj', layer.bias?.v_proj), KV);
  if (past) {
    k = o.concat([past.key, k], 2);
    v = o.concat([past.value, v], 2);
  }
  const present = { key: k, value: v };
  if (groups > 1) {
    // each key/value head serves `groups` query heads: [B, KV, S, hd] → [B, H, S, hd]
    const repeat = (t: Value): Value => o.reshape(o.expand(o.unsqueeze(t, [2]), [1, 1, groups, 1, 1]), [0, H, -1, hd]);
    k = repeat(k);
    v = repeat(v);
  }
  const scores = o.div(o.matmul(q, o.transposeLast(k)), o.scalar(q, Math.sqrt(hd))); // [B, H, T, S]
  // causal: a query at position p sees keys at positions ≤ p (the cache holds positions 0…S−1)
  const allowed = mask ?? o.lessOrEqual(o.unsqueeze(o.positionsAlong(k, 2), [0]), o.unsqueeze(positions, [1])); // [T, S]
  const masked = o.where(allowed, scores, o.scalar(scores, -1e9));
  let attn = o.matmul(o.softmax(masked, -1), v); // [B, H, T, hd]
  let gate: Value | undefined;
  const memory = src.memory?.(i);
  if (memory) ({ out: attn, gate } = gatedMemory(q0, attn, memory));
  const merged = o.reshape(o.transpose(attn, [0, 2, 1, 3]), [0, 0, H * hd]);
  h = o.add(h, lin(merged, 'o_proj'));
  const y = rmsNorm(h, src.weight(layer.postNorm), cfg.rmsEps);
  h = o.add(h, lin(o.mul(silu(lin(y, 'gate_proj')), lin(y, 'up_proj')), 'down_proj'));
  return { h, present, gate };
}

export interface ForwardResult {
  /** [batch, T, vocab], or [batch, vocab] for the last position when `lastOnly`. */
  logits: Value;
  present: { key: Value; value: Value }[];
  /** Each layer's gate [B, H, T, 1], where the layers have Gated Memory. */
  gates: Value[];
}

/**
 * The forward pass. `ids` [batch, T] int64; `positions` [T] int64 (absolute positions of the
 * new tokens); `past` per layer [batch, kvHeads, P, headDim] when decoding with a cache. Packed
 * rows (several samples in a row) give `segments` [batch, T] (packedMask) and `positions`
 * [batch, T], each sample's starting at 0.
 */
export function llamaForward(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  src: WeightSource,
  ids: Value,
  positions: Value,
  opts: { past?: { key: Value; value: Value }[]; lastOnly?: boolean; segments?: Value } = {},
): ForwardResult {
  const g = ids.graph;
  if (opts.segments && (opts.past || positions.rank !== 2)) throw new Error('packed rows take positions per row [batch, T] and no cache');
  const rope = ropeTables(cfg, positions);
  const mask = opts.segments && packedMask(opts.segments);
  const embed = src.weight(weights.embed);
  let h = o.gather(embed, ids); // [B, T, D]
  if (embed.dtype === 'float16') h = o.cast(h, 'float32');
  const present: ForwardResult['present'] = [];
  const gates: Value[] = [];
  weights.layers.forEach((layer, i) => {
    const out = decoderLayer(cfg, layer, i, src, h, positions, rope, opts.past?.[i], mask);
    present.push(out.present);
    if (out.gate) gates.push(out.gate);
    h = out.h;
  });
  let last = rmsNorm(h, src.weight(weights.norm), cfg.rmsEps);
  if (opts.lastOnly) last = o.gather(last, g.initializer('last', 'int64', [], [-1]), 1); // [B, D]
  return { logits: matmulT(last, src.weight(weights.lmHead ?? weights.embed)), present, gates };
}

/** Frozen weights as initializers (each stored once, however often it is read); in `float16`, the matrices in half precision. */
export function frozen(g: GraphBuilder, precision: Precision = 'float32'): (w: Weight) => Value {
  const seen = new Map<Weight, Value>();
  return (w) => {
    let v = seen.get(w);
    if (!v) {
      v = precision === 'float16' && w.shape.length === 2 ? g.initializer(w.name, 'float16', w.shape, toHalfBits(w.data)) : g.initializer(w.name, 'float32', w.shape, w.data);
      seen.set(w, v);
    }
    return v;
  };
}

export interface TrainGraph {
  model: EncodedModel;
  spec: TrainStepSpec;
  /** The trainable tensors with their initial values (LoRA: A random, B zero; full: the weights). */
  params: Record<string, Float32Array>;
  shapes: Record<string, readonly number[]>;
}

/** Kaiming-uniform-like initial A (as PEFT), seeded; B = 0 so step 0 is the base model exactly. */
function initLoraA(rows: number, cols: number, seed: number): Float32Array {
  return uniformInit(rows * cols, 1 / Math.sqrt(cols), seed);
}

/** `length` seeded values uniform in (−bound, bound). */
function uniformInit(length: number, bound: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32 * 2 - 1) * bound;
  });
}

/** Every LoRA pair's name, shape and initial value, layer by layer and target by target (A then B). */
export function initialLora(cfg: LlamaConfig, lora: LoraConfig, seed = 1): { layer: number; target: LinearTarget; name: string; shape: readonly number[]; init: Float32Array }[] {
  const { rank, targets } = lora;
  return Array.from({ length: cfg.numLayers }, (_, i) =>
    targets.flatMap((t, j) => {
      const [out, inF] = linearShape(cfg, t);
      return [
        { layer: i, target: t, name: loraName(i, t, 'A'), shape: [rank, inF], init: initLoraA(rank, inF, seed * 1000 + i * 16 + j) },
        { layer: i, target: t, name: loraName(i, t, 'B'), shape: [out, rank], init: new Float32Array(out * rank) },
      ];
    }),
  ).flat();
}

/** One trainable adapter tensor: its layer, its part (`q_proj.A`, `memory.W1`, …), engine name, shape and initial value. */
export interface AdapterTensor {
  layer: number;
  part: string;
  name: string;
  shape: readonly number[];
  init: Float32Array;
}

/**
 * Every Gated Memory tensor, layer by layer: W1 and U seeded uniform in ±1/√d (as a linear
 * layer's default), W2 = 0 and w = 0, so that m(q) = 0 and g(q) = g₀ and the layer is the base
 * model's exactly (gatedMemory).
 */
export function initialMemory(cfg: LlamaConfig, seed = 1): AdapterTensor[] {
  const shapes = memoryShapes(cfg);
  const bound = 1 / Math.sqrt(cfg.headDim);
  return Array.from({ length: cfg.numLayers }, (_, i) =>
    MEMORY_PARTS.map((p, j) => {
      const shape = shapes[p];
      const n = shape.reduce((a, b) => a * b, 1);
      return { layer: i, part: `memory.${p}`, name: memoryName(i, p), shape, init: p === 'W1' || p === 'U' ? uniformInit(n, bound, seed * 1000 + i * 16 + j) : new Float32Array(n) };
    }),
  ).flat();
}

/** The trainable tensors of an adapter of either kind. */
export function initialAdapter(cfg: LlamaConfig, adapter: LoraConfig, seed = 1): AdapterTensor[] {
  if (adapterKind(adapter) === 'gated-memory') return initialMemory(cfg, seed);
  return initialLora(cfg, adapter, seed).map((p) => ({ ...p, part: `${p.target}.${p.name.endsWith('lora_A') ? 'A' : 'B'}` }));
}

/** A WeightSource's adapter half: the adapter's `tensors` (initialAdapter's, or some layers' of them) as the graph values `values` gives. */
export function adapterSource(adapter: LoraConfig, tensors: readonly AdapterTensor[], values: (p: AdapterTensor) => Value, scale: () => Value): Pick<WeightSource, 'lora' | 'memory'> {
  if (adapterKind(adapter) === 'gated-memory') {
    const layers = new Map<number, Partial<Memory>>();
    for (const p of tensors) layers.set(p.layer, { ...layers.get(p.layer), [p.part.slice('memory.'.length)]: values(p) });
    return { lora: () => undefined, memory: (i) => layers.get(i) as Memory | undefined };
  }
  const s = scale();
  const pairs = new Map<string, Partial<Lora>>();
  for (const p of tensors) {
    const key = `${p.layer}.${p.part.slice(0, -2)}`;
    pairs.set(key, { ...pairs.get(key), [p.part.slice(-1)]: values(p), scale: s });
  }
  return { lora: (i, t) => pairs.get(`${i}.${t}`) as Lora | undefined };
}

/**
 * A training step over [batch, seqLen] token ids with a loss on masked positions: inputs
 * `input_ids`, `labels` (the next tokens) and `loss_mask` (where the loss counts, and how much:
 * the loss is Σ mask·(−log p) / max(1, Σ mask)). An adapter when `lora` is given (LoRA, or Gated Memory by its `kind`), else every weight
 * (embeddings included) trains.
 *
 * `packed`: rows hold several samples each (lift/samples.ts packRows, lift/learn.ts packedFeeds), with two more inputs,
 * `position_ids` (each sample's positions, from 0) and `segment_ids` (which sample of its row a
 * position belongs to): a sample attends only to its own tokens, so each sample's logits are
 * those it has alone. `seqLen` may then be a name (a symbolic dimension): each step's rows are
 * only as long as their content.
 */
export function buildLlamaTrainStep(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  o_: { seqLen: number | string; batch?: number | string; lora?: LoraConfig; seed?: number; optimizer?: Partial<TrainStepOptions>; precision?: Precision; packed?: boolean; portable?: boolean },
): TrainGraph {
  if (o_.precision === 'float16' && !o_.lora) throw new Error('float16 precision is for LoRA training: full-parameter training keeps float32 weights');
  const g = new GraphBuilder('llama_train');
  g.portable = !!o_.portable;
  const B = o_.batch ?? 'batch';
  const T = o_.seqLen;
  const ids = g.input('input_ids', 'int64', [B, T]);
  const labels = g.input('labels', 'int64', [B, T]);
  const mask = g.input('loss_mask', 'float32', [B, T]);
  let positions: Value;
  let segments: Value | undefined;
  if (o_.packed) {
    positions = g.input('position_ids', 'int64', [B, T]);
    segments = g.input('segment_ids', 'int64', [B, T]);
  } else {
    if (typeof T !== 'number') throw new Error('a symbolic sequence length is for packed rows (their positions are inputs)');
    positions = g.initializer('positions', 'int64', [T], Array.from({ length: T }, (_, i) => i));
  }
  const params: Record<string, Float32Array> = {};
  const shapes: Record<string, readonly number[]> = {};
  const trainable: Value[] = [];
  const addParam = (name: string, shape: readonly number[], init: Float32Array): Value => {
    const v = g.input(name, 'float32', shape);
    params[v.name] = init;
    shapes[v.name] = shape;
    trainable.push(v);
    return v;
  };
  let src: WeightSource;
  if (o_.lora) {
    const lora = o_.lora;
    src = { weight: frozen(g, o_.precision), ...adapterSource(lora, initialAdapter(cfg, lora, o_.seed), (p) => addParam(p.name, p.shape, p.init), () => g.const(lora.alpha / lora.rank)) };
  } else {
    const seen = new Map<Weight, Value>();
    src = {
      weight: (w) => seen.get(w) ?? (seen.set(w, addParam(w.name, w.shape, w.data.slice())), seen.get(w)!),
      lora: () => undefined,
    };
  }
  const { logits } = llamaForward(cfg, weights, src, ids, positions, { segments });
  const loss = o.crossEntropy(logits, labels, mask);
  // half-precision backward passes underflow on small gradients: scale the loss up (dynamically), the gradients back down
  const lossScale = o_.precision === 'float16' ? ('dynamic' as const) : undefined;
  const spec = buildTrainStep(g, loss, trainable, { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, weightDecay: 1e-4, maxGradNorm: 1, lossScale, ...o_.optimizer });
  return { model: g.encodeSplit(), spec, params, shapes };
}

export interface GenerateGraph {
  model: EncodedModel;
  /** Targets whose LoRA pairs are inputs (rank is a symbolic dimension: any adapter fits). */
  loraTargets: readonly LinearTarget[];
  /** Whether Gated Memory tensors are inputs too. */
  memory: boolean;
  /** The CPU graph of fusedDecode.ts: LoRA pairs come per group of linears (groupLoraFeeds). */
  fused?: boolean;
}

/**
 * The decoding graph: inputs `input_ids` [1, T], `positions` [T], `past_key_i`/`past_value_i`
 * [1, KV, P, hd], `lora_scale` and each target's LoRA pair; outputs `logits` [1, vocab] for the
 * last position and `present_key_i`/`present_value_i`. One graph serves prefill (P = 0) and
 * each decode step (T = 1). With `memory`, every layer's Gated Memory tensors are inputs as well
 * (zeros give the base or LoRA model exactly: gatedMemory), and `gate_i` gives layer i's mean gate
 * over heads and the new positions. Without, the graph has no memory at all (it decodes faster).
 */
export function buildLlamaGenerate(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  loraTargets: readonly LinearTarget[] = LINEAR_TARGETS,
  precision: Precision = 'float32',
  weightBits?: 4 | 8,
  /** Quantized weights by name, used where they fit and filled with what had to be quantized (quantCache.ts). */
  quantized?: Map<string, BlockQuantized>,
  memory = false,
): GenerateGraph {
  const g = new GraphBuilder('llama_generate');
  const ids = g.input('input_ids', 'int64', [1, 'T']);
  const positions = g.input('positions', 'int64', ['T']);
  const scale = g.input('lora_scale', 'float32', []);
  const past = weights.layers.map((_, i) => ({
    key: g.input(`past_key_${i}`, 'float32', [1, cfg.numKvHeads, 'P', cfg.headDim]),
    value: g.input(`past_value_${i}`, 'float32', [1, cfg.numKvHeads, 'P', cfg.headDim]),
  }));
  const pairs = new Map<string, Lora>();
  weights.layers.forEach((_, i) =>
    loraTargets.forEach((t) => {
      const [out, inF] = linearShape(cfg, t);
      pairs.set(`${i}.${t}`, {
        A: g.input(loraName(i, t, 'A'), 'float32', ['lora_r', inF]),
        B: g.input(loraName(i, t, 'B'), 'float32', [out, 'lora_r']),
        scale,
      });
    }),
  );
  const src: WeightSource = { weight: frozen(g, precision), lora: (i, t) => pairs.get(`${i}.${t}`), ...(weightBits ? { product: quantizedProducts(g, weights, weightBits, 4, 32, quantized) } : {}) };
  if (memory) {
    const shapes = memoryShapes(cfg);
    const layers = weights.layers.map((_, i) => Object.fromEntries(MEMORY_PARTS.map((p) => [p, g.input(memoryName(i, p), 'float32', shapes[p])])) as unknown as Memory);
    src.memory = (i) => layers[i];
  }
  const { logits, present, gates } = llamaForward(cfg, weights, src, ids, positions, { past, lastOnly: true });
  g.output(logits, 'logits');
  present.forEach((p, i) => {
    g.output(p.key, `present_key_${i}`);
    g.output(p.value, `present_value_${i}`);
  });
  gates.forEach((v, i) => g.output(o.reduceMean(v), `gate_${i}`));
  return { model: g.encodeSplit(), loraTargets, memory };
}
