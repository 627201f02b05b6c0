/**
 * Retrieval for answering: files cut into chunks sized in the model's own tokens (prose at
 * headings, paragraphs and sentences; code at definitions found with tree-sitter), ranked by
 * BM25 against the question. Identifiers are split the way code is written (camelCase,
 * snake_case, paths), so "parse config" finds `parseConfig` and `parse_config`.
 */
import type { TextTokenizer } from '../model/tokenizer';
import type { CorpusFile } from './corpus';
import { extractSymbols, languageOf } from './symbols';

export interface Chunk {
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
}

/** Lower-case terms of text: words, with identifiers split at case changes, underscores and digits. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of text.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []) {
    const parts = word.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/);
    const lower = word.toLowerCase();
    out.push(lower);
    if (parts.length > 1) for (const p of parts) if (p.length > 1) out.push(p.toLowerCase());
  }
  return out;
}

/** Fixed line windows (the model-independent cut: model-written QA, tests); answering uses `chunkFile`. */
export function chunkFiles(files: readonly CorpusFile[], linesPerChunk = 40, overlap = 10): Chunk[] {
  const chunks: Chunk[] = [];
  for (const f of files) {
    const lines = f.text.split('\n');
    for (let start = 0; start < lines.length; start += linesPerChunk - overlap) {
      const end = Math.min(lines.length, start + linesPerChunk);
      const text = lines.slice(start, end).join('\n');
      if (text.trim()) chunks.push({ path: f.path, startLine: start + 1, endLine: end, text });
      if (end === lines.length) break;
    }
  }
  return chunks;
}

/** A chunk's place in its file's (redacted) text: character offsets and 1-based lines. */
export interface ChunkSpan {
  /** Character offsets in the file's text, end exclusive. */
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  /** The heading a prose chunk sits under (indexed with it, not part of its text). */
  heading?: string;
}

/** How chunks are sized for the model in use: its token count and the tokens a chunk may take in the prompt. */
export interface ChunkSizing {
  /** Tokens one chunk may take in the prompt, its `<<< path:lines >>>` header included. */
  tokens: number;
  count: (text: string) => number;
  /** Tokens per character seen so far (learned as chunks are counted; plans the next chunk). */
  ratio?: number;
}

/** Tokens of the prompt besides context: the system line, the question, the chat tokens. */
const PROMPT_OVERHEAD = 64;

/** The answer's room in the prompt (Answerer.answer reserves the same): at most a quarter of the positions. */
export const answerReserve = (maxPositions: number, asked = 256): number => Math.min(asked, Math.floor(maxPositions / 4));

/**
 * Tokens per chunk for a model with `maxPositions` positions: a third of the room left for context
 * (three chunks fit, and a part of a fourth), at least 48 and at most 384.
 */
export function chunkTokensFor(maxPositions: number): number {
  const context = maxPositions - answerReserve(maxPositions) - PROMPT_OVERHEAD;
  return Math.max(48, Math.min(384, Math.floor(context / 3)));
}

/** Chunk sizing with the model's tokenizer. */
export function tokenSizing(tok: TextTokenizer, maxPositions: number, tokens = chunkTokensFor(maxPositions)): ChunkSizing {
  return { tokens, count: (text) => tok.encodeText(text).length };
}

/** The header formatPrompt puts above a chunk. */
export const chunkHeader = (p: string, startLine: number, endLine: number): string => `<<< ${p}:${startLine}-${endLine} >>>\n`;

const PROSE = /\.(md|markdown|mdx|txt|text|rst|adoc|asciidoc|org)$/i;
/** Prose is cut at headings, paragraphs and sentences; everything else as code. */
export const isProse = (p: string): boolean => PROSE.test(p) || !/\.[^/]+$/.test(p);

/** Where a chunk may end, the stronger the better. */
const STRENGTH = { heading: 4, paragraph: 3, line: 2, sentence: 1, definition: 4, nested: 3, blank: 2, codeLine: 1 } as const;

