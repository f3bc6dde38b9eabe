//! The IANA TLS cipher-suite registry as far as servers deploy it: every suite a raw probe offers,
//! with its key exchange, authentication, bulk cipher, MAC and export flag. Input: a two-byte code
//! point. Output: a [`Suite`] (or its name), and the offer lists the raw probes send per version.
//! PSK, SRP, Kerberos and GOST suites are left out: they need credentials a scanner does not have.

/// How the premaster / shared secret is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyExchange {
    /// Static RSA key transport (no forward secrecy).
    Rsa,
    /// Static Diffie-Hellman from the certificate.
    Dh,
    /// Ephemeral (finite-field) Diffie-Hellman.
    Dhe,
    /// Static elliptic-curve Diffie-Hellman from the certificate.
    Ecdh,
    /// Ephemeral elliptic-curve Diffie-Hellman.
    Ecdhe,
    /// Anonymous (unauthenticated) ephemeral Diffie-Hellman.
    DhAnon,
    /// Anonymous (unauthenticated) ephemeral elliptic-curve Diffie-Hellman.
    EcdhAnon,
    /// TLS 1.3: (EC)DHE negotiated by `key_share`, independent of the suite.
    Tls13,
}

/// How the server authenticates itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// RSA certificate.
    Rsa,
    /// DSA certificate.
    Dss,
    /// ECDSA certificate.
    Ecdsa,
    /// No authentication at all.
    Anon,
    /// TLS 1.3: negotiated by `signature_algorithms`, independent of the suite.
    Tls13,
}

/// The bulk (record) cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)] // Reason: `Rc4_40` reads as the registry spells it; `Rc440` would not.
pub enum Cipher {
    /// No encryption.
    Null,
    /// RC4 with a 40-bit export key.
    Rc4_40,
    /// RC4 with a 128-bit key.
    Rc4_128,
    /// RC2-CBC with a 40-bit export key.
    Rc2Cbc40,
    /// DES-CBC with a 40-bit export key.
    Des40Cbc,
    /// Single DES-CBC (56-bit).
    DesCbc,
    /// Triple DES (EDE) CBC.
    TripleDesCbc,
    /// IDEA-CBC.
    IdeaCbc,
    /// SEED-CBC.
    SeedCbc,
    /// AES-128-CBC.
    Aes128Cbc,
    /// AES-256-CBC.
    Aes256Cbc,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// AES-128-CCM (16-byte tag).
    Aes128Ccm,
    /// AES-256-CCM (16-byte tag).
    Aes256Ccm,
    /// AES-128-CCM with an 8-byte tag.
    Aes128Ccm8,
    /// AES-256-CCM with an 8-byte tag.
    Aes256Ccm8,
    /// Camellia-128-CBC.
    Camellia128Cbc,
    /// Camellia-256-CBC.
    Camellia256Cbc,
    /// Camellia-128-GCM.
    Camellia128Gcm,
    /// Camellia-256-GCM.
    Camellia256Gcm,
    /// ARIA-128-CBC.
    Aria128Cbc,
    /// ARIA-256-CBC.
    Aria256Cbc,
    /// ARIA-128-GCM.
    Aria128Gcm,
    /// ARIA-256-GCM.
    Aria256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
}

/// The record MAC (for AEAD suites the MAC is part of the cipher).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mac {
    /// HMAC-MD5.
    Md5,
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256 (TLS 1.2 only).
    Sha256,
    /// HMAC-SHA384 (TLS 1.2 only).
    Sha384,
    /// Authenticated encryption; no separate MAC (TLS 1.2 and later).
    Aead,
}

/// One cipher suite of the IANA registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    /// The two-byte code point.
    pub id: u16,
    /// The IANA name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub name: &'static str,
    /// Key exchange.
    pub kx: KeyExchange,
    /// Server authentication.
    pub auth: Auth,
    /// Bulk cipher.
    pub cipher: Cipher,
    /// Record MAC.
    pub mac: Mac,
    /// An export-grade suite (40/56-bit keys or 512-bit key exchange).
    pub export: bool,
}

