#!/usr/bin/env bash
# scripts/bench/stream.sh — records/s of the guide's grouped-count query
#   from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING')
#   .groupBy(gender, party).count(), complete mode, Trigger.AvailableNow
# over N voter records: `kwire stream` vs the same query in PySpark Structured
# Streaming, on the same broker and the same topic, in the same run. Prints
# both result tables compared and the throughput ratio; asserts nothing.
#
#   scripts/bench/stream.sh [--records N] [--partitions P] [--kwire-runs R]
#                           [--shuffle-partitions S] [--no-spark] [--keep-topic]
#
#   --records N             voter records (default 5000000)
#   --partitions P          topic partitions (default 1, as in the guide)
#   --kwire-runs R          kwire runs; the median is reported (default 3)
#   --shuffle-partitions S  Spark's spark.sql.shuffle.partitions (default 2 =
#                           local[2] cores; Spark's own default of 200 is slower)
#
# kwire: $KWIRE (a release binary) if set, else built with cargo --release.
# Broker: $KWIRE_BENCH_BOOTSTRAP (default 127.0.0.1:9092); a single node is
# started there (and stopped afterwards) if none answers.
# Data: N deterministic voter lines (scripts/bench/stream/gen_voters.py), cached
# in ~/.cache/kwire/bench/, loaded with kcat (lz4, acks=all) into a fresh topic
# that is deleted afterwards.
# PySpark: pyspark $KWIRE_BENCH_PYSPARK (default 3.5.7) from PyPI into
# ~/.cache/kwire/venv-spark, with spark-sql-kafka-0-10_2.12 of the same Spark
# version from Maven Central through spark.jars.packages (Ivy cache
# ~/.cache/kwire/ivy); Java 17. 3.5.7 is the newest 3.5.x whose Kafka connector
# resolved from the Maven Central this was developed against (3.5.8 and 3.5.9
# did not); any 3.5.x or 4.x works. Spark runs local[2] (the guide's --master).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=scripts/bench/stream

N=5000000 P=1 RUNS=3 SHUFFLE=2 SPARK=1 KEEP=0
while (($#)); do
  case $1 in
    --records) N=$2; shift 2 ;;
    --partitions) P=$2; shift 2 ;;
    --kwire-runs) RUNS=$2; shift 2 ;;
    --shuffle-partitions) SHUFFLE=$2; shift 2 ;;
    --no-spark) SPARK=0; shift ;;
    --keep-topic) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

BOOT=${KWIRE_BENCH_BOOTSTRAP:-127.0.0.1:9092}
CACHE=${KWIRE_CACHE:-$HOME/.cache/kwire}
WORK=$(mktemp -d)
DDL='gender STRING, age LONG, party STRING'

if [[ -z ${KWIRE:-} ]]; then
  cargo build --release -q -p kwire-cli
  KWIRE="${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire"
fi

started=0
if ! python3 scripts/kafka/probe.py "$BOOT" >/dev/null 2>&1; then
  scripts/kafka.sh start --name kwire-bench-stream --port "${BOOT##*:}" >&2
  started=1
