/**
 * Gated Memory (LIFT v3's adapter, model/llama.ts gatedMemory) against PyTorch reference
 * fixtures written from the paper's formulas (test/reference/make_gated_memory_fixtures.py):
 * logits, the masked loss and the gradients of every memory and gate tensor, for a GQA Llama and
 * a Qwen2-style model with biases and tied embeddings. Then: the initial adapter is the base
 * model bit for bit (training and decoding graphs); the decoding graph with a trained memory
 * gives the reference's logits, and its KV cache the same tokens as recomputing; with zero memory
 * it is the graph without memory, bit for bit; the gates it reports are each layer's mean.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../native/onnx/autodiff';
import { GraphBuilder, type Value } from '../../native/onnx/graph';
import * as o from '../../native/onnx/ops';
import { buildLlamaGenerate, buildLlamaTrainStep, initialMemory, llamaForward, type Memory, MEMORY_PARTS, memoryName, memoryShapes } from '../../native/model/llama';
import { SafetensorsFile } from '../../native/model/safetensors';
import { loadModel } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { repoRoot } from '../helpers';

const FIXTURES = path.join(repoRoot, 'test/reference/fixtures');
const NAMES = ['gm-llama-gqa', 'gm-qwen2-tied-bias'];

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbs(a, b) / Math.max(...Array.from(b, Math.abs));

for (const name of NAMES) {
  describe(`Gated Memory, ${name} vs PyTorch`, () => {
    const dir = path.join(FIXTURES, name);
    const { config: cfg, weights } = loadModel(dir);
    const file = SafetensorsFile.open(path.join(dir, 'expected.safetensors'));
    const exp = (t: string): Float32Array => file.readFloat32(t).data;
    const ids = Array.from(exp('input_ids'), Math.round);
    const T = ids.length;
    const V = cfg.vocabSize;
    const tensors = (prefix = ''): Record<string, Float32Array> =>
      Object.fromEntries(weights.layers.flatMap((_, i) => MEMORY_PARTS.map((p) => [memoryName(i, p), exp(`${prefix}${memoryName(i, p)}`)])));

    test('logits, masked loss and the gradients of W1, W2, U and w match', async () => {
      const g = new GraphBuilder('gm_parity');
      const idv = g.input('input_ids', 'int64', [1, T]);
      const labels = g.input('labels', 'int64', [1, T]);
      const mask = g.input('loss_mask', 'float32', [1, T]);
      const positions = g.initializer('positions', 'int64', [T], Array.from({ length: T }, (_, i) => i));
      const shapes = memoryShapes(cfg);
      const inputs: Value[] = [];
      const layers = weights.layers.map((_, i) => {
        const m = Object.fromEntries(MEMORY_PARTS.map((p) => [p, g.input(memoryName(i, p), 'float32', shapes[p])]));
        inputs.push(...Object.values(m));
        return m as unknown as Memory;
      });
      const seen = new Map<object, Value>();
      const src = {
        weight: (w: { name: string; shape: readonly number[]; data: Float32Array }) => seen.get(w) ?? (seen.set(w, g.initializer(w.name, 'float32', w.shape, w.data)), seen.get(w)!),
        lora: () => undefined,
        memory: (i: number) => layers[i]!,
      };
      const { logits, gates } = llamaForward(cfg, weights, src, idv, positions);
      assert.equal(gates.length, cfg.numLayers);
      const loss = o.crossEntropy(logits, labels, mask);
      g.output(logits, 'logits');
      g.output(loss, 'loss');
      gradients(loss, inputs).forEach((gr, k) => g.output(gr, `grad.${inputs[k]!.name}`));
      const session = await ort.InferenceSession.create(g.encode());
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
        labels: new ort.Tensor('int64', BigInt64Array.from(exp('labels'), (v) => BigInt(Math.round(v))), [1, T]),
        loss_mask: new ort.Tensor('float32', exp('loss_mask'), [1, T]),
      };
      for (const v of inputs) feeds[v.name] = new ort.Tensor('float32', exp(v.name), v.shape as number[]);
      const out = await session.run(feeds);
      const logitErr = maxAbs(out.logits!.data as Float32Array, exp('logits'));
      assert.ok(logitErr <= 1e-4, `logits max abs error ${logitErr}`);
      assert.ok(maxAbs(exp('logits'), exp('base_logits')) > 0.1, 'the reference memory changes the logits (else this compares nothing)');
      assert.ok(Math.abs((out.loss!.data as Float32Array)[0]! - exp('loss')[0]!) <= 1e-5, 'loss');
      for (const v of inputs) {
        const err = relErr(out[`grad.${v.name}`]!.data as Float32Array, exp(`grad.${v.name}`));
        assert.ok(err <= 1e-4, `gradient of ${v.name}: relative error ${err}`);
      }
      await session.release();
    });

    test('the initial adapter (W2 = 0, w = 0) is the base model exactly, in the training and the decoding graph', async () => {
      // the PyTorch reference: (1 − g)/(1 − g0)·attn + g·m at initialisation is the base model
      assert.equal(maxAbs(exp('initial_logits'), exp('base_logits')), 0);
      // the training step's loss at step 0, from initialMemory, is the base model's loss
      const step = buildLlamaTrainStep(cfg, weights, { seqLen: T, batch: 1, lora: { rank: 1, alpha: 1, targets: [], kind: 'gated-memory' }, seed: 5 });
      assert.deepEqual(Object.keys(step.params), initialMemory(cfg, 5).map((p) => p.name));
      const { session } = await createSession(step.model, 'cpu');
      const runner = new TrainStepRunner(session, step.spec, step.params);
      const { loss } = await runner.step(
        {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
          labels: new ort.Tensor('int64', BigInt64Array.from(exp('labels'), (v) => BigInt(Math.round(v))), [1, T]),
          loss_mask: new ort.Tensor('float32', exp('loss_mask'), [1, T]),
        },
        0,
      );
      assert.ok(Math.abs(loss - baseLoss(exp('base_logits'), exp('labels'), exp('loss_mask'), V)) <= 1e-5, `step 0 loss ${loss} is the base model's`);
      await session.release();
      // decoding: the initial tensors give the logits of zero memory (no adapter) bit for bit
      const gen = buildLlamaGenerate(cfg, weights, undefined, 'float32', undefined, undefined, true);
      const generator = new Generator((await createSession(gen.model, 'cpu')).session, cfg, gen.loraTargets, true);
      const off = (await generator.step(ids, 0)).logits;
      assert.ok(maxAbs(off, exp('base_logits').subarray((T - 1) * V, T * V)) <= 1e-4, 'no adapter: the base model');
      assert.equal(generator.gateAverages(), undefined, 'no gates without a Gated Memory adapter');
      generator.setAdapter({ kind: 'gated-memory', rank: 0, alpha: 0, tensors: tensors('initial.') });
      const on = (await generator.step(ids, 0)).logits;
      assert.equal(maxAbs(on, off), 0, 'the initial adapter changes no logit');
      const gate = generator.gateAverages()!;
      assert.equal(gate.length, cfg.numLayers);
      for (const v of gate) assert.ok(Math.abs(v - 1 / (1 + Math.exp(3))) < 1e-6, `initial gate ${v} is σ(−3)`);
      await generator.release();
    });

    test('decoding with a trained memory: the reference logits after prefill, the KV cache as recomputing, gates per layer', async () => {
      const gen = buildLlamaGenerate(cfg, weights, undefined, 'float32', undefined, undefined, true);
      const generator = new Generator((await createSession(gen.model, 'cpu')).session, cfg, gen.loraTargets, true);
      generator.setAdapter({ kind: 'gated-memory', rank: 0, alpha: 0, tensors: tensors() });
      const { logits } = await generator.step(ids, 0);
      const err = maxAbs(logits, exp('logits').subarray((T - 1) * V, T * V));
      assert.ok(err <= 1e-4, `last-position logits max abs error ${err}`);
      const gate = generator.gateAverages()!;
      assert.ok(gate.every((v) => v > 0 && v < 1) && new Set(gate).size === gate.length, `gates ${gate}`);
      const prompt = ids.slice(0, 4);
      const cached = await generator.generate(prompt, { maxTokens: 6 });
      const seq = [...prompt];
      for (let i = 0; i < 6; i++) {
        const step = await generator.step(seq, 0);
        seq.push(step.logits.indexOf(Math.max(...step.logits)));
      }
      assert.deepEqual(cached.tokens, seq.slice(prompt.length));
      // no adapter afterwards: zero memory, the graph without memory exactly
      generator.setAdapter(undefined);
      const plain = buildLlamaGenerate(cfg, weights);
      const reference = new Generator((await createSession(plain.model, 'cpu')).session, cfg, plain.loraTargets);
      assert.equal(maxAbs((await generator.step(ids, 0)).logits, (await reference.step(ids, 0)).logits), 0, 'zero memory is the decoding graph without memory');
      await Promise.all([generator.release(), reference.release()]);
    });
  });
}

function baseLoss(logits: Float32Array, labels: Float32Array, mask: Float32Array, V: number): number {
  let sum = 0;
  let count = 0;
  for (let t = 0; t < mask.length; t++) {
    if (!mask[t]) continue;
    const row = logits.subarray(t * V, (t + 1) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum += lse - row[Math.round(labels[t]!)]!;
    count++;
  }
  return sum / count;
}
