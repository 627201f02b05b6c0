/**
 * Turns a forward graph with a scalar loss into one training step: gradients by the autodiff,
 * optional global-norm clipping, and the optimizer update, all in the graph. The returned
 * names tell the runtime which outputs feed which inputs on the next step.
 */
import { gradients } from './autodiff';
import { type GraphBuilder, GraphError, type Value } from './graph';
import { adamw, clipByGlobalNorm, sgd } from './optim';

export interface TrainStepOptions {
  optimizer: 'adamw' | 'sgd';
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip gradients to this global L2 norm (none when absent). */
  maxGradNorm?: number;
}

export interface TrainStepSpec {
  /** Scalar inputs: learning rate, and (AdamW) the 1-based step number. */
  lr: string;
  step?: string;
  loss: string;
  gradNorm?: string;
  /** For each state input (parameter or moment), the output that replaces it after a step. */
  state: { input: string; output: string; shape: readonly (number | string)[]; kind: 'param' | 'm' | 'v' }[];
}

/** `params` must be graph inputs of `g` (trainable values pass in and out each step). */
export function buildTrainStep(g: GraphBuilder, loss: Value, params: readonly Value[], o: TrainStepOptions): TrainStepSpec {
  for (const p of params) if (!g.inputs.includes(p)) throw new GraphError(`trainable ${p.name} must be a graph input, not an initializer or a computed value`);
  const dtype = loss.dtype;
  const lr = g.input('lr', dtype, []);
  let grads = gradients(loss, params);
  let gradNorm: Value | undefined;
  if (o.maxGradNorm !== undefined) {
    const clipped = clipByGlobalNorm(grads, o.maxGradNorm);
    grads = clipped.grads;
    gradNorm = g.output(clipped.norm, 'grad_norm');
  }
  const lossOut = g.output(loss, 'loss');
  const state: TrainStepSpec['state'] = [];
  if (o.optimizer === 'sgd') {
    const next = sgd(params.map((param, i) => ({ param, grad: grads[i]! })), lr);
    params.forEach((p, i) => state.push({ input: p.name, output: g.output(next[i]!, `${p.name}.next`).name, shape: p.shape, kind: 'param' }));
    return { lr: lr.name, loss: lossOut.name, gradNorm: gradNorm?.name, state };
  }
  const step = g.input('step', dtype, []);
  const moments = params.map((p) => ({ m: g.input(`${p.name}.m`, p.dtype, p.shape), v: g.input(`${p.name}.v`, p.dtype, p.shape) }));
  const next = adamw(
    params.map((param, i) => ({ param, grad: grads[i]!, ...moments[i]! })),
    { lr, step, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
  );
  params.forEach((p, i) => {
    const { m, v } = moments[i]!;
    state.push({ input: p.name, output: g.output(next[i]!.param, `${p.name}.next`).name, shape: p.shape, kind: 'param' });
    state.push({ input: m.name, output: g.output(next[i]!.m, `${p.name}.m.next`).name, shape: p.shape, kind: 'm' });
    state.push({ input: v.name, output: g.output(next[i]!.v, `${p.name}.v.next`).name, shape: p.shape, kind: 'v' });
  });
  return { lr: lr.name, step: step.name, loss: lossOut.name, gradNorm: gradNorm?.name, state };
}
