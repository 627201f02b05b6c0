/**
 * Facts from a README's code examples (native/lift/examples.ts): the port an example listens on,
 * the status codes it sends, the headers it sets, the values of its options, and an object literal
 * introduced as the defaults read as one default per key. The README is written for the test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exampleFacts } from '../../native/lift/examples';
import { headingText } from '../../native/lift/markdown';
import { proseFacts } from '../../native/lift/prose';

const FENCE = '```';
const README = `# tidepool

A relay for tide gauge readings.

## Usage

${FENCE}js
const relay = tidepool.createRelay({
  target: 'http://localhost:7000',
  retries: 4, // four tries before giving up
});
relay.on('error', (err, req, res) => {
  res.setHeader('X-Tide-Relay', 'down');
  res.writeHead(502);
  res.end(String(err.status || 503));
});
relay.listen(8123);
// relay.listen(9000)
${FENCE}

The default configuration is the equivalent of:

${FENCE}json
{
  "retries": 2,
  "keepAlive": true
}
${FENCE}

${FENCE}sh
PORT: 9999
curl localhost:8123 # listen(1234)
${FENCE}
`;

test("an example's port, status codes, header and option values are facts about the example", () => {
  const facts = exampleFacts('README.md', README);
  const all = JSON.stringify(facts.map((f) => [f.attribute, f.value, f.line, f.questions[0]]));
  const find = (attribute: string, value: string) => facts.find((f) => f.attribute === attribute && f.value === value);
  assert.ok(find('port', '8123')?.questions.includes('Which port does the example under "Usage" listen on?'), all);
  assert.equal(find('port', '8123')?.line, 17, all);
  assert.ok(find('status code', '502')?.questions.includes('What status code does the example send?'), all);
  assert.ok(find('fallback status code', '503')?.questions.includes('If the error has no status, which status code does the example under "Usage" send?'), all);
  assert.ok(find('header', 'X-Tide-Relay')?.questions.includes('Which header does the example set?'), all);
  assert.ok(find('retries in the example', '4')?.questions.includes('What is retries set to in the example?'), all);
  assert.ok(find('target in the example', 'http://localhost:7000'), all);
  // an object literal introduced as the defaults: one default per key, asked as the option's
  assert.ok(find('default', '2')?.questions.includes('What does retries default to?'), all);
  assert.equal(find('default', 'true')?.subject, 'the keepAlive option', all);
  // commented-out code sets nothing; a shell session is no example of these: nothing read from it
  assert.ok(!facts.some((f) => ['9000', '9999', '1234'].includes(f.value)), all);
});

test("an example's facts join the document's, and a question asked of two examples' values teaches neither", () => {
  const twice = `${README}\n## Second relay\n\n${FENCE}js\nother.listen(8124);\n${FENCE}\n`;
  const { facts } = proseFacts('README.md', twice);
  const ports = facts.filter((f) => f.attribute === 'port');
  assert.deepEqual(ports.map((f) => f.value), ['8123', '8124']);
  for (const p of ports) assert.ok(!p.questions.includes('Which port does the example listen on?'), JSON.stringify(p.questions));
  assert.ok(ports[1]!.questions.includes('Which port does the example under "Second relay" listen on?'));
});

test('only an object literal introduced as the defaults gives defaults: its own keys, each once, none a comment disowns', () => {
  const doc = [
    '## Dial',
    '',
    '`options` may be omitted, and has the following defaults:',
    '',
    FENCE + 'js',
    '{',
    '  keepAlive: true,',
    '  secure: true,',
    '  start: 0, // actually the default is null, see below',
    '  server: { port: 8080 },',
    '  client: {',
    '    port: 9090,',
    '  },',
    '}',
    FENCE,
    '',
    'By default this value is the window size, but you can override it:',
    '',
    FENCE + 'js',
    '{',
    '  threshold: 50,',
    '}',
    FENCE,
    '',
    '## <a name="cache"></a>Caching ![downloads](https://img.example/badge.svg)',
    '',
    FENCE + 'js',
    "cache.set('user-1', entry);",
    "res.set('Cache-Control', 'no-store');",
    '/*',
    ' * server.listen(9000)',
    ' */',
    FENCE,
    '',
    '## Port 8080',
    '',
    FENCE + 'js',
    'app.listen(8080);',
    FENCE,
  ].join('\n');
  const facts = exampleFacts('README.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.subject, f.attribute, f.value]));
  const defaults = facts.filter((f) => f.attribute === 'default').map((f) => `${f.subject}=${f.value}`);
  assert.deepEqual(defaults, ['the keepAlive option=true', 'the secure option=true'], all);
  // a literal after a sentence that only mentions a default is an example's value
  assert.equal(facts.find((f) => f.value === '50')?.attribute, 'threshold in the example', all);
  // a header is a header's name set on a request or response; the heading is named without its markup
  assert.deepEqual(facts.filter((f) => f.attribute === 'header').map((f) => f.value), ['Cache-Control'], all);
  assert.ok(facts.find((f) => f.value === 'Cache-Control')!.questions.includes('Which header does the example under "Caching" set?'), all);
  assert.ok(!facts.some((f) => f.value === '9000'), all);
  // a question that names its answer is no question: "the example under "Port 8080"" asks only as "the example"
  const port = facts.find((f) => f.value === '8080' && f.attribute === 'port');
  assert.deepEqual(port?.questions, ['Which port does the example listen on?'], all);
});

test("a heading's text: closing hashes and spaces dropped, a hash in the text kept, no heading without a space", () => {
  assert.equal(headingText('## Usage ##'), 'Usage');
  assert.equal(headingText('### C#'), 'C#');
  assert.equal(headingText(`# a${' '.repeat(500)}x  `), `a${' '.repeat(500)}x`);
  assert.equal(headingText('#hashtag'), undefined);
  assert.equal(headingText('####### seven'), undefined);
  assert.equal(headingText('## ##'), undefined);
});
