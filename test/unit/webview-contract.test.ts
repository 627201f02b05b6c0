import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainerView } from '../../src/chatController';
import { contentSecurityPolicy, makeNonce, renderChatHtml } from '../../src/webviewHtml';
import { chunkWords } from '../../native/server/server';
import { isWebviewToHost } from '../../webview/messages';

test('the CSP allows nothing but this nonce and the webview origin', () => {
  const csp = contentSecurityPolicy({ cspSource: 'https://x.vscode-cdn.net', nonce: 'abc' });
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:\/\/(?!x\.vscode-cdn\.net)/);
});

test('the HTML shell loads only the bundle, with the nonce, and escapes attributes', () => {
  const html = renderChatHtml({ cspSource: 'vscode-resource:', scriptUri: 'x"onload="alert(1)', nonce: 'n1' });
  assert.match(html, /<script type="module" nonce="n1" src="x&quot;onload=&quot;alert\(1\)"><\/script>/);
  assert.equal(html.match(/<script/g)?.length, 1);
});

test('nonces are fresh and URL-safe', () => {
  const a = makeNonce();
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(a, makeNonce());
});

test('messages from the webview are validated before use', () => {
  assert.ok(isWebviewToHost({ type: 'ask', text: 'hi' }));
  assert.ok(isWebviewToHost({ type: 'stop' }));
  assert.ok(isWebviewToHost({ type: 'ask', text: 'hi #a.ts', mentions: [{ label: 'a.ts', path: 'a.ts' }, { label: 'f', path: 'a.ts', startLine: 2, endLine: 5 }] }));
  assert.ok(isWebviewToHost({ type: 'complete', id: 3, query: 'ma' }));
  const mention = { label: 'a', path: 'a.ts' };
  for (const bad of [
    null,
    'ask',
    {},
    { type: 'ask' },
    { type: 'ask', text: 1 },
    { type: 'exec', cmd: 'rm' },
    { type: 'ask', text: 'x', mentions: 'a.ts' },
    { type: 'ask', text: 'x', mentions: [{ label: 'a' }] },
    { type: 'ask', text: 'x', mentions: [{ ...mention, startLine: 3 }] },
    { type: 'ask', text: 'x', mentions: [{ ...mention, startLine: 5, endLine: 2 }] },
    { type: 'ask', text: 'x', mentions: [{ ...mention, startLine: 0, endLine: 2 }] },
    { type: 'ask', text: 'x', mentions: Array(9).fill(mention) },
    { type: 'complete', id: 'x', query: 'a' },
    { type: 'complete', id: 1, query: 'a'.repeat(201) },
  ]) {
    assert.equal(isWebviewToHost(bad), false, JSON.stringify(bad));
  }
});

test('trainer status maps to what the sidebar shows', () => {
  assert.deepEqual(trainerView('starting'), { state: 'starting' });
  assert.deepEqual(trainerView('ready'), { state: 'starting' }); // ready but no status yet
  assert.equal(trainerView('failed', undefined, 'boom').state, 'failed');
  const view = trainerView('ready', {
    pid: 42,
    trainerVersion: '0.1.0',
    node: 'v20',
    platform: 'linux',
    arch: 'x64',
    uptimeSeconds: 1,
    onnxruntime: { loaded: false, error: 'no binary' },
    memory: { rssBytes: 1, heapUsedBytes: 1, systemTotalBytes: 2, systemFreeBytes: 1 },
  });
  assert.deepEqual(view, { state: 'ready', pid: 42, trainerVersion: '0.1.0', onnxruntime: 'failed to load: no binary', providers: [], selfTestOk: false });
});

test('echo chunks keep every character of the reply', () => {
  const text = ' two  words\nand\tmore ';
  assert.equal(chunkWords(text).join(''), text);
  assert.deepEqual(chunkWords('a b'), ['a ', 'b']);
  assert.deepEqual(chunkWords(''), []);
});
