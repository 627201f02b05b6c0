/**
 * LIFT learning: samples → a LoRA adapter. Each epoch shuffles its stage's samples (seeded) and
 * packs them into rows no longer than the longest sample (several short samples to a row, kept
 * apart by the graph: each attends only to itself, its positions start at 0), so no position is
 * computed for padding; one training graph serves rows of any length. Trains through the
 * schedule's stages with AdamW, reports progress (phase, step, loss, tokens/s, ETA), stops within
 * one step when cancelled, and saves the adapter only when training finished: the previous
 * adapter stays until the new one is complete. A checkpoint (checkpoint.ts) lets an interrupted
 * run resume where it was.
 */
import type { Tensor } from 'onnxruntime-node';
import type { LlamaConfig } from '../model/config';
import { type AdapterKind, adapterKind, buildLlamaTrainStep, type LoraConfig } from '../model/llama';
import { type LoraAdapter, saveAdapter } from '../model/peft';
import type { LlamaWeights } from '../model/weights';
import { loadOrt } from '../runtime/ort';
import { buildRecomputeStep } from '../model/recompute';
import { RecomputeRunner, recomputeModels } from '../runtime/recompute';
import { createSession, defaultDevice, type Device, precisionFor, PROVIDER_NAMES, type Provider, resolveProvider, type StepRunner, TrainStepRunner } from '../runtime/session';
import type { LearnProgress } from '../protocol';
import { describeFsError } from '../fsError';
import { packRows, type Sample } from './samples';
import { fitCheckpoint, planFingerprint, type ReadCheckpoint, readCheckpoint, removeCheckpoint, samplesDigest, writeCheckpoint } from './checkpoint';

/** The default loss weighting of a step (see LossWeighting). */
export const LOSS_WEIGHTING: LossWeighting = 'sample';

export type { LearnPhase, LearnProgress } from '../protocol';

export interface TrainOptions {
  lora: LoraConfig;
  /** Continue from this adapter (same rank and targets) instead of a fresh one. */
  initial?: LoraAdapter;
  lr: number;
  seed: number;
  device?: Device;
  threads?: number;
  /**
   * Activation recomputation (model/recompute.ts): one layer's activations at a time instead of
   * every layer's, for long segments that would not fit in memory otherwise; about a third more
   * arithmetic per step. LoRA steps are the same as without it.
   */
  recompute?: boolean;
  /** Rows of packed samples per optimizer step (default 1); not with recomputation. */
  batch?: number;
  /** Positions per row at most (default: the longest sample) and samples per row at most (default MAX_SAMPLES_PER_ROW). */
  rowTokens?: number;
  maxSamples?: number;
  /** How a step's loss weighs the tokens of its samples (default LOSS_WEIGHTING). */
  weighting?: LossWeighting;
  /**
   * Keep a checkpoint in `file` (checkpoint.ts) every `everySeconds` (default 60; 0: after every
   * step) and when cancelled, and resume from it when it fits this run. Removed once saved.
   */
  checkpoint?: { file: string; everySeconds?: number; /** what the caller already read from `file` (null: nothing to resume), not read again */ found?: ReadCheckpoint | null };
  onProgress?: (p: LearnProgress) => void;
  isCancelled?: () => boolean;
}

/** LIFT's record of what an adapter learned, saved beside PEFT's files. */
export const MANIFEST = 'lift_manifest.json';

export class LearnCancelled extends Error {
  override name = 'LearnCancelled';
}

/** Deterministic shuffle (Fisher–Yates with a seeded xorshift). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The learning rate at `step` of `total`: a linear warm-up over the first 5% of steps (at most
 * 100), then a cosine decay to a tenth of `lr` — with batch 1, a constant rate leaves the last
 * steps as noisy as the first ones.
 */
export function learningRate(lr: number, step: number, total: number): number {
  const warmup = Math.min(100, Math.ceil(total * 0.05));
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const progress = total > warmup ? (step - warmup) / (total - warmup) : 1;
  return lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}

/** A stage of the schedule: `epochs` passes over `samples` (LIFT: segments, then segments + QA). */
export interface Stage {
  samples: readonly Sample[];
  epochs: number;
}

