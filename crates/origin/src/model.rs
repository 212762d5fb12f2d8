//! Channel and endpoint configuration: the JSON the control API reads and writes.

use std::collections::BTreeMap;

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
    /// MPEG-DASH: a dynamic MPD (`index.mpd`) over the same fMP4 fragments a CMAF endpoint
    /// serves (one remux, one cache; see [`crate::dash`]), settings in [`DashSettings`].
    Dash,
}

impl Packaging {
    /// Segments are fMP4 fragments remuxed from the ingested TS (CMAF and DASH).
    pub fn is_fmp4(self) -> bool {
        matches!(self, Packaging::Cmaf | Packaging::Dash)
    }
}

/// When a DASH endpoint starts a new Period (MediaPackage's `PeriodTriggers`). A new
/// Period at each discontinuity of the source is not optional: timestamps restart there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodTrigger {
    /// At each SCTE-35 ad avail (its start and its return), with the splice as an
    /// `EventStream`.
    Ads,
}

/// `SegmentTemplateFormat`: only `number_with_timeline` (`$Number$` + `SegmentTimeline`,
/// the one MediaPackage v2 offers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentTemplateFormat {
    #[default]
    NumberWithTimeline,
}

/// `UtcTiming` of a DASH endpoint: how players sync to the origin's clock (`/time`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UtcTiming {
    /// `urn:mpeg:dash:utc:http-iso:2014`.
    #[default]
    HttpIso,
    /// `urn:mpeg:dash:utc:http-xsdate:2014`.
    HttpXsdate,
}

fn default_min_buffer_time() -> u64 {
    4
}
fn default_min_update_period() -> u64 {
    2
}
fn default_suggested_presentation_delay() -> u64 {
    10
}
fn default_period_triggers() -> Vec<PeriodTrigger> {
    vec![PeriodTrigger::Ads]
}

/// Settings of a `dash` endpoint, in MediaPackage's terms (`DashPackage`); its
/// `ManifestWindowSeconds` is the endpoint's `manifest_window_seconds` (the MPD's
/// `timeShiftBufferDepth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashSettings {
    /// `MinBufferTimeSeconds` (`MPD@minBufferTime`). Default 4.
    #[serde(default = "default_min_buffer_time")]
    pub min_buffer_time_seconds: u64,
    /// `MinUpdatePeriodSeconds` (`MPD@minimumUpdatePeriod`). Default 2.
    #[serde(default = "default_min_update_period")]
    pub min_update_period_seconds: u64,
    /// `SuggestedPresentationDelaySeconds`. Default 10.
    #[serde(default = "default_suggested_presentation_delay")]
    pub suggested_presentation_delay_seconds: u64,
    /// `PeriodTriggers`: `["ads"]` (the default) or `[]`.
    #[serde(default = "default_period_triggers")]
    pub period_triggers: Vec<PeriodTrigger>,
    /// `SegmentTemplateFormat`.
    #[serde(default)]
    pub segment_template_format: SegmentTemplateFormat,
    /// `UtcTiming`: `http-iso` (default) or `http-xsdate`, against the origin's `/time`.
    #[serde(default)]
    pub utc_timing: UtcTiming,
}

impl Default for DashSettings {
    fn default() -> Self {
        Self {
            min_buffer_time_seconds: default_min_buffer_time(),
            min_update_period_seconds: default_min_update_period(),
            suggested_presentation_delay_seconds: default_suggested_presentation_delay(),
            period_triggers: default_period_triggers(),
            segment_template_format: SegmentTemplateFormat::default(),
            utc_timing: UtcTiming::default(),
        }
    }
}

