/**
 * Mixed precision (the GPU path's half-precision variant), checked on the CPU against float32:
 * weight matrices stored and multiplied in float16, everything else float32 (norms, softmax,
 * the loss, the LoRA parameters and optimizer state); dynamic loss scaling for the backward pass
 * (starting at 1024; its halving and growth are tested in test/engine/train.test.ts).
 * Tolerances: logits within 1% of their largest magnitude; training losses within 1% of the
 * float32 run at every step; the learned LoRA parameters within 5% (relative L2). On the CPU,
 * ONNX Runtime may run a half-precision MatMul in float32 (it inserts casts where it has no
 * float16 kernel), so this checks the graphs, the rounding of weights and activations to half
 * precision and the loss scaling, not half-precision accumulation, which only a GPU run shows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Tensor } from 'onnxruntime-node';
import { defaultModelDir } from '../../native/model/default';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaGenerate, buildLlamaTrainStep, type Precision } from '../../native/model/llama';
import { floatToHalf, fromHalfBits, halfToFloat, toHalfBits } from '../../native/model/safetensors';
import { loadModel } from '../../native/model/weights';
import { loadOrt } from '../../native/runtime/ort';
import { Generator } from '../../native/runtime/generate';
import { createSession, TrainStepRunner } from '../../native/runtime/session';

const { Tensor: T_ } = loadOrt();
const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocab: 512, tie: true });
// random weights are not representable in half precision: rounding them is part of what is measured
const weights = randomWeights(cfg, 3, 0.05);
const SEQ = 32;
const ids = Array.from({ length: SEQ }, (_, i) => (i * 37 + 11) % cfg.vocabSize);

/** The batch every training test uses: the ids, each next one as its label, every position counted. */
const batch = (): Record<string, Tensor> => ({
  input_ids: new T_('int64', BigInt64Array.from(ids, BigInt), [1, SEQ]),
  labels: new T_('int64', BigInt64Array.from([...ids.slice(1), 0], BigInt), [1, SEQ]),
  loss_mask: new T_('float32', new Float32Array(SEQ).fill(1), [1, SEQ]),
});

const externalBytes = (m: { externalData?: { data: Uint8Array }[] }): number => (m.externalData ?? []).reduce((a, e) => a + e.data.byteLength, 0);

async function prefillLogits(precision: Precision): Promise<{ logits: Float32Array; bytes: number }> {
  const g = buildLlamaGenerate(cfg, weights, ['q_proj', 'v_proj'], precision);
  const { session } = await createSession(g.model, 'cpu');
  const feeds: Record<string, Tensor> = {
    input_ids: new T_('int64', BigInt64Array.from(ids, BigInt), [1, SEQ]),
    positions: new T_('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [SEQ]),
    lora_scale: new T_('float32', Float32Array.of(0), []),
  };
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const kv of ['key', 'value']) feeds[`past_${kv}_${i}`] = new T_('float32', new Float32Array(0), [1, cfg.numKvHeads, 0, cfg.headDim]);
    for (const t of ['q_proj', 'v_proj']) {
      const out = t === 'q_proj' ? cfg.numHeads * cfg.headDim : cfg.numKvHeads * cfg.headDim;
      feeds[`layers.${i}.${t}.lora_A`] = new T_('float32', new Float32Array(cfg.hiddenSize), [1, cfg.hiddenSize]);
      feeds[`layers.${i}.${t}.lora_B`] = new T_('float32', new Float32Array(out), [out, 1]);
    }
  }
  const logits = (await session.run(feeds)).logits!.data as Float32Array;
  await session.release();
  return { logits, bytes: externalBytes(g.model) };
}

async function train(precision: Precision, steps: number): Promise<{ losses: number[]; params: Float32Array }> {
  const g = buildLlamaTrainStep(cfg, weights, { seqLen: SEQ, batch: 1, lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] }, seed: 1, precision });
  const { session } = await createSession(g.model, 'cpu');
  const runner = new TrainStepRunner(session, g.spec, g.params);
  const feeds = batch();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await runner.step(feeds, 5e-3)).loss);
  const params = Float32Array.from(Object.keys(g.params).flatMap((k) => [...runner.get(k)]));
  await session.release();
  return { losses, params };
}

test('the whole-array half conversion gives floatToHalf\'s bits: edges, ties, subnormals, overflow, and 200,000 values across the range', () => {
  const values: number[] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, Infinity, -Infinity, NaN, 2 ** -14, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 2 ** -26, 1e-9, -1e-9, 5.960464477539063e-8, 0.1, 1 / 3];
  // exact ties between neighbouring halves, normal and subnormal
  for (let h = 0; h < 0x7bff; h += 13) values.push((halfToFloat(h) + halfToFloat(h + 1)) / 2, -(halfToFloat(h) + halfToFloat(h + 1)) / 2);
  let x = 12345;
  for (let i = 0; i < 200_000; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    values.push((x / 2 ** 32 - 0.5) * 2 ** ((i % 60) - 30));
  }
  const data = Float32Array.from(values);
  const fast = toHalfBits(data);
  const wrong = [...data].map((v, i) => [v, fast[i], floatToHalf(v)]).filter(([, a, b]) => a !== b);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} values differ`);
});

test('the whole-array conversion back gives halfToFloat\'s value for every one of the 65,536 bit patterns', () => {
  const bits = Uint16Array.from({ length: 65536 }, (_, h) => h);
  const back = fromHalfBits(bits);
  const wrong = [...bits].filter((h) => !Object.is(back[h], Math.fround(halfToFloat(h))));
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} patterns differ`);
});

