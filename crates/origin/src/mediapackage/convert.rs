//! MediaPackage's endpoint fields onto lineup's [`EndpointSpec`] and back, and lineup's
//! errors as MediaPackage's. Every field the model defines is either mapped or refused by
//! name (422 `UnprocessableEntityException`); nothing is dropped.

use axum::http::StatusCode;
use web::aws_error::AwsError;

use super::shapes::{self, CmafPackage, EndpointRequest, HlsManifest, HlsPackage};
use crate::error::OriginError;
use crate::model::{
    AdMarkers, DrmSettings, Encryption, EncryptionContractConfiguration, EndpointSpec, Packaging,
    SpekeKeyProvider,
};

/// The `SpekeKeyProvider.Url` that selects keys derived from the origin's secret (served by
/// the origin itself), the only key source of `AES_128`.
pub const DERIVED_KEYS_URL: &str = "lineup:derived";

/// AWS's system id for AES-128 (clear key) in SPEKE.
const AES128_SYSTEM_ID: &str = "81376844-f976-481e-a84e-cc25d39b0b33";

/// A 422 `UnprocessableEntityException` naming `field`.
pub fn unprocessable(field: &str, message: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UnprocessableEntityException",
        format!("{field}: {message}"),
    )
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NotFoundException", message)
}

/// Parse a request body (an empty one is `{}`); a field the model does not define, or a
/// value of the wrong type, is a 422 naming it.
pub fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| unprocessable("body", e))
}

/// lineup's error in MediaPackage's terms; field names in `lineup` spelling are given in
/// the model's (`manifest_window_seconds` -> `PlaylistWindowSeconds`) under `package`.
pub fn from_origin(e: OriginError, package: &str) -> AwsError {
    let message = e.to_string();
    match e {
        OriginError::BadField { field, .. } => unprocessable(&aws_field(&field, package), message),
        OriginError::NotFound { .. } => not_found(message),
        OriginError::Conflict(_) => AwsError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UnprocessableEntityException",
            message,
        ),
        OriginError::Store(_) | OriginError::KeysUnavailable(_) => AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            message,
        ),
        _ => AwsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
            message,
        ),
    }
}

/// `encryption.sample_aes.key_rotation_interval_seconds` -> `<package>.Encryption.KeyRotationIntervalSeconds`.
fn aws_field(field: &str, package: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for part in field.split('.') {
        let name = match part {
            "sample_aes" | "aes_ctr" | "aes128" => continue,
            "dash" => package.to_string(),
            "manifest_window_seconds" if package == "DashPackage" => {
                "DashPackage.ManifestWindowSeconds".into()
            }
            "manifest_window_seconds" => format!("{package}.PlaylistWindowSeconds"),
            "i_frames" => format!("{package}.IncludeIframeOnlyStream"),
            "ad_markers" => format!("{package}.AdMarkers"),
            "program_date_time_interval_seconds" => {
                format!("{package}.ProgramDateTimeIntervalSeconds")
            }
            "encryption" if out.is_empty() => format!("{package}.Encryption"),
            "key_rotation_seconds" => "KeyRotationIntervalSeconds".into(),
            "url" => "Url".into(),
            other => other
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect(),
        };
        out.push(name);
    }
    out.join(".")
}

pub(super) fn seconds(v: Option<i64>, field: &str) -> Result<Option<u64>, AwsError> {
    v.map(|s| u64::try_from(s).map_err(|_| unprocessable(field, "must not be negative")))
        .transpose()
}

pub(super) fn refuse_if<T>(v: &Option<T>, field: &str, why: &str) -> Result<(), AwsError> {
    match v {
        Some(_) => Err(unprocessable(field, why)),
        None => Ok(()),
    }
}

