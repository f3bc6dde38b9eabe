#!/usr/bin/env bash
# Benchmark: `tlsaudit scan` against sslyze (and sslscan, optionally testssl.sh) on the same local
# openssl s_server endpoints, side by side in one run. Prints a Markdown table for BENCHMARKS.md:
# - wall time per endpoint: median, min and max of RUNS direct runs of the scanner alone (the
#   check that the run succeeded is made after the clock stops);
# - TCP connections per scan, counted by benches/relay.py on one more run through it (for tlsaudit
#   also its own facts.connections, which must agree), and the most connections open at once;
# - peak RSS of that run (GNU time: the largest process of the scanner's tree, not the sum).
# A scanner that fails makes the script exit 1 instead of printing a misleadingly fast time.
#
# Usage: benches/scan-vs-sslyze.sh [RUNS]        RUNS defaults to 5
#   WITH_TESTSSL=1   add one testssl.sh run per endpoint (each takes a minute or more)
#   KEEP=DIR         keep every tool's output of the relay runs in DIR
#   SCANNERS="..."   the scanners to run (default: tlsaudit sslyze sslyze-subset sslscan); only the
#                    named ones need to be installed, e.g. SCANNERS=tlsaudit for tlsaudit alone
#   TLSAUDIT=PATH    the tlsaudit binary to measure (default: cargo build --release, then
#                    target/release/tlsaudit), e.g. an older build for a before/after comparison
# Loopback only: servers listen on 127.0.0.1, no DNS (sslyze gets the address in braces,
# testssl.sh gets --nodns none and NXCONNECT=127.0.0.1:0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-5}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "bench: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 missing: $2"; }
need openssl "apt-get install openssl"
need python3 "apt-get install python3"
read -r -a TOOLS <<<"${SCANNERS:-tlsaudit sslyze sslyze-subset sslscan}"
if [ "${WITH_TESTSSL:-0}" = 1 ]; then TOOLS+=(testssl); fi
uses() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }
if uses sslscan; then need sslscan "apt-get install sslscan"; fi
[ -x /usr/bin/time ] || fail "/usr/bin/time missing: apt-get install time"
SSLYZE=${SSLYZE:-/opt/sslyze-venv/bin/sslyze}
if uses sslyze || uses sslyze-subset; then
  [ -x "$SSLYZE" ] || fail "$SSLYZE missing: python3 -m venv /opt/sslyze-venv && /opt/sslyze-venv/bin/pip install sslyze"
fi
if uses testssl; then need testssl "apt-get install testssl.sh"; fi
if [ -z "${TLSAUDIT:-}" ]; then
  cargo build --release -q
  TLSAUDIT=target/release/tlsaudit
fi

# A CA and a leaf it issued, so that every scanner can verify the chain with the CA as the anchor.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 30 \
  -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/leaf.csr" \
  -subj /CN=bench.test 2>/dev/null
printf 'subjectAltName=DNS:bench.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  >"$WORK/leaf.ext"
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 30 -extfile "$WORK/leaf.ext" -out "$WORK/cert.pem" 2>/dev/null

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  fail "nothing listens on 127.0.0.1:$1"
}

# Mozilla "intermediate" (v5.7): TLS 1.2 + 1.3, these TLS 1.2 suites, OpenSSL's TLS 1.3 defaults.
INTERMEDIATE='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305'
ENDPOINTS=(intermediate legacy modern)
declare -A SERVERS=(
  [intermediate]="-no_tls1 -no_tls1_1 -cipher $INTERMEDIATE"
  [legacy]="-cipher ALL:@SECLEVEL=0"
  [modern]="-tls1_3"
)
declare -A PORT RELAY RELAY_PID
for name in "${ENDPOINTS[@]}"; do
  PORT[$name]=$(free_port)
  # shellcheck disable=SC2086
  openssl s_server -accept "127.0.0.1:${PORT[$name]}" -cert "$WORK/cert.pem" -key "$WORK/key.pem" \
    -www -quiet ${SERVERS[$name]} >/dev/null 2>&1 &
  PIDS+=($!)
  RELAY[$name]=$(free_port)
  python3 benches/relay.py "${RELAY[$name]}" "${PORT[$name]}" "$WORK/count-$name" \
    2>"$WORK/relay-$name.log" &
  PIDS+=($!)
  RELAY_PID[$name]=$!
  wait_port "${PORT[$name]}"
  wait_port "${RELAY[$name]}"
done


