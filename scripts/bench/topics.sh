#!/usr/bin/env bash
# scripts/bench/topics.sh — start-to-exit time of `kwire topics list` vs Kafka's
# own `kafka-topics.sh --list` (TopicCommand from kafka-tools), same broker,
# same run. Prints medians and the ratio; asserts nothing.
#
#   scripts/bench/topics.sh [RUNS]          (default 10 runs each)
# Uses the broker at $KWIRE_BENCH_BOOTSTRAP (default 127.0.0.1:9092), starting
# a single node there (and stopping it afterwards) if none answers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
RUNS=${1:-10}
BOOT=${KWIRE_BENCH_BOOTSTRAP:-127.0.0.1:9092}

[[ -n ${KWIRE_BENCH_SKIP_BUILD:-} ]] || cargo build --release -q -p kwire-cli   # all.sh builds once
KWIRE=${KWIRE_BENCH_KWIRE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire}
started=0
if ! python3 scripts/kafka/probe.py "$BOOT" >/dev/null 2>&1; then
  scripts/kafka.sh start --name kwire-bench --port "${BOOT##*:}" >&2
  started=1
fi
trap '[[ $started == 1 ]] && scripts/kafka.sh stop --name kwire-bench >&2' EXIT

# A few topics so the list isn't empty.
for i in 1 2 3; do "$KWIRE" -b "$BOOT" topics create "bench-list-$i" --if-not-exists >/dev/null; done

# time_runs CMD...: prints one wall time in ms per run.
time_runs() {
  for _ in $(seq "$RUNS"); do
    local t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1
    local t1=$EPOCHREALTIME
    python3 -c "print(round(($t1 - $t0) * 1000, 1))"
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "runs: $RUNS each; broker $BOOT; Kafka ${KWIRE_KAFKA_VERSION:-4.4.0}; $(nproc) cores"
k=$(time_runs "$KWIRE" -b "$BOOT" topics list | median)
j=$(time_runs scripts/kafka.sh tool TopicCommand --bootstrap-server "$BOOT" --list | median)
printf '%-38s %10s ms\n' "kwire topics list (median)" "$k"
printf '%-38s %10s ms\n' "kafka-topics.sh --list (median)" "$j"
python3 -c "print('ratio: kafka-topics.sh / kwire = %.1fx' % ($j / $k))"
