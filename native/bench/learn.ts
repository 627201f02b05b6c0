/**
 * `lift bench learn`: what a user waits for and what it costs the machine. The demo sample is
 * learned with the default model through a real trainer process, as the editor does it; then
 * its first question is asked. Wall time from "learn" to the adapter, to the first streamed text
 * of the answer and to the whole answer; the training steps' own time (first to last step) and
 * samples a second; the share of the positions computed that are sample tokens, packed (what
 * learning does) and as it was with one sample a step padded to the longest (from the trainer's
 * report of its plan); and the trainer's peak RSS (VmHWM) against the memory estimate it
 * reported before it started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainerClient } from '../client';
import type { LearnProgress } from '../protocol';
import { demoDir } from '../demo';
import { collect } from '../lift/corpus';
import { defaultModelDir } from '../model/default';
import { TextTokenizer } from '../model/tokenizer';
import { benchTempDir } from './temp';

const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
const MB = 2 ** 20;

/** Watches a learn's progress: the last message starting with each prefix, and the training steps' own time. */
function learnWatcher(prefixes: readonly string[]): { onProgress: (p: LearnProgress) => void; message: (prefix: string) => string; steps: () => number; trainSeconds: () => number } {
  const messages = new Map<string, string>();
  let steps = 0;
  let firstStep: number | undefined;
  let lastStep = 0;
  return {
    onProgress: (p) => {
      for (const k of prefixes) if (p.message?.startsWith(k)) messages.set(k, p.message);
      if (p.phase === 'train' && p.step) {
        steps = p.step;
        firstStep ??= performance.now();
        lastStep = performance.now();
      }
    },
    message: (prefix) => messages.get(prefix) ?? '',
    steps: () => steps,
    // the first step's time estimated as an average one
    trainSeconds: () => (firstStep === undefined ? NaN : ((lastStep - firstStep) / 1000) * (steps / Math.max(1, steps - 1))),
  };
}

/** The trainer's packing line: "packed N samples into S steps (k samples a step): X% of the positions computed are tokens (Y% with one padded sample a step)". */
const PACKING = /packed (\d+) samples into \d+ steps \(([\d.]+) samples a step\): ([\d.]+)% .* \(([\d.]+)% with one padded/;

export async function benchLearn(log: (line: string) => void = console.log, trainerPath = process.argv[1]!): Promise<Record<string, unknown>> {
  const dir = demoDir();
  if (!dir) throw new Error('the demo sample (native/demo) is not installed');
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8')) as { document: string; learn: Record<string, unknown>; questions: { question: string; expect: string }[] };
  const docs = benchTempDir('lift-bench-learn-');
  const quiet = (): void => undefined;
  const client = new TrainerClient({ trainerPath, logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet }, client: { name: 'lift-bench', version: '0' } });
  try {
    fs.copyFileSync(path.join(dir, spec.document), path.join(docs, spec.document));
    await client.initialize();
    const pid = client.pid!;
    const idle = peakRss(pid);
    const watch = learnWatcher(['memory estimate', 'packed']);
    const t0 = performance.now();
    const learned = await client.learn({ roots: [path.join(docs, spec.document)], model: '', store: path.join(docs, '.lift'), ...spec.learn }, watch.onProgress);
    const t1 = performance.now();
    const estimate = watch.message('memory estimate');
    const steps = watch.steps();
    const pack = PACKING.exec(watch.message('packed'));
    const samples = pack ? Number(pack[1]) : steps; // before packing: one sample a step
    const trainSeconds = watch.trainSeconds();
    let first: number | undefined;
    const q = spec.questions[0]!;
    const answer = await client.ask({ question: q.question, roots: [docs], model: '', store: path.join(docs, '.lift'), retrieve: false, maxTokens: 40 }, () => void (first ??= performance.now()));
    const t2 = performance.now();
    const peak = peakRss(pid);
    const estimated = Number(/memory estimate (\d+) MB/.exec(estimate)?.[1] ?? NaN) * MB;
    const row = {
      document: spec.document,
      tokens: learned.tokens,
      steps: learned.steps || steps,
      samples,
      samples_per_step: samples / (learned.steps || steps),
      real_token_share: pack ? Number(pack[3]) / 100 : NaN,
      real_token_share_padded: pack ? Number(pack[4]) / 100 : NaN,
      train_s: trainSeconds,
      samples_per_s: samples / trainSeconds,
      learn_s: (t1 - t0) / 1000,
      first_text_s: ((first ?? t2) - t1) / 1000,
      learn_to_first_answer_s: ((first ?? t2) - t0) / 1000,
      learn_to_whole_answer_s: (t2 - t0) / 1000,
      answer_right: answer.text.includes(q.expect),
      trainer_idle_rss_mb: idle / MB,
      trainer_peak_rss_mb: peak / MB,
      estimate_mb: estimated / MB,
      estimate_vs_peak: estimated / peak,
    };
    log(
      `demo sample (${row.tokens} tokens, ${row.steps} steps): learn ${row.learn_s.toFixed(1)} s, then first text of the answer after ${row.first_text_s.toFixed(2)} s ` +
        `(learn to first answer ${row.learn_to_first_answer_s.toFixed(1)} s; answer ${row.answer_right ? 'right' : 'wrong'}: "${answer.text.replace(/\s+/g, ' ').trim().slice(0, 60)}")`,
    );
    log(
      `training: ${row.samples} samples in ${row.steps} steps (${row.samples_per_step.toFixed(1)} a step), ${row.train_s.toFixed(1)} s, ${row.samples_per_s.toFixed(1)} samples/s; ` +
        `sample tokens are ${(100 * row.real_token_share).toFixed(1)}% of the positions computed (padded to the longest sample, one a step: ${(100 * row.real_token_share_padded).toFixed(1)}%)`,
    );
    log(`trainer peak RSS ${row.trainer_peak_rss_mb.toFixed(0)} MB (idle ${row.trainer_idle_rss_mb.toFixed(0)} MB); estimate printed before learning ${row.estimate_mb.toFixed(0)} MB = ${row.estimate_vs_peak.toFixed(2)}× the peak`);
    return row;
  } finally {
    await client.dispose();
    fs.rmSync(docs, { recursive: true, force: true });
  }
}

