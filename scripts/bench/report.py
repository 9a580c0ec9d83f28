#!/usr/bin/env python3
"""Writes BENCHMARKS.md and its chart (an SVG drawn here, no dependencies) from the
raw outputs scripts/bench/all.sh collected in WORK.

  report.py WORK OUT.md KWIRE_BINARY CARGO_TARGET_DIR QUICK(0|1) [ALL_SH_ARGS]
"""
import datetime
import html
import json
import math
import os
import platform
import re
import subprocess
import sys

WORK, OUT, KWIRE, TARGET, QUICK = sys.argv[1:6]
ARGS = sys.argv[6] if len(sys.argv) > 6 else ("--quick" if QUICK == "1" else "")
SVG = os.path.splitext(OUT)[0] + ".svg"


def rd(name, default=""):
    try:
        return open(os.path.join(WORK, name), encoding="utf-8", errors="replace").read()
    except OSError:
        return default


def ok(name):
    return os.path.exists(os.path.join(WORK, f"{name}.out")) and not os.path.exists(os.path.join(WORK, f"{name}.failed"))


def cmd_out(*cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "unknown"


def load(name):
    return rd(f"{name}.load").strip() or "?"


# ---------------------------------------------------------------- machine and versions
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
rev = cmd_out("git", "rev-parse", "--short", "HEAD")
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
kafka_v = os.environ.get("KWIRE_KAFKA_VERSION", "4.4.0")
kv = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
m = re.search(r"Version ([\w.\-]+).*?librdkafka ([\w.\-]+)", kv, re.S)
kcat_v = f"kcat {m.group(1)} (librdkafka {m.group(2)})" if m else kv.strip().splitlines()[0] if kv else "unknown"
java_v = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.strip().splitlines()[0]
versions = [
    ("kwire", f"{cmd_out(KWIRE, '--version')} (git {rev}{', uncommitted changes' if dirty else ''}), release build"),
    ("rustc", cmd_out("rustc", "-V")),
    ("Kafka broker and Java tools", f"Apache Kafka {kafka_v} (jars from Maven Central), {java_v}"),
    ("librdkafka", kcat_v),
    ("Python", platform.python_version()),
]
stream_out = rd("stream.out")
m = re.search(r"running PySpark ([\w.]+)", rd("stream.err"))
if m:
    versions.append(("PySpark", m.group(1) + " (local[2])"))
m = re.search(r"iperf3 ([\d.]+)", cmd_out("iperf3", "--version"))
if m:
    versions.append(("iperf3", m.group(1)))

# ---------------------------------------------------------------- results
bars = []          # (label, kwire speed-up over the peer)
sections = []


def para(*lines):
    sections.append("\n".join(lines) + "\n")


def first_float(s):
    m = re.search(r"([\d.]+)", s)
    return float(m.group(1)) if m else None


# ceilings
loop = rd("loopback.out").strip()
membw = rd("membw.out").strip()
para("## Physical ceilings (reference)",
     "",
     "| what | GB/s | how |",
     "|---|---|---|",
     f"| loopback TCP, one stream | {loop.split()[0] if loop else 'n/a'} | {' '.join(loop.split()[1:])} |",
     f"| memory copy | {membw.split()[0] if membw else 'n/a'} | {' '.join(membw.split()[1:])} |",
     "",
     "Every end-to-end figure below moves its bytes over this loopback through a broker on the same "
     "2 cores, so a client's MB/s is bounded well below the loopback figure; the decode micro-benchmark "
     "is bounded by memory bandwidth.")

# decode micro-benchmark
dec_rows = []
base = os.path.join(TARGET, "criterion", "records_decode")
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    vals = {}
    for impl in ["kwire", "kwire-bytes", "kafka-protocol"]:
        f = os.path.join(base, impl, codec, "new", "estimates.json")
        try:
            ns = json.load(open(f))["median"]["point_estimate"]    # per iteration of 10 x 1000 records
            vals[impl] = 10_000 / (ns / 1e9)
        except (OSError, KeyError, ValueError):
            pass
    if vals:
        dec_rows.append((codec, vals))
if dec_rows and ok("decode"):
    lines = ["## Record batch decode (micro-benchmark)", "",
             "criterion, `crates/proto/benches/records.rs`: 10 batches x 1000 records of ~75-byte voter JSON "
             "values, decoded and every record visited; kwire vs `kafka-protocol`'s `RecordBatchDecoder` on the "
             "same bytes. Median of criterion's samples; million records per second.", "",
             "| codec | kwire (slices) | kwire (Bytes) | kafka-protocol | kwire / kafka-protocol |",
             "|---|---|---|---|---|"]
    for codec, v in dec_rows:
        k, kb, kp = v.get("kwire"), v.get("kwire-bytes"), v.get("kafka-protocol")
        r = f"{k / kp:.1f}x" if k and kp else "n/a"
        if k and kp:
            bars.append((f"decode {codec} vs kafka-protocol", k / kp))
        fmt = lambda x: f"{x / 1e6:.1f}" if x else "n/a"  # noqa: E731
        lines.append(f"| {codec} | {fmt(k)} | {fmt(kb)} | {fmt(kp)} | {r} |")
    lines += ["", f"(load average when it ran: {load('decode')})"]
    para(*lines)

# topics start-up
t = rd("topics.out")
mk = re.search(r"kwire topics list \(median\)\s+([\d.]+)", t)
mj = re.search(r"kafka-topics.sh --list \(median\)\s+([\d.]+)", t)
if mk and mj and ok("topics"):
    k, j = float(mk.group(1)), float(mj.group(1))
    bars.append(("topics list start-to-exit vs kafka-topics.sh", j / k))
    para("## Start-up: `kwire topics list` vs `kafka-topics.sh --list`", "",
         "Wall time from process start to exit, same broker, same run, median "
         f"({t.splitlines()[0] if t else ''}; load average {load('topics')}).", "",
         "| tool | median ms | ratio |", "|---|---|---|",
         f"| kwire topics list | {k:.1f} | 1.0x |",
         f"| kafka-topics.sh --list (TopicCommand, Java 17) | {j:.1f} | {j / k:.1f}x slower |")


def client_section(name, title, note):
    if not ok(name):
        return
    try:
        d = json.load(open(os.path.join(WORK, f"{name}.json")))
    except (OSError, ValueError):
        return
    rows = {r["client"]: r for r in d["medians"]}
    n, size = d["records"], d["size"]
    mb = n * size / 1e6
    label = {"kwire": "kwire", "java": "Kafka Java (perf tool)", "kcat": "librdkafka (kcat)"}
    lines = [f"## {title}", "", note.format(**d, **{k.replace(".", "_"): v for k, v in d.get("settings", {}).items()}),
             f"Median of {d['runs']} runs; load average when it ran: {load(name)}.", "",
             "| client | records/s | MB/s | wall s | CPU s | CPU s per 1M records | peak RSS MB | kwire speed-up | kwire CPU per record vs it |",
             "|---|---|---|---|---|---|---|---|---|"]
    k = rows["kwire"]
    for c in ["kwire", "java", "kcat"]:
        r = rows.get(c)
        if not r:
            continue
        speed = r["wall_s"] / k["wall_s"]
        cpu = k["cpu_s"] / r["cpu_s"] if r["cpu_s"] else float("nan")
        lines.append(f"| {label[c]} | {n / r['wall_s']:,.0f} | {mb / r['wall_s']:.1f} | {r['wall_s']:.2f} | "
                     f"{r['cpu_s']:.2f} | {r['cpu_s'] / (n / 1e6):.2f} | {r['max_rss_mb']:.0f} | "
                     f"{'—' if c == 'kwire' else f'{speed:.2f}x'} | {'—' if c == 'kwire' else f'{cpu:.2f}x'} |")
        if c != "kwire":
            bars.append((f"{title.split(':')[0].lower()} vs {label[c]}", speed))
    para(*lines)


client_section("produce", "Produce: `kwire perf produce` vs ProducerPerformance vs kcat",
               "{records:,} records x {size} B to a fresh 1-partition topic per run, acks={acks}, "
               "linger.ms={linger_ms}, batch.size={batch_size}, compression {codec}; every run checked "
               "complete. Timed from process start to exit (JVM start-up counts against Java).")
client_section("produce_txn", "Produce in transactions: `kwire perf produce` vs ProducerPerformance",
               "Transactions committed every 100 ms (`--transactional-id`, `--transaction-duration-ms 100` on "
               "both; kcat has no transactions), {records:,} records x {size} B, acks={acks}; the count is "
               "checked with a read_committed consumer.")
client_section("produce_lz4", "Produce lz4: `kwire perf produce` vs ProducerPerformance vs kcat",
               "As above with compression.type=lz4 ({records:,} records x {size} B, acks={acks}).")
client_section("consume", "Consume: `kwire perf consume` vs ConsumerPerformance vs kcat",
               "{records:,} records x {size} B from one 1-partition topic (written once by kwire), "
               "read from the beginning to the last record; process start to exit. ConsumerPerformance always "
               "subscribes with a consumer group, so its time includes a group join (its own output reports "
               "rebalance.time.ms, about 2 s on this machine); kwire and kcat read the partition directly.")

# stream
if stream_out and ok("stream"):
    m = re.search(r"ratio kwire/Spark in records/s: ([\d.]+)x batches, ([\d.]+)x .*?, ([\d.]+)x start-to-exit", stream_out)
    if m:
        bars.append(("stream query vs PySpark (start-to-exit)", float(m.group(3))))
        bars.append(("stream query vs PySpark (batches only)", float(m.group(1))))
    para("## Stream: `kwire stream` vs PySpark Structured Streaming", "",
         "The guide's query (from_json of value, groupBy gender, party, count, complete mode, "
         f"Trigger.AvailableNow) over the same voter topic, `scripts/bench/stream.sh`; load average {load('stream')}.",
         "", "```", stream_out.rstrip(), "```")
elif os.path.exists(os.path.join(WORK, "stream.failed")):
    para("## Stream", "", "`scripts/bench/stream.sh` failed in this run; its error output ends with:", "", "```",
         "\n".join(rd("stream.err").rstrip().splitlines()[-15:]), "```")
else:
    para("## Stream", "", "Not run (`scripts/bench/stream.sh` absent or --no-stream).")

# stream scaled out
scale_out = rd("stream_scaleout.out")
if scale_out and ok("stream_scaleout"):
    for peer in ("Kafka Streams", "PySpark"):
        m = re.search(r"kwire \(1 instance\) vs " + peer + r"[^:]*: ([\d.]+)x records/s", scale_out)
        if m:
            bars.append((f"stream scaled out vs {peer}", float(m.group(1))))
    para("## Stream scaled out: `kwire stream --application-id` vs Kafka Streams vs PySpark", "",
         "The guide's grouped count as a distributed application (exactly_once_v2) on 1, 2 and 3 kwire "
         "instances, Kafka Streams 4.4.0 with the same topology (scripts/bench/streams/VotersCount.java) and "
         "PySpark on the same topic, `scripts/bench/stream_scaleout.py`; every result table checked against "
         f"the truth; load average {load('stream_scaleout')}.",
         "", "```", scale_out.rstrip(), "```")
elif os.path.exists(os.path.join(WORK, "stream_scaleout.failed")):
    para("## Stream scaled out", "", "`scripts/bench/stream_scaleout.py` failed in this run; its error output ends with:",
         "", "```", "\n".join(rd("stream_scaleout.err").rstrip().splitlines()[-15:]), "```")


# library peers (scripts/bench/peers.py: its own Markdown, headline bars from its JSON)
if ok("peers") and rd("peers.md"):
    try:
        pj = json.loads(rd("peers.json"))
    except ValueError:
        pj = {}
    runs_ = pj.get("results", [])

    def cpu_per_record(section, case, client):
        xs = sorted(r["cpu_s"] / max(r.get("records", 0) or 1, 1) for r in runs_
                    if (r["section"], r["case"], r["client"]) == (section, case, client) and "unsupported" not in r)
        return xs[len(xs) // 2] if xs else None

    for section, case, what in (("produce", "none", "library produce CPU/record"),
                                ("consume", "6", "library consume CPU/record")):
        mine = cpu_per_record(section, case, "kwire")
        for peer in ("rdkafka", "franz-go", "krafka", "rskafka", "java"):
            theirs = cpu_per_record(section, case, peer)
            if mine and theirs:
                bars.append((f"{what} vs {peer}", theirs / mine))
    para("## Library peers: kwire's crates vs krafka, rskafka, rdkafka, franz-go, Java (issue 20)", "",
         "Each client through its own program under bench/peers (one contract: same payload bytes, acks=all, "
         "idempotent, linger 5 ms, 1 MB batches, 5 in flight; consumers checksum every value byte), run by "
         f"`scripts/bench/peers.py`; CPU is the client process's user+sys from wait4; load average {load('peers')}.",
         "", rd("peers.md").replace("### Library peers", "Library peers", 1).rstrip())
elif os.path.exists(os.path.join(WORK, "peers.failed")):
    para("## Library peers", "", "`scripts/bench/peers.py` failed in this run; its error output ends with:",
         "", "```", "\n".join(rd("peers.err").rstrip().splitlines()[-15:]), "```")


# ---------------------------------------------------------------- chart
def chart(bars):
    w, row, left, top = 860, 30, 330, 50
    h = top + row * len(bars) + 50
    lo, hi = 0.1, max([10.0] + [b for _, b in bars]) * 1.3
    x = lambda v: left + (w - left - 80) * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))  # noqa: E731
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">kwire speed-up over each peer '
         f'(x, log scale; &gt;1 = kwire faster)</text>']
    ticks = [t for t in [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] if lo <= t <= hi]
    for t in ticks:
        s.append(f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" y2="{h - 40}" stroke="{"#333" if t == 1 else "#ddd"}"/>')
        s.append(f'<text x="{x(t):.1f}" y="{h - 24}" text-anchor="middle">{t:g}x</text>')
    for i, (label, v) in enumerate(bars):
        y = top + i * row
        x0, x1 = x(1), x(v)
        color = "#2b7bb9" if v >= 1 else "#d9534f"
        s.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{html.escape(label)}</text>')
        s.append(f'<rect x="{min(x0, x1):.1f}" y="{y + 4}" width="{abs(x1 - x0):.1f}" height="{row - 10}" fill="{color}"/>')
        s.append(f'<text x="{max(x0, x1) + 5:.1f}" y="{y + 17}">{v:.2f}x</text>')
    s.append(f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle" fill="#555">generated by scripts/bench/all.sh '
             f'{datetime.date.today()}; details in BENCHMARKS.md</text></svg>')
    open(SVG, "w").write("\n".join(s) + "\n")


if bars:
    chart(bars)

# ---------------------------------------------------------------- headline + write
head = []
for label, v in bars:
    head.append(f"- {label}: **{v:.2f}x**")
cmds = [l for l in rd("commands.txt").splitlines() if l]
machine = (f"{cpu}, {os.cpu_count()} cores, {mem} GiB RAM, Linux {platform.release()}; "
           f"load average at start {load('start')}, at end {load('end')} (the machine was shared with other work: "
           "ratios from the same run are the figures to read, absolute numbers are noisy)")
doc = [
    "# kwire benchmarks",
    "",
    f"Generated by `scripts/bench/all.sh{' ' + ARGS if ARGS else ''}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
    "Re-run it to regenerate this file and the chart. Each comparison ran its clients in the same invocation "
    "against the same broker with matched settings; the benchmarks measure and assert nothing.",
    "",
    "## Headline: kwire speed-up over each peer (same run)",
    "",
    *head,
    "",
    f"![kwire speed-up chart]({os.path.basename(SVG)})" if bars else "",
    "",
    "## Machine and versions",
    "",
    f"- Machine: {machine}",
    *[f"- {k}: {v}" for k, v in versions],
    "",
    *sections,
    "## Exact commands",
    "",
    f"Run from the repository root by `scripts/bench/all.sh{' ' + ARGS if ARGS else ''}` (broker: `scripts/kafka.sh start --name kwire-bench "
    "--port 28192`, `KWIRE_BENCH_BOOTSTRAP=127.0.0.1:28192`):",
    "",
    "```",
    *cmds,
    "```",
    "",
    "Clients are timed by `scripts/bench/measure.py` (wall time, user+sys CPU and peak RSS of the process and "
    "its children, from wait4). The Java tools run through `scripts/kafka.sh tool` (Java 17, `-Xms64m -Xmx512m "
    "-XX:+UseG1GC`), so their figures include JVM start-up, as a user of kafka-*.sh pays it.",
    "",
    "## Not covered",
    "",
    "- The CLI sections compare command-line tools (kcat prints every message); the library comparison, "
    "rskafka and krafka included, is the \"Library peers\" section (`scripts/bench/peers.py`).",
]
open(OUT, "w").write("\n".join(doc).rstrip() + "\n")
print(f"wrote {OUT}" + (f" and {SVG}" if bars else ""))
