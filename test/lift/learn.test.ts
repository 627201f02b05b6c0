/**
 * LIFT learning end to end on a seeded small model with a byte-level tokenizer: a document
 * several times longer than the sample window is learnt into a LoRA adapter; afterwards the
 * model recites segments it could not recite before. Progress and cancellation are checked, and
 * a cancelled run leaves the previous adapter as it was. Packing: the feeds of packed rows, the
 * plan of steps (every sample once an epoch, no padding), short samples sharing rows.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { buildLongInput } from '../../native/lift/input';
import { LearnCancelled, learningRate, learnToFolder, type LearnProgress, MAX_SAMPLES_PER_ROW, packedFeeds, planSteps } from '../../native/lift/learn';
import { qaSample, type Sample, segmentSamples, segmentStarts } from '../../native/lift/samples';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { randomWeights, smallConfig } from '../../native/model/init';
import { buildLlamaGenerate, initialMemory, memoryName } from '../../native/model/llama';
import { loadAdapter } from '../../native/model/peft';
import { TextTokenizer } from '../../native/model/tokenizer';
import { Generator } from '../../native/runtime/generate';
import { createSession } from '../../native/runtime/session';
import { rng } from '../engine/gradcheck';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-learn-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tok = TextTokenizer.fromJson(byteLevelTokenizerJson());
const cfg = smallConfig({ hidden: 128, layers: 2, heads: 4, intermediate: 256, vocab: 259, maxPositions: 256 });
// A wider init than pretraining uses: the frozen random head must leave the logits room to move.
const weights = randomWeights(cfg, 3, 0.2);
const DOC = [
  'The Falcon service listens on port 7431 and stores its queue in /var/lib/falcon/queue.',
  'Retries back off from 250 ms to 8 s; after 12 failures a job moves to the dead-letter table.',
  'The owner of the billing module is Ada Okafor; invoices are signed with key id K-9921.',
  'Exports run nightly at 02:40 UTC and write parquet files under s3://exports/falcon/.',
  'The maximum payload is 4 MiB; larger bodies get HTTP 413 with error code FAL-013.',
].join('\n');
const L = 64;
const ellipsis = tok.encodeText(' ... ');
const prompt = tok.encodeText('\nRecite:\n');
const input = buildLongInput([{ root: tmp, path: 'spec.md', file: path.join(tmp, 'spec.md'), text: DOC, bytes: DOC.length }], tok);
const samples = segmentSamples(input.ids, { length: L, prefixBudget: 24, ellipsis, prompt, random: rng(11) });
const lora = { rank: 32, alpha: 64, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const };

/** How many segments the model continues correctly (the next 8 tokens) from its sample's prefix plus the segment's first 8. */
async function recited(generator: Generator): Promise<number> {
  let ok = 0;
  for (const s of samples) {
    const all = [s.input[0]!, ...s.labels];
    const segStart = all.length - s.mask.reduce((a, b) => a + b, 0);
    if (all.length - segStart < 16) continue;
    const out = await generator.generate(all.slice(0, segStart + 8), { maxTokens: 8 });
    if (out.tokens.join() === all.slice(segStart + 8, segStart + 16).join()) ok++;
  }
  return ok;
}

/** How many of the segments' tokens 8–15 the model predicts from everything before them. */
async function nextTokens(generator: Generator): Promise<{ right: number; of: number }> {
  let right = 0;
  let of = 0;
  for (const s of samples) {
    const all = [s.input[0]!, ...s.labels];
    const segStart = all.length - s.mask.reduce((a, b) => a + b, 0);
    for (let k = segStart + 8; k < Math.min(all.length, segStart + 16); k++) {
      const { logits } = await generator.step(all.slice(0, k), 0);
      right += Number(logits.indexOf(Math.max(...logits)) === all[k]);
      of++;
    }
  }
  return { right, of };
}

