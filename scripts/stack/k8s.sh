#!/usr/bin/env bash
# The local single-node Kubernetes: builds its pieces once into the rapflow cache, prepares the
# host (and undoes it), and runs each component in the foreground for the stack's supervisor,
# which knows them as services (src/stack/k8s.ts: order, probes, logs, RSS, stop).
#
#   k8s.sh install     Debian packages (containerd, runc, CNI, etcd, umoci, socat), Kubernetes
#                      from the Go module proxy, CoreDNS, the pause image, the PKI (idempotent)
#   k8s.sh host-up     bridge cni0 10.244.0.1/24, sysctls, mount propagation, the FORWARD rule
#                      that keeps pods on this machine; writes what it changed, for host-down
#   k8s.sh host-down   undoes exactly what host-up changed, then removes pod network leftovers
#   k8s.sh run         exec component $K8S_COMPONENT in the foreground (SIGTERM = clean stop)
#   k8s.sh images      imports the OCI archives in the image folder the node lacks
#   k8s.sh tag-image SRC DST   gives an image the node holds a second name
#   k8s.sh stop-pods   kills every pod container (before containerd stops)
#   k8s.sh kubectl ... kubectl with the admin kubeconfig
#   k8s.sh version     the pinned versions
#
# Facts behind every flag: docs/local-stack.md#a-local-kubernetes (each one was a failure first).
set -euo pipefail

SERVICE=k8s
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- Pinned versions, each with its reason ---------------------------------------------------
# Kubernetes 1.36, the line the tutorial's kind cluster runs. Its kubelet still runs on
# containerd 1.6 (Debian 12's) through fallbacks that upstream marks for removal in 1.37: keep 1.36.x
# until containerd comes from elsewhere (containerd 2.2+ builds from the Go module proxy).
K8S_VERSION=v1.36.3
# The staging modules (k8s.io/api, client-go, ...) are published as v0.<minor>.<patch>.
K8S_STAGING_VERSION=v0.36.3
# CoreDNS v1.15.0: the release our first trial of Kubernetes 1.36 on these machines ran (no
# replace directives, so it builds from the Go module proxy as it is).
COREDNS_VERSION=v1.15.0
# The pause image's name must match containerd's sandbox_image exactly.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
# From Debian 12 (bookworm): containerd 1.6.20, runc 1.1.5, CNI plugins 1.1.1, etcd 3.4.23
# (the apiserver accepts it with WatchList off), umoci for images without a registry, socat, and
# conntrack, which kube-proxy uses to clear UDP entries of removed Services.
DEBIAN_PACKAGES=(containerd runc containernetworking-plugins etcd-server umoci socat iptables conntrack iproute2 openssl gcc libc6-dev)

# --- Addresses: loopback and the cluster's own bridge, nothing else ----------------------------
BRIDGE=cni0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
NODE_NAME=rapflow-node
CLUSTER_DOMAIN=cluster.local

K8S_HOME="$RAPFLOW_HOME/k8s"
BIN="$K8S_HOME/bin/$K8S_VERSION"
# The plugin list is part of the build: a new list, a new binary.
COREDNS_PLUGINS=2
COREDNS_BIN="$K8S_HOME/bin/coredns-$COREDNS_VERSION-p$COREDNS_PLUGINS"
IMAGES="$K8S_HOME/images"
# Everything that changes with a run lives here; `rapflow k8s down --purge` removes it.
STATE="$RAPFLOW_STATE/k8s"
PKI="$STATE/pki"
CONF="$STATE/conf"
HOST_CHANGES="$STATE/host-changes"

KUBE_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

need_root() {
  [[ $EUID -eq 0 ]] || die "the local Kubernetes needs root (containerd, the kubelet, a bridge and iptables); run as root"
}

