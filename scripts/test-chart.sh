#!/usr/bin/env bash
# Tests of the Helm chart, the plain manifests, the alerts and the dashboard:
#   1. helm lint; helm template with default values and with every optional part on (rendered objects checked
#      by tests/chart/checks.py: security context, probes, flags, exact RBAC rules, monitoring objects)
#   2. a typo or a bad value in values is rejected by values.schema.json with a message naming it
#   3. derived files are in sync (scripts/render-deploy.sh --check): deploy/, the chart's CRD copy
#      (== crds/tlsaudit.yaml), the schema's finding codes (== src/findings.rs)
#   4. promtool check rules + promtool test rules (a firing and a silent case for every alert), overrides
#   5. the Grafana dashboard: JSON, variables, every query parsed by promtool, metric names in the contract;
#      every value has a comment and a row in docs/install.md, every alert a section in docs/alerts.md
#   6. against the control plane in $KUBECONFIG: plain manifests accepted (server-side dry run); helm
#      install with every option, objects present, RBAC asserted with `kubectl auth can-i --as=<the SA>`;
#      helm upgrade changes RBAC (secrets, leases) as the values say; helm uninstall leaves nothing behind
#
# Usage: scripts/test-chart.sh             all of it; needs KUBECONFIG (scripts/control-plane.sh start/env)
#        scripts/test-chart.sh --offline   steps 1-5 only, and says so loudly
# Environment: TLSAUDIT_METRICS_CONTRACT  the metrics contract (default docs/metrics.md)
#              TLSAUDIT_METRICS_SCRAPE    a /metrics scrape of the running operator: every metric name that
#                                         the alerts and dashboard use must be in it too
# Tools: helm, promtool, kubectl from scripts/toolchain.sh (or $HELM, $PROMTOOL, $KUBECTL); python3 + PyYAML.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART=$ROOT/charts/tlsaudit
TESTS=$ROOT/tests/chart
KUBE_VERSION=1.37.0
START=$SECONDS
PASSED=0
FAILED=0

offline=false
case ${1:-} in
  --offline) offline=true ;;
  "") ;;
  *) echo "usage: $0 [--offline]" >&2; exit 2 ;;
esac

die() { echo "test-chart: FAILED: $*" >&2; exit 1; }
pass() { PASSED=$((PASSED + 1)); echo "  ok  $*"; }
failed() { FAILED=$((FAILED + 1)); echo "  FAIL $*" >&2; }
step() { echo "== $* ($((SECONDS - START)) s)"; }

tool() {
  local name=$1 override=$2 path
  if [ -n "$override" ]; then path=$override; else path=$(bash "$ROOT/scripts/toolchain.sh" path "$name"); fi
  [ -x "$path" ] || die "$name not found at $path (build it with: bash scripts/toolchain.sh $name)"
  echo "$path"
}
HELM=$(tool helm "${HELM:-}")
PROMTOOL=$(tool promtool "${PROMTOOL:-}")
command -v python3 >/dev/null || die "python3 is not installed (Debian: apt-get install python3)"
python3 -c 'import yaml' 2>/dev/null || die "PyYAML is not installed (Debian: apt-get install python3-yaml)"

TMP=$(mktemp -d)
cleanup_cluster() { :; }
trap 'cleanup_cluster; rm -rf "$TMP"' EXIT

