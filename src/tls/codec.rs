//! The codec's primitives: [`WireError`], a bounds-checked reader over one message and the
//! length-prefixed writers the ClientHello encoder uses. Input: byte slices and integers. Output:
//! integers and sub-slices read, or bytes appended — or a [`WireError`], never a panic.

/// Why bytes could not be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The peer's first bytes are not a TLS record (e.g. an HTTP or SSH banner).
    #[error("peer does not speak TLS: reply starts with {0:?}")]
    NotTls(String),
    /// A record announced more than [`MAX_RECORD_LEN`](super::flight::MAX_RECORD_LEN) bytes.
    #[error("record of {0} bytes exceeds the TLS limit")]
    RecordTooLarge(usize),
    /// A handshake message announced more than
    /// [`MAX_HANDSHAKE_LEN`](super::flight::MAX_HANDSHAKE_LEN) bytes.
    #[error("handshake message of {0} bytes exceeds the limit")]
    HandshakeTooLarge(usize),
    /// A structure did not parse.
    #[error("failed to parse the server's {0}")]
    Malformed(&'static str),
    /// A message arrived where the protocol does not allow it.
    #[error("unexpected {0} from the server")]
    Unexpected(&'static str),
    /// The peer stopped in the middle of a record or handshake message.
    #[error("server flight ends inside a record or handshake message")]
    Truncated,
    /// The ClientHello to build does not fit its length fields or one record.
    #[error("failed to encode the ClientHello: {0} bytes do not fit")]
    HelloTooLarge(usize),
}

/// A bounds-checked cursor over one message; every read names what it was reading.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.data.len() {
            return Err(WireError::Malformed(self.what));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    pub(super) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u24(&mut self) -> Result<usize, WireError> {
        let b = self.take(3)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    pub(super) fn vec8(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    pub(super) fn vec16(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    pub(super) fn vec24(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u24()?;
        self.take(n)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(super) fn end(&self) -> Result<(), WireError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(WireError::Malformed(self.what))
        }
    }
}

pub(super) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

pub(super) fn put_u24(out: &mut Vec<u8>, value: usize) -> Result<(), WireError> {
    if value >= 1 << 24 {
        return Err(WireError::HelloTooLarge(value));
    }
    out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
    Ok(())
}

pub(super) fn put_vec8(out: &mut Vec<u8>, data: &[u8]) -> Result<(), WireError> {
    let len = u8::try_from(data.len()).map_err(|_| WireError::HelloTooLarge(data.len()))?;
    out.push(len);
    out.extend_from_slice(data);
    Ok(())
}

pub(super) fn put_vec16(out: &mut Vec<u8>, data: &[u8]) -> Result<(), WireError> {
    let len = u16::try_from(data.len()).map_err(|_| WireError::HelloTooLarge(data.len()))?;
    put_u16(out, len);
    out.extend_from_slice(data);
    Ok(())
}

pub(super) fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) -> Result<(), WireError> {
    put_u16(out, kind);
    put_vec16(out, data)
}