describe('learning a document', () => {
  test('the input is several times the sample window; the adapter makes the model recite it', async () => {
    assert.ok(input.ids.length > 5 * L, `${input.ids.length} tokens`);
    const gen = buildLlamaGenerate(cfg, weights);
    const generator = new Generator((await createSession(gen.model, 'cpu')).session, cfg, gen.loraTargets);
    const before = await recited(generator);

    const progress: LearnProgress[] = [];
    const dir = path.join(tmp, 'adapter');
    const { losses } = await learnToFolder(cfg, weights, [{ samples, epochs: 40 }], dir, { lora: { ...lora, targets: [...lora.targets] }, lr: 2e-3, seed: 5, threads: 1, onProgress: (p) => progress.push(p) });
    const epochMean = (e: number) => losses.slice(e * samples.length, (e + 1) * samples.length).reduce((a, b) => a + b, 0) / samples.length;
    assert.ok(epochMean(39) < 0.1 * epochMean(0), `mean loss epoch 1 ${epochMean(0)}, epoch 40 ${epochMean(39)}`);

    generator.setAdapter(loadAdapter(dir, cfg));
    const after_ = await recited(generator);
    const eligible = samples.filter((s) => s.mask.reduce((a, b) => a + b, 0) >= 16).length;
    assert.equal(before, 0, 'the base model recites nothing');
    // A random-init 2-layer model with a byte vocabulary memorizes slowly: 11 of 18 here (seeded,
    // one thread). Question answering from learnt facts needs the QA samples and a pretrained
    // model (later issues); this checks that the weights now hold the text.
    assert.ok(after_ >= 0.5 * eligible, `recited ${after_} of ${eligible} segments`);

    assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['build', 'train', 'save']);
    const train = progress.filter((p) => p.phase === 'train');
    assert.deepEqual(train.map((p) => p.step), Array.from({ length: samples.length * 40 }, (_, i) => i + 1));
    assert.ok(train.every((p) => p.totalSteps === samples.length * 40 && p.tokensPerSecond! > 0));
    assert.equal(train.at(-1)!.etaSeconds, 0);
  });

  test('cancelling mid-training stops within a step and leaves the previous adapter intact', async () => {
    const dir = path.join(tmp, 'adapter');
    const beforeBytes = fs.readFileSync(path.join(dir, 'adapter_model.safetensors'));
    let steps = 0;
    await assert.rejects(
      learnToFolder(cfg, weights, [{ samples, epochs: 3 }], dir, {
        lora: { ...lora, targets: [...lora.targets] },
        lr: 2e-3,
        seed: 9,
        onProgress: (p) => void (p.phase === 'train' && steps++),
        isCancelled: () => steps >= 5,
      }),
      LearnCancelled,
    );
    assert.equal(steps, 5);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'adapter_model.safetensors')), beforeBytes);
    assert.ok(loadAdapter(dir, cfg));
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')), []);
  });
});

/** Short question-answer samples about the document's lines (a few fit in a row of the segments' length). */
const qa: Sample[] = DOC.split('\n').flatMap((line) => {
  const words = line.split(' ');
  return [3, 6].map((k) => qaSample(tok.encodeText(`Q: ${words.slice(0, k).join(' ')}?\nA:`), tok.encodeText(` ${words.slice(k, k + 4).join(' ')}`)));
});

test('learning with activation recomputation gives the same adapter and losses as without, on packed rows', async () => {
  const stages = [{ samples: [...samples.slice(0, 2), ...qa.slice(0, 6)], epochs: 2 }];
  const run = async (recompute: boolean) => learnToFolder(cfg, weights, stages, path.join(tmp, `recompute-${recompute}`), { lora: { ...lora, targets: [...lora.targets] }, lr: 2e-3, seed: 5, threads: 1, recompute });
  const [a, b] = [await run(false), await run(true)];
  const steps = planSteps(stages, { seed: 5 }).steps.length;
  assert.ok(steps < 2 * 8, `${steps} steps for 16 samples: some rows hold several`);
  assert.equal(b.losses.length, steps);
  b.losses.forEach((l, i) => assert.ok(Math.abs(l - a.losses[i]!) <= 1e-4 * a.losses[i]!, `step ${i}: ${l} vs ${a.losses[i]}`));
  for (const [k, v] of Object.entries(a.adapter.tensors)) {
    const w = b.adapter.tensors[k]!;
    const diff = Math.sqrt(v.reduce((acc, x, i) => acc + (x - w[i]!) ** 2, 0) / Math.max(1e-30, v.reduce((acc, x) => acc + x * x, 0)));
    assert.ok(diff < 1e-3, `${k}: relative L2 difference ${diff}`);
  }
  assert.deepEqual(loadAdapter(path.join(tmp, 'recompute-true'), cfg).targets, [...lora.targets], 'saved in the same PEFT layout');
});

