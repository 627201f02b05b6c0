/** The shapes of a Markdown line that every reader of documents here shares: a fence, a heading. */

/** A fence's opening or closing line, with its language. */
export const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/;

/** A Markdown heading's text ("## Usage ##" → "Usage"), or undefined; linear in the line's length. */
export function headingText(raw: string): string | undefined {
  const m = /^#{1,6}[ \t]+/.exec(raw);
  if (!m) return undefined;
  const text = raw.slice(m[0].length).trimEnd().replace(/(?:^|[ \t])#+$/, '').trim();
  return text || undefined;
}
