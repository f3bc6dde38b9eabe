//! The finding catalog: every stable code, its default severity, what it means and the fix a user
//! applies. Codes are API: alerts, `policy.ignore` and dashboards use them. docs/findings.md is checked
//! against this table by a test.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not a problem.
    Info,
    /// Hardening advice.
    Low,
    /// A weakness that should be fixed.
    Medium,
    /// Breaks some clients or weakens security materially.
    High,
    /// Broken now, or about to break.
    Critical,
}

impl Severity {
    /// Lower-case name as used in JSON, metrics and `--fail-on`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// All severities, most severe first.
    pub const ALL: [Severity; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
    ];
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalog entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Stable code, `area.name`.
    pub code: &'static str,
    /// Default severity (some codes are raised or lowered by policy, e.g. expiry thresholds).
    pub severity: Severity,
    /// What the finding means.
    pub meaning: &'static str,
    /// The fix a user applies.
    pub remediation: &'static str,
}

macro_rules! catalog {
    ($( $variant:ident = $code:literal, $sev:ident, $meaning:literal, $fix:literal; )*) => {
        /// A stable finding code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( #[doc = $meaning] $variant, )* }

        /// Every entry of the catalog, in documentation order.
        pub const CATALOG: &[Entry] = &[
            $( Entry { code: $code, severity: Severity::$sev, meaning: $meaning, remediation: $fix }, )*
        ];

        impl Code {
            /// Every code, in catalog order.
            pub const ALL: &[Code] = &[ $( Code::$variant, )* ];

            /// The catalog entry of this code.
            #[must_use]
            pub fn entry(self) -> &'static Entry {
                &CATALOG[self as usize]
            }
        }
    };
}

