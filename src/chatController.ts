/**
 * The host side of the sidebar chat, free of `vscode` so tests drive it directly: it takes the
 * webview's messages, asks the trainer, and streams the answers back.
 */
import * as l10n from '@vscode/l10n';
import { type CancellationToken, CancellationTokenSource } from 'vscode-jsonrpc/node';
import { type TrainerClient, TrainerError, type TrainerState } from '../native/client';
import { endsWithPath } from '../native/files';
import { type AnswerContextParams, type AskParams, type AskResult, type CodeRange, MAX_MENTIONS, type NearbyFact, type SelfCheckFigures, type TrainerStatus } from '../native/protocol';
import { type HistoryItem, type HostToWebview, isWebviewToHost, type KnowledgeView, type LearningView, type Mention, type MentionItem, type TrainerView } from '../webview/messages';

export interface AskOutcome {
  id: number;
  outcome: 'done' | 'cancelled' | 'failed';
  text: string;
  error?: string;
  /** What the answer drew on. */
  note?: string;
  /** Other learned facts near the question. */
  nearby?: NearbyFact[];
}

/** What answering needs from the settings; undefined when no model is set (the trainer echoes then). */
export type AnswerContext = Pick<AnswerContextParams, 'model' | 'roots' | 'store' | 'include' | 'exclude'> & Pick<AskParams, 'active'>;

/** Lines that went into the model's context whatever retrieval found, and how the note names them. */
export interface Pin {
  label: string;
  range: Pick<CodeRange, 'file' | 'startLine'>;
}

/**
 * What an answer drew on, for the note under it: the learned question it was asked as, learned knowledge or the base model, the lines
 * pinned by the request (the active editor's, mentions) as far as the prompt held them, the other
 * files, or why none were searched. The other facts near the question are not in it (`nearbyNote`).
 */
export function answerNote(result: AskResult, pins: readonly Pin[], learning: boolean): string {
  const at = (s: AskResult['sources'][number]): string => `${s.path}:${s.startLine}-${s.endLine}`;
  const knowledge = result.usedAdapter
    ? learning
      ? l10n.t('Learned knowledge (the previous adapter: learning in progress)')
      : l10n.t('Learned knowledge')
    : learning
      ? l10n.t('Base model (learning in progress)')
      : l10n.t('Base model (this workspace is not learned yet)');
  // each pin the prompt held, once (a mention of the active editor's own lines is the active editor)
  const found: { label: string; source: AskResult['sources'][number] }[] = [];
  for (const p of pins) {
    const source = result.sources.find((x) => x.startLine === p.range.startLine && endsWithPath(p.range.file, x.path));
    if (source && !found.some((f) => f.source === source)) found.push({ label: p.label, source });
  }
  const others = result.sources.filter((s) => !found.some((p) => p.source === s)).map(at);
  const searched = result.retrievalOff ? l10n.t(' (not searched: {0})', result.retrievalOff) : '';
  const pinnedPart = found.map((p) => l10n.t(' + {0} ({1})', p.label, at(p.source))).join('');
  const context = others.length ? l10n.t(' + context from {0}', others.join(', ')) : found.length || searched ? '' : l10n.t(', no matching files');
  // a question matched to a learned fact was asked in the words the adapter learned: say which
  const asked = result.askedAs ? l10n.t('Asked as the learned question "{0}". ', result.askedAs) : '';
  return `${result.notice ? `${result.notice} ` : ''}${asked}${knowledge}${pinnedPart}${context}${searched}`;
}

/**
 * The other learned facts near a question, as a sentence after the note (where they cannot be
 * offered as questions to ask): an answer to a reworded question can be about the wrong fact.
 */
export function nearbyNote(nearby: readonly NearbyFact[] | undefined): string {
  if (!nearby?.length) return '';
  return l10n.t(' Other learned facts near the question: {0}.', nearby.map((a) => (a.value !== undefined ? l10n.t('"{0}" ({1})', a.question, a.value) : `"${a.question}"`)).join('; '));
}

