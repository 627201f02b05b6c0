/**
 * GGUF export against llama.cpp itself (node-llama-cpp 3.21.1, CPU): the exported f32 model, with
 * and without the exported LoRA adapter, generates the same 64 greedy tokens as the project's
 * generator with the PEFT adapter, fed the same token ids, for the bundled default model (llama
 * arch: q/k rows reordered for llama.cpp's RoPE) and a seeded Qwen2-shaped model (qwen2 arch:
 * biases, grouped-query attention, an untied output); llama.cpp's tokenizer gives the project's
 * token ids on source code; q8_0 and q4_0 blocks decode to within half a step of every weight
 * and the quantized files load and answer; an architecture GGUF cannot express, and a full disk,
 * fail with a clear message and leave nothing behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test } from 'node:test';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { defaultModelDir } from '../../native/model/default';
import { exportGguf, GgufError, permuteRope, quantizeQ4_0, quantizeQ8_0 } from '../../native/model/gguf';
import { randomWeights, smallConfig } from '../../native/model/init';
import { decodingGraph } from '../../native/model/fusedDecode';
import { loraName } from '../../native/model/llama';
import { type LoraAdapter, saveAdapter } from '../../native/model/peft';
import { halfToFloat } from '../../native/model/safetensors';
import { TextTokenizer } from '../../native/model/tokenizer';
import { type LinearTarget, linearShape, loadModel } from '../../native/model/weights';
import type { LlamaConfig } from '../../native/model/config';
import { saveModelFolder } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import { createSession } from '../../native/runtime/session';
import { repoRoot, trainerBundle } from '../helpers';
import { spawnSync } from 'node:child_process';

const N = 64;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-gguf-'));
let llama: Llama;

before(async () => {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
after(async () => {
  await llama?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A seeded adapter on every attention and MLP projection, large enough to change the answer. */
function seededAdapter(cfg: LlamaConfig, targets: LinearTarget[], seed: number): LoraAdapter {
  let s = seed;
  const random = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.3;
  const tensors: Record<string, Float32Array> = {};
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of targets) {
      const [out, inF] = linearShape(cfg, t);
      tensors[loraName(i, t, 'A')] = Float32Array.from({ length: 4 * inF }, random);
      tensors[loraName(i, t, 'B')] = Float32Array.from({ length: out * 4 }, random);
    }
  }
  return { rank: 4, alpha: 8, targets, tensors };
}

/**
 * The project's greedy tokens for `prompt`, with `adapter` (or the base model), and the smallest
 * gap between the two best logits on the way: two float32 engines may order a near-tie either
 * way, so a comparison of greedy tokens means something only where every choice is clear.
 */
async function ours(modelDir: string, prompt: number[], adapter?: LoraAdapter): Promise<number[]> {
  const { config, weights } = loadModel(modelDir);
  // the graph answering builds on the CPU (fusedDecode.ts)
  const g = decodingGraph(config, weights, { cpu: true });
  assert.ok(g.fused);
  const { session } = await createSession(g.model, 'cpu');
  const gen = new Generator(session, config, g.loraTargets, g.memory, g.fused);
  gen.setAdapter(adapter);
  try {
    const { tokens } = await gen.generate(prompt, { maxTokens: N, temperature: 0 });
    let gap = Infinity;
    for (let k = 0; k < tokens.length; k++) {
      const { logits } = await gen.step([...prompt, ...tokens.slice(0, k)], 0);
      const [a, b] = [...logits].sort((x, y) => y - x);
      gap = Math.min(gap, a! - b!);
    }
    assert.ok(gap > 1e-3, `a near-tie (top-2 logits ${gap.toExponential(1)} apart) makes this comparison a coin toss: choose another seed`);
    return tokens;
  } finally {
    await gen.release();
  }
}

