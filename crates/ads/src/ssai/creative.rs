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
use crate::condition::ConditionedAd;
use crate::error::{AdsError, Result};

/// One rendition of a creative: its bandwidth, init segment (fMP4) and segments (absolute
/// URI, seconds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreativeRendition {
    pub bandwidth: u64,
    /// A demuxed audio rendition: its index among the creative's audio renditions.
    pub audio: Option<usize>,
    /// `EXT-X-MAP` URI of an fMP4 rendition.
    pub init: Option<String>,
    pub segments: Vec<(String, f64)>,
}

/// An ad or slate ready to splice.
#[derive(Debug, PartialEq)]
pub struct Creative {
    /// What decisions name it by: its master playlist URL.
    pub id: String,
    /// The variants sorted by bandwidth (never empty), then the demuxed audio renditions
    /// in master order.
    pub renditions: Vec<CreativeRendition>,
}

impl Creative {
    /// A conditioned ad as a creative: its video renditions (one per content variant, with
    /// that variant's bandwidth), named by its master playlist URL, so a replica that has
    /// not seen it loads the same renditions from that URL.
    pub fn from_conditioned(ad: &ConditionedAd) -> Creative {
        let rendition = |r: &crate::condition::ConditionedRendition| CreativeRendition {
            bandwidth: r.bandwidth,
            audio: None,
            init: r.init.as_ref().map(|i| ad.url(i)),
            segments: r.segments.iter().map(|(f, d)| (ad.url(f), *d)).collect(),
        };
        let mut renditions: Vec<CreativeRendition> = ad
            .renditions
            .iter()
            .filter(|r| r.name.starts_with('v'))
            .map(rendition)
            .collect();
        renditions.sort_by_key(|r| r.bandwidth);
        for (k, r) in ad
            .renditions
            .iter()
            .filter(|r| r.name.starts_with('a'))
            .enumerate()
        {
            renditions.push(CreativeRendition {
                audio: Some(k),
                ..rendition(r)
            });
        }
        Creative {
            id: ad.master_url(),
            renditions,
        }
    }

    /// The index and variant whose bandwidth is closest to `bandwidth`.
    pub fn rendition_for(&self, bandwidth: u64) -> (usize, &CreativeRendition) {
        self.renditions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.audio.is_none())
            .min_by_key(|(_, r)| r.bandwidth.abs_diff(bandwidth))
            .unwrap_or((0, &self.renditions[0]))
    }

    /// The index and rendition of demuxed audio rendition `k` (the first one when it has
    /// fewer), if it has any.
    pub fn audio_for(&self, k: usize) -> Option<(usize, &CreativeRendition)> {
        let mut audio = self
            .renditions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.audio.is_some());
        let first = audio.clone().next();
        audio.find(|(_, r)| r.audio == Some(k)).or(first)
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
    /// shorter; an audio rendition never borrows a variant's).
    pub fn segment(&self, rendition: usize, seg: usize) -> Option<(&str, f64)> {
        let r = self.renditions.get(rendition).unwrap_or(self.reference());
        r.segments
            .get(seg)
            .or_else(|| {
                r.audio
                    .is_none()
                    .then(|| self.reference().segments.get(seg))
                    .flatten()
            })
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

    /// Keeps a creative made here (a conditioned ad) under its id; the one kept already
    /// when there is one.
    pub fn insert(&self, creative: Arc<Creative>) -> Arc<Creative> {
        let mut map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, Some(c))) = map.get(&creative.id) {
            return c.clone();
        }
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(
            creative.id.clone(),
            (Instant::now(), Some(creative.clone())),
        );
        creative
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

/// One media playlist of a creative as a rendition.
async fn load_rendition(
    http: &reqwest::Client,
    top: &Playlist,
    url: &str,
    rurl: &str,
) -> Result<CreativeRendition> {
    let media = if rurl == url {
        top.clone()
    } else {
        fetch_playlist(http, rurl).await?.playlist
    };
    let Playlist::Media(m) = media else {
        return Err(AdsError::Creative(format!("{rurl}: not a media playlist")));
    };
    if m.segments.is_empty() {
        return Err(AdsError::Creative(format!("{rurl}: no segments")));
    }
    let init = m
        .segments
        .first()
        .and_then(|s| s.map.as_ref())
        .and_then(|map| map.uri().map(str::to_string));
    Ok(CreativeRendition {
        bandwidth: 0,
        audio: None,
        init,
        segments: m
            .segments
            .iter()
            .map(|s| (s.uri.clone(), s.duration))
            .collect(),
    })
}

/// Read an HLS creative: its master (or a lone media playlist), every variant and every
/// demuxed audio rendition.
async fn load(http: &reqwest::Client, url: &str) -> Result<Creative> {
    let top = fetch_playlist(http, url).await?;
    let (variants, audio): (Vec<(u64, String)>, Vec<String>) = match &top.playlist {
        Playlist::Master(m) => (
            m.variants
                .iter()
                .map(|v| (v.bandwidth().unwrap_or(0), v.uri.clone()))
                .collect(),
            m.media
                .iter()
                .filter(|r| r.media_type() == Some(hls::MediaType::Audio))
                .filter_map(|r| r.uri().map(str::to_string))
                .collect(),
        ),
        Playlist::Media(_) => (vec![(0, url.to_string())], Vec::new()),
    };
    let mut renditions = Vec::new();
    for (bandwidth, vurl) in variants {
        renditions.push(CreativeRendition {
            bandwidth,
            ..load_rendition(http, &top.playlist, url, &vurl).await?
        });
    }
    if renditions.is_empty() {
        return Err(AdsError::Creative(format!("{url}: no variants")));
    }
    renditions.sort_by_key(|r| r.bandwidth);
    for (k, aurl) in audio.iter().enumerate() {
        renditions.push(CreativeRendition {
            audio: Some(k),
            ..load_rendition(http, &top.playlist, url, aurl).await?
        });
    }
    Ok(Creative {
        id: url.to_string(),
        renditions,
    })
}
