/** Optimizers in the graph against hand-computed references, and a LoRA-style model that learns. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../native/onnx/graph';
import { add, matmul, mul, reduceMean, reduceSum, sub } from '../../native/onnx/ops';
import { buildTrainStep } from '../../native/onnx/train';
import { executionProviders } from '../../native/runtime/ort';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { rng } from './gradcheck';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!));
    assert.ok(err <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]} (relative error ${err.toExponential(2)})`);
  }
};

/** loss = Σ w²·x, so ∂loss/∂w = 2·w·x. */
function quadraticModel(optimizer: 'adamw' | 'sgd', extra: { weightDecay?: number; maxGradNorm?: number } = {}) {
  const g = new GraphBuilder('quadratic');
  const w = g.input('w', 'float64', [4]);
  const x = g.input('x', 'float64', [4]);
  const loss = reduceSum(mul(mul(w, w), x));
  const spec = buildTrainStep(g, loss, [w], { optimizer, beta1: 0.9, beta2: 0.98, eps: 1e-8, ...extra });
  return { bytes: g.encode(), spec };
}

function referenceAdamW(w0: number[], x: number[], steps: number, lr: number, wd: number, maxNorm?: number) {
  const [b1, b2, eps] = [0.9, 0.98, 1e-8];
  const w = [...w0];
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    let grad = w.map((wi, i) => 2 * wi * x[i]!);
    if (maxNorm !== undefined) {
      const norm = Math.sqrt(grad.reduce((s, gi) => s + gi * gi, 0));
      grad = grad.map((gi) => gi * Math.min(1, maxNorm / norm));
    }
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * grad[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * grad[i]! ** 2;
      const mhat = m[i]! / (1 - b1 ** t);
      const vhat = v[i]! / (1 - b2 ** t);
      w[i] = w[i]! - lr * wd * w[i]! - lr * (mhat / (Math.sqrt(vhat) + eps));
    }
  }
  return { w, m, v };
}

