/**
 * The Llama-family network against PyTorch reference fixtures (test/reference): logits, the
 * masked loss and LoRA gradients for Llama with GQA (sharded fp32), Qwen2 with biases and tied
 * embeddings (fp16), and llama3 RoPE scaling (bf16). Then generation with and without the KV
 * cache, and the decoding graph against the reference's base logits.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../native/onnx/autodiff';
import { GraphBuilder, type Value } from '../../native/onnx/graph';
import * as o from '../../native/onnx/ops';
import { buildLlamaGenerate, llamaForward, loraName } from '../../native/model/llama';
import { SafetensorsFile } from '../../native/model/safetensors';
import { linearShape, type LinearTarget, loadModel } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import { createSession } from '../../native/runtime/session';
import { repoRoot } from '../helpers';

const FIXTURES = path.join(repoRoot, 'test/reference/fixtures');
const NAMES = ['llama-gqa', 'qwen2-tied-bias', 'llama3-rope-scaling'];
const TARGETS: LinearTarget[] = ['q_proj', 'v_proj'];
const [RANK, ALPHA] = [4, 8];

function expected(name: string): (t: string) => Float32Array {
  const f = SafetensorsFile.open(path.join(FIXTURES, name, 'expected.safetensors'));
  return (t) => f.readFloat32(t).data;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbs(a, b) / Math.max(...Array.from(b, Math.abs));

for (const name of NAMES) {
  describe(`${name} vs PyTorch`, () => {
    const { config: cfg, weights } = loadModel(path.join(FIXTURES, name));
    const exp = expected(name);
    const ids = Array.from(exp('input_ids'), Math.round);
    const T = ids.length;

    test('logits, masked loss and LoRA gradients (q_proj, v_proj) match', async () => {
      const g = new GraphBuilder('parity');
      const idv = g.input('input_ids', 'int64', [1, T]);
      const labels = g.input('labels', 'int64', [1, T]);
      const mask = g.input('loss_mask', 'float32', [1, T]);
      const positions = g.initializer('positions', 'int64', [T], Array.from({ length: T }, (_, i) => i));
      const scale = g.const(ALPHA / RANK);
      const pairs = new Map<string, { A: Value; B: Value; scale: Value }>();
      const lora: Value[] = [];
      weights.layers.forEach((_, i) =>
        TARGETS.forEach((t) => {
          const [out, inF] = linearShape(cfg, t);
          const A = g.input(loraName(i, t, 'A'), 'float32', [RANK, inF]);
          const B = g.input(loraName(i, t, 'B'), 'float32', [out, RANK]);
          lora.push(A, B);
          pairs.set(`${i}.${t}`, { A, B, scale });
        }),
      );
      const seen = new Map<object, Value>();
      const src = {
        weight: (w: { name: string; shape: readonly number[]; data: Float32Array }) =>
          seen.get(w) ?? (seen.set(w, g.initializer(w.name, 'float32', w.shape, w.data)), seen.get(w)!),
        lora: (i: number, t: LinearTarget) => pairs.get(`${i}.${t}`),
      };
      const { logits } = llamaForward(cfg, weights, src, idv, positions);
      const loss = o.crossEntropy(logits, labels, mask);
      g.output(logits, 'logits');
      g.output(loss, 'loss');
      gradients(loss, lora).forEach((gr, k) => g.output(gr, `grad.${lora[k]!.name}`));
      const session = await ort.InferenceSession.create(g.encode());
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
        labels: new ort.Tensor('int64', BigInt64Array.from(exp('labels'), (v) => BigInt(Math.round(v))), [1, T]),
        loss_mask: new ort.Tensor('float32', exp('loss_mask'), [1, T]),
      };
      for (const v of lora) feeds[v.name] = new ort.Tensor('float32', exp(v.name), v.shape as number[]);
      const out = await session.run(feeds);
      const logitErr = maxAbs(out.logits!.data as Float32Array, exp('logits'));
      assert.ok(logitErr <= 1e-4, `logits max abs error ${logitErr}`);
      assert.ok(Math.abs((out.loss!.data as Float32Array)[0]! - exp('loss')[0]!) <= 1e-5, 'loss');
      for (const v of lora) {
        const err = relErr(out[`grad.${v.name}`]!.data as Float32Array, exp(`grad.${v.name}`));
        assert.ok(err <= 1e-4, `gradient of ${v.name}: relative error ${err}`);
      }
    });

    test('the decoding graph gives the base model\'s last logits after prefill', async () => {
      const gen = buildLlamaGenerate(cfg, weights);
      const generator = new Generator((await createSession(gen.model, "cpu")).session, cfg, gen.loraTargets);
      const { logits } = await generator.step(ids, 0);
      const base = exp('base_logits');
      const V = cfg.vocabSize;
      const err = maxAbs(logits, base.subarray((T - 1) * V, T * V));
      assert.ok(err <= 1e-4, `last-position logits max abs error ${err}`);
    });
  });
}

describe('generation', () => {
  const { config: cfg, weights } = loadModel(path.join(FIXTURES, 'llama-gqa'));

  test('greedy decoding with the KV cache gives the same tokens as recomputing the whole sequence', async () => {
    const gen = buildLlamaGenerate(cfg, weights);
    const generator = new Generator((await createSession(gen.model, "cpu")).session, cfg, gen.loraTargets);
    const prompt = [5, 17, 33, 2, 9];
    const streamed: number[] = [];
    const cached = await generator.generate(prompt, { maxTokens: 12, onToken: (t) => streamed.push(t) });
    assert.equal(cached.stop, 'max-tokens');
    assert.deepEqual(streamed, cached.tokens);
    const seq = [...prompt];
    const sure: number[] = [];
    for (let i = 0; i < 12; i++) {
      const { logits } = await generator.step(seq, 0); // no cache: the whole sequence again
      seq.push(logits.indexOf(Math.max(...logits)));
      // log softmax of the chosen token, in float64 from scratch
      const max = Math.max(...logits);
      sure.push(logits[seq.at(-1)!]! - max - Math.log(Array.from(logits).reduce((a, l) => a + Math.exp(l - max), 0)));
    }
    assert.deepEqual(cached.tokens, seq.slice(prompt.length));
    assert.equal(cached.logprobs.length, 12);
    cached.logprobs.forEach((l, i) => {
      assert.ok(l <= 0 && Math.abs(l - sure[i]!) < 1e-3, `token ${i}: log-probability ${l}, recomputed ${sure[i]}`);
    });
  });

  test('stop tokens, cancellation and seeded sampling', async () => {
    const gen = buildLlamaGenerate(cfg, weights);
    const generator = new Generator((await createSession(gen.model, "cpu")).session, cfg, gen.loraTargets);
    const prompt = [1, 2, 3];
    const greedy = await generator.generate(prompt, { maxTokens: 6 });
    const stopped = await generator.generate(prompt, { maxTokens: 6, stopTokens: [greedy.tokens[2]!] });
    const kept = greedy.tokens.indexOf(greedy.tokens[2]!);
    assert.deepEqual(stopped, { tokens: greedy.tokens.slice(0, kept), logprobs: greedy.logprobs.slice(0, kept), stop: 'stop-token' });
    let n = 0;
    const cancelled = await generator.generate(prompt, { maxTokens: 50, isCancelled: () => ++n > 3 });
    assert.deepEqual(cancelled, { tokens: greedy.tokens.slice(0, 3), logprobs: greedy.logprobs.slice(0, 3), stop: 'cancelled' });
    const a = await generator.generate(prompt, { maxTokens: 8, temperature: 1.5, topP: 0.9, seed: 42 });
    const b = await generator.generate(prompt, { maxTokens: 8, temperature: 1.5, topP: 0.9, seed: 42 });
    assert.deepEqual(a, b);
  });
});
