/** The extension inside a real VS Code, talking to the real trainer. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AdaptersResult, EnableGpuResult, ExportGgufResult, LearnResult } from '../../../native/protocol';
import { startFeed } from '../../gpuFeed';
import { startHub } from '../../hubServer';
import { byteLevelTokenizerJson } from '../../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../../native/model/init';
import { saveModelFolder } from '../../../native/model/weights';
import type { ChosenModel } from '../../../src/chooseModel';
import type { AskOutcome } from '../../../src/chatController';
import type { LiftApi } from '../../../src/extension';
import type { TrainerStatus } from '../../../native/protocol';

const EXTENSION_ID = 'lift-vscode.lift-vscode';

function within<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    Promise.resolve(promise),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)),
  ]);
}

async function until(predicate: () => boolean, ms: number, what: string, poll?: () => Promise<void>): Promise<void> {
  const start = Date.now();
  await poll?.();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, poll ? 500 : 100));
    await poll?.();
  }
}

describe('LIFT in VS Code', () => {
  let api: LiftApi;

  before(async () => {
    const ext = vscode.extensions.getExtension<LiftApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed in the extension host`);
    api = await ext.activate();
    assert.ok(ext.isActive);
  });

  it('is the extension the runner meant: the installed VSIX (--vsix) or this checkout', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const installed = process.env.LIFT_E2E_INSTALLED_IN;
    if (installed) {
      assert.ok(ext.extensionPath.startsWith(installed + path.sep), `${ext.extensionPath} is not under ${installed}`);
      assert.ok(!fs.existsSync(path.join(ext.extensionPath, 'src')), 'the installed extension ships no sources');
      assert.ok(fs.existsSync(path.join(ext.extensionPath, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node')), 'its own ONNX Runtime binding');
    } else assert.ok(fs.existsSync(path.join(ext.extensionPath, 'src', 'extension.ts')), `${ext.extensionPath} is not the checkout`);
  });

  it('registers every command it declares', async () => {
    const declared: string[] = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(declared.filter((c) => !all.has(c)), []);
    assert.ok(declared.length >= 6);
  });

  it('"LIFT: Show Trainer Log" reaches the real trainer, with ONNX Runtime working in it', async () => {
    const status = await within(vscode.commands.executeCommand<TrainerStatus | undefined>('lift.showTrainerLog'), 60_000, 'the trainer status');
    assert.ok(status, 'the trainer answered the status request');
    assert.equal(status.pid, api.trainer.pid);
    assert.notEqual(status.pid, process.pid, 'the trainer is its own process');
    assert.ok(status.onnxruntime.loaded, JSON.stringify(status.onnxruntime));
    assert.equal(status.onnxruntime.selfTest.ok, true);
    assert.ok(status.onnxruntime.providers.some((p) => p.name === 'cpu' && p.available));
  });

  it('the sidebar chat view resolves and its webview script starts', async () => {
    await vscode.commands.executeCommand('lift.chat.focus');
    await within(api.chatView.whenResolved, 30_000, 'the view to resolve');
    await within(api.chatView.whenReady, 30_000, 'the webview to post "ready"');
  });

  it('"LIFT: Ask About This Workspace" answers through the trainer', async () => {
    // no "lift.model": the bundled default model answers, before anything is learned
    const outcome = await within(vscode.commands.executeCommand<AskOutcome>('lift.ask', 'Where is main defined?'), 60_000, 'the answer');
    assert.equal(outcome.outcome, 'done', outcome.error);
    assert.match(outcome.note ?? '', /^Base model \(this workspace is not learned yet\) \+ context from src\/main\.ts:1-\d+/);
  });

  it('"LIFT: Learn This Workspace" learns with the bundled default model', async function () {
    // learning is fitted to a time budget of minutes, and the machine may be busy: this test's own limit
    this.timeout(360_000);
    const lift = vscode.workspace.getConfiguration('lift');
    assert.equal(lift.get('model'), '', 'no model set: the default model is used');
    assert.deepEqual([api.keys.get('lift.learned'), api.keys.get('lift.learning')], [false, false], 'context keys before learning');
    const result = await within(vscode.commands.executeCommand<LearnResult | undefined>('lift.learnWorkspace'), 300_000, 'learning');
    assert.ok(result, 'learning returned a result');
    assert.deepEqual([result.files, result.steps > 0], [2, true]);
    assert.ok(fs.existsSync(path.join(result.adapterDir, 'adapter_model.safetensors')));
    assert.ok(!result.adapterDir.startsWith(vscode.workspace.workspaceFolders![0]!.uri.fsPath), 'the adapter lives in VS Code storage, not in the workspace');
    // "Manage Adapters" (scripted: no quick pick) lists it as the active one
    const managed = await vscode.commands.executeCommand<AdaptersResult | undefined>('lift.manageAdapters', {});
    assert.deepEqual(managed?.adapters.map((a) => [a.dir, a.active]), [[result.adapterDir, true]]);
    // The status bar says what the adapter knows, and that it is stale once a learned file changes.
    await until(() => /LIFT learned just now/.test(api.status.text), 10_000, `"learned" in the status bar (it says ${api.status.text})`);
    assert.deepEqual([api.keys.get('lift.learned'), api.keys.get('lift.learning')], [true, false], 'context keys after learning');
    const mainUri = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, 'src/main.ts');
    const doc = await vscode.workspace.openTextDocument(mainUri);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(mainUri, new vscode.Position(0, 0), '// edited\n');
    await vscode.workspace.applyEdit(edit);
    await doc.save();
    await until(() => /LIFT stale: 1 file changed/.test(api.status.text), 10_000, `"stale" in the status bar (it says ${api.status.text})`);
    const undo = new vscode.WorkspaceEdit();
    undo.delete(mainUri, new vscode.Range(0, 0, 1, 0));
    await vscode.workspace.applyEdit(undo);
    await doc.save();
    await until(() => /LIFT learned/.test(api.status.text), 10_000, 'back to "learned" after the edit is undone');
    // a change made outside the editor (another tool, a git checkout) is noticed by the file watcher
    const readme = path.join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'README.md');
    const original = fs.readFileSync(readme, 'utf8');
    fs.writeFileSync(readme, `${original}Changed on disk.\n`);
    await until(() => /LIFT stale: 1 file changed/.test(api.status.text), 15_000, `"stale" after a change on disk (it says ${api.status.text})`);
    fs.writeFileSync(readme, original);
    await until(() => /LIFT learned/.test(api.status.text), 15_000, 'back to "learned" once the file is restored');
    // With a model set, the chat answers from it: learned knowledge plus the files it found.
    const answer = await within(vscode.commands.executeCommand<AskOutcome>('lift.ask', 'Where is main defined?'), 60_000, 'an answer from the model');
    assert.equal(answer.outcome, 'done', answer.error);
    assert.match(answer.note ?? '', /^Learned knowledge \+ context from src\/main\.ts:1-\d+/);
    // "Explain Selection" explains exactly the selected lines, as the editor has them.
    const folder = vscode.workspace.workspaceFolders![0]!.uri;
    const editor = await vscode.window.showTextDocument(vscode.Uri.joinPath(folder, 'src/main.ts'));
    editor.selection = new vscode.Selection(0, 0, 1, 5);
    const explained = await within(vscode.commands.executeCommand<AskOutcome>('lift.explainSelection'), 60_000, 'an explanation');
    assert.equal(explained.outcome, 'done', explained.error);
    assert.match(explained.note ?? '', /^Learned knowledge \+ context from src\/main\.ts:1-2\b/);
  });

  it('"LIFT: Cancel Learning" stops learning mid-way and keeps the previous adapter', async function () {
    this.timeout(240_000);
    const before = await vscode.commands.executeCommand<AdaptersResult | undefined>('lift.manageAdapters', {});
    const active = before?.adapters.find((a) => a.active);
    assert.ok(active, 'an adapter from the previous test');
    const weights = fs.readFileSync(path.join(active.dir, 'adapter_model.safetensors'));
    const learning = vscode.commands.executeCommand<LearnResult | undefined>('lift.learnWorkspace');
    await until(() => /\d+%/.test(api.status.text), 120_000, `training progress in the status bar (it says ${api.status.text})`);
    assert.ok(api.keys.get('lift.learning'), '"Cancel Learning" is offered while learning (lift.learning)');
    await vscode.commands.executeCommand('lift.cancelLearning');
    assert.equal(await within(learning, 30_000, 'learning to stop'), undefined, 'cancelled: no result');
    assert.deepEqual([api.keys.get('lift.learning'), api.keys.get('lift.learned')], [false, true], 'not learning; still learned');
    const after = await vscode.commands.executeCommand<AdaptersResult | undefined>('lift.manageAdapters', {});
    assert.deepEqual(after?.adapters.map((a) => [a.key, a.active]), before!.adapters.map((a) => [a.key, a.active]));
    assert.deepEqual(fs.readFileSync(path.join(active.dir, 'adapter_model.safetensors')), weights, 'the adapter is byte for byte the same');
  });

  it('"LIFT: Export for Ollama / llama.cpp…" writes the model, the active adapter and a Modelfile', async function () {
    this.timeout(120_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-e2e-export-'));
    try {
      const r = await within(vscode.commands.executeCommand<ExportGgufResult | undefined>('lift.exportGguf', { outDir: out, quant: 'q4_0' }), 90_000, 'the export');
      assert.ok(r, 'exported');
      assert.deepEqual(fs.readdirSync(out).sort(), ['Modelfile', 'adapter.gguf', 'model-q4_0.gguf']);
      assert.equal(fs.readFileSync(r.model).subarray(0, 4).toString('latin1'), 'GGUF');
      assert.match(fs.readFileSync(r.modelfile, 'utf8'), /^FROM \.\/model-q4_0\.gguf\nADAPTER \.\/adapter\.gguf$/m);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the walkthrough opens, and a question streaming sets lift.answering until it ends', async () => {
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#lift.gettingStarted`, false);
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab && /welcome|walkthrough/i.test(`${tab.label} ${(tab.input as { viewType?: string } | undefined)?.viewType ?? ''}`), `the walkthrough's editor is active (${tab?.label})`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    const seen: boolean[] = [];
    const asking = vscode.commands.executeCommand<AskOutcome>('lift.ask', 'What does main print?', { chunkDelayMs: 50 });
    await until(() => api.keys.get('lift.answering'), 30_000, 'lift.answering while the answer streams');
    seen.push(api.keys.get('lift.answering'));
    assert.equal((await within(asking, 60_000, 'the answer')).outcome, 'done');
    seen.push(api.keys.get('lift.answering'));
    assert.deepEqual(seen, [true, false]);
  });

  it('an "Explain" CodeLens above functions explains them; the hover shows it until the code changes', async () => {
    const uri = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, 'src/main.ts');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    let lenses: vscode.CodeLens[] = [];
    await until(() => lenses.length > 0, 60_000, 'the CodeLens (TypeScript symbols)', async () => {
      lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)).filter((l) => l.command?.command === 'lift.explainRange');
    });
    const lens = lenses[0]!;
    assert.deepEqual(lens.command!.arguments!.slice(1), [1, 3, 'main']);
    const outcome = await within(vscode.commands.executeCommand<AskOutcome>(lens.command!.command, ...lens.command!.arguments!), 60_000, 'the explanation');
    assert.equal(outcome.outcome, 'done', outcome.error);
    // it streamed into a comment thread under the code, by "LIFT"
    const thread = api.inline.threads.get(`${uri.toString()}#1`);
    assert.ok(thread, 'an inline thread for main');
    assert.equal(thread.range?.start.line, 2);
    const comment = thread.comments[0]!;
    assert.equal(comment.author.name, 'LIFT');
    assert.equal((comment.body as vscode.MarkdownString).value, outcome.text);
    const hoverText = async (): Promise<string> =>
      (await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(1, 4))).flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(await hoverText(), /LIFT: main/);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, new vscode.Position(1, 0), '  // changed\n');
    await vscode.workspace.applyEdit(edit);
    assert.doesNotMatch(await hoverText(), /LIFT: main/, 'changed code: the explanation no longer applies');
    await vscode.commands.executeCommand('undo');
    await doc.save();
  });

  it('@lift: registered where the chat API exists; its handler answers with references, /explain takes a #file mention, /status reports', async () => {
    const hasChat = typeof (vscode as unknown as { chat?: { createChatParticipant?: unknown } }).chat?.createChatParticipant === 'function';
    assert.equal(api.participant.registered, hasChat, 'registered exactly where VS Code has the chat API');
    const parts: [string, unknown][] = [];
    const stream = {
      markdown: (v: string | vscode.MarkdownString) => parts.push(['markdown', typeof v === 'string' ? v : v.value]),
      progress: (v: string) => parts.push(['progress', v]),
      reference: (v: vscode.Uri | vscode.Location) => parts.push(['reference', v]),
      anchor: (v: vscode.Uri | vscode.Location) => parts.push(['anchor', v]),
      button: (c: vscode.Command) => parts.push(['button', c.command]),
    };
    const token = new vscode.CancellationTokenSource().token;
    const text = (): string => parts.filter(([k]) => k === 'markdown').map(([, v]) => v).join('');
    const main = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, 'src/main.ts');

    const asked = await within(api.participant.handler({ prompt: 'Where is main defined?', references: [] }, { history: [] }, stream, token), 60_000, '@lift to answer');
    assert.deepEqual([asked.errorDetails, asked.metadata], [undefined, { command: 'ask', answered: true, learned: true }]);
    const refs = parts.filter(([k]) => k === 'reference').map(([, v]) => v as vscode.Location);
    assert.ok(refs.some((l) => l.uri.fsPath === main.fsPath), `a reference to src/main.ts among ${refs.map((l) => l.uri.fsPath).join(', ')}`);
    assert.match(text(), /\n\n\*Learned knowledge[^*]*\*$/, 'the note says what it drew on');
    // the other learned facts near a question come back as follow-ups that ask them
    const nearby = ['Jobs time out after how long?', 'Jobs are retried after how long?'];
    assert.deepEqual(api.participant.followups({ metadata: { command: 'ask', answered: true, learned: true, nearby } }), nearby.map((q) => ({ prompt: q, label: q })));
    assert.deepEqual(api.participant.followups({ metadata: { command: 'ask', answered: true, learned: true } }), []);

    parts.length = 0;
    const mention = { id: 'vscode.file', value: new vscode.Location(main, new vscode.Range(0, 0, 2, 1)) };
    const explained = await within(api.participant.handler({ prompt: '', command: 'explain', references: [mention] }, { history: [] }, stream, token), 60_000, '@lift /explain');
    assert.equal(explained.errorDetails, undefined);
    assert.deepEqual(parts[0], ['progress', 'Explaining src/main.ts:1-3…']);
    assert.ok(text().length > 0);

    parts.length = 0;
    const status = await within(api.participant.handler({ prompt: '', command: 'status', references: [] }, { history: [] }, stream, token), 60_000, '@lift /status');
    assert.deepEqual(status.metadata, { command: 'status', learned: true });
    assert.match(text(), /LIFT learned 2 files/);
    assert.match(text(), /ONNX Runtime 1\.30\.0/);

    parts.length = 0;
    const empty = await api.participant.handler({ prompt: '  ', references: [] }, { history: [] }, stream, token);
    assert.match(empty.errorDetails?.message ?? '', /Ask a question/);
  });

  it('# mentions: the workspace\'s files and symbols complete (never a secret file); a chosen one goes with the question and the note names it', async () => {
    const root = vscode.workspace.workspaceFolders![0]!.uri;
    const main = vscode.Uri.joinPath(root, 'src/main.ts');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(main));
    const secret = path.join(root.fsPath, '.env.local');
    fs.writeFileSync(secret, 'TOKEN=mentions-must-not-offer-me\n');
    try {
      const files = await api.mentions.complete('mai');
      assert.equal(files[0]?.label, 'src/main.ts', JSON.stringify(files));
      assert.deepEqual((await api.mentions.complete('env')).filter((i) => i.label.includes('.env')), [], 'a secret file is never offered');
      // symbols come from VS Code's workspace symbol providers (here, the built-in TypeScript one)
      let items: Awaited<ReturnType<LiftApi['mentions']['complete']>> = [];
      await until(() => items.some((i) => i.kind === 'symbol' && i.label === 'main'), 120_000, 'the symbol "main" among the completions', async () => {
        items = await api.mentions.complete('main');
      });
      const symbol = items.find((i) => i.kind === 'symbol' && i.label === 'main')!;
      assert.deepEqual([symbol.path, symbol.startLine, symbol.endLine], ['src/main.ts', 1, 3]);
      assert.equal(await api.mentions.resolve({ label: 'x', path: '../outside.ts' }), undefined, 'nothing outside the workspace');
      assert.deepEqual(await api.mentions.resolve({ label: 'README.md', path: 'README.md' }), { file: path.join(root.fsPath, 'README.md'), startLine: 1, endLine: 3, code: fs.readFileSync(path.join(root.fsPath, 'README.md'), 'utf8').trimEnd() });
      const outcome = await within(api.chat.ask('What does #main return, and what is #README.md about?', undefined, true, [symbol]), 120_000, 'the answer with mentions');
      assert.equal(outcome.outcome, 'done', outcome.error);
      assert.match(outcome.note ?? '', /\+ #main \(src\/main\.ts:1-3\) \+ #README\.md \(README\.md:1-3\)/);
    } finally {
      fs.rmSync(secret, { force: true });
    }
  });

  it('chat actions: a file reference opens the file at its line; Insert puts code at the cursor; Copy fills the clipboard', async () => {
    await api.chat.handle({ type: 'openFile', path: 'src/main.ts', line: 2 });
    const editor = vscode.window.activeTextEditor!;
    assert.match(editor.document.uri.fsPath, /src[\\/]main\.ts$/);
    assert.equal(editor.selection.active.line, 1);
    await api.chat.handle({ type: 'openFile', path: '../outside.ts', line: 1 });
    assert.match(vscode.window.activeTextEditor!.document.uri.fsPath, /src[\\/]main\.ts$/, 'paths outside the workspace are refused');
    await api.chat.handle({ type: 'copy', text: 'copied();' });
    assert.equal(await vscode.env.clipboard.readText(), 'copied();');
    const scratch = await vscode.workspace.openTextDocument({ content: 'x\n' });
    const ed = await vscode.window.showTextDocument(scratch);
    ed.selection = new vscode.Selection(1, 0, 1, 0);
    await api.chat.handle({ type: 'insert', text: 'inserted();' });
    assert.equal(scratch.getText(), 'x\ninserted();');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('killing the trainer mid-request shows an error, and the next request gets a restarted trainer', async () => {
    const before = await api.trainer.initialize();
    // stopped first, so that the question cannot be answered before the kill (a short answer
    // from a fast model once finished within the wait)
    process.kill(before.pid, 'SIGSTOP');
    const asking = vscode.commands.executeCommand<AskOutcome>('lift.ask', 'a question that is interrupted', { chunkDelayMs: 500 });
    // the kill lands inside the request: once it has been sent (a busy machine may take a while to get there)
    await until(() => api.trainer.requestsInFlight.includes('lift/ask'), 30_000, 'the question to be sent to the trainer');
    process.kill(before.pid, 'SIGKILL');
    const outcome = await within(asking, 15_000, 'the interrupted answer to fail');
    assert.equal(outcome.outcome, 'failed');
    assert.match(outcome.error ?? '', /stopped unexpectedly \(killed by SIGKILL\)/);

    const status = await within(vscode.commands.executeCommand<TrainerStatus | undefined>('lift.showTrainerLog'), 60_000, 'the restarted trainer');
    assert.ok(status, 'a restarted trainer answered');
    assert.notEqual(status.pid, before.pid);
  });

  it('"LIFT: Enable GPU (CUDA)" sets up from a feed, restarts the trainer on that runtime, and questions are still answered (on the CPU here)', async () => {
    const feed = await startFeed();
    try {
      const before = await api.trainer.initialize();
      const result = await within(vscode.commands.executeCommand<EnableGpuResult | undefined>('lift.enableGpu', { feed: feed.index }), 120_000, 'GPU set-up');
      assert.ok(result, 'set-up succeeded');
      assert.ok(fs.existsSync(path.join(result.ortDir, 'lift-gpu.json')), 'the install is complete');
      assert.ok(result.missing.length > 0, 'what CUDA lacks here is reported');
      const status = await api.trainer.status();
      assert.notEqual(status.pid, before.pid, 'the trainer restarted');
      assert.ok(status.onnxruntime.loaded && status.onnxruntime.gpuInstall === result.ortDir, JSON.stringify(status.onnxruntime));
      const outcome = await within(vscode.commands.executeCommand<AskOutcome>('lift.ask', 'Which port does Orbit use?'), 120_000, 'an answer from the restarted trainer');
      assert.equal(outcome.outcome, 'done', outcome.error);
    } finally {
      feed.close();
    }
  });

  it('"LIFT: Choose Model…" downloads a model from a (stand-in) Hugging Face Hub with progress, sets lift.model, and answers with it', async function () {
    this.timeout(240_000);
    // a seeded model of a real architecture with its own chat template, served as the Hub serves it
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-e2e-hub-'));
    const repo = path.join(tmp, 'repo');
    const cfg = smallConfig({ hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, vocab: 259 });
    saveModelFolder(repo, cfg, randomWeights(cfg, 11), byteLevelTokenizerJson());
    fs.writeFileSync(
      path.join(repo, 'tokenizer_config.json'),
      JSON.stringify({ eos_token: '<|im_end|>', chat_template: "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}" }),
    );
    const commit = 'c'.repeat(40);
    const hub = await startHub({ 'lift-test/tiny-chat': { dir: repo, commit } });
    const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
    const lift = vscode.workspace.getConfiguration('lift');
    try {
      // the trainer reads the Hub's address and cache from its environment at start
      process.env.HF_ENDPOINT = hub.url;
      process.env.HF_HUB_CACHE = path.join(tmp, 'hub-cache');
      await api.trainer.restart();
      const chosen = await within(vscode.commands.executeCommand<ChosenModel | undefined>('lift.chooseModel', { model: 'lift-test/tiny-chat' }), 120_000, 'the download');
      assert.ok(chosen, 'a model was chosen');
      assert.equal(chosen.dir, path.join(tmp, 'hub-cache', 'models--lift-test--tiny-chat', 'snapshots', commit));
      assert.ok(hub.requests.some((r) => r.startsWith('GET /cdn/')), 'the weights came from the Hub');
      assert.equal(vscode.workspace.getConfiguration('lift').get('model'), 'lift-test/tiny-chat');
      const requests = hub.requests.length;
      const outcome = await within(vscode.commands.executeCommand<AskOutcome>('lift.ask', 'Where is main defined?'), 120_000, 'an answer from the chosen model');
      assert.equal(outcome.outcome, 'done', outcome.error);
      assert.match(outcome.note ?? '', /^Base model \(this workspace is not learned yet\)/);
      assert.equal(hub.requests.length, requests, 'answering downloads nothing');
      // a model id the Hub does not have: a clear error, lift.model unchanged
      assert.equal(await within(vscode.commands.executeCommand<ChosenModel | undefined>('lift.chooseModel', { model: 'lift-test/missing' }), 60_000, 'the refusal'), undefined);
      assert.equal(vscode.workspace.getConfiguration('lift').get('model'), 'lift-test/tiny-chat');
    } finally {
      await lift.update('model', undefined, vscode.ConfigurationTarget.Global);
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      await api.trainer.restart();
      await hub.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
