/**
 * Messages between the sidebar webview and the extension host, declared once for both sides.
 * The webview imports types only: its bundle must not pull in host code (the checks here run in the host).
 */
import { type LearnPhase, MAX_MENTIONS, type NearbyFact, type SelfCheckFigures } from '../native/protocol';

/** What the sidebar shows about the trainer. */
export type TrainerView =
  | { state: 'starting' | 'stopped' | 'crashed' }
  | { state: 'failed'; error: string }
  | {
      state: 'ready';
      pid: number;
      trainerVersion: string;
      onnxruntime: string;
      providers: { name: string; available: boolean }[];
      selfTestOk: boolean;
    };

/** A finished exchange, as the chat history keeps it. */
export interface HistoryItem {
  question: string;
  answer: string;
  outcome: 'done' | 'cancelled' | 'failed';
  error?: string;
  note?: string;
  /** Other learned facts near the question: the view offers to ask each as learning asked it. */
  nearby?: NearbyFact[];
}

/** The learning panel: progress with the loss curve while learning runs, the report after. */
export interface LearningView {
  state: 'running' | 'done' | 'failed' | 'cancelled';
  what: string;
  phase?: LearnPhase;
  step?: number;
  totalSteps?: number;
  etaSeconds?: number;
  /** Every step's loss so far (at most a few thousand). */
  losses: number[];
  report?: { files: number; tokens: number; qaPairs: number; skipped: Record<string, number>; redactions: number; seconds: number; facts?: number; selfCheck?: SelfCheckFigures };
  error?: string;
}

/** Whether the workspace is learned, with which model, when, and what its self-check found (the sidebar's header). */
export interface KnowledgeView {
  learned: boolean;
  model: string;
  selfCheck?: SelfCheckFigures;
  learnedAt?: string;
}

/**
 * A file or symbol mentioned in a question (`#src/a.ts`, `#parseConfig`): its lines go with the
 * question. `path` is relative to a workspace folder ("folder/…" in a multi-root one); without
 * lines, the file's start.
 */
export interface Mention {
  /** The text after `#` in the question. */
  label: string;
  path: string;
  startLine?: number;
  endLine?: number;
}

/** A completion offered after `#`. */
export interface MentionItem extends Mention {
  kind: 'file' | 'symbol';
  /** Where it is, shown beside the label (the folder, or a symbol's file and line). */
  detail: string;
}

export function isMention(value: unknown): value is Mention {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  const line = (x: unknown): boolean => x === undefined || (Number.isSafeInteger(x) && (x as number) >= 1);
  return typeof m.label === 'string' && typeof m.path === 'string' && line(m.startLine) && line(m.endLine) && (m.startLine === undefined) === (m.endLine === undefined) && ((m.endLine as number | undefined) ?? 0) >= ((m.startLine as number | undefined) ?? 0);
}

export type HostToWebview =
  | { type: 'learning'; learning: LearningView }
  /** Whether the workspace has a learned adapter (the empty chat offers to learn when not). */
  | ({ type: 'knowledge' } & KnowledgeView)
  | { type: 'trainer'; trainer: TrainerView }
  /** The active editor's lines that go with a question ("src/a.ts:1-40"), or none. */
  | { type: 'context'; active?: string }
  /** The conversation so far (sent when the view starts, and after it is cleared). */
  | { type: 'history'; items: HistoryItem[] }
  /** The files and symbols that match what follows `#` (the answer to `complete` with the same id). */
  | { type: 'completions'; id: number; items: MentionItem[] }
  /** A question was accepted (typed in the view or sent by a command); an answer follows. */
  | { type: 'question'; id: number; text: string }
  | { type: 'answerChunk'; id: number; text: string }
  | { type: 'answerEnd'; id: number; outcome: 'done' | 'cancelled' | 'failed'; error?: string; note?: string; nearby?: NearbyFact[] };

export type WebviewToHost =
  | { type: 'ready' }
  /**
   * A question typed in the view; `withoutActive`: the user took the active editor out of the
   * context; `mentions`: the files and symbols chosen after `#` that the text still names.
   */
  | { type: 'ask'; text: string; withoutActive?: boolean; mentions?: Mention[] }
  /** What follows a `#` being typed: the host answers with `completions`. */
  | { type: 'complete'; id: number; query: string }
  | { type: 'stop' }
  | { type: 'refreshStatus' }
  | { type: 'clearHistory' }
  | { type: 'learn' }
  /** Code block actions. */
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  /** A file reference in an answer (path relative to a workspace folder, 1-based line). */
  | { type: 'openFile'; path: string; line: number }
  /** An http(s) link in an answer: the host asks VS Code to open it (with its own confirmation). */
  | { type: 'openLink'; url: string };

export function isWebviewToHost(value: unknown): value is WebviewToHost {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as { type?: unknown; text?: unknown; path?: unknown; line?: unknown; url?: unknown; withoutActive?: unknown; mentions?: unknown; id?: unknown; query?: unknown };
  switch (m.type) {
    case 'ready':
    case 'stop':
    case 'refreshStatus':
    case 'clearHistory':
    case 'learn':
      return true;
    case 'ask':
      return (
        typeof m.text === 'string' &&
        (m.withoutActive === undefined || typeof m.withoutActive === 'boolean') &&
        (m.mentions === undefined || (Array.isArray(m.mentions) && m.mentions.length <= MAX_MENTIONS && m.mentions.every(isMention)))
      );
    case 'complete':
      return Number.isSafeInteger(m.id) && typeof m.query === 'string' && m.query.length <= 200;
    case 'copy':
    case 'insert':
      return typeof m.text === 'string';
    case 'openFile':
      return typeof m.path === 'string' && Number.isSafeInteger(m.line) && (m.line as number) >= 1;
    case 'openLink':
      return typeof m.url === 'string' && /^https?:\/\//i.test(m.url);
    default:
      return false;
  }
}
