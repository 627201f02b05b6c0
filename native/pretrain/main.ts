/**
 * `npm run pretrain-default`: trains the bundled default model from scratch with the project's
 * own engine, in full-parameter mode, in steps that each resume where the last one stopped:
 *
 *   tokenizer  byte-level BPE learned from the training data
 *   lm         stage 1, language modelling on the permissively licensed code and docs
 *   lift       stage 2, pre-LIFT: LIFT samples of many packages, exactly as `learn` builds
 *              them (contextualized segments + synthetic QA in many phrasings)
 *   export     the Hugging Face folder under native/default-model (weights, tokenizer, card data)
 *
 * Checkpoints (weights + AdamW moments + position) go to out/pretrain every few minutes,
 * atomically; `--minutes N` stops a stage cleanly after N minutes, and the next run resumes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildLongInput } from '../lift/input';
import type { CorpusFile } from '../lift/corpus';
import { batchFeeds, LOSS_WEIGHTING, learningRate, packedFeeds, shuffled } from '../lift/learn';
import { liftSamples, MODEL_LIFT_CONFIG } from '../lift/pipeline';
import { packRows, type Sample } from '../lift/samples';
import { byteLevelTokenizerJson } from '../model/bytelevel';
import type { LlamaConfig } from '../model/config';
import { randomWeights, smallConfig } from '../model/init';
import { buildLlamaTrainStep } from '../model/llama';
import { SafetensorsFile, writeSafetensors } from '../model/safetensors';
import { TextTokenizer } from '../model/tokenizer';
import { LINEAR_TARGETS, type LinearTarget, type LlamaWeights, saveModelFolder } from '../model/weights';
import { createSession, TrainStepRunner } from '../runtime/session';
import { PieceCounter, trainBpe } from './bpe';
import { collectPretrainData, type PretrainDoc } from './data';
import { modelCard, type TrainingRecord } from './card';
import { knowledgeEval } from './evaluate';
import { PRETRAIN_PHRASINGS } from './phrasings';
import { syntheticSpecs } from './synthetic';

/**
 * The recipe this script trains. The bundled model (native/default-model) was built by an
 * earlier one, recorded in its training.json (language modelling 3600 steps; pre-LIFT 900 steps
 * on 200 packages' samples as learn built them then). This revision (a shorter first stage, the
 * pre-LIFT stage capped per package, fact questions, 100 generated multi-fact specifications) was
 * trained on 2026-12-02 and scored lower after LIFT (the demo's 8 hand-written questions: 1 against
 * 4; the multi-fact test: 2 of 7 against 2 of 7), so it was not shipped. Trained again on
 * 2026-12-06 with the current generator and the bundled model's 3600 language-modelling steps
 * (pre-LIFT: 27,970 samples, 24,639 of them fact questions, 900 steps, 10 min; held-out loss 3.59):
 * the demo gave 5 of 8 after learning and a self-check of 18 of 20, the same as the bundled model,
 * so it was not shipped either; the quality spec was not measured with it.
 */
export const RECIPE = {
  seed: 1234,
  /** 256 bytes + merges + 3 special tokens = 4096. */
  merges: 3837,
  model: { hidden: 256, layers: 4, heads: 4, intermediate: 688, maxPositions: 512 },
  lm: { steps: 3600, batch: 4, seqLen: 512, lr: 1.5e-3, weightDecay: 0.05 },
  lift: { steps: 900, batch: 4, lr: 5e-4, weightDecay: 0.05, packages: 120, specs: 100, perUnit: { segments: 6, facts: 60, phrasings: 4 } },
  /** What `learn` uses with this model (its lift_config.json): tuned on generated documents. */
  liftConfig: {
    presets: { fast: { epochs: 2, stage2Epochs: 40, lr: 2e-3 }, thorough: { epochs: 2, stage2Epochs: 60, lr: 2e-3 } },
    rank: 32,
    targets: [...LINEAR_TARGETS] as LinearTarget[],
  },
};

