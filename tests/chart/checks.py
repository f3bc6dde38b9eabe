#!/usr/bin/env python3
"""Checks of the Helm chart's rendered output, alerts and dashboard, run by scripts/test-chart.sh.

Input: files rendered by helm / scripts/render-deploy.sh. Output: one line per passed check on stdout;
exit status 1 with the reason on stderr at the first failed check. Needs python3 and PyYAML.

  checks.py render-defaults RENDERED.yaml
  checks.py render-all-options RENDERED.yaml
  checks.py render-sharding RENDERED.yaml
  checks.py alert-coverage RULES.yaml TESTS.yaml
  checks.py alert-overrides RULES.yaml
  checks.py finding-links RULES.yaml FINDINGS.rs
  checks.py dashboard DASHBOARD.json RENDERED_WITH_DASHBOARD.yaml OUT_RULES.yaml
  checks.py metric-names CONTRACT.md [SCRAPE.txt] -- FILE...
  checks.py docs VALUES.yaml INSTALL.md ALERTS.md RULES.yaml
"""

import json
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("checks.py: PyYAML is missing: apt-get install python3-yaml (or pip install pyyaml)")

PASSED = 0


def ok(sentence):
    global PASSED
    PASSED += 1
    print(f"  ok  {sentence}")


def fail(sentence, detail=""):
    print(f"  FAIL {sentence}", file=sys.stderr)
    if detail:
        print(f"       {detail}", file=sys.stderr)
    sys.exit(1)


def check(cond, sentence, detail=""):
    if cond:
        ok(sentence)
    else:
        fail(sentence, detail)


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def one(kinds, kind, name_suffix=""):
    found = [d for d in kinds.get(kind, []) if d["metadata"]["name"].endswith(name_suffix)]
    if len(found) != 1:
        fail(f"exactly one {kind} named *{name_suffix}", f"found {[d['metadata']['name'] for d in found]}")
    return found[0]


def rules_set(rules):
    """ClusterRole/Role rules as a set of (group, resource, verb, resourceName) tuples."""
    out = set()
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    for n in r.get("resourceNames", [None]):
                        out.add((g, res, v, n))
    return out


def expand(group, resources, verbs, names=(None,)):
    return {(group, r, v, n) for r in resources for v in verbs for n in names}


# Gateway API objects (rbac.gatewayAPI, on by default): read-only.
GATEWAY_RULES = expand("gateway.networking.k8s.io",
                       ["gateways", "httproutes", "grpcroutes", "tlsroutes", "backendtlspolicies", "referencegrants"],
                       ["get", "list", "watch"])
# The operator's cluster-wide rights, exactly: anything more is a least-privilege regression.
OPERATOR_RULES = GATEWAY_RULES | (
    expand("tlsaudit.dev", ["tlsaudits"], ["get", "list", "watch"])
    | expand("tlsaudit.dev", ["tlsaudits/status"], ["patch", "update"])
    | expand("", ["services", "configmaps"], ["get", "list", "watch"])
    | expand("discovery.k8s.io", ["endpointslices"], ["get", "list", "watch"])
    | expand("networking.k8s.io", ["ingresses"], ["get", "list", "watch"])
    | expand("cert-manager.io", ["certificates"], ["get", "list", "watch"])
    | expand("", ["events"], ["create", "patch"])
    | expand("events.k8s.io", ["events"], ["create", "patch"])
)
SECRET_RULES = expand("", ["secrets"], ["get", "list", "watch"])


