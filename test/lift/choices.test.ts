/**
 * The curated model list of "Choose Model": each model's shape gives its published parameter
 * count; whether learning fits follows the memory estimate learning checks; the learn estimate
 * grows with the workspace and stops at the token budget; the speed probe measures something.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../native/model/config';
import { CATALOG, CHARS_PER_TOKEN, learnSeconds, modelChoices } from '../../native/lift/choices';
import { parameterCount } from '../../native/lift/resources';
import { matmulSpeed } from '../../native/runtime/speed';

/** What each model's card on the Hub says (safetensors parameter counts). */
const PUBLISHED: Record<string, number> = {
  'Qwen/Qwen2.5-Coder-0.5B-Instruct': 0.494e9,
  'Qwen/Qwen2.5-Coder-1.5B-Instruct': 1.54e9,
  'Qwen/Qwen2.5-Coder-3B-Instruct': 3.09e9,
  'Qwen/Qwen2.5-Coder-7B-Instruct': 7.62e9,
  'HuggingFaceTB/SmolLM2-360M-Instruct': 362e6,
  'HuggingFaceTB/SmolLM2-1.7B-Instruct': 1.71e9,
  'meta-llama/Llama-3.2-1B-Instruct': 1.24e9,
  'meta-llama/Llama-3.2-3B-Instruct': 3.21e9,
  'deepseek-ai/deepseek-coder-1.3b-instruct': 1.35e9,
};

const GB = 2 ** 30;

test('every curated model parses as its architecture and has its published size within 1%', () => {
  assert.deepEqual(CATALOG.map((m) => m.id).sort(), Object.keys(PUBLISHED).sort());
  for (const m of CATALOG) {
    const n = parameterCount(parseConfig(m.config, m.id));
    assert.ok(Math.abs(n / PUBLISHED[m.id]! - 1) < 0.01, `${m.id}: ${n} parameters, published ${PUBLISHED[m.id]}`);
  }
  const choices = modelChoices({ availableBytes: 64 * GB }, 0);
  for (const c of choices) assert.equal(c.downloadBytes, 2 * c.parameters, `${c.id}: bf16 weights`);
  assert.deepEqual(choices.filter((c) => c.gated).map((c) => c.id), ['meta-llama/Llama-3.2-1B-Instruct', 'meta-llama/Llama-3.2-3B-Instruct']);
});

test('what fits follows the memory at hand, the smallest models first to fit', () => {
  const at = (gb: number): Set<string> => new Set(modelChoices({ availableBytes: gb * GB }, 100_000).filter((c) => c.cpu.fits).map((c) => c.id));
  // the CPU learns in float32: four bytes a weight, plus activations (recomputed where that fits)
  const small = at(8);
  const large = at(128);
  assert.deepEqual([...small].sort(), ['HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-Coder-0.5B-Instruct'], '8 GB fits the small ones');
  assert.equal(at(4).size, 0);
  for (const id of small) assert.ok(large.has(id), `${id} fits in 128 GB too`);
  assert.ok(large.has('Qwen/Qwen2.5-Coder-7B-Instruct'), 'a 7B model learns in 128 GB (with recomputation)');
  const [c] = modelChoices({ availableBytes: 1 * GB }, 0).filter((x) => x.id === 'Qwen/Qwen2.5-Coder-7B-Instruct');
  assert.ok(c && !c.cpu.fits && c.cpu.needBytes > 15 * GB, 'the estimate says how much it would need');
  // no GPU: no GPU figures; a GPU: its own memory decides
  assert.equal(c.gpu, undefined);
  const gpu = modelChoices({ availableBytes: 1 * GB, gpu: { name: 'Test GPU', freeBytes: 80 * GB, flops: 100e12 } }, 100_000).find((x) => x.id === 'Qwen/Qwen2.5-Coder-7B-Instruct')!;
  assert.ok(gpu.gpu?.fits && gpu.gpu.learnSeconds! > 0 && !gpu.cpu.fits);
});

test('the learn estimate grows with the workspace, with the model, and stops at the token budget', () => {
  const machine = { availableBytes: 64 * GB, cpuFlops: 100e9 };
  const time = (chars: number, budget = 200_000): Map<string, number> => new Map(modelChoices(machine, chars, budget).map((c) => [c.id, c.cpu.learnSeconds!]));
  const small = time(50_000);
  const large = time(500_000);
  for (const [id, s] of small) {
    assert.ok(s > 0 && Number.isFinite(s), `${id}: ${s}`);
    const ratio = large.get(id)! / s;
    assert.ok(ratio > 7 && ratio < 10, `${id}: ten times the text, nearly ten times the time (a learn's fixed part aside): ${ratio}`);
  }
  assert.ok(small.get('Qwen/Qwen2.5-Coder-7B-Instruct')! > 10 * small.get('HuggingFaceTB/SmolLM2-360M-Instruct')!);
  const capped = time(10_000_000, 100_000);
  const atBudget = time(100_000 * CHARS_PER_TOKEN, 100_000);
  for (const [id, s] of capped) assert.ok(Math.abs(s / atBudget.get(id)! - 1) < 1e-9, `${id}: learning reads no more than the budget`);
  // a faster machine, a shorter learn; recomputation costs more
  const cfg = parseConfig(CATALOG[0]!.config, CATALOG[0]!.id);
  assert.ok(learnSeconds(cfg, 1e5, 2e11, false) < learnSeconds(cfg, 1e5, 1e11, false));
  assert.ok(learnSeconds(cfg, 1e5, 1e11, true) > learnSeconds(cfg, 1e5, 1e11, false));
  // without a measured speed there is no time to show
  assert.equal(modelChoices({ availableBytes: 64 * GB }, 1000)[0]!.cpu.learnSeconds, undefined);
});

test('the speed probe measures this CPU through ONNX Runtime, once per process', async () => {
  const a = await matmulSpeed('cpu');
  assert.equal(a.provider, 'cpu');
  assert.ok(Number.isFinite(a.flops) && a.flops > 1e8 && a.flops < 1e14, `${a.flops} FLOP/s`);
  assert.equal(await matmulSpeed('cpu'), a);
});
