/**
 * Whole networks through the autodiff against finite differences (float64): a two-layer MLP and
 * a Llama-style block (RMSNorm, RoPE, causal grouped-query attention, SwiGLU, LoRA on q and v).
 * Also: symbolic dimensions, and clear errors for ops built with inputs they cannot take.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../native/onnx/autodiff';
import { GraphBuilder, GraphError, type Value } from '../../native/onnx/graph';
import * as o from '../../native/onnx/ops';
import { buildTrainStep } from '../../native/onnx/train';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { gradCheck } from './gradcheck';

const TOL = 1e-6;

function rmsNorm(x: Value, weight: Value, eps = 1e-6): Value {
  const ms = o.reduceMean(o.mul(x, x), [-1], true);
  return o.mul(o.div(x, o.sqrt(o.add(ms, o.scalar(x, eps)))), weight);
}

/** Rotary embedding on [B, H, T, hd] with cos/sin tables [T, hd]: x·cos + rotate_half(x)·sin. */
function rope(x: Value, cos: Value, sin: Value): Value {
  const hd = x.shape[3] as number;
  const x1 = o.slice(x, [0], [hd / 2], [3]);
  const x2 = o.slice(x, [hd / 2], [hd], [3]);
  const rotated = o.concat([o.neg(x2), x1], 3);
  return o.add(o.mul(x, cos), o.mul(rotated, sin));
}

function block(x: Value, w: Record<string, Value>, T: number): Value {
  const g = x.graph;
  const [H, KV, hd, D] = [2, 1, 4, 8];
  const h = rmsNorm(x, w.norm1!);
  const q = o.add(o.matmul(h, w.wq!), o.matmul(o.matmul(h, w.qA!), w.qB!)); // LoRA on q
  const k = o.matmul(h, w.wk!);
  const v = o.add(o.matmul(h, w.wv!), o.matmul(o.matmul(h, w.vA!), w.vB!)); // LoRA on v
  const heads = (t: Value, n: number): Value => o.transpose(o.reshape(t, [1, T, n, hd]), [0, 2, 1, 3]);
  const cosData: number[] = [];
  const sinData: number[] = [];
  for (let t = 0; t < T; t++)
    for (let i = 0; i < hd; i++) {
      const freq = 1 / 10000 ** ((2 * (i % (hd / 2))) / hd);
      cosData.push(Math.cos(t * freq));
      sinData.push(Math.sin(t * freq));
    }
  const cos = g.initializer('rope_cos', 'float64', [T, hd], cosData);
  const sin = g.initializer('rope_sin', 'float64', [T, hd], sinData);
  const qh = rope(heads(q, H), cos, sin);
  let kh = rope(heads(k, KV), cos, sin);
  let vh = heads(v, KV);
  // grouped-query attention: each KV head serves H/KV query heads
  kh = o.reshape(o.expand(o.unsqueeze(kh, [2]), [1, KV, H / KV, T, hd]), [1, H, T, hd]);
  vh = o.reshape(o.expand(o.unsqueeze(vh, [2]), [1, KV, H / KV, T, hd]), [1, H, T, hd]);
  const scores = o.div(o.matmul(qh, o.transposeLast(kh)), o.scalar(qh, Math.sqrt(hd)));
  const causal = g.initializer('causal', 'bool', [T, T], Array.from({ length: T * T }, (_, i) => (Math.floor(i / T) >= i % T ? 1 : 0)));
  const masked = o.where(causal, scores, o.scalar(scores, -1e9));
  const attn = o.matmul(o.softmax(masked, -1), vh);
  const merged = o.reshape(o.transpose(attn, [0, 2, 1, 3]), [1, T, D]);
  const x1 = o.add(x, o.matmul(merged, w.wo!));
  const h2 = rmsNorm(x1, w.norm2!);
  const gate = o.matmul(h2, w.wgate!);
  const silu = o.mul(gate, o.sigmoid(gate));
  return o.add(x1, o.matmul(o.mul(silu, o.matmul(h2, w.wup!)), w.wdown!));
}