# py CHECK ARGS...: tests/chart/checks.py; each `ok` line is one passed check, a non-zero exit one failure.
py() {
  local out rc=0
  out=$(python3 "$TESTS/checks.py" "$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v '^  [0-9]* checks passed' || true
  PASSED=$((PASSED + $(printf '%s\n' "$out" | grep -c '^  ok ' || true)))
  [ $rc -eq 0 ] || failed "checks.py $1"
}

template() { "$HELM" template tlsaudit "$CHART" --namespace tlsaudit --kube-version "$KUBE_VERSION" "$@"; }

# --- 1. lint and render ------------------------------------------------------------------------------
step "helm lint and template"
if "$HELM" lint --strict "$CHART" --kube-version "$KUBE_VERSION" >"$TMP/lint" 2>&1; then
  pass "helm lint --strict passes with default values"
else cat "$TMP/lint" >&2; failed "helm lint --strict with default values"; fi
if "$HELM" lint --strict "$CHART" --kube-version "$KUBE_VERSION" -f "$TESTS/values-all-options.yaml" >"$TMP/lint" 2>&1; then
  pass "helm lint --strict passes with every optional part on"
else cat "$TMP/lint" >&2; failed "helm lint --strict with every optional part on"; fi
if template >"$TMP/defaults.yaml"; then pass "helm template renders with default values"
else failed "helm template with default values"; fi
py render-defaults "$TMP/defaults.yaml"
if template -f "$TESTS/values-all-options.yaml" >"$TMP/all.yaml"; then
  pass "helm template renders with every optional part on"
else failed "helm template with every optional part on"; fi
py render-all-options "$TMP/all.yaml"
# The probe deadline is the binary's default (6 x probeTimeout) unless set; readiness grace always explicit.
template --show-only templates/deployment.yaml >"$TMP/deadline.yaml"
if ! grep -q -- '--probe-deadline' "$TMP/deadline.yaml" && grep -q -- '--readiness-grace=30s' "$TMP/deadline.yaml"; then
  pass "default values pass no --probe-deadline and --readiness-grace=30s"
else failed "default values pass no --probe-deadline and --readiness-grace=30s"; fi
template --set controller.probeDeadline=45s --set controller.readinessGrace=1m --show-only templates/deployment.yaml >"$TMP/deadline.yaml"
if grep -q -- '--probe-deadline=45s' "$TMP/deadline.yaml" && grep -q -- '--readiness-grace=1m' "$TMP/deadline.yaml"; then
  pass "controller.probeDeadline=45s and readinessGrace=1m reach the flags"
else failed "controller.probeDeadline=45s and readinessGrace=1m reach the flags"; fi
# Light probes: every 6th cycle full by default; 1 makes every cycle full.
template --show-only templates/deployment.yaml >"$TMP/light.yaml"
if grep -q -- '--full-probe-every=6' "$TMP/light.yaml"; then
  pass "default values pass --full-probe-every=6"
else failed "default values pass --full-probe-every=6"; fi
template --set controller.fullProbeEvery=1 --show-only templates/deployment.yaml >"$TMP/light.yaml"
if grep -q -- '--full-probe-every=1' "$TMP/light.yaml"; then
  pass "controller.fullProbeEvery=1 reaches the flag"
else failed "controller.fullProbeEvery=1 reaches the flag"; fi
# Leader election follows the replica count unless set explicitly.
template --set replicas=3 --set leaderElection.enabled=false --show-only templates/deployment.yaml >"$TMP/le.yaml"
if grep -q -- '--leader-election=off' "$TMP/le.yaml" && grep -q 'type: Recreate' "$TMP/le.yaml"; then
  pass "leaderElection.enabled=false keeps it off with 3 replicas"
else failed "leaderElection.enabled=false keeps it off with 3 replicas"; fi
template --set leaderElection.enabled=true --show-only templates/rbac.yaml >"$TMP/le.yaml"
if grep -q 'name: tlsaudit-leader-election' "$TMP/le.yaml"; then
  pass "leaderElection.enabled=true with 1 replica creates the Lease Role"
else failed "leaderElection.enabled=true with 1 replica creates the Lease Role"; fi
# Sharding: every replica audits a share; no leader election, a Role for the member Leases.
if template --set replicas=3 --set sharding.enabled=true >"$TMP/sharding.yaml"; then
  pass "helm template renders with sharding.enabled=true"
else failed "helm template with sharding.enabled=true"; fi
py render-sharding "$TMP/sharding.yaml"
if template --set sharding.enabled=true --set leaderElection.enabled=true >/dev/null 2>"$TMP/err"; then
  failed "sharding.enabled=true with leaderElection.enabled=true renders"
elif grep -q "sharding replaces leader election" "$TMP/err"; then
  pass "sharding.enabled=true with leaderElection.enabled=true fails and says why"
else cat "$TMP/err" >&2; failed "sharding with leader election: unclear message"; fi
template --set rbac.secrets=none --show-only templates/rbac.yaml >"$TMP/none.yaml"
if ! grep -q 'secrets' "$TMP/none.yaml"; then pass "rbac.secrets=none grants no Secret access anywhere"
else failed "rbac.secrets=none grants no Secret access anywhere"; fi
template --set rbac.certManager=false --show-only templates/rbac.yaml >"$TMP/nocm.yaml"
if ! grep -q 'cert-manager.io' "$TMP/nocm.yaml"; then pass "rbac.certManager=false grants no cert-manager access"
else failed "rbac.certManager=false grants no cert-manager access"; fi
template --set rbac.create=false >"$TMP/norbac.yaml"
if ! grep -Eq '^kind: (ClusterRole|ClusterRoleBinding|Role|RoleBinding)$' "$TMP/norbac.yaml"; then
  pass "rbac.create=false renders no RBAC object"
else failed "rbac.create=false renders no RBAC object"; fi
# Cluster audits (spec.cluster): off by default; on adds one read-only ClusterRole and the flag.
if ! grep -Eq 'cluster-audits|validatingwebhookconfigurations|apiservices' "$TMP/defaults.yaml"; then
  pass "clusterAudits is off by default: no flag, no webhook/APIService/CRD rights"
else failed "clusterAudits is off by default: no flag, no webhook/APIService/CRD rights"; fi
template --set clusterAudits.enabled=true >"$TMP/cluster-audits.yaml"
if grep -q -- '- --cluster-audits=on' "$TMP/cluster-audits.yaml" \
    && grep -q 'name: tlsaudit-cluster-audits' "$TMP/cluster-audits.yaml" \
    && [ "$(grep -A2 -E 'resources: \[(validatingwebhookconfigurations, mutatingwebhookconfigurations|apiservices|customresourcedefinitions)\]' "$TMP/cluster-audits.yaml" | grep -c 'verbs: \[get, list, watch\]')" = 3 ]; then
  pass "clusterAudits.enabled=true passes --cluster-audits=on and grants get/list/watch only on the four kinds"
else failed "clusterAudits.enabled=true: flag or read-only ClusterRole missing"; fi
if template --set serviceAccount.create=false >/dev/null 2>"$TMP/err" ; then
  failed "serviceAccount.create=false without a name is refused"
elif grep -q 'serviceAccount.name is required' "$TMP/err"; then
  pass "serviceAccount.create=false without a name is refused with a message"
else cat "$TMP/err" >&2; failed "serviceAccount.create=false without a name is refused with a message"; fi

# --- 2. values schema --------------------------------------------------------------------------------
step "values schema rejects typos and bad values"
# reject "SENTENCE" "EXPECTED MESSAGE (grep -E)" HELM-ARGS...
reject() {
  local sentence=$1 pattern=$2; shift 2
  if template "$@" >/dev/null 2>"$TMP/err"; then
    failed "$sentence (helm template accepted $*)"
  elif grep -Eq "$pattern" "$TMP/err"; then
    pass "$sentence"
  else
    cat "$TMP/err" >&2; failed "$sentence (message does not match /$pattern/)"
  fi
}
reject "a misspelt top-level key (replcas) is rejected and named" "additional properties 'replcas' not allowed" --set replcas=2
reject "a misspelt nested key (controller.concurency) is rejected and named" "at '/controller': additional properties 'concurency' not allowed" --set controller.concurency=4
reject "a misspelt clusterAudits key (clusterAudits.enable) is rejected and named" "at '/clusterAudits': additional properties 'enable' not allowed" --set clusterAudits.enable=true
reject "a misspelt alert threshold (certificateExpiringSoon.dayz) is rejected and named" "additional properties 'dayz' not allowed" \
  --set prometheusRule.alerts.certificateExpiringSoon.dayz=10
reject "an unknown rbac.secrets mode is rejected" "at '/rbac/secrets': value must be one of 'cluster', 'namespaces', 'none'" --set rbac.secrets=everywhere
reject "an unknown finding code in an alert's codes is rejected" "at '/prometheusRule/alerts/weakCipher/codes/0': value must be one of" \
  --set 'prometheusRule.alerts.weakCipher.codes={cipher.rc5}'
reject "a malformed duration (controller.defaultInterval=1 hour) is rejected" "at '/controller/defaultInterval': '1 hour' does not match pattern" \
  --set 'controller.defaultInterval=1 hour'
reject "a malformed probe deadline (controller.probeDeadline=soon) is rejected" "/controller/probeDeadline" \
  --set controller.probeDeadline=soon
reject "controller.fullProbeEvery=0 is rejected" "/controller/fullProbeEvery" --set controller.fullProbeEvery=0
reject "a string where a number belongs (replicas=two) is rejected" "at '/replicas'" --set replicas=two
reject "rbac.secrets=namespaces without a namespace is refused with a message" "rbac.secretNamespaces lists none" \
  --set rbac.secrets=namespaces

# --- the image and the chart agree -----------------------------------------------------------------------
uid=$(python3 -c 'import sys, yaml; v = yaml.safe_load(open(sys.argv[1])); print(v["podSecurityContext"]["runAsUser"])' "$CHART/values.yaml")
if grep -qx "USER $uid:$uid" "$ROOT/Dockerfile"; then pass "the Dockerfile's USER is the chart's runAsUser ($uid)"
else failed "the Dockerfile's USER differs from the chart's podSecurityContext.runAsUser ($uid)"; fi
if grep -q 'ENTRYPOINT \["/tlsaudit"\]' "$ROOT/Dockerfile"; then pass "the image's entrypoint is /tlsaudit, so the chart's args start with the subcommand"
else failed "the Dockerfile's ENTRYPOINT is not [\"/tlsaudit\"]"; fi

# --- 3. derived files ------------------------------------------------------------------------------------
step "derived files in sync"
if cmp -s "$ROOT/crds/tlsaudit.yaml" "$CHART/crds/tlsaudit.yaml"; then
  pass "charts/tlsaudit/crds/tlsaudit.yaml is identical to crds/tlsaudit.yaml"
else failed "charts/tlsaudit/crds/tlsaudit.yaml differs from crds/tlsaudit.yaml: run scripts/render-deploy.sh"; fi
if HELM=$HELM bash "$ROOT/scripts/render-deploy.sh" --check; then
  pass "deploy/, the chart's CRD and the schema's finding codes match what render-deploy.sh produces"
else failed "derived files are stale: run scripts/render-deploy.sh"; fi

# --- 4. alerts ------------------------------------------------------------------------------------------
step "alerts: promtool"
RULES=$ROOT/deploy/prometheus/tlsaudit-rules.yaml
if "$PROMTOOL" check rules "$RULES" >"$TMP/out" 2>&1; then pass "promtool check rules: $(grep -o '[0-9]* rules found' "$TMP/out")"
else cat "$TMP/out" >&2; failed "promtool check rules $RULES"; fi
if "$PROMTOOL" test rules "$TESTS/alerts.test.yaml" >"$TMP/out" 2>&1; then
  pass "promtool test rules: $(grep -c '^  - interval' "$TESTS/alerts.test.yaml") test groups, $(grep -c 'alertname:' "$TESTS/alerts.test.yaml") alert cases"
else cat "$TMP/out" >&2; failed "promtool test rules tests/chart/alerts.test.yaml"; fi
py alert-coverage "$RULES" "$TESTS/alerts.test.yaml"
py finding-links "$RULES" "$ROOT/src/findings.rs"
mkdir -p "$TMP/overrides"
template -f "$TESTS/values-alert-overrides.yaml" --show-only templates/prometheusrule.yaml \
  | sed '1,/^spec:$/d; s/^  //' >"$TMP/overrides/tlsaudit-rules-overrides.yaml"
cp "$TESTS/alerts-overrides.test.yaml" "$TMP/overrides/"
if "$PROMTOOL" check rules "$TMP/overrides/tlsaudit-rules-overrides.yaml" >"$TMP/out" 2>&1; then
  pass "promtool check rules accepts the rules rendered with overridden values"
else cat "$TMP/out" >&2; failed "promtool check rules (overrides)"; fi
py alert-overrides "$TMP/overrides/tlsaudit-rules-overrides.yaml"
if "$PROMTOOL" test rules "$TMP/overrides/alerts-overrides.test.yaml" >"$TMP/out" 2>&1; then
  pass "promtool test rules: overridden threshold, for, severity, labels, codes and job change what fires"
else cat "$TMP/out" >&2; failed "promtool test rules tests/chart/alerts-overrides.test.yaml"; fi

off=()
for a in $(python3 -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["prometheusRule"]["alerts"]))' "$CHART/values.yaml"); do
  off+=(--set "prometheusRule.alerts.$a.enabled=false")
