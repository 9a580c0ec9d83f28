#!/usr/bin/env bash
# scripts/demo.sh — the README's main job: the guide's Kafka + PySpark workflow,
# done with kwire against a real local Apache Kafka broker.
#
# Starts a single-node broker on 127.0.0.1:9092 unless one already answers
# there, runs each step of the guide with kwire, and stops the broker again if
# it started it (pass --keep to leave it running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
BOOT=${KWIRE_DEMO_BOOTSTRAP:-127.0.0.1:9092}
NAME=kwire-demo

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

echo "==> building kwire (release)"
cargo build --release -q -p kwire-cli
KWIRE="${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire"
kwire() { "$KWIRE" "$@"; }
export -f kwire 2>/dev/null || true

started=0
if ! python3 "$ROOT/scripts/kafka/probe.py" "$BOOT" >/dev/null 2>&1; then
  echo "==> no broker at $BOOT: starting one (scripts/kafka.sh start --name $NAME)"
  scripts/kafka.sh start --name "$NAME" --port "${BOOT##*:}"
  started=1
fi
cleanup() {
  if [[ $started == 1 && $KEEP == 0 ]]; then
    echo
    echo "==> stopping the broker this demo started"
    scripts/kafka.sh stop --name "$NAME"
  fi
}
trap cleanup EXIT

echo
echo "==> the cluster"
run kwire -b "$BOOT" cluster
