/**
 * A workspace's retrieval index: chunks sized to the model (retrieve.ts's chunkFile) and their
 * BM25 postings, built once from the collected (redacted) files, kept current file by file, and
 * saved as one file beside the adapter store. It holds no text: a chunk is a file, offsets and
 * lines; its text is read from the file when an answer uses it, and checked against the hash the
 * file was indexed with.
 *
 * Memory: postings live in typed arrays (a compacted base in CSR form plus a small list of
 * postings added since), chunks in typed columns; a file edit marks the old chunks dead and adds
 * new ones, and compaction folds the additions in and drops the dead. Bounded by what collection
 * takes (64 MiB of text, 50,000 files by default).
 *
 * File: "LIFTIDX1", a u32 header length, a JSON header (identity, files, terms, section lengths,
 * sha1 of the sections), then the sections (little-endian typed arrays, 4-byte aligned). Written
 * to a temporary file and renamed; a file that does not check out is rebuilt, never trusted.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CorpusFile } from './corpus';
import { type ChunkSizing, chunkFile, terms } from './retrieve';

const MAGIC = 'LIFTIDX1';
const FORMAT = 1;
/** Terms longer than this (blobs, hashes) are not indexed. */
const MAX_TERM = 48;
const DEFINES = 0x8000;
const DEFINITION = /\b(?:function|class|def|interface|type|struct|enum|trait|fn|func|const|let|var|val|module|namespace)\s+([A-Za-z_$][\w$]*)/g;

