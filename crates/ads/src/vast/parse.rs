//! One VAST document (2.0, 3.0 or 4.x) read with `vast4-rs` into [`Document`]: its inline
//! linear ads and its wrappers, not yet followed.

use super::{LinearAd, MediaFile};
use crate::error::{AdsError, Result};

/// A wrapper `<Ad>`: where its ad is, and what it adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrapperAd {
    pub id: Option<String>,
    pub sequence: Option<u32>,
    /// `VASTAdTagURI`.
    pub tag_uri: String,
    /// (event, URL): `impression`, `error`, and the linear tracking events of its
    /// creatives.
    pub beacons: Vec<(String, String)>,
    /// `followAdditionalWrappers` (default true).
    pub follow_additional: bool,
    /// `allowMultipleAds` (default true before VAST 4, false from VAST 4 on).
    pub allow_multiple: bool,
}

/// One `<Ad>` of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An inline ad: its linear creatives (none when it has only non-linear or companion
    /// creatives, which SSAI cannot play).
    InLine {
        sequence: Option<u32>,
        ads: Vec<LinearAd>,
    },
    Wrapper(WrapperAd),
}

/// A parsed VAST answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The `version` attribute (`2.0`, `3.0`, `4.2`).
    pub version: String,
    pub ads: Vec<Node>,
    /// Top-level `<Error>` URLs (an empty answer's way to say "no ad").
    pub errors: Vec<String>,
}

fn seconds(d: &Option<vast4_rs::Duration>) -> f64 {
    d.as_ref()
        .map(|d| std::time::Duration::from(d.clone()).as_secs_f64())
        .unwrap_or(0.0)
}

/// Tracking event names as the proxy fires them (`midPoint` -> `midpoint`).
fn event_name(e: &vast4_rs::TrackingEvent) -> String {
    match e.to_string().as_str() {
        "midPoint" => "midpoint".to_string(),
        other => other.to_string(),
    }
}

fn tracking(linear: &vast4_rs::Linear<'_>) -> Vec<(String, String)> {
    linear
        .tracking_events
        .iter()
        .flat_map(|t| t.trackings.iter())
        .filter(|t| !t.uri.trim().is_empty())
        .map(|t| (event_name(&t.event), t.uri.trim().to_string()))
        .collect()
}

fn positive(n: Option<i32>) -> Option<u32> {
    n.filter(|n| *n > 0).map(|n| n as u32)
}

fn media_files(linear: &vast4_rs::Linear<'_>) -> Vec<MediaFile> {
    let Some(files) = &linear.media_files else {
        return Vec::new();
    };
    let delivery = |d: &vast4_rs::DeliveryProtocol| match d {
        vast4_rs::DeliveryProtocol::Streaming => "streaming".to_string(),
        _ => "progressive".to_string(),
    };
    let mut out: Vec<MediaFile> = files
        .media_files
        .iter()
        .filter(|f| !f.uri.trim().is_empty())
        .map(|f| MediaFile {
            url: f.uri.trim().to_string(),
            mime: f.mime_type.trim().to_string(),
            delivery: delivery(&f.delivery),
            width: f.width.max(0) as u32,
            height: f.height.max(0) as u32,
            bitrate: positive(f.bitrate).or(positive(f.max_bitrate)),
            codec: f.codec.as_ref().map(|c| c.to_string()),
            #[allow(deprecated)]
            api_framework: f
                .api_framework
                .as_ref()
                .map(|a| a.to_string())
                .filter(|a| !a.is_empty()),
            mezzanine: false,
        })
        .collect();
    out.extend(
        files
            .mezzanines
            .iter()
            .filter(|m| !m.uri.trim().is_empty())
            .map(|m| MediaFile {
                url: m.uri.trim().to_string(),
                mime: m.mime_type.trim().to_string(),
                delivery: delivery(&m.delivery),
                width: m.width.max(0) as u32,
                height: m.height.max(0) as u32,
                bitrate: None,
                codec: m.codec.as_ref().map(|c| c.to_string()),
                api_framework: None,
                mezzanine: true,
            }),
    );
    out
}

