/**
 * The trainer's entry point: `serve` speaks JSON-RPC to the extension (IPC, or `--stdio`);
 * the other commands are the `lift` command line, which starts a trainer the same way the
 * extension does and talks to it over the same protocol.
 */
import { type CancellationToken, CancellationTokenSource } from 'vscode-jsonrpc/node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchCollect } from './bench/collect';
import { benchEngine } from './bench/engine';
import { benchGenerate } from './bench/generate';
import { benchGpu } from './bench/gpu';
import { benchLearn, benchLearnLibrary } from './bench/learn';
import { benchFacts } from './bench/facts';
import { benchLora } from './bench/lora';
import { benchEstimate } from './bench/estimate';
import { benchQuality } from './bench/quality';
import { benchRecompute, recomputeChild } from './bench/recompute';
import { benchMatch } from './bench/match';
import { benchRetrieval } from './bench/retrieval';
import { benchTokenizer } from './bench/tokenizer';
import { TrainerClient, TrainerError, type TrainerLogger } from './client';
import { trainerVersion } from './server/server';
import { serveProcess } from './server/process';
import { formatStatus } from './statusText';
import { runDemo } from './demo';
import { measureMachine, modelChoices } from './lift/choices';
import { collect } from './lift/corpus';
import { alsoLearnedText } from './lift/match';
import { formatMinutes } from './lift/pipeline';
import { formatBytes } from './lift/resources';
import type { DeviceEstimate } from './protocol';
import { HubCancelled, hubCacheDir, listCached, parseRepoId, pullModel, removeCached, resolveModel } from './model/hub';
import { defaultModelDir } from './model/default';
import { exportGguf, GGUF_QUANTS, type GgufQuant } from './model/gguf';
import { AdapterStore } from './lift/store';
import { learnProgressPrinter } from './terminal';

const USAGE = `lift ${trainerVersion}: the LIFT trainer

Usage:
  lift status            start a trainer process and print its status (ONNX Runtime, providers, memory)
  lift echo <text...>    send a question through a trainer process and stream the reply
  lift demo              the quick-start job: the default model answers questions about a spec it
                         never saw, learns the spec (LIFT), and answers again from its weights
  lift learn <path...> [--model <dir>] (--out <adapter dir> | --store <adapters dir>)
             [--incremental] [--no-memory-check] [--recompute auto|on|off] [--batch N] [--model-qa N] [--preset fast|thorough] [--minutes M] [--epochs N] [--adapter-kind lora|gated-memory] [--rank R] [--lr X] [--seed N] [--segment L] [--tokens N]
                         learn folders (or one document) into an adapter (LoRA, or
                         --adapter-kind gated-memory: LIFT v3's Gated Memory); with --store,
                         into its own folder of that store (keyed by model + corpus), made active;
                         --minutes M: how long it may take (default 10; 0: the preset's passes),
                         the passes are fitted to it from this machine's measured speed
                         exit codes: 0 learnt, 1 failed, 2 bad usage, 128 + the signal when
                         stopped (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP); the trainer stops too
  lift ask "<question>" [--model <dir>] [--adapter <dir> | --store <dir>] [--root <dir>] [--max-tokens N]
  lift explain <file>:<line>[-<line>] [--model <dir>] [--adapter <dir> | --store <dir>] [--root <dir>]
                         answer from the model (and adapter) with the best-matching files of
                         the root (default: the current folder) as context; streams the text
  lift export --gguf <dir> [--model <dir>] [--adapter <dir> | --store <dir>] [--quant f32|f16|q8_0|q4_0] [--merge]
                         the model as GGUF for llama.cpp and Ollama (default q8_0), the adapter
                         as a GGUF LoRA adapter (or merged into the weights with --merge), and
                         an Ollama Modelfile; files appear only once complete
  lift adapters <store> [--select <key> | --delete <key>]
                         list a store's adapters (the active one marked), select or delete one
  lift models [list | pull <org/name[@revision]> | rm <org/name> | suggest [<folder>...]]
                         models in the Hugging Face cache (HF_HUB_CACHE, HF_HOME; HF_ENDPOINT,
                         HF_TOKEN, HF_HUB_OFFLINE): list them, download one (only the files a
                         model folder needs, resumed and checked), or remove one; --model takes
                         an id pulled here as well as a folder. suggest: the curated list with
                         whether learning the folders (default: the current one) fits this
                         machine and about how long a fast learn takes here
  lift serve [--stdio]   serve JSON-RPC (IPC when started by the extension, else stdio)
  lift bench [all|engine|lora [tiny|SmolLM]|recompute|generate [default|SmolLM]|gpu|tokenizer|collect|learn [demo|library]|retrieval|match [document|code]|estimate [org/name] [path]|quality [facts|<document>|code|symbols [repo] [--seed N]] [--adapter-kind lora|gated-memory] [--lr X] [--minutes M] [--context-qa S]]
                         benchmarks (medians and ratios to a peer in the same run) and the
                         knowledge evaluation; writes JSON to out/bench/<suite>.json

Options:
  --model <dir>          a Hugging Face model folder (default: the bundled default model)
  --verbose              print the trainer's log to stderr
`;

