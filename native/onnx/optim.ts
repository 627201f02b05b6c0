/**
 * Optimizers appended to a training graph: the update runs inside the same session.run as the
 * forward and backward passes. Parameters and moments come in as inputs and go out updated.
 */
import { type Value, GraphError } from './graph';
import { add, div, max, mul, pow, reduceSum, sqrt, sub } from './ops';

export interface ParamState {
  param: Value;
  grad: Value;
}

/** Global-norm clipping: scales every gradient by min(1, maxNorm / ‖g‖); also returns ‖g‖. */
export function clipByGlobalNorm(grads: readonly Value[], maxNorm: number): { grads: Value[]; norm: Value } {
  if (grads.length === 0) throw new GraphError('clipByGlobalNorm: no gradients');
  const g0 = grads[0]!;
  const sq = grads.map((gr) => reduceSum(mul(gr, gr))).reduce((a, b) => add(a, b));
  const norm = sqrt(sq);
  const c = (v: number): Value => g0.graph.const(v, g0.dtype);
  // scale = maxNorm / max(norm, maxNorm) = min(1, maxNorm/norm), safe at norm = 0
  const scale = div(c(maxNorm), max(norm, c(maxNorm)));
  return { grads: grads.map((gr) => mul(gr, scale)), norm };
}

/** Plain SGD: p ← p − lr·g. */
export function sgd(params: readonly ParamState[], lr: Value): Value[] {
  return params.map(({ param, grad }) => sub(param, mul(lr, grad)));
}

export interface AdamWOptions {
  lr: Value;
  /** The 1-based step number, float scalar input, for bias correction. */
  step: Value;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState extends ParamState {
  m: Value;
  v: Value;
}

/**
 * AdamW (Loshchilov & Hutter; as torch.optim.AdamW): bias-corrected moments, decoupled weight
 * decay p ← p − lr·wd·p, then p ← p − lr·m̂/(√v̂ + ε).
 */
export function adamw(states: readonly AdamWState[], o: AdamWOptions): { param: Value; m: Value; v: Value }[] {
  const { lr, step } = o;
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? 0;
  const c = (v: number): Value => lr.graph.const(v, lr.dtype);
  const corr1 = sub(c(1), pow(c(b1), step));
  const corr2 = sub(c(1), pow(c(b2), step));
  return states.map(({ param, grad, m, v }) => {
    const m1 = add(mul(c(b1), m), mul(c(1 - b1), grad));
    const v1 = add(mul(c(b2), v), mul(c(1 - b2), mul(grad, grad)));
    const mhat = div(m1, corr1);
    const vhat = div(v1, corr2);
    const decayed = wd ? sub(param, mul(mul(lr, c(wd)), param)) : param;
    const updated = sub(decayed, mul(lr, div(mhat, add(sqrt(vhat), c(eps)))));
    return { param: updated, m: m1, v: v1 };
  });
}
