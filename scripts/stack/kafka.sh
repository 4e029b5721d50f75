#!/usr/bin/env bash
# Local Apache Kafka (KRaft, combined broker+controller) for rapflow: one node, or one node of the
# three-node cluster of `rapflow stack up --nodes 3` (each on a loopback address of its own).
#
#   kafka.sh install   download the broker jars from Maven Central (idempotent)
#   kafka.sh run       exec the broker in the foreground (SIGTERM = clean stop)
#   kafka.sh version   print the pinned Kafka version
#
# Environment:
#   RAPFLOW_HOME           install root            (default: $HOME/.cache/rapflow)
#   RAPFLOW_STATE          state root              (default: $RAPFLOW_HOME/state)
#   KAFKA_PORT             client listener         (default: 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port   (default: 9093)
#   KAFKA_HOST             its loopback address    (default: 127.0.0.1)
#   KAFKA_NODE_ID          its node id             (default: 1)
#   KAFKA_VOTERS           the KRaft quorum        (default: this node alone)
#   KAFKA_REPLICATION      replicas of topics, offsets and transaction state (default: 1)
#   KAFKA_MIN_ISR          min.insync.replicas of the same (default: 1)
#   KAFKA_DATA             its folder under $RAPFLOW_STATE/data (default: kafka)
#   KAFKA_CLUSTER_ID_FILE  the cluster id file under $RAPFLOW_STATE/data, shared by a cluster's nodes
#                          (default: cluster.id in its folder)
#   KAFKA_HEAP_OPTS        JVM heap flags          (default: -Xms128m -Xmx512m)
#   KAFKA_JAVA             java binary, Java 17+   (default: java)
#   KAFKA_TLS_PORT         a second listener as Strimzi's `tls` one: TLS (our own CA) and SCRAM-SHA-512,
#                          on $KAFKA_HOST, for the local Kubernetes' pods (default: none)
#   KAFKA_TLS_ADVERTISED   what that listener advertises: Strimzi's bootstrap Service name and port
#                          (default: rapflow-kafka-bootstrap.rapflow.svc.cluster.local:9093)
#
#   kafka.sh scram-user NAME   creates or updates SCRAM-SHA-512 user NAME, password on stdin
#   kafka.sh tls-ca            prints the file of the CA that signs the TLS listener's certificate
set -euo pipefail

SERVICE=kafka
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 4.2.x and 4.3.x are both supported by Strimzi 1.2.0; keep in sync with the Strimzi CRs.
KAFKA_VERSION="4.3.1"
SCALA_VERSION="2.13"
# Kafka's own poms pin slf4j-api 1.7.36, so the matching binding is log4j-slf4j-impl (slf4j 1.x).
SLF4J_VERSION="1.7.36"
LOG4J_VERSION="2.24.3"
# Changing anything in this recipe string forces a fresh install.
RECIPE="kafka_${SCALA_VERSION}-${KAFKA_VERSION} slf4j-${SLF4J_VERSION} log4j-${LOG4J_VERSION}"

KAFKA_HOME="$RAPFLOW_HOME/kafka-$KAFKA_VERSION"
LIBS_DIR="$KAFKA_HOME/libs"
MARKER="$KAFKA_HOME/.installed"


is_installed() {
  [[ -f "$MARKER" && -d "$LIBS_DIR" && "$(cat "$MARKER")" == "$RECIPE" ]]
}

