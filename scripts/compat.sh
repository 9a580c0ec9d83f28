#!/usr/bin/env bash
# scripts/compat.sh — kwire's broker-version compatibility suite. For each Kafka
# version it starts a fresh single-node instance of that version (scripts/kafka.sh,
# name compat-<version>, its own ports), runs the suite below with the `kwire`
# binary, stops the instance, and prints a pass/fail table (checks x versions).
#
#   scripts/compat.sh [--versions "4.4.0 3.9.2 2.8.2"] [--quick] [--kwire PATH]
#
#   --versions LIST  Kafka versions to test, newest first (default: 4.4.0 3.9.2 2.8.2;
#                    2.x runs with ZooKeeper, the oldest that runs on Java 17 is 2.4.0)
#   --quick          fewer records and shorter waits (CI)
#   --kwire PATH     the binary to test (default: build it, release, and use that)
#
# Checks (each one a row of the table):
#   api-versions    `kwire cluster --api-versions` answers (ApiVersions negotiation)
#   topics          create (3 partitions), list, describe (partition count), delete
#   codec-<c>       produce acks=all with compression c (none gzip snappy lz4 zstd),
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
#                   complete mode, available-now) over generated voters, counts
#                   checked; "n/a" when this build has no `kwire stream`
# Exit status: 0 when every check passed (or is n/a), 1 otherwise. Logs of failed
# checks are printed at the end; all logs stay in $KWIRE_COMPAT_DIR (a temp dir).
# Ports: version i (0-based) uses 49600+10*i (ZooKeeper or controller on +100).
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

