#!/usr/bin/env bash
# scripts/push-voters.sh [COUNT] — the guide's pushKafkaData.sh: generate voter
# JSON ({"gender":…,"age":…,"party":…}) and produce it to topic `voters` with
# acks=all. Creates `voters` (1 partition, as in the guide) if it is missing.
#
# Environment: KWIRE_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), KWIRE (path
# of the kwire binary; default: build and use target/release/kwire),
# VOTERS_SEED (default 42), VOTERS_TOPIC (default voters).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${1:-1000}
[[ $COUNT =~ ^[0-9]+$ ]] || { echo "usage: scripts/push-voters.sh [COUNT]" >&2; exit 2; }
TOPIC=${VOTERS_TOPIC:-voters}
if [[ -z ${KWIRE:-} ]]; then
  (cd "$ROOT" && cargo build --release -q -p kwire-cli)
  KWIRE="${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire"
fi
"$KWIRE" topics create "$TOPIC" --partitions 1 --replication-factor 1 --if-not-exists
"$KWIRE" gen voters --count "$COUNT" --seed "${VOTERS_SEED:-42}" |
  "$KWIRE" produce -t "$TOPIC" --acks all
echo "pushed $COUNT voters to '$TOPIC'" >&2
