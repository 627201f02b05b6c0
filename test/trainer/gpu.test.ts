/**
 * "LIFT: Enable GPU" without a GPU: the set-up flow against a local HTTP server standing in for
 * the NuGet feed (a package built here with the real layout, provider libraries that are real
 * ELF files with CUDA dependencies this machine lacks). Download, checksum mismatch, interrupted
 * download, cancel, disk full, a package of the wrong version, a feed without the version, a
 * user folder: each ends in a clear message, leaves nothing half-installed, and the CPU path
 * keeps working. A trainer started on the installed copy finds the provider, fails to load it
 * here, and answers on the CPU with the reason in its log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrainerClient, TrainerError } from '../../native/client';
import { elfNeeded, GpuInstallCancelled, installDir, installGpu, NUGET_ID, runtimePackage } from '../../native/runtime/cuda';
import { CUDA_NEEDS, type Feed, fakeElf, nupkg, startFeed, VERSION } from '../gpuFeed';
import { memoryLogger, trainerBundle, tinyWorkspace } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-gpu-'));
const ID = NUGET_ID.toLowerCase();

let feed: Feed;
before(async () => {
  feed = await startFeed();
});

const clients: TrainerClient[] = [];
after(async () => {
  for (const c of clients) await c.dispose();
  feed?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Nothing half-installed: no install folder, no staging folders left in storage. */
function assertNothingInstalled(storage: string): void {
  assert.equal(fs.existsSync(installDir(storage, VERSION)), false, 'no install');
  const left = fs.existsSync(storage) ? fs.readdirSync(storage) : [];
  assert.deepEqual(left, [], `nothing left in storage: ${left.join(', ')}`);
}

