#!/usr/bin/env python3
"""The guide's grouped count scaled out: `kwire stream --application-id` on 1,
2 and 3 instances, and on the same data in the same run Kafka Streams (the
same topology: groupBy -> repartition -> count with an in-memory store and
changelog, exactly_once_v2) and PySpark (local[2], available-now). Prints
records/s, CPU per record and peak RSS, and kwire's ratios to each peer;
checks every result table against the counts computed from the data.
Asserts nothing about speed.

  scripts/bench/stream_scaleout.py [--records N] [--partitions P]
                                   [--instances 1,2,3] [--no-streams] [--no-spark]

Timing: from the start of the instances until the application has consumed
everything (the group's committed offsets equal the log ends on the input
and the repartition topic, and cover all N input records), polled every
0.2 s with `kwire groups describe`; the instances' CPU (user+sys from
/proc/PID/stat) and peak RSS (VmHWM) are read then, before they are stopped.
PySpark runs the query with Trigger.AvailableNow under measure.py (its wall
time includes JVM and session start, printed separately); its CPU and RSS
are the Python driver's plus the Spark JVM's (read from /proc by
spark_voters.py before it stops Spark).

Broker: $KWIRE_BENCH_BOOTSTRAP, else a single node started here
(scripts/kafka.sh --name kwire-bench --port 28192) and stopped afterwards.
kwire: $KWIRE (a release binary), else built with cargo --release.
Kafka Streams: kafka-streams 4.4.0 and Jackson from Maven Central
(scripts/bench/streams/pom.xml, into ~/.cache/kwire/kafka-streams-4.4.0),
VotersCount.java compiled with javac (Java 17).
PySpark: as scripts/bench/stream.sh (~/.cache/kwire/venv-spark, pyspark 3.5.7).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import proc_usage  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KWIRE_CACHE", Path.home() / ".cache/kwire"))
KAFKA = ROOT / "scripts/kafka.sh"
DDL = "gender STRING, age LONG, party STRING"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def kwire_bin():
    if os.environ.get("KWIRE"):
        return os.environ["KWIRE"]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kwire-cli"], cwd=ROOT, check=True)
    return str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/kwire")


class Bench:
    def __init__(self, a):
        self.a = a
        self.kw = kwire_bin()
        self.started = False
        self.boot = os.environ.get("KWIRE_BENCH_BOOTSTRAP")
        if not self.boot:
            self.boot = "127.0.0.1:28192"
            probe = subprocess.run([sys.executable, ROOT / "scripts/kafka/probe.py", self.boot],
                                   capture_output=True)
            if probe.returncode != 0:
                subprocess.run([KAFKA, "start", "--name", "kwire-bench", "--port", "28192"], check=True)
                self.started = True
        self.work = Path(tempfile.mkdtemp(prefix="kwire-scaleout-"))
        self.topics = []

    def kwire(self, *args, check=True):
        r = subprocess.run([self.kw, "-b", self.boot, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"kwire {' '.join(args)}: {r.stderr.strip()}")
        return r

    def close(self):
        for t in self.topics:
            self.kwire("topics", "delete", t, "--if-exists", check=False)
        if self.started:
            subprocess.run([KAFKA, "stop", "--name", "kwire-bench"])

    # ---- data
    def load(self):
        n, p = self.a.records, self.a.partitions
        data = CACHE / "bench" / f"voters-{n}.jsonl"
        if not data.exists() or data.stat().st_size == 0:
            data.parent.mkdir(parents=True, exist_ok=True)
            log(f"generating {n} voter records -> {data}")
            with open(str(data) + ".tmp", "w") as f:
                subprocess.run([sys.executable, ROOT / "scripts/bench/stream/gen_voters.py", str(n)],
                               stdout=f, check=True)
            os.rename(str(data) + ".tmp", data)
        truth = Counter()
        with open(data) as f:
            for line in f:
                v = json.loads(line)
                truth[(v.get("gender"), v.get("party"))] += 1
        self.truth = dict(truth)
        self.topic = f"bench-scaleout-voters-{n}-{p}-{os.getpid()}"
        self.kwire("topics", "create", self.topic, "--partitions", str(p))
        self.topics.append(self.topic)
        t0 = time.monotonic()
        subprocess.run(["kcat", "-P", "-b", self.boot, "-t", self.topic, "-z", "lz4", "-X", "acks=all",
                        "-X", "linger.ms=50", "-X", "batch.num.messages=10000", "-X", "batch.size=1000000",
                        "-X", "queue.buffering.max.messages=2000000", "-l", str(data)], check=True)
        log(f"loaded {n} records into {self.topic} ({p} partitions, lz4) in {time.monotonic() - t0:.1f} s")

    # ---- measuring a running application
    def caught_up(self, group):
        r = self.kwire("groups", "describe", group, "--format", "json", check=False)
        if r.returncode != 0:
            return False
        offs = json.loads(r.stdout).get("offsets") or []
        inp = sum(o.get("current_offset") or 0 for o in offs if o["topic"] == self.topic)
        topics = {o["topic"] for o in offs}
        return (inp >= self.a.records and len(topics) >= 2
                and all(o.get("lag") == 0 or (o.get("lag") is None and o.get("log_end_offset") == 0)
                        for o in offs))

    def run_app(self, name, group, out_topic, cmds):
        self.topics += [out_topic]
        procs = []
        t0 = time.monotonic()
        for i, cmd in enumerate(cmds):
            err = open(self.work / f"{group}-{i}.err", "w")
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err))
        deadline = t0 + self.a.timeout
        while not self.caught_up(group):
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                errs = "".join((self.work / f"{group}-{i}.err").read_text()[-2000:] for i in range(len(procs)))
                raise SystemExit(f"{name}: {'an instance exited' if dead else 'timed out'}:\n{errs}")
            time.sleep(0.2)
        wall = time.monotonic() - t0
        usage = [proc_usage(p.pid) for p in procs]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        table = self.result_table(out_topic)
        return {"name": name, "instances": len(cmds), "wall_s": wall, "cpu_s": sum(u[0] for u in usage),
                "rss_mb": max(u[1] for u in usage), "ok": table == self.truth, "table": table}

    def result_table(self, topic):
        r = self.kwire("consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", "read_committed",
                       "--format", "json")
        latest = {}
        for line in r.stdout.splitlines():
            rec = json.loads(line)
            latest[rec["key"]] = json.loads(rec["value"])
        return {(v.get("gender"), v.get("party")): v["count"] for v in latest.values()}

    # ---- the engines
    def kwire_app(self, k):
        group = f"bench-kw-{k}-{os.getpid()}"
        out = f"{group}-out"
        self.topics += [f"{group}-repartition", f"{group}-aggregate-changelog"]
        cmd = [self.kw, "-b", self.boot, "stream", "--topic", self.topic,
               "--select", f"from_json(CAST(value AS STRING), '{DDL}') AS voterJSON",
               "--group-by", "voterJSON.gender,voterJSON.party", "--output-mode", "update",
               "--application-id", group, "--processing-guarantee", "exactly_once_v2",
               "--replication-factor", "1", "--sink", f"kafka:{out}"]
        return self.run_app("kwire stream", group, out, [cmd] * k)

    def streams_app(self, k):
        libs = CACHE / "kafka-streams-4.4.0" / "libs"
        if not (libs / "kafka-streams-4.4.0.jar").exists():
            log(f"fetching kafka-streams 4.4.0 into {libs}")
            subprocess.run(["mvn", "-q", "-B", "-f", ROOT / "scripts/bench/streams/pom.xml",
                            "dependency:copy-dependencies", f"-DoutputDirectory={libs}"], check=True,
                           stdout=subprocess.DEVNULL)
        classes = self.work / "classes"
        classes.mkdir(exist_ok=True)
        subprocess.run(["javac", "-d", classes, "-cp", f"{libs}/*",
                        ROOT / "scripts/bench/streams/VotersCount.java"], check=True)
        group = f"bench-ks-{k}-{os.getpid()}"
        out = f"{group}-out"
        self.topics += [f"{group}-voters-repartition", f"{group}-counts-changelog"]
        cmd = ["java", "-cp", f"{libs}/*:{classes}", "VotersCount", self.boot, self.topic, out, group]
        return self.run_app("Kafka Streams 4.4.0", group, out, [cmd] * k)

    def spark(self):
        venv = CACHE / "venv-spark"
        want = os.environ.get("KWIRE_BENCH_PYSPARK", "3.5.7")
        py = venv / "bin/python"
        have = subprocess.run([py, "-c", "import pyspark; print(pyspark.__version__)"],
                              capture_output=True, text=True) if py.exists() else None
        if not have or have.stdout.strip() != want:
            log(f"installing pyspark {want} into {venv}")
            if not py.exists():
                subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([venv / "bin/pip", "install", "-q", f"pyspark=={want}"], check=True)
        scala = "2.13" if want.startswith("4.") else "2.12"
        pkg = f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{want}"
        out = self.work / "spark.out"
        m = subprocess.run([sys.executable, ROOT / "scripts/bench/measure.py", "--stdout", out, "--",
                            py, ROOT / "scripts/bench/stream/spark_voters.py", self.boot, self.topic, pkg,
                            CACHE / "ivy", "2"], capture_output=True, text=True, check=True)
        meas = json.loads(m.stdout.strip().splitlines()[-1])
        s = json.loads(out.read_text().strip().splitlines()[-1])
        table = {(r[0], r[1]): r[2] for r in s["table"]}
        if s.get("jvm_cpu_s") is None:
            raise SystemExit("PySpark: could not read the Spark JVM's CPU and RSS")
        # Python driver (measure.py's rusage) + the JVM it started (read by spark_voters.py)
        return {"name": f"PySpark {want} local[2]", "instances": 1, "wall_s": meas["wall_s"],
                "cpu_s": meas["cpu_s"] + s["jvm_cpu_s"], "rss_mb": meas["max_rss_mb"] + s["jvm_rss_mb"],
                "ok": table == self.truth,
                "query_s": s["query_s"], "table": table}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--instances", default="1,2,3")
    ap.add_argument("--streams-instances", default="1")
    ap.add_argument("--no-streams", action="store_true")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    b = Bench(a)
    rows = []
    try:
        b.load()
        for k in [int(x) for x in a.instances.split(",") if x]:
            log(f"kwire stream, {k} instance(s)")
            rows.append(b.kwire_app(k))
        if not a.no_streams:
            for k in [int(x) for x in a.streams_instances.split(",") if x]:
                log(f"Kafka Streams, {k} instance(s)")
                rows.append(b.streams_app(k))
        if not a.no_spark:
            log("PySpark")
            rows.append(b.spark())
    finally:
        b.close()
    n = a.records
    print(f"records: {n} voters, {a.partitions} partitions, lz4; {os.cpu_count()} cores shared with the broker")
    print("wall: start of the instances until everything is consumed and committed (exactly_once_v2)")
    print(f"{'':28}{'inst':>5}{'wall s':>9}{'rec/s':>12}{'CPU s':>8}{'µs CPU/rec':>12}{'RSS MB':>8}  result")
    for r in rows:
        print(f"{r['name']:28}{r['instances']:>5}{r['wall_s']:>9.2f}{n / r['wall_s']:>12,.0f}{r['cpu_s']:>8.2f}"
              f"{r['cpu_s'] * 1e6 / n:>12.2f}{r['rss_mb']:>8.0f}  {'= truth' if r['ok'] else 'DIFFERENT'}")
        if r.get("query_s"):
            print(f"{'':28}      (query start to termination {r['query_s']:.2f} s = {n / r['query_s']:,.0f} rec/s)")
    kw = next((r for r in rows if r["name"] == "kwire stream" and r["instances"] == 1), None)
    for peer in rows:
        if kw is None or peer["name"] == "kwire stream" or peer["instances"] != 1:
            continue
        print(f"kwire (1 instance) vs {peer['name']}: {peer['wall_s'] / kw['wall_s']:.1f}x records/s, "
              f"{kw['cpu_s'] / peer['cpu_s']:.3f}x CPU per record, {kw['rss_mb'] / peer['rss_mb']:.2f}x RSS")
    if not all(r["ok"] for r in rows):
        for r in rows:
            if not r["ok"]:
                print(f"{r['name']} ({r['instances']}): {sorted(r['table'].items(), key=str)}")
        print(f"truth: {sorted(b.truth.items(), key=str)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
