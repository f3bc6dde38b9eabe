//! TLS alerts: the two bytes of an alert record and the RFC names of their descriptions, shared by
//! the raw probes, the rustls handshakes and the chain verdicts. Input: an alert description code.
//! Output: its name, e.g. `handshake_failure`.

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 = warning, 2 = fatal.
    pub level: u8,
    /// The alert description code.
    pub description: u8,
}

impl Alert {
    /// Whether the alert ends the connection (anything but a warning, or a close_notify).
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.level != 1 || self.description == 0
    }

    /// The RFC name of the description, e.g. `handshake_failure`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        alert_name(self.description)
    }
}

/// The RFC name of an alert description, or `unknown`.
#[must_use]
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfcs() {
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(48), "unknown_ca");
        assert_eq!(alert_name(116), "certificate_required");
        assert_eq!(alert_name(42), "bad_certificate");
        assert_eq!(alert_name(71), "insufficient_security");
        assert_eq!(alert_name(112), "unrecognized_name");
        assert_eq!(alert_name(86), "inappropriate_fallback");
        assert_eq!(alert_name(255), "unknown");
    }
}
