#!/usr/bin/env bash
# scripts/test.sh — the README's test command, and what CI runs (.ci/run).
#
# Builds everything, checks formatting and lints, starts real Apache Kafka
# brokers (a single node, a 3-node KRaft cluster and a TLS/SASL node, on
# their own ports so a developer's broker on 9092 is left alone), runs the
# unit and integration tests, then stops only the brokers it started.
#
#   scripts/test.sh              everything
#   scripts/test.sh --no-lint    skip fmt/clippy
#   scripts/test.sh --quick      unit + integration tests only (no interop matrix,
#                                broker-version slice or fuzz slice)
#   scripts/test.sh -- FILTER    pass a test-name filter to cargo test (implies --quick)
#
# After the cargo tests (which include the hostile-broker tests), the full run adds
# bounded slices of the longer suites: the interop matrix (scripts/interop.sh
# on the single-node broker), 2 minutes of the soak (scripts/soak.sh on the
# 3-node cluster through toxiproxy), the broker-version suite on the newest Kafka and one
# 2.x with ZooKeeper (scripts/compat.sh --quick), and every fuzz target's corpus
# replayed plus 5 s of fuzzing each (scripts/fuzz.sh ci --time 5; the long
# runs are docs/fuzzing.md's campaigns). The fuzz targets (a release build
# with AddressSanitizer, 7 minutes as a step of its own) are built in the
# background at nice 19 while the broker tests run.
#
# Environment: KWIRE_TEST_PORT (29092; the 3-node cluster uses +200..+202, the
# TLS/SASL broker (kafka.sh start --secure) +400..+405; controllers +100 each:
# all below 32768, outside the kernel's ephemeral port range, so no outgoing
# connection can hold a broker's port when it starts; the 3-node cluster also
# has PROXIED listeners on +250..+252 advertised as +260..+262, where toxiproxy,
# with its API on +450, forwards: the fault tests, tests/faults.rs),
# KWIRE_KAFKA_VERSION (see scripts/kafka.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KAFKA="$ROOT/scripts/kafka.sh"
PORT1=${KWIRE_TEST_PORT:-29092}
PORT3=$((PORT1 + 200))
NAME1=kwire-test-1
NAME3=kwire-test-3
PORTS=$((PORT1 + 400))                    # --secure broker: PORTS..PORTS+5 (see scripts/kafka.sh)
NAMES=kwire-test-secure
LINT=1
QUICK=0
FILTER=()
COMPAT_VERSIONS=${KWIRE_COMPAT_VERSIONS:-"4.4.0 2.8.2"}
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-lint) LINT=0 ;;
    --quick) QUICK=1 ;;
    --) shift; FILTER=("$@"); QUICK=1; break ;;
    *) echo "usage: scripts/test.sh [--no-lint] [--quick] [-- FILTER]" >&2; exit 2 ;;
  esac
  shift
done

t0=$SECONDS
# Each step says when it starts (seconds since the start), so a log shows
# where the time went.
step() { printf '\n==> [%d s] %s\n' "$((SECONDS - t0))" "$*" >&2; }

step "toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
command -v java >/dev/null || { echo "java not found: install a JDK 17+" >&2; exit 1; }
cargo --version >&2
java -version 2>&1 | head -1 >&2

step "peer tools for interop tests"
"$ROOT/scripts/install-peers.sh"

if [[ $LINT == 1 ]]; then
  step "layers: crate dependencies point down, no module import cycle (scripts/check-layers.py)"
  python3 "$ROOT/scripts/check-layers.py"
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy"
  cargo clippy --workspace --all-targets -- -D warnings
  step "cargo doc (every crate: missing docs, broken intra-doc links)"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace
fi

step "build"
cargo build --workspace --all-targets

fuzz_build_pid=
# fuzz.sh's own default target directory, whatever CARGO_TARGET_DIR says: the
# cargo tests below must never wait for the fuzz build's lock on theirs.
FUZZ_TARGET_DIR=$ROOT/fuzz/target
FUZZ_BUILD_LOG=$FUZZ_TARGET_DIR/build.log
if [[ $QUICK == 0 ]]; then
  step "fuzz targets: building in the background at nice 19 (log: $FUZZ_BUILD_LOG)"
  # Its own process group (job control on for this one job), so an early exit
  # stops cargo and rustc too. Not its own session (setsid): that would make
  # it its own autogroup under the kernel's autogroup scheduling, where nice
  # counts only inside a group, and nice 19 would not hold it back.
  mkdir -p "$FUZZ_TARGET_DIR"
  set -m
  CARGO_TARGET_DIR=$FUZZ_TARGET_DIR nice -n 19 "$ROOT/scripts/fuzz.sh" build >"$FUZZ_BUILD_LOG" 2>&1 </dev/null &
  fuzz_build_pid=$!
  set +m
fi

started=()
TOXI_PORT=$((PORT1 + 450))
toxi_started=0
cleanup() {
  local rc=$?
  if [[ -n $fuzz_build_pid ]]; then kill -- "-$fuzz_build_pid" 2>/dev/null || true; fi
  for n in "${started[@]}"; do
    "$KAFKA" stop --name "$n" >&2 || true
  done
  if ((toxi_started)); then "$ROOT/scripts/toxiproxy.sh" stop --port "$TOXI_PORT" >&2 || true; fi
  exit $rc
}
trap cleanup EXIT INT TERM

