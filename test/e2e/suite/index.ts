/**
 * Mocha entry run inside a real VS Code extension host: code-server (test/e2e/run.mjs) or
 * desktop VS Code via @vscode/test-electron (test/e2e/electron.mjs). Writes a JSON summary to
 * $LIFT_E2E_RESULTS when set, so the runner outside can report exactly what ran.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/**
 * The window closes when this suite ends. When the runner wants to look at the UI the suite
 * left behind (sidebar, notifications), it sets LIFT_E2E_SYNC_DIR: we say we are done, then
 * wait (at most five minutes: it also clicks through the features) for it to say it has looked.
 */
async function holdForUiChecks(): Promise<void> {
  const dir = process.env.LIFT_E2E_SYNC_DIR;
  if (!dir) return;
  fs.writeFileSync(path.join(dir, 'suite-done'), '');
  const deadline = Date.now() + 300_000;
  while (!fs.existsSync(path.join(dir, 'ui-checked')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // run.mjs --pseudo-locale runs the localization checks instead of the functional suite
  mocha.addFile(path.join(__dirname, process.env.LIFT_E2E_SUITE === 'pseudo' ? 'pseudo.test.js' : 'extension.test.js'));
  const results: { title: string; state: string; ms?: number; error?: string }[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run(async (failures) => {
      const out = process.env.LIFT_E2E_RESULTS;
      if (out) fs.writeFileSync(out, JSON.stringify({ failures, results }, null, 2));
      await holdForUiChecks();
      if (failures > 0) reject(new Error(`${failures} extension test(s) failed.`));
      else resolve();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', error: err.stack ?? err.message }));
  });
}
