//! House-ad stitching of HLS VODs, with the payload format of Eyevinn's lambda-stitch.
//!
//! **For**: turning a VOD plus a list of ad VODs into one stitched VOD, by playlist
//! rewriting only: `GET /stitch/master.m3u8?payload=<base64url of {uri, breaks:[{pos,
//! duration, url}]}>` answers the content's multivariant playlist whose media playlists
//! point back into the service, and those have the ads spliced in (pre-, mid- and
//! post-rolls; each content rendition gets the ad rendition nearest in bandwidth, audio and
//! subtitles by group and language; DISCONTINUITY, CUE-OUT/CUE-IN and DATERANGE with
//! SCTE-35 around every break). With `i=1` the ads are HLS Interstitials instead.
//! **Not for**: live content, ad decisioning (VAST; see the ads service), or touching media
//! bytes (the segments stay on their origins; the output points at them by absolute URL).
//!
//! Main types: [`Payload`] (decode, check, encode), [`Vod`] (a loaded VOD) and the
//! [`PlaylistSource`] it is loaded through ([`HttpSource`]: cached, de-duplicated fetches),
//! the pure rewrites in [`plan`] and [`splice`], and [`Stitcher`], the HTTP service.
//!
//! # Architecture
//! ```text
//! query ──Payload::decode──> Payload ──Stitcher::load──> Vod (content) + Vod per ad
//!                                           │  (PlaylistSource: fetch, parse, absolutize,
//!                                           │   cache by URL)
//!                                           v
//!          plan::master / plan::media (pure) ──splice::splice | splice::interstitials──> text
//! ```
//! Invariants:
//! - Everything between decoding and writing is a pure function of the payload and the
//!   parsed playlists: the same request gives the same bytes on any replica.
//! - Playlists are parsed once per TTL and shared (`Arc`); URIs are made absolute at load.
//! - Breaks are snapped on the reference rendition (the first variant) and every rendition
//!   breaks at its boundary nearest that time (see [`splice`]).
//! - A bad request never panics: it is [`Error::BadRequest`] naming the field
//!   (`payload`, `payload.uri`, `payload.breaks[i].pos`, `bw`, ...), HTTP 400.

pub mod error;
pub mod http;
pub mod payload;
pub mod plan;
pub mod source;
pub mod splice;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::{Error, Result};
pub use http::Stitcher;
pub use payload::{Break, Payload};
pub use plan::{Mode, Track};
pub use source::{HttpSource, PlaylistSource, Vod, absolutize};

/// `lineup stitch` options.
#[derive(clap::Args, Debug, Clone)]
pub struct StitchArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub listen: SocketAddr,
    /// Path prefix the service is served under (lambda-stitch's default).
    #[arg(long, default_value = "/stitch")]
    pub prefix: String,
    /// This service's public URL including the prefix (e.g. `https://host/stitch`), for the
    /// absolute URL of `empty.vtt`; default: derived from each request's Host.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Bearer token required by the control API (`POST /api/v1/stitch`).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// How long a fetched playlist is reused, seconds.
    #[arg(long, default_value_t = 60)]
    pub cache_ttl: u64,
    /// Timeout of one playlist fetch, seconds.
    #[arg(long, default_value_t = 10)]
    pub fetch_timeout: u64,
}

impl Default for StitchArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
            prefix: "/stitch".into(),
            public_url: None,
            api_token: None,
            cache_ttl: 60,
            fetch_timeout: 10,
        }
    }
}

/// The service for `args` with an [`HttpSource`].
pub fn build(args: &StitchArgs) -> Stitcher {
    let source = HttpSource::new(
        Duration::from_secs(args.cache_ttl),
        Duration::from_secs(args.fetch_timeout.max(1)),
        clock::system(),
    );
    Stitcher::new(
        Arc::new(source),
        args.public_url.clone(),
        args.api_token.as_ref().map(|t| t.expose().to_string()),
    )
}

/// `lineup stitch` in the shell every service shares: the service under `--prefix`.
impl web::ServiceConfig for StitchArgs {
    const NAME: &'static str = "stitch";

    fn listen(&self) -> String {
        self.listen.to_string()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(self, _local: SocketAddr) -> std::result::Result<web::Service, web::BoxError> {
        let prefix = format!("/{}", self.prefix.trim_matches('/'));
        let router = build(&self).router();
        let router = if prefix == "/" {
            router
        } else {
            axum::Router::new()
                .nest(&prefix, router)
                .merge(web::common_routes())
        };
        Ok(web::Service::new("stitch", router).banner(format!(
            "stitch: {{base}}{}/master.m3u8?payload=...  API docs: {{base}}{}/api/docs",
            prefix.trim_end_matches('/'),
            prefix.trim_end_matches('/')
        )))
    }
}
