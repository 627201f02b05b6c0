/**
 * `lift bench retrieval`: does retrieved context reach the default model's prompt, and is it the
 * right context? For each set of the quality eval (native/bench/quality/questions.json: the
 * documents and the code package), every question is retrieved for with
 *  - before: 40-line windows ranked by Bm25Index, a window in the prompt only whole, with half the
 *    positions kept for the answer (what answering did before token-sized chunks),
 *  - now: chunks sized to the model in the workspace's SearchIndex (what `ask` uses),
 * and put into the default model's prompt as `Answerer.answer` does. Reported per set: how many
 * prompts hold context (the answer's `sources` non-empty), how many hold the line the answer is
 * on, where the chunk holding it ranks (first, in the top 8), the search's median time; and, to
 * show what the answer's reservation costs, the answers' lengths and the context that fits when
 * half or a quarter of the 512 positions are kept for the answer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Answerer, formatPrompt } from '../lift/answer';
import { collect } from '../lift/corpus';
import { Bm25Index, type Chunk, chunkFiles, chunkTokensFor } from '../lift/retrieve';
import { defaultModelDir } from '../model/default';
import { loadConfig } from '../model/weights';
import { TextTokenizer } from '../model/tokenizer';
import { RetrievalIndexes } from '../server/indexes';
import { type EvalQuestion, loadEvalSet, QUALITY_DIR } from './facts';
import { benchTempDir } from './temp';

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (n: number, of: number): string => `${n}/${of} (${Math.round((100 * n) / Math.max(1, of))}%)`;

/** Whether a chunk holds the line the answer is on (and the file, for code). */
const holds = (q: EvalQuestion, file: string, c: { path: string; startLine: number; endLine: number }): boolean =>
  (q.path ?? file) === c.path && q.line !== undefined && c.startLine <= q.line && q.line <= c.endLine;

interface SetResult {
  name: string;
  questions: number;
  files: number;
  chunks: { before: number; now: number };
  /** Prompts with any retrieved context (Answer.sources non-empty). */
  withContext: { before: number; now: number };
  /** Prompts whose context holds the answer's line. */
  answerInContext: { before: number; now: number };
  /** The answer's chunk ranked first / in the top 8 of the search. */
  first: { before: number; now: number };
  top8: { before: number; now: number };
  searchMs: { before: number; now: number };
  indexBuildSeconds: number;
  /** Answers of the default model whose `sources` list retrieved context (when answers are asked for). */
  answersWithSources?: number;
}

