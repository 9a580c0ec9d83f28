#!/usr/bin/env python3
"""The soak run behind scripts/soak.sh (issue 21): kwire under faults for a
while, on the 3-node cluster with its PROXIED listeners behind toxiproxy.

For --minutes M it runs, all through the proxy:
  - one idempotent producer (`kwire produce --acks all`), fed "p:<n>" lines at
    --rate records/s, writing the lines whose outcome failed or is unknown to
    a file (--failed-output);
  - a group of three `kwire consume --group` members;
  - `kwire stream` with a checkpoint writing (partition, offset) of every
    record to a jsonl file (checked exactly once against the log);
while a chaos loop injects, every 10-20 s, one of: latency on every broker,
resets of every connection, one broker cut off, one broker black-holed, or a
broker killed (SIGKILL) and restarted. Every 5 s it samples each kwire
process's RSS and open file descriptors.

Then the producer's input ends, the faults are healed, the group drains to
lag 0 and stops, and the checks run, in Jepsen's words:
  lost-write         acknowledged (not in the failed file), never in the log
  duplicate          a value twice in the log (idempotence broken)
  nonmonotonic-send  a partition's log holds the producer's values out of order
  unknown-written    failed or unknown, yet in the log (allowed: reported)
  redelivered        read twice by the group (allowed for at-least-once, counted)
  lost-read          in the log, never read by the group
  stream-duplicate   an offset twice in the stream's file (after a final
                     available-now run from its checkpoint)
  stream-lost        an offset of the log missing from it
  stream-extra       an offset in it that is not in the log
and RSS / descriptors at the first sample after warm-up vs the end. Exit 1 if
any of lost-write, duplicate, nonmonotonic-send, lost-read or the stream's
three is non-zero, if the stream exited during the faults, or if a
process's RSS grew by more than 50% and 30 MiB after warm-up, or its open
descriptors by more than 20.
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(f"soak: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class Toxi:
    def __init__(self, api):
        self.api = f"http://{api}"

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        # On a loaded machine the API can be slow to answer: wait longer and
        # ask again (a toxic the timed-out attempt created already exists).
        for attempt in range(3):
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.read()
            except urllib.error.HTTPError as e:
                if e.code == 409 and attempt > 0:
                    return b"{}"
                raise
            except (TimeoutError, urllib.error.URLError) as e:
                if attempt == 2:
                    raise
                log(f"toxiproxy {method} {path}: {e}; asking again")
        raise AssertionError("unreachable")

    def setup(self, routes):
        names = []
        existing = json.loads(self.call("GET", "/proxies"))
        for i, route in enumerate(routes.split(",")):
            listen, upstream = route.split("=")
            name = f"soak-broker-{i + 1}"
            # Another proxy on the same port (the fault tests' own) gives way.
            for other, p in existing.items():
                if other == name or p.get("listen", "").endswith(f":{listen}"):
                    self.call("DELETE", f"/proxies/{other}")
            self.call("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{listen}",
                                           "upstream": f"127.0.0.1:{upstream}", "enabled": True})
            names.append(name)
        self.call("POST", "/reset")
        return names


def kafka_env(cluster):
    out = subprocess.run([os.path.join(ROOT, "scripts/kafka.sh"), "env", "--name", cluster],
                         check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


def proc_stats(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=int, default=500, help="records per second")
    ap.add_argument("--cluster", required=True, help="kafka.sh name of a 3-node --proxied cluster")
    ap.add_argument("--toxiproxy", required=True, help="toxiproxy API HOST:PORT")
    ap.add_argument("--kwire", default=os.path.join(ROOT, "target/debug/kwire"))
    ap.add_argument("--work", required=True, help="directory for outputs")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.work, exist_ok=True)
    env = kafka_env(a.cluster)
    direct = env["KWIRE_KAFKA_BOOTSTRAP"]
    proxied = env["KWIRE_KAFKA_PROXIED_BOOTSTRAP"]
    toxi = Toxi(a.toxiproxy)
    proxies = toxi.setup(env["KWIRE_KAFKA_PROXIED_ROUTES"])
    kw = [a.kwire]
    topic = f"soak-{a.seed}"
    group = f"soak-{a.seed}-g"
    log(f"seed {a.seed}, {a.minutes} min at {a.rate}/s, topic {topic}, outputs in {a.work}")
    subprocess.run(kw + ["-b", direct, "topics", "create", topic, "--partitions", "6",
                         "--replication-factor", "3"], check=True, stdout=subprocess.DEVNULL)

    quiet = {"KWIRE_LOG": "", "PATH": os.environ["PATH"]}
    failed_file = os.path.join(a.work, "failed.txt")
    prod_err = open(os.path.join(a.work, "producer.err"), "w")
    producer = subprocess.Popen(
        kw + ["-b", proxied, "produce", "-t", topic, "--acks", "all", "--failed-output", failed_file,
              "-X", "request.timeout.ms=5000", "-X", "delivery.timeout.ms=60000", "--linger-ms", "10"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=prod_err, env=quiet)
    members = []
    for i in range(3):
        out = open(os.path.join(a.work, f"member{i}.jsonl"), "w")
        err = open(os.path.join(a.work, f"member{i}.err"), "w")
        members.append(subprocess.Popen(
            kw + ["-b", proxied, "consume", "-t", topic, "-g", group, "--from-beginning", "--format", "json",
                  "-X", "request.timeout.ms=5000"],
            stdout=out, stderr=err, env=quiet))

    # kwire stream with a checkpoint: (partition, offset) of every record into
    # a jsonl file, exactly once across the faults.
    stream_cp = os.path.join(a.work, "stream-cp")
    stream_out = os.path.join(a.work, "stream.jsonl")
    stream_args = ["stream", "--topic", topic, "--starting-offsets", "earliest", "--select", "partition, offset",
                   "--checkpoint", stream_cp, "--sink", f"jsonl:{stream_out}", "--max-offsets-per-trigger", "5000"]
    stream_err = open(os.path.join(a.work, "stream.err"), "w")
    stream = subprocess.Popen(kw + ["-b", proxied] + stream_args, stdout=subprocess.DEVNULL, stderr=stream_err,
                              env=quiet)

    end = time.time() + a.minutes * 60
    sent = [0]
    stop = threading.Event()

    def feed():
        interval = 1.0 / a.rate
        nxt = time.time()
        try:
            while time.time() < end and not stop.is_set():
                producer.stdin.write(f"p:{sent[0]}\n".encode())
                sent[0] += 1
                nxt += interval
                delay = nxt - time.time()
                if delay > 0:
                    producer.stdin.flush()
                    time.sleep(delay)
        except BrokenPipeError:
            log("the producer's stdin closed early")
        finally:
            try:
                producer.stdin.close()
            except OSError:
                pass

    faults = collections.Counter()
    harness_errors = []

    def chaos():
        kafka = os.path.join(ROOT, "scripts/kafka.sh")
        while not stop.wait(rng.uniform(10, 20)):
            if time.time() > end - 10:
                break
            kind = rng.choice(["latency", "reset", "cut", "blackhole", "restart"])
            b = rng.randrange(len(proxies))
            faults[kind] += 1
            log(f"fault: {kind} (broker {b + 1})")
            try:
                if kind == "restart":
                    subprocess.run([kafka, "kill-node", str(b + 1), "--name", a.cluster], check=True,
                                   capture_output=True)
                    time.sleep(3)
                    # A node that does not come back is a harness problem, not a
                    # client finding: say why, try again, and fail the soak only
                    # if it stays down.
                    for attempt in range(3):
                        r = subprocess.run([kafka, "start-node", str(b + 1), "--name", a.cluster],
                                           capture_output=True, text=True)
                        if r.returncode == 0:
                            break
                        log(f"start-node {b + 1} failed (attempt {attempt + 1}): "
                            f"{(r.stderr.strip().splitlines() or ['?'])[0]}")
                        harness_errors.append(f"start-node {b + 1}: {r.stderr.strip()[-2000:]}")
                        time.sleep(5)
                    else:
                        raise RuntimeError(f"node {b + 1} did not restart (see the log above)")
                    continue
                if kind == "cut":
                    toxi.call("POST", f"/proxies/{proxies[b]}", {"enabled": False})
                else:
                    spec = {"latency": ("latency", {"latency": 100, "jitter": 50}),
                            "reset": ("reset_peer", {"timeout": 0}),
                            "blackhole": ("timeout", {"timeout": 0})}[kind]
                    targets = proxies if kind in ("latency", "reset") else [proxies[b]]
                    for p in targets:
                        toxi.call("POST", f"/proxies/{p}/toxics",
                                  {"name": "soak", "type": spec[0], "stream": "downstream", "attributes": spec[1]})
                time.sleep(rng.uniform(2, 6))
            finally:
                toxi.call("POST", "/reset")

    samples = collections.defaultdict(list)
    procs = {"producer": producer, "stream": stream, **{f"member{i}": m for i, m in enumerate(members)}}

    def sample():
        with open(os.path.join(a.work, "samples.csv"), "w") as f:
            f.write("t,process,rss_kib,fds\n")
            t0 = time.time()
            while not stop.wait(5):
                for name, p in procs.items():
                    s = proc_stats(p.pid)
                    if s:
                        samples[name].append((time.time() - t0, *s))
                        f.write(f"{time.time() - t0:.0f},{name},{s[0]},{s[1]}\n")
                f.flush()

    chaos_died = []

    def chaos_guarded():
        try:
            chaos()
        except Exception as e:  # noqa: BLE001 - reported as a failed soak below
            chaos_died.append(repr(e))
            log(f"the chaos loop stopped: {e!r}")

    threads = [threading.Thread(target=fn, daemon=True) for fn in (feed, chaos_guarded, sample)]
    for t in threads:
        t.start()
    threads[0].join()
    log(f"input ended after {sent[0]} records; healing and draining")
    time.sleep(1)
    toxi.call("POST", "/reset")
    threads[1].join(timeout=60)
    for i in range(3):
        subprocess.run([os.path.join(ROOT, "scripts/kafka.sh"), "start-node", str(i + 1), "--name", a.cluster],
                       capture_output=True)
    producer_hung = False
    try:
        producer.wait(timeout=120)
    except subprocess.TimeoutExpired:
        producer.kill()
        producer_hung = True
        log("the producer did not end within 120 s")
    # The group drains: lag 0 on every partition.
    deadline = time.time() + 180
    while time.time() < deadline:
        r = subprocess.run(kw + ["-b", direct, "groups", "describe", group, "--format", "json"],
                           capture_output=True, text=True)
        try:
            offs = json.loads(r.stdout)["offsets"]
            if offs and all(o["lag"] == 0 for o in offs):
                break
        except (ValueError, KeyError):
            pass
        time.sleep(2)
    stop.set()
    stream_died = stream.poll()
    for m in members + [stream]:
        m.send_signal(signal.SIGTERM)
    for m in members + [stream]:
        try:
            m.wait(timeout=30)
        except subprocess.TimeoutExpired:
            m.kill()
    # The stream catches up from its checkpoint (directly, no faults).
    fin = subprocess.run(kw + ["-b", direct] + stream_args + ["--trigger", "available-now"],
                         stdout=subprocess.DEVNULL, stderr=stream_err, env=quiet)

    # ---- checks
    failed = set()
    if os.path.exists(failed_file):
        with open(failed_file) as f:
            failed = {l.strip() for l in f if l.strip()}
    # `kwire produce` stops at a record it cannot even send (not a delivery
    # failure, which it reports and goes on after): the lines from that one
    # on were never handed to the producer, so they are neither acked nor
    # failed.
    with open(os.path.join(a.work, "producer.err")) as f:
        prod_text = f.read()
    stop = re.search(r"stopped after \d+ records were acknowledged: line (\d+):", prod_text)
    not_sent = {f"p:{i}" for i in range(int(stop.group(1)) - 1, sent[0])} - failed if stop else set()
    acked = {f"p:{i}" for i in range(sent[0])} - failed - not_sent
    r = subprocess.run(kw + ["-b", direct, "consume", "-t", topic, "--from-beginning", "-e", "--format", "json"],
                       capture_output=True, text=True, check=True)
    log_recs = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    in_log = collections.Counter(x["value"] for x in log_recs)
    by_part = collections.defaultdict(list)
    for x in sorted(log_recs, key=lambda x: (x["partition"], x["offset"])):
        by_part[x["partition"]].append(int(x["value"].split(":")[1]))
    read = collections.Counter()
    for i in range(3):
        with open(os.path.join(a.work, f"member{i}.jsonl")) as f:
            for line in f:
                if line.startswith("{"):
                    read[json.loads(line)["value"]] += 1
    result = collections.OrderedDict()
    result["sent"] = sent[0]
    result["acknowledged"] = len(acked)
    result["failed-or-unknown"] = len(failed)
    result["never-sent"] = len(not_sent)
    result["lost-write"] = len([v for v in acked if v not in in_log])
    result["duplicate"] = sum(n - 1 for n in in_log.values() if n > 1)
    result["nonmonotonic-send"] = sum(1 for seqs in by_part.values() for x, y in zip(seqs, seqs[1:]) if y <= x)
    result["unknown-written"] = len([v for v in failed if v in in_log])
    result["redelivered"] = sum(n - 1 for n in read.values() if n > 1)
    result["lost-read"] = len([v for v in in_log if v not in read])
    streamed = collections.Counter()
    with open(stream_out) as f:
        for line in f:
            if line.startswith("{"):
                x = json.loads(line)
                streamed[(x["partition"], x["offset"])] += 1
    log_offsets = {(x["partition"], x["offset"]) for x in log_recs}
    result["stream-duplicate"] = sum(n - 1 for n in streamed.values() if n > 1)
    result["stream-lost"] = len(log_offsets - set(streamed))
    result["stream-extra"] = len(set(streamed) - log_offsets)
    result["faults"] = dict(faults)
    growth = {}
    bad_growth = []
    for name, s in samples.items():
        if len(s) < 4:
            continue
        warm = s[max(1, len(s) // 5)]
        last = s[-1]
        growth[name] = {"rss_kib": [warm[1], last[1], max(x[1] for x in s)], "fds": [warm[2], last[2]]}
        if last[1] > warm[1] * 1.5 and last[1] - warm[1] > 30 * 1024:
            bad_growth.append(f"{name} RSS {warm[1]} -> {last[1]} KiB")
        if last[2] > warm[2] + 20:
            bad_growth.append(f"{name} fds {warm[2]} -> {last[2]}")
    result["rss_fds_after_warmup_end_max"] = growth
    with open(os.path.join(a.work, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    bad = [k for k in ("lost-write", "duplicate", "nonmonotonic-send", "lost-read", "stream-duplicate",
                       "stream-lost", "stream-extra") if result[k]]
    if chaos_died:
        bad.append(f"the chaos loop stopped early ({chaos_died[0]}), so the rest ran without faults")
    if harness_errors:
        with open(os.path.join(a.work, "harness-errors.txt"), "w") as f:
            f.write("\n\n".join(harness_errors))
    if stream_died is not None:
        bad.append(f"the stream exited with {stream_died} during the faults (see stream.err)")
    if fin.returncode != 0:
        bad.append(f"the stream's final run exited with {fin.returncode} (see stream.err)")
    if stop:
        bad.append(f"the producer stopped early: {stop.group(0)} (see producer.err)")
    elif producer.returncode not in (0, None) and not failed:
        last = (prod_text.strip().splitlines() or ["(nothing on stderr)"])[-1]
        bad.append(f"the producer exited with {producer.returncode}: {last}")
    if producer_hung:
        bad.append("the producer did not end within 120 s of its input's end (killed: its outcomes are unknown)")
    if sent[0] < a.rate * a.minutes * 60 * 0.5:
        bad.append(f"only {sent[0]} records sent")
    if bad or bad_growth:
        log(f"FAILED: {', '.join(bad + bad_growth)} (outputs in {a.work})")
        return 1
    log(f"passed: {sent[0]} sent, nothing lost, nothing doubled, order kept; faults {dict(faults)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
