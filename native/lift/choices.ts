/**
 * The models "LIFT: Choose Model…" offers: a short curated list of Llama-family instruct models
 * (their shapes as their published config.json files give them), each with its download size and,
 * for this machine and this workspace, whether learning fits in memory and roughly how long it
 * takes — from the memory estimate learning itself checks, and from this machine's measured
 * arithmetic speed. Nothing here downloads.
 */
import { type LlamaConfig, parseConfig } from '../model/config';
import type { DeviceEstimate, Machine, ModelChoice } from '../protocol';
import { LINEAR_TARGETS, type LinearTarget, linearShape } from '../model/weights';
import { gpuMemory } from '../runtime/cuda';
import { defaultDevice, gpuLikely } from '../runtime/session';
import { matmulSpeed } from '../runtime/speed';
import { availableMemory, chooseRecompute, DEFAULT_LORA, estimateGpuMemory, parameterCount, preferredSegment, rowLength } from './resources';

export interface CatalogModel {
  id: string;
  /** What it is good for, in a few words. */
  note: string;
  /** Needs the user to accept its licence on the Hub, then an access token. */
  gated?: boolean;
  /** The published config.json's fields that set its shape. */
  config: Record<string, unknown>;
}

const qwen = (hidden: number, intermediate: number, layers: number, heads: number, kv: number, tie: boolean, vocab = 151936): Record<string, unknown> => ({
  model_type: 'qwen2', hidden_size: hidden, intermediate_size: intermediate, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv,
  vocab_size: vocab, tie_word_embeddings: tie, max_position_embeddings: 32768, rope_theta: 1000000,
});
const llama = (o: { hidden: number; intermediate: number; layers: number; heads: number; kv: number; vocab: number; tie: boolean; max: number; theta: number; head?: number; scaling?: Record<string, unknown> }): Record<string, unknown> => ({
  model_type: 'llama', hidden_size: o.hidden, intermediate_size: o.intermediate, num_hidden_layers: o.layers, num_attention_heads: o.heads, num_key_value_heads: o.kv,
  vocab_size: o.vocab, tie_word_embeddings: o.tie, max_position_embeddings: o.max, rope_theta: o.theta, ...(o.head ? { head_dim: o.head } : {}), ...(o.scaling ? { rope_scaling: o.scaling } : {}),
});
const llama32 = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };

/** Smallest first within each family; every one ships its weights as bf16 safetensors. */
export const CATALOG: readonly CatalogModel[] = [
  { id: 'Qwen/Qwen2.5-Coder-0.5B-Instruct', note: 'code, small: laptops', config: qwen(896, 4864, 24, 14, 2, true) },
  { id: 'Qwen/Qwen2.5-Coder-1.5B-Instruct', note: 'code', config: qwen(1536, 8960, 28, 12, 2, true) },
  { id: 'Qwen/Qwen2.5-Coder-3B-Instruct', note: 'code, GPU recommended', config: qwen(2048, 11008, 36, 16, 2, true) },
  { id: 'Qwen/Qwen2.5-Coder-7B-Instruct', note: 'code, GPU', config: qwen(3584, 18944, 28, 28, 4, false, 152064) },
  { id: 'HuggingFaceTB/SmolLM2-360M-Instruct', note: 'general, smallest', config: llama({ hidden: 960, intermediate: 2560, layers: 32, heads: 15, kv: 5, vocab: 49152, tie: true, max: 8192, theta: 100000 }) },
  { id: 'HuggingFaceTB/SmolLM2-1.7B-Instruct', note: 'general', config: llama({ hidden: 2048, intermediate: 8192, layers: 24, heads: 32, kv: 32, vocab: 49152, tie: true, max: 8192, theta: 130000 }) },
  { id: 'meta-llama/Llama-3.2-1B-Instruct', note: 'general', gated: true, config: llama({ hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kv: 8, vocab: 128256, tie: true, max: 131072, theta: 500000, head: 64, scaling: llama32 }) },
  { id: 'meta-llama/Llama-3.2-3B-Instruct', note: 'general, GPU recommended', gated: true, config: llama({ hidden: 3072, intermediate: 8192, layers: 28, heads: 24, kv: 8, vocab: 128256, tie: true, max: 131072, theta: 500000, head: 128, scaling: llama32 }) },
  { id: 'deepseek-ai/deepseek-coder-1.3b-instruct', note: 'code', config: llama({ hidden: 2048, intermediate: 5504, layers: 24, heads: 16, kv: 16, vocab: 32256, tie: false, max: 16384, theta: 100000, scaling: { type: 'linear', factor: 4 } }) },
];

/**
 * Positions a learn with the `fast` preset (1 + 1 passes) computes per character of the
 * workspace: 4.0, 4.9 and 6.2 measured with the default model's tokenizer (2.6–2.9 characters a
 * token) on picomatch's sources, this repository's docs/ and native/lift/ (segments with their
 * context prefix, then segments and QA pairs); scaled to the 3.5–3.7 characters a token that the
 * Qwen2.5 and Llama 3 tokenizers measured on the same inputs.
 */
export const FAST_POSITIONS_PER_CHAR = 3.7;
/** Characters a token for the curated models' tokenizers (measured as above). */
export const CHARS_PER_TOKEN = 3.6;
/**
 * The share of the speed probe's FLOP rate (runtime/speed.ts) that a LoRA training step reaches
 * by `loraStepFlops`: 0.83 on a SmolLM-135M-shaped model (`npm run bench -- lora SmolLM`, its
 * `fraction_of_probe`) and 0.82 on a 29M-parameter shape at 832 positions (a one-off script, not kept), on a quiet 2-core
 * machine; 0.54 while another build ran beside it, so busy machines learn slower than estimated.
 */
