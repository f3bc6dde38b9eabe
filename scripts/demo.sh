#!/usr/bin/env bash
# The README's first command: the operator end to end on this machine, in about a minute once built.
#
#   1. builds tlsaudit and the demo TLS servers (examples/demo_servers.rs), and the pinned
#      kube-apiserver/etcd/kubectl when missing (scripts/toolchain.sh; the first build takes long)
#   2. enters a private network namespace (as root: unshare --net; otherwise a user namespace), so
#      the demo's "Pod IP" 198.18.0.2 and everything listening exist only inside it and no traffic
#      leaves the machine
#   3. starts a control plane there (scripts/control-plane.sh, its own state directory)
#   4. starts TLS servers with typical faults on 198.18.0.2: healthy, a stale replica, expired,
#      missing intermediate, wrong name, mTLS required, TLS 1.0 only (openssl s_server)
#   5. creates namespace tlsaudit-demo with a Service + EndpointSlice per server and the demo CA
#      (and a cert-manager Certificate for web, from cert-manager's pinned CRD, with its Secret), and
#      a PostgreSQL server (Debian's, TLS 1.0 still allowed) behind Service db, port `postgresql`
#   6. runs the operator (`tlsaudit controller`), applies examples/tlsaudit.yaml, waits for the audit
#   6b. registers a ValidatingWebhookConfiguration on Service web whose caBundle is another CA (rules on a
#      made-up API group only, so it intercepts nothing) and a TlsAudit with spec.cluster (--cluster-audits)
#   7. prints `kubectl get tlsaudits`, every endpoint's findings, the Events and a few metrics;
#      on a terminal it then opens a shell inside the demo (kubectl works there) until you exit
#   (Gateway block) before 6 installs the pinned Gateway API CRDs; after 7 applies a Gateway whose
#      listener serves the stale replica's certificate, and TlsAudit `edge`, and prints its findings
#
# Usage: scripts/demo.sh
# Environment: TLSAUDIT_DEMO_STATE (state directory, default ${TMPDIR:-/tmp}/tlsaudit-demo-UID),
#              TLSAUDIT_DEMO_SHELL=0 (never open the shell).
# Everything stops when the script ends, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NS=tlsaudit-demo
BASE=18440                 # ports BASE..BASE+8 inside the demo's network namespace
POD_IP=198.18.0.2          # RFC 2544 benchmarking range: exists only inside the namespace
METRICS=127.0.0.1:18080
STATE=${TLSAUDIT_DEMO_STATE:-${TMPDIR:-/tmp}/tlsaudit-demo-$(id -u)}

die() { echo "demo: FAILED: $*" >&2; exit 1; }
log() { echo "demo: $*" >&2; }
need() { command -v "$1" >/dev/null || die "$1 is not installed (Debian: apt-get install $2)"; }

tool() { bash "$ROOT/scripts/toolchain.sh" path "$1"; }

outside() {
  need cargo "cargo (or rustup: https://rustup.rs)"; need openssl openssl; need ip iproute2
  need unshare util-linux; need curl curl
  log "building tlsaudit and the demo servers"
  cargo build --quiet --bin tlsaudit --example demo_servers
  local name missing=0
  for name in kube-apiserver etcd kubectl; do [ -x "$(tool "$name")" ] || missing=1; done
  if [ $missing = 1 ]; then
    log "building kube-apiserver, etcd and kubectl once (scripts/toolchain.sh)"
    bash scripts/toolchain.sh kube etcd
  fi
  # The cert-manager and Gateway API blocks below need the pinned CRDs (fetched once, outside the namespace).
  { [ -f "$(tool crds-cert-manager)/cert-manager.io_certificates.yaml" ] && [ -d "$(tool crds-gateway-api)" ]; } \
    || bash scripts/toolchain.sh crds
  export TLSAUDIT_DEMO_INSIDE=1
  if [ "$(id -u)" = 0 ]; then
    exec unshare --net -- bash "$0" "$@"
  fi
  unshare --user --map-root-user --net true 2>/dev/null \
    || die "the demo needs a private network namespace: run it as root (sudo scripts/demo.sh), or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
  exec unshare --user --map-root-user --net -- bash "$0" "$@"
}

