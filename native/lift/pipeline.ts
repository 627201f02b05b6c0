/**
 * `learn` end to end: collect → tokenize → samples → train → save, for a model folder and a set
 * of roots (folders or one document), with progress and cancellation. The schedule follows
 * LIFT v3: stage 1 trains on contextualized segments, stage 2 on segments plus synthetic QA;
 * `epochs` passes in each stage.
 */
import { loadConfig, loadModel } from '../model/weights';
import { TextTokenizer } from '../model/tokenizer';
import type { LinearTarget } from '../model/weights';
import type { LearnResult, SelfCheckFigures } from '../protocol';
import type { LlamaConfig } from '../model/config';
import { type CollectReport, type CorpusFile, collect, describeSkipped } from './corpus';
import { buildLongInput, type LongInput } from './input';
import { AdapterError, type LoraAdapter, loadAdapter } from '../model/peft';
import { LearnCancelled, type LearnProgress, learnToFolder, planSteps, shuffled, type Stage, trainAdapter } from './learn';
import type { LlamaWeights } from '../model/weights';
import { ADAPTER_KINDS, type AdapterKind, type LoraConfig } from '../model/llama';
import { Answerer, answerEndTokens, chatFormat, formatPrompt } from './answer';
import { modelQA } from './modelqa';
import { LEARNED_QUESTIONS, learnedAnswers, learnedQuestionsFile } from './match';
import { type Chunk, chunkFiles, chunkTokensFor, tokenSizing } from './retrieve';
import { SearchIndex } from './searchindex';
import { hubSnapshotOf } from '../model/hub';
import { generateQA, type Phrasings, type QAPair, type QAReport } from './qa';
import { statesDirectly } from './facts';
import { qaSample, type Sample, segmentSamples, segmentStarts } from './samples';
import * as path from 'node:path';
import { describeFsError } from '../fsError';
import { JSON_FILE_LIMIT, readText } from '../files';
import { adapterBytes, availableMemory, checkMemory, checkStorage, chooseRecompute, DEFAULT_LORA, estimateLearnMemory, formatBytes, type MemoryEstimate, planGpuSegments, preferredSegment, type RecomputeMode, rowLength } from './resources';
import { gpuMemory } from '../runtime/cuda';
import { defaultDevice, precisionFor } from '../runtime/session';
import { AdapterStore, downsample, type Manifest, readManifest, recordSelfCheck, textHash, weightsAlone } from './store';
import { checkpointFile, readCheckpoint, removeCheckpoints, samplesDigest } from './checkpoint';
import { version as trainerVersion } from '../../package.json';

export interface LearnRequest {
  roots: string[];
  modelDir: string;
  /** Where the adapter goes (replaced whole when learning completes); or give `store`. */
  adapterDir?: string;
  /**
   * An adapter store (a workspace's adapters, keyed by base model + corpus): the adapter goes in
   * its own folder there and becomes the active one; `incremental` continues the active one.
   */
  store?: string;
  include?: string[];
  exclude?: string[];
  tokenBudget?: number;
  /** LoRA (default) or Gated Memory. */
  adapterKind?: AdapterKind;
  /** Share of the QA pairs also learned with retrieved context in the prompt (default GATED_MEMORY_CONTEXT_QA for Gated Memory, 0 for LoRA). */
  contextQA?: number;
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
  /**
   * Instruct models only: ask the model for one extra QA pair on each of up to this many chunks
   * (LIFT v3), keeping the grounded ones (default 0: off).
   */
  modelQA?: number;
  /** Passes of stage 2 (segments + QA); default: the preset's. */
  stage2Epochs?: number;
  /**
   * After learning, ask up to this many fact questions that were kept out of training and report
   * how many answers state the value first (default 50; 0: no self-check).
   */
  selfCheck?: number;
  /**
   * How long learning may take, in minutes (default 10; 0: the preset's passes): the passes are
   * fitted to it from the speed measured on a few steps first.
   */
  budgetMinutes?: number;
  /** Seconds between learning checkpoints, from which an interrupted learn resumes (default 60; 0: every step; negative: none). */
  checkpointSeconds?: number;
  /** Defaults for epochs, stage-2 epochs and learning rate (default fast). */
  preset?: 'fast' | 'thorough';
  /**
   * Continue from the adapter already in `adapterDir`, training on the segments and QA of the
   * files that changed since (added or edited) plus a replay sample of the rest.
   */
  incremental?: boolean;
  /** Refuse to start when the memory estimate exceeds the memory available (default true). */
  memoryCheck?: boolean;
  /**
   * Activation recomputation (one layer's activations at a time, about a third more arithmetic):
   * `auto` (default) when the step would not fit in memory otherwise, `on`, `off`.
   */
  recompute?: RecomputeMode;
  /**
   * Samples per optimizer step: default 1 on the CPU; on CUDA the largest of 4, 2, 1 that fits
   * the free GPU memory (1 with activation recomputation, which trains one sample per step).
   */
  batch?: number;
}

