/**
 * `lift bench lora`: tokens/s of a LoRA training step (rank 16 on q/k/v/o, sequence 512) for a
 * tiny and a SmolLM-135M-shaped random model, next to the same step in PyTorch run in the same
 * bench (skipped with a message where PyTorch is absent), and the achieved fraction of the
 * machine's MatMul throughput measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import type { Tensor } from 'onnxruntime-node';
import { buildLlamaTrainStep } from '../model/llama';
import { randomWeights, smallConfig } from '../model/init';
import type { LinearTarget } from '../model/weights';
import { GraphBuilder } from '../onnx/graph';
import { matmul } from '../onnx/ops';
import { loraStepFlops } from '../lift/choices';
import { loadOrt } from '../runtime/ort';
import { matmulSpeed } from '../runtime/speed';
import { pythonPeer } from './peer';
import { createSession, TrainStepRunner } from '../runtime/session';

export interface Shape {
  name: string;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
}

const SHAPES: Shape[] = [
  { name: 'tiny (4 layers, 256 wide)', hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 768, vocab: 4096 },
  { name: 'SmolLM-135M shape', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152 },
];
const SEQ = 512;
const RANK = 16;
const TARGETS: LinearTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
const THREADS = 2;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The best median GFLOP/s of plain MatMuls at shapes like the step's (the machine's reference). */
async function matmulGflops(): Promise<number> {
  const { Tensor } = loadOrt();
  let best = 0;
  for (const [m, k, n] of [[512, 1024, 1024], [512, 576, 1536], [512, 1536, 576], [512, 256, 768]] as const) {
    const g = new GraphBuilder('mm');
    g.output(matmul(g.input('x', 'float32', [m, k]), g.initializer('W', 'float32', [k, n], new Float32Array(k * n).fill(0.01))), 'y');
    const { session } = await createSession(g.encode(), 'cpu', { threads: THREADS });
    const x = { x: new Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]) };
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await session.run(x);
      times.push(performance.now() - t);
    }
    best = Math.max(best, (2 * m * k * n) / median(times.slice(3)) / 1e6);
    await session.release();
  }
  return best;
}

function torchPeer(s: Shape, steps: number): { median_s: number } | string {
  const peer = pythonPeer('peer_lora.py');
  if (typeof peer === 'string') return peer;
  const { python, script } = peer;
  const spec = { hidden: s.hidden, layers: s.layers, heads: s.heads, kv_heads: s.kvHeads, intermediate: s.intermediate, vocab: s.vocab, seq: SEQ, rank: RANK, alpha: 2 * RANK, targets: TARGETS, steps, threads: THREADS };
  const out = execFileSync(python, [script, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { median_s: number };
}

export async function benchLora(log: (line: string) => void = console.log, only?: string): Promise<Record<string, unknown>[]> {
  const { Tensor } = loadOrt();
  const results: Record<string, unknown>[] = [];
  const peak = await matmulGflops();
  log(`best plain MatMul (4 shapes like the step's) on ${THREADS} threads: ${peak.toFixed(1)} GFLOP/s: the machine's reference throughput`);
  const probe = (await matmulSpeed('cpu')).flops / 1e9;
  log(`the speed probe "Choose Model" estimates from (runtime/speed.ts): ${probe.toFixed(1)} GFLOP/s`);
  for (const s of SHAPES.filter((x) => !only || x.name.startsWith(only))) {
    const cfg = smallConfig({ hidden: s.hidden, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, intermediate: s.intermediate, vocab: s.vocab, tie: true });
    const steps = s.layers > 10 ? 3 : 8;
    const built = Date.now();
    const train = buildLlamaTrainStep(cfg, randomWeights(cfg), { seqLen: SEQ, batch: 1, lora: { rank: RANK, alpha: 2 * RANK, targets: TARGETS } });
    const { session } = await createSession(train.model, 'cpu', { threads: THREADS });
    const buildS = (Date.now() - built) / 1000;
    const runner = new TrainStepRunner(session, train.spec, train.params);
    const ids = (): Tensor => new Tensor('int64', BigInt64Array.from({ length: SEQ }, (_, i) => BigInt((i * 7919) % s.vocab)), [1, SEQ]);
    const feeds = { input_ids: ids(), labels: ids(), loss_mask: new Tensor('float32', new Float32Array(SEQ).fill(1), [1, SEQ]) };
    await runner.step(feeds, 1e-4);
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      await runner.step(feeds, 1e-4);
      times.push((performance.now() - t) / 1000);
    }
    const ours = median(times);
    const peer = torchPeer(s, steps);
    const gflops = loraStepFlops(cfg, SEQ, { rank: RANK, targets: TARGETS }) / ours / 1e9;
    const row = {
      model: s.name,
      seq: SEQ,
      graph_build_s: buildS,
      lift_step_s: ours,
      lift_tokens_per_s: SEQ / ours,
      achieved_gflops: gflops,
      fraction_of_matmul: gflops / peak,
      // what lift/choices.ts's TRAIN_EFFICIENCY is set from
      fraction_of_probe: gflops / probe,
      torch_step_s: typeof peer === 'string' ? null : peer.median_s,
      torch_tokens_per_s: typeof peer === 'string' ? null : SEQ / peer.median_s,
      speedup_vs_torch: typeof peer === 'string' ? null : peer.median_s / ours,
      note: typeof peer === 'string' ? peer : undefined,
    };
    results.push(row);
    log(
      `${s.name}: LIFT ${row.lift_tokens_per_s.toFixed(0)} tokens/s (${ours.toFixed(2)} s/step, ${gflops.toFixed(1)} GFLOP/s = ${(100 * row.fraction_of_matmul).toFixed(0)}% of MatMul, ${(100 * row.fraction_of_probe).toFixed(0)}% of the probe)` +
        (typeof peer === 'string' ? `; PyTorch ${peer}` : `; PyTorch ${row.torch_tokens_per_s!.toFixed(0)} tokens/s → ${row.speedup_vs_torch!.toFixed(2)}× PyTorch`),
    );
    await session.release();
  }
  return results;
}
