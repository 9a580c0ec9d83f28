#!/usr/bin/env bash
# scripts/interop.sh — the interop matrix: records written by each of {kwire, Kafka's
# Java console producer, kcat} with each codec {none, gzip, snappy, lz4, zstd} must be
# read byte-identical — key, value, headers, timestamp — by each of {kwire, Kafka's
# Java console consumer, kcat}. Prints a 15x3 table; exits 1 on any mismatch.
#
#   scripts/interop.sh [--records N] [--kwire PATH] [--keep]
#
#   --records N   records per writer and codec (default 12; one topic each)
#   --kwire PATH  the binary to test (default: build it, release, and use that)
#   --keep        keep the work directory (inputs and every reader's raw output)
#
# Broker: $KWIRE_INTEROP_BOOTSTRAP if set, else a single node of Kafka
# $KWIRE_KAFKA_VERSION (default 4.4.0) started here as instance 'interop' on port
# 49800 and stopped afterwards; the Java tools are of the same version (console
# producer headers need 3.2+). Needs java 17, kcat (scripts/install-peers.sh), python3.
#
# What each writer sends, per topic (one partition, so order is the write order):
# keys and values with UTF-8, spaces, punctuation and one 6 KB value (so every codec
# really compresses), and two headers per record (the same two on every record, as
# kcat -H and the console producer can only send fixed or per-line text headers).
# The value starts with "writer|codec|i|", so a reader of many topics at once can tell
# records apart. Timestamps: kwire sets its own (and they must come back as sent); the
# other writers let the client stamp CreateTime, so all three readers must agree.
# JVM start-up is the slow part, so the Java producers run in parallel and the Java
# console consumer is one process reading all 15 topics (--include).
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
command -v kcat >/dev/null || die "kcat not found (run scripts/install-peers.sh)"
if [[ -z $KWIRE ]]; then
  (cd "$ROOT" && cargo build --release -q -p kwire-cli) || die "building kwire failed"
  KWIRE=${CARGO_TARGET_DIR:-$ROOT/target}/release/kwire
fi
[[ -x $KWIRE ]] || die "kwire binary not found at $KWIRE"

