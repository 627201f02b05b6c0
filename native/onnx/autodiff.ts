/**
 * Reverse-mode automatic differentiation over a GraphBuilder's recorded nodes. Gradients are
 * emitted into the same graph with the ops' own backward rules (ops.ts): only for nodes on a
 * path from a parameter to the loss, summed where a value is used more than once.
 */
import { GraphError, isFloat, type OpNode, recordInto, type Value } from './graph';
import { add as addOp, zerosLike } from './ops';

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (same order). A parameter the
 * loss does not depend on gets zeros. Frozen values (not in `wrt`) get no gradient nodes.
 */
export function gradients(loss: Value, wrt: readonly Value[]): Value[] {
  const g = loss.graph;
  if (loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new GraphError(`gradients: the loss must be a scalar, got ${loss}`);
  }
  for (const w of wrt) {
    if (!g.sees(w)) throw new GraphError(`gradients: ${w.name} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new GraphError(`gradients: ${w} is not floating-point`);
  }
  // The forward graph as it is now (the loss's graph and those enclosing it, in creation
  // order); rules append gradient nodes to the loss's graph.
  const nodes = g.chain().flatMap((x) => x.nodes).sort((a, b) => a.seq - b.seq);

  // Values that depend on a parameter (forward sweep)…
  const dependsOnWrt = new Set<Value>(wrt);
  const reads = (n: OpNode): readonly Value[] => (n.captures ? [...n.inputs, ...n.captures] : n.inputs);
  for (const n of nodes) if (reads(n).some((v) => dependsOnWrt.has(v))) for (const o of n.outputs) dependsOnWrt.add(o);
  if (!dependsOnWrt.has(loss)) return recordInto(g, () => wrt.map((w) => zerosLike(w)));
  // …and nodes the loss depends on through them (backward sweep).
  const producer = new Map<Value, OpNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const onPath = new Set<OpNode>();
  const stack = [loss];
  const seen = new Set<Value>();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const n = producer.get(v);
    if (!n || !dependsOnWrt.has(v)) continue;
    onPath.add(n);
    for (const i of reads(n)) if (dependsOnWrt.has(i)) stack.push(i);
  }

  const add = (a: Value, b: Value): Value => recordInto(g, () => addOp(a, b));
  const contributions = new Map<Value, Value[]>();
  const contribute = (v: Value, grad: Value): void => {
    const list = contributions.get(v);
    if (list) list.push(grad);
    else contributions.set(v, [grad]);
  };
  const total = (v: Value): Value | undefined => {
    const list = contributions.get(v);
    if (!list?.length) return undefined;
    const sum = list.reduce((acc, x) => add(acc, x));
    contributions.set(v, [sum]);
    return sum;
  };

  contribute(loss, g.const(1, loss.dtype));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!onPath.has(n)) continue;
    const gy = n.outputs.map(total);
    if (gy.every((x) => x === undefined)) continue;
    if (!n.def.backward) {
      throw new GraphError(`gradients: ${n.def.type} (${n.outputs.map((o) => o.name).join(', ')}) has no backward rule, but ${[...new Set(reads(n).filter((v) => dependsOnWrt.has(v)).map((v) => v.name))].join(', ')} needs a gradient through it`);
    }
    const grads = recordInto(g, () => n.def.backward!({ node: n, inputs: n.inputs, outputs: n.outputs, gy }));
    n.inputs.forEach((input, k) => {
      const gi = grads[k];
      if (gi && dependsOnWrt.has(input) && isFloat(input.dtype)) contribute(input, gi);
    });
  }
  return wrt.map((w) => total(w) ?? recordInto(g, () => zerosLike(w)));
}
