/**
 * One path at a time, what `collect` would take of a workspace now: the same roots, ignore files
 * (git's own answer in a git work tree, the .gitignore files on the way down otherwise),
 * .liftignore, include/exclude globs and secret names, then collect's own checks on the file
 * itself (size, links, binary, minified, generated) and its redaction. The retrieval index
 * follows file events through this, so that it never holds what collection would skip.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';
import { isInside, readBounded, realpathOrUndefined, relativePosix } from '../files';
import { collect, type CorpusFile, MAX_FILE_BYTES } from './corpus';
import { isSecretFile } from './secrets';

export type Admission = { file: CorpusFile } | { skip: string };

interface Root {
  /** The folder the paths are relative to (a document's folder for a document root). */
  dir: string;
  real: string;
  /** A document root: only this file belongs to it. */
  document?: string;
  /** Prefix of the paths collect names (the root's name when there are several roots). */
  prefix: string;
  git?: Promise<boolean>;
}

/** Runs git with `input` on stdin; resolves with stdout and the exit code (never rejects). */
function git(cwd: string, args: string[], input?: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    const child = spawn('git', ['-C', cwd, ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', () => resolve({ code: -1, stdout: '' }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

export class WorkspaceFiles {
  private readonly rootList: Root[];
  private readonly include?: picomatch.Matcher;
  private readonly exclude?: picomatch.Matcher;
  /** Parsed .gitignore / .liftignore files by absolute path (null: none). */
  private readonly ignores = new Map<string, Ignore | null>();

  constructor(
    readonly roots: readonly string[],
    o: { include?: readonly string[]; exclude?: readonly string[] } = {},
  ) {
    const multi = roots.length > 1;
    this.rootList = roots.map((r) => {
      const abs = path.resolve(r);
      const isFile = fs.statSync(abs, { throwIfNoEntry: false })?.isFile() ?? false;
      const dir = isFile ? path.dirname(abs) : abs;
      return { dir, real: realpathOrUndefined(dir) ?? dir, document: isFile ? abs : undefined, prefix: multi ? `${path.basename(dir)}/` : '' };
    });
    this.include = o.include?.length ? picomatch([...o.include], { dot: true }) : undefined;
    this.exclude = o.exclude?.length ? picomatch([...o.exclude], { dot: true }) : undefined;
  }

  /** The root an absolute path lies in and the path collect names it by; undefined outside every root. */
  locate(abs: string): { root: Root; rel: string; shown: string } | undefined {
    const a = path.resolve(abs);
    for (const root of this.rootList) {
      if (root.document ? a !== root.document : !isInside(a, root.dir)) continue;
      const rel = relativePosix(root.dir, a);
      if (rel === '') continue; // the root itself
      return { root, rel, shown: root.prefix + rel };
    }
    return undefined;
  }

  /** The paths (as collect names them) that a deleted or renamed path `abs` covered: itself and what was under it. */
  shownPrefix(abs: string): string | undefined {
    const a = path.resolve(abs);
    for (const root of this.rootList) {
      if (root.document) {
        if (a === root.document) return root.prefix + path.basename(a);
        continue;
      }
      if (a === root.dir) return root.prefix; // the whole root
      if (isInside(a, root.dir)) return root.prefix + relativePosix(root.dir, a);
    }
    return undefined;
  }

  /** Forgets cached ignore files (one of them changed). */
  forgetIgnoreFiles(): void {
    this.ignores.clear();
  }

  private ignoreFile(file: string): Ignore | null {
    let ig = this.ignores.get(file);
    if (ig === undefined) {
      const read = readBounded(file, MAX_FILE_BYTES);
      ig = read.ok ? ignore().add(read.bytes.toString('utf8')) : null;
      this.ignores.set(file, ig);
    }
    return ig;
  }

  /** Whether collect lists this root with git (a work tree it does not ignore) or walks it. */
  private isGit(root: Root): Promise<boolean> {
    root.git ??= (async () => {
      const top = await git(root.dir, ['rev-parse', '--is-inside-work-tree']);
      if (top.code !== 0 || top.stdout.trim() !== 'true') return false;
      return (await git(root.dir, ['check-ignore', '-q', '.'])).code !== 0;
    })();
    return root.git;
  }

  /** What a walk skips on the way down to `rel`: ignored by a .gitignore above it, or under .git. */
  private walkIgnored(root: Root, rel: string): boolean {
    const parts = rel.split('/');
    const rules: { base: string; ig: Ignore }[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] === '.git') return true;
      const dir = parts.slice(0, i).join('/');
      const gi = this.ignoreFile(path.join(root.dir, dir, '.gitignore'));
      if (gi) rules.push({ base: dir, ig: gi });
      const entry = parts.slice(0, i + 1).join('/');
      const isDir = i < parts.length - 1;
      if (rules.some(({ base, ig }) => ig.ignores(path.posix.relative(base, entry) + (isDir ? '/' : '')))) return true;
    }
    return false;
  }

  /**
   * What collection would make of each path now: the file (its text redacted) or why it is
   * skipped. Paths outside every root are skipped as such.
   */
  async admit(paths: readonly string[]): Promise<Map<string, Admission & { shown?: string }>> {
    const out = new Map<string, Admission & { shown?: string }>();
    const byRoot = new Map<Root, { abs: string; rel: string; shown: string }[]>();
    for (const abs of paths) {
      const at = this.locate(abs);
      if (!at) {
        out.set(abs, { skip: 'outside-root' });
        continue;
      }
      const { root, rel, shown } = at;
      const skip = (reason: string): void => void out.set(abs, { skip: reason, shown });
      if (isSecretFile(rel)) skip('secret');
      else if (!root.document && this.exclude?.(rel)) skip('excluded');
      else if (!root.document && this.include && !this.include(rel)) skip('not-included');
      else if (!root.document && this.ignoreFile(path.join(root.dir, '.liftignore'))?.ignores(rel)) skip('liftignore');
      else byRoot.set(root, [...(byRoot.get(root) ?? []), { abs: path.resolve(abs), rel, shown }]);
    }
    for (const [root, list] of byRoot) {
      let keep = list;
      if (!root.document) {
        if (await this.isGit(root)) {
          // git's own answer, one process for the batch (tracked files are never ignored)
          const r = await git(root.dir, ['check-ignore', '-z', '--stdin'], `${list.map((x) => x.rel).join('\0')}\0`);
          const ignored = new Set(r.code === 0 ? r.stdout.split('\0').filter(Boolean) : []);
          keep = list.filter((x) => !ignored.has(x.rel) || void out.set(x.abs, { skip: 'git-ignored', shown: x.shown }));
        } else {
          keep = list.filter((x) => !this.walkIgnored(root, x.rel) || void out.set(x.abs, { skip: 'ignored', shown: x.shown }));
        }
      }
      for (const x of keep) {
        // no link on the way: a walk does not follow one, git lists the link itself
        const real = realpathOrUndefined(x.abs);
        if (!real) {
          out.set(x.abs, { skip: 'unreadable', shown: x.shown });
          continue;
        }
        if (real !== path.join(root.real, x.rel.split('/').join(path.sep))) {
          out.set(x.abs, { skip: 'symlink', shown: x.shown });
          continue;
        }
        // collect's checks of the file itself and its redaction, as for one document
        try {
          const { files, report } = await collect([x.abs]);
          const f = files[0];
          out.set(x.abs, f ? { file: { ...f, root: root.dir, path: x.shown }, shown: x.shown } : { skip: report.skipped[0]?.reason ?? 'unreadable', shown: x.shown });
        } catch {
          out.set(x.abs, { skip: 'unreadable', shown: x.shown });
        }
      }
    }
    return out;
  }

  /**
   * A file's text as collection reads it now (redacted), by its absolute path: what an answer
   * quotes from an indexed file. Undefined when collection would skip it now.
   */
  async read(abs: string): Promise<CorpusFile | undefined> {
    const at = this.locate(abs);
    if (!at) return undefined;
    try {
      const f = (await collect([abs])).files[0];
      return f && { ...f, root: at.root.dir, path: at.shown };
    } catch {
      return undefined;
    }
  }

  /** Files under a folder, as a walk finds them (links not followed, .git left out), at most `max`; undefined beyond that. */
  listUnder(dir: string, max: number): string[] | undefined {
    const out: string[] = [];
    const stack = [path.resolve(dir)];
    while (stack.length) {
      const d = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (e.name === '.git') continue;
        const p = path.join(d, e.name);
        if (e.isDirectory()) stack.push(p);
        else if (e.isFile()) {
          out.push(p);
          if (out.length > max) return undefined;
        }
      }
    }
    return out;
  }

  /** Whether a path is an ignore file whose change may change what is collected anywhere below it. */
  static isIgnoreFile(abs: string): boolean {
    const base = path.basename(abs);
    return base === '.gitignore' || base === '.liftignore';
  }
}