describe('optimizers in the graph', () => {
  const w0 = [0.5, -1.2, 2.0, 0.3];
  const x = [1.0, 0.5, -0.7, 2.0];
  const xTensor = () => new ort.Tensor('float64', Float64Array.from(x), [4]);

  test('AdamW with decoupled weight decay matches a hand-computed reference over 5 steps', async () => {
    const { bytes, spec } = quadraticModel('adamw', { weightDecay: 0.01 });
    const { session } = await createSession(bytes, 'cpu');
    const runner = new TrainStepRunner(session, spec, { w: Float64Array.from(w0) }, 'float64');
    for (let i = 0; i < 5; i++) await runner.step({ x: xTensor() }, 0.1);
    const ref = referenceAdamW(w0, x, 5, 0.1, 0.01);
    close(runner.get('w'), ref.w, 1e-6, 'w');
    close(runner.get('w.m'), ref.m, 1e-6, 'm');
    close(runner.get('w.v'), ref.v, 1e-6, 'v');
  });

  test('global-norm clipping scales the gradient before AdamW, and reports the norm', async () => {
    const { bytes, spec } = quadraticModel('adamw', { maxGradNorm: 0.5 });
    const { session } = await createSession(bytes, 'cpu');
    const runner = new TrainStepRunner(session, spec, { w: Float64Array.from(w0) }, 'float64');
    const first = await runner.step({ x: xTensor() }, 0.05);
    const norm = Math.sqrt(w0.reduce((s, wi, i) => s + (2 * wi * x[i]!) ** 2, 0));
    close([first.gradNorm!], [norm], 1e-9, 'gradient norm');
    for (let i = 0; i < 2; i++) await runner.step({ x: xTensor() }, 0.05);
    const ref = referenceAdamW(w0, x, 3, 0.05, 0, 0.5);
    close(runner.get('w'), ref.w, 1e-6, 'w');
    close(runner.get('w.m'), ref.m, 1e-6, 'm');
  });

  test('accumulating 3 micro-batches then applying equals one AdamW step on their mean gradient', async () => {
    const g = new GraphBuilder('accumulate');
    const w = g.input('w', 'float64', [4]);
    const xin = g.input('x', 'float64', [4]);
    const spec = buildTrainStep(g, reduceSum(mul(mul(w, w), xin)), [w], { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, eps: 1e-8, maxGradNorm: 100, accumulate: true });
    const { session } = await createSession(g.encode(), 'cpu');
    const runner = new TrainStepRunner(session, spec, { w: Float64Array.from(w0) }, 'float64');
    const micro = [x, x.map((v) => v * 2), x.map((v) => -v)];
    await runner.step({ x: new ort.Tensor('float64', Float64Array.from(micro[0]!), [4]) }, 0.1, { apply: false });
    await runner.step({ x: new ort.Tensor('float64', Float64Array.from(micro[1]!), [4]) }, 0.1, { apply: false });
    assert.deepEqual(Array.from(runner.get('w')), w0, 'no update before apply');
    const last = await runner.step({ x: new ort.Tensor('float64', Float64Array.from(micro[2]!), [4]) }, 0.1);
    const meanX = x.map((_, i) => (micro[0]![i]! + micro[1]![i]! + micro[2]![i]!) / 3);
    const ref = referenceAdamW(w0, meanX, 1, 0.1, 0);
    close(runner.get('w'), ref.w, 1e-6, 'w');
    close([last.gradNorm!], [Math.sqrt(w0.reduce((s2, wi, i) => s2 + (2 * wi * meanX[i]!) ** 2, 0))], 1e-9, 'norm of the mean gradient');
    assert.deepEqual(Array.from(runner.get('w.acc')), [0, 0, 0, 0], 'accumulators reset');
    assert.equal(runner.stepCount, 1);
  });

  test('dynamic loss scaling: overflowing steps are skipped and halve the scale; the applied steps are the unscaled run\'s', async (t) => {
    // float32: the loss × scale overflows until the scale has come down from 2^127
    const g = new GraphBuilder('quadratic32');
    const w = g.input('w', 'float32', [4]);
    const xv = g.input('x', 'float32', [4]);
    const loss = reduceSum(mul(mul(w, w), xv));
    const dyn = buildTrainStep(g, loss, [w], { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, maxGradNorm: 10, lossScale: 'dynamic' });
    assert.equal(dyn.lossScale, 'loss_scale');
    const g2 = new GraphBuilder('quadratic32');
    const w2 = g2.input('w', 'float32', [4]);
    const plain = buildTrainStep(g2, reduceSum(mul(mul(w2, w2), g2.input('x', 'float32', [4]))), [w2], { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, maxGradNorm: 10 });
    const x32 = () => new ort.Tensor('float32', Float32Array.from(x), [4]);
    const runner = new TrainStepRunner((await createSession(g.encode(), 'cpu')).session, dyn, { w: Float32Array.from(w0) }, 'float32', { initial: 2 ** 127, growthInterval: 4, min: 1 });
    const scales: number[] = [];
    const norms: number[] = [];
    for (let i = 0; i < 30; i++) {
      scales.push(runner.lossScale);
      norms.push((await runner.step({ x: x32() }, 0.05)).gradNorm!);
    }
    const skipped = norms.filter((n) => !Number.isFinite(n)).length;
    assert.ok(skipped >= 2, `some steps overflowed (${skipped})`);
    assert.equal(runner.skippedSteps, skipped);
    assert.equal(runner.stepCount, 30 - skipped, 'a skipped step is not counted (AdamW bias correction)');
    for (let i = 1; i < 30; i++) if (!Number.isFinite(norms[i - 1]!)) assert.equal(scales[i], scales[i - 1]! / 2, `step ${i}: the scale halves after an overflow`);
    // growth: four good steps in a row double the scale
    const run = norms.findIndex((n, i) => i >= 4 && [0, 1, 2, 3].every((k) => Number.isFinite(norms[i - k]!)));
    assert.ok(run >= 0 && run < 29, 'a run of four good steps');
    assert.equal(scales[run + 1], scales[run - 3]! * 2, 'doubled after four good steps');
    t.diagnostic(`${skipped} of 30 steps skipped; scales 2^${scales.map((v) => Math.log2(v)).join(', 2^')}`);
    // the applied steps are exactly the unscaled run's (a power-of-two scale is exact in float32)
    const ref = new TrainStepRunner((await createSession(g2.encode(), 'cpu')).session, plain, { w: Float32Array.from(w0) });
    for (let i = 0; i < 30 - skipped; i++) await ref.step({ x: x32() }, 0.05);
    close(runner.get('w'), ref.get('w'), 1e-6, 'w after the applied steps');
    close(runner.get('w.m'), ref.get('w.m'), 1e-6, 'm');
  });

  test('dynamic loss scaling needs the gradient norm (clipping) to see overflows', () => {
    const g = new GraphBuilder('q');
    const w = g.input('w', 'float32', [2]);
    assert.throws(() => buildTrainStep(g, reduceSum(mul(w, w)), [w], { optimizer: 'adamw', lossScale: 'dynamic' }), /dynamic loss scaling needs maxGradNorm/);
  });

  test('SGD: w ← w − lr·g', async () => {
    const { bytes, spec } = quadraticModel('sgd');
    const { session } = await createSession(bytes, 'cpu');
    const runner = new TrainStepRunner(session, spec, { w: Float64Array.from(w0) }, 'float64');
    const { loss } = await runner.step({ x: xTensor() }, 0.1);
    close([loss], [w0.reduce((s, wi, i) => s + wi * wi * x[i]!, 0)], 1e-12, 'loss');
    close(runner.get('w'), w0.map((wi, i) => wi - 0.1 * 2 * wi * x[i]!), 1e-12, 'w');
  });
});

