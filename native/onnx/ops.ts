/**
 * The ops the engine emits. Each op is stated once: its shape/dtype inference and, for
 * differentiable ops, its backward rule right beside it, written with the same ops.
 *
 * A backward rule receives the gradients of the node's outputs (`gy`) and returns one gradient
 * per input (undefined where the input takes none, e.g. integer indices). Rules may assume
 * static or symbolic shapes; gradients are summed back to each input's shape (`unbroadcast`).
 */
import { type DType, type GraphBuilder, GraphError, graphFor, identityOp, type OpNode, recordInto, type Shape, Value, attr, floatAttr, intAttr, intsAttr, isFloat, numel, showShape } from './graph';
import type { AttributeValue } from './model';

export interface OutputInfo {
  dtype: DType;
  shape: Shape;
  constInts?: readonly number[];
}

export interface BackwardContext {
  node: OpNode;
  inputs: readonly Value[];
  outputs: readonly Value[];
  /** Gradient of each output; undefined when no gradient flows into it. */
  gy: readonly (Value | undefined)[];
}

export interface OpDef {
  type: string;
  domain?: string;
  infer(inputs: readonly Value[], attrs: Readonly<Record<string, AttributeValue>>): OutputInfo[];
  /** Absent: the op is not differentiable (integer-valued, comparisons, shape ops). */
  backward?(ctx: BackwardContext): (Value | undefined)[];
}

// ---------------------------------------------------------------------------------------------
// Shape helpers

const fail = (msg: string): never => {
  throw new GraphError(msg);
};

function sameDtype(op: string, vs: readonly Value[]): DType {
  const t = vs[0]!.dtype;
  for (const v of vs) if (v.dtype !== t) fail(`${op}: dtypes differ (${vs.map((x) => x.dtype).join(' vs ')})`);
  return t;
}

function requireFloat(v: Value): void {
  if (!isFloat(v.dtype)) fail(`needs a floating-point input, got ${v.dtype}`);
}

/** Numpy broadcasting with symbolic dims (equal names match; a name against 1 wins). */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: (number | string)[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === 'string' && typeof db === 'number') out.push(db);
    else if (typeof db === 'string' && typeof da === 'number') out.push(da);
    else fail(`shapes ${showShape(a)} and ${showShape(b)} do not broadcast`);
  }
  return out;
}

const normAxis = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
};

function constInts(v: Value | undefined, what: string): readonly number[] {
  if (!v?.constInts) return fail(`${what} must be an int64 constant`);
  return v.constInts;
}

const isStatic = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number');

// ---------------------------------------------------------------------------------------------
// Building blocks used by the rules

function unary(type: string, backward?: OpDef['backward']): OpDef {
  return {
    type,
    infer: ([x]) => {
      requireFloat(x!);
      return [{ dtype: x!.dtype, shape: x!.shape }];
    },
    backward,
  };
}

function binary(type: string, backward?: OpDef['backward']): OpDef {
  return { type, infer: (vs) => [{ dtype: sameDtype(type, vs), shape: broadcastShapes(vs[0]!.shape, vs[1]!.shape) }], backward };
}

function comparison(type: string): OpDef {
  return { type, infer: (vs) => (sameDtype(type, vs), [{ dtype: 'bool', shape: broadcastShapes(vs[0]!.shape, vs[1]!.shape) }]) };
}

const one = (_like: Value, def: OpDef, inputs: Value[], attrs?: Record<string, AttributeValue>, hint?: string): Value =>
  graphFor(inputs).apply(def, inputs, attrs, hint)[0]!;

/** A scalar constant of `like`'s dtype. */
export function scalar(like: Value, value: number): Value {
  return like.graph.const(value, like.dtype);
}

/** Sums `grad` (the broadcast result's shape) back to `target`'s shape. */
export function unbroadcast(grad: Value, target: Value): Value {
  const gs = grad.shape;
  const ts = target.shape;
  const lead = gs.length - ts.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) axes.push(i);
    else if (ts[i - lead] === 1 && gs[i] !== 1) axes.push(i);
  }
  if (axes.length === 0 && lead === 0) return grad;
  const summed = reduceSum(grad, axes, true);
  return reshapeLike(summed, target);
}

// ---------------------------------------------------------------------------------------------
// Elementwise

