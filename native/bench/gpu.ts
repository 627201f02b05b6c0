/**
 * `lift bench gpu`: the trainer's own engine on a GPU through ONNX Runtime's WebGPU provider
 * (Dawn; Vulkan on Linux), next to PyTorch's same LoRA step on CUDA in the same run. Parts, each
 * surviving the others' failures and skipped once the time budget is spent:
 *   1. ops: every graph the product runs (training step in float32 and mixed precision,
 *      recomputation's three graphs, generation in float32, int8 and int4) created on WebGPU
 *      with CPU fallback disabled, and with ONNX Runtime's verbose log (node placements) on;
 *   2. agree: the default model's training step and greedy generation on WebGPU against the CPU;
 *   3. train: the LoRA step (rank 16 on q/k/v/o) of the default model and of a
 *      Qwen2.5-Coder-0.5B-shaped random model, one graph and recomputing, in tokens/s and the
 *      GPU memory nvidia-smi saw; PyTorch's same step (peer_lora.py) on CUDA in float32 and
 *      bfloat16 autocast;
 *   4. generate: prefill and decode tokens/s on WebGPU (float32 and int4 weights);
 *   5. learn: `lift demo` (learn the demo spec, ask before and after) on WebGPU and on the CPU.
 * Writes everything to `--out` (default out/bench/gpu.json) after each part.
 *
 *   lift bench gpu [--out FILE] [--budget SECONDS] [--quick]
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { loraStepFlops } from '../lift/choices';
import type { LlamaConfig } from '../model/config';
import { defaultModelDir } from '../model/default';
import { randomWeights, smallConfig } from '../model/init';
import { buildLlamaGenerate, buildLlamaTrainStep } from '../model/llama';
import { buildRecomputeStep } from '../model/recompute';
import { type LinearTarget, type LlamaWeights, loadModel } from '../model/weights';
import type { EncodedModel } from '../onnx/model';
import { Generator } from '../runtime/generate';
import { executionProviders, loadOrt } from '../runtime/ort';
import { RecomputeRunner, recomputeModels } from '../runtime/recompute';
import { createSession, firstLine, type Provider, type StepRunner, TrainStepRunner } from '../runtime/session';
import { matmulSpeed } from '../runtime/speed';
import { pythonPeer } from './peer';

const LORA = { rank: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as LinearTarget[] };

/** Qwen2.5-Coder-0.5B: 24 layers, 896 wide, 14 query / 2 key-value heads, SwiGLU 4864, vocab 151936, tied, q/k/v biases. */
export const QWEN_05B: LlamaConfig = {
  ...smallConfig({ hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151_936, maxPositions: 32_768, tie: true }),
  modelType: 'qwen2',
  attentionBias: true,
  ropeTheta: 1_000_000,
  rmsEps: 1e-6,
};

/**
 * Random weights for a large shape, fast: randomWeights' normal values for the small tensors, and
 * for matrices above a million values uniform noise of the same standard deviation (0.02) from a
 * xorshift generator (the normal sampler takes ~30 s for 0.5B values; speed does not depend on values).
 */
export function quickWeights(cfg: LlamaConfig): LlamaWeights {
  const w = randomWeights(cfg, 1, 0.02, 1 << 20);
  let x = 0x9e3779b9;
  const half = 0.02 * Math.sqrt(3);
  for (const m of [w.embed, w.lmHead, ...w.layers.flatMap((l) => Object.values(l.linear))]) {
    if (!m || m.data.length <= 1 << 20) continue;
    const d = m.data as Float32Array;
    for (let i = 0; i < d.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      d[i] = ((x >>> 0) / 2 ** 31 - 1) * half;
    }
  }
  return w;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Peak GPU memory in use as nvidia-smi reports it (polled every 100 ms), between marks. */
class MemoryWatch {
  private peak = 0;
  private readonly child?: ReturnType<typeof spawn>;
  readonly problem?: string;
  constructor() {
    try {
      execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
      const child = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '100'], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        for (const line of d.split('\n')) {
          const mib = Number(line.trim());
          if (line.trim() && Number.isFinite(mib)) this.peak = Math.max(this.peak, mib);
        }
      });
      this.child = child;
    } catch (err) {
      this.problem = `nvidia-smi: ${firstLine(err)}`;
    }
  }
  /** Peak MiB since the last mark (waits one poll so the last moments are seen). */
  async mark(): Promise<number | null> {
    if (!this.child) return null;
    await new Promise((r) => setTimeout(r, 250));
    const p = this.peak;
    this.peak = 0;
    return p;
  }
  baseline(): number | null {
    if (!this.child) return null;
    try {
      return Number(execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8' }).trim());
    } catch {
      return null;
    }
  }
  stop(): void {
    this.child?.kill();
  }
}

