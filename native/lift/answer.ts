/**
 * Answering: the question, the chunks of the workspace that match it best (BM25), and the
 * model — with the learned adapter when there is one — generating the answer token by token.
 * The answer says which files it drew on and whether learned knowledge was used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LlamaConfig } from '../model/config';
import { decodingGraph } from '../model/fusedDecode';
import { ADAPTER_WEIGHTS, loadAdapter } from '../model/peft';
import { type ChatMessage, type ChatTemplate, ChatTemplateError, type PromptPiece, renderChat } from '../model/chatTemplate';
import { TextTokenizer } from '../model/tokenizer';
import { defaultModelDir } from '../model/default';
import { type LlamaWeights, loadModel } from '../model/weights';
import { Generator } from '../runtime/generate';
import { createSession, defaultDevice, precisionFor, resolveProvider } from '../runtime/session';
import { quantCacheFile, readQuantCache, writeQuantCache } from '../model/quantCache';
import type { BlockQuantized } from '../model/quantize';
import { answerReserve, type Chunk, chunkHeader } from './retrieve';
import { parameterCount } from './resources';

export interface AnswerSource {
  path: string;
  startLine: number;
  endLine: number;
}

export interface Answer {
  text: string;
  sources: AnswerSource[];
  usedAdapter: boolean;
  stop: 'stop-token' | 'max-tokens' | 'cancelled';
}

const SYSTEM = "Answer questions about the user's code. Cite file paths; say when you do not know.";

/** Whether the model is an instruct model: it has its own chat template, or the ChatML tokens (Qwen and others). */
export const chatFormat = (tok: TextTokenizer): boolean => tok.chatTemplate !== undefined || (tok.tokenId('<|im_start|>') !== undefined && tok.tokenId('<|im_end|>') !== undefined);

/** Tokens that close an answer in this tokenizer's format (the first is what QA training samples end with). */
export function answerEndTokens(tok: TextTokenizer): number[] {
  const own = tok.chatTemplate?.tokens.eos_token;
  const ids = [own, '<|im_end|>', '<|endoftext|>'].map((t) => (t === undefined ? undefined : tok.tokenId(t))).filter((x): x is number => x !== undefined);
  return [...new Set(ids)];
}

/**
 * The chunks that fit in `budget` tokens, in order, as the prompt's context: the first that does
 * not fit whole gives what fits of it (whole lines when it has several, else words).
 */
function fitChunks(tok: TextTokenizer, chunks: readonly Chunk[], budget: number): { used: Chunk[]; ids: number[] } {
  const used: Chunk[] = [];
  const ids: number[] = [];
  for (const c of chunks) {
    let chunkIds = tok.encodeText(`${chunkHeader(c.path, c.startLine, c.endLine)}${c.text}\n\n`);
    let chunk = c;
    if (chunkIds.length > budget) {
      // (a chunk cut to the model's size only meets this at the end)
      const body = tok.encodeText(c.text);
      const keep = budget - (chunkIds.length - body.length);
      if (keep < 24) continue;
      let text = tok.decode(body.slice(0, keep)).replace(/\uFFFD+$/, '');
      const cut = text.lastIndexOf('\n') > text.length / 2 ? text.lastIndexOf('\n') : text.search(/\s\S*$/) > text.length / 2 ? text.search(/\s\S*$/) : text.length;
      text = text.slice(0, cut).trimEnd();
      chunk = { ...c, endLine: c.startLine + (text.match(/\n/g)?.length ?? 0), text };
      chunkIds = tok.encodeText(`${chunkHeader(c.path, chunk.startLine, chunk.endLine)}${text}\n\n`);
      if (!text || chunkIds.length > budget) continue;
    }
    budget -= chunkIds.length;
    ids.push(...chunkIds);
    used.push(chunk);
  }
  return { used, ids: used.length ? [...tok.encodeText('Context:\n'), ...ids] : [] };
}

/**
 * The prompt in the model's own chat template: the system line, the earlier turns, then the
 * question, with the context chunks at the start of the question's turn. The template's text is
 * encoded with its control tokens; every message's text as text.
 */
