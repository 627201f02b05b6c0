/**
 * `lift bench generate`: generation speed of the engine's own path (the CPU's decoding graph,
 * model/fusedDecode.ts, and runtime/generate.ts `Generator` with its KV cache, greedy, as
 * lift/answer.ts uses them) in float32, int8 and int4, prefill and decode measured separately, for
 * the bundled default model and a SmolLM-135M-shaped random model; next to the plain graph GPUs
 * answer with (model/llama.ts), the same architecture in plain PyTorch with a KV cache
 * (peer_generate.py, skipped with a message where PyTorch is absent) and llama.cpp on GGUF files
 * exported from the same weights; the runners compared are loaded together and run in turn, round
 * by round, one group at a time (see benchGenerate). Medians and ratios: these
 * machines are noisy.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { LlamaConfig } from '../model/config';
import { defaultModelDir } from '../model/default';
import { randomWeights, smallConfig } from '../model/init';
import { decodingGraph } from '../model/fusedDecode';
import { TextTokenizer } from '../model/tokenizer';
import { exportGguf } from '../model/gguf';
import { LINEAR_TARGETS, linearShape, type LlamaWeights, loadModel, saveModelFolder } from '../model/weights';
import { loraName } from '../model/llama';
import { type LoraAdapter, saveAdapter } from '../model/peft';
import { Generator } from '../runtime/generate';
import { pythonPeer } from './peer';
import { createSession } from '../runtime/session';
import { benchTempDir } from './temp';

const PROMPT = 256;
const NEW_TOKENS = 64;
const THREADS = 2;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One generation: seconds of the prefill (prompt in, first token out), of each decode step (one token in, the next out), and the tokens. */
interface Run {
  prefill: number;
  decode: number[];
  tokens: number[];
}

/** Something that generates NEW_TOKENS greedily on request; runs of several runners are interleaved. */
interface Runner {
  once(): Promise<Run>;
  close(): Promise<void>;
}

interface Model {
  name: string;
  cfg: LlamaConfig;
  weights: LlamaWeights;
  prompt: number[];
  /** The safetensors file the PyTorch peer reads the same weights from (else: random weights). */
  file?: string;
  rounds: number;
}

/**
 * Our engine: the decoding graph built as the product builds it on the CPU (fusedDecode.ts, every
 * linear layer's LoRA pair an input), or with `plain` the graph of one ONNX op per step of the
 * arithmetic (buildLlamaGenerate, which GPUs answer with), on CPU with THREADS threads,
 * generating through `Generator.generate` (greedy, no stop tokens: always NEW_TOKENS), timed per token.
 */
async function ours(m: Model, bits?: 4 | 8, plain = false, adapter?: LoraAdapter): Promise<Runner & { build_s: number }> {
  const t0 = performance.now();
  const graph = decodingGraph(m.cfg, m.weights, { cpu: !plain, bits });
  const { session } = await createSession(graph.model, 'cpu', { threads: THREADS });
  const build_s = (performance.now() - t0) / 1000;
  const gen = new Generator(session, m.cfg, graph.loraTargets, graph.memory, graph.fused);
  gen.setAdapter(adapter);
  const once = async (): Promise<Run> => {
    const stamps: number[] = [performance.now()];
    const { tokens } = await gen.generate(m.prompt, { maxTokens: NEW_TOKENS, temperature: 0, onToken: () => stamps.push(performance.now()) });
    const s = stamps.map((t) => t / 1000);
    return { prefill: s[1]! - s[0]!, decode: s.slice(2).map((t, i) => t - s[i + 1]!), tokens };
  };
  await once(); // warm-up: first-run allocations
  return { once, close: () => gen.release(), build_s };
}

