/**
 * Runs a recomputing LoRA step (model/recompute.ts) on three sessions: a forward sweep through
 * the layer session keeping only each layer's input, the head over chunks of positions, a
 * backward sweep that recomputes each layer and takes its vector-Jacobian product, then the
 * update. Same interface as TrainStepRunner, so learning can use either.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { layerParts, type RecomputeGraphs } from '../model/recompute';
import { fromHalfBits, toHalfBits } from '../model/safetensors';
import type { Weight } from '../model/weights';
import type { EncodedModel } from '../onnx/model';
import { gradInput } from '../onnx/train';
import { loadOrt } from './ort';
import { createSession, type Device, type Provider, type RunnerState, type StepRunner, TrainStepRunner } from './session';

/** What the runner needs: the three graphs (built, or ONNX files by path) and how to read them. */
export type RecomputeModels = Pick<RecomputeGraphs, 'params' | 'shapes' | 'seqLen' | 'chunk' | 'precision' | 'lora'> & {
  /** The layer graph takes packed rows (RecomputeGraphs' `packed`; default false). */
  packed?: boolean;
  layer: EncodedModel | string;
  head: EncodedModel | string;
  update: { model: EncodedModel | string; spec: RecomputeGraphs['update']['spec'] };
  numLayers: number;
  /** The token embeddings (the runner looks them up: [vocab, hidden]). */
  embed: Weight;
};

/** A built RecomputeGraphs with the weights' embedding table and layer count. */
export const recomputeModels = (graphs: RecomputeGraphs, weights: { embed: Weight; layers: readonly unknown[] }): RecomputeModels => ({ ...graphs, numLayers: weights.layers.length, embed: weights.embed });

export class RecomputeRunner implements StepRunner {
  private constructor(
    private readonly layer: InferenceSession,
    private readonly head: InferenceSession,
    private readonly update: TrainStepRunner,
    private readonly sessions: InferenceSession[],
    private readonly graphs: RecomputeModels,
    /** Where the three sessions run. */
    readonly provider: Provider,
  ) {}

  /** Creates the three sessions (the head and update on whatever provider the layer session got). */
  static async create(graphs: RecomputeModels, device: Device, o: { threads?: number; initial?: Record<string, Float32Array> } = {}): Promise<RecomputeRunner> {
    // three sessions run in turn: idle threads of one must not spin while another computes (default model's shape, 512 tokens, 2 cores: 205–211 ms a step without spinning, 257–293 ms with it; no difference seen at 2048 tokens or for a SmolLM-135M shape)
    const spin = { extra: { session: { 'intra_op.allow_spinning': '0' } } };
    const layer = await createSession(graphs.layer, device, { threads: o.threads, ...spin });
    const sessions = [layer.session];
    try {
      const head = await createSession(graphs.head, layer.provider, { threads: o.threads, ...spin });
      sessions.push(head.session);
      const update = await createSession(graphs.update.model, layer.provider, { threads: o.threads, ...spin });
      sessions.push(update.session);
      const runner = new TrainStepRunner(update.session, graphs.update.spec, o.initial ?? graphs.params);
      return new RecomputeRunner(layer.session, head.session, runner, sessions, graphs, layer.provider);
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      throw err;
    }
  }

  get stepCount(): number {
    return this.update.stepCount;
  }

  get skippedSteps(): number {
    return this.update.skippedSteps;
  }

  // the update graph holds every trained parameter and moment
  saveState(): RunnerState {
    return this.update.saveState();
  }

  loadState(s: RunnerState): void {
    this.update.loadState(s);
  }

