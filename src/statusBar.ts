/**
 * The LIFT status bar item: trainer problems first, then learning progress, then what the
 * workspace's adapter knows (not learned / learned 3 min ago / stale: 2 files changed).
 */
import * as vscode from 'vscode';
import type { TrainerState } from '../native/client';
import type { AdapterStatus } from '../native/protocol';
import { timeAgo } from '../webview/words';

export class LiftStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lift.status', vscode.StatusBarAlignment.Right, 100);
  private trainer: TrainerState = 'stopped';
  private busy: string | undefined;
  private adapter: AdapterStatus | undefined;

  constructor() {
    this.item.name = 'LIFT';
    this.item.command = 'lift.showTrainerLog';
    this.render();
    this.item.show();
  }

  /** What the item shows now (for tests and the log). */
  get text(): string {
    return this.item.text;
  }

  /** The same in words (its tooltip): what the workspace's adapter knows, or what LIFT is doing. */
  get summary(): string {
    return typeof this.item.tooltip === 'string' ? this.item.tooltip : this.item.text;
  }

  setTrainer(state: TrainerState): void {
    this.trainer = state;
    this.render();
  }

  setBusy(text: string | undefined): void {
    this.busy = text;
    this.render();
  }

  setAdapter(status: AdapterStatus | undefined): void {
    this.adapter = status;
    this.render();
  }

  private render(): void {
    const i = this.item;
    i.backgroundColor = undefined;
    if (this.trainer === 'failed') {
      i.text = '$(error) LIFT';
      i.tooltip = vscode.l10n.t('LIFT trainer: unavailable after repeated crashes. Click to see the log.');
      i.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (this.trainer === 'crashed') {
      i.text = '$(warning) LIFT';
      i.tooltip = vscode.l10n.t('LIFT trainer: stopped unexpectedly; restarts on the next request');
    } else if (this.busy) {
      i.text = `$(sync~spin) LIFT ${this.busy}`;
      i.tooltip = vscode.l10n.t('LIFT is learning ("LIFT: Cancel Learning" stops it)');
    } else if (this.trainer === 'starting') {
      i.text = '$(loading~spin) LIFT';
      i.tooltip = vscode.l10n.t('LIFT trainer: starting');
    } else if (!this.adapter?.learned) {
      i.text = '$(sparkle) LIFT';
      i.tooltip = vscode.l10n.t('LIFT: this workspace is not learned yet ("LIFT: Learn This Workspace")');
    } else {
      const { changed, removed, added } = this.adapter.stale;
      const n = changed.length + removed.length + added.length;
      i.text = n ? `$(warning) ${n > 1 ? vscode.l10n.t('LIFT stale: {0} files changed', n) : vscode.l10n.t('LIFT stale: 1 file changed')}` : `$(sparkle) ${vscode.l10n.t('LIFT learned {0}', timeAgo(this.adapter.createdAt))}`;
      i.tooltip = n
        ? vscode.l10n.t('Changed since learning: {0}. Run "LIFT: Relearn Changes".', [...changed, ...added.map((a) => vscode.l10n.t('{0} (new)', a)), ...removed.map((r) => vscode.l10n.t('{0} (removed)', r))].slice(0, 10).join(', '))
        : vscode.l10n.t('LIFT learned {0} files ({1} tokens) {2}', this.adapter.files, this.adapter.tokens, timeAgo(this.adapter.createdAt));
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
