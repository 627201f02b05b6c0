#!/usr/bin/env node
/** Bundle entry of the trainer process (dist/trainer.js). */
// first: the parent's pid before anything else loads (see startup.ts)
import './startup';
import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lift: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
