/**
 * Retrieval sized to the model: chunks cut by the model's own tokens never exceed the budget and
 * end at the boundaries of the text (prose: headings, paragraphs, sentences; code: definitions
 * found with tree-sitter; very long lines between words); the prompt takes several of them and
 * what fits of the next; the workspace index finds what Bm25Index finds, follows edits, removals
 * and a full collection, survives a save and a load, and refuses a damaged file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { formatPrompt } from '../../native/lift/answer';
import type { CorpusFile } from '../../native/lift/corpus';
import { Bm25Index, type ChunkSizing, chunkFile, chunkFilesByTokens, chunkHeader, chunkTokensFor, tokenSizing } from '../../native/lift/retrieve';
import { IndexFormatError, SearchIndex } from '../../native/lift/searchindex';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { TextTokenizer } from '../../native/model/tokenizer';
import { repoRoot } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-retrieve-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const defaultTok = TextTokenizer.fromFolder(path.join(repoRoot, 'native', 'default-model'));
const byteTok = TextTokenizer.fromJson(byteLevelTokenizerJson());
const file = (p: string, text: string): CorpusFile => ({ root: tmp, path: p, file: path.join(tmp, p), text, bytes: Buffer.byteLength(text) });

/** Each chunk's text and header within the budget, counted by the tokenizer itself. */
function assertWithin(tok: TextTokenizer, sizing: ChunkSizing, p: string, chunks: { text: string; startLine: number; endLine: number }[]): void {
  for (const c of chunks) {
    const n = tok.encodeText(`${chunkHeader(p, c.startLine, c.endLine)}${c.text}\n\n`).length;
    assert.ok(n <= sizing.tokens, `${p}:${c.startLine}-${c.endLine} takes ${n} tokens, over ${sizing.tokens}`);
  }
}

const SPEC = [
  '# Orbit: Service Specification',
  '',
  'Orbit schedules batch jobs for the platform. It listens on port 7431 and is owned by the Falcon team. Jobs that fail are retried 4 times with a backoff of 8 seconds. A job may run for at most 90 minutes before it is stopped. Results are kept for 14 days in the archive, after which they are removed by the janitor.',
  '',
  '## Queues',
  '',
  'The default queue is orbit-main. Priority jobs go to orbit-fast, which has 12 workers. Each worker takes one job at a time. A queue that holds more than 5000 jobs refuses new ones with error ORB-503.',
  '',
  '## Storage',
  '',
  'Job state lives in PostgreSQL 15.4 on port 5433. Backups run nightly at 02:00 UTC and are kept for 30 days.',
  'Logs go to /var/log/orbit and rotate at 100 MB.',
  '',
].join('\n');

const CODE = `import { readFile } from 'node:fs/promises';

/** The largest job a queue accepts, in bytes. */
export const MAX_JOB_BYTES = 1 << 20;

/**
 * Parses a job description: a JSON object with a name and a command.
 * Throws when the text is not JSON.
 */
export function parseJob(text: string): { name: string; command: string } {
  const job = JSON.parse(text) as { name: string; command: string };
  if (!job.name) throw new Error('a job needs a name');
  return job;
}

export class Scheduler {
  private readonly queue: string[] = [];

  /** Adds a job to the end of the queue. */
  add(name: string): void {
    this.queue.push(name);
  }

  /** Takes the next job, or undefined when the queue is empty. */
  next(): string | undefined {
    return this.queue.shift();
  }
}

export async function loadJob(file: string): Promise<{ name: string; command: string }> {
  return parseJob(await readFile(file, 'utf8'));
}
`;

