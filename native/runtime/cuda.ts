/**
 * GPU support, installed only when the user asks: the CUDA provider libraries of exactly the ONNX
 * Runtime version the trainer runs, from the NuGet package onnxruntime-node's own install script
 * uses (Microsoft.ML.OnnxRuntime.Gpu.Linux), checked against the SHA-512 the feed publishes and
 * against the package's version, placed beside a copy of the runtime in the extension's storage
 * (the installed extension stays untouched); or taken from a folder the user points to. What the
 * provider needs from the system (the driver, CUDA and cuDNN libraries) is read from its ELF
 * dependencies and reported in plain words. This is the only code in the trainer that opens a
 * network connection.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import yauzl from 'yauzl';
import { describeFsError } from '../fsError';

export const NUGET_FEED = 'https://api.nuget.org/v3/index.json';
export const NUGET_ID = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
/** What the provider needs beside libonnxruntime: both come from the package (or the folder). */
export const PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;
const IN_PACKAGE = 'runtimes/linux-x64/native/';
/** The marker of a complete install, written last. */
export const INSTALL_RECORD = 'lift-gpu.json';

export class GpuInstallError extends Error {
  override name = 'GpuInstallError';
}
export class GpuInstallCancelled extends Error {
  override name = 'GpuInstallCancelled';
}

export interface GpuInstallProgress {
  phase: 'resolve' | 'download' | 'verify' | 'extract' | 'check';
  received?: number;
  total?: number;
  message?: string;
}

export interface GpuInstallOptions {
  /** Where installs live (the extension's global storage). */
  storageDir: string;
  /** A NuGet v3 service index (default: nuget.org). */
  feed?: string;
  /** Provider libraries already on disk: copied from here, nothing downloaded. */
  folder?: string;
  /** The ONNX Runtime version to match (default: the installed onnxruntime-node's). */
  version?: string;
  onProgress?: (p: GpuInstallProgress) => void;
  isCancelled?: () => boolean;
}

export interface GpuInstall {
  /** The folder to load ONNX Runtime from (`LIFT_ORT_DIR`). */
  ortDir: string;
  version: string;
  source: string;
  sha512?: string;
  /** What the provider needs that this system lacks, in plain words (empty: nothing). */
  missing: string[];
}

/** The installed onnxruntime-node package folder and its version. */
export function runtimePackage(): { dir: string; version: string } {
  const file = require.resolve('onnxruntime-node/package.json');
  return { dir: path.dirname(file), version: (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version };
}

/** The folder of package `name` as seen from `from` (its exports may not list package.json). */
function packageDir(name: string, from: string): string {
  let dir = path.dirname(require.resolve(name, { paths: [from] }));
  while (!fs.existsSync(path.join(dir, 'package.json')) || (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new GpuInstallError(`cannot find the ${name} package`);
    dir = up;
  }
  return dir;
}

/** Where a runtime package keeps its native libraries for this platform. */
export const binaryDirOf = (pkgDir: string): string => path.join(pkgDir, 'bin', 'napi-v6', process.platform, process.arch);

/** The folder an install of `version` lives in. */
export const installDir = (storageDir: string, version: string): string => path.join(storageDir, `onnxruntime-cuda-${version}`);

// ---- HTTP ----

function get(url: string, isCancelled: () => boolean, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : url.startsWith('http:') ? http : undefined;
    if (!lib) return reject(new GpuInstallError(`not an http(s) address: ${url}`));
    const req = lib.get(url, { headers: { 'accept-encoding': 'gzip', 'user-agent': 'lift-vscode' }, timeout: 60_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(get(new URL(res.headers.location, url).toString(), isCancelled, redirects - 1));
      } else if (status !== 200) {
        res.resume();
        reject(new GpuInstallError(`the package feed answered ${status} for ${url}`));
      } else resolve(res);
    });
    req.on('timeout', () => req.destroy(new GpuInstallError(`no answer from ${new URL(url).host} within 60 s`)));
    req.on('error', (err) => reject(err instanceof GpuInstallError || err instanceof GpuInstallCancelled ? err : new GpuInstallError(`cannot reach ${new URL(url).host}: ${err.message}`)));
    if (isCancelled()) req.destroy(new GpuInstallCancelled('cancelled'));
  });
}