test('batches: a step per group of rows (the last one smaller), and it learns', async () => {
  const progress: LearnProgress[] = [];
  const { losses } = await learnToFolder(cfg, weights, [{ samples, epochs: 12 }], path.join(tmp, 'batched'), { lora: { ...lora, targets: [...lora.targets] }, lr: 2e-3, seed: 5, threads: 1, batch: 4, onProgress: (p) => progress.push(p) });
  const plan = planSteps([{ samples, epochs: 12 }], { seed: 5, batch: 4 });
  assert.ok(plan.steps.every((rows) => rows.length <= 4) && plan.steps.some((rows) => rows.length < 4), 'up to 4 rows a step, the last of an epoch fewer');
  assert.equal(losses.length, plan.steps.length);
  const train = progress.filter((p) => p.phase === 'train');
  assert.deepEqual(train.map((p) => p.totalSteps), Array(plan.steps.length).fill(plan.steps.length));
  const perEpoch = plan.steps.length / 12;
  assert.ok(Number.isInteger(perEpoch), 'the same rows every epoch: segments of one length do not share rows');
  const mean = (e: number): number => losses.slice(e * perEpoch, (e + 1) * perEpoch).reduce((a, b) => a + b, 0) / perEpoch;
  assert.ok(mean(11) < 0.5 * mean(0), `mean loss epoch 1 ${mean(0)}, epoch 12 ${mean(11)}`);
  await assert.rejects(learnToFolder(cfg, weights, [{ samples, epochs: 1 }], path.join(tmp, 'batched-rc'), { lora: { ...lora, targets: [...lora.targets] }, lr: 2e-3, seed: 5, batch: 2, recompute: true }), /one row per step/);
});

