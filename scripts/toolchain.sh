#!/usr/bin/env bash
# Installs the upstream tools the tests need, pinned and cached, built from source through the Go module
# proxy:
#   kube-apiserver, kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd), helm, promtool;
#   for the one-node cluster of scripts/node.sh (target `node`, not part of `all`): kubelet,
#   kube-controller-manager, kube-scheduler, kube-proxy (the same k8s.io/kubernetes version, cached
#   apart so that adding them does not rebuild kube-apiserver), containerd, containerd-shim-runc-v2 and
#   ctr (github.com/containerd/containerd/v2), and the Prometheus server (the same module as promtool);
#   the upstream CRD manifests of the Gateway API (sigs.k8s.io/gateway-api, standard channel) and of
#   cert-manager (github.com/cert-manager/cert-manager), read from their module zips (target `crds`,
#   part of `all`; `path crds-gateway-api` / `path crds-cert-manager` print their directories).
# Each tool is built only when its cached binary is missing. Prints what it builds and how long it took;
# fails loudly, naming the step, when the proxy or a build fails.
# Kubernetes' and etcd's official release binaries are used instead of a source build when their SHA-256
# is pinned in scripts/release-sums.txt (TLSAUDIT_RELEASE_SUMS) and the download from the release site
# (TLSAUDIT_KUBE_RELEASE_URL, TLSAUDIT_ETCD_RELEASE_URL; file:// works too) succeeds with that sum; a
# file without a pinned sum is never downloaded, and a failed or mismatching download falls back to
# the source build.
#
# Usage: scripts/toolchain.sh [all|kube|etcd|helm|promtool|crds|node|kube-node|containerd|prometheus]...
#                                                                (default: all)
#        scripts/toolchain.sh path NAME                          (print a cached binary's path)
#   NAME crds-gateway-api or crds-cert-manager prints the directory of that project's CRD YAML files.
set -euo pipefail

KUBERNETES_VERSION=v1.37.2   # matches k8s-openapi's newest feature (v1_37)
ETCD_VERSION=v3.6.16         # a release line Kubernetes 1.37 supports
HELM_VERSION=v3.22.0
PROMETHEUS_VERSION=v0.316.0  # Go module version of Prometheus 3.16.0 (promtool)
PROMETHEUS_RELEASE=3.16.0    # the same release, as `promtool --version` should print it
CONTAINERD_VERSION=v2.2.9    # containerd 2.x: kubelet 1.36+ no longer supports containerd 1.x (Debian 12 has 1.6)
GATEWAY_API_VERSION=v1.7.0   # newest Gateway API (2026-10-29): TLSRoute v1, ListenerSet v1, BackendTLSPolicy v1
# SHA-256 of the proxy's module zip: its go.mod says `go 1.27.0`, so `go mod download` (Go 1.26) refuses
# it and the zip is fetched from the proxy directly and checked against this pin instead.
GATEWAY_API_ZIP_SHA256=f9041f93ad3b2572089afa858ceac74e0545e7769490ae774039ed0f841f3d6d
CERT_MANAGER_VERSION=v1.21.2 # newest cert-manager (2026-09-10); `go mod download` checks it against sum.golang.org