  /**
   * One optimizer step on one row: `batch` has `input_ids`, `labels`, `loss_mask`, each [1, T]:
   * for graphs of packed rows any T up to seqLen, with `position_ids` and `segment_ids`
   * (packedFeeds; without them the row is one sample); else T = seqLen.
   */
  async step(batch: Record<string, Tensor>, lr: number): Promise<{ loss: number; gradNorm?: number }> {
    const { Tensor } = loadOrt();
    const { chunk, lora } = this.graphs;
    const lossScale = this.update.lossScale;
    const D = this.graphs.embed.shape[1]!;
    const N = this.graphs.numLayers;
    const ids = batch.input_ids!.data as BigInt64Array;
    const labels = batch.labels!.data as BigInt64Array;
    const mask = batch.loss_mask!.data as Float32Array;
    const T = ids.length;
    const packed = !!this.graphs.packed;
    if (batch.input_ids!.dims[0] !== 1 || T > this.graphs.seqLen || (!packed && T !== this.graphs.seqLen)) {
      throw new RangeError(`recomputation takes one row of ${packed ? 'at most ' : ''}${this.graphs.seqLen} positions, not [${batch.input_ids!.dims.join(', ')}]`);
    }
    if (!packed && (batch.position_ids || batch.segment_ids)) throw new Error('these recomputation graphs were built for rows of one sample (build them with `packed`)');
    const row: Record<string, Tensor> = packed
      ? {
          position_ids: batch.position_ids ?? new Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
          segment_ids: batch.segment_ids ?? new Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
        }
      : {};
    const zeros = new Tensor('float32', new Float32Array(T * D), [1, T, D]);
    const hiddenTensor = (data: Float32Array, len = T): Tensor => new Tensor('float32', data, [1, len, D]);
    const index = (i: number): Tensor => new Tensor('int64', BigInt64Array.of(BigInt(i)), []);
    const flag = (b: boolean): Tensor => new Tensor('bool', Uint8Array.of(b ? 1 : 0), []);
    const parts = layerParts(lora);
    const loraFeeds = (i: number): Record<string, Tensor> =>
      Object.fromEntries(parts.map((p) => [p.input, new Tensor('float32', this.update.get(p.name(i)) as Float32Array, this.graphs.shapes[p.name(i)]!)]));

    // forward: keep each layer's input (the embeddings first)
    const inputs: Float32Array[] = [this.embed(ids)];
    for (let i = 0; i < N; i++) {
      const out = await this.layer.run({ hidden: hiddenTensor(inputs[i]!), layer: index(i), backward: flag(false), grad_out: zeros, ...row, ...loraFeeds(i) });
      inputs.push(out.hidden_out!.data as Float32Array);
    }

    // the head, a chunk at a time; chunks with no masked position add nothing
    let count = 0;
    for (const m of mask) count += m;
    count = Math.max(1, count);
    const last = inputs[N]!;
    let grad: Float32Array = new Float32Array(T * D);
    let lossSum = 0;
    for (let c0 = 0; c0 < T; c0 += chunk) {
      const c1 = Math.min(T, c0 + chunk);
      if (!mask.subarray(c0, c1).some((m) => m !== 0)) continue;
      const out = await this.head.run({
        hidden: hiddenTensor(last.slice(c0 * D, c1 * D), c1 - c0),
        labels: new Tensor('int64', labels.slice(c0, c1), [1, c1 - c0]),
        loss_mask: new Tensor('float32', mask.slice(c0, c1), [1, c1 - c0]),
        loss_weight: new Tensor('float32', Float32Array.of(lossScale / count), []),
      });
      lossSum += (out.loss_sum!.data as Float32Array)[0]!;
      grad.set(out.grad_hidden!.data as Float32Array, c0 * D);
    }

    // backward: recompute each layer from its input and take its vector-Jacobian product
    const grads: Record<string, Tensor> = {};
    for (let i = N - 1; i >= 0; i--) {
      const out = await this.layer.run({ hidden: hiddenTensor(inputs[i]!), layer: index(i), backward: flag(true), grad_out: hiddenTensor(grad), ...row, ...loraFeeds(i) });
      for (const p of parts) grads[gradInput(p.name(i))] = out[p.grad]!;
      grad = out.grad_in!.data as Float32Array;
    }
    const { gradNorm } = await this.update.step(grads, lr);
    return { loss: lossSum / count, gradNorm };
  }

  /** Embedding rows for the ids (through half precision when the graphs store weights in it, as the one-graph step does). */
  private embed(ids: BigInt64Array): Float32Array {
    const { data, shape } = this.graphs.embed;
    const D = shape[1]!;
    const out = new Float32Array(ids.length * D);
    ids.forEach((id, t) => out.set(data.subarray(Number(id) * D, (Number(id) + 1) * D), t * D));
    return this.graphs.precision === 'float16' ? fromHalfBits(toHalfBits(out), out) : out;
  }

  /** Current value of a parameter (or moment). */
  get(name: string): Float32Array | Float64Array {
    return this.update.get(name);
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