export async function benchRetrieval(log: (line: string) => void = console.log, o: { answers?: boolean } = {}): Promise<Record<string, unknown>> {
  const modelDir = defaultModelDir();
  if (!modelDir) throw new Error('the default model is not installed');
  const tok = TextTokenizer.fromFolder(modelDir);
  const { maxPositions } = loadConfig(modelDir);
  const set = loadEvalSet();
  const sets: { name: string; roots: string[]; file: string; questions: EvalQuestion[] }[] = [
    ...set.documents.map((d) => ({ name: d.file, roots: [path.join(QUALITY_DIR, d.file)], file: d.file, questions: d.questions })),
    { name: `${set.code.package} (code)`, roots: [path.join(process.cwd(), 'node_modules', set.code.package)], file: '', questions: set.code.questions },
  ];
  log(`default model: ${maxPositions} positions; chunks of at most ${chunkTokensFor(maxPositions)} tokens; the answer keeps ${Math.floor(maxPositions / 4)} (a quarter)`);
  const results: SetResult[] = [];
  const lengths: { tokens: number; stop: string }[] = [];
  const fitHalf: number[] = [];
  const fitQuarter: number[] = [];
  /** Prompts whose context holds the answer's line when half the positions are kept for the answer. */
  let answerInHalf = 0;
  /** The chunks the former prompt took: whole ones only, within what half the positions left. */
  const wholeChunksThatFit = (question: string, chunks: readonly Chunk[]): Chunk[] => {
    const reserve = Math.min(256, Math.floor(maxPositions / 2));
    let budget = maxPositions - reserve - formatPrompt(tok, maxPositions, question, [], reserve).ids.length - 8;
    return chunks.filter((c) => {
      const n = tok.encodeText(`<<< ${c.path}:${c.startLine}-${c.endLine} >>>\n${c.text}\n\n`).length;
      if (n > budget) return false;
      budget -= n;
      return true;
    });
  };
  const answerer = o.answers === false ? undefined : await Answerer.load(modelDir);
  const tmp = benchTempDir('lift-bench-retrieval-');
  try {
    for (const s of sets) {
      const { files } = await collect(s.roots);
      const windows = chunkFiles(files);
      const bm25 = new Bm25Index(windows);
      const indexes = new RetrievalIndexes(() => undefined);
      const request = { roots: s.roots, model: modelDir, store: path.join(tmp, s.name.replace(/\W+/g, '-')) };
      const t0 = performance.now();
      const index = await indexes.open(request);
      const indexBuildSeconds = (performance.now() - t0) / 1000;
      const r: SetResult = {
        name: s.name,
        questions: s.questions.length,
        files: files.length,
        chunks: { before: windows.length, now: index.size.chunks },
        withContext: { before: 0, now: 0 },
        answerInContext: { before: 0, now: 0 },
        first: { before: 0, now: 0 },
        top8: { before: 0, now: 0 },
        searchMs: { before: 0, now: 0 },
        indexBuildSeconds,
      };
      const times = { before: [] as number[], now: [] as number[] };
      for (const q of s.questions) {
        let t = performance.now();
        const before = bm25.search(q.question, 8).map((h) => h.chunk);
        times.before.push(performance.now() - t);
        t = performance.now();
        const now = (await indexes.retrieve(request, q.question, 8)).chunks;
        times.now.push(performance.now() - t);
        for (const [which, chunks] of [['before', before], ['now', now]] as const) {
          const rank = chunks.findIndex((c) => holds(q, s.file, c));
          r.first[which] += Number(rank === 0);
          r.top8[which] += Number(rank >= 0);
          // the prompt as Answerer.answer builds it now; before, a chunk went in only whole, with half the positions kept for the answer
          const used = which === 'now' ? formatPrompt(tok, maxPositions, q.question, chunks, Math.floor(maxPositions / 4)).used : wholeChunksThatFit(q.question, chunks);
          r.withContext[which] += Number(used.length > 0);
          r.answerInContext[which] += Number(used.some((c) => holds(q, s.file, c) || c.text.includes(q.expect)));
        }
        const tokensOf = (chunks: readonly Chunk[]): number => chunks.reduce((a, c) => a + tok.encodeText(c.text).length, 0);
        const half = formatPrompt(tok, maxPositions, q.question, now, Math.floor(maxPositions / 2)).used;
        fitHalf.push(tokensOf(half));
        fitQuarter.push(tokensOf(formatPrompt(tok, maxPositions, q.question, now, Math.floor(maxPositions / 4)).used));
        answerInHalf += Number(half.some((c) => holds(q, s.file, c) || c.text.includes(q.expect)));
        if (answerer) {
          const a = await answerer.answer(q.question, now, { maxTokens: 256 });
          lengths.push({ tokens: tok.encodeText(a.text).length, stop: a.stop });
          // what `ask` reports: the sources of the answer itself
          r.answersWithSources = (r.answersWithSources ?? 0) + Number(a.sources.length > 0);
        }
      }
      r.searchMs = { before: median(times.before), now: median(times.now) };
      results.push(r);
      log(
        `${s.name}: ${r.questions} questions, ${r.files} files; chunks ${r.chunks.before} → ${r.chunks.now} (index built in ${indexBuildSeconds.toFixed(1)} s)\n` +
          `  context in the prompt:        before ${pct(r.withContext.before, r.questions)}, now ${pct(r.withContext.now, r.questions)}${r.answersWithSources === undefined ? '' : ` (answers with sources: ${pct(r.answersWithSources, r.questions)})`}\n` +
          `  the answer's line in context: before ${pct(r.answerInContext.before, r.questions)}, now ${pct(r.answerInContext.now, r.questions)}\n` +
          `  its chunk ranked first:       before ${pct(r.first.before, r.questions)}, now ${pct(r.first.now, r.questions)}; in the top 8: before ${pct(r.top8.before, r.questions)}, now ${pct(r.top8.now, r.questions)}\n` +
          `  retrieval median:             before ${r.searchMs.before.toFixed(2)} ms (search only), now ${r.searchMs.now.toFixed(2)} ms (search and reading the chunks' files)`,
      );
    }
  } finally {
    await answerer?.release();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const all = (k: 'withContext' | 'answerInContext' | 'first' | 'top8', w: 'before' | 'now'): number => results.reduce((a, r) => a + r[k][w], 0);
  const n = results.reduce((a, r) => a + r.questions, 0);
  log(`all ${n} questions: context in the prompt before ${pct(all('withContext', 'before'), n)}, now ${pct(all('withContext', 'now'), n)}; the answer's line in context before ${pct(all('answerInContext', 'before'), n)}, now ${pct(all('answerInContext', 'now'), n)}`);
  const reservation = {
    contextTokensMedian: { halfForTheAnswer: median(fitHalf), quarterForTheAnswer: median(fitQuarter) },
    answerInContext: { halfForTheAnswer: answerInHalf, quarterForTheAnswer: all('answerInContext', 'now'), of: n },
    ...(lengths.length
      ? {
          answerTokens: { median: median(lengths.map((l) => l.tokens)), p90: [...lengths.map((l) => l.tokens)].sort((a, b) => a - b)[Math.floor(lengths.length * 0.9)], max: Math.max(...lengths.map((l) => l.tokens)) },
          stoppedBeforeTheLimit: lengths.filter((l) => l.stop === 'stop-token').length,
          answers: lengths.length,
        }
      : {}),
  };
  log(
    `the answer's room: context that fits (median tokens) with half the positions kept for the answer ${reservation.contextTokensMedian.halfForTheAnswer}, with a quarter ${reservation.contextTokensMedian.quarterForTheAnswer}; the answer's line in context ${pct(answerInHalf, n)} and ${pct(all('answerInContext', 'now'), n)}` +
      (reservation.answerTokens ? `; answers (asked for up to 256, given ${Math.floor(maxPositions / 4)}): median ${reservation.answerTokens.median} tokens, 90th percentile ${reservation.answerTokens.p90}, ${reservation.stoppedBeforeTheLimit}/${reservation.answers} ended on their own` : ''),
  );
  return { maxPositions, chunkTokens: chunkTokensFor(maxPositions), sets: results, reservation };
}