export const Add: OpDef = binary('Add', ({ inputs: [a, b], gy: [gy] }) => [unbroadcast(gy!, a!), unbroadcast(gy!, b!)]);
export const Sub: OpDef = binary('Sub', ({ inputs: [a, b], gy: [gy] }) => [unbroadcast(gy!, a!), unbroadcast(neg(gy!), b!)]);
export const Mul: OpDef = binary('Mul', ({ inputs: [a, b], gy: [gy] }) => [unbroadcast(mul(gy!, b!), a!), unbroadcast(mul(gy!, a!), b!)]);
// d(a/b) = gy/b, -gy·a/b² = -gy·y/b
export const Div: OpDef = binary('Div', ({ inputs: [a, b], outputs: [y], gy: [gy] }) => [
  unbroadcast(div(gy!, b!), a!),
  unbroadcast(neg(div(mul(gy!, y!), b!)), b!),
]);
// d(aᵇ) = gy·b·aᵇ⁻¹ (for a), gy·y·ln a (for b)
export const Pow: OpDef = binary('Pow', ({ inputs: [a, b], outputs: [y], gy: [gy] }) => [
  unbroadcast(mul(gy!, mul(b!, pow(a!, sub(b!, scalar(b!, 1))))), a!),
  unbroadcast(mul(gy!, mul(y!, log(a!))), b!),
]);
export const Neg: OpDef = unary('Neg', ({ gy: [gy] }) => [neg(gy!)]);
export const Sqrt: OpDef = unary('Sqrt', ({ outputs: [y], gy: [gy] }) => [div(gy!, mul(scalar(y!, 2), y!))]);
export const Exp: OpDef = unary('Exp', ({ outputs: [y], gy: [gy] }) => [mul(gy!, y!)]);
export const Log: OpDef = unary('Log', ({ inputs: [x], gy: [gy] }) => [div(gy!, x!)]);
export const Sigmoid: OpDef = unary('Sigmoid', ({ outputs: [y], gy: [gy] }) => [mul(gy!, mul(y!, sub(scalar(y!, 1), y!)))]);
export const Tanh: OpDef = unary('Tanh', ({ outputs: [y], gy: [gy] }) => [mul(gy!, sub(scalar(y!, 1), mul(y!, y!)))]);
export const Sin: OpDef = unary('Sin', ({ inputs: [x], gy: [gy] }) => [mul(gy!, cos(x!))]);
export const Cos: OpDef = unary('Cos', ({ inputs: [x], gy: [gy] }) => [neg(mul(gy!, sin(x!)))]);
export const Reciprocal: OpDef = unary('Reciprocal', ({ outputs: [y], gy: [gy] }) => [neg(mul(gy!, mul(y!, y!)))]);
export const Max: OpDef = binary('Max');
export const Min: OpDef = binary('Min');
export const Equal: OpDef = comparison('Equal');
export const Less: OpDef = comparison('Less');
export const LessOrEqual: OpDef = comparison('LessOrEqual');
export const Greater: OpDef = comparison('Greater');
export const Not: OpDef = { type: 'Not', infer: ([x]) => (x!.dtype !== 'bool' && fail('Not takes bool'), [{ dtype: 'bool', shape: x!.shape }]) };
export const And: OpDef = {
  type: 'And',
  infer: ([a, b]) => ((a!.dtype !== 'bool' || b!.dtype !== 'bool') && fail(`And takes bool, got ${a!.dtype} and ${b!.dtype}`), [{ dtype: 'bool', shape: broadcastShapes(a!.shape, b!.shape) }]),
};

export const Where: OpDef = {
  type: 'Where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') fail(`condition must be bool, got ${c!.dtype}`);
    return [{ dtype: sameDtype('Where', [a!, b!]), shape: broadcastShapes(c!.shape, broadcastShapes(a!.shape, b!.shape)) }];
  },
  backward: ({ inputs: [c, a, b], gy: [gy] }) => {
    const zero = scalar(gy!, 0);
    return [undefined, unbroadcast(where(c!, gy!, zero), a!), unbroadcast(where(c!, zero, gy!), b!)];
  },
};

export const Cast: OpDef = {
  type: 'Cast',
  infer: ([x], attrs) => [{ dtype: castTarget(attrs), shape: x!.shape }],
  backward: ({ inputs: [x], gy: [gy] }) => [isFloat(x!.dtype) ? cast(gy!, x!.dtype) : undefined],
};
const CAST_CODES: Record<number, DType> = { 1: 'float32', 11: 'float64', 10: 'float16', 7: 'int64', 6: 'int32', 2: 'uint8', 9: 'bool' };
function castTarget(attrs: Readonly<Record<string, AttributeValue>>): DType {
  return CAST_CODES[intAttr(attrs, 'to')] ?? fail('unsupported Cast target');
}

// ---------------------------------------------------------------------------------------------
// Matrix products

function matmulShape(a: Shape, b: Shape): Shape {
  if (a.length < 2 || b.length < 2) fail('MatMul here needs rank ≥ 2 on both sides (reshape vectors first)');
  const k1 = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  if (k1 !== k2 && typeof k1 === 'number' && typeof k2 === 'number') fail(`inner dimensions differ: ${showShape(a)} × ${showShape(b)}`);
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  return [...batch, a[a.length - 2]!, b[b.length - 1]!];
}

/** Swaps the last two axes. */
export function transposeLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

export const MatMul: OpDef = {
  type: 'MatMul',
  infer: ([a, b]) => [{ dtype: sameDtype('MatMul', [a!, b!]), shape: matmulShape(a!.shape, b!.shape) }],
  // y = a·b: da = gy·bᵀ, db = aᵀ·gy, each summed over broadcast batch dims
  backward: ({ inputs: [a, b], gy: [gy] }) => [unbroadcast(matmul(gy!, transposeLast(b!)), a!), unbroadcast(matmul(transposeLast(a!), gy!), b!)],
};

/**
 * ONNX Runtime's MatMulNBits (com.microsoft): x [..., K] · W for a block-wise 4- or 8-bit W
 * stored as uint8 [N, blocks, blockSize·bits/8] with float scales [N·blocks] (model/quantize.ts);
 * frozen weights only, so no backward rule.
 */
