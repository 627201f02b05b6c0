/**
 * Writes the extension as VS Code would find it with a pseudo-locale translation, for
 * `run.mjs --pseudo-locale`: into the folder given, package.json and links to this checkout's
 * files, plus package.nls.qps-ploc.json (every contributed string) and the l10n bundle (every
 * message of src/ and webview/), each string in ⟦ ⟧. Also a minimal language pack for qps-ploc
 * (code-server runs a locale only when one is installed), in <folder>-pack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers';
import { pseudo, pseudoBundle } from '../l10nMessages';

const out = path.resolve(process.argv[2] ?? '');
if (!process.argv[2]) throw new Error('usage: pseudo-files.ts <folder>');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const l10nDir: string = manifest.l10n;
if (typeof l10nDir !== 'string') throw new Error('package.json names no "l10n" folder: vscode.l10n would have no bundle to load');

fs.mkdirSync(out, { recursive: true });
for (const entry of ['package.json', 'package.nls.json', 'native', 'node_modules', 'README.md', 'CHANGELOG.md']) {
  fs.symlinkSync(path.join(repoRoot, entry), path.join(out, entry));
}
// the bundles are copied: VS Code knows which extension's API a module gets by the module's real path
fs.cpSync(path.join(repoRoot, 'dist'), path.join(out, 'dist'), { recursive: true });
// media/ is linked entry by entry: the bundle goes into its l10n folder
const media = path.join(out, 'media');
fs.mkdirSync(media);
for (const entry of fs.readdirSync(path.join(repoRoot, 'media'))) fs.symlinkSync(path.join(repoRoot, 'media', entry), path.join(media, entry));
const nls: Record<string, string> = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.nls.json'), 'utf8'));
fs.writeFileSync(path.join(out, 'package.nls.qps-ploc.json'), JSON.stringify(Object.fromEntries(Object.entries(nls).map(([k, v]) => [k, pseudo(v)])), null, 2));
fs.mkdirSync(path.join(out, l10nDir), { recursive: true });
fs.writeFileSync(path.join(out, l10nDir, 'bundle.l10n.qps-ploc.json'), JSON.stringify(pseudoBundle(), null, 2));

const pack = `${out}-pack`;
fs.mkdirSync(path.join(pack, 'translations'), { recursive: true });
fs.writeFileSync(
  path.join(pack, 'package.json'),
  JSON.stringify({
    name: 'lift-test-pseudo-language-pack',
    displayName: 'Pseudo-locale for the LIFT tests',
    description: 'Makes qps-ploc a language VS Code runs in; it translates none of VS Code itself.',
    publisher: 'lift-test',
    version: '0.0.1',
    license: 'MIT',
    engines: { vscode: '^1.82.0' },
    categories: ['Language Packs'],
    contributes: { localizations: [{ languageId: 'qps-ploc', languageName: 'Pseudo', localizedLanguageName: 'Pseudo', translations: [{ id: 'vscode', path: './translations/main.i18n.json' }] }] },
  }),
);
fs.writeFileSync(path.join(pack, 'translations/main.i18n.json'), JSON.stringify({ version: '1.0.0', contents: {} }));
fs.writeFileSync(path.join(pack, 'README.md'), 'A pseudo-locale language pack for tests.\n');
fs.writeFileSync(path.join(pack, 'LICENSE'), 'MIT\n');
