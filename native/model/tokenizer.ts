/**
 * A Hugging Face `tokenizer.json` through @huggingface/tokenizers (the same ids as the Rust
 * `tokenizers`). Corpus text is encoded with the added tokens (<|endoftext|>, <|im_start|>,
 * <|file_sep|>, …) switched off, so that a file containing one cannot inject a control token;
 * prompts built by the product (chat templates) use the real special tokens.
 */
import * as fs from 'node:fs';
import { type ChatTemplate, loadChatTemplate } from './chatTemplate';
import { modelFile } from './modelFile';
import { FileReadError, readText } from '../files';

/** The largest tokenizer.json read (real ones are 2–35 MB). */
const TOKENIZER_FILE_LIMIT = 256 * 2 ** 20;
import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export class TextTokenizer {
  /** Ids of every added token (special or not): none of them may come out of corpus text. */
  readonly addedIds: ReadonlySet<number>;

  private constructor(
    private readonly full: Tokenizer,
    private readonly plain: Tokenizer,
    readonly added: readonly AddedTokenJson[],
  ) {
    this.addedIds = new Set(added.map((t) => t.id));
  }

  static fromJson(json: unknown, config: unknown = {}, where = 'tokenizer.json'): TextTokenizer {
    const j = json as { model?: unknown; added_tokens?: AddedTokenJson[] };
    if (typeof j !== 'object' || j === null || typeof j.model !== 'object') throw new TokenizerError(`${where}: not a Hugging Face tokenizer (no "model")`);
    const added = Array.isArray(j.added_tokens) ? j.added_tokens : [];
    // The library cleans up "spaces before punctuation" on decode unless told otherwise; that
    // breaks code (`a !== b` came back as `a!== b`): off unless tokenizer_config.json asks for it.
    const cfg = { clean_up_tokenization_spaces: false, ...(config as object) };
    try {
      return new TextTokenizer(new Tokenizer(j, cfg), new Tokenizer({ ...j, added_tokens: [] }, cfg), added);
    } catch (err) {
      throw new TokenizerError(`${where}: ${(err as Error).message}`);
    }
  }

  static fromFolder(dir: string): TextTokenizer {
    const file = modelFile(dir, 'tokenizer.json');
    const read = (f: string): unknown => JSON.parse(readText(f, TOKENIZER_FILE_LIMIT));
    let json: unknown;
    try {
      json = read(file);
    } catch (err) {
      throw new TokenizerError(`${file}: ${(err as FileReadError).code === 'ENOENT' ? 'missing' : (err as Error).message}`);
    }
    const cfgFile = modelFile(dir, 'tokenizer_config.json');
    const config = fs.existsSync(cfgFile) ? read(cfgFile) : {};
    const tok = TextTokenizer.fromJson(json, config, file);
    try {
      tok.chatTemplate = loadChatTemplate(dir, config);
    } catch (err) {
      throw new TokenizerError((err as Error).message);
    }
    return tok;
  }

  /** The model's own chat template, when it has one (instruct models); prompts are rendered with it. */
  chatTemplate: ChatTemplate | undefined;

  /** Corpus text: added tokens are plain text here, never control tokens. */
  encodeText(text: string): number[] {
    const ids = this.plain.encode(text, { add_special_tokens: false }).ids;
    const injected = ids.find((id) => this.addedIds.has(id));
    if (injected !== undefined) throw new TokenizerError(`corpus text produced the control token ${injected}`);
    return ids;
  }

  /** A prompt the product wrote: `<|im_start|>` and friends are the real special tokens. */
  encodePrompt(text: string): number[] {
    return this.full.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    if (ids.length === 0) return '';
    return this.full.decode(Array.from(ids), { skip_special_tokens: skipSpecial });
  }

  tokenId(token: string): number | undefined {
    return this.full.token_to_id(token);
  }
}
