#!/usr/bin/env bash
# Cross-check: tlsaudit, sslyze, testssl.sh and sslscan against the same local servers, each
# misconfigured in one known way, and a table of what each tool concluded. docs/crosscheck.md
# reads the result.
#
# Servers (127.0.0.1 only; one local root CA → intermediate CA → leaf for bench.test):
#   intermediate          openssl s_server, Mozilla intermediate (TLS 1.2 + 1.3), full chain
#   tls10-only            openssl s_server -tls1 -cipher 'ALL:@SECLEVEL=0'
#   legacy-all            openssl s_server -cipher 'ALL:@SECLEVEL=0' (TLS 1.0-1.3, every suite
#                         OpenSSL 3 still has, anonymous ones included)
#   static-rsa            openssl s_server -tls1_2 -cipher 'kRSA:!eNULL' (no forward secrecy)
#   expired               intermediate config, leaf expired in 2024
#   self-signed           intermediate config, self-signed leaf
#   wrong-san             intermediate config, leaf for other.test (scanned as bench.test)
#   missing-intermediate  intermediate config, leaf served without its intermediate
#   gnutls-3des           gnutls-serv with 3DES and RC4 (TLS 1.0-1.3); it binds every address, so
#                         it runs in a network namespace this script creates, and socat relays
#                         127.0.0.1:PORT into it (as tests/support/openssl.rs does)
# Issue 9 items (verdicts the three other tools can also judge):
#   tls13-only            openssl s_server -tls1_3 (Mozilla "modern"), full chain
#   unknown-root          leaf + intermediate of a second PKI whose root no tool is given
#   sha1-leaf             intermediate config, leaf signed with sha1WithRSAEncryption
#   rsa1024-leaf          intermediate config, 1024-bit RSA leaf
#   lone-leaf-aia         leaf served alone; it names its issuer's URL (AIA caIssuers, loopback)
#   gnutls-no-ems         gnutls-serv NORMAL:%NO_SESSION_HASH (no extended master secret), netns
#   go-pq                 Go crypto/tls (net/http, h2), X25519MLKEM768 on by default, full chain
# Every tool gets the root CA as an extra trust anchor and bench.test as SNI/verification name.
# No DNS: sslyze gets the address in braces, testssl.sh --ip/--nodns none and NXCONNECT.
#
# Usage: scripts/crosscheck.sh [OUTDIR]     (default target/crosscheck; root is needed for ip netns)
#   SERVERS="intermediate expired"   run only these servers
#   TOOLS="tlsaudit sslyze"          run only these tools (the summary reads what OUTDIR holds)
#   TESTSSL=path/to/testssl.sh       another testssl.sh (default: Debian's `testssl`, 3.0.8, which
#                                    has no rating; 3.2 grades by SSL Labs 2009r)
#   SSLYZE=path/to/sslyze            default /opt/sslyze-venv/bin/sslyze
#   TLSAUDIT_PROFILE=debug           scan with target/debug/tlsaudit (default release)
#   TLSAUDIT=path/to/tlsaudit        scan with this binary, build nothing
#   SUMMARY_ONLY=1                   only re-read OUTDIR and print the table
#   KEEP_PKI=1                       reuse OUTDIR/pki (tools or servers run in separate passes)
# Evidence (every tool's full output) stays in OUTDIR, which is under target/ and not in git.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=$(mkdir -p "${1:-target/crosscheck}" && cd "${1:-target/crosscheck}" && pwd)
ALL_SERVERS=(intermediate tls10-only legacy-all static-rsa expired self-signed wrong-san missing-intermediate gnutls-3des
  tls13-only unknown-root sha1-leaf rsa1024-leaf lone-leaf-aia gnutls-no-ems go-pq)
read -r -a SERVERS <<<"${SERVERS:-${ALL_SERVERS[*]}}"
read -r -a TOOLS <<<"${TOOLS:-tlsaudit sslyze testssl sslscan}"
NAME=bench.test
PIDS=()
NETNS=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$NETNS" ]; then ip netns del "$NETNS" 2>/dev/null || true; fi
}
trap cleanup EXIT

fail() { echo "crosscheck: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 missing: $2"; }
SSLYZE=${SSLYZE:-/opt/sslyze-venv/bin/sslyze}
TLSAUDIT_PROFILE=${TLSAUDIT_PROFILE:-release}
TLSAUDIT_BUILD=1
if [ -n "${TLSAUDIT:-}" ]; then TLSAUDIT_BUILD=0; else TLSAUDIT=target/$TLSAUDIT_PROFILE/tlsaudit; fi
TESTSSL=${TESTSSL:-testssl}