describe('composite gradient checks (float64)', () => {
  test('two-layer MLP', async () => {
    const r = await gradCheck(
      [{ shape: [4, 3], grad: false }, { shape: [3, 5] }, { shape: [5] }, { shape: [5, 2] }, { shape: [2] }],
      (x, w1, b1, w2, b2) => o.add(o.matmul(o.tanh(o.add(o.matmul(x, w1), b1)), w2), b2),
    );
    assert.ok(r.worst <= TOL, `worst ${r.worst} at ${r.where}`);
  });

  test('Llama-style block: RMSNorm, RoPE, causal GQA, SwiGLU, LoRA', async () => {
    const T = 4;
    const names = ['norm1', 'wq', 'wk', 'wv', 'qA', 'qB', 'vA', 'vB', 'wo', 'norm2', 'wgate', 'wup', 'wdown'];
    const shapes = [[8], [8, 8], [8, 4], [8, 4], [8, 2], [2, 8], [8, 2], [2, 4], [8, 8], [8], [8, 12], [8, 12], [12, 8]];
    const r = await gradCheck(
      [{ shape: [1, T, 8] }, ...shapes.map((shape, i) => ({ shape, range: (names[i]!.startsWith('norm') ? [0.5, 1.5] : [-0.6, 0.6]) as [number, number] }))],
      (x, ...ws) => block(x, Object.fromEntries(names.map((n, i) => [n, ws[i]!])), T),
    );
    assert.ok(r.checked > 500);
    assert.ok(r.worst <= TOL, `worst ${r.worst} at ${r.where}`);
  });
});

describe('symbolic dimensions', () => {
  test('a graph with a symbolic batch computes the same gradients as the static one, at two sizes', async () => {
    const build = (batch: number | string) => {
      const g = new GraphBuilder('sym');
      const x = g.input('x', 'float32', [batch, 3]);
      const w = g.input('w', 'float32', [3]);
      const b = g.input('b', 'float32', [1, 3]);
      const h = o.tanh(o.add(o.mul(x, w), b));
      const loss = o.add(o.reduceSum(o.mul(h, x)), o.reduceMean(o.mul(h, h)));
      const [gw, gb] = gradients(loss, [w, b]);
      g.output(gw!, 'gw');
      g.output(gb!, 'gb');
      return g.encode();
    };
    const dyn = await ort.InferenceSession.create(build('batch'));
    for (const n of [2, 5]) {
      const stat = await ort.InferenceSession.create(build(n));
      const feeds = {
        x: new ort.Tensor('float32', Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i)), [n, 3]),
        w: new ort.Tensor('float32', Float32Array.of(0.5, -0.2, 0.1), [3]),
        b: new ort.Tensor('float32', Float32Array.of(0.1, 0.2, -0.3), [1, 3]),
      };
      const [a, s] = [await dyn.run(feeds), await stat.run(feeds)];
      assert.deepEqual(a.gw!.dims, [3]);
      assert.deepEqual(Array.from(a.gw!.data as Float32Array), Array.from(s.gw!.data as Float32Array));
      assert.deepEqual(Array.from(a.gb!.data as Float32Array), Array.from(s.gb!.data as Float32Array));
    }
  });
});

describe('only what needs a gradient gets one', () => {
  const matmuls = (trainW: boolean): number => {
    const g = new GraphBuilder('prune');
    const x = g.input('x', 'float32', [4, 8]);
    const W = trainW ? g.input('W', 'float32', [8, 8]) : g.initializer('W', 'float32', [8, 8], new Float32Array(64));
    const A = g.input('A', 'float32', [8, 2]);
    const B = g.input('B', 'float32', [2, 8]);
    const y = o.add(o.matmul(x, W), o.matmul(o.matmul(x, A), B));
    buildTrainStep(g, o.reduceMean(o.mul(y, y)), trainW ? [W, A, B] : [A, B], { optimizer: 'sgd' });
    return g.toGraph().nodes.filter((n) => n.opType === 'MatMul').length;
  };
  test('a frozen weight and the input get no gradient MatMul; a trained weight gets exactly one', () => {
    // forward x·W, x·A, (xA)·B; backward dB, d(xA), dA; dW only when W trains; never dx
    assert.equal(matmuls(false), 6);
    assert.equal(matmuls(true), 7);
  });
});

