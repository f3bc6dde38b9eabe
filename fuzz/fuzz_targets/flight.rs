//! Feeds arbitrary bytes to the server-flight parser, whole and in chunks, and checks that both
//! agree. The codec is compiled in from the main crate's source (the whole `src/tls/` room): it
//! depends only on std and thiserror, so the fuzz build does not have to compile the operator's
//! dependency tree.

#![no_main]

#[path = "../../src/tls/mod.rs"]
#[allow(dead_code)]
mod tls;

use libfuzzer_sys::fuzz_target;
use tls::codec::WireError;
use tls::flight::{FlightReader, ServerFlight, StopAt, parse_flight};

/// The NotTls text depends on how many bytes had arrived, not on what they say.
fn normalise(result: Result<ServerFlight, WireError>) -> Result<ServerFlight, WireError> {
    result.map_err(|err| match err {
        WireError::NotTls(_) => WireError::NotTls(String::new()),
        other => other,
    })
}

fuzz_target!(|data: &[u8]| {
    for stop in [StopAt::HelloDone, StopAt::ServerHello] {
        let whole = parse_flight(data, stop);

        // Read-loop style: the chunk size comes from the input so that the fuzzer explores splits.
        let step = usize::from(data.first().copied().unwrap_or(1) % 17).max(1);
        let mut reader = FlightReader::new(stop);
        let mut end = 0;
        let mut finished = reader.advance(&data[..0]);
        while !finished && end < data.len() {
            end = (end + step).min(data.len());
            finished = reader.advance(&data[..end]);
        }
        assert_eq!(normalise(whole), normalise(reader.finish()));
    }
});