impl DashSettings {
    fn validate(&self, field: impl Fn(&str) -> String) -> Result<()> {
        let checks = [
            (
                "min_buffer_time_seconds",
                self.min_buffer_time_seconds,
                1,
                3600,
            ),
            (
                "min_update_period_seconds",
                self.min_update_period_seconds,
                1,
                3600,
            ),
            (
                "suggested_presentation_delay_seconds",
                self.suggested_presentation_delay_seconds,
                0,
                3600,
            ),
        ];
        for (name, v, lo, hi) in checks {
            if !(lo..=hi).contains(&v) {
                return Err(OriginError::bad(
                    field(&format!("dash.{name}")),
                    format!("must be between {lo} and {hi}"),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if self.period_triggers.iter().any(|t| !seen.insert(*t)) {
            return Err(OriginError::bad(
                field("dash.period_triggers"),
                "a trigger is named twice",
            ));
        }
        Ok(())
    }
}

/// Output encryption, MediaPackage's `EncryptionMethod` as the variant: `"none"`,
/// `{"aes128": {"key_rotation_seconds": 60}}` (TS), `{"sample_aes": {..}}` (TS: Apple
/// SAMPLE-AES; CMAF and DASH: `cbcs`) or `{"aes_ctr": {..}}` (CMAF and DASH: `cenc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    #[default]
    None,
    /// HLS AES-128 (whole segment, CBC), key rotated every `key_rotation_seconds` of media
    /// wall-clock time.
    Aes128 { key_rotation_seconds: u64 },
    /// `SAMPLE_AES`: `cbcs` on CMAF and DASH endpoints, Apple SAMPLE-AES on TS endpoints.
    SampleAes(DrmSettings),
    /// `AES_CTR`: `cenc` (CMAF and DASH endpoints only).
    AesCtr(DrmSettings),
}

impl Encryption {
    /// The DRM settings of a SAMPLE_AES / AES_CTR endpoint.
    pub fn drm(&self) -> Option<&DrmSettings> {
        match self {
            Encryption::SampleAes(d) | Encryption::AesCtr(d) => Some(d),
            _ => None,
        }
    }
}

/// Settings of a DRM-encrypted endpoint, in MediaPackage's terms (`CmafEncryption` /
/// `HlsEncryption`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrmSettings {
    /// `KeyRotationIntervalSeconds`: a new key every this many seconds of media time; 0
    /// (the default): one key for the life of the endpoint.
    #[serde(default)]
    pub key_rotation_interval_seconds: u64,
    /// `ConstantInitializationVector`: 32 hex digits; default: derived per key period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant_initialization_vector: Option<String>,
    /// `SpekeKeyProvider`: where keys come from; without one, keys are derived from the
    /// origin's secret and served by the origin itself (CMAF: a ClearKey licence at
    /// `/keys/{channel}/{endpoint}/clearkey`; TS: `/keys/...`, `identity` key format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speke_key_provider: Option<SpekeKeyProvider>,
}

/// MediaPackage's `SpekeKeyProvider` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpekeKeyProvider {
    /// The SPEKE v2 endpoint (`Url`).
    pub url: String,
    /// The content id sent to the provider (`ResourceId`).
    pub resource_id: String,
    /// DRM system ids asked for (`SystemIds`), UUIDs.
    pub system_ids: Vec<String>,
    /// `EncryptionContractConfiguration`: the SPEKE v2 key presets (`SHARED` / `SHARED`,
    /// the default, or `PRESET-VIDEO-1` / `PRESET-AUDIO-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_contract_configuration: Option<EncryptionContractConfiguration>,
    /// A credential sent with every request to the provider (MediaPackage signs with an
    /// IAM role instead). Write-only: API answers show its value as `***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<ProviderCredential>,
}

/// What API answers show instead of a secret.
pub const MASKED: &str = "***";

/// A header sent to a key provider: `{"header": "Authorization", "value": "Bearer <token>"}`
/// (the default header), or an API key header (`{"header": "x-api-key", "value": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderCredential {
    #[serde(default = "default_credential_header")]
    pub header: String,
    /// The header's value; printed as `***` by `Debug` and in API answers.
    #[schema(value_type = String)]
    pub value: SecretText,
}

fn default_credential_header() -> String {
    "Authorization".into()
}

/// A secret in a stored configuration: serialized as itself (the store keeps it), shown
/// as `***` by `Debug`; API views replace it with [`MASKED`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASKED)
    }
}

impl EndpointSpec {
    /// The endpoint as API answers show it: credentials masked.
    pub fn masked(mut self) -> Self {
        if let Encryption::SampleAes(d) | Encryption::AesCtr(d) = &mut self.encryption
            && let Some(c) = d
                .speke_key_provider
                .as_mut()
                .and_then(|p| p.credential.as_mut())
        {
            c.value = SecretText::new(MASKED);
        }
        self
    }
}

/// SPEKE v2 presets (`PresetSpeke20Video` / `PresetSpeke20Audio`), e.g. `PRESET-VIDEO-1`,
/// `PRESET-AUDIO-1`, `SHARED`, `UNENCRYPTED`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionContractConfiguration {
    pub preset_speke20_video: String,
    pub preset_speke20_audio: String,
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
    /// DASH settings (`packaging: "dash"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dash: Option<DashSettings>,
    /// The master playlist's name without `.m3u8` (MediaPackage's `ManifestName`);
    /// `index.m3u8` is served too. Default `index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_name: Option<String>,
    /// `EXT-X-PROGRAM-DATE-TIME` at most this many seconds apart (and on the first segment
    /// and every discontinuity). Default: on every segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_date_time_interval_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags (MediaPackage's `Tags`): at most 50, keys 1 to 128 characters, values up to 256.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The master playlist name when none is set.
pub const DEFAULT_MANIFEST_NAME: &str = "index";

