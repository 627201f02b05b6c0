/**
 * "Learn This Workspace" / "Learn This Document": runs the trainer's `learn` on the workspace
 * folders or the active document, with a cancellable notification (phase, step, loss, ETA) and
 * the adapter kept in the workspace's storage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { type TrainerClient, TrainerError } from '../native/client';
import type { LearnProgress, LearnResult } from '../native/protocol';
import { readSettings } from './config';
import type { LearningView } from '../webview/messages';

export class Learning {
  private current: CancellationTokenSource | undefined;

  constructor(
    private readonly trainer: TrainerClient,
    private readonly storage: vscode.Uri | undefined,
    private readonly log: vscode.LogOutputChannel,
    private readonly opts: {
      onBusy: (text: string | undefined) => void;
      /** The bundled default model's folder, used when "lift.model" is empty. */
      defaultModel: string | undefined;
      /** The learning panel's state (throttled while training). */
      onView?: (view: LearningView) => void;
    },
  ) {}

  get running(): boolean {
    return this.current !== undefined;
  }

  cancel(): boolean {
    this.current?.cancel();
    return this.current !== undefined;
  }

  async learn(what: string, roots: string[], incremental = false): Promise<LearnResult | undefined> {
    const settings = readSettings();
    const model = settings.model || this.opts.defaultModel;
    if (!model) {
      const open = 'Open Settings';
      const choice = await vscode.window.showWarningMessage(
        'Set "lift.model" to a Hugging Face model folder of the Llama family (config.json, *.safetensors, tokenizer.json) to learn: the bundled default model is missing from this installation.',
        open,
      );
      if (choice === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'lift.model');
      return undefined;
    }
    if (!this.storage) {
      void vscode.window.showWarningMessage('Open a folder or workspace first: LIFT keeps the learned adapter in the workspace\'s storage.');
      return undefined;
    }
    if (this.current) {
      void vscode.window.showInformationMessage('LIFT is already learning; cancel it first ("LIFT: Cancel Learning").');
      return undefined;
    }
    const store = path.join(this.storage.fsPath, 'adapters');
    fs.mkdirSync(store, { recursive: true });
    const source = new CancellationTokenSource();
    this.current = source;
    this.opts.onBusy('starting');
    const started = Date.now();
    let view: LearningView | undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `LIFT: learning ${what}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => source.cancel());
          let reported = 0;
          let shown = 0;
          view = { state: 'running', what, losses: [] };
          this.opts.onView?.(view);
          let asked = false;
          const onProgress = (p: LearnProgress): void => {
            if (p.message && p.phase !== 'save') this.log.info(`${p.phase}: ${p.message}`); // the memory estimate, the budget, model-written QA
            if (p.estimateSeconds !== undefined) progress.report({ message: p.message });
            if (p.overBudget && !asked) {
              // even one pass takes longer than the budget: learning goes on unless the user stops it
              asked = true;
              const minutes = (s: number): number => Math.max(1, Math.round(s / 60));
              void vscode.window
                .showWarningMessage(`LIFT: learning ${what} takes about ${minutes(p.overBudget.estimateSeconds)} min on this machine, over your budget of ${minutes(p.overBudget.budgetSeconds)} min (lift.learnBudgetMinutes). Go on?`, 'Go On', 'Stop')
                .then((c) => c === 'Stop' && source.cancel());
            }
            if (p.phase === 'train' && p.step === undefined) return; // a note on training (skipped steps): the log only
            view = { ...view!, phase: p.phase, step: p.step, totalSteps: p.totalSteps, etaSeconds: p.etaSeconds, losses: p.loss !== undefined ? [...view!.losses, p.loss] : view!.losses };
            if (Date.now() - shown > 250 || p.step === p.totalSteps) {
              shown = Date.now();
              this.opts.onView?.(view);
            }
            if (p.phase === 'train' && p.step && p.totalSteps) {
              const pct = Math.floor((100 * p.step) / p.totalSteps);
              progress.report({ increment: pct - reported, message: `training ${p.step}/${p.totalSteps}, loss ${p.loss?.toFixed(3)}, ${Math.ceil(p.etaSeconds ?? 0)} s left` });
              reported = pct;
              this.opts.onBusy(`${pct}%`);
            } else if (p.phase !== 'collect' || !p.step) {
              progress.report({ message: p.phase === 'build' ? 'building the training graph' : p.phase === 'save' ? 'saving the adapter' : `${p.phase}…` });
              this.opts.onBusy(p.phase);
            }
          };
          const result = await this.trainer.learn(
            { roots, model, store, include: settings.include, exclude: settings.exclude, tokenBudget: settings.tokenBudget, rank: settings.adapterRank > 0 ? settings.adapterRank : undefined, modelQA: settings.modelQA || undefined, epochs: settings.epochs > 0 ? settings.epochs : undefined, budgetMinutes: settings.learnBudgetMinutes, preset: settings.preset, memoryCheck: settings.memoryCheck, recompute: settings.recompute, segmentLength: settings.segmentLength > 0 ? settings.segmentLength : undefined, batch: settings.batchSize > 0 ? settings.batchSize : undefined, incremental },
            onProgress,
            source.token,
          );
          const seconds = Math.round((Date.now() - started) / 1000);
          view = { ...view!, state: 'done', report: { files: result.files, tokens: result.tokens, qaPairs: result.qaPairs, skipped: result.skippedByReason, redactions: result.redactions, seconds, facts: result.facts, selfCheck: result.selfCheck } };
          this.opts.onView?.(view);
          const skipped = Object.entries(result.skippedByReason).map(([k, n]) => `${n} ${k}`).join(', ');
          this.log.info(`Learned ${what}: ${result.files} files, ${result.tokens} tokens, ${result.steps} steps in ${seconds} s, loss ${result.firstLoss.toFixed(3)} → ${result.finalLoss.toFixed(3)}; skipped ${skipped || 'none'}; ${result.redactions} secrets redacted. Adapter: ${result.adapterDir}`);
          void vscode.window.showInformationMessage(
            incremental && result.steps === 0
              ? `LIFT: nothing changed in ${what} since it was learned.`
              : `LIFT learned ${what}: ${result.files} files (${result.tokens} tokens) in ${seconds} s.${result.selfCheck?.asked ? ` It answers ${result.selfCheck.direct} of ${result.selfCheck.asked} check questions${result.selfCheck.direct < 0.7 * result.selfCheck.asked && settings.preset !== 'thorough' ? '; the thorough preset (lift.preset) learns more' : ''}.` : ''}`,
          );
          return result;
        },
      );
    } catch (err) {
      if (view) this.opts.onView?.({ ...view, state: err instanceof TrainerError && err.kind === 'cancelled' ? 'cancelled' : 'failed', error: err instanceof Error ? err.message : String(err) });
      if (err instanceof TrainerError && err.kind === 'cancelled') {
        this.log.info(`Learning ${what} was cancelled; the previous adapter is unchanged.`);
        void vscode.window.showInformationMessage('LIFT: learning cancelled; the previous adapter is unchanged.');
        return undefined;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`Learning ${what} failed: ${message}`);
      void vscode.window.showErrorMessage(`LIFT could not learn ${what}: ${message}`, 'Show Trainer Log').then((c) => c && this.log.show());
      return undefined;
    } finally {
      this.current = undefined;
      source.dispose();
      this.opts.onBusy(undefined);
    }
  }
}
