/**
 * What the trainer reads on a request, and what a request that cannot be served leaves: every
 * read bounded by the bytes actually read, only regular files (a FIFO or device never blocks or
 * floods it), system trees never walked, one path policy (realpath inside a workspace root) for
 * learn, ask and explain; a missing or unfitting adapter and a learn with nothing to learn are
 * clear messages that leave nothing behind. The CLI cases run the real `lift` command line.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { collect } from '../../native/lift/corpus';
import { isInside, readBounded } from '../../native/files';
import { AdapterStore } from '../../native/lift/store';
import { randomWeights, smallConfig } from '../../native/model/init';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { loadModel, saveModelFolder } from '../../native/model/weights';
import { TextTokenizer } from '../../native/model/tokenizer';
import { rangeChunk } from '../../native/server/server';
import { tinyWorkspace, trainerBundle } from '../helpers';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lift-paths-')));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const posix = process.platform !== 'win32';

/** Runs the real CLI; resolves with its exit code and output (killed after `timeoutMs`). */
function lift(args: string[], o: { cwd?: string; timeoutMs?: number; signalAfterMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(process.execPath, [trainerBundle, ...args], { cwd: o.cwd ?? tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    const int = o.signalAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGINT'), o.signalAfterMs);
    child.on('close', (code) => {
      clearTimeout(kill);
      clearTimeout(int);
      resolve({ code, stdout, stderr, ms: Date.now() - start });
    });
  });
}

const mkfifo = (p: string): void => void execFileSync('mkfifo', [p]);

test('reads are bounded by the bytes read and open only regular files, without blocking', { skip: !posix }, () => {
  const dir = path.join(tmp, 'reads');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'ten.txt');
  fs.writeFileSync(file, '0123456789');
  assert.deepEqual(readBounded(file, 10), { ok: true, bytes: Buffer.from('0123456789') });
  assert.equal(readBounded(file, 9).ok, false);
  assert.equal((readBounded(file, 9) as { reason: string }).reason, 'too-large');
  // a FIFO nobody writes to: refused at once (a blocking open would hang this test)
  mkfifo(path.join(dir, 'pipe'));
  assert.deepEqual(readBounded(path.join(dir, 'pipe'), 100), { ok: false, reason: 'not-regular', detail: 'a FIFO' });
  fs.symlinkSync(file, path.join(dir, 'link'));
  assert.equal((readBounded(path.join(dir, 'link'), 100) as { reason: string }).reason, 'symlink');
  assert.equal((readBounded(dir, 100) as { reason: string }).reason, 'not-regular');
  // endless and device files: never read, whatever their size on disk says
  for (const f of ['/dev/zero', '/dev/urandom', '/proc/self/pagemap', '/proc/self/mem']) {
    const r = readBounded(f, 1 << 20);
    assert.equal(r.ok, false, f);
  }
});

test('collection never enters system trees, and a walk of a huge tree can be cancelled', { skip: process.platform !== 'linux' }, async () => {
  await assert.rejects(collect(['/proc/self']), /system folder/);
  await assert.rejects(collect(['/dev']), /system folder/);
  // a walk of / is cancelled as soon as it is asked to be (it yields as it goes)
  let polls = 0;
  await assert.rejects(collect(['/'], { isCancelled: () => ++polls > 50 }), /cancelled/);
});

test('git mode: a tracked folder replaced by a symlink to elsewhere is not learned', { skip: !posix }, async () => {
  const ws = path.join(tmp, 'git-ws');
  const outside = path.join(tmp, 'outside-git');
  fs.mkdirSync(path.join(ws, 'lib'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(ws, 'README.md'), '# Inside\n\nThe service listens on port 8080.\n');
  fs.writeFileSync(path.join(ws, 'lib', 'notes.md'), '# Notes\n\nInside notes.\n');
  const git = (...args: string[]): void => void execFileSync('git', ['-C', ws, ...args], { stdio: 'ignore' });
  git('init', '-q');
  git('add', '.');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'init');
  fs.writeFileSync(path.join(outside, 'notes.md'), '# Elsewhere\n\nOUTSIDE-THE-WORKSPACE text.\n');
  fs.rmSync(path.join(ws, 'lib'), { recursive: true });
  fs.symlinkSync(outside, path.join(ws, 'lib'));
  const { files, report } = await collect([ws]);
  assert.equal(report.mode[ws], 'git');
  assert.deepEqual(files.map((f) => f.path), ['README.md']);
  assert.ok(!files.some((f) => f.text.includes('OUTSIDE')));
  assert.ok(report.skipped.some((s) => s.path === 'lib/notes.md' && s.reason === 'outside-root'), JSON.stringify(report.skipped));
});

