/** Human-readable trainer status, for the CLI and the extension's log. */
import type { TrainerStatus } from './protocol';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

export function formatStatus(s: TrainerStatus): string {
  const lines = [
    `trainer ${s.trainerVersion}, pid ${s.pid}, node ${s.node} (${s.platform}-${s.arch})`,
    `memory: rss ${mib(s.memory.rssBytes)}, system ${mib(s.memory.systemFreeBytes)} free of ${mib(s.memory.systemTotalBytes)}`,
  ];
  const ort = s.onnxruntime;
  if (!ort.loaded) {
    lines.push(`ONNX Runtime: FAILED to load: ${ort.error}`);
  } else {
    lines.push(`ONNX Runtime ${ort.version}`);
    for (const p of ort.providers) lines.push(`  provider ${p.name}: ${p.available ? 'available' : `unavailable (${p.reason})`}`);
    const t = ort.selfTest;
    lines.push(
      `  self-test on ${t.provider}: ${t.ok ? 'ok' : 'WRONG RESULT'}, y = [${t.output.map((v) => v.toFixed(3)).join(', ')}], expected [${t.expected.join(', ')}] (${t.ms.toFixed(1)} ms)`,
    );
  }
  return lines.join('\n');
}
