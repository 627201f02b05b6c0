/**
 * Symbols and imports of source files with a real parser: tree-sitter through
 * `@vscode/tree-sitter-wasm`, the grammars VS Code itself ships. For each definition: its name,
 * kind, lines, signature, doc comment and code; for each file: what it imports.
 */
import * as path from 'node:path';
import type * as TreeSitter from '@vscode/tree-sitter-wasm';

export interface SymbolInfo {
  name: string;
  kind: string;
  /** 1-based lines of the definition. */
  line: number;
  endLine: number;
  signature: string;
  doc?: string;
  code: string;
}

export interface FileSymbols {
  language: string;
  symbols: SymbolInfo[];
  imports: string[];
}

interface LanguageSpec {
  wasm: string;
  /** Captures: @def (the definition node) with @name; kinds come from the def node's type. */
  definitions: string;
  /** Captures @module: the imported module's text. */
  imports: string;
}

const TS_DEFS = `
(function_declaration name: (identifier) @name) @def
(generator_function_declaration name: (identifier) @name) @def
(class_declaration name: (_) @name) @def
(abstract_class_declaration name: (_) @name) @def
(interface_declaration name: (_) @name) @def
(type_alias_declaration name: (_) @name) @def
(enum_declaration name: (_) @name) @def
(method_definition name: (_) @name) @def
(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def`;
const JS_DEFS = `
(function_declaration name: (identifier) @name) @def
(generator_function_declaration name: (identifier) @name) @def
(class_declaration name: (_) @name) @def
(method_definition name: (_) @name) @def
(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def`;
const ES_IMPORTS = `(import_statement source: (string) @module)`;

const LANGUAGES: Record<string, LanguageSpec> = {
  typescript: { wasm: 'tree-sitter-typescript.wasm', definitions: TS_DEFS, imports: ES_IMPORTS },
  tsx: { wasm: 'tree-sitter-tsx.wasm', definitions: TS_DEFS, imports: ES_IMPORTS },
  javascript: { wasm: 'tree-sitter-javascript.wasm', definitions: JS_DEFS, imports: ES_IMPORTS },
  python: {
    wasm: 'tree-sitter-python.wasm',
    definitions: `(function_definition name: (identifier) @name) @def (class_definition name: (identifier) @name) @def`,
    imports: `(import_statement name: [(dotted_name) (aliased_import name: (dotted_name))] @module) (import_from_statement module_name: (_) @module)`,
  },
  go: {
    wasm: 'tree-sitter-go.wasm',
    definitions: `(function_declaration name: (identifier) @name) @def (method_declaration name: (field_identifier) @name) @def (type_declaration (type_spec name: (type_identifier) @name)) @def`,
    imports: `(import_spec path: (_) @module)`,
  },
  rust: {
    wasm: 'tree-sitter-rust.wasm',
    definitions: `(function_item name: (identifier) @name) @def (struct_item name: (type_identifier) @name) @def (enum_item name: (type_identifier) @name) @def (trait_item name: (type_identifier) @name) @def (mod_item name: (identifier) @name) @def`,
    imports: `(use_declaration argument: (_) @module)`,
  },
  java: {
    wasm: 'tree-sitter-java.wasm',
    definitions: `(class_declaration name: (identifier) @name) @def (interface_declaration name: (identifier) @name) @def (enum_declaration name: (identifier) @name) @def (method_declaration name: (identifier) @name) @def (record_declaration name: (identifier) @name) @def`,
    imports: `(import_declaration (_) @module)`,
  },
  cpp: {
    wasm: 'tree-sitter-cpp.wasm',
    definitions: `(function_definition declarator: (function_declarator declarator: (_) @name)) @def (class_specifier name: (type_identifier) @name body: (_)) @def (struct_specifier name: (type_identifier) @name body: (_)) @def`,
    imports: `(preproc_include path: (_) @module)`,
  },
  csharp: {
    wasm: 'tree-sitter-c-sharp.wasm',
    definitions: `(class_declaration name: (identifier) @name) @def (interface_declaration name: (identifier) @name) @def (struct_declaration name: (identifier) @name) @def (enum_declaration name: (identifier) @name) @def (method_declaration name: (identifier) @name) @def`,
    imports: `(using_directive (_) @module)`,
  },
};

const EXTENSIONS: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'tsx',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript',
  '.py': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java',
  '.c': 'cpp', '.h': 'cpp', '.cc': 'cpp', '.cpp': 'cpp', '.cxx': 'cpp', '.hpp': 'cpp', '.hh': 'cpp',
  '.cs': 'csharp',
};

export const languageOf = (file: string): string | undefined => EXTENSIONS[path.extname(file).toLowerCase()];

const KIND: Record<string, string> = {
  function_declaration: 'function', generator_function_declaration: 'function', function_definition: 'function', function_item: 'function',
  lexical_declaration: 'function', method_definition: 'method', method_declaration: 'method',
  class_declaration: 'class', abstract_class_declaration: 'class', class_definition: 'class', class_specifier: 'class',
  interface_declaration: 'interface', type_alias_declaration: 'type', type_declaration: 'type', enum_declaration: 'enum', enum_item: 'enum',
  struct_item: 'struct', struct_specifier: 'struct', struct_declaration: 'struct', trait_item: 'trait', mod_item: 'module', record_declaration: 'record',
};

interface Loaded {
  ts: typeof TreeSitter;
  parser: TreeSitter.Parser;
  languages: Map<string, { language: TreeSitter.Language; definitions: TreeSitter.Query; imports: TreeSitter.Query }>;
}

