/** The extension in VS Code running in a pseudo-locale (run.mjs --pseudo-locale): every string it shows is translated. */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LiftApi } from '../../../src/extension';
import { visibleStrings } from '../../manifestStrings';

const EXTENSION_ID = 'lift-vscode.lift-vscode';

describe('LIFT in a pseudo-locale (qps-ploc)', () => {
  let api: LiftApi;
  before(async () => {
    api = await vscode.extensions.getExtension<LiftApi>(EXTENSION_ID)!.activate();
  });

  it('VS Code runs in qps-ploc', () => {
    assert.equal(vscode.env.language, 'qps-ploc');
  });

  it('every contributed string is shown translated (package.nls.qps-ploc.json)', () => {
    const strings = visibleStrings(vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON).filter((s) => !s.kept);
    assert.ok(strings.length >= 40, `only ${strings.length} contributed strings`);
    assert.deepEqual(strings.filter((s) => !s.value.startsWith('⟦')).map((s) => `${s.where}: ${s.value}`), []);
  });

  it("the extension's own messages come from its l10n bundle (the host configures @vscode/l10n with it)", async () => {
    // (this suite's own `vscode.l10n` is not the extension's: VS Code gives each extension its own)
    const outcome = await api.chat.ask('What is here?');
    assert.equal(outcome.outcome, 'done', outcome.error);
    assert.match(outcome.note ?? '', /^⟦Básé módél \(thís wórkspácé ís nót léárnéd yét\)⟧/);
  });

  it('the sidebar opens (the runner then reads its strings)', async () => {
    await vscode.commands.executeCommand('lift.chat.focus');
    await api.chatView.whenReady;
  });
});
