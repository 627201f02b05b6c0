/**
 * No silent CPU placement: every node of the graphs the product runs (the LoRA training step and
 * the generation graph, Llama and Qwen2 shapes) must have a kernel in the CUDA provider's list
 * (test/reference/fixtures/cuda-kernels.json, from ONNX Runtime's docs/OperatorKernels.md) for the
 * model's opset, else ONNX Runtime puts that node on the CPU — or, with CPU fallback disabled
 * as createSession does, refuses the CUDA session.
 *
 * Matching follows ONNX Runtime's KernelRegistry::VerifyVersion: a node's since-version (the
 * newest ONNX schema version of its op at the model's opset) must equal the start of a
 * registration, or fall inside a registration with an end. An open-ended "N+" registration
 * matches only since-version N: when ONNX adds a newer version of the op, that kernel no longer
 * applies. Element types are checked where they are known without shape inference: graph
 * inputs, initializers, declared value types and Cast outputs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import type { LlamaConfig } from '../../native/model/config';
import { randomWeights, smallConfig } from '../../native/model/init';
import { DEFAULT_OPSET } from '../../native/onnx/model';
import { buildLlamaGenerate, buildLlamaTrainStep } from '../../native/model/llama';
import { buildRecomputeStep } from '../../native/model/recompute';
import { LINEAR_TARGETS } from '../../native/model/weights';
import { GraphBuilder } from '../../native/onnx/graph';
import { encodeModel } from '../../native/onnx/model';
import * as o from '../../native/onnx/ops';
import { repoRoot } from '../helpers';

interface Registration {
  from: number;
  /** null: open-ended ("N+"). */
  to: number | null;
  types: Record<string, string[]>;
}
interface KernelList {
  source: { repository: string; path: string; commit: string; pinned: string; matchesPinned: boolean };
  domains: Record<string, Record<string, Registration[]>>;
}

const KERNELS = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/reference/fixtures/cuda-kernels.json'), 'utf8')) as KernelList;

/**
 * Every schema version of each ai.onnx op the checked graphs use, up to opset SCHEMA_MAX: up to
 * 17 as onnx 1.12's schema registry has them, 18-20 from onnx/defs/operator_sets.h, 21 as ONNX
 * 1.16 added them (the int4 update). A node's since-version is the newest of these at or below
 * the model's opset; an op missing here fails the check until its versions are added.
 */
const SCHEMA_MAX = 21;
const ONNX_VERSIONS: Readonly<Record<string, readonly number[]>> = {
  Add: [1, 6, 7, 13, 14],
  And: [1, 7],
  Cast: [1, 6, 9, 13, 19, 21],
  Col2Im: [18],
  Concat: [1, 4, 11, 13],
  ConstantOfShape: [9, 20, 21],
  Cos: [7],
  Div: [1, 6, 7, 13, 14],
  Equal: [1, 7, 11, 13, 19],
  Exp: [1, 6, 13],
  Expand: [8, 13],
  Gather: [1, 11, 13],
  GatherElements: [11, 13],
  Identity: [1, 13, 14, 16, 19, 21],
  If: [1, 11, 13, 16, 19, 21],
  LessOrEqual: [12, 16],
  LogSoftmax: [1, 11, 13],
  MatMul: [1, 9, 13],
  Max: [1, 6, 8, 12, 13],
  Mul: [1, 6, 7, 13, 14],
  Neg: [1, 6, 13],
  Pad: [1, 2, 11, 13, 18, 19, 21],
  Pow: [1, 7, 12, 13, 15],
  Range: [11],
  ReduceMean: [1, 11, 13, 18],
  ReduceSum: [1, 11, 13],
  Reshape: [1, 5, 13, 14, 19, 21],
  ScatterElements: [11, 13, 16, 18],
  Shape: [1, 13, 15, 19, 21],
  Sigmoid: [1, 6, 13],
  Sin: [7],
  Size: [1, 13, 19, 21],
  Slice: [1, 10, 11, 13],
  Softmax: [1, 11, 13],
  Split: [1, 2, 11, 13, 18],
  Sqrt: [1, 6, 13],
  Squeeze: [1, 11, 13, 21],
  Sub: [1, 6, 7, 13, 14],
  Transpose: [1, 13, 21],
  Unsqueeze: [1, 11, 13, 21],
  Where: [9, 16],
};