WORK=$(mktemp -d /tmp/kwire-interop.XXXXXX)
STARTED=0
BOOT=${KWIRE_INTEROP_BOOTSTRAP:-}
cleanup() {
  if ((STARTED)); then "$KAFKA" stop --name interop >/dev/null 2>&1 || true; fi
  if ((KEEP)); then echo "interop.sh: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [[ -z $BOOT ]]; then
  BOOT=127.0.0.1:49800
  "$KAFKA" start --name interop --port 49800 >"$WORK/broker.log" 2>&1 ||
    { tail -n 20 "$WORK/broker.log" >&2; die "could not start the broker (scripts/kafka.sh start --name interop)"; }
  STARTED=1
fi

KWIRE=$KWIRE KAFKA=$KAFKA BOOT=$BOOT WORK=$WORK N=$N python3 - <<'PY'
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time

KWIRE, KAFKA, BOOT, WORK, N = (os.environ[k] for k in ("KWIRE", "KAFKA", "BOOT", "WORK", "N"))
N = int(N)
WRITERS = ["kwire", "java", "kcat"]
READERS = ["kwire", "java", "kcat"]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
RUN = str(os.getpid())
US = "\x1f"                      # key/field separator: never in keys or values
HEADERS = [("trace-id", "abc-123"), ("kind", "élan ✓")]


def topic(w, c):
    return f"interop-{RUN}-{w}-{c}"


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        sys.exit(f"interop.sh: command failed ({p.returncode}): {' '.join(cmd)}\n"
                 f"{p.stderr.decode(errors='replace')[-2000:]}")
    return p.stdout


def records(w, c):
    """The records writer w sends with codec c: [(key, value, ts or None)]."""
    out = []
    base = 1_700_000_000_000 + 1000 * CODECS.index(c)
    for i in range(N):
        body = {0: "plain ascii", 1: "UTF-8: Grüße, naïve café, 東京, emoji 🚀",
                2: "sp  aces\tand\ttabs, \"quotes\", \\backslash\\ {json: [1,2]}",
                3: "".join(chr(65 + (j * 7) % 26) for j in range(6000))}.get(i % 5, f"record {i} " + "x" * (i * 13))
        out.append((f"key-{i}-ä", f"{w}|{c}|{i}|{body}", base + i if w == "kwire" else None))
    return out


# ---------------------------------------------------------------- topics
t0 = time.monotonic()
for w in WRITERS:
    for c in CODECS:
        run([KWIRE, "-b", BOOT, "topics", "create", topic(w, c), "--partitions", "1"])

# ---------------------------------------------------------------- writers
started = int(time.time() * 1000)


def write_kwire(c):
    lines = [json.dumps({"key": k, "value": v, "timestamp": ts, "headers": [[hk, hv] for hk, hv in HEADERS]},
                        ensure_ascii=False) for k, v, ts in records("kwire", c)]
    run([KWIRE, "-b", BOOT, "produce", "-t", topic("kwire", c), "--format", "json", "--acks", "all",
         "--compression", c], input=("\n".join(lines) + "\n").encode())


def write_java(c):
    # parse.headers (KIP-798): "h1:v1,h2:v2" + headers.delimiter + key + key.separator + value
    hs = ",".join(f"{k}:{v}" for k, v in HEADERS)
    lines = [f"{hs}{US}{US}{k}{US}{v}" for k, v, _ in records("java", c)]
    run([KAFKA, "tool", "ConsoleProducer", "--bootstrap-server", BOOT, "--topic", topic("java", c),
         "--compression-codec", c, "--request-required-acks", "all",
         "--property", "parse.key=true", "--property", f"key.separator={US}",
         "--property", "parse.headers=true", "--property", f"headers.delimiter={US}{US}",
         "--property", "headers.separator=,", "--property", "headers.key.separator=:",
         "--producer-property", "linger.ms=50"],
        input=("\n".join(lines) + "\n").encode())


def write_kcat(c):
    lines = [f"{k}{US}{v}" for k, v, _ in records("kcat", c)]
    cmd = ["kcat", "-P", "-b", BOOT, "-t", topic("kcat", c), "-K", US, "-z", c, "-X", "acks=all",
           "-X", "linger.ms=50"]
    for k, v in HEADERS:
        cmd += ["-H", f"{k}={v}"]
    run(cmd, input=("\n".join(lines) + "\n").encode())


with cf.ThreadPoolExecutor(max_workers=5) as ex:
    # The five JVMs start together (the slow part); kwire and kcat meanwhile.
    futs = [ex.submit(write_java, c) for c in CODECS]
    for c in CODECS:
        write_kwire(c)
        write_kcat(c)
    for f in futs:
        f.result()
t_write = time.monotonic() - t0

# ---------------------------------------------------------------- readers
# Each reader's output is normalised to {(writer, codec): [(key, value, headers, ts)]}.
def add(got, key, value, headers, ts):
    w, c = value.split("|", 2)[:2]
    got.setdefault((w, c), []).append((key, value, tuple(headers), ts))


def read_kwire():
    got = {}
    for w in WRITERS:
        for c in CODECS:
            out = run([KWIRE, "-b", BOOT, "consume", "-t", topic(w, c), "--from-beginning", "-e", "--format", "json"])
            open(f"{WORK}/kwire-{w}-{c}.jsonl", "wb").write(out)
            for line in out.decode().splitlines():
                r = json.loads(line)
                add(got, r["key"], r["value"], [(h["key"], h["value"]) for h in r["headers"]], r["timestamp"])
    return got


def read_kcat():
    got = {}
    for w in WRITERS:
        for c in CODECS:
            out = run(["kcat", "-C", "-b", BOOT, "-t", topic(w, c), "-o", "beginning", "-e", "-q", "-J"])
            open(f"{WORK}/kcat-{w}-{c}.jsonl", "wb").write(out)
            for line in out.decode().splitlines():
                r = json.loads(line)
                h = r.get("headers") or []
                add(got, r["key"], r["payload"], list(zip(h[0::2], h[1::2])), r["ts"])
    return got


def read_java():
    # One JVM for all 15 topics; fields separated by US, records by a line break
    # (no value contains one). Formatter output: CreateTime:TS US headers US key US value.
    props = ["print.timestamp=true", "print.headers=true", "print.key=true", f"key.separator={US}",
             "headers.separator=\x1e", "line.separator=\n"]
    cmd = [KAFKA, "tool", "ConsoleConsumer", "--bootstrap-server", BOOT, "--include", f"interop-{RUN}-.*",
           "--from-beginning", "--max-messages", str(15 * N), "--timeout-ms", "60000"]
    flag = "--formatter-property" if int(os.environ.get("KWIRE_KAFKA_VERSION", "4.4.0").split(".")[0]) >= 4 \
        else "--property"
    for p in props:
        cmd += [flag, p]
    out = run(cmd)
    open(f"{WORK}/java.txt", "wb").write(out)
    got = {}
    for line in out.decode().split("\n"):
        if not line.startswith(("CreateTime:", "LogAppendTime:")):
            continue
        ts, hs, key, value = line.split(US, 3)
        headers = [] if hs == "NO_HEADERS" else [tuple(h.split(":", 1)) for h in hs.split("\x1e")]
        add(got, key, value, headers, int(ts.split(":", 1)[1]))
    return got


t1 = time.monotonic()
with cf.ThreadPoolExecutor(max_workers=3) as ex:
    jf = ex.submit(read_java)
    results = {"kwire": read_kwire(), "kcat": read_kcat()}
    results["java"] = jf.result()
t_read = time.monotonic() - t1

# ---------------------------------------------------------------- compare
def majority_ts(w, c, i):
    """The CreateTime most readers report for record i (writers other than kwire stamp it)."""
    seen = [results[r][(w, c)][i][3] for r in READERS if len(results[r].get((w, c), [])) > i]
    return max(set(seen), key=seen.count) if seen else None


failed = 0
print(f"\ninterop matrix: {N} records per writer and codec, broker {BOOT} "
      f"(Kafka {os.environ.get('KWIRE_KAFKA_VERSION', '4.4.0')}); writes {t_write:.1f} s, reads {t_read:.1f} s")
print("| writer / codec | read by kwire | read by Java console consumer | read by kcat |")
print("|---|---|---|---|")
problems = []
for w in WRITERS:
    for c in CODECS:
        want = records(w, c)
        cells = []
        # The timestamp every reader must report: kwire's own, else what most readers say.
        for r in READERS:
            got = results[r].get((w, c), [])
            why = None
            if len(got) != len(want):
                why = f"{len(got)} of {len(want)} records"
            else:
                for i, ((k, v, ts), (gk, gv, gh, gts)) in enumerate(zip(want, got)):
                    ref_ts = ts if ts is not None else majority_ts(w, c, i)
                    if (gk, gv) != (k, v):
                        why = f"record {i}: key/value differ"
                    elif list(gh) != HEADERS:
                        why = f"record {i}: headers {list(gh)}"
                    elif gts != ref_ts or (ts is None and not started - 60_000 <= gts <= started + 600_000):
                        why = f"record {i}: timestamp {gts}, want {ref_ts}"
                    if why:
                        break
            cells.append("ok" if why is None else "MISMATCH")
            if why:
                failed += 1
                problems.append(f"{w}/{c} read by {r}: {why}")
        print(f"| {w} / {c} | " + " | ".join(cells) + " |")
for p in problems:
    print("  " + p)
# Tidy up the topics (best effort).
subprocess.run([KWIRE, "-b", BOOT, "topics", "delete", *[topic(w, c) for w in WRITERS for c in CODECS]],
               capture_output=True)
if failed:
    sys.exit(f"interop.sh: {failed} of 45 cells mismatched")
print("interop.sh: all 45 cells byte-identical (key, value, headers, timestamp)")
PY
