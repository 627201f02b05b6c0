/**
 * Extra QA pairs written by the model itself (LIFT v3 style), for instruct models: each chunk
 * of the workspace goes into the answering prompt with a request for one question and its
 * answer; a pair is kept only when it is grounded — every number and identifier of the answer
 * appears in the chunk verbatim, and most of its words do. The model's output is untrusted
 * text: it is parsed, never executed.
 */
import type { Answerer } from './answer';
import type { QAPair } from './qa';
import type { Chunk } from './retrieve';

export const QA_REQUEST = 'Write one question that a developer could ask about the context above, and its answer taken from the context, exactly in this form:\nQ: <question>\nA: <answer>';

/** The Q:/A: pair in a model's reply, if it has one. */
export function parseQA(reply: string): { question: string; answer: string } | undefined {
  const m = /(?:^|\n)\s*Q:\s*(.+?)\s*\n\s*A:\s*([\s\S]+?)\s*(?:\n\s*Q:|$)/.exec(reply);
  if (!m) return undefined;
  const question = m[1]!.trim();
  const answer = m[2]!.trim();
  return question.length >= 8 && question.length <= 300 && answer.length >= 2 && answer.length <= 1200 ? { question, answer } : undefined;
}

const WORD = /[A-Za-z_$][\w$]*|\d[\w.:-]*/g;
/** Identifiers (camelCase, snake_case, with digits) and numbers: what a model may not invent. */
const exact = (w: string): boolean => /\d/.test(w) || /[a-z][A-Z]|_/.test(w);
const STOP = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'are', 'was', 'from', 'its', 'into', 'when', 'which', 'what', 'has', 'have', 'can', 'will', 'not', 'but', 'you', 'your', 'use', 'used', 'uses', 'all', 'any', 'one', 'each', 'also', 'there', 'their', 'they', 'them', 'then', 'than', 'returns', 'return', 'function', 'file', 'code']);

/** Whether an answer is grounded in the chunk (see the module comment). */
export function grounded(answer: string, context: string, minShare = 0.8): boolean {
  const words = answer.match(WORD) ?? [];
  const have = new Set((context.match(WORD) ?? []).map((w) => w.toLowerCase()));
  if (words.some((w) => exact(w) && !context.includes(w))) return false;
  const content = words.filter((w) => w.length >= 3 && !STOP.has(w.toLowerCase()));
  if (content.length === 0) return false;
  return content.filter((w) => have.has(w.toLowerCase())).length / content.length >= minShare;
}

export interface ModelQAReport {
  asked: number;
  kept: number;
}

/** Asks the (base) model for one pair per chunk, at most `max` chunks; returns the grounded ones. */
export async function modelQA(
  answerer: Answerer,
  chunks: readonly Chunk[],
  o: { max: number; isCancelled?: () => boolean; onProgress?: (done: number, total: number) => void },
): Promise<{ pairs: QAPair[]; report: ModelQAReport }> {
  const pairs: QAPair[] = [];
  const seen = new Set<string>();
  const todo = chunks.slice(0, o.max);
  for (const [i, c] of todo.entries()) {
    if (o.isCancelled?.()) break;
    const { text } = await answerer.answer(QA_REQUEST, [c], { maxTokens: 160, temperature: 0 });
    o.onProgress?.(i + 1, todo.length);
    const qa = parseQA(text);
    if (!qa || seen.has(qa.question.toLowerCase()) || !grounded(qa.answer, c.text)) continue;
    seen.add(qa.question.toLowerCase());
    pairs.push({ kind: 'section', question: qa.question, answer: qa.answer, path: c.path, line: c.startLine, byModel: true });
  }
  return { pairs, report: { asked: todo.length, kept: pairs.length } };
}
