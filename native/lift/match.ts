/**
 * Users' questions matched to the facts an adapter learned. A small model recalls a fact when it
 * is asked the way it was taught, far less when the question is phrased another way (the quality
 * bench: 68 of the spec's 142 questions answered when asked in a learned phrasing, against 47 in
 * users' words). So learning keeps each answer's training questions, with the paragraph it
 * comes from, beside the adapter; `ask` finds the answer a question is about (BM25 over the
 * stemmed words of both, a fact whose value is not of the kind the question asks for counting
 * half) and, when that is a fact, asks it as the adapter learned it, telling the user which
 * question it asked, and which other learned facts came near (a reworded question's answer can be
 * about the wrong one; the right one is often next).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JSON_FILE_LIMIT, readText } from '../files';
import type { NearbyFact } from '../protocol';
import { MEASURE_UNIT } from './facts';
import type { QAPair } from './qa';
import { Bm25Index, type Chunk, terms } from './retrieve';
import { QUESTION_WORDS, stem } from './searchindex';

/** The file beside an adapter's weights that holds its learned answers' questions. */
export const LEARNED_QUESTIONS = 'learned_questions.json';

/**
 * One learned answer: the questions it was trained on (the first is the one asked), and the text
 * it comes from. `fact` is false for the other kinds (a definition, a file's contents, a
 * section): a question nearest to one of those is asked as written, since its own words already
 * are the generator's templates ("Where is main defined?") and no fact should answer it.
 */
export interface LearnedAnswer {
  questions: string[];
  context: string;
  fact: boolean;
  /** A fact's value as learned ("15 minutes", "QRX-417"): its kind (a duration, a time, a number, …) is matched to what the question asks for. */
  value?: string;
}

/** The largest learned-questions file read (a repository's answers, 32 questions each). */
const LEARNED_QUESTIONS_LIMIT = 8 * JSON_FILE_LIMIT;

/** Questions kept per answer: the generator's phrasings of a fact (27 at most on the quality spec), a bounded file. */
const QUESTIONS_PER_ANSWER = 32;
/** Lines of a source paragraph kept around a fact's line (each side). */
const CONTEXT_LINES = 6;

/** The paragraph around `line` (1-based): the lines up to a blank line or a heading, at most CONTEXT_LINES each side, after the nearest Markdown heading above. */
export function paragraphAround(text: string, line: number): string {
  const lines = text.split('\n');
  const at = Math.min(Math.max(line - 1, 0), lines.length - 1);
  const heading = (l: string | undefined): boolean => l !== undefined && /^#{1,6}\s/.test(l);
  let a = at;
  let b = at;
  while (a > 0 && at - a < CONTEXT_LINES && lines[a - 1]!.trim() && !heading(lines[a])) a--;
  while (b + 1 < lines.length && b - at < CONTEXT_LINES && lines[b + 1]!.trim() && !heading(lines[b + 1])) b++;
  let h = a;
  while (h >= 0 && !heading(lines[h])) h--;
  return [...(h >= 0 && h < a ? [lines[h]!] : []), ...lines.slice(a, b + 1)].join('\n');
}

/** The answers `qa` trains (its check questions stay out), each with its questions and source paragraph. */
export function learnedAnswers(qa: readonly QAPair[], textOf: (path: string) => string | undefined): LearnedAnswer[] {
  const byAnswer = new Map<string, { pair: QAPair; questions: string[] }>();
  for (const p of qa) {
    if (p.check) continue;
    const key = `${p.kind}\0${p.answer}`;
    const f = byAnswer.get(key) ?? { pair: p, questions: [] };
    if (f.questions.length < QUESTIONS_PER_ANSWER && !f.questions.includes(p.question)) f.questions.push(p.question);
    byAnswer.set(key, f);
  }
  return [...byAnswer.values()].map(({ pair, questions }) => {
    const text = textOf(pair.path);
    const fact = pair.kind === 'fact';
    return { questions, context: text !== undefined && pair.line ? paragraphAround(text, pair.line) : '', fact, ...(fact && pair.value ? { value: pair.value } : {}) };
  });
}

