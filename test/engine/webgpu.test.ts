/**
 * The WebGPU route (ONNX Runtime's bundled WebGPU provider). What can be checked without a GPU:
 *  - portable graphs (built for WebGPU) hold no op that the provider left on the CPU when the
 *    same graphs ran on an H200 (fixtures/webgpu-placement.json, from ONNX Runtime's own node
 *    placement log): every op is one it ran on WebGPU there, or shape and index arithmetic;
 *  - a portable graph trains exactly as the fused one (its log-softmax written out);
 *  - rows padded to WebGPU's row quantum train exactly as unpadded rows;
 *  - provider choice: `webgpu` fails with a clear reason where no adapter answers, `auto` decides
 *    before a graph is built the same way a session then runs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { packedFeeds, webgpuRowLength, WEBGPU_ROW_QUANTUM } from '../../native/lift/learn';
import { makeSample } from '../../native/lift/samples';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaGenerate, buildLlamaTrainStep } from '../../native/model/llama';
import { buildRecomputeStep } from '../../native/model/recompute';
import type { LinearTarget } from '../../native/model/weights';
import { type EncodedModel, encodeModel, DataType } from '../../native/onnx/model';
import { executionProviders } from '../../native/runtime/ort';
import { createSession, defaultDevice, resolveProvider, TrainStepRunner } from '../../native/runtime/session';
import { rng } from './gradcheck';

const cfg = smallConfig({ hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, vocab: 300, tie: true });
const weights = randomWeights(cfg, 3);
const lora = { rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as LinearTarget[] };

const placement = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'webgpu-placement.json'), 'utf8')) as { graphs: Record<string, { webgpu: Record<string, number>; cpu: Record<string, number> }> };
/** Op types that ran on WebGPU in the H200 run. */
const RAN_ON_WEBGPU = new Set(Object.values(placement.graphs).flatMap((g) => Object.keys(g.webgpu)));
/** Shape and int64 index arithmetic, which ONNX Runtime keeps on the CPU by design (tiny tensors). */
const SHAPE_MATH = new Set(['Shape', 'Size', 'Cast', 'Range', 'Gather', 'Unsqueeze', 'Equal', 'LessOrEqual', 'ConstantOfShape']);

const opTypes = (m: EncodedModel | Uint8Array): Set<string> => {
  const model = onnx.ModelProto.decode('externalData' in m ? m.bytes : m);
  const all = new Set<string>();
  const walk = (g: onnx.IGraphProto): void => {
    for (const n of g.node ?? []) {
      all.add(n.opType!);
      for (const a of n.attribute ?? []) if (a.g) walk(a.g);
    }
  };
  walk(model.graph!);
  return all;
};

describe('graphs for WebGPU', () => {
  test('the H200 run left only LogSoftmax (of the fused graph) and shape arithmetic on the CPU', () => {
    const leftOnCpu = new Set(Object.values(placement.graphs).flatMap((g) => Object.keys(g.cpu)));
    assert.deepEqual([...leftOnCpu].filter((op) => !SHAPE_MATH.has(op)), ['LogSoftmax']);
    assert.equal(placement.graphs['train float32, not portable (fused LogSoftmax)']!.cpu.LogSoftmax, 1);
  });

  test('every op of every portable graph ran on WebGPU there (or is shape arithmetic)', () => {
    const rec = buildRecomputeStep(cfg, weights, { seqLen: 32, lora, seed: 1, packed: true, portable: true });
    const graphs: [string, EncodedModel | Uint8Array][] = [
      ['train', buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora, seed: 1, packed: true, portable: true }).model],
      ['train, mixed precision', buildLlamaTrainStep(cfg, weights, { seqLen: 32, batch: 1, lora, seed: 1, precision: 'float16', portable: true }).model],
      ['layer', rec.layer],
      ['head', rec.head],
      ['update', rec.update.model],
      ['generate', buildLlamaGenerate(cfg, weights, lora.targets).model],
      ['generate int4', buildLlamaGenerate(cfg, weights, lora.targets, 'float32', 4).model],
    ];
    for (const [name, m] of graphs) {
      const strangers = [...opTypes(m)].filter((op) => !RAN_ON_WEBGPU.has(op) && !SHAPE_MATH.has(op));
      assert.deepEqual(strangers, [], `${name}: ops not seen on WebGPU`);
    }
    // the fused graph keeps LogSoftmax (the CPU's fast path); the portable one writes it out
    assert.ok(opTypes(buildLlamaTrainStep(cfg, weights, { seqLen: 32, batch: 1, lora, seed: 1 }).model).has('LogSoftmax'));
    assert.ok(!opTypes(graphs[0]![1]).has('LogSoftmax'));
  });

  test('a portable training step trains exactly as the fused one', async () => {
    const random = rng(5);
    const T = 48;
    const ids = Array.from({ length: T + 1 }, () => Math.floor(random() * cfg.vocabSize));
    const feeds = packedFeeds([[makeSample(ids.slice(0, 10), ids.slice(10))]]);
    const run = async (portable: boolean): Promise<{ losses: number[]; b: Float32Array }> => {
      const g = buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora, seed: 1, packed: true, portable });
      const { session } = await createSession(g.model, 'cpu');
      const r = new TrainStepRunner(session, g.spec, g.params);
      const losses = [];
      for (let i = 0; i < 3; i++) losses.push((await r.step(feeds, 1e-2)).loss);
      const b = Float32Array.from(r.get(Object.keys(g.params).find((k) => k.includes('lora_B'))!));
      await session.release();
      return { losses, b };
    };
    const fused = await run(false);
    const portable = await run(true);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(fused.losses[i]! - portable.losses[i]!) < 1e-5 * fused.losses[i]!, `step ${i}: ${fused.losses[i]} vs ${portable.losses[i]}`);
    assert.ok(fused.b.some((v) => v !== 0), 'training moved B');
    for (let i = 0; i < fused.b.length; i++) assert.ok(Math.abs(fused.b[i]! - portable.b[i]!) < 1e-6, `B[${i}]`);
  });
});