test('explain and the active editor: one path policy (realpath inside a workspace root), refusals name the path', { skip: !posix }, () => {
  const ws = path.join(tmp, 'explain-ws');
  const outside = path.join(tmp, 'explain-outside');
  fs.mkdirSync(ws);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(ws, 'README.md'), 'line one\nline two\n');
  fs.writeFileSync(path.join(outside, 'plain.txt'), 'OUTSIDE one\n');
  fs.writeFileSync(path.join(outside, 'dotenv'), 'DB_PASSWORD=hunter2hunter2\n');
  fs.symlinkSync(path.join(outside, 'dotenv'), path.join(ws, 'settings.txt'));
  fs.symlinkSync(path.join(ws, 'README.md'), path.join(ws, 'readme-link.md'));
  const range = (file: string): { file: string; startLine: number; endLine: number } => ({ file, startLine: 1, endLine: 1 });
  assert.throws(() => rangeChunk('explain', range(path.join(ws, '..', 'explain-outside', 'plain.txt')), [ws]), /plain\.txt is outside the workspace folders/);
  assert.throws(() => rangeChunk('explain', range('/etc/passwd'), [ws]), /\/etc\/passwd is outside the workspace folders/);
  assert.throws(() => rangeChunk('explain', range(path.join(ws, 'settings.txt')), [ws]), /settings\.txt is outside the workspace folders \(it leads to .*dotenv\)/);
  // a workspace at the file system's root holds everything outside the system trees
  assert.equal(rangeChunk('explain', range(path.join(ws, 'README.md')), ['/']).text, 'line one');
  assert.equal(rangeChunk('ask', { ...range(path.join(ws, 'README.md')), code: 'x' }, ['/']).path, path.join(ws, 'README.md').slice(1));
  assert.ok(isInside('/etc/passwd', '/') && isInside(ws, ws) && !isInside(`${ws}-other/x`, ws));
  // a link that stays inside the workspace is read
  assert.equal(rangeChunk('explain', range(path.join(ws, 'readme-link.md')), [ws]).text, 'line one');
  mkfifo(path.join(ws, 'pipe'));
  assert.throws(() => rangeChunk('explain', range(path.join(ws, 'pipe')), [ws]), /not a regular file \(a FIFO\)/);
  // the editor's text of a workspace file that links outside, or to a secret: refused all the same
  assert.throws(() => rangeChunk('ask', { ...range(path.join(ws, 'settings.txt')), code: 'DB_PASSWORD=x' }, [ws]), /settings\.txt is a link that leads outside the workspace folders \(to .*dotenv\)/);
  fs.mkdirSync(path.join(outside, '.ssh'));
  fs.writeFileSync(path.join(outside, '.ssh', 'config'), 'Host x\n');
  fs.symlinkSync(path.join(outside, '.ssh', 'config'), path.join(outside, 'ssh-config'));
  assert.throws(() => rangeChunk('ask', { ...range(path.join(outside, 'ssh-config')), code: 'Host x' }, [ws]), /leads to .*\.ssh\/config, which holds credentials/);
  // the editor's own text of a file it opened from elsewhere is not read from disk: it is used as given (redacted)
  assert.equal(rangeChunk('ask', { ...range(path.join(outside, 'plain.txt')), code: 'shown in the editor' }, [ws]).text, 'shown in the editor');
});

test('CLI: explain of a FIFO, a device, a file outside the root: a clear refusal, at once', { skip: !posix }, async () => {
  const ws = path.join(tmp, 'cli-ws');
  fs.mkdirSync(ws);
  fs.writeFileSync(path.join(ws, 'a.md'), 'hello\n');
  mkfifo(path.join(ws, 'fifo'));
  const cases: [string, string[], RegExp][] = [
    ['a FIFO', ['explain', 'fifo:1-1', '--root', '.'], /not a regular file \(a FIFO\)/],
    ['/dev/zero', ['explain', '/dev/zero:1-1', '--root', '/'], /system file/],
    ['../ outside', ['explain', '../../../../../../etc/passwd:1-3', '--root', '.'], /passwd is outside the workspace folders/],
  ];
  for (const [what, args, message] of cases) {
    const r = await lift(args, { cwd: ws, timeoutMs: 60_000 });
    assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.equal(r.stdout, '', what);
  }
});

