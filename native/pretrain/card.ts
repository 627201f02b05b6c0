/** The default model's card (its README.md), written from what training and evaluation recorded. */
import type { PackageUse } from './data';
import type { KnowledgeResult } from './evaluate';

export interface TrainingRecord {
  recipe: {
    seed: number;
    merges: number;
    model: { hidden: number; layers: number; heads: number; intermediate: number; maxPositions: number };
    lm: { steps: number; batch: number; seqLen: number; lr: number };
    lift: { steps: number; batch: number; lr: number; packages: number; specs?: number };
  };
  parameters: number;
  packages: PackageUse[];
  tokens: { lm: number; heldOut: number };
  stages: Record<'lm' | 'lift', { losses: [number, number][]; heldOut: number[]; minutes: number }>;
  knowledge?: KnowledgeResult & { learn: Record<string, unknown> };
  /** What the record alone does not say (e.g. how this particular run deviated from the recipe). */
  notes?: string[];
}

const pct = (a: number, b: number): string => `${a}/${b} (${b ? Math.round((100 * a) / b) : 0}%)`;

export function modelCard(t: TrainingRecord): string {
  const r = t.recipe;
  const licences = new Map<string, number>();
  for (const p of t.packages.filter((p) => !p.heldOut)) licences.set(p.license, (licences.get(p.license) ?? 0) + 1);
  const lm = t.stages.lm;
  const lift = t.stages.lift;
  const first = (xs: [number, number][]): string => xs[0]?.[1].toFixed(2) ?? '?';
  const last = (xs: [number, number][]): string => xs.at(-1)?.[1].toFixed(2) ?? '?';
  const k = t.knowledge;
  return `---
license: mit
library_name: lift-vscode
tags: [llama, code, tiny, lift]
---

# LIFT default model (${(t.parameters / 1e6).toFixed(1)}M parameters)

A tiny Llama-architecture code model that LIFT for VS Code trains itself, from scratch, with
its own ONNX Runtime training engine, so that the extension works without downloading a model.
It is **not** a capable language model: it knows some of the shape of JavaScript, TypeScript
and Markdown, and it has been taught the format in which LIFT asks and answers. Its purpose is
to learn *your* document or repository with LIFT and then recall what it learned. For real
answers, point \`lift.model\` at a real model folder (for example Qwen2.5-Coder).

## Architecture
Llama (RMSNorm, rotary positions, SwiGLU, tied input/output embeddings): ${r.model.layers} layers,
hidden size ${r.model.hidden}, ${r.model.heads} heads, MLP ${r.model.intermediate}, context ${r.model.maxPositions} tokens;
${t.parameters.toLocaleString('en')} parameters, stored in float16 (\`model.safetensors\`). Tokenizer: byte-level BPE
with ${r.merges} merges learned from the training data, 4096 tokens with \`<|endoftext|>\`,
\`<|im_start|>\` and \`<|im_end|>\` (\`tokenizer.json\`, loads in Hugging Face \`tokenizers\`).

## Training data
The sources and READMEs of the permissively licensed npm packages installed by this project's
\`npm install\` (versions pinned by its package-lock.json): ${t.packages.filter((p) => !p.heldOut).length} packages for training,
${t.packages.filter((p) => p.heldOut).length} held out to measure the loss on code the model never saw. Licences of the training
packages: ${[...licences].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} (${n})`).join(', ')}. Every package, version and licence is listed
in \`training.json\`. Minified and generated files are skipped; secret-looking strings are redacted.
${(t.tokens.lm / 1e6).toFixed(2)}M training tokens, ${(t.tokens.heldOut / 1e6).toFixed(2)}M held-out tokens.

## Training
Full-parameter AdamW (β = 0.9, 0.98; gradient clipping 1; warm-up then cosine decay), on 2 CPU
cores with ONNX Runtime, in two stages:

| Stage | What | Steps × batch × tokens | Peak lr | Training loss | Held-out loss | Time |
|---|---|---|---|---|---|---|
| 1. Language modelling | code and prose, windows of ${r.lm.seqLen} tokens | ${r.lm.steps} × ${r.lm.batch} × ${r.lm.seqLen} | ${r.lm.lr} | ${first(lm.losses)} → ${last(lm.losses)} | ${lm.heldOut.map((x) => x.toFixed(2)).join(' → ')} | ${lm.minutes.toFixed(0)} min |
| 2. Pre-LIFT | LIFT samples of ${r.lift.packages} packages${r.lift.specs ? ` and ${r.lift.specs} generated multi-fact specifications` : ''} exactly as \`learn\` builds them: contextualized segments, fact questions in several shapes answered value first, and the other synthetic QA | ${r.lift.steps} × ${r.lift.batch} × ≤ ${r.model.maxPositions} | ${r.lift.lr} | ${first(lift.losses)} → ${last(lift.losses)} | ${lift.heldOut.map((x) => x.toFixed(2)).join(' → ')} | ${lift.minutes.toFixed(0)} min |

Losses are mean cross-entropy per token (nats); held-out loss is on ${t.packages.filter((p) => p.heldOut).length} packages never trained on,
measured every 300 steps. The loss curves are in \`training.json\`.${t.notes?.length ? `\n\n${t.notes.map((n) => `- ${n}`).join('\n')}` : ''}

## Does LIFT teach it a new document?
${
  k
    ? `The demo's specification (\`${k.document}\`, ${k.tokens} tokens, ${k.facts} facts in five paragraphs), which the model never saw, is
learned with LIFT (${Object.entries(k.learn).map(([a, b]) => `${a} ${Array.isArray(b) ? b.join('/') : String(b)}`).join(', ')}; ${k.steps} steps, ${Math.round(k.seconds)} s on 2 cores).
Then questions written by hand, in phrasings the QA generator never produces, are asked with no
file in the prompt, so only the weights can answer. *Direct*: the answer's first sentence states the value.

| | Before learning | After learning |
|---|---|---|
| direct | ${pct(k.before.direct, k.asked)} | ${pct(k.after.direct, k.asked)} |
| contains the value | ${pct(k.before.contains, k.asked)} | ${pct(k.after.contains, k.asked)} |
${k.selfCheck ? `| self-check (generator-shaped questions kept out of training) | | ${pct(k.selfCheck.direct, k.selfCheck.asked)} |\n` : ''}
Examples after learning:

${k.examples.map((e) => `- *${e.question}* → "${e.answer.replace(/\s+/g, ' ').slice(0, 90)}" (expected ${e.expect})`).join('\n')}

The larger evaluation (a 20-component spec, a guide in paragraphs and a code package, questions
written independently of the generator) is \`npm run bench -- quality\`; the project README reports it.`
    : 'Not measured yet.'
}

## Limits
- Tiny and trained on a few million tokens: it does not write useful code or prose.
- Questions that need reasoning across facts, arithmetic or knowledge the document does not
  state are beyond it; so are documents in languages other than English (no fact questions).
- Answers outside what LIFT taught it are not knowledge: the model has no world knowledge.
- English and JavaScript/TypeScript-heavy data; other languages are barely represented.
- Context of ${r.model.maxPositions} tokens.

## Reproduce
\`npm install && npm run pretrain-default\` (resumable: run it again after a stop; \`--minutes N\`
stops a stage cleanly after N minutes). It writes this folder. Seed ${r.seed}.
`;
}
