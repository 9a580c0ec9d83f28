#!/usr/bin/env python3
"""Run a command and report wall time, client CPU (user+sys of the command
and its children) and peak RSS, as one JSON line on stdout.

  measure.py [--stdin FILE] [--stdout FILE] -- CMD ARGS...

Used by the side-by-side benchmarks so every client is measured the same way.
The command's own stdout goes to --stdout (default /dev/null) and its stderr
is passed through to this script's stderr.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdin")
    ap.add_argument("--stdout", default=os.devnull)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    stdin = open(a.stdin, "rb") if a.stdin else subprocess.DEVNULL
    with open(a.stdout, "wb") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=stdin, stdout=out)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    print(json.dumps({
        "wall_s": round(wall, 3),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "max_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "exit": os.waitstatus_to_exitcode(status),
    }))


def proc_usage(pid):
    """CPU seconds (user+sys, all threads) and peak RSS in MB (VmHWM) of a
    running process, from /proc: for processes this script's wait4 can't see
    (long-running instances stopped later, a child the command never reaps)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    return cpu, rss


if __name__ == "__main__":
    main()