PIDS=()
PG_STOP=()
cleanup() {
  local status=$? pid
  [ ${#PG_STOP[@]} = 0 ] || "${PG_STOP[@]}" >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/control-plane.sh stop >/dev/null 2>&1 || true
  [ $status = 0 ] || log "logs are in $STATE"
}

# The namespace's loopback device carries the "Pod IP" too: it exists nowhere else.
network() {
  ip link set lo up
  ip addr add "$POD_IP/32" dev lo
}

# wait_for WHAT SECONDS CMD...: polls CMD every half second.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not happen within $seconds s (logs in $STATE)"
    sleep 0.5
  done
}

servers() {
  target/debug/examples/demo_servers --namespace "$NS" --listen 0.0.0.0 --port-base $BASE \
    --out "$STATE/pki" >"$STATE/demo-servers.log" 2>&1 &
  PIDS+=($!)
  wait_for "the demo servers" 30 grep -qx ready "$STATE/demo-servers.log"
  # TLS 1.0 only; OpenSSL 3 needs security level 0 to offer it at all.
  openssl s_server -quiet -www -accept $((BASE + 6)) -tls1 -cipher 'DEFAULT:@SECLEVEL=0' \
    -cert "$STATE/pki/legacy.crt" -cert_chain "$STATE/pki/legacy-chain.crt" \
    -key "$STATE/pki/legacy.key" >"$STATE/openssl.log" 2>&1 &
  PIDS+=($!)
}

# service NAME PORT_OFFSET...: a Service (port 443 "https") whose EndpointSlices point at the demo
# servers on POD_IP, one slice per server port.
service() {
  local name=$1 offset; shift
  cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: $NS, labels: {demo: tlsaudit}}
spec:
  ports: [{name: https, port: 443, protocol: TCP}]
EOF
  for offset in "$@"; do
    cat <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $name-$offset
  namespace: $NS
  labels: {kubernetes.io/service-name: $name}
addressType: IPv4
ports: [{name: https, port: $((BASE + offset)), protocol: TCP}]
endpoints: [{addresses: ["$POD_IP"], conditions: {ready: true}}]
EOF
  done
}

# --- PostgreSQL (issue 10): Debian's server on POD_IP:BASE+8 behind Service db, port named postgresql,
# so the operator opens TLS after an SSLRequest. Weak on purpose: TLS 1.0 and 1.1 still allowed
# (ssl_min_protocol_version = TLSv1). PostgreSQL refuses to run as root: as root, the cluster
# belongs to the package's postgres user.
postgres_db() {
  local kubectl=$1 bin dir as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "PostgreSQL is not installed (Debian: apt-get install postgresql)"
  dir=$STATE/postgres
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$STATE/pki/db.crt" "$dir/server.crt" && cp "$STATE/pki/db.key" "$dir/server.key"
  chmod 600 "$dir/server.key"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; as=(runuser -u postgres --); fi
  "${as[@]}" env OPENSSL_CONF=/dev/null "$bin/initdb" --auth=trust --username=postgres --no-sync \
    -D "$dir/data" >/dev/null || die "initdb failed"
  {
    echo "listen_addresses = '$POD_IP'"
    echo "port = $((BASE + 8))"
    echo "unix_socket_directories = '$dir'"
    echo "ssl = on"
    echo "ssl_cert_file = '$dir/server.crt'"
    echo "ssl_key_file = '$dir/server.key'"
    echo "ssl_min_protocol_version = 'TLSv1'"
    echo "ssl_ciphers = 'ALL:@SECLEVEL=0'"
  } | "${as[@]}" tee -a "$dir/data/postgresql.conf" >/dev/null
  "${as[@]}" env OPENSSL_CONF=/dev/null "$bin/pg_ctl" start -w -t 30 -D "$dir/data" -l "$dir/server.log" \
    >/dev/null || die "PostgreSQL did not start (log: $dir/server.log)"
  PG_STOP=("${as[@]}" "$bin/pg_ctl" stop -m immediate -D "$dir/data")
  printf '%s\n' "apiVersion: v1" "kind: Service" \
    "metadata: {name: db, namespace: $NS, labels: {demo: tlsaudit}}" \
    "spec: {ports: [{name: postgresql, port: 5432, protocol: TCP}]}" "---" \
    "apiVersion: discovery.k8s.io/v1" "kind: EndpointSlice" \
    "metadata: {name: db-8, namespace: $NS, labels: {kubernetes.io/service-name: db}}" \
    "addressType: IPv4" "ports: [{name: postgresql, port: $((BASE + 8)), protocol: TCP}]" \
    "endpoints: [{addresses: [\"$POD_IP\"], conditions: {ready: true}}]" \
    | "$kubectl" apply -f - >/dev/null
}