/** A growable column of unsigned integers. */
class Column<T extends Uint32Array | Uint16Array | Uint8Array> {
  length = 0;
  constructor(
    public data: T,
    private readonly make: (n: number) => T,
  ) {
    this.length = data.length;
  }
  static u32(data = new Uint32Array(0)): Column<Uint32Array> {
    return new Column(data, (n) => new Uint32Array(n));
  }
  static u16(data = new Uint16Array(0)): Column<Uint16Array> {
    return new Column(data, (n) => new Uint16Array(n));
  }
  static u8(data = new Uint8Array(0)): Column<Uint8Array> {
    return new Column(data, (n) => new Uint8Array(n));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(Math.max(64, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  get(i: number): number {
    return this.data[i]!;
  }
  /** The used part (a view). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export interface IndexIdentity {
  roots: string[];
  include?: string[];
  exclude?: string[];
  /** Tokens per chunk and the tokenizer they were counted with (its file's hash). */
  chunkTokens: number;
  tokenizer: string;
}

/** The key of an index: its identity, hashed (the file name in the store). */
export const indexKey = (id: IndexIdentity): string =>
  createHash('sha256')
    .update(JSON.stringify([FORMAT, id.roots.map((r) => path.resolve(r)), id.include ?? [], id.exclude ?? [], id.chunkTokens, id.tokenizer]))
    .digest('hex')
    .slice(0, 16);

/** A file as indexed: what is needed to read its chunks back and to tell whether it changed. */
export interface IndexedFile {
  path: string;
  /** Absolute location. */
  file: string;
  root: string;
  bytes: number;
  mtimeMs: number;
  /** sha256 (hex, 32 digits) of the text as indexed (after redaction). */
  hash: string;
}

export interface IndexHit {
  file: IndexedFile;
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  score: number;
}

export const hashText = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);

export class IndexFormatError extends Error {
  override name = 'IndexFormatError';
}

/**
 * A light English stem, the same for the text and the query, so that "shifts" finds "shift" and
 * "scheduled" finds "schedule": plural -s/-es/-ies, -ing, -ed and a final -e (numbers, short words
 * and words ending in -ss/-us/-is are kept).
 */
export function stem(t: string): string {
  if (t.length < 4 || !/[a-z]$/.test(t)) return t;
  let s = t;
  if (s.endsWith('ies') && s.length > 4) s = `${s.slice(0, -3)}y`;
  else if (s.endsWith('sses')) s = s.slice(0, -2);
  else if (s.endsWith('s') && !/(ss|us|is)$/.test(s)) s = s.slice(0, -1);
  if (s.endsWith('ing') && s.length > 5) s = s.slice(0, -3);
  else if (s.endsWith('ed') && s.length > 4) s = s.slice(0, -2);
  if (s.endsWith('e') && s.length > 4) s = s.slice(0, -1);
  return s;
}

/** Words a question is made of rather than about (left out of the query unless it has no others). */
export const QUESTION_WORDS = new Set(
  'a an the is are was were be been do does did i me my we our you your it its of in on at to for from by with and or what which who whom whose when where why how can could should would will shall may might must there this that these those if than then so as about into any some much many'.split(' '),
);

/** Query terms plus adjacent pairs joined ("parse config" also asks for `parseconfig`), stemmed. */
function queryTerms(query: string): string[] {
  const words = (query.match(/[A-Za-z][A-Za-z0-9]*|[0-9]+/g) ?? []).map((w) => w.toLowerCase());
  const pairs = words.slice(1).map((w, i) => words[i]! + w).filter((_, i) => !QUESTION_WORDS.has(words[i]!) && !QUESTION_WORDS.has(words[i + 1]!));
  const all = terms(query);
  const content = all.filter((t) => !QUESTION_WORDS.has(t));
  return [...new Set([...(content.length ? content : all), ...pairs].map(stem))];
}

export class SearchIndex {
  // files (by id; a removed file leaves a hole until compaction)
  private files: (IndexedFile | undefined)[] = [];
  private fFirst: number[] = [];
  private fCount: number[] = [];
  private readonly byPath = new Map<string, number>();
  // chunks
  private cFile = Column.u32();
  private cStart = Column.u32();
  private cEnd = Column.u32();
  private cLine = Column.u32();
  private cEndLine = Column.u32();
  private cLen = Column.u32();
  private dead = Column.u8();
  // terms and postings: compacted base (CSR by term) + postings added since
  private readonly termIds = new Map<string, number>();
  private termList: string[] = [];
  private bStart = new Uint32Array(1);
  private bChunk = new Uint32Array(0);
  private bTf = new Uint16Array(0);
  private dTerm = Column.u32();
  private dChunk = Column.u32();
  private dTf = Column.u16();
  private liveChunks = 0;
  private liveLength = 0;
  private textBytes = 0;
  private scores = new Float64Array(0);
  /** Updates run one at a time, in order. */
  private lock: Promise<unknown> = Promise.resolve();
  /** Changed since it was last saved or loaded. */
  dirty = false;

  constructor(
    readonly identity: IndexIdentity,
    readonly sizing: ChunkSizing,
    readonly limits: { maxFiles: number; maxBytes: number } = { maxFiles: 50_000, maxBytes: 64 * 2 ** 20 },
  ) {}

  get key(): string {
    return indexKey(this.identity);
  }

  /** Files, chunks, postings and terms held. */
  get size(): { files: number; chunks: number; postings: number; terms: number; deadChunks: number; pendingPostings: number; textBytes: number } {
    return {
      files: this.byPath.size,
      chunks: this.liveChunks,
      postings: this.bChunk.length + this.dChunk.length,
      terms: this.termIds.size,
      deadChunks: this.cFile.length - this.liveChunks,
      pendingPostings: this.dChunk.length,
      textBytes: this.textBytes,
    };
  }

  has(p: string): boolean {
    return this.byPath.has(p);
  }

  get(p: string): IndexedFile | undefined {
    const id = this.byPath.get(p);
    return id === undefined ? undefined : this.files[id];
  }

  /** Every indexed file. */
  list(): IndexedFile[] {
    return [...this.byPath.values()].map((id) => this.files[id]!);
  }

  /** Runs `fn` after every update before it (updates never interleave). */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private termId(t: string): number {
    let id = this.termIds.get(t);
    if (id === undefined) {
      id = this.termList.length;
      this.termList.push(t);
      this.termIds.set(t, id);
    }
    return id;
  }

  /** Chunks a file (async: tree-sitter) without touching the index; `apply` then puts it in at once. */
  private async prepare(f: CorpusFile & { mtimeMs?: number }, hash: string): Promise<{ file: IndexedFile; chunks: { start: number; end: number; startLine: number; endLine: number; tf: Map<string, number>; length: number; defines: Set<string> }[] }> {
    const spans = await chunkFile(f.path, f.text, this.sizing);
    const pathTerms = terms(f.path);
    const chunks = spans.map((s) => {
      // question words are left out (the query leaves them out too): the longest posting lists saved
      const ts = [...pathTerms, ...(s.heading ? terms(s.heading) : []), ...terms(s.text)].filter((t) => t.length <= MAX_TERM && !QUESTION_WORDS.has(t)).map(stem);
      const tf = new Map<string, number>();
      for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
      const defines = new Set([...s.text.matchAll(DEFINITION)].map((m) => stem(m[1]!.toLowerCase())));
      return { start: s.start, end: s.end, startLine: s.startLine, endLine: s.endLine, tf, length: ts.length, defines };
    });
    const mtimeMs = f.mtimeMs ?? fs.statSync(f.file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    return { file: { path: f.path, file: f.file, root: f.root, bytes: f.bytes, mtimeMs, hash }, chunks };
  }

  private apply({ file, chunks }: Awaited<ReturnType<SearchIndex['prepare']>>): void {
    this.drop(file.path);
    const id = this.files.length;
    this.files.push(file);
    this.fFirst.push(this.cFile.length);
    this.fCount.push(chunks.length);
    this.byPath.set(file.path, id);
    this.textBytes += file.bytes;
    for (const c of chunks) {
      const chunk = this.cFile.length;
      this.cFile.push(id);
      this.cStart.push(c.start);
      this.cEnd.push(c.end);
      this.cLine.push(c.startLine);
      this.cEndLine.push(c.endLine);
      this.cLen.push(c.length);
      this.dead.push(0);
      for (const [t, n] of c.tf) {
        this.dTerm.push(this.termId(t));
        this.dChunk.push(chunk);
        this.dTf.push(Math.min(n, DEFINES - 1) | (c.defines.has(t) ? DEFINES : 0));
      }
      this.liveChunks++;
      this.liveLength += c.length;
    }
    this.dirty = true;
  }

  private drop(p: string): boolean {
    const id = this.byPath.get(p);
    if (id === undefined) return false;
    const first = this.fFirst[id]!;
    for (let c = first; c < first + this.fCount[id]!; c++) {
      if (this.dead.data[c]) continue;
      this.dead.data[c] = 1;
      this.liveChunks--;
      this.liveLength -= this.cLen.get(c);
    }
    this.textBytes -= this.files[id]!.bytes;
    this.files[id] = undefined;
    this.byPath.delete(p);
    this.dirty = true;
    return true;
  }

  /**
   * Adds or replaces files (as collect gives them: redacted text). A file whose text is what was
   * indexed is left as it is. Returns how many changed; files beyond the limits are left out.
   */
  put(files: readonly (CorpusFile & { mtimeMs?: number })[], o: { yieldEvery?: number } = {}): Promise<{ changed: number; overLimit: number }> {
    return this.run(async () => {
      let changed = 0;
      let overLimit = 0;
      for (const [i, f] of files.entries()) {
        if (o.yieldEvery && i % o.yieldEvery === o.yieldEvery - 1) await new Promise((r) => setImmediate(r));
        const old = this.get(f.path);
        const hash = hashText(f.text);
        if (old && old.hash === hash) {
          // same text: only its time may be new (kept, so that a load does not read it again)
          const mtimeMs = f.mtimeMs ?? fs.statSync(f.file, { throwIfNoEntry: false })?.mtimeMs ?? old.mtimeMs;
          if (mtimeMs !== old.mtimeMs) {
            old.mtimeMs = mtimeMs;
            this.dirty = true;
          }
          continue;
        }
        if (!old && (this.byPath.size >= this.limits.maxFiles || this.textBytes + f.bytes > this.limits.maxBytes)) {
          overLimit++;
          continue;
        }
        this.apply(await this.prepare(f, hash));
        changed++;
      }
      this.maybeCompact();
      return { changed, overLimit };
    });
  }

  /** Removes files, and everything under a folder path ending in '/' (or '' for all). */
  remove(paths: readonly string[]): Promise<number> {
    return this.run(() => {
      let n = 0;
      for (const p of paths) {
        if (p === '' || p.endsWith('/')) {
          for (const q of [...this.byPath.keys()]) if (q.startsWith(p)) n += Number(this.drop(q));
        } else n += Number(this.drop(p));
      }
      this.maybeCompact();
      return n;
    });
  }

  /** Makes the index hold exactly `files` (a full collection): changed and new ones put, missing ones removed. */
  async sync(files: readonly CorpusFile[], o: { yieldEvery?: number } = {}): Promise<{ changed: number; removed: number }> {
    const keep = new Set(files.map((f) => f.path));
    const removed = await this.remove([...this.byPath.keys()].filter((p) => !keep.has(p)));
    const { changed } = await this.put(files, o);
    return { changed, removed };
  }

  /** Folds added postings in and drops dead chunks when they have grown (a quarter of the base, or a million). */
  private maybeCompact(): void {
    const dead = this.cFile.length - this.liveChunks;
    if (this.dChunk.length > Math.max(200_000, this.bChunk.length / 4) || dead > Math.max(50_000, this.liveChunks / 4)) this.compact();
  }

  /** Rebuilds the base: live chunks renumbered file by file, postings in CSR form by term, unused terms dropped. */
  compact(): void {
    const oldChunks = this.cFile.length;
    const remap = new Int32Array(oldChunks).fill(-1);
    const files: IndexedFile[] = [];
    const fFirst: number[] = [];
    const fCount: number[] = [];
    const cFile = Column.u32(new Uint32Array(this.liveChunks));
    const cStart = Column.u32(new Uint32Array(this.liveChunks));
    const cEnd = Column.u32(new Uint32Array(this.liveChunks));
    const cLine = Column.u32(new Uint32Array(this.liveChunks));
    const cEndLine = Column.u32(new Uint32Array(this.liveChunks));
    const cLen = Column.u32(new Uint32Array(this.liveChunks));
    let next = 0;
    for (const [id, f] of this.files.entries()) {
      if (!f) continue;
      const fid = files.length;
      files.push(f);
      fFirst.push(next);
      const first = this.fFirst[id]!;
      for (let c = first; c < first + this.fCount[id]!; c++) {
        remap[c] = next;
        cFile.data[next] = fid;
        cStart.data[next] = this.cStart.get(c);
        cEnd.data[next] = this.cEnd.get(c);
        cLine.data[next] = this.cLine.get(c);
        cEndLine.data[next] = this.cEndLine.get(c);
        cLen.data[next] = this.cLen.get(c);
        next++;
      }
      fCount.push(next - fFirst[fid]!);
    }
    // postings per term (live ones), then terms that still have any, renumbered
    const nTerms = this.termList.length;
    const count = new Uint32Array(nTerms);
    for (let t = 0; t < this.bStart.length - 1; t++) for (let i = this.bStart[t]!; i < this.bStart[t + 1]!; i++) if (remap[this.bChunk[i]!]! >= 0) count[t]!++;
    for (let i = 0; i < this.dChunk.length; i++) if (remap[this.dChunk.get(i)]! >= 0) count[this.dTerm.get(i)]!++;
    const newId = new Int32Array(nTerms).fill(-1);
    const termList: string[] = [];
    for (let t = 0; t < nTerms; t++) if (count[t]! > 0) newId[t] = termList.push(this.termList[t]!) - 1;
    const bStart = new Uint32Array(termList.length + 1);
    for (let t = 0; t < nTerms; t++) if (newId[t]! >= 0) bStart[newId[t]! + 1] = count[t]!;
    for (let t = 0; t < termList.length; t++) bStart[t + 1]! += bStart[t]!;
    const total = bStart[termList.length]!;
    const bChunk = new Uint32Array(total);
    const bTf = new Uint16Array(total);
    const fill = bStart.slice(0, termList.length);
    const place = (t: number, chunk: number, tf: number): void => {
      const nt = newId[t]!;
      const c = remap[chunk]!;
      if (nt < 0 || c < 0) return;
      const at = fill[nt]!++;
      bChunk[at] = c;
      bTf[at] = tf;
    };
    for (let t = 0; t < this.bStart.length - 1; t++) for (let i = this.bStart[t]!; i < this.bStart[t + 1]!; i++) place(t, this.bChunk[i]!, this.bTf[i]!);
    for (let i = 0; i < this.dChunk.length; i++) place(this.dTerm.get(i), this.dChunk.get(i), this.dTf.get(i));

    this.files = files;
    this.fFirst = fFirst;
    this.fCount = fCount;
    this.byPath.clear();
    files.forEach((f, i) => this.byPath.set(f.path, i));
    Object.assign(this, { cFile, cStart, cEnd, cLine, cEndLine, cLen });
    this.dead = Column.u8(new Uint8Array(next));
    this.termList = termList;
    this.termIds.clear();
    termList.forEach((t, i) => this.termIds.set(t, i));
    this.bStart = bStart;
    this.bChunk = bChunk;
    this.bTf = bTf;
    this.dTerm = Column.u32();
    this.dChunk = Column.u32();
    this.dTf = Column.u16();
    this.scores = new Float64Array(0);
  }

  /**
   * The `k` best chunks for a query with a positive score, best first: BM25 (k1 1.2, b 0.75) over
   * the chunk's terms, its path's and its heading's, plus a bonus where the chunk *defines* a name
   * the query asks about (as Bm25Index).
   */
  search(query: string, k: number): IndexHit[] {
    const k1 = 1.2;
    const b = 0.75;
    const n = this.liveChunks;
    if (!n) return [];
    const avg = this.liveLength / n;
    const chunks = this.cFile.length;
    if (this.scores.length < chunks) this.scores = new Float64Array(Math.max(chunks, this.scores.length * 2));
    const scores = this.scores;
    const touched: number[] = [];
    const dead = this.dead.data;
    const len = this.cLen.data;
    const wanted = new Map<number, number>(); // term id -> position in the query
    for (const t of queryTerms(query)) {
      const id = this.termIds.get(t);
      if (id !== undefined) wanted.set(id, wanted.size);
    }
    if (!wanted.size) return [];
    // postings added since the last compaction, by query term
    const pending = new Map<number, number[]>();
    for (let i = 0; i < this.dChunk.length; i++) {
      const t = this.dTerm.data[i]!;
      if (wanted.has(t)) {
        let list = pending.get(t);
        if (!list) pending.set(t, (list = []));
        list.push(i);
      }
    }
    for (const t of wanted.keys()) {
      const from = t < this.bStart.length - 1 ? this.bStart[t]! : 0;
      const to = t < this.bStart.length - 1 ? this.bStart[t + 1]! : 0;
      const extra = pending.get(t) ?? [];
      // document frequency: the live chunks that hold the term
      let df = 0;
      for (let i = from; i < to; i++) if (!dead[this.bChunk[i]!]) df++;
      for (const i of extra) if (!dead[this.dChunk.data[i]!]) df++;
      if (!df) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      const add = (chunk: number, raw: number): void => {
        if (dead[chunk]) return;
        const f = raw & (DEFINES - 1);
        if (scores[chunk] === 0) touched.push(chunk);
        scores[chunk]! += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * len[chunk]!) / avg)) + (raw & DEFINES ? 2 * idf : 0);
      };
      for (let i = from; i < to; i++) add(this.bChunk[i]!, this.bTf[i]!);
      for (const i of extra) add(this.dChunk.data[i]!, this.dTf.data[i]!);
    }
    // the k best (a small sorted list: k is a handful)
    const best: number[] = [];
    for (const c of touched) {
      const s = scores[c]!;
      if (best.length < k || s > scores[best[best.length - 1]!]!) {
        let at = best.length;
        while (at > 0 && scores[best[at - 1]!]! < s) at--;
        best.splice(at, 0, c);
        if (best.length > k) best.pop();
      }
    }
    const hits = best.map((c) => ({
      file: this.files[this.cFile.get(c)]!,
      start: this.cStart.get(c),
      end: this.cEnd.get(c),
      startLine: this.cLine.get(c),
      endLine: this.cEndLine.get(c),
      score: scores[c]!,
    }));
    for (const c of touched) scores[c] = 0;
    return hits;
  }

