/**
 * What learning needs from the machine, checked before it starts: memory (an estimate from the
 * model's shape against what is available, cgroup limits included) and the adapter's storage
 * (writable, with room for the adapter). File-system errors are put in plain words.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeFsError } from '../fsError';
import type { LlamaConfig } from '../model/config';
import { type AdapterKind, memoryShapes } from '../model/llama';
import { headChunk } from '../model/recompute';
import { LINEAR_TARGETS, type LinearTarget, linearShape } from '../model/weights';

const MB = 2 ** 20;
const GB = 2 ** 30;

/** Bytes as people read them: "1.4 GB", "320 MB". */
export function formatBytes(n: number): string {
  return n >= GB ? `${(n / GB).toFixed(1)} GB` : `${Math.max(1, Math.round(n / MB))} MB`;
}

/** The adapter learning makes unless the request or the model folder says otherwise. */
export const DEFAULT_LORA: { rank: number; targets: readonly LinearTarget[] } = { rank: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };

/** The segment length learning prefers: 512 tokens, or less where a model's positions are few. */
export const preferredSegment = (cfg: LlamaConfig): number => Math.min(512, Math.floor(cfg.maxPositions / 1.5));

/** The longest row a learn computes for `segment`: the segment, its context prefix (half as long unless given) and 64 for the prompt, within the model's positions. */
export const rowLength = (cfg: LlamaConfig, segment: number, prefixBudget?: number): number => Math.min(cfg.maxPositions, segment + (prefixBudget ?? Math.floor(segment / 2)) + 64);

/** Parameters of the base model. */
export function parameterCount(cfg: LlamaConfig): number {
  const linears = LINEAR_TARGETS.reduce((a, t) => a + linearShape(cfg, t).reduce((x, y) => x * y, 1), 0);
  const perLayer = linears + 2 * cfg.hiddenSize + (cfg.attentionBias ? (cfg.numHeads + 2 * cfg.numKvHeads) * cfg.headDim : 0);
  return cfg.vocabSize * cfg.hiddenSize * (cfg.tieEmbeddings ? 1 : 2) + cfg.numLayers * perLayer + cfg.hiddenSize;
}

/**
 * Floats a training step keeps for its backward pass (the CPU fit: per layer ≈ 18 per token per
 * hidden + MLP width and the attention scores; ≈ 5 more copies of the scores while one layer's
 * attention is differentiated, the largest term at long segments; the logits and their gradient
 * ≈ 13 per token per vocabulary entry). With activation recomputation: one layer's, one head
 * chunk's, and the layers' inputs kept between the sweeps (with the gradient and the copies that
 * cross into ONNX Runtime, ≈ 3 per token per hidden width per layer).
 */
function activationFloats(cfg: LlamaConfig, T: number, recompute = false, kind?: AdapterKind): number {
  // Gated Memory keeps about 8 values per token per head dimension (its hidden layer of 2d before and after SiLU, the memory, the mix); counted from the graph, not fitted
  const memory = kind === 'gated-memory' ? 8 * T * cfg.numHeads * cfg.headDim : 0;
  const layer = 18 * T * (cfg.hiddenSize + cfg.intermediateSize) + cfg.numHeads * T * T + memory;
  const attentionBackward = 5 * cfg.numHeads * T * T;
  if (!recompute) return cfg.numLayers * layer + attentionBackward + 13 * T * cfg.vocabSize;
  // one more copy of the scores for the recomputed forward inside the vector-Jacobian product (measured 1.05× at 2048 tokens without it)
  return layer + attentionBackward + cfg.numHeads * T * T + 13 * headChunk(cfg, T) * cfg.vocabSize + 3 * (cfg.numLayers + 1) * T * cfg.hiddenSize;
}

/** The adapter's parameters: LoRA's A and B of every target in every layer, or every layer's Gated Memory. */
export function adapterParameterCount(cfg: LlamaConfig, a: { rank: number; targets: readonly LinearTarget[]; kind?: AdapterKind }): number {
  if (a.kind === 'gated-memory') return cfg.numLayers * Object.values(memoryShapes(cfg)).reduce((n, s) => n + s.reduce((x, y) => x * y, 1), 0);
  return cfg.numLayers * a.targets.reduce((n, t) => n + linearShape(cfg, t).reduce((x, y) => x + y, 0) * a.rank, 0);
}

export interface MemoryEstimate {
  /** Bytes in all. */
  total: number;
  /** What the total is made of, in bytes. */
  parts: { weights: number; activations: number; adapter: number; runtime: number };
  /** The sequence length the estimate is for. */
  seqLen: number;
  /** Whether it is for a run with activation recomputation. */
  recompute: boolean;
  /** Samples per step. */
  batch: number;
}

/** What an estimate is for: the step's sequence length, the adapter, and whether activations are recomputed. */
export interface StepShape {
  seqLen: number;
  rank: number;
  targets: readonly LinearTarget[];
  kind?: AdapterKind;
  recompute?: boolean;
  /** Samples per step (default 1): the activations scale with it. */
  batch?: number;
}

