/**
 * Model output shown as Markdown in the editor (hovers, comment threads) with HTML off. VS Code
 * drops raw HTML from such Markdown, so `Array<string>` in prose would show as `Array`: a `<`
 * outside code is written `&lt;` instead (it then shows as typed; inside code spans and fences
 * it already does, and an entity there would show literally).
 */
export function escapeHtmlOutsideCode(text: string): string {
  const out: string[] = [];
  // fences (``` or ~~~, to the closing fence or the end) and code spans (`…`, ``…``) kept as they are
  const code = /(^|\n)(```|~~~)[^\n]*\n[\s\S]*?(?:\n\2[^\n]*(?=\n|$)|$)|(`+)[^`\n]*?[^`]?\3(?!`)/g;
  let last = 0;
  for (const m of text.matchAll(code)) {
    const start = m.index! + (m[1]?.length ?? 0);
    out.push(escape(text.slice(last, start)), text.slice(start, m.index! + m[0].length));
    last = m.index! + m[0].length;
  }
  out.push(escape(text.slice(last)));
  return out.join('');
}

// only `<` opens HTML; `>` stays (a quote at a line's start)
const escape = (s: string): string => s.replace(/</g, '&lt;');
