#!/usr/bin/env bash
# The chart on a real node (scripts/node.sh): the image from scripts/image.sh runs as a Pod under the
# chart's securityContext and probes, audits real Pods through the EndpointSlices that the
# controller-manager writes, and a real Prometheus scrapes it and fires the chart's alerts.
#
#   1. helm install the chart with the local image (pullPolicy Never)
#   2. the operator Pod becomes Ready (readiness and liveness probes), as uid 65532 on a read-only root
#   3. TLS server Deployments behind Services (openssl s_server Pods): web (2 healthy replicas and a
#      stale one whose certificate expires in 20 days), billing (expired), vault (requires a client
#      certificate, which the audit has in a Secret) and legacy (TLS 1.0 only)
#   4. a TlsAudit selects them, per endpoint
#   5. its status has per-Pod findings for the real Pod IPs
#   6. Prometheus (scraping the Pod, with the chart's rules rendered with short `for:`) fires
#      TlsAuditCertificateExpiringSoon, TlsAuditCertificateExpired and TlsAuditLegacyProtocol (and
#      TlsAuditWeakCipher for the TLS 1.0 server) for exactly the right endpoints, nothing for the healthy
#      ones
#   7. scaling a Deployment: the new Pod is audited without a trigger
#   8. deleting the operator Pod: the Deployment replaces it and the audit carries on
#   9. helm upgrade --set replicas=2: one leader holds the Lease, only it audits; the Lease moves when
#      the leader's Pod is deleted
#  10. helm uninstall leaves nothing of the operator behind (objects, Pods, containers); the Lease, the
#      operator's own object, names no live Pod (docs/install.md, "Uninstall")
#
# Starts the node when none runs (and stops it again at the end, checking that nothing is left);
# builds the node's tools once (scripts/toolchain.sh node). Everything runs inside the node's network
# namespace. Prints "node: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART=$ROOT/charts/tlsaudit
NODE="bash $ROOT/scripts/node.sh"
REL=tlsaudit
NS=tlsaudit-system
APPS=tlsaudit-apps
FULL=tlsaudit
START=$SECONDS
PASSED=0
FAILED=0
STARTED_NODE=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tlsaudit-test-node.XXXXXX")

pass() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
failed() { FAILED=$((FAILED + 1)); echo "FAILED: $*"; }
die() { failed "$*"; exit 1; }

finish() {
  local rc=$?
  if [ $FAILED -gt 0 ] || [ $rc -ne 0 ]; then diagnostics; fi
  if [ $STARTED_NODE = 1 ]; then
    if $NODE stop; then
      check_clean
    else failed "scripts/node.sh stop"; fi
  fi
  rm -rf "$TMP"
  echo "test-node: took $((SECONDS - START)) s"
  echo "node: $PASSED passed, $FAILED failed"
  [ $FAILED -eq 0 ] && [ $rc -eq 0 ] || exit 1
}

diagnostics() {
  [ -n "${NODE_EXEC:-}" ] && [ -n "${KUBECTL:-}" ] || return 0
  echo "--- diagnostics ---"
  k get pods -A -o wide 2>&1 | head -n 40
  k get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 25
  k logs -n "$NS" -l app.kubernetes.io/name=tlsaudit --tail 30 2>&1 | tail -n 40
  k get tlsaudit -n "$APPS" -o yaml 2>&1 | head -n 120
}

# What `stop` must leave: no network namespace, no mount and no process of the node, and no iptables
# rule on the host that names its networks.
check_clean() {
  local state=$NODE_STATE
  if ip netns list | grep -q "^$NETNS\b"; then failed "network namespace $NETNS left after stop"
  else pass "no network namespace left after node.sh stop"; fi
  if [ -n "$state" ] && grep -qF "$state" /proc/self/mountinfo; then failed "mounts left under $state"
  else pass "no mount left after node.sh stop"; fi
  if [ -n "$state" ] && pgrep -f "$state/" >/dev/null 2>&1; then failed "processes left: $(pgrep -af "$state/" | head -n 3)"
  else pass "no process left after node.sh stop"; fi
  iptables-save 2>/dev/null | grep -E 'KUBE-|198\.1[89]\.' >"$TMP/iptables-after" || true
  if diff -q "$TMP/iptables-before" "$TMP/iptables-after" >/dev/null; then pass "the host's iptables rules are as before"
  else failed "iptables rules changed on the host: $(diff "$TMP/iptables-before" "$TMP/iptables-after" | head -n 5)"; fi
}
trap finish EXIT

