/**
 * Where the bundled default model is: `native/default-model`, found from the trainer bundle
 * (`dist/trainer.js`) and from the sources alike. Undefined when it is not there (a checkout
 * before the model was trained, or a package built without it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function defaultModelDir(from = __dirname): string | undefined {
  const candidates = [path.join(from, '..', 'native', 'default-model'), path.join(from, '..', 'default-model')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'config.json')) && fs.existsSync(path.join(d, 'model.safetensors')));
}
