/**
 * Inline explanations: an "Explain" CodeLens above functions, methods and classes (from the
 * document's symbols, so every language with a symbol provider has it), and a hover that shows
 * an explanation already given for a symbol — kept by content hash, so editing the code drops it.
 */
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import { escapeHtmlOutsideCode } from './untrustedMarkdown';

const KINDS = new Set([vscode.SymbolKind.Function, vscode.SymbolKind.Method, vscode.SymbolKind.Class, vscode.SymbolKind.Constructor, vscode.SymbolKind.Interface]);

export const codeHash = (code: string): string => createHash('sha256').update(code).digest('hex');

interface Explained {
  uri: string;
  startLine: number;
  endLine: number;
  hash: string;
  name: string;
  text: string;
}

/** Explanations given in this session, by document and code content. */
export class ExplanationCache {
  private readonly items: Explained[] = [];

  add(e: Explained): void {
    const i = this.items.findIndex((x) => x.uri === e.uri && x.startLine === e.startLine);
    if (i >= 0) this.items.splice(i, 1);
    this.items.push(e);
    if (this.items.length > 200) this.items.shift();
  }

  /** The explanation for the symbol at `line` (0-based), if its code is unchanged since. */
  at(doc: vscode.TextDocument, line: number): Explained | undefined {
    return this.items
      .filter((x) => x.uri === doc.uri.toString() && line >= x.startLine - 1 && line <= x.endLine - 1 && x.endLine <= doc.lineCount)
      .find((x) => codeHash(doc.getText(new vscode.Range(x.startLine - 1, 0, x.endLine - 1, Number.MAX_SAFE_INTEGER))) === x.hash);
  }
}

export class ExplainCodeLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!vscode.workspace.getConfiguration('lift', doc).get<boolean>('codeLens', true) || doc.uri.scheme !== 'file') return [];
    const symbols = (await vscode.commands.executeCommand<(vscode.DocumentSymbol | vscode.SymbolInformation)[] | undefined>('vscode.executeDocumentSymbolProvider', doc.uri)) ?? [];
    const out: vscode.CodeLens[] = [];
    const visit = (list: readonly (vscode.DocumentSymbol | vscode.SymbolInformation)[], depth: number): void => {
      for (const s of list) {
        const range = 'range' in s ? s.range : s.location.range;
        if (KINDS.has(s.kind) && range.end.line > range.start.line) {
          out.push(new vscode.CodeLens(new vscode.Range(range.start, range.start), { title: `$(sparkle) ${vscode.l10n.t('Explain')}`, tooltip: vscode.l10n.t('LIFT: explain {0}', s.name), command: 'lift.explainRange', arguments: [doc.uri, range.start.line + 1, range.end.line + 1, s.name] }));
        }
        if ('children' in s && depth < 2) visit(s.children, depth + 1);
      }
    };
    visit(symbols, 0);
    return out;
  }
}

export class ExplanationHoverProvider implements vscode.HoverProvider {
  constructor(private readonly cache: ExplanationCache) {}

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const e = this.cache.at(doc, pos.line);
    if (!e) return undefined;
    // model output: plain Markdown, no HTML, no command links
    const md = new vscode.MarkdownString(`**LIFT: ${e.name}**\n\n`);
    md.appendMarkdown(escapeHtmlOutsideCode(e.text));
    md.isTrusted = false;
    md.supportHtml = false;
    return new vscode.Hover(md);
  }
}

/**
 * Explanations inline in the editor: a comment thread under the explained code whose one
 * comment, by "LIFT", fills in as the answer streams (model output as untrusted Markdown).
 */
export class InlineExplanations implements vscode.Disposable {
  private readonly controller = vscode.comments.createCommentController('lift.explanations', vscode.l10n.t('LIFT explanations'));
  /** Open threads by document and first line (for tests and reuse). */
  readonly threads = new Map<string, vscode.CommentThread>();

  constructor() {
    this.controller.options = { prompt: vscode.l10n.t('Explanations by LIFT'), placeHolder: '' };
  }

  /** Opens (or reuses) the thread for a range and returns a function that sets its text. */
  show(uri: vscode.Uri, startLine: number, endLine: number, title: string): { update: (text: string, done?: boolean) => void; thread: vscode.CommentThread } {
    const key = `${uri.toString()}#${startLine}`;
    this.threads.get(key)?.dispose();
    const thread = this.controller.createCommentThread(uri, new vscode.Range(endLine - 1, 0, endLine - 1, 0), []);
    thread.canReply = false;
    thread.label = title;
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    thread.contextValue = 'lift.explanation';
    this.threads.set(key, thread);
    let last = 0;
    const update = (text: string, done = false): void => {
      if (!done && Date.now() - last < 150) return;
      last = Date.now();
      const body = new vscode.MarkdownString(escapeHtmlOutsideCode(text) || '…');
      body.isTrusted = false;
      body.supportHtml = false;
      thread.comments = [{ author: { name: 'LIFT' }, body, mode: vscode.CommentMode.Preview, label: done ? undefined : vscode.l10n.t('writing…') }];
    };
    update('', true);
    return { update, thread };
  }

  dispose(): void {
    for (const t of this.threads.values()) t.dispose();
    this.controller.dispose();
  }
}
