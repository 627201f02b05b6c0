/**
 * Text generation on a Llama-family decoding graph (model/llama.ts): prefill, then one token per
 * step with the KV cache; greedy or temperature/top-p sampling, stop tokens, a token limit,
 * streaming and cancellation between steps. The adapter (LoRA or, where the graph has it, Gated
 * Memory) is passed as inputs, so a freshly trained one answers at once without rebuilding the graph.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { LlamaConfig } from '../model/config';
import { type AdapterKind, adapterKind, loraName, MEMORY_PARTS, memoryName, memoryShapes } from '../model/llama';
import { groupLoraFeeds, newCacheName } from '../model/fusedDecode';
import { linearShape, type LinearTarget } from '../model/weights';
import { loadOrt } from './ort';

export interface Adapter {
  /** Default LoRA. */
  kind?: AdapterKind;
  rank: number;
  alpha: number;
  /** LoRA: `layers.{i}.{target}.lora_A` [r, in] and `…lora_B` [out, r] (PEFT's layout); Gated Memory: `layers.{i}.memory.{W1,W2,U,w}`. */
  tensors: Record<string, Float32Array>;
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0 (default): greedy. */
  temperature?: number;
  topP?: number;
  stopTokens?: readonly number[];
  seed?: number;
  onToken?: (id: number) => void;
  /** Checked between steps. */
  isCancelled?: () => boolean;
}

export interface GenerateResult {
  tokens: number[];
  /** Each token's log-probability under the model (at temperature 1): how sure it was. */
  logprobs: number[];
  stop: 'stop-token' | 'max-tokens' | 'cancelled';
}

export class Generator {
  private loraFeeds: Record<string, Tensor> = {};
  /** Σ over positions of each layer's mean gate, and the positions counted (Gated Memory adapters only). */
  private gateSums: number[] = [];
  private gatePositions = 0;
  /** Whether a Gated Memory adapter answers. */
  private gated = false;

  constructor(
    private readonly session: InferenceSession,
    private readonly cfg: LlamaConfig,
    private readonly loraTargets: readonly LinearTarget[],
    /** Whether the graph takes Gated Memory tensors (buildLlamaGenerate's `memory`). */
    readonly memory = false,
    /** Whether the graph is fusedDecode.ts's, which takes LoRA pairs per group of linears. */
    private readonly fused = false,
  ) {
    this.setAdapter(undefined);
  }

  /** Uses `adapter` from the next call on; undefined: the base model (rank-1 zero pairs; zero memory, which is the base model exactly). */
  setAdapter(adapter: Adapter | undefined): void {
    const { Tensor } = loadOrt();
    const feeds: Record<string, Tensor> = {};
    const gated = adapter !== undefined && adapterKind(adapter) === 'gated-memory';
    if (gated && !this.memory) throw new Error('this model was loaded without Gated Memory inputs: it cannot answer with a Gated Memory adapter');
    const lora = adapter && !gated ? adapter : undefined;
    const r = lora?.rank ?? 1;
    if (this.fused) for (const [name, t] of Object.entries(groupLoraFeeds(this.cfg, lora, loraName))) feeds[name] = new Tensor('float32', t.data, t.dims);
    else feeds.lora_scale = new Tensor('float32', Float32Array.of(lora ? lora.alpha / lora.rank : 0), []);
    for (let i = 0; i < this.cfg.numLayers && !this.fused; i++) {
      for (const t of this.loraTargets) {
        const [out, inF] = linearShape(this.cfg, t);
        const [a, b] = [loraName(i, t, 'A'), loraName(i, t, 'B')];
        const A = lora?.tensors[a] ?? new Float32Array(r * inF);
        const B = lora?.tensors[b] ?? new Float32Array(out * r);
        if (A.length !== r * inF || B.length !== out * r) throw new Error(`adapter tensor ${a}/${b} does not fit rank ${r} and this model`);
        feeds[a] = new Tensor('float32', A, [r, inF]);
        feeds[b] = new Tensor('float32', B, [out, r]);
      }
    }
    this.gated = gated;
    if (this.memory) {
      const shapes = memoryShapes(this.cfg);
      for (let i = 0; i < this.cfg.numLayers; i++) {
        for (const p of MEMORY_PARTS) {
          const shape = shapes[p];
          const n = shape.reduce((a, b) => a * b, 1);
          const data = gated ? adapter.tensors[memoryName(i, p)] : new Float32Array(n);
          if (data?.length !== n) throw new Error(`adapter tensor ${memoryName(i, p)} is missing or does not fit this model`);
          feeds[memoryName(i, p)] = new Tensor('float32', data, [...shape]);
        }
      }
    }
    this.loraFeeds = feeds;
    this.resetGates();
  }

  /** Starts counting gates afresh. */
  resetGates(): void {
    this.gateSums = Array.from({ length: this.cfg.numLayers }, () => 0);
    this.gatePositions = 0;
  }

  /** Each layer's mean gate over every position run since resetGates/setAdapter (how much the answers drew on memory); undefined without a Gated Memory adapter or positions. */
  gateAverages(): number[] | undefined {
    if (!this.gated || this.gatePositions === 0) return undefined;
    return this.gateSums.map((s) => s / this.gatePositions);
  }

