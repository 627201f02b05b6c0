/**
 * The trainer's entry point: `serve` speaks JSON-RPC to the extension (IPC, or `--stdio`);
 * the other commands are the `lift` command line, which starts a trainer the same way the
 * extension does and talks to it over the same protocol.
 */
import {
  CancellationTokenSource,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchCollect } from './bench/collect';
import { benchEngine } from './bench/engine';
import { benchGenerate } from './bench/generate';
import { benchLearn } from './bench/learn';
import { benchLora } from './bench/lora';
import { benchQuality } from './bench/quality';
import { benchRecompute, recomputeChild } from './bench/recompute';
import { benchTokenizer } from './bench/tokenizer';
import { TrainerClient, TrainerError, type TrainerLogger } from './client';
import { serve, trainerVersion } from './server/server';
import { formatStatus } from './statusText';
import { runDemo } from './demo';
import { learnProgressPrinter } from './terminal';

const USAGE = `lift ${trainerVersion}: the LIFT trainer

Usage:
  lift status            start a trainer process and print its status (ONNX Runtime, providers, memory)
  lift echo <text...>    send a question through a trainer process and stream the reply
  lift demo              the quick-start job: the default model answers questions about a spec it
                         never saw, learns the spec (LIFT), and answers again from its weights
  lift learn <path...> [--model <dir>] (--out <adapter dir> | --store <adapters dir>)
             [--incremental] [--no-memory-check] [--recompute auto|on|off] [--batch N] [--model-qa N] [--preset fast|thorough] [--epochs N] [--rank R] [--lr X] [--seed N] [--segment L] [--tokens N]
                         learn folders (or one document) into a LoRA adapter; with --store,
                         into its own folder of that store (keyed by model + corpus), made active
                         exit codes: 0 learnt, 1 failed, 2 bad usage, 130 cancelled (Ctrl+C)
  lift ask "<question>" [--model <dir>] [--adapter <dir> | --store <dir>] [--root <dir>] [--max-tokens N]
  lift explain <file>:<line>[-<line>] [--model <dir>] [--adapter <dir> | --store <dir>] [--root <dir>]
                         answer from the model (and adapter) with the best-matching files of
                         the root (default: the current folder) as context; streams the text
  lift adapters <store> [--select <key> | --delete <key>]
                         list a store's adapters (the active one marked), select or delete one
  lift serve [--stdio]   serve JSON-RPC (IPC when started by the extension, else stdio)
  lift bench [all|engine|lora [tiny|SmolLM]|recompute|generate [default|SmolLM]|tokenizer|collect|learn|quality [repo]]
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

async function withTrainer<T>(verbose: boolean, job: (client: TrainerClient) => Promise<T>): Promise<T> {
  const client = new TrainerClient({
    trainerPath: process.argv[1]!,
    logger: stderrLogger(verbose),
    client: { name: 'lift-cli', version: trainerVersion },
  });
  try {
    return await job(client);
  } finally {
    await client.dispose();
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
  const bad = ['epochs', 'rank', 'lr', 'seed', 'segment', 'tokens', 'model-qa', 'batch'].filter((k) => options[k] !== undefined && !(Number(num(k)) > 0 || (k === 'seed' && Number(num(k)) >= 0)));
  if (options.preset !== undefined && options.preset !== 'fast' && options.preset !== 'thorough') bad.push('preset');
  if (options.recompute !== undefined && !['auto', 'on', 'off'].includes(options.recompute)) bad.push('recompute');
  if (!paths.length || !options.out === !options.store || bad.length) {
    process.stderr.write(`lift learn: ${bad.length ? `bad value for --${bad.join(', --')}` : 'give the paths to learn and one of --out <adapter dir> or --store <adapters dir>'}\n\n${USAGE}`);
    return 2;
  }
  const source = new CancellationTokenSource();
  const onInt = (): void => {
    process.stderr.write('\ncancelling…\n');
    source.cancel();
  };
  process.once('SIGINT', onInt);
  const printer = learnProgressPrinter();
  try {
    return await withTrainer(verbose, async (client) => {
      try {
        const r = await client.learn(
          {
            roots: paths.map((p) => path.resolve(p)),
            model: options.model ? path.resolve(options.model) : '',
            adapterDir: options.out ? path.resolve(options.out) : undefined,
            store: options.store ? path.resolve(options.store) : undefined,
            incremental,
            epochs: num('epochs'),
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
          },
          printer.onProgress,
          source.token,
        );
        printer.done();
        const skipped = Object.entries(r.skippedByReason).map(([k, n]) => `${n} ${k}`).join(', ');
        console.log(`learnt ${r.files} files (${r.tokens} tokens, ${r.samples} samples, ${r.steps} steps; loss ${r.firstLoss.toFixed(3)} → ${r.finalLoss.toFixed(3)})`);
        console.log(`skipped: ${skipped || 'none'}; redactions: ${r.redactions}`);
        console.log(`adapter: ${r.adapterDir}`);
        return 0;
      } catch (err) {
        if (err instanceof TrainerError && err.kind === 'cancelled') {
          process.stderr.write('lift learn: cancelled; the previous adapter is unchanged\n');
          return 130;
        }
        process.stderr.write(`lift learn: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    });
  } finally {
    process.off('SIGINT', onInt);
  }
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
    model: options.model ? path.resolve(options.model) : '',
    adapterDir: options.adapter ? path.resolve(options.adapter) : undefined,
    store: options.store ? path.resolve(options.store) : undefined,
    maxTokens,
  };
  const source = new CancellationTokenSource();
  const onInt = (): void => source.cancel();
  process.once('SIGINT', onInt);
  try {
    return await withTrainer(verbose, async (client) => {
      try {
        const write = (t: string): void => void process.stdout.write(t);
        const r =
          kind === 'ask'
            ? await client.ask({ ...common, question: target }, write, source.token)
            : await client.explain({ ...common, file: path.resolve(range![1]!), startLine: Number(range![2]), endLine: Number(range![3] ?? range![2]) }, write, source.token);
        const sources = r.sources.map((s) => `${s.path}:${s.startLine}-${s.endLine}`).join(', ');
        process.stdout.write(`\n\n(${r.usedAdapter ? 'learned knowledge' : 'base model'}${sources ? `; context: ${sources}` : ''})\n`);
        return 0;
      } catch (err) {
        if (err instanceof TrainerError && err.kind === 'cancelled') return 130;
        process.stderr.write(`lift ${kind}: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    });
  } finally {
    process.off('SIGINT', onInt);
  }
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

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const command = args[0] ?? (process.send ? 'serve' : 'help');
  switch (command) {
    case 'serve': {
      const stdio = args.includes('--stdio') || !process.send;
      const connection = stdio
        ? createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout))
        : createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
      // In stdio mode stdout carries the protocol: keep stray console output off it.
      if (stdio) console.log = console.error;
      // Ctrl+C in a terminal reaches the whole process group: the client that started us
      // decides (it cancels the request, then shuts us down).
      else process.on('SIGINT', () => undefined);
      serve(connection, (code) => process.exit(code));
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
          const r = await runDemo(client, { model: options.model ? path.resolve(options.model) : '', print: (l) => console.log(l), ...printer });
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
        collect: () => benchCollect(console.log),
        learn: () => benchLearn(console.log),
        quality: () => benchQuality(console.log, args[2] ? { repo: path.resolve(args[2]) } : {}),
      };
      if (suite !== 'all' && !suites[suite]) {
        process.stderr.write(`lift bench: unknown suite "${suite}" (available: all, ${Object.keys(suites).join(', ')})\n`);
        return 2;
      }
      const dir = path.join(process.cwd(), 'out', 'bench');
      fs.mkdirSync(dir, { recursive: true });
      const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30), platform: `${process.platform} ${process.arch}`, node: process.version };
      for (const name of suite === 'all' ? Object.keys(suites) : [suite]) {
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
