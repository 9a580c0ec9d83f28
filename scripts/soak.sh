#!/usr/bin/env bash
# scripts/soak.sh — kwire under faults for a while (issue 21): an idempotent
# producer and a 3-member group through toxiproxy in front of a 3-node cluster,
# with latency, resets, a broker cut off or black-holed, and broker kills and
# restarts injected at random; then checks that nothing acknowledged was lost,
# nothing doubled or reordered in the log, the group read everything, and the
# kwire processes' RSS and descriptors stayed flat (scripts/soak.py has the
# details).
#
#   scripts/soak.sh [--minutes M] [--rate R] [--seed S] [--cluster NAME --toxiproxy HOST:PORT]
#
#   --minutes M   how long to run (default 30; CI runs a 2-minute slice)
#   --rate R      records per second (default 500)
#   --cluster N / --toxiproxy A   use a running 3-node `kafka.sh start --proxied`
#                 cluster and toxiproxy (scripts/test.sh passes its own); without
#                 them this script starts both (name kwire-soak, ports 28500-28502,
#                 proxied 28550-28562, toxiproxy API 28950) and stops them after
# Outputs (samples.csv, result.json, the processes' logs) go to a temp dir,
# printed at the end. Exit 0 when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINUTES=30 RATE=500 SEED=$(date +%s) CLUSTER='' TOXI=''
while (($#)); do
  case $1 in
    --minutes) MINUTES=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --cluster) CLUSTER=${2:?}; shift 2 ;;
    --toxiproxy) TOXI=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
KWIRE=${KWIRE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/kwire}
[[ -x $KWIRE ]] || (cd "$ROOT" && cargo build -q -p kwire-cli)
started_cluster='' started_toxi=''
cleanup() {
  if [[ -n $started_cluster ]]; then "$ROOT/scripts/kafka.sh" stop --name "$started_cluster" >&2 || true; fi
  if [[ -n $started_toxi ]]; then "$ROOT/scripts/toxiproxy.sh" stop --port "$started_toxi" >&2 || true; fi
}
trap cleanup EXIT
if [[ -z $CLUSTER ]]; then
  CLUSTER=kwire-soak
  "$ROOT/scripts/kafka.sh" status --name "$CLUSTER" >/dev/null 2>&1 || started_cluster=$CLUSTER
  "$ROOT/scripts/kafka.sh" start --name "$CLUSTER" --nodes 3 --port 28500 --proxied >&2
fi
if [[ -z $TOXI ]]; then
  TOXI=127.0.0.1:28950
  curl -fsS --max-time 1 "http://$TOXI/version" >/dev/null 2>&1 || started_toxi=28950
  "$ROOT/scripts/toxiproxy.sh" start --port 28950 >&2
fi
WORK=$(mktemp -d /tmp/kwire-soak.XXXXXX)
python3 "$ROOT/scripts/soak.py" --minutes "$MINUTES" --rate "$RATE" --seed "$SEED" --cluster "$CLUSTER" \
  --toxiproxy "$TOXI" --kwire "$KWIRE" --work "$WORK"