function trainFeeds(T: number, vocab: number, seed = 1): Record<string, Tensor> {
  const { Tensor } = loadOrt();
  const ids = (shift: number): Tensor => new Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(((i + shift) * 7919 + seed * 104_729) % vocab)), [1, T]);
  return { input_ids: ids(0), labels: ids(1), loss_mask: new Tensor('float32', new Float32Array(T).fill(1), [1, T]) };
}

interface StepTiming {
  provider: Provider;
  build_s: number;
  step_s: number;
  tokens_per_s: number;
  tflops: number;
  gpu_peak_mib: number | null;
  losses: number[];
}

/** Builds the step (one graph or recomputing), runs a warm-up and `steps` timed steps on `device`. */
async function timeStep(cfg: LlamaConfig, weights: LlamaWeights, T: number, device: 'webgpu' | 'cpu', recompute: boolean, steps: number, mem: MemoryWatch): Promise<StepTiming> {
  const t0 = performance.now();
  let runner: StepRunner;
  let provider: Provider;
  let release: () => Promise<void>;
  if (recompute) {
    const graphs = buildRecomputeStep(cfg, weights, { seqLen: T, lora: LORA, seed: 1, precision: 'float32', portable: device === 'webgpu' });
    const r = await RecomputeRunner.create(recomputeModels(graphs, weights), device);
    [runner, provider, release] = [r, r.provider, () => r.release()];
  } else {
    const g = buildLlamaTrainStep(cfg, weights, { seqLen: T, batch: 1, lora: LORA, seed: 1, precision: 'float32', portable: device === 'webgpu' });
    const created = await createSession(g.model, device);
    [runner, provider, release] = [new TrainStepRunner(created.session, g.spec, g.params), created.provider, () => created.session.release()];
  }
  try {
    const feeds = trainFeeds(T, cfg.vocabSize);
    const losses = [(await runner.step(feeds, 1e-4)).loss];
    const build_s = (performance.now() - t0) / 1000;
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      losses.push((await runner.step(feeds, 1e-4)).loss);
      times.push((performance.now() - t) / 1000);
    }
    const step_s = median(times);
    return { provider, build_s, step_s, tokens_per_s: T / step_s, tflops: loraStepFlops(cfg, T, LORA) / step_s / 1e12, gpu_peak_mib: await mem.mark(), losses };
  } finally {
    await release();
  }
}

