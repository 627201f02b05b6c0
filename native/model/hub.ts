/**
 * Models from the Hugging Face Hub, in the Hub's own cache layout
 * (`<cache>/models--org--name/{refs,blobs,snapshots}`), so that a model another tool downloaded
 * is used as it is and ours serve other tools. Only the files a model folder needs are fetched;
 * each is checked against the hash the Hub publishes, resumed after an interruption
 * (`blobs/<hash>.incomplete`), and moved into place whole. Honours HF_HUB_CACHE, HF_HOME,
 * HF_ENDPOINT (mirrors), HF_HUB_OFFLINE and HF_TOKEN.
 *
 * Written on the Hub's HTTP API rather than `@huggingface/hub`: its `downloadFileToCacheDir`
 * (2.17.5) neither resumes, nor checks hashes, nor reports progress or cancels.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class HubError extends Error {
  constructor(
    message: string,
    /** The Hub refused for want of an access token (a gated or private model). */
    readonly needsToken = false,
  ) {
    super(message);
  }
}
export class HubCancelled extends Error {}

export interface HubOptions {
  /** The Hub's address; default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** The cache folder; default HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Use only what the cache holds (default: HF_HUB_OFFLINE is 1 or true). */
  offline?: boolean;
  /** For gated and private models (default: HF_TOKEN). */
  token?: string;
  onProgress?: (p: { file: string; received: number; total: number; done: number; files: number }) => void;
  isCancelled?: () => boolean;
}

/** `org/name` (optionally `@revision`): what `lift.model` accepts besides a folder. */
export function parseRepoId(spec: string): { repo: string; revision: string } | undefined {
  const m = /^([A-Za-z0-9][\w.-]{0,95})\/([A-Za-z0-9][\w.-]{0,95})(?:@([\w./-]{1,200}))?$/.exec(spec);
  if (!m || spec.includes('..')) return undefined;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main' };
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

const isOffline = (env: NodeJS.ProcessEnv = process.env): boolean => /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? '');
const repoFolder = (cacheDir: string, repo: string): string => path.join(cacheDir, `models--${repo.replace('/', '--')}`);

/** The files of a repository that a model folder needs: config, tokenizer, chat template, weights. */
export function neededFile(name: string): boolean {
  if (name.includes('/')) return false;
  return /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map)\.json$|^chat_template\.jinja$|^model(-\d+-of-\d+)?\.safetensors$|^model\.safetensors\.index\.json$/.test(name);
}

interface Sibling {
  rfilename: string;
  size?: number;
  /** The git blob id (sha1 of "blob <size>\0" + content), for files not in LFS. */
  blobId?: string;
  lfs?: { sha256: string; size: number };
}

/** The snapshot folder of `repo` at `revision` already in the cache, with every needed file in it. */
export function cachedSnapshot(repo: string, revision = 'main', o: Pick<HubOptions, 'cacheDir'> = {}): string | undefined {
  const root = repoFolder(o.cacheDir ?? hubCacheDir(), repo);
  const sha = /^[0-9a-f]{40}$/.test(revision) ? revision : readRef(root, revision);
  if (!sha) return undefined;
  const dir = path.join(root, 'snapshots', sha);
  return ['config.json', 'tokenizer.json'].every((f) => fs.existsSync(path.join(dir, f))) && fs.readdirSync(dir).some((f) => f.endsWith('.safetensors')) ? dir : undefined;
}

