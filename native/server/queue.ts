/**
 * A first-in, first-out line for work that must not overlap (answers share one model session):
 * each job starts when the one before it has finished; a job cancelled while it waits leaves the
 * line at once, without running, and without letting the jobs behind it overtake.
 */
import type { CancellationToken } from 'vscode-jsonrpc';

export class QueueCancelled extends Error {
  override name = 'QueueCancelled';
}

export class FifoQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(job: () => Promise<T>, token?: CancellationToken): Promise<T> {
    const before = this.tail;
    let finish!: () => void;
    this.tail = new Promise<void>((resolve) => (finish = resolve));
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const sub = token?.onCancellationRequested(() => {
        left = true;
        sub?.dispose();
        reject(new QueueCancelled('cancelled while waiting'));
      });
      void before.then(async () => {
        sub?.dispose();
        if (left || token?.isCancellationRequested) {
          if (!left) reject(new QueueCancelled('cancelled while waiting'));
          finish();
          return;
        }
        try {
          resolve(await job());
        } catch (err) {
          reject(err);
        } finally {
          finish();
        }
      });
    });
  }
}
