/**
 * `lift bench tokenizer`: encode throughput of the engine's TextTokenizer (model/tokenizer.ts, on
 * @huggingface/tokenizers) with the default model's tokenizer.json, on ~10 MB of JavaScript and
 * TypeScript taken from node_modules (a deterministic selection), next to the Rust Hugging Face
 * tokenizers (the npm package `tokenizers`, a dev dependency: reported as not installed when
 * absent) on the same files in the same run; and whether both give the same ids.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir } from '../model/default';
import { TextTokenizer } from '../model/tokenizer';

const TARGET_BYTES = 10e6;
const PASSES = 3;
const MB = 1e6;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What the bench uses of the `tokenizers` package (Node bindings of the Rust library). */
interface RustEncoding {
  getIds(): number[];
}
interface RustTokenizer {
  encode(text: string, pair?: string | null, options?: { addSpecialTokens?: boolean }): Promise<RustEncoding>;
  encodeBatch(texts: string[], options?: { addSpecialTokens?: boolean }): Promise<RustEncoding[]>;
}
interface RustModule {
  Tokenizer: { fromString(json: string): RustTokenizer };
}

/** The Rust tokenizers, or why not. The name is not a literal so that esbuild leaves it to Node. */
async function loadRust(): Promise<RustModule | string> {
  const name = 'tokenizers';
  try {
    const mod = (await import(name)) as Partial<RustModule> & { default?: Partial<RustModule> };
    const m = mod.Tokenizer ? mod : mod.default;
    if (!m?.Tokenizer) return 'Rust tokenizers not installed (the `tokenizers` package has no Tokenizer export)';
    return m as RustModule;
  } catch (err) {
    return `Rust tokenizers not installed (${(err as Error).message.split('\n')[0]})`;
  }
}

const fnv1a = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
};

/**
 * ~TARGET_BYTES of .js/.ts files under `root`: every such file of 1–256 KB that does not look
 * minified, in the order of a hash of its path (spread over many packages, the same on every
 * run with the same node_modules; the optional `tokenizers` package left out), until the target
 * is reached.
 */
function codeSample(root: string): { path: string; text: string; bytes: number }[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      // the optional Rust peer's own files left out: the same selection whether it is installed or not
      if (e.isDirectory() && rel !== 'tokenizers') visit(rel);
      else if (e.isFile() && /\.(c|m)?(js|ts)$/.test(e.name) && !/\.min\./.test(e.name)) found.push(rel);
    }
  };
  visit('');
  found.sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : 1));
  const out: { path: string; text: string; bytes: number }[] = [];
  let total = 0;
  for (const rel of found) {
    if (total >= TARGET_BYTES) break;
    const file = path.join(root, rel);
    const size = fs.statSync(file).size;
    if (size < 1024 || size > 256 * 1024) continue;
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    if (text.length / lines.length > 200 || lines.some((l) => l.length > 2000)) continue; // minified or a data blob
    out.push({ path: rel, text, bytes: Buffer.byteLength(text) });
    total += Buffer.byteLength(text);
  }
  return out;
}

