/**
 * The default model's training data: the sources and READMEs of the permissively licensed
 * packages installed under `node_modules` (versions pinned by package-lock.json), read in a fixed
 * order with per-file and per-package caps, minified and generated files skipped, secret-looking
 * strings redacted. A fixed twentieth of the packages (by a hash of the name) is held out for
 * measuring the loss on code the model never saw. Every package used is listed with its licence.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { redactSecrets } from '../lift/secrets';

export interface PretrainDoc {
  pkg: string;
  path: string;
  text: string;
}

export interface PackageUse {
  name: string;
  version: string;
  license: string;
  files: number;
  bytes: number;
  heldOut: boolean;
}

/** SPDX ids that allow training on and redistributing derived weights without conditions beyond notice. */
const PERMISSIVE = new Set(['MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0', 'Unlicense', 'Zlib', 'Python-2.0', 'PSF-2.0']);

/** Whether an SPDX expression is permissive: one permissive choice of an OR, every part of an AND. */
export function permissive(license: unknown): boolean {
  if (typeof license !== 'string') return false;
  const expr = license.replace(/[()]/g, ' ').trim();
  if (/\sOR\s/.test(expr)) return expr.split(/\s+OR\s+/).some((p) => permissive(p));
  if (/\sAND\s/.test(expr)) return expr.split(/\s+AND\s+/).every((p) => permissive(p));
  return PERMISSIVE.has(expr);
}

export const isHeldOut = (pkg: string): boolean => createHash('sha256').update(pkg).digest()[0]! % 20 === 0;

const SOURCE = /\.(md|markdown|ts|mts|cts|js|mjs|cjs|py)$/i;

/** Minified or generated: very long lines, or mostly one line. */
function looksMinified(text: string): boolean {
  const lines = text.split('\n');
  return lines.some((l) => l.length > 1000) || text.length / lines.length > 200;
}

function packageDirs(nodeModules: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(nodeModules).sort()) {
    if (name.startsWith('.')) continue;
    const dir = path.join(nodeModules, name);
    if (name.startsWith('@')) for (const sub of fs.readdirSync(dir).sort()) out.push(path.join(dir, sub));
    else out.push(dir);
  }
  return out;
}

function sourceFiles(dir: string, depth = 0): string[] {
  if (depth > 6) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p, depth + 1));
    else if (e.isFile() && SOURCE.test(e.name) && !/\.min\.|\.map$/.test(e.name)) out.push(p);
  }
  return out;
}

export function collectPretrainData(nodeModules: string, o: { maxFileBytes?: number; maxPackageBytes?: number } = {}): { docs: PretrainDoc[]; heldOut: PretrainDoc[]; packages: PackageUse[] } {
  const maxFile = o.maxFileBytes ?? 64_000;
  const maxPackage = o.maxPackageBytes ?? 400_000;
  const docs: PretrainDoc[] = [];
  const heldOut: PretrainDoc[] = [];
  const packages: PackageUse[] = [];
  for (const dir of packageDirs(nodeModules)) {
    let pj: { name?: string; version?: string; license?: unknown };
    try {
      pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!pj.name || !permissive(pj.license)) continue;
    // the README first, then the sources in path order, until the package's cap
    const files = sourceFiles(dir).sort((a, b) => Number(!/readme/i.test(path.basename(a))) - Number(!/readme/i.test(path.basename(b))) || (a < b ? -1 : 1));
    const held = isHeldOut(pj.name);
    const use: PackageUse = { name: pj.name, version: pj.version ?? '', license: String(pj.license), files: 0, bytes: 0, heldOut: held };
    for (const f of files) {
      const size = fs.statSync(f).size;
      if (size > maxFile || size < 200 || use.bytes + size > maxPackage) continue;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(f));
      } catch {
        continue;
      }
      if (looksMinified(text)) continue;
      const doc = { pkg: pj.name, path: `${pj.name}/${path.relative(dir, f).split(path.sep).join('/')}`, text: redactSecrets(text).text };
      (held ? heldOut : docs).push(doc);
      use.files++;
      use.bytes += size;
    }
    if (use.files) packages.push(use);
  }
  return { docs, heldOut, packages };
}
