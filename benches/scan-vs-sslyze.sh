#!/usr/bin/env bash
# Benchmark: `tlsaudit scan` against sslyze (and sslscan for reference) on the same local
# openssl s_server endpoints. Prints a Markdown table for BENCHMARKS.md: wall time per endpoint
# (median of RUNS), TCP connections per scan (counted by a relay), peak RSS (GNU time).
# Loopback only. Usage: benches/scan-vs-sslyze.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-5}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "bench: $1 missing: $2" >&2; exit 1; }; }
need openssl "apt-get install openssl"
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
SSLYZE=${SSLYZE:-/opt/sslyze-venv/bin/sslyze}
if [ ! -x "$SSLYZE" ]; then
  python3 -m venv /opt/sslyze-venv && /opt/sslyze-venv/bin/pip install -q sslyze
fi
command -v sslscan >/dev/null || apt-get install -y -q sslscan >/dev/null
cargo build --release -q
TLSAUDIT=target/release/tlsaudit

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 60 \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

INTERMEDIATE='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305'
declare -A SERVERS=(
  [intermediate]="-no_tls1 -no_tls1_1 -cipher $INTERMEDIATE"
  [legacy]="-cipher ALL:@SECLEVEL=0"
  [modern]="-tls1_3"
)
declare -A PORT RELAY
for name in intermediate legacy modern; do
  PORT[$name]=$(free_port)
  # shellcheck disable=SC2086
  openssl s_server -accept "127.0.0.1:${PORT[$name]}" -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
    -www -quiet ${SERVERS[$name]} >/dev/null 2>&1 &
  PIDS+=($!)
  RELAY[$name]=$(free_port)
  python3 benches/relay.py "${RELAY[$name]}" "${PORT[$name]}" "$WORK/count-$name" &
  PIDS+=($!)
  wait_port "${PORT[$name]}"; wait_port "${RELAY[$name]}"
done

# run_tool NAME PORT: the scanner's command line for 127.0.0.1:PORT.
run_tool() {
  case $1 in
    tlsaudit) echo "$TLSAUDIT scan 127.0.0.1:$2 --sni bench.test --ca $WORK/cert.pem --json" ;;
    sslyze) echo "$SSLYZE --quiet 127.0.0.1:$2{bench.test}" ;;
    sslscan) echo "sslscan --no-colour --sni-name=bench.test 127.0.0.1:$2" ;;
  esac
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "| endpoint | scanner | wall time (median of $RUNS) | TCP connections | peak RSS |"
echo "|---|---|---|---|---|"
for name in intermediate legacy modern; do
  for tool in tlsaudit sslyze sslscan; do
    times=()
    for _ in $(seq "$RUNS"); do
      start=$(date +%s%N)
      # shellcheck disable=SC2046
      $(run_tool "$tool" "${PORT[$name]}") >/dev/null 2>&1 || true
      times+=($(( ($(date +%s%N) - start) / 1000000 )))
    done
    rm -f "$WORK/count-$name"
    # shellcheck disable=SC2046
    /usr/bin/time -f %M -o "$WORK/rss" $(run_tool "$tool" "${RELAY[$name]}") >/dev/null 2>&1 || true
    conns=$(cat "$WORK/count-$name" 2>/dev/null || echo 0)
    rss_mb=$(awk '{printf "%.0f MiB", $1/1024}' "$WORK/rss")
    med=$(printf '%s\n' "${times[@]}" | median)
    echo "| $name | $tool | ${med} ms | $conns | $rss_mb |"
  done
done