/**
 * The mentions a question carries: those chosen from the completions whose `#label` the text
 * still has, then `#path` words typed by hand (the host keeps the ones that are files).
 */
export function mentionsIn(text: string, chosen: readonly Mention[] = []): Mention[] {
  // a mention starts a word and ends at a space, punctuation, or a sentence's full stop
  const END = String.raw`(?=$|[\s,;:!?)]|\.(?:\s|$))`;
  const named = (label: string): boolean => new RegExp(String.raw`(?:^|\s)#${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${END}`).test(text);
  const out = chosen.filter((m, i) => named(m.label) && chosen.findIndex((x) => x.label === m.label) === i);
  for (const [, word] of text.matchAll(new RegExp(String.raw`(?:^|\s)#([\w@./-]+\.\w+)${END}`, 'g'))) {
    if (!out.some((m) => m.label === word)) out.push({ label: word!, path: word! });
  }
  return out.slice(0, MAX_MENTIONS);
}

export interface ChatControllerOptions {
  /** Pause between streamed chunks of the echo (it answers instantly otherwise). */
  chunkDelayMs?: number;
  answerContext?: () => AnswerContext | undefined;
  /** Called for every failed answer, e.g. to show an error notification. */
  onFailure?: (message: string) => void;
  /** Told how many answers are streaming whenever that changes (the "lift.answering" context key). */
  onAnswering?: (count: number) => void;
  /** Where the conversation is kept between sessions (per workspace). */
  history?: { load(): HistoryItem[]; save(items: HistoryItem[]): void | Thenable<void> };
  /** `#` mentions: the files and symbols that match what was typed, and a mention's lines (undefined: not a file here). */
  mentions?: {
    complete(query: string): Promise<MentionItem[]>;
    resolve(mention: Mention): Promise<CodeRange | undefined>;
  };
  /** What the webview's buttons and links ask the editor to do. */
  actions?: Partial<{
    copy(text: string): unknown;
    insert(text: string): unknown;
    openFile(path: string, line: number): unknown;
    openLink(url: string): unknown;
    learn(): unknown;
  }>;
}

/** The context without the active editor's lines (explain pins its own range; the chip can leave them out). */
export const withoutActive = ({ active: _, ...rest }: AnswerContext): Omit<AnswerContext, 'active'> => rest;

/** The most exchanges the history keeps (the oldest go first). */
export const HISTORY_LIMIT = 100;

export function trainerView(state: TrainerState, status?: TrainerStatus, error?: string): TrainerView {
  if (state === 'failed') return { state, error: error ?? 'see "LIFT: Show Trainer Log"' };
  if (state !== 'ready' || !status) return { state: state === 'ready' ? 'starting' : state };
  const ort = status.onnxruntime;
  return {
    state: 'ready',
    pid: status.pid,
    trainerVersion: status.trainerVersion,
    onnxruntime: ort.loaded ? ort.version : `failed to load: ${ort.error}`,
    providers: ort.loaded ? ort.providers.map(({ name, available }) => ({ name, available })) : [],
    selfTestOk: ort.loaded && ort.selfTest.ok,
  };
}

export class ChatController {
  private post: (m: HostToWebview) => unknown = () => undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, CancellationTokenSource>();
  private readonly stateSub: { dispose(): void };

  constructor(
    private readonly trainer: TrainerClient,
    private readonly opts: ChatControllerOptions = {},
  ) {
    this.stateSub = trainer.onDidChangeState((state) => {
      this.post({ type: 'trainer', trainer: trainerView(state) });
      if (state === 'ready') void this.refreshStatus();
    });
  }

  /** Where messages for the webview go; replaced whenever the view is (re)created. */
  attach(post: (m: HostToWebview) => unknown): void {
    this.post = post;
  }

