#!/usr/bin/env bash
# bench/peers/java/run.sh — the Kafka Java client peer program of the issue 20
# harness: builds target/javabench.jar (+ target/libs/) with Maven when it is
# missing or older than the sources, then replaces itself with the JVM
# (exec, so a wait4 on this script's pid measures the JVM itself).
#
#   bench/peers/java/run.sh produce|consume|e2e|group --bootstrap B --topic T ...
#   bench/peers/java/run.sh --build-only     (build if needed, run nothing)
#
# JVM flags: JAVABENCH_JVM_OPTS replaces the defaults below, which are those
# Kafka's own tools run with (kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS:
# G1, 20 ms pause goal, IHOP 35 %, headless) plus a 2 GiB heap ceiling (the
# producer's buffer.memory is 1 GiB). The client's logs (slf4j-simple) go to
# stderr at level error; stdout carries only the one JSON line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$here/target/javabench.jar"

stale=0
if [[ ! -f "$jar" || ! -d "$here/target/libs" ]]; then
  stale=1
elif [[ -n "$(find "$here/pom.xml" "$here/src" -newer "$jar" -type f 2>/dev/null)" ]]; then
  stale=1
fi
if [[ $stale == 1 ]]; then
  log="$(mktemp)"
  if ! (cd "$here" && mvn -q -B -Dstyle.color=never package) >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "run.sh: mvn package failed" >&2; exit 1
  fi
  rm -f "$log"
fi
[[ ${1:-} == --build-only ]] && exit 0

default_opts=(-Xmx2g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=error -Dorg.slf4j.simpleLogger.logFile=System.err)
if [[ -n "${JAVABENCH_JVM_OPTS:-}" ]]; then
  # shellcheck disable=SC2206  # word splitting of the option string is intended
  opts=($JAVABENCH_JVM_OPTS)
else
  opts=("${default_opts[@]}")
fi
exec java "${opts[@]}" -jar "$jar" "$@"