step "brokers (Kafka ${KWIRE_KAFKA_VERSION:-4.4.0})"
# The test brokers keep their logs in memory when /dev/shm has room. Their
# KRaft metadata logs fsync on every topic the tests create, and on this
# machine's shared disk an fsync can stall for seconds (the kernel's IO
# pressure showed ~20 s of stalls during one suite run): the controllers
# stalled with it, and group and copy tests timed out. Set KWIRE_RUN_DIR to
# choose the place yourself.
if [[ -z ${KWIRE_RUN_DIR:-} && -d /dev/shm && -w /dev/shm ]] &&
  (($(df -Pm /dev/shm | awk 'NR == 2 { print $4 }') > 4096)); then
  export KWIRE_RUN_DIR=/dev/shm/kwire-run
  echo "test.sh: broker data in $KWIRE_RUN_DIR (tmpfs)" >&2
fi
"$KAFKA" fetch >/dev/null
broker_pids=()
for spec in "$NAME1 1 $PORT1" "$NAME3 3 $PORT3 --proxied" "$NAMES 1 $PORTS --secure"; do
  read -r name nodes port flag <<<"$spec"
  if ! "$KAFKA" status --name "$name" >/dev/null 2>&1; then
    started+=("$name")
  fi
  # Start all at once: they need ~10-30 s each, mostly JVM warm-up.
  "$KAFKA" start --name "$name" --nodes "$nodes" --port "$port" ${flag:+"$flag"} >&2 &
  broker_pids+=($!)
done
# Wait for these three only (the fuzz build is a job of this shell too), all of
# them even when one fails, so the cleanup stops no broker half-started.
broker_failed=0
for pid in "${broker_pids[@]}"; do
  wait "$pid" || broker_failed=1
done
((broker_failed == 0)) || { echo "a broker failed to start" >&2; exit 1; }

export KWIRE_TEST_BOOTSTRAP=127.0.0.1:$PORT1
export KWIRE_TEST_BOOTSTRAP_3=127.0.0.1:$PORT3,127.0.0.1:$((PORT3 + 1)),127.0.0.1:$((PORT3 + 2))
export KWIRE_TEST_CLUSTER3_NAME=$NAME3
export KWIRE_TEST_CLUSTER1_NAME=$NAME1
export KWIRE_TEST_SECURE_NAME=$NAMES KWIRE_TEST_SECURE_PORT=$PORTS

step "toxiproxy for the fault tests (scripts/toxiproxy.sh)"
if ! curl -fsS --max-time 1 "http://127.0.0.1:$TOXI_PORT/version" >/dev/null 2>&1; then toxi_started=1; fi
"$ROOT/scripts/toxiproxy.sh" start --port "$TOXI_PORT" >&2
export KWIRE_TEST_TOXIPROXY=127.0.0.1:$TOXI_PORT

step "unit tests (no broker; two at a time)"
# The crates' own tests never reach a broker: the simulations in them are
# CPU-bound and run side by side.
cargo test --workspace --exclude kwire-integration --no-fail-fast -- "${FILTER[@]}"

step "integration tests"
# One test at a time: the suite kills and restarts brokers, starts Java
# consumers and measures timeouts. On two cores, a broker restart's JVM
# warm-up overlapping a Java group test starved the single-node broker for
# over 10 s ("no answer within 10s"), and group tests running next to them
# failed. Serial, each test gets the machine its timeouts assume.
cargo test -p kwire-integration --no-fail-fast -- --test-threads=1 "${FILTER[@]}"

if [[ $QUICK == 0 ]]; then
  KWIRE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/kwire
  step "interop matrix (scripts/interop.sh)"
  KWIRE_INTEROP_BOOTSTRAP=127.0.0.1:$PORT1 "$ROOT/scripts/interop.sh" --kwire "$KWIRE_BIN"

  step "soak slice: 2 minutes of producer + group + stream under random faults (scripts/soak.sh)"
  KWIRE_BIN=$KWIRE_BIN "$ROOT/scripts/soak.sh" --minutes 2 --rate 300 --cluster "$NAME3" \
    --toxiproxy "127.0.0.1:$TOXI_PORT"

  # The remaining slices need no test broker: free the CPU for them.
  for n in "${started[@]}"; do "$KAFKA" stop --name "$n" >&2 || true; done
  started=()
  if ((toxi_started)); then "$ROOT/scripts/toxiproxy.sh" stop --port "$TOXI_PORT" >&2 || true; fi
  toxi_started=0

  step "broker versions (scripts/compat.sh --quick --versions \"$COMPAT_VERSIONS\")"
  "$ROOT/scripts/compat.sh" --quick --versions "$COMPAT_VERSIONS" --kwire "$KWIRE_BIN"

  step "fuzz targets: wait for their build, replay every corpus, fuzz each for 5 s (scripts/fuzz.sh ci --time 5)"
  if ! wait "$fuzz_build_pid"; then
    tail -n 40 "$FUZZ_BUILD_LOG" >&2
    echo "building the fuzz targets failed (log: $FUZZ_BUILD_LOG)" >&2
    exit 1
  fi
  fuzz_build_pid=
  CARGO_TARGET_DIR=$FUZZ_TARGET_DIR "$ROOT/scripts/fuzz.sh" ci --time 5
fi

step "done in $((SECONDS - t0)) s"
