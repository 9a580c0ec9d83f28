#!/usr/bin/env python3
"""Readiness probe for scripts/kafka.sh (stdlib only).

  probe.py [--brokers N] [--timeout S] HOST:PORT...
      Sends a real Metadata v1 request (no topics) to each address and parses
      the broker list of the response. Prints one line per address:
          127.0.0.1:9092 up brokers=3 controller=1
          127.0.0.1:9093 down: [Errno 111] Connection refused
      Exit 0 only if every address answered and reported at least N brokers.

  probe.py --free PORT...
      Exit 0 if every port can be bound on 127.0.0.1 (SO_REUSEADDR, as the JVM
      does, so TIME_WAIT leftovers don't count); else print the busy ones, exit 1.
"""
import argparse
import socket
import struct
import sys

API_METADATA = 3
VERSION = 1
CORRELATION_ID = 0x6B77  # "kw"
CLIENT_ID = b"kwire-probe"
MAX_RESPONSE = 16 << 20


def metadata_request() -> bytes:
    # Request header v1: api_key, api_version, correlation_id, client_id (nullable string).
    header = struct.pack(">hhih", API_METADATA, VERSION, CORRELATION_ID, len(CLIENT_ID)) + CLIENT_ID
    body = struct.pack(">i", 0)  # topics: empty array (v1: empty = none, null = all)
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("truncated metadata response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        if self.pos + n > len(self.data):
            raise ValueError("truncated string in metadata response")
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s


def probe(addr: str, timeout: float):
    """Return (broker_ids, controller_id) or raise."""
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout) as sock:
        sock.sendall(metadata_request())
        (size,) = struct.unpack(">i", recv_exact(sock, 4))
        if size < 4 or size > MAX_RESPONSE:
            raise ValueError("bad response size %d" % size)
        r = Reader(recv_exact(sock, size))
    if r.take(">i") != CORRELATION_ID:
        raise ValueError("correlation id mismatch")
    count = r.take(">i")
    if count < 0 or count > 100000:
        raise ValueError("bad broker count %d" % count)
    ids = []
    for _ in range(count):
        ids.append(r.take(">i"))  # node_id
        r.string()                # host
        r.take(">i")              # port
        r.string()                # rack (v1+)
    controller = r.take(">i")     # controller_id (v1+)
    return sorted(ids), controller


def check_free(ports) -> int:
    busy = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", int(port)))
        except OSError:
            busy.append(str(port))
        finally:
            s.close()
    if busy:
        print(" ".join(busy))
        return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", type=int, default=1, help="brokers each node must report (default 1)")
    ap.add_argument("--need-id", type=int, action="append", default=[],
                    help="a broker id that must be registered (repeatable); with it, --brokers is not checked")
    ap.add_argument("--timeout", type=float, default=2.0, help="per-address socket timeout, seconds")
    ap.add_argument("--free", action="store_true", help="check that the given ports are free")
    ap.add_argument("targets", nargs="+", metavar="HOST:PORT")
    args = ap.parse_args()
    if args.free:
        return check_free(args.targets)
    ok = True
    for addr in args.targets:
        try:
            ids, controller = probe(addr, args.timeout)
        except (OSError, ValueError) as e:
            print("%s down: %s" % (addr, e))
            ok = False
            continue
        if args.need_id:
            missing = [i for i in args.need_id if i not in ids]
            ready = not missing
            state = "up" if ready else "waiting (broker %s not registered yet)" % ",".join(map(str, missing))
        else:
            ready = len(ids) >= args.brokers
            state = "up" if ready else "waiting (%d of %d brokers)" % (len(ids), args.brokers)
        ok = ok and ready
        print("%s %s brokers=%d ids=%s controller=%d"
              % (addr, state, len(ids), ",".join(map(str, ids)), controller))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
