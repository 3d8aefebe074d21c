#!/usr/bin/env bash
# The rolling restart rehearsal (docs/operating.md): builds Stacker and runs
# `stacker rehearse`, which starts the demo services, three gateway
# replicas sharing Redis and NATS, and haproxy in front of them (all on
# loopback, all its own processes, stopped at exit), puts case boards,
# mutations and reconnecting graphql-ws subscribers through haproxy,
# restarts the replicas one by one and prints what the clients saw. The
# exit status is 1 when a query or mutation failed, a subscriber did not
# come back or an event after resubscription was missed.
#
#   scripts/rehearse.sh                      # 3 replicas, 2+2 workers, 6 subscribers
#   scripts/rehearse.sh -replicas 4 -subscribers 30 -warmup 10s -settle 10s
#   scripts/rehearse.sh -h                   # every flag
#
# Needs haproxy (apt-get install haproxy; the system service is not used),
# Redis on 127.0.0.1:6379 and NATS on 127.0.0.1:4222 (./test.sh starts
# both when they are missing). Process logs stay in the directory printed
# first (or -dir).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v haproxy >/dev/null || PATH=$PATH:/usr/sbin
command -v haproxy >/dev/null || { echo "rehearse.sh: haproxy is not installed (apt-get install haproxy)" >&2; exit 1; }
bin=$(mktemp -d)/stacker
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" .
"$bin" rehearse "$@"
