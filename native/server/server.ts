/**
 * The trainer's JSON-RPC methods, registered on a connection (IPC or stdio).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { type CancellationToken, type MessageConnection, ResponseError } from 'vscode-jsonrpc';
import { version as trainerVersion } from '../../package.json';
import {
  Adapters,
  type AdaptersResult,
  type AdapterStatus,
  AdapterStatusRequest,
  Ask,
  type AskParams,
  type CodeRange,
  AskProgress,
  type AskResult,
  Echo,
  type EchoParams,
  EnableGpu,
  EnableGpuProgressType,
  EchoProgress,
  type EchoResult,
  Explain,
  FilesChanged,
  Initialize,
  Learn,
  LearnProgressType,
  Log,
  MAX_MENTIONS,
  Models,
  ExportGguf,
  NEEDS_TOKEN,
  type ModelsResult,
  PullModel,
  PullModelProgressType,
  type LogLevel,
  PROTOCOL_VERSION,
  REQUEST_CANCELLED,
  Shutdown,
  Status,
  type TrainerStatus,
} from '../protocol';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Answerer } from '../lift/answer';
import { LEARNED_QUESTIONS, QuestionMatcher } from '../lift/match';
import { FifoQueue, QueueCancelled } from './queue';
import { CollectCancelled, collect, MAX_FILE_BYTES } from '../lift/corpus';
import { describeRefusal, isInside, readBounded, realpathOrUndefined, relativePosix, resolveInside } from '../files';
import type { Chunk } from '../lift/retrieve';
import { RetrievalIndexes } from './indexes';
import { isSecretFile, redactSecrets } from '../lift/secrets';
import { AdapterStore, figures, readManifest, staleness, summarize, weightsAlone } from '../lift/store';
import { defaultModelDir } from '../model/default';
import { HubCancelled, HubError, hubCacheDir, listCached, pullModel, resolveModel } from '../model/hub';
import { exportGguf, GGUF_QUANTS } from '../model/gguf';
import { measureMachine, modelChoices } from '../lift/choices';
import { modelStamp } from '../model/weights';
import { ADAPTER_WEIGHTS, AdapterError, hasAdapterWeights } from '../model/peft';
import { LearnCancelled } from '../lift/learn';
import { learnWorkspace } from '../lift/pipeline';
import { GpuInstallCancelled, installGpu } from '../runtime/cuda';
import { executionProviders, loadOrt, ortSource, runtimeSelfTest } from '../runtime/ort';
import { onDeviceFallback } from '../runtime/session';

/** JSON-RPC error code of a learn or ask request that failed (bad model, nothing to learn, …). */
export const LEARN_FAILED = -32001;

export { trainerVersion };

function cancelled(): ResponseError<void> {
  return new ResponseError(REQUEST_CANCELLED, 'The request was cancelled.');
}

/** Resolves after `ms`, or early when the token fires. */
function pause(ms: number, token: CancellationToken): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const sub = token.onCancellationRequested(done);
    function done(): void {
      clearTimeout(timer);
      sub.dispose();
      resolve();
    }
  });
}

/** Run once per process: it proves the native runtime works here; status stays cheap. */
let selfTest: ReturnType<typeof runtimeSelfTest> | undefined;

export async function trainerStatus(): Promise<TrainerStatus> {
  let onnxruntime: TrainerStatus['onnxruntime'];
  try {
    const ort = loadOrt();
    selfTest ??= runtimeSelfTest();
    const source = ortSource();
    onnxruntime = {
      loaded: true,
      version: ort.env.versions.node ?? ort.env.versions.common,
      providers: executionProviders(),
      selfTest: await selfTest,
      ...(source.gpuInstall ? { gpuInstall: source.gpuInstall } : {}),
      ...(source.reason ? { gpuInstallProblem: source.reason } : {}),
    };
  } catch (err) {
    onnxruntime = { loaded: false, error: err instanceof Error ? err.message : String(err) };
  }
  const mem = process.memoryUsage();
  return {
    pid: process.pid,
    trainerVersion,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    uptimeSeconds: process.uptime(),
    onnxruntime,
    memory: {
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      systemTotalBytes: os.totalmem(),
      systemFreeBytes: os.freemem(),
    },
  };
}

