// Builds one VSIX per platform: `node package.mjs [target...]` (`npm run package`: all of them).
// The bundles are built once (minified, no source maps); then, for each target, `vsce package
// --target` runs with an ignore file made from .vscodeignore in which the one line that lets
// ONNX Runtime's native files in names that target's folder instead of linux/x64. Everything
// else in a VSIX (bundles, default model, grammars) is the same for every target.
//
// A target whose ONNX Runtime binaries onnxruntime-node does not ship is skipped with a message:
// a VSIX that cannot load ONNX Runtime is never built. (onnxruntime-node stopped publishing
// darwin/x64 binaries after 1.23: ONNX Runtime no longer builds for Intel Macs.)
//
// `node package.mjs --bundles` is what vsce's vscode:prepublish runs: it builds the bundles,
// unless this script already did (LIFT_BUNDLES_BUILT in the environment), so a plain
// `vsce package` or `vsce publish` still builds them and `npm run package` builds them once.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** vsce target → onnxruntime-node's folder under bin/napi-v6. */
export const TARGETS = {
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
  'darwin-arm64': 'darwin/arm64',
  'darwin-x64': 'darwin/x64',
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
};

const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
/** The .vscodeignore line that lets one platform's ONNX Runtime files in. */
const ORT_LINE = /^!node_modules\/onnxruntime-node\/bin\/napi-v6\/[^/\s]+\/[^/\s]+\/\S*$/;

function run(cmd, args, env) {
  // vsce runs `npm list` per VSIX: no npm debug log files for those (npm_config_logs_max=0)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_logs_max: '0', ...env } });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
}

function buildBundles() {
  run(process.execPath, [path.join(root, 'esbuild.mjs'), '--production']);
}

/**
 * The files of `folder` (relative to the root) that a VSIX needs. macOS: npm stores the
 * `libonnxruntime.<version>.dylib` → `libonnxruntime.1.dylib` symlink as two identical 40 MB
 * files; the binding loads `@rpath/libonnxruntime.1.dylib`, so the versioned copy stays out. Checked
 * here on every run, so an ONNX Runtime whose binding names another file fails loudly.
 */
export function ortFiles(folder) {
  const dir = path.join(root, folder);
  const names = fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isFile()).sort();
  if (!names.includes('onnxruntime_binding.node')) throw new Error(`${folder} has no onnxruntime_binding.node`);
  const versioned = names.filter((n) => /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(n));
  if (versioned.length === 0) return names;
  const binding = fs.readFileSync(path.join(dir, 'onnxruntime_binding.node')).toString('latin1');
  if (!names.includes('libonnxruntime.1.dylib') || !binding.includes('@rpath/libonnxruntime.1.dylib') || versioned.some((n) => binding.includes(n))) {
    throw new Error(`${folder}: the binding does not load libonnxruntime.1.dylib as expected; check which dylib it needs before packaging`);
  }
  return names.filter((n) => !versioned.includes(n));
}

/** .vscodeignore with its ONNX Runtime line replaced by the target's files. */
export function ignoreFor(target, vscodeignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8')) {
  const folder = `${ORT_BIN}/${TARGETS[target]}`;
  const lines = vscodeignore.split('\n');
  const at = lines.flatMap((l, i) => (ORT_LINE.test(l.trim()) ? [i] : []));
  if (at.length !== 1) throw new Error(`.vscodeignore should have exactly one line like !${ORT_BIN}/linux/x64/** (found ${at.length})`);
  lines.splice(at[0], 1, ...ortFiles(folder).map((f) => `!${folder}/${f}`));
  return lines.join('\n');
}

/** Why a target cannot be built from this node_modules, or undefined when it can. */
export function missing(target) {
  const folder = `${ORT_BIN}/${TARGETS[target]}`;
  if (fs.existsSync(path.join(root, folder, 'onnxruntime_binding.node'))) return undefined;
  const version = require('onnxruntime-node/package.json').version;
  return `onnxruntime-node ${version} ships no ${TARGETS[target]} binaries (${folder} is missing), so no ${target} VSIX: it could not load ONNX Runtime`;
}

export function vsixName(target) {
  return `lift-vscode-${target}.vsix`;
}

async function main(argv) {
  if (argv.includes('--bundles')) {
    if (process.env.LIFT_BUNDLES_BUILT === '1') console.log('package.mjs: bundles already built for this run');
    else buildBundles();
    return;
  }
  const unknown = argv.filter((a) => !(a in TARGETS));
  if (unknown.length) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${Object.keys(TARGETS).join(', ')}`);
  const targets = argv.length ? argv : Object.keys(TARGETS);
  const todo = [];
  for (const t of targets) {
    const why = missing(t);
    if (why) console.warn(`package.mjs: skipping ${t}: ${why}`);
    else todo.push(t);
  }
  buildBundles();
  const vsce = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  fs.mkdirSync(path.join(root, 'out'), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, 'out', '.package-'));
  const built = [];
  try {
    for (const t of todo) {
      const ignoreFile = path.join(tmp, `vscodeignore.${t}`);
      fs.writeFileSync(ignoreFile, ignoreFor(t));
      const out = vsixName(t);
      fs.rmSync(path.join(root, out), { force: true });
      run(process.execPath, [vsce, 'package', '--target', t, '--ignoreFile', ignoreFile, '--out', out, '--allow-missing-repository', '--no-rewrite-relative-links'], { LIFT_BUNDLES_BUILT: '1' });
      built.push([t, out, fs.statSync(path.join(root, out)).size]);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('\nVSIXes:');
  for (const [t, out, size] of built) console.log(`  ${t.padEnd(13)} ${out.padEnd(31)} ${(size / 2 ** 20).toFixed(1)} MiB`);
  for (const t of targets.filter((x) => !todo.includes(x))) console.log(`  ${t.padEnd(13)} skipped: ${missing(t)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`package.mjs: ${e.message}`);
    process.exit(1);
  });
}