/// The settings an endpoint gets from a `Create`/`UpdateOriginEndpoint` body, over `base`
/// (a new endpoint's defaults, or the endpoint as it is for an update: the fields the body
/// leaves out keep their values; a package given replaces the package).
pub fn to_spec(req: &EndpointRequest, mut spec: EndpointSpec) -> Result<EndpointSpec, AwsError> {
    refuse_if(
        &req.mss_package,
        "MssPackage",
        "Microsoft Smooth Streaming is not offered",
    )?;
    refuse_if(
        &req.authorization,
        "Authorization",
        "CDN authorization through Secrets Manager is not offered",
    )?;
    if req.whitelist.as_ref().is_some_and(|w| !w.is_empty()) {
        return Err(unprocessable(
            "Whitelist",
            "IP allow lists are not offered: playback endpoints are public",
        ));
    }
    match req.origination.as_deref() {
        None | Some("ALLOW") => {}
        Some(other) => {
            return Err(unprocessable(
                "Origination",
                format!("only ALLOW is offered, not {other:?}"),
            ));
        }
    }
    let packages = [
        req.hls_package.is_some(),
        req.cmaf_package.is_some(),
        req.dash_package.is_some(),
    ];
    if packages.iter().filter(|p| **p).count() > 1 {
        let second = if req.dash_package.is_some() {
            "DashPackage"
        } else {
            "CmafPackage"
        };
        return Err(unprocessable(
            second,
            "give one package per endpoint: HlsPackage, CmafPackage or DashPackage",
        ));
    }
    if let Some(d) = &req.description {
        spec.description = Some(d.clone());
    }
    if let Some(s) = seconds(req.startover_window_seconds, "StartoverWindowSeconds")? {
        spec.startover_window_seconds = s;
    }
    if let Some(s) = seconds(req.time_delay_seconds, "TimeDelaySeconds")? {
        spec.time_delay_seconds = s;
    }
    if let Some(n) = &req.manifest_name {
        spec.manifest_name = Some(n.clone());
    }
    if let Some(hls) = &req.hls_package {
        apply_hls(hls, &mut spec)?;
    }
    if let Some(cmaf) = &req.cmaf_package {
        apply_cmaf(cmaf, &mut spec, req.manifest_name.as_deref())?;
    }
    if let Some(dash) = &req.dash_package {
        super::dash::apply(dash, &mut spec)?;
    } else if spec.packaging == Packaging::Dash && req.manifest_name.is_some() {
        super::dash::check_manifest_name(&spec)?;
    }
    Ok(spec)
}

/// The playlist settings HLS packages and CMAF's HLS manifests share.
struct PlaylistFields<'a> {
    ad_markers: &'a Option<String>,
    ad_triggers: &'a Option<Vec<String>>,
    ads_on_delivery_restrictions: &'a Option<String>,
    include_iframe_only_stream: Option<bool>,
    playlist_type: &'a Option<String>,
    playlist_window_seconds: Option<i64>,
    program_date_time_interval_seconds: Option<i64>,
}

fn apply_playlist(
    p: PlaylistFields<'_>,
    at: &str,
    spec: &mut EndpointSpec,
) -> Result<(), AwsError> {
    spec.ad_markers = match p.ad_markers.as_deref() {
        None | Some("NONE") => AdMarkers::None,
        Some("PASSTHROUGH") => AdMarkers::Passthrough,
        Some("SCTE35_ENHANCED") => AdMarkers::Scte35Enhanced,
        Some("DATERANGE") => AdMarkers::Daterange,
        Some(other) => {
            return Err(unprocessable(
                &format!("{at}.AdMarkers"),
                format!("{other:?} is not one of NONE, PASSTHROUGH, SCTE35_ENHANCED, DATERANGE"),
            ));
        }
    };
    refuse_if(
        p.ad_triggers,
        &format!("{at}.AdTriggers"),
        "choosing SCTE-35 message types is not offered: every splice marks an ad break",
    )?;
    if p.ads_on_delivery_restrictions
        .as_deref()
        .is_some_and(|r| r != "RESTRICTED")
    {
        return Err(unprocessable(
            &format!("{at}.AdsOnDeliveryRestrictions"),
            "only RESTRICTED (the default) is offered",
        ));
    }
    match p.playlist_type.as_deref() {
        None | Some("NONE") => {}
        Some(other) => {
            return Err(unprocessable(
                &format!("{at}.PlaylistType"),
                format!(
                    "only NONE is offered for the live playlist, not {other:?} (start-over \
                     and time-shift playlists are EVENT and VOD through ?start= and &end=)"
                ),
            ));
        }
    }
    spec.i_frames = p.include_iframe_only_stream.unwrap_or(false);
    if let Some(w) = seconds(
        p.playlist_window_seconds,
        &format!("{at}.PlaylistWindowSeconds"),
    )? {
        spec.manifest_window_seconds = w;
    }
    spec.program_date_time_interval_seconds = match p.program_date_time_interval_seconds {
        None => None,
        Some(0) => {
            return Err(unprocessable(
                &format!("{at}.ProgramDateTimeIntervalSeconds"),
                "0 (no EXT-X-PROGRAM-DATE-TIME) is not offered: start-over and time-shift \
                 need the tag; leave it out for one on every segment",
            ));
        }
        Some(s) => seconds(Some(s), &format!("{at}.ProgramDateTimeIntervalSeconds"))?,
    };
    Ok(())
}