done
template --set prometheusRule.enabled=true "${off[@]}" --show-only templates/prometheusrule.yaml \
  | sed '1,/^spec:$/d; s/^  //' >"$TMP/no-alerts.yaml"
if grep -q '^    rules: \[\]$' "$TMP/no-alerts.yaml" && "$PROMTOOL" check rules "$TMP/no-alerts.yaml" >/dev/null 2>&1; then
  pass "with all $((${#off[@]} / 2)) alerts disabled the rule group is empty (rules: []) and valid"
else cat "$TMP/no-alerts.yaml" >&2; failed "with every alert disabled the rule group is rules: []"; fi

# --- 5. dashboard ---------------------------------------------------------------------------------------
step "dashboard"
py dashboard "$CHART/files/dashboard.json" "$TMP/all.yaml" "$TMP/dashboard-rules.yaml"
if "$PROMTOOL" check rules "$TMP/dashboard-rules.yaml" >"$TMP/out" 2>&1; then
  pass "promtool parses every dashboard query: $(grep -o '[0-9]* rules found' "$TMP/out")"
else cat "$TMP/out" >&2; failed "promtool check rules on the dashboard's queries"; fi
# Hook for the running operator: TLSAUDIT_METRICS_SCRAPE=<a saved /metrics> also checks every name there.
CONTRACT=${TLSAUDIT_METRICS_CONTRACT:-$ROOT/docs/metrics.md}
[ -f "$CONTRACT" ] || die "metrics contract $CONTRACT not found"
if [ -n "${TLSAUDIT_METRICS_SCRAPE:-}" ]; then
  [ -s "$TLSAUDIT_METRICS_SCRAPE" ] || die "TLSAUDIT_METRICS_SCRAPE=$TLSAUDIT_METRICS_SCRAPE is empty or missing"
  echo "  (metric names are also checked against the scrape $TLSAUDIT_METRICS_SCRAPE)"
