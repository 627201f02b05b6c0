/** The sidebar chat view: hosts the webview bundle and connects it to the chat controller. */
import * as vscode from 'vscode';
import type { ChatController } from './chatController';
import { makeNonce, renderChatHtml } from './webviewHtml';

export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewId = 'lift.chat';

  private readonly resolved: Promise<void>;
  private readonly readyPromise: Promise<void>;
  private markResolved!: () => void;
  private markReady!: () => void;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly chat: ChatController,
  ) {
    this.resolved = new Promise((r) => (this.markResolved = r));
    this.readyPromise = new Promise((r) => (this.markReady = r));
  }

  /** Settles once VS Code has created the view / once its script has started. */
  get whenResolved(): Promise<void> {
    return this.resolved;
  }
  get whenReady(): Promise<void> {
    return this.readyPromise;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    view.webview.html = renderChatHtml({
      cspSource: view.webview.cspSource,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      nonce: makeNonce(),
      lang: vscode.env.language,
      ...(vscode.l10n.bundle ? { l10n: vscode.l10n.bundle } : {}),
    });
    this.chat.attach((m) => view.webview.postMessage(m));
    view.webview.onDidReceiveMessage((m: unknown) => {
      if ((m as { type?: unknown })?.type === 'ready') this.markReady();
      void this.chat.handle(m);
    });
    view.onDidDispose(() => this.chat.attach(() => undefined));
    this.markResolved();
  }
}
