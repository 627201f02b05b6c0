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
import { defaultQuestions } from './options';

/** A fence's opening or closing line, with its language. */
export const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/;
/** Languages whose examples are read: JavaScript and its kin, JSON, and a fence with no language. */
const EXAMPLE_LANG = /^(?:js|javascript|jsx|mjs|cjs|ts|typescript|tsx|json|json5|jsonc|)$/i;
/** `key: value,` on a line of its own (an object literal's property), a literal value, an optional comment. */
const PROPERTY = /^\s*["']?([A-Za-z_$][\w$]*)["']?\s*:\s*(-?\d[\d_.]*|true|false|null|'[^'\n]{1,60}'|"[^"\n]{1,60}")\s*,?\s*(?:\/\/.*)?$/;
const PORT = /\.listen\(\s*(\d{2,5})\s*[,)]/;
const STATUS = /\.(?:status|sendStatus|writeHead)\(\s*([1-5]\d\d)\s*[,)]|\bstatusCode\s*=\s*([1-5]\d\d)\b/;
/** `err.status || 500`: the status sent when the error has none. */
const STATUS_FALLBACK = /\b(?:status|statusCode)\s*(?:\|\||\?\?)\s*([1-5]\d\d)\b/;
/** A header set by name: `res.setHeader('X-Special-Proxy-Header', …)` (a name with a dash). */
const HEADER = /\.(?:setHeader|set|header|append|appendHeader)\(\s*['"]([A-Za-z][\w]*(?:-[\w]+)+)['"]/;

const unquote = (v: string): string => v.replace(/^(['"])(.*)\1$/, '$2');

/** The facts of the code examples in Markdown `text` (the fences in EXAMPLE_LANG). */
export function exampleFacts(file: string, text: string): Fact[] {
  const facts: Fact[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  let heading = '';
  let intro = '';
  let fence: { lang: string; defaults: boolean } | undefined;
  lines.forEach((raw, i) => {
    const opens = FENCE.exec(raw);
    if (opens) {
      // "The default configuration is the equivalent of:", "has the following defaults:"
      fence = fence ? undefined : { lang: opens[2]!, defaults: /\bdefaults?\b/i.test(intro) && /:\s*$/.test(intro) };
      intro = '';
      return;
    }
    if (!fence) {
      const h = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(raw);
      if (h) heading = h[1]!.replace(/[`*_]|!?\[([^\]]*)\]\([^)]*\)/g, '$1').trim();
      if (raw.trim()) intro = raw.trim();
      return;
    }
    if (!EXAMPLE_LANG.test(fence.lang)) return;
    const ex = heading ? `the example under "${heading}"` : 'the example';
    const add = (subject: string, attribute: string, value: string, questions: string[]): void => {
      const key = `${attribute}\n${value}`;
      if (!value || seen.has(key)) return;
      seen.add(key);
      facts.push({ kind: 'prose', subject, attribute, value, path: file, line: i + 1, evidence: raw.trim(), questions: [...new Set(questions)] });
    };
    // a comment is prose (read as such), and commented-out code sets nothing: `// app.listen(3000)`
    const line = raw.replace(/(?:^|\s)(?:\/\/|\/\*).*$/, '');
    const property = PROPERTY.exec(line);
    if (property) {
      const [name, value] = [property[1]!, unquote(property[2]!)];
      if (fence.defaults) add(`the ${name} option`, 'default', value, [...defaultQuestions(name, 'option'), `Out of the box, what is ${name} set to?`]);
      else
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
    if (header) add(ex, 'header', header, ['Which header does the example set?', `Which header does ${ex} set?`, `What is the name of the header ${ex} adds?`]);
  });
  return facts;
}
