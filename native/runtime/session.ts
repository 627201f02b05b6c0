/**
 * ONNX Runtime sessions for the engine: provider choice with CUDA → WebGPU → CPU fallback
 * (creation throws when a provider cannot run here, so the reason is caught and reported), and a
 * stateful runner for training steps whose parameters and optimizer state pass in and out.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { DataType, type EncodedModel, encodeModel } from '../onnx/model';
import type { TrainStepSpec } from '../onnx/train';
import { executionProviders, loadOrt } from './ort';

export type Device = 'auto' | 'cuda' | 'webgpu' | 'cpu';
/** Where a session runs. */
export type Provider = Exclude<Device, 'auto'>;
export const PROVIDER_NAMES: Record<Provider, string> = { cuda: 'CUDA', webgpu: 'WebGPU', cpu: 'the CPU' };

/** The device the trainer was started for (`LIFT_DEVICE`, from the "lift.device" setting): `auto` by default. */
export function defaultDevice(): Device {
  const d = process.env.LIFT_DEVICE;
  return d === 'cuda' || d === 'webgpu' || d === 'cpu' ? d : 'auto';
}

/**
 * The arithmetic a graph for `device` should use: half-precision weight matmuls where CUDA will
 * be tried (its tensor cores; half the weight memory), float32 on WebGPU and the CPU.
 */
export function precisionFor(device: Device): 'float16' | 'float32' {
  return device !== 'cpu' && executionProviders().find((p) => p.name === 'cuda')?.available ? 'float16' : 'float32';
}

/** Where fallback reasons go: the trainer's log (set by the server), else stderr. */
let fallbackLog: (message: string) => void = (m) => void process.stderr.write(`${m}\n`);
export function onDeviceFallback(log: (message: string) => void): void {
  fallbackLog = log;
}

export interface CreatedSession {
  session: InferenceSession;
  provider: Provider;
  /** Why no GPU provider was used when `auto` asked for one. */
  fallbackReason?: string;
}

/** Why WebGPU could not start in this process (no adapter, no Vulkan loader): asked once, not per session. */
let webgpuProblem: string | undefined;

let webgpuProbe: Promise<boolean> | undefined;

/** Whether a WebGPU adapter answers here: one tiny session, once per process (the reason is kept). */
function webgpuAnswers(): Promise<boolean> {
  webgpuProbe ??= (async () => {
    if (webgpuProblem !== undefined) return false;
    if (!executionProviders().find((p) => p.name === 'webgpu')?.available) return false;
    const { InferenceSession } = loadOrt();
    const probe = encodeModel({
      graph: {
        name: 'lift_webgpu_probe',
        nodes: [{ opType: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
        inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [1] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [1] }],
      },
    });
    try {
      await (await InferenceSession.create(probe, { executionProviders: ['webgpu'] })).release();
      return true;
    } catch (err) {
      webgpuProblem = `WebGPU is not usable: ${firstLine(err)}`;
      return false;
    }
  })();
  return webgpuProbe;
}

/**
 * Where sessions for `device` will run, decided before a graph is built (a graph for WebGPU is
 * built portable): `auto` is CUDA where it is installed, else WebGPU where an adapter answers,
 * else the CPU. A graph the chosen provider then rejects still falls back in createSession.
 */
export async function resolveProvider(device: Device): Promise<Provider> {
  if (device !== 'auto') return device;
  if (executionProviders().find((p) => p.name === 'cuda')?.available) return 'cuda';
  return (await webgpuAnswers()) ? 'webgpu' : 'cpu';
}

/** Whether a GPU provider is worth trying for `device` (CUDA installed, or WebGPU not yet failed here). */
export function gpuLikely(device: Device): boolean {
  if (device === 'cpu') return false;
  const providers = executionProviders();
  const cuda = device !== 'webgpu' && providers.find((p) => p.name === 'cuda')?.available;
  const webgpu = device !== 'cuda' && providers.find((p) => p.name === 'webgpu')?.available && webgpuProblem === undefined;
  return !!(cuda || webgpu);
}

/**
 * Creates a session on the requested device. `cuda` and `webgpu` fail with the reason; `auto`
 * tries CUDA (with CPU fallback of single nodes disabled, so nothing runs on the CPU silently),
 * then WebGPU, then runs on the CPU, reporting why. On WebGPU, ONNX Runtime keeps shape
 * arithmetic (Shape, Size, int64 index math) on the CPU by design, so single-node fallback stays
 * allowed there; the heavy nodes (MatMul, attention, the optimizer) are WebGPU kernels.
 */