/** llama.cpp's greedy tokens for `prompt` from the GGUF files. */
async function theirs(model: LlamaModel, prompt: number[], adapter?: string): Promise<number[]> {
  const ctx = await model.createContext({ contextSize: 256, threads: 2, ...(adapter ? { lora: { adapters: [{ filePath: adapter }] } } : {}) });
  try {
    const out: number[] = [];
    for await (const t of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
      out.push(Number(t));
      if (out.length >= N) break;
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

const prompt = (vocab: number): number[] => Array.from({ length: 24 }, (_, i) => (i * 797 + 31) % (vocab - 16));

describe('GGUF export, read by llama.cpp', () => {
  test('the default model (llama arch): the same 64 greedy tokens, with and without the adapter; the same token ids on source code', async () => {
    const dir = defaultModelDir()!;
    const { config } = loadModel(dir);
    const adapter = seededAdapter(config, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], 7);
    const adapterDir = path.join(tmp, 'default-adapter');
    saveAdapter(adapterDir, config, adapter);
    const out = path.join(tmp, 'default');
    const r = exportGguf({ modelDir: dir, adapterDir, outDir: out, quant: 'f32' });
    assert.deepEqual(fs.readdirSync(out).sort(), ['Modelfile', 'adapter.gguf', 'model-f32.gguf']);
    const model = await llama.loadModel({ modelPath: r.model });
    try {
      const p = prompt(config.vocabSize);
      const base = await ours(dir, p);
      assert.deepEqual(await theirs(model, p), base, 'base model');
      const tuned = await ours(dir, p, adapter);
      assert.notDeepEqual(tuned, base, 'the adapter changes the answer');
      assert.deepEqual(await theirs(model, p, r.adapter), tuned, 'with the adapter');
      const tok = TextTokenizer.fromFolder(dir);
      for (const file of ['native/model/gguf.ts', 'native/runtime/session.ts', 'src/extension.ts', 'README.md']) {
        const text = fs.readFileSync(path.join(repoRoot, file), 'utf8').slice(0, 6000);
        assert.deepEqual(model.tokenize(text, false).map(Number), tok.encodeText(text), file);
      }
    } finally {
      await model.dispose();
    }
    assert.match(fs.readFileSync(r.modelfile, 'utf8'), /^FROM \.\/model-f32\.gguf\nADAPTER \.\/adapter\.gguf\n[\s\S]*PARAMETER stop "<\|im_end\|>"/m);
  });

  test('a seeded Qwen2 shape (biases, grouped-query attention, untied output): the same 64 greedy tokens, with the adapter and merged', async () => {
    const cfg: LlamaConfig = { ...smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocab: 4096, maxPositions: 512, tie: false }), modelType: 'qwen2', attentionBias: true, ropeTheta: 1_000_000, rmsEps: 1e-6, eosTokenIds: [4092] };
    const weights = randomWeights(cfg, 11, 0.1);
    for (const l of weights.layers) for (const b of Object.values(l.bias!)) b.data.forEach((_, i, a) => (a[i] = ((i * 37) % 11) / 50 - 0.1));
    const modelDir = path.join(tmp, 'qwen2');
    saveModelFolder(modelDir, cfg, weights, JSON.parse(fs.readFileSync(path.join(defaultModelDir()!, 'tokenizer.json'), 'utf8')) as object);
    const adapter = seededAdapter(cfg, ['q_proj', 'v_proj', 'down_proj'], 6);
    const adapterDir = path.join(tmp, 'qwen2-adapter');
    saveAdapter(adapterDir, cfg, adapter);
    const p = prompt(cfg.vocabSize);
    const tuned = await ours(modelDir, p, adapter);
    const r = exportGguf({ modelDir, adapterDir, outDir: path.join(tmp, 'qwen2-out'), quant: 'f32' });
    const merged = exportGguf({ modelDir, adapterDir, outDir: path.join(tmp, 'qwen2-merged'), quant: 'f32', merge: true });
    assert.equal(merged.adapter, undefined);
    for (const [file, adapterFile, what] of [[r.model, undefined, 'base'], [r.model, r.adapter, 'adapter'], [merged.model, undefined, 'merged']] as const) {
      const model = await llama.loadModel({ modelPath: file });
      try {
        const want = what === 'base' ? await ours(modelDir, p) : tuned;
        assert.deepEqual(await theirs(model, p, adapterFile), want, what);
      } finally {
        await model.dispose();
      }
    }
  });

  test('q8_0 and q4_0: every weight within half a step of its block (q4_0: a whole step at its clamped end, as ggml); the files load and answer', async () => {
    let s = 5;
    const x = Float32Array.from({ length: 32 * 40 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * (s % 7 === 0 ? 3 : 0.2));
    for (const [name, quantize, size, levels] of [['q8_0', quantizeQ8_0, 34, 127], ['q4_0', quantizeQ4_0, 18, 8]] as const) {
      const q = quantize(x);
      assert.equal(q.length, (x.length / 32) * size);
      const view = new DataView(q.buffer);
      for (let b = 0; b < x.length / 32; b++) {
        const d = halfToFloat(view.getUint16(b * size, true));
        for (let j = 0; j < 32; j++) {
          const v = name === 'q8_0' ? view.getInt8(b * size + 2 + j) : ((q[b * size + 2 + (j % 16)]! >> (j < 16 ? 0 : 4)) & 15) - 8;
          const amax = Math.max(...x.subarray(b * 32, b * 32 + 32).map(Math.abs));
          // q4_0's scale is max/−8: the value of largest magnitude is exact, one of opposite sign and equal size clamps to 7 (a step off)
          const bound = name === 'q8_0' ? (amax / levels) * 0.5 : Math.abs(x[b * 32 + j]!) > amax * (7.5 / 8) ? amax / levels : (amax / levels) * 0.5;
          assert.ok(Math.abs(v * d - x[b * 32 + j]!) <= bound + 1e-3 * amax, `${name} block ${b} value ${j}: ${v * d} for ${x[b * 32 + j]}`);
        }
      }
    }
    const dir = defaultModelDir()!;
    for (const quant of ['q8_0', 'q4_0'] as const) {
      const r = exportGguf({ modelDir: dir, outDir: path.join(tmp, quant), quant });
      // the default model's MLP is 688 wide: its down projection's rows are not whole blocks
      assert.deepEqual(r.keptF16, ['blk.0.ffn_down.weight', 'blk.1.ffn_down.weight', 'blk.2.ffn_down.weight', 'blk.3.ffn_down.weight']);
      const model = await llama.loadModel({ modelPath: r.model });
      try {
        assert.equal((await theirs(model, prompt(4096))).length, N);
      } finally {
        await model.dispose();
      }
      assert.ok(fs.statSync(r.model).size < fs.statSync(path.join(tmp, 'default', 'model-f32.gguf')).size / (quant === 'q8_0' ? 2.5 : 4));
    }
  });

  test('lift export --gguf: the files and how to use them; bad usage exits 2, a store without an adapter 1', () => {
    const out = path.join(tmp, 'cli');
    const run = (...args: string[]) => spawnSync(process.execPath, [trainerBundle, 'export', ...args], { encoding: 'utf8' });
    const ok = run('--gguf', out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), ['Modelfile', 'model-q8_0.gguf']);
    assert.match(ok.stdout, /ollama create <name> -f Modelfile/);
    assert.match(ok.stdout, /llama-cli -m .*model-q8_0\.gguf/);
    const bad = run('--gguf', out, '--quant', 'q5_k');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--quant among f32, f16, q8_0, q4_0/);
    const empty = run('--gguf', path.join(tmp, 'cli-empty'), '--store', path.join(tmp, 'no-store'));
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /has no active adapter/);
    assert.ok(!fs.existsSync(path.join(tmp, 'cli-empty')));
  });

  test('rows of q and k are interleaved per head for llama.cpp’s RoPE', () => {
    // 2 heads of 4 rows, 1 column: halves [0 1 | 2 3] → pairs 0 2 1 3
    assert.deepEqual([...permuteRope(Float32Array.of(0, 1, 2, 3, 10, 11, 12, 13), 2, 1)], [0, 2, 1, 3, 10, 12, 11, 13]);
  });

  test('what GGUF cannot express, and a full disk: a clear error, nothing left behind', () => {
    const dir = path.join(tmp, 'llama3');
    const cfg = smallConfig({ hidden: 64, layers: 1, heads: 2, intermediate: 64, vocab: 4096, maxPositions: 512 });
    saveModelFolder(dir, cfg, randomWeights(cfg, 1), JSON.parse(fs.readFileSync(path.join(defaultModelDir()!, 'tokenizer.json'), 'utf8')) as object);
    const conf = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...conf, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 256 } }));
    const out = path.join(tmp, 'refused');
    assert.throws(() => exportGguf({ modelDir: dir, outDir: out }), (e: Error) => e instanceof GgufError && /llama3 RoPE scaling/.test(e.message));
    assert.ok(!fs.existsSync(out) || fs.readdirSync(out).length === 0);

    const full = path.join(tmp, 'full');
    const m = require('node:fs') as Record<string, unknown>;
    const real = m.writeSync;
    let writes = 0;
    m.writeSync = (...a: unknown[]) => {
      if (++writes > 3) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (real as (...x: unknown[]) => number)(...a);
    };
    syncBuiltinESMExports();
    try {
      assert.throws(() => exportGguf({ modelDir: defaultModelDir()!, outDir: full, quant: 'f16' }), (e: Error) => e instanceof GgufError && /the disk is full.*nothing was written/.test(e.message));
    } finally {
      m.writeSync = real;
      syncBuiltinESMExports();
    }
    assert.deepEqual(fs.readdirSync(full), []);
  });
});
