/**
 * Facts from a document's term lists — the commonest shape of a fact in real READMEs, an option
 * list ("* `maxTimeout`: The maximum number of milliseconds between two retries. Default is
 * `Infinity`."): the term is what the item describes, so it is asked for by its description
 * ("Which option sets the maximum number of milliseconds between two retries?"), and the item's
 * default and bounds are asked of the term and of its description ("What is the maximum number of
 * milliseconds between two retries by default?"). Parts of speech come from `compromise`.
 */
import nlp from 'compromise';
import type { Fact } from './facts';

/** A list item that describes a term: where its description starts in the item's text. */
export interface TermItem {
  /** The term as written (an option, a key, a flag, a method): `maxTimeout`, `--watch`, `reset()`. */
  name: string;
  /** Offset in the item's text where the description starts. */
  at: number;
}

/**
 * "- `name`: description", "* **name** — description", "- `name` (default: `x`). Description",
 * "- `name` Description" (a capitalised word after the name), "* **name** true/false, if …" (a
 * yes/no type and a comma after the name, no colon), "- [name](link) - description" (a related
 * package)
 * (the raw Markdown of a list item; a default in parentheses stays in the item's text, where
 * `termFacts` reads it).
 */
const TERM = /^\s*[-*+]\s+(?:`([^`\n]+)`|\*\*([^*\n]+)\*\*|\[([^\]\n]+)\]\([^)\n]*\))\s*(?::|\s[-–—]\s|\(defaults?\b[^()\n]*\)\s*[.:]?|(?=\s(?:true\/false|boolean)\s*,))\s*/i;
/** "- `zlib.constants.Z_RLE` Use to …": a code span and a capital letter (a bold word so, "- **Note** The …", is no term). */
const TERM_THEN_CAPITAL = /^\s*[-*+]\s+`([^`\n]+)`\s+(?=[A-Z])/;
/** A term is a name (an option, a method with its arguments, a flag, a path), not a number or an expression. */
const TERM_NAME = /^(?:-{0,2}|\.)[A-Za-z_$][\w.$/-]*(?:\([^()\n]*\))?$/;

/** A marker before a term's description that says whether it must be given ("[OPTIONAL] - ", "(required)", "**Optional**:"). */
const OPTIONAL_MARKER = /^\s*(?:\[(?:optional|required)\]|\((?:optional|required)\)|_\(?(?:optional|required)\)?_|\*\*(?:optional|required)\*\*)\s*(?:[-–—:]\s*)?/i;

/** The term a list item describes, when it is one ("* `retries`: …"); a method's arguments are left out (`.unwatch(path)` → `.unwatch()`). */
export function termItem(raw: string): TermItem | undefined {
  const m = TERM.exec(raw) ?? TERM_THEN_CAPITAL.exec(raw);
  const name = (m?.[1] ?? m?.[2] ?? m?.[3])?.trim();
  if (!m || !name || !TERM_NAME.test(name)) return undefined;
  // "- `onComplete`: [OPTIONAL] - Invoked when …": the description starts after the marker
  const marker = OPTIONAL_MARKER.exec(raw.slice(m[0].length));
  return { name: name.replace(/\([^()]+\)$/, '()'), at: m[0].length + (marker?.[0].length ?? 0) };
}

/** What a document calls the terms of a list, from the text before it ("Available options:", "can contain any of the following keys:"). */
export function termKind(intro: string): string | undefined {
  const m = /\b(option|setting|key|parameter|argument|flag|field|propert(?:y|ies)|attribute|variable|command|method|event)s?\b/i.exec(intro);
  return m ? m[1]!.toLowerCase().replace(/ies$/, 'y') : undefined;
}

/** A heading that says what the terms under it are, and nothing else ("Options", "Events", "API options"). */
const KIND_HEADING = /^(?:[\w.]+\s+)?(?:option|setting|key|parameter|argument|flag|field|propert(?:y|ies)|attribute|variable|command|method|event)s?(?:\s+object)?\s*:?$/i;

/**
 * The term a section documents by its heading alone, as API references write options, properties
 * and events ("##### concurrency" under "#### options", "#### .isRateLimited", "## expired" under
 * "# Events"), with what the nearest heading above calls it: a name in a code span, a name shaped
 * like code (camelCase, a dot, an underscore), or a name under a heading that says what its terms
 * are. Calls are `callOf`'s; a capitalised word, a version or a file name not in a code span is
 * none ("Usage", "v2.1.0", "Node.js"). `ancestors` are the headings above, nearest last.
 */
export function headingTerm(raw: string, ancestors: readonly string[]): { name: string; kind?: string } | undefined {
  const name = raw.replace(/!?\[([^\]\n]*)\]\([^)\n]*\)/g, '$1').replace(/`|\*\*/g, '').trim();
  const coded = raw.includes('`');
  // a title, a version ("v2.1.0"), a product or file name ("Node.js", "index.d.ts"), "Misc.": not in a code span, no term
  if (!TERM_NAME.test(name) || /\(/.test(name)) return undefined;
  if (!coded && (/^[A-Z]/.test(name) || /^v?\d/.test(name) || /\.$|\.(?:js|ts|mjs|cjs|md|json|ya?ml)$/i.test(name))) return undefined;
  let kind: string | undefined;
  for (const heading of [...ancestors].reverse()) {
    const a = heading.replace(/`|\*\*/g, '').trim();
    // a call's own terms are its arguments ("##### fn" under ".add(fn, options?)")
    const call = /\(([^()]*)\)/.exec(a);
    if (call && callOf(a)) {
      if (!new RegExp(`(?:^|[\\s,\\[])${name.replace(/[$.]/g, '\\$&')}\\??(?:[\\s,\\]]|$)`).test(call[1]!)) continue;
      kind = 'argument';
      break;
    }
    // a heading that names what its terms are, and nothing else ("Options", "Events", "API options"; not "Key concepts", "command-exists")
    if (KIND_HEADING.test(a)) kind = termKind(a);
    if (kind) break;
  }
  kind ??= name.startsWith('.') ? 'property' : undefined;
  return coded || kind || /[a-z][A-Z]|[._$]/.test(name) ? { name, ...(kind ? { kind } : {}) } : undefined;
}

/** What a term is called as a subject: "the retries option", "level 2" (a numbered one), or its name where the list does not say what its terms are. */
export const termSubject = (name: string, kind: string | undefined): string => (kind ? (/^\d/.test(name) ? `${kind} ${name}` : `the ${name} ${kind}`) : name);

const clean = (s: string): string => s.replace(/\s+/g, ' ').replace(/\s+([,.;:?!])(?=\s|$)/g, '$1').trim();
const lowerFirst = (s: string): string => s.replace(/^[A-Z](?=[a-z]|\s)/, (c) => c.toLowerCase());

/**
 * "the default is X", "defaults to X", "default: X", "by default it is X", "falls back to X" (the
 * value follows), and "default `X`" where a code span or a number follows at once (`bare`).
 */
const DEFAULT = /(?:^|[\s,(;])(?:it\s+)?(?:defaults?\s+(?:to|is)|default(?:\s+value)?\s+is|default(?:\s+value)?\s*:|by\s+default(?:\s+it)?\s+is|falls?\s+back\s+to|(default))\s+/gi;
/** "minimum value is X", "max: X" (the value follows). */
const BOUND = /\b(min|max)(?:imum)?(?:\s+value)?\s*(?:is|of|:)\s+/gi;
/** Where the sentence that runs from `from` ends (a stop not after e.g. or i.e.), or the text's end. */
function sentenceEnd(text: string, from: number): number {
  const end = /(?<!\b(?:e\.g|i\.e|etc|vs))[.!?](?=\s|$)/g;
  end.lastIndex = from;
  return end.exec(text)?.index ?? text.length;
}

/** The 1-based source line of `offset` in a block of text that starts at line `item.line`. */
export const lineOf = (item: { text: string; line: number }, offset: number): number => item.line + (item.text.slice(0, offset).match(/\n/g)?.length ?? 0);

/** The value written at `at` in `text`: a code span starting there, else a number, else (`phrase`) words up to a comma, a stop or "which". */
function valueAt(text: string, code: readonly [number, number][], at: number, phrase: boolean): { value: string; end: number } | undefined {
  const span = code.find(([s]) => s >= at && s <= at + 2);
  if (span) return { value: text.slice(span[0], span[1]).trim(), end: span[1] + 1 };
  const number = /^\s*(\d[\d,.]*(?:\s*(?:ms|milliseconds?|seconds?|minutes?|hours?|days?|[kmg]i?b|bytes?|%))?)(?![\w])/i.exec(text.slice(at));
  if (number) return { value: number[1]!.replace(/[.,]$/, ''), end: at + number[0].length };
  if (!phrase) return undefined;
  const rest = text.slice(at);
  const stop = rest.search(/[.;:)]\s|[.;)]$|,\s|\(|\s[-–—]\s|\s+which\s|\s+(?:or|and)\s+(?:throws|rejects|fails|raises)\b|\s+(?:when|if|once|unless)\s|\n\s*\n/);
  const value = clean(stop < 0 ? rest : rest.slice(0, stop)).replace(/[.,;]$/, '');
  const words = value.split(/\s+/).length;
  return value && words <= 14 ? { value, end: at + (stop < 0 ? rest.length : stop) } : undefined;
}

/** A verb's third-person present form and infinitive through compromise's conjugation (owned → owns, drops → drop). */
export function verbForms(verb: string): { present: string; infinitive: string } {
  const forms = nlp(verb).verbs().conjugate()[0] as { PresentTense?: string; Infinitive?: string } | undefined;
  return { present: forms?.PresentTense ?? verb, infinitive: forms?.Infinitive ?? verb };
}

/**
 * The description as a phrase the questions can hold: "whether to X" (`whether`), a verb phrase
 * ("randomizes the timeouts …", `verb`; "is called if …" for a participle), a noun phrase ("the
 * maximum number of …", `noun`) or what setting it does ("if `true` causes …", `condition`). A
 * "Description:" label and a leading "This is" / "It is" are no part of it ("This is an alias
 * for …": an alias for …).
 */
export function describe(description: string): { form: 'whether' | 'verb' | 'noun' | 'condition'; phrase: string; infinitive?: string } | undefined {
  // "Indicates whether to …" says what "whether to …" says
  const d = clean(description.replace(/\([^()]+\)/g, ' '))
    .replace(/[.,;:]+$/, '')
    .replace(/^description\s*:\s*/i, '')
    // "This event is emitted …", "The error event is emitted …": what it is
    .replace(/^(?:this|the(?:\s+[\w.$-]+)?)\s+(?:event|option|setting|method|function|property|callback|hook|flag)\s+(?=is\s)/i, 'it ')
    .replace(/^(?:this|it)\s+is\s+/i, '')
    .replace(/^(?:indicate|determine|specify|control|decide|set)s?\s+(?=whether\b)/i, '')
    // "whether you want to X", "if you want to X": whether to X
    // (not "if you want to use a custom agent, pass it here": a condition and what to do then)
    .replace(/^(?:whether|if)\s+(?:you|we)\s+(?:want|wish|need)\s+(?=to\s[^,;]*$)/i, 'whether ');
  if (d.split(/\s+/).length < 2) return undefined;
  // "Set to true to call fs.chmod()": whether to call it
  const set = /^set(?:\s+(?:this|it))?\s+to\s+true\s+to\s+(.+)$/i.exec(d);
  if (set) return { form: 'whether', phrase: `to ${set[1]}` };
  // "Use for normal data", "Use to force Huffman encoding only": what it is for, what it does
  const use = /^used?\s+(for|to)\s+(?!be\b)(.+)$/i.exec(d);
  if (use?.[1]!.toLowerCase() === 'for') return { form: 'verb', phrase: `is for ${use[2]}` };
  if (use) return describe(use[2]!);
  // "If set to `false`, …", "if `true` causes …": what setting it does, under its condition
  if (/^(?:if|when|unless)\b/i.test(d)) return { form: 'condition', phrase: lowerFirst(d) };
  if (/^whether\b/i.test(d)) return { form: 'whether', phrase: d.replace(/^whether\s+/i, '') };
  // the first word's tags after "it" and after "to": a verb in both ("Resolve symlinks", "Returns
  // an array") — compromise tags a description's first word alone as a noun too readily, and
  // after one of them alone some nouns as verbs ("it custom …", "to list of …"); after "it" only,
  // a verb when a determiner follows ("Flush every write", "Cache the results")
  const [word, ...more] = d.split(/\s+/);
  const tagsAfter = (lead: string): Set<string> => new Set((nlp(`${lead} ${lowerFirst(d)}`).json() as { terms: { tags: string[] }[] }[])[0]?.terms[1]?.tags ?? []);
  const tags = tagsAfter('it');
  const determiner = /^(the|a|an|every|all|each|any|some|its|their|no|this|these)$/i.test(more[0] ?? '');
  if (tags.has('Verb') && (determiner || tagsAfter('to').has('Verb')) && !tags.has('Gerund')) {
    if (tags.has('PastTense') || tags.has('Participle')) return { form: 'verb', phrase: `is ${lowerFirst(d)}` };
    const forms = verbForms(word!.toLowerCase());
    return { form: 'verb', phrase: [forms.present, ...more].join(' '), infinitive: [forms.infinitive, ...more].join(' ') };
  }
  const np = lowerFirst(d);
  return { form: 'noun', phrase: /^(the|a|an|this|its|any)\s/i.test(np) ? np : `the ${np}` };
}

/** The call a section documents, from its heading ("retry.operation([options])" → "retry.operation()", "new RetryOperation(timeouts)" → "new RetryOperation()"). */
export const callOf = (heading: string): string | undefined => {
  const m = /^\s*(new\s+)?\.?([A-Za-z_$][\w.$]*)\s*\([^()]*\)\s*$/.exec(heading.replace(/\[[^\]]*\]/g, ''));
  return m ? `${m[1] ? 'new ' : ''}${m[2]}()` : undefined;
};

/** The questions that ask a term's default by its name ("What does retries default to?"); `of`: the call it belongs to (" of retry.operation()"). */
export const defaultQuestions = (name: string, kind: string | undefined, of = ''): string[] => [
  `What does ${name} default to?`,
  `What is the default ${name}?`,
  `What is the default value of ${kind ? `the ${name} ${kind}` : name}${of}?`,
  `What is ${name} by default?`,
  `If ${name} is not set, what value does it take?`,
];

/**
 * Facts of one term list item: the term (asked for by its description), its default and its
 * bounds. `text` is the item with Markdown markup blanked (offsets of the source), `code` its code
 * spans, `kind` what the document calls its terms ("option"). Returns the facts and the spans of
 * `text` they cover (its default and bound clauses), which prose reading leaves to them; the
 * description's other values are read as prose about the term.
 */
export function termFacts(
  file: string,
  item: { text: string; code: readonly [number, number][]; line: number; heading: string; term: TermItem; call?: string },
  kind: string | undefined,
): { facts: Fact[]; covered: [number, number][] } {
  const { text, code, term } = item;
  const firstEnd = sentenceEnd(text, term.at);
  const covered: [number, number][] = [];
  // the description: the first sentence less its default and bound clauses
  let [start, end] = [term.at, firstEnd];
  const defaults: { value: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(DEFAULT)) {
    // "the system's default temporary directory" is no default value: a bare "default" takes only a code span or a number
    const v = valueAt(text, code, m.index! + m[0].length, m[1] === undefined);
    // "Default: `zlib.constants.Z_DEFAULT_CHUNK`, or `16384`": a constant and what it is, one value
    const or = v && /^\s*,?\s*or\s+/.exec(text.slice(v.end));
    const next = or ? valueAt(text, code, v!.end + or[0].length, false) : undefined;
    // … not "`false`, or `true` when NODE_ENV is production" (a condition's value)
    const alternative = next && /^\s*(?:[.;)]|\n|$)/.test(text.slice(next.end)) ? next : undefined;
    if (v) defaults.push({ value: alternative ? `${v.value}, or ${alternative.value}` : v.value, start: m.index! + (/^[\s,(;]/.test(m[0]) ? 1 : 0), end: alternative?.end ?? v.end });
  }
  const bounds: { which: 'min' | 'max'; value: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(BOUND)) {
    const v = valueAt(text, code, m.index! + m[0].length, false);
    if (v) bounds.push({ which: m[1]!.toLowerCase() as 'min' | 'max', value: v.value, start: m.index!, end: v.end });
  }
  // "Type: `number`" (an API reference's attribute line)
  const types: { value: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*type\s*:\s+/gi)) {
    const v = valueAt(text, code, m.index! + m[0].length, false);
    if (v) types.push({ value: v.value, start: m.index! + m[0].length, end: v.end });
  }
  // "**ws**: true/false, if you want to proxy websockets": a type before the description
  // (not a list of types: "Boolean, String, RegExp, Array or Function")
  const typed = /^\s*(true\/false|booleans?|strings?|numbers?|integers?|objects?|functions?|arrays?)\s*,(?!\s*(?:true\/false|booleans?|strings?|numbers?|integers?|objects?|functions?|arrays?|regexp|null|undefined)\b)\s*/i.exec(text.slice(term.at));
  if (typed) {
    types.push({ value: typed[1]!, start: term.at, end: term.at + typed[0].length });
    start = term.at + typed[0].length;
  }
  for (const c of types) covered.push([c.start, c.end]);
  for (const c of [...defaults, ...bounds].sort((a, b) => a.start - b.start)) {
    covered.push([c.start, c.end]);
    if (c.start < start || c.start >= end) continue;
    // a clause that opens the description ("*(default: `0`)* the standard ttl …") goes from its front, else the rest goes
    if (!text.slice(start, c.start).replace(/[\s(*_]/g, '')) start = Math.min(c.end, end);
    else end = c.start;
  }
  const d = describe(text.slice(start, end).replace(/^[\s)*_.,:;-]+/, '').replace(/[\s,;(]+$/, ''));
  // a setting-like term is also asked for as an "option" (users say "which option" of keys and
  // flags); a list that does not say what its terms are asks "which one"
  const settingLike = kind !== undefined && /^(option|setting|key|parameter|argument|flag|field|property|attribute|variable)$/.test(kind);
  const kinds = kind === undefined ? ['one'] : settingLike ? [...new Set([kind, 'option'])] : [kind];
  const call = item.call ?? callOf(item.heading);
  const name = term.name;
  const subject = termSubject(name, kind);
  const facts: Fact[] = [];
  const fact = (attribute: string, value: string, line: number, questions: string[]): void => {
    const qs = [...new Set(questions.map((q) => clean(q)))].filter((q) => !q.includes(value) || attribute === 'name');
    if (qs.length) facts.push({ kind: 'prose', subject, attribute, value, path: file, line, evidence: clean(text), questions: qs });
  };
  // the term, asked for by what it does
  if (d) {
    const asks = kinds.flatMap((k) => {
      const of = call ? ` of ${call}` : '';
      if (d.form === 'whether') {
        const to = /^to\s+(.+)$/i.exec(d.phrase)?.[1];
        return [`Which ${k} sets whether ${d.phrase}?`, `Which ${k}${of} decides whether ${d.phrase}?`, ...(to ? [`Which ${k} do I set to ${to}?`, `Which ${k} makes it ${to}?`, `What is the name of the ${k} to ${to}?`] : [])];
      }
      if (d.form === 'condition') return [`Which ${k}, ${d.phrase}?`, `Which ${k}${of} is it that, ${d.phrase}?`];
      if (d.form === 'verb') return [`Which ${k} ${d.phrase}?`, `Which ${k}${of} ${d.phrase}?`, ...(d.infinitive ? [`Which ${k} is used to ${d.infinitive}?`, `Which ${k} do I use to ${d.infinitive}?`] : [`What is the name of the ${k} that ${d.phrase}?`])];
      return [`Which ${k} sets ${d.phrase}?`, `Which ${k} controls ${d.phrase}?`, `Which ${k}${of} is ${d.phrase}?`, `Which ${k} do I use for ${d.phrase}?`, `What is the name of the ${k} for ${d.phrase}?`];
    });
    fact('name', name, item.line, asks);
  }
  // its default, asked of the term and of what it is
  for (const def of defaults) {
    const of = call ? ` of ${call}` : '';
    const asks = defaultQuestions(name, kind, of);
    // the same option of several calls (each parser's `type`): asked of its call too
    if (call) asks.push(`What does ${name} default to in ${call}?`, `For ${call}, what is the default ${name}?`, `What is the default ${name} of ${call}?`);
    if (d?.form === 'noun') {
      asks.push(`What is ${d.phrase} by default?`, `By default, what is ${d.phrase}?`, `If I don't set it, what is ${d.phrase}?`, `What is ${d.phrase} when nothing is configured?`, `Out of the box, what is ${d.phrase}?`);
      const count = /^the\s+(?:(maximum|minimum)\s+)?(?:number|amount)\s+of\s+(.+)$/i.exec(d.phrase);
      if (count) asks.push(`By default, how many ${count[2]}${count[1] ? ` at ${count[1] === 'maximum' ? 'most' : 'least'}` : ''}?`);
    } else if (d?.form === 'whether') {
      const to = /^to\s+(.+)$/i.exec(d.phrase)?.[1];
      asks.push(`By default, does it decide whether ${d.phrase}?`, ...(to ? [`Does it ${to} by default?`, `Unless configured otherwise, does it ${to}?`] : []));
    } else if (d?.infinitive) {
      asks.push(`Does it ${d.infinitive} by default?`, `Unless configured otherwise, does it ${d.infinitive}?`);
    } else if (d?.form === 'verb') {
      asks.push(`By default, what ${d.phrase}?`, `What ${d.phrase} unless I configure one?`);
    }
    fact('default', def.value, lineOf(item, def.start), asks);
  }
  // its type
  for (const t of types) fact('type', t.value, lineOf(item, t.start), [`What type is ${name}?`, `What is the type of ${subject}?`, `What type of value does ${subject} take?`, `Which type does ${name} have?`]);
  // its bounds
  for (const b of bounds) {
    const [least, low] = b.which === 'min' ? ['minimum', 'smallest'] : ['maximum', 'largest'];
    const asks = [`What is the ${least} value of ${name}?`, `What is the ${low} ${name} allowed?`, `How ${b.which === 'min' ? 'low' : 'high'} can ${name} be set?`];
    if (d?.form === 'noun') {
      const core = d.phrase.replace(/^(the|a|an)\s+/i, '');
      asks.push(`What is the ${least} ${core}?`, `What is the ${b.which === 'min' ? 'lowest' : 'highest'} ${core} I can set?`);
    }
    fact(b.which === 'min' ? 'minimum' : 'maximum', b.value, lineOf(item, b.start), asks);
  }
  return { facts, covered };
}

/**
 * Facts of a section that documents a call (its heading "retryOperation.reset()", ".lockSync(file,
 * [options])"): the call, asked for by what its first sentence says it does ("Which method resets
 * the internal state of the operation object?"), and what it returns ("Returns `false` when …":
 * "What does retryOperation.retry() return?"). `text` is the section's first paragraph with
 * markup blanked, `code` its code spans.
 */
export function callFacts(file: string, call: string, item: { text: string; code: readonly [number, number][]; line: number }): Fact[] {
  const { text, code } = item;
  const facts: Fact[] = [];
  const fact = (attribute: string, value: string, line: number, questions: string[]): void => {
    const qs = [...new Set(questions.map((q) => clean(q)))];
    if (qs.length) facts.push({ kind: 'prose', subject: call, attribute, value, path: file, line, evidence: clean(text), questions: qs });
  };
  const kinds = call.includes('.') && !/^new\s/.test(call) ? ['method', 'function'] : ['function', 'method'];
  const short = /\.([\w$]+\(\))$/.exec(call)?.[1];
  const firstEnd = sentenceEnd(text, 0);
  // "This is an alias for …", "It is the sync version of …": what it is
  const d = describe(text.slice(0, firstEnd));
  // "Returns a promise that resolves when the queue is empty": the call is what resolves then
  const settles = /^returns\s+a\s+promise\s+(?:that|which)\s+(resolves|rejects|settles|fulfills)\s+(when|once|after|if|as soon as)\s+([^;:]+)/i.exec(d?.phrase ?? '');
  if (settles) {
    const [verb, when, what] = [settles[1]!.toLowerCase(), settles[2]!.toLowerCase(), settles[3]!.trim()];
    // waited for: a promise that resolves when something happens
    const waits = /^(?:resolves|fulfills)$/.test(verb) && /^(?:when|once|after|as soon as)$/.test(when);
    fact('name', call, item.line, kinds.flatMap((k) => [`Which ${k} ${verb} ${when} ${what}?`, `Which ${k} returns a promise that ${verb} ${when} ${what}?`, ...(waits ? [`Which ${k} do I await to wait until ${what}?`, `What ${k} lets me wait until ${what}?`] : [])]));
  } else if (d && d.form !== 'condition' && !/^returns\b/i.test(d.phrase)) {
    fact('name', call, item.line, kinds.flatMap((k) =>
      d.form === 'verb' ? [`Which ${k} ${d.phrase}?`, ...(d.infinitive ? [`Which ${k} do I call to ${d.infinitive}?`, `What ${k} is there to ${d.infinitive}?`] : [])]
      : d.form === 'noun' ? [`Which ${k} is ${d.phrase}?`, `Which ${k} gives ${d.phrase}?`]
      : [`Which ${k} tells whether ${d.phrase}?`]));
  }
  // what it returns: "Returns X", "Returns X when …"
  for (const m of text.matchAll(/(?:^|[.!?]\s+)(Returns|It returns|Resolves (?:with|to))\s+/g)) {
    const at = m.index! + m[0].length;
    const v = valueAt(text, code, at, true);
    if (!v || v.value.split(/\s+/).length > 12) continue;
    const cond = /^\s*(?:when|if|once)\s+([^.;]+)/i.exec(text.slice(v.end))?.[1];
    const asks = [call, ...(short ? [short] : [])].flatMap((c) => [`What does ${c} return?`, `What is returned by ${c}?`, `What do I get back from ${c}?`, ...(cond ? [`What does ${c} return when ${clean(cond)}?`, `When ${clean(cond)}, what does ${c} return?`] : [])]);
    fact('returns', v.value, lineOf(item, at), asks);
  }
  return facts;
}
