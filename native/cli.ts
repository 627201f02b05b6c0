/**
 * The trainer's entry point: `serve` speaks JSON-RPC to the extension (IPC, or `--stdio`);
 * the other commands are the `lift` command line, which starts a trainer the same way the
 * extension does and talks to it over the same protocol.
 */
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchEngine } from './bench/engine';
import { benchLora } from './bench/lora';
import { TrainerClient, type TrainerLogger } from './client';
import { serve, trainerVersion } from './server/server';
import { formatStatus } from './statusText';

const USAGE = `lift ${trainerVersion}: the LIFT trainer

Usage:
  lift status            start a trainer process and print its status (ONNX Runtime, providers, memory)
  lift echo <text...>    send a question through a trainer process and stream the reply
  lift demo              status, then a question round trip: the quick-start job
  lift serve [--stdio]   serve JSON-RPC (IPC when started by the extension, else stdio)
  lift bench [engine|lora [tiny|SmolLM]]
                         benchmarks (medians and ratios to a peer in the same run);
                         writes JSON to out/bench/<suite>.json

Options:
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
    case 'demo':
      return withTrainer(verbose, async (client) => {
        const status = await client.status();
        console.log(formatStatus(status));
        const question = 'What does this workspace do?';
        console.log(`\n> ${question}`);
        await streamEcho(client, question);
        return status.onnxruntime.loaded && status.onnxruntime.selfTest.ok ? 0 : 1;
      });
    case 'bench': {
      const suite = args[1] ?? 'engine';
      const suites: Record<string, () => Promise<unknown>> = { engine: () => benchEngine(), lora: () => benchLora(console.log, args[2]) };
      if (!suites[suite]) {
        process.stderr.write(`lift bench: unknown suite "${suite}" (available: ${Object.keys(suites).join(', ')})\n`);
        return 2;
      }
      const results = await suites[suite]!();
      const dir = path.join(process.cwd(), 'out', 'bench');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${suite}.json`);
      fs.writeFileSync(file, JSON.stringify({ suite, date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, results }, null, 2));
      console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
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
