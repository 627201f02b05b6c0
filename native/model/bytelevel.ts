/**
 * A byte-level BPE `tokenizer.json` (GPT-2's byte ↔ character mapping, Hugging Face's format)
 * from a list of merges: 256 byte tokens, one token per merge, then the special tokens. With no
 * merges it is a plain byte tokenizer, which any text round-trips through.
 */

/** GPT-2's reversible map from bytes to printable characters. */
export function bytesToUnicode(): string[] {
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + extra++));
  return out;
}

export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

export function byteLevelTokenizerJson(merges: readonly [string, string][] = [], special: readonly string[] = DEFAULT_SPECIAL_TOKENS): object {
  // a Map, not an object: "toString", "constructor" or "__proto__" are tokens like any other
  const vocab = new Map<string, number>();
  bytesToUnicode().forEach((ch, i) => vocab.set(ch, i));
  for (const [a, b] of merges) {
    const merged = a + b;
    if (!vocab.has(a) || !vocab.has(b)) throw new Error(`merge ${a} + ${b}: a part is not in the vocabulary`);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
  }
  const base = vocab.size;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
}
