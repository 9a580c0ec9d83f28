#!/usr/bin/env bash
# scripts/kafka.sh — fetch, run and drive a real Apache Kafka (KRaft) for kwire's
# tests, demos and benchmarks. Jars come from Maven Central via scripts/kafka/pom.xml
# (no tarball); every node runs from them with the machine's java (17+).
# KWIRE_KAFKA_VERSION picks the release: 4.x (default 4.4.0) and 3.x run in KRaft
# mode; 2.x runs in ZooKeeper mode with one ZooKeeper (from the same jars) per
# instance, on port P+100. The commands are the same for every version.
#
# Layout (all outside the repo):
#   $KWIRE_CACHE/kafka-<version>/libs/     the jars (+ .complete marker once fetched)
#   $KWIRE_RUN_DIR/<name>/instance.env     layout of instance <name> (nodes, port, version)
#   $KWIRE_RUN_DIR/<name>/node<i>/         server.properties, data/ (log.dirs), pid,
#                                          logs/server.log (log4j2), logs/stdout.log
#   $KWIRE_RUN_DIR/<name>/certs/           (--secure) test CA and certificates, made at start
#   $KWIRE_RUN_DIR/<name>/zk/              (2.x) zk.properties, data/, pid, logs/
# A `start` of an instance that is not running wipes its node dirs and formats a
# brand-new cluster, so every test run begins from empty topics and groups.
# Needs (Linux): java 17+, python3 (stdlib), mvn for the first fetch, setsid/flock
# (util-linux) and ps (procps). Processes are only ever signalled by their pid file,
# after checking that the pid still runs kafka.Kafka with this node's config.

# Node lists such as $(all_nodes) are small integers, split on purpose.
# shellcheck disable=SC2046
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/kafka.sh <command> [options]

  fetch                          download the Kafka jars (idempotent)
  start [--nodes 1|3] [--port P] [--name N] [--secure] [--proxied]
                                 start instance N (fresh data) and wait until every
                                 broker answers; no-op if it is already up
  stop [--name N]                stop instance N (SIGTERM, then SIGKILL after 20 s)
  status [--name N]              per node: pid, ports, up/down (exit 0 iff all up)
  kill-node I [--name N]         SIGKILL node I (1-based) of instance N
  start-node I... [--name N]     restart node(s) I with their data, together; wait until they answer
  tool NAME [ARGS...]            run a Kafka tool, e.g. `tool TopicCommand --list
                                 --bootstrap-server 127.0.0.1:9092`; NAME is a short
                                 class name, a kafka-*.sh name or a full class name
  env [--name N]                 print KWIRE_KAFKA_* variables (eval-able)
  libs | classpath               print the jar directory / the java classpath

Defaults: --nodes 1, --port 9092 (nodes use P, P+1, P+2; controllers P+100...),
--name default. Environment: KWIRE_KAFKA_VERSION (4.4.0), KWIRE_KAFKA_PORT,
KWIRE_CACHE (~/.cache/kwire), KWIRE_RUN_DIR ($KWIRE_CACHE/run),
KWIRE_KAFKA_START_TIMEOUT (90 s), KWIRE_KAFKA_STOP_TIMEOUT (20 s),
KWIRE_KAFKA_HEAP (-Xms256m -Xmx1g), KWIRE_KAFKA_JVM_OPTS, KWIRE_TOOL_JVM_OPTS.

Versions: KWIRE_KAFKA_VERSION=X.Y.Z selects the release for fetch, start and tool
(an instance keeps the version it was started with). 4.x and 3.x (e.g. 3.9.2) run
in KRaft mode; 2.x (e.g. 2.8.2) runs in ZooKeeper mode. The oldest that runs on
Java 17 is 2.4.0: 2.3.1 and older ship the ZooKeeper 3.4 client, which cannot
connect on Java 14+ (UnresolvedAddressException), so start refuses them. On 2.x
start also runs a ZooKeeper on P+100 (no controllers), stop stops
it last. `tool` maps short names to that version's classes (e.g. ConsoleConsumer is
kafka.tools.ConsoleConsumer on 2.x, org.apache.kafka.tools.consumer.ConsoleConsumer
on 3.9 and 4.x); --secure needs 3.x or newer.

--secure (one node only) adds TLS and SASL listeners next to PLAINTEXT on P:
  P+1 SSL             client certificate requested (optional)
  P+2 SASL_SSL        PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (unsecured JWTs)
  P+3 SASL_PLAINTEXT  the same mechanisms without TLS
  P+4 SSL (MTLS)      client certificate required
  P+5 SSL (BADNAME)   certificate that names only wrong.invalid (negative tests)
Certificates (EC P-256, PEM) are made at start by scripts/kafka/gen-certs.sh in
<run dir>/certs: ca.pem signs server (SANs IP:127.0.0.1, DNS:localhost), badname
and client.crt/.key; wrong-ca.pem signs nothing. `env` prints their paths.
Users: PLAIN alice/alice-secret and admin/admin-secret; SCRAM-SHA-256 and
SCRAM-SHA-512 alice/alice-secret (created when the storage is formatted).

--proxied (KRaft) adds a PLAINTEXT listener PROXIED on P+50+i-1 for node i that
advertises P+60+i-1 instead: a TCP proxy (the fault tests run toxiproxy, see
scripts/toxiproxy.sh) listening there and forwarding to P+50+i-1 carries every
connection of a client that bootstraps from P+60..., while inter-broker and
controller traffic and clients of P stay direct. `env` prints
KWIRE_KAFKA_PROXIED_BOOTSTRAP and KWIRE_KAFKA_PROXIED_ROUTES (advertised=real,...).

