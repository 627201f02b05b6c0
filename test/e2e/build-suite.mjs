// Bundles the extension (esbuild.mjs) and the in-editor mocha suite into out/e2e/.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');

/** Returns the folder holding index.js (the suite entry VS Code loads). */
export async function buildSuite() {
  execFileSync(process.execPath, [path.join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  const outdir = path.join(root, 'out/e2e');
  await esbuild.build({
    entryPoints: [path.join(here, 'suite/index.ts'), path.join(here, 'suite/extension.test.ts'), path.join(here, 'suite/pseudo.test.ts')],
    outdir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    sourcemap: true,
    external: ['vscode', 'mocha', 'onnxruntime-node', 'onnxruntime-node/*'],
    logLevel: 'warning',
  });
  return outdir;
}
