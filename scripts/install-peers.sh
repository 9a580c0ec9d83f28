#!/usr/bin/env bash
# scripts/install-peers.sh — installs the real peers the interop tests and
# benchmarks use, if missing: Kafka's own jars (via scripts/kafka.sh fetch),
# kcat and iperf3 from Debian's packages, and confluent-kafka (librdkafka's Python
# client, from PyPI) in a venv at $KWIRE_CACHE/venv. Idempotent; quiet when
# all is present. Prints the venv's python path last, for scripts to use.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

"$ROOT/scripts/kafka.sh" fetch >/dev/null

# kcat (the librdkafka peer) and iperf3 (the loopback ceiling in scripts/bench/all.sh).
missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v iperf3 >/dev/null || missing+=(iperf3)
if ((${#missing[@]})); then
  echo "install-peers: installing ${missing[*]} (Debian packages)" >&2
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
kcat -V 2>&1 | head -1 >&2

VENV=${KWIRE_CACHE:-$HOME/.cache/kwire}/venv
if ! "$VENV/bin/python" -c "import confluent_kafka" 2>/dev/null; then
  echo "install-peers: installing confluent-kafka (PyPI) into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "confluent-kafka==2.16.1"
fi
"$VENV/bin/python" -c "import confluent_kafka as c; print('confluent-kafka', c.version()[0], 'librdkafka', c.libversion()[0])" >&2