function stderrLogger(verbose: boolean): TrainerLogger {
  const write = (level: string) => (message: string) => {
    if (verbose || level === 'error') process.stderr.write(`[${level}] ${message}\n`);
  };
  return { trace: write('trace'), debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** The signals that stop a command; it then exits with 128 + the signal's number. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** After a stop signal, how long the job has to finish its cancellation before the trainer is shut down. */
const CANCEL_GRACE_MS = 2000;

/**
 * Runs `job` against a trainer process of its own, which never outlives the command. On SIGINT,
 * SIGTERM or SIGHUP the job's token is cancelled and the user told; the trainer is shut down
 * (killed when it does not answer: it may be inside a long ONNX Runtime run) and the command
 * exits with 128 + the signal's number. A second signal kills the trainer and exits at once.
 * (A SIGKILL runs no handler: the trainer then sees its IPC channel close, or its parent change.)
 */
async function withTrainer(verbose: boolean, job: (client: TrainerClient, token: CancellationToken) => Promise<number>, name = 'lift'): Promise<number> {
  const client = new TrainerClient({
    trainerPath: process.argv[1]!,
    logger: stderrLogger(verbose),
    client: { name: 'lift-cli', version: trainerVersion },
  });
  const source = new CancellationTokenSource();
  let signalled: NodeJS.Signals | undefined;
  let interrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`\n${name}: ${signal} again: stopping the trainer now\n`);
      const pid = client.pid;
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      // TrainerClient's exit hook kills a trainer still starting too
      process.exit(128 + os.constants.signals[signal]);
    }
    signalled = signal;
    process.stderr.write(`\n${name}: ${signal}: cancelling and stopping the trainer (${signal === 'SIGINT' ? 'Ctrl+C' : 'a second signal'} stops at once)…\n`);
    source.cancel();
    interrupt();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    const work = job(client, source.token);
    const code = await Promise.race([
      work,
      // after a signal: the job's own ending (its cancelled message) if it comes soon, else stop anyway
      interrupted.then(() => {
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([work.catch(() => 1), new Promise<number>((resolve) => (timer = setTimeout(resolve, CANCEL_GRACE_MS, 1)))]).finally(() => clearTimeout(timer));
      }),
    ]);
    return signalled ? 128 + os.constants.signals[signalled] : code;
  } finally {
    // a polite shutdown, SIGKILL when the trainer does not exit in time; a second signal meanwhile stops at once
    await client.dispose();
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}

async function streamEcho(client: TrainerClient, text: string): Promise<void> {
  await client.echo({ text, chunkDelayMs: 20 }, (chunk) => process.stdout.write(chunk.text));
  process.stdout.write('\n');
}

/** `--name value` options and positional arguments. */
function parseOptions(args: string[]): { positional: string[]; options: Record<string, string> } {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) options[a.slice(2)] = args[++i] ?? '';
    else positional.push(a);
  }
  return { positional, options };
}