function readRef(root: string, revision: string): string | undefined {
  try {
    const sha = fs.readFileSync(path.join(root, 'refs', revision), 'utf8').trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes `repo` at `revision` a model folder in the cache and returns it (the snapshot folder).
 * Files already there are not fetched again; offline, the cache alone answers.
 */
export async function pullModel(spec: string, o: HubOptions = {}): Promise<{ dir: string; commit: string; fetchedBytes: number }> {
  const id = parseRepoId(spec);
  if (!id) throw new HubError(`"${spec}" is not a Hugging Face model id (org/name, optionally @revision)`);
  const cacheDir = o.cacheDir ?? hubCacheDir();
  const root = repoFolder(cacheDir, id.repo);
  const cancelled = (): void => {
    if (o.isCancelled?.()) throw new HubCancelled('cancelled');
  };
  if (o.offline ?? isOffline()) {
    const dir = cachedSnapshot(id.repo, id.revision, { cacheDir });
    if (!dir) throw new HubError(`${spec} is not in the Hugging Face cache (${cacheDir}) and HF_HUB_OFFLINE is set: download it first, or unset HF_HUB_OFFLINE`);
    return { dir, commit: path.basename(dir), fetchedBytes: 0 };
  }
  const endpoint = (o.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = o.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = { 'user-agent': 'lift-vscode', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const info = await getJson(`${endpoint}/api/models/${id.repo}/revision/${encodeURIComponent(id.revision)}?blobs=true`, headers, spec);
  const commit = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : undefined;
  if (!commit || !Array.isArray(info.siblings)) throw new HubError(`the Hub's answer about ${spec} has no commit or file list`);
  const files = (info.siblings as Sibling[]).filter((s) => typeof s?.rfilename === 'string' && neededFile(s.rfilename));
  for (const need of ['config.json', 'tokenizer.json']) if (!files.some((f) => f.rfilename === need)) throw new HubError(`${spec} has no ${need}: LIFT needs a Hugging Face model folder of the Llama family`);
  if (!files.some((f) => f.rfilename.endsWith('.safetensors'))) throw new HubError(`${spec} has no safetensors weights (LIFT reads no other format)`);
  const etagOf = (f: Sibling): string => {
    const etag = f.lfs?.sha256 ?? f.blobId;
    if (!etag || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw new HubError(`the Hub publishes no hash for ${spec}'s ${f.rfilename}: it cannot be checked, so it is not used`);
    return etag;
  };
  const sizeOf = (f: Sibling): number => f.lfs?.size ?? f.size ?? 0;
  // room for what is not in the cache yet
  const missing = files.filter((f) => !fs.existsSync(path.join(root, 'blobs', etagOf(f))));
  const want = missing.reduce((n, f) => n + sizeOf(f), 0);
  fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
  const s = fs.statfsSync(path.join(root, 'blobs'));
  if (s.bavail * s.bsize < want + 64 * 2 ** 20) {
    throw new HubError(`the disk holding ${cacheDir} has ${((s.bavail * s.bsize) / 2 ** 20).toFixed(0)} MB free; ${spec} needs ${(want / 2 ** 20).toFixed(0)} MB more`);
  }
  let fetchedBytes = 0;
  const snapshot = path.join(root, 'snapshots', commit);
  fs.mkdirSync(snapshot, { recursive: true });
  for (const [i, f] of files.entries()) {
    cancelled();
    const etag = etagOf(f);
    const blob = path.join(root, 'blobs', etag);
    if (!fs.existsSync(blob)) {
      fetchedBytes += await fetchBlob(`${endpoint}/${id.repo}/resolve/${commit}/${encodeURIComponent(f.rfilename)}`, blob, etag, sizeOf(f), headers, {
        spec,
        file: f.rfilename,
        cancelled,
        progress: (received, total) => o.onProgress?.({ file: f.rfilename, received, total, done: i, files: files.length }),
      });
    }
    // the snapshot's entry: a relative link to the blob, as the Hub's own tools make it
    const link = path.join(snapshot, f.rfilename);
    if (!fs.existsSync(link)) {
      try {
        fs.symlinkSync(path.relative(snapshot, blob), link);
      } catch {
        fs.copyFileSync(blob, link); // no links here (some Windows set-ups): a copy
      }
    }
  }
  fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
  if (commit !== id.revision) writeAtomic(path.join(root, 'refs', id.revision), commit);
  o.onProgress?.({ file: '', received: 0, total: 0, done: files.length, files: files.length });
  return { dir: snapshot, commit, fetchedBytes };
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function getJson(url: string, headers: Record<string, string>, spec: string): Promise<Record<string, unknown>> {
  const res = await request(url, { headers }, spec);
  try {
    return (await res.json()) as Record<string, unknown>;
  } catch {
    throw new HubError(`the Hub's answer about ${spec} is not JSON`);
  }
}

async function request(url: string, init: RequestInit, spec: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new HubError(`cannot reach the Hugging Face Hub at ${new URL(url).origin} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 to use the cache`);
  }
  if (res.ok || res.status === 206) return res;
  const code = res.headers.get('x-error-code');
  if (res.status === 401 || res.status === 403) {
    throw new HubError(
      code === 'GatedRepo' || res.status === 403
        ? `${spec} is gated: accept its conditions on the Hub, then give an access token (LIFT: Choose Model asks for one; or set HF_TOKEN)`
        : `${spec} needs an access token (a private or gated model, or a wrong name): give one, or set HF_TOKEN`,
      true,
    );
  }
  if (res.status === 404) throw new HubError(`${spec}: not found on the Hub (${code === 'RevisionNotFound' ? 'no such revision' : code === 'EntryNotFound' ? 'no such file' : 'no such model'})`);
  throw new HubError(`the Hub answered ${res.status} ${res.statusText} for ${spec}`);
}

/** Downloads one blob (resuming a partial one), checks its hash, and moves it into place. Returns the bytes fetched. */
async function fetchBlob(
  url: string,
  blob: string,
  etag: string,
  size: number,
  headers: Record<string, string>,
  o: { spec: string; file: string; cancelled: () => void; progress: (received: number, total: number) => void },
): Promise<number> {
  const partial = `${blob}.incomplete`;
  let have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
  if (size && have > size) {
    fs.rmSync(partial);
    have = 0;
  }
  const controller = new AbortController();
  const res = await request(url, { headers: { ...headers, ...(have ? { range: `bytes=${have}-` } : {}) }, signal: controller.signal, redirect: 'follow' }, o.spec);
  if (have && res.status !== 206) have = 0; // the server sends it all again: start over
  const out = fs.createWriteStream(partial, { flags: have ? 'a' : 'w' });
  let received = have;
  let fetched = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      try {
        o.cancelled();
      } catch (err) {
        controller.abort();
        throw err;
      }
      received += chunk.length;
      fetched += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      o.progress(received, size);
    }
  } catch (err) {
    await new Promise<void>((r) => out.end(() => r()));
    if (err instanceof HubCancelled) throw err; // the partial file stays: the next pull resumes it
    throw new HubError(`the download of ${o.spec}'s ${o.file} was interrupted after ${received} of ${size || '?'} bytes; pull again to resume`);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  // the hash the Hub publishes: sha256 of an LFS file, the git blob id (sha1) of a small one
  const hash = etag.length === 64 ? createHash('sha256') : createHash('sha1').update(`blob ${fs.statSync(partial).size}\0`);
  for await (const chunk of fs.createReadStream(partial)) hash.update(chunk as Buffer);
  if (hash.digest('hex') !== etag) {
    fs.rmSync(partial, { force: true });
    throw new HubError(`${o.spec}'s ${o.file} does not match the hash the Hub publishes (${etag}): the download is discarded`);
  }
  fs.renameSync(partial, blob);
  return fetched;
}

/** A model given as a folder, or as a Hub id already pulled into the cache: the folder to load. */
export function resolveModel(model: string, o: Pick<HubOptions, 'cacheDir'> = {}): string {
  if (fs.existsSync(model) || path.isAbsolute(model)) return model;
  const id = parseRepoId(model);
  if (!id) return model;
  const dir = cachedSnapshot(id.repo, id.revision, o);
  if (!dir) throw new HubError(`${model} is not downloaded yet: run "LIFT: Choose Model…" or \`lift models pull ${model}\` (learning and answering never download)`);
  return dir;
}

/** The models in the cache that can be loaded, with their revision and size on disk. */
export function listCached(o: Pick<HubOptions, 'cacheDir'> = {}): { id: string; commit: string; dir: string; bytes: number }[] {
  const cacheDir = o.cacheDir ?? hubCacheDir();
  const out: { id: string; commit: string; dir: string; bytes: number }[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).sort() : []) {
    const m = /^models--([^-].*?)--(.+)$/.exec(name);
    if (!m) continue;
    const id = `${m[1]}/${m[2]}`;
    const dir = cachedSnapshot(id, 'main', { cacheDir });
    if (!dir) continue;
    const blobs = path.join(cacheDir, name, 'blobs');
    const bytes = fs.readdirSync(blobs).reduce((n, f) => n + fs.statSync(path.join(blobs, f)).size, 0);
    out.push({ id, commit: path.basename(dir), dir, bytes });
  }
  return out;
}

/** Removes a model from the cache (every revision of it); false when it was not there. */
export function removeCached(spec: string, o: Pick<HubOptions, 'cacheDir'> = {}): boolean {
  const id = parseRepoId(spec);
  if (!id) throw new HubError(`"${spec}" is not a Hugging Face model id (org/name)`);
  const root = repoFolder(o.cacheDir ?? hubCacheDir(), id.repo);
  if (!fs.existsSync(root)) return false;
  fs.rmSync(root, { recursive: true, force: true });
  return true;
}

/** The Hub model and commit a cache snapshot folder holds (`…/models--org--name/snapshots/<commit>`), if it is one. */
export function hubSnapshotOf(dir: string): { repo: string; commit: string } | undefined {
  const abs = path.resolve(dir);
  const commit = path.basename(abs);
  const snapshots = path.dirname(abs);
  const m = /^models--([^-].*?)--(.+)$/.exec(path.basename(path.dirname(snapshots)));
  return m && path.basename(snapshots) === 'snapshots' && /^[0-9a-f]{40}$/.test(commit) ? { repo: `${m[1]}/${m[2]}`, commit } : undefined;
}
