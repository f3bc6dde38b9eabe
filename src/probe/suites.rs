//! Placeholder until the cipher-suite table lands.
/// A suite.
#[derive(Debug)]
pub struct Suite;
impl Suite {
    /// x
    #[must_use]
    pub fn is_null(&self) -> bool {
        false
    }
    /// x
    #[must_use]
    pub fn is_anon(&self) -> bool {
        false
    }
    /// x
    #[must_use]
    pub fn is_export(&self) -> bool {
        false
    }
    /// x
    #[must_use]
    pub fn is_rc4(&self) -> bool {
        false
    }
    /// x
    #[must_use]
    pub fn is_des_or_3des(&self) -> bool {
        false
    }
    /// x
    #[must_use]
    pub fn forward_secret(&self) -> bool {
        true
    }
    /// x
    #[must_use]
    pub fn aead(&self) -> bool {
        true
    }
    /// x
    #[must_use]
    pub fn tls13(&self) -> bool {
        false
    }
}
/// Lookup.
#[must_use]
pub fn lookup(id: u16) -> Option<&'static Suite> {
    let _ = id;
    None
}
/// Name of a suite.
#[must_use]
pub fn name(id: u16) -> String {
    format!("0x{id:04X}")
}
