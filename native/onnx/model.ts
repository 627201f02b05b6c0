/**
 * ONNX ModelProto encoding from plain TypeScript objects (field numbers from onnx.proto, IR 10).
 * Only the write side: ONNX Runtime is the reader.
 */
import { ProtoWriter } from './wire';

/** TensorProto.DataType values used by the engine. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export const IR_VERSION = 10;
/**
 * Opset 18: every op the graphs use has a CUDA kernel for the version this opset selects
 * (test/engine/cuda-ops.test.ts). At 21, Identity, Pad and ConstantOfShape select versions the
 * CUDA kernel list we could read has no kernel for (an open-ended kernel matches only its own
 * start version), and such nodes would run on the CPU or fail with CPU fallback disabled.
 */
export const DEFAULT_OPSET = 18;

/** A dimension is a fixed size or a symbolic name (e.g. "seq"). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType: DataType;
  shape: readonly Dim[];
}

export interface Tensor {
  name: string;
  dataType: DataType;
  dims: readonly number[];
  /** Little-endian raw bytes, as ONNX's raw_data. */
  raw: Uint8Array;
  /** Where the bytes live instead, in a file beside the model (set by `externalize`). */
  external?: ExternalRef;
}

export interface ExternalRef {
  /** File name relative to the model file. */
  location: string;
  offset: number;
  length: number;
}

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number | bigint }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'graph'; value: Graph }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'ints'; value: readonly (number | bigint)[] }
  | { kind: 'strings'; value: readonly string[] };

export interface Node {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface Graph {
  name: string;
  nodes: readonly Node[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly Tensor[];
  valueInfo?: readonly ValueInfo[];
}

export interface Model {
  graph: Graph;
  opsets?: Readonly<Record<string, number>>;
  producerName?: string;
  producerVersion?: string;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8 } as const;

function writeTensor(w: ProtoWriter, t: Tensor): void {
  w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (!t.external) {
    w.bytes(9, t.raw);
    return;
  }
  const entry = (key: string, value: string) => w.message(13, (e) => e.string(1, key).string(2, value));
  entry('location', t.external.location);
  entry('offset', String(t.external.offset));
  entry('length', String(t.external.length));
  w.int(14, 1); // data_location = EXTERNAL
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, v.elemType);
      tensorType.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  w.int(20, ATTR_TYPE[a.kind]);
  switch (a.kind) {
    case 'float': w.float(2, a.value); break;
    case 'int': w.int(3, a.value); break;
    case 'string': w.string(4, a.value); break;
    case 'tensor': w.message(5, (t) => writeTensor(t, a.value)); break;
    case 'graph': w.message(6, (g) => writeGraph(g, a.value)); break;
    case 'floats': w.packedFloats(7, a.value); break;
    case 'ints': w.packedInts(8, a.value); break;
    case 'strings': for (const s of a.value) w.string(9, s); break;
  }
}

function writeNode(w: ProtoWriter, n: Node, index: number): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name ?? `${n.opType}_${index}`);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes ?? {})) w.message(5, (aw) => writeAttribute(aw, name, a));
  if (n.domain) w.string(7, n.domain);
}

function writeGraph(w: ProtoWriter, g: Graph): void {
  g.nodes.forEach((n, i) => w.message(1, (nw) => writeNode(nw, n, i)));
  w.string(2, g.name);
  for (const t of g.initializers ?? []) w.message(5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
  for (const v of g.valueInfo ?? []) w.message(13, (vw) => writeValueInfo(vw, v));
}

/** Serializes a model to ONNX protobuf bytes, loadable by `InferenceSession.create(bytes)`. */
export function encodeModel(m: Model): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION);
  w.string(2, m.producerName ?? 'lift-vscode');
  if (m.producerVersion) w.string(3, m.producerVersion);
  w.message(7, (gw) => writeGraph(gw, m.graph));
  for (const [domain, version] of Object.entries(m.opsets ?? { '': DEFAULT_OPSET })) {
    w.message(8, (ow) => ow.string(1, domain).int(2, version));
  }
  return w.finish();
}

/** A float32 initializer from values. */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new RangeError(`tensor ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
  const data = Float32Array.from(values);
  return { name, dataType: DataType.FLOAT, dims, raw: new Uint8Array(data.buffer) };
}

/** Offsets of external tensors are aligned so that the data file can be memory-mapped. */
const EXTERNAL_ALIGN = 64;

/**
 * Moves the top graph's initializers of at least `minBytes` into one external data blob named
 * `location` (ONNX external data; needed above protobuf's 2 GiB limit). Returns the rewritten
 * model and the pieces of the data file with their offsets.
 */
export function externalize(m: Model, location: string, minBytes = 1024): { model: Model; pieces: { offset: number; data: Uint8Array }[]; size: number } {
  let size = 0;
  const pieces: { offset: number; data: Uint8Array }[] = [];
  const initializers = (m.graph.initializers ?? []).map((t) => {
    if (t.raw.length < minBytes) return t;
    const offset = Math.ceil(size / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    pieces.push({ offset, data: t.raw });
    size = offset + t.raw.length;
    return { ...t, raw: new Uint8Array(0), external: { location, offset, length: t.raw.length } };
  });
  return { model: { ...m, graph: { ...m.graph, initializers } }, pieces, size };
}

/** A model whose large initializers travel beside the protobuf, as ONNX Runtime's in-memory external data. */
export interface EncodedModel {
  bytes: Uint8Array;
  /** One virtual file per large tensor: views of the tensors' own memory, never copied here. */
  externalData: { path: string; data: Uint8Array }[];
}

/**
 * Encodes with every initializer of at least `minBytes` kept out of the protobuf (no 2 GiB
 * limit, no copy of the weights into the message): ONNX Runtime reads them from `externalData`.
 */
export function encodeModelSplit(m: Model, minBytes = 64 * 1024): EncodedModel {
  const externalData: EncodedModel['externalData'] = [];
  const initializers = (m.graph.initializers ?? []).map((t, i) => {
    if (t.raw.length < minBytes) return t;
    const location = `tensor_${i}.bin`;
    externalData.push({ path: location, data: t.raw });
    return { ...t, raw: new Uint8Array(0), external: { location, offset: 0, length: t.raw.length } };
  });
  return { bytes: encodeModel({ ...m, graph: { ...m.graph, initializers } }), externalData };
}
