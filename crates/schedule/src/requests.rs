//! The request bodies of the catalog and schedule APIs, and their small checks.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::model::{AdBreak, EventType, FillConfig, Millis};

/// `POST /api/v1/assets`: an asset to import. Only `url` is required; the rest defaults
/// from the URL and what its playlists say.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAsset {
    pub url: String,
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub thumbnail: Option<String>,
    pub available_from: Option<Millis>,
    pub available_until: Option<Millis>,
    /// Seconds; when given, the playlists are not read for it.
    pub duration: Option<f64>,
}

/// `POST /api/v1/channels/{id}/schedule`: a manual event. Times as epoch ms
/// (`start_time`/`end_time`) or ISO 8601 (`start`/`end`); `duration` (seconds) instead of
/// an end.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    pub id: Option<String>,
    pub title: Option<String>,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration: Option<f64>,
    #[serde(default)]
    pub url: String,
    #[serde(rename = "type")]
    pub kind: Option<EventType>,
    #[serde(rename = "liveUrl")]
    pub live_url: Option<String>,
    #[serde(rename = "assetId")]
    pub asset_id: Option<String>,
    #[serde(rename = "adBreaks", default)]
    pub ad_breaks: Vec<AdBreak>,
}

/// `POST /api/v1/auto/mrss`: fill `channelId` from the feed at `url`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoMrss {
    pub url: String,
    pub channel_id: String,
    #[serde(default)]
    pub config: FillConfig,
    /// Eyevinn's fields, accepted and ignored.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Ids and categories are path segments: the one rule of every service ([`web::check_name`]).
pub fn check_id(field: &str, id: &str) -> Result<()> {
    if web::is_valid_name(id) {
        Ok(())
    } else {
        Err(Error::field(field, web::name_problem(id)))
    }
}

pub(crate) fn parse_time(
    field: &str,
    ms: Option<Millis>,
    iso: Option<&str>,
) -> Result<Option<Millis>> {
    match (ms, iso) {
        (Some(ms), _) => Ok(Some(ms)),
        (None, Some(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|e| Error::field(field, format!("not ISO 8601: {e}"))),
        (None, None) => Ok(None),
    }
}

/// An id for an asset read from `url`: the folder of a `.../name/master.m3u8`, or the file
/// stem, reduced to id characters.
pub(crate) fn id_from_url(url: &str) -> String {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let file = parts.pop().unwrap_or("asset");
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let name = if matches!(stem, "master" | "index" | "playlist" | "main") {
        parts.pop().unwrap_or(stem)
    } else {
        stem
    };
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    if id.is_empty() { "asset".into() } else { id }
}