describe('rows on WebGPU', () => {
  test('are padded to a multiple of the quantum, never past the longest row', () => {
    assert.equal(WEBGPU_ROW_QUANTUM, 64);
    assert.equal(webgpuRowLength(1, 800), 64);
    assert.equal(webgpuRowLength(64, 800), 64);
    assert.equal(webgpuRowLength(65, 800), 128);
    assert.equal(webgpuRowLength(790, 800), 800);
    assert.equal(webgpuRowLength(800, 800), 800);
    // at most ⌈longest/64⌉ shapes, whatever lengths the steps have
    assert.equal(new Set(Array.from({ length: 800 }, (_, i) => webgpuRowLength(i + 1, 800))).size, Math.ceil(800 / 64));
  });

  test('a padded row trains exactly as the unpadded one', async () => {
    const random = rng(9);
    const sample = (n: number) => {
      const all = Array.from({ length: n + 1 }, () => Math.floor(random() * cfg.vocabSize));
      return makeSample(all.slice(0, n >> 1), all.slice(n >> 1));
    };
    const rows = [[sample(30), sample(21)]];
    const g = buildLlamaTrainStep(cfg, weights, { seqLen: 'T', batch: 1, lora, seed: 1, packed: true, portable: true });
    const losses: number[] = [];
    for (const T of [undefined, webgpuRowLength(51, 200)]) {
      const { session } = await createSession(g.model, 'cpu');
      const feeds = packedFeeds(rows, T);
      assert.equal(feeds.input_ids.dims[1], T ?? 51);
      losses.push((await new TrainStepRunner(session, g.spec, g.params).step(feeds, 1e-2)).loss);
      await session.release();
    }
    assert.ok(Math.abs(losses[0]! - losses[1]!) < 1e-5 * losses[0]!, `${losses[0]} vs ${losses[1]}`);
  });
});

describe('choosing WebGPU', () => {
  const probe = encodeModel({
    graph: {
      name: 'probe',
      nodes: [{ opType: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [2] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [2] }],
    },
  });

  test('lift.device "webgpu" reaches the trainer', () => {
    const before = process.env.LIFT_DEVICE;
    try {
      process.env.LIFT_DEVICE = 'webgpu';
      assert.equal(defaultDevice(), 'webgpu');
      process.env.LIFT_DEVICE = 'vulkan';
      assert.equal(defaultDevice(), 'auto');
    } finally {
      if (before === undefined) delete process.env.LIFT_DEVICE;
      else process.env.LIFT_DEVICE = before;
    }
  });

  test('this ONNX Runtime build ships the WebGPU provider', () => {
    const webgpu = executionProviders().find((p) => p.name === 'webgpu');
    assert.ok(webgpu, 'listed');
    if (process.platform === 'linux' || process.platform === 'win32' || process.platform === 'darwin') assert.equal(webgpu.available, true);
  });

  test('"webgpu" runs there or fails with the reason and the way out; "auto" decides as sessions run', async () => {
    const asked = await createSession(probe, 'webgpu').then(
      async (s) => (await s.session.release(), s.provider),
      (err: Error) => err,
    );
    if (asked instanceof Error) {
      assert.match(asked.message, /^WebGPU is not usable: .+\. Set "lift\.device" to "auto" or "cpu"/);
      assert.doesNotMatch(asked.message, /onnxruntime_src|\.cc:\d+/, 'no source paths from ONNX Runtime');
    } else {
      assert.equal(asked, 'webgpu');
    }
    const decided = await resolveProvider('auto');
    const { session, provider } = await createSession(probe, 'auto');
    await session.release();
    assert.equal(provider, decided);
    if (asked instanceof Error && !executionProviders().find((p) => p.name === 'cuda')?.available) assert.equal(decided, 'cpu');
  });
});
