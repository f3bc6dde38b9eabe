#!/usr/bin/env bash
# Assembles the container images of the one-node test cluster (scripts/node.sh) as OCI image archives,
# without a registry or a container build tool: each is a hand-written OCI image layout (index.json,
# manifest, config, one uncompressed layer) packed into a tar that `ctr images import` reads.
#
#   pause       tlsaudit.local/pause:3.10      a static pause(2) loop, the Pod sandbox (containerd's
#                                              sandbox image), compiled here with musl-gcc
#   tlsaudit    tlsaudit.local/tlsaudit:dev    what the Dockerfile builds: the static musl release binary
#                                              /tlsaudit, user 65532:65532, entrypoint ["/tlsaudit"]
#   tls-server  tlsaudit.local/tls-server:dev  the openssl CLI with its shared libraries (from Debian's
#                                              openssl package), for test workloads: `s_server` serves
#                                              TLS 1.2/1.3, TLS 1.0 only, or requires client certificates
#
# The user and the entrypoint of the tlsaudit image are read from the Dockerfile, and the build fails
# when the Dockerfile builds another binary or the binary is not static: the two images agree.
#
# Usage: scripts/image.sh build OUT_DIR      writes OUT_DIR/{pause,tlsaudit,tls-server}.tar and
#                                            OUT_DIR/images (one "NAME REF ARCHIVE" line each)
#        scripts/image.sh name IMAGE         prints the reference of pause, tlsaudit or tls-server
# Needs: cargo with the x86_64-unknown-linux-musl target, musl-gcc (Debian: musl-tools), python3, openssl.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MUSL_TARGET=x86_64-unknown-linux-musl
REGISTRY=tlsaudit.local

die() { echo "image: FAILED: $*" >&2; exit 1; }
log() { echo "image: $*" >&2; }

ref() {
  case $1 in
    pause) echo "$REGISTRY/pause:3.10" ;;
    tlsaudit) echo "$REGISTRY/tlsaudit:dev" ;;
    tls-server) echo "$REGISTRY/tls-server:dev" ;;
    *) die "unknown image $1 (pause|tlsaudit|tls-server)" ;;
  esac
}

# oci_archive OUT.tar REF ROOTFS_DIR CONFIG_JSON: one layer holding ROOTFS_DIR (owner root, fixed
# mtime, so that the same files give the same digests), the image config CONFIG_JSON (its "config"
# object), and an index whose manifest carries the image name for `ctr images import`.
oci_archive() {
  python3 - "$@" <<'PY'
import hashlib, io, json, os, sys, tarfile

out, ref, rootfs, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])

def add_tree(tar, top):
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, name)
            info = tar.gettarinfo(path, os.path.relpath(path, top))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)

layer_buf = io.BytesIO()
with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    add_tree(t, rootfs)
layer = layer_buf.getvalue()
layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
image_config = json.dumps({
    "architecture": "amd64",
    "os": "linux",
    "config": config,
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    "history": [{"created_by": "scripts/image.sh"}],
}, sort_keys=True).encode()
config_digest = "sha256:" + hashlib.sha256(image_config).hexdigest()
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(image_config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
}, sort_keys=True).encode()
manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
index = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": len(manifest),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]},
    }],
}, sort_keys=True).encode()

def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))

with tarfile.open(out + ".tmp", mode="w", format=tarfile.PAX_FORMAT) as t:
    add_bytes(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add_bytes(t, "index.json", index)
    for digest, data in ((layer_digest, layer), (config_digest, image_config), (manifest_digest, manifest)):
        add_bytes(t, "blobs/sha256/" + digest.split(":")[1], data)
os.replace(out + ".tmp", out)
print(manifest_digest)
PY
}

# The static pause binary: sleeps in pause(2) until SIGINT or SIGTERM, reaps orphaned children.
build_pause() {
  local work=$1
  command -v musl-gcc >/dev/null || die "musl-gcc is not installed (Debian: apt-get install musl-tools)"
  mkdir -p "$work/pause-root"
  cat >"$work/pause.c" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }
static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

int main(void) {
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGINT, &stop, NULL) || sigaction(SIGTERM, &stop, NULL) || sigaction(SIGCHLD, &child, NULL))
    return 1;
  for (;;) pause();
}
C
  musl-gcc -static -Os -s -o "$work/pause-root/pause" "$work/pause.c" || die "musl-gcc pause.c"
  oci_archive "$OUT/pause.tar" "$(ref pause)" "$work/pause-root" \
    '{"Entrypoint":["/pause"],"User":"65535:65535"}' >/dev/null
}

