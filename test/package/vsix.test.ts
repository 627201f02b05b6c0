/**
 * `npm run package` builds a linux-x64 VSIX with the three bundles and ONNX Runtime's native
 * library only for that platform; the trainer unpacked from it runs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import yauzl from 'yauzl';
import { repoRoot } from '../helpers';

const vsix = path.join(repoRoot, 'lift-vscode-linux-x64.vsix');

function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Buffer>();
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('VSIX package', () => {
  let files: Map<string, Buffer>;
  before(async () => {
    fs.rmSync(vsix, { force: true });
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: repoRoot, stdio: 'pipe' });
    files = await readZip(vsix);
  });

  test('holds the three bundles, the manifest and the icon', () => {
    // vsce stores README, CHANGELOG and LICENSE under these names.
    for (const f of ['dist/extension.js', 'dist/trainer.js', 'dist/webview.js', 'package.json', 'media/icon.png', 'media/lift.svg', 'readme.md', 'changelog.md', 'LICENSE.txt']) {
      assert.ok(files.has(`extension/${f}`), `missing ${f}`);
    }
    const manifest = JSON.parse(files.get('extension/package.json')!.toString());
    assert.equal(manifest.main, './dist/extension.js');
    assert.match(files.get('extension.vsixmanifest')!.toString(), /TargetPlatform="linux-x64"/);
  });

  test('ships the default model (weights, tokenizer, card), nothing else of native/', () => {
    const model = [...files.keys()].filter((n) => n.startsWith('extension/native/')).map((n) => n.slice('extension/native/default-model/'.length)).sort();
    assert.deepEqual(model, ['README.md', 'config.json', 'lift_config.json', 'model.safetensors', 'tokenizer.json', 'training.json']);
  });

  test('ships ONNX Runtime for linux-x64 only, and no sources or tests', () => {
    const names = [...files.keys()];
    const ort = 'extension/node_modules/onnxruntime-node/bin/napi-v6/';
    assert.ok(files.has(`${ort}linux/x64/libonnxruntime.so.1`));
    assert.ok(files.has(`${ort}linux/x64/onnxruntime_binding.node`));
    assert.deepEqual(names.filter((n) => n.startsWith(ort) && !n.startsWith(`${ort}linux/x64/`)), []);
    assert.ok(names.some((n) => n.startsWith('extension/node_modules/onnxruntime-common/')));
    assert.deepEqual(names.filter((n) => /^extension\/(src|native|webview|test)\/|\.ts$/.test(n) && !n.startsWith('extension/native/default-model/')), []);
    const grammars = names.filter((n) => n.startsWith('extension/node_modules/@vscode/tree-sitter-wasm/wasm/tree-sitter-')).map((n) => path.basename(n)).sort();
    assert.deepEqual(grammars, ['c-sharp', 'cpp', 'go', 'java', 'javascript', 'python', 'rust', 'tsx', 'typescript'].map((l) => `tree-sitter-${l}.wasm`));
    assert.ok(fs.statSync(vsix).size < 36 * 2 ** 20, 'under 36 MiB (about 20 of them ONNX Runtime, 8 the default model)');
  });

  test('the trainer unpacked from the VSIX loads its bundled runtime and runs a graph', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-vsix-'));
    try {
      for (const [name, data] of files) {
        if (!name.startsWith('extension/')) continue;
        const target = path.join(dir, name);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, data);
      }
      const out = execFileSync(process.execPath, [path.join(dir, 'extension/dist/trainer.js'), 'status'], { encoding: 'utf8' });
      assert.match(out, /ONNX Runtime 1\.30\.0/);
      assert.match(out, /self-test on cpu: ok/);
      // the grammars load from the unpacked extension too
      const probe = `require(${JSON.stringify(path.join(dir, 'extension/node_modules/@vscode/tree-sitter-wasm'))}).Parser.init({ locateFile: (f) => require('path').join(${JSON.stringify(path.join(dir, 'extension/node_modules/@vscode/tree-sitter-wasm/wasm'))}, f) }).then(() => console.log('tree-sitter ok'))`;
      assert.match(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }), /tree-sitter ok/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