const ROOT = path.resolve(__dirname, '..', '..');
const WORK = path.join(ROOT, 'out', 'pretrain');
export const DEFAULT_MODEL_DIR = path.join(ROOT, 'native', 'default-model');

const log = (m: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

function data(): ReturnType<typeof collectPretrainData> {
  return collectPretrainData(path.join(ROOT, 'node_modules'));
}

function tokenizerStep(): TextTokenizer {
  const file = path.join(WORK, 'tokenizer.json');
  if (!fs.existsSync(file)) {
    const { docs } = data();
    const counter = new PieceCounter();
    for (const d of docs) counter.add(d.text);
    log(`tokenizer: ${counter.counts.size} distinct pieces; learning ${RECIPE.merges} merges`);
    const merges = trainBpe(counter.counts, RECIPE.merges);
    fs.mkdirSync(WORK, { recursive: true });
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(byteLevelTokenizerJson(merges)));
    fs.renameSync(`${file}.tmp`, file);
  }
  return TextTokenizer.fromFolder(WORK);
}

export function defaultConfig(tok: TextTokenizer): LlamaConfig {
  const m = RECIPE.model;
  const vocab = 256 + RECIPE.merges + 3;
  const cfg = smallConfig({ hidden: m.hidden, layers: m.layers, heads: m.heads, intermediate: m.intermediate, vocab, maxPositions: m.maxPositions, tie: true });
  const eos = tok.tokenId('<|endoftext|>')!;
  return { ...cfg, ropeTheta: 10000, bosTokenId: undefined, eosTokenIds: [eos, tok.tokenId('<|im_end|>')!] };
}

/** A document as stage 1 sees it: a path header, the text, end of text. */
const docIds = (tok: TextTokenizer, d: PretrainDoc, eos: number): number[] => [...tok.encodeText(`<<< ${d.path} >>>\n${d.text}`), eos];

interface Checkpoint {
  stage: string;
  step: number;
  losses: number[];
  heldOut?: number[];
  /** Training time so far, over all runs. */
  seconds?: number;
}

function weightsFrom(base: LlamaWeights, get: (name: string) => Float32Array): LlamaWeights {
  const w = (x: { name: string; shape: readonly number[] }) => ({ name: x.name, shape: x.shape, data: Float32Array.from(get(x.name)) });
  return {
    embed: w(base.embed),
    norm: w(base.norm),
    lmHead: base.lmHead && w(base.lmHead),
    layers: base.layers.map((l) => ({
      inputNorm: w(l.inputNorm),
      postNorm: w(l.postNorm),
      linear: Object.fromEntries(LINEAR_TARGETS.map((t) => [t, w(l.linear[t])])) as LlamaWeights['layers'][number]['linear'],
      bias: undefined,
    })),
  };
}

/**
 * One full-parameter stage: `next(step)` gives the batch of step `step` (deterministic), the
 * checkpoint in `dir` is resumed, and every few minutes (and at the end, or when `minutes` run
 * out) the state is saved. Returns the trained weights when the stage is complete.
 */
