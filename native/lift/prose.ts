/**
 * Facts from prose: the sentences of a document that carry a checkable value (a number with its
 * unit, a code or identifier, a name, a version, a path, a time), each with the subject it is
 * about and the questions that ask for it. Sentence splitting, part-of-speech tags, noun chunks
 * and verb forms come from `compromise` (an English NLP library); Markdown is read block by block
 * so that every value keeps its line.
 */
import nlp from 'compromise';
import { type Fact, MEASURE_UNIT, MEASURE_UNITS } from './facts';
import { exampleFacts } from './examples';
import { FENCE, headingText } from './markdown';
import { callFacts, callOf, headingTerm, lineOf, type TermItem, termFacts, termItem, termKind, termSubject, verbForms } from './options';

/** What prose extraction did with a document (for the learn summary). */
export interface ProseReport {
  facts: number;
  /** Why part of the text gave no facts: not English, or over the size cap. */
  note?: string;
}

/** Prose read per document at most (larger documents: facts from their first part only). */
export const PROSE_LIMIT = 1_000_000;

interface Term {
  text: string;
  tags: Set<string>;
  chunk: string;
  start: number;
  end: number;
}

interface Block {
  /** Text with Markdown markup blanked out (same length as the source lines joined by \n). */
  text: string;
  line: number;
  heading: string;
  /** Offsets of `code` spans (values as written). */
  code: [number, number][];
  /** The term a list item describes ("* `retries`: The maximum …"), read by `termFacts`. */
  term?: TermItem;
  /** What a table's terms are, from its first header ("Option" → option). */
  kind?: string;
  /** The call a section's term belongs to, by a heading above it ("### bodyParser.json([options])" over "##### type"). */
  call?: string;
}

const STOPWORDS = new Set('the a an of to in is are and or for on with by be it that this as at from not must may can will when which after before each every its their than per into only should'.split(' '));

/** Whether text reads as English: a share of its words are English function words. */
export function looksEnglish(text: string): boolean {
  const words = text.toLowerCase().match(/[a-z\u00c0-\u024f]+/g) ?? [];
  if (words.length < 20) return true;
  return words.filter((w) => STOPWORDS.has(w)).length / words.length > 0.12;
}

/**
 * Markdown → prose blocks (paragraphs, list items), markup blanked. Code is left out: fenced
 * blocks, and indented ones (four spaces or a tab after a blank line, outside a list: a README's
 * usage text and shell sessions are not sentences). A table's rows are read as a term list's items (`tableRows`).
 */
export function proseBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let heading = '';
  // the headings above, by level (1-based), as written
  const headings: string[] = [];
  let fence = false;
  let indentedCode = false;
  // whether the last block was a list item (an indented paragraph after it continues the item)
  let inList = false;
  let current: { lines: string[]; line: number } | undefined;
  // the term the section's heading names ("##### concurrency"): its attribute lines wait for the description after them
  let section: { name: string; kind?: string; call?: string; attributes?: [number, number]; described: boolean } | undefined;
  /** Lines `from` to `to` (1-based) as the section term's block, its description from offset `at` (none: the attributes alone). */
  const termBlock = (from: number, to: number, at?: number): Block => {
    const t = lines.slice(from - 1, to).join('\n');
    return { ...blank(t, from, heading), term: { name: section!.name, at: at ?? t.length }, ...(section!.kind ? { kind: section!.kind } : {}), ...(section!.call ? { call: section!.call } : {}) };
  };
  const attributesAlone = (): void => {
    if (section?.attributes) blocks.push(termBlock(...section.attributes));
    if (section) section.attributes = undefined;
  };
  // the offset of line `line` in the text of lines `from` on
  const offsetOf = (from: number, line: number): number => (line > from ? lines.slice(from - 1, line - 1).join('\n').length + 1 : 0);
  const flush = (): void => {
    const c = current;
    current = undefined;
    if (!c) return;
    const end = c.line + c.lines.length - 1;
    // "Type: `number`\ Default: `Infinity`": read with the description that follows (in the same paragraph or the next)
    const attributes = section ? c.lines.findIndex((l) => !ATTRIBUTE_LINE.test(l)) : 0;
    if (section && attributes < 0) {
      attributesAlone();
      if (section.described) blocks.push(termBlock(c.line, end));
      else section.attributes = [c.line, end];
      return;
    }
    if (section && !section.described) {
      section.described = true;
      if (!LIST_OR_QUOTE.test(c.lines[attributes]!)) {
        const from = section.attributes?.[0] ?? c.line;
        section.attributes = undefined;
        blocks.push(termBlock(from, end, offsetOf(from, c.line + attributes)));
        return;
      }
      attributesAlone();
    }
    blocks.push(blank(c.lines.join('\n'), c.line, heading));
  };
  const endSection = (): void => {
    attributesAlone();
    section = undefined;
  };
  let table: { raw: string; line: number }[] = [];
  const flushTable = (): void => {
    if (table.length) for (const r of tableRows(table)) blocks.push({ ...blank(r.text, r.line, heading), ...(r.term ? { term: r.term } : {}), ...(r.kind ? { kind: r.kind } : {}) });
    table = [];
  };
  // an example's comments are the author's prose ("// send a ping approx every 2 seconds"): a whole-line one that wraps onto the next is one block with it
  let comment: { lines: string[]; line: number; whole: boolean } | undefined;
  let commentStyle: RegExp | undefined;
  const flushComment = (): void => {
    if (comment) blocks.push(blank(comment.lines.join('\n'), comment.line, heading));
    comment = undefined;
  };
  lines.forEach((raw, i) => {
    const opens = FENCE.exec(raw);
    if (opens) {
      flush();
      flushTable();
      flushComment();
      // attribute lines waiting for a description: code is none
      attributesAlone();
      fence = !fence;
      commentStyle = fence ? commentsOf(opens[2]!) : undefined;
      return;
    }
    if (fence) {
      const c = commentStyle && proseComment(raw, commentStyle);
      if (c?.whole && comment?.whole && wraps(comment.lines[comment.lines.length - 1]!, c.text)) comment.lines.push(c.text);
      // any other line ends the comment, so a comment kept is the line just above
      else {
        flushComment();
        if (c) comment = { lines: [c.text], line: i + 1, whole: c.whole };
      }
      return;
    }
    if (/^( {4}|\t)/.test(raw) && (indentedCode || (!current && !inList))) {
      attributesAlone();
      indentedCode = true;
      return;
    }
    if (raw.trim()) indentedCode = false;
    else if (indentedCode) return;
    const title = headingText(raw);
    if (title !== undefined) {
      flush();
      flushTable();
      endSection();
      const level = /^#+/.exec(raw)![0].length;
      headings.length = level - 1;
      const above = headings.filter(Boolean);
      const term = headingTerm(title, above);
      headings[level - 1] = title;
      heading = title.replace(/[`*_]/g, '').trim();
      if (term) {
        // the call its section belongs to: the nearest heading above that names one
        const call = above.map((h) => callOf(h.replace(/[`*_]/g, ''))).filter((c) => c !== undefined).at(-1);
        section = { ...term, ...(call ? { call } : {}), described: false };
      }
      inList = false;
      return;
    }
    if (tableLine(raw, lines[i + 1], table.length > 0)) {
      flush();
      attributesAlone();
      table.push({ raw, line: i + 1 });
      return;
    }
    flushTable();
    if (!raw.trim() || /^\s*(<!--|-->|<\/?[a-z][^>]*>\s*$)/i.test(raw)) {
      flush();
      return;
    }
    // a list item starts its own block
    if (/^\s*([-*+]|\d+[.)])\s+/.test(raw)) {
      flush();
      inList = true;
    } else if (!current && !/^\s/.test(raw)) inList = false;
    current ??= { lines: [], line: i + 1 };
    current.lines.push(raw);
  });
  flush();
  flushTable();
  flushComment();
  endSection();
  return blocks;
}

/** How a fenced block's language writes comments: `//` (JavaScript and its kin, also a fence with no language), `#` (shells, Python, YAML); none for others (JSON, output, diffs). */
function commentsOf(lang: string): RegExp | undefined {
  const l = lang.toLowerCase();
  if (!l || /^(?:js|javascript|jsx|mjs|cjs|ts|typescript|tsx|java|go|rust|rs|c|cpp|c\+\+|cs|csharp|kotlin|swift|json5|jsonc)$/.test(l)) return /(^\s*|\s)\/\/\s?(.*)$/;
  // not "console": there "#" is a root prompt
  if (/^(?:sh|bash|shell|zsh|py|python|yaml|yml|toml|ruby|rb)$/.test(l)) return /(^\s*|\s)#\s?(.*)$/;
  return undefined;
}