fi
TOPIC="bench-stream-voters-$N-$P-$$"
cleanup() {
  if [[ $KEEP == 0 ]]; then "$KWIRE" -b "$BOOT" topics delete "$TOPIC" --if-exists >/dev/null 2>&1 || true; fi
  if [[ $started == 1 ]]; then scripts/kafka.sh stop --name kwire-bench-stream >&2 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { echo "$EPOCHREALTIME"; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }

# ---- data
mkdir -p "$CACHE/bench"
DATA="$CACHE/bench/voters-$N.jsonl"
if [[ ! -s $DATA ]]; then
  echo "generating $N voter records -> $DATA" >&2
  python3 "$HERE/gen_voters.py" "$N" >"$DATA.tmp" && mv "$DATA.tmp" "$DATA"
fi
"$KWIRE" -b "$BOOT" topics create "$TOPIC" --partitions "$P" >/dev/null
t0=$(now)
kcat -P -b "$BOOT" -t "$TOPIC" -z lz4 -X acks=all -X linger.ms=50 -X batch.num.messages=10000 \
  -X batch.size=1000000 -X queue.buffering.max.messages=2000000 -l "$DATA"
t1=$(now)
echo "loaded $N records into $TOPIC ($P partition(s), lz4) in $(secs "$t0" "$t1") s with kcat" >&2

# ---- kwire
for i in $(seq "$RUNS"); do
  t0=$(now)
  "$KWIRE" -b "$BOOT" stream --topic "$TOPIC" --starting-offsets earliest --trigger available-now \
    --select "from_json(CAST(value AS STRING), '$DDL') AS voterJSON" \
    --group-by voterJSON.gender,voterJSON.party --output-mode complete \
    --sink jsonl:- --progress json >"$WORK/kwire-$i.out" 2>"$WORK/kwire-$i.err"
  t1=$(now)
  echo "$t0 $t1" >"$WORK/kwire-$i.time"
  echo "kwire run $i: $(secs "$t0" "$t1") s" >&2
done

# ---- PySpark
if [[ $SPARK == 1 ]]; then
  VENV="$CACHE/venv-spark"
  WANT=${KWIRE_BENCH_PYSPARK:-3.5.7}
  if [[ $("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)' 2>/dev/null) != "$WANT" ]]; then
    echo "installing pyspark $WANT into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "pyspark==$WANT"
  fi
  SV=$("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)')
  SCALA=2.12
  [[ $SV == 4.* ]] && SCALA=2.13
  PKG="org.apache.spark:spark-sql-kafka-0-10_$SCALA:$SV"
  echo "running PySpark $SV with $PKG (local[2], spark.sql.shuffle.partitions=$SHUFFLE)" >&2
  t0=$(now)
  "$VENV/bin/python" "$HERE/spark_voters.py" "$BOOT" "$TOPIC" "$PKG" "$CACHE/ivy" "$SHUFFLE" \
    >"$WORK/spark.out" 2>"$WORK/spark.err" || { tail -30 "$WORK/spark.err" >&2; exit 1; }
  t1=$(now)
  echo "$t0 $t1" >"$WORK/spark.time"
fi

# ---- report
python3 - "$WORK" "$N" "$P" "$RUNS" "$SPARK" "$(nproc)" <<'EOF'
import json, statistics, sys
work, n, p, runs, spark, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6]

def key(r):
    return (r[0] is not None, r[0] or "", r[1] is not None, r[1] or "")

kw = []
for i in range(1, runs + 1):
    t0, t1 = map(float, open(f"{work}/kwire-{i}.time").read().split())
    prog = [json.loads(l) for l in open(f"{work}/kwire-{i}.err") if l.startswith("{")]
    rows = [json.loads(l) for l in open(f"{work}/kwire-{i}.out") if l.strip()]
    last = prog[-1]["sink"]["numOutputRows"]
    table = sorted([[r.get("gender"), r.get("party"), r["count"]] for r in rows[len(rows) - last:]], key=key)
    batch_s = sum(pr["durationMs"]["triggerExecution"] for pr in prog) / 1000
    kw.append({"total_s": t1 - t0, "batches_s": batch_s, "rows": sum(pr["numInputRows"] for pr in prog),
               "batches": len(prog), "table": table})
kw.sort(key=lambda r: r["total_s"])
k = kw[len(kw) // 2]
print(f"records: {n} voters, {p} partition(s), lz4; {cores} cores; kwire: median of {runs} runs")
print("start-to-exit: the whole process; batches: sum of the engine's own per-batch triggerExecution (progress)")
print(f"{'':24}{'rows':>10}{'batches':>9}{'start-to-exit':>15}{'rec/s':>13}{'batches':>11}{'rec/s':>13}")
def line(name, r, total, batches):
    print(f"{name:24}{r['rows']:>10}{r['batches']:>9}{total:>13.2f} s{r['rows'] / total:>13,.0f}"
          f"{batches:>9.2f} s{r['rows'] / batches:>13,.0f}")
line("kwire stream", k, k["total_s"], k["batches_s"])
if spark:
    s = json.loads(open(f"{work}/spark.out").read().strip().splitlines()[-1])
    t0, t1 = map(float, open(f"{work}/spark.time").read().split())
    s["table"] = sorted(s["table"], key=key)
    line(s["engine"], s, t1 - t0, s["batches_s"])
    print(f"  (Spark: {s['startup_s']:.1f} s for JVM, session and --packages resolution; "
          f"query start to termination {s['query_s']:.2f} s = {s['rows'] / s['query_s']:,.0f} rec/s)")
    r_batch = (k["rows"] / k["batches_s"]) / (s["rows"] / s["batches_s"])
    r_query = (k["rows"] / k["total_s"]) / (s["rows"] / s["query_s"])
    r_total = (k["rows"] / k["total_s"]) / (s["rows"] / (t1 - t0))
    print(f"ratio kwire/Spark in records/s: {r_batch:.1f}x batches, {r_query:.1f}x kwire start-to-exit vs Spark "
          f"query start-to-termination, {r_total:.1f}x start-to-exit")
    same = k["table"] == s["table"]
    print(f"result tables: {'identical' if same else 'DIFFERENT'} ({len(k['table'])} groups; "
          f"{sum(r[2] for r in k['table'])} rows counted by kwire, {sum(r[2] for r in s['table'])} by Spark)")
    if not same:
        print("  kwire:", k["table"])
        print("  spark:", s["table"])
print()
print(f"{'gender':>8} {'party':>12} {'count':>10}")
for r in k["table"]:
    print(f"{r[0] or 'NULL':>8} {r[1] or 'NULL':>12} {r[2]:>10}")
EOF
