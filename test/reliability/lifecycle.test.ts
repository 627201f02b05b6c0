/**
 * The trainer lives and dies with whoever asked for its work. The real `lift` command line is
 * signalled (SIGTERM, SIGKILL, two signals, a trainer that does not answer) in the middle of a
 * learn; a stdio trainer loses its stdin or its parent. Each time the trainer process is gone
 * within seconds and the store's active adapter is the one it was before: a learn whose
 * requester left never switches it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { Initialize, Learn, LearnProgressType, PROTOCOL_VERSION } from '../../native/protocol';
import { AdapterStore } from '../../native/lift/store';
import { LearnCancelled } from '../../native/lift/learn';
import { learnWorkspace } from '../../native/lift/pipeline';
import { tinyWorkspace, trainerBundle, until, within } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-lifecycle-'));
/** Every process a test started, killed at the end whatever happened (stopped ones too). */
const started = new Set<number>();
after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Alive and not a zombie (a reparented child may wait unreaped where PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Cli {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The trainer's pid, once the CLI (with --verbose) logged the handshake. */
  trainerPid: () => Promise<number>;
}

function cli(args: string[], cwd = tmp): Cli {
  const proc = spawn(process.execPath, [trainerBundle, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc.pid!);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const trainerPid = async (): Promise<number> => {
    await until(() => /ready \(pid \d+\)/.test(err), 30_000, `the trainer's pid in the CLI's log:\n${err}`);
    const pid = Number(/ready \(pid (\d+)\)/.exec(err)![1]);
    started.add(pid);
    return pid;
  };
  return { proc, stderr: () => err, exited, trainerPid };
}

let workspaces = 0;
/** A tiny model, a docs folder and a store whose active adapter is learnt from the docs as they were. */
async function prepared(): Promise<{ model: string; docs: string; store: AdapterStore; before: string }> {
  const dir = path.join(tmp, `ws${++workspaces}`);
  fs.mkdirSync(dir);
  const { model, docs } = tinyWorkspace(dir, '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(4));
  const store = new AdapterStore(path.join(dir, 'store'));
  const first = cli(['learn', docs, '--model', model, '--store', store.root, '--epochs', '1', '--rank', '2', '--segment', '48']);
  const { code } = await within(first.exited, 60_000, 'the first learn');
  assert.equal(code, 0, first.stderr());
  const before = store.activeKey();
  assert.ok(before, 'the first learn made an adapter active');
  // new text: the next learn makes a new adapter (which must not become active)
  fs.writeFileSync(path.join(docs, 'NOTES.md'), '# Notes\n\nThe scheduler drains its queue every 90 s.\n'.repeat(3));
  return { model, docs, store, before };
}

/** A learn through the CLI that cannot finish in the test's time (thousands of epochs), once it trains. */
async function learning(w: { model: string; docs: string; store: AdapterStore }): Promise<Cli & { trainer: number }> {
  const c = cli(['learn', w.docs, '--model', w.model, '--store', w.store.root, '--epochs', '5000', '--rank', '2', '--segment', '48', '--verbose']);
  const trainer = await c.trainerPid();
  await until(() => /train \[/.test(c.stderr()), 60_000, `training to start:\n${c.stderr()}`);
  return { ...c, trainer };
}

async function gone(pid: number, what: string): Promise<void> {
  await until(() => !alive(pid), 10_000, `${what} (pid ${pid}) to exit`);
}

describe('the trainer dies with its requester', () => {
  test('SIGTERM to lift learn: it cancels, says so and exits 143; the trainer is gone; the active adapter is unchanged', async () => {
    const w = await prepared();
    const c = await learning(w);
    c.proc.kill('SIGTERM');
    const { code, signal } = await within(c.exited, 20_000, 'the CLI to exit after SIGTERM');
    assert.equal(signal, null, `exited on its own, not killed by the signal:\n${c.stderr().slice(-2000)}`);
    assert.equal(code, 143);
    assert.match(c.stderr(), /SIGTERM/);
    assert.match(c.stderr(), /cancel/i);
    await gone(c.trainer, 'the trainer');
    assert.equal(w.store.activeKey(), w.before);
    await sleep(1500);
    assert.equal(w.store.activeKey(), w.before, 'still the previous adapter a while later');
  });

  test('SIGKILL to lift learn (no handler runs): the trainer sees its parent go and exits without switching the adapter', async () => {
    const w = await prepared();
    const c = await learning(w);
    c.proc.kill('SIGKILL');
    await c.exited;
    await gone(c.trainer, 'the orphaned trainer');
    assert.equal(w.store.activeKey(), w.before);
  });

  test('a trainer that does not answer (as if inside a long ONNX Runtime run) is killed when the CLI is signalled', async () => {
    const w = await prepared();
    const c = await learning(w);
    process.kill(c.trainer, 'SIGSTOP'); // answers nothing: neither the cancel nor the shutdown
    c.proc.kill('SIGHUP');
    const { code } = await within(c.exited, 30_000, 'the CLI to exit after SIGHUP');
    assert.equal(code, 129, c.stderr().slice(-2000));
    await gone(c.trainer, 'the stopped trainer');
    assert.equal(w.store.activeKey(), w.before);
  });

  test('a second signal exits at once, after killing the trainer', async () => {
    const w = await prepared();
    const c = await learning(w);
    process.kill(c.trainer, 'SIGSTOP'); // the first signal's orderly stop would take seconds
    c.proc.kill('SIGTERM');
    await until(() => /SIGTERM/.test(c.stderr()), 10_000, 'the first signal to be reported');
    c.proc.kill('SIGINT');
    const { code } = await within(c.exited, 10_000, 'the CLI to exit after the second signal');
    assert.equal(code, 130, c.stderr().slice(-2000));
    assert.match(c.stderr(), /SIGINT again/);
    await gone(c.trainer, 'the trainer');
    assert.equal(w.store.activeKey(), w.before);
  });

  test('serve --stdio exits when its stdin closes, in the middle of a learn, and the learn does not switch the adapter', async () => {
    const w = await prepared();
    const child = spawn(process.execPath, [trainerBundle, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    started.add(child.pid!);
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    await conn.sendRequest(Initialize, { protocolVersion: PROTOCOL_VERSION, client: { name: 'lifecycle', version: '0' } });
    let training = false;
    conn.onProgress(LearnProgressType, 'learn-1', (p) => void (p.phase === 'train' && (training = true)));
    const learn = conn.sendRequest(Learn, { roots: [w.docs], model: w.model, store: w.store.root, epochs: 5000, rank: 2, segmentLength: 48, progressToken: 'learn-1' });
    learn.catch(() => undefined);
    await until(() => training, 60_000, 'training to start');
    child.stdin.end();
    await within(exited, 10_000, 'the stdio trainer to exit after its stdin closed');
    conn.dispose();
    assert.equal(w.store.activeKey(), w.before);
  });

  test('serve --stdio exits when its parent is gone even though its stdin stays open (the parent watchdog)', async () => {
    // a middle process starts the trainer reading a FIFO it opened for reading and writing (so
    // that stdin never reaches its end), then is SIGKILLed: only the trainer's parent changed
    const fifo = path.join(tmp, 'stdin.fifo');
    execFileSync('mkfifo', [fifo]);
    const start = `const c = require('node:child_process').spawn(process.execPath, [${JSON.stringify(trainerBundle)}, 'serve', '--stdio'], { stdio: [require('node:fs').openSync(${JSON.stringify(fifo)}, 'r+'), 'ignore', 'inherit'] }); console.log(c.pid); setInterval(() => {}, 1e6);`;
    const middle = spawn(process.execPath, ['-e', start], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.add(middle.pid!);
    let out = '';
    middle.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /\d+\n/.test(out), 20_000, 'the trainer pid');
    const trainer = Number(out.trim());
    started.add(trainer);
    // (the trainer records its parent when it starts; a busy machine may take a while to start it)
    await sleep(1500);
    assert.ok(alive(trainer), 'the trainer runs while its parent does');
    middle.kill('SIGKILL');
    await gone(trainer, 'the trainer whose parent died');
  });

  test('a learn cancelled after its adapter was saved does not make it active (it stays in the store, inactive)', async () => {
    const dir = path.join(tmp, 'inproc');
    fs.mkdirSync(dir);
    const { model, docs } = tinyWorkspace(dir, '# Orbit\n\nOrbit schedules jobs on port 7431.\n'.repeat(3));
    const store = new AdapterStore(path.join(dir, 'store'));
    const first = await learnWorkspace({ roots: [docs], modelDir: model, store: store.root, epochs: 1, rank: 2, segmentLength: 48 });
    assert.equal(store.activeKey(), path.basename(first.adapterDir));
    fs.writeFileSync(path.join(docs, 'NOTES.md'), '# Notes\n\nThe queue drains every 90 s.\n');
    // the requester leaves while the adapter is being saved: after the last cancellation check in training
    let saved = false;
    await assert.rejects(
      learnWorkspace(
        { roots: [docs], modelDir: model, store: store.root, epochs: 1, rank: 2, segmentLength: 48 },
        { onProgress: (p) => void (p.phase === 'save' && (saved = true)), isCancelled: () => saved },
      ),
      LearnCancelled,
    );
    assert.ok(saved);
    assert.equal(store.activeKey(), path.basename(first.adapterDir), 'the previous adapter is still the active one');
    assert.equal(store.list().length, 2, 'the new adapter stays in the store, inactive');
  });
});
