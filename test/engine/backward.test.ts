/**
 * Every backward rule against central finite differences in float64 (worst error ≤ 1e-6 of
 * max(1, |numeric|)), broadcasting included. A rule without a case here does not ship: the
 * last test checks that every differentiable op in ops.ts has one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ops from '../../native/onnx/ops';
import { type Value } from '../../native/onnx/graph';
import { gradCheck, type InputSpec } from './gradcheck';

const TOL = 1e-6;
const covered = new Set<string>();

function check(name: string, ops_: string[], specs: InputSpec[], f: (...xs: Value[]) => Value): void {
  for (const o of ops_) covered.add(o);
  test(name, async () => {
    const r = await gradCheck(specs, f);
    assert.ok(r.checked > 0);
    assert.ok(r.worst <= TOL, `worst error ${r.worst.toExponential(2)} at ${r.where}`);
  });
}

const pos: [number, number] = [0.5, 2];

describe('backward rules vs finite differences (float64)', () => {
  check('Add, same shape', ['Add'], [{ shape: [3, 4] }, { shape: [3, 4] }], ops.add);
  check('Add, broadcast [2,1,4] + [3,1]', ['Add'], [{ shape: [2, 1, 4] }, { shape: [3, 1] }], ops.add);
  check('Sub, broadcast [3,4] − [4]', ['Sub'], [{ shape: [3, 4] }, { shape: [4] }], ops.sub);
  check('Mul, broadcast [2,3,4] · [1,3,1]', ['Mul'], [{ shape: [2, 3, 4] }, { shape: [1, 3, 1] }], ops.mul);
  check('Mul, value used twice (x·x)', ['Mul'], [{ shape: [5] }], (x) => ops.mul(x, x));
  check('Div, broadcast [3,4] / [3,1]', ['Div'], [{ shape: [3, 4] }, { shape: [3, 1], range: pos }], ops.div);
  check('Pow, constant exponent', ['Pow'], [{ shape: [2, 3], range: pos }], (x) => ops.pow(x, 2.5));
  check('Pow, both sides', ['Pow'], [{ shape: [2, 3], range: pos }, { shape: [3] }], (a, b) => ops.pow(a, b));
  check('Neg', ['Neg'], [{ shape: [4] }], ops.neg);
  check('Sqrt', ['Sqrt'], [{ shape: [2, 3], range: pos }], ops.sqrt);
  check('Exp', ['Exp'], [{ shape: [2, 3] }], ops.exp);
  check('Log', ['Log'], [{ shape: [2, 3], range: pos }], ops.log);
  check('Sigmoid', ['Sigmoid'], [{ shape: [2, 3], range: [-3, 3] }], ops.sigmoid);
  check('Tanh', ['Tanh'], [{ shape: [2, 3], range: [-2, 2] }], ops.tanh);
  check('Sin', ['Sin'], [{ shape: [2, 3], range: [-3, 3] }], ops.sin);
  check('Cos', ['Cos'], [{ shape: [2, 3], range: [-3, 3] }], ops.cos);
  check('Reciprocal', ['Reciprocal'], [{ shape: [4], range: pos }], ops.reciprocal);
  check('MatMul 2-D', ['MatMul'], [{ shape: [3, 4] }, { shape: [4, 5] }], ops.matmul);
  check('MatMul batched × matrix', ['MatMul'], [{ shape: [2, 3, 4] }, { shape: [4, 5] }], ops.matmul);
  check('MatMul broadcast batch [2,1,3,4] × [3,4,2]', ['MatMul'], [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }], ops.matmul);
  check('Gemm with C', ['Gemm'], [{ shape: [3, 4] }, { shape: [4, 2] }, { shape: [2] }], (a, b, c) => ops.gemm(a, b, c, { alpha: 0.7, beta: 1.3 }));
  check('Gemm transA, transB', ['Gemm'], [{ shape: [4, 3] }, { shape: [2, 4] }, { shape: [3, 2] }], (a, b, c) =>
    ops.gemm(a, b, c, { transA: true, transB: true, alpha: 1.5 }),
  );
  check('Softmax last axis', ['Softmax'], [{ shape: [3, 5], range: [-2, 2] }], (x) => ops.softmax(x, -1));
  check('Softmax axis 0', ['Softmax'], [{ shape: [3, 2, 2] }], (x) => ops.softmax(x, 0));
  check('LogSoftmax', ['LogSoftmax'], [{ shape: [2, 6], range: [-2, 2] }], (x) => ops.logSoftmax(x, -1));
  check('ReduceSum over an axis', ['ReduceSum'], [{ shape: [3, 4] }], (x) => ops.reduceSum(x, [1]));
  check('ReduceSum keepdims, negative axis', ['ReduceSum'], [{ shape: [2, 3, 4] }], (x) => ops.reduceSum(x, [-2], true));
  check('ReduceSum of everything', ['ReduceSum'], [{ shape: [2, 3] }], (x) => ops.reduceSum(x));
  check('ReduceMean', ['ReduceMean'], [{ shape: [2, 3, 4] }], (x) => ops.reduceMean(x, [0, 2], true));
  check('Reshape', ['Reshape'], [{ shape: [2, 6] }], (x) => ops.reshape(x, [3, -1]));
  check('Transpose', ['Transpose'], [{ shape: [2, 3, 4] }], (x) => ops.transpose(x, [2, 0, 1]));
  check('Unsqueeze', ['Unsqueeze'], [{ shape: [3, 4] }], (x) => ops.mul(ops.unsqueeze(x, [0, -1]), ops.unsqueeze(x, [0, 3])));
  check('Squeeze', ['Squeeze'], [{ shape: [3, 1, 4] }], (x) => ops.squeeze(x, [1]));
  check('Expand', ['Expand'], [{ shape: [3, 1] }], (x) => ops.expand(x, [2, 3, 4]));
  check('Concat of three', ['Concat'], [{ shape: [2, 1] }, { shape: [2, 3] }, { shape: [2, 2] }], (a, b, c) => ops.concat([a, b, c], 1));
  check('Split, both parts used', ['Split'], [{ shape: [5, 2] }], (x) => {
    const [a, b] = ops.split(x, [2, 3], 0);
    return ops.add(ops.reduceSum(a!, [0]), ops.reduceMean(ops.mul(b!, b!), [0]));
  });
  check('Split, one part unused', ['Split'], [{ shape: [2, 5] }], (x) => ops.split(x, [1, 4], 1)[1]!);
  check('Slice with negative end', ['Slice'], [{ shape: [4, 6] }], (x) => ops.slice(x, [1, 2], [-1, 5], [0, 1]));
  check('Pad', ['Pad'], [{ shape: [2, 3] }], (x) => ops.pad(x, [1, 0, 0, 2]));
  check('Gather rows with a repeated index', ['Gather'], [{ shape: [5, 3] }], (x) => ops.gather(x, x.graph.initializer('idx', 'int64', [2, 2], [4, 0, 4, 2])));
  check('GatherElements', ['GatherElements'], [{ shape: [3, 4] }], (x) => ops.gatherElements(x, x.graph.initializer('idx', 'int64', [3, 2], [0, 3, 1, 1, 2, 0]), 1));
  check('Where with broadcast', ['Where'], [{ shape: [3, 4] }, { shape: [4] }], (a, b) =>
    ops.where(a.graph.initializer('c', 'bool', [3, 1], [1, 0, 1]), a, b),
  );
  // Same-type cast: the rule's wiring in float64 (a float32 round trip would drown the finite
  // difference in rounding); the float32 path is checked for dtypes in builder.test.ts.
  check('Cast', ['Cast'], [{ shape: [3] }], (x) => ops.mul(ops.cast(x, 'float64'), x));
  check('Identity (named output)', ['Identity'], [{ shape: [2] }], (x) => x.graph.output(ops.neg(x), 'named'));
  check('cross-entropy with an ignore mask', ['LogSoftmax', 'GatherElements', 'ReduceSum', 'Max', 'Div'], [{ shape: [2, 3, 5], range: [-2, 2] }], (logits) => {
    const g = logits.graph;
    const targets = g.initializer('targets', 'int64', [2, 3], [1, 4, 0, 2, 2, 3]);
    const mask = g.initializer('mask', 'float64', [2, 3], [1, 1, 0, 1, 0, 1]);
    return ops.crossEntropy(logits, targets, mask);
  });

  test('every differentiable op has a gradient check', () => {
    const differentiable = Object.values(ops)
      .filter((v): v is ops.OpDef => typeof v === 'object' && v !== null && 'infer' in v && 'backward' in v && typeof v.backward === 'function')
      .map((d) => d.type);
    assert.deepEqual(differentiable.filter((t) => !covered.has(t)), []);
  });
});