describe('chunks sized to the model', () => {
  test('a third of the context a model leaves, clamped', () => {
    assert.equal(chunkTokensFor(512), 106, 'the default model: 512 - 128 for the answer - 64 for the prompt, a third');
    assert.equal(chunkTokensFor(32768), 384);
    assert.equal(chunkTokensFor(128), 48);
  });

  test('prose: within the budget, cut at headings, paragraphs and sentences, every sentence kept once', async () => {
    for (const [tok, tokens] of [[defaultTok, 106], [byteTok, 160]] as const) {
      const sizing = tokenSizing(tok, 512, tokens);
      const chunks = await chunkFile('SPEC.md', SPEC, sizing);
      assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
      assertWithin(tok, sizing, 'SPEC.md', chunks);
      for (const c of chunks) {
        assert.equal(c.text, SPEC.slice(c.start, c.end), 'offsets name the text');
        assert.ok(c.start === 0 || /(\n|[.!?] )$/.test(SPEC.slice(0, c.start)), `starts at a line or a sentence: ${JSON.stringify(c.text.slice(0, 30))}`);
        assert.match(c.text, /[.!?:\w]$/, 'ends at the end of a sentence or line');
        assert.equal(c.startLine, SPEC.slice(0, c.start).split('\n').length);
      }
      // nothing lost, nothing twice: the chunks are the text, less the whitespace between them
      assert.equal(chunks.map((c) => c.text).join(' ').replace(/\s+/g, ' '), SPEC.trim().replace(/\s+/g, ' '));
      // a heading starts a chunk, and the chunks after the first under it carry it (for the index)
      assert.ok(chunks.some((c) => c.text.startsWith('## Queues') && c.heading === undefined), 'the Queues heading begins a chunk');
      for (const c of chunks.filter((x) => x.startLine === 7 && !x.text.startsWith('The default'))) assert.equal(c.heading, 'Queues');
    }
  });

  test('code: within the budget, definitions whole where they fit, a definition starts at its doc comment', async () => {
    const tok = byteTok;
    const sizing = tokenSizing(tok, 512, 420);
    const chunks = await chunkFile('src/jobs.ts', CODE, sizing);
    assertWithin(tok, sizing, 'src/jobs.ts', chunks);
    const lines = CODE.split('\n');
    const spans: [string, number, number][] = [
      ['parseJob', lines.findIndex((l) => l.startsWith('/**', 0) && lines[lines.indexOf(l) + 1]!.includes('Parses')) + 1, lines.findIndex((l) => l === '}') + 1],
      ['loadJob', lines.findIndex((l) => l.includes('async function loadJob')) + 1, lines.length - 1],
    ];
    for (const [name, start, end] of spans) {
      const holder = chunks.find((c) => c.startLine <= start && c.endLine >= end);
      assert.ok(holder, `${name} (lines ${start}-${end}) lies whole in one chunk: ${chunks.map((c) => `${c.startLine}-${c.endLine}`).join(', ')}`);
    }
    assert.ok(chunks.some((c) => c.text.startsWith('/**\n * Parses a job')), 'parseJob’s chunk begins with its doc comment');
    // a class too large for one chunk is cut between its methods
    const small = tokenSizing(tok, 512, 200);
    const cut = await chunkFile('src/jobs.ts', CODE, small);
    assertWithin(tok, small, 'src/jobs.ts', cut);
    const add = lines.findIndex((l) => l.includes('/** Adds a job')) + 1;
    assert.ok(cut.some((c) => c.startLine === add || (c.startLine < add && c.endLine >= add + 3)), `add() is not split: ${cut.map((c) => `${c.startLine}-${c.endLine}`).join(', ')}`);
  });

  test('lines longer than the budget are cut between words (or anywhere in a blob), still within it', async () => {
    const words = Array.from({ length: 600 }, (_, i) => `word${i}`).join(' ');
    const blob = 'QUJD'.repeat(700);
    const text = `short line\n${words}\n${blob}\nlast line\n`;
    for (const p of ['notes.txt', 'data.ts']) {
      const sizing = tokenSizing(defaultTok, 512);
      const chunks = await chunkFile(p, text, sizing);
      assertWithin(defaultTok, sizing, p, chunks);
      assert.ok(chunks.map((c) => c.text).join('').replace(/\s+/g, '') === text.replace(/\s+/g, ''), 'nothing lost');
      const inWords = chunks.filter((c) => c.text.includes('word'));
      assert.ok(inWords.length >= 5);
      for (const c of inWords.slice(0, -1)) assert.match(c.text, /word\d+$/, 'cut between words');
    }
  });

  test('the prompt takes several chunks whole and the first that does not fit in part; the answer keeps its room', async () => {
    const sizing = tokenSizing(defaultTok, 512);
    const chunks = await chunkFilesByTokens([file('SPEC.md', SPEC.repeat(3))], sizing);
    const { ids, used } = formatPrompt(defaultTok, 512, 'How often is a failed job retried?', chunks, 128);
    assert.ok(ids.length <= 512 - 128, `${ids.length} prompt tokens`);
    assert.ok(used.length >= 3, `${used.length} chunks in the prompt`);
    // a chunk larger than the room left: its first lines go in, with the lines they are
    const big = { path: 'big.ts', startLine: 10, endLine: 200, text: Array.from({ length: 191 }, (_, i) => `const value${i} = ${i};`).join('\n') };
    const p = formatPrompt(defaultTok, 512, 'What is value3?', [big], 128);
    assert.equal(p.used.length, 1);
    const part = p.used[0]!;
    assert.ok(part.endLine < 200 && part.endLine > 15, `lines ${part.startLine}-${part.endLine}`);
    assert.equal(part.text, big.text.split('\n').slice(0, part.endLine - 9).join('\n'), 'whole lines, numbered as they are');
    assert.ok(p.ids.length <= 512 - 128);
  });
});