CACHE=${TLSAUDIT_CACHE:-$HOME/.cache/tlsaudit}
TOOLS=$CACHE/tools
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN_OVERRIDE:-local}
export GOPROXY=${GOPROXY:-https://proxy.golang.org}

RELEASE_SUMS=${TLSAUDIT_RELEASE_SUMS:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/release-sums.txt}
KUBE_RELEASE_URL=${TLSAUDIT_KUBE_RELEASE_URL:-https://dl.k8s.io/release}
ETCD_RELEASE_URL=${TLSAUDIT_ETCD_RELEASE_URL:-https://github.com/etcd-io/etcd/releases/download}

die() { echo "toolchain: FAILED: $*" >&2; exit 1; }
log() { echo "toolchain: $*" >&2; }

tool_dir() {
  case $1 in
    kube-apiserver|kubectl) echo "$TOOLS/kubernetes-$KUBERNETES_VERSION" ;;
    etcd) echo "$TOOLS/etcd-$ETCD_VERSION" ;;
    helm) echo "$TOOLS/helm-$HELM_VERSION" ;;
    promtool) echo "$TOOLS/prometheus-$PROMETHEUS_VERSION" ;;
    kubelet|kube-controller-manager|kube-scheduler|kube-proxy) echo "$TOOLS/kubernetes-node-$KUBERNETES_VERSION" ;;
    containerd|containerd-shim-runc-v2|ctr) echo "$TOOLS/containerd-$CONTAINERD_VERSION" ;;
    prometheus) echo "$TOOLS/prometheus-server-$PROMETHEUS_VERSION" ;;
    crds-gateway-api) echo "$TOOLS/crds-gateway-api-$GATEWAY_API_VERSION" ;;
    crds-cert-manager) echo "$TOOLS/crds-cert-manager-$CERT_MANAGER_VERSION" ;;
    *) die "unknown tool $1" ;;
  esac
}
tool_path() {
  case $1 in
    crds-*) tool_dir "$1" ;;
    *) echo "$(tool_dir "$1")/bin/$1" ;;
  esac
}

# go.mod of a published module version, from the module cache (downloaded through the proxy).
module_gomod() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

