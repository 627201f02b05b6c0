/**
 * Where a model folder's file is read from. Model files are read without following links (see
 * files.ts); the one kind of link taken is the Hugging Face cache's own: a file of
 * `<repo>/snapshots/<commit>/` that leads to a blob of the same repository's `blobs/` folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { realpathOrUndefined } from '../files';

export function modelFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  if (!fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) return file;
  const snapshots = path.dirname(path.resolve(dir));
  if (path.basename(snapshots) !== 'snapshots') return file;
  const blobs = realpathOrUndefined(path.join(path.dirname(snapshots), 'blobs'));
  const real = realpathOrUndefined(file);
  return blobs && real && path.dirname(real) === blobs ? real : file;
}