# --- the node ---------------------------------------------------------------------------------------------

# The node's Debian packages and the Rust musl target, when missing (like scripts/test.sh's packages step;
# policy-rc.d keeps a package's service from starting while it installs).
node_packages() {
  local pkg missing="" policy=/usr/sbin/policy-rc.d created=0 rc=0
  for pkg in runc containernetworking-plugins iptables musl-tools; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    echo "test-node: installing:$missing"
    if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && created=1; fi
    # shellcheck disable=SC2086 # a list of packages
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=1
    [ $created = 0 ] || rm -f $policy
    [ $rc = 0 ] || return 1
  fi
  rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl \
    || rustup target add x86_64-unknown-linux-musl
}
[ "$(id -u)" = 0 ] || die "needs root (network namespace, mounts, cgroups)"
node_packages || die "installing the node's packages"
bash "$ROOT/scripts/toolchain.sh" kube etcd helm node || die "scripts/toolchain.sh kube etcd helm node"
iptables-save 2>/dev/null | grep -E 'KUBE-|198\.1[89]\.' >"$TMP/iptables-before" || true
# The node's network namespace and state directory, known before it starts (for check_clean).
eval "$(bash -c 'source "$1" && printf "NETNS=%q\nNODE_STATE=%q\n" "$NETNS" "$STATE"' _ "$ROOT/scripts/node.sh")"
if ! $NODE status >/dev/null 2>&1; then
  STARTED_NODE=1
  $NODE start || die "scripts/node.sh start"
fi
eval "$($NODE env)" || die "scripts/node.sh env"
KUBECTL=$(bash "$ROOT/scripts/toolchain.sh" path kubectl)
HELM=$(bash "$ROOT/scripts/toolchain.sh" path helm)
export HELM_CACHE_HOME=$TMP/helm/cache HELM_CONFIG_HOME=$TMP/helm/config HELM_DATA_HOME=$TMP/helm/data
# shellcheck disable=SC2086 # NODE_EXEC is a command prefix
k() { $NODE_EXEC "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
# shellcheck disable=SC2086
helm() { $NODE_EXEC "$HELM" --kubeconfig "$KUBECONFIG" "$@"; }
# shellcheck disable=SC2086
in_node() { $NODE_EXEC "$@"; }
prom() { in_node curl -fsS --max-time 5 "$PROMETHEUS_URL$1"; }

# A node that was already running may hold a previous run's objects.
helm uninstall "$REL" -n "$NS" --wait >/dev/null 2>&1 || true
k delete namespace "$APPS" "$NS" --ignore-not-found --wait --timeout 120s >/dev/null 2>&1 || true
rm -f "$NODE_STATE/prometheus/rules/tlsaudit.yaml"

# until_ok SECONDS CMD...: polls CMD every second.
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

# --- test workloads -----------------------------------------------------------------------------------

# A CA and the servers' certificates; `openssl ca` because the expired one needs dates in the past.
make_certs() {
  local d=$TMP/pki
  mkdir -p "$d/db" && : >"$d/db/index.txt" && echo 01 >"$d/db/serial"
  cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $d
database = $d/db/index.txt
serial = $d/db/serial
new_certs_dir = $d/db
certificate = $d/ca.crt
private_key = $d/ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
EOF
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=tlsaudit node test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # leaf NAME SERVICE START END (openssl ca dates, YYYYMMDDHHMMSSZ)
  leaf() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2.$APPS.svc" \
      -addext "subjectAltName=DNS:$2.$APPS.svc,DNS:$2.$APPS.svc.cluster.local" \
      -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
      -addext "extendedKeyUsage=serverAuth" -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    openssl ca -batch -notext -config "$d/ca.cnf" -in "$d/$1.csr" -out "$d/$1.crt" -startdate "$3" -enddate "$4" \
      >/dev/null 2>&1 || die "openssl ca for $1"
  }
  local now; now=$(date +%s)
  at() { date -u -d "@$((now + $1 * 86400))" +%Y%m%d%H%M%SZ; }
  leaf web web "$(at -1)" "$(at 90)"
  leaf web-stale web "$(at -70)" "$(at 20)"
  leaf billing billing "$(at -100)" "$(at -3)"
  leaf vault vault "$(at -1)" "$(at 90)"
  leaf legacy legacy "$(at -1)" "$(at 90)"
  # The client certificate the vault server requires, from a CA of its own.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=client ca" \
    -addext "basicConstraints=critical,CA:TRUE" -keyout "$d/client-ca.key" -out "$d/client-ca.crt" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=tlsaudit" \
    -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/client-ca.crt" -CAkey "$d/client-ca.key" -CAcreateserial \
    -days 60 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null || die "client certificate"
}

