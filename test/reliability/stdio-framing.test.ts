/**
 * `lift serve --stdio` against garbage framing: a 200 MB line without a header, a header that
 * never ends, a Content-Length past the limit. The trainer refuses each at once with a clear
 * message on stderr and a non-zero exit; the sender is not stalled. Well-framed traffic cut at
 * every odd boundary still gets through.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { StreamMessageReader } from 'vscode-jsonrpc/node';
import { Echo, Initialize, PROTOCOL_VERSION } from '../../native/protocol';
import { seededInts, trainerBundle, within } from '../helpers';

const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
});

function trainer(): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [trainerBundle, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.resume();
  proc.stdin!.on('error', () => undefined); // EPIPE once it refused us
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, stderr: () => err, exited };
}

/** Writes `mb` MiB of `fill` without any header; resolves when all is written or the pipe broke. */
function flood(proc: ChildProcess, mb: number, fill = 'x'): Promise<{ written: number; broken: boolean }> {
  const chunk = Buffer.alloc(2 ** 20, fill);
  let written = 0;
  return new Promise((resolve) => {
    const stdin = proc.stdin!;
    stdin.once('error', () => resolve({ written, broken: true }));
    proc.once('exit', () => resolve({ written, broken: true }));
    const pump = (): void => {
      while (written < mb * 2 ** 20) {
        written += chunk.length;
        if (!stdin.write(chunk)) return void stdin.once('drain', pump);
      }
      resolve({ written, broken: false });
    };
    pump();
  });
}

describe('serve --stdio refuses garbage framing fast', () => {
  test('a 200 MB line without a header: refused with a clear message within seconds, the sender not stalled', async () => {
    const t = trainer();
    const start = Date.now();
    const sent = flood(t.proc, 200);
    const code = await within(t.exited, 20_000, 'the trainer to refuse 200 MB without a header');
    await within(sent, 20_000, 'the sender to be done (written or refused)');
    assert.notEqual(code, 0);
    assert.match(t.stderr(), /no message header/i);
    assert.ok(Date.now() - start < 20_000);
  });

  test('a header that never ends (8 KiB of header lines) is refused', async () => {
    const t = trainer();
    t.proc.stdin!.write(`Content-Length: 10\r\n${'X-Padding: yes\r\n'.repeat(1000)}`);
    const code = await within(t.exited, 20_000, 'the trainer to refuse an endless header');
    assert.notEqual(code, 0);
    assert.match(t.stderr(), /no message header/i);
  });

  test('a Content-Length past the limit is refused before any of its body is read', async () => {
    const t = trainer();
    t.proc.stdin!.write(`Content-Length: ${2 ** 31}\r\n\r\n{`);
    const code = await within(t.exited, 20_000, 'the trainer to refuse a 2 GiB message');
    assert.notEqual(code, 0);
    assert.match(t.stderr(), /Content-Length 2147483648 .*limit/);
  });

  test('a header without Content-Length is refused', async () => {
    const t = trainer();
    t.proc.stdin!.write('Content-Type: application/json\r\n\r\n{}');
    const code = await within(t.exited, 20_000, 'the trainer to refuse a header without Content-Length');
    assert.notEqual(code, 0);
    assert.match(t.stderr(), /Content-Length/);
  });

  test('well-framed messages cut at random boundaries (one byte at a time, several per write) are all answered', async () => {
    const t = trainer();
    const answers = new Map<number, unknown>();
    new StreamMessageReader(t.proc.stdout!).listen((m) => {
      const r = m as { id?: number; result?: unknown; error?: unknown };
      if (typeof r.id === 'number') answers.set(r.id, r.error ?? r.result);
    });
    const frame = (message: object): Buffer => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }));
      return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
    };
    const frames = [frame({ id: 0, method: Initialize.method, params: { protocolVersion: PROTOCOL_VERSION, client: { name: 'framing', version: '0' } } })];
    // multi-byte text, so that the byte and character counts differ
    for (let id = 1; id <= 20; id++) frames.push(frame({ id, method: Echo.method, params: { text: `é${'ü'.repeat(id * 37)}` } }));
    const all = Buffer.concat(frames);
    const r = seededInts(7);
    for (let at = 0; at < all.length; ) {
      const n = at < 400 ? 1 : 1 + r(900);
      t.proc.stdin!.write(all.subarray(at, at + n));
      at += n;
    }
    await within(new Promise<void>((resolve) => {
      const poll = setInterval(() => answers.size === 21 && (clearInterval(poll), resolve()), 20);
    }), 20_000, `all 21 answers (got ${answers.size})`);
    for (let id = 1; id <= 20; id++) assert.match((answers.get(id) as { text?: string }).text ?? '', new RegExp(`"é${'ü'.repeat(id * 37)}"`));
    assert.equal(t.proc.exitCode, null, `still serving:\n${t.stderr()}`);
  });
});