describe('GPU set-up', () => {
  test('reads the dependencies of a real ELF library', () => {
    const needed = elfNeeded(path.join(runtimePackage().dir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1'));
    assert.ok(needed.includes('libc.so.6'), needed.join(', '));
    assert.deepEqual(elfNeeded((() => {
      const f = path.join(tmp, 'fake.so');
      fs.writeFileSync(f, fakeElf(CUDA_NEEDS));
      return f;
    })()), CUDA_NEEDS);
  });

  for (const [mode, expected] of [
    ['corrupt', /does not match the SHA-512 the feed publishes/],
    ['truncate', /the download was interrupted after \d+ of \d+ bytes; try again/],
    ['missing', new RegExp(`the feed has no ${NUGET_ID} ${VERSION.replace(/\./g, '\\.')}, the version of this ONNX Runtime`)],
  ] as const) {
    test(`${mode}: a clear error, nothing installed`, async () => {
      const storage = path.join(tmp, `storage-${mode}`);
      feed.mode = mode;
      await assert.rejects(installGpu({ storageDir: storage, feed: feed.index }), expected);
      assertNothingInstalled(storage);
    });
  }

  test('a package of another version is refused', async () => {
    const storage = path.join(tmp, 'storage-version');
    const good = feed.pkg;
    feed.pkg = await nupkg('1.29.0');
    feed.mode = 'ok';
    try {
      await assert.rejects(installGpu({ storageDir: storage, feed: feed.index }), new RegExp(`holds ONNX Runtime 1\\.29\\.0, not ${VERSION.replace(/\./g, '\\.')}`));
    } finally {
      feed.pkg = good;
    }
    assertNothingInstalled(storage);
  });

  test('disk full (simulated): refused before writing, with the numbers', async () => {
    const storage = path.join(tmp, 'storage-full');
    feed.mode = 'ok';
    const fsModule = require('node:fs') as { statfsSync: typeof fs.statfsSync };
    const real = fsModule.statfsSync;
    fsModule.statfsSync = ((p: fs.PathLike) => ({ ...real(p), bavail: 10, bsize: 4096 })) as typeof fs.statfsSync;
    syncBuiltinESMExports();
    try {
      await assert.rejects(installGpu({ storageDir: storage, feed: feed.index }), /has 0 MB free; GPU support needs about \d+ MB/);
    } finally {
      fsModule.statfsSync = real;
      syncBuiltinESMExports();
    }
    assertNothingInstalled(storage);
  });

  test('a user folder: used when it holds both libraries, a clear error when not', async () => {
    const folder = path.join(tmp, 'providers');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'libonnxruntime_providers_cuda.so'), fakeElf(CUDA_NEEDS));
    const storage = path.join(tmp, 'storage-folder');
    await assert.rejects(installGpu({ storageDir: storage, folder }), /does not hold libonnxruntime_providers_shared\.so/);
    assertNothingInstalled(storage);
    fs.writeFileSync(path.join(folder, 'libonnxruntime_providers_shared.so'), fakeElf(['libc.so.6']));
    const r = await installGpu({ storageDir: storage, folder });
    assert.equal(r.source, folder);
  });

  test('through the trainer: download with progress and a verified hash; cancel leaves nothing; the installed runtime falls back to the CPU with the reason', async () => {
    const storage = path.join(tmp, 'storage-trainer');
    const logger = memoryLogger();
    const client = new TrainerClient({ trainerPath: trainerBundle, logger, client: { name: 'gpu-test', version: '0' } });
    clients.push(client);
    // cancel in the middle of a slow download
    feed.mode = 'slow';
    const { CancellationTokenSource } = await import('vscode-jsonrpc');
    const source = new CancellationTokenSource();
    await assert.rejects(
      client.enableGpu({ storageDir: storage, feed: feed.index }, (p) => p.phase === 'download' && (p.received ?? 0) > 2 ** 20 && source.cancel(), source.token),
      (err: unknown) => err instanceof TrainerError && err.kind === 'cancelled',
    );
    assertNothingInstalled(storage);
    // then the whole download
    feed.mode = 'ok';
    feed.requests = [];
    const phases: string[] = [];
    const r = await client.enableGpu({ storageDir: storage, feed: feed.index }, (p) => phases.push(p.phase));
    assert.equal(r.ortDir, installDir(storage, VERSION));
    assert.equal(r.sha512, createHash('sha512').update(feed.pkg).digest('base64'));
    assert.deepEqual([...new Set(phases)], ['resolve', 'download', 'verify', 'extract', 'check']);
    assert.deepEqual(feed.requests, ['/v3/index.json', `/reg/${ID}/${VERSION}.json`, `/catalog/${VERSION}.json`, `/flat/${ID}/${VERSION}/${ID}.${VERSION}.nupkg`], 'only the feed was contacted');
    assert.ok(r.missing.some((m) => /^cuDNN: libcudnn\.so\.9 not found/.test(m)) && r.missing.some((m) => /^the CUDA toolkit runtime: libcudart\.so\.12, libcublasLt\.so\.12 not found/.test(m)), r.missing.join('\n'));
    assert.equal(fs.readdirSync(storage).length, 1, 'one install, no leftovers');
    // the CPU path still works in the trainer that did it
    assert.equal((await client.status()).onnxruntime.loaded, true);

    // a trainer on the installed copy: the provider is found, cannot load here, and answers come from the CPU
    const { model, docs } = tinyWorkspace(fs.mkdtempSync(path.join(tmp, 'ws-')), '# Orbit\n\nPort 7431.\n');
    const gpuLog = memoryLogger();
    const gpu = new TrainerClient({ trainerPath: trainerBundle, logger: gpuLog, client: { name: 'gpu-test', version: '0' }, env: { LIFT_ORT_DIR: r.ortDir, LIFT_DEVICE: 'auto' } });
    clients.push(gpu);
    const status = await gpu.status();
    assert.ok(status.onnxruntime.loaded && status.onnxruntime.gpuInstall === r.ortDir, JSON.stringify(status.onnxruntime));
    assert.ok(status.onnxruntime.loaded && status.onnxruntime.providers.find((p) => p.name === 'cuda')?.available);
    const answer = await gpu.ask({ question: 'Which port?', roots: [docs], model, store: path.join(tmp, 'no-store'), maxTokens: 4 });
    assert.equal(typeof answer.text, 'string');
    assert.ok(gpuLog.has('warn', /CUDA is not usable: .*; running on the CPU\./), gpuLog.lines.join('\n'));
    // LIFT_DEVICE=cuda: no silent CPU, a clear error instead
    const strict = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'gpu-test', version: '0' }, env: { LIFT_ORT_DIR: r.ortDir, LIFT_DEVICE: 'cuda' } });
    clients.push(strict);
    await assert.rejects(strict.ask({ question: 'Which port?', roots: [docs], model, store: path.join(tmp, 'no-store'), maxTokens: 4 }), /CUDA is not usable: .*Set "lift\.device" to "auto" or "cpu"/);
    // an incomplete install is not loaded: the CPU runtime, and the reason in status
    fs.rmSync(path.join(r.ortDir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so'));
    const broken = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'gpu-test', version: '0' }, env: { LIFT_ORT_DIR: r.ortDir } });
    clients.push(broken);
    const s2 = await broken.status();
    assert.ok(s2.onnxruntime.loaded && /the GPU install is not usable \(libonnxruntime_providers_cuda\.so missing/.test(s2.onnxruntime.gpuInstallProblem ?? ''), JSON.stringify(s2.onnxruntime));
  });

  test('on CUDA recomputation and the segment length come from the free GPU memory, or learning is refused with the numbers', async () => {
    // a GPU install (the provider cannot load here, so the run itself falls back to the CPU) and a stand-in nvidia-smi
    const folder = path.join(tmp, 'providers-plan');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'libonnxruntime_providers_cuda.so'), fakeElf(CUDA_NEEDS));
    fs.writeFileSync(path.join(folder, 'libonnxruntime_providers_shared.so'), fakeElf(['libc.so.6']));
    const { ortDir } = await installGpu({ storageDir: path.join(tmp, 'storage-plan'), folder });
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), '#!/bin/sh\necho "Stand-in GPU, 81920, $FAKE_FREE_MIB"\n', { mode: 0o755 });
    const docs = fs.mkdtempSync(path.join(tmp, 'plan-docs-'));
    fs.writeFileSync(path.join(docs, 'README.md'), '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n'.repeat(20));
    const trainer = (freeMiB: number): TrainerClient => {
      const c = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'gpu-plan', version: '0' }, env: { LIFT_ORT_DIR: ortDir, LIFT_DEVICE: 'auto', PATH: `${bin}:${process.env.PATH}`, FAKE_FREE_MIB: String(freeMiB) } });
      clients.push(c);
      return c;
    };
    const plan = async (freeMiB: number, recompute?: 'auto' | 'on' | 'off'): Promise<{ plan: string; build: string; steps: number; samples: number }> => {
      const messages: string[] = [];
      let build = '';
      const r = await trainer(freeMiB).learn({ roots: [docs], model: '', store: path.join(tmp, 'plan-store'), epochs: 1, recompute }, (p) => {
        if (p.message) messages.push(p.message);
        // the training graph's line (not the time estimate's, nor the packing's)
        if (p.phase === 'build' && p.message?.startsWith('training graph')) build = p.message;
      });
      return { plan: messages.find((m) => m.startsWith('GPU memory estimate')) ?? messages.join('\n'), build, steps: r.steps, samples: r.samples };
    };
    // 1000 MB: the full-length step fits only with activation recomputation, which auto turns on before shortening
    const auto = await plan(1000);
    assert.match(auto.plan, /^GPU memory estimate \d+ MB for 341-token segments with activation recomputation \(Stand-in GPU: 1000 MB free of 80\.0 GB\)$/);
    assert.match(auto.build, /activation recomputation/, 'the run recomputes');
    assert.ok(auto.steps > 0, 'learned with recomputation');
    // without recomputation the segments are halved instead
    const off = await plan(1000, 'off');
    assert.match(off.plan, /^GPU memory estimate \d+ MB for 170-token segments( in batches of [24])? \(Stand-in GPU: 1000 MB free of 80\.0 GB\)$/);
    assert.doesNotMatch(off.build, /recomputation/);
    assert.ok(off.steps > 0, 'learned with the shorter segments');
    // plenty of memory: full-length segments in batches of 4, a quarter of the steps (each stage rounds up)
    const roomy = await plan(60_000);
    assert.match(roomy.plan, /^GPU memory estimate [\d.]+ [MG]B for 341-token segments in batches of 4 \(Stand-in GPU: 58\.6 GB free of 80\.0 GB\)$/);
    const stage2 = auto.samples;
    const stage1 = auto.steps - stage2; // one sample per step in the recomputing run, one pass per stage
    assert.equal(roomy.steps, Math.ceil(stage1 / 4) + Math.ceil(stage2 / 4), `batches of 4 over ${stage1} + ${stage2} samples`);
    await assert.rejects(trainer(100).learn({ roots: [docs], model: '', store: path.join(tmp, 'plan-store'), epochs: 1 }), /Learning on the GPU needs about \d+ MB even with 64-token segments and activation recomputation .* but Stand-in GPU has 100 MB free of 80\.0 GB/);
  });

  test('cancelled in process: the error says nothing changed', async () => {
    feed.mode = 'ok';
    await assert.rejects(installGpu({ storageDir: path.join(tmp, 'storage-cancel'), feed: feed.index, isCancelled: () => true }), GpuInstallCancelled);
    assertNothingInstalled(path.join(tmp, 'storage-cancel'));
  });
});