# deployment NAME SERVICE REPLICAS EXTRA_ARGS...: openssl s_server Pods serving NAME's certificate on 8443.
deployment() {
  local name=$1 svc=$2 replicas=$3 args="" a; shift 3
  for a in "$@"; do args="$args, \"$a\""; done
  cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name, namespace: $APPS}
spec:
  replicas: $replicas
  selector: {matchLabels: {app: $svc, config: $name}}
  template:
    metadata: {labels: {app: $svc, config: $name}}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 2
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
        - name: server
          image: $(bash "$ROOT/scripts/image.sh" name tls-server)
          imagePullPolicy: Never
          args: ["s_server", "-accept", "8443", "-www", "-quiet", "-cert", "/tls/tls.crt", "-key", "/tls/tls.key"$args]
          ports: [{name: https, containerPort: 8443}]
          readinessProbe: {tcpSocket: {port: https}, periodSeconds: 2}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts:
            - {name: tls, mountPath: /tls, readOnly: true}
            - {name: client-ca, mountPath: /client-ca, readOnly: true}
      volumes:
        - {name: tls, secret: {secretName: $name-tls}}
        - {name: client-ca, secret: {secretName: client-ca}}
EOF
}

service() {
  cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: $APPS, labels: {tlsaudit-node-test: "true"}}
spec:
  selector: {app: $1}
  ports: [{name: https, port: 443, targetPort: https}]
EOF
}

workloads() {
  make_certs
  local d=$TMP/pki name
  k create namespace "$APPS" >/dev/null || return 1
  for name in web web-stale billing vault legacy; do
    k create secret tls "$name-tls" -n "$APPS" --cert "$d/$name.crt" --key "$d/$name.key" >/dev/null || return 1
  done
  k create secret generic client-ca -n "$APPS" --from-file=ca.crt="$d/client-ca.crt" >/dev/null || return 1
  k create secret tls vault-client -n "$APPS" --cert "$d/client.crt" --key "$d/client.key" >/dev/null || return 1
  k create secret generic test-ca -n "$APPS" --from-file=ca.crt="$d/ca.crt" >/dev/null || return 1
  {
    deployment web web 2
    deployment web-stale web 1
    deployment billing billing 1
    deployment vault vault 1 -Verify 1 -CAfile /client-ca/ca.crt
    # TLS 1.0 only; OpenSSL 3 offers it only at security level 0.
    deployment legacy legacy 1 -tls1 -cipher "DEFAULT:@SECLEVEL=0"
    service web; service billing; service vault; service legacy
  } >"$TMP/workloads.yaml"
  k apply -f - <"$TMP/workloads.yaml" >/dev/null
}

audit() {
  cat <<EOF | k apply -f - >/dev/null
apiVersion: tlsaudit.dev/v1alpha1
kind: TlsAudit
metadata: {name: apps, namespace: $APPS}
spec:
  services:
    selector: {matchLabels: {tlsaudit-node-test: "true"}}
    perEndpoint: true
  trust:
    caBundle: {secretRef: {name: test-ca, key: ca.crt}}
    systemRoots: false
  clientCertificate:
    secretRef: {name: vault-client}
  interval: 1m
EOF
}

pod_ips() { k get pods -n "$APPS" -l "config=$1" -o jsonpath='{range .items[?(@.status.podIP)]}{.status.podIP}{"\n"}{end}' | sort; }

# The audit's endpoints as "target address grade code,code" lines (sorted).
endpoints_of_audit() {
  k get tlsaudit apps -n "$APPS" -o json | python3 -c '
import json, sys
st = json.load(sys.stdin).get("status") or {}
for e in st.get("endpoints") or []:
    codes = ",".join(sorted(f["code"] for f in e.get("findings") or []))
    print(e.get("target"), e.get("address"), e.get("grade"), codes or "-")
' | sort
}

# --- 1, 2: install, the operator Pod becomes Ready ------------------------------------------------------