summary() {
  python3 - "$OUT" "${SERVERS[@]}" <<'PY'
import datetime, json, os, re, subprocess, sys
import xml.etree.ElementTree as ET

out, servers = sys.argv[1], sys.argv[2:]
now = datetime.datetime.now(datetime.timezone.utc)
VERSIONS = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

# OpenSSL name → IANA name, for sslscan (which prints OpenSSL names only).
OPENSSL_TO_IANA = {}
listing = subprocess.run(["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                         capture_output=True, text=True).stdout
for line in listing.splitlines():
    parts = line.split()
    # 0xC0,0x30 - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 - ECDHE-RSA-AES256-GCM-SHA384 TLSv1.2 ...
    if len(parts) > 4 and parts[1] == "-" and parts[3] == "-":
        OPENSSL_TO_IANA[parts[4]] = parts[2]


def classes(names):
    """Weak-cipher classes of IANA suite names (the same rules for every tool's list)."""
    found = set()
    for n in names:
        if "_WITH_NULL_" in n: found.add("NULL")
        if "_anon_" in n: found.add("anon")
        if "EXPORT" in n: found.add("EXPORT")
        if "_RC4_" in n: found.add("RC4")
        if "3DES" in n: found.add("3DES")
        elif "_DES_" in n or "DES40" in n: found.add("DES")
        if not forward_secret(n): found.add("no-FS")
    return found


def forward_secret(n):
    return not n.startswith("TLS_RSA_") and not re.match(r"TLS_(DH|ECDH)_(RSA|DSS|ECDSA)_", n) \
        and not n.startswith("SSL_RSA_") and not n.startswith("SSL_CK_")


def fs_verdict(names):
    if not names: return "—"
    fs = [forward_secret(n) for n in names]
    return "all" if all(fs) else "none" if not any(fs) else "some"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def yesno(b, none):
    return none if b is None else "yes" if b else "no"


def tlsaudit(d):
    report = load(f"{d}/tlsaudit.json")
    if report is None: return None
    f = report["facts"]
    p = f["protocols"]
    keys = {"SSLv3": "ssl3", "TLSv1.0": "tls1_0", "TLSv1.1": "tls1_1", "TLSv1.2": "tls1_2", "TLSv1.3": "tls1_3"}
    versions = [v for v, k in keys.items() if p.get(k)]
    suites = [(v["version"], s["name"]) for v in f["ciphers"] for s in v["suites"]]
    codes = sorted(x["code"] for x in report["findings"])
    leaf = f["chain"][0] if f["chain"] else None
    t = f["trust"]
    return {
        "versions": versions, "suites": suites,
        "own": [f"{x['code']} ({x['severity']})" for x in report["findings"]
                if x["code"].split(".")[0] in ("cipher", "cert", "chain", "protocol")]
               + [f"grade {report['grade']}, profile {report['profile'] or 'none'}"],
        "order": ", ".join(f"{v['version']}: {'server' if v['serverOrder'] else 'client' if v['serverOrder'] is False else '?'}"
                           for v in f["ciphers"]),
        "expired": "cert.expired" in codes if leaf else None,
        # "Trusted" as the other tools mean it: a path to the root, dates and name aside.
        "trusted": t.get("pathFound") if leaf else None,
        "hostname": "cert.hostname_mismatch" not in codes if leaf else None,
        "self_signed": "cert.self_signed" in codes,
        "chain": (f"incomplete (missing {t.get('missingIssuer')})" if "chain.incomplete" in codes
                  else f"{len(f['chain'])} cert(s), complete"),
        "trust_detail": t.get("error") or ("verified" if t.get("verified") else ""),
        "connections": f["connections"],
        "grade": report["grade"],
        "grade_why": "; ".join(f"{x['code']} ({x['severity']})" for x in report["findings"]),
        "sig": (leaf or {}).get("signature") or "—",
        "key": f"{(leaf or {}).get('keyType', '?')} {(leaf or {}).get('keyBits', '?')}" if leaf else "—",
        # facts.groups and facts.hardening come with the engine-checks branch (issue 9 items 12,
        # 13); without them only the group of the validated handshake is known.
        "groups": ", ".join(f.get("groups", {}).get("supported") or [])
                  or f"{(f.get('negotiated') or {}).get('group') or '—'} (negotiated only)",
        "pq": yesno(f.get("groups", {}).get("pqHybrid"), "not checked" if "groups" not in f else "—"),
        "ems": yesno(f.get("hardening", {}).get("extendedMasterSecret"),
                     "not checked" if "hardening" not in f else "n/a (no TLS 1.2)"),
    }


def sslyze(d):
    doc = load(f"{d}/sslyze.json")
    if doc is None: return None
    scan = doc["server_scan_results"][0]
    if scan["connectivity_status"] != "COMPLETED":
        return {"error": scan.get("connectivity_error_trace", "connectivity failed")[:200]}
    r = scan["scan_result"]
    keys = {"SSLv2": "ssl_2_0", "SSLv3": "ssl_3_0", "TLSv1.0": "tls_1_0", "TLSv1.1": "tls_1_1",
            "TLSv1.2": "tls_1_2", "TLSv1.3": "tls_1_3"}
    versions, suites = [], []
    for v, k in keys.items():
        res = (r.get(f"{k}_cipher_suites") or {}).get("result")
        if res and res["is_tls_version_supported"]:
            versions.append(v)
            suites += [(v, a["cipher_suite"]["name"]) for a in res["accepted_cipher_suites"]]
    info = (r.get("certificate_info") or {}).get("result") or {}
    dep = (info.get("certificate_deployments") or [None])[0]
    out = {"versions": versions, "suites": suites}
    curves = (r.get("elliptic_curves") or {}).get("result") or {}
    out["groups"] = ", ".join(c["name"] for c in curves.get("supported_curves") or []) or "—"
    out["pq"] = "not tested (nassl's OpenSSL 1.1.1 has no ML-KEM)"
    ems = (r.get("tls_extended_master_secret") or {}).get("result")
    out["ems"] = "—" if not ems else "yes" if ems.get("supports_ems_extension") else "no"
    try:
        with open(f"{d}/sslyze.txt") as f:
            text = f.read()
        verdict = re.search(r"(OK - Compliant|FAILED - Not compliant)", text)
        problems = re.findall(r"^\s+\* (\w+):", text, re.M)
        out["own"] = [f"Mozilla intermediate: {verdict.group(1) if verdict else '?'}"
                      + (f" ({', '.join(problems)})" if problems else "")]
    except OSError:
        pass
    if dep:
        leaf = dep["received_certificate_chain"][0]
        after = datetime.datetime.fromisoformat(leaf["not_valid_after"].replace("Z", "+00:00"))
        ours = [p for p in dep["path_validation_results"] if "Supplied" in p["trust_store"]["name"]
                or "custom" in p["trust_store"]["name"].lower()]
        stores = dep["path_validation_results"]
        mine = ours[0] if ours else None
        err = (mine or {}).get("validation_error") or ""
        out.update({
            "sig": (leaf.get("signature_hash_algorithm") or {}).get("name", "?") + " (hash)",
            "key": f"{leaf['public_key'].get('algorithm', '')} {leaf['public_key'].get('key_size', '?')}".strip(),
            "expired": after < now,
            "trusted": mine["was_validation_successful"] if mine else None,
            # Path validation includes the name: success says it matched, a name error says not.
            "hostname": True if mine and mine["was_validation_successful"]
                        else False if re.search(r"hostname|mismatch|subject alternative", err, re.I)
                        else None,
            "trust_detail": err[:160] or "verified",
            "public_stores": ", ".join(sorted({p["trust_store"]["name"] + (":ok" if p["was_validation_successful"] else ":fail") for p in stores if p is not mine})),
            "chain": f"{len(dep['received_certificate_chain'])} cert(s) received, order "
                     f"{'valid' if dep['received_chain_has_valid_order'] else 'invalid'}",
        })
    return out


def testssl(d):
    doc = load(f"{d}/testssl.json")
    if doc is None: return None
    items = []
    for res in doc.get("scanResult", []):
        for section, value in res.items():
            if isinstance(value, list):
                items += [i for i in value if isinstance(i, dict) and "id" in i]
    by_id = {}
    for i in items:
        by_id.setdefault(i["id"], i)
    keys = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLSv1.0": "TLS1", "TLSv1.1": "TLS1_1",
            "TLSv1.2": "TLS1_2", "TLSv1.3": "TLS1_3"}
    versions = [v for v, k in keys.items()
                if k in by_id and by_id[k]["finding"].startswith("offered")]
    suites = []
    for i in items:
        m = re.match(r"cipher-(tls1(?:_[0-3])?|ssl3|ssl2)_x([0-9a-f]+)$", i["id"])
        if m:
            v = {"ssl2": "SSLv2", "ssl3": "SSLv3", "tls1": "TLSv1.0", "tls1_1": "TLSv1.1",
                 "tls1_2": "TLSv1.2", "tls1_3": "TLSv1.3"}[m.group(1)]
            suites.append((v, i["finding"].split()[-1]))
    # testssl.sh 3.2 writes each cipher-* item twice (serverPreferences and cipherTests): once.
    suites = list(dict.fromkeys(suites))
    def finding(key): return by_id.get(key, {}).get("finding", "")
    def severity(key): return by_id.get(key, {}).get("severity", "")
    own = [f"{k.replace('cipherlist_', '')} offered ({severity(k)})" for k in by_id
           if k.startswith("cipherlist_") and k != "cipherlist_STRONG" and finding(k).startswith("offered")]
    for key in ("PFS", "FS"):  # 3.0 says PFS, 3.2 FS
        if key in by_id:
            own.append(f"{key} {finding(key)} ({severity(key)})")
    expiry = finding("cert_expirationStatus") or finding("cert_expirationStatus <cert#1>")
    chain = finding("cert_chain_of_trust") or finding("cert_chain_of_trust <cert#1>")
    trust = finding("cert_trust") or finding("cert_trust <cert#1>")
    caps = [i["finding"] for i in items if i["id"].startswith("grade_cap_reason")]
    warns = [i["finding"] for i in items if i["id"].startswith("grade_cap_warning")]
    exts = finding("TLS_extensions")
    return {
        "versions": versions, "suites": suites, "own": own,
        "grade": finding("overall_grade") or "— (no rating in this testssl.sh)",
        "grade_why": "; ".join(caps + [f"warning: {w}" for w in warns]) or "—",
        "sig": finding("cert_signatureAlgorithm") or finding("cert_signatureAlgorithm <cert#1>"),
        "key": finding("cert_keySize") or finding("cert_keySize <cert#1>"),
        "groups": " ".join(x for x in (finding("FS_KEMs"), finding("FS_ECDHE_curves")) if x) or "—",
        "pq": ("no" if "No KEMs" in finding("FS_KEMs") else "yes: " + finding("FS_KEMs")) if "FS_KEMs" in by_id else "—",
        # EMS is a TLS 1.2 extension; testssl.sh lists the extensions of its best handshake.
        "ems": "n/a (no TLS 1.2)" if "TLSv1.2" not in versions else
               ("yes" if "extended master secret" in exts else "no") if exts else "—",
        "order": finding("cipher_order")[:60],
        "expired": ("expired" in expiry.lower()) if expiry else None,
        "trusted": chain.startswith("passed") if chain else None,
        "hostname": ("match" not in trust.lower() or "Ok" in trust) if trust else None,
        "trust_detail": chain[:160],
        "hostname_detail": trust[:100],
        "chain": f"{finding('certs_countServer') or '?'} cert(s) received, ordering problem: "
                 f"{finding('certs_list_ordering_problem') or '?'}",
    }


def sslscan(d):
    try:
        root = ET.parse(f"{d}/sslscan.xml").getroot()
    except (OSError, ET.ParseError):
        return None
    test = root.find("ssltest")
    if test is None: return None
    names = {"ssl": {"2": "SSLv2", "3": "SSLv3"},
             "tls": {"1.0": "TLSv1.0", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}}
    versions = [names[p.get("type")][p.get("version")] for p in test.iter("protocol")
                if p.get("enabled") == "1"]
    suites, strengths = [], {}
    for c in test.iter("cipher"):
        if c.get("status") in ("accepted", "preferred"):
            n = c.get("cipher")
            v = c.get("sslversion").replace("TLSv1.0", "TLSv1.0")
            v = {"TLSv1": "TLSv1.0"}.get(v, v)
            suites.append((v, OPENSSL_TO_IANA.get(n, n if n.startswith("TLS_") else "?" + n)))
            strengths[c.get("strength")] = strengths.get(c.get("strength"), 0) + 1
    cert = test.find("certificates/certificate") or test.find("certificate")
    def text(tag):
        e = cert.find(tag) if cert is not None else None
        return e.text if e is not None else None
    groups = []
    for g in test.iter("group"):
        if g.get("name") not in groups:
            groups.append(g.get("name"))
    pk = cert.find("pk") if cert is not None else None
    return {
        "versions": versions, "suites": suites,
        "sig": text("signature-algorithm") or "—",
        "key": f"{pk.get('type')} {pk.get('bits')}" if pk is not None else "—",
        "groups": ", ".join(groups) or "—",
        "pq": "not tested (no ML-KEM groups in its list)",
        "own": [f"{n} {k}" for k, n in sorted(strengths.items()) if k not in ("strong", "acceptable")],
        "expired": text("expired") == "true" if text("expired") else None,
        "self_signed": text("self-signed") == "true" if text("self-signed") else None,
        "trusted": None, "hostname": None,
        "chain": f"leaf only (altnames {text('altnames')})",
    }


TOOLS = {"tlsaudit": tlsaudit, "sslyze": sslyze, "testssl": testssl, "sslscan": sslscan}
summary = {}
lines = []
for server in servers:
    d = f"{out}/{server}"
    res = {name: fn(d) for name, fn in TOOLS.items()}
    summary[server] = res
    lines.append(f"\n### {server}\n")
    cols = [t for t in TOOLS if res[t] is not None]
    lines.append("| | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    def row(label, fn):
        cells = []
        for t in cols:
            try:
                cells.append(fn(res[t]))
            except (KeyError, TypeError):
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    fmt = lambda b: "—" if b is None else ("yes" if b else "no")
    row("versions", lambda r: ", ".join(r["versions"]) or "none")
    row("suites (version, suite) pairs", lambda r: str(len(r["suites"])))
    row("distinct suites", lambda r: str(len({s for _, s in r["suites"]})))
    row("weak classes (same rules on each list)", lambda r: ", ".join(sorted(classes([s for _, s in r["suites"]]))) or "none")
    row("forward secrecy (from the list)", lambda r: fs_verdict([s for _, s in r["suites"]]))
    row("tool's own cipher/cert verdicts", lambda r: ", ".join(r.get("own", [])) or "—")
    row("server cipher order", lambda r: r.get("order") or "—")
    row("expired", lambda r: fmt(r.get("expired")))
    row("trusted (local root)", lambda r: fmt(r.get("trusted")))
    row("hostname matches", lambda r: fmt(r.get("hostname")))
    row("self-signed flag", lambda r: fmt(r.get("self_signed")))
    row("chain", lambda r: str(r.get("chain", "—")))
    row("trust detail", lambda r: str(r.get("trust_detail", "—")).replace("|", "/"))
    row("public trust stores", lambda r: r.get("public_stores", "—"))
    row("grade (tlsaudit own; testssl.sh SSL Labs 2009r)", lambda r: r["grade"])
    row("grade reasons (tlsaudit: all findings; testssl.sh: caps, warnings)", lambda r: r["grade_why"].replace("|", "/"))
    row("leaf signature", lambda r: r["sig"])
    row("leaf key", lambda r: r["key"])
    row("key-exchange groups", lambda r: r["groups"])
    row("PQ hybrid group", lambda r: r["pq"])
    row("extended master secret", lambda r: r["ems"])
    # Suites one tool lists and another does not (by version).
    sets = {t: set(res[t]["suites"]) for t in cols if "suites" in res[t]}
    union = set().union(*sets.values()) if sets else set()
    for t, s in sets.items():
        missing = sorted(union - s)
        if missing:
            lines.append(f"\n{t} does not list: " + ", ".join(f"{v} {n}" for v, n in missing))

text = "\n".join(lines) + "\n"
print(text)
with open(f"{out}/summary.md", "w") as f:
    f.write(text)
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=1, default=list)
PY
}

if [ "${SUMMARY_ONLY:-0}" = 1 ]; then summary; exit 0; fi

need openssl "apt-get install openssl"
need python3 "apt-get install python3"
need sslscan "apt-get install sslscan"
command -v "$TESTSSL" >/dev/null || fail "$TESTSSL missing: apt-get install testssl.sh (3.0.8), or a 3.2 checkout's testssl.sh as TESTSSL"
need gnutls-serv "apt-get install gnutls-bin"
need socat "apt-get install socat"
need ip "apt-get install iproute2"
[ -x "$SSLYZE" ] || fail "$SSLYZE missing: python3 -m venv /opt/sslyze-venv && /opt/sslyze-venv/bin/pip install sslyze"
[ "$(id -u)" = 0 ] || fail "run as root: gnutls-serv runs in a network namespace (ip netns add)"
case " ${TOOLS[*]} " in
  *" tlsaudit "*)
    [ "$TLSAUDIT_BUILD" = 0 ] || if [ "$TLSAUDIT_PROFILE" = release ]; then cargo build --release -q; else cargo build -q --bin tlsaudit; fi ;;
