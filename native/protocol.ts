/**
 * The one contract between the extension host and the trainer process (JSON-RPC over the
 * child's IPC channel, or stdio for `lift serve --stdio`). Both sides import these types;
 * nothing here may import `vscode` or `onnxruntime-node`.
 */
import { NotificationType, ProgressType, RequestType, RequestType0 } from 'vscode-jsonrpc';

/** Bumped on any incompatible change; the handshake refuses a mismatch. */
export const PROTOCOL_VERSION = 2;

/** JSON-RPC error code of a request that was cancelled (same value as LSP's RequestCancelled). */
export const REQUEST_CANCELLED = -32800;
/** Error code of a `pullModel` the Hub refused for want of an access token (a gated or private model). */
export const NEEDS_TOKEN = -32002;

/** The most files and symbols one question may mention (`AskParams.mentions`). */
export const MAX_MENTIONS = 8;

export interface InitializeParams {
  protocolVersion: number;
  client: { name: string; version: string };
}

export interface InitializeResult {
  protocolVersion: number;
  trainerVersion: string;
  pid: number;
}

export interface ExecutionProviderInfo {
  name: string;
  /** Shipped inside onnxruntime-node itself (CPU); others need extra libraries. */
  bundled: boolean;
  /** Can run here: CPU always; CUDA when its provider library is installed; WebGPU when the build has it (neither is probed with a session yet). */
  available: boolean;
  /** Why it is not available, in plain words. */
  reason?: string;
}

export interface RuntimeSelfTest {
  ok: boolean;
  provider: string;
  output: number[];
  expected: number[];
  ms: number;
}

export interface TrainerStatus {
  pid: number;
  trainerVersion: string;
  node: string;
  platform: string;
  arch: string;
  uptimeSeconds: number;
  onnxruntime:
    | { loaded: true; version: string; providers: ExecutionProviderInfo[]; selfTest: RuntimeSelfTest; gpuInstall?: string; gpuInstallProblem?: string }
    | { loaded: false; error: string };
  memory: { rssBytes: number; heapUsedBytes: number; systemTotalBytes: number; systemFreeBytes: number };
}

export interface EchoParams {
  text: string;
  /** Pause between streamed chunks, for a visible stream (and for tests that interrupt one). */
  chunkDelayMs?: number;
  /** Token for `EchoProgress` notifications; without one the answer comes only at the end. */
  progressToken?: string;
}

export interface EchoResult {
  text: string;
  chunks: number;
}

