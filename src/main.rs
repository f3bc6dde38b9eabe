//! The `tlsaudit` binary: parses the command line, installs the rustls crypto provider, starts
//! tracing and dispatches to a subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when the operator (or another command than `scan`) fails: no apiserver, the Lease
/// lost, the metrics address taken. `scan` exits 0–2 (see `tlsaudit::scan`).
const EXIT_OPERATOR_FAILED: u8 = 3;

/// Audits TLS endpoints from a terminal or as a Kubernetes operator.
#[derive(Debug, Parser)]
#[command(name = "tlsaudit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit one HOST:PORT and print the findings.
    #[command(after_help = tlsaudit::scan::EXIT_CODES_HELP)]
    Scan(tlsaudit::scan::ScanArgs),
    /// Run the Kubernetes operator.
    Controller(tlsaudit::controller::ControllerArgs),
    /// Print the TlsAudit CRD (crds/tlsaudit.yaml).
    Crd,
    /// Print the finding catalog as Markdown (docs/findings.md).
    Findings,
    /// Print the metrics contract as Markdown (docs/metrics.md).
    Metrics,
    /// Print the JSON Schema of `scan --json` (docs/report.schema.json).
    ReportSchema,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Usage errors get their own exit code, apart from "unreachable" (2, clap's default).
            let code = if err.use_stderr() {
                tlsaudit::scan::EXIT_USAGE
            } else {
                0
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a Pod's log or a CI file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let failed = match &cli.command {
        Command::Scan(_) => tlsaudit::scan::EXIT_UNREACHABLE,
        _ => EXIT_OPERATOR_FAILED,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tlsaudit: failed to start the async runtime: {err}");
            return ExitCode::from(failed);
        }
    };
    let result: anyhow::Result<u8> = runtime.block_on(async {
        match cli.command {
            Command::Scan(args) => Ok(match tlsaudit::scan::run(&args).await {
                Ok(code) => code,
                Err(err) => {
                    eprintln!("tlsaudit: {err}");
                    err.exit_code()
                }
            }),
            Command::Controller(args) => {
                tlsaudit::controller::run(args).await?;
                Ok(0)
            }
            Command::Crd => {
                tlsaudit::scan::write_stdout(&tlsaudit::crd::crd_yaml()?)?;
                Ok(0)
            }
            Command::ReportSchema => {
                tlsaudit::scan::write_stdout(&tlsaudit::report::json_schema()?)?;
                Ok(0)
            }
            Command::Findings => {
                tlsaudit::scan::write_stdout(&tlsaudit::findings::markdown())?;
                Ok(0)
            }
            Command::Metrics => {
                tlsaudit::scan::write_stdout(&tlsaudit::metrics::markdown())?;
                Ok(0)
            }
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("tlsaudit: {err:#}");
            ExitCode::from(failed)
        }
    }
}
