//! What the benchmark drivers share: their command line without what cargo adds. Input: the
//! process arguments. Output: the driver's own arguments, or `None` when it was given none.

use std::ffi::OsString;

/// The process arguments (program name first) without the `--bench` that `cargo bench` appends
/// last, or `None` when nothing else is left. `cargo test --all-targets` runs every bench target
/// without arguments, and so does a bare `cargo bench`; a driver needs its arguments (targets, a
/// control plane) from its script, so it must then do nothing.
pub fn driver_args() -> Option<Vec<OsString>> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.last().is_some_and(|arg| arg == "--bench") {
        args.pop();
    }
    (args.len() > 1).then_some(args)
}