pub(super) fn refuse_stream_selection(
    s: &Option<shapes::StreamSelection>,
    at: &str,
) -> Result<(), AwsError> {
    if let Some(s) = s
        && (s.max_video_bits_per_second.is_some()
            || s.min_video_bits_per_second.is_some()
            || s.stream_order.as_deref().is_some_and(|o| o != "ORIGINAL"))
    {
        return Err(unprocessable(
            &format!("{at}.StreamSelection"),
            "only StreamOrder ORIGINAL is offered: every ingested variant is served",
        ));
    }
    Ok(())
}

pub(super) const SEGMENT_DURATION: &str = "segments are served as ingested (set their duration at the encoder); resegmenting is not offered";

fn apply_hls(hls: &HlsPackage, spec: &mut EndpointSpec) -> Result<(), AwsError> {
    let at = "HlsPackage";
    refuse_if(
        &hls.segment_duration_seconds,
        "HlsPackage.SegmentDurationSeconds",
        SEGMENT_DURATION,
    )?;
    if hls.include_dvb_subtitles == Some(true) {
        return Err(unprocessable(
            "HlsPackage.IncludeDvbSubtitles",
            "DVB subtitles are not offered",
        ));
    }
    if hls.use_audio_rendition_group == Some(true) {
        return Err(unprocessable(
            "HlsPackage.UseAudioRenditionGroup",
            "audio rendition groups are not offered: variants are served as ingested",
        ));
    }
    refuse_stream_selection(&hls.stream_selection, at)?;
    spec.packaging = Packaging::Ts;
    apply_playlist(
        PlaylistFields {
            ad_markers: &hls.ad_markers,
            ad_triggers: &hls.ad_triggers,
            ads_on_delivery_restrictions: &hls.ads_on_delivery_restrictions,
            include_iframe_only_stream: hls.include_iframe_only_stream,
            playlist_type: &hls.playlist_type,
            playlist_window_seconds: hls.playlist_window_seconds,
            program_date_time_interval_seconds: hls.program_date_time_interval_seconds,
        },
        at,
        spec,
    )?;
    spec.encryption = match &hls.encryption {
        None => Encryption::None,
        Some(e) => hls_encryption(e)?,
    };
    Ok(())
}

fn hls_encryption(e: &shapes::Encryption) -> Result<Encryption, AwsError> {
    let at = "HlsPackage.Encryption";
    if e.repeat_ext_x_key == Some(true) {
        return Err(unprocessable(
            &format!("{at}.RepeatExtXKey"),
            "EXT-X-KEY is written where the key changes, not on every segment",
        ));
    }
    match e.encryption_method.as_deref() {
        None | Some("AES_128") => {
            if e.speke_key_provider.url != DERIVED_KEYS_URL {
                return Err(unprocessable(
                    &format!("{at}.SpekeKeyProvider.Url"),
                    format!(
                        "AES_128 keys come from the origin itself (token-guarded /keys \
                         URIs): use Url {DERIVED_KEYS_URL:?}; SAMPLE_AES takes a SPEKE provider"
                    ),
                ));
            }
            if e.constant_initialization_vector.is_some() {
                return Err(unprocessable(
                    &format!("{at}.ConstantInitializationVector"),
                    "AES_128 uses the media sequence number as IV",
                ));
            }
            let secs = seconds(
                e.key_rotation_interval_seconds,
                &format!("{at}.KeyRotationIntervalSeconds"),
            )?;
            Ok(Encryption::Aes128 {
                key_rotation_seconds: secs.unwrap_or(60),
            })
        }
        Some("SAMPLE_AES") => Ok(Encryption::SampleAes(drm_settings(e, at)?)),
        Some(other) => Err(unprocessable(
            &format!("{at}.EncryptionMethod"),
            format!("{other:?} is not one of AES_128, SAMPLE_AES"),
        )),
    }
}

