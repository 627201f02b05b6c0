/**
 * Retrieval for answering: files cut into overlapping line windows, ranked by BM25 against the
 * question. Identifiers are split the way code is written (camelCase, snake_case, paths), so
 * "parse config" finds `parseConfig` and `parse_config`.
 */
import type { CorpusFile } from './corpus';

export interface Chunk {
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
}

/** Lower-case terms of text: words, with identifiers split at case changes, underscores and digits. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of text.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []) {
    const parts = word.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/);
    const lower = word.toLowerCase();
    out.push(lower);
    if (parts.length > 1) for (const p of parts) if (p.length > 1) out.push(p.toLowerCase());
  }
  return out;
}

export function chunkFiles(files: readonly CorpusFile[], linesPerChunk = 40, overlap = 10): Chunk[] {
  const chunks: Chunk[] = [];
  for (const f of files) {
    const lines = f.text.split('\n');
    for (let start = 0; start < lines.length; start += linesPerChunk - overlap) {
      const end = Math.min(lines.length, start + linesPerChunk);
      const text = lines.slice(start, end).join('\n');
      if (text.trim()) chunks.push({ path: f.path, startLine: start + 1, endLine: end, text });
      if (end === lines.length) break;
    }
  }
  return chunks;
}

const DEFINITION = /\b(?:function|class|def|interface|type|struct|enum|trait|fn|func|const|let|var|val|module|namespace)\s+([A-Za-z_$][\w$]*)/g;

/** Query terms plus adjacent pairs joined ("parse config" also asks for `parseconfig`). */
function queryTerms(query: string): string[] {
  const words = (query.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []).map((w) => w.toLowerCase());
  const pairs = words.slice(1).map((w, i) => words[i]! + w);
  return [...new Set([...terms(query), ...pairs])];
}

/**
 * BM25 over chunks, with a bonus where a chunk *defines* a name the question asks about, so that
 * "where is parseConfig defined" prefers the definition to the places that import it.
 */
export class Bm25Index {
  private readonly docs: { chunk: Chunk; tf: Map<string, number>; length: number; defines: Set<string> }[];
  private readonly df = new Map<string, number>();
  private readonly avgLength: number;

  constructor(
    chunks: readonly Chunk[],
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {
    this.docs = chunks.map((chunk) => {
      const tf = new Map<string, number>();
      // the path counts as part of the chunk: "what is in server.ts" should find it
      const ts = [...terms(chunk.path), ...terms(chunk.text)];
      for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const t of tf.keys()) this.df.set(t, (this.df.get(t) ?? 0) + 1);
      const defines = new Set([...chunk.text.matchAll(DEFINITION)].map((m) => m[1]!.toLowerCase()));
      return { chunk, tf, length: ts.length, defines };
    });
    this.avgLength = this.docs.reduce((a, d) => a + d.length, 0) / Math.max(1, this.docs.length);
  }

  /** The `k` best chunks with a positive score, best first. */
  search(query: string, k: number): { chunk: Chunk; score: number }[] {
    const q = queryTerms(query);
    const n = this.docs.length;
    const scored = this.docs.map((d) => {
      let score = 0;
      for (const t of q) {
        const f = d.tf.get(t);
        if (!f) continue;
        const df = this.df.get(t)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * d.length) / this.avgLength));
        if (d.defines.has(t)) score += 2 * idf;
      }
      return { chunk: d.chunk, score };
    });
    return scored.filter((s) => s.score > 0).sort((a, b) => b.score - a.score).slice(0, k);
  }
}
