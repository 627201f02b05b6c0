/**
 * A Hugging Face `config.json` of the Llama family, checked and normalised. Supported:
 * llama (Llama 2/3, SmolLM, DeepSeek-Coder), mistral (without sliding windows shorter than the
 * context), qwen2 (attention biases on q/k/v). RoPE scaling: none, linear, llama3.
 */
export interface RopeScaling {
  type: 'linear' | 'llama3';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

export interface LlamaConfig {
  modelType: 'llama' | 'mistral' | 'qwen2';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  maxPositions: number;
  tieEmbeddings: boolean;
  /** Biases on the q/k/v projections (Qwen2). */
  attentionBias: boolean;
  bosTokenId?: number;
  eosTokenIds: number[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SUPPORTED = ['llama', 'mistral', 'qwen2'] as const;

export function parseConfig(raw: unknown, file = 'config.json'): LlamaConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`${file}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('not a JSON object');
  const c = raw as Record<string, unknown>;
  const modelType = c.model_type;
  if (!SUPPORTED.includes(modelType as (typeof SUPPORTED)[number])) {
    fail(`model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED.join(', ')}: the Llama family)`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${key} must be a positive number, got ${JSON.stringify(c[key])}`);
    return v as number;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const headDim = int('head_dim', hiddenSize / numHeads);
  if (numHeads % numKvHeads !== 0) fail(`num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for rotary embeddings`);
  const maxPositions = int('max_position_embeddings', 2048);
  if (modelType === 'mistral' && typeof c.sliding_window === 'number' && c.sliding_window < maxPositions) {
    fail(`sliding_window ${c.sliding_window} is shorter than the context (${maxPositions}); sliding-window attention is not supported`);
  }
  let ropeScaling: RopeScaling | undefined;
  const rs = c.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs) {
    const type = rs.rope_type ?? rs.type;
    const factor = rs.factor;
    if (typeof factor !== 'number' || factor <= 0) fail(`rope_scaling.factor must be a positive number`);
    if (type === 'linear') ropeScaling = { type, factor: factor as number };
    else if (type === 'llama3') {
      ropeScaling = {
        type,
        factor: factor as number,
        lowFreqFactor: Number(rs.low_freq_factor ?? 1),
        highFreqFactor: Number(rs.high_freq_factor ?? 4),
        originalMaxPositions: Number(rs.original_max_position_embeddings ?? 8192),
      };
    } else if (type !== 'default') fail(`rope_scaling type ${JSON.stringify(type)} is not supported (supported: linear, llama3)`);
  }
  const eos = c.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.filter(Number.isSafeInteger) : Number.isSafeInteger(eos) ? [eos as number] : [];
  return {
    modelType: modelType as LlamaConfig['modelType'],
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    rmsEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling,
    maxPositions,
    tieEmbeddings: c.tie_word_embeddings === true,
    attentionBias: modelType === 'qwen2' || c.attention_bias === true,
    bosTokenId: Number.isSafeInteger(c.bos_token_id) ? (c.bos_token_id as number) : undefined,
    eosTokenIds,
  };
}

/** Inverse frequencies of the rotary embedding, with the configured scaling (as transformers computes them). */
export function ropeInvFreq(cfg: LlamaConfig): Float64Array {
  const half = cfg.headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / cfg.ropeTheta ** ((2 * i) / cfg.headDim));
  const s = cfg.ropeScaling;
  if (!s) return inv;
  if (s.type === 'linear') return inv.map((f) => f / s.factor);
  // llama3: long wavelengths scaled by `factor`, short ones kept, a smooth blend between
  const low = s.originalMaxPositions! / s.lowFreqFactor!;
  const high = s.originalMaxPositions! / s.highFreqFactor!;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < high) return f;
    if (wavelen > low) return f / s.factor;
    const smooth = (s.originalMaxPositions! / wavelen - s.lowFreqFactor!) / (s.highFreqFactor! - s.lowFreqFactor!);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
