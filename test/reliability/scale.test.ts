/**
 * Scale: a workspace of 100,000 files (400 MB of text, six times the collection's 64 MiB cap)
 * is collected with bounded memory, in a git work tree and by the folder walk: every file is
 * either taken or skipped with a reason, the text kept stays under the cap, and the collecting
 * process's peak RSS stays far below what holding the whole tree would take.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../helpers';
import { BIG_TREE_FILES, bigTree } from './bigtree';

const FILES = BIG_TREE_FILES;
const CAP = 64 * 2 ** 20;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-scale-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function collectInChild(root: string): { mode: string; taken: number; text: number; totalBytes: number; reasons: Record<string, number>; seconds: number; before: number; peak: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'children', 'collect.ts'), root], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim());
}

test('100,000 files are collected with bounded memory (walk and git)', (t) => {
  const root = path.join(tmp, 'ws');
  const bytes = bigTree(root);
  assert.ok(bytes > 6 * CAP, `the tree holds ${bytes} bytes`);
  for (const mode of ['walk', 'git']) {
    if (mode === 'git') execFileSync('git', ['init', '-q', root]);
    const r = collectInChild(root);
    assert.equal(r.mode, mode);
    const skipped = Object.values(r.reasons).reduce((a, b) => a + b, 0);
    assert.equal(r.taken + skipped, FILES, 'every file is taken or skipped with a reason');
    assert.ok(r.totalBytes <= CAP && r.totalBytes > CAP - 4096, `text kept: ${r.totalBytes} bytes, up to the cap`);
    assert.equal(r.reasons['over-size-limit'], FILES - r.taken);
    const grew = r.peak - r.before;
    // holding the tree would take 400 MB of text alone (200 MB at the 50,000-file limit); the cap keeps it to 64 MiB plus bookkeeping
    assert.ok(grew < 170 * 2 ** 20, `peak RSS grew by ${(grew / 2 ** 20).toFixed(0)} MB`);
    t.diagnostic(`${mode}: ${FILES} files (${(bytes / 2 ** 20).toFixed(0)} MB) in ${r.seconds.toFixed(1)} s = ${Math.round(FILES / r.seconds)} files/s; ${r.taken} taken (${(r.totalBytes / 2 ** 20).toFixed(1)} MB, the cap), ${FILES - r.taken} skipped over the size limit; peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MB (+${(grew / 2 ** 20).toFixed(0)} MB)`);
  }
});