/** What `learn` reports back: the protocol's result plus the full collection report. */
export interface LearnSummary extends Omit<LearnResult, 'skippedByReason' | 'selfCheck'> {
  report: CollectReport;
  selfCheck?: SelfCheck;
}

/** Effort presets (../shared/LIFT.md §5): v4's fast recipe, and v3's two-stage schedule. */
export const PRESETS = {
  fast: { epochs: 1, stage2Epochs: 1, lr: 3e-4 },
  thorough: { epochs: 3, stage2Epochs: 5, lr: 2e-4 },
} as const;

/**
 * A model folder may recommend its own LIFT settings in `lift_config.json` (the presets above
 * suit billion-parameter models; a tiny model needs a larger rate and more passes):
 * `{ "presets": { "fast": { "epochs", "stage2Epochs", "lr" }, "thorough": {…} }, "rank", "targets" }`.
 */
export interface ModelLiftConfig {
  presets?: Partial<Record<keyof typeof PRESETS, { epochs: number; stage2Epochs: number; lr: number }>>;
  rank?: number;
  targets?: LinearTarget[];
}

export const MODEL_LIFT_CONFIG = 'lift_config.json';

export function modelLiftConfig(modelDir: string): ModelLiftConfig {
  try {
    const c = JSON.parse(readText(path.join(modelDir, MODEL_LIFT_CONFIG), JSON_FILE_LIMIT)) as ModelLiftConfig;
    return typeof c === 'object' && c !== null ? c : {};
  } catch {
    return {};
  }
}

/** LIFT v3's recite prompt (../shared/LIFT.md §3). */
export const RECITE_PROMPT = '\nGiven above context, please recite following segment of the context:\n';

/**
 * The share of QA pairs a Gated Memory learn also trains with the workspace's retrieved chunks
 * in the prompt (as `ask` answers), so that the gate sees prompts where the context can answer.
 */
export const GATED_MEMORY_CONTEXT_QA = 0.25;

/**
 * Gated Memory learns at this multiple of the preset's (LoRA's) rate: its output matrix starts at
 * zero behind a gate of 0.047. On the default model and the quality spec, at 5× (0.01) the loss
 * after about 1,230 steps was 0.90 against 1.44 at 1× (0.002); on a seeded 2-layer model the loss
 * after 16 passes was 1.9 against 3.3 (docs/gated-memory.md).
 */
export const GATED_MEMORY_LR_FACTOR = 5;

/** What one long input teaches: its contextualized segments and its QA pairs as samples. */
export interface LiftSamples {
  /** Segment length ℓ and head + tail budget used. */
  length: number;
  prefixBudget: number;
  segments: Sample[];
  qa: QAPair[];
  /** One per QA pair (same order); pairs that leave no room for their answer are dropped from both. */
  qaSamples: Sample[];
  /** With `context`: a share of the QA pairs again, each with the chunks retrieval gives for its question in the prompt (`qa` indices beside). */
  contextSamples: { index: number; sample: Sample }[];
  /** Fact questions kept out of training, for the self-check. */
  checks: QAPair[];
  /** Facts found, and why some text gave none. */
  facts: QAReport;
}

/**
 * The samples `learn` trains on, for a long input (also used to pre-LIFT-train the default
 * model, so that it sees exactly this format): contextualized segments (ℓ fitted to the model's
 * positions unless given) and QA pairs in the answering prompt's format.
 */