describe('the search index', () => {
  const sizing = (): ChunkSizing => tokenSizing(defaultTok, 512);
  const identity = { roots: [tmp], chunkTokens: 106, tokenizer: 'test' };
  const files = [
    file('src/config.ts', `${Array.from({ length: 50 }, (_, i) => `export const LIMIT_${i} = ${i * 10};`).join('\n')}\n/** Parses the config file. */\nexport function parseConfig(text: string): Config {\n  const config = JSON.parse(text) as Config;\n  return config;\n}\n`),
    file('src/server.ts', 'import { parseConfig } from "./config";\nexport function startServer(port: number) {}\n'),
    file('README.md', '# Demo\nA server that reads its config.\n'),
    file('SPEC.md', SPEC),
  ];

  test('finds what Bm25Index finds: the definition first, files by path, nothing for unknown words', async () => {
    const index = new SearchIndex(identity, sizing());
    await index.put(files);
    const top = index.search('where is parse config defined?', 3);
    assert.equal(top[0]!.file.path, 'src/config.ts');
    assert.ok(top[0]!.startLine <= 52 && top[0]!.endLine >= 52, `the chunk with parseConfig: ${top[0]!.startLine}-${top[0]!.endLine}`);
    assert.equal(index.search('what does server.ts contain', 1)[0]!.file.path, 'src/server.ts');
    assert.deepEqual(index.search('kubernetes', 3), []);
    const retries = index.search('how many times are failed jobs retried', 1)[0]!;
    assert.match(SPEC.slice(retries.start, retries.end), /retried 4 times/);
    // light stems: "worker" finds "workers", "rotating" finds "rotate"; question words alone find nothing
    const hit = (q: string): string => ((h) => SPEC.slice(h!.start, h!.end))(index.search(q, 1)[0]);
    assert.match(hit('which worker count'), /12 workers/);
    assert.match(hit('rotating logs'), /rotate at 100 MB/);
    assert.deepEqual(index.search('what is it', 3), []);
    // the same top file as the line-window index
    const chunks = await chunkFilesByTokens(files, sizing());
    assert.equal(new Bm25Index(chunks).search('where is parse config defined?', 1)[0]!.chunk.path, top[0]!.file.path);
  });

  test('follows an edit, a removal and a full collection; compaction keeps the answers', async () => {
    const index = new SearchIndex(identity, sizing());
    await index.put(files);
    const before = index.size;
    assert.equal((await index.put(files)).changed, 0, 'unchanged text is not indexed again');
    await index.put([file('SPEC.md', SPEC.replace('retried 4 times', 'retried 6 times by the zephyr loop'))]);
    assert.equal(index.search('zephyr', 1)[0]!.file.path, 'SPEC.md');
    assert.ok(index.size.deadChunks > 0);
    assert.equal(await index.remove(['SPEC.md']), 1);
    assert.deepEqual(index.search('zephyr', 1), []);
    const synced = await index.sync([files[0]!, file('NEW.md', '# New\nThe quokka service.\n')]);
    assert.deepEqual([synced.removed, index.has('src/server.ts'), index.has('NEW.md')], [2, false, true]);
    const ranked = index.search('parse config', 3).map((h) => [h.file.path, h.startLine]);
    index.compact();
    assert.equal(index.size.deadChunks, 0);
    assert.equal(index.size.pendingPostings, 0);
    assert.deepEqual(index.search('parse config', 3).map((h) => [h.file.path, h.startLine]), ranked);
    assert.ok(index.size.terms < before.terms + 10, 'terms of removed files are dropped');
  });

  test('saved and loaded, it answers the same; a damaged or foreign file is refused with the reason', async () => {
    const index = new SearchIndex(identity, sizing());
    await index.put(files);
    const where = path.join(tmp, 'store', 'retrieval', 'x.idx');
    index.save(where);
    assert.deepEqual(fs.readdirSync(path.dirname(where)), ['x.idx'], 'no temporary file left');
    const loaded = SearchIndex.load(where, identity, sizing());
    for (const q of ['parse config', 'queue workers', 'storage backups']) assert.deepEqual(loaded.search(q, 5), index.search(q, 5));
    assert.deepEqual(loaded.list().map((f) => f.path).sort(), files.map((f) => f.path).sort());
    const bytes = fs.readFileSync(where);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3]! ^= 0xff;
    assert.throws(() => SearchIndex.deserialize(flipped, identity, sizing()), (e: unknown) => e instanceof IndexFormatError && /checksum/.test(e.message));
    assert.throws(() => SearchIndex.deserialize(bytes.subarray(0, bytes.length - 100), identity, sizing()), IndexFormatError);
    assert.throws(() => SearchIndex.deserialize(Buffer.from('garbage'), identity, sizing()), /not an index file/);
    assert.throws(() => SearchIndex.deserialize(bytes, { ...identity, chunkTokens: 200 }, sizing()), /another tokenizer/);
  });
});