impl Suite {
    /// No encryption at all.
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.cipher == Cipher::Null
    }

    /// No server authentication (`DH_anon`, `ECDH_anon`).
    #[must_use]
    pub fn is_anon(&self) -> bool {
        self.auth == Auth::Anon
    }

    /// Export-grade.
    #[must_use]
    pub fn is_export(&self) -> bool {
        self.export
    }

    /// RC4 in any key size.
    #[must_use]
    pub fn is_rc4(&self) -> bool {
        matches!(self.cipher, Cipher::Rc4_40 | Cipher::Rc4_128)
    }

    /// Single DES (including export DES40) or triple DES.
    #[must_use]
    pub fn is_des_or_3des(&self) -> bool {
        matches!(
            self.cipher,
            Cipher::Des40Cbc | Cipher::DesCbc | Cipher::TripleDesCbc
        )
    }

    /// Authenticated ephemeral key exchange: ECDHE, DHE, or any TLS 1.3 suite. Anonymous DH is
    /// ephemeral too but protects nothing, so it does not count.
    #[must_use]
    pub fn forward_secret(&self) -> bool {
        matches!(
            self.kx,
            KeyExchange::Dhe | KeyExchange::Ecdhe | KeyExchange::Tls13
        )
    }

    /// An AEAD cipher (GCM, CCM, ChaCha20-Poly1305).
    #[must_use]
    pub fn aead(&self) -> bool {
        self.mac == Mac::Aead
    }

    /// A CBC-mode block cipher (MAC-then-encrypt).
    #[must_use]
    pub fn cbc(&self) -> bool {
        matches!(
            self.cipher,
            Cipher::Rc2Cbc40
                | Cipher::Des40Cbc
                | Cipher::DesCbc
                | Cipher::TripleDesCbc
                | Cipher::IdeaCbc
                | Cipher::SeedCbc
                | Cipher::Aes128Cbc
                | Cipher::Aes256Cbc
                | Cipher::Camellia128Cbc
                | Cipher::Camellia256Cbc
                | Cipher::Aria128Cbc
                | Cipher::Aria256Cbc
        )
    }

    /// A TLS 1.3 suite (usable only with TLS 1.3, and only suites TLS 1.3 can use).
    #[must_use]
    pub fn tls13(&self) -> bool {
        self.kx == KeyExchange::Tls13
    }

    /// Usable only from TLS 1.2 on: SHA-256/384 MACs and AEAD ciphers came with TLS 1.2.
    #[must_use]
    pub fn tls12_only(&self) -> bool {
        !self.tls13() && matches!(self.mac, Mac::Sha256 | Mac::Sha384 | Mac::Aead)
    }

    /// Rough strength class used to order offers (lower is stronger): a client-ordered server then
    /// reports its best suites first, as a modern client would get them.
    fn offer_rank(&self) -> (u8, u8, u16) {
        let weak = self.is_null()
            || self.is_anon()
            || self.export
            || self.is_rc4()
            || self.is_des_or_3des()
            || self.mac == Mac::Md5;
        let class = match (weak, self.forward_secret(), self.aead()) {
            (false, true, true) => 0,
            (false, true, false) => 1,
            (false, false, true) => 2,
            (false, false, false) => 3,
            (true, ..) => 4,
        };
        let kx = match self.kx {
            KeyExchange::Ecdhe | KeyExchange::Tls13 => 0,
            KeyExchange::Dhe => 1,
            _ => 2,
        };
        (class, kx, self.id)
    }
}

/// The registry entry for `id`, if tlsaudit knows it.
#[must_use]
pub fn lookup(id: u16) -> Option<&'static Suite> {
    SUITES
        .binary_search_by_key(&id, |s| s.id)
        .ok()
        .map(|i| &SUITES[i])
}

/// The IANA name of `id`, or `0x1234` for a code point tlsaudit does not know.
#[must_use]
pub fn name(id: u16) -> String {
    lookup(id).map_or_else(|| format!("0x{id:04x}"), |s| s.name.to_owned())
}

/// Every known suite, ascending by code point.
#[must_use]
pub fn all() -> &'static [Suite] {
    SUITES
}

/// The suites offered to SSL 3.0 … TLS 1.2, strongest first.
#[must_use]
pub fn tls12_and_older() -> Vec<u16> {
    ordered(|s| !s.tls13())
}

/// The TLS 1.3 suites, in registry order.
#[must_use]
pub fn tls13() -> Vec<u16> {
    ordered(Suite::tls13)
}

/// The suites a probe offers at `version` (wire value, `0x0300` … `0x0304`), strongest first:
/// TLS 1.3 suites for TLS 1.3, everything else for TLS 1.2, and the pre-TLS 1.2 subset below.
#[must_use]
pub fn for_version(version: u16) -> Vec<u16> {
    match version {
        0x0304.. => tls13(),
        0x0303 => tls12_and_older(),
        _ => ordered(|s| !s.tls13() && !s.tls12_only()),
    }
}

fn ordered(keep: impl Fn(&Suite) -> bool) -> Vec<u16> {
    let mut picked: Vec<&Suite> = SUITES.iter().filter(|s| keep(s)).collect();
    picked.sort_by_key(|s| s.offer_rank());
    picked.into_iter().map(|s| s.id).collect()
}

macro_rules! suite_table {
    ($($id:literal $name:ident $kx:ident $auth:ident $cipher:ident $mac:ident $($export:ident)?;)*) => {
        &[$(Suite {
            id: $id,
            name: stringify!($name),
            kx: KeyExchange::$kx,
            auth: Auth::$auth,
            cipher: Cipher::$cipher,
            mac: Mac::$mac,
            export: suite_table!(@export $($export)?),
        },)*]
    };
    (@export export) => { true };
    (@export) => { false };
}