ACLs (3.2+): authorizer.class.name=StandardAuthorizer, super.users=User:ANONYMOUS;User:admin
(PLAINTEXT, inter-broker and controller connections are ANONYMOUS), and
allow.everyone.if.no.acl.found=true: a resource no ACL names is open to everyone.
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KDIR=$HERE/kafka
CACHE=${KWIRE_CACHE:-$HOME/.cache/kwire}
RUN_ROOT=${KWIRE_RUN_DIR:-$CACHE/run}
VERSION=${KWIRE_KAFKA_VERSION:-4.4.0}
START_TIMEOUT=${KWIRE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KWIRE_KAFKA_STOP_TIMEOUT:-20}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
PYTHON=${KWIRE_PYTHON:-python3}
read -r -a HEAP <<<"${KWIRE_KAFKA_HEAP:--Xms256m -Xmx1g}"
# -XX:+PerfDisableSharedMem: no hsperfdata file in /tmp, which the JVM writes
# at safepoints; on this machine's shared disk a write there stalled whole
# brokers (safepoint "Cleanup" held for 7-25 s in the soak, all three nodes,
# the clients timing out) and never with the flag (the same soak: 1.6 s at
# most). jps/jstat can't see the brokers; jcmd still can.
read -r -a JVM_OPTS <<<"-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -XX:+PerfDisableSharedMem \
  -Djava.awt.headless=true ${KWIRE_KAFKA_JVM_OPTS:-}"
read -r -a TOOL_OPTS <<<"${KWIRE_TOOL_JVM_OPTS:--Xms64m -Xmx512m -XX:+UseG1GC}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$@"; exit 1; }
now() { echo "${EPOCHREALTIME/[.,]/}"; }                           # microseconds
since() { local d=$(( $(now) - $1 )); printf '%d.%01d' $((d / 1000000)) $((d % 1000000 / 100000)); }

