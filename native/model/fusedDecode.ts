/**
 * The decoding graph for ONNX Runtime's CPU provider, written with its fused kernels: one
 * GroupQueryAttention per layer (RoPE, the KV cache, grouped heads and the causal softmax in one
 * node), RMS norms as SimplifiedLayerNormalization, and the linear layers that read the same
 * input multiplied as one (q/k/v, gate/up), their LoRA pairs too: a decoding step is a few
 * hundred nodes instead of about two thousand. Same inputs and outputs as buildLlamaGenerate's
 * graph, except the adapter (each group's LoRA pairs come concatenated, transposed and scaled:
 * groupLoraFeeds) and the cache (past inputs with room to spare, and only the new positions out:
 * newCacheName).
 */
import { GraphBuilder, type Value } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, ropeInvFreq } from './config';
import { buildLlamaGenerate, type GenerateGraph, gatedMemory, type Memory, MEMORY_PARTS, memoryName, memoryShapes, type Precision, quantizedWeight } from './llama';
import type { BlockQuantized } from './quantize';
import { LINEAR_TARGETS, type LinearTarget, type LlamaWeights, linearShape, type Weight } from './weights';

/** The linear layers multiplied together because they read the same input. */
export const LINEAR_GROUPS: readonly (readonly [string, readonly LinearTarget[]])[] = [
  ['qkv', ['q_proj', 'k_proj', 'v_proj']],
  ['o', ['o_proj']],
  ['gate_up', ['gate_proj', 'up_proj']],
  ['down', ['down_proj']],
];

/** A group's LoRA input: `At` [in, R] (the members' A, transposed, side by side), `Bt` [R, out] (their B, transposed and scaled, block-diagonal). */
export const groupLoraName = (layer: number, group: string, part: 'At' | 'Bt'): string => `layers.${layer}.${group}.lora_${part}`;

/**
 * The fused graph's cache outputs: layer i's keys or values at this step's positions only,
 * [1, kvHeads, T, headDim]. Its past inputs are one buffer per layer with room for the whole
 * generation, which the caller extends with these (Generator.step). Returning the whole cache
 * instead would cost a copy of all of it per token: onnxruntime-node copies every output into a
 * new JavaScript buffer, even one passed in to be written in place.
 */
export const newCacheName = (kind: 'key' | 'value', layer: number): string => `new_${kind}_${layer}`;

/** Whether the fused graph can serve this model (the CPU attention kernel with RoPE inside wants a head size that is a multiple of 16). */
export function fusedDecodingFits(cfg: LlamaConfig): boolean {
  return cfg.headDim % 16 === 0;
}

