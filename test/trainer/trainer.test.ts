/**
 * The real trainer process (dist/trainer.js) driven through the real client: handshake,
 * status with ONNX Runtime, streaming, cancellation, crash and restart, start-up failures.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CancellationTokenSource, createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { TrainerClient, TrainerError, type TrainerState } from '../../native/client';
import { Initialize, PROTOCOL_VERSION, Status } from '../../native/protocol';
import { memoryLogger, trainerBundle, until } from '../helpers';

const run = promisify(execFile);
const clients: TrainerClient[] = [];

function client(extra: Partial<ConstructorParameters<typeof TrainerClient>[0]> = {}) {
  const logger = memoryLogger();
  const c = new TrainerClient({ trainerPath: trainerBundle, logger, client: { name: 'test', version: '0' }, ...extra });
  clients.push(c);
  return { c, logger };
}

after(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('trainer process', () => {
  test('handshake: a separate process speaking our protocol version', async () => {
    const { c, logger } = client();
    const states: TrainerState[] = [];
    c.onDidChangeState((s) => states.push(s));
    const info = await c.initialize();
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    assert.notEqual(info.pid, process.pid);
    assert.equal(c.pid, info.pid);
    assert.deepEqual(states, ['starting', 'ready']);
    assert.ok(logger.has('info', /trainer .* ready \(pid \d+/), logger.lines.join('\n'));
  });

  test('status: ONNX Runtime loads in the trainer and runs a real graph', async () => {
    const { c } = client();
    const s = await c.status();
    assert.equal(s.pid, c.pid);
    assert.ok(s.onnxruntime.loaded, JSON.stringify(s.onnxruntime));
    assert.equal(s.onnxruntime.version, '1.30.0');
    const cpu = s.onnxruntime.providers.find((p) => p.name === 'cpu');
    assert.deepEqual(cpu, { name: 'cpu', bundled: true, available: true });
    const cuda = s.onnxruntime.providers.find((p) => p.name === 'cuda');
    assert.ok(cuda && (cuda.available || /not installed/.test(cuda.reason ?? '')));
    assert.equal(s.onnxruntime.selfTest.ok, true);
    assert.deepEqual(s.onnxruntime.selfTest.output, [8.5, 9.5]);
    assert.ok(s.memory.rssBytes > 10 * 2 ** 20 && s.memory.systemTotalBytes > s.memory.systemFreeBytes);
  });

  test('echo streams its reply as progress, in order, before the result', async () => {
    const { c } = client();
    const chunks: string[] = [];
    const result = await c.echo({ text: 'Where is main defined?' }, (chunk) => {
      assert.equal(chunk.index, chunks.length);
      chunks.push(chunk.text);
    });
    assert.equal(chunks.join(''), result.text);
    assert.equal(chunks.length, result.chunks);
    assert.ok(result.chunks > 5);
    assert.match(result.text, /"Where is main defined\?"/);
  });

  test('cancellation stops a request and leaves the trainer serving', async () => {
    const { c } = client();
    const source = new CancellationTokenSource();
    let seen = 0;
    const pending = c.echo({ text: 'slow question', chunkDelayMs: 200 }, () => {
      if (++seen === 2) source.cancel();
    }, source.token);
    await assert.rejects(pending, (err: unknown) => err instanceof TrainerError && err.kind === 'cancelled');
    assert.equal(seen, 2);
    const pid = c.pid!;
    assert.equal((await c.status()).pid, pid);
  });

  test('a trainer killed mid-request fails that request at once, and the next request restarts it', async () => {
    const { c, logger } = client();
    const first = (await c.initialize()).pid;
    const started = Date.now();
    const pending = c.echo({ text: 'a long answer', chunkDelayMs: 2000 }, () => process.kill(first, 'SIGKILL'));
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof TrainerError);
      assert.equal(err.kind, 'crashed');
      assert.match(err.message, /stopped unexpectedly \(killed by SIGKILL\) while handling "lift\/echo"/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'the error came without waiting for the answer');
    assert.equal(c.state, 'crashed');
    assert.ok(logger.has('error', new RegExp(`pid ${first}\\) stopped unexpectedly .*restarted on the next request`)), logger.lines.join('\n'));

    const s = await c.status();
    assert.notEqual(s.pid, first);
    assert.equal(c.state, 'ready');
    assert.ok(logger.has('warn', /Restarting the LIFT trainer/));
  });

  test('repeated crashes stop the automatic restarts until restart()', async () => {
    const { c, logger } = client({ maxCrashes: 2 });
    for (let i = 0; i < 2; i++) {
      const pid = (await c.initialize()).pid;
      process.kill(pid, 'SIGKILL');
      await until(() => c.state !== 'ready', 5000, 'the exit to be seen');
    }
    assert.equal(c.state, 'failed');
    await assert.rejects(c.status(), (err: unknown) => err instanceof TrainerError && err.kind === 'unavailable' && /Restart Trainer/.test(err.message));
    assert.ok(logger.has('error', /not restarting it automatically/));
    const info = await c.restart();
    assert.ok(isAlive(info.pid));
    assert.equal(c.state, 'ready');
  });

  test('stop() shuts the trainer down and the process is gone', async () => {
    const { c } = client();
    const { pid } = await c.initialize();
    await c.stop();
    assert.equal(c.state, 'stopped');
    assert.equal(isAlive(pid), false);
  });

  test('a trainer that dies during start-up gives a clear error with its stderr', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-test-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const broken = path.join(dir, 'broken.js');
    fs.writeFileSync(broken, "console.error('cannot load the model folder'); process.exit(3);\n");
    const { c } = client({ trainerPath: broken });
    await assert.rejects(c.status(), (err: unknown) => {
      assert.ok(err instanceof TrainerError);
      assert.equal(err.kind, 'start-failed');
      assert.match(err.message, /exited during start-up \(exit code 3\)[\s\S]*cannot load the model folder/);
      return true;
    });
    const missing = client({ trainerPath: path.join(dir, 'missing.js') }).c;
    await assert.rejects(missing.status(), /exited during start-up[\s\S]*Cannot find module/);
  });

  test('a trainer that never answers the handshake times out', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-test-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const silent = path.join(dir, 'silent.js');
    fs.writeFileSync(silent, 'setInterval(() => {}, 1000);\n');
    const { c } = client({ trainerPath: silent, startTimeoutMs: 500 });
    await assert.rejects(c.status(), /did not answer within 0.5 s/);
  });
});

describe('trainer over stdio (lift serve --stdio)', () => {
  test('refuses a client of another protocol version, then serves a matching one', async () => {
    const child = spawn(process.execPath, [trainerBundle, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    try {
      await assert.rejects(conn.sendRequest(Initialize, { protocolVersion: 999, client: { name: 't', version: '0' } }), /Protocol mismatch/);
      const ok = await conn.sendRequest(Initialize, { protocolVersion: PROTOCOL_VERSION, client: { name: 't', version: '0' } });
      assert.equal(ok.pid, child.pid);
      assert.equal((await conn.sendRequest(Status)).pid, child.pid);
      await assert.rejects(conn.sendRequest('lift/doesNotExist', {}), /Unhandled method lift\/doesNotExist/);
    } finally {
      conn.dispose();
      child.kill();
    }
  });
});

describe('lift command line', () => {
  test('status starts a trainer and prints ONNX Runtime and the self-test', async () => {
    const { stdout } = await run(process.execPath, [trainerBundle, 'status']);
    assert.match(stdout, /ONNX Runtime 1\.30\.0/);
    assert.match(stdout, /provider cpu: available/);
    assert.match(stdout, /self-test on cpu: ok/);
  });

  test('echo streams the reply; bad usage exits 2 with help', async () => {
    const { stdout } = await run(process.execPath, [trainerBundle, 'echo', 'hello', 'there']);
    assert.match(stdout, /received your question: "hello there"/);
    await assert.rejects(run(process.execPath, [trainerBundle, 'frobnicate']), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /unknown command "frobnicate"[\s\S]*Usage:/);
      return true;
    });
  });
});
