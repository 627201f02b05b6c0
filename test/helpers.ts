/** Shared by the node:test suites. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LlamaConfig } from '../native/model/config';
import { byteLevelTokenizerJson } from '../native/model/bytelevel';
import { randomWeights, smallConfig } from '../native/model/init';
import { saveModelFolder } from '../native/model/weights';
import type { TrainerLogger } from '../native/client';

export const repoRoot = path.resolve(__dirname, '..');
/** The built trainer bundle: tests exercise what ships (`npm test` builds first). */
export const trainerBundle = path.join(repoRoot, 'dist', 'trainer.js');

export interface MemoryLogger extends TrainerLogger {
  lines: string[];
  has(level: string, pattern: RegExp): boolean;
}

export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    has: (level, pattern) => lines.some((l) => l.startsWith(`${level}: `) && pattern.test(l)),
  };
}

/** Resolves once `predicate` holds, polling; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `p`, or a rejection saying `what` did not happen within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seeded uniform integers in [0, n) (xorshift32: every bit varies, unlike an LCG's low bits). */
export function seededInts(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** A tiny random byte-level model folder and a docs folder with one README, under `dir`. */
export function tinyWorkspace(dir: string, readme: string): { cfg: LlamaConfig; model: string; docs: string } {
  const cfg = smallConfig({ hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 259, maxPositions: 256 });
  const model = path.join(dir, 'model');
  saveModelFolder(model, cfg, randomWeights(cfg, 2, 0.2), byteLevelTokenizerJson());
  const docs = path.join(dir, 'docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'README.md'), readme);
  return { cfg, model, docs };
}

const j = (...parts: string[]): string => parts.join('');
/** Fake credentials, built so that the source holds none. */
export const FAKE = {
  aws: j('AKIA', 'Q3EXAMPLE7Z4W2LMN'.slice(0, 16)),
  github: j('ghp_', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'),
  slack: j('xoxb-', '123456789012-abcdefghijklmnop'),
  google: j('AIza', 'SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'),
  stripe: j('sk_live_', '4eC39HqLyjWDarjtT1zdp7dc'),
  npm: j('npm_', 'abcdefghijklmnopqrstuvwxyz0123456789'),
  jwt: j('eyJ', 'hbGciOiJIUzI1NiJ9', '.', 'eyJ', 'zdWIiOiIxMjM0NTY3ODkwIn0', '.', 'dBjftJeZ4CVPmB92K27uhbUJU1p1r'),
  password: j('Tr0ub4', 'dor&3-horse-Battery'),
  dbPassword: j('s3cr', 'etPassw0rd'),
  key: j('-----BEGIN ', 'RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7', 'x'.repeat(64), '\n-----END ', 'RSA PRIVATE KEY-----'),
};

/** The relative L2 distance of `a` from `b`: |a − b| / |b|. */
export const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
};
