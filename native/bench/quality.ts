/**
 * `lift bench quality`: how much of a repository the adapter knows. A real repository that the
 * QA templates were not tuned on (by default `secretlint` from node_modules, one of the packages
 * held out from the default model's pre-training) is learned with the default model; questions
 * about it are asked in the held-out phrasings (never trained on) under five conditions with the
 * same model — base or LIFT, with nothing in the prompt, with the head and tail of the repository
 * as context or with BM25 retrieval — plus a test where the file holding the answer is kept out
 * of the prompt. Exact-match and contains-answer rates per question kind, with counts. Learning
 * runs the preset's passes (no time budget: the figures do not depend on how busy the machine is;
 * on an idle 2-core machine this repository fits the default budget whole).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Answerer } from '../lift/answer';
import { collect } from '../lift/corpus';
import { buildLongInput } from '../lift/input';
import { describeGates, learnWorkspace, type LearnRequest } from '../lift/pipeline';
import { generateQA, HELD_OUT, type QAPair } from '../lift/qa';
import { Bm25Index, type Chunk, chunkFiles } from '../lift/retrieve';
import { weightsAlone } from '../lift/store';
import { defaultModelDir } from '../model/default';
import { TextTokenizer } from '../model/tokenizer';

const KINDS: QAPair['kind'][] = ['definition', 'purpose', 'signature', 'file-contents', 'importers', 'section'];
const PER_KIND = 20;
const MAX_TOKENS = 64;

const normalize = (s: string): string => s.replace(/`/g, '').replace(/\s+/g, ' ').trim().replace(/\.$/, '').toLowerCase();

/** The strings an answer must contain to count: the fact the question is after, per kind. */
export function answerKeys(q: QAPair): string[] {
  const a = q.answer.replace(/`/g, '');
  switch (q.kind) {
    case 'definition':
      return [q.path];
    case 'purpose':
      return [a.split(/\s+/).slice(0, 5).join(' ')];
    case 'signature': {
      // the name and every parameter's name
      const name = /([\w$]+)\s*(?:=\s*(?:async\s*)?(?:function\s*)?)?(?:<[^>]*>)?\(/.exec(a)?.[1];
      const params = /\(([^)]*)\)/.exec(a)?.[1] ?? '';
      return [...new Set([name ?? a, ...params.split(',').map((p) => p.trim().split(/[\s:=?]/)[0]!.replace(/^\.\.\./, '')).filter((x) => /^[\w$]+$/.test(x))])];
    }
    case 'section':
      // the first three words of four letters or more in the section's text
      return (a.match(/[A-Za-z][\w-]{3,}/g) ?? [a]).slice(0, 3);
    case 'file-contents':
      return [...a.matchAll(/(?:defines |, )([\w$]+) \(/g)].map((m) => m[1]!).slice(0, 3);
    case 'importers':
      return a.replace(/^.* is imported by /, '').replace(/\.$/, '').split(', ').slice(0, 3);
    default:
      return [a];
  }
}

export function score(q: QAPair, output: string): { exact: boolean; contains: boolean } {
  const out = output.replace(/`/g, '');
  return { exact: normalize(output) === normalize(q.answer), contains: answerKeys(q).every((k) => out.includes(k)) };
}

/** At most `n` of each kind, spread over the list (deterministic). */
function pick(pairs: readonly QAPair[], n: number): QAPair[] {
  return KINDS.flatMap((k) => {
    const of = pairs.filter((p) => p.kind === k);
    const step = Math.max(1, of.length / n);
    return Array.from({ length: Math.min(n, of.length) }, (_, i) => of[Math.floor(i * step)]!);
  });
}

interface Tally {
  n: number;
  exact: number;
  contains: number;
}