async function getJson(url: string, isCancelled: () => boolean): Promise<Record<string, unknown>> {
  const res = await get(url, isCancelled);
  const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
  let text = '';
  for await (const chunk of body) text += chunk;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new GpuInstallError(`the package feed sent something that is not JSON for ${url}`);
  }
}

/** Where the package is and the SHA-512 the feed publishes for it. */
async function resolvePackage(feed: string, version: string, isCancelled: () => boolean): Promise<{ url: string; sha512: string; size?: number }> {
  const index = await getJson(feed, isCancelled);
  const resources = Array.isArray(index.resources) ? (index.resources as { '@id'?: string; '@type'?: string }[]) : [];
  const find = (type: string): string | undefined => resources.find((r) => r['@type'] === type)?.['@id'];
  const base = find('PackageBaseAddress/3.0.0');
  const registrations = find('RegistrationsBaseUrl/3.6.0') ?? find('RegistrationsBaseUrl/3.4.0') ?? find('RegistrationsBaseUrl');
  if (!base || !registrations) throw new GpuInstallError(`${feed} is not a NuGet v3 feed (no package or registration address)`);
  const id = NUGET_ID.toLowerCase();
  const slash = (u: string): string => (u.endsWith('/') ? u : `${u}/`);
  let leaf: Record<string, unknown>;
  try {
    leaf = await getJson(`${slash(registrations)}${id}/${version}.json`, isCancelled);
  } catch (err) {
    if (err instanceof GpuInstallError && /answered 404/.test(err.message)) {
      throw new GpuInstallError(`the feed has no ${NUGET_ID} ${version}, the version of this ONNX Runtime: the CUDA provider must match it exactly`);
    }
    throw err;
  }
  const entry = typeof leaf.catalogEntry === 'string' ? await getJson(leaf.catalogEntry, isCancelled) : (leaf.catalogEntry as Record<string, unknown> | undefined);
  const sha512 = entry?.packageHash;
  if (typeof sha512 !== 'string' || (entry?.packageHashAlgorithm ?? 'SHA512') !== 'SHA512') throw new GpuInstallError('the feed publishes no SHA-512 for the package: it cannot be verified, so it is not installed');
  if (entry?.version !== undefined && String(entry.version).toLowerCase() !== version.toLowerCase()) {
    throw new GpuInstallError(`the feed lists version ${String(entry.version)} where ${version} was asked for`);
  }
  const size = typeof entry?.packageSize === 'number' ? entry.packageSize : undefined;
  return { url: `${slash(base)}${id}/${version}/${id}.${version}.nupkg`, sha512, size };
}

/** Streams `url` into `dest`, hashing as it goes; an early end or a cancel leaves no file. */
async function download(url: string, dest: string, o: Required<Pick<GpuInstallOptions, 'isCancelled' | 'onProgress'>>): Promise<{ sha512: string; bytes: number }> {
  const res = await get(url, o.isCancelled);
  const total = Number(res.headers['content-length']) || undefined;
  if (total) {
    let free: number | undefined;
    try {
      const s = fs.statfsSync(path.dirname(dest));
      free = s.bavail * s.bsize;
    } catch {
      /* unknown: the writes will tell */
    }
    // the package, then the libraries out of it, then the runtime's own copy
    if (free !== undefined && free < 2 * total + 128 * 2 ** 20) {
      res.destroy();
      throw new GpuInstallError(`the disk holding ${path.dirname(dest)} has ${(free / 2 ** 20).toFixed(0)} MB free; GPU support needs about ${((2 * total) / 2 ** 20 + 128).toFixed(0)} MB`);
    }
  }
  const hash = createHash('sha512');
  const out = fs.createWriteStream(dest);
  let bytes = 0;
  let last = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        reject(err); // first: destroying the response emits 'aborted' synchronously
        res.destroy();
        out.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        if (o.isCancelled()) return fail(new GpuInstallCancelled('cancelled'));
        bytes += chunk.length;
        hash.update(chunk);
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
        if (bytes - last > 2 ** 20 || bytes === total) {
          last = bytes;
          o.onProgress({ phase: 'download', received: bytes, total });
        }
      });
      res.on('aborted', () => fail(new GpuInstallError(`the download was interrupted after ${bytes} of ${total ?? '?'} bytes; try again`)));
      res.on('error', (err) => fail(new GpuInstallError(`the download was interrupted after ${bytes} of ${total ?? '?'} bytes (${err.message}); try again`)));
      res.on('end', () => {
        if (total !== undefined && bytes !== total) return fail(new GpuInstallError(`the download was interrupted after ${bytes} of ${total} bytes; try again`));
        out.end(() => {
          if (!settled) resolve();
        });
      });
      out.on('error', (err) => fail(new GpuInstallError(`cannot write the download: ${describeFsError(err)}`)));
    });
  } catch (err) {
    fs.rmSync(dest, { force: true });
    throw err;
  }
  return { sha512: hash.digest('base64'), bytes };
}

