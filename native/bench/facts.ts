/**
 * `lift bench quality` (first part): does the model answer with the fact? Documents and a code
 * package that the generator was not written against (native/bench/quality/, questions written
 * by hand in phrasings the generator never produces) are each learned with the default model and
 * its default settings, as `learn` does; then every question is asked before and after learning,
 * closed book (nothing in the prompt) and with retrieval. Reported: *direct* (the expected value
 * in the answer's first sentence), *contains* (anywhere in the answer), *other subject* (the first
 * sentence states another question's value instead) and how many prompts had retrieved context.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Answerer } from '../lift/answer';
import { statesDirectly } from '../lift/facts';
import { learnWorkspace, type LearnRequest } from '../lift/pipeline';
import { conceptQuestions } from '../lift/prose';
import { QuestionMatcher } from '../lift/match';
import { defaultModelDir } from '../model/default';
import { RetrievalIndexes } from '../server/indexes';
import { benchTempDir } from './temp';

export interface EvalQuestion {
  question: string;
  expect: string;
  also?: string[];
  subject?: string;
  attribute?: string;
  line?: number;
  path?: string;
}

export interface EvalSet {
  documents: { file: string; questions: EvalQuestion[] }[];
  code: { package: string; version?: string; questions: EvalQuestion[] };
}

export const QUALITY_DIR = path.join(process.cwd(), 'native', 'bench', 'quality');

export function loadEvalSet(dir = QUALITY_DIR): EvalSet {
  return JSON.parse(fs.readFileSync(path.join(dir, 'questions.json'), 'utf8')) as EvalSet;
}

export interface Score {
  n: number;
  direct: number;
  contains: number;
  /** First sentence holds another question's value and not this one's. */
  otherSubject: number;
  /** Prompts that held retrieved context. */
  withContext: number;
}

const accepted = (q: EvalQuestion): string[] => [q.expect, ...(q.also ?? [])];

