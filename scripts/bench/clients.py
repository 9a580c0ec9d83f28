#!/usr/bin/env python3
"""Side-by-side client benchmarks on one broker, in one run: kwire vs Kafka's
Java perf tools vs librdkafka (kcat). Prints figures and ratios; asserts nothing.

  clients.py produce [--records N] [--size B] [--runs R] [--codec C] [--acks A] [--partitions P] [--json FILE]
                     [--baseline KWIRE_BIN] [--only kwire,kcat,...]
  clients.py consume [--records N] [--size B] [--runs R] [--codec C] [--partitions P] [--json FILE]

--json FILE also writes the settings, every run and the medians as JSON (for
scripts/bench/all.sh, which builds BENCHMARKS.md from it). --baseline BIN adds
another kwire build (e.g. the previous commit's) as client "kwire-baseline",
run interleaved with the others, for before/after rows from one run; --only
limits the clients.

Every client gets the same topic layout, record size, acks, linger.ms,
batch.size and codec; each is timed from process start to exit (so JVM
start-up counts against Java — the run sizes make that small) with its CPU
time (user+sys) and peak RSS from wait4. Each produce run writes a fresh
topic and checks that every record arrived. Medians over --runs.

The broker: $KWIRE_BENCH_BOOTSTRAP, else a single node started here
(scripts/kafka.sh --name kwire-bench --port 28192) and stopped afterwards.
"""
import argparse
import re
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KAFKA = os.path.join(ROOT, "scripts", "kafka.sh")
MEASURE = os.path.join(ROOT, "scripts", "bench", "measure.py")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
KWIRE = os.environ.get("KWIRE_BENCH_KWIRE") or os.path.join(TARGET, "release", "kwire")


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def measure(cmd, stdin=None, stdout=None):
    args = [sys.executable, MEASURE]
    if stdin:
        args += ["--stdin", stdin]
    if stdout:
        args += ["--stdout", stdout]
    out = subprocess.run(args + ["--"] + cmd, check=True, text=True, stdout=subprocess.PIPE).stdout
    r = json.loads(out.strip().splitlines()[-1])
    if r["exit"] != 0:
        raise SystemExit(f"benchmark command failed ({r['exit']}): {' '.join(cmd)}")
    return r


def kwire(boot, *args):
    return sh(KWIRE, "-b", boot, *args)


def committed_records(boot, topic):
    """Records a read_committed consumer reads (transaction markers take offsets too)."""
    r = subprocess.run([KWIRE, "-b", boot, "consume", "-t", topic, "--from-beginning", "-e",
                        "--isolation-level", "read_committed"], check=True, text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    m = re.search(r"Processed a total of (\d+) messages", r.stderr)
    return int(m.group(1)) if m else -1


def end_offset(boot, topic):
    doc = json.loads(kwire(boot, "topics", "describe", topic, "--format", "json"))
    total = 0
    for p in doc[0]["partitions"]:
        out = kwire(boot, "consume", "-t", topic, "-p", str(p["partition"]), "-o", "-1", "-e", "--format", "json")
        lines = out.strip().splitlines()
        if lines:
            total += json.loads(lines[-1])["offset"] + 1
    return total


class Broker:
    def __init__(self):
        self.boot = os.environ.get("KWIRE_BENCH_BOOTSTRAP")
        self.started = False

    def __enter__(self):
        if not self.boot:
            self.boot = "127.0.0.1:28192"
            probe = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/kafka/probe.py"), self.boot],
                                   capture_output=True)
            if probe.returncode != 0:
                subprocess.run([KAFKA, "start", "--name", "kwire-bench", "--port", "28192"], check=True)
                self.started = True
        return self

    def __exit__(self, *exc):
        if self.started:
            subprocess.run([KAFKA, "stop", "--name", "kwire-bench"], check=False)


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "unknown"


