#!/usr/bin/env bash
# The one test command: prepares what the tests need on this machine, then
# runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"

# Go is the only requirement so far; the machine's Go is used as it is.
command -v go >/dev/null || { echo "test.sh: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }

go test -race -count=1 -timeout 20m ./...