/** The library `bench learn library` learns: held out of the default model's training (its model card lists it). */
export const BENCH_LIBRARY = { name: 'glob', version: '13.0.7' };

/**
 * `lift bench learn library`: a real library the project did not write, from node_modules
 * (BENCH_LIBRARY), learned with the default model and the default settings (the time budget
 * included) through a real trainer process, at three sizes (its files in path order up to a
 * quarter, half and all of its tokens): wall time of the whole learn, steps, passes, the share of
 * computed positions that are tokens, the trainer's seconds per step and per thousand tokens and
 * pass (flat when the cost grows linearly with the corpus), and the self-check.
 */
export async function benchLearnLibrary(log: (line: string) => void = console.log, trainerPath = process.argv[1]!, o: { root?: string } = {}): Promise<Record<string, unknown>[]> {
  const pkg = path.join(o.root ?? process.cwd(), 'node_modules', BENCH_LIBRARY.name);
  const version = fs.existsSync(path.join(pkg, 'package.json')) ? (JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string }).version : undefined;
  if (version !== BENCH_LIBRARY.version) throw new Error(`the bench library ${BENCH_LIBRARY.name}@${BENCH_LIBRARY.version} is not in node_modules (found ${version ?? 'none'}): run npm install`);
  const tok = TextTokenizer.fromFolder(defaultModelDir()!);
  const { files } = await collect([pkg], {});
  files.sort((a, b) => a.path.localeCompare(b.path));
  const sizes = files.map((f) => tok.encodeText(f.text).length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const rows: Record<string, unknown>[] = [];
  const quiet = (): void => undefined;
  for (const share of [0.25, 0.5, 1]) {
    const work = benchTempDir('lift-bench-library-');
    const client = new TrainerClient({ trainerPath, logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet }, client: { name: 'lift-bench', version: '0' } });
    try {
      // the files in path order until the share of the tokens is reached
      const root = path.join(work, BENCH_LIBRARY.name);
      let taken = 0;
      let n = 0;
      for (const [k, f] of files.entries()) {
        if (share < 1 && taken + sizes[k]! / 2 > share * total) break;
        fs.mkdirSync(path.dirname(path.join(root, f.path)), { recursive: true });
        fs.writeFileSync(path.join(root, f.path), f.text);
        taken += sizes[k]!;
        n++;
      }
      await client.initialize();
      const watch = learnWatcher(['packed', 'about ']);
      const t0 = performance.now();
      const r = await client.learn({ roots: [root], model: '', store: path.join(work, '.lift') }, watch.onProgress);
      const learnSeconds = (performance.now() - t0) / 1000;
      const plan = watch.message('about ');
      const pack = PACKING.exec(watch.message('packed'));
      const trainSeconds = watch.trainSeconds();
      const passes = r.passes ?? [];
      const row = {
        library: `${BENCH_LIBRARY.name}@${BENCH_LIBRARY.version}`,
        share,
        files: r.files,
        tokens: r.tokens,
        facts: r.facts ?? 0,
        qa_pairs: r.qaPairs,
        passes,
        plan,
        steps: r.steps,
        real_token_share: pack ? Number(pack[3]) / 100 : NaN,
        learn_s: learnSeconds,
        train_s: trainSeconds,
        s_per_step: trainSeconds / r.steps,
        // a pass of stage 2 goes over segments and QA, stage 1 over segments: cost per token of the corpus and per pass
        train_s_per_1k_tokens_pass: trainSeconds / ((r.tokens / 1000) * Math.max(1, passes.reduce((a, b) => a + b, 0))),
        self_check: r.selfCheck ?? null,
      };
      rows.push(row);
      log(
        `${row.library}, ${n} of ${files.length} files (${row.tokens} tokens, ${row.facts} facts, ${row.qa_pairs} QA pairs): learn ${(learnSeconds / 60).toFixed(1)} min ` +
          `(training ${(trainSeconds / 60).toFixed(1)} min, ${row.steps} steps in ${passes.join(' + ')} passes, ${(row.s_per_step * 1000).toFixed(0)} ms a step, ${(100 * row.real_token_share).toFixed(1)}% of positions are tokens); ` +
          `self-check ${r.selfCheck ? `${r.selfCheck.direct}/${r.selfCheck.asked}` : 'none'}; plan: "${plan}"`,
      );
    } finally {
      await client.dispose();
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  const per = rows.map((r) => r.train_s_per_1k_tokens_pass as number);
  log(`training seconds per 1k tokens and pass at ${rows.map((r) => r.tokens).join(' / ')} tokens: ${per.map((x) => x.toFixed(2)).join(' / ')} (flat = linear in the corpus)`);
  return rows;
}
