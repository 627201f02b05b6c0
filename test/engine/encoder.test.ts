/**
 * The ONNX encoder against an independent decoder (onnx-proto), external data loaded by path and
 * by bytes, and one session that serves both a training step and the forward pass through If.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../native/onnx/autodiff';
import { GraphBuilder } from '../../native/onnx/graph';
import { DataType, encodeModel, floatTensor } from '../../native/onnx/model';
import * as o from '../../native/onnx/ops';
import { saveModel } from '../../native/onnx/save';
import { createSession } from '../../native/runtime/session';

const num = (v: unknown): number => Number(v as number);

describe('encoder round trip through onnx-proto', () => {
  test('nodes, every attribute kind, initializers, symbolic dims, opsets', () => {
    const bytes = encodeModel({
      producerName: 'lift-test',
      opsets: { '': 21, 'com.microsoft': 1 },
      graph: {
        name: 'g',
        inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 3] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 2] }],
        initializers: [floatTensor('w', [3, 2], [1, 2, 3, 4, 5, 6])],
        nodes: [
          {
            opType: 'Custom',
            domain: 'com.microsoft',
            inputs: ['x', 'w'],
            outputs: ['y'],
            name: 'n0',
            attributes: {
              f: { kind: 'float', value: 0.5 },
              i: { kind: 'int', value: -3 },
              s: { kind: 'string', value: 'héllo' },
              fs: { kind: 'floats', value: [1.5, -2] },
              is: { kind: 'ints', value: [0, 2 ** 40, -1] },
              ss: { kind: 'strings', value: ['a', 'b'] },
              t: { kind: 'tensor', value: floatTensor('tv', [2], [7, 8]) },
              g: { kind: 'graph', value: { name: 'sub', nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['z'] }], inputs: [], outputs: [{ name: 'z', elemType: DataType.FLOAT, shape: [] }] } },
            },
          },
        ],
      },
    });
    const m = onnx.ModelProto.decode(bytes);
    assert.equal(num(m.irVersion), 10);
    assert.equal(m.producerName, 'lift-test');
    assert.deepEqual(m.opsetImport.map((x) => [x.domain, num(x.version)]), [['', 21], ['com.microsoft', 1]]);
    const g = m.graph! as onnx.GraphProto;
    assert.deepEqual(g.input[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || num(d.dimValue)), ['batch', 3]);
    assert.equal(g.input[0]!.type!.tensorType!.elemType, DataType.FLOAT);
    const w = g.initializer[0]! as onnx.TensorProto;
    assert.deepEqual([w.name, w.dims.map(num), w.dataType], ['w', [3, 2], DataType.FLOAT]);
    assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(w.rawData!).buffer)), [1, 2, 3, 4, 5, 6]);
    const n = g.node[0]! as onnx.NodeProto;
    assert.deepEqual([n.opType, n.domain, n.name, n.input, n.output], ['Custom', 'com.microsoft', 'n0', ['x', 'w'], ['y']]);
    const a = Object.fromEntries(n.attribute.map((x: onnx.IAttributeProto) => [x.name, x]));
    assert.equal(a.f!.f, 0.5);
    assert.equal(num(a.i!.i), -3);
    assert.equal(Buffer.from(a.s!.s!).toString(), 'héllo');
    assert.deepEqual(a.fs!.floats, [1.5, -2]);
    assert.deepEqual(a.is!.ints!.map(num), [0, 2 ** 40, -1]);
    assert.deepEqual(a.ss!.strings!.map((x: Uint8Array) => Buffer.from(x).toString()), ['a', 'b']);
    assert.equal(a.t!.t!.name, 'tv');
    assert.equal(a.g!.g!.node[0]!.opType, 'Identity');
    assert.deepEqual(n.attribute.map((x: onnx.IAttributeProto) => x.type), [1, 2, 3, 6, 7, 8, 4, 5]);
  });
});

describe('external data', () => {
  const build = () => {
    const g = new GraphBuilder('ext');
    const x = g.input('x', 'float32', [1, 64]);
    const w = g.initializer('big_weight', 'float32', [64, 64], Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i)));
    const b = g.initializer('small_bias', 'float32', [64], Float32Array.from({ length: 64 }, (_, i) => i / 64));
    g.output(o.add(o.matmul(x, w), b), 'y');
    return g;
  };
  const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), [1, 64]) };

  test('large initializers move to a .data file; the model loads by path and by bytes, same numbers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-ext-'));
    try {
      const g = build();
      const inline = await (await ort.InferenceSession.create(g.encode())).run(feeds);
      const saved = saveModel(g.toModel(), path.join(dir, 'model.onnx'), 1024);
      assert.ok(saved.data && fs.statSync(saved.data).size >= 64 * 64 * 4);
      assert.ok(fs.statSync(saved.model).size < 2048, 'the weights are not in the .onnx file');
      const decoded = onnx.ModelProto.decode(fs.readFileSync(saved.model)) as onnx.ModelProto;
      const big = decoded.graph!.initializer!.find((t) => t.name === 'big_weight')! as onnx.TensorProto;
      assert.equal(big.dataLocation, 1);
      assert.deepEqual(Object.fromEntries(big.externalData.map((e) => [e.key, e.value])), { location: 'model.onnx.data', offset: '0', length: String(64 * 64 * 4) });
      assert.equal(decoded.graph!.initializer!.find((t) => t.name === 'small_bias')!.dataLocation ?? 0, 0);

      const byPath = await (await ort.InferenceSession.create(saved.model)).run(feeds);
      const byBytes = await (
        await ort.InferenceSession.create(fs.readFileSync(saved.model), { externalData: [{ path: 'model.onnx.data', data: fs.readFileSync(saved.data!) }] })
      ).run(feeds);
      assert.deepEqual(Array.from(byPath.y!.data as Float32Array), Array.from(inline.y!.data as Float32Array));
      assert.deepEqual(Array.from(byBytes.y!.data as Float32Array), Array.from(inline.y!.data as Float32Array));
      assert.deepEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx.data'], 'no temporary files left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('in-memory external data', () => {
  test('large initializers stay out of the protobuf and reach ONNX Runtime as views; same numbers', async () => {
    const g = new GraphBuilder('split');
    const x = g.input('x', 'float32', [1, 64]);
    const wData = Float32Array.from({ length: 64 * 64 }, (_, i) => Math.cos(i));
    g.output(o.matmul(x, g.initializer('w', 'float32', [64, 64], wData)), 'y');
    const split = g.encodeSplit(1024);
    assert.equal(split.externalData.length, 1);
    assert.equal(split.externalData[0]!.data.buffer, wData.buffer, 'a view of the weight, not a copy');
    assert.ok(split.bytes.length < 1024);
    const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: 64 }, (_, i) => i / 64), [1, 64]) };
    const a = await (await createSession(split, 'cpu')).session.run(feeds);
    const b = await (await ort.InferenceSession.create(g.encode())).run(feeds);
    assert.deepEqual(Array.from(a.y!.data as Float32Array), Array.from(b.y!.data as Float32Array));
  });
});

describe('one session for the training step and the forward pass (If)', () => {
  const [n, d, r] = [4, 6, 2];
  const W0 = Float32Array.from({ length: d * d }, (_, i) => Math.sin(i + 1) * 0.5);

  /** y = x·W0 + x·A·B; the train branch also returns the loss and the SGD-updated A, B. */
  function build() {
    const g = new GraphBuilder('shared');
    const train = g.input('train', 'bool', []);
    const x = g.input('x', 'float32', [n, d]);
    const target = g.input('target', 'float32', [n, d]);
    const A = g.input('A', 'float32', [d, r]);
    const B = g.input('B', 'float32', [r, d]);
    const lr = g.input('lr', 'float32', []);
    const base = g.initializer('W0', 'float32', [d, d], W0);
    const forward = (): o.Value => o.add(o.matmul(x, base), o.matmul(o.matmul(x, A), B));
    const outs = o.ifElse(
      train,
      () => {
        const y = forward();
        const diff = o.sub(y, target);
        const loss = o.reduceMean(o.mul(diff, diff));
        const [gA, gB] = gradients(loss, [A, B]);
        return [loss, y, o.sub(A, o.mul(lr, gA!)), o.sub(B, o.mul(lr, gB!))];
      },
      (e) => [e.const(0), forward(), A, B],
    );
    ['loss', 'y', 'A_next', 'B_next'].forEach((name, i) => g.output(outs[i]!, name));
    return g;
  }

  test('the weights are stored once, outside both branches; each mode gives the right numbers', async () => {
    const g = build();
    const model = g.toModel();
    assert.deepEqual(model.graph.initializers!.map((t) => t.name).filter((nm) => nm === 'W0'), ['W0']);
    const ifNode = model.graph.nodes.find((nd) => nd.opType === 'If')!;
    const branches = Object.values(ifNode.attributes!).map((a) => (a.kind === 'graph' ? a.value : undefined));
    assert.ok(branches.every((b) => b && !(b.initializers ?? []).some((t) => t.name === 'W0')));

    const session = await ort.InferenceSession.create(encodeModel(model));
    const t = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const X = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i));
    const Y = Float32Array.from({ length: n * d }, (_, i) => Math.sin(2 * i));
    const A0 = Float32Array.from({ length: d * r }, (_, i) => 0.1 * (i % 3));
    const B0 = Float32Array.from({ length: r * d }, (_, i) => 0.05 * (i % 4));
    const feeds = (train: boolean) => ({
      train: new ort.Tensor('bool', Uint8Array.of(train ? 1 : 0), []),
      x: t(X, [n, d]),
      target: t(Y, [n, d]),
      A: t(A0, [d, r]),
      B: t(B0, [r, d]),
      lr: t(Float32Array.of(0.1), []),
    });
    const fwd = await session.run(feeds(false));
    const trn = await session.run(feeds(true));
    // Forward mode: y, unchanged parameters, zero loss.
    assert.deepEqual(Array.from(fwd.y!.data as Float32Array), Array.from(trn.y!.data as Float32Array));
    assert.deepEqual(Array.from(fwd.A_next!.data as Float32Array), Array.from(A0));
    assert.equal((fwd.loss!.data as Float32Array)[0], 0);
    // Train mode: the loss of y, and parameters that moved downhill.
    const y = fwd.y!.data as Float32Array;
    const mse = y.reduce((s, v, i) => s + (v - Y[i]!) ** 2, 0) / y.length;
    assert.ok(Math.abs((trn.loss!.data as Float32Array)[0]! - mse) < 1e-5);
    const again = await session.run({ ...feeds(true), A: trn.A_next!, B: trn.B_next! });
    assert.ok((again.loss!.data as Float32Array)[0]! < mse);
  });
});
