#!/usr/bin/env python3
"""Library-level benchmarks: kwire's crates against the clients a developer
would otherwise embed — krafka, rskafka, rdkafka (librdkafka), franz-go and
Kafka's Java client — on the same broker, in one run. Prints figures and
ratios to kwire; asserts nothing but the work itself (every record acked,
every consumer's checksum equal to the data's).

  peers.py [--quick] [--runs R] [--records N] [--clients a,b,...]
           [--workloads produce,consume,group,latency,e2e,scale]
           [--partitions-scale 1,10,100,1000] [--rate R] [--json FILE] [--md FILE]
           [--svg FILE]

The programs (bench/peers/: rust/ with --client kwire|krafka|rskafka|rdkafka,
go/ franz-go, java/ kafka-clients) all implement one contract
(bench/peers/README.md): the same payload bytes, null keys, acks=all,
idempotence where the client has it, linger 5 ms, batches up to 1 MB, 5 in
flight; consumers assigned every partition from the earliest offset, a count
and a byte checksum so nothing is optimised away. Each program runs as its
own process under wait4: client CPU (user+sys, all threads, JVM included)
and peak RSS; the program reports its own timing (first send to last ack,
first fetch to last record) and latency percentiles.

Workloads:
  produce   N x 100 B into a fresh 6-partition topic per run, codecs none,
            lz4, zstd; records/s, MB/s, CPU s per 1M records, RSS
  consume   N x 100 B from one 6-partition topic written once
  group     the same topic through each client's group consumer: join time
            and records/s
  latency   produce at a fixed rate (--rate, default 50,000/s; linger 0),
            send-to-ack p50/p99/p99.9
  e2e       produce-to-consume latency at 5,000 records/s, 3-node cluster,
            RF 3, acks=all, on a new topic written once to every partition
            first (needs $KWIRE_BENCH_BOOTSTRAP_3, else skipped)
  scale     produce and consume N records over 1, 10, 100, 1,000
            partitions, and a group join on the 1,000-partition topic

Client order alternates each run (forwards, then backwards); medians over
--runs. Broker: $KWIRE_BENCH_BOOTSTRAP, else a single node started here
(scripts/kafka.sh --name kwire-bench --port 28192) and stopped afterwards.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import Broker, kwire  # noqa: E402

PEERS = os.path.join(ROOT, "bench", "peers")
RUST_BIN = os.path.join(PEERS, "rust", "target", "release", "peerbench")
GO_BIN = os.path.join(PEERS, "go", "franzbench")
JAVA_RUN = os.path.join(PEERS, "java", "run.sh")
ALL_CLIENTS = ["kwire", "krafka", "rskafka", "rdkafka", "franz-go", "java"]
SIZE = 100


def log(msg):
    print(f"peers.py: {msg}", file=sys.stderr, flush=True)


def command(client):
    if client in ("kwire", "krafka", "rskafka", "rdkafka"):
        return [RUST_BIN, "--client", client]
    if client == "franz-go":
        return [GO_BIN]
    if client == "java":
        return [JAVA_RUN]
    raise SystemExit(f"peers.py: unknown client '{client}' (known: {', '.join(ALL_CLIENTS)})")


def build(clients):
    """Builds every program the run needs (release), once."""
    env = dict(os.environ)
    log("building the kwire CLI (release; it makes the topics and checks the offsets)")
    subprocess.run(["cargo", "build", "-q", "--release", "--bin", "kwire"], check=True, cwd=ROOT, env=env)
    if any(c in clients for c in ("kwire", "krafka", "rskafka", "rdkafka")):
        # librdkafka 2.12's CMake build includes <curl/curl.h> even without
        # curl (bench/peers/rust/README.md): the header package, once.
        if not os.path.exists("/usr/include/curl/curl.h") and not os.path.exists(
                "/usr/include/x86_64-linux-gnu/curl/curl.h"):
            log("installing libcurl4-openssl-dev (headers librdkafka's build includes)")
            apt = ["apt-get", "install", "-y", "-q", "libcurl4-openssl-dev"]
            subprocess.run(apt if os.geteuid() == 0 else ["sudo"] + apt, check=True,
                           env={**env, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
        log("building bench/peers/rust (release)")
        subprocess.run(["cargo", "build", "-q", "--release", "--manifest-path",
                        os.path.join(PEERS, "rust", "Cargo.toml")], check=True, env=env)
    if "franz-go" in clients:
        log("building bench/peers/go")
        subprocess.run(["go", "build", "-o", "franzbench", "."], check=True, cwd=os.path.join(PEERS, "go"),
                       env={**env, "GOFLAGS": "-mod=mod"})
    if "java" in clients:
        log("building bench/peers/java")
        subprocess.run([JAVA_RUN, "--build-only"], check=True)


def run(client, workload, args):
    """Runs one program under wait4; returns its JSON with the process's CPU
    (user+sys of it and the children it reaped) and peak RSS."""
    cmd = command(client) + [workload] + [str(a) for a in args]
    # Peak RSS through GNU time: a child forked from this Python process
    # inherits its peak RSS (about 20 MB) as its own ru_maxrss at exec, so
    # wait4 alone reads every smaller client as that figure. GNU time's own
    # fork starts from a 2 MB process. CPU stays wait4's (time's children
    # included; time itself costs next to nothing).
    rss_file = os.path.join(WORK, "rss")
    launcher = ["/usr/bin/time", "-f", "%M", "-o", rss_file] if os.access("/usr/bin/time", os.X_OK) else []
    with open(os.path.join(WORK, "out"), "w+") as out, open(os.path.join(WORK, "err"), "w+") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(launcher + cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errs = out.read(), err.read()
    if p.returncode != 0:
        raise SystemExit(f"peers.py: {client} {workload} failed ({p.returncode}): {' '.join(cmd)}\n{errs[-2000:]}")
    lines = [x for x in text.splitlines() if x.startswith("{")]
    if not lines:
        raise SystemExit(f"peers.py: {client} {workload} printed no JSON\n{text[-1000:]}\n{errs[-1000:]}")
    r = json.loads(lines[-1])
    r["wall_s"] = round(wall, 3)
    r["cpu_s"] = round(ru.ru_utime + ru.ru_stime, 3)
    rss_kb = ru.ru_maxrss
    if launcher:
        try:
            rss_kb = int(open(rss_file).read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    r["rss_mb"] = round(rss_kb / 1024, 1)
    return r


WORK = os.environ.get("KWIRE_BENCH_DIR") or "/tmp"


# ---- the data every client writes, and what a consumer of it must sum to

def pool():
    return bytes(97 + ((j * j * 31 + j * 7) % 26) for j in range(65536))


def expected_checksum(n, size):
    """The wrapping u64 sum of every value byte of records 0..n (the contract's payload)."""
    p = pool()
    pre = [0]
    for b in p:
        pre.append(pre[-1] + b)
    seg = size - 12
    ds = [sum(map(int, str(k))) for k in range(10000)]
    total = 0
    for i in range(n):
        off = (i * 89) % 32768
        total += pre[off + seg] - pre[off] + 12 * 48 + ds[i % 10000] + ds[(i // 10000) % 10000] + ds[i // 10 ** 8]
    return total % (1 << 64)


def end_offsets(boot, topic):
    out = kwire(boot, "offsets", "--topic", topic)
    return sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines() if line.count(":") >= 2)


def create(boot, topic, partitions, rf=1):
    # file.delete.delay.ms=0: a deleted topic's files (and descriptors) go at
    # once. With the default minute, the 1,000-partition runs' deleted topics
    # held the broker's 20,000 descriptors ("Too many open files"), it
    # created only part of the next topic, and that run's sends timed out.
    kwire(boot, "topics", "create", topic, "--partitions", str(partitions), "--replication-factor", str(rf),
          "--config", "file.delete.delay.ms=0")


def warm(boot, topic, partitions):
    """Writes one record to each partition with acks=all before a client runs.

    A new topic's first acks=all write to a partition waits until its
    followers have started fetching it (on this machine 100-250 ms after the
    topic is created). A client that starts in milliseconds met that wait
    inside its measurement and a JVM that starts in half a second did not:
    the first 3-node run measured how fast each client started after the
    topic was created, not its latency (BENCHMARKS.md)."""
    lines = "".join(f"{i}\n" for i in range(partitions))
    subprocess.run([os.environ.get("KWIRE_BENCH_KWIRE") or os.path.join(ROOT, "target", "release", "kwire"),
                    "-b", boot, "produce", "-t", topic, "--acks", "all", "-X", "partitioner.class=roundrobin"],
                   input=lines, text=True, check=True, capture_output=True)


def delete(boot, topic):
    subprocess.run([os.environ.get("KWIRE_BENCH_KWIRE") or os.path.join(ROOT, "target", "release", "kwire"),
                    "-b", boot, "topics", "delete", topic], capture_output=True)


# ---- runs

class Results:
    def __init__(self):
        self.runs = []  # dicts: section, case, client, run, fields...

    def add(self, section, case, client, r):
        r = dict(r, section=section, case=case, client=client)
        self.runs.append(r)
        brief = {k: r[k] for k in ("seconds", "cpu_s", "rss_mb", "join_ms", "latency_ms", "unsupported") if k in r}
        log(f"{section} {case} {client}: {json.dumps(brief)}")

    def of(self, section, case, client):
        return [r for r in self.runs if (r["section"], r["case"], r["client"]) == (section, case, client)]


def order(clients, run_no):
    return clients if run_no % 2 == 0 else list(reversed(clients))


def alive(res, section, case, client):
    return not any("unsupported" in r for r in res.of(section, case, client))


def produce_case(res, boot, clients, runs, section, case, n, partitions, extra, codec="none", shared=False):
    """Each client's produce runs; a fresh topic per run, or with `shared`
    one topic for them all (each run checked by how far it moved the end
    offsets): a broker holds 3-5 descriptors per partition, and a new
    1,000-partition topic per run (deletion is asynchronous) exhausted its
    20,000 ("Too many open files"), which killed it."""
    one = None
    if shared:
        one = f"peers-{section}-{case}-{int(time.time() * 1000) % 10 ** 9}".replace(" ", "_")
        create(boot, one, partitions)
    for k in range(runs):
        for c in order(clients, k):
            if not alive(res, section, case, c):
                continue
            topic = one or f"peers-{section}-{case}-{c}-{k}-{int(time.time() * 1000) % 10 ** 9}".replace(" ", "_")
            if not one:
                create(boot, topic, partitions)
            before = end_offsets(boot, topic) if one else 0
            r = run(c, "produce", ["--bootstrap", boot, "--topic", topic, "--records", n, "--size", SIZE,
                                   "--compression", codec] + extra)
            if "unsupported" not in r:
                got = end_offsets(boot, topic) - before
                if got != n:
                    raise SystemExit(f"peers.py: {c} produced {got} of {n} records into {topic}")
            res.add(section, case, c, r)
            if not one:
                delete(boot, topic)
    if one:
        delete(boot, one)


def fill(boot, topic, n, partitions):
    create(boot, topic, partitions)
    r = run("kwire", "produce", ["--bootstrap", boot, "--topic", topic, "--records", n, "--size", SIZE,
                                 "--compression", "none"])
    got = end_offsets(boot, topic)
    if got != n:
        raise SystemExit(f"peers.py: filling {topic}: {got} of {n} records")
    return r


def consume_case(res, boot, clients, runs, section, case, topic, n, want, workload="consume"):
    for k in range(runs):
        for c in order(clients, k):
            if not alive(res, section, case, c):
                continue
            args = ["--bootstrap", boot, "--topic", topic, "--records", n]
            if workload == "group":
                args += ["--group", f"peers-{c}-{k}-{int(time.time() * 1000) % 10 ** 9}"]
            r = run(c, workload, args)
            if "unsupported" not in r and (r.get("checksum") != want or r.get("records") != n):
                raise SystemExit(f"peers.py: {c} {workload} read {r.get('records')} records, checksum "
                                 f"{r.get('checksum')}; the data's is {want}")
            res.add(section, case, c, r)


# ---- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "–"
    return f"{x:,.{nd}f}"


def summary(res, section, case, clients, n):
    rows = {}
    for c in clients:
        rs = res.of(section, case, c)
        if not rs:
            continue
        if any("unsupported" in r for r in rs):
            rows[c] = {"unsupported": rs[0]["unsupported"]}
            continue
        secs = med([r.get("seconds") for r in rs])
        row = {
            "runs": len(rs),
            "rec_s": n / secs if secs else None,
            "mb_s": n * SIZE / secs / 1e6 if secs else None,
            "cpu_per_m": med([r["cpu_s"] / n * 1e6 for r in rs]),
            "rss": med([r["rss_mb"] for r in rs]),
            "join_ms": med([r.get("join_ms") for r in rs]),
            "config": rs[-1].get("config", ""),
            "notes": rs[-1].get("notes", ""),
        }
        for q in ("p50", "p99", "p999", "max"):
            row[q] = med([r.get("latency_ms", {}).get(q) for r in rs])
        rows[c] = row
    return rows


CHARTED = []  # (title, rows) of every table, for --svg


def table(title, rows, kind):
    CHARTED.append((title, rows))
    base = rows.get("kwire", {})
    out = [f"#### {title}", ""]
    if kind == "latency":
        out += ["| client | p50 ms | p99 ms | p99.9 ms | CPU s / 1M records | × kwire CPU | peak RSS MB |",
                "|---|---:|---:|---:|---:|---:|---:|"]
    elif kind == "group":
        out += ["| client | join → first record ms | records/s | CPU s / 1M records | × kwire CPU | peak RSS MB |",
                "|---|---:|---:|---:|---:|---:|"]
    else:
        out += ["| client | records/s | MB/s | CPU s / 1M records | × kwire CPU | peak RSS MB |",
                "|---|---:|---:|---:|---:|---:|"]
    for c, r in rows.items():
        if "unsupported" in r:
            out.append(f"| {c} | unsupported: {r['unsupported']} |" + " |" * (4 if kind != "latency" else 5))
            continue
        ratio = (r["cpu_per_m"] / base["cpu_per_m"]) if base.get("cpu_per_m") and r["cpu_per_m"] else None
        cpu = fmt(r["cpu_per_m"], 2)
        rat = fmt(ratio, 2)
        if kind == "latency":
            out.append(f"| {c} | {fmt(r['p50'], 2)} | {fmt(r['p99'], 2)} | {fmt(r['p999'], 2)} | {cpu} | {rat} | "
                       f"{fmt(r['rss'], 1)} |")
        elif kind == "group":
            out.append(f"| {c} | {fmt(r['join_ms'])} | {fmt(r['rec_s'])} | {cpu} | {rat} | {fmt(r['rss'], 1)} |")
        else:
            out.append(f"| {c} | {fmt(r['rec_s'])} | {fmt(r['mb_s'], 1)} | {cpu} | {rat} | {fmt(r['rss'], 1)} |")
    out.append("")
    return out


COLOURS = {"kwire": "#1b7837", "krafka": "#d6604d", "rskafka": "#f4a582", "rdkafka": "#4393c3",
           "franz-go": "#92c5de", "java": "#8c8c8c"}


def chart(charted, clients, when):
    """Horizontal bars, one group per table: each client's CPU s per 1M
    records on a log scale (the clients span two orders of magnitude)."""
    import math
    groups = [(t, [(c, r["cpu_per_m"]) for c, r in rows.items() if r.get("cpu_per_m")]) for t, rows in charted]
    groups = [(t, bars) for t, bars in groups if bars]
    vals = [v for _, bars in groups for _, v in bars]
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    left, plot_w, bar_h, gap, top = 330, 460, 11, 14, 66
    h = top + sum(len(b) * bar_h + gap for _, b in groups) + 40
    w = left + plot_w + 60

    def x(v):
        return left + plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
         f'font-size="11">',
         f'<text x="10" y="18" font-size="14" font-weight="bold">Client CPU seconds per 1M records '
         f'(lower is better, log scale)</text>',
         f'<text x="10" y="34" fill="#555">scripts/bench/peers.py, {when}; Kafka on the same 2-core machine; '
         f'tables in BENCHMARKS.md</text>']
    k = 0
    for c in clients:
        o.append(f'<rect x="{10 + k * 95}" y="42" width="10" height="10" fill="{COLOURS.get(c, "#444")}"/>'
                 f'<text x="{24 + k * 95}" y="51">{c}</text>')
        k += 1
    d = lo
    while d <= hi * 1.0001:
        o.append(f'<line x1="{x(d):.1f}" y1="{top - 2}" x2="{x(d):.1f}" y2="{h - 34}" stroke="#ddd"/>'
                 f'<text x="{x(d):.1f}" y="{h - 22}" text-anchor="middle" fill="#555">{d:g}</text>')
        d *= 10
    y = top
    for title, bars in groups:
        label = title
        for long, short in (("Produce, acks=all, idempotent, ", "produce, "), ("Scale: ", ""),
                            ("Consume (assigned, from the earliest offset), ", "consume, "),
                            ("Group consumer (subscribe, new group, earliest), ", "group consumer, "),
                            (": send-to-ack latency", ""), ("End-to-end produce → consume latency, ", "end-to-end, ")):
            label = label.replace(long, short)
        label = label if len(label) <= 52 else label[:50] + "…"
        mid = y + len(bars) * bar_h / 2 + 4
        o.append(f'<text x="{left - 8}" y="{mid:.1f}" text-anchor="end">{escape(label)}</text>')
        for c, v in bars:
            o.append(f'<rect x="{left}" y="{y}" width="{max(x(v) - left, 1):.1f}" height="{bar_h - 2}" '
                     f'fill="{COLOURS.get(c, "#444")}"><title>{c}: {v:.2f}</title></rect>'
                     f'<text x="{x(v) + 3:.1f}" y="{y + bar_h - 3}" font-size="9" fill="#333">{v:.2f}</text>')
            y += bar_h
        y += gap
    o.append("</svg>")
    return "\n".join(o) + "\n"


def escape(t):
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def settings(res, clients):
    out = ["#### Settings per client", "", "| client | settings (as the program reports them) |", "|---|---|"]
    for c in clients:
        seen = []
        for r in res.runs:
            if r["client"] == c and r.get("config") and (r["workload"], r["config"]) not in seen:
                seen.append((r["workload"], r["config"]))
        notes = sorted({r["notes"] for r in res.runs if r["client"] == c and r.get("notes")})
        cell = "<br>".join(f"{w}: {cfg}" for w, cfg in seen) + ("<br>notes: " + "; ".join(notes) if notes else "")
        out.append(f"| {c} | {cell.replace('|', '/')} |")
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--records", type=int)
    ap.add_argument("--clients", default=",".join(ALL_CLIENTS))
    ap.add_argument("--workloads", default="produce,consume,group,latency,e2e,scale")
    ap.add_argument("--partitions-scale", default="1,10,100,1000")
    ap.add_argument("--rate", type=int, default=50_000)
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--svg", help="a chart of every table's CPU per record, per client (SVG)")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    runs = a.runs or (3 if a.quick else 5)
    n = a.records or (300_000 if a.quick else 5_000_000)
    clients = [c.strip() for c in a.clients.split(",") if c.strip()]
    for c in clients:
        command(c)
    workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    scale = [int(x) for x in a.partitions_scale.split(",") if x.strip()]
    if not a.no_build:
        build(clients)
    global WORK
    WORK = os.environ.get("KWIRE_BENCH_DIR") or __import__("tempfile").mkdtemp(prefix="kwire-peers.")
    res = Results()
    md = [f"### Library peers ({time.strftime('%Y-%m-%d')}, {runs} runs, medians; "
          f"{n:,} records of {SIZE} B unless said)", ""]
    t_start = time.monotonic()
    try:
        measure(a, res, md, clients, workloads, scale, runs, n)
    finally:
        md += settings(res, clients)
        md.append(f"Run time {time.monotonic() - t_start:.0f} s; raw results in {a.json or 'the --json file'}.")
        text = "\n".join(md) + "\n"
        if a.md:
            with open(a.md, "w") as f:
                f.write(text)
        if a.svg and CHARTED:
            with open(a.svg, "w") as f:
                f.write(chart(CHARTED, clients, f"{time.strftime('%Y-%m-%d')}, {runs} runs, medians"))
        print(text)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"records": n, "size": SIZE, "runs": runs, "clients": clients, "results": res.runs}, f,
                          indent=1)