cmd_install() {
  if is_installed; then
    log "$KAFKA_VERSION already installed in $KAFKA_HOME"
    return 0
  fi
  log "installing $KAFKA_VERSION into $KAFKA_HOME"
  rm -f "$MARKER"
  maven_libs "$LIBS_DIR" "org.apache.kafka:kafka_${SCALA_VERSION}:${KAFKA_VERSION}" "org.slf4j:slf4j-api:${SLF4J_VERSION}" \
    "org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}" "org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}" \
    "org.apache.logging.log4j:log4j-api:${LOG4J_VERSION}"
  [[ -f "$LIBS_DIR/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ]] || die "kafka jar missing after resolve"
  printf '%s\n' "$RECIPE" >"$MARKER"
  log "installed $KAFKA_VERSION"
}

# Kafka cluster ids are 16 random bytes, base64url without padding (22 chars); like
# Kafka's Uuid.randomUuid(), avoid a leading '-' that CLI parsers would take for a flag.
# The TLS listener's CA and certificate, made once per data folder (as Strimzi's cluster CA is per
# cluster): the names pods reach it by are the certificate's names.
tls_dir() { printf '%s\n' "$RAPFLOW_STATE/data/${KAFKA_DATA:-kafka}/tls"; }

make_tls() {
  local dir host=${KAFKA_TLS_ADVERTISED%:*}
  dir=$(tls_dir)
  [[ -f "$dir/broker.pem" && -f "$dir/names" && "$(cat "$dir/names")" == "$host" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed for the TLS listener)"
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/O=rapflow/CN=rapflow-cluster-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/O=rapflow/CN=rapflow-kafka" 2>/dev/null
    local short=${host%%.*}
    printf 'subjectAltName=DNS:%s,DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
      "$host" "$short" "$short" "$(cut -d. -f2 <<<"$host")" "$short" "$(cut -d. -f2 <<<"$host")" >broker.ext
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out broker.crt -days 3650 -extfile broker.ext 2>/dev/null
    # Kafka's PEM key store: the (PKCS#8, unencrypted) key, then the chain.
    cat broker.key broker.crt ca.crt >broker.pem
    rm -f broker.csr broker.ext
    chmod 600 ca.key broker.key broker.pem
  )
  printf '%s\n' "$host" >"$dir/names"
  log "made the TLS listener's CA and certificate for $host in $dir"
}

new_cluster_id() {
  local id="-"
  while [[ "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  printf '%s\n' "$id"
}

cmd_run() {
  cmd_install
  local port="${KAFKA_PORT:-9092}"
  local cport="${KAFKA_CONTROLLER_PORT:-9093}"
  local host="${KAFKA_HOST:-127.0.0.1}"
  local id="${KAFKA_NODE_ID:-1}"
  local voters="${KAFKA_VOTERS:-${id}@${host}:${cport}}"
  local rf="${KAFKA_REPLICATION:-1}"
  local isr="${KAFKA_MIN_ISR:-1}"
  local data="$RAPFLOW_STATE/data/${KAFKA_DATA:-kafka}"
  local idfile="$RAPFLOW_STATE/data/${KAFKA_CLUSTER_ID_FILE:-${KAFKA_DATA:-kafka}/cluster.id}"
  local logdir="$data/kraft-logs"
  local conf="$data/config"
  local java="${KAFKA_JAVA:-java}"
  mkdir -p "$logdir" "$conf"

  local listeners="PLAINTEXT://${host}:${port},CONTROLLER://${host}:${cport}" advertised="PLAINTEXT://${host}:${port}"
  local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" tls_conf=""
  if [[ -n "${KAFKA_TLS_PORT:-}" ]]; then
    KAFKA_TLS_ADVERTISED="${KAFKA_TLS_ADVERTISED:-rapflow-kafka-bootstrap.rapflow.svc.cluster.local:9093}"
    make_tls
    listeners+=",TLS://${host}:${KAFKA_TLS_PORT}"
    advertised+=",TLS://${KAFKA_TLS_ADVERTISED}"
    protocols+=",TLS:SASL_SSL"
    tls_conf="listener.name.tls.ssl.keystore.type=PEM
listener.name.tls.ssl.keystore.location=$(tls_dir)/broker.pem
listener.name.tls.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.tls.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  fi

  cat >"$conf/server.properties" <<EOF
# generated by scripts/stack/kafka.sh on every start; edits are overwritten
process.roles=broker,controller
node.id=${id}
controller.quorum.voters=${voters}
listeners=${listeners}
advertised.listeners=${advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=${protocols}
${tls_conf}
# ACLs as Strimzi's simple authorization: a SCRAM user may do only what its KafkaUser lists. The
# loopback listener (tests, the stack's own tools) and the controllers are anonymous super users.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=${logdir}
num.partitions=3
default.replication.factor=${rf}
min.insync.replicas=${isr}
auto.create.topics.enable=false
offsets.topic.replication.factor=${rf}
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=${rf}
transaction.state.log.min.isr=${isr}
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=${rf}
share.coordinator.state.topic.min.isr=${isr}
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
# after a SIGKILL the controller rejects the restarted broker (DUPLICATE_BROKER_REGISTRATION)
# until the old session expires: 9 s by default, 4 s here
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF

  cat >"$conf/log4j2.properties" <<'EOF'
# generated by scripts/stack/kafka.sh; everything goes to stdout (the supervisor redirects it)
status = warn
name = rapflow-kafka
# Kafka's own shutdown hook logs the clean-stop sequence; keep log4j alive until the JVM exits
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.target = SYSTEM_OUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF

  local -a heap jvm
  read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
  jvm=(
    "${heap[@]}"
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
    -Dlog4j2.configurationFile="$conf/log4j2.properties"
    -Dkafka.logs.dir="$data"
    -cp "$LIBS_DIR/*"
  )

  if [[ ! -f "$logdir/meta.properties" ]]; then
    # The first node of a cluster to start writes the id; the others read it (mkdir is atomic).
    if [[ ! -f "$idfile" ]] && mkdir "$idfile.lock" 2>/dev/null; then
      new_cluster_id >"$idfile.tmp" && mv "$idfile.tmp" "$idfile"
      rmdir "$idfile.lock"
    fi
    for _ in $(seq 1 50); do [[ -f "$idfile" ]] && break; sleep 0.1; done
    log "formatting $logdir (cluster id $(cat "$idfile"))..."
    "$java" "${jvm[@]}" kafka.tools.StorageTool format \
      -t "$(cat "$idfile")" -c "$conf/server.properties" --ignore-formatted >&2
  fi
  log "starting broker+controller ${id} on ${host}:${port} (controller ${host}:${cport}, quorum ${voters})..."
  exec "$java" "${jvm[@]}" kafka.Kafka "$conf/server.properties"
}

# Creates or updates a SCRAM-SHA-512 credential through the running broker (Kafka's own
# ConfigCommand); the password comes on stdin and goes through a private file, never argv.
cmd_scram_user() {
  local name=${1:?scram-user needs a user name} password file
  IFS= read -r password || true
  [[ -n "$password" ]] || die "scram-user: no password on stdin"
  file=$(mktemp)
  chmod 600 "$file"
  # shellcheck disable=SC2064 # remove this file, whatever happens
  trap "rm -f '$file'" RETURN
  printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" >"$file"
  "${KAFKA_JAVA:-java}" -cp "$LIBS_DIR/*" -Dlog4j2.level=warn kafka.admin.ConfigCommand \
    --bootstrap-server "${KAFKA_HOST:-127.0.0.1}:${KAFKA_PORT:-9092}" --alter --entity-type users --entity-name "$name" \
    --add-config-file "$file" >&2 || die "could not set the SCRAM credential of $name"
}

case "${1:-}" in
  install) cmd_install ;;
  run) cmd_run ;;
  scram-user) cmd_scram_user "${2:-}" ;;
  tls-ca) printf '%s\n' "$(tls_dir)/ca.crt" ;;
  version) printf '%s\n' "$KAFKA_VERSION" ;;
  *) printf 'usage: %s install|run|version\n' "$(basename "$0")" >&2; exit 2 ;;
esac
