/** The PyTorch peers of the bench suites: a script beside this folder's sources, run by Debian's python3. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The python and the peer script to run, or why the peer is skipped. `LIFT_PEER_PYTHON` names another python (a GPU machine's, with CUDA PyTorch). */
export function pythonPeer(scriptName: string, modules = 'torch'): { python: string; script: string } | string {
  const script = path.join(__dirname, '..', 'native', 'bench', scriptName);
  const python = process.env.LIFT_PEER_PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  if (!fs.existsSync(script)) return `skipped: ${scriptName} not found (run from the repository)`;
  try {
    execFileSync(python, ['-c', `import ${modules}`], { stdio: 'ignore' });
  } catch {
    return 'skipped: PyTorch is not installed (Debian: apt-get install python3-torch libopenblas0-pthread)';
  }
  return { python, script };
}
