/**
 * Reads a facts result of `npm run bench -- quality <document>` (one with the diagnostic
 * conditions) and prints what it says about two ideas (the second is now how `ask` asks, in
 * native/lift/match.ts; the first is not built):
 *   TSX_DISABLE_CACHE=1 node --import tsx native/bench/sureness.ts native/bench/results/quality-facts-spec-matched-2026-12-06.json
 * - how well the least sure token of an answer's value separates right from wrong answers
 *   (AUC; right and wrong answers at or above a log-probability threshold);
 * - how often the question matched to a learned fact is about the expected value, and how many
 *   of those the adapter answered.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { statesDirectly } from '../lift/facts';
import { generateQA } from '../lift/qa';
import { loadEvalSet, QUALITY_DIR } from './facts';

interface Answered {
  question: string;
  closedBook: string;
  closedBookLogprobs?: number[];
  matchedQuestion?: string;
  matchedAnswer?: string;
  matchedLogprobs?: number[];
}

/** The probability that a right answer's score is above a wrong one's (ties count half). */
export function auc(right: readonly number[], wrong: readonly number[]): number {
  let sum = 0;
  for (const r of right) for (const w of wrong) sum += r > w ? 1 : r === w ? 0.5 : 0;
  return sum / Math.max(1, right.length * wrong.length);
}

async function main(file: string, threshold = -0.3): Promise<void> {
  const result = (JSON.parse(fs.readFileSync(file, 'utf8')) as { results: { name: string; answers: Answered[] }[] }).results[0]!;
  const doc = loadEvalSet().documents.find((d) => d.file === result.name);
  if (!doc) throw new Error(`${result.name} is not a document of the question set`);
  const report = (label: string, answer: (a: Answered) => string | undefined, sure: (a: Answered) => number[] | undefined): void => {
    const rows = result.answers.flatMap((a, i) => {
      const text = answer(a);
      const lp = sure(a);
      return text === undefined || !lp?.length ? [] : [{ least: Math.min(...lp), right: statesDirectly(text, doc.questions[i]!.expect, doc.questions[i]!.also) }];
    });
    const right = rows.filter((r) => r.right).map((r) => r.least);
    const wrong = rows.filter((r) => !r.right).map((r) => r.least);
    const above = rows.filter((r) => r.least >= threshold);
    const rightAbove = above.filter((r) => r.right).length;
    const below = rows.length - above.length;
    const rightBelow = right.length - rightAbove;
    console.log(
      `${label}: ${right.length} right, ${wrong.length} wrong; least sure value token separates them with AUC ${auc(right, wrong).toFixed(2)}; ` +
        `at or above ${threshold}: ${rightAbove} right of ${above.length}; below: ${rightBelow} right of ${below}`,
    );
  };
  report('closed book, users\' words', (a) => a.closedBook, (a) => a.closedBookLogprobs);
  report('closed book, matched question', (a) => a.matchedAnswer, (a) => a.matchedLogprobs);
  // which fact each matched question teaches: the generator's pairs for the document
  const text = fs.readFileSync(path.join(QUALITY_DIR, doc.file), 'utf8');
  const pairs = (await generateQA([{ root: QUALITY_DIR, path: doc.file, file: path.join(QUALITY_DIR, doc.file), text, bytes: text.length }])).filter((p) => p.kind === 'fact');
  let matchRight = 0;
  let answered = 0;
  let answeredWrongMatch = 0;
  result.answers.forEach((a, i) => {
    const q = doc.questions[i]!;
    const taught = pairs.find((p) => p.question === a.matchedQuestion);
    const aboutIt = !!taught && [q.expect, ...(q.also ?? [])].some((v) => taught.value === v || statesDirectly(taught.answer, v));
    const right = a.matchedAnswer !== undefined && statesDirectly(a.matchedAnswer, q.expect, q.also);
    matchRight += Number(aboutIt);
    answered += Number(aboutIt && right);
    answeredWrongMatch += Number(!aboutIt && right);
  });
  console.log(`matched question about the expected value: ${matchRight} of ${result.answers.length}; of those answered right: ${answered}; answered right after a wrong match: ${answeredWrongMatch}`);
}

if (require.main === module) {
  const [file, threshold] = process.argv.slice(2);
  if (!file) {
    console.error('usage: TSX_DISABLE_CACHE=1 node --import tsx native/bench/sureness.ts <facts result .json> [threshold]');
    process.exit(2);
  }
  main(file, threshold === undefined ? undefined : Number(threshold)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