def deployment_checks(kinds, leader, sharding=False):
    dep = one(kinds, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    sc, psc = ctr["securityContext"], pod["securityContext"]
    check(psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is True, "the operator runs as non-root")
    check(sc.get("readOnlyRootFilesystem") is True, "the root filesystem is read-only")
    check(sc.get("allowPrivilegeEscalation") is False, "privilege escalation is off")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc["capabilities"].get("add"),
          "every capability is dropped and none added")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "the seccomp profile is RuntimeDefault")
    check(ctr["livenessProbe"]["httpGet"]["path"] == "/healthz" and ctr["readinessProbe"]["httpGet"]["path"] == "/readyz",
          "liveness probes /healthz and readiness probes /readyz")
    check(ctr["livenessProbe"]["httpGet"]["port"] == "metrics" and
          any(p["name"] == "metrics" for p in ctr["ports"]), "probes use the named metrics port")
    check(ctr.get("resources", {}).get("requests") and ctr["resources"].get("limits", {}).get("memory"),
          "the container has resource requests and a memory limit")
    check(pod.get("automountServiceAccountToken") is True, "the operator Pod mounts its API token explicitly")
    args = ctr["args"]
    check(args[0] == "controller", "the container runs `tlsaudit controller`", str(args))
    flags = {a.split("=", 1)[0] for a in args[1:]}
    known = {"--metrics-addr", "--leader-election", "--lease-name", "--lease-namespace", "--concurrency",
             "--default-interval", "--allow-target-cidr", "--probe-timeout", "--status-max-endpoints",
             "--watch-secrets", "--metrics-max-endpoints", "--sharding", "--probe-deadline",
             "--readiness-grace", "--full-probe-every"}
    check(flags <= known, "only flags that `tlsaudit controller` has are passed", str(flags - known))
    check(sum(a.startswith("--watch-secrets=") for a in args) == 1,
          "whether Secrets are watched is always explicit (it must match rbac.secrets)", str(args))
    want = "--leader-election=" + ("on" if leader else "off")
    check(want in args and ("--lease-name" in flags) == (leader or sharding),
          f"leader election is {'on' if leader else 'off'} for {dep['spec']['replicas']} replica(s), explicitly", str(args))
    check(("--sharding=on" in args) == sharding and ("--sharding" in flags) == sharding,
          f"sharding is {'on' if sharding else 'off'}", str(args))
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in ctr["env"]}
    check(env.get("POD_NAME") == "metadata.name" and env.get("POD_NAMESPACE") == "metadata.namespace",
          "the Pod's name and namespace reach the operator (its Lease identity)")
    strategy = dep["spec"]["strategy"]["type"]
    check(strategy == ("RollingUpdate" if leader or sharding else "Recreate"),
          f"the rollout strategy is {strategy} (never two active operators without a Lease)")
    return dep