# --- install --------------------------------------------------------------------------------
install_packages() {
  local missing=() p
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with your package manager"
  log "installing Debian packages: ${missing[*]}"
  local started=$SECONDS
  apt-get update -q >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
  # The package starts containerd under the init system where there is one; ours is the
  # supervisor's, with its own config and state.
  if command -v systemctl >/dev/null && systemctl is-active -q containerd 2>/dev/null; then
    systemctl disable --now containerd >&2 || true
  fi
  log "packages installed in $((SECONDS - started)) s"
}

# module_dir MODULE@VERSION: downloads a module into the Go module cache and prints its folder.
module_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download $1 failed"
  echo "$dir"
}

# while_building PID WHAT: says every 30 s that a silent build still runs, then returns its status.
while_building() {
  local pid=$1 what=$2 started=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if (((SECONDS - started) % 30 < 5)); then log "still building $what ($((SECONDS - started)) s)..."; fi
  done
  wait "$pid"
}

# Kubernetes' main module requires its staging modules at v0.0.0 and replaces them with folders
# of its own repository; a module of ours that requires it must replace each with the published
# module instead. The list is read from k8s.io/kubernetes's own go.mod, so it follows the version.
build_kubernetes() {
  local c built=1
  for c in "${KUBE_COMPONENTS[@]}"; do [[ -x "$BIN/$c" ]] || built=0; done
  ((built)) && return 0
  command -v go >/dev/null || die "go not found on PATH (Go 1.25+ builds Kubernetes 1.36)"
  local started=$SECONDS wrapper="$K8S_HOME/build/kubernetes-$K8S_VERSION" gomod
  log "building Kubernetes $K8S_VERSION from the Go module proxy (about 5 min on 2 cores, once)..."
  mkdir -p "$wrapper" "$BIN"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || die "go mod download k8s.io/kubernetes@$K8S_VERSION failed"
  {
    echo "module rapflow.local/kubernetes"
    echo
    echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$K8S_STAGING_VERSION"'#p' "$gomod"
    echo ")"
  } >"$wrapper/go.mod"
  grep -q 'k8s.io/client-go =>' "$wrapper/go.mod" || die "no staging modules found in $gomod"
  cat >"$wrapper/tools.go" <<'GO'
//go:build tools

// Package tools makes `go mod tidy` keep the commands this module builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  (cd "$wrapper" && go mod tidy >&2) || die "go mod tidy for Kubernetes $K8S_VERSION failed"
  local v=k8s.io/component-base/version minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  (
    cd "$wrapper" &&
      CGO_ENABLED=0 go build -trimpath -o "$BIN/" \
        -ldflags "-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
        "${KUBE_COMPONENTS[@]/#/k8s.io/kubernetes/cmd/}" >&2
  ) &
  while_building $! "Kubernetes $K8S_VERSION" || die "go build of Kubernetes $K8S_VERSION failed"
  log "Kubernetes $K8S_VERSION built in $((SECONDS - started)) s"
}