  /**
   * Logits of the last position after running `ids` at `start…` on top of `cache` (none:
   * prefill). The plain graph returns the grown cache; with the fused graph the cache is one
   * buffer per layer with room to spare (roomyCache), read by the step and extended here with
   * the positions it wrote, made larger first where `ids` would not fit.
   */
  async step(ids: readonly number[], start: number, cache?: Record<string, Tensor>): Promise<{ logits: Float32Array; cache: Record<string, Tensor> }> {
    const { Tensor } = loadOrt();
    const { numLayers, numKvHeads, headDim } = this.cfg;
    if (this.fused) cache = this.withRoom(cache, start + ids.length);
    const feeds: Record<string, Tensor> = {
      ...this.loraFeeds,
      input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      positions: new Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(start + i)), [ids.length]),
    };
    for (let i = 0; i < numLayers; i++) {
      feeds[`past_key_${i}`] = cache?.[`present_key_${i}`] ?? new Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]);
      feeds[`past_value_${i}`] = cache?.[`present_value_${i}`] ?? new Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]);
    }
    const out = await this.session.run(feeds);
    if (this.memory) {
      for (let i = 0; i < numLayers; i++) this.gateSums[i]! += (out[`gate_${i}`]!.data as Float32Array)[0]! * ids.length;
      this.gatePositions += ids.length;
    }
    if (!this.fused) return { logits: out.logits!.data as Float32Array, cache: out };
    for (let i = 0; i < numLayers; i++) {
      for (const kind of ['key', 'value'] as const) {
        copyPositions(out[newCacheName(kind, i)]!, cache![`present_${kind}_${i}`]!, start);
      }
    }
    return { logits: out.logits!.data as Float32Array, cache: cache! };
  }

  /** Frees the session (the generator is unusable afterwards). */
  release(): Promise<void> {
    return this.session.release();
  }

  /** The fused graph's cache for up to `room` positions: one zeroed key and value buffer per layer, under the names the plain graph's cache has. */
  roomyCache(room: number): Record<string, Tensor> {
    const { Tensor } = loadOrt();
    const { numLayers, numKvHeads, headDim } = this.cfg;
    const cache: Record<string, Tensor> = {};
    for (let i = 0; i < numLayers; i++) {
      for (const kind of ['key', 'value']) cache[`present_${kind}_${i}`] = new Tensor('float32', new Float32Array(numKvHeads * room * headDim), [1, numKvHeads, room, headDim]);
    }
    return cache;
  }

  /** `cache` (none: empty) with room for `positions`: itself where they fit, else a copy in larger buffers. */
  private withRoom(cache: Record<string, Tensor> | undefined, positions: number): Record<string, Tensor> {
    const room = cache?.present_key_0?.dims[2] ?? 0;
    if (cache && positions <= room) return cache;
    const larger = this.roomyCache(Math.max(positions, Math.min(2 * room, this.cfg.maxPositions)));
    for (const [name, t] of Object.entries(cache ?? {})) copyPositions(t, larger[name]!, 0);
    return larger;
  }

  /**
   * Generates after `prompt`. With the fused graph the cache is one buffer of room for the prompt
   * and `maxTokens` (at most the model's positions, where generation then stops), extended each
   * step; else each step returns the grown cache.
   */
  async generate(prompt: readonly number[], o: GenerateOptions): Promise<GenerateResult> {
    if (prompt.length === 0) throw new Error('generate: the prompt is empty');
    const room = this.fused ? Math.min(prompt.length + o.maxTokens, this.cfg.maxPositions) : Infinity;
    if (prompt.length > room) throw new Error(`generate: the prompt (${prompt.length} tokens) is longer than the model's ${this.cfg.maxPositions} positions`);
    const tokens: number[] = [];
    const logprobs: number[] = [];
    const pick = sampler(o);
    let { logits, cache } = await this.step(prompt, 0, this.fused ? this.roomyCache(room) : undefined);
    for (;;) {
      if (o.isCancelled?.()) return { tokens, logprobs, stop: 'cancelled' };
      const next = pick(logits);
      if (o.stopTokens?.includes(next)) return { tokens, logprobs, stop: 'stop-token' };
      tokens.push(next);
      logprobs.push(logProbability(logits, next));
      o.onToken?.(next);
      const position = prompt.length + tokens.length - 1;
      if (tokens.length >= o.maxTokens || position >= room) return { tokens, logprobs, stop: 'max-tokens' };
      ({ logits, cache } = await this.step([next], position, cache));
    }
  }
}

/** log softmax(logits)[id]. */
export function logProbability(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(sum);
}

/** Copies every position of a cache tensor [1, heads, n, headDim] into one with more room, [1, heads, room, headDim], from position `at`. */
function copyPositions(from: Tensor, to: Tensor, at: number): void {
  const [, heads, n, headDim] = from.dims as number[];
  const room = to.dims[2]!;
  const src = from.data as Float32Array;
  for (let h = 0; h < heads!; h++) (to.data as Float32Array).set(src.subarray(h * n! * headDim!, (h + 1) * n! * headDim!), (h * room + at) * headDim!);
}

/** Greedy (temperature 0) or temperature + nucleus (top-p) sampling with a seeded generator. */
export function sampler(o: { temperature?: number; topP?: number; seed?: number }): (logits: Float32Array) => number {
  const temperature = o.temperature ?? 0;
  const topP = o.topP ?? 1;
  let s = (o.seed ?? 1) >>> 0 || 1;
  const random = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return (logits) => {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    if (temperature <= 0) return best;
    const max = logits[best]!;
    const probs = Array.from(logits, (l, i) => ({ i, p: Math.exp((l - max) / temperature) }));
    const total = probs.reduce((a, x) => a + x.p, 0);
    probs.sort((a, b) => b.p - a.p);
    const kept: typeof probs = [];
    let mass = 0;
    for (const x of probs) {
      kept.push(x);
      mass += x.p / total;
      if (mass >= topP) break;
    }
    let r = random() * kept.reduce((a, x) => a + x.p, 0);
    for (const x of kept) {
      r -= x.p;
      if (r <= 0) return x.i;
    }
    return kept[kept.length - 1]!.i;
  };
}
