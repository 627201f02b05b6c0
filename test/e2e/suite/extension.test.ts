/** The extension inside a real VS Code, talking to the real trainer. */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
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

describe('LIFT in VS Code', () => {
  let api: LiftApi;

  before(async () => {
    const ext = vscode.extensions.getExtension<LiftApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed in the extension host`);
    api = await ext.activate();
    assert.ok(ext.isActive);
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
    const outcome = await within(vscode.commands.executeCommand<AskOutcome>('lift.ask', 'Where is main defined?'), 30_000, 'the answer');
    assert.equal(outcome.outcome, 'done', outcome.error);
    assert.match(outcome.text, /received your question: "Where is main defined\?"/);
  });

  it('killing the trainer mid-request shows an error, and the next request gets a restarted trainer', async () => {
    const before = await api.trainer.initialize();
    const asking = vscode.commands.executeCommand<AskOutcome>('lift.ask', 'a question that is interrupted', { chunkDelayMs: 500 });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(before.pid, 'SIGKILL');
    const outcome = await within(asking, 15_000, 'the interrupted answer to fail');
    assert.equal(outcome.outcome, 'failed');
    assert.match(outcome.error ?? '', /stopped unexpectedly \(killed by SIGKILL\)/);

    const status = await within(vscode.commands.executeCommand<TrainerStatus | undefined>('lift.showTrainerLog'), 60_000, 'the restarted trainer');
    assert.ok(status, 'a restarted trainer answered');
    assert.notEqual(status.pid, before.pid);
  });
});