let loading: Promise<Loaded> | undefined;

async function load(): Promise<Loaded> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('@vscode/tree-sitter-wasm') as typeof TreeSitter;
  const dir = path.dirname(require.resolve('@vscode/tree-sitter-wasm'));
  await ts.Parser.init({ locateFile: (file: string) => path.join(dir, file) });
  return { ts, parser: new ts.Parser(), languages: new Map() };
}

async function language(name: string): Promise<{ loaded: Loaded; lang: NonNullable<ReturnType<Loaded['languages']['get']>> }> {
  loading ??= load();
  const loaded = await loading;
  let lang = loaded.languages.get(name);
  if (!lang) {
    const spec = LANGUAGES[name]!;
    const language = await loaded.ts.Language.load(path.join(path.dirname(require.resolve('@vscode/tree-sitter-wasm')), spec.wasm));
    lang = { language, definitions: new loaded.ts.Query(language, spec.definitions), imports: new loaded.ts.Query(language, spec.imports) };
    loaded.languages.set(name, lang);
  }
  return { loaded, lang };
}

/**
 * A file's syntax tree, parsed with its language's grammar (the grammars and parser that
 * extractSymbols caches); undefined for a language without a grammar. The caller deletes the tree.
 */
export async function parseFile(file: string, text: string): Promise<{ language: string; tree: TreeSitter.Tree } | undefined> {
  const name = languageOf(file);
  if (!name) return undefined;
  const { loaded, lang } = await language(name);
  loaded.parser.setLanguage(lang.language);
  const tree = loaded.parser.parse(text);
  return tree ? { language: name, tree } : undefined;
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Comment lines directly above a node (JSDoc, //, #, ///), cleaned of comment markers. */
function leadingDoc(node: TreeSitter.Node): string | undefined {
  // exported or decorated definitions: the comment sits above the wrapper
  let anchor: TreeSitter.Node = node;
  while (anchor.parent && /^(export_statement|decorated_definition|lexical_declaration)$/.test(anchor.parent.type)) anchor = anchor.parent;
  const lines: string[] = [];
  let prev = anchor.previousNamedSibling;
  let row = anchor.startPosition.row;
  while (prev && prev.type.includes('comment') && prev.endPosition.row >= row - 1) {
    lines.unshift(prev.text);
    row = prev.startPosition.row;
    prev = prev.previousNamedSibling;
  }
  if (!lines.length) return undefined;
  const text = lines
    .join('\n')
    .replace(/^\s*\/\*\*?|\*\/\s*$/g, '')
    .split('\n')
    .map((l) => l.replace(/^\s*(\/\/\/?|#|\*)\s?/, '').trimEnd())
    .join('\n')
    .replace(/<\/?(summary|remarks|returns|param[^>]*)>/g, '') // C# XML doc tags
    .trim();
  return text || undefined;
}

/** Python docstring: the first statement of the body when it is a string. */
function docstring(node: TreeSitter.Node): string | undefined {
  const body = node.childForFieldName('body');
  const first = body?.namedChildren[0];
  const str = first?.type === 'expression_statement' ? first.namedChildren[0] : undefined;
  if (str?.type !== 'string') return undefined;
  return str.text.replace(/^[rRbBuU]*("""|'''|"|')/, '').replace(/("""|'''|"|')$/, '').trim() || undefined;
}

/** Extracts definitions and imports; undefined for a language without a grammar. */
export async function extractSymbols(file: string, text: string, maxCodeLines = 60): Promise<FileSymbols | undefined> {
  const name = languageOf(file);
  if (!name) return undefined;
  const { loaded, lang } = await language(name);
  loaded.parser.setLanguage(lang.language);
  const tree = loaded.parser.parse(text);
  if (!tree) return undefined;
  try {
    const symbols: SymbolInfo[] = [];
    const seen = new Set<number>();
    for (const match of lang.definitions.matches(tree.rootNode)) {
      const def = match.captures.find((c) => c.name === 'def')?.node;
      const nameNode = match.captures.find((c) => c.name === 'name')?.node;
      if (!def || !nameNode || seen.has(def.id)) continue;
      seen.add(def.id);
      const body = def.childForFieldName('body') ?? def.namedChildren.find((c) => c?.type === 'variable_declarator')?.childForFieldName('value')?.childForFieldName('body');
      const signature = oneLine((body ? text.slice(def.startIndex, body.startIndex) : def.text.split('\n')[0]!).replace(/[{:=>\s]+$/, '')).slice(0, 240);
      let kind = KIND[def.type] ?? def.type;
      for (let p = def.parent; kind === 'function' && p; p = p.parent) if (/class|impl_item/.test(p.type)) kind = 'method';
      const codeLines = def.text.split('\n');
      symbols.push({
        name: nameNode.text,
        kind,
        line: def.startPosition.row + 1,
        endLine: def.endPosition.row + 1,
        signature,
        doc: name === 'python' ? docstring(def) ?? leadingDoc(def) : leadingDoc(def),
        code: codeLines.length > maxCodeLines ? `${codeLines.slice(0, maxCodeLines).join('\n')}\n…` : def.text,
      });
    }
    const imports = [...new Set(lang.imports.captures(tree.rootNode).map((c) => c.node.text.replace(/^["'<]|["'>]$/g, '')))];
    return { language: name, symbols: symbols.sort((a, b) => a.line - b.line), imports };
  } finally {
    tree.delete();
  }
}
