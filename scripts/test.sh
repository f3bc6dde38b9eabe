#!/usr/bin/env bash
# The project's test command (README, CI): everything that must pass, in order, on a fresh Debian
# machine or a developer's checkout.
#
#   1. installs the Debian packages the tests use when missing (apt-get; TEST_PACKAGES below)
#   2. builds the pinned upstream tools when missing (scripts/toolchain.sh; the first run takes long)
#   3. cargo fmt --check, cargo clippy -D warnings, cargo doc --no-deps with RUSTDOCFLAGS=-D warnings
#   4. starts the test control plane (scripts/control-plane.sh) and exports its KUBECONFIG
#   5. cargo test --all-targets, cargo test --doc
#   6. every executable scripts/test-*.sh (for example scripts/test-chart.sh), with KUBECONFIG set
#   7. stops the control plane again, also on failure (unless it was already running before)
#
# Usage: scripts/test.sh [--existing-cluster]
#   --existing-cluster  use the cluster of the caller's KUBECONFIG instead of starting a control plane
# Environment: RUST_TEST_THREADS and CARGO_BUILD_JOBS default to the number of CPUs (nproc).
#
# Exits non-zero when any step fails; prints each step's duration and the step that failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

# Debian packages the tests need. Extend this list when a test needs a new tool. Packages that
# start a service on install (nginx, haproxy, ...) are fine: services are kept from starting.
TEST_PACKAGES="openssl gnutls-bin socat iproute2 curl unzip python3-yaml postgresql nginx-light"

EXISTING_CLUSTER=0
for arg in "$@"; do
  case $arg in
    --existing-cluster) EXISTING_CLUSTER=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

# Two CPUs must not run twenty test threads that each expect a timely handshake: cap by nproc,
# which honours the CPU affinity and quota this process really has.
CPUS=$(nproc 2>/dev/null || echo 2)
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-$CPUS}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-$CPUS}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

SUMMARY=()
FAILED_STEP=""
STARTED_CONTROL_PLANE=0
T0=$SECONDS

log() { echo "test.sh: $*" >&2; }

# step NAME CMD...: runs one step, records its duration, and stops the run at the first failure.
step() {
  local name=$1 start=$SECONDS rc; shift
  log "=== $name"
  "$@"; rc=$?
  SUMMARY+=("$(printf '%-7s %5d s  %s' "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - start)) "$name")")
  if [ $rc -ne 0 ]; then
    FAILED_STEP=$name
    exit 1
  fi
}

finish() {
  local rc=$?
  if [ $STARTED_CONTROL_PLANE -eq 1 ]; then
    log "=== stopping the control plane"
    bash scripts/control-plane.sh stop || rc=1
  fi
  echo >&2
  log "summary (RUST_TEST_THREADS=$RUST_TEST_THREADS, CARGO_BUILD_JOBS=$CARGO_BUILD_JOBS):"
  local line
  for line in "${SUMMARY[@]}"; do echo "  $line" >&2; done
  echo "  total   $((SECONDS - T0)) s" >&2
  if [ -n "$FAILED_STEP" ]; then
    log "FAILED at step: $FAILED_STEP"
  elif [ $rc -ne 0 ]; then
    log "FAILED (exit $rc)"
  else
    log "all steps passed"
  fi
  exit $rc
}
trap finish EXIT
trap 'FAILED_STEP=${FAILED_STEP:-interrupted}; exit 130' INT TERM

# --- steps --------------------------------------------------------------------------------------------

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root to run: $*"; return 1
  fi
}

packages() {
  local pkg missing=""
  if ! command -v dpkg-query >/dev/null; then
    log "not a Debian system: install the equivalents of: $TEST_PACKAGES"
    for pkg in openssl gnutls-cli socat ss curl; do
      command -v "$pkg" >/dev/null || { log "missing command $pkg"; return 1; }
    done
    return 0
  fi
  for pkg in $TEST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  [ -n "$missing" ] || { log "packages present: $TEST_PACKAGES"; return 0; }
  log "installing:$missing"
  # policy-rc.d exit 101 = "do not start services": a package's postinst must not start a daemon
  # (nginx, haproxy) that would hold ports the tests use. Removed again if we created it.
  local policy=/usr/sbin/policy-rc.d created=0 rc=0
  if [ ! -e $policy ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy" || return 1
    created=1
  fi
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
    || rc=1
  [ $created -eq 0 ] || as_root rm -f $policy
  return $rc
}

# tests/engine_checks.rs builds its post-quantum test peer (tests/support/go/pq_server.go) with the
# machine's Go: 1.26+ (crypto/tls has X25519MLKEM768, SecP256r1MLKEM768 and SecP384r1MLKEM1024 on).
go_toolchain() {
  command -v go >/dev/null || { log "go is missing: install Go 1.26+ from https://go.dev/dl (tests build a Go test peer)"; return 1; }
  local version; version=$(GOTOOLCHAIN=local go env GOVERSION) || return 1
  case $version in
    go1.2[6-9]*|go1.[3-9][0-9]*) log "go: $version" ;;
    *) log "go $version is too old: the post-quantum test peer needs Go 1.26+"; return 1 ;;
  esac
}

rust_toolchain() {
  command -v cargo >/dev/null || { log "cargo is missing: install Rust with rustup (https://rustup.rs)"; return 1; }
  cargo fmt --version >/dev/null 2>&1 || { log "rustfmt is missing: rustup component add rustfmt"; return 1; }
  cargo clippy --version >/dev/null 2>&1 || { log "clippy is missing: rustup component add clippy"; return 1; }
}

control_plane() {
  if [ $EXISTING_CLUSTER -eq 1 ]; then
    [ -n "${KUBECONFIG:-}" ] || { log "--existing-cluster needs KUBECONFIG to name the cluster's kubeconfig"; return 1; }
    local kubectl; kubectl=$(bash scripts/toolchain.sh path kubectl)
    log "using the existing cluster of KUBECONFIG=$KUBECONFIG"
    "$kubectl" get --raw /readyz --request-timeout=10s >/dev/null \
      || { log "the cluster of KUBECONFIG=$KUBECONFIG is not ready"; return 1; }
    return 0
  fi
  if bash scripts/control-plane.sh status >/dev/null 2>&1; then
    log "a control plane is already running for this checkout: using it and leaving it running"
  else
    STARTED_CONTROL_PLANE=1
    bash scripts/control-plane.sh start || return 1
  fi
  local env; env=$(bash scripts/control-plane.sh env) || return 1
  eval "$env"
  log "KUBECONFIG=$KUBECONFIG"
}

# Executable scripts/test-*.sh run as extra steps; a non-executable one is an error, not a skip.
extra_scripts() {
  local script
  for script in scripts/test-*.sh; do
    [ -e "$script" ] || continue
    if [ -x "$script" ]; then
      step "$script" "./$script"
    else
      step "$script (not executable: chmod +x $script)" false
    fi
  done
}

step "packages" packages
step "rust toolchain" rust_toolchain
step "go toolchain" go_toolchain
step "upstream tools (scripts/toolchain.sh)" bash scripts/toolchain.sh
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
step "control plane" control_plane
# The e2e tests record every metric name the running operator exported here; scripts/test-chart.sh
# checks the alerts' and the dashboard's names against it.
export TLSAUDIT_METRICS_SCRAPE=$ROOT/target/tmp/exported-metrics.txt
rm -f "$TLSAUDIT_METRICS_SCRAPE"
step "cargo test --all-targets" cargo test --all-targets --no-fail-fast
step "cargo test --doc" cargo test --doc
extra_scripts
