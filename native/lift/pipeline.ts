/**
 * `learn` end to end: collect → tokenize → samples → train → save, for a model folder and a set
 * of roots (folders or one document), with progress and cancellation. The schedule follows
 * LIFT v3: stage 1 trains on contextualized segments, stage 2 on segments plus synthetic QA;
 * `epochs` passes in each stage.
 */
import { loadModel } from '../model/weights';
import { TextTokenizer } from '../model/tokenizer';
import type { LinearTarget } from '../model/weights';
import type { LearnResult } from '../protocol';
import { type CollectReport, collect } from './corpus';
import { buildLongInput } from './input';
import { type LearnProgress, learnToFolder } from './learn';
import { answerEndTokens, formatPrompt } from './answer';
import { generateQA } from './qa';
import { qaSample, segmentSamples } from './samples';
import { downsample, type Manifest, textHash } from './store';
import { version as trainerVersion } from '../../package.json';

export interface LearnRequest {
  roots: string[];
  modelDir: string;
  adapterDir: string;
  include?: string[];
  exclude?: string[];
  tokenBudget?: number;
  rank?: number;
  alpha?: number;
  targets?: LinearTarget[];
  epochs?: number;
  lr?: number;
  seed?: number;
  /** Segment length ℓ (default: min(512, what fits the model's positions)). */
  segmentLength?: number;
  /** Head + tail context before each segment (default ℓ/2). */
  prefixBudget?: number;
  /** Add the synthetic QA pairs in stage 2 (default true). */
  qa?: boolean;
  /** Passes of stage 2 (segments + QA); default: `epochs`. */
  stage2Epochs?: number;
}

/** What `learn` reports back: the protocol's result plus the full collection report. */
export interface LearnSummary extends Omit<LearnResult, 'skippedByReason'> {
  report: CollectReport;
}

/** LIFT v3's recite prompt (../shared/LIFT.md §3). */
export const RECITE_PROMPT = '\nGiven above context, please recite following segment of the context:\n';

export async function learnWorkspace(req: LearnRequest, hooks: { onProgress?: (p: LearnProgress) => void; isCancelled?: () => boolean } = {}): Promise<LearnSummary> {
  const progress = hooks.onProgress ?? (() => undefined);
  progress({ phase: 'collect', message: req.roots.join(', ') });
  const { files, report } = await collect(req.roots, {
    include: req.include,
    exclude: req.exclude,
    isCancelled: hooks.isCancelled,
    onProgress: (done, total) => progress({ phase: 'collect', step: done, totalSteps: total }),
  });
  if (files.length === 0) throw new Error(`nothing to learn in ${req.roots.join(', ')}: ${report.skipped.length} files skipped (see the report)`);
  progress({ phase: 'tokenize', message: `${files.length} files` });
  const { config, weights } = loadModel(req.modelDir);
  const tok = TextTokenizer.fromFolder(req.modelDir);
  const input = buildLongInput(files, tok, req.tokenBudget ?? 200_000);
  const ellipsis = tok.encodeText('\n...\n');
  const prompt = tok.encodeText(RECITE_PROMPT);
  const length = req.segmentLength ?? Math.min(512, Math.floor((config.maxPositions - prompt.length - ellipsis.length) / 1.5));
  const prefixBudget = req.prefixBudget ?? Math.floor(length / 2);
  if (length <= 0 || length + prefixBudget + prompt.length + ellipsis.length > config.maxPositions) {
    throw new Error(`segments of ${length} tokens with ${prefixBudget} of context do not fit the model's ${config.maxPositions} positions`);
  }
  let seed = req.seed ?? 1;
  const random = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const samples = segmentSamples(input.ids, { length, prefixBudget, ellipsis, prompt, random });
  // Stage 2 adds question-answer pairs in exactly the format answering uses.
  const qa = req.qa === false ? [] : await generateQA(files.filter((f) => input.spans.some((sp) => sp.path === f.path)));
  const end = answerEndTokens(tok).slice(0, 1);
  const qaSamples = qa.map((p) => qaSample(formatPrompt(tok, config.maxPositions, p.question, [], length).ids, [...tok.encodeText(p.answer).slice(0, length - end.length), ...end]));
  const fits = qaSamples.filter((s) => s.input.length <= config.maxPositions);
  const epochs = req.epochs ?? 3;
  const rank = req.rank ?? 16;
  const { losses } = await learnToFolder(config, weights, [{ samples, epochs }, { samples: [...samples, ...fits], epochs: req.stage2Epochs ?? epochs }], req.adapterDir, {
    lora: { rank, alpha: req.alpha ?? 2 * rank, targets: req.targets ?? ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
    lr: req.lr ?? 2e-4,
    seed: req.seed ?? 1,
    baseModel: req.modelDir,
    manifest: (losses): Manifest => ({
      format: 1,
      engine: trainerVersion,
      createdAt: new Date().toISOString(),
      baseModel: req.modelDir,
      inputHash: input.hash,
      tokens: input.ids.length,
      qaPairs: fits.length,
      settings: { rank, alpha: req.alpha ?? 2 * rank, targets: req.targets ?? ['q_proj', 'k_proj', 'v_proj', 'o_proj'], epochs, stage2Epochs: req.stage2Epochs ?? epochs, lr: req.lr ?? 2e-4, seed: req.seed ?? 1, segmentLength: length, prefixBudget },
      files: files.filter((f) => input.spans.some((sp) => sp.path === f.path)).map((f) => ({ path: f.path, file: f.file, bytes: f.bytes, sha256: textHash(f.text) })),
      losses: downsample(losses),
    }),
    onProgress: progress,
    isCancelled: hooks.isCancelled,
  });
  return {
    adapterDir: req.adapterDir,
    qaPairs: fits.length,
    inputHash: input.hash,
    files: files.length,
    skipped: report.skipped.length,
    redactions: report.redactions.reduce((a, r) => a + r.count, 0),
    tokens: input.ids.length,
    samples: samples.length + fits.length,
    steps: losses.length,
    firstLoss: losses[0]!,
    finalLoss: losses.at(-1)!,
    report,
  };
}