esac
case " ${SERVERS[*]} " in
  *" go-pq "*) need go "Go 1.24+ (its crypto/tls offers X25519MLKEM768 by default)" ;;
esac

# --- PKI: root → intermediate → leaves, with `openssl ca` so dates can lie in the past --------
PKI=$OUT/pki
# KEEP_PKI=1 reuses OUTDIR/pki from an earlier run (so that tools run separately, or in parallel
# runs over different SERVERS, judge the same certificates).
make_pki() {
rm -rf "$PKI" && mkdir -p "$PKI/issued"
: >"$PKI/index.txt"
echo 1000 >"$PKI/serial"
cat >"$PKI/ca.cnf" <<EOF
[ ca ]
default_ca = local
[ local ]
database = $PKI/index.txt
new_certs_dir = $PKI/issued
serial = $PKI/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[ anything ]
commonName = supplied
EOF
cat >"$PKI/intermediate.ext" <<'EOF'
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
leaf_ext() { # leaf_ext NAME: extensions of a TLS server leaf for NAME
  printf '%s\n' "subjectAltName = DNS:$1" "basicConstraints = critical,CA:FALSE" \
    "keyUsage = critical,digitalSignature,keyEncipherment" "extendedKeyUsage = serverAuth" \
    "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"
}
issue() { # issue NAME CN CA EXTFILE OPTIONS...: key + certificate NAME.pem signed by CA
  local name=$1 cn=$2 ca=$3 ext=$4
  shift 4
  openssl req -new -newkey "rsa:${BITS:-2048}" -nodes -keyout "$PKI/$name.key" -subj "/CN=$cn" \
    -out "$PKI/$name.csr" 2>/dev/null
  openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/$ca.pem" -keyfile "$PKI/$ca.key" -notext \
    -extfile "$ext" -in "$PKI/$name.csr" -out "$PKI/$name.pem" "$@" 2>"$PKI/$name.log" ||
    fail "openssl ca could not issue $name: $(cat "$PKI/$name.log")"
}
# The CAs are valid since 2023, so the expired leaf (2024) was issued inside their lifetime, as a
# real one would have been: "expired" must not turn into "untrusted" because of the test PKI.
printf '%s\n' "basicConstraints = critical,CA:TRUE" "keyUsage = critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier = hash" >"$PKI/root.ext"
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/root.key" -subj "/CN=crosscheck root CA" \
  -out "$PKI/root.csr" 2>/dev/null
openssl ca -batch -config "$PKI/ca.cnf" -selfsign -keyfile "$PKI/root.key" -notext \
  -extfile "$PKI/root.ext" -in "$PKI/root.csr" -out "$PKI/root.pem" \
  -startdate 20230101000000Z -enddate 20301231000000Z 2>"$PKI/root.log" ||
  fail "openssl ca could not self-sign the root: $(cat "$PKI/root.log")"
issue intermediate "crosscheck intermediate CA" root "$PKI/intermediate.ext" \
  -startdate 20230101000000Z -enddate 20291231000000Z
leaf_ext "$NAME" >"$PKI/leaf.ext"
leaf_ext other.test >"$PKI/other.ext"
issue leaf "$NAME" intermediate "$PKI/leaf.ext" -days 90
issue expired "$NAME" intermediate "$PKI/leaf.ext" -startdate 20240101000000Z -enddate 20240301000000Z
issue other other.test intermediate "$PKI/other.ext" -days 90
# Self-signed: the leaf's own key signs it; CA:FALSE as a server certificate, not a CA, and an
# authority key identifier (keyid:always, or OpenSSL leaves it out) as CA/B profiles require.
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/self.key" -subj "/CN=$NAME" \
  -out "$PKI/self.csr" 2>/dev/null
sed 's/^authorityKeyIdentifier = keyid$/authorityKeyIdentifier = keyid:always/' "$PKI/leaf.ext" \
  >"$PKI/self.ext"
openssl x509 -req -in "$PKI/self.csr" -signkey "$PKI/self.key" -days 90 -extfile "$PKI/self.ext" \
  -out "$PKI/self.pem" 2>/dev/null
cat "$PKI/leaf.pem" "$PKI/intermediate.pem" >"$PKI/leaf-chain.pem"
# Issue 9 leaves. SHA-1 and RSA-1024: same issuer, only the signature hash or the key size differs.
issue sha1 "$NAME" intermediate "$PKI/leaf.ext" -days 90 -md sha1
BITS=1024 issue rsa1024 "$NAME" intermediate "$PKI/leaf.ext" -days 90
# A leaf that names its issuer's URL (AIA caIssuers, on loopback port 9 where nothing listens; no
# tool here fetches it), served without that issuer: the evidence issue 9 asks for before
# "incomplete" is asserted of a lone leaf.
{ cat "$PKI/leaf.ext"; echo "authorityInfoAccess = caIssuers;URI:http://127.0.0.1:9/intermediate.der"; } >"$PKI/aia.ext"
issue aia "$NAME" intermediate "$PKI/aia.ext" -days 90
# A second PKI whose root no tool is given: a complete chain (leaf + intermediate) under an
# unknown root.
openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/uroot.key" -subj "/CN=unknown root CA" \
  -out "$PKI/uroot.csr" 2>/dev/null
openssl ca -batch -config "$PKI/ca.cnf" -selfsign -keyfile "$PKI/uroot.key" -notext \
  -extfile "$PKI/root.ext" -in "$PKI/uroot.csr" -out "$PKI/uroot.pem" \
  -startdate 20230101000000Z -enddate 20301231000000Z 2>"$PKI/uroot.log" ||
  fail "openssl ca could not self-sign the unknown root: $(cat "$PKI/uroot.log")"
issue uintermediate "unknown intermediate CA" uroot "$PKI/intermediate.ext" \
  -startdate 20230101000000Z -enddate 20291231000000Z
issue uleaf "$NAME" uintermediate "$PKI/leaf.ext" -days 90
}
if [ "${KEEP_PKI:-0}" = 1 ] && [ -f "$PKI/uleaf.pem" ]; then echo "crosscheck: reusing $PKI" >&2; else make_pki; fi

