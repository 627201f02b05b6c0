/**
 * Packed rows (several samples in one row of the training graph, llama.ts's `packed`): each
 * sample's logits are the logits it has alone (positions restart at 0, attention stays inside
 * the sample); changing one sample leaves the others' logits and loss as they were; a packed row
 * trains exactly as the same samples padded into a batch of rows, under either loss weighting,
 * in float32 and in mixed precision.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { batchFeeds, type LossWeighting, packedFeeds } from '../../native/lift/learn';
import { makeSample, type Sample } from '../../native/lift/samples';
import type { LlamaConfig } from '../../native/model/config';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaTrainStep, frozen, type Lora, llamaForward, type Precision } from '../../native/model/llama';
import { linearShape, type LlamaWeights } from '../../native/model/weights';
import { GraphBuilder, type Value } from '../../native/onnx/graph';
import * as o from '../../native/onnx/ops';
import { loadOrt } from '../../native/runtime/ort';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { rng } from '../engine/gradcheck';
import { relL2 } from '../helpers';

const { Tensor: T_ } = loadOrt();
const LLAMA = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: false });
const QWEN2: LlamaConfig = { ...smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 4, intermediate: 96, vocab: 256, tie: true }), attentionBias: true, modelType: 'qwen2' };

/** A forward graph over one row of any length, with a LoRA pair of random A and B on q and v; logits and the masked loss out. */
async function forward(cfg: LlamaConfig, weights: LlamaWeights, packed: boolean): Promise<InferenceSession> {
  const g = new GraphBuilder('forward');
  const ids = g.input('input_ids', 'int64', [1, 'T']);
  const labels = g.input('labels', 'int64', [1, 'T']);
  const mask = g.input('loss_mask', 'float32', [1, 'T']);
  const positions = packed ? g.input('position_ids', 'int64', [1, 'T']) : g.input('positions', 'int64', ['T']);
  const segments = packed ? g.input('segment_ids', 'int64', [1, 'T']) : undefined;
  const random = rng(17);
  const pairs = new Map<string, Lora>();
  const scale = g.const(2);
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of ['q_proj', 'v_proj'] as const) {
      const [out, inF] = linearShape(cfg, t);
      const init = (name: string, shape: number[]): Value => g.initializer(name, 'float32', shape, Float32Array.from({ length: shape[0]! * shape[1]! }, () => (random() - 0.5) * 0.2));
      pairs.set(`${i}.${t}`, { A: init(`l${i}.${t}.A`, [4, inF]), B: init(`l${i}.${t}.B`, [out, 4]), scale });
    }
  }
  const { logits } = llamaForward(cfg, weights, { weight: frozen(g), lora: (i, t) => pairs.get(`${i}.${t}`) }, ids, positions, { segments });
  g.output(logits, 'logits');
  g.output(o.crossEntropy(logits, labels, mask), 'loss');
  return (await createSession(g.encode(), 'cpu')).session;
}

/** Samples of the given lengths with random tokens; the loss counts from the middle on (a question, then its answer). */
function samples(cfg: LlamaConfig, lengths: readonly number[], seed: number): Sample[] {
  const random = rng(seed);
  return lengths.map((n) => {
    const all = Array.from({ length: n + 1 }, () => Math.floor(random() * cfg.vocabSize));
    return makeSample(all.slice(0, n >> 1), all.slice(n >> 1));
  });
}

const ints = (xs: readonly number[], dims: number[]): Tensor => new T_('int64', BigInt64Array.from(xs, BigInt), dims);

async function alone(session: InferenceSession, s: Sample): Promise<{ logits: Float32Array; loss: number }> {
  const T = s.input.length;
  const out = await session.run({ input_ids: ints(s.input, [1, T]), labels: ints(s.labels, [1, T]), loss_mask: new T_('float32', Float32Array.from(s.mask), [1, T]), positions: ints(Array.from({ length: T }, (_, i) => i), [T]) });
  return { logits: out.logits!.data as Float32Array, loss: (out.loss!.data as Float32Array)[0]! };
}