export const MatMulNBits: OpDef = {
  type: 'MatMulNBits',
  domain: 'com.microsoft',
  infer: ([x, packed, scales], attrs) => {
    const K = intAttr(attrs, 'K');
    const N = intAttr(attrs, 'N');
    const bits = intAttr(attrs, 'bits');
    const block = intAttr(attrs, 'block_size');
    if (x!.dtype !== 'float32') fail(`MatMulNBits takes float32 activations, got ${x!.dtype}`);
    const k = x!.shape[x!.rank - 1];
    if (typeof k === 'number' && k !== K) fail(`MatMulNBits: the input's last dimension is ${k}, K is ${K}`);
    const blocks = Math.ceil(K / block);
    const want = [N, blocks, (block * bits) / 8];
    if (packed!.dtype !== 'uint8' || packed!.shape.join() !== want.join()) fail(`MatMulNBits: the weight must be uint8 ${showShape(want)}, got ${packed!.dtype} ${showShape(packed!.shape)}`);
    if (scales!.dtype !== 'float32' || numel(scales!.shape) !== N * blocks) fail(`MatMulNBits: ${N * blocks} float32 scales needed`);
    return [{ dtype: 'float32', shape: [...x!.shape.slice(0, -1), N] }];
  },
};

/**
 * ONNX Runtime's GroupQueryAttention (com.microsoft), inference only: causal attention of
 * `query` [B, S, H·hd] over the cache `past_key`/`past_value` [B, KV, P, hd] plus `key`/`value`
 * [B, S, KV·hd], with RoPE applied inside (`do_rotary`, half-split layout, tables
 * `cos_cache`/`sin_cache` [max positions, hd/2] read at positions P…P+S−1). `seqlens_k` int32 [B]
 * is P+S−1 and `total_sequence_length` int32 [] is P+S. Gives the output [B, S, H·hd] and the
 * grown cache [B, KV, P+S, hd]. On the CPU its head size must be a multiple of 8.
 */
export const GroupQueryAttention: OpDef = {
  type: 'GroupQueryAttention',
  domain: 'com.microsoft',
  infer: ([q, k, v, pastK, pastV, seqlens, total, cos, sin], attrs) => {
    const H = intAttr(attrs, 'num_heads');
    const KV = intAttr(attrs, 'kv_num_heads');
    for (const x of [q, k, v, pastK, pastV, cos, sin]) if (x!.dtype !== 'float32') fail(`GroupQueryAttention takes float32, got ${x!.dtype}`);
    if (seqlens!.dtype !== 'int32' || total!.dtype !== 'int32') fail('GroupQueryAttention: seqlens_k and total_sequence_length are int32');
    const hd = pastK!.shape[3];
    if (typeof hd !== 'number' || pastK!.rank !== 4) fail('GroupQueryAttention: the cache is [B, KV, P, head size] with a known head size');
    for (const [x, n] of [[q, H], [k, KV], [v, KV]] as const) if (x!.rank !== 3 || x!.shape[2] !== n * (hd as number)) fail(`GroupQueryAttention: ${showShape(x!.shape)} is not [B, S, ${n}·${hd}]`);
    if (cos!.shape[1] !== (hd as number) / 2 || sin!.shape[1] !== (hd as number) / 2) fail('GroupQueryAttention: the rotary tables are [positions, head size / 2]');
    const cache = { dtype: 'float32' as const, shape: [q!.shape[0]!, KV, 'total_sequence_length', hd as number] };
    return [{ dtype: 'float32', shape: q!.shape }, cache, cache];
  },
};

/** ONNX Runtime's RMS norm (onnx domain, as its own graph fusion writes it): x / √(mean(x²) + ε) · scale over the last axis. */
export const SimplifiedLayerNormalization: OpDef = {
  type: 'SimplifiedLayerNormalization',
  infer: ([x, scale]) => {
    if (x!.dtype !== 'float32' || scale!.dtype !== 'float32') fail('SimplifiedLayerNormalization takes float32');
    return [{ dtype: 'float32', shape: x!.shape }];
  },
};