# Writes a throwaway module in $dir that requires $module@$version and replaces every module that the
# upstream go.mod points at a local directory (staging/, ../api) with its published $replace_version.
make_module() {
  local dir=$1 module=$2 version=$3 replace_version=$4 gomod
  gomod=$(module_gomod "$module@$version") || die "download $module@$version through $GOPROXY"
  [ -s "$gomod" ] || die "no go.mod for $module@$version"
  mkdir -p "$dir/src"
  {
    echo "module tlsaudit.local/toolbuild"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod" | head -n 1
    echo
    echo "require $module $version"
    echo
    # Local replaces (=> ./x or ../x) become the published module at $replace_version;
    # FORBIDDEN_DEPENDENCY markers are guards of upstream's own tree and are dropped.
    awk -v rv="$replace_version" '
      /^replace \(/ { inblock = 1; next }
      inblock && /^\)/ { inblock = 0; next }
      { line = $0; sub(/^replace[ \t]+/, "", line) }
      (inblock || /^replace /) && line ~ /=>/ {
        split(line, parts, /[ \t]*=>[ \t]*/); gsub(/^[ \t]+/, "", parts[1])
        if (parts[2] ~ /FORBIDDEN/) next
        if (parts[2] ~ /^\.\.?\//) print "replace " parts[1] " => " parts[1] " " rv
        else print "replace " parts[1] " => " parts[2]
      }' "$gomod"
  } >"$dir/src/go.mod"
}

# --- official release binaries ------------------------------------------------------------------------

# The pinned SHA-256 of a release file, by its key (e.g. kubernetes/v1.37.2/linux/amd64/kubectl).
pinned_sum() { awk -v key="$1" '$1 == key { print $2; exit }' "$RELEASE_SUMS" 2>/dev/null; }

# fetch_release URL OUT SHA256: downloads URL to OUT when its SHA-256 is the pinned one.
fetch_release() {
  local url=$1 out=$2 sum=$3 got
  command -v curl >/dev/null || { log "curl is missing: no release download"; return 1; }
  if ! curl -fsSL --max-time 600 -o "$out.part" "$url" 2>/dev/null; then
    log "release download failed: $url"; rm -f "$out.part"; return 1
  fi
  got=$(sha256sum "$out.part" | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    log "SHA-256 mismatch for $url (got $got, pinned $sum): not used"; rm -f "$out.part"; return 1
  fi
  mv "$out.part" "$out"
}

# release_kube DIR NAME...: the official binaries of KUBERNETES_VERSION into DIR/bin, all or none.
release_kube() {
  local dir=$1 name sum; shift
  for name in "$@"; do
    [ -n "$(pinned_sum "kubernetes/$KUBERNETES_VERSION/linux/amd64/$name")" ] || return 1
  done
  rm -rf "${dir:?}/bin.tmp" && mkdir -p "$dir/bin.tmp"
  for name in "$@"; do
    sum=$(pinned_sum "kubernetes/$KUBERNETES_VERSION/linux/amd64/$name")
    if ! fetch_release "$KUBE_RELEASE_URL/$KUBERNETES_VERSION/bin/linux/amd64/$name" "$dir/bin.tmp/$name" "$sum"; then
      rm -rf "$dir/bin.tmp"; log "building $* from source instead"; return 1
    fi
    chmod 755 "$dir/bin.tmp/$name"
  done
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin"
  log "installed $* $KUBERNETES_VERSION from the official release (SHA-256 checked)"
}

# release_etcd DIR: etcd from its official release archive.
release_etcd() {
  local dir=$1 file="etcd-$ETCD_VERSION-linux-amd64.tar.gz" sum
  sum=$(pinned_sum "etcd/$ETCD_VERSION/$file")
  [ -n "$sum" ] || return 1
  rm -rf "${dir:?}/bin.tmp" && mkdir -p "$dir/bin.tmp"
  if ! fetch_release "$ETCD_RELEASE_URL/$ETCD_VERSION/$file" "$dir/bin.tmp/$file" "$sum" \
    || ! tar -xzf "$dir/bin.tmp/$file" -C "$dir/bin.tmp" --strip-components 1 "etcd-$ETCD_VERSION-linux-amd64/etcd"; then
    rm -rf "$dir/bin.tmp"; log "building etcd from source instead"; return 1
  fi
  rm -f "$dir/bin.tmp/$file"
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin"
  log "installed etcd $ETCD_VERSION from the official release (SHA-256 checked)"
}

# --- source builds --------------------------------------------------------------------------------------

# build NAME DIR MODULE VERSION REPLACE_VERSION LDFLAGS PKG...
build() {
  local name=$1 dir=$2 module=$3 version=$4 replace_version=$5 ldflags=$6; shift 6
  local start=$SECONDS pkg
  # For tests of the release path: a source build would take many minutes.
  [ -z "${TLSAUDIT_TOOLCHAIN_NO_BUILD:-}" ] || die "$name would be built from source (TLSAUDIT_TOOLCHAIN_NO_BUILD is set)"
  # Checked here, not up front: with every tool cached, Go is not needed at all.
  command -v go >/dev/null \
    || die "go is not installed: install Go 1.26 or newer from https://go.dev/dl (Debian's golang package is too old)"
  log "building $name ($module@$version) into $dir/bin"
  rm -rf "${dir:?}/src" "$dir/bin.tmp"
  make_module "$dir" "$module" "$version" "$replace_version"
  (cd "$dir/src" && go get "$@" >"$dir/go-get.log" 2>&1) || { tail -n 30 "$dir/go-get.log" >&2; die "go get $* (see $dir/go-get.log)"; }
  mkdir -p "$dir/bin.tmp"
  for pkg in "$@"; do
    (cd "$dir/src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/bin.tmp/" "${pkg%@*}") \
      || die "go build ${pkg%@*}"
  done
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin"
  log "built $name in $((SECONDS - start)) s"
}

# Stamp the version so that kubectl and clients see v1.37.x, not v0.0.0-master.
kube_ldflags() {
  local v=$KUBERNETES_VERSION minor ld="" p; minor=$(echo "$v" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$ld"
}

build_kube() {
  local dir; dir=$(tool_dir kube-apiserver)
  [ -x "$dir/bin/kube-apiserver" ] && [ -x "$dir/bin/kubectl" ] && return 0
  release_kube "$dir" kube-apiserver kubectl && return 0
  local v=$KUBERNETES_VERSION
  build kubernetes "$dir" k8s.io/kubernetes "$v" "v0.${v#v1.}" "$(kube_ldflags)" \
    "k8s.io/kubernetes/cmd/kube-apiserver@$v" "k8s.io/kubernetes/cmd/kubectl@$v"
}

# The node's components, from the same module version, in a directory of their own.
build_kube_node() {
  local dir name missing=0; dir=$(tool_dir kubelet)
  for name in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    [ -x "$dir/bin/$name" ] || missing=1
  done
  [ $missing = 1 ] || return 0
  release_kube "$dir" kubelet kube-controller-manager kube-scheduler kube-proxy && return 0
  local v=$KUBERNETES_VERSION
  build kubernetes-node "$dir" k8s.io/kubernetes "$v" "v0.${v#v1.}" "$(kube_ldflags)" \
    "k8s.io/kubernetes/cmd/kubelet@$v" "k8s.io/kubernetes/cmd/kube-controller-manager@$v" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$v" "k8s.io/kubernetes/cmd/kube-proxy@$v"
}

# containerd without the cgo-only snapshotters (btrfs, devmapper, zfs): overlayfs and native remain.
build_containerd() {
  local dir name missing=0 m=github.com/containerd/containerd/v2; dir=$(tool_dir containerd)
  for name in containerd containerd-shim-runc-v2 ctr; do [ -x "$dir/bin/$name" ] || missing=1; done
  [ $missing = 1 ] || return 0
  GOFLAGS="$GOFLAGS -tags=no_btrfs,no_devmapper,no_zfs" \
    build containerd "$dir" "$m" "$CONTAINERD_VERSION" "$CONTAINERD_VERSION" \
    "-X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Package=$m" \
    "$m/cmd/containerd@$CONTAINERD_VERSION" "$m/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "$m/cmd/ctr@$CONTAINERD_VERSION"
}

# The Prometheus server, API only: without the builtinassets tag it embeds no web UI.
build_prometheus() {
  local dir; dir=$(tool_dir prometheus)
  [ -x "$dir/bin/prometheus" ] && return 0
  build prometheus "$dir" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_VERSION" \
    "-X github.com/prometheus/common/version.Version=$PROMETHEUS_RELEASE" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"
}

build_etcd() {
  local dir; dir=$(tool_dir etcd)
  [ -x "$dir/bin/etcd" ] && return 0
  release_etcd "$dir" && return 0
  build etcd "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" "" "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  mv "$dir/bin/v3" "$dir/bin/etcd" 2>/dev/null || true
  [ -x "$dir/bin/etcd" ] || { mv "$dir/bin/server" "$dir/bin/etcd" 2>/dev/null || die "etcd binary not produced"; }
}

build_helm() {
  local dir; dir=$(tool_dir helm)
  [ -x "$dir/bin/helm" ] && return 0
  build helm "$dir" helm.sh/helm/v3 "$HELM_VERSION" "$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

build_promtool() {
  local dir; dir=$(tool_dir promtool)
  [ -x "$dir/bin/promtool" ] && return 0
  build promtool "$dir" github.com/prometheus/prometheus "$PROMETHEUS_VERSION" "$PROMETHEUS_VERSION" \
    "-X github.com/prometheus/common/version.Version=$PROMETHEUS_RELEASE" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
}

# --- upstream CRD manifests ---------------------------------------------------------------------------

# The Gateway API's standard-channel CRDs (one YAML file per kind), from the pinned module zip.
fetch_gateway_crds() {
  local dir; dir=$(tool_dir crds-gateway-api)
  [ -s "$dir/gateway.networking.k8s.io_gateways.yaml" ] && return 0
  command -v curl >/dev/null || die "curl is missing: needed for the Gateway API CRDs"
  command -v unzip >/dev/null || die "unzip is missing: needed for the Gateway API CRDs (apt-get install unzip)"
  local proxy=${GOPROXY%%,*} m=sigs.k8s.io/gateway-api v=$GATEWAY_API_VERSION tmp got
  tmp=$(mktemp -d)
  log "fetching the Gateway API $v CRDs from $proxy"
  curl -fsSL --max-time 300 -o "$tmp/m.zip" "$proxy/$m/@v/$v.zip" || { rm -rf "$tmp"; die "download $m@$v from $proxy"; }
  got=$(sha256sum "$tmp/m.zip" | cut -d' ' -f1)
  [ "$got" = "$GATEWAY_API_ZIP_SHA256" ] || { rm -rf "$tmp"; die "SHA-256 of $m@$v is $got, pinned $GATEWAY_API_ZIP_SHA256"; }
  unzip -q "$tmp/m.zip" "$m@$v/config/crd/standard/*.yaml" -d "$tmp" || { rm -rf "$tmp"; die "unzip $m@$v"; }
  rm -rf "${dir:?}" && mkdir -p "$dir"
  # The ValidatingAdmissionPolicy file guards upgrades of the CRDs themselves, not a CRD: left out.
  find "$tmp/$m@$v/config/crd/standard" -name 'gateway.networking.k8s.io_*.yaml' ! -name '*vap*' -exec cp {} "$dir/" \;
  rm -rf "$tmp"
  [ -s "$dir/gateway.networking.k8s.io_gateways.yaml" ] || die "no Gateway CRD in $m@$v"
}

# cert-manager's CRDs (Certificate, Issuer, ClusterIssuer, CertificateRequest), from its module.
fetch_cert_manager_crds() {
  local dir; dir=$(tool_dir crds-cert-manager)
  [ -s "$dir/cert-manager.io_certificates.yaml" ] && return 0
  command -v go >/dev/null || die "go is not installed: needed to fetch the cert-manager CRDs"
  local m=github.com/cert-manager/cert-manager v=$CERT_MANAGER_VERSION src
  log "fetching the cert-manager $v CRDs through $GOPROXY"
  src=$(go mod download -json "$m@$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || die "download $m@$v"
  [ -s "$src/deploy/crds/cert-manager.io_certificates.yaml" ] || die "no Certificate CRD in $m@$v"
  rm -rf "${dir:?}" && mkdir -p "$dir"
  cp "$src"/deploy/crds/cert-manager.io_*.yaml "$dir/"
  chmod 644 "$dir"/*.yaml
}

main() {
  if [ "${1:-}" = path ]; then tool_path "${2:?tool name}"; return; fi
  # Two builds writing the same src/ and bin.tmp/ would corrupt each other: the second one waits.
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.lock"
  if ! flock -n 9; then
    log "waiting for another toolchain.sh run to finish (lock $TOOLS/.lock)"
    flock 9 || die "could not lock $TOOLS/.lock"
  fi
  local start=$SECONDS what
  [ $# -gt 0 ] || set -- all
  for what in "$@"; do
    case $what in
      all) build_etcd; build_kube; build_helm; build_promtool; fetch_gateway_crds; fetch_cert_manager_crds ;;
      crds) fetch_gateway_crds; fetch_cert_manager_crds ;;
      kube) build_kube ;;
      etcd) build_etcd ;;
      helm) build_helm ;;
      promtool) build_promtool ;;
      node) build_kube_node; build_containerd; build_prometheus ;;
      kube-node) build_kube_node ;;
      containerd) build_containerd ;;
      prometheus) build_prometheus ;;
      *) die "unknown target $what (all|kube|etcd|helm|promtool|crds|node|kube-node|containerd|prometheus|path NAME)" ;;
    esac
  done
  log "tools ready under $TOOLS ($((SECONDS - start)) s)"
}

main "$@"
