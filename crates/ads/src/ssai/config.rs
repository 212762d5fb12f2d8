//! Playback configurations (MediaTailor's names and JSON shape) and ADS URL templates.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AdsError, Result};

/// `AvailSuppression`: `OFF`, or `BEHIND_LIVE_EDGE` with `Value` = `HH:MM:SS`: breaks that,
/// when a session starts, began more than `Value` behind the live edge are not filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AvailSuppression {
    #[serde(default = "off")]
    pub mode: String,
    #[serde(default)]
    pub value: Option<String>,
}

fn off() -> String {
    "OFF".into()
}

/// `ManifestProcessingRules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestProcessingRules {
    #[serde(default)]
    pub ad_marker_passthrough: AdMarkerPassthrough,
}

/// `AdMarkerPassthrough`: copy CUE-OUT/CUE-IN markers into personalized playlists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AdMarkerPassthrough {
    #[serde(default)]
    pub enabled: bool,
}

/// `CdnConfiguration`: where players are told to fetch segments from, a CDN in front of
/// the origin (`ContentSegmentUrlPrefix` replaces `VideoContentSourceUrl` at the start of
/// content segment and init segment URIs) and in front of this service
/// (`AdSegmentUrlPrefix` replaces this service's base URL in ad and slate segment URIs).
/// Playlists and keys still come from here and the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CdnConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_segment_url_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_segment_url_prefix: Option<String>,
}

impl CdnConfiguration {
    /// `uri` (absolute, from the origin) with `source` swapped for the content prefix.
    pub fn content_uri(&self, source: &str, uri: &str) -> Option<String> {
        let prefix = self.content_segment_url_prefix.as_deref()?;
        let rest = uri.strip_prefix(source.trim_end_matches('/'))?;
        rest.starts_with('/')
            .then(|| format!("{}{rest}", prefix.trim_end_matches('/')))
    }
}

/// A playback configuration: `PUT /api/v1/playbackConfigurations/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PlaybackConfiguration {
    /// Set from the path.
    #[serde(default)]
    pub name: String,
    /// URL prefix of the content: `<prefix>/<path>` is the origin master playlist.
    pub video_content_source_url: String,
    /// ADS URL template with `[session.id]`, `[avail.index]`, `[player_params.k]`, ...
    pub ad_decision_server_url: String,
    /// HLS master of the slate that fills what ads leave of a break.
    #[serde(default)]
    pub slate_ad_url: Option<String>,
    /// Most unfilled seconds a break may have before it plays the original content instead.
    #[serde(default)]
    pub personalization_threshold_seconds: Option<f64>,
    #[serde(default)]
    pub avail_suppression: Option<AvailSuppression>,
    #[serde(default)]
    pub manifest_processing_rules: Option<ManifestProcessingRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn_configuration: Option<CdnConfiguration>,
    /// lineup: ADS timeout, milliseconds (default 3000).
    #[serde(default)]
    pub ad_decision_server_timeout_ms: Option<u64>,
    /// Answer only: where implicit sessions start (`<prefix><path>.m3u8`).
    #[serde(default, skip_deserializing)]
    pub hls_configuration: Option<HlsConfiguration>,
    /// Answer only: where explicit sessions start (`POST <prefix><path>`).
    #[serde(default, skip_deserializing)]
    pub session_initialization_endpoint_prefix: Option<String>,
    /// Tags (MediaTailor's `tags`, lower-case as in its model).
    #[serde(
        default,
        rename = "tags",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// `HlsConfiguration` (answer only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct HlsConfiguration {
    pub manifest_endpoint_prefix: String,
}

impl PlaybackConfiguration {
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| AdsError::BadField {
            field: field.into(),
            message,
        };
        for (field, url) in [
            (
                "VideoContentSourceUrl",
                Some(&self.video_content_source_url),
            ),
            ("AdDecisionServerUrl", Some(&self.ad_decision_server_url)),
            ("SlateAdUrl", self.slate_ad_url.as_ref()),
            (
                "CdnConfiguration.ContentSegmentUrlPrefix",
                self.cdn_configuration
                    .as_ref()
                    .and_then(|c| c.content_segment_url_prefix.as_ref()),
            ),
            (
                "CdnConfiguration.AdSegmentUrlPrefix",
                self.cdn_configuration
                    .as_ref()
                    .and_then(|c| c.ad_segment_url_prefix.as_ref()),
            ),
        ] {
            if let Some(u) = url {
                let parsed =
                    url::Url::parse(u).map_err(|e| bad(field, format!("not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(bad(field, "must be http or https".into()));
                }
            }
        }
        if let Some(t) = self.personalization_threshold_seconds
            && !(0.0..=3600.0).contains(&t)
        {
            return Err(bad(
                "PersonalizationThresholdSeconds",
                "must be 0..3600".into(),
            ));
        }
        if let Some(s) = &self.avail_suppression {
            match s.mode.as_str() {
                "OFF" => {}
                "BEHIND_LIVE_EDGE" => {
                    hms(s.value.as_deref().unwrap_or("00:00:00"))
                        .ok_or_else(|| bad("AvailSuppression.Value", "must be HH:MM:SS".into()))?;
                }
                other => {
                    return Err(bad(
                        "AvailSuppression.Mode",
                        format!("must be OFF or BEHIND_LIVE_EDGE, got {other}"),
                    ));
                }
            }
        }
        if let Some(t) = self.ad_decision_server_timeout_ms
            && !(1..=60_000).contains(&t)
        {
            return Err(bad("AdDecisionServerTimeoutMs", "must be 1..60000".into()));
        }
        Ok(())
    }

    /// Seconds behind the live edge beyond which a break seen at session start is not
    /// filled (`None`: suppression off).
    pub fn suppress_behind(&self) -> Option<f64> {
        let s = self.avail_suppression.as_ref()?;
        (s.mode == "BEHIND_LIVE_EDGE")
            .then(|| hms(s.value.as_deref().unwrap_or("00:00:00")).unwrap_or(0.0))
    }

    pub fn marker_passthrough(&self) -> bool {
        self.manifest_processing_rules
            .as_ref()
            .is_some_and(|r| r.ad_marker_passthrough.enabled)
    }

    /// The URL of `path` under `VideoContentSourceUrl`; a path that could leave it (any
    /// `.`/`..` segment, encoded or not) is a 400 ([`super::confine`]).
    pub fn content_url(&self, path: &str) -> Result<String> {
        super::confine::join(&self.video_content_source_url, path)
    }

    pub fn ads_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ad_decision_server_timeout_ms.unwrap_or(3000))
    }
}

