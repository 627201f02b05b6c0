/**
 * Activation recomputation for long segments: the LoRA training step of buildLlamaTrainStep,
 * split so that only one decoder layer's activations exist at any time. Three graphs:
 *
 * - **layer**: one decoder layer whose frozen weights are picked by a `layer` index from all
 *   layers' weights stacked ([layers, …], stored once), so one session serves every layer and
 *   its memory is one layer's. With `packed`, it takes a row of packed samples of any length up
 *   to `seqLen` (`position_ids` and `segment_ids` as the packed one-graph step); else a row of
 *   `seqLen` positions, one sample. With `backward` false it maps `hidden` to the next layer's input;
 *   with `backward` true it recomputes that and, inside an If, takes the vector-Jacobian product
 *   with `grad_out` (the gradient from the layer above): the layer's LoRA gradients and
 *   `grad_in` for the layer below.
 * - **head**: the final norm, the LM head and the masked log-likelihood over a chunk of positions
 *   (the logits of a whole long segment are often the largest activation of all), with the
 *   gradient for those hidden states.
 * - **update**: clipping and AdamW from the gradients (buildUpdateStep), as in the one-graph step,
 *   with the same dynamic loss scaling in mixed precision.
 *
 * The runner (runtime/recompute.ts) looks up the embeddings and keeps only the layers' input
 * hidden states between the forward and backward sweeps. Same arithmetic as the one-graph step.
 */
import { gradients } from '../onnx/autodiff';
import { GraphBuilder, type Value } from '../onnx/graph';
import type { EncodedModel } from '../onnx/model';
import * as o from '../onnx/ops';
import { buildUpdateStep, type TrainStepOptions, type TrainStepSpec } from '../onnx/train';
import type { LlamaConfig } from './config';
import { adapterKind, adapterSource, decoderLayer, frozen, initialAdapter, type LoraConfig, loraName, matmulT, MEMORY_PARTS, memoryName, packedMask, type Precision, rmsNorm, ropeTables } from './llama';
import { toHalfBits } from './safetensors';
import { LINEAR_TARGETS, type LinearTarget, type LlamaWeights, type Weight } from './weights';

export interface RecomputeGraphs {
  layer: EncodedModel;
  head: EncodedModel;
  update: { model: EncodedModel; spec: TrainStepSpec };
  /** Trainable tensors with their initial values, named as in buildLlamaTrainStep. */
  params: Record<string, Float32Array>;
  shapes: Record<string, readonly number[]>;
  /** The row length (with `packed`, the longest: rows may be shorter). */
  seqLen: number;
  /** Rows of packed samples (position and segment ids as inputs of the layer graph). */
  packed: boolean;
  /** Positions the head takes per run. */
  chunk: number;
  precision: Precision;
  lora: LoraConfig;
}

/**
 * The adapter tensors the layer graph takes, one entry per part (a LoRA target's A or B, a Gated
 * Memory matrix): the layer graph's input name, the name of its gradient output, and the engine
 * name of layer i's tensor (what the update graph holds).
 */
export function layerParts(adapter: LoraConfig): { input: string; grad: string; name: (layer: number) => string }[] {
  if (adapterKind(adapter) === 'gated-memory') return MEMORY_PARTS.map((p) => ({ input: `adapter.memory.${p}`, grad: `grad.memory.${p}`, name: (i) => memoryName(i, p) }));
  return adapter.targets.flatMap((t) => (['A', 'B'] as const).map((ab) => ({ input: `adapter.${t}.${ab}`, grad: `grad.${t}.${ab}`, name: (i: number) => loraName(i, t, ab) })));
}

/**
 * Positions per head run: the chunk's logits (chunk × vocab) are kept no larger than a layer's
 * MLP activations (T × (hidden + intermediate)), at least 16 positions, at most the segment.
 */
export function headChunk(cfg: LlamaConfig, seqLen: number): number {
  return Math.min(seqLen, Math.max(16, Math.floor((seqLen * (cfg.hiddenSize + cfg.intermediateSize)) / cfg.vocabSize)));
}

/**
 * Every layer's weight of one kind stacked along a new first axis (in half precision for
 * matrices under `float16`), read back for the layer given by `index`: layer 0's Weight objects
 * stand for their kind.
 */
function stackedLayers(g: GraphBuilder, weights: LlamaWeights, precision: Precision, index: Value): (w: Weight) => Value {
  const first = weights.layers[0]!;
  const kinds: { pick: (l: (typeof weights.layers)[number]) => Weight; name: string }[] = [
    { pick: (l) => l.inputNorm, name: 'input_layernorm' },
    { pick: (l) => l.postNorm, name: 'post_attention_layernorm' },
    ...LINEAR_TARGETS.map((t) => ({ pick: (l: (typeof weights.layers)[number]) => l.linear[t], name: t })),
    ...(first.bias ? (['q_proj', 'k_proj', 'v_proj'] as const).map((t) => ({ pick: (l: (typeof weights.layers)[number]) => l.bias![t], name: `${t}.bias` })) : []),
  ];
  const byWeight = new Map<Weight, Value>();
  for (const kind of kinds) {
    const w0 = kind.pick(first);
    const size = w0.data.length;
    const all = new Float32Array(size * weights.layers.length);
    weights.layers.forEach((l, i) => all.set(kind.pick(l).data, i * size));
    const shape = [weights.layers.length, ...w0.shape];
    const stacked = precision === 'float16' && w0.shape.length === 2 ? g.initializer(`layers.${kind.name}`, 'float16', shape, toHalfBits(all)) : g.initializer(`layers.${kind.name}`, 'float32', shape, all);
    byWeight.set(w0, o.gather(stacked, index));
  }
  return (w) => {
    const v = byWeight.get(w);
    if (!v) throw new Error(`recompute: ${w.name} is not a layer weight`);
    return v;
  };
}