  /** The index as bytes (compacted first). */
  serialize(): Buffer {
    this.compact();
    const sections: [string, Uint32Array | Uint16Array][] = [
      ['bStart', this.bStart],
      ['bChunk', this.bChunk],
      ['bTf', this.bTf],
      ['cFile', this.cFile.view()],
      ['cStart', this.cStart.view()],
      ['cEnd', this.cEnd.view()],
      ['cLine', this.cLine.view()],
      ['cEndLine', this.cEndLine.view()],
      ['cLen', this.cLen.view()],
    ];
    const bodies = sections.map(([, a]) => {
      const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      const pad = (4 - (buf.length % 4)) % 4;
      return pad ? Buffer.concat([buf, Buffer.alloc(pad)]) : buf;
    });
    const sha1 = createHash('sha1');
    for (const body of bodies) sha1.update(body);
    const header = {
      format: FORMAT,
      identity: this.identity,
      chunkTokens: this.sizing.tokens,
      savedAt: new Date().toISOString(),
      files: this.files.map((f, i) => [f!.path, f!.file, f!.root, f!.bytes, f!.mtimeMs, f!.hash, this.fFirst[i], this.fCount[i]]),
      terms: this.termList.join('\n'),
      sections: sections.map(([name, a]) => [name, a instanceof Uint16Array ? 'u16' : 'u32', a.length]),
      sha1: sha1.digest('hex'),
    };
    let json = Buffer.from(JSON.stringify(header));
    const headPad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
    json = Buffer.concat([json, Buffer.from(' '.repeat(headPad))]);
    const prefix = Buffer.alloc(MAGIC.length + 4);
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(json.length, MAGIC.length);
    return Buffer.concat([prefix, json, ...bodies]);
  }