function templatedPrompt(
  tok: TextTokenizer,
  template: ChatTemplate,
  maxPositions: number,
  question: string,
  chunks: readonly Chunk[],
  maxNewTokens: number,
  history: readonly { question: string; answer: string }[],
): { ids: number[]; used: Chunk[] } {
  let systemRole = true;
  const render = (turns: readonly { question: string; answer: string }[]): { ids: number[][]; at: number } => {
    const asked = turns.flatMap((t): ChatMessage[] => [
      { role: 'user', content: `Question: ${t.question}` },
      { role: 'assistant', content: t.answer },
    ]);
    const last: ChatMessage = { role: 'user', content: `Question: ${question}` };
    const withSystem = (): ChatMessage[] => [{ role: 'system', content: SYSTEM }, ...asked, last];
    // for a template without a system role (older Mistral and Llama 2 ones refuse it), the system
    // line opens the first user message
    const withoutSystem = (): ChatMessage[] => {
      const [first, ...rest] = [...asked, last];
      return [{ ...first!, content: `${SYSTEM}\n\n${first!.content}` }, ...rest];
    };
    let messages = systemRole ? withSystem() : withoutSystem();
    let pieces: PromptPiece[];
    try {
      pieces = renderChat(template, messages, true).pieces;
    } catch (err) {
      if (!systemRole || !(err instanceof ChatTemplateError)) throw err;
      systemRole = false;
      messages = withoutSystem();
      pieces = renderChat(template, messages, true).pieces;
    }
    const ids = pieces.map((p) => (p.control ? tok.encodePrompt(p.text) : tok.encodeText(p.text)));
    const at = pieces.findIndex((p) => !p.control && p.message === messages.length - 1);
    if (at < 0) throw new ChatTemplateError(`the chat template (${template.source}) leaves out the question`);
    return { ids, at };
  };
  const length = (r: { ids: number[][] }): number => r.ids.reduce((n, x) => n + x.length, 0);
  const base = render([]);
  let budget = maxPositions - maxNewTokens - length(base) - 8;
  if (budget < 0) throw new Error(`the question is too long for the model's ${maxPositions} positions`);
  // earlier turns, newest kept first, within a third of what is left
  let kept = base;
  for (let k = 1; k <= history.length; k++) {
    const r = render(history.slice(-k));
    if (length(r) - length(base) > Math.floor(budget / 3)) break;
    kept = r;
  }
  budget -= length(kept) - length(base);
  const context = fitChunks(tok, chunks, budget);
  return { ids: [...kept.ids.slice(0, kept.at).flat(), ...context.ids, ...kept.ids.slice(kept.at).flat()], used: context.used };
}

/**
 * The answering prompt — shared by `ask` and by the QA training samples, so that training sees
 * exactly the format answering uses: system line, context chunks that fit, the question. In the
 * model's own chat template when it has one; else ChatML when the tokenizer has its tokens, else
 * plain text.
 */
export function formatPrompt(
  tok: TextTokenizer,
  maxPositions: number,
  question: string,
  chunks: readonly Chunk[],
  maxNewTokens: number,
  history: readonly { question: string; answer: string }[] = [],
): { ids: number[]; used: Chunk[] } {
  if (tok.chatTemplate) return templatedPrompt(tok, tok.chatTemplate, maxPositions, question, chunks, maxNewTokens, history);
  const chat = chatFormat(tok);
  const head = chat ? `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n` : `${SYSTEM}\n\n`;
  const tail = chat ? `Question: ${question}<|im_end|>\n<|im_start|>assistant\n` : `Question: ${question}\nAnswer:`;
  const headIds = tok.encodePrompt(head);
  // the question is user text: it may not inject control tokens either
  const tailIds = chat ? [...tok.encodeText(`Question: ${question}`), ...tok.encodePrompt('<|im_end|>\n<|im_start|>assistant\n')] : tok.encodeText(tail);
  let budget = maxPositions - maxNewTokens - headIds.length - tailIds.length - 8;
  if (budget < 0) throw new Error(`the question is too long for the model's ${maxPositions} positions`);
  // earlier turns, newest kept first, within a third of what is left (user text: no control tokens)
  const turns: number[][] = [];
  let turnBudget = Math.floor(budget / 3);
  for (const t of [...history].reverse()) {
    const ids = chat
      ? [...tok.encodeText(`Question: ${t.question}`), ...tok.encodePrompt('<|im_end|>\n<|im_start|>assistant\n'), ...tok.encodeText(t.answer), ...tok.encodePrompt('<|im_end|>\n<|im_start|>user\n')]
      : tok.encodeText(`Question: ${t.question}\nAnswer: ${t.answer}\n\n`);
    if (ids.length > turnBudget) break;
    turnBudget -= ids.length;
    budget -= ids.length;
    turns.unshift(ids);
  }
  const context = fitChunks(tok, chunks, budget);
  return { ids: [...headIds, ...context.ids, ...turns.flat(), ...tailIds], used: context.used };
}

