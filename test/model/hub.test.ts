/** Models from a stand-in Hugging Face Hub into the Hub's cache layout: pull, resume, checks, gated, offline, another tool's cache. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Answerer } from '../../native/lift/answer';
import { MANIFEST } from '../../native/lift/learn';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { cachedSnapshot, HubCancelled, HubError, hubCacheDir, neededFile, parseRepoId, pullModel } from '../../native/model/hub';
import { randomWeights, smallConfig } from '../../native/model/init';
import { saveModelFolder } from '../../native/model/weights';
import { memoryLogger, trainerBundle } from '../helpers';
import { TrainerClient, TrainerError } from '../../native/client';
import { NEEDS_TOKEN } from '../../native/protocol';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { startHub, type StandInHub } from '../hubServer';

const COMMIT = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
let tmp: string;
let hub: StandInHub;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-hub-'));
  const model = path.join(tmp, 'repo');
  const cfg = smallConfig({ hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, vocab: 259 });
  saveModelFolder(model, cfg, randomWeights(cfg, 7), byteLevelTokenizerJson());
  fs.writeFileSync(path.join(model, 'README.md'), '# a model card the pull does not need\n');
  hub = await startHub({ 'lift-test/tiny-llama': { dir: model, commit: COMMIT }, 'lift-test/gated': { dir: model, commit: COMMIT, gatedToken: 'hf_secret' } });
});

after(async () => {
  await hub?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cache = (name: string): string => path.join(tmp, name);

describe('the Hugging Face Hub', () => {
  test('model ids, the cache folder from the environment, the files a model folder needs', () => {
    assert.deepEqual(parseRepoId('Qwen/Qwen2.5-Coder-0.5B-Instruct'), { repo: 'Qwen/Qwen2.5-Coder-0.5B-Instruct', revision: 'main' });
    assert.deepEqual(parseRepoId('org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
    for (const bad of ['name', '/abs/path', '../x/y', 'a/b/c', 'org/..', './model']) assert.equal(parseRepoId(bad), undefined, bad);
    assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c' }), '/c');
    assert.equal(hubCacheDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
    assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'huggingface', 'hub'));
    assert.deepEqual(['config.json', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer_config.json', 'chat_template.jinja', 'README.md', 'pytorch_model.bin', 'onnx/model.onnx'].filter(neededFile), [
      'config.json',
      'model-00001-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer_config.json',
      'chat_template.jinja',
    ]);
  });

  test('pull: only the needed files, LFS through the CDN redirect, into the cache layout; the snapshot answers; a second pull fetches nothing', async () => {
    const progress: string[] = [];
    const first = await pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('a'), onProgress: (p) => progress.push(p.file) });
    const root = path.join(cache('a'), 'models--lift-test--tiny-llama');
    assert.equal(first.dir, path.join(root, 'snapshots', COMMIT));
    assert.equal(fs.readFileSync(path.join(root, 'refs', 'main'), 'utf8'), COMMIT);
    assert.deepEqual(fs.readdirSync(first.dir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    assert.ok(fs.lstatSync(path.join(first.dir, 'model.safetensors')).isSymbolicLink(), 'snapshots link to blobs');
    assert.match(fs.readlinkSync(path.join(first.dir, 'model.safetensors')), /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    assert.ok(hub.requests.some((r) => r.startsWith('GET /cdn/')), 'the weights came through the redirect');
    assert.ok(!hub.requests.some((r) => r.includes('README.md')), 'the model card was not fetched');
    assert.ok(progress.includes('model.safetensors'));
    const answerer = await Answerer.load(first.dir);
    assert.ok((await answerer.answer('Hi?', [], { maxTokens: 2 })).text !== undefined);
    await answerer.release();
    const sent = hub.sentBytes();
    const again = await pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('a') });
    assert.deepEqual([again.dir, again.fetchedBytes, hub.sentBytes()], [first.dir, 0, sent]);
    assert.equal(cachedSnapshot('lift-test/tiny-llama', 'main', { cacheDir: cache('a') }), first.dir);
  });

  test('an interrupted download resumes where it stopped (Range); a file that does not match its hash is refused and removed', async () => {
    hub.faults.cutAfter = 3000;
    await assert.rejects(pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('b') }), (e: unknown) => e instanceof HubError && /interrupted after \d+ of \d+ bytes; pull again to resume/.test(e.message));
    const blobs = path.join(cache('b'), 'models--lift-test--tiny-llama', 'blobs');
    const partial = fs.readdirSync(blobs).find((f) => f.endsWith('.incomplete'))!;
    assert.ok(partial && fs.statSync(path.join(blobs, partial)).size >= 3000);
    const before = hub.sentBytes();
    const resumed = await pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('b') });
    const size = fs.statSync(path.join(resumed.dir, 'model.safetensors')).size;
    assert.ok(hub.sentBytes() - before < size, 'the resumed pull did not fetch the whole file again');
    assert.ok(fs.readdirSync(blobs).every((f) => !f.endsWith('.incomplete')));

    hub.faults.corrupt = 'model.safetensors';
    try {
      await assert.rejects(pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('c') }), /does not match the hash the Hub publishes/);
      const left = path.join(cache('c'), 'models--lift-test--tiny-llama', 'blobs');
      assert.deepEqual(fs.readdirSync(left).filter((f) => f.length === 64 || f.endsWith('.incomplete')), [], 'nothing of the bad file is left');
    } finally {
      hub.faults.corrupt = undefined;
    }
  });

  test('a gated model without a token, an unknown model, no Hub: clear messages; a cancel stops the pull', async () => {
    await assert.rejects(pullModel('lift-test/gated', { endpoint: hub.url, cacheDir: cache('d'), token: '' }), /is gated: accept its conditions on the Hub, then give an access token/);
    const ok = await pullModel('lift-test/gated', { endpoint: hub.url, cacheDir: cache('d'), token: 'hf_secret' });
    assert.ok(fs.existsSync(path.join(ok.dir, 'config.json')));
    await assert.rejects(pullModel('lift-test/nope', { endpoint: hub.url, cacheDir: cache('d') }), /needs an access token \(a private or gated model, or a wrong name\)/);
    await assert.rejects(pullModel('lift-test/tiny-llama@v9', { endpoint: hub.url, cacheDir: cache('d') }), /no such revision/);
    await assert.rejects(pullModel('lift-test/tiny-llama', { endpoint: 'http://127.0.0.1:9', cacheDir: cache('d') }), /cannot reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:9/);
    let calls = 0;
    await assert.rejects(pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('e'), isCancelled: () => ++calls > 2 }), HubCancelled);
  });

  test('a model larger than the free disk is refused before a byte of it is fetched, and leaves no snapshot', async () => {
    const s = fs.statfsSync(tmp);
    hub.faults.announce = s.bavail * s.bsize + 2 ** 30;
    try {
      const sent = hub.sentBytes();
      await assert.rejects(pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('full') }), (e: unknown) => e instanceof HubError && /^the disk holding .* has \d+ MB free; lift-test\/tiny-llama needs \d+ MB more$/.test(e.message));
      assert.equal(hub.sentBytes(), sent, 'nothing downloaded');
      assert.ok(!fs.existsSync(path.join(cache('full'), 'models--lift-test--tiny-llama', 'snapshots')));
    } finally {
      hub.faults.announce = undefined;
    }
  });

  test('offline (HF_HUB_OFFLINE): the cache alone answers, with no request; a cache another tool filled is used as it is', async () => {
    const requests = hub.requests.length;
    const offline = await pullModel('lift-test/tiny-llama', { endpoint: hub.url, cacheDir: cache('a'), offline: true });
    assert.equal(offline.commit, COMMIT);
    assert.equal(hub.requests.length, requests, 'no request offline');
    await assert.rejects(pullModel('lift-test/other', { cacheDir: cache('a'), offline: true }), /is not in the Hugging Face cache .* HF_HUB_OFFLINE is set/);
    // the layout huggingface_hub writes: refs/main, blobs/<hash>, snapshots/<commit>/<file> → ../../blobs/<hash>
    const other = path.join(cache('f'), 'models--someone--model');
    const commit = 'b'.repeat(40);
    fs.mkdirSync(path.join(other, 'refs'), { recursive: true });
    fs.mkdirSync(path.join(other, 'blobs'));
    fs.mkdirSync(path.join(other, 'snapshots', commit), { recursive: true });
    fs.writeFileSync(path.join(other, 'refs', 'main'), commit);
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) {
      fs.copyFileSync(path.join(tmp, 'repo', f), path.join(other, 'blobs', f.replace('.', '_')));
      fs.symlinkSync(path.join('..', '..', 'blobs', f.replace('.', '_')), path.join(other, 'snapshots', commit, f));
    }
    const found = await pullModel('someone/model', { cacheDir: cache('f'), offline: true });
    assert.equal(found.dir, path.join(other, 'snapshots', commit));
    const answerer = await Answerer.load(found.dir);
    await answerer.release();
  });

  test('the command line: lift models pull, list and rm; --model takes a pulled id, and an id not pulled is a clear error (no download)', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache('cli'), HF_HUB_OFFLINE: '' };
    const lift = (...args: string[]) => run(process.execPath, [trainerBundle, ...args], { env, cwd: tmp });
    const pulled = await lift('models', 'pull', 'lift-test/tiny-llama');
    assert.match(pulled.stdout, /^lift-test\/tiny-llama at aaaaaaaa0123: [\d.]+ MB downloaded; model folder /);
    assert.match((await lift('models', 'list')).stdout, /^lift-test\/tiny-llama {2}aaaaaaaa0123 {2}[\d.]+ MB {2}/);
    // learning with the id records the model and the commit in the adapter's manifest
    const docs = path.join(tmp, 'docs');
    fs.mkdirSync(docs, { recursive: true });
    fs.writeFileSync(path.join(docs, 'NOTES.md'), '# Notes\n\nThe broker listens on port 6180.\n');
    const adapter = path.join(tmp, 'adapter');
    await lift('learn', docs, '--model', 'lift-test/tiny-llama', '--out', adapter, '--minutes', '0', '--epochs', '1', '--no-memory-check');
    const manifest = JSON.parse(fs.readFileSync(path.join(adapter, MANIFEST), 'utf8')) as { baseModel: string; baseModelHub?: unknown };
    assert.deepEqual(manifest.baseModelHub, { repo: 'lift-test/tiny-llama', commit: COMMIT });
    assert.equal(manifest.baseModel, path.join(cache('cli'), 'models--lift-test--tiny-llama', 'snapshots', COMMIT));
    const requests = hub.requests.length;
    const asked = await lift('ask', 'What is this?', '--model', 'lift-test/tiny-llama', '--root', path.join(tmp, 'repo'), '--max-tokens', '2');
    assert.equal(hub.requests.length, requests, 'answering downloads nothing');
    assert.ok(asked.stdout.length > 0);
    await assert.rejects(lift('ask', 'What is this?', '--model', 'lift-test/not-pulled', '--root', path.join(tmp, 'repo')), (e: { stderr?: string }) => /lift-test\/not-pulled is not downloaded yet: run "LIFT: Choose Model…" or `lift models pull lift-test\/not-pulled`/.test(e.stderr ?? ''));
    const suggested = (await lift('models', 'suggest', docs)).stdout.split('\n');
    assert.match(suggested[0]!, /^This machine: [\d.]+ GB memory available, CPU \d+ GFLOP\/s \(MatMul probe\); /);
    assert.match(suggested[1]!, /^Learning 4\d characters \(.*docs\) with the fast preset:$/);
    assert.match(suggested.find((l) => l.includes('Qwen/Qwen2.5-Coder-0.5B-Instruct')) ?? '', /942 MB {2}CPU: (fits \([\d.]+ GB of [\d.]+ GB\), about \d|does not fit)/);
    assert.equal(suggested.filter((l) => /^ {2}\S+\/\S+ /.test(l)).length, 9);
    assert.match((await lift('models', 'rm', 'lift-test/tiny-llama')).stdout, /removed lift-test\/tiny-llama/);
    assert.match((await lift('models', 'list')).stdout, /^no models in /);
  });

  test('through the trainer: lift/models lists the cache and the curated choices with figures; lift/pullModel streams progress, cancels, asks for a token, then pulls', async () => {
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache('rpc'), HF_HUB_OFFLINE: '', HF_TOKEN: '' };
    const client = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'hub-test', version: '0' }, env });
    try {
      const docs = path.join(tmp, 'rpc-docs');
      fs.mkdirSync(docs, { recursive: true });
      const notes = Array.from({ length: 200 }, (_, i) => `Relay ${i} forwards to port ${6000 + i}.\n`).join('');
      fs.writeFileSync(path.join(docs, 'NOTES.md'), notes);
      const before = await client.models({ roots: [docs] });
      assert.equal(before.cacheDir, cache('rpc'));
      assert.deepEqual(before.cached, []);
      assert.equal(before.workspaceChars, notes.length);
      assert.ok(before.machine.availableBytes > 0 && before.machine.cpuFlops! > 0);
      assert.equal(before.choices.length, 9);
      for (const c of before.choices) assert.ok(c.downloadBytes > 0 && c.cpu.needBytes > 0 && c.cpu.learnSeconds! > 0, JSON.stringify(c));
      // cancel in the middle of a slow download: nothing complete lands in the cache
      hub.faults.slow = true;
      const source = new CancellationTokenSource();
      await assert.rejects(
        client.pullModel({ model: 'lift-test/tiny-llama' }, (p) => p.file === 'model.safetensors' && p.received > 8192 && source.cancel(), source.token),
        (e: unknown) => e instanceof TrainerError && e.kind === 'cancelled',
      );
      hub.faults.slow = false;
      assert.equal(cachedSnapshot('lift-test/tiny-llama', 'main', { cacheDir: cache('rpc') }), undefined);
      // a gated model: the refusal says so, with its own code; the token opens it
      await assert.rejects(client.pullModel({ model: 'lift-test/gated' }), (e: unknown) => e instanceof TrainerError && e.code === NEEDS_TOKEN && /is gated: accept its conditions on the Hub, then give an access token/.test(e.message));
      const files: string[] = [];
      const pulled = await client.pullModel({ model: 'lift-test/gated', token: 'hf_secret' }, (p) => files.push(p.file));
      assert.equal(pulled.dir, path.join(cache('rpc'), 'models--lift-test--gated', 'snapshots', COMMIT));
      assert.ok(files.includes('model.safetensors') && pulled.fetchedBytes > 0);
      const after = await client.models({});
      assert.deepEqual(after.cached.map((c) => [c.id, c.commit]), [['lift-test/gated', COMMIT]]);
      assert.equal(after.workspaceChars, 0);
    } finally {
      await client.dispose();
    }
  });
});
