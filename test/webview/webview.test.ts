/**
 * The built sidebar bundle in real headless Chromium, under the same HTML and CSP the
 * extension serves, with a stand-in for `acquireVsCodeApi` wired to the real host-side
 * controller and a real trainer process: what the user types makes a full round trip.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TrainerClient } from '../../native/client';
import { ChatController } from '../../src/chatController';
import { makeNonce, renderChatHtml } from '../../src/webviewHtml';
import type { HostToWebview } from '../../webview/messages';
import { launchChromium } from '../chromium';
import { memoryLogger, repoRoot, trainerBundle } from '../helpers';

let server: http.Server;
let origin = '';
let browser: Browser;
let trainer: TrainerClient;

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/') {
      const html = renderChatHtml({ cspSource: origin, scriptUri: `${origin}/dist/webview.js`, nonce: makeNonce() });
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else if (req.url === '/dist/webview.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(fs.readFileSync(path.join(repoRoot, 'dist', 'webview.js')));
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  trainer = new TrainerClient({ trainerPath: trainerBundle, logger: memoryLogger(), client: { name: 'webview-test', version: '0' } });
});

after(async () => {
  await trainer?.dispose();
  await browser?.close();
  server?.close();
});

interface Harness {
  page: Page;
  chat: ChatController;
  fromWebview: unknown[];
  toWebview: HostToWebview[];
  cspViolations: string[];
  errors: string[];
}

async function open(chunkDelayMs = 0): Promise<Harness> {
  const page = await browser.newPage();
  const h: Harness = { page, chat: new ChatController(trainer, { chunkDelayMs }), fromWebview: [], toWebview: [], cspViolations: [], errors: [] };
  page.on('pageerror', (e) => h.errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && h.errors.push(m.text()));
  h.chat.attach((m) => {
    h.toWebview.push(m);
    void page.evaluate((msg) => window.postMessage(msg, '*'), m).catch(() => undefined);
  });
  await page.exposeFunction('__liftHost', (m: unknown) => {
    h.fromWebview.push(m);
    void h.chat.handle(m);
  });
  await page.exposeFunction('__liftCsp', (v: string) => h.cspViolations.push(v));
  // A string, not a function: tsx's transform would leave helper calls the page does not have.
  await page.addInitScript(`
    let state;
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__liftHost(m),
      getState: () => state,
      setState: (s) => { state = s; },
    });
    document.addEventListener('securitypolicyviolation', (e) => window.__liftCsp(e.violatedDirective + ' ' + e.blockedURI));
  `);
  await page.goto(`${origin}/`);
  return h;
}

async function ask(h: Harness, text: string): Promise<void> {
  const box = h.page.locator('vscode-textarea#question');
  await box.click();
  await h.page.keyboard.type(text);
  await h.page.keyboard.press('Enter');
}

describe('sidebar webview in Chromium', () => {
  let h: Harness;
  beforeEach(async () => {
    await h?.page.close();
  });
  after(async () => {
    await h?.page.close();
  });

  test('renders and shows the real trainer status after its ready message', async () => {
    h = await open();
    await h.page.locator('#trainer[data-state="ready"]').waitFor({ timeout: 15_000 });
    const text = await h.page.locator('#trainer').innerText();
    assert.match(text, new RegExp(`Trainer ready \\(pid ${trainer.pid}\\)`));
    assert.match(text, /ONNX Runtime 1\.30\.0/);
    assert.match(text, /CPU/);
    assert.deepEqual(h.fromWebview[0], { type: 'ready' });
    // The web components upgraded (their shadow roots exist), under the strict CSP.
    assert.equal(await h.page.evaluate(() => !!document.querySelector('vscode-button')?.shadowRoot), true);
    assert.deepEqual(h.cspViolations, []);
    assert.deepEqual(h.errors, []);
  });

  test('a typed question makes a round trip through the trainer and streams back', async () => {
    h = await open();
    await ask(h, 'What does parseConfig do?');
    const answer = h.page.locator('.message.answer[data-outcome="done"] .body');
    await answer.waitFor({ timeout: 15_000 });
    assert.match(await answer.innerText(), new RegExp(`pid ${trainer.pid}\\) received your question: "What does parseConfig do\\?"`));
    assert.equal(await h.page.locator('.message.question .body').innerText(), 'What does parseConfig do?');
    assert.deepEqual(h.fromWebview.filter((m) => (m as { type: string }).type === 'ask'), [{ type: 'ask', text: 'What does parseConfig do?' }]);
    assert.ok(h.toWebview.filter((m) => m.type === 'answerChunk').length > 5, 'streamed in chunks');
    assert.equal(await h.page.locator('vscode-textarea#question').evaluate((e) => (e as HTMLTextAreaElement).value), '');
  });

  test('Shift+Enter adds a new line instead of sending', async () => {
    h = await open();
    await h.page.locator('vscode-textarea#question').click();
    await h.page.keyboard.type('line one');
    await h.page.keyboard.press('Shift+Enter');
    await h.page.keyboard.type('line two');
    assert.equal(h.fromWebview.filter((m) => (m as { type: string }).type === 'ask').length, 0);
    assert.equal(await h.page.locator('vscode-textarea#question').evaluate((e) => (e as HTMLTextAreaElement).value), 'line one\nline two');
  });

  test('markup in questions and answers is shown as text, never run', async () => {
    h = await open();
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await ask(h, hostile);
    await h.page.locator('.message.answer[data-outcome="done"]').waitFor({ timeout: 15_000 });
    assert.equal(await h.page.locator('.message.question .body').innerText(), hostile);
    assert.equal(await h.page.locator('#messages img, #messages script').count(), 0);
    assert.equal(await h.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  });

  test('Stop cancels a streaming answer in the trainer', async () => {
    h = await open(300);
    await ask(h, 'a question with a long answer');
    const stop = h.page.locator('vscode-button#stop');
    await stop.waitFor({ state: 'visible' });
    await h.page.waitForFunction(() => (document.querySelector('.message.answer .body')?.textContent ?? '').length > 0);
    await stop.click();
    await h.page.locator('.message.answer[data-outcome="cancelled"]').waitFor({ timeout: 10_000 });
    assert.match(await h.page.locator('.message.answer').innerText(), /\(stopped\)/);
    assert.equal(await stop.isVisible(), false);
    assert.deepEqual(h.toWebview.at(-1), { type: 'answerEnd', id: 1, outcome: 'cancelled' });
  });

  test('a trainer killed mid-answer shows the error in the chat; the next question works', async () => {
    h = await open(150);
    await ask(h, 'first question');
    await h.page.waitForFunction(() => (document.querySelector('.message.answer .body')?.textContent ?? '').length > 0);
    const killed = trainer.pid!;
    process.kill(killed, 'SIGKILL');
    const failed = h.page.locator('.message.answer[data-outcome="failed"] .error');
    await failed.waitFor({ timeout: 10_000 });
    assert.match(await failed.innerText(), /stopped unexpectedly \(killed by SIGKILL\)/);
    await h.page.locator('#trainer[data-state="crashed"]').waitFor({ timeout: 5000 });

    await ask(h, 'second question');
    await h.page.locator('.message.answer[data-outcome="done"]').waitFor({ timeout: 15_000 });
    assert.notEqual(trainer.pid, killed);
    await h.page.locator('#trainer[data-state="ready"]').waitFor({ timeout: 10_000 });
  });

  test('colours come from VS Code theme variables', async () => {
    h = await open();
    await h.page.evaluate(() => document.documentElement.style.setProperty('--vscode-foreground', 'rgb(1, 2, 3)'));
    assert.equal(await h.page.evaluate(() => getComputedStyle(document.body).color), 'rgb(1, 2, 3)');
  });
});