export async function createSession(
  model: Uint8Array | string | EncodedModel,
  device: Device,
  options: { log?: (message: string) => void; threads?: number; extra?: Record<string, Record<string, string>> } = {},
): Promise<CreatedSession> {
  const { InferenceSession } = loadOrt();
  const split = typeof model === 'object' && 'externalData' in model ? model : undefined;
  const source = (split ? split.bytes : model) as Uint8Array;
  const common: InferenceSession.SessionOptions = {
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...(split ? { externalData: split.externalData } : {}),
    ...(options.extra ? { extra: options.extra } : {}),
  };
  const onCpu = async (fallbackReason?: string): Promise<CreatedSession> => ({
    session: await InferenceSession.create(source, { ...common, executionProviders: ['cpu'] }),
    provider: 'cpu',
    fallbackReason,
  });
  if (device === 'cpu') return onCpu();

  const reasons: string[] = [];
  const providers = executionProviders();
  const cuda = providers.find((p) => p.name === 'cuda');
  if (device !== 'webgpu') {
    if (!cuda?.available) {
      // Known missing: say why without asking ONNX Runtime to fail loading it.
      reasons.push(`CUDA is not usable: ${cuda?.reason ?? 'no CUDA provider in this build'}`);
    } else {
      try {
        const session = await InferenceSession.create(source, {
          ...common,
          executionProviders: ['cuda'],
          extra: { ...options.extra, session: { ...options.extra?.session, disable_cpu_ep_fallback: '1' } },
        });
        return { session, provider: 'cuda' };
      } catch (err) {
        reasons.push(`CUDA is not usable: ${firstLine(err)}`);
      }
    }
    if (device === 'cuda') throw new Error(`${reasons[0]}. Set "lift.device" to "auto" or "cpu" to run on the CPU.`);
  }
  const webgpu = providers.find((p) => p.name === 'webgpu');
  if (!webgpu?.available) {
    reasons.push(`WebGPU is not usable: ${webgpu?.reason ?? 'no WebGPU provider in this build'}`);
  } else if (webgpuProblem !== undefined || (device === 'auto' && !(await webgpuAnswers()))) {
    reasons.push(webgpuProblem!);
  } else {
    try {
      const session = await InferenceSession.create(source, { ...common, executionProviders: ['webgpu'] });
      return { session, provider: 'webgpu' };
    } catch (err) {
      const reason = `WebGPU is not usable: ${firstLine(err)}`;
      // no adapter or no Vulkan loader stays so for the process; a graph the provider rejects does not
      if (/adapter|vulkan|device|dawn/i.test(reason)) webgpuProblem = reason;
      reasons.push(reason);
    }
  }
  const reason = reasons.join('; ');
  if (device === 'webgpu') throw new Error(`${reasons[reasons.length - 1]}. Set "lift.device" to "auto" or "cpu" to run on the CPU.`);
  // under `auto` with no GPU at all, the CPU is simply the device: nothing to warn about
  if (cuda?.available || !/adapter|vulkan|no WebGPU provider/i.test(reason)) (options.log ?? fallbackLog)(`${reason}; running on the CPU.`);
  return onCpu(reason);
}

/** The first line of an error's message (ONNX Runtime's carry a source path and a stack after it). */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // "<source>.cc:136 <function> <condition> was false. Failed to get a WebGPU adapter: …" → the plain part
  return message.trim().split('\n')[0]!.replace(/^\S*onnxruntime\S*:\d+ /, '').replace(/^.* was false\. (?=\S)/, '');
}

type Float = Float32Array | Float64Array;

/** A training step over one batch, whatever runs it: one graph (TrainStepRunner) or several (RecomputeRunner). */
export interface StepRunner {
  readonly stepCount: number;
  /** Steps skipped because their loss-scaled gradients overflowed (mixed precision). */
  readonly skippedSteps: number;
  step(batch: Record<string, Tensor>, lr: number): Promise<{ loss: number; gradNorm?: number }>;
  get(name: string): Float;
  /** A copy of everything the next steps depend on, to resume exactly (a learning checkpoint). */
  saveState(): RunnerState;
  /** Continues from saveState()'s copy (of a runner built the same way). */
  loadState(s: RunnerState): void;
}

/** Every parameter and optimizer moment, the optimizer's step count and the dynamic loss scaler's state. */
export interface RunnerState {
  tensors: Record<string, { shape: readonly number[]; data: Float }>;
  steps: number;
  scale: number;
  goodSteps: number;
  skipped: number;
}

/**
 * Runs a training step graph built by `buildTrainStep`, keeping parameters and moments between
 * steps. Frozen weights stay in the graph as initializers; only state, the batch and scalars
 * cross the boundary.
 */
/**
 * Dynamic loss scaling as PyTorch's GradScaler does it: start at `initial`, halve after a step
 * whose gradients overflowed (that step is skipped: no update, not counted), double after
 * `growthInterval` good steps in a row. The start is the static scale that the mixed-precision
 * tests were tuned with, not GradScaler's 2^16: a LIFT run is a few hundred to a few thousand
 * steps, and each skipped step is a sample not learned.
 */
export const DYNAMIC_LOSS_SCALE = { initial: 1024, growthInterval: 1000, min: 1 };

export class TrainStepRunner implements StepRunner {
  private readonly state = new Map<string, Tensor>();
  private steps = 0;
  private pendingMicroBatches = 0;
  private scale: number;
  private goodSteps = 0;
  private skipped = 0;

