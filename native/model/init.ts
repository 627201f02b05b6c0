/**
 * Seeded random weights for a Llama-family config (GPT-2 style: normal(0, 0.02) for matrices,
 * 1 for norms): for tests, benchmarks and models trained from scratch.
 */
import type { LlamaConfig } from './config';
import { LINEAR_TARGETS, linearModule, linearShape, type LlamaWeights, type Weight } from './weights';

/** Normal(0, 1) numbers from a seeded xorshift generator (Box–Muller). */
export function normalSource(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  const uniform = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function randomWeights(cfg: LlamaConfig, seed = 1, std = 0.02, zerosAbove = Infinity): LlamaWeights {
  const normal = normalSource(seed);
  const matrix = (name: string, shape: readonly number[]): Weight => {
    const n = shape.reduce((a, b) => a * b, 1);
    // `zerosAbove`: larger matrices are left zero (fast), for graphs whose big weights come from elsewhere
    const data = new Float32Array(n);
    if (n <= zerosAbove) for (let i = 0; i < n; i++) data[i] = normal() * std; // a plain loop: Float32Array.from over an array-like is ~10× slower
    return { name, shape, data };
  };
  const ones = (name: string, n: number): Weight => ({ name, shape: [n], data: new Float32Array(n).fill(1) });
  const zeros = (name: string, n: number): Weight => ({ name, shape: [n], data: new Float32Array(n) });
  const d = cfg.hiddenSize;
  return {
    embed: matrix('model.embed_tokens.weight', [cfg.vocabSize, d]),
    norm: ones('model.norm.weight', d),
    lmHead: cfg.tieEmbeddings ? undefined : matrix('lm_head.weight', [cfg.vocabSize, d]),
    layers: Array.from({ length: cfg.numLayers }, (_, i) => {
      const p = `model.layers.${i}`;
      return {
        inputNorm: ones(`${p}.input_layernorm.weight`, d),
        postNorm: ones(`${p}.post_attention_layernorm.weight`, d),
        linear: Object.fromEntries(LINEAR_TARGETS.map((t) => [t, matrix(`${p}.${linearModule(t)}.${t}.weight`, linearShape(cfg, t))])) as LlamaWeights['layers'][number]['linear'],
        bias: cfg.attentionBias
          ? {
              q_proj: zeros(`${p}.self_attn.q_proj.bias`, linearShape(cfg, 'q_proj')[0]),
              k_proj: zeros(`${p}.self_attn.k_proj.bias`, linearShape(cfg, 'k_proj')[0]),
              v_proj: zeros(`${p}.self_attn.v_proj.bias`, linearShape(cfg, 'v_proj')[0]),
            }
          : undefined,
      };
    }),
  };
}

/** A config for a small model of the given shape (Llama architecture, untied unless asked). */
export function smallConfig(o: { hidden: number; layers: number; heads: number; kvHeads?: number; intermediate: number; vocab: number; maxPositions?: number; tie?: boolean }): LlamaConfig {
  return {
    modelType: 'llama',
    hiddenSize: o.hidden,
    numLayers: o.layers,
    numHeads: o.heads,
    numKvHeads: o.kvHeads ?? o.heads,
    headDim: o.hidden / o.heads,
    intermediateSize: o.intermediate,
    vocabSize: o.vocab,
    rmsEps: 1e-5,
    ropeTheta: 10000,
    maxPositions: o.maxPositions ?? 2048,
    tieEmbeddings: o.tie ?? false,
    attentionBias: false,
    eosTokenIds: [],
  };
}