/** A sentence ends at . ! ? (and closing quotes or brackets) before a space and a capital, digit or quote. */
const SENTENCE_END = /[.!?]["')\]*_`]*[ \t]+(?=["'(\[`*_]?[A-Z0-9])/g;
const COMMENT_OR_DECORATOR = /^\s*(\/\/|\/\*|\*|#(?!\s*(include|define|if|endif|pragma|import))|@\w|"""|''')/;

/**
 * Where chunks of a file may end: char offsets with a strength (prose: headings, paragraphs,
 * lines, sentences; code: definitions from tree-sitter with their doc comments, then blank lines,
 * then lines), and a prose file's headings.
 */
async function breaksOf(p: string, text: string, lineStarts: readonly number[]): Promise<{ at: Map<number, number>; headings: { at: number; text: string }[] }> {
  const at = new Map<number, number>();
  const set = (offset: number, strength: number): void => {
    if (offset > 0 && offset < text.length && (at.get(offset) ?? 0) < strength) at.set(offset, strength);
  };
  const lines = lineStarts.map((s, i) => text.slice(s, (lineStarts[i + 1] ?? text.length + 1) - 1));
  const blank = lines.map((l) => !l.trim());
  const headings: { at: number; text: string }[] = [];
  if (isProse(p)) {
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const next = lines[i + 1];
      const atx = /^\s{0,3}#{1,6}\s+\S/.test(l);
      const setext = !blank[i] && next !== undefined && /^\s{0,3}(=+|-{2,})\s*$/.test(next) && !/^\s*([-*+]|\d+\.)\s/.test(l);
      if (atx || setext) {
        set(lineStarts[i]!, STRENGTH.heading);
        headings.push({ at: lineStarts[i]!, text: l.replace(/^\s*#+\s*/, '').replace(/\s*#*\s*$/, '') });
      } else if (i > 0 && blank[i - 1] && !blank[i]) set(lineStarts[i]!, STRENGTH.paragraph);
      else set(lineStarts[i]!, STRENGTH.line);
      for (const m of l.matchAll(SENTENCE_END)) set(lineStarts[i]! + m.index! + m[0].length, STRENGTH.sentence);
    }
    return { at, headings };
  }
  for (let i = 1; i < lines.length; i++) {
    // a line at the margin after a blank line starts something new in most languages
    if (blank[i - 1] && !blank[i]) set(lineStarts[i]!, /^[^\s}\])]/.test(lines[i]!) ? STRENGTH.nested : STRENGTH.blank);
    else set(lineStarts[i]!, STRENGTH.codeLine);
  }
  let symbols: { line: number; endLine: number }[] = [];
  if (languageOf(p)) {
    try {
      symbols = (await extractSymbols(p, text, 1))?.symbols ?? [];
    } catch {
      symbols = []; // a grammar that fails on this text: blank lines and lines still cut it
    }
  }
  const sorted = [...symbols].sort((a, b) => a.line - b.line || b.endLine - a.endLine);
  let outerEnd = 0;
  for (const s of sorted) {
    const top = s.line > outerEnd;
    if (top) outerEnd = s.endLine;
    // a definition starts at its doc comment and decorators
    let first = s.line - 1;
    while (first > 0 && COMMENT_OR_DECORATOR.test(lines[first - 1]!)) first--;
    set(lineStarts[first]!, top ? STRENGTH.definition : STRENGTH.nested);
    if (s.endLine < lines.length) set(lineStarts[s.endLine]!, top ? STRENGTH.definition : STRENGTH.nested);
  }
  return { at, headings };
}

/** The 1-based line of char offset `i`. */
function lineAt(lineStarts: readonly number[], i: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/**
 * Cuts a file's text into chunks that take at most `sizing.tokens` prompt tokens (the header
 * included), each ending at the strongest boundary that leaves it at least a third full: for
 * prose a heading, a paragraph, a line, a sentence; for code a definition (tree-sitter), a blank
 * line, a line. A stretch with no boundary inside the budget (a very long line) is cut between
 * words. Every chunk's text is counted with the model's tokenizer: none exceeds the budget.
 */
export async function chunkFile(p: string, text: string, sizing: ChunkSizing): Promise<(ChunkSpan & { text: string })[]> {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  // the header with the widest line numbers this file has, and the two newlines after the text
  const widest = lineStarts.length;
  const budget = sizing.tokens - sizing.count(chunkHeader(p, widest, widest)) - 2;
  if (budget < 8) return []; // a path too long to leave room for any text
  const { at, headings } = await breaksOf(p, text, lineStarts);
  const cuts = [...at.keys()].sort((a, b) => a - b);
  const out: (ChunkSpan & { text: string })[] = [];
  /** The stretch [a, b) without its trailing whitespace (what a chunk holds). */
  const trimmed = (a: number, b: number): number => {
    while (b > a && isSpace(text.charCodeAt(b - 1))) b--;
    return b;
  };
  const fits = (a: number, b: number): boolean => sizing.count(text.slice(a, trimmed(a, b))) <= budget;
  let h = 0;
  const emit = (start: number, end: number): void => {
    end = trimmed(start, end);
    if (end <= start) return;
    // the heading above a chunk (one that begins with its heading holds it already)
    while (h < headings.length && headings[h]!.at <= start) h++;
    const heading = h > 0 && headings[h - 1]!.at < start ? headings[h - 1]!.text : undefined;
    out.push({ start, end, startLine: lineAt(lineStarts, start), endLine: lineAt(lineStarts, end - 1), text: text.slice(start, end), ...(heading ? { heading } : {}) });
  };
  /** The longest stretch from `start` (before `limit`) that fits, cut after a space when one is in its second half. */
  const cutByTokens = (start: number, limit: number): number => {
    let lo = start + 1;
    let hi = Math.min(limit, start + budget * 32);
    if (fits(start, hi)) return hi;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (fits(start, mid)) lo = mid;
      else hi = mid - 1;
    }
    let end = lo;
    const c = text.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff && end - 1 > start) end--; // never half a surrogate pair
    for (let k = end; k > start + (end - start) / 2; k--) if (isSpace(text.charCodeAt(k - 1))) return k;
    return end;
  };
  // Each chunk is planned with an estimate (tokens per character, learned from the chunks counted
  // so far) and then counted once with the tokenizer; a count over the budget plans again, shorter.
  let pos = 0;
  let ci = 0;
  while (pos < text.length) {
    while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
    if (pos >= text.length) break;
    while (ci < cuts.length && cuts[ci]! <= pos) ci++;
    let target = budget;
    let end: number | undefined;
    for (let attempt = 0; attempt < 4 && end === undefined; attempt++) {
      const ratio = sizing.ratio ?? 0.35;
      const reach = pos + target / ratio / 1.1;
      let pick: number | undefined;
      if (reach >= text.length) pick = text.length;
      else {
        // the strongest boundary in reach that leaves the chunk a third full (the latest of equals),
        // else the latest boundary in reach
        let best = -1;
        let strength = 0;
        let latest: number | undefined;
        for (let j = ci; j < cuts.length && cuts[j]! <= reach; j++) {
          const c = cuts[j]!;
          latest = c;
          if (c - pos >= (reach - pos) / 3 && at.get(c)! >= strength) {
            best = c;
            strength = at.get(c)!;
          }
        }
        pick = best > 0 ? best : latest;
      }
      if (pick === undefined) break; // no boundary in reach: a long line
      const stop = trimmed(pos, pick);
      const n = sizing.count(text.slice(pos, stop));
      if (stop - pos >= 16) sizing.ratio = 0.7 * ratio + (0.3 * n) / (stop - pos);
      if (n <= budget) end = pick;
      else target = (target * budget * 0.95) / n;
    }
    end ??= cutByTokens(pos, ci < cuts.length ? cuts[ci]! : text.length);
    emit(pos, end);
    pos = end;
  }
  return out;
}

