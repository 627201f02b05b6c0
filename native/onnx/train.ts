/**
 * Turns a forward graph with a scalar loss into one training step: gradients by the autodiff,
 * optional global-norm clipping, and the optimizer update, all in the graph. The returned
 * names tell the runtime which outputs feed which inputs on the next step.
 *
 * Gradient accumulation: a batch dimension in the inputs averages over examples within one
 * run; with `accumulate`, micro-batches across runs add into accumulator state and the update
 * happens on the run whose `apply` input is true (an If: the other runs skip the optimizer).
 */
import { gradients } from './autodiff';
import { type GraphBuilder, GraphError, type Value } from './graph';
import { adamw, clipByGlobalNorm, sgd } from './optim';
import { add, div, ifElse, lessOrEqual, mul, reduceSum, scalar, sub, where, zerosLike } from './ops';

export interface TrainStepOptions {
  optimizer: 'adamw' | 'sgd';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip gradients to this global L2 norm (none when absent). */
  maxGradNorm?: number;
  /** Accumulate gradients over runs; the update uses their mean on runs with apply = true. */
  accumulate?: boolean;
  /**
   * Loss scaling (for half-precision backward passes): gradients of loss × scale, divided by
   * scale before clipping and the update; a step whose gradients overflow to infinity or NaN
   * leaves the parameters and moments as they were. The loss output stays unscaled. A number is
   * a static scale; `dynamic` makes the scale a graph input (`loss_scale`) that the runner
   * lowers after an overflow and raises after a run of good steps (needs `maxGradNorm`: a
   * non-finite gradient norm is how the runner sees the overflow).
   */
  lossScale?: number | 'dynamic';
}

export type StateKind = 'param' | 'm' | 'v' | 'acc';

export interface TrainStepSpec {
  /** Scalar inputs: learning rate, and (AdamW) the 1-based optimizer step number. */
  lr: string;
  step?: string;
  /** With accumulation: bool input (update now?) and the number of micro-batches so far, this one included. */
  apply?: string;
  microBatches?: string;
  /** Absent for an update-only graph (buildUpdateStep). */
  loss?: string;
  gradNorm?: string;
  /** With dynamic loss scaling: the scalar input that carries the current scale. */
  lossScale?: string;
  /** For each state input (parameter, moment, accumulator), the output that replaces it after a run. */
  state: { input: string; output: string; shape: readonly (number | string)[]; kind: StateKind }[];
}

/** `params` must be graph inputs of `g` (trainable values pass in and out each step). */
export function buildTrainStep(g: GraphBuilder, loss: Value, params: readonly Value[], o: TrainStepOptions): TrainStepSpec {
  checkTrainable(g, params);
  const scale = lossScaleOf(g, o, loss.dtype);
  const grads = scale ? gradients(mul(loss, typeof scale === 'number' ? scalar(loss, scale) : scale), params) : gradients(loss, params);
  return finishStep(g, params, grads, o, scale, loss);
}

/**
 * The update alone, for gradients computed elsewhere (activation recomputation computes them
 * across sessions): each parameter's gradient is a graph input (gradInput: `<param>.grad`), of the loss
 * × `lossScale` when one is given. The spec has no loss.
 */
export function buildUpdateStep(g: GraphBuilder, params: readonly Value[], o: TrainStepOptions): TrainStepSpec {
  checkTrainable(g, params);
  if (o.accumulate) throw new GraphError('buildUpdateStep: accumulate the gradients before the update instead');
  const scale = lossScaleOf(g, o, params[0]?.dtype ?? 'float32');
  const grads = params.map((p) => g.input(gradInput(p.name), p.dtype, p.shape));
  return finishStep(g, params, grads, o, scale);
}

/** The update graph's input for a parameter's gradient. */
export const gradInput = (param: string): string => `${param}.grad`;

function checkTrainable(g: GraphBuilder, params: readonly Value[]): void {
  for (const p of params) if (!g.inputs.includes(p)) throw new GraphError(`trainable ${p.name} must be a graph input, not an initializer or a computed value`);
}

/** The loss scale: none, a static number, or (dynamic) the `loss_scale` input. */
function lossScaleOf(g: GraphBuilder, o: TrainStepOptions, dtype: Value['dtype']): number | Value | undefined {
  if (o.lossScale === 'dynamic') {
    if (o.maxGradNorm === undefined) throw new GraphError('dynamic loss scaling needs maxGradNorm: the gradient norm tells the runner about an overflow');
    return g.input('loss_scale', dtype, []);
  }
  return o.lossScale && o.lossScale !== 1 ? o.lossScale : undefined;
}

