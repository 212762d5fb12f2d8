//! `lineup`: the binary. A thin CLI over the library crates (see the workspace README):
//! each service is a subcommand, and `lineup demo` runs them all in one process.

use std::process::ExitCode;

use lineup::cli::{Command, LogFormat, parse};
use lineup::{config, demo, validate};

/// mimalloc instead of the system allocator: every request allocates (request and header
/// maps, boxed bodies and futures), and glibc malloc/free were ~15% of the instructions
/// of a cached-playlist request (callgrind). Built with `no_thp`: with transparent huge
/// pages mimalloc's RSS grew ~10 MB at start and ~9 KB per session over the first 1,000
/// sessions (the engine's memory target is measured there); without them it matches glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let (cli, cmd, matches, file) = match parse() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("lineup: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.print_config {
        if let Some((name, _)) = matches.subcommand() {
            let effective = config::render_effective(&cmd, file.as_ref(), name, &matches);
            print!("{effective}");
        }
        return ExitCode::SUCCESS;
    }
    init_logs(cli.log_format);
    if std::env::var_os("LINEUP_API_TOKEN").is_some() {
        tracing::warn!(
            "LINEUP_API_TOKEN is not read: each service's token is LINEUP_<SERVICE>_API_TOKEN"
        );
    }
    web::raise_fd_limit();
    web::set_shutdown_timeout(cli.shutdown_timeout);
    // The metrics recorder before any service counts anything (a gauge set while building
    // a service, such as the origin's channels, would otherwise be lost).
    web::metrics_handle();
    web::set_control_origins(cli.cors_origins.clone());
    let result = web::runtime()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
        .and_then(|rt| rt.block_on(dispatch(cli.command, cli.insecure_no_auth)));
    result.unwrap_or_else(|e| {
        eprintln!("lineup: {e:#}");
        ExitCode::from(2)
    })
}

/// Run the subcommand: every service through the one shell ([`web::run`]: the token rule,
/// the listener, the banner, the shutdown), the demo composing them all.
async fn dispatch(command: Command, insecure: bool) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(a) => return demo::run(a, insecure).await,
        Command::Validate(a) => return validate::run(a).await,
        Command::Catalog(a) if !a.serves() => schedule::cli::run_catalog(a).await?,
        Command::Catalog(a) => web::run(a, insecure).await?,
        Command::Engine(a) => web::run(a, insecure).await?,
        Command::Pullpush(a) => web::run(a, insecure).await?,
        Command::Origin(a) => web::run(a, insecure).await?,
        Command::Stitch(a) => web::run(a, insecure).await?,
        Command::Schedule(a) => web::run(a, insecure).await?,
        Command::Ads(a) => web::run(a, insecure).await?,
        Command::Keys(a) => web::run(a, insecure).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Logs on stderr: text (colour only on a terminal) or JSON lines; level from `RUST_LOG`.
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
}
