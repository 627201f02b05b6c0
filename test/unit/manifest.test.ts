import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const read = (f: string): string => fs.readFileSync(path.join(repoRoot, f), 'utf8');

test('declares the product commands under the LIFT category', () => {
  const titles = Object.fromEntries(pkg.contributes.commands.map((c: { command: string; title: string; category: string }) => [c.command, `${c.category}: ${c.title}`]));
  assert.deepEqual(
    {
      learnWorkspace: titles['lift.learnWorkspace'],
      learnDocument: titles['lift.learnDocument'],
      ask: titles['lift.ask'],
      explain: titles['lift.explainSelection'],
      cancel: titles['lift.cancelLearning'],
      log: titles['lift.showTrainerLog'],
    },
    {
      learnWorkspace: 'LIFT: Learn This Workspace',
      learnDocument: 'LIFT: Learn This Document',
      ask: 'LIFT: Ask About This Workspace',
      explain: 'LIFT: Explain Selection',
      cancel: 'LIFT: Cancel Learning',
      log: 'LIFT: Show Trainer Log',
    },
  );
});

test('every command the code registers is declared, and every declared one is registered', () => {
  const declared = new Set<string>(pkg.contributes.commands.map((c: { command: string }) => c.command));
  const registered = new Set([...read('src/extension.ts').matchAll(/registerCommand\('([^']+)'/g)].map((m) => m[1]!));
  assert.deepEqual([...registered].sort(), [...declared].sort());
});

test('an activity-bar container holds the webview chat view, with an icon', () => {
  const container = pkg.contributes.viewsContainers.activitybar.find((c: { id: string }) => c.id === 'lift');
  assert.ok(container);
  assert.ok(fs.existsSync(path.join(repoRoot, container.icon)));
  assert.deepEqual(pkg.contributes.views.lift.map((v: { type: string; id: string }) => [v.type, v.id]), [['webview', 'lift.chat']]);
  assert.ok(fs.existsSync(path.join(repoRoot, pkg.icon)));
});

test('settings cover model, device, globs, budget, rank and epochs with sane defaults', () => {
  const p = pkg.contributes.configuration.properties;
  assert.deepEqual(p['lift.device'].enum, ['auto', 'cuda', 'cpu']);
  assert.equal(p['lift.device'].default, 'auto');
  assert.equal(p['lift.model'].default, '');
  assert.ok(Array.isArray(p['lift.include'].default) && Array.isArray(p['lift.exclude'].default));
  assert.deepEqual([p['lift.preset'].enum, p['lift.preset'].default], [['fast', 'thorough'], 'fast']);
  for (const key of ['lift.tokenBudget', 'lift.adapter.rank', 'lift.epochs', 'lift.modelQA']) {
    const { default: d, minimum, maximum } = p[key];
    assert.ok(Number.isInteger(d) && d >= minimum && d <= maximum, key);
  }
});

test('engines.vscode matches the @types/vscode the code is checked against', () => {
  const engine = pkg.engines.vscode.replace(/^\^/, '');
  assert.equal(pkg.devDependencies['@types/vscode'], engine);
});

test('restricted mode is limited: settings that choose what runs are not taken from the workspace', () => {
  const trust = pkg.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  assert.deepEqual(trust.restrictedConfigurations.sort(), ['lift.model', 'lift.trainerPath']);
  assert.match(read('src/extension.ts'), /workspace\.isTrusted/);
});

test('installs stay offline: .npmrc skips the ONNX Runtime CUDA download', () => {
  assert.match(read('.npmrc'), /^onnxruntime-node-install=skip$/m);
  assert.equal(pkg.dependencies['onnxruntime-node'], '1.30.0');
  // runtime dependencies are only what cannot be bundled: a native addon and wasm grammars
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['@vscode/tree-sitter-wasm', 'onnxruntime-node']);
});

test('the manifest has no duplicate keys (a second "commandPalette" once silently replaced the first)', () => {
  const text = read('package.json');
  // every object's keys, by walking the text with a stack of key sets
  const stack: Set<string>[] = [];
  const dupes: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"(\s*:)?|[{}[\]]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0] === '{') stack.push(new Set());
    else if (m[0] === '}') stack.pop();
    else if (m[2] && stack.length) {
      const keys = stack.at(-1)!;
      if (keys.has(m[1]!)) dupes.push(m[1]!);
      keys.add(m[1]!);
    }
  }
  assert.deepEqual(dupes, []);
  const hidden = pkg.contributes.menus.commandPalette.filter((e: { when?: string }) => e.when === 'false').map((e: { command: string }) => e.command);
  assert.deepEqual(hidden, ['lift.explainRange'], 'the internal command stays out of the palette');
});
