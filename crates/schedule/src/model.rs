//! The data the catalog and the schedule keep: assets, channels, schedule events.
//!
//! JSON shapes: events keep Eyevinn schedule-service's field names (`channelId`,
//! `start_time`/`end_time` in epoch milliseconds, `start`/`end` ISO 8601, `duration` in
//! seconds, `type` `VOD|LIVE|AD`, `liveUrl`); our additions (`source`, `assetId`, `seq`,
//! `adBreaks`) are extra fields a client of the original ignores.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Epoch milliseconds (UTC).
pub type Millis = i64;

/// ISO 8601 (UTC, milliseconds, `Z`) for epoch milliseconds.
pub fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One rendition of an asset's master playlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetRendition {
    pub bandwidth: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<String>,
    pub uri: String,
}

/// A catalog entry: an HLS VOD with what the schedule needs to place it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The HLS master (or media) playlist URL.
    pub url: String,
    /// Duration in seconds (of the first variant's media playlist).
    pub duration: f64,
    #[serde(default)]
    pub renditions: Vec<AssetRendition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Availability window (epoch ms): outside it the asset is not in the feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_until: Option<Millis>,
}

impl Asset {
    /// Whether the asset may be published at `now`.
    pub fn available_at(&self, now: Millis) -> bool {
        self.available_from.is_none_or(|f| f <= now) && self.available_until.is_none_or(|u| now < u)
    }

    /// Whether the asset is a house ad: its `category` is [`HOUSE_AD_CATEGORY`] (`"ad"`) or
    /// its `tags` contain [`HOUSE_AD_TAG`] (`"house-ad"`). House ads fill ad breaks (the
    /// stitched feed, the engine's breaks) and never appear in the programme feeds.
    pub fn is_house_ad(&self) -> bool {
        self.category.as_deref() == Some(HOUSE_AD_CATEGORY)
            || self.tags.iter().any(|t| t == HOUSE_AD_TAG)
    }
}

/// The category that marks an asset as a house ad (see [`Asset::is_house_ad`]).
pub const HOUSE_AD_CATEGORY: &str = "ad";
/// The tag that marks an asset as a house ad (see [`Asset::is_house_ad`]).
pub const HOUSE_AD_TAG: &str = "house-ad";

/// Event kinds, as in Eyevinn's schedule service plus `AD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Vod,
    Live,
    Ad,
}

/// Who put an event in the schedule: the auto-filler (which may move or drop it) or a user
/// (fixed; auto events flow around it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    #[default]
    Auto,
    Manual,
}

/// An ad break inside a programme: at `offset` seconds from the programme start, lasting
/// `duration` seconds of the programme's own time (the break replaces content; the event's
/// length does not change).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AdBreak {
    pub offset: f64,
    pub duration: f64,
}

/// One programme in a channel's schedule, `[start_time, end_time)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleEvent {
    pub id: String,
    #[serde(rename = "channelId")]
    pub channel_id: String,
    pub title: String,
    pub start_time: Millis,
    pub end_time: Millis,
    /// ISO 8601 of `start_time` (derived).
    #[serde(default)]
    pub start: String,
    /// ISO 8601 of `end_time` (derived).
    #[serde(default)]
    pub end: String,
    /// The VOD's HLS URL (for LIVE: the slate/VOD to fall back to, may be empty).
    pub url: String,
    /// Scheduled length in seconds (`end_time - start_time`).
    pub duration: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(rename = "liveUrl", default, skip_serializing_if = "Option::is_none")]
    pub live_url: Option<String>,
    #[serde(default)]
    pub source: EventSource,
    #[serde(rename = "assetId", default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Position in the auto-fill sequence (auto events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(rename = "adBreaks", default, skip_serializing_if = "Vec::is_empty")]
    pub ad_breaks: Vec<AdBreak>,
}

impl ScheduleEvent {
    /// Recompute the derived fields (`start`, `end`, `duration`) from the epoch times.
    pub fn normalized(mut self) -> Self {
        self.start = iso(self.start_time);
        self.end = iso(self.end_time);
        self.duration = (self.end_time - self.start_time) as f64 / 1000.0;
        self
    }
    pub fn overlaps(&self, start: Millis, end: Millis) -> bool {
        self.start_time < end && start < self.end_time
    }
}

/// How the auto-filler picks the next programme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FillOrder {
    /// The feed's order, round and round.
    #[default]
    InOrder,
    /// Each pass over the feed in a fresh permutation drawn from `seed` and the pass number.
    Shuffle { seed: u64 },
    /// Take one programme of each listed category in turn (round robin inside each).
    Category { categories: Vec<String> },
}

/// MediaTailor Channel Assembly's playback modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum PlaybackMode {
    /// Programmes back to back forever: the feed repeats; a programme that does not fit
    /// before a manual event is cut at its start (no gaps).
    #[default]
    Loop,
    /// Each programme once, at its wall-clock time: a programme that does not fit before a
    /// manual event moves after it (the engine plays slate in the gap); when the feed is used
    /// up nothing more is scheduled.
    Linear,
}

/// Ad breaks placed inside every auto programme: every `every` seconds of content (not at
/// 0, not at or after the end), each `duration` seconds long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AdBreakPolicy {
    pub every: f64,
    pub duration: f64,
}

/// AD events between auto programmes: one of `duration` seconds after every `every`
/// programmes (the engine fills them with the catalog's house ads, or the slate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AdEventPolicy {
    pub every: u32,
    pub duration: f64,
}

/// A channel's auto-fill settings (the `config` of `POST /api/v1/auto/mrss`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FillConfig {
    /// How far ahead the schedule is kept full, hours.
    pub horizon_hours: f64,
    pub order: FillOrder,
    pub mode: PlaybackMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_breaks: Option<AdBreakPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_events: Option<AdEventPolicy>,
    /// Eyevinn: how long (hours) past events are kept. `None`: forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_retention: Option<f64>,
}

impl Default for FillConfig {
    fn default() -> Self {
        Self {
            horizon_hours: 12.0,
            order: FillOrder::InOrder,
            mode: PlaybackMode::Loop,
            ad_breaks: None,
            ad_events: None,
            schedule_retention: None,
        }
    }
}

/// A channel, Eyevinn-shaped (`id`, `tenant`, `title`) plus its auto-fill source. Unknown
/// fields are refused, as on every control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoSource>,
}

/// Where a channel's auto-fill takes its programmes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoSource {
    /// The MRSS (RSS 2.0 + Media RSS) or Atom feed URL.
    pub url: String,
    #[serde(default)]
    pub config: FillConfig,
    /// The feed's entries as last read (kept so a restart fills without the feed).
    #[serde(default)]
    pub programmes: Vec<Programme>,
}

/// Something the auto-filler may schedule: one feed entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Programme {
    pub id: String,
    pub title: String,
    pub url: String,
    /// Seconds.
    pub duration: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
