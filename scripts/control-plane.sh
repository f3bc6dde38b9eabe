#!/usr/bin/env bash
# A real Kubernetes control plane for tests (etcd + kube-apiserver, no controller-manager, no nodes),
# in the manner of controller-runtime's envtest: both listen on free 127.0.0.1 ports only, with serving
# certificates generated here, RBAC and Node authorization, and an admin kubeconfig whose client
# certificate is in system:masters.
#
# Usage: scripts/control-plane.sh start    start, or do nothing when already healthy; waits for /readyz
#        scripts/control-plane.sh stop     stop both processes (process groups) and free their ports
#        scripts/control-plane.sh restart  stop both and start them again on the same ports with the same
#                                          etcd data (objects, resourceVersions and the kubeconfig survive),
#                                          as an apiserver restart or upgrade does in a real cluster
#        scripts/control-plane.sh env      print `export KUBECONFIG=...` (use: eval "$(... env)")
#        scripts/control-plane.sh status   print what runs; exit 0 when healthy, 1 otherwise
#
# State (certificates, etcd data, logs, pid files, kubeconfig) lives in $TLSAUDIT_STATE, by default
# ${TMPDIR:-/tmp}/tlsaudit-control-plane-<checkout>-<hash>: one per checkout, so that worktrees on the
# same machine do not stop each other's control plane. The kubeconfig is $STATE/kubeconfig; its path is
# also written to $STATE/kubeconfig-path.
# Binaries come from scripts/toolchain.sh unless TLSAUDIT_KUBE_APISERVER / TLSAUDIT_ETCD name others.
#
# Without kube-controller-manager nothing runs controllers: deleted namespaces stay Terminating, no
# ServiceAccount tokens or kube-root-ca.crt ConfigMaps appear, Deployments get no Pods.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
checkout_id() { printf '%s-%s' "$(basename "$ROOT")" "$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"; }
STATE=${TLSAUDIT_STATE:-${TMPDIR:-/tmp}/tlsaudit-control-plane-$(checkout_id)}
TIMEOUT=${TLSAUDIT_CONTROL_PLANE_TIMEOUT:-90}   # seconds to wait for etcd and for /readyz
SERVICE_CIDR=10.96.0.0/16   # only a configuration value: no Service IP is ever routed or contacted
SERVICE_IP=10.96.0.1        # the first address of SERVICE_CIDR, the `kubernetes` Service
FAILURE="start failed"      # set by wait_for to say why

die() { echo "control-plane: FAILED: $*" >&2; exit 1; }
log() { echo "control-plane: $*" >&2; }

need() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null || die "$cmd is not installed (Debian: apt-get install $pkg)"
}

binary() {
  local name=$1 override=$2 path
  if [ -n "$override" ]; then path=$override; else path=$(bash "$ROOT/scripts/toolchain.sh" path "$name"); fi
  [ -x "$path" ] || die "$name not found at $path (build it with: bash scripts/toolchain.sh)"
  echo "$path"
}

# A TCP port on 127.0.0.1 that nothing listens on now. Another process may still take it before we
# bind it; the daemon then fails with "address already in use" and `start` reports its log.
free_port() {
  local port tries=0
  while [ $tries -lt 100 ]; do
    port=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Hltn "sport = :$port")" ]; then echo "$port"; return 0; fi
    tries=$((tries + 1))
  done
  die "no free TCP port found on 127.0.0.1"
}

# --- certificates -------------------------------------------------------------------------------------

# Certificates survive restarts (they do not depend on the ports); regenerated when missing or when
# the CA expires within a day.
make_pki() {
  local pki=$STATE/pki
  if [ -s "$pki/ca.crt" ] && [ -s "$pki/admin.key" ] && [ -s "$pki/sa.pub" ] \
    && openssl x509 -checkend 86400 -noout -in "$pki/ca.crt" >/dev/null 2>&1; then
    return 0
  fi
  log "generating certificates in $pki"
  rm -rf "$pki" && mkdir -p "$pki" && chmod 700 "$pki"
  ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  ec_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca.crt" -days 365 -subj "/CN=tlsaudit-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  # sign NAME SUBJECT EXTENSIONS
  sign() {
    ec_key "$pki/$1.key"
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -CAserial "$pki/ca.srl" -days 365 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
    rm -f "$pki/$1.csr" "$pki/$1.ext"
  }
  sign apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=tlsaudit-admin" "extendedKeyUsage=clientAuth"
  # The service-account token signing key (the apiserver verifies tokens with the public half).
  ec_key "$pki/sa.key"
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  if [ ! -s "$pki/sa.pub" ] || [ ! -s "$pki/admin.crt" ] || [ ! -s "$pki/apiserver.crt" ]; then
    die "openssl did not produce the certificates in $pki"
  fi
}

