//! I/O at the edge of the proxy: origin playlists (fetched once per URL and moment, shared
//! by every session; the last good copy kept for origin failures) and VAST answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls::{MediaPlaylist, Playlist};
use url::Url;

use crate::error::{AdsError, Result};

/// A parsed origin playlist with absolute URIs.
#[derive(Debug)]
pub struct Fetched {
    pub playlist: Playlist,
    pub url: Url,
}

struct CacheEntry {
    fetched_at: Instant,
    /// The last good answer and when it was fetched.
    good: Option<(Instant, Arc<Fetched>)>,
}

/// Origin playlists shared by all sessions: one fetch per URL per `ttl`.
pub struct OriginCache {
    http: reqwest::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<CacheEntry>>>>,
}

impl OriginCache {
    pub fn new(http: reqwest::Client, ttl: Duration) -> Self {
        Self {
            http,
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The playlist at `url`. When the origin fails, the last good copy is answered while it
    /// is younger than `stale_limit`; after that, the error.
    pub async fn get(&self, url: &str, stale_limit: Duration) -> Result<Arc<Fetched>> {
        let slot = {
            let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 4096 {
                map.retain(|_, v| Arc::strong_count(v) > 1);
            }
            map.entry(url.to_string())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Mutex::new(CacheEntry {
                        fetched_at: Instant::now() - Duration::from_secs(3600),
                        good: None,
                    }))
                })
                .clone()
        };
        let mut entry = slot.lock().await;
        if let Some((at, good)) = &entry.good
            && entry.fetched_at.elapsed() < self.ttl
            && at.elapsed() < self.ttl
        {
            return Ok(good.clone());
        }
        entry.fetched_at = Instant::now();
        let started = Instant::now();
        match fetch_playlist(&self.http, url).await {
            Ok(f) => {
                metrics::histogram!("ssai_origin_latency_seconds")
                    .record(started.elapsed().as_secs_f64());
                let f = Arc::new(f);
                entry.good = Some((Instant::now(), f.clone()));
                Ok(f)
            }
            Err(e) => {
                metrics::counter!("ssai_origin_errors_total").increment(1);
                match &entry.good {
                    Some((at, good)) if at.elapsed() < stale_limit => {
                        tracing::warn!(url, error = %e, "origin failed; answering the last good playlist");
                        Ok(good.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }
}

/// GET and parse a playlist, making every URI in it absolute.
pub async fn fetch_playlist(http: &reqwest::Client, url: &str) -> Result<Fetched> {
    let parsed = Url::parse(url).map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    let resp = http
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(AdsError::Origin(format!("{url}: HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    let mut playlist =
        hls::parse_bytes(&bytes).map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    absolutize(&mut playlist, &parsed);
    Ok(Fetched {
        playlist,
        url: parsed,
    })
}

fn abs(base: &Url, uri: &str) -> String {
    hls::uri::resolve(base, uri)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| uri.to_string())
}

fn absolutize(p: &mut Playlist, base: &Url) {
    match p {
        Playlist::Master(m) => {
            for v in &mut m.variants {
                v.uri = abs(base, &v.uri);
            }
            for r in &mut m.media {
                if let Some(u) = r.uri().map(str::to_string) {
                    r.attrs.set_quoted("URI", abs(base, &u));
                }
            }
        }
        Playlist::Media(m) => absolutize_media(m, base),
    }
}

fn absolutize_media(m: &mut MediaPlaylist, base: &Url) {
    for s in &mut m.segments {
        s.uri = abs(base, &s.uri);
        if let Some(map) = &mut s.map
            && let Some(u) = map.uri().map(str::to_string)
        {
            map.attrs.set_quoted("URI", abs(base, &u));
        }
        for k in &mut s.keys {
            if let Some(u) = k.uri().map(str::to_string) {
                k.attrs.set_quoted("URI", abs(base, &u));
            }
        }
    }
}

/// GET the ADS URL (with a timeout) and read its VAST.
pub async fn ask_ads(
    http: &reqwest::Client,
    url: &str,
    timeout: std::time::Duration,
) -> Result<Vec<VastAd>> {
    let fut = async {
        let resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| AdsError::AdServer(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(AdsError::AdServer(format!("HTTP {}", resp.status())));
        }
        resp.text()
            .await
            .map_err(|e| AdsError::AdServer(e.to_string()))
    };
    let text = tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| AdsError::AdServer(format!("no answer within {timeout:?}")))??;
    parse_vast(&text)
}

/// A linear ad from a VAST answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VastAd {
    pub ad_id: String,
    pub duration: f64,
    /// HLS master playlist of the creative, or (`mezzanine`) the file to condition.
    pub media_url: String,
    /// `media_url` is not HLS: it is conditioned for the content before it plays.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mezzanine: bool,
    /// (event, url): `impression`, `start`, `firstQuartile`, `midpoint`, `thirdQuartile`,
    /// `complete`, `error`.
    pub beacons: Vec<(String, String)>,
}

/// The linear HLS ads of a VAST document, in order. Ads without an HLS media file are left
/// out. An unparseable document is an error.
pub fn parse_vast(xml: &str) -> Result<Vec<VastAd>> {
    let xml = xml.trim_start_matches('\u{feff}').trim();
    let body = match xml.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, b)| b.trim()).unwrap_or(""),
        None => xml,
    };
    let doc: vast4_rs::Vast =
        vast4_rs::from_str(body).map_err(|e| AdsError::Vast(format!("{e:?}")))?;
    let mut ads: Vec<(i32, VastAd)> = Vec::new();
    for (i, ad) in doc.ads.iter().enumerate() {
        let Some(inline) = &ad.in_line else {
            continue;
        };
        for creative in &inline.creatives.creatives {
            let Some(linear) = &creative.linear else {
                continue;
            };
            let Some(files) = &linear.media_files else {
                continue;
            };
            let Some(file) = files.media_files.iter().find(|f| {
                f.mime_type.to_ascii_lowercase().contains("mpegurl")
                    || f.uri
                        .trim()
                        .split('?')
                        .next()
                        .unwrap_or("")
                        .ends_with(".m3u8")
            }) else {
                continue;
            };
            let duration = linear
                .duration
                .as_ref()
                .map(|d| std::time::Duration::from(d.clone()).as_secs_f64())
                .unwrap_or(0.0);
            let mut beacons: Vec<(String, String)> = inline
                .impressions
                .iter()
                .map(|i| ("impression".to_string(), i.uri.trim().to_string()))
                .collect();
            beacons.extend(
                inline
                    .errors
                    .iter()
                    .map(|e| ("error".to_string(), e.trim().to_string())),
            );
            if let Some(t) = &linear.tracking_events {
                for tr in &t.trackings {
                    let name = match tr.event.to_string().as_str() {
                        "midpoint" | "midPoint" => "midpoint".to_string(),
                        other => other.to_string(),
                    };
                    beacons.push((name, tr.uri.trim().to_string()));
                }
            }
            let ad_id = creative
                .ad_id
                .as_deref()
                .or(ad.id.as_deref())
                .or(creative.id.as_deref())
                .unwrap_or("ad")
                .to_string();
            ads.push((
                ad.sequence.unwrap_or(i as i32 + 1),
                VastAd {
                    ad_id,
                    duration,
                    media_url: file.uri.trim().to_string(),
                    mezzanine: false,
                    beacons,
                },
            ));
        }
    }
    ads.sort_by_key(|a| a.0);
    Ok(ads.into_iter().map(|a| a.1).collect())
}
