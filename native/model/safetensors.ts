/**
 * Safetensors files: a little-endian u64 header length, a JSON header (name → dtype, shape,
 * data_offsets), then the raw data. Reading checks every header entry against the file before
 * any tensor is read, and reads tensors one at a time from the file descriptor (no whole-file
 * buffer). Writing is atomic (temporary file, fsync, rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRefusal, openRegular } from '../files';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** Headers above this are refused (real ones are kilobytes to a few megabytes). */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface TensorEntry {
  dtype: SafeDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly file: string,
    readonly tensors: ReadonlyMap<string, TensorEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens and validates a file; throws a SafetensorsError naming the file (and tensor). */
  static open(file: string): SafetensorsFile {
    const fail = (msg: string): never => {
      throw new SafetensorsError(`${path.basename(file)}: ${msg}`);
    };
    // a regular file only, opened without blocking (a FIFO in a model folder must not hang the trainer)
    const opened = openRegular(file);
    if ('reason' in opened) return fail(opened.reason === 'unreadable' ? `cannot open (${opened.detail})` : `cannot open: ${describeRefusal(opened)}`);
    const { fd, size } = opened;
    try {
      if (size < 8) fail(`too short to be a safetensors file (${size} bytes)`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      if (Number(headerLen) + 8 > size) fail(`header length ${headerLen} runs past the end of the file (${size} bytes): truncated?`);
      const headerBuf = Buffer.alloc(Number(headerLen));
      fs.readSync(fd, headerBuf, 0, headerBuf.length, 8);
      let header: unknown;
      try {
        header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBuf));
      } catch (err) {
        return fail(`header is not valid JSON (${(err as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
      const dataStart = 8 + Number(headerLen);
      const tensors = new Map<string, TensorEntry>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          metadata = raw as Record<string, string>;
          continue;
        }
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        const where = `tensor "${name}"`;
        if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) fail(`${where}: unsupported dtype ${JSON.stringify(e?.dtype)}`);
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`${where}: bad shape ${JSON.stringify(e.shape)}`);
        const offs = e.data_offsets;
        if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0]) {
          fail(`${where}: bad data_offsets ${JSON.stringify(offs)}`);
        }
        const [b, en] = offs as [number, number];
        const shape = e.shape as number[];
        const expected = shape.reduce((p, d) => p * d, 1) * DTYPE_BYTES[e.dtype as SafeDType];
        if (en - b !== expected) fail(`${where}: ${en - b} bytes of data for shape [${shape.join(', ')}] ${e.dtype} (expected ${expected})`);
        if (dataStart + en > size) fail(`${where}: data ends at byte ${dataStart + en}, past the end of the file (${size} bytes): truncated?`);
        tensors.set(name, { dtype: e.dtype as SafeDType, shape, begin: dataStart + b, end: dataStart + en });
      }
      return new SafetensorsFile(file, tensors, metadata);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Reads one tensor as float32 (F32/F16/BF16/F64 converted). */
  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    const e = this.tensors.get(name);
    if (!e) throw new SafetensorsError(`${path.basename(this.file)}: no tensor "${name}"`);
    const bytes = Buffer.alloc(e.end - e.begin);
    const fd = fs.openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < bytes.length) {
        const n = fs.readSync(fd, bytes, done, bytes.length - done, e.begin + done);
        if (n === 0) throw new SafetensorsError(`${path.basename(this.file)}: tensor "${name}" is cut short`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return { shape: e.shape, data: toFloat32(e.dtype, bytes, `${path.basename(this.file)}: tensor "${name}"`) };
  }
}

function toFloat32(dtype: SafeDType, bytes: Buffer, where: string): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32' && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n); // safetensors is little-endian, like x64 and arm64
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'F16': {
      const table = halfTable();
      for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      return out;
    }
    default:
      throw new SafetensorsError(`${where}: ${dtype} is not a floating-point type`);
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

let halves: Float32Array | undefined;
/** Every half-precision bit pattern's value (256 KiB, built once): a lookup instead of the arithmetic per value. */
function halfTable(): Float32Array {
  return (halves ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h)));
}

/** The float32 values of half-precision bits (exactly halfToFloat's), into `out` when given. */
export function fromHalfBits(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const table = halfTable();
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** IEEE half precision bits of a number, rounded to nearest even (too large: ±Infinity). */
export function floatToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  const roundEven = (x: number): number => {
    const f = Math.floor(x);
    const r = x - f;
    return r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
  };
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal (rounding up may reach the smallest normal: same bits)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // a mantissa that rounds up to 1024 carries into the exponent: the sum is still the right bits
  return sign | (((e + 15) << 10) + roundEven((a / 2 ** e - 1) * 1024));
}

/**
 * IEEE half bits of a whole float32 array, rounded to nearest even: the same bits as
 * `floatToHalf`, computed on the float32 bit patterns (fast enough for a 0.5B-parameter model;
 * TypedArray.from with a map would also first collect every value into a JS array).
 */
export function toHalfBits(data: Float32Array): Uint16Array {
  const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = mant ? 0x7e00 : sign | 0x7c00; // NaN (as floatToHalf gives it) or ±Infinity
      continue;
    }
    const e = exp - 112; // the half-precision exponent (bias 15)
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // subnormal in half precision (or zero): the 24-bit mantissa shifted down, rounded
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const q = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      out[i] = sign | (rem > halfway || (rem === halfway && q & 1) ? q + 1 : q);
      continue;
    }
    const r = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    // a carry out of the mantissa raises the exponent (up to Infinity): still the right bits
    out[i] = sign | (rem > 0x1000 || (rem === 0x1000 && r & 1) ? r + 1 : r);
  }
  return out;
}

/** Writes float32 tensors as a safetensors file (stored as F32, or F16 to halve it), atomically. */
export function writeSafetensors(file: string, tensors: Record<string, { shape: readonly number[]; data: Float32Array }>, metadata?: Record<string, string>, dtype: 'F32' | 'F16' = 'F32'): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  const bytes = (d: Float32Array): Uint8Array => {
    if (dtype === 'F32') return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    return new Uint8Array(toHalfBits(d).buffer);
  };
  const width = dtype === 'F32' ? 4 : 2;
  for (const name of names) {
    const t = tensors[name]!;
    const count = t.shape.reduce((p, d) => p * d, 1);
    if (count !== t.data.length) throw new SafetensorsError(`${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + count * width] };
    offset += count * width;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, json);
    for (const name of names) fs.writeSync(fd, bytes(tensors[name]!.data));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