export const TRAIN_EFFICIENCY = 0.8;

/** The longest row a default learn computes (a 512-token segment, its 256-token context and the prompt, where the positions allow). */
export const seqLenOf = (cfg: LlamaConfig): number => rowLength(cfg, preferredSegment(cfg));

/** Matmul FLOPs of one LoRA step over T tokens: forward, input gradients through every layer, LoRA weight gradients. */
export function loraStepFlops(cfg: LlamaConfig, T: number, lora: { rank: number; targets: readonly LinearTarget[] }): number {
  const linear = LINEAR_TARGETS.reduce((a, t) => a + linearShape(cfg, t).reduce((x, y) => x * y, 1), 0);
  const fwdLinear = 2 * T * (cfg.numLayers * linear + cfg.hiddenSize * cfg.vocabSize);
  const attn = 2 * 2 * T * T * cfg.headDim * cfg.numHeads * cfg.numLayers; // QKᵀ and PV
  const adapter = lora.targets.reduce((a, t) => a + linearShape(cfg, t).reduce((x, y) => x + y, 0), 0) * lora.rank * cfg.numLayers * 2 * T;
  return fwdLinear * 2 + attn * 3 + adapter * 3;
}

/**
 * What a learn spends besides its training steps (loading the model, building the graphs, the
 * speed measurement, the self-check's answers), in training positions: `npm run bench --
 * estimate` (a Qwen2.5-Coder-0.5B-shaped model learning picomatch's lib/constants.js, 4,552
 * characters) trained in 0.98× the estimate of its steps and took 269 s more, 0.83× the steps'
 * time: 14,000 positions' worth. One measurement; on a large workspace it is a small share.
 */
export const LEARN_OVERHEAD_POSITIONS = 14_000;

/** Seconds a whole `fast` learn of `chars` characters takes with `cfg` at `flops`. */
export function learnSeconds(cfg: LlamaConfig, chars: number, flops: number, recompute: boolean): number {
  const seqLen = seqLenOf(cfg);
  // recomputation runs each layer's forward pass twice
  const work = (loraStepFlops(cfg, seqLen, DEFAULT_LORA) / seqLen) * (recompute ? 1.3 : 1);
  return ((chars * FAST_POSITIONS_PER_CHAR + LEARN_OVERHEAD_POSITIONS) * work) / (flops * TRAIN_EFFICIENCY);
}

/**
 * The curated list, with this machine's figures for learning `workspaceChars` characters (capped at
 * what `tokenBudget` tokens hold: learning reads no more).
 */
export function modelChoices(machine: Machine, workspaceChars: number, tokenBudget = 200_000): ModelChoice[] {
  const chars = Math.min(workspaceChars, tokenBudget * CHARS_PER_TOKEN);
  return CATALOG.map((m) => {
    const cfg = parseConfig(m.config, `${m.id}/config.json`);
    const shape = { seqLen: seqLenOf(cfg), ...DEFAULT_LORA };
    const cpuMem = chooseRecompute(cfg, shape, 'auto', machine.availableBytes);
    const cpu: DeviceEstimate = {
      needBytes: cpuMem.total,
      availableBytes: machine.availableBytes,
      fits: cpuMem.total <= machine.availableBytes,
      recompute: cpuMem.recompute,
      ...(machine.cpuFlops ? { learnSeconds: learnSeconds(cfg, chars, machine.cpuFlops, cpuMem.recompute) } : {}),
    };
    let gpu: DeviceEstimate | undefined;
    if (machine.gpu) {
      const plain = estimateGpuMemory(cfg, shape);
      const mem = plain.total <= machine.gpu.freeBytes ? plain : estimateGpuMemory(cfg, { ...shape, recompute: true });
      gpu = {
        needBytes: mem.total,
        availableBytes: machine.gpu.freeBytes,
        fits: mem.total <= machine.gpu.freeBytes,
        recompute: mem.recompute,
        ...(machine.gpu.flops ? { learnSeconds: learnSeconds(cfg, chars, machine.gpu.flops, mem.recompute) } : {}),
      };
    }
    const parameters = parameterCount(cfg);
    return { id: m.id, note: m.note, gated: !!m.gated, parameters, downloadBytes: 2 * parameters, cpu, ...(gpu ? { gpu } : {}) };
  });
}

/**
 * This machine as the list needs it: available memory, the probe's CPU speed, and a GPU that
 * nvidia-smi reports with the probe's speed on it where CUDA or WebGPU runs here (a probe that
 * fails leaves its figure out).
 */
export async function measureMachine(): Promise<Machine> {
  const gpu = gpuMemory();
  const device = defaultDevice();
  const gpuFlops = gpu && gpuLikely(device) ? await matmulSpeed(device).then((s) => (s.provider !== 'cpu' ? s.flops : undefined), () => undefined) : undefined;
  const cpuFlops = await matmulSpeed('cpu').then((s) => s.flops, () => undefined);
  return {
    availableBytes: availableMemory(),
    ...(cpuFlops ? { cpuFlops } : {}),
    ...(gpu ? { gpu: { name: gpu.name, freeBytes: gpu.freeBytes, ...(gpuFlops ? { flops: gpuFlops } : {}) } } : {}),
  };
}