export const Gemm: OpDef = {
  type: 'Gemm',
  infer: ([a, b, c], attrs) => {
    if (a!.rank !== 2 || b!.rank !== 2) fail('Gemm takes matrices');
    const ta = intAttr(attrs, 'transA', 0);
    const tb = intAttr(attrs, 'transB', 0);
    const [m, k1] = ta ? [a!.shape[1]!, a!.shape[0]!] : [a!.shape[0]!, a!.shape[1]!];
    const [k2, n] = tb ? [b!.shape[1]!, b!.shape[0]!] : [b!.shape[0]!, b!.shape[1]!];
    if (k1 !== k2 && typeof k1 === 'number' && typeof k2 === 'number') fail(`inner dimensions differ (${k1} vs ${k2})`);
    const shape = [m, n];
    if (c) broadcastShapes(shape, c.shape).forEach((d, i) => d !== shape[i] && fail(`C ${showShape(c.shape)} does not broadcast to ${showShape(shape)}`));
    return [{ dtype: sameDtype('Gemm', c ? [a!, b!, c] : [a!, b!]), shape }];
  },
  // y = α·op(a)·op(b) + β·c
  backward: ({ node, inputs: [a, b, c], gy: [gy] }) => {
    const alpha = floatAttr(node.attrs, 'alpha', 1);
    const beta = floatAttr(node.attrs, 'beta', 1);
    const ta = intAttr(node.attrs, 'transA', 0);
    const tb = intAttr(node.attrs, 'transB', 0);
    const scaled = alpha === 1 ? gy! : mul(gy!, scalar(gy!, alpha));
    const opA = ta ? transposeLast(a!) : a!;
    const opB = tb ? transposeLast(b!) : b!;
    const dOpA = matmul(scaled, transposeLast(opB));
    const dOpB = matmul(transposeLast(opA), scaled);
    return [
      ta ? transposeLast(dOpA) : dOpA,
      tb ? transposeLast(dOpB) : dOpB,
      c ? unbroadcast(beta === 1 ? gy! : mul(gy!, scalar(gy!, beta)), c) : undefined,
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Normalisation

export const Softmax: OpDef = {
  type: 'Softmax',
  infer: ([x], attrs) => (requireFloat(x!), normAxis(intAttr(attrs, 'axis', -1), x!.rank), [{ dtype: x!.dtype, shape: x!.shape }]),
  // dx = y·(gy − Σ gy·y)
  backward: ({ node, outputs: [y], gy: [gy] }) => {
    const axis = intAttr(node.attrs, 'axis', -1);
    return [mul(y!, sub(gy!, reduceSum(mul(gy!, y!), [axis], true)))];
  },
};

export const LogSoftmax: OpDef = {
  type: 'LogSoftmax',
  infer: Softmax.infer,
  // dx = gy − softmax·Σ gy
  backward: ({ node, outputs: [y], gy: [gy] }) => {
    const axis = intAttr(node.attrs, 'axis', -1);
    return [sub(gy!, mul(exp(y!), reduceSum(gy!, [axis], true)))];
  },
};

/**
 * The row maximum as log-softmax's stabilizing shift. Its gradient is left out on purpose: the
 * log-softmax does not change with the shift, so the exact gradient through it is zero.
 */
const ShiftMax: OpDef = {
  type: 'ReduceMax',
  infer: ([x, axes], attrs) => reduceInfer(x!, axes, attrs),
  backward: () => [undefined, undefined],
};

function reduceInfer(x: Value, axesValue: Value | undefined, attrs: Readonly<Record<string, AttributeValue>>): OutputInfo[] {
  const keep = intAttr(attrs, 'keepdims', 1);
  const axes = axesValue ? constInts(axesValue, 'axes').map((a) => normAxis(a, x.rank)) : x.shape.map((_, i) => i);
  const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
  return [{ dtype: x.dtype, shape }];
}

/** Gradient of a reduction: gy brought back to the input's shape (the reduced axes kept as 1, then expanded). */
function unreduce(gy: Value, x: Value, axesValue: Value | undefined): Value {
  const axes = axesValue ? constInts(axesValue, 'axes').map((a) => normAxis(a, x.rank)) : x.shape.map((_, i) => i);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const g = gy.rank === x.rank ? gy : reshapeTo(gy, kept);
  return expandLike(g, x);
}

export const ReduceSum: OpDef = {
  type: 'ReduceSum',
  infer: ([x, axes], attrs) => reduceInfer(x!, axes, attrs),
  backward: ({ inputs: [x, axes], gy: [gy] }) => [unreduce(gy!, x!, axes), undefined],
};

export const ReduceMean: OpDef = {
  type: 'ReduceMean',
  infer: ([x, axes], attrs) => reduceInfer(x!, axes, attrs),
  backward: ({ inputs: [x, axes], outputs: [y], gy: [gy] }) => {
    // count = |x| / |y|: a constant when shapes are static, else computed from Size at run time
    const count = isStatic(x!.shape) && isStatic(y!.shape) ? scalar(gy!, numel(x!.shape) / numel(y!.shape)) : div(cast(size(x!), gy!.dtype), cast(size(y!), gy!.dtype));
    return [div(unreduce(gy!, x!, axes), count), undefined];
  },
};

// ---------------------------------------------------------------------------------------------
// Shape ops

export const Size: OpDef = { type: 'Size', infer: () => [{ dtype: 'int64', shape: [] }] };

export const Shape_: OpDef = { type: 'Shape', infer: ([x]) => [{ dtype: 'int64', shape: [x!.rank], constInts: isStatic(x!.shape) ? x!.shape : undefined }] };

export const Reshape: OpDef = {
  type: 'Reshape',
  infer: ([x, s]) => {
    const target = s!.constInts;
    // A runtime shape (Shape of another value): its result shape was declared by `reshapeLike`.
    if (!target) return [{ dtype: x!.dtype, shape: pendingShape(s!) }];
    const dims = target.map((d, i) => (d === 0 ? x!.shape[i] ?? fail('0 in reshape beyond input rank') : d));
    if (dims.filter((d) => d === -1).length > 1) fail('more than one -1 in reshape target');
    // Products of the numeric and symbolic parts of both shapes must agree; -1 takes what is left.
    const factor = (s: Shape) => ({ n: s.reduce<number>((p, d) => (typeof d === 'number' && d !== -1 ? p * d : p), 1), syms: s.filter((d): d is string => typeof d === 'string') });
    const have = factor(x!.shape);
    const want = factor(dims);
    const left = [...have.syms];
    for (const sym of want.syms) {
      const at = left.indexOf(sym);
      if (at < 0) fail(`cannot reshape ${showShape(x!.shape)} to [${target.join(', ')}]: ${sym} does not come from the input`);
      left.splice(at, 1);
    }
    const ratio = have.n / want.n;
    if (!dims.includes(-1)) {
      if (ratio !== 1 || left.length) fail(`cannot reshape ${showShape(x!.shape)} to [${target.join(', ')}]`);
      return [{ dtype: x!.dtype, shape: dims as Shape }];
    }
    if (!Number.isInteger(ratio) || ratio <= 0) fail(`cannot reshape ${showShape(x!.shape)} to [${target.join(', ')}]`);
    const rest: number | string = left.length === 0 ? ratio : ratio === 1 && left.length === 1 ? left[0]! : [ratio, ...left].join('*');
    return [{ dtype: x!.dtype, shape: dims.map((d) => (d === -1 ? rest : d)) }];
  },
  backward: ({ inputs: [x], gy: [gy] }) => [reshapeLike(gy!, x!), undefined],
};

/** Shapes declared for runtime-shaped reshapes/expands, keyed by the shape tensor. */
const declaredShapes = new WeakMap<Value, Shape>();
function pendingShape(s: Value): Shape {
  return declaredShapes.get(s) ?? fail('a runtime reshape target needs a declared result shape');
}

export const Transpose: OpDef = {
  type: 'Transpose',
  infer: ([x], attrs) => {
    const perm = intsAttr(attrs, 'perm') ?? x!.shape.map((_, i) => x!.rank - 1 - i);
    if (perm.length !== x!.rank || [...perm].sort().some((p, i) => p !== i)) fail(`perm [${perm.join(', ')}] does not fit rank ${x!.rank}`);
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
  },
  backward: ({ node, inputs: [x], gy: [gy] }) => {
    const perm = intsAttr(node.attrs, 'perm') ?? x!.shape.map((_, i) => x!.rank - 1 - i);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [transpose(gy!, inverse)];
  },
};

export const Unsqueeze: OpDef = {
  type: 'Unsqueeze',
  infer: ([x, axesV]) => {
    const rank = x!.rank + constInts(axesV, 'axes').length;
    const axes = constInts(axesV, 'axes').map((a) => normAxis(a, rank));
    const out: (number | string)[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x!.shape[j++]!);
    return [{ dtype: x!.dtype, shape: out }];
  },
  backward: ({ inputs: [, axes], gy: [gy] }) => [squeeze(gy!, constInts(axes, 'axes')), undefined],
};

export const Squeeze: OpDef = {
  type: 'Squeeze',
  infer: ([x, axesV]) => {
    const axes = constInts(axesV, 'axes').map((a) => normAxis(a, x!.rank));
    for (const a of axes) if (x!.shape[a] !== 1) fail(`axis ${a} has size ${x!.shape[a]}, not 1`);
    return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !axes.includes(i)) }];
  },
  backward: ({ inputs: [x, axes], gy: [gy] }) => [unsqueeze(gy!, constInts(axes, 'axes').map((a) => normAxis(a, x!.rank))), undefined],
};

