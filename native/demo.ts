/**
 * `lift demo`: the default model is asked about a bundled spec it has never seen (closed book:
 * no file in the prompt), learns the spec with LIFT, and is asked again. The questions are
 * written by hand, in phrasings learning never trains; an answer counts when its first sentence
 * states the expected value.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TrainerClient } from './client';
import type { LearnProgress } from './protocol';
import { statesDirectly } from './lift/facts';
import { alsoLearnedText } from './lift/match';

interface DemoSpec {
  document: string;
  learn: { preset?: 'fast' | 'thorough'; epochs?: number; lr?: number; rank?: number; seed?: number };
  questions: { question: string; expect: string }[];
}

export function demoDir(from = __dirname): string | undefined {
  return [path.join(from, '..', 'native', 'demo'), path.join(from, 'demo')].find((d) => fs.existsSync(path.join(d, 'demo.json')));
}

export async function runDemo(client: TrainerClient, o: { model: string; print: (line: string) => void; onProgress: (p: LearnProgress) => void; done: () => void }): Promise<{ before: number; after: number; total: number }> {
  const dir = demoDir();
  if (!dir) throw new Error('the demo sample (native/demo) is not installed');
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'demo.json'), 'utf8')) as DemoSpec;
  const docs = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-demo-'));
  // also on an interrupted run: the CLI stops on SIGINT/SIGTERM without waiting for this promise
  const cleanup = (): void => fs.rmSync(docs, { recursive: true, force: true });
  process.once('exit', cleanup);
  try {
    fs.copyFileSync(path.join(dir, spec.document), path.join(docs, spec.document));
    const round = async (title: string, adapterDir?: string): Promise<number> => {
      o.print(`\n${title}`);
      let right = 0;
      for (const q of spec.questions) {
        const r = await client.ask({ question: q.question, roots: [docs], model: o.model, adapterDir, retrieve: false, maxTokens: 40 });
        const ok = statesDirectly(r.text, q.expect);
        if (ok) right++;
        const answer = r.text.replace(/\s+/g, ' ').trim().slice(0, 100);
        const asked = `${r.askedAs ? `\n      asked as the learned question: ${r.askedAs}` : ''}${r.alsoLearned?.length ? `\n      other learned facts near it: ${alsoLearnedText(r.alsoLearned)}` : ''}`;
        o.print(`  ${ok ? '✓' : '✗'} ${q.question}${asked}\n      ${answer || '(no answer)'}\n      expected first: ${q.expect}; ${r.usedAdapter ? 'from learned knowledge' : 'base model'}, no file in the prompt`);
      }
      o.print(`  ${right}/${spec.questions.length} right`);
      return right;
    };
    o.print(`The demo document: ${spec.document} (fictional, so no model has seen it). The questions are phrased by hand, unlike anything learning trains on; ✓ means the answer's first sentence states the fact.`);
    const before = await round('Before learning: the default model, closed book');
    o.print(`\nLearning ${spec.document} (LIFT: contextualized segments, then segments + synthetic QA)…`);
    const adapterDir = path.join(docs, '.adapter');
    const learned = await client.learn({ roots: [path.join(docs, spec.document)], model: o.model, adapterDir, ...spec.learn }, o.onProgress);
    o.done();
    o.print(`learned ${learned.tokens} tokens: ${learned.facts ?? 0} facts, ${learned.samples} samples (${learned.qaPairs} QA), ${learned.steps} steps, loss ${learned.firstLoss.toFixed(2)} → ${learned.finalLoss.toFixed(2)}`);
    if (learned.selfCheck?.asked) o.print(`self-check: answers ${learned.selfCheck.direct} of ${learned.selfCheck.asked} check questions (never trained on) with the fact first`);
    const after = await round('After learning: the same model with its new adapter, closed book', adapterDir);
    o.print(`\nBefore: ${before}/${spec.questions.length}. After: ${after}/${spec.questions.length}, from knowledge now in the adapter's weights.`);
    return { before, after, total: spec.questions.length };
  } finally {
    cleanup();
    process.off('exit', cleanup);
  }
}