/**
 * Which type constraint each input of an op takes (the table's Parameters column), for the
 * type check: a constraint name ("T|V": whichever the registration has), "=x" for a fixed type;
 * the last entry repeats for variadic inputs. Ops not listed get a looser check (the type must
 * appear in some constraint of the matched registration), reported as such.
 */
const T = ['T'];
const TT = ['T', 'T'];
const T_INT64 = ['T', '=int64'];
const INPUTS: Readonly<Record<string, readonly string[]>> = {
  Add: TT, Sub: TT, Mul: TT, Div: TT, LessOrEqual: TT, MatMul: TT, Equal: TT, And: TT,
  Pow: ['T', 'T1'],
  Cos: T, Sin: T, Exp: T, Neg: T, Sqrt: T, Sigmoid: T, Softmax: T, LogSoftmax: T, Shape: T, Transpose: T, Concat: T, Max: T,
  Cast: ['T1'], ConstantOfShape: ['T1'],
  Identity: ['T|V'],
  Expand: T_INT64, Split: T_INT64, Squeeze: T_INT64, Unsqueeze: T_INT64, ReduceMean: T_INT64, ReduceSum: T_INT64,
  Reshape: ['T', 'shape|=int64'],
  Gather: ['T', 'Tind'], GatherElements: ['T', 'Tind'],
  ScatterElements: ['T', 'Tind', 'T'],
  Slice: ['T', 'Tind', 'Tind', 'Tind', 'Tind'],
  Pad: ['T', '=int64', 'T', 'Tind'],
  Range: ['T', 'T', 'T'],
  Where: ['B', 'T', 'T'],
};

/** ONNX TensorProto.DataType codes as the kernel table names them. */
const ELEM: Readonly<Record<number, string>> = {
  1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

/** One node as found in a model (subgraphs included). */
interface Use {
  domain: string;
  op: string;
  /** The opset imported for the node's domain. */
  opset: number;
  /** Where it is: enclosing If/Loop nodes, then the node's first output. */
  where: string;
  /** Element types of the inputs, where known without shape inference. */
  inputTypes: (string | undefined)[];
}

const num = (v: unknown): number => Number(v as number);

/** Every node of a model with its domain's opset, walking If/Loop/Scan bodies too. */
function collectUses(bytes: Uint8Array): { uses: Use[]; opsets: Map<string, number> } {
  const model = onnx.ModelProto.decode(bytes);
  const opsets = new Map(model.opsetImport.map((x) => [x.domain || 'ai.onnx', num(x.version)]));
  const uses: Use[] = [];
  const walk = (g: onnx.IGraphProto, outer: ReadonlyMap<string, string>, prefix: string): void => {
    const types = new Map(outer);
    const declare = (vi: onnx.IValueInfoProto): void => {
      const code = vi.type?.tensorType?.elemType;
      if (vi.name && code) types.set(vi.name, ELEM[code] ?? `code ${code}`);
    };
    for (const vi of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])]) declare(vi);
    for (const t of g.initializer ?? []) if (t.name && t.dataType) types.set(t.name, ELEM[t.dataType] ?? `code ${t.dataType}`);
    for (const n of g.node ?? []) {
      const domain = n.domain || 'ai.onnx';
      const where = `${prefix}${n.opType} → ${n.output?.[0] ?? n.name ?? '?'}`;
      uses.push({ domain, op: n.opType!, opset: opsets.get(domain) ?? NaN, where, inputTypes: (n.input ?? []).map((name) => (name ? types.get(name) : undefined)) });
      if (n.opType === 'Cast' && domain === 'ai.onnx') {
        const to = n.attribute?.find((a) => a.name === 'to');
        if (to && n.output?.[0]) types.set(n.output[0], ELEM[num(to.i)] ?? `code ${num(to.i)}`);
      }
      for (const a of n.attribute ?? []) {
        for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) walk(sub, types, `${where} [${a.name}] / `);
      }
    }
  };
  walk(model.graph!, new Map(), '');
  return { uses, opsets };
}

