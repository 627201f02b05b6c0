/**
 * How the trainer reads files (shared by its layers; it imports nothing of theirs): one path
 * policy for files a request names (realpath inside a workspace root, so no symlinked component
 * leads outside) and one bounded read for every file (only regular files, checked after a
 * non-blocking open, never more bytes than the limit). System trees (/proc, /sys, /dev) are
 * never walked or read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Trees of the system whose "files" are endless, blocking or device-backed. */
const SYSTEM_TREES = process.platform === 'win32' ? [] : ['/proc', '/sys', '/dev'];

/** Whether an absolute path is a system tree or lies in one. */
export function isSystemPath(abs: string): boolean {
  return SYSTEM_TREES.some((t) => abs === t || abs.startsWith(`${t}/`));
}

/** A request named a file the trainer will not read; the message names the path. */
export class PathRefused extends Error {
  override name = 'PathRefused';
}

/** realpath, or undefined when the path does not exist (or cannot be resolved). */
export function realpathOrUndefined(p: string): string | undefined {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/**
 * Whether `child` is `root` or lies below it (absolute paths; real paths where links matter).
 * Decided by path.relative, not by string prefixes: on Windows a drive letter or name in another
 * case is the same folder, a drive root (C:\\) holds its drive, another drive is outside, and '/'
 * separators count as '\\'. `p` is for tests (path.win32 on any machine).
 */
export function isInside(child: string, root: string, p: path.PlatformPath = path): boolean {
  const rel = p.relative(root, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${p.sep}`) && !p.isAbsolute(rel));
}

/** `file`'s path below `root` with '/' separators, as paths are shown and stored everywhere. */
export function relativePosix(root: string, file: string, p: path.PlatformPath = path): string {
  return p.relative(root, file).split(p.sep).join('/');
}

/**
 * Whether an absolute file path (either separator) names the file that `rel` (a path with '/'
 * separators, relative to some folder) names: it ends with it at a separator, not inside a name
 * (`src/xa.ts` is not `a.ts`).
 */
export function endsWithPath(file: string, rel: string): boolean {
  const f = file.replaceAll('\\', '/');
  return rel !== '' && (f === rel || f.endsWith(rel.startsWith('/') ? rel : `/${rel}`));
}

/**
 * The file's real location, its root (real) and its path relative to that root ('/'
 * separators), when it lies inside one of `roots` once every symlink is resolved; else a
 * PathRefused that names the path.
 */
export function resolveInside(file: string, roots: readonly string[]): { real: string; root: string; rel: string } {
  const abs = path.resolve(file);
  const real = realpathOrUndefined(abs);
  if (!real) throw new PathRefused(`${abs} does not exist`);
  if (isSystemPath(real)) throw new PathRefused(`${abs} is a system file (${real}); LIFT does not read it`);
  for (const r of roots) {
    const root = realpathOrUndefined(path.resolve(r));
    if (root && isInside(real, root)) return { real, root, rel: relativePosix(root, real) };
  }
  const via = real === abs ? '' : ` (it leads to ${real})`;
  throw new PathRefused(`${abs} is outside the workspace folders${via}; LIFT reads only files inside ${roots.map((r) => path.resolve(r)).join(', ') || 'a workspace folder'}`);
}

export type ReadRefusal = 'symlink' | 'not-regular' | 'too-large' | 'unreadable';

export type BoundedRead = { ok: true; bytes: Buffer } | { ok: false; reason: ReadRefusal; detail?: string };

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * Opens a regular file for reading without following a final symlink and without blocking (a
 * FIFO or device opens at once and is then refused by fstat): the descriptor and its size, or
 * the refusal.
 */
export function openRegular(file: string): { fd: number; size: number } | { reason: ReadRefusal; detail?: string } {
  if (isSystemPath(path.resolve(file))) return { reason: 'not-regular', detail: 'a system file' };
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ELOOP' ? { reason: 'symlink' } : { reason: 'unreadable', detail: code };
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isFile()) return { fd, size: st.size };
    fs.closeSync(fd);
    return { reason: 'not-regular', detail: st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file' };
  } catch (err) {
    fs.closeSync(fd);
    return { reason: 'unreadable', detail: (err as NodeJS.ErrnoException).code };
  }
}

/**
 * Reads a regular file (see openRegular), at most `maxBytes` of it: refused as too large when
 * more bytes come than allowed, whatever the size on disk says (/proc files say 0).
 */
export function readBounded(file: string, maxBytes: number): BoundedRead {
  const opened = openRegular(file);
  if ('reason' in opened) return { ok: false, ...opened };
  const { fd, size } = opened;
  try {
    if (size > maxBytes) return { ok: false, reason: 'too-large', detail: `${size} bytes` };
    // one byte more than allowed tells "too large" from "exactly the limit"; the size on disk is
    // only the first guess (a file may grow)
    const limit = maxBytes + 1;
    const parts: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const buf = Buffer.allocUnsafe(Math.min(limit - total, parts.length ? 64 * 1024 : size + 1));
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      parts.push(got === buf.length ? buf : buf.subarray(0, got));
      total += got;
    }
    if (total > maxBytes) return { ok: false, reason: 'too-large', detail: `more than ${maxBytes} bytes` };
    return { ok: true, bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total) };
  } catch (err) {
    return { ok: false, reason: 'unreadable', detail: (err as NodeJS.ErrnoException).code };
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes of a JSON settings file read at most (config.json, adapter_config.json, manifests). */
export const JSON_FILE_LIMIT = 16 * 2 ** 20;

/** A refusal in words, for an error message. */
export function describeRefusal(r: { reason: ReadRefusal; detail?: string }): string {
  switch (r.reason) {
    case 'symlink':
      return 'it is a symbolic link';
    case 'not-regular':
      return `it is not a regular file${r.detail ? ` (${r.detail})` : ''}`;
    case 'too-large':
      return `it is too large${r.detail ? ` (${r.detail})` : ''}`;
    default:
      return `it cannot be read${r.detail ? ` (${r.detail})` : ''}`;
  }
}

/** The error of readText: its message says which file and why. */
export class FileReadError extends Error {
  override name = 'FileReadError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A regular file's text (a model's config.json or tokenizer.json, an adapter's manifest), read
 * as readBounded does; a FileReadError says why ("it is not a regular file (a FIFO)"; an errno
 * such as ENOENT is kept as `code`).
 */
export function readText(file: string, maxBytes: number): string {
  const r = readBounded(file, maxBytes);
  if (!r.ok) throw new FileReadError(r.reason === 'unreadable' && r.detail === 'ENOENT' ? 'it does not exist' : describeRefusal(r), r.reason === 'unreadable' ? r.detail : undefined);
  return r.bytes.toString('utf8');
}