export async function liftSamples(
  input: LongInput,
  files: readonly CorpusFile[],
  tok: TextTokenizer,
  config: LlamaConfig,
  o: {
    segmentLength?: number;
    prefixBudget?: number;
    seed?: number;
    qa?: boolean;
    phrasings?: Record<QAPair['kind'], Phrasings>;
    extraQA?: readonly QAPair[];
    /** Learn `share` of the QA pairs (spread over them) a second time with what `retrieve` gives for the question in the prompt, formatted as answering does. */
    context?: { share: number; retrieve: (question: string) => Promise<Chunk[]> };
  } = {},
): Promise<LiftSamples> {
  const ellipsis = tok.encodeText('\n...\n');
  const prompt = tok.encodeText(RECITE_PROMPT);
  const length = o.segmentLength ?? Math.min(512, Math.floor((config.maxPositions - prompt.length - ellipsis.length) / 1.5));
  const prefixBudget = o.prefixBudget ?? Math.floor(length / 2);
  if (length <= 0 || length + prefixBudget + prompt.length + ellipsis.length > config.maxPositions) {
    throw new Error(`segments of ${length} tokens with ${prefixBudget} of context do not fit the model's ${config.maxPositions} positions`);
  }
  let seed = o.seed ?? 1;
  const random = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const segments = segmentSamples(input.ids, { length, prefixBudget, ellipsis, prompt, random });
  // Stage 2 adds question-answer pairs in exactly the format answering uses.
  const facts: QAReport = { facts: 0, notes: [] };
  const all = o.qa === false ? [] : [...(await generateQA(files.filter((f) => input.spans.some((sp) => sp.path === f.path)), o.phrasings, facts)), ...(o.extraQA ?? [])];
  const end = answerEndTokens(tok).slice(0, 1);
  const qa: QAPair[] = [];
  const qaSamples: Sample[] = [];
  const answers: number[][] = [];
  const checks: QAPair[] = [];
  for (const p of all) {
    const answer = [...tok.encodeText(p.answer).slice(0, length - end.length), ...end];
    const question = tok.encodeText(p.question);
    // a question whose prompt leaves no room for its answer is dropped (e.g. a very long module name), also from the self-check
    if (question.length + answer.length + 64 > config.maxPositions) continue;
    let prompt: number[];
    try {
      prompt = formatPrompt(tok, config.maxPositions, p.question, [], Math.max(answer.length, 32)).ids;
    } catch {
      continue;
    }
    if (p.check) {
      checks.push(p);
      continue;
    }
    qa.push(p);
    qaSamples.push(qaSample(prompt, answer));
    answers.push(answer);
  }
  const contextSamples: LiftSamples['contextSamples'] = [];
  if (o.context && o.context.share > 0) {
    for (const index of spread(qa.map((_, k) => k), Math.round(qa.length * Math.min(1, o.context.share)))) {
      const { question } = qa[index]!;
      const answer = answers[index]!;
      const { ids, used } = formatPrompt(tok, config.maxPositions, question, await o.context.retrieve(question), Math.max(answer.length, 32));
      if (used.length && ids.length + answer.length <= config.maxPositions) contextSamples.push({ index, sample: qaSample(ids, answer) });
    }
  }
  return { length, prefixBudget, segments, qa, qaSamples, contextSamples, checks, facts };
}

