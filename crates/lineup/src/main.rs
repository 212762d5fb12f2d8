//! `lineup`: the binary. A thin CLI over the library crates (see the workspace README):
//! each service is a subcommand, and `lineup demo` runs them all in one process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lineup::{demo, validate};

/// mimalloc instead of the system allocator: every request allocates (request and header
/// maps, boxed bodies and futures), and glibc malloc/free were ~15% of the instructions
/// of a cached-playlist request (callgrind). Built with `no_thp`: with transparent huge
/// pages mimalloc's RSS grew ~10 MB at start and ~9 KB per session over the first 1,000
/// sessions (the engine's memory target is measured there); without them it matches glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run every service in one process on embedded defaults (engine -> pullpush -> origin).
    Demo(demo::Args),
    /// Run the channel engine (VOD2Live).
    Engine(engine::EngineArgs),
    /// Run the pull/push service (fetch live HLS, push to origins).
    Pullpush(pullpush::PullPushArgs),
    /// Run the origin (ingest, DVR, time-shift, I-frames, ad markers, AES-128).
    Origin(origin::OriginArgs),
    /// Run the test ad server (/adserver) and the SSAI proxy (/ads).
    Ads(ads::AdsArgs),
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
    let runtime = match web::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lineup: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Engine(args) => run_engine(args).await,
            Command::Pullpush(args) => run_pullpush(args).await,
            Command::Origin(args) => {
                let origin = origin::build(args).await?;
                origin.serve().await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Ads(args) => run_ads(args).await,
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

async fn run_engine(args: engine::EngineArgs) -> anyhow::Result<ExitCode> {
    let listen = args.listen.clone();
    let service = engine::build(args).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(addr = %listen, "engine listening");
    web::serve(listener, service.router()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_pullpush(args: pullpush::PullPushArgs) -> anyhow::Result<ExitCode> {
    let service = pullpush::PullPush::open(pullpush::Config::from(&args)).await?;
    tracing::info!(addr = %args.listen, "pullpush listening");
    service.serve(args.listen).await?;
    // Stop the fetchers and wait until their state is on disk, so a restart continues.
    service.close().await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_ads(args: ads::AdsArgs) -> anyhow::Result<ExitCode> {
    let (ad_server, proxy) = ads::build(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(addr = %args.listen, "ads listening: /adserver (VAST), /ads (SSAI)");
    web::serve(listener, ads::router(&ad_server, &proxy)).await?;
    Ok(ExitCode::SUCCESS)
}