/** The PyTorch peer as a child process serving runs on request (peer_generate.py), or why not. */
async function torchPeer(m: Model): Promise<(Runner & { weights: string; torch: string; ompWait: string }) | string> {
  const peer = pythonPeer('peer_generate.py', 'torch, numpy');
  if (typeof peer === 'string') return peer;
  const { python, script } = peer;
  const c = m.cfg;
  const spec = {
    hidden: c.hiddenSize, layers: c.numLayers, heads: c.numHeads, kv_heads: c.numKvHeads, head_dim: c.headDim, intermediate: c.intermediateSize,
    vocab: c.vocabSize, rms_eps: c.rmsEps, rope_theta: c.ropeTheta, tie: c.tieEmbeddings, weights: m.file ?? null,
    prompt: m.prompt, new_tokens: NEW_TOKENS, threads: THREADS,
  };
  // OpenMP's default spin-waiting made PyTorch 10–30× slower when another process shared the
  // cores (measured on a shared 2-core machine): passive waiting, unless the caller chose a policy.
  const ompWait = process.env.OMP_WAIT_POLICY ?? 'PASSIVE';
  const child = spawn(python, [script, JSON.stringify(spec)], { env: { ...process.env, OMP_WAIT_POLICY: ompWait }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`peer_generate.py ended early (exit code ${child.exitCode ?? 'unknown'})`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const ready = await next();
  return {
    weights: String(ready.weights),
    torch: String(ready.torch),
    ompWait,
    once: async () => {
      child.stdin.write('run\n');
      const r = (await next()) as { prefill_s: number; decode_s: number[]; tokens: number[] };
      return { prefill: r.prefill_s, decode: r.decode_s, tokens: r.tokens };
    },
    close: async () => {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/**
 * llama.cpp (node-llama-cpp, a dev dependency) on GGUF files this project exported from the same
 * weights (f32, q8_0, q4_0; the 8- and 4-bit ones also with LIFT's adapter, as adapter.gguf), CPU
 * only, THREADS threads, greedy: the peer for quantized answering. The files are written at once
 * (`sizes`); each runner loads its model when made and frees it when closed, and each run clears
 * the sequence's KV cache first. Or why not.
 */
async function llamaCppPeers(m: Model, dir: string, adapterDir: string): Promise<{ makers: Record<string, () => Promise<Runner>>; sizes: Record<string, number>; close: () => Promise<void> } | string> {
  let mod: typeof import('node-llama-cpp');
  try {
    mod = await import('node-llama-cpp');
  } catch {
    return 'skipped: node-llama-cpp is not installed (a dev dependency: npm install)';
  }
  let modelDir = m.file ? path.dirname(m.file) : undefined;
  if (!modelDir) {
    // random weights: a model folder of them, with the default model's tokenizer (the export pads its vocabulary)
    modelDir = path.join(dir, 'model');
    const tokenizer = JSON.parse(fs.readFileSync(path.join(defaultModelDir()!, 'tokenizer.json'), 'utf8')) as object;
    saveModelFolder(modelDir, m.cfg, m.weights, tokenizer);
  }
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error });
  const makers: Record<string, () => Promise<Runner>> = {};
  const sizes: Record<string, number> = {};
  for (const [quant, lora] of [['f32', false], ['q8_0', false], ['q4_0', false], ['q8_0', true], ['q4_0', true]] as const) {
    const { model: file, adapter } = exportGguf({ modelDir, outDir: path.join(dir, `${quant}${lora ? '-lora' : ''}`), quant, ...(lora ? { adapterDir } : {}) });
    sizes[quant] = fs.statSync(file).size;
    makers[`llama.cpp ${quant}${lora ? ' lora' : ''}`] = async () => {
      const model = await llama.loadModel({ modelPath: file });
      const ctx = await model.createContext({ contextSize: PROMPT + NEW_TOKENS + 16, threads: THREADS, batchSize: PROMPT, ...(lora ? { lora: { adapters: [{ filePath: adapter! }] } } : {}) });
      const seq = ctx.getSequence();
      const once = async (): Promise<Run> => {
        await seq.clearHistory();
        const stamps = [performance.now()];
        const tokens: number[] = [];
        for await (const t of seq.evaluate(m.prompt as never, { temperature: 0 })) {
          stamps.push(performance.now());
          tokens.push(Number(t));
          if (tokens.length >= NEW_TOKENS) break;
        }
        const s = stamps.map((t) => t / 1000);
        return { prefill: s[1]! - s[0]!, decode: s.slice(2).map((t, i) => t - s[i + 1]!), tokens };
      };
      await once();
      return {
        once,
        close: async () => {
          await ctx.dispose();
          await model.dispose();
        },
      };
    };
  }
  return { makers, sizes, close: () => llama.dispose() };
}

/** Memory copy bandwidth of this machine (bytes/s): a 256 MiB buffer copied, the median of 5. */
function copyBandwidth(): number {
  const a = Buffer.alloc(256 * 2 ** 20, 1);
  const b = Buffer.alloc(a.length);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    a.copy(b);
    times.push((performance.now() - t) / 1000);
  }
  // a copy reads and writes every byte
  return (2 * a.length) / median(times.slice(1));
}

/** The bundled default model with its real weights, prompted with the start of its own README (tokenized). */
function defaultModel(): Model | string {
  const dir = defaultModelDir();
  if (!dir) return 'skipped: native/default-model is not there';
  const { config, weights } = loadModel(dir);
  const tok = TextTokenizer.fromFolder(dir);
  let ids = tok.encodeText(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'));
  if (ids.length === 0) ids = [0];
  while (ids.length < PROMPT) ids = [...ids, ...ids];
  return { name: 'default model (4 layers, 256 wide, vocab 4096)', cfg: config, weights, prompt: ids.slice(0, PROMPT), file: path.join(dir, 'model.safetensors'), rounds: 10 };
}

/** SmolLM-135M's shape (as in bench/lora.ts) with seeded random weights and a pseudo-random prompt. */
function smolModel(): Model {
  const cfg = smallConfig({ hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152, tie: true });
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 17) % cfg.vocabSize);
  return { name: 'SmolLM-135M shape (30 layers, 576 wide, vocab 49152)', cfg, weights: randomWeights(cfg), prompt, rounds: 5 };
}

/** A seeded LoRA adapter of rank 16 on every projection (the product's default targets), its values the size a learn leaves. */
function seededAdapter(cfg: LlamaConfig): LoraAdapter {
  let s = 12345;
  const random = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.02;
  const rank = 16;
  const tensors: Record<string, Float32Array> = {};
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of LINEAR_TARGETS) {
      const [out, inF] = linearShape(cfg, t);
      tensors[loraName(i, t, 'A')] = Float32Array.from({ length: rank * inF }, random);
      tensors[loraName(i, t, 'B')] = Float32Array.from({ length: out * rank }, random);
    }
  }
  return { rank, alpha: 32, targets: [...LINEAR_TARGETS], tensors };
}

