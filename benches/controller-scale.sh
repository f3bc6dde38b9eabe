#!/usr/bin/env bash
# The operator at scale (design §7), measured against the real test control plane: for each SIZE
# (NAMESPACESxSERVICES, 5 ready endpoints per Service, one TlsAudit per namespace selecting every
# Service with perEndpoint: true) it starts a fresh control plane, creates the objects
# (benches/scale_bench/, `setup`), runs the operator in-process with a fake probe that waits
# PROBE_DELAY_MS and returns a healthy TLS 1.2/1.3 result (`run`; no address is ever dialled), and
# stops the control plane again, which discards every object.
#
# Usage: benches/controller-scale.sh [SIZE...] [-- OPERATOR FLAGS]
#        benches/controller-scale.sh 10x100 100x100            (the default: 5,000 and 50,000 endpoints)
#        benches/controller-scale.sh 10x100 -- --status-max-endpoints 500
# Environment: PROBE_DELAY_MS (20), SETUP_PARALLEL (32), OUT (target/bench-controller-scale).
# Output: $OUT/setup-SIZE.json and $OUT/run-SIZE.json (numbers), $OUT/run-SIZE.log (progress).
#
# The bench binary is built with the dev profile and CARGO_PROFILE_DEV_OPT_LEVEL=3: the crate itself
# optimised, its dependencies at the dev profile's opt-level 1 (the release profile would rebuild
# every dependency). CPU figures are therefore upper bounds for a release build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/target/bench-controller-scale}
DELAY=${PROBE_DELAY_MS:-20}
PARALLEL=${SETUP_PARALLEL:-32}

sizes=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do sizes+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#sizes[@]} -gt 0 ] || sizes=(10x100 100x100)
for size in "${sizes[@]}"; do
  [[ $size =~ ^[0-9]+x[0-9]+$ ]] || { echo "controller-scale: SIZE must be NAMESPACESxSERVICES, not $size" >&2; exit 2; }
done

cd "$ROOT"
mkdir -p "$OUT"
echo "controller-scale: building benches/scale_bench/" >&2
# A bench target's binary has a hashed name: take its path from cargo's build messages.
BIN=$(CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --quiet --bench scale_bench \
  --message-format=json-render-diagnostics | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scale_bench" and m.get("executable"):
        print(m["executable"])')
[ -x "$BIN" ] || { echo "controller-scale: cargo built no scale_bench binary" >&2; exit 1; }

trap 'scripts/control-plane.sh stop >/dev/null 2>&1 || true' EXIT

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
  echo "controller-scale: $size: run (probe delay $DELAY ms)" >&2
  "$BIN" run --namespaces "$namespaces" --services "$services" --probe-delay-ms "$DELAY" "${pids[@]}" \
    -- "$@" >"$OUT/run-$size.json" 2> >(tee "$OUT/run-$size.log" >&2)
  echo "controller-scale: $size: results in $OUT/run-$size.json" >&2
  scripts/control-plane.sh stop
done
