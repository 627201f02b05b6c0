/**
 * Facts from code: the checkable values a source file writes down — constants, enum members,
 * defaults in option objects and parameters, base classes, the errors a function throws and
 * their messages, the literals it returns in a named case (an error caught, an if, a case), a
 * module's exports, and string literals that name routes, events, environment variables and
 * command-line commands — each with the questions that ask for exactly that value. Parsed with
 * tree-sitter (the grammars of symbols.ts). TypeScript/JavaScript and Python get every kind;
 * Go, Rust, Java and C# the cheap ones (constants, enums, base classes, throws with their
 * messages in Java and C#, environment variables, Go routes and flags); C/C++ none yet. Values are literals only: a value computed
 * at run time, a function or a whole object (its properties are read instead) is no fact.
 */
import type * as TreeSitter from '@vscode/tree-sitter-wasm';
import type { Fact, FactKind } from './facts';
import { parseFile } from './symbols';

type Node = TreeSitter.Node;

/** Values longer than this are not facts (a sentence, a long list). */
const MAX_VALUE = 80;
/** Names of objects and variables that hold defaults, options or configuration. */
const DEFAULTY = /default|option|opts|config|cfg|setting|preset/i;
const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'del', 'head', 'options', 'all']);
const LISTEN = new Set(['on', 'once', 'addListener', 'prependListener', 'prependOnceListener', 'addEventListener']);

type Family =
  | 'constant' | 'enum' | 'default' | 'field' | 'init' | 'fallback' | 'param' | 'option-param'
  | 'extends' | 'implements' | 'throws' | 'exports' | 'route' | 'listen' | 'emit' | 'env' | 'env-default'
  | 'command' | 'option' | 'option-default' | 'message' | 'returns';

const KIND: Record<Family, FactKind> = {
  constant: 'constant', enum: 'enum', default: 'default', field: 'default', init: 'default', fallback: 'default',
  param: 'parameter-default', 'option-param': 'default', extends: 'extends', implements: 'extends', throws: 'throws',
  exports: 'exports', route: 'literal', listen: 'literal', emit: 'literal', env: 'literal', 'env-default': 'default',
  command: 'literal', option: 'literal', 'option-default': 'default', message: 'message', returns: 'returns',
};

/** A fact before its questions, with what the questions need to know. */
interface Raw {
  family: Family;
  subject: string;
  attribute: string;
  value: string;
  line: number;
  col: number;
  /** Extra words for the phrasings: the HTTP method, the handler, a description, the enum, the member… */
  x: { method?: string; handler?: string; desc?: string; owner?: string; member?: string; fn?: string; reader?: boolean; when?: When };
}

/** When a statement runs, as its code says: the tests of the ifs and cases around it (outermost first), or that it is in an error handler. */
interface When {
  /** "`release` is 'release' and `this.prerelease.length === 0`" */
  test?: string;
  /** In a catch or except clause. */
  caught?: boolean;
}

interface Ctx {
  /** The enclosing named function or method (Class.method). */
  fn?: string;
  /** The enclosing class. */
  cls?: string;
  /** Inside a function body (named or not): not module level. */
  inFn: boolean;
  /** The enclosing Python class is an Enum. */
  enumClass?: boolean;
}

// ---------------------------------------------------------------------------------------------
// values