const samePrefix = (a: readonly number[], b: readonly number[]): number => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

export async function benchGenerate(log: (line: string) => void = console.log, only?: string): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  log(`greedy generation, prompt ${PROMPT} tokens + ${NEW_TOKENS} new tokens (forced, no stop tokens), KV cache, ${THREADS} threads; runs interleaved, medians`);
  const makers: [string, () => Model | string][] = [['default', defaultModel], ['SmolLM', smolModel]];
  for (const [key, make] of makers) {
    if (only && !key.toLowerCase().startsWith(only.toLowerCase())) continue;
    const m = make();
    if (typeof m === 'string') {
      log(`${key}: ${m}`);
      results.push({ model: key, note: m });
      continue;
    }
    // with a learned adapter's worth of LoRA (rank 16, every projection), against llama.cpp with the same adapter
    const adapter = seededAdapter(m.cfg);
    const ggufDir = benchTempDir('lift-bench-gguf-');
    let cpp: Awaited<ReturnType<typeof llamaCppPeers>> = 'skipped';
    const peer = await torchPeer(m);
    const runs: Record<string, Run[]> = {};
    let build_s = 0;
    try {
      const adapterDir = path.join(ggufDir, 'adapter');
      saveAdapter(adapterDir, m.cfg, adapter);
      cpp = await llamaCppPeers(m, ggufDir, adapterDir);
      const theirs = (name: string): [string, () => Promise<Runner>][] => (typeof cpp === 'string' ? [] : [[name, cpp.makers[name]!]]);
      // Runners that are compared sit in one group, loaded together and run in turn, round by
      // round; a group is freed before the next loads. With every runner loaded at once, the idle
      // thread pools of a dozen sessions and contexts shared 2 cores, and each ran up to 2× slower.
      const groups: [string, () => Promise<Runner>][][] = [
        [
          ['lift', async () => {
            const r = await ours(m);
            build_s = r.build_s;
            return r;
          }],
          // the plain graph (one ONNX op per step of the arithmetic, as GPUs answer) shows what the fused kernels gain
          ['plain', () => ours(m, undefined, true)],
          ...theirs('llama.cpp f32'),
          ...(typeof peer === 'string' ? [] : [['torch', async () => peer] as [string, () => Promise<Runner>]]),
        ],
        // what "lift.answerPrecision" int8 and int4 answer with (the linears and the output projection through MatMulNBits)
        [['int8', () => ours(m, 8)], ...theirs('llama.cpp q8_0'), ['int8 lora', () => ours(m, 8, false, adapter)], ...theirs('llama.cpp q8_0 lora')],
        [['int4', () => ours(m, 4)], ...theirs('llama.cpp q4_0'), ['int4 lora', () => ours(m, 4, false, adapter)], ...theirs('llama.cpp q4_0 lora')],
      ];
      for (const group of groups) {
        const runners: [string, Runner][] = [];
        try {
          for (const [name, make] of group) runners.push([name, await make()]);
          for (let r = 0; r < m.rounds; r++) for (const [name, runner] of runners) (runs[name] ??= []).push(await runner.once());
        } finally {
          for (const [, runner] of runners) await runner.close();
        }
      }
    } finally {
      if (typeof cpp !== 'string') await cpp.close();
      fs.rmSync(ggufDir, { recursive: true, force: true });
    }
    const prefillRate = (name: string): number => PROMPT / median(runs[name]!.map((x) => x.prefill));
    const decodeS = (name: string): number => median(runs[name]!.flatMap((x) => x.decode));
    const row: Record<string, unknown> = {
      model: m.name,
      prompt_tokens: PROMPT,
      new_tokens: NEW_TOKENS,
      threads: THREADS,
      rounds: m.rounds,
      graph_build_s: build_s,
      lift_prefill_tokens_per_s: prefillRate('lift'),
      lift_decode_tokens_per_s: 1 / decodeS('lift'),
      lift_decode_ms_per_token: 1000 * decodeS('lift'),
      lift_plain_graph_prefill_tokens_per_s: prefillRate('plain'),
      lift_plain_graph_decode_tokens_per_s: 1 / decodeS('plain'),
      fused_decode_vs_plain_graph: decodeS('plain') / decodeS('lift'),
      lift_int8_prefill_tokens_per_s: prefillRate('int8'),
      lift_int8_decode_tokens_per_s: 1 / decodeS('int8'),
      lift_int4_prefill_tokens_per_s: prefillRate('int4'),
      lift_int4_decode_tokens_per_s: 1 / decodeS('int4'),
      int8_decode_vs_fp32: decodeS('lift') / decodeS('int8'),
      int4_decode_vs_fp32: decodeS('lift') / decodeS('int4'),
      int8_same_greedy_tokens: `${samePrefix(runs.lift!.at(-1)!.tokens, runs.int8!.at(-1)!.tokens)}/${NEW_TOKENS}`,
      int4_same_greedy_tokens: `${samePrefix(runs.lift!.at(-1)!.tokens, runs.int4!.at(-1)!.tokens)}/${NEW_TOKENS}`,
      // per round, to show how much the machine moved during the run
      prefill_s_by_round: Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.map((x) => x.prefill)])),
      decode_ms_median_by_round: Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.map((x) => 1000 * median(x.decode))])),
    };
    if (typeof cpp === 'string') row.llama_cpp_note = cpp;
    else {
      // decode bound by memory: every weight byte is read once per token (the GGUF file's size, near enough)
      const bandwidth = copyBandwidth();
      row.copy_bandwidth_gb_per_s = bandwidth / 1e9;
      row.llama_cpp = Object.fromEntries(
        (['f32', 'q8_0', 'q4_0'] as const).map((q) => [
          q,
          {
            prefill_tokens_per_s: prefillRate(`llama.cpp ${q}`),
            decode_tokens_per_s: 1 / decodeS(`llama.cpp ${q}`),
            file_bytes: cpp.sizes[q],
            decode_bound_tokens_per_s: bandwidth / cpp.sizes[q]!,
            same_greedy_tokens_as_lift: `${samePrefix(runs[{ f32: 'lift', q8_0: 'int8', q4_0: 'int4' }[q]]!.at(-1)!.tokens, runs[`llama.cpp ${q}`]!.at(-1)!.tokens)}/${NEW_TOKENS}`,
          },
        ]),
      );
      row.decode_vs_llama_cpp = { fp32_vs_f32: decodeS('llama.cpp f32') / decodeS('lift'), int8_vs_q8_0: decodeS('llama.cpp q8_0') / decodeS('int8'), int4_vs_q4_0: decodeS('llama.cpp q4_0') / decodeS('int4') };
      row.with_adapter = {
        adapter: 'rank 16 on every projection, the same in both',
        lift_int8_decode_tokens_per_s: 1 / decodeS('int8 lora'),
        lift_int4_decode_tokens_per_s: 1 / decodeS('int4 lora'),
        llama_cpp_q8_0_decode_tokens_per_s: 1 / decodeS('llama.cpp q8_0 lora'),
        llama_cpp_q4_0_decode_tokens_per_s: 1 / decodeS('llama.cpp q4_0 lora'),
        int8_vs_q8_0: decodeS('llama.cpp q8_0 lora') / decodeS('int8 lora'),
        int4_vs_q4_0: decodeS('llama.cpp q4_0 lora') / decodeS('int4 lora'),
        int8_same_greedy_tokens: `${samePrefix(runs['int8 lora']!.at(-1)!.tokens, runs['llama.cpp q8_0 lora']!.at(-1)!.tokens)}/${NEW_TOKENS}`,
      };
      row.prefill_vs_llama_cpp = { fp32_vs_f32: prefillRate('lift') / prefillRate('llama.cpp f32'), int8_vs_q8_0: prefillRate('int8') / prefillRate('llama.cpp q8_0'), int4_vs_q4_0: prefillRate('int4') / prefillRate('llama.cpp q4_0') };
    }
    if (typeof peer === 'string') row.note = peer;
    else {
      row.torch_prefill_tokens_per_s = prefillRate('torch');
      row.torch_decode_tokens_per_s = 1 / decodeS('torch');
      row.torch_decode_ms_per_token = 1000 * decodeS('torch');
      row.prefill_vs_torch = prefillRate('lift') / prefillRate('torch');
      row.decode_vs_torch = decodeS('torch') / decodeS('lift');
      row.torch_weights = peer.weights;
      row.torch_version = peer.torch;
      row.torch_omp_wait_policy = peer.ompWait;
      row.same_greedy_tokens = `${samePrefix(runs.lift!.at(-1)!.tokens, runs.torch!.at(-1)!.tokens)}/${NEW_TOKENS}`;
    }
    results.push(row);
    const f = (x: unknown): string => (x as number).toFixed(0);
    log(
      `${m.name}: LIFT prefill ${f(row.lift_prefill_tokens_per_s)} tokens/s, decode ${f(row.lift_decode_tokens_per_s)} tokens/s ` +
        `(${(row.lift_decode_ms_per_token as number).toFixed(1)} ms/token; the plain graph GPUs answer with: prefill ${f(row.lift_plain_graph_prefill_tokens_per_s)}, decode ${f(row.lift_plain_graph_decode_tokens_per_s)}, so fusing gives ${(row.fused_decode_vs_plain_graph as number).toFixed(2)}×)`,
    );
    log(
      `  int8 weights: prefill ${f(row.lift_int8_prefill_tokens_per_s)}, decode ${f(row.lift_int8_decode_tokens_per_s)} tokens/s (${(row.int8_decode_vs_fp32 as number).toFixed(2)}× float32, ${row.int8_same_greedy_tokens} greedy tokens alike); ` +
        `int4: prefill ${f(row.lift_int4_prefill_tokens_per_s)}, decode ${f(row.lift_int4_decode_tokens_per_s)} tokens/s (${(row.int4_decode_vs_fp32 as number).toFixed(2)}×, ${row.int4_same_greedy_tokens})`,
    );
    if (typeof cpp === 'string') log(`  llama.cpp ${cpp}`);
    else {
      const lc = row.llama_cpp as Record<string, { prefill_tokens_per_s: number; decode_tokens_per_s: number; decode_bound_tokens_per_s: number; same_greedy_tokens_as_lift: string }>;
      const v = row.decode_vs_llama_cpp as Record<string, number>;
      log(
        `  llama.cpp (${(row.copy_bandwidth_gb_per_s as number).toFixed(1)} GB/s copy bandwidth): ` +
          (['f32', 'q8_0', 'q4_0'] as const).map((q) => `${q} prefill ${f(lc[q]!.prefill_tokens_per_s)}, decode ${f(lc[q]!.decode_tokens_per_s)} (bound ${f(lc[q]!.decode_bound_tokens_per_s)}), ${lc[q]!.same_greedy_tokens_as_lift} tokens as LIFT`).join('; '),
      );
      log(`  LIFT decode ÷ llama.cpp: fp32/f32 ${v.fp32_vs_f32!.toFixed(2)}×, int8/q8_0 ${v.int8_vs_q8_0!.toFixed(2)}×, int4/q4_0 ${v.int4_vs_q4_0!.toFixed(2)}×`);
      const a = row.with_adapter as Record<string, number>;
      log(
        `  with a rank-16 adapter on every projection in both: LIFT int8 ${f(a.lift_int8_decode_tokens_per_s)}, int4 ${f(a.lift_int4_decode_tokens_per_s)}; llama.cpp q8_0 ${f(a.llama_cpp_q8_0_decode_tokens_per_s)}, q4_0 ${f(a.llama_cpp_q4_0_decode_tokens_per_s)} tokens/s ` +
          `→ ${a.int8_vs_q8_0!.toFixed(2)}×, ${a.int4_vs_q4_0!.toFixed(2)}× (${String(a.int8_same_greedy_tokens)} int8 greedy tokens alike)`,
      );
    }
    if (typeof peer === 'string') log(`  PyTorch ${peer}`);
    else {
      log(
        `  PyTorch prefill ${f(row.torch_prefill_tokens_per_s)} tokens/s, decode ${f(row.torch_decode_tokens_per_s)} tokens/s (${(row.torch_decode_ms_per_token as number).toFixed(1)} ms/token) ` +
          `→ LIFT prefill ${(row.prefill_vs_torch as number).toFixed(2)}×, decode ${(row.decode_vs_torch as number).toFixed(2)}× PyTorch's speed`,
      );
      log(`  PyTorch ${peer.torch}, weights ${peer.weights}, OMP_WAIT_POLICY=${peer.ompWait}${m.file ? `; same greedy tokens as LIFT: ${row.same_greedy_tokens}` : ''}`);
    }
  }
  return results;
}
