#!/usr/bin/env bash
# The release-binary path of scripts/toolchain.sh, against a local file:// mirror (no network): pinned
# sums select the download, a mismatching or missing file or an unpinned one falls back to the source
# build. TLSAUDIT_TOOLCHAIN_NO_BUILD turns that fallback into a recognisable failure, so nothing is
# compiled here. Prints "toolchain: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLCHAIN=$ROOT/scripts/toolchain.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlsaudit-test-toolchain.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
failed() { FAILED=$((FAILED + 1)); echo "FAILED: $*"; }

K8S=$(sed -n 's/^KUBERNETES_VERSION=\([^ ]*\).*/\1/p' "$TOOLCHAIN")
ETCD=$(sed -n 's/^ETCD_VERSION=\([^ ]*\).*/\1/p' "$TOOLCHAIN")
[ -n "$K8S" ] && [ -n "$ETCD" ] || { echo "cannot read the pinned versions from $TOOLCHAIN"; exit 1; }

# A mirror laid out like the release sites, with stand-in executables that print their name.
MIRROR=$TMP/mirror
mkdir -p "$MIRROR/k8s/$K8S/bin/linux/amd64" "$MIRROR/etcd/$ETCD" "$TMP/etcd-$ETCD-linux-amd64"
for name in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy; do
  printf '#!/bin/sh\necho "release %s"\n' "$name" >"$MIRROR/k8s/$K8S/bin/linux/amd64/$name"
done
printf '#!/bin/sh\necho "release etcd"\n' >"$TMP/etcd-$ETCD-linux-amd64/etcd"
chmod 755 "$TMP/etcd-$ETCD-linux-amd64/etcd"
tar -czf "$MIRROR/etcd/$ETCD/etcd-$ETCD-linux-amd64.tar.gz" -C "$TMP" "etcd-$ETCD-linux-amd64"
sum() { sha256sum "$1" | cut -d' ' -f1; }
pin_all() {
  local name
  for name in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy; do
    echo "kubernetes/$K8S/linux/amd64/$name $(sum "$MIRROR/k8s/$K8S/bin/linux/amd64/$name")"
  done
  echo "etcd/$ETCD/etcd-$ETCD-linux-amd64.tar.gz $(sum "$MIRROR/etcd/$ETCD/etcd-$ETCD-linux-amd64.tar.gz")"
}

# run CASE SUMS_FILE TARGET...: toolchain.sh with an empty cache of its own and the mirror.
run() {
  local case=$1 sums=$2; shift 2
  rm -rf "$TMP/cache-$case"
  TLSAUDIT_CACHE=$TMP/cache-$case TLSAUDIT_RELEASE_SUMS=$sums TLSAUDIT_TOOLCHAIN_NO_BUILD=1 \
    TLSAUDIT_KUBE_RELEASE_URL=file://$MIRROR/k8s TLSAUDIT_ETCD_RELEASE_URL=file://$MIRROR/etcd \
    bash "$TOOLCHAIN" "$@" >"$TMP/$case.log" 2>&1
}
bin() { TLSAUDIT_CACHE=$TMP/cache-$1 bash "$TOOLCHAIN" path "$2"; }

# 1. Every file pinned and served: installed from the mirror, nothing built.
pin_all >"$TMP/sums-ok"
if run ok "$TMP/sums-ok" kube etcd kube-node; then pass "pinned and served: toolchain.sh succeeds without building"
else cat "$TMP/ok.log"; failed "pinned and served: toolchain.sh failed"; fi
for name in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy etcd; do
  if [ "$("$(bin ok "$name")" 2>/dev/null)" = "release $name" ]; then pass "$name is the mirror's file"
  else failed "$name is not the mirror's file"; fi
done
grep -q "from the official release (SHA-256 checked)" "$TMP/ok.log" && pass "it says where the binaries came from" \
  || failed "no 'from the official release' line"

# 2. One sum wrong: that download is refused and the tool falls back to the source build.
sed "s|^\(kubernetes/$K8S/linux/amd64/kubectl\) .*|\1 $(printf '0%.0s' $(seq 64))|" "$TMP/sums-ok" >"$TMP/sums-bad"
if run bad "$TMP/sums-bad" kube; then failed "a mismatching sum was accepted"
else
  grep -q "SHA-256 mismatch" "$TMP/bad.log" && grep -q "kubernetes would be built from source" "$TMP/bad.log" \
    && pass "a mismatching sum: the download is refused and the source build is chosen" \
    || { cat "$TMP/bad.log"; failed "a mismatching sum: unexpected output"; }
fi
[ ! -e "$(bin bad kube-apiserver)" ] && pass "nothing of the refused release is installed" \
  || failed "a binary of the refused release was installed"

# 3. Pinned but not served (the release site unreachable): falls back.
mv "$MIRROR/etcd/$ETCD" "$MIRROR/etcd/away"
if run gone "$TMP/sums-ok" etcd; then failed "an unreachable release was accepted"
else
  grep -q "release download failed" "$TMP/gone.log" && grep -q "etcd would be built from source" "$TMP/gone.log" \
    && pass "an unreachable release: the source build is chosen" \
    || { cat "$TMP/gone.log"; failed "an unreachable release: unexpected output"; }
fi
mv "$MIRROR/etcd/away" "$MIRROR/etcd/$ETCD"

# 4. Nothing pinned (the repository's state today): no download is even tried.
printf '# nothing pinned\n' >"$TMP/sums-none"
if run none "$TMP/sums-none" kube; then failed "without sums toolchain.sh did not build"
else
  ! grep -q "release download\|SHA-256" "$TMP/none.log" && grep -q "kubernetes would be built from source" "$TMP/none.log" \
    && pass "no pinned sum: no download is tried, the source build is chosen" \
    || { cat "$TMP/none.log"; failed "no pinned sum: unexpected output"; }
fi

# 5. The repository's sums file parses: comments only, or KEY SHA256 lines.
if awk '!/^#/ && NF && !($1 ~ /^(kubernetes|etcd)\// && $2 ~ /^[0-9a-f]{64}$/ && NF == 2) { bad = 1 } END { exit bad }' \
    "$ROOT/scripts/release-sums.txt"; then pass "scripts/release-sums.txt is well-formed"
else failed "scripts/release-sums.txt has a malformed line"; fi

echo "toolchain: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
