/**
 * JSON-RPC input from a misbehaving client, against the real trainer process: seeded requests
 * with wrong types, missing or extra fields, unknown methods, a huge payload and malformed
 * frames. Each request gets an answer or an error response within its deadline, and the
 * trainer keeps serving afterwards (its status request still works, same process).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { createMessageConnection, type MessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { Initialize, PROTOCOL_VERSION, Status } from '../../native/protocol';
import { trainerBundle, seededInts } from '../helpers';

let proc: ChildProcess | undefined;
after(() => proc?.kill('SIGKILL'));

const rng = seededInts;

const WEIRD: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, '', 'x', '../../etc/passwd', [], [1, 'a'], {}, { roots: 5 }, 'a'.repeat(1000)];
const METHODS = ['lift/status', 'lift/echo', 'lift/learn', 'lift/ask', 'lift/explain', 'lift/adapterStatus', 'lift/adapters', 'lift/initialize', 'lift/nope', '$/weird', 'rpc.discover'];
const FIELDS = ['roots', 'model', 'adapterDir', 'store', 'question', 'text', 'file', 'startLine', 'endLine', 'code', 'select', 'delete', 'epochs', 'rank', 'lr', 'maxTokens', 'chunkDelayMs', 'progressToken', 'retrieve', 'protocolVersion', 'client'];

test('500 malformed requests each get an answer or an error; the trainer keeps serving', async (t) => {
  proc = spawn(process.execPath, [trainerBundle, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const conn: MessageConnection = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  conn.listen();
  const info = await conn.sendRequest(Initialize, { protocolVersion: PROTOCOL_VERSION, client: { name: 'fuzz', version: '0' } });
  const r = rng(21);
  let answered = 0;
  let errors = 0;
  const failures: string[] = [];
  for (let i = 0; i < Number(process.env.FUZZ_N ?? 500); i++) {
    const method = METHODS[r(METHODS.length)]!;
    const params: Record<string, unknown> = {};
    for (let k = 0; k < r(5); k++) params[FIELDS[r(FIELDS.length)]!] = WEIRD[r(WEIRD.length)];
    const sent = r(10) === 0 ? WEIRD[r(WEIRD.length)] : params;
    const t0 = Date.now();
    try {
      await Promise.race([
        conn.sendRequest(method, sent),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer to ${method} ${JSON.stringify(sent).slice(0, 200)} within 20 s`)), 20_000)),
      ]);
      answered++;
    } catch (err) {
      if (err instanceof ResponseError && typeof err.code === 'number' && err.message) errors++;
      else failures.push(String(err));
    }
    if (process.env.FUZZ_LOG) console.error(Date.now() - t0, method, JSON.stringify(sent).slice(0, 150));
    if (proc.exitCode !== null) {
      failures.push(`the trainer exited (${proc.exitCode}) after ${method} ${JSON.stringify(sent).slice(0, 200)}`);
      break;
    }
  }
  // a 20 MB question: refused or answered, not a crash
  await conn.sendRequest('lift/ask', { question: 'q'.repeat(20 * 2 ** 20), roots: [], model: '/nonexistent' }).then(
    () => answered++,
    (err: unknown) => (err instanceof ResponseError ? errors++ : failures.push(String(err))),
  );
  // a well-framed message that is not JSON: reported by the connection, the process stays up
  proc.stdin!.write('Content-Length: 5\r\n\r\n{nope');
  const status = await conn.sendRequest(Status);
  t.diagnostic(`${answered + errors} requests: ${answered} answered, ${errors} error responses, ${failures.length} failures`);
  assert.deepEqual(failures, []);
  assert.equal(status.pid, info.pid, 'the same trainer process is still serving');
  conn.dispose();
});