async function trainStage(
  name: string,
  cfg: LlamaConfig,
  init: LlamaWeights,
  o: { steps: number; batch: number; seqLen: number; lr: number; weightDecay: number; minutes: number; next: (step: number) => Sample[]; heldOut?: Sample[]; packed?: (step: number) => Sample[][] },
): Promise<LlamaWeights | undefined> {
  const dir = path.join(WORK, name);
  const metaFile = path.join(dir, 'checkpoint.json');
  let meta: Checkpoint = fs.existsSync(metaFile) ? JSON.parse(fs.readFileSync(metaFile, 'utf8')) : { stage: name, step: 0, losses: [], heldOut: [] };
  const final = path.join(dir, 'model');
  if (meta.step >= o.steps && fs.existsSync(path.join(final, 'model.safetensors'))) {
    log(`${name}: complete (${meta.step} steps)`);
    return undefined;
  }
  const graph = buildLlamaTrainStep(cfg, init, { seqLen: o.seqLen, batch: o.batch, seed: RECIPE.seed, optimizer: { beta1: 0.9, beta2: 0.98, weightDecay: o.weightDecay, maxGradNorm: 1 }, packed: o.packed !== undefined });
  const { session } = await createSession(graph.model, 'cpu');
  const runner = new TrainStepRunner(session, graph.spec, graph.params);
  const stateFile = path.join(dir, 'state.safetensors');
  if (meta.step > 0) {
    const f = SafetensorsFile.open(stateFile);
    runner.restore(Object.fromEntries([...f.tensors.keys()].map((n) => [n, f.readFloat32(n).data])), meta.step);
    log(`${name}: resumed at step ${meta.step}`);
  }
  const T = o.seqLen;
  // packed rows: each sample its own positions and attention, weighted as `learn` weighs it
  const feeds = (batch: Sample[]) => (o.packed ? packedFeeds(batch.map((s) => [s]), T, { count: o.batch, weighting: LOSS_WEIGHTING }) : batchFeeds(batch, T, o.batch));
  const rowFeeds = (rows: Sample[][]) => packedFeeds(rows, T, { count: o.batch, weighting: LOSS_WEIGHTING });
  const evaluate = async (): Promise<number> => {
    if (!o.heldOut?.length) return NaN;
    // a copy of the current weights at lr 0: the training state is untouched
    const probe = new TrainStepRunner(session, graph.spec, Object.fromEntries(Object.keys(graph.params).map((k) => [k, runner.get(k) as Float32Array])));
    let sum = 0;
    let n = 0;
    for (let i = 0; i + o.batch <= o.heldOut.length; i += o.batch) {
      sum += (await probe.step(feeds(o.heldOut.slice(i, i + o.batch)), 0)).loss;
      n++;
    }
    return sum / n;
  };
  let counted = Date.now();
  const save = (): void => {
    meta.seconds = (meta.seconds ?? 0) + (Date.now() - counted) / 1000;
    counted = Date.now();
    fs.mkdirSync(dir, { recursive: true });
    const state = runner.exportState();
    writeSafetensors(stateFile, Object.fromEntries(Object.entries(state).map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }])));
    fs.writeFileSync(`${metaFile}.tmp`, JSON.stringify(meta));
    fs.renameSync(`${metaFile}.tmp`, metaFile);
  };
  const started = Date.now();
  let lastSave = Date.now();
  let tokens = 0;
  while (meta.step < o.steps) {
    const rows = o.packed?.(meta.step);
    const batch = rows ? rows.flat() : o.next(meta.step);
    const { loss } = await runner.step(rows ? rowFeeds(rows) : feeds(batch), learningRate(o.lr, meta.step, o.steps));
    meta.losses.push(loss);
    meta.step++;
    tokens += batch.reduce((a, s) => a + s.mask.reduce((x, y) => x + y, 0), 0);
    if (meta.step % 25 === 0) {
      const recent = meta.losses.slice(-25);
      log(`${name} ${meta.step}/${o.steps} loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(3)} (${Math.round(tokens / ((Date.now() - started) / 1000))} tokens/s)`);
    }
    if (meta.step % 300 === 0 && o.heldOut) {
      meta.heldOut = [...(meta.heldOut ?? []), await evaluate()];
      log(`${name}: held-out loss ${meta.heldOut.at(-1)!.toFixed(3)}`);
    }
    const out = Date.now() - started > o.minutes * 60_000;
    if (Date.now() - lastSave > 5 * 60_000 || out || meta.step === o.steps) {
      save();
      lastSave = Date.now();
    }
    if (out && meta.step < o.steps) {
      log(`${name}: stopping after ${o.minutes} minutes at step ${meta.step}; run again to resume`);
      await session.release();
      return undefined;
    }
  }
  if (o.heldOut && meta.step % 300 !== 0) meta.heldOut = [...(meta.heldOut ?? []), await evaluate()];
  const trained = weightsFrom(init, (n) => runner.get(n) as Float32Array);
  saveModelFolder(final, cfg, trained);
  save();
  await session.release();
  log(`${name}: done, ${meta.step} steps`);
  return trained;
}

