/**
 * Secrets stay out of training: files that hold credentials are never read, and secret-looking
 * strings in what is read are replaced by a marker before tokenization. A model that memorized
 * a password would be a leak.
 *
 * Two detectors, one pass of replacement:
 * - secretlint's recommended rule set (@secretlint/secretlint-rule-preset-recommend), a
 *   maintained list of vendor token formats (AWS, GitHub, GitLab, Slack, npm, OpenAI, Anthropic,
 *   database URLs, …). Its rule modules report synchronously; they are run here directly with a
 *   small context instead of through @secretlint/core, whose lintSource is async.
 * - our own shape checks for what no vendor format covers: a secret-named name (`*_PASSWORD`,
 *   `*_KEY`, `*_SECRET`, `*TOKEN`, `pwd`, …) given a literal value in any syntax (env, shell,
 *   YAML, TOML, .properties, JSON, XML, Dockerfile, connection strings, code), credentials in
 *   URLs, bearer headers, PEM private keys, JWTs and a few vendor formats secretlint lacks. Only
 *   the value is replaced, so that the code still reads naturally:
 *   `AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-key]`. References to secrets (`process.env.X`,
 *   `${DB_PASSWORD}`, `${{ secrets.TOKEN }}`), placeholders (`changeme`, `<your-key>`) and values
 *   that are not random enough to be credentials are kept.
 */
import { rules as secretlintRules } from '@secretlint/secretlint-rule-preset-recommend';

export { isSecretFile } from './secretFiles';

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export interface Redaction {
  kind: string;
  count: number;
}

export const REDACTED = (kind: string): string => `[REDACTED:${kind}]`;

/** A stretch of text to replace; overlapping spans merge, the more specific kind naming the result. */
interface Span {
  start: number;
  end: number;
  kind: string;
  /** 2: a vendor format (secretlint's or ours); 1: a secret-named value, a URL password, a header. */
  rank: number;
}

// ---------------------------------------------------------------------------------------------
// secretlint's rules, run synchronously

interface LintSource {
  content: string;
  filePath?: string;
  ext: string;
  contentType: 'text';
}
interface LintMessage {
  message: string;
  messageId: string;
  data?: Record<string, unknown>;
}
interface LintContext {
  sharedOptions: Record<string, unknown>;
  createTranslator(messages: unknown): (messageId: string, data?: Record<string, unknown>) => LintMessage;
  report(descriptor: { message: LintMessage; range: readonly [number, number] }): void;
  ignore(descriptor: unknown): void;
}
interface LintRule {
  meta: { id: string };
  create(context: LintContext, options: Record<string, unknown>): { file?(source: LintSource): unknown };
}

/** Our kind names for secretlint's messages (the others are named after their rule: `sendgrid-token`). */
const LINT_KINDS: Record<string, string | null> = {
  AWSAccessKeyID: 'aws-access-key', // not reported: the ID scan is off (ours is in VENDOR)
  AWSSecretAccessKey: 'aws-secret-key',
  AWSAccountID: null, // an account number, not a credential (also off with the ID scan)
  PrivateKey: 'private-key',
  NPM_ACCESS_TOKEN: 'npm-token',
  Npmrc_authToken: 'npm-token',
  PackageJSON_xOauthToken: 'github-token',
  GITHUB_TOKEN: 'github-token',
  GITLAB_PERSONAL_ACCESS_TOKEN: 'gitlab-token',
  SLACK_TOKEN: 'slack-token',
  IncomingWebhook: 'slack-webhook',
  OPENAI_TOKEN: 'openai-key',
  BasicAuth: 'url-password',
  MongoDBConnection: 'url-password',
  MySQLConnection: 'url-password',
  PostgreSQLConnection: 'url-password',
};

/**
 * Rules left out: `filter-comments` honours `secretlint-disable` comments, which a file's author
 * writes to silence a CI check, not to put a credential into a model; `gcp` judges whole files
 * (service-account JSON and .p12, never read here: isSecretFile) and reads .p12 files itself.
 */
const SKIPPED_RULES = new Set(['@secretlint/secretlint-rule-filter-comments', '@secretlint/secretlint-rule-gcp']);

/** Where reports go while secretlintSpans runs (the rules report synchronously, from `file`). */
let lintSink: { text: string; spans: Span[] } | undefined;

const lintContext = (ruleId: string): LintContext => ({
  sharedOptions: {},
  createTranslator: () => (messageId, data) => ({ message: messageId, messageId, data }),
  report({ message, range }) {
    const sink = lintSink;
    if (!sink) return; // a report after an await: none of the rules run here does that
    const mapped = LINT_KINDS[message.messageId];
    if (mapped === null) return;
    const kind = mapped ?? `${ruleId.replace(/^.*secretlint-rule-/, '')}-token`;
    let [start, end] = range;
    // the secret is the longest string in the message's data that sits at (or, for the AWS secret
    // key, whose range starts at its name, just after) the reported range
    let secret = '';
    for (const v of Object.values(message.data ?? {})) {
      if (typeof v !== 'string' || v.length <= secret.length) continue;
      const at = sink.text.indexOf(v, start);
      if (at >= 0 && at <= end + 256) {
        secret = v;
        start = at;
        end = at + v.length;
      }
    }
    if (secret && /^[a-z\d]+(?:_[a-z]{2,}\d*){3,}$/.test(secret)) return; // npm_config_onnxruntime_node_install_cuda: a name
    // a URL or connection string: replace its password, keep scheme, user and host
    if (kind === 'url-password') {
      const m = /^[a-z][\w+.-]*:\/\/[^:/\s@]*:([^@/\s]+)@/i.exec(sink.text.slice(start, end));
      if (m) {
        start += m[0].length - 1 - m[1]!.length;
        end = start + m[1]!.length;
        if (!urlPasswordIsSecret(m[1]!)) return;
      }
    }
    sink.spans.push({ start, end, kind, rank: 2 });
  },
  ignore() {},
});

