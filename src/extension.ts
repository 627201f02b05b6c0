/**
 * Extension entry: registers commands, the sidebar chat and the status bar, and forwards work
 * to the trainer process. Holds no model state and never loads ONNX Runtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as l10n from '@vscode/l10n';
import * as vscode from 'vscode';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { TrainerClient, TrainerError } from '../native/client';
import { defaultModelDir } from '../native/model/default';
import type { AdaptersResult, EnableGpuResult, LearnResult, TrainerStatus } from '../native/protocol';
import type { HistoryItem } from '../webview/messages';
import { codeHash, ExplainCodeLensProvider, ExplanationCache, ExplanationHoverProvider, InlineExplanations } from './explainLens';
import { formatStatus } from '../native/statusText';
import { type AnswerContext, type AskOutcome, ChatController } from './chatController';
import { registerParticipant } from './chatParticipant';
import { registerChooseModel } from './chooseModel';
import { registerExportGguf } from './exportGguf';
import { ChatViewProvider } from './chatView';
import { ContextKeys } from './contextKeys';
import { readSettings } from './config';
import { Learning } from './learning';
import { LiftStatusBar } from './statusBar';
import { Mentions, workspaceFile } from './mentions';

/** What `activate` returns: used by the extension tests, stable enough for other extensions. */
export interface LiftApi {
  trainer: TrainerClient;
  chat: ChatController;
  chatView: ChatViewProvider;
  status: LiftStatusBar;
  inline: InlineExplanations;
  /** The context keys' values as last set. */
  keys: ContextKeys;
  /** @lift in the Chat view: whether it is registered, its handler, the requests it got. */
  participant: ReturnType<typeof registerParticipant>;
  /** The sidebar's `#` mentions: completions and their lines. */
  mentions: Mentions;
}

/** The trainer bundle, or an override for development (rust-analyzer's pattern). */
function trainerPath(context: vscode.ExtensionContext): string {
  const override = process.env.LIFT_TRAINER_PATH || readSettings().trainerPath;
  return override ? path.resolve(override) : context.asAbsolutePath(path.join('dist', 'trainer.js'));
}

async function askForConsentIfRestricted(what: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const learn = vscode.l10n.t('Learn Anyway');
  const choice = await vscode.window.showWarningMessage(
    vscode.l10n.t('This workspace is in Restricted Mode. Learning {0} reads its files into a local model (nothing is executed and nothing leaves this machine). Learn it anyway?', what),
    { modal: true },
    learn,
  );
  return choice === learn;
}

let active: LiftApi | undefined;

const HISTORY_KEY = 'lift.chatHistory';

/** The workspace folders on disk (LIFT learns files, not other schemes). */
const fileRoots = (): string[] => (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);

/** The active editor's selection, or the 40 lines around its cursor (files on disk only). */
function activeRange(): { file: string; startLine: number; endLine: number; code: string } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.scheme !== 'file') return undefined;
  const doc = editor.document;
  const sel = editor.selection;
  const start = sel.isEmpty ? Math.max(0, sel.active.line - 20) : sel.start.line;
  const end = sel.isEmpty ? Math.min(doc.lineCount - 1, sel.active.line + 20) : sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line - 1 : sel.end.line;
  return { file: doc.uri.fsPath, startLine: start + 1, endLine: end + 1, code: doc.getText(new vscode.Range(start, 0, end, Number.MAX_SAFE_INTEGER)) };
}

/** What the chat's code-block buttons and links do in the editor. Model output chose the text, so nothing here runs it. */
const editorActions = {
  copy: async (text: string): Promise<void> => {
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(vscode.l10n.t('LIFT: code copied'), 2000);
  },
  insert: async (text: string): Promise<void> => {
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!editor) {
      void vscode.window.showInformationMessage(vscode.l10n.t('LIFT: open an editor to insert the code into.'));
      return;
    }
    await editor.edit((e) => editor.selections.forEach((sel) => e.replace(sel, text)));
  },
  /** A path relative to a workspace folder (or "folder/…" in a multi-root workspace); never outside one. */
  openFile: async (rel: string, line: number): Promise<void> => {
    const file = workspaceFile(rel);
    if (!file) {
      void vscode.window.showWarningMessage(vscode.l10n.t('LIFT: {0} is not a file of this workspace.', rel));
      return;
    }
    const doc = await vscode.workspace.openTextDocument(file);
    const at = new vscode.Position(Math.min(Math.max(0, line - 1), doc.lineCount - 1), 0);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at), preview: true });
  },
  openLink: (url: string): Thenable<boolean> => vscode.env.openExternal(vscode.Uri.parse(url, true)),
};