write_kubeconfig() {
  local port=$1 pki=$STATE/pki b64="base64 -w0"
  cat >"$STATE/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tlsaudit-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: tlsaudit-admin
  user:
    client-certificate-data: $($b64 <"$pki/admin.crt")
    client-key-data: $($b64 <"$pki/admin.key")
contexts:
- name: tlsaudit-test
  context:
    cluster: tlsaudit-test
    user: tlsaudit-admin
    namespace: default
current-context: tlsaudit-test
EOF
  chmod 600 "$STATE/kubeconfig.tmp"
  mv "$STATE/kubeconfig.tmp" "$STATE/kubeconfig"
  echo "$STATE/kubeconfig" >"$STATE/kubeconfig-path"
}

# --- processes ----------------------------------------------------------------------------------------

# True when pid file $1 names a live (not zombie) process whose command line contains $2. The name
# check guards against a recycled pid.
alive() {
  local pid state
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$1"
}

# launch NAME BINARY ARGS...: runs in its own session, so its pid is also its process group id.
launch() {
  local name=$1; shift
  rm -f "$STATE/$name.pid"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$STATE/$name.pid" "$@" \
    </dev/null >"$STATE/$name.log" 2>&1 9>&- &
  local waited=0
  until [ -s "$STATE/$name.pid" ]; do
    sleep 0.05; waited=$((waited + 1))
    [ $waited -lt 100 ] || die "$name did not start (see $STATE/$name.log)"
  done
}

kill_group() {
  local name=$1 pid
  pid=$(cat "$STATE/$name.pid" 2>/dev/null) || return 0
  if alive "$name"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
    if alive "$name"; then
      log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$name" || break; sleep 0.1; done
    fi
    if alive "$name"; then die "could not stop $name (pid $pid)"; fi
  fi
  rm -f "$STATE/$name.pid"
}

port_of() { sed -n "s/^$1=//p" "$STATE/ports" 2>/dev/null; }

readyz() {
  local port pki=$STATE/pki
  port=$(port_of apiserver)
  [ -n "$port" ] || return 1
  curl -fsS --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$port/readyz" >/dev/null 2>&1
}

healthy() { alive etcd && alive kube-apiserver && [ -s "$STATE/kubeconfig" ] && readyz; }

tail_logs() {
  local name
  for name in "$@"; do
    [ -f "$STATE/$name.log" ] || continue
    echo "--- last 30 lines of $STATE/$name.log ---" >&2
    tail -n 30 "$STATE/$name.log" >&2
  done
}

# --- commands -----------------------------------------------------------------------------------------

start() {
  need openssl openssl; need curl curl; need ss iproute2; need setsid util-linux
  mkdir -p "$STATE"
  if healthy; then
    log "already running (apiserver https://127.0.0.1:$(port_of apiserver)); KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  stop_processes
  local apiserver etcd t0=$SECONDS attempt
  apiserver=$(binary kube-apiserver "${TLSAUDIT_KUBE_APISERVER:-}")
  etcd=$(binary etcd "${TLSAUDIT_ETCD:-}")
  make_pki
  # A port found free can be taken by another process before the daemon binds it: try new ports.
  for attempt in 1 2 3; do
    if launch_all "$etcd" "$apiserver"; then
      log "ready in $((SECONDS - t0)) s: https://127.0.0.1:$(port_of apiserver) (etcd 127.0.0.1:$(port_of etcd)), state $STATE"
      log "KUBECONFIG=$STATE/kubeconfig"
      return 0
    fi
    tail_logs etcd kube-apiserver
    stop_processes
    if [ $attempt -eq 3 ] || ! grep -qs "address already in use" "$STATE/etcd.log" "$STATE/kube-apiserver.log"; then
      break
    fi
    log "a port was taken meanwhile (attempt $attempt of 3); retrying with other ports"
  done
  die "$FAILURE (logs above; state in $STATE)"
}

# Starts etcd, then kube-apiserver, on fresh ports and waits until both are ready. On failure sets
# FAILURE and returns 1, leaving the processes for the caller to stop.
launch_all() {
  local etcd=$1 apiserver=$2 etcd_port peer_port api_port
  etcd_port=$(free_port)
  peer_port=$(free_port); while [ "$peer_port" = "$etcd_port" ]; do peer_port=$(free_port); done
  api_port=$(free_port)
  while [ "$api_port" = "$etcd_port" ] || [ "$api_port" = "$peer_port" ]; do api_port=$(free_port); done
  printf 'etcd=%s\netcd-peer=%s\napiserver=%s\n' "$etcd_port" "$peer_port" "$api_port" >"$STATE/ports"

  # A fresh etcd each start: tests never see a previous run's objects.
  rm -rf "$STATE/etcd"
  launch_on_ports "$etcd" "$apiserver"
}

