/**
 * `npm run package` builds one VSIX per platform (package.mjs): each holds the three minified
 * bundles without source maps, the default model, the grammars and ONNX Runtime's native files for
 * its own platform only; a target whose binaries onnxruntime-node does not ship (darwin-x64 since
 * 1.24) is skipped with a message. The trainer unpacked from the linux-x64 VSIX runs.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import yauzl from 'yauzl';
import { repoRoot } from '../helpers';

/** vsce target → onnxruntime-node's bin/napi-v6 folder and the runtime library its binding loads. */
const TARGETS = {
  'win32-x64': { folder: 'win32/x64', library: 'onnxruntime.dll' },
  'win32-arm64': { folder: 'win32/arm64', library: 'onnxruntime.dll' },
  'darwin-arm64': { folder: 'darwin/arm64', library: 'libonnxruntime.1.dylib' },
  'darwin-x64': { folder: 'darwin/x64', library: 'libonnxruntime.1.dylib' },
  'linux-x64': { folder: 'linux/x64', library: 'libonnxruntime.so.1' },
  'linux-arm64': { folder: 'linux/arm64', library: 'libonnxruntime.so.1' },
} as const;
type Target = keyof typeof TARGETS;
const targets = Object.keys(TARGETS) as Target[];
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const vsixOf = (target: Target) => path.join(repoRoot, `lift-vscode-${target}.vsix`);
/** Targets this node_modules can build: darwin-x64 has had no binaries since onnxruntime-node 1.24. */
const buildable: Target[] = targets.filter((t) => fs.existsSync(path.join(repoRoot, ORT_BIN, TARGETS[t].folder, 'onnxruntime_binding.node')));

/** The entries of a zip; the contents of those that `want` names (the others map to their size). */
function readZip(file: string, want: (name: string) => boolean = () => true): Promise<Map<string, Buffer | number>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Buffer | number>();
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        if (!want(entry.fileName)) {
          entries.set(entry.fileName, entry.uncompressedSize);
          return zip.readEntry();
        }
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

function text(files: Map<string, Buffer | number>, name: string): string {
  const data = files.get(name);
  assert.ok(Buffer.isBuffer(data), `${name} missing or not read`);
  return data.toString();
}

