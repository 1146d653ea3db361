#!/usr/bin/env bash
# Runs Apache Kafka (the version docker-compose.yml pins) as local JVM processes on
# loopback, without Docker, for tests and manual runs. Nothing of Kafka is linked
# into nerstream: the broker's jars come from Maven Central (scripts/apache-kafka/pom.xml)
# and are cached under .cache/kafka/<version>/lib (ignored by git).
#
#   scripts/apache-kafka.sh start DIR PORT [NODES]
#       Starts a KRaft cluster of NODES (default 1) combined controller+broker nodes,
#       one JVM each, with their configuration, data and logs under DIR/node-<id>/.
#       Node i (1-based) serves clients on 127.0.0.1:PORT+i-1 and its controller on
#       127.0.0.1:PORT+NODES+i-1. NODES=3: replication factor 3, min.insync.replicas=2.
#       Prints the bootstrap address 127.0.0.1:PORT and returns once every node is
#       listed in a metadata response. A DIR that already holds a stopped cluster of
#       the same shape is started again with its data (a broker restart); when some
#       of its nodes still run, only the stopped ones are started (a node restart).
#   scripts/apache-kafka.sh stop DIR
#       Stops every node started under DIR (SIGTERM, SIGKILL after 20 s) and waits
#       for the processes to exit.
#   scripts/apache-kafka.sh fetch
#       Only resolves and caches the jars (make setup calls it).
#
# Environment:
#   APACHE_KAFKA_CONFIG      extra server.properties lines for every node (e.g.
#                            "message.max.bytes=2000000"); they override the defaults below.
#   APACHE_KAFKA_LISTENERS   extra client listeners, space-separated security protocols
#                            (SSL, SASL_SSL, SASL_PLAINTEXT), each named after its protocol.
#                            The k-th (1-based) of node i listens on 127.0.0.1:PORT+(k+1)*NODES+i-1;
#                            PLAINTEXT on PORT stays for the brokers and the start-up check.
#                            Their TLS and SASL settings (ssl.keystore.type=PEM, ...,
#                            listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=...) go
#                            into APACHE_KAFKA_CONFIG.
#   APACHE_KAFKA_SCRAM       SCRAM users created when the storage is formatted, one
#                            kafka-storage --add-scram value a line, e.g.
#                            "SCRAM-SHA-512=[name=alice,password=alice-secret]".
#   APACHE_KAFKA_VERSION     the Apache Kafka version to run (default: the pom's, which
#                            docker-compose.yml pins); each version is cached apart.
#   APACHE_KAFKA_HEAP        JVM heap per node (default 384m).
#   APACHE_KAFKA_WATCH_PID   stop the cluster once this process has exited (a test
#                            binary passes its own pid so that a crash leaks no broker).
#   APACHE_KAFKA_START_TIMEOUT  seconds to wait for metadata (default 120).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pom=$root/scripts/apache-kafka/pom.xml
die() { printf 'apache-kafka: %s\n' "$*" >&2; exit 1; }
log() { printf 'apache-kafka: %s\n' "$*" >&2; }

default_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
version=${APACHE_KAFKA_VERSION:-$default_version}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad APACHE_KAFKA_VERSION $version (want e.g. $default_version)"
lib=${APACHE_KAFKA_LIB:-$root/.cache/kafka/$version/lib}