test('CLI: ask --root / never reads /proc, and Ctrl+C stops it', { skip: process.platform !== 'linux' }, async () => {
  const r = await lift(['ask', 'What is this?', '--root', '/'], { cwd: tmp, signalAfterMs: 3000, timeoutMs: 60_000 });
  assert.equal(r.code, 130, `exit ${r.code} after ${r.ms} ms\n${r.stderr}`);
});

test('CLI: a missing adapter folder is an error; an active adapter that does not fit is set aside and answering goes on', async () => {
  const dir = path.join(tmp, 'adapters');
  fs.mkdirSync(dir);
  const { model, docs } = tinyWorkspace(dir, '# Orbit\n\nOrbit schedules jobs on port 7431.\n'.repeat(3));
  const missing = await lift(['ask', 'Which port?', '--model', model, '--adapter', path.join(dir, 'no-such-adapter'), '--root', docs, '--max-tokens', '4']);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /There is no adapter in .*no-such-adapter/);
  assert.ok(!fs.existsSync(path.join(dir, 'no-such-adapter')));

  const store = path.join(dir, 'store');
  const learnArgs = ['learn', docs, '--model', model, '--store', store, '--epochs', '1', '--rank', '2', '--segment', '48'];
  const learned = await lift(learnArgs);
  assert.equal(learned.code, 0, learned.stderr);
  const key = new AdapterStore(store).activeKey();
  assert.ok(key);
  // the model folder is replaced by one of another shape: the adapter no longer fits it
  const wider = smallConfig({ hidden: 48, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 256 });
  fs.rmSync(model, { recursive: true });
  saveModelFolder(model, wider, randomWeights(wider, 3, 0.2), byteLevelTokenizerJson());
  const asked = await lift(['ask', 'Which port?', '--model', model, '--store', store, '--root', docs, '--max-tokens', '4']);
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stdout, /\(base model/);
  assert.match(asked.stderr, /does not fit this model.*no longer active/);
  assert.equal(new AdapterStore(store).activeKey(), undefined);
  assert.ok(new AdapterStore(store).list().some((a) => a.key === key), 'the adapter stays in the store');
  // the next ask is quiet, and an incremental learn learns everything instead of failing
  const again = await lift(['ask', 'Which port?', '--model', model, '--store', store, '--root', docs, '--max-tokens', '4']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /does not fit/);
  const incremental = await lift([...learnArgs, '--incremental']);
  assert.equal(incremental.code, 0, incremental.stderr);
  assert.ok(new AdapterStore(store).activeKey());
});

test('CLI: a learn with nothing to learn prints the report and creates no folder', async () => {
  const dir = path.join(tmp, 'nothing');
  const modelParent = path.join(tmp, 'nothing-model');
  fs.mkdirSync(modelParent);
  const { model } = tinyWorkspace(modelParent, 'x\n');
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, '.env'), 'X=1\n');
  fs.writeFileSync(path.join(ws, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
  for (const target of [['--out', path.join(dir, 'out', 'adapter')], ['--store', path.join(dir, 'new-store')]]) {
    const r = await lift(['learn', ws, '--model', model, ...target, '--epochs', '1', '--rank', '2', '--segment', '48']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing to learn in .*every file was skipped: .*1 secret \(\.env\).*1 binary \(logo\.png\)|1 binary \(logo\.png\).*1 secret \(\.env\)/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['ws'], `${target[0]} left ${fs.readdirSync(dir)}`);
  }
});

test('a model folder or adapter store holding a FIFO: a clear error, never a hang', { skip: !posix }, () => {
  const dir = path.join(tmp, 'fifo-model');
  fs.mkdirSync(dir);
  const { model } = tinyWorkspace(dir, 'x\n');
  for (const name of ['config.json', 'tokenizer.json', 'model.safetensors']) {
    const file = path.join(model, name);
    fs.renameSync(file, `${file}.real`);
    mkfifo(file);
    assert.throws(() => (name === 'tokenizer.json' ? TextTokenizer.fromFolder(model) : loadModel(model)), /not a regular file \(a FIFO\)/, name);
    fs.rmSync(file);
    fs.renameSync(`${file}.real`, file);
  }
  assert.doesNotThrow(() => loadModel(model));
  const store = path.join(dir, 'store');
  fs.mkdirSync(store);
  mkfifo(path.join(store, 'active.json'));
  assert.equal(new AdapterStore(store).activeKey(), undefined);
});
