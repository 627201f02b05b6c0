/**
 * `lift bench collect`: corpus collection (lift/corpus.ts `collect`, with the product's default
 * limits) over a large tree, the repository's own node_modules: candidates considered and files
 * taken per second, MB/s of text taken, and the peak RSS it adds; next to a plain recursive read
 * of the same tree in the same run (the machine's file-system reference).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { collect, type CollectReport } from '../lift/corpus';

const RUNS = 3;
const MB = 1e6;
const MAX_FILE_BYTES = 1024 * 1024; // collect's default

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A full garbage collection when V8 allows one to be asked for (so that RSS before a run is not last run's garbage). */
function gcFunction(): () => void {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
}

/** VmRSS and VmHWM (peak) in bytes from /proc; the peak is reset to the current RSS first where Linux allows it. */
function memory(): { rss: number; hwm: number } | undefined {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Measures `job`'s wall time and the peak RSS it adds above the RSS before it. */
async function measured<T>(gc: () => void, job: () => Promise<T>): Promise<{ value: T; s: number; peakIncrease: number; how: string }> {
  gc();
  const reset = resetPeak();
  const before = memory();
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  const value = await job();
  const s = (performance.now() - t) / 1000;
  const after = memory();
  if (reset && before && after) return { value, s, peakIncrease: after.hwm - before.rss, how: 'VmHWM (reset before the run) − VmRSS before' };
  return { value, s, peakIncrease: process.resourceUsage().maxRSS * 1024 - maxBefore, how: 'maxRSS after − maxRSS before (0 when the run did not set a new peak)' };
}

/** The plain reference: readdir every folder, read every regular file up to collect's size limit; symlinks not followed. */
function plainRead(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const visit = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) {
        files++;
        if (fs.statSync(p).size <= MAX_FILE_BYTES) bytes += fs.readFileSync(p).length;
      }
    }
  };
  visit(root);
  return { files, bytes };
}

const reasons = (r: CollectReport): Record<string, number> => {
  const n: Record<string, number> = {};
  for (const s of r.skipped) n[s.reason] = (n[s.reason] ?? 0) + 1;
  return n;
};
/** Files decided on: taken plus skipped files (folders skipped whole by an ignore rule end with '/'). */
const considered = (r: CollectReport): number => r.taken.length + r.skipped.filter((s) => !s.path.endsWith('/') && s.path !== '.').length;

export async function benchCollect(log: (line: string) => void = console.log): Promise<Record<string, unknown>[]> {
  const repo = path.join(__dirname, '..');
  const root = path.join(repo, 'node_modules');
  if (!fs.existsSync(root)) {
    log(`skipped: ${root} does not exist (run npm install)`);
    return [{ note: `skipped: ${root} does not exist` }];
  }
  const gc = gcFunction();
  const results: Record<string, unknown>[] = [];
  const shown = path.relative(process.cwd(), root) || root;

  // RUNS times, each followed by the plain read of the same tree (node_modules is git-ignored
  // here, so collect walks it as a folder of its own, as the editor would)
  const runs: { s: number; peak: number; how: string; report: CollectReport }[] = [];
  const plain: { s: number; files: number; bytes: number }[] = [];
  plainRead(root); // warm the page cache for both
  for (let i = 0; i < RUNS; i++) {
    const c = await measured(gc, () => collect([root]));
    runs.push({ s: c.s, peak: c.peakIncrease, how: c.how, report: c.value.report });
    const t = performance.now();
    const p = plainRead(root);
    plain.push({ s: (performance.now() - t) / 1000, ...p });
  }
  const r = runs.at(-1)!.report;
  const s = median(runs.map((x) => x.s));
  const ps = median(plain.map((x) => x.s));
  const p = plain.at(-1)!;
  const row = {
    run: 'walk',
    root: shown,
    mode: r.mode[path.resolve(root)],
    median_s: s,
    candidates: considered(r),
    taken: r.taken.length,
    taken_mb: r.totalBytes / MB,
    candidates_per_s: considered(r) / s,
    taken_per_s: r.taken.length / s,
    taken_mb_per_s: r.totalBytes / MB / s,
    peak_rss_increase_mb: median(runs.map((x) => x.peak)) / MB,
    peak_rss_measured_as: runs[0]!.how,
    redactions: r.redactions.length,
    skipped: reasons(r),
    plain_read_median_s: ps,
    plain_read_files: p.files,
    plain_read_mb: p.bytes / MB,
    plain_read_files_per_s: p.files / ps,
    plain_read_mb_per_s: p.bytes / MB / ps,
    collect_time_vs_plain_read: s / ps,
  };
  results.push(row);
  log(
    `collect ${shown} walked: ${row.candidates} files considered, ${row.taken} taken (${row.taken_mb.toFixed(1)} MB) in ${s.toFixed(2)} s (median of ${RUNS}): ` +
      `${row.candidates_per_s.toFixed(0)} considered/s, ${row.taken_per_s.toFixed(0)} taken/s, ${row.taken_mb_per_s.toFixed(1)} MB/s taken; peak RSS +${row.peak_rss_increase_mb.toFixed(0)} MB`,
  );
  log(`  skipped: ${JSON.stringify(row.skipped)}; ${row.redactions} redactions`);
  log(
    `plain recursive read of the same tree: ${p.files} files, ${row.plain_read_mb.toFixed(1)} MB (files ≤ 1 MiB) in ${ps.toFixed(2)} s: ` +
      `${row.plain_read_files_per_s.toFixed(0)} files/s, ${row.plain_read_mb_per_s.toFixed(1)} MB/s → collect takes ${row.collect_time_vs_plain_read.toFixed(2)}× its time`,
  );
  return results;
}
