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
#   bash scripts/k8s/images.sh others    # stand-ins for the chart's third-party images under their own
#                                        # names (Apicurio Registry, MinIO), each saved as an archive
#   bash scripts/k8s/images.sh all       # build, then others
# `others` also needs what scripts/stack/registry.sh and minio.sh install with (Maven, Go), and a
# Temurin 25 JDK for jlink.
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

# --- The chart's third-party images, stood in for under their own names (`others`) --------------
# Each name is pinned here and checked against helm/rapflow/values.yaml: a chart bump fails loudly
# instead of leaving a stand-in named for a release it does not hold.
# Apicurio Registry: the Maven Central distribution scripts/stack/registry.sh runs (same release).
readonly APICURIO_VERSION=3.3.3
readonly REGISTRY_IMAGE=quay.io/apicurio/apicurio-registry:$APICURIO_VERSION
# MinIO: the chart's release; the binary is the one scripts/stack/minio.sh builds from the Go module
# proxy, a newer commit (MinIO publishes no release as a Go module), named in the recipe label.
readonly MINIO_RELEASE=RELEASE.2025-04-22T22-12-26Z
readonly MINIO_IMAGE=quay.io/minio/minio:$MINIO_RELEASE
# The JDK whose jlink makes the registry's Java runtime (the real image has Java 21; 3.3.3 needs 21+).
readonly STANDIN_JDK=/usr/lib/jvm/temurin-25-jdk-amd64
# The runtime's modules: all of that JDK's but its development tools (compilers, javadoc, jshell,
# debuggers, jlink, jpackage) and the unused Graal JIT, as a JRE has them. All the others, since
# Quarkus and its libraries load some by reflection and ServiceLoader, which jdeps cannot see.
# (A JDK without jmods, as Temurin 25 is, links from its own runtime and cannot copy jdk.jlink.)
readonly JRE_EXCLUDED='jdk\.(compiler|editpad|graal\.compiler|graal\.compiler\.management|hotspot\.agent|incubator\.vector|internal\.ed|internal\.le|internal\.md|internal\.opt|jartool|javadoc|jcmd|jconsole|jdeps|jdi|jlink|jpackage|jshell|jstatd)'
# Bump when a stand-in's recipe below changes: stand-ins whose label differs are built anew.
readonly STANDIN_RECIPE_VERSION=1
readonly STANDIN_LABEL=io.github.rapflow.standin

readonly CACHE="${RAPFLOW_HOME:-$HOME/.cache/rapflow}/k8s/images"
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }
# prefixed CMD...: runs CMD with its output on stderr, each line prefixed like ours.
prefixed() { "$@" 2>&1 | sed -u 's/^/images: /' >&2; }

version() { sed -n 's/^  "version": "\([^"]*\)",$/\1/p' package.json; }
# The name the chart runs by default (values.yaml image.repository, Chart.yaml appVersion), so a
# local cluster installs the chart without overriding the image, as a kind user does after `kind load`.
image_name() {
  local repo tag
  repo=$(sed -n '/^image:/,/^[^ ]/s/^  repository: *//p' helm/rapflow/values.yaml)
  tag=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/rapflow/Chart.yaml)
  [[ -n "$repo" && -n "$tag" ]] || die "no image.repository in helm/rapflow/values.yaml or appVersion in helm/rapflow/Chart.yaml"
  [[ "$tag" == "$(version)" ]] || die "Chart.yaml appVersion $tag is not package.json's version $(version)"
  echo "$repo:$tag"
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
  # buildah only recommends an OCI runtime, and the Dockerfile's RUN steps need one.
  command -v runc >/dev/null || command -v crun >/dev/null || missing+=(runc)
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
# image_current NAME [RECIPE]: NAME exists with RECIPE (the bases' by default) in its recipe label.
image_current() {
  local label
  label=$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null || true)
  [[ "$label" == "${2:-$RECIPE}" ]]
}

WORK=""
LAYOUT=""
CONTAINERS=()
DEBIAN_TARBALL=""
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi
  if [[ -n "$LAYOUT" ]]; then rm -rf "$LAYOUT"; fi
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

# commit_rootfs DIR NAME RECIPE DESCRIPTION [buildah config flags...]: a one-layer image of DIR,
# RECIPE in its recipe label.
commit_rootfs() {
  local dir=$1 name=$2 recipe=$3 what=$4 ctr mnt
  shift 4
  ctr=$(buildah from scratch)
  CONTAINERS+=("$ctr")
  mnt=$(buildah mount "$ctr")
  nice -n 10 cp -a "$dir/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --os linux --arch "$(buildah info --format '{{.host.arch}}')" \
    --label "$RECIPE_LABEL=$recipe" --created-by "rapflow scripts/k8s/images.sh: $what" "$@" "$ctr"
  nice -n 10 buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  CONTAINERS=()
}

