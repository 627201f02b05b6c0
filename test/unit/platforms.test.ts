/**
 * What differs off Linux, checked on any machine: Windows path semantics through path.win32 (the
 * helpers take the path module, so the same code runs as it would on Windows), macOS's memory
 * figure from vm_stat, and GPU support refused up front where ONNX Runtime has no CUDA provider.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { endsWithPath, isInside, relativePosix } from '../../native/files';
import { vmStatAvailable } from '../../native/lift/resources';
import { gpuUnsupportedReason } from '../../native/runtime/cuda';

describe('Windows paths (path.win32)', () => {
  const w = path.win32;

  test('a file below a folder is inside it, whatever the case of the drive letter and names', () => {
    assert.ok(isInside('C:\\repo\\src\\a.ts', 'C:\\repo', w));
    assert.ok(isInside('C:\\repo', 'C:\\repo', w));
    assert.ok(isInside('c:\\Repo\\SRC\\a.ts', 'C:\\repo', w), 'VS Code writes drive letters in lower case, realpath in upper case');
    assert.ok(isInside('C:/repo/src/a.ts', 'C:\\repo', w), "'/' is a separator on Windows too");
    assert.ok(isInside('C:\\repo\\..foo\\a.ts', 'C:\\repo', w), 'a name that starts with two dots is still inside');
  });

  test('a drive root holds its drive; another drive, a sibling with the same prefix, the parent are outside', () => {
    assert.ok(isInside('C:\\x\\y.ts', 'C:\\', w));
    assert.ok(!isInside('D:\\repo\\a.ts', 'C:\\repo', w));
    assert.ok(!isInside('C:\\repo-other\\a.ts', 'C:\\repo', w), 'a string prefix is not a folder');
    assert.ok(!isInside('C:\\', 'C:\\repo', w));
    assert.ok(!isInside('C:\\repo\\..\\secret.txt', 'C:\\repo', w));
  });

  test('UNC shares', () => {
    assert.ok(isInside('\\\\server\\share\\repo\\a.ts', '\\\\server\\share\\repo', w));
    assert.ok(!isInside('\\\\server\\other\\repo\\a.ts', '\\\\server\\share\\repo', w));
    assert.ok(!isInside('\\\\server\\share\\repo\\a.ts', 'C:\\repo', w));
  });

  test("shown and stored paths use '/' whatever the platform", () => {
    assert.equal(relativePosix('C:\\repo', 'C:\\repo\\src\\lib\\a.ts', w), 'src/lib/a.ts');
    assert.equal(relativePosix('c:\\repo', 'C:\\Repo\\src\\a.ts', w), 'src/a.ts');
    assert.equal(relativePosix('C:\\', 'C:\\repo\\a.ts', w), 'repo/a.ts');
    assert.equal(relativePosix('C:\\repo', 'C:\\repo', w), '');
  });

  test('an editor file matches a source path at a separator, not inside a name', () => {
    assert.ok(endsWithPath('C:\\repo\\src\\a.ts', 'src/a.ts'));
    assert.ok(endsWithPath('C:\\repo\\src\\a.ts', 'repo/src/a.ts'), 'a multi-root path starts with the folder name');
    assert.ok(!endsWithPath('C:\\repo\\src\\xa.ts', 'a.ts'));
    assert.ok(!endsWithPath('C:\\repo\\src\\a.ts', ''));
  });
});

describe('POSIX paths (path.posix), the same helpers', () => {
  const p = path.posix;
  test('inside, outside, the file-system root, case matters', () => {
    assert.ok(isInside('/home/u/repo/a.ts', '/home/u/repo', p));
    assert.ok(isInside('/etc/passwd', '/', p));
    assert.ok(!isInside('/home/u/repo-other/a.ts', '/home/u/repo', p));
    assert.ok(!isInside('/home/u/Repo/a.ts', '/home/u/repo', p));
    assert.ok(!isInside('/home/u/repo/../x', '/home/u/repo', p));
    assert.equal(relativePosix('/home/u/repo', '/home/u/repo/src/a.ts', p), 'src/a.ts');
    assert.ok(endsWithPath('/home/u/repo/src/a.ts', 'src/a.ts') && !endsWithPath('/home/u/repo/src/xa.ts', 'a.ts'));
  });
});

describe('macOS memory (vm_stat)', () => {
  const sample = [
    'Mach Virtual Memory Statistics: (page size of 16384 bytes)',
    'Pages free:                                5000.',
    'Pages active:                             300000.',
    'Pages inactive:                           295000.',
    'Pages speculative:                          1200.',
    'Pages throttled:                               0.',
    'Pages wired down:                         150000.',
    'Pages purgeable:                            4000.',
    '"Translation faults":                 1234567890.',
    'File-backed pages:                        200000.',
    'Anonymous pages:                          396200.',
    '',
  ].join('\n');

  test('available is free plus inactive pages, in bytes', () => {
    assert.equal(vmStatAvailable(sample), (5000 + 295000) * 16384);
  });

  test('text that is not vm_stat gives nothing (the free pages are used then)', () => {
    assert.equal(vmStatAvailable(''), undefined);
    assert.equal(vmStatAvailable('Pages free: 12.\nPages inactive: 3.'), undefined, 'no page size');
    assert.equal(vmStatAvailable('(page size of 4096 bytes)\nPages free: 12.'), undefined, 'no inactive count');
  });
});

describe('GPU support by platform', () => {
  test('only linux-x64 can set up the CUDA provider; elsewhere the reason names the platform', () => {
    assert.equal(gpuUnsupportedReason('linux', 'x64'), undefined);
    for (const [platform, arch] of [['win32', 'x64'], ['win32', 'arm64'], ['darwin', 'arm64'], ['linux', 'arm64']] as const) {
      assert.match(gpuUnsupportedReason(platform, arch) ?? '', new RegExp(`Linux x64 only.*this is ${platform}-${arch}`));
    }
  });
});
