/**
 * Training Llama-family models: a LoRA adapter memorizes a short text, survives a save and load
 * in PEFT's format and then reproduces it; the full-parameter mode (tied embeddings included)
 * learns too; broken model folders give one clear error each.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildLlamaGenerate, buildLlamaTrainStep } from '../../native/model/llama';
import { loadAdapter, saveAdapter, type LoraAdapter } from '../../native/model/peft';
import { LINEAR_TARGETS, loadModel, ModelLoadError } from '../../native/model/weights';
import { Generator } from '../../native/runtime/generate';
import { createSession, TrainStepRunner } from '../../native/runtime/session';
import { repoRoot } from '../helpers';

const FIXTURES = path.join(repoRoot, 'test/reference/fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-model-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function batch(tokens: number[]): Record<string, ort.Tensor> {
  const n = tokens.length - 1;
  return {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens.slice(0, -1), BigInt), [1, n]),
    labels: new ort.Tensor('int64', BigInt64Array.from(tokens.slice(1), BigInt), [1, n]),
    loss_mask: new ort.Tensor('float32', new Float32Array(n).fill(1), [1, n]),
  };
}

describe('LoRA on llama-gqa', () => {
  const { config: cfg, weights } = loadModel(path.join(FIXTURES, 'llama-gqa'));
  const text = [7, 41, 3, 58, 19, 22, 60, 11, 5, 33, 47, 2, 29, 14, 52, 8, 38, 26, 61, 17, 44, 9, 30, 55];

  test('step 0 is the base model exactly; the adapter memorizes the text; PEFT save/load reproduces it', async () => {
    const lora = { rank: 8, alpha: 16, targets: [...LINEAR_TARGETS] };
    const train = buildLlamaTrainStep(cfg, weights, { seqLen: text.length - 1, batch: 1, lora });
    const { session } = await createSession(train.model, 'cpu', { threads: 1 });
    const runner = new TrainStepRunner(session, train.spec, train.params);

    // The base model's loss on the text, from a full-parameter graph with a zero learning rate.
    const base = buildLlamaTrainStep(cfg, weights, { seqLen: text.length - 1, batch: 1 });
    const baseRunner = new TrainStepRunner((await createSession(base.model, 'cpu')).session, base.spec, base.params);
    const baseLoss = (await baseRunner.step(batch(text), 0)).loss;

    const losses: number[] = [];
    // This 32-wide model's final RMSNorm bounds its logits: the loss floor is ≈ 0.217 (4.9 at start).
    for (let i = 0; i < 200 && (losses.at(-1) ?? Infinity) > 0.25; i++) losses.push((await runner.step(batch(text), 3e-2)).loss);
    assert.ok(Math.abs(losses[0]! - baseLoss) < 1e-5, `step-0 loss ${losses[0]} vs base ${baseLoss}`);
    assert.ok(losses.at(-1)! < 0.25, `loss after ${losses.length} steps: ${losses.at(-1)}`);

    const adapter: LoraAdapter = { ...lora, tensors: Object.fromEntries(Object.keys(train.params).map((k) => [k, Float32Array.from(runner.get(k))])) };
    const dir = path.join(tmp, 'adapter');
    saveAdapter(dir, cfg, adapter, 'llama-gqa');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    const conf = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.deepEqual([conf.peft_type, conf.r, conf.lora_alpha, conf.target_modules.length], ['LORA', 8, 16, 7]);
    const loaded = loadAdapter(dir, cfg);

    const gen = buildLlamaGenerate(cfg, weights);
    const generator = new Generator((await createSession(gen.model, "cpu")).session, cfg, gen.loraTargets);
    generator.setAdapter(adapter);
    const inMemory = await generator.step(text.slice(0, 10), 0);
    const continuation = await generator.generate(text.slice(0, 4), { maxTokens: 12 });
    generator.setAdapter(loaded);
    const fromDisk = await generator.step(text.slice(0, 10), 0);
    assert.deepEqual(Array.from(fromDisk.logits), Array.from(inMemory.logits), 'the loaded adapter gives the same logits');
    assert.deepEqual(continuation.tokens, text.slice(4, 16), 'the adapted model continues the memorized text');
    generator.setAdapter(undefined);
    const plain = await generator.generate(text.slice(0, 4), { maxTokens: 12 });
    assert.notDeepEqual(plain.tokens, text.slice(4, 16), 'the base model alone does not');
  });

  test('saving over an adapter replaces it whole; a failed save leaves the old one', () => {
    const dir = path.join(tmp, 'replace');
    const tensors = (v: number) =>
      Object.fromEntries(
        Array.from({ length: cfg.numLayers }, (_, i) => [
          [`layers.${i}.q_proj.lora_A`, new Float32Array(2 * cfg.hiddenSize).fill(v)],
          [`layers.${i}.q_proj.lora_B`, new Float32Array(cfg.numHeads * cfg.headDim * 2).fill(v)],
        ]).flat(),
      );
    saveAdapter(dir, cfg, { rank: 2, alpha: 4, targets: ['q_proj'], tensors: tensors(1) });
    saveAdapter(dir, cfg, { rank: 2, alpha: 4, targets: ['q_proj'], tensors: tensors(2) });
    assert.equal(loadAdapter(dir, cfg).tensors['layers.0.q_proj.lora_A']![0], 2);
    assert.throws(() => saveAdapter(dir, cfg, { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'], tensors: tensors(3) }), /missing or the wrong size/);
    assert.equal(loadAdapter(dir, cfg).tensors['layers.0.q_proj.lora_A']![0], 2);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temporary folders left');
  });

  test('a save interrupted between its renames is recovered on the next load', () => {
    const dir = path.join(tmp, 'interrupted');
    const adapter = (v: number) => ({
      rank: 1,
      alpha: 1,
      targets: ['v_proj' as const],
      tensors: Object.fromEntries(
        Array.from({ length: cfg.numLayers }, (_, i) => [
          [`layers.${i}.v_proj.lora_A`, new Float32Array(cfg.hiddenSize).fill(v)],
          [`layers.${i}.v_proj.lora_B`, new Float32Array(cfg.numKvHeads * cfg.headDim).fill(v)],
        ]).flat(),
      ),
    });
    // The state a kill leaves after "rename old away" and before "rename new in": new complete.
    saveAdapter(dir, cfg, adapter(1));
    saveAdapter(path.join(tmp, 'staged'), cfg, adapter(2));
    fs.renameSync(dir, path.join(tmp, '.interrupted.tmp-kill.old'));
    fs.renameSync(path.join(tmp, 'staged'), path.join(tmp, '.interrupted.tmp-kill'));
    assert.equal(loadAdapter(dir, cfg).tensors['layers.0.v_proj.lora_A']![0], 2);
    // And when the new one was incomplete, the previous adapter comes back.
    fs.renameSync(dir, path.join(tmp, '.interrupted.tmp-kill2.old'));
    fs.mkdirSync(path.join(tmp, '.interrupted.tmp-kill2'));
    assert.equal(loadAdapter(dir, cfg).tensors['layers.0.v_proj.lora_A']![0], 2);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('.interrupted')), []);
  });
});

describe('full-parameter training with tied embeddings (qwen2-tied-bias)', () => {
  test('the loss falls and the shared embedding matrix moves', async () => {
    const { config: cfg, weights } = loadModel(path.join(FIXTURES, 'qwen2-tied-bias'));
    const train = buildLlamaTrainStep(cfg, weights, { seqLen: 11, batch: 1 });
    assert.ok('model.embed_tokens.weight' in train.params && !('lm_head.weight' in train.params));
    const runner = new TrainStepRunner((await createSession(train.model, 'cpu')).session, train.spec, train.params);
    const text = [3, 9, 27, 17, 51, 25, 11, 33, 35, 41, 59, 13];
    const losses: number[] = [];
    for (let i = 0; i < 25; i++) losses.push((await runner.step(batch(text), 3e-3)).loss);
    assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `losses ${losses[0]} → ${losses.at(-1)}`);
    const before = weights.embed.data;
    const after_ = runner.get('model.embed_tokens.weight');
    assert.ok(after_.some((v, i) => v !== before[i]));
  });
});

describe('broken model folders', () => {
  const src = path.join(FIXTURES, 'llama3-rope-scaling');
  const copy = (name: string, edit: (dir: string) => void): string => {
    const dir = path.join(tmp, name);
    fs.cpSync(src, dir, { recursive: true });
    edit(dir);
    return dir;
  };
  const file = (dir: string) => path.join(dir, 'model.safetensors');
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['unsupported model_type', (d) => fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')), model_type: 'gpt2' })), /config.json: model_type "gpt2" is not supported/],
    ['missing config.json', (d) => fs.rmSync(path.join(d, 'config.json')), /config.json is missing or unreadable/],
    ['no weights', (d) => fs.rmSync(file(d)), /no model.safetensors or model.safetensors.index.json/],
    ['header length past the end', (d) => { const b = fs.readFileSync(file(d)); b.writeBigUInt64LE(BigInt(b.length), 0); fs.writeFileSync(file(d), b); }, /model.safetensors: header length \d+ runs past the end of the file/],
    ['huge header length', (d) => { const b = fs.readFileSync(file(d)); b.writeBigUInt64LE(2n ** 60n, 0); fs.writeFileSync(file(d), b); }, /exceeds the \d+-byte limit/],
    ['header not JSON', (d) => { const b = fs.readFileSync(file(d)); b.write('#', 8); fs.writeFileSync(file(d), b); }, /model.safetensors: header is not valid JSON/],
    ['truncated data', (d) => { const b = fs.readFileSync(file(d)); fs.writeFileSync(file(d), b.subarray(0, b.length - 100)); }, /model.safetensors: tensor ".*": data ends at byte \d+, past the end of the file .*truncated/],
    ['shape against config', (d) => { const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')); fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...c, intermediate_size: 30 })); }, /model.safetensors: tensor "model.layers.0.mlp.gate_proj.weight" has shape \[24, 16\], but config.json implies \[30, 16\]/],
  ];
  for (const [name, edit, message] of cases) {
    test(name, () => assert.throws(() => loadModel(copy(name.replace(/\W+/g, '-'), edit)), (e: unknown) => e instanceof ModelLoadError && message.test((e as Error).message)));
  }
  test('missing shard', () => {
    const dir = path.join(tmp, 'missing-shard');
    fs.cpSync(path.join(FIXTURES, 'llama-gqa'), dir, { recursive: true });
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    assert.throws(() => loadModel(dir), /shard model-00002-of-00002.safetensors \(listed for .*\) is missing/);
  });
});
