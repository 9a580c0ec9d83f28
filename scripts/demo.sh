#!/usr/bin/env bash
# scripts/demo.sh — the README's main job: the guide's Kafka + PySpark workflow
# (seed/000_264704fe9ccf808b.txt), done with kwire against a real local
# Apache Kafka broker.
#
# Starts a single-node broker on 127.0.0.1:9092 unless one already answers
# there, runs each step of the guide with kwire, and stops the broker again if
# it started it (pass --keep to leave it running). Topics it creates are
# deleted at the end, so it can be run again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
BOOT=${KWIRE_DEMO_BOOTSTRAP:-127.0.0.1:9092}
NAME=kwire-demo
export KWIRE_BOOTSTRAP_SERVERS=$BOOT

# Bold and blue headings on a terminal only: output saved to a file or piped
# stays plain text, and NO_COLOR (https://no-color.org) turns colour off.
if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
  BOLD=$'\033[1m' BLUE=$'\033[1;34m' PLAIN=$'\033[0m'
else
  BOLD='' BLUE='' PLAIN=''
fi
say() { printf '\n%s$ %s%s\n' "$BOLD" "$*" "$PLAIN"; }
step() { printf '\n%s==> %s%s\n' "$BLUE" "$*" "$PLAIN"; }

# Not -q: a cold release build takes minutes on a small machine, and a wait for
# another build's lock says so ("Blocking waiting for file lock"); cargo's
# progress shows both.
step "building kwire (release; the first build takes a few minutes)"
cargo build --release -p kwire-cli
KWIRE="${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire"
export KWIRE
kwire() { "$KWIRE" "$@"; }
run() { say "$*"; "$@"; }

started=0
if ! python3 "$ROOT/scripts/kafka/probe.py" "$BOOT" >/dev/null 2>&1; then
  step "no broker at $BOOT: starting one (scripts/kafka.sh start --name $NAME)"
  scripts/kafka.sh start --name "$NAME" --port "${BOOT##*:}"
  started=1
fi
cleanup() {
  kwire topics delete first_topic voters --if-exists >/dev/null 2>&1 || true
  if [[ $started == 1 && $KEEP == 0 ]]; then
    step "stopping the broker this demo started"
    scripts/kafka.sh stop --name "$NAME"
  fi
}
trap cleanup EXIT
kwire topics delete first_topic voters --if-exists >/dev/null

step "the cluster"
run kwire cluster

step "1. topic management (kafka-topics.sh --zookeeper … becomes kwire topics --bootstrap-server …)"
run kwire topics --bootstrap-server "$BOOT" --topic first_topic --create --partitions 3
run kwire topics --bootstrap-server "$BOOT" --topic first_topic --describe
say "kwire topics --bootstrap-server $BOOT --topic first_topic --create --partitions 3 --replication-factor 1 --topic voters"
echo "(the guide's broken example: it must fail cleanly and create nothing)"
kwire topics --bootstrap-server "$BOOT" --topic first_topic --create --partitions 3 --replication-factor 1 --topic voters || echo "exit status $?"
say "kwire topics --zookeeper 127.0.0.1:2181 --list"
kwire topics --zookeeper 127.0.0.1:2181 --list || echo "exit status $?"
run kwire topics --bootstrap-server "$BOOT" --list --exclude-internal

step "2. produce with acks=all, consume --from-beginning"
say "printf 'hello kafka\\nfrom kwire\\n' | kwire produce --broker-list $BOOT --topic first_topic --producer-property acks=all"
printf 'hello kafka\nfrom kwire\n' | kwire produce --broker-list "$BOOT" --topic first_topic --producer-property acks=all
run kwire consume --bootstrap-server "$BOOT" --topic first_topic --from-beginning --exit-at-end

step "3. the voters topic and pushKafkaData.sh"
run kwire topics --create --bootstrap-server "$BOOT" --replication-factor 1 --partitions 1 --topic voters
run scripts/push-voters.sh 5000
run kwire consume -t voters --from-beginning --max-messages 3

step "4. the guide's PySpark job with kwire stream (--trigger available-now: process what the topic holds, then exit)"
DDL='gender STRING, age LONG, party STRING'
run kwire stream --topic voters --starting-offsets earliest --trigger available-now
say "kwire stream --topic voters --starting-offsets earliest --trigger available-now --select 'CAST(value AS STRING)' --truncate false"
kwire stream --topic voters --starting-offsets earliest --trigger available-now --select 'CAST(value AS STRING)' --truncate false
say "kwire stream --topic voters --starting-offsets earliest --trigger available-now \\
    --select \"from_json(CAST(value AS STRING), '$DDL') AS voterJSON\" \\
    --group-by voterJSON.gender,voterJSON.party --output-mode complete"
kwire stream --topic voters --starting-offsets earliest --trigger available-now \
  --select "from_json(CAST(value AS STRING), '$DDL') AS voterJSON" \
  --group-by voterJSON.gender,voterJSON.party --output-mode complete

step "cleanup: delete the demo topics"
run kwire topics --bootstrap-server "$BOOT" --topic first_topic --delete
run kwire topics delete voters