/** Minutes as people say them: "40 s", "about 9 min", "1 h 20 min". */
export function formatMinutes(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const m = Math.round(seconds / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Seconds per position from step end times (milliseconds) and each step's positions: the median
 * over the steps after the first, as ONNX Runtime's first runs of a graph are slower than the rest
 * (on semver's 54 files: 428, 137 and 116 ms for three equal steps; their mean had a 10-minute
 * budget planned as 9 minutes for a learn that took 5).
 */
export function steadySecondsPerPosition(times: readonly number[], positions: readonly number[]): number {
  const rates = times.slice(1).map((t, k) => (t - times[k]!) / 1000 / Math.max(1, positions[k + 1] ?? 0)).sort((a, b) => a - b);
  if (!rates.length) return 0;
  const mid = rates.length >> 1;
  return rates.length % 2 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
}

/**
 * Seconds per computed position on this machine, measured on a few steps of the real training
 * graph (a throw-away copy of the adapter; its first step, which loads the graph, is not counted,
 * and the median step stands for the rest).
 */
export async function measureSpeed(
  config: LlamaConfig,
  weights: LlamaWeights,
  stages: readonly Stage[],
  o: { lora: LoraConfig; seed: number; recompute: boolean; batch: number; isCancelled?: () => boolean },
): Promise<number> {
  // the longest samples: the graph is built for the longest row, as learning builds it
  const all = stages.flatMap((st) => st.samples);
  const longest = [...all].sort((a, b) => b.input.length - a.input.length);
  const probe = [...longest.slice(0, Math.max(1, o.batch) * 6)];
  const plan = planSteps([{ samples: probe, epochs: 1 }], { seed: o.seed, batch: o.batch, rowTokens: longest[0]!.input.length });
  const times: number[] = [];
  await trainAdapter(config, weights, [{ samples: probe, epochs: 1 }], {
    lora: o.lora,
    lr: 0,
    seed: o.seed,
    recompute: o.recompute,
    batch: o.batch,
    rowTokens: longest[0]!.input.length,
    isCancelled: o.isCancelled,
    onProgress: (p) => {
      if (p.phase === 'train' && p.step) times.push(performance.now());
    },
  });
  return steadySecondsPerPosition(times, plan.steps.map((rows) => rows.length * Math.max(...rows.map((r) => r.reduce((x, s) => x + s.input.length, 0)))));
}

/**
 * Passes that fit `budgetSeconds` at `secondsPerPosition`: the last stage's passes go down first
 * (to one), then the first stage's (to none); `over` when even that takes longer.
 */
export function fitBudget(stages: readonly Stage[], secondsPerPosition: number, budgetSeconds: number, o: { seed: number; batch: number }): { stages: Stage[]; seconds: number; reduced: boolean; over: boolean } {
  const perPass = stages.map((st) => (st.samples.length ? planSteps([{ samples: st.samples, epochs: 1 }], { seed: o.seed, batch: o.batch, rowTokens: Math.max(...stages.flatMap((x) => x.samples.map((s) => s.input.length))) }).positions * secondsPerPosition : 0));
  const cost = (epochs: number[]): number => epochs.reduce((a, e, k) => a + e * perPass[k]!, 0);
  const epochs = stages.map((st) => st.epochs);
  const preset = [...epochs];
  for (let k = epochs.length - 1; k >= 0 && cost(epochs) > budgetSeconds; k--) {
    const floor = k === epochs.length - 1 ? 1 : 0;
    const rest = cost(epochs) - epochs[k]! * perPass[k]!;
    epochs[k] = perPass[k]! > 0 ? Math.max(floor, Math.min(epochs[k]!, Math.floor((budgetSeconds - rest) / perPass[k]!))) : epochs[k]!;
  }
  return {
    stages: stages.map((st, k) => ({ samples: st.samples, epochs: epochs[k]! })),
    seconds: cost(epochs),
    reduced: epochs.some((e, k) => e < preset[k]!),
    over: cost(epochs) > budgetSeconds,
  };
}

/** What the self-check after learning found (figures as `SelfCheckFigures`), with a few closed-book answers. */
export interface SelfCheck extends SelfCheckFigures {
  examples: { question: string; answer: string; value: string }[];
}

/** Up to `n` of `items`, spread evenly over the list (deterministic). */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

/**
 * Asks the adapter in `adapterDir` up to `max` of the held-out fact questions, with nothing in the
 * prompt (what the weights know), and counts the answers that state the value first. Given
 * `retrieve`, asks each again with the chunks it returns in the prompt (what `ask` does) and
 * counts those too (answering with the adapter retrieves unless `weightsAlone`).
 */
export async function selfCheck(
  model: string | (() => Promise<Answerer>),
  adapterDir: string,
  checks: readonly QAPair[],
  o: { max?: number; isCancelled?: () => boolean; onProgress?: (done: number, total: number) => void; retrieve?: (question: string) => Promise<Chunk[]> } = {},
): Promise<SelfCheck> {
  const asked = spread(checks.filter((c) => c.value !== undefined), o.max ?? 50);
  const result: SelfCheck = { asked: 0, direct: 0, examples: [] };
  if (asked.length === 0) return result;
  const answerer = typeof model === 'string' ? await Answerer.load(model) : await model();
  try {
    await answerer.useAdapter(adapterDir);
    // Gated Memory: the gates, summed over the questions, closed book and with context apart
    const gates = { closedBook: [] as number[], withRetrieval: [] as number[] };
    const add = (into: number[]): void => answerer.takeGates()?.forEach((g, i) => (into[i] = (into[i] ?? 0) + g));
    answerer.takeGates();
    for (const q of asked) {
      if (o.isCancelled?.()) break;
      const { text } = await answerer.answer(q.question, [], { maxTokens: 32 });
      add(gates.closedBook);
      if (o.retrieve) {
        const withContext = await answerer.answer(q.question, await o.retrieve(q.question), { maxTokens: 32 });
        add(gates.withRetrieval);
        result.withRetrieval = (result.withRetrieval ?? 0) + Number(statesDirectly(withContext.text, q.value!));
      }
      result.asked++;
      if (statesDirectly(text, q.value!)) result.direct++;
      if (result.examples.length < 5) result.examples.push({ question: q.question, answer: text.trim(), value: q.value! });
      o.onProgress?.(result.asked, asked.length);
    }
    const mean = (sums: number[]): number[] => sums.map((x) => Number((x / result.asked).toFixed(4)));
    if (gates.closedBook.length && result.asked) result.gate = { closedBook: mean(gates.closedBook), ...(gates.withRetrieval.length ? { withRetrieval: mean(gates.withRetrieval) } : {}) };
  } finally {
    await answerer.release();
  }
  return result;
}

/** A self-check's gates in a line: closed book, and with retrieved context. */
export function describeGates(g: NonNullable<SelfCheck['gate']>): string {
  const line = (v: number[]): string => v.map((x) => x.toFixed(2)).join(' ');
  return `${line(g.closedBook)} closed book${g.withRetrieval ? `; ${line(g.withRetrieval)} with retrieved context` : ''}`;
}

/** The files' chunks searched as `ask` searches a workspace: chunks sized to the model, the same BM25 index (in memory). */
async function retriever(files: readonly CorpusFile[], tok: TextTokenizer, maxPositions: number): Promise<(question: string) => Promise<Chunk[]>> {
  const index = new SearchIndex({ roots: [], chunkTokens: chunkTokensFor(maxPositions), tokenizer: '' }, tokenSizing(tok, maxPositions));
  await index.put(files);
  const text = new Map(files.map((f) => [f.path, f.text]));
  return async (question) => index.search(question, 8).map((h) => ({ path: h.file.path, startLine: h.startLine, endLine: h.endLine, text: text.get(h.file.path)!.slice(h.start, h.end) }));
}

export async function learnWorkspace(req: LearnRequest, hooks: { onProgress?: (p: LearnProgress) => void; isCancelled?: () => boolean } = {}): Promise<LearnSummary> {
  if ((req.adapterDir === undefined) === (req.store === undefined)) throw new Error('learn: give either an adapter folder or an adapter store');
  const store = req.store === undefined ? undefined : new AdapterStore(req.store);
  const progress = hooks.onProgress ?? (() => undefined);
  // settings first, all read from the model folder now (it may be deleted or moved while learning)
  const modelConfig = loadConfig(req.modelDir);
  const own = modelLiftConfig(req.modelDir);
  const preset = own.presets?.[req.preset ?? 'fast'] ?? PRESETS[req.preset ?? 'fast'];
  const rank = req.rank ?? own.rank ?? DEFAULT_LORA.rank;
  const kind = req.adapterKind ?? 'lora';
  if (!ADAPTER_KINDS.includes(kind)) throw new Error(`the adapter kind must be one of ${ADAPTER_KINDS.join(', ')}, not ${JSON.stringify(kind)}`);
  const lora: LoraConfig = { rank, alpha: req.alpha ?? 2 * rank, targets: req.targets ?? own.targets ?? [...DEFAULT_LORA.targets], kind };
  // refuse before anything heavy: memory for the training step, a writable folder with room
  const preferred = req.segmentLength ?? preferredSegment(modelConfig);
  const seqLenFor = (segment: number): number => rowLength(modelConfig, segment, req.prefixBudget);
  let segmentLength = req.segmentLength;
  const mode = req.recompute ?? 'auto';
  if (req.batch !== undefined && !(Number.isInteger(req.batch) && req.batch >= 1)) throw new Error(`the batch size must be a whole number of at least 1, not ${req.batch}`);
  if ((req.batch ?? 1) > 1 && mode === 'on') throw new Error('activation recomputation trains one sample per step: use a batch size of 1 with it');
  let estimate: MemoryEstimate;
  // on CUDA the segment length, recomputation and the batch are chosen from the GPU's free memory
  const gpu = precisionFor(defaultDevice()) === 'float16' ? gpuMemory() : undefined;
  if (gpu && req.memoryCheck !== false) {
    const plan = planGpuSegments(modelConfig, lora, preferred, seqLenFor, gpu, mode, req.batch);
    const how = [plan.estimate.recompute ? ' with activation recomputation' : '', plan.estimate.batch > 1 ? ` in batches of ${plan.estimate.batch}` : ''].join('');
    progress({ phase: 'collect', message: `GPU memory estimate ${formatBytes(plan.estimate.total)} for ${plan.segment}-token segments${how} (${gpu.name}: ${formatBytes(gpu.freeBytes)} free of ${formatBytes(gpu.totalBytes)})` });
    if (plan.segment < preferred) segmentLength = plan.segment;
    estimate = estimateLearnMemory(modelConfig, { seqLen: seqLenFor(segmentLength ?? preferred), ...lora, recompute: plan.estimate.recompute, batch: plan.estimate.batch });
  } else {
    // auto does not recompute without a memory check to need it, nor for a batch (one sample per step)
    const cpuMode = mode === 'auto' && (req.memoryCheck === false || (req.batch ?? 1) > 1) ? 'off' : mode;
    estimate = chooseRecompute(modelConfig, { seqLen: seqLenFor(segmentLength ?? preferred), ...lora, batch: req.batch }, cpuMode, availableMemory());
  }
  if (req.memoryCheck !== false) checkMemory(estimate);
  const { recompute, batch } = estimate;
  checkStorage(store ? path.join(store.root, 'adapter') : req.adapterDir!, adapterBytes(modelConfig, lora));
  progress({ phase: 'collect', message: `memory estimate ${formatBytes(estimate.total)}${recompute ? ' with activation recomputation' : ''}${batch > 1 ? ` in batches of ${batch}` : ''} (${formatBytes(availableMemory())} available)` });
  progress({ phase: 'collect', message: req.roots.join(', ') });
  const { files, report } = await collect(req.roots, {
    include: req.include,
    exclude: req.exclude,
    isCancelled: hooks.isCancelled,
    onProgress: (done, total) => progress({ phase: 'collect', step: done, totalSteps: total }),
  });
  if (files.length === 0) {
    throw new Error(`nothing to learn in ${req.roots.join(', ')}: ${report.skipped.length ? `every file was skipped: ${describeSkipped(report)}` : 'no files'}. Nothing was written.`);
  }
  progress({ phase: 'tokenize', message: `${files.length} files` });
  const { config, weights } = loadModel(req.modelDir);
  const tok = TextTokenizer.fromFolder(req.modelDir);
  const budget = req.tokenBudget ?? 200_000;
  const input = buildLongInput(files, tok, budget);
  // the files learned (within the token budget)
  const learned = files.filter((f) => input.spans.some((sp) => sp.path === f.path));
  if (input.truncated || input.overBudget.length) {
    progress({ phase: 'tokenize', message: `token budget of ${budget} reached: ${input.truncated ? `${input.truncated} learned in part, ` : ''}${input.overBudget.length} files left out` });
  }
  const adapterDir = store ? store.dirFor(AdapterStore.key(req.modelDir, input.hash)) : req.adapterDir!;
  // what an incremental run continues: the folder given, or the store's active adapter
  const currentDir = store ? store.activeDir() : adapterDir;
  let extraQA: QAPair[] = [];
  if ((req.modelQA ?? 0) > 0 && req.qa !== false) {
    if (!chatFormat(tok)) progress({ phase: 'tokenize', message: 'not an instruct model (no chat tokens): no model-written QA' });
    else {
      const answerer = await Answerer.load(req.modelDir, { config, weights, tok });
      const chunks = chunkFiles(learned);
      const written = await modelQA(answerer, chunks, {
        max: req.modelQA!,
        isCancelled: hooks.isCancelled,
        onProgress: (done, total) => progress({ phase: 'tokenize', message: `the model writes QA pairs: ${done}/${total}` }),
      });
      await answerer.release();
      if (hooks.isCancelled?.()) throw new LearnCancelled('Learning was cancelled; the previous adapter is unchanged.');
      extraQA = written.pairs;
      progress({ phase: 'tokenize', message: `model-written QA: ${written.report.kept} of ${written.report.asked} kept (grounded in the source)` });
    }
  }
  // Gated Memory's gate learns when the prompt holds what is asked only from prompts that hold context
  const contextShare = req.contextQA ?? (kind === 'gated-memory' ? GATED_MEMORY_CONTEXT_QA : 0);
  const retrieve = contextShare > 0 ? await retriever(learned, tok, config.maxPositions) : undefined;
  const { length, prefixBudget, segments: samples, qa, qaSamples, contextSamples, checks, facts } = await liftSamples(input, files, tok, config, {
    segmentLength,
    prefixBudget: req.prefixBudget,
    seed: req.seed,
    qa: req.qa,
    extraQA,
    ...(retrieve ? { context: { share: contextShare, retrieve } } : {}),
  });
  progress({ phase: 'tokenize', message: `${facts.facts} facts, ${qa.length} QA pairs${contextSamples.length ? ` (${contextSamples.length} also with retrieved context in the prompt)` : ''}${facts.notes.length ? `; ${facts.notes.join('; ')}` : ''}` });
  const fitting = (list: readonly Sample[]): Sample[] => list.filter((s) => s.input.length <= config.maxPositions);
  const fits = [...fitting(qaSamples), ...fitting(contextSamples.map((c) => c.sample))];
  const epochs = req.epochs ?? preset.epochs;
  const stage2Epochs = req.stage2Epochs ?? (req.epochs !== undefined ? req.epochs : preset.stage2Epochs);
  const lr = req.lr ?? preset.lr * (kind === 'gated-memory' ? GATED_MEMORY_LR_FACTOR : 1);
  let stages: Stage[] = [{ samples, epochs }, { samples: [...samples, ...fits], epochs: stage2Epochs }];
  let initial: LoraAdapter | undefined;
  let trainedQA = fitting(qaSamples).length; // pairs learned (a pair also learned with context counts once)
  const manifest = req.incremental && currentDir ? readManifest(currentDir) : undefined;
  const same = (m: Manifest): boolean =>
    m.baseModel === req.modelDir && (m.settings.kind ?? 'lora') === kind && (kind === 'gated-memory' || (m.settings.rank === lora.rank && String(m.settings.targets) === String(lora.targets)));
  let previous = manifest && same(manifest) ? manifest : undefined;
  if (previous) {
    try {
      initial = loadAdapter(currentDir!, config);
    } catch (err) {
      if (!(err instanceof AdapterError)) throw err;
      // it does not fit the model (the model folder changed, a damaged file): set aside, learn everything
      if (store) store.deactivate(path.basename(currentDir!));
      progress({ phase: 'tokenize', message: `the adapter to continue does not fit this model (${err.message})${store ? '; it is no longer active' : ''}` });
      previous = undefined;
    }
  }
  if (req.incremental && !previous) progress({ phase: 'tokenize', message: 'no matching adapter to continue: learning everything' });
  if (req.incremental && previous) {
    const learned = new Map(previous.files.map((f) => [f.path, f.sha256]));
    const changed = new Set(files.filter((f) => learned.get(f.path) !== textHash(f.text)).map((f) => f.path));
    const starts = segmentStarts(input.ids.length, length);
    const touches = (st: number): boolean => input.spans.some((sp) => changed.has(sp.path) && sp.start < st + length && sp.end > st);
    const fresh = samples.filter((_, k) => touches(starts[k]!));
    const others = samples.filter((_, k) => !touches(starts[k]!));
    // replay a quarter of the rest so the adapter does not forget it
    const replay = shuffled(others, req.seed ?? 1).slice(0, Math.ceil(others.length / 4));
    const changedOf = (list: readonly { index: number; sample: Sample }[]): Sample[] => fitting(list.filter(({ index }) => changed.has(qa[index]!.path)).map((c) => c.sample));
    const changedPairs = changedOf(qaSamples.map((sample, index) => ({ index, sample })));
    const changedQA = [...changedPairs, ...changedOf(contextSamples)];
    trainedQA = changedPairs.length;
    stages = [{ samples: [...fresh, ...replay, ...changedQA], epochs: stage2Epochs }];
    progress({ phase: 'tokenize', message: `${changed.size} changed files: ${fresh.length} segments, ${changedQA.length} QA pairs, ${replay.length} replayed` });
    if (changed.size === 0 && previous.files.length === files.length) stages = [];
  }
  // an interrupted learn of these samples resumes with the passes it planned (its settings are
  // checked against the checkpoint's fingerprint when training starts); a checkpoint of other
  // samples (the input or its questions changed) plans afresh and is discarded by training
  const checkpoint = req.checkpointSeconds !== undefined && req.checkpointSeconds < 0 ? undefined : { file: checkpointFile(adapterDir), everySeconds: req.checkpointSeconds };
  const interrupted = checkpoint ? readCheckpoint(checkpoint.file) : undefined;
  if (interrupted && 'discarded' in interrupted) progress({ phase: 'build', message: `a checkpoint was discarded: ${interrupted.discarded}` });
  const resuming = interrupted && 'checkpoint' in interrupted && interrupted.checkpoint.passes.length === stages.length && interrupted.checkpoint.samples === samplesDigest(stages) ? interrupted.checkpoint : undefined;
  if (resuming) {
    stages = stages.map((st, k) => ({ ...st, epochs: resuming.passes[k]! }));
    progress({ phase: 'build', message: `found the checkpoint of an interrupted learn at step ${resuming.step}: keeping the ${resuming.passes.join(' + ')} passes it planned` });
  }
  // fit the passes to the time budget, from this machine's measured speed
  const budgetMinutes = req.budgetMinutes ?? 10;
  if (!resuming && budgetMinutes > 0 && stages.some((st) => st.samples.length) && !hooks.isCancelled?.()) {
    const speed = await measureSpeed(config, weights, stages, { lora, seed: req.seed ?? 1, recompute, batch, isCancelled: hooks.isCancelled });
    const fit = fitBudget(stages, speed, budgetMinutes * 60, { seed: req.seed ?? 1, batch });
    stages = fit.stages;
    const passes = stages.map((st) => st.epochs).join(' + ');
    progress({
      phase: 'build',
      message: `about ${formatMinutes(fit.seconds)} on this machine (${passes} passes${fit.reduced ? `, fewer than the preset's to fit the budget of ${budgetMinutes} min` : ''})`,
      estimateSeconds: Math.round(fit.seconds),
      ...(fit.over ? { overBudget: { estimateSeconds: Math.round(fit.seconds), budgetSeconds: budgetMinutes * 60 } } : {}),
    });
  }
  if (stages.every((st) => st.samples.length === 0)) {
    return { adapterDir: currentDir ?? adapterDir, qaPairs: 0, facts: facts.facts, notes: facts.notes, inputHash: input.hash, files: files.length, skipped: report.skipped.length, redactions: report.redactions.reduce((a, r) => a + r.count, 0), tokens: input.ids.length, samples: 0, steps: 0, firstLoss: 0, finalLoss: 0, report };
  }
  const hub = hubSnapshotOf(req.modelDir);
  const textOf = new Map(files.map((f) => [f.path, f.text]));
  const { losses } = await learnToFolder(config, weights, stages, adapterDir, {
    lora,
    initial,
    lr,
    seed: req.seed ?? 1,
    recompute,
    batch,
    baseModel: req.modelDir,
    manifest: (losses): Manifest => ({
      format: 1,
      engine: trainerVersion,
      createdAt: new Date().toISOString(),
      baseModel: req.modelDir,
      ...(hub ? { baseModelHub: hub } : {}),
      inputHash: input.hash,
      tokens: input.ids.length,
      qaPairs: fits.length,
      settings: { ...lora, preset: req.preset ?? 'fast', epochs, stage2Epochs, lr, seed: req.seed ?? 1, segmentLength: length, prefixBudget, batch, recompute },
      files: learned.map((f) => ({ path: f.path, file: f.file, bytes: f.bytes, sha256: textHash(f.text) })),
      losses: downsample(losses),
    }),
    // each answer's training questions and source paragraph: `ask` matches users' questions to them
    files: { [LEARNED_QUESTIONS]: learnedQuestionsFile(learnedAnswers(qa, (p) => textOf.get(p))) },
    // read once, above: training checks it against its plan
    checkpoint: checkpoint && { ...checkpoint, found: interrupted && 'checkpoint' in interrupted ? interrupted : null },
    onProgress: progress,
    isCancelled: hooks.isCancelled,
  });
  // older checkpoints in the store are of inputs that have changed since
  if (store) removeCheckpoints(store.root);
  if (store) {
    // cancelled while saving (its requester gone: the trainer cancels what is in flight when its
    // connection closes): the new adapter stays in the store, inactive (pruned in time); the active one stays
    if (hooks.isCancelled?.()) throw new LearnCancelled(`Learning was cancelled; the previous adapter is unchanged (the new one stays in ${adapterDir}, inactive).`);
    try {
      store.select(path.basename(adapterDir));
    } catch (err) {
      throw new Error(`The new adapter was saved in ${adapterDir} but could not be made the active one: ${describeFsError(err)}. The previous adapter still answers.`);
    }
    const pruned = store.prune();
    if (pruned.length) progress({ phase: 'save', message: `removed ${pruned.length} old adapters (keeping ${store.keep})` });
  }
  // what the adapter now knows: questions it never trained on, nothing in the prompt, then with
  // the workspace's retrieved chunks (as ask answers), which decides whether ask retrieves
  let check: SelfCheck | undefined;
  if ((req.selfCheck ?? 50) > 0 && checks.length && !hooks.isCancelled?.()) {
    const search = retrieve ?? (await retriever(learned, tok, config.maxPositions));
    // from the weights already loaded: the model folder may have been moved while learning
    check = await selfCheck(() => Answerer.load(req.modelDir, { config, weights, tok }), adapterDir, checks, { max: req.selfCheck ?? 50, retrieve: search, isCancelled: hooks.isCancelled, onProgress: (done, total) => progress({ phase: 'check', step: done, totalSteps: total }) });
    if (check.asked) recordSelfCheck(adapterDir, check);
    if (check.asked) {
      const off = weightsAlone(check) ? `; with retrieved context ${check.withRetrieval}, so answers with this adapter come from its weights without searching the workspace` : '';
      progress({ phase: 'check', message: `answers ${check.direct} of ${check.asked} check questions${off}${check.direct < 0.7 * check.asked && (req.preset ?? 'fast') === 'fast' ? ' (the thorough preset learns more)' : ''}` });
      if (check.gate) progress({ phase: 'check', message: `Gated Memory's gate per layer (0: attention only, 1: memory only): ${describeGates(check.gate)}` });
    }
  }
  return {
    adapterDir,
    qaPairs: trainedQA,
    facts: facts.facts,
    notes: facts.notes,
    passes: stages.map((st) => st.epochs),
    selfCheck: check,
    inputHash: input.hash,
    files: files.length,
    skipped: report.skipped.length,
    redactions: report.redactions.reduce((a, r) => a + r.count, 0),
    tokens: input.ids.length,
    samples: stages.at(-1)?.samples.length ?? 0,
    steps: losses.length,
    firstLoss: losses[0]!,
    finalLoss: losses.at(-1)!,
    report,
  };
}
