/**
 * Resources and storage: learning's memory estimate holds against the trainer's measured peak
 * RSS and refuses, with the numbers, a model too big for this machine; the disk filling up or
 * the storage turning read-only at each write of a save leaves the active adapter as it was, with
 * a plain message; a model folder deleted (and restored) while the trainer uses it gives a clear
 * error, not a crash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { TrainerClient } from '../../native/client';
import type { LearnProgress } from '../../native/protocol';
import { learnWorkspace } from '../../native/lift/pipeline';
import { AdapterStore } from '../../native/lift/store';
import { defaultModelDir } from '../../native/model/default';
import { memoryLogger, repoRoot, trainerBundle, tinyWorkspace } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-resources-'));
const clients: TrainerClient[] = [];
after(async () => {
  for (const c of clients) await c.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function trainer(): TrainerClient {
  const c = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'resources', version: '0' } });
  clients.push(c);
  return c;
}

const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

test("the memory estimate is above the trainer's measured peak, and not far above; recomputation lowers the peak", async (t) => {
  const docs = path.join(tmp, 'estimate-docs');
  fs.mkdirSync(docs);
  // long enough that segments are full length, so the training graph is as big as estimated
  fs.writeFileSync(path.join(docs, 'README.md'), fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').slice(0, 16_000));
  const peaks: Record<string, number> = {};
  for (const recompute of ['off', 'on'] as const) {
    const client = trainer();
    let estimate = '';
    let graph = '';
    const onProgress = (p: LearnProgress): void => {
      if (p.message?.startsWith('memory estimate')) estimate = p.message;
      if (p.phase === 'build' && p.message?.startsWith('training graph')) graph = p.message;
    };
    const r = await client.learn({ roots: [docs], model: '', store: path.join(tmp, `estimate-store-${recompute}`), epochs: 1, tokenBudget: 4000, recompute }, onProgress);
    const measured = peakRss(client.pid!);
    peaks[recompute] = measured;
    const [, mb] = /memory estimate (\d+) MB/.exec(estimate) ?? [];
    assert.ok(mb, `the estimate is reported: "${estimate}"`);
    const estimated = Number(mb) * 2 ** 20;
    t.diagnostic(`default model, recompute ${recompute}, ${graph}, ${r.steps} steps: estimated ${mb} MB, measured peak RSS ${(measured / 2 ** 20).toFixed(0)} MB (${(estimated / measured).toFixed(2)}×)`);
    assert.match(graph, /up to 5\d\d tokens/, 'segments are full length');
    assert.equal(/activation recomputation/.test(graph), recompute === 'on', 'the run recomputes exactly when asked');
    assert.equal(/with activation recomputation/.test(estimate), recompute === 'on', 'the estimate is for the run it precedes');
    assert.ok(estimated >= measured, 'the estimate is not below the peak');
    assert.ok(estimated <= 1.5 * measured, 'the estimate is within 1.5× of the peak');
  }
  t.diagnostic(`peak with recomputation ${(peaks.on! / peaks.off!).toFixed(2)}× the one-graph peak`);
  assert.ok(peaks.on! <= 0.85 * peaks.off!, `recomputing peak ${peaks.on} vs ${peaks.off}`);
});

test('learning refuses, with the numbers, a model whose estimate exceeds the memory available', async () => {
  // a 70B-shaped config with no weights: the refusal comes before anything is read or allocated
  const model = path.join(tmp, 'llama-70b');
  fs.mkdirSync(model);
  fs.writeFileSync(
    path.join(model, 'config.json'),
    JSON.stringify({ model_type: 'llama', hidden_size: 8192, num_hidden_layers: 80, num_attention_heads: 64, num_key_value_heads: 8, intermediate_size: 28672, vocab_size: 128256, max_position_embeddings: 8192, rms_norm_eps: 1e-5 }),
  );
  const docs = path.join(tmp, 'small-docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'README.md'), '# Small\n\nA line.\n');
  const client = trainer();
  const phases: string[] = [];
  const store = path.join(tmp, 'refused-store');
  await assert.rejects(client.learn({ roots: [docs], model, store }, (p) => phases.push(p.phase)), (err: Error) => {
    assert.match(err.message, /Learning needs about \d+(\.\d)? GB of memory \(model weights [\d.]+ GB, training activations for \d+-token segments/);
    assert.match(err.message, /but only [\d.]+ [GM]B is available/);
    return true;
  });
  assert.deepEqual(phases, [], 'refused before collecting');
  assert.equal(fs.existsSync(store), false, 'nothing written');
  // the check is what refused: without it, the missing weights are the error
  await assert.rejects(client.learn({ roots: [docs], model, store, memoryCheck: false }), /no model\.safetensors/);
});

// ---- storage faults, injected into the file system calls of this process ----

type FsFault = { name: string; code: string; fn: 'writeFileSync' | 'writeSync' | 'renameSync'; match: RegExp };

/** Makes the `n`th matching call of `fn` fail with `code` (for writeSync: writes to a file opened at a matching path). */
function inject(f: FsFault): () => void {
  const real = { writeFileSync: fs.writeFileSync, writeSync: fs.writeSync, renameSync: fs.renameSync, openSync: fs.openSync };
  const fds = new Set<number>();
  const fail = (p: unknown): never => {
    throw Object.assign(new Error(`${f.code}: injected, ${f.fn} '${String(p)}'`), { code: f.code, path: String(p) });
  };
  // the module object itself (mutable), which syncBuiltinESMExports copies to every importer
  const m = require('node:fs') as Record<string, unknown>;
  m.openSync = (p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (real.openSync as (...a: unknown[]) => number)(p, ...rest);
    if (f.fn === 'writeSync' && f.match.test(String(p))) fds.add(fd);
    return fd;
  };
  let writes = 0;
  m.writeSync = (fd: number, ...rest: unknown[]) => {
    // the header goes through, the tensor data does not: a half-written file is left to clean up
    if (fds.has(fd) && ++writes > 2) fail(`fd ${fd}`);
    return (real.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  };
  m.writeFileSync = (p: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (f.fn === 'writeFileSync' && f.match.test(String(p))) fail(p);
    return (real.writeFileSync as (...a: unknown[]) => void)(p, ...rest);
  };
  m.renameSync = (a: fs.PathLike, b: fs.PathLike) => {
    if (f.fn === 'renameSync' && f.match.test(`${String(a)} -> ${String(b)}`)) fail(b);
    return real.renameSync(a, b);
  };
  syncBuiltinESMExports();
  return () => {
    Object.assign(m, real);
    syncBuiltinESMExports();
  };
}

const FAULTS: FsFault[] = [
  { name: 'disk full while writing the weights', code: 'ENOSPC', fn: 'writeSync', match: /adapter_model\.safetensors/ },
  { name: 'read-only while writing the config', code: 'EROFS', fn: 'writeFileSync', match: /adapter_config\.json$/ },
  { name: 'disk full while writing the manifest', code: 'ENOSPC', fn: 'writeFileSync', match: /lift_manifest\.json$/ },
  { name: 'permission denied moving the adapter into place', code: 'EACCES', fn: 'renameSync', match: /\.tmp-\w+ -> .*[0-9a-f]{16}$/ },
  { name: 'disk full while writing the active pointer', code: 'ENOSPC', fn: 'writeFileSync', match: /\.active\.json\.\d+\.tmp$/ },
  { name: 'read-only when switching the active pointer', code: 'EROFS', fn: 'renameSync', match: /-> .*active\.json$/ },
  { name: 'read-only storage, found before training', code: 'EROFS', fn: 'writeFileSync', match: /\.lift-write-probe-\d+$/ },
];

const PLAIN: Record<string, RegExp> = { ENOSPC: /the disk is full/, EROFS: /the storage is read-only/, EACCES: /permission denied/ };

test('disk full or read-only storage at each write of a save: the active adapter is unchanged, the message plain', async (t) => {
  const { model, docs } = tinyWorkspace(fs.mkdtempSync(path.join(tmp, 'faults-')), '# Orbit\n\nOrbit schedules jobs on port 7431.\n'.repeat(3));
  const store = new AdapterStore(path.join(tmp, 'fault-store'));
  const learn = (note: string, onProgress?: (p: LearnProgress) => void): ReturnType<typeof learnWorkspace> => {
    fs.writeFileSync(path.join(docs, 'NOTES.md'), `# Notes\n\n${note}\n`);
    return learnWorkspace({ roots: [docs], modelDir: model, store: store.root, epochs: 2, rank: 2, segmentLength: 48 }, { onProgress });
  };
  await learn('first');
  const good = store.activeKey()!;
  const snapshot = (): Record<string, string> => {
    const dir = store.dirFor(good);
    return Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n)).toString('base64')]));
  };
  const before = snapshot();
  for (const fault of FAULTS) {
    const phases = new Set<string>();
    const restore = inject(fault);
    let message = '';
    try {
      await learn(fault.name, (p) => phases.add(p.phase));
      assert.fail(`${fault.name}: learning should have failed`);
    } catch (err) {
      message = (err as Error).message;
    } finally {
      restore();
    }
    assert.match(message, PLAIN[fault.code]!, `${fault.name}: ${message}`);
    assert.match(message, /previous adapter (is unchanged|still answers)/, `${fault.name}: ${message}`);
    assert.equal(store.activeKey(), good, `${fault.name}: the active adapter is the previous one`);
    assert.deepEqual(snapshot(), before, `${fault.name}: its files are byte for byte as they were`);
    const leftovers = fs.readdirSync(store.root).filter((n) => n.startsWith('.'));
    assert.deepEqual(leftovers, [], `${fault.name}: no temporary files are left`);
    if (fault.fn === 'writeFileSync' && fault.match.source.includes('probe')) assert.ok(!phases.has('train'), 'refused before training');
    t.diagnostic(`${fault.code}, ${fault.name}: "${message.replace(tmp, '…')}"`);
  }
  // too little free space is found before training, with the numbers
  const fsModule = require('node:fs') as { statfsSync: typeof fs.statfsSync };
  const realStatfs = fsModule.statfsSync;
  fsModule.statfsSync = ((p: fs.PathLike) => ({ ...realStatfs(p), bavail: 1, bsize: 4096 })) as typeof fs.statfsSync;
  syncBuiltinESMExports();
  try {
    await assert.rejects(learn('no room'), /has 1 MB free; the adapter needs about \d+ MB/);
  } finally {
    fsModule.statfsSync = realStatfs;
    syncBuiltinESMExports();
  }
  assert.equal(store.activeKey(), good);
  // with the fault gone, learning works and switches over
  await learn('after the faults');
  assert.notEqual(store.activeKey(), good);
});