if [[ -z $KWIRE ]]; then
  (cd "$ROOT" && cargo build --release -q -p kwire-cli) || die "building kwire failed"
  KWIRE=${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire
fi
[[ -x $KWIRE ]] || die "kwire binary not found at $KWIRE"

if ((QUICK)); then N=200 WAIT=30; else N=2000 WAIT=60; fi
IDLE=$((WAIT * 3))
CODECS=(none gzip snappy lz4 zstd)
CHECKS=(api-versions topics "${CODECS[@]/#/codec-}" group kip848 stream)
WORK=${KWIRE_COMPAT_DIR:-$(mktemp -d /tmp/kwire-compat.XXXXXX)}
mkdir -p "$WORK"
HAS_STREAM=0
"$KWIRE" stream --help >/dev/null 2>&1 && HAS_STREAM=1

declare -A RESULT
STARTED=()
BG=()
cleanup() {
  local p n
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in "${STARTED[@]}"; do KWIRE_KAFKA_VERSION=${n#compat-} "$KAFKA" stop --name "$n" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# pyjson: a small python3 check reading JSON lines; the script is $1, args follow.
py() { python3 -c "$@"; }

# ---------------------------------------------------------------- checks
# Each check_* runs with $B (bootstrap), $V (version), $L (its log file) set and
# returns 0 (pass), 1 (fail) or 3 (unsupported, reported clearly).

check_api_versions() {
  "$KWIRE" -b "$B" cluster --api-versions >>"$L" 2>&1
}

check_topics() {
  local t=compat-topics-$RANDOM
  "$KWIRE" -b "$B" topics create "$t" --partitions 3 --replication-factor 1 >>"$L" 2>&1 || return 1
  "$KWIRE" -b "$B" topics list >"$L.list" 2>>"$L" || return 1
  grep -qx "$t" "$L.list" || { echo "list lacks $t" >>"$L"; return 1; }
  "$KWIRE" -b "$B" topics describe "$t" --format json >"$L.desc" 2>>"$L" || return 1
  py 'import json,sys; d=json.load(open(sys.argv[1])); n=len(d[0]["partitions"]); sys.exit(0 if n==3 else f"describe: {n} partitions, want 3")' "$L.desc" >>"$L" 2>&1 || return 1
  "$KWIRE" -b "$B" topics delete "$t" >>"$L" 2>&1 || return 1
  local i
  for i in $(seq 50); do   # deletion is asynchronous on the broker
    "$KWIRE" -b "$B" topics list >"$L.list" 2>>"$L" || return 1
    grep -qx "$t" "$L.list" || return 0
    sleep 0.2
  done
  echo "$t still listed after delete" >>"$L"
  return 1
}

check_codec() {                           # check_codec CODEC
  local c=$1 t=compat-codec-$1-$RANDOM
  "$KWIRE" -b "$B" topics create "$t" --partitions 3 --replication-factor 1 >>"$L" 2>&1 || return 1
  seq 1 "$N" | sed "s/.*/k&:$c-value-&-$(printf 'x%.0s' {1..40})/" >"$L.in"
  "$KWIRE" -b "$B" produce -t "$t" --acks all --compression "$c" --key-separator : \
    --header origin=compat --header "codec=$c" --input "$L.in" >>"$L" 2>&1 || return 1
  "$KWIRE" -b "$B" consume -t "$t" --from-beginning -e --format json >"$L.out" 2>>"$L" || return 1
  py '
import json, sys
want = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split(":", 1)
    want[k] = v
got, last = {}, {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    hs = [(h["key"], h["value"]) for h in r["headers"]]
    if hs != [("origin", "compat"), ("codec", sys.argv[3])]:
        sys.exit(f"headers {hs}")
    k, p = r["key"], r["partition"]
    if k in got:
        sys.exit(f"duplicate key {k}")
    got[k] = r["value"]
    n = int(k[1:])     # keys are produced in increasing order: per-partition order holds
    if n <= last.get(p, 0):
        sys.exit(f"partition {p} out of order at {k}")
    last[p] = n
if got != want:
    sys.exit(f"read {len(got)} records, want {len(want)}; differing: {len(set(got.items()) ^ set(want.items()))}")
if len(last) != 3:
    sys.exit(f"records in {len(last)} partitions, want 3 (keyed records spread)")
' "$L.in" "$L.out" "$c" >>"$L" 2>&1 || return 1
  "$KWIRE" -b "$B" topics delete "$t" >>"$L" 2>&1 || true
}

# wait_lines FILE... : until the files hold $WANT lines in all, or $WAIT s pass.
wait_lines() {
  local deadline=$((SECONDS + WAIT))
  while (($(cat "$@" 2>/dev/null | wc -l) < WANT)); do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

check_group() {
  local t=compat-group-$RANDOM g=compat-g-$RANDOM pa pb WANT
  "$KWIRE" -b "$B" topics create "$t" --partitions 4 --replication-factor 1 >>"$L" 2>&1 || return 1
  seq 1 "$N" | sed 's/.*/k&:a&/' | "$KWIRE" -b "$B" produce -t "$t" --acks all --key-separator : >>"$L" 2>&1 || return 1
  # Member A alone: reads the first N. Members stop after ${IDLE}s without records.
  "$KWIRE" -b "$B" consume -t "$t" -g "$g" --from-beginning --timeout-ms $((IDLE * 1000)) \
    --print partition >"$L.a" 2>"$L.a.err" &
  pa=$! BG+=("$pa")
  WANT=$N wait_lines "$L.a" || { echo "member A read $(wc -l <"$L.a") of $N" >>"$L"; return 1; }
  # Member B joins: the group rebalances until both members hold partitions.
  "$KWIRE" -b "$B" consume -t "$t" -g "$g" --from-beginning --timeout-ms $((IDLE * 1000)) \
    --print partition >"$L.b" 2>"$L.b.err" &
  pb=$! BG+=("$pb")
  local deadline=$((SECONDS + WAIT)) ok=0
  while ((SECONDS < deadline)); do
    if "$KWIRE" -b "$B" groups describe "$g" --format json 2>/dev/null | py '
import json, sys
d = json.load(sys.stdin); d = d[0] if isinstance(d, list) else d
m = [x for x in d.get("members", []) if x.get("assignment")]
sys.exit(0 if len(m) == 2 and d.get("state") == "Stable" else 1)'; then ok=1; break; fi
    sleep 0.5
  done
  ((ok)) || { echo "the group did not rebalance to 2 members with partitions within ${WAIT}s" >>"$L"; return 1; }
  seq $((N + 1)) $((2 * N)) | sed 's/.*/k&:b&/' | "$KWIRE" -b "$B" produce -t "$t" --acks all --key-separator : >>"$L" 2>&1 || return 1
  WANT=$((2 * N)) wait_lines "$L.a" "$L.b" || { echo "members read $(cat "$L.a" "$L.b" | wc -l) of $((2 * N))" >>"$L"; return 1; }
  kill -INT "$pa" "$pb" 2>/dev/null || true
  wait "$pa" "$pb" 2>/dev/null || true
  cat "$L.a.err" "$L.b.err" >>"$L"
  py '
import sys
def rows(f):   # "Partition:P<TAB>value" lines
    return [tuple(l.split("\t", 1)) for l in open(f).read().splitlines()]
a, b, n = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3])
vals = [v for _, v in a + b]
if len(set(vals)) != 2 * n or len(set(v for v in vals if v.startswith("b"))) != n:
    sys.exit(f"distinct records read: {len(set(vals))}, want {2 * n}")
pa = set(p for p, v in a if v.startswith("b")); pb = set(p for p, v in b)
if not pb:
    sys.exit("member B read nothing after the rebalance")
if pa & pb:
    sys.exit(f"after the rebalance both members read {sorted(pa & pb)}")
print(f"member A: {len(a)} records, member B: {len(b)} records ({sorted(pb)})")
' "$L.a" "$L.b" "$N" >>"$L" 2>&1 || return 1
  "$KWIRE" -b "$B" groups describe "$g" --format json >"$L.desc" 2>>"$L" || return 1
  py '
import json, sys
d = json.load(open(sys.argv[1]))
def walk(x):
    if isinstance(x, dict):
        if "lag" in x:
            yield x
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from walk(v)
rows = list(walk(d))
if len(rows) != 4 or any(r["lag"] != 0 for r in rows):
    sys.exit(f"committed offsets not at the end: {rows}")
' "$L.desc" >>"$L" 2>&1 || return 1
}

check_kip848() {
  local t=compat-848-$RANDOM rc=0
  "$KWIRE" -b "$B" topics create "$t" --partitions 2 --replication-factor 1 >>"$L" 2>&1 || return 1
  printf 'a\nb\n' | "$KWIRE" -b "$B" produce -t "$t" --acks all >>"$L" 2>&1 || return 1
  timeout $((WAIT + 10)) "$KWIRE" -b "$B" consume -t "$t" -g "compat-848-$RANDOM" --from-beginning \
    --consumer-property group.protocol=consumer --max-messages 2 --timeout-ms $((WAIT * 1000)) \
    >"$L.out" 2>"$L.err" || rc=$?
  cat "$L.err" >>"$L"
  if ((rc == 0)) && [[ $(sort "$L.out" | tr '\n' ' ') == "a b " ]]; then return 0; fi
  if ((rc != 0)) && grep -qi 'not supported' "$L.err" &&
    ! grep -qiE 'protocol error|decod|unexpected|panick|corrupt' "$L.err"; then
    return 3
  fi
  echo "exit $rc; output: $(tr '\n' ' ' <"$L.out")" >>"$L"
  return 1
}

check_stream() {
  ((HAS_STREAM)) || return 4
  local t=compat-voters-$RANDOM
  "$KWIRE" -b "$B" topics create "$t" --partitions 2 --replication-factor 1 >>"$L" 2>&1 || return 1
  "$KWIRE" gen voters --count "$N" --seed 9 >"$L.in" 2>>"$L" || return 1
  "$KWIRE" -b "$B" produce -t "$t" --acks all --input "$L.in" >>"$L" 2>&1 || return 1
  timeout $((WAIT * 2)) "$KWIRE" -b "$B" stream --topic "$t" --starting-offsets earliest --trigger available-now \
    --select "from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voterJSON" \
    --group-by voterJSON.gender,voterJSON.party --output-mode complete --sink jsonl:- \
    >"$L.out" 2>>"$L" || return 1
  py '
import collections, json, sys
want = collections.Counter((v["gender"], v["party"]) for v in map(json.loads, open(sys.argv[1])))
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
# complete mode: the last batch holds the whole table; batches are told apart by a
# batch id field when the sink writes one, else the last len(want) rows are it.
bid = next((k for k in ("batch", "batchId", "batch_id") if rows and k in rows[0]), None)
if bid:
    last = rows[-1][bid]; rows = [r for r in rows if r[bid] == last]
else:
    rows = rows[-len(want):]
got = collections.Counter()
for r in rows:
    flat = {}
    for k, v in r.items():
        if isinstance(v, dict): flat.update(v)
        else: flat[k.split(".")[-1]] = v
    got[(flat["gender"], flat["party"])] = flat["count"]
if got != want:
    sys.exit(f"stream counts {dict(got)} != {dict(want)}")
' "$L.in" "$L.out" >>"$L" 2>&1 || return 1
}

# ---------------------------------------------------------------- run
i=0
for V in $VERSIONS; do
  [[ $V =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad version '$V'"
  port=$((49600 + 10 * i)) name=compat-$V
  i=$((i + 1))
  B=127.0.0.1:$port
  log "Kafka $V: starting instance $name on $B"
  if ! KWIRE_KAFKA_VERSION=$V "$KAFKA" start --name "$name" --port "$port" >"$WORK/$name.start.log" 2>&1; then
    tail -n 15 "$WORK/$name.start.log" >&2
    for c in "${CHECKS[@]}"; do RESULT[$V,$c]="FAIL"; done
    RESULT[$V,api-versions]="NO-BROKER"
    continue
  fi
  STARTED+=("$name")
  for c in "${CHECKS[@]}"; do
    L=$WORK/$V-$c.log
    : >"$L"
    t0=$SECONDS rc=0
    case $c in
      codec-*) check_codec "${c#codec-}" || rc=$? ;;
      *) "check_${c//-/_}" || rc=$? ;;
    esac
    case $rc in
      0) RESULT[$V,$c]=pass ;;
      3) RESULT[$V,$c]=unsup ;;
      4) RESULT[$V,$c]=n/a ;;
      *) RESULT[$V,$c]=FAIL ;;
    esac
    log "Kafka $V: $c ${RESULT[$V,$c]} ($((SECONDS - t0)) s)"
  done
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  BG=()
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
    [[ $r == pass || $r == unsup || $r == n/a ]] || failed=1
  done
  echo
done
echo "(unsup = the broker lacks the feature and kwire said so clearly; n/a = not in this build)"
if ((failed)); then
  for V in $VERSIONS; do
    for c in "${CHECKS[@]}"; do
      [[ ${RESULT[$V,$c]} == FAIL && -s $WORK/$V-$c.log ]] || continue
      echo "--- Kafka $V $c (log $WORK/$V-$c.log, last lines):"
      tail -n 8 "$WORK/$V-$c.log"
    done
  done
  echo "compat.sh: FAILED (logs in $WORK)" >&2
  exit 1
fi
echo "compat.sh: all checks passed (logs in $WORK)" >&2