/**
 * The peak memory of a learning run, fitted to the peak RSS measured for three model shapes at
 * two or three sequence lengths each (4M, 29M and 135M parameters; 128–512 tokens; within 3%)
 * and to `lift bench recompute` (4M and 135M parameters, 512–2048 tokens, with and without
 * recomputation), plus a 10% margin: the base weights about four times over in fp32 (the loaded
 * copy, ONNX Runtime's initializers and packed MatMul weights; three times with recomputation,
 * whose layer weights are stacked and picked per run, not packed), the activations a training
 * step keeps for its backward pass (activationFloats), the adapter with its gradient and AdamW
 * moments, and the process's own footprint (Node, ONNX Runtime, and since fact extraction the
 * English lexicon and parses of compromise: about 60 MB more on a 16 KB document, measured).
 * test/reliability/resources.test.ts checks it against the measured peak.
 */
export function estimateLearnMemory(cfg: LlamaConfig, o: StepShape): MemoryEstimate {
  const margin = 1.1;
  const weights = margin * 4 * (o.recompute ? 3 : 4) * parameterCount(cfg);
  const activations = margin * 4 * activationFloats(cfg, o.seqLen, o.recompute, o.kind) * (o.batch ?? 1);
  const adapter = 4 * 5 * adapterParameterCount(cfg, o);
  const runtime = 240 * MB;
  return { total: weights + activations + adapter + runtime, parts: { weights, activations, adapter, runtime }, seqLen: o.seqLen, recompute: !!o.recompute, batch: o.batch ?? 1 };
}

export type RecomputeMode = 'auto' | 'on' | 'off';

/**
 * Whether to recompute activations: `on` and `off` as asked; `auto` only when the step would not
 * fit in `available` bytes without it (then the estimate with it, the smaller, even if that does
 * not fit either). Returns the estimate for the choice.
 */
export function chooseRecompute(cfg: LlamaConfig, o: StepShape, mode: RecomputeMode, available: number): MemoryEstimate {
  const full = estimateLearnMemory(cfg, { ...o, recompute: mode === 'on' });
  if (mode !== 'auto' || full.total <= available) return full;
  return estimateLearnMemory(cfg, { ...o, recompute: true, batch: 1 });
}

/**
 * The GPU memory a learning run takes in mixed precision: the weight matrices once in float16
 * (initializers live on the device), the same activations as on the CPU in float32, the adapter
 * with its gradient and moments, and the CUDA context and workspaces. Not yet calibrated against
 * a GPU run (none was possible): it follows the CPU fit's activation count, with a 25% margin.
 */
export function estimateGpuMemory(cfg: LlamaConfig, o: StepShape): MemoryEstimate {
  const margin = 1.25;
  const weights = 2 * parameterCount(cfg);
  const activations = margin * 4 * activationFloats(cfg, o.seqLen, o.recompute, o.kind) * (o.batch ?? 1);
  const adapter = 4 * 5 * adapterParameterCount(cfg, o);
  const runtime = 600 * MB;
  return { total: weights + activations + adapter + runtime, parts: { weights, activations, adapter, runtime }, seqLen: o.seqLen, recompute: !!o.recompute, batch: o.batch ?? 1 };
}

/** The most samples per step learning takes on its own on CUDA (LIFT v4's "quality" recipe uses 4). */
export const MAX_GPU_BATCH = 4;

/**
 * The longest segment length, from `preferred` down by halves to 64, whose GPU estimate fits in
 * 90% of the free GPU memory — at each length without activation recomputation first, then
 * (`auto`) with it; `on`/`off` try only that — or a ResourceError with the numbers when not even
 * 64 fits. Then the batch: `batch` when given (it must fit), else the largest of 4, 2 and 1 that
 * fits at that length (1 with recomputation, which trains one sample per step).
 */
export function planGpuSegments(
  cfg: LlamaConfig,
  lora: { rank: number; targets: readonly LinearTarget[] },
  preferred: number,
  seqLenFor: (segment: number) => number,
  gpu: { name: string; freeBytes: number; totalBytes: number },
  mode: RecomputeMode = 'auto',
  batch?: number,
): { segment: number; estimate: MemoryEstimate } {
  const room = 0.9 * gpu.freeBytes;
  const tries = mode === 'auto' && !(batch && batch > 1) ? [false, true] : [mode === 'on'];
  const batches = batch ? [batch] : [MAX_GPU_BATCH, 2, 1];
  let segment = preferred;
  for (;;) {
    let estimate: MemoryEstimate | undefined;
    for (const recompute of tries) {
      for (const b of recompute ? [1] : batches) {
        estimate = estimateGpuMemory(cfg, { seqLen: seqLenFor(segment), ...lora, recompute, batch: b });
        if (estimate.total <= room) return { segment, estimate };
      }
    }
    if (segment <= 64) {
      throw new ResourceError(
        `Learning on the GPU needs about ${formatBytes(estimate!.total)} even with ${segment}-token segments${estimate!.recompute ? ' and activation recomputation' : ''}${estimate!.batch > 1 ? ` in batches of ${estimate!.batch}` : ''} (weights ${formatBytes(estimate!.parts.weights)}, activations ${formatBytes(estimate!.parts.activations)}), ` +
          `but ${gpu.name} has ${formatBytes(gpu.freeBytes)} free of ${formatBytes(gpu.totalBytes)}. Free GPU memory, use a smaller model, or set "lift.device" to "cpu".`,
      );
    }
    segment = Math.max(64, Math.floor(segment / 2));
  }
}