SHORT_FOR=(--set prometheusRule.alerts.certificateExpiringSoon.for=10s
  --set prometheusRule.alerts.certificateExpired.for=10s
  --set prometheusRule.alerts.legacyProtocol.for=10s
  --set prometheusRule.alerts.certificateExpiringCritical.for=10s
  --set prometheusRule.alerts.weakCipher.for=10s
  --set prometheusRule.alerts.chainIncompleteOrUntrusted.for=10s
  --set prometheusRule.alerts.hostnameMismatch.for=10s
  --set prometheusRule.alerts.endpointUnreachable.for=10s
  --set prometheusRule.alerts.handshakeFailing.for=10s
  --set prometheusRule.alerts.operatorDown.for=10s)
VALUES=(--set image.repository=tlsaudit.local/tlsaudit --set image.tag=dev --set image.pullPolicy=Never
  --set controller.logLevel=info)

if helm install "$REL" "$CHART" -n "$NS" --create-namespace "${VALUES[@]}" --wait --timeout 180s >"$TMP/out" 2>&1; then
  pass "helm install with the local image (--wait: the Deployment became available)"
else cat "$TMP/out"; die "helm install"; fi
OPERATOR_POD=$(k get pods -n "$NS" -l app.kubernetes.io/name=tlsaudit -o jsonpath='{.items[0].metadata.name}')
ready=$(k get pod "$OPERATOR_POD" -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].restartCount}')
if [ "$ready" = "True 0" ]; then pass "the operator Pod $OPERATOR_POD is Ready (readiness probe) and was never restarted (liveness probe)"
else failed "the operator Pod: Ready and restarts = '$ready'"; fi
# The container's process, seen from the host: uid and root filesystem as the chart's securityContext says.
pid=$(pgrep -f '^/tlsaudit controller' | head -n 1)
if [ -n "$pid" ] && [ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 65532 ]; then
  pass "the operator runs as uid 65532"
else failed "the operator process (pid '$pid') does not run as uid 65532"; fi
if [ -n "$pid" ] && awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | grep -q '^ro'; then
  pass "the operator's root filesystem is read-only"
else failed "the operator's root filesystem is not read-only"; fi
if [ -n "$pid" ] && [ "$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")" = 0000000000000000 ]; then
  pass "the operator has no capabilities"
else failed "the operator has capabilities"; fi
k get pod "$OPERATOR_POD" -n "$NS" -o jsonpath='{.spec.containers[0].image}' | grep -qx 'tlsaudit.local/tlsaudit:dev' \
  && pass "the Pod runs tlsaudit.local/tlsaudit:dev" || failed "the Pod's image is not tlsaudit.local/tlsaudit:dev"

# --- 3, 4, 5: workloads, the audit, per-Pod findings ------------------------------------------------------

workloads || die "creating the test workloads"
if until_ok 120 k wait --for=condition=Available deployment --all -n "$APPS" --timeout=5s; then
  pass "the TLS server Deployments are available"
else k get pods -n "$APPS" -o wide; die "the TLS server Deployments did not become available"; fi
audit
WEB=$(pod_ips web); STALE=$(pod_ips web-stale); BILLING=$(pod_ips billing); VAULT=$(pod_ips vault); LEGACY=$(pod_ips legacy)
[ "$(echo "$WEB" | wc -w)" = 2 ] && [ -n "$STALE" ] && [ -n "$BILLING" ] && [ -n "$VAULT" ] && [ -n "$LEGACY" ] \
  || die "Pod IPs missing: web '$WEB' stale '$STALE' billing '$BILLING' vault '$VAULT' legacy '$LEGACY'"
expected_addresses() {
  local ip
  for ip in $WEB $STALE; do echo "service/web $ip:8443"; done
  echo "service/billing $BILLING:8443"; echo "service/vault $VAULT:8443"; echo "service/legacy $LEGACY:8443"
}
all_audited() { [ "$(endpoints_of_audit | awk '{print $1, $2}')" = "$(expected_addresses | sort)" ]; }
if until_ok 180 all_audited; then pass "the status lists exactly the 6 Pod endpoints (real Pod IPs from the EndpointSlices)"
else endpoints_of_audit; die "the status does not list the Pod endpoints: $(expected_addresses | tr '\n' ' ')"; fi
slices=$(k get endpointslices -n "$APPS" -l kubernetes.io/service-name=web -o jsonpath='{.items[*].metadata.labels.endpointslice\.kubernetes\.io/managed-by}')
[ "$slices" = endpointslice-controller.k8s.io ] && pass "the web Service's EndpointSlice was written by the controller-manager" \
  || failed "the web EndpointSlice is managed by '$slices'"
