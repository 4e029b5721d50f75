#!/usr/bin/env bash
# Argo Workflows and Argo Events for the local Kubernetes, built from their Go modules (the Go
# module proxy) on a machine with no Docker engine and no container registry: static binaries into
# the rapflow cache, then one-layer OCI image archives (umoci) under the names upstream's own
# install manifests use, which `bash scripts/stack/k8s.sh images` imports into the node.
#   bash scripts/k8s/argo.sh build                  binaries into <cache>/k8s/argo/bin (each once per version)
#   bash scripts/k8s/argo.sh build-cli              the argo CLI alone (scripts/k8s/tools.sh); prints its path
#   bash scripts/k8s/argo.sh images                 build, then the image archives into <cache>/k8s/images
#   bash scripts/k8s/argo.sh install-controller NS  images, import, then Argo Workflows' namespaced
#                                                   controller into NS (no CRDs, no argo-server)
#   bash scripts/k8s/argo.sh install-events NS      images, import, then Argo Events' namespaced
#                                                   controller-manager into NS (no CRDs)
#   bash scripts/k8s/argo.sh check                  the above into a new namespace argo-check, one
#                                                   Workflow run to Succeeded, then it is all removed
#   bash scripts/k8s/argo.sh version | image-names | bin-dir | crds-dir
# Needs: go, and for images root and umoci (Debian's; scripts/stack/k8s.sh install brings it).
# The CRDs come from scripts/k8s/crds.sh (the same module versions); apply them server-side.
set -euo pipefail
cd "$(dirname "$0")/../.."

SERVICE=argo
# shellcheck source=../stack/lib.sh
source scripts/stack/lib.sh

# --- Pinned versions, each with its reason ----------------------------------------------------
# Argo Workflows v4.0.5: the newest release the Go module proxy serves (v4.1.x: "not available");
# the same version as the CRDs scripts/k8s/crds.sh installs.
readonly WORKFLOWS_MODULE=github.com/argoproj/argo-workflows/v4
readonly WORKFLOWS_VERSION=v4.0.5
# Argo Events v1.9.11: one binary, argo-events (controller, eventsource and sensor services); the
# CRDs crds.sh installs are the same version.
readonly EVENTS_MODULE=github.com/argoproj/argo-events
readonly EVENTS_VERSION=v1.9.11
# NATS server v2.10.29: Argo Events v1.9.11's controller config (manifests/base/controller-manager/
# controller-config.yaml) names nats:2.10.29 for the JetStream EventBus version "latest" (and
# "2.10.29"), started as /nats-server.
readonly NATS_MODULE=github.com/nats-io/nats-server/v2
readonly NATS_VERSION=v2.10.29
# The two sidecars the same config entry names beside nats:2.10.29. Their modules are refused by
# the Go module proxy, and the EventBus works without them (they watch the config and export
# metrics): an idle program of ours stands in under their names.
readonly NATS_EXPORTER_IMAGE=docker.io/natsio/prometheus-nats-exporter:0.14.0
readonly NATS_RELOADER_IMAGE=docker.io/natsio/nats-server-config-reloader:0.14.0
# Bump when the build flags below change (binaries are built anew), or when the images' recipe
# does (archives are made anew).
readonly BUILD_RECIPE=1
readonly IMAGE_RECIPE=1

