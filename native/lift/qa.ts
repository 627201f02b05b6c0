/**
 * Synthetic question-answer pairs that mirror what users ask about code and documents, made
 * exactly from the source (answers are grounded: quoted verbatim where they quote). Several
 * phrasings per fact, so the model learns the fact rather than one sentence.
 */
import type { CorpusFile } from './corpus';
import { codeFacts } from './codefacts';
import { checkQuestion, type Fact, factAnswer } from './facts';
import { FENCE, headingText } from './markdown';
import { proseFacts } from './prose';
import { extractSymbols, type FileSymbols } from './symbols';

export interface QAPair {
  kind: 'definition' | 'purpose' | 'signature' | 'implementation' | 'file-contents' | 'importers' | 'section' | 'fact';
  question: string;
  answer: string;
  /** Where the answer comes from. */
  path: string;
  line?: number;
  /** Written by the model (and checked against the source), not by the generator. */
  byModel?: boolean;
  /** A fact's value (kind `fact`): what a right answer states first. */
  value?: string;
  /** Kept out of training: asked by the self-check after learning. */
  check?: boolean;
}

export type Phrasings = ((x: string) => string)[];

export const PHRASINGS: Record<QAPair['kind'], Phrasings> = {
  definition: [(x) => `Where is ${x} defined?`, (x) => `In which file is ${x} defined?`, (x) => `Which file and line define ${x}?`, (x) => `Where can I find the definition of ${x}?`],
  purpose: [(x) => `What does ${x} do?`, (x) => `What is ${x} for?`, (x) => `Explain ${x}.`, (x) => `Describe the purpose of ${x}.`],
  signature: [(x) => `What is the signature of ${x}?`, (x) => `What parameters does ${x} take?`, (x) => `How do I call ${x}?`, (x) => `What does ${x} take and return?`],
  implementation: [(x) => `Show the implementation of ${x}.`, (x) => `Show me the code of ${x}.`, (x) => `How is ${x} implemented?`],
  'file-contents': [(x) => `What does ${x} contain?`, (x) => `What is in ${x}?`, (x) => `Which symbols does ${x} define?`, (x) => `Give an overview of ${x}.`],
  importers: [(x) => `Which files import ${x}?`, (x) => `Where is ${x} imported?`, (x) => `Which files use the module ${x}?`],
  section: [(x) => `What does the section "${x}" say?`, (x) => `What is written under "${x}"?`, (x) => `Summarize the section "${x}".`, (x) => `What does the documentation say about ${x}?`],
  // a fact's questions are made from the fact itself (facts.ts, prose.ts)
  fact: [],
};

/** Phrasings that the generator never produces: for measuring generalisation, never for training. */
export const HELD_OUT: Record<QAPair['kind'], Phrasings> = {
  definition: [(x) => `I'm looking for ${x}: which file is it in?`],
  purpose: [(x) => `Can you tell me what ${x} is used for?`],
  signature: [(x) => `Which arguments should I pass to ${x}?`],
  implementation: [(x) => `Print the source of ${x}.`],
  'file-contents': [(x) => `Tell me what you find inside ${x}.`],
  importers: [(x) => `List the files depending on ${x}.`],
  section: [(x) => `Tell me about "${x}" from the docs.`, (x) => `I need the facts on ${x}.`, (x) => `According to the text, what about "${x}"?`, (x) => `Could you recall what "${x}" states?`],
  fact: [],
};

type Ask = (kind: QAPair['kind'], subject: string, answer: string, p: string, line?: number) => QAPair[];

const asker = (phrasings: Record<QAPair['kind'], Phrasings>): Ask => (kind, subject, answer, p, line) =>
  phrasings[kind].map((f) => ({ kind, question: f(subject), answer, path: p, line }));

