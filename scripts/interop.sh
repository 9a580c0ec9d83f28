#!/usr/bin/env bash
# scripts/interop.sh — runs the interop matrix (tests/interop.rs): records written by
# each of {kwire, Kafka's Java console producer, kcat} with each codec {none, gzip,
# snappy, lz4, zstd} must be read byte-identical — key, value, headers, timestamp —
# by each of {kwire, Kafka's Java console consumer, kcat}: 45 cells, one test each.
# This script only provides the broker and the peers, runs the tests and prints
# the 15x3 table; exits 1 on any mismatch.
#
#   scripts/interop.sh [--records N] [--kwire PATH] [--keep]
#
#   --records N   records per writer and codec (default 12; one topic each)
#   --kwire PATH  the binary to test (default: build it, release, and use that)
#   --keep        keep the work directory (every reader's raw output, the test log)
#
# Broker: $KWIRE_INTEROP_BOOTSTRAP if set, else a single node of Kafka
# $KWIRE_KAFKA_VERSION (default 4.4.0) started here as instance 'interop' on port
# 29800 and stopped afterwards; the Java tools are of the same version (console
# producer headers need 3.2+). Peers: scripts/install-peers.sh (kcat, Kafka's jars);
# java 17. The tests run as
#   cargo test -p kwire-integration --test interop -- --ignored
# with KWIRE_INTEROP_BOOTSTRAP, KWIRE_INTEROP_RECORDS, KWIRE_BIN (and
# KWIRE_INTEROP_KEEP with --keep) exported; see tests/interop.rs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA=$ROOT/scripts/kafka.sh

N=12 KWIRE='' KEEP=0
while (($#)); do
  case $1 in
    --records) N=${2:?--records needs a value}; shift 2 ;;
    --kwire) KWIRE=${2:?--kwire needs a value}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "interop.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "interop.sh: $*" >&2; exit 1; }
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 2)); then die "--records must be a number >= 2"; fi
"$ROOT/scripts/install-peers.sh" >/dev/null || die "installing the peers failed (scripts/install-peers.sh)"
command -v kcat >/dev/null || die "kcat not found (run scripts/install-peers.sh)"
if [[ -z $KWIRE ]]; then
  (cd "$ROOT" && cargo build --release -q -p kwire-cli) || die "building kwire failed"
  KWIRE=${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire
fi
[[ -x $KWIRE ]] || die "kwire binary not found at $KWIRE"
KWIRE=$(cd "$(dirname "$KWIRE")" && pwd)/$(basename "$KWIRE")
(cd "$ROOT" && cargo test -q -p kwire-integration --test interop --no-run) || die "building the interop tests failed"

WORK=$(mktemp -d /tmp/kwire-interop.XXXXXX)
STARTED=0
BOOT=${KWIRE_INTEROP_BOOTSTRAP:-}
cleanup() {
  if ((STARTED)); then "$KAFKA" stop --name interop >/dev/null 2>&1 || true; fi
  if ((KEEP)); then echo "interop.sh: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [[ -z $BOOT ]]; then
  BOOT=127.0.0.1:29800
  "$KAFKA" start --name interop --port 29800 >"$WORK/broker.log" 2>&1 ||
    { tail -n 20 "$WORK/broker.log" >&2; die "could not start the broker (scripts/kafka.sh start --name interop)"; }
  STARTED=1
fi

export KWIRE_INTEROP_BOOTSTRAP=$BOOT KWIRE_INTEROP_RECORDS=$N KWIRE_BIN=$KWIRE
# The toolbox checks (tests/toolbox_java.rs) use the suite's helpers: the same
# broker, and for dump-log its instance's data directory.
export KWIRE_TEST_BOOTSTRAP=${KWIRE_TEST_BOOTSTRAP:-$BOOT}
if ((STARTED)); then export KWIRE_TEST_CLUSTER1_NAME=interop; fi
if ((KEEP)); then export KWIRE_INTEROP_KEEP=$WORK; fi
t0=$SECONDS
rc=0
(cd "$ROOT" && RUST_BACKTRACE=0 cargo test -p kwire-integration --test interop -- --ignored) >"$WORK/test.log" 2>&1 || rc=$?

# ---------------------------------------------------------------- table
declare -A CELL
while read -r _ name _ result; do
  CELL[$name]=$result
done < <(grep -E '^test [a-z0-9_]+ \.\.\. ' "$WORK/test.log" || true)
echo
echo "interop matrix: $N records per writer and codec, broker $BOOT" \
  "(Kafka ${KWIRE_KAFKA_VERSION:-4.4.0}), $((SECONDS - t0)) s"
echo "| writer / codec | read by kwire | read by Java console consumer | read by kcat |"
echo "|---|---|---|---|"
passed=0 total=0
for w in kwire java kcat; do
  for c in none gzip snappy lz4 zstd; do
    row="| $w / $c |"
    for r in kwire java kcat; do
      total=$((total + 1))
      case ${CELL[${w}_${c}_read_by_${r}]:-} in
        ok) row+=" ok |"; passed=$((passed + 1)) ;;
        FAILED) row+=" MISMATCH |" ;;
        *) row+=" NOT RUN |" ;;
      esac
    done
    echo "$row"
  done
done
if ((rc != 0 || passed != total)); then
  # The failures' messages (cargo's "failures:" section), then the summary line.
  # The 45 cells share one fixture, so one reason is often repeated: print each line once.
  sed -n '/^failures:$/,/^test result:/p' "$WORK/test.log" |
    awk '{ sub(/^thread .[a-z0-9_]+. \([0-9]+\) /, "") }
      !/^(failures:|    [a-z0-9_]+|---- [a-z0-9_]+ stdout ----)$/ && !seen[$0]++ && n++ < 60' >&2
  ((passed != total)) || tail -n 20 "$WORK/test.log" >&2
  die "$((total - passed)) of $total cells mismatched or did not run (--keep keeps the test log)"
fi
echo "interop.sh: all $total cells byte-identical (key, value, headers, timestamp)"