# ---------------------------------------------------------------- versions
vmajor() { echo "${1%%.*}"; }
vminor() { local r=${1#*.}; echo "${r%%.*}"; }
zk_mode() { (($(vmajor "$1") < 3)); }     # 2.x: ZooKeeper; 3.x and 4.x: KRaft
# scala_of VERSION: the Scala build of the broker artifact (kafka_2.13 exists from 2.4.0 on).
scala_of() {
  local ma mi
  ma=$(vmajor "$1") mi=$(vminor "$1")
  if ((ma < 2 || (ma == 2 && mi < 4))); then echo 2.12; else echo 2.13; fi
}
# log_opts VERSION server|tools: sets LOG_OPTS, the JVM flags that pick our logging
# config (log4j2 on 4.x; the log4j 1.x API, i.e. log4j 1.2 or reload4j, before).
log_opts() {
  if (($(vmajor "$1") >= 4)); then
    LOG_OPTS=(-Dlog4j2.configurationFile="$KDIR/log4j2-$2.xml")
  else
    LOG_OPTS=(-Dlog4j.configuration="file:$KDIR/log4j-$2.properties")
  fi
}

# ---------------------------------------------------------------- fetch
libdir() { echo "$CACHE/kafka-$1/libs"; }

# fetch VERSION: copy the jars into the cache unless a previous fetch completed.
# The .complete marker is written last, so an interrupted fetch starts over.
fetch() {
  local v=$1 dir=$CACHE/kafka-$1 line=${1%%.*} scala
  [[ -f $dir/.complete ]] && return 0
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad Kafka version '$v' (want X.Y.Z)"
  scala=$(scala_of "$v")
  grep -q "<id>kafka-$line</id>" "$KDIR/pom.xml" ||
    die "Kafka $v: scripts/kafka/pom.xml has no profile kafka-$line yet"
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
  mkdir -p "$dir"
  exec 8>"$dir/.lock"                     # one fetch per version at a time
  flock 8
  if [[ ! -f $dir/.complete ]]; then
    log "fetching Apache Kafka $v from Maven Central into $dir/libs"
    local t0; t0=$(now)
    rm -rf "$dir/libs"
    # Output goes to a file (quiet maven still prints colour codes); shown on failure.
    if ! mvn -q -B -f "$KDIR/pom.xml" -Dkafka.version="$v" -Dkafka.line="$line" -Dkafka.scala="$scala" \
      dependency:copy-dependencies -DoutputDirectory="$dir/libs" >"$dir/fetch.log" 2>&1; then
      tail -n 40 "$dir/fetch.log" >&2
      die "maven could not fetch Kafka $v (full output: $dir/fetch.log)"
    fi
    [[ -f $dir/libs/kafka_$scala-$v.jar ]] || die "fetch of Kafka $v incomplete: no kafka_$scala-$v.jar"
    date -u +%FT%TZ >"$dir/.complete"
    log "fetched Kafka $v ($(find "$dir/libs" -name '*.jar' | wc -l) jars) in $(since "$t0") s"
  fi
  exec 8>&-
}

# ---------------------------------------------------------------- instances
# set_instance NAME: INST dir; load_instance: I_NODES, I_PORT, I_VERSION from instance.env.
set_instance() {
  [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "bad instance name '$1'"
  NAME=$1 INST=$RUN_ROOT/$1
}
load_instance() {
  I_NODES='' I_PORT='' I_VERSION='' I_SECURE=0 I_PROXIED=0
  [[ -f $INST/instance.env ]] || return 1
  # shellcheck source=/dev/null
  source "$INST/instance.env"
}
lock_instance() {                         # serialise start/stop/... of one instance
  mkdir -p "$INST"
  exec 9>"$INST/.lock"
  flock -w 300 9 || die "instance '$NAME' is locked by another kafka.sh"
}

bport() { echo $((I_PORT + $1 - 1)); }    # broker (PLAINTEXT) port of node $1
pport() { echo $((I_PORT + 50 + $1 - 1)); }   # --proxied: node $1's PROXIED listener
xport() { echo $((I_PORT + 60 + $1 - 1)); }   # --proxied: the address it advertises (the proxy's)
cport() { echo $((I_PORT + 100 + $1 - 1)); }  # controller port of node $1 (KRaft)
zkport() { echo $((I_PORT + 100)); }      # ZooKeeper client port (2.x; no controllers then)
ndir() { echo "$INST/node$1"; }
zkdir() { echo "$INST/zk"; }
# node_ports I: the ports node I listens on (broker, and controller in KRaft mode).
node_ports() {
  bport "$1"
  zk_mode "$I_VERSION" || cport "$1"
  if [[ $I_PROXIED == 1 ]]; then pport "$1"; fi
}
certdir() { echo "$INST/certs"; }
# --secure listeners of node 1, as NAME:PORT-OFFSET:SECURITY-PROTOCOL.
SECURE_LISTENERS=(SSL:1:SSL SASL_SSL:2:SASL_SSL SASL_PLAINTEXT:3:SASL_PLAINTEXT MTLS:4:SSL BADNAME:5:SSL)
secure_port() {                           # secure_port NAME: port of that listener
  local l
  for l in "${SECURE_LISTENERS[@]}"; do
    [[ ${l%%:*} == "$1" ]] && { l=${l#*:}; echo $((I_PORT + ${l%%:*})); return 0; }
  done
  return 1
}
secure_ports() { local l; for l in "${SECURE_LISTENERS[@]}"; do secure_port "${l%%:*}"; done; }
bootstrap() { local i s=''; for ((i = 1; i <= I_NODES; i++)); do s+="${s:+,}127.0.0.1:$(bport "$i")"; done; echo "$s"; }

# node_pid I: the pid of node I if it is alive and really ours (a java running
# kafka.Kafka with this node's config), else fail. Guards against reused pids.
node_pid() {
  local nd pid args
  nd=$(ndir "$1")
  pid=$(cat "$nd/pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1
  [[ ${args%% *} == *java && $args == *" kafka.Kafka $nd/server.properties"* ]] || return 1
  echo "$pid"
}

probe() { "$PYTHON" "$KDIR/probe.py" "$@"; }

# ---- ZooKeeper (2.x instances): one standalone server per instance, from the
# zookeeper jar that kafka_2.1x depends on, started before the brokers.
zk_pid() {                                # like node_pid, for the instance's ZooKeeper
  local zd pid args
  zd=$(zkdir)
  pid=$(cat "$zd/pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -ww -o args= -p "$pid" 2>/dev/null) || return 1
  [[ ${args%% *} == *java && $args == *" org.apache.zookeeper.server.quorum.QuorumPeerMain $zd/zk.properties"* ]] || return 1
  echo "$pid"
}
zk_answers() {                            # the client port accepts connections
  "$PYTHON" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$(zkport)" 2>/dev/null
}
start_zk() {                              # start the ZooKeeper unless running; wait for it
  local zd busy pid deadline=$((SECONDS + START_TIMEOUT))
  zd=$(zkdir)
  if ! zk_pid >/dev/null; then
    busy=$(probe --free "$(zkport)") || die "ZooKeeper port $busy on 127.0.0.1 already in use"
    mkdir -p "$zd/data" "$zd/logs"
    printf '%s\n' "# Generated by scripts/kafka.sh for instance '$NAME' (Kafka $I_VERSION, ZooKeeper mode)." \
      "dataDir=$zd/data" "clientPort=$(zkport)" "clientPortAddress=127.0.0.1" "maxClientCnxns=0" \
      "admin.enableServer=false" >"$zd/zk.properties"
    rm -f "$zd/pid"
    log_opts "$I_VERSION" server
    # shellcheck disable=SC2016
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$zd/pid" \
      "$JAVA" -Xms64m -Xmx256m -XX:+UseSerialGC "${LOG_OPTS[@]}" -Dkafka.logs.dir="$zd/logs" \
      -cp "$(libdir "$I_VERSION")/*" org.apache.zookeeper.server.quorum.QuorumPeerMain "$zd/zk.properties" \
      </dev/null >>"$zd/logs/stdout.log" 2>&1 8>&- 9>&- &
  fi
  until zk_answers; do
    pid=$(cat "$zd/pid" 2>/dev/null) || pid=''
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$zd/logs/server.log" "$zd/logs/stdout.log" >&2 2>/dev/null || true
      die "ZooKeeper of instance '$NAME' exited during startup"
    fi
    ((SECONDS < deadline)) || die "ZooKeeper of instance '$NAME' not answering on $(zkport) after ${START_TIMEOUT}s"
    sleep 0.2
  done
}
stop_zk() {                               # SIGTERM the instance's ZooKeeper (SIGKILL after STOP_TIMEOUT)
  local pid deadline=$((SECONDS + STOP_TIMEOUT))
  pid=$(zk_pid) || { rm -f "$(zkdir)/pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while zk_pid >/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  rm -f "$(zkdir)/pid"
}

write_config() {                          # write_config I: node I's server.properties
  local i=$1 nd rf misr voters='' j
  nd=$(ndir "$i")
  if ((I_NODES == 1)); then rf=1 misr=1; else rf=3 misr=2; fi
  for ((j = 1; j <= I_NODES; j++)); do voters+="${voters:+,}$j@127.0.0.1:$(cport "$j")"; done
  local adv map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT l lis
  adv="PLAINTEXT://127.0.0.1:$(bport "$i")"
  if [[ $I_SECURE == 1 ]]; then
    for l in "${SECURE_LISTENERS[@]}"; do
      adv+=",${l%%:*}://127.0.0.1:$(secure_port "${l%%:*}")"
      map+=",${l%%:*}:${l##*:}"
    done
  fi
  lis=$adv
  if [[ $I_PROXIED == 1 ]]; then
    lis+=",PROXIED://127.0.0.1:$(pport "$i")"
    adv+=",PROXIED://127.0.0.1:$(xport "$i")"
    map+=",PROXIED:PLAINTEXT"
  fi
  mkdir -p "$nd/data" "$nd/logs"
  if zk_mode "$I_VERSION"; then write_zk_config "$i" "$nd" "$rf" "$misr"; return 0; fi
  cat >"$nd/server.properties" <<EOF
# Generated by scripts/kafka.sh for instance '$NAME', node $i of $I_NODES (Kafka $I_VERSION).
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=$lis,CONTROLLER://127.0.0.1:$(cport "$i")
advertised.listeners=$adv
listener.security.protocol.map=$map
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$nd/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$misr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$misr
group.initial.rebalance.delay.ms=0
# Let tests use short KIP-848 consumer sessions (the default floor is 45 s).
group.consumer.min.session.timeout.ms=6000
group.consumer.min.heartbeat.interval.ms=500
# A killed node's old registration must expire before it can rejoin (and before its
# replicas leave the ISR): 6 s instead of 9 s, still 6 heartbeats of slack.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
EOF
  if (($(vmajor "$I_VERSION") >= 4)); then
    # Share groups (KIP-932): heartbeats every second instead of 5 s, so a
    # new member gets its assignment (computed after its first heartbeat)
    # within a second, as the consumer group settings above allow.
    printf '%s\n' "share.coordinator.state.topic.replication.factor=$rf" \
      "share.coordinator.state.topic.min.isr=$misr" \
      "group.share.min.heartbeat.interval.ms=500" \
      "group.share.heartbeat.interval.ms=1000" >>"$nd/server.properties"
  fi
  if [[ $I_SECURE == 1 ]]; then write_secure_config "$nd/server.properties"; fi
}

# write_zk_config I DIR RF MINISR: a 2.x broker registered in the instance's ZooKeeper.
write_zk_config() {
  cat >"$2/server.properties" <<EOF
# Generated by scripts/kafka.sh for instance '$NAME', node $1 of $I_NODES (Kafka $I_VERSION, ZooKeeper mode).
broker.id=$1
zookeeper.connect=127.0.0.1:$(zkport)
zookeeper.session.timeout.ms=6000
listeners=PLAINTEXT://127.0.0.1:$(bport "$1")
advertised.listeners=PLAINTEXT://127.0.0.1:$(bport "$1")
log.dirs=$2/data
num.partitions=1
default.replication.factor=$3
min.insync.replicas=$4
offsets.topic.replication.factor=$3
transaction.state.log.replication.factor=$3
transaction.state.log.min.isr=$4
group.initial.rebalance.delay.ms=0
EOF
}

# write_secure_config FILE: TLS and SASL settings of the --secure listeners.
write_secure_config() {
  local c l m jaas
  c=$(certdir)
  {
    echo "# --secure: PEM stores made by scripts/kafka/gen-certs.sh; controller and inter-broker stay PLAINTEXT."
    echo "ssl.keystore.type=PEM"
    echo "ssl.keystore.location=$c/server.pem"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$c/ca.pem"
    echo "listener.name.ssl.ssl.client.auth=requested"
    echo "listener.name.mtls.ssl.client.auth=required"
    echo "listener.name.badname.ssl.keystore.location=$c/badname.pem"
    echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
    for l in sasl_ssl sasl_plaintext; do
      for m in plain scram-sha-256 scram-sha-512 oauthbearer; do
        case $m in
          plain) jaas='org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_admin="admin-secret";' ;;
          scram-*) jaas='org.apache.kafka.common.security.scram.ScramLoginModule required;' ;;
          oauthbearer) jaas='org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";' ;;
        esac
        echo "listener.name.$l.$m.sasl.jaas.config=$jaas"
      done
    done
    # ACLs: StandardAuthorizer (KRaft, Kafka 3.2+). PLAINTEXT, inter-broker and controller
    # connections are User:ANONYMOUS, so they (and admin) are super users; a resource no
    # ACL names stays open to everyone, so only the ACLs a test adds restrict anything.
    local ma mi
    ma=$(vmajor "$I_VERSION") mi=$(vminor "$I_VERSION")
    if ((ma > 3 || (ma == 3 && mi >= 2))); then
      echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
      echo "super.users=User:ANONYMOUS;User:admin"
      echo "allow.everyone.if.no.acl.found=true"
    fi
  } >>"$1"
}

launch_node() {                           # start node I in the background (own session)
  local nd
  nd=$(ndir "$1")
  mkdir -p "$nd/logs"
  rm -f "$nd/pid"
  # The inner shell records its pid and execs java, so the pid file is the JVM's pid.
  log_opts "$I_VERSION" server
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$nd/pid" \
    "$JAVA" "${HEAP[@]}" "${JVM_OPTS[@]}" \
    "${LOG_OPTS[@]}" -Dkafka.logs.dir="$nd/logs" \
    -cp "$(libdir "$I_VERSION")/*" kafka.Kafka "$nd/server.properties" \
    </dev/null >>"$nd/logs/stdout.log" 2>&1 8>&- 9>&- &
  # Wait for the exec (until then the pid is the wrapper shell's) or an early death.
  local n=0 pid
  until node_pid "$1" >/dev/null; do
    pid=$(cat "$nd/pid" 2>/dev/null) && ! kill -0 "$pid" 2>/dev/null && break
    ((++n < 100)) || break                # wait_ready reports what went wrong
    sleep 0.05
  done
}

node_failed() {                           # node_failed I MESSAGE: error + log tail
  local nd
  nd=$(ndir "$1")
  log "instance '$NAME' node $1 (127.0.0.1:$(bport "$1")): $2"
  if [[ -s $nd/logs/server.log ]]; then
    echo "--- last 40 lines of $nd/logs/server.log" >&2
    tail -n 40 "$nd/logs/server.log" >&2
  fi
  if [[ -s $nd/logs/stdout.log ]]; then
    echo "--- last 20 lines of $nd/logs/stdout.log" >&2
    tail -n 20 "$nd/logs/stdout.log" >&2
  fi
}

# wait_ready I...: poll until each listed node answers Metadata and reports all
# I_NODES brokers; fail fast if a node's process dies.
# wait_ready I...: until every listed node answers and reports the whole
# cluster. With WAIT_OWN_ID=1 (start-node), each only has to report itself
# registered, so a node can come back while others are still down.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) i out addrs=() bad need=(--brokers "$I_NODES")
  for i in "$@"; do addrs+=("127.0.0.1:$(bport "$i")"); done
  if [[ ${WAIT_OWN_ID:-0} == 1 ]]; then
    need=()
    for i in "$@"; do need+=(--need-id "$i"); done
  fi
  while :; do
    for i in "$@"; do
      node_pid "$i" >/dev/null || { node_failed "$i" "process exited during startup"; return 1; }
    done
    out=$(probe --timeout 1 "${need[@]}" "${addrs[@]}") && return 0
    if ((SECONDS >= deadline)); then
      # Blame the first node that is down, else the first one still waiting for peers.
      bad=$(grep ' down' <<<"$out" | head -n1) || bad=$(grep -v ' up ' <<<"$out" | head -n1) || true
      i=$1
      [[ $bad =~ ^127\.0\.0\.1:([0-9]+)\  ]] && i=$((BASH_REMATCH[1] - I_PORT + 1))
      node_failed "$i" "not ready after ${START_TIMEOUT}s: ${bad#* }"
      return 1
    fi
    sleep 0.3
  done
}

# stop_nodes I...: SIGTERM the listed live nodes, wait until they are gone, SIGKILL
# what is left after STOP_TIMEOUT. A broker's controlled shutdown needs a controller
# quorum: once a majority of the instance's nodes has exited, the rest can never
# finish, so they get only a short grace. Pid files are removed.
stop_nodes() {
  local i pid left deadline=$((SECONDS + STOP_TIMEOUT)) why="after ${STOP_TIMEOUT}s"
  for i in "$@"; do
    if pid=$(node_pid "$i"); then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  while :; do
    left=()
    for i in "$@"; do node_pid "$i" >/dev/null && left+=("$i"); done
    ((${#left[@]} == 0)) && break
    if ! zk_mode "$I_VERSION" && ((I_NODES > 1 && $(live_nodes | wc -l) * 2 <= I_NODES && SECONDS + 3 < deadline)); then
      deadline=$((SECONDS + 3)) why="with the controller quorum gone"
    fi
    if ((SECONDS >= deadline)); then
      log "node(s) ${left[*]} of '$NAME' still up $why, sending SIGKILL"
      kill_nodes "${left[@]}"
      break
    fi
    sleep 0.2
  done
  for i in "$@"; do rm -f "$(ndir "$i")/pid"; done
}
kill_nodes() {
  local i pid pids=() n
  for i in "$@"; do
    if pid=$(node_pid "$i"); then kill -KILL "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  for i in "$@"; do
    while node_pid "$i" >/dev/null; do sleep 0.1; done
    rm -f "$(ndir "$i")/pid"
  done
  # A killed JVM stops looking like one (ps shows no command line once its
  # memory is unmapped) before the kernel closes its sockets; on a loaded
  # machine that took seconds, and an immediate start-node found the ports
  # taken. Wait until the process is gone altogether (60 s at most).
  for pid in "${pids[@]}"; do
    n=0
    while kill -0 "$pid" 2>/dev/null && ((++n < 600)); do sleep 0.1; done
  done
}

all_nodes() { seq 1 "$I_NODES"; }
live_nodes() { local i; for ((i = 1; i <= I_NODES; i++)); do node_pid "$i" >/dev/null && echo "$i"; done; true; }

check_ports_free() {                      # check_ports_free I...: broker+controller ports
  local i ports=() busy
  for i in "$@"; do mapfile -t -O "${#ports[@]}" ports < <(node_ports "$i"); done
  if [[ $I_SECURE == 1 ]]; then mapfile -t -O "${#ports[@]}" ports < <(secure_ports); fi
  busy=$(probe --free "${ports[@]}") ||
    die "port(s) $busy on 127.0.0.1 already in use by something other than instance '$NAME'"
}

# ---------------------------------------------------------------- commands
cmd_start() {
  local t0 live nodes=$OPT_NODES port=$OPT_PORT missing=() i cid
  t0=$(now)
  lock_instance
  if load_instance && live=$(live_nodes) && [[ -n $live ]]; then
    # Already (partly) running: keep its layout; explicit options must agree.
    if [[ ${nodes:-$I_NODES} != "$I_NODES" || ${port:-$I_PORT} != "$I_PORT" || ${OPT_SECURE:-$I_SECURE} != "$I_SECURE" ||
      ${OPT_PROXIED:-$I_PROXIED} != "$I_PROXIED" ]]; then
      local sec=''
      [[ $I_SECURE == 1 ]] && sec=' --secure'
      [[ $I_PROXIED == 1 ]] && sec+=' --proxied'
      die "instance '$NAME' is running with --nodes $I_NODES --port $I_PORT$sec; stop it first"
    fi
    for i in $(all_nodes); do grep -qx "$i" <<<"$live" || missing+=("$i"); done
    if ((${#missing[@]} == 0)) && probe --timeout 1 --brokers "$I_NODES" $(bootstrap | tr , ' ') >/dev/null; then
      log "instance '$NAME' already running: $I_NODES node(s), bootstrap $(bootstrap)"
      return 0
    fi
    if ((${#missing[@]})); then
      check_ports_free "${missing[@]}"
      if zk_mode "$I_VERSION"; then start_zk; fi
      for i in "${missing[@]}"; do launch_node "$i"; done
    fi
    wait_ready $(all_nodes) || { ((${#missing[@]})) && stop_nodes "${missing[@]}"; exit 1; }
    log "instance '$NAME' up: $I_NODES node(s), bootstrap $(bootstrap) ($(since "$t0") s)"
    return 0
  fi

  # Fresh cluster: new layout, wiped data, newly formatted storage.
  I_NODES=${nodes:-1} I_PORT=${port:-${KWIRE_KAFKA_PORT:-9092}} I_VERSION=$VERSION I_SECURE=${OPT_SECURE:-0}
  I_PROXIED=${OPT_PROXIED:-0}
  [[ $I_NODES == 1 || $I_NODES == 3 ]] || die "--nodes must be 1 or 3"
  if [[ $I_PROXIED == 1 ]] && zk_mode "$I_VERSION"; then die "--proxied needs Kafka 3.x or newer (KRaft), not $I_VERSION"; fi
  [[ $I_SECURE == 0 || $I_NODES == 1 ]] || die "--secure needs --nodes 1"
  if (($(vmajor "$I_VERSION") < 2 || ($(vmajor "$I_VERSION") == 2 && $(vminor "$I_VERSION") < 4))); then
    die "Kafka $I_VERSION cannot run here: its ZooKeeper 3.4 client fails on Java 14+; the oldest that runs is 2.4.0"
  fi
  if [[ $I_SECURE == 1 ]] && zk_mode "$I_VERSION"; then
    die "--secure needs Kafka 3.x or newer (KRaft; SCRAM users are made when the storage is formatted), not $I_VERSION"
  fi
  [[ $I_PORT =~ ^[0-9]+$ ]] || die "bad port '$I_PORT'"
  ((I_PORT >= 1024 && I_PORT + 102 <= 65535)) || die "bad port '$I_PORT'"
  fetch "$I_VERSION"
  check_ports_free $(all_nodes)
  if zk_mode "$I_VERSION"; then stop_zk; fi    # a ZooKeeper left over from a crashed run
  rm -rf "$INST"/node* "$INST/instance.env" "$(certdir)" "$(zkdir)"
  if [[ $I_SECURE == 1 ]]; then
    command -v openssl >/dev/null || die "--secure needs openssl"
    bash "$KDIR/gen-certs.sh" "$(certdir)" || die "making test certificates in $(certdir) failed"
  fi
  printf 'I_NODES=%s\nI_PORT=%s\nI_VERSION=%s\nI_SECURE=%s\nI_PROXIED=%s\n' "$I_NODES" "$I_PORT" "$I_VERSION" "$I_SECURE" \
    "$I_PROXIED" >"$INST/instance.env"
  # Cluster id: 16 random bytes, base64url without padding (what StorageTool random-uuid prints).
  cid=$("$PYTHON" -c 'import base64,os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"): print(s); break')
  local scram=()
  if [[ $I_SECURE == 1 ]]; then
    scram=(--add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]'
      --add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]')
  fi
  log_opts "$I_VERSION" tools
  for i in $(all_nodes); do
    write_config "$i"
    zk_mode "$I_VERSION" && continue      # ZooKeeper mode: no storage to format
    # Short-lived JVM: C1 only and serial GC cut its CPU time by about a third.
    "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${LOG_OPTS[@]}" \
      -cp "$(libdir "$I_VERSION")/*" kafka.tools.StorageTool format -t "$cid" \
      -c "$(ndir "$i")/server.properties" "${scram[@]}" >"$(ndir "$i")/logs/format.log" 2>&1 8>&- 9>&- &
  done
  if zk_mode "$I_VERSION"; then
    start_zk
  else
    for i in $(all_nodes); do
      wait -n || { cat "$INST"/node*/logs/format.log >&2; die "formatting storage failed"; }
    done
  fi
  for i in $(all_nodes); do launch_node "$i"; done
  wait_ready $(all_nodes) || { stop_nodes $(all_nodes); zk_mode "$I_VERSION" && stop_zk; exit 1; }
  log "instance '$NAME' up: $I_NODES node(s), Kafka $I_VERSION, bootstrap $(bootstrap) ($(since "$t0") s)"
  if [[ $I_SECURE == 1 ]]; then log "$(secure_summary); certificates in $(certdir)"; fi
}

secure_summary() {
  local l s='secure listeners:'
  for l in "${SECURE_LISTENERS[@]}"; do s+=" ${l%%:*} $(secure_port "${l%%:*}")"; done
  echo "$s"
}

need_instance() {
  load_instance || die "instance '$NAME' does not exist (no $INST/instance.env)"
}

cmd_stop() {
  lock_instance
  load_instance || { log "instance '$NAME' is not running"; return 0; }
  local live
  live=$(live_nodes)
  stop_nodes $(all_nodes)
  if zk_mode "$I_VERSION" && zk_pid >/dev/null; then live+=zk; stop_zk; fi
  if [[ -n $live ]]; then log "instance '$NAME' stopped"; else log "instance '$NAME' is not running"; fi
}

cmd_status() {
  need_instance
  local i pid out state all_up=0 addrs=()
  for i in $(all_nodes); do addrs+=("127.0.0.1:$(bport "$i")"); done
  out=$(probe --timeout 1 "${addrs[@]}") || true
  echo "instance $NAME: Kafka $I_VERSION, $I_NODES node(s), bootstrap $(bootstrap), dir $INST"
  if [[ $I_SECURE == 1 ]]; then secure_summary; fi
  local ctl=controller
  zk_mode "$I_VERSION" && ctl=zookeeper
  printf '%-5s %-8s %-6s %-11s %s\n' node pid port "$ctl" state
  if zk_mode "$I_VERSION"; then
    if pid=$(zk_pid); then
      if zk_answers; then state=up; else state="running, not answering"; all_up=1; fi
    else
      pid=- state=down all_up=1
    fi
    printf '%-5s %-8s %-6s %-11s %s\n' zk "$pid" - "$(zkport)" "$state"
  fi
  for i in $(all_nodes); do
    if pid=$(node_pid "$i"); then
      if grep -q "^127.0.0.1:$(bport "$i") up" <<<"$out"; then state=up; else state="running, not answering"; all_up=1; fi
    else
      pid=- state=down all_up=1
    fi
    ctl=$(cport "$i")
    zk_mode "$I_VERSION" && ctl=-
    printf '%-5s %-8s %-6s %-11s %s\n' "$i" "$pid" "$(bport "$i")" "$ctl" "$state"
  done
  return "$all_up"
}

# check_node ARG: dies unless ARG is a node number of this instance.
check_node() {
  [[ ${1:-} =~ ^[0-9]+$ ]] || die "usage: $CMD NODE [--name N] (NODE is 1-based)"
  (($1 >= 1 && $1 <= I_NODES)) || die "instance '$NAME' has nodes 1..$I_NODES"
}

node_arg() {
  ((${#ARGS[@]} <= 1)) || die "$CMD takes one node (got: ${ARGS[*]})"
  check_node "${ARGS[0]:-}"
  echo "${ARGS[0]}"
}

cmd_kill_node() {
  lock_instance; need_instance
  local i; i=$(node_arg)
  if node_pid "$i" >/dev/null; then kill_nodes "$i"; log "node $i of '$NAME' killed"; else log "node $i of '$NAME' is not running"; fi
}

# start-node I...: several nodes start side by side (two JVMs starting at once
# take about as long as one), then each waits for its own registration.
cmd_start_node() {
  lock_instance; need_instance
  local i t0 nodes=("${ARGS[@]}"); t0=$(now)
  check_node "${nodes[0]:-}"
  for i in "${nodes[@]}"; do check_node "$i"; done
  if zk_mode "$I_VERSION"; then start_zk; fi
  for i in "${nodes[@]}"; do
    if node_pid "$i" >/dev/null; then log "node $i of '$NAME' is already running"; else
      check_ports_free "$i"
      launch_node "$i"
    fi
  done
  WAIT_OWN_ID=1 wait_ready "${nodes[@]}" || { kill_nodes "${nodes[@]}"; exit 1; }
  for i in "${nodes[@]}"; do log "node $i of '$NAME' up on 127.0.0.1:$(bport "$i") ($(since "$t0") s)"; done
}

# tool_class VERSION NAME: the tool's class in that release, by short name or by the
# name of Kafka's bin/ script. The table is 4.x's; older lines kept some tools in the
# broker jar (kafka.tools / kafka.admin), which the overrides below map.
tool_class() {
  local ma c; ma=$(vmajor "$1")
  if ((ma == 3)); then
    case $2 in
      ConsoleProducer | kafka-console-producer) echo kafka.tools.ConsoleProducer; return ;;
      DumpLogSegments | kafka-dump-log) echo kafka.tools.DumpLogSegments; return ;;
      AclCommand | kafka-acls) echo kafka.admin.AclCommand; return ;;
      BrokerApiVersionsCommand | kafka-broker-api-versions) echo kafka.admin.BrokerApiVersionsCommand; return ;;
      ConfigCommand | kafka-configs) echo kafka.admin.ConfigCommand; return ;;
    esac
  elif ((ma < 3)); then
    case $2 in
      ConsoleConsumer | kafka-console-consumer | ConsoleProducer | kafka-console-producer | \
        ConsumerPerformance | kafka-consumer-perf-test | GetOffsetShell | kafka-get-offsets | \
        DumpLogSegments | kafka-dump-log | EndToEndLatency | kafka-e2e-latency | ClusterTool | kafka-cluster)
        c=$(tool_class4 "$2"); echo "kafka.tools.${c##*.}"; return ;;
      TopicCommand | kafka-topics | ConsumerGroupCommand | kafka-consumer-groups | \
        BrokerApiVersionsCommand | kafka-broker-api-versions | ConfigCommand | kafka-configs | \
        DeleteRecordsCommand | kafka-delete-records | LogDirsCommand | kafka-log-dirs | \
        ReassignPartitionsCommand | kafka-reassign-partitions | LeaderElectionCommand | kafka-leader-election | \
        FeatureCommand | kafka-features | AclCommand | kafka-acls)
        c=$(tool_class4 "$2"); echo "kafka.admin.${c##*.}"; return ;;
    esac
  fi
  tool_class4 "$2"
}
tool_class4() {                           # the 4.x table
  local t=org.apache.kafka.tools
  case $1 in
    *.*) echo "$1" ;;
    ConsoleConsumer | kafka-console-consumer) echo $t.consumer.ConsoleConsumer ;;
    ConsoleShareConsumer | kafka-console-share-consumer) echo $t.consumer.ConsoleShareConsumer ;;
    ConsoleProducer | kafka-console-producer) echo $t.ConsoleProducer ;;
    ProducerPerformance | kafka-producer-perf-test) echo $t.ProducerPerformance ;;
    ConsumerPerformance | kafka-consumer-perf-test) echo $t.ConsumerPerformance ;;
    ShareConsumerPerformance | kafka-share-consumer-perf-test) echo $t.ShareConsumerPerformance ;;
    TopicCommand | kafka-topics) echo $t.TopicCommand ;;
    ConsumerGroupCommand | kafka-consumer-groups) echo $t.consumer.group.ConsumerGroupCommand ;;
    ShareGroupCommand | kafka-share-groups) echo $t.consumer.group.ShareGroupCommand ;;
    StreamsGroupCommand | kafka-streams-groups) echo $t.streams.StreamsGroupCommand ;;
    GroupsCommand | kafka-groups) echo $t.GroupsCommand ;;
    BrokerApiVersionsCommand | kafka-broker-api-versions) echo $t.BrokerApiVersionsCommand ;;
    ConfigCommand | kafka-configs) echo $t.ConfigCommand ;;
    GetOffsetShell | kafka-get-offsets) echo $t.GetOffsetShell ;;
    DeleteRecordsCommand | kafka-delete-records) echo $t.DeleteRecordsCommand ;;
    LogDirsCommand | kafka-log-dirs) echo $t.LogDirsCommand ;;
    DumpLogSegments | kafka-dump-log) echo $t.DumpLogSegments ;;
    ReassignPartitionsCommand | kafka-reassign-partitions) echo $t.reassign.ReassignPartitionsCommand ;;
    LeaderElectionCommand | kafka-leader-election) echo $t.LeaderElectionCommand ;;
    TransactionsCommand | kafka-transactions) echo $t.TransactionsCommand ;;
    MetadataQuorumCommand | kafka-metadata-quorum) echo $t.MetadataQuorumCommand ;;
    FeatureCommand | kafka-features) echo $t.FeatureCommand ;;
    ClusterTool | kafka-cluster) echo $t.ClusterTool ;;
    AclCommand | kafka-acls) echo $t.AclCommand ;;
    ClientMetricsCommand | kafka-client-metrics) echo $t.ClientMetricsCommand ;;
    EndToEndLatency | kafka-e2e-latency) echo $t.EndToEndLatency ;;
    VerifiableProducer | kafka-verifiable-producer) echo $t.VerifiableProducer ;;
    VerifiableConsumer | kafka-verifiable-consumer) echo $t.VerifiableConsumer ;;
    StorageTool | kafka-storage) echo kafka.tools.StorageTool ;;
    *) die "unknown tool '$1' (use a short name such as TopicCommand, a kafka-*.sh name, or a full class name)" ;;
  esac
}

