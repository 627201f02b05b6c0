import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, encodeModel, floatTensor } from '../../native/onnx/model';
import { ProtoWriter } from '../../native/onnx/wire';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('varints follow the protobuf wire format, negatives as ten bytes', () => {
  assert.equal(hex(new ProtoWriter().int(1, 1).finish()), '0801');
  assert.equal(hex(new ProtoWriter().int(1, 300).finish()), '08ac02');
  assert.equal(hex(new ProtoWriter().int(2, -1).finish()), '10ffffffffffffffffff01');
  assert.equal(hex(new ProtoWriter().int(1, 2n ** 40n).finish()), '088080808080' + '20');
  assert.throws(() => new ProtoWriter().int(1, 1.5), /not an integer/);
});

test('length-delimited fields: strings, packed ints and floats, nested messages', () => {
  assert.equal(hex(new ProtoWriter().string(2, 'hé').finish()), '1203' + '68c3a9');
  assert.equal(hex(new ProtoWriter().packedInts(1, [3, 270]).finish()), '0a03' + '038e02');
  assert.equal(hex(new ProtoWriter().packedFloats(7, [1]).finish()), '3a04' + '0000803f');
  assert.equal(hex(new ProtoWriter().float(2, -2).finish()), '15' + '000000c0');
  assert.equal(hex(new ProtoWriter().message(3, (w) => w.int(1, 5)).finish()), '1a02' + '0805');
});

test('buffers grow past their first allocation', () => {
  const big = new Uint8Array(10_000).fill(7);
  const out = new ProtoWriter().bytes(1, big).bytes(1, big).finish();
  assert.equal(out.length, 2 * (1 + 2 + 10_000));
  assert.equal(out[out.length - 1], 7);
});

test('floatTensor checks its element count against the shape', () => {
  assert.throws(() => floatTensor('w', [2, 2], [1, 2, 3]), /3 values for shape \[2, 2\]/);
  const t = floatTensor('w', [2], [1, -1]);
  assert.equal(t.dataType, DataType.FLOAT);
  assert.deepEqual(Array.from(new Float32Array(t.raw.buffer)), [1, -1]);
});

test('a model starts with ir_version and names its producer', () => {
  const bytes = encodeModel({ graph: { name: 'g', nodes: [], inputs: [], outputs: [] } });
  assert.equal(hex(bytes.subarray(0, 2)), '080a'); // field 1 (ir_version) = 10
  assert.ok(Buffer.from(bytes).includes(Buffer.from('lift-vscode')));
});
