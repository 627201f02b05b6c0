/**
 * Activation recomputation (model/recompute.ts + runtime/recompute.ts) against the one-graph
 * LoRA step: the same losses, gradient norms and parameters step by step — in float32 (a GQA
 * Llama with untied embeddings, and a Qwen2-style model with q/k/v biases and tied embeddings,
 * the head split into chunks), and in mixed precision with its loss scaling. Also: masked
 * positions only (a QA sample) skip head chunks without changing the result; rows of packed
 * samples, of a different length each step, train as the packed one-graph step does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Tensor } from 'onnxruntime-node';
import { packedFeeds } from '../../native/lift/learn';
import { chooseRecompute, estimateLearnMemory } from '../../native/lift/resources';
import { makeSample } from '../../native/lift/samples';
import type { LlamaConfig } from '../../native/model/config';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaTrainStep, type LoraConfig, type Precision } from '../../native/model/llama';
import { buildRecomputeStep, headChunk } from '../../native/model/recompute';
import type { LlamaWeights } from '../../native/model/weights';
import { loadOrt } from '../../native/runtime/ort';
import { RecomputeRunner, recomputeModels } from '../../native/runtime/recompute';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { relL2 } from '../helpers';

const { Tensor: T_ } = loadOrt();
const SEQ = 40;
const LORA: LoraConfig = { rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'] };

function batch(cfg: LlamaConfig, step: number, maskFrom = 0): Record<string, Tensor> {
  const ids = Array.from({ length: SEQ + 1 }, (_, i) => (i * 37 + step * 11 + 5) % cfg.vocabSize);
  return {
    input_ids: new T_('int64', BigInt64Array.from(ids.slice(0, SEQ), BigInt), [1, SEQ]),
    labels: new T_('int64', BigInt64Array.from(ids.slice(1), BigInt), [1, SEQ]),
    loss_mask: new T_('float32', Float32Array.from({ length: SEQ }, (_, i) => (i >= maskFrom ? 1 : 0)), [1, SEQ]),
  };
}

/** Step `step`'s row of packed samples (a segment-like one, then QA-like ones whose loss counts from the middle), shorter than SEQ. */
function packedRow(cfg: LlamaConfig, step: number): Record<string, Tensor> {
  const lengths = [[12, 9, 7], [20, 6], [5, 8, 9, 10], [33]][step % 4]!;
  const row = lengths.map((n, k) => {
    const all = Array.from({ length: n + 1 }, (_, i) => (i * 31 + k * 7 + step * 13 + 3) % cfg.vocabSize);
    return makeSample(all.slice(0, k === 0 ? 1 : n >> 1), all.slice(k === 0 ? 1 : n >> 1));
  });
  return packedFeeds([row], undefined, { weighting: 'sample' });
}

async function compare(cfg: LlamaConfig, weights: LlamaWeights, o: { precision: Precision; chunk?: number; steps: number; maskFrom?: number; tol: number; packed?: boolean; adapter?: LoraConfig }): Promise<void> {
  const lora = o.adapter ?? LORA;
  const one = buildLlamaTrainStep(cfg, weights, { seqLen: o.packed ? 'T' : SEQ, batch: 1, lora, seed: 3, precision: o.precision, packed: o.packed });
  const oneRunner = new TrainStepRunner((await createSession(one.model, 'cpu')).session, one.spec, one.params);
  const split = buildRecomputeStep(cfg, weights, { seqLen: SEQ, lora, seed: 3, precision: o.precision, chunk: o.chunk, packed: o.packed });
  assert.deepEqual(Object.keys(split.params), Object.keys(one.params), 'the same trainable tensors, in the same order');
  for (const k of Object.keys(one.params)) assert.deepEqual(split.params[k], one.params[k], `${k}: the same initial value`);
  const runner = await RecomputeRunner.create(recomputeModels(split, weights), 'cpu');
  try {
    for (let s = 0; s < o.steps; s++) {
      const lr = 5e-3;
      const feeds = (): Record<string, Tensor> => (o.packed ? packedRow(cfg, s) : batch(cfg, s, o.maskFrom));
      const a = await oneRunner.step(feeds(), lr);
      const b = await runner.step(feeds(), lr);
      assert.ok(Number.isFinite(b.loss), `step ${s}: loss ${b.loss}`);
      assert.ok(Math.abs(a.loss - b.loss) <= o.tol * Math.abs(a.loss), `step ${s}: loss ${b.loss} vs one graph ${a.loss}`);
      assert.ok(Math.abs(a.gradNorm! - b.gradNorm!) <= o.tol * 10 * a.gradNorm!, `step ${s}: grad norm ${b.gradNorm} vs ${a.gradNorm}`);
    }
    assert.equal(runner.stepCount, o.steps);
    for (const k of Object.keys(one.params)) {
      const err = relL2(runner.get(k), oneRunner.get(k));
      assert.ok(err <= o.tol * 100, `${k}: relative L2 ${err.toExponential(2)} from the one-graph step`);
    }
    // the step changed the adapter (a comparison of two untrained adapters would prove nothing)
    const b0 = Object.keys(one.params).find((k) => k.endsWith('lora_B') || k.endsWith('memory.W2'))!;
    assert.ok(runner.get(b0).some((v) => v !== 0), `${b0} moved away from zero`);
  } finally {
    await runner.release();
  }
}