# --- servers ------------------------------------------------------------------------------------
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  fail "nothing listens on 127.0.0.1:$1"
}
INTERMEDIATE='ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305'
MOZILLA=(-no_tls1 -no_tls1_1 -cipher "$INTERMEDIATE")
GNUTLS_PRIORITY='NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+ARCFOUR-128:+RSA:+SHA1:+MD5'
s_server() { # s_server PORT LEAF CHAIN|- OPTIONS...
  local port=$1 leaf=$2 chain=$3
  shift 3
  local extra=()
  [ "$chain" != - ] && extra=(-cert_chain "$PKI/$chain.pem")
  openssl s_server -accept "127.0.0.1:$port" -cert "$PKI/$leaf.pem" -key "$PKI/$leaf.key" \
    "${extra[@]}" -www -quiet "$@" >"$OUT/$server/server.log" 2>&1 &
  PIDS+=($!)
}
gnutls() { # gnutls PORT PRIORITY: gnutls-serv in a network namespace, socat relays PORT into it
  local port=$1 priority=$2
  NETNS="tlsaudit-crosscheck-$$"
  ip netns add "$NETNS"
  ip netns exec "$NETNS" ip link set lo up
  ip netns exec "$NETNS" gnutls-serv --port 5556 --http --x509certfile "$PKI/leaf-chain.pem" \
    --x509keyfile "$PKI/leaf.key" --priority "$priority" >"$OUT/$server/server.log" 2>&1 &
  PIDS+=($!)
  local up=0
  for _ in $(seq 200); do
    if ip netns exec "$NETNS" bash -c '(exec 3<>/dev/tcp/127.0.0.1/5556)' 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.05
  done
  [ $up = 1 ] || fail "gnutls-serv did not start: $(tail -5 "$OUT/$server/server.log")"
  # socat splits addresses at ':', so the inner address's colons are escaped.
  socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" \
    "EXEC:ip netns exec $NETNS socat STDIO TCP\\:127.0.0.1\\:5556" 2>>"$OUT/$server/server.log" &
  PIDS+=($!)
}
# A small Go HTTPS server: Go's crypto/tls defaults (X25519MLKEM768 first since Go 1.24), h2.
cat >"$OUT/pq-server.go" <<'GO'
package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
)