  /** Reads an index written by `serialize`; an IndexFormatError says what does not check out. */
  static deserialize(buf: Buffer, identity: IndexIdentity, sizing: ChunkSizing, limits?: SearchIndex['limits']): SearchIndex {
    const bad = (why: string): never => {
      throw new IndexFormatError(why);
    };
    if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) bad('not an index file');
    const headLen = buf.readUInt32LE(MAGIC.length);
    const bodyAt = MAGIC.length + 4 + headLen;
    if (bodyAt > buf.length) bad('truncated header');
    let header: {
      format: number;
      identity: IndexIdentity;
      files: [string, string, string, number, number, string, number, number][];
      terms: string;
      sections: [string, 'u16' | 'u32', number][];
      sha1: string;
    };
    try {
      header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, bodyAt));
    } catch {
      return bad('unreadable header');
    }
    if (header.format !== FORMAT) bad(`format ${header.format}, not ${FORMAT}`);
    if (indexKey(header.identity) !== indexKey(identity)) bad('made for other roots, globs or another tokenizer');
    const sha1 = createHash('sha1');
    const arrays = new Map<string, Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>>();
    let at = bodyAt;
    for (const [name, type, n] of header.sections) {
      const bytes = n * (type === 'u16' ? 2 : 4);
      const padded = bytes + ((4 - (bytes % 4)) % 4);
      if (!Number.isSafeInteger(n) || n < 0 || at + padded > buf.length) bad(`truncated section ${name}`);
      sha1.update(buf.subarray(at, at + padded));
      // a copy: aligned, and independent of the file's buffer
      const copy = new Uint8Array(bytes);
      copy.set(buf.subarray(at, at + bytes));
      arrays.set(name, type === 'u16' ? new Uint16Array(copy.buffer) : new Uint32Array(copy.buffer));
      at += padded;
    }
    if (at !== buf.length) bad('trailing bytes');
    if (sha1.digest('hex') !== header.sha1) bad('checksum mismatch');
    const index = new SearchIndex(identity, sizing, limits);
    const u32 = (name: string): Uint32Array<ArrayBuffer> => (arrays.get(name) as Uint32Array<ArrayBuffer> | undefined) ?? bad(`no section ${name}`);
    index.bStart = u32('bStart');
    index.bChunk = u32('bChunk');
    index.bTf = (arrays.get('bTf') as Uint16Array<ArrayBuffer> | undefined) ?? bad('no section bTf');
    index.cFile = Column.u32(u32('cFile'));
    index.cStart = Column.u32(u32('cStart'));
    index.cEnd = Column.u32(u32('cEnd'));
    index.cLine = Column.u32(u32('cLine'));
    index.cEndLine = Column.u32(u32('cEndLine'));
    index.cLen = Column.u32(u32('cLen'));
    const chunks = index.cFile.length;
    index.termList = header.terms ? header.terms.split('\n') : [];
    if (index.bStart.length !== index.termList.length + 1 || index.bStart[index.termList.length] !== index.bChunk.length || index.bTf.length !== index.bChunk.length) bad('postings do not match the terms');
    if ([index.cStart, index.cEnd, index.cLine, index.cEndLine, index.cLen].some((c) => c.length !== chunks)) bad('chunk columns differ in length');
    for (let i = 0; i < index.bChunk.length; i++) if (index.bChunk[i]! >= chunks) bad('a posting names no chunk');
    index.termList.forEach((t, i) => index.termIds.set(t, i));
    index.dead = Column.u8(new Uint8Array(chunks));
    let next = 0;
    for (const [p, file, root, bytes, mtimeMs, hash, first, count] of header.files) {
      if (first !== next || first + count > chunks || typeof p !== 'string' || typeof file !== 'string') bad('files do not match the chunks');
      next = first + count;
      const id = index.files.push({ path: p, file, root, bytes, mtimeMs, hash }) - 1;
      index.fFirst.push(first);
      index.fCount.push(count);
      index.byPath.set(p, id);
      index.textBytes += bytes;
    }
    if (next !== chunks) bad('files do not match the chunks');
    index.liveChunks = chunks;
    for (let c = 0; c < chunks; c++) {
      if (index.cFile.get(c) >= index.files.length) bad('a chunk names no file');
      index.liveLength += index.cLen.get(c);
    }
    return index;
  }

  /** Saves atomically (a temporary file, then rename). */
  save(file: string): void {
    const buf = this.serialize();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, buf);
      fs.renameSync(tmp, file);
      this.dirty = false;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  static load(file: string, identity: IndexIdentity, sizing: ChunkSizing, limits?: SearchIndex['limits']): SearchIndex {
    const index = SearchIndex.deserialize(fs.readFileSync(file), identity, sizing, limits);
    index.dirty = false;
    return index;
  }
}