// ---- the package ----

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) => (err || !zip ? reject(new GpuInstallError(`the package is not a valid archive: ${err?.message}`)) : resolve(zip))));
}

/** The package's nuspec version, and its provider libraries extracted into `destDir`. */
async function extractPackage(file: string, destDir: string, isCancelled: () => boolean): Promise<{ version: string | undefined; files: string[] }> {
  const zip = await openZip(file);
  const wanted = new Set(PROVIDER_FILES.map((f) => IN_PACKAGE + f));
  const files: string[] = [];
  let version: string | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err: Error) => reject(new GpuInstallError(`the package is damaged: ${err.message}`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (isCancelled()) return reject(new GpuInstallCancelled('cancelled'));
        const isNuspec = !entry.fileName.includes('/') && entry.fileName.endsWith('.nuspec');
        if (!isNuspec && !wanted.has(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(new GpuInstallError(`the package is damaged: ${err?.message}`));
          stream.on('error', (e) => reject(new GpuInstallError(`the package is damaged: ${e.message}`)));
          if (isNuspec) {
            let text = '';
            stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
            stream.on('end', () => {
              version = /<version>\s*([^<\s]+)\s*<\/version>/.exec(text)?.[1];
              zip.readEntry();
            });
          } else {
            const name = path.basename(entry.fileName);
            const out = fs.createWriteStream(path.join(destDir, name));
            out.on('error', (e) => reject(new GpuInstallError(`cannot write ${name}: ${describeFsError(e)}`)));
            out.on('finish', () => {
              files.push(name);
              zip.readEntry();
            });
            stream.pipe(out);
          }
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return { version, files };
}

// ---- what the provider needs from the system ----

/** The DT_NEEDED sonames of a 64-bit little-endian ELF shared library. */
export function elfNeeded(file: string): string[] {
  const b = fs.readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new GpuInstallError(`${path.basename(file)} is not a 64-bit little-endian ELF library`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const section = (i: number): { type: number; offset: number; size: number; link: number } => {
    const at = shoff + i * shentsize;
    if (at + 64 > b.length) throw new GpuInstallError(`${path.basename(file)}: section table out of range`);
    return { type: b.readUInt32LE(at + 4), offset: Number(b.readBigUInt64LE(at + 0x18)), size: Number(b.readBigUInt64LE(at + 0x20)), link: b.readUInt32LE(at + 0x28) };
  };
  const needed: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== 6) continue; // SHT_DYNAMIC
    const strtab = section(s.link);
    for (let at = s.offset; at + 16 <= Math.min(s.offset + s.size, b.length); at += 16) {
      const tag = b.readBigInt64LE(at);
      if (tag === 0n) break;
      if (tag !== 1n) continue; // DT_NEEDED
      const start = strtab.offset + Number(b.readBigUInt64LE(at + 8));
      const end = b.indexOf(0, start);
      if (start >= b.length || end < 0) throw new GpuInstallError(`${path.basename(file)}: a dependency name is out of range`);
      needed.push(b.toString('utf8', start, end));
    }
  }
  return needed;
}

/** Folders the dynamic loader searches: LD_LIBRARY_PATH, its cache, the usual places. */
function libraryIndex(extraDirs: readonly string[]): Set<string> {
  const names = new Set<string>();
  const dirs = [...extraDirs, ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/usr/local/cuda/lib64'];
  for (const d of dirs) {
    try {
      for (const n of fs.readdirSync(d)) names.add(n);
    } catch {
      /* not there */
    }
  }
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const out = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 * 2 ** 20 });
      for (const m of out.matchAll(/^\s*(\S+)\s/gm)) names.add(m[1]!);
      break;
    } catch {
      /* try the next */
    }
  }
  return names;
}

