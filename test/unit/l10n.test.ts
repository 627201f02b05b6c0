/**
 * User-visible strings are translatable: the extension host's through vscode.l10n.t (messages,
 * input boxes, quick picks, progress, the status bar, CodeLens, @lift's replies), the sidebar's
 * and the shared code's through @vscode/l10n's l10n.t (configured with the same bundle). Read
 * with the TypeScript compiler from src/ and webview/, so a new raw string there fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ts from 'typescript';
import { isL10n, l10nCalls, sources } from '../l10nMessages';

const UI_CALLS = /^(showInformationMessage|showWarningMessage|showErrorMessage|showInputBox|showQuickPick|showOpenDialog|withProgress|setStatusBarMessage|report|progress|button|createCommentController)$/;
const UI_PROPERTIES = /^(title|prompt|placeHolder|label|description|detail|message|openLabel|tooltip|text)$/;
/** Words in a literal: two letters in a row outside a codicon such as $(sparkle), the brand (LIFT) and ids (lift.explanations). */
const wordy = (text: string): boolean => !/^[a-z]+(\.[A-Za-z]+)+$/.test(text) && /[A-Za-z]{2}/.test(text.replace(/\$\([\w~-]+\)/g, '').replace(/\bLIFT\b/g, ''));

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

test('every string the extension and its sidebar show goes through l10n.t', () => {
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
        } else if (name === 'el' && n.arguments[1]) rawText(n.arguments[1], found);
        else if (name === 'setAttribute' && /^'(placeholder|aria-label|title)'$/.test(n.arguments[0]?.getText() ?? '')) rawText(n.arguments[1]!, found);
      } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(n.left) && /^(text|tooltip|textContent|title)$/.test(n.left.name.text)) {
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

test('l10n.t takes a literal message (what bundles are keyed by), with its arguments as {n}', () => {
  const bad: string[] = [];
  const messages = new Set<string>();
  for (const { where, message, args } of l10nCalls()) {
    if (message === undefined) {
      bad.push(`${where}: not a literal`);
      continue;
    }
    messages.add(message);
    const used = new Set([...message.matchAll(/\{(\d+)\}/g)].map((m) => Number(m[1])));
    if (used.size !== args || [...used].some((i) => i >= args)) bad.push(`${where}: ${args} argument(s) for ${JSON.stringify(message)}`);
  }
  assert.deepEqual(bad, []);
  assert.ok(messages.size > 100, `${messages.size} messages`);
});