const STRING_TYPES = new Set([
  'string', 'template_string', 'interpreted_string_literal', 'raw_string_literal', 'string_literal', 'verbatim_string_literal', 'text_block', 'char_literal', 'character_literal', 'rune_literal',
]);
const SCALAR = /^(number|integer|float|true|false|null|none|undefined|regex|nil|boolean_literal|null_literal|negative_literal|real_literal|number_literal|(int|float|imaginary|integer|decimal_integer|hex_integer|octal_integer|binary_integer|decimal_floating_point|hex_floating_point)_literal)$/;
const LIST_TYPES = new Set(['array', 'list', 'tuple', 'array_expression', 'tuple_expression']);
const WRAPPERS = new Set(['as_expression', 'satisfies_expression', 'parenthesized_expression', 'expression_list']);

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The text between a string literal's quotes (prefixes r, b, f, @, $ and Rust's r#"…"# allowed). */
function unquote(text: string): string | undefined {
  const m = /^[A-Za-z@$]*(#*)("""|'''|"|'|`)([\s\S]*?)\2\1$/.exec(text);
  return m ? m[3] : undefined;
}

function plainString(n: Node): string | undefined {
  if (!STRING_TYPES.has(n.type)) return undefined;
  if (n.namedChildren.some((c) => c && /substitution|interpolation/.test(c.type))) return undefined;
  return unquote(n.text);
}

/** Whether a node is a literal value: scalars, strings without interpolation, arithmetic on them, short lists of them. */
function isLiteral(n: Node, depth = 0): boolean {
  const t = n.type;
  if (SCALAR.test(t)) return true;
  if (STRING_TYPES.has(t)) return plainString(n) !== undefined;
  if (t === 'identifier' && /^(Infinity|NaN|undefined)$/.test(n.text)) return true;
  if (depth > 4) return false;
  if (WRAPPERS.has(t)) {
    const inner = n.namedChildren.filter((c): c is Node => !!c && !/type|comment/.test(c.type));
    return inner.length === 1 && isLiteral(inner[0]!, depth + 1);
  }
  if (t === 'unary_expression' || t === 'unary_operator') {
    const arg = n.namedChildren.at(-1);
    return !!arg && /^[-+~!]/.test(n.text) && isLiteral(arg, depth + 1);
  }
  if (t === 'binary_expression' || t === 'binary_operator') {
    const [l, r] = [n.child(0), n.child(n.childCount - 1)];
    const op = n.childForFieldName('operator')?.text ?? n.child(1)?.text ?? '';
    if (!l || !r || !/^([-+*/%]|\*\*|<<|>>|\||&)$/.test(op)) return false;
    // a qualified constant may take part (30 * time.Second) when the other side is a literal
    const q = (x: Node): boolean => /^(selector_expression|member_expression|attribute|scoped_identifier|field_access)$/.test(x.type) && /^[\w.:]+$/.test(x.text);
    return (isLiteral(l, depth + 1) && (isLiteral(r, depth + 1) || q(r))) || (q(l) && isLiteral(r, depth + 1));
  }
  if (LIST_TYPES.has(t)) {
    const items = n.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    return items.length <= 12 && items.every((c) => isLiteral(c, depth + 1));
  }
  return false;
}

/** A literal's value as written: strings without their quotes, everything else verbatim (on one line). */
function literalValue(n: Node): string | undefined {
  if (!isLiteral(n)) return undefined;
  let v: Node = n;
  while (WRAPPERS.has(v.type) && v.type !== 'parenthesized_expression') v = v.namedChildren.find((c): c is Node => !!c && !/type|comment/.test(c.type))!;
  const s = plainString(v);
  const value = s ?? oneLine(v.text);
  return value.length && value.length <= MAX_VALUE ? value : undefined;
}

/** A node without `as const`, `satisfies`, parentheses and `Object.freeze(…)` around it. */
function unwrap(n: Node | null | undefined): Node | undefined {
  let v = n ?? undefined;
  for (let k = 0; v && k < 4; k++) {
    if (/^(as_expression|satisfies_expression|parenthesized_expression)$/.test(v.type)) v = v.namedChildren[0] ?? undefined;
    else if (v.type === 'call_expression' && /^Object\.freeze$/.test(v.childForFieldName('function')?.text ?? '')) v = v.childForFieldName('arguments')?.namedChildren[0] ?? undefined;
    else break;
  }
  return v;
}

const isFunction = (n: Node | null | undefined): boolean => !!n && /^(arrow_function|function_expression|function|generator_function|lambda|func_literal|closure_expression)$/.test(n.type);

/** The name of a key (an identifier, a quoted string, a number). */
function keyName(k: Node | null | undefined): string | undefined {
  if (!k) return undefined;
  if (/^(property_identifier|identifier|number|integer|shorthand_property_identifier_pattern|field_identifier)$/.test(k.type)) return k.text;
  return plainString(k);
}

// ---------------------------------------------------------------------------------------------
// readable names

const ACRONYMS = new Set('api url uri http https id json xml sql tls ssl tcp udp ip dns cpu gpu ui cli ttl jwt aws db io os html css sdk ms'.split(' '));

const readableCache = new Map<string, string>();

/** An identifier in words: defaultRetryOptions → default retry options, MAX_RETRIES → max retries, HTTPError → HTTP error. */
export function readable(id: string): string {
  let r = readableCache.get(id);
  if (r === undefined) {
    r = words(id);
    if (readableCache.size > 10_000) readableCache.clear();
    readableCache.set(id, r);
  }
  return r;
}

function words(id: string): string {
  return id
    .split(/[.:]+/)
    .map((part) =>
      part
        .replace(/^[_$#]+|[_$]+$/g, '')
        .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
        .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
        .split(/[\s_-]+/)
        .filter(Boolean)
        .map((w) => (/^[A-Z0-9]+$/.test(w) && w.length > 1 ? (ACRONYMS.has(w.toLowerCase()) || /[a-z]/.test(id) ? w : w.toLowerCase()) : w.toLowerCase()))
        .join(' '),
    )
    .filter(Boolean)
    .join(' ');
}

/** Synonyms users reach for, by word. */
const SYNONYMS: Record<string, string[]> = {
  timeout: ['time limit', 'deadline'],
  limit: ['maximum', 'cap'],
  max: ['maximum', 'upper limit'],
  min: ['minimum', 'lower bound'],
  retries: ['retry count', 'number of attempts'],
  retry: ['retry count', 'attempts'],
  attempts: ['tries', 'retries'],
  port: ['listening port', 'TCP port'],
  host: ['hostname', 'server address'],
  delay: ['wait time', 'pause'],
  interval: ['period', 'frequency'],
  size: ['capacity'],
  ttl: ['lifetime', 'expiry'],
  url: ['address', 'endpoint'],
  dir: ['folder', 'directory'],
  path: ['location', 'file path'],
  level: ['verbosity', 'level setting'],
  enabled: ['switched on', 'turned on'],
  concurrency: ['parallelism', 'number of parallel tasks'],
  width: ['column width', 'line width'],
  encoding: ['character encoding', 'charset'],
  method: ['HTTP method', 'verb'],
};

/** The phrase with its head word (the last) replaced by each of its synonyms: retry delay → retry wait time. */
function synonyms(phrase: string): string[] {
  const ws = phrase.split(' ');
  const w = ws.at(-1)!.toLowerCase();
  return (Object.hasOwn(SYNONYMS, w) ? SYNONYMS[w]! : []).map((s) => [...ws.slice(0, -1), s].join(' '));
}

const COUNTISH = /\b(max|maximum|min|minimum|limit|count|number|num|retries|attempts|times|workers|threads|concurrency|size|capacity|depth|length)\b/;
const TIMEISH = /\b(timeout|delay|interval|ttl|duration|wait|expiry|expires|age|backoff|period|ms|seconds|secs)\b/;
const NUMERIC = /^[-+]?(\d[\d_]*(\.\d+)?(e\d+)?|0x[\da-f_]+|Infinity)(\s*[-+*/]\s*[\w.]+)*$/i;
const FILLER = new Set(['default', 'defaults', 'options', 'option', 'opts', 'config', 'configuration', 'settings', 'setting', 'preset', 'presets', 'cfg', 'the', 'base']);

function plural(w: string): string {
  if (/(s|sh|ch|x)$/.test(w)) return w;
  if (/[^aeiou]y$/.test(w)) return `${w.slice(0, -1)}ies`;
  return `${w}s`;
}

/** What a count counts: retries for "max retries", or what the owner is about (retry for defaultRetryOptions → retries). */
function countNoun(attr: string, owner: string): string | undefined {
  const words = attr.split(' ');
  const a = words.filter((w) => !/^(max|maximum|min|minimum|limit|count|number|num|total|default)$/.test(w));
  const counted = a.length < words.length;
  const noun = a.length ? a.join(' ') : owner.split(' ').filter((w) => !FILLER.has(w)).join(' ');
  if (!noun) return undefined;
  // a count is of a plural noun: max retries, retry limit → retries; not "jitter"
  if (counted) return plural(noun);
  return /[^s]s$/.test(noun) ? noun : undefined;
}

/** The words of an owner that say what it is about (defaultRetryOptions → retry). */
const topic = (owner: string): string => owner.split(' ').filter((w) => !FILLER.has(w)).join(' ');

/** is or are, for a phrase whose head word is plural or not. */
const be = (phrase: string): string => (/[^s]s$/.test(phrase.split(/ (?:of|on|for) /)[0]!) ? 'are' : 'is');

/** A function or method named for a question: "the parse config function", "the request method of Client". */
function fnPhrase(fn: string): string {
  const dot = fn.lastIndexOf('.');
  if (dot < 0) return `the ${readable(fn)} function`;
  const owner = fn.slice(0, dot);
  const name = fn.slice(dot + 1);
  if (name === 'constructor' || name === '__init__' || name === owner.split('.').pop()) return `the ${owner} constructor`;
  return `the ${readable(name)} method of ${owner}`;
}

/** The verbs of an error in a file's language: Python raises, the others throw (`other`: the one not used, for a second phrasing). */
const raiseVerbs = (path: string): { raise: string; raised: string; other: string } =>
  /\.py$/.test(path) ? { raise: 'raise', raised: 'raised', other: 'throw' } : { raise: 'throw', raised: 'thrown', other: 'raise' };

/** A function as code in a question: "the Client constructor" rather than Client.constructor. */
const calledAs = (fn: string): string => (/\.(constructor|__init__)$/.test(fn) ? `the ${fn.replace(/\.(constructor|__init__)$/, '')} constructor` : fn);

/** The training phrasings of a fact: 5–8 questions that ask for exactly its value. */
function questionsFor(r: Raw, path: string): string[] {
  const q: string[] = [];
  const S = r.subject;
  const s = readable(S);
  const A = r.attribute;
  const a = readable(A);
  const numeric = NUMERIC.test(r.value);
  const { x } = r;
  switch (r.family) {
    case 'constant': {
      const dot = S.lastIndexOf('.');
      const name = dot >= 0 ? S.slice(dot + 1) : S;
      const n = readable(name);
      q.push(`What is the value of ${S}?`, `What is ${S} set to in ${path}?`, `What value does the constant ${S} hold?`);
      if (dot >= 0) q.push(`In the ${S.slice(0, dot)} class, what is ${name} equal to?`);
      q.push(`What is the value of the ${dot >= 0 ? `${readable(S.slice(0, dot))} ` : ''}${n} constant?`);
      const noun = numeric && !TIMEISH.test(n) && COUNTISH.test(n) ? countNoun(n, '') : undefined;
      if (noun) q.push(/\b(max|maximum|limit)\b/.test(n) ? `What is the maximum number of ${noun}?` : `How many ${noun} does ${S} set?`);
      if (numeric && TIMEISH.test(n)) q.push(`How long is the ${n}?`);
      for (const syn of synonyms(n).slice(0, 2)) q.push(`What is the ${syn} (${S})?`);
      q.push(`Complete: in ${path}, ${S} = ___.`);
      break;
    }
    case 'enum': {
      const e = x.owner!;
      const m = x.member!;
      q.push(
        `What is the value of ${e}.${m}?`,
        `In the ${e} enum, what is ${m} equal to?`,
        `What value does the ${readable(m)} member of the ${readable(e)} enum have?`,
        `Which value is assigned to ${m} in ${e}?`,
        `What does ${e}.${m} stand for as a value?`,
        `Complete: in enum ${e}, ${m} = ___.`,
      );
      break;
    }
    case 'default':
    case 'field':
    case 'init':
    case 'fallback':
    case 'option-param':
    case 'param': {
      const param = r.family === 'param';
      const fnLike = param || r.family === 'option-param' || r.family === 'fallback';
      const C = fnLike ? calledAs(S) : S;
      // an owner's topic joins the attribute (defaultRetryOptions + limit → retry limit); a function's name does not
      const t = fnLike || r.family === 'field' || r.family === 'init' ? '' : topic(s);
      const ta = t && !a.includes(t) ? `${t} ${a}` : a;
      const who = fnLike && x.fn ? fnPhrase(x.fn) : r.family === 'field' || r.family === 'init' ? `the ${S} class` : `the ${s}`;
      if (param) {
        q.push(`What is the default value of ${A} in ${C}?`, `If ${A} is not passed to ${C}, what value does it take?`, `What does the ${a} parameter of ${who} default to?`);
      } else if (r.family === 'option-param' || r.family === 'fallback') {
        q.push(`What is the default ${A} option of ${C}?`, `If the ${A} option is not given to ${C}, what value is used?`, `What does ${who} use for ${a} by default?`);
      } else if (r.family === 'init') {
        q.push(`What is the initial value of ${A} in ${S}?`, `What does a new ${S} set ${A} to?`, `What is the default ${a} of ${who}?`);
      } else if (r.family === 'field') {
        q.push(`What is the default value of the ${A} field of ${S}?`, `What is ${S}.${A} set to by default?`, `What is the default ${a} of ${who}?`);
      } else {
        q.push(`What is the default value of ${A} in ${S}?`, `What does ${S} set ${A} to?`, /^default\b/.test(s) ? `In the ${s}, what ${be(a)} ${a} set to?` : `What is the default ${a} in the ${s}?`);
      }
      const noun = numeric && !TIMEISH.test(ta) && COUNTISH.test(ta) ? countNoun(a, t) : undefined;
      if (noun) q.push(fnLike ? `How many ${noun} does ${C} use by default?` : `By default, how many ${noun} are allowed${t ? '' : ` in ${S}`}?`);
      if (numeric && TIMEISH.test(ta)) q.push(`How long is the default ${ta} of ${C}?`);
      const syns = noun && /\b(limit|max|maximum)$/.test(a) ? [`maximum number of ${noun}`, `cap on ${noun}`] : synonyms(ta);
      for (const syn of syns.slice(0, 2)) q.push(`What ${be(syn)} the default ${syn}${fnLike || !t ? ` of ${C}` : ''}?`);
      if (!fnLike) q.push(`What ${be(ta)} the default ${ta}${t ? '' : ` of ${S}`}?`);
      q.push(`Complete: the default ${ta} of ${fnLike ? who : S} ${be(ta)} ___.`);
      break;
    }
    case 'env-default':
      q.push(
        `What is the default of ${S} when the environment variable is not set?`,
        `If ${S} is unset, what value is used?`,
        `What is the fallback value for the ${S} environment variable?`,
        `Without ${S} in the environment, what does the code use?`,
        `Complete: when ${S} is not set, the value is ___.`,
      );
      break;
    case 'option-default':
      q.push(
        `What is the default value of the ${S.replace(/^option /, '')} option?`,
        `If ${S.replace(/^option /, '')} is not given on the command line, what value is used?`,
        `What does the ${S.replace(/^option /, '')} flag default to?`,
      );
      if (x.desc) q.push(`What is the default ${x.desc.toLowerCase().replace(/\.$/, '')} on the command line?`);
      q.push(`Which default does the CLI use for ${S.replace(/^option /, '')}?`, `Complete: the ${S.replace(/^option /, '')} option defaults to ___.`);
      break;
    case 'extends': {
      if (/interface/.test(A)) {
        q.push(`Which interfaces does ${S} extend?`, `What are the base interfaces of ${S}?`, `What does the ${s} interface inherit from?`, `${S} extends which interfaces?`, `Complete: interface ${S} extends ___.`);
        break;
      }
      const py = /\.py$/.test(path);
      q.push(
        `Which class does ${S} extend?`,
        `What is the base class of ${S}?`,
        `What is the parent class of the ${s} class?`,
        `What does ${S} inherit from?`,
        `${S} is a subclass of which class?`,
        `What is the superclass of ${s}?`,
        py ? `Complete: class ${S}(___)` : `Complete: class ${S} extends ___.`,
      );
      break;
    }
    case 'implements':
      q.push(`Which interfaces does ${S} implement?`, `What does the ${s} class implement?`, `Which interface types does ${S} conform to?`, `${S} implements which interfaces?`, `Complete: class ${S} implements ___.`);
      break;
    case 'throws': {
      const fp = fnPhrase(S);
      const { raise, raised, other } = raiseVerbs(path);
      q.push(
        `Which error does ${S} ${raise}?`,
        `What error type can ${S} ${other}?`,
        `What exception is ${raised} by ${fp}?`,
        `When it fails, which error class does ${S} ${raise}?`,
        `What kind of error comes out of ${fp}?`,
        `Complete: ${S} ${raise}s ___.`,
      );
      break;
    }
    case 'message': {
      const C = calledAs(S);
      const fp = fnPhrase(S);
      const t = x.when?.test;
      const when = t ? ` when ${t}` : '';
      const E = x.handler;
      if (E) {
        const { raise, raised } = raiseVerbs(path);
        q.push(
          `What error message does ${C} ${raise}${when}?`,
          `What does the ${E} ${raised} by ${fp}${when} say?`,
          `Which message comes with the error ${C} ${raise}s${when}?`,
          `What is the text of the ${E} from ${C}${when}?`,
          t ? `When ${t}, what does ${fp} fail with?` : `What does ${fp} fail with?`,
          `Complete: ${t ? `when ${t}, ` : ''}${C} ${raise}s ${E}(___).`,
        );
      } else {
        q.push(
          `What error message does ${C} print${when}?`,
          `What does ${fp} write to the console${when}?`,
          `Which message does ${C} show${when}?`,
          t ? `When ${t}, what does ${fp} report?` : `What does ${fp} report?`,
          `Complete: ${t ? `when ${t}, ` : ''}${C} prints ___.`,
        );
      }
      break;
    }
    case 'returns': {
      const C = calledAs(S);
      const fp = fnPhrase(S);
      const when = x.when?.caught ? 'an error is caught' : x.when?.test ?? '';
      q.push(`What does ${C} return when ${when}?`, `When ${when}, what does ${fp} give back?`, `What is the result of ${C} if ${when}?`, `Which value does ${fp} return when ${when}?`);
      if (x.when?.caught) q.push(`What does ${C} return if it fails?`, `What does ${C} return instead of throwing?`);
      q.push(`Complete: when ${when}, ${C} returns ___.`);
      break;
    }
    case 'exports':
      q.push(`What does ${S} export?`, `Which names does the module ${S} export?`, `List the exports of ${S}.`, `What is exported from ${S}?`, `Which symbols can be imported from ${S}?`, `Complete: ${S} exports ___.`);
      break;
    case 'route': {
      const m = x.method ? `${x.method.toUpperCase()} ` : '';
      if (x.handler && A.startsWith('mount')) {
        q.push(`On which path is ${x.handler} mounted?`, `Where does the server mount ${x.handler}?`, `Which URL prefix does ${x.handler} serve?`, `What is the mount path of ${x.handler}?`, `Complete: ${x.handler} is mounted at ___.`);
      } else if (x.handler) {
        q.push(
          `Which route does ${x.handler} handle?`,
          `What is the URL path of the ${m}route handled by ${x.handler}?`,
          `On which path does the server call ${x.handler}?`,
          `Which endpoint is mapped to ${x.handler}?`,
          `What path do ${m}requests need to reach ${readable(x.handler)}?`,
          `Complete: ${x.handler} handles ${m}requests on ___.`,
        );
      } else {
        q.push(`Which ${m}route does ${path} define?`, `What is the path of the ${m}endpoint in ${path}?`, `Which URL does the server in ${path} answer for ${m}requests?`, `Which ${m}endpoint is registered in ${path}?`, `Complete: ${path} registers a ${m}route on ___.`);
      }
      break;
    }
    case 'listen':
      if (x.handler) q.push(`On which event is ${x.handler} called?`, `Which event does ${x.handler} handle?`, `What event triggers ${x.handler}?`);
      q.push(`Which event does ${S} listen for${x.fn ? ` in ${x.fn}` : ''}?`, `What event name is subscribed to on ${S}${x.fn ? ` in ${x.fn}` : ''}?`);
      if (x.fn) q.push(`Which event does ${fnPhrase(x.fn)} wait for?`);
      q.push(`Which ${readable(S.replace(/^the /, ''))} event is handled${x.handler ? ` by ${x.handler}` : x.fn ? ` in ${x.fn}` : ` in ${path}`}?`);
      q.push(`Complete: ${x.handler ? `${x.handler} runs on the event` : `${S} listens for the event`} ___.`);
      break;
    case 'emit':
      q.push(`Which event does ${S} emit?`, `What event is emitted by ${S}?`, `Which event name does ${fnPhrase(S)} fire?`, `What event does ${S} dispatch?`, `Which event can listeners receive from ${S}?`, `Complete: ${S} emits the event ___.`);
      break;
    case 'env':
      if (x.reader) {
        const where = x.fn ? fnPhrase(x.fn) : path;
        q.push(
          `Which environment variable does ${S} read?`,
          `What environment variable is read in ${where}?`,
          `Which env var does ${where} use?`,
          `Name an environment variable that ${S} reads.`,
          `Which setting does ${S} take from the environment?`,
          `Complete: ${S} reads the environment variable ___.`,
        );
        break;
      }
      q.push(
        `Which environment variable does ${S} come from?`,
        `What environment variable sets the ${s}?`,
        `Which env var is read for ${S}?`,
        `How do I set ${s} from the environment?`,
        `Name the environment variable that configures ${s}.`,
        `Which environment variable does ${path} read${S === path ? '' : ` for ${s}`}?`,
        `Complete: ${s} is read from the environment variable ___.`,
      );
      break;
    case 'command':
      if (x.desc) q.push(`What is the CLI command for: ${x.desc.replace(/\.$/, '')}?`, `Which subcommand is described as "${x.desc.replace(/\.$/, '')}"?`);
      q.push(`Which subcommand does the CLI define in ${path}?`, `What command can be run with the CLI of ${path}?`, `Name a command of the command-line interface in ${path}.`);
      q.push(`Complete: the CLI has the command ___${x.desc ? ` (${x.desc.replace(/\.$/, '')})` : ''}.`);
      break;
    case 'option': {
      const d = x.desc?.replace(/\.$/, '');
      if (d) q.push(`Which option sets ${d.toLowerCase()}?`, `What is the command-line flag for ${d.toLowerCase()}?`, `Which flag of ${S} is described as "${d}"?`, `How do I pass the ${d.toLowerCase()} on the command line?`);
      q.push(`Which command-line option does ${S} accept${d ? ` for ${d.toLowerCase()}` : ` in ${path}`}?`, `What flag does ${S} take${d ? ` to set ${d.toLowerCase()}` : ''}?`);
      q.push(`Complete: ${d ? `the ${d.toLowerCase()} is set with the option` : `${S} accepts the option`} ___.`);
      break;
    }
  }
  const valueRe = new RegExp(`(^|[^\\w])${r.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w])`);
  // a question that holds its answer teaches nothing (a module's path may name its export: that one stays)
  const leaks = (text: string): boolean => r.family !== 'exports' && text.includes(r.value) && valueRe.test(text);
  const out = [...new Set(q)].filter((t) => !leaks(t));
  // generic shapes, when the family's are too few (or gave the value away)
  for (const g of [`What is the ${A} of ${S}?`, `According to ${path}, what is the ${A} of ${S}?`, `For ${S}, which ${A}?`, `In ${path}, what ${A} does ${S} have?`]) {
    if (out.length >= 5) break;
    if (!out.includes(g) && !leaks(g)) out.push(g);
  }
  // at most 8, the cloze kept
  const cloze = out.find((t) => t.startsWith('Complete:'));
  return cloze ? [...out.filter((t) => t !== cloze).slice(0, 7), cloze] : out.slice(0, 8);
}

// ---------------------------------------------------------------------------------------------
// extraction

interface State {
  lang: string;
  lines: string[];
  raws: Raw[];
  /** Facts found, by kind, subject and attribute (and value, for the kinds with several values per subject). */
  keys: Set<string>;
  /** Object literals already read as defaults (nested ones included). */
  done: Set<number>;
  /** Object-valued variables (JS) and dicts (Python), in case they are spread as defaults later. */
  objectVars: Map<string, { node: Node; subject: string }>;
  /** Names spread into other objects ({ ...defaults, ...options }, {**DEFAULTS, **kw}). */
  spread: Set<string>;
  /** (function, error type) already recorded. */
  thrown: Set<string>;
}

const ES = new Set(['typescript', 'tsx', 'javascript']);
/** Node types whose children are never facts (template strings and Python f-strings are opened: they may read the environment). */
const LEAVES = new Set(['string', 'number', 'regex', 'comment', 'identifier', 'property_identifier', 'type_identifier', 'predefined_type', 'type_annotation', 'import_statement', 'import_from_statement', 'import_declaration', 'use_declaration', 'interpreted_string_literal', 'string_literal', 'integer', 'float']);

/** Families with one value per subject and attribute (a second, conditional assignment is not a fact). */
const SINGLE = new Set<Family>(['constant', 'enum', 'default', 'field', 'init', 'fallback', 'param', 'option-param', 'extends', 'implements', 'env-default', 'option-default', 'exports']);
const KINDISH = new Set<Family>(['default', 'field', 'init', 'fallback', 'param', 'option-param']);

function add(st: State, family: Family, subject: string, attribute: string, value: string | undefined, at: Node, x: Raw['x'] = {}): void {
  if (value === undefined || !value.trim() || value.length > (family === 'exports' ? 2 * MAX_VALUE : MAX_VALUE) || !subject) return;
  // a default of nothing (None, null, undefined) is a placeholder, not a value
  if (KINDISH.has(family) && /^(None|null|undefined|nil)$/.test(value)) return;
  const key = SINGLE.has(family) ? `${KIND[family]}\0${subject}\0${attribute}` : `${KIND[family]}\0${subject}\0${attribute}\0${value}`;
  if (st.keys.has(key)) return;
  st.keys.add(key);
  st.raws.push({ family, subject, attribute, value, line: at.startPosition.row + 1, col: at.startPosition.column, x });
}

/** Reads an object literal (JS object, Python dict or dict(…) call) as defaults, recursing with dotted attributes. */
function readDefaults(st: State, obj: Node, subject: string, prefix = '', family: Family = 'default', x: Raw['x'] = {}, onlyBefore?: number): void {
  if (st.done.has(obj.id) && !prefix) return;
  st.done.add(obj.id);
  const entries: [string | undefined, Node | null][] = [];
  if (obj.type === 'object' || obj.type === 'dictionary') {
    for (const c of obj.namedChildren) {
      if (!c || (onlyBefore !== undefined && c.startIndex >= onlyBefore)) continue;
      if (c.type === 'pair') entries.push([keyName(c.childForFieldName('key')), c.childForFieldName('value')]);
    }
  } else if (obj.type === 'call') {
    for (const c of obj.childForFieldName('arguments')?.namedChildren ?? []) if (c?.type === 'keyword_argument') entries.push([c.childForFieldName('name')?.text, c.childForFieldName('value')]);
  }
  for (const [key, value] of entries) {
    if (!key || !value || isFunction(value)) continue;
    const v = unwrap(value)!;
    if (v.type === 'object' || v.type === 'dictionary') readDefaults(st, v, subject, `${prefix}${key}.`, family, x);
    else add(st, family, subject, `${prefix}${key}`, literalValue(v), v, x);
  }
}

/** An object literal whose literal properties come before a spread ({ timeout: 1000, ...options }): those are defaults. */
function spreadDefaults(st: State, obj: Node, subject: string): void {
  if (obj.type !== 'object' && obj.type !== 'dictionary') return;
  const spreads = obj.namedChildren.filter((c): c is Node => !!c && (c.type === 'spread_element' || c.type === 'dictionary_splat'));
  const last = spreads.at(-1);
  if (!last) return;
  if (obj.namedChildren.some((c) => c && c.type === 'pair' && c.startIndex < last.startIndex)) readDefaults(st, obj, subject, '', 'default', {}, last.startIndex);
}

/** Destructuring defaults: { timeout = 10000, retry: { limit = 2 } = {} }. */
function patternDefaults(st: State, pat: Node, subject: string, family: Family, x: Raw['x'], prefix = ''): void {
  for (const c of pat.namedChildren) {
    if (!c) continue;
    if (c.type === 'object_assignment_pattern') {
      const key = c.childForFieldName('left')?.text;
      const right = c.childForFieldName('right');
      if (key && right) add(st, family, subject, `${prefix}${key}`, literalValue(right), right, x);
    } else if (c.type === 'pair_pattern') {
      const key = keyName(c.childForFieldName('key'));
      const value = c.childForFieldName('value');
      if (!key || !value) continue;
      if (value.type === 'assignment_pattern') {
        const left = value.childForFieldName('left');
        const right = value.childForFieldName('right');
        if (left?.type === 'object_pattern') patternDefaults(st, left, subject, family, x, `${prefix}${key}.`);
        else if (right) add(st, family, subject, `${prefix}${key}`, literalValue(right), right, x);
        continue;
      }
      if (value.type === 'object_pattern') patternDefaults(st, value, subject, family, x, `${prefix}${key}.`);
    }
  }
}

/** The name a function is known by: its own, its variable's, its property's, Class.method. */
function functionName(n: Node, ctx: Ctx, lang: string): string | undefined {
  const own = n.childForFieldName('name');
  const t = n.type;
  if (lang === 'go' && t === 'method_declaration') {
    const recv = n.childForFieldName('receiver')?.text.match(/\*?\s*([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*\)$/)?.[1];
    return recv && own ? `${recv}.${own.text}` : own?.text;
  }
  if (t === 'function_definition' && lang === 'cpp') return n.childForFieldName('declarator')?.childForFieldName('declarator')?.text;
  if (own && t !== 'arrow_function') {
    const name = own.text;
    if (t === 'method_definition' || t === 'method_declaration' || t === 'constructor_declaration' || (lang === 'python' && ctx.cls && !ctx.inFn) || (lang === 'rust' && ctx.cls && !ctx.inFn)) return ctx.cls ? `${ctx.cls}.${name}` : name;
    return name;
  }
  if (lang === 'python' || !isFunction(n)) return undefined;
  const p = n.parent;
  if (!p) return undefined;
  if (p.type === 'variable_declarator') return p.childForFieldName('name')?.text;
  if (p.type === 'pair') {
    const key = keyName(p.childForFieldName('key'));
    const holder = p.parent?.parent;
    const owner = holder?.type === 'variable_declarator' ? holder.childForFieldName('name')?.text : undefined;
    return key ? (owner ? `${owner}.${key}` : key) : undefined;
  }
  if (p.type === 'assignment_expression') {
    const left = p.childForFieldName('left')?.text;
    if (!left) return undefined;
    return left.replace(/^this\./, ctx.cls ? `${ctx.cls}.` : '').replace(/^(module\.)?exports\./, '').replace(/\.prototype\./, '.');
  }
  if (p.type === 'public_field_definition' || p.type === 'field_definition') {
    const name = (p.childForFieldName('name') ?? p.childForFieldName('property'))?.text;
    return name ? (ctx.cls ? `${ctx.cls}.${name}` : name) : undefined;
  }
  return undefined;
}

const CLASS_TYPES = new Set(['class_declaration', 'abstract_class_declaration', 'class', 'class_definition', 'interface_declaration', 'enum_declaration', 'record_declaration', 'struct_declaration', 'impl_item']);
const FUNCTION_TYPES = new Set([
  'function_declaration', 'generator_function_declaration', 'function_expression', 'function', 'generator_function', 'arrow_function', 'method_definition',
  'function_definition', 'lambda', 'method_declaration', 'constructor_declaration', 'func_literal', 'function_item', 'closure_expression', 'local_function_statement',
]);

function className(n: Node): string | undefined {
  if (n.type === 'impl_item') return n.childForFieldName('type')?.text.replace(/<.*$/, '');
  const own = n.childForFieldName('name')?.text;
  if (own) return own;
  const p = n.parent;
  return p?.type === 'variable_declarator' ? p.childForFieldName('name')?.text : undefined;
}

/** A short name for the object a call is made on (this → the class). */
function objectName(o: Node | null | undefined, ctx: Ctx): string | undefined {
  if (!o) return undefined;
  if (o.type === 'this' || o.text === 'self') return ctx.cls ? `the ${ctx.cls}` : undefined;
  const t = o.text.replace(/^this\./, '');
  return t.length <= 40 && /^[\w.$]+$/.test(t) ? t : undefined;
}

/** The name an expression's value is stored under (const token = process.env.API_TOKEN || 'x' → token). */
function targetName(n: Node, ctx: Ctx): { name?: string; fallback?: Node } {
  let cur: Node = n;
  let fallback: Node | undefined;
  for (let k = 0; k < 6; k++) {
    const p = cur.parent;
    if (!p) break;
    if (/^(binary_expression|boolean_operator)$/.test(p.type) && /\|\||\?\?|\bor\b/.test(p.child(1)?.text ?? '') && p.child(0)?.id === cur.id) {
      const r = p.child(p.childCount - 1);
      if (r && isLiteral(r)) fallback = r;
      cur = p;
      continue;
    }
    if (/^(parenthesized_expression|as_expression|non_null_expression|await_expression|arguments|argument_list|call_expression|call|expression_list)$/.test(p.type)) {
      cur = p;
      continue;
    }
    if (p.type === 'variable_declarator' || p.type === 'const_spec' || p.type === 'var_spec' || p.type === 'short_var_declaration') return { name: p.childForFieldName('name')?.text ?? p.childForFieldName('left')?.text, fallback };
    if (p.type === 'pair' || p.type === 'keyword_argument') return { name: keyName(p.childForFieldName('key')) ?? p.childForFieldName('name')?.text, fallback };
    if (p.type === 'assignment_expression' || p.type === 'assignment' || p.type === 'assignment_statement') {
      const left = p.childForFieldName('left');
      return { name: left?.text.replace(/^(this|self)\./, ctx.cls ? `${ctx.cls}.` : ''), fallback };
    }
    if (/^(public_field_definition|field_definition)$/.test(p.type)) return { name: (p.childForFieldName('name') ?? p.childForFieldName('property'))?.text, fallback };
    break;
  }
  return { fallback };
}

function envRead(st: State, nameNode: Node, name: string | undefined, whole: Node, ctx: Ctx, path: string, defaultNode?: Node | null): void {
  if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return;
  const target = targetName(whole, ctx);
  const named = !!target.name && /^[\w.$]+$/.test(target.name) && target.name !== name;
  // the variable the value is stored in, else the function (or module) that reads it
  add(st, 'env', named ? target.name! : ctx.fn ?? path, 'environment variable', name, nameNode, { fn: ctx.fn, reader: !named });
  const d = defaultNode ?? target.fallback;
  if (d && isLiteral(d)) add(st, 'env-default', name, 'default when unset', literalValue(d), d);
}

/** The arguments of a call (JS arguments, Python argument_list, Go argument_list) without comments. */
const args = (call: Node): Node[] => (call.childForFieldName('arguments')?.namedChildren ?? []).filter((c): c is Node => !!c && c.type !== 'comment');

/** A handler passed by name (getUser, users.get) or undefined for an inline function. */
const handlerName = (n: Node | undefined): string | undefined => (n && /^(identifier|member_expression|selector_expression|attribute)$/.test(n.type) && n.text.length <= 40 ? n.text.replace(/^this\./, '') : undefined);

/** The description a commander/yargs command or option carries: the second argument or a chained .description('…'). */
function description(call: Node, a: Node[]): string | undefined {
  const second = a[1] ? plainString(a[1]) : undefined;
  if (second) return second.length <= 80 ? second : undefined;
  for (let p = call.parent, k = 0; p && k < 8; p = p.parent, k++) {
    if (p.type !== 'member_expression' && p.type !== 'call_expression') break;
    if (p.type === 'member_expression' && /^(description|describe|summary)$/.test(p.childForFieldName('property')?.text ?? '')) {
      const d = p.parent?.type === 'call_expression' ? args(p.parent)[0] : undefined;
      const text = d ? plainString(d) : undefined;
      return text && text.length <= 80 ? text : undefined;
    }
  }
  return undefined;
}

/** The subcommand a chained .option(…) belongs to (program.command('build').option(…) → build). */
function chainCommand(call: Node): string | undefined {
  for (let o = call.childForFieldName('function')?.childForFieldName('object'), k = 0; o && k < 12; k++) {
    if (o.type !== 'call_expression') return undefined;
    const f = o.childForFieldName('function');
    if (f?.type === 'member_expression' && f.childForFieldName('property')?.text === 'command') {
      const first = args(o)[0];
      return first ? plainString(first)?.split(/\s/)[0] : undefined;
    }
    o = f?.childForFieldName('object');
  }
  return undefined;
}

function esCall(st: State, n: Node, ctx: Ctx, path: string): void {
  const f = n.childForFieldName('function');
  if (!f) return;
  const a = args(n);
  if (f.type === 'identifier' && f.text === 'reject' && a[0]?.type === 'new_expression') {
    thrown(st, a[0].childForFieldName('constructor'), ctx, n, a[0].childForFieldName('arguments'));
    return;
  }
  if (f.type !== 'member_expression') return;
  const prop = f.childForFieldName('property')?.text ?? '';
  const obj = f.childForFieldName('object');
  const first = a[0];
  // an error the function prints: console.error('--inc can only be used on a single version')
  if (obj?.text === 'console' && (prop === 'error' || prop === 'warn') && ctx.fn) {
    const message = messageText(first);
    if (message) addMessage(st, ctx.fn, message.node, message.text, n);
    return;
  }
  const firstStr = first ? plainString(first) : undefined;
  if (obj?.text === 'Object' && prop === 'assign' && first) {
    const target = targetName(n, ctx).name ?? ctx.fn;
    if (first.type === 'object' && target) readDefaults(st, first, target);
    for (const o of a.slice(0, -1)) if (o.type === 'identifier') st.spread.add(o.text);
    return;
  }
  if (obj?.text === 'Deno.env' && prop === 'get' && first && firstStr) return envRead(st, first, firstStr, n, ctx, path);
  if (firstStr === undefined || !first) return;
  if ((HTTP_METHODS.has(prop) && a.length >= 2) || (prop === 'route' && a.length >= 1) || (prop === 'use' && a.length >= 2)) {
    if (!/^\/[^\s]*$/.test(firstStr)) return;
    const handler = handlerName(a.at(-1));
    if (prop === 'use') {
      if (handler) add(st, 'route', 'the server', `mount path of ${handler}`, firstStr, first, { handler });
      return;
    }
    const method = HTTP_METHODS.has(prop) ? prop : undefined;
    add(st, 'route', 'the server', handler ? `route handled by ${handler}` : `${(method ?? 'any').toUpperCase()} route`, firstStr, first, { method, handler });
    return;
  }
  if (LISTEN.has(prop) && a.length >= 2) {
    const subject = objectName(obj, ctx) ?? ctx.fn ?? path;
    const handler = handlerName(a[1]);
    add(st, 'listen', subject, handler ? `event handled by ${handler}` : ctx.fn ? `event listened for in ${ctx.fn}` : 'event listened for', firstStr, first, { handler, fn: ctx.fn });
    return;
  }
  if (prop === 'emit' || prop === 'dispatchEvent') {
    const subject = ctx.fn ?? objectName(obj, ctx) ?? path;
    add(st, 'emit', subject, 'event emitted', firstStr, first, { fn: ctx.fn });
    return;
  }
  if (prop === 'command' && /^[\w:-]+/.test(firstStr)) {
    const desc = description(n, a);
    add(st, 'command', 'the CLI', desc ? `command (${desc})` : 'command', firstStr, first, { desc });
    return;
  }
  if ((prop === 'option' || prop === 'requiredOption') && /^-/.test(firstStr)) {
    const desc = description(n, a);
    const cmd = chainCommand(n);
    const subject = cmd ? `the ${cmd} command` : 'the CLI';
    add(st, 'option', subject, desc ? `option for ${desc}` : 'option', firstStr, first, { desc });
    // .option(flags, description, parseArg, default) or .option(flags, description, default)
    const d = a[2] && (isFunction(a[2]) || (a[2].type !== 'member_expression' && !isLiteral(a[2]))) ? a[3] : a[2];
    if (d && !isFunction(d)) add(st, 'option-default', `option ${firstStr}`, 'default value', literalValue(d), d, { desc });
  }
}

/**
 * An error thrown in the enclosing function: its type (`type`, an error class's name) and, when
 * its first argument is a message literal, that message with when it is thrown (`at`: the throw).
 */
function thrown(st: State, type: Node | null | undefined, ctx: Ctx, at?: Node, args?: Node | null): void {
  if (!type || !ctx.fn) return;
  const value = type.text.replace(/<.*$/s, '');
  if (!/^[\w.$:]+$/.test(value) || !/(^|[.:])[A-Z]/.test(value)) return;
  const key = `${ctx.fn}\0${value}`;
  if (!st.thrown.has(key)) {
    st.thrown.add(key);
    add(st, 'throws', ctx.fn, 'error thrown', value, type, { fn: ctx.fn });
  }
  const message = messageText(args?.namedChildren.find((c) => c && c.type !== 'comment'));
  if (at && message) addMessage(st, ctx.fn, message.node, message.text, at, value);
}

/** A message a function throws or prints (`error`: the error type, when thrown), with the conditions it is given under. */
function addMessage(st: State, fn: string, node: Node, text: string, at: Node, error?: string): void {
  const when = whenOf(at);
  add(st, 'message', fn, `message${error ? ` of ${error}` : ''}${when.test ? ` when ${when.test}` : ''}`, text, node, { fn, handler: error, when });
}

/** A message literal: a string, or a template or f-string with its substitutions as written; at least two words (C# wraps an argument in an `argument` node). */
function messageText(arg: Node | null | undefined): { node: Node; text: string } | undefined {
  const n = arg?.type === 'argument' ? arg.namedChildren.at(-1) : arg;
  if (!n || !STRING_TYPES.has(n.type)) return undefined;
  const text = unquote(n.text);
  return text !== undefined && /[A-Za-z]{2,}\W+[A-Za-z$]/.test(text) ? { node: n, text: oneLine(text) } : undefined;
}

/**
 * A literal the enclosing function returns in a named case: when it catches an error (inc gives
 * null) or under an if or case (diff gives null for equal versions). A guard's true or false is
 * the predicate itself, not a fact of its own.
 */
function returned(st: State, n: Node, ctx: Ctx): void {
  const v = unwrap(n.namedChildren.find((c) => c && c.type !== 'comment'));
  if (!v || !ctx.fn) return;
  const value = literalValue(v);
  if (value === undefined) return;
  const when = whenOf(n);
  if (!when.caught && (!when.test || /^(true|false|undefined)$/i.test(value))) return;
  add(st, 'returns', ctx.fn, `return value when ${when.caught ? 'an error is caught' : when.test}`, value, v, { fn: ctx.fn, when });
}

/** The longest condition a question names (longer ones are code to read, not a case to ask about). */
const MAX_CONDITION = 90;

/** When the statement `n` runs, by the ifs, cases and catch clauses around it up to its function (the innermost two tests). */
function whenOf(n: Node): When {
  const tests: string[] = [];
  let caught = false;
  const code = (c: Node): string => `\`${oneLine(c.text.replace(/^\((.*)\)$/s, '$1'))}\``;
  for (let c = n, p = n.parent; p && !FUNCTION_TYPES.has(p.type) && !CLASS_TYPES.has(p.type); c = p, p = p.parent) {
    if (p.type === 'if_statement' || p.type === 'elif_clause') {
      const test = p.childForFieldName('condition');
      if (!test || c.id === test.id) continue;
      const consequence = p.childForFieldName('consequence');
      tests.unshift(consequence && c.id === consequence.id ? code(test) : `not ${code(test)}`);
    } else if (p.type === 'switch_case' || p.type === 'switch_default') {
      const on = p.parent?.parent?.type === 'switch_statement' ? p.parent.parent.childForFieldName('value') : null;
      const value = p.childForFieldName('value');
      if (on) tests.unshift(value ? `${code(on)} is ${value.text}` : `${code(on)} is none of the cases`);
    } else if (/^(catch_clause|except_clause)$/.test(p.type)) {
      caught = true;
      break;
    }
  }
  const test = tests.slice(-2).join(' and ');
  return { ...(test && test.length <= MAX_CONDITION ? { test } : {}), ...(caught ? { caught } : {}) };
}

/** Base classes and interfaces of a class. */
function heritage(st: State, n: Node, name: string, lang: string): void {
  const names = (nodes: (Node | null)[]): Node[] => nodes.filter((c): c is Node => !!c && !/comment|type_arguments|keyword_argument/.test(c.type) && c.text !== 'object');
  const emit = (family: Family, attribute: string, nodes: Node[]): void => {
    if (!nodes.length) return;
    add(st, family, name, nodes.length > 1 && attribute === 'base class' ? 'base classes' : attribute, nodes.map((c) => oneLine(c.text.replace(/<[\s\S]*>$/, ''))).join(', '), nodes[0]!);
  };
  if (ES.has(lang)) {
    for (const c of n.namedChildren) {
      if (c?.type === 'class_heritage') {
        const ext = c.namedChildren.find((h) => h?.type === 'extends_clause');
        const impl = c.namedChildren.find((h) => h?.type === 'implements_clause');
        if (ext) emit('extends', 'base class', [ext.childForFieldName('value')].filter((v): v is Node => !!v));
        else if (!impl) emit('extends', 'base class', names(c.namedChildren).slice(0, 1));
        if (impl) emit('implements', 'interfaces', names(impl.namedChildren));
      } else if (c?.type === 'extends_type_clause') emit('extends', 'base interfaces', names(c.namedChildren));
    }
  } else if (lang === 'python') {
    emit('extends', 'base class', names(n.childForFieldName('superclasses')?.namedChildren ?? []));
  } else if (lang === 'java') {
    const sup = n.childForFieldName('superclass');
    if (sup) emit('extends', 'base class', names(sup.namedChildren));
    const ifs = n.childForFieldName('interfaces') ?? n.namedChildren.find((c) => c?.type === 'extends_interfaces');
    const list = ifs?.namedChildren.find((c) => c?.type === 'type_list');
    if (list) emit(n.type === 'interface_declaration' ? 'extends' : 'implements', n.type === 'interface_declaration' ? 'base interfaces' : 'interfaces', names(list.namedChildren));
  } else if (lang === 'csharp') {
    const base = names(n.namedChildren.find((c) => c?.type === 'base_list')?.namedChildren ?? []);
    const isIface = (c: Node): boolean => /^I[A-Z]/.test(c.text);
    emit('extends', n.type === 'interface_declaration' ? 'base interfaces' : 'base class', base.filter((c) => n.type === 'interface_declaration' || !isIface(c)));
    if (n.type !== 'interface_declaration') emit('implements', 'interfaces', base.filter(isIface));
  }
}

/** Names a module exports, with the node of the first export. */
function exportsOf(root: Node, lang: string): { names: string[]; at?: Node } {
  const names: string[] = [];
  let at: Node | undefined;
  const put = (name: string | undefined, node: Node): void => {
    if (!name) return;
    at ??= node;
    if (!names.includes(name)) names.push(name);
  };
  for (const c of root.namedChildren) {
    if (!c) continue;
    if (ES.has(lang)) {
      if (c.type === 'export_statement') {
        const decl = c.childForFieldName('declaration');
        const clause = c.namedChildren.find((k) => k?.type === 'export_clause');
        if (c.children.some((k) => k?.type === 'default')) put('default', c);
        else if (decl) {
          if (/lexical_declaration|variable_declaration/.test(decl.type)) for (const d of decl.namedChildren) put(d?.type === 'variable_declarator' ? d.childForFieldName('name')?.text : undefined, c);
          else put(decl.childForFieldName('name')?.text, c);
        } else if (clause) {
          for (const s of clause.namedChildren) if (s?.type === 'export_specifier') put((s.childForFieldName('alias') ?? s.childForFieldName('name'))?.text, c);
        } else if (c.childForFieldName('source')) {
          const ns = c.namedChildren.find((k) => k?.type === 'namespace_export');
          put(ns ? ns.namedChildren.at(-1)?.text : `* from ${plainString(c.childForFieldName('source')!)}`, c);
        }
      } else if (c.type === 'expression_statement' && c.namedChildren[0]?.type === 'assignment_expression') {
        const asg = c.namedChildren[0];
        const left = asg.childForFieldName('left')?.text ?? '';
        const right = asg.childForFieldName('right');
        const m = /^(?:module\.)?exports\.([\w$]+)$/.exec(left);
        if (m) put(m[1], c);
        else if (left === 'module.exports' && right) {
          if (right.type === 'object') for (const p of right.namedChildren) put(p?.type === 'pair' ? keyName(p.childForFieldName('key')) : p?.type === 'shorthand_property_identifier' ? p.text : undefined, c);
          else put(right.type === 'identifier' ? right.text : right.childForFieldName('name')?.text, c);
        }
      }
    } else if (lang === 'python') {
      const asg = c.type === 'expression_statement' ? c.namedChildren[0] : undefined;
      if (asg?.type === 'assignment' && asg.childForFieldName('left')?.text === '__all__') {
        names.length = 0;
        at = c;
        for (const s of asg.childForFieldName('right')?.namedChildren ?? []) if (s) put(plainString(s), c);
        return { names, at };
      }
      const def = c.type === 'decorated_definition' ? c.childForFieldName('definition') : c;
      if (def && /^(function_definition|class_definition)$/.test(def.type)) {
        const name = def.childForFieldName('name')?.text;
        if (name && !name.startsWith('_')) put(name, c);
      }
    } else if (lang === 'go') {
      const ids = c.type === 'function_declaration' ? [c.childForFieldName('name')] : /^(type_declaration|const_declaration|var_declaration)$/.test(c.type) ? c.namedChildren.map((s) => s?.childForFieldName('name')) : [];
      for (const id of ids) if (id && /^[A-Z]/.test(id.text)) put(id.text, c);
    } else if (lang === 'rust') {
      if (c.namedChildren[0]?.type === 'visibility_modifier' && c.namedChildren[0].text === 'pub') put(c.childForFieldName('name')?.text, c);
    }
  }
  return { names, at };
}

/** One node of the walk: reads the facts it writes. */
function visit(st: State, n: Node, ctx: Ctx, path: string): void {
  const t = n.type;
  const lang = st.lang;
  if (ES.has(lang)) {
    switch (t) {
      case 'lexical_declaration':
      case 'variable_declaration': {
        const isConst = n.child(0)?.text === 'const';
        for (const d of n.namedChildren) {
          if (d?.type !== 'variable_declarator') continue;
          const nameNode = d.childForFieldName('name');
          const value = unwrap(d.childForFieldName('value'));
          if (!nameNode || !value) continue;
          const name = nameNode.text;
          if (nameNode.type === 'object_pattern') {
            if (ctx.fn || /^[\w.$]+$/.test(value.text)) patternDefaults(st, nameNode, ctx.fn ?? value.text, 'option-param', { fn: ctx.fn });
            continue;
          }
          if (value.type === 'object') {
            if (DEFAULTY.test(name)) readDefaults(st, value, name);
            else {
              st.objectVars.set(name, { node: value, subject: name });
              spreadDefaults(st, value, name);
            }
            continue;
          }
          if (!ctx.inFn && !ctx.cls && (isConst || /^[A-Z][A-Z0-9_]+$/.test(name))) add(st, 'constant', name, 'value', literalValue(value), value);
        }
        return;
      }
      case 'assignment_expression': {
        const left = n.childForFieldName('left');
        const right = unwrap(n.childForFieldName('right'));
        if (!left || !right) return;
        const prop = left.type === 'member_expression' ? left.childForFieldName('property')?.text ?? '' : left.text;
        const subject = left.text.replace(/^this\./, ctx.cls ? `${ctx.cls}.` : '').replace(/^(module\.)?exports\./, '');
        if (right.type === 'object') {
          if (DEFAULTY.test(prop)) readDefaults(st, right, subject);
          else spreadDefaults(st, right, subject);
          return;
        }
        // this.x = literal, a statement of the constructor's body itself (not under an if)
        const stmt = n.parent?.type === 'expression_statement' ? n.parent : undefined;
        if (ctx.cls && ctx.fn === `${ctx.cls}.constructor` && stmt?.parent?.parent?.type === 'method_definition' && /^this\.[\w$]+$/.test(left.text) && !/^(\[\]|\{\})$/.test(right.text)) add(st, 'init', ctx.cls, prop, literalValue(right), right);
        return;
      }
      case 'pair': {
        const obj = n.parent;
        const key = keyName(n.childForFieldName('key'));
        const value = unwrap(n.childForFieldName('value'));
        if (obj && !st.done.has(obj.id) && key && DEFAULTY.test(key) && value && value.type === 'object') readDefaults(st, value, key);
        return;
      }
      case 'public_field_definition':
      case 'field_definition': {
        const name = (n.childForFieldName('name') ?? n.childForFieldName('property'))?.text;
        const value = unwrap(n.childForFieldName('value'));
        if (!name || !value || !ctx.cls) return;
        const isStatic = n.children.some((c) => c?.type === 'static');
        const isReadonly = n.children.some((c) => c?.type === 'readonly');
        if (value.type === 'object') {
          if (DEFAULTY.test(name)) readDefaults(st, value, `${ctx.cls}.${name}`);
          return;
        }
        if (isStatic || isReadonly) add(st, 'constant', `${ctx.cls}.${name}`, 'value', literalValue(value), value);
        else add(st, 'field', ctx.cls, name, literalValue(value), value);
        return;
      }
      case 'enum_declaration': {
        const e = n.childForFieldName('name')?.text;
        if (!e) return;
        for (const m of n.childForFieldName('body')?.namedChildren ?? []) {
          if (m?.type !== 'enum_assignment') continue;
          const member = keyName(m.childForFieldName('name'));
          const value = m.childForFieldName('value');
          if (member && value) add(st, 'enum', `${e}.${member}`, 'value', literalValue(value), value, { owner: e, member });
        }
        return;
      }
      case 'return_statement':
        return returned(st, n, ctx);
      case 'throw_statement': {
        const e = n.namedChildren[0];
        if (e?.type === 'new_expression') thrown(st, e.childForFieldName('constructor'), ctx, n, e.childForFieldName('arguments'));
        return;
      }
      case 'call_expression':
        return esCall(st, n, ctx, path);
      case 'member_expression': {
        const o = n.childForFieldName('object')?.text;
        if (o === 'process.env' || o === 'import.meta.env' || o === 'Bun.env') {
          const p = n.childForFieldName('property');
          if (p) envRead(st, p, p.text, n, ctx, path);
        }
        return;
      }
      case 'subscript_expression': {
        if (n.childForFieldName('object')?.text !== 'process.env') return;
        const i = n.childForFieldName('index');
        if (i) envRead(st, i, plainString(i), n, ctx, path);
        return;
      }
      case 'binary_expression': {
        // opts.timeout ?? 1000: a default read from an options object
        const op = n.childForFieldName('operator')?.text;
        const l = n.childForFieldName('left');
        const r = n.childForFieldName('right');
        if ((op !== '??' && op !== '||') || l?.type !== 'member_expression' || !r || !isLiteral(r)) return;
        const o = l.childForFieldName('object')?.text ?? '';
        const p = l.childForFieldName('property')?.text;
        if (p && DEFAULTY.test(o.replace(/^this\./, '')) && /^[\w.$]+$/.test(o)) add(st, 'fallback', ctx.fn ?? o, p, literalValue(r), r, { fn: ctx.fn });
        return;
      }
      case 'spread_element': {
        const id = n.namedChildren[0];
        if (id?.type === 'identifier') st.spread.add(id.text);
        return;
      }
    }
    if (FUNCTION_TYPES.has(t) && ctx.fn && functionName(n, ctx, lang) !== undefined) {
      const params = n.childForFieldName('parameters');
      for (const p of params?.namedChildren ?? []) {
        if (!p) continue;
        let pat: Node | null = null;
        let value: Node | null = null;
        if (p.type === 'assignment_pattern') [pat, value] = [p.childForFieldName('left'), p.childForFieldName('right')];
        else if (p.type === 'required_parameter' || p.type === 'optional_parameter') [pat, value] = [p.childForFieldName('pattern'), p.childForFieldName('value')];
        if (!pat || !value) continue;
        if (pat.type === 'object_pattern') patternDefaults(st, pat, ctx.fn, 'option-param', { fn: ctx.fn });
        else if (pat.type === 'identifier') add(st, 'param', ctx.fn, pat.text, literalValue(value), value, { fn: ctx.fn });
      }
    }
    if (CLASS_TYPES.has(t) && className(n)) heritage(st, n, className(n)!, lang);
    return;
  }
  if (lang === 'python') {
    switch (t) {
      case 'assignment': {
        const left = n.childForFieldName('left');
        const right = n.childForFieldName('right');
        if (!left || !right) return;
        const name = left.text;
        const dictLike = right.type === 'dictionary' || (right.type === 'call' && right.childForFieldName('function')?.text === 'dict');
        if (left.type === 'identifier' && dictLike) {
          if (DEFAULTY.test(name)) readDefaults(st, right, ctx.cls && !ctx.inFn ? `${ctx.cls}.${name}` : name);
          else if (right.type === 'dictionary') {
            st.objectVars.set(name, { node: right, subject: name });
            spreadDefaults(st, right, name);
          }
          return;
        }
        const value = literalValue(right);
        if (left.type === 'identifier' && !ctx.inFn && !ctx.cls) {
          if (name !== '__all__' && (/^[A-Z][A-Z0-9_]*$/.test(name) || /^__\w+__$/.test(name) || DEFAULTY.test(name))) add(st, 'constant', name, 'value', value, right);
        } else if (left.type === 'identifier' && ctx.cls && !ctx.inFn) {
          if (ctx.enumClass) add(st, 'enum', `${ctx.cls}.${name}`, 'value', value, right, { owner: ctx.cls, member: name });
          else if (/^[A-Z][A-Z0-9_]*$/.test(name)) add(st, 'constant', `${ctx.cls}.${name}`, 'value', value, right);
          else if (!name.startsWith('__')) add(st, 'field', ctx.cls, name, value, right);
        } else if (ctx.cls && ctx.fn === `${ctx.cls}.__init__` && n.parent?.parent?.parent?.type === 'function_definition' && /^self\.\w+$/.test(name) && !/^(\[\]|\{\}|\(\))$/.test(right.text)) {
          add(st, 'init', ctx.cls, name.slice(5), value, right);
        }
        return;
      }
      case 'return_statement':
        return returned(st, n, ctx);
      case 'raise_statement': {
        const e = n.namedChildren[0];
        if (!e) return;
        if (e.type === 'call') thrown(st, e.childForFieldName('function'), ctx, n, e.childForFieldName('arguments'));
        else if (/^(identifier|attribute)$/.test(e.type)) thrown(st, e, ctx);
        return;
      }
      case 'subscript': {
        if (!/^(os\.)?environ$/.test(n.childForFieldName('value')?.text ?? '')) return;
        const i = n.childForFieldName('subscript');
        if (i) envRead(st, i, plainString(i), n, ctx, path);
        return;
      }
      case 'dictionary_splat': {
        const id = n.namedChildren[0];
        if (id?.type === 'identifier') st.spread.add(id.text);
        return;
      }
      case 'call': {
        const f = n.childForFieldName('function');
        const a = args(n);
        const first = a[0];
        const firstStr = first ? plainString(first) : undefined;
        const ftext = f?.text ?? '';
        const kw = (k: string): Node | undefined => a.find((c) => c.type === 'keyword_argument' && c.childForFieldName('name')?.text === k)?.childForFieldName('value') ?? undefined;
        if (/^(os\.)?(getenv|environ\.get)$/.test(ftext) && first) return envRead(st, first, firstStr, n, ctx, path, a[1] && a[1].type !== 'keyword_argument' ? a[1] : kw('default'));
        if (f?.type !== 'attribute' || !first || firstStr === undefined) return;
        const attr = f.childForFieldName('attribute')?.text ?? '';
        const obj = f.childForFieldName('object')?.text ?? '';
        const inDecorator = n.parent?.type === 'decorator';
        const decorated = inDecorator ? n.parent?.parent?.childForFieldName('definition')?.childForFieldName('name')?.text : undefined;
        if (inDecorator && /^(route|get|post|put|patch|delete|head|options|websocket|api_route)$/.test(attr) && /^\/\S*$/.test(firstStr)) {
          const method = attr === 'route' || attr === 'api_route' ? undefined : attr;
          add(st, 'route', 'the server', decorated ? `route handled by ${decorated}` : `${(method ?? 'any').toUpperCase()} route`, firstStr, first, { method, handler: decorated });
          return;
        }
        if (attr === 'add_argument' || (inDecorator && attr === 'option')) {
          if (!/^-/.test(firstStr)) return;
          const h = kw('help');
          const desc = h ? plainString(h) : undefined;
          add(st, 'option', 'the CLI', desc ? `option for ${desc}` : 'option', firstStr, first, { desc });
          const d = kw('default');
          if (d) add(st, 'option-default', `option ${firstStr}`, 'default value', literalValue(d), d, { desc });
          return;
        }
        if (attr === 'add_parser' || (inDecorator && attr === 'command')) {
          const h = kw('help');
          const desc = h ? plainString(h) : undefined;
          add(st, 'command', 'the CLI', desc ? `command (${desc})` : 'command', firstStr, first, { desc });
          return;
        }
        if (attr === 'get' && a[1] && a[1].type !== 'keyword_argument' && (DEFAULTY.test(obj) || /kwargs|kw$/.test(obj)) && /^[\w.]+$/.test(obj)) {
          add(st, 'fallback', ctx.fn ?? obj, firstStr, literalValue(a[1]), a[1], { fn: ctx.fn });
        }
        if (/^(on|emit)$/.test(attr) && a.length >= (attr === 'on' ? 2 : 1) && /\w/.test(firstStr)) {
          if (attr === 'emit') add(st, 'emit', ctx.fn ?? obj, 'event emitted', firstStr, first, { fn: ctx.fn });
          else add(st, 'listen', obj, ctx.fn ? `event listened for in ${ctx.fn}` : 'event listened for', firstStr, first, { fn: ctx.fn });
        }
        return;
      }
    }
    if (t === 'function_definition' && ctx.fn) {
      for (const p of n.childForFieldName('parameters')?.namedChildren ?? []) {
        if (p?.type !== 'default_parameter' && p?.type !== 'typed_default_parameter') continue;
        const name = p.childForFieldName('name')?.text;
        const value = p.childForFieldName('value');
        if (!name || !value) continue;
        if (value.type === 'dictionary') readDefaults(st, value, ctx.fn, `${name}.`, 'param', { fn: ctx.fn });
        else add(st, 'param', ctx.fn, name, literalValue(value), value, { fn: ctx.fn });
      }
    }
    if (t === 'class_definition' && className(n)) heritage(st, n, className(n)!, lang);
    return;
  }
  // Go, Rust, Java, C#: constants, enums, base classes, throws, environment variables, routes (Go)
  switch (t) {
    case 'const_spec':
    case 'var_spec': {
      if (ctx.inFn) return;
      const names = n.childrenForFieldName('name').filter((c): c is Node => !!c);
      const values = (n.childForFieldName('value')?.namedChildren ?? []).filter((c): c is Node => !!c);
      names.forEach((id, i) => {
        const v = values[i];
        if (v && (t === 'const_spec' || DEFAULTY.test(id.text) || /^[A-Z]/.test(id.text))) add(st, 'constant', id.text, 'value', literalValue(v), v);
      });
      return;
    }
    case 'const_item':
    case 'static_item': {
      const name = n.childForFieldName('name')?.text;
      const v = n.childForFieldName('value');
      if (name && v && !ctx.inFn) add(st, 'constant', ctx.cls ? `${ctx.cls}.${name}` : name, 'value', literalValue(v), v);
      return;
    }
    case 'enum_variant':
    case 'enum_member_declaration':
    case 'enum_constant': {
      const e = ctx.cls ?? n.parent?.parent?.childForFieldName('name')?.text;
      const member = n.childForFieldName('name')?.text;
      const a = t === 'enum_constant' ? args(n) : [];
      const v = t === 'enum_constant' ? (a.length === 1 ? a[0] : undefined) : n.childForFieldName('value');
      if (e && member && v) add(st, 'enum', `${e}.${member}`, 'value', literalValue(v), v, { owner: e, member });
      return;
    }
    case 'field_declaration': {
      if (!ctx.cls) return;
      const mods = n.namedChildren.filter((c) => c && /^modifiers?$/.test(c.type)).map((c) => c!.text).join(' ');
      if (!(/\bconst\b/.test(mods) || (/\bstatic\b/.test(mods) && /\b(final|readonly)\b/.test(mods)))) return;
      const decls = lang === 'java' ? n.childrenForFieldName('declarator') : n.namedChildren.find((c) => c?.type === 'variable_declaration')?.namedChildren.filter((c) => c?.type === 'variable_declarator') ?? [];
      for (const d of decls) {
        const name = d?.childForFieldName('name')?.text;
        const v = d?.childForFieldName('value') ?? d?.namedChildren.at(-1);
        if (d && name && v && v.id !== d.childForFieldName('name')?.id) add(st, 'constant', `${ctx.cls}.${name}`, 'value', literalValue(v), v);
      }
      return;
    }
    case 'throw_statement':
    case 'throw_expression': {
      const e = n.namedChildren[0];
      if (e?.type === 'object_creation_expression') thrown(st, e.childForFieldName('type'), ctx, n, e.childForFieldName('arguments'));
      return;
    }
    case 'parameter': {
      // C#: int retries = 3
      const name = n.childForFieldName('name');
      const v = n.namedChildren.at(-1);
      if (lang === 'csharp' && ctx.fn && name && v && v.id !== name.id && v.startIndex > name.endIndex) add(st, 'param', ctx.fn, name.text, literalValue(v), v, { fn: ctx.fn });
      return;
    }
    case 'call_expression':
    case 'method_invocation':
    case 'invocation_expression': {
      const f = n.childForFieldName('function') ?? n.childForFieldName('expression');
      const ftext = t === 'method_invocation' ? `${n.childForFieldName('object')?.text ?? ''}.${n.childForFieldName('name')?.text ?? ''}` : f?.text ?? '';
      const a = args(n).map((c) => (c.type === 'argument' ? c.namedChildren[0] ?? c : c));
      const first = a[0];
      const firstStr = first ? plainString(first) : undefined;
      if (!first || firstStr === undefined) return;
      if (/^(os\.(Getenv|LookupEnv)|(std::)?env::var(_os)?|System\.getenv|Environment\.GetEnvironmentVariable)$/.test(ftext)) return envRead(st, first, firstStr, n, ctx, path);
      if (lang === 'go') {
        const m = /\.(HandleFunc|Handle|GET|POST|PUT|PATCH|DELETE|Get|Post|Put|Patch|Delete)$/.exec(ftext);
        if (m && a.length >= 2 && /^\/\S*$/.test(firstStr)) {
          const handler = handlerName(a.at(-1));
          const method = /^Handle/.test(m[1]!) ? undefined : m[1]!.toLowerCase();
          add(st, 'route', 'the server', handler ? `route handled by ${handler}` : `${(method ?? 'any').toUpperCase()} route`, firstStr, first, { method, handler });
        }
        const flag = /^flag\.(String|Int|Int64|Uint|Bool|Duration|Float64)(Var)?$/.exec(ftext);
        if (flag) {
          const [nameArg, def, usage] = flag[2] ? a.slice(1) : a;
          const name = nameArg ? plainString(nameArg) : undefined;
          const desc = usage ? plainString(usage) : undefined;
          if (name && nameArg) {
            add(st, 'option', 'the CLI', desc ? `option for ${desc}` : 'option', `-${name}`, nameArg, { desc });
            if (def) add(st, 'option-default', `option -${name}`, 'default value', literalValue(def), def, { desc });
          }
        }
      }
      return;
    }
  }
  if (/^(class|interface|record|struct)_declaration$/.test(t) && className(n)) heritage(st, n, className(n)!, lang);
}

/** The context inside a node: a function or class it opens. */
function enter(n: Node, ctx: Ctx, lang: string): Ctx {
  const t = n.type;
  if (CLASS_TYPES.has(t)) {
    const cls = className(n);
    const enumClass = lang === 'python' && /\b(Enum|IntEnum|StrEnum|Flag|IntFlag)\b/.test(n.childForFieldName('superclasses')?.text ?? '');
    return { cls: cls ?? ctx.cls, fn: undefined, inFn: ctx.inFn && !cls, enumClass };
  }
  if (FUNCTION_TYPES.has(t)) {
    const name = functionName(n, ctx, lang);
    return { cls: ctx.cls, fn: name ?? ctx.fn, inFn: true };
  }
  return ctx;
}

/**
 * Facts of one source file, in line order, at most maxFacts (200 by default); [] for a language
 * without a grammar. A file that does not parse cleanly gives the facts of the parts that do.
 */
export async function codeFacts(path: string, text: string, o: { maxFacts?: number } = {}): Promise<Fact[]> {
  const maxFacts = o.maxFacts ?? 200;
  if (maxFacts <= 0) return [];
  const parsed = await parseFile(path, text);
  if (!parsed) return [];
  const { language: lang, tree } = parsed;
  try {
    const st: State = { lang, lines: text.split('\n'), raws: [], keys: new Set(), done: new Set(), objectVars: new Map(), spread: new Set(), thrown: new Set() };
    const root = tree.rootNode;
    // depth-first, in source order; an explicit stack (deeply nested expressions do not overflow)
    const stack: [Node, Ctx][] = [[root, { inFn: false }]];
    let visited = 0;
    while (stack.length) {
      const [n, ctx] = stack.pop()!;
      // enough facts that start before this node: nothing later can come before them
      if (st.raws.length >= maxFacts && (++visited & 255) === 0) {
        const row = n.startPosition.row + 1;
        if (st.raws.filter((r) => r.line < row).length >= maxFacts) break;
      }
      const inner = enter(n, ctx, lang);
      visit(st, n, inner, path);
      // leaves whose parts hold no fact (a plain string's fragments, a number) are not opened
      if (LEAVES.has(n.type) && !(n.type === 'string' && lang === 'python' && n.text.includes('{'))) continue;
      const kids = n.namedChildren;
      for (let i = kids.length - 1; i >= 0; i--) {
        const k = kids[i];
        if (k && k.type !== 'comment') stack.push([k, inner]);
      }
    }
    // objects spread as defaults ({ ...defaults, ...options }): read once the whole file is seen
    for (const name of st.spread) {
      const v = st.objectVars.get(name);
      if (v) readDefaults(st, v.node, v.subject);
    }
    const ex = exportsOf(root, lang);
    if (ex.names.length && ex.at) {
      let list = '';
      for (const name of ex.names) {
        if (list && list.length + name.length + 2 > 2 * MAX_VALUE - 3) {
          list += ', …';
          break;
        }
        list += list ? `, ${name}` : name;
      }
      add(st, 'exports', path, 'exported names', list, ex.at);
    }
    const facts: Fact[] = [];
    for (const r of st.raws.sort((a, b) => a.line - b.line || a.col - b.col)) {
      if (facts.length >= maxFacts) break;
      const questions = questionsFor(r, path);
      // a fact every question of which would give its value away (diff returns 'minor' when `lowVersion.minor`…) is not asked
      if (!questions.length) continue;
      facts.push({ kind: KIND[r.family], subject: r.subject, attribute: r.attribute, value: r.value, path, line: r.line, evidence: (st.lines[r.line - 1] ?? '').trim().slice(0, 200), questions });
    }
    return facts;
  } finally {
    tree.delete();
  }
}
