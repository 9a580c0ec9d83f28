#!/usr/bin/env bash
# scripts/compat.sh — kwire's broker-version compatibility suite. For each Kafka
# version it starts a fresh single-node instance of that version (scripts/kafka.sh,
# name compat-<version>, its own ports), runs the suite (tests/compat.rs) with the
# `kwire` binary, stops the instance, and prints a pass/fail table (checks x versions).
# The checks themselves live in tests/compat.rs; this script only runs brokers.
#
#   scripts/compat.sh [--versions "4.4.0 3.9.2 2.8.2"] [--quick] [--kwire PATH]
#
#   --versions LIST  Kafka versions to test, newest first (default: 4.4.0 3.9.2 2.8.2;
#                    2.x runs with ZooKeeper, the oldest that runs on Java 17 is 2.4.0)
#   --quick          fewer records and shorter waits (CI)
#   --kwire PATH     the binary to test (default: build it, release, and use that)
#
# Checks (each one a test in tests/compat.rs and a row of the table):
#   api_versions    `kwire cluster --api-versions` answers (ApiVersions negotiation)
#   topics          create (3 partitions), list, describe (partition count), delete
#   codec_<c>       produce acks=all with compression c (none gzip snappy lz4 zstd),
#                   keyed records with a header, then consume --from-beginning -e:
#                   every key, value and header back, per partition in order
#   group           two `kwire consume --group` members: the first joins and reads,
#                   the second joins (rebalance), more records are produced; every
#                   record is read, both members got partitions, and the committed
#                   offsets reach the end (lag 0 in `kwire groups describe`)
#   kip848          a member with group.protocol=consumer: reads on 4.x; on older
#                   brokers it must fail with a clear "not supported" message (shown
#                   as "unsup"), never a protocol/decoding error
#   stream          the guide's grouped count (from_json, groupBy gender, party,
#                   complete mode, available-now) over generated voters, counts checked
#   transactions    produce --transactional-id (4 committed transactions, one aborted
#                   by a failed record: read_committed sees exactly the committed
#                   records), then kwire copy exactly once (offsets in the transactions)
#   admin_records   kwire offsets (-1, -2, and -3 where the broker has it), delete-records,
#                   log-dirs
#   admin_reassign  reassign --list, execute + verify, elect-leaders, features describe
#   admin_quorum    quorum describe (KRaft); "unsup" on ZooKeeper-mode 2.x
#   admin_configs   configs on a topic and a user quota, users list, acls without an authorizer
#   share_groups    share-groups --list (4.x; 3.9 lists none); "unsup" on 2.x
# A check that passed because the broker lacks the feature and kwire said so in
# one clear line writes its name to $KWIRE_COMPAT_UNSUP; the table shows it as
# "unsup".
# Per version the tests run as
#   cargo test -p kwire-integration --test compat -- --ignored
# with KWIRE_COMPAT_BOOTSTRAP, KWIRE_COMPAT_VERSION, KWIRE_COMPAT_RECORDS,
# KWIRE_COMPAT_WAIT and KWIRE_BIN exported.
# Exit status: 0 when every check passed, 1 otherwise. The messages of failed
# checks are printed at the end; all logs stay in $KWIRE_COMPAT_DIR (a temp dir).
# Ports: version i (0-based) uses 29600+10*i (ZooKeeper or controller on +100).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA=$ROOT/scripts/kafka.sh

VERSIONS="4.4.0 3.9.2 2.8.2"
QUICK=0
KWIRE=''
while (($#)); do
  case $1 in
    --versions) VERSIONS=${2:?--versions needs a value}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --kwire) KWIRE=${2:?--kwire needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compat.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "compat.sh: $*" >&2; }
die() { log "$@"; exit 1; }