func main() {
	srv := &http.Server{
		Addr:      os.Args[1],
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "ok")
		}),
	}
	if err := srv.ListenAndServeTLS(os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
GO
start() { # start SERVER PORT
  local server=$1 port=$2
  case $server in
    intermediate) s_server "$port" leaf intermediate "${MOZILLA[@]}" ;;
    tls10-only) s_server "$port" leaf intermediate -tls1 -cipher 'ALL:@SECLEVEL=0' ;;
    legacy-all) s_server "$port" leaf intermediate -cipher 'ALL:@SECLEVEL=0' ;;
    static-rsa) s_server "$port" leaf intermediate -tls1_2 -cipher 'kRSA:!eNULL' ;;
    expired) s_server "$port" expired intermediate "${MOZILLA[@]}" ;;
    self-signed) s_server "$port" self - "${MOZILLA[@]}" ;;
    wrong-san) s_server "$port" other intermediate "${MOZILLA[@]}" ;;
    missing-intermediate) s_server "$port" leaf - "${MOZILLA[@]}" ;;
    gnutls-3des) gnutls "$port" "$GNUTLS_PRIORITY" ;;
    tls13-only) s_server "$port" leaf intermediate -tls1_3 ;;
    unknown-root) s_server "$port" uleaf uintermediate "${MOZILLA[@]}" ;;
    # Debian's OpenSSL 3 (security level 2) refuses its own SHA-1-signed or RSA-1024 certificate.
    sha1-leaf) s_server "$port" sha1 intermediate -no_tls1 -no_tls1_1 -cipher "$INTERMEDIATE:@SECLEVEL=0" ;;
    rsa1024-leaf) s_server "$port" rsa1024 intermediate -no_tls1 -no_tls1_1 -cipher "$INTERMEDIATE:@SECLEVEL=0" ;;
    lone-leaf-aia) s_server "$port" aia - "${MOZILLA[@]}" ;;
    gnutls-no-ems) gnutls "$port" 'NORMAL:%NO_SESSION_HASH' ;;
    go-pq)
      GOTOOLCHAIN=local GOPROXY=off go build -o "$OUT/pq-server" "$OUT/pq-server.go" \
        2>"$OUT/$server/server.log" || fail "go build: $(tail -5 "$OUT/$server/server.log")"
      "$OUT/pq-server" "127.0.0.1:$port" "$PKI/leaf-chain.pem" "$PKI/leaf.key" \
        >>"$OUT/$server/server.log" 2>&1 &
      PIDS+=($!)
      ;;
    *) fail "unknown server $server" ;;
  esac
  wait_port "$port"
}

