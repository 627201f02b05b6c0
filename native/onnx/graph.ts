/**
 * A typed ONNX graph builder: every value knows its dtype and (possibly symbolic) shape, every
 * op checks its inputs before a node is recorded, and the recorded nodes are what the autodiff
 * walks backwards. Op definitions with their backward rules live in ops.ts.
 */
import type * as ops from './ops';
import { type AttributeValue, type DataType, DataType as DT, DEFAULT_OPSET, type Dim, type EncodedModel, encodeModel, encodeModelSplit, type Graph, type Model, type Node, type Tensor, type ValueInfo } from './model';

export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

export const ONNX_DTYPE: Record<DType, DataType> = {
  float32: DT.FLOAT,
  float64: DT.DOUBLE,
  float16: DT.FLOAT16,
  int64: DT.INT64,
  int32: DT.INT32,
  uint8: DT.UINT8,
  bool: DT.BOOL,
};

export const isFloat = (t: DType): boolean => t === 'float32' || t === 'float64' || t === 'float16';

export type Shape = readonly Dim[];

export const showShape = (s: Shape): string => `[${s.join(', ')}]`;

/** A value in a graph: an input, an initializer, or a node's output. */
export class Value {
  constructor(
    readonly graph: GraphBuilder,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    /** Values of a small int64 constant (axes, shapes), so shape inference can read them. */
    readonly constInts?: readonly number[],
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${showShape(this.shape)}`;
  }
}

export interface OpNode {
  def: ops.OpDef;
  inputs: readonly Value[];
  outputs: readonly Value[];
  attrs: Readonly<Record<string, AttributeValue>>;
  /** Outer values that the node's subgraphs (If branches) read by name. */
  captures?: readonly Value[];
  /** Creation order across a graph and its subgraphs. */
  seq: number;
}

let nodeSeq = 0;
let recording: GraphBuilder | undefined;

/** Records the ops built by `fn` into `g` (e.g. an If branch), wherever their inputs live. */
export function recordInto<T>(g: GraphBuilder, fn: () => T): T {
  const saved = recording;
  recording = g;
  try {
    return fn();
  } finally {
    recording = saved;
  }
}

/** Where an op on `inputs` goes: the graph being recorded into, else the innermost input's graph. */
export function graphFor(inputs: readonly Value[]): GraphBuilder {
  if (recording && inputs.every((v) => recording!.sees(v))) return recording;
  let g = inputs[0]!.graph;
  for (const v of inputs) if (isInside(v.graph, g)) g = v.graph;
  return g; // apply() rejects inputs this graph cannot see
}

function isInside(inner: GraphBuilder, outer: GraphBuilder): boolean {
  for (let x: GraphBuilder | undefined = inner.parent; x; x = x.parent) if (x === outer) return true;
  return false;
}

/** Raised when an op is built with inputs it cannot take; names the op and the shapes. */
export class GraphError extends Error {
  override name = 'GraphError';
}

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

function rawBytes(dtype: DType, data: ArrayLike<number> | TypedArray): Uint8Array {
  let arr: TypedArray;
  switch (dtype) {
    case 'float32': arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>); break;
    case 'float64': arr = data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>); break;
    case 'int64': arr = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>, (v) => BigInt(v))); break;
    case 'int32': arr = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>); break;
    case 'bool': arr = data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0)); break;
    case 'uint8': arr = data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>); break;
    case 'float16':
      if (!(data instanceof Uint16Array)) throw new GraphError('float16 initializers take raw IEEE half bits as a Uint16Array');
      arr = data;
      break;
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

export const numel = (shape: Shape): number => {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new GraphError(`shape ${showShape(shape)} is not static`);
    n *= d;
  }
  return n;
};

export class GraphBuilder {
  readonly nodes: OpNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<Value, Tensor>();
  /** Names are unique across a graph and all its subgraphs (ONNX scoping reads outer names). */
  private readonly names: Set<string>;
  private readonly counters: Map<string, number>;
  /**
   * Build for ONNX Runtime's WebGPU provider: ops it has no kernel for (LogSoftmax, seen placed on
   * the CPU on an H200) are written as ops it has, so that no large tensor crosses to the CPU
   * mid-graph. Off, the fused ops stay (less memory on the CPU). Subgraphs inherit it.
   */
  portable: boolean;

  constructor(
    readonly name = 'graph',
    readonly parent?: GraphBuilder,
  ) {
    this.names = parent?.names ?? new Set();
    this.counters = parent?.counters ?? new Map();
    this.portable = parent?.portable ?? false;
  }

  /** A branch body for `If`: it may read this graph's values. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(this.fresh(name), this);
  }

  /** Whether `v` can be read here: defined in this graph or an enclosing one. */
  sees(v: Value): boolean {
    return v.graph === this || (this.parent?.sees(v) ?? false);
  }

  /** This graph and the ones enclosing it, innermost first. */
  chain(): GraphBuilder[] {
    const out: GraphBuilder[] = [];
    for (let g: GraphBuilder | undefined = this; g; g = g.parent) out.push(g);
    return out;
  }

  /** Values of enclosing graphs that this graph (and its subgraphs) read. */
  captures(): Value[] {
    const out = new Set<Value>();
    for (const n of this.nodes) for (const v of [...n.inputs, ...(n.captures ?? [])]) if (v.graph !== this && !this.isLocal(v)) out.add(v);
    return [...out];
  }

  private isLocal(v: Value): boolean {
    let g: GraphBuilder | undefined = v.graph;
    while (g && g !== this) g = g.parent;
    return g === this;
  }

  /** A fresh, readable, unique value name. */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./-]/g, '_') || 'v';
    let name = base;
    if (this.names.has(name)) {
      let n = this.counters.get(base) ?? 1;
      while (this.names.has(`${base}_${n}`)) n++;
      this.counters.set(base, n + 1);
      name = `${base}_${n}`;
    }
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.names.has(name)) throw new GraphError(`a value named "${name}" already exists`);
    const v = new Value(this, this.fresh(name), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** A tensor stored in the model (frozen weights, constants). */
  initializer(name: string, dtype: DType, shape: readonly number[], data: ArrayLike<number> | TypedArray): Value {
    if (data.length !== numel(shape)) throw new GraphError(`initializer ${name}: ${data.length} values for shape ${showShape(shape)}`);
    const constInts = dtype === 'int64' && data.length <= 16 ? Array.from(data as ArrayLike<number | bigint>, Number) : undefined;
    const v = new Value(this, this.fresh(name), dtype, shape, constInts);
    this.initializers.set(v, { name: v.name, dataType: ONNX_DTYPE[dtype], dims: shape, raw: rawBytes(dtype, data) });
    return v;
  }

  /** A scalar or 1-D constant; int64 ones keep their values for shape inference. */
  const(values: number | readonly number[], dtype: DType = 'float32'): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const shape = typeof values === 'number' ? [] : [arr.length];
    return this.initializer(dtype === 'int64' ? 'ints' : 'const', dtype, shape, arr);
  }

  ints(values: readonly number[]): Value {
    return this.const(values, 'int64');
  }

  output(v: Value, name?: string): Value {
    if (!this.sees(v)) throw new GraphError(`${v.name} belongs to another graph`);
    let out = v;
    if (name && name !== v.name) {
      if (this.names.has(name)) throw new GraphError(`output name "${name}" is taken`);
      this.names.add(name);
      out = new Value(this, name, v.dtype, v.shape);
      this.nodes.push({ def: identityOp, inputs: [v], outputs: [out], attrs: {}, seq: nodeSeq++ });
    }
    this.outputs.push(out);
    return out;
  }

  /** Records a node after the op's own checks; returns its outputs. */
  apply(def: ops.OpDef, inputs: readonly Value[], attrs: Record<string, AttributeValue> = {}, hint?: string, captures?: readonly Value[]): Value[] {
    for (const v of inputs) {
      if (!this.sees(v)) throw new GraphError(`${def.type}: input ${v.name} belongs to another graph`);
    }
    let infos: { dtype: DType; shape: Shape; constInts?: readonly number[] }[];
    try {
      infos = def.infer(inputs, attrs);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new GraphError(`${def.type}(${inputs.map((v) => `${v.dtype}${showShape(v.shape)}`).join(', ')}): ${msg}`);
    }
    const base = hint ?? def.type.toLowerCase();
    const outputs = infos.map((o, i) => new Value(this, this.fresh(infos.length > 1 ? `${base}_${i}` : base), o.dtype, o.shape, o.constInts));
    this.nodes.push({ def, inputs, outputs, attrs, captures, seq: nodeSeq++ });
    return outputs;
  }

  /** The ONNX graph, with nodes no output depends on left out. */
  toGraph(): Graph {
    const needed = new Set<Value>(this.outputs);
    const kept: OpNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i]!;
      if (!n.outputs.some((o) => needed.has(o))) continue;
      kept.push(n);
      for (const v of [...n.inputs, ...(n.captures ?? [])]) needed.add(v);
    }
    kept.reverse();
    const info = (v: Value): ValueInfo => ({ name: v.name, elemType: ONNX_DTYPE[v.dtype], shape: v.shape });
    const nodes: Node[] = kept.map((n) => ({
      opType: n.def.type,
      domain: n.def.domain,
      inputs: n.inputs.map((v) => v.name),
      outputs: n.outputs.map((v) => v.name),
      attributes: n.attrs,
    }));
    return {
      name: this.name,
      nodes,
      inputs: this.inputs.map(info),
      outputs: this.outputs.map(info),
      initializers: [...this.initializers].filter(([v]) => needed.has(v)).map(([, t]) => t),
    };
  }

  toModel(opset = DEFAULT_OPSET): Model {
    const graph = this.toGraph();
    // ONNX Runtime's contrib ops (MatMulNBits) live in their own domain, version 1
    const domains = new Set(graph.nodes.map((n) => n.domain).filter((d): d is string => !!d));
    return { graph, opsets: { '': opset, ...Object.fromEntries([...domains].map((d) => [d, 1])) } };
  }

  encode(): Uint8Array {
    return encodeModel(this.toModel());
  }

  /** Encodes with large initializers as in-memory external data (for real models). */
  encodeSplit(minBytes?: number): EncodedModel {
    return encodeModelSplit(this.toModel(), minBytes);
  }
}

export const identityOp: ops.OpDef = { type: 'Identity', infer: ([x]) => [{ dtype: x!.dtype, shape: x!.shape }], backward: ({ gy }) => [gy[0]] };

/** Typed attribute constructors. */
export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
};

export function intAttr(attrs: Readonly<Record<string, AttributeValue>>, name: string, fallback?: number): number {
  const a = attrs[name];
  if (a?.kind === 'int') return Number(a.value);
  if (fallback === undefined) throw new GraphError(`attribute ${name} is required`);
  return fallback;
}

export function floatAttr(attrs: Readonly<Record<string, AttributeValue>>, name: string, fallback: number): number {
  const a = attrs[name];
  return a?.kind === 'float' ? a.value : fallback;
}

export function intsAttr(attrs: Readonly<Record<string, AttributeValue>>, name: string): number[] | undefined {
  const a = attrs[name];
  return a?.kind === 'ints' ? a.value.map(Number) : undefined;
}
