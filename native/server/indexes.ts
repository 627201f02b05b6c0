/**
 * The trainer's retrieval indexes, one per workspace (roots, globs) and chunk size (the model's
 * tokenizer and window): built on the first question from a collection, saved in the adapter
 * store's `retrieval/` folder (kept in memory only without a store), loaded on the next start and
 * checked against the files' sizes and times, and kept current from the editor's file events and
 * the stale check's collections. Questions never walk the tree once an index exists.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collect, type CorpusFile } from '../lift/corpus';
import { Bm25Index, type Chunk, chunkFiles, chunkTokensFor, tokenSizing, type ChunkSizing } from '../lift/retrieve';
import { hashText, type IndexHit, type IndexIdentity, indexKey, IndexFormatError, SearchIndex } from '../lift/searchindex';
import { WorkspaceFiles } from '../lift/workspacefiles';
import { loadConfig } from '../model/weights';
import { TextTokenizer } from '../model/tokenizer';
import type { LogLevel } from '../protocol';

/** Which workspace and model an index serves. */
export interface IndexRequest {
  roots: string[];
  /** The model folder (resolved: '' is not allowed here). */
  model: string;
  store?: string;
  include?: string[];
  exclude?: string[];
}

interface Entry {
  identity: IndexIdentity;
  key: string;
  /** Where it is saved (undefined: in memory only). */
  file?: string;
  files: WorkspaceFiles;
  ready: Promise<SearchIndex>;
  index?: SearchIndex;
  saveTimer?: NodeJS.Timeout;
  /** After a load: the workspace collected again in the background (files added while no trainer ran). */
  rescanTimer?: NodeJS.Timeout;
  /** A full collection was queued for it (no background one is needed then). */
  collected?: boolean;
  /** While the index is first built: the files it is built from (questions meanwhile search them in line windows). */
  building?: readonly CorpusFile[];
  usedAt: number;
  /** Updates queued (file events, collections); a question waits for those queued before it. */
  updates: Promise<unknown>;
}

/** Indexes kept in memory at once (the least recently used one is saved and let go). */
const LOADED = 3;
/** Files a folder event may bring in one by one; beyond that the workspace is collected again. */
const FOLDER_FILES = 2000;
/** Saves wait this long after the last change. */
const SAVE_DELAY_MS = 2000;
/** How long a question waits for a first build before it searches the collected files in line windows. */
const FIRST_BUILD_WAIT_MS = 3000;
/** A loaded index is checked for files added meanwhile this long after the load. */
const RESCAN_AFTER_LOAD_MS = 20_000;

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

export class RetrievalIndexes {
  private readonly entries = new Map<string, Entry>();
  private readonly sizings = new Map<string, { stamp: string; sizing: ChunkSizing; tokenizer: string; tokens: number }>();

  constructor(private readonly log: (level: LogLevel, message: string) => void) {}

  /** The model's chunk sizing (its tokenizer and window), cached while tokenizer.json and config.json stay the same. */
  private sizingFor(model: string): { sizing: ChunkSizing; tokenizer: string; tokens: number } {
    const files = ['tokenizer.json', 'config.json'].map((f) => path.join(model, f));
    const stamp = files.map((f) => fs.statSync(f, { throwIfNoEntry: false })).map((s) => (s ? `${s.size}:${s.mtimeMs}` : '-')).join('/');
    const cached = this.sizings.get(model);
    if (cached?.stamp === stamp) return cached;
    const cfg = loadConfig(model);
    const tok = TextTokenizer.fromFolder(model);
    const tokens = chunkTokensFor(cfg.maxPositions);
    const made = { stamp, sizing: tokenSizing(tok, cfg.maxPositions, tokens), tokenizer: createHash('sha256').update(fs.readFileSync(files[0]!)).digest('hex').slice(0, 16), tokens };
    this.sizings.set(model, made);
    return made;
  }

  private identityOf(r: IndexRequest): { identity: IndexIdentity; sizing: ChunkSizing } {
    const { sizing, tokenizer, tokens } = this.sizingFor(r.model);
    return { identity: { roots: r.roots.map((x) => path.resolve(x)), include: r.include ?? [], exclude: r.exclude ?? [], chunkTokens: tokens, tokenizer }, sizing };
  }

  /** Where a store keeps index files. */
  static folder(store: string): string {
    return path.join(store, 'retrieval');
  }

