/**
 * "@lift" in VS Code's Chat view, where the editor has one (VS Code ≥ 1.90 with chat): questions,
 * /learn, /explain and /status, answered by the same trainer and adapter as the sidebar, which
 * stays for editors without the Chat view. The chat API is newer than the oldest VS Code LIFT
 * supports, so it is found at run time and typed here by the parts used.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { type TrainerClient, TrainerError } from '../native/client';
import { formatStatus } from '../native/statusText';
import { type AskResult, type CodeRange, type LearnResult, MAX_MENTIONS } from '../native/protocol';
import { type AnswerContext, answerNote, nearbyNote, type Pin, withoutActive } from './chatController';

/** The parts of VS Code's ChatResponseStream that LIFT writes to. */
export interface ResponseStream {
  markdown(value: string | vscode.MarkdownString): void;
  progress(value: string): void;
  reference(value: vscode.Uri | vscode.Location): void;
  anchor(value: vscode.Uri | vscode.Location, title?: string): void;
  button(command: vscode.Command): void;
}

/** The parts of a ChatRequest LIFT reads: `#file` and selection mentions arrive as references. */
export interface ParticipantRequest {
  prompt: string;
  command?: string;
  references: readonly { id: string; value: unknown }[];
}

/** Earlier turns with @lift: a request turn has `prompt`, a response turn `response` parts. */
export interface ParticipantContext {
  history: readonly ({ prompt: string; command?: string } | { response: readonly unknown[]; result: { metadata?: Record<string, unknown> } })[];
}

export interface ParticipantResult {
  errorDetails?: { message: string };
  /** `nearby`: the learned questions of other facts near the question, offered as follow-ups. */
  metadata: { command: string; learned?: boolean; answered?: boolean; nearby?: string[] };
}

interface ChatApi {
  createChatParticipant(
    id: string,
    handler: (request: ParticipantRequest, context: ParticipantContext, stream: ResponseStream, token: vscode.CancellationToken) => Promise<ParticipantResult>,
  ): vscode.Disposable & {
    iconPath?: vscode.Uri;
    followupProvider?: { provideFollowups(result: ParticipantResult): { prompt: string; label?: string; command?: string }[] };
  };
}

export const PARTICIPANT_ID = 'lift.participant';

export interface ParticipantDeps {
  trainer: Pick<TrainerClient, 'ask' | 'explain' | 'status'>;
  answerContext(): AnswerContext | undefined;
  /** The active editor's selection (or lines around the cursor): what /explain explains. */
  activeRange(): AnswerContext['active'];
  /** Runs "Learn This Workspace" (its notification shows the progress). */
  learn(): Thenable<LearnResult | undefined>;
  learning(): boolean;
  /** The status bar's words and whether the workspace is learned, with what. */
  knowledge(): { summary: string; learned: boolean };
  roots(): string[];
}

/** A file the trainer named (relative to a workspace folder, or "folder/…" in a multi-root one) as a URI. */
function toUri(roots: string[], rel: string): vscode.Uri {
  for (const root of roots) {
    const name = path.basename(root);
    if (roots.length > 1 && rel.startsWith(`${name}/`)) return vscode.Uri.file(path.join(root, rel.slice(name.length + 1)));
  }
  return vscode.Uri.file(path.join(roots[0] ?? '', rel));
}

/** The mentions (`#file`, a selection, a symbol) that are files on disk, as the lines to pin in the model's context. */
async function pinned(references: ParticipantRequest['references']): Promise<CodeRange[]> {
  const out: CodeRange[] = [];
  for (const ref of references) {
    const v = ref.value;
    const uri = v instanceof vscode.Uri ? v : v instanceof vscode.Location ? v.uri : undefined;
    if (!uri || uri.scheme !== 'file' || out.length === MAX_MENTIONS) continue;
    const doc = await vscode.workspace.openTextDocument(uri);
    const range = v instanceof vscode.Location ? v.range : new vscode.Range(0, 0, Math.min(doc.lineCount - 1, 39), Number.MAX_SAFE_INTEGER);
    const end = range.end.character === 0 && range.end.line > range.start.line ? range.end.line - 1 : range.end.line;
    out.push({ file: uri.fsPath, startLine: range.start.line + 1, endLine: end + 1, code: doc.getText(new vscode.Range(range.start.line, 0, end, Number.MAX_SAFE_INTEGER)) });
  }
  return out;
}

/** The last finished exchanges with @lift, for follow-up questions. */
function historyOf(context: ParticipantContext): { question: string; answer: string }[] {
  const turns: { question: string; answer: string }[] = [];
  let question: string | undefined;
  for (const turn of context.history) {
    if ('prompt' in turn) question = turn.command ? undefined : turn.prompt;
    else if (question !== undefined && turn.result.metadata?.answered) {
      const answer = turn.response.map((p) => (p && typeof p === 'object' && 'value' in p && p.value instanceof vscode.MarkdownString ? p.value.value : '')).join('');
      turns.push({ question, answer: answer.replace(/\n\n\*[^\n]*\*$/, '') });
      question = undefined;
    }
  }
  return turns.slice(-3);
}