endpoints_of_audit >"$TMP/endpoints"
cat "$TMP/endpoints"
has_code() { grep -q "^$1 $2 [^ ]* \(.*,\)\?$3\(,.*\)\?$" "$TMP/endpoints"; }
lacks_codes() { ! grep "^$1 $2 " "$TMP/endpoints" | grep -qE "$3"; }
BAD='cert\.|protocol\.tls1_0|chain\.|mtls\.client_cert_missing|handshake|connect\.'
for ip in $WEB; do
  lacks_codes service/web "$ip:8443" "$BAD" && pass "healthy web Pod $ip: no certificate, chain, protocol or connection finding" \
    || failed "healthy web Pod $ip has findings: $(grep " $ip:8443 " "$TMP/endpoints")"
done
grade() { awk -v t="$1" -v a="$2" '$1 == t && $2 == a { print $3 }' "$TMP/endpoints"; }
grades="$(for ip in $WEB; do grade service/web "$ip:8443"; done | tr '\n' ' ')$(grade service/web "$STALE:8443") $(grade service/billing "$BILLING:8443") $(grade service/vault "$VAULT:8443") $(grade service/legacy "$LEGACY:8443")"
[ "$grades" = "A- A- A- T A- C" ] && pass "grades (SSL Labs 2009r: no HSTS caps at A-): web A- A-, stale A-, billing T, vault A-, legacy C" \
  || failed "grades web web stale billing vault legacy: $grades"
has_code service/web "$STALE:8443" cert.expiring_soon && pass "the stale web replica $STALE: cert.expiring_soon" \
  || failed "the stale web replica: $(grep " $STALE:8443 " "$TMP/endpoints")"
has_code service/billing "$BILLING:8443" cert.expired && pass "billing $BILLING: cert.expired" \
  || failed "billing: $(grep " $BILLING:8443 " "$TMP/endpoints")"
has_code service/legacy "$LEGACY:8443" protocol.tls1_0 && pass "legacy $LEGACY: protocol.tls1_0" \
  || failed "legacy: $(grep " $LEGACY:8443 " "$TMP/endpoints")"
has_code service/vault "$VAULT:8443" mtls.required && lacks_codes service/vault "$VAULT:8443" "$BAD|mtls\.client_cert" \
  && pass "vault $VAULT: mtls.required, and the client certificate from the Secret was accepted" \
  || failed "vault: $(grep " $VAULT:8443 " "$TMP/endpoints")"

# --- 6: Prometheus scrapes the Pod and fires the chart's alerts --------------------------------------------