/** Unscaling, clipping, the optimizer (or accumulation) and the named outputs, from (scaled) gradients. */
function finishStep(g: GraphBuilder, params: readonly Value[], scaledGrads: readonly Value[], o: TrainStepOptions, scale: number | Value | undefined, loss?: Value): TrainStepSpec {
  const dtype = loss?.dtype ?? params[0]?.dtype ?? 'float32';
  const lr = g.input('lr', dtype, []);
  const step = o.optimizer === 'adamw' ? g.input('step', dtype, []) : undefined;
  const moments = step ? params.map((p) => ({ m: g.input(`${p.name}.m`, p.dtype, p.shape), v: g.input(`${p.name}.v`, p.dtype, p.shape) })) : [];
  const grads = scale === undefined ? [...scaledGrads] : scaledGrads.map((gr) => (typeof scale === 'number' ? mul(gr, scalar(gr, 1 / scale)) : div(gr, scale)));

  /** The update from (mean) gradients: new params, then moments, then the gradient norm if clipping. */
  const update = (gs: Value[]): Value[] => {
    const out = updateFrom(gs);
    if (!scale) return out;
    // a scaled loss can overflow: a step with non-finite gradients is skipped (state unchanged)
    const sq = gs.map((gr) => reduceSum(mul(gr, gr))).reduce((a, b) => add(a, b));
    const finite = lessOrEqual(sub(sq, sq), scalar(sq, 0)); // inf − inf and NaN − NaN are NaN
    const old = [...params, ...moments.flatMap((x) => [x.m, x.v])];
    return out.map((v, i) => (i < old.length ? where(finite, v, old[i]!) : v));
  };
  const updateFrom = (gs: Value[]): Value[] => {
    let norm: Value[] = [];
    if (o.maxGradNorm !== undefined) {
      const clipped = clipByGlobalNorm(gs, o.maxGradNorm);
      gs = clipped.grads;
      norm = [clipped.norm];
    }
    if (!step) return [...sgd(params.map((param, i) => ({ param, grad: gs[i]! })), lr), ...norm];
    const next = adamw(
      params.map((param, i) => ({ param, grad: gs[i]!, ...moments[i]! })),
      { lr, step, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
    );
    return [...next.map((x) => x.param), ...next.flatMap((x) => [x.m, x.v]), ...norm];
  };

  const spec: TrainStepSpec = { lr: lr.name, step: step?.name, loss: loss && g.output(loss, 'loss').name, lossScale: typeof scale === 'object' ? scale.name : undefined, state: [] };
  const stateIn: { v: Value; kind: StateKind }[] = [
    ...params.map((v) => ({ v, kind: 'param' as const })),
    ...moments.flatMap((x) => [
      { v: x.m, kind: 'm' as const },
      { v: x.v, kind: 'v' as const },
    ]),
  ];
  let outs: Value[];
  if (!o.accumulate) {
    outs = update(grads);
  } else {
    const apply = g.input('apply', 'bool', []);
    const micro = g.input('micro_batches', dtype, []);
    const accs = params.map((p) => g.input(`${p.name}.acc`, p.dtype, p.shape));
    const sums = grads.map((gr, i) => add(accs[i]!, gr));
    const unchanged = stateIn.map((s) => s.v);
    const noNorm = (b: GraphBuilder): Value[] => (o.maxGradNorm !== undefined ? [b.const(0, dtype)] : []);
    outs = ifElse(
      apply,
      () => {
        const u = update(sums.map((s) => div(s, micro)));
        return [...u.slice(0, unchanged.length), ...accs.map((a) => zerosLike(a)), ...u.slice(unchanged.length)];
      },
      (b) => [...unchanged, ...sums, ...noNorm(b)],
    );
    stateIn.push(...accs.map((v) => ({ v, kind: 'acc' as const })));
    spec.apply = apply.name;
    spec.microBatches = micro.name;
  }
  // Name the outputs and pair each with the state input it replaces.
  spec.state = stateIn.map(({ v, kind }, i) => ({ input: v.name, output: g.output(outs[i]!, `${v.name}.next`).name, shape: v.shape, kind }));
  if (o.maxGradNorm !== undefined) spec.gradNorm = g.output(outs[stateIn.length]!, 'grad_norm').name;
  return spec;
}
