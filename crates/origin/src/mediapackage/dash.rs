//! MediaPackage's `DashPackage` onto a `packaging: "dash"` endpoint's [`DashSettings`] and
//! back, one field to one setting; a field or enum value the origin's MPD does not offer is
//! a 422 naming it (checked against `DashPackage` in botocore's
//! `mediapackage/2017-10-12/service-2.json`).

use web::aws_error::AwsError;

use super::convert::{
    SEGMENT_DURATION, drm_settings, refuse_if, refuse_stream_selection, seconds, unprocessable,
};
use super::shapes::{self, DashEncryption, DashPackage};
use crate::model::{
    AdMarkers, DEFAULT_MANIFEST_NAME, DashSettings, Encryption, EndpointSpec, Packaging,
    PeriodTrigger, SegmentTemplateFormat, UtcTiming,
};

const AT: &str = "DashPackage";

/// `value` must be `offered` (or absent); another value of the model's `enum` is refused
/// with `why`, anything else is not a value of the field at all.
fn only(
    value: &Option<String>,
    field: &str,
    offered: &[&str],
    known: &[&str],
    why: &str,
) -> Result<(), AwsError> {
    match value.as_deref() {
        None => Ok(()),
        Some(v) if offered.contains(&v) => Ok(()),
        Some(v) if known.contains(&v) => Err(unprocessable(
            &format!("{AT}.{field}"),
            format!("{v:?} is not offered: {why}"),
        )),
        Some(v) => Err(unprocessable(
            &format!("{AT}.{field}"),
            format!("{v:?} is not one of {}", known.join(", ")),
        )),
    }
}

/// The MPD is `index.mpd`: a `ManifestName` other than `index` would answer a `Url` that
/// is not served.
pub(super) fn check_manifest_name(spec: &EndpointSpec) -> Result<(), AwsError> {
    match spec.manifest_name.as_deref() {
        None | Some(DEFAULT_MANIFEST_NAME) => Ok(()),
        Some(other) => Err(unprocessable(
            "ManifestName",
            format!(
                "a DASH endpoint's MPD is index.mpd; {other:?} is offered on HLS and CMAF \
                 endpoints only"
            ),
        )),
    }
}

/// The fields lineup's MPD has no counterpart for: refused by name.
fn refuse_unoffered(d: &DashPackage) -> Result<(), AwsError> {
    refuse_if(
        &d.segment_duration_seconds,
        "DashPackage.SegmentDurationSeconds",
        SEGMENT_DURATION,
    )?;
    refuse_if(
        &d.ad_triggers,
        "DashPackage.AdTriggers",
        "choosing SCTE-35 message types is not offered: every splice marks an ad avail",
    )?;
    refuse_if(
        &d.utc_timing_uri,
        "DashPackage.UtcTimingUri",
        "UTCTiming points at the origin's own clock (GET /time)",
    )?;
    if d.include_iframe_only_stream == Some(true) {
        return Err(unprocessable(
            "DashPackage.IncludeIframeOnlyStream",
            "a trick-play AdaptationSet is not offered in DASH yet (HLS endpoints have \
             I-frame playlists)",
        ));
    }
    refuse_stream_selection(&d.stream_selection, AT)?;
    only(
        &d.ads_on_delivery_restrictions,
        "AdsOnDeliveryRestrictions",
        &["RESTRICTED"],
        &["NONE", "RESTRICTED", "UNRESTRICTED", "BOTH"],
        "only RESTRICTED (the default)",
    )?;
    only(
        &d.manifest_layout,
        "ManifestLayout",
        &["FULL"],
        &["FULL", "COMPACT", "DRM_TOP_LEVEL_COMPACT"],
        "each Representation carries its SegmentTemplate (FULL)",
    )?;
    only(
        &d.profile,
        "Profile",
        &["NONE"],
        &["NONE", "HBBTV_1_5", "HYBRIDCAST", "DVB_DASH_2014"],
        "the MPD is the ISO live profile (NONE)",
    )?;
    only(
        &d.segment_template_format,
        "SegmentTemplateFormat",
        &["NUMBER_WITH_TIMELINE"],
        &[
            "NUMBER_WITH_TIMELINE",
            "TIME_WITH_TIMELINE",
            "NUMBER_WITH_DURATION",
        ],
        "the MPD uses $Number$ with a SegmentTimeline",
    )
}