# The names upstream's release manifests use (its kustomizations set the tag to the version).
readonly CONTROLLER_IMAGE=quay.io/argoproj/workflow-controller:$WORKFLOWS_VERSION
readonly ARGOEXEC_IMAGE=quay.io/argoproj/argoexec:$WORKFLOWS_VERSION
readonly ARGOCLI_IMAGE=quay.io/argoproj/argocli:$WORKFLOWS_VERSION
readonly EVENTS_IMAGE=quay.io/argoproj/argo-events:$EVENTS_VERSION
readonly NATS_IMAGE=docker.io/library/nats:${NATS_VERSION#v}

readonly ARGO_HOME="$RAPFLOW_HOME/k8s/argo"
readonly BIN="$ARGO_HOME/bin"
readonly SRC="$ARGO_HOME/src"
readonly IMAGES="$RAPFLOW_HOME/k8s/images"
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The user upstream's Dockerfile gives the controller and CLI images (USER 8737).
readonly ARGO_UID=8737


scratch=()
cleanup_scratch() { if [[ ${#scratch[@]} -gt 0 ]]; then rm -rf "${scratch[@]}"; fi; }
trap cleanup_scratch EXIT

need_go() { command -v go >/dev/null || die "go not found: Argo and NATS are built from their Go modules (install Go)"; }

# module_json MODULE@VERSION: go mod download -json, or dies with the proxy's reason.
module_json() {
  local json why
  if ! json=$(go mod download -json "$1" 2>&1); then
    why=$(sed -n 's/^[[:space:]]*"Error": "\(.*\)"$/\1/p' <<<"$json" | sed 's/\\n\\t/ /g')
    die "go mod download $1 failed: ${why:-$json}"
  fi
  echo "$json"
}
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p" | head -n 1; }

# module_dir MODULE@VERSION: the module's read-only folder in the Go module cache.
module_dir() {
  local dir
  dir=$(module_json "$1" | json_field Dir)
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download $1 gave no folder"
  echo "$dir"
}

# module_time MODULE@VERSION: the version's commit time, as the proxy's .info file has it.
module_time() {
  local info
  info=$(module_json "$1" | json_field Info)
  sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info"
}

# --- Sources ------------------------------------------------------------------------------------
# Module zips drop symlinks, and upstream's source has some that a build needs: fixes for those,
# each applied to a writable copy of the module (the module cache is read-only).
fix_workflows() {
  local dir=$1 f=workflow/executor/osspecific
  # signal_linux.go is a symlink to signal_darwin.go upstream (Setpgid, Kill, CanIgnoreSignal for
  # the emissary executor); without it argoexec fails with "undefined: Setpgid".
  [[ -f "$dir/$f/signal_darwin.go" ]] || die "no $f/signal_darwin.go in $WORKFLOWS_MODULE@$WORKFLOWS_VERSION"
  [[ -f "$dir/$f/signal_linux.go" ]] || cp "$dir/$f/signal_darwin.go" "$dir/$f/signal_linux.go"
  # cmd/argo embeds the UI (ui/embed.go: //go:embed dist/app); the UI is a yarn build of its own
  # and the CLI needs none of it: an empty page, as upstream's Makefile makes without STATIC_FILES.
  mkdir -p "$dir/ui/dist/app"
  [[ -f "$dir/ui/dist/app/index.html" ]] || : >"$dir/ui/dist/app/index.html"
}
fix_none() { :; }

# source_copy NAME MODULE VERSION FIX: prints a writable copy of MODULE@VERSION with FIX applied.
source_copy() {
  local name=$1 module=$2 version=$3 fix=$4 dir="$SRC/$1-$3" src tmp
  if [[ ! -f "$dir/.rapflow-ready" ]]; then
    src=$(module_dir "$module@$version")
    mkdir -p "$SRC"
    rm -rf "$SRC/.$name."* # what an interrupted copy left
    tmp=$(mktemp -d "$SRC/.$name.XXXXXX")
    scratch+=("$tmp")
    cp -r "$src/." "$tmp/"
    chmod -R u+w "$tmp"
    "$fix" "$tmp"
    touch "$tmp/.rapflow-ready"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

# --- Binaries -----------------------------------------------------------------------------------
# stamp NAME: what a binary was built from; a binary whose stamp differs is built anew.
stamp_file() { echo "$BIN/.$1.built-from"; }
is_built() { [[ -x "$BIN/$1" && "$(cat "$(stamp_file "$1")" 2>/dev/null)" == "$2" ]]; }

# go_build NAME STAMP DIR PACKAGE LDFLAGS: a static binary $BIN/NAME from PACKAGE in DIR, the way
# upstream's release builds do (CGO off, -trimpath, -s -w), with the time zone database embedded
# (upstream's images have /usr/share/zoneinfo; CronWorkflows and calendar event sources need it).
go_build() {
  local name=$1 stamp=$2 dir=$3 pkg=$4 ldflags=$5 started log pid n=0
  started=$(now_ms)
  log="$BIN/.$name.log"
  log "building $name ($stamp)..."
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false exec nice -n 10 go build -trimpath -tags timetzdata \
    -ldflags "-s -w $ldflags" -o "$BIN/.$name.tmp" "$pkg") >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if ((n % 60 == 0)); then log "still building $name ($(since "$started"))..."; fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    die "building $name failed (whole log: $log)"
  fi
  mv "$BIN/.$name.tmp" "$BIN/$name"
  rm -f "$log"
  echo "$stamp" >"$(stamp_file "$name")"
  log "$name built in $(since "$started") ($(($(stat -c %s "$BIN/$name") / 1048576)) MB)"
}

# build_workflows [NAME...]: the commands of Argo Workflows' module (default: all three).
build_workflows() {
  local stamp="$WORKFLOWS_MODULE@$WORKFLOWS_VERSION recipe $BUILD_RECIPE" name dir="" t flags p=github.com/argoproj/argo-workflows/v4
  local names=("$@")
  [[ ${#names[@]} -gt 0 ]] || names=(workflow-controller argoexec argo)
  for name in "${names[@]}"; do
    is_built "$name" "$stamp" && continue
    if [[ -z "$dir" ]]; then
      dir=$(source_copy argo-workflows "$WORKFLOWS_MODULE" "$WORKFLOWS_VERSION" fix_workflows)
      t=$(module_time "$WORKFLOWS_MODULE@$WORKFLOWS_VERSION")
      # As upstream's Makefile sets them for a release, less the git commit, which the module zip
      # does not carry (so `version` says v4.0.5+unknown). version is also the executor image's
      # default tag (ImageTag()).
      flags="-X $p.version=$WORKFLOWS_VERSION -X $p.buildDate=$t -X $p.gitTag=$WORKFLOWS_VERSION -X $p.gitTreeState=clean"
    fi
    go_build "$name" "$stamp" "$dir" "./cmd/$name" "$flags"
  done
}

build_events() {
  local stamp="$EVENTS_MODULE@$EVENTS_VERSION recipe $BUILD_RECIPE" dir t p=github.com/argoproj/argo-events
  is_built argo-events "$stamp" && return 0
  dir=$(source_copy argo-events "$EVENTS_MODULE" "$EVENTS_VERSION" fix_none)
  t=$(module_time "$EVENTS_MODULE@$EVENTS_VERSION")
  go_build argo-events "$stamp" "$dir" ./cmd \
    "-X $p.version=$EVENTS_VERSION -X $p.buildDate=$t -X $p.gitTag=$EVENTS_VERSION -X $p.gitTreeState=clean"
}

build_nats() {
  local stamp="$NATS_MODULE@$NATS_VERSION recipe $BUILD_RECIPE" dir
  is_built nats-server "$stamp" && return 0
  dir=$(source_copy nats-server "$NATS_MODULE" "$NATS_VERSION" fix_none)
  # As its .goreleaser.yml (serverVersion = the tag).
  go_build nats-server "$stamp" "$dir" . "-X github.com/nats-io/nats-server/v2/server.serverVersion=$NATS_VERSION"
}

# The stand-in for the NATS sidecars: says what it stands in for, then idles until SIGTERM/SIGINT.
build_idle() {
  local stamp="rapflow-idle recipe $BUILD_RECIPE" dir
  is_built rapflow-idle "$stamp" && return 0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/rapflow-idle.XXXXXX")
  scratch+=("$dir")
  cat >"$dir/go.mod" <<'EOF'
module rapflow.local/idle

go 1.22
EOF
  cat >"$dir/main.go" <<'EOF'
// An idle container: stands in for an image this machine cannot build (RAPFLOW_STANDIN_FOR).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintf(os.Stderr, "rapflow idle stand-in for %s, args %q: idling until SIGTERM\n", os.Getenv("RAPFLOW_STANDIN_FOR"), os.Args[1:])
	s := <-stop
	fmt.Fprintf(os.Stderr, "rapflow idle stand-in: %v, exiting\n", s)
}
EOF
  go_build rapflow-idle "$stamp" "$dir" . ""
}

build() {
  need_go
  mkdir -p "$BIN"
  local started
  started=$(now_ms)
  build_workflows
  build_events
  build_nats
  build_idle
  log "binaries ready in $BIN ($(since "$started"))"
}

# --- Images ---------------------------------------------------------------------------------------
need_image_tools() {
  [[ $EUID -eq 0 ]] || die "images need root (file owners in the layers): run as root"
  command -v umoci >/dev/null || die "umoci not found (Debian: apt-get install umoci; scripts/stack/k8s.sh install brings it)"
  command -v python3 >/dev/null || die "python3 is needed to name the archives for containerd"
  [[ -f $CA_BUNDLE ]] || die "no CA bundle at $CA_BUNDLE (apt-get install ca-certificates)"
}

# base_rootfs DIR: what every image here has, as in distroless/static: users root, nobody and
# nonroot, the CA bundle, /tmp. Then the binaries and files of each image are added to it.
base_rootfs() {
  local root=$1
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/bin"
  cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
  chmod 1777 "$root/tmp"
}

# argo_files ROOT: what upstream's Dockerfile copies into each Argo Workflows image from hack/.
argo_files() {
  local dir
  dir=$(module_dir "$WORKFLOWS_MODULE@$WORKFLOWS_VERSION")
  mkdir -p "$1/etc/ssh"
  cp "$dir/hack/ssh_known_hosts" "$1/etc/ssh/ssh_known_hosts"
  cp "$dir/hack/nsswitch.conf" "$1/etc/nsswitch.conf"
  chmod -R u+w "$1/etc"
}

# put SRC ROOT DEST [OWNER]: copies a file into the image's root, mode 0755 for binaries.
put() {
  mkdir -p "$2$(dirname "$3")"
  cp "$1" "$2$3"
  chmod 0755 "$2$3"
  if [[ -n "${4:-}" ]]; then chown "$4" "$2$3"; fi
}

archive_of() {
  local n=${1##*/}
  echo "$IMAGES/${n%%:*}-${n##*:}.oci.tar"
}

# oci_image NAME ROOTFS [umoci config flags...]: a one-layer OCI image of ROOTFS as an archive in
# the image folder, named in index.json the way containerd's import reads it.
oci_image() {
  local name=$1 rootfs=$2 archive work
  shift 2
  archive=$(archive_of "$name")
  work=$(mktemp -d "$IMAGES/.oci.XXXXXX")
  scratch+=("$work")
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:img"
  umoci unpack --image "$work/layout:img" "$work/bundle" >/dev/null
  cp -a "$rootfs/." "$work/bundle/rootfs/"
  umoci repack --image "$work/layout:img" --history.created_by "rapflow scripts/k8s/argo.sh" "$work/bundle"
  umoci config --image "$work/layout:img" --os linux --architecture "$(go env GOARCH)" --no-history \
    --config.env "PATH=$DEFAULT_PATH" --config.env "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --config.label "io.github.rapflow.built-by=scripts/k8s/argo.sh recipe $IMAGE_RECIPE" "$@"
  python3 - "$work/layout/index.json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    m.setdefault("annotations", {})["io.containerd.image.name"] = name
    m["annotations"]["org.opencontainers.image.ref.name"] = name.rsplit(":", 1)[1]
json.dump(index, open(path, "w"))
PY
  tar -C "$work/layout" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
  echo "$IMAGE_RECIPE" >"$archive.recipe"
  rm -rf "$work"
}

# image NAME BINARY... -- RECIPE-FUNCTION: builds the image unless its archive is newer than each
# binary it holds and was made by this recipe.
image() {
  local name=$1 archive fn root started
  shift
  archive=$(archive_of "$name")
  local fresh=1
  [[ -f "$archive" && "$(cat "$archive.recipe" 2>/dev/null)" == "$IMAGE_RECIPE" ]] || fresh=0
  while [[ $1 != -- ]]; do
    [[ "$BIN/$1" -nt "$archive" ]] && fresh=0
    shift
  done
  fn=$2
  if [[ $fresh == 1 ]]; then
    log "$name: archive current ($archive)"
    return 0
  fi
  started=$(now_ms)
  root=$(mktemp -d "$IMAGES/.rootfs.XXXXXX")
  scratch+=("$root")
  chmod 0755 "$root" # the layer's / (mktemp makes it 0700: no user but root could reach /bin)
  base_rootfs "$root"
  "$fn" "$name" "$root"
  rm -rf "$root"
  log "$name: $(($(stat -c %s "$archive") / 1048576)) MB archive in $(since "$started") ($archive)"
}

# Each as upstream's Dockerfile (argo-workflows: targets workflow-controller, argoexec, argocli;
# argo-events: target argo-events), on our stand-in for their distroless or scratch base.
img_controller() {
  argo_files "$2"
  put "$BIN/workflow-controller" "$2" /bin/workflow-controller "$ARGO_UID"
  oci_image "$1" "$2" --config.user "$ARGO_UID" --config.entrypoint workflow-controller
}
# The executor: the controller runs `argoexec init` (found on PATH) as each workflow pod's init
# container, which copies the argoexec it was started as (exec.LookPath) into the pod's
# /var/run/argo volume; the main containers then run /var/run/argo/argoexec emissary -- CMD, so
# that static binary is all the step's own image needs. The wait sidecar is `argoexec wait`.
# /etc/mime.types is for artifacts (upstream copies it from its build stage).
img_argoexec() {
  argo_files "$2"
  put "$BIN/argoexec" "$2" /bin/argoexec
  if [[ -f /etc/mime.types ]]; then
    cp /etc/mime.types "$2/etc/mime.types"
  else
    log "warning: no /etc/mime.types on this machine (Debian: media-types); argoexec's image goes without"
  fi
  oci_image "$1" "$2" --config.entrypoint argoexec
}
img_argocli() {
  argo_files "$2"
  put "$BIN/argo" "$2" /bin/argo
  mkdir -p "$2/home/argo"
  oci_image "$1" "$2" --config.user "$ARGO_UID" --config.workingdir /home/argo --config.entrypoint argo
}
# Upstream's image also carries the argo CLI at /usr/local/bin/argo (for Sensors' Argo Workflow
# triggers; it downloads v3.7.9's there): ours is the v4.0.5 built here.
img_events() {
  put "$BIN/argo-events" "$2" /bin/argo-events
  put "$BIN/argo" "$2" /usr/local/bin/argo
  oci_image "$1" "$2" --config.entrypoint /bin/argo-events
}
# As the official nats image's scratch variant: /nats-server, /nats-server.conf (the module's own
# docker/nats-server.conf), PATH ending in /. The EventBus runs it as /nats-server --config ....
img_nats() {
  local dir
  dir=$(module_dir "$NATS_MODULE@$NATS_VERSION")
  put "$BIN/nats-server" "$2" /nats-server
  cp "$dir/docker/nats-server.conf" "$2/nats-server.conf"
  chmod 0644 "$2/nats-server.conf"
  oci_image "$1" "$2" --config.env "PATH=$DEFAULT_PATH:/" --config.entrypoint /nats-server \
    --config.cmd --config --config.cmd nats-server.conf --config.exposedports 4222/tcp \
    --config.exposedports 6222/tcp --config.exposedports 8222/tcp
}
img_standin() {
  local entry=$3
  put "$BIN/rapflow-idle" "$2" "$entry"
  oci_image "$1" "$2" --config.entrypoint "$entry" --config.env "RAPFLOW_STANDIN_FOR=$1" \
    --config.label io.github.rapflow.standin=true --config.user 65534
}
img_exporter() { img_standin "$1" "$2" /prometheus-nats-exporter; }
img_reloader() { img_standin "$1" "$2" /nats-server-config-reloader; }

# The JetStream images Argo Events' controller config names for version "latest" must be ours.
check_events_config() {
  local dir conf
  dir=$(module_dir "$EVENTS_MODULE@$EVENTS_VERSION")
  conf=$(awk '/- version: latest/ { on = 1; next } on && /- version:/ { exit } on' \
    "$dir/manifests/base/controller-manager/controller-config.yaml")
  if ! grep -q "natsImage: ${NATS_IMAGE#docker.io/library/}\$" <<<"$conf" ||
    ! grep -q "metricsExporterImage: ${NATS_EXPORTER_IMAGE#docker.io/}\$" <<<"$conf" ||
    ! grep -q "configReloaderImage: ${NATS_RELOADER_IMAGE#docker.io/}\$" <<<"$conf"; then
    die "Argo Events $EVENTS_VERSION's controller config names other JetStream images for \"latest\" than the pins here: $(tr -s ' \n' ' ' <<<"$conf")"
  fi
}

images() {
  need_image_tools
  build
  check_events_config
  mkdir -p "$IMAGES"
  local started
  started=$(now_ms)
  image "$CONTROLLER_IMAGE" workflow-controller -- img_controller
  image "$ARGOEXEC_IMAGE" argoexec -- img_argoexec
  image "$ARGOCLI_IMAGE" argo -- img_argocli
  image "$EVENTS_IMAGE" argo-events argo -- img_events
  image "$NATS_IMAGE" nats-server -- img_nats
  image "$NATS_EXPORTER_IMAGE" rapflow-idle -- img_exporter
  image "$NATS_RELOADER_IMAGE" rapflow-idle -- img_reloader
  log "images ready in $IMAGES ($(since "$started")); import: bash scripts/stack/k8s.sh images"
}

image_names() {
  printf '%s\n' "$CONTROLLER_IMAGE" "$ARGOEXEC_IMAGE" "$ARGOCLI_IMAGE" "$EVENTS_IMAGE" \
    "$NATS_IMAGE" "$NATS_EXPORTER_IMAGE" "$NATS_RELOADER_IMAGE"
}

# --- In the cluster -------------------------------------------------------------------------------
kc() { bash scripts/stack/k8s.sh kubectl "$@"; }

cluster_up() { kc get nodes >/dev/null 2>&1; }

# kustomize_scratch MODULE@VERSION: a scratch folder holding a writable copy of the module's
# manifests/base and manifests/namespace-install under upstream/, and an empty overlay/; its path.
# (Called in $(...), so the caller registers it for clean-up.)
kustomize_scratch() {
  local dir tmp
  dir=$(module_dir "$1")
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/rapflow-kustomize.XXXXXX")
  mkdir -p "$tmp/upstream" "$tmp/overlay"
  cp -r "$dir/manifests/base" "$dir/manifests/namespace-install" "$tmp/upstream/"
  chmod -R u+w "$tmp"
  echo "$tmp"
}

# controller_manifests NS FILE: upstream's namespaced install of the workflow controller (manifests/
# base/workflow-controller, namespace-install's RBAC and its --namespaced patch), less the CRDs and
# argo-server, with the changes this cluster needs, rendered by kubectl's built-in kustomize.
controller_manifests() {
  local ns=$1 out=$2 tmp
  tmp=$(kustomize_scratch "$WORKFLOWS_MODULE@$WORKFLOWS_VERSION")
  scratch+=("$tmp")
  cp "$tmp/upstream/namespace-install/overlays/workflow-controller-deployment.yaml" "$tmp/overlay/namespaced.yaml"
  cat >"$tmp/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $ns
resources:
  - ../upstream/base/workflow-controller
  - ../upstream/namespace-install/workflow-controller-rbac
images:
  - name: quay.io/argoproj/workflow-controller
    newTag: $WORKFLOWS_VERSION
patches:
  - target: {group: apps, version: v1, kind: Deployment, name: workflow-controller}
    path: namespaced.yaml
  # The images are imported into the node, never pulled; the executor is ours; one replica
  # needs no leader election; a short requeue makes steps follow each other quickly.
  - target: {group: apps, version: v1, kind: Deployment, name: workflow-controller}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: IfNotPresent
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --executor-image
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: $ARGOEXEC_IMAGE
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --executor-image-pull-policy
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: IfNotPresent
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: LEADER_ELECTION_DISABLE, value: "true"}
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: DEFAULT_REQUEUE_TIME, value: 1s}
EOF
  kc kustomize "$tmp/overlay" >"$out"
}

# container_rss NS POD: the resident memory of the pod's first container's main process, from
# containerd's task list and /proc on this node.
container_rss() {
  local id pid
  id=$(kc -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')
  id=${id#containerd://}
  pid=$(ctr --address /run/containerd/containerd.sock -n k8s.io tasks ls 2>/dev/null | awk -v id="$id" '$1 == id { print $2 }')
  if [[ -n "$pid" && -r "/proc/$pid/status" ]]; then
    awk '/^VmRSS:/ { printf "%d MB", $2 / 1024 }' "/proc/$pid/status"
  else
    echo "unknown"
  fi
}

install_controller() {
  local ns=${1:-}
  [[ -n "$ns" ]] || die "usage: $0 install-controller NAMESPACE"
  cluster_up || die "the local Kubernetes is not up (bash scripts/stack/k8s.sh kubectl get nodes fails)"
  kc get crd workflows.argoproj.io >/dev/null 2>&1 ||
    die "the Argo Workflows CRDs are not in the cluster: bash scripts/k8s/crds.sh install, then apply $(crds_dir | head -n 1) server-side"
  images
  bash scripts/stack/k8s.sh images
  local started pod
  started=$(now_ms)
  kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >&2
  local manifests
  manifests=$(mktemp "${TMPDIR:-/tmp}/rapflow-argo-controller.XXXXXX.yaml")
  scratch+=("$manifests")
  controller_manifests "$ns" "$manifests"
  kc apply --server-side --force-conflicts --field-manager=rapflow-argo -f "$manifests" >&2
  kc -n "$ns" rollout status deployment/workflow-controller --timeout=180s >&2 ||
    die "the workflow controller did not become available in $ns (kubectl -n $ns describe pod -l app=workflow-controller)"
  kc -n "$ns" wait --for=condition=Available deployment/workflow-controller --timeout=60s >/dev/null
  local available
  available=$(since "$started")
  pod=$(kc -n "$ns" get pod -l app=workflow-controller -o jsonpath='{.items[0].metadata.name}')
  # Available only says the container runs (upstream gives it no readiness probe). The controller
  # logs this once its informers have synced, just before its workers start.
  local ready="" waited
  waited=$(now_ms)
  while ((($(now_ms) - waited) < 60000)); do
    # Read whole, then searched: `grep -q` closing the pipe early fails kubectl (pipefail).
    if grep -q 'Starting CronWorkflow controller' <<<"$(kc -n "$ns" logs "$pod" 2>/dev/null)"; then
      ready=$(since "$started")
      break
    fi
    sleep 0.2
  done
  [[ -n "$ready" ]] || die "the workflow controller in $ns did not sync its caches within 60 s (kubectl -n $ns logs $pod)"
  log "workflow-controller $WORKFLOWS_VERSION in $ns: Available $available and synced $ready after the apply; RSS $(container_rss "$ns" "$pod")"
}

# events_manifests NS FILE: upstream's namespaced install of Argo Events (manifests/namespace-install:
# the controller-manager with --namespaced, its config and RBAC), less the CRDs, for NS, with the
# images imported into the node rather than pulled.
events_manifests() {
  local ns=$1 out=$2 tmp
  tmp=$(kustomize_scratch "$EVENTS_MODULE@$EVENTS_VERSION")
  scratch+=("$tmp")
  # kustomize reads a single file only from inside the kustomization's own folder.
  cp "$tmp/upstream/base/argo-events-sa.yaml" "$tmp/overlay/"
  cat >"$tmp/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $ns
resources:
  - argo-events-sa.yaml
  - ../upstream/base/controller-manager
  - ../upstream/namespace-install/rbac
images:
  - name: quay.io/argoproj/argo-events
    newTag: $EVENTS_VERSION
patches:
  - target: {group: apps, version: v1, kind: Deployment, name: controller-manager}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --namespaced
      - op: replace
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: IfNotPresent
      - op: replace
        path: /spec/template/spec/containers/0/env/1/value
        value: $EVENTS_IMAGE
      # The EventSource's and Sensor's pods, which the controller makes, pull Always unless told.
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: IMAGE_PULL_POLICY, value: IfNotPresent}
EOF
  kc kustomize "$tmp/overlay" >"$out"
}

install_events() {
  local ns=${1:-}
  [[ -n "$ns" ]] || die "usage: $0 install-events NAMESPACE"
  cluster_up || die "the local Kubernetes is not up (bash scripts/stack/k8s.sh kubectl get nodes fails)"
  kc get crd eventbus.argoproj.io >/dev/null 2>&1 ||
    die "the Argo Events CRDs are not in the cluster: bash scripts/k8s/crds.sh install, then apply $(crds_dir | tail -n 1) server-side"
  images
  bash scripts/stack/k8s.sh images
  local started manifests pod
  started=$(now_ms)
  kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >&2
  manifests=$(mktemp "${TMPDIR:-/tmp}/rapflow-events-controller.XXXXXX.yaml")
  scratch+=("$manifests")
  events_manifests "$ns" "$manifests"
  kc apply --server-side --force-conflicts --field-manager=rapflow-argo -f "$manifests" >&2
  kc -n "$ns" rollout status deployment/controller-manager --timeout=180s >&2 ||
    die "Argo Events' controller-manager did not become available in $ns (kubectl -n $ns describe pod -l app=controller-manager)"
  pod=$(kc -n "$ns" get pod -l app=controller-manager -o jsonpath='{.items[0].metadata.name}')
  log "argo-events controller-manager $EVENTS_VERSION in $ns: ready $(since "$started") after the apply; RSS $(container_rss "$ns" "$pod")"
}

# The full Argo Workflows CRDs in the module (what crds.sh copies), as one folder.
workflows_crds() {
  local dir out
  dir=$(module_dir "$WORKFLOWS_MODULE@$WORKFLOWS_VERSION")
  out="$ARGO_HOME/crds-$WORKFLOWS_VERSION"
  if [[ ! -d "$out" ]]; then
    mkdir -p "$out.tmp"
    cp "$dir"/manifests/base/crds/full/argoproj.io_*.yaml "$out.tmp/"
    chmod -R u+w "$out.tmp"
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

crds_dir() {
  local root
  root=$(bash scripts/k8s/crds.sh dir)
  echo "$root/argo-workflows-$WORKFLOWS_VERSION"
  echo "$root/argo-events-$EVENTS_VERSION"
}

# --- check: the controller and one Workflow in a throw-away namespace -----------------------------
readonly CHECK_NS=argo-check
CHECK_CREATED_CRDS=0
CHECK_CREATED_PRIORITY_CLASS=0
check_cleanup() {
  log "removing namespace $CHECK_NS..."
  kc delete namespace "$CHECK_NS" --ignore-not-found --wait=true --timeout=120s >&2 || true
  if [[ $CHECK_CREATED_PRIORITY_CLASS == 1 ]]; then kc delete priorityclass workflow-controller --ignore-not-found >&2 || true; fi
  if [[ $CHECK_CREATED_CRDS == 1 ]]; then kc delete -f "$(workflows_crds)" --ignore-not-found >&2 || true; fi
  cleanup_scratch
}

# seconds_between T1 T2: seconds between two RFC 3339 times.
seconds_between() { echo $(($(date -d "$2" +%s) - $(date -d "$1" +%s))); }

check() {
  cluster_up || die "the local Kubernetes is not up: start it first (bash scripts/stack/k8s.sh kubectl get nodes fails)"
  ! kc get namespace "$CHECK_NS" >/dev/null 2>&1 || die "namespace $CHECK_NS exists already: delete it first"
  trap check_cleanup EXIT
  kc get priorityclass workflow-controller >/dev/null 2>&1 || CHECK_CREATED_PRIORITY_CLASS=1
  if ! kc get crd workflows.argoproj.io >/dev/null 2>&1; then
    # The files crds.sh installs, taken straight from the module (crds.sh would also build
    # Strimzi's with Maven and Java).
    log "applying the Argo Workflows CRDs server-side (removed again at the end)"
    CHECK_CREATED_CRDS=1
    kc apply --server-side --field-manager=rapflow-argo -f "$(workflows_crds)" >&2
    kc wait --for=condition=Established --timeout=60s -f "$(workflows_crds)" >/dev/null
  fi
  install_controller "$CHECK_NS"
  # The emissary executor's own permissions, as upstream's quick-start grants them to `default`.
  local dir
  dir=$(module_dir "$WORKFLOWS_MODULE@$WORKFLOWS_VERSION")
  kc -n "$CHECK_NS" apply -f "$dir/manifests/quick-start/base/executor/emissary/executor-role.yaml" \
    -f "$dir/manifests/quick-start/base/executor-default-rolebinding.yaml" >&2
  local started wf phase="" pod
  started=$(now_ms)
  # Two steps in sequence, each `argoexec version` in the executor image: an explicit command, so
  # the controller looks up no image's entrypoint.
  wf=$(kc -n "$CHECK_NS" create -o jsonpath='{.metadata.name}' -f - <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: check-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: first
            template: version
        - - name: second
            template: version
    - name: version
      container:
        image: $ARGOEXEC_IMAGE
        imagePullPolicy: IfNotPresent
        command: [argoexec, version]
EOF
  )
  while ((($(now_ms) - started) < 240000)); do
    phase=$(kc -n "$CHECK_NS" get workflow "$wf" -o jsonpath='{.status.phase}' 2>/dev/null || true)
    [[ $phase == Succeeded || $phase == Failed || $phase == Error ]] && break
    sleep 0.5
  done
  log "workflow $wf: ${phase:-no phase} $(since "$started") after it was created"
  local name type nphase s f
  while IFS=$'\t' read -r name type nphase s f; do
    [[ -n "$name" ]] || continue
    log "  $type $name: $nphase, $(seconds_between "$s" "$f") s ($s .. $f)"
  done < <(kc -n "$CHECK_NS" get workflow "$wf" -o go-template='{{range .status.nodes}}{{.displayName}}{{"\t"}}{{.type}}{{"\t"}}{{.phase}}{{"\t"}}{{.startedAt}}{{"\t"}}{{.finishedAt}}{{"\n"}}{{end}}')
  for pod in $(kc -n "$CHECK_NS" get pods -l workflows.argoproj.io/workflow="$wf" -o jsonpath='{.items[*].metadata.name}'); do
    log "  pod $pod: $(kc -n "$CHECK_NS" get pod "$pod" -o go-template='created {{.metadata.creationTimestamp}}{{range .status.initContainerStatuses}}; {{.name}} {{with .state.terminated}}{{.startedAt}}..{{.finishedAt}} exit {{.exitCode}}{{end}}{{end}}{{range .status.containerStatuses}}; {{.name}} {{with .state.terminated}}{{.startedAt}}..{{.finishedAt}} exit {{.exitCode}}{{end}}{{end}}')"
    log "    main says: $(kc -n "$CHECK_NS" logs "$pod" -c main 2>&1 | tr -s ' \n' ' ' | cut -c 1-160)"
  done
  pod=$(kc -n "$CHECK_NS" get pod -l app=workflow-controller -o jsonpath='{.items[0].metadata.name}')
  log "workflow-controller RSS after the run: $(container_rss "$CHECK_NS" "$pod")"
  if [[ $phase != Succeeded ]]; then
    kc -n "$CHECK_NS" get workflow "$wf" -o yaml >&2 || true
    kc -n "$CHECK_NS" logs deployment/workflow-controller --tail=40 >&2 || true
    die "workflow $wf ended ${phase:-without a phase}, not Succeeded"
  fi
  log "check passed"
}

case "${1:-}" in
  build-cli) need_go; mkdir -p "$BIN"; build_workflows argo; echo "$BIN/argo" ;;
  build) build ;;
  images) images ;;
  install-controller) install_controller "${2:-}" ;;
  install-events) install_events "${2:-}" ;;
  check) check ;;
  image-names) image_names ;;
  bin-dir) echo "$BIN" ;;
  crds-dir) crds_dir ;;
  version)
    echo "argo-workflows $WORKFLOWS_VERSION, argo-events $EVENTS_VERSION, nats-server $NATS_VERSION (build recipe $BUILD_RECIPE, image recipe $IMAGE_RECIPE)"
    ;;
  *)
    echo "usage: $0 build | images | install-controller NAMESPACE | install-events NAMESPACE | check | image-names | bin-dir | crds-dir | version" >&2
    exit 64
    ;;
esac
