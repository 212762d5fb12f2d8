//! Service configuration and the `lineup pullpush` command-line arguments.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::outputs::OutputPolicy;

/// `lineup pullpush` arguments (mount with `#[command(flatten)]` or as a subcommand's args).
/// Each option's environment variable is `LINEUP_PULLPUSH_<OPTION>` (the binary names them).
#[derive(Debug, Clone, clap::Args)]
pub struct PullPushArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// SQLite file holding fetchers and their destination sequence state
    /// (`:memory:` forgets everything on exit).
    #[arg(long = "db", default_value = "pullpush.db")]
    pub db_path: String,
    /// Bearer token required by the control API. Required when listening beyond loopback
    /// (or pass --insecure-no-auth).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// Default sliding window of destination playlists, seconds (-1: keep all, EVENT).
    #[arg(long, default_value_t = 120, allow_hyphen_values = true)]
    pub default_window: i64,
    /// Default number of concurrent segment transfers per fetcher.
    #[arg(long, default_value_t = 4)]
    pub default_concurrency: usize,
    /// The only folder `dir` outputs may write in (their `path` is taken relative to it).
    /// Default: `outputs/` beside the --db file (`pullpush-outputs/` for `:memory:`).
    #[arg(long)]
    pub dir_root: Option<PathBuf>,
    /// A bucket `s3` outputs may write with this server's own AWS credentials (repeat, or
    /// comma-separate). Fetchers that bring their own keys may name any bucket.
    #[arg(long = "s3-allowed-bucket", value_delimiter = ',')]
    pub s3_allowed_buckets: Vec<String>,
}

/// Library configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite path; `:memory:` (the default) for an embedded, forgetful service.
    pub db_path: String,
    pub api_token: Option<web::Secret>,
    pub default_window: i64,
    pub default_concurrency: usize,
    /// What `dir` and `s3` outputs may touch.
    pub outputs: OutputPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db_path: ":memory:".into(),
            api_token: None,
            default_window: 120,
            default_concurrency: 4,
            outputs: OutputPolicy {
                dir_root: default_dir_root(":memory:"),
                s3_allowed_buckets: Vec::new(),
            },
        }
    }
}

/// `outputs/` beside the database file; `pullpush-outputs/` for an in-memory database.
pub fn default_dir_root(db_path: &str) -> PathBuf {
    if db_path == ":memory:" || db_path.is_empty() {
        return PathBuf::from("pullpush-outputs");
    }
    Path::new(db_path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("outputs")
}

impl From<&PullPushArgs> for Config {
    fn from(a: &PullPushArgs) -> Self {
        Self {
            db_path: a.db_path.clone(),
            api_token: a.api_token.clone().filter(|t| !t.expose().is_empty()),
            default_window: a.default_window,
            default_concurrency: a.default_concurrency,
            outputs: OutputPolicy {
                dir_root: a
                    .dir_root
                    .clone()
                    .unwrap_or_else(|| default_dir_root(&a.db_path)),
                s3_allowed_buckets: a
                    .s3_allowed_buckets
                    .iter()
                    .map(|b| b.trim().to_string())
                    .filter(|b| !b.is_empty())
                    .collect(),
            },
        }
    }
}