/// The settings a `DashPackage` gives the endpoint: the package replaces the endpoint's
/// package (fields left out take their defaults), as with `HlsPackage`.
pub(super) fn apply(d: &DashPackage, spec: &mut EndpointSpec) -> Result<(), AwsError> {
    refuse_unoffered(d)?;
    check_manifest_name(spec)?;
    let mut settings = DashSettings::default();
    let num = |v: Option<i64>, field: &str| seconds(v, &format!("{AT}.{field}"));
    if let Some(w) = num(d.manifest_window_seconds, "ManifestWindowSeconds")? {
        spec.manifest_window_seconds = w;
    }
    if let Some(s) = num(d.min_buffer_time_seconds, "MinBufferTimeSeconds")? {
        settings.min_buffer_time_seconds = s;
    }
    if let Some(s) = num(d.min_update_period_seconds, "MinUpdatePeriodSeconds")? {
        settings.min_update_period_seconds = s;
    }
    if let Some(s) = num(
        d.suggested_presentation_delay_seconds,
        "SuggestedPresentationDelaySeconds",
    )? {
        settings.suggested_presentation_delay_seconds = s;
    }
    // As in MediaPackage, no list means no trigger: Periods only where timestamps restart.
    settings.period_triggers = Vec::new();
    for t in d.period_triggers.iter().flatten() {
        match t.as_str() {
            "ADS" => settings.period_triggers.push(PeriodTrigger::Ads),
            other => {
                return Err(unprocessable(
                    "DashPackage.PeriodTriggers",
                    format!("{other:?} is not one of ADS"),
                ));
            }
        }
    }
    settings.segment_template_format = SegmentTemplateFormat::NumberWithTimeline;
    settings.utc_timing = match d.utc_timing.as_deref() {
        None | Some("HTTP-ISO") => UtcTiming::HttpIso,
        Some("HTTP-XSDATE") => UtcTiming::HttpXsdate,
        Some(v @ ("NONE" | "HTTP-HEAD")) => {
            return Err(unprocessable(
                "DashPackage.UtcTiming",
                format!("{v:?} is not offered: HTTP-ISO (the default) or HTTP-XSDATE"),
            ));
        }
        Some(other) => {
            return Err(unprocessable(
                "DashPackage.UtcTiming",
                format!("{other:?} is not one of NONE, HTTP-HEAD, HTTP-ISO, HTTP-XSDATE"),
            ));
        }
    };
    spec.packaging = Packaging::Dash;
    spec.dash = Some(settings);
    // HLS-only settings do not follow an endpoint that becomes DASH.
    spec.i_frames = false;
    spec.ad_markers = AdMarkers::None;
    spec.program_date_time_interval_seconds = None;
    // DASH encryption is CENC (`AES_CTR`), as MediaPackage v1's DashPackage offers it.
    spec.encryption = match &d.encryption {
        None => Encryption::None,
        Some(e) => Encryption::AesCtr(drm_settings(&cenc(e), "DashPackage.Encryption")?),
    };
    Ok(())
}

fn cenc(e: &DashEncryption) -> shapes::Encryption {
    shapes::Encryption {
        key_rotation_interval_seconds: e.key_rotation_interval_seconds,
        speke_key_provider: e.speke_key_provider.clone(),
        ..Default::default()
    }
}