# run_tool TOOL PORT OUT: scans 127.0.0.1:PORT, the tool's report in OUT (stderr in OUT.err).
# Only the scanner runs here, so that the clock measures nothing else; check_tool judges OUT.
run_tool() {
  local tool=$1 port=$2 out=$3
  case $tool in
    tlsaudit)
      # Exit 0 and 1 are both complete scans (1: findings at or above --fail-on); 2: unreachable.
      "$TLSAUDIT" scan "127.0.0.1:$port" --sni bench.test --ca "$WORK/ca.pem" --no-system-roots \
        --json >"$out" 2>"$out.err" || [ $? -eq 1 ]
      ;;
    sslyze | sslyze-subset)
      local commands=()
      # The checks tlsaudit makes too: versions and suites, certificate, fallback, compression,
      # renegotiation, HTTP headers (HSTS). Left out: ROBOT, Heartbleed, CCS, curves, EMS and the
      # Mozilla-config comparison.
      if [ "$tool" = sslyze-subset ]; then
        commands=(--sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo --fallback
          --compression --reneg --http_headers --mozilla_config disable)
      fi
      # The name (SNI, verification) first, the address to dial in braces: no DNS lookup. The exit
      # code says whether the server meets the Mozilla config, so success is judged from the JSON.
      "$SSLYZE" --quiet --json_out "$out" --certinfo_ca_file "$WORK/ca.pem" "${commands[@]}" \
        "bench.test:$port{127.0.0.1}" >"$out.err" 2>&1 || true
      ;;
    sslscan)
      sslscan --no-colour --sni-name=bench.test "127.0.0.1:$port" >"$out" 2>"$out.err"
      ;;
    testssl)
      rm -f "$out"
      # The exit code counts findings; success is judged from the JSON.
      NXCONNECT=127.0.0.1:0 testssl --quiet --warnings off --color 0 --nodns none \
        --add-ca "$WORK/ca.pem" --jsonfile-pretty "$out" "127.0.0.1:$port" >"$out.err" 2>&1 || true
      ;;
  esac
}

# check_tool TOOL OUT: fails unless OUT is a complete scan of a reachable TLS server.
check_tool() {
  local tool=$1 out=$2
  case $tool in
    tlsaudit)
      python3 -c 'import json,sys; sys.exit(not json.load(open(sys.argv[1]))["facts"]["reachable"])' "$out"
      ;;
    sslyze | sslyze-subset)
      python3 - "$out" <<'PY'
import json, sys
scan = json.load(open(sys.argv[1]))["server_scan_results"][0]
assert scan["connectivity_status"] == "COMPLETED", scan.get("connectivity_error_trace")
assert scan["scan_status"] == "COMPLETED", scan["scan_status"]
broken = [k for k, v in scan["scan_result"].items() if v and v.get("status") == "ERROR"]
assert not broken, broken
PY
      ;;
    sslscan) grep -q Accepted "$out" ;;
    testssl) grep -q '"id"[[:space:]]*:[[:space:]]*"cipher' "$out" ;;
  esac
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
runs_of() { if [ "$1" = testssl ]; then echo 1; else echo "$RUNS"; fi; }

declare -A MEDIAN
echo "| endpoint | scanner | wall time: median (min–max), runs | TCP connections (relay) | tlsaudit facts.connections | peak concurrent | peak RSS |"
echo "|---|---|---|---|---|---|---|"
for name in "${ENDPOINTS[@]}"; do
  for tool in "${TOOLS[@]}"; do
    times=()
    n=$(runs_of "$tool")
    for i in $(seq "$n"); do
      ok=1
      start=$(now_ms)
      run_tool "$tool" "${PORT[$name]}" "$WORK/out" || ok=0
      times+=($(($(now_ms) - start)))
      { [ $ok = 1 ] && check_tool "$tool" "$WORK/out"; } ||
        fail "$tool on $name failed (run $i): $(head -c 600 "$WORK/out.err" 2>/dev/null)"
    done

    # Reset the relay's counters and wait until it has (the signal is handled on its event loop).
    echo stale >"$WORK/count-$name"
    kill -USR1 "${RELAY_PID[$name]}"
    for _ in $(seq 50); do grep -q '^0 ' "$WORK/count-$name" && break; sleep 0.02; done
    grep -q '^0 ' "$WORK/count-$name" || fail "the relay of $name did not reset"
    out="$WORK/$name-$tool.out"
    { /usr/bin/time -f %M -o "$WORK/rss" bash -c "$(declare -f run_tool); $(declare -p WORK TLSAUDIT SSLYZE); run_tool $tool ${RELAY[$name]} $out" &&
      check_tool "$tool" "$out"; } || fail "$tool on $name through the relay failed"
    sleep 0.3 # let the relay count connections the scanner closed as it exited
    read -r conns peak <"$WORK/count-$name"
    own=—
    if [ "$tool" = tlsaudit ]; then
      own=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["facts"]["connections"])' "$out")
      [ "$own" = "$conns" ] || echo "bench: WARNING: tlsaudit counted $own connections on $name, the relay $conns" >&2
    fi
    rss_mb=$(awk '{printf "%.0f MiB", $1/1024}' "$WORK/rss")
    med=$(printf '%s\n' "${times[@]}" | median)
    min=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
    max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
    MEDIAN[$name-$tool]=$med
    echo "| $name | $tool | ${med} ms (${min}–${max}), $n | $conns | $own | $peak | $rss_mb |"
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$out"* "$KEEP/"; fi
  done
done
echo
for name in "${ENDPOINTS[@]}"; do
  line="$name: time ratio to tlsaudit (medians):"
  for tool in "${TOOLS[@]}"; do
    [ "$tool" = tlsaudit ] && continue
    line+=$(awk -v t="${MEDIAN[$name-tlsaudit]}" -v s="${MEDIAN[$name-$tool]}" -v n="$tool" \
      'BEGIN {printf " %s %.0f×", n, s / (t > 0 ? t : 1)}')
  done
  echo "$line"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