test('a model folder deleted while in use: a clear error, and it works again once restored', async () => {
  const model = path.join(tmp, 'model-copy');
  fs.cpSync(defaultModelDir()!, model, { recursive: true });
  const away = `${model}-moved`;
  const docs = path.join(tmp, 'orbit-docs');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'README.md'), '# Orbit\n\nOrbit schedules jobs on port 7431; retries back off to 8 s.\n');
  const client = trainer();
  const ask = (): Promise<unknown> => client.ask({ question: 'Which port does Orbit use?', roots: [docs], model, store: path.join(tmp, 'moved-store'), maxTokens: 8 });
  await ask();
  fs.renameSync(model, away);
  await assert.rejects(ask(), /the model folder .*model-copy does not exist \(was it deleted or moved\?\)/);
  await assert.rejects(client.learn({ roots: [docs], model, store: path.join(tmp, 'moved-store') }), /the model folder .*model-copy does not exist/);
  fs.renameSync(away, model);
  await ask();
  // moved away in the middle of learning: what was loaded finishes, the adapter is saved
  let moved = false;
  const r = await client.learn({ roots: [docs], model, store: path.join(tmp, 'moved-store'), epochs: 1 }, (p) => {
    if (p.phase === 'train' && !moved) {
      moved = true;
      fs.renameSync(model, away);
    }
  });
  assert.ok(moved && r.steps > 0 && fs.existsSync(path.join(r.adapterDir, 'adapter_model.safetensors')));
  fs.renameSync(away, model);
  assert.equal((await client.status()).onnxruntime.loaded, true, 'the same trainer serves on');
});