/** The node's schema since-version, or why it is unknown. */
function sinceVersion(domain: string, op: string, opset: number): number | string {
  if (domain !== 'ai.onnx') return 1; // the com.microsoft contrib ops ONNX Runtime defines are all version 1
  if (!(opset <= SCHEMA_MAX)) return `the model's opset ${opset} is above ${SCHEMA_MAX}, where this test's ONNX_VERSIONS table stops: extend it`;
  const versions = ONNX_VERSIONS[op];
  if (!versions) return `ONNX schema versions of ${op} are not in this test's ONNX_VERSIONS table: add them (onnx/defs)`;
  const since = Math.max(...versions.filter((v) => v <= opset));
  return Number.isFinite(since) ? since : `${op} does not exist at opset ${opset}`;
}

/** ONNX Runtime's KernelRegistry::VerifyVersion. */
const versionMatches = (r: Registration, since: number): boolean => r.from === since || (r.to !== null && r.from <= since && since <= r.to);

const showRange = (r: Registration): string => (r.to === null ? `${r.from}+` : r.from === r.to ? `${r.from}` : `[${r.from}, ${r.to}]`);

interface Coverage {
  /** Distinct (domain, op) → number of nodes. */
  ops: Map<string, number>;
  /** One line per (domain, op, opset) without a CUDA kernel, with the reason and an example node. */
  missing: string[];
  /** One line per (op, input, type) a matched kernel does not take. */
  badTypes: string[];
  typedInputs: number;
  /** Ops whose input types got only the loose check. */
  loose: Set<string>;
}

function coverage(uses: readonly Use[], kernels: KernelList = KERNELS): Coverage {
  const ops = new Map<string, number>();
  const missing = new Map<string, { reason: string; nodes: number; example: string }>();
  const badTypes = new Map<string, { nodes: number; example: string }>();
  const loose = new Set<string>();
  let typedInputs = 0;
  for (const u of uses) {
    ops.set(`${u.domain}:${u.op}`, (ops.get(`${u.domain}:${u.op}`) ?? 0) + 1);
    const key = `(${u.domain}, ${u.op}, opset ${u.opset})`;
    const regs = kernels.domains[u.domain]?.[u.op];
    const since = sinceVersion(u.domain, u.op, u.opset);
    let reason: string | undefined;
    let reg: Registration | undefined;
    if (!regs) reason = 'the CUDA provider has no kernel for this op at any opset';
    else if (typeof since === 'string') reason = since;
    else {
      reg = regs.find((r) => versionMatches(r, since));
      if (!reg) reason = `its since-version at this opset is ${since}; CUDA registers ${regs.map(showRange).join(', ')} (an open-ended "N+" matches since-version N only)`;
    }
    if (reason) {
      const m = missing.get(key);
      if (m) m.nodes++;
      else missing.set(key, { reason, nodes: 1, example: u.where });
      continue;
    }
    const spec = INPUTS[u.op];
    u.inputTypes.forEach((type, i) => {
      if (!type) return;
      typedInputs++;
      let allowed: readonly string[] | undefined;
      const want = spec?.[Math.min(i, spec.length - 1)];
      for (const alt of want?.split('|') ?? []) {
        allowed ??= alt.startsWith('=') ? [alt.slice(1)] : reg!.types[alt];
      }
      if (!allowed) {
        loose.add(u.op);
        allowed = Object.values(reg!.types).flat();
      }
      if (!allowed.includes(type)) {
        const k = `(${u.domain}, ${u.op}, opset ${u.opset}) input ${i} of type ${type}: the CUDA kernel (${showRange(reg!)}) takes ${allowed.join(', ')}`;
        const b = badTypes.get(k);
        if (b) b.nodes++;
        else badTypes.set(k, { nodes: 1, example: u.where });
      }
    });
  }
  return {
    ops,
    missing: [...missing].map(([k, m]) => `${k}: ${m.reason}; ${m.nodes} node(s), e.g. ${m.example}`),
    badTypes: [...badTypes].map(([k, b]) => `${k}; ${b.nodes} node(s), e.g. ${b.example}`),
    typedInputs,
    loose,
  };
}

