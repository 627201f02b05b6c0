/**
 * The CPU's fused decoding graph (model/fusedDecode.ts: GroupQueryAttention, RMS norm kernels,
 * grouped linears and LoRA pairs) against the PyTorch reference fixtures and against the plain
 * decoding graph: base and LoRA logits, Gated Memory, the KV cache, quantized weights (the output
 * projection included, from and into the quantization cache), and the grouped adapter layout.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { buildFusedGenerate, decodingGraph, fusedDecodingFits, groupLoraFeeds, groupLoraName } from '../../native/model/fusedDecode';
import { buildLlamaGenerate, loraName, MEMORY_PARTS, memoryName, memoryShapes } from '../../native/model/llama';
import { onnx } from 'onnx-proto';
import type { BlockQuantized } from '../../native/model/quantize';
import { SafetensorsFile } from '../../native/model/safetensors';
import type { LlamaConfig } from '../../native/model/config';
import { randomWeights, smallConfig } from '../../native/model/init';
import { LINEAR_TARGETS, linearShape, type LlamaWeights, loadModel } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import type { Tensor } from 'onnxruntime-node';
import { createSession } from '../../native/runtime/session';
import { repoRoot } from '../helpers';

const FIXTURES = path.join(repoRoot, 'test/reference/fixtures');

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const argmax = (x: Float32Array): number => x.indexOf(Math.max(...x));
/** A seeded generator of values in [−0.5, 0.5). */
const seeded = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;

async function generator(graph: ReturnType<typeof buildLlamaGenerate>, cfg: Parameters<typeof buildLlamaGenerate>[0]): Promise<Generator> {
  return new Generator((await createSession(graph.model, 'cpu')).session, cfg, graph.loraTargets, graph.memory, graph.fused);
}

// the CPU kernel wants head sizes in multiples of 16: of the PyTorch fixtures, the Gated Memory Qwen2 one has them
describe('fused decoding vs PyTorch (Qwen2: biases, tied embeddings, grouped heads; head size 16)', () => {
  const { config: cfg, weights } = loadModel(path.join(FIXTURES, 'gm-qwen2-tied-bias'));
  const file = SafetensorsFile.open(path.join(FIXTURES, 'gm-qwen2-tied-bias', 'expected.safetensors'));
  const exp = (t: string): Float32Array => file.readFloat32(t).data;
  const ids = Array.from(exp('input_ids'), Math.round);
  const [T, V] = [ids.length, cfg.vocabSize];
  const last = (t: string): Float32Array => exp(t).subarray((T - 1) * V, T * V);

  test('the base model\'s and the trained Gated Memory\'s last logits after prefill', async () => {
    assert.ok(fusedDecodingFits(cfg));
    const fused = await generator(buildFusedGenerate(cfg, weights, undefined, undefined, true), cfg);
    assert.ok(maxAbs((await fused.step(ids, 0)).logits, last('base_logits')) <= 1e-4, 'base logits');
    const tensors = Object.fromEntries(weights.layers.flatMap((_, i) => MEMORY_PARTS.map((p) => [memoryName(i, p), exp(memoryName(i, p))])));
    fused.setAdapter({ kind: 'gated-memory', rank: 0, alpha: 0, tensors });
    assert.ok(maxAbs((await fused.step(ids, 0)).logits, last('logits')) <= 1e-4, 'Gated Memory logits');
    await fused.release();
  });
});

/** Seeded random models of the architectures the fused graph must serve, head size 16 (the plain graph is the one checked against PyTorch). */
function shapes(): [string, LlamaConfig, LlamaWeights][] {
  const base = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96, vocab: 300, maxPositions: 64 });
  const perturbed = (cfg: LlamaConfig, seed: number): LlamaWeights => {
    const w = randomWeights(cfg, seed, 0.08);
    const rnd = seeded(seed);
    for (const l of w.layers) {
      for (const n of [l.inputNorm, l.postNorm]) n.data.forEach((_, i) => (n.data[i] = 1 + rnd()));
      for (const b of Object.values(l.bias ?? {})) b.data.forEach((_, i) => (b.data[i] = rnd()));
    }
    return w;
  };
  const qwen2: LlamaConfig = { ...base, modelType: 'qwen2', attentionBias: true, numKvHeads: 1, tieEmbeddings: true };
  const llama3: LlamaConfig = { ...base, numKvHeads: 4, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 } };
  return [
    ['Llama, grouped heads', base, perturbed(base, 1)],
    ['Qwen2, biases and tied embeddings', qwen2, perturbed(qwen2, 2)],
    ['Llama 3 RoPE scaling', llama3, perturbed(llama3, 3)],
  ];
}

/** The first `n` positions of a cache buffer [1, heads, room, headDim], as [1, heads, n, headDim]. */
function positionsOf(t: Tensor, n: number): Float32Array {
  const [, heads, room, hd] = t.dims as number[];
  const data = t.data as Float32Array;
  const out = new Float32Array(heads! * n * hd!);
  for (let h = 0; h < heads!; h++) out.set(data.subarray(h * room! * hd!, (h * room! + n) * hd!), h * n * hd!);
  return out;
}