/** Markdown sections: heading → the text under it (up to `maxChars`). */
export function markdownSections(text: string, maxChars = 600): { heading: string; body: string; line: number }[] {
  const lines = text.split('\n');
  const out: { heading: string; body: string; line: number }[] = [];
  let current: { heading: string; body: string[]; line: number } | undefined;
  let fence = false;
  const flush = (): void => {
    const body = current?.body.join('\n').trim();
    if (current && body) out.push({ heading: current.heading, body: body.length > maxChars ? `${body.slice(0, maxChars)}…` : body, line: current.line });
  };
  lines.forEach((l, i) => {
    if (FENCE.test(l)) fence = !fence;
    const heading = fence ? undefined : headingText(l);
    if (heading !== undefined) {
      flush();
      current = { heading, body: [], line: i + 1 };
    } else current?.body.push(l);
  });
  flush();
  return out;
}

/** Documents: prose read for facts and sections. */
export const DOCUMENT = /\.(md|mdx|markdown|txt|rst|adoc)$/i;

/**
 * A fact's question-answer pairs: every question answered with the value first and its source;
 * one question per fact (see `checkQuestion`) is marked `check`, for the self-check, not training.
 */
export function factPairs(facts: readonly Fact[]): QAPair[] {
  return facts.flatMap((f) => {
    const held = checkQuestion(f);
    return f.questions.map((question, k) => ({ kind: 'fact' as const, question, answer: factAnswer(f), path: f.path, line: f.line, value: f.value, ...(k === held ? { check: true } : {}) }));
  });
}

/** What fact extraction said about the files (documents not in English, over the size cap). */
export interface QAReport {
  facts: number;
  notes: string[];
}

/** QA pairs for a set of collected files (code via tree-sitter, documents by facts and sections). */
export async function generateQA(files: readonly CorpusFile[], phrasings: Record<QAPair['kind'], Phrasings> = PHRASINGS, report?: QAReport): Promise<QAPair[]> {
  const ask = asker(phrasings);
  const pairs: QAPair[] = [];
  const parsed = new Map<string, FileSymbols>();
  for (const f of files) {
    if (DOCUMENT.test(f.path)) {
      if (/\.(md|mdx|markdown)$/i.test(f.path)) for (const s of markdownSections(f.text)) pairs.push(...ask('section', s.heading, s.body, f.path, s.line));
      const prose = proseFacts(f.path, f.text);
      pairs.push(...factPairs(prose.facts));
      if (report) {
        report.facts += prose.facts.length;
        if (prose.report.note) report.notes.push(`${f.path}: ${prose.report.note}`);
      }
      continue;
    }
    const syms = await extractSymbols(f.path, f.text);
    if (!syms) continue;
    const facts = await codeFacts(f.path, f.text);
    pairs.push(...factPairs(facts));
    if (report) report.facts += facts.length;
    parsed.set(f.path, syms);
    for (const s of syms.symbols) {
      pairs.push(...ask('definition', s.name, `${s.name} is defined in ${f.path} at line ${s.line}.`, f.path, s.line));
      if (s.doc) pairs.push(...ask('purpose', s.name, s.doc, f.path, s.line));
      if (s.kind === 'function' || s.kind === 'method') pairs.push(...ask('signature', s.name, `\`${s.signature}\``, f.path, s.line));
      pairs.push(...ask('implementation', s.name, `In ${f.path}:\n\`\`\`\n${s.code}\n\`\`\``, f.path, s.line));
    }
    if (syms.symbols.length) {
      const list = syms.symbols.map((s) => `${s.name} (${s.kind}, line ${s.line})`).join(', ');
      pairs.push(...ask('file-contents', f.path, `${f.path} defines ${list}.`, f.path));
    }
  }
  // Which files import a module: grouped by the import text as written.
  const importers = new Map<string, string[]>();
  for (const [p, s] of parsed) for (const m of s.imports) importers.set(m, [...(importers.get(m) ?? []), p]);
  for (const [m, ps] of importers) pairs.push(...ask('importers', m, `${m} is imported by ${ps.join(', ')}.`, ps[0]!));
  return pairs;
}