function failureMessage(graph: string, c: Coverage): string {
  const src = KERNELS.source;
  return [
    `${graph}: nodes the CUDA provider has no kernel for (they would run on the CPU):`,
    ...c.missing.map((l) => `  missing ${l}`),
    ...c.badTypes.map((l) => `  type ${l}`),
    `kernel list: ${src.repository} ${src.path} at ${src.commit}${src.matchesPinned ? '' : ` (not the pinned release: ${src.pinned})`}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

const LLAMA: LlamaConfig = smallConfig({ hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 64 });
const QWEN2: LlamaConfig = {
  ...smallConfig({ hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, vocab: 64, tie: true }),
  modelType: 'qwen2',
  attentionBias: true,
};
const LORA = { rank: 4, alpha: 8, targets: LINEAR_TARGETS };
/** As native/lift/learn.ts builds it. */
const OPTIMIZER = { beta1: 0.9, beta2: 0.98, weightDecay: 1e-4, maxGradNorm: 1 };

describe('CUDA kernel coverage of the graphs the product runs', () => {
  test('the kernel list and the version rule', (t) => {
    const src = KERNELS.source;
    assert.equal(src.repository, 'microsoft/onnxruntime');
    assert.equal(src.path, 'docs/OperatorKernels.md');
    assert.match(src.commit, /^[0-9a-f]{40}$/);
    const onnxOps = KERNELS.domains['ai.onnx']!;
    assert.ok(Object.keys(onnxOps).length > 100 && onnxOps.MatMul && KERNELS.domains['com.microsoft']);
    const covered = (op: string, opset: number): boolean => {
      const since = sinceVersion('ai.onnx', op, opset);
      return typeof since === 'number' && (onnxOps[op] ?? []).some((r) => versionMatches(r, since));
    };
    assert.ok(covered('Pad', 17), 'Pad at opset 17: since-version 13, registered [13, 17]');
    assert.ok(covered('Add', 21), 'Add at opset 21: since-version 14, registered 14+');
    assert.ok(covered('Reshape', 21), 'Reshape at opset 21: since-version 21, registered [21, 22]');
    const reg = (from: number, to: number | null): Registration => ({ from, to, types: {} });
    assert.ok(versionMatches(reg(18, null), 18) && versionMatches(reg(13, 17), 17) && versionMatches(reg(21, 22), 21));
    assert.ok(!versionMatches(reg(18, null), 21), 'an open-ended 18+ does not match since-version 21');
    assert.ok(!versionMatches(reg(13, 17), 18));
    t.diagnostic(`kernel list from ${src.repository} ${src.path} at ${src.commit}${src.matchesPinned ? '' : `; not the pinned release (${src.pinned})`}`);
  });

  for (const [name, cfg] of [
    ['llama', LLAMA],
    ['qwen2 (attention bias, tied embeddings)', QWEN2],
  ] as const) {
    const weights = randomWeights(cfg);
    const graphs: [string, () => Uint8Array][] = [
      ['LoRA training step (7 targets, AdamW, clipping)', () => buildLlamaTrainStep(cfg, weights, { seqLen: 8, batch: 1, lora: LORA, seed: 1, optimizer: OPTIMIZER }).model.bytes],
      ['generation (prefill/decode, KV cache, LoRA inputs)', () => buildLlamaGenerate(cfg, weights).model.bytes],
      // the variants a CUDA session gets: half-precision weight matmuls, loss scaling
      ['LoRA training step in mixed precision (float16 weights)', () => buildLlamaTrainStep(cfg, weights, { seqLen: 8, batch: 1, lora: LORA, seed: 1, optimizer: OPTIMIZER, precision: 'float16' }).model.bytes],
      // what learning builds: packed rows (positions and segments as inputs), any row length
      ...(['float32', 'float16'] as const).map((precision): [string, () => Uint8Array] => [
        `LoRA training step over packed rows, ${precision}`,
        () => buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora: LORA, seed: 1, optimizer: OPTIMIZER, precision, packed: true }).model.bytes,
      ]),
      ['generation in mixed precision (float16 weights)', () => buildLlamaGenerate(cfg, weights, undefined, 'float16').model.bytes],
      // activation recomputation: the layer (stacked weights, the vector-Jacobian product in an If), the chunked head, the update (dynamic loss scale)
      ...(['float32', 'float16'] as const).flatMap((precision): [string, () => Uint8Array][] => {
        const r = (): ReturnType<typeof buildRecomputeStep> => buildRecomputeStep(cfg, weights, { seqLen: 8, lora: LORA, seed: 1, precision, chunk: 4 });
        return [
          [`recomputation, ${precision}: layer graph`, () => r().layer.bytes],
          [`recomputation, ${precision}: layer graph over packed rows`, () => buildRecomputeStep(cfg, weights, { seqLen: 8, lora: LORA, seed: 1, precision, chunk: 4, packed: true }).layer.bytes],
          [`recomputation, ${precision}: head graph`, () => r().head.bytes],
          [`recomputation, ${precision}: update graph`, () => r().update.model.bytes],
        ];
      }),
    ];
    for (const [graph, build] of graphs) {
      test(`${name}: ${graph}: every op has a CUDA kernel`, (t) => {
        const { uses, opsets } = collectUses(build());
        assert.equal(opsets.get('ai.onnx'), DEFAULT_OPSET);
        const c = coverage(uses);
        const ops = [...c.ops.keys()].map((k) => k.replace(/^ai\.onnx:/, '')).sort();
        const short = c.missing.length + c.badTypes.length;
        t.diagnostic(
          `${uses.length} nodes, ${ops.length} distinct ops at opset ${opsets.get('ai.onnx')}: ${short ? `${c.missing.length} without a CUDA kernel, ${c.badTypes.length} type mismatch(es)` : 'all covered by a CUDA kernel'}; ` +
            `${c.typedInputs} node inputs type-checked${c.loose.size ? ` (loosely for ${[...c.loose].join(', ')})` : ''}`,
        );
        t.diagnostic(`ops: ${ops.join(' ')}`);
        assert.ok(short === 0, failureMessage(`${name}, ${graph}`, c));
      });
    }
  }

  test('negative control: an op the CUDA provider lacks is flagged, inside an If branch too; so is an input type it does not take', (t) => {
    // Candidates really absent from the CUDA list (the first is what the graph uses).
    for (const op of ['Col2Im', 'SoftmaxCrossEntropyLoss', 'StringNormalizer']) assert.equal(KERNELS.domains['ai.onnx']![op], undefined, `${op} is in the CUDA list`);
    const g = new GraphBuilder('control');
    const x = g.input('x', 'float32', [1, 4, 9]);
    const cond = g.input('cond', 'bool', []);
    const col2im: o.OpDef = { type: 'Col2Im', infer: () => [{ dtype: 'float32', shape: [1, 1, 4, 4] }] };
    const [image] = o.ifElse(
      cond,
      (b) => b.apply(col2im, [x, g.ints([4, 4]), g.ints([2, 2])]),
      (b) => [b.initializer('blank', 'float32', [1, 1, 4, 4], new Float32Array(16))],
    );
    g.output(o.softmax(image!, -1));
    // Sqrt on int64: the op has a CUDA kernel, but not for that type.
    const sqrtInt: o.OpDef = { type: 'Sqrt', infer: ([v]) => [{ dtype: 'int64', shape: v!.shape }] };
    g.output(g.apply(sqrtInt, [g.input('n', 'int64', [3])])[0]!);
    // At opset 18 (Col2Im's first) If (since-version 16: CUDA [13, 18]), Softmax and Sqrt (13: 13+)
    // have kernels, so only the two planted faults show.
    const { uses, opsets } = collectUses(encodeModel(g.toModel(18)));
    assert.equal(opsets.get('ai.onnx'), 18);
    const c = coverage(uses);
    const message = failureMessage('control', c);
    t.diagnostic(message.split('\n').slice(1, -1).join(' | '));
    assert.equal(c.missing.length, 1, message);
    assert.match(c.missing[0]!, /^\(ai\.onnx, Col2Im, opset 18\): the CUDA provider has no kernel for this op at any opset; 1 node\(s\), e\.g\. If → .*\[then_branch\] \/ Col2Im/);
    assert.equal(c.badTypes.length, 1, message);
    assert.match(c.badTypes[0]!, /^\(ai\.onnx, Sqrt, opset 18\) input 0 of type int64: the CUDA kernel \(13\+\) takes bfloat16, double, float, float16/);
    assert.deepEqual([...c.ops.keys()].sort(), ['ai.onnx:Col2Im', 'ai.onnx:If', 'ai.onnx:Softmax', 'ai.onnx:Sqrt']);
  });
});