# --- scanners -----------------------------------------------------------------------------------
scan() { # scan TOOL PORT DIR
  local tool=$1 port=$2 dir=$3 start
  start=$(date +%s%N)
  case $tool in
    tlsaudit)
      "$TLSAUDIT" scan "127.0.0.1:$port" --sni "$NAME" --ca "$PKI/root.pem" --no-system-roots \
        --json >"$dir/tlsaudit.json" 2>"$dir/tlsaudit.err" || true
      ;;
    sslyze)
      "$SSLYZE" --json_out "$dir/sslyze.json" --certinfo_ca_file "$PKI/root.pem" \
        "$NAME:$port{127.0.0.1}" >"$dir/sslyze.txt" 2>&1 || true
      ;;
    testssl)
      rm -f "$dir/testssl.json"
      # -h and -U complete the set of checks testssl.sh 3.2 needs before it rates (SSL Labs 2009r).
      NXCONNECT=127.0.0.1:0 "$TESTSSL" --quiet --warnings off --color 0 --nodns none --ip 127.0.0.1 \
        --add-ca "$PKI/root.pem" -p -s -f -P -S -h -U -E --jsonfile-pretty "$dir/testssl.json" \
        "$NAME:$port" >"$dir/testssl.txt" 2>&1 || true
      ;;
    sslscan)
      sslscan --no-colour --sni-name="$NAME" --xml="$dir/sslscan.xml" "127.0.0.1:$port" \
        >"$dir/sslscan.txt" 2>&1 || true
      ;;
  esac
  echo "crosscheck: $tool on $server: $((($(date +%s%N) - start) / 1000000)) ms" >&2
  check "$tool" "$dir"
}