/// A DASH endpoint's `DashPackage` as MediaPackage answers it (`encryption` in its
/// HLS/CMAF shape).
pub(super) fn answer(spec: &EndpointSpec, encryption: Option<shapes::Encryption>) -> DashPackage {
    let d = spec.dash_settings();
    let secs = |s: u64| Some(s as i64);
    DashPackage {
        ads_on_delivery_restrictions: Some("RESTRICTED".into()),
        encryption: encryption.map(|e| DashEncryption {
            key_rotation_interval_seconds: e.key_rotation_interval_seconds,
            speke_key_provider: e.speke_key_provider,
        }),
        include_iframe_only_stream: Some(false),
        manifest_layout: Some("FULL".into()),
        manifest_window_seconds: secs(spec.manifest_window_seconds),
        min_buffer_time_seconds: secs(d.min_buffer_time_seconds),
        min_update_period_seconds: secs(d.min_update_period_seconds),
        period_triggers: Some(
            d.period_triggers
                .iter()
                .map(|t| match t {
                    PeriodTrigger::Ads => "ADS".to_string(),
                })
                .collect(),
        ),
        profile: Some("NONE".into()),
        segment_template_format: Some(
            match d.segment_template_format {
                SegmentTemplateFormat::NumberWithTimeline => "NUMBER_WITH_TIMELINE",
            }
            .into(),
        ),
        suggested_presentation_delay_seconds: secs(d.suggested_presentation_delay_seconds),
        utc_timing: Some(
            match d.utc_timing {
                UtcTiming::HttpIso => "HTTP-ISO",
                UtcTiming::HttpXsdate => "HTTP-XSDATE",
            }
            .into(),
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::convert::{answer as endpoint_answer, parse, to_spec};
    use super::*;
    use crate::model::DashSettings;

    fn spec_of(body: &str) -> Result<EndpointSpec, AwsError> {
        let req = parse(body.as_bytes())?;
        let mut base = EndpointSpec::new("e");
        base.startover_window_seconds = 0;
        let spec = to_spec(&req, base)?;
        spec.validate("")
            .map_err(|e| super::super::convert::from_origin(e, "DashPackage"))?;
        Ok(spec)
    }

    #[test]
    fn every_offered_field_maps_one_to_one_and_back() {
        let spec = spec_of(
            r#"{"id":"e","dashPackage":{"manifestWindowSeconds":30,"minBufferTimeSeconds":6,
                "minUpdatePeriodSeconds":3,"suggestedPresentationDelaySeconds":12,
                "periodTriggers":["ADS"],"segmentTemplateFormat":"NUMBER_WITH_TIMELINE",
                "utcTiming":"HTTP-XSDATE","manifestLayout":"FULL","profile":"NONE",
                "adsOnDeliveryRestrictions":"RESTRICTED","includeIframeOnlyStream":false}}"#,
        )
        .unwrap();
        assert_eq!(spec.packaging, Packaging::Dash);
        assert_eq!(spec.manifest_window_seconds, 30);
        assert_eq!(
            spec.dash,
            Some(DashSettings {
                min_buffer_time_seconds: 6,
                min_update_period_seconds: 3,
                suggested_presentation_delay_seconds: 12,
                period_triggers: vec![PeriodTrigger::Ads],
                segment_template_format: SegmentTemplateFormat::NumberWithTimeline,
                utc_timing: UtcTiming::HttpXsdate,
            })
        );
        let a = endpoint_answer(&spec, "ch", "arn".into(), "u/index.mpd".into());
        let d = a.dash_package.unwrap();
        assert_eq!(d.manifest_window_seconds, Some(30));
        assert_eq!(d.min_buffer_time_seconds, Some(6));
        assert_eq!(d.min_update_period_seconds, Some(3));
        assert_eq!(d.suggested_presentation_delay_seconds, Some(12));
        assert_eq!(d.period_triggers, Some(vec!["ADS".to_string()]));
        assert_eq!(d.utc_timing.as_deref(), Some("HTTP-XSDATE"));
        assert!(a.hls_package.is_none() && a.cmaf_package.is_none());
        // No trigger list: no ad Periods, as in MediaPackage.
        let spec = spec_of(r#"{"id":"e","dashPackage":{}}"#).unwrap();
        assert!(spec.dash.unwrap().period_triggers.is_empty());
    }

    #[test]
    fn what_the_mpd_does_not_offer_is_refused_by_name() {
        for (body, field) in [
            (
                r#"{"segmentTemplateFormat":"TIME_WITH_TIMELINE"}"#,
                "DashPackage.SegmentTemplateFormat",
            ),
            (
                r#"{"segmentTemplateFormat":"number"}"#,
                "DashPackage.SegmentTemplateFormat",
            ),
            (
                r#"{"periodTriggers":["SCTE"]}"#,
                "DashPackage.PeriodTriggers",
            ),
            (
                r#"{"manifestLayout":"COMPACT"}"#,
                "DashPackage.ManifestLayout",
            ),
            (r#"{"profile":"HBBTV_1_5"}"#, "DashPackage.Profile"),
            (r#"{"utcTiming":"NONE"}"#, "DashPackage.UtcTiming"),
            (
                r#"{"utcTimingUri":"https://time.example"}"#,
                "DashPackage.UtcTimingUri",
            ),
            (
                r#"{"segmentDurationSeconds":6}"#,
                "DashPackage.SegmentDurationSeconds",
            ),
            (
                r#"{"includeIframeOnlyStream":true}"#,
                "DashPackage.IncludeIframeOnlyStream",
            ),
            (
                r#"{"minBufferTimeSeconds":-1}"#,
                "DashPackage.MinBufferTimeSeconds",
            ),
            (
                r#"{"minUpdatePeriodSeconds":0}"#,
                "DashPackage.MinUpdatePeriodSeconds",
            ),
            (
                r#"{"manifestWindowSeconds":0}"#,
                "DashPackage.ManifestWindowSeconds",
            ),
            // Encryption is supported (CENC); a provider without a system id is not.
            (
                r#"{"encryption":{"spekeKeyProvider":{"url":"https://k.example/speke",
                   "resourceId":"r","systemIds":[],"roleArn":"x"}}}"#,
                "DashPackage.Encryption.SpekeKeyProvider",
            ),
        ] {
            let e = spec_of(&format!(r#"{{"id":"e","dashPackage":{body}}}"#)).unwrap_err();
            assert_eq!(e.code, "UnprocessableEntityException", "{body}");
            assert!(e.message.starts_with(&format!("{field}:")), "{body}: {e}");
        }
        let e = spec_of(r#"{"id":"e","manifestName":"live","dashPackage":{}}"#).unwrap_err();
        assert!(e.message.starts_with("ManifestName:"), "{e}");
        let e = spec_of(r#"{"id":"e","hlsPackage":{},"dashPackage":{}}"#).unwrap_err();
        assert!(e.message.starts_with("DashPackage:"), "{e}");
    }
}
