#!/usr/bin/env bash
# Local Apicurio Registry 3.x (Quarkus JVM distribution) for rapflow, with the
# Confluent-compatible API at http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7.
#
#   registry.sh install   download the distribution from Maven Central (idempotent)
#   registry.sh run       exec the registry in the foreground (SIGTERM = clean stop)
#   registry.sh version   print the pinned Apicurio Registry version
#
# Environment:
#   RAPFLOW_HOME              install root                 (default: $HOME/.cache/rapflow)
#   RAPFLOW_STATE             state root                   (default: $RAPFLOW_HOME/state)
#   REGISTRY_PORT             HTTP API port                (default: 8085)
#   REGISTRY_MANAGEMENT_PORT  health/metrics port          (default: 9095; Quarkus' 9000 is MinIO's)
#   REGISTRY_STORAGE          "file" (H2 file in the data dir, survives restarts) or "mem"
#                                                          (default: file)
#   REGISTRY_HEAP_OPTS        JVM heap flags               (default: -Xms64m -Xmx384m)
#   REGISTRY_JAVA             java binary, Java 21+        (default: Temurin 25 if present, else java)
set -euo pipefail

SERVICE=registry
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APICURIO_VERSION="3.3.3"
ARTIFACT="io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all"
RECIPE="$ARTIFACT"

REGISTRY_HOME="$RAPFLOW_HOME/apicurio-registry-$APICURIO_VERSION"
MARKER="$REGISTRY_HOME/.installed"
TEMURIN_25="/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"


is_installed() {
  [[ -f "$MARKER" && -f "$REGISTRY_HOME/quarkus-run.jar" && "$(cat "$MARKER")" == "$RECIPE" ]]
}

cmd_install() {
  if is_installed; then
    log "$APICURIO_VERSION already installed in $REGISTRY_HOME"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found on PATH"
  log "installing Apicurio Registry $APICURIO_VERSION into $REGISTRY_HOME"
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/rapflow-registry.XXXXXX")"
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  cat >"$tmp/pom.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rapflow.stack</groupId>
  <artifactId>registry-dist</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
</project>
EOF
  log "downloading $ARTIFACT (~160 MB) from Maven Central..."
  mvn -B -q -Dstyle.color=never -f "$tmp/pom.xml" \
    "org.apache.maven.plugins:maven-dependency-plugin:${DEP_PLUGIN_VERSION}:copy" \
    -Dartifact="$ARTIFACT" -DoutputDirectory="$tmp/dl" >"$tmp/mvn.log" 2>&1 ||
    { cat "$tmp/mvn.log" >&2; die "maven could not download $ARTIFACT"; }
  log "unpacking..."
  mkdir -p "$tmp/dist"
  tar -xzf "$tmp/dl/apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz" -C "$tmp/dist"
  [[ -f "$tmp/dist/quarkus-run.jar" ]] || die "quarkus-run.jar missing from the distribution"
  rm -rf "$REGISTRY_HOME"
  mkdir -p "$RAPFLOW_HOME"
  mv "$tmp/dist" "$REGISTRY_HOME"
  printf '%s\n' "$RECIPE" >"$MARKER"
  rm -rf "$tmp"
  trap - EXIT
  log "installed $APICURIO_VERSION"
}

pick_java() {
  local java="${REGISTRY_JAVA:-}"
  if [[ -z "$java" ]]; then
    if [[ -x "$TEMURIN_25" ]]; then java="$TEMURIN_25"; else java="java"; fi
  fi
  local major
  major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
  [[ "${major%%.*}" -ge 21 ]] 2>/dev/null ||
    die "Apicurio Registry $APICURIO_VERSION needs Java 21+, $java is ${major:-unknown} (set REGISTRY_JAVA)"
  printf '%s\n' "$java"
}

cmd_run() {
  cmd_install
  local port="${REGISTRY_PORT:-8085}"
  local mport="${REGISTRY_MANAGEMENT_PORT:-9095}"
  local data="$RAPFLOW_STATE/data/registry"
  local java
  java="$(pick_java)"
  mkdir -p "$data"

  local db_url
  case "${REGISTRY_STORAGE:-file}" in
    file) db_url="jdbc:h2:file:$data/registry;FILE_LOCK=FS" ;; # FS lock: released if the JVM dies
    mem) db_url="jdbc:h2:mem:registry" ;;
    *) die "REGISTRY_STORAGE must be file or mem" ;;
  esac

  local -a heap
  read -r -a heap <<<"${REGISTRY_HEAP_OPTS:--Xms64m -Xmx384m}"
  log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:${port} (management 127.0.0.1:${mport}, storage ${REGISTRY_STORAGE:-file})..."
  cd "$data"
  exec "$java" "${heap[@]}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dquarkus.log.console.format='%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %m%n' \
    -Dquarkus.http.host=127.0.0.1 \
    -Dquarkus.http.port="$port" \
    -Dquarkus.management.host=127.0.0.1 \
    -Dquarkus.management.port="$mport" \
    -Dapicurio.storage.kind=sql \
    -Dapicurio.storage.sql.kind=h2 \
    -Dapicurio.datasource.url="$db_url" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.ccompat.use-canonical-hash=true \
    -Dapicurio.rest.deletion.group.enabled=true \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -jar "$REGISTRY_HOME/quarkus-run.jar"
}

case "${1:-}" in
  install) cmd_install ;;
  run) cmd_run ;;
  version) printf '%s\n' "$APICURIO_VERSION" ;;
  *) printf 'usage: %s install|run|version\n' "$(basename "$0")" >&2; exit 2 ;;
esac