export const Expand: OpDef = {
  type: 'Expand',
  infer: ([x, s]) => [{ dtype: x!.dtype, shape: s!.constInts ? broadcastShapes(x!.shape, s!.constInts) : broadcastShapes(x!.shape, pendingShape(s!)) }],
  backward: ({ inputs: [x], gy: [gy] }) => [unbroadcast(gy!, x!), undefined],
};

export const Concat: OpDef = {
  type: 'Concat',
  infer: (xs, attrs) => {
    const dtype = sameDtype('Concat', xs);
    const axis = normAxis(intAttr(attrs, 'axis'), xs[0]!.rank);
    let total: number | string = 0;
    for (const x of xs) {
      if (x.rank !== xs[0]!.rank) fail('ranks differ');
      x.shape.forEach((d, i) => i !== axis && d !== xs[0]!.shape[i] && fail(`dimension ${i} differs: ${showShape(x.shape)} vs ${showShape(xs[0]!.shape)}`));
      const d = x.shape[axis]!;
      total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
    }
    return [{ dtype, shape: xs[0]!.shape.map((d, i) => (i === axis ? total : d)) }];
  },
  backward: ({ node, inputs, gy: [gy] }) => {
    const axis = normAxis(intAttr(node.attrs, 'axis'), inputs[0]!.rank);
    const sizes = inputs.map((x) => x.shape[axis]);
    if (!sizes.every((s): s is number => typeof s === 'number')) fail('Concat backward needs static sizes on the concat axis');
    return split(gy!, sizes as number[], axis);
  },
};

export const Split: OpDef = {
  type: 'Split',
  infer: ([x, sizesV], attrs) => {
    const axis = normAxis(intAttr(attrs, 'axis', 0), x!.rank);
    const sizes = constInts(sizesV, 'split sizes');
    const d = x!.shape[axis];
    if (typeof d === 'number' && sizes.reduce((a, b) => a + b, 0) !== d) fail(`sizes [${sizes.join(', ')}] do not add up to ${d}`);
    return sizes.map((s) => ({ dtype: x!.dtype, shape: x!.shape.map((dim, i) => (i === axis ? s : dim)) }));
  },
  backward: ({ node, inputs: [x], outputs, gy }) => {
    const axis = intAttr(node.attrs, 'axis', 0);
    return [concat(outputs.map((o, i) => gy[i] ?? zerosLike(o)), axis), undefined];
  },
};

