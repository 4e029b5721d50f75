# shellcheck shell=bash
# Shared by the scripts in scripts/stack/: paths, messages, and resolving jars from Maven Central.
# Source it after setting SERVICE (the name messages start with).
# shellcheck disable=SC2034  # RAPFLOW_STATE and DEP_PLUGIN_VERSION are used by the scripts that source this

RAPFLOW_HOME="${RAPFLOW_HOME:-$HOME/.cache/rapflow}"
RAPFLOW_STATE="${RAPFLOW_STATE:-$RAPFLOW_HOME/state}"
DEP_PLUGIN_VERSION="3.8.1"

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
