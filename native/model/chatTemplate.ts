/**
 * A model's own chat template (Hugging Face's `chat_template`: Jinja, in `tokenizer_config.json`
 * or `chat_template.jinja`), rendered with @huggingface/jinja as transformers renders it. The
 * prompt comes back in pieces: what the template wrote (its control tokens are real) and what the
 * messages said (encoded as text, so a control token in workspace or user text stays text).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { JSON_FILE_LIMIT, readText } from '../files';
import { modelFile } from './modelFile';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A piece of a rendered prompt: the template's own text (`control`), or the text of `messages[message]`. */
export type PromptPiece = { text: string; control: true } | { text: string; control: false; message: number };

export class ChatTemplateError extends Error {}

export interface ChatTemplate {
  /** Where it came from (a file name), for messages. */
  source: string;
  /** The template's Jinja text, as the file holds it (GGUF export writes it out). */
  text: string;
  template: Template;
  /** The special tokens the template may name (`bos_token`, `eos_token`). */
  tokens: { bos_token?: string; eos_token?: string };
}

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
const tokenText = (v: unknown): string | undefined => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined);

/** The model folder's chat template: `chat_template.jinja`, else tokenizer_config.json's (the "default" one of a list); undefined for a base model. */
export function loadChatTemplate(dir: string, config?: unknown): ChatTemplate | undefined {
  const cfgFile = modelFile(dir, 'tokenizer_config.json');
  const cfg = (config ?? (fs.existsSync(cfgFile) ? JSON.parse(readText(cfgFile, JSON_FILE_LIMIT)) : {})) as Record<string, unknown>;
  const jinjaFile = modelFile(dir, 'chat_template.jinja');
  let source: string;
  let text: unknown;
  if (fs.existsSync(jinjaFile)) {
    source = 'chat_template.jinja';
    // like every model file: a regular file, not followed through a link, and bounded
    text = readText(jinjaFile, JSON_FILE_LIMIT);
  } else {
    source = 'tokenizer_config.json';
    text = cfg.chat_template;
    if (Array.isArray(text)) text = (text as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default')?.template;
  }
  if (typeof text !== 'string' || !text.trim()) return undefined;
  let template: Template;
  try {
    template = new Template(text);
  } catch (err) {
    throw new ChatTemplateError(`the chat template in ${path.join(dir, source)} does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { source, text, template, tokens: { bos_token: tokenText(cfg.bos_token), eos_token: tokenText(cfg.eos_token) } };
}

function render(t: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  try {
    // (@huggingface/jinja provides raise_exception itself, as transformers does)
    return t.template.render({ ...t.tokens, messages: messages.map((m) => ({ ...m })), add_generation_prompt: addGenerationPrompt });
  } catch (err) {
    throw new ChatTemplateError(`the chat template (${t.source}) refused the conversation or failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A stand-in for a message's content that no template alters and no text contains. */
const sentinel = (i: number): string => `\uE000${i}\uE001`;

/**
 * Renders the conversation; `pieces` joined give `text`. The template is rendered twice: once
 * with the messages, once with a stand-in for each content, which shows what the template wrote
 * itself. A template that changes a content other than by trimming it (or drops it) is refused.
 */
export function renderChat(t: ChatTemplate, messages: readonly ChatMessage[], addGenerationPrompt = true): { text: string; pieces: PromptPiece[] } {
  const text = render(t, messages, addGenerationPrompt);
  const shape = render(
    t,
    messages.map((m, i) => ({ ...m, content: sentinel(i) })),
    addGenerationPrompt,
  );
  const pieces: PromptPiece[] = [];
  const parts = shape.split(/\uE000(\d+)\uE001/);
  let at = 0;
  for (let k = 0; k < parts.length; k++) {
    if (k % 2 === 0) {
      // the template's own text
      const own = parts[k]!;
      if (!text.startsWith(own, at)) throw new ChatTemplateError(`the chat template (${t.source}) renders differently from one call to the next`);
      if (own) pieces.push({ text: own, control: true });
      at += own.length;
      continue;
    }
    // a message's content, as the template wrote it (Llama's `| trim`, Qwen's `.strip()`)
    const message = Number(parts[k]);
    const content = messages[message]!.content;
    const next = parts[k + 1] ?? '';
    const written = [content, content.trim(), content.trimStart(), content.trimEnd()].find((c) => text.startsWith(c + next, at));
    if (written === undefined) throw new ChatTemplateError(`the chat template (${t.source}) changes message text in a way LIFT cannot keep apart from its own`);
    if (written) pieces.push({ text: written, control: false, message });
    at += written.length;
  }
  if (at !== text.length) throw new ChatTemplateError(`the chat template (${t.source}) renders differently from one call to the next`);
  return { text, pieces };
}