/** The three graphs of a recomputing LoRA step over a row of up to seqLen tokens (see the file's comment). */
export function buildRecomputeStep(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  opts: { seqLen: number; lora: LoraConfig; seed?: number; optimizer?: Partial<TrainStepOptions>; precision?: Precision; chunk?: number; packed?: boolean; portable?: boolean },
): RecomputeGraphs {
  const T = opts.seqLen;
  const D = cfg.hiddenSize;
  const precision = opts.precision ?? 'float32';
  // as buildLlamaTrainStep: half-precision backward passes need the loss scaled up (dynamically:
  // the runner passes the scale to the head through loss_weight and to the update)
  const lossScale = precision === 'float16' ? ('dynamic' as const) : undefined;
  const { rank, alpha } = opts.lora;

  // the layer: forward always, the vector-Jacobian product only when asked
  const g = new GraphBuilder('llama_layer');
  g.portable = !!opts.portable;
  const packed = !!opts.packed;
  const rowLength = packed ? 'T' : T;
  const hidden = g.input('hidden', 'float32', [1, rowLength, D]);
  const index = g.input('layer', 'int64', []);
  const backward = g.input('backward', 'bool', []);
  const gradOut = g.input('grad_out', 'float32', [1, rowLength, D]);
  // layer 0's adapter tensors stand for every layer's: the runner feeds layer i's
  const parts = layerParts(opts.lora);
  const layer0 = initialAdapter(cfg, opts.lora).filter((p) => p.layer === 0);
  const adapterInputs = parts.map((x) => g.input(x.input, 'float32', layer0.find((p) => p.name === x.name(0))!.shape));
  const adapter = adapterSource(opts.lora, layer0, (p) => adapterInputs[parts.findIndex((x) => x.name(0) === p.name)]!, () => g.const(alpha / rank));
  const positions = packed ? g.input('position_ids', 'int64', [1, 'T']) : g.initializer('positions', 'int64', [T], Array.from({ length: T }, (_, i) => i));
  const attend = packed ? packedMask(g.input('segment_ids', 'int64', [1, 'T'])) : undefined;
  const src = { weight: stackedLayers(g, weights, precision, index), lora: (_: number, t: LinearTarget) => adapter.lora(0, t), memory: () => adapter.memory?.(0) };
  const next = decoderLayer(cfg, weights.layers[0]!, 0, src, hidden, positions, ropeTables(cfg, positions), undefined, attend).h;
  g.output(next, 'hidden_out');
  const wrt = [...adapterInputs, hidden];
  const vjp = o.ifElse(
    backward,
    () => gradients(o.reduceSum(o.mul(next, gradOut)), wrt),
    () => wrt.map((v) => o.zerosLike(v)),
  );
  parts.forEach((p, k) => g.output(vjp[k]!, p.grad));
  g.output(vjp.at(-1)!, 'grad_in');

  // the head over a chunk: −Σ log p(label) on masked positions, and its gradient × loss_weight
  const hg = new GraphBuilder('llama_head');
  hg.portable = !!opts.portable;
  const hh = hg.input('hidden', 'float32', [1, 'chunk', D]);
  const labels = hg.input('labels', 'int64', [1, 'chunk']);
  const mask = hg.input('loss_mask', 'float32', [1, 'chunk']);
  const weight = hg.input('loss_weight', 'float32', []);
  const w = frozen(hg, precision);
  const logits = matmulT(rmsNorm(hh, w(weights.norm), cfg.rmsEps), w(weights.lmHead ?? weights.embed));
  const lossSum = o.neg(o.maskedLogLikelihood(logits, labels, mask));
  hg.output(lossSum, 'loss_sum');
  hg.output(gradients(o.mul(lossSum, weight), [hh])[0]!, 'grad_hidden');

  // the update, from the gradients of every layer
  const ug = new GraphBuilder('lora_update');
  ug.portable = !!opts.portable;
  const params: Record<string, Float32Array> = {};
  const shapes: Record<string, readonly number[]> = {};
  const trainable = initialAdapter(cfg, opts.lora, opts.seed).map((p) => {
    params[p.name] = p.init;
    shapes[p.name] = p.shape;
    return ug.input(p.name, 'float32', p.shape);
  });
  const spec = buildUpdateStep(ug, trainable, { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, weightDecay: 1e-4, maxGradNorm: 1, lossScale, ...opts.optimizer });

  return {
    layer: g.encodeSplit(),
    head: hg.encodeSplit(),
    update: { model: ug.encodeSplit(), spec },
    params,
    shapes,
    seqLen: T,
    packed,
    chunk: opts.chunk ?? headChunk(cfg, T),
    precision,
    lora: opts.lora,
  };
}