/** A commented-out command ("# npm install foo --save", "# docker run -p 8080:80 nginx"): no prose. */
const COMMAND = /^(?:npm|npx|yarn|pnpm|bun|deno|node|docker|git|curl|wget|cd|ls|sudo|apt|apt-get|brew|pip|pip3|python3?|make|export|echo|cat|mkdir|rm|cp|mv|cargo|go|gem|kubectl)\b|\s--?[a-z]/i;
/** Whether a comment's line goes on in the next one: a long line (40 characters or more) that does not end a sentence, and the next starts in lower case. */
const wraps = (line: string, next: string): boolean => line.length >= 40 && !/[.!?:]$/.test(line) && /^[a-z]/.test(next);

/**
 * A code line's comment when it is prose: three words or more, starting with a letter, no code in
 * it (commented-out code and commands are none), and not inside a string literal (an odd number
 * of quotes before its marker).
 */
function proseComment(raw: string, style: RegExp): { text: string; whole: boolean } | undefined {
  const m = style.exec(raw);
  if (!m) return undefined;
  const text = m[2]!.trim();
  const before = raw.slice(0, m.index);
  if ([`'`, '"', '`'].some((q) => before.split(q).length % 2 === 0)) return undefined;
  if (!/^[A-Za-z]/.test(text) || /[(){};=<>[\]]|=>|^\w+:\s/.test(text) || COMMAND.test(text) || text.split(/\s+/).length < 3) return undefined;
  return { text, whole: m.index === 0 };
}

/** A list item's or a quote's first line. */
const LIST_OR_QUOTE = /^\s*([-*+]|\d+[.)]|>)\s/;
/** A line of an API reference's term attributes: "Type: `number`\\", "Default: `Infinity`", "Minimum: `1`". */
const ATTRIBUTE_LINE = /^\s*(?:\*\*)?(?:type|default(?: value)?|minimum|maximum|min|max|required|optional|values?|since)(?:\*\*)?\s*:/i;

/** A table's delimiter row ("--- | ---", "|:--|--:|"): with a pipe, so a thematic break ("---") is none. */
const DELIMITER = /^\|?(?:\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?$/;
const delimiterRow = (line: string): boolean => line.includes('|') && DELIMITER.test(line.trim());
/**
 * Whether a line is a table's: it starts with a pipe, or it has one and starts a table (the next
 * line is a delimiter row: GitHub's tables need no outer pipes, "Key | Description" over
 * "--- | ---") or goes on with one.
 */
const tableLine = (raw: string, next: string | undefined, inTable: boolean): boolean =>
  /^\s*\|/.test(raw) || (/(?<!\\)\|/.test(raw) && (inTable ? raw.trim() !== '' : delimiterRow(next ?? '')));

/** A table row's cells (a pipe escaped as `\|` stays in its cell), trimmed. */
const cells = (raw: string): string[] =>
  raw.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).map((c) => c.replace(/\\\|/g, '|').trim());
/** A cell's text as a sentence: with its full stop. */
const stop = (s: string): string => (/[.!?]$/.test(s) ? s : `${s}.`);
/** A cell that says nothing (a dash, a tick, a cross, empty). */
const EMPTY_CELL = /^(?:[-–—✔✓✗✘×xX?]|n\/a|none|)$/i;
const DESCRIPTION_HEADER = /\b(?:description|meaning|purpose|notes?|details?|explanation|summary|effect|comment|what it does|usage)\b/i;

/**
 * A Markdown table → one block per row, read as a term list's item: the first cell is the term
 * (`basename`, `--watch`, `2`), the description cell what it is ("- `2`: 256 color support."),
 * a default cell its default ("Default: `false`."), and any other short cell a sentence ("The
 * type of `basename` is `boolean`."). What the terms are comes from the first header ("Option" →
 * option, "Level" → level). Tables with no header separator, and rows of ticks and dashes, give
 * nothing.
 */
function tableRows(rows: readonly { raw: string; line: number }[]): { text: string; line: number; term?: TermItem; kind?: string }[] {
  if (rows.length < 3 || !delimiterRow(rows[1]!.raw)) return [];
  const header = cells(rows[0]!.raw).map((h) => h.replace(/[`*_]/g, '').trim());
  const body = rows.slice(2).map((r) => ({ cells: cells(r.raw), line: r.line }));
  const words = (c: string): number => c.split(/\s+/).filter(Boolean).length;
  // the description column: named so, else the one with the most words (four or more on average)
  let described = header.findIndex((h, k) => k > 0 && DESCRIPTION_HEADER.test(h));
  if (described < 0) {
    const mean = header.map((_, k) => body.reduce((n, r) => n + words(r.cells[k] ?? ''), 0) / Math.max(1, body.length));
    const most = mean.reduce((best, m, k) => (k > 0 && m > (mean[best] ?? 0) ? k : best), 0);
    described = most > 0 && mean[most]! >= 4 ? most : -1;
  }
  const first = (header[0] ?? '').toLowerCase();
  const kind = termKind(first) ?? (/^[a-z]+$/.test(first) && first !== 'name' ? first.replace(/s$/, '') : undefined);
  const out: { text: string; line: number; term?: TermItem; kind?: string }[] = [];
  for (const { cells: row, line } of body) {
    const key = row[0] ?? '';
    const name = key.replace(/^(`|\*\*)(.*)\1$/, '$2').trim();
    if (EMPTY_CELL.test(name) || name.length > 60 || row.filter((c) => !EMPTY_CELL.test(c)).length < 2) continue;
    const others = header.flatMap((h, k) => {
      const c = row[k] ?? '';
      if (k === 0 || k === described || !h || EMPTY_CELL.test(c) || words(c) > 8) return [];
      return [/default/i.test(h) ? `Default: ${stop(c)}` : /^values?$/i.test(h) ? `The ${key} is ${stop(c)}` : `The ${h.toLowerCase()} of ${key} is ${stop(c)}`];
    });
    const description = described > 0 && !EMPTY_CELL.test(row[described] ?? '') ? stop(row[described]!) : '';
    const head = `- ${key}: `;
    out.push({ text: description ? head + [description, ...others].join(' ') : others.join(' '), line, ...(description ? { term: { name, at: head.length } } : {}), ...(kind ? { kind } : {}) });
  }
  return out;
}

/** A link whose text is the name its target ends in: a package, a repository ("[bytes](https://www.npmjs.com/package/bytes)", "[Harmon](https://github.com/No9/harmon)"). */
const namesItsTarget = (label: string, target: string): boolean => {
  // the address without its title, query or fragment, trailing slashes or ".git" (read without a backtracking regex: a target may be a long line)
  let path = target.trim().split(/\s/)[0]!.split(/[?#]/)[0]!;
  if (!/^https?:\/\/[^/]+\//.test(path)) return false;
  while (path.endsWith('/')) path = path.slice(0, -1);
  const last = path.slice(path.lastIndexOf('/') + 1).replace(/\.git$/, '');
  return /^@?[\w.-]+$/.test(label) && label.toLowerCase() === last.toLowerCase();
};

/** Blanks Markdown markup with spaces (offsets stay those of the source) and records `code` spans. */
function blank(text: string, line: number, heading: string): Block {
  const chars = [...text];
  const code: [number, number][] = [];
  const set = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (chars[k] !== '\n') chars[k] = ' ';
  };
  // list markers, quote markers
  for (const m of text.matchAll(/^(\s*(?:[-*+]|\d+[.)]|>)\s+)/gm)) set(m.index!, m.index! + m[1]!.length);
  // links and images: keep the text, blank the target; a link to a package or repository by its
  // name ("[yazl](https://github.com/thejoshwolfe/yazl)") names it as a code span would
  for (const m of text.matchAll(/!?\[([^\]\n]*)\]\(([^)\n]*)\)/g)) {
    set(m.index!, m.index! + (m[0].startsWith('!') ? 2 : 1));
    set(m.index! + m[0].length - m[2]!.length - 3, m.index! + m[0].length);
    if (!m[0].startsWith('!') && namesItsTarget(m[1]!, m[2]!)) code.push([m.index! + 1, m.index! + 1 + m[1]!.length]);
  }
  // reference links ([text][ref]): keep the text, blank the reference
  for (const m of text.matchAll(/\[([^\]\n]*)\]\[([^\]\n]*)\]/g)) {
    set(m.index!, m.index! + 1);
    set(m.index! + 1 + m[1]!.length, m.index! + m[0].length);
  }
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    set(m.index!, m.index! + 1);
    set(m.index! + m[0].length - 1, m.index! + m[0].length);
    code.push([m.index! + 1, m.index! + m[0].length - 1]);
  }
  for (const m of text.matchAll(/(\*\*|__|\*|~~)(?=\S)/g)) set(m.index!, m.index! + m[1]!.length);
  const term = termItem(text);
  return { text: chars.join(''), line, heading, code, ...(term ? { term } : {}) };
}