  async handle(message: unknown): Promise<void> {
    if (!isWebviewToHost(message)) return; // the webview is untrusted input too
    switch (message.type) {
      case 'ready':
        this.post({ type: 'history', items: this.opts.history?.load() ?? [] });
        if (this.learning) this.post({ type: 'learning', learning: this.learning });
        if (this.knowledge) this.post({ type: 'knowledge', ...this.knowledge });
        this.post({ type: 'context', ...(this.active ? { active: this.active } : {}) });
        await this.refreshStatus();
        break;
      case 'refreshStatus':
        await this.refreshStatus();
        break;
      case 'clearHistory':
        await this.clearHistory();
        break;
      case 'copy':
        await this.opts.actions?.copy?.(message.text);
        break;
      case 'insert':
        await this.opts.actions?.insert?.(message.text);
        break;
      case 'openFile':
        await this.opts.actions?.openFile?.(message.path, message.line);
        break;
      case 'openLink':
        await this.opts.actions?.openLink?.(message.url);
        break;
      case 'learn':
        await this.opts.actions?.learn?.();
        break;
      case 'ask':
        await this.ask(message.text, undefined, message.withoutActive === true, message.mentions);
        break;
      case 'complete': {
        const items = (await this.opts.mentions?.complete(message.query).catch(() => [])) ?? [];
        this.post({ type: 'completions', id: message.id, items });
        break;
      }
      case 'stop':
        this.stop();
        break;
    }
  }

  private refreshing: Promise<void> | undefined;

