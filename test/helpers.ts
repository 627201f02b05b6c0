/** Shared by the node:test suites. */
import * as path from 'node:path';
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
