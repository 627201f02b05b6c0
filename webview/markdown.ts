/**
 * Model output as Markdown, safely: markdown-it with raw HTML off (tags stay text), then
 * DOMPurify with a short allow-list (no images, media, frames, forms, styles or event handlers),
 * then links rewritten: http(s) links and file references (`src/a.ts:12`) become actions the
 * extension host carries out on click; every other link is reduced to its text. Nothing here
 * can load a resource or run script — and the webview's CSP forbids both anyway.
 */
import * as l10n from '@vscode/l10n';
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: true });
// images become their alt text: no remote resource, whatever the URL
md.renderer.rules.image = (tokens, idx) => md.utils.escapeHtml(tokens[idx]!.content);

const ALLOWED_TAGS = ['p', 'br', 'strong', 'em', 'del', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span'];

/** A path with an extension and a line, e.g. `src/main.ts:12` or `lib/x.py:3-9`. */
export const FILE_REF = /(?<![\w/.-])((?:[\w.-]+\/)*[\w.-]+\.[A-Za-z0-9]{1,8}):(\d+)(?:-(\d+))?(?![\w])/g;

function fileLink(file: string, line: string, text: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.className = 'file-ref';
  a.dataset.file = file;
  a.dataset.line = line;
  a.textContent = text;
  a.href = '#';
  a.title = l10n.t('Open {0} at line {1}', file, line);
  return a;
}

/** Wraps file references in text nodes (outside code blocks and links) in file links. */
export function linkFileRefs(root: ParentNode): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = (n as Text).parentElement;
    if (parent?.closest('pre, a')) continue;
    FILE_REF.lastIndex = 0;
    if (FILE_REF.test((n as Text).data)) nodes.push(n as Text);
  }
  for (const node of nodes) {
    const frag = document.createDocumentFragment();
    let last = 0;
    FILE_REF.lastIndex = 0;
    for (let m = FILE_REF.exec(node.data); m; m = FILE_REF.exec(node.data)) {
      frag.append(node.data.slice(last, m.index), fileLink(m[1]!, m[2]!, m[0]));
      last = m.index + m[0].length;
    }
    frag.append(node.data.slice(last));
    node.replaceWith(frag);
  }
}

/** Renders untrusted Markdown into a fragment of safe elements. */
export function renderMarkdown(text: string): DocumentFragment {
  const clean = DOMPurify.sanitize(md.render(text), {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ['href', 'class'],
    ALLOW_DATA_ATTR: false,
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
  for (const a of [...clean.querySelectorAll('a')]) {
    const href = a.getAttribute('href') ?? '';
    const ref = /^((?:[\w.-]+\/)*[\w.-]+\.[A-Za-z0-9]{1,8})(?::|#L)(\d+)/.exec(href);
    if (/^https?:\/\//i.test(href)) {
      a.dataset.link = href;
      a.title = href;
      a.href = '#';
      a.className = 'external';
    } else if (ref) {
      a.replaceWith(fileLink(ref[1]!, ref[2]!, a.textContent ?? href));
    } else {
      a.replaceWith(document.createTextNode(a.textContent ?? ''));
    }
  }
  // only the classes markdown-it sets on code (language-x) survive
  for (const e of [...clean.querySelectorAll('[class]')]) {
    if (!(e.tagName === 'CODE' && /^language-[\w+-]+$/.test(e.className)) && !(e.tagName === 'A' && /^(external|file-ref)$/.test(e.className))) e.removeAttribute('class');
  }
  linkFileRefs(clean);
  return clean;
}