/// Check tags as MediaPackage does (at most 50; keys 1 to 128 characters, not starting
/// with `aws:`; values up to 256).
pub fn validate_tags(tags: &BTreeMap<String, String>, field: &str) -> Result<()> {
    if tags.len() > 50 {
        return Err(OriginError::bad(field, "at most 50 tags"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(OriginError::bad(
                format!("{field}.{k}"),
                "a tag key has 1 to 128 characters and does not start with \"aws:\"",
            ));
        }
        if v.chars().count() > 256 {
            return Err(OriginError::bad(
                format!("{field}.{k}"),
                "a tag value has at most 256 characters",
            ));
        }
    }
    Ok(())
}

fn validate_description(d: Option<&str>, field: &str) -> Result<()> {
    if d.is_some_and(|d| d.chars().count() > 1024) {
        return Err(OriginError::bad(field, "at most 1024 characters"));
    }
    Ok(())
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
            dash: None,
            manifest_name: None,
            program_date_time_interval_seconds: None,
            description: None,
            tags: BTreeMap::new(),
        }
    }

    /// The master playlist's name without `.m3u8`.
    pub fn manifest_name(&self) -> &str {
        self.manifest_name
            .as_deref()
            .unwrap_or(DEFAULT_MANIFEST_NAME)
    }

    /// The DASH settings of a `dash` endpoint (defaults where none were given).
    pub fn dash_settings(&self) -> DashSettings {
        self.dash.clone().unwrap_or_default()
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
        if let Some(name) = &self.manifest_name {
            validate_id(name, &field("manifest_name"))?;
            if name.starts_with("channel") || name.ends_with("_iframes") {
                return Err(OriginError::bad(
                    field("manifest_name"),
                    "must not start with \"channel\" (the ingest's variant names) or end \
                     with \"_iframes\"",
                ));
            }
        }
        if self
            .program_date_time_interval_seconds
            .is_some_and(|s| !(1..=3600).contains(&s))
        {
            return Err(OriginError::bad(
                field("program_date_time_interval_seconds"),
                "must be between 1 and 3600 (leave it out for one on every segment; \
                 start-over and time-shift need the tag, so it cannot be turned off)",
            ));
        }
        validate_description(self.description.as_deref(), &field("description"))?;
        validate_tags(&self.tags, &field("tags"))?;
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
        if self.packaging != Packaging::Dash && self.dash.is_some() {
            return Err(OriginError::bad(
                field("dash"),
                "DASH settings are for endpoints with \"packaging\": \"dash\"",
            ));
        }
        if let Some(d) = &self.dash {
            d.validate(field)?;
        }
        if self.packaging == Packaging::Dash && matches!(self.encryption, Encryption::Aes128 { .. })
        {
            return Err(OriginError::bad(
                field("encryption"),
                "AES-128 is not offered on dash endpoints; use \"sample_aes\" (cbcs) or \
                 \"aes_ctr\" (cenc)",
            ));
        }
        if self.packaging == Packaging::Cmaf && matches!(self.encryption, Encryption::Aes128 { .. })
        {
            return Err(OriginError::bad(
                field("encryption"),
                "AES-128 is not offered on cmaf endpoints (the init segment would be encrypted \
                 too); use \"sample_aes\" (cbcs) or \"aes_ctr\" (cenc) for cmaf",
            ));
        }
        if self.packaging == Packaging::Ts && matches!(self.encryption, Encryption::AesCtr(_)) {
            return Err(OriginError::bad(
                field("encryption"),
                "AES_CTR (cenc) is for cmaf endpoints; use \"sample_aes\" or \"aes128\" on ts",
            ));
        }
        if let Some(d) = self.encryption.drm() {
            let f = |n: &str| {
                let m = if matches!(self.encryption, Encryption::SampleAes(_)) {
                    "sample_aes"
                } else {
                    "aes_ctr"
                };
                field(&format!("encryption.{m}.{n}"))
            };
            if d.key_rotation_interval_seconds > 86_400 {
                return Err(OriginError::bad(
                    f("key_rotation_interval_seconds"),
                    "must be between 0 (off) and 86400",
                ));
            }
            if let Some(iv) = &d.constant_initialization_vector
                && (iv.len() != 32 || hex::decode(iv).is_err())
            {
                return Err(OriginError::bad(
                    f("constant_initialization_vector"),
                    "must be 32 hex digits (16 bytes)",
                ));
            }
            if let Some(p) = &d.speke_key_provider {
                if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                    return Err(OriginError::bad(
                        f("speke_key_provider.url"),
                        "must be an http(s) URL",
                    ));
                }
                if p.resource_id.is_empty() || p.system_ids.is_empty() {
                    return Err(OriginError::bad(
                        f("speke_key_provider"),
                        "resource_id and at least one system id are required",
                    ));
                }
                crate::speke::validate_provider(p, self.packaging == Packaging::Ts, &f)?;
            }
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

/// The one rule for ids of every service ([`web::check_name`]): `[A-Za-z0-9_-]{1,64}`.
pub fn validate_id(id: &str, field: &str) -> Result<()> {
    if !web::is_valid_name(id) {
        return Err(OriginError::bad(field, web::name_problem(id)));
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
    /// Tags (MediaPackage's `Tags`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
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
            tags: BTreeMap::new(),
        }
    }
    pub fn validate(&self) -> Result<()> {
        validate_id(&self.id, "id")?;
        validate_description(self.description.as_deref(), "description")?;
        validate_tags(&self.tags, "tags")?;
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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}