describe('a LoRA-style model learns in float32', () => {
  const [n, d, r] = [32, 8, 2];
  const rand = rng(7);
  const normal = (count: number, scale: number) => Float32Array.from({ length: count }, () => (rand() * 2 - 1) * scale);
  const W0 = normal(d * d, 0.5);
  const X = normal(n * d, 1);
  // The target differs from the frozen base by a rank-2 update.
  const Astar = normal(d * r, 0.7);
  const Bstar = normal(r * d, 0.7);
  const A0 = normal(d * r, 0.3);
  const target = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        let delta = 0;
        for (let q = 0; q < r; q++) delta += Astar[k * r + q]! * Bstar[q * d + j]!;
        s += X[i * d + k]! * (W0[k * d + j]! + delta);
      }
      target[i * d + j] = s;
    }

  function build() {
    const g = new GraphBuilder('lora_fit');
    const x = g.input('x', 'float32', [n, d]);
    const y = g.input('target', 'float32', [n, d]);
    const base = g.initializer('W0', 'float32', [d, d], W0); // frozen: no gradient
    const A = g.input('lora_A', 'float32', [d, r]);
    const B = g.input('lora_B', 'float32', [r, d]);
    const out = add(matmul(x, base), matmul(matmul(x, A), B));
    const diff = sub(out, y);
    const loss = reduceMean(mul(diff, diff));
    const spec = buildTrainStep(g, loss, [A, B], { optimizer: 'adamw', beta1: 0.9, beta2: 0.98, maxGradNorm: 1.0 });
    return { bytes: g.encode(), spec };
  }

  async function train(steps: number): Promise<number[]> {
    const { bytes, spec } = build();
    const { session } = await createSession(bytes, 'cpu', { threads: 1 });
    const runner = new TrainStepRunner(session, spec, { lora_A: A0, lora_B: new Float32Array(r * d) });
    const feeds = { x: new ort.Tensor('float32', X, [n, d]), target: new ort.Tensor('float32', target, [n, d]) };
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) losses.push((await runner.step(feeds, 0.05)).loss);
    return losses;
  }

  test('step 0 is the base model exactly (B = 0), and 300 steps cut the loss below 1% of it', async () => {
    const losses = await train(300);
    let base = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += X[i * d + k]! * W0[k * d + j]!;
        base += (s - target[i * d + j]!) ** 2;
      }
    base /= n * d;
    close([losses[0]!], [base], 1e-4, 'initial loss');
    assert.ok(losses.at(-1)! < 0.01 * losses[0]!, `final loss ${losses.at(-1)} vs initial ${losses[0]}`);
  });

  test('training is deterministic for a seed', async () => {
    const [a, b] = [await train(20), await train(20)];
    assert.deepEqual(a, b);
  });
});

describe('sessions', () => {
  const tiny = () => {
    const g = new GraphBuilder('tiny');
    g.output(mul(g.input('x', 'float32', [2]), g.const(3)), 'y');
    return g.encode();
  };

  test('auto falls back from CUDA to CPU with the reason; cuda alone fails with it', async () => {
    const cuda = executionProviders().find((p) => p.name === 'cuda');
    const logs: string[] = [];
    const auto = await createSession(tiny(), 'auto', { log: (m) => logs.push(m) });
    if (cuda?.available) {
      assert.equal(auto.provider, 'cuda');
      return;
    }
    assert.equal(auto.provider, 'cpu');
    assert.match(auto.fallbackReason ?? '', /CUDA is not usable/);
    assert.deepEqual(logs, [], 'GPU support never set up: the CPU is simply the device, nothing to warn about');
    const y = await auto.session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
    assert.deepEqual(Array.from(y.y!.data as Float32Array), [3, 6]);
    await assert.rejects(createSession(tiny(), 'cuda'), /CUDA is not usable: .*Set "lift.device" to "auto" or "cpu"/);
  });
});
