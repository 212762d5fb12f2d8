//! MediaPackage v1's JSON shapes (`mediapackage/2017-10-12/service-2.json` in botocore):
//! camelCase on the wire. Request and answer share a type where the model does; every
//! request type refuses fields it does not know (a 422 naming them), and fields the model
//! knows but lineup does not offer are read so they can be refused by name
//! ([`super::convert`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `CreateChannel` body (and `UpdateChannel`'s, which takes only `description`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelRequest {
    pub id: Option<String>,
    pub description: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A channel as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub arn: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub hls_ingest: HlsIngest,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsIngest {
    pub ingest_endpoints: Vec<IngestEndpoint>,
}

/// One ingest URL with its Digest credentials (the password only in the answers of
/// `CreateChannel` and the credential rotations: lineup keeps only digests of it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestEndpoint {
    pub id: String,
    pub url: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelList {
    pub channels: Vec<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `CreateOriginEndpoint` / `UpdateOriginEndpoint` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointRequest {
    pub id: Option<String>,
    pub channel_id: Option<String>,
    pub description: Option<String>,
    pub hls_package: Option<HlsPackage>,
    pub cmaf_package: Option<CmafPackage>,
    pub dash_package: Option<DashPackage>,
    pub mss_package: Option<Value>,
    pub manifest_name: Option<String>,
    pub startover_window_seconds: Option<i64>,
    pub time_delay_seconds: Option<i64>,
    pub tags: Option<BTreeMap<String, String>>,
    pub origination: Option<String>,
    pub whitelist: Option<Vec<String>>,
    pub authorization: Option<Value>,
}

/// An origin endpoint as answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginEndpoint {
    pub arn: String,
    pub id: String,
    pub channel_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_package: Option<HlsPackage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmaf_package: Option<CmafPackage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dash_package: Option<DashPackage>,
    pub manifest_name: String,
    pub startover_window_seconds: u64,
    pub time_delay_seconds: u64,
    pub origination: String,
    pub whitelist: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointList {
    pub origin_endpoints: Vec<OriginEndpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `HlsPackage`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HlsPackage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_markers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_triggers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ads_on_delivery_restrictions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_dvb_subtitles: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_iframe_only_stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_window_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program_date_time_interval_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_duration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<StreamSelection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_audio_rendition_group: Option<bool>,
}

/// `CmafPackage` (`CmafPackageCreateOrUpdateParameters` in requests).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CmafPackage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_manifests: Option<Vec<HlsManifest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_duration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<StreamSelection>,
}

/// `DashPackage`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashPackage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_triggers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ads_on_delivery_restrictions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<DashEncryption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_iframe_only_stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_layout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_window_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_buffer_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_update_period_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_triggers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_duration_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_template_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<StreamSelection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_presentation_delay_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_timing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_timing_uri: Option<String>,
}

/// `DashEncryption` (CENC: no method to choose, no constant IV).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashEncryption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_rotation_interval_seconds: Option<i64>,
    pub speke_key_provider: SpekeKeyProvider,
}

/// One HLS manifest of a CMAF endpoint (`HlsManifestCreateOrUpdateParameters` /
/// `HlsManifest`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HlsManifest {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_markers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_triggers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ads_on_delivery_restrictions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_iframe_only_stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_window_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program_date_time_interval_seconds: Option<i64>,
    /// Answer only.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `HlsEncryption` / `CmafEncryption` (one type: the CMAF one has no `repeatExtXKey`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constant_initialization_vector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_rotation_interval_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_ext_x_key: Option<bool>,
    pub speke_key_provider: SpekeKeyProvider,
}

/// `SpekeKeyProvider`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpekeKeyProvider {
    pub url: String,
    pub resource_id: String,
    pub system_ids: Vec<String>,
    /// Required by the model; lineup calls the provider itself and assumes no role.
    #[serde(default)]
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_contract_configuration: Option<EncryptionContract>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptionContract {
    pub preset_speke20_audio: String,
    pub preset_speke20_video: String,
}

/// `StreamSelection`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamSelection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_video_bits_per_second: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_video_bits_per_second: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_order: Option<String>,
}

/// `TagResource` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRequest {
    pub tags: BTreeMap<String, String>,
}

/// `ListTagsForResource` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tags {
    pub tags: BTreeMap<String, String>,
}