/** PyTorch's same step (peer_lora.py) on CUDA, or why not. */
function torchStep(cfg: LlamaConfig, T: number, dtype: 'float32' | 'bfloat16', steps: number, timeoutMs: number): Record<string, unknown> {
  const peer = pythonPeer('peer_lora.py');
  if (typeof peer === 'string') return { error: peer };
  const spec = {
    hidden: cfg.hiddenSize, layers: cfg.numLayers, heads: cfg.numHeads, kv_heads: cfg.numKvHeads, intermediate: cfg.intermediateSize, vocab: cfg.vocabSize,
    seq: T, rank: LORA.rank, alpha: LORA.alpha, targets: LORA.targets, steps, threads: 8, device: 'cuda', dtype,
  };
  try {
    const out = execFileSync(peer.python, [peer.script, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { median_s: number; max_memory_bytes?: number; torch: string };
    return { ...r, tokens_per_s: T / r.median_s, tflops: loraStepFlops(cfg, T, LORA) / r.median_s / 1e12 };
  } catch (err) {
    const e = err as { stderr?: string };
    return { error: `${firstLine(err)}${e.stderr ? `: ${e.stderr.trim().split('\n').slice(-2).join(' ')}` : ''}` };
  }
}

/** Greedy generation: prefill of `prompt` tokens, then `decode` tokens; tokens/s of each. */
async function timeGenerate(cfg: LlamaConfig, weights: LlamaWeights, device: 'webgpu' | 'cpu', bits: 4 | 8 | undefined, prompt: number, decode: number, rounds: number): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const graph = buildLlamaGenerate(cfg, weights, LORA.targets, 'float32', bits);
  const { session, provider } = await createSession(graph.model, device);
  const gen = new Generator(session, cfg, graph.loraTargets);
  try {
    const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 17) % cfg.vocabSize);
    const once = async (): Promise<{ prefill: number; decode: number; tokens: number[] }> => {
      const stamps = [performance.now()];
      const { tokens } = await gen.generate(ids, { maxTokens: decode, temperature: 0, onToken: () => stamps.push(performance.now()) });
      return { prefill: (stamps[1]! - stamps[0]!) / 1000, decode: (stamps.at(-1)! - stamps[1]!) / 1000 / Math.max(1, stamps.length - 2), tokens };
    };
    const first = await once();
    const build_s = (performance.now() - t0) / 1000;
    const runs = [];
    for (let i = 0; i < rounds; i++) runs.push(await once());
    return {
      provider,
      build_s,
      prefill_tokens_per_s: prompt / median(runs.map((r) => r.prefill)),
      decode_tokens_per_s: 1 / median(runs.map((r) => r.decode)),
      tokens: first.tokens,
    };
  } finally {
    await gen.release();
  }
}

/** The graphs of every kind the product runs, for `cfg` (small: the ops check, not speed). */
function productGraphs(cfg: LlamaConfig, weights: LlamaWeights): [string, () => EncodedModel | Uint8Array][] {
  const T = 64;
  const rec = () => buildRecomputeStep(cfg, weights, { seqLen: T, lora: LORA, seed: 1, precision: 'float32', packed: true, portable: true });
  return [
    ['train float32 (packed rows)', () => buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora: LORA, seed: 1, precision: 'float32', packed: true, portable: true }).model],
    ['train float32, not portable (fused LogSoftmax)', () => buildLlamaTrainStep(cfg, weights, { seqLen: T, batch: 1, lora: LORA, seed: 1, precision: 'float32' }).model],
    ['train mixed precision', () => buildLlamaTrainStep(cfg, weights, { seqLen: T, batch: 1, lora: LORA, seed: 1, precision: 'float16', portable: true }).model],
    ['recompute layer', () => rec().layer],
    ['recompute head', () => rec().head],
    ['recompute update', () => rec().update.model],
    ['generate float32', () => buildLlamaGenerate(cfg, weights, LORA.targets, 'float32').model],
    ['generate int8', () => buildLlamaGenerate(cfg, weights, LORA.targets, 'float32', 8).model],
    ['generate int4', () => buildLlamaGenerate(cfg, weights, LORA.targets, 'float32', 4).model],
  ];
}