export const Slice: OpDef = {
  type: 'Slice',
  infer: ([x, startsV, endsV, axesV, stepsV]) => {
    const starts = constInts(startsV, 'starts');
    const ends = constInts(endsV, 'ends');
    const axes = axesV ? constInts(axesV, 'axes').map((a) => normAxis(a, x!.rank)) : starts.map((_, i) => i);
    const steps = stepsV ? constInts(stepsV, 'steps') : starts.map(() => 1);
    if (steps.some((s) => s !== 1)) fail('only step 1 is supported');
    const shape = [...x!.shape];
    axes.forEach((a, i) => {
      const d = shape[a];
      if (typeof d !== 'number') fail(`slicing a symbolic axis (${d}) is not supported`);
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + (d as number) : v, 0), d as number);
      shape[a] = Math.max(0, clamp(ends[i]!) - clamp(starts[i]!));
    });
    return [{ dtype: x!.dtype, shape }];
  },
  // dx = gy padded with zeros back to x's extent
  backward: ({ inputs: [x, startsV, endsV, axesV], gy: [gy] }) => {
    const starts = constInts(startsV, 'starts');
    const ends = constInts(endsV, 'ends');
    const axes = axesV ? constInts(axesV, 'axes').map((a) => normAxis(a, x!.rank)) : starts.map((_, i) => i);
    const before = x!.shape.map(() => 0);
    const after = x!.shape.map(() => 0);
    axes.forEach((a, i) => {
      const d = x!.shape[a] as number;
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      before[a] = clamp(starts[i]!);
      after[a] = d - Math.max(clamp(ends[i]!), before[a]!);
    });
    return [pad(gy!, [...before, ...after]), undefined, undefined, undefined, undefined];
  },
};

export const Pad: OpDef = {
  type: 'Pad',
  infer: ([x, padsV]) => {
    const pads = constInts(padsV, 'pads');
    if (pads.length !== 2 * x!.rank) fail(`pads needs ${2 * x!.rank} values`);
    return [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[i + x!.rank]! : pads[i] || pads[i + x!.rank] ? fail('padding a symbolic axis') : d)) }];
  },
  backward: ({ inputs: [x, padsV], gy: [gy] }) => {
    const pads = constInts(padsV, 'pads');
    const axes = x!.shape.map((_, i) => i);
    return [slice(gy!, axes.map((i) => pads[i]!), axes.map((i) => pads[i]! + (x!.shape[i] as number)), axes), undefined];
  },
};

// ---------------------------------------------------------------------------------------------
// Indexing

export const Gather: OpDef = {
  type: 'Gather',
  infer: ([x, idx], attrs) => {
    if (idx!.dtype !== 'int64' && idx!.dtype !== 'int32') fail('indices must be int64 or int32');
    const axis = normAxis(intAttr(attrs, 'axis', 0), x!.rank);
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
  },
  // dx = zeros with gy's rows added at the gathered indices (repeated indices accumulate)
  backward: ({ node, inputs: [x, idx], gy: [gy] }) => {
    const axis = normAxis(intAttr(node.attrs, 'axis', 0), x!.rank);
    if (axis !== 0) fail('Gather backward supports axis 0 (embeddings)');
    const indices = unsqueeze(idx!.dtype === 'int64' ? idx! : cast(idx!, 'int64'), [-1]);
    return [scatterNDAdd(zerosLike(x!), indices, gy!), undefined];
  },
};

export const ScatterND: OpDef = {
  type: 'ScatterND',
  infer: ([data]) => [{ dtype: data!.dtype, shape: data!.shape }],
};

export const GatherElements: OpDef = {
  type: 'GatherElements',
  infer: ([x, idx], attrs) => {
    if (idx!.rank !== x!.rank) fail('indices must have the rank of the data');
    normAxis(intAttr(attrs, 'axis', 0), x!.rank);
    return [{ dtype: x!.dtype, shape: idx!.shape }];
  },
  backward: ({ node, inputs: [x, idx], gy: [gy] }) => [
    one(x!, ScatterElements, [zerosLike(x!), idx!, gy!], { axis: attr.int(intAttr(node.attrs, 'axis', 0)), reduction: attr.string('add') }),
    undefined,
  ],
};

export const ScatterElements: OpDef = { type: 'ScatterElements', infer: ([data]) => [{ dtype: data!.dtype, shape: data!.shape }] };

export const ConstantOfShape: OpDef = {
  type: 'ConstantOfShape',
  infer: ([s], attrs) => {
    const v = attrs.value;
    const dtype = v?.kind === 'tensor' ? (CAST_CODES[v.value.dataType] ?? fail('unsupported fill type')) : 'float32';
    return [{ dtype, shape: s!.constInts ?? pendingShape(s!) }];
  },
};

// ---------------------------------------------------------------------------------------------
// The functional API (what model code calls)