def cmd_render_defaults(path):
    kinds = by_kind(load_docs(path))
    expected = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment", "PodDisruptionBudget"}
    check(expected <= set(kinds), "default values render the ServiceAccount, RBAC, Service, Deployment and PDB",
          str(sorted(set(kinds))))
    absent = {"ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy", "Role", "RoleBinding"}
    check(not (absent & set(kinds)), "default values render no optional object and no Role",
          str(sorted(absent & set(kinds))))
    deployment_checks(kinds, leader=False)
    sa = one(kinds, "ServiceAccount")
    check(sa.get("automountServiceAccountToken") is False, "the ServiceAccount does not automount tokens into other Pods")
    role = [c for c in kinds["ClusterRole"] if c["metadata"]["name"] == "tlsaudit"]
    check(len(role) == 1, "the operator ClusterRole is named after the release")
    got = rules_set(role[0]["rules"])
    want = OPERATOR_RULES | SECRET_RULES
    check(got == want, "the operator ClusterRole grants exactly the rights the controller needs (rbac.secrets=cluster)",
          f"extra: {sorted(got - want, key=str)} missing: {sorted(want - got, key=str)}")
    for c in kinds["ClusterRole"]:
        if c["metadata"]["name"] != "tlsaudit":
            check(set(g for g, *_ in rules_set(c["rules"])) == {"tlsaudit.dev"},
                  f"the aggregated ClusterRole {c['metadata']['name']} grants only TlsAudit rights")
    svc = one(kinds, "Service")
    check([p["port"] for p in svc["spec"]["ports"]] == [8080] and svc["spec"]["ports"][0]["name"] == "metrics",
          "the metrics Service exposes port 8080 named metrics")
    namespaced = [d for d in load_docs(path) if d["kind"] not in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace")]
    check(all(d["metadata"].get("namespace") == "tlsaudit" for d in namespaced),
          "every namespaced object names the release namespace (plain manifests apply anywhere)")


def cmd_render_sharding(path):
    kinds = by_kind(load_docs(path))
    dep = deployment_checks(kinds, leader=False, sharding=True)
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    check("--lease-name=tlsaudit" in args and "--lease-namespace=tlsaudit" in args,
          "sharding names the member Leases' prefix and namespace", str(args))
    check(not [r for r in kinds.get("Role", []) if r["metadata"]["name"].endswith("-leader-election")],
          "sharding renders no leader-election Role")
    role = one(kinds, "Role", "-sharding")
    check(role["metadata"]["namespace"] == "tlsaudit", "the sharding Role lives in the release namespace")
    got = rules_set(role["rules"])
    want = expand("coordination.k8s.io", ["leases"], ["create", "get", "list", "update", "delete"])
    check(got == want, "the sharding Role allows exactly create/get/list/update/delete on Leases",
          f"got {sorted(got, key=str)}")
    binding = one(kinds, "RoleBinding", "-sharding")
    check(binding["roleRef"]["name"] == role["metadata"]["name"] and
          binding["subjects"][0]["name"] == "tlsaudit", "the sharding RoleBinding binds the operator's ServiceAccount")


def cmd_render_all_options(path):
    kinds = by_kind(load_docs(path))
    for kind in ("ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Role", "RoleBinding"):
        check(kind in kinds, f"every optional part on renders a {kind}")
    dep = deployment_checks(kinds, leader=True)
    pod = dep["spec"]["template"]["spec"]
    check(pod.get("imagePullSecrets") == [{"name": "regcred"}], "imagePullSecrets reach the Pod")
    check(pod["containers"][0]["image"] == "registry.example/tlsaudit:9.9.9" and
          pod["containers"][0]["imagePullPolicy"] == "Always", "image repository, tag and pullPolicy are configurable")
    args = pod["containers"][0]["args"]
    check("--allow-target-cidr=192.0.2.0/24" in args and "--lease-namespace=tlsaudit" in args,
          "allowTargetCidrs and the Lease namespace become flags")
    lease = one(kinds, "Role", "-leader-election")
    check(lease["metadata"]["namespace"] == "tlsaudit", "the leader-election Role lives in the release namespace")
    got = rules_set(lease["rules"])
    want = expand("coordination.k8s.io", ["leases"], ["create"]) | expand(
        "coordination.k8s.io", ["leases"], ["get", "update"], ["tlsaudit"])
    check(got == want, "the leader-election Role allows only creating Leases and get/update of its own Lease",
          f"got {sorted(got, key=str)}")
    secrets = [r for r in kinds["Role"] if r["metadata"]["name"].endswith("-secrets")]
    check(sorted(r["metadata"]["namespace"] for r in secrets) == ["team-a", "team-b"] and
          all(rules_set(r["rules"]) == SECRET_RULES for r in secrets),
          "rbac.secrets=namespaces grants Secret reads only in the listed namespaces")
    cluster = [c for c in kinds["ClusterRole"] if c["metadata"]["name"] == "tlsaudit"][0]
    check(rules_set(cluster["rules"]) == OPERATOR_RULES, "rbac.secrets=namespaces leaves Secrets out of the ClusterRole")
    sm = one(kinds, "ServiceMonitor")
    ep = sm["spec"]["endpoints"][0]
    check(ep["port"] == "metrics" and ep.get("honorLabels") is True,
          "the ServiceMonitor scrapes the metrics port and keeps the audits' namespace label (honorLabels)")
    check(sm["metadata"]["labels"].get("release") == "prom", "ServiceMonitor labels are configurable")
    pr = one(kinds, "PrometheusRule")
    names = [r["alert"] for g in pr["spec"]["groups"] for r in g["rules"]]
    check(len(names) == 17 and len(set(names)) == 17, "the PrometheusRule carries the 17 alerts", str(names))
    check("{{" in json.dumps(pr["spec"]) and "[[" not in json.dumps(pr["spec"]),
          "alert annotations keep their Prometheus templates")
    cm = one(kinds, "ConfigMap", "-dashboard")
    check(cm["metadata"]["labels"].get("grafana_dashboard") == "1", "the dashboard ConfigMap is labelled grafana_dashboard: \"1\"")
    json.loads(cm["data"]["tlsaudit.json"])
    ok("the dashboard ConfigMap holds valid JSON")
    np = one(kinds, "NetworkPolicy")
    check(np["spec"]["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}],
          "the NetworkPolicy admits only the metrics port")
    pdb = one(kinds, "PodDisruptionBudget")
    check(pdb["spec"].get("minAvailable") == 1 and "maxUnavailable" not in pdb["spec"],
          "podDisruptionBudget.minAvailable replaces maxUnavailable")


def alert_names(rules_path):
    with open(rules_path) as f:
        doc = yaml.safe_load(f)
    return [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r], doc


def cmd_alert_coverage(rules_path, tests_path):
    names, _ = alert_names(rules_path)
    with open(tests_path) as f:
        tests = yaml.safe_load(f)
    firing, silent = set(), set()
    for t in tests["tests"]:
        for case in t.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    for n in names:
        check(n in firing and n in silent, f"{n} has a unit test where it fires and one where it stays silent",
              f"firing: {n in firing}, silent: {n in silent}")
    unknown = (firing | silent) - set(names)
    check(not unknown, "the unit tests name no alert that the rules lack", str(unknown))


def cmd_alert_overrides(rules_path):
    names, doc = alert_names(rules_path)
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    check("TlsAuditWeakCipher" not in rules, "an alert with enabled: false is left out")
    check(all(r["labels"].get("team") == "platform" for r in rules.values()),
          "prometheusRule.additionalLabels reach every alert")
    soon = rules["TlsAuditCertificateExpiringSoon"]
    check("< 3456000 > 0" in soon["expr"] and soon["for"] == "1h" and soon["labels"]["severity"] == "page"
          and soon["labels"].get("channel") == "certs",
          "days, for, severity and labels of one alert are overridable", json.dumps(soon))
    check('code=~"protocol\\\\.tls1_0"' in rules["TlsAuditLegacyProtocol"]["expr"],
          "an alert's finding codes are overridable (dots escaped in the regexp)", rules["TlsAuditLegacyProtocol"]["expr"])
    check('up{job=~"my-operator"}' in rules["TlsAuditOperatorDown"]["expr"], "the operator job regexp is overridable")
    check(rules["TlsAuditCertificateExpired"]["annotations"]["runbook_url"] == "https://docs.example/tlsaudit/findings.md#cert.expired",
          "the docs URL of the links is overridable")


def cmd_finding_links(rules_path, findings_rs):
    with open(findings_rs) as f:
        codes = set(re.findall(r'^\s+[A-Z][A-Za-z0-9]* = "([a-z0-9_]+\.[a-z0-9_]+)",', f.read(), re.M))
    check(len(codes) >= 10, f"the finding catalog in {findings_rs} parses ({len(codes)} codes)")
    _, doc = alert_names(rules_path)
    for r in (r for g in doc["groups"] for r in g["rules"]):
        ann = r["annotations"]
        check(ann.get("summary") and ann.get("description") and ann.get("runbook_url"),
              f"{r['alert']} has a summary, a description and a runbook_url")
        url = ann["runbook_url"]
        anchor = url.split("#", 1)[1] if "#" in url else ""
        if "/findings.md#" in url:
            if anchor == "{{ $labels.code }}":
                used = set(re.findall(r'[a-z0-9_]+\\\\\.[a-z0-9_]+', r["expr"]))
                used = {u.replace("\\\\.", ".") for u in used}
                check(used and used <= codes, f"{r['alert']} links to findings.md#<code> for codes that exist",
                      str(sorted(used - codes)))
            else:
                check(anchor in codes, f"{r['alert']} links to findings.md#{anchor}, a code of the catalog")
        else:
            check(url.endswith("/alerts.md#" + r["alert"].lower()), f"{r['alert']} links to its own section of alerts.md", url)


# Grafana variables in panel queries and what stands in for them when promtool parses the query.
SUBSTITUTES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$namespace": ".*",
               "$audit": ".*", "$job": ".*tlsaudit.*"}


def cmd_dashboard(dash_path, rendered_path, out_rules):
    with open(dash_path) as f:
        text = f.read()
    dash = json.loads(text)
    ok("the dashboard is valid JSON")
    check(dash.get("uid") and dash.get("title") and isinstance(dash.get("schemaVersion"), int),
          "the dashboard has a uid, a title and a schemaVersion")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check(variables.get("datasource", {}).get("type") == "datasource" and variables["datasource"]["query"] == "prometheus",
          "the data source is a variable of type datasource (prometheus)")
    for name in ("namespace", "audit"):
        v = variables.get(name, {})
        check(v.get("type") == "query" and v.get("multi") and v.get("includeAll"),
              f"the dashboard is templated by {name} (multi-value, with All)")
    check('namespace=~"$namespace"' in variables["audit"]["query"]["query"], "the audit variable follows the namespace variable")
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), "panel ids are unique")
    exprs = []
    for p in panels:
        check(p.get("datasource", {}).get("uid") == "${datasource}", f"panel '{p['title']}' uses the data source variable")
        check(p.get("targets"), f"panel '{p['title']}' has queries")
        for t in p["targets"]:
            check(t.get("datasource", {}).get("uid") == "${datasource}" and t.get("expr"),
                  f"panel '{p['title']}' query {t['refId']} has an expression on the data source variable")
            # Operator-wide series (up, build info, reconciles, probe durations) have no audit; every other query follows
            # the namespace and audit variables in each selector.
            if not re.search(r"\bup\{|tlsaudit_build_info|tlsaudit_reconcile|tlsaudit_probe_duration", t["expr"]):
                selectors = re.findall(r"tlsaudit_[a-z0-9_]+\{([^}]*)\}", t["expr"])
                check(selectors and all('namespace=~"$namespace"' in x and 'audit=~"$audit"' in x for x in selectors),
                      f"panel '{p['title']}' query {t['refId']} follows the namespace and audit variables", t["expr"])
            exprs.append((p["title"], t["refId"], t["expr"]))
    # label_values(SELECTOR, LABEL) is Grafana's; `group by (LABEL) (SELECTOR)` is the PromQL it stands for.
    for v in ("namespace", "audit"):
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variables[v]["query"]["query"])
        check(m, f"the {v} variable is a label_values() query")
        exprs.append((f"variable {v}", "query", f"group by ({m.group(2)}) ({m.group(1)})"))
    titles = [p["title"] for p in panels]
    check(len(titles) == len(set(titles)), "panel titles are unique", str(titles))
    for needed in ("Endpoints by grade", "Days to expiry", "Findings by severity", "Findings by code",
                   "Protocol versions accepted", "Probe duration", "Endpoints failing the handshake", "Operator instances up"):
        check(needed in titles, f"the dashboard has the panel '{needed}'")
    expiry = next(p for p in panels if p["title"] == "Days to expiry")
    check(expiry["type"] == "table" and expiry["options"]["sortBy"] == [{"displayName": "Days left", "desc": False}],
          "days to expiry is a table sorted ascending")
    # Every expression becomes a recording rule; `promtool check rules` then parses each one.
    rules = []
    for i, (title, ref, expr) in enumerate(exprs):
        for var, sub in SUBSTITUTES.items():
            expr = expr.replace(var, sub)
        check("$" not in expr.replace("$1", ""), f"panel '{title}' {ref}: every Grafana variable has a stand-in", expr)
        rules.append({"record": f"dashboard:panel_{i}:{re.sub('[^a-z0-9]+', '_', title.lower())}", "expr": expr})
    with open(out_rules, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, sort_keys=False)
    ok(f"{len(rules)} dashboard queries written to {out_rules} for promtool")
    cms = [d for d in load_docs(rendered_path) if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    check(len(cms) == 1 and json.loads(cms[0]["data"]["tlsaudit.json"]) == dash,
          "the chart's dashboard ConfigMap holds exactly this dashboard")


def metric_names_in(path):
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        dash = json.loads(text)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        exprs += [v["query"]["query"] for v in dash["templating"]["list"] if isinstance(v.get("query"), dict)]
    else:
        doc = yaml.safe_load(text)
        exprs = [r["expr"] for g in doc["groups"] for r in g["rules"]]
    names = set()
    for e in exprs:
        names |= set(re.findall(r"\btlsaudit_[a-z0-9_]+", e))
        if re.search(r"\bup\s*\{", e):
            names.add("up")
    return names


def base_name(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def cmd_metric_names(contract, scrape, files):
    with open(contract) as f:
        table = re.findall(r"^\|\s*(tlsaudit_[a-z0-9_]+)\s*\|\s*([a-z]+)", f.read(), re.M)
    types = dict(table)
    check(len(types) >= 10, f"the metrics contract {contract} lists {len(types)} metrics")
    scraped = None
    if scrape:
        with open(scrape) as f:
            scraped = dict(re.findall(r"^# TYPE (\S+) (\S+)", f.read(), re.M))
        check(scraped, f"the scrape {scrape} has # TYPE lines")
    for path in files:
        for name in sorted(metric_names_in(path)):
            if name == "up":
                ok(f"{path}: `up` is Prometheus' own series")
                continue
            base, suffix = base_name(name)
            if base in types:
                check(not suffix or types[base] == "histogram",
                      f"{path}: {name} is in the contract" + (f" ({suffix} of a histogram)" if suffix else ""))
            else:
                check(name in types, f"{path}: {name} is in the contract table")
            if scraped is not None:
                key = base if suffix else name
                check(key in scraped, f"{path}: {name} is exported by the running operator (scrape)")


# Values whose children are Kubernetes objects or free-form maps, documented by the parent's comment; the
# alerts' children (enabled, severity, for, labels, thresholds) by the comment on prometheusRule.alerts.
FREE_FORM = ("resources.", "podSecurityContext.", "securityContext.", "livenessProbe.", "readinessProbe.",
             "nodeSelector.", "grafanaDashboard.labels.")


def values_keys(path):
    """(key path, has a comment right above) for every key line of values.yaml."""
    out, stack, prev = [], [], ""
    with open(path) as f:
        for line in f:
            m = re.match(r"^( *)([A-Za-z0-9_]+):", line)
            if m:
                indent, key = len(m.group(1)), m.group(2)
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                stack.append((indent, key))
                out.append((".".join(k for _, k in stack), prev.lstrip().startswith("#")))
            if line.strip():
                prev = line
    return out


def cmd_docs(values_path, install_md, alerts_md, rules_path):
    with open(install_md) as f:
        install = f.read()
    with open(alerts_md) as f:
        alerts = f.read()
    with open(values_path) as f:
        values = yaml.safe_load(f)
    for key, commented in values_keys(values_path):
        if key.startswith(FREE_FORM):
            continue
        parts = key.split(".")
        if key.startswith("prometheusRule.alerts."):
            if len(parts) == 3:
                check(commented, f"values.yaml: {key} has a comment")
                check(f"`prometheusRule.alerts.{parts[2]}`" in alerts, f"docs/alerts.md describes {key}")
            continue
        check(commented, f"values.yaml: {key} has a comment")
        value = values
        for part in parts:
            value = value[part]
        # A row for every leaf, every free-form map and every empty map; maps of documented keys have none.
        if not isinstance(value, dict) or not value or key + "." in FREE_FORM or key == "prometheusRule.alerts":
            check(f"| `{key}` |" in install, f"docs/install.md's values table has {key}")
    names, _ = alert_names(rules_path)
    for n in names:
        check(f"\n### {n}\n" in alerts and f"[{n}](#{n.lower()})" in alerts,
              f"docs/alerts.md has a section on {n} and a row in its table")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "render-defaults":
        cmd_render_defaults(*args)
    elif cmd == "render-all-options":
        cmd_render_all_options(*args)
    elif cmd == "render-sharding":
        cmd_render_sharding(*args)
    elif cmd == "alert-coverage":
        cmd_alert_coverage(*args)
    elif cmd == "alert-overrides":
        cmd_alert_overrides(*args)
    elif cmd == "finding-links":
        cmd_finding_links(*args)
    elif cmd == "dashboard":
        cmd_dashboard(*args)
    elif cmd == "docs":
        cmd_docs(*args)
    elif cmd == "metric-names":
        sep = args.index("--")
        head = args[:sep]
        cmd_metric_names(head[0], head[1] if len(head) > 1 and head[1] else None, args[sep + 1:])
    else:
        sys.exit(f"checks.py: unknown command {cmd}\n{__doc__}")
    print(f"  {PASSED} checks passed ({cmd})")


if __name__ == "__main__":
    main(sys.argv)