export async function benchTokenizer(log: (line: string) => void = console.log): Promise<Record<string, unknown>[]> {
  const dir = defaultModelDir();
  if (!dir) {
    log('skipped: native/default-model is not there');
    return [{ note: 'skipped: native/default-model is not there' }];
  }
  const nodeModules = path.join(__dirname, '..', 'node_modules');
  const sample = codeSample(nodeModules);
  const bytes = sample.reduce((a, f) => a + f.bytes, 0);
  const digest = createHash('sha256').update(sample.map((f) => f.path).join('\n')).digest('hex').slice(0, 12);
  log(`sample: ${sample.length} .js/.ts files from ${path.relative(process.cwd(), nodeModules) || nodeModules}, ${(bytes / MB).toFixed(2)} MB (selection ${digest}); ${PASSES} passes each, medians; MB = 10^6 bytes of UTF-8`);

  const ours = TextTokenizer.fromFolder(dir);
  const rustMod = await loadRust();
  // The corpus path (encodeText) encodes with the added tokens off: the Rust tokenizer gets the same tokenizer.json without them.
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: [string, string][] } };
  const plainJson = (j: object): string => JSON.stringify({ ...j, added_tokens: [] });
  let rust: RustTokenizer | undefined;
  let loadError: string | undefined;
  if (typeof rustMod !== 'string') {
    try {
      rust = rustMod.Tokenizer.fromString(plainJson(json));
    } catch (err) {
      // the Rust library refuses a vocabulary with holes (a merge whose result has no id)
      loadError = (err as Error).message;
      log(`Rust tokenizers rejects the default model's tokenizer.json: ${loadError}`);
    }
  }

  const oursTimes: number[] = [];
  const rustTimes: number[] = [];
  const batchTimes: number[] = [];
  let oursIds: number[][] = [];
  let rustIds: number[][] = [];
  for (let p = 0; p < PASSES; p++) {
    let t = performance.now();
    oursIds = sample.map((f) => ours.encodeText(f.text));
    oursTimes.push((performance.now() - t) / 1000);
    if (rust) {
      t = performance.now();
      const ids: number[][] = [];
      for (const f of sample) ids.push((await rust.encode(f.text, null, { addSpecialTokens: false })).getIds());
      rustTimes.push((performance.now() - t) / 1000);
      rustIds = ids;
      t = performance.now();
      await rust.encodeBatch(sample.map((f) => f.text), { addSpecialTokens: false });
      batchTimes.push((performance.now() - t) / 1000);
    }
  }
  const tokens = oursIds.reduce((a, x) => a + x.length, 0);
  const row = (name: string, times: number[], n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    tokenizer: name,
    files: sample.length,
    mb: bytes / MB,
    tokens: n,
    median_s: median(times),
    mb_per_s: bytes / MB / median(times),
    tokens_per_s: n / median(times),
    ...extra,
  });
  /** Files with identical ids, and tokens equal up to each file's first difference (of the longer encoding), in %. */
  const agreement = (a: number[][], b: number[][]): { files_pct: number; tokens_pct: number; first?: string } => {
    let same = 0;
    let agree = 0;
    let compared = 0;
    let first: string | undefined;
    sample.forEach((f, i) => {
      const x = a[i]!;
      const y = b[i]!;
      let k = 0;
      while (k < x.length && k < y.length && x[k] === y[k]) k++;
      if (k === x.length && k === y.length) same++;
      else {
        const text = (ids: number[]): string => JSON.stringify(ours.decode(ids.slice(k, k + 4), false));
        first ??= `${f.path}: at token ${k}: ours ${JSON.stringify(x.slice(k, k + 4))} ${text(x)}, Rust ${JSON.stringify(y.slice(k, k + 4))} ${text(y)}`;
      }
      agree += k;
      compared += Math.max(x.length, y.length);
    });
    return { files_pct: (100 * same) / sample.length, tokens_pct: (100 * agree) / compared, ...(first ? { first } : {}) };
  };
  const results: Record<string, unknown>[] = [row('LIFT TextTokenizer.encodeText (JS), 1 thread', oursTimes, tokens, { selection: digest })];
  const r0 = results[0]!;
  if (!rust) r0.note = typeof rustMod === 'string' ? rustMod : `Rust tokenizers refused the tokenizer.json: ${loadError}`;
  else {
    const rustTokens = rustIds.reduce((a, x) => a + x.length, 0);
    results.push(row('Rust tokenizers, encode per file', rustTimes, rustTokens));
    results.push(row('Rust tokenizers, encodeBatch', batchTimes, rustTokens));
    for (const r of results.slice(1)) r.lift_vs_this = (r0.mb_per_s as number) / (r.mb_per_s as number);
    const same = agreement(oursIds, rustIds);
    r0.ids_identical_files_pct = same.files_pct;
    r0.ids_agreement_pct = same.tokens_pct;
    if (same.first) r0.first_difference = same.first;
  }
  for (const r of results) {
    log(
      `${String(r.tokenizer).padEnd(52)}${`${(r.mb_per_s as number).toFixed(2)} MB/s`.padStart(12)}${`${((r.tokens_per_s as number) / 1e3).toFixed(0)}k tokens/s`.padStart(18)}` +
        (r.lift_vs_this ? `   LIFT = ${(r.lift_vs_this as number).toFixed(2)}× this` : ''),
    );
  }
  if (r0.note) log(String(r0.note));
  else {
    log(`same ids as Rust: ${(r0.ids_identical_files_pct as number).toFixed(2)}% of files identical, ${(r0.ids_agreement_pct as number).toFixed(3)}% of tokens (up to each file's first difference)`);
    if (r0.first_difference) log(`  first difference: ${r0.first_difference}`);
  }
  return results;
}