export async function benchGpu(log: (line: string) => void = console.log, args: readonly string[] = []): Promise<Record<string, unknown>> {
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = opt('--out') ?? path.join('out', 'bench', 'gpu.json');
  const budget = Number(opt('--budget') ?? 300);
  const quick = args.includes('--quick');
  // --device cpu runs every part on the CPU: to check this bench where no GPU is
  const gpu = (opt('--device') ?? 'webgpu') as 'webgpu' | 'cpu';
  const started = performance.now();
  const left = (): number => budget - (performance.now() - started) / 1000;
  const ort = loadOrt();
  const mem = new MemoryWatch();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: (ort.env as { versions?: { common?: string } }).versions?.common ?? null,
    providers: executionProviders(),
    gpu: (() => {
      try {
        return execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).trim();
      } catch (err) {
        return `no nvidia-smi: ${firstLine(err)}`;
      }
    })(),
    gpu_baseline_mib: mem.baseline(),
    budget_s: budget,
  };
  const save = (): void => {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(results, null, 1)}\n`);
  };
  /** Runs one part, keeping its result or its error, unless the budget is spent. */
  const skip = opt('--skip') ? new RegExp(opt('--skip')!) : undefined;
  const part = async (name: string, minSeconds: number, fn: () => Promise<unknown>): Promise<void> => {
    if (skip?.test(name)) return;
    if (left() < minSeconds) {
      results[name] = { skipped: `less than ${minSeconds} s of the budget left` };
      log(`${name}: skipped (budget)`);
      save();
      return;
    }
    const t = performance.now();
    log(`${name}: start (${left().toFixed(0)} s of the budget left)`);
    try {
      results[name] = await fn();
    } catch (err) {
      results[name] = { error: firstLine(err) };
    }
    log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(results[name]).slice(0, 600)}`);
    save();
  };

  const dir = defaultModelDir();
  if (!dir) throw new Error('native/default-model is not there');
  const dflt = loadModel(dir);
  log(`GPU: ${String(results.gpu)}; ONNX Runtime ${String(results.onnxruntime)}; budget ${budget} s`);
  save();

  await part('probe', 10, async () => {
    const webgpu = await matmulSpeed(gpu);
    const cpu = await matmulSpeed('cpu');
    return { webgpu_gflops: webgpu.flops / 1e9, cpu_gflops: cpu.flops / 1e9, note: '[256 × 1024] · [1024 × 1024] float32 MatMul, median of 5' };
  });

  await part('ops', 20, async () => {
    const { InferenceSession } = ort;
    const rows: Record<string, string> = {};
    for (const [name, build] of productGraphs(dflt.config, dflt.weights)) {
      const m = build();
      const split = 'externalData' in m ? m : undefined;
      const bytes = (split ? split.bytes : m) as Uint8Array;
      const common: InferenceSession.SessionOptions = { executionProviders: [gpu], ...(split ? { externalData: split.externalData } : {}) };
      let strict: string;
      try {
        const s = await InferenceSession.create(bytes, { ...common, extra: { session: { disable_cpu_ep_fallback: '1' } } });
        await s.release();
        strict = 'every node on WebGPU';
      } catch (err) {
        strict = `fallback disabled: ${firstLine(err)}`;
      }
      // the verbose log names the nodes each provider got (read from this run's stderr)
      process.stderr.write(`\n=== lift-ops-begin ${name} ===\n`);
      try {
        const s = await InferenceSession.create(bytes, { ...common, logSeverityLevel: 0, logVerbosityLevel: 0 });
        await s.release();
      } catch (err) {
        strict += `; with fallback: ${firstLine(err)}`;
      }
      process.stderr.write(`\n=== lift-ops-end ${name} ===\n`);
      rows[name] = strict;
    }
    return rows;
  });

  await part('agree', 20, async () => {
    // the default model's step: the same three steps on the CPU and on WebGPU
    const { config: cfg, weights } = dflt;
    const T = 256;
    const g = buildLlamaTrainStep(cfg, weights, { seqLen: T, batch: 1, lora: LORA, seed: 1, precision: 'float32', portable: true });
    const runs: Record<string, { losses: number[]; b: Float32Array }> = {};
    for (const [key, device] of [['cpu', 'cpu'], ['webgpu', gpu]] as const) {
      const { session, provider } = await createSession(g.model, device);
      if (provider !== device) throw new Error(`${device} asked, ${provider} given`);
      const r = new TrainStepRunner(session, g.spec, g.params);
      const losses = [];
      for (let i = 0; i < 3; i++) losses.push((await r.step(trainFeeds(T, cfg.vocabSize, i + 1), 1e-3)).loss);
      const bName = Object.keys(g.params).find((k) => k.includes('lora_B'))!;
      runs[key] = { losses, b: Float32Array.from(r.get(bName)) };
      await session.release();
    }
    const { cpu, webgpu } = runs as Record<'cpu' | 'webgpu', { losses: number[]; b: Float32Array }>;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < cpu.b.length; i++) [diff, scale] = [Math.max(diff, Math.abs(cpu.b[i]! - webgpu.b[i]!)), Math.max(scale, Math.abs(cpu.b[i]!))];
    const gens: Record<string, number[]> = {};
    for (const [key, device] of [['cpu', 'cpu'], ['webgpu', gpu]] as const) gens[key] = (await timeGenerate(cfg, weights, device, undefined, 128, 32, 1)).tokens as number[];
    let same = 0;
    while (same < gens.cpu!.length && gens.cpu![same] === gens.webgpu![same]) same++;
    return {
      train_losses_cpu: cpu.losses,
      train_losses_webgpu: webgpu.losses,
      max_loss_rel_diff: Math.max(...cpu.losses.map((l, i) => Math.abs(l - webgpu.losses[i]!) / Math.abs(l))),
      lora_b_max_abs_diff: diff,
      lora_b_max_abs: scale,
      greedy_tokens_same: `${same}/${gens.cpu!.length}`,
    };
  });

  const train: Record<string, unknown> = {};
  results.train = train;
  const steps = quick ? 2 : 5;
  const trainPart = (shape: string, cfg: LlamaConfig, weights: () => LlamaWeights, T: number, recompute: boolean): Promise<void> => {
    const key = `${shape}, ${T} tokens, ${recompute ? 'recomputing' : 'one graph'}`;
    return part(`train: ${key}`, cfg === QWEN_05B ? 60 : 10, async () => (train[key] = await timeStep(cfg, weights(), T, gpu, recompute, steps, mem)));
  };
  const torchPart = (shape: string, cfg: LlamaConfig, T: number): Promise<void> =>
    part(`torch: ${shape}, ${T} tokens`, 30, async () => ({
      float32: torchStep(cfg, T, 'float32', steps, Math.round(Math.max(10, left() - 20) * 1000)),
      bfloat16: torchStep(cfg, T, 'bfloat16', steps, Math.round(Math.max(10, left() - 20) * 1000)),
    }));
  const learnPart = (device: 'webgpu' | 'cpu'): Promise<void> =>
    part(`learn demo: ${device}`, 45, async () => {
      const t = performance.now();
      const lines: string[] = [];
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [process.argv[1]!, 'demo'], { env: { ...process.env, LIFT_DEVICE: device }, stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = (d: Buffer): void => void lines.push(...d.toString('utf8').split('\n').filter(Boolean));
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        const timer = setTimeout(() => child.kill('SIGINT'), Math.max(10, left() - 5) * 1000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      return { exit: code, wall_s: (performance.now() - t) / 1000, lines: lines.filter((l) => /training on|before|after|learned|answers|error|steps|check/i.test(l)).slice(-25) };
    });

  const small = (): LlamaWeights => dflt.weights;
  const T0 = quick ? 256 : 1024;
  await trainPart('default model', dflt.config, small, T0, false);
  await trainPart('default model', dflt.config, small, T0, true);
  await part('train: default model on the CPU', 20, async () => (train['default model on the CPU'] = await timeStep(dflt.config, dflt.weights, T0, 'cpu', false, steps, mem)));
  await torchPart('default model', dflt.config, T0);
  for (const device of gpu === 'cpu' ? (['cpu'] as const) : (['webgpu', 'cpu'] as const)) await learnPart(device);
  if (!quick) {
    let w05: LlamaWeights | undefined;
    const big = (): LlamaWeights => (w05 ??= quickWeights(QWEN_05B));
    const shape = 'Qwen2.5-0.5B shape';
    await trainPart(shape, QWEN_05B, big, 1024, false);
    await torchPart(shape, QWEN_05B, 1024);
    await trainPart(shape, QWEN_05B, big, 4096, true);
    await trainPart(shape, QWEN_05B, big, 4096, false);
    await torchPart(shape, QWEN_05B, 4096);
    await trainPart(shape, QWEN_05B, big, 1024, true);
    await part('generate', 40, async () => {
      const rows: Record<string, unknown> = {};
      rows['default model, webgpu float32'] = await timeGenerate(dflt.config, dflt.weights, gpu, undefined, 512, 64, 3);
      rows['default model, cpu float32'] = await timeGenerate(dflt.config, dflt.weights, 'cpu', undefined, 512, 64, 3);
      if (left() > 60) rows[`${shape}, webgpu float32`] = await timeGenerate(QWEN_05B, big(), gpu, undefined, 512, 64, 2);
      if (left() > 45) rows[`${shape}, webgpu int4`] = await timeGenerate(QWEN_05B, big(), gpu, 4, 512, 64, 2);
      for (const r of Object.values(rows)) delete (r as { tokens?: unknown }).tokens;
      return rows;
    });
  }
  mem.stop();
  results.total_s = (performance.now() - started) / 1000;
  save();
  log(`wrote ${out}`);
  return results;
}