pub(super) fn drm_settings(e: &shapes::Encryption, at: &str) -> Result<DrmSettings, AwsError> {
    let p = &e.speke_key_provider;
    refuse_if(
        &p.certificate_arn,
        &format!("{at}.SpekeKeyProvider.CertificateArn"),
        "encrypted key exchange with a certificate is not offered",
    )?;
    let provider = (p.url != DERIVED_KEYS_URL).then(|| SpekeKeyProvider {
        url: p.url.clone(),
        resource_id: p.resource_id.clone(),
        system_ids: p.system_ids.clone(),
        encryption_contract_configuration: p.encryption_contract_configuration.as_ref().map(|c| {
            EncryptionContractConfiguration {
                preset_speke20_video: c.preset_speke20_video.clone(),
                preset_speke20_audio: c.preset_speke20_audio.clone(),
            }
        }),
        // MediaPackage signs with an IAM role (RoleArn); no credential header.
        credential: None,
    });
    Ok(DrmSettings {
        key_rotation_interval_seconds: seconds(
            e.key_rotation_interval_seconds,
            &format!("{at}.KeyRotationIntervalSeconds"),
        )?
        .unwrap_or(0),
        constant_initialization_vector: e.constant_initialization_vector.clone(),
        speke_key_provider: provider,
    })
}

fn apply_cmaf(
    cmaf: &CmafPackage,
    spec: &mut EndpointSpec,
    top_name: Option<&str>,
) -> Result<(), AwsError> {
    let at = "CmafPackage";
    refuse_if(
        &cmaf.segment_duration_seconds,
        "CmafPackage.SegmentDurationSeconds",
        SEGMENT_DURATION,
    )?;
    refuse_if(
        &cmaf.segment_prefix,
        "CmafPackage.SegmentPrefix",
        "segment names are the origin's own (<variant>/<sequence>.m4s)",
    )?;
    refuse_stream_selection(&cmaf.stream_selection, at)?;
    spec.packaging = Packaging::Cmaf;
    let manifests = cmaf.hls_manifests.as_deref().unwrap_or(&[]);
    let m = match manifests {
        [] => HlsManifest {
            id: spec.id.clone(),
            ..Default::default()
        },
        [m] => m.clone(),
        _ => {
            return Err(unprocessable(
                "CmafPackage.HlsManifests",
                "one HLS manifest per endpoint is offered",
            ));
        }
    };
    let at = "CmafPackage.HlsManifests[0]";
    if m.id != spec.id {
        return Err(unprocessable(
            &format!("{at}.Id"),
            format!(
                "the endpoint's one manifest takes the endpoint's Id {:?}",
                spec.id
            ),
        ));
    }
    if let Some(name) = &m.manifest_name {
        if top_name.is_some_and(|t| t != name) {
            return Err(unprocessable(
                &format!("{at}.ManifestName"),
                "differs from ManifestName",
            ));
        }
        spec.manifest_name = Some(name.clone());
    }
    apply_playlist(
        PlaylistFields {
            ad_markers: &m.ad_markers,
            ad_triggers: &m.ad_triggers,
            ads_on_delivery_restrictions: &m.ads_on_delivery_restrictions,
            include_iframe_only_stream: m.include_iframe_only_stream,
            playlist_type: &m.playlist_type,
            playlist_window_seconds: m.playlist_window_seconds,
            program_date_time_interval_seconds: m.program_date_time_interval_seconds,
        },
        at,
        spec,
    )?;
    let at = "CmafPackage.Encryption";
    spec.encryption = match &cmaf.encryption {
        None => Encryption::None,
        Some(e) => match e.encryption_method.as_deref() {
            None | Some("SAMPLE_AES") => Encryption::SampleAes(drm_settings(e, at)?),
            Some("AES_CTR") => Encryption::AesCtr(drm_settings(e, at)?),
            Some(other) => {
                return Err(unprocessable(
                    &format!("{at}.EncryptionMethod"),
                    format!("{other:?} is not one of SAMPLE_AES, AES_CTR"),
                ));
            }
        },
    };
    Ok(())
}

