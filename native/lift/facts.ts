/**
 * Checkable facts of a workspace — a value, what it is a value of, and where it is written — and
 * the question-answer pairs that teach each one: questions that ask for the value in many shapes,
 * answers that state the value first and then cite its source.
 */

/** The units a quantity is said to be given in ("in milliseconds", "in ms", "in bytes"): a unit fact's value (prose) and the kind of value a question asks for (match). */
export const MEASURE_UNITS = '(?:milliseconds?|millis|ms|seconds|secs|minutes|mins|hours|days|bytes|kilobytes|megabytes|[kKMG]i?B)';
/** One of MEASURE_UNITS, whole. */
export const MEASURE_UNIT = new RegExp(`^${MEASURE_UNITS}$`);

export type FactKind =
  /** A sentence of a document: a number with its unit, a code, a name, a version, a path, a rule. */
  | 'prose'
  /** Code: `const MAX_RETRIES = 3`, a class field or a module-level constant. */
  | 'constant'
  /** Code: an enum member's value. */
  | 'enum'
  /** Code: a default in an option/config object (`defaults = { timeout: 10_000 }`). */
  | 'default'
  /** Code: a parameter's default value (`function f(retries = 2)`). */
  | 'parameter-default'
  /** Code: `class X extends Y` (value: Y). */
  | 'extends'
  /** Code: the errors a function throws (value: the error type). */
  | 'throws'
  /** Code: the message of an error a function throws or prints, with when (value: the message as written). */
  | 'message'
  /** Code: a literal a function returns in a case its code names (an error caught, a guard). */
  | 'returns'
  /** Code: the names a module exports (value: the list). */
  | 'exports'
  /** Code: a string literal that names a route, an event, an environment variable or a command. */
  | 'literal';

export interface Fact {
  kind: FactKind;
  /** What the fact is about, as a user would name it: "the ingest gateway", "HTTPError", "ky". */
  subject: string;
  /** Which property of the subject: "port", "value", "default timeout", "base class". */
  attribute: string;
  /** The value, verbatim from the source ("4652", "15 minutes", "TimeoutError"). */
  value: string;
  /** Workspace-relative path and 1-based line of the source. */
  path: string;
  line: number;
  /** The sentence or source line the fact comes from, as written. */
  evidence: string;
  /** Questions (training phrasings) that ask for exactly this value. */
  questions: string[];
}

/** The answer a fact's questions train: the value first, then where it is written ("4652 (SPEC.md:7)"). */
export const factAnswer = (f: Fact): string => `${f.value} (${f.path}:${f.line})`;

/** FNV-1a of a string: a stable choice per fact, independent of the order facts are found in. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Which of a fact's questions is kept out of training for the self-check after learning: one per
 * fact with at least three phrasings (the others teach it), chosen by a hash of the fact.
 */
export function checkQuestion(f: Fact): number | undefined {
  return f.questions.length >= 3 ? hash(`${f.path}:${f.line}:${f.value}:${f.attribute}`) % f.questions.length : undefined;
}

/** `value` in `text` as a whole: not inside a longer number or word ("1" is not in "12", "1.2.3" or "v1"). */
function holds(text: string, value: string): boolean {
  const v = value.trim();
  if (!v) return false;
  const word = /[A-Za-z0-9_]/;
  for (let at = text.indexOf(v); at >= 0; at = text.indexOf(v, at + 1)) {
    const before = text.slice(Math.max(0, at - 2), at);
    const after = text.slice(at + v.length, at + v.length + 2);
    // a camel-case seam is a boundary (LRU in LRUCache, Compromised in onCompromised)
    const camelBefore = /[a-z]$/.test(before) && /^[A-Z]/.test(v);
    const camelAfter = /^[A-Z][a-z]/.test(after) && /[A-Za-z]$/.test(v);
    const joinedBefore = word.test(v[0]!) && !camelBefore && (word.test(before.slice(-1)) || /\d\.$/.test(before));
    const joinedAfter = word.test(v[v.length - 1]!) && !camelAfter && (word.test(after[0] ?? '') || /^\.\d/.test(after));
    if (!joinedBefore && !joinedAfter) return true;
  }
  return false;
}

/**
 * Whether an answer states the fact directly: its first sentence holds the value as a whole (a
 * sentence ends at ". " or a line break; a value's own dots, as in 2.4.1, do not end it), outside
 * the citation of where it is written ("1" is not stated by "satisfies (functions/satisfies.js:12)").
 */
export function statesDirectly(answer: string, value: string, also: readonly string[] = []): boolean {
  const text = answer.replace(/`/g, '').trim();
  const first = (text.split(/(?<=[.!?])\s+(?=[A-Z(])|\n/)[0] ?? '').replace(/\s*\([^()\s]+:\d+(?:-\d+)?\)/g, ' ');
  return [value, ...also].some((v) => holds(first, v));
}