for (const [name, cfg, weights] of shapes()) {
  test(`fused decoding as the plain graph: ${name}, base and LoRA, step by step with the KV cache`, async () => {
    const rnd = seeded(5);
    const tensors: Record<string, Float32Array> = {};
    // every target but k_proj (a group with a member missing), rank 3
    for (let i = 0; i < cfg.numLayers; i++) {
      for (const t of LINEAR_TARGETS.filter((t) => t !== 'k_proj')) {
        const [out, inF] = linearShape(cfg, t);
        tensors[loraName(i, t, 'A')] = Float32Array.from({ length: 3 * inF }, rnd);
        tensors[loraName(i, t, 'B')] = Float32Array.from({ length: out * 3 }, rnd);
      }
    }
    const fused = await generator(buildFusedGenerate(cfg, weights), cfg);
    const plain = await generator(buildLlamaGenerate(cfg, weights), cfg);
    const ids = [5, 17, 33, 2, 9, 41, 7, 12, 250, 3];
    for (const adapter of [undefined, { rank: 3, alpha: 5, tensors }]) {
      fused.setAdapter(adapter);
      plain.setAdapter(adapter);
      let a = await fused.step(ids, 0);
      let b = await plain.step(ids, 0);
      for (let s = 0; s < 6; s++) {
        assert.ok(maxAbs(a.logits, b.logits) <= 1e-4, `${adapter ? 'LoRA' : 'base'}, step ${s}: logits`);
        const next = argmax(b.logits);
        a = await fused.step([next], ids.length + s, a.cache);
        b = await plain.step([next], ids.length + s, b.cache);
        // the fused cache has room to spare (grown by doubling, 10 -> 20 positions); the plain graph's is exactly the positions so far
        assert.equal(a.cache.present_key_1!.dims[2], 20);
        for (const name of ['present_key_1', 'present_value_0']) assert.ok(maxAbs(positionsOf(a.cache[name]!, ids.length + s + 1), b.cache[name]!.data as Float32Array) <= 1e-5, `step ${s}: ${name}`);
      }
      // generation makes one buffer with room for all of it; the plain graph grows the cache
      const [x, y] = [await fused.generate(ids, { maxTokens: 12 }), await plain.generate(ids, { maxTokens: 12 })];
      assert.deepEqual([x.tokens, x.stop], [y.tokens, y.stop]);
      // each token's log-probability, as the two graphs' float sums differ in their last digits
      assert.equal(x.logprobs.length, y.logprobs.length);
      assert.ok(maxAbs(x.logprobs, y.logprobs) <= 1e-5, `${adapter ? 'LoRA' : 'base'}: log-probabilities`);
    }
    // generation stops at the model's last position (positions 61, 62 and 63 run; the last step predicts a 4th token); a longer prompt is refused
    const long = await fused.generate(Array.from({ length: cfg.maxPositions - 3 }, (_, i) => i % 200), { maxTokens: 20 });
    assert.deepEqual([long.tokens.length, long.stop], [4, 'max-tokens']);
    await assert.rejects(fused.generate(Array.from({ length: cfg.maxPositions + 1 }, () => 1), { maxTokens: 2 }), /longer than the model's 64 positions/);
    await Promise.all([fused.release(), plain.release()]);
  });
}

describe('fused decoding graph', () => {
  const [, cfg, weights] = shapes()[0]!;

  test('is a fraction of the plain graph\'s nodes', () => {
    const nodes = (g: ReturnType<typeof buildLlamaGenerate>) => onnx.ModelProto.decode(g.model.bytes).graph!.node!;
    const fused = nodes(buildFusedGenerate(cfg, weights));
    const plain = nodes(buildLlamaGenerate(cfg, weights));
    assert.equal(fused.filter((n) => n.opType === 'GroupQueryAttention').length, cfg.numLayers);
    assert.ok(fused.length * 2.5 < plain.length, `${fused.length} nodes against ${plain.length}`);
  });

  test('Gated Memory: the plain memory graph\'s logits and gates', async () => {
    const gm = loadModel(path.join(FIXTURES, 'gm-qwen2-tied-bias'));
    const rnd = seeded(3);
    const shapes = memoryShapes(gm.config);
    const tensors = Object.fromEntries(
      gm.weights.layers.flatMap((_, i) => MEMORY_PARTS.map((p) => [memoryName(i, p), Float32Array.from({ length: shapes[p].reduce((a, b) => a * b, 1) }, rnd)])),
    );
    const fused = await generator(buildFusedGenerate(gm.config, gm.weights, undefined, undefined, true), gm.config);
    const plain = await generator(buildLlamaGenerate(gm.config, gm.weights, undefined, 'float32', undefined, undefined, true), gm.config);
    const prompt = [3, 1, 4, 1, 5, 9, 2, 6];
    for (const g of [fused, plain]) g.setAdapter({ kind: 'gated-memory', rank: 0, alpha: 0, tensors });
    assert.ok(maxAbs((await fused.step(prompt, 0)).logits, (await plain.step(prompt, 0)).logits) <= 1e-4);
    const [ga, gb] = [fused.gateAverages()!, plain.gateAverages()!];
    assert.ok(maxAbs(ga, gb) <= 1e-6, `gates ${ga} against ${gb}`);
    assert.deepEqual((await fused.generate(prompt, { maxTokens: 8 })).tokens, (await plain.generate(prompt, { maxTokens: 8 })).tokens);
    await Promise.all([fused.release(), plain.release()]);
  });

  test('8 and 4 bits: the output projection is quantized too, through the cache, and answers near float32', async () => {
    const float = await generator(buildFusedGenerate(cfg, weights), cfg);
    const ids = [5, 17, 33, 2, 9, 41, 7, 12];
    const reference = (await float.step(ids, 0)).logits;
    const scale = Math.max(...Array.from(reference, Math.abs));
    for (const [bits, tolerance] of [[8, 0.05], [4, 0.3]] as const) {
      const cache = new Map<string, BlockQuantized>();
      const graph = decodingGraph(cfg, weights, { cpu: true, bits, quantized: cache });
      assert.ok(graph.fused);
      assert.ok(cache.has(weights.lmHead?.name ?? weights.embed.name), 'the output projection went into the cache');
      assert.equal(cache.size, cfg.numLayers * 7 + 1);
      const q = await generator(graph, cfg);
      const err = maxAbs((await q.step(ids, 0)).logits, reference) / scale;
      assert.ok(err <= tolerance, `${bits} bits: relative error ${err}`);
      // built again from the cache alone: the same graph, nothing quantized anew
      const marked = new Map([...cache].map(([k, v]) => [k, { ...v, scales: v.scales.map((s) => s * 2) }]));
      const again = await generator(decodingGraph(cfg, weights, { cpu: true, bits, quantized: marked }), cfg);
      assert.notEqual(maxAbs((await again.step(ids, 0)).logits, (await q.step(ids, 0)).logits), 0, 'the cached (doubled) scales were used');
      await Promise.all([q.release(), again.release()]);
    }
    await float.release();
  });

  test('GPU precision or an odd head size get the plain graph', () => {
    assert.ok(!decodingGraph(cfg, weights, { cpu: false }).fused);
    assert.ok(!decodingGraph(cfg, weights, { cpu: true, precision: 'float16' }).fused);
    assert.ok(!fusedDecodingFits({ ...cfg, headDim: 12 }));
    assert.throws(() => buildFusedGenerate({ ...cfg, headDim: 12 }, weights), /multiple of 16/);
  });

  test('grouped LoRA inputs: transposed, scaled, block-diagonal; a target the adapter lacks is zero', () => {
    const r = 2;
    const rnd = seeded(9);
    const tensors: Record<string, Float32Array> = {};
    for (const t of ['q_proj', 'v_proj'] as const) {
      const [out, inF] = linearShape(cfg, t);
      tensors[loraName(0, t, 'A')] = Float32Array.from({ length: r * inF }, rnd);
      tensors[loraName(0, t, 'B')] = Float32Array.from({ length: out * r }, rnd);
    }
    const feeds = groupLoraFeeds(cfg, { rank: r, alpha: 6, tensors }, loraName);
    const [qOut, inF] = linearShape(cfg, 'q_proj');
    const [kOut] = linearShape(cfg, 'k_proj');
    const At = feeds[groupLoraName(0, 'qkv', 'At')]!;
    const Bt = feeds[groupLoraName(0, 'qkv', 'Bt')]!;
    const N = qOut + 2 * kOut;
    assert.deepEqual([At.dims, Bt.dims], [[inF, 3 * r], [3 * r, N]]);
    // v_proj is the third member: its A rows at columns 2r…3r−1, its B (× alpha/rank = 3) after q and k's columns
    const A = tensors[loraName(0, 'v_proj', 'A')]!;
    const B = tensors[loraName(0, 'v_proj', 'B')]!;
    assert.equal(At.data[5 * 3 * r + 2 * r + 1], A[1 * inF + 5]);
    assert.ok(Math.abs(Bt.data[(2 * r + 1) * N + qOut + kOut + 4]! - 3 * B[4 * r + 1]!) < 1e-6);
    // k_proj is absent: its columns and rows are zero; nothing crosses between members
    for (let d = 0; d < inF; d++) for (let k = 0; k < r; k++) assert.equal(At.data[d * 3 * r + r + k], 0);
    for (let k = 0; k < r; k++) for (let n = qOut; n < N; n++) assert.equal(Bt.data[k * N + n], 0);
    assert.throws(() => groupLoraFeeds(cfg, { rank: 3, alpha: 6, tensors }, loraName), /does not fit rank 3/);
  });
});