fn ad_markers(m: AdMarkers) -> String {
    match m {
        AdMarkers::None => "NONE",
        AdMarkers::Passthrough => "PASSTHROUGH",
        AdMarkers::Scte35Enhanced => "SCTE35_ENHANCED",
        AdMarkers::Daterange => "DATERANGE",
    }
    .into()
}

pub(super) fn encryption_answer(
    e: &Encryption,
    channel: &str,
    endpoint: &str,
) -> Option<shapes::Encryption> {
    let derived = |system: Vec<String>| shapes::SpekeKeyProvider {
        url: DERIVED_KEYS_URL.into(),
        resource_id: format!("{channel}/{endpoint}"),
        system_ids: system,
        ..Default::default()
    };
    let drm = |method: &str, d: &DrmSettings| shapes::Encryption {
        constant_initialization_vector: d.constant_initialization_vector.clone(),
        encryption_method: Some(method.into()),
        key_rotation_interval_seconds: Some(d.key_rotation_interval_seconds as i64),
        repeat_ext_x_key: None,
        speke_key_provider: match &d.speke_key_provider {
            None => derived(Vec::new()),
            Some(p) => shapes::SpekeKeyProvider {
                url: p.url.clone(),
                resource_id: p.resource_id.clone(),
                system_ids: p.system_ids.clone(),
                role_arn: String::new(),
                certificate_arn: None,
                encryption_contract_configuration: p
                    .encryption_contract_configuration
                    .as_ref()
                    .map(|c| shapes::EncryptionContract {
                        preset_speke20_audio: c.preset_speke20_audio.clone(),
                        preset_speke20_video: c.preset_speke20_video.clone(),
                    }),
            },
        },
    };
    match e {
        Encryption::None => None,
        Encryption::Aes128 {
            key_rotation_seconds,
        } => Some(shapes::Encryption {
            encryption_method: Some("AES_128".into()),
            key_rotation_interval_seconds: Some(*key_rotation_seconds as i64),
            speke_key_provider: derived(vec![AES128_SYSTEM_ID.into()]),
            ..Default::default()
        }),
        Encryption::SampleAes(d) => Some(drm("SAMPLE_AES", d)),
        Encryption::AesCtr(d) => Some(drm("AES_CTR", d)),
    }
}

