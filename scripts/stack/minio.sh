#!/usr/bin/env bash
# Local single-node MinIO (object store + bucket notifications to Kafka) for rapflow.
#
#   minio.sh install   go install the pinned MinIO into $RAPFLOW_HOME/bin (idempotent)
#   minio.sh run       exec the server in the foreground (SIGTERM = clean stop)
#   minio.sh version   print the pinned MinIO module version
#
# Environment:
#   RAPFLOW_HOME          install root               (default: $HOME/.cache/rapflow)
#   RAPFLOW_STATE         state root                 (default: $RAPFLOW_HOME/state)
#   MINIO_PORT            S3 API port                (default: 9000)
#   MINIO_CONSOLE_PORT    embedded console port      (default: 9001, bound to 127.0.0.1)
#   MINIO_ROOT_USER       access key                 (default: rapflow)
#   MINIO_ROOT_PASSWORD   secret key, >= 8 chars     (default: rapflow-secret)
#   KAFKA_PORT            broker for notifications   (default: 9092)
#   KAFKA_BROKERS         brokers for notifications, host:port,... (default: 127.0.0.1:$KAFKA_PORT)
#   MINIO_PROGRESS_SECONDS  seconds between "still building" lines during the build (default: 30)
#
# Buckets and the bucket notification (QueueConfig, ARN arn:minio:sqs::PRIMARY:kafka) are
# created by the TypeScript code through the `minio` npm SDK, so `mc` is not needed.
# Readiness: GET http://127.0.0.1:$MINIO_PORT/minio/health/live (200 once serving, ~0.3 s).
# A port already in use makes the server exit at once ("FATAL ... port is already in use").
set -euo pipefail

SERVICE=minio
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# No tagged releases are published as Go modules; this is the newest pseudo-version the Go
# proxy serves (@latest). The 2025-10-15 build (9e49d5e7a648) is not available from the proxy.
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

BIN_DIR="$RAPFLOW_HOME/bin"
MINIO_BIN="$BIN_DIR/minio"
# The binary reports "DEVELOPMENT.GOGET" for --version, so a marker records what was built.
MARKER="$BIN_DIR/.minio.version"
LOCK="$BIN_DIR/.minio.install.lock"


# Module version embedded in the binary's build info (empty if unknown).
binary_version() {
  command -v go >/dev/null || return 0
  go version -m "$MINIO_BIN" 2>/dev/null |
    awk -v m="$MINIO_MODULE" '$1 == "mod" && $2 == m { print $3; exit }'
}

is_installed() {
  [[ -x "$MINIO_BIN" ]] || return 1
  [[ -f "$MARKER" && "$(cat "$MARKER")" == "$MINIO_VERSION" ]] && return 0
  # Binary built by hand (e.g. a plain `go install ...@version`): trust its build info.
  if [[ "$(binary_version)" == "$MINIO_VERSION" ]]; then
    printf '%s\n' "$MINIO_VERSION" >"$MARKER"
    return 0
  fi
  return 1
}

# Build under an exclusive lock so concurrent installs wait instead of building twice
# (one MinIO build took 4 of the 6.5 minutes of a cold `npm start` on a fresh 2-core machine).
# The lock fd is not inherited by `run`.
build_locked() {
  if ! flock -n 9; then
    log "another install holds $LOCK; waiting for it..."
    flock 9
  fi
  if is_installed; then
    log "$MINIO_VERSION installed by a concurrent run"
    return 0
  fi
  command -v go >/dev/null || die "go not found on PATH"
  log "building $MINIO_MODULE@$MINIO_VERSION from source into $BIN_DIR, once: about 4 min on 2 cores (Go downloads the modules, then compiles)..."
  rm -f "$MARKER"
  local start=$SECONDS every="${MINIO_PROGRESS_SECONDS:-30}"
  GOBIN="$BIN_DIR" go install -trimpath "$MINIO_MODULE@$MINIO_VERSION" >&2 &
  local build=$!
  # go install prints nothing for minutes while it compiles: say it is still going, and for how long.
  while ! wait_for "$build" "$every"; do
    log "still building MinIO: $(elapsed $((SECONDS - start))) so far (about 4 min in all on 2 cores)"
  done
  wait "$build" || die "go install $MINIO_MODULE@$MINIO_VERSION failed"
  [[ "$(binary_version)" == "$MINIO_VERSION" ]] || die "built binary does not report $MINIO_VERSION"
  printf '%s\n' "$MINIO_VERSION" >"$MARKER"
  log "installed $MINIO_VERSION in $(elapsed $((SECONDS - start)))"
}

# Seconds as "45 s" or "2 min 05 s".
elapsed() {
  if (($1 < 60)); then printf '%d s' "$1"; else printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); fi
}

# True once pid $1 has exited, false after $2 seconds if it has not.
wait_for() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 1
  done
  ! kill -0 "$1" 2>/dev/null
}

cmd_install() {
  if is_installed; then
    log "$MINIO_VERSION already installed at $MINIO_BIN"
    return 0
  fi
  mkdir -p "$BIN_DIR"
  build_locked 9>"$LOCK"
}

cmd_run() {
  cmd_install
  local port="${MINIO_PORT:-9000}"
  local cport="${MINIO_CONSOLE_PORT:-9001}"
  local data="$RAPFLOW_STATE/data/minio"
  local queue="$RAPFLOW_STATE/minio-events-queue"
  # MinIO otherwise creates ~/.minio (legacy config dir, certs dir); keep it under the state
  # dir. --config-dir is hidden/deprecated and only honoured before the `server` subcommand.
  local conf="$RAPFLOW_STATE/minio-config"
  mkdir -p "$data" "$queue" "$conf/certs"

  export MINIO_ROOT_USER="${MINIO_ROOT_USER:-rapflow}"
  export MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-rapflow-secret}"
  # Browser off = no console listener at all (checked: not even on --console-address).
  # With it on, the console would listen on a random port on all interfaces, so the
  # --console-address below is a loopback pin in case that ever changes.
  export MINIO_BROWSER=off
  export MINIO_UPDATE=off
  export MINIO_CALLHOME_ENABLE=off

  # Bucket notification target "PRIMARY" -> ARN arn:minio:sqs::PRIMARY:kafka.
  # MinIO starts while Kafka is down either way; without a queue dir the events of that
  # period are dropped (logged), with one they are persisted there and replayed later.
  export MINIO_NOTIFY_KAFKA_ENABLE_PRIMARY=on
  export MINIO_NOTIFY_KAFKA_BROKERS_PRIMARY="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
  export MINIO_NOTIFY_KAFKA_TOPIC_PRIMARY=rap.inbox-events
  export MINIO_NOTIFY_KAFKA_QUEUE_DIR_PRIMARY="$queue"

  log "starting server on 127.0.0.1:${port} (console 127.0.0.1:${cport}, data $data)..."
  exec "$MINIO_BIN" --config-dir "$conf" server "$data" --certs-dir "$conf/certs" \
    --address "127.0.0.1:${port}" --console-address "127.0.0.1:${cport}"
}

case "${1:-}" in
  install) cmd_install ;;
  run) cmd_run ;;
  version) printf '%s\n' "$MINIO_VERSION" ;;
  *) printf 'usage: %s install|run|version\n' "$(basename "$0")" >&2; exit 2 ;;
esac
