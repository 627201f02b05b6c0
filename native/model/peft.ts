/**
 * Adapters on disk: `adapter_config.json` + `adapter_model.safetensors`. LoRA in PEFT's format,
 * with PEFT's tensor names (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`,
 * A [r, in], B [out, r]). Gated Memory in the same two files with LIFT's own layout (PEFT has no
 * such adapter: its `peft_type` is `LIFT_GATED_MEMORY`, which PEFT refuses rather than
 * misreads): `model.layers.{i}.self_attn.gated_memory.{W1,W2,U,w}`, float32, per head in row
 * layout (x·W): W1 [H, d, 2d], W2 [H, 2d, d], U [H, d, ⌊√d⌋], w [H, ⌊√d⌋, 1]. Saving is atomic
 * for the folder as a whole: a complete new folder replaces the old one in a rename, so the
 * previous adapter survives any failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JSON_FILE_LIMIT, readText } from '../files';
import type { LlamaConfig } from './config';
import { type AdapterKind, adapterKind, GATE_AT_INIT, loraName, MEMORY_PARTS, memoryName, memoryShapes } from './llama';
import { SafetensorsFile, writeSafetensors } from './safetensors';
import { LINEAR_TARGETS, type LinearTarget, linearModule, linearShape } from './weights';

/** An adapter of either kind (`kind` absent: LoRA); Gated Memory has rank 0, alpha 0 and no targets. */
export interface LoraAdapter {
  kind?: AdapterKind;
  rank: number;
  alpha: number;
  targets: LinearTarget[];
  /** Engine names (`layers.{i}.{target}.lora_A|B`, `layers.{i}.memory.{part}`) → values. */
  tensors: Record<string, Float32Array>;
}

export class AdapterError extends Error {
  override name = 'AdapterError';
}

const peftName = (layer: number, t: LinearTarget, ab: 'A' | 'B'): string =>
  `base_model.model.model.layers.${layer}.${linearModule(t)}.${t}.lora_${ab}.weight`;

/** `peft_type` of a Gated Memory adapter's config. */
export const GATED_MEMORY_TYPE = 'LIFT_GATED_MEMORY';
const memoryFileName = (layer: number, part: string): string => `model.layers.${layer}.self_attn.gated_memory.${part}`;

/** The tensors (file name → shape and data) and adapter_config.json of an adapter. */
function adapterFiles(cfg: LlamaConfig, adapter: LoraAdapter, baseModel: string): { tensors: Record<string, { shape: number[]; data: Float32Array }>; config: object } {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  if (adapterKind(adapter) === 'gated-memory') {
    const shapes = memoryShapes(cfg);
    for (let i = 0; i < cfg.numLayers; i++) {
      for (const p of MEMORY_PARTS) {
        const data = adapter.tensors[memoryName(i, p)];
        const shape = [...shapes[p]];
        if (data?.length !== shape.reduce((a, b) => a * b, 1)) throw new AdapterError(`adapter tensor ${memoryName(i, p)} is missing or the wrong size`);
        tensors[memoryFileName(i, p)] = { shape, data };
      }
    }
    const config = {
      peft_type: GATED_MEMORY_TYPE,
      adapter_kind: 'gated-memory',
      base_model_name_or_path: baseModel,
      num_attention_heads: cfg.numHeads,
      head_dim: cfg.headDim,
      memory_hidden: 2 * cfg.headDim,
      gate_hidden: shapes.U[2],
      gate_at_init: GATE_AT_INIT,
      layout: 'per head, row vectors: m(q) = SiLU(q·W1)·W2, g(q) = sigmoid(3·(SiLU(q·U)·w − 1)), out = attn + g·m − (g − g0)/(1 − g0)·attn on the pre-RoPE query, before o_proj',
    };
    return { tensors, config };
  }
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of adapter.targets) {
      const [out, inF] = linearShape(cfg, t);
      const A = adapter.tensors[loraName(i, t, 'A')];
      const B = adapter.tensors[loraName(i, t, 'B')];
      if (A?.length !== adapter.rank * inF || B?.length !== out * adapter.rank) throw new AdapterError(`adapter tensors for layer ${i} ${t} are missing or the wrong size`);
      tensors[peftName(i, t, 'A')] = { shape: [adapter.rank, inF], data: A };
      tensors[peftName(i, t, 'B')] = { shape: [out, adapter.rank], data: B };
    }
  }
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: adapter.rank,
    lora_alpha: adapter.alpha,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: false,
    target_modules: adapter.targets,
    inference_mode: true,
  };
  return { tensors, config };
}

/**
 * Saves the adapter; `extraFiles` (e.g. LIFT's manifest) are written into the same folder
 * before it replaces the old one, so the folder is always complete and consistent.
 */
/** The file that holds an adapter's weights (PEFT's name). */
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** Whether `dir` holds an adapter's weights file (not whether they load: loadAdapter says). */
export const hasAdapterWeights = (dir: string): boolean => fs.existsSync(path.join(dir, ADAPTER_WEIGHTS));