/**
 * The training feeds for `group`: `rows` rows (default one per sample) of T positions, each
 * sample padded with masked positions and rows beyond the samples fully masked (the graph of
 * buildLlamaTrainStep without `packed`; packedFeeds is the one without padding).
 */
export function batchFeeds(group: readonly Sample[], T: number, rows = group.length): Record<'input_ids' | 'labels' | 'loss_mask', Tensor> {
  const { Tensor } = loadOrt();
  const ids = new BigInt64Array(rows * T);
  const labels = new BigInt64Array(rows * T);
  const mask = new Float32Array(rows * T);
  group.forEach((s, r) => {
    s.input.forEach((x, i) => (ids[r * T + i] = BigInt(x)));
    s.labels.forEach((x, i) => (labels[r * T + i] = BigInt(x)));
    s.mask.forEach((m, i) => (mask[r * T + i] = m));
  });
  const dims = [rows, T];
  return { input_ids: new Tensor('int64', ids, dims), labels: new Tensor('int64', labels, dims), loss_mask: new Tensor('float32', mask, dims) };
}

/**
 * How a step's loss weighs the tokens it counts (the loss is Σ weight·(−log p) / Σ weight):
 * `token`, each alike (the mean over the step's counted tokens, as batchFeeds); `sample`, each
 * sample's tokens share one unit (the mean over the step's samples of each one's mean loss, so a
 * sample weighs the same packed with others as trained alone, whatever its length).
 */
export type LossWeighting = 'token' | 'sample';

export type PackedFeeds = Record<'input_ids' | 'labels' | 'loss_mask' | 'position_ids' | 'segment_ids', Tensor>;

/**
 * The feeds of a step over packed rows (buildLlamaTrainStep with `packed`): `rows` (each a list
 * of samples, placed one after another) in `count` rows (default `rows.length`) of T positions
 * (default the longest row). Each sample's positions start at 0 and its tokens carry its number
 * within the row (segment ids 1, 2, …); the rest of a row, and rows beyond `rows`, are padding:
 * segment 0, no loss.
 */
export function packedFeeds(rows: readonly (readonly Sample[])[], T = Math.max(1, ...rows.map(rowLength)), o: { count?: number; weighting?: LossWeighting } = {}): PackedFeeds {
  const { Tensor } = loadOrt();
  const count = o.count ?? rows.length;
  if (rows.length > count) throw new RangeError(`${rows.length} rows do not fit a step of ${count}`);
  const ids = new BigInt64Array(count * T);
  const labels = new BigInt64Array(count * T);
  const mask = new Float32Array(count * T);
  const positions = new BigInt64Array(count * T);
  const segments = new BigInt64Array(count * T);
  rows.forEach((row, r) => {
    let at = r * T;
    if (rowLength(row) > T) throw new RangeError(`a row of ${rowLength(row)} positions does not fit ${T}`);
    row.forEach((s, k) => {
      const counted = s.mask.reduce((a, b) => a + b, 0);
      const weight = o.weighting === 'sample' && counted > 0 ? 1 / counted : 1;
      for (let i = 0; i < s.input.length; i++, at++) {
        ids[at] = BigInt(s.input[i]!);
        labels[at] = BigInt(s.labels[i]!);
        mask[at] = s.mask[i]! * weight;
        positions[at] = BigInt(i);
        segments[at] = BigInt(k + 1);
      }
    });
  });
  const dims = [count, T];
  return {
    input_ids: new Tensor('int64', ids, dims),
    labels: new Tensor('int64', labels, dims),
    loss_mask: new Tensor('float32', mask, dims),
    position_ids: new Tensor('int64', positions, dims),
    segment_ids: new Tensor('int64', segments, dims),
  };
}

const rowLength = (row: readonly Sample[]): number => row.reduce((a, s) => a + s.input.length, 0);

/** Rows on WebGPU are padded to a multiple of this many positions (at most the plan's longest). */
export const WEBGPU_ROW_QUANTUM = 64;