/** The handler behind @lift (exported for tests: it needs no Chat view). */
export function participantHandler(deps: ParticipantDeps) {
  return async (request: ParticipantRequest, context: ParticipantContext, stream: ResponseStream, token: vscode.CancellationToken): Promise<ParticipantResult> => {
    const command = request.command ?? 'ask';
    const source = new CancellationTokenSource();
    const sub = token.onCancellationRequested(() => source.cancel());
    try {
      if (command === 'status') {
        const { summary, learned } = deps.knowledge();
        stream.markdown(`**${summary}**\n\n`);
        const status = await deps.trainer.status();
        stream.markdown(`\`\`\`text\n${formatStatus(status)}\n\`\`\`\n`);
        if (!learned) stream.button({ command: 'lift.learnWorkspace', title: vscode.l10n.t('Learn This Workspace') });
        return { metadata: { command, learned } };
      }
      if (command === 'learn') {
        stream.progress(vscode.l10n.t('Learning this workspace (the notification shows the progress and can cancel it)…'));
        const result = await deps.learn();
        if (!result) return { metadata: { command }, errorDetails: { message: vscode.l10n.t('Learning did not finish: it was cancelled, failed, or is already running (see the notification and "LIFT: Show Trainer Log").') } };
        const check = result.selfCheck?.asked ? ` ${vscode.l10n.t('It answers {0} of {1} check questions it never trained on.', result.selfCheck.direct, result.selfCheck.asked)}` : '';
        stream.markdown(`${vscode.l10n.t('Learned {0} files ({1} tokens) in {2} steps.', result.files, result.tokens, result.steps)}${check}`);
        return { metadata: { command, learned: true } };
      }
      const ctx = deps.answerContext();
      if (!ctx) return { metadata: { command }, errorDetails: { message: vscode.l10n.t('No model: set "lift.model" to a model folder (the bundled default model is missing from this installation).') } };
      let result: AskResult;
      let pins: Pin[] = [];
      const write = (chunk: string): void => stream.markdown(chunk);
      if (command === 'explain') {
        const range = (await pinned(request.references))[0] ?? deps.activeRange();
        if (!range) return { metadata: { command }, errorDetails: { message: vscode.l10n.t('Open a file and select the code to explain (or mention it with #file).') } };
        stream.progress(vscode.l10n.t('Explaining {0}…', `${vscode.workspace.asRelativePath(range.file)}:${range.startLine}-${range.endLine}`));
        result = await deps.trainer.explain({ ...withoutActive(ctx), file: range.file, startLine: range.startLine, endLine: range.endLine, code: range.code }, write, source.token);
      } else {
        if (!request.prompt.trim()) return { metadata: { command }, errorDetails: { message: vscode.l10n.t('Ask a question about this workspace, or use /learn, /explain or /status.') } };
        // what the user mentioned stands in for the active editor
        const mentions = await pinned(request.references);
        const label = vscode.l10n.t('the lines you mentioned');
        pins = mentions.length ? mentions.map((range) => ({ label, range })) : ctx.active ? [{ label: vscode.l10n.t('the active editor'), range: ctx.active }] : [];
        const asked = mentions.length ? { ...withoutActive(ctx), mentions } : ctx;
        result = await deps.trainer.ask({ ...asked, question: request.prompt, history: historyOf(context) }, write, source.token);
      }
      if (result.stop === 'cancelled') return { metadata: { command } };
      const roots = deps.roots();
      for (const s of result.sources) {
        const uri = toUri(roots, s.path);
        stream.reference(new vscode.Location(uri, new vscode.Range(s.startLine - 1, 0, s.endLine - 1, 0)));
      }
      stream.markdown(`\n\n*${answerNote(result, pins, deps.learning())}${nearbyNote(result.alsoLearned)}*`);
      const nearby = result.alsoLearned?.map((a) => a.question);
      return { metadata: { command, answered: true, learned: result.usedAdapter, ...(nearby?.length ? { nearby } : {}) } };
    } catch (err) {
      if (err instanceof TrainerError && err.kind === 'cancelled') return { metadata: { command } };
      return { metadata: { command }, errorDetails: { message: err instanceof Error ? err.message : String(err) } };
    } finally {
      sub.dispose();
      source.dispose();
    }
  };
}

/**
 * Follow-ups under an answer: learning when nothing is learned yet, the status after a learn, and
 * after an answer the other learned facts near its question, each asked as learning asked it.
 */
export function followups(result: ParticipantResult): { prompt: string; label: string; command?: string }[] {
  if (result.metadata.command === 'learn' && result.metadata.learned) return [{ prompt: '', label: vscode.l10n.t('What does LIFT know now?'), command: 'status' }];
  if (result.metadata.learned === false) return [{ prompt: '', label: vscode.l10n.t('Learn this workspace'), command: 'learn' }];
  return (result.metadata.nearby ?? []).map((question) => ({ prompt: question, label: question }));
}

export type ParticipantHandler = ReturnType<typeof participantHandler>;

/**
 * Registers @lift where the editor has the chat API (`registered` false elsewhere: the sidebar
 * serves alone). Returns the handler too, and counts the requests the Chat view sends it.
 */
export function registerParticipant(deps: ParticipantDeps, icon: vscode.Uri): { registered: boolean; handler: ParticipantHandler; followups: typeof followups; requests: () => number; dispose(): void } {
  const handler = participantHandler(deps);
  let requests = 0;
  const chat = (vscode as unknown as { chat?: Partial<ChatApi> }).chat;
  if (typeof chat?.createChatParticipant !== 'function') return { registered: false, handler, followups, requests: () => 0, dispose: () => undefined };
  const participant = chat.createChatParticipant(PARTICIPANT_ID, (...args) => {
    requests++;
    return handler(...args);
  });
  participant.iconPath = icon;
  participant.followupProvider = { provideFollowups: followups };
  return { registered: true, handler, followups, requests: () => requests, dispose: () => participant.dispose() };
}