describe('activation recomputation', () => {
  test('float32, GQA Llama with untied embeddings: same losses, gradient norms and adapter as one graph', async () => {
    const cfg = smallConfig({ hidden: 64, layers: 3, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: false });
    await compare(cfg, randomWeights(cfg, 7), { precision: 'float32', steps: 6, tol: 1e-5 });
  });

  test('float32, Qwen2-style biases and tied embeddings, the head in chunks of 16', async () => {
    const cfg: LlamaConfig = { ...smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 4, intermediate: 96, vocab: 256, tie: true }), attentionBias: true, modelType: 'qwen2' };
    await compare(cfg, randomWeights(cfg, 5), { precision: 'float32', chunk: 16, steps: 5, tol: 1e-5 });
  });

  test('a sample whose loss counts only at the end (QA) skips the chunks before it', async () => {
    const cfg = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: true });
    await compare(cfg, randomWeights(cfg, 9), { precision: 'float32', chunk: 8, maskFrom: 30, steps: 4, tol: 1e-5 });
  });

  test('mixed precision (float16 weights, loss scale 1024) matches the one-graph mixed-precision step', async () => {
    const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocab: 512, tie: true });
    await compare(cfg, randomWeights(cfg, 3, 0.05), { precision: 'float16', steps: 5, tol: 1e-4 });
  });

  test('rows of packed samples, a different length each step: the same steps as the packed one-graph step', async () => {
    const cfg = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: false });
    await compare(cfg, randomWeights(cfg, 11), { precision: 'float32', chunk: 8, steps: 6, tol: 1e-5, packed: true });
  });

  test('packed rows in mixed precision', async () => {
    const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocab: 512, tie: true });
    await compare(cfg, randomWeights(cfg, 3, 0.05), { precision: 'float16', steps: 4, tol: 1e-4, packed: true });
  });

  test('Gated Memory: packed rows in float32 and in mixed precision, as the one-graph step', async () => {
    const memory: LoraConfig = { ...LORA, kind: 'gated-memory' };
    const cfg = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: false });
    await compare(cfg, randomWeights(cfg, 11), { precision: 'float32', chunk: 8, steps: 5, tol: 1e-5, packed: true, adapter: memory });
    const half = smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocab: 512, tie: true });
    await compare(half, randomWeights(half, 3, 0.05), { precision: 'float16', steps: 4, tol: 1e-4, packed: true, adapter: memory });
  });

  test('the head chunk keeps its logits no larger than a layer\'s MLP activations', () => {
    const qwen05 = { ...smallConfig({ hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936 }) };
    assert.equal(headChunk(qwen05, 2048), 77);
    assert.equal(headChunk(qwen05, 64), 16);
    const tiny = smallConfig({ hidden: 256, layers: 4, heads: 4, intermediate: 688, vocab: 4096 });
    assert.equal(headChunk(tiny, 832), 191);
  });

  test('auto recomputes only when the one-graph step would not fit and the recomputing one does', () => {
    const smol = smallConfig({ hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152, maxPositions: 4096, tie: true });
    const shape = { seqLen: 1024, rank: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const };
    const full = estimateLearnMemory(smol, { ...shape, targets: [...shape.targets] }).total;
    const rec = estimateLearnMemory(smol, { ...shape, targets: [...shape.targets], recompute: true }).total;
    // lift bench recompute measured 9327 MB and 2232 MB peaks for this shape
    assert.ok(rec < 0.35 * full, `recomputing ${rec} vs ${full}`);
    const pick = (mode: 'auto' | 'on' | 'off', available: number): boolean => chooseRecompute(smol, { ...shape, targets: [...shape.targets] }, mode, available).recompute;
    assert.equal(pick('auto', full * 1.01), false, 'room for the one-graph step: no recomputation');
    assert.equal(pick('auto', (full + rec) / 2), true, 'room only for the recomputing step');
    assert.equal(pick('auto', rec / 2), true, 'room for neither: the smaller estimate (for the refusal)');
    assert.equal(pick('off', rec * 1.01), false);
    assert.equal(pick('on', full * 10), true);
  });
});