catalog! {
    ConnectRefused = "connect.refused", Critical,
        "The TCP connection was refused: nothing listens on the port.",
        "Check that the workload listens on this port and that the Service targetPort is right.";
    ConnectTimeout = "connect.timeout", Critical,
        "The TCP connection or the TLS handshake did not complete within the timeout.",
        "Check NetworkPolicies and firewalls between the auditor and the endpoint, and that the server answers TLS on this port.";
    ConnectReset = "connect.reset", Critical,
        "The server closed or reset the connection during the handshake.",
        "Check the server's TLS configuration and logs; it aborts handshakes without a TLS alert.";
    ConnectFailed = "connect.failed", Critical,
        "The address could not be resolved or reached.",
        "Check the host name and the endpoint address.";
    TlsNotTls = "tls.not_tls", Critical,
        "The port answers, but not with TLS (for example plain HTTP).",
        "Enable TLS on this port, or point the audit at the TLS port.";
    TlsHandshakeFailed = "tls.handshake_failed", Critical,
        "No TLS handshake succeeded; the server's alert is named in the message.",
        "Enable TLS 1.2 and 1.3 with ECDHE AEAD suites and a valid certificate; the alert name says what the server rejected.";
    TlsOversizedHandshake = "tls.oversized_handshake", High,
        "The server speaks TLS but sends a handshake message larger than clients accept (64 KiB in rustls, Go and browsers), usually a huge certificate or chain; those clients cannot connect.",
        "Serve only the leaf and its intermediates (no root, no duplicates), and keep the leaf's subjectAltNames to the names it serves; split a certificate with thousands of names into several.";
    TlsMalformedHandshake = "tls.malformed_handshake", High,
        "The server answers a ClientHello with a ServerHello, but a later handshake message does not parse; clients abort the handshake.",
        "Check the certificate files the server loads (corrupt or not DER) and any middlebox in the path; upgrade the server's TLS library.";
    ProbeDeadlineExceeded = "probe.deadline_exceeded", Medium,
        "The endpoint did not complete the probe within its overall deadline (it stalls or answers very slowly mid-handshake); the results are incomplete.",
        "Check why the server stalls after its ServerHello (overload, a tarpit, a middlebox); if it is only slow, raise `--deadline` (scan) or `--probe-deadline` (operator).";
    PostgresSslDisabled = "postgres.ssl_disabled", Critical,
        "The PostgreSQL server answered the SSLRequest with `N`: it does not offer TLS, so passwords and data cross the network in clear (PostgreSQL protocol docs, \"SSL Session Encryption\", <https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL>).",
        "Set `ssl = on` with `ssl_cert_file` and `ssl_key_file` in postgresql.conf, and `hostssl` (not `host`) lines in pg_hba.conf so clients cannot fall back to plaintext.";
    ProtocolSslv3 = "protocol.sslv3", Critical,
        "SSL 3.0 is accepted (POODLE; broken since 2014).",
        "Disable SSLv3: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`, HAProxy `ssl-min-ver TLSv1.2`.";
    ProtocolTls10 = "protocol.tls1_0", High,
        "TLS 1.0 is accepted (deprecated by RFC 8996).",
        "Disable TLS 1.0: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`, HAProxy `ssl-min-ver TLSv1.2`.";
    ProtocolTls11 = "protocol.tls1_1", High,
        "TLS 1.1 is accepted (deprecated by RFC 8996).",
        "Disable TLS 1.1: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all +TLSv1.2 +TLSv1.3`, HAProxy `ssl-min-ver TLSv1.2`.";
    ProtocolNoTls12 = "protocol.no_tls1_2", Info,
        "Only TLS 1.3 is accepted (Mozilla modern): not a weakness, but clients limited to TLS 1.2 (before Android 10, Java 11, OpenSSL 1.1.1) cannot connect. Silent when the policy profile is `modern`; no grade cap.",
        "Nothing to fix for current clients. If older clients must connect, enable TLS 1.2 with the Mozilla intermediate suites; otherwise set the policy profile to `modern`.";
    ProtocolNoTls13 = "protocol.no_tls1_3", Low,
        "TLS 1.3 is not accepted; the grade is capped at A- (SSL Labs rating guide 2009r).",
        "Enable TLS 1.3: nginx `ssl_protocols TLSv1.2 TLSv1.3;` (OpenSSL 1.1.1+), Go `MinVersion: tls.VersionTLS12` leaves 1.3 on.";
    ProtocolLegacyOnly = "protocol.legacy_only", Critical,
        "Only TLS 1.1 or older is accepted; current clients refuse to connect.",
        "Upgrade the TLS stack and enable TLS 1.2 and 1.3.";
    CipherNull = "cipher.null", Critical,
        "A NULL cipher suite is accepted: traffic is not encrypted.",
        "Remove NULL suites: OpenSSL cipher string `!eNULL`; use the Mozilla intermediate cipher list.";
    CipherAnon = "cipher.anon", Critical,
        "An anonymous (unauthenticated) suite is accepted: anyone can impersonate the server.",
        "Remove anonymous suites: OpenSSL cipher string `!aNULL`; use the Mozilla intermediate cipher list.";
    CipherExport = "cipher.export", Critical,
        "An EXPORT-grade suite is accepted (FREAK/Logjam).",
        "Remove EXPORT suites: OpenSSL cipher string `!EXPORT`; use the Mozilla intermediate cipher list.";
    CipherRc4 = "cipher.rc4", High,
        "An RC4 suite is accepted (RFC 7465 prohibits RC4).",
        "Remove RC4: OpenSSL cipher string `!RC4`; use the Mozilla intermediate cipher list.";
    Cipher3des = "cipher.3des", Medium,
        "A 3DES or DES suite is accepted (64-bit block, SWEET32).",
        "Remove 3DES and DES: OpenSSL cipher string `!3DES:!DES`; use the Mozilla intermediate cipher list.";
    CipherNoForwardSecrecy = "cipher.no_forward_secrecy", Medium,
        "A suite with static RSA key exchange is accepted: recorded traffic can be decrypted once the key leaks.",
        "Offer only ECDHE/DHE suites: OpenSSL cipher string `ECDHE+AESGCM:ECDHE+CHACHA20`; the Mozilla intermediate list.";
    CipherWeakDh = "cipher.weak_dh", Medium,
        "A DHE suite uses a Diffie-Hellman group smaller than 2048 bits (high below 1024: Logjam).",
        "Use a 2048-bit or larger DH group (nginx `ssl_dhparam` with `openssl dhparam 2048`, or the RFC 7919 ffdhe2048 group), or drop DHE suites in favour of ECDHE.";
    CipherCbcOnly = "cipher.cbc_only", Medium,
        "No AEAD suite (GCM, ChaCha20-Poly1305, CCM) is accepted; only CBC suites.",
        "Enable AES-GCM and ChaCha20-Poly1305 suites (TLS 1.2) and TLS 1.3.";
    CipherWeakPreferred = "cipher.weak_preferred", Medium,
        "The server's most preferred suite is weak (no forward secrecy, CBC, or a broken cipher).",
        "Order the cipher list strongest first (ECDHE AEAD) and set `ssl_prefer_server_ciphers` as the Mozilla profile says.";
    CipherNoServerPreference = "cipher.no_server_preference", Info,
        "The server follows the client's cipher order although it accepts weak suites.",
        "Fine when every accepted suite is strong (Mozilla intermediate); otherwise set a server cipher order.";
    CertExpired = "cert.expired", Critical,
        "The certificate has expired.",
        "Renew the certificate and reload the server (cert-manager: check the Certificate's status and the issuer).";
    CertNotYetValid = "cert.not_yet_valid", Critical,
        "The certificate is not valid yet (notBefore in the future, or a skewed clock).",
        "Serve a certificate that is valid now; check the issuer's and the node's clocks.";
    CertExpiringSoon = "cert.expiring_soon", Medium,
        "The certificate expires within the warning threshold (high within the critical one). Each threshold is the smaller of a day count (warningDays 28, criticalDays 14) and a share of the certificate's lifetime (warningLifetimePercent 33, criticalLifetimePercent 17), so a 6-day or 45-day certificate renewed at two thirds of its life (cert-manager's default) never fires, while 90-day and longer ones follow the day counts. The message names the threshold that fired.",
        "Renew the certificate before it expires; with cert-manager check renewBefore and the Certificate's Ready condition.";
    CertHostnameMismatch = "cert.hostname_mismatch", High,
        "The certificate's subjectAltNames do not cover the name the client connects with.",
        "Issue the certificate with the service name in its SANs (e.g. `svc.ns.svc` and `svc.ns.svc.cluster.local`).";
    CertNoSan = "cert.no_san", High,
        "The certificate has no subjectAltName; current clients ignore the Common Name.",
        "Reissue the certificate with the host names as subjectAltName DNS entries.";
    CertSelfSigned = "cert.self_signed", High,
        "The leaf certificate is self-signed.",
        "Issue the certificate from a CA (cert-manager ClusterIssuer), or distribute the certificate as a trust anchor.";
    CertUntrusted = "cert.untrusted", High,
        "No path to a trusted root exists, whatever the time (an expired certificate from a trusted CA is `cert.expired` alone); clients fail with the alert named in the message (usually unknown_ca). The message says whether the chain is complete up to an untrusted root, misses an intermediate (`chain.incomplete`), or cannot tell: a leaf served alone without an AIA caIssuers URL comes either from a private CA or with its intermediate missing.",
        "Serve a chain from a CA that clients trust, or add the internal CA to the audit's trust (spec.trust.caBundle); when an intermediate is missing, serve the full chain (fullchain.pem).";
    CertWeakKey = "cert.weak_key", High,
        "The certificate key is too small (RSA below 2048 bits, EC below 256 bits). rustls/webpki clients reject RSA below 2048 bits and the Baseline Requirements (6.1.5) forbid it for public certificates; browsers and Go still accept 1024. Caps the grade at B (F below 1024 bits).",
        "Reissue with RSA 2048+ or ECDSA P-256 (cert-manager: `privateKey.algorithm: ECDSA`, `size: 256`).";
    CertWeakSignature = "cert.weak_signature", High,
        "A served certificate other than a root is signed with SHA-1, MD5 or MD2. Chrome, Firefox, Go 1.18+ and rustls/webpki reject it, so the grade is T (F for MD5/MD2).",
        "Reissue the certificate with a SHA-256 (or stronger) signature.";
    CertUnparsable = "cert.unparsable", High,
        "The server sent a certificate that cannot be parsed as X.509; clients fail with bad_certificate or decode_error.",
        "Serve a valid PEM/DER certificate chain (check the file the server loads: truncated, wrong format, or a key in place of a certificate).";
    CertLongValidity = "cert.long_validity", Low,
        "A publicly trusted leaf (its chain reaches a web PKI root) is valid for longer than the CA/Browser Forum Baseline Requirements allow for its notBefore (§6.3.2, ballot SC-081): 398 days before 2026-03-15, 200 days from then, 100 days from 2027-03-15, 47 days from 2029-03-15, with 48 hours of leeway after each date. Leaves from private CAs are judged only against `spec.policy.maxValidityDays` (`scan --max-validity-days`), when set.",
        "Issue certificates within the limit and automate renewal (cert-manager `duration`, or an ACME profile such as Let's Encrypt's 45-day `tlsserver`).";
    ChainIncomplete = "chain.incomplete", High,
        "The server does not send an intermediate certificate that clients need: the served CA certificates do not connect to the leaf, or the leaf is served alone and its unknown issuer is published at its AIA caIssuers URL (as public CAs do). A chain of leaf and intermediates ending below an untrusted root is complete (roots are never sent): that is `cert.untrusted` alone.",
        "Serve the full chain: leaf followed by intermediates (nginx `ssl_certificate fullchain.pem;`, a kubernetes.io/tls Secret's tls.crt with the intermediates appended).";
    ChainWrongOrder = "chain.wrong_order", Low,
        "The served certificates are not in leaf-to-root order.",
        "Serve the leaf first, then each issuer in order (fullchain.pem).";
    ChainExpiringIntermediate = "chain.expiring_intermediate", Medium,
        "An intermediate certificate expires before the leaf.",
        "Serve the CA's current intermediate, or reissue the leaf from an intermediate that outlives it.";
    SniDefaultCertMismatch = "sni.default_cert_mismatch", Low,
        "Without SNI the server presents a certificate that does not cover the name; clients that send no SNI fail.",
        "Make the default server (nginx `default_server`) present the right certificate, or make every client send SNI.";
    SniRequired = "sni.required", Info,
        "The server refuses handshakes without SNI.",
        "Make sure every client sends SNI (most do); legacy clients and some health checkers do not.";
    AlpnNoH2 = "alpn.no_h2", Info,
        "The server does not negotiate HTTP/2 through ALPN.",
        "Enable HTTP/2 (nginx `http2 on;`) if the endpoint serves HTTP.";
    OcspNotStapled = "ocsp.not_stapled", Info,
        "The leaf names an OCSP responder (Authority Information Access) but no OCSP response is stapled. Leaves without an OCSP URL get no finding: Let's Encrypt removed OCSP URLs in May 2025 and turned its responders off in August 2025, publishing revocation by CRL only.",
        "Enable OCSP stapling (nginx `ssl_stapling on;`), or ignore this code: clients that check revocation fall back to the responder or to CRLs.";
    OcspMustStapleMissing = "ocsp.must_staple_missing", High,
        "The leaf carries the TLS Feature extension with status_request (\"OCSP must-staple\", RFC 7633) but the server staples no OCSP response; clients that enforce it, such as Firefox, refuse the connection.",
        "Enable OCSP stapling and make sure the server can reach the responder, or reissue the certificate without must-staple (Let's Encrypt no longer issues it).";
    OcspRevoked = "ocsp.revoked", Critical,
        "The stapled OCSP response says the certificate is revoked.",
        "Issue and serve a new certificate.";
    OcspStale = "ocsp.stale", Medium,
        "The stapled OCSP response is past its nextUpdate time.",
        "Check the server's OCSP stapling refresh and its access to the CA's responder.";
    MtlsRequired = "mtls.required", Info,
        "The server requires a client certificate.",
        "Give the audit a client certificate (spec.clientCertificate) to audit this endpoint fully.";
    MtlsClientCertMissing = "mtls.client_cert_missing", High,
        "The server requires a client certificate and none was supplied; the handshake fails.",
        "Set spec.clientCertificate.secretRef (scan: --client-cert/--client-key) to a kubernetes.io/tls Secret the server trusts.";
    MtlsClientCertRejected = "mtls.client_cert_rejected", High,
        "The server rejected the supplied client certificate (the alert is named in the message).",
        "Issue the client certificate from a CA the server trusts (its client CA list), and check that it is valid.";
    MtlsClientCertExpiring = "mtls.client_cert_expiring", Medium,
        "The client certificate used for the audit expires within the warning threshold (the same days-or-lifetime-share rule as `cert.expiring_soon`; high within the critical one), or has expired.",
        "Renew the client certificate Secret.";
    TlsNoFallbackScsv = "tls.no_fallback_scsv", Low,
        "TLS_FALLBACK_SCSV is not honoured: a downgraded handshake to an older version succeeds.",
        "Upgrade the TLS library (OpenSSL 1.0.1j+ honours it), or disable the older protocol versions.";
    TlsInsecureRenegotiation = "tls.insecure_renegotiation", High,
        "The server does not support secure renegotiation (RFC 5746) on TLS 1.2 or older.",
        "Upgrade the TLS library; every maintained stack supports RFC 5746.";
    TlsCompression = "tls.compression", High,
        "TLS compression is enabled (CRIME).",
        "Disable TLS compression (OpenSSL `SSL_OP_NO_COMPRESSION`; upgrade the server).";
    TlsHeartbeat = "tls.heartbeat", Low,
        "The heartbeat extension is enabled (the Heartbleed attack surface).",
        "Build or configure the TLS library without heartbeats.";
    HttpNoHsts = "http.no_hsts", Low,
        "The HTTPS response has no Strict-Transport-Security header (or max-age below 6 months); the grade is capped at A- (SSL Labs rating guide 2009r). Only raised where the endpoint answered HTTP.",
        "Send `Strict-Transport-Security: max-age=31536000` on HTTPS responses.";
    HttpHeadUnreadable = "http.head_unreadable", Low,
        "The response head to `GET /` was not read whole (over 16 KiB, or still arriving at the timeout), and the part read has no Strict-Transport-Security header: HSTS is unknown, not absent.",
        "Keep response heads small (under 16 KiB) and send them promptly; put `Strict-Transport-Security` early in the head.";
    MtlsOptional = "mtls.optional", Medium,
        "The server requests a client certificate but completes the handshake without one (and its HTTP layer, if any, serves the request): anyone passes the TLS layer. High when the audit supplies a client certificate or the policy expects mTLS.",
        "Require the certificate: nginx `ssl_verify_client on;`, Go `ClientAuth: tls.RequireAndVerifyClientCert`, Envoy `require_client_certificate: true`, Gateway API `AllowValidOnly`; stop requesting one if mTLS is not meant.";
    MtlsNotRequested = "mtls.not_requested", High,
        "The policy expects mTLS (spec.policy.requireClientCertificate, scan --expect-mtls), but the server never requests a client certificate.",
        "Enable client-certificate verification on the server (nginx `ssl_client_certificate` + `ssl_verify_client on;`), or drop the expectation from the audit.";
    KexNoPqHybrid = "kex.no_pq_hybrid", Info,
        "No post-quantum hybrid key exchange (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024; draft-ietf-tls-ecdhe-mlkem) is accepted: recorded traffic is exposed to a future quantum computer. Mozilla's guidelines 5.8/6.0 list X25519MLKEM768 first.",
        "Enable X25519MLKEM768: OpenSSL 3.5+ (`ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1:secp384r1;`), Go 1.24+ (default), rustls with aws-lc-rs (default), BoringSSL.";
    TlsNoExtendedMasterSecret = "tls.no_extended_master_secret", Low,
        "TLS 1.2 is negotiated without the extended master secret (RFC 7627): the session is open to triple-handshake and similar attacks; RFC 7627 section 4 says clients and servers SHOULD NOT accept such handshakes.",
        "Upgrade the TLS library or remove the option that disables the extension (OpenSSL `Options = -ExtendedMasterSecret`, `SSL_OP_NO_EXTENDED_MASTER_SECRET`).";
    TlsSha1Signatures = "tls.sha1_signatures", Medium,
        "With only SHA-1 offered in signature_algorithms, the server signs its TLS 1.2 ServerKeyExchange with SHA-1; RFC 9155 section 4: servers MUST NOT include MD5 and SHA-1 in ServerKeyExchange messages.",
        "Refuse SHA-1 handshake signatures: raise OpenSSL's security level (`@SECLEVEL=1` or higher in OpenSSL 3), remove `RSA+SHA1`/`ECDSA+SHA1` from `-sigalgs`, or upgrade the TLS library.";
    BackendInconsistent = "backend.inconsistent", High,
        "Replicas behind one Service serve different certificates or TLS settings.",
        "Roll out the same certificate and TLS configuration to every replica (restart the stale pods after a rotation).";
    IngressSecretMissing = "ingress.secret_missing", High,
        "An Ingress spec.tls entry names a Secret that does not exist or holds no certificate.",
        "Create the kubernetes.io/tls Secret (cert-manager: check the Certificate for this Ingress).";
    IngressHostNotCovered = "ingress.host_not_covered", High,
        "An Ingress TLS host is not covered by the certificate in its Secret.",
        "Reissue the Secret's certificate with every spec.tls host in its SANs.";
    IngressSecretMismatch = "ingress.secret_mismatch", Medium,
        "The certificate the ingress controller serves differs from the one in the Ingress's Secret.",
        "Check that the ingress controller picked up the Secret (events, controller logs); the served certificate is stale or a default.";
    // --- cert-manager Certificates (issue 10 item 2; severities justified in docs/findings.md) ---
    CertmanagerStaleReload = "certmanager.stale_reload", High,
        "The endpoint serves an older certificate than the one cert-manager wrote to its Certificate's Secret (compared by SHA-256, older by notBefore): the Secret was renewed but the workload never reloaded it, so the old certificate stays in use until it expires, and no controller will fix that by itself. High, not critical: nothing fails yet, but an outage is scheduled (cert-manager renews two thirds through the lifetime by default, pkg/util/pki/renewaltime.go, so about a third of the old lifetime remains), and a key rotated after a compromise is not in use.",
        "Restart or reload the workload (`kubectl rollout restart deployment/NAME`), and make it reload on change: watch the mounted files (not a subPath mount, which never updates), or roll the Pods when the Secret changes (e.g. stakater/Reloader).";
    CertmanagerSecretMismatch = "certmanager.secret_mismatch", Medium,
        "The endpoint serves a certificate that is neither its Certificate's current one nor older than it: the endpoint is linked to the wrong Certificate, or serves a certificate from elsewhere. Medium, like ingress.secret_mismatch: the served certificate is judged on its own; the link needs a look. Not repeated where the Ingress check already reports the mismatch.",
        "Check which Secret the workload mounts and that the link (the endpoint's `certificate`, the Service annotation `tlsaudit.dev/certificate`, or the Ingress Secret) names the Certificate it serves.";
    CertmanagerRenewalOverdue = "certmanager.renewal_overdue", High,
        "The Certificate's status.renewalTime passed more than an hour ago and cert-manager has not renewed it: a successful renewal sets a new renewalTime, and after a failed attempt cert-manager waits `1h * 2^(failedIssuanceAttempts - 1)` (cert-manager v1.21 CRD, status.failedIssuanceAttempts), so an hour past the time the first attempt has failed. High: the certificate expires unless someone fixes the issuance, and this fires days before the expiry thresholds would.",
        "Find the failing step: `kubectl describe certificate NAME`, then its CertificateRequest, Order and Challenges (`cmctl status certificate NAME`); fix the issuer or the challenge, then `cmctl renew NAME`.";
    CertmanagerNotReady = "certmanager.not_ready", High,
        "The Certificate has been Ready=False for more than ten minutes; the message carries cert-manager's reason and message. Its Secret is missing, invalid, expired or not what the spec asks for. High, with the ten minutes of the cert-manager mixin's CertManagerCertNotReady alert (`for: 10m`, which pages as critical); here the served certificate's own findings say whether clients fail already.",
        "Read the reason: `kubectl describe certificate NAME` and its CertificateRequest; fix the issuer, the spec or the Secret, then `cmctl renew NAME`.";
    CertmanagerNameNotCovered = "certmanager.name_not_covered", High,
        "The name clients use for the endpoint (its SNI host) is not among the Certificate's spec.dnsNames or spec.ipAddresses, so every certificate cert-manager issues for it fails hostname verification for this name. High, like ingress.host_not_covered: clients using that name fail (or will after the next renewal); wildcards cover one label, as in cert.hostname_mismatch.",
        "Add the name to the Certificate's spec.dnsNames (or a `*.` wildcard of its parent), or link the endpoint to the Certificate that covers it.";
    GatewaySecretMissing = "gateway.secret_missing", High,
        "A Gateway listener's certificateRefs name a Secret that does not exist or holds no certificate.",
        "Create the kubernetes.io/tls Secret the listener names (cert-manager: check the Certificate for this Gateway).";
    GatewayHostNotCovered = "gateway.host_not_covered", High,
        "A Gateway listener hostname (or the hostname of a route attached to a wildcard listener) is not covered by the certificate in the listener's Secret.",
        "Reissue the certificate with the listener's hostname (or every attached route hostname) in its SANs.";
    GatewaySecretMismatch = "gateway.secret_mismatch", Medium,
        "The certificate the Gateway serves for this listener and name differs from every certificate in the listener's certificateRefs Secrets.",
        "Check that the gateway implementation picked up the Secret (the listener's status conditions, controller logs); the served certificate is stale, a default, or another listener's.";
    GatewayRefNotPermitted = "gateway.ref_not_permitted", High,
        "A Gateway listener references a Secret in another namespace that no ReferenceGrant in that namespace allows. Gateway API, Listener certificateRefs: \"References to a resource in different namespace are invalid UNLESS there is a ReferenceGrant in the target namespace that allows the certificate to be attached\"; the listener's ResolvedRefs condition is False with reason RefNotPermitted.",
        "Create a ReferenceGrant in the Secret's namespace with `from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: <gateway namespace>}]` and `to: [{group: \"\", kind: Secret, name: <secret>}]`, or move the Secret next to the Gateway.";
    GatewayFrontendInsecureFallback = "gateway.frontend_insecure_fallback", High,
        "The Gateway validates client certificates in mode AllowInsecureFallback. Gateway API, FrontendValidationMode: the gateway \"will accept connections even if the client certificate is not presented or fails verification. This approach delegates client authorization to the backend and introduce a significant security risk. It should be used in testing environments or on a temporary basis in non-testing environments.\"",
        "Set `spec.tls.frontend.default.validation.mode` (and every `perPort[].tls.validation.mode`) to `AllowValidOnly` (the default) once clients present valid certificates.";
    GatewayBackendTlsInvalid = "gateway.backend_tls_invalid", Critical,
        "A backend targeted by a BackendTLSPolicy serves a certificate that the policy's validation rejects (not issued by its CA certificates, its hostname or subjectAltNames not covered, expired or not yet valid): the gateway's connections to it will fail (Gateway API: BackendTLSPolicy validation, \"Hostname MUST be used for authentication and MUST match the certificate served by the matching backend\").",
        "Serve a certificate from the policy's CA that names `validation.hostname` (or one of `validation.subjectAltNames`), or fix the policy's CA ConfigMap and hostname.";
    TargetRefused = "target.refused", High,
        "The target was not audited: it resolves outside the cluster's networks, or to loopback or link-local.",
        "Audit in-cluster targets only, or ask the operator's administrator to allow this network (--allow-target-cidr).";
    ConfigInvalid = "config.invalid", High,
        "The audit's configuration for this target could not be used (for example an unreadable trust bundle).",
        "Fix the referenced Secret or ConfigMap; the message names it.";
    // Cluster webhooks and aggregated APIs (`spec.cluster`): the apiserver's own TLS clients.
    WebhookCaBundleMismatch = "webhook.ca_bundle_mismatch", Critical,
        "The caBundle of a ValidatingWebhookConfiguration or MutatingWebhookConfiguration webhook, an APIService or a CRD conversion webhook does not verify the certificate its Service serves (probed as the apiserver dials it: SNI `<service>.<namespace>.svc`, trust = the caBundle only; an empty caBundle means the apiserver's system roots). Every call the apiserver makes to it fails: for a webhook with `failurePolicy: Fail` (the default), an APIService or a conversion webhook, requests that reach it are rejected or unavailable cluster-wide (critical); a webhook with `failurePolicy: Ignore` is silently skipped, so its policy or defaults stop applying (high).",
        "Put the CA that issued the Service's serving certificate into the caBundle (cert-manager: annotate the object with `cert-manager.io/inject-ca-from: <namespace>/<certificate>` so the CA injector keeps it current), or serve a certificate issued by the CA already in it.";
    WebhookCaBundleInvalid = "webhook.ca_bundle_invalid", Critical,
        "The caBundle of a webhook, APIService or CRD conversion webhook holds no parsable PEM certificate: the apiserver cannot build its TLS client, so every call fails (critical; high for a webhook with `failurePolicy: Ignore`).",
        "Set the caBundle to the base64 of the PEM CA certificate(s) that issued the Service's serving certificate (cert-manager's CA injector does this).";
    WebhookCaBundleExpiring = "webhook.ca_bundle_expiring", Medium,
        "A CA certificate in the caBundle of a webhook, APIService or CRD conversion webhook (the one that anchors the served chain, when one does) expires within the warning threshold (the same days-or-lifetime-share rule as `cert.expiring_soon`; high within the critical one), or has expired (then as severe as `webhook.ca_bundle_mismatch`: the apiserver's Go verifier rejects a chain through an expired root).",
        "Rotate the webhook's CA before it expires: issue a new CA, put old and new CA into the caBundle, re-issue the serving certificate from the new CA, then drop the old CA (cert-manager does this with a CA Issuer and the CA injector).";
    WebhookInsecureSkipTlsVerify = "webhook.insecure_skip_tls_verify", High,
        "An APIService sets `insecureSkipTLSVerify: true`: the apiserver proxies requests, with the requesting user's identity in headers, to whatever answers at the Service without verifying its certificate (the API reference: \"This is strongly discouraged. You should use the CABundle instead.\").",
        "Remove `insecureSkipTLSVerify` and set `caBundle` to the CA of the Service's serving certificate (for metrics-server: run it with a certificate from a CA you put into the APIService).";
    WebhookUrlNotProbed = "webhook.url_not_probed", Info,
        "A webhook or CRD conversion webhook is called through `clientConfig.url`, not a Service: tlsaudit does not dial URLs named by cluster objects (they often point at loopback or the node network, which the SSRF guard refuses); its caBundle is not checked against a served certificate.",
        "Audit the URL's host explicitly with `spec.endpoints` (its network must be allowed by `--allow-target-cidr`), or move the webhook behind a Service.";
}