/** What answering reads the frozen weights as. */
export type AnswerWeights = 'float32' | 'float16' | 'int8' | 'int4';

/**
 * The weights for a model of `parameters` on a device computing in `precision`, by the
 * "lift.answerPrecision" setting (LIFT_ANSWER_PRECISION). `auto`: 8 bits on the CPU for models of 100M parameters or more (answering there is bound by
 * the bytes of weights each token reads), float32 below; a GPU keeps its half precision whatever
 * the setting (quantized kernels are not checked there yet).
 */
export function answerWeights(parameters: number, precision: 'float16' | 'float32', setting = process.env.LIFT_ANSWER_PRECISION): AnswerWeights {
  if (precision === 'float16') return 'float16';
  if (setting === 'int8' || setting === 'int4') return setting;
  if (setting === 'fp32') return 'float32';
  return parameters >= 100e6 ? 'int8' : 'float32';
}

/**
 * A loaded model ready to answer; the generation graph is built once and reused. It has no Gated
 * Memory until a Gated Memory adapter is used; then it is rebuilt once with it (zero memory
 * answers as the base model or a LoRA adapter exactly, only more slowly: 1.13× the decoding time
 * of the default model).
 */
export class Answerer {
  private adapterKey: string | undefined;

  private constructor(
    readonly modelDir: string,
    readonly cfg: LlamaConfig,
    private readonly tok: TextTokenizer,
    private generator: Generator,
    /** What the weights are read as. */
    readonly weights: AnswerWeights,
    /** Builds the generator again, with Gated Memory inputs. */
    private readonly withMemory: () => Promise<Generator>,
    /** Where quantized weights came from (the cache beside the model, or quantized now). */
    readonly quantCache?: string,
  ) {}

  /** Loads the model in `modelDir`, or uses `loaded` (already read: the folder may be gone by now). */
  static async load(modelDir: string, loaded?: ReturnType<typeof loadModel> & { tok: TextTokenizer }): Promise<Answerer> {
    const { config, weights } = loaded ?? loadModel(modelDir);
    const tok = loaded?.tok ?? TextTokenizer.fromFolder(modelDir);
    const device = defaultDevice();
    const precision = precisionFor(device);
    const as = answerWeights(parameterCount(config), precision);
    const bits = as === 'int8' ? 8 : as === 'int4' ? 4 : undefined;
    // quantized once per model: read from the cache beside it, else quantized now and kept there
    // (not for the bundled model: its folder ships with the extension, and it quantizes at once)
    const bundled = defaultModelDir();
    const cacheFile = bits && !loaded && !(bundled && path.resolve(bundled) === path.resolve(modelDir)) ? quantCacheFile(modelDir, bits) : undefined;
    const cached = cacheFile ? readQuantCache(cacheFile) : undefined;
    const quantized = bits ? (cached ?? new Map<string, BlockQuantized>()) : undefined;
    const cpu = (await resolveProvider(device)) === 'cpu';
    const cachedCount = quantized?.size ?? 0;
    const generator = async (memory: boolean, w: LlamaWeights): Promise<Generator> => {
      const graph = decodingGraph(config, w, { cpu, precision, bits, quantized, memory });
      const { session } = await createSession(graph.model, device);
      return new Generator(session, config, graph.loraTargets, graph.memory, graph.fused);
    };
    const plain = await generator(false, weights);
    let cacheNote: string | undefined;
    if (cacheFile && quantized) {
      // written when this build had to quantize something the file lacked (a cache from an older version)
      const problem = cached && quantized.size === cachedCount ? undefined : writeQuantCache(cacheFile, quantized);
      cacheNote = cached ? `read from ${cacheFile}` : problem ? `not cached (${problem})` : `quantized and cached in ${cacheFile}`;
    }
    // the weights given stay with their owner; read from the folder again only if a Gated Memory adapter needs them
    return new Answerer(modelDir, config, tok, plain, as, () => generator(true, loaded ? weights : loadModel(modelDir).weights), cacheNote);
  }

