/** Fact-level facts from code with tree-sitter: values, their lines, and the questions that ask for them. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { codeFacts } from '../../native/lift/codefacts';
import type { Fact } from '../../native/lift/facts';
import { repoRoot } from '../helpers';

/** A ky-like HTTP client (TypeScript). */
const KY_TS = `import { TimeoutError } from './errors';

export const DEFAULT_TIMEOUT = 10_000;
const MAX_RETRIES = 3;

export enum ResponseType {
  Json = 'application/json',
  Text = 'text/*',
  Unknown,
}

const defaultRetryOptions = {
  limit: 2,
  methods: ['get', 'put', 'head'],
  backoffLimit: Infinity,
  retry: { delay: 300 },
  compute: (attempt: number) => attempt * 2,
};

export class HTTPError extends Error implements Printable {
  static readonly code = 'ERR_HTTP';
  constructor(public response: Response, attempt = 1) {
    super('Request failed');
  }
}

export async function request(input: string, timeout = 10_000, { retries = 2, hooks: { beforeRetry = 'none' } = {} } = {}): Promise<Response> {
  const token = process.env.API_TOKEN;
  const base = process.env['BASE_URL'] ?? 'http://localhost:8080';
  if (timeout > 2_147_483_647) throw new RangeError('timeout too large');
  return new Promise((resolve, reject) => {
    setTimeout(() => reject(new TimeoutError(input)), timeout);
  });
}

export function retryDelay(attempt: number): number {
  if (attempt < 0) {
    throw new TimeoutError(null);
  }
  return 0.3 * 2 ** attempt;
}

function internal() {}
export { internal as helper, retryDelay as delay };
`;

/** An express-like server with an emitter and a commander CLI (JavaScript, CommonJS). */
const SERVER_JS = `const express = require('express');
const { program } = require('commander');

const app = express();
const settings = { port: 3000, cors: { origin: '*' } };

app.get('/users/:id', getUser);
app.post('/users', (req, res) => res.status(201).end());
app.use('/admin', adminRouter);

emitter.on('ready', () => console.log('ready'));
process.on('SIGTERM', shutdown);

function start(options) {
  const port = options.port ?? 8080;
  emitter.emit('started');
  return app.listen(port);
}

program
  .command('serve')
  .description('Start the HTTP server')
  .option('-p, --port <number>', 'port to listen on', '3000');

class ServerError extends Error {}

module.exports = { start, ServerError };
`;

/** A Python client: constants, a config dict, an Enum, methods, raise, env, a Flask route, argparse. */
const CLIENT_PY = `"""A small HTTP client."""
import os
from enum import Enum

MAX_RETRIES = 5
__version__ = "1.2.3"
DEFAULT_CONFIG = {"timeout": 10, "retry": {"limit": 3}}
API_URL = os.environ.get("API_URL", "https://api.example.com")


class Color(Enum):
    RED = 1
    GREEN = "green"


class Client(BaseClient):
    POOL_SIZE = 10

    def __init__(self, base_url, timeout=30, retries: int = 3):
        self.verify = True
        if timeout < 0:
            raise ValueError("timeout must be positive")

    def get(self, path):
        token = os.getenv("API_TOKEN")
        raise errors.NotFound(path)


@app.route("/health")
def health():
    return "ok"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
`;

/** "kind subject | attribute = value @line" for comparing facts exactly. */
const show = (f: Fact): string => `${f.kind} ${f.subject} | ${f.attribute} = ${f.value} @${f.line}`;

function has(facts: Fact[], expected: string[]): void {
  const got = facts.map(show);
  for (const e of expected) assert.ok(got.includes(e), `missing: ${e}\nfound:\n${got.join('\n')}`);
}