export interface EchoChunk {
  index: number;
  text: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogParams {
  level: LogLevel;
  message: string;
}

/** Which files, which model and which adapter a request is about: shared by learning and answering. */
export interface WorkspaceParams {
  /** Folders (or one document): learned, or searched for context. */
  roots: string[];
  /** Hugging Face model folder ('' : the bundled default model). */
  model: string;
  /** The adapter folder: written whole when learning completes, used when answering. Or give `store`. */
  adapterDir?: string;
  /**
   * An adapter store: learning gives the adapter its own folder there (keyed by model + corpus)
   * and makes it active; answering uses the active one.
   */
  store?: string;
  include?: string[];
  exclude?: string[];
}

export interface LearnParams extends WorkspaceParams {
  tokenBudget?: number;
  /** `lora` (default) or `gated-memory` (LIFT v3's per-head memory and gate; rank does not apply). */
  adapterKind?: 'lora' | 'gated-memory';
  rank?: number;
  epochs?: number;
  lr?: number;
  seed?: number;
  segmentLength?: number;
  prefixBudget?: number;
  /** Continue the adapter in `adapterDir` (or the store's active one) on what changed since it was learned. */
  incremental?: boolean;
  /** Instruct models: chunks on which the model writes one extra, grounded QA pair (default 0: off). */
  modelQA?: number;
  /** Minutes learning may take (default 10; 0: the preset's passes): the passes are fitted to it from the measured speed. */
  budgetMinutes?: number;
  /** Seconds between learning checkpoints, from which an interrupted learn resumes (default 60; 0: every step; negative: none). */
  checkpointSeconds?: number;
  /** After learning, ask up to this many held-out fact questions (default 50; 0: no self-check). */
  selfCheck?: number;
  /** fast: 1 + 1 passes at lr 3e-4; thorough: 3 + 5 passes at 2e-4. `epochs`/`lr` override. */
  preset?: 'fast' | 'thorough';
  /** Refuse to start when the memory estimate exceeds the memory available (default true). */
  memoryCheck?: boolean;
  /** Activation recomputation: `auto` (default: when the step would not fit otherwise), `on`, `off`. */
  recompute?: 'auto' | 'on' | 'off';
  /** Samples per optimizer step (default: 1 on the CPU; on CUDA up to 4, from the free GPU memory). */
  batch?: number;
  progressToken?: string;
}

export type LearnPhase = 'collect' | 'tokenize' | 'build' | 'train' | 'save' | 'check';

export interface LearnProgress {
  phase: LearnPhase;
  step?: number;
  totalSteps?: number;
  loss?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
  message?: string;
  /** Before training: how long it will take on this machine, from its measured speed. */
  estimateSeconds?: number;
  /** Even the fewest passes take longer than `lift.learnBudgetMinutes`: the editor asks whether to go on. */
  overBudget?: { estimateSeconds: number; budgetSeconds: number };
}

export interface LearnResult {
  adapterDir: string;
  /** Synthetic question-answer pairs trained on in stage 2. */
  qaPairs: number;
  inputHash: string;
  files: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  redactions: number;
  tokens: number;
  samples: number;
  steps: number;
  firstLoss: number;
  finalLoss: number;
  /** Checkable facts found in the documents and code (each taught by several questions). */
  facts?: number;
  /** Why some text gave no facts (not English, over the size cap). */
  notes?: string[];
  /** Passes trained per stage (segments; segments + QA), after fitting the time budget. */
  passes?: number[];
  selfCheck?: SelfCheckFigures;
}

/** What answering needs besides the question: shared by `ask` and `explain`. */
export interface AnswerContextParams extends WorkspaceParams {
  maxTokens?: number;
  /**
   * Retrieve context from the roots: true always; false never (the weights alone); by default yes,
   * unless the adapter's self-check answered more from its weights alone (`SelfCheckFigures`).
   */
  retrieve?: boolean;
  progressToken?: string;
}

/** Lines of a file (1-based, inclusive), with the editor's text when it has unsaved changes. */
export interface CodeRange {
  file: string;
  startLine: number;
  endLine: number;
  code?: string;
}

export interface AskParams extends AnswerContextParams {
  question: string;
  /** Earlier turns of the conversation, oldest first (the prompt keeps the newest that fit). */
  history?: { question: string; answer: string }[];
  /** The active editor's selection, or the lines around its cursor: always in the context. */
  active?: CodeRange;
  /** Files and symbols the user mentioned (`#file`, a symbol): always in the context, after `active` (at most 8). */
  mentions?: CodeRange[];
}

/** A learned fact near a question: the question learning asked it with, and its value. */
export interface NearbyFact {
  question: string;
  value?: string;
}

export interface AskResult {
  text: string;
  /** The files and lines given to the model as context. */
  sources: { path: string; startLine: number; endLine: number }[];
  /** Whether learned knowledge (an adapter) was used. */
  usedAdapter: boolean;
  stop: 'stop-token' | 'max-tokens' | 'cancelled';
  /** The learned question this one was asked as (the adapter's fact it matched), when it was not asked in the user's words. */
  askedAs?: string;
  /** Other learned facts near the question (their learned questions and values), shown as ones the user may have meant: an answer to a reworded question can be about the wrong one. */
  alsoLearned?: NearbyFact[];
  /** Something the user should know about this answer (e.g. the active adapter was set aside). */
  notice?: string;
  /** Why the workspace was not searched for context (the adapter's self-check chose its weights alone). */
  retrievalOff?: string;
}

/** An explanation of `file`'s lines startLine–endLine (absolute path; `code`: the editor's text of those lines). */
export interface ExplainParams extends AnswerContextParams, CodeRange {}

/**
 * The self-check after learning: fact questions never trained on, counted when the answer's first
 * sentence states the fact. Asked twice: from the weights alone (`direct`) and with the workspace's
 * retrieved context in the prompt (`withRetrieval`). Answering with the adapter then retrieves
 * unless the weights alone answered more (`weightsAlone` in lift/store.ts: a small model may copy
 * from retrieved chunks instead of recalling).
 */
export interface SelfCheckFigures {
  asked: number;
  direct: number;
  withRetrieval?: number;
  /** Gated Memory: each layer's mean gate while answering (0: attention only, 1: memory only), closed book and with retrieved context. */
  gate?: { closedBook: number[]; withRetrieval?: number[] };
}

/** What an adapter's manifest says about it. */
export interface AdapterSummary {
  createdAt: string;
  baseModel: string;
  files: number;
  tokens: number;
  qaPairs: number;
  finalLoss?: number;
  selfCheck?: SelfCheckFigures;
}

export type AdapterStatus =
  | { learned: false }
  | ({
      learned: true;
      /** Learned files that changed or are gone since, and new ones (when roots were given). */
      stale: { changed: string[]; removed: string[]; added: string[] };
    } & AdapterSummary);

export interface AskChunk {
  text: string;
}

export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('lift/initialize');
export const Status = new RequestType0<TrainerStatus, void>('lift/status');
export const Echo = new RequestType<EchoParams, EchoResult, void>('lift/echo');
export const EchoProgress = new ProgressType<EchoChunk>();
export const Learn = new RequestType<LearnParams, LearnResult, void>('lift/learn');
export const LearnProgressType = new ProgressType<LearnProgress>();
export const Ask = new RequestType<AskParams, AskResult, void>('lift/ask');
export const AskProgress = new ProgressType<AskChunk>();
/** An explanation of a code range; answered like `ask`, with the range always in the context. */
export const Explain = new RequestType<ExplainParams, AskResult, void>('lift/explain');
export interface AdapterStatusParams {
  /** The adapter folder, or a store whose active adapter is meant. */
  adapterDir?: string;
  store?: string;
  /** The roots it learned, with the same globs: new files are then reported too. */
  roots?: string[];
  include?: string[];
  exclude?: string[];
  /** The model that answers ('' : the default model): with roots and a store, its retrieval index is fed the files collected. */
  model?: string;
}

export const AdapterStatusRequest = new RequestType<AdapterStatusParams, AdapterStatus, void>('lift/adapterStatus');
/** A store's adapters; with `select` or `delete` (a key), that is done first. */
export interface AdaptersParams {
  store: string;
  select?: string;
  delete?: string;
}

export interface AdapterInfo extends AdapterSummary {
  key: string;
  dir: string;
  active: boolean;
  preset?: string;
}

export interface AdaptersResult {
  adapters: AdapterInfo[];
  /** The key of the adapter that answers, if any. */
  active?: string;
}

export const Adapters = new RequestType<AdaptersParams, AdaptersResult, void>('lift/adapters');
/** Sets up GPU support (the only request that uses the network, and only when asked). */
export interface EnableGpuParams {
  /** Where installs live (the extension's global storage). */
  storageDir: string;
  /** A NuGet v3 service index to download from (default nuget.org). */
  feed?: string;
  /** Use the provider libraries in this folder instead of downloading. */
  folder?: string;
  progressToken?: string;
}

export interface EnableGpuResult {
  /** Restart the trainer with `LIFT_ORT_DIR` set to this to use it. */
  ortDir: string;
  version: string;
  source: string;
  sha512?: string;
  /** What CUDA still needs on this system, in plain words (empty: nothing found missing). */
  missing: string[];
}

export interface EnableGpuProgress {
  phase: 'resolve' | 'download' | 'verify' | 'extract' | 'check';
  received?: number;
  total?: number;
  message?: string;
}

export const EnableGpu = new RequestType<EnableGpuParams, EnableGpuResult, void>('lift/enableGpu');
export const EnableGpuProgressType = new ProgressType<EnableGpuProgress>();
export interface DeviceEstimate {
  /** Learning's peak memory, by the estimate learning checks (with activation recomputation if that is what fits). */
  needBytes: number;
  availableBytes: number;
  fits: boolean;
  recompute: boolean;
  /** Seconds a `fast` learn of the workspace would take here; absent when the speed is unknown. */
  learnSeconds?: number;
}

export interface ModelChoice {
  id: string;
  note: string;
  gated: boolean;
  parameters: number;
  /** bf16 weights: two bytes a parameter. */
  downloadBytes: number;
  cpu: DeviceEstimate;
  gpu?: DeviceEstimate;
}

export interface Machine {
  /** Memory learning may use (what `availableMemory` reports). */
  availableBytes: number;
  /** The probe's speed on the CPU (flops). */
  cpuFlops?: number;
  /** A GPU nvidia-smi reports, and the probe's speed on it when CUDA runs here. */
  gpu?: { name: string; freeBytes: number; flops?: number };
}

/**
 * The models "Choose Model" offers: what the Hugging Face cache holds, and the curated list with
 * this machine's figures for learning the workspace (roots/include/exclude as `learn` takes them).
 */
export interface ModelsParams {
  roots?: string[];
  include?: string[];
  exclude?: string[];
  /** The learn's token budget ("lift.tokenBudget"): estimates cover no more than it reads. */
  tokenBudget?: number;
}

export interface ModelsResult {
  cacheDir: string;
  cached: { id: string; commit: string; bytes: number }[];
  choices: ModelChoice[];
  /** Characters learning would read from the workspace (0 without roots). */
  workspaceChars: number;
  machine: Machine;
}

export const Models = new RequestType<ModelsParams, ModelsResult, void>('lift/models');

/** Downloads a Hugging Face model (`org/name`, optionally `@revision`) into the Hub cache. */
export interface PullModelParams {
  model: string;
  /** For gated and private models (else HF_TOKEN). */
  token?: string;
  progressToken?: string;
}

export interface PullModelResult {
  dir: string;
  commit: string;
  /** Bytes downloaded now (0: everything was in the cache). */
  fetchedBytes: number;
}

export interface PullModelProgress {
  file: string;
  received: number;
  total: number;
  /** Files finished, of `files`. */
  done: number;
  files: number;
}

export const PullModel = new RequestType<PullModelParams, PullModelResult, void>('lift/pullModel');
export const PullModelProgressType = new ProgressType<PullModelProgress>();
/** Exports the model (and the adapter: the one given, or the store's active one) as GGUF files and an Ollama Modelfile. */
export interface ExportGgufParams {
  model: string;
  adapterDir?: string;
  store?: string;
  outDir: string;
  /** Default q8_0. */
  quant?: 'f32' | 'f16' | 'q8_0' | 'q4_0';
  /** Merge the adapter into the weights instead of writing adapter.gguf. */
  merge?: boolean;
}

export interface ExportGgufResult {
  model: string;
  adapter?: string;
  modelfile: string;
  quant: string;
  /** Tensors kept at f16 (rows not whole blocks of 32). */
  keptF16: string[];
}

export const ExportGguf = new RequestType<ExportGgufParams, ExportGgufResult, void>('lift/exportGguf');
export const Shutdown = new RequestType0<void, void>('lift/shutdown');
export const Log = new NotificationType<LogParams>('lift/log');

/** Files created, changed or deleted in a workspace (the editor's file watchers): its retrieval index follows. */
export interface FilesChangedParams {
  roots: string[];
  /** The model that answers ('' : the default model): its index is loaded from the store if it is not in memory. */
  model?: string;
  store?: string;
  include?: string[];
  exclude?: string[];
  /** Absolute paths of files or folders; a deleted folder takes everything under it. */
  paths: string[];
}

export const FilesChanged = new NotificationType<FilesChangedParams>('lift/filesChanged');
