//! The VOD cache: each VOD (master + media playlists) is fetched and parsed once and shared
//! by `Arc` across every channel and session. Keyed by URL, with a TTL, and concurrent
//! requests for the same URL share one fetch (in-flight de-duplication). Failures are cached
//! briefly too, so a broken asset is not hammered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clock::Clock;

use futures::future::{BoxFuture, FutureExt, Shared};
use hls::{MasterPlaylist, MediaPlaylist, Playlist, VariantStream};
use url::Url;

use crate::error::{Error, Result};
use crate::profile::LoadedVod;

type Loading = Shared<BoxFuture<'static, Result<Arc<LoadedVod>, Arc<String>>>>;

struct Slot {
    at: Instant,
    fut: Loading,
}

/// Fetches and caches VODs.
#[derive(Clone)]
pub struct VodCache {
    client: reqwest::Client,
    ttl: Duration,
    error_ttl: Duration,
    timeout: Duration,
    clock: Arc<dyn Clock>,
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl VodCache {
    /// `timeout` bounds one whole VOD load (master + all media playlists); `clock`'s
    /// monotonic time ages the entries.
    pub fn new(ttl: Duration, timeout: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            client: reqwest::Client::builder()
                .connect_timeout(timeout)
                .build()
                .unwrap_or_default(),
            ttl,
            error_ttl: Duration::from_secs(5),
            timeout,
            clock,
            slots: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The parsed VOD at `url` (from cache when fresh).
    pub async fn get(&self, url: &str) -> Result<Arc<LoadedVod>> {
        let fut = {
            let mut slots = self.slots.lock().expect("vod cache lock");
            let now = self.clock.instant();
            let fresh = slots.get(url).and_then(|s| {
                let ttl = match s.fut.peek() {
                    Some(Err(_)) => self.error_ttl,
                    _ => self.ttl,
                };
                (now.duration_since(s.at) < ttl).then(|| s.fut.clone())
            });
            match fresh {
                Some(f) => f,
                None => {
                    if slots.len() > 4096 {
                        slots.retain(|_, s| now.duration_since(s.at) < self.ttl);
                    }
                    let (client, u, timeout) = (self.client.clone(), url.to_string(), self.timeout);
                    let fut = async move {
                        match tokio::time::timeout(timeout, load(&client, &u)).await {
                            Ok(r) => r.map(Arc::new).map_err(|e| Arc::new(e.to_string())),
                            Err(_) => {
                                Err(Arc::new(format!("fetch {u}: timed out after {timeout:?}")))
                            }
                        }
                    }
                    .boxed()
                    .shared();
                    slots.insert(
                        url.to_string(),
                        Slot {
                            at: now,
                            fut: fut.clone(),
                        },
                    );
                    metrics::counter!("engine_vod_loads_total").increment(1);
                    fut
                }
            }
        };
        fut.await.map_err(|e| Error::Unusable((*e).clone()))
    }

    /// A fresh (uncached) look at a live source, bounded by the load timeout.
    pub async fn live(&self, url: &str) -> Result<LoadedVod> {
        match tokio::time::timeout(self.timeout, load_live(&self.client, url)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Fetch {
                url: url.to_string(),
                reason: format!("timed out after {:?}", self.timeout),
            }),
        }
    }

    /// Number of cached VODs.
    pub fn len(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn fetch_text(client: &reqwest::Client, url: &Url) -> Result<String> {
    let err = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    resp.text().await.map_err(|e| err(e.to_string()))
}

async fn fetch_media(client: &reqwest::Client, url: &Url) -> Result<Arc<MediaPlaylist>> {
    let text = fetch_text(client, url).await?;
    match hls::parse(&text) {
        Ok(Playlist::Media(m)) => Ok(Arc::new(m)),
        Ok(Playlist::Master(_)) => Err(Error::Parse {
            url: url.to_string(),
            reason: "expected a media playlist, got a master playlist".into(),
        }),
        Err(e) => Err(Error::Parse {
            url: url.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Fetch and parse a VOD: its master and every media playlist it references.
pub async fn load(client: &reqwest::Client, url: &str) -> Result<LoadedVod> {
    load_with(client, url, false).await
}

/// Fetch and parse a live source's master (or bare media playlist) and its media playlists,
/// uncached: each call is a fresh look at the live window.
pub async fn load_live(client: &reqwest::Client, url: &str) -> Result<LoadedVod> {
    load_with(client, url, true).await
}

async fn load_with(client: &reqwest::Client, url: &str, live: bool) -> Result<LoadedVod> {
    let base = Url::parse(url).map_err(|e| Error::Unusable(format!("bad VOD URL {url:?}: {e}")))?;
    let text = fetch_text(client, &base).await?;
    let parsed = hls::parse(&text).map_err(|e| Error::Parse {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let master = match parsed {
        Playlist::Master(m) => m,
        Playlist::Media(m) => {
            // A bare media playlist: one variant, itself.
            if !m.end_list && !live {
                return Err(Error::Unusable(format!(
                    "{url}: not a VOD (no EXT-X-ENDLIST)"
                )));
            }
            let master = MasterPlaylist {
                variants: vec![VariantStream {
                    uri: base.to_string(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            return Ok(LoadedVod {
                url: base.clone(),
                master,
                variants: vec![(base, Arc::new(m))],
                media: Vec::new(),
            });
        }
    };
    if master.variants.is_empty() {
        return Err(Error::Unusable(format!(
            "{url}: master playlist has no variants"
        )));
    }
    let resolve = |u: &str| {
        hls::uri::resolve(&base, u)
            .map_err(|e| Error::Unusable(format!("{url}: bad URI {u:?}: {e}")))
    };
    let variant_urls = master
        .variants
        .iter()
        .map(|v| resolve(&v.uri))
        .collect::<Result<Vec<_>>>()?;
    let media_refs = master
        .media
        .iter()
        .filter_map(|r| r.uri().map(|u| (r.clone(), u.to_string())))
        .map(|(r, u)| Ok((r, resolve(&u)?)))
        .collect::<Result<Vec<_>>>()?;
    let variants = futures::future::try_join_all(variant_urls.into_iter().map(|u| async move {
        let pl = fetch_media(client, &u).await?;
        Ok::<_, Error>((u, pl))
    }))
    .await?;
    let media = futures::future::try_join_all(media_refs.into_iter().map(|(r, u)| async move {
        let pl = fetch_media(client, &u).await?;
        Ok::<_, Error>((r, u, pl))
    }))
    .await?;
    Ok(LoadedVod {
        url: base,
        master,
        variants,
        media,
    })
}
