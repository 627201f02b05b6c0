/**
 * How well a model learns a document it never saw: a generated handbook of facts (made-up
 * headings and values, seeded) is learned with LIFT (`learnWorkspace`, as the product does), then
 * every fact is asked closed book — no file in the prompt — in the generator's phrasings and in
 * phrasings the generator never produces, before and after learning.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Answerer } from '../lift/answer';
import { learnWorkspace, type LearnRequest } from '../lift/pipeline';
import { HELD_OUT, PHRASINGS } from '../lift/qa';

export interface Fact {
  heading: string;
  text: string;
  value: string;
}

const WORDS = ['amber', 'basalt', 'cobalt', 'delta', 'ember', 'fjord', 'garnet', 'harbor', 'indigo', 'juniper', 'kelvin', 'lumen', 'marlin', 'nectar', 'onyx', 'pylon', 'quartz', 'raven', 'sierra', 'tundra', 'umber', 'vortex', 'willow', 'zephyr'];
const THINGS = ['port', 'owner', 'timeout', 'quota', 'region', 'schedule', 'limit', 'codename', 'channel', 'version'];
const NAMES = ['Mara Lindqvist', 'Tomas Ekwueme', 'Ines Duarte', 'Oskar Brandt', 'Leila Haddad', 'Ravi Menon', 'Yuki Sato', 'Nadia Petrova'];

/** `n` facts from a seed: distinct headings, values that no model can guess. */
export function generateFacts(n: number, seed: number): Fact[] {
  let s = seed >>> 0 || 1;
  const rand = (k: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * k);
  };
  const facts: Fact[] = [];
  const used = new Set<string>();
  while (facts.length < n) {
    const word = WORDS[rand(WORDS.length)]!;
    const thing = THINGS[rand(THINGS.length)]!;
    const heading = `${word[0]!.toUpperCase()}${word.slice(1)} ${thing}`;
    if (used.has(heading)) continue;
    used.add(heading);
    const subject = `The ${word} service`;
    const v = (() => {
      switch (thing) {
        case 'port': return String(2000 + rand(7000));
        case 'owner': return NAMES[rand(NAMES.length)]!;
        case 'timeout': return `${5 + rand(90)} seconds`;
        case 'quota': return `${1 + rand(60)} GiB`;
        case 'region': return `eu-${['north', 'west', 'south'][rand(3)]}-${1 + rand(4)}`;
        case 'schedule': return `${String(rand(24)).padStart(2, '0')}:${String(rand(60)).padStart(2, '0')} UTC`;
        case 'limit': return `${100 + rand(900)} requests`;
        case 'codename': return `${WORDS[rand(WORDS.length)]!.toUpperCase()}-${rand(100)}`;
        case 'channel': return `#${word}-${['ops', 'alerts', 'dev'][rand(3)]}`;
        default: return `v${1 + rand(9)}.${rand(20)}`;
      }
    })();
    const text = {
      port: `${subject} listens on port ${v}.`,
      owner: `${subject} is owned by ${v}.`,
      timeout: `${subject} times out after ${v}.`,
      quota: `${subject} may store at most ${v}.`,
      region: `${subject} runs in the region ${v}.`,
      schedule: `${subject} runs its batch job at ${v}.`,
      limit: `${subject} accepts at most ${v} per minute.`,
      codename: `${subject} was developed under the codename ${v}.`,
      channel: `Alerts for ${subject.toLowerCase().replace(/^the /, 'the ')} go to ${v}.`,
      version: `${subject} currently runs version ${v}.`,
    }[thing]!;
    facts.push({ heading, text, value: v });
  }
  return facts;
}

export const handbook = (facts: readonly Fact[], title = 'Operations handbook'): string => `# ${title}\n\n${facts.map((f) => `## ${f.heading}\n${f.text}\n`).join('\n')}`;

export interface KnowledgeResult {
  facts: number;
  tokens: number;
  steps: number;
  seconds: number;
  before: { generator: number; heldOut: number };
  after: { generator: number; heldOut: number };
  asked: { generator: number; heldOut: number };
  examples: { question: string; answer: string; expect: string }[];
}

/** Learns a generated handbook with `modelDir` and measures the answers (closed book). */
export async function knowledgeEval(modelDir: string, o: { facts: number; seed: number; learn: Partial<LearnRequest> }): Promise<KnowledgeResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-eval-'));
  try {
    const facts = generateFacts(o.facts, o.seed);
    const docs = path.join(tmp, 'docs');
    fs.mkdirSync(docs);
    fs.writeFileSync(path.join(docs, 'HANDBOOK.md'), handbook(facts));
    const answerer = await Answerer.load(modelDir);
    const examples: KnowledgeResult['examples'] = [];
    const ask = async (phrasings: typeof PHRASINGS.section, keep = false): Promise<number> => {
      let right = 0;
      for (const f of facts) {
        for (const p of phrasings) {
          const { text } = await answerer.answer(p(f.heading), [], { maxTokens: 40 });
          if (text.includes(f.value)) right++;
          if (keep && examples.length < 6) examples.push({ question: p(f.heading), answer: text.trim(), expect: f.value });
        }
      }
      return right;
    };
    const before = { generator: await ask(PHRASINGS.section), heldOut: await ask(HELD_OUT.section) };
    const started = Date.now();
    const summary = await learnWorkspace({ roots: [docs], modelDir, adapterDir: path.join(tmp, 'adapter'), ...o.learn });
    const seconds = (Date.now() - started) / 1000;
    answerer.useAdapter(path.join(tmp, 'adapter'));
    const after = { generator: await ask(PHRASINGS.section), heldOut: await ask(HELD_OUT.section, true) };
    return {
      facts: facts.length,
      tokens: summary.tokens,
      steps: summary.steps,
      seconds,
      before,
      after,
      asked: { generator: facts.length * PHRASINGS.section.length, heldOut: facts.length * HELD_OUT.section.length },
      examples,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
