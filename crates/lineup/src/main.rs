//! `lineup`: the binary. A thin CLI over the library crates (see the workspace README):
//! each service is a subcommand, and `lineup demo` runs them all in one process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod validate;

#[derive(Parser)]
#[command(
    name = "lineup",
    version,
    about = "Linear HLS channels from HLS VODs, carried on to viewers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on embedded defaults.
    Demo,
    /// Check a playlist (file or URL) against the RFC 8216 rules players depend on.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lineup: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo => {
                println!("lineup demo: not wired yet");
                Ok(ExitCode::SUCCESS)
            }
            Command::Validate(args) => validate::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lineup: {e:#}");
            ExitCode::from(2)
        }
    }
}