export const add = (a: Value, b: Value): Value => one(a, Add, [a, b]);
export const sub = (a: Value, b: Value): Value => one(a, Sub, [a, b]);
export const mul = (a: Value, b: Value): Value => one(a, Mul, [a, b]);
export const div = (a: Value, b: Value): Value => one(a, Div, [a, b]);
export const pow = (a: Value, b: Value | number): Value => one(a, Pow, [a, typeof b === 'number' ? scalar(a, b) : b]);
export const neg = (x: Value): Value => one(x, Neg, [x]);
export const sqrt = (x: Value): Value => one(x, Sqrt, [x]);
export const exp = (x: Value): Value => one(x, Exp, [x]);
export const log = (x: Value): Value => one(x, Log, [x]);
export const sigmoid = (x: Value): Value => one(x, Sigmoid, [x]);
export const tanh = (x: Value): Value => one(x, Tanh, [x]);
export const reciprocal = (x: Value): Value => one(x, Reciprocal, [x]);
export const sin = (x: Value): Value => one(x, Sin, [x]);
export const cos = (x: Value): Value => one(x, Cos, [x]);
export const max = (a: Value, b: Value): Value => one(a, Max, [a, b]);
export const min = (a: Value, b: Value): Value => one(a, Min, [a, b]);
export const equal = (a: Value, b: Value): Value => one(a, Equal, [a, b]);
export const less = (a: Value, b: Value): Value => one(a, Less, [a, b]);
export const lessOrEqual = (a: Value, b: Value): Value => one(a, LessOrEqual, [a, b]);
/** 0, 1, …, n−1 (int64) where n is the size of `like` along `axis`, known at run time. */
export const positionsAlong = (like: Value, axis: number): Value => {
  const g = like.graph;
  const n = gather(shapeOf(like), g.initializer('axis', 'int64', [], [normAxis(axis, like.rank)]));
  const def: OpDef = { type: 'Range', infer: () => [{ dtype: 'int64', shape: [like.shape[normAxis(axis, like.rank)]!] }] };
  return graphFor([n]).apply(def, [g.initializer('zero', 'int64', [], [0]), n, g.initializer('one', 'int64', [], [1])])[0]!;
};
export const greater = (a: Value, b: Value): Value => one(a, Greater, [a, b]);
export const not = (x: Value): Value => one(x, Not, [x]);
export const and = (a: Value, b: Value): Value => one(a, And, [a, b]);
export const where = (c: Value, a: Value, b: Value): Value => one(a, Where, [c, a, b]);
export const cast = (x: Value, to: DType): Value => {
  const code = Object.entries(CAST_CODES).find(([, t]) => t === to)![0];
  return one(x, Cast, [x], { to: attr.int(Number(code)) });
};
export const matmul = (a: Value, b: Value): Value => one(a, MatMul, [a, b]);
/** x · W for a quantized W; `accuracyLevel` 4 quantizes x to int8 inside the kernel (faster, ≈ 0.4% error). */
export const matmulNBits = (x: Value, packed: Value, scales: Value, o: { K: number; N: number; bits: 4 | 8; blockSize: number; accuracyLevel?: 0 | 4 }): Value =>
  one(x, MatMulNBits, [x, packed, scales], { K: attr.int(o.K), N: attr.int(o.N), bits: attr.int(o.bits), block_size: attr.int(o.blockSize), accuracy_level: attr.int(o.accuracyLevel ?? 0) });
/** GroupQueryAttention (see the op) with RoPE inside: [output, present key, present value]. */
export const groupQueryAttention = (q: Value, k: Value, v: Value, past: { key: Value; value: Value }, seqlensK: Value, total: Value, rope: { cos: Value; sin: Value }, o: { heads: number; kvHeads: number }): Value[] =>
  graphFor([q]).apply(GroupQueryAttention, [q, k, v, past.key, past.value, seqlensK, total, rope.cos, rope.sin], {
    num_heads: attr.int(o.heads),
    kv_num_heads: attr.int(o.kvHeads),
    do_rotary: attr.int(1),
    rotary_interleaved: attr.int(0),
  });
