/**
 * `#` mentions in the sidebar: the workspace's files and symbols that match what was typed, and a
 * mention's lines for the model's context. Only files inside a workspace folder, never a secret one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isInside } from '../native/files';
import { isSecretFile } from '../native/lift/secretFiles';
import type { CodeRange } from '../native/protocol';
import type { Mention, MentionItem } from '../webview/messages';

/** Lines of a file that a mention without lines brings (its start), and the most a symbol brings. */
const FILE_LINES = 40;
const SYMBOL_LINES = 120;
/** The most completions offered at once. */
const MAX_ITEMS = 12;

/** A path relative to a workspace folder (or "folder/…" in a multi-root workspace) as a file inside it, if it is one. */
export function workspaceFile(rel: string): string | undefined {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') continue;
    for (const candidate of [rel, rel.startsWith(`${folder.name}/`) ? rel.slice(folder.name.length + 1) : undefined]) {
      if (!candidate) continue;
      const file = path.resolve(folder.uri.fsPath, candidate);
      // inside the folder by path.relative (a drive-root folder, another case of the drive letter), and a file
      if (isInside(file, folder.uri.fsPath) && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
    }
  }
  return undefined;
}

/** How well a path matches the query: lower is better; undefined: no match. */
function rank(rel: string, query: string): number | undefined {
  const q = query.toLowerCase();
  const p = rel.toLowerCase();
  const base = path.posix.basename(p);
  if (!q) return 3;
  if (base.startsWith(q)) return 0;
  if (base.includes(q)) return 1;
  if (p.includes(q)) return 2;
  // the query's characters in order (e.g. "srcmn" for src/main.ts)
  let i = 0;
  for (const c of p) if (c === q[i]) i++;
  return i === q.length ? 4 : undefined;
}

export class Mentions {
  private files: { at: number; list: Promise<string[]> } | undefined;

  /** The workspace's files (relative, as the sidebar shows them), listed again after 10 s. */
  private workspaceFiles(): Promise<string[]> {
    if (!this.files || Date.now() - this.files.at > 10_000) {
      const list = vscode.workspace.findFiles('**/*', undefined, 5000).then((uris) =>
        uris
          .filter((u) => u.scheme === 'file')
          .map((u) => vscode.workspace.asRelativePath(u))
          .filter((rel) => !isSecretFile(rel)),
      );
      this.files = { at: Date.now(), list: Promise.resolve(list) };
    }
    return this.files.list;
  }

  /** Files whose path matches the query, then symbols whose name does (VS Code's workspace symbol providers). */
  async complete(query: string): Promise<MentionItem[]> {
    const files = (await this.workspaceFiles())
      .map((rel) => ({ rel, score: rank(rel, query) }))
      .filter((x): x is { rel: string; score: number } => x.score !== undefined)
      .sort((a, b) => a.score - b.score || a.rel.length - b.rel.length || a.rel.localeCompare(b.rel))
      .slice(0, MAX_ITEMS)
      .map(({ rel }): MentionItem => ({ kind: 'file', label: rel, path: rel, detail: path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel) }));
    const symbols: MentionItem[] = [];
    if (query.length >= 2) {
      const found = (await vscode.commands.executeCommand<vscode.SymbolInformation[] | undefined>('vscode.executeWorkspaceSymbolProvider', query)) ?? [];
      for (const s of found) {
        if (symbols.length === MAX_ITEMS - Math.min(files.length, MAX_ITEMS / 2)) break;
        const uri = s.location.uri;
        const rel = vscode.workspace.asRelativePath(uri);
        if (uri.scheme !== 'file' || rel === uri.fsPath || isSecretFile(rel)) continue;
        const name = s.name.replace(/\(\)$/, ''); // TypeScript names functions "main()"
        const startLine = s.location.range.start.line + 1;
        const endLine = Math.min(s.location.range.end.line + 1, startLine + SYMBOL_LINES - 1);
        if (symbols.some((x) => x.label === name && x.path === rel && x.startLine === startLine)) continue;
        symbols.push({ kind: 'symbol', label: name, path: rel, startLine, endLine, detail: `${s.containerName ? `${s.containerName} · ` : ''}${rel}:${startLine}` });
      }
    }
    return [...files.slice(0, MAX_ITEMS - symbols.length), ...symbols];
  }

  /** A mention's lines (the file's start when it names none), with the editor's text; undefined: not a file of this workspace. */
  async resolve(m: Mention): Promise<CodeRange | undefined> {
    const file = workspaceFile(m.path);
    if (!file) return undefined;
    let doc: vscode.TextDocument;
    try {
      doc = await vscode.workspace.openTextDocument(file);
    } catch (err) {
      throw new Error(vscode.l10n.t('LIFT cannot read #{0}: {1}', m.label, err instanceof Error ? err.message : String(err)));
    }
    // the empty line after a file's final newline is not one of its lines
    const last = doc.lineCount > 1 && doc.lineAt(doc.lineCount - 1).text === '' ? doc.lineCount - 1 : doc.lineCount;
    const startLine = Math.min(m.startLine ?? 1, last);
    const endLine = Math.min(m.endLine ?? startLine + FILE_LINES - 1, last, startLine + SYMBOL_LINES - 1);
    return { file, startLine, endLine, code: doc.getText(new vscode.Range(startLine - 1, 0, endLine - 1, Number.MAX_SAFE_INTEGER)) };
  }
}
