/** The reliability suite's big tree: 100 folders of 1000 source files of ≈ 4 KB each (400 MB). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const BIG_TREE_FILES = 100_000;

/** Writes the tree under `root`; returns its bytes. */
export function bigTree(root: string): number {
  let bytes = 0;
  for (let d = 0; d < BIG_TREE_FILES / 1000; d++) {
    const dir = path.join(root, `pkg${d}`, 'src');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 1000; f++) {
      const body = `// module ${d}/${f}\nexport function handler${f}(input: number): number {\n${`  input = input * ${f + 3} + ${d}; // step\n`.repeat(112)}  return input;\n}\n`;
      fs.writeFileSync(path.join(dir, `m${f}.ts`), body);
      bytes += body.length;
    }
  }
  return bytes;
}
