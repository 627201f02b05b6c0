/**
 * Words shared by the sidebar and the extension host, translated with @vscode/l10n (configured
 * with the extension's bundle in both): how long ago something was, and learning's phases.
 */
import * as l10n from '@vscode/l10n';
import type { LearnPhase } from '../native/protocol';

/** How long ago an ISO time was ("just now", "3 min ago", "2 h ago", "5 d ago"). */
export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return l10n.t('just now');
  if (s < 3600) return l10n.t('{0} min ago', Math.round(s / 60));
  if (s < 86_400) return l10n.t('{0} h ago', Math.round(s / 3600));
  return l10n.t('{0} d ago', Math.round(s / 86_400));
}

/** A phase of learning in the user's words (the status bar, the notification, the learning panel). */
export function phaseWords(phase: LearnPhase | undefined): string {
  switch (phase) {
    case undefined:
      return l10n.t('starting');
    case 'collect':
      return l10n.t('collecting files');
    case 'tokenize':
      return l10n.t('tokenizing');
    case 'build':
      return l10n.t('building');
    case 'train':
      return l10n.t('training');
    case 'save':
      return l10n.t('saving');
    case 'check':
      return l10n.t('checking what it learned');
  }
}
