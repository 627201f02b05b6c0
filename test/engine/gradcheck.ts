/**
 * Gradient checks: analytic gradients (our autodiff, run by ONNX Runtime) against central
 * finite differences of the same graph, in float64.
 */
import * as ort from 'onnxruntime-node';
import { gradients } from '../../native/onnx/autodiff';
import { GraphBuilder, type Value } from '../../native/onnx/graph';
import { mul, reduceSum } from '../../native/onnx/ops';

/** Deterministic uniform numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InputSpec {
  shape: number[];
  /** Range of the random values (default [-1, 1]). */
  range?: [number, number];
  /** Whether to check this input's gradient (default true). */
  grad?: boolean;
}

export interface GradCheckResult {
  worst: number;
  checked: number;
  where: string;
}

const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Builds `f` on float64 inputs, forms loss = Σ f(x)·R for a fixed random R, and compares
 * d loss/d x from the autodiff with (L(x+h) − L(x−h)) / 2h for every element of every checked
 * input. Returns the worst |analytic − numeric| / max(1, |numeric|).
 */
export async function gradCheck(specs: InputSpec[], f: (...xs: Value[]) => Value, seed = 1, h = 1e-6): Promise<GradCheckResult> {
  const rand = rng(seed);
  const g = new GraphBuilder('gradcheck');
  const xs = specs.map((s, i) => g.input(`x${i}`, 'float64', s.shape));
  const y = f(...xs);
  if (y.dtype !== 'float64') throw new Error(`f returned ${y.dtype}`);
  const yShape = y.shape.map((d) => {
    if (typeof d !== 'number') throw new Error('gradCheck needs static output shapes');
    return d;
  });
  const r = g.initializer('R', 'float64', yShape, Array.from({ length: count(yShape) }, () => rand() * 2 - 1));
  const loss = g.output(reduceSum(mul(y, r)), 'loss');
  const checked = xs.filter((_, i) => specs[i]!.grad !== false);
  const grads = gradients(loss, checked);
  grads.forEach((gr, i) => g.output(gr, `grad_${checked[i]!.name}`));
  const session = await ort.InferenceSession.create(g.encode());
  try {
    const data = specs.map((s) => {
      const [lo, hi] = s.range ?? [-1, 1];
      return Float64Array.from({ length: count(s.shape) }, () => lo + (hi - lo) * rand());
    });
    const feeds = (): Record<string, ort.Tensor> =>
      Object.fromEntries(xs.map((x, i) => [x.name, new ort.Tensor('float64', data[i]!, specs[i]!.shape)]));
    const base = await session.run(feeds());
    let worst = 0;
    let where = '';
    let n = 0;
    for (const [ci, x] of checked.entries()) {
      const i = xs.indexOf(x);
      const analytic = base[`grad_${x.name}`]!.data as Float64Array;
      const d = data[i]!;
      for (let j = 0; j < d.length; j++) {
        const orig = d[j]!;
        d[j] = orig + h;
        const plus = ((await session.run(feeds(), ['loss'])).loss!.data as Float64Array)[0]!;
        d[j] = orig - h;
        const minus = ((await session.run(feeds(), ['loss'])).loss!.data as Float64Array)[0]!;
        d[j] = orig;
        const numeric = (plus - minus) / (2 * h);
        const err = Math.abs(analytic[j]! - numeric) / Math.max(1, Math.abs(numeric));
        n++;
        if (err > worst || Number.isNaN(err)) {
          worst = Number.isNaN(err) ? Infinity : err;
          where = `input ${ci} element ${j}: analytic ${analytic[j]}, numeric ${numeric}`;
        }
      }
    }
    return { worst, checked: n, where };
  } finally {
    await session.release();
  }
}
