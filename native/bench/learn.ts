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
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainerClient } from '../client';
import { demoDir } from '../demo';

const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
const MB = 2 ** 20;

export async function benchLearn(log: (line: string) => void = console.log, trainerPath = process.argv[1]!): Promise<Record<string, unknown>> {
  const dir = demoDir();
  if (!dir) throw new Error('the demo sample (native/demo) is not installed');
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8')) as { document: string; learn: Record<string, unknown>; questions: { question: string; expect: string }[] };
  const docs = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-bench-learn-'));
  const quiet = (): void => undefined;
  const client = new TrainerClient({ trainerPath, logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet }, client: { name: 'lift-bench', version: '0' } });
  try {
    fs.copyFileSync(path.join(dir, spec.document), path.join(docs, spec.document));
    await client.initialize();
    const pid = client.pid!;
    const idle = peakRss(pid);
    let estimate = '';
    let packing = '';
    let steps = 0;
    let firstStep: number | undefined;
    let lastStep = 0;
    const t0 = performance.now();
    const learned = await client.learn({ roots: [path.join(docs, spec.document)], model: '', store: path.join(docs, '.lift'), ...spec.learn }, (p) => {
      if (p.message?.startsWith('memory estimate')) estimate = p.message;
      if (p.message?.startsWith('packed')) packing = p.message;
      if (p.phase === 'train' && p.step) {
        steps = p.step;
        firstStep ??= performance.now();
        lastStep = performance.now();
      }
    });
    const t1 = performance.now();
    // "packed N samples into S steps (k samples a step): X% of the positions computed are tokens (Y% with one padded sample a step)"
    const pack = /packed (\d+) samples into \d+ steps \(([\d.]+) samples a step\): ([\d.]+)% .* \(([\d.]+)% with one padded/.exec(packing);
    const samples = pack ? Number(pack[1]) : steps; // before packing: one sample a step
    const trainSeconds = firstStep === undefined ? NaN : ((lastStep - firstStep) / 1000) * (steps / Math.max(1, steps - 1)); // the first step's time estimated as an average one
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
