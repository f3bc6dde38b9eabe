//! The names a probe may put in SNI (RFC 6066 §3: an ASCII host name, no trailing dot, never an IP
//! literal) and the checks that refuse anything else before a byte is sent. Pure.
//! Input: a host or server name as a user or a spec wrote it. Output: whether it is an IP literal
//! or a host name, or a [`NameError`] that says what is wrong with it.

use std::net::IpAddr;

/// Longest host name (RFC 1035 §2.3.4, in its dotted text form).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label of a host name (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// What a valid name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostName {
    /// An IPv4 or IPv6 literal: dialled as is, never sent as SNI.
    Ip(IpAddr),
    /// A host name: sent as SNI and verified against the certificate.
    Dns,
}

/// Why a name cannot be used as a host or SNI name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing was given.
    #[error("empty host name")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    #[error("host name of {0} bytes is longer than {MAX_NAME_LEN}")]
    TooLong(usize),
    /// A label longer than [`MAX_LABEL_LEN`].
    #[error("label of {0} bytes in the host name is longer than {MAX_LABEL_LEN}")]
    LabelTooLong(usize),
    /// Two dots in a row, or a leading or trailing dot.
    #[error("empty label in the host name (a leading, doubled or trailing dot)")]
    EmptyLabel,
    /// A byte outside ASCII: internationalised names must be given in their `xn--` form.
    #[error("non-ASCII host name: give internationalised names in their xn-- (punycode) form")]
    NonAscii,
    /// A space or a control character.
    #[error("host name contains a space or a control character")]
    Whitespace,
    /// Any other character outside letters, digits, `-` and `_`.
    #[error("host name contains {0:?}; only letters, digits, '-', '_' and '.' are allowed")]
    Character(char),
    /// A label starts or ends with a hyphen.
    #[error("a label of the host name starts or ends with '-'")]
    Hyphen,
}

/// Checks `name` as a dial target or SNI name: an IP literal, or an ASCII host name of at most 253
/// bytes whose labels are 1–63 letters, digits, `-` or `_` and do not start or end with `-`.
pub fn check(name: &str) -> Result<HostName, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(HostName::Ip(ip));
    }
    if !name.is_ascii() {
        return Err(NameError::NonAscii);
    }
    if name
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(NameError::Whitespace);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong(label.len()));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-' && *c != '_')
        {
            return Err(NameError::Character(c));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::Hyphen);
        }
    }
    Ok(HostName::Dns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_and_ip_literals_pass() {
        assert_eq!(check("api.example.com"), Ok(HostName::Dns));
        assert_eq!(check("svc-1.ns_a.svc"), Ok(HostName::Dns));
        assert_eq!(check("localhost"), Ok(HostName::Dns));
        assert!(matches!(check("10.0.0.7"), Ok(HostName::Ip(_))));
        assert!(matches!(check("::1"), Ok(HostName::Ip(_))));
        let longest = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(longest.len(), 253);
        assert_eq!(check(&longest), Ok(HostName::Dns));
    }

    #[test]
    fn names_that_cannot_be_sent_as_sni_are_refused_with_the_reason() {
        assert_eq!(check(""), Err(NameError::Empty));
        assert_eq!(check("a b.example"), Err(NameError::Whitespace));
        assert_eq!(check("a\u{7}b.example"), Err(NameError::Whitespace));
        assert_eq!(check("a\tb"), Err(NameError::Whitespace));
        assert_eq!(check("bücher.example"), Err(NameError::NonAscii));
        assert_eq!(check(&"a".repeat(300)), Err(NameError::TooLong(300)));
        assert_eq!(
            check(&format!("{}.example", "a".repeat(64))),
            Err(NameError::LabelTooLong(64))
        );
        assert_eq!(check("example.com."), Err(NameError::EmptyLabel));
        assert_eq!(check("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(check("::1:8443:x"), Err(NameError::Character(':')));
        assert_eq!(check("host/path"), Err(NameError::Character('/')));
        assert_eq!(check("-lead.example"), Err(NameError::Hyphen));
    }
}
