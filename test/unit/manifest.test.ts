import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers';
import { visibleStrings } from '../manifestStrings';

const read = (f: string): string => fs.readFileSync(path.join(repoRoot, f), 'utf8');
/** package.json as written: its user-visible strings are %keys% of package.nls.json. */
const raw = JSON.parse(read('package.json'));
const nls: Record<string, string> = JSON.parse(read('package.nls.json'));
/** The manifest as VS Code shows it in English: every %key% replaced by its string. */
const localized = (v: unknown): unknown =>
  typeof v === 'string' ? v.replace(/^%([\w.-]+)%$/, (m, k: string) => nls[k] ?? m) : Array.isArray(v) ? v.map(localized) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, localized(x)])) : v;
const pkg = localized(raw) as typeof raw;

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
  const sources = fs.readdirSync(path.join(repoRoot, 'src')).filter((f) => f.endsWith('.ts')).map((f) => read(`src/${f}`));
  const registered = new Set(sources.flatMap((text) => [...text.matchAll(/registerCommand\('([^']+)'/g)].map((m) => m[1]!)));
  assert.deepEqual([...registered].sort(), [...declared].sort());
});

test('an activity-bar container holds the webview chat view, with an icon', () => {
  const container = pkg.contributes.viewsContainers.activitybar.find((c: { id: string }) => c.id === 'lift');
  assert.ok(container);
  assert.ok(fs.existsSync(path.join(repoRoot, container.icon)));
  assert.deepEqual(pkg.contributes.views.lift.map((v: { type: string; id: string }) => [v.type, v.id]), [['webview', 'lift.chat']]);
  assert.ok(fs.existsSync(path.join(repoRoot, pkg.icon)));
});

type Setting = { default?: unknown; scope?: string; order?: number; tags?: string[]; minimum?: number; maximum?: number; enum?: string[] };
const groups: { id: string; title: string; order: number; properties: Record<string, Setting> }[] = pkg.contributes.configuration;
const settings: Record<string, Setting> = Object.assign({}, ...groups.map((g) => g.properties));

test('settings cover model, device, globs, budget, rank and epochs with sane defaults', () => {
  const p = (key: string): Setting => settings[key] ?? assert.fail(`no setting ${key}`);
  assert.deepEqual(p('lift.device').enum, ['auto', 'cuda', 'webgpu', 'cpu']);
  assert.equal(p('lift.device').default, 'auto');
  assert.equal(p('lift.model').default, '');
  assert.ok(Array.isArray(p('lift.include').default) && Array.isArray(p('lift.exclude').default));
  assert.deepEqual([p('lift.preset').enum, p('lift.preset').default], [['fast', 'thorough'], 'fast']);
  assert.deepEqual([p('lift.adapter.kind').enum, p('lift.adapter.kind').default], [['lora', 'gated-memory'], 'lora']);
  for (const key of ['lift.tokenBudget', 'lift.adapter.rank', 'lift.epochs', 'lift.modelQA']) {
    const { default: d, minimum = NaN, maximum = NaN } = p(key);
    assert.ok(typeof d === 'number' && Number.isInteger(d) && d >= minimum && d <= maximum, key);
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
  assert.deepEqual(hidden, ['lift.explainRange', 'lift.continueInChat'], 'the internal command, and the comment thread\'s, stay out of the palette');
});

test('settings come in ordered groups, advanced ones tagged, with the scope each one is read at', () => {
  assert.deepEqual(groups.map((g) => [g.title, g.order]), [['LIFT: Model', 1], ['LIFT: Learning', 2], ['LIFT: Editor', 3], ['LIFT: Advanced', 4]]);
  for (const g of groups) assert.deepEqual(Object.values(g.properties).map((s) => s.order), Object.keys(g.properties).map((_, i) => i + 1), g.title);
  const advanced = Object.keys(groups[3]!.properties);
  assert.deepEqual(Object.keys(settings).filter((k) => settings[k]!.tags?.includes('advanced')), advanced);
  assert.ok(advanced.includes('lift.trainerPath') && !advanced.includes('lift.model'));
  // the extension reads every setting without a folder (src/config.ts), so none claims a folder's scope
  assert.deepEqual(Object.keys(settings).filter((k) => settings[k]!.scope === 'resource' || settings[k]!.scope === 'language-overridable'), []);
  assert.match(read('src/config.ts'), /getConfiguration\('lift'\);/);
  assert.equal(settings['lift.trainerPath']!.scope, 'machine');
  assert.equal(settings['lift.model']!.scope, 'machine-overridable');
});

test('every command has a "when" clause in the palette, using only context keys the extension sets', () => {
  const palette: { command: string; when: string }[] = pkg.contributes.menus.commandPalette;
  const commands: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);
  assert.deepEqual(palette.map((e) => e.command), commands);
  const ours = new Set([...read('src/contextKeys.ts').matchAll(/'(lift\.[a-zA-Z]+)'/g)].map((m) => m[1]!));
  const used = new Set([...JSON.stringify([palette, pkg.contributes.keybindings, pkg.contributes.walkthroughs]).matchAll(/(?<![\w.:-])lift\.([a-zA-Z]+)\b(?!\.)/g)].map((m) => `lift.${m[1]}`).filter((k) => !commands.includes(k) && !settings[k] && !k.startsWith('lift.gettingStarted')));
  assert.deepEqual([...used].filter((k) => !ours.has(k)), [], 'context keys nobody sets');
  assert.deepEqual([...ours].sort(), ['lift.answering', 'lift.learned', 'lift.learning']);
  const when = Object.fromEntries(palette.map((e) => [e.command, e.when]));
  assert.match(when['lift.cancelLearning']!, /lift\.learning/);
  assert.equal(when['lift.continueInChat'], 'false', 'only from an explanation\'s comment thread');
  for (const key of ours) assert.match(read('src/extension.ts'), new RegExp(`keys\\.set\\('${key.replace('.', '\\.')}'`), `${key} is set`);
});

test('keybindings for Ask and Explain Selection, distinct, on declared commands', () => {
  const kb: { command: string; key: string; mac?: string; when?: string }[] = pkg.contributes.keybindings;
  assert.deepEqual(kb.map((k) => k.command), ['lift.ask', 'lift.explainSelection']);
  assert.equal(new Set(kb.map((k) => k.key)).size, kb.length);
  assert.match(kb[1]!.when ?? '', /editorHasSelection/);
  for (const k of kb) assert.match(k.mac ?? '', /^cmd\+/);
});

test('the walkthrough: its steps\' media exist, its links run declared commands, learning completes on lift.learned', () => {
  const [w] = pkg.contributes.walkthroughs as { id: string; steps: { id: string; description: string; media: { markdown?: string }; completionEvents: string[] }[] }[];
  assert.equal(w!.id, 'lift.gettingStarted');
  assert.deepEqual(w!.steps.map((s) => s.id), ['model', 'gpu', 'learn', 'ask']);
  const commands: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);
  for (const s of w!.steps) {
    assert.ok(s.media.markdown && fs.existsSync(path.join(repoRoot, s.media.markdown)), s.id);
    const links = [...s.description.matchAll(/\(command:([\w.]+)/g)].map((m) => m[1]!);
    assert.equal(links.length, 1, s.id);
    assert.ok(commands.includes(links[0]!) || links[0] === 'workbench.action.openSettings', links[0]);
  }
  assert.deepEqual(w!.steps[2]!.completionEvents, ['onContext:lift.learned']);
});

test('every user-visible string of the manifest is localizable: a %key% of package.nls.json, none unused', () => {
  const keys = visibleStrings(raw).map((s) => ({ ...s, key: /^%([\w.-]+)%$/.exec(s.value)?.[1] }));
  // the brand stays as it is (the activity bar's container, the category, the participant's full
  // name), and so do what users type: @lift and its /commands
  assert.deepEqual(keys.filter((s) => !s.key && !s.kept).map((s) => `${s.where}: ${s.value}`), []);
  const used = new Set(keys.flatMap((s) => (s.key ? [s.key] : [])));
  assert.deepEqual([...used].filter((k) => !(k in nls)), [], 'keys missing from package.nls.json');
  assert.deepEqual(Object.keys(nls).filter((k) => !used.has(k)), [], 'keys nobody uses');
  assert.ok(read('.vscodeignore').includes('!package.nls.json'), 'the VSIX ships the strings');
});
