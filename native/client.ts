/**
 * Starts and supervises a trainer process and talks to it over JSON-RPC. Used by the extension
 * host and by the `lift` command line; knows nothing of `vscode` and never loads ONNX Runtime.
 *
 * A trainer that dies is restarted on the next request (and the log says so); a request in
 * flight when it dies fails at once with a clear TrainerError instead of hanging.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as readline from 'node:readline';
import {
  type CancellationToken,
  ErrorCodes,
  type MessageConnection,
  type ProgressType,
  type RequestType,
  ResponseError,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
} from 'vscode-jsonrpc/node';
import {
  type AdapterStatus,
  type AdapterStatusParams,
  AdapterStatusRequest,
  Adapters,
  type AdaptersParams,
  type AdaptersResult,
  Ask,
  type AskParams,
  AskProgress,
  type AskResult,
  Echo,
  type EchoChunk,
  type EchoParams,
  EchoProgress,
  type EchoResult,
  Explain,
  type ExplainParams,
  FilesChanged,
  type FilesChangedParams,
  Initialize,
  type InitializeResult,
  EnableGpu,
  Models,
  type ModelsParams,
  ExportGguf,
  type ExportGgufParams,
  type ExportGgufResult,
  type ModelsResult,
  PullModel,
  type PullModelParams,
  type PullModelProgress,
  PullModelProgressType,
  type PullModelResult,
  type EnableGpuParams,
  type EnableGpuProgress,
  EnableGpuProgressType,
  type EnableGpuResult,
  Learn,
  type LearnParams,
  type LearnProgress,
  LearnProgressType,
  type LearnResult,
  Log,
  type LogLevel,
  PROTOCOL_VERSION,
  REQUEST_CANCELLED,
  Shutdown,
  Status,
  type TrainerStatus,
} from './protocol';

export interface TrainerLogger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type TrainerState = 'stopped' | 'starting' | 'ready' | 'crashed' | 'failed';

export type TrainerErrorKind = 'crashed' | 'cancelled' | 'start-failed' | 'unavailable' | 'remote';

export class TrainerError extends Error {
  constructor(
    message: string,
    readonly kind: TrainerErrorKind,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}

export interface TrainerClientOptions {
  /** The trainer bundle (dist/trainer.js) or an override for development. */
  trainerPath: string;
  logger: TrainerLogger;
  client: { name: string; version: string };
  /** The Node binary; defaults to this process's (Electron runs as Node via ELECTRON_RUN_AS_NODE). */
  execPath?: string;
  /** Extra environment for the trainer; a function is read at each start (settings may change). */
  env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  /** How long start-up and the handshake may take. */
  startTimeoutMs?: number;
  /** After this many unexpected exits within `crashWindowMs`, stop restarting until `restart()`. */
  maxCrashes?: number;
  crashWindowMs?: number;
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Running {
  proc: ChildProcess;
  conn: MessageConnection;
  info: InitializeResult;
  exited: Promise<ExitInfo>;
  /** Set when we stop it on purpose, so its exit is not reported as a crash. */
  stopping: boolean;
}

/** vscode-jsonrpc's codes for a request lost with its connection (not an answer from the trainer). */
const CONNECTION_ERRORS = new Set<number>([ErrorCodes.PendingResponseRejected, ErrorCodes.ConnectionInactive, ErrorCodes.MessageWriteError, ErrorCodes.MessageReadError]);

const LOG_LEVELS = new Set<string>(['trace', 'debug', 'info', 'warn', 'error'] satisfies LogLevel[]);

function describeExit({ code, signal }: ExitInfo): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Trainers started by this process. However this process ends — dispose not called, an uncaught
 * error, process.exit on a second Ctrl+C — its 'exit' handlers run (only a signal with no handler,
 * or SIGKILL, skips them: the trainer then sees its IPC channel close or its parent change), and
 * they kill every trainer still running: a trainer never outlives whoever started it.
 */
const trainers = new Set<ChildProcess>();
let exitHook = false;

