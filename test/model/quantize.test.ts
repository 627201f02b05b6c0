/**
 * Block-wise 4- and 8-bit weights: each weight within half a step of its block's scale, and the
 * layout exactly what ONNX Runtime's MatMulNBits reads through the engine's op (its output equals
 * x · the dequantized weight), K a whole number of blocks or not.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { defaultModelDir } from '../../native/model/default';
import { decodingGraph } from '../../native/model/fusedDecode';
import { TextTokenizer } from '../../native/model/tokenizer';
import { loadModel } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import { memoryLogger, repoRoot, trainerBundle, until } from '../helpers';
import { TrainerClient } from '../../native/client';
import { answerWeights } from '../../native/lift/answer';
import { GraphBuilder } from '../../native/onnx/graph';
import { matmulNBits } from '../../native/onnx/ops';
import { dequantizeBlockwise, quantizeBlockwise } from '../../native/model/quantize';
import { loadOrt } from '../../native/runtime/ort';
import { createSession } from '../../native/runtime/session';

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.2;
  });
}

test("every weight is within half a step of its block's coarser scale (largest magnitude ÷ (2^(bits−1)−1)); the largest is exact or nearly", () => {
  for (const bits of [4, 8] as const) {
    for (const [K, N] of [[64, 3], [80, 5]] as const) {
      const w = random(K * N, K + bits);
      const q = quantizeBlockwise(w, K, N, bits, 32);
      const blocks = Math.ceil(K / 32);
      assert.equal(q.data.length, N * blocks * (32 * bits) / 8);
      const d = dequantizeBlockwise(q);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const b = Math.floor(k / 32);
          let amax = 0;
          for (let j = b * 32; j < Math.min(K, b * 32 + 32); j++) amax = Math.max(amax, Math.abs(w[j * N + n]!));
          const step = amax / (2 ** (bits - 1) - 1);
          assert.ok(Math.abs(d[k * N + n]! - w[k * N + n]!) <= step / 2 + 1e-7, `${bits} bits [${k}, ${n}]: ${d[k * N + n]} for ${w[k * N + n]}`);
        }
      }
      const largest = w.reduce((a, x) => (Math.abs(x) > Math.abs(a) ? x : a), 0);
      assert.ok(d.some((x) => Math.abs(x - largest) < 1e-6), 'the largest magnitude is a level');
    }
  }
  assert.throws(() => quantizeBlockwise(new Float32Array(4), 2, 2, 3 as 4), /3 bits/);
  assert.throws(() => quantizeBlockwise(new Float32Array(4), 2, 3, 4), /4 weights for \[2, 3\]/);
  // the op checks what it is given when the graph is built
  const g = new GraphBuilder('bad');
  const q = quantizeBlockwise(random(64 * 8, 1), 64, 8, 4);
  const x = g.input('x', 'float32', [1, 64]);
  assert.throws(() => matmulNBits(x, g.initializer('B', 'uint8', [8, 2, 16], q.data), g.initializer('s', 'float32', [16], q.scales), { K: 32, N: 8, bits: 4, blockSize: 32 }), /last dimension is 64, K is 32/);
  assert.throws(() => matmulNBits(x, g.initializer('B', 'uint8', [8, 4, 8], q.data), g.initializer('s', 'float32', [16], q.scales), { K: 64, N: 8, bits: 4, blockSize: 32 }), /must be uint8 \[8, 2, 16\]/);
});

test("ONNX Runtime's MatMulNBits on the CPU reads the layout: x · W equals x · the dequantized weight", async () => {
  const { Tensor } = loadOrt();
  for (const bits of [4, 8] as const) {
    for (const [M, K, N] of [[1, 256, 48], [5, 80, 24]] as const) {
      const q = quantizeBlockwise(random(K * N, 3 * K + N), K, N, bits, 32);
      const blocks = Math.ceil(K / 32);
      // through the engine's own op, as the decoding graph will use it
      const g = new GraphBuilder('nbits');
      const packed = g.initializer('B', 'uint8', [N, blocks, (32 * bits) / 8], q.data);
      const scales = g.initializer('scales', 'float32', [N * blocks], q.scales);
      g.output(matmulNBits(g.input('x', 'float32', [M, K]), packed, scales, { K, N, bits, blockSize: 32 }), 'y');
      assert.deepEqual(g.toModel().opsets, { '': 18, 'com.microsoft': 1 });
      const model = g.encode();
      const { session } = await createSession(model, 'cpu', { threads: 1 });
      try {
        const x = random(M * K, 7 * M + K);
        const y = (await session.run({ x: new Tensor('float32', x, [M, K]) })).y!.data as Float32Array;
        const w = dequantizeBlockwise(q);
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let want = 0;
            for (let k = 0; k < K; k++) want += x[m * K + k]! * w[k * N + n]!;
            assert.ok(Math.abs(y[m * N + n]! - want) <= 1e-5, `${bits} bits, [${M}×${K}]·[${K}×${N}] at (${m}, ${n}): ${y[m * N + n]} against ${want}`);
          }
        }
      } finally {
        await session.release();
      }
    }
  }
});

test('the decoding graph in 8 and 4 bits: every linear and the output projection through MatMulNBits; perplexity on held-out code within 1% and 5% of float32 (the default model)', async () => {
  const dir = defaultModelDir()!;
  const { config, weights } = loadModel(dir);
  const tok = TextTokenizer.fromFolder(dir);
  // code the default model never trained on: this repository's own quantizer
  const ids = tok.encodeText(fs.readFileSync(path.join(repoRoot, 'native/model/quantize.ts'), 'utf8')).slice(0, 240);
  const perplexity: Record<string, number> = {};
  for (const bits of [undefined, 8, 4] as const) {
    // the CPU's graph, as answering builds it: q/k/v and gate/up each one product, and the output projection quantized too
    const graph = decodingGraph(config, weights, { cpu: true, bits });
    const nodes = onnx.ModelProto.decode(graph.model.bytes).graph!.node!.filter((n) => n.opType === 'MatMulNBits').length;
    assert.equal(nodes, bits ? config.numLayers * 4 + 1 : 0, `${bits ?? 32} bits: MatMulNBits nodes`);
    const { session } = await createSession(graph.model, 'cpu', { threads: 1 });
    const gen = new Generator(session, config, graph.loraTargets, graph.memory, graph.fused);
    try {
      let nll = 0;
      let cache: Awaited<ReturnType<Generator['step']>>['cache'] | undefined;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = await gen.step([ids[i]!], i, cache);
        cache = r.cache;
        const top = r.logits.reduce((a, v) => Math.max(a, v), -Infinity);
        const sum = r.logits.reduce((a, v) => a + Math.exp(v - top), 0);
        nll -= r.logits[ids[i + 1]!]! - top - Math.log(sum);
      }
      perplexity[bits ?? 32] = Math.exp(nll / (ids.length - 1));
    } finally {
      await gen.release();
    }
  }
  assert.ok(perplexity[32]! > 1 && perplexity[32]! < config.vocabSize / 4, JSON.stringify(perplexity));
  assert.ok(perplexity[8]! / perplexity[32]! - 1 < 0.01, `int8: ${JSON.stringify(perplexity)}`);
  assert.ok(perplexity[4]! / perplexity[32]! - 1 < 0.05, `int4: ${JSON.stringify(perplexity)}`);
});

test('lift.answerPrecision: auto quantizes models of 100M parameters or more on the CPU; a GPU keeps half precision; the trainer answers in the chosen weights', async () => {
  assert.equal(answerWeights(4.2e6, 'float32', undefined), 'float32');
  assert.equal(answerWeights(4.2e6, 'float32', 'auto'), 'float32');
  assert.equal(answerWeights(494e6, 'float32', 'auto'), 'int8');
  assert.equal(answerWeights(494e6, 'float32', 'fp32'), 'float32');
  assert.equal(answerWeights(4.2e6, 'float32', 'int4'), 'int4');
  assert.equal(answerWeights(494e6, 'float16', 'int4'), 'float16');
  // through a trainer process, as the extension starts it with the setting
  const logger = memoryLogger();
  const client = new TrainerClient({ trainerPath: trainerBundle, logger, client: { name: 'quantize-test', version: '0' }, env: { LIFT_ANSWER_PRECISION: 'int4', LIFT_DEVICE: 'cpu' } });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-quantize-'));
  try {
    fs.writeFileSync(path.join(tmp, 'NOTES.md'), '# Notes\n\nThe broker listens on port 6180.\n');
    const r = await client.ask({ question: 'Which port?', roots: [tmp], model: '', store: path.join(tmp, 'no-store'), maxTokens: 4 });
    assert.ok(typeof r.text === 'string');
    await until(() => logger.has('info', /answering with .* in int4 weights \(lift\.answerPrecision int4\)/), 10_000, 'the log line');
  } finally {
    await client.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