# USER and ENTRYPOINT of the Dockerfile's final stage, and a check that it builds `--bin tlsaudit`
# in release mode and copies it to the entrypoint's path.
dockerfile_user() { sed -n 's/^USER[[:space:]]\{1,\}\([0-9:]*\)[[:space:]]*$/\1/p' "$ROOT/Dockerfile" | tail -n 1; }
dockerfile_entrypoint() { sed -n 's/^ENTRYPOINT[[:space:]]\{1,\}\(\[.*\]\)[[:space:]]*$/\1/p' "$ROOT/Dockerfile" | tail -n 1; }

build_tlsaudit() {
  local work=$1 user entrypoint binary target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
  user=$(dockerfile_user); entrypoint=$(dockerfile_entrypoint)
  [ "$user" = 65532:65532 ] || die "the Dockerfile's USER is '$user', expected 65532:65532 (the chart's runAsUser)"
  [ "$entrypoint" = '["/tlsaudit"]' ] || die "the Dockerfile's ENTRYPOINT is '$entrypoint', expected [\"/tlsaudit\"]"
  grep -q -- 'cargo build --release --locked --bin tlsaudit' "$ROOT/Dockerfile" \
    || die "the Dockerfile no longer runs 'cargo build --release --locked --bin tlsaudit'"
  grep -q '^COPY --from=build /tlsaudit /tlsaudit$' "$ROOT/Dockerfile" \
    || die "the Dockerfile no longer copies the binary to /tlsaudit"
  rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET" \
    || die "the Rust target $MUSL_TARGET is missing (rustup target add $MUSL_TARGET)"
  command -v musl-gcc >/dev/null || die "musl-gcc is not installed (Debian: apt-get install musl-tools); ring needs it"
  log "cargo build --release --locked --target $MUSL_TARGET --bin tlsaudit"
  (cd "$ROOT" && cargo build --quiet --release --locked \
    --target "$MUSL_TARGET" --bin tlsaudit) || die "cargo build for $MUSL_TARGET"
  binary=$target_dir/$MUSL_TARGET/release/tlsaudit
  # The Dockerfile's image has no libc: the binary must be static, and start (its `RUN --help` check).
  if ldd "$binary" >/dev/null 2>&1 && ! ldd "$binary" 2>&1 | grep -q 'statically linked'; then
    die "$binary is dynamically linked: $(ldd "$binary" 2>&1 | head -n 3)"
  fi
  "$binary" --help >/dev/null || die "$binary --help failed"
  mkdir -p "$work/tlsaudit-root/etc"
  cp "$binary" "$work/tlsaudit-root/tlsaudit"
  # distroless' nonroot user, so that tools that look the uid up find a name.
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$work/tlsaudit-root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/tlsaudit-root/etc/group"
  oci_archive "$OUT/tlsaudit.tar" "$(ref tlsaudit)" "$work/tlsaudit-root" \
    "{\"Entrypoint\":$entrypoint,\"User\":\"$user\",\"Env\":[\"PATH=/\"]}" >/dev/null
}

# openssl and the shared libraries ldd names, at their paths, plus the dynamic loader.
build_tls_server() {
  local work=$1 openssl lib
  openssl=$(command -v openssl) || die "openssl is not installed (Debian: apt-get install openssl)"
  openssl=$(readlink -f "$openssl")
  mkdir -p "$work/tls-server-root/usr/bin" "$work/tls-server-root/tmp"
  chmod 1777 "$work/tls-server-root/tmp"
  cp "$openssl" "$work/tls-server-root/usr/bin/openssl"
  for lib in $(ldd "$openssl" | grep -o '/[^ ]*'); do
    mkdir -p "$work/tls-server-root$(dirname "$lib")"
    cp -L "$lib" "$work/tls-server-root$lib"
  done
  oci_archive "$OUT/tls-server.tar" "$(ref tls-server)" "$work/tls-server-root" \
    '{"Entrypoint":["/usr/bin/openssl"],"User":"65532:65532","Env":["PATH=/usr/bin"]}' >/dev/null
}

build_all() {
  OUT=$1
  mkdir -p "$OUT"
  local work; work=$(mktemp -d "${TMPDIR:-/tmp}/tlsaudit-image.XXXXXX")
  # shellcheck disable=SC2064 # expand now: work is local
  trap "rm -rf '$work'" EXIT
  local t0=$SECONDS
  build_pause "$work"
  build_tls_server "$work"
  build_tlsaudit "$work"
  {
    echo "pause $(ref pause) $OUT/pause.tar"
    echo "tlsaudit $(ref tlsaudit) $OUT/tlsaudit.tar"
    echo "tls-server $(ref tls-server) $OUT/tls-server.tar"
  } >"$OUT/images"
  log "images in $OUT ($((SECONDS - t0)) s)"
}

case ${1:-} in
  build) build_all "${2:?usage: $0 build OUT_DIR}" ;;
  name) ref "${2:?usage: $0 name IMAGE}" ;;
  *) echo "usage: $0 build OUT_DIR | name IMAGE" >&2; exit 2 ;;
esac