/** The file's text for `learnedAnswers` (written beside the adapter). */
export const learnedQuestionsFile = (answers: readonly LearnedAnswer[]): string => `${JSON.stringify({ format: 1, answers })}\n`;

/**
 * Requests for more than a fact (an explanation, a summary, code to write): asked in the user's
 * words, since a learned fact's question would answer something narrower than was asked.
 */
const NOT_A_FACT = /^\s*(?:please\s+)?(?:explain|describe|summari[sz]e|show|list|write|generate|create|implement|refactor|fix|compare|why|walk me|give (?:me )?an? (?:overview|summary|example))\b|^\s*what (?:does|do|is) .{1,80} (?:do|for)\s*\??\s*$/i;

export const asksForAFact = (question: string): boolean => !NOT_A_FACT.test(question);

/**
 * Text as stemmed terms ("shifts" meets "shift", "scheduled" "schedule"), for the BM25 indexes: 87
 * of the quality spec's 142 questions matched rightly, 73 unstemmed (with the paragraph both
 * times). Question words ("how", "many", "which") are left out: what they ask for is the value's
 * kind (askedKinds), not a word to find.
 */
const stemmed = (text: string): string =>
  terms(text)
    .filter((t) => !QUESTION_WORDS.has(t))
    .map(word)
    .join(' ');

/**
 * Short forms READMEs and users write for the same word ("env" and "environment variable",
 * "dir" and "folder"), read as one: without the model, spec 100 → 101, proper-lockfile 11 → 13,
 * chokidar 8 → 9 and the held-out chalk 6 → 7 matched, no set lower (chalk's misses unread).
 */
const SHORT: Readonly<Record<string, string>> = {
  env: 'environment', config: 'configuration', cfg: 'configuration', dir: 'directory', dirs: 'directory', folder: 'directory', folders: 'directory',
  max: 'maximum', min: 'minimum', ms: 'millisecond', sec: 'second', secs: 'second', arg: 'argument', args: 'argument', param: 'parameter', params: 'parameter',
  opts: 'option', repo: 'repository', repos: 'repository', dep: 'dependency', deps: 'dependency', info: 'information', auth: 'authentication', db: 'database',
  msg: 'message', err: 'error', fn: 'function', func: 'function',
};

/**
 * British spellings users write for the words READMEs spell the American way ("256-colour output",
 * "colors"), read as one after stemming, so one form of each stands for its inflections
 * ("colours", "initialised"; "cancelled" for "cancelling"). SHORT is looked up before stemming
 * instead: stemmed, "mins" (minutes) would meet "min" (minimum).
 */
const BRITISH: Readonly<Record<string, string>> = {
  colour: 'color', behaviour: 'behavior', favour: 'favor', favourite: 'favorite', honour: 'honor', neighbour: 'neighbor', flavour: 'flavor', labour: 'labor',
  licence: 'license', centre: 'center', metre: 'meter', grey: 'gray', catalogue: 'catalog', dialogue: 'dialog', analogue: 'analog', defence: 'defense', offence: 'offense',
  analyse: 'analyze', initialise: 'initialize', serialise: 'serialize', deserialise: 'deserialize', normalise: 'normalize', organise: 'organize', recognise: 'recognize',
  customise: 'customize', optimise: 'optimize', prioritise: 'prioritize', synchronise: 'synchronize', minimise: 'minimize', maximise: 'maximize', authorise: 'authorize',
  finalise: 'finalize', sanitise: 'sanitize', tokenise: 'tokenize', visualise: 'visualize', utilise: 'utilize', standardise: 'standardize', localise: 'localize',
  categorise: 'categorize', memoise: 'memoize', parallelise: 'parallelize', randomise: 'randomize', capitalise: 'capitalize', emphasise: 'emphasize', summarise: 'summarize',
  cancelled: 'canceled', labelled: 'labeled', modelled: 'modeled', travelled: 'traveled', signalled: 'signaled',
};
const SPELLING = new Map(Object.entries(BRITISH).map(([b, a]) => [stem(b), stem(a)]));