  /** The index for a workspace and model: in memory, else loaded from the store, else built from a collection (or `files`). */
  open(r: IndexRequest, o: { isCancelled?: () => boolean; files?: readonly CorpusFile[] } = {}): Promise<SearchIndex> {
    return this.entry(r, o).ready;
  }

  /** The entry of a workspace and model (created, and its index loading or building, if new). */
  private entry(r: IndexRequest, o: { isCancelled?: () => boolean; files?: readonly CorpusFile[] } = {}): Entry {
    const { identity, sizing } = this.identityOf(r);
    const key = `${r.store ? path.resolve(r.store) : ''}\0${indexKey(identity)}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const file = r.store ? path.join(RetrievalIndexes.folder(r.store), `${indexKey(identity)}.idx`) : undefined;
      const files = new WorkspaceFiles(identity.roots, { include: identity.include, exclude: identity.exclude });
      const made: Entry = { identity, key, file, files, usedAt: Date.now(), updates: Promise.resolve(), ready: undefined as unknown as Promise<SearchIndex> };
      made.ready = this.loadOrBuild(made, sizing, o).then((index) => (made.index = index));
      // a failed build (cancelled, a root gone) is tried again next time
      made.ready.catch(() => this.entries.get(key) === made && this.entries.delete(key));
      this.entries.set(key, made);
      entry = made;
      this.evict();
    }
    entry.usedAt = Date.now();
    return entry;
  }

  /** Runs an update of an entry's index after the updates queued before it (questions wait for them). */
  private queue(e: Entry, what: string, fn: (index: SearchIndex) => Promise<unknown>): Promise<void> {
    const next = e.updates.then(async () => {
      const index = await e.ready.catch(() => undefined);
      if (index) await fn(index);
    });
    e.updates = next.catch((err: unknown) => this.log('warn', `retrieval index not updated (${what}): ${err instanceof Error ? err.message : String(err)}`));
    return e.updates as Promise<void>;
  }

  private async loadOrBuild(e: Entry, sizing: ChunkSizing, o: { isCancelled?: () => boolean; files?: readonly CorpusFile[] }): Promise<SearchIndex> {
    if (e.file && fs.existsSync(e.file)) {
      try {
        const started = performance.now();
        const index = SearchIndex.load(e.file, e.identity, sizing);
        const changed = await this.revalidate(e, index);
        this.log('info', `retrieval index loaded: ${index.size.files} files, ${index.size.chunks} chunks in ${Math.round(performance.now() - started)} ms${changed ? `; ${changed} files changed since it was saved` : ''}`);
        if (index.dirty) this.scheduleSave(e, index);
        // files added while no trainer watched come in with a collection in the background (a
        // question never waits for it; the stale check's collection makes it unnecessary)
        if (!e.collected) {
          e.rescanTimer = setTimeout(() => void this.rescan(e).catch((err: unknown) => this.log('warn', `retrieval index: collection after a load failed: ${err instanceof Error ? err.message : String(err)}`)), RESCAN_AFTER_LOAD_MS);
          e.rescanTimer.unref?.();
        }
        return index;
      } catch (err) {
        const why = err instanceof IndexFormatError ? err.message : err instanceof Error ? err.message : String(err);
        this.log('warn', `retrieval index ${e.file} is unusable (${why}): building it again`);
        fs.rmSync(e.file, { force: true });
      }
    }
    const started = performance.now();
    const files = o.files ?? (await collect(e.identity.roots, { include: e.identity.include, exclude: e.identity.exclude, isCancelled: o.isCancelled })).files;
    const index = new SearchIndex(e.identity, sizing);
    e.building = files;
    await index.put(files, { yieldEvery: 25 }).finally(() => (e.building = undefined));
    index.compact();
    if (e.file) this.save(e, index);
    const s = index.size;
    this.log('info', `retrieval index built: ${s.files} files, ${s.chunks} chunks of at most ${sizing.tokens} tokens, ${s.terms} terms in ${((performance.now() - started) / 1000).toFixed(1)} s${e.file ? `; saved in ${e.file}` : ''}`);
    return index;
  }

  /** After a load: files whose size or time changed, or that are gone, are read again or removed. */
  private async revalidate(e: Entry, index: SearchIndex): Promise<number> {
    const suspect: string[] = [];
    const gone: string[] = [];
    for (const f of index.list()) {
      const st = fs.statSync(f.file, { throwIfNoEntry: false });
      if (!st) gone.push(f.path);
      else if (st.size !== f.bytes || st.mtimeMs !== f.mtimeMs) suspect.push(f.file);
    }
    await index.remove(gone);
    if (suspect.length) await this.admit(e, index, suspect);
    return gone.length + suspect.length;
  }

  /** Reads paths as collection would now and puts or removes them. */
  private async admit(e: Entry, index: SearchIndex, paths: readonly string[]): Promise<{ put: number; removed: number }> {
    const admitted = await e.files.admit(paths);
    const take: CorpusFile[] = [];
    const drop: string[] = [];
    for (const a of admitted.values()) {
      if ('file' in a) take.push(a.file);
      else if (a.shown !== undefined) drop.push(a.shown);
    }
    const removed = await index.remove(drop);
    const { changed } = await index.put(take);
    return { put: changed, removed };
  }

  private save(e: Entry, index: SearchIndex): void {
    if (!e.file) return;
    clearTimeout(e.saveTimer);
    e.saveTimer = undefined;
    try {
      index.save(e.file);
      this.prune(path.dirname(e.file), e.file);
    } catch (err) {
      this.log('warn', `retrieval index not saved to ${e.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private scheduleSave(e: Entry, index: SearchIndex): void {
    if (!e.file) return;
    clearTimeout(e.saveTimer);
    e.saveTimer = setTimeout(() => void index.run(() => this.save(e, index)), SAVE_DELAY_MS);
    e.saveTimer.unref?.();
  }

  /** Keeps the four most recently written index files of a store. */
  private prune(dir: string, keep: string): void {
    const files = fs
      .readdirSync(dir)
      .filter((n) => /^[0-9a-f]{16}\.idx$/.test(n))
      .map((n) => path.join(dir, n))
      .filter((f) => f !== keep)
      .map((f) => ({ f, t: fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(3)) fs.rmSync(f, { force: true });
  }

  private evict(): void {
    if (this.entries.size <= LOADED) return;
    const oldest = [...this.entries.values()].sort((a, b) => a.usedAt - b.usedAt)[0]!;
    this.entries.delete(oldest.key);
    void oldest.ready.then((index) => (index.dirty ? index.run(() => this.save(oldest, index)) : undefined)).catch(() => undefined);
  }

  /**
   * The best chunks for a question, their text read from the files now. A file that changed since
   * it was indexed (no event came) is indexed again and the search repeated.
   */
  async retrieve(r: IndexRequest, query: string, k: number, o: { isCancelled?: () => boolean } = {}): Promise<{ chunks: Chunk[]; ms: { search: number; read: number } }> {
    const e = this.entry(r, o);
    // the first build of a large workspace takes a while: a question meanwhile is answered from
    // 40-line windows of the files it collected (what answering did before the index)
    const built = await Promise.race([e.ready.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), FIRST_BUILD_WAIT_MS).unref())]);
    if (!built && e.building) {
      const t = performance.now();
      const chunks = new Bm25Index(chunkFiles(e.building)).search(query, k).map((h) => h.chunk);
      this.log('info', `retrieval index still being built: this answer's context comes from line windows of the collected files`);
      return { chunks, ms: { search: performance.now() - t, read: 0 } };
    }
    const index = await e.ready;
    await e.updates;
    let search = 0;
    let read = 0;
    for (let attempt = 0; ; attempt++) {
      let t = performance.now();
      const hits = index.search(query, k);
      search += performance.now() - t;
      t = performance.now();
      const texts = new Map<string, string | undefined>();
      const stale = new Set<string>();
      for (const h of hits) {
        if (texts.has(h.file.path)) continue;
        const now = await e.files.read(h.file.file);
        const ok = now && now.path === h.file.path && hashText(now.text) === h.file.hash;
        texts.set(h.file.path, ok ? now.text : undefined);
        if (!ok) stale.add(h.file.file);
      }
      read += performance.now() - t;
      if (stale.size && attempt === 0) {
        await this.admit(e, index, [...stale]);
        this.scheduleSave(e, index);
        continue;
      }
      const chunks = hits.filter((h) => texts.get(h.file.path) !== undefined).map((h: IndexHit) => ({ path: h.file.path, startLine: h.startLine, endLine: h.endLine, text: texts.get(h.file.path)!.slice(h.start, h.end) }));
      return { chunks, ms: { search, read } };
    }
  }

  /** Entries of a workspace (any model), loaded or being loaded. */
  private entriesOf(r: Omit<IndexRequest, 'model'>): Entry[] {
    const roots = r.roots.map((x) => path.resolve(x));
    const store = r.store ? path.resolve(r.store) : '';
    return [...this.entries.values()].filter((e) => e.key.startsWith(`${store}\0`) && sameList(e.identity.roots, roots) && sameList(e.identity.include, r.include ?? []) && sameList(e.identity.exclude, r.exclude ?? []));
  }

  /**
   * Files created, changed or deleted (absolute paths, folders included): the workspace's indexes
   * follow. With a model, its index is loaded from the store first if it is not in memory (none
   * is built for an event). An ignore file that changed makes the workspace be collected again.
   * Queued at once: a question asked after the event sees it.
   */
  filesChanged(r: Omit<IndexRequest, 'model'> & { model?: string }, paths: readonly string[]): Promise<{ put: number; removed: number }> {
    const targets = new Set(this.entriesOf(r));
    try {
      if (r.model && r.store) {
        const { identity } = this.identityOf(r as IndexRequest);
        if (fs.existsSync(path.join(RetrievalIndexes.folder(r.store), `${indexKey(identity)}.idx`))) targets.add(this.entry(r as IndexRequest));
      }
    } catch (err) {
      this.log('warn', `retrieval index not loaded for file events: ${err instanceof Error ? err.message : String(err)}`); // the model folder is gone
    }
    const total = { put: 0, removed: 0 };
    const done = [...targets].map((e) =>
      this.queue(e, 'file events', async (index) => {
        const rescan = (): void => void this.rescan(e).catch((err: unknown) => this.log('warn', `retrieval index: collection failed: ${err instanceof Error ? err.message : String(err)}`));
        if (paths.some((p) => WorkspaceFiles.isIgnoreFile(p))) {
          e.files.forgetIgnoreFiles();
          return rescan();
        }
        const files: string[] = [];
        const gone: string[] = [];
        let tooMany = false;
        for (const p of paths) {
          const st = fs.lstatSync(p, { throwIfNoEntry: false });
          if (st?.isDirectory()) {
            const under = e.files.listUnder(p, FOLDER_FILES);
            if (!under) tooMany = true;
            else files.push(...under);
          } else if (st) files.push(p);
          else {
            const shown = e.files.shownPrefix(p);
            if (shown !== undefined) gone.push(shown, shown === '' || shown.endsWith('/') ? shown : `${shown}/`);
          }
        }
        if (tooMany || files.length > FOLDER_FILES) return rescan();
        total.removed += await index.remove(gone);
        const n = await this.admit(e, index, files);
        total.put += n.put;
        total.removed += n.removed;
        if (index.dirty) this.scheduleSave(e, index);
      }),
    );
    return Promise.all(done).then(() => total);
  }

  /** The workspace collected again, in full (ignore rules changed, or too many files at once). */
  private async rescan(e: Entry): Promise<void> {
    // collected outside the queue of updates: questions meanwhile do not wait for the walk
    const { files } = await collect(e.identity.roots, { include: e.identity.include, exclude: e.identity.exclude });
    await this.queue(e, 'collection', async (index) => {
      const r = await index.sync(files, { yieldEvery: 25 });
      this.log('info', `retrieval index: workspace collected again (${r.changed} files indexed, ${r.removed} removed)`);
      this.scheduleSave(e, index);
    });
  }

  /**
   * A full collection of a workspace (the stale check's): its indexes are brought to exactly these
   * files. With a model, an index not in memory is loaded (or built from these files). Queued at once.
   */
  collected(r: Omit<IndexRequest, 'model'> & { model?: string }, files: readonly CorpusFile[]): Promise<void> {
    const targets = new Set(this.entriesOf(r));
    try {
      if (r.model) targets.add(this.entry(r as IndexRequest, { files }));
      for (const e of targets) {
        e.collected = true;
        clearTimeout(e.rescanTimer);
      }
    } catch (err) {
      this.log('warn', `retrieval index not built from the collection: ${err instanceof Error ? err.message : String(err)}`);
    }
    return Promise.all(
      [...targets].map((e) =>
        this.queue(e, 'collection', async (index) => {
          const s = await index.sync(files, { yieldEvery: 25 });
          if (s.changed || s.removed) this.scheduleSave(e, index);
        }),
      ),
    ).then(() => undefined);
  }

  /** Saves what changed (at shutdown). */
  flush(): void {
    for (const e of this.entries.values()) if (e.index?.dirty) this.save(e, e.index);
  }
}
