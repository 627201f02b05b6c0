/**
 * Model output in hovers and comment threads (Markdown with HTML off, where VS Code drops raw
 * HTML): text in angle brackets outside code stays visible as typed; code is left as written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtmlOutsideCode as esc } from '../../src/untrustedMarkdown';

test('a < outside code becomes &lt; (Array<string> stays Array<string>, a tag shows as text)', () => {
  assert.equal(esc('Returns Array<string> of names.'), 'Returns Array&lt;string> of names.');
  assert.equal(esc('not <b>bold</b> <img src=x onerror=alert(1)>'), 'not &lt;b>bold&lt;/b> &lt;img src=x onerror=alert(1)>');
  assert.equal(esc('> a quote stays a quote'), '> a quote stays a quote');
});

test('code spans and fenced blocks are left as written (an entity there would show literally)', () => {
  assert.equal(esc('Use `Map<K, V>` here, not <x>.'), 'Use `Map<K, V>` here, not &lt;x>.');
  assert.equal(esc('a ``b<c`` d <e>'), 'a ``b<c`` d &lt;e>');
  assert.equal(esc('Code:\n```ts\nconst a: Array<number> = [];\n```\nThen <x>.'), 'Code:\n```ts\nconst a: Array<number> = [];\n```\nThen &lt;x>.');
  assert.equal(esc('~~~\n<unclosed fence to the end>'), '~~~\n<unclosed fence to the end>');
  // three backticks inside a line open no fence
  assert.equal(esc('see ``` then <y>'), 'see ``` then &lt;y>');
});
