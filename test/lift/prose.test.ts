/**
 * Facts from prose (compromise for sentences, tags and chunks): several facts in one paragraph,
 * each with its subject, line and questions that never contain the answer; Markdown markup, code
 * blocks and tables (rows read as a term list's items); what happens with text that has no facts, is not English, or is very large.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkQuestion, factAnswer, statesDirectly } from '../../native/lift/facts';
import { headingName, PROSE_LIMIT, proseFacts, roleName, ruleQuestions } from '../../native/lift/prose';
import { factPairs, generateQA } from '../../native/lift/qa';

const SPEC = `# Ingest platform

## Ingest gateway
The ingest gateway listens on port 4652 and retries failed uploads 3 times before giving up. Its cache
entries expire after 15 minutes. Requests larger than 8 MiB are rejected with error \`INGEST-413\`.
The gateway is owned by the Platform Storage team.

\`\`\`yaml
port: 9999
\`\`\`

| option | default | description |
|---|---|---|
| \`uploadLimit\` | \`16\` | The most uploads in flight at once. |

- Logs are written to [the log folder](https://example.com) /var/log/ingest.

## Billing exports
Exports run every night at 02:40 UTC and are kept for 90 days. Mara Lindqvist maintains the exporter, which runs version 2.4.1.
`;

test('every value of a multi-fact paragraph is a fact with its subject, line and questions', () => {
  const { facts } = proseFacts('SPEC.md', SPEC);
  const by = new Map(facts.map((f) => [f.value, f]));
  for (const [value, line] of [['4652', 4], ['3 times', 4], ['15 minutes', 5], ['8 MiB', 5], ['INGEST-413', 5], ['Platform Storage', 6], ['/var/log/ingest', 16], ['02:40 UTC', 19], ['90 days', 19], ['Mara Lindqvist', 19], ['2.4.1', 19]] as const) {
    assert.equal(by.get(value)?.line, line, `${value} at line ${line}: ${JSON.stringify(facts.map((f) => [f.value, f.line]))}`);
  }
  // fenced code is not prose; a table's row is read as a term list's item (its term, its default)
  assert.ok(!by.has('9999'));
  assert.equal(by.get('16')?.line, 14);
  assert.equal(by.get('16')?.attribute, 'default');
  assert.ok(by.get('16')!.questions.includes('What is the default value of the uploadLimit option?'), by.get('16')!.questions.join(' | '));
  assert.ok(by.get('uploadLimit')!.questions.includes('Which option sets the most uploads in flight at once?'), by.get('uploadLimit')!.questions.join(' | '));
  // the pronoun stands for the paragraph's subject; the heading names what a sentence does not
  assert.equal(by.get('15 minutes')!.subject, 'the ingest gateway');
  assert.ok(by.get('15 minutes')!.questions.some((q) => /ingest gateway's cache entries expire after how long\?/i.test(q)), by.get('15 minutes')!.questions.join(' | '));
  assert.ok(by.get('INGEST-413')!.questions.some((q) => q.includes('ingest gateway')), by.get('INGEST-413')!.questions.join(' | '));
  assert.ok(by.get('4652')!.questions.includes('What is the port of the ingest gateway?'));
  assert.ok(by.get('Platform Storage')!.questions.includes('Which team owns the gateway?'), by.get('Platform Storage')!.questions.join(' | '));
  for (const f of facts) {
    assert.ok(f.questions.length >= 2, `${f.value}: ${f.questions.length} questions`);
    for (const q of f.questions) assert.ok(!q.includes(f.value), `"${q}" gives away ${f.value}`);
  }
});

test('a leading subordinate clause is not the subject; questions name the section as the text writes it', () => {
  const doc = `# Platform\n\n## Ingest Gateway\n\nThe ingest gateway accepts uploads on port 4652. When the manifest store cannot be reached, the gateway retries each write 5 times and then fails with error code QRX-417.\n\n## Ironbark\n\nWe page Ironbark through the Ledgerwise team, which answers within 20 minutes.\n`;
  const { facts } = proseFacts('SPEC.md', doc);
  const retries = facts.find((f) => f.value === '5 times')!;
  assert.equal(retries.subject, 'the gateway', 'the main clause\'s subject, not the manifest store');
  assert.ok(!retries.questions.some((q) => q.includes('manifest store')), retries.questions.join(' | '));
  // asked of the sentence's subject and of the section, named as the text names it (lower case)
  for (const q of ['How many times does the gateway retry?', 'How many times does the ingest gateway retry?']) assert.ok(retries.questions.includes(q), retries.questions.join(' | '));
  assert.equal(headingName('Ingest Gateway', doc), 'the ingest gateway');
  assert.equal(headingName('Ironbark', doc), 'Ironbark', 'a proper name the text writes capitalised stays as it is');
  assert.equal(headingName('Release Notes', doc), 'the release Notes', 'a heading the text never repeats');
  assert.equal(headingName('Kestrel On-Call Guide', 'Read the Kestrel On-Call Guide first.'), 'the Kestrel On-Call Guide', 'hyphens and apostrophes are part of words');
});

test('a section\'s component is also asked by what the section says it does', () => {
  // as subject, with a fronted adverbial, and as the object of a passive; an aside is cut
  assert.equal(roleName('the route planner', ['The route planner computes multi-stop itineraries for trucks and barges, taking into account the tides.']), 'the planner that computes multi-stop itineraries for trucks and barges');
  assert.equal(roleName('the billing exporter', ['Every night at 02:40 UTC the billing exporter writes the invoices to the warehouse.']), 'the exporter that writes the invoices to the warehouse');
  assert.equal(roleName('the auth service', ['Access tokens are minted by the auth service, which binds port 7313.']), 'the service that access tokens are minted by');
  assert.equal(roleName('Ironbark', ['Ironbark turns free-text addresses into coordinates.']), 'the component that turns free-text addresses into coordinates');
  // the first sentence that mentions it; none when no sentence does, or the rest is no predicate
  assert.equal(roleName('the geocoder', ['Addresses are messy.', 'The geocoder turns addresses into coordinates.']), 'the geocoder that turns addresses into coordinates');
  assert.equal(roleName('the release notes', ['Nothing here names it.']), undefined);
  assert.equal(roleName('the network and clients', ['Clients and on port 6181 for its admin API.']), undefined);
  const doc = `# Platform\n\n## Route Planner\n\nThe route planner computes multi-stop itineraries for trucks and barges. Its API is served on port 5188, and the Copperline Routing team owns it.\n`;
  const port = proseFacts('SPEC.md', doc).facts.find((f) => f.value === '5188')!;
  assert.ok(port.questions.includes('Which port does the planner that computes multi-stop itineraries for trucks and barges listen on?'), port.questions.join(' | '));
});

test('numbers written out with their unit, temperatures, dates, weekdays and e-mail addresses are values', () => {
  const doc = `# Guide\n\nEach shift lasts twelve hours, and one of the leads signs it off. Freezers alarm after 8 consecutive minutes above 7 °C. The freeze begins on 1 December. The board meets on Mondays at 10:00 and on every second Tuesday. Claims go to accounts@kestrel.example by e-mail.\n`;
  const values = new Map(proseFacts('GUIDE.md', doc).facts.map((f) => [f.value, f]));
  for (const v of ['twelve hours', '8 consecutive minutes', '7 °C', '1 December', 'Mondays', 'second Tuesday', 'accounts@kestrel.example', '10:00']) assert.ok(values.has(v), `${v}: ${[...values.keys()].join(' | ')}`);
  assert.ok(![...values.keys()].some((v) => /^one\b/.test(v)), 'a number written out without a unit is no value');
  assert.ok(values.get('1 December')!.questions.some((q) => q.includes('which day')), values.get('1 December')!.questions.join(' | '));
});

test('a rule that forbids something is asked as yes/no questions answered "No"', () => {
  const doc = `# Platform\n\n## Customs Bridge\n\nThe customs bridge exchanges declarations. The bridge must not run outside the eu-west-3 region. The scheduler never starts more than 32 jobs at once. Anything not written here may change, and jobs that must not overlap declare a lane.\n`;
  const rules = proseFacts('SPEC.md', doc).facts.filter((f) => f.attribute === 'rule');
  const region = rules.find((f) => f.line === 5 && f.value === 'No, must not');
  assert.ok(region?.questions.includes('Can the bridge run outside the eu-west-3 region?'), JSON.stringify(rules));
  assert.ok(region!.questions.includes('Can the customs bridge run outside the eu-west-3 region?'), 'asked of the section\'s component too');
  const jobs = rules.find((f) => f.value === 'No, never');
  assert.ok(jobs?.questions.includes('Does the scheduler start more than 32 jobs at once?'), JSON.stringify(rules));
  assert.equal(rules.length, 2, 'a bare "not" and a relative clause are no rules');
  assert.equal(ruleQuestions('nobody', 'is never paged'), undefined);
  // a state, not a permission: the answer says what is not so ("No, are not" said nothing)
  assert.deepEqual(ruleQuestions('cookies', 'are not stored by default'), { value: 'No, not stored by default', questions: ['Is it true that cookies are stored by default?', 'Are cookies ever stored by default?'] });
});

test('answers state the value first and cite the source; one question per fact is kept for the self-check', () => {
  const { facts } = proseFacts('SPEC.md', SPEC);
  const port = facts.find((f) => f.value === '4652')!;
  assert.equal(factAnswer(port), '4652 (SPEC.md:4)');
  const pairs = factPairs(facts);
  for (const f of facts) {
    const mine = pairs.filter((p) => p.value === f.value && p.line === f.line);
    assert.equal(mine.filter((p) => p.check).length, checkQuestion(f) === undefined ? 0 : 1);
    assert.ok(mine.every((p) => p.answer === factAnswer(f) && p.kind === 'fact'));
  }
  assert.equal(checkQuestion(port), checkQuestion({ ...port, questions: [...port.questions] }), 'the same fact keeps the same check question');
});

test('statesDirectly looks at the first sentence only', () => {
  assert.ok(statesDirectly('4652 (SPEC.md:4)', '4652'));
  assert.ok(statesDirectly('It runs version 2.4.1. More text.', '2.4.1'));
  assert.ok(!statesDirectly('The gateway is described in SPEC.md. It listens on 4652.', '4652'));
  assert.ok(!statesDirectly('## Ingest gateway\nThe ingest gateway listens on port 4652', '4652'));
  assert.ok(statesDirectly('4,652 (SPEC.md:4)', '4652', ['4,652']));
  // the value as a whole, never a citation's path or line
  assert.ok(!statesDirectly('satisfies (functions/satisfies.js:12)', '1'));
  assert.ok(!statesDirectly('It retries 10 times.', '1'));
  assert.ok(!statesDirectly('Use 1.2.3 or later.', '1'));
  assert.ok(statesDirectly('The cache is an LRUCache.', 'LRU'), 'a camel-case seam is a boundary');
  assert.ok(!statesDirectly('The cache is an LRUS.', 'LRU'));
  assert.ok(statesDirectly('1 (bin/semver.js:40)', '1'));
  assert.ok(statesDirectly('It fails with "Invalid Version: 1.x" (classes/semver.js:40)', 'Invalid Version'));
  assert.ok(statesDirectly('The SemVer spec v2.0.0.', 'v2.0.0'));
});

test('documents without facts, not in English, or very large yield fewer facts and say so', async () => {
  assert.deepEqual(proseFacts('NOTES.md', '# Notes\n\nWe like to keep things simple and friendly here.\n').facts, []);
  const german = Array.from({ length: 30 }, (_, i) => `Der Dienst lauscht auf Port ${4000 + i} und bricht Anfragen nach ${i + 5} Sekunden ab, wenn die Verbindung hängt.`).join(' ');
  const de = proseFacts('LIESMICH.md', german);
  assert.equal(de.facts.length, 0);
  assert.match(de.report.note ?? '', /not English/);
  const paragraph = 'The relay listens on port 5100 and keeps 12 workers busy. Its queue holds at most 400 messages.\n\n';
  const big = paragraph.repeat(Math.ceil((5 * 1024 * 1024) / paragraph.length));
  const started = performance.now();
  const r = proseFacts('BIG.md', big, { maxFacts: 500 });
  assert.ok(r.facts.length > 0 && r.facts.length <= 500);
  assert.match(r.report.note ?? '', new RegExp(`first ${Math.round(PROSE_LIMIT / 1000)} KB|stopped at 500 facts`));
  const qa = await generateQA([{ root: '/w', path: 'LIESMICH.md', file: '/w/LIESMICH.md', text: german, bytes: german.length }]);
  assert.equal(qa.filter((p) => p.kind === 'fact').length, 0);
  // no timing threshold (shared machines); the time is reported
  process.stdout.write(`# 5 MB document: ${r.facts.length} facts in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
});

test("questions in users' words per kind of value, of the subject and of the section's component; a question of two values is dropped", () => {
  const { facts } = proseFacts('SPEC.md', SPEC);
  const q = (value: string): string[] => facts.find((f) => f.value === value)!.questions;
  assert.ok(q('4652').includes('Which port does the ingest gateway listen on?'), q('4652').join(' | '));
  assert.ok(q('3 times').some((x) => /How many attempts does .* make\?/.test(x)), q('3 times').join(' | '));
  assert.ok(q('Platform Storage').some((x) => /^(Which team owns|Who maintains) /.test(x)), q('Platform Storage').join(' | '));
  assert.ok(q('INGEST-413').some((x) => /^Which error code does /.test(x)), q('INGEST-413').join(' | '));
  assert.ok(q('8 MiB').some((x) => /size limit/.test(x)), q('8 MiB').join(' | '));
  // two durations of one component: "How long is it for X?" would ask for both, so neither has it
  const two = proseFacts('T.md', '# Cache\n\nThe edge cache keeps entries for 15 minutes. The edge cache keeps logs for 30 days.\n').facts;
  const asked = two.map((f) => new Set(f.questions));
  assert.equal(two.length, 2);
  for (const x of asked[0]!) assert.ok(!asked[1]!.has(x), `"${x}" is asked of both values`);
});

test("indented code (a README's usage text) is no prose, an indented list paragraph is; a value's own word does not make it a team", () => {
  const readme = [
    '# tool',
    '',
    'The tool listens on port 4100.',
    '',
    '## Usage',
    '',
    '    Options',
    '      --format    [String] formatter name. Default: "stylish".',
    '',
    '    Exit Status',
    '      Secretlint exits with 2 on a fatal error.',
    '',
    '- The daemon keeps 12 workers.',
    '',
    '    The daemon restarts after 30 seconds.',
    '',
    '## Running tests',
    '',
    'Install devDependencies and Run `npm test`:',
  ].join('\n');
  const { facts } = proseFacts('README.md', readme);
  const values = facts.map((f) => f.value);
  assert.ok(values.includes('4100'), values.join(' | '));
  assert.ok(!values.some((v) => /String|stylish|Status|^2$/.test(v)), `facts from indented code: ${values.join(' | ')}`);
  assert.ok(values.some((v) => /30 seconds/.test(v)), `the list item's indented paragraph is prose: ${values.join(' | ')}`);
  const run = facts.filter((f) => f.value === 'Run');
  assert.ok(run.every((f) => !f.questions.some((x) => /team|maintains/.test(x))), run.flatMap((f) => f.questions).join(' | '));
});

test('a count of things and a name the text gives something are facts', () => {
  const text = `# Cold rooms

The rotation is staffed by a team of eleven engineers. Restarting more than three roosts at once is forbidden.
Every probe reports to a small gateway on the ceiling that we call a roost. Escalations go to the service called ironbark-core, which answers within 12 minutes.
`;
  const { facts } = proseFacts('GUIDE.md', text);
  const by = new Map(facts.map((f) => [f.value, f]));
  assert.ok(by.get('eleven engineers')?.questions.some((q) => q.includes('how many engineers')), JSON.stringify(facts.map((f) => f.value)));
  assert.ok(by.has('three roosts'));
  assert.ok(by.get('roost')?.questions.includes('What is a small gateway on the ceiling called?'), JSON.stringify(by.get('roost')));
  assert.ok(by.get('ironbark-core')?.questions.includes('What is the service called?'));
  assert.equal(by.get('12 minutes')?.line, 4, 'the sentence keeps its other values');
  // "one" before a plural noun is no count ("one of", "one engineers" is no English)
  assert.ok(!proseFacts('X.md', 'The gateway runs on one of the nodes and pages Nina Holt.').facts.some((f) => /^one/.test(f.value)));
});

test("a table's rows are a term list's items: the first header names the kind, a row of ticks and a table with no separator give nothing", () => {
  const doc = [
    '# Levels',
    '',
    'Chalk picks a level by itself.',
    '',
    '| Level | Description |',
    '| :---: | :--- |',
    '| `2` | 256 color support |',
    '',
    '| Feature | `a` | `b` |',
    '| --- | --- | --- |',
    '| Brace expansion | ✔ | - |',
    '',
    '| no | separator |',
    '| here | either |',
    '| `PORT_X` | 7781 |',
  ].join('\n');
  const { facts } = proseFacts('L.md', doc);
  const level = facts.find((f) => f.value === '2');
  assert.equal(level?.line, 7);
  assert.equal(level?.subject, 'level 2');
  assert.ok(level!.questions.includes('Which level sets the 256 color support?'), level!.questions.join(' | '));
  assert.ok(!facts.some((f) => /Brace|✔|PORT_X|7781/.test(`${f.value} ${f.subject}`)), JSON.stringify(facts.map((f) => [f.subject, f.value])));
});

test("an example's comments are prose (a wrapped one joined); commented-out code and commands, strings, JSON and console fences are not", () => {
  const doc = [
    '# Events',
    '',
    '```js',
    "app.get('/events', function (req, res) {",
    '  // send a ping to each of the connected clients approximately',
    '  // every 2 seconds',
    "  setInterval(ping, 2000) // the relay listens on 7781",
    '  // app.listen(3000)',
    "  fetch('http://example.com/x') // see http://example.com",
    "  const u = 'a // the mirror listens on 7782'",
    '})',
    '```',
    '',
    '```json',
    '{ "note": "// the backup runs at 02:40" }',
    '```',
    '',
    '```sh',
    '# the cache keeps 500 entries',
    '# the pool holds 12 workers',
    '# docker run -p 8080:80 nginx',
    '# npm install foo@2.0.0 --save',
    '```',
    '',
    '```console',
    '# apt-get install nginx version 1',
    '```',
    '',
    '````python',
    '# the queue drops jobs after 9 tries',
  ].join('\n');
  const { facts } = proseFacts('E.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.value, f.line, f.questions[0]]));
  assert.equal(facts.find((f) => f.value === '2 seconds')?.line, 6, all);
  assert.equal(facts.find((f) => f.value === '7781')?.line, 7, all);
  // separate comments are separate sentences: the cache's count is not asked with the pool's
  const entries = facts.find((f) => f.value === '500 entries');
  assert.equal(entries?.line, 19, all);
  assert.ok(entries!.questions.every((q) => !/pool|workers/.test(q)), all);
  assert.equal(facts.find((f) => f.value === '12 workers')?.line, 20, all);
  // a four-backtick fence keeps its language; its last comment counts though the file ends in it
  assert.equal(facts.find((f) => f.value === '9 tries')?.line, 30, all);
  assert.ok(!facts.some((f) => /3000|7782|02:40|example|8080|2\.0\.0|nginx/.test(`${f.value} ${f.questions.join(' ')}`)), all);
});

test('a table needs no outer pipes ("Key | Default" over "--- | ---"); a line with a pipe and no delimiter row under it stays prose', () => {
  const doc = [
    '# Limits',
    '',
    'Pipe the stream with `a | b` when you need it.',
    'The relay listens on 7781.',
    '',
    'Key | Description | Default',
    '--- | --- | ---',
    '`fieldSize` | Max field value size (in bytes) | 1MB',
    '`headerPairs` | The max number of header key=>value pairs to parse | 2000',
    'Specifying the limits protects the site.',
  ].join('\n');
  const { facts } = proseFacts('L.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.subject, f.attribute, f.value, f.line]));
  assert.equal(facts.find((f) => f.attribute === 'default' && f.value === '1MB')?.line, 8, all);
  assert.equal(facts.find((f) => f.attribute === 'default' && f.value === '2000')?.subject, 'the headerPairs key', all);
  assert.ok(facts.some((f) => f.attribute === 'name' && f.value === 'fieldSize'), all);
  assert.equal(facts.find((f) => f.value === '7781')?.line, 4, all);
  // a one-dash delimiter row is one; a table ends where a fence starts; a long line after a pipe is read in linear time
  const short = proseFacts('S.md', ['Key | Description | Default', '-|-|-', '`fields` | Max number of fields | 2000', '```js', 'x()', '```', 'Use `a | b` to pipe the 12 streams.'].join('\n')).facts;
  assert.ok(short.some((f) => f.attribute === 'default' && f.value === '2000'), JSON.stringify(short));
  assert.ok(!short.some((f) => f.attribute === 'name' && /Use/.test(f.value)), JSON.stringify(short));
  assert.equal(proseFacts('L.md', `a | b\n${' '.repeat(200_000)}|x\n`).facts.length, 0);
});

test("a number with its scale word is one value; a term list item's description holds facts about the term; a reference link is its text", () => {
  const scaled = proseFacts('C.md', '# Colors\n\nThe terminal shows 16 million colors.\n').facts;
  assert.deepEqual(scaled.map((f) => f.value), ['16 million colors']);
  const doc = '# Options\n\nAvailable options:\n\n- `template`: a [`mkstemp`][3] like file name template that must include `XXXXXX` once. Default: `tmp-XXXXXX`.\n';
  const { facts } = proseFacts('O.md', doc);
  const placeholder = facts.find((f) => f.value === 'XXXXXX');
  assert.equal(placeholder?.subject, 'the template option', JSON.stringify(facts.map((f) => [f.subject, f.value])));
  assert.ok(placeholder!.questions.length >= 2 && placeholder!.questions.every((q) => !q.includes('XXXXXX') && !/^template\b/.test(q)), placeholder!.questions.join(' | '));
  assert.ok(!facts.some((f) => f.value === 'template' && f.attribute !== 'name'), 'the term itself is no value of its description');
  // a reference link keeps its text, not its reference
  assert.ok(facts.every((f) => f.questions.every((q) => !/\]|\[3/.test(q))), facts.flatMap((f) => f.questions).join(' | '));
});

test('a long sentence\'s clause after ", which" is asked of the noun phrase before the comma, not of the section', () => {
  const text = '# Alarms\n\nAcknowledging a page on the phone app does not close the alarm, which stays open until the room has been back within its limits for 10 minutes.\n';
  const f = proseFacts('GUIDE.md', text).facts.find((x) => x.value === '10 minutes')!;
  assert.ok(f.questions.includes('The alarm: stays open until the room has been back within its limits for how long?'), f.questions.join(' | '));
  assert.ok(!f.questions.some((q) => /^The alarms: stays open/.test(q)), f.questions.join(' | '));
});

test('a link whose text is the package or repository its target ends in is a value; other links are words', () => {
  const doc = '# Related\n\nFor zipping, see [yazl](https://github.com/thejoshwolfe/yazl).\nSizes are parsed by the [bytes](https://www.npmjs.com/package/bytes) module.\nRead [the guide](https://example.com/guide) and the [docs](https://example.com/documentation/).\n';
  const { facts } = proseFacts('R.md', doc);
  const yazl = facts.find((f) => f.value === 'yazl');
  assert.ok(yazl?.questions.includes('For zipping, see what?'), JSON.stringify(facts.map((f) => [f.value, f.questions[0]])));
  assert.ok(facts.some((f) => f.value === 'bytes'), JSON.stringify(facts.map((f) => f.value)));
  assert.ok(!facts.some((f) => /guide|docs/i.test(f.value)), JSON.stringify(facts.map((f) => f.value)));
});

test("a header's name and a hyphenated name beside the kind of thing it names are values; English compounds are not", () => {
  const doc = '# Webhooks\n\nEvery webhook carries its signature in the X-Tidewater-Signature header. Templates live in the relay-templates repository. Archives go to the bucket tlp-archive-cold. The metrics sit in a time-series database, events in a dead-letter queue, and we use no third-party package.\n';
  const values = proseFacts('W.md', doc).facts.map((f) => f.value);
  for (const v of ['X-Tidewater-Signature', 'relay-templates', 'tlp-archive-cold']) assert.ok(values.includes(v), `${v}: ${JSON.stringify(values)}`);
  for (const v of ['time-series', 'dead-letter', 'third-party']) assert.ok(!values.includes(v), `${v}: ${JSON.stringify(values)}`);
});

test("a sentence that names only a part of its section's subject is asked in the section's name too (the same sentence under two error headings stays two facts)", () => {
  const section = (name: string, status: string): string => `### ${name}\n\nThis error will occur when the request contained an entity that could not be handled by the middleware. The \`status\` property is set to \`${status}\`, the \`type\` property is set to \`'${name.replace(/ /g, '.')}'\`, and the \`body\` property is set to the entity value.\n`;
  const { facts } = proseFacts('E.md', `# Errors\n\n${section('entity parse failed', '400')}\n${section('entity verify failed', '403')}`);
  for (const [status, name] of [['400', 'entity parse failed'], ['403', 'entity verify failed']]) {
    const f = facts.find((x) => x.value === status)!;
    assert.ok(f.questions.includes(`In ${name}: the status property is set to what?`), `${status}: ${f.questions.join(' | ')}`);
  }
});

test("an option documented under several calls' headings is asked of its call, so each call's default keeps its questions", () => {
  const part = (call: string, type: string): string => `### ${call}([options])\n\nReturns middleware that parses bodies.\n\n#### Options\n\n##### type\n\nThe \`type\` option is used to determine what media type the middleware will parse. Defaults to \`${type}\`.\n`;
  const { facts } = proseFacts('P.md', `# parser\n\n${part('bodyParser.json', 'application/json')}\n${part('bodyParser.text', 'text/plain')}`);
  for (const [call, type] of [['bodyParser.json()', 'application/json'], ['bodyParser.text()', 'text/plain']]) {
    const f = facts.find((x) => x.value === type && x.attribute === 'default');
    assert.ok(f?.questions.includes(`What does type default to in ${call}?`), `${type}: ${f?.questions.join(' | ')}`);
    // "What does type default to?" asks for both: neither keeps it
    assert.ok(!f!.questions.includes('What does type default to?'), f!.questions.join(' | '));
  }
});

test('the unit a quantity is given in is a fact, asked of what it measures ("timeout (in millis)", "a timestamp in ms"); a quantity with its number keeps its unit', () => {
  const { facts } = proseFacts('U.md', '# API\n\n## Options\n\n- **proxyTimeout**: timeout (in millis) for outgoing proxy requests\n\n## getTtl(key)\n\nReturns a timestamp in ms representing the time at which the key will expire.\n\nThe sweep waits 30 seconds between runs.\n');
  const units = facts.filter((f) => ['millis', 'ms'].includes(f.value));
  assert.deepEqual(units.map((f) => f.value).sort(), ['millis', 'ms'], facts.map((f) => f.value).join(', '));
  assert.ok(units.find((f) => f.value === 'millis')!.questions.includes('In what unit is the timeout given?'));
  assert.ok(units.find((f) => f.value === 'ms')!.questions.includes('What unit is the timestamp in?'));
  assert.ok(units.every((f) => f.questions.every((q) => !/\s\)/.test(q))), 'no space before a closing parenthesis');
  assert.ok(facts.some((f) => f.value === '30 seconds') && !facts.some((f) => f.value === 'seconds'), facts.map((f) => f.value).join(', '));
});
