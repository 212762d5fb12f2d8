//! Channel and endpoint configuration: the JSON the control API reads and writes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{OriginError, Result};

/// How ad markers found in the ingested stream appear on an endpoint (MediaPackage's
/// `AdMarkers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdMarkers {
    /// Strip every ad marker and SCTE-35 DATERANGE.
    #[default]
    None,
    /// Copy the markers as ingested.
    Passthrough,
    /// `EXT-OATCLS-SCTE35` + `EXT-X-CUE-OUT` / `EXT-X-CUE-OUT-CONT` / `EXT-X-CUE-IN`,
    /// with base64 SCTE-35 (MediaPackage's "SCTE-35 enhanced").
    Scte35Enhanced,
    /// `EXT-X-DATERANGE` with `SCTE35-OUT` / `SCTE35-IN` hex, plus PROGRAM-DATE-TIME.
    Daterange,
}

/// Segment container of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Packaging {
    /// MPEG-TS, as ingested.
    #[default]
    Ts,
    /// fMP4 (CMAF) remuxed from the ingested TS (H.264 / AAC): `EXT-X-VERSION:7`,
    /// `EXT-X-MAP` init segments, `.m4s` fragments. Not combinable with AES-128 (400).
    Cmaf,
}

/// Output encryption: `"none"` or `{"aes128": {"key_rotation_seconds": 60}}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    #[default]
    None,
    /// HLS AES-128 (whole segment, CBC), key rotated every `key_rotation_seconds` of media
    /// wall-clock time.
    Aes128 { key_rotation_seconds: u64 },
}

fn default_startover() -> u64 {
    3600
}
fn default_manifest_window() -> u64 {
    60
}

/// An output endpoint of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// `[A-Za-z0-9_-]{1,64}`, unique in the channel; part of the playback URL.
    pub id: String,
    /// How far back start-over / time-shift requests may reach (and how long segments are
    /// kept). Default 3600.
    #[serde(default = "default_startover")]
    pub startover_window_seconds: u64,
    /// Length of the live playlist. Default 60.
    #[serde(default = "default_manifest_window")]
    pub manifest_window_seconds: u64,
    /// The live playlist is shifted back by this much. Default 0.
    #[serde(default)]
    pub time_delay_seconds: u64,
    /// Offer I-frame-only playlists (`EXT-X-I-FRAME-STREAM-INF`).
    #[serde(default)]
    pub i_frames: bool,
    #[serde(default)]
    pub ad_markers: AdMarkers,
    #[serde(default)]
    pub packaging: Packaging,
    #[serde(default)]
    pub encryption: Encryption,
}

impl EndpointSpec {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            startover_window_seconds: default_startover(),
            manifest_window_seconds: default_manifest_window(),
            time_delay_seconds: 0,
            i_frames: false,
            ad_markers: AdMarkers::None,
            packaging: Packaging::Ts,
            encryption: Encryption::None,
        }
    }

    /// Check the values; `prefix` is the JSON path of this endpoint (e.g. `endpoints[0]`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            }
        };
        validate_id(&self.id, &field("id"))?;
        if self.manifest_window_seconds == 0 || self.manifest_window_seconds > 86_400 {
            return Err(OriginError::bad(
                field("manifest_window_seconds"),
                "must be between 1 and 86400",
            ));
        }
        if self.startover_window_seconds > 14 * 86_400 {
            return Err(OriginError::bad(
                field("startover_window_seconds"),
                "must be at most 1209600 (14 days)",
            ));
        }
        if self.time_delay_seconds > 86_400 {
            return Err(OriginError::bad(
                field("time_delay_seconds"),
                "must be at most 86400",
            ));
        }
        if self.packaging == Packaging::Cmaf && self.encryption != Encryption::None {
            return Err(OriginError::bad(
                field("encryption"),
                "AES-128 is not offered on cmaf endpoints (the init segment would be encrypted \
                 too); use packaging \"ts\" for AES-128 or encryption \"none\" for cmaf",
            ));
        }
        if let Encryption::Aes128 {
            key_rotation_seconds,
        } = self.encryption
            && !(1..=86_400).contains(&key_rotation_seconds)
        {
            return Err(OriginError::bad(
                field("encryption.aes128.key_rotation_seconds"),
                "must be between 1 and 86400",
            ));
        }
        Ok(())
    }

    /// How long this endpoint needs segments kept.
    pub fn retention_seconds(&self) -> u64 {
        self.startover_window_seconds
            .max(self.manifest_window_seconds + self.time_delay_seconds)
    }
}

/// `[A-Za-z0-9_-]{1,64}`.
pub fn validate_id(id: &str, field: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(OriginError::bad(
            field,
            format!("{id:?} is not a valid id: use 1 to 64 of A-Z a-z 0-9 _ -"),
        ));
    }
    Ok(())
}

/// `POST /api/v1/channels` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// `[A-Za-z0-9_-]{1,64}`; part of the ingest and playback URLs.
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Output endpoints. Default: one endpoint `{"id": "default"}` with default settings.
    #[serde(default = "default_endpoints")]
    pub endpoints: Vec<EndpointSpec>,
}

fn default_endpoints() -> Vec<EndpointSpec> {
    vec![EndpointSpec::new("default")]
}

impl ChannelSpec {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            description: None,
            endpoints: default_endpoints(),
        }
    }
    pub fn validate(&self) -> Result<()> {
        validate_id(&self.id, "id")?;
        let mut seen = std::collections::HashSet::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            e.validate(&format!("endpoints[{i}]"))?;
            if !seen.insert(e.id.as_str()) {
                return Err(OriginError::bad(
                    format!("endpoints[{i}].id"),
                    format!("endpoint id {:?} is used twice", e.id),
                ));
            }
        }
        Ok(())
    }
}

/// One of a channel's two ingest URLs with its credentials. The password is only ever
/// returned by the create call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IngestEndpoint {
    /// MediaPackage-style ingest URL naming the file stem (`.../in/<channel>/1/channel`):
    /// PUT `<url>.m3u8`, `<url>_1.m3u8`, `<url>_1_42.ts`.
    pub url: String,
    pub username: String,
    /// Present only in the create response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// An endpoint as the API shows it: its settings and its playback URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    #[serde(flatten)]
    pub spec: EndpointSpec,
    /// The master playlist URL.
    pub url: String,
}

/// A channel as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub description: Option<String>,
    pub ingest: Vec<IngestEndpoint>,
    pub endpoints: Vec<EndpointView>,
    /// Variant playlists seen on ingest so far (e.g. `channel_1`).
    pub variants: Vec<String>,
}
