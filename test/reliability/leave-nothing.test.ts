/**
 * The command line leaves nothing behind but what it was asked to make: `lift learn`, `ask` and
 * `explain` run with a fresh HOME and temp folder (XDG_CACHE_HOME unset) write only into the
 * adapter store. ONNX Runtime 1.30's telemetry would otherwise create a device id and a usage
 * database under ~/.cache/Microsoft and a mat-debug-<pid>.log in the temp folder.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { trainerBundle, tinyWorkspace } from '../helpers';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-nothing-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every file and folder under `dir`, relative. */
function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('learn, ask and explain with a fresh HOME and TMPDIR leave no file outside the adapter store', async () => {
  const { model, docs } = tinyWorkspace(tmp, '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(3));
  const home = path.join(tmp, 'home');
  const temp = path.join(tmp, 'temp');
  const store = path.join(tmp, 'store');
  fs.mkdirSync(home);
  fs.mkdirSync(temp);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: temp, TMP: temp, TEMP: temp };
  delete env.XDG_CACHE_HOME;
  delete env.XDG_CONFIG_HOME;
  delete env.XDG_DATA_HOME;
  delete env.XDG_STATE_HOME;
  delete env.ORT_DISABLE_TELEMETRY; // the product sets it, not whoever runs it
  const lift = (args: string[]) => run(process.execPath, [trainerBundle, ...args], { cwd: tmp, env, timeout: 120_000 });
  const before = listing(tmp);

  await lift(['learn', docs, '--model', model, '--store', store, '--epochs', '1', '--rank', '2', '--segment', '48']);
  const asked = await lift(['ask', 'Which port does Orbit use?', '--model', model, '--store', store, '--root', docs, '--max-tokens', '8']);
  assert.match(asked.stdout, /learned knowledge/);
  const explained = await lift(['explain', 'docs/README.md:1-2', '--model', model, '--store', store, '--root', docs, '--max-tokens', '8']);
  assert.match(explained.stdout, /learned knowledge/);

  assert.deepEqual(listing(home), [], `left in HOME: ${listing(home).join(', ')}`);
  assert.deepEqual(listing(temp), [], `left in TMPDIR: ${listing(temp).join(', ')}`);
  // nothing new beside them either: only the store appeared
  const added = listing(tmp).filter((p) => !before.includes(p) && !p.startsWith('store'));
  assert.deepEqual(added, [], `new files outside the store: ${added.join(', ')}`);
  assert.ok(fs.readdirSync(store).length > 0);
});
