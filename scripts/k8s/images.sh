#!/usr/bin/env bash
# The rapflow image, built from the project's own Dockerfile on a machine with no Docker engine and
# no container registry: the two images the Dockerfile starts FROM are stood in for by images made
# here (Debian bookworm from debootstrap, Node from the npm registry), then `buildah bud` builds the
# Dockerfile unchanged, and the result is saved as an OCI archive that containerd imports
# (`ctr -n k8s.io images import`, see scripts/stack/k8s.sh import). Needs root and Debian's
# buildah and debootstrap (installed with apt-get when missing), npm, and the npm registry.
#   bash scripts/k8s/images.sh bases     # the two stand-in base images (once; kept in buildah's storage)
#   bash scripts/k8s/images.sh build     # bases if needed, the Dockerfile (layers reused), the archive
#   bash scripts/k8s/images.sh archive   # prints the archive's path (builds it when missing)
#   bash scripts/k8s/images.sh name      # prints the image's name
set -euo pipefail
cd "$(dirname "$0")/../.."

# --- Pinned versions, each with its reason ----------------------------------------------------
# Node: the Dockerfile's ARG NODE_IMAGE is node:24.21-bookworm-slim, and package.json
# config.bootstrapNode is the same release; the binary is the npm registry's node-linux-<arch>.
readonly NODE_VERSION=24.21.0
# npm: the one Node 24.21.0 ships (its CHANGELOG: "deps: upgrade npm to 11.19.0" in 24.20.0, none
# since); the npm registry's `node` package has no npm, so it comes as the `npm` package.
readonly NPM_VERSION=11.19.0
# Debian 12: both real images are built on it (node:*-bookworm-slim, distroless *-debian12).
readonly DEBIAN_SUITE=bookworm
# Bump when the recipe below changes: bases whose label differs are built anew.
readonly RECIPE_VERSION=1
readonly RECIPE="$RECIPE_VERSION node-$NODE_VERSION npm-$NPM_VERSION debian-$DEBIAN_SUITE"
readonly RECIPE_LABEL=io.github.rapflow.standin.recipe

# The stand-ins' names: the real ones under localhost/rapflow-standin/, so they never pass for them.
readonly BUILD_BASE=localhost/rapflow-standin/node:24.21-bookworm-slim
readonly RUNTIME_BASE=localhost/rapflow-standin/nodejs24-debian12:nonroot

readonly CACHE="${RAPFLOW_HOME:-$HOME/.cache/rapflow}/k8s/images"
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }
# prefixed CMD...: runs CMD with its output on stderr, each line prefixed like ours.
prefixed() { "$@" 2>&1 | sed -u 's/^/images: /' >&2; }

version() { sed -n 's/^  "version": "\([^"]*\)",$/\1/p' package.json; }
image_name() {
  local v
  v=$(version)
  [[ -n "$v" ]] || die "no \"version\" in package.json"
  echo "docker.io/library/rapflow:$v"
}
archive_path() { echo "$CACHE/rapflow-$(version).oci.tar"; }

case "$(uname -m)" in
  x86_64) NODE_ARCH=x64 ;;
  aarch64) NODE_ARCH=arm64 ;;
  *) die "no Node binary on the npm registry for $(uname -m)" ;;
esac
readonly NODE_ARCH