/** Scores one answer against its question and the other questions' values. */
export function scoreAnswer(q: EvalQuestion, answer: string, all: readonly EvalQuestion[]): { direct: boolean; contains: boolean; otherSubject: boolean } {
  const direct = statesDirectly(answer, q.expect, q.also);
  const text = answer.replace(/`/g, '');
  const contains = accepted(q).some((v) => text.includes(v));
  const mine = accepted(q);
  const others = [...new Set(all.flatMap(accepted))].filter((v) => !mine.some((m) => m.includes(v) || v.includes(m)));
  const otherSubject = !direct && others.some((v) => statesDirectly(answer, v));
  return { direct, contains, otherSubject };
}

/** The kind of value an attribute of the question set names, as the prose extractor types values. */
const VALUE_TYPES: [RegExp, string][] = [
  [/\bport\b/, 'number'],
  [/^(owner|maintainer|team)$/, 'name'],
  [/\bcode\b/, 'code'],
  [/\b(retry|probe|restart) count\b|^retries$/, 'count'],
  [/\b(timeout|lifetime|retention|age|period|deadline|interval|window|staleness)\b/, 'duration'],
  [/\b(size|batch) ?limit\b/, 'size'],
  [/^path$/, 'path'],
  [/^schedule$/, 'time'],
  [/^version$/, 'version'],
];

/**
 * The question asked in the generator's own words, from the question set's subject and attribute
 * ("Which port does the ingest gateway listen on?"): a diagnostic that separates what the weights
 * hold from whether the model understands a user's phrasing. Not a user's condition.
 */
export function generatorPhrasing(q: EvalQuestion): string | undefined {
  if (!q.subject || !q.attribute) return undefined;
  const subject = /^[A-Z]/.test(q.subject) ? q.subject : `the ${q.subject}`;
  const type = VALUE_TYPES.find(([re]) => re.test(q.attribute!))?.[1];
  const noun = type === 'number' ? 'port' : undefined;
  const asked = type ? conceptQuestions(subject, { type, value: q.expect, noun, kind: type === 'name' ? 'team' : undefined, sentence: q.attribute })[0] : undefined;
  return asked ?? `What is the ${q.attribute} of ${subject}?`;
}

/** Learns `roots` into a temporary adapter and asks `questions` in each condition. */
async function evaluate(
  name: string,
  roots: string[],
  questions: EvalQuestion[],
  log: (line: string) => void,
  o: { include?: string[]; learn?: Partial<LearnRequest> },
): Promise<Record<string, unknown>> {
  const modelDir = defaultModelDir();
  if (!modelDir) throw new Error('the default model is not installed');
  const tmp = benchTempDir('lift-bench-facts-');
  const answerer = await Answerer.load(modelDir);
  try {
    // retrieval as `ask` does it: the workspace's index, chunks sized to the model
    const indexes = new RetrievalIndexes(() => undefined);
    const request = { roots, model: modelDir, store: path.join(tmp, 'store'), include: o.include };
    await indexes.open(request);
    const ask = async (adapter: string | undefined, retrieval: boolean, phrasing: (q: EvalQuestion) => string = (q) => q.question): Promise<{ score: Score; answers: string[]; sureness: number[][]; gate?: number[] }> => {
      await answerer.useAdapter(adapter);
      answerer.takeGates();
      const score: Score = { n: 0, direct: 0, contains: 0, otherSubject: 0, withContext: 0 };
      const answers: string[] = [];
      const sureness: number[][] = [];
      for (const q of questions) {
        const chunks = retrieval ? (await indexes.retrieve(request, q.question, 8)).chunks : [];
        const { text, sources, logprobs, ends } = await answerer.answer(phrasing(q), chunks, { maxTokens: 40 });
        // the log-probability of each token of the answer's value (those that start before its citation)
        const cite = text.indexOf(' (') < 0 ? text.length : text.indexOf(' (');
        sureness.push(logprobs.filter((_, i) => (ends[i - 1] ?? 0) < cite).map((l) => Number(l.toFixed(3))));
        const s = scoreAnswer(q, text, questions);
        score.n++;
        score.direct += Number(s.direct);
        score.contains += Number(s.contains);
        score.otherSubject += Number(s.otherSubject);
        score.withContext += Number(sources.length > 0);
        answers.push(text.trim());
      }
      const gate = answerer.takeGates()?.map((g) => Number(g.toFixed(4)));
      return { score, answers, sureness, ...(gate ? { gate } : {}) };
    };
    const before = await ask(undefined, false);
    const started = performance.now();
    let lastLog = 0;
    const adapterDir = path.join(tmp, 'adapter');
    const learned = await learnWorkspace(
      { roots, include: o.include, modelDir, adapterDir, seed: 1, ...o.learn },
      {
        onProgress: (p) => {
          if (p.phase === 'train' && p.step && performance.now() - lastLog > 60_000) {
            lastLog = performance.now();
            log(`  ${name}: step ${p.step}/${p.totalSteps}, loss ${p.loss?.toFixed(3)}, ${Math.round(p.etaSeconds ?? 0)} s left`);
          }
        },
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const closed = await ask(adapterDir, false);
    const retrieved = await ask(adapterDir, true);
    const canonical = await ask(adapterDir, false, (q) => generatorPhrasing(q) ?? q.question);
    // as `ask` asks: matched to the learned question of a fact (the file learning wrote beside the adapter)
    const matcher = QuestionMatcher.load(adapterDir);
    const matchedQuestions = matcher && new Map(questions.map((q) => [q, matcher.match(q.question)?.question ?? q.question]));
    const matched = matchedQuestions && (await ask(adapterDir, false, (q) => matchedQuestions.get(q)!));
    const fmt = (s: Score, gate?: number[]): string =>
      `direct ${s.direct}/${s.n}, contains ${s.contains}/${s.n}, other subject ${s.otherSubject}/${s.n}${s.withContext ? `, context in ${s.withContext}/${s.n}` : ''}${gate ? `; gate ${gate.map((g) => g.toFixed(2)).join(' ')}` : ''}`;
    log(`${name}: ${learned.files} files, ${learned.tokens} tokens, ${learned.facts ?? 0} facts, ${learned.qaPairs} QA pairs; learned in ${seconds.toFixed(0)} s (${learned.steps} steps); self-check ${learned.selfCheck?.direct ?? 0}/${learned.selfCheck?.asked ?? 0}`);
    log(`  before learning, closed book: ${fmt(before.score)}`);
    log(`  LIFT, closed book, users' words: ${fmt(closed.score, closed.gate)}`);
    log(`  LIFT + retrieval:             ${fmt(retrieved.score, retrieved.gate)}`);
    log(`  LIFT, closed book, asked in the generator's phrasing (diagnostic): ${fmt(canonical.score)}`);
    if (matched) log(`  LIFT, closed book, as ask asks (matched to a learned question): ${fmt(matched.score)}`);
    return {
      name,
      adapterKind: o.learn?.adapterKind ?? 'lora',
      tokens: learned.tokens,
      facts: learned.facts,
      qaPairs: learned.qaPairs,
      steps: learned.steps,
      learnSeconds: seconds,
      selfCheck: learned.selfCheck && { asked: learned.selfCheck.asked, direct: learned.selfCheck.direct },
      before: before.score,
      closedBook: closed.score,
      retrieval: retrieved.score,
      generatorPhrasing: canonical.score,
      ...(matched ? { matchedQuestion: matched.score } : {}),
      ...(closed.gate ? { gate: { closedBook: closed.gate, retrieval: retrieved.gate } } : {}),
      // every question's answer in each condition after learning, for reading what users would see
      answers: questions.map((q, i) => ({ question: q.question, expect: q.expect, closedBook: closed.answers[i], closedBookLogprobs: closed.sureness[i], retrieval: retrieved.answers[i], generatorPhrasing: generatorPhrasing(q), generatorAnswer: canonical.answers[i], ...(matchedQuestions && matched ? { matchedQuestion: matchedQuestions.get(q), matchedAnswer: matched.answers[i], matchedLogprobs: matched.sureness[i] } : {}) })),
    };
  } finally {
    await answerer.release();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function benchFacts(log: (line: string) => void = console.log, o: { only?: string; learn?: Partial<LearnRequest> } = {}): Promise<Record<string, unknown>[]> {
  const set = loadEvalSet();
  const out: Record<string, unknown>[] = [];
  for (const d of set.documents) {
    if (o.only && o.only !== d.file) continue;
    out.push(await evaluate(d.file, [path.join(QUALITY_DIR, d.file)], d.questions, log, { learn: o.learn }));
  }
  if (!o.only || o.only === 'code') {
    const root = path.join(process.cwd(), 'node_modules', set.code.package);
    out.push(await evaluate(`${set.code.package} (code)`, [root], set.code.questions, log, { learn: o.learn }));
  }
  return out;
}
