/**
 * No network: while the real trainer learns, answers and reports its status, none of its
 * sockets is a TCP or UDP socket (listening or connected) — only the IPC channel to its client,
 * a Unix socket. Read from /proc (Linux), sampled throughout the work. The two downloads a user
 * starts (GPU support, a model from the Hub) connect only where they were told to.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { TrainerClient } from '../../native/client';
import { startFeed } from '../gpuFeed';
import { startHub } from '../hubServer';
import { memoryLogger, trainerBundle, tinyWorkspace } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-net-'));
let client: TrainerClient | undefined;
after(async () => {
  await client?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The inodes of a process's sockets, and which of them are internet (TCP/UDP, v4/v6) sockets. */
function sockets(pid: number): { all: number; internet: string[] } {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const internet: string[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const lines = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const cols = l.trim().split(/\s+/);
      if (inodes.has(cols[9]!)) internet.push(`${table} ${cols[1]} → ${cols[2]} (state ${cols[3]})`);
    }
  }
  return { all: inodes.size, internet };
}

/**
 * The internet sockets a download process had while `work` ran (sampled every 10 ms), and those
 * that were not a TCP connection to 127.0.0.1:`port` (/proc/net/tcp writes it as 0100007F:PORT, hex).
 */
async function connectionsDuring(pid: number, work: Promise<unknown>, port: number): Promise<{ samples: number; seen: Set<string>; address: string; elsewhere: string[] }> {
  const seen = new Set<string>();
  let samples = 0;
  const timer = setInterval(() => {
    try {
      samples++;
      for (const s of sockets(pid).internet) seen.add(s);
    } catch {
      // the process has ended
    }
  }, 10);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  const address = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return { samples, seen, address, elsewhere: [...seen].filter((s) => !s.startsWith('tcp ') || !s.includes(`→ ${address} `)) };
}

test('the trainer opens no TCP or UDP socket while it learns and answers', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const { model, docs } = tinyWorkspace(tmp, '# Orbit\n\nOrbit schedules jobs on port 7431.\n'.repeat(4));
  client = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'net', version: '0' } });
  await client.status();
  const pid = client.pid!;
  const seen: string[] = [];
  let samples = 0;
  let maxSockets = 0;
  const sample = (): void => {
    const s = sockets(pid);
    samples++;
    maxSockets = Math.max(maxSockets, s.all);
    seen.push(...s.internet);
  };
  const timer = setInterval(sample, 20);
  try {
    await client.learn({ roots: [docs], model, store: path.join(tmp, 'store'), epochs: 3, rank: 2, segmentLength: 48 });
    await client.ask({ question: 'Which port?', roots: [docs], model, store: path.join(tmp, 'store'), maxTokens: 16 });
    await client.status();
  } finally {
    clearInterval(timer);
  }
  sample();
  t.diagnostic(`${samples} samples of the trainer's sockets: at most ${maxSockets} socket(s), ${seen.length} internet sockets`);
  assert.ok(samples > 5 && maxSockets >= 1, 'the IPC channel was seen: the sampling works');
  assert.deepEqual([...new Set(seen)], []);

  // control: the same reading does see a process that listens on TCP
  const listener = spawn(process.execPath, ['-e', "require('net').createServer().listen(0, '127.0.0.1', () => console.log('up')); setTimeout(() => {}, 10000)"]);
  try {
    await new Promise((r) => listener.stdout.once('data', r));
    assert.equal(sockets(listener.pid!).internet.length, 1, 'a listening TCP socket is detected');
  } finally {
    listener.kill('SIGKILL');
  }
});

test('the explicit GPU download connects only to the feed it was given, and listens on nothing', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const feed = await startFeed();
  feed.mode = 'slow'; // long enough to be sampled many times
  const gpu = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'net-gpu', version: '0' } });
  try {
    await gpu.status();
    const { samples, seen, address, elsewhere } = await connectionsDuring(gpu.pid!, gpu.enableGpu({ storageDir: path.join(tmp, 'gpu-storage'), feed: feed.index }), feed.port);
    t.diagnostic(`${samples} samples during the download: ${seen.size} distinct connections, all to the feed (${address}); ${elsewhere.length} elsewhere or listening`);
    assert.ok(seen.size >= 1, 'the download connection was seen: the sampling works');
    assert.deepEqual(elsewhere, []);
  } finally {
    await gpu.dispose();
    feed.close();
  }
});

test('a model pull (lift models pull) connects only to the Hub it was given (HF_ENDPOINT), and listens on nothing', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const { model } = tinyWorkspace(path.join(tmp, 'hub-model'), '# Orbit\n');
  const hub = await startHub({ 'lift-test/tiny': { dir: model, commit: 'c'.repeat(40) } });
  hub.faults.slow = true; // long enough to be sampled many times
  try {
    const pull = execFile(process.execPath, [trainerBundle, 'models', 'pull', 'lift-test/tiny'], { env: { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: path.join(tmp, 'hf-cache'), HF_HUB_OFFLINE: '' } });
    const exited = new Promise<number | null>((r) => pull.on('exit', r));
    const { samples, seen, address, elsewhere } = await connectionsDuring(pull.pid!, exited, Number(new URL(hub.url).port));
    assert.equal(await exited, 0);
    t.diagnostic(`${samples} samples during the pull: ${seen.size} distinct connections, all to the Hub (${address}); ${elsewhere.length} elsewhere or listening`);
    assert.ok(seen.size >= 1, 'the download connection was seen: the sampling works');
    assert.deepEqual(elsewhere, []);
  } finally {
    await hub.close();
  }
});
