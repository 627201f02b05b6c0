/**
 * `lift bench match`: how often `ask`'s match reaches the fact a quality question asks for, with
 * no model (on documents the quality bench's "as ask asks" row has equalled this count in every
 * run so far; on code it answered 4 where 5 were matched).
 * Each question set's files go through the QA generator as learning does; their learned answers
 * feed the matcher with each fact's value (its kind counts) and without (words alone, as for an
 * adapter learned before values were kept). Also counted: how many asked values the generator
 * made a fact of at all, the most any match can reach.
 */
import * as path from 'node:path';
import { collect } from '../lift/corpus';
import { statesDirectly } from '../lift/facts';
import { learnedAnswers, QuestionMatcher } from '../lift/match';
import { generateQA } from '../lift/qa';
import { type EvalQuestion, loadEvalSet, QUALITY_DIR, scoreAnswer } from './facts';

export interface MatchShare {
  name: string;
  questions: number;
  /** Questions matched to a fact whose answer states the expected value first. */
  matched: number;
  /** The same, matched by words alone (no value kinds). */
  wordsOnly: number;
  /** Questions whose best match misses but one of the other facts shown near it (`also`) states the expected value. */
  nearby: number;
  /** Other facts shown per question, on average. */
  shownPerQuestion: number;
  /** Questions whose expected value is the value of some generated fact. */
  extracted: number;
}

/** The match's share on one question set whose files are under `roots`. */
export async function matchShare(name: string, roots: string[], questions: readonly EvalQuestion[]): Promise<MatchShare> {
  const { files } = await collect(roots);
  const qa = await generateQA(files);
  const texts = new Map(files.map((f) => [f.path, f.text]));
  const answers = learnedAnswers(qa, (p) => texts.get(p));
  const answerOf = new Map<string, string>();
  for (const p of qa) if (p.kind === 'fact' && !p.check && !answerOf.has(p.question)) answerOf.set(p.question, p.answer);
  const right = (q: EvalQuestion, learned: string | undefined): boolean => {
    const answer = learned === undefined ? undefined : answerOf.get(learned);
    return answer !== undefined && scoreAnswer(q, answer, questions).direct;
  };
  // a question that is the learned one already is asked as written: the same
  const count = (matcher: QuestionMatcher): number => questions.filter((q) => right(q, matcher.nearest(q.question)?.question)).length;
  const withValues = new QuestionMatcher(answers);
  // each question's match once: the fact asked and the others shown near it
  const nearest = questions.map((q) => ({ q, m: withValues.nearest(q.question) }));
  return {
    name,
    questions: questions.length,
    matched: nearest.filter(({ q, m }) => right(q, m?.question)).length,
    nearby: nearest.filter(({ q, m }) => m && !right(q, m.question) && m.also.some((a) => right(q, a.question))).length,
    shownPerQuestion: nearest.reduce((n, { m }) => n + (m?.also.length ?? 0), 0) / Math.max(1, questions.length),
    wordsOnly: count(new QuestionMatcher(answers.map(({ value: _, ...a }) => a))),
    extracted: questions.filter((q) => qa.some((p) => p.kind === 'fact' && p.value !== undefined && statesDirectly(p.value, q.expect, q.also))).length,
  };
}

/** Every question set of native/bench/quality (or the one named: a document's file name, or `code`). */
export async function benchMatch(log: (line: string) => void = console.log, only?: string): Promise<MatchShare[]> {
  const set = loadEvalSet();
  const sets = [
    ...set.documents.map((d) => ({ name: d.file, roots: [path.join(QUALITY_DIR, d.file)], questions: d.questions })),
    { name: 'code', roots: [path.join(process.cwd(), 'node_modules', set.code.package)], questions: set.code.questions },
  ].filter((s) => !only || s.name === only);
  if (!sets.length) throw new Error(`no question set "${only}" (the documents of native/bench/quality, or code)`);
  const out: MatchShare[] = [];
  for (const s of sets) {
    const r = await matchShare(s.name, s.roots, s.questions);
    log(`${r.name}: matched to the asked fact ${r.matched}/${r.questions} (words alone ${r.wordsOnly}), among the other facts shown near it ${r.nearby} more (${r.shownPerQuestion.toFixed(1)} shown per question); asked values the generator made a fact of ${r.extracted}/${r.questions}`);
    out.push(r);
  }
  return out;
}