def payload_file(n, size, path):
    rnd = random.Random(7)
    line = bytes(rnd.randrange(65, 91) for _ in range(size)) + b"\n"
    with open(path, "wb") as f:
        chunk = line * 10_000
        for _ in range(n // 10_000):
            f.write(chunk)
        f.write(line * (n % 10_000))


def table(rows, records, size):
    base = rows[0]
    mb = records * size / 1024 / 1024
    print()
    print(f"| client | records/s | MB/s | wall s | CPU s per 1M records | peak RSS MB | throughput vs {base['client']} | CPU/record vs {base['client']} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        rps = records / r["wall_s"]
        cpu_m = r["cpu_s"] / (records / 1e6)
        print(f"| {r['client']} | {rps:,.0f} | {mb / r['wall_s']:.1f} | {r['wall_s']:.2f} | {cpu_m:.2f} | "
              f"{r['max_rss_mb']:.0f} | {base['wall_s'] / r['wall_s']:.2f}x | {r['cpu_s'] / base['cpu_s']:.2f}x |")


def dump(a, rows, results, extra):
    if not a.json:
        return
    doc = {"what": a.what, "records": a.records, "size": a.size, "runs": a.runs, "codec": a.codec,
           "partitions": a.partitions, "settings": extra, "medians": rows, "all_runs": results,
           "loadavg": os.getloadavg()}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)


def median_runs(runs):
    keys = ["wall_s", "cpu_s", "max_rss_mb"]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def clients(a, default):
    """The clients to run: --only, else the default, plus kwire-baseline after kwire with --baseline."""
    names = a.only.split(",") if a.only else list(default)
    if a.baseline and "kwire-baseline" not in names:
        names.insert(names.index("kwire") + 1 if "kwire" in names else 0, "kwire-baseline")
    return names


def produce(a, boot):
    tmp = tempfile.mkdtemp(prefix="kwire-bench-")
    pf = os.path.join(tmp, "payload.txt")
    payload_file(a.records, a.size, pf)
    common = {"acks": a.acks, "linger.ms": "5", "batch.size": "16384", "compression.type": a.codec}
    # kcat has no transactions.
    results = {c: [] for c in clients(a, ["kwire", "java"] if a.transaction_ms else ["kwire", "java", "kcat"])}
    txn = []
    if a.transaction_ms:
        txn = ["--transactional-id", f"bench-txn-{os.getpid()}", "--transaction-duration-ms", str(a.transaction_ms)]
    for run in range(a.runs):
        for client in results:
            topic = f"bench-produce-{client}-{os.getpid()}-{run}"
            kwire(boot, "topics", "create", topic, "--partitions", str(a.partitions))
            if client in ("kwire", "kwire-baseline"):
                props = [f"{k}={v}" for k, v in common.items()]
                binary = KWIRE if client == "kwire" else a.baseline
                cmd = [binary, "-b", boot, "perf", "produce", "--topic", topic, "--num-records", str(a.records),
                       "--record-size", str(a.size), "--throughput", "-1", *txn, "--producer-property", *props]
                r = measure(cmd)
            elif client == "java":
                props = [f"{k}={v}" for k, v in common.items()] + [f"bootstrap.servers={boot}"]
                cmd = [KAFKA, "tool", "ProducerPerformance", "--topic", topic, "--num-records", str(a.records),
                       "--record-size", str(a.size), "--throughput", "-1", *txn, "--producer-props", *props]
                r = measure(cmd)
            else:
                cmd = ["kcat", "-P", "-b", boot, "-t", topic, "-X", f"acks={a.acks}", "-X", "linger.ms=5",
                       "-X", "batch.size=16384", "-X", f"compression.codec={a.codec}",
                       "-X", "queue.buffering.max.kbytes=32768", "-l", pf]
                r = measure(cmd)
            got = committed_records(boot, topic) if a.transaction_ms else end_offset(boot, topic)
            if got != a.records:
                raise SystemExit(f"{client} wrote {got} of {a.records} records")
            kwire(boot, "topics", "delete", topic)
            r["client"] = client
            results[client].append(r)
            print(f"run {run + 1} {client}: {json.dumps(r)}", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    rows = [dict(median_runs(v), client=k) for k, v in results.items()]
    print(f"\nproduce: {a.records:,} records x {a.size} B, acks={a.acks}, linger.ms=5, batch.size=16384, "
          f"codec={a.codec}, {a.partitions} partition(s), "
          + (f"transactions of {a.transaction_ms} ms, " if a.transaction_ms else "")
          + f"median of {a.runs} runs")
    table(rows, a.records, a.size)
    dump(a, rows, results, {"acks": a.acks, "linger.ms": 5, "batch.size": 16384})


def consume(a, boot):
    topic = f"bench-consume-{os.getpid()}"
    kwire(boot, "topics", "create", topic, "--partitions", str(a.partitions))
    sh(KWIRE, "-b", boot, "perf", "produce", "--topic", topic, "--num-records", str(a.records), "--record-size",
       str(a.size), "--producer-property", f"compression.type={a.codec}", "batch.size=65536", "linger.ms=20")
    # kcat has no transactions.
    results = {c: [] for c in clients(a, ["kwire", "java"] if a.transaction_ms else ["kwire", "java", "kcat"])}
    txn = []
    if a.transaction_ms:
        txn = ["--transactional-id", f"bench-txn-{os.getpid()}", "--transaction-duration-ms", str(a.transaction_ms)]
    for run in range(a.runs):
        for client in results:
            if client in ("kwire", "kwire-baseline"):
                binary = KWIRE if client == "kwire" else a.baseline
                cmd = [binary, "-b", boot, "perf", "consume", "--topic", topic, "--messages", str(a.records)]
            elif client == "java":
                cmd = [KAFKA, "tool", "ConsumerPerformance", "--bootstrap-server", boot, "--topic", topic,
                       "--num-records", str(a.records), "--timeout", "30000",
                       "--command-property", "auto.offset.reset=earliest",
                       "--group", f"bench-{os.getpid()}-{run}"]
            else:
                cmd = ["kcat", "-C", "-b", boot, "-t", topic, "-o", "beginning", "-e", "-q", "-c", str(a.records),
                       "-f", "%s\n"]
            r = measure(cmd)
            r["client"] = client
            results[client].append(r)
            print(f"run {run + 1} {client}: {json.dumps(r)}", flush=True)
    kwire(boot, "topics", "delete", topic)
    rows = [dict(median_runs(v), client=k) for k, v in results.items()]
    gb = a.records * a.size / 1e9
    print(f"\nconsume: {a.records:,} records x {a.size} B, codec={a.codec}, {a.partitions} partition(s), "
          f"median of {a.runs} runs (CPU per GB: " +
          ", ".join(f"{r['client']} {r['cpu_s'] / gb:.1f} s" for r in rows) + ")")
    table(rows, a.records, a.size)
    dump(a, rows, results, {})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["produce", "consume"])
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--codec", default="none")
    ap.add_argument("--acks", default="all")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--transaction-ms", type=int,
                    help="produce in transactions committed every MS ms (kwire and Java's --transaction-duration-ms)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--baseline", help="another kwire binary to compare with (client kwire-baseline)")
    ap.add_argument("--only", help="comma-separated clients to run (kwire, kwire-baseline, java, kcat)")
    a = ap.parse_args()
    if not os.environ.get("KWIRE_BENCH_SKIP_BUILD"):   # all.sh builds once, then sets it
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "kwire-cli"], check=True, cwd=ROOT)
    subprocess.run([os.path.join(ROOT, "scripts", "install-peers.sh")], check=True, stdout=subprocess.DEVNULL)
    print(f"machine: {os.cpu_count()} cores; kwire {version_of([KWIRE, '--version'])}; "
          f"Kafka {os.environ.get('KWIRE_KAFKA_VERSION', '4.4.0')} (Java client and broker); "
          f"{version_of(['kcat', '-V'])}")
    with Broker() as b:
        (produce if a.what == "produce" else consume)(a, b.boot)


if __name__ == "__main__":
    main()