const LINT_HANDLERS = (secretlintRules as unknown as LintRule[])
  .filter((r) => !SKIPPED_RULES.has(r.meta.id))
  .map((r) => r.create(lintContext(r.meta.id), {}));

function secretlintSpans(text: string, spans: Span[]): void {
  const source: LintSource = { content: text, ext: '', contentType: 'text' };
  lintSink = { text, spans };
  try {
    for (const handler of LINT_HANDLERS) handler.file?.(source);
  } finally {
    lintSink = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Our own checks: vendor formats secretlint's recommended set lacks, PEM blocks and JWTs

/**
 * One pass for all of them. AWS access key IDs are here rather than secretlint's (its ID scan is
 * off by default, and turning it on also scans for account numbers, at a third of the time
 * secretlint takes); secretlint still finds AWS secret keys.
 */
const VENDOR = new RegExp(
  [
    String.raw`\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b`, // aws-access-key
    String.raw`\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`, // google-api-key
    String.raw`\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b`, // stripe-key
    String.raw`\bsk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`, // openai-key (and Anthropic's)
    String.raw`\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`, // pypi-token
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, // jwt
    String.raw`\bxox[abposr]-[A-Za-z0-9-]{10,}`, // slack-token
  ].join('|'),
  'g',
);

function vendorKind(match: string): string {
  switch (match[0]) {
    case 'A':
      return match[1] === 'I' && match[2] === 'z' ? 'google-api-key' : 'aws-access-key';
    case 's':
      return match[1] === 'k' && match[2] === '-' ? 'openai-key' : 'stripe-key';
    case 'r':
      return 'stripe-key';
    case 'p':
      return 'pypi-token';
    case 'e':
      return 'jwt';
    default:
      return 'slack-token';
  }
}

function vendorSpans(text: string, spans: Span[]): void {
  VENDOR.lastIndex = 0;
  for (let m = VENDOR.exec(text); m; m = VENDOR.exec(text)) spans.push({ start: m.index, end: m.index + m[0].length, kind: vendorKind(m[0]), rank: 2 });
}

/** `-----BEGIN … PRIVATE KEY-----` with a body (to its END line, or as far as the body goes). */
function privateKeySpans(text: string, spans: Span[]): void {
  const begin = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
  for (let m = begin.exec(text); m; m = begin.exec(text)) {
    const from = m.index;
    const endMark = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
    endMark.lastIndex = begin.lastIndex;
    const e = endMark.exec(text);
    let to: number;
    if (e && e.index - begin.lastIndex < 20_000) to = endMark.lastIndex;
    else {
      // no END: the body runs while it looks like base64 lines (possibly in string literals)
      const body = /(?:[A-Za-z0-9+/=\s"'`,;:.\-]|\\[nr])*/y;
      body.lastIndex = begin.lastIndex;
      body.exec(text);
      to = body.lastIndex;
    }
    const bodyText = text.slice(begin.lastIndex, e && e.index < to ? e.index : to);
    if ((bodyText.match(/[A-Za-z0-9+/]/g)?.length ?? 0) < 40) continue; // a mention of the header, not a key
    spans.push({ start: from, end: to, kind: 'private-key', rank: 2 });
    begin.lastIndex = to;
  }
}

// ---------------------------------------------------------------------------------------------
// Values: what a credential looks like, and what only looks like one

/** References, templates and expressions: the secret lives elsewhere. */
const REFERENCE = new RegExp(
  [
    String.raw`\$\{\w|\$\{\{|\{\{[ \w.]|#\{\w|%\(\w+\)[sdr]|<%|\{\d*(?::[^}]*)?\}|\[REDACTED:`, // ${X}, ${{ secrets.X }}, {{ x }}, #{x}, %(x)s, <%= x %>, {0}
    String.raw`^\$[A-Za-z_]\w*$|^\$\(|^%[A-Z_][A-Z0-9_]*%$|^@\w|^[!&*]\w`, // $X, $(cmd), %X%, @Value, YAML tags/anchors
    String.raw`^(?:process\.env|import\.meta\.env|os\.environ|os\.getenv|getenv|System\.getenv|Environment\.|ENV\[|ENV\.|env\(|env\.|secrets\.|vars\.|vault:|arn:|ssm:|sm://|projects/[^/]+/secrets/)`,
  ].join('|'),
  'i',
);

/** Placeholders people write where a secret goes. */
const PLACEHOLDER = new RegExp(
  [
    String.raw`^<.*>$|^\[.*\]$|^\{.*\}$|^\(.*\)$`,
    String.raw`change[_-]?(?:me|it|this)|replace[_-]?(?:me|this|with)|your[_-]?(?:own[_-]?)?(?:api|secret|token|key|pass|password|access|client|app|db)|[_-]here$|placeholder|example|dummy|sample|fake|redacted|xxxx|\*\*\*|\.\.\.|…|•••|todo|fixme|insert[_-]|not[_-]?a[_-]?secret|notasecret|^<|>$`,
    String.raw`^(?:none|null|nil|undefined|true|false|yes|no|on|off|empty|string|str|bool|int|number|required|optional|hidden|masked|default|disabled|enabled|test|testing|secret|secrets|password|passwd|token|pass|foobar|qwerty|letmein|admin|root|user|username|guest|bearer|basic)$`,
  ].join('|'),
  'i',
);

/** A path made of words: /run/secrets/db_password, ~/.ssh/id_ed25519 (base64 also starts with /). */
function wordyPath(v: string): boolean {
  if (!/^(?:~|\.{1,2})?\/[\w./-]*$/.test(v) && !/^[A-Za-z]:\\[\w.\\ -]*$/.test(v)) return false;
  return v.split(/[/\\]/).every((seg) => seg.split(/[._-]/).every((w) => /^(?:[A-Za-z][a-z]*|[A-Z]+|\d+|[a-z]+\d+)?$/.test(w)));
}

/** A URL, a file name, a number, a version, a date, a keyboard shortcut: not a credential. */
const NOT_A_CREDENTIAL = /^(?:(?:Control|Ctrl|Shift|Alt|Meta|Cmd|Command|Option|Super|Win|ControlOrMeta|Mod)\+)+\S+$|:\/\/|\.(?:pem|key|crt|cer|p12|pfx|jks|json|ya?ml|txt|env|pub|der|keystore|gpg|asc)$|^[+-]?\d+(?:[.,_]\d+)*$|^v?\d+(?:\.\d+)+(?:[-+][A-Za-z]*\d*(?:\.[A-Za-z]*\d*)*)?$|^\d{4}-\d\d-\d\d(?:[T ][\d:.]+Z?)?$/i;

/** Code, not a value: `getPassword()`, `creds[0]`, `!!flag`, `new Foo` (member chains: codeChain). */
const CODE = /^[A-Za-z_$][\w$.]*\s*[([]|^!|^(?:new|await|typeof|function)\b/;

/** camelCase, PascalCase, snake or SCREAMING words; an acronym (MP4, HTTP) before a word or at the end. */
const PLAIN_PART = /^(?:[a-z]+\d*|[A-Z][a-z]+\d*|[A-Z]+\d*(?![a-z]))(?:[A-Z][a-z]+\d*|[A-Z]+\d*(?![a-z]))*$/;

/**
 * A variable's name, not a password: snake_case, SCREAMING_CASE, camelCase or PascalCase made of
 * real-looking words. Random strings rarely keep to one of these (DFWWUwdPixd1JKKt, YpexYzZGIW…).
 */
function plainIdentifier(v: string): boolean {
  if (!IDENTIFIER.test(v)) return false;
  const parts = v.split(/[_$]+/).filter(Boolean);
  if (/[a-z]/.test(v) && (v.match(/[A-Z]{2,}\d*(?![a-z])/g)?.length ?? 0) > 2) return false; // few acronyms in a camelCase name
  return parts.length > 0 && parts.every((p) => PLAIN_PART.test(p)) && codeLikeIdentifier(v);
}

/** A member chain of identifiers as programmers write them: config.apiKey, settings.DB_PASSWORD, this.pw. */
function codeChain(v: string): boolean {
  const parts = v.split(/\??\./);
  // module names keep their digits: win32api, html5lib, base64
  return parts.length > 1 && parts.every((p) => /^[A-Za-z_$][a-z]{0,3}$|^[a-z]{2,}\d{1,3}[a-z]{0,6}$/.test(p) || (IDENTIFIER.test(p) && codeLikeIdentifier(p)));
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * An identifier as programmers write them: words (each maybe with a trailing number) joined by _
 * or by case, longer words with a vowel. Random strings fail: a digit inside a word (S3cr3t),
 * one- and two-letter fragments (rOvDf6ZE…), consonant runs (Nsyzylpj).
 */
function codeLikeIdentifier(v: string): boolean {
  if (!IDENTIFIER.test(v)) return false;
  const words = v.replace(/([a-z\d])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').split(/[\s_$]+/).filter(Boolean);
  if (words.length === 0) return false;
  let letters = 0;
  let short = 0;
  let consonantWords = 0;
  let clusters = 0;
  let vowels = 0;
  if ((v.match(/\d(?=[A-Za-z])/g)?.length ?? 0) > 1) return false; // utf8Decoder, not Qb7Lbv551Cuq
  for (const w of words) {
    if (!/^(?:[A-Z]?[a-z]+|[A-Z]+)\d*$/.test(w)) return false; // a digit inside a word: S3cr3t, hunter2x
    const l = w.replace(/\d+$/, '');
    const vs = l.match(/[aeiouy]/gi)?.length ?? 0;
    if (l.length >= 4 && /[a-z]/.test(l) && vs === 0) return false;
    if (l.length >= 3 && /[a-z]/.test(l) && vs === 0) consonantWords++;
    if (/[a-z]/.test(l)) clusters += l.match(/[^aeiouy]{3,}/gi)?.length ?? 0;
    if (l.length <= 2) short++;
    if (/[a-z]/.test(l)) {
      letters += l.length; // acronyms (MP, HTTP) are not words
      vowels += vs;
    }
  }
  if (consonantWords > 1 || clusters > 2) return false; // cfg, ctx, msg: one, not two; SchemeFunction, not Sbz, mpj and zvrz
  if (letters >= 8 && vowels < letters / 4) return false; // code is words; random letters are 6/26 vowels
  const lengths = words.reduce((a, w) => a + w.replace(/\d+$/, '').length, 0);
  return lengths / words.length >= 3 && short * 2 <= words.length;
}

type ValueKind = 'password' | 'token';

function charClasses(v: string): number {
  return +/[a-z]/.test(v) + +/[A-Z]/.test(v) + +/\d/.test(v) + +/[^A-Za-z\d]/.test(v);
}

/**
 * Does this literal value, given to a secret-named name, look like a credential? Outside a
 * connection string, names are not: 'lift.chatHistory' (a storage key), 'app_settings_v2'.
 */
function valueIsSecret(v: string, kind: ValueKind, conn = false): boolean {
  if (v.length < (kind === 'token' ? 12 : 8) || v.length > 20_000) return false;
  if (/\s/.test(v) || REFERENCE.test(v) || PLACEHOLDER.test(v) || NOT_A_CREDENTIAL.test(v) || wordyPath(v) || alphabet(v)) return false;
  if (!conn && (codeChain(v) || (kind === 'token' && plainIdentifier(v)))) return false;
  const letters = /[A-Za-z]/.test(v);
  const digits = /\d/.test(v);
  const classes = charClasses(v);
  const h = entropy(v);
  if (kind === 'password') return h >= 2.5 && ((letters && digits) || classes >= 3);
  if (wordy(v)) return false;
  return h >= (v.length >= 16 ? 3 : 2.7) && ((letters && digits) || (classes >= 3 && h >= 3.5 && v.length >= 16) || (v.length >= 24 && h >= 4));
}

/** An alphabet, not a random string: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=' */
function alphabet(v: string): boolean {
  let runs = 0;
  for (let i = 1; i < v.length; i++) if (v.charCodeAt(i) === v.charCodeAt(i - 1) + 1) runs++;
  return runs >= v.length / 2;
}

/** Words joined by punctuation (value%23still-query, /__FOLDER_SIZE__/): a name or a phrase, not a key. */
function wordy(v: string): boolean {
  const parts = v.replace(/%[0-9A-Fa-f]{2}/g, ' ').split(/[^A-Za-z0-9]+/).filter(Boolean);
  return parts.length >= 2 && parts.every((p) => /^\d{1,4}$/.test(p) || codeLikeIdentifier(p) || /^[A-Z]+$/.test(p));
}

function urlPasswordIsSecret(p: string): boolean {
  if (p.length < 4 || p.startsWith('[REDACTED:')) return false;
  if (REFERENCE.test(p) || /^%[sv]$|^\*+$|^x+$/i.test(p)) return false;
  return !PLACEHOLDER.test(p);
}

// ---------------------------------------------------------------------------------------------
// Names: which ones hold secrets

/** Segments after the secret word that still name the secret itself: DB_PASSWORD_PROD, SECRET_KEY_BASE. */
const QUALIFIERS = new Set(['value', 'val', 'str', 'string', 'b64', 'base64', 'hex', 'raw', 'data', 'plain', 'plaintext', 'enc', 'encoded', 'prod', 'production', 'dev', 'development', 'stage', 'staging', 'test', 'live', 'sandbox', 'local', 'old', 'new', 'current', 'backup', 'default', 'primary', 'secondary', 'override', 'base', 'text', 'bytes']);
/** …_TOKEN that are not credentials: pagination, cancellation, tokenizer special tokens. */
const NOT_SECRET_TOKENS = new Set(['next', 'page', 'continuation', 'cancellation', 'cancel', 'pagination', 'sync', 'csrf', 'xsrf', 'pad', 'eos', 'bos', 'unk', 'sep', 'cls', 'mask', 'start', 'end', 'stop', 'special', 'eot', 'lexer', 'parser', 'last', 'first', 'prev', 'previous', 'resume', 'max', 'min', 'num', 'chat', 'image', 'audio', 'video', 'vision', 'fim', 'think']);
/** …_KEY that are not credentials: data-structure keys, public keys. */
const NOT_SECRET_KEYS = new Set(['public', 'publishable', 'pub', 'primary', 'foreign', 'sort', 'partition', 'range', 'hash', 'cache', 'storage', 'idempotency', 'object', 'query', 'i18n', 'translation', 'locale', 'message', 'label', 'map', 'dict', 'lookup', 'unique', 'composite', 'row', 'column', 'react', 'item', 'list', 'route', 'state', 'group', 'dedupe', 'dedup', 'hot', 'registry', 'shard', 'routing', 'metadata', 'search', 'site', 'host', 'known', 'kid', 'natural', 'surrogate', 'index', 'bucket', 'file', 'field', 'prop', 'property', 'attr', 'attribute', 'config', 'setting', 'settings', 'option', 'feature', 'flag', 'event', 'counter', 'key', 'music', 'menu', 'short', 'cut', 'shortcut', 'keyboard', 'press', 'modifier', 'next', 'prev', 'last', 'first', 'max', 'min', 'lock', 'tree', 'node', 'sub', 'parent', 'child', 'table', 'media', 'type', 'name', 'dataset', 'json', 'yaml', 'toml']);
const KEY_COMPOUNDS = new Set(['apikey', 'secretkey', 'accesskey', 'privatekey', 'signingkey', 'masterkey', 'encryptionkey', 'authkey', 'appkey', 'clientkey', 'subscriptionkey', 'accountkey', 'sharedkey', 'hmackey', 'licensekey', 'servicekey', 'adminkey', 'writekey', 'readkey', 'secretaccesskey', 'apisecretkey']);
const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'pw', 'pass', 'passphrase', 'passcode', 'passwort', 'credential', 'credentials', 'creds', 'cred']);

function nameSegments(name: string): string[] {
  return name
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** What a value given to this name must look like to be a secret; null: not a secret's name. */
function secretName(name: string): ValueKind | null {
  const segs = nameSegments(name);
  while (segs.length > 1 && (QUALIFIERS.has(segs[segs.length - 1]!) || /^v?\d+$/.test(segs[segs.length - 1]!))) segs.pop();
  const last = segs[segs.length - 1];
  if (!last) return null;
  const prev = segs[segs.length - 2];
  if (PASSWORD_WORDS.has(last) || /(?:password|passwd|passphrase|credentials)$/.test(last)) return 'password';
  // (plurals name collections: `secrets:` in a workflow, `("tokens", "symbol2label")`)
  if (last === 'secret' || (last.endsWith('secret') && last.length > 6)) return 'password';
  if (last === 'token' || (last.endsWith('token') && last.length > 5)) {
    if (prev && NOT_SECRET_TOKENS.has(prev)) return null;
    if (prev === 'key' && segs[segs.length - 3] === 'public') return null; // .NET's publicKeyToken
    if (last !== 'token' && NOT_SECRET_TOKENS.has(last.slice(0, -5))) return null;
    return 'token';
  }
  if (last === 'key' || KEY_COMPOUNDS.has(last)) return last === 'key' && prev && NOT_SECRET_KEYS.has(prev) ? null : 'token';
  if (last === 'id' && prev === 'key' && segs[segs.length - 3] === 'private') return 'token'; // a GCP service account's private_key_id
  if (last === 'auth' || last === 'seed' || last === 'salt' || last === 'hmac' || last === 'pepper') return 'token';
  return null;
}

/** Names whose line may carry the secret further on: createHmac('sha256', '…'), Buffer.from('…') for a seed. */
const LINE_CONTEXT_NAME = /hmac|secret|seed|salt|passw|pwd|api_?key|private_?key|signing_?key|credential/i;

// ---------------------------------------------------------------------------------------------
// Assignments: a secret-named name, a separator, a literal value

/** [A-Za-z0-9_.-] */
function nameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}
const KEYWORD = /pass|pwd|pw|secret|token|key|cred|auth|seed|salt|hmac|pepper/gi;
/** After the name: a closing quote/bracket, an optional type (`: string =`, Go's ` string =`), the separator. */
const TAIL = /(["'`])?\]?[ \t]*(?::[ \t]*[A-Za-z_][\w.<>[\]|&?*]*[ \t]+(=)(?![=>~])|(:=|=>|\?\?=|\|\|=|\?=|=(?![=>~])|(?<![ \t!<>=])=(?=[=~])|:(?![:=/\\]))|[ \t]+[A-Za-z_][\w.[\]*]*[ \t]+(=)(?![=>~]))[ \t]*/y;
const LINE_START = /^[ \t]*(?:-[ \t]+)?(?:(?:export|ENV|ARG|set|setx|declare(?:[ \t]+-\w+)*|local|readonly)[ \t]+(?:[\w.-]+=\S*[ \t]+)*)?["']?$/;
const DOCKER_SPACE_FORM = /^[ \t]*(?:ENV|ARG)[ \t]+$/;

/** Where the line holding `i` starts, looking back at most `max` characters (a minified file is one long line). */
function lineStartOf(text: string, i: number, max = 200): number {
  const from = Math.max(0, i - max);
  for (let k = i - 1; k >= from; k--) if (text.charCodeAt(k) === 10) return k + 1;
  return from;
}
/** Where the line holding `i` ends, looking ahead at most `max` characters. */
function lineEndOf(text: string, i: number, max = 2000): number {
  const to = Math.min(text.length, i + max);
  for (let k = i; k < to; k++) if (text.charCodeAt(k) === 10) return k;
  return to;
}

/** A quoted literal starting at `i` (quote char there): its inner range, or undefined. */
function quoted(text: string, i: number): { start: number; end: number; close: number } | undefined {
  const q = text[i]!;
  const limit = Math.min(text.length, i + 8192);
  for (let j = i + 1; j < limit; j++) {
    const c = text[j];
    if (c === '\\') j++;
    else if (c === q) return { start: i + 1, end: j, close: j + 1 };
    else if (c === '\n' && q !== '`') return undefined;
  }
  return undefined;
}

interface ValueAt {
  start: number;
  end: number;
  quoted: boolean;
}

/** The literal value at `i`: quoted (with an optional r/b/f/@/$ prefix) or a bare word ending at `stop`. */
function valueAt(text: string, i: number, stop: RegExp): ValueAt | undefined {
  let j = i;
  if (/[rRbBuUfF@$]/.test(text[j] ?? '') && /["'`]/.test(text[j + 1] ?? '')) j++;
  else if (/[rRbBuUfF]/.test(text[j] ?? '') && /[rRbB]/.test(text[j + 1] ?? '') && /["']/.test(text[j + 2] ?? '')) j += 2;
  if (/["'`]/.test(text[j] ?? '')) {
    const q = quoted(text, j);
    return q && { start: q.start, end: q.end, quoted: true };
  }
  if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === "'")) {
    // a string inside a string (a notebook's JSON, generated code): \"…\"
    const close = text.indexOf(`\\${text[j + 1]}`, j + 2);
    const nl = text.indexOf('\n', j);
    return close > j + 2 && (nl < 0 || close < nl) ? { start: j + 2, end: close, quoted: true } : undefined;
  }
  let e = i;
  while (e < text.length && !stop.test(text[e]!)) e++;
  return e > i ? { start: i, end: e, quoted: false } : undefined;
}

const STOP_CODE = /[\s;,&"'`)\]}\\]/;
const STOP_CONN = /[\s;&"'`\\]/;
const STOP_WORD = /[\s\\]/;

/** Where a bare value sits: code, an env/YAML/.properties line, a connection string, query string or flag. */
type Literal = false | 'env' | 'conn';

/** Judges an unquoted value: outside literal contexts a bare word is code; in a connection string even a.b is a value. */
function bareValueIsSecret(text: string, v: ValueAt, kind: ValueKind, literal: Literal): boolean {
  const s = text.slice(v.start, v.end).replace(/[,;]$/, '');
  if (CODE.test(s)) return false;
  if (!literal) {
    if (/[()<>{}[\]]/.test(s) || plainIdentifier(s) || codeChain(s)) return false;
    // an expression goes on: `x || y`, `Get-Token @params`; a value ends the statement
    let k = v.end;
    while (text[k] === ' ' || text[k] === '\t') k++;
    if (k < text.length && !/[\r\n;,)}\]#]/.test(text[k]!) && !text.startsWith('//', k)) return false;
  }
  return valueIsSecret(s, kind, literal === 'conn');
}

const nameCache = new Map<string, ValueKind | null>();

function assignmentSpans(text: string, spans: Span[]): void {
  KEYWORD.lastIndex = 0;
  let lineRuleUntil = -1;
  for (let m = KEYWORD.exec(text); m; m = KEYWORD.exec(text)) {
    let s = m.index;
    while (s > 0 && nameChar(text.charCodeAt(s - 1))) s--;
    let e = KEYWORD.lastIndex;
    while (e < text.length && nameChar(text.charCodeAt(e))) e++;
    KEYWORD.lastIndex = e;
    while (s < e && (text[s] === '.' || text[s] === '-')) s++;
    let ne = e;
    while (ne > s && (text[ne - 1] === '.' || text[ne - 1] === '-')) ne--;
    if (ne <= s) continue;
    const name = text.slice(s, ne);
    const before = text[s - 1] ?? '';
    const after = text[ne] ?? '';
    // cheap checks on what follows before naming anything: most hits (Keyword, tokens(), key in x) end here
    let k = ne;
    if (after === '"' || after === "'" || after === '`') k++;
    if (text[k] === ']') k++;
    while (text[k] === ' ' || text[k] === '\t') k++;
    const c = text[k] ?? '';
    const assignLike = c === '=' || c === ':' || ((c === '?' || c === '|') && (text[k + 1] === '=' || text[k + 1] === c));
    const callPair = c === ',' && (before === '"' || before === "'") && after === before;
    const xml = before === '<' && after === '>';
    const lineRule = s > lineRuleUntil && LINE_CONTEXT_NAME.test(name);
    const other = !assignLike && !callPair && !xml && (c === '\n' || c === '\r' || c === '' || /[\w"'$.{]/.test(c));
    if (!assignLike && !callPair && !xml && !other && !lineRule) continue;
    let kind = nameCache.get(name);
    if (kind === undefined) {
      if (nameCache.size > 4096) nameCache.clear();
      nameCache.set(name, (kind = secretName(name)));
    }
    let found = false;
    if (kind) found = assignmentValue(text, s, ne, kind, before, after, spans);
    if (!found && lineRule) {
      lineRuleUntil = lineEndOf(text, ne);
      lineLiteralSpans(text, ne, lineRuleUntil, spans);
    }
  }
}

/** Finds and judges the value given to the secret-named name text[s, ne); pushes its span. */
function assignmentValue(text: string, s: number, ne: number, kind: ValueKind, before: string, after: string, spans: Span[]): boolean {
  const push = (v: ValueAt | undefined, ok: (v: ValueAt) => boolean): boolean => {
    if (!v || !ok(v)) return false;
    spans.push({ start: v.start, end: v.end, kind: 'secret-assignment', rank: 1 });
    return true;
  };
  const prefix = text.slice(lineStartOf(text, s), s);
  const lineStart = LINE_START.test(prefix);
  const flag = text[s - 1] === '-';
  TAIL.lastIndex = ne;
  const t = TAIL.exec(text);
  if (t) {
    const sep = t[2] ?? t[3] ?? t[4] ?? '';
    const vStart = TAIL.lastIndex;
    const spaced = /\s/.test(text[ne + (t[1] ? 1 : 0)] ?? '') || /\s/.test(text[vStart - 1] ?? '');
    // a literal context: env/shell/.properties lines, YAML, connection strings, query strings, flags
    // (`-e X=…`, `--set a.password=…`), key=value lists; not minified code's `;this.key=t,`
    const flagged = flag || /(?:^|\s)(?:-e|--env|--build-arg|--set(?:-string)?)[ \t]+$|[\w.-]=[^\s=,;()]+[ \t]+$/.test(prefix); // and libpq's `host=db user=app password=…`
    const connLike = sep === '=' && !spaced && (flagged || (/[;?&"']/.test(before) && !text.slice(s, ne).includes('.')));
    const envLike = lineStart && (sep === ':' || (sep === '=' && !spaced));
    const stop = connLike && !lineStart ? STOP_CONN : envLike || (lineStart && sep === '=') ? STOP_WORD : STOP_CODE;
    const v = valueAt(text, vStart, stop);
    if (!v) return false;
    if (sep === ':' && /[ \t]/.test(text[ne + (t[1] ? 1 : 0)] ?? '')) return false; // `cond ? token : other`, not a mapping
    if (v.quoted) return push(v, (x) => valueIsSecret(text.slice(x.start, x.end), kind));
    if (sep === ':' && vStart === ne + 1 + (t[1] ? 1 : 0)) return false; // `a:b` is no YAML mapping: a URL, an ARN, a scope
    const literal: Literal = connLike ? 'conn' : envLike ? 'env' : false;
    if (envLike && sep === ':') {
      const rest = text.slice(v.end, lineEndOf(text, v.end));
      if (!/^\s*(?:#.*)?$/.test(rest)) return false; // more on the line: prose or code, not a YAML scalar
      if (/[,;]$/.test(text.slice(v.start, v.end))) return false; // a JS/TS object literal's line: code
    }
    // in code a secret is a string literal; a bare word mid-line is a name, a number or an expression
    // (a statement's start stays ambiguous: `password = abc123` is an .ini line or Python)
    if (!literal && !lineStart) return false;
    if (literal === 'conn' && /[(){}]/.test(text.slice(v.start, v.end))) return false;
    return push(v, (x) => bareValueIsSecret(text, x, kind, literal));
  }
  // Dockerfile's `ENV NAME value`, a flag's `--password value`
  if ((DOCKER_SPACE_FORM.test(prefix) || flag) && (text[ne] === ' ' || text[ne] === '\t')) {
    let i = ne;
    while (text[i] === ' ' || text[i] === '\t') i++;
    const v = valueAt(text, i, STOP_WORD);
    return push(v, (x) => (x.quoted ? valueIsSecret(text.slice(x.start, x.end), kind) : bareValueIsSecret(text, x, kind, 'env')));
  }
  // SQL's PASSWORD '…', Gradle's `storePassword "…"`, .netrc's `login me password …`
  if (text[ne] === ' ' || text[ne] === '\t') {
    let i = ne;
    while (text[i] === ' ' || text[i] === '\t') i++;
    const quote = text[i] === "'" || text[i] === '"';
    if (quote && (PASSWORD_WORDS.has(text.slice(s, ne).toLowerCase()) || /^[ \t]*$/.test(prefix))) return push(valueAt(text, i, STOP_WORD), (x) => valueIsSecret(text.slice(x.start, x.end), kind));
    if (/\blogin[ \t]+\S+[ \t]+$/.test(prefix)) return push(valueAt(text, i, STOP_WORD), (x) => bareValueIsSecret(text, x, kind, 'env'));
  }
  // ('API_KEY', '…'): setdefault, putenv, define, headers.set, config.put
  if ((before === '"' || before === "'") && after === before) {
    const pair = /^["'][ \t]*,[ \t]*/.exec(text.slice(ne, ne + 40));
    if (pair) return push(valueAt(text, ne + pair[0].length, STOP_CODE), (x) => x.quoted && valueIsSecret(text.slice(x.start, x.end), kind));
    // <add key="ApiKey" value="…"/>
    const attr = /^"\s+value\s*=\s*/.exec(text.slice(ne, ne + 40));
    if (attr) return push(valueAt(text, ne + attr[0].length, STOP_CODE), (x) => x.quoted && valueIsSecret(text.slice(x.start, x.end), kind));
    // Terraform: variable "db_password" { … default = "…" }
    if (/variable[ \t]+"$/.test(prefix)) {
      const block = /^"\s*\{[^}]{0,400}?\bdefault\s*=\s*/.exec(text.slice(ne, ne + 500));
      if (block) return push(valueAt(text, ne + block[0].length, STOP_CODE), (x) => x.quoted && valueIsSecret(text.slice(x.start, x.end), kind));
    }
  }
  // <password>…</password>
  if (before === '<' && after === '>') {
    const close = text.indexOf('</', ne + 1);
    if (close > ne + 1 && close - ne < 2000) return push({ start: ne + 1, end: close, quoted: false }, (x) => valueIsSecret(text.slice(x.start, x.end), kind));
  }
  // Kubernetes / compose env lists: - name: DB_PASSWORD \n value: "…"
  if (/(?:^|[\s{,-])name[ \t]*:[ \t]*["']?$/.test(prefix)) {
    const next = /^["']?[ \t]*\r?\n[ \t]*(?:-[ \t]+)?value[ \t]*:[ \t]*/.exec(text.slice(ne, ne + 200));
    if (next) {
      const v = valueAt(text, ne + next[0].length, STOP_WORD);
      return push(v, (x) => (x.quoted ? valueIsSecret(text.slice(x.start, x.end), kind) : bareValueIsSecret(text, x, kind, 'env')));
    }
  }
  return false;
}

/** Long random string literals later on a line that names a secret: createHmac('sha256', '…'). */
function lineLiteralSpans(text: string, from: number, to: number, spans: Span[]): void {
  const lit = /(["'`])([A-Za-z0-9+/=_-]{20,})\1/g;
  const line = text.slice(from, to);
  for (let m = lit.exec(line); m; m = lit.exec(line)) {
    const v = m[2]!;
    if (/^(?:sha\d+|md5|h1)[-:]/i.test(v) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) continue;
    if (!/\d/.test(v) || !/[A-Za-z]/.test(v) || entropy(v) < 3.3 || plainIdentifier(v) || PLACEHOLDER.test(v)) continue;
    const start = from + m.index + 1;
    spans.push({ start, end: start + v.length, kind: 'secret-assignment', rank: 1 });
  }
}

// ---------------------------------------------------------------------------------------------
// URLs with credentials, Authorization headers

/** scheme://user:password@host, with any punctuation in the password ($, !, #, @ …). */
function urlPasswordSpans(text: string, spans: Span[]): void {
  for (let i = text.indexOf('://'); i >= 0; i = text.indexOf('://', i + 3)) {
    let b = i;
    while (b > 0 && /[A-Za-z0-9+.-]/.test(text[b - 1]!)) b--;
    if (b === i || !/[A-Za-z]/.test(text[b]!)) continue;
    // the authority ends at whitespace, a quote, or the path; its last @ ends the password
    let e = i + 3;
    const limit = Math.min(text.length, e + 512);
    while (e < limit && !/[\s"'`<>/\\]/.test(text[e]!)) e++;
    const authority = text.slice(i + 3, e);
    const at = authority.lastIndexOf('@');
    if (at < 0) continue;
    const colon = authority.indexOf(':');
    if (colon < 0 || colon > at) continue;
    const password = authority.slice(colon + 1, at);
    if (!urlPasswordIsSecret(password) || /^(?:[\w-]+\.)*example\.(?:com|org|net)(?::\d+)?$/i.test(authority.slice(at + 1))) continue; // documentation's hosts
    const start = i + 3 + colon + 1;
    spans.push({ start, end: start + password.length, kind: 'url-password', rank: 1 });
  }
}

const AUTH_HEADER = /\b(?:Bearer|Basic|Token)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)/g;

function authHeaderSpans(text: string, spans: Span[]): void {
  AUTH_HEADER.lastIndex = 0;
  for (let m = AUTH_HEADER.exec(text); m; m = AUTH_HEADER.exec(text)) {
    const v = m[1]!;
    if (!valueIsSecret(v, 'token') || plainIdentifier(v)) continue;
    const start = m.index + m[0].length - v.length;
    spans.push({ start, end: start + v.length, kind: 'auth-header', rank: 1 });
  }
}

// ---------------------------------------------------------------------------------------------

/** Replaces secret-looking strings; returns the new text and what was replaced (never the secrets). */
export function redactSecrets(text: string): { text: string; redactions: Redaction[] } {
  const spans: Span[] = [];
  secretlintSpans(text, spans);
  privateKeySpans(text, spans);
  vendorSpans(text, spans);
  assignmentSpans(text, spans);
  urlPasswordSpans(text, spans);
  authHeaderSpans(text, spans);
  if (spans.length === 0) return { text, redactions: [] };

  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const sp of spans) {
    if (sp.end <= sp.start) continue;
    const last = merged[merged.length - 1];
    if (last && sp.start < last.end) {
      last.end = Math.max(last.end, sp.end);
      if (sp.rank > last.rank) {
        last.kind = sp.kind;
        last.rank = sp.rank;
      }
    } else merged.push({ ...sp });
  }
  const counts = new Map<string, number>();
  let out = '';
  let at = 0;
  for (const sp of merged) {
    out += text.slice(at, sp.start) + REDACTED(sp.kind);
    at = sp.end;
    counts.set(sp.kind, (counts.get(sp.kind) ?? 0) + 1);
  }
  out += text.slice(at);
  return { text: out, redactions: [...counts].map(([kind, count]) => ({ kind, count })) };
}