/// Configuration names follow the one rule of every service ([`web::check_name`]).
pub fn validate_name(name: &str) -> Result<()> {
    if web::is_valid_name(name) {
        Ok(())
    } else {
        Err(AdsError::BadField {
            field: "name".into(),
            message: web::name_problem(name),
        })
    }
}

/// `HH:MM:SS` -> seconds.
pub fn hms(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let h: u64 = h.parse().ok()?;
    let m: u64 = m.parse().ok()?;
    let sec: f64 = sec.parse().ok()?;
    (m < 60 && (0.0..60.0).contains(&sec)).then(|| (h * 3600 + m * 60) as f64 + sec)
}

/// The values an ADS URL template can name, MediaTailor's variables.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars<'a> {
    pub session_id: &'a str,
    pub avail_duration_secs: f64,
    pub avail_index: u32,
    pub avail_random: u64,
    pub scte_event_id: Option<&'a str>,
    pub player_params: &'a [(String, String)],
}

/// Fill `[session.id]`, `[session.uuid]`, `[session.avail_duration_secs]`,
/// `[session.avail_duration_ms]`, `[avail.index]`, `[avail.random]`, `[scte.event_id]`
/// and `[player_params.<k>]` (URL-encoded); unknown variables become empty.
pub fn fill_template(template: &str, v: &TemplateVars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let name = &after[..close];
        let value: Option<String> = match name {
            "session.id" | "session.uuid" => Some(v.session_id.to_string()),
            "session.avail_duration_secs" => {
                Some(format!("{}", v.avail_duration_secs.round() as u64))
            }
            "session.avail_duration_ms" => Some(format!(
                "{}",
                (v.avail_duration_secs * 1000.0).round() as u64
            )),
            "avail.index" => Some(v.avail_index.to_string()),
            "avail.random" => Some(v.avail_random.to_string()),
            "scte.event_id" => Some(v.scte_event_id.unwrap_or("").to_string()),
            n if n.starts_with("player_params.") => Some(
                v.player_params
                    .iter()
                    .find(|(k, _)| k == &n["player_params.".len()..])
                    .map(|(_, val)| val.clone())
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        match value {
            Some(val) => out.push_str(
                &url::form_urlencoded::byte_serialize(val.as_bytes()).collect::<String>(),
            ),
            None => {
                out.push('[');
                out.push_str(name);
                out.push(']');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn cdn_prefixes_replace_the_source_only_at_a_path_boundary() {
        let cdn = CdnConfiguration {
            content_segment_url_prefix: Some("https://cdn.example.com/content/".into()),
            ad_segment_url_prefix: None,
        };
        assert_eq!(
            cdn.content_uri(
                "http://o:8080/out/",
                "http://o:8080/out/ch/ep/channel_1/7.ts"
            )
            .as_deref(),
            Some("https://cdn.example.com/content/ch/ep/channel_1/7.ts")
        );
        assert_eq!(
            cdn.content_uri("http://o:8080/out", "http://o:8080/outside/7.ts"),
            None
        );
        assert_eq!(
            cdn.content_uri("http://o:8080/out", "http://x/out/7.ts"),
            None
        );
    }

    use super::*;

    #[test]
    fn template_variables() {
        let params = vec![("k".to_string(), "a b".to_string())];
        let v = TemplateVars {
            session_id: "s1",
            avail_duration_secs: 20.0,
            avail_index: 2,
            avail_random: 42,
            scte_event_id: Some("7"),
            player_params: &params,
        };
        assert_eq!(
            fill_template(
                "http://a/vast?d=[session.avail_duration_secs]&ms=[session.avail_duration_ms]&u=[session.id]&x=[session.uuid]&i=[avail.index]&r=[avail.random]&e=[scte.event_id]&k=[player_params.k]&m=[player_params.missing]&o=[other]",
                &v
            ),
            "http://a/vast?d=20&ms=20000&u=s1&x=s1&i=2&r=42&e=7&k=a+b&m=&o=[other]"
        );
        assert_eq!(hms("00:01:30"), Some(90.0));
        assert_eq!(hms("1:2"), None);
    }
}