async function packedRun(session: InferenceSession, row: readonly Sample[], T: number, change?: (f: ReturnType<typeof packedFeeds>) => void): Promise<{ logits: Float32Array; loss: number }> {
  const feeds = packedFeeds([row], T);
  change?.(feeds);
  const out = await session.run(feeds);
  return { logits: out.logits!.data as Float32Array, loss: (out.loss!.data as Float32Array)[0]! };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** The logits of the row's k-th sample. */
function slice(logits: Float32Array, row: readonly Sample[], k: number, V: number): Float32Array {
  const start = row.slice(0, k).reduce((a, s) => a + s.input.length, 0);
  return logits.subarray(start * V, (start + row[k]!.input.length) * V);
}

describe('packed rows', () => {
  for (const [name, cfg] of [
    ['Llama with GQA', LLAMA],
    ['Qwen2 with biases and tied embeddings', QWEN2],
  ] as const) {
    test(`${name}: each packed sample's logits are its logits alone (positions restart, no attention across samples)`, async (t) => {
      const weights = randomWeights(cfg, 5, 0.1);
      const [one, many] = [await forward(cfg, weights, false), await forward(cfg, weights, true)];
      const row = samples(cfg, [9, 14, 5, 11], 3);
      const T = 45; // 39 tokens and 6 positions of padding
      const packed = await packedRun(many, row, T);
      let worst = 0;
      for (const [k, s] of row.entries()) {
        const want = await alone(one, s);
        const err = maxAbs(slice(packed.logits, row, k, cfg.vocabSize), want.logits);
        const scale = Math.max(...Array.from(want.logits, Math.abs));
        worst = Math.max(worst, err / scale);
        assert.ok(err <= 1e-5 * scale, `sample ${k}: logits differ by ${err} (largest ${scale})`);
      }
      t.diagnostic(`largest difference from the samples alone: ${worst.toExponential(2)} of the largest logit`);

      // controls: one segment for the whole row lets samples see each other; positions out of order are read as such
      const oneSegment = await packedRun(many, row, T, (f) => void (f.segment_ids.data as BigInt64Array).fill(1n));
      const reversed = await packedRun(many, row, T, (f) => {
        const p = f.position_ids.data as BigInt64Array;
        const n = row[1]!.input.length;
        for (let i = 0; i < n; i++) p[row[0]!.input.length + i] = BigInt(n - 1 - i);
      });
      const second = (await alone(one, row[1]!)).logits;
      assert.ok(maxAbs(slice(oneSegment.logits, row, 1, cfg.vocabSize), second) > 1e-3, 'attention across samples changes the second sample');
      assert.ok(maxAbs(slice(reversed.logits, row, 1, cfg.vocabSize), second) > 1e-3, 'the positions fed are the positions used');
    });
  }

  test('changing one sample leaves the others\' logits and loss unchanged', async (t) => {
    const weights = randomWeights(LLAMA, 5, 0.1);
    const session = await forward(LLAMA, weights, true);
    const row = samples(LLAMA, [12, 10, 16], 8);
    const other = samples(LLAMA, [12], 99)[0]!; // the first sample's place, other tokens
    const T = 40;
    const onlySecond = (f: ReturnType<typeof packedFeeds>): void => {
      const m = f.loss_mask.data as Float32Array;
      const seg = f.segment_ids.data as BigInt64Array;
      m.forEach((_, i) => (m[i] = seg[i] === 2n ? m[i]! : 0));
    };
    const a = await packedRun(session, row, T, onlySecond);
    const b = await packedRun(session, [other, row[1]!, row[2]!], T, onlySecond);
    assert.notEqual(maxAbs(slice(a.logits, row, 0, LLAMA.vocabSize), slice(b.logits, row, 0, LLAMA.vocabSize)), 0, 'the first sample changed');
    const err = Math.max(maxAbs(slice(a.logits, row, 1, LLAMA.vocabSize), slice(b.logits, row, 1, LLAMA.vocabSize)), maxAbs(slice(a.logits, row, 2, LLAMA.vocabSize), slice(b.logits, row, 2, LLAMA.vocabSize)));
    assert.ok(err <= 1e-6, `the other samples' logits moved by ${err}`);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * a.loss, `the second sample's loss ${a.loss} vs ${b.loss}`);
    t.diagnostic(`the other samples' logits: ${err === 0 ? 'bit-identical' : `within ${err}`}; the second sample's loss ${a.loss === b.loss ? 'bit-identical' : `${a.loss} vs ${b.loss}`}`);
  });

  /** A sample whose loss mask carries the weighting (for the padded batch, which takes masks as they are). */
  const weighted = (s: Sample, w: LossWeighting): Sample => {
    const n = s.mask.reduce((a, b) => a + b, 0);
    return w === 'sample' ? { ...s, mask: s.mask.map((m) => m / n) } : s;
  };

  for (const precision of ['float32', 'float16'] as Precision[]) {
    for (const weighting of ['sample', 'token'] as LossWeighting[]) {
      test(`${precision}, ${weighting} weighting: a packed row trains as the same samples padded into a batch (losses, gradient norms, LoRA updates)`, async () => {
        const cfg = LLAMA;
        const weights = randomWeights(cfg, 7, 0.1);
        const lora = { rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj'] as const };
        const steps = [samples(cfg, [9, 20, 6], 1), samples(cfg, [15, 4, 7, 11], 2), samples(cfg, [30], 3)];
        const longest = Math.max(...steps.flat().map((s) => s.input.length));
        const rows = Math.max(...steps.map((s) => s.length));
        const padded = buildLlamaTrainStep(cfg, weights, { seqLen: longest, batch: rows, lora: { ...lora, targets: [...lora.targets] }, seed: 2, precision });
        const packed = buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora: { ...lora, targets: [...lora.targets] }, seed: 2, precision, packed: true });
        const a = new TrainStepRunner((await createSession(padded.model, 'cpu')).session, padded.spec, padded.params);
        const b = new TrainStepRunner((await createSession(packed.model, 'cpu')).session, packed.spec, packed.params);
        const tol = precision === 'float32' ? 1e-5 : 1e-3;
        for (const [k, group] of steps.entries()) {
          const x = await a.step(batchFeeds(group.map((s) => weighted(s, weighting)), longest, rows), 1e-2);
          const y = await b.step(packedFeeds([group], undefined, { weighting }), 1e-2);
          assert.ok(Math.abs(x.loss - y.loss) <= tol * x.loss, `step ${k}: loss ${y.loss} packed vs ${x.loss} padded`);
          assert.ok(Math.abs(x.gradNorm! - y.gradNorm!) <= tol * 10 * x.gradNorm!, `step ${k}: gradient norm ${y.gradNorm} vs ${x.gradNorm}`);
        }
        for (const name of Object.keys(packed.params)) {
          const err = relL2(b.get(name), a.get(name));
          // Adam divides by the root of tiny second moments early on: parameters amplify the gradients' rounding differences (as in the recomputation test)
          assert.ok(err <= tol * 100, `${name}: relative L2 ${err.toExponential(2)} from the padded batch`);
        }
        assert.ok(b.get('layers.0.q_proj.lora_B').some((v) => v !== 0), 'the steps moved LoRA B');
      });
    }
  }

  test('the weightings: token is the mean over counted tokens, sample the mean of each sample\'s mean', async () => {
    const cfg = LLAMA;
    const weights = randomWeights(cfg, 5, 0.1);
    const [one, many] = [await forward(cfg, weights, false), await forward(cfg, weights, true)];
    const row = samples(cfg, [6, 20, 9], 4);
    const each = await Promise.all(row.map(async (s) => ({ loss: (await alone(one, s)).loss, n: s.mask.reduce((a, b) => a + b, 0) })));
    const tokenMean = each.reduce((a, e) => a + e.loss * e.n, 0) / each.reduce((a, e) => a + e.n, 0);
    const sampleMean = each.reduce((a, e) => a + e.loss, 0) / each.length;
    const run = async (weighting: LossWeighting): Promise<number> => ((await many.run(packedFeeds([row], 40, { weighting }))).loss!.data as Float32Array)[0]!;
    assert.ok(Math.abs((await run('token')) - tokenMean) <= 1e-5 * tokenMean);
    assert.ok(Math.abs((await run('sample')) - sampleMean) <= 1e-5 * sampleMean);
    assert.ok(Math.abs(tokenMean - sampleMean) > 1e-3, 'the two differ for samples of different lengths');
  });
});