/// An endpoint as MediaPackage answers it.
pub fn answer(
    spec: &EndpointSpec,
    channel: &str,
    arn: String,
    url: String,
) -> shapes::OriginEndpoint {
    let window = Some(spec.manifest_window_seconds as i64);
    let pdt = spec.program_date_time_interval_seconds.map(|s| s as i64);
    let encryption = encryption_answer(&spec.encryption, channel, &spec.id);
    let (hls_package, cmaf_package, dash_package) = match spec.packaging {
        Packaging::Ts => (
            Some(HlsPackage {
                ad_markers: Some(ad_markers(spec.ad_markers)),
                encryption,
                include_iframe_only_stream: Some(spec.i_frames),
                playlist_type: Some("NONE".into()),
                playlist_window_seconds: window,
                program_date_time_interval_seconds: pdt,
                ..Default::default()
            }),
            None,
            None,
        ),
        Packaging::Cmaf => (
            None,
            Some(CmafPackage {
                encryption,
                hls_manifests: Some(vec![HlsManifest {
                    id: spec.id.clone(),
                    ad_markers: Some(ad_markers(spec.ad_markers)),
                    include_iframe_only_stream: Some(spec.i_frames),
                    manifest_name: Some(spec.manifest_name().into()),
                    playlist_type: Some("NONE".into()),
                    playlist_window_seconds: window,
                    program_date_time_interval_seconds: pdt,
                    url: Some(url.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            None,
        ),
        Packaging::Dash => (None, None, Some(super::dash::answer(spec, encryption))),
    };
    shapes::OriginEndpoint {
        arn,
        id: spec.id.clone(),
        channel_id: channel.into(),
        description: spec.description.clone(),
        hls_package,
        cmaf_package,
        dash_package,
        manifest_name: spec.manifest_name().into(),
        startover_window_seconds: spec.startover_window_seconds,
        time_delay_seconds: spec.time_delay_seconds,
        origination: "ALLOW".into(),
        whitelist: Vec::new(),
        tags: spec.tags.clone(),
        url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineup_fields_get_the_model_names() {
        assert_eq!(
            aws_field("manifest_window_seconds", "HlsPackage"),
            "HlsPackage.PlaylistWindowSeconds"
        );
        assert_eq!(
            aws_field(
                "encryption.sample_aes.key_rotation_interval_seconds",
                "HlsPackage"
            ),
            "HlsPackage.Encryption.KeyRotationIntervalSeconds"
        );
        assert_eq!(
            aws_field("encryption.aes_ctr.speke_key_provider.url", "CmafPackage"),
            "CmafPackage.Encryption.SpekeKeyProvider.Url"
        );
        assert_eq!(
            aws_field("startover_window_seconds", "HlsPackage"),
            "StartoverWindowSeconds"
        );
        assert_eq!(aws_field("manifest_name", "HlsPackage"), "ManifestName");
    }

    #[test]
    fn unknown_and_unoffered_fields_are_named() {
        let e = parse::<EndpointRequest>(br#"{"id":"e","frobnicate":1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("frobnicate"), "{e}");
        let req: EndpointRequest =
            parse(br#"{"id":"e","hlsPackage":{"segmentDurationSeconds":6}}"#).unwrap();
        let e = to_spec(&req, EndpointSpec::new("e")).unwrap_err();
        assert!(
            e.message.starts_with("HlsPackage.SegmentDurationSeconds:"),
            "{e}"
        );
        let req: EndpointRequest = parse(br#"{"id":"e","mssPackage":{}}"#).unwrap();
        let e = to_spec(&req, EndpointSpec::new("e")).unwrap_err();
        assert_eq!(e.code, "UnprocessableEntityException");
        assert!(e.message.starts_with("MssPackage:"), "{e}");
    }

    #[test]
    fn hls_fields_map_both_ways() {
        let req: EndpointRequest = parse(
            br#"{"id":"e","startoverWindowSeconds":300,"timeDelaySeconds":5,"manifestName":"live",
                "hlsPackage":{"adMarkers":"DATERANGE","includeIframeOnlyStream":true,
                "playlistWindowSeconds":20,"programDateTimeIntervalSeconds":10,
                "encryption":{"encryptionMethod":"AES_128","keyRotationIntervalSeconds":30,
                "spekeKeyProvider":{"url":"lineup:derived","resourceId":"r","systemIds":[],"roleArn":"x"}}}}"#,
        )
        .unwrap();
        let spec = to_spec(&req, EndpointSpec::new("e")).unwrap();
        assert_eq!(spec.startover_window_seconds, 300);
        assert_eq!(spec.time_delay_seconds, 5);
        assert_eq!(spec.manifest_window_seconds, 20);
        assert_eq!(spec.ad_markers, AdMarkers::Daterange);
        assert!(spec.i_frames);
        assert_eq!(spec.program_date_time_interval_seconds, Some(10));
        assert_eq!(
            spec.encryption,
            Encryption::Aes128 {
                key_rotation_seconds: 30
            }
        );
        let a = answer(&spec, "ch", "arn".into(), "u".into());
        let hls = a.hls_package.unwrap();
        assert_eq!(hls.playlist_window_seconds, Some(20));
        assert_eq!(hls.ad_markers.as_deref(), Some("DATERANGE"));
        assert_eq!(a.manifest_name, "live");
    }
}