# CoreDNS with only the plugins a cluster-internal resolver needs (no forward: nothing leaves the
# machine); a shorter plugin.cfg and `go generate` halve its build.
build_coredns() {
  [[ -x "$COREDNS_BIN" ]] && return 0
  local started=$SECONDS src work="$K8S_HOME/build/coredns-$COREDNS_VERSION"
  log "building CoreDNS $COREDNS_VERSION from the Go module proxy (about 3 min)..."
  src=$(module_dir "github.com/coredns/coredns@$COREDNS_VERSION")
  rm -rf "$work"
  mkdir -p "$(dirname "$work")" "$(dirname "$COREDNS_BIN")"
  cp -r "$src" "$work"
  chmod -R u+w "$work"
  # In CoreDNS's own order (plugin.cfg's order is the order a query goes through them).
  printf '%s\n' metadata:metadata bind:bind ready:ready health:health errors:errors log:log \
    loadbalance:loadbalance cache:cache kubernetes:kubernetes loop:loop >"$work/plugin.cfg"
  (cd "$work" && go run directives_generate.go >&2 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$COREDNS_BIN.tmp" . >&2) &
  while_building $! "CoreDNS $COREDNS_VERSION" || die "building CoreDNS failed"
  mv "$COREDNS_BIN.tmp" "$COREDNS_BIN"
  rm -rf "$work"
  log "CoreDNS built in $((SECONDS - started)) s"
}

# The pause image: the one container every pod sandbox runs. Ours is a few lines of C (hand
# written: it only has to sleep until told to stop, and reap what it adopts), built static and
# packed as an OCI image with umoci, so no registry is asked for registry.k8s.io/pause.
build_pause() {
  local archive="$IMAGES/pause.oci.tar"
  [[ -f "$archive" ]] && return 0
  local work="$K8S_HOME/build/pause"
  rm -rf "$work"
  mkdir -p "$work/rootfs" "$IMAGES"
  cat >"$work/pause.c" <<'C'
/* Pod sandbox: holds the pod's namespaces, reaps orphans, exits on SIGTERM or SIGINT. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction quit = {.sa_handler = stop}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGTERM, &quit, NULL);
  sigaction(SIGINT, &quit, NULL);
  sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
}
C
  gcc -static -Os -o "$work/pause" "$work/pause.c" || die "gcc -static failed (Debian: apt-get install gcc libc6-dev)"
  strip "$work/pause" 2>/dev/null || true
  oci_image "$work" "$PAUSE_IMAGE" "$archive" --config.entrypoint /pause --config.user 65535:65535 -- "$work/pause:/pause"
  rm -rf "$work"
}

# oci_image WORK NAME ARCHIVE [umoci config flags...] -- SRC:DEST...: a one-layer OCI image from
# files, named in index.json the way containerd's import reads it (io.containerd.image.name).
oci_image() {
  local work=$1 name=$2 archive=$3
  shift 3
  local flags=()
  while [[ $# -gt 0 && $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  local layout="$work/layout" bundle="$work/bundle" pair
  rm -rf "$layout" "$bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:img"
  umoci unpack --rootless --image "$layout:img" "$bundle" >/dev/null
  for pair in "$@"; do
    mkdir -p "$bundle/rootfs$(dirname "${pair#*:}")"
    cp -a "${pair%%:*}" "$bundle/rootfs${pair#*:}"
  done
  umoci repack --image "$layout:img" "$bundle"
  umoci config --image "$layout:img" --os linux --architecture amd64 "${flags[@]}"
  python3 "$(dirname "${BASH_SOURCE[0]}")/oci-name.py" "$layout/index.json" "$name"
  tar -C "$layout" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
}

# One CA signs every certificate: the apiserver's serving cert (its SANs: loopback, the bridge
# address pods reach it on, the kubernetes Service), the kubelet's serving cert, and one client
# certificate per component (CN = user, O = group, as Kubernetes' RBAC reads them).
make_pki() {
  [[ -f "$PKI/done" ]] && return 0
  log "making the cluster's certificates in $PKI..."
  rm -rf "$PKI"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=rapflow-local-kubernetes-ca" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  local svc="kubernetes.default.svc.$CLUSTER_DOMAIN"
  cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:$svc"
  cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  cert admin "/O=system:masters/CN=kubernetes-admin" clientAuth
  cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  cert scheduler "/CN=system:kube-scheduler" clientAuth
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  cert kube-proxy "/CN=system:kube-proxy" clientAuth
  cert coredns "/CN=rapflow:coredns" clientAuth
  touch "$PKI/done"
}

# cert NAME SUBJECT USAGE [SANS]
cert() {
  local name=$1 subject=$2 usage=$3 sans=${4:-}
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans"
  } >"$ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -out "$PKI/$name.crt" -days 3650 -extfile "$ext" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

# kubeconfig NAME SERVER: a kubeconfig for the client certificate NAME.
kubeconfig() {
  local name=$1 server=$2
  cat >"$CONF/$name.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: rapflow-local
  cluster: {server: "$server", certificate-authority: "$PKI/ca.crt"}
users:
- name: $name
  user: {client-certificate: "$PKI/$name.crt", client-key: "$PKI/$name.key"}
contexts:
- name: rapflow-local
  context: {cluster: rapflow-local, user: $name}
current-context: rapflow-local
YAML
}

# Every component's configuration, written from this one place on each install.
write_config() {
  mkdir -p "$CONF/cni" "$STATE/containerd" "$STATE/kubelet" "$STATE/etcd"
  local c
  for c in admin controller-manager scheduler kubelet kube-proxy coredns; do kubeconfig "$c" https://127.0.0.1:6443; done

  cat >"$CONF/containerd.toml" <<TOML
version = 2
root = "$STATE/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM withholds CAP_SYS_RESOURCE even from root: runc cannot set the negative OOM score the
  # CRI asks for each sandbox ("can't get final child's PID from pipe: EOF") unless told to clamp it.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 with the cgroupfs driver (the kubelet's cgroupDriver must match).
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CONF/cni"
TOML

  # Pods on the bridge the host made (host-up); no masquerade: pods never leave the machine.
  cat >"$CONF/cni/10-rapflow.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "rapflow",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "10.244.0.10", "gateway": "$NODE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$STATE/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

  cat >"$CONF/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The kubelet refuses a loopback node IP: it serves on the bridge address pods also use.
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$PKI/kubelet-serving.key"
# cgroup v1 here (hybrid mount, memory controller on v1); 1.35+ refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: $CLUSTER_DOMAIN
# No host resolver settings leak into pods: names outside the cluster do not resolve.
resolvConf: ""
failSwapOn: false
rotateCertificates: false
serializeImagePulls: false
YAML

  cat >"$CONF/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
clientConnection: {kubeconfig: "$CONF/kube-proxy.kubeconfig"}
# Touch no machine-wide conntrack setting.
conntrack: {maxPerCore: 0}
YAML

  cat >"$CONF/Corefile" <<COREFILE
# Cluster names only: no forward plugin, so nothing is ever asked outside this machine.
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
  bind $NODE_IP
  errors
  ready 127.0.0.1:8181
  kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
    kubeconfig $CONF/coredns.kubeconfig
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  cache 30
  loadbalance
}
.:53 {
  bind $NODE_IP
  errors
}
COREFILE

  # What a cluster's add-on manager would create: CoreDNS's read access, and the kube-dns Service
  # pointing at CoreDNS on the host (a selector-less Service with an EndpointSlice of ours).
  cat >"$CONF/bootstrap.yaml" <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "rapflow:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "rapflow:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "rapflow:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "rapflow:coredns"}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, app.kubernetes.io/managed-by: rapflow}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: rapflow}
addressType: IPv4
endpoints: [{addresses: ["$NODE_IP"]}]
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
YAML
}

do_install() {
  need_root
  install_packages
  build_kubernetes
  build_coredns
  build_pause
  make_pki
  write_config
}

# --- host: every change has its undo, recorded as it is made ---------------------------------
# Each change is made only where the host differs, and recorded once, for host-down to undo; a
# second host-up (the cluster already running, or left by a crash) changes and records nothing new.
changed() { grep -qxF -- "$*" "$HOST_CHANGES" 2>/dev/null || echo "$*" >>"$HOST_CHANGES"; }

host_up() {
  need_root
  mkdir -p "$STATE"
  touch "$HOST_CHANGES"
  local prop
  prop=$(findmnt -no PROPAGATION /)
  if [[ $prop != shared ]]; then
    # Volumes the kubelet mounts must show inside containers.
    mount --make-rshared /
    changed "mount $prop"
  fi
  local key value
  for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    value=$(sysctl -n "$key" 2>/dev/null) || die "sysctl $key is missing (the bridge netfilter module, br_netfilter, is not loaded)"
    if [[ $value != 1 ]]; then
      sysctl -qw "$key=1"
      changed "sysctl $key $value"
    fi
  done
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    # Made before the kubelet starts: its node IP must exist, and may not be a loopback one.
    ip link add "$BRIDGE" type bridge
    ip addr add "$NODE_IP/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    changed "bridge $BRIDGE"
  fi
  # The kubelet adds chains of its own (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, in
  # both iptables and ip6tables) and kube-proxy's --cleanup leaves them: ours to remove on down when
  # the host had none before.
  iptables -S KUBE-FIREWALL >/dev/null 2>&1 || changed "kubelet-chains"
  # Pods talk to each other and to this machine, never beyond it.
  local rule=(FORWARD -s "$POD_CIDR" ! -o "$BRIDGE" -j DROP -m comment --comment rapflow-pods-stay-local)
  iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[0]}" 1 "${rule[@]:1}"
  changed "iptables ${rule[*]}"
  log "host prepared: $(paste -sd ';' "$HOST_CHANGES")"
}

# The kubelet's own iptables chains: the rules that jump to them from the built-in chains, then
# the chains themselves, in every table and both IP versions.
remove_kubelet_chains() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle; do
      while read -r rule; do
        # shellcheck disable=SC2086 # a rule as iptables -S prints it, word for word
        "$cmd" -t "$table" -D ${rule#-A } 2>/dev/null || true
      done < <("$cmd" -t "$table" -S 2>/dev/null | grep -E -- '^-A [A-Z]+ .*-j KUBE-(FIREWALL|KUBELET-CANARY|IPTABLES-HINT)$' || true)
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null && "$cmd" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# Pods' leftovers (their network namespaces, mounts, kube-proxy's rules), then what host-up changed.
host_down() {
  need_root
  local ns m
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  # Secret and projected volumes are tmpfs mounts under the kubelet's folder; containers' root
  # filesystems are overlay mounts under containerd's.
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rno TARGET | grep -E "^($STATE/|/run/containerd/)" | sort -r)
  if [[ -x "$BIN/kube-proxy" ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  # CNI's host-local leases, for a bridge that is going away.
  rm -rf "$STATE/cni-ipam"
  [[ -f "$HOST_CHANGES" ]] || return 0
  local what a b c
  while read -r what a b c; do
    case "$what" in
      mount) mount "--make-r$a" / ;;
      sysctl) sysctl -qw "$a=$b" ;;
      bridge) ip link delete "$a" 2>/dev/null || true ;;
      kubelet-chains) remove_kubelet_chains ;;
      iptables) # shellcheck disable=SC2086 # the recorded rule, word for word
        while iptables -D $a $b $c 2>/dev/null; do :; done ;;
    esac
  done < <(tac "$HOST_CHANGES")
  rm -f "$HOST_CHANGES"
  log "host restored"
}

# --- run: one component in the foreground ---------------------------------------------------
run_component() {
  need_root
  local c=${K8S_COMPONENT:?K8S_COMPONENT names the component to run}
  case "$c" in
    etcd)
      # Debian's etcd 3.4: the apiserver runs on it with the WatchList feature off (below).
      exec etcd --name rapflow --data-dir "$STATE/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster rapflow=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        --quota-backend-bytes 2147483648 --logger zap
      ;;
    containerd)
      exec containerd --config "$CONF/containerd.toml"
      ;;
    apiserver)
      exec "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
        --bind-address=127.0.0.1 --secure-port=6443 --advertise-address="$NODE_IP" \
        --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
        --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
        --feature-gates=WatchList=false --profiling=false --v=1
      ;;
    apiserver-bridge)
      # Pods reach the API at the advertised bridge address; the apiserver itself stays on loopback.
      # Not exec'd: the supervisor knows its processes by a command line naming this script.
      socat "TCP-LISTEN:6443,bind=$NODE_IP,reuseaddr,fork" TCP:127.0.0.1:6443 &
      wait
      ;;
    stack-bridge)
      # The local stack's services, for pods, at the bridge address: K8S_FORWARDS lists
      # "port=host:port" pairs (src/stack/k8s.ts). Not exec'd, as apiserver-bridge.
      local pair
      for pair in ${K8S_FORWARDS:?K8S_FORWARDS lists the ports to forward}; do
        socat "TCP-LISTEN:${pair%%=*},bind=$NODE_IP,reuseaddr,fork" "TCP:${pair#*=}" &
      done
      wait
      ;;
    controller-manager)
      exec "$BIN/kube-controller-manager" --kubeconfig="$CONF/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$CONF/controller-manager.kubeconfig" --authorization-kubeconfig="$CONF/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false --use-service-account-credentials \
        --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
        --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" --allocate-node-cidrs=false \
        --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route' --profiling=false
      ;;
    scheduler)
      exec "$BIN/kube-scheduler" --kubeconfig="$CONF/scheduler.kubeconfig" \
        --authentication-kubeconfig="$CONF/scheduler.kubeconfig" --authorization-kubeconfig="$CONF/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false
      ;;
    kubelet)
      # The sandbox image first: without it every pod would send containerd to a registry.
      import_images
      exec "$BIN/kubelet" --config="$CONF/kubelet.yaml" --kubeconfig="$CONF/kubelet.kubeconfig" \
        --root-dir="$STATE/kubelet" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1
      ;;
    proxy)
      exec "$BIN/kube-proxy" --config="$CONF/kube-proxy.yaml"
      ;;
    coredns)
      kubectl_admin apply --server-side --force-conflicts -f "$CONF/bootstrap.yaml" >&2
      exec "$COREDNS_BIN" -conf "$CONF/Corefile"
      ;;
    *) die "unknown component $c" ;;
  esac
}

CTR=(ctr --address /run/containerd/containerd.sock -n k8s.io)

# Imports every archive in the image folder that this node does not hold yet (a marker per
# archive and modification time), so images built without a registry reach the kubelet.
import_images() {
  local archive marker
  mkdir -p "$STATE/imported"
  for archive in "$IMAGES"/*.oci.tar; do
    [[ -f "$archive" ]] || continue
    marker="$STATE/imported/$(basename "$archive").$(stat -c %Y "$archive")"
    [[ -f "$marker" ]] && continue
    "${CTR[@]}" images import "$archive" >&2 || die "importing $archive failed"
    rm -f "$STATE/imported/$(basename "$archive")".*
    touch "$marker"
    log "imported $(basename "$archive")"
  done
}

# Every pod container, killed and removed through containerd (their shims are no children of
# ours, so stopping containerd would leave them running). The kubelet is stopped first.
stop_pods() {
  local id n=0
  while read -r id; do
    [[ -n "$id" ]] || continue
    "${CTR[@]}" tasks delete --force "$id" >/dev/null 2>&1 || "${CTR[@]}" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    n=$((n + 1))
  done < <("${CTR[@]}" tasks ls -q 2>/dev/null)
  log "stopped $n pod containers"
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$CONF/admin.kubeconfig" "$@"; }

case "${1:-}" in
  install) do_install ;;
  host-up) host_up ;;
  host-down) host_down ;;
  run) run_component ;;
  images) import_images ;;
  # An image the node holds under a second name (the tutorial's `:dev` for the image built here).
  tag-image) [[ $# -eq 3 ]] || die "usage: k8s.sh tag-image SOURCE TARGET"; "${CTR[@]}" images tag --force "$2" "$3" >/dev/null ;;
  stop-pods) stop_pods ;;
  # exec: kubectl itself is this process, so a signal to it (a port-forward stopped) reaches it.
  kubectl) shift; exec "$BIN/kubectl" --kubeconfig "$CONF/admin.kubeconfig" "$@" ;;
  paths) printf 'bin=%s\nconf=%s\nstate=%s\nimages=%s\n' "$BIN" "$CONF" "$STATE" "$IMAGES" ;;
  version) echo "kubernetes $K8S_VERSION, coredns $COREDNS_VERSION, $(containerd --version 2>/dev/null | awk '{print "containerd", $3}'), $(etcd --version 2>/dev/null | awk 'NR==1 {print "etcd", $3}')" ;;
  *) die "usage: k8s.sh install | host-up | host-down | run | images | tag-image SRC DST | stop-pods | kubectl ... | paths | version" ;;
esac
