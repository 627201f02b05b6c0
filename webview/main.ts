/**
 * The sidebar chat (browser code). Renders trainer status and the conversation; sends
 * questions to the extension host and shows the streamed answers. Model output is untrusted:
 * answers are rendered as sanitized Markdown (markdown.ts); questions as text. Code blocks get
 * Copy and Insert buttons, file references and links become requests to the host.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import * as l10n from '@vscode/l10n';
import { linkFileRefs, renderMarkdown } from './markdown';
import { phaseWords, timeAgo } from './words';
import type { HistoryItem, HostToWebview, KnowledgeView, LearningView, Mention, MentionItem, TrainerView, WebviewToHost } from './messages';
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

// the extension's translations for VS Code's display language, when there are any
if (document.body.dataset.l10n) l10n.config({ contents: JSON.parse(document.body.dataset.l10n) as Record<string, string> });

const style = el('style');
style.textContent = css;
style.nonce = document.querySelector<HTMLScriptElement>('script[nonce]')?.nonce ?? '';
document.head.append(style);

// the header: which model answers, when this workspace was learned, what the self-check found
const header = el('div');
header.id = 'knowledge';
let knowledge: KnowledgeView | undefined;
function renderKnowledge(): void {
  if (!knowledge) return;
  const k = knowledge;
  // a sentence's start (after any marks a translation puts first)
  const model = k.model.replace(/\p{L}/u, (c) => c.toUpperCase());
  header.dataset.learned = String(k.learned);
  header.textContent = k.learned
    ? `${model} · ${l10n.t('learned {0}', k.learnedAt ? timeAgo(k.learnedAt) : '')}${k.selfCheck?.asked ? ` · ${l10n.t('answers {0} of {1} check questions', k.selfCheck.direct, k.selfCheck.asked)}` : ''}`
    : `${model} · ${l10n.t('this workspace is not learned yet')}`;
}
setInterval(renderKnowledge, 60_000); // "learned 3 min ago" stays true
const trainer = el('div');
trainer.id = 'trainer';
trainer.setAttribute('role', 'status');
const learning = el('section');
learning.id = 'learning';
learning.hidden = true;
learning.setAttribute('aria-label', l10n.t('Learning'));
const messages = el('div');
messages.id = 'messages';
// a labelled region that the keyboard can reach and scroll
messages.setAttribute('role', 'region');
messages.setAttribute('aria-label', l10n.t('Conversation'));
messages.tabIndex = 0;
// not a live region: a streamed answer re-renders on every chunk, and would be read again each time
const announcer = el('div', { className: 'visually-hidden' });
announcer.id = 'announcer';
announcer.setAttribute('aria-live', 'polite');
announcer.setAttribute('aria-atomic', 'true');
const empty = el('div', { className: 'empty' });
const emptyText = el('p', { text: l10n.t('Ask about this workspace. Answers come from the local trainer; nothing leaves this machine.') });
const offer = el('p', { className: 'offer' });
offer.hidden = true;
const learnButton = document.createElement('vscode-button');
learnButton.id = 'learn';
learnButton.textContent = l10n.t('Learn this workspace');
learnButton.addEventListener('click', () => post({ type: 'learn' }));
offer.append(el('span', { text: `${l10n.t('This workspace is not learned yet: answers come from the base model and the files that match.')} ` }), learnButton);
empty.append(emptyText, offer);
messages.append(empty);

const form = el('form');
const input = document.createElement('vscode-textarea');
input.id = 'question';
input.setAttribute('placeholder', l10n.t('Ask a question (Enter to send, Shift+Enter for a new line)'));
input.setAttribute('rows', '3');
input.setAttribute('aria-label', l10n.t('Question'));
const actions = el('div', { className: 'actions' });
const stop = document.createElement('vscode-button');
stop.id = 'stop';
stop.textContent = l10n.t('Stop');
stop.setAttribute('secondary', '');
stop.hidden = true;
const send = document.createElement('vscode-button');
send.id = 'send';
send.textContent = l10n.t('Ask');
const clear = document.createElement('vscode-button');
clear.id = 'clear';
clear.textContent = l10n.t('Clear');
clear.setAttribute('secondary', '');
clear.title = l10n.t('Clear the conversation of this workspace');
actions.append(clear, stop, send);
// the active editor's lines go with each question; a chip shows which, and takes them out or back in
const chip = el('div', { className: 'chip' });
chip.id = 'context';
chip.hidden = true;
const chipLabel = el('span', { className: 'chip-label' });
const chipToggle = el('button', { className: 'chip-toggle' });
chipToggle.type = 'button';
chip.append(chipLabel, chipToggle);
let activeLines: string | undefined;
let leaveOutActive = false;
function renderChip(): void {
  chip.hidden = !activeLines;
  chip.dataset.included = String(!leaveOutActive);
  chipLabel.textContent = leaveOutActive ? l10n.t('Active editor left out: {0}', activeLines ?? '') : l10n.t('With {0}', activeLines ?? '');
  chipToggle.textContent = leaveOutActive ? '+' : '×';
  const label = leaveOutActive ? l10n.t('Include the active editor again') : l10n.t('Leave the active editor out of questions');
  chipToggle.setAttribute('aria-label', label);
  chipToggle.title = label;
}
chipToggle.addEventListener('click', () => {
  leaveOutActive = !leaveOutActive;
  renderChip();
});
// `#` mentions: files and symbols whose lines go with the question, offered as they are typed
const suggest = el('ul', { className: 'mentions' });
suggest.id = 'mentions';
suggest.hidden = true;
suggest.setAttribute('role', 'listbox');
suggest.setAttribute('aria-label', l10n.t('Files and symbols to mention'));
let chosen: Mention[] = [];
let offered: MentionItem[] = [];
let highlighted = 0;
let completing: { id: number; start: number } | undefined;
let nextCompletion = 1;

function closeSuggest(): void {
  completing = undefined;
  suggest.hidden = true;
  suggest.replaceChildren();
  input.removeAttribute('aria-expanded');
}

function highlight(i: number): void {
  highlighted = (i + offered.length) % offered.length;
  suggest.querySelectorAll('li').forEach((li, j) => li.setAttribute('aria-selected', String(j === highlighted)));
  const item = offered[highlighted];
  suggest.children[highlighted]?.scrollIntoView({ block: 'nearest' });
  // the list is outside the textarea's shadow root, where aria-activedescendant cannot point: say it
  if (item) announcer.textContent = `${item.kind === 'file' ? l10n.t('file') : l10n.t('symbol')} ${item.label} ${item.detail}`;
}

function showSuggestions(items: MentionItem[]): void {
  offered = items;
  suggest.replaceChildren();
  if (!items.length) {
    suggest.hidden = true;
    return;
  }
  items.forEach((item, i) => {
    const li = el('li', { className: item.kind });
    li.id = `mention-${i}`;
    li.setAttribute('role', 'option');
    li.append(el('span', { className: 'kind', text: item.kind === 'file' ? l10n.t('file') : l10n.t('symbol') }), el('span', { className: 'label', text: item.label }), el('span', { className: 'detail', text: item.detail }));
    // mousedown, not click: the textarea keeps the focus
    li.addEventListener('mousedown', (e) => {
      e.preventDefault();
      accept(i);
    });
    suggest.append(li);
  });
  suggest.hidden = false;
  input.setAttribute('aria-expanded', 'true');
  highlight(0);
}

/** Replaces the `#query` being typed with the chosen mention. */
function accept(i: number): void {
  const item = offered[i];
  const area = input.wrappedElement;
  if (!item || !completing || !area) return;
  const caret = area.selectionStart;
  const text = `#${item.label} `;
  input.value = input.value.slice(0, completing.start) + text + input.value.slice(caret);
  const at = completing.start + text.length;
  area.setSelectionRange(at, at);
  const { kind: _, detail: __, ...mention } = item;
  chosen = [...chosen.filter((m) => m.label !== item.label), mention];
  closeSuggest();
  input.focus();
}

