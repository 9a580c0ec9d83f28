#!/usr/bin/env python3
"""Before/after in one run: the `kwire` client of two `peerbench` builds
(the one bench/peers/rust builds now, and an older copy given by --old)
against franz-go and rdkafka, producing with one codec, clients alternating
forwards and backwards, medians. Prints a markdown table: records/s, CPU s
per 1M records (user+sys of the process), peak RSS.

  peers-ab.py --old PATH [--bootstrap HOST:PORT] [--runs 5] [--records N]
              [--codec none|gzip|snappy|lz4|zstd] [--clients a,b,...]

Keep the older build with `cp bench/peers/rust/target/release/peerbench
/tmp/peerbench-old` before rebuilding. Broker: --bootstrap, else
$KWIRE_BENCH_BOOTSTRAP (start one with `scripts/kafka.sh start --name
kwire-bench --port 28192`)."""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="an older peerbench binary")
    ap.add_argument("--bootstrap", default=os.environ.get("KWIRE_BENCH_BOOTSTRAP"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--codec", default="zstd")
    ap.add_argument("--clients", default="kwire-old,kwire,franz-go,rdkafka")
    a = ap.parse_args()
    if not a.bootstrap:
        raise SystemExit("peers-ab.py: give --bootstrap or set KWIRE_BENCH_BOOTSTRAP")
    if not os.access(a.old, os.X_OK):
        raise SystemExit(f"peers-ab.py: {a.old} is not an executable peerbench")
    own = peers.command
    peers.command = lambda c: [a.old, "--client", "kwire"] if c == "kwire-old" else own(c)
    clients = a.clients.split(",")
    res = {c: [] for c in clients}
    for k in range(a.runs):
        for c in peers.order(clients, k):
            topic = f"peers-ab-{c}-{k}-{os.getpid()}"
            peers.create(a.bootstrap, topic, 6)
            r = peers.run(c, "produce", ["--bootstrap", a.bootstrap, "--topic", topic, "--records", a.records,
                                         "--size", peers.SIZE, "--compression", a.codec])
            got = peers.end_offsets(a.bootstrap, topic)
            if got != a.records:
                raise SystemExit(f"peers-ab.py: {c} produced {got} of {a.records} records into {topic}")
            peers.delete(a.bootstrap, topic)
            res[c].append(r)
            peers.log(f"{c} round {k}: {r['cpu_s']} CPU s, {r['seconds']} s, {r['rss_mb']} MB")
    print("| client | records/s | CPU s / 1M records | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for c in clients:
        sec = statistics.median(x["seconds"] for x in res[c])
        cpu = statistics.median(x["cpu_s"] for x in res[c]) / a.records * 1e6
        rss = statistics.median(x["rss_mb"] for x in res[c])
        print(f"| {c} | {a.records / sec:,.0f} | {cpu:.2f} | {rss:.1f} |")


if __name__ == "__main__":
    main()
