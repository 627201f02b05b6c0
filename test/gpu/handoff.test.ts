/**
 * The GPU check's hand-off, on the CPU: `prepare.ts` writes the mixed-precision graphs without
 * their weights; `gpu_check.py` (Debian's python3 with numpy) generates the weights beside them
 * and records what it finds (here: no ONNX Runtime for Python, no GPU); then the same graph files
 * with the generated weights load in ONNX Runtime and run: training steps with a finite,
 * falling loss and a generation step with logits of the vocabulary's size. So a GPU machine
 * gets graphs and weights that fit together.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { Tensor } from 'onnxruntime-node';
import type { TrainStepSpec } from '../../native/onnx/train';
import { loadOrt } from '../../native/runtime/ort';
import type { LoraConfig } from '../../native/model/llama';
import { fromHalfBits } from '../../native/model/safetensors';
import { RecomputeRunner, type RecomputeModels } from '../../native/runtime/recompute';
import { TrainStepRunner } from '../../native/runtime/session';
import { prepare } from './prepare';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-gpu-check-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface External {
  name: string;
  file: string;
  bytes: number;
}

interface Manifest {
  seqLen: number;
  config: { vocabSize: number; hiddenSize: number; numLayers: number; numKvHeads: number; headDim: number };
  lora: LoraConfig;
  recompute: { dir: string; seqLen: number; chunk: number; lossScale: number; embed: string; layer: { file: string; external: External[] }; head: { file: string; external: External[] }; update: { file: string; external: External[]; spec: RecomputeModels['update']['spec'] } }[];
  train: { dir: string; file: string; external: { file: string; bytes: number }[]; spec: TrainStepSpec };
  generate: { dir: string; file: string; external: { file: string; bytes: number }[]; inputs: { name: string; shape: (number | string)[] }[] };
}

test('prepared graphs and the weights gpu_check.py generates fit together and run', async (t) => {
  const prepared = path.join(tmp, 'prepared');
  const m = prepare(prepared, 'tiny') as Manifest;
  for (const part of [m.train, m.generate]) for (const e of part.external) assert.equal(fs.existsSync(path.join(prepared, part.dir, e.file)), false, 'no weights travel');
  const out = path.join(tmp, 'results');
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const log = execFileSync(python, [path.join(__dirname, 'gpu_check.py'), prepared, out, '--steps', '2', '--device', 'cpu'], { encoding: 'utf8' });
  const results = JSON.parse(fs.readFileSync(path.join(out, 'gpu-check.json'), 'utf8')) as { device: string; onnxruntime: string | null; onnxruntime_has_cuda: boolean; errors: string[] };
  assert.equal(results.device, 'cpu');
  assert.equal(results.onnxruntime_has_cuda, false, 'recorded either way');
  const parts = [m.train, m.generate, ...m.recompute.flatMap((r) => [r.layer, r.head, r.update].map((g) => ({ dir: r.dir, external: g.external })))];
  for (const part of parts) {
    for (const e of part.external) assert.equal(fs.statSync(path.join(prepared, part.dir, e.file)).size, e.bytes, `${e.file} generated at its size`);
  }

  const { InferenceSession, Tensor: T_ } = loadOrt();
  // training: the same graph file, its weights read from beside it, the state as the script sets it
  const train = await InferenceSession.create(path.join(prepared, m.train.dir, m.train.file), { executionProviders: ['cpu'] });
  const initial = Object.fromEntries(
    m.train.spec.state.filter((s) => s.kind === 'param').map((s) => {
      const [rows, cols] = s.shape as number[];
      const n = rows! * cols!;
      return [s.input, s.input.endsWith('lora_A') ? Float32Array.from({ length: n }, (_, i) => (((i * 7919) % 2001) / 1000 - 1) / Math.sqrt(cols!)) : new Float32Array(n)];
    }),
  );
  const runner = new TrainStepRunner(train, m.train.spec, initial);
  const T = m.seqLen;
  const ids = BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 37) % m.config.vocabSize));
  const feeds = {
    input_ids: new T_('int64', ids, [1, T]),
    labels: new T_('int64', BigInt64Array.from({ length: T }, (_, i) => ids[(i + 1) % T]!), [1, T]),
    loss_mask: new T_('float32', new Float32Array(T).fill(1), [1, T]),
  };
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) losses.push((await runner.step(feeds, 1e-2)).loss);
  assert.ok(losses.every(Number.isFinite) && losses.at(-1)! < losses[0]!, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);

  // generation: one prefill step
  const gen = await InferenceSession.create(path.join(prepared, m.generate.dir, m.generate.file), { executionProviders: ['cpu'] });
  const f: Record<string, Tensor> = {
    input_ids: new T_('int64', ids.slice(0, 8), [1, 8]),
    positions: new T_('int64', BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i)), [8]),
    lora_scale: new T_('float32', Float32Array.of(0), []),
  };
  for (let i = 0; i < m.config.numLayers; i++) {
    for (const kv of ['key', 'value']) f[`past_${kv}_${i}`] = new T_('float32', new Float32Array(0), [1, m.config.numKvHeads, 0, m.config.headDim]);
  }
  for (const inp of m.generate.inputs) {
    if (inp.name.endsWith('lora_A')) f[inp.name] = new T_('float32', new Float32Array(Number(inp.shape[1])), [1, Number(inp.shape[1])]);
    if (inp.name.endsWith('lora_B')) f[inp.name] = new T_('float32', new Float32Array(Number(inp.shape[0])), [Number(inp.shape[0]), 1]);
  }
  const logits = (await gen.run(f)).logits!;
  assert.deepEqual(logits.dims, [1, m.config.vocabSize]);
  assert.ok((logits.data as Float32Array).every(Number.isFinite));

  // activation recomputation: the prepared layer, head and update graphs with the weights generated for them, run by the product's runner
  const recomputed: string[] = [];
  for (const r of m.recompute) {
    const dir = path.join(prepared, r.dir);
    const e = r.head.external.find((x) => x.name === r.embed)!;
    const raw = fs.readFileSync(path.join(dir, e.file));
    const embed = { name: r.embed, shape: [m.config.vocabSize, m.config.hiddenSize], data: fromHalfBits(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2)) };
    const params = Object.fromEntries(r.update.spec.state.filter((s) => s.kind === 'param').map((s) => [s.input, initial[s.input]!]));
    const shapes = Object.fromEntries(r.update.spec.state.filter((s) => s.kind === 'param').map((s) => [s.input, s.shape as number[]]));
    const rec = await RecomputeRunner.create(
      { layer: path.join(dir, r.layer.file), head: path.join(dir, r.head.file), update: { model: path.join(dir, r.update.file), spec: r.update.spec }, params, shapes, seqLen: r.seqLen, chunk: r.chunk, precision: 'float16', lora: m.lora, numLayers: m.config.numLayers, embed },
      'cpu',
    );
    const ids2 = BigInt64Array.from({ length: r.seqLen }, (_, i) => BigInt((i * 37) % m.config.vocabSize));
    const batch = {
      input_ids: new T_('int64', ids2, [1, r.seqLen]),
      labels: new T_('int64', BigInt64Array.from({ length: r.seqLen }, (_, i) => ids2[(i + 1) % r.seqLen]!), [1, r.seqLen]),
      loss_mask: new T_('float32', new Float32Array(r.seqLen).fill(1), [1, r.seqLen]),
    };
    const rl: number[] = [];
    for (let i = 0; i < 6; i++) rl.push((await rec.step(batch, 1e-2)).loss);
    await rec.release();
    assert.ok(rl.every(Number.isFinite) && rl.at(-1)! < rl[0]!, `recomputation at ${r.seqLen} tokens: losses ${rl.map((l) => l.toFixed(3)).join(' ')}`);
    recomputed.push(`${r.seqLen} tokens ${rl[0]!.toFixed(3)} → ${rl.at(-1)!.toFixed(3)}`);
  }
  assert.deepEqual(m.recompute.map((r) => r.seqLen), [m.seqLen, 2 * m.seqLen], 'at the step\'s length and a longer one');
  t.diagnostic(`gpu_check.py: ${log.trim().split('\n').slice(-1)[0]}; then ${losses.length} training steps (loss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)}), a generation step, and recomputing steps (${recomputed.join('; ')}) on the same files`);
});