const WHAT: [RegExp, string][] = [
  [/^libcuda\.so/, 'the NVIDIA driver (libcuda)'],
  [/^libcudnn/, 'cuDNN'],
  [/^lib(cudart|cublas|cublasLt|cufft|curand|cusparse|cusolver|nvrtc|nvJitLink)\.so/, 'the CUDA toolkit runtime'],
];

/** The provider's dependencies that the loader cannot find here, grouped in plain words. */
export function missingDependencies(libDir: string): string[] {
  const needed = PROVIDER_FILES.flatMap((f) => (fs.existsSync(path.join(libDir, f)) ? elfNeeded(path.join(libDir, f)) : []));
  const have = libraryIndex([libDir]);
  const missing = [...new Set(needed)].filter((n) => !have.has(n));
  const groups = new Map<string, string[]>();
  for (const n of missing) {
    const what = WHAT.find(([re]) => re.test(n))?.[1] ?? 'other libraries';
    groups.set(what, [...(groups.get(what) ?? []), n]);
  }
  return [...groups].map(([what, libs]) => `${what}: ${libs.join(', ')} not found (install it, or add its folder to LD_LIBRARY_PATH before VS Code starts)`);
}

// ---- the device ----

/** The first GPU's name and memory, from nvidia-smi (the driver's tool); undefined without one. */
export function gpuMemory(): { name: string; totalBytes: number; freeBytes: number } | undefined {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,memory.free', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const [name, total, free] = out.trim().split('\n')[0]!.split(',').map((x) => x.trim());
    const MiB = 2 ** 20;
    if (!name || !(Number(total) > 0) || !(Number(free) >= 0)) return undefined;
    return { name, totalBytes: Number(total) * MiB, freeBytes: Number(free) * MiB };
  } catch {
    return undefined;
  }
}

// ---- the install ----

/**
 * Why GPU support cannot be set up on this platform, or undefined on linux-x64: onnxruntime-node
 * builds its CUDA provider for Linux x64 only (the NuGet package it comes from has no other), so
 * elsewhere nothing is downloaded.
 */
export function gpuUnsupportedReason(platform: string = process.platform, arch: string = process.arch): string | undefined {
  if (platform === 'linux' && arch === 'x64') return undefined;
  return `GPU (CUDA) support is available on Linux x64 only: ONNX Runtime's CUDA provider for Node.js is built for no other platform (this is ${platform}-${arch}). LIFT learns on the CPU here.`;
}

/**
 * Installs GPU support into `storageDir`: a copy of the runtime with the CUDA provider beside
 * it, built in a temporary folder and moved into place whole. Any failure or a cancel leaves the
 * previous install (if any) and the CPU runtime as they were.
 */