/// Reads one VAST document. The XML declaration, a byte-order mark and VAST 2/3's
/// `AdID` spelling of `adId` are accepted.
pub fn parse_document(xml: &str) -> Result<Document> {
    let xml = xml.trim_start_matches('\u{feff}').trim();
    let body = match xml.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, b)| b.trim()).unwrap_or(""),
        None => xml,
    };
    // VAST 2 and 3 name the creative's ad id `AdID`, VAST 4 `adId` (which vast4-rs reads).
    let body = body.replace(" AdID=\"", " adId=\"");
    let doc: vast4_rs::Vast =
        vast4_rs::from_str(&body).map_err(|e| AdsError::Vast(format!("{e:?}")))?;
    let version = doc.version.trim().to_string();
    let v4 = version.starts_with('4');
    let mut out = Document {
        version: version.clone(),
        errors: doc
            .errors
            .iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        ads: Vec::new(),
    };
    for ad in &doc.ads {
        let sequence = positive(ad.sequence);
        if let Some(w) = &ad.wrapper {
            let mut beacons: Vec<(String, String)> = w
                .impressions
                .iter()
                .filter(|i| !i.uri.trim().is_empty() && i.uri.trim() != "about:blank")
                .map(|i| ("impression".to_string(), i.uri.trim().to_string()))
                .collect();
            beacons.extend(
                w.errors
                    .iter()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| ("error".to_string(), e.trim().to_string())),
            );
            for c in w.creatives.iter().flat_map(|c| c.creatives.iter()) {
                if let Some(l) = &c.linear {
                    beacons.extend(tracking(l));
                }
            }
            out.ads.push(Node::Wrapper(WrapperAd {
                id: ad.id.as_ref().map(|s| s.to_string()),
                sequence,
                tag_uri: w.vast_ad_tag_uri.trim().to_string(),
                beacons,
                follow_additional: w.follow_additional_wrappers.unwrap_or(true),
                allow_multiple: w.allow_multiple_ads.unwrap_or(!v4),
            }));
            continue;
        }
        let Some(inline) = &ad.in_line else {
            continue;
        };
        let mut common: Vec<(String, String)> = inline
            .impressions
            .iter()
            .filter(|i| !i.uri.trim().is_empty() && i.uri.trim() != "about:blank")
            .map(|i| ("impression".to_string(), i.uri.trim().to_string()))
            .collect();
        common.extend(
            inline
                .errors
                .iter()
                .filter(|e| !e.trim().is_empty())
                .map(|e| ("error".to_string(), e.trim().to_string())),
        );
        let mut ads = Vec::new();
        for creative in &inline.creatives.creatives {
            let Some(linear) = &creative.linear else {
                continue;
            };
            let mut beacons = common.clone();
            beacons.extend(tracking(linear));
            let ad_id = creative
                .ad_id
                .as_deref()
                .or(ad.id.as_deref())
                .or(creative.id.as_deref())
                .unwrap_or("ad")
                .to_string();
            ads.push(LinearAd {
                ad_id,
                sequence,
                duration: seconds(&linear.duration),
                media_files: media_files(linear),
                beacons,
                wrapper_depth: 0,
                version: version.clone(),
            });
        }
        out.ads.push(Node::InLine { sequence, ads });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VAST 2.0 the way ad servers of that era write it (after the IAB's samples): no
    /// sequence, `AdID`, an impression without id, creativeView tracking, extensions.
    const VAST2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<VAST version="2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Ad id="602833">
    <InLine>
      <AdSystem>Acudeo Compatible</AdSystem>
      <AdTitle>VAST 2.0 Instream Test 1</AdTitle>
      <Description>VAST 2.0 Instream Test 1</Description>
      <Error>http://myErrorURL/error?code=[ERRORCODE]</Error>
      <Impression>http://myTrackingURL/impression</Impression>
      <Creatives>
        <Creative AdID="602833">
          <Linear>
            <Duration>00:00:30</Duration>
            <TrackingEvents>
              <Tracking event="creativeView">http://myTrackingURL/creativeView</Tracking>
              <Tracking event="start">http://myTrackingURL/start</Tracking>
              <Tracking event="midpoint">http://myTrackingURL/midpoint</Tracking>
              <Tracking event="firstQuartile">http://myTrackingURL/firstQuartile</Tracking>
              <Tracking event="thirdQuartile">http://myTrackingURL/thirdQuartile</Tracking>
              <Tracking event="complete">http://myTrackingURL/complete</Tracking>
            </TrackingEvents>
            <VideoClicks>
              <ClickThrough>http://www.tremormedia.com</ClickThrough>
            </VideoClicks>
            <MediaFiles>
              <MediaFile delivery="progressive" type="video/x-flv" bitrate="500" width="400" height="300" scalable="true" maintainAspectRatio="true">http://cdnp.tremormedia.com/video/acudeo/Carrot_400x300_500kb.flv</MediaFile>
              <MediaFile delivery="progressive" type="video/mp4" bitrate="1500" width="1280" height="720">http://cdn.example.com/ad-720p.mp4</MediaFile>
            </MediaFiles>
          </Linear>
        </Creative>
        <Creative AdID="602833-companion">
          <CompanionAds>
            <Companion width="300" height="250">
              <StaticResource creativeType="image/jpeg">http://demo.tremormedia.com/proddev/vast/300x250_banner1.jpg</StaticResource>
            </Companion>
          </CompanionAds>
        </Creative>
      </Creatives>
    </InLine>
  </Ad>
</VAST>"#;

    const VAST3_WRAPPER: &str = r#"<VAST version="3.0">
  <Ad id="w1" sequence="2">
    <Wrapper>
      <AdSystem version="1">Wrapping ADS</AdSystem>
      <VASTAdTagURI><![CDATA[http://ads.example.com/next?x=1]]></VASTAdTagURI>
      <Error><![CDATA[http://w.example.com/error?e=[ERRORCODE]]]></Error>
      <Impression><![CDATA[http://w.example.com/imp]]></Impression>
      <Impression><![CDATA[about:blank]]></Impression>
      <Creatives>
        <Creative>
          <Linear>
            <TrackingEvents>
              <Tracking event="firstQuartile"><![CDATA[http://w.example.com/q1]]></Tracking>
            </TrackingEvents>
          </Linear>
        </Creative>
      </Creatives>
    </Wrapper>
  </Ad>
</VAST>"#;

    #[test]
    fn vast2_inline_with_adid_and_companions() {
        let d = parse_document(VAST2).unwrap();
        assert_eq!(d.version, "2.0");
        let Node::InLine { sequence, ads } = &d.ads[0] else {
            panic!("{d:?}")
        };
        assert_eq!(*sequence, None);
        assert_eq!(ads.len(), 1, "the companion creative is not a linear ad");
        let ad = &ads[0];
        assert_eq!(ad.ad_id, "602833");
        assert_eq!(ad.duration, 30.0);
        assert_eq!(
            ad.mezzanine().unwrap().url,
            "http://cdn.example.com/ad-720p.mp4"
        );
        assert_eq!(
            ad.beacon_urls("impression"),
            ["http://myTrackingURL/impression"]
        );
        assert_eq!(
            ad.beacon_urls("midpoint"),
            ["http://myTrackingURL/midpoint"]
        );
        assert_eq!(ad.beacon_urls("creativeView").len(), 1);
        assert_eq!(
            ad.error_urls(super::super::ErrorCode::NoSupportedMedia),
            ["http://myErrorURL/error?code=403"]
        );
    }

    #[test]
    fn vast3_wrapper_and_empty_vast4() {
        let d = parse_document(VAST3_WRAPPER).unwrap();
        let Node::Wrapper(w) = &d.ads[0] else {
            panic!("{d:?}")
        };
        assert_eq!(w.sequence, Some(2));
        assert_eq!(w.tag_uri, "http://ads.example.com/next?x=1");
        assert!(w.follow_additional && w.allow_multiple);
        assert_eq!(
            w.beacons,
            [
                (
                    "impression".to_string(),
                    "http://w.example.com/imp".to_string()
                ),
                (
                    "error".to_string(),
                    "http://w.example.com/error?e=[ERRORCODE]".to_string()
                ),
                (
                    "firstQuartile".to_string(),
                    "http://w.example.com/q1".to_string()
                ),
            ]
        );
        let empty = parse_document(
            "<VAST version=\"4.1\"><Error><![CDATA[http://e/noad?c=[ERRORCODE]]]></Error></VAST>",
        )
        .unwrap();
        assert!(empty.ads.is_empty());
        assert_eq!(empty.errors, ["http://e/noad?c=[ERRORCODE]"]);
        assert!(parse_document("<html>nope</html>").is_err());
        assert!(parse_document("").is_err());
    }
}