/** After each keystroke: a `#` word at the caret asks the host for what matches it. */
function onTyped(): void {
  const area = input.wrappedElement;
  const before = area ? input.value.slice(0, area.selectionStart) : '';
  const m = /(?:^|\s)#([^\s#]{0,100})$/.exec(before);
  if (!m) {
    closeSuggest();
    return;
  }
  completing = { id: nextCompletion++, start: before.length - m[1]!.length - 1 };
  post({ type: 'complete', id: completing.id, query: m[1]! });
}

form.append(chip, suggest, input, actions);
// landmarks: the header (what answers, the trainer) and the conversation
const banner = el('header');
banner.append(el('h1', { className: 'visually-hidden', text: l10n.t('LIFT chat') }), header, trainer);
const main = el('main');
main.append(learning, messages, form, announcer);
document.body.append(banner, main);

function renderTrainer(t: TrainerView): void {
  trainer.replaceChildren();
  trainer.dataset.state = t.state;
  const state = el('span', { className: 'state' });
  switch (t.state) {
    case 'ready': {
      state.textContent = l10n.t('Trainer ready (pid {0})', t.pid);
      const ort = document.createElement('vscode-badge');
      ort.textContent = l10n.t('ONNX Runtime {0}', t.onnxruntime);
      trainer.append(state, ort);
      for (const p of t.providers.filter((p) => p.available)) {
        const b = document.createElement('vscode-badge');
        b.textContent = p.name.toUpperCase();
        trainer.append(b);
      }
      if (!t.selfTestOk) trainer.append(el('span', { className: 'state', text: l10n.t('runtime self-test failed') }));
      return;
    }
    case 'starting':
      state.textContent = l10n.t('Trainer starting…');
      break;
    case 'stopped':
      state.textContent = l10n.t('Trainer stopped; it starts on the next question.');
      break;
    case 'crashed':
      state.textContent = l10n.t('Trainer stopped unexpectedly; it restarts on the next question.');
      break;
    case 'failed':
      state.textContent = l10n.t('Trainer unavailable: {0}', t.error);
      break;
  }
  trainer.append(state);
}