const UNITS = new Set(
  'ms millisecond milliseconds s sec secs second seconds min mins minute minutes h hr hrs hour hours day days week weeks month months year years b byte bytes kb kib mb mib gb gib tb tib % percent times time attempts attempt retries requests request connections connection workers worker threads thread replicas replica items entries rows records messages users nodes shards partitions characters chars tokens lines files px'.split(' '),
);
const SIZE_UNITS = /^([kmgt]i?b|bytes?|%|percent)$/i;
const TIME_UNITS = /^(ms|millisecond|second|sec|s|min|minute|h|hr|hour|day|week|month|year)s?$/i;
/**
 * A quantity's unit as the text gives it ("the retry delay in ms", "timeout (in millis)"): the unit
 * is a fact of its own, asked of what it measures ("In what unit is the timeout given?"), as users
 * ask which unit an option takes. Without the model: retry 12 → 13, p-queue 10 → 11, node-cache
 * 6 → 7, keyv 8 → 9 (http-proxy's unit extracted, its count the same: a near tie elsewhere turned),
 * no set lower.
 */
const GIVEN_IN_UNIT = new RegExp(`\\bin ${MEASURE_UNITS}\\b`);
const PRONOUNS = /^(it|its|they|their|them|this|these|that|those|he|she|his|her|we|our|you|your)$/i;

/**
 * Kinds of thing a name in running text names: a hyphenated word after one is an identifier ("the
 * bucket tlp-archive-cold"); before one, only where English compounds rarely stand (the
 * relay-templates repository; not the time-series database, a third-party package, the on-call
 * channel).
 */
const NAMED_KIND = /^(?:repository|repo|bucket|package|module|library|branch|namespace|queue|topic|channel|cluster|database|table|plugin|profile|project|organi[sz]ation|workspace|container|image|subdomain)$/i;
const NAMED_KIND_AFTER = /^(?:repository|repo|bucket|branch|namespace|profile|workspace|subdomain)$/i;

