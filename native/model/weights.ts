/**
 * A Hugging Face model folder of the Llama family: config.json plus model.safetensors, or
 * shards listed in model.safetensors.index.json. Every tensor the architecture needs is checked
 * against the config (name, file and shape in the error) before the model is used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileReadError, JSON_FILE_LIMIT, readText } from '../files';
import { modelFile } from './modelFile';
import { ConfigError, type LlamaConfig, parseConfig } from './config';
import { SafetensorsError, SafetensorsFile, writeSafetensors } from './safetensors';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** A weight in Hugging Face's layout ([out, in] for linear layers), as float32. */
export interface Weight {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export const LINEAR_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearTarget = (typeof LINEAR_TARGETS)[number];

export interface LayerWeights {
  inputNorm: Weight;
  postNorm: Weight;
  linear: Record<LinearTarget, Weight>;
  /** q/k/v biases (Qwen2). */
  bias?: Record<'q_proj' | 'k_proj' | 'v_proj', Weight>;
}

export interface LlamaWeights {
  embed: Weight;
  layers: LayerWeights[];
  norm: Weight;
  /** Absent when the embeddings are tied. */
  lmHead?: Weight;
}

/** Which module each linear layer sits in, and its [out, in] shape for a config. */
export function linearShape(cfg: LlamaConfig, target: LinearTarget): [number, number] {
  const { hiddenSize: d, numHeads: h, numKvHeads: kv, headDim: hd, intermediateSize: ff } = cfg;
  switch (target) {
    case 'q_proj': return [h * hd, d];
    case 'k_proj':
    case 'v_proj': return [kv * hd, d];
    case 'o_proj': return [d, h * hd];
    case 'gate_proj':
    case 'up_proj': return [ff, d];
    case 'down_proj': return [d, ff];
  }
}

export const linearModule = (t: LinearTarget): string => (t.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(t) ? 'mlp' : 'self_attn');

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readText(file, JSON_FILE_LIMIT);
  } catch (err) {
    throw new ModelLoadError(`${path.basename(file)} is missing or unreadable in ${path.dirname(file)} (${(err as FileReadError).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Maps each tensor name to the safetensors file holding it. */
function openShards(dir: string): Map<string, SafetensorsFile> {
  const index = modelFile(dir, 'model.safetensors.index.json');
  const single = modelFile(dir, 'model.safetensors');
  const byName = new Map<string, SafetensorsFile>();
  if (fs.existsSync(index)) {
    const map = (readJson(index) as { weight_map?: Record<string, string> }).weight_map;
    if (!map || typeof map !== 'object') throw new ModelLoadError('model.safetensors.index.json has no weight_map');
    const files = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new ModelLoadError(`model.safetensors.index.json: bad shard name for ${name}`);
      let f = files.get(shard);
      if (!f) {
        if (!fs.existsSync(path.join(dir, shard))) throw new ModelLoadError(`shard ${shard} (listed for ${name}) is missing from ${dir}`);
        f = SafetensorsFile.open(modelFile(dir, shard));
        files.set(shard, f);
      }
      if (!f.tensors.has(name)) throw new ModelLoadError(`${shard}: the index lists "${name}" here, but the file does not contain it`);
      byName.set(name, f);
    }
    return byName;
  }
  if (!fs.existsSync(single)) throw new ModelLoadError(`no model.safetensors or model.safetensors.index.json in ${dir}`);
  const f = SafetensorsFile.open(single);
  for (const name of f.tensors.keys()) byName.set(name, f);
  return byName;
}

export function loadConfig(dir: string): LlamaConfig {
  if (!fs.existsSync(dir)) throw new ModelLoadError(`the model folder ${dir} does not exist (was it deleted or moved?)`);
  return parseConfig(readJson(modelFile(dir, 'config.json')));
}

/**
 * What identifies a model folder's contents cheaply: the size and time of its config and weight
 * files. Throws ModelLoadError when the folder is gone.
 */
export function modelStamp(dir: string): string {
  if (!fs.existsSync(path.join(dir, 'config.json'))) loadConfig(dir); // the clear error
  return ['config.json', 'model.safetensors', 'model.safetensors.index.json']
    .map((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false }))
    .map((st) => (st ? `${st.size}:${st.mtimeMs}` : '-'))
    .join('/');
}

/** Loads config and weights, converting fp16/bf16 to float32. */
export function loadModel(dir: string): { config: LlamaConfig; weights: LlamaWeights } {
  try {
    const config = loadConfig(dir);
    const files = openShards(dir);
    const get = (name: string, shape: readonly number[]): Weight => {
      const f = files.get(name);
      if (!f) throw new ModelLoadError(`tensor "${name}" is missing from the model's safetensors files`);
      const entry = f.tensors.get(name)!;
      if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
        throw new ModelLoadError(`${path.basename(f.file)}: tensor "${name}" has shape [${entry.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`);
      }
      return { name, shape, data: f.readFloat32(name).data };
    };
    const { hiddenSize: d, vocabSize: v, numLayers } = config;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `model.layers.${i}`;
      const linear = Object.fromEntries(LINEAR_TARGETS.map((t) => [t, get(`${p}.${linearModule(t)}.${t}.weight`, linearShape(config, t))])) as Record<LinearTarget, Weight>;
      const bias = config.attentionBias
        ? (Object.fromEntries((['q_proj', 'k_proj', 'v_proj'] as const).map((t) => [t, get(`${p}.self_attn.${t}.bias`, [linearShape(config, t)[0]])])) as LayerWeights['bias'])
        : undefined;
      layers.push({ inputNorm: get(`${p}.input_layernorm.weight`, [d]), postNorm: get(`${p}.post_attention_layernorm.weight`, [d]), linear, bias });
    }
    const lmHead = config.tieEmbeddings ? undefined : get('lm_head.weight', [v, d]);
    return { config, weights: { embed: get('model.embed_tokens.weight', [v, d]), layers, norm: get('model.norm.weight', [d]), lmHead } };
  } catch (err) {
    if (err instanceof ConfigError || err instanceof SafetensorsError) throw new ModelLoadError(err.message);
    throw err;
  }
}

/** Writes a model folder Hugging Face tools read: config.json, model.safetensors, and tokenizer.json when given. */
export function saveModelFolder(dir: string, cfg: LlamaConfig, w: LlamaWeights, tokenizerJson?: object, dtype: 'F32' | 'F16' = 'F32'): void {
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    architectures: [cfg.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : cfg.modelType === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    model_type: cfg.modelType,
    hidden_size: cfg.hiddenSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    intermediate_size: cfg.intermediateSize,
    vocab_size: cfg.vocabSize,
    rms_norm_eps: cfg.rmsEps,
    rope_theta: cfg.ropeTheta,
    max_position_embeddings: cfg.maxPositions,
    tie_word_embeddings: cfg.tieEmbeddings,
    hidden_act: 'silu',
    torch_dtype: dtype === 'F16' ? 'float16' : 'float32',
    ...(cfg.bosTokenId !== undefined ? { bos_token_id: cfg.bosTokenId } : {}),
    ...(cfg.eosTokenIds.length ? { eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds } : {}),
  };
  const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  const add = (x: Weight | undefined): void => void (x && (tensors[x.name] = { shape: x.shape, data: x.data }));
  add(w.embed);
  add(w.norm);
  add(w.lmHead);
  for (const l of w.layers) {
    add(l.inputNorm);
    add(l.postNorm);
    for (const t of LINEAR_TARGETS) add(l.linear[t]);
    if (l.bias) for (const b of Object.values(l.bias)) add(b);
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' }, dtype);
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  if (tokenizerJson) fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
}
