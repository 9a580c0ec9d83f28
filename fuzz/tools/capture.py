#!/usr/bin/env python3
"""Capture real broker responses as seeds for the `response` fuzz target.

A tiny TCP proxy between kwire and a broker. Every response frame is saved as

    api_key (i16 BE) | api_version (i16 BE) | frame body (correlation id, header, body)

which is the input format of fuzz/fuzz_targets/response.rs. The proxy reads
each request's api key, version and correlation id to label the response.

Brokers advertise their own address in Metadata and FindCoordinator
responses; the proxy rewrites the advertised port (`127.0.0.1` + broker port)
to its own so kwire keeps talking through it. The frame is saved after the
rewrite (what kwire decoded).

    fuzz/tools/capture.py --broker 127.0.0.1:9092 --listen 127.0.0.1:19092 \
        --out fuzz/corpus/response [--max-frame 65536] [--per-api 12]

Stop it with SIGINT/SIGTERM. Frames above --max-frame bytes and more than
--per-api files per (api, version) are skipped, to keep the corpus small.
Identical frames are stored once (content-addressed names).
"""

import argparse
import hashlib
import os
import signal
import socket
import struct
import sys
import threading

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 8: "offset_commit",
    9: "offset_fetch", 10: "find_coordinator", 11: "join_group", 12: "heartbeat",
    13: "leave_group", 14: "sync_group", 15: "describe_groups", 16: "list_groups",
    18: "api_versions", 19: "create_topics", 20: "delete_topics", 22: "init_producer_id",
    32: "describe_configs", 37: "create_partitions", 42: "delete_groups",
    44: "incremental_alter_configs", 47: "offset_delete", 68: "consumer_group_heartbeat",
    69: "consumer_group_describe",
}


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    head = read_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    if size < 0 or size > 256 << 20:
        return None
    return read_exact(sock, size)


class Capture:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = {}
        host, port = args.broker.rsplit(":", 1)
        self.broker = (host, int(port))
        lhost, lport = args.listen.rsplit(":", 1)
        self.listen = (lhost, int(lport))
        # 127.0.0.1 followed by the broker's port, as Metadata/FindCoordinator encode it.
        self.needle = b"127.0.0.1" + struct.pack(">i", self.broker[1])
        self.replacement = b"127.0.0.1" + struct.pack(">i", self.listen[1])
        os.makedirs(args.out, exist_ok=True)
        self.saved = 0

    def save(self, key, version, frame):
        if len(frame) > self.args.max_frame:
            return
        with self.lock:
            n = self.counts.get((key, version), 0)
            if n >= self.args.per_api:
                return
            digest = hashlib.sha1(struct.pack(">hh", key, version) + frame).hexdigest()[:12]
            name = f"{API_NAMES.get(key, f'api{key}')}-v{version}-{digest}"
            path = os.path.join(self.args.out, name)
            if os.path.exists(path):
                return
            with open(path, "wb") as f:
                f.write(struct.pack(">hh", key, version) + frame)
            self.counts[(key, version)] = n + 1
            self.saved += 1

    def serve(self, client):
        try:
            upstream = socket.create_connection(self.broker)
        except OSError as e:
            print(f"capture: cannot reach broker: {e}", file=sys.stderr)
            client.close()
            return
        inflight = {}
        inflight_lock = threading.Lock()

        def c2b():
            try:
                while True:
                    frame = read_frame(client)
                    if frame is None or len(frame) < 8:
                        break
                    key, version, cid = struct.unpack(">hhi", frame[:8])
                    with inflight_lock:
                        inflight[cid] = (key, version)
                    upstream.sendall(struct.pack(">i", len(frame)) + frame)
            except OSError:
                pass
            finally:
                try:
                    upstream.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        def b2c():
            try:
                while True:
                    frame = read_frame(upstream)
                    if frame is None or len(frame) < 4:
                        break
                    (cid,) = struct.unpack(">i", frame[:4])
                    with inflight_lock:
                        label = inflight.pop(cid, None)
                    if label is not None and label[0] in (3, 10):
                        frame = frame.replace(self.needle, self.replacement)
                    if label is not None:
                        self.save(label[0], label[1], frame)
                    client.sendall(struct.pack(">i", len(frame)) + frame)
            except OSError:
                pass
            finally:
                try:
                    client.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threads = [threading.Thread(target=c2b, daemon=True), threading.Thread(target=b2c, daemon=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.close()
        upstream.close()

    def run(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(self.listen)
        srv.listen(64)
        print(f"capture: {self.listen[0]}:{self.listen[1]} -> {self.broker[0]}:{self.broker[1]}, "
              f"saving to {self.args.out}", file=sys.stderr, flush=True)

        def stop(*_):
            print(f"capture: saved {self.saved} responses", file=sys.stderr, flush=True)
            os._exit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            client, _ = srv.accept()
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", default="127.0.0.1:9092")
    p.add_argument("--listen", default="127.0.0.1:19099")
    p.add_argument("--out", required=True)
    p.add_argument("--max-frame", type=int, default=64 << 10)
    p.add_argument("--per-api", type=int, default=12)
    Capture(p.parse_args()).run()


if __name__ == "__main__":
    main()