/** Every fact: 5–8 questions, none holding its value (exports aside), a cloze; evidence its source line. */
function checkShapes(facts: Fact[], text: string): void {
  const lines = text.split('\n');
  for (const f of facts) {
    assert.ok(f.questions.length >= 5 && f.questions.length <= 8, `${show(f)}: ${f.questions.length} questions`);
    assert.equal(new Set(f.questions).size, f.questions.length);
    assert.ok(f.questions.some((q) => q.startsWith('Complete:') && q.includes('___')), `${show(f)}: no cloze`);
    if (f.kind !== 'exports') {
      const v = new RegExp(`(^|\\W)${f.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|\\W)`);
      for (const q of f.questions) assert.ok(!v.test(q), `${show(f)}: "${q}" gives the value away`);
    }
    assert.equal(f.evidence, lines[f.line - 1]!.trim().slice(0, 200));
    assert.ok(f.value.length <= (f.kind === 'exports' ? 160 : 80));
  }
  const order = facts.map((f) => f.line);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'in line order');
}

describe('code facts with tree-sitter', () => {
  test('TypeScript: constants, enum, defaults, parameter defaults, extends, throws, exports, env', async () => {
    const facts = await codeFacts('source/ky.ts', KY_TS);
    has(facts, [
      'exports source/ky.ts | exported names = DEFAULT_TIMEOUT, ResponseType, HTTPError, request, retryDelay, helper, delay @3',
      'constant DEFAULT_TIMEOUT | value = 10_000 @3',
      'constant MAX_RETRIES | value = 3 @4',
      'enum ResponseType.Json | value = application/json @7',
      'enum ResponseType.Text | value = text/* @8',
      'default defaultRetryOptions | limit = 2 @13',
      "default defaultRetryOptions | methods = ['get', 'put', 'head'] @14",
      'default defaultRetryOptions | backoffLimit = Infinity @15',
      'default defaultRetryOptions | retry.delay = 300 @16',
      'extends HTTPError | base class = Error @20',
      'extends HTTPError | interfaces = Printable @20',
      'constant HTTPError.code | value = ERR_HTTP @21',
      'parameter-default HTTPError.constructor | attempt = 1 @22',
      'parameter-default request | timeout = 10_000 @27',
      'default request | retries = 2 @27',
      'default request | hooks.beforeRetry = none @27',
      'literal token | environment variable = API_TOKEN @28',
      'literal base | environment variable = BASE_URL @29',
      'default BASE_URL | default when unset = http://localhost:8080 @29',
      'throws request | error thrown = RangeError @30',
      'throws request | error thrown = TimeoutError @32',
      'throws retryDelay | error thrown = TimeoutError @38',
    ]);
    // no member without a value, no function value, no whole object
    const values = facts.map((f) => f.value);
    assert.ok(!facts.some((f) => f.subject === 'ResponseType.Unknown'));
    assert.ok(!values.some((v) => v.includes('=>') || v.startsWith('{')));
    // one fact per (function, error type)
    assert.equal(facts.filter((f) => f.kind === 'throws' && f.subject === 'request' && f.value === 'TimeoutError').length, 1);
    checkShapes(facts, KY_TS);

    const limit = facts.find((f) => f.subject === 'defaultRetryOptions' && f.attribute === 'limit')!;
    assert.equal(limit.evidence, 'limit: 2,');
    assert.equal(limit.path, 'source/ky.ts');
    // the identifier as written and in words, a "how many", synonyms, a cloze
    assert.ok(limit.questions.includes('What is the default value of limit in defaultRetryOptions?'), limit.questions.join('\n'));
    assert.ok(limit.questions.some((q) => q.includes('default retry options')));
    assert.ok(limit.questions.some((q) => /^By default, how many retries/.test(q)));
    assert.ok(limit.questions.some((q) => /maximum|cap/.test(q)));
    assert.ok(limit.questions.includes('Complete: the default retry limit of defaultRetryOptions is ___.'));

    const timeout = facts.find((f) => f.kind === 'parameter-default' && f.attribute === 'timeout')!;
    assert.ok(timeout.questions.includes('What is the default value of timeout in request?'));
    assert.ok(timeout.questions.some((q) => /time limit|deadline/.test(q)));
    assert.ok(timeout.questions.some((q) => q.startsWith('How long')));

    const base = facts.find((f) => f.kind === 'extends' && f.attribute === 'base class')!;
    assert.ok(base.questions.includes('Which class does HTTPError extend?'));
    assert.ok(base.questions.some((q) => q.includes('parent class') && q.includes('HTTP error')));
    assert.ok(base.questions.includes('Complete: class HTTPError extends ___.'));

    const thrown = facts.find((f) => f.kind === 'throws' && f.subject === 'retryDelay')!;
    assert.ok(thrown.questions.some((q) => /raise/.test(q)) && thrown.questions.some((q) => /throw/.test(q)));

    const env = facts.find((f) => f.value === 'API_TOKEN')!;
    assert.ok(env.questions.some((q) => /environment variable/.test(q)));
  });

  test('JavaScript: routes, events, CLI commands and options, option defaults, CommonJS exports', async () => {
    const facts = await codeFacts('server.js', SERVER_JS);
    has(facts, [
      'default settings | port = 3000 @5',
      'default settings | cors.origin = * @5',
      'literal the server | route handled by getUser = /users/:id @7',
      'literal the server | POST route = /users @8',
      'literal the server | mount path of adminRouter = /admin @9',
      'literal emitter | event listened for = ready @11',
      'literal process | event handled by shutdown = SIGTERM @12',
      'default start | port = 8080 @15',
      'literal start | event emitted = started @16',
      'literal the CLI | command (Start the HTTP server) = serve @21',
      'literal the serve command | option for port to listen on = -p, --port <number> @23',
      'default option -p, --port <number> | default value = 3000 @23',
      'extends ServerError | base class = Error @25',
      'exports server.js | exported names = start, ServerError @27',
    ]);
    checkShapes(facts, SERVER_JS);
    const route = facts.find((f) => f.value === '/users/:id')!;
    assert.ok(route.questions.includes('Which route does getUser handle?'));
    assert.ok(route.questions.some((q) => q.includes('GET')));
    const ready = facts.find((f) => f.value === 'ready')!;
    assert.ok(ready.questions.some((q) => /event/.test(q) && /emitter/.test(q)));
    const option = facts.find((f) => f.kind === 'literal' && f.value.startsWith('-p'))!;
    assert.ok(option.questions.some((q) => q.includes('port to listen on')));
  });

  test('Python: constants, config dict, Enum, class bases, methods, raise, env, route, argparse', async () => {
    const facts = await codeFacts('client/api.py', CLIENT_PY);
    has(facts, [
      'constant MAX_RETRIES | value = 5 @5',
      'constant __version__ | value = 1.2.3 @6',
      'default DEFAULT_CONFIG | timeout = 10 @7',
      'default DEFAULT_CONFIG | retry.limit = 3 @7',
      'literal client/api.py | environment variable = API_URL @8',
      'default API_URL | default when unset = https://api.example.com @8',
      'extends Color | base class = Enum @11',
      'enum Color.RED | value = 1 @12',
      'enum Color.GREEN | value = green @13',
      'extends Client | base class = BaseClient @16',
      'constant Client.POOL_SIZE | value = 10 @17',
      'parameter-default Client.__init__ | timeout = 30 @19',
      'parameter-default Client.__init__ | retries = 3 @19',
      'default Client | verify = True @20',
      'throws Client.__init__ | error thrown = ValueError @22',
      'literal token | environment variable = API_TOKEN @25',
      'throws Client.get | error thrown = errors.NotFound @26',
      'literal the server | route handled by health = /health @29',
      'literal the CLI | option for port to listen on = --port @36',
      'default option --port | default value = 8080 @36',
      'exports client/api.py | exported names = Color, Client, health, main @11',
    ]);
    checkShapes(facts, CLIENT_PY);
    const raise = facts.find((f) => f.value === 'ValueError')!;
    assert.ok(raise.questions.includes('Which error does Client.__init__ raise?'), raise.questions.join('\n'));
    assert.ok(raise.questions.some((q) => q.includes('the Client constructor')));
    const retries = facts.find((f) => f.attribute === 'retries')!;
    assert.ok(retries.questions.some((q) => q.startsWith('How many retries')));
  });

  test('error messages and the values returned in named cases, with when (JavaScript and Python)', async () => {
    const js = [
      'class Version {',
      '  constructor (raw) {',
      "    if (raw.length > MAX_LENGTH) throw new TypeError(`version is longer than ${MAX_LENGTH} characters`)",
      '    const m = raw.match(FULL)',
      '    if (!m) {',
      '      throw new TypeError(`Invalid Version: ${raw}`)',
      '    }',
      '  }',
      '  bump (release) {',
      '    switch (release) {',
      "      case 'release':",
      "        if (!this.pre) throw new Error('version is not a prerelease')",
      '        break',
      '      default:',
      '        throw new Error(`invalid increment: ${release}`)',
      '    }',
      '  }',
      '}',
      'const inc = (v, release) => {',
      '  try {',
      '    return new Version(v).bump(release)',
      '  } catch (er) {',
      '    return null',
      '  }',
      '}',
      'const diff = (a, b) => {',
      '  if (a === b) return null',
      '  if (a.major !== b.major) return true',
      "  if (a.minor) return 'minor'",
      "  return 'patch'",
      '}',
      "const failInc = () => { console.error('--inc can only be used on a single version') }",
      '',
    ].join('\n');
    const facts = await codeFacts('semver.js', js);
    has(facts, [
      'message Version.constructor | message of TypeError when `raw.length > MAX_LENGTH` = version is longer than ${MAX_LENGTH} characters @3',
      'message Version.constructor | message of TypeError when `!m` = Invalid Version: ${raw} @6',
      "message Version.bump | message of Error when `release` is 'release' and `!this.pre` = version is not a prerelease @12",
      'message Version.bump | message of Error when `release` is none of the cases = invalid increment: ${release} @15',
      'returns inc | return value when an error is caught = null @23',
      'returns diff | return value when `a === b` = null @27',
      'message failInc | message = --inc can only be used on a single version @32',
    ]);
    checkShapes(facts, js);
    // a guard's true is the predicate itself; a return under no condition is no case; a question naming the value ('minor') is not asked
    assert.ok(!facts.some((f) => f.kind === 'returns' && ['true', 'patch', 'minor'].includes(f.value)), facts.map(show).join('\n'));
    const longer = facts.find((f) => f.value.startsWith('version is longer'))!;
    assert.equal(longer.questions[0], 'What error message does the Version constructor throw when `raw.length > MAX_LENGTH`?');
    const inc = facts.find((f) => f.kind === 'returns' && f.subject === 'inc')!;
    assert.ok(inc.questions.includes('What does inc return if it fails?'), inc.questions.join('\n'));

    const py = [
      'def parse(text, strict=False):',
      '    try:',
      '        return Version(text)',
      '    except ValueError:',
      '        if strict:',
      '            raise ValueError(f"not a version: {text}")',
      '        return None',
      '',
    ].join('\n');
    has(await codeFacts('parse.py', py), [
      'message parse | message of ValueError when `strict` = not a version: {text} @6',
      'returns parse | return value when an error is caught = None @7',
    ]);
    // Java and C#: the message of a `throw new`, with its condition
    const java = 'class Parser {\n  int parse(String s) {\n    if (s == null) {\n      throw new IllegalArgumentException("input must not be null");\n    }\n    return 1;\n  }\n}\n';
    has(await codeFacts('Parser.java', java), ['message Parser.parse | message of IllegalArgumentException when `s == null` = input must not be null @4']);
    const cs = 'class Parser {\n  int Parse(string s) {\n    if (s == null) throw new ArgumentException("input must not be null");\n    return 1;\n  }\n}\n';
    has(await codeFacts('Parser.cs', cs), ['message Parser.Parse | message of ArgumentException when `s == null` = input must not be null @3']);
  });

  test('a file without facts, a language without a grammar, a broken file', async () => {
    assert.deepEqual(await codeFacts('math.ts', 'function add(a: number, b: number) {\n  return a + b;\n}\n'), []);
    assert.deepEqual(await codeFacts('empty.py', ''), []);
    assert.deepEqual(await codeFacts('notes.txt', 'const MAX_RETRIES = 3;\n'), []);
    assert.deepEqual(await codeFacts('script.lua', 'local MAX = 3\n'), []);
    const broken = 'export const LIMIT = 5;\nfunction f(retries = 2 {\n  throw new Error(\nclass X extends {{{\n';
    const facts = await codeFacts('broken.ts', broken);
    assert.ok(Array.isArray(facts));
    has(facts, ['constant LIMIT | value = 5 @1']);
    await codeFacts('broken.py', 'def f(x=3:\n    raise ValueError(\nclass A(B:\n');
  });

  test('a 5,000-line file: finishes, keeps the first maxFacts by line, reports throughput', async (t) => {
    const block = (i: number): string => `/** Block ${i}. */
export const LIMIT_${i} = ${i};
const defaultOptions${i} = { timeout: ${i * 100}, retry: { limit: ${i % 5} }, name: 'block-${i}' };
export function handler${i}(req, res, retries = ${i % 7}) {
  if (!req) throw new TypeError('missing request ${i}');
  const value = compute(req.body, process.env.TOKEN_${i}) + ${i};
  for (let k = 0; k < value; k++) res.write(String(k * ${i}));
  return res.end();
}
class Worker${i} extends Base {
  constructor() { super(); this.count = ${i}; }
  run(input) { return input.map((x) => x * 2).filter(Boolean); }
}
`;
    let text = '';
    for (let i = 0; text.split('\n').length < 5000; i++) text += block(i);
    await codeFacts('warm.js', block(0)); // the grammar loads once
    const t0 = performance.now();
    const facts = await codeFacts('big.js', text);
    const ms = performance.now() - t0;
    assert.equal(facts.length, 200);
    const all = await codeFacts('big.js', text, { maxFacts: 100_000 });
    assert.ok(all.length > 3000, `${all.length} facts uncapped`);
    assert.deepEqual(facts.map(show), all.slice(0, 200).map(show), 'the cap keeps the first facts by line');
    assert.deepEqual((await codeFacts('big.js', text, { maxFacts: 7 })).map(show), all.slice(0, 7).map(show));
    assert.deepEqual(await codeFacts('big.js', text, { maxFacts: 0 }), []);
    const t1 = performance.now();
    await codeFacts('big.js', text, { maxFacts: 100_000 });
    const allMs = performance.now() - t1;
    const mb = Buffer.byteLength(text) / 1e6;
    t.diagnostic(`${text.split('\n').length} lines, ${(mb * 1000).toFixed(0)} KB: ${ms.toFixed(0)} ms for 200 facts (${(mb / (ms / 1000)).toFixed(2)} MB/s); ${allMs.toFixed(0)} ms for all ${all.length} (${(mb / (allMs / 1000)).toFixed(2)} MB/s)`);
  });

  test('deterministic', async () => {
    assert.deepEqual(await codeFacts('source/ky.ts', KY_TS), await codeFacts('source/ky.ts', KY_TS));
  });

  test('a real library: commander in node_modules gives facts of several kinds', async (t) => {
    const dir = path.join(repoRoot, 'node_modules/commander/lib');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js'));
    const facts: Fact[] = [];
    let bytes = 0;
    const t0 = performance.now();
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      bytes += Buffer.byteLength(text);
      const got = await codeFacts(`lib/${f}`, text);
      checkShapes(got, text);
      facts.push(...got);
    }
    const ms = performance.now() - t0;
    const kinds = new Set(facts.map((f) => f.kind));
    for (const k of ['extends', 'throws', 'exports', 'default', 'parameter-default', 'literal'] as const) assert.ok(kinds.has(k), `no ${k} fact in commander`);
    assert.ok(facts.some((f) => f.kind === 'extends' && f.subject === 'Command'));
    t.diagnostic(`commander ${files.length} files, ${(bytes / 1000).toFixed(0)} KB: ${facts.length} facts (${[...kinds].map((k) => `${k} ${facts.filter((f) => f.kind === k).length}`).join(', ')}) in ${ms.toFixed(0)} ms (${(bytes / 1e6 / (ms / 1000)).toFixed(2)} MB/s)`);
  });
});
