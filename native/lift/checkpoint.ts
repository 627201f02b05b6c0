/**
 * Learning checkpoints: a learn interrupted (a crash, a kill, a reboot, a closed editor) resumes
 * from its last checkpoint instead of starting over. One safetensors file beside the adapter's
 * folder holds every trained parameter and optimizer moment; its metadata holds the step, the
 * losses so far, the loss scaler, the passes, and a fingerprint of everything that decides the
 * next steps (the plan's samples in order, the settings, the starting adapter). It is written
 * atomically (a temporary file, fsync, rename) and checked on reading (format, fingerprint, a
 * digest of the tensors): a damaged or foreign checkpoint is discarded with a message, never used.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../model/safetensors';
import type { RunnerState } from '../runtime/session';

const FORMAT = 'lift-learn-checkpoint/1';
const SUFFIX = '.checkpoint.safetensors';

/** Where learning into `adapterDir` keeps its checkpoint: a hidden file beside the folder. */
export function checkpointFile(adapterDir: string): string {
  return path.join(path.dirname(adapterDir), `.${path.basename(adapterDir)}${SUFFIX}`);
}

export interface LearnCheckpoint {
  /** Steps of the plan done (the next step's index). */
  step: number;
  losses: number[];
  /** The passes of each stage (the budget's choice, kept so a resumed run plans the same steps). */
  passes: number[];
  /** `samplesDigest` of the stages: a resumed learn keeps `passes` only for the same samples. */
  samples: string;
  fingerprint: string;
  state: RunnerState;
  savedAt: string;
}

/** sha256 over the tensors' names, shapes and values, in name order. */
function digest(tensors: RunnerState['tensors']): string {
  const h = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    h.update(`${name}:${t.shape.join('x')};`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

export function writeCheckpoint(file: string, c: LearnCheckpoint): void {
  const tensors = Object.fromEntries(Object.entries(c.state.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) }]));
  const s = c.state;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeSafetensors(file, tensors, {
    format: FORMAT,
    step: String(c.step),
    losses: JSON.stringify(c.losses),
    passes: JSON.stringify(c.passes),
    samples: c.samples,
    fingerprint: c.fingerprint,
    runner: JSON.stringify({ steps: s.steps, scale: s.scale, goodSteps: s.goodSteps, skipped: s.skipped }),
    savedAt: c.savedAt,
    digest: digest(tensors),
  });
}

export type ReadCheckpoint = { checkpoint: LearnCheckpoint } | { discarded: string } | undefined;

/**
 * The checkpoint in `file`: undefined when there is none; `discarded` (and the file removed) when
 * it is damaged or, given `fingerprint`, was written by a different run.
 */
export function readCheckpoint(file: string, fingerprint?: string): ReadCheckpoint {
  if (!fs.existsSync(file)) return undefined;
  const discard = (why: string): ReadCheckpoint => {
    removeCheckpoint(file);
    return { discarded: why };
  };
  let c: LearnCheckpoint;
  try {
    const f = SafetensorsFile.open(file);
    const m = f.metadata;
    if (m.format !== FORMAT) return discard(`not a learning checkpoint of this version (${JSON.stringify(m.format ?? null)})`);
    const tensors: RunnerState['tensors'] = {};
    for (const name of f.tensors.keys()) tensors[name] = f.readFloat32(name);
    if (digest(tensors) !== m.digest) return discard('its values do not match their digest (damaged)');
    const runner = JSON.parse(m.runner!) as Omit<RunnerState, 'tensors'>;
    c = { step: Number(m.step), losses: JSON.parse(m.losses!), passes: JSON.parse(m.passes!), samples: m.samples ?? '', fingerprint: m.fingerprint!, savedAt: m.savedAt!, state: { ...runner, tensors } };
    if (!Number.isInteger(c.step) || c.step < 0 || !Array.isArray(c.losses) || c.losses.length !== c.step || !Array.isArray(c.passes)) return discard('its record is inconsistent (damaged)');
  } catch (err) {
    return discard(`it cannot be read (${(err as Error).message})`);
  }
  return fingerprint === undefined ? { checkpoint: c } : fitCheckpoint({ checkpoint: c }, file, fingerprint);
}

/** A checkpoint already read (`found`), discarded (the file removed) when written by a run with another fingerprint. */
export function fitCheckpoint(found: ReadCheckpoint, file: string, fingerprint: string): ReadCheckpoint {
  if (!found || !('checkpoint' in found) || found.checkpoint.fingerprint === fingerprint) return found;
  removeCheckpoint(file);
  return { discarded: 'it was written for other samples or settings' };
}

export function removeCheckpoint(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Removes every checkpoint in `dir` (after a learn there completed: older ones are of inputs that changed). */
export function removeCheckpoints(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('.') && (n.endsWith(SUFFIX) || n.includes(`${SUFFIX}.tmp-`))) fs.rmSync(path.join(dir, n), { force: true });
}

/** sha256 over each stage's samples (ids and mask), whatever the passes: which samples a learn trains. */
export function samplesDigest(stages: readonly { samples: readonly { input: readonly number[]; mask: readonly number[] }[] }[]): string {
  const h = createHash('sha256');
  for (const st of stages) {
    h.update('|');
    for (const s of st.samples) {
      h.update(Int32Array.from(s.input));
      h.update(Float32Array.from(s.mask));
    }
  }
  return h.digest('hex');
}

/** A fingerprint of the plan and the settings: equal exactly when the next steps would be the same. */
export function planFingerprint(steps: readonly (readonly (readonly { input: readonly number[]; mask: readonly number[] }[])[])[], settings: object, initial?: Record<string, Float32Array>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(settings));
  for (const rows of steps) {
    h.update('|');
    for (const row of rows) {
      h.update('/');
      for (const s of row) {
        h.update(Int32Array.from(s.input));
        h.update(Float32Array.from(s.mask));
      }
    }
  }
  if (initial) for (const k of Object.keys(initial).sort()) h.update(new Uint8Array(initial[k]!.buffer, initial[k]!.byteOffset, initial[k]!.byteLength));
  return h.digest('hex');
}