# check TOOL DIR: fails loudly unless the tool left a complete report (exit codes say little:
# tlsaudit's and sslyze's depend on the findings, testssl.sh's counts them).
check() {
  local tool=$1 dir=$2
  case $tool in
    tlsaudit)
      python3 -c 'import json,sys; sys.exit(not json.load(open(sys.argv[1]))["facts"]["reachable"])' \
        "$dir/tlsaudit.json" 2>/dev/null || fail "tlsaudit did not reach $server: $(tail -3 "$dir/tlsaudit.err")"
      ;;
    sslyze)
      python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["server_scan_results"][0]; sys.exit(s["scan_status"] != "COMPLETED")' \
        "$dir/sslyze.json" 2>/dev/null || fail "sslyze did not complete on $server: $(tail -3 "$dir/sslyze.txt")"
      ;;
    testssl)
      grep -q '"id"[[:space:]]*:[[:space:]]*"cipher-' "$dir/testssl.json" 2>/dev/null ||
        fail "testssl.sh listed no suites on $server: $(tail -3 "$dir/testssl.txt")"
      ;;
    sslscan)
      grep -q 'status="accepted"\|status="preferred"' "$dir/sslscan.xml" 2>/dev/null ||
        fail "sslscan listed no suites on $server: $(tail -3 "$dir/sslscan.txt")"
      ;;
  esac
}

for server in "${SERVERS[@]}"; do
  mkdir -p "$OUT/$server"
  port=$(free_port)
  start "$server" "$port"
  for tool in "${TOOLS[@]}"; do scan "$tool" "$port" "$OUT/$server"; done
  # Stop this server (and its namespace) before the next, so nothing else listens meanwhile.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  PIDS=()
  if [ -n "$NETNS" ]; then ip netns del "$NETNS"; NETNS=""; fi
done
summary
