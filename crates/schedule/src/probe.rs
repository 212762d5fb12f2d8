//! Reading a VOD: its duration and renditions, from its HLS playlists (via the `hls` crate).

use crate::error::{Error, Result};
use crate::model::AssetRendition;

/// What reading a VOD's playlists tells the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Seconds (sum of the first variant's `EXTINF`s).
    pub duration: f64,
    pub renditions: Vec<AssetRendition>,
}

async fn get_text(http: &reqwest::Client, url: &str) -> Result<String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| Error::source(url, e))?;
    if !response.status().is_success() {
        return Err(Error::source(url, format!("HTTP {}", response.status())));
    }
    response.text().await.map_err(|e| Error::source(url, e))
}

/// Fetches `url` (master or media playlist); for a master, also its first variant.
pub async fn probe(http: &reqwest::Client, url: &str) -> Result<Probe> {
    let base = url::Url::parse(url).map_err(|e| Error::field("url", format!("not a URL: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(Error::field("url", "only http(s) URLs can be read"));
    }
    let text = get_text(http, url).await?;
    match hls::parse(&text).map_err(|e| Error::source(url, e))? {
        hls::Playlist::Media(m) => {
            if !m.end_list {
                return Err(Error::source(url, "not a VOD (no EXT-X-ENDLIST)"));
            }
            Ok(Probe {
                duration: m.duration(),
                renditions: Vec::new(),
            })
        }
        hls::Playlist::Master(master) => {
            let renditions: Vec<AssetRendition> = master
                .variants
                .iter()
                .map(|v| AssetRendition {
                    bandwidth: v.bandwidth().unwrap_or(0),
                    resolution: v.resolution().map(|(w, h)| format!("{w}x{h}")),
                    codecs: v.codecs().map(str::to_string),
                    uri: v.uri.clone(),
                })
                .collect();
            let first = master
                .variants
                .first()
                .ok_or_else(|| Error::source(url, "master playlist without variants"))?;
            let media_url = hls::uri::resolve(&base, &first.uri)
                .map_err(|e| Error::source(url, format!("variant URI: {e}")))?;
            let media_text = get_text(http, media_url.as_str()).await?;
            let media =
                hls::parse_media(&media_text).map_err(|e| Error::source(media_url.as_str(), e))?;
            if !media.end_list {
                return Err(Error::source(
                    media_url.as_str(),
                    "not a VOD (no EXT-X-ENDLIST)",
                ));
            }
            Ok(Probe {
                duration: media.duration(),
                renditions,
            })
        }
    }
}