/** `chunkFile` over files, as chunks for the prompt. */
export async function chunkFilesByTokens(files: readonly Pick<CorpusFile, 'path' | 'text'>[], sizing: ChunkSizing): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for (const f of files) for (const c of await chunkFile(f.path, f.text, sizing)) out.push({ path: f.path, startLine: c.startLine, endLine: c.endLine, text: c.text });
  return out;
}

const DEFINITION = /\b(?:function|class|def|interface|type|struct|enum|trait|fn|func|const|let|var|val|module|namespace)\s+([A-Za-z_$][\w$]*)/g;

/** Query terms plus adjacent pairs joined ("parse config" also asks for `parseconfig`). */
function queryTerms(query: string): string[] {
  const words = (query.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []).map((w) => w.toLowerCase());
  const pairs = words.slice(1).map((w, i) => words[i]! + w);
  return [...new Set([...terms(query), ...pairs])];
}

/**
 * BM25 over chunks, with a bonus where a chunk *defines* a name the question asks about, so that
 * "where is parseConfig defined" prefers the definition to the places that import it.
 */
export class Bm25Index {
  private readonly docs: { chunk: Chunk; tf: Map<string, number>; length: number; defines: Set<string> }[];
  private readonly df = new Map<string, number>();
  private readonly avgLength: number;

  constructor(
    chunks: readonly Chunk[],
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {
    this.docs = chunks.map((chunk) => {
      const tf = new Map<string, number>();
      // the path counts as part of the chunk: "what is in server.ts" should find it
      const ts = [...terms(chunk.path), ...terms(chunk.text)];
      for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const t of tf.keys()) this.df.set(t, (this.df.get(t) ?? 0) + 1);
      const defines = new Set([...chunk.text.matchAll(DEFINITION)].map((m) => m[1]!.toLowerCase()));
      return { chunk, tf, length: ts.length, defines };
    });
    this.avgLength = this.docs.reduce((a, d) => a + d.length, 0) / Math.max(1, this.docs.length);
  }

  /** The `k` best chunks with a positive score, best first. */
  search(query: string, k: number): { chunk: Chunk; score: number }[] {
    const q = queryTerms(query);
    const n = this.docs.length;
    const scored = this.docs.map((d) => {
      let score = 0;
      for (const t of q) {
        const f = d.tf.get(t);
        if (!f) continue;
        const df = this.df.get(t)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * d.length) / this.avgLength));
        if (d.defines.has(t)) score += 2 * idf;
      }
      return { chunk: d.chunk, score };
    });
    return scored.filter((s) => s.score > 0).sort((a, b) => b.score - a.score).slice(0, k);
  }
}
