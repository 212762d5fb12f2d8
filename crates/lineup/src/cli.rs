//! The command line: global options, one subcommand per service, and the order in which
//! the command line, the environment and the config file are read ([`parse`]).

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{config, demo, validate};

#[derive(Parser)]
#[command(
    name = "lineup",
    version,
    about = "Linear HLS channels from HLS VODs, carried on to viewers"
)]
pub struct Cli {
    /// Let a service listen beyond loopback without an API token: anyone who can reach it
    /// can then create, change and delete through its control API.
    #[arg(long, global = true, env = "LINEUP_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// An origin (`scheme://host[:port]`) whose web pages may call the control APIs from a
    /// browser (repeat, or comma-separate). Playback is open to every origin regardless.
    #[arg(
        long = "cors-origin",
        global = true,
        env = "LINEUP_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = web::parse_origin
    )]
    pub cors_origins: Vec<String>,
    /// The config file (TOML, one table per subcommand; see README). Default: ./lineup.toml
    /// when it exists.
    #[arg(long, global = true, env = "LINEUP_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Print the effective configuration of the subcommand (command line, environment,
    /// file, defaults; secrets as ***) and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// Log format on stderr.
    #[arg(long, global = true, env = "LINEUP_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
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
    pub shutdown_timeout: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A non-negative number of seconds (fractions allowed).
pub fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
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
pub type Parsed = (
    Cli,
    clap::Command,
    clap::ArgMatches,
    Option<config::ConfigFile>,
);

pub fn parse() -> Result<Parsed, String> {
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

#[derive(Subcommand)]
pub enum Command {
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
    /// Run the test key server (SPEKE v2 with deterministic keys, ClearKey licences).
    Keys(keys::KeysArgs),
    /// Check a playlist (file or URL) against the RFC 8216 rules players depend on.
    Validate(validate::Args),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options named by the ecosystem rather than by us: the AWS SDK's variables (the S3
    /// client reads them too).
    const FOREIGN_ENV: &[&str] = &[
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ];

    /// Every option of every subcommand reads `LINEUP_<SUBCOMMAND>_<OPTION>`, and nothing
    /// else (no `PULLPUSH_*`, no variable shared by several services).
    #[test]
    fn every_option_reads_lineup_subcommand_option() {
        let cmd = config::with_env_for_every_option(Cli::command());
        let mut checked = 0;
        let mut wrong = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_global_set() || matches!(long, "help" | "version") {
                    continue;
                }
                let want = format!("LINEUP_{}_{}", sub.get_name(), long)
                    .replace('-', "_")
                    .to_ascii_uppercase();
                let env = arg
                    .get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if FOREIGN_ENV.contains(&env.as_str()) {
                    continue;
                }
                if env != want {
                    wrong.push(format!(
                        "lineup {} --{long}: {env:?}, not {want}",
                        sub.get_name()
                    ));
                }
                checked += 1;
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(checked > 50, "only {checked} options seen");
    }

    /// Each service listens on its own default port, so that all of them run side by side
    /// on one machine with no option given.
    #[test]
    fn every_service_has_its_own_default_port() {
        let cmd = Cli::command();
        let mut seen: Vec<(u16, String)> = Vec::new();
        for sub in cmd.get_subcommands() {
            let Some(listen) = sub.get_arguments().find(|a| a.get_long() == Some("listen")) else {
                continue;
            };
            let default = listen.get_default_values();
            assert_eq!(default.len(), 1, "lineup {} --listen", sub.get_name());
            let addr: std::net::SocketAddr = default[0].to_string_lossy().parse().unwrap();
            assert!(addr.ip().is_loopback(), "lineup {}: {addr}", sub.get_name());
            if let Some((_, other)) = seen.iter().find(|(p, _)| *p == addr.port()) {
                panic!(
                    "lineup {} and lineup {other} both default to port {}",
                    sub.get_name(),
                    addr.port()
                );
            }
            seen.push((addr.port(), sub.get_name().to_string()));
        }
        assert!(seen.len() >= 8, "{seen:?}");
    }
}
