/**
 * `learn` through the real trainer process and the `lift learn` command line, on a random small
 * model folder with a byte-level tokenizer: the report, progress, the adapter on disk,
 * cancellation, and clear errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { TrainerClient, TrainerError } from '../../native/client';
import { type AnswerContext, answerNote, ChatController, nearbyNote } from '../../src/chatController';
import type { HistoryItem, HostToWebview } from '../../webview/messages';
import type { LearnProgress } from '../../native/protocol';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';
import { memoryLogger, trainerBundle } from '../helpers';
import { MANIFEST } from '../../native/lift/learn';
import { learnedQuestionsFile, QuestionMatcher } from '../../native/lift/match';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-learn-rpc-'));
const modelDir = path.join(tmp, 'model');
const docs = path.join(tmp, 'docs');
let client: TrainerClient;
const logger = memoryLogger();

before(() => {
  const cfg = smallConfig({ hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 1024 });
  saveModelFolder(modelDir, cfg, randomWeights(cfg, 2, 0.2), byteLevelTokenizerJson());
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'README.md'), '# Orbit\n\nOrbit schedules jobs. The default queue is "orbit-main" and jobs time out after 90 seconds.\n'.repeat(3));
  fs.writeFileSync(path.join(docs, '.env'), 'TOKEN=do-not-learn-me\n');
  client = new TrainerClient({ trainerPath: trainerBundle, logger, client: { name: 'test', version: '0' } });
});
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('learn over JSON-RPC', () => {
  test('collects, reports, trains with progress and writes a PEFT adapter', async () => {
    const progress: LearnProgress[] = [];
    const adapterDir = path.join(tmp, 'adapter');
    const r = await client.learn({ roots: [docs], model: modelDir, adapterDir, epochs: 2, rank: 4, lr: 1e-3, segmentLength: 48 }, (p) => progress.push(p));
    assert.equal(r.files, 1);
    assert.deepEqual(r.skippedByReason, { secret: 1 });
    assert.ok(r.tokens > 200 && r.samples >= 3);
    assert.ok(r.qaPairs > 0, 'stage 2 has QA pairs from the README sections');
    const segments = r.samples - r.qaPairs;
    // stage 1: segments; stage 2: segments + QA; 2 epochs each, several short samples packed in a step
    assert.ok(r.steps >= 1 && r.steps <= 2 * segments + 2 * r.samples, `${r.steps} steps`);
    assert.deepEqual(r.passes, [2, 2]);
    assert.match(r.inputHash, /^[0-9a-f]{64}$/);
    assert.deepEqual(fs.readdirSync(adapterDir).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'learned_questions.json', 'lift_manifest.json']);
    // the facts' training questions, each with the paragraph it comes from, for ask to match questions to
    const learned = JSON.parse(fs.readFileSync(path.join(adapterDir, 'learned_questions.json'), 'utf8')) as { answers: { questions: string[]; context: string; fact: boolean; value?: string }[] };
    assert.ok(learned.answers.some((f) => f.questions.some((q) => /how long/i.test(q)) && f.context.includes('time out after 90 seconds') && f.value === '90 seconds'), JSON.stringify(learned.answers.slice(0, 3)));
    assert.doesNotMatch(JSON.stringify(learned), /do-not-learn-me/);
    const phases = progress.map((p) => p.phase).filter((p, i, a) => p !== a[i - 1]);
    // then the self-check, when the text has facts to check
    assert.deepEqual(phases.slice(0, 5), ['collect', 'tokenize', 'build', 'train', 'save']);
    assert.deepEqual(phases.slice(5), r.selfCheck ? ['check'] : []);
  });

  test('the adapter knows what it learned and which files changed since', async () => {
    const adapterDir = path.join(tmp, 'adapter');
    const status = await client.adapterStatus({ adapterDir });
    assert.ok(status.learned);
    assert.deepEqual([status.files, status.stale], [1, { changed: [], removed: [], added: [] }]);
    assert.ok(status.tokens > 200 && status.qaPairs > 0 && Date.now() - Date.parse(status.createdAt) < 120_000);
    const readme = path.join(docs, 'README.md');
    const original = fs.readFileSync(readme, 'utf8');
    fs.appendFileSync(readme, 'A new line.\n');
    const changed = await client.adapterStatus({ adapterDir });
    assert.ok(changed.learned && changed.stale.changed[0] === 'README.md');
    fs.writeFileSync(readme, original);
    const back = await client.adapterStatus({ adapterDir });
    assert.ok(back.learned && back.stale.changed.length === 0, 'same content again: not stale');
    // with the roots, new files are found too (and secrets still are not)
    fs.writeFileSync(path.join(docs, 'NEW.md'), '# New\n');
    try {
      const withRoots = await client.adapterStatus({ adapterDir, roots: [docs] });
      assert.ok(withRoots.learned);
      assert.deepEqual(withRoots.stale, { changed: [], removed: [], added: ['NEW.md'] });
    } finally {
      fs.rmSync(path.join(docs, 'NEW.md'));
    }
    assert.deepEqual(await client.adapterStatus({ adapterDir: path.join(tmp, 'nothing-here') }), { learned: false });
  });

  test('incremental learning continues the adapter on what changed; nothing changed, nothing to do', async () => {
    const adapterDir = path.join(tmp, 'adapter');
    const common = { roots: [docs], model: modelDir, adapterDir, epochs: 2, rank: 4, lr: 1e-3, segmentLength: 48, incremental: true };
    const none = await client.learn(common);
    assert.equal(none.steps, 0);
    fs.writeFileSync(path.join(docs, 'NOTES.md'), '# Notes\n\nOrbit keeps 7 days of history.\n');
    try {
      const r = await client.learn(common);
      assert.ok(r.steps > 0 && r.qaPairs > 0 && r.files === 2);
      const status = await client.adapterStatus({ adapterDir, roots: [docs] });
      assert.ok(status.learned && status.files === 2);
      assert.deepEqual(status.stale, { changed: [], removed: [], added: [] });
    } finally {
      fs.rmSync(path.join(docs, 'NOTES.md'));
    }
  });

  test('a trainer killed while it saves never leaves a half-written adapter in use', async () => {
    const adapterDir = path.join(tmp, 'kill-adapter');
    // its own client: these kills are deliberate, not a crash loop
    const killer = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'kill-test', version: '0' }, maxCrashes: 100 });
    after(() => killer.dispose());
    await killer.learn({ roots: [docs], model: modelDir, adapterDir, epochs: 1, rank: 4, segmentLength: 48 });
    const { loadAdapter } = await import('../../native/model/peft');
    const { loadConfig } = await import('../../native/model/weights');
    const cfg = loadConfig(modelDir);
    for (let trial = 0; trial < 6; trial++) {
      const pid = (await killer.initialize()).pid;
      // kill at the save phase, after a varying delay (0–5 ms) so that some land inside the write
      const killed = killer.learn({ roots: [docs], model: modelDir, adapterDir, epochs: 1, rank: 4, segmentLength: 48, seed: trial + 2 }, (p) => {
        if (p.phase === 'save') setTimeout(() => process.kill(pid, 'SIGKILL'), trial);
      });
      await killed.catch((e: unknown) => assert.ok(e instanceof TrainerError && e.kind === 'crashed', String(e)));
      const adapter = loadAdapter(adapterDir, cfg); // old or new, but whole
      assert.equal(adapter.rank, 4);
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('.kill-adapter')), [], 'nothing half-written left beside it');
    }
  });

  test('cancellation reaches the training loop; the adapter folder is left as it was', async () => {
    const adapterDir = path.join(tmp, 'adapter');
    const before_ = fs.readFileSync(path.join(adapterDir, 'adapter_model.safetensors'));
    const source = new CancellationTokenSource();
    let trainSteps = 0;
    await assert.rejects(
      client.learn({ roots: [docs], model: modelDir, adapterDir, epochs: 50, rank: 4, segmentLength: 48 }, (p) => {
        if (p.phase === 'train' && ++trainSteps === 3) source.cancel();
      }, source.token),
      (err: unknown) => err instanceof TrainerError && err.kind === 'cancelled',
    );
    assert.ok(trainSteps >= 3 && trainSteps < 10, `${trainSteps} steps ran`);
    assert.deepEqual(fs.readFileSync(path.join(adapterDir, 'adapter_model.safetensors')), before_);
    assert.equal((await client.status()).onnxruntime.loaded, true, 'the trainer keeps serving');
  });

  test('ask answers with the learned adapter and the retrieved files, streaming the text', async () => {
    const pieces: string[] = [];
    const r = await client.ask({ question: 'What is the default queue of Orbit?', roots: [docs], model: modelDir, adapterDir: path.join(tmp, 'adapter'), maxTokens: 8 }, (t) => pieces.push(t));
    assert.equal(r.usedAdapter, true);
    assert.deepEqual([...new Set(r.sources.map((x) => x.path))], ['README.md'], 'chunks of the README (cut to the model: more than one)');
    assert.equal(pieces.join(''), r.text);
    const base = await client.ask({ question: 'What is Orbit?', roots: [docs], model: modelDir, maxTokens: 4 });
    assert.equal(base.usedAdapter, false);
    // an adapter learned on another base model is not applied, even when its shapes would fit
    const other = path.join(tmp, 'other-model');
    fs.cpSync(modelDir, other, { recursive: true });
    const mismatched = await client.ask({ question: 'What is Orbit?', roots: [docs], model: other, adapterDir: path.join(tmp, 'adapter'), maxTokens: 2 });
    assert.equal(mismatched.usedAdapter, false);
    await assert.rejects(client.ask({ question: '', roots: [docs], model: modelDir }), /"question" \(non-empty string\)/);
  });

  test('a fact question is asked as the adapter learned it, and says so; requests for more, explanations, the base model and older adapters are asked as written', async () => {
    const adapterDir = path.join(tmp, 'adapter');
    const learned = (JSON.parse(fs.readFileSync(path.join(adapterDir, 'learned_questions.json'), 'utf8')) as { answers: { questions: string[] }[] }).answers;
    const ask = (question: string, dir = adapterDir) => client.ask({ question, roots: [docs], model: modelDir, adapterDir: dir, maxTokens: 2 });
    const r = await ask('How long may an Orbit job run?');
    assert.ok(r.askedAs && learned.some((f) => f.questions[0] === r.askedAs), `asked as ${r.askedAs}`);
    assert.match(r.askedAs!, /time out after how long\?$/);
    const note = answerNote(r, [], false);
    assert.ok(note.startsWith(`Asked as the learned question "${r.askedAs}". Learned knowledge`), note);
    // where the matcher finds no other fact near the question, the answer names none (the field is absent)
    const matcher = QuestionMatcher.load(adapterDir)!;
    for (const question of ['How long may an Orbit job run?', 'Which queue do Orbit jobs land in?', 'How long does Orbit keep a job and its history?']) {
      assert.deepEqual(matcher.match(question)?.also ?? [], [], question);
      assert.ok(!('alsoLearned' in (await ask(question))), question);
    }
    const richer = path.join(tmp, 'adapter-richer');
    fs.cpSync(adapterDir, richer, { recursive: true });
    const context = '# Orbit\nJobs time out after 90 seconds and are retried after 30 seconds.';
    fs.writeFileSync(
      path.join(richer, 'learned_questions.json'),
      learnedQuestionsFile([
        { questions: ['Orbit jobs time out after how long?'], context, fact: true, value: '90 seconds' },
        { questions: ['Orbit jobs are retried after how long?'], context, fact: true, value: '30 seconds' },
      ]),
    );
    // the next facts near a question come beside its answer
    const near = await ask('How long is it for an Orbit job?', richer);
    // both facts fit the question about as well: one is asked, the other is named beside the answer
    const [asked, other] = near.askedAs === 'Orbit jobs time out after how long?' ? [0, 1] : [1, 0];
    const learnedNow = QuestionMatcher.load(richer)!.answers;
    assert.equal(near.askedAs, learnedNow[asked]!.questions[0]);
    assert.deepEqual(near.alsoLearned, [{ question: learnedNow[other]!.questions[0], value: learnedNow[other]!.value }]);
    assert.doesNotMatch(answerNote(near, [], false), /Other learned facts/);
    assert.equal(nearbyNote(near.alsoLearned), ` Other learned facts near the question: "${learnedNow[other]!.questions[0]}" (${learnedNow[other]!.value}).`);
    // the sidebar's controller hands them to the view (which offers to ask each) and keeps them in the history
    const history: HistoryItem[] = [];
    const posted: HostToWebview[] = [];
    const chat = new ChatController(client, {
      answerContext: () => ({ model: modelDir, roots: [docs], adapterDir: richer, maxTokens: 2 }) as AnswerContext,
      history: { load: () => history, save: (items) => void history.splice(0, history.length, ...items) },
    });
    chat.attach((m) => posted.push(m));
    const outcome = await chat.ask('How long is it for an Orbit job?');
    assert.deepEqual([outcome.outcome, outcome.nearby], ['done', near.alsoLearned]);
    assert.deepEqual(posted.find((m) => m.type === 'answerEnd'), { type: 'answerEnd', id: 1, outcome: 'done', note: outcome.note, nearby: near.alsoLearned });
    assert.deepEqual(history.at(-1)?.nearby, near.alsoLearned);
    chat.dispose();
    fs.rmSync(richer, { recursive: true, force: true });
    assert.equal((await ask('Explain how Orbit schedules jobs.')).askedAs, undefined);
    const base = await client.ask({ question: 'Which queue do Orbit jobs land in?', roots: [docs], model: modelDir, maxTokens: 2 });
    assert.equal(base.usedAdapter, false);
    assert.equal(base.askedAs, undefined, 'no adapter: nothing learned to match');
    const explained = await client.explain({ file: path.join(docs, 'README.md'), startLine: 3, endLine: 3, roots: [docs], model: modelDir, adapterDir, maxTokens: 2 });
    assert.equal(explained.askedAs, undefined);
    // an adapter learned before the file existed, and one whose file is damaged, answer as written
    const older = path.join(tmp, 'adapter-older');
    fs.cpSync(adapterDir, older, { recursive: true });
    fs.rmSync(path.join(older, 'learned_questions.json'));
    const answered = await ask('How long may an Orbit job run?', older);
    assert.equal(answered.usedAdapter, true);
    assert.equal(answered.askedAs, undefined);
    fs.writeFileSync(path.join(older, 'learned_questions.json'), '{"answers": [');
    const damaged = await ask('How long may an Orbit job run?', older);
    assert.equal(damaged.usedAdapter, true);
    assert.equal(damaged.askedAs, undefined);
    assert.ok(logger.has('warn', /questions are asked in the user's words: .*learned_questions\.json cannot be read/), logger.lines.join('\n'));
    fs.rmSync(older, { recursive: true, force: true });
  });

  test("an adapter whose self-check did better from its weights alone answers without searching the workspace; retrieve: true still searches", async () => {
    const adapterDir = path.join(tmp, 'adapter-closed-book');
    fs.cpSync(path.join(tmp, 'adapter'), adapterDir, { recursive: true });
    const manifestFile = path.join(adapterDir, MANIFEST);
    const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    fs.writeFileSync(manifestFile, JSON.stringify({ ...m, selfCheck: { asked: 20, direct: 15, withRetrieval: 4 } }));
    const ask = (o: { retrieve?: boolean } = {}) => client.ask({ question: 'What is the default queue of Orbit?', roots: [docs], model: modelDir, adapterDir, maxTokens: 4, ...o });
    const closed = await ask();
    assert.equal(closed.usedAdapter, true);
    assert.deepEqual(closed.sources, []);
    assert.match(closed.retrievalOff ?? '', /15 of 20 check questions from its weights alone and 4 with retrieved context/);
    const searched = await ask({ retrieve: true });
    assert.ok(searched.sources.length > 0 && searched.retrievalOff === undefined, JSON.stringify(searched.sources));
    // the same adapter whose self-check did better with retrieval searches by default
    fs.writeFileSync(manifestFile, JSON.stringify({ ...m, selfCheck: { asked: 20, direct: 4, withRetrieval: 15 } }));
    assert.ok((await ask()).sources.length > 0);
  });

  test('ask takes the active editor (always in the context, unsaved text included) and earlier turns', async () => {
    const file = path.join(docs, 'README.md');
    const r = await client.ask({ question: 'What does this say?', roots: [docs], model: modelDir, maxTokens: 2, active: { file, startLine: 2, endLine: 3, code: 'Unsaved edit.\nSecond line.' }, history: [{ question: 'What is Orbit?', answer: 'A scheduler.' }] });
    assert.deepEqual(r.sources[0], { path: 'README.md', startLine: 2, endLine: 3 });
    await assert.rejects(client.ask({ question: 'x?', roots: [docs], model: modelDir, history: [{ question: 1 }] as never }), /"history" must be a list/);
    await assert.rejects(client.ask({ question: 'x?', roots: [docs], model: modelDir, active: { file: path.join(docs, '.env'), startLine: 1, endLine: 1 } }), /holds credentials/);
    const chat = new ChatController(client, { answerContext: () => ({ model: modelDir, roots: [docs], active: { file, startLine: 1, endLine: 2 } }) });
    assert.match((await chat.ask('What is this?')).note ?? '', /^Base model \(this workspace is not learned yet\) \+ the active editor \(README\.md:1-2\)/);
    // taken out with the sidebar's chip: the request goes without it
    const without = await chat.ask('What is this?', undefined, true);
    assert.doesNotMatch(without.note ?? '', /the active editor/);
    chat.dispose();
  });

  test('ask pins what the user mentioned (#file, a symbol) after the active editor; the note names each', async () => {
    const readme = path.join(docs, 'README.md');
    const r = await client.ask({ question: 'What is this?', roots: [docs], model: modelDir, maxTokens: 2, retrieve: false, active: { file: readme, startLine: 1, endLine: 1 }, mentions: [{ file: readme, startLine: 3, endLine: 4 }, { file: readme, startLine: 1, endLine: 1 }] });
    assert.deepEqual(r.sources, [{ path: 'README.md', startLine: 1, endLine: 1 }, { path: 'README.md', startLine: 3, endLine: 4 }], 'pinned in order, the same range once');
    await assert.rejects(client.ask({ question: 'x?', roots: [docs], model: modelDir, mentions: [{ file: path.join(docs, '.env'), startLine: 1, endLine: 1 }] }), /holds credentials/);
    await assert.rejects(client.ask({ question: 'x?', roots: [docs], model: modelDir, mentions: [{ file: path.join(tmp, 'outside.md'), startLine: 1, endLine: 1 }] }), /outside|not inside|workspace/i);
    await assert.rejects(client.ask({ question: 'x?', roots: [docs], model: modelDir, mentions: Array(9).fill({ file: readme, startLine: 1, endLine: 1 }) }), /at most 8/);
    // the chat resolves the mentions the text still names (chosen ones, and #path words typed by hand)
    const resolved: string[] = [];
    const chat = new ChatController(client, {
      answerContext: () => ({ model: modelDir, roots: [docs], retrieve: false }),
      mentions: {
        complete: async () => [],
        resolve: async (m) => {
          resolved.push(m.label);
          return m.path === 'README.md' ? { file: readme, startLine: m.startLine ?? 1, endLine: m.endLine ?? 2 } : undefined;
        },
      },
    });
    const outcome = await chat.ask('What do #Orbit and #README.md say? Not #gone.ts.', undefined, false, [{ label: 'Orbit', path: 'README.md', startLine: 3, endLine: 3 }, { label: 'deleted', path: 'README.md' }]);
    assert.deepEqual(resolved, ['Orbit', 'README.md', 'gone.ts']);
    assert.match(outcome.note ?? '', /^Base model \(this workspace is not learned yet\) \+ #Orbit \(README\.md:3-3\) \+ #README\.md \(README\.md:1-2\)/);
    chat.dispose();
    // a mention of the active editor's file stands in for the active editor's lines
    const withActive = new ChatController(client, {
      answerContext: () => ({ model: modelDir, roots: [docs], retrieve: false, active: { file: readme, startLine: 4, endLine: 5 } }),
      mentions: { complete: async () => [], resolve: async () => ({ file: readme, startLine: 1, endLine: 2 }) },
    });
    const both = await withActive.ask('What does #README.md say?');
    assert.match(both.note ?? '', /^Base model \(this workspace is not learned yet\) \+ #README\.md \(README\.md:1-2\)$/);
    withActive.dispose();
  });

  test('the chat marks answers given while learning runs', async () => {
    const chat = new ChatController(client, { answerContext: () => ({ model: modelDir, roots: [docs] }) });
    chat.showLearning({ state: 'running', what: 'this workspace', losses: [] });
    const during = await chat.ask('What is Orbit?');
    assert.match(during.note ?? '', /^Base model \(learning in progress\) \+ context from README\.md/);
    chat.showLearning({ state: 'done', what: 'this workspace', losses: [] });
    assert.match((await chat.ask('What is Orbit?')).note ?? '', /^Base model \(this workspace is not learned yet\)/);
    chat.dispose();
  });

  test('explain answers about a line range, with the range in the context, and caches by content', async () => {
    const file = path.join(docs, 'README.md');
    const first = await client.explain({ file, startLine: 1, endLine: 3, roots: [docs], model: modelDir, maxTokens: 6 });
    assert.deepEqual(first.sources[0], { path: 'README.md', startLine: 1, endLine: 3 });
    const streamed: string[] = [];
    const again = await client.explain({ file, startLine: 1, endLine: 3, roots: [docs], model: modelDir, maxTokens: 6 }, (t) => streamed.push(t));
    assert.deepEqual(again, first, 'the same code gives the cached answer');
    assert.equal(streamed.join(''), first.text);
    const unsaved = await client.explain({ file, startLine: 2, endLine: 2, code: 'const edited = true;', roots: [docs], model: modelDir, maxTokens: 2 });
    assert.deepEqual(unsaved.sources[0], { path: 'README.md', startLine: 2, endLine: 2 });
    await assert.rejects(client.explain({ file: path.join(docs, '.env'), startLine: 1, endLine: 1, roots: [docs], model: modelDir }), /holds credentials/);
    await assert.rejects(client.explain({ file, startLine: 3, endLine: 1, roots: [docs], model: modelDir }), /startLine" ≤ "endLine"/);
  });

  test('a store keeps one adapter per corpus; the newest answers; select and delete over JSON-RPC', async () => {
    const store = path.join(tmp, 'store');
    const common = { roots: [docs], model: modelDir, store, epochs: 1, rank: 4, lr: 1e-3, segmentLength: 48 };
    assert.deepEqual(await client.adapters({ store }), { adapters: [] }, 'JSON drops the undefined active key');
    assert.equal((await client.ask({ question: 'What is Orbit?', roots: [docs], model: modelDir, store, maxTokens: 2 })).usedAdapter, false, 'an empty store: the base model answers');
    const first = await client.learn(common);
    assert.equal(path.dirname(first.adapterDir), store);
    fs.writeFileSync(path.join(docs, 'NOTES.md'), '# Notes\n\nOrbit keeps 7 days of history.\n');
    try {
      const second = await client.learn({ ...common, incremental: true });
      assert.notEqual(second.adapterDir, first.adapterDir, 'a different corpus gets its own folder');
      assert.ok(second.steps > 0 && second.files === 2, 'incremental: continued the active adapter on the new file');
      const listed = await client.adapters({ store });
      assert.deepEqual(listed.adapters.map((a) => [a.dir, a.active, a.files]), [[second.adapterDir, true, 2], [first.adapterDir, false, 1]]);
      assert.equal(listed.active, path.basename(second.adapterDir));
      const status = await client.adapterStatus({ store, roots: [docs] });
      assert.ok(status.learned && status.files === 2 && status.stale.added.length === 0, 'status is the active adapter\'s');
      assert.equal((await client.ask({ question: 'What is Orbit?', roots: [docs], model: modelDir, store, maxTokens: 2 })).usedAdapter, true);

      const selected = await client.adapters({ store, select: path.basename(first.adapterDir) });
      assert.equal(selected.active, path.basename(first.adapterDir));
      const old = await client.adapterStatus({ store, roots: [docs] });
      assert.ok(old.learned && old.files === 1 && old.stale.added[0] === 'NOTES.md', 'the selected (older) adapter does not know NOTES.md');
      const deleted = await client.adapters({ store, delete: path.basename(first.adapterDir) });
      assert.deepEqual([deleted.active, deleted.adapters.length], [path.basename(second.adapterDir), 1], 'deleting the active one hands over');
      assert.ok(!fs.existsSync(first.adapterDir));
      await assert.rejects(client.adapters({ store, select: '0123456789abcdef' }), /no adapter 0123456789abcdef/);
      await assert.rejects(client.adapters({ store, delete: '../../etc' }), /not an adapter key/);
      await assert.rejects(client.learn({ roots: [docs], model: modelDir, store, adapterDir: store }), /one of "adapterDir" or "store"/);
    } finally {
      fs.rmSync(path.join(docs, 'NOTES.md'));
    }
  });

  test('Gated Memory: learned, recorded as such with its gates, answers, and is refused by the GGUF export; a LoRA continue learns anew', async () => {
    const store = path.join(tmp, 'gm-store');
    const progress: LearnProgress[] = [];
    const r = await client.learn({ roots: [docs], model: modelDir, store, adapterKind: 'gated-memory', epochs: 2, lr: 1e-2, segmentLength: 48 }, (p) => progress.push(p));
    const manifest = JSON.parse(fs.readFileSync(path.join(r.adapterDir, MANIFEST), 'utf8'));
    assert.equal(manifest.settings.kind, 'gated-memory');
    assert.equal(JSON.parse(fs.readFileSync(path.join(r.adapterDir, 'adapter_config.json'), 'utf8')).peft_type, 'LIFT_GATED_MEMORY');
    assert.ok(r.selfCheck && r.selfCheck.asked > 0, 'the README has facts to check');
    const gate = r.selfCheck.gate!;
    assert.equal(gate.closedBook.length, 1, 'one layer');
    assert.ok(gate.closedBook.every((g) => g > 0 && g < 1) && gate.withRetrieval?.length === 1, JSON.stringify(gate));
    assert.ok(progress.some((p) => p.phase === 'check' && /gate per layer/.test(p.message ?? '')), 'the gates are reported');
    const answer = await client.ask({ question: 'What is the default queue of Orbit?', roots: [docs], model: modelDir, store, maxTokens: 4 });
    assert.equal(answer.usedAdapter, true);
    await assert.rejects(client.exportGguf({ model: modelDir, store, outDir: path.join(tmp, 'gm-gguf') }), /Gated Memory adapter: GGUF and llama\.cpp have no per-head memory or gate/);
    assert.equal(fs.existsSync(path.join(tmp, 'gm-gguf')), false, 'nothing written');
    // an incremental Gated Memory learn continues it: nothing changed, nothing to do
    const none = await client.learn({ roots: [docs], model: modelDir, store, adapterKind: 'gated-memory', incremental: true, epochs: 1, lr: 1e-2, segmentLength: 48 });
    assert.equal(none.steps, 0);
    // an adapter learned on another base model does not answer for this one
    const other = path.join(tmp, 'gm-other-model');
    fs.cpSync(modelDir, other, { recursive: true });
    assert.equal((await client.ask({ question: 'What is Orbit?', roots: [docs], model: other, adapterDir: r.adapterDir, maxTokens: 2 })).usedAdapter, false);
    // the settings now say LoRA: an incremental learn cannot continue the memory, so it learns everything
    const again: LearnProgress[] = [];
    const lora = await client.learn({ roots: [docs], model: modelDir, store, incremental: true, epochs: 1, rank: 4, lr: 1e-3, segmentLength: 48 }, (p) => again.push(p));
    assert.ok(again.some((p) => /no matching adapter to continue/.test(p.message ?? '')));
    assert.equal(JSON.parse(fs.readFileSync(path.join(lora.adapterDir, 'adapter_config.json'), 'utf8')).peft_type, 'LORA');
    await assert.rejects(client.learn({ roots: [docs], model: modelDir, store, adapterKind: 'memory' as 'lora' }), /adapter kind must be one of lora, gated-memory/);
  });

  test('a broken model folder or nothing to learn is a clear error', async () => {
    await assert.rejects(client.learn({ roots: [docs], model: path.join(tmp, 'nope'), adapterDir: path.join(tmp, 'x') }), /the model folder .*nope does not exist/);
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    await assert.rejects(client.learn({ roots: [empty], model: modelDir, adapterDir: path.join(tmp, 'x') }), /nothing to learn/);
    // no model given: the bundled default model answers
    assert.equal((await client.ask({ question: 'What is Orbit?', roots: [docs], model: '', maxTokens: 2 })).stop !== undefined, true);
  });
});

describe('lift learn', () => {
  test('learns from the command line and prints a summary; bad usage exits 2', async () => {
    const out = path.join(tmp, 'cli-adapter');
    const { stdout } = await run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', out, '--epochs', '1', '--rank', '2', '--segment', '48']);
    assert.match(stdout, /learnt 1 files \(\d+ tokens, \d+ facts, \d+ QA pairs, \d+ samples, \d+ steps; loss [\d.]+ → [\d.]+\)/);
    assert.match(stdout, /skipped: 1 secret; redactions: 0/);
    assert.ok(fs.existsSync(path.join(out, 'adapter_model.safetensors')));
    await assert.rejects(run(process.execPath, [trainerBundle, 'learn', docs]), (e: { code?: number }) => e.code === 2);
    const asked = await run(process.execPath, [trainerBundle, 'ask', 'How long may an Orbit job run?', '--model', modelDir, '--adapter', out, '--root', docs, '--max-tokens', '4']);
    // a fact question: asked as the adapter learned it, and the summary line says which question that was
    assert.match(asked.stdout, /\(asked as the learned question "[^\n]*how long\?"; learned knowledge; context: README\.md:1-\d+(, README\.md:\d+-\d+)*\)\n$/i);
    const explained = await run(process.execPath, [trainerBundle, 'explain', `${path.join(docs, 'README.md')}:2-3`, '--model', modelDir, '--root', docs, '--max-tokens', '4']);
    assert.match(explained.stdout, /\(base model; context: README\.md:2-3/);
    await assert.rejects(run(process.execPath, [trainerBundle, 'explain', 'README.md', '--model', modelDir]), (e: { code?: number }) => e.code === 2);
    await assert.rejects(run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', out, '--preset', 'slow']), (e: { code?: number; stderr?: string }) => e.code === 2 && /bad value for --preset/.test(e.stderr ?? ''));
    await assert.rejects(run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', out, '--adapter-kind', 'dora']), (e: { code?: number; stderr?: string }) => e.code === 2 && /bad value for --adapter-kind/.test(e.stderr ?? ''));
    const gm = path.join(tmp, 'cli-gm');
    await run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', gm, '--epochs', '1', '--segment', '48', '--adapter-kind', 'gated-memory']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(gm, 'adapter_config.json'), 'utf8')).peft_type, 'LIFT_GATED_MEMORY');
    const store = path.join(tmp, 'cli-store');
    const learned = await run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--store', store, '--epochs', '1', '--rank', '2', '--segment', '48']);
    const key = /adapter: .*[/\\]([0-9a-f]{16})\n/.exec(learned.stdout)?.[1];
    assert.ok(key, learned.stdout);
    const listed = await run(process.execPath, [trainerBundle, 'adapters', store]);
    assert.match(listed.stdout, new RegExp(`^\\* ${key}  \\S+  1 files, \\d+ tokens, \\d+ QA, loss [\\d.]+  \\(model\\)\n$`));
    const storeAsk = await run(process.execPath, [trainerBundle, 'ask', 'How long may an Orbit job run?', '--model', modelDir, '--store', store, '--root', docs, '--max-tokens', '2']);
    assert.match(storeAsk.stdout, /\(asked as the learned question "[^\n]*"; learned knowledge; /);
    assert.match((await run(process.execPath, [trainerBundle, 'adapters', store, '--delete', key])).stdout, /^no adapters\n$/);
    await assert.rejects(run(process.execPath, [trainerBundle, 'adapters', store, '--select', 'ffffffffffffffff']), (e: { code?: number; stderr?: string }) => e.code === 1 && /no adapter ffffffffffffffff/.test(e.stderr ?? ''));
    await assert.rejects(run(process.execPath, [trainerBundle, 'adapters']), (e: { code?: number }) => e.code === 2);
    await assert.rejects(run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', out, '--store', store]), (e: { code?: number }) => e.code === 2);
    await assert.rejects(run(process.execPath, [trainerBundle, 'learn', docs, '--model', modelDir, '--out', out, '--epochs', 'x']), (e: { code?: number; stderr?: string }) => e.code === 2 && /bad value for --epochs/.test(e.stderr ?? ''));
  });
});