describe('the README example: a LoRA step with a symbolic batch', () => {
  test('trains at batch sizes 2 and 3 with one graph', async () => {
    const g = new GraphBuilder('lora');
    const x = g.input('x', 'float32', ['batch', 16]);
    const W = g.initializer('W', 'float32', [16, 16], Float32Array.from({ length: 256 }, (_, i) => Math.sin(i) * 0.3));
    const A = g.input('A', 'float32', [16, 4]);
    const B = g.input('B', 'float32', [4, 16]);
    const y = o.add(o.matmul(x, W), o.matmul(o.matmul(x, A), B));
    const loss = o.reduceMean(o.mul(y, y));
    const spec = buildTrainStep(g, loss, [A, B], { optimizer: 'adamw', maxGradNorm: 1 });
    const { session } = await createSession(g.encode(), 'cpu');
    const runner = new TrainStepRunner(session, spec, { A: Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 0.1), B: new Float32Array(64) });
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const n = 2 + (i % 2);
      const batch = new ort.Tensor('float32', Float32Array.from({ length: n * 16 }, (_, j) => Math.sin(j + n)), [n, 16]);
      losses.push((await runner.step({ x: batch }, 0.01)).loss);
    }
    // minimising |y|² pulls the adapter against the frozen W: the loss falls at both sizes
    assert.ok(losses[38]! < losses[0]! && losses[39]! < losses[1]!, losses.map((l) => l.toFixed(4)).join(' '));
  });
});

describe('bad graphs fail at build time with the op and the shapes', () => {
  const g = new GraphBuilder('bad');
  const a = g.input('a', 'float32', [3, 4]);
  const b = g.input('b', 'float32', [5, 6]);
  const d = g.input('d', 'float64', [3, 4]);
  const cases: [string, () => unknown, RegExp][] = [
    ['matmul inner dims', () => o.matmul(a, b), /^MatMul\(float32\[3, 4\], float32\[5, 6\]\): inner dimensions differ/],
    ['add dtypes', () => o.add(a, d), /^Add\(float32\[3, 4\], float64\[3, 4\]\): Add: dtypes differ \(float32 vs float64\)/],
    ['broadcast', () => o.mul(a, b), /^Mul\(float32\[3, 4\], float32\[5, 6\]\): shapes \[3, 4\] and \[5, 6\] do not broadcast/],
    ['reshape size', () => o.reshape(a, [5, -1]), /^Reshape\(float32\[3, 4\], int64\[2\]\): cannot reshape \[3, 4\] to \[5, -1\]/],
    ['softmax axis', () => o.softmax(a, 2), /^Softmax\(float32\[3, 4\]\): axis 2 is out of range for rank 2/],
    ['concat dims', () => o.concat([a, b], 0), /^Concat\(.*\): dimension 1 differs/],
    ['gather indices', () => o.gather(a, a), /^Gather\(.*\): indices must be int64 or int32/],
    ['non-scalar loss', () => gradients(a, [a]), /loss must be a scalar/],
    ['no backward rule', () => gradients(o.reduceSum(o.max(a, a)), [a]), /Max \(.*\) has no backward rule, but a needs a gradient through it/],
    ['value from another graph', () => o.add(a, new GraphBuilder('other').input('z', 'float32', [3, 4])), /belongs to another graph/],
  ];
  for (const [name, build, message] of cases) {
    test(name, () => assert.throws(build, (err: unknown) => err instanceof GraphError && message.test(err.message)));
  }
  test('the float32 path of Cast gives the input its own dtype back', () => {
    const h = new GraphBuilder('cast');
    const x = h.input('x', 'float32', [3]);
    const [gx] = gradients(o.reduceSum(o.cast(x, 'float64')), [x]);
    assert.equal(gx!.dtype, 'float32');
  });
});
