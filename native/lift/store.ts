/**
 * What an adapter knows and whether it is still current: the manifest written with it (files
 * with the hash of the text learned, tokens, settings, loss curve, times, engine version), and
 * the comparison of that list with the files as they are now.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CorpusFile, MAX_FILE_BYTES } from './corpus';
import { JSON_FILE_LIMIT, readBounded, readText } from '../files';
import { hasAdapterWeights } from '../model/peft';
import type { AdapterInfo, AdapterSummary, SelfCheckFigures } from '../protocol';
import { MANIFEST } from './learn';
import { redactSecrets } from './secrets';

export interface ManifestFile {
  path: string;
  /** Absolute location when learned. */
  file: string;
  bytes: number;
  /** sha256 of the text as learned (after redaction). */
  sha256: string;
}

export interface Manifest {
  format: 1;
  engine: string;
  createdAt: string;
  baseModel: string;
  /** The Hub model and the commit it was learned on, when the base model is a Hugging Face cache snapshot. */
  baseModelHub?: { repo: string; commit: string };
  inputHash: string;
  tokens: number;
  qaPairs: number;
  settings: Record<string, unknown>;
  files: ManifestFile[];
  /** The loss curve, at most 200 points (step, loss). */
  losses: [number, number][];
  /** Added after learning by the self-check. */
  selfCheck?: SelfCheckFigures;
}

