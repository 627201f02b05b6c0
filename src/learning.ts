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
import { phaseWords } from '../webview/words';

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
      const open = vscode.l10n.t('Open Settings');
      const choice = await vscode.window.showWarningMessage(
        vscode.l10n.t('Set "lift.model" to a Hugging Face model folder of the Llama family (config.json, *.safetensors, tokenizer.json) to learn: the bundled default model is missing from this installation.'),
        open,
      );
      if (choice === open) await vscode.commands.executeCommand('workbench.action.openSettings', 'lift.model');
      return undefined;
    }
    if (!this.storage) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Open a folder or workspace first: LIFT keeps the learned adapter in the workspace\'s storage.'));
      return undefined;
    }
    if (this.current) {
      void vscode.window.showInformationMessage(vscode.l10n.t('LIFT is already learning; cancel it first ("LIFT: Cancel Learning").'));
      return undefined;
    }
    const store = path.join(this.storage.fsPath, 'adapters');
    fs.mkdirSync(store, { recursive: true });
    const source = new CancellationTokenSource();
    this.current = source;
    this.opts.onBusy(phaseWords(undefined));
    const started = Date.now();
    let view: LearningView | undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('LIFT: learning {0}', what), cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => source.cancel());
          let reported = 0;
          let shown = 0;
          view = { state: 'running', what, losses: [] };
          this.opts.onView?.(view);
          let asked = false;
          const stopLabel = vscode.l10n.t('Stop');
          const onProgress = (p: LearnProgress): void => {
            if (p.message && p.phase !== 'save') this.log.info(`${p.phase}: ${p.message}`); // the memory estimate, the budget, model-written QA
            if (p.estimateSeconds !== undefined) progress.report({ message: p.message });
            if (p.overBudget && !asked) {
              // even one pass takes longer than the budget: learning goes on unless the user stops it
              asked = true;
              const minutes = (s: number): number => Math.max(1, Math.round(s / 60));
              void vscode.window
                .showWarningMessage(vscode.l10n.t('LIFT: learning {0} takes about {1} min on this machine, over your budget of {2} min (lift.learnBudgetMinutes). Go on?', what, minutes(p.overBudget.estimateSeconds), minutes(p.overBudget.budgetSeconds)), vscode.l10n.t('Go On'), stopLabel)
                .then((c) => c === stopLabel && source.cancel());
            }
            if (p.phase === 'train' && p.step === undefined) return; // a note on training (skipped steps): the log only
            view = { ...view!, phase: p.phase, step: p.step, totalSteps: p.totalSteps, etaSeconds: p.etaSeconds, losses: p.loss !== undefined ? [...view!.losses, p.loss] : view!.losses };
            if (Date.now() - shown > 250 || p.step === p.totalSteps) {
              shown = Date.now();
              this.opts.onView?.(view);
            }
            if (p.phase === 'train' && p.step && p.totalSteps) {
              const pct = Math.floor((100 * p.step) / p.totalSteps);
              progress.report({ increment: pct - reported, message: vscode.l10n.t('training {0}/{1}, loss {2}, {3} s left', p.step, p.totalSteps, p.loss?.toFixed(3) ?? '', Math.ceil(p.etaSeconds ?? 0)) });
              reported = pct;
              this.opts.onBusy(`${pct}%`);
            } else if (p.phase !== 'collect' || !p.step) {
              const phase = phaseWords(p.phase);
              progress.report({ message: p.phase === 'build' ? vscode.l10n.t('building the training graph') : p.phase === 'save' ? vscode.l10n.t('saving the adapter') : `${phase}…` });
              this.opts.onBusy(phase);
            }
          };
          const result = await this.trainer.learn(
            { roots, model, store, include: settings.include, exclude: settings.exclude, tokenBudget: settings.tokenBudget, adapterKind: settings.adapterKind, rank: settings.adapterRank > 0 ? settings.adapterRank : undefined, modelQA: settings.modelQA || undefined, epochs: settings.epochs > 0 ? settings.epochs : undefined, budgetMinutes: settings.learnBudgetMinutes, preset: settings.preset, memoryCheck: settings.memoryCheck, recompute: settings.recompute, segmentLength: settings.segmentLength > 0 ? settings.segmentLength : undefined, batch: settings.batchSize > 0 ? settings.batchSize : undefined, incremental },
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
              ? vscode.l10n.t('LIFT: nothing changed in {0} since it was learned.', what)
              : `${vscode.l10n.t('LIFT learned {0}: {1} files ({2} tokens) in {3} s.', what, result.files, result.tokens, seconds)}${result.selfCheck?.asked ? ` ${result.selfCheck.direct < 0.7 * result.selfCheck.asked && settings.preset !== 'thorough' ? vscode.l10n.t('It answers {0} of {1} check questions; the thorough preset (lift.preset) learns more.', result.selfCheck.direct, result.selfCheck.asked) : vscode.l10n.t('It answers {0} of {1} check questions.', result.selfCheck.direct, result.selfCheck.asked)}` : ''}`,
          );
          return result;
        },
      );
    } catch (err) {
      if (view) this.opts.onView?.({ ...view, state: err instanceof TrainerError && err.kind === 'cancelled' ? 'cancelled' : 'failed', error: err instanceof Error ? err.message : String(err) });
      if (err instanceof TrainerError && err.kind === 'cancelled') {
        this.log.info(`Learning ${what} was cancelled; the previous adapter is unchanged.`);
        void vscode.window.showInformationMessage(vscode.l10n.t('LIFT: learning cancelled; the previous adapter is unchanged.'));
        return undefined;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`Learning ${what} failed: ${message}`);
      const show = vscode.l10n.t('Show Trainer Log');
      void vscode.window.showErrorMessage(vscode.l10n.t('LIFT could not learn {0}: {1}', what, message), show).then((c) => c === show && this.log.show());
      return undefined;
    } finally {
      this.current = undefined;
      source.dispose();
      this.opts.onBusy(undefined);
    }
  }
}