export const simplifiedLayerNorm = (x: Value, scale: Value, eps: number): Value => one(x, SimplifiedLayerNormalization, [x, scale], { axis: attr.int(-1), epsilon: attr.float(eps) });
export const gemm = (a: Value, b: Value, c?: Value, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value =>
  one(a, Gemm, c ? [a, b, c] : [a, b], {
    alpha: attr.float(o.alpha ?? 1),
    beta: attr.float(o.beta ?? 1),
    transA: attr.int(o.transA ? 1 : 0),
    transB: attr.int(o.transB ? 1 : 0),
  });
export const softmax = (x: Value, axis = -1): Value => one(x, Softmax, [x], { axis: attr.int(axis) });
/** log softmax(x) along `axis`; in a portable graph as x − m − log Σ exp(x − m), m the row maximum. */
export function logSoftmax(x: Value, axis = -1): Value {
  if (!x.graph.portable) return one(x, LogSoftmax, [x], { axis: attr.int(axis) });
  const shifted = sub(x, one(x, ShiftMax, [x, x.graph.ints([axis])], { keepdims: attr.int(1) }));
  return sub(shifted, log(reduceSum(exp(shifted), [axis], true)));
}
export const reduceSum = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  one(x, ReduceSum, axes ? [x, x.graph.ints(axes)] : [x], { keepdims: attr.int(keepdims ? 1 : 0) });
export const reduceMean = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  one(x, ReduceMean, axes ? [x, x.graph.ints(axes)] : [x], { keepdims: attr.int(keepdims ? 1 : 0) });
export const shapeOf = (x: Value): Value => one(x, Shape_, [x]);
export const size = (x: Value): Value => one(x, Size, [x]);
export const reshape = (x: Value, shape: readonly number[]): Value => one(x, Reshape, [x, x.graph.ints(shape)]);
/** Reshape to a known shape that may be symbolic: static targets become constants, others use Shape(like). */
function reshapeTo(x: Value, shape: Shape): Value {
  if (isStatic(shape)) return reshape(x, shape);
  return fail(`cannot reshape to symbolic shape ${showShape(shape)} without a reference value`);
}
export const reshapeLike = (x: Value, like: Value): Value => {
  if (isStatic(like.shape)) return reshape(x, like.shape);
  const s = shapeOf(like);
  declaredShapes.set(s, like.shape);
  return one(x, Reshape, [x, s]);
};
export const expandLike = (x: Value, like: Value): Value => {
  if (isStatic(like.shape)) return one(x, Expand, [x, x.graph.ints(like.shape)]);
  const s = shapeOf(like);
  declaredShapes.set(s, like.shape);
  return one(x, Expand, [x, s]);
};
export const expand = (x: Value, shape: readonly number[]): Value => one(x, Expand, [x, x.graph.ints(shape)]);
export const transpose = (x: Value, perm: readonly number[]): Value => one(x, Transpose, [x], { perm: attr.ints(perm) });
export const unsqueeze = (x: Value, axes: readonly number[]): Value => one(x, Unsqueeze, [x, x.graph.ints(axes)]);
export const squeeze = (x: Value, axes: readonly number[]): Value => one(x, Squeeze, [x, x.graph.ints(axes)]);
export const concat = (xs: readonly Value[], axis: number): Value => one(xs[0]!, Concat, [...xs], { axis: attr.int(axis) });
export const split = (x: Value, sizes: readonly number[], axis: number): Value[] =>
  graphFor([x]).apply(Split, [x, x.graph.ints(sizes)], { axis: attr.int(axis) });
export const slice = (x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Value =>
  one(x, Slice, axes ? [x, x.graph.ints(starts), x.graph.ints(ends), x.graph.ints(axes)] : [x, x.graph.ints(starts), x.graph.ints(ends)]);
export const pad = (x: Value, pads: readonly number[]): Value => one(x, Pad, [x, x.graph.ints(pads)], { mode: attr.string('constant') });
export const gather = (x: Value, indices: Value, axis = 0): Value => one(x, Gather, [x, indices], { axis: attr.int(axis) });
export const gatherElements = (x: Value, indices: Value, axis: number): Value => one(x, GatherElements, [x, indices], { axis: attr.int(axis) });
export const scatterNDAdd = (data: Value, indices: Value, updates: Value): Value => one(data, ScatterND, [data, indices, updates], { reduction: attr.string('add') });
export const zerosLike = (x: Value): Value => {
  const dataType = { float32: 1, float64: 11, float16: 10, int64: 7, int32: 6, uint8: 2, bool: 9 }[x.dtype];
  const bytes = x.dtype === 'float64' || x.dtype === 'int64' ? 8 : x.dtype === 'bool' ? 1 : x.dtype === 'float16' ? 2 : 4;
  const value: AttributeValue = { kind: 'tensor', value: { name: 'zero', dataType: dataType as 1, dims: [1], raw: new Uint8Array(bytes) } };
  if (isStatic(x.shape)) return one(x, ConstantOfShape, [x.graph.ints(x.shape)], { value });
  const s = shapeOf(x);
  declaredShapes.set(s, x.shape);
  return one(x, ConstantOfShape, [s], { value });
};
export const onesLike = (x: Value): Value => add(zerosLike(x), scalar(x, 1));

/**
 * Runs only one branch (ONNX Runtime skips the other), each built by a callback that returns the
 * branch outputs. Branches read the enclosing graph's values, so weights are stored once.
 */
export function ifElse(cond: Value, thenBranch: (g: GraphBuilder) => Value[], elseBranch: (g: GraphBuilder) => Value[]): Value[] {
  const g = cond.graph;
  if (cond.dtype !== 'bool' || !(cond.rank === 0 || (cond.rank === 1 && cond.shape[0] === 1))) fail(`If: condition must be a bool scalar, got ${cond}`);
  const build = (name: string, body: (g: GraphBuilder) => Value[]): GraphBuilder => {
    const sub = g.subgraph(name);
    // A branch output must be produced inside the branch: pass outer values through Identity.
    recordInto(sub, () => body(sub)).forEach((v) => sub.output(v.graph === sub ? v : sub.apply(identityOp, [v])[0]!));
    return sub;
  };
  const [t, e] = [build('then', thenBranch), build('else', elseBranch)];
  if (t.outputs.length !== e.outputs.length) fail(`If: branches give ${t.outputs.length} and ${e.outputs.length} outputs`);
  const infos = t.outputs.map((a, i) => {
    const b = e.outputs[i]!;
    if (a.dtype !== b.dtype) fail(`If: output ${i} is ${a.dtype} in one branch and ${b.dtype} in the other`);
    const shape = a.rank === b.rank ? a.shape.map((d, k) => (d === b.shape[k] ? d : `if_${i}_${k}`)) : fail(`If: output ${i} has rank ${a.rank} vs ${b.rank}`);
    return { dtype: a.dtype, shape };
  });
  const def: OpDef = { type: 'If', infer: () => infos };
  return g.apply(def, [cond], { then_branch: { kind: 'graph', value: t.toGraph() }, else_branch: { kind: 'graph', value: e.toGraph() } }, 'if', [
    ...new Set([...t.captures(), ...e.captures()]),
  ]);
}


/** Σ log p(target) over positions where `mask` is 1 (logits [..., vocab], targets [...] int64): a scalar. */
export function maskedLogLikelihood(logits: Value, targets: Value, mask: Value): Value {
  const logp = logSoftmax(logits, -1);
  const picked = squeeze(gatherElements(logp, unsqueeze(targets, [-1]), -1), [-1]);
  return reduceSum(mul(picked, mask.dtype === logits.dtype ? mask : cast(mask, logits.dtype)));
}

/**
 * Mean cross-entropy of `logits` [..., vocab] against `targets` [...] (int64), counting only
 * positions where `mask` [...] is 1. Built from LogSoftmax + GatherElements (the CUDA provider
 * has no SoftmaxCrossEntropyLoss). Returns a scalar.
 */
export function crossEntropy(logits: Value, targets: Value, mask: Value): Value {
  const m = mask.dtype === logits.dtype ? mask : cast(mask, logits.dtype);
  const count = max(reduceSum(m), scalar(logits, 1));
  return neg(div(maskedLogLikelihood(logits, targets, m), count));
}

export { Value };