export async function benchQuality(log: (line: string) => void = console.log, o: { repo?: string; include?: string[]; epochs?: number; stage2Epochs?: number; seed?: number; learn?: Partial<LearnRequest> } = {}): Promise<Record<string, unknown>> {
  const modelDir = defaultModelDir();
  if (!modelDir) throw new Error('the default model is not installed');
  const repo = o.repo ?? path.join(process.cwd(), 'node_modules', 'secretlint');
  const include = o.include ?? (o.repo ? undefined : ['module/**/*.js', 'README.md']);
  const { files } = await collect([repo], { include });
  const tok = TextTokenizer.fromFolder(modelDir);
  const input = buildLongInput(files, tok);
  const questions = pick(await generateQA(files, HELD_OUT), PER_KIND);
  log(`repository ${path.basename(repo)}: ${files.length} files, ${input.ids.length} tokens; ${questions.length} questions in held-out phrasings (${KINDS.map((k) => `${questions.filter((q) => q.kind === k).length} ${k}`).join(', ')})`);

  const adapterDir = path.join(process.cwd(), 'out', 'bench', 'quality-adapter');
  const started = performance.now();
  let lastLog = 0;
  const learned = await learnWorkspace(
    { roots: [repo], include, modelDir, adapterDir, seed: o.seed ?? 1, budgetMinutes: 0, ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.stage2Epochs ? { stage2Epochs: o.stage2Epochs } : {}), ...o.learn },
    {
      onProgress: (p) => {
        if (p.phase === 'train' && p.step && performance.now() - lastLog > 30_000) {
          lastLog = performance.now();
          log(`  learning: step ${p.step}/${p.totalSteps}, loss ${p.loss?.toFixed(3)}, ${Math.round(p.etaSeconds ?? 0)} s left`);
        }
      },
    },
  );
  const learnSeconds = (performance.now() - started) / 1000;
  log(`learned in ${learnSeconds.toFixed(0)} s: ${learned.steps} steps, ${learned.qaPairs} QA pairs (generator phrasings), loss ${learned.firstLoss.toFixed(2)} → ${learned.finalLoss.toFixed(2)}`);
  const check = learned.selfCheck;
  if (check) log(`self-check: ${check.direct}/${check.asked} from the weights alone, ${check.withRetrieval}/${check.asked} with retrieved context: ask ${weightsAlone(check) ? 'answers with this adapter without retrieval (the "LIFT, no context" row)' : 'retrieves (the "LIFT + BM25" row)'}`);
  if (check?.gate) log(`gate per layer: ${describeGates(check.gate)}`);

  // contexts: the head and tail of the long input (what fits without retrieval), or BM25 chunks
  const headTail: Chunk[] = [
    { path: 'head', startLine: 1, endLine: 1, text: tok.decode(input.ids.slice(0, 170)) },
    { path: 'tail', startLine: 1, endLine: 1, text: tok.decode(input.ids.slice(-170)) },
  ];
  const chunks = chunkFiles(files);
  const index = new Bm25Index(chunks);
  const retrieved = (q: QAPair, exclude?: string): Chunk[] =>
    (exclude ? new Bm25Index(chunks.filter((c) => c.path !== exclude)) : index).search(q.question, 8).map((h) => h.chunk);

  const answerer = await Answerer.load(modelDir);
  const conditions: { name: string; adapter: boolean; context: (q: QAPair) => Chunk[] }[] = [
    { name: 'base, no context', adapter: false, context: () => [] },
    { name: 'LIFT, no context (closed book)', adapter: true, context: () => [] },
    { name: 'base + head/tail', adapter: false, context: () => headTail },
    { name: 'base + BM25', adapter: false, context: (q) => retrieved(q) },
    { name: 'LIFT + head/tail', adapter: true, context: () => headTail },
    { name: 'LIFT + BM25', adapter: true, context: (q) => retrieved(q) },
    { name: 'closed book: base + BM25 without the answer\'s file', adapter: false, context: (q) => retrieved(q, q.path) },
    { name: 'closed book: LIFT + BM25 without the answer\'s file', adapter: true, context: (q) => retrieved(q, q.path) },
  ];
  const rows: Record<string, unknown>[] = [];
  const examples: Record<string, unknown>[] = [];
  for (const c of conditions) {
    await answerer.useAdapter(c.adapter ? adapterDir : undefined);
    answerer.takeGates();
    const byKind = new Map<string, Tally>(KINDS.map((k) => [k, { n: 0, exact: 0, contains: 0 }]));
    for (const q of questions) {
      const { text } = await answerer.answer(q.question, c.context(q), { maxTokens: MAX_TOKENS });
      const s = score(q, text);
      const t = byKind.get(q.kind)!;
      t.n++;
      t.exact += Number(s.exact);
      t.contains += Number(s.contains);
      if (examples.length < 60 && q === questions.find((x) => x.kind === q.kind)) examples.push({ condition: c.name, kind: q.kind, question: q.question, expected: q.answer, answer: text, ...s });
    }
    const all = [...byKind.values()].reduce((a, t) => ({ n: a.n + t.n, exact: a.exact + t.exact, contains: a.contains + t.contains }), { n: 0, exact: 0, contains: 0 });
    const gate = answerer.takeGates()?.map((g) => Number(g.toFixed(4)));
    rows.push({ condition: c.name, ...Object.fromEntries([...byKind].map(([k, t]) => [k, t])), all, ...(gate ? { gate } : {}) });
    log(`${c.name.padEnd(52)} ${[...byKind].map(([k, t]) => `${k} ${t.exact}/${t.contains}/${t.n}`).join('  ')}  | all: exact ${all.exact}/${all.n}, contains ${all.contains}/${all.n}${gate ? ` | gate ${gate.map((g) => g.toFixed(2)).join(' ')}` : ''}`);
  }
  await answerer.release();
  log('(per kind: exact / contains-answer / questions)');
  fs.rmSync(adapterDir, { recursive: true, force: true });
  return {
    repository: { name: path.basename(repo), files: files.length, tokens: input.ids.length, include },
    seed: o.seed ?? 1,
    adapterKind: o.learn?.adapterKind ?? 'lora',
    learning: { seconds: learnSeconds, steps: learned.steps, qaPairs: learned.qaPairs, firstLoss: learned.firstLoss, finalLoss: learned.finalLoss, passes: learned.passes, selfCheck: check && { asked: check.asked, direct: check.direct, withRetrieval: check.withRetrieval, retrieval: weightsAlone(check) ? 'off' : 'on', ...(check.gate ? { gate: check.gate } : {}) } },
    questions: questions.length,
    maxTokens: MAX_TOKENS,
    rows,
    examples,
  };
}