function killOnExit(proc: ChildProcess): void {
  trainers.add(proc);
  proc.once('exit', () => trainers.delete(proc));
  proc.once('error', () => trainers.delete(proc));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of trainers) {
      try {
        p.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export class TrainerClient {
  private current: Promise<Running> | undefined;
  private live: Running | undefined;
  private crashTimes: number[] = [];
  private starts = 0;
  private progressIds = 0;
  private disposed = false;
  private stateValue: TrainerState = 'stopped';
  private readonly listeners = new Set<(state: TrainerState) => void>();

  constructor(private readonly opts: TrainerClientOptions) {}

  get state(): TrainerState {
    return this.stateValue;
  }

  /** Process id of the running trainer, if one is up. */
  get pid(): number | undefined {
    return this.live?.proc.pid;
  }

  onDidChangeState(listener: (state: TrainerState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private setState(state: TrainerState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    for (const l of this.listeners) l(state);
  }

  /** The running trainer, starting (or restarting) it when needed. */
  private ensure(): Promise<Running> {
    if (this.disposed) return Promise.reject(new TrainerError('The LIFT trainer has been shut down.', 'unavailable'));
    if (this.stateValue === 'failed') {
      return Promise.reject(
        new TrainerError(
          `The LIFT trainer stopped unexpectedly ${this.crashTimes.length} times in a short while, so it is not restarted automatically. See "LIFT: Show Trainer Log", then run "LIFT: Restart Trainer".`,
          'unavailable',
        ),
      );
    }
    if (!this.current) {
      const starting = this.start();
      this.current = starting;
      starting.catch(() => {
        if (this.current === starting) this.current = undefined;
      });
    }
    return this.current;
  }

  private async start(): Promise<Running> {
    const { logger } = this.opts;
    this.starts++;
    if (this.starts > 1) logger.warn(`Restarting the LIFT trainer (start ${this.starts}).`);
    else logger.info(`Starting the LIFT trainer: ${this.opts.trainerPath}`);
    this.setState('starting');

    const proc = fork(this.opts.trainerPath, ['serve'], {
      execPath: this.opts.execPath ?? process.execPath,
      execArgv: [],
      // ORT_DISABLE_TELEMETRY: ONNX Runtime 1.30 otherwise writes a device id and a usage database under
      // ~/.cache/Microsoft and a mat-debug-<pid>.log in the temp folder (loadOrt sets it too)
      env: { ...process.env, ...(typeof this.opts.env === 'function' ? this.opts.env() : this.opts.env), ELECTRON_RUN_AS_NODE: '1', ORT_DISABLE_TELEMETRY: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    killOnExit(proc);
    const stderrTail: string[] = [];
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => logger.info(`[trainer] ${line}`));
    const stderrLines = readline.createInterface({ input: proc.stderr! });
    stderrLines.on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      logger.warn(`[trainer] ${line}`);
    });
    const stderrClosed = new Promise<void>((resolve) => stderrLines.once('close', resolve));
    const exited = new Promise<ExitInfo>((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', (err) => {
        logger.error(`Could not start the LIFT trainer: ${err.message}`);
        resolve({ code: -1, signal: null });
      });
    });

    const conn = createMessageConnection(new IPCMessageReader(proc), new IPCMessageWriter(proc));
    conn.onNotification(Log, ({ level, message }) => {
      const write = LOG_LEVELS.has(level) ? logger[level] : logger.info;
      write.call(logger, `[trainer] ${String(message)}`);
    });
    conn.onError(([err]) => logger.debug(`trainer connection: ${err.message}`));
    conn.listen();

    const running: Running = { proc, conn, exited, stopping: false, info: undefined as unknown as InitializeResult };
    void exited.then((info) => this.onExit(running, info));

    // An exit during start-up is reported with what the trainer last wrote to stderr.
    const diedEarly = async (): Promise<TrainerError | undefined> => {
      const info = await Promise.race([exited, delay(2000).then(() => undefined)]);
      if (!info) return undefined;
      await Promise.race([stderrClosed, delay(500)]);
      const detail = stderrTail.length ? `\n${stderrTail.join('\n')}` : '';
      return new TrainerError(`The LIFT trainer exited during start-up (${describeExit(info)}).${detail}`, 'start-failed');
    };
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    try {
      running.info = await Promise.race([
        conn.sendRequest(Initialize, { protocolVersion: PROTOCOL_VERSION, client: this.opts.client }).catch(async (err: unknown) => {
          throw (await diedEarly()) ??
            (err instanceof ResponseError ? new TrainerError(`The LIFT trainer refused the handshake: ${err.message}`, 'start-failed') : err);
        }),
        exited.then(async (): Promise<never> => {
          throw await diedEarly();
        }),
        delay(timeoutMs).then((): never => {
          throw new TrainerError(`The LIFT trainer did not answer within ${timeoutMs / 1000} s of starting.`, 'start-failed');
        }),
      ]);
    } catch (err) {
      running.stopping = true;
      proc.kill('SIGKILL');
      conn.dispose();
      this.setState('crashed');
      throw err;
    }
    this.live = running;
    logger.info(`LIFT trainer ${running.info.trainerVersion} ready (pid ${running.info.pid}).`);
    this.setState('ready');
    return running;
  }

  private onExit(running: Running, info: ExitInfo): void {
    running.conn.dispose();
    if (this.live === running) {
      this.live = undefined;
      this.current = undefined;
    }
    if (running.stopping || this.disposed) {
      if (this.stateValue === 'ready') this.setState('stopped');
      return;
    }
    const now = Date.now();
    const windowMs = this.opts.crashWindowMs ?? 60_000;
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < windowMs), now];
    if (this.crashTimes.length >= (this.opts.maxCrashes ?? 5)) {
      this.opts.logger.error(
        `The LIFT trainer (pid ${running.proc.pid}) stopped unexpectedly (${describeExit(info)}), ${this.crashTimes.length} times within ${windowMs / 1000} s; not restarting it automatically.`,
      );
      this.setState('failed');
    } else {
      this.opts.logger.error(
        `The LIFT trainer (pid ${running.proc.pid}) stopped unexpectedly (${describeExit(info)}). It will be restarted on the next request.`,
      );
      this.setState('crashed');
    }
  }

  /**
   * Sends one request. Fails with a TrainerError: `cancelled` when the token fired, `crashed`
   * when the trainer died meanwhile, `remote` when the trainer reported an error.
   */
  private async call<R>(method: string, send: (conn: MessageConnection) => Promise<R>): Promise<R> {
    const running = await this.ensure();
    this.inFlight.push(method);
    try {
      return await this.sent(running, method, send);
    } finally {
      this.inFlight.splice(this.inFlight.indexOf(method), 1);
    }
  }

  /** The methods of the requests sent and not yet answered (one entry per request). */
  get requestsInFlight(): readonly string[] {
    return this.inFlight;
  }

  private readonly inFlight: string[] = [];

  private async sent<R>(running: Running, method: string, send: (conn: MessageConnection) => Promise<R>): Promise<R> {
    const crashed = (info: ExitInfo): TrainerError =>
      new TrainerError(
        `The LIFT trainer stopped unexpectedly (${describeExit(info)}) while handling "${method}". It will be restarted on the next request; see "LIFT: Show Trainer Log".`,
        'crashed',
      );
    try {
      return await Promise.race([
        send(running.conn),
        running.exited.then((info): never => {
          throw crashed(info);
        }),
      ]);
    } catch (err) {
      if (err instanceof TrainerError) throw err;
      if (err instanceof ResponseError && err.code === REQUEST_CANCELLED) throw new TrainerError('Cancelled.', 'cancelled', err.code);
      if (err instanceof ResponseError && !CONNECTION_ERRORS.has(err.code)) {
        throw new TrainerError(`The LIFT trainer could not complete "${method}": ${err.message}`, 'remote', err.code);
      }
      // A closed channel can surface before the exit event: give the exit a moment to arrive.
      const info = await Promise.race([running.exited, delay(2000).then(() => undefined)]);
      if (info) throw crashed(info);
      throw err;
    }
  }

  /** Handshake details of the running trainer (starting it if needed). */
  async initialize(): Promise<InitializeResult> {
    return (await this.ensure()).info;
  }

  status(token?: CancellationToken): Promise<TrainerStatus> {
    return this.call(Status.method, (conn) => conn.sendRequest(Status, token));
  }

  /** A request whose partial results arrive as progress under a fresh token. */
  private streamed<P extends { progressToken?: string }, R, V>(
    type: RequestType<P, R, void>,
    progress: ProgressType<V>,
    params: Omit<P, 'progressToken'>,
    onProgress: ((value: V) => void) | undefined,
    token: CancellationToken | undefined,
  ): Promise<R> {
    return this.call(type.method, async (conn) => {
      const progressToken = `${type.method}-${++this.progressIds}`;
      const sub = onProgress ? conn.onProgress(progress, progressToken, onProgress) : undefined;
      try {
        // vscode-jsonrpc's parameter type is a conditional on P, unresolvable for a generic P
        return await conn.sendRequest(type, { ...params, progressToken } as never, token);
      } finally {
        sub?.dispose();
      }
    });
  }

  echo(params: Omit<EchoParams, 'progressToken'>, onChunk?: (chunk: EchoChunk) => void, token?: CancellationToken): Promise<EchoResult> {
    return this.streamed(Echo, EchoProgress, params, onChunk, token);
  }

  learn(params: Omit<LearnParams, 'progressToken'>, onProgress?: (p: LearnProgress) => void, token?: CancellationToken): Promise<LearnResult> {
    return this.streamed(Learn, LearnProgressType, params, onProgress, token);
  }

  /** The models "Choose Model" offers, with this machine's figures for learning the workspace. */
  models(params: ModelsParams, token?: CancellationToken): Promise<ModelsResult> {
    return this.call(Models.method, (conn) => conn.sendRequest(Models, params, token));
  }

  /** Downloads a Hugging Face model into the Hub cache; progress reports the files. A refusal for want of a token fails with code NEEDS_TOKEN. */
  pullModel(params: Omit<PullModelParams, 'progressToken'>, onProgress?: (p: PullModelProgress) => void, token?: CancellationToken): Promise<PullModelResult> {
    return this.streamed(PullModel, PullModelProgressType, params, onProgress, token);
  }

  /** Writes the model and adapter as GGUF files and an Ollama Modelfile (for llama.cpp and Ollama). */
  exportGguf(params: ExportGgufParams, token?: CancellationToken): Promise<ExportGgufResult> {
    return this.call(ExportGguf.method, (conn) => conn.sendRequest(ExportGguf, params, token));
  }

  /** Sets up GPU support; progress reports the download. */
  enableGpu(params: Omit<EnableGpuParams, 'progressToken'>, onProgress?: (p: EnableGpuProgress) => void, token?: CancellationToken): Promise<EnableGpuResult> {
    return this.streamed(EnableGpu, EnableGpuProgressType, params, onProgress, token);
  }

  ask(params: Omit<AskParams, 'progressToken'>, onText?: (text: string) => void, token?: CancellationToken): Promise<AskResult> {
    return this.streamed(Ask, AskProgress, params, onText && ((c) => onText(c.text)), token);
  }

  explain(params: Omit<ExplainParams, 'progressToken'>, onText?: (text: string) => void, token?: CancellationToken): Promise<AskResult> {
    return this.streamed(Explain, AskProgress, params, onText && ((c) => onText(c.text)), token);
  }

  adapterStatus(params: AdapterStatusParams): Promise<AdapterStatus> {
    return this.call(AdapterStatusRequest.method, (conn) => conn.sendRequest(AdapterStatusRequest, params));
  }

  /**
   * Tells a running trainer which files were created, changed or deleted, so that its retrieval
   * index follows. Starts no trainer (one started later checks its saved index against the
   * files): false when none is running.
   */
  filesChanged(params: FilesChangedParams): boolean {
    const conn = this.stateValue === 'ready' ? this.live?.conn : undefined;
    if (!conn) return false;
    conn.sendNotification(FilesChanged, params).catch((err: unknown) => this.opts.logger.debug(`filesChanged: ${err instanceof Error ? err.message : String(err)}`));
    return true;
  }

  /** A store's adapters, after selecting or deleting one when asked. */
  adapters(params: AdaptersParams): Promise<AdaptersResult> {
    return this.call(Adapters.method, (conn) => conn.sendRequest(Adapters, params));
  }

  /** Stops the trainer: a polite shutdown request, then SIGKILL if it does not exit in time. */
  async stop(graceMs = 3000): Promise<void> {
    const running = this.live ?? (await this.current?.catch(() => undefined));
    if (!running) return;
    running.stopping = true;
    running.conn.sendRequest(Shutdown).catch(() => undefined);
    const exited = await Promise.race([running.exited, delay(graceMs).then(() => undefined)]);
    if (!exited) {
      running.proc.kill('SIGKILL');
      await running.exited;
    }
    this.setState('stopped');
  }

  /** Stops the trainer if running and starts a fresh one; clears the crash history. */
  async restart(): Promise<InitializeResult> {
    await this.stop();
    this.crashTimes = [];
    if (this.stateValue === 'failed') this.setState('stopped');
    return this.initialize();
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.disposed = true;
    this.listeners.clear();
  }
}
