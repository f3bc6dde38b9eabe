#!/usr/bin/env bash
# The operator at scale (design §7, issue 13), measured against the real test control plane: for
# each SIZE (NAMESPACESxSERVICES, 5 ready endpoints per Service, one TlsAudit per namespace
# selecting every Service with perEndpoint: true) it starts a fresh control plane, creates the
# objects (benches/scale_bench/, `setup`), runs the operator in-process (`run`), and stops the
# control plane again, which discards every object.
#
# Probes: by default fake ones that wait PROBE_DELAY_MS and return a healthy TLS 1.2/1.3 result (the
# light probe likewise, alike for every replica); no address is ever dialled. With --real the
# engine's own probes run: the script enters a private network namespace (unshare --net; as root),
# puts 198.18.0.1/15 on its `lo` (the kernel makes the whole /15 local, so every EndpointSlice
# address answers), starts one rustls server process on 0.0.0.0:8443 there
# (examples/scale_servers.rs, Mozilla-intermediate-like: TLS 1.2/1.3, ECDHE AEAD, h2, HSTS) and runs
# the control plane and the bench inside it. No probe traffic leaves that namespace.
#
# Usage: benches/controller-scale.sh [--real] [SIZE...] [-- OPERATOR FLAGS]
#        benches/controller-scale.sh 10x100 100x100            (the default: 5,000 and 50,000 endpoints)
#        benches/controller-scale.sh 10x100 -- --status-max-endpoints 500
#        benches/controller-scale.sh --real 10x100 -- --full-probe-every 1   (every probe full)
# Environment: PROBE_DELAY_MS (20), SETUP_PARALLEL (32), OUT (target/bench-controller-scale),
#              SERVER_THREADS (2, --real only), BENCH_TARGET (the host's; x86_64-unknown-linux-musl
#              measures the operator with the image's libc and allocator: needs musl-tools and
#              `rustup target add x86_64-unknown-linux-musl`), BENCH_WRAPPER (a command the run
#              phase runs under, e.g. `heaptrack -o target/heap` to attribute its memory).
# Output: $OUT/setup-SIZE.json and $OUT/run-SIZE.json (numbers; the top level starts with the
# numbers of issue 13's contract, null where not measured), $OUT/run-SIZE.log (progress).
#
# The bench binary is built with the dev profile and CARGO_PROFILE_DEV_OPT_LEVEL=3: the crate itself
# optimised, its dependencies at the dev profile's opt-level 1 (the release profile would rebuild
# every dependency). CPU figures are therefore upper bounds for a release build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/target/bench-controller-scale}
DELAY=${PROBE_DELAY_MS:-20}
PARALLEL=${SETUP_PARALLEL:-32}
ARGS=("$@")

REAL=0
if [ "${1:-}" = --real ]; then REAL=1; shift; fi
sizes=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do sizes+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#sizes[@]} -gt 0 ] || sizes=(10x100 100x100)
for size in "${sizes[@]}"; do
  [[ $size =~ ^[0-9]+x[0-9]+$ ]] || { echo "controller-scale: SIZE must be NAMESPACESxSERVICES, not $size" >&2; exit 2; }
done

cd "$ROOT"
mkdir -p "$OUT"
# A bench or example binary has a hashed or target-dir path: take it from cargo's build messages.
built() { # TARGET-NAME CARGO-ARGS...
  local name=$1; shift
  CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --quiet "$@" --message-format=json-render-diagnostics \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$name"
}
if [ -z "${TLSAUDIT_SCALE_INSIDE:-}" ]; then
  echo "controller-scale: building benches/scale_bench/" >&2
  BIN=$(built scale_bench --bench scale_bench ${BENCH_TARGET:+--target "$BENCH_TARGET"})
  [ -x "$BIN" ] || { echo "controller-scale: cargo built no scale_bench binary" >&2; exit 1; }
  if [ "$REAL" = 1 ]; then
    SERVERS=$(built scale_servers --example scale_servers)
    [ -x "$SERVERS" ] || { echo "controller-scale: cargo built no scale_servers binary" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "controller-scale: --real needs root (unshare --net)" >&2; exit 1; }
    export TLSAUDIT_SCALE_INSIDE=1 BIN SERVERS
    exec unshare --net -- bash "$0" "${ARGS[@]}"
  fi
fi

SERVER_PID=
stop_all() {
  scripts/control-plane.sh stop >/dev/null 2>&1 || true
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
}
if [ "$REAL" = 1 ]; then
  # Inside the private namespace: its loopback carries 198.18.0.0/15, and the servers listen on it.
  ip link set lo up
  ip addr add 198.18.0.1/15 dev lo
fi

trap stop_all EXIT

for size in "${sizes[@]}"; do
  namespaces=${size%x*} services=${size#*x}
  echo "controller-scale: $size: fresh control plane" >&2
  scripts/control-plane.sh stop >/dev/null 2>&1 || true
  scripts/control-plane.sh start
  eval "$(scripts/control-plane.sh env)"
  state=$(dirname "$KUBECONFIG")
  pids=(--pid "kube-apiserver=$(cat "$state/kube-apiserver.pid")" --pid "etcd=$(cat "$state/etcd.pid")")

  echo "controller-scale: $size: setup (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$BIN" setup --namespaces "$namespaces" --services "$services" --parallel "$PARALLEL" \
    | tee "$OUT/setup-$size.json"
  real=()
  if [ "$REAL" = 1 ]; then
    "$SERVERS" --listen 0.0.0.0:8443 --namespaces "$namespaces" --threads "${SERVER_THREADS:-2}" >"$OUT/servers.out" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q ready "$OUT/servers.out" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$OUT/servers.out" || { echo "controller-scale: the TLS servers did not start" >&2; exit 1; }
    real=(--real); pids+=(--pid "servers=$SERVER_PID")
    echo "controller-scale: $size: run (real probes)" >&2
  else
    echo "controller-scale: $size: run (probe delay $DELAY ms)" >&2
  fi
  ${BENCH_WRAPPER:-} "$BIN" run --namespaces "$namespaces" --services "$services" --probe-delay-ms "$DELAY" "${real[@]}" "${pids[@]}" \
    -- "$@" >"$OUT/run-$size.json" 2> >(tee "$OUT/run-$size.log" >&2)
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; fi
  echo "controller-scale: $size: results in $OUT/run-$size.json" >&2
  scripts/control-plane.sh stop
done
