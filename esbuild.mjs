// Builds the three bundles: extension host (CJS, `vscode` external), trainer process (Node,
// `onnxruntime-node` and `@vscode/tree-sitter-wasm` external: a native addon and wasm grammars
// loaded from node_modules) and sidebar webview
// (browser ESM). Flags: --watch, --production (minified, no source maps: what the VSIXes ship;
// package.mjs builds them once for all targets). Development builds keep source maps with the
// sources' text.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
  legalComments: 'linked',
};

/** @type {import('esbuild').BuildOptions[]} */
const bundles = [
  {
    ...common,
    entryPoints: { extension: 'src/extension.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: { trainer: 'native/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    // native addon / wasm grammars: loaded from node_modules at run time; node-llama-cpp: the
    // benches' llama.cpp peer, a dev dependency (absent from the VSIX: the bench says so)
    external: ['onnxruntime-node', 'onnxruntime-node/*', '@vscode/tree-sitter-wasm', 'node-llama-cpp'],
  },
  {
    ...common,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    loader: { '.css': 'text' },
  },
];

if (watch) {
  const contexts = await Promise.all(bundles.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[watch] watching src/, native/ and webview/ for changes');
} else {
  // a production build leaves no maps of an earlier development build beside its bundles
  if (production) for (const f of fs.existsSync('dist') ? fs.readdirSync('dist') : []) if (f.endsWith('.map')) fs.rmSync(`dist/${f}`);
  await Promise.all(bundles.map((b) => esbuild.build(b)));
}
