/**
 * What an adapter knows and whether it is still current: the manifest written with it (files
 * with the hash of the text learned, tokens, settings, loss curve, times, engine version), and
 * the comparison of that list with the files as they are now.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CorpusFile } from './corpus';
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
  inputHash: string;
  tokens: number;
  qaPairs: number;
  settings: Record<string, unknown>;
  files: ManifestFile[];
  /** The loss curve, at most 200 points (step, loss). */
  losses: [number, number][];
}

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
    const m = JSON.parse(fs.readFileSync(path.join(adapterDir, MANIFEST), 'utf8')) as Manifest;
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
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(f.file);
    } catch {
      removed.push(f.path);
      continue;
    }
    const text = new TextDecoder().decode(bytes).replace(/^\uFEFF/, '');
    if (textHash(redactSecrets(text).text) !== f.sha256) changed.push(f.path);
  }
  return { changed, removed, added: [] };
}
