#!/usr/bin/env bash
# scripts/install-peers.sh — installs the real peers the interop tests and
# benchmarks use, if missing: Kafka's own jars (via scripts/kafka.sh fetch),
# and kcat from Debian's packages. Idempotent; quiet when all is present.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

"$ROOT/scripts/kafka.sh" fetch >/dev/null

if ! command -v kcat >/dev/null; then
  echo "install-peers: installing kcat (Debian package)" >&2
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq kcat >/dev/null
fi
kcat -V 2>&1 | head -1 >&2