export function activate(context: vscode.ExtensionContext): LiftApi {
  // the code shared with the webview and the tests (free of vscode) translates with @vscode/l10n
  if (vscode.l10n.bundle) l10n.config({ contents: vscode.l10n.bundle });
  const log = vscode.window.createOutputChannel('LIFT Trainer', { log: true });
  const version = String(context.extension.packageJSON.version);
  const trainerScript = trainerPath(context);
  /** GPU support, once set up ("LIFT: Enable GPU"): the runtime copy the trainer loads. */
  const GPU_KEY = 'lift.gpuInstall';
  const trainerEnv = (): NodeJS.ProcessEnv => {
    const gpu = context.globalState.get<string>(GPU_KEY);
    return { LIFT_DEVICE: readSettings().device, LIFT_ANSWER_PRECISION: readSettings().answerPrecision, ...(gpu ? { LIFT_ORT_DIR: gpu } : {}) };
  };
  const trainer = new TrainerClient({ trainerPath: trainerScript, logger: log, client: { name: 'vscode', version }, env: trainerEnv });
  /** The bundled default model (native/default-model beside dist/), for an empty "lift.model". */
  const defaultModel = defaultModelDir(path.join(context.extensionPath, 'dist'));
  const keys = new ContextKeys();
  /** The workspace's adapters (one per model + corpus; the active one answers). */
  const store = context.storageUri ? path.join(context.storageUri.fsPath, 'adapters') : undefined;
  /** What answering needs from the settings and the editor (the sidebar and @lift alike). */
  const chatAnswerContext = (): AnswerContext | undefined => {
    const settings = readSettings();
    const model = settings.model || defaultModel;
    if (!model) return undefined;
    return { model, roots: fileRoots(), store, active: activeRange(), include: settings.include, exclude: settings.exclude };
  };
  const mentions = new Mentions();
  const chat = new ChatController(trainer, {
    chunkDelayMs: 15,
    answerContext: chatAnswerContext,
    onAnswering: (count) => keys.set('lift.answering', count > 0),
    onFailure: (message) => void vscode.window.showErrorMessage(message, vscode.l10n.t('Show Trainer Log')).then((c) => c && log.show()),
    history: {
      load: () => context.workspaceState.get<HistoryItem[]>(HISTORY_KEY, []),
      save: (items) => context.workspaceState.update(HISTORY_KEY, items),
    },
    mentions,
    actions: { ...editorActions, learn: () => vscode.commands.executeCommand('lift.learnWorkspace') },
  });
  const chatView = new ChatViewProvider(context.extensionUri, chat);
  /** The sidebar's chip: which of the active editor's lines go with a question (debounced: selections change often). */
  let contextTimer: NodeJS.Timeout | undefined;
  const showActive = (): void => {
    clearTimeout(contextTimer);
    contextTimer = setTimeout(() => {
      const r = activeRange();
      chat.showContext(r ? `${vscode.workspace.asRelativePath(r.file)}:${r.startLine}-${r.endLine}` : undefined);
    }, 200);
  };
  showActive();
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(showActive), vscode.window.onDidChangeTextEditorSelection(showActive), { dispose: () => clearTimeout(contextTimer) });

  const explanations = new ExplanationCache();
  const inlineExplanations = new InlineExplanations();
  const lenses = new ExplainCodeLensProvider();
  const status = new LiftStatusBar();
  status.setTrainer(trainer.state);
  let refreshTimer: NodeJS.Timeout | undefined;
  /** Asks the trainer what the adapter knows and whether files changed since (debounced). */
  const refreshAdapter = (delayMs = 0, modelChanged = false): void => {
    // never learned here: nothing to ask, and no reason to start the trainer for it
    const settings = readSettings();
    const modelName = settings.model ? vscode.l10n.t('the model in {0}', path.basename(settings.model)) : vscode.l10n.t('the bundled default model');
    const modelDir = settings.model || defaultModel;
    if (!store || !fs.existsSync(path.join(store, 'active.json'))) {
      keys.set('lift.learned', false);
      chat.showKnowledge(false, modelName);
      return status.setAdapter(undefined);
    }
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const settings = readSettings();
      const roots = fileRoots();
      trainer.adapterStatus({ store, roots, include: settings.include, exclude: settings.exclude, ...(modelDir ? { model: modelDir } : {}) }).then(
        (s) => {
          const otherModel = s.learned && modelDir !== undefined && path.resolve(s.baseModel) !== path.resolve(modelDir);
          status.setAdapter(otherModel ? undefined : s);
          const known = s.learned && !otherModel;
          keys.set('lift.learned', known);
          chat.showKnowledge(known, modelName, known ? s.selfCheck : undefined, known ? s.createdAt : undefined);
          if (otherModel && modelChanged) {
            void vscode.window
              .showWarningMessage(vscode.l10n.t('LIFT: this workspace was learned with {0}; answers with {1} cannot use that knowledge. Learn it again with the new model?', path.basename(s.baseModel), modelName), vscode.l10n.t('Learn This Workspace'))
              .then((c) => c && vscode.commands.executeCommand('lift.learnWorkspace'));
          }
        },
        (err: unknown) => log.debug(`adapter status: ${err instanceof Error ? err.message : String(err)}`),
      );
    }, delayMs);
  };

  /** The first time anything is learned: what happens and where the data stays (not blocking). */
  const explainOnce = (): void => {
    if (context.globalState.get<boolean>('lift.explained')) return;
    void context.globalState.update('lift.explained', true);
    const settings = readSettings();
    void vscode.window.showInformationMessage(
      vscode.l10n.t("LIFT learns on this machine: it reads this workspace's files (never ignored files, .env files or keys; secret-looking strings are redacted), fine-tunes {0} into an adapter kept in VS Code's storage for this workspace, and answers from it. Nothing leaves this machine.", settings.model ? path.basename(settings.model) : vscode.l10n.t('the bundled default model')),
    );
  };

  async function askInChat(text: string, chunkDelayMs?: number): Promise<AskOutcome> {
    await vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
    return chat.ask(text, chunkDelayMs);
  }

  const learning = new Learning(trainer, context.storageUri, log, {
    onBusy: (busy) => {
      keys.set('lift.learning', busy !== undefined);
      status.setBusy(busy);
      if (!busy) refreshAdapter();
    },
    defaultModel,
    onView: (view) => chat.showLearning(view),
  });

  context.subscriptions.push(
    log,
    status,
    { dispose: () => chat.dispose() },
    trainer.onDidChangeState((state) => status.setTrainer(state)),
    vscode.workspace.onDidSaveTextDocument(() => refreshAdapter(2000)),
    // files changed outside the editor (git checkout, a build, another tool) make it stale too;
    // every change also goes to a running trainer, whose retrieval index follows (batched)
    ...(() => {
      const watcher = vscode.workspace.createFileSystemWatcher('**/*');
      const pending = new Set<string>();
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        timer = undefined;
        const settings = readSettings();
        const roots = fileRoots();
        const paths = [...pending];
        pending.clear();
        const model = settings.model || defaultModel;
        if (roots.length && paths.length) trainer.filesChanged({ roots, store, include: settings.include, exclude: settings.exclude, paths, ...(model ? { model } : {}) });
      };
      const changed = (uri: vscode.Uri): void => {
        if (uri.scheme === 'file' && !/[\\/](node_modules|\.git)([\\/]|$)/.test(uri.fsPath) && pending.size <= 5000) {
          pending.add(uri.fsPath);
          timer ??= setTimeout(send, 300);
        }
        if (!/[\\/](node_modules|\.git|dist|out)[\\/]/.test(uri.fsPath)) refreshAdapter(2000);
      };
      return [watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), watcher.onDidDelete(changed), { dispose: () => clearTimeout(timer) }];
    })(),
    { dispose: () => clearTimeout(refreshTimer) },
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chatView),
    vscode.commands.registerCommand('lift.learnWorkspace', async () => {
      explainOnce();
      if (!vscode.workspace.workspaceFolders?.length) {
        return vscode.window.showWarningMessage(vscode.l10n.t('Open a folder first: LIFT learns the folders of the workspace.'));
      }
      if (!(await askForConsentIfRestricted(vscode.l10n.t('this workspace')))) return;
      const roots = fileRoots();
      return learning.learn(roots.length > 1 ? vscode.l10n.t('{0} folders', roots.length) : vscode.l10n.t('this workspace'), roots);
    }),
    vscode.commands.registerCommand('lift.relearnChanges', async () => {
      const roots = fileRoots();
      if (!roots.length) return vscode.window.showWarningMessage(vscode.l10n.t('Open a folder first: LIFT learns the folders of the workspace.'));
      if (!(await askForConsentIfRestricted(vscode.l10n.t('this workspace')))) return;
      return learning.learn(vscode.l10n.t('the changes'), roots, true);
    }),
    vscode.commands.registerCommand('lift.learnDocument', async () => {
      explainOnce();
      const doc = vscode.window.activeTextEditor?.document;
      if (!doc) return vscode.window.showWarningMessage(vscode.l10n.t('Open the document to learn (for example a long spec) first.'));
      if (doc.uri.scheme !== 'file' || doc.isUntitled) return vscode.window.showWarningMessage(vscode.l10n.t('Save the document first: LIFT learns files on disk.'));
      if (!(await askForConsentIfRestricted(`"${path.basename(doc.fileName)}"`))) return;
      if (doc.isDirty) await doc.save();
      return learning.learn(`"${path.basename(doc.fileName)}"`, [doc.uri.fsPath]);
    }),
    // Arguments (for keybindings and tests): the question, and stream pacing.
    vscode.commands.registerCommand('lift.ask', async (question?: string, options?: { chunkDelayMs?: number }) => {
      const text =
        typeof question === 'string'
          ? question
          : await vscode.window.showInputBox({ title: vscode.l10n.t('LIFT: Ask About This Workspace'), prompt: vscode.l10n.t('Your question'), ignoreFocusOut: true });
      if (text?.trim()) return askInChat(text.trim(), options?.chunkDelayMs);
      return undefined;
    }),
    vscode.commands.registerCommand('lift.explainSelection', async () => {
      const editor = vscode.window.activeTextEditor;
      const selected = editor?.document.getText(editor.selection);
      if (!editor || !selected?.trim()) return vscode.window.showWarningMessage(vscode.l10n.t('Select the code to explain first.'));
      const { start, end } = editor.selection;
      const last = end.character === 0 && end.line > start.line ? end.line : end.line + 1; // a selection ending at column 0 stops on the line above
      const where = `${vscode.workspace.asRelativePath(editor.document.uri)}:${start.line + 1}-${last}`;
      await vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
      if (editor.document.uri.scheme !== 'file') return chat.ask(`${vscode.l10n.t('Explain this code from {0}:', where)}\n${selected}`);
      const lines = editor.document.getText(new vscode.Range(start.line, 0, last - 1, Number.MAX_SAFE_INTEGER));
      return chat.explain(editor.document.uri.fsPath, start.line + 1, last, vscode.l10n.t('Explain {0}', where), lines);
    }),
    vscode.commands.registerCommand('lift.explainRange', async (uri?: vscode.Uri, startLine?: number, endLine?: number, name?: string): Promise<AskOutcome | undefined> => {
      if (!uri || !startLine || !endLine) return undefined;
      const doc = await vscode.workspace.openTextDocument(uri);
      const code = doc.getText(new vscode.Range(startLine - 1, 0, endLine - 1, Number.MAX_SAFE_INTEGER));
      const label = vscode.l10n.t('Explain {0} ({1})', name ?? vscode.l10n.t('this code'), `${vscode.workspace.asRelativePath(uri)}:${startLine}-${endLine}`);
      // streams inline under the code; the same exchange is in the chat to continue there
      const inline = inlineExplanations.show(uri, startLine, endLine, label);
      const outcome = await chat.explain(uri.fsPath, startLine, endLine, label, code, (text) => inline.update(text));
      inline.update(outcome.outcome === 'done' ? outcome.text : `${outcome.text}\n\n*${outcome.outcome === 'cancelled' ? vscode.l10n.t('Stopped.') : outcome.error ?? vscode.l10n.t('Failed.')}*`, true);
      if (outcome.outcome === 'done') explanations.add({ uri: uri.toString(), startLine, endLine, hash: codeHash(code), name: name ?? vscode.l10n.t('lines {0}-{1}', startLine, endLine), text: outcome.text });
      return outcome;
    }),
    vscode.languages.registerCodeLensProvider({ scheme: 'file' }, lenses),
    inlineExplanations,
    vscode.commands.registerCommand('lift.continueInChat', () => vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`)),
    vscode.languages.registerHoverProvider({ scheme: 'file' }, new ExplanationHoverProvider(explanations)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('lift.codeLens')) lenses.refresh();
      if (e.affectsConfiguration('lift.model')) refreshAdapter(0, true);
      for (const key of ['device', 'answerPrecision'] as const) {
        if (!e.affectsConfiguration(`lift.${key}`)) continue;
        // a restart would end a learning run: then the new value applies at the next start
        if (learning.running) log.info(`lift.${key} is now "${readSettings()[key]}"; it applies when the trainer next starts (learning is running).`);
        else void trainer.restart().then(() => log.info(`lift.${key} is now "${readSettings()[key]}": the trainer restarted.`), () => undefined);
      }
    }),
    vscode.commands.registerCommand('lift.enableGpu', async (choice?: { folder?: string; feed?: string }): Promise<EnableGpuResult | undefined> => {
      const storageDir = context.globalStorageUri.fsPath;
      let folder = choice?.folder;
      if (!choice) {
        const picked = await vscode.window.showQuickPick(
          [
            { label: vscode.l10n.t('Download the CUDA provider'), description: vscode.l10n.t('from nuget.org: the package onnxruntime-node itself installs (several hundred MB), checked against its SHA-512'), value: 'download' },
            { label: vscode.l10n.t('Use a folder…'), description: vscode.l10n.t('holding libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so of the same ONNX Runtime version'), value: 'folder' },
          ],
          { title: vscode.l10n.t('LIFT: Enable GPU (CUDA)'), placeHolder: vscode.l10n.t('Where should the CUDA provider for ONNX Runtime come from?') },
        );
        if (!picked) return undefined;
        if (picked.value === 'folder') {
          const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Use this folder') });
          if (!uri?.[0]) return undefined;
          folder = uri[0].fsPath;
        }
      }
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('LIFT: setting up GPU support'), cancellable: true },
          async (progress, token) => {
            const source = new CancellationTokenSource();
            token.onCancellationRequested(() => source.cancel());
            let shown = 0;
            return trainer.enableGpu({ storageDir, folder, feed: choice?.feed }, (p) => {
              if (p.phase === 'download' && p.total) {
                const pct = Math.floor((100 * (p.received ?? 0)) / p.total);
                progress.report({ increment: pct - shown, message: vscode.l10n.t('downloading {0} of {1} MB', ((p.received ?? 0) / 2 ** 20).toFixed(0), (p.total / 2 ** 20).toFixed(0)) });
                shown = pct;
              } else if (p.phase !== 'download') progress.report({ message: { resolve: vscode.l10n.t('finding the package'), verify: vscode.l10n.t('checking its SHA-512'), extract: vscode.l10n.t('extracting the provider'), check: vscode.l10n.t('checking CUDA and cuDNN') }[p.phase] });
            }, source.token);
          },
        );
        await context.globalState.update(GPU_KEY, result.ortDir);
        log.info(`GPU support installed from ${result.source} into ${result.ortDir}.`);
        if (learning.running) {
          log.info('The trainer uses it from its next start (learning is running now).');
        } else {
          await trainer.restart();
          const status = await trainer.status();
          const cuda = status.onnxruntime.loaded ? status.onnxruntime.providers.find((p) => p.name === 'cuda') : undefined;
          log.info(`The trainer restarted on it; CUDA provider ${cuda?.available ? 'present' : `unavailable (${cuda?.reason})`}.`);
        }
        if (result.missing.length) {
          void vscode.window.showWarningMessage(vscode.l10n.t('LIFT: the CUDA provider is installed, but CUDA cannot run yet — {0}. Until then LIFT runs on the CPU.', result.missing.join('; ')));
        } else {
          void vscode.window.showInformationMessage(vscode.l10n.t('LIFT: GPU support is set up (ONNX Runtime {0} with CUDA). Learning and answering use the GPU when "lift.device" is auto or cuda.', result.version));
        }
        return result;
      } catch (err) {
        const cancelled = err instanceof TrainerError && err.kind === 'cancelled';
        log[cancelled ? 'info' : 'error'](cancelled ? 'GPU set-up was cancelled; nothing was changed.' : `GPU set-up failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!cancelled) void vscode.window.showErrorMessage(vscode.l10n.t('LIFT: GPU set-up failed — {0}. LIFT keeps running on the CPU.', err instanceof Error ? err.message.replace(/^The LIFT trainer could not complete "[^"]+": /, '') : String(err)));
        return undefined;
      }
    }),
    registerChooseModel({ context, trainer, log, roots: fileRoots }),
    registerExportGguf({ trainer, store, defaultModel }),
    vscode.commands.registerCommand('lift.cancelLearning', () => {
      const learn = learning.cancel();
      const n = chat.stop();
      log.info(learn || n ? `Cancelling ${learn ? 'learning' : ''}${learn && n ? ' and ' : ''}${n ? `${n} answer(s)` : ''}.` : 'Nothing to cancel.');
    }),
    vscode.commands.registerCommand('lift.showTrainerLog', async (): Promise<TrainerStatus | undefined> => {
      log.show(true);
      try {
        const s = await trainer.status();
        log.info(`Trainer status:\n${formatStatus(s)}`);
        return s;
      } catch (err) {
        log.error(`Trainer status failed: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('lift.manageAdapters', async (action?: { select?: string; delete?: string }): Promise<AdaptersResult | undefined> => {
      if (!store) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Open a folder or workspace first: LIFT keeps its adapters in the workspace\'s storage.'));
        return undefined;
      }
      try {
        // scripted use (tests, keybindings): act directly
        if (action) return await trainer.adapters({ store, ...action }).finally(() => refreshAdapter());
        const { adapters } = await trainer.adapters({ store });
        if (!adapters.length) {
          void vscode.window.showInformationMessage(vscode.l10n.t('LIFT: nothing learned in this workspace yet. Run "LIFT: Learn This Workspace".'));
          return { adapters };
        }
        const picked = await vscode.window.showQuickPick(
          adapters.map((a) => ({
            label: `${a.active ? '$(check) ' : ''}${new Date(a.createdAt).toLocaleString()}`,
            description: a.finalLoss === undefined ? vscode.l10n.t('{0} files, {1} tokens', a.files, a.tokens) : vscode.l10n.t('{0} files, {1} tokens, loss {2}', a.files, a.tokens, a.finalLoss.toFixed(3)),
            detail: `${path.basename(a.baseModel)} · ${a.key}${a.active ? ` · ${vscode.l10n.t('answering now')}` : ''}`,
            adapter: a,
          })),
          { title: vscode.l10n.t('LIFT: Adapters of this workspace'), placeHolder: vscode.l10n.t('Pick an adapter to use or delete') },
        );
        if (!picked) return undefined;
        const use = vscode.l10n.t('Use for answers');
        const remove = vscode.l10n.t('Delete');
        const choice = await vscode.window.showQuickPick(picked.adapter.active ? [remove] : [use, remove], { title: vscode.l10n.t('Adapter {0}', picked.adapter.key) });
        if (!choice) return undefined;
        if (choice === remove) {
          const sure = await vscode.window.showWarningMessage(vscode.l10n.t('Delete the adapter learned {0}? This cannot be undone.', new Date(picked.adapter.createdAt).toLocaleString()), { modal: true }, remove);
          if (sure !== remove) return undefined;
        }
        const result = await trainer.adapters({ store, ...(choice === use ? { select: picked.adapter.key } : { delete: picked.adapter.key }) });
        refreshAdapter();
        return result;
      } catch (err) {
        void vscode.window.showErrorMessage(vscode.l10n.t('LIFT: {0}', err instanceof Error ? err.message : String(err)));
        return undefined;
      }
    }),
    vscode.commands.registerCommand('lift.clearHistory', () => chat.clearHistory()),
    vscode.commands.registerCommand('lift.restartTrainer', async () => {
      const info = await trainer.restart();
      vscode.window.setStatusBarMessage(vscode.l10n.t('LIFT trainer restarted (pid {0})', info.pid), 4000);
    }),
  );

  const participant = registerParticipant(
    {
      trainer,
      answerContext: chatAnswerContext,
      activeRange,
      learn: () => vscode.commands.executeCommand<LearnResult | undefined>('lift.learnWorkspace'),
      learning: () => learning.running,
      knowledge: () => ({ summary: status.summary, learned: keys.get('lift.learned') }),
      roots: fileRoots,
    },
    vscode.Uri.joinPath(context.extensionUri, 'media', 'icon.png'),
  );
  context.subscriptions.push(participant);

  refreshAdapter();
  log.info(`LIFT ${version} activated; trainer: ${trainerScript}`);
  active = { trainer, chat, chatView, status, inline: inlineExplanations, keys, participant, mentions };
  return active;
}

/** VS Code waits for this: the trainer gets its shutdown request (then SIGKILL after 3 s). */
export async function deactivate(): Promise<void> {
  await active?.trainer.dispose();
  active = undefined;
}