/** The shape of a single token that is a value by itself: a code, identifier, path, version, time. */
function tokenShape(t: string): 'code' | 'path' | 'version' | 'time' | undefined {
  if (/^\d{1,2}:\d{2}(:\d{2})?$/.test(t)) return 'time';
  if (/^v?\d+(\.\d+){1,3}([-+][\w.]+)?$/.test(t) && /\./.test(t)) return 'version';
  if (/^(~|\.{1,2})?\/[\w.@/-]+$|^[\w.-]+\/[\w./@-]+$|^[\w-]+\.(md|json|ya?ml|toml|ts|js|py|go|rs|txt|conf|ini|log|sh|env)$/i.test(t)) return 'path';
  // a header's name (X-Tidewater-Signature, Access-Control-Allow-Methods)
  if (/^(?:X|Content|Access|Cache|Accept|Retry|Set|Proxy|If|Last|Strict|Transfer|User)-[A-Z][a-z]*(?:-[A-Z][a-z]*)*$/.test(t)) return 'code';
  if (/^[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)+$/.test(t) || (/[A-Za-z]/.test(t) && /\d/.test(t) && /^[\w.#-]+$/.test(t)) || /^#[\w-]+$/.test(t)) return 'code';
  if (/^[a-z]+[A-Z_]\w*$/.test(t) || (/^[a-z]+(\.[a-z]+)+$/.test(t) && !/^(e\.g|i\.e|a\.k\.a|n\.b|p\.s)$/i.test(t))) return 'code';
  // an e-mail address
  if (/^[\w.+-]+@[\w-]+(\.[\w-]+)+$/.test(t)) return 'code';
  return undefined;
}

interface Value {
  value: string;
  start: number;
  end: number;
  type: 'duration' | 'size' | 'count' | 'number' | 'code' | 'path' | 'version' | 'time' | 'name' | 'person' | 'term' | 'unit';
  /** A name the text gives something ("a small gateway on the ceiling that we call a roost"): what it names; a unit's: what it measures. */
  names?: string;
  /** Terms of the sentence covered (indices). */
  from: number;
  to: number;
}

/** Values in a sentence's terms (spans of the block's text). */
function findValues(terms: Term[], text: string, code: [number, number][]): Value[] {
  const out: Value[] = [];
  // terms written together without a space (QRX-417, eu-west-1) are one token
  const groups: { from: number; to: number; start: number; end: number }[] = [];
  terms.forEach((t, i) => {
    const g = groups.at(-1);
    if (g && t.start === g.end + 1 && text[g.end] === '-' ) Object.assign(g, { to: i, end: t.end });
    else if (g && t.start === g.end) Object.assign(g, { to: i, end: t.end });
    else groups.push({ from: i, to: i, start: t.start, end: t.end });
  });
  const taken = new Set<number>();
  for (const [s, e] of code) {
    const from = terms.findIndex((t) => t.end > s);
    const to = lastIndex(terms, (t) => t.start < e);
    if (from < 0 || to < from) continue;
    const value = text.slice(s, e).trim();
    if (!value || value.length > 80) continue;
    out.push({ value, start: s, end: e, type: tokenShape(value) === 'path' ? 'path' : /^\d/.test(value) ? 'number' : 'code', from, to });
    for (let k = from; k <= to; k++) taken.add(k);
  }
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi]!;
    if (taken.has(g.from)) continue;
    // the token as written (the tagger drops punctuation such as a path's leading slash)
    while (g.start > 0 && !/\s/.test(text[g.start - 1]!)) g.start--;
    while (g.end < text.length && !/\s/.test(text[g.end]!)) g.end++;
    const lead = /^[("'\[]*/.exec(text.slice(g.start, g.end))![0].length;
    g.start += lead;
    let raw = text.slice(g.start, g.end).replace(/[.,;:!?)"'\]]+$/, '');
    g.end = g.start + raw.length;
    const t0 = terms[g.from]!;
    // a number with its scale word is one number (16 million, 1.5 billion)
    const scale = terms[g.to + 1];
    const scaled = /^\d[\d,.]*$/.test(raw) && !!scale && scale.start === g.end + 1 && /^(hundred|thousand|million|billion|trillion)$/i.test(scale.text);
    if (scaled) {
      g.to += 1;
      taken.add(g.to);
      g.end = scale.end;
      raw = text.slice(g.start, g.end);
    }
    // the unit: the next term, when it is one (8 MiB, 15 minutes, 3 times, 7 °C), or the one after
    // a single modifier (8 consecutive minutes, 5 working days)
    const isUnit = (t: Term | undefined): boolean => !!t && (UNITS.has(t.text.toLowerCase()) || t.tags.has('Unit'));
    const modifier = terms[g.to + 1]?.tags.has('Adjective') || terms[g.to + 1]?.tags.has('Gerund');
    // a count of things: a number before a plural noun (eleven engineers, three roosts; compromise
    // tags some such nouns as verbs, so a lower-case word in -s counts too)
    const counted = (t: Term | undefined): boolean =>
      !!t && t.start === g.end + 1 && !/^one$/i.test(t0.text) && (t.tags.has('Plural') || /^[a-z]{3,}s$/.test(t.text)) && !/(ss|us|is)$/.test(t.text) && !t.tags.has('Adverb') && !t.tags.has('Value') && !tokenShape(t.text);
    const unitAt = isUnit(terms[g.to + 1]) ? g.to + 1 : modifier && isUnit(terms[g.to + 2]) ? g.to + 2 : counted(terms[g.to + 1]) && (t0.tags.has('Cardinal') || /^\d+$/.test(raw)) ? g.to + 1 : -1;
    const unit = unitAt > 0 ? terms[unitAt] : undefined;
    // a number written out counts only with its unit (twelve hours, two weeks; not "one of")
    const spelled = t0.tags.has('TextValue') && t0.tags.has('Cardinal') && g.from === g.to && unit !== undefined;
    const numeric = scaled || t0.tags.has('NumericValue') || t0.tags.has('Percent') || /^\d[\d,]*(\.\d+)?%?$/.test(raw) || spelled;
    const shape = tokenShape(raw);
    const month = terms[g.to + 1]?.tags.has('Month') ? terms[g.to + 1] : undefined;
    if (numeric && !shape && month && /^\d{1,2}$/.test(raw)) {
      // a date (1 December)
      out.push({ value: text.slice(g.start, month.end), start: g.start, end: month.end, type: 'time', from: g.from, to: g.to + 1 });
      taken.add(g.to + 1);
      continue;
    }
    if (numeric && !shape) {
      const end = unit ? unit.end : g.end;
      const value = text.slice(g.start, end).replace(/[.,;:!?)"']+$/, '');
      const type = unit && TIME_UNITS.test(unit.text) ? 'duration' : unit && SIZE_UNITS.test(unit.text) ? 'size' : unit ? 'count' : 'number';
      out.push({ value, start: g.start, end: g.start + value.length, type, from: g.from, to: unit ? unitAt : g.to });
      for (let k = g.to + 1; k <= unitAt; k++) taken.add(k);
      continue;
    }
    if (t0.tags.has('WeekDay') && g.from === g.to) {
      // a day of the week, with its ordinal (every second Tuesday)
      const ordinal = g.from > 0 && terms[g.from - 1]!.tags.has('Ordinal') && !taken.has(g.from - 1) ? terms[g.from - 1]! : undefined;
      const start = ordinal ? ordinal.start : g.start;
      out.push({ value: text.slice(start, g.end), start, end: g.end, type: 'time', from: ordinal ? g.from - 1 : g.from, to: g.to });
      continue;
    }
    // a lower-case hyphenated name beside the kind of thing it names ("the relay-templates
    // repository", "the bucket tlp-archive-cold"): an identifier (alone, "time-series" is words)
    if (!shape && !numeric && /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/.test(raw) && (NAMED_KIND_AFTER.test(terms[g.to + 1]?.text ?? '') || NAMED_KIND.test(terms[g.from - 1]?.text ?? ''))) {
      out.push({ value: raw, start: g.start, end: g.end, type: 'code', from: g.from, to: g.to });
      continue;
    }
    if (shape) {
      // a time is followed by its zone (02:40 UTC)
      const next = terms[g.to + 1];
      const zone = shape === 'time' && next && /^(UTC|GMT|CET|CEST|EST|PST|[AP]M)$/i.test(next.text) ? next : undefined;
      const value = zone ? `${raw} ${next!.text}` : raw;
      out.push({ value, start: g.start, end: g.start + value.length, type: shape, from: g.from, to: zone ? g.to + 1 : g.to });
      continue;
    }
  }
  // a name the text gives something: "the service called ironbark-core", "a gateway that we call a
  // roost", "is then said to be dark", "known as the hub"
  for (let i = 0; i < terms.length - 1; i++) {
    const w = terms[i]!.text.toLowerCase();
    const prev = terms[i - 1]?.text.toLowerCase();
    const trigger =
      (/^(called|named|dubbed|nicknamed)$/.test(w) && terms[i]!.tags.has('Verb') && text[terms[i]!.end] === ' ') ||
      (w === 'call' && /^(we|they|you|people|everyone)$/.test(prev ?? '')) ||
      (w === 'as' && /^(known|referred)$/.test(prev ?? '')) ||
      (w === 'be' && prev === 'to' && terms[i - 2]?.text.toLowerCase() === 'said');
    if (!trigger) continue;
    let j = i + 1;
    if (/^(a|an|the)$/i.test(terms[j]!.text) && j + 1 < terms.length) j++;
    const t = terms[j]!;
    if (t.tags.has('Preposition') || t.tags.has('Determiner') || t.tags.has('Pronoun') || t.tags.has('Adverb') || out.some((v) => j >= v.from && j <= v.to)) continue;
    // the token as written (ironbark-core is two terms), without its trailing punctuation
    let end = t.end;
    while (end < text.length && /[\w-]/.test(text[end]!)) end++;
    const value = text.slice(t.start, end).replace(/-+$/, '');
    const to = lastIndex(terms, (x) => x.start < end);
    // what it names: the noun phrase before the trigger's words (through one "on the …", "of the …")
    let k = i - 1;
    const noun = (x: Term | undefined): boolean => !!x && x.chunk === 'Noun' && !x.tags.has('Pronoun') && !x.tags.has('Value') && !/^(that|which|who)$/i.test(x.text);
    while (k >= 0 && /^(that|which|who|is|are|then|was|were|to|now|often|usually|also|we|they|you|people|everyone|known|referred|said)$/i.test(terms[k]!.text)) k--;
    const last = k;
    while (k >= 0 && noun(terms[k])) k--;
    if (k >= 1 && terms[k]!.tags.has('Preposition') && /^(on|of|in|at|for)$/i.test(terms[k]!.text) && noun(terms[k - 1])) {
      k--;
      while (k >= 0 && noun(terms[k])) k--;
    }
    const names = last > k ? clean(text.slice(terms[k + 1]!.start, terms[last]!.end)) : undefined;
    if (value.length >= 2 && to >= j) out.push({ value, start: t.start, end: t.start + value.length, type: 'term', from: j, to, ...(names ? { names: midSentence(names) } : {}) });
  }
  // the unit a quantity is given in: "the retry delay in ms", "timeout (in millis)"
  for (let i = 1; i + 1 < terms.length; i++) {
    const unit = terms[i + 1]!;
    if (terms[i]!.text.toLowerCase() !== 'in' || !MEASURE_UNIT.test(unit.text) || taken.has(i + 1) || out.some((v) => i + 1 >= v.from && i + 1 <= v.to)) continue;
    const measured = nounPhraseBefore(terms, terms[i - 1]!.end);
    if (measured) out.push({ value: unit.text, start: unit.start, end: unit.end, type: 'unit', from: i + 1, to: i + 1, names: measured });
  }
  // names: runs of proper nouns (not a sentence's first word unless a person's name), not units
  for (let i = 0; i < terms.length; i++) {
    const proper = (t: Term): boolean => (t.tags.has('ProperNoun') || t.tags.has('Person') || t.tags.has('Organization')) && !PRONOUNS.test(t.text) && !UNITS.has(t.text.toLowerCase()) && !taken.has(terms.indexOf(t));
    if (!proper(terms[i]!) || out.some((v) => i >= v.from && i <= v.to)) continue;
    let j = i;
    while (j + 1 < terms.length && proper(terms[j + 1]!) && terms[j + 1]!.start - terms[j]!.end <= 1) j++;
    const person = terms.slice(i, j + 1).some((t) => t.tags.has('Person'));
    if (i === 0 && !person) {
      i = j;
      continue;
    }
    // a product and its version are one value (PostgreSQL 15, Node 20)
    const version = out.findIndex((v) => v.type === 'number' && v.from === j + 1 && v.start === terms[j]!.end + 1 && !person);
    if (version >= 0) {
      const v = out.splice(version, 1)[0]!;
      out.push({ value: text.slice(terms[i]!.start, v.end), start: terms[i]!.start, end: v.end, type: 'version', from: i, to: v.to });
      i = v.to;
      continue;
    }
    const value = text.slice(terms[i]!.start, terms[j]!.end).replace(/[.,;:!?)]+$/, '').replace(/'s$/, '');
    if (value.length >= 2) out.push({ value, start: terms[i]!.start, end: terms[i]!.start + value.length, type: person ? 'person' : 'name', from: i, to: j });
    i = j;
  }
  return out.sort((a, b) => a.start - b.start);
}

function lastIndex<T>(xs: readonly T[], f: (x: T, k: number) => boolean): number {
  for (let k = xs.length - 1; k >= 0; k--) if (f(xs[k]!, k)) return k;
  return -1;
}

interface Sentence {
  offset: { start: number; length: number };
  terms: Term[];
}

type Parsed = { offset: { start: number; length: number }; terms: { text: string; post?: string; tags: string[]; chunk?: string; offset: { start: number; length: number } }[] };

/**
 * compromise's sentences, split again where it took an acronym's full stop for an abbreviation's
 * ("… issued by the Falcon internal CA. Clients older than …").
 */
function sentencesOf(parsed: Parsed[]): Sentence[] {
  const out: Sentence[] = [];
  for (const s of parsed) {
    let current: Term[] = [];
    const push = (): void => {
      if (current.length) out.push({ offset: { start: current[0]!.start, length: current.at(-1)!.end - current[0]!.start + 1 }, terms: current });
      current = [];
    };
    s.terms.forEach((t, k) => {
      current.push({ text: t.text, tags: new Set(t.tags), chunk: t.chunk ?? '', start: t.offset.start, end: t.offset.start + t.offset.length });
      const next = s.terms[k + 1];
      if (next && /^\.\s*$/.test(t.post ?? '') && /^[A-Z]{2,}$/.test(t.text) && /^[A-Z][a-z]/.test(next.text)) push();
    });
    push();
    // the last sentence keeps compromise's own length (its closing punctuation)
    if (out.length && s.terms.length) {
      const last = out.at(-1)!;
      last.offset.length = Math.max(last.offset.length, s.offset.start + s.offset.length - last.offset.start);
    }
  }
  return out;
}

const clean = (s: string): string => s.replace(/\s+/g, ' ').replace(/\s+([,.;:?!)])/g, '$1').trim();
const SUBORDINATOR = '(when|if|once|after|before|while|because|since|unless|until|whenever)';
const SUBORDINATORS = new RegExp(`^${SUBORDINATOR}$`, 'i');
const SUBORDINATORS_LEAD = new RegExp(`^${SUBORDINATOR}\\s+`, 'i');
const lowerFirst = (s: string): string => s.replace(/^(The|A|An|This|These|Each|Every|All)\b/, (w) => w.toLowerCase());
/** A phrase from the start of a sentence as it reads mid-sentence: its article and a capitalised first word lowered. */
const midSentence = (s: string): string => lowerFirst(s).replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
/** The first letter capitalised, unless the first word is code (`zlib.constants.Z_RLE`, `memLevel`, `req.pipe()`), which keeps its case. */
const upperFirst = (s: string): string => (/^(?!e\.g\.|i\.e\.)(?=[a-z])[\w$]*(?:[._$()/][\w$(]|[a-z][A-Z])/.test(s) ? s : s.charAt(0).toUpperCase() + s.slice(1));

/**
 * A rule that forbids something ("it must never be published through the public load balancer",
 * "the builder is never allowed to query the primary database", "the collector never drops
 * metrics"): the yes/no questions that ask whether it is allowed, and the answer ("No, never").
 * `subject` is who the rule binds; the clause ends at the next comma, semicolon or sentence end.
 */
export function ruleQuestions(subject: string, clause: string): { value: string; questions: string[] } | undefined {
  const m = /^(?:(must|may|can|should|shall|will|is|are)\s+)?(never|not)\s+(.+)$/i.exec(clause.trim());
  // a bare "not" negates a word, not a rule (anything not written here)
  if (!m || (!m[1] && m[2]!.toLowerCase() === 'not') || /^(nobody|no one|nothing|none)$/i.test(subject)) return undefined;
  const [, aux, neg, restRaw] = m;
  let rest = restRaw!.replace(/[.!?]+$/, '').trim();
  const length = rest.split(/\s+/).length;
  if (length < 2 || length > 14) return undefined;
  const S = subject;
  const value = neg!.toLowerCase() === 'never' ? 'No, never' : `No, ${aux ? `${aux.toLowerCase()} not` : 'not'}`;
  if (aux && /^(is|are)$/i.test(aux)) {
    // is never allowed to query … → can S query …
    const allowed = /^(allowed|permitted)\s+to\s+(.+)$/i.exec(rest);
    // "cookies are not stored by default": "No, not stored by default" ("No, are not" says nothing)
    if (!allowed) return { value: neg!.toLowerCase() === 'never' ? value : `No, not ${rest}`, questions: [`Is it true that ${S} ${aux.toLowerCase()} ${rest}?`, `${upperFirst(aux.toLowerCase())} ${S} ever ${rest}?`] };
    rest = allowed[2]!;
  } else if (!aux) {
    // never drops metrics → does S drop metrics
    const [verb, ...more] = rest.split(/\s+/);
    rest = [verbForms(verb!).infinitive, ...more].join(' ');
    return { value, questions: [`Does ${S} ${rest}?`, `Is it true that ${S} may ${rest}?`, `Will ${S} ever ${rest}?`, `Can ${S} ${rest}?`] };
  }
  return { value, questions: [`Can ${S} ${rest}?`, `May ${S} ${rest}?`, `Is it OK for ${S} to ${rest}?`, `Is it true that ${S} may ${rest}?`] };
}

/** The wh-phrase that asks for a value of this type, given the noun right before it. */
function whPhrase(v: Value, noun: string | undefined, unit: string | undefined): string {
  switch (v.type) {
    case 'duration':
      return 'how long';
    case 'count':
      return `how many ${unit ?? 'times'}`;
    case 'size':
      return 'what size';
    case 'person':
      return 'who';
    case 'time':
      return /\d:\d/.test(v.value) ? 'what time' : 'which day';
    case 'path':
      return noun ? `which ${noun}` : 'which path';
    case 'version':
      return 'which version';
    case 'unit':
      return 'what unit';
    default:
      return noun ? `which ${noun}` : 'what';
  }
}

/** Synonyms users reach for, by attribute word. */
const SYNONYMS: Record<string, string[]> = {
  port: ['listening port', 'TCP port'],
  timeout: ['time limit', 'deadline'],
  owner: ['owning team', 'maintainer'],
  team: ['owning team', 'group'],
  error: ['error code', 'failure code'],
  code: ['error code', 'identifier'],
  limit: ['maximum', 'cap'],
  version: ['release', 'version number'],
  path: ['location', 'folder'],
  directory: ['folder', 'location'],
  schedule: ['time', 'run time'],
  queue: ['queue name', 'topic'],
  retries: ['retry count', 'attempts'],
  region: ['location', 'data centre'],
  size: ['maximum size', 'limit'],
  lifetime: ['TTL', 'expiry'],
  interval: ['period', 'frequency'],
  variable: ['environment variable', 'setting'],
};

/**
 * How people ask for a kind of value in their own words, beyond the words of the sentence (the
 * method's later versions have an LLM write about ten questions per sentence; a small model gets
 * these instead). Each concept is recognised from the value's type, the noun before it, the
 * verb that governs it and the sentence's words; `S` is the subject. Written from the kinds of
 * values specs hold, not from the evaluation's questions.
 */
export function conceptQuestions(S: string, v: { type: string; value: string; noun?: string; verb?: string; unit?: string; kind?: string; sentence: string }): string[] {
  // the sentence's words other than the value's own ("Run `npm test`" is no "runs" sentence)
  const words = new Set(v.sentence.replace(v.value, ' ').toLowerCase().match(/[a-z]+/g) ?? []);
  const has = (...ws: string[]): boolean => ws.some((w) => words.has(w) || v.verb?.startsWith(w) || v.noun === w);
  const out: string[] = [];
  if (v.noun === 'port' || (v.type === 'number' && has('port', 'listens', 'listen'))) {
    out.push(`Which port does ${S} listen on?`, `What port number do clients use for ${S}?`, `On which port can ${S} be reached?`, `Where do I connect to ${S}: which port?`, `${upperFirst(S)} runs on what port?`);
  }
  if ((v.type === 'name' || v.type === 'person') && (v.kind === 'team' || v.kind === 'group' || has('owned', 'owns', 'owner', 'maintained', 'maintains', 'operated', 'operates', 'run', 'runs', 'managed', 'supported', 'belongs', 'responsible', 'team'))) {
    out.push(`Which team owns ${S}?`, `Who maintains ${S}?`, `Who is responsible for ${S}?`, `Which team should I ask about ${S}?`, `Who operates ${S}?`, `Whose component is ${S}?`);
  }
  if (v.type === 'count' && has('retry', 'retries', 'retried', 'attempt', 'attempts', 'tries', 'again')) {
    out.push(`How many times does ${S} retry?`, `How many attempts does ${S} make?`, `How often does ${S} try again before it gives up?`, `What is the retry limit of ${S}?`);
  } else if (v.type === 'count') {
    out.push(`How many ${v.unit ?? 'are there'} for ${S}?`, `What is the count of ${v.unit ?? 'them'} for ${S}?`);
  }
  if (v.type === 'code' && has('error', 'code', 'fails', 'fail', 'rejects', 'rejected', 'returns', 'status', 'responds')) {
    out.push(`Which error code does ${S} return?`, `What code does ${S} fail with?`, `Which error do callers of ${S} get?`, `What status does ${S} report when it fails?`);
  }
  if (v.type === 'size') {
    out.push(`What is the largest size ${S} accepts?`, `How big may it be for ${S}?`, `What is the size limit of ${S}?`, `What is the maximum for ${S}, in ${v.unit ?? 'bytes'}?`);
  }
  if (v.type === 'duration') {
    if (has('expire', 'expires', 'kept', 'keeps', 'retained', 'retains', 'retention', 'stored', 'stores', 'cached', 'caches', 'lives', 'ttl', 'deleted', 'purged')) {
      out.push(`How long does ${S} keep it?`, `How long are things kept by ${S}?`, `When does it expire in ${S}?`, `What is the retention period of ${S}?`);
    } else if (has('timeout', 'times', 'wait', 'waits', 'abandons', 'gives', 'cancelled', 'aborted')) {
      out.push(`How long does ${S} wait before it times out?`, `What is the timeout of ${S}?`, `After how long does ${S} give up?`);
    } else if (has('every', 'runs', 'scheduled', 'interval', 'polls', 'refreshes', 'rotates', 'rotated')) {
      out.push(`How often does ${S} run?`, `What is the interval of ${S}?`, `How frequently does ${S} do it?`);
    } else {
      out.push(`How long is it for ${S}?`, `What duration does ${S} use?`);
    }
  }
  if (v.type === 'version') out.push(`Which version does ${S} require?`, `What version is ${S} on?`);
  if (v.type === 'path' && /^(\/|\.{1,2}\/|~\/)|\.[a-z]{1,5}$/.test(v.value)) out.push(`Where does ${S} keep it?`, `What is the path for ${S}?`, `In which file or folder is it for ${S}?`);
  if (v.type === 'time') {
    if (/\d:\d/.test(v.value)) out.push(`At what time does ${S} run?`, `When does ${S} run each day?`);
    else out.push(`On which day is ${S}?`, `When is ${S}: which day?`, `What date is ${S}?`);
  }
  return out;
}

/**
 * How the document's running text names a heading's subject: "## Ingest Gateway" is "the ingest
 * gateway" where the text writes it in lower case, "## Ironbark" stays "Ironbark" where the text
 * writes it capitalised mid-sentence; a heading the text never repeats is "the " + the heading
 * with its first letter lowered (Title Case words after it kept).
 */
export function headingName(heading: string, text: string): string {
  const words = heading.match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu);
  if (words && words.length <= 6) {
    const re = new RegExp(`(?<=(\\S+)\\s+)${words.join('\\s+')}(?![\\p{L}\\p{N}])`, 'giu');
    let proper: string | undefined;
    for (const m of text.matchAll(re)) {
      if (/^#/.test(text.slice(text.lastIndexOf('\n', m.index) + 1))) continue;
      const name = m[0].replace(/\s+/g, ' ');
      const the = /^the$/i.test(m[1]!) ? 'the ' : '';
      if (/^\p{Ll}/u.test(name)) return `the ${name}`;
      // capitalised after a lower-case word: a proper name, written as is
      if (!/[.!?:]$/.test(m[1]!) && /^\p{Ll}/u.test(m[1]!)) proper ??= `${the}${name}`;
    }
    if (proper) return proper;
  }
  return lowerFirst(/^[A-Z][a-z]/.test(heading) ? `the ${heading[0]!.toLowerCase()}${heading.slice(1)}` : heading);
}

/**
 * A section's component named by what the section says it does, as users often name it ("the
 * service that sends SMS", "itinerary computation") rather than by its name: the first sentence
 * that mentions the component, as a relative clause — "The route planner computes multi-stop
 * itineraries for trucks and barges, taking …" gives "the planner that computes multi-stop
 * itineraries for trucks and barges"; "Access tokens are minted by the auth service, which …"
 * gives "the service that access tokens are minted by". `component` is `headingName`'s.
 */
export function roleName(component: string, sentences: readonly string[]): string | undefined {
  const name = component.replace(/^the /, '');
  const words = name.match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu);
  if (!words || words.length > 6) return undefined;
  const kind = component.startsWith('the ') ? words.at(-1)!.toLowerCase() : 'component';
  const mention = new RegExp(`(?<![\\p{L}\\p{N}])(?:the\\s+)?(?:${words.join('\\s+')}|${kind})(?![\\p{L}\\p{N}])`, 'iu');
  for (const sentence of sentences) {
    // the first clause: up to a semicolon, a colon, or a comma that opens an aside (", which …", ", a …")
    const clause = sentence.split(/\s*[;:]\s|,\s+(?=(?:which|who|whose|where|a|an|and|but|so|while|taking|making|using)\s)|\s+so that\s/i)[0]!.replace(/[.!?]+$/, '');
    const m = mention.exec(clause);
    if (!m) continue;
    const before = clean(clause.slice(0, m.index));
    const after = clean(clause.slice(m.index + m[0].length)).replace(/^,\s*/, '');
    // the component as an object (… are minted by the auth service): the clause before it
    const object = /\b(by|into|to|from|in|on|with|through|of)$/i.test(before);
    const phrase = object ? before : after;
    const n = phrase.split(/\s+/).length;
    if (!phrase || n < 2 || n > 16 || (!object && (!/^[a-z]/.test(phrase) || /^(and|or|but|nor|on|in|at|for|to|of|with|from|by|as)\b/.test(phrase)))) continue;
    return `the ${kind} that ${object ? midSentence(phrase) : phrase}`;
  }
  return undefined;
}

/** The noun phrase whose last word ends at `at` (the alarm, the dead-letter queue), at most five words, or undefined where no noun ends there. */
function nounPhraseBefore(terms: readonly Term[], at: number): string | undefined {
  const last = terms.findIndex((t) => t.end === at);
  const part = (t: Term): boolean => (t.tags.has('Noun') || t.tags.has('Adjective') || t.tags.has('Determiner') || t.tags.has('Possessive')) && !t.tags.has('Pronoun') && !t.tags.has('Preposition') && !t.tags.has('Value') && !(t.tags.has('Verb') && !t.tags.has('Noun'));
  if (last < 0 || !terms[last]!.tags.has('Noun') || !part(terms[last]!)) return undefined;
  let first = last;
  while (first > 0 && last - first < 4 && part(terms[first - 1]!)) first--;
  const phrase = terms.slice(first, last + 1).map((t) => t.text).join(' ');
  return terms[first]!.tags.has('Determiner') || terms[first]!.tags.has('Possessive') ? midSentence(phrase) : terms[first]!.tags.has('ProperNoun') ? phrase : `the ${midSentence(phrase)}`;
}

/** Facts of one document: every value of a prose sentence, with the questions that ask for it. */
export function proseFacts(file: string, text: string, o: { maxFacts?: number } = {}): { facts: Fact[]; report: ProseReport } {
  const maxFacts = o.maxFacts ?? 2000;
  let note: string | undefined;
  let source = text;
  if (source.length > PROSE_LIMIT) {
    source = source.slice(0, source.lastIndexOf('\n', PROSE_LIMIT) + 1 || PROSE_LIMIT);
    note = `facts from the first ${Math.round(PROSE_LIMIT / 1000)} KB of ${Math.round(text.length / 1000)} KB`;
  }
  const blocks = proseBlocks(source);
  if (!looksEnglish(blocks.map((b) => b.text).join(' '))) return { facts: [], report: { facts: 0, note: 'not English prose: no fact questions (its segments are still learned)' } };
  const facts: Fact[] = [];
  // one scan of the document per distinct heading, not per block
  const headingNames = new Map([...new Set(blocks.map((b) => b.heading))].map((h) => [h, h ? headingName(h, source) : '']));
  // compromise parses a block once, when it is first needed
  const parsed = new Map<Block, Sentence[]>();
  const sentencesIn = (block: Block): Sentence[] => {
    // a term list's item is parsed from its description on (the term's name and colon blanked: they are no sentence's words)
    if (!parsed.has(block)) parsed.set(block, sentencesOf(nlp((block.term ? ' '.repeat(block.term.at) + block.text.slice(block.term.at) : block.text).replace(/\n/g, ' ')).json({ offset: true, terms: { offset: true } }) as Parsed[]));
    return parsed.get(block)!;
  };
  // each section's component by what it does, from the section's first three sentences
  const sections = new Map<string, Block[]>();
  for (const b of blocks) if (b.heading) sections.set(b.heading, sections.get(b.heading) ?? []).get(b.heading)!.push(b);
  const roles = new Map<string, string | undefined>();
  for (const [heading, sectionBlocks] of sections) {
    const first: string[] = [];
    for (const block of sectionBlocks) {
      first.push(...sentencesIn(block).map((x) => block.text.slice(x.offset.start, x.offset.start + x.offset.length)));
      if (first.length >= 3) break;
    }
    roles.set(heading, roleName(headingNames.get(heading)!, first.slice(0, 3)));
  }
  // a section that documents a call: the call by what it does, and what it returns
  for (const [heading, sectionBlocks] of sections) {
    const call = callOf(heading);
    const first = sectionBlocks.find((b) => !b.term);
    if (call && first) facts.push(...callFacts(file, call, first).slice(0, Math.max(0, maxFacts - facts.length)));
  }
  // the text before a list ("Available options:"): what its terms are
  let intro = { heading: '', text: '' };
  for (const block of blocks) {
    let lastSubject: { text: string; plural: boolean } | undefined;
    if (facts.length >= maxFacts) {
      note ??= `stopped at ${maxFacts} facts`;
      break;
    }
    // a term list's item: its term, default and bounds are read as such; its other sentences are
    // about the term
    let covered: [number, number][] = [];
    let termTopic: string | undefined;
    if (block.term) {
      const kind = block.kind ?? termKind(`${block.heading} ${intro.heading === block.heading ? intro.text : ''}`);
      const read = termFacts(file, { ...block, term: block.term }, kind);
      facts.push(...read.facts.slice(0, maxFacts - facts.length));
      covered = read.covered;
      termTopic = termSubject(block.term.name, kind);
    } else intro = { heading: block.heading, text: block.text };
    // only blocks that can hold a value are analysed (code spans, digits, capitals inside; the
    // text has its backticks blanked)
    if (!block.code.length && !/\d|[a-z,;]\s+[A-Z]|[A-Z]{2}|\//.test(block.text) && !GIVEN_IN_UNIT.test(block.text)) continue;
    // the section's component named by what it does: the planner that computes itineraries
    const role = block.heading ? roles.get(block.heading) : undefined;
    const sentences = sentencesIn(block);
    for (const s of sentences) {
      const terms = s.terms;
      if (terms.length < 3 || terms.length > 60 || covered.some(([a, b]) => s.offset.start < b && a < s.offset.start + s.offset.length)) continue;
      const sentence = block.text.slice(s.offset.start, s.offset.start + s.offset.length);
      const values = findValues(terms, block.text, block.code.filter(([a, b]) => a >= s.offset.start && b <= s.offset.start + s.offset.length));
      // a sentence that opens with a subordinate clause has its subject after the clause's comma
      // ("When the manifest store is down, the gateway retries …" is about the gateway)
      const comma = SUBORDINATORS.test(terms[0]!.text) ? terms.findIndex((t, k) => k < terms.length - 3 && block.text[t.end] === ',') : -1;
      const s0 = comma >= 0 ? comma + 1 : 0;
      const head = terms[s0]!;
      const firstVerb = terms.findIndex((t, k) => k >= s0 && t.tags.has('Verb') && !(t.tags.has('Noun') && !t.tags.has('Verb')));
      // the main verb: the first one that is not an auxiliary (is owned → owned)
      const mainVerb = terms.findIndex((t, k) => k >= firstVerb && t.tags.has('Verb') && !t.tags.has('Auxiliary') && !t.tags.has('Copula'));
      // the subject: the noun phrase before the first verb; a pronoun stands for the paragraph's
      // last subject (or the heading); a subject that holds a value is no subject (imperatives, names)
      // (an adverb right before the verb is the predicate's: the scheduler never starts …)
      const verbAt0 = firstVerb > s0 ? firstVerb : s0;
      const subjectEnd = verbAt0 > s0 + 1 && /^(never|not|always|also|only|still)$/i.test(terms[verbAt0 - 1]!.text) ? verbAt0 - 1 : verbAt0;
      const relative = terms.findIndex((t, k) => k < subjectEnd && k > s0 && /^(that|which|who|whose)$/i.test(t.text));
      const subjectStop = relative > 0 ? relative : subjectEnd;
      // a subordinate clause with no comma after it gives its own subject (when the manifest store is down → the manifest store)
      const subjectRaw = clean(block.text.slice(head.start, subjectStop > s0 ? terms[subjectStop - 1]!.end : head.start)).replace(SUBORDINATORS_LEAD, '');
      const pronoun = subjectEnd > s0 && PRONOUNS.test(head.text);
      const headingTopic = termTopic ?? (block.heading ? headingNames.get(block.heading) : undefined);
      const properStart = head.tags.has('ProperNoun') || head.tags.has('Acronym');
      // a term list item's first sentence describes the term ("a file name template that …"): the term is its subject
      const describesTerm = block.term !== undefined && s === sentences[0];
      const explicit = subjectRaw && !pronoun && !describesTerm && subjectEnd - s0 <= 8 && !values.some((v) => v.from >= s0 && v.from < subjectEnd) ? (properStart ? subjectRaw : midSentence(subjectRaw)) : undefined;
      // "it"/"its" stand for a singular subject, "they"/"their" for a plural one (else the heading's)
      const plural = /^(they|their|them|these|those)$/i.test(head.text);
      const topic = (pronoun && lastSubject && lastSubject.plural === plural ? lastSubject.text : undefined) ?? headingTopic;
      if (explicit) lastSubject = { text: explicit, plural: terms[subjectStop - 1]!.tags.has('Plural') };
      // a leading pronoun replaced by what it stands for
      const resolved = (str: string): string => {
        if (!pronoun || !topic) return str;
        const rel = head.start - s.offset.start;
        const owner = /^(its|their)$/i.test(head.text) ? `${topic}'s` : topic;
        return upperFirst(`${str.slice(0, rel)}${owner}${str.slice(rel + head.text.length)}`);
      };
      const subject = explicit ?? topic;
      // the heading names the component when the sentence does not ("Requests larger than … are rejected")
      const words = (x: string): string[] => x.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [];
      const inHeading = headingTopic && subject && !words(headingTopic).some((w) => words(subject).includes(w)) ? headingTopic : undefined;
      for (const v of values) {
        if (facts.length >= maxFacts) break;
        if (v.value.length > 80 || (v.type === 'number' && /^[0-9]$/.test(v.value) && v.from === 0) || v.value === block.term?.name) continue;
        const prev = terms[v.from - 1];
        const nounBefore = prev && (v.from > 1 || !/^(set|use|run|add|see|call|pass|export|define)$/i.test(prev.text)) && prev.text.length > 2 && prev.tags.has('Noun') && !prev.tags.has('Preposition') && !prev.tags.has('Value') && !prev.tags.has('Pronoun') && !PRONOUNS.test(prev.text) && !prev.tags.has('Determiner') && !values.some((w) => w !== v && v.from - 1 >= w.from && v.from - 1 <= w.to);
        // the value names itself by the noun before it (port 4652, error QRX-417, version 2.4.1)
        const noun = nounBefore && ['number', 'code', 'path', 'version'].includes(v.type) ? prev.text.toLowerCase() : undefined;
        const unit = v.type === 'count' || v.type === 'size' ? terms[v.to]!.text : undefined;
        // the verb nearest before the value (retries … 3 times; is owned by …)
        const verbAt = lastIndex(terms, (t, k) => k < v.from && k >= Math.max(0, mainVerb) && t.tags.has('Verb') && !t.tags.has('Auxiliary') && !t.tags.has('Copula'));
        const verb = verbAt >= 0 ? terms[verbAt]!.text.toLowerCase() : undefined;
        const byName = (v.type === 'person' || v.type === 'name') && verb && terms[verbAt]!.tags.has('Passive') ? verbForms(verb).present : undefined;
        const attribute = noun ?? (v.type === 'person' || v.type === 'name' ? (verb ? `${verb}${byName ? ' by' : ''}` : 'name') : verb ?? v.type);
        const rel = v.start - s.offset.start;
        // a name before its kind (the Platform Storage team): asked as "which team"
        const kind = (v.type === 'name' || v.type === 'person') && terms[v.to + 1]?.tags.has('Noun') && !terms[v.to + 1]!.tags.has('ProperNoun') ? terms[v.to + 1]! : undefined;
        const det = kind && prev?.tags.has('Determiner') ? prev : undefined;
        const cut = noun ? prev!.start - s.offset.start : det ? det.start - s.offset.start : rel;
        const wh = kind ? `which ${kind.text.toLowerCase()}` : whPhrase(v, noun, unit);
        const subj = v.from < subjectEnd && explicit === undefined ? topic : subject;
        // a long sentence is asked by the clause that holds the value, behind its subject
        const valueEnd = kind ? kind.end - s.offset.start : rel + v.value.length;
        let lo = 0;
        let hi = sentence.length;
        // the clause after ", which" is about the noun phrase before the comma (… does not close the alarm, which stays open …)
        let which: string | undefined;
        if (terms.length > 20) {
          for (const m of sentence.matchAll(/[;:]\s|,\s(?:and|but|whose|which|while|so)\s|,\s(?=[a-z]+\s)/g)) {
            if (m.index! + m[0].length <= cut) {
              lo = m.index! + m[0].length;
              which = /^,\swhich\s$/i.test(m[0]) ? nounPhraseBefore(terms, s.offset.start + m.index!) : undefined;
            } else if (m.index! >= valueEnd && hi === sentence.length) hi = m.index!;
          }
        }
        const leadSubject = which ?? subj;
        const lead = lo > 0 && leadSubject ? `${upperFirst(leadSubject)}: ` : '';
        const before = clean(sentence.slice(lo, cut));
        const after = clean(sentence.slice(valueEnd, hi)).replace(/[.!?]+$/, '');
        const echo = clean(`${lead}${lo === 0 ? resolved(`${before} ${v.from === 0 ? upperFirst(wh) : wh}`) : `${before} ${wh}`}${after ? ` ${after}` : ''}?`);
        const blanked = clean(`${lead}${lo === 0 ? resolved(sentence.slice(0, rel)) : sentence.slice(lo, rel)}___${sentence.slice(rel + v.value.length, hi)}`).replace(/[,;:]$/, '.');
        const questions = new Set<string>();
        questions.add(echo);
        questions.add(`Fill in the blank: ${blanked}`);
        // the section's component where the sentence names it not (… or names only a part of it:
        // "The `status` property is set to `400`" under "### entity parse failed")
        const unnamed = !inHeading && subj && explicit === undefined && !pronoun && !words(subj).some((w) => words(echo).includes(w)) ? subj : undefined;
        for (const where of [inHeading, unnamed]) {
          if (!where) continue;
          questions.add(`In ${where}: ${lowerFirst(echo)}`);
          questions.add(`About ${where}, fill in the blank: ${blanked}`);
        }
        if (subj && noun && inHeading) questions.add(`What is the ${noun} of ${subj} in ${inHeading}?`);
        // asked of the sentence's subject and of the section's component by the name the text
        // gives it ("the gateway" and "the ingest gateway"), as users may name either
        for (const who of new Set([subj, inHeading ?? headingTopic])) {
          if (!who) continue;
          if (noun) {
            questions.add(`What is the ${noun} of ${who}?`);
            questions.add(`${upperFirst(who)}: which ${noun}?`);
            questions.add(`According to ${file}, what ${noun} does ${who} use?`);
            for (const syn of SYNONYMS[noun] ?? []) questions.add(`What is the ${syn} of ${who}?`);
          }
          if (byName) questions.add(`${kind ? `Which ${kind.text.toLowerCase()}` : 'Who'} ${byName} ${who}?`);
          if (v.type === 'duration' && verb) questions.add(`For ${who}, how long (${verb})?`);
          if ((v.type === 'count' || v.type === 'size') && verb) questions.add(`For ${who}, ${wh} (${verb})?`);
          // in the words people use
          for (const q of conceptQuestions(who, { type: v.type, value: v.value, noun, verb, unit, kind: kind?.text.toLowerCase(), sentence })) questions.add(q);
        }
        if (v.type === 'term' && v.names) {
          const np = v.names.replace(/^(a|an|the)\s+/i, '');
          questions.add(`What is ${v.names} called?`);
          questions.add(`What do we call ${v.names}?`);
          questions.add(`What name is used for the ${np}?`);
          questions.add(`What is the name of the ${np}?`);
          if (subj) questions.add(`What is the ${np} of ${subj} called?`);
        }
        if (v.type === 'unit' && v.names) {
          // what it measures, from its last determiner ("Returns a timestamp" → "timestamp")
          const np = v.names.replace(/^.*\b(?:a|an|the|its|their)\s+/i, '');
          questions.add(`In what unit is the ${np} given?`);
          questions.add(`What unit is the ${np} in?`);
          questions.add(`In which unit is the ${np} expressed?`);
          if (subj) questions.add(`In what unit is the ${np} of ${subj} given?`);
        }
        if (role) {
          if (noun) questions.add(`What is the ${noun} of ${role}?`);
          for (const q of conceptQuestions(role, { type: v.type, value: v.value, noun, verb, unit, kind: kind?.text.toLowerCase(), sentence }).slice(0, 2)) questions.add(q);
        }
        facts.push({
          kind: 'prose',
          subject: subj ?? inHeading ?? file,
          attribute,
          value: v.value.replace(/\s+/g, ' '),
          path: file,
          line: lineOf(block, v.start),
          evidence: clean(sentence),
          questions: [...questions].filter((q) => !q.includes(v.value)),
        });
      }
      // a rule that forbids something: asked as yes/no questions of the sentence's subject and the
      // section's component
      const negation = terms.findIndex((t, k) => k >= subjectEnd && k > s0 && /^(never|not)$/i.test(t.text));
      // the rule binds the sentence's own subject (or what its pronoun stands for), and the
      // section's component when that subject is the component by a shorter name (the bridge)
      const ruleSubject = explicit ?? (pronoun ? topic : undefined);
      if (negation > 0 && ruleSubject && facts.length < maxFacts) {
        const from = /^(must|may|can|should|shall|will|is|are)$/i.test(terms[negation - 1]!.text) ? negation - 1 : negation;
        const relativeClause = from > 0 && /^(that|which|who)$/i.test(terms[from - 1]!.text);
        const clause = block.text.slice(terms[from]!.start, s.offset.start + s.offset.length).split(/[,;:.](?:\s|$)/)[0]!;
        const sameComponent = headingTopic && headingTopic !== ruleSubject && words(headingTopic).some((w) => words(ruleSubject).includes(w)) ? headingTopic : undefined;
        const asked = relativeClause ? [] : [ruleSubject, sameComponent].flatMap((who) => (who ? ruleQuestions(who, clean(clause)) : undefined) ?? []);
        if (asked.length) {
          facts.push({
            kind: 'prose',
            subject: ruleSubject,
            attribute: 'rule',
            value: asked[0]!.value,
            path: file,
            line: lineOf(block, terms[negation]!.start),
            evidence: clean(sentence),
            questions: [...new Set(asked.flatMap((r) => r.questions))],
          });
        }
      }
    }
  }
  // the values the document's code examples set, and defaults written as an object literal
  facts.push(...exampleFacts(file, source).slice(0, Math.max(0, maxFacts - facts.length)));
  // a question asked of two different values (two durations of one component) teaches neither: dropped
  const values = new Map<string, Set<string>>();
  for (const f of facts) for (const q of f.questions) values.set(q, (values.get(q) ?? new Set()).add(f.value));
  for (const f of facts) f.questions = f.questions.filter((q) => values.get(q)!.size === 1);
  return { facts, report: { facts: facts.length, note } };
}
