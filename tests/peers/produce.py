#!/usr/bin/env python3
"""Produce records described as JSON lines on stdin with confluent-kafka
(librdkafka), a real peer for kwire's interop tests.

Each line: {"topic": T, "partition": P?, "key": str|null, "value": str|null,
"headers": [[k, v|null], ...]?, "timestamp": ms?}

  produce.py BOOTSTRAP [--compression CODEC] [--transactional-id ID --abort-every N]

With --transactional-id, records are written in transactions of --txn-size
records; every transaction whose index is in --abort (comma list) is aborted.
"""
import argparse
import json
import sys

from confluent_kafka import Producer

ap = argparse.ArgumentParser()
ap.add_argument("bootstrap")
ap.add_argument("--compression", default="none")
ap.add_argument("--transactional-id")
ap.add_argument("--txn-size", type=int, default=1)
ap.add_argument("--abort", default="")
args = ap.parse_args()

conf = {
    "bootstrap.servers": args.bootstrap,
    "compression.type": args.compression,
    "acks": "all",
    "linger.ms": 5,
}
if args.transactional_id:
    conf["transactional.id"] = args.transactional_id
p = Producer(conf)
errors = []


def done(err, msg):
    if err is not None:
        errors.append(str(err))


def enc(s):
    return None if s is None else s.encode("utf-8")


records = [json.loads(line) for line in sys.stdin if line.strip()]
aborts = {int(x) for x in args.abort.split(",") if x.strip()}
if args.transactional_id:
    p.init_transactions(30)
batches = [records[i:i + args.txn_size] for i in range(0, len(records), args.txn_size)] if args.transactional_id else [records]
for i, batch in enumerate(batches):
    if args.transactional_id:
        p.begin_transaction()
    for r in batch:
        kw = {"value": enc(r.get("value")), "key": enc(r.get("key")), "on_delivery": done}
        if "partition" in r:
            kw["partition"] = r["partition"]
        if "timestamp" in r:
            kw["timestamp"] = r["timestamp"]
        if r.get("headers"):
            kw["headers"] = [(k, enc(v)) for k, v in r["headers"]]
        p.produce(r["topic"], **kw)
    if args.transactional_id:
        # Write the records first, so an aborted transaction leaves real
        # aborted data in the log (abort would otherwise purge the queue).
        p.flush(30)
        if i in aborts:
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
left = p.flush(30)
if errors or left:
    print(f"produce.py: {len(errors)} errors, {left} unflushed: {errors[:3]}", file=sys.stderr)
    sys.exit(1)
