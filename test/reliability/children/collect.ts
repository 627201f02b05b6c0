/** Collects one root and prints what it took, the time and this process's peak RSS as JSON (for scale.test.ts). */
import * as fs from 'node:fs';
import { collect } from '../../../native/lift/corpus';

const peakRss = (): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

void (async () => {
  const before = peakRss();
  const started = performance.now();
  const { files, report } = await collect([process.argv[2]!]);
  const seconds = (performance.now() - started) / 1000;
  const reasons: Record<string, number> = {};
  for (const s of report.skipped) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
  const text = files.reduce((a, f) => a + f.text.length, 0);
  process.stdout.write(`${JSON.stringify({ mode: Object.values(report.mode)[0], taken: files.length, text, totalBytes: report.totalBytes, reasons, seconds, before, peak: peakRss() })}\n`);
})();