def measure(a, res, md, clients, workloads, scale, runs, n):
    """Every selected workload, appending its tables to `md` as it ends."""
    with Broker() as b:
        boot = b.boot
        if "produce" in workloads:
            for codec in ("none", "lz4", "zstd"):
                produce_case(res, boot, clients, runs, "produce", codec, n, 6, [], codec)
                md += table(f"Produce, acks=all, idempotent, 6 partitions, codec {codec}",
                            summary(res, "produce", codec, clients, n), "throughput")
        if "consume" in workloads or "group" in workloads:
            topic = f"peers-consume-{int(time.time())}"
            fill(boot, topic, n, 6)
            want = expected_checksum(n, SIZE)
            if "consume" in workloads:
                consume_case(res, boot, clients, runs, "consume", "6", topic, n, want)
                md += table("Consume (assigned, from the earliest offset), 6 partitions",
                            summary(res, "consume", "6", clients, n), "throughput")
            if "group" in workloads:
                consume_case(res, boot, clients, runs, "group", "6", topic, n, want, workload="group")
                md += table("Group consumer (subscribe, new group, earliest), 6 partitions",
                            summary(res, "group", "6", clients, n), "group")
            delete(boot, topic)
        if "latency" in workloads:
            ln = min(n, a.rate * (10 if a.quick else 20))
            produce_case(res, boot, clients, runs, "latency", str(a.rate), ln, 6,
                         ["--rate", a.rate, "--linger-ms", 0])
            md += table(f"Produce at {a.rate:,} records/s (linger 0): send-to-ack latency, {ln:,} records",
                        summary(res, "latency", str(a.rate), clients, ln), "latency")
        if "e2e" in workloads:
            boot3 = os.environ.get("KWIRE_BENCH_BOOTSTRAP_3")
            if not boot3:
                log("e2e skipped: set KWIRE_BENCH_BOOTSTRAP_3 to a 3-node cluster")
            else:
                rate, en = 5_000, 5_000 * (10 if a.quick else 30)
                for k in range(runs):
                    for c in order(clients, k):
                        if not alive(res, "e2e", "rf3", c):
                            continue
                        topic = f"peers-e2e-{c}-{k}-{int(time.time() * 1000) % 10 ** 9}"
                        create(boot3, topic, 6, rf=3)
                        warm(boot3, topic, 6)
                        r = run(c, "e2e", ["--bootstrap", boot3, "--topic", topic, "--records", en,
                                           "--size", SIZE, "--rate", rate])
                        res.add("e2e", "rf3", c, r)
                        delete(boot3, topic)
                md += table(f"End-to-end produce → consume latency, 3 brokers, RF 3, acks=all, {rate:,} records/s",
                            summary(res, "e2e", "rf3", clients, en), "latency")
        if "scale" in workloads:
            sn = min(n, 1_000_000)
            want = expected_checksum(sn, SIZE)
            for parts in scale:
                produce_case(res, boot, clients, runs, "scale-produce", str(parts), sn, parts, [], shared=parts >= 100)
                md += table(f"Scale: produce {sn:,} records over {parts:,} partitions",
                            summary(res, "scale-produce", str(parts), clients, sn), "throughput")
                topic = f"peers-scale-{parts}-{int(time.time())}"
                fill(boot, topic, sn, parts)
                consume_case(res, boot, clients, runs, "scale-consume", str(parts), topic, sn, want)
                md += table(f"Scale: consume {sn:,} records from {parts:,} partitions",
                            summary(res, "scale-consume", str(parts), clients, sn), "throughput")
                if parts == max(scale):
                    consume_case(res, boot, clients, runs, "scale-group", str(parts), topic, sn, want,
                                 workload="group")
                    md += table(f"Scale: group join and consume, {parts:,} partitions",
                                summary(res, "scale-group", str(parts), clients, sn), "group")
                delete(boot, topic)


if __name__ == "__main__":
    main()
