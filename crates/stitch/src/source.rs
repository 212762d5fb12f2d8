//! Where playlists come from: the [`PlaylistSource`] trait (fetch + parse one playlist,
//! cached), its HTTP implementation [`HttpSource`], and [`Vod`], a loaded VOD (multivariant
//! playlist plus every media playlist it names).
//!
//! Invariant: every playlist a source hands out has absolute URIs (segments, `EXT-X-MAP`,
//! `EXT-X-KEY`, variant and rendition URIs), resolved once against the playlist's own URL
//! ([`absolutize`]), so the pure stitching code never needs to know where a playlist came
//! from, and the stitched output can point at the original CDN.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clock::Clock;
use futures::future::{BoxFuture, FutureExt, Shared};
use hls::{MasterPlaylist, MediaPlaylist, Playlist, VariantStream};
use url::Url;

use crate::error::{Error, Result};

/// Fetches and parses one playlist. Implementations cache: a stitched VOD asks for the same
/// playlists on every master and media request.
pub trait PlaylistSource: Send + Sync + 'static {
    fn playlist(&self, url: &Url) -> BoxFuture<'_, Result<Arc<Playlist>>>;
}

type Loading = Shared<BoxFuture<'static, Result<Arc<Playlist>>>>;

/// [`PlaylistSource`] over HTTP with a TTL cache; concurrent requests for one URL share one
/// fetch, and failures are cached briefly so a broken URL is not hammered.
pub struct HttpSource {
    client: reqwest::Client,
    ttl: Duration,
    error_ttl: Duration,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<String, (Instant, Loading)>>,
}

impl HttpSource {
    /// `timeout` bounds one fetch; `ttl` is how long a parsed playlist is reused (on
    /// `clock`'s monotonic time).
    pub fn new(ttl: Duration, timeout: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            ttl,
            error_ttl: Duration::from_secs(2),
            clock,
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl PlaylistSource for HttpSource {
    fn playlist(&self, url: &Url) -> BoxFuture<'_, Result<Arc<Playlist>>> {
        let key = url.to_string();
        let fut = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.clock.instant();
            let fresh = slots.get(&key).and_then(|(at, f)| {
                let ttl = match f.peek() {
                    Some(Err(_)) => self.error_ttl,
                    _ => self.ttl,
                };
                (now.duration_since(*at) < ttl).then(|| f.clone())
            });
            match fresh {
                Some(f) => f,
                None => {
                    if slots.len() > 2048 {
                        slots.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                    }
                    let fut = fetch(self.client.clone(), url.clone()).boxed().shared();
                    slots.insert(key, (now, fut.clone()));
                    fut
                }
            }
        };
        fut.boxed()
    }
}

async fn fetch(client: reqwest::Client, url: Url) -> Result<Arc<Playlist>> {
    let err = |message: String| Error::Fetch {
        url: url.to_string(),
        message,
    };
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    let body = resp.bytes().await.map_err(|e| err(e.to_string()))?;
    let mut playlist = hls::parse_bytes(&body).map_err(|e| err(format!("not HLS: {e}")))?;
    absolutize(&mut playlist, &url);
    Ok(Arc::new(playlist))
}

/// Resolve every URI in `playlist` against `base` (its own URL). URIs that do not resolve
/// are left as they are.
pub fn absolutize(playlist: &mut Playlist, base: &Url) {
    let abs = |s: &str| {
        hls::uri::resolve(base, s)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| s.to_string())
    };
    let abs_attr = |attrs: &mut hls::AttributeList| {
        if let Some(u) = attrs.get("URI").map(abs) {
            attrs.set_quoted("URI", u);
        }
    };
    match playlist {
        Playlist::Master(m) => {
            for v in &mut m.variants {
                v.uri = abs(&v.uri);
            }
            for r in &mut m.media {
                abs_attr(&mut r.attrs);
            }
            for i in &mut m.i_frame_streams {
                abs_attr(&mut i.attrs);
            }
        }
        Playlist::Media(p) => {
            for s in &mut p.segments {
                s.uri = abs(&s.uri);
                if let Some(m) = &mut s.map {
                    abs_attr(&mut m.attrs);
                }
                for k in &mut s.keys {
                    abs_attr(&mut k.attrs);
                }
            }
        }
    }
}

/// A loaded VOD: its multivariant playlist (synthesized with one variant when the URL is a
/// media playlist) and every media playlist it names, by absolute URL.
#[derive(Debug, Clone)]
pub struct Vod {
    pub url: Url,
    pub master: Arc<MasterPlaylist>,
    pub media: HashMap<String, Arc<MediaPlaylist>>,
}

impl Vod {
    /// Fetch `url` and, for a multivariant playlist, every variant and rendition playlist.
    pub async fn load(source: &dyn PlaylistSource, url: &str) -> Result<Vod> {
        let url = Url::parse(url).map_err(|e| Error::Fetch {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let top = source.playlist(&url).await?;
        let master = match &*top {
            Playlist::Media(m) => {
                let mut media = HashMap::new();
                media.insert(url.to_string(), Arc::new(m.clone()));
                let master = MasterPlaylist {
                    variants: vec![VariantStream {
                        uri: url.to_string(),
                        attrs: Default::default(),
                    }],
                    ..Default::default()
                };
                return Ok(Vod {
                    url,
                    master: Arc::new(master),
                    media,
                });
            }
            Playlist::Master(m) => m.clone(),
        };
        let mut uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
        uris.extend(master.media.iter().filter_map(|r| r.uri()));
        uris.sort_unstable();
        uris.dedup();
        let loads = uris.iter().map(|u| async move {
            let parsed = Url::parse(u).map_err(|e| Error::Fetch {
                url: u.to_string(),
                message: e.to_string(),
            })?;
            match &*source.playlist(&parsed).await? {
                Playlist::Media(m) => Ok((u.to_string(), Arc::new(m.clone()))),
                Playlist::Master(_) => Err(Error::Fetch {
                    url: u.to_string(),
                    message: "a multivariant playlist where a media playlist was expected".into(),
                }),
            }
        });
        let media = futures::future::try_join_all(loads)
            .await?
            .into_iter()
            .collect();
        Ok(Vod {
            url,
            master: Arc::new(master),
            media,
        })
    }

    /// The media playlist at `uri` (an absolute URI from [`Vod::master`]).
    pub fn playlist(&self, uri: &str) -> Option<&Arc<MediaPlaylist>> {
        self.media.get(uri)
    }

    /// True when the VOD's segments are fMP4 (any `EXT-X-MAP`).
    pub fn is_fmp4(&self) -> bool {
        self.media
            .values()
            .any(|p| p.segments.iter().any(|s| s.map.is_some()))
    }

    /// The reference rendition: the first variant's media playlist. Break positions are
    /// snapped on it so that every rendition breaks at the same time.
    pub fn reference(&self) -> Option<&Arc<MediaPlaylist>> {
        self.master
            .variants
            .first()
            .and_then(|v| self.playlist(&v.uri))
    }
}
