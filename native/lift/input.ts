/**
 * The long input: collected files in a deterministic order (README and docs first, then the
 * tree), each under a path header, tokenized as plain text (no control tokens), with a hash that
 * identifies it and the token span of every file.
 */
import { createHash } from 'node:crypto';
import type { CorpusFile } from './corpus';

export interface Encoder {
  /** Plain-text encoding: never yields control tokens. */
  encodeText(text: string): number[];
}

export interface FileSpan {
  path: string;
  start: number;
  end: number;
}

export interface LongInput {
  ids: number[];
  spans: FileSpan[];
  /** sha256 of the ordered headers and texts: the input's identity. */
  hash: string;
  /** Files left out because the token budget was reached. */
  overBudget: string[];
  /** The file cut short at the budget (its head is learned), if any. */
  truncated?: string;
}

export const fileHeader = (p: string): string => `<<< ${p} >>>\n`;

/** 0: the README at a root; 1: other documentation; 2: everything else. Then by path. */
function rank(p: string): number {
  const name = p.split('/').pop()!.toLowerCase();
  const depth = p.split('/').length;
  if (/^readme(\.|$)/.test(name) && depth <= 2) return 0;
  if (/\.(md|mdx|rst|adoc|txt)$/.test(name) && (depth <= 2 || /(^|\/)docs?\//i.test(p))) return 1;
  return 2;
}

export function orderFiles<T extends { path: string }>(files: readonly T[]): T[] {
  return [...files].sort((a, b) => rank(a.path) - rank(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function buildLongInput(files: readonly CorpusFile[], tok: Encoder, tokenBudget = Infinity): LongInput {
  const ids: number[] = [];
  const spans: FileSpan[] = [];
  const overBudget: string[] = [];
  let truncated: string | undefined;
  const hash = createHash('sha256');
  for (const f of orderFiles(files)) {
    const text = `${fileHeader(f.path)}${f.text}${f.text.endsWith('\n') ? '' : '\n'}\n`;
    const fileIds = tok.encodeText(text);
    let take = fileIds;
    if (ids.length + fileIds.length > tokenBudget) {
      // the first file that does not fit is learned as far as the budget goes (a long spec is
      // not dropped whole); the ones after it only if they fit whole
      const room = tokenBudget - ids.length;
      if (truncated !== undefined || room < 256) {
        overBudget.push(f.path);
        continue;
      }
      truncated = f.path;
      take = fileIds.slice(0, room);
      hash.update(`\0${room}\0`);
    }
    hash.update(text);
    spans.push({ path: f.path, start: ids.length, end: ids.length + take.length });
    for (const id of take) ids.push(id);
  }
  return { ids, spans, hash: hash.digest('hex'), overBudget, ...(truncated !== undefined ? { truncated } : {}) };
}