fi
py metric-names "$CONTRACT" "${TLSAUDIT_METRICS_SCRAPE:-}" -- "$RULES" "$CHART/files/dashboard.json"

step "docs"
py docs "$CHART/values.yaml" "$ROOT/docs/install.md" "$ROOT/docs/alerts.md" "$RULES"

# --- 6. control plane -------------------------------------------------------------------------------------
if $offline; then
  echo "test-chart: --offline: the install, upgrade, uninstall and RBAC tests against a control plane were NOT run" >&2
else
  step "control plane: install, RBAC, upgrade, uninstall"
  KUBECTL=$(tool kubectl "${KUBECTL:-}")
  [ -n "${KUBECONFIG:-}" ] || die "KUBECONFIG is not set: start a control plane (scripts/control-plane.sh start; eval \"\$(scripts/control-plane.sh env)\") or pass --offline"
  "$KUBECTL" version >/dev/null 2>&1 || die "the API server in KUBECONFIG=$KUBECONFIG does not answer"
  export KUBECONFIG
  k() { "$KUBECTL" "$@"; }
  suffix=$(date +%s | tail -c 6)$RANDOM
  NS=chart-$suffix           # the release namespace
  AUDITED=chart-$suffix-app  # a namespace with audits in it
  REL=tla$suffix
  FULL=$REL-tlsaudit
  SA=$FULL
  AS=system:serviceaccount:$NS:$SA
  cleanup_cluster() {
    "$HELM" uninstall "$REL" -n "$NS" >/dev/null 2>&1 || true
    # Without kube-controller-manager the namespaces stay Terminating; nothing else is left.
    "$KUBECTL" delete namespace "$NS" "$AUDITED" --wait=false >/dev/null 2>&1 || true
  }
  k create namespace "$NS" >/dev/null && k create namespace "$AUDITED" >/dev/null

  # can yes|no VERB RESOURCE [kubectl auth can-i flags]: what the operator's ServiceAccount may do.
  can() {
    local want=$1 got; shift
    got=$("$KUBECTL" auth can-i "$@" --as="$AS" 2>/dev/null || true)
    if [ "$got" = "$want" ]; then pass "the ServiceAccount can-i $* = $want"
    else failed "the ServiceAccount can-i $* = '$got', expected $want"; fi
  }
  exists() { # exists KIND/NAME [-n NS]
    if k get "$@" >/dev/null 2>&1; then pass "$1 exists${3:+ in $3}"; else failed "$1 missing${3:+ in $3}"; fi
  }
  gone() {
    if k get "$@" >/dev/null 2>&1; then failed "$1 still exists${3:+ in $3}"; else pass "$1 is gone${3:+ in $3}"; fi
  }

  # RBAC must be enforced, or every `cannot` below would be meaningless.
  if [ "$(k auth can-i list secrets -n kube-system --as="system:serviceaccount:$NS:nobody" 2>/dev/null || true)" = no ]; then
    pass "the API server enforces RBAC (an unknown ServiceAccount cannot list Secrets)"
  else die "the API server does not enforce RBAC (start it with --authorization-mode=RBAC)"; fi

  # The Prometheus Operator's CRDs do not exist on a bare apiserver: minimal stand-ins, only where missing.
  for crd in servicemonitors prometheusrules; do
    if ! k get crd "$crd.monitoring.coreos.com" >/dev/null 2>&1; then
      python3 -c 'import sys, yaml; [print("---\n" + yaml.safe_dump(d)) for d in yaml.safe_load_all(open(sys.argv[1])) if d["metadata"]["name"].startswith(sys.argv[2] + ".")]' \
        "$TESTS/monitoring-crds.yaml" "$crd" | k create -f - >/dev/null
    fi
  done
  k wait --for condition=established --timeout=30s crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com >/dev/null

  # Plain manifests: accepted by the API server (server-side dry run, moved into the test namespace).
  python3 - "$ROOT/deploy/tlsaudit.yaml" "$NS" >"$TMP/deploy-dry-run.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Namespace":
        d["metadata"]["name"] = sys.argv[2]
    if d["metadata"].get("namespace") == "tlsaudit":
        d["metadata"]["namespace"] = sys.argv[2]
    for s in d.get("subjects", []):
        s["namespace"] = sys.argv[2]
