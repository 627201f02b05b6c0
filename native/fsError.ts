/** File-system errors in plain words (shared by the trainer's layers: it imports nothing). */

/** An fs error in plain words: what happened, with the code for the log. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const plain: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exhausted',
    EROFS: 'the storage is read-only',
    EACCES: 'permission denied',
    EPERM: 'the operation is not permitted',
    ENOENT: 'a folder on the way is missing',
    EIO: 'an input/output error from the disk',
  };
  const what = e?.code ? plain[e.code] : undefined;
  return what ? `${what} (${e.code}${e.path ? ` at ${e.path}` : ''})` : err instanceof Error ? err.message : String(err);
}
