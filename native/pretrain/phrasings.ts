/**
 * The many phrasings the default model's pre-LIFT stage asks in: the generator's own plus
 * others, so that the model learns to answer by the subject of a question rather than by its
 * wording. None is one of the held-out phrasings `HELD_OUT` that measure exactly that (a test
 * checks), so the model card's held-out rate stays honest.
 */
import { PHRASINGS, type Phrasings, type QAPair } from '../lift/qa';

const more: Record<QAPair['kind'], Phrasings> = {
  definition: [
    (x) => `Where does ${x} live?`,
    (x) => `Find ${x}.`,
    (x) => `Which file has ${x}?`,
    (x) => `Locate the definition of ${x}.`,
    (x) => `Where is ${x} declared?`,
    (x) => `What file and line is ${x} at?`,
    (x) => `${x}: where is it?`,
    (x) => `Point me to ${x}.`,
  ],
  purpose: [
    (x) => `What is the purpose of ${x}?`,
    (x) => `Why does ${x} exist?`,
    (x) => `What's ${x} for?`,
    (x) => `Tell me what ${x} does.`,
    (x) => `${x} — what does it do?`,
    (x) => `Give a short description of ${x}.`,
    (x) => `What is the role of ${x}?`,
    (x) => `What does the doc comment of ${x} say?`,
  ],
  signature: [
    (x) => `What are the parameters of ${x}?`,
    (x) => `How is ${x} declared?`,
    (x) => `What does ${x} accept?`,
    (x) => `Show the signature of ${x}.`,
    (x) => `What arguments does ${x} expect?`,
    (x) => `What is the declaration of ${x}?`,
    (x) => `How should ${x} be called?`,
  ],
  implementation: [
    (x) => `Show ${x}.`,
    (x) => `What is the code of ${x}?`,
    (x) => `Show me how ${x} works.`,
    (x) => `Give me the source code of ${x}.`,
    (x) => `Let me see ${x}'s implementation.`,
    (x) => `What does the body of ${x} look like?`,
    (x) => `Paste the code of ${x}.`,
  ],
  'file-contents': [
    (x) => `What is defined in ${x}?`,
    (x) => `Summarize ${x}.`,
    (x) => `What's inside ${x}?`,
    (x) => `List the symbols of ${x}.`,
    (x) => `Describe the file ${x}.`,
    (x) => `What can I find in ${x}?`,
    (x) => `Outline ${x}.`,
  ],
  importers: [
    (x) => `Who imports ${x}?`,
    (x) => `Which modules depend on ${x}?`,
    (x) => `Where is ${x} used?`,
    (x) => `What imports ${x}?`,
    (x) => `Which files require ${x}?`,
    (x) => `List the importers of ${x}.`,
    (x) => `Which parts of the code import ${x}?`,
  ],
  section: [
    (x) => `What does "${x}" say?`,
    (x) => `What is under the heading "${x}"?`,
    (x) => `Explain the section "${x}".`,
    (x) => `What do the docs say in "${x}"?`,
    (x) => `${x}?`,
    (x) => `What is ${x}?`,
    (x) => `Tell me the "${x}" part.`,
    (x) => `Quote the section "${x}".`,
    (x) => `What does the document say about ${x}?`,
    (x) => `Give me the details of "${x}".`,
    (x) => `What is stated in "${x}"?`,
    (x) => `Describe ${x} according to the docs.`,
  ],
  // made from each fact (lift/prose.ts, lift/codefacts.ts)
  fact: [],
};

export const PRETRAIN_PHRASINGS = Object.fromEntries(Object.entries(PHRASINGS).map(([k, ps]) => [k, [...ps, ...more[k as QAPair['kind']]]])) as Record<QAPair['kind'], Phrasings>;
