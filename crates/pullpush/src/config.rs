//! Service configuration and the `lineup pullpush` command-line arguments.

use std::net::SocketAddr;

/// `lineup pullpush` arguments (mount with `#[command(flatten)]` or as a subcommand's args).
#[derive(Debug, Clone, clap::Args)]
pub struct PullPushArgs {
    /// Address to listen on.
    #[arg(long, env = "PULLPUSH_LISTEN", default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// SQLite file holding fetchers and their destination sequence state
    /// (`:memory:` forgets everything on exit).
    #[arg(long = "db", env = "PULLPUSH_DB", default_value = "pullpush.db")]
    pub db_path: String,
    /// Bearer token required by the control API (none: open).
    #[arg(long, env = "LINEUP_API_TOKEN")]
    pub api_token: Option<String>,
    /// Default sliding window of destination playlists, seconds (-1: keep all, EVENT).
    #[arg(long, default_value_t = 120, allow_hyphen_values = true)]
    pub default_window: i64,
    /// Default number of concurrent segment transfers per fetcher.
    #[arg(long, default_value_t = 4)]
    pub default_concurrency: usize,
}

/// Library configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite path; `:memory:` (the default) for an embedded, forgetful service.
    pub db_path: String,
    pub api_token: Option<String>,
    pub default_window: i64,
    pub default_concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db_path: ":memory:".into(),
            api_token: None,
            default_window: 120,
            default_concurrency: 4,
        }
    }
}

impl From<&PullPushArgs> for Config {
    fn from(a: &PullPushArgs) -> Self {
        Self {
            db_path: a.db_path.clone(),
            api_token: a.api_token.clone(),
            default_window: a.default_window,
            default_concurrency: a.default_concurrency,
        }
    }
}
