/** A terminal progress bar for learning: one line redrawn on a TTY, a line every 50 steps otherwise. */
import type { LearnProgress } from './protocol';

export function learnProgressPrinter(out: NodeJS.WriteStream = process.stderr): { onProgress: (p: LearnProgress) => void; done: () => void } {
  const tty = out.isTTY;
  let lastLine = '';
  return {
    onProgress: (p) => {
      let line: string;
      if (p.phase === 'train' && p.step && p.totalSteps) {
        const width = 24;
        const filled = Math.round((width * p.step) / p.totalSteps);
        const pct = Math.floor((100 * p.step) / p.totalSteps);
        line = `train [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${p.step}/${p.totalSteps} loss ${p.loss?.toFixed(3)} ${p.tokensPerSecond?.toFixed(0)} tokens/s ETA ${Math.ceil(p.etaSeconds ?? 0)} s`;
      } else line = `${p.phase}${p.message ? `: ${p.message}` : ''}`;
      if (tty) out.write(`\r${line.padEnd(lastLine.length)}`);
      else if (p.phase !== 'train' || p.step === p.totalSteps || (p.step ?? 0) % 50 === 0) out.write(`${line}\n`);
      lastLine = line;
    },
    done: () => void (tty && lastLine && out.write('\n')),
  };
}
