/**
 * `lift bench recompute`: what activation recomputation saves and costs. Each shape and sequence
 * length is trained for a few LoRA steps in its own child process, once with the one-graph step
 * and once with recomputation; the peak RSS (VmHWM) of each child against the estimate learning
 * would print for it, and the median step time of recomputation relative to the one-graph step
 * run in the same bench.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Tensor } from 'onnxruntime-node';
import { estimateLearnMemory } from '../lift/resources';
import { randomWeights, smallConfig } from '../model/init';
import { buildLlamaTrainStep } from '../model/llama';
import { buildRecomputeStep } from '../model/recompute';
import type { LinearTarget } from '../model/weights';
import { loadOrt } from '../runtime/ort';
import type { Shape } from './lora';
import { RecomputeRunner, recomputeModels } from '../runtime/recompute';
import { createSession, type StepRunner, TrainStepRunner } from '../runtime/session';

interface Case extends Shape {
  seq: number;
  steps: number;
}

const CASES: Case[] = [
  { name: 'default-model shape, 512 tokens', hidden: 256, layers: 4, heads: 4, kvHeads: 4, intermediate: 688, vocab: 4096, seq: 512, steps: 4 },
  { name: 'default-model shape, 2048 tokens', hidden: 256, layers: 4, heads: 4, kvHeads: 4, intermediate: 688, vocab: 4096, seq: 2048, steps: 3 },
  { name: 'SmolLM-135M shape, 512 tokens', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152, seq: 512, steps: 2 },
  { name: 'SmolLM-135M shape, 1024 tokens', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152, seq: 1024, steps: 2 },
];
const LORA = { rank: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as LinearTarget[] };
const THREADS = 2;
const MB = 2 ** 20;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const configOf = (c: Case) => smallConfig({ hidden: c.hidden, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, intermediate: c.intermediate, vocab: c.vocab, maxPositions: Math.max(4096, c.seq), tie: true });

/** In a child: a few steps of one case in one mode; prints one JSON line (peak RSS, step times). */
export async function recomputeChild(json: string): Promise<void> {
  const { c, recompute } = JSON.parse(json) as { c: Case; recompute: boolean };
  const { Tensor } = loadOrt();
  const cfg = configOf(c);
  const weights = randomWeights(cfg);
  let runner: StepRunner;
  if (recompute) {
    runner = await RecomputeRunner.create(recomputeModels(buildRecomputeStep(cfg, weights, { seqLen: c.seq, lora: LORA }), weights), 'cpu', { threads: THREADS });
  } else {
    const g = buildLlamaTrainStep(cfg, weights, { seqLen: c.seq, batch: 1, lora: LORA });
    runner = new TrainStepRunner((await createSession(g.model, 'cpu', { threads: THREADS })).session, g.spec, g.params);
  }
  const ids = (): Tensor => new Tensor('int64', BigInt64Array.from({ length: c.seq }, (_, i) => BigInt((i * 7919) % c.vocab)), [1, c.seq]);
  const feeds = { input_ids: ids(), labels: ids(), loss_mask: new Tensor('float32', new Float32Array(c.seq).fill(1), [1, c.seq]) };
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i <= c.steps; i++) {
    const t = performance.now();
    losses.push((await runner.step(feeds, 1e-4)).loss);
    if (i > 0) times.push((performance.now() - t) / 1000);
  }
  const peak = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  process.stdout.write(`${JSON.stringify({ peak, stepS: median(times), losses })}\n`);
}

export async function benchRecompute(log: (line: string) => void = console.log, trainerPath = process.argv[1]!): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  for (const c of CASES) {
    const cfg = configOf(c);
    const run = (recompute: boolean): { peak: number; stepS: number; losses: number[] } => {
      const out = execFileSync(process.execPath, [trainerPath, 'bench', 'recompute', '--child', JSON.stringify({ c, recompute })], { encoding: 'utf8', maxBuffer: 1 << 20 });
      return JSON.parse(out.trim().split('\n').at(-1)!) as { peak: number; stepS: number; losses: number[] };
    };
    const one = run(false);
    const rec = run(true);
    const est = (recompute: boolean): number => estimateLearnMemory(cfg, { seqLen: c.seq, ...LORA, recompute }).total;
    const row = {
      case: c.name,
      seq: c.seq,
      one_graph_peak_mb: one.peak / MB,
      recompute_peak_mb: rec.peak / MB,
      peak_ratio: rec.peak / one.peak,
      one_graph_estimate_mb: est(false) / MB,
      recompute_estimate_mb: est(true) / MB,
      one_graph_estimate_over_peak: est(false) / one.peak,
      recompute_estimate_over_peak: est(true) / rec.peak,
      one_graph_step_s: one.stepS,
      recompute_step_s: rec.stepS,
      step_time_ratio: rec.stepS / one.stepS,
      max_loss_difference: Math.max(...one.losses.map((l, i) => Math.abs(l - rec.losses[i]!))),
    };
    results.push(row);
    log(
      `${c.name}: peak RSS ${row.one_graph_peak_mb.toFixed(0)} MB one graph, ${row.recompute_peak_mb.toFixed(0)} MB recomputing (${row.peak_ratio.toFixed(2)}×); ` +
        `estimates ${row.one_graph_estimate_over_peak.toFixed(2)}× and ${row.recompute_estimate_over_peak.toFixed(2)}× the peaks; ` +
        `step ${row.recompute_step_s.toFixed(2)} s vs ${row.one_graph_step_s.toFixed(2)} s (${row.step_time_ratio.toFixed(2)}×); losses agree within ${row.max_loss_difference.toExponential(1)}`,
    );
  }
  return results;
}
