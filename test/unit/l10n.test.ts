/**
 * The extension host's user-visible strings go through vscode.l10n.t: messages, input boxes,
 * quick picks, progress, the status bar, CodeLens and @lift's replies. Read with the TypeScript
 * compiler from src/, so a new raw string in one of those places fails here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../helpers';

const UI_CALLS = /^(showInformationMessage|showWarningMessage|showErrorMessage|showInputBox|showQuickPick|showOpenDialog|withProgress|setStatusBarMessage|report|progress|button|createCommentController)$/;
const UI_PROPERTIES = /^(title|prompt|placeHolder|label|description|detail|message|openLabel|tooltip)$/;
/** Words in a literal: two letters in a row outside a codicon such as $(sparkle), the brand (LIFT) and ids (lift.explanations). */
const wordy = (text: string): boolean => !/^[a-z]+(\.[A-Za-z]+)+$/.test(text) && /[A-Za-z]{2}/.test(text.replace(/\$\([\w~-]+\)/g, '').replace(/\bLIFT\b/g, ''));

function sources(): ts.SourceFile[] {
  const dir = path.join(repoRoot, 'src');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ts.createSourceFile(`src/${f}`, fs.readFileSync(path.join(dir, f), 'utf8'), ts.ScriptTarget.ES2022, true));
}

const isL10n = (n: ts.Node): n is ts.CallExpression => ts.isCallExpression(n) && n.expression.getText() === 'vscode.l10n.t';

/** The raw words a UI value would show: literals not inside vscode.l10n.t. */
function rawText(n: ts.Expression, found: string[]): void {
  if (isL10n(n)) return;
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
    if (wordy(n.text)) found.push(n.text);
  } else if (ts.isTemplateExpression(n)) {
    for (const part of [n.head.text, ...n.templateSpans.map((s) => s.literal.text)]) if (wordy(part)) found.push(part);
    for (const s of n.templateSpans) rawText(s.expression, found);
  } else if (ts.isConditionalExpression(n)) {
    rawText(n.whenTrue, found);
    rawText(n.whenFalse, found);
  } else if (ts.isBinaryExpression(n) && (n.operatorToken.kind === ts.SyntaxKind.PlusToken || n.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken)) {
    rawText(n.left, found);
    rawText(n.right, found);
  } else if (ts.isParenthesizedExpression(n)) rawText(n.expression, found);
  else if (ts.isObjectLiteralExpression(n) || ts.isArrayLiteralExpression(n)) {
    for (const e of ts.isObjectLiteralExpression(n) ? n.properties : n.elements) {
      if (ts.isPropertyAssignment(e) && UI_PROPERTIES.test(e.name.getText())) rawText(e.initializer, found);
      else if (ts.isObjectLiteralExpression(e) || ts.isArrayLiteralExpression(e)) rawText(e, found);
    }
  }
}

test('every string the extension host shows goes through vscode.l10n.t', () => {
  const raw: string[] = [];
  let calls = 0;
  for (const file of sources()) {
    const visit = (n: ts.Node): void => {
      const where = `${file.fileName}:${file.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
      const found: string[] = [];
      if (ts.isCallExpression(n)) {
        const name = ts.isPropertyAccessExpression(n.expression) ? n.expression.name.text : n.expression.getText();
        if (UI_CALLS.test(name)) {
          calls++;
          for (const a of n.arguments) rawText(a, found);
        }
      } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(n.left) && /^(text|tooltip)$/.test(n.left.name.text)) {
        rawText(n.right, found);
      } else if (ts.isPropertyAssignment(n) && /^(errorDetails|label)$/.test(n.name.getText())) {
        rawText(n.initializer, found);
      }
      for (const f of found) raw.push(`${where}: ${JSON.stringify(f)}`);
      ts.forEachChild(n, visit);
    };
    visit(file);
  }
  assert.ok(calls > 40, `found the UI calls (${calls})`);
  assert.deepEqual(raw, []);
});

test('vscode.l10n.t takes a literal message (what bundles are keyed by), with its arguments as {n}', () => {
  const bad: string[] = [];
  const messages = new Set<string>();
  for (const file of sources()) {
    const visit = (n: ts.Node): void => {
      if (isL10n(n)) {
        const [first, ...rest] = n.arguments;
        const where = `${file.fileName}:${file.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
        if (!first || !(ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) bad.push(`${where}: not a literal`);
        else {
          messages.add(first.text);
          const used = new Set([...first.text.matchAll(/\{(\d+)\}/g)].map((m) => Number(m[1])));
          if (used.size !== rest.length || [...used].some((i) => i >= rest.length)) bad.push(`${where}: ${rest.length} argument(s) for ${JSON.stringify(first.text)}`);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(file);
  }
  assert.deepEqual(bad, []);
  assert.ok(messages.size > 60, `${messages.size} messages`);
});
