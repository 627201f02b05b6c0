/**
 * LIFT learning: samples → a LoRA adapter. Builds one training graph sized to the longest sample
 * (shorter ones are padded with masked positions at the end, which causal attention cannot see),
 * trains through the schedule's stages in a seeded order with AdamW, reports progress (phase, step,
 * loss, tokens/s, ETA), stops within one step when cancelled, and saves the adapter only when
 * training finished: the previous adapter stays until the new one is complete.
 */
import type { Tensor } from 'onnxruntime-node';
import type { LlamaConfig } from '../model/config';
import { buildLlamaTrainStep, type LoraConfig } from '../model/llama';
import { type LoraAdapter, saveAdapter } from '../model/peft';
import type { LlamaWeights } from '../model/weights';
import { loadOrt } from '../runtime/ort';
import { buildRecomputeStep } from '../model/recompute';
import { RecomputeRunner, recomputeModels } from '../runtime/recompute';
import { createSession, defaultDevice, type Device, precisionFor, type StepRunner, TrainStepRunner } from '../runtime/session';
import type { LearnProgress } from '../protocol';
import { describeFsError } from '../fsError';
import type { Sample } from './samples';

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
  /** Samples per optimizer step (default 1); not with recomputation. */
  batch?: number;
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
 * sample padded with masked positions and rows beyond the samples fully masked.
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

/** Trains a LoRA adapter through the stages; returns it with the loss of every step. */
export async function trainAdapter(cfg: LlamaConfig, weights: LlamaWeights, stages: readonly Stage[], o: TrainOptions): Promise<{ adapter: LoraAdapter; losses: number[] }> {
  const samples = stages.flatMap((st) => st.samples);
  if (samples.length === 0) throw new Error('nothing to learn: no samples');
  const report = o.onProgress ?? (() => undefined);
  const cancelled = (): void => {
    if (o.isCancelled?.()) throw new LearnCancelled('Learning was cancelled; the previous adapter is unchanged.');
  };
  const T = Math.max(...samples.map((s) => s.input.length));
  if (T > cfg.maxPositions) throw new Error(`samples of ${T} tokens exceed the model's ${cfg.maxPositions} positions`);
  report({ phase: 'build', message: `training graph for ${T} tokens${o.recompute ? ' (activation recomputation: one layer at a time)' : ''}` });
  const device = o.device ?? defaultDevice();
  const init = o.initial;
  if (init && (init.rank !== o.lora.rank || init.targets.join() !== o.lora.targets.join())) {
    throw new Error(`the current adapter (rank ${init.rank}, ${init.targets.join('/')}) does not match the settings (rank ${o.lora.rank}, ${o.lora.targets.join('/')}): learn from scratch`);
  }
  const built = { seqLen: T, lora: o.lora, seed: o.seed, precision: precisionFor(device) };
  const start = (fresh: Record<string, Float32Array>): Record<string, Float32Array> => (init ? Object.fromEntries(Object.keys(fresh).map((k) => [k, init.tensors[k] ?? fresh[k]!])) : fresh);
  let runner: StepRunner;
  let release: () => Promise<void>;
  let names: string[];
  if (o.recompute && (o.batch ?? 1) > 1) throw new Error('activation recomputation trains one sample per step');
  if (o.recompute) {
    const graphs = buildRecomputeStep(cfg, weights, built);
    cancelled();
    const r = await RecomputeRunner.create(recomputeModels(graphs, weights), device, { threads: o.threads, initial: start(graphs.params) });
    [runner, release, names] = [r, () => r.release(), Object.keys(graphs.params)];
  } else {
    const graph = buildLlamaTrainStep(cfg, weights, { ...built, batch: (o.batch ?? 1) > 1 ? 'batch' : 1 });
    cancelled();
    const { session } = await createSession(graph.model, device, { threads: o.threads });
    [runner, release, names] = [new TrainStepRunner(session, graph.spec, start(graph.params)), () => session.release(), Object.keys(graph.params)];
  }
  // the sessions are released however training ends (a cancel, an error)
  const losses: number[] = [];
  try {
    const B = o.batch ?? 1;
    const totalSteps = stages.reduce((a, st) => a + Math.ceil(st.samples.length / B) * st.epochs, 0);
    const started = performance.now();
    let tokens = 0;
    const epochs = stages.flatMap((st) => Array.from({ length: st.epochs }, () => st.samples));
    for (const [epoch, epochSamples] of epochs.entries()) {
      const order = shuffled(epochSamples, o.seed * 7919 + epoch);
      for (let k = 0; k < order.length; k += B) {
        cancelled();
        // up to B samples (the loss is the mean over the batch's counted tokens)
        const group = order.slice(k, k + B);
        for (const s of group) tokens += s.input.length;
        const { loss } = await runner.step(
          batchFeeds(group, T),
          learningRate(o.lr, losses.length, totalSteps),
        );
        losses.push(loss);
        const seconds = (performance.now() - started) / 1000;
        report({ phase: 'train', step: losses.length, totalSteps, loss, tokensPerSecond: tokens / seconds, etaSeconds: (seconds / losses.length) * (totalSteps - losses.length) });
      }
    }
    if (runner.skippedSteps > 0) {
      report({ phase: 'train', message: `${runner.skippedSteps} of ${totalSteps} steps skipped: their half-precision gradients overflowed (the loss scale was lowered)` });
    }
  } finally {
    await release();
  }
  const tensors = Object.fromEntries(names.map((k) => [k, Float32Array.from(runner.get(k))]));
  return { adapter: { rank: o.lora.rank, alpha: o.lora.alpha, targets: [...o.lora.targets], tensors }, losses };
}

/** Trains and, only if training completed, saves the adapter to `dir` (replacing any previous one whole). */
export async function learnToFolder(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  stages: readonly Stage[],
  dir: string,
  o: TrainOptions & { baseModel?: string; manifest?: (losses: number[]) => object },
): Promise<{ adapter: LoraAdapter; losses: number[] }> {
  const result = await trainAdapter(cfg, weights, stages, o);
  if (o.isCancelled?.()) throw new LearnCancelled('Learning was cancelled; the previous adapter is unchanged.');
  o.onProgress?.({ phase: 'save', message: dir });
  const extra: Record<string, string> = o.manifest ? { [MANIFEST]: `${JSON.stringify(o.manifest(result.losses), null, 1)}\n` } : {};
  try {
    saveAdapter(dir, cfg, result.adapter, o.baseModel ?? '', extra);
  } catch (err) {
    throw new Error(`Could not save the adapter to ${dir}: ${describeFsError(err)}. The previous adapter is unchanged; learn again when this is fixed.`);
  }
  return result;
}
