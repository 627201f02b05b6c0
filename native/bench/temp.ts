/**
 * Temporary folders of a bench run, removed when the run is stopped by a signal (Ctrl+C, a
 * killed job) as well as by the suites' own `finally` blocks: a stopped bench leaves nothing in
 * the temp folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made = new Set<string>();
const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const;

/** A new folder under the temp folder (`prefix` + random), removed on a stop signal. */
export function benchTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (made.size === 0) {
    for (const [signal, code] of SIGNALS) {
      process.once(signal, () => {
        for (const d of made) fs.rmSync(d, { recursive: true, force: true });
        process.exit(code);
      });
    }
  }
  made.add(dir);
  return dir;
}
