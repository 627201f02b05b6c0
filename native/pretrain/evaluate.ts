/**
 * How well a model learns a document it never saw: a document of several facts per paragraph is
 * learned with LIFT (`learnWorkspace`, as the product does), then questions written by hand — in
 * phrasings the QA generator never produces — are asked closed book (no file in the prompt)
 * before and after learning. An answer is *direct* when its first sentence states the value.
 * The self-check's figure (generator-shaped questions kept out of training) is reported beside it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Answerer } from '../lift/answer';
import { statesDirectly } from '../lift/facts';
import { learnWorkspace, type LearnRequest } from '../lift/pipeline';

export interface KnowledgeQuestion {
  question: string;
  expect: string;
}

export interface KnowledgeResult {
  document: string;
  tokens: number;
  facts: number;
  steps: number;
  seconds: number;
  asked: number;
  before: { direct: number; contains: number };
  after: { direct: number; contains: number };
  selfCheck?: { asked: number; direct: number };
  examples: { question: string; answer: string; expect: string }[];
}

/** Learns `text` (saved as `name`) with `modelDir` and asks `questions` before and after (closed book). */
export async function knowledgeEval(modelDir: string, o: { name: string; text: string; questions: readonly KnowledgeQuestion[]; learn: Partial<LearnRequest> }): Promise<KnowledgeResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-eval-'));
  const answerer = await Answerer.load(modelDir);
  try {
    const docs = path.join(tmp, 'docs');
    fs.mkdirSync(docs);
    fs.writeFileSync(path.join(docs, o.name), o.text);
    const examples: KnowledgeResult['examples'] = [];
    const ask = async (keep: boolean): Promise<{ direct: number; contains: number }> => {
      const r = { direct: 0, contains: 0 };
      for (const q of o.questions) {
        const { text } = await answerer.answer(q.question, [], { maxTokens: 32 });
        r.direct += Number(statesDirectly(text, q.expect));
        r.contains += Number(text.includes(q.expect));
        if (keep && examples.length < 8) examples.push({ question: q.question, answer: text.trim(), expect: q.expect });
      }
      return r;
    };
    const before = await ask(false);
    const started = Date.now();
    const summary = await learnWorkspace({ roots: [path.join(docs, o.name)], modelDir, adapterDir: path.join(tmp, 'adapter'), ...o.learn });
    const seconds = (Date.now() - started) / 1000;
    await answerer.useAdapter(path.join(tmp, 'adapter'));
    const after = await ask(true);
    return {
      document: o.name,
      tokens: summary.tokens,
      facts: summary.facts ?? 0,
      steps: summary.steps,
      seconds,
      asked: o.questions.length,
      before,
      after,
      selfCheck: summary.selfCheck && { asked: summary.selfCheck.asked, direct: summary.selfCheck.direct },
      examples,
    };
  } finally {
    await answerer.release();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
