/**
 * The sidebar chat (browser code). Renders trainer status and the conversation; sends
 * questions to the extension host and shows the streamed answers. Model output is untrusted:
 * everything is rendered as text, never as HTML.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import type { HostToWebview, TrainerView, WebviewToHost } from './messages';
import css from './style.css';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (m: WebviewToHost): void => vscode.postMessage(m);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = props.text;
  return e;
}

const style = el('style');
style.textContent = css;
style.nonce = document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce ?? '';
document.head.append(style);

const trainer = el('div');
trainer.id = 'trainer';
trainer.setAttribute('role', 'status');
const messages = el('div');
messages.id = 'messages';
messages.setAttribute('aria-live', 'polite');
const empty = el('p', { className: 'empty', text: 'Ask about this workspace. Answers come from the local trainer; nothing leaves this machine.' });
messages.append(empty);

const form = el('form');
const input = document.createElement('vscode-textarea');
input.id = 'question';
input.setAttribute('placeholder', 'Ask a question (Enter to send, Shift+Enter for a new line)');
input.setAttribute('rows', '3');
input.setAttribute('aria-label', 'Question');
const actions = el('div', { className: 'actions' });
const stop = document.createElement('vscode-button');
stop.id = 'stop';
stop.textContent = 'Stop';
stop.setAttribute('secondary', '');
stop.hidden = true;
const send = document.createElement('vscode-button');
send.id = 'send';
send.textContent = 'Ask';
actions.append(stop, send);
form.append(input, actions);
document.body.append(trainer, messages, form);

function renderTrainer(t: TrainerView): void {
  trainer.replaceChildren();
  trainer.dataset.state = t.state;
  const state = el('span', { className: 'state' });
  switch (t.state) {
    case 'ready': {
      state.textContent = `Trainer ready (pid ${t.pid})`;
      const ort = document.createElement('vscode-badge');
      ort.textContent = `ONNX Runtime ${t.onnxruntime}`;
      trainer.append(state, ort);
      for (const p of t.providers.filter((p) => p.available)) {
        const b = document.createElement('vscode-badge');
        b.textContent = p.name.toUpperCase();
        trainer.append(b);
      }
      if (!t.selfTestOk) trainer.append(el('span', { className: 'state', text: 'runtime self-test failed' }));
      return;
    }
    case 'starting':
      state.textContent = 'Trainer starting…';
      break;
    case 'stopped':
      state.textContent = 'Trainer stopped; it starts on the next question.';
      break;
    case 'crashed':
      state.textContent = 'Trainer stopped unexpectedly; it restarts on the next question.';
      break;
    case 'failed':
      state.textContent = `Trainer unavailable: ${t.error}`;
      break;
  }
  trainer.append(state);
}

const answers = new Map<number, { root: HTMLElement; body: HTMLElement }>();
let pending = 0;

function addMessage(kind: 'question' | 'answer', who: string, text: string): { root: HTMLElement; body: HTMLElement } {
  empty.remove();
  const root = el('div', { className: `message ${kind}` });
  const body = el('span', { className: 'body', text });
  root.append(el('span', { className: 'who', text: who }), body);
  messages.append(root);
  messages.scrollTop = messages.scrollHeight;
  return { root, body };
}

function setBusy(): void {
  stop.hidden = pending === 0;
}

function onHostMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'trainer':
      renderTrainer(m.trainer);
      break;
    case 'question': {
      const q = addMessage('question', 'You', m.text);
      q.root.dataset.id = String(m.id);
      const a = addMessage('answer', 'LIFT', '');
      a.root.dataset.id = String(m.id);
      a.root.dataset.outcome = 'streaming';
      answers.set(m.id, a);
      pending++;
      setBusy();
      break;
    }
    case 'answerChunk': {
      const a = answers.get(m.id);
      if (!a) break;
      a.body.textContent += m.text;
      messages.scrollTop = messages.scrollHeight;
      break;
    }
    case 'answerEnd': {
      const a = answers.get(m.id);
      if (!a) break;
      a.root.dataset.outcome = m.outcome;
      if (m.outcome === 'failed') a.root.append(el('span', { className: 'error', text: m.error ?? 'The answer failed.' }));
      if (m.outcome === 'cancelled') a.root.append(el('span', { className: 'note', text: ' (stopped)' }));
      if (m.note) a.root.append(el('span', { className: 'source', text: m.note }));
      answers.delete(m.id);
      pending = Math.max(0, pending - 1);
      setBusy();
      break;
    }
  }
}

function submit(): void {
  const text = input.value.trim();
  if (!text) return;
  post({ type: 'ask', text });
  input.value = '';
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
send.addEventListener('click', submit);
stop.addEventListener('click', () => post({ type: 'stop' }));
input.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
window.addEventListener('message', (e: MessageEvent<HostToWebview>) => onHostMessage(e.data));
renderTrainer({ state: 'starting' });
post({ type: 'ready' });