interface AnswerView {
  root: HTMLElement;
  body: HTMLElement;
  text: string;
  frame?: number;
}

const answers = new Map<number, AnswerView>();
let pending = 0;

function addMessage(kind: 'question' | 'answer', who: string, text: string): AnswerView {
  empty.remove();
  const root = el('div', { className: `message ${kind}` });
  const body = el('div', { className: 'body' });
  root.append(el('span', { className: 'who', text: who }), body);
  messages.append(root);
  const view = { root, body, text: '' };
  if (kind === 'question') body.textContent = text;
  else setAnswer(view, text);
  messages.scrollTop = messages.scrollHeight;
  return view;
}

/** Renders an answer's Markdown, with a toolbar on each code block. */
function setAnswer(a: AnswerView, text: string): void {
  a.text = text;
  a.body.replaceChildren(renderMarkdown(text));
  for (const pre of a.body.querySelectorAll('pre')) {
    const code = pre.textContent ?? '';
    const bar = el('div', { className: 'code-actions' });
    const copy = el('button', { className: 'copy', text: l10n.t('Copy') });
    copy.type = 'button';
    copy.title = l10n.t('Copy the code');
    copy.addEventListener('click', () => post({ type: 'copy', text: code.replace(/\n$/, '') }));
    const insert = el('button', { className: 'insert', text: l10n.t('Insert') });
    insert.type = 'button';
    insert.title = l10n.t('Insert the code at the cursor of the active editor');
    insert.addEventListener('click', () => post({ type: 'insert', text: code.replace(/\n$/, '') }));
    bar.append(copy, insert);
    pre.before(bar);
  }
}

/** Streaming re-renders at most once per frame. */
function appendToAnswer(a: AnswerView, chunk: string): void {
  a.text += chunk;
  a.frame ??= requestAnimationFrame(() => {
    a.frame = undefined;
    setAnswer(a, a.text);
    messages.scrollTop = messages.scrollHeight;
  });
}

function finish(a: AnswerView, end: Pick<HistoryItem, 'outcome' | 'error' | 'note' | 'nearby'>): void {
  if (a.frame !== undefined) cancelAnimationFrame(a.frame);
  a.frame = undefined;
  setAnswer(a, a.text);
  a.root.dataset.outcome = end.outcome;
  if (end.outcome === 'failed') a.root.append(el('span', { className: 'error', text: end.error ?? l10n.t('The answer failed.') }));
  if (end.outcome === 'cancelled') a.root.append(el('span', { className: 'note', text: ` (${l10n.t('stopped')})` }));
  if (end.note) {
    // the files the answer drew on open at their lines, like references in the answer
    const note = el('span', { className: 'source', text: end.note });
    linkFileRefs(note);
    a.root.append(note);
  }
  if (end.nearby?.length) a.root.append(nearbyFacts(end.nearby));
}