# --- Tools -------------------------------------------------------------------------------------
# need_tools: root, buildah and debootstrap (installed from Debian when missing), npm.
need_tools() {
  [[ $EUID -eq 0 ]] ||
    die "building images without a daemon needs root (debootstrap, chroot, buildah's storage and mounts): run as root, e.g. sudo bash $0 ${1:-build}"
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [[ ${#missing[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null ||
      die "${missing[*]} needed and apt-get not found: install ${missing[*]} with your package manager (Debian/Ubuntu: apt-get install ${missing[*]})"
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
      die "apt-get install ${missing[*]} failed: install them by hand (apt-get install ${missing[*]})"
  fi
  command -v npm >/dev/null || die "npm is needed: it fetches Node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] ||
    die "debootstrap needs Debian's archive keys: apt-get install debian-archive-keyring"
  [[ -f $CA_BUNDLE ]] || die "no CA bundle at $CA_BUNDLE (apt-get install ca-certificates)"
  [[ $CACHE != *:* ]] || die "the cache folder $CACHE must not contain ':' (buildah's oci: transport splits there)"
}

# The Debian mirror this machine's apt uses (deb822 first, then sources.list), or RAPFLOW_DEBIAN_MIRROR.
debian_mirror() {
  local uri
  if [[ -n "${RAPFLOW_DEBIAN_MIRROR:-}" ]]; then echo "$RAPFLOW_DEBIAN_MIRROR"; return; fi
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n "$uri" ]] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { print ($2 ~ /^\[/ ? $3 : $2); exit }' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# --- Bases -------------------------------------------------------------------------------------
image_current() {
  local label
  label=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null || true)
  [[ "$label" == "$RECIPE" ]]
}

WORK=""
CONTAINERS=()
DEBIAN_TARBALL=""
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The debootstrap rootfs as a tarball, made once: a rebuild of the bases downloads nothing.
debian_tarball() {
  local tarball="$CACHE/debootstrap-$DEBIAN_SUITE-minbase-$NODE_ARCH.tar.gz"
  if [[ ! -f "$tarball" ]]; then
    local mirror started=$SECONDS dir="$WORK/debootstrap"
    mirror=$(debian_mirror)
    say "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (once; cached as $tarball)..."
    prefixed nice -n 10 debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
      "$DEBIAN_SUITE" "$dir" "$mirror" || die "debootstrap failed (log: $dir/debootstrap/debootstrap.log)"
    nice -n 10 tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    say "debootstrap done in $((SECONDS - started)) s"
  fi
  echo "$tarball"
}

# npm_tarball NAME VERSION: the npm registry's tarball of NAME@VERSION, fetched once (npm's own
# cache and TLS settings apply, so it works where the project's `npm ci` works).
npm_tarball() {
  local file="$CACHE/$1-$2.tgz"
  if [[ ! -f "$file" ]]; then
    say "fetching $1@$2 from the npm registry"
    mkdir -p "$WORK/pack"
    (cd "$WORK/pack" && npm pack --silent "$1@$2" >/dev/null) || die "npm pack $1@$2 failed"
    mv "$WORK/pack/$1-$2.tgz" "$file"
  fi
  echo "$file"
}

# commit_rootfs DIR NAME DESCRIPTION [buildah config flags...]: a one-layer image of DIR.
commit_rootfs() {
  local dir=$1 name=$2 what=$3 ctr mnt
  shift 3
  ctr=$(buildah from scratch)
  CONTAINERS+=("$ctr")
  mnt=$(buildah mount "$ctr")
  cp -a "$dir/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --os linux --arch "$(buildah info --format '{{.host.arch}}')" \
    --label "$RECIPE_LABEL=$RECIPE" --created-by "rapflow scripts/k8s/images.sh: $what" "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  CONTAINERS=()
}

# The stand-in for node:24.21-bookworm-slim: Debian minbase, slimmed like debian:bookworm-slim,
# Node and npm laid out as the official image has them, the user node (1000), and this host's CA
# bundle with NODE_EXTRA_CA_CERTS pointing at it (npm in a build then trusts what the host trusts).
build_base() {
  local root=$WORK/build-rootfs node_tgz npm_tgz started=$SECONDS
  say "building $BUILD_BASE"
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xzpf "$DEBIAN_TARBALL"
  node_tgz=$(npm_tarball "node-linux-$NODE_ARCH" "$NODE_VERSION")
  npm_tgz=$(npm_tarball npm "$NPM_VERSION")
  # The binary package's tarball holds package/{bin/node,include/node,share/...}: /usr/local, as
  # the official image unpacks nodejs.org's tarball there.
  mkdir -p "$WORK/node" "$root/usr/local/lib/node_modules/npm"
  tar -C "$WORK/node" -xzf "$node_tgz"
  cp -a "$WORK/node/package/bin" "$WORK/node/package/include" "$WORK/node/package/share" "$root/usr/local/"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  mkdir -p "$root/etc/ssl/certs"
  cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  # What debian:bookworm-slim leaves out (its dpkg path-excludes), for these files and later ones.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root/etc/hostname"
  local got
  got="$(chroot "$root" /usr/local/bin/node --version) npm $(chroot "$root" env PATH="$DEFAULT_PATH" npm --version)"
  [[ "$got" == "v$NODE_VERSION npm $NPM_VERSION" ]] || die "the build base's Node says '$got', not v$NODE_VERSION npm $NPM_VERSION"
  commit_rootfs "$root" "$BUILD_BASE" "Debian $DEBIAN_SUITE minbase (debootstrap), Node $NODE_VERSION, npm $NPM_VERSION" \
    --env "PATH=$DEFAULT_PATH" --env "NODE_VERSION=$NODE_VERSION" \
    --env "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" --cmd '["node"]'
  say "$BUILD_BASE built in $((SECONDS - started)) s ($(du -sm "$root" | cut -f1) MB: $got)"
}

# copy_chain ROOT PATH DEST: copies PATH (absolute inside ROOT) into DEST, with every symlink met on
# the way (links kept as links), resolving ROOT's merged-/usr folders as ROOT sees them.
copy_chain() {
  local root=$1 path=$2 dest=$3 dir target
  while :; do
    dir=$(chroot "$root" readlink -f "$(dirname "$path")")
    path="$dir/$(basename "$path")"
    mkdir -p "$dest$dir"
    [[ -e "$dest$path" || -L "$dest$path" ]] || cp -a "$root$path" "$dest$path"
    [[ -L "$root$path" ]] || break
    target=$(readlink "$root$path")
    [[ $target == /* ]] || target="$dir/$target"
    path=$target
  done
}

# The stand-in for gcr.io/distroless/nodejs24-debian12:nonroot: Node at /nodejs/bin/node, the
# shared libraries it loads (from the same Debian), users root/nobody/nonroot, CA bundle, tzdata,
# /tmp. No shell, no package manager: nothing runs in it but node.
runtime_base() {
  local src=$WORK/runtime-src root=$WORK/runtime-rootfs node_tgz lib l started=$SECONDS
  say "building $RUNTIME_BASE"
  mkdir -p "$src" "$root"
  tar -C "$src" --numeric-owner -xzpf "$DEBIAN_TARBALL"
  node_tgz=$(npm_tarball "node-linux-$NODE_ARCH" "$NODE_VERSION")
  mkdir -p "$WORK/node-rt" "$src/nodejs/bin" "$root/nodejs/bin"
  tar -C "$WORK/node-rt" -xzf "$node_tgz"
  cp "$WORK/node-rt/package/bin/node" "$src/nodejs/bin/node"
  cp "$WORK/node-rt/package/bin/node" "$root/nodejs/bin/node"
  cp "$WORK/node-rt/package/LICENSE" "$root/nodejs/LICENSE"
  # Merged /usr as in the Debian it comes from: /lib and /lib64 are links into /usr.
  for l in lib lib64; do
    if [[ -L "$src/$l" ]]; then cp -a "$src/$l" "$root/$l"; fi
  done
  while read -r lib; do
    copy_chain "$src" "$lib" "$root"
  done < <(chroot "$src" ldd /nodejs/bin/node | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/root" "$root/home/nonroot"
  cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  cp -L "$src/etc/os-release" "$root/etc/os-release"
  if [[ -d "$src/usr/share/zoneinfo" ]]; then
    mkdir -p "$root/usr/share"
    cp -a "$src/usr/share/zoneinfo" "$root/usr/share/"
  fi
  # As distroless writes them: no login shell anywhere (there is none).
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:      files
ethers:         files
rpc:            files
netgroup:       files
EOF
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root" "$root/home/nonroot"
  chown 65532:65532 "$root/home/nonroot"
  local got
  got=$(chroot --userspec=65532:65532 "$root" /nodejs/bin/node -e \
    'process.stdout.write([process.version, "uid", process.getuid(), require("os").userInfo().username].join(" "))')
  [[ "$got" == "v$NODE_VERSION uid 65532 nonroot" ]] || die "the runtime base's Node says '$got'"
  [[ ! -e "$root/bin/sh" && ! -e "$root/usr/bin/sh" ]] || die "the runtime base has a shell"
  commit_rootfs "$root" "$RUNTIME_BASE" "Node $NODE_VERSION at /nodejs/bin/node and its shared libraries from Debian $DEBIAN_SUITE" \
    --env "PATH=$DEFAULT_PATH" --env "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --user 65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]'
  say "$RUNTIME_BASE built in $((SECONDS - started)) s ($(du -sm "$root" | cut -f1) MB, $(find "$root" ! -type d | wc -l) files: $got)"
}

bases() {
  local build=1 runtime=1
  image_current "$BUILD_BASE" && build=0
  image_current "$RUNTIME_BASE" && runtime=0
  if [[ $build == 0 && $runtime == 0 ]]; then return 0; fi
  mkdir -p "$CACHE"
  WORK=$(mktemp -d "$CACHE/work.XXXXXX")
  DEBIAN_TARBALL=$(debian_tarball)
  if [[ $build == 1 ]]; then build_base; fi
  if [[ $runtime == 1 ]]; then runtime_base; fi
  rm -rf "$WORK"
  WORK=""
}

# --- The rapflow image -------------------------------------------------------------------------
image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }

build() {
  local name archive started=$SECONDS id
  name=$(image_name)
  archive=$(archive_path)
  bases
  local bud_started=$SECONDS
  say "building $name from Dockerfile (buildah bud --layers; stand-in bases)..."
  # The cache mounts (npm's cache) live in /var/tmp/buildah-cache, kept across builds. The host's
  # CA folder is mounted for every RUN, so npm in the build trusts what this machine trusts.
  prefixed nice -n 10 buildah bud --layers --network host -v /etc/ssl/certs:/etc/ssl/certs:ro \
    --build-arg "NODE_IMAGE=$BUILD_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
    -f Dockerfile -t "$name" . || die "buildah bud failed"
  local built=$((SECONDS - bud_started)) archived=$SECONDS
  id=$(image_id "$name")
  if [[ -f "$archive" && "$(cat "$archive.id" 2>/dev/null)" == "$id" ]]; then
    say "archive unchanged: $archive"
  else
    say "saving $name as $archive..."
    local layout
    mkdir -p "$CACHE"
    layout=$(mktemp -d "$CACHE/layout.XXXXXX")
    WORK=$layout
    prefixed nice -n 10 buildah push --quiet "$name" "oci:$layout/oci" || die "buildah push failed"
    # ctr import (without --base-name) keeps only images named by io.containerd.image.name; the
    # OCI annotation holds the tag, as the image-layout spec has it. Same as k8s.sh's oci_image.
    python3 - "$layout/oci/index.json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    m.setdefault("annotations", {})["io.containerd.image.name"] = name
    m["annotations"]["org.opencontainers.image.ref.name"] = name.rsplit(":", 1)[1]
json.dump(index, open(path, "w"))
PY
    tar -C "$layout/oci" -cf "$archive.tmp" .
    mv "$archive.tmp" "$archive"
    echo "$id" >"$archive.id"
    rm -rf "$layout"
    WORK=""
  fi
  local size
  size=$(buildah images --format '{{.Size}}' "$name" | head -n 1)
  say "$name: $size uncompressed, archive $(($(stat -c %s "$archive") / 1048576)) MB ($archive)"
  say "done in $((SECONDS - started)) s (buildah bud $built s, archive $((SECONDS - archived)) s)"
}

case "${1:-}" in
  bases)
    need_tools bases
    bases
    say "bases ready: $BUILD_BASE, $RUNTIME_BASE"
    ;;
  build)
    need_tools build
    build
    ;;
  archive)
    if [[ ! -f "$(archive_path)" ]]; then need_tools archive; build; fi
    archive_path
    ;;
  name)
    image_name
    ;;
  *)
    echo "usage: $0 bases|build|archive|name" >&2
    exit 64
    ;;
esac
