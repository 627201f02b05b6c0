/**
 * Training a byte-level BPE tokenizer (GPT-2's scheme, as Hugging Face's `tokenizers` applies
 * it): text is split by the ByteLevel pre-tokenizer's regex, each piece becomes its bytes (as
 * GPT-2's printable characters), and the most frequent adjacent pair is merged, again and again.
 * The result is a list of merges for `byteLevelTokenizerJson`.
 */
import { bytesToUnicode } from '../model/bytelevel';

/** The ByteLevel pre-tokenizer's split (GPT-2's pattern). */
export const BYTE_LEVEL_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Counts the pre-tokenized pieces of texts (as GPT-2 characters), for `trainBpe`. */
export class PieceCounter {
  readonly counts = new Map<string, number>();
  private readonly chars = bytesToUnicode();
  private readonly encoder = new TextEncoder();

  add(text: string): void {
    for (const m of text.matchAll(BYTE_LEVEL_SPLIT)) {
      let piece = '';
      for (const b of this.encoder.encode(m[0])) piece += this.chars[b];
      this.counts.set(piece, (this.counts.get(piece) ?? 0) + 1);
    }
  }
}

/**
 * `merges` merges learned from piece counts: each round merges the most frequent pair (ties:
 * the smaller pair as a string, so the result is deterministic), updating only the pieces that
 * hold it; a max-heap with stale entries skipped finds the pair.
 * Pieces longer than `maxPieceChars` are skipped (long runs of symbols or spaces add nothing).
 */
export function trainBpe(counts: ReadonlyMap<string, number>, merges: number, o: { minFrequency?: number; maxPieceChars?: number; onProgress?: (done: number) => void } = {}): [string, string][] {
  const minFrequency = o.minFrequency ?? 2;
  const words: string[][] = [];
  const freq: number[] = [];
  for (const [piece, n] of counts) {
    const chars = [...piece];
    if (chars.length < 2 || chars.length > (o.maxPieceChars ?? 64)) continue;
    words.push(chars);
    freq.push(n);
  }
  // pair → count, and pair → the words holding it
  const pairCount = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  const SEP = '\u0000';
  const heap = new PairHeap();
  const touched = new Set<string>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const sym = words[w]!;
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i] + SEP + sym[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[w]!);
      touched.add(key);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) where.set(key, (s = new Set()));
        s.add(w);
      }
    }
  };
  const flush = (): void => {
    for (const key of touched) {
      const n = pairCount.get(key) ?? 0;
      if (n <= 0) pairCount.delete(key);
      else heap.push(n, key);
    }
    touched.clear();
  };
  words.forEach((_, w) => addPairs(w, 1));
  flush();
  const out: [string, string][] = [];
  while (out.length < merges) {
    let best: string | undefined;
    while (heap.size) {
      const [n, key] = heap.pop();
      if (pairCount.get(key) === n) {
        best = key;
        break;
      }
    }
    if (best === undefined || pairCount.get(best)! < minFrequency) break;
    const [a, b] = best.split(SEP) as [string, string];
    const merged = a + b;
    for (const w of where.get(best) ?? []) {
      const sym = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < sym.length; i++) if (sym[i] === a && sym[i + 1] === b) has = true;
      if (!has) continue;
      addPairs(w, -1);
      const next: string[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(sym[i]!);
      }
      words[w] = next;
      addPairs(w, 1);
    }
    pairCount.delete(best);
    where.delete(best);
    touched.delete(best);
    flush();
    out.push([a, b]);
    o.onProgress?.(out.length);
  }
  return out;
}

/** A max-heap of (count, pair); ties go to the smaller pair string. */
class PairHeap {
  private readonly items: [number, string][] = [];

  get size(): number {
    return this.items.length;
  }

  private above(i: number, j: number): boolean {
    const [ci, ki] = this.items[i]!;
    const [cj, kj] = this.items[j]!;
    return ci > cj || (ci === cj && ki < kj);
  }

  private swap(i: number, j: number): void {
    [this.items[i], this.items[j]] = [this.items[j]!, this.items[i]!];
  }

  push(count: number, key: string): void {
    this.items.push([count, key]);
    for (let i = this.items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, string] {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    if (this.items.length) {
      this.items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.above(l, m)) m = l;
        if (r < this.items.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