/**
 * The other learned facts near the question, each a button that asks it in the words learning
 * used: an answer to a reworded question can be about the wrong fact, and one of these the right one.
 */
function nearbyFacts(nearby: NonNullable<HistoryItem['nearby']>): HTMLElement {
  const box = el('div', { className: 'nearby' });
  box.append(el('span', { text: l10n.t('Other learned facts near the question:') }));
  for (const fact of nearby) {
    const ask = el('button', { text: fact.value !== undefined ? l10n.t('{0} ({1})', fact.question, fact.value) : fact.question });
    ask.type = 'button';
    ask.title = l10n.t('Ask this question');
    ask.addEventListener('click', () => post({ type: 'ask', text: fact.question }));
    box.append(ask);
  }
  return box;
}

function setBusy(): void {
  stop.hidden = pending === 0;
}

function showHistory(items: HistoryItem[]): void {
  for (const a of answers.values()) if (a.frame !== undefined) cancelAnimationFrame(a.frame);
  messages.replaceChildren();
  if (!items.length) messages.append(empty);
  for (const item of items) {
    addMessage('question', 'You', item.question).root.dataset.history = 'true';
    const a = addMessage('answer', 'LIFT', item.answer);
    a.root.dataset.history = 'true';
    finish(a, item);
  }
  // answers still streaming stay where they are, at the end
  for (const a of answers.values()) messages.append(a.root);
}

const SVG = 'http://www.w3.org/2000/svg';

/** The loss curve as an SVG polyline (at most 200 points, y scaled to the range seen). */
function lossCurve(losses: number[]): SVGSVGElement {
  const w = 240;
  const h = 48;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'curve');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', l10n.t('loss curve, {0} steps', losses.length));
  const step = Math.max(1, Math.ceil(losses.length / 200));
  const pts = losses.filter((_, i) => i % step === 0 || i === losses.length - 1);
  const lo = Math.min(...pts);
  const hi = Math.max(...pts);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.map((v, i) => `${((i / Math.max(1, pts.length - 1)) * w).toFixed(1)},${(h - 2 - ((v - lo) / (hi - lo || 1)) * (h - 4)).toFixed(1)}`).join(' '));
  svg.append(line);
  return svg;
}

function renderLearning(v: LearningView): void {
  learning.hidden = false;
  learning.dataset.state = v.state;
  learning.replaceChildren();
  const pct = v.step && v.totalSteps ? Math.floor((100 * v.step) / v.totalSteps) : undefined;
  const head =
    v.state === 'running'
      ? `${l10n.t('Learning {0}: {1}', v.what, phaseWords(v.phase))}${pct !== undefined ? ` ${pct}%` : ''}${v.etaSeconds !== undefined && v.phase === 'train' ? `, ${l10n.t('{0} s left', Math.ceil(v.etaSeconds))}` : ''}`
      : v.state === 'done'
        ? l10n.t('Learned {0} in {1} s', v.what, v.report?.seconds ?? 0)
        : v.state === 'cancelled'
          ? l10n.t('Learning {0} was cancelled; the previous adapter is unchanged', v.what)
          : l10n.t('Learning {0} failed: {1}', v.what, v.error ?? '');
  learning.append(el('div', { className: 'head', text: head }));
  if (v.losses.length > 1) {
    const row = el('div', { className: 'loss' });
    row.append(lossCurve(v.losses), el('span', { text: l10n.t('loss {0} → {1}', v.losses[0]!.toFixed(2), v.losses.at(-1)!.toFixed(2)) }));
    learning.append(row);
  }
  if (v.report) {
    const r = v.report;
    const skipped = Object.entries(r.skipped).map(([k, n]) => `${n} ${k}`).join(', ');
    learning.append(el('div', { className: 'report', text: r.facts === undefined ? l10n.t('{0} files, {1} tokens, {2} QA pairs; skipped: {3}; secrets redacted: {4}', r.files, r.tokens, r.qaPairs, skipped || l10n.t('none'), r.redactions) : l10n.t('{0} files, {1} tokens, {2} facts, {3} QA pairs; skipped: {4}; secrets redacted: {5}', r.files, r.tokens, r.facts, r.qaPairs, skipped || l10n.t('none'), r.redactions) }));
    if (r.selfCheck?.asked) learning.append(el('div', { className: 'report', text: l10n.t('Self-check: answers {0} of {1} questions it never trained on with the fact first.', r.selfCheck.direct, r.selfCheck.asked) }));
    const gate = r.selfCheck?.gate?.closedBook;
    if (gate?.length) learning.append(el('div', { className: 'report', text: l10n.t('Gated Memory, mean gate per layer (0: the prompt, 1: memory): {0}', gate.map((g) => g.toFixed(2)).join(' ')) }));
  }
}

function onHostMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'learning':
      renderLearning(m.learning);
      break;
    case 'knowledge':
      knowledge = m;
      renderKnowledge();
      offer.hidden = m.learned;
      emptyText.textContent = m.learned
        ? l10n.t('Ask about this workspace. Answers use what the model learned from it, {0}, on this machine; nothing leaves it.', m.model)
        : l10n.t('Ask about this workspace. Answers come from {0} and matching files, on this machine; nothing leaves it.', m.model);
      break;
    case 'context':
      // another file: its lines go with questions again
      if (m.active?.replace(/:\d+-\d+$/, '') !== activeLines?.replace(/:\d+-\d+$/, '')) leaveOutActive = false;
      activeLines = m.active;
      renderChip();
      break;
    case 'trainer':
      renderTrainer(m.trainer);
      break;
    case 'history':
      showHistory(m.items);
      break;
    case 'completions':
      // only the answer to the latest keystroke
      if (completing?.id === m.id) showSuggestions(m.items);
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
      if (a) appendToAnswer(a, m.text);
      break;
    }
    case 'answerEnd': {
      const a = answers.get(m.id);
      if (!a) break;
      finish(a, m);
      // screen readers hear the answer once, complete, with what it drew on (or why it failed)
      const nearby = m.nearby?.length ? ` ${l10n.t('Other learned facts near the question:')} ${m.nearby.map((f) => f.question).join('; ')}` : '';
      announcer.textContent = m.outcome === 'done' ? `${l10n.t('LIFT answered: {0}', a.text)}${m.note ? ` (${m.note})` : ''}${nearby}` : m.outcome === 'failed' ? l10n.t("LIFT's answer failed: {0}", m.error ?? '') : l10n.t('LIFT stopped answering.');
      answers.delete(m.id);
      pending = Math.max(0, pending - 1);
      setBusy();
      break;
    }
  }
}

// file references and links in answers: the host opens them
messages.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a) return;
  e.preventDefault();
  if (a.dataset.file && a.dataset.line) post({ type: 'openFile', path: a.dataset.file, line: Number(a.dataset.line) });
  else if (a.dataset.link) post({ type: 'openLink', url: a.dataset.link });
});

function submit(): void {
  const text = input.value.trim();
  if (!text) return;
  post({ type: 'ask', text, ...(leaveOutActive && activeLines ? { withoutActive: true } : {}), ...(chosen.length ? { mentions: chosen } : {}) });
  input.value = '';
  chosen = [];
  closeSuggest();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
send.addEventListener('click', submit);
stop.addEventListener('click', () => post({ type: 'stop' }));
clear.addEventListener('click', () => post({ type: 'clearHistory' }));
input.addEventListener('input', onTyped);
input.addEventListener('blur', closeSuggest);
input.addEventListener('keydown', (e: KeyboardEvent) => {
  if (!suggest.hidden && !e.isComposing) {
    const keys: Record<string, () => void> = {
      ArrowDown: () => highlight(highlighted + 1),
      ArrowUp: () => highlight(highlighted - 1),
      Enter: () => accept(highlighted),
      Tab: () => accept(highlighted),
      Escape: closeSuggest,
    };
    const act = keys[e.key];
    if (act && !e.shiftKey) {
      e.preventDefault();
      e.stopPropagation();
      act();
      return;
    }
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
window.addEventListener('message', (e: MessageEvent<HostToWebview>) => onHostMessage(e.data));
renderTrainer({ state: 'starting' });
post({ type: 'ready' });
