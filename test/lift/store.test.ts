/**
 * The adapter store: one folder per base model + corpus, an atomic pointer to the active one,
 * listing newest first, select, delete (the active one hands over to the newest remaining) and
 * pruning that never removes the active adapter. Incomplete folders are not adapters.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { MANIFEST } from '../../native/lift/learn';
import { AdapterStore, type Manifest } from '../../native/lift/store';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-store-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A stored adapter as learning leaves it: weights and manifest (the weights' content is not read here). */
function put(store: AdapterStore, corpus: string, createdAt: string, complete = true): string {
  const key = AdapterStore.key('/models/tiny', corpus);
  const dir = store.dirFor(key);
  fs.mkdirSync(dir, { recursive: true });
  const m: Manifest = { format: 1, engine: '0', createdAt, baseModel: '/models/tiny', inputHash: corpus, tokens: 100, qaPairs: 4, settings: { preset: 'fast' }, files: [], losses: [[1, 2.5], [2, 1.25]] };
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify(m));
  if (complete) fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), 'weights');
  return key;
}

test('keys depend on the base model and the corpus, and only keys name folders', () => {
  const k = AdapterStore.key('/models/tiny', 'abc');
  assert.match(k, /^[0-9a-f]{16}$/);
  assert.equal(AdapterStore.key('/models/tiny', 'abc'), k);
  assert.notEqual(AdapterStore.key('/models/other', 'abc'), k);
  assert.notEqual(AdapterStore.key('/models/tiny', 'abd'), k);
  const store = new AdapterStore(path.join(tmp, 'keys'));
  for (const bad of ['../escape', 'ABCDEF0123456789', '', '0123']) assert.throws(() => store.dirFor(bad), /not an adapter key/);
});

test('list, select, delete and prune', () => {
  const store = new AdapterStore(path.join(tmp, 's'), 3);
  assert.deepEqual(store.list(), []);
  assert.equal(store.activeDir(), undefined);
  const a = put(store, 'a', '2026-01-01T00:00:00.000Z');
  const b = put(store, 'b', '2026-01-02T00:00:00.000Z');
  put(store, 'half', '2026-01-03T00:00:00.000Z', false);
  assert.deepEqual(store.list().map((x) => x.key), [b, a], 'newest first; the folder without weights is not listed');
  assert.equal(store.activeKey(), undefined, 'nothing is active until selected');

  store.select(a);
  assert.equal(store.activeDir(), path.join(store.root, a));
  const listed = store.list();
  assert.deepEqual(listed.map((x) => [x.key, x.active]), [[b, false], [a, true]]);
  assert.deepEqual([listed[1]!.files, listed[1]!.tokens, listed[1]!.qaPairs, listed[1]!.finalLoss, listed[1]!.preset], [0, 100, 4, 1.25, 'fast']);
  assert.throws(() => store.select(AdapterStore.key('/models/tiny', 'never')), /no adapter/);
  assert.equal(store.activeKey(), a, 'a failed select changes nothing');
  assert.deepEqual(fs.readdirSync(store.root).filter((n) => n.startsWith('.')), [], 'no temporary file is left behind');

  // an active pointer to a folder that lost its weights is no pointer
  fs.rmSync(path.join(store.root, a, 'adapter_model.safetensors'));
  assert.equal(store.activeKey(), undefined);
  fs.writeFileSync(path.join(store.root, a, 'adapter_model.safetensors'), 'weights');

  store.delete(a);
  assert.equal(store.activeKey(), b, 'deleting the active adapter hands over to the newest remaining one');
  assert.throws(() => store.delete(a), /no adapter/);
  store.delete(b);
  assert.equal(store.activeKey(), undefined);
  assert.ok(!fs.existsSync(path.join(store.root, 'active.json')));

  const keys = ['1', '2', '3', '4', '5'].map((n) => put(store, n, `2026-02-0${n}T00:00:00.000Z`));
  store.select(keys[0]!); // the oldest is the active one
  const removed = store.prune();
  assert.deepEqual(removed.sort(), [keys[1]!, keys[2]!].sort(), 'keeps 3: the active one and the two newest');
  assert.deepEqual(store.list().map((x) => x.key), [keys[4], keys[3], keys[0]]);
  assert.equal(store.activeKey(), keys[0]);
});