/**
 * The row length a step of rows up to `T` positions runs at on WebGPU: ONNX Runtime's WebGPU
 * provider prepares its kernels per tensor shape, so a new row length costs a round of
 * preparation. On the H200 a fixed-length 1,024-token step of the default model took 85 ms, while
 * the demo, whose 1,572 packed steps come in 109 row lengths, had not finished in 336 s (the
 * likely cause; not yet measured with this padding). Padding (segment 0, no loss) to a multiple
 * of WEBGPU_ROW_QUANTUM leaves at most longest/64 shapes.
 */
export function webgpuRowLength(T: number, longest: number): number {
  return Math.min(Math.max(T, longest), Math.ceil(T / WEBGPU_ROW_QUANTUM) * WEBGPU_ROW_QUANTUM);
}

/** What learning will compute: every step's rows (samples in order), and the positions that costs. */
export interface StepPlan {
  /** Per step, its rows; per row, its samples. */
  steps: Sample[][][];
  /** The longest row (the graph's largest sequence length). */
  longest: number;
  /** Sample tokens, and positions computed (the rows of each step padded to its longest). */
  tokens: number;
  positions: number;
  /** Positions computed with one sample per row, every row padded to the longest sample (learning before packing). */
  paddedPositions: number;
  samples: number;
}

/**
 * Samples in a row at most, by default. The presets were tuned with one sample a step; with the
 * default model (rows of up to 511 positions) packing puts 4.2 samples in a step on the demo and
 * 3.7 on the quality spec, and closed-book scores stayed where they were at the same learning rate
 * and passes (also at 8.2 a step, two rows a step); a model with long segments would otherwise
 * pack dozens of short QA pairs into a row, a regime nobody measured.
 */
export const MAX_SAMPLES_PER_ROW = 8;

/**
 * Every step of learning through `stages`: each epoch shuffles its samples (seeded), packs them
 * into rows (packRows, first fit in the shuffled order: other neighbours each epoch) and takes
 * `batch` rows per step. Rows hold at most `rowTokens` positions (default: the longest sample,
 * so a row never costs more memory than that sample would alone) and `maxSamples` samples
 * (default MAX_SAMPLES_PER_ROW).
 */
export function planSteps(stages: readonly Stage[], o: { seed: number; batch?: number; rowTokens?: number; maxSamples?: number }): StepPlan {
  const B = o.batch ?? 1;
  let longestSample = 0;
  for (const st of stages) for (const s of st.samples) longestSample = Math.max(longestSample, s.input.length);
  const rowTokens = o.rowTokens ?? longestSample;
  const plan: StepPlan = { steps: [], longest: 0, tokens: 0, positions: 0, paddedPositions: 0, samples: 0 };
  const epochs = stages.flatMap((st) => Array.from({ length: st.epochs }, () => st.samples));
  for (const [epoch, epochSamples] of epochs.entries()) {
    const order = shuffled(epochSamples, o.seed * 7919 + epoch);
    const rows = packRows(order.map((s) => s.input.length), { rowTokens, maxSamples: o.maxSamples ?? MAX_SAMPLES_PER_ROW }).map((r) => r.map((i) => order[i]!));
    for (let k = 0; k < rows.length; k += B) {
      const step = rows.slice(k, k + B);
      const T = Math.max(...step.map(rowLength));
      plan.steps.push(step);
      plan.longest = Math.max(plan.longest, T);
      plan.positions += step.length * T;
    }
    for (const s of order) plan.tokens += s.input.length;
    plan.samples += order.length;
    plan.paddedPositions += order.length * longestSample;
  }
  return plan;
}

