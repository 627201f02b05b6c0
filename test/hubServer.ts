/**
 * A stand-in Hugging Face Hub on 127.0.0.1 with the real API's shapes: revision info with file
 * metadata (`/api/models/{repo}/revision/{rev}?blobs=true`), `resolve` URLs that redirect LFS
 * files to a CDN path, `Range` requests answered with 206, ETag and X-Repo-Commit headers, and the
 * Hub's 401/404 answers with their X-Error-Code. It serves model folders from disk.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface HubRepo {
  /** The folder whose files the repository holds. */
  dir: string;
  commit: string;
  /** Needs `authorization: Bearer <token>`. */
  gatedToken?: string;
}

export interface StandInHub {
  url: string;
  /** Every request's method and path, in order. */
  requests: string[];
  /** Bytes of file content sent. */
  sentBytes: () => number;
  /** Faults: cut a CDN download after this many bytes (once); serve one file's bytes altered; send slowly (4 KiB each 20 ms); announce the weights this many bytes large (a model bigger than the disk). */
  faults: { cutAfter?: number; corrupt?: string; slow?: boolean; announce?: number };
  close(): Promise<void>;
}

const LFS_MIN = 1024;

export async function startHub(repos: Record<string, HubRepo>): Promise<StandInHub> {
  let sent = 0;
  const requests: string[] = [];
  const faults: StandInHub['faults'] = {};
  const files = (repo: HubRepo): { name: string; bytes: Buffer; lfs: boolean; sha256: string; blobId: string }[] =>
    fs.readdirSync(repo.dir).map((name) => {
      const bytes = fs.readFileSync(path.join(repo.dir, name));
      const lfs = bytes.length >= LFS_MIN || name.endsWith('.safetensors');
      return {
        name,
        bytes,
        lfs,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        blobId: createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex'),
      };
    });
  const blobs = new Map<string, Buffer>();
  const send = (res: http.ServerResponse, req: http.IncomingMessage, bytes: Buffer, headers: Record<string, string>): void => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    let body = bytes.subarray(start);
    res.writeHead(range ? 206 : 200, { ...headers, 'content-length': String(body.length), 'accept-ranges': 'bytes', ...(range ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}) });
    if (faults.cutAfter !== undefined && body.length > faults.cutAfter) {
      body = body.subarray(0, faults.cutAfter);
      faults.cutAfter = undefined;
      sent += body.length;
      res.write(body, () => res.destroy());
      return;
    }
    if (faults.slow) {
      let at = 0;
      const next = (): void => {
        const piece = body.subarray(at, at + 4096);
        at += piece.length;
        sent += piece.length;
        if (at >= body.length) res.end(piece);
        else res.write(piece, () => setTimeout(next, 20));
      };
      next();
      return;
    }
    sent += body.length;
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const error = (status: number, code: string, message: string): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code }).end(JSON.stringify({ error: message }));
    };
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const repoOf = (id: string): HubRepo | undefined => repos[id];
    const authorized = (repo: HubRepo): boolean => !repo.gatedToken || req.headers.authorization === `Bearer ${repo.gatedToken}`;
    if (m) {
      const repo = repoOf(m[1]!);
      if (!repo) return error(401, 'RepoNotFound', 'Repository not found');
      if (!authorized(repo)) return error(401, 'GatedRepo', 'Access to this model is restricted');
      const rev = decodeURIComponent(m[2]!);
      if (rev !== 'main' && rev !== repo.commit) return error(404, 'RevisionNotFound', 'Invalid rev id');
      const sizeOf = (f: { name: string; bytes: Buffer }): number => (faults.announce !== undefined && f.name.endsWith('.safetensors') ? faults.announce : f.bytes.length);
      const siblings = files(repo).map((f) => ({ rfilename: f.name, size: sizeOf(f), blobId: f.blobId, ...(f.lfs ? { lfs: { sha256: f.sha256, size: sizeOf(f), pointerSize: 134 } } : {}) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: m[1], modelId: m[1], sha: repo.commit, private: false, gated: repo.gatedToken ? 'manual' : false, siblings }));
      return;
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const repo = repoOf(m[1]!);
      if (!repo) return error(401, 'RepoNotFound', 'Repository not found');
      if (!authorized(repo)) return error(401, 'GatedRepo', 'Access to this model is restricted');
      const f = files(repo).find((x) => x.name === decodeURIComponent(m![3]!));
      if (!f || (m[2] !== repo.commit && m[2] !== 'main')) return error(404, 'EntryNotFound', 'Entry not found');
      const bytes = faults.corrupt === f.name ? Buffer.concat([f.bytes.subarray(0, -1), Buffer.from([f.bytes.at(-1)! ^ 1])]) : f.bytes;
      const common = { 'x-repo-commit': repo.commit, 'x-linked-size': String(f.bytes.length) };
      if (f.lfs) {
        // LFS files live on the CDN: the Hub redirects there
        blobs.set(f.sha256, bytes);
        res.writeHead(302, { ...common, location: `/cdn/${f.sha256}`, 'x-linked-etag': `"${f.sha256}"`, etag: `"${f.blobId}"` }).end();
        return;
      }
      return send(res, req, bytes, { ...common, etag: `"${f.blobId}"` });
    }
    m = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (m && blobs.has(m[1]!)) return send(res, req, blobs.get(m[1]!)!, { etag: `"${m[1]}"` });
    error(404, 'NotFound', 'Not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    sentBytes: () => sent,
    faults,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