/** Adds the self-check's figure to an adapter's manifest (atomically: a whole new file renamed over it). */
export function recordSelfCheck(adapterDir: string, check: SelfCheckFigures): void {
  const m = readManifest(adapterDir);
  if (!m) return;
  const file = path.join(adapterDir, MANIFEST);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify({ ...m, selfCheck: figures(check) }, null, 1)}\n`);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The figures of a self-check (its examples stay out of the manifest). */
export const figures = (c: SelfCheckFigures): SelfCheckFigures => ({ asked: c.asked, direct: c.direct, ...(c.withRetrieval !== undefined ? { withRetrieval: c.withRetrieval } : {}), ...(c.gate ? { gate: c.gate } : {}) });

/** Fewer check questions than this leave retrieval on whatever they say (too few to choose by). */
export const RETRIEVAL_CHOICE_MIN = 10;

/** Whether answering with an adapter skips retrieval: its self-check answered more of at least RETRIEVAL_CHOICE_MIN questions from the weights alone than with retrieved context. */
export const weightsAlone = (c: SelfCheckFigures | undefined): boolean =>
  typeof c?.withRetrieval === 'number' && typeof c.direct === 'number' && c.asked >= RETRIEVAL_CHOICE_MIN && c.direct > c.withRetrieval;

export const textHash = (text: string): string => createHash('sha256').update(text).digest('hex');

/** At most `n` evenly spaced points of a curve, always keeping the last. */
export function downsample(values: readonly number[], n = 200): [number, number][] {
  if (values.length <= n) return values.map((v, i) => [i + 1, v]);
  const out: [number, number][] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.round((k * (values.length - 1)) / (n - 1));
    out.push([i + 1, values[i]!]);
  }
  return out;
}

export function readManifest(adapterDir: string): Manifest | undefined {
  try {
    const m = JSON.parse(readText(path.join(adapterDir, MANIFEST), JSON_FILE_LIMIT)) as Manifest;
    return m?.format === 1 && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface Staleness {
  changed: string[];
  removed: string[];
  /** Files that would be learned now but were not (only when the current files are given). */
  added: string[];
}

/**
 * What changed since the adapter was learned. With `current` (a fresh collection of the same
 * roots) the answer is exact, added files included; without it, the learned files are re-read.
 */
export function staleness(m: Manifest, current?: readonly CorpusFile[]): Staleness {
  if (current) {
    const now = new Map(current.map((f) => [f.path, textHash(f.text)]));
    const learned = new Set(m.files.map((f) => f.path));
    return {
      changed: m.files.filter((f) => now.has(f.path) && now.get(f.path) !== f.sha256).map((f) => f.path),
      removed: m.files.filter((f) => !now.has(f.path)).map((f) => f.path),
      added: current.filter((f) => !learned.has(f.path)).map((f) => f.path),
    };
  }
  const changed: string[] = [];
  const removed: string[] = [];
  for (const f of m.files) {
    const read = readBounded(f.file, MAX_FILE_BYTES);
    if (!read.ok) {
      // gone, or no longer a file LIFT would learn (replaced by a link, a FIFO, grown too large)
      (read.reason === 'unreadable' ? removed : changed).push(f.path);
      continue;
    }
    const text = new TextDecoder().decode(read.bytes).replace(/^\uFEFF/, '');
    if (textHash(redactSecrets(text).text) !== f.sha256) changed.push(f.path);
  }
  return { changed, removed, added: [] };
}

/** One adapter of a store, as `adapters` lists it. */
export type StoredAdapter = AdapterInfo;

/** The summary of an adapter that its manifest gives. */
export function summarize(m: Manifest): AdapterSummary {
  return { createdAt: m.createdAt, baseModel: m.baseModel, files: m.files.length, tokens: m.tokens, qaPairs: m.qaPairs, finalLoss: m.losses.at(-1)?.[1], ...(m.selfCheck ? { selfCheck: m.selfCheck } : {}) };
}

const ACTIVE = 'active.json';
const KEY = /^[0-9a-f]{16}$/;

/**
 * A workspace's adapters: one folder per base model + corpus (the key), each a PEFT adapter with
 * its manifest, and `active.json` naming the one that answers. Learning writes a new folder and
 * then switches the pointer, so the adapter in use is never half-written; the oldest inactive
 * adapters are pruned beyond `keep`.
 */
export class AdapterStore {
  constructor(
    readonly root: string,
    readonly keep = 5,
  ) {}

  /** The key for an adapter of `baseModel` learned from the input with this hash. */
  static key(baseModel: string, inputHash: string): string {
    return createHash('sha256').update(path.resolve(baseModel)).update('\0').update(inputHash).digest('hex').slice(0, 16);
  }

  dirFor(key: string): string {
    if (!KEY.test(key)) throw new Error(`"${key}" is not an adapter key (16 hex digits)`);
    return path.join(this.root, key);
  }

  /** The key of the active adapter, if it is still there and complete. */
  activeKey(): string | undefined {
    try {
      const { key } = JSON.parse(readText(path.join(this.root, ACTIVE), JSON_FILE_LIMIT)) as { key?: unknown };
      return typeof key === 'string' && KEY.test(key) && complete(this.dirFor(key)) ? key : undefined;
    } catch {
      return undefined;
    }
  }

  activeDir(): string | undefined {
    const key = this.activeKey();
    return key && this.dirFor(key);
  }

  /** Every complete adapter, newest first. */
  list(): StoredAdapter[] {
    const active = this.activeKey();
    const names = fs.existsSync(this.root) ? fs.readdirSync(this.root).filter((n) => KEY.test(n)) : [];
    const out: StoredAdapter[] = [];
    for (const key of names) {
      const dir = this.dirFor(key);
      const m = complete(dir) ? readManifest(dir) : undefined;
      if (!m) continue;
      const preset = m.settings.preset;
      out.push({
        key,
        dir,
        active: key === active,
        ...summarize(m),
        preset: typeof preset === 'string' ? preset : undefined,
      });
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.key.localeCompare(b.key));
  }

  /** Makes `key` the adapter that answers (atomically: temporary file, then rename). */
  select(key: string): void {
    if (!complete(this.dirFor(key))) throw new Error(`no adapter ${key} in ${this.root}`);
    const tmp = path.join(this.root, `.${ACTIVE}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(tmp, `${JSON.stringify({ key, selectedAt: new Date().toISOString() })}\n`);
      fs.renameSync(tmp, path.join(this.root, ACTIVE));
    } catch (err) {
      fs.rmSync(tmp, { force: true }); // a half-written pointer is never left behind
      throw err;
    }
  }

  /** Makes no adapter active if `key` is the active one (it stays in the store); answers come from the base model. */
  deactivate(key: string): void {
    if (this.activeKey() === key) fs.rmSync(path.join(this.root, ACTIVE), { force: true });
  }

  /** Deletes an adapter; deleting the active one makes the newest remaining one active. */
  delete(key: string): void {
    const dir = this.dirFor(key);
    if (!fs.existsSync(dir)) throw new Error(`no adapter ${key} in ${this.root}`);
    const wasActive = this.activeKey() === key;
    // out of sight in one rename, then removed: a crash in between leaves no half-deleted adapter listed
    const trash = path.join(this.root, `.${key}.deleted-${process.pid}`);
    fs.renameSync(dir, trash);
    fs.rmSync(trash, { recursive: true, force: true });
    if (wasActive) {
      const next = this.list()[0];
      if (next) this.select(next.key);
      else fs.rmSync(path.join(this.root, ACTIVE), { force: true });
    }
  }

  /** Removes the oldest inactive adapters beyond `keep`. */
  prune(): string[] {
    const removed = this.list()
      .filter((a) => !a.active)
      .slice(Math.max(0, this.keep - 1))
      .map((a) => a.key);
    for (const key of removed) this.delete(key);
    return removed;
  }
}

const complete = (dir: string): boolean => hasAdapterWeights(dir) && fs.existsSync(path.join(dir, MANIFEST));