describe('VSIX packages', () => {
  const vsixes = new Map<Target, Map<string, Buffer | number>>();
  let output = '';
  before(async () => {
    for (const t of targets) fs.rmSync(vsixOf(t), { force: true });
    // npm would write a debug log in ~/.npm/_logs for each run: none (logs-max 0)
    const r = spawnSync('npm', ['run', '--silent', 'package'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...process.env, npm_config_logs_max: '0' } });
    output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, output.slice(-4000));
    for (const t of buildable) {
      // linux-x64's whole content (its trainer runs below); of the others what is not native
      vsixes.set(t, await readZip(vsixOf(t), (n) => t === 'linux-x64' || !n.startsWith('extension/node_modules/')));
    }
  });

  test('builds a VSIX for every target onnxruntime-node has binaries for, and says why it skips the others', () => {
    for (const t of targets) {
      if (buildable.includes(t)) {
        assert.ok(fs.existsSync(vsixOf(t)), `no VSIX for ${t}`);
      } else {
        assert.ok(!fs.existsSync(vsixOf(t)), `${t} has no ONNX Runtime binaries, yet a VSIX was built`);
        assert.match(output, new RegExp(`skipping ${t}: onnxruntime-node \\S+ ships no ${TARGETS[t].folder} binaries`));
      }
    }
    for (const t of ['win32-x64', 'win32-arm64', 'darwin-arm64', 'linux-x64', 'linux-arm64'] as const) assert.ok(buildable.includes(t), `${t} binaries missing from node_modules`);
    assert.equal(output.match(/Done in [\d.]+m?s/g)?.length, 3, 'the three bundles are built once for all targets');
  });

  for (const target of targets) {
    describe(target, { skip: buildable.includes(target) ? false : 'onnxruntime-node ships no binaries for it' }, () => {
      const files = () => vsixes.get(target)!;

      test('holds the three minified bundles without source maps, the manifest and the icon', () => {
        // vsce stores README, CHANGELOG and LICENSE under these names.
        for (const f of ['dist/extension.js', 'dist/trainer.js', 'dist/webview.js', 'package.json', 'package.nls.json', 'media/icon.png', 'media/lift.svg', 'readme.md', 'changelog.md', 'LICENSE.txt']) {
          assert.ok(files().has(`extension/${f}`), `missing ${f}`);
        }
        assert.deepEqual([...files().keys()].filter((n) => n.endsWith('.map')), []);
        for (const b of ['extension', 'trainer', 'webview']) {
          const js = text(files(), `extension/dist/${b}.js`);
          assert.doesNotMatch(js, /sourceMappingURL/, `${b}.js points at a source map`);
          // esbuild marks where each module starts unless it minifies
          assert.doesNotMatch(js, /^\/\/ (src|native|webview|node_modules)\//m, `${b}.js is not minified`);
        }
        const manifest = JSON.parse(text(files(), 'extension/package.json'));
        assert.equal(manifest.main, './dist/extension.js');
        assert.match(text(files(), 'extension.vsixmanifest'), new RegExp(`TargetPlatform="${target}"`));
      });

      test('ships the default model (weights, tokenizer, card), nothing else of native/', () => {
        const model = [...files().keys()].filter((n) => n.startsWith('extension/native/')).map((n) => n.slice('extension/native/default-model/'.length)).sort();
        assert.deepEqual(model, ['README.md', 'config.json', 'lift_config.json', 'model.safetensors', 'tokenizer.json', 'training.json']);
      });

      test(`ships ONNX Runtime for ${target} only, the grammars, and no sources or tests`, () => {
        const names = [...files().keys()];
        const ort = `extension/${ORT_BIN}/`;
        const own = `${ort}${TARGETS[target].folder}/`;
        assert.ok(files().has(`${own}onnxruntime_binding.node`));
        assert.ok(files().has(`${own}${TARGETS[target].library}`));
        assert.deepEqual(names.filter((n) => n.startsWith(ort) && !n.startsWith(own)), []);
        // macOS: the versioned copy of libonnxruntime.1.dylib (40 MB) is not loaded by the binding
        assert.deepEqual(names.filter((n) => /libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(n)), []);
        assert.ok(names.includes('extension/node_modules/onnxruntime-node/dist/binding.js'));
        assert.ok(names.some((n) => n.startsWith('extension/node_modules/onnxruntime-common/')));
        assert.deepEqual(names.filter((n) => /^extension\/(src|native|webview|test)\/|\.ts$/.test(n) && !n.startsWith('extension/native/default-model/')), []);
        const grammars = names.filter((n) => n.startsWith('extension/node_modules/@vscode/tree-sitter-wasm/wasm/tree-sitter-')).map((n) => path.basename(n)).sort();
        assert.deepEqual(grammars, ['c-sharp', 'cpp', 'go', 'java', 'javascript', 'python', 'rust', 'tsx', 'typescript'].map((l) => `tree-sitter-${l}.wasm`));
        // measured: linux-arm64 19.9, darwin-arm64 22.4, linux-x64 27.0, win32-x64 37.4, win32-arm64 38.6 MiB
        assert.ok(fs.statSync(vsixOf(target)).size < 44 * 2 ** 20, 'under 44 MiB (8 of them the default model, the rest mostly ONNX Runtime)');
      });
    });
  }

  test('the trainer unpacked from the linux-x64 VSIX loads its bundled runtime and runs a graph', () => {
    const files = vsixes.get('linux-x64')!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-vsix-'));
    try {
      for (const [name, data] of files) {
        if (!name.startsWith('extension/')) continue;
        const target = path.join(dir, name);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, data as Buffer);
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
