/**
 * Quantized weights kept beside the model (`<model>/.lift/weights-int8-….bin`), so that answering
 * in 8 or 4 bits quantizes a model once, not at every start (a 0.5B model's linears took 16–25 s
 * on a 2-core machine). Keyed by the model files' stamp (sizes and times): changed weights make a
 * new file and the old one is removed. Written whole and renamed into place; a folder that cannot
 * be written (read-only, full) just goes without a cache; a file that does not read back whole is
 * ignored and written again.
 *
 * Layout: "LIFTQ1\n", a u32 (LE) length, a JSON table {name, bits, blockSize, K, N, data, scales}
 * (byte counts), then each entry's packed data and float32 scales, in the table's order.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockQuantized } from './quantize';
import { modelStamp } from './weights';

const MAGIC = Buffer.from('LIFTQ1\n', 'latin1');

interface Entry {
  name: string;
  bits: 4 | 8;
  blockSize: number;
  K: number;
  N: number;
  data: number;
  scales: number;
}

/** The cache file for `bits` of the model in `dir` as it is now. */
export function quantCacheFile(dir: string, bits: 4 | 8, blockSize = 32): string {
  const key = createHash('sha256').update(modelStamp(dir)).digest('hex').slice(0, 16);
  return path.join(dir, '.lift', `weights-int${bits}-b${blockSize}-${key}.bin`);
}

/** The cached weights by name, or undefined when there is no whole file for this model. */
export function readQuantCache(file: string): Map<string, BlockQuantized> | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const headLength = buf.readUInt32LE(MAGIC.length);
    const table = JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + headLength).toString('utf8')) as Entry[];
    let at = MAGIC.length + 4 + headLength;
    const out = new Map<string, BlockQuantized>();
    for (const e of table) {
      const blocks = Math.ceil(e.K / e.blockSize);
      if (e.data !== e.N * blocks * ((e.blockSize * e.bits) / 8) || e.scales !== 4 * e.N * blocks) return undefined;
      const data = new Uint8Array(buf.subarray(at, at + e.data));
      at += e.data;
      const scales = new Float32Array(e.N * blocks);
      new Uint8Array(scales.buffer).set(buf.subarray(at, at + e.scales));
      at += e.scales;
      out.set(e.name, { bits: e.bits, blockSize: e.blockSize, K: e.K, N: e.N, data, scales });
    }
    return at === buf.length ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the cache (beside, then renamed into place) and removes this model's older cache files
 * of the same width. Returns why it could not, instead of throwing: answering goes on without it.
 */
export function writeQuantCache(file: string, weights: ReadonlyMap<string, BlockQuantized>): string | undefined {
  const table: Entry[] = [...weights].map(([name, q]) => ({ name, bits: q.bits, blockSize: q.blockSize, K: q.K, N: q.N, data: q.data.length, scales: q.scales.byteLength }));
  const head = Buffer.from(JSON.stringify(table), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(head.length);
  const tmp = `${file}.${process.pid}.partial`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const part of [MAGIC, length, head]) fs.writeSync(fd, part);
      for (const q of weights.values()) {
        fs.writeSync(fd, q.data);
        fs.writeSync(fd, new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength));
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    const prefix = path.basename(file).replace(/[0-9a-f]{16}\.bin$/, '');
    for (const old of fs.readdirSync(path.dirname(file))) if (old.startsWith(prefix) && old !== path.basename(file)) fs.rmSync(path.join(path.dirname(file), old), { force: true });
    return undefined;
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // the folder itself is not there to hold it
    }
    return (err as Error).message;
  }
}