  /** Fetches the trainer status for the view; concurrent calls share one request. */
  refreshStatus(): Promise<void> {
    this.refreshing ??= this.fetchStatus().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async fetchStatus(): Promise<void> {
    try {
      const status = await this.trainer.status();
      this.post({ type: 'trainer', trainer: trainerView('ready', status) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.post({ type: 'trainer', trainer: trainerView(this.trainer.state, undefined, message) });
    }
  }

  /**
   * Asks one question; the answer streams to the webview and the outcome is returned.
   * `mentions`: the ones chosen after `#` (with `#path` words in the text, they go with the question).
   */
  ask(text: string, chunkDelayMs = this.opts.chunkDelayMs, leaveOutActive = false, mentions: readonly Mention[] = []): Promise<AskOutcome> {
    // the last few finished exchanges go with the question, for follow-ups
    const history = (this.opts.history?.load() ?? []).filter((h) => h.outcome === 'done').slice(-3).map(({ question, answer }) => ({ question, answer }));
    return this.converse(text, async (context, stream, token) => {
      if (!context) return this.trainer.echo({ text, chunkDelayMs }, (chunk) => stream(chunk.text), token);
      const mentioned: { label: string; range: CodeRange }[] = [];
      for (const m of this.opts.mentions ? mentionsIn(text, mentions) : []) {
        const range = await this.opts.mentions!.resolve(m);
        if (range) mentioned.push({ label: `#${m.label}`, range });
      }
      // a mention of the active editor's file stands in for the active editor's lines
      const active = leaveOutActive || mentioned.some((p) => p.range.file === context.active?.file) ? undefined : context.active;
      const pins: Pin[] = [...(active ? [{ label: l10n.t('the active editor'), range: active }] : []), ...mentioned];
      const asked = { ...withoutActive(context), ...(active ? { active } : {}), ...(mentioned.length ? { mentions: mentioned.map((p) => p.range) } : {}) };
      const result = await this.trainer.ask({ question: text, history, ...asked }, stream, token);
      return { result, pins };
    });
  }

  private active: string | undefined;

  /** Which of the active editor's lines go with a question ("src/a.ts:1-40"; undefined: none), for the view's chip. */
  showContext(active: string | undefined): void {
    if (active === this.active) return;
    this.active = active;
    this.post({ type: 'context', ...(active ? { active } : {}) });
  }

  /** Explains lines of a file (1-based, inclusive): the range is always in the model's context. */
  explain(file: string, startLine: number, endLine: number, label: string, code?: string, onText?: (text: string) => void): Promise<AskOutcome> {
    return this.converse(
      label,
      async (context, stream, token) =>
        context ? { result: await this.trainer.explain({ ...withoutActive(context), file, startLine, endLine, code }, stream, token), pins: [] } : this.trainer.echo({ text: label }, (chunk) => stream(chunk.text), token),
      onText,
    );
  }

  /** One exchange in the chat: the question, a streamed answer, and its outcome. */
  private async converse(
    question: string,
    /** The trainer's answer with the lines the request pinned (for the note), or the echo's text. */
    produce: (context: AnswerContext | undefined, stream: (chunk: string) => void, token: CancellationToken) => Promise<{ result: AskResult; pins: Pin[] } | { text: string }>,
    /** Also told the answer so far, on every chunk (e.g. an inline view in the editor). */
    onText?: (text: string) => void,
  ): Promise<AskOutcome> {
    const id = this.nextId++;
    const cancel = new CancellationTokenSource();
    this.inFlight.set(id, cancel);
    this.opts.onAnswering?.(this.inFlight.size);
    this.post({ type: 'question', id, text: question });
    let answer = '';
    const stream = (chunk: string): void => {
      answer += chunk;
      this.post({ type: 'answerChunk', id, text: chunk });
      onText?.(answer);
    };
    try {
      const produced = await produce(this.opts.answerContext?.(), stream, cancel.token);
      let note: string | undefined;
      let nearby: NearbyFact[] | undefined;
      let text: string;
      if ('result' in produced) {
        if (produced.result.stop === 'cancelled') throw new TrainerError('Cancelled.', 'cancelled');
        note = answerNote(produced.result, produced.pins, this.learning?.state === 'running');
        if (produced.result.alsoLearned?.length) nearby = produced.result.alsoLearned;
        text = produced.result.text;
      } else text = produced.text;
      const about = { ...(note ? { note } : {}), ...(nearby ? { nearby } : {}) };
      this.post({ type: 'answerEnd', id, outcome: 'done', ...about });
      await this.remember({ question, answer: text, outcome: 'done', ...about });
      return { id, outcome: 'done', text, ...about };
    } catch (err) {
      if (err instanceof TrainerError && err.kind === 'cancelled') {
        this.post({ type: 'answerEnd', id, outcome: 'cancelled' });
        await this.remember({ question, answer, outcome: 'cancelled' });
        return { id, outcome: 'cancelled', text: answer };
      }
      const error = err instanceof Error ? err.message : String(err);
      this.post({ type: 'answerEnd', id, outcome: 'failed', error });
      await this.remember({ question, answer, outcome: 'failed', error });
      this.opts.onFailure?.(error);
      return { id, outcome: 'failed', text: answer, error };
    } finally {
      this.inFlight.delete(id);
      this.opts.onAnswering?.(this.inFlight.size);
      cancel.dispose();
    }
  }

  private learning: LearningView | undefined;
  private knowledge: KnowledgeView | undefined;

  /** Whether the workspace is learned, with which model and what the self-check found (for the chat's empty state). */
  showKnowledge(learned: boolean, model: string, selfCheck?: SelfCheckFigures, learnedAt?: string): void {
    this.knowledge = { learned, model, ...(selfCheck ? { selfCheck } : {}), ...(learnedAt ? { learnedAt } : {}) };
    this.post({ type: 'knowledge', ...this.knowledge });
  }

  /** Shows learning progress (and the last run's report) in the view's learning panel. */
  showLearning(view: LearningView): void {
    this.learning = view;
    this.post({ type: 'learning', learning: view });
  }

  /** Forgets the conversation (answers in progress go on). */
  async clearHistory(): Promise<void> {
    await this.opts.history?.save([]);
    this.post({ type: 'history', items: [] });
  }

  private async remember(item: HistoryItem): Promise<void> {
    if (!this.opts.history) return;
    await this.opts.history.save([...this.opts.history.load(), item].slice(-HISTORY_LIMIT));
  }

  /** Cancels every answer in progress; returns how many. */
  stop(): number {
    for (const source of this.inFlight.values()) source.cancel();
    return this.inFlight.size;
  }

  dispose(): void {
    this.stop();
    this.stateSub.dispose();
  }
}
