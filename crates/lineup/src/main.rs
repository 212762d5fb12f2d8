//! `lineup`: the binary. A thin CLI over the library crates (see the workspace README):
//! each service is a subcommand, and `lineup demo` runs them all in one process.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use lineup::{config, demo, validate};

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
    /// Let a service listen beyond loopback without an API token: anyone who can reach it
    /// can then create, change and delete through its control API.
    #[arg(long, global = true, env = "LINEUP_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
    /// An origin (`scheme://host[:port]`) whose web pages may call the control APIs from a
    /// browser (repeat, or comma-separate). Playback is open to every origin regardless.
    #[arg(
        long = "cors-origin",
        global = true,
        env = "LINEUP_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = web::parse_origin
    )]
    cors_origins: Vec<String>,
    /// The config file (TOML, one table per subcommand; see README). Default: ./lineup.toml
    /// when it exists.
    #[arg(long, global = true, env = "LINEUP_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Print the effective configuration of the subcommand (command line, environment,
    /// file, defaults; secrets as ***) and exit.
    #[arg(long, global = true)]
    print_config: bool,
    /// Log format on stderr.
    #[arg(long, global = true, env = "LINEUP_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// Seconds a service may take to stop on SIGTERM or Ctrl-C: it stops accepting at once,
    /// requests in flight finish, pull/push fetchers finish their transfers and persist
    /// their state, the origin writes its index; what is still running then is cut. Exit
    /// status 0 either way.
    #[arg(
        long,
        global = true,
        env = "LINEUP_SHUTDOWN_TIMEOUT",
        default_value = "10",
        value_parser = parse_seconds
    )]
    shutdown_timeout: std::time::Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A non-negative number of seconds (fractions allowed).
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{s}: must be between 0 and 3600 seconds"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `--config PATH` / `--config=PATH` from the raw arguments, else `LINEUP_CONFIG`, else
/// `./lineup.toml` if it exists. Read before parsing, because the file sets defaults.
fn config_path() -> Option<std::path::PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return args.next().map(Into::into);
        }
        if let Some(p) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(p.into());
        }
    }
    if let Some(p) = std::env::var_os("LINEUP_CONFIG").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let default = std::path::PathBuf::from("lineup.toml");
    default.is_file().then_some(default)
}

/// Parse the command line over the config file and the environment.
type Parsed = (
    Cli,
    clap::Command,
    clap::ArgMatches,
    Option<config::ConfigFile>,
);

fn parse() -> Result<Parsed, String> {
    let mut cmd = config::with_env_for_every_option(Cli::command());
    let file = match config_path() {
        Some(path) => Some(config::ConfigFile::load(&path).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Some(f) = &file {
        cmd = f.apply(cmd).map_err(|e| e.to_string())?;
    }
    let matches = cmd.clone().get_matches();
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    Ok((cli, cmd, matches, file))
}

/// The addresses a `--listen` value names (a host name may name several).
fn resolve(listen: &str) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    Ok(std::net::ToSocketAddrs::to_socket_addrs(listen)
        .map_err(|e| anyhow::anyhow!("--listen {listen}: {e}"))?
        .collect())
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
    /// Run the stitch service (house ads into HLS VODs, lambda-stitch payloads).
    Stitch(stitch::StitchArgs),
    /// Run the catalog (assets, MRSS/Atom feeds), or `catalog add <HLS URL>...` / `catalog list`.
    Catalog(schedule::cli::CatalogArgs),
    /// Run the schedule service (channels, schedules, auto-fill from MRSS, XMLTV).
    Schedule(schedule::cli::ScheduleArgs),
    /// Run the test ad server (/adserver) and the SSAI proxy (/ads).
    Ads(ads::AdsArgs),
    /// Check a playlist (file or URL) against the RFC 8216 rules players depend on.
    Validate(validate::Args),
}

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
            print!(
                "{}",
                config::render_effective(&cmd, file.as_ref(), name, &matches)
            );
        }
        return ExitCode::SUCCESS;
    }
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    web::raise_fd_limit();
    web::set_shutdown_timeout(cli.shutdown_timeout);
    // The metrics recorder before any service counts anything (a gauge set while building
    // a service, such as the origin's channels, would otherwise be lost).
    web::metrics_handle();
    web::set_control_origins(cli.cors_origins.clone());
    let insecure = cli.insecure_no_auth;
    let runtime = match web::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lineup: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => {
                web::require_token(
                    "lineup demo",
                    &[args.listen],
                    args.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                demo::run(args).await
            }
            Command::Engine(args) => {
                web::require_token(
                    "lineup engine",
                    &resolve(&args.listen)?,
                    args.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                run_engine(args).await
            }
            Command::Pullpush(args) => {
                web::require_token(
                    "lineup pullpush",
                    &[args.listen],
                    args.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                run_pullpush(args).await
            }
            Command::Origin(args) => {
                web::require_token(
                    "lineup origin",
                    &[args.listen],
                    args.api_token.as_deref(),
                    "--api-token",
                    insecure,
                )?;
                let listen = args.listen;
                let origin = origin::build(args).await?;
                origin
                    .serve()
                    .await
                    .map_err(|e| anyhow::anyhow!("origin: cannot serve on {listen}: {e}"))?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Stitch(args) => {
                web::require_token(
                    "lineup stitch",
                    &[args.listen],
                    args.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                let listen = args.listen;
                stitch::serve(args)
                    .await
                    .map_err(|e| anyhow::anyhow!("stitch: cannot serve on {listen}: {e}"))?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Catalog(args) => {
                if args.command.is_none() {
                    web::require_token(
                        "lineup catalog",
                        &resolve(&args.serve.listen)?,
                        args.serve.api_token.as_ref().map(|t| t.expose()),
                        "--api-token",
                        insecure,
                    )?;
                }
                schedule::cli::run_catalog(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Schedule(args) => {
                web::require_token(
                    "lineup schedule",
                    &resolve(&args.serve.listen)?,
                    args.serve.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                schedule::cli::run_schedule(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Ads(args) => {
                web::require_token(
                    "lineup ads",
                    &[args.listen],
                    args.api_token.as_ref().map(|t| t.expose()),
                    "--api-token",
                    insecure,
                )?;
                run_ads(args).await
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
    service
        .serve(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("pullpush: cannot serve on {}: {e}", args.listen))?;
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