async function learnCommand(args: string[], verbose: boolean): Promise<number> {
  const incremental = args.includes('--incremental');
  const memoryCheck = !args.includes('--no-memory-check');
  const { positional: paths, options } = parseOptions(args.filter((a) => a !== '--incremental' && a !== '--no-memory-check'));
  const num = (k: string): number | undefined => (options[k] === undefined ? undefined : Number(options[k]));
  const bad = ['epochs', 'rank', 'lr', 'seed', 'segment', 'tokens', 'model-qa', 'batch', 'minutes'].filter((k) => options[k] !== undefined && !(Number(num(k)) > 0 || ((k === 'seed' || k === 'minutes') && Number(num(k)) >= 0)));
  if (options.preset !== undefined && options.preset !== 'fast' && options.preset !== 'thorough') bad.push('preset');
  if (options.recompute !== undefined && !['auto', 'on', 'off'].includes(options.recompute)) bad.push('recompute');
  if (options['adapter-kind'] !== undefined && !['lora', 'gated-memory'].includes(options['adapter-kind'])) bad.push('adapter-kind');
  if (!paths.length || !options.out === !options.store || bad.length) {
    process.stderr.write(`lift learn: ${bad.length ? `bad value for --${bad.join(', --')}` : 'give the paths to learn and one of --out <adapter dir> or --store <adapters dir>'}\n\n${USAGE}`);
    return 2;
  }
  const printer = learnProgressPrinter();
  // SIGINT (Ctrl+C), SIGTERM and SIGHUP cancel the learn through `token` and stop the trainer (withTrainer)
  return withTrainer(
    verbose,
    async (client, token) => {
      try {
        const r = await client.learn(
          {
            roots: paths.map((p) => path.resolve(p)),
            model: modelOption(options.model),
            adapterDir: options.out ? path.resolve(options.out) : undefined,
            store: options.store ? path.resolve(options.store) : undefined,
            incremental,
            epochs: num('epochs'),
            adapterKind: options['adapter-kind'] as 'lora' | 'gated-memory' | undefined,
            rank: num('rank'),
            lr: num('lr'),
            seed: num('seed'),
            segmentLength: num('segment'),
            tokenBudget: num('tokens'),
            modelQA: num('model-qa'),
            preset: options.preset as 'fast' | 'thorough' | undefined,
            memoryCheck,
            recompute: options.recompute as 'auto' | 'on' | 'off' | undefined,
            batch: num('batch'),
            budgetMinutes: num('minutes'),
          },
          printer.onProgress,
          token,
        );
        printer.done();
        const skipped = Object.entries(r.skippedByReason).map(([k, n]) => `${n} ${k}`).join(', ');
        console.log(`learnt ${r.files} files (${r.tokens} tokens, ${r.facts ?? 0} facts, ${r.qaPairs} QA pairs, ${r.samples} samples, ${r.steps} steps; loss ${r.firstLoss.toFixed(3)} → ${r.finalLoss.toFixed(3)})`);
        for (const n of r.notes ?? []) console.log(`  note: ${n}`);
        if (r.selfCheck?.asked) console.log(`self-check: answers ${r.selfCheck.direct} of ${r.selfCheck.asked} check questions (never trained on) with the fact first${r.selfCheck.direct < 0.7 * r.selfCheck.asked ? '; --preset thorough learns more' : ''}`);
        console.log(`skipped: ${skipped || 'none'}; redactions: ${r.redactions}`);
        console.log(`adapter: ${r.adapterDir}`);
        return 0;
      } catch (err) {
        if (err instanceof TrainerError && err.kind === 'cancelled') {
          process.stderr.write('lift learn: cancelled; the previous adapter is unchanged (learning the same files again resumes from the last checkpoint)\n');
          return 130;
        }
        process.stderr.write(`lift learn: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    },
    'lift learn',
  );
}

async function answerCommand(kind: 'ask' | 'explain', args: string[], verbose: boolean): Promise<number> {
  const { positional, options } = parseOptions(args);
  const target = positional.join(' ');
  const range = kind === 'explain' ? /^(.+):(\d+)(?:-(\d+))?$/.exec(target) : undefined;
  const maxTokens = options['max-tokens'] === undefined ? undefined : Number(options['max-tokens']);
  if (!target || (kind === 'explain' && !range) || (maxTokens !== undefined && !(maxTokens > 0))) {
    process.stderr.write(`lift ${kind}: ${kind === 'ask' ? 'give the question' : 'give <file>:<line>[-<line>]'}\n\n${USAGE}`);
    return 2;
  }
  const common = {
    roots: [path.resolve(options.root ?? '.')],
    model: modelOption(options.model),
    adapterDir: options.adapter ? path.resolve(options.adapter) : undefined,
    store: options.store ? path.resolve(options.store) : undefined,
    maxTokens,
  };
  // SIGINT (Ctrl+C), SIGTERM and SIGHUP cancel the answer through `token` and stop the trainer (withTrainer)
  return withTrainer(
    verbose,
    async (client, token) => {
      try {
        const write = (t: string): void => void process.stdout.write(t);
        const r =
          kind === 'ask'
            ? await client.ask({ ...common, question: target }, write, token)
            : await client.explain({ ...common, file: path.resolve(range![1]!), startLine: Number(range![2]), endLine: Number(range![3] ?? range![2]) }, write, token);
        const sources = r.sources.map((s) => `${s.path}:${s.startLine}-${s.endLine}`).join(', ');
        process.stdout.write(`\n\n(${r.askedAs ? `asked as the learned question "${r.askedAs}"; ` : ''}${r.usedAdapter ? 'learned knowledge' : 'base model'}${sources ? `; context: ${sources}` : ''}${r.retrievalOff ? `; workspace not searched: ${r.retrievalOff}` : ''})\n`);
        if (r.alsoLearned?.length) process.stdout.write(`(other learned facts near the question: ${alsoLearnedText(r.alsoLearned)})\n`);
        if (r.notice) process.stderr.write(`lift ${kind}: ${r.notice}\n`);
        return 0;
      } catch (err) {
        if (err instanceof TrainerError && err.kind === 'cancelled') return 130;
        process.stderr.write(`lift ${kind}: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    },
    `lift ${kind}`,
  );
}

async function adaptersCommand(args: string[], verbose: boolean): Promise<number> {
  const { positional, options } = parseOptions(args);
  if (positional.length !== 1 || (options.select !== undefined && options.delete !== undefined)) {
    process.stderr.write(`lift adapters: give the store folder, and at most one of --select or --delete\n\n${USAGE}`);
    return 2;
  }
  return withTrainer(verbose, async (client) => {
    try {
      const r = await client.adapters({ store: path.resolve(positional[0]!), select: options.select, delete: options.delete });
      if (!r.adapters.length) console.log('no adapters');
      for (const a of r.adapters) {
        const loss = a.finalLoss === undefined ? '' : `, loss ${a.finalLoss.toFixed(3)}`;
        console.log(`${a.active ? '*' : ' '} ${a.key}  ${a.createdAt}  ${a.files} files, ${a.tokens} tokens, ${a.qaPairs} QA${loss}  (${path.basename(a.baseModel)})`);
      }
      return 0;
    } catch (err) {
      process.stderr.write(`lift adapters: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  });
}

/** `lift export --gguf`: file work only (no trainer): the model folder, the adapter, written as GGUF. */
function exportCommand(args: string[]): number {
  const merge = args.includes('--merge');
  const { positional, options } = parseOptions(args.filter((a) => a !== '--merge'));
  const quant = (options.quant ?? 'q8_0') as GgufQuant;
  if (!options.gguf || positional.length || (options.adapter !== undefined && options.store !== undefined) || !GGUF_QUANTS.includes(quant) || (merge && options.adapter === undefined && options.store === undefined)) {
    process.stderr.write(`lift export: give --gguf <dir>, at most one of --adapter or --store (--merge needs one), and --quant among ${GGUF_QUANTS.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  try {
    const modelDir = options.model ? resolveModel(modelOption(options.model)) : defaultModelDir();
    if (!modelDir) throw new Error('the bundled default model is not installed: give --model');
    let adapterDir = options.adapter ? path.resolve(options.adapter) : undefined;
    if (options.store) {
      adapterDir = new AdapterStore(path.resolve(options.store)).activeDir();
      if (!adapterDir) throw new Error(`${options.store} has no active adapter: learn first, or give --adapter`);
    }
    const r = exportGguf({ modelDir, adapterDir, outDir: path.resolve(options.gguf), quant, merge });
    console.log(`model: ${r.model}${r.keptF16.length ? ` (${r.keptF16.length} tensors kept at f16: rows not whole blocks of 32)` : ''}`);
    if (r.adapter) console.log(`adapter: ${r.adapter}`);
    console.log(`Ollama: cd ${path.dirname(r.modelfile)} && ollama create <name> -f Modelfile`);
    console.log(`llama.cpp: llama-cli -m ${r.model}${r.adapter ? ` --lora ${r.adapter}` : ''}`);
    return 0;
  } catch (err) {
    process.stderr.write(`lift export: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** --model: a folder (made absolute), or a Hub id pulled into the cache (the trainer finds its snapshot). */
function modelOption(model: string | undefined): string {
  if (!model) return '';
  return !fs.existsSync(model) && parseRepoId(model) ? model : path.resolve(model);
}

async function modelsCommand(args: string[]): Promise<number> {
  const [sub = 'list', spec, ...rest] = args;
  const fail = (message: string, code = 1): number => {
    process.stderr.write(`lift models: ${message}\n`);
    return code;
  };
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
  try {
    switch (sub) {
      case 'list': {
        const models = listCached();
        if (!models.length) console.log(`no models in ${hubCacheDir()}`);
        for (const m of models) console.log(`${m.id}  ${m.commit.slice(0, 12)}  ${mb(m.bytes)}  ${m.dir}`);
        return 0;
      }
      case 'pull': {
        if (!spec || rest.length) return fail('give one model id, e.g. lift models pull Qwen/Qwen2.5-Coder-0.5B-Instruct', 2);
        let cancelled = false;
        const stop = (): void => {
          cancelled = true;
        };
        process.once('SIGINT', stop);
        let shown = '';
        try {
          const r = await pullModel(spec, {
            isCancelled: () => cancelled,
            onProgress: (p) => {
              const line = p.file ? `${p.done + 1}/${p.files} ${p.file}: ${mb(p.received)}${p.total ? ` of ${mb(p.total)}` : ''}` : '';
              if (line && line !== shown && process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
              shown = line;
            },
          });
          if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
          console.log(`${spec} at ${r.commit.slice(0, 12)}: ${r.fetchedBytes ? `${mb(r.fetchedBytes)} downloaded` : 'already in the cache'}; model folder ${r.dir}`);
          return 0;
        } catch (err) {
          if (err instanceof HubCancelled) return fail('cancelled; pull again to resume', 130);
          throw err;
        } finally {
          process.removeListener('SIGINT', stop);
        }
      }
      case 'suggest': {
        const roots = (spec ? [spec, ...rest] : ['.']).map((r) => path.resolve(r));
        const chars = (await collect(roots)).files.reduce((n, f) => n + f.text.length, 0);
        const machine = await measureMachine();
        const gpu = machine.gpu ? `${machine.gpu.name}, ${formatBytes(machine.gpu.freeBytes)} free${machine.gpu.flops ? `, ${(machine.gpu.flops / 1e12).toFixed(1)} TFLOP/s` : ' (CUDA not set up: no speed)'}` : 'no GPU';
        console.log(`This machine: ${formatBytes(machine.availableBytes)} memory available, CPU ${((machine.cpuFlops ?? 0) / 1e9).toFixed(0)} GFLOP/s (MatMul probe); ${gpu}.`);
        console.log(`Learning ${chars} characters (${roots.join(', ')}) with the fast preset:`);
        const line = (where: string, e: DeviceEstimate): string =>
          `${where} ${e.fits ? `fits (${formatBytes(e.needBytes)} of ${formatBytes(e.availableBytes)})${e.learnSeconds === undefined ? '' : `, about ${formatMinutes(e.learnSeconds)}`}` : `does not fit (needs ${formatBytes(e.needBytes)})`}`;
        for (const c of modelChoices(machine, chars)) console.log(`  ${c.id.padEnd(42)} ${formatBytes(c.downloadBytes).padStart(7)}  ${line('CPU:', c.cpu)}${c.gpu ? `; ${line('GPU:', c.gpu)}` : ''}${c.gated ? '  (gated)' : ''}`);
        return 0;
      }
      case 'rm':
        if (!spec || rest.length) return fail('give one model id', 2);
        if (!removeCached(spec)) return fail(`${spec} is not in ${hubCacheDir()}`);
        console.log(`removed ${spec}`);
        return 0;
      default:
        return fail(`unknown subcommand "${sub}" (list, pull, rm, suggest)\n\n${USAGE}`, 2);
    }
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const command = args[0] ?? (process.send ? 'serve' : 'help');
  switch (command) {
    case 'serve': {
      serveProcess(args.includes('--stdio') || !process.send);
      return new Promise<number>(() => undefined); // serves until the connection closes
    }
    case 'status':
      return withTrainer(verbose, async (client) => {
        const status = await client.status();
        console.log(formatStatus(status));
        return status.onnxruntime.loaded && status.onnxruntime.selfTest.ok ? 0 : 1;
      });
    case 'echo': {
      const text = args.slice(1).join(' ');
      if (!text) {
        process.stderr.write('lift echo: give the text to send, e.g. lift echo "What does this repo do?"\n');
        return 2;
      }
      return withTrainer(verbose, async (client) => {
        await streamEcho(client, text);
        return 0;
      });
    }
    case 'learn':
      return learnCommand(args.slice(1), verbose);
    case 'adapters':
      return adaptersCommand(args.slice(1), verbose);
    case 'models':
      return modelsCommand(args.slice(1));
    case 'export':
      return exportCommand(args.slice(1));
    case 'ask':
    case 'explain':
      return answerCommand(command, args.slice(1), verbose);
    case 'demo': {
      const { options } = parseOptions(args.slice(1));
      return withTrainer(verbose, async (client) => {
        const status = await client.status();
        console.log(formatStatus(status));
        if (!status.onnxruntime.loaded || !status.onnxruntime.selfTest.ok) return 1;
        const printer = learnProgressPrinter();
        try {
          const r = await runDemo(client, { model: modelOption(options.model), print: (l) => console.log(l), ...printer });
          return r.after > r.before ? 0 : 1;
        } catch (err) {
          process.stderr.write(`lift demo: ${err instanceof Error ? err.message : String(err)}\n`);
          return 1;
        }
      });
    }
    case 'bench': {
      const suite = args[1] ?? 'all';
      if (suite === 'recompute' && args[2] === '--child') {
        await recomputeChild(args[3]!);
        return 0;
      }
      const suites: Record<string, () => Promise<unknown>> = {
        engine: () => benchEngine(),
        lora: () => benchLora(console.log, args[2]),
        recompute: () => benchRecompute(console.log),
        generate: () => benchGenerate(console.log, args[2]),
        tokenizer: () => benchTokenizer(console.log),
        // gpu [--out FILE] [--budget S] [--quick] [--device cpu]: the engine on WebGPU beside PyTorch on CUDA (not part of all)
        gpu: () => benchGpu(console.log, args.slice(2)),
        collect: () => benchCollect(console.log),
        // learn: the demo sample, then a real library at three sizes; learn demo | learn library: one of them
        learn: async () => ({ ...(args[2] !== 'library' ? { demo: await benchLearn(console.log) } : {}), ...(args[2] !== 'demo' ? { library: await benchLearnLibrary(console.log) } : {}) }),
        retrieval: () => benchRetrieval(console.log),
        // match [document|code]: how often ask's match reaches the asked fact (no model)
        match: () => benchMatch(console.log, args[2]),
        // estimate [org/name] [file or folder]: "Choose Model"'s learn estimate against a whole learn
        estimate: () => benchEstimate(console.log, args[2], args[3] && path.resolve(args[3])),
        // quality: the fact questions (documents and code); quality symbols [repo] [--seed N]: the symbol questions on a repository
        quality: () => {
          const seedAt = args.indexOf('--seed');
          const seed = seedAt > 0 ? Number(args[seedAt + 1]) : undefined;
          if (seed !== undefined && !(Number.isInteger(seed) && seed > 0)) throw new Error(`--seed takes a whole number above 0, not ${args[seedAt + 1]}`);
          const kindAt = args.indexOf('--adapter-kind');
          const adapterKind = kindAt > 0 ? args[kindAt + 1] : undefined;
          if (adapterKind !== undefined && adapterKind !== 'lora' && adapterKind !== 'gated-memory') throw new Error(`--adapter-kind takes lora or gated-memory, not ${adapterKind}`);
          const lrAt = args.indexOf('--lr');
          const lr = lrAt > 0 ? Number(args[lrAt + 1]) : undefined;
          if (lr !== undefined && !(lr > 0)) throw new Error(`--lr takes a positive number, not ${args[lrAt + 1]}`);
          const minutesAt = args.indexOf('--minutes');
          const budgetMinutes = minutesAt > 0 ? Number(args[minutesAt + 1]) : undefined;
          if (budgetMinutes !== undefined && !(budgetMinutes >= 0)) throw new Error(`--minutes takes a number of minutes (0: the preset's passes), not ${args[minutesAt + 1]}`);
          const contextAt = args.indexOf('--context-qa');
          const contextQA = contextAt > 0 ? Number(args[contextAt + 1]) : undefined;
          if (contextQA !== undefined && !(contextQA >= 0 && contextQA <= 1)) throw new Error(`--context-qa takes a share from 0 to 1, not ${args[contextAt + 1]}`);
          const learn = { ...(adapterKind ? { adapterKind: adapterKind as 'lora' | 'gated-memory' } : {}), ...(lr ? { lr } : {}), ...(budgetMinutes !== undefined ? { budgetMinutes } : {}), ...(contextQA !== undefined ? { contextQA } : {}) };
          const repo = args[3] && !args[3].startsWith('--') ? { repo: path.resolve(args[3]) } : {};
          return args[2] === 'symbols' ? benchQuality(console.log, { ...repo, ...(seed ? { seed } : {}), learn }) : benchFacts(console.log, { ...(args[2] && args[2] !== 'facts' && !args[2].startsWith('--') ? { only: args[2] } : {}), learn });
        },
      };
      if (suite !== 'all' && !suites[suite]) {
        process.stderr.write(`lift bench: unknown suite "${suite}" (available: all, ${Object.keys(suites).join(', ')})\n`);
        return 2;
      }
      const dir = path.join(process.cwd(), 'out', 'bench');
      fs.mkdirSync(dir, { recursive: true });
      const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30), platform: `${process.platform} ${process.arch}`, node: process.version };
      for (const name of suite === 'all' ? Object.keys(suites).filter((k) => k !== 'gpu') : [suite]) {
        console.log(`\n== ${name}`);
        const results = await suites[name]!();
        const file = path.join(dir, `${name}.json`);
        fs.writeFileSync(file, JSON.stringify({ suite: name, command: `npm run bench -- ${[name, ...args.slice(2)].join(' ')}`, date: new Date().toISOString(), machine, results }, null, 2));
        console.log(`wrote ${path.relative(process.cwd(), file)}`);
      }
      return 0;
    }
    case '--version':
    case 'version':
      console.log(trainerVersion);
      return 0;
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`lift: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
