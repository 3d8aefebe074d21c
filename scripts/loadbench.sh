#!/usr/bin/env bash
# Measures the gateway alone: builds Stacker, runs the demo services in a
# process of their own, the gateway in another (with its debug listener so
# the load command can read its CPU time and peak memory), then the load
# command against it. Everything listens on loopback and is stopped at exit.
#
#   scripts/loadbench.sh [-latency 5ms] [load flags...]
#   scripts/loadbench.sh -latency 5ms -c 1 -d 10s -runs 3
#   scripts/loadbench.sh -c 32 -d 10s -runs 3
#   scripts/loadbench.sh -latency 5ms -floor
#
# -floor measures the floor under the gateway's latency instead: the case
# board's eight upstream calls, level by level through the loaders, with no
# GraphQL and no gateway (BenchmarkCaseBoardCalls in loaders/).
#
# Extra environment for the gateway (GOGC, STACKER_LOADER_WAIT, ...) is
# passed through as usual. STACKER_BIN=/path/to/stacker measures that build
# instead of building this tree (for before/after comparisons).
set -euo pipefail
cd "$(dirname "$0")/.."

latency=0ms
if [ "${1:-}" = "-latency" ]; then latency=$2; shift 2; fi
floor=false
if [ "${1:-}" = "-floor" ]; then floor=true; shift; fi

tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

if [ -n "${STACKER_BIN:-}" ]; then cp "$STACKER_BIN" "$tmp/stacker"; else go build -o "$tmp/stacker" .; fi

STACKER_DEMO_LATENCY=$latency "$tmp/stacker" demo >"$tmp/demo.env" 2>"$tmp/demo.log" &
pids+=($!)
for _ in $(seq 100); do grep -q STACKER_DEMO_STATS_URL "$tmp/demo.env" && break; sleep 0.05; done
stats_url=$(grep STACKER_DEMO_STATS_URL "$tmp/demo.env" | cut -d= -f2)

if $floor; then
  echo "demo latency $latency; the case board's upstream calls alone"
  env $(grep '_URL=' "$tmp/demo.env" | grep -v STATS) \
    go test -run '^$' -bench CaseBoardCalls -benchtime 300x -count "${FLOOR_COUNT:-3}" ./loaders
  exit
fi

gw_port=${STACKER_BENCH_PORT:-18080}
debug_port=${STACKER_BENCH_DEBUG_PORT:-16060}
env $(grep '_URL=' "$tmp/demo.env" | grep -v STATS) \
  STACKER_ADDR=127.0.0.1:$gw_port STACKER_DEBUG_ADDR=127.0.0.1:$debug_port STACKER_LOG_LEVEL=warn \
  "$tmp/stacker" >"$tmp/gw.out" 2>"$tmp/gw.log" &
pids+=($!)
for _ in $(seq 100); do grep -q GraphQL "$tmp/gw.out" 2>/dev/null && break; sleep 0.05; done

echo "demo latency $latency; gateway on 127.0.0.1:$gw_port"
"$tmp/stacker" load -url "http://127.0.0.1:$gw_port/graphql" \
  -stacker-stats "http://127.0.0.1:$debug_port/debug/stats" -demo-stats "$stats_url" "$@"
