#!/usr/bin/env bash
# The one test command: prepares what the tests need on this machine (a
# Redis, a NATS, Prometheus, haproxy, the npm packages of the real clients, Debian's
# chromium), then runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"

log() { echo "test.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else log "need root for: $*"; return 1; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

command -v go >/dev/null || { log "Go is not installed (https://go.dev/doc/install)"; exit 1; }

# Redis: the persisted-query tests share one between two gateways.
if ! answers 6379; then
  command -v redis-server >/dev/null || { log "installing redis-server"; apt_install redis-server; }
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 50); do answers 6379 && break; sleep 0.1; done
fi

# NATS: the event bus of the subscription and cross-replica tests.
if ! answers 4222; then
  command -v nats-server >/dev/null || { log "installing nats-server"; apt_install nats-server; }
  log "starting nats-server on 127.0.0.1:4222"
  nohup "$(command -v nats-server)" -a 127.0.0.1 -p 4222 >/tmp/stacker-nats.log 2>&1 &
  for _ in $(seq 50); do answers 4222 && break; sleep 0.1; done
fi

# Prometheus and promtool (Debian's prometheus package): the metrics tests
# have a real Prometheus scrape a gateway, and promtool check its output.
command -v prometheus >/dev/null && command -v promtool >/dev/null || { log "installing prometheus"; apt_install prometheus; }

# haproxy (Debian's): the rolling restart rehearsal puts three replicas
# behind it. Only the binary is used; the system service is never started.
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { log "installing haproxy"; apt_install haproxy; }

# Node and the real clients' npm packages (pinned by package-lock.json).
command -v node >/dev/null || { log "installing nodejs and npm"; apt_install nodejs npm; }
for dir in e2e; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

# Debian's chromium and the playground's npm packages, for the browser test.
bash playground/web/setup.sh
# The browser test's screenshot goes here (tmp/ is ignored by git; CI keeps it).
export STACKER_SCREENSHOT_DIR="${STACKER_SCREENSHOT_DIR:-$PWD/tmp/screenshots}"

go test -race -count=1 -timeout 20m ./...
# deploy/ is a module of its own (the Kubernetes and kustomize modules stay
# out of the gateway's go.mod), which ./... does not enter.
(cd deploy && go test -count=1 -timeout 15m ./...)