fetch() {
  local stamp
  # The pom's hash (and the version, when it is not the pom's own).
  if [ "$version" = "$default_version" ]; then
    stamp=$(sha256sum "$pom" | cut -c1-16)
  else
    stamp=$( (cat "$pom"; echo "$version") | sha256sum | cut -c1-16)
  fi
  if [ -f "$lib/.done" ] && [ "$(cat "$lib/.done")" = "$stamp" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch Apache Kafka $version (make setup installs it)"
  log "resolving Apache Kafka $version jars from Maven Central into $lib"
  local tmp
  tmp=$(mktemp -d)
  cp "$pom" "$tmp/pom.xml"
  if ! (cd "$tmp" && mvn -B -q dependency:copy-dependencies -Dkafka.version="$version" -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1); then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve org.apache.kafka:kafka_2.13:$version"
  fi
  rm -rf "$lib"
  mkdir -p "$(dirname "$lib")"
  mv "$tmp/lib" "$lib"
  echo "$stamp" >"$lib/.done"
  rm -rf "$tmp"
}

java_cmd() {
  command -v java >/dev/null || die "Java 17+ is required to run Apache Kafka (make setup installs it)"
  echo java
}

# node_props ID NODES PORT DIR: server.properties of one combined node.
node_props() {
  local id=$1 n=$2 port=$3 dir=$4
  local bport=$((port + id - 1)) cport=$((port + n + id - 1))
  local voters="" i
  for ((i = 1; i <= n; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:$((port + n + i - 1))"
  done
  local rf=$n isr=1
  [ "$n" -ge 3 ] && isr=2
  local extra="" adv="" protos="" k=1 l
  for l in ${APACHE_KAFKA_LISTENERS:-}; do
    k=$((k + 1))
    extra+=",$l://127.0.0.1:$((port + k * n + id - 1))"
    protos+=",$l:$l"
  done
  cat <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport$extra
advertised.listeners=PLAINTEXT://127.0.0.1:$bport$extra
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$protos
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=500
EOF
  if [ -n "${APACHE_KAFKA_CONFIG:-}" ]; then
    printf '%s\n' "$APACHE_KAFKA_CONFIG"
  fi
}

log4j_props() {
  cat <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka-request.name = kafka.request.logger
logger.kafka-request.level = WARN
EOF
}

alive() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

stop_cluster() {
  local dir=$1 nd pid pids=()
  [ -d "$dir" ] || return 0
  for nd in "$dir"/node-*; do
    [ -f "$nd/pid" ] || continue
    pid=$(cat "$nd/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 20))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
      sleep 0.1
    done
  done
  rm -f "$dir"/node-*/pid
  if [ -f "$dir/watch.pid" ]; then
    pid=$(cat "$dir/watch.pid")
    rm -f "$dir/watch.pid"
    [ "$pid" != "$$" ] && kill "$pid" 2>/dev/null || true
  fi
}

start_cluster() {
  local dir=$1 port=$2 n=${3:-1}
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "bad NODES $n"
  local listeners l
  listeners=$(echo ${APACHE_KAFKA_LISTENERS:-})
  for l in $listeners; do
    case $l in
    SSL | SASL_SSL | SASL_PLAINTEXT) ;;
    *) die "bad listener $l in APACHE_KAFKA_LISTENERS (want SSL, SASL_SSL or SASL_PLAINTEXT)" ;;
    esac
  done
  local nl
  nl=$(wc -w <<<"$listeners")
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ $((port + (2 + nl) * n - 1)) -le 65535 ] || die "bad PORT $port"
  fetch
  local java
  java=$(java_cmd)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local shape="nodes=$n port=$port${listeners:+ listeners=$listeners}"
  if [ -f "$dir/shape" ] && [ "$(cat "$dir/shape")" != "$shape" ]; then
    die "$dir holds a cluster with $(cat "$dir/shape"), not $shape"
  fi
  echo "$shape" >"$dir/shape"
  if [ ! -s "$dir/cluster-id" ]; then
    # A KRaft cluster id is a base64url 16-byte UUID (what kafka-storage random-uuid prints).
    head -c16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22 >"$dir/cluster-id"
  fi
  local cid i nd
  cid=$(cat "$dir/cluster-id")
  log4j_props >"$dir/log4j2.properties"
  local cp="$lib/*"
  local fmt_pids=() stopped=() scram=() line
  while IFS= read -r line; do
    [ -n "$line" ] && scram+=(--add-scram "$line")
  done <<<"${APACHE_KAFKA_SCRAM:-}"
  for ((i = 1; i <= n; i++)); do
    nd=$dir/node-$i
    mkdir -p "$nd"
    if alive "$nd"; then
      continue
    fi
    stopped+=("$i")
    node_props "$i" "$n" "$port" "$nd" >"$nd/server.properties"
    if [ ! -f "$nd/data/meta.properties" ]; then
      "$java" -Xmx128m -XX:TieredStopAtLevel=1 -cp "$cp" -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$nd" \
        kafka.tools.StorageTool format --cluster-id "$cid" --config "$nd/server.properties" "${scram[@]}" >"$nd/format.log" 2>&1 &
      fmt_pids+=($!)
    fi
  done
  for i in "${!fmt_pids[@]}"; do
    wait "${fmt_pids[$i]}" || { cat "$dir"/node-*/format.log >&2; die "formatting KRaft storage under $dir failed"; }
  done
  [ ${#stopped[@]} -gt 0 ] || die "every node under $dir is already running"
  local heap=${APACHE_KAFKA_HEAP:-384m}
  for i in "${stopped[@]}"; do
    nd=$dir/node-$i
    # setsid: the node outlives this script and is not in its caller's process group.
    setsid "$java" -Xms64m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$nd" \
      -cp "$cp" kafka.Kafka "$nd/server.properties" >"$nd/stdout.log" 2>&1 </dev/null &
    echo $! >"$nd/pid"
  done
  if [ -n "${APACHE_KAFKA_WATCH_PID:-}" ]; then
    # Its own session too, so that it outlives the caller's process group.
    setsid "$0" _watch "$dir" "$APACHE_KAFKA_WATCH_PID" </dev/null >/dev/null 2>&1 &
  fi
  local timeout=${APACHE_KAFKA_START_TIMEOUT:-120} deadline out
  deadline=$((SECONDS + timeout))
  while :; do
    for ((i = 1; i <= n; i++)); do
      if ! alive "$dir/node-$i"; then
        tail -n 30 "$dir/node-$i/stdout.log" "$dir/node-$i/server.log" >&2 2>/dev/null || true
        stop_cluster "$dir"
        die "node $i exited during start-up (logs in $dir/node-$i)"
      fi
    done
    if out=$(kcat -L -m 2 -b "127.0.0.1:$port" 2>/dev/null) && grep -q "^ $n brokers:" <<<"$out"; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop_cluster "$dir"
      die "no metadata from 127.0.0.1:$port with $n brokers within ${timeout}s (logs in $dir/node-*)"
    fi
    sleep 0.2
  done
  echo "127.0.0.1:$port"
}

case "${1:-}" in
start)
  [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: $0 start DIR PORT [NODES]"
  start_cluster "$2" "$3" "${4:-1}"
  ;;
stop)
  [ $# -eq 2 ] || die "usage: $0 stop DIR"
  stop_cluster "$2"
  ;;
fetch)
  fetch
  ;;
_watch)
  # internal: stop the cluster under $2 once process $3 has exited.
  echo $$ >"$2/watch.pid"
  while kill -0 "$3" 2>/dev/null && [ "$(cat "$2/watch.pid" 2>/dev/null)" = "$$" ]; do sleep 1; done
  [ "$(cat "$2/watch.pid" 2>/dev/null)" = "$$" ] && stop_cluster "$2"
  ;;
*)
  die "usage: $0 start DIR PORT [NODES] | stop DIR | fetch"
  ;;
esac
