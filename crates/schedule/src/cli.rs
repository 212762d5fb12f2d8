//! `lineup catalog` and `lineup schedule`: arguments and what they run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{Asset, HOUSE_AD_TAG};
use crate::service::{NewAsset, Service};
use crate::stitched::StitchFeed;

/// Where the data lives and how the API is reached (shared by both commands).
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Data folder for the SQLite database (`lineup.db`), used unless --database-url is set.
    #[arg(long, default_value = "lineup-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL instead of SQLite: `postgres://user@host:port/db`.
    #[arg(long)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// The database target for [`Service::open`]; creates the data folder for SQLite.
    pub fn database(&self) -> Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", self.data_dir.display())))?;
        Ok(self
            .data_dir
            .join("lineup.db")
            .to_string_lossy()
            .into_owned())
    }
}

/// `lineup catalog`: serve the catalog, or add/list assets.
#[derive(clap::Args, Debug)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: Option<CatalogCommand>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8093")]
    pub listen: String,
    /// Bearer token required by the JSON API (the feeds stay public).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// The stitch service (`lineup stitch`) base URL including its prefix, e.g.
    /// `http://127.0.0.1:8000/stitch`: enables the house-ad stitched feeds
    /// `/mrss/stitched/{feed}.xml` (404 without it).
    #[arg(long)]
    pub stitch_url: Option<String>,
    /// Seconds of content between house-ad mid-rolls in the stitched feeds (after a
    /// pre-roll); 0: pre-roll only.
    #[arg(long, default_value_t = 300.0)]
    pub stitch_every: f64,
}

#[derive(clap::Subcommand, Debug)]
pub enum CatalogCommand {
    /// Serve /api/v1/assets and the /mrss feeds (the default).
    Serve,
    /// Read each HLS VOD (duration, renditions) and add it to the catalog.
    Add {
        /// HLS master or media playlist URLs.
        #[arg(required = true)]
        urls: Vec<String>,
        /// Category of every asset added (`ad` makes them house ads).
        #[arg(long)]
        category: Option<String>,
        /// A tag for every asset added (repeatable; `house-ad` makes them house ads).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Mark them as house ads (adds the tag `house-ad`): they fill ad breaks and the
        /// stitched feeds, and never appear in the programme feeds.
        #[arg(long)]
        house_ad: bool,
        /// Print the added assets as JSON (no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// List the catalog.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// `lineup schedule`: serve channels, schedules, auto-fill and XMLTV.
#[derive(clap::Args, Debug)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8092")]
    pub listen: String,
    /// Bearer token required by the JSON API (XMLTV stays public).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// How often auto channels are topped up, seconds.
    #[arg(long, default_value_t = 10)]
    pub tick_secs: u64,
    /// How often their feeds are read again, seconds.
    #[arg(long, default_value_t = 300)]
    pub feed_secs: u64,
}

fn token(token: &Option<web::Secret>) -> Option<Arc<str>> {
    token.as_ref().map(|t| Arc::from(t.expose()))
}

impl CatalogArgs {
    /// Whether this runs the service (`lineup catalog` or `lineup catalog serve`), as
    /// opposed to a one-off command (`add`, `list`).
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(CatalogCommand::Serve))
    }
}

/// `lineup catalog` (serving) in the shell every service shares.
impl web::ServiceConfig for CatalogArgs {
    const NAME: &'static str = "catalog";

    fn listen(&self) -> String {
        self.listen.clone()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(
        self,
        _local: std::net::SocketAddr,
    ) -> std::result::Result<web::Service, web::BoxError> {
        let service = Service::open(&self.store.database()?).await?;
        let stitch = self
            .stitch_url
            .as_deref()
            .map(|url| StitchFeed::new(url, self.stitch_every))
            .transpose()?;
        let mut banner =
            vec!["assets: {base}/api/v1/assets  feed: {base}/mrss/all.xml".to_string()];
        if let Some(s) = &stitch {
            banner.push(format!(
                "house-ad stitched feed: {{base}}/mrss/stitched/all.xml (via {})",
                s.url
            ));
        }
        let router = crate::catalog_api::router_with(service, token(&self.api_token), stitch);
        Ok(banner
            .into_iter()
            .fold(web::Service::new("catalog", router), web::Service::banner))
    }
}

/// `lineup schedule` in the shell every service shares: the API, and the background work
/// that tops up auto channels and re-reads their feeds.
impl web::ServiceConfig for ScheduleArgs {
    const NAME: &'static str = "schedule";

    fn listen(&self) -> String {
        self.listen.clone()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(
        self,
        _local: std::net::SocketAddr,
    ) -> std::result::Result<web::Service, web::BoxError> {
        let service = Service::open(&self.store.database()?).await?;
        let background = service.spawn_background(
            Duration::from_secs(self.tick_secs.max(1)),
            Duration::from_secs(self.feed_secs.max(1)),
        );
        let router = crate::schedule_api::router(service, token(&self.api_token));
        Ok(web::Service::new("schedule", router)
            .task(background)
            .banner("channels: {base}/api/v1/channels  XMLTV: {base}/api/v1/xmltv"))
    }
}

/// Runs `lineup catalog add ...` and `lineup catalog list` (serving goes through
/// [`web::run`]).
pub async fn run_catalog(args: CatalogArgs) -> Result<()> {
    let service = Service::open(&args.store.database()?).await?;
    match args.command.unwrap_or(CatalogCommand::Serve) {
        CatalogCommand::Serve => Err(Error::Io(
            "lineup catalog serve runs through the service shell".into(),
        )),
        CatalogCommand::Add {
            urls,
            category,
            mut tags,
            house_ad,
            json,
        } => {
            if house_ad && !tags.iter().any(|t| t == HOUSE_AD_TAG) {
                tags.push(HOUSE_AD_TAG.to_string());
            }
            let added = add(&service, &urls, category, tags, json).await?;
            if json {
                let out = serde_json::to_string_pretty(&added).map_err(Error::from)?;
                println!("{out}");
            }
            Ok(())
        }
        CatalogCommand::List { json } => {
            let assets = service.assets().await?;
            if json {
                let out = serde_json::to_string_pretty(&assets).map_err(Error::from)?;
                println!("{out}");
            } else {
                for a in &assets {
                    print_asset(a);
                }
            }
            Ok(())
        }
    }
}

fn print_asset(a: &Asset) {
    println!(
        "{:<20} {:>9.3}s {:>2} renditions  {}{}",
        a.id,
        a.duration,
        a.renditions.len(),
        a.url,
        if a.is_house_ad() { "  (house ad)" } else { "" }
    );
}

/// Imports `urls` one by one with a progress bar (stderr; hidden with `json` or when stderr
/// is not a terminal). Stops at the first failure, naming the URL.
async fn add(
    service: &Service,
    urls: &[String],
    category: Option<String>,
    tags: Vec<String>,
    json: bool,
) -> Result<Vec<Asset>> {
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(urls.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut added = Vec::new();
    for url in urls {
        bar.set_message(url.clone());
        let asset = service
            .import(NewAsset {
                url: url.clone(),
                category: category.clone(),
                tags: tags.clone(),
                ..Default::default()
            })
            .await?;
        if !json {
            bar.suspend(|| print_asset(&asset));
        }
        added.push(asset);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(added)
}
