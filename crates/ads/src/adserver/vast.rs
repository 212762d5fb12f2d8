//! VAST and VMAP documents, written with `vast4-rs` (VMAP by hand: the crate has none).

use std::borrow::Cow;

use vast4_rs as v;

use super::catalog::Creative;

/// The tracking URL for one event (`progress` = `vast` | `0` | `25` | `50` | `75` | `100`
/// | `e`), Eyevinn's shape.
pub fn tracking_url(base: &str, session: &str, ad_id: &str, progress: &str, vast4: bool) -> String {
    let key = if vast4 { "adId" } else { "adID" };
    format!("{base}/api/v1/sessions/{session}/tracking?{key}={ad_id}&progress={progress}")
}

/// The VAST document for `ads`, version `2`, `3` or `4` (default).
pub fn build(version: &str, base: &str, session: &str, ads: &[&Creative]) -> String {
    let v4 = !matches!(version, "2" | "3");
    let version_attr = match version {
        "2" => "2.0",
        "3" => "3.0",
        _ => "4.0",
    };
    let mut doc = v::Vast {
        version: version_attr.into(),
        ..Default::default()
    };
    for (i, c) in ads.iter().enumerate() {
        let n = i + 1;
        let ad_id = format!("{}_{n}", c.id);
        let t = |p: &str| Cow::Owned(tracking_url(base, session, &ad_id, p, v4));
        let tracking = |event: v::TrackingEvent, p: &str| v::Tracking {
            event,
            offset: None,
            uri: t(p),
        };
        let linear = v::Linear {
            duration: Some(v::Duration::from(std::time::Duration::from_millis(
                (c.duration * 1000.0).round() as u64,
            ))),
            tracking_events: Some(v::TrackingEvents {
                trackings: vec![
                    tracking(v::TrackingEvent::Start, "0"),
                    tracking(v::TrackingEvent::FirstQuartile, "25"),
                    tracking(v::TrackingEvent::MidPoint, "50"),
                    tracking(v::TrackingEvent::ThirdQuartile, "75"),
                    tracking(v::TrackingEvent::Complete, "100"),
                ],
            }),
            video_clicks: Some(v::VideoClicks {
                click_through: Some(v::ClickThrough {
                    id: Some("lineup".into()),
                    uri: "https://github.com/Eyevinn/test-adserver".into(),
                }),
                ..Default::default()
            }),
            media_files: Some(v::MediaFiles {
                media_files: vec![v::MediaFile {
                    id: Some(Cow::Owned(format!("{}-hls", c.id))),
                    delivery: v::DeliveryProtocol::Streaming,
                    mime_type: "application/x-mpegURL".into(),
                    width: c.width as i32,
                    height: c.height as i32,
                    codec: (version != "2").then(|| "H.264".into()),
                    min_bitrate: Some(c.bitrate as i32),
                    max_bitrate: Some(c.bitrate as i32),
                    uri: Cow::Borrowed(c.url.as_str()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let creative = v::Creative {
            id: Some(Cow::Owned(format!("CREATIVE-ID_{n:03}"))),
            ad_id: Some(Cow::Owned(c.id.clone())),
            sequence: Some(n as i32),
            universal_ad_id: if v4 {
                vec![v::UniversalAdId {
                    id_registry: "test-ad-id.eyevinn".into(),
                    id: Cow::Owned(format!("{}{n}", c.universal_id.as_deref().unwrap_or(&c.id))),
                }]
            } else {
                Vec::new()
            },
            linear: Some(linear),
            ..Default::default()
        };
        let in_line = v::InLine {
            ad_system: v::AdSystem {
                version: Some("1.0".into()),
                name: "Test Adserver".into(),
            },
            errors: vec![t("e")],
            impressions: vec![v::Impression {
                id: Some(Cow::Owned(format!("IMPRESSION-ID_{n:03}"))),
                uri: t("vast"),
            }],
            ad_serving_id: Cow::Owned(format!("{session}-{n}")),
            ad_title: Cow::Owned(format!("Ad That Test-Adserver Wants Player To See #{n}")),
            creatives: v::Creatives {
                creatives: vec![creative],
            },
            ..Default::default()
        };
        doc.ads.push(v::Ad {
            id: Some(Cow::Owned(format!("POD_AD-ID_{n:03}"))),
            sequence: (version != "2").then_some(n as i32),
            in_line: Some(in_line),
            ..Default::default()
        });
    }
    let body = v::to_string(&doc).unwrap_or_else(|_| format!("<VAST version=\"{version_attr}\"/>"));
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}")
}

/// A VMAP 1.0 document: one `AdBreak` per (id, timeOffset, VAST).
pub fn vmap(base: &str, session: &str, breaks: &[(String, String, String)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vmap:VMAP xmlns:vmap=\"http://www.iab.net/videoadvertising\" version=\"1.0\">",
    );
    for (i, (id, offset, vast)) in breaks.iter().enumerate() {
        let vast = vast
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .unwrap_or(vast);
        let track = format!("{base}/api/v1/sessions/{session}/tracking?adId={id}&progress=vmap");
        s.push_str(&format!(
            "<vmap:AdBreak breakId=\"{id}\" breakType=\"linear\" timeOffset=\"{offset}\">\
             <vmap:AdSource allowMultipleAds=\"true\" followRedirects=\"true\" id=\"{}\">\
             <vmap:VASTAdData>{vast}</vmap:VASTAdData></vmap:AdSource>\
             <vmap:TrackingEvents><vmap:Tracking event=\"breakStart\"><![CDATA[{track}]]></vmap:Tracking></vmap:TrackingEvents>\
             </vmap:AdBreak>",
            i + 1
        ));
    }
    s.push_str("</vmap:VMAP>");
    s
}

/// `HH:MM:SS.mmm` for a VMAP time offset.
pub fn time_offset(secs: f64) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