# Starts etcd, then kube-apiserver, on the ports of $STATE/ports with the etcd data in $STATE/etcd
# (kept as it is), and waits until both are ready. On failure sets FAILURE and returns 1.
launch_on_ports() {
  local etcd=$1 apiserver=$2 pki=$STATE/pki etcd_port peer_port api_port
  etcd_port=$(port_of etcd); peer_port=$(port_of etcd-peer); api_port=$(port_of apiserver)
  launch etcd "$etcd" --name tlsaudit-test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "tlsaudit-test=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --log-level warn
  wait_for etcd "etcd /health" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$etcd_port/health" || return 1

  # The endpoint reconciler is off because it refuses a loopback advertise address (the `kubernetes`
  # Service exists, without endpoints). ServiceAccount admission is off: it rejects Pods until a
  # controller-manager has created the namespace's `default` ServiceAccount, which never happens here.
  launch kube-apiserver "$apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --authorization-mode RBAC,Node \
    --enable-admission-plugins NodeRestriction --disable-admission-plugins ServiceAccount \
    --service-cluster-ip-range "$SERVICE_CIDR" --endpoint-reconciler-type none \
    --allow-privileged=true --profiling=false
  write_kubeconfig "$api_port"
  wait_for kube-apiserver "kube-apiserver /readyz" readyz
}

# wait_for NAME WHAT CMD...: polls CMD until it succeeds; returns 1 with FAILURE set when NAME exits
# or TIMEOUT passes.
wait_for() {
  local name=$1 what=$2 deadline=$((SECONDS + TIMEOUT)); shift 2
  until "$@"; do
    if ! alive "$name"; then
      FAILURE="$name exited before $what was ok"
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      FAILURE="$what not ok after ${TIMEOUT} s (raise TLSAUDIT_CONTROL_PLANE_TIMEOUT on a slow machine)"
      return 1
    fi
    sleep 0.2
  done
}

stop_processes() {
  kill_group kube-apiserver
  kill_group etcd
}

# Stops both processes and starts them again on the same ports with the same etcd data.
restart() {
  if [ ! -s "$STATE/ports" ] || [ ! -d "$STATE/etcd" ]; then die "nothing to restart in $STATE; run: scripts/control-plane.sh start"; fi
  local apiserver etcd t0=$SECONDS p busy
  apiserver=$(binary kube-apiserver "${TLSAUDIT_KUBE_APISERVER:-}")
  etcd=$(binary etcd "${TLSAUDIT_ETCD:-}")
  stop_processes
  for p in $(port_of etcd) $(port_of etcd-peer) $(port_of apiserver); do
    for _ in $(seq 1 50); do
      busy=$(ss -Hltn "sport = :$p")
      [ -z "$busy" ] && break
      sleep 0.1
    done
  done
  if ! launch_on_ports "$etcd" "$apiserver"; then
    tail_logs etcd kube-apiserver
    die "$FAILURE (restart on the same ports; state in $STATE)"
  fi
  log "restarted in $((SECONDS - t0)) s: https://127.0.0.1:$(port_of apiserver), same data and ports"
}

stop() {
  [ -d "$STATE" ] || { log "not running (no $STATE)"; return 0; }
  local ports p busy
  ports=$(sed -n 's/^[^=]*=//p' "$STATE/ports" 2>/dev/null || true)
  stop_processes
  for p in $ports; do
    for _ in $(seq 1 50); do
      busy=$(ss -Hltn "sport = :$p")
      [ -z "$busy" ] && break
      sleep 0.1
    done
    [ -z "$busy" ] || die "port $p still has a listener after stop: $busy"
  done
  rm -f "$STATE/ports" "$STATE/kubeconfig" "$STATE/kubeconfig-path"
  rm -rf "$STATE/etcd"
  log "stopped"
}

status() {
  if healthy; then
    echo "running: kube-apiserver https://127.0.0.1:$(port_of apiserver) (pid $(cat "$STATE/kube-apiserver.pid")), etcd 127.0.0.1:$(port_of etcd) (pid $(cat "$STATE/etcd.pid"))"
    echo "KUBECONFIG=$STATE/kubeconfig"
    return 0
  fi
  local name
  for name in etcd kube-apiserver; do
    if alive "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: not running"; fi
  done
  echo "not ready (state $STATE)"
  return 1
}

env_cmd() {
  [ -s "$STATE/kubeconfig" ] || die "no control plane in $STATE; run: scripts/control-plane.sh start"
  printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
}

# Serialises start/stop of the same state directory (two test runs in one checkout).
with_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock -w 300 9 || die "another control-plane.sh holds $STATE/lock"
  "$@"
}

case ${1:-} in
  start) with_lock start ;;
  stop) with_lock stop ;;
  restart) with_lock restart ;;
  env) env_cmd ;;
  status) status ;;
  *) echo "usage: $0 start|stop|restart|env|status" >&2; exit 2 ;;
esac
