/** Writing a model with external data to disk, atomically (temporary names, then rename). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel, externalize, type Model } from './model';

/**
 * Writes `file` and, when any initializer is at least `minBytes`, `file + '.data'` beside it.
 * Tensors are written one at a time, so the data file may exceed what one buffer can hold.
 */
export function saveModel(m: Model, file: string, minBytes = 1024): { model: string; data?: string } {
  const location = `${path.basename(file)}.data`;
  const { model, pieces } = externalize(m, location, minBytes);
  const tmp = (f: string) => `${f}.tmp-${process.pid}`;
  let data: string | undefined;
  if (pieces.length) {
    data = path.join(path.dirname(file), location);
    const fd = fs.openSync(tmp(data), 'w');
    try {
      for (const p of pieces) fs.writeSync(fd, p.data, 0, p.data.length, p.offset);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.writeFileSync(tmp(file), encodeModel(model));
  if (data) fs.renameSync(tmp(data), data);
  fs.renameSync(tmp(file), file);
  return { model: file, data };
}