/**
 * Words API documentation and its users write for one thing ("job" and "task", "fires" and
 * "emitted", "setting" and "option"), read as the first of each group after stemming (forms the
 * stemmer leaves apart written out: "emitted" → "emitt", "fired" → "fir", "copied" → "copi"). Without the
 * model: p-queue 6 → 8 (task/job), node-cache 5 → 6 (stop/halt or callback/handler), no set lower;
 * the other groups moved no count. Left out, as each cost a set one question: delete/remove/evict
 * (chokidar), get/fetch/retrieve (p-queue), wait/await (yauzl), and "stopped" for "stop" (spec).
 */
const SAME: readonly string[][] = [
  ['task', 'job'],
  ['concurrent', 'concurrently', 'concurrency', 'simultaneous', 'simultaneously', 'parallel'],
  ['start', 'begin', 'beginning', 'began', 'launch'],
  ['stop', 'halt', 'terminate'],
  ['error', 'exception'],
  ['throw', 'raise'],
  ['emit', 'emitted', 'fire', 'fired', 'trigger', 'dispatch'],
  ['limit', 'cap', 'capped'],
  ['option', 'setting'],
  ['callback', 'handler', 'listener'],
  ['copy', 'copied', 'clone', 'duplicate'],
];
const SYNONYM = new Map(SAME.flatMap(([first, ...rest]) => rest.map((w) => [stem(w), stem(first!)] as const)));

/** A term as the match compares it: its long form, stemmed, spelt the American way, the first of its synonyms. */
const word = (t: string): string => {
  const s = stem(SHORT[t] ?? t);
  const american = SPELLING.get(s) ?? s;
  return SYNONYM.get(american) ?? american;
};

/** How much the source paragraph counts beside the fact's own questions (it names the component as the text does). */
const CONTEXT_WEIGHT = 1;

/** What kind of value a fact states, by its text. */
export type ValueKind = 'unit' | 'duration' | 'time' | 'number' | 'percent' | 'temperature' | 'version' | 'yesno' | 'name' | 'identifier' | 'phrase';

const NUMBER_WORD = '(?:\\d[\\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|half(?: an?)?|an?)';
const TIME_UNIT = '(?:ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|(?:working |business |calendar )?days?|weeks?|fortnights?|months?|years?)';
const DAY_OR_MONTH = /\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b|\b(?:daily|weekly|monthly|nightly|yearly|annually)\b/i;

