/**
 * Facts from a document's code examples: the values an example sets, which users ask about ("Which
 * port does the sample server bind to?", "What status code does the error handler send?") — the
 * port a server listens on, a status code sent or fallen back to, a header set, an option's value
 * in an object literal — and an object literal introduced as the defaults ("The default
 * configuration is the equivalent of:") read as one default per key. Read line by line with
 * regular expressions: examples are fragments more often than programs (`app.use(cors(opts))`
 * alone), and each value read here is one call or one property on one line.
 */
import { readable } from './codefacts';
import type { Fact } from './facts';
import { FENCE, headingText } from './markdown';
import { defaultQuestions } from './options';

/** Languages whose examples are read: JavaScript and its kin, JSON (defaults only: elsewhere it is a manifest or output), and a fence with no language. */
const EXAMPLE_LANG = /^(?:js|javascript|jsx|mjs|cjs|ts|typescript|tsx|json|json5|jsonc|)$/i;
/** `key: value,` on a line of its own (an object literal's property) with a literal value (its comment already cut). */
const PROPERTY = /^\s*["']?([A-Za-z_$][\w$]*)["']?\s*:\s*(-?\d[\d_.]*|true|false|null|'[^'\n]{1,60}'|"[^"\n]{1,60}")\s*,?\s*$/;
const PORT = /\.listen\(\s*(\d{2,5})\s*[,)]/;
const STATUS = /\.(?:status|sendStatus|writeHead)\(\s*([1-5]\d\d)\s*[,)]|\bstatusCode\s*=\s*([1-5]\d\d)\b/;
/** `err.status || 500`: the status sent when the error has none. */
const STATUS_FALLBACK = /\b(?:status|statusCode)\s*(?:\|\||\?\?)\s*([1-5]\d\d)\b/;
/** A header set by name on a request or response: `res.setHeader('X-Special-Proxy-Header', …)`, `res.set('Cache-Control', …)`. */
const HEADER = /(?:\.(?:setHeader|header|appendHeader)|\b(?:res|response|reply|ctx|req|request|proxyReq|proxyRes)\.(?:set|append))\(\s*['"]([A-Za-z][\w-]*)['"]/;
/** What a header's name looks like: X-Something, or capitalised words joined by dashes (Content-Type). */
const HEADER_NAME = /^(?:X-[\w-]+|[A-Z][a-z]+(?:-[A-Z][a-z]*)+)$/;
/**
 * The sentence before an object literal of defaults: "The default configuration is the equivalent
 * of:", "has the following defaults:", "has the following structure and default values:" — not one
 * that only mentions a default ("By default this value is …, but you can override it:").
 */
const DEFAULTS_INTRO = /\b(?:the\s+default\s+(?:configuration|options|settings|values)\s+(?:is|are)\b|following\s+(?:structure\s+and\s+)?defaults?(?:\s+values)?\b|defaults\s+are\b)[^:]*:\s*$/i;
const NOT_DEFAULTS = /\b(?:override|overrid|example|instead|like this|custom)/i;

const unquote = (v: string): string => v.replace(/^(['"])(.*)\1$/, '$2');
/** A heading as the questions name it: no HTML, badges, link targets or quotes. */
const headingName = (h: string): string =>
  h.replace(/<[^>]*>/g, '').replace(/!\[[^\]]*\]\([^)]*\)/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_"]/g, '').replace(/\s+/g, ' ').trim();

/** The facts of the code examples in Markdown `text` (the fences in EXAMPLE_LANG). */
export function exampleFacts(file: string, text: string): Fact[] {
  const facts: Fact[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  let heading = '';
  let intro = '';
  // the open fence: its language, whether it holds the defaults, how deep in brackets its current line is
  let fence: { lang: string; defaults: boolean; depth: number } | undefined;
  lines.forEach((raw, i) => {
    const opens = FENCE.exec(raw);
    if (opens) {
      fence = fence ? undefined : { lang: opens[2]!, defaults: DEFAULTS_INTRO.test(intro) && !NOT_DEFAULTS.test(intro), depth: 0 };
      intro = '';
      return;
    }
    if (!fence) {
      const h = headingText(raw);
      if (h !== undefined) heading = headingName(h);
      if (raw.trim()) intro = raw.trim();
      return;
    }
    if (!EXAMPLE_LANG.test(fence.lang)) return;
    // a comment is prose (read as such), and commented-out code sets nothing: `// app.listen(3000)`, ` * listen(9000)`
    const comment = /^\s*(?:\/\/|\/\*|\*)/.test(raw);
    const trailing = comment ? undefined : /(?:^|\s)(?:\/\/|\/\*)(.*)$/.exec(raw);
    const line = comment ? '' : trailing ? raw.slice(0, trailing.index) : raw;
    const depth = fence.depth;
    fence.depth += (line.match(/[{[]/g)?.length ?? 0) - (line.match(/[}\]]/g)?.length ?? 0);
    const ex = heading ? `the example under "${heading}"` : 'the example';
    const add = (subject: string, attribute: string, value: string, questions: string[]): void => {
      const key = `${subject}\n${attribute}\n${value}`;
      // a question that names its answer teaches nothing ('the example under "TokenExpiredError"')
      const asks = [...new Set(questions)].filter((q) => !q.includes(value));
      if (!value || seen.has(key) || !asks.length) return;
      seen.add(key);
      facts.push({ kind: 'prose', subject, attribute, value, path: file, line: i + 1, evidence: raw.trim(), questions: asks });
    };
    const property = PROPERTY.exec(line);
    // a property whose comment says it is no default or only an example ("// actually the default is null") is not read
    if (property && !/\b(?:default|example|e\.g)/i.test(trailing?.[1] ?? '')) {
      const [name, value] = [property[1]!, unquote(property[2]!)];
      // the defaults: the literal's own keys, not those of objects inside it
      if (fence.defaults) {
        if (depth === 1) add(`the ${name} option`, 'default', value, [...defaultQuestions(name, 'option'), `Out of the box, what is ${name} set to?`]);
      } else if (!/^json/i.test(fence.lang))
        add(ex, `${name} in the example`, value, [
          `What is ${name} set to in the example?`,
          `In ${ex}, what is ${name} set to?`,
          `What value does ${ex} give ${name}?`,
          `Which ${readable(name)} does ${ex} use?`,
        ]);
    }
    const port = PORT.exec(line)?.[1];
    if (port) add(ex, 'port', port, ['Which port does the example listen on?', `Which port does ${ex} listen on?`, `What port does the server in ${ex} bind to?`, `On which port does ${ex} run?`]);
    const status = STATUS.exec(line);
    const code = status?.[1] ?? status?.[2];
    if (code) add(ex, 'status code', code, ['What status code does the example send?', `Which status code does ${ex} respond with?`, `What HTTP status is sent in ${ex}?`]);
    const fallback = STATUS_FALLBACK.exec(line)?.[1];
    if (fallback)
      add(ex, 'fallback status code', fallback, [
        'What status code does the example send when none is set?',
        `Which status code does ${ex} fall back to?`,
        ...(/\berr(?:or)?\b/i.test(line) ? [`If the error has no status, which status code does ${ex} send?`] : []),
      ]);
    const header = HEADER.exec(line)?.[1];
    if (header && HEADER_NAME.test(header)) add(ex, 'header', header, ['Which header does the example set?', `Which header does ${ex} set?`, `What is the name of the header ${ex} adds?`]);
  });
  return facts;
}