/** Splits text into word-sized chunks, each keeping its trailing whitespace. */
export function chunkWords(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

export async function echo(
  params: EchoParams,
  token: CancellationToken,
  report: (chunk: { index: number; text: string }) => void,
): Promise<EchoResult> {
  if (typeof params?.text !== 'string') throw new ResponseError(-32602, 'echo: "text" must be a string.');
  const reply = `The trainer (pid ${process.pid}) received your question: "${params.text}". Set "lift.model" to a model folder to get answers from a model.`;
  const chunks = chunkWords(reply);
  const delay = Math.max(0, Math.min(Number(params.chunkDelayMs) || 0, 10_000));
  for (const [index, text] of chunks.entries()) {
    if (token.isCancellationRequested) throw cancelled();
    report({ index, text });
    if (delay > 0) await pause(delay, token);
  }
  if (token.isCancellationRequested) throw cancelled();
  return { text: reply, chunks: chunks.length };
}

/** Lines of a file as a context chunk (the editor's text when given), redacted, with its workspace-relative path. */
export function rangeChunk(what: string, r: CodeRange, roots: readonly string[]): Chunk {
  const { file, startLine, endLine } = r;
  if (typeof file !== 'string' || !Number.isSafeInteger(startLine) || !Number.isSafeInteger(endLine) || startLine < 1 || endLine < startLine) {
    throw new ResponseError(-32602, `${what}: "file", "startLine" ≤ "endLine" (1-based) are required.`);
  }
  const refuse = (why: string): never => {
    throw new ResponseError(LEARN_FAILED, `${what}: ${why}`);
  };
  if (isSecretFile(file)) refuse(`${path.basename(file)} holds credentials; LIFT does not read it.`);
  let lines: string[];
  let rel: string | undefined;
  if (typeof r.code === 'string') {
    // the editor's own text: nothing is read from disk. A workspace file that links elsewhere is
    // still held to the path policy: its target must lie inside the workspace and not be a secret.
    const abs = path.resolve(file);
    const real = realpathOrUndefined(abs);
    if (real && real !== abs) {
      if (isSecretFile(real)) refuse(`${file} leads to ${real}, which holds credentials; LIFT does not read it.`);
      const lexicalRoot = roots.find((x) => isInside(abs, path.resolve(x)));
      const realRoots = roots.map((x) => realpathOrUndefined(path.resolve(x))).filter((x): x is string => !!x);
      if (lexicalRoot && !realRoots.some((x) => isInside(real, x))) refuse(`${file} is a link that leads outside the workspace folders (to ${real}); LIFT does not read it.`);
    }
    lines = [...Array<string>(startLine - 1).fill(''), ...r.code.split('\n')];
  } else {
    // read from disk: only a regular file inside a workspace folder, every symlink resolved
    let where: ReturnType<typeof resolveInside>;
    try {
      where = resolveInside(file, roots);
    } catch (err) {
      return refuse(`${err instanceof Error ? err.message : String(err)}.`);
    }
    if (isSecretFile(where.rel)) refuse(`${file} leads to ${where.rel}, which holds credentials; LIFT does not read it.`);
    const read = readBounded(where.real, MAX_FILE_BYTES);
    if (!read.ok) return refuse(`cannot read ${file}: ${describeRefusal(read)}.`);
    lines = new TextDecoder().decode(read.bytes).split('\n');
    rel = where.rel;
  }
  const root = rel === undefined ? roots.map((x) => path.resolve(x)).find((x) => isInside(path.resolve(file), x)) : undefined;
  rel ??= root ? relativePosix(root, path.resolve(file)) : path.basename(file);
  return { path: rel, startLine, endLine: Math.min(endLine, lines.length), text: redactSecrets(lines.slice(startLine - 1, endLine).join('\n')).text };
}

/** Registers every method on `connection`; `exit` ends the process after a shutdown request. */
export function serve(connection: MessageConnection, exit: (code: number) => void): void {
  const log = (level: LogLevel, message: string): void => void connection.sendNotification(Log, { level, message });
  onDeviceFallback((message) => log('warn', message));

  connection.onRequest(Initialize, (params) => {
    if (params?.protocolVersion !== PROTOCOL_VERSION) {
      throw new ResponseError(
        -32600,
        `Protocol mismatch: the client speaks version ${params?.protocolVersion}, this trainer ${PROTOCOL_VERSION}. Reinstall the extension.`,
      );
    }
    log('info', `trainer ${trainerVersion} ready (pid ${process.pid}, node ${process.version}) for ${params.client.name} ${params.client.version}`);
    return { protocolVersion: PROTOCOL_VERSION, trainerVersion, pid: process.pid };
  });

  connection.onRequest(Status, async () => {
    const status = await trainerStatus();
    if (!status.onnxruntime.loaded) log('error', `ONNX Runtime failed to load: ${status.onnxruntime.error}`);
    return status;
  });

  connection.onRequest(Echo, (params, token) =>
    echo(params, token, (chunk) => {
      if (params.progressToken !== undefined) void connection.sendProgress(EchoProgress, params.progressToken, chunk);
    }),
  );

  connection.onRequest(Learn, async (params, token) => {
    if (!params || !Array.isArray(params.roots) || typeof params.model !== 'string' || (typeof params.adapterDir === 'string') === (typeof params.store === 'string')) {
      throw new ResponseError(-32602, 'learn: "roots" (array), "model" and one of "adapterDir" or "store" (strings) are required.');
    }
    const { progressToken, ...rest } = params;
    const modelDir = modelOf(params.model);
    try {
      const summary = await learnWorkspace(
        { ...rest, modelDir },
        {
          onProgress: (p) => void (progressToken !== undefined && connection.sendProgress(LearnProgressType, progressToken, p)),
          isCancelled: () => token.isCancellationRequested,
        },
      );
      const { report, selfCheck, ...result } = summary;
      const skippedByReason: Record<string, number> = {};
      for (const s of report.skipped) skippedByReason[s.reason] = (skippedByReason[s.reason] ?? 0) + 1;
      log('info', `learned ${result.files} files (${result.tokens} tokens, ${result.steps} steps, loss ${result.firstLoss.toFixed(3)} → ${result.finalLoss.toFixed(3)}) into ${result.adapterDir}`);
      return { ...result, skippedByReason, ...(selfCheck ? { selfCheck: figures(selfCheck) } : {}) };
    } catch (err) {
      if (err instanceof LearnCancelled || err instanceof CollectCancelled) throw cancelled();
      throw new ResponseError(LEARN_FAILED, err instanceof Error ? err.message : String(err));
    }
  });

  /** The model folder a request means: the one given, else the bundled default model. */
  const modelOf = (model: string): string => {
    const dir = model || defaultModelDir();
    if (!dir) throw new ResponseError(LEARN_FAILED, 'No model is set and the default model is not installed: point "lift.model" at a Hugging Face model folder.');
    // a Hub id (org/name) means its snapshot in the Hugging Face cache
    try {
      return resolveModel(dir);
    } catch (err) {
      throw new ResponseError(LEARN_FAILED, (err as Error).message);
    }
  };

  /** The adapter folder a request means: the one given, or its store's active one. */
  const adapterOf = (p: { adapterDir?: string; store?: string }): string | undefined =>
    typeof p.adapterDir === 'string' ? p.adapterDir : typeof p.store === 'string' ? new AdapterStore(p.store).activeDir() : undefined;

  let answerer: { dir: string; stamp: string; ready: Promise<Answerer> } | undefined;
  /** Retrieval indexes of the workspaces asked about (saved in their adapter stores). */
  const indexes = new RetrievalIndexes(log);
  /** Questions and explanations are answered one at a time, in the order they came. */
  const line = new FifoQueue();
  /** Explanations by content: the same code, model and adapter give the same answer. */
  const explained = new Map<string, AskResult>();

  /** The learned-question matcher of the adapter answering (read again when its file changes). */
  let matcher: { key: string; matcher: QuestionMatcher | undefined } | undefined;
  const matcherOf = (dir: string): QuestionMatcher | undefined => {
    let key = `${dir}:none`;
    try {
      const st = fs.statSync(path.join(dir, LEARNED_QUESTIONS), { throwIfNoEntry: false });
      if (st) key = `${dir}:${st.mtimeMs}:${st.size}`;
    } catch {
      // unreadable: load says why
    }
    if (matcher?.key !== key) {
      try {
        matcher = { key, matcher: QuestionMatcher.load(dir) };
      } catch (err) {
        log('warn', `questions are asked in the user's words: ${(err as Error).message}`);
        matcher = { key, matcher: undefined };
      }
    }
    return matcher.matcher;
  };

  /** Shared by ask and explain: load the model once, retrieve, answer, stream. */
  function answerWith(p: AskParams, token: CancellationToken, pinned: Chunk[] = [], cacheKey?: string): Promise<AskResult> {
    return line.run(() => answerNow(p, token, pinned, cacheKey), token).catch((err: unknown) => {
      throw err instanceof QueueCancelled ? cancelled() : err;
    });
  }

  async function answerNow(p: AskParams, token: CancellationToken, pinned: Chunk[], cacheKey?: string): Promise<AskResult> {
    p = { ...p, model: modelOf(p.model) };
    const stream = (text: string): void => void (p.progressToken !== undefined && connection.sendProgress(AskProgress, p.progressToken, { text }));
    try {
      // an adapter asked for by folder must be there: an error before anything is loaded
      if (typeof p.adapterDir === 'string' && !hasAdapterWeights(p.adapterDir)) {
        throw new ResponseError(LEARN_FAILED, `There is no adapter in ${p.adapterDir} (no ${ADAPTER_WEIGHTS}): give a folder that learning wrote, or no adapter to answer from the base model.`);
      }
      // the model folder as it is now: deleted, it is an error; replaced, it is loaded again
      const stamp = modelStamp(p.model);
      if (answerer?.dir !== p.model || answerer.stamp !== stamp) {
        if (answerer) void answerer.ready.then((a) => a.release()).catch(() => undefined);
        answerer = { dir: p.model, stamp, ready: Answerer.load(p.model) };
        answerer.ready.then((a) => log('info', `answering with ${p.model} in ${a.weights} weights (lift.answerPrecision ${process.env.LIFT_ANSWER_PRECISION || 'auto'})${a.quantCache ? `; ${a.quantCache}` : ''}`), () => (answerer = undefined));
      }
      const model = await answerer.ready;
      // an adapter learned on another base model does not fit this one: answer without it
      let dir = adapterOf(p);
      const manifest = dir ? readManifest(dir) : undefined;
      const learnedOn = manifest?.baseModel;
      if (dir && learnedOn && path.resolve(learnedOn) !== path.resolve(p.model)) {
        log('warn', `the adapter in ${dir} was learned on ${learnedOn}, not ${p.model}: answering without it`);
        dir = undefined;
      }
      let usedAdapter: boolean;
      let notice: string | undefined;
      try {
        usedAdapter = await model.useAdapter(dir);
      } catch (err) {
        // a store's active adapter that does not fit the model (the model folder changed, a damaged
        // file) is set aside, so that answering goes on; an adapter asked for by name is an error
        if (!(err instanceof AdapterError) || typeof p.store !== 'string' || typeof p.adapterDir === 'string' || !dir) throw err;
        new AdapterStore(p.store).deactivate(path.basename(dir));
        notice = `The active adapter does not fit this model (${err.message}). It is no longer active (it stays in the store) and this answer comes from the base model: learn the workspace again.`;
        log('warn', notice);
        usedAdapter = await model.useAdapter(undefined);
      }
      const key = cacheKey && `${cacheKey}:${p.model}:${model.adapterIdentity ?? 'base'}`;
      const hit = key ? explained.get(key) : undefined;
      if (hit) {
        stream(hit.text);
        return hit;
      }
      let hits: Chunk[] = [];
      // an adapter whose self-check answered more from its weights alone than with retrieved
      // context answers without searching the workspace (unless the request asks for retrieval)
      const check = usedAdapter ? manifest?.selfCheck : undefined;
      const retrievalOff =
        p.retrieve === undefined && check && weightsAlone(check)
          ? `this adapter answered ${check.direct} of ${check.asked} check questions from its weights alone and ${check.withRetrieval} with retrieved context, so the workspace was not searched`
          : undefined;
      if (p.retrieve !== false && !retrievalOff) {
        // the workspace's index (built on the first question, then kept current): no walk of the tree
        const found = await indexes.retrieve(p, p.question + pinned.map((c) => ` ${c.text}`).join(''), 8, { isCancelled: () => token.isCancellationRequested });
        hits = found.chunks;
      }
      // a fact question is asked as the adapter learned the fact it is most likely about (explanations, which have a cache key, as written)
      const matched = usedAdapter && dir && !cacheKey ? matcherOf(dir)?.match(p.question) : undefined;
      const askedAs = matched?.question;
      const { logprobs: _logprobs, ends: _ends, ...answer } = await model.answer(askedAs ?? p.question, [...pinned, ...hits.filter((h) => !pinned.some((c) => c.path === h.path && c.startLine === h.startLine))], {
        history: p.history,
        maxTokens: p.maxTokens,
        isCancelled: () => token.isCancellationRequested,
        onText: stream,
      });
      if (answer.stop === 'cancelled') throw cancelled();
      const result = { ...answer, usedAdapter, ...(askedAs ? { askedAs } : {}), ...(matched?.also.length ? { alsoLearned: matched.also } : {}), ...(notice ? { notice } : {}), ...(retrievalOff ? { retrievalOff } : {}) };
      if (key) {
        explained.set(key, result);
        if (explained.size > 200) explained.delete(explained.keys().next().value!);
      }
      return result;
    } catch (err) {
      if (err instanceof ResponseError) throw err;
      if (err instanceof CollectCancelled) throw cancelled();
      throw new ResponseError(LEARN_FAILED, err instanceof Error ? err.message : String(err));
    }
  }

  connection.onRequest(Ask, (params, token) => {
    if (typeof params?.question !== 'string' || !params.question.trim() || !Array.isArray(params.roots)) {
      throw new ResponseError(-32602, 'ask: "question" (non-empty string) and "roots" (array) are required.');
    }
    if (params.history !== undefined && !(Array.isArray(params.history) && params.history.every((t) => typeof t?.question === 'string' && typeof t?.answer === 'string'))) {
      throw new ResponseError(-32602, 'ask: "history" must be a list of { question, answer } strings.');
    }
    if (params.mentions !== undefined && !(Array.isArray(params.mentions) && params.mentions.length <= MAX_MENTIONS)) {
      throw new ResponseError(-32602, `ask: "mentions" must be a list of at most ${MAX_MENTIONS} ranges.`);
    }
    // the active editor's selection (or the lines around its cursor) and what the user mentioned are always in the context
    const pinned: Chunk[] = [];
    for (const r of [...(params.active ? [params.active] : []), ...(params.mentions ?? [])]) {
      const c = rangeChunk('ask', r, params.roots);
      if (!pinned.some((x) => x.path === c.path && x.startLine === c.startLine && x.endLine === c.endLine)) pinned.push(c);
    }
    return answerWith(params, token, pinned);
  });

  connection.onRequest(Explain, (params, token) => {
    if (!params || !Array.isArray(params.roots)) throw new ResponseError(-32602, 'explain: "file", "startLine" ≤ "endLine" (1-based) and "roots" are required.');
    const range = rangeChunk('explain', params, params.roots);
    const question = `Explain the code at ${range.path}:${range.startLine}-${range.endLine}.`;
    const hash = createHash('sha256').update(range.path).update('\0').update(range.text).digest('hex');
    return answerWith({ ...params, question }, token, [range], hash);
  });

  connection.onRequest(AdapterStatusRequest, async (params): Promise<AdapterStatus> => {
    if (typeof params?.adapterDir !== 'string' && typeof params?.store !== 'string') throw new ResponseError(-32602, 'adapterStatus: "adapterDir" or "store" is required.');
    const dir = adapterOf(params);
    const m = dir ? readManifest(dir) : undefined;
    if (!dir || !m || !hasAdapterWeights(dir)) return { learned: false };
    const files = params.roots ? (await collect(params.roots, { include: params.include, exclude: params.exclude })).files : undefined;
    // the collection also brings the retrieval index up to date (queued: it never delays this answer)
    if (files && params.roots) {
      const model = typeof params.model === 'string' ? modelOfOptional(params.model) : undefined;
      void indexes.collected({ roots: params.roots, store: params.store, include: params.include, exclude: params.exclude, model }, files);
    }
    return { learned: true, ...summarize(m), stale: staleness(m, files) };
  });

  /** The model folder named, else the default model's; undefined when neither is there. */
  const modelOfOptional = (model: string): string | undefined => {
    if (!model) return defaultModelDir();
    try {
      return resolveModel(model);
    } catch {
      return undefined; // a Hub id not downloaded yet: nothing to index with
    }
  };

  connection.onNotification(FilesChanged, (params) => {
    const strings = (x: unknown): boolean => Array.isArray(x) && x.every((s) => typeof s === 'string');
    const optional = (x: unknown): boolean => x === undefined || strings(x);
    if (!params || !strings(params.roots) || !strings(params.paths) || !optional(params.include) || !optional(params.exclude) || (params.store !== undefined && typeof params.store !== 'string') || (params.model !== undefined && typeof params.model !== 'string')) {
      log('warn', 'filesChanged: "roots" and "paths" (lists of strings) are required, "store" and "model" are strings; ignored');
      return;
    }
    const model = typeof params.model === 'string' ? modelOfOptional(params.model) : undefined;
    const started = performance.now();
    void indexes.filesChanged({ roots: params.roots, store: params.store, include: params.include, exclude: params.exclude, model }, params.paths).then((r) => {
      if (r.put || r.removed) log('debug', `retrieval index: ${r.put} files indexed, ${r.removed} removed in ${Math.round(performance.now() - started)} ms`);
    });
  });

  connection.onRequest(Adapters, (params): AdaptersResult => {
    if (typeof params?.store !== 'string') throw new ResponseError(-32602, 'adapters: "store" (string) is required.');
    const store = new AdapterStore(params.store);
    try {
      if (typeof params.delete === 'string') store.delete(params.delete);
      if (typeof params.select === 'string') store.select(params.select);
    } catch (err) {
      throw new ResponseError(LEARN_FAILED, `adapters: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { adapters: store.list(), active: store.activeKey() };
  });

  connection.onRequest(EnableGpu, async (params, token) => {
    if (typeof params?.storageDir !== 'string' || (params.feed !== undefined && typeof params.feed !== 'string') || (params.folder !== undefined && typeof params.folder !== 'string')) {
      throw new ResponseError(-32602, 'enableGpu: "storageDir" (string) is required; "feed" and "folder" are strings.');
    }
    try {
      const r = await installGpu({
        storageDir: params.storageDir,
        feed: params.feed,
        folder: params.folder,
        isCancelled: () => token.isCancellationRequested,
        onProgress: (p) => void (params.progressToken !== undefined && connection.sendProgress(EnableGpuProgressType, params.progressToken, p)),
      });
      log('info', `GPU support installed in ${r.ortDir} from ${r.source}${r.missing.length ? `; still missing: ${r.missing.join('; ')}` : ''}`);
      return r;
    } catch (err) {
      if (err instanceof GpuInstallCancelled) throw cancelled();
      throw new ResponseError(LEARN_FAILED, err instanceof Error ? err.message : String(err));
    }
  });

  connection.onRequest(Models, async (params): Promise<ModelsResult> => {
    const strings = (x: unknown): boolean => x === undefined || (Array.isArray(x) && x.every((s) => typeof s === 'string'));
    if (!params || !strings(params.roots) || !strings(params.include) || !strings(params.exclude) || (params.tokenBudget !== undefined && !(params.tokenBudget > 0))) {
      throw new ResponseError(-32602, 'models: "roots", "include" and "exclude" are lists of strings; "tokenBudget" a positive number.');
    }
    const files = params.roots?.length ? (await collect(params.roots, { include: params.include, exclude: params.exclude })).files : [];
    const workspaceChars = files.reduce((n, f) => n + f.text.length, 0);
    const machine = await measureMachine();
    return {
      cacheDir: hubCacheDir(),
      cached: listCached().map(({ id, commit, bytes }) => ({ id, commit, bytes })),
      choices: modelChoices(machine, workspaceChars, params.tokenBudget),
      workspaceChars,
      machine,
    };
  });

  connection.onRequest(PullModel, async (params, token) => {
    if (typeof params?.model !== 'string' || (params.token !== undefined && typeof params.token !== 'string')) {
      throw new ResponseError(-32602, 'pullModel: "model" (org/name, optionally @revision) is required; "token" is a string.');
    }
    try {
      const r = await pullModel(params.model, {
        token: params.token || undefined,
        isCancelled: () => token.isCancellationRequested,
        onProgress: (p) => void (params.progressToken !== undefined && connection.sendProgress(PullModelProgressType, params.progressToken, p)),
      });
      log('info', `${params.model}: ${r.fetchedBytes ? `downloaded ${r.fetchedBytes} bytes into` : 'already in'} ${r.dir}`);
      return r;
    } catch (err) {
      if (err instanceof HubCancelled) throw cancelled();
      if (err instanceof HubError && err.needsToken) throw new ResponseError(NEEDS_TOKEN, err.message);
      throw new ResponseError(LEARN_FAILED, err instanceof Error ? err.message : String(err));
    }
  });

  connection.onRequest(ExportGguf, (params) => {
    const quants: readonly string[] = GGUF_QUANTS;
    if (!params || typeof params.model !== 'string' || typeof params.outDir !== 'string' || (params.quant !== undefined && !quants.includes(params.quant)) || (params.adapterDir !== undefined && typeof params.adapterDir !== 'string') || (params.store !== undefined && typeof params.store !== 'string')) {
      throw new ResponseError(-32602, `exportGguf: "model" and "outDir" (strings) are required; "quant" is one of ${GGUF_QUANTS.join(', ')}.`);
    }
    const adapterDir = adapterOf(params);
    if (params.merge && !adapterDir) throw new ResponseError(LEARN_FAILED, 'There is no adapter to merge: learn first.');
    try {
      const r = exportGguf({ modelDir: modelOf(params.model), adapterDir, outDir: params.outDir, quant: params.quant, merge: params.merge });
      log('info', `exported ${r.model}${r.adapter ? ` and ${r.adapter}` : ''}`);
      return r;
    } catch (err) {
      throw new ResponseError(LEARN_FAILED, err instanceof Error ? err.message : String(err));
    }
  });

  connection.onRequest(Shutdown, () => {
    log('info', 'shutting down on request');
    indexes.flush();
    setImmediate(() => exit(0));
  });

  connection.onClose(() => {
    indexes.flush();
    exit(0);
  });
  connection.listen();
}