# slim_debian ROOT: the debootstrap rootfs in ROOT slimmed as debian:bookworm-slim is (docs, man
# pages, locales, apt's lists and downloads gone), with this host's CA bundle.
slim_debian() {
  local root=$1
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
  slim_debian "$root"
  local got
  got="$(chroot "$root" /usr/local/bin/node --version) npm $(chroot "$root" env PATH="$DEFAULT_PATH" npm --version)"
  [[ "$got" == "v$NODE_VERSION npm $NPM_VERSION" ]] || die "the build base's Node says '$got', not v$NODE_VERSION npm $NPM_VERSION"
  commit_rootfs "$root" "$BUILD_BASE" "$RECIPE" "Debian $DEBIAN_SUITE minbase (debootstrap), Node $NODE_VERSION, npm $NPM_VERSION" \
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

# copy_with_libs SRC ROOT PATH...: copies each PATH (absolute inside the rootfs SRC) into ROOT with
# the shared libraries ldd finds for it in SRC, symlinks kept; /lib and /lib64 are links into /usr
# in ROOT when they are in SRC (merged /usr), so the loader's paths hold.
copy_with_libs() {
  local src=$1 root=$2 path lib l
  shift 2
  for l in lib lib64; do
    if [[ -L "$src/$l" && ! -e "$root/$l" ]]; then cp -a "$src/$l" "$root/$l"; fi
  done
  for path in "$@"; do
    copy_chain "$src" "$path" "$root"
    while read -r lib; do
      copy_chain "$src" "$lib" "$root"
    done < <(chroot "$src" ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  done
}

# write_nsswitch ROOT: /etc/nsswitch.conf as distroless has it (files, and dns for hosts).
write_nsswitch() {
  cat >"$1/etc/nsswitch.conf" <<'EOF'
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
}

# The stand-in for gcr.io/distroless/nodejs24-debian12:nonroot: Node at /nodejs/bin/node, the
# shared libraries it loads (from the same Debian), users root/nobody/nonroot, CA bundle, tzdata,
# /tmp. No shell, no package manager: nothing runs in it but node.
runtime_base() {
  local src=$WORK/runtime-src root=$WORK/runtime-rootfs node_tgz started=$SECONDS
  say "building $RUNTIME_BASE"
  mkdir -p "$src" "$root"
  tar -C "$src" --numeric-owner -xzpf "$DEBIAN_TARBALL"
  node_tgz=$(npm_tarball "node-linux-$NODE_ARCH" "$NODE_VERSION")
  mkdir -p "$WORK/node-rt" "$src/nodejs/bin" "$root/nodejs/bin"
  tar -C "$WORK/node-rt" -xzf "$node_tgz"
  cp "$WORK/node-rt/package/bin/node" "$src/nodejs/bin/node"
  cp "$WORK/node-rt/package/LICENSE" "$root/nodejs/LICENSE"
  copy_with_libs "$src" "$root" /nodejs/bin/node
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
  write_nsswitch "$root"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root" "$root/home/nonroot"
  chown 65532:65532 "$root/home/nonroot"
  local got
  got=$(chroot --userspec=65532:65532 "$root" /nodejs/bin/node -e \
    'process.stdout.write([process.version, "uid", process.getuid(), require("os").userInfo().username].join(" "))')
  [[ "$got" == "v$NODE_VERSION uid 65532 nonroot" ]] || die "the runtime base's Node says '$got'"
  [[ ! -e "$root/bin/sh" && ! -e "$root/usr/bin/sh" ]] || die "the runtime base has a shell"
  commit_rootfs "$root" "$RUNTIME_BASE" "$RECIPE" "Node $NODE_VERSION at /nodejs/bin/node and its shared libraries from Debian $DEBIAN_SUITE" \
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

# save_archive NAME ARCHIVE: NAME as an OCI archive containerd imports under that name, unless
# ARCHIVE already holds NAME's current image (its id is kept next to it).
save_archive() {
  local name=$1 archive=$2 id started=$SECONDS
  id=$(image_id "$name")
  if [[ -f "$archive" && "$(cat "$archive.id" 2>/dev/null)" == "$name $id" ]]; then
    say "archive unchanged: $archive"
  else
    say "saving $name as $archive..."
    mkdir -p "$CACHE"
    LAYOUT=$(mktemp -d "$CACHE/layout.XXXXXX")
    prefixed nice -n 10 buildah push --quiet "$name" "oci:$LAYOUT/oci" || die "buildah push $name failed"
    python3 scripts/stack/oci-name.py "$LAYOUT/oci/index.json" "$name"
    tar -C "$LAYOUT/oci" -cf "$archive.tmp" .
    mv "$archive.tmp" "$archive"
    echo "$name $id" >"$archive.id"
    rm -rf "$LAYOUT"
    LAYOUT=""
  fi
  local size
  size=$(buildah images --format '{{.Size}}' "$name" | head -n 1)
  say "$name: $size uncompressed, archive $(($(stat -c %s "$archive") / 1048576)) MB ($archive; $((SECONDS - started)) s)"
}

build() {
  local name archive started=$SECONDS
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
  local built=$((SECONDS - bud_started))
  save_archive "$name" "$archive"
  say "done in $((SECONDS - started)) s (buildah bud $built s)"
}

# --- Stand-ins for the chart's third-party images ----------------------------------------------
# chart_image KEY: the image helm/rapflow/values.yaml gives KEY (a top-level key with an image:
# block of repository and tag), as repository:tag.
chart_image() {
  awk -v key="$1" '
    /^[^ #]/ { in_key = ($0 ~ "^" key ":"); in_image = 0; next }
    in_key && /^  [^ #]/ { in_image = ($0 ~ /^  image:/); next }
    in_key && in_image && $1 == "repository:" { repo = $2 }
    in_key && in_image && $1 == "tag:" { tag = $2 }
    END { gsub(/["\047]/, "", tag); if (repo != "" && tag != "") print repo ":" tag }' helm/rapflow/values.yaml
}

check_chart() {
  local key want got
  for key in registry devMinio; do
    if [[ $key == registry ]]; then want=$REGISTRY_IMAGE; else want=$MINIO_IMAGE; fi
    got=$(chart_image "$key")
    [[ "$got" == "$want" ]] ||
      die "helm/rapflow/values.yaml's $key.image is '${got:-?}', the stand-in here is $want: update the pins in $0"
  done
  local stack
  stack=$(bash scripts/stack/registry.sh version)
  [[ "$stack" == "$APICURIO_VERSION" ]] ||
    die "scripts/stack/registry.sh runs Apicurio Registry $stack, the stand-in here is $APICURIO_VERSION: align them"
}

# standin_archive NAME: <cache>/<short name>-<tag>.oci.tar for the image NAME.
standin_archive() {
  local short=${1##*/}
  echo "$CACHE/${short%:*}-${1##*:}.oci.tar"
}

jdk_version() {
  [[ -x "$STANDIN_JDK/bin/jlink" ]] ||
    die "no JDK at $STANDIN_JDK (the Temurin 25 scripts/stack/registry.sh prefers): its jlink makes the registry stand-in's Java"
  sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"$/\1/p' "$STANDIN_JDK/release"
}

# in_rootfs ROOT USER:GROUP CMD...: CMD in the rootfs ROOT as USER:GROUP, with a /proc of its own
# mounted as in a container (Java's launcher finds libjli.so through $ORIGIN and MinIO checks its
# own binary, both through /proc/self/exe); the mount goes with the namespace.
in_rootfs() {
  unshare --fork --pid --mount-proc="$1/proc" chroot --userspec="$2" "$1" "${@:3}"
}

# The stand-in for quay.io/apicurio/apicurio-registry: the real one is UBI's openjdk-21-runtime with
# the distribution ADDed to /deployments (owned 1001:0, ug=rwx), user 1001, run by UBI's run-java.sh
# (no entrypoint) with JAVA_OPTIONS binding 0.0.0.0. Here: Debian minbase slimmed (a shell and
# coreutils, as UBI has), the same distribution in /deployments the same way, a jlink'd runtime at
# /opt/java, and a small run-java.sh taking the same variables.
registry_standin() {
  local recipe=$1 root=$WORK/registry-rootfs home=${RAPFLOW_HOME:-$HOME/.cache/rapflow} modules got started=$SECONDS
  say "building $REGISTRY_IMAGE (stand-in)"
  prefixed bash scripts/stack/registry.sh install || die "scripts/stack/registry.sh install failed"
  mkdir -p "$root"
  nice -n 10 tar -C "$root" --numeric-owner -xzpf "$DEBIAN_TARBALL"
  slim_debian "$root"
  modules=$("$STANDIN_JDK/bin/java" --list-modules | sed 's/@.*//' | grep -vxE "$JRE_EXCLUDED" | paste -sd, -)
  prefixed nice -n 10 "$STANDIN_JDK/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages \
    --no-header-files --compress=zip-6 --output "$root/opt/java" || die "jlink failed"
  mkdir -p "$root/deployments"
  cp -a "$home/apicurio-registry-$APICURIO_VERSION/." "$root/deployments/"
  rm -f "$root/deployments/.installed"
  chown -R 1001:0 "$root/deployments"
  chmod -R ug=rwx "$root/deployments"
  mkdir -p "$root/opt/rapflow-standin"
  cat >"$root/opt/rapflow-standin/run-java.sh" <<'EOF'
#!/bin/sh
# Stand-in (rapflow scripts/k8s/images.sh) for UBI's run-java.sh: the heap at JAVA_MAX_MEM_RATIO
# percent of the container's memory (80 unless set), then JAVA_OPTS (or JAVA_OPTIONS, its older
# name) and JAVA_OPTS_APPEND, word-split as there, then the Quarkus fast-jar in JAVA_APP_DIR.
cd "${JAVA_APP_DIR:-/deployments}" || exit 1
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" "-XX:MaxRAMPercentage=${JAVA_MAX_MEM_RATIO:-80}" -XX:+ExitOnOutOfMemoryError \
  ${JAVA_OPTS:-$JAVA_OPTIONS} $JAVA_OPTS_APPEND -jar "${JAVA_APP_DIR:-/deployments}/quarkus-run.jar" "$@"
EOF
  chmod 755 "$root/opt/rapflow-standin" "$root/opt/rapflow-standin/run-java.sh"
  got=$(in_rootfs "$root" 1001:0 env -i /opt/java/bin/java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.runtime\.version = //p' || true)
  [[ "$got" == "$(jdk_version)" ]] || die "the registry stand-in's Java says '$got', not $(jdk_version)"
  commit_rootfs "$root" "$REGISTRY_IMAGE" "$recipe" \
    "stand-in for $REGISTRY_IMAGE: Apicurio Registry $APICURIO_VERSION (Maven Central io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all) in /deployments, Java $got (jlink of Temurin) at /opt/java, Debian $DEBIAN_SUITE minbase" \
    --label "$STANDIN_LABEL=true" --label "$STANDIN_LABEL.for=$REGISTRY_IMAGE" \
    --env "PATH=/opt/java/bin:$DEFAULT_PATH" --env LANG=C.UTF-8 --env JAVA_HOME=/opt/java \
    --env JAVA_APP_DIR=/deployments \
    --env "JAVA_OPTIONS=-Dquarkus.http.host=0.0.0.0 -Djava.util.logging.manager=org.jboss.logmanager.LogManager" \
    --port 8080/tcp --port 8443/tcp --port 9000/tcp --user 1001 --workingdir /deployments \
    --cmd '["/opt/rapflow-standin/run-java.sh"]'
  say "$REGISTRY_IMAGE built in $((SECONDS - started)) s ($(du -sm "$root" | cut -f1) MB: Java $got, $(wc -l <<<"${modules//,/$'\n'}") modules)"
}

# The stand-in for quay.io/minio/minio: the real one is UBI micro (bash, coreutils) with
# /usr/bin/minio, the CA bundle, ENTRYPOINT docker-entrypoint.sh (prepends `minio` to arguments
# that do not start with it), CMD minio, VOLUME /data, no USER. Here: the MinIO binary stripped (as
# MinIO's release builds are), dash as /bin/sh, a few coreutils (mkdir for the chart's init
# container) and their shared libraries from Debian, the same entrypoint semantics and environment.
minio_standin() {
  local recipe=$1 src=$WORK/minio-src root=$WORK/minio-rootfs home=${RAPFLOW_HOME:-$HOME/.cache/rapflow} got e started=$SECONDS
  # The real image's environment.
  local minio_env=("PATH=$DEFAULT_PATH" MINIO_ACCESS_KEY_FILE=access_key MINIO_SECRET_KEY_FILE=secret_key
    MINIO_ROOT_USER_FILE=access_key MINIO_ROOT_PASSWORD_FILE=secret_key MINIO_KMS_SECRET_KEY_FILE=kms_master_key
    MINIO_CONFIG_ENV_FILE=config.env MC_CONFIG_DIR=/tmp/.mc) flags=()
  say "building $MINIO_IMAGE (stand-in)"
  prefixed bash scripts/stack/minio.sh install || die "scripts/stack/minio.sh install failed"
  mkdir -p "$src" "$root"
  nice -n 10 tar -C "$src" --numeric-owner -xzpf "$DEBIAN_TARBALL"
  if command -v strip >/dev/null; then
    nice -n 10 strip -o "$src/usr/bin/minio" "$home/bin/minio"
  else
    cp "$home/bin/minio" "$src/usr/bin/minio"
  fi
  ln -s usr/bin "$root/bin"
  copy_with_libs "$src" "$root" /usr/bin/minio /bin/sh \
    /usr/bin/{cat,chmod,cp,env,id,ln,ls,mkdir,mv,rm,sleep,touch}
  cat >"$root/usr/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in (rapflow scripts/k8s/images.sh) for MinIO's docker-entrypoint.sh: arguments that do not
# start with `minio` are minio's (`server /data` runs `minio server /data`).
if [ "${1}" != "minio" ] && [ -n "${1}" ]; then
  set -- minio "$@"
fi
exec "$@"
EOF
  chmod 755 "$root/usr/bin/docker-entrypoint.sh"
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/root" "$root/data" "$root/proc"
  cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  cp -L "$src/etc/os-release" "$root/etc/os-release"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$root/etc/group"
  # For runtimes that mount none (a pod's is kubelet's): minio resolves localhost at start.
  printf '%s\n' '127.0.0.1 localhost' '::1 localhost ip6-localhost ip6-loopback' >"$root/etc/hosts"
  write_nsswitch "$root"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  # As the chart runs it: user 1000, not in /etc/passwd, so HOME=/ as runc sets it then (the mc code
  # built into minio looks for a home folder at start: $HOME, else getent, which is not here).
  got=$(in_rootfs "$root" 1000:1000 /usr/bin/env -i HOME=/ "${minio_env[@]}" /bin/sh -c \
    'mkdir -p /tmp/standin-check/a && /usr/bin/docker-entrypoint.sh --version' 2>&1 | head -n 1 || true)
  [[ "$got" == "minio version "* ]] || die "the MinIO stand-in says '$got'"
  find "$root/tmp" -mindepth 1 -delete
  for e in "${minio_env[@]}"; do flags+=(--env "$e"); done
  commit_rootfs "$root" "$MINIO_IMAGE" "$recipe" \
    "stand-in for $MINIO_IMAGE: MinIO $(bash scripts/stack/minio.sh version) (Go module proxy) at /usr/bin/minio, dash, coreutils' mkdir and a few others from Debian $DEBIAN_SUITE" \
    --label "$STANDIN_LABEL=true" --label "$STANDIN_LABEL.for=$MINIO_IMAGE" \
    "${flags[@]}" --port 9000/tcp --volume /data \
    --entrypoint '["/usr/bin/docker-entrypoint.sh"]' --cmd '["minio"]'
  say "$MINIO_IMAGE built in $((SECONDS - started)) s ($(du -sm "$root" | cut -f1) MB, $(find "$root" ! -type d | wc -l) files)"
}

others() {
  local registry_recipe minio_recipe build_registry=1 build_minio=1 started=$SECONDS
  check_chart
  registry_recipe="$STANDIN_RECIPE_VERSION apicurio-registry-app-$APICURIO_VERSION-all java-$(jdk_version) debian-$DEBIAN_SUITE"
  minio_recipe="$STANDIN_RECIPE_VERSION minio-$(bash scripts/stack/minio.sh version) debian-$DEBIAN_SUITE"
  image_current "$REGISTRY_IMAGE" "$registry_recipe" && build_registry=0
  image_current "$MINIO_IMAGE" "$minio_recipe" && build_minio=0
  if [[ $build_registry == 1 || $build_minio == 1 ]]; then
    mkdir -p "$CACHE"
    WORK=$(mktemp -d "$CACHE/work.XXXXXX")
    DEBIAN_TARBALL=$(debian_tarball)
    if [[ $build_registry == 1 ]]; then registry_standin "$registry_recipe"; fi
    if [[ $build_minio == 1 ]]; then minio_standin "$minio_recipe"; fi
    rm -rf "$WORK"
    WORK=""
  fi
  save_archive "$REGISTRY_IMAGE" "$(standin_archive "$REGISTRY_IMAGE")"
  save_archive "$MINIO_IMAGE" "$(standin_archive "$MINIO_IMAGE")"
  say "stand-ins done in $((SECONDS - started)) s"
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
  others)
    need_tools others
    others
    ;;
  all)
    need_tools all
    build
    others
    ;;
  name)
    image_name
    ;;
  *)
    echo "usage: $0 bases|build|others|all|archive|name" >&2
    exit 64
    ;;
esac