describe('packing', () => {
  test('packed feeds: samples one after another, positions from 0 for each, segments 1, 2, …, padding masked in segment 0', () => {
    const a = { input: [5, 6, 7], labels: [6, 7, 8], mask: [0, 1, 1] };
    const b = { input: [9, 10], labels: [10, 11], mask: [1, 1] };
    const c = { input: [12, 13, 14, 15], labels: [13, 14, 15, 16], mask: [0, 0, 1, 1] };
    const f = packedFeeds([[a, b], [c]], 6, { count: 3, weighting: 'token' });
    const ints = (name: keyof typeof f): number[] => Array.from(f[name].data as BigInt64Array, Number);
    assert.deepEqual(f.input_ids.dims, [3, 6]);
    assert.deepEqual(ints('input_ids'), [5, 6, 7, 9, 10, 0, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ints('labels'), [6, 7, 8, 10, 11, 0, 13, 14, 15, 16, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ints('position_ids'), [0, 1, 2, 0, 1, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ints('segment_ids'), [1, 1, 1, 2, 2, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(f.loss_mask.data as Float32Array), [0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const w = packedFeeds([[a, b], [c]], undefined, { weighting: 'sample' });
    assert.deepEqual(w.input_ids.dims, [2, 5], 'as long as the longest row, as many rows as given');
    assert.deepEqual(Array.from(w.loss_mask.data as Float32Array), [0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0.5, 0.5, 0], 'each sample weighs 1 in all');
    assert.throws(() => packedFeeds([[a, b, c]], 8), RangeError);
  });

  test('the plan: every sample once an epoch, rows never over the limit, no padding with one row a step, the same plan for the same seed', () => {
    const all = [...samples, ...qa];
    const stages = [{ samples, epochs: 2 }, { samples: all, epochs: 3 }];
    const plan = planSteps(stages, { seed: 9 });
    const longest = Math.max(...all.map((s) => s.input.length));
    assert.equal(plan.longest, longest);
    let step = 0;
    for (const st of stages) {
      for (let e = 0; e < st.epochs; e++) {
        const seen: Sample[] = [];
        while (seen.length < st.samples.length) for (const row of plan.steps[step++]!) {
          assert.ok(row.reduce((a, s) => a + s.input.length, 0) <= longest);
          seen.push(...row);
        }
        assert.equal(seen.length, st.samples.length, 'an epoch ends with a step');
        assert.deepEqual(new Set(seen), new Set(st.samples), 'each sample once');
      }
    }
    assert.equal(step, plan.steps.length);
    assert.equal(plan.positions, plan.tokens, 'one row a step: no padding');
    assert.ok(plan.steps.length < plan.samples, `${plan.steps.length} steps for ${plan.samples} samples`);
    assert.ok(plan.paddedPositions > plan.tokens);
    assert.deepEqual(planSteps(stages, { seed: 9 }), plan);
    assert.notDeepEqual(planSteps(stages, { seed: 10 }).steps, plan.steps);
    const tiny = Array.from({ length: 20 }, (_, i) => ({ input: [i, i], labels: [i, i], mask: [1, 1] }));
    const capped = planSteps([{ samples: [...tiny, samples[0]!], epochs: 1 }], { seed: 1 });
    assert.ok(capped.steps.every((rows) => rows[0]!.length <= MAX_SAMPLES_PER_ROW), `at most ${MAX_SAMPLES_PER_ROW} samples a row by default, however short`);
    assert.ok(capped.steps.length >= Math.ceil(21 / MAX_SAMPLES_PER_ROW), `${capped.steps.length} rows for 21 samples`);
    const two = planSteps(stages, { seed: 9, batch: 2, maxSamples: 2 });
    assert.ok(two.steps.every((rows) => rows.length <= 2 && rows.every((r) => r.length <= 2)));
    assert.ok(two.positions >= two.tokens);
  });
});

test('segment count for the document', () => {
  assert.equal(samples.length, segmentStarts(input.ids.length, L).length);
});

test('the learning rate warms up linearly, then decays along a cosine to a tenth', () => {
  const total = 1000;
  const rates = Array.from({ length: total }, (_, k) => learningRate(1e-3, k, total));
  assert.ok(Math.abs(rates[0]! - 2e-5) < 1e-12, 'step 0 is 1/50 of the rate (50 warm-up steps: 5% of 1000)');
  assert.ok(Math.abs(rates[49]! - 1e-3) < 1e-12, 'the warm-up ends at the full rate');
  assert.ok(Math.abs(rates[50]! - 1e-3) < 1e-12, 'the decay starts at the full rate');
  for (let k = 51; k < total; k++) assert.ok(rates[k]! <= rates[k - 1]!, `non-increasing after the warm-up (step ${k})`);
  assert.ok(Math.abs(learningRate(1e-3, total, total) - 1e-4) < 1e-12, 'it ends at a tenth');
  assert.equal(learningRate(1e-3, 0, 100_000), 1e-3 / 100, 'the warm-up is at most 100 steps');
  assert.equal(learningRate(2e-3, 0, 1), 2e-3, 'a one-step run uses the full rate');
});

describe('Gated Memory', () => {
  const memory = { ...lora, targets: [...lora.targets], kind: 'gated-memory' as const };

  test('learns the document, saves in its own layout (not PEFT), answers with its gates, and refuses to continue as LoRA', async () => {
    const dir = path.join(tmp, 'memory');
    const epochs = 16;
    const { losses, adapter } = await learnToFolder(cfg, weights, [{ samples, epochs }], dir, { lora: memory, lr: 1e-2, seed: 5, threads: 1 });
    const epochMean = (e: number) => losses.slice(e * samples.length, (e + 1) * samples.length).reduce((a, b) => a + b, 0) / samples.length;
    assert.ok(epochMean(epochs - 1) < 0.5 * epochMean(0), `mean loss epoch 1 ${epochMean(0)}, epoch ${epochs} ${epochMean(epochs - 1)}`);
    assert.deepEqual(Object.keys(adapter.tensors), initialMemory(cfg).map((p) => p.name));

    const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(config.peft_type, 'LIFT_GATED_MEMORY', 'PEFT refuses it rather than misreading it');
    const loaded = loadAdapter(dir, cfg);
    assert.equal(loaded.kind, 'gated-memory');
    for (const [k, v] of Object.entries(adapter.tensors)) assert.deepEqual(loaded.tensors[k], v, k);
    assert.ok(loaded.tensors[memoryName(0, 'W2')]!.some((x) => x !== 0) && loaded.tensors[memoryName(0, 'w')]!.some((x) => x !== 0), 'memory and gate trained');

    const gen = buildLlamaGenerate(cfg, weights, undefined, 'float32', undefined, undefined, true);
    const generator = new Generator((await createSession(gen.model, 'cpu')).session, cfg, gen.loraTargets, true);
    const base = await nextTokens(generator);
    generator.setAdapter(loaded);
    const learned = await nextTokens(generator);
    // attention-only memory on a random 2-layer model learns more slowly than LoRA on every linear layer: it predicts more of the text, not all
    assert.ok(learned.right >= base.right + 0.1 * learned.of, `next tokens right: ${learned.right} of ${learned.of} with the memory, ${base.right} without`);
    const gates = generator.gateAverages()!;
    assert.equal(gates.length, cfg.numLayers);
    assert.ok(gates.every((g) => g > 0 && g < 1), `gates ${gates}`);
    await generator.release();

    await assert.rejects(
      learnToFolder(cfg, weights, [{ samples, epochs: 1 }], path.join(tmp, 'memory-as-lora'), { lora: { ...lora, targets: [...lora.targets] }, initial: loaded, lr: 2e-3, seed: 5 }),
      /current adapter \(Gated Memory\) does not match the settings \(LoRA rank 32/,
    );
  });
});
