/**
 * Messages between the sidebar webview and the extension host, declared once for both sides.
 * Types only: the webview bundle must not pull in host code.
 */

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

export type HostToWebview =
  | { type: 'trainer'; trainer: TrainerView }
  /** A question was accepted (typed in the view or sent by a command); an answer follows. */
  | { type: 'question'; id: number; text: string }
  | { type: 'answerChunk'; id: number; text: string }
  | { type: 'answerEnd'; id: number; outcome: 'done' | 'cancelled' | 'failed'; error?: string; note?: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'ask'; text: string }
  | { type: 'stop' }
  | { type: 'refreshStatus' };

export function isWebviewToHost(value: unknown): value is WebviewToHost {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as { type?: unknown; text?: unknown };
  switch (m.type) {
    case 'ready':
    case 'stop':
    case 'refreshStatus':
      return true;
    case 'ask':
      return typeof m.text === 'string';
    default:
      return false;
  }
}
