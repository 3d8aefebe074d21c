#!/usr/bin/env bash
# Measures the gateway alone: builds Stacker, runs the demo services in a
# process of their own, the gateway in another (with its debug listener so
# the load command can read its CPU time and peak memory), then the load
# command against it. Everything listens on loopback and is stopped at exit.
#
#   scripts/loadbench.sh [-latency 5ms] [-floor | -compare] [load flags...]
#   scripts/loadbench.sh -latency 5ms -c 1 -d 10s -runs 3
#   scripts/loadbench.sh -c 32 -d 10s -runs 3
#   scripts/loadbench.sh -floor -latency 5ms -c 1 -d 10s -runs 3
#   scripts/loadbench.sh -compare -c 32 -d 10s -runs 5
#
# -floor measures `stacker floor` instead of the gateway: the case board's
# calls and answer, hand-written, with no GraphQL (package floor). -compare
# runs both against the same demo services and measures them in turn,
# floor first, then prints each figure's median for both and the gateway's
# over the floor's.
#
# Extra environment for the gateway (GOGC, STACKER_LOADER_WAIT, ...) is
# passed through as usual (to the floor too). STACKER_BIN=/path/to/stacker
# measures that build as the gateway instead of this tree's (for
# before/after comparisons); the demo services, the floor and the load
# command always come from this tree, so both sides are measured with the
# same instruments.
set -euo pipefail
cd "$(dirname "$0")/.."

latency=0ms
mode=gateway
while [ $# -gt 0 ]; do
  case "$1" in
    -latency) latency=$2; shift 2 ;;
    -floor) mode=floor; shift ;;
    -compare) mode=compare; shift ;;
    *) break ;;
  esac
done

tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/stacker" .
gateway_bin=$tmp/stacker
if [ -n "${STACKER_BIN:-}" ]; then cp "$STACKER_BIN" "$tmp/gateway"; gateway_bin=$tmp/gateway; fi

STACKER_DEMO_LATENCY=$latency "$tmp/stacker" demo >"$tmp/demo.env" 2>"$tmp/demo.log" &
pids+=($!)
for _ in $(seq 100); do grep -q STACKER_DEMO_STATS_URL "$tmp/demo.env" && break; sleep 0.05; done
stats_url=$(grep STACKER_DEMO_STATS_URL "$tmp/demo.env" | cut -d= -f2)
service_env=$(grep '_URL=' "$tmp/demo.env" | grep -v STATS)

# start NAME PORT DEBUG_PORT COMMAND...: runs a server in front of the demo
# services and waits until it prints its /graphql URL.
start() {
  local name=$1 port=$2 debug_port=$3
  shift 3
  # shellcheck disable=SC2086 # one variable per word
  env $service_env \
    STACKER_ADDR=127.0.0.1:$port STACKER_DEBUG_ADDR=127.0.0.1:$debug_port STACKER_LOG_LEVEL=warn \
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q /graphql "$tmp/$name.out" 2>/dev/null && return; sleep 0.05; done
  echo "$name did not start:" >&2; cat "$tmp/$name.log" >&2; exit 1
}

gw_port=${STACKER_BENCH_PORT:-18080}
debug_port=${STACKER_BENCH_DEBUG_PORT:-16060}
floor_port=${STACKER_BENCH_FLOOR_PORT:-18081}
floor_debug_port=${STACKER_BENCH_FLOOR_DEBUG_PORT:-16061}
gateway=(-url "http://127.0.0.1:$gw_port/graphql" -stacker-stats "http://127.0.0.1:$debug_port/debug/stats")
floor=(-url "http://127.0.0.1:$floor_port/graphql" -stacker-stats "http://127.0.0.1:$floor_debug_port/debug/stats")

case $mode in
  gateway)
    start gateway "$gw_port" "$debug_port" "$gateway_bin" serve
    echo "demo latency $latency; gateway on 127.0.0.1:$gw_port"
    load=("${gateway[@]}") ;;
  floor)
    start floor "$floor_port" "$floor_debug_port" "$tmp/stacker" floor
    echo "demo latency $latency; the floor (no gateway) on 127.0.0.1:$floor_port"
    load=("${floor[@]}" -name floor) ;;
  compare)
    start gateway "$gw_port" "$debug_port" "$gateway_bin" serve
    start floor "$floor_port" "$floor_debug_port" "$tmp/stacker" floor
    echo "demo latency $latency; gateway on 127.0.0.1:$gw_port and the floor on 127.0.0.1:$floor_port, in turn"
    load=("${gateway[@]}" -floor-url "${floor[1]}" -floor-stats "${floor[3]}") ;;
esac
"$tmp/stacker" load "${load[@]}" -demo-stats "$stats_url" "$@"