show() {
  local kubectl=$1
  echo
  echo "\$ kubectl get tlsaudits -n $NS"
  "$kubectl" get tlsaudits -n "$NS"
  echo
  echo "Endpoints, worst first (kubectl get tla shop -n $NS -o yaml shows everything):"
  "$kubectl" get tla shop -n "$NS" -o go-template='{{range .status.endpoints}}{{printf "%-24s %-20s grade %-3s" .target (or .address "-") .grade}}{{"\n"}}{{range .findings}}    {{printf "%-8s %-28s %s" .severity .code .message}}{{"\n"}}{{end}}{{end}}{{"\n"}}{{range .status.conditions}}{{printf "%-10s %-6s %-16s %s" .type .status .reason .message}}{{"\n"}}{{end}}'
  echo
  echo "\$ kubectl get events -n $NS"
  "$kubectl" get events -n "$NS"
  echo
  echo "A few of the operator's metrics (curl http://$METRICS/metrics):"
  curl -fsS "http://$METRICS/metrics" | grep -E '^tlsaudit_(certificate_not_after_timestamp_seconds|findings|probe_success)' | head -20
}

# --- Cluster webhooks (spec.cluster): a webhook whose caBundle is not the CA of its Service's certificate.
# It matches only a made-up API group that nothing serves, so it never intercepts a request.
webhook_demo() {
  local kubectl=$1 bundle
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=stale-webhook-ca \
    -keyout "$STATE/pki/stale-webhook-ca.key" -out "$STATE/pki/stale-webhook-ca.crt" >/dev/null 2>&1
  bundle=$(base64 -w0 <"$STATE/pki/stale-webhook-ca.crt")
  cat <<EOF | "$kubectl" apply -f - >/dev/null
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: tlsaudit-demo-policy}
webhooks:
  - name: check.demo.tlsaudit.invalid
    clientConfig:
      service: {namespace: $NS, name: web, path: /validate}
      caBundle: $bundle
    rules: [{apiGroups: [demo.tlsaudit.invalid], apiVersions: [v1], operations: [CREATE], resources: [nothings]}]
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: [v1]
---
apiVersion: tlsaudit.dev/v1alpha1
kind: TlsAudit
metadata: {name: cluster, namespace: $NS}
spec:
  cluster: {webhooks: true, apiServices: true, conversionWebhooks: true}
EOF
}

show_cluster() {
  local kubectl=$1
  echo
  echo "spec.cluster (kubectl get tla cluster -n $NS): the apiserver's webhook calls, probed as it dials them:"
  "$kubectl" get tla cluster -n "$NS" -o go-template='{{range .status.endpoints}}{{printf "%-56s %-20s" .target (or .address "-")}}{{"\n"}}{{range .findings}}    {{printf "%-8s %-28s %s" .severity .code .message}}{{"\n"}}{{end}}{{end}}'
}

