/**
 * "LIFT: Choose Model…": the bundled model, the models in the Hugging Face cache, a curated list
 * with this machine's figures, any Hub id or a model folder. A Hub model is downloaded (progress,
 * Cancel; a gated one asks for an access token, kept in SecretStorage) before "lift.model" is set.
 */
import * as vscode from 'vscode';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { type TrainerClient, TrainerError } from '../native/client';
import { type ModelChoice, type ModelsResult, NEEDS_TOKEN, type DeviceEstimate } from '../native/protocol';
import { readSettings } from './config';

const TOKEN_KEY = 'lift.hfToken';
/** `org/name`, optionally `@revision`: what the Hub calls a model. */
const HUB_ID = /^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/;

export interface ChooseModelDeps {
  context: vscode.ExtensionContext;
  trainer: TrainerClient;
  log: vscode.LogOutputChannel;
  roots: () => string[];
}

/** What the command settled on: the value "lift.model" now has ('' for the bundled model). */
export interface ChosenModel {
  model: string;
  dir?: string;
}

const gb = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MB`);
const duration = (s: number): string => (s < 90 ? vscode.l10n.t('{0} s', Math.max(1, Math.round(s))) : s < 5400 ? vscode.l10n.t('{0} min', Math.round(s / 60)) : vscode.l10n.t('{0} h', (s / 3600).toFixed(1)));

/** One device's line: fits or not, and the learn's rough length. */
function estimateLine(where: string, e: DeviceEstimate): string {
  if (!e.fits) return vscode.l10n.t('{0}: does not fit (learning needs {1}, {2} free)', where, gb(e.needBytes), gb(e.availableBytes));
  const fits = vscode.l10n.t('{0}: fits (needs {1} of {2})', where, gb(e.needBytes), gb(e.availableBytes));
  return e.learnSeconds === undefined ? fits : vscode.l10n.t('{0} · learning this workspace ≈ {1}', fits, duration(e.learnSeconds));
}

function choiceItem(c: ModelChoice, current: string, cached: boolean, gpuName?: string): vscode.QuickPickItem & { model: string } {
  const lines = [estimateLine(vscode.l10n.t('CPU'), c.cpu), c.gpu ? estimateLine(gpuName ?? vscode.l10n.t('GPU'), c.gpu) : vscode.l10n.t('no GPU here')];
  return {
    label: `${c.id === current ? '$(check) ' : ''}${c.id}`,
    description: `${cached ? vscode.l10n.t('downloaded') : vscode.l10n.t('≈ {0} download', gb(c.downloadBytes))} · ${c.note}${c.gated ? ` · ${vscode.l10n.t('gated: needs a Hugging Face token')}` : ''}`,
    detail: lines.join(' — '),
    model: c.id,
  };
}

export function registerChooseModel(d: ChooseModelDeps): vscode.Disposable {
  const { context, trainer, log } = d;

  /** Downloads `model` (asking for a token once if the Hub wants one, unless scripted); undefined when cancelled or failed (said). */
  const pull = async (model: string, o: { token?: string; scripted?: boolean } = {}): Promise<string | undefined> => {
    const { token, scripted } = o;
    let secret = token ?? (await context.secrets.get(TOKEN_KEY));
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('LIFT: downloading {0}', model), cancellable: true },
          async (progress, cancel) => {
            const source = new CancellationTokenSource();
            cancel.onCancellationRequested(() => source.cancel());
            // the bar follows the bytes of all files together where the sizes are known
            let shown = 0;
            return trainer.pullModel({ model, ...(secret ? { token: secret } : {}) }, (p) => {
              if (!p.file) return;
              const pct = p.files ? Math.floor((100 * (p.done + (p.total ? p.received / p.total : 0))) / p.files) : 0;
              progress.report({ increment: Math.max(0, pct - shown), message: vscode.l10n.t('{0} ({1} of {2} files): {3} of {4}', p.file, Math.min(p.done + 1, p.files), p.files, gb(p.received), gb(p.total)) });
              shown = Math.max(shown, pct);
            }, source.token);
          },
        );
        log.info(`${model}: ${r.fetchedBytes ? `downloaded ${r.fetchedBytes} bytes` : 'already in the Hugging Face cache'} (${r.dir}).`);
        return r.dir;
      } catch (err) {
        if (err instanceof TrainerError && err.kind === 'cancelled') {
          log.info(`The download of ${model} was cancelled; what arrived stays in the cache and the next download resumes it.`);
          return undefined;
        }
        const message = err instanceof Error ? err.message.replace(/^The LIFT trainer could not complete "[^"]+": /, '') : String(err);
        if (err instanceof TrainerError && err.code === NEEDS_TOKEN && attempt === 0 && token === undefined && !scripted) {
          const entered = await vscode.window.showInputBox({
            title: vscode.l10n.t('LIFT: a Hugging Face access token for {0}', model),
            prompt: vscode.l10n.t('{0}. The token is kept in VS Code\'s secret storage and sent only to the Hugging Face Hub.', message),
            password: true,
            ignoreFocusOut: true,
            placeHolder: vscode.l10n.t('hf_… (made at huggingface.co/settings/tokens)'),
          });
          if (!entered) return undefined;
          await context.secrets.store(TOKEN_KEY, entered.trim());
          secret = entered.trim();
          continue;
        }
        log.error(`Downloading ${model} failed: ${message}`);
        void vscode.window.showErrorMessage(vscode.l10n.t('LIFT: could not download {0} — {1}', model, message));
        return undefined;
      }
    }
  };

  const use = async (model: string, dir: string | undefined, scripted: boolean): Promise<ChosenModel> => {
    await vscode.workspace.getConfiguration('lift').update('model', model, vscode.ConfigurationTarget.Global);
    log.info(`lift.model is now ${model ? `"${model}"` : 'the bundled model'}.`);
    if (!scripted) {
      const learn = vscode.l10n.t('Learn This Workspace');
      void vscode.window
        .showInformationMessage(vscode.l10n.t('LIFT answers with {0} now. What it learned with another model stays with that model; learn this workspace with this one?', model || vscode.l10n.t('the bundled model')), learn)
        .then((c) => c === learn && vscode.commands.executeCommand('lift.learnWorkspace'));
    }
    return { model, ...(dir ? { dir } : {}) };
  };

  /** The picker: shown at once, filled when the trainer has measured this machine. */
  const pick = async (): Promise<{ action: 'model' | 'id' | 'folder' | 'forget'; model?: string; cached?: boolean } | undefined> => {
    const settings = readSettings();
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { action?: 'model' | 'id' | 'folder' | 'forget'; model?: string; cached?: boolean }>();
    qp.title = vscode.l10n.t('LIFT: Choose Model');
    qp.placeholder = vscode.l10n.t('The model LIFT learns with and answers with');
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    const actions = async (): Promise<(vscode.QuickPickItem & { action: 'id' | 'folder' | 'forget' })[]> => [
      { label: `$(cloud-download) ${vscode.l10n.t('Enter a Hugging Face model id…')}`, description: 'org/name[@revision]', action: 'id', alwaysShow: true },
      { label: `$(folder) ${vscode.l10n.t('Use a model folder…')}`, description: vscode.l10n.t('config.json, tokenizer.json and safetensors weights'), action: 'folder', alwaysShow: true },
      ...((await context.secrets.get(TOKEN_KEY)) ? [{ label: `$(key) ${vscode.l10n.t('Forget the Hugging Face token')}`, action: 'forget' as const, alwaysShow: true }] : []),
    ];
    const bundled = { label: `${settings.model ? '' : '$(check) '}${vscode.l10n.t('Bundled demonstrator model')}`, description: vscode.l10n.t('4.2M parameters: shows the workflow, not real answers'), action: 'model' as const, model: '' };
    qp.items = [bundled, ...(await actions())];
    qp.busy = true;
    qp.show();
    void trainer
      .models({ roots: d.roots(), include: settings.include, exclude: settings.exclude, tokenBudget: settings.tokenBudget })
      .then(async (r: ModelsResult) => {
        const curated = new Set(r.choices.map((c) => c.id));
        const cachedIds = new Set(r.cached.map((c) => c.id));
        const others = r.cached.filter((c) => !curated.has(c.id));
        qp.items = [
          bundled,
          ...(others.length ? [{ label: vscode.l10n.t('Downloaded'), kind: vscode.QuickPickItemKind.Separator }] : []),
          ...others.map((c) => ({ label: `${c.id === settings.model ? '$(check) ' : ''}${c.id}`, description: vscode.l10n.t('downloaded · {0} · {1}', gb(c.bytes), c.commit.slice(0, 7)), action: 'model' as const, model: c.id, cached: true })),
          { label: vscode.l10n.t('Suggested (estimates for this workspace on this machine)'), kind: vscode.QuickPickItemKind.Separator },
          ...r.choices.map((c) => ({ ...choiceItem(c, settings.model, cachedIds.has(c.id), r.machine.gpu?.name), action: 'model' as const, cached: cachedIds.has(c.id) })),
          { label: '', kind: vscode.QuickPickItemKind.Separator },
          ...(await actions()),
        ];
      })
      .catch((err: unknown) => {
        log.warn(`Model figures unavailable: ${err instanceof Error ? err.message : String(err)}`);
        qp.placeholder = vscode.l10n.t('The list of models is unavailable (see "LIFT: Show Trainer Log"); a Hub id or a folder still works');
      })
      .finally(() => (qp.busy = false));
    const picked = await new Promise<(typeof qp.items)[number] | undefined>((resolve) => {
      qp.onDidAccept(() => resolve(qp.selectedItems[0]));
      qp.onDidHide(() => resolve(undefined));
    });
    qp.dispose();
    return picked?.action ? { action: picked.action, model: picked.model, cached: picked.cached } : undefined;
  };

  return vscode.commands.registerCommand('lift.chooseModel', async (scripted?: { model: string; token?: string }): Promise<ChosenModel | undefined> => {
    // scripted use (tests, keybindings): a Hub id is downloaded, anything else set as is
    if (scripted) {
      if (typeof scripted.model !== 'string') return undefined;
      if (!HUB_ID.test(scripted.model)) return use(scripted.model, undefined, true);
      const dir = await pull(scripted.model, { token: scripted.token, scripted: true });
      return dir ? use(scripted.model, dir, true) : undefined;
    }
    const picked = await pick();
    if (!picked) return undefined;
    if (picked.action === 'forget') {
      await context.secrets.delete(TOKEN_KEY);
      void vscode.window.showInformationMessage(vscode.l10n.t('LIFT: the Hugging Face token is forgotten.'));
      return undefined;
    }
    if (picked.action === 'folder') {
      const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Use this model') });
      return uri?.[0] ? use(uri[0].fsPath, uri[0].fsPath, false) : undefined;
    }
    let model = picked.model ?? '';
    if (picked.action === 'id') {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('LIFT: a Hugging Face model'),
        prompt: vscode.l10n.t('A Llama-family model with safetensors weights, e.g. Qwen/Qwen2.5-Coder-0.5B-Instruct (optionally @revision)'),
        validateInput: (v) => (HUB_ID.test(v.trim()) ? undefined : vscode.l10n.t('Write it as org/name, optionally @revision')),
      });
      if (!typed) return undefined;
      model = typed.trim();
    }
    if (!model) return use('', undefined, false);
    // in the cache already: nothing to ask the Hub (learning and answering read the snapshot)
    if (picked.cached) return use(model, undefined, false);
    const dir = await pull(model);
    return dir ? use(model, dir, false) : undefined;
  });
}
