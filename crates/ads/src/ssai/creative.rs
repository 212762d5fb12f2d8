//! Ad creatives (and slates) as the proxy splices them: renditions of segments, loaded
//! once per URL and shared by every session.
//!
//! A [`Creative`] is named by its id (the URL of its HLS master playlist); decisions keep
//! only that id, so a session's state stays small and any replica resolves it through its
//! own [`CreativeCache`] to the same renditions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls::Playlist;

use super::loader::fetch_playlist;
use crate::error::{AdsError, Result};

/// One rendition of a creative: its bandwidth, init segment (fMP4) and segments (absolute
/// URI, seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct CreativeRendition {
    pub bandwidth: u64,
    /// `EXT-X-MAP` URI of an fMP4 rendition.
    pub init: Option<String>,
    pub segments: Vec<(String, f64)>,
}

/// An ad or slate ready to splice.
#[derive(Debug, PartialEq)]
pub struct Creative {
    /// What decisions name it by: its master playlist URL.
    pub id: String,
    /// Sorted by bandwidth, never empty.
    pub renditions: Vec<CreativeRendition>,
}

impl Creative {
    /// The index and rendition whose bandwidth is closest to `bandwidth`.
    pub fn rendition_for(&self, bandwidth: u64) -> (usize, &CreativeRendition) {
        self.renditions
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| r.bandwidth.abs_diff(bandwidth))
            .unwrap_or((0, &self.renditions[0]))
    }

    /// The reference rendition (slot durations are taken from it).
    pub fn reference(&self) -> &CreativeRendition {
        &self.renditions[0]
    }

    pub fn duration(&self) -> f64 {
        self.reference().segments.iter().map(|s| s.1).sum()
    }

    /// The longest segment over all renditions, rounded as EXTINF is for a target duration.
    pub fn longest_segment(&self) -> u64 {
        self.renditions
            .iter()
            .flat_map(|r| r.segments.iter())
            .map(|s| s.1.round() as u64)
            .max()
            .unwrap_or(0)
    }

    /// Segment `seg` of rendition `rendition` (the reference rendition's when that one is
    /// shorter).
    pub fn segment(&self, rendition: usize, seg: usize) -> Option<(&str, f64)> {
        let r = self.renditions.get(rendition).unwrap_or(self.reference());
        r.segments
            .get(seg)
            .or_else(|| self.reference().segments.get(seg))
            .map(|(u, d)| (u.as_str(), *d))
    }
}

/// The creatives a render needs, by id.
pub type Creatives = HashMap<String, Arc<Creative>>;

/// When a creative was loaded, and what came of it.
type Cached = (Instant, Option<Arc<Creative>>);

/// Creatives by master URL (loaded once; failures are retried after a while).
pub struct CreativeCache {
    http: reqwest::Client,
    loaded: Mutex<HashMap<String, Cached>>,
}

impl CreativeCache {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            loaded: Mutex::default(),
        }
    }

    /// The creative at `url`, loading it unless it is cached (a failure is remembered for
    /// 10 s).
    pub async fn get(&self, url: &str) -> Option<Arc<Creative>> {
        {
            let map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, c)) = map.get(url)
                && (c.is_some() || at.elapsed() < Duration::from_secs(10))
            {
                return c.clone();
            }
        }
        let loaded = load(&self.http, url).await;
        if let Err(e) = &loaded {
            tracing::warn!(url, error = %e, "creative not playable");
            metrics::counter!("ssai_creative_errors_total").increment(1);
        }
        let c = loaded.ok().map(Arc::new);
        let mut map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(url.to_string(), (Instant::now(), c.clone()));
        c
    }

    /// Every creative of `ids` that loads.
    pub async fn resolve<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Creatives {
        let mut out = Creatives::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            if let Some(c) = self.get(id).await {
                out.insert(id.to_string(), c);
            }
        }
        out
    }
}

/// Read an HLS creative: its master (or a lone media playlist) and every variant.
async fn load(http: &reqwest::Client, url: &str) -> Result<Creative> {
    let top = fetch_playlist(http, url).await?;
    let variants: Vec<(u64, String)> = match &top.playlist {
        Playlist::Master(m) => m
            .variants
            .iter()
            .map(|v| (v.bandwidth().unwrap_or(0), v.uri.clone()))
            .collect(),
        Playlist::Media(_) => vec![(0, url.to_string())],
    };
    let mut renditions = Vec::new();
    for (bandwidth, vurl) in variants {
        let media = if vurl == url {
            top.playlist.clone()
        } else {
            fetch_playlist(http, &vurl).await?.playlist
        };
        let Playlist::Media(m) = media else {
            return Err(AdsError::Creative(format!("{vurl}: not a media playlist")));
        };
        if m.segments.is_empty() {
            return Err(AdsError::Creative(format!("{vurl}: no segments")));
        }
        let init = m
            .segments
            .first()
            .and_then(|s| s.map.as_ref())
            .and_then(|map| map.uri().map(str::to_string));
        renditions.push(CreativeRendition {
            bandwidth,
            init,
            segments: m
                .segments
                .iter()
                .map(|s| (s.uri.clone(), s.duration))
                .collect(),
        });
    }
    if renditions.is_empty() {
        return Err(AdsError::Creative(format!("{url}: no variants")));
    }
    renditions.sort_by_key(|r| r.bandwidth);
    Ok(Creative {
        id: url.to_string(),
        renditions,
    })
}
