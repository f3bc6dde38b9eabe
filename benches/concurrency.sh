#!/usr/bin/env bash
# Concurrency benchmark: ENDPOINTS openssl s_server endpoints (Mozilla intermediate, one RSA leaf
# from a local CA), each scanned REPEAT times by one process with a bounded pool
# (benches/scan_many.rs, the library's probe engine as the operator uses it), for several pool
# sizes with one tokio task per scan, then SINGLE_RUNS times with every scan polled from one task.
# Prints a Markdown table: scans per second, per-scan latency, connections (a full scan of these
# endpoints opens 19, so fewer means a probe gave up), scans that failed, listed fewer suites than
# the others or got no answer to `GET /`, the scanner's CPU time and the process's peak RSS. For reference, the same scans as one `tlsaudit scan` process each (xargs -P 50), which is
# what a shell loop over the CLI costs.
#
# Usage: benches/concurrency.sh [ENDPOINTS] [REPEAT] [POOLS]     defaults: 50 4 "1 10 50 200"
#   SINGLE_RUNS=N   runs of the single-task mode at pool 50 (default 10; 0 skips them)
# Scanner CPU is the scanning process's user+sys time (GNU time; for xargs, every tlsaudit process):
# the servers' handshake CPU shares the same cores and bounds scans/s on a small machine.
# Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ENDPOINTS=${1:-50}
REPEAT=${2:-4}
POOLS=${3:-1 10 50 200}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "bench: $*" >&2; exit 1; }
command -v openssl >/dev/null || fail "openssl missing: apt-get install openssl"
command -v python3 >/dev/null || fail "python3 missing: apt-get install python3"
[ -x /usr/bin/time ] || fail "/usr/bin/time missing: apt-get install time"
cargo build --release -q --bin tlsaudit
TLSAUDIT=target/release/tlsaudit
# scan_many is a bench target: cargo names its binary with a hash, so take the path from cargo's
# build messages (running it through `cargo bench` would add cargo's CPU time to the scanner's).
SCAN_MANY=$(cargo build --release -q --bench scan_many --message-format=json-render-diagnostics \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scan_many" and m.get("executable"):
        print(m["executable"])')
[ -x "$SCAN_MANY" ] || fail "cargo built no scan_many binary"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 30 \
  -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/leaf.csr" \
  -subj /CN=bench.test 2>/dev/null
printf 'subjectAltName=DNS:bench.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$WORK/leaf.ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 30 -extfile "$WORK/leaf.ext" -out "$WORK/cert.pem" 2>/dev/null

INTERMEDIATE='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305'
# Ports the kernel just handed out; bound one by one so the servers can take them.
mapfile -t PORTS < <(python3 - "$ENDPOINTS" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
)
TARGETS=()
for port in "${PORTS[@]}"; do
  openssl s_server -accept "127.0.0.1:$port" -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www \
    -quiet -no_tls1 -no_tls1_1 -cipher "$INTERMEDIATE" >/dev/null 2>&1 &
  PIDS+=($!)
  TARGETS+=("127.0.0.1:$port")
done
for port in "${PORTS[@]}"; do
  up=0
  for _ in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then up=1; break; fi
    sleep 0.05
  done
  [ $up = 1 ] || fail "openssl s_server did not start on 127.0.0.1:$port"
done

echo "Endpoints: $ENDPOINTS openssl s_server (Mozilla intermediate), each scanned $REPEAT times."
echo
echo "| runner | pool | scans | wall | scans/s | scan p50 / p95 / max | connections | failed / short suite list / no HTTP answer | scanner CPU (user+sys) | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row() { # row JSON_LINE CPU_SECONDS: one table row from scan_many's summary and its CPU time
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cpu = float(sys.argv[2])
mode = "scan_many, one task for all scans" if r["single_task"] else "scan_many, one task per scan"
print(f"| {mode} | {r['pool']} | {r['scans']} | {r['wall_s']:.2f} s | {r['scans_per_s']:.0f} "
      f"| {r['scan_ms_p50']} / {r['scan_ms_p95']} / {r['scan_ms_max']} ms | {r['connections']} "
      f"| {r['incomplete']} / {r['short_suite_lists']} / {r['no_http_answer']} | {cpu:.2f} s ({cpu * 1000 / r['scans']:.1f} ms/scan) "
      f"| {r['peak_rss_kib'] / 1024:.0f} MiB |")
PY
}
cpu() { awk '{print $1 + $2}' "$WORK/cpu"; }
for pool in $POOLS; do
  line=$(/usr/bin/time -f "%U %S" -o "$WORK/cpu" "$SCAN_MANY" --sni bench.test --ca "$WORK/ca.pem" \
    --pool "$pool" --repeat "$REPEAT" "${TARGETS[@]}") || fail "scan_many failed with pool $pool"
  row "$line" "$(cpu)"
done
for _ in $(seq "${SINGLE_RUNS:-10}"); do
  line=$(/usr/bin/time -f "%U %S" -o "$WORK/cpu" "$SCAN_MANY" --single-task --sni bench.test \
    --ca "$WORK/ca.pem" --pool 50 --repeat "$REPEAT" "${TARGETS[@]}") ||
    fail "scan_many --single-task failed"
  row "$line" "$(cpu)"
done

# The same scans as one CLI process each, 50 at a time; RSS is the largest single process.
for _ in $(seq "$REPEAT"); do printf '%s\n' "${TARGETS[@]}"; done >"$WORK/targets"
scans=$(wc -l <"$WORK/targets")
start=$(date +%s%N)
/usr/bin/time -f "%M %U %S" -o "$WORK/rss" xargs -P 50 -I{} sh -c \
  "$TLSAUDIT scan {} --sni bench.test --ca $WORK/ca.pem --no-system-roots --json >$WORK/out.\$\$ 2>&1; [ \$? -le 1 ] || { cat $WORK/out.\$\$ >&2; exit 255; }" \
  <"$WORK/targets" || fail "a tlsaudit scan process failed"
wall_ms=$((($(date +%s%N) - start) / 1000000))
read -r kib user sys <"$WORK/rss"
awk -v n="$scans" -v ms="$wall_ms" -v kib="$kib" -v cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" 'BEGIN {
  printf "| tlsaudit scan per endpoint (xargs -P 50) | 50 | %d | %.2f s | %.0f | — | — | — | %.2f s (%.1f ms/scan) | %.0f MiB per process |\n",
    n, ms / 1000, n / (ms / 1000), cpu, cpu * 1000 / n, kib / 1024 }'
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
