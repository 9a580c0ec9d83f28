#!/usr/bin/env python3
"""Write N voter JSON lines, deterministically (same seed, same file):
{"gender": "M", "age": 42, "party": "Democrat"}

    gen_voters.py N > voters.jsonl
"""
import random
import sys

n = int(sys.argv[1])
r = random.Random(7)
genders = ["M", "F"]
parties = ["Democrat", "Republican", "Independent", "Green", "Libertarian"]
out = sys.stdout
buf = []
for _ in range(n):
    buf.append('{"gender": "%s", "age": %d, "party": "%s"}\n'
               % (genders[r.getrandbits(1)], 18 + r.randrange(80), parties[r.randrange(5)]))
    if len(buf) >= 100_000:
        out.write("".join(buf))
        buf = []
out.write("".join(buf))