export function saveAdapter(dir: string, cfg: LlamaConfig, adapter: LoraAdapter, baseModel = '', extraFiles: Record<string, string> = {}): void {
  const { tensors, config } = adapterFiles(cfg, adapter, baseModel);
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  recoverInterruptedSave(dir); // leftovers of a save that was killed
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    fs.writeFileSync(path.join(tmp, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
    for (const [name, text] of Object.entries(extraFiles)) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('adapter_')) throw new AdapterError(`bad extra file name ${name}`);
      fs.writeFileSync(path.join(tmp, name), text);
    }
    writeSafetensors(path.join(tmp, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
    const old = fs.existsSync(dir) ? `${tmp}.old` : undefined;
    if (old) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A save interrupted between its two renames leaves no `dir` but a complete new folder
 * (`.name.tmp-X`) and the previous one (`.name.tmp-X.old`): put the new one in place (or, if it
 * is incomplete, the old one back).
 */
function recoverInterruptedSave(dir: string): void {
  const parent = path.dirname(path.resolve(dir));
  const prefix = `.${path.basename(dir)}.tmp-`;
  if (fs.existsSync(dir)) {
    // a save killed while writing its temporary folder: the adapter in place is whole; drop the rest
    for (const e of safeReaddir(parent)) if (e.startsWith(prefix)) fs.rmSync(path.join(parent, e), { recursive: true, force: true });
    return;
  }
  const complete = (d: string): boolean => ['adapter_config.json', ADAPTER_WEIGHTS].every((f) => fs.existsSync(path.join(d, f)));
  const entries = safeReaddir(parent).filter((e) => e.startsWith(prefix));
  for (const e of entries.filter((x) => x.endsWith('.old'))) {
    const fresh = path.join(parent, e.slice(0, -'.old'.length));
    const old = path.join(parent, e);
    fs.renameSync(fs.existsSync(fresh) && complete(fresh) ? fresh : old, dir);
    fs.rmSync(fresh, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
    return;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function loadAdapter(dir: string, cfg: LlamaConfig): LoraAdapter {
  const fail = (msg: string): never => {
    throw new AdapterError(`${dir}: ${msg}`);
  };
  recoverInterruptedSave(dir);
  let conf: Record<string, unknown>;
  try {
    conf = JSON.parse(readText(path.join(dir, 'adapter_config.json'), JSON_FILE_LIMIT));
  } catch (err) {
    return fail(`adapter_config.json is missing or not JSON (${(err as Error).message})`);
  }
  if (conf.peft_type === GATED_MEMORY_TYPE) return loadMemory(dir, cfg, fail);
  if (conf.peft_type !== 'LORA') fail(`peft_type ${JSON.stringify(conf.peft_type)} is neither LORA nor ${GATED_MEMORY_TYPE}`);
  const rank = conf.r;
  const alpha = conf.lora_alpha;
  if (!Number.isSafeInteger(rank) || (rank as number) <= 0) fail(`r must be a positive integer`);
  if (typeof alpha !== 'number' || !(alpha > 0)) fail(`lora_alpha must be a positive number`);
  const targets = conf.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => (LINEAR_TARGETS as readonly string[]).includes(t))) {
    fail(`target_modules must be a list among ${LINEAR_TARGETS.join(', ')}`);
  }
  const file = openWeights(dir, fail);
  const tensors: Record<string, Float32Array> = {};
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of targets as LinearTarget[]) {
      const [out, inF] = linearShape(cfg, t);
      const r = rank as number;
      for (const [ab, shape] of [['A', [r, inF]], ['B', [out, r]]] as const) {
        tensors[loraName(i, t, ab)] = readTensor(file, peftName(i, t, ab), shape, fail);
      }
    }
  }
  return { rank: rank as number, alpha: alpha as number, targets: targets as LinearTarget[], tensors };
}

function openWeights(dir: string, fail: (msg: string) => never): SafetensorsFile {
  try {
    return SafetensorsFile.open(path.join(dir, ADAPTER_WEIGHTS));
  } catch (err) {
    return fail((err as Error).message);
  }
}

/** A tensor of the adapter's file, checked against the shape this model needs. */
function readTensor(file: SafetensorsFile, name: string, shape: readonly number[], fail: (msg: string) => never): Float32Array {
  const entry = file.tensors.get(name) ?? fail(`tensor ${name} is missing: the adapter does not fit this model`);
  if (entry.shape.join() !== shape.join()) fail(`tensor ${name} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] for this model`);
  try {
    return file.readFloat32(name).data;
  } catch (err) {
    return fail((err as Error).message);
  }
}

function loadMemory(dir: string, cfg: LlamaConfig, fail: (msg: string) => never): LoraAdapter {
  const file = openWeights(dir, fail);
  const shapes = memoryShapes(cfg);
  const tensors: Record<string, Float32Array> = {};
  for (let i = 0; i < cfg.numLayers; i++) for (const p of MEMORY_PARTS) tensors[memoryName(i, p)] = readTensor(file, memoryFileName(i, p), shapes[p], fail);
  return { kind: 'gated-memory', rank: 0, alpha: 0, targets: [], tensors };
}
