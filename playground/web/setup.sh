#!/usr/bin/env bash
# Installs what the playground's browser test (TestPlaygroundInBrowser)
# needs, when it is missing: Debian's Chromium and this folder's npm
# packages (playwright-core drives the browser). Idempotent: a second run
# changes nothing. test.sh calls it; CI runs it as root on a clean clone.
set -euo pipefail
cd "$(dirname "$0")"

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup.sh: installing chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "setup.sh: $chromium is missing; the browser test will skip. Install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
  fi
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup.sh: Node.js (20 or later) and npm are missing; the browser test will skip." >&2
  exit 0
fi

# node_modules is stale when package-lock.json changed since the last
# install; npm ci records the lock it installed in .package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ ! -f node_modules/playwright-core/package.json ]; then
  echo "setup.sh: npm ci in playground/web"
  # A registry connection can stall without ever timing out; bound each
  # attempt and try once more.
  ci() { timeout 300 npm ci --no-audit --no-fund --loglevel=error --fetch-timeout=60000; }
  ci || { echo "setup.sh: npm ci failed or stalled; retrying" >&2; rm -rf node_modules; ci; }
fi
