/**
 * The messages of every l10n.t call in src/ and webview/ (vscode.l10n.t and @vscode/l10n's),
 * read with the TypeScript compiler: what a translation bundle is keyed by.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { repoRoot } from './helpers';

export function sources(): ts.SourceFile[] {
  return ['src', 'webview'].flatMap((dir) =>
    fs
      .readdirSync(path.join(repoRoot, dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => ts.createSourceFile(`${dir}/${f}`, fs.readFileSync(path.join(repoRoot, dir, f), 'utf8'), ts.ScriptTarget.ES2022, true)),
  );
}

export const isL10n = (n: ts.Node): n is ts.CallExpression => ts.isCallExpression(n) && /^(vscode\.)?l10n\.t$/.test(n.expression.getText());

/** Every l10n.t call: where it is, its message (undefined when not a literal) and how many arguments follow. */
export function l10nCalls(): { where: string; message: string | undefined; args: number }[] {
  const calls: { where: string; message: string | undefined; args: number }[] = [];
  for (const file of sources()) {
    const visit = (n: ts.Node): void => {
      if (isL10n(n)) {
        const [first, ...rest] = n.arguments;
        const where = `${file.fileName}:${file.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
        calls.push({ where, message: first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first)) ? first.text : undefined, args: rest.length });
      }
      ts.forEachChild(n, visit);
    };
    visit(file);
  }
  return calls;
}

/** A message in the pseudo-locale: wrapped in ⟦ ⟧ with its vowels accented, its {n} kept. */
export function pseudo(message: string): string {
  const accent: Record<string, string> = { a: 'á', e: 'é', i: 'í', o: 'ó', u: 'ú', A: 'Á', E: 'É', I: 'Í', O: 'Ó', U: 'Ú' };
  return `⟦${message.replace(/\{\d+\}|[aeiouAEIOU]/g, (m) => accent[m] ?? m)}⟧`;
}

/** A pseudo-locale bundle of every message of src/ and webview/. */
export function pseudoBundle(): Record<string, string> {
  const bundle: Record<string, string> = {};
  for (const { message } of l10nCalls()) if (message) bundle[message] = pseudo(message);
  return bundle;
}