/** A loss curve of at most 40 points, each the mean of the 25 steps around it. */
function curve(xs: number[]): [number, number][] {
  const n = Math.min(40, xs.length);
  return Array.from({ length: n }, (_, k) => {
    const i = Math.round((k * (xs.length - 1)) / Math.max(1, n - 1));
    const win = xs.slice(Math.max(0, i - 12), i + 13);
    return [i + 1, Number((win.reduce((a, b) => a + b, 0) / win.length).toFixed(3))] as [number, number];
  });
}

/** training.json and the model card written from it. */
function writeRecord(record: TrainingRecord): void {
  fs.writeFileSync(path.join(DEFAULT_MODEL_DIR, 'training.json'), `${JSON.stringify(record, null, 1)}\n`);
  fs.writeFileSync(path.join(DEFAULT_MODEL_DIR, 'README.md'), modelCard(record));
}

function loadStage(name: string, cfg: LlamaConfig): LlamaWeights | undefined {
  const file = path.join(WORK, name, 'model', 'model.safetensors');
  if (!fs.existsSync(file)) return undefined;
  const f = SafetensorsFile.open(file);
  return weightsFrom(randomWeights(cfg, 1), (n) => f.readFloat32(n).data);
}

/** Fixed windows of seqLen + 1 tokens cut from documents concatenated in a seeded order. */
function lmWindows(streamDocs: number[][], seqLen: number, seed: number): Sample[] {
  const stream = shuffled(streamDocs, seed).flat();
  const out: Sample[] = [];
  for (let i = 0; i + seqLen + 1 <= stream.length; i += seqLen) {
    const w = stream.slice(i, i + seqLen + 1);
    out.push({ input: w.slice(0, -1), labels: w.slice(1), mask: new Array<number>(seqLen).fill(1) });
  }
  return out;
}

/**
 * The pre-LIFT stage's samples: per package, its LIFT samples (segments + QA in many phrasings),
 * as `learn` builds them; then generated multi-fact specifications, learned the same way.
 */
export async function liftPool(tok: TextTokenizer, cfg: LlamaConfig, docs: readonly PretrainDoc[]): Promise<{ pool: Sample[]; qaCount: number; factCount: number }> {
  const byPkg = new Map<string, PretrainDoc[]>();
  for (const d of docs) byPkg.set(d.pkg, [...(byPkg.get(d.pkg) ?? []), d]);
  const units: [string, PretrainDoc[]][] = shuffled([...byPkg], RECIPE.seed).slice(0, RECIPE.lift.packages);
  for (const d of syntheticSpecs(RECIPE.lift.specs, RECIPE.seed)) units.push([d.path, [{ pkg: d.path, path: `${d.path}/SPEC.md`, text: d.text }]]);
  const pool: Sample[] = [];
  let qaCount = 0;
  let factCount = 0;
  for (const [pkg, ds] of units) {
    const files: CorpusFile[] = ds.map((d) => ({ root: pkg, path: d.path.slice(pkg.length + 1), file: d.path, text: d.text, bytes: d.text.length }));
    const input = buildLongInput(files, tok, 6000);
    const s = await liftSamples(input, files, tok, cfg, { seed: RECIPE.seed, phrasings: PRETRAIN_PHRASINGS });
    const fits = (k: number): boolean => s.qaSamples[k]!.input.length <= cfg.maxPositions;
    // up to L.segments segments spread over the unit; up to L.facts facts, each in up to L.phrasings
    // of its training phrasings (a different choice per fact); the other kinds in a few phrasings
    const L = RECIPE.lift.perUnit;
    const segments = s.segments.filter((_, k) => s.segments.length <= L.segments || k % Math.ceil(s.segments.length / L.segments) === 0);
    const byFact = new Map<string, Sample[]>();
    s.qaSamples.forEach((x, k) => {
      if (fits(k) && s.qa[k]!.kind === 'fact') byFact.set(s.qa[k]!.answer, [...(byFact.get(s.qa[k]!.answer) ?? []), x]);
    });
    const facts = shuffled([...byFact.values()], RECIPE.seed + pool.length).slice(0, L.facts).flatMap((xs, k) => shuffled(xs, RECIPE.seed + k).slice(0, L.phrasings));
    const others = s.qaSamples.filter((_, k) => fits(k) && s.qa[k]!.kind !== 'fact');
    const picked = [...facts, ...shuffled(others, RECIPE.seed + pool.length).slice(0, Math.max(8, 2 * segments.length))];
    qaCount += picked.length;
    factCount += facts.length;
    pool.push(...segments, ...picked);
  }
  return { pool, qaCount, factCount };
}