impl Code {
    /// The stable code string, e.g. `cert.expired`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.entry().code
    }

    /// Parses a stable code string.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {text:?}")))
    }
}

impl JsonSchema for Code {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FindingCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": codes })
    }
}

/// One problem found on an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable code (docs/findings.md).
    pub code: Code,
    /// Severity after policy (expiry thresholds) was applied.
    pub severity: Severity,
    /// What was found on this endpoint, with the facts (versions, names, dates, alert).
    pub message: String,
    /// The fix a user applies.
    pub remediation: String,
}

impl Finding {
    /// A finding with the catalog's default severity and remediation.
    #[must_use]
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        let entry = code.entry();
        Self {
            code,
            severity: entry.severity,
            message: message.into(),
            remediation: entry.remediation.to_owned(),
        }
    }

    /// The same finding with another severity.
    #[must_use]
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// docs/findings.md: the catalog as a Markdown page (a test keeps the file equal to this).
#[must_use]
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# Finding codes\n\n\
         Generated from `src/findings.rs` by `tlsaudit findings`; a test keeps this page equal to it.\n\
         Codes are stable API: alerts, dashboards and `spec.policy.ignore` use them. The severity is the \n\
         default; `cert.expiring_soon` and `mtls.client_cert_expiring` are high inside the critical threshold, and \n\
         `tls.handshake_failed` is high (not critical) when older hellos still get an answer.\n\n\
         | code | severity | meaning |\n|---|---|---|\n",
    );
    for e in CATALOG {
        let _ = writeln!(
            out,
            "| [`{0}`](#{0}) | {1} | {2} |",
            e.code, e.severity, e.meaning
        );
    }
    for e in CATALOG {
        let _ = write!(
            out,
            "\n<a id=\"{0}\"></a>\n\n## {0}\n\n**Severity:** {1}\n\n{2}\n\n**Fix:** {3}\n",
            e.code, e.severity, e.meaning, e.remediation
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
        assert_eq!(Code::ALL.len(), CATALOG.len());
    }

    #[test]
    fn codes_are_unique_and_area_dotted() {
        let mut seen = std::collections::BTreeSet::new();
        for entry in CATALOG {
            assert!(seen.insert(entry.code), "duplicate {}", entry.code);
            assert!(entry.code.contains('.'), "{} has no area", entry.code);
        }
    }

    #[test]
    fn docs_findings_md_is_the_generated_catalog() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/findings.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/findings.md is stale: run `cargo run -- findings > docs/findings.md`"
        );
    }

    #[test]
    fn unknown_code_is_refused_with_its_name() {
        let err = serde_json::from_str::<Code>("\"cert.expird\"").unwrap_err();
        assert!(err.to_string().contains("cert.expird"));
    }
}
