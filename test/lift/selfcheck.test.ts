/**
 * The self-check after learning asks each held-out question from the weights alone and with the
 * retrieved chunks, and chooses whether answering with the adapter searches the workspace: off
 * only when the weights alone answered more, of at least RETRIEVAL_CHOICE_MIN questions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answerer } from '../../native/lift/answer';
import { selfCheck } from '../../native/lift/pipeline';
import { RETRIEVAL_CHOICE_MIN, weightsAlone } from '../../native/lift/store';
import type { QAPair } from '../../native/lift/qa';
import type { Chunk } from '../../native/lift/retrieve';

const checks = (n: number): QAPair[] => Array.from({ length: n }, (_, i) => ({ kind: 'fact', question: `Which port does service ${i} use?`, answer: `${4000 + i} (SPEC.md:${i + 1})`, path: 'SPEC.md', value: String(4000 + i), check: true }));

/** An answerer that states the value when the prompt has no context, and `withContext` otherwise. */
function answerer(withContext: (value: string) => string, asked: { chunks: number }[]): () => Promise<Answerer> {
  return async () =>
    ({
      useAdapter: async () => true,
      takeGates: () => undefined,
      release: async () => undefined,
      answer: async (question: string, chunks: Chunk[]) => {
        asked.push({ chunks: chunks.length });
        const value = String(4000 + Number(/service (\d+)/.exec(question)![1]));
        return { text: chunks.length ? withContext(value) : `${value} (SPEC.md:1)`, sources: [], stop: 'stop-token' };
      },
    }) as unknown as Answerer;
}
const retrieve = async (): Promise<Chunk[]> => [{ path: 'SPEC.md', startLine: 1, endLine: 2, text: 'Service 1 uses port 4001.' }];

test('the weights alone answering more turns retrieval off; as many or fewer leaves it on', async () => {
  const asked: { chunks: number }[] = [];
  const off = await selfCheck(answerer(() => 'The spec lists several services.', asked), 'adapter', checks(12), { retrieve });
  assert.deepEqual([off.asked, off.direct, off.withRetrieval, weightsAlone(off)], [12, 12, 0, true]);
  assert.deepEqual(asked.map((a) => a.chunks > 0), Array.from({ length: 12 }, () => [false, true]).flat(), 'each question asked closed book, then with the chunks');
  const tie = await selfCheck(answerer((v) => `${v}, as the spec says.`, []), 'adapter', checks(12), { retrieve });
  assert.deepEqual([tie.direct, tie.withRetrieval, weightsAlone(tie)], [12, 12, false]);
});

test(`fewer than ${RETRIEVAL_CHOICE_MIN} questions leave retrieval on; without a retriever nothing is chosen`, async () => {
  const few = await selfCheck(answerer(() => 'No idea.', []), 'adapter', checks(RETRIEVAL_CHOICE_MIN - 1), { retrieve });
  assert.deepEqual([few.direct, few.withRetrieval, weightsAlone(few)], [RETRIEVAL_CHOICE_MIN - 1, 0, false]);
  const none = await selfCheck(answerer(() => 'No idea.', []), 'adapter', checks(12));
  assert.equal(none.withRetrieval, undefined);
  assert.equal(weightsAlone(none), false);
});
