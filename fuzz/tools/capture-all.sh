#!/usr/bin/env bash
# fuzz/tools/capture-all.sh — refresh the real-broker part of the `response`
# seed corpus: runs kwire commands covering every API kwire speaks (admin,
# produce with each codec, consume, classic and KIP-848 groups) through
# fuzz/tools/capture.py in front of a real broker.
#
#   fuzz/tools/capture-all.sh BROKER_HOST:PORT [KWIRE_BINARY]
#
# Start a broker first, e.g. `scripts/kafka.sh start --name fuzzcap --port 49092`.
# Writes fuzz/corpus/response/<api>-v<version>-<hash> (12 per API version at
# most, frames up to 64 KiB).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BROKER=${1:?usage: capture-all.sh BROKER_HOST:PORT [KWIRE_BINARY]}
KWIRE=${2:-$ROOT/target/debug/kwire}
LISTEN=127.0.0.1:${CAPTURE_PORT:-19099}
OUT=$ROOT/fuzz/corpus/response

python3 "$ROOT/fuzz/tools/capture.py" --broker "$BROKER" --listen "$LISTEN" --out "$OUT" &
cap=$!
trap 'kill -TERM "$cap" 2>/dev/null || true; wait "$cap" 2>/dev/null || true' EXIT
sleep 1

k() { "$KWIRE" -b "$LISTEN" "$@"; }
t=fuzzcap-$$
k cluster >/dev/null
k topics create "$t" --partitions 3 >/dev/null
k topics list >/dev/null
k topics describe "$t" >/dev/null
k topics configs "$t" --set retention.ms=3600000 >/dev/null || true
k topics configs "$t" >/dev/null || true
k topics alter "$t" --partitions 4 >/dev/null || true
for codec in none gzip snappy lz4 zstd; do
  seq 1 50 | sed "s/^/{\"codec\":\"$codec\",\"n\":/; s/$/}/" |
    k produce -t "$t" --compression "$codec" >/dev/null
done
k consume -t "$t" --from-beginning -e >/dev/null
k consume -t "$t" --from-beginning --max-messages 20 -g "$t-g" >/dev/null
k -X group.protocol=consumer consume -t "$t" --from-beginning --max-messages 5 -g "$t-g2" >/dev/null || true
k groups list >/dev/null
k groups describe "$t-g" >/dev/null || true
k groups describe "$t-g2" >/dev/null || true
k groups reset-offsets "$t-g" --topic "$t" --to-earliest --execute >/dev/null || true
k groups delete-offsets "$t-g" --topic "$t" >/dev/null || true
k groups delete "$t-g" >/dev/null || true
k topics delete "$t" >/dev/null
echo "capture-all: done" >&2