  /** Which adapter answers now (its file, time and size), undefined for the base model. */
  get adapterIdentity(): string | undefined {
    return this.adapterKey;
  }

  /** Uses the adapter in `dir` if it holds one (reloaded when its files change), else the base model. */
  async useAdapter(dir: string | undefined): Promise<boolean> {
    const file = dir && path.join(dir, ADAPTER_WEIGHTS);
    const stat = file ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
    const key = stat ? `${file}:${stat.mtimeMs}:${stat.size}` : undefined;
    if (key !== this.adapterKey) {
      const adapter = key ? loadAdapter(dir!, this.cfg) : undefined;
      if (adapter?.kind === 'gated-memory' && !this.generator.memory) {
        const next = await this.withMemory();
        await this.generator.release();
        this.generator = next;
      }
      this.generator.setAdapter(adapter);
      this.adapterKey = key;
    }
    return key !== undefined;
  }

  /** With a Gated Memory adapter: each layer's mean gate over what was answered since the last call (then counted afresh); else undefined. */
  takeGates(): number[] | undefined {
    const gates = this.generator.gateAverages();
    this.generator.resetGates();
    return gates;
  }

  /** Frees the model's session. */
  release(): Promise<void> {
    return this.generator.release();
  }

  /** Prompt ids: context chunks (as many as fit) + question, in the model's chat format when it has one. */
  buildPrompt(question: string, chunks: readonly Chunk[], maxNewTokens: number, history: readonly { question: string; answer: string }[] = []): { ids: number[]; used: Chunk[] } {
    return formatPrompt(this.tok, this.cfg.maxPositions, question, chunks, maxNewTokens, history);
  }

  /** The tokens that end an answer: the model's EOS, <|im_end|>, <|endoftext|>. */
  private stopTokens(): number[] {
    return [...this.cfg.eosTokenIds, ...answerEndTokens(this.tok)];
  }

  async answer(
    question: string,
    chunks: readonly Chunk[],
    o: { maxTokens?: number; onText?: (text: string) => void; isCancelled?: () => boolean; temperature?: number; history?: readonly { question: string; answer: string }[] } = {},
  ): Promise<Omit<Answer, 'usedAdapter'> & { logprobs: number[]; ends: number[] }> {
    // a quarter of a small model's window leaves room for the retrieved context (answers are short)
    const maxTokens = answerReserve(this.cfg.maxPositions, o.maxTokens ?? 256);
    const { ids, used } = this.buildPrompt(question, chunks, maxTokens, o.history);
    const stopTokens = this.stopTokens();
    const tokens: number[] = [];
    // where each token's text ends in the answer (decoded once per token, as streaming does)
    const ends: number[] = [];
    let emitted = '';
    const result = await this.generator.generate(ids, {
      maxTokens,
      temperature: o.temperature ?? 0,
      stopTokens,
      isCancelled: o.isCancelled,
      onToken: (t) => {
        tokens.push(t);
        const text = this.tok.decode(tokens);
        ends.push(text.length);
        // wait for the rest of a character split across tokens
        if (text.length > emitted.length && !text.endsWith('\uFFFD')) {
          o.onText?.(text.slice(emitted.length));
          emitted = text;
        }
      },
    });
    const text = this.tok.decode(result.tokens);
    if (text.length > emitted.length) o.onText?.(text.slice(emitted.length));
    return { text, stop: result.stop, sources: used.map(({ path: p, startLine, endLine }) => ({ path: p, startLine, endLine })), logprobs: result.logprobs, ends };
  }
}