describe('mixed precision (float16 weights and matmuls) against float32, on the CPU', () => {
  test('generation: logits within 1% of their largest magnitude; the weights take less than half the bytes', async () => {
    const full = await prefillLogits('float32');
    const half = await prefillLogits('float16');
    let diff = 0;
    let scale = 0;
    full.logits.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - half.logits[i]!));
      scale = Math.max(scale, Math.abs(v));
    });
    assert.ok(diff > 0, 'the half-precision graph really rounds');
    assert.ok(diff <= 0.01 * scale, `max |Δlogit| ${diff} against max |logit| ${scale}`);
    assert.ok(half.bytes < 0.5 * full.bytes, `${half.bytes} bytes of weights in float16, ${full.bytes} in float32`);
  });

  test('a LoRA training run: the loss tracks float32 within 1% at every step, the adapter within 5%', async () => {
    const full = await train('float32', 25);
    const half = await train('float16', 25);
    assert.ok(full.losses.at(-1)! < 0.8 * full.losses[0]!, `float32 learns: ${full.losses[0]} → ${full.losses.at(-1)}`);
    full.losses.forEach((l, i) => assert.ok(Math.abs(l - half.losses[i]!) <= 0.01 * l, `step ${i}: ${l} vs ${half.losses[i]}`));
    let d = 0;
    let n = 0;
    full.params.forEach((v, i) => {
      d += (v - half.params[i]!) ** 2;
      n += v * v;
    });
    assert.ok(Math.sqrt(d / n) <= 0.05, `relative L2 difference of the adapters: ${Math.sqrt(d / n)}`);
  });

  test('loss scaling leaves float32 gradients as they were', async () => {
    const run = async (lossScale?: number): Promise<number> => {
      const g = buildLlamaTrainStep(cfg, weights, { seqLen: SEQ, batch: 1, lora: { rank: 4, alpha: 8, targets: ['q_proj'] }, seed: 1, optimizer: { lossScale } });
      const { session } = await createSession(g.model, 'cpu');
      const runner = new TrainStepRunner(session, g.spec, g.params);
      const feeds = batch();
      await runner.step(feeds, 1e-3); // B starts at zero: the second step has gradients everywhere
      const { gradNorm } = await runner.step(feeds, 1e-3);
      await session.release();
      return gradNorm!;
    };
    const plain = await run();
    const scaled = await run(1024);
    assert.ok(Math.abs(plain - scaled) <= 1e-5 * plain, `gradient norm ${plain} vs ${scaled} with the loss scaled by 1024`);
  });

  test('a step whose scaled gradients overflow is skipped: parameters and moments stay as they were', async () => {
    // an infinite scale: every scaled gradient overflows (or is NaN where it was zero)
    const g = buildLlamaTrainStep(cfg, weights, { seqLen: SEQ, batch: 1, lora: { rank: 4, alpha: 8, targets: ['q_proj'] }, seed: 1, optimizer: { lossScale: Infinity } });
    const { session } = await createSession(g.model, 'cpu');
    const runner = new TrainStepRunner(session, g.spec, g.params);
    const feeds = batch();
    const before = Object.fromEntries(g.spec.state.map((s) => [s.input, Float32Array.from(runner.get(s.input))]));
    const { loss, gradNorm } = await runner.step(feeds, 1e-3);
    assert.ok(Number.isFinite(loss) && !Number.isFinite(gradNorm!), `loss ${loss}, gradient norm ${gradNorm}`);
    for (const s of g.spec.state) assert.deepEqual(runner.get(s.input), before[s.input], `${s.input} unchanged`);
    await session.release();
  });

  test('the default model (stored in float16) generates the same 32 greedy tokens in both precisions', async () => {
    const { config, weights: w } = loadModel(defaultModelDir()!);
    const prompt = Array.from({ length: 48 }, (_, i) => (i * 97 + 13) % 4000);
    const tokens: number[][] = [];
    for (const p of ['float32', 'float16'] as const) {
      const g = buildLlamaGenerate(config, w, undefined, p);
      const { session } = await createSession(g.model, 'cpu');
      tokens.push((await new Generator(session, config, g.loraTargets).generate(prompt, { maxTokens: 32 })).tokens);
      await session.release();
    }
    assert.deepEqual(tokens[1], tokens[0]);
  });
});