/** [rows, cols] row-major transpose of a [cols, rows] matrix. */
function transposed(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/**
 * The fused decoding graph (see the file's comment). `bits` multiplies every linear layer and the
 * output projection in 4 or 8 bits (MatMulNBits); `quantized` is the cache of quantized weights by
 * name, read where it fits and filled with what had to be quantized. `memory`: Gated Memory
 * inputs, as in buildLlamaGenerate.
 */
export function buildFusedGenerate(cfg: LlamaConfig, weights: LlamaWeights, bits?: 4 | 8, quantized?: Map<string, BlockQuantized>, memory = false): GenerateGraph {
  if (!fusedDecodingFits(cfg)) throw new Error(`the fused decoding graph needs a head size that is a multiple of 16 (this model's is ${cfg.headDim})`);
  const { numHeads: H, numKvHeads: KV, headDim: hd } = cfg;
  const g = new GraphBuilder('llama_generate_fused');
  const ids = g.input('input_ids', 'int64', [1, 'T']);
  const positions = g.input('positions', 'int64', ['T']);
  const past = weights.layers.map((_, i) => ({
    key: g.input(`past_key_${i}`, 'float32', [1, KV, 'P', hd]),
    value: g.input(`past_value_${i}`, 'float32', [1, KV, 'P', hd]),
  }));
  // the tokens so far (the last position + 1) and its index, as GroupQueryAttention wants them
  // (int32); from the positions, not the cache's length, so that a cache may also be one buffer
  // of room for the whole generation, read and written in place (Generator.generate)
  const lastPosition = o.gather(positions, g.initializer('last_index', 'int64', [1], [-1])); // [1]
  const seqlensK = o.cast(lastPosition, 'int32');
  const total = o.cast(o.reshape(o.add(lastPosition, g.initializer('one64', 'int64', [1], [1])), []), 'int32');
  const inv = ropeInvFreq(cfg);
  const angles = (f: (x: number) => number): Float32Array => {
    const t = new Float32Array(cfg.maxPositions * (hd / 2));
    for (let p = 0; p < cfg.maxPositions; p++) for (let j = 0; j < hd / 2; j++) t[p * (hd / 2) + j] = f(p * inv[j]!);
    return t;
  };
  const rope = { cos: g.initializer('rope_cos', 'float32', [cfg.maxPositions, hd / 2], angles(Math.cos)), sin: g.initializer('rope_sin', 'float32', [cfg.maxPositions, hd / 2], angles(Math.sin)) };

  const memories = memory
    ? weights.layers.map((_, i) => Object.fromEntries(MEMORY_PARTS.map((p) => [p, g.input(memoryName(i, p), 'float32', memoryShapes(cfg)[p])])) as unknown as Memory)
    : undefined;

  const seen = new Map<Weight, Value>();
  const weight = (w: Weight): Value => seen.get(w) ?? (seen.set(w, g.initializer(w.name, 'float32', w.shape, w.data)), seen.get(w)!);
  /** x·[W₁ᵀ W₂ᵀ …] for weights in Hugging Face's [out, in] layout, one product. */
  const product = (x: Value, ws: readonly Weight[], name: string): Value => {
    const K = ws[0]!.shape[1]!;
    const N = ws.reduce((a, w) => a + w.shape[0]!, 0);
    if (!bits) {
      const t = new Float32Array(K * N);
      let at = 0;
      for (const w of ws) {
        const n = w.shape[0]!;
        const wt = transposed(w.data, n, K); // [K, n]
        for (let k = 0; k < K; k++) t.set(wt.subarray(k * n, (k + 1) * n), k * N + at);
        at += n;
      }
      return o.matmul(x, g.initializer(`${name}.weight_t`, 'float32', [K, N], t));
    }
    const parts = ws.map((w) => quantizedWeight(w, bits, 32, quantized));
    const blocks = Math.ceil(K / 32);
    const data = new Uint8Array(parts.reduce((a, p) => a + p.data.length, 0));
    const scales = new Float32Array(parts.reduce((a, p) => a + p.scales.length, 0));
    let d = 0;
    let s = 0;
    for (const p of parts) {
      data.set(p.data, d);
      scales.set(p.scales, s);
      d += p.data.length;
      s += p.scales.length;
    }
    const packed = g.initializer(`${name}.q${bits}`, 'uint8', [N, blocks, (32 * bits) / 8], data);
    return o.matmulNBits(x, packed, g.initializer(`${name}.scales`, 'float32', [N * blocks], scales), { K, N, bits, blockSize: 32, accuracyLevel: 4 });
  };
  /** A group's product, its biases and its LoRA branch (x·Atᵀ·Bt, the scale already in Bt). */
  const group = (x: Value, i: number, name: string, targets: readonly LinearTarget[]): Value => {
    const layer = weights.layers[i]!;
    let y = product(x, targets.map((t) => layer.linear[t]), `layers.${i}.${name}`);
    const biases = targets.map((t) => (layer.bias as Record<string, Weight> | undefined)?.[t]);
    if (biases.some((b) => b)) {
      const cat = new Float32Array(targets.reduce((a, t) => a + linearShape(cfg, t)[0], 0));
      let at = 0;
      targets.forEach((t, j) => {
        if (biases[j]) cat.set(biases[j].data, at);
        at += linearShape(cfg, t)[0];
      });
      y = o.add(y, g.initializer(`layers.${i}.${name}.bias`, 'float32', [cat.length], cat));
    }
    const inF = linearShape(cfg, targets[0]!)[1];
    const out = targets.reduce((a, t) => a + linearShape(cfg, t)[0], 0);
    const At = g.input(groupLoraName(i, name, 'At'), 'float32', [inF, `lora_r_${name}`]);
    const Bt = g.input(groupLoraName(i, name, 'Bt'), 'float32', [`lora_r_${name}`, out]);
    return o.add(y, o.matmul(o.matmul(x, At), Bt));
  };

  let h = o.gather(weight(weights.embed), ids); // [1, T, D]
  const present: { key: Value; value: Value }[] = [];
  const gates: Value[] = [];
  weights.layers.forEach((layer, i) => {
    const x = o.simplifiedLayerNorm(h, weight(layer.inputNorm), cfg.rmsEps);
    const [q, k, v] = o.split(group(x, i, 'qkv', ['q_proj', 'k_proj', 'v_proj']), [H * hd, KV * hd, KV * hd], -1);
    const [out, key, value] = o.groupQueryAttention(q!, k!, v!, past[i]!, seqlensK, total, rope, { heads: H, kvHeads: KV });
    present.push({ key: key!, value: value! });
    let attn = out!;
    const m = memories?.[i];
    if (m) {
      // Gated Memory reads the pre-RoPE query and mixes into each head's output before o_proj
      const heads = (t: Value): Value => o.transpose(o.reshape(t, [0, 0, H, hd]), [0, 2, 1, 3]);
      const mixed = gatedMemory(heads(q!), heads(attn), m);
      gates.push(mixed.gate);
      attn = o.reshape(o.transpose(mixed.out, [0, 2, 1, 3]), [0, 0, H * hd]);
    }
    h = o.add(h, group(attn, i, 'o', ['o_proj']));
    const y = o.simplifiedLayerNorm(h, weight(layer.postNorm), cfg.rmsEps);
    const [gate, up] = o.split(group(y, i, 'gate_up', ['gate_proj', 'up_proj']), [cfg.intermediateSize, cfg.intermediateSize], -1);
    h = o.add(h, group(o.mul(o.mul(gate!, o.sigmoid(gate!)), up!), i, 'down', ['down_proj']));
  });
  let last = o.gather(h, g.initializer('last', 'int64', [], [-1]), 1); // [1, D]
  last = o.simplifiedLayerNorm(last, weight(weights.norm), cfg.rmsEps);
  const head = weights.lmHead ?? weights.embed;
  g.output(product(last, [head], 'lm_head'), 'logits');
  // only the positions this step wrote: the caller keeps the cache (see newCacheName)
  present.forEach((p, i) => {
    g.output(o.gather(p.key, positions, 2), newCacheName('key', i));
    g.output(o.gather(p.value, positions, 2), newCacheName('value', i));
  });
  gates.forEach((v, i) => g.output(o.reduceMean(v), `gate_${i}`));
  return { model: g.encodeSplit(), loraTargets: LINEAR_TARGETS, memory, fused: true };
}

/**
 * The fused graph's adapter inputs for a LoRA adapter (undefined: none, rank-1 zeros): per layer
 * and group, At [in, m·r] holds each member's Aᵀ side by side (zeros for a member the adapter has
 * not got), Bt [m·r, Σ out] each member's scale·Bᵀ on the block diagonal.
 */
export function groupLoraFeeds(
  cfg: LlamaConfig,
  lora: { rank: number; alpha: number; tensors: Record<string, Float32Array> } | undefined,
  loraName: (layer: number, target: LinearTarget, part: 'A' | 'B') => string,
): Record<string, { data: Float32Array; dims: number[] }> {
  const r = lora?.rank ?? 1;
  const scale = lora ? lora.alpha / lora.rank : 0;
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const [name, targets] of LINEAR_GROUPS) {
      const inF = linearShape(cfg, targets[0]!)[1];
      const outs = targets.map((t) => linearShape(cfg, t)[0]);
      const N = outs.reduce((a, b) => a + b, 0);
      const R = targets.length * r;
      const At = new Float32Array(inF * R);
      const Bt = new Float32Array(R * N);
      let col = 0;
      targets.forEach((t, j) => {
        const A = lora?.tensors[loraName(i, t, 'A')];
        const B = lora?.tensors[loraName(i, t, 'B')];
        if (A && B) {
          if (A.length !== r * inF || B.length !== outs[j]! * r) throw new Error(`adapter tensor ${loraName(i, t, 'A')}/${loraName(i, t, 'B')} does not fit rank ${r} and this model`);
          for (let k = 0; k < r; k++) {
            for (let d = 0; d < inF; d++) At[d * R + j * r + k] = A[k * inF + d]!;
            for (let n = 0; n < outs[j]!; n++) Bt[(j * r + k) * N + col + n] = scale * B[n * r + k]!;
          }
        }
        col += outs[j]!;
      });
      feeds[groupLoraName(i, name, 'At')] = { data: At, dims: [inF, R] };
      feeds[groupLoraName(i, name, 'Bt')] = { data: Bt, dims: [R, N] };
    }
  }
  return feeds;
}

/**
 * The decoding graph a provider answers with: the fused one on the CPU where the model fits it,
 * else buildLlamaGenerate's (GPU providers: GroupQueryAttention has no float32 CUDA kernel, and
 * their half precision keeps the plain graph).
 */
export function decodingGraph(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  o_: { cpu: boolean; precision?: Precision; bits?: 4 | 8; quantized?: Map<string, BlockQuantized>; memory?: boolean },
): GenerateGraph {
  if (o_.cpu && (o_.precision ?? 'float32') === 'float32' && fusedDecodingFits(cfg)) return buildFusedGenerate(cfg, weights, o_.bits, o_.quantized, o_.memory);
  return buildLlamaGenerate(cfg, weights, undefined, o_.precision, o_.bits, o_.quantized, o_.memory);
}