STATE_DIR=$NODE_STATE
if helm template "$REL" "$CHART" -n "$NS" --kube-version 1.37.0 --set prometheusRule.enabled=true "${SHORT_FOR[@]}" \
    --show-only templates/prometheusrule.yaml >"$TMP/rule.yaml" 2>"$TMP/err"; then
  sed '1,/^spec:$/d; s/^  //' "$TMP/rule.yaml" >"$STATE_DIR/prometheus/rules/tlsaudit.yaml"
  prom_reload() { in_node curl -fsS --max-time 10 -X POST "$PROMETHEUS_URL/-/reload"; }
  prom_reload >/dev/null || failed "Prometheus /-/reload"
  rules=$(prom /api/v1/rules | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
  want=$(grep -c '^ *- alert:' "$STATE_DIR/prometheus/rules/tlsaudit.yaml")
  [ "$rules" = "$want" ] && [ "$rules" -gt 10 ] && pass "Prometheus loaded the chart's $rules rules" \
    || failed "Prometheus loaded $rules rules, the chart renders $want"
else cat "$TMP/err"; failed "helm template of the PrometheusRule"; fi
scraped() { prom '/api/v1/query?query=up%7Bjob%3D%22tlsaudit%22%7D%3D%3D1' | grep -q "\"pod\":\"$OPERATOR_POD\""; }
until_ok 60 scraped && pass "Prometheus scrapes the operator Pod $OPERATOR_POD (up == 1)" || failed "Prometheus does not scrape the operator Pod"
# Firing alerts as "alertname endpoint" lines.
firing() {
  prom /api/v1/alerts | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["state"] == "firing":
        print(a["labels"]["alertname"], a["labels"].get("endpoint", "-"))
' | sort
}
alerts_fired() {
  firing >"$TMP/firing"
  grep -qx "TlsAuditCertificateExpiringSoon $STALE:8443" "$TMP/firing" \
    && grep -qx "TlsAuditCertificateExpired $BILLING:8443" "$TMP/firing" \
    && grep -qx "TlsAuditLegacyProtocol $LEGACY:8443" "$TMP/firing"
}
if until_ok 120 alerts_fired; then
  pass "Prometheus fires TlsAuditCertificateExpiringSoon ($STALE), TlsAuditCertificateExpired ($BILLING), TlsAuditLegacyProtocol ($LEGACY)"
else failed "the expected alerts do not fire; firing: $(tr '\n' ';' <"$TMP/firing")"; fi
sleep 12   # a pending alert for a healthy endpoint would fire within its 10 s `for:`
firing >"$TMP/firing"
cat "$TMP/firing"
healthy_alerts=$(grep -E " ($(echo $WEB $VAULT | sed 's/ /|/g')):8443$" "$TMP/firing" || true)
[ -z "$healthy_alerts" ] && pass "no alert fires for the healthy endpoints (web x2, vault)" \
  || failed "alerts fire for healthy endpoints: $healthy_alerts"
grep -qE "^TlsAuditCertificateExpiringCritical $STALE:" "$TMP/firing" && failed "the 20-day certificate fired the critical expiry alert" \
  || pass "the stale replica fires the warning, not the critical expiry alert"
# Exactly these (alert, endpoint) pairs fire; TLS 1.0's CBC-only suites also raise the weak-cipher alert.
want_firing=$(printf '%s\n' "TlsAuditCertificateExpired $BILLING:8443" "TlsAuditCertificateExpiringSoon $STALE:8443" \
  "TlsAuditLegacyProtocol $LEGACY:8443" "TlsAuditWeakCipher $LEGACY:8443" | sort)
[ "$(sort -u "$TMP/firing")" = "$want_firing" ] && pass "exactly the 4 expected (alert, endpoint) pairs fire" \
  || failed "firing: $(sort -u "$TMP/firing" | tr '\n' ';') expected: $(echo "$want_firing" | tr '\n' ';')"
grep -q '^TlsAuditOperatorDown' "$TMP/firing" && failed "TlsAuditOperatorDown fires" || pass "TlsAuditOperatorDown does not fire"

# --- 7: a new Pod is audited without a trigger ---------------------------------------------------------

k scale deployment web -n "$APPS" --replicas 3 >/dev/null
until_ok 60 sh -c "[ \$($NODE_EXEC $KUBECTL --kubeconfig $KUBECONFIG get pods -n $APPS -l config=web -o jsonpath='{.items[*].status.podIP}' | wc -w) = 3 ]"
NEW=$(comm -13 <(echo "$WEB") <(pod_ips web))
new_audited() { endpoints_of_audit | grep -q "^service/web $NEW:8443 "; }
if [ -n "$NEW" ] && until_ok 120 new_audited; then pass "the new web Pod $NEW was audited without a trigger"
else failed "the new web Pod '$NEW' was not audited"; fi

# --- 8: the operator Pod is replaced and the audit carries on ------------------------------------------

last_audit() { k get tlsaudit apps -n "$APPS" -o jsonpath='{.status.lastAuditTime}'; }
k delete pod "$OPERATOR_POD" -n "$NS" --wait=false >/dev/null
# Ready operator Pods other than the deleted one.
replaced() {
  k get pods -n "$NS" -l app.kubernetes.io/name=tlsaudit \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    | grep -v "^$OPERATOR_POD " | grep -q ' True$'
}
before=$(last_audit)
if until_ok 120 replaced; then pass "the Deployment replaced the deleted operator Pod"
else failed "no Ready replacement for the deleted operator Pod"; fi
advanced() { local now; now=$(last_audit); [ -n "$now" ] && [ "$now" != "$before" ]; }
if until_ok 150 advanced; then pass "the replacement audits: lastAuditTime $before -> $(last_audit)"
else failed "lastAuditTime stays $before after the operator Pod was replaced"; fi

# --- 9: two replicas, one leader -------------------------------------------------------------------------

holder() { k get lease "$FULL" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
# Running operator Pods that are not being deleted, as "name ip" lines.
operator_pods() {
  k get pods -n "$NS" -l app.kubernetes.io/name=tlsaudit --field-selector status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.metadata.deletionTimestamp}{"\n"}{end}' | awk 'NF == 2'
}
# Pods that exported a per-audit series since they started: they audited.
auditors() {
  local name ip
  while read -r name ip; do
    in_node curl -fsS --max-time 5 "http://$ip:8080/metrics" 2>/dev/null | grep -q '^tlsaudit_audit_last_run_timestamp_seconds{' && echo "$name"
  done < <(operator_pods)
}
if helm upgrade "$REL" "$CHART" -n "$NS" "${VALUES[@]}" --set replicas=2 --wait --timeout 180s >"$TMP/out" 2>&1; then
  pass "helm upgrade --set replicas=2"
else cat "$TMP/out"; failed "helm upgrade --set replicas=2"; fi
two_ready() { [ "$(operator_pods | wc -l)" = 2 ] && [ -n "$(holder)" ] && operator_pods | awk '{print $1}' | grep -qx "$(holder)"; }
until_ok 120 two_ready || failed "two operator Pods with a Lease holder among them: $(operator_pods | tr '\n' ' ') holder '$(holder)'"
H1=$(holder)
one_auditor() { [ "$(auditors)" = "$1" ]; }
if until_ok 150 one_auditor "$H1"; then pass "of 2 replicas only the Lease holder $H1 audits"
else failed "auditors: '$(auditors | tr '\n' ' ')', holder '$H1'"; fi
k delete pod "$H1" -n "$NS" --wait=false >/dev/null
moved() { local h; h=$(holder); [ -n "$h" ] && [ "$h" != "$H1" ] && operator_pods | awk '{print $1}' | grep -qx "$h"; }
if until_ok 120 moved; then pass "the Lease moved from $H1 to $(holder)"
else failed "the Lease did not move from $H1 (holder '$(holder)')"; fi
H2=$(holder)
if until_ok 150 one_auditor "$H2"; then pass "only the new holder $H2 audits"
else failed "auditors after the move: '$(auditors | tr '\n' ' ')', holder '$H2'"; fi

# --- 10: uninstall ---------------------------------------------------------------------------------------

# The operators' last words: whether the leader released its Lease while Helm deleted its RBAC.
k logs -f -n "$NS" -l app.kubernetes.io/name=tlsaudit --prefix --max-log-requests 5 --tail 0 >"$TMP/last-logs" 2>&1 &
logs_pid=$!
sleep 1
if helm uninstall "$REL" -n "$NS" --wait --timeout 120s >"$TMP/out" 2>&1; then pass "helm uninstall"
else cat "$TMP/out"; failed "helm uninstall"; fi
gone_all() {
  [ -z "$(k get deployments,replicasets,pods,services,serviceaccounts,roles,rolebindings,configmaps,secrets,poddisruptionbudgets -n "$NS" -l app.kubernetes.io/instance=$REL -o name)" ] \
    && [ -z "$(k get pods -n "$NS" -o name)" ] \
    && [ -z "$(k get clusterroles,clusterrolebindings -l app.kubernetes.io/instance=$REL -o name)" ]
}
if until_ok 90 gone_all; then pass "no object or Pod of the release is left"
else failed "left after uninstall: $(k get all -n "$NS" -o name | tr '\n' ' ')"; fi
containers() { in_node "$(bash "$ROOT/scripts/toolchain.sh" path ctr)" --address "$STATE_DIR/containerd/containerd.sock" -n k8s.io containers ls 2>/dev/null | grep -c 'tlsaudit.local/tlsaudit:' || true; }
no_containers() { [ "$(containers)" = 0 ]; }
if until_ok 60 no_containers; then pass "no operator container is left in containerd"
else failed "$(containers) operator containers left in containerd"; fi
kill "$logs_pid" 2>/dev/null; wait "$logs_pid" 2>/dev/null
# The Lease is the operator's own object, not the release's: it stays. The leader releases it on
# SIGTERM, unless Helm has deleted the leader-election Role first (docs/install.md, "Uninstall").
lease=$(k get lease "$FULL" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
if [ -z "$lease" ]; then pass "the Lease has no holder after uninstall"
elif k get pod "$lease" -n "$NS" >/dev/null 2>&1; then failed "the Lease is held by a Pod that still exists: $lease"
else
  pass "the Lease names no live Pod (its last holder $lease is gone)"
  grep -iE 'lease|forbidden' "$TMP/last-logs" | tail -n 3
fi
