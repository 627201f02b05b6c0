/**
 * Facts from a README's term lists and call sections (native/lift/options.ts): an option is asked
 * for by what it does, its default and bounds by its name and its description; a section that
 * documents a call gives the call by what it does and what it returns. The README here is written
 * for the test, in the shapes real READMEs use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statesDirectly } from '../../native/lift/facts';
import { callOf, describe, termItem, termKind } from '../../native/lift/options';
import { proseFacts } from '../../native/lift/prose';

const README = `# pondcache

A cache for pond sensor readings.

## API

### pond.open(dir, [options])

Opens a cache in \`dir\`. Returns a \`Pond\` handle or throws on error.

Available options:

* \`maxEntries\`: The maximum number of readings kept in memory. Default is \`500\`.
* \`compress\`: Whether to compress readings on disk, defaults to \`true\`.
* \`flushEvery\`: The interval in seconds between two flushes, defaults to \`30\` (minimum value is \`5\`).
* \`onEvict\`: Called when a reading leaves the cache, defaults to a function that does nothing.
* \`sync\`: Flush every write before returning. Setting this to \`true\` makes writes slower.

### pond.close(force)

Closes the cache and its files.
Returns \`false\` when readings were still being written.

## Layout

The readings live under \`readings/\` and the index in \`index.db\`.
`;

test('a term list item is recognised by its term, and what the document calls its terms', () => {
  assert.deepEqual(termItem('* `retries`: The maximum amount of times'), { name: 'retries', at: 13 });
  assert.equal(termItem('- **timeout** — How long to wait')?.name, 'timeout');
  // a marker saying whether the term must be given is not its description
  const marked = '- `onComplete`: [OPTIONAL] - Invoked when the job is halted.';
  assert.equal(marked.slice(termItem(marked)!.at), 'Invoked when the job is halted.');
  assert.equal('- `name`: (required) the job name'.slice(termItem('- `name`: (required) the job name')?.at ?? 0), 'the job name');
  assert.equal(termItem('- `--watch`: rerun on change')?.name, '--watch');
  // numbers and expressions are no terms, nor is a plain item
  assert.equal(termItem('* `1000`: The `minTimeout` value in ms'), undefined);
  // a related package's link with what it is
  assert.deepEqual(termItem('- [chalk-cli](https://github.com/chalk/chalk-cli) - CLI for this module'), { name: 'chalk-cli', at: 52 });
  assert.equal(termItem('- [Install](#install)'), undefined, 'a table of contents entry describes nothing');
  assert.equal(termItem('* `k = 0 ... 9`: The `retries` value'), undefined);
  assert.equal(termItem('* retries are counted from zero'), undefined);
  // a default in parentheses before the description; a method with a leading dot and its arguments
  const initial = '- `ignoreInitial` (default: `false`). ';
  assert.deepEqual(termItem(`${initial}If set to \`false\` then events are emitted`), { name: 'ignoreInitial', at: initial.length });
  assert.equal(termItem('- `usePolling` (Default: `false`): Whether to poll')?.name, 'usePolling');
  assert.equal(termItem('- `.getWatched()`: Returns an object')?.name, '.getWatched()');
  assert.equal(termItem('- `.unwatch(path / paths)`: Stop watching files')?.name, '.unwatch()');
  assert.equal(termItem('- `depth` (in levels). How deep to go'), undefined, 'only a default may stand between a term and its description');
  // a capitalised description right after the term ("- `zlib.constants.Z_RLE` Use to limit …"); not a lower-case word
  assert.deepEqual(termItem('- `zlib.constants.Z_RLE` Use to limit match distances'), { name: 'zlib.constants.Z_RLE', at: 25 });
  assert.equal(termItem('- `1` Fastest compression'), undefined, 'a number is no term');
  assert.equal(termItem('- `foo` is called first'), undefined);
  assert.equal(termItem('- `foo` HTTP client for the relay')?.name, 'foo');
  assert.equal(termItem('- **Note** The cache keeps 500 entries'), undefined, 'a bold word and a capital are no term');
  assert.equal(termItem('- `usePolling` (DEFAULT: `false`): Whether to poll')?.name, 'usePolling');
  assert.equal(termKind('Available options:'), 'option');
  assert.equal(termKind('`options` is a JS object that can contain any of the following keys:'), 'option');
  assert.equal(termKind('It accepts these keys:'), 'key');
  assert.equal(termKind('Some history.'), undefined);
});

test('a description reads as whether-to, a verb phrase or a noun phrase', () => {
  assert.deepEqual(describe('Whether to retry forever'), { form: 'whether', phrase: 'to retry forever' });
  assert.deepEqual(describe('Resolve symlinks using realpath'), { form: 'verb', phrase: 'resolves symlinks using realpath', infinitive: 'resolve symlinks using realpath' });
  assert.deepEqual(describe('Randomizes the timeouts'), { form: 'verb', phrase: 'randomizes the timeouts', infinitive: 'randomize the timeouts' });
  assert.equal(describe('Called if the lock gets compromised')?.phrase, 'is called if the lock gets compromised');
  assert.deepEqual(describe('The maximum time (in milliseconds) that it may run.'), { form: 'noun', phrase: 'the maximum time that it may run' });
  assert.deepEqual(describe('Custom lockfile path'), { form: 'noun', phrase: 'the custom lockfile path' });
  assert.equal(describe('Path'), undefined);
  assert.deepEqual(describe('Indicates whether to watch files that cannot be read'), { form: 'whether', phrase: 'to watch files that cannot be read' });
  assert.deepEqual(describe('If `true` causes tmp to close the descriptor'), { form: 'condition', phrase: 'if `true` causes tmp to close the descriptor' });
  // "Use to …" says what it does, "Use for …" what it is for
  assert.deepEqual(describe('Use to force Huffman encoding only'), { form: 'verb', phrase: 'forces Huffman encoding only', infinitive: 'force Huffman encoding only' });
  assert.deepEqual(describe('Use for normal data.'), { form: 'verb', phrase: 'is for normal data' });
  assert.notEqual(describe('Used to be the default')?.phrase, 'is the default');
  assert.deepEqual(describe('Set to true to call `fs.chmod()` on each file'), { form: 'whether', phrase: 'to call `fs.chmod()` on each file' });
  assert.equal(callOf('retry.operation([options])'), 'retry.operation()');
  assert.equal(callOf('.lockSync(file, [options])'), 'lockSync()');
  assert.equal(callOf('new RetryOperation(timeouts, [options])'), 'new RetryOperation()');
  assert.equal(callOf('Installation'), undefined);
});

test("an option list gives each option by what it does, its default and its bounds, asked of its name and its description", () => {
  const { facts } = proseFacts('README.md', README);
  const find = (attribute: string, value: string) => facts.find((f) => f.attribute === attribute && f.value === value);
  // the option, asked for by what it does
  const name = find('name', 'maxEntries');
  assert.ok(name, JSON.stringify(facts.map((f) => [f.attribute, f.value])));
  assert.equal(name.line, 13);
  assert.ok(name.questions.includes('Which option sets the maximum number of readings kept in memory?'), name.questions.join(' | '));
  assert.ok(name.questions.some((q) => q.includes('of pond.open()')), 'asked of the call the section documents');
  assert.ok(find('name', 'compress')?.questions.includes('Which option do I set to compress readings on disk?'));
  assert.ok(find('name', 'onEvict')?.questions.includes('Which option is called when a reading leaves the cache?'));
  assert.ok(find('name', 'sync')?.questions.includes('Which option is used to flush every write before returning?'));
  // defaults: a code span, or words up to the clause's end
  const def = find('default', '500');
  assert.ok(def, JSON.stringify(facts.map((f) => [f.attribute, f.value])));
  assert.ok(def.questions.includes('What does maxEntries default to?'));
  assert.ok(def.questions.includes('What is the maximum number of readings kept in memory by default?'));
  assert.ok(def.questions.includes('By default, how many readings kept in memory at most?'));
  assert.ok(find('default', 'true')?.questions.includes('Does it compress readings on disk by default?'));
  assert.ok(find('default', '30'));
  assert.ok(find('default', 'a function that does nothing'));
  // a bound in parentheses
  assert.ok(find('minimum', '5')?.questions.includes('What is the minimum interval in seconds between two flushes?'));
  // questions never hold the value they ask for (an option's name may be in its description)
  for (const f of facts.filter((x) => x.attribute !== 'name')) for (const q of f.questions) assert.ok(!q.includes(f.value), `${q} gives away ${f.value}`);
  // the item's later sentences are read as prose about the option
  const slower = facts.find((f) => f.line === 17 && f.attribute !== 'name' && f.value === 'true');
  assert.equal(slower?.subject, 'the sync option');
});

test('a section that documents a call gives the call by what it does and what it returns', () => {
  const { facts } = proseFacts('README.md', README);
  const close = facts.find((f) => f.attribute === 'name' && f.value === 'pond.close()');
  assert.ok(close?.questions.includes('Which method closes the cache and its files?'), JSON.stringify(close));
  const returns = facts.find((f) => f.attribute === 'returns' && f.subject === 'pond.close()');
  assert.equal(returns?.value, 'false');
  assert.ok(returns.questions.includes('What does pond.close() return when readings were still being written?'));
  assert.ok(returns.questions.includes('What does close() return?'), 'asked by the method name alone too');
  // "Returns a `Pond` handle or throws on error": the value stops before "or throws"
  const open = facts.find((f) => f.attribute === 'returns' && f.subject === 'pond.open()');
  assert.ok(open && statesDirectly(open.value, 'a Pond handle'), JSON.stringify(open));
});

test('options written "`name` (default: `x`). Description" and methods written "`.name(args)`: …" are terms too', () => {
  const doc = [
    '# watcher',
    '',
    '## Options',
    '',
    '- `ignorePermissionErrors` (default: `false`). Indicates whether to watch files',
    '  that lack read permissions if possible.',
    '- `atomic` (default: `true`). If set to `true`, a file deleted and added again',
    '  within 100 ms is reported as changed.',
    '- `tries`: how many times to try for a unique name under the default temporary folder, default `3`',
    '- `mode`: the file mode to create with, falls back to `0o600` on file creation',
    '',
    '## Methods',
    '',
    '- `.getWatched()`: Returns an object representing all the paths being watched.',
    '',
  ].join('\n');
  const { facts } = proseFacts('README.md', doc);
  const find = (attribute: string, value: string) => facts.find((f) => f.attribute === attribute && f.value === value);
  const all = JSON.stringify(facts.map((f) => [f.attribute, f.value, f.questions[0]]));
  assert.ok(find('name', 'ignorePermissionErrors')?.questions.includes('Which option sets whether to watch files that lack read permissions if possible?'), all);
  assert.equal(find('default', 'false')?.subject, 'the ignorePermissionErrors option', all);
  assert.ok(find('name', 'atomic')?.questions.includes('Which option, if set to true, a file deleted and added again within 100 ms is reported as changed?'), all);
  assert.ok(find('default', 'true')?.questions.includes('What does atomic default to?'), all);
  assert.ok(!facts.some((f) => f.questions.some((q) => /default, what if|whether if/i.test(q))), 'a condition is no verb or noun phrase');
  // "default `3`" and "falls back to `0o600`" are defaults; "the default temporary folder" is not
  assert.equal(find('default', '3')?.subject, 'the tries option', all);
  assert.equal(find('default', '0o600')?.subject, 'the mode option', all);
  assert.ok(!facts.some((f) => f.attribute === 'default' && /temporary/.test(f.value)), all);
  assert.ok(find('name', '.getWatched()')?.questions.includes('Which method returns an object representing all the paths being watched?'), all);
});

test('a term written "- `name` Use to …" is asked for by what it does; a question that starts with a code term keeps its case', () => {
  const doc = '# Strategy\n\n- `zlib.constants.Z_RLE` Use to limit match distances to one.\n  This is designed to be almost as fast as `zlib.constants.Z_HUFFMAN_ONLY`.\n';
  const { facts } = proseFacts('S.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.attribute, f.value, f.questions[0]]));
  assert.ok(facts.find((f) => f.value === 'zlib.constants.Z_RLE')?.questions.includes('Which one is used to limit match distances to one?'), all);
  assert.equal(facts.find((f) => f.value === 'zlib.constants.Z_HUFFMAN_ONLY')?.questions[0], 'zlib.constants.Z_RLE is designed to be almost as fast as what?', all);
});

test('options written "**name**: true/false, Default: x - description" and events written "This event is emitted …"', () => {
  const doc = [
    '# relay',
    '',
    '## Options',
    '',
    '*  **mirror**: true/false, if you want to mirror every frame',
    '*  **stamp**: true/false, Default: true - specify whether you want to stamp each frame with its arrival time',
    '*  **rewriteHost**: true/false, Default: false - replaces the host of each frame with the relay\'s own',
    '*  **ownReplies** true/false, if set to true, the relay never answers on its own',
    '',
    '## Events',
    '',
    '* `drained`: This event is emitted once every queued frame was written.',
    '* `fault`: The fault event is emitted if a frame cannot be parsed.',
    '',
  ].join('\n');
  const { facts } = proseFacts('README.md', doc);
  const find = (attribute: string, value: string) => facts.filter((f) => f.attribute === attribute && f.value === value);
  const all = JSON.stringify(facts.map((f) => [f.attribute, f.value, f.questions[0]]));
  assert.ok(find('name', 'mirror')[0]?.questions.includes('Which option sets whether to mirror every frame?'), all);
  assert.ok(find('name', 'stamp')[0]?.questions.includes('Which option sets whether to stamp each frame with its arrival time?'), all);
  // the default stops at " - ", and is asked as what the option does
  assert.ok(find('default', 'true').some((f) => f.subject === 'the stamp option' && f.questions.includes('Does it stamp each frame with its arrival time by default?')), all);
  assert.ok(find('default', 'false').some((f) => f.subject === 'the rewriteHost option'), all);
  assert.ok(find('name', 'rewriteHost')[0]?.questions.includes("Which option replaces the host of each frame with the relay's own?"), all);
  assert.ok(find('type', 'true/false').some((f) => f.subject === 'the mirror option'), all);
  // the type is no value of the description ("Which path …?" for true/false)
  assert.ok(!facts.some((f) => f.attribute !== 'type' && f.value === 'true/false'), all);
  assert.ok(find('name', 'ownReplies').length, all);
  // a list of types is no type, a bold label before a plural noun no option, a condition with what to do then no whether-to
  const other = proseFacts('README.md', '## Options\n\n* **Note** strings, numbers and dates are accepted\n- `origin`: Boolean, String, RegExp or Function\n- `agent`: If you want to use a custom agent, pass it here\n').facts;
  const others = JSON.stringify(other.map((f) => [f.attribute, f.value, f.questions[0]]));
  assert.ok(!other.some((f) => f.attribute === 'type' || f.value === 'Note'), others);
  assert.ok(!other.some((f) => f.questions.some((q) => /whether to use a custom agent/.test(q))), others);
  assert.ok(find('name', 'drained')[0]?.questions.includes('Which event is emitted once every queued frame was written?'), all);
  assert.ok(find('name', 'fault')[0]?.questions.includes('Which event is emitted if a frame cannot be parsed?'), all);
});

test('a list that does not say what its terms are asks "which one"', () => {
  const { facts } = proseFacts('README.md', '# Layout\n\n- `src/`: The extension host code.\n- `webview/`: The sidebar UI, built by esbuild.\n');
  const src = facts.find((f) => f.value === 'src/');
  assert.ok(src?.questions.includes('Which one sets the extension host code?'), JSON.stringify(facts));
  assert.ok(!facts.some((f) => f.questions.some((q) => /option/.test(q))), 'no "option" where the list never says so');
});

test('a paragraph whose only values are code spans gives facts', () => {
  const { facts } = proseFacts('README.md', README);
  assert.ok(facts.some((f) => f.value === 'readings/'), JSON.stringify(facts.filter((f) => f.line === 26)));
  assert.ok(facts.some((f) => f.value === 'index.db'));
});

test('an API reference that names each term by a heading: its attribute lines and description are read as a term list item', () => {
  const doc = [
    '# pondqueue',
    '',
    '## Usage',
    '',
    'Make a queue and add work.',
    '',
    '### PondQueue(options?)',
    '',
    '#### options',
    '',
    '##### concurrency',
    '',
    'Type: `number`\\',
    'Default: `Infinity`\\',
    'Minimum: `1`',
    '',
    'The maximum number of jobs that run at the same time.',
    '',
    '##### autoStart',
    '',
    'Type: `boolean`\\',
    'Default: `true`',
    '',
    '##### chunkSize',
    '',
    'Type: `Number`<br>',
    'Default: `zlib.constants.Z_DEFAULT_CHUNK`, or `16384`.',
    '',
    '### queue',
    '',
    '#### .add(fn, options?)',
    '',
    'Adds a job.',
    '',
    '##### fn',
    '',
    'The function of the job. It gets a signal as its first argument.',
    '',
    '#### .onDrained()',
    '',
    'Returns a promise that resolves when no jobs are waiting.',
    '',
    '#### .isPaused',
    '',
    'Whether the queue is paused.',
    '',
    '## Events',
    '',
    '### drained',
    '',
    'Emitted when the last waiting job starts.',
    '',
    '## CommonJS',
    '',
    'Load the queue with a dynamic import.',
  ].join('\n');
  const { facts } = proseFacts('Q.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.subject, f.attribute, f.value, f.line]));
  const of = (value: string, attribute: string) => facts.find((f) => f.value === value && f.attribute === attribute);
  // the heading's term, by what its description says, with the default and bound on their own lines
  assert.ok(of('concurrency', 'name')?.questions.includes('Which option sets the maximum number of jobs that run at the same time?'), all);
  assert.equal(of('Infinity', 'default')?.line, 14, all);
  assert.equal(of('Infinity', 'default')?.subject, 'the concurrency option');
  assert.equal(of('1', 'minimum')?.line, 15, all);
  // attribute lines alone (no description) still give the default
  assert.equal(of('true', 'default')?.subject, 'the autoStart option', all);
  // its type; a constant default with what it is, one value
  assert.ok(of('number', 'type')?.questions.includes('What type is concurrency?'), all);
  assert.equal(of('zlib.constants.Z_DEFAULT_CHUNK, or 16384', 'default')?.subject, 'the chunkSize option', all);
  // a call's own term is its argument; a dotted name a property; a term under "Events" an event
  assert.equal(of('fn', 'name')?.subject, 'the fn argument', all);
  assert.ok(of('.isPaused', 'name')?.questions.includes('Which property sets whether the queue is paused?'), all);
  assert.ok(of('drained', 'name')?.questions.includes('Which event is emitted when the last waiting job starts?'), all);
  // a method described by the promise it returns is asked for by when that settles
  assert.ok(of('onDrained()', 'name')?.questions.includes('Which method resolves when no jobs are waiting?'), all);
  // a title is no term, even one shaped like code ("CommonJS")
  assert.ok(!facts.some((f) => /^(?:Usage|Events|CommonJS)$/.test(f.value) || /Usage|CommonJS/.test(f.subject)), all);
});

test('a default written before the description ("`stdTTL`: *(default: `0`)* the standard ttl …") leaves the description whole', () => {
  const doc = '# Options\n\n- `stdTTL`: *(default: `0`)* the standard ttl in seconds for every cache element.\n';
  const { facts } = proseFacts('N.md', doc);
  const all = JSON.stringify(facts.map((f) => [f.subject, f.attribute, f.value, f.questions]));
  assert.ok(facts.find((f) => f.attribute === 'name' && f.value === 'stdTTL')?.questions.includes('Which option sets the standard ttl in seconds for every cache element?'), all);
  assert.ok(facts.find((f) => f.attribute === 'default' && f.value === '0')?.questions.includes('What is the standard ttl in seconds for every cache element by default?'), all);
});

test('heading terms: code or a table between attributes and description stays out, a call in backticks keeps its arguments, titles and versions are no terms', () => {
  const facts = (doc: string) => proseFacts('R.md', doc).facts;
  const show = (fs: ReturnType<typeof facts>) => JSON.stringify(fs.map((f) => [f.subject, f.attribute, f.value]));
  // code between the attribute lines and the description is no part of the term
  const fenced = facts(['## Options', '', '### retries', '', 'Type: `number`', '', '```js', 'const x = {max: 100, default: 7};', '```', '', 'The number of tries.'].join('\n'));
  assert.ok(!fenced.some((f) => f.value === '7' || f.value === '100'), show(fenced));
  // the description in the same paragraph as the attribute lines
  const same = facts(['## Options', '', '### width', '', 'Type: `number`\\', 'Default: `4`\\', 'The maximum number of columns.'].join('\n'));
  assert.ok(same.find((f) => f.attribute === 'name')?.questions.includes('Which option sets the maximum number of columns?'), show(same));
  // bold labels ("**Type**: …") are read, a "Description:" label is no words of the description
  const bold = facts(['## Options', '', '### depth', '', '**Type**: `number`', '', '**Default**: `3`', '', '**Description**: The deepest level walked.'].join('\n'));
  assert.equal(bold.find((f) => f.attribute === 'default')?.value, '3', show(bold));
  assert.equal(bold.find((f) => f.attribute === 'type')?.value, 'number', show(bold));
  assert.ok(bold.find((f) => f.attribute === 'name')?.questions.includes('Which option sets the deepest level walked?'), show(bold));
  // a default before the description and a bound after it: the description is what is between
  const both = facts('# Options\n\n- `keep`: (default: `10`) the maximum number of items kept, minimum is `1`.\n');
  assert.ok(both.find((f) => f.attribute === 'name')?.questions.includes('Which option sets the maximum number of items kept?'), show(both));
  // "`false`, or `true` when …" is a condition's value, not the default's other name
  const cond = facts('# Options\n\n- `strict`: Whether to fail on warnings. Default: `false`, or `true` when NODE_ENV is production.\n');
  assert.equal(cond.find((f) => f.attribute === 'default')?.value, 'false', show(cond));
  // a call written in a code span keeps its arguments' kind
  const call = facts(['### `.add(fn, options?)`', '', 'Adds a job.', '', '#### fn', '', 'The function of the job.'].join('\n'));
  assert.equal(call.find((f) => f.value === 'fn')?.subject, 'the fn argument', show(call));
  // titles, versions, product names and a heading that only mentions a kind are no terms
  const titles = facts(['# command-exists', '', '## install', '', 'Run npm install to get it.', '', '## v2.1.0', '', 'Fixed the 3 bugs in parsing.', '', '## Node.js', '', 'Needs version 18 at least.', '', '## TypeScript', '', 'Types ship with version 4.'].join('\n'));
  assert.ok(!titles.some((f) => /install|v2\.1\.0|Node\.js|TypeScript/.test(f.subject) && f.attribute === 'name'), show(titles));
  assert.ok(!titles.some((f) => /the install command/.test(f.subject)), show(titles));
});
