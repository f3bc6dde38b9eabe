//! The TLS vocabulary: the pure record / handshake codec of the raw probes and the cipher-suite
//! registry. No I/O, no clock, and no import from the rest of the crate: `probe` drives it over
//! sockets, `cert`, `evaluate` and `grade` read its names and tables, and the fuzz crate compiles
//! this folder on its own, so it depends on nothing but `std` and `thiserror`.
//! Input: ClientHello fields to encode, or the bytes a server sent back, possibly cut at any point;
//! suite, group and alert code points. Output: a ClientHello record, a [`flight::ServerFlight`] or a
//! [`codec::WireError`] (never a panic); suite attributes and IANA names.
//!
//! - [`codec`]: the error type and the bounds-checked reader and writer primitives;
//! - [`codepoints`]: versions, content, handshake and extension types;
//! - [`client_hello`]: the hello the probes send;
//! - [`server_hello`]: ServerHello / HelloRetryRequest and their extensions;
//! - [`flight`]: the record deframer and the TLS ≤ 1.2 server flight;
//! - [`key_exchange`]: named groups and ServerKeyExchange parameters;
//! - [`alert`]: alert records and names;
//! - [`suites`]: the cipher-suite registry and the offer lists per version;
//! - [`starttls`]: the bytes sent before a ClientHello when a protocol opens TLS in-band (PostgreSQL).

pub mod alert;
pub mod client_hello;
pub mod codec;
pub mod codepoints;
pub mod flight;
pub mod key_exchange;
pub mod server_hello;
pub mod starttls;
pub mod suites;
