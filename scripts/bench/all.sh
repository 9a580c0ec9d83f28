#!/usr/bin/env bash
# scripts/bench/all.sh — every side-by-side benchmark in one run, written up as
# BENCHMARKS.md (and the chart BENCHMARKS.svg) at the repository root:
#   - physical ceilings: loopback TCP throughput (iperf3, else a Python socket pump)
#     and memory-copy bandwidth, for reference
#   - record batch decode micro-benchmark: kwire vs kafka-protocol's RecordBatchDecoder
#     on the same bytes (criterion, crates/proto/benches/records.rs)
#   - start-up: `kwire topics list` vs kafka-topics.sh --list (scripts/bench/topics.sh)
#   - produce: kwire perf produce vs Kafka's ProducerPerformance vs kcat (librdkafka),
#     same acks/linger/batch/codec (scripts/bench/clients.py produce)
#   - consume: kwire perf consume vs Kafka's ConsumerPerformance vs kcat
#     (scripts/bench/clients.py consume)
#   - stream: `kwire stream` vs PySpark Structured Streaming on the guide's grouped
#     count (scripts/bench/stream.sh), when that script is present
#   - stream scaled out: `kwire stream --application-id` on 1-3 instances vs Kafka
#     Streams 4.4.0 vs PySpark on the same data (scripts/bench/stream_scaleout.py)
#   - library peers: kwire's crates vs krafka, rskafka, rdkafka (librdkafka), franz-go
#     and the Java client, one program each under bench/peers (scripts/bench/peers.py:
#     produce none/lz4/zstd, consume, group, fixed-rate latency, 1-1,000 partitions;
#     the 3-node e2e latency when $KWIRE_BENCH_BOOTSTRAP_3 is set)
# Every pair runs in the same invocation against the same broker; medians over
# --runs; client CPU (user+sys) and peak RSS from wait4. Measures, asserts nothing.
#
#   scripts/bench/all.sh [--quick] [--runs R] [--records N] [--stream-records N]
#                        [--no-stream] [--no-peers] [--no-decode] [--out FILE]
#
#   --quick             small sizes (2-core CI-class machines): 300k records, 3 runs
#   --runs R            runs per client (default 5; 3 with --quick)
#   --records N         records for produce/consume (default 2000000)
#   --stream-records N  voter records for the stream benchmark (default 2000000;
#                       500000 with --quick)
#   --out FILE          the report (default BENCHMARKS.md; the chart goes next to it)
#   --kwire PATH        benchmark this kwire binary instead of building one (release)
#   --decode-bin PATH   run this already-built criterion executable of
#                       crates/proto/benches/records.rs instead of `cargo bench`
#
# Broker: $KWIRE_BENCH_BOOTSTRAP, else a single node of Kafka $KWIRE_KAFKA_VERSION
# (default 4.4.0) started here (scripts/kafka.sh --name kwire-bench --port 28192)
# and stopped afterwards. Raw outputs stay in $KWIRE_BENCH_DIR (a temp dir).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