/** Trains an adapter (LoRA or Gated Memory, by `o.lora.kind`) through the stages; returns it with the loss of every step. */
export async function trainAdapter(cfg: LlamaConfig, weights: LlamaWeights, stages: readonly Stage[], o: TrainOptions): Promise<{ adapter: LoraAdapter; losses: number[] }> {
  const samples = stages.flatMap((st) => st.samples);
  if (samples.length === 0) throw new Error('nothing to learn: no samples');
  const report = o.onProgress ?? (() => undefined);
  const cancelled = (): void => {
    if (o.isCancelled?.()) throw new LearnCancelled('Learning was cancelled; the previous adapter is unchanged.');
  };
  const longest = Math.max(...samples.map((s) => s.input.length));
  if (longest > cfg.maxPositions) throw new Error(`samples of ${longest} tokens exceed the model's ${cfg.maxPositions} positions`);
  if (o.recompute && (o.batch ?? 1) > 1) throw new Error('activation recomputation trains one row per step');
  const B = o.batch ?? 1;
  const plan = planSteps(stages, { seed: o.seed, batch: B, rowTokens: o.rowTokens, maxSamples: o.maxSamples });
  const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;
  report({ phase: 'build', message: `training graph for rows of up to ${plan.longest} tokens${o.recompute ? ' (activation recomputation: one layer at a time)' : ''}` });
  report({
    phase: 'build',
    message:
      `packed ${plan.samples} samples into ${plan.steps.length} steps (${(plan.samples / Math.max(1, plan.steps.length)).toFixed(1)} samples a step, ${new Set(plan.steps.map((rows) => Math.max(...rows.map(rowLength)))).size} row lengths): ` +
      `${percent(plan.tokens / Math.max(1, plan.positions))} of the positions computed are tokens (${percent(plan.tokens / Math.max(1, plan.paddedPositions))} with one padded sample a step)`,
  });
  const device = o.device ?? defaultDevice();
  const init = o.initial;
  const describe = (a: { rank: number; targets: readonly string[]; kind?: AdapterKind }): string => (adapterKind(a) === 'gated-memory' ? 'Gated Memory' : `LoRA rank ${a.rank}, ${a.targets.join('/')}`);
  if (init && describe(init) !== describe(o.lora)) {
    throw new Error(`the current adapter (${describe(init)}) does not match the settings (${describe(o.lora)}): learn from scratch`);
  }
  // a graph for WebGPU is written with the ops it has kernels for
  const built = { seqLen: plan.longest, lora: o.lora, seed: o.seed, precision: precisionFor(device), portable: (await resolveProvider(device)) === 'webgpu' };
  const start = (fresh: Record<string, Float32Array>): Record<string, Float32Array> => (init ? Object.fromEntries(Object.keys(fresh).map((k) => [k, init.tensors[k] ?? fresh[k]!])) : fresh);
  let runner: StepRunner;
  let release: () => Promise<void>;
  let names: string[];
  let provider: Provider;
  if (o.recompute) {
    const graphs = buildRecomputeStep(cfg, weights, { ...built, packed: true });
    cancelled();
    const r = await RecomputeRunner.create(recomputeModels(graphs, weights), device, { threads: o.threads, initial: start(graphs.params) });
    [runner, release, names, provider] = [r, () => r.release(), Object.keys(graphs.params), r.provider];
  } else {
    // rows as long as each step's longest: the sequence length is a symbolic dimension
    const graph = buildLlamaTrainStep(cfg, weights, { ...built, seqLen: 'T', batch: B > 1 ? 'batch' : 1, packed: true });
    cancelled();
    const created = await createSession(graph.model, device, { threads: o.threads });
    const { session } = created;
    [runner, release, names, provider] = [new TrainStepRunner(session, graph.spec, start(graph.params)), () => session.release(), Object.keys(graph.params), created.provider];
  }
  report({ phase: 'build', message: `training on ${PROVIDER_NAMES[provider]}${built.precision === 'float16' ? ' in mixed precision' : ''}` });
  // the sessions are released however training ends (a cancel, an error)
  const losses: number[] = [];
  const ck = o.checkpoint;
  const passes = stages.map((st) => st.epochs);
  const sampleDigest = ck ? samplesDigest(stages) : '';
  const weighting = o.weighting ?? LOSS_WEIGHTING;
  let saved = 0;
  let fingerprint = '';
  const keep = (): void => {
    if (!ck || losses.length <= saved || losses.length >= plan.steps.length) return;
    try {
      writeCheckpoint(ck.file, { step: losses.length, losses, passes, samples: sampleDigest, fingerprint, state: runner.saveState(), savedAt: new Date().toISOString() });
      saved = losses.length;
    } catch (err) {
      // learning goes on without one (an interruption then starts over)
      report({ phase: 'train', message: `could not keep a checkpoint: ${describeFsError(err)}` });
      saved = Infinity;
    }
  };
  try {
    if (ck) {
      fingerprint = planFingerprint(plan.steps, { lora: o.lora, lr: o.lr, seed: o.seed, recompute: !!o.recompute, batch: B, weighting, precision: built.precision }, init?.tensors);
      const found = ck.found === undefined ? readCheckpoint(ck.file, fingerprint) : fitCheckpoint(ck.found ?? undefined, ck.file, fingerprint);
      if (found && 'discarded' in found) report({ phase: 'train', message: `a checkpoint was discarded: ${found.discarded}; learning from the start` });
      if (found && 'checkpoint' in found) {
        const c = found.checkpoint;
        runner.loadState(c.state);
        losses.push(...c.losses);
        saved = c.step;
        report({ phase: 'train', message: `resuming at step ${c.step} of ${plan.steps.length} (checkpoint of ${c.savedAt.slice(11, 19)} UTC)` });
      }
    }
    const totalSteps = plan.steps.length;
    const resumedAt = losses.length;
    const started = performance.now();
    let lastKept = started;
    let tokens = 0;
    for (const rows of plan.steps.slice(resumedAt)) {
      cancelled();
      for (const row of rows) tokens += rowLength(row);
      const feeds = provider === 'webgpu' ? packedFeeds(rows, webgpuRowLength(Math.max(...rows.map(rowLength)), plan.longest), { weighting, count: B }) : packedFeeds(rows, undefined, { weighting });
      const { loss } = await runner.step(feeds, learningRate(o.lr, losses.length, totalSteps));
      losses.push(loss);
      const now = performance.now();
      const seconds = (now - started) / 1000;
      report({ phase: 'train', step: losses.length, totalSteps, loss, tokensPerSecond: tokens / seconds, etaSeconds: (seconds / (losses.length - resumedAt)) * (totalSteps - losses.length) });
      if (ck && now - lastKept >= (ck.everySeconds ?? 60) * 1000) {
        keep();
        lastKept = performance.now();
      }
    }
    if (runner.skippedSteps > 0) {
      report({ phase: 'train', message: `${runner.skippedSteps} of ${totalSteps} steps skipped: their half-precision gradients overflowed (the loss scale was lowered)` });
    }
  } catch (err) {
    // cancelled (an editor closed, a Stop): what was trained so far is kept for the next learn
    if (err instanceof LearnCancelled) keep();
    throw err;
  } finally {
    await release();
  }
  const tensors = Object.fromEntries(names.map((k) => [k, Float32Array.from(runner.get(k))]));
  const gated = adapterKind(o.lora) === 'gated-memory';
  return { adapter: gated ? { kind: 'gated-memory', rank: 0, alpha: 0, targets: [], tensors } : { rank: o.lora.rank, alpha: o.lora.alpha, targets: [...o.lora.targets], tensors }, losses };
}

/** Trains and, only if training completed, saves the adapter to `dir` (replacing any previous one whole). */
export async function learnToFolder(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  stages: readonly Stage[],
  dir: string,
  o: TrainOptions & { baseModel?: string; manifest?: (losses: number[]) => object; files?: Record<string, string> },
): Promise<{ adapter: LoraAdapter; losses: number[] }> {
  const result = await trainAdapter(cfg, weights, stages, o);
  if (o.isCancelled?.()) throw new LearnCancelled('Learning was cancelled; the previous adapter is unchanged.');
  o.onProgress?.({ phase: 'save', message: dir });
  // files saved with the weights (in the same atomic rename): the manifest, what `ask` matches questions to
  const extra: Record<string, string> = { ...o.files, ...(o.manifest ? { [MANIFEST]: `${JSON.stringify(o.manifest(result.losses), null, 1)}\n` } : {}) };
  try {
    saveAdapter(dir, cfg, result.adapter, o.baseModel ?? '', extra);
  } catch (err) {
    throw new Error(`Could not save the adapter to ${dir}: ${describeFsError(err)}. The previous adapter is unchanged; learn again when this is fixed.`);
  }
  if (o.checkpoint) removeCheckpoint(o.checkpoint.file);
  return result;
}