# --- Gateway API block: a Gateway whose HTTPS listener serves another certificate than its Secret,
# with frontend client-certificate validation in AllowInsecureFallback mode, audited by TlsAudit
# `edge`. The Gateway's status address is 127.0.0.1 (as a gateway implementation would write it), and
# its listener port is the stale replica's server.
gateway_api_crds() {
  local kubectl=$1
  "$kubectl" apply --server-side -f "$(tool crds-gateway-api)" >/dev/null
  "$kubectl" wait --for condition=Established crd/gateways.gateway.networking.k8s.io --timeout=60s >/dev/null
}

gateway_demo() {
  local kubectl=$1
  log "Gateway API: applying Gateway edge and TlsAudit edge"
  "$kubectl" -n "$NS" create secret tls gateway-web --cert="$STATE/pki/web.crt" --key="$STATE/pki/web.key" >/dev/null
  cat <<EOF | "$kubectl" apply -f - >/dev/null
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: $NS}
spec:
  gatewayClassName: demo
  listeners:
    - {name: web, port: $((BASE + 1)), protocol: HTTPS, hostname: web.$NS.svc,
       tls: {certificateRefs: [{name: gateway-web}]}}
  tls:
    frontend:
      default:
        validation: {mode: AllowInsecureFallback, caCertificateRefs: [{group: "", kind: ConfigMap, name: client-ca}]}
---
apiVersion: tlsaudit.dev/v1alpha1
kind: TlsAudit
metadata: {name: edge, namespace: $NS}
spec:
  gateways: {}
  trust: {caBundle: {secretRef: {name: demo-ca}}, systemRoots: false}
EOF
  "$kubectl" -n "$NS" patch gateway edge --subresource=status --type=merge \
    -p '{"status":{"addresses":[{"type":"IPAddress","value":"127.0.0.1"}]}}' >/dev/null
  gateway_audited() { [ "$("$kubectl" get tla edge -n "$NS" -o jsonpath='{.status.summary.endpoints}')" = 1 ]; }
  wait_for "the audit of Gateway edge" 120 gateway_audited
  echo
  echo "\$ kubectl get tla edge -n $NS   (Gateway edge, listener web)"
  "$kubectl" get tla edge -n "$NS" -o go-template='{{range .status.endpoints}}{{printf "%-14s %-16s %-26s grade %-3s" .target (or .address "-") (or .serverName "-") .grade}}{{"\n"}}{{range .findings}}    {{printf "%-8s %-36s %s" .severity .code .message}}{{"\n"}}{{end}}{{end}}'
}

