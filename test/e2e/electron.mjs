#!/usr/bin/env node
// The same in-editor suite under @vscode/test-electron, for machines that have desktop VS Code.
// test-electron normally downloads VS Code; this project's machines cannot, so point it at an
// installed one: VSCODE_PATH=/path/to/code npm run test:vscode
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { buildSuite, root } from './build-suite.mjs';

const vscodeExecutablePath = process.env.VSCODE_PATH;
if (!vscodeExecutablePath || !fs.existsSync(vscodeExecutablePath)) {
  console.error('test:vscode needs desktop VS Code: set VSCODE_PATH to its executable. Without one, run `npm run test:e2e` (code-server).');
  process.exit(2);
}
const suite = await buildSuite();
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-e2e-ws-'));
fs.writeFileSync(path.join(workspace, 'README.md'), '# Sample\n');
try {
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(suite, 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome'],
  });
} catch (err) {
  console.error(`Extension tests failed: ${err}`);
  process.exit(1);
}