for V in $VERSIONS; do
  [[ $V =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad version '$V'"
done
if [[ -z $KWIRE ]]; then
  (cd "$ROOT" && cargo build --release -q -p kwire-cli) || die "building kwire failed"
  KWIRE=${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire
fi
[[ -x $KWIRE ]] || die "kwire binary not found at $KWIRE"
KWIRE=$(cd "$(dirname "$KWIRE")" && pwd)/$(basename "$KWIRE")
(cd "$ROOT" && cargo test -q -p kwire-integration --test compat --no-run) || die "building the compat tests failed"

if ((QUICK)); then N=200 WAIT=30; else N=2000 WAIT=60; fi
CHECKS=(api_versions topics codec_none codec_gzip codec_snappy codec_lz4 codec_zstd group kip848 stream transactions
  admin_records admin_reassign admin_quorum admin_configs share_groups)
WORK=${KWIRE_COMPAT_DIR:-$(mktemp -d /tmp/kwire-compat.XXXXXX)}
mkdir -p "$WORK"
export KWIRE_BIN=$KWIRE KWIRE_COMPAT_RECORDS=$N KWIRE_COMPAT_WAIT=$WAIT

declare -A RESULT
STARTED=()
cleanup() {
  local n
  for n in "${STARTED[@]}"; do KWIRE_KAFKA_VERSION=${n#compat-} "$KAFKA" stop --name "$n" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

i=0
for V in $VERSIONS; do
  port=$((29600 + 10 * i)) name=compat-$V
  i=$((i + 1))
  B=127.0.0.1:$port
  log "Kafka $V: starting instance $name on $B"
  if ! KWIRE_KAFKA_VERSION=$V "$KAFKA" start --name "$name" --port "$port" >"$WORK/$name.start.log" 2>&1; then
    tail -n 15 "$WORK/$name.start.log" >&2
    for c in "${CHECKS[@]}"; do RESULT[$V,$c]="FAIL"; done
    RESULT[$V,api_versions]="NO-BROKER"
    continue
  fi
  STARTED+=("$name")
  t0=$SECONDS
  rm -f "$WORK/$V.unsup"
  (cd "$ROOT" && KWIRE_COMPAT_BOOTSTRAP=$B KWIRE_COMPAT_VERSION=$V KWIRE_COMPAT_UNSUP=$WORK/$V.unsup \
    RUST_BACKTRACE=0 cargo test -p kwire-integration --test compat -- --ignored) >"$WORK/$V.log" 2>&1 || true
  while read -r _ c _ r; do
    case $r in
      ok) if grep -qx "$c" "$WORK/$V.unsup" 2>/dev/null; then r=unsup; else r=pass; fi ;;
      *) r=FAIL ;;
    esac
    RESULT[$V,$c]=$r
  done < <(grep -E '^test [a-z0-9_]+ \.\.\. ' "$WORK/$V.log" || true)
  for c in "${CHECKS[@]}"; do
    [[ -n ${RESULT[$V,$c]:-} ]] || RESULT[$V,$c]="NOT-RUN"
  done
  log "Kafka $V: $(grep -E '^test result:' "$WORK/$V.log" || echo 'no test result') ($((SECONDS - t0)) s)"
  KWIRE_KAFKA_VERSION=$V "$KAFKA" stop --name "$name" >/dev/null 2>&1 || log "stopping $name failed"
  unset 'STARTED[-1]'
done

# ---------------------------------------------------------------- table
failed=0
echo
echo "kwire $("$KWIRE" --version 2>/dev/null | awk '{print $NF}') compatibility ($(date -u +%F), $N records per check)"
printf '| %-14s |' check
for V in $VERSIONS; do printf ' %-9s |' "$V"; done
echo
printf '|%s|' "----------------"
for _ in $VERSIONS; do printf '%s|' "-----------"; done
echo
for c in "${CHECKS[@]}"; do
  printf '| %-14s |' "$c"
  for V in $VERSIONS; do
    r=${RESULT[$V,$c]}
    printf ' %-9s |' "$r"
    [[ $r == pass || $r == unsup ]] || failed=1
  done
  echo
done
echo "(unsup = the broker lacks the feature and kwire said so clearly)"
if ((failed)); then
  for V in $VERSIONS; do
    [[ -s $WORK/$V.log ]] || continue
    grep -qE '^failures:$|^error' "$WORK/$V.log" || continue
    echo "--- Kafka $V (log $WORK/$V.log), failures:"
    sed -n '/^failures:$/,/^test result:/p' "$WORK/$V.log" | awk '!/^(failures:|    [a-z0-9_]+)$/ && n++ < 60'
    grep -E '^error' "$WORK/$V.log" | awk 'n++ < 5'
  done
  echo "compat.sh: FAILED (logs in $WORK)" >&2
  exit 1
fi
echo "compat.sh: all checks passed (logs in $WORK)" >&2