async function main(argv: string[]): Promise<number> {
  const minutes = Number(argv[argv.indexOf('--minutes') + 1] ?? Infinity) || Infinity;
  const what = argv[0] ?? 'all';
  // the card is rewritten from training.json alone: no data to read
  if (what === 'card') {
    writeRecord(JSON.parse(fs.readFileSync(path.join(DEFAULT_MODEL_DIR, 'training.json'), 'utf8')) as TrainingRecord);
    return 0;
  }

  const tok = tokenizerStep();
  const cfg = defaultConfig(tok);
  const eos = tok.tokenId('<|endoftext|>')!;
  const { docs, heldOut, packages } = data();
  log(`data: ${packages.length} packages (${packages.filter((p) => p.heldOut).length} held out), ${docs.length} training files, ${heldOut.length} held-out files`);
  const heldWindows = lmWindows(heldOut.map((d) => docIds(tok, d, eos)), RECIPE.lm.seqLen, 7).slice(0, 64);

  if (what === 'lm' || what === 'all') {
    const windows = lmWindows(docs.map((d) => docIds(tok, d, eos)), RECIPE.lm.seqLen, RECIPE.seed);
    log(`lm: ${windows.length} windows of ${RECIPE.lm.seqLen} tokens (${(windows.length * RECIPE.lm.seqLen / 1e6).toFixed(2)}M tokens)`);
    const order = (epoch: number) => shuffled(windows, RECIPE.seed + epoch);
    const perEpoch = Math.floor(windows.length / RECIPE.lm.batch);
    const cache = new Map<number, Sample[]>();
    await trainStage('lm', cfg, randomWeights(cfg, RECIPE.seed, 0.02), {
      ...RECIPE.lm,
      minutes,
      heldOut: heldWindows,
      next: (step) => {
        const epoch = Math.floor(step / perEpoch);
        if (!cache.has(epoch)) cache.set(epoch, order(epoch));
        const k = (step % perEpoch) * RECIPE.lm.batch;
        return cache.get(epoch)!.slice(k, k + RECIPE.lm.batch);
      },
    });
    if (what === 'lm') return 0;
  }

  if (what === 'lift' || what === 'all') {
    const base = loadStage('lm', cfg);
    if (!base) {
      log('lift: stage lm is not complete yet');
      return 1;
    }
    const { pool, qaCount, factCount } = await liftPool(tok, cfg, docs);
    const T = cfg.maxPositions;
    const order = shuffled(pool.filter((x) => x.input.length <= T).map((x) => ({ input: x.input, labels: x.labels, mask: x.mask })), RECIPE.seed);
    log(`lift: ${order.length} samples (${qaCount} QA, ${factCount} of them fact questions) from ${RECIPE.lift.packages} packages and ${RECIPE.lift.specs} generated specifications`);
    // packed rows of T positions (samples never split, each with its own positions and attention)
    const rows = packRows(order.map((x) => x.input.length), { rowTokens: T }).map((r) => r.map((i) => order[i]!));
    log(`lift: ${rows.length} packed rows of ${T} positions (${((100 * order.reduce((a, x) => a + x.input.length, 0)) / (rows.length * T)).toFixed(1)}% real tokens)`);
    const done = await trainStage('lift', cfg, base, {
      ...RECIPE.lift,
      seqLen: T,
      minutes,
      heldOut: heldWindows,
      next: () => [],
      packed: (step) => Array.from({ length: RECIPE.lift.batch }, (_, b) => rows[(step * RECIPE.lift.batch + b) % rows.length]!),
    });
    if (!done && !loadStage('lift', cfg)) return 0;
    if (what === 'lift') return 0;
  }

  if (what === 'export' || what === 'all') {
    const trained = loadStage('lift', cfg);
    if (!trained) {
      log('export: stage lift is not complete yet');
      return 1;
    }
    saveModelFolder(DEFAULT_MODEL_DIR, cfg, trained, JSON.parse(fs.readFileSync(path.join(WORK, 'tokenizer.json'), 'utf8')), 'F16');
    fs.writeFileSync(path.join(DEFAULT_MODEL_DIR, MODEL_LIFT_CONFIG), `${JSON.stringify(RECIPE.liftConfig, null, 2)}\n`);
    const ck = (n: string): Checkpoint => JSON.parse(fs.readFileSync(path.join(WORK, n, 'checkpoint.json'), 'utf8'));
    const stage = (n: string): TrainingRecord['stages']['lm'] => ({ losses: curve(ck(n).losses), heldOut: ck(n).heldOut ?? [], minutes: (ck(n).seconds ?? 0) / 60 });
    const count = (w: LlamaWeights): number => [w.embed, w.norm, ...w.layers.flatMap((l) => [l.inputNorm, l.postNorm, ...Object.values(l.linear)])].reduce((a, x) => a + x.data.length, 0);
    const record: TrainingRecord = {
      recipe: RECIPE,
      parameters: count(trained),
      packages,
      tokens: { lm: docs.reduce((a, d) => a + tok.encodeText(d.text).length, 0), heldOut: heldOut.reduce((a, d) => a + tok.encodeText(d.text).length, 0) },
      stages: { lm: stage('lm'), lift: stage('lift') },
    };
    writeRecord(record);
    log(`export: ${DEFAULT_MODEL_DIR}`);
  }

  if (what === 'eval' || what === 'all') {
    const record = JSON.parse(fs.readFileSync(path.join(DEFAULT_MODEL_DIR, 'training.json'), 'utf8')) as TrainingRecord;
    const learn = { preset: 'fast' as const, ...RECIPE.liftConfig.presets.fast, rank: RECIPE.liftConfig.rank, targets: RECIPE.liftConfig.targets };
    // the demo's spec and its hand-written questions
    const demo = path.join(ROOT, 'native', 'demo');
    const spec = JSON.parse(fs.readFileSync(path.join(demo, 'demo.json'), 'utf8')) as { document: string; questions: { question: string; expect: string }[] };
    const result = await knowledgeEval(DEFAULT_MODEL_DIR, { name: spec.document, text: fs.readFileSync(path.join(demo, spec.document), 'utf8'), questions: spec.questions, learn: { preset: 'fast', seed: 1 } });
    log(`eval: direct ${result.before.direct}/${result.asked} before learning, ${result.after.direct}/${result.asked} after; self-check ${result.selfCheck?.direct ?? 0}/${result.selfCheck?.asked ?? 0}`);
    writeRecord({ ...record, knowledge: { ...result, learn: { ...learn } } });
  }
  return 0;
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => process.exit(code));
