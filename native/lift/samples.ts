/**
 * LIFT training samples (../shared/LIFT.md §2–3): overlapping segments of the long input
 * (length ℓ, stride 3ℓ/8), each behind a contextualized prefix — head and tail of the whole
 * input, split at random once per sample — and a recite prompt; the loss covers the segment
 * tokens only.
 */

export interface Sample {
  /** Model input (the sample without its last token). */
  input: number[];
  /** The next token at each position. */
  labels: number[];
  /** 1 where the label is a token the sample teaches (a segment or an answer token). */
  mask: number[];
}

/** Starts st = 0, s, 2s, … with s = ⌊3ℓ/8⌋, until a segment reaches the end of the input. */
export function segmentStarts(n: number, length: number): number[] {
  if (length <= 0) throw new RangeError('segment length must be positive');
  const stride = Math.max(1, Math.floor((3 * length) / 8));
  const starts: number[] = [];
  for (let st = 0; ; st += stride) {
    starts.push(st);
    if (st + length >= n) return starts;
  }
}

/** Builds one sample from a context part (no loss) followed by a target part (loss). */
export function makeSample(context: readonly number[], target: readonly number[]): Sample {
  const all = [...context, ...target];
  const mask = all.slice(1).map((_, i) => (i + 1 >= context.length ? 1 : 0));
  return { input: all.slice(0, -1), labels: all.slice(1), mask };
}

export interface SegmentSampleOptions {
  /** Segment length ℓ. */
  length: number;
  /** Tokens of head + tail context before each segment (0: plain segments). */
  prefixBudget: number;
  /** Tokens of "…" between head and tail, and of the recite prompt. */
  ellipsis: readonly number[];
  prompt: readonly number[];
  /** Uniform numbers in [0, 1) for the head/tail split (seeded by the caller). */
  random: () => number;
}

/** One contextualized sample per segment: front ⊕ … ⊕ back ⊕ prompt ⊕ segment. */
export function segmentSamples(ids: readonly number[], o: SegmentSampleOptions): Sample[] {
  return segmentStarts(ids.length, o.length).map((st) => {
    const segment = ids.slice(st, st + o.length);
    if (o.prefixBudget <= 0) return makeSample([], segment);
    const budget = Math.min(o.prefixBudget, ids.length);
    const front = Math.floor(o.random() * (budget + 1));
    const back = budget - front;
    const context = [...ids.slice(0, front), ...o.ellipsis, ...ids.slice(ids.length - back), ...o.prompt];
    return makeSample(context, segment);
  });
}

/** A question-answer sample: the loss is on the answer tokens. */
export function qaSample(question: readonly number[], answer: readonly number[]): Sample {
  return makeSample(question, answer);
}

/**
 * Packs samples into rows of at most `rowTokens` positions, several short samples to a row (the
 * training graph keeps them apart: packedMask), so that training computes no padding. First fit
 * in the order given (the caller's shuffle): each sample goes into the first row with room for
 * it and fewer than `maxSamples` samples, else starts a new row. A sample is never split; one
 * longer than `rowTokens` gets a row of its own. Returns the rows as indices into `lengths`, in
 * the order the rows were opened; the same input gives the same rows.
 */
export function packRows(lengths: readonly number[], o: { rowTokens: number; maxSamples?: number }): number[][] {
  if (!(o.rowTokens >= 1)) throw new RangeError('rows must hold at least one position');
  const maxSamples = o.maxSamples ?? Infinity;
  const rows: { items: number[]; used: number }[] = [];
  // rows that may still take a sample, in the order they were opened (full ones drop out)
  let open: { items: number[]; used: number }[] = [];
  let shortest = Infinity;
  for (const n of lengths) shortest = Math.min(shortest, n);
  lengths.forEach((n, i) => {
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`sample ${i} has ${n} positions`);
    let row = open.find((r) => r.used + n <= o.rowTokens && r.items.length < maxSamples);
    if (!row) {
      row = { items: [], used: 0 };
      rows.push(row);
      open.push(row);
    }
    row.items.push(i);
    row.used += n;
    if (row.items.length >= maxSamples || row.used + shortest > o.rowTokens) open = open.filter((r) => r !== row);
  });
  return rows.map((r) => r.items);
}
