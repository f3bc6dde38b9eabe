//! What the benchmark drivers share: telling their own command line from what cargo passes. Input:
//! the process arguments and environment. Output: the driver's arguments, or `None` when it must do
//! nothing.

use std::ffi::OsString;

/// The arguments (program name first) to run with, or `None` when cargo ran the driver as part of
/// a test or bench sweep:
/// - `cargo bench` appends `--bench`: that flag is dropped, and with nothing else left (a bare
///   `cargo bench`) there is nothing to run;
/// - `cargo test --benches` / `--all-targets` runs bench targets without `--bench` and with cargo's
///   `CARGO` variable set, passing only the test harness's arguments (a filter, `--nocapture`):
///   never ours;
/// - run directly (by benches/*.sh or by hand), every argument is the driver's.
pub fn driver_args() -> Option<Vec<OsString>> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.last().is_some_and(|arg| arg == "--bench") {
        args.pop();
        return (args.len() > 1).then_some(args);
    }
    if std::env::var_os("CARGO").is_some() {
        return None;
    }
    Some(args)
}