/** A value's kind by its shape: units, clock times, digits, capitals. */
export function valueKind(value: string): ValueKind {
  const v = value.trim();
  if (MEASURE_UNIT.test(v)) return 'unit';
  if (/^(?:yes|no)\b|^(?:true|false)$/i.test(v)) return 'yesno';
  if (/°|\bdegrees?\b/i.test(v)) return 'temperature';
  if (/%|\bper ?cent\b/i.test(v)) return 'percent';
  if (new RegExp(`^(?:about |roughly |up to |at most |at least )?${NUMBER_WORD}(?:\\s*-\\s*|\\s+)(?:consecutive |more )?${TIME_UNIT}\\b`, 'i').test(v)) return 'duration';
  if (/^\d{1,2}:\d{2}\b/.test(v) || DAY_OR_MONTH.test(v)) return 'time';
  if (/^v?\d+(?:\.\d+){2,}\b/.test(v)) return 'version';
  if (new RegExp(`^(?:about |roughly |up to |at most |at least )?${NUMBER_WORD}\\b`, 'i').test(v) && !/^an?\b/i.test(v)) return 'number';
  // an identifier: a code, a path, a key, a command (QRX-417, /srv/tiles, TLP_KEY, relay-templates)
  if (/\d|[_/@#.:]|\b[a-z]+-[a-z]|^[A-Z0-9]{2,}\b|^\S+$/.test(v) && !/^[A-Z][a-z]+$/.test(v)) return 'identifier';
  // a name: capitalised words (Blue Lantern, Night Owl Ops); else words (hardware security key)
  return /^[A-Z]/.test(v) ? 'name' : 'phrase';
}

/** "which", "what", "what's the", "what is an", …: the words before the noun that says what is asked for. */
const WH = String.raw`\b(?:which|what)(?:'s| is| are| was| were)?(?: the| a| an| its| their)?`;
/** A question that asks for one of `nouns` ("which port", "what's the address", with `oneWordBefore` "which retry.operation setting"). */
const asks = (nouns: string, oneWordBefore = false): RegExp => new RegExp(`${WH} ${oneWordBefore ? String.raw`(?:[\w.()-]+ )?` : ''}(?:${nouns})\\b`);
/**
 * The kinds of value a question asks for, by its question words ("how long" a duration, "which
 * port" a number, "which team" a name), or undefined where they do not say; the most likely
 * first. Each list is generous (a "when" may be a time or a delay): a fact of another kind is
 * matched less readily, not ruled out.
 */
const ASKED_KINDS: [RegExp, ValueKind[]][] = [
  [/\b(?:what|which) (?:units?|measure)\b|\bmeasured in what\b/, ['unit']],
  [/\bport\b/, ['number']],
  [new RegExp(String.raw`\bhow (?:long|soon|quickly|often|frequently)\b|\bhow far (?:in advance|ahead|beforehand)\b|\bhow much (?:time|notice|longer|more time|history)\b|\bhow many (?:seconds|minutes|hours|days|weeks|months|years)\b|\bafter how (?:long|much)\b|\bat what (?:pace|rate|interval)\b|${asks('period|duration|timeout|time ?limit|retention|lifetime|deadline|interval').source}`), ['duration', 'number']],
  [/\btemperature|\bdegrees?\b|\bhow (?:warm|cold|hot)\b/, ['temperature']],
  [/\bper ?cent|\bpercentage\b|\bshare of\b/, ['percent']],
  [new RegExp(String.raw`\b(?:at|by|on|from) what (?:time|hour|date|day)\b|${asks('time|hour|date|day|weekday|month').source}`), ['time']],
  [/^(?:and |so |then )?when (?:does|do|did|is|are|was|will|would|should|must|can|may)\b/, ['time', 'duration']],
  [asks('version|release', true), ['version', 'number', 'identifier']],
  [new RegExp(String.raw`\bhow many\b|\b(?:largest|smallest|maximum|minimum|max|min|greatest) number\b|\bhow (?:big|large)\b|${asks('number').source}`), ['number', 'percent']],
  [new RegExp(String.raw`^(?:who|whom|whose)\b|\bwho\b|${asks('team|group|company|supplier|vendor|person|owner|maintainer').source}`), ['name', 'phrase']],
  [/\b(?:below|above|under|over|beyond|exceeds?|past) (?:which|what)\b/, ['number', 'percent', 'temperature', 'duration']],
  [asks('code|severity|priority|tier|grade', true), ['identifier', 'name', 'number']],
  [asks('env(?:ironment)? var(?:iable)?|header|directory|folder|file|path|address|hostname|url|e-?mail(?: address)?'), ['identifier']],
  [asks('option|setting|flag|parameter|argument|property|function|method|event|hook|callback|field', true), ['identifier']],
  [asks('bucket|repo(?:sitory)?|region|key|command|channel|id|identifier', true), ['identifier', 'name']],
  [new RegExp(String.raw`${asks('(?:\w+ )?error|(?:\w+ )?message|app|application|tool|system|database|datastore|service|component|algorithm|name|nickname|term|word|browser|engine|library|framework').source}|\b(?:called|nickname)\b`), ['name', 'identifier', 'phrase']],
  [/^(?:is|are|can|could|may|must|should|does|do|am|will|would|was)\b/, ['yesno', 'name', 'identifier', 'phrase']],
];

/** The kinds of value `question` asks for (the first of ASKED_KINDS its words fit, else of its words after a leading clause of up to 60 characters: "By default, does …" and "If I leave out the fourth argument, will …" ask yes or no), or undefined. */
export function askedKinds(question: string): ValueKind[] | undefined {
  const q = question.toLowerCase();
  const after = /^[^,?]{2,60},\s+(.+)$/.exec(q)?.[1];
  return ASKED_KINDS.find(([re]) => re.test(q))?.[1] ?? (after ? ASKED_KINDS.find(([re]) => re.test(after))?.[1] : undefined);
}

/**
 * What a question asks for when it asks for a term by what it is ("Which setting …", "which event
 * name"), by family: the generator asks for a term's name the same way ("Which option sets …?").
 */
const TERM_FAMILIES: readonly string[] = ['option|setting|flag|parameter|argument|property|field|key|variable|attribute', 'method|function|call|hook|callback', 'event', 'command'];
/** The family word as what is asked for: not a modifier of another noun ("what event loop phase", "the default option value"). */
const NOT_A_MODIFIER = String.raw`(?: names?)?(?![\w-])(?!\s+(?:values?|loop|separator|phase|types?|format|string|object|order|group|level|size|count|number|list|file|prefix|suffix|syntax|style)\b)`;
const termWords = (nouns: string): string => String.raw`\b(?:which|what)(?:'s| is| are)?(?: the| an?)? (?:[\w.()]+ )?(?:${nouns})${NOT_A_MODIFIER}`;
/** The generator asks "which one" where a list does not say what its terms are: a setting's family. */
const ONE = (k: number): string => (k === 0 ? String.raw`|\bwhich one\b` : '');
const ASKS_FOR_A_TERM = TERM_FAMILIES.map((f, k) => new RegExp(`${termWords(f)}${ONE(k)}`, 'i'));
const NAMES_A_TERM = TERM_FAMILIES.map((f, k) => new RegExp(`${termWords(f)}${ONE(k)}|\\bthe name of the (?:${f})\\b`, 'i'));

/** How much a match counts when the fact's value is not of a kind the question asks for. */
const OTHER_KIND = 0.5;
/**
 * How much it counts when the value is of a kind the question allows but not the first it names
 * ("what version": a version first, a code or name allowed). Against counting all the allowed
 * kinds alike, the match found 3 more of the spec's 142 questions, 1 more of the guide's 82 and
 * of retry's 24, and lost none.
 */
const LESSER_KIND = 0.8;

/** Facts shown beside an answer, as a line says them: "…hand over at 07:30 and what time?" (19:30); "…" (…). */
export const alsoLearnedText = (also: readonly NearbyFact[]): string => also.map((a) => `"${a.question}"${a.value !== undefined ? ` (${a.value})` : ''}`).join('; ');

/**
 * Facts shown beside an answer: the next ones whose match scores at least this share of the
 * best's, at most ALSO_COUNT. Without the model, on the quality set's five question sets, the
 * asked fact was the best match for 168 questions and among these for 39 more (spec 17 of 142,
 * guide 10 of 82, retry 2 of 24, proper-lockfile 7 of 25, semver code 3 of 38), with 1.1 to 1.5
 * shown per question (`npm run bench -- match`; at 0.5, counted once: 42 more with 1.4 to 1.7;
 * at 0.7: 35 with 0.9 to 1.2).
 */
const ALSO_SHARE = 0.6;
const ALSO_COUNT = 2;

/**
 * A fact is asked when its match scores at least this share of a better-matched answer of
 * another kind (a section's "What does the section … say?", a definition): a section's heading
 * and paragraph share a user's words with every fact in it, and asked as written the question
 * gets a recitation. Without the model: spec 101 → 102, tmp 8 → 9, chalk 7 → 8, yauzl 2 → 3,
 * held-out p-queue 2 → 3 of 25 (measured after the change, its misses unread), no set lower, the
 * code set unchanged; the same at any share from 0 to 0.8.
 */
const FACT_OVER_OTHER = 0.8;

/**
 * Words that ask for a default without saying "default" ("if I don't set one", "unless I change
 * it", "out of the box"): the question is matched as if it said it, as the generator's default
 * questions do ("What does memLevel default to?").
 */
const DEFAULT_CUE =
  /\b(?:if|when) (?:i|you|we) (?:don['’]t|do not|never|haven['’]t|didn['’]t) (?:set|pick|choose|specify|configure|change|pass|give|provide|supply|touch|override)\b|\bunless (?:i|you|we) (?:set|change|configure|override|specify|pick|choose|pass|provide)\b|\bout of the box\b|\bif (?:nothing|none) is (?:set|given|configured|specified|passed)\b|\bunless (?:configured|overridden|changed|set)\b|\b(?:left (?:unset|unconfigured|alone|untouched|as is)|unconfigured|if omitted|when omitted)\b|\b(?:configure|set|change|pass|specify) nothing\b|\bwith no (?:settings|options|configuration|config|arguments)\b|\bwithout (?:any )?(?:settings|options|configuration|config)\b/i;

/** A learned question that asks for a default, as the generator asks it ("What does retries default to?", "What is the default threshold?", "What is level by default?"). */
const DEFAULT_FACT = /\b(?:defaults? to|by default|the default)\b/i;

/**
 * How much a fact counts, for a question that asks for a default, when it is no default (another
 * value of the option, a value the prose mentions): without the model, with the questions that
 * say "if I don't configure it" in other words ("left unconfigured", "when I configure nothing",
 * "with no settings") and the kind a question asks for read after a leading phrase ("By default,
 * does …": yes or no), proper-lockfile 14 → 15, chokidar 10 → 11, cors 9 → 11 and the held-out
 * keyv 6 → 7 (measured after the change), no set lower; the same at 0.6.
 */
const NOT_A_DEFAULT = 0.8;

export class QuestionMatcher {
  private readonly questions: Bm25Index;
  private readonly contexts: Bm25Index;
  /** Each answer's value kinds, once: one per alternative ("`zlib.constants.Z_DEFAULT_CHUNK`, or `16384`": an identifier and a number); undefined: not a fact, or learned before values were kept. */
  private readonly kinds: (ValueKind[] | undefined)[];
  /** Whether each answer names a term of each of TERM_FAMILIES ("Which option sets …?"), once. */
  private readonly names: boolean[][];
  /** Whether each answer is a default, by its questions ("What does retries default to?", "What is the default threshold?"), once. */
  private readonly defaults: boolean[];

  constructor(readonly answers: readonly LearnedAnswer[]) {
    this.kinds = answers.map((a) => (a.value === undefined ? undefined : a.value.split(/,\s+or\s+/).map(valueKind)));
    this.names = answers.map((a) => NAMES_A_TERM.map((re) => a.questions.some((q) => re.test(q))));
    this.defaults = answers.map((a) => a.questions.some((q) => DEFAULT_FACT.test(q)));
    const chunk = (text: string, i: number): Chunk => ({ path: '', startLine: i, endLine: i, text: stemmed(text) });
    // little length normalisation over questions: a fact asked in more phrasings is not a worse match
    this.questions = new Bm25Index(answers.map((f, i) => chunk(f.questions.join('\n'), i)), 1.2, 0.3);
    this.contexts = new Bm25Index(answers.map((f, i) => chunk(f.context, i)), 1.2, 0.75);
  }

  /** Every learned answer's index by how well `question` matches it, best first (ties: the earlier answer). */
  rank(question: string): { index: number; score: number }[] {
    const scores = new Map<number, number>();
    // a question for a default, in so many words or not: a fact that is no default counts less
    const cue = DEFAULT_CUE.test(question);
    const forDefault = cue || /\bdefaults?\b/i.test(question);
    const query = stemmed(cue ? `${question} default` : question);
    for (const h of this.questions.search(query, this.answers.length)) scores.set(h.chunk.startLine, h.score);
    for (const h of this.contexts.search(query, this.answers.length)) scores.set(h.chunk.startLine, (scores.get(h.chunk.startLine) ?? 0) + CONTEXT_WEIGHT * h.score);
    const asked = askedKinds(question);
    // a question for a term's name (its family's index): another identifier, one the term's description mentions, counts less
    const term = ASKS_FOR_A_TERM.findIndex((re) => re.test(question));
    for (const [index, score] of scores) {
      const kinds = this.kinds[index];
      if (asked && kinds && !kinds.includes(asked[0]!)) scores.set(index, score * (kinds.some((k) => asked.includes(k)) ? LESSER_KIND : OTHER_KIND));
      else if (term >= 0 && kinds && !this.names[index]![term]) scores.set(index, score * LESSER_KIND);
      if (forDefault && kinds && !this.defaults[index]) scores.set(index, scores.get(index)! * NOT_A_DEFAULT);
    }
    return [...scores].map(([index, score]) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  }

  /** The learned question of the fact `question` is most likely about, or undefined (it asks for more than a fact, it is nearest to a learned answer of another kind with no fact within `FACT_OVER_OTHER` of it, or it shares no word but "is" and "the" with it); with the next facts near it (`ALSO_SHARE`). */
  nearest(question: string): { question: string; score: number; also: NearbyFact[] } | undefined {
    if (!asksForAFact(question) || !this.answers.length) return undefined;
    const all = this.rank(question);
    // a section or definition ranked first gives way to the best fact near it
    const f = all.findIndex((r) => this.answers[r.index]!.fact);
    const ranked = f > 0 && all[f]!.score >= FACT_OVER_OTHER * all[0]!.score ? all.slice(f) : all;
    const best = ranked[0];
    if (!best) return undefined;
    // sharing only "is" and "the" is no match: the question is asked as written
    const nearest = this.answers[best.index]!;
    const words = new Set(stemmed(`${nearest.questions.join('\n')}\n${nearest.context}`).split(' '));
    if (!nearest.fact || !terms(question).some((t) => !QUESTION_WORDS.has(t) && words.has(word(t)))) return undefined;
    const also: NearbyFact[] = [];
    for (const r of ranked.slice(1)) {
      if (also.length >= ALSO_COUNT || r.score < ALSO_SHARE * best.score) break;
      const a = this.answers[r.index]!;
      if (a.fact && a.questions[0] !== nearest.questions[0] && !also.some((x) => x.question === a.questions[0])) also.push({ question: a.questions[0]!, ...(a.value !== undefined ? { value: a.value } : {}) });
    }
    return { question: nearest.questions[0]!, score: best.score, also };
  }

  /** The learned question to ask instead of `question` (`nearest`), or undefined where there is none or it is that question already. */
  match(question: string): { question: string; score: number; also: NearbyFact[] } | undefined {
    const m = this.nearest(question);
    const same = (a: string): string => a.trim().replace(/\s+/g, ' ').toLowerCase();
    // already asked as learned: nothing to say
    return m && same(m.question) === same(question) ? undefined : m;
  }

  /** The matcher of the answers learned beside an adapter; undefined when it has none (learned before this file existed, or nothing learned). A damaged file is an error saying so. */
  static load(adapterDir: string): QuestionMatcher | undefined {
    const file = path.join(adapterDir, LEARNED_QUESTIONS);
    if (!fs.existsSync(file)) return undefined;
    let data: { answers?: unknown };
    try {
      data = JSON.parse(readText(file, LEARNED_QUESTIONS_LIMIT)) as { answers?: unknown };
    } catch (err) {
      throw new Error(`${file} cannot be read (${err instanceof Error ? err.message : String(err)})`);
    }
    const isAnswer = (f: Partial<LearnedAnswer> | null): f is LearnedAnswer =>
      Array.isArray(f?.questions) && f.questions.length > 0 && f.questions.every((q) => typeof q === 'string') && typeof f.context === 'string' && typeof f.fact === 'boolean' && (f.value === undefined || typeof f.value === 'string');
    if (!Array.isArray(data?.answers) || !data.answers.every(isAnswer)) throw new Error(`${file} is not a list of learned answers`);
    return data.answers.length ? new QuestionMatcher(data.answers) : undefined;
  }
}