inside() {
  need ip iproute2
  network
  rm -rf "$STATE" && mkdir -p "$STATE"
  export TLSAUDIT_STATE=$STATE/control-plane
  trap cleanup EXIT
  log "starting the control plane"
  scripts/control-plane.sh start
  eval "$(scripts/control-plane.sh env)"
  local kubectl
  kubectl=$(tool kubectl)
  "$kubectl" apply -f crds/tlsaudit.yaml >/dev/null
  "$kubectl" wait --for condition=Established crd/tlsaudits.tlsaudit.dev --timeout=60s >/dev/null
  gateway_api_crds "$kubectl"

  log "starting the demo TLS servers on $POD_IP:$BASE-$((BASE + 7))"
  servers
  "$kubectl" create namespace "$NS" >/dev/null
  "$kubectl" -n "$NS" create secret generic demo-ca --from-file=ca.crt="$STATE/pki/ca.crt" >/dev/null
  {
    service web 0 1
    service billing 2
    service orders 3
    service search 4
    service vault 5
    service legacy 6
  } | "$kubectl" apply -f - >/dev/null
  log "starting PostgreSQL on $POD_IP:$((BASE + 8)) (Service db, port postgresql)"
  postgres_db "$kubectl"

  # --- cert-manager (issue 10): a Certificate whose renewed Secret one web replica never reloaded ---
  # cert-manager's own CRD (pinned, scripts/toolchain.sh crds); no cert-manager controller runs, so the
  # demo writes the Certificate's status itself. The Service annotation links web's replicas to it, and
  # the stale replica (an older leaf) shows certmanager.stale_reload.
  "$kubectl" apply --server-side -f "$(tool crds-cert-manager)/cert-manager.io_certificates.yaml" >/dev/null
  "$kubectl" wait --for condition=Established crd/certificates.cert-manager.io --timeout=60s >/dev/null
  "$kubectl" -n "$NS" create secret tls web-tls --cert="$STATE/pki/web.crt" --key="$STATE/pki/web.key" >/dev/null
  "$kubectl" -n "$NS" annotate service web tlsaudit.dev/certificate=web >/dev/null
  printf 'apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web}\nspec:\n  secretName: web-tls\n  dnsNames: [web.%s.svc]\n  issuerRef: {name: demo-ca, kind: Issuer}\n' "$NS" \
    | "$kubectl" -n "$NS" apply -f - >/dev/null
  local issued until renew
  issued=$(date -u -d '-10 days' +%Y-%m-%dT%H:%M:%SZ)
  until=$(date -u -d '+90 days' +%Y-%m-%dT%H:%M:%SZ)
  renew=$(date -u -d '+57 days' +%Y-%m-%dT%H:%M:%SZ)
  "$kubectl" -n "$NS" patch certificate web --subresource=status --type=merge -p "{\"status\": {
    \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"Ready\",
      \"message\": \"Certificate is up to date and has not expired\", \"lastTransitionTime\": \"$issued\"}],
    \"notBefore\": \"$issued\", \"notAfter\": \"$until\", \"renewalTime\": \"$renew\", \"revision\": 2}}" >/dev/null
  # --- end cert-manager ---

  log "starting the operator (log: $STATE/operator.log)"
  RUST_LOG=${RUST_LOG:-info} target/debug/tlsaudit controller --metrics-addr "$METRICS" \
    --lease-namespace "$NS" --allow-target-cidr 127.0.0.0/8 --probe-timeout 3s \
    --cluster-audits on --cluster-audit-namespace "$NS" \
    >"$STATE/operator.log" 2>&1 &
  PIDS+=($!)
  wait_for "the operator's /readyz" 30 curl -fsS "http://$METRICS/readyz"

  log "applying examples/tlsaudit.yaml and waiting for the audit"
  "$kubectl" apply -f examples/tlsaudit.yaml >/dev/null
  audited() { [ -n "$("$kubectl" get tla shop -n "$NS" -o jsonpath='{.status.lastAuditTime}')" ]; }
  wait_for "the first audit" 120 audited
  log "registering a webhook whose caBundle is another CA, and a TlsAudit with spec.cluster"
  webhook_demo "$kubectl"
  cluster_audited() { [ -n "$("$kubectl" get tla cluster -n "$NS" -o jsonpath='{.status.lastAuditTime}')" ]; }
  wait_for "the cluster audit" 120 cluster_audited
  show "$kubectl"
  show_cluster "$kubectl"
  gateway_demo "$kubectl"

  if [ "${TLSAUDIT_DEMO_SHELL:-1}" != 0 ] && [ -t 0 ] && [ -t 1 ]; then
    echo
    log "a shell inside the demo: try kubectl describe tla shop -n $NS; exit to stop everything"
    PATH="$(dirname "$kubectl"):$PATH" PS1='tlsaudit-demo$ ' bash --norc -i || true
  fi
}

if [ -z "${TLSAUDIT_DEMO_INSIDE:-}" ]; then
  outside "$@"
else
  inside "$@"
fi