export async function installGpu(o: GpuInstallOptions): Promise<GpuInstall> {
  const unsupported = gpuUnsupportedReason();
  if (unsupported) throw new GpuInstallError(unsupported);
  const isCancelled = o.isCancelled ?? (() => false);
  const onProgress = o.onProgress ?? (() => undefined);
  const runtime = runtimePackage();
  const version = o.version ?? runtime.version;
  const cancelled = (): void => {
    if (isCancelled()) throw new GpuInstallCancelled('GPU set-up was cancelled; nothing was changed.');
  };
  try {
    fs.mkdirSync(o.storageDir, { recursive: true });
  } catch (err) {
    throw new GpuInstallError(`cannot create ${o.storageDir}: ${describeFsError(err)}`);
  }
  const staging = fs.mkdtempSync(path.join(o.storageDir, '.gpu-install-'));
  try {
    // the runtime's JS and CPU library, copied so that the provider can sit beside them
    const pkgDir = path.join(staging, 'node_modules', 'onnxruntime-node');
    const libDir = binaryDirOf(pkgDir);
    const copyRuntime = (): void => {
      fs.cpSync(runtime.dir, pkgDir, { recursive: true });
      fs.cpSync(packageDir('onnxruntime-common', runtime.dir), path.join(staging, 'node_modules', 'onnxruntime-common'), { recursive: true });
    };
    let source: string;
    let sha512: string | undefined;
    if (o.folder) {
      source = o.folder;
      const absent = PROVIDER_FILES.filter((f) => !fs.existsSync(path.join(o.folder!, f)));
      if (absent.length) throw new GpuInstallError(`${o.folder} does not hold ${absent.join(' and ')} (from the ${NUGET_ID} ${version} package, or an ONNX Runtime ${version} GPU build)`);
      copyRuntime();
      for (const f of PROVIDER_FILES) fs.copyFileSync(path.join(o.folder, f), path.join(libDir, f));
    } else {
      const feed = o.feed ?? NUGET_FEED;
      onProgress({ phase: 'resolve', message: `${NUGET_ID} ${version}` });
      const pkg = await resolvePackage(feed, version, isCancelled);
      cancelled();
      const file = path.join(staging, `${NUGET_ID.toLowerCase()}.${version}.nupkg`);
      const got = await download(pkg.url, file, { isCancelled, onProgress });
      onProgress({ phase: 'verify' });
      if (got.sha512 !== pkg.sha512) throw new GpuInstallError(`the downloaded package does not match the SHA-512 the feed publishes (got ${got.sha512.slice(0, 16)}…, expected ${pkg.sha512.slice(0, 16)}…); it was deleted`);
      cancelled();
      onProgress({ phase: 'extract' });
      copyRuntime();
      const { version: inside, files } = await extractPackage(file, libDir, isCancelled);
      if (inside?.toLowerCase() !== version.toLowerCase()) throw new GpuInstallError(`the package holds ONNX Runtime ${inside ?? '(no version)'}, not ${version}: the CUDA provider must match the runtime exactly`);
      const absent = PROVIDER_FILES.filter((f) => !files.includes(f));
      if (absent.length) throw new GpuInstallError(`the package has no ${absent.join(' or ')} for linux-x64`);
      fs.rmSync(file, { force: true });
      source = pkg.url;
      sha512 = got.sha512;
    }
    cancelled();
    onProgress({ phase: 'check' });
    const missing = missingDependencies(libDir);
    fs.writeFileSync(path.join(staging, INSTALL_RECORD), `${JSON.stringify({ version, source, sha512, installedAt: new Date().toISOString(), missing }, null, 1)}\n`);
    // into place whole: the old install (if any) goes only once the new one is complete
    const dir = installDir(o.storageDir, version);
    const old = fs.existsSync(dir) ? `${staging}.old` : undefined;
    if (old) fs.renameSync(dir, old);
    fs.renameSync(staging, dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
    return { ortDir: dir, version, source, sha512, missing };
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (err instanceof GpuInstallError || err instanceof GpuInstallCancelled) throw err;
    throw new GpuInstallError(`GPU set-up failed: ${describeFsError(err)}`);
  }
}

/** A complete install in `dir` (its record was written last), or why not. */
export function checkInstall(dir: string): { ok: true; version: string } | { ok: false; reason: string } {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(dir, INSTALL_RECORD), 'utf8')) as { version?: string };
    const lib = binaryDirOf(path.join(dir, 'node_modules', 'onnxruntime-node'));
    const absent = PROVIDER_FILES.filter((f) => !fs.existsSync(path.join(lib, f)));
    if (absent.length) return { ok: false, reason: `${absent.join(', ')} missing from ${lib}` };
    return { ok: true, version: String(rec.version) };
  } catch {
    return { ok: false, reason: `no complete GPU install in ${dir}` };
  }
}
