/**
 * Prepares the GPU check (test/gpu/gpu_check.py): the graphs the product runs on CUDA — the LoRA
 * training step, the same step with activation recomputation (its layer, head and update graphs,
 * at the step's length and at a long one), and the generation graph, in mixed precision — for a
 * Qwen2.5-Coder-0.5B-shaped
 * model (or a tiny one, to test the hand-off on the CPU), written as ONNX files whose weights are
 * external data that is NOT written: the GPU machine generates them (only the small graph files
 * travel). A manifest says what each graph takes and gives, what each external file must hold,
 * and the step's matmul FLOPs.
 *
 *   node --import tsx test/gpu/prepare.ts <out dir> [qwen0.5b|tiny]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LlamaConfig } from '../../native/model/config';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaGenerate, buildLlamaTrainStep } from '../../native/model/llama';
import { buildRecomputeStep } from '../../native/model/recompute';
import { DYNAMIC_LOSS_SCALE } from '../../native/runtime/session';
import { loraStepFlops } from '../../native/lift/choices';
import { QWEN_05B } from '../../native/bench/gpu';
import type { LinearTarget } from '../../native/model/weights';
import { onnx } from 'onnx-proto';

export const SHAPES: Record<string, { cfg: LlamaConfig; seqLen: number; longSeqLen: number }> = {
  'qwen0.5b': {
    cfg: QWEN_05B,
    seqLen: 1024,
    longSeqLen: 4096,
  },
  tiny: { cfg: smallConfig({ hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 384, vocab: 512, maxPositions: 512, tie: true }), seqLen: 32, longSeqLen: 64 },
};
const LORA = { rank: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as LinearTarget[] };

const DTYPES: Record<number, string> = { 1: 'float32', 10: 'float16', 7: 'int64', 9: 'bool' };

/** The graph's inputs and outputs with their element types and shapes (symbolic dims by name). */
function signature(bytes: Uint8Array): { inputs: object[]; outputs: object[] } {
  const m = onnx.ModelProto.decode(bytes);
  const io = (vs: onnx.IValueInfoProto[]): object[] =>
    vs.map((v) => ({
      name: v.name,
      dtype: DTYPES[v.type!.tensorType!.elemType!] ?? String(v.type!.tensorType!.elemType),
      shape: (v.type!.tensorType!.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue))),
    }));
  return { inputs: io(m.graph!.input ?? []), outputs: io(m.graph!.output ?? []) };
}

/** Writes the graph file and describes its external tensors (name, dtype, shape, file, bytes), without their data. */
function writeGraph(dir: string, name: string, model: { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] }): object {
  const file = `${name}.onnx`;
  fs.writeFileSync(path.join(dir, file), model.bytes);
  const m = onnx.ModelProto.decode(model.bytes);
  const external = (m.graph!.initializer ?? [])
    .filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
    .map((t) => {
      const entry = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      return { name: t.name, dtype: DTYPES[t.dataType!] ?? String(t.dataType), shape: (t.dims ?? []).map(Number), file: entry.location, bytes: Number(entry.length) };
    });
  return { file, external, ...signature(model.bytes) };
}

export function prepare(outDir: string, shapeName: keyof typeof SHAPES): object {
  const { cfg, seqLen, longSeqLen } = SHAPES[shapeName]!;
  fs.mkdirSync(outDir, { recursive: true });
  // large weights leave as shapes only (the GPU machine generates them), so they are zeros here;
  // small ones (norms, and in the tiny shape some matrices) stay in the graph file: random values
  const weights = randomWeights(cfg, 1, 0.02, 32_767); // 32,768 float16 values = 64 KiB, where the graph's external data starts
  const train = buildLlamaTrainStep(cfg, weights, { seqLen, batch: 1, lora: LORA, seed: 1, precision: 'float16' });
  const trainDir = path.join(outDir, 'train');
  fs.mkdirSync(trainDir, { recursive: true });
  const trainInfo = writeGraph(trainDir, 'train_step', train.model);
  const gen = buildLlamaGenerate(cfg, weights, LORA.targets, 'float16');
  const genDir = path.join(outDir, 'generate');
  fs.mkdirSync(genDir, { recursive: true });
  const genInfo = writeGraph(genDir, 'generate', gen.model);
  // activation recomputation: three graphs per length; the embedding table the runner reads is the head's (tied)
  const recompute = [seqLen, longSeqLen].map((T) => {
    const r = buildRecomputeStep(cfg, weights, { seqLen: T, lora: LORA, seed: 1, precision: 'float16' });
    const dir = path.join(outDir, `recompute-${T}`);
    fs.mkdirSync(dir, { recursive: true });
    return {
      dir: `recompute-${T}`,
      seqLen: T,
      chunk: r.chunk,
      lossScale: DYNAMIC_LOSS_SCALE.initial, // the check runs at the runner's starting scale
      embed: weights.embed.name,
      trainStepFlops: loraStepFlops(cfg, T, LORA),
      layer: writeGraph(dir, 'layer', r.layer),
      head: writeGraph(dir, 'head', r.head),
      update: { ...writeGraph(dir, 'update', r.update.model), spec: r.update.spec },
    };
  });
  const manifest = {
    shape: shapeName,
    config: cfg,
    seqLen,
    lora: LORA,
    precision: `float16 weights and matmuls, float32 elsewhere; dynamic loss scale (input loss_scale, the check feeds ${DYNAMIC_LOSS_SCALE.initial})`,
    lossScale: DYNAMIC_LOSS_SCALE.initial,
    trainStepFlops: loraStepFlops(cfg, seqLen, LORA),
    train: { dir: 'train', ...trainInfo, spec: train.spec },
    generate: { dir: 'generate', ...genInfo },
    recompute,
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

if (require.main === module) {
  const [out, shape = 'qwen0.5b'] = process.argv.slice(2);
  if (!out || !(shape in SHAPES)) {
    process.stderr.write(`usage: node --import tsx test/gpu/prepare.ts <out dir> [${Object.keys(SHAPES).join('|')}]\n`);
    process.exit(2);
  }
  const started = Date.now();
  prepare(out, shape as keyof typeof SHAPES);
  const size = (d: string): number => fs.readdirSync(d, { recursive: true, withFileTypes: true }).reduce((a, f) => a + (f.isFile() ? fs.statSync(path.join(f.parentPath, f.name)).size : 0), 0);
  console.log(`prepared ${shape} in ${((Date.now() - started) / 1000).toFixed(1)} s: graph files ${(size(out) / 2 ** 20).toFixed(1)} MiB in all (weights are generated on the GPU machine)`);
}
