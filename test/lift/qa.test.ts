/** Symbols with tree-sitter in every supported language, and the QA pairs made from them. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { generateQA, HELD_OUT, markdownSections, PHRASINGS } from '../../native/lift/qa';
import { extractSymbols } from '../../native/lift/symbols';
import { repoRoot } from '../helpers';

const dir = path.join(repoRoot, 'test/lift/fixtures/langs');
const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');

const EXPECTED: Record<string, { language: string; symbols: string[]; imports: string[]; doc: [string, string] }> = {
  'sample.ts': { language: 'typescript', symbols: ['function parseConfig@5', 'interface Config@9', 'class Server@13', 'method start@15', 'function double@18'], imports: ['node:fs', './helper'], doc: ['parseConfig', 'Parses the configuration text into a Config.'] },
  'sample.js': { language: 'javascript', symbols: ['function add@4', 'class Counter@8', 'method increment@9'], imports: ['./x.js'], doc: ['add', 'Adds two numbers.'] },
  'sample.py': { language: 'python', symbols: ['function parse_config@5', 'class Server@10', 'method start@13'], imports: ['os', '.util'], doc: ['parse_config', 'Parse the configuration text.'] },
  'sample.go': { language: 'go', symbols: ['function ParseConfig@9', 'type Config@13', 'method Start@17'], imports: ['fmt', 'net/http'], doc: ['ParseConfig', 'ParseConfig parses the configuration text.'] },
  'sample.rs': { language: 'rust', symbols: ['function parse_config@4', 'struct Config@8', 'enum Mode@12'], imports: ['std::collections::HashMap'], doc: ['parse_config', 'Parses the configuration text.'] },
  'Sample.java': { language: 'java', symbols: ['class Server@6', 'method start@8'], imports: ['java.util.List'], doc: ['start', 'Starts listening on a port.'] },
  'sample.cpp': { language: 'cpp', symbols: ['function parse_config@5', 'class Server@9'], imports: ['string', 'config.h'], doc: ['parse_config', 'Parses the configuration text.'] },
  'Sample.cs': { language: 'csharp', symbols: ['class Server@5', 'method Start@8'], imports: ['System', 'System.Collections.Generic'], doc: ['Server', 'An HTTP server.'] },
};

describe('symbols with tree-sitter', () => {
  for (const [file, e] of Object.entries(EXPECTED)) {
    test(`${e.language}: definitions, lines, doc comments, imports`, async () => {
      const r = (await extractSymbols(file, read(file)))!;
      assert.equal(r.language, e.language);
      assert.deepEqual(r.symbols.map((s) => `${s.kind} ${s.name}@${s.line}`), e.symbols);
      assert.deepEqual(r.imports, e.imports);
      assert.equal(r.symbols.find((s) => s.name === e.doc[0])!.doc, e.doc[1]);
    });
  }

  test('signatures stop before the body; code is the definition verbatim', async () => {
    const r = (await extractSymbols('sample.ts', read('sample.ts')))!;
    const p = r.symbols.find((s) => s.name === 'parseConfig')!;
    assert.equal(p.signature, 'function parseConfig(text: string): Config');
    assert.ok(read('sample.ts').includes(p.code));
    assert.equal((await extractSymbols('sample.go', read('sample.go')))!.symbols[0]!.signature, 'func ParseConfig(text string) (Config, error)');
    assert.equal(await extractSymbols('notes.txt', 'hello'), undefined);
  });
});

describe('QA pairs', () => {
  test('definition, purpose, signature, implementation, file contents and importers, in several phrasings', async () => {
    const files = ['sample.ts', 'sample.py'].map((f) => ({ root: dir, path: f, file: path.join(dir, f), text: read(f), bytes: 0 }));
    files.push({ root: dir, path: 'other.ts', file: path.join(dir, 'other.ts'), text: "import { helper } from './helper';\nexport const x = 1;\n", bytes: 0 });
    const qa = await generateQA(files);
    const about = (q: string) => qa.filter((p) => p.question === q).map((p) => p.answer);
    assert.deepEqual(about('Where is parseConfig defined?'), ['parseConfig is defined in sample.ts at line 5.']);
    assert.deepEqual(about('Which file and line define parse_config?'), ['parse_config is defined in sample.py at line 5.']);
    assert.deepEqual(about('What does parseConfig do?'), ['Parses the configuration text into a Config.']);
    assert.deepEqual(about('What parameters does parse_config take?'), ['`def parse_config(text: str) -> dict`']);
    assert.match(about('Show the implementation of parseConfig.')[0]!, /^In sample\.ts:\n```\nexport function parseConfig|^In sample\.ts:\n```\nfunction parseConfig/);
    assert.match(about('What does sample.py contain?')[0]!, /^sample\.py defines parse_config \(function, line 5\), Server \(class, line 10\), start \(method, line 13\)\.$/);
    assert.deepEqual(about('Which files import ./helper?'), ['./helper is imported by sample.ts, other.ts.']);
    assert.equal(qa.filter((p) => p.kind === 'definition' && p.answer.startsWith('parseConfig')).length, PHRASINGS.definition.length);
    // held-out phrasings never appear in training pairs
    const questions = new Set(qa.map((p) => p.question));
    for (const fs_ of Object.values(HELD_OUT)) if (fs_.length) assert.ok(!questions.has(fs_[0]!('parseConfig')));
  });

  test('Markdown sections: heading → text, code fences do not start sections', () => {
    const s = markdownSections('# Title\nIntro.\n\n## Ports\nThe API listens on 8080.\n```sh\n# not a heading\n```\n## Empty\n');
    assert.deepEqual(s.map((x) => [x.heading, x.line]), [['Title', 1], ['Ports', 4]]);
    assert.match(s[1]!.body, /^The API listens on 8080\.\n```sh\n# not a heading\n```$/);
  });
});
