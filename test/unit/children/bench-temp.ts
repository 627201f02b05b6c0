// Child of test/unit/bench-temp.test.ts: makes two bench temp folders, prints them, then waits to be stopped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchTempDir } from '../../../native/bench/temp';

const dirs = [benchTempDir('lift-bench-test-'), benchTempDir('lift-bench-test-')];
fs.writeFileSync(path.join(dirs[0]!, 'adapter.bin'), Buffer.alloc(1024));
process.stdout.write(`${JSON.stringify(dirs)}\n`);
setInterval(() => undefined, 1000);