cmd_tool() {
  (($#)) || die "usage: tool NAME [ARGS...]"
  local class; class=$(tool_class "$VERSION" "${1%.sh}"); shift
  fetch "$VERSION"
  log_opts "$VERSION" tools
  exec "$JAVA" "${TOOL_OPTS[@]}" "${LOG_OPTS[@]}" \
    -cp "$(libdir "$VERSION")/*" "$class" "$@"
}

cmd_env() {                               # KEY=value lines, plain unless quoting is needed
  load_instance || {
    I_NODES=${OPT_NODES:-1} I_PORT=${OPT_PORT:-${KWIRE_KAFKA_PORT:-9092}} I_VERSION=$VERSION I_SECURE=${OPT_SECURE:-0}
    I_PROXIED=${OPT_PROXIED:-0}
  }
  local kv c l extra=()
  if zk_mode "$I_VERSION"; then extra=("ZOOKEEPER=127.0.0.1:$(zkport)"); fi
  if [[ $I_PROXIED == 1 ]]; then
    local i pb='' routes=''
    for ((i = 1; i <= I_NODES; i++)); do
      pb+="${pb:+,}127.0.0.1:$(xport "$i")"
      routes+="${routes:+,}$(xport "$i")=$(pport "$i")"
    done
    extra+=("PROXIED_BOOTSTRAP=$pb" "PROXIED_ROUTES=$routes")
  fi
  if [[ $I_SECURE == 1 ]]; then
    c=$(certdir)
    extra+=("SECURE=1")
    for l in "${SECURE_LISTENERS[@]}"; do extra+=("${l%%:*}_BOOTSTRAP=127.0.0.1:$(secure_port "${l%%:*}")"); done
    extra+=("CERTS=$c" "CA=$c/ca.pem" "WRONG_CA=$c/wrong-ca.pem" "CLIENT_CERT=$c/client.crt"
      "CLIENT_KEY=$c/client.key" "CLIENT_PEM=$c/client.pem")
  fi
  for kv in "VERSION=$I_VERSION" "LIBS=$(libdir "$I_VERSION")" "CLASSPATH=$(libdir "$I_VERSION")/*" \
    "BOOTSTRAP=$(bootstrap)" "INSTANCE_DIR=$INST" "${extra[@]}"; do
    [[ -n $kv ]] || continue
    if [[ ${kv#*=} =~ ^[A-Za-z0-9_./:,@*+=-]*$ ]]; then echo "KWIRE_KAFKA_$kv"; else printf 'KWIRE_KAFKA_%s=%q\n' "${kv%%=*}" "${kv#*=}"; fi
  done
}

# ---------------------------------------------------------------- main
CMD=${1:-}
(($#)) && shift
case $CMD in
  -h | --help | help) usage; exit 0 ;;
  tool) cmd_tool "$@" ;;
  fetch) fetch "$VERSION"; libdir "$VERSION"; exit 0 ;;
  libs) fetch "$VERSION"; libdir "$VERSION"; exit 0 ;;
  classpath) fetch "$VERSION"; echo "$(libdir "$VERSION")/*"; exit 0 ;;
  start | stop | status | kill-node | start-node | env) ;;
  *) [[ -n $CMD ]] && log "unknown command '$CMD'"; usage >&2; exit 2 ;;
esac

OPT_NODES='' OPT_PORT='' OPT_SECURE='' OPT_PROXIED='' ARGS=()
set_instance default
while (($#)); do
  case $1 in
    --nodes) OPT_NODES=${2:?--nodes needs a value}; shift 2 ;;
    --port) OPT_PORT=${2:?--port needs a value}; shift 2 ;;
    --name) set_instance "${2:?--name needs a value}"; shift 2 ;;
    --secure) OPT_SECURE=1; shift ;;
    --proxied) OPT_PROXIED=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ $CMD == start && ${#ARGS[@]} -gt 0 ]] && die "start takes no positional arguments"
[[ $CMD == start-node || $CMD == kill-node ]] || ((${#ARGS[@]} == 0)) || die "$CMD takes no positional arguments"

case $CMD in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill-node) cmd_kill_node ;;
  start-node) cmd_start_node ;;
  env) cmd_env ;;
esac
