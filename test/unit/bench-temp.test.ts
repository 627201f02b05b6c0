/**
 * A bench stopped by a signal (Ctrl+C, a killed job) removes its temporary folders, as its own
 * `finally` blocks would, and exits with the signal's code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const repoRoot = path.resolve(__dirname, '../..');

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`a bench stopped by ${signal} leaves no temporary folder`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'children', 'bench-temp.ts')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    let out = '';
    const dirs = await new Promise<string[]>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as string[]);
      });
      child.on('exit', () => reject(new Error(`the child exited before printing its folders: ${out}`)));
    });
    assert.equal(dirs.length, 2);
    for (const d of dirs) assert.ok(fs.existsSync(d), d);
    child.kill(signal);
    assert.equal(await exited, code);
    for (const d of dirs) assert.ok(!fs.existsSync(d), `${d} was left behind`);
  });
}
