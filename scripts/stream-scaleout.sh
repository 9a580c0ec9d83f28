#!/usr/bin/env bash
# The acceptance runs of `kwire stream --application-id` (issue: stream
# scale-out), longer than the test suite's: the grouped count over
# 1,000,000 voters (with malformed and mistyped records) on 3-4 instances
# with exactly_once_v2 — one killed with SIGKILL and restarted, one added, one
# stopped — compared with the counts the test computes, RUNS times in a row;
# then the same on the 3-node cluster with a broker killed, the
# at_least_once run and the windowed two-instance run.
#
#   scripts/stream-scaleout.sh [--runs N] [--records N]
#
# Brokers: the test brokers of scripts/test.sh (kwire-test-1 on 29092,
# kwire-test-3 on 29292-29294), started here if they are not running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=5
RECORDS=1000000
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--records N]" >&2; exit 2 ;;
  esac
done
KAFKA=scripts/kafka.sh
"$KAFKA" status --name kwire-test-1 >/dev/null 2>&1 || "$KAFKA" start --name kwire-test-1 --nodes 1 --port 29092 >&2
"$KAFKA" status --name kwire-test-3 >/dev/null 2>&1 || "$KAFKA" start --name kwire-test-3 --nodes 3 --port 29292 >&2
export KWIRE_TEST_BOOTSTRAP=127.0.0.1:29092
export KWIRE_TEST_BOOTSTRAP_3=127.0.0.1:29292,127.0.0.1:29293,127.0.0.1:29294
export KWIRE_TEST_CLUSTER1_NAME=kwire-test-1 KWIRE_TEST_CLUSTER3_NAME=kwire-test-3
export KWIRE_TEST_STREAM_RECORDS=$RECORDS
cargo build --release -p kwire-cli >&2
export KWIRE_BIN=$ROOT/target/release/kwire
t() { cargo test --release -p kwire-integration --test integration "$1" -- --exact --nocapture --test-threads=1 2>&1; }
for ((i = 1; i <= RUNS; i++)); do
  start=$SECONDS
  if out=$(t stream_app::exactly_once_app_survives_kill_join_and_leave); then
    echo "exactly_once_v2, 1 node, run $i/$RUNS: $RECORDS records, equal to the truth ($((SECONDS - start)) s; $(grep -o "instance a killed with [0-9]* input records committed" <<<"$out" | head -1))"
  else
    echo "$out" | grep -v "^ *[0-9]*: \|^ *at " | tail -60; echo "exactly_once_v2, 1 node, run $i/$RUNS: FAILED"; exit 1
  fi
done
for name in exactly_once_app_on_three_nodes_with_a_broker_kill at_least_once_app_never_counts_less \
  windowed_append_on_two_instances_equals_one_process; do
  start=$SECONDS
  if out=$(t "stream_app::$name"); then echo "$name: passed ($((SECONDS - start)) s)"; else echo "$out" | grep -v "^ *[0-9]*: \|^ *at " | tail -60; echo "$name: FAILED"; exit 1; fi
done