/**
 * Memory macOS can hand out from `vm_stat`'s output: free plus inactive pages (file cache and
 * memory not used lately, reclaimed on demand; psutil's "available" on macOS). Undefined when the
 * text is not vm_stat's.
 */
export function vmStatAvailable(text: string): number | undefined {
  const pageSize = Number(/page size of (\d+) bytes/.exec(text)?.[1]);
  const pages = (label: string): number => Number(new RegExp(`^${label}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
  const total = pages('Pages free') + pages('Pages inactive');
  return Number.isFinite(pageSize) && Number.isFinite(total) ? total * pageSize : undefined;
}

/**
 * os.freemem() is MemAvailable on Linux and available physical memory on Windows, but only the
 * free pages on macOS, where the file cache keeps few pages free: there vm_stat says more.
 */
function freeMemory(): number {
  if (process.platform === 'darwin') {
    try {
      const available = vmStatAvailable(execFileSync('vm_stat', { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }));
      if (available !== undefined) return Math.max(available, os.freemem());
    } catch {
      /* no vm_stat: the free pages */
    }
  }
  return os.freemem();
}

/** Memory this process could still take: what the system can hand out, tightened by a cgroup limit when there is one. */
export function availableMemory(): number {
  let available = freeMemory();
  const limit = process.constrainedMemory?.() ?? 0;
  if (limit > 0 && limit < os.totalmem()) {
    let used = process.memoryUsage().rss;
    try {
      used = Number(fs.readFileSync('/sys/fs/cgroup/memory.current', 'utf8'));
    } catch {
      /* cgroup v1 or not Linux: count this process only */
    }
    available = Math.min(available, limit - used);
  }
  return Math.max(0, available);
}

export class ResourceError extends Error {
  override name = 'ResourceError';
}

/** Throws a ResourceError, with the numbers, when the estimate exceeds the memory available. */
export function checkMemory(estimate: MemoryEstimate, available = availableMemory()): void {
  if (estimate.total <= available) return;
  const p = estimate.parts;
  throw new ResourceError(
    `Learning needs about ${formatBytes(estimate.total)} of memory (model weights ${formatBytes(p.weights)}, ` +
      `training activations for ${estimate.seqLen}-token segments${estimate.recompute ? ' with activation recomputation' : ''} ${formatBytes(p.activations)}, adapter and optimizer ${formatBytes(p.adapter)}, ` +
      `runtime ${formatBytes(p.runtime)}) but only ${formatBytes(available)} is available. Close other programs, use a smaller model, ` +
      `${estimate.recompute ? '' : 'turn on activation recomputation ("lift.recompute", --recompute on), '}or learn with shorter segments; the check can be turned off (--no-memory-check) at the risk of the system running out of memory.`,
  );
}

/**
 * Before training: the folder that will hold the adapter (or its nearest existing ancestor, which
 * is not created yet) can be written (a probe file is created and removed) and has room for
 * `bytes` twice over (the new adapter is written beside the old).
 */
export function checkStorage(dir: string, bytes: number): void {
  // the nearest folder that exists: nothing is created before there is an adapter to save
  let parent = path.dirname(path.resolve(dir));
  while (!fs.existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
  try {
    const probe = path.join(parent, `.lift-write-probe-${process.pid}`);
    fs.writeFileSync(probe, 'probe');
    fs.rmSync(probe, { force: true });
  } catch (err) {
    throw new ResourceError(`Cannot write the adapter to ${parent}: ${describeFsError(err)}. Nothing was learned; the previous adapter is unchanged.`);
  }
  let free: number | undefined;
  try {
    const s = fs.statfsSync(parent);
    free = s.bavail * s.bsize;
  } catch {
    /* statfs unsupported here: the save itself will tell */
  }
  const needed = 2 * bytes + 4 * MB;
  if (free !== undefined && free < needed) {
    throw new ResourceError(`The disk holding ${parent} has ${formatBytes(free)} free; the adapter needs about ${formatBytes(needed)}. Free some space and learn again; the previous adapter is unchanged.`);
  }
}

/** Bytes of the adapter file for this model, rank and targets (fp32). */
export function adapterBytes(cfg: LlamaConfig, a: { rank: number; targets: readonly LinearTarget[]; kind?: AdapterKind }): number {
  return 4 * adapterParameterCount(cfg, a);
}