ALL_ARGS=$*
QUICK=0 RUNS='' N='' SN='' STREAM=1 PEERS=1 DECODE=1 OUT=BENCHMARKS.md KWIRE='' DECODE_BIN=''
while (($#)); do
  case $1 in
    --quick) QUICK=1; shift ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --records) N=${2:?--records needs a value}; shift 2 ;;
    --stream-records) SN=${2:?--stream-records needs a value}; shift 2 ;;
    --no-stream) STREAM=0; shift ;;
    --no-peers) PEERS=0; shift ;;
    --no-decode) DECODE=0; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --kwire) KWIRE=${2:?--kwire needs a value}; shift 2 ;;
    --decode-bin) DECODE_BIN=${2:?--decode-bin needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "all.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then RUNS=${RUNS:-3} N=${N:-300000} SN=${SN:-500000}; else RUNS=${RUNS:-5} N=${N:-2000000} SN=${SN:-2000000}; fi
log() { echo "all.sh: $*" >&2; }
die() { log "$@"; exit 1; }

WORK=${KWIRE_BENCH_DIR:-$(mktemp -d /tmp/kwire-bench-all.XXXXXX)}
mkdir -p "$WORK"
CMDS=$WORK/commands.txt
: >"$CMDS"
# step NAME CMD...: run CMD, log it (or $DESC) to commands.txt, its stdout to $WORK/NAME.out.
step() {
  local name=$1; shift
  log "$name: $*"
  printf '%s\n' "${DESC:-$*}" >>"$CMDS"
  cut -d' ' -f1-3 /proc/loadavg >"$WORK/$name.load"
  if ! "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
    tail -n 20 "$WORK/$name.err" >&2
    log "$name failed (output in $WORK/$name.*); continuing"
    echo failed >"$WORK/$name.failed"
  fi
}

if [[ -z $KWIRE ]]; then
  cargo build --release -q -p kwire-cli || die "building kwire failed"
  KWIRE=${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire
fi
[[ -x $KWIRE ]] || die "kwire binary not found at $KWIRE"
KWIRE=$(realpath "$KWIRE")
# clients.py and topics.sh benchmark this binary and skip their own build. stream.sh
# runs `cargo build` and uses $CARGO_TARGET_DIR/release/kwire: when that is this
# binary, it runs with a `cargo` shim on PATH that skips the (re)build.
export KWIRE_BENCH_SKIP_BUILD=1 KWIRE_BENCH_KWIRE=$KWIRE
SHIM=$WORK/shim
mkdir -p "$SHIM"
# shellcheck disable=SC2016  # the shim's own $1 and $@, written literally
printf '%s\n' '#!/usr/bin/env bash' \
  '[[ ${1:-} == build ]] && exit 0   # scripts/bench/all.sh already built kwire' \
  "exec $(command -v cargo) \"\$@\"" >"$SHIM/cargo"
chmod +x "$SHIM/cargo"
scripts/install-peers.sh >/dev/null 2>"$WORK/peers.txt" || die "scripts/install-peers.sh failed"

started=0
BOOT=${KWIRE_BENCH_BOOTSTRAP:-}
cleanup() {
  if ((started)); then scripts/kafka.sh stop --name kwire-bench >/dev/null 2>&1 || true; fi
  if [[ -n ${IPERF_PID:-} ]]; then kill "$IPERF_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
if [[ -z $BOOT ]]; then
  BOOT=127.0.0.1:28192
  if ! python3 scripts/kafka/probe.py "$BOOT" >/dev/null 2>&1; then
    scripts/kafka.sh start --name kwire-bench --port 28192 >&2 || die "could not start the benchmark broker"
    started=1
  fi
fi
export KWIRE_BENCH_BOOTSTRAP=$BOOT
cut -d' ' -f1-3 /proc/loadavg >"$WORK/start.load"

# ---------------------------------------------------------------- ceilings
loopback() {                              # prints GB/s (bytes, not bits)
  if command -v iperf3 >/dev/null; then
    iperf3 -s -p 49250 -1 >/dev/null 2>&1 &
    IPERF_PID=$!
    sleep 0.5
    iperf3 -c 127.0.0.1 -p 49250 -t 5 -J | python3 -c 'import json,sys
d=json.load(sys.stdin); print("%.2f iperf3 (1 stream, 5 s)" % (d["end"]["sum_received"]["bits_per_second"] / 8e9))'
    wait "$IPERF_PID" 2>/dev/null || true
    IPERF_PID=''
  else
    python3 - <<'EOF'
import socket, threading, time
N, BUF = 8 << 30, 1 << 20
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def pump():
    c = socket.create_connection(srv.getsockname()); b = bytes(BUF); sent = 0
    while sent < N: c.sendall(b); sent += BUF
    c.close()
threading.Thread(target=pump, daemon=True).start()
s, _ = srv.accept(); buf = bytearray(BUF); got = 0; t0 = time.monotonic()
while True:
    n = s.recv_into(buf)
    if not n: break
    got += n
print("%.2f python socket pump (1 stream, 1 MiB writes)" % (got / (time.monotonic() - t0) / 1e9))
EOF
  fi
}
membw() {                                 # memcpy of 256 MiB buffers, GB/s copied
  python3 - <<'EOF'
import time
n = 256 << 20
a = bytearray(b"x" * n); b = bytearray(n)
best = 0
for _ in range(8):
    t0 = time.perf_counter(); b[:] = a; dt = time.perf_counter() - t0
    best = max(best, n / dt / 1e9)
print("%.2f memcpy 256 MiB (best of 8; read+write traffic is twice this)" % best)
EOF
}
DESC="iperf3 -s -p 49250 -1 & iperf3 -c 127.0.0.1 -p 49250 -t 5 -J   # loopback TCP ceiling" step loopback loopback
DESC="python3: bytearray copy of 256 MiB, best of 8   # memory bandwidth (all.sh membw)" step membw membw

# ---------------------------------------------------------------- decode micro-benchmark
if ((DECODE)); then
  if [[ -n $DECODE_BIN ]]; then
    step decode env CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}" "$DECODE_BIN" --bench records_decode \
      --warm-up-time 1 --measurement-time 3
  else
    step decode cargo bench -q -p kwire-proto --bench records -- records_decode --warm-up-time 1 --measurement-time 3
  fi
fi

# ---------------------------------------------------------------- client benchmarks
step topics scripts/bench/topics.sh "$((RUNS * 2))"
step produce python3 scripts/bench/clients.py produce --records "$N" --runs "$RUNS" --json "$WORK/produce.json"
step produce_lz4 python3 scripts/bench/clients.py produce --records "$N" --runs "$RUNS" --codec lz4 --json "$WORK/produce_lz4.json"
step produce_txn python3 scripts/bench/clients.py produce --records "$N" --runs "$RUNS" --transaction-ms 100 --json "$WORK/produce_txn.json"
step consume python3 scripts/bench/clients.py consume --records "$N" --runs "$RUNS" --json "$WORK/consume.json"
if ((STREAM)) && [[ -x scripts/bench/stream.sh ]]; then
  if [[ $KWIRE == "$(realpath -m "${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire")" ]]; then
    PATH="$SHIM:$PATH" step stream scripts/bench/stream.sh --records "$SN" --kwire-runs "$RUNS"
  else
    step stream scripts/bench/stream.sh --records "$SN" --kwire-runs "$RUNS"
  fi
else
  log "stream: skipped (--no-stream or scripts/bench/stream.sh absent)"
fi
if ((STREAM)); then
  step stream_scaleout env KWIRE="$KWIRE" python3 scripts/bench/stream_scaleout.py --records "$SN"
fi
if ((PEERS)); then
  # The library peers (issue 20): kwire's crates vs krafka, rskafka, rdkafka,
  # franz-go and the Java client, each through its own program (bench/peers).
  PQ=(); ((QUICK)) && PQ=(--quick)
  step peers python3 scripts/bench/peers.py "${PQ[@]}" --runs "$RUNS" --md "$WORK/peers.md" --json "$WORK/peers.json"
else
  log "peers: skipped (--no-peers)"
fi
cut -d' ' -f1-3 /proc/loadavg >"$WORK/end.load"

# ---------------------------------------------------------------- report
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
python3 scripts/bench/report.py "$WORK" "$OUT" "$KWIRE" "$TARGET_DIR" "$QUICK" "$ALL_ARGS"
log "wrote $OUT and ${OUT%.md}.svg (raw outputs in $WORK)"
