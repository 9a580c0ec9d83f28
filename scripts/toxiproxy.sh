#!/usr/bin/env bash
# scripts/toxiproxy.sh — Shopify's toxiproxy, the TCP proxy the fault tests
# put between kwire and the brokers (tests/faults.rs drives it over its HTTP
# API: latency, bandwidth, black holes, resets, slow close, one broker cut off).
#
#   scripts/toxiproxy.sh install          build toxiproxy-server from the Go module
#                                         proxy into $KWIRE_CACHE (idempotent)
#   scripts/toxiproxy.sh start --port P   start a server with its API on 127.0.0.1:P
#                                         (no-op if one answers there); prints its pid
#   scripts/toxiproxy.sh stop --port P    stop the server started on P
#   scripts/toxiproxy.sh path             print the server binary's path
#
# Environment: KWIRE_CACHE (~/.cache/kwire), KWIRE_RUN_DIR ($KWIRE_CACHE/run),
# KWIRE_TOXIPROXY_VERSION (v2.5.0: the newest the Go module proxy serves here).
set -euo pipefail

CACHE=${KWIRE_CACHE:-$HOME/.cache/kwire}
RUN_ROOT=${KWIRE_RUN_DIR:-$CACHE/run}
VERSION=${KWIRE_TOXIPROXY_VERSION:-v2.5.0}
BIN_DIR=$CACHE/toxiproxy-$VERSION
BIN=$BIN_DIR/toxiproxy-server

log() { echo "toxiproxy.sh: $*" >&2; }
die() { log "$@"; exit 1; }

install() {
  [[ -x $BIN ]] && return 0
  command -v go >/dev/null || die "go not found: the fault tests build toxiproxy with Go (https://go.dev/dl)"
  mkdir -p "$BIN_DIR"
  local tmp
  tmp=$(mktemp -d)
  log "building toxiproxy $VERSION (github.com/Shopify/toxiproxy/v2/cmd/server)"
  if ! (cd "$tmp" && GOBIN=$tmp/bin GOFLAGS=-mod=mod go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION") >"$tmp/build.log" 2>&1; then
    tail -n 20 "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "building toxiproxy $VERSION failed"
  fi
  mv "$tmp/bin/server" "$BIN"
  rm -rf "$tmp"
}

answers() { curl -fsS --max-time 1 "http://127.0.0.1:$1/version" >/dev/null 2>&1; }

start() {
  local port=$1 dir=$RUN_ROOT/toxiproxy-$1 i
  if answers "$port"; then
    log "a toxiproxy already answers on 127.0.0.1:$port"
    return 0
  fi
  install
  mkdir -p "$dir"
  setsid "$BIN" -host 127.0.0.1 -port "$port" >"$dir/server.log" 2>&1 < /dev/null &
  echo $! >"$dir/pid"
  for ((i = 0; i < 100; i++)); do
    if answers "$port"; then
      log "toxiproxy $VERSION up on 127.0.0.1:$port (pid $(cat "$dir/pid"), log $dir/server.log)"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -n 20 "$dir/server.log" >&2; die "toxiproxy exited"; }
    sleep 0.1
  done
  die "toxiproxy did not answer on 127.0.0.1:$port within 10 s (log $dir/server.log)"
}

stop() {
  local dir=$RUN_ROOT/toxiproxy-$1 pid
  pid=$(cat "$dir/pid" 2>/dev/null) || { log "no toxiproxy started on port $1"; return 0; }
  if [[ $(ps -o comm= -p "$pid" 2>/dev/null) == toxiproxy-serv* ]]; then kill "$pid"; fi
  rm -f "$dir/pid"
}

cmd=${1:-}
(($#)) && shift
port=''
while (($#)); do
  case $1 in
    --port) port=${2:?--port needs a value}; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
case $cmd in
  install) install; echo "$BIN" ;;
  path) echo "$BIN" ;;
  start) [[ $port =~ ^[0-9]+$ ]] || die "start needs --port P"; start "$port" ;;
  stop) [[ $port =~ ^[0-9]+$ ]] || die "stop needs --port P"; stop "$port" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
