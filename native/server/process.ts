/**
 * `lift serve`: the trainer process's side of the connection (IPC when started by a client, or
 * stdio), which never outlives its requester, and a guard on stdio framing.
 */
import { startParentPid } from '../startup';
import {
  CancellationSenderStrategy,
  type CancellationStrategy,
  CancellationTokenSource,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  Message,
  type MessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { serve } from './server';

/** The most header bytes `serve --stdio` reads looking for a message's header end ("\r\n\r\n"). */
const MAX_HEADER_BYTES = 8 * 1024;
/** The largest message `serve --stdio` accepts (a learn or ask request is kilobytes; an editor's text, megabytes). */
const MAX_CONTENT_LENGTH = 256 * 2 ** 20;

/**
 * Checks the framing of `serve --stdio` input on its way to vscode-jsonrpc's reader, which scans
 * its whole growing buffer for a header end: a 200 MB line without a header took minutes to read
 * and stalled the sender. This passes every byte through unchanged, keeping only the header being
 * read (at most 8 KiB) and the count of body bytes still to come, and fails the stream at once on
 * a header without an end within 8 KiB, without Content-Length, or with one over 256 MiB.
 */
class FrameGuard extends Transform {
  private header = Buffer.alloc(0);
  private body = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      for (let at = 0; at < chunk.length; ) {
        if (this.body > 0) {
          const n = Math.min(this.body, chunk.length - at);
          this.body -= n;
          at += n;
          continue;
        }
        const part = chunk.subarray(at, at + MAX_HEADER_BYTES - this.header.length);
        const seen = this.header.length ? Buffer.concat([this.header, part]) : part;
        const end = seen.indexOf('\r\n\r\n');
        if (end < 0) {
          if (seen.length >= MAX_HEADER_BYTES) {
            throw new Error(`no message header end within the first ${MAX_HEADER_BYTES} bytes of a message (expected "Content-Length: <n>\\r\\n\\r\\n" before each JSON-RPC message)`);
          }
          this.header = Buffer.from(seen); // the rest of this chunk: the header goes on in the next
          at = chunk.length;
          continue;
        }
        this.body = FrameGuard.contentLength(seen.subarray(0, end).toString('latin1'));
        at += end + 4 - this.header.length;
        this.header = Buffer.alloc(0);
      }
    } catch (err) {
      done(err as Error);
      return;
    }
    done(null, chunk);
  }

  private static contentLength(header: string): number {
    let length: number | undefined;
    for (const line of header.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) throw new Error(`a message header line without ":" (${JSON.stringify(line.slice(0, 80))})`);
      if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
      const value = line.slice(colon + 1).trim();
      if (!/^\d{1,16}$/.test(value)) throw new Error(`a message header with a Content-Length that is not a number (${JSON.stringify(value.slice(0, 80))})`);
      length = Number(value);
    }
    if (length === undefined) throw new Error('a message header without Content-Length');
    if (length > MAX_CONTENT_LENGTH) throw new Error(`refusing a message of Content-Length ${length} bytes: over the limit of ${MAX_CONTENT_LENGTH} bytes (${MAX_CONTENT_LENGTH / 2 ** 20} MiB)`);
    return length;
  }
}

/** The trainer's IPC channel to its parent: it closes when the channel does ('disconnect'; a child's `process` never emits the 'close' IPCMessageReader listens for). */
class ParentIpcReader extends IPCMessageReader {
  constructor() {
    super(process);
    process.once('disconnect', () => this.fireClose());
  }
}

/**
 * Calls `onGone` when this process's parent is gone (it was re-parented). The check runs in a
 * worker thread, which goes on while ONNX Runtime blocks the main thread inside a long run:
 * `onGone` runs on the main thread when it is free; if it is not within `graceMs`, the worker
 * kills the process. (The worker runs no ONNX Runtime and is never terminated.)
 */
function watchParent(onGone: () => void, graceMs = 3000): void {
  // the parent when this process started (it may have gone while the bundle loaded)
  const parent = startParentPid;
  if (parent <= 1) return; // started by init: no parent to outlive
  const code = `const { parentPort, workerData } = require('node:worker_threads');
const poll = setInterval(() => {
  if (process.ppid === workerData.parent) return;
  clearInterval(poll);
  parentPort.postMessage('gone');
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), workerData.graceMs);
}, 1000);`;
  const worker = new Worker(code, { eval: true, workerData: { parent, graceMs } });
  worker.on('message', onGone);
  worker.on('error', () => undefined); // a watchdog that fails leaves the other ways of noticing
  worker.unref();
}

/**
 * `lift serve`: the trainer's side of the connection, which ends with its requester. When the
 * connection closes (IPC disconnect, stdin closed, the parent gone, garbage framing) or a shutdown
 * is asked for, every request in flight is cancelled — a learn whose requester left never
 * switches the active adapter — and the process exits once they have ended (2 s at most).
 */
export function serveProcess(stdio: boolean): void {
  /** Each request being handled, by id: cancelled on close; it leaves when its answer is written. */
  const inFlight = new Map<string | number, CancellationTokenSource>();
  const cancellationStrategy: CancellationStrategy = {
    receiver: {
      createCancellationTokenSource: (id) => {
        const source = new CancellationTokenSource();
        inFlight.set(id, source);
        return source;
      },
    },
    sender: CancellationSenderStrategy.Message,
  };
  const base = stdio ? new StreamMessageWriter(process.stdout) : new IPCMessageWriter(process);
  const writer: MessageWriter = {
    onError: base.onError,
    onClose: base.onClose,
    write: (message) => {
      if (Message.isResponse(message) && message.id !== null) inFlight.delete(message.id);
      return base.write(message);
    },
    end: () => base.end(),
    dispose: () => base.dispose(),
  };
  let exiting = false;
  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    for (const source of inFlight.values()) source.cancel();
    const deadline = Date.now() + 2000;
    const check = (): void => {
      if (inFlight.size === 0 || Date.now() > deadline) process.exit(code);
      else setTimeout(check, 10);
    };
    check();
  };
  let input: NodeJS.ReadableStream | undefined;
  if (stdio) {
    const guard = new FrameGuard();
    // registered before the connection's own listener: this exit code wins over its close
    guard.once('error', (err) => {
      process.stderr.write(`lift serve: ${err.message}; closing the connection\n`);
      exit(1);
    });
    input = process.stdin.pipe(guard);
  }
  const connection = createMessageConnection(input ? new StreamMessageReader(input) : new ParentIpcReader(), writer, undefined, { cancellationStrategy });
  // In stdio mode stdout carries the protocol: keep stray console output off it.
  if (stdio) console.log = console.error;
  // Ctrl+C (and a terminal's hangup) reaches the whole process group: the client that started
  // us decides (it cancels the request, then shuts us down; we exit if it is gone).
  else for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);
  watchParent(() => exit(0));
  serve(connection, exit);
}