/// The table, ascending by code point (lookup binary-searches it; a test checks the order).
static SUITES: &[Suite] = suite_table! {
    0x0001 TLS_RSA_WITH_NULL_MD5 Rsa Rsa Null Md5;
    0x0002 TLS_RSA_WITH_NULL_SHA Rsa Rsa Null Sha1;
    0x0003 TLS_RSA_EXPORT_WITH_RC4_40_MD5 Rsa Rsa Rc4_40 Md5 export;
    0x0004 TLS_RSA_WITH_RC4_128_MD5 Rsa Rsa Rc4_128 Md5;
    0x0005 TLS_RSA_WITH_RC4_128_SHA Rsa Rsa Rc4_128 Sha1;
    0x0006 TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5 Rsa Rsa Rc2Cbc40 Md5 export;
    0x0007 TLS_RSA_WITH_IDEA_CBC_SHA Rsa Rsa IdeaCbc Sha1;
    0x0008 TLS_RSA_EXPORT_WITH_DES40_CBC_SHA Rsa Rsa Des40Cbc Sha1 export;
    0x0009 TLS_RSA_WITH_DES_CBC_SHA Rsa Rsa DesCbc Sha1;
    0x000A TLS_RSA_WITH_3DES_EDE_CBC_SHA Rsa Rsa TripleDesCbc Sha1;
    0x000B TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA Dh Dss Des40Cbc Sha1 export;
    0x000C TLS_DH_DSS_WITH_DES_CBC_SHA Dh Dss DesCbc Sha1;
    0x000D TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA Dh Dss TripleDesCbc Sha1;
    0x000E TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA Dh Rsa Des40Cbc Sha1 export;
    0x000F TLS_DH_RSA_WITH_DES_CBC_SHA Dh Rsa DesCbc Sha1;
    0x0010 TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA Dh Rsa TripleDesCbc Sha1;
    0x0011 TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA Dhe Dss Des40Cbc Sha1 export;
    0x0012 TLS_DHE_DSS_WITH_DES_CBC_SHA Dhe Dss DesCbc Sha1;
    0x0013 TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA Dhe Dss TripleDesCbc Sha1;
    0x0014 TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA Dhe Rsa Des40Cbc Sha1 export;
    0x0015 TLS_DHE_RSA_WITH_DES_CBC_SHA Dhe Rsa DesCbc Sha1;
    0x0016 TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA Dhe Rsa TripleDesCbc Sha1;
    0x0017 TLS_DH_anon_EXPORT_WITH_RC4_40_MD5 DhAnon Anon Rc4_40 Md5 export;
    0x0018 TLS_DH_anon_WITH_RC4_128_MD5 DhAnon Anon Rc4_128 Md5;
    0x0019 TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA DhAnon Anon Des40Cbc Sha1 export;
    0x001A TLS_DH_anon_WITH_DES_CBC_SHA DhAnon Anon DesCbc Sha1;
    0x001B TLS_DH_anon_WITH_3DES_EDE_CBC_SHA DhAnon Anon TripleDesCbc Sha1;
    0x002F TLS_RSA_WITH_AES_128_CBC_SHA Rsa Rsa Aes128Cbc Sha1;
    0x0030 TLS_DH_DSS_WITH_AES_128_CBC_SHA Dh Dss Aes128Cbc Sha1;
    0x0031 TLS_DH_RSA_WITH_AES_128_CBC_SHA Dh Rsa Aes128Cbc Sha1;
    0x0032 TLS_DHE_DSS_WITH_AES_128_CBC_SHA Dhe Dss Aes128Cbc Sha1;
    0x0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA Dhe Rsa Aes128Cbc Sha1;
    0x0034 TLS_DH_anon_WITH_AES_128_CBC_SHA DhAnon Anon Aes128Cbc Sha1;
    0x0035 TLS_RSA_WITH_AES_256_CBC_SHA Rsa Rsa Aes256Cbc Sha1;
    0x0036 TLS_DH_DSS_WITH_AES_256_CBC_SHA Dh Dss Aes256Cbc Sha1;
    0x0037 TLS_DH_RSA_WITH_AES_256_CBC_SHA Dh Rsa Aes256Cbc Sha1;
    0x0038 TLS_DHE_DSS_WITH_AES_256_CBC_SHA Dhe Dss Aes256Cbc Sha1;
    0x0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA Dhe Rsa Aes256Cbc Sha1;
    0x003A TLS_DH_anon_WITH_AES_256_CBC_SHA DhAnon Anon Aes256Cbc Sha1;
    0x003B TLS_RSA_WITH_NULL_SHA256 Rsa Rsa Null Sha256;
    0x003C TLS_RSA_WITH_AES_128_CBC_SHA256 Rsa Rsa Aes128Cbc Sha256;
    0x003D TLS_RSA_WITH_AES_256_CBC_SHA256 Rsa Rsa Aes256Cbc Sha256;
    0x003E TLS_DH_DSS_WITH_AES_128_CBC_SHA256 Dh Dss Aes128Cbc Sha256;
    0x003F TLS_DH_RSA_WITH_AES_128_CBC_SHA256 Dh Rsa Aes128Cbc Sha256;
    0x0040 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 Dhe Dss Aes128Cbc Sha256;
    0x0041 TLS_RSA_WITH_CAMELLIA_128_CBC_SHA Rsa Rsa Camellia128Cbc Sha1;
    0x0042 TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA Dh Dss Camellia128Cbc Sha1;
    0x0043 TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA Dh Rsa Camellia128Cbc Sha1;
    0x0044 TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA Dhe Dss Camellia128Cbc Sha1;
    0x0045 TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA Dhe Rsa Camellia128Cbc Sha1;
    0x0046 TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA DhAnon Anon Camellia128Cbc Sha1;
    0x0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 Dhe Rsa Aes128Cbc Sha256;
    0x0068 TLS_DH_DSS_WITH_AES_256_CBC_SHA256 Dh Dss Aes256Cbc Sha256;
    0x0069 TLS_DH_RSA_WITH_AES_256_CBC_SHA256 Dh Rsa Aes256Cbc Sha256;
    0x006A TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 Dhe Dss Aes256Cbc Sha256;
    0x006B TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 Dhe Rsa Aes256Cbc Sha256;
    0x006C TLS_DH_anon_WITH_AES_128_CBC_SHA256 DhAnon Anon Aes128Cbc Sha256;
    0x006D TLS_DH_anon_WITH_AES_256_CBC_SHA256 DhAnon Anon Aes256Cbc Sha256;
    0x0084 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA Rsa Rsa Camellia256Cbc Sha1;
    0x0085 TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA Dh Dss Camellia256Cbc Sha1;
    0x0086 TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA Dh Rsa Camellia256Cbc Sha1;
    0x0087 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA Dhe Dss Camellia256Cbc Sha1;
    0x0088 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA Dhe Rsa Camellia256Cbc Sha1;
    0x0089 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA DhAnon Anon Camellia256Cbc Sha1;
    0x0096 TLS_RSA_WITH_SEED_CBC_SHA Rsa Rsa SeedCbc Sha1;
    0x0097 TLS_DH_DSS_WITH_SEED_CBC_SHA Dh Dss SeedCbc Sha1;
    0x0098 TLS_DH_RSA_WITH_SEED_CBC_SHA Dh Rsa SeedCbc Sha1;
    0x0099 TLS_DHE_DSS_WITH_SEED_CBC_SHA Dhe Dss SeedCbc Sha1;
    0x009A TLS_DHE_RSA_WITH_SEED_CBC_SHA Dhe Rsa SeedCbc Sha1;
    0x009B TLS_DH_anon_WITH_SEED_CBC_SHA DhAnon Anon SeedCbc Sha1;
    0x009C TLS_RSA_WITH_AES_128_GCM_SHA256 Rsa Rsa Aes128Gcm Aead;
    0x009D TLS_RSA_WITH_AES_256_GCM_SHA384 Rsa Rsa Aes256Gcm Aead;
    0x009E TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 Dhe Rsa Aes128Gcm Aead;
    0x009F TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 Dhe Rsa Aes256Gcm Aead;
    0x00A0 TLS_DH_RSA_WITH_AES_128_GCM_SHA256 Dh Rsa Aes128Gcm Aead;
    0x00A1 TLS_DH_RSA_WITH_AES_256_GCM_SHA384 Dh Rsa Aes256Gcm Aead;
    0x00A2 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 Dhe Dss Aes128Gcm Aead;
    0x00A3 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 Dhe Dss Aes256Gcm Aead;
    0x00A4 TLS_DH_DSS_WITH_AES_128_GCM_SHA256 Dh Dss Aes128Gcm Aead;
    0x00A5 TLS_DH_DSS_WITH_AES_256_GCM_SHA384 Dh Dss Aes256Gcm Aead;
    0x00A6 TLS_DH_anon_WITH_AES_128_GCM_SHA256 DhAnon Anon Aes128Gcm Aead;
    0x00A7 TLS_DH_anon_WITH_AES_256_GCM_SHA384 DhAnon Anon Aes256Gcm Aead;
    0x00BA TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256 Rsa Rsa Camellia128Cbc Sha256;
    0x00BB TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256 Dh Dss Camellia128Cbc Sha256;
    0x00BC TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256 Dh Rsa Camellia128Cbc Sha256;
    0x00BD TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256 Dhe Dss Camellia128Cbc Sha256;
    0x00BE TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256 Dhe Rsa Camellia128Cbc Sha256;
    0x00BF TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256 DhAnon Anon Camellia128Cbc Sha256;
    0x00C0 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256 Rsa Rsa Camellia256Cbc Sha256;
    0x00C1 TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256 Dh Dss Camellia256Cbc Sha256;
    0x00C2 TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256 Dh Rsa Camellia256Cbc Sha256;
    0x00C3 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256 Dhe Dss Camellia256Cbc Sha256;
    0x00C4 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256 Dhe Rsa Camellia256Cbc Sha256;
    0x00C5 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256 DhAnon Anon Camellia256Cbc Sha256;
    0x1301 TLS_AES_128_GCM_SHA256 Tls13 Tls13 Aes128Gcm Aead;
    0x1302 TLS_AES_256_GCM_SHA384 Tls13 Tls13 Aes256Gcm Aead;
    0x1303 TLS_CHACHA20_POLY1305_SHA256 Tls13 Tls13 ChaCha20Poly1305 Aead;
    0x1304 TLS_AES_128_CCM_SHA256 Tls13 Tls13 Aes128Ccm Aead;
    0x1305 TLS_AES_128_CCM_8_SHA256 Tls13 Tls13 Aes128Ccm8 Aead;
    0xC001 TLS_ECDH_ECDSA_WITH_NULL_SHA Ecdh Ecdsa Null Sha1;
    0xC002 TLS_ECDH_ECDSA_WITH_RC4_128_SHA Ecdh Ecdsa Rc4_128 Sha1;
    0xC003 TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA Ecdh Ecdsa TripleDesCbc Sha1;
    0xC004 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA Ecdh Ecdsa Aes128Cbc Sha1;
    0xC005 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA Ecdh Ecdsa Aes256Cbc Sha1;
    0xC006 TLS_ECDHE_ECDSA_WITH_NULL_SHA Ecdhe Ecdsa Null Sha1;
    0xC007 TLS_ECDHE_ECDSA_WITH_RC4_128_SHA Ecdhe Ecdsa Rc4_128 Sha1;
    0xC008 TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA Ecdhe Ecdsa TripleDesCbc Sha1;
    0xC009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA Ecdhe Ecdsa Aes128Cbc Sha1;
    0xC00A TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA Ecdhe Ecdsa Aes256Cbc Sha1;
    0xC00B TLS_ECDH_RSA_WITH_NULL_SHA Ecdh Rsa Null Sha1;
    0xC00C TLS_ECDH_RSA_WITH_RC4_128_SHA Ecdh Rsa Rc4_128 Sha1;
    0xC00D TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA Ecdh Rsa TripleDesCbc Sha1;
    0xC00E TLS_ECDH_RSA_WITH_AES_128_CBC_SHA Ecdh Rsa Aes128Cbc Sha1;
    0xC00F TLS_ECDH_RSA_WITH_AES_256_CBC_SHA Ecdh Rsa Aes256Cbc Sha1;
    0xC010 TLS_ECDHE_RSA_WITH_NULL_SHA Ecdhe Rsa Null Sha1;
    0xC011 TLS_ECDHE_RSA_WITH_RC4_128_SHA Ecdhe Rsa Rc4_128 Sha1;
    0xC012 TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA Ecdhe Rsa TripleDesCbc Sha1;
    0xC013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA Ecdhe Rsa Aes128Cbc Sha1;
    0xC014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA Ecdhe Rsa Aes256Cbc Sha1;
    0xC015 TLS_ECDH_anon_WITH_NULL_SHA EcdhAnon Anon Null Sha1;
    0xC016 TLS_ECDH_anon_WITH_RC4_128_SHA EcdhAnon Anon Rc4_128 Sha1;
    0xC017 TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA EcdhAnon Anon TripleDesCbc Sha1;
    0xC018 TLS_ECDH_anon_WITH_AES_128_CBC_SHA EcdhAnon Anon Aes128Cbc Sha1;
    0xC019 TLS_ECDH_anon_WITH_AES_256_CBC_SHA EcdhAnon Anon Aes256Cbc Sha1;
    0xC023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 Ecdhe Ecdsa Aes128Cbc Sha256;
    0xC024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 Ecdhe Ecdsa Aes256Cbc Sha384;
    0xC025 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 Ecdh Ecdsa Aes128Cbc Sha256;
    0xC026 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384 Ecdh Ecdsa Aes256Cbc Sha384;
    0xC027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 Ecdhe Rsa Aes128Cbc Sha256;
    0xC028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 Ecdhe Rsa Aes256Cbc Sha384;
    0xC029 TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256 Ecdh Rsa Aes128Cbc Sha256;
    0xC02A TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384 Ecdh Rsa Aes256Cbc Sha384;
    0xC02B TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 Ecdhe Ecdsa Aes128Gcm Aead;
    0xC02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 Ecdhe Ecdsa Aes256Gcm Aead;
    0xC02D TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256 Ecdh Ecdsa Aes128Gcm Aead;
    0xC02E TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384 Ecdh Ecdsa Aes256Gcm Aead;
    0xC02F TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 Ecdhe Rsa Aes128Gcm Aead;
    0xC030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 Ecdhe Rsa Aes256Gcm Aead;
    0xC031 TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256 Ecdh Rsa Aes128Gcm Aead;
    0xC032 TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384 Ecdh Rsa Aes256Gcm Aead;
    0xC03C TLS_RSA_WITH_ARIA_128_CBC_SHA256 Rsa Rsa Aria128Cbc Sha256;
    0xC03D TLS_RSA_WITH_ARIA_256_CBC_SHA384 Rsa Rsa Aria256Cbc Sha384;
    0xC03E TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256 Dh Dss Aria128Cbc Sha256;
    0xC03F TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384 Dh Dss Aria256Cbc Sha384;
    0xC040 TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256 Dh Rsa Aria128Cbc Sha256;
    0xC041 TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384 Dh Rsa Aria256Cbc Sha384;
    0xC042 TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256 Dhe Dss Aria128Cbc Sha256;
    0xC043 TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384 Dhe Dss Aria256Cbc Sha384;
    0xC044 TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256 Dhe Rsa Aria128Cbc Sha256;
    0xC045 TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384 Dhe Rsa Aria256Cbc Sha384;
    0xC046 TLS_DH_anon_WITH_ARIA_128_CBC_SHA256 DhAnon Anon Aria128Cbc Sha256;
    0xC047 TLS_DH_anon_WITH_ARIA_256_CBC_SHA384 DhAnon Anon Aria256Cbc Sha384;
    0xC048 TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256 Ecdhe Ecdsa Aria128Cbc Sha256;
    0xC049 TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384 Ecdhe Ecdsa Aria256Cbc Sha384;
    0xC04A TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256 Ecdh Ecdsa Aria128Cbc Sha256;
    0xC04B TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384 Ecdh Ecdsa Aria256Cbc Sha384;
    0xC04C TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256 Ecdhe Rsa Aria128Cbc Sha256;
    0xC04D TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384 Ecdhe Rsa Aria256Cbc Sha384;
    0xC04E TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256 Ecdh Rsa Aria128Cbc Sha256;
    0xC04F TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384 Ecdh Rsa Aria256Cbc Sha384;
    0xC050 TLS_RSA_WITH_ARIA_128_GCM_SHA256 Rsa Rsa Aria128Gcm Aead;
    0xC051 TLS_RSA_WITH_ARIA_256_GCM_SHA384 Rsa Rsa Aria256Gcm Aead;
    0xC052 TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256 Dhe Rsa Aria128Gcm Aead;
    0xC053 TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384 Dhe Rsa Aria256Gcm Aead;
    0xC054 TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256 Dh Rsa Aria128Gcm Aead;
    0xC055 TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384 Dh Rsa Aria256Gcm Aead;
    0xC056 TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256 Dhe Dss Aria128Gcm Aead;
    0xC057 TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384 Dhe Dss Aria256Gcm Aead;
    0xC058 TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256 Dh Dss Aria128Gcm Aead;
    0xC059 TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384 Dh Dss Aria256Gcm Aead;
    0xC05A TLS_DH_anon_WITH_ARIA_128_GCM_SHA256 DhAnon Anon Aria128Gcm Aead;
    0xC05B TLS_DH_anon_WITH_ARIA_256_GCM_SHA384 DhAnon Anon Aria256Gcm Aead;
    0xC05C TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256 Ecdhe Ecdsa Aria128Gcm Aead;
    0xC05D TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384 Ecdhe Ecdsa Aria256Gcm Aead;
    0xC05E TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256 Ecdh Ecdsa Aria128Gcm Aead;
    0xC05F TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384 Ecdh Ecdsa Aria256Gcm Aead;
    0xC060 TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256 Ecdhe Rsa Aria128Gcm Aead;
    0xC061 TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384 Ecdhe Rsa Aria256Gcm Aead;
    0xC062 TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256 Ecdh Rsa Aria128Gcm Aead;
    0xC063 TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384 Ecdh Rsa Aria256Gcm Aead;
    0xC072 TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256 Ecdhe Ecdsa Camellia128Cbc Sha256;
    0xC073 TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384 Ecdhe Ecdsa Camellia256Cbc Sha384;
    0xC074 TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256 Ecdh Ecdsa Camellia128Cbc Sha256;
    0xC075 TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384 Ecdh Ecdsa Camellia256Cbc Sha384;
    0xC076 TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256 Ecdhe Rsa Camellia128Cbc Sha256;
    0xC077 TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384 Ecdhe Rsa Camellia256Cbc Sha384;
    0xC078 TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256 Ecdh Rsa Camellia128Cbc Sha256;
    0xC079 TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384 Ecdh Rsa Camellia256Cbc Sha384;
    0xC07A TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256 Rsa Rsa Camellia128Gcm Aead;
    0xC07B TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384 Rsa Rsa Camellia256Gcm Aead;
    0xC07C TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256 Dhe Rsa Camellia128Gcm Aead;
    0xC07D TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384 Dhe Rsa Camellia256Gcm Aead;
    0xC07E TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256 Dh Rsa Camellia128Gcm Aead;
    0xC07F TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384 Dh Rsa Camellia256Gcm Aead;
    0xC080 TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256 Dhe Dss Camellia128Gcm Aead;
    0xC081 TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384 Dhe Dss Camellia256Gcm Aead;
    0xC082 TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256 Dh Dss Camellia128Gcm Aead;
    0xC083 TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384 Dh Dss Camellia256Gcm Aead;
    0xC084 TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256 DhAnon Anon Camellia128Gcm Aead;
    0xC085 TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384 DhAnon Anon Camellia256Gcm Aead;
    0xC086 TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256 Ecdhe Ecdsa Camellia128Gcm Aead;
    0xC087 TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384 Ecdhe Ecdsa Camellia256Gcm Aead;
    0xC088 TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256 Ecdh Ecdsa Camellia128Gcm Aead;
    0xC089 TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384 Ecdh Ecdsa Camellia256Gcm Aead;
    0xC08A TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256 Ecdhe Rsa Camellia128Gcm Aead;
    0xC08B TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384 Ecdhe Rsa Camellia256Gcm Aead;
    0xC08C TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256 Ecdh Rsa Camellia128Gcm Aead;
    0xC08D TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384 Ecdh Rsa Camellia256Gcm Aead;
    0xC09C TLS_RSA_WITH_AES_128_CCM Rsa Rsa Aes128Ccm Aead;
    0xC09D TLS_RSA_WITH_AES_256_CCM Rsa Rsa Aes256Ccm Aead;
    0xC09E TLS_DHE_RSA_WITH_AES_128_CCM Dhe Rsa Aes128Ccm Aead;
    0xC09F TLS_DHE_RSA_WITH_AES_256_CCM Dhe Rsa Aes256Ccm Aead;
    0xC0A0 TLS_RSA_WITH_AES_128_CCM_8 Rsa Rsa Aes128Ccm8 Aead;
    0xC0A1 TLS_RSA_WITH_AES_256_CCM_8 Rsa Rsa Aes256Ccm8 Aead;
    0xC0A2 TLS_DHE_RSA_WITH_AES_128_CCM_8 Dhe Rsa Aes128Ccm8 Aead;
    0xC0A3 TLS_DHE_RSA_WITH_AES_256_CCM_8 Dhe Rsa Aes256Ccm8 Aead;
    0xC0AC TLS_ECDHE_ECDSA_WITH_AES_128_CCM Ecdhe Ecdsa Aes128Ccm Aead;
    0xC0AD TLS_ECDHE_ECDSA_WITH_AES_256_CCM Ecdhe Ecdsa Aes256Ccm Aead;
    0xC0AE TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 Ecdhe Ecdsa Aes128Ccm8 Aead;
    0xC0AF TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8 Ecdhe Ecdsa Aes256Ccm8 Aead;
    0xCCA8 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 Ecdhe Rsa ChaCha20Poly1305 Aead;
    0xCCA9 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 Ecdhe Ecdsa ChaCha20Poly1305 Aead;
    0xCCAA TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 Dhe Rsa ChaCha20Poly1305 Aead;
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Derives a suite's attributes from its IANA name alone, so the hand-written columns of the
    /// table are checked against a second, independent reading of the registry name.
    fn from_name(name: &str) -> Result<(KeyExchange, Auth, Cipher, Mac, bool), String> {
        let body = name.strip_prefix("TLS_").expect("TLS_ prefix");
        let Some((kx_part, rest)) = body.split_once("_WITH_") else {
            let cipher = match body {
                "AES_128_GCM_SHA256" => Cipher::Aes128Gcm,
                "AES_256_GCM_SHA384" => Cipher::Aes256Gcm,
                "CHACHA20_POLY1305_SHA256" => Cipher::ChaCha20Poly1305,
                "AES_128_CCM_SHA256" => Cipher::Aes128Ccm,
                "AES_128_CCM_8_SHA256" => Cipher::Aes128Ccm8,
                other => return Err(format!("unknown TLS 1.3 suite {other}")),
            };
            return Ok((KeyExchange::Tls13, Auth::Tls13, cipher, Mac::Aead, false));
        };
        let (kx_part, export) = match kx_part.strip_suffix("_EXPORT") {
            Some(k) => (k, true),
            None => (kx_part, false),
        };
        let (kx, auth) = match kx_part {
            "RSA" => (KeyExchange::Rsa, Auth::Rsa),
            "DH_DSS" => (KeyExchange::Dh, Auth::Dss),
            "DH_RSA" => (KeyExchange::Dh, Auth::Rsa),
            "DHE_DSS" => (KeyExchange::Dhe, Auth::Dss),
            "DHE_RSA" => (KeyExchange::Dhe, Auth::Rsa),
            "DH_anon" => (KeyExchange::DhAnon, Auth::Anon),
            "ECDH_ECDSA" => (KeyExchange::Ecdh, Auth::Ecdsa),
            "ECDH_RSA" => (KeyExchange::Ecdh, Auth::Rsa),
            "ECDHE_ECDSA" => (KeyExchange::Ecdhe, Auth::Ecdsa),
            "ECDHE_RSA" => (KeyExchange::Ecdhe, Auth::Rsa),
            "ECDH_anon" => (KeyExchange::EcdhAnon, Auth::Anon),
            other => return Err(format!("unknown key exchange {other} in {name}")),
        };
        let (cipher_part, hash) = ["_MD5", "_SHA256", "_SHA384", "_SHA"]
            .iter()
            .find_map(|h| rest.strip_suffix(h).map(|c| (c, *h)))
            .unwrap_or((rest, ""));
        let cipher = match cipher_part {
            "NULL" => Cipher::Null,
            "RC4_40" => Cipher::Rc4_40,
            "RC4_128" => Cipher::Rc4_128,
            "RC2_CBC_40" => Cipher::Rc2Cbc40,
            "DES40_CBC" => Cipher::Des40Cbc,
            "DES_CBC" => Cipher::DesCbc,
            "3DES_EDE_CBC" => Cipher::TripleDesCbc,
            "IDEA_CBC" => Cipher::IdeaCbc,
            "SEED_CBC" => Cipher::SeedCbc,
            "AES_128_CBC" => Cipher::Aes128Cbc,
            "AES_256_CBC" => Cipher::Aes256Cbc,
            "AES_128_GCM" => Cipher::Aes128Gcm,
            "AES_256_GCM" => Cipher::Aes256Gcm,
            "AES_128_CCM" => Cipher::Aes128Ccm,
            "AES_256_CCM" => Cipher::Aes256Ccm,
            "AES_128_CCM_8" => Cipher::Aes128Ccm8,
            "AES_256_CCM_8" => Cipher::Aes256Ccm8,
            "CAMELLIA_128_CBC" => Cipher::Camellia128Cbc,
            "CAMELLIA_256_CBC" => Cipher::Camellia256Cbc,
            "CAMELLIA_128_GCM" => Cipher::Camellia128Gcm,
            "CAMELLIA_256_GCM" => Cipher::Camellia256Gcm,
            "ARIA_128_CBC" => Cipher::Aria128Cbc,
            "ARIA_256_CBC" => Cipher::Aria256Cbc,
            "ARIA_128_GCM" => Cipher::Aria128Gcm,
            "ARIA_256_GCM" => Cipher::Aria256Gcm,
            "CHACHA20_POLY1305" => Cipher::ChaCha20Poly1305,
            other => return Err(format!("unknown cipher {other} in {name}")),
        };
        let aead = cipher_part.ends_with("GCM")
            || cipher_part.contains("CCM")
            || cipher_part.starts_with("CHACHA20");
        let mac = match (aead, hash) {
            (true, _) => Mac::Aead,
            (false, "_MD5") => Mac::Md5,
            (false, "_SHA") => Mac::Sha1,
            (false, "_SHA256") => Mac::Sha256,
            (false, "_SHA384") => Mac::Sha384,
            (false, other) => return Err(format!("no MAC {other:?} in {name}")),
        };
        Ok((kx, auth, cipher, mac, export))
    }

    #[test]
    fn every_row_agrees_with_its_iana_name() {
        for s in all() {
            assert_eq!(
                Ok((s.kx, s.auth, s.cipher, s.mac, s.export)),
                from_name(s.name),
                "row 0x{:04x} {}",
                s.id,
                s.name
            );
        }
    }

    #[test]
    fn table_is_sorted_and_unique_so_lookup_can_binary_search() {
        assert!(all().windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(all().len(), 223);
    }

    #[test]
    fn lookup_and_name_find_known_and_format_unknown_code_points() {
        assert_eq!(
            lookup(0xC02F).map(|s| s.name),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(name(0x000A), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(name(0x1303), "TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(name(0x1234), "0x1234");
        assert_eq!(name(0x00FF), "0x00ff");
        assert!(lookup(0x5600).is_none());
    }

    #[test]
    fn predicates_classify_representative_suites() {
        let get = |id| *lookup(id).expect("known suite");
        let null = get(0x0002);
        assert!(null.is_null() && !null.forward_secret() && !null.cbc());
        let anon = get(0xC018);
        assert!(anon.is_anon() && !anon.forward_secret() && anon.cbc());
        let export = get(0x0014);
        assert!(export.is_export() && export.is_des_or_3des() && export.forward_secret());
        let rc4 = get(0x0005);
        assert!(rc4.is_rc4() && !rc4.cbc() && !rc4.aead());
        let triple = get(0x000A);
        assert!(triple.is_des_or_3des() && triple.cbc() && !triple.forward_secret());
        let gcm = get(0xC02F);
        assert!(
            gcm.aead() && gcm.forward_secret() && !gcm.cbc() && gcm.tls12_only() && !gcm.tls13()
        );
        let t13 = get(0x1301);
        assert!(t13.tls13() && t13.aead() && t13.forward_secret() && !t13.tls12_only());
        let cbc_sha256 = get(0x003C);
        assert!(cbc_sha256.tls12_only() && cbc_sha256.cbc());
    }

    #[test]
    fn offers_split_by_version_and_put_strong_suites_first() {
        assert_eq!(tls13(), vec![0x1301, 0x1302, 0x1303, 0x1304, 0x1305]);
        assert_eq!(for_version(0x0304), tls13());
        let t12 = tls12_and_older();
        assert_eq!(t12.len(), 218);
        assert_eq!(for_version(0x0303), t12);
        assert_eq!(&t12[..2], &[0xC02B, 0xC02C]);
        let old = for_version(0x0301);
        assert_eq!(for_version(0x0300), old);
        assert!(
            old.iter()
                .all(|id| lookup(*id).is_some_and(|s| !s.tls12_only() && !s.tls13()))
        );
        assert!(old.contains(&0x000A) && old.contains(&0xC013) && !old.contains(&0xC02F));
        assert_eq!(old[0], 0xC009);
        let is = |id: &u16, f: fn(&Suite) -> bool| lookup(*id).is_some_and(f);
        let last_fs_aead = t12
            .iter()
            .rposition(|id| is(id, |s| s.forward_secret() && s.aead()));
        let first_static = t12.iter().position(|id| is(id, |s| !s.forward_secret()));
        assert!(last_fs_aead < first_static);
        assert!(is(t12.last().expect("non-empty"), |s| s.is_anon()
            || s.is_export()
            || s.is_null()));
    }
}
