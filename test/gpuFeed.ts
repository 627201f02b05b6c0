/** A stand-in for the NuGet feed that "LIFT: Enable GPU" downloads from (GPU and network tests). */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import yazl from 'yazl';
import { NUGET_ID, runtimePackage } from '../native/runtime/cuda';

export const VERSION = runtimePackage().version;
const ID = NUGET_ID.toLowerCase();

/** A minimal 64-bit ELF shared object whose dynamic section needs `needed`. */
export function fakeElf(needed: string[]): Buffer {
  const strtab = Buffer.from(`\0${needed.join('\0')}\0`);
  const dynOff = 64 + Math.ceil(strtab.length / 8) * 8;
  const dyn = Buffer.alloc(16 * (needed.length + 1));
  let at = 1;
  needed.forEach((n, i) => {
    dyn.writeBigInt64LE(1n, 16 * i); // DT_NEEDED
    dyn.writeBigUInt64LE(BigInt(at), 16 * i + 8);
    at += n.length + 1;
  });
  const shOff = dynOff + dyn.length;
  const sh = Buffer.alloc(64 * 3);
  sh.writeUInt32LE(3, 64 + 4); // [1] .dynstr: SHT_STRTAB
  sh.writeBigUInt64LE(64n, 64 + 0x18);
  sh.writeBigUInt64LE(BigInt(strtab.length), 64 + 0x20);
  sh.writeUInt32LE(6, 128 + 4); // [2] .dynamic: SHT_DYNAMIC, linked to [1]
  sh.writeBigUInt64LE(BigInt(dynOff), 128 + 0x18);
  sh.writeBigUInt64LE(BigInt(dyn.length), 128 + 0x20);
  sh.writeUInt32LE(1, 128 + 0x28);
  const head = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(head);
  head.writeUInt16LE(3, 0x10); // ET_DYN
  head.writeUInt16LE(0x3e, 0x12); // x86-64
  head.writeUInt32LE(1, 0x14);
  head.writeBigUInt64LE(BigInt(shOff), 0x28);
  head.writeUInt16LE(64, 0x34);
  head.writeUInt16LE(64, 0x3a);
  head.writeUInt16LE(3, 0x3c);
  return Buffer.concat([head, strtab, Buffer.alloc(dynOff - 64 - strtab.length), dyn, sh]);
}

export const CUDA_NEEDS = ['libcudart.so.12', 'libcublasLt.so.12', 'libcudnn.so.9', 'libc.so.6'];

/** A .nupkg with NuGet's layout: the nuspec, the two provider libraries, and filler to make it a few MB. */
export function nupkg(version: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(`<?xml version="1.0"?><package><metadata><id>${NUGET_ID}</id><version>${version}</version></metadata></package>`), `${NUGET_ID}.nuspec`);
  zip.addBuffer(fakeElf(['libc.so.6']), 'runtimes/linux-x64/native/libonnxruntime_providers_shared.so');
  zip.addBuffer(fakeElf(CUDA_NEEDS), 'runtimes/linux-x64/native/libonnxruntime_providers_cuda.so');
  let x = 1;
  zip.addBuffer(Buffer.from(Uint8Array.from({ length: 3 * 2 ** 20 }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24)), 'runtimes/linux-x64/native/libonnxruntime_providers_tensorrt.so', { compress: false });
  zip.end();
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts)));
  });
}

export type FeedMode = 'ok' | 'corrupt' | 'truncate' | 'slow' | 'missing';

export interface Feed {
  /** The service index to pass as `feed`. */
  index: string;
  port: number;
  mode: FeedMode;
  pkg: Buffer;
  requests: string[];
  close(): void;
}

/** Serves a NuGet v3 feed (index, registration, catalog leaf, package) on 127.0.0.1. */
export async function startFeed(): Promise<Feed> {
  let origin = '';
  const feed: Feed = { index: '', port: 0, mode: 'ok', pkg: await nupkg(VERSION), requests: [], close: () => server.close() };
  const server = http.createServer((req, res) => {
    feed.requests.push(req.url ?? '');
    const json = (o: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
    const sha512 = createHash('sha512').update(feed.pkg).digest('base64');
    if (req.url === '/v3/index.json') {
      json({ version: '3.0.0', resources: [{ '@id': `${origin}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }, { '@id': `${origin}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }] });
    } else if (req.url === `/reg/${ID}/${VERSION}.json` && feed.mode !== 'missing') {
      json({ catalogEntry: `${origin}/catalog/${VERSION}.json` });
    } else if (req.url === `/catalog/${VERSION}.json`) {
      json({ id: NUGET_ID, version: VERSION, packageHash: sha512, packageHashAlgorithm: 'SHA512', packageSize: feed.pkg.length });
    } else if (req.url === `/flat/${ID}/${VERSION}/${ID}.${VERSION}.nupkg`) {
      const body = feed.mode === 'corrupt' ? Buffer.concat([feed.pkg.subarray(0, 1000), Buffer.from('x'), feed.pkg.subarray(1001)]) : feed.pkg;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      if (feed.mode === 'truncate') {
        res.write(body.subarray(0, body.length >> 1));
        setTimeout(() => res.destroy(), 50);
      } else if (feed.mode === 'slow') {
        let at = 0;
        const next = (): void => {
          if (res.destroyed || at >= body.length) return void res.end();
          res.write(body.subarray(at, (at += 256 * 1024)));
          setTimeout(next, 30);
        };
        next();
      } else res.end(body);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  feed.port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${feed.port}`;
  feed.index = `${origin}/v3/index.json`;
  return feed;
}