print(yaml.safe_dump_all(docs))
PY
  if k apply --dry-run=server -f "$TMP/deploy-dry-run.yaml" >"$TMP/out" 2>&1; then
    pass "the API server accepts every object of deploy/tlsaudit.yaml ($(grep -c 'dry run' "$TMP/out") objects, server-side dry run)"
  else cat "$TMP/out" >&2; failed "kubectl apply --dry-run=server -f deploy/tlsaudit.yaml"; fi

  # A typo fails `helm install` itself, before anything is created.
  if "$HELM" install "$REL" "$CHART" -n "$NS" --set replcas=2 >/dev/null 2>"$TMP/err"; then
    failed "helm install with a misspelt value was accepted"
  elif grep -q replcas "$TMP/err" && ! "$HELM" status "$REL" -n "$NS" >/dev/null 2>&1; then
    pass "helm install with a misspelt value (replcas) fails, names it and creates no release"
  else cat "$TMP/err" >&2; failed "helm install with a misspelt value: message or leftover release"; fi

  # Install: every optional part on, 2 replicas (leader election), Secrets readable cluster-wide.
  if "$HELM" install "$REL" "$CHART" -n "$NS" -f "$TESTS/values-all-options.yaml" --set rbac.secrets=cluster \
      >"$TMP/install" 2>&1; then
    pass "helm install with every optional part on succeeds"
  else cat "$TMP/install" >&2; failed "helm install"; fi
  if grep -q "kubectl apply -n my-namespace" "$TMP/install"; then pass "NOTES.txt tells what to apply next"
  else failed "NOTES.txt does not show the next step"; fi
  for obj in deployment/$FULL serviceaccount/$SA service/$FULL-metrics poddisruptionbudget/$FULL \
      networkpolicy/$FULL servicemonitor/$FULL prometheusrule/$FULL configmap/$FULL-dashboard \
      role/$FULL-leader-election rolebinding/$FULL-leader-election; do
    exists "$obj" -n "$NS"
  done
  for obj in clusterrole/$FULL clusterrole/$FULL-edit clusterrole/$FULL-view clusterrolebinding/$FULL \
      crd/tlsaudits.tlsaudit.dev; do
    exists "$obj"
  done
  if printf 'apiVersion: tlsaudit.dev/v1alpha1\nkind: TlsAudit\nmetadata: {name: web}\nspec:\n  services:\n    selector: {}\n' \
      | k apply -n "$AUDITED" -f - >/dev/null 2>"$TMP/err"; then
    pass "a TlsAudit can be created once the chart has installed the CRD"
  else cat "$TMP/err" >&2; failed "creating a TlsAudit"; fi
  if [ "$(k get tlsaudits -n "$AUDITED" -o name 2>/dev/null)" = tlsaudit.tlsaudit.dev/web ]; then pass "kubectl get tlsaudits lists it"
  else failed "kubectl get tlsaudits does not list the audit"; fi

  # What the controller needs, and nothing near it.
  can yes get tlsaudits.tlsaudit.dev -n "$AUDITED"
  can yes list tlsaudits.tlsaudit.dev -A
  can yes watch tlsaudits.tlsaudit.dev -A
  can yes patch tlsaudits.tlsaudit.dev --subresource=status -n "$AUDITED"
  can yes update tlsaudits.tlsaudit.dev --subresource=status -n "$AUDITED"
  can no update tlsaudits.tlsaudit.dev -n "$AUDITED"
  can no patch tlsaudits.tlsaudit.dev -n "$AUDITED"
  can no delete tlsaudits.tlsaudit.dev -n "$AUDITED"
  can no create tlsaudits.tlsaudit.dev -n "$AUDITED"
  for r in services endpointslices.discovery.k8s.io ingresses.networking.k8s.io configmaps; do
    can yes list "$r" -A
    can yes watch "$r" -A
    can yes get "$r" -n "$AUDITED"
  done
  # cert-manager Certificates: read-only (the kind need not be installed for RBAC to answer).
  can yes list certificates.cert-manager.io -A
  can yes watch certificates.cert-manager.io -A
  can yes get certificates.cert-manager.io -n "$AUDITED"
  can no patch certificates.cert-manager.io -n "$AUDITED"
  can no update certificates.cert-manager.io --subresource=status -n "$AUDITED"
  can no delete certificates.cert-manager.io -n "$AUDITED"
  can no create certificaterequests.cert-manager.io -n "$AUDITED"
  can yes get secrets -n "$AUDITED"
  can yes list secrets -A
  # Gateway API (rbac.gatewayAPI, on by default): read-only.
  for r in gateways httproutes grpcroutes tlsroutes backendtlspolicies referencegrants; do
    can yes list "$r.gateway.networking.k8s.io" -A
    can yes watch "$r.gateway.networking.k8s.io" -A
    can yes get "$r.gateway.networking.k8s.io" -n "$AUDITED"
    can no create "$r.gateway.networking.k8s.io" -n "$AUDITED"
    can no update "$r.gateway.networking.k8s.io" -n "$AUDITED"
    can no delete "$r.gateway.networking.k8s.io" -n "$AUDITED"
  done
  can no patch gateways.gateway.networking.k8s.io --subresource=status -n "$AUDITED"
  can no list tcproutes.gateway.networking.k8s.io -A
  can no list listenersets.gateway.networking.k8s.io -A
  can yes create events -n "$AUDITED"
  can yes patch events -n "$AUDITED"
  can yes create events.events.k8s.io -n "$AUDITED"
  can yes patch events.events.k8s.io -n "$AUDITED"
  can yes create leases.coordination.k8s.io -n "$NS"
  can yes get "leases.coordination.k8s.io/$FULL" -n "$NS"
  can yes update "leases.coordination.k8s.io/$FULL" -n "$NS"
  can no get leases.coordination.k8s.io/kube-scheduler -n "$NS"
  can no update leases.coordination.k8s.io/other-operator -n "$NS"
  can no create leases.coordination.k8s.io -n kube-system
  can no get leases.coordination.k8s.io/"$FULL" -n kube-system
  can no delete services -n "$AUDITED"
  can no patch services -n "$AUDITED"
  can no create pods -n "$AUDITED"
  can no create pods/exec -n "$AUDITED"
  can no create secrets -n "$AUDITED"
  can no update configmaps -n "$AUDITED"
  can no delete events -n "$AUDITED"
  can no create deployments.apps -n "$NS"
  can no get nodes
  can no create clusterrolebindings.rbac.authorization.k8s.io
  can no impersonate serviceaccounts -A
  can no patch customresourcedefinitions.apiextensions.k8s.io
  # Cluster audits are off by default: no right on the apiserver's TLS client configurations.
  for r in validatingwebhookconfigurations.admissionregistration.k8s.io \
      mutatingwebhookconfigurations.admissionregistration.k8s.io apiservices.apiregistration.k8s.io \
      customresourcedefinitions.apiextensions.k8s.io; do
    can no list "$r"
  done

  # The operator itself, authenticated as the chart's ServiceAccount (kubeconfig impersonation): it
  # takes the chart's Lease, audits an endpoint and writes the status and an Event. Only loopback is
  # dialled: an openssl s_server on 127.0.0.1, named by an explicit endpoint the flag allows.
  as_sa_operator() {
    local tlsaudit=${CARGO_TARGET_DIR:-$ROOT/target}/debug/tlsaudit port closed cfg=$TMP/as-sa.kubeconfig op_pid srv_pid status=""
    [ -x "$tlsaudit" ] || (cd "$ROOT" && cargo build -q) || { failed "cargo build (tlsaudit)"; return; }
    python3 - "$KUBECONFIG" "$AS" "$NS" >"$cfg" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
for user in cfg["users"]:
    user["user"]["as"] = sys.argv[2]
    user["user"]["as-groups"] = ["system:serviceaccounts", "system:serviceaccounts:" + sys.argv[3], "system:authenticated"]
print(yaml.safe_dump(cfg))
PY
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
      -keyout "$TMP/srv.key" -out "$TMP/srv.pem" >/dev/null 2>&1
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    openssl s_server -accept "127.0.0.1:$port" -cert "$TMP/srv.pem" -key "$TMP/srv.key" -quiet -www \
      </dev/null >/dev/null 2>&1 &
    srv_pid=$!
    # A second endpoint where nothing listens: connect.refused is critical, which publishes an Event.
    closed=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    printf 'apiVersion: tlsaudit.dev/v1alpha1\nkind: TlsAudit\nmetadata: {name: direct}\nspec:\n  endpoints: [{host: 127.0.0.1, port: %s, serverName: localhost}, {host: 127.0.0.1, port: %s}]\n  trust: {systemRoots: false, clusterCA: false}\n' "$port" "$closed" \
      | k apply -n "$AUDITED" -f - >/dev/null
    KUBECONFIG=$cfg RUST_LOG=warn "$tlsaudit" controller --metrics-addr 127.0.0.1:0 --allow-target-cidr 127.0.0.0/8 \
      --leader-election on --lease-name "$FULL" --lease-namespace "$NS" --identity chart-test \
      --watch-secrets on --watch-namespace "$AUDITED" >"$TMP/operator.log" 2>&1 &
    op_pid=$!
    for _ in $(seq 60); do
      status=$(k get tlsaudit direct -n "$AUDITED" -o jsonpath='{.status.summary.endpoints} {.status.conditions[?(@.type=="Ready")].status} {.status.endpoints[*].findings[*].code}' 2>/dev/null || true)
      case $status in "2 True "*cert.self_signed*) break ;; esac
      sleep 1
    done
    # Checked while it runs: on a graceful stop it releases the Lease.
    if [ "$(k get lease "$FULL" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" = chart-test ]; then
      pass "it holds the chart's Lease"
    else failed "it did not take the chart's Lease"; fi
    kill "$op_pid" "$srv_pid" 2>/dev/null || true
    wait "$op_pid" "$srv_pid" 2>/dev/null || true
    case $status in
      "2 True "*cert.self_signed*) pass "the operator, as the chart's ServiceAccount, audited its endpoints and wrote the status ($status)" ;;
      *) tail -n 20 "$TMP/operator.log" >&2; failed "the operator as the chart's ServiceAccount wrote no status (got '$status')" ;;
    esac
    if k get events.events.k8s.io -n "$AUDITED" -o jsonpath='{range .items[*]}{.regarding.name}/{.reason}{"\n"}{end}' 2>/dev/null \
        | grep -q '^direct/'; then
      pass "it published an Event about the audit's critical finding"
    else failed "no Event about the audit"; fi
    if grep -qi "forbidden" "$TMP/operator.log"; then
      grep -i forbidden "$TMP/operator.log" | head -n 3 >&2; failed "the operator hit a forbidden request as the ServiceAccount"
    else pass "the operator made no forbidden request as the ServiceAccount"; fi
  }
  as_sa_operator

  # Upgrade: 1 replica (no leader election), Secrets only in the audited namespace.
  if "$HELM" upgrade "$REL" "$CHART" -n "$NS" -f "$TESTS/values-all-options.yaml" --set replicas=1 \
      --set rbac.secrets=namespaces --set "rbac.secretNamespaces={$AUDITED}" >"$TMP/out" 2>&1; then
    pass "helm upgrade to 1 replica and rbac.secrets=namespaces succeeds"
  else cat "$TMP/out" >&2; failed "helm upgrade (rbac.secrets=namespaces)"; fi
  if [ "$(k get deployment "$FULL" -n "$NS" -o jsonpath='{.spec.replicas} {.spec.strategy.type}')" = "1 Recreate" ]; then
    pass "the upgraded Deployment has 1 replica and the Recreate strategy"
  else failed "the upgraded Deployment: $(k get deployment "$FULL" -n "$NS" -o jsonpath='{.spec.replicas} {.spec.strategy.type}')"; fi
  gone role/"$FULL"-leader-election -n "$NS"
  can no create leases.coordination.k8s.io -n "$NS"
  exists role/"$FULL"-secrets -n "$AUDITED"
  can yes get secrets -n "$AUDITED"
  can yes watch secrets -n "$AUDITED"
  can no get secrets -n kube-system
  can no list secrets -A
  can no get secrets -n "$NS"

  # Upgrade: no Secret access at all.
  if "$HELM" upgrade "$REL" "$CHART" -n "$NS" -f "$TESTS/values-all-options.yaml" --set replicas=1 \
      --set rbac.secrets=none --set clusterAudits.enabled=true --set rbac.gatewayAPI=false >"$TMP/out" 2>&1; then
    pass "helm upgrade to rbac.secrets=none, clusterAudits.enabled=true and rbac.gatewayAPI=false succeeds"
  else cat "$TMP/out" >&2; failed "helm upgrade (rbac.secrets=none, clusterAudits.enabled=true, rbac.gatewayAPI=false)"; fi
  if grep -q 'rbac.secrets is "none"' "$TMP/out"; then pass "NOTES.txt warns what rbac.secrets=none costs"
  else failed "NOTES.txt says nothing about rbac.secrets=none"; fi
  gone role/"$FULL"-secrets -n "$AUDITED"
  can no get secrets -n "$AUDITED"
  can no list secrets -A
  can no get secrets -n kube-system
  can no list gateways.gateway.networking.k8s.io -A
  can no get backendtlspolicies.gateway.networking.k8s.io -n "$AUDITED"
  can yes list tlsaudits.tlsaudit.dev -A
  # ... with clusterAudits.enabled=true: read-only on the apiserver's TLS client configurations.
  exists clusterrole/"$FULL"-cluster-audits
  if [ "$(k get deployment "$FULL" -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -c -- '--cluster-audits=on')" = 1 ]; then
    pass "the Deployment runs with --cluster-audits=on"
  else failed "the Deployment lacks --cluster-audits=on"; fi
  for r in validatingwebhookconfigurations.admissionregistration.k8s.io \
      mutatingwebhookconfigurations.admissionregistration.k8s.io apiservices.apiregistration.k8s.io \
      customresourcedefinitions.apiextensions.k8s.io; do
    can yes get "$r"
    can yes list "$r"
    can yes watch "$r"
    can no create "$r"
    can no update "$r"
    can no patch "$r"
    can no delete "$r"
  done

  # Upgrade: 2 replicas sharing the audits; the member-Lease Role replaces the leader-election one.
  if "$HELM" upgrade "$REL" "$CHART" -n "$NS" -f "$TESTS/values-all-options.yaml" --set replicas=2 \
      --set rbac.secrets=none --set sharding.enabled=true >"$TMP/out" 2>&1; then
    pass "helm upgrade to sharding.enabled=true succeeds"
  else cat "$TMP/out" >&2; failed "helm upgrade (sharding.enabled=true)"; fi
  if [ "$(k get deployment "$FULL" -n "$NS" -o jsonpath='{.spec.replicas} {.spec.strategy.type}')" = "2 RollingUpdate" ]; then
    pass "the sharded Deployment has 2 replicas and the RollingUpdate strategy"
  else failed "the sharded Deployment: $(k get deployment "$FULL" -n "$NS" -o jsonpath='{.spec.replicas} {.spec.strategy.type}')"; fi
  exists role/"$FULL"-sharding -n "$NS"
  # clusterAudits.enabled is back to false: its ClusterRole and rights are gone.
  gone clusterrole/"$FULL"-cluster-audits
  can no list validatingwebhookconfigurations.admissionregistration.k8s.io
  can no list apiservices.apiregistration.k8s.io
  gone role/"$FULL"-leader-election -n "$NS"
  can yes create leases.coordination.k8s.io -n "$NS"
  can yes list leases.coordination.k8s.io -n "$NS"
  can yes update "leases.coordination.k8s.io/$FULL-$FULL-abcde-12345" -n "$NS"
  can yes delete "leases.coordination.k8s.io/$FULL-$FULL-abcde-12345" -n "$NS"
  can no watch leases.coordination.k8s.io -n "$NS"
  can no list leases.coordination.k8s.io -n kube-system
  can no delete leases.coordination.k8s.io/kube-scheduler -n kube-system
  # The operator as the ServiceAccount with sharding on: it keeps its member Lease, re-audits, deletes the
  # Lease when stopped, and makes no forbidden request (same impersonating kubeconfig as above).
  as_sa_shard() {
    local tlsaudit=${CARGO_TARGET_DIR:-$ROOT/target}/debug/tlsaudit cfg=$TMP/as-sa.kubeconfig op_pid before after="" member=""
    before=$(k get tlsaudit direct -n "$AUDITED" -o jsonpath='{.status.lastAuditTime}')
    KUBECONFIG=$cfg RUST_LOG=warn "$tlsaudit" controller --metrics-addr 127.0.0.1:0 --allow-target-cidr 127.0.0.0/8 \
      --sharding on --lease-name "$FULL" --lease-namespace "$NS" --identity chart-shard \
      --watch-secrets off --watch-namespace "$AUDITED" >"$TMP/shard.log" 2>&1 &
    op_pid=$!
    for _ in $(seq 60); do
      member=$(k get lease "$FULL-chart-shard" -n "$NS" -o jsonpath='{.spec.holderIdentity} {.metadata.labels.tlsaudit\.dev/member}' 2>/dev/null || true)
      after=$(k get tlsaudit direct -n "$AUDITED" -o jsonpath='{.status.lastAuditTime}' 2>/dev/null || true)
      [ "$member" = "chart-shard $FULL" ] && [ -n "$after" ] && [ "$after" != "$before" ] && break
      sleep 1
    done
    if [ "$member" = "chart-shard $FULL" ]; then pass "as the ServiceAccount, a shard keeps its labelled member Lease"
    else failed "no member Lease $FULL-chart-shard (got '$member')"; fi
    if [ -n "$after" ] && [ "$after" != "$before" ]; then pass "the only shard audited the audit again ($before -> $after)"
    else tail -n 20 "$TMP/shard.log" >&2; failed "the shard did not audit (lastAuditTime '$before' -> '$after')"; fi
    kill "$op_pid" 2>/dev/null || true
    wait "$op_pid" 2>/dev/null || true
    gone lease/"$FULL-chart-shard" -n "$NS"
    if grep -qi "forbidden" "$TMP/shard.log"; then
      grep -i forbidden "$TMP/shard.log" | head -n 3 >&2; failed "the shard hit a forbidden request as the ServiceAccount"
    else pass "the shard made no forbidden request as the ServiceAccount"; fi
  }
  as_sa_shard
  if [ "$("$HELM" history "$REL" -n "$NS" -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ]; then
    pass "the release has 4 revisions"
  else failed "the release does not have 4 revisions"; fi

  # Uninstall: no object of the release is left, namespaced or cluster-scoped; the CRD stays (Helm keeps crds/).
  kinds=deployments,replicasets,serviceaccounts,services,configmaps,secrets,roles,rolebindings,poddisruptionbudgets,networkpolicies,servicemonitors,prometheusrules
  before=$( (k get "$kinds" -n "$NS" -l "app.kubernetes.io/instance=$REL" -o name
    k get "$kinds" -n "$AUDITED" -l "app.kubernetes.io/instance=$REL" -o name
    k get clusterroles,clusterrolebindings -l "app.kubernetes.io/instance=$REL" -o name) | wc -l)
  # The same query as below, while installed: proves that it finds the release's objects.
  if [ "$before" -ge 12 ]; then pass "before uninstall the release's label selects its $before objects"
  else failed "before uninstall the release's label selects only $before objects"; fi
  if "$HELM" uninstall "$REL" -n "$NS" >"$TMP/out" 2>&1; then pass "helm uninstall succeeds"
  else cat "$TMP/out" >&2; failed "helm uninstall"; fi
  left=$(k get "$kinds" -n "$NS" -l "app.kubernetes.io/instance=$REL" -o name 2>&1)
  left+=$(k get "$kinds" -n "$AUDITED" -l "app.kubernetes.io/instance=$REL" -o name 2>&1)
  left+=$(k get clusterroles,clusterrolebindings -l "app.kubernetes.io/instance=$REL" -o name 2>&1)
  if [ -z "$left" ]; then pass "helm uninstall leaves no object of the release behind"
  else failed "objects left after helm uninstall: $left"; fi
  exists crd/tlsaudits.tlsaudit.dev
  can no list tlsaudits.tlsaudit.dev -A
  if "$HELM" status "$REL" -n "$NS" >/dev/null 2>&1; then failed "the release still exists after uninstall"
  else pass "the release is gone"; fi
fi

echo "test-chart: took $((SECONDS - START)) s"
echo "chart: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