  constructor(
    private readonly session: InferenceSession,
    private readonly spec: TrainStepSpec,
    initial: Record<string, Float>,
    private readonly dtype: 'float32' | 'float64' = 'float32',
    private readonly scaling: { initial: number; growthInterval: number; min: number } = DYNAMIC_LOSS_SCALE,
  ) {
    this.scale = scaling.initial;
    const { Tensor } = loadOrt();
    for (const s of spec.state) {
      const dims = s.shape.map((d) => {
        if (typeof d !== 'number') throw new Error(`state ${s.input} needs a static shape`);
        return d;
      });
      const count = dims.reduce((a, b) => a * b, 1);
      const data = s.kind === 'param' ? initial[s.input] : dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      if (!data || data.length !== count) throw new Error(`initial value for ${s.input}: expected ${count} values`);
      this.state.set(s.input, new Tensor(dtype, data.slice(), dims));
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  /** The loss scale the next step uses (1 without dynamic loss scaling). */
  get lossScale(): number {
    return this.spec.lossScale ? this.scale : 1;
  }

  /** Steps skipped because their scaled gradients overflowed (dynamic loss scaling). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /**
   * One run on `batch`: an optimizer step, or with an accumulating graph one micro-batch whose
   * gradients are added up until a run with `apply` (default true) updates with their mean.
   * Returns the loss (NaN for an update-only graph, whose caller has it) and the gradient norm
   * when clipping and applying.
   */
  async step(batch: Record<string, Tensor>, lr: number, { apply = true }: { apply?: boolean } = {}): Promise<{ loss: number; gradNorm?: number }> {
    const { Tensor } = loadOrt();
    const scalar = (v: number): Tensor => new Tensor(this.dtype, this.dtype === 'float32' ? Float32Array.of(v) : Float64Array.of(v), []);
    const feeds: Record<string, Tensor> = { ...batch, [this.spec.lr]: scalar(lr) };
    if (this.spec.step) feeds[this.spec.step] = scalar(this.steps + 1);
    if (this.spec.lossScale) feeds[this.spec.lossScale] = scalar(this.scale);
    if (this.spec.apply && this.spec.microBatches) {
      feeds[this.spec.apply] = new Tensor('bool', Uint8Array.of(apply ? 1 : 0), []);
      feeds[this.spec.microBatches] = scalar(this.pendingMicroBatches + 1);
    } else if (!apply) {
      throw new Error('this training graph was built without gradient accumulation');
    }
    for (const [name, t] of this.state) feeds[name] = t;
    const out = await this.session.run(feeds);
    for (const s of this.spec.state) this.state.set(s.input, out[s.output]!);
    const gradNorm = this.spec.gradNorm ? Number((out[this.spec.gradNorm]!.data as Float)[0]) : undefined;
    // the graph left the state as it was after an overflow; the step does not count
    const overflowed = !!this.spec.lossScale && !Number.isFinite(gradNorm);
    if (this.spec.lossScale) this.adjustScale(overflowed);
    if (apply && !overflowed) {
      this.steps++;
      this.pendingMicroBatches = 0;
    } else if (!apply) {
      this.pendingMicroBatches++;
    }
    return { loss: this.spec.loss ? Number((out[this.spec.loss]!.data as Float)[0]) : Number.NaN, gradNorm };
  }

  private adjustScale(overflowed: boolean): void {
    if (overflowed) {
      this.skipped++;
      this.goodSteps = 0;
      this.scale = Math.max(this.scaling.min, this.scale / 2);
    } else if (++this.goodSteps >= this.scaling.growthInterval) {
      this.goodSteps = 0;
      this.scale *= 2;
    }
  }

  /** Every parameter and optimizer moment, for a checkpoint (with `stepCount`). */
  exportState(): Record<string, { shape: readonly number[]; data: Float }> {
    return Object.fromEntries([...this.state].map(([k, t]) => [k, { shape: t.dims, data: t.data as Float }]));
  }

  /** Resumes from `exportState()`'s values after `steps` optimizer steps. */
  restore(state: Record<string, Float>, steps: number): void {
    const { Tensor } = loadOrt();
    for (const [name, t] of this.state) {
      const data = state[name];
      if (!data || data.length !== t.size) throw new Error(`checkpoint: ${name} is missing or has the wrong size`);
      this.state.set(name, new Tensor(this.dtype, data.slice(), t.dims));
    }
    this.steps = steps;
  }

  saveState(): RunnerState {
    const tensors = Object.fromEntries(Object.entries(this.exportState()).map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
    return { tensors, steps: this.steps, scale: this.scale, goodSteps: this.goodSteps, skipped: this.skipped };
  }

  loadState(s: RunnerState): void {
    this.restore(Object.fromEntries(Object.entries(s.tensors).map(([k, t]) => [k, t.data])), s.steps);
    [this.scale, this.goodSteps, this.skipped, this.pendingMicroBatches] = [s.scale, s.goodSteps, s.skipped, 0];
  }

  /** Current value of a parameter (or moment). */
  get(name: string): Float {
    const t = this.state.get(name);
    if (!t) throw new Error(`no state named ${name}`);
    return t.data as Float;
  }
}
