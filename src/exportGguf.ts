/**
 * "LIFT: Export for Ollama / llama.cpp…": the model and the workspace's active adapter as GGUF
 * files and an Ollama Modelfile, in a folder the user picks (the trainer writes them, atomically).
 * A scripted call (`{ outDir, quant?, merge? }`) asks nothing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainerClient } from '../native/client';
import type { ExportGgufParams, ExportGgufResult } from '../native/protocol';
import { readSettings } from './config';

export interface ExportGgufDeps {
  trainer: TrainerClient;
  /** The workspace's adapter store (its active adapter is exported), if a folder is open. */
  store: string | undefined;
  /** The bundled model's folder, for an empty "lift.model". */
  defaultModel: string | undefined;
}

type Quant = NonNullable<ExportGgufParams['quant']>;

export function registerExportGguf(d: ExportGgufDeps): vscode.Disposable {
  return vscode.commands.registerCommand('lift.exportGguf', async (scripted?: { outDir: string; quant?: Quant; merge?: boolean }): Promise<ExportGgufResult | undefined> => {
    const model = readSettings().model || d.defaultModel;
    if (!model) {
      void vscode.window.showErrorMessage(vscode.l10n.t('LIFT: no model to export: set "lift.model".'));
      return undefined;
    }
    let outDir = scripted?.outDir;
    let quant: Quant = scripted?.quant ?? 'q8_0';
    if (!scripted) {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: vscode.l10n.t('Export Here'), title: vscode.l10n.t('LIFT: Export for Ollama / llama.cpp') });
      if (!picked?.[0]) return undefined;
      outDir = picked[0].fsPath;
      const choices: (vscode.QuickPickItem & { quant: Quant })[] = [
        { label: 'q8_0', description: vscode.l10n.t('8-bit: close to the original, a quarter of float32 (recommended)'), quant: 'q8_0' },
        { label: 'q4_0', description: vscode.l10n.t('4-bit: smallest and fastest, slightly less accurate'), quant: 'q4_0' },
        { label: 'f16', description: vscode.l10n.t('half precision'), quant: 'f16' },
        { label: 'f32', description: vscode.l10n.t('full precision, largest'), quant: 'f32' },
      ];
      const q = await vscode.window.showQuickPick(choices, { title: vscode.l10n.t('LIFT: Weights of the exported model') });
      if (!q) return undefined;
      quant = q.quant;
    }
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('LIFT: exporting to {0}', outDir!) }, () =>
        d.trainer.exportGguf({ model, outDir: outDir!, quant, ...(d.store ? { store: d.store } : {}), ...(scripted?.merge ? { merge: true } : {}) }),
      );
      const ollama = `cd "${path.dirname(r.modelfile)}" && ollama create lift -f Modelfile`;
      if (!scripted) {
        const copy = vscode.l10n.t('Copy Ollama Command');
        const reveal = vscode.l10n.t('Open Folder');
        const what = r.adapter ? vscode.l10n.t('the model, the adapter and a Modelfile') : vscode.l10n.t('the model and a Modelfile (nothing learned yet in this workspace)');
        const choice = await vscode.window.showInformationMessage(vscode.l10n.t('LIFT: exported {0} to {1}.', what, outDir!), copy, reveal);
        if (choice === copy) await vscode.env.clipboard.writeText(ollama);
        if (choice === reveal) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(r.modelfile));
      }
      return r;
    } catch (err) {
      void vscode.window.showErrorMessage(vscode.l10n.t('LIFT: export failed: {0}', err instanceof Error ? err.message : String(err)));
      return undefined;
    }
  });
}
