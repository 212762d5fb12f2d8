//! Reporting, pure: which VAST events an ad segment fetch makes due (server-side
//! beacons), and the client-side tracking document in MediaTailor's shape. The shell
//! ([`super::playlist`]) claims each due event once in the session store and sends its
//! URLs ([`super::beacons`]).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::creative::Creative;
use super::policy::Decision;
use super::rewrite::{Plan, Slot, Timeline};

/// The quartile events and their position in an ad (fraction of its duration).
pub const EVENTS: [(&str, f64); 6] = [
    ("impression", 0.0),
    ("start", 0.0),
    ("firstQuartile", 0.25),
    ("midpoint", 0.5),
    ("thirdQuartile", 0.75),
    ("complete", 1.0),
];

/// A fetched ad segment (kept for inspection, newest 1000).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdFetch {
    pub avail_index: u32,
    pub ad_id: String,
    pub segment: u16,
    pub rendition: usize,
}

/// A beacon the proxy fired.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiredBeacon {
    pub avail_index: u32,
    pub ad_id: String,
    pub event: String,
    pub url: String,
}

/// The ad slot `slot` of break `brk`: its decision, ad index and slot.
pub fn ad_slot<'a>(
    timeline: &Timeline,
    decisions: &'a BTreeMap<u64, Decision>,
    brk: u64,
    slot: u16,
) -> Option<(&'a Decision, u16, Slot)> {
    let b = timeline.break_state(brk)?;
    let Plan::Replace(slots) = &b.plan else {
        return None;
    };
    let sl = *slots.get(slot as usize)?;
    let ad = sl.ad?;
    let d = decisions.get(&brk)?;
    d.ads.get(ad as usize)?;
    Some((d, ad, sl))
}

/// What one ad segment fetch is.
#[derive(Debug, Clone, PartialEq)]
pub struct AdHit {
    /// The creative's segment to redirect to.
    pub url: String,
    pub fetch: AdFetch,
    /// Indexes into [`EVENTS`] whose position this segment reaches.
    pub due: Vec<u8>,
}

/// Segment `sl` of ad `ad` of `d` fetched in creative rendition `rendition`: its URL and
/// the events it makes due (impression and start on the first segment, quartiles by
/// position, complete with the last segment).
pub fn ad_hit(
    d: &Decision,
    ad: u16,
    sl: Slot,
    creative: &Creative,
    rendition: usize,
) -> Option<AdHit> {
    let decided = d.ads.get(ad as usize)?;
    let (url, _) = creative.segment(rendition, sl.seg as usize)?;
    let segs = &creative.reference().segments;
    let seg_start: f64 = segs.iter().take(sl.seg as usize).map(|s| s.1).sum();
    let seg_end = seg_start + segs.get(sl.seg as usize).map_or(0.0, |s| s.1);
    let last = sl.seg as usize + 1 >= segs.len();
    let due = EVENTS
        .iter()
        .enumerate()
        .filter(|(_, (event, frac))| match *event {
            "complete" => last,
            _ => decided.duration * frac < seg_end - 1e-6,
        })
        .map(|(i, _)| i as u8)
        .collect();
    Some(AdHit {
        url: url.to_string(),
        fetch: AdFetch {
            avail_index: d.avail_index,
            ad_id: decided.vast.ad_id.clone(),
            segment: sl.seg,
            rendition,
        },
        due,
    })
}

/// The beacon URLs of event `event` (index into [`EVENTS`]) of ad `ad`.
pub fn beacon_urls(d: &Decision, ad: u16, event: u8) -> Vec<String> {
    let Some((name, _)) = EVENTS.get(event as usize) else {
        return Vec::new();
    };
    d.ads.get(ad as usize).map_or_else(Vec::new, |a| {
        a.vast
            .beacons
            .iter()
            .filter(|(e, _)| e == name)
            .map(|(_, u)| u.clone())
            .collect()
    })
}

/// `{avails:[...]}`: MediaTailor's client-side tracking document, every field its
/// players read present (an absent `nonLinearAdsList` or `adBreakTrackingEvents` makes
/// Shaka Player's MediaTailor ad manager drop the whole answer), `null` or empty where
/// lineup has nothing to say (no overlays, no companions, no verifications).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingDoc {
    pub avails: Vec<TrackingAvail>,
    /// Always empty: lineup inserts no overlay (non-linear) avails.
    pub non_linear_avails: Vec<serde_json::Value>,
    /// Always `null`: the whole document is one page.
    pub next_token: Option<String>,
    /// Always `null` (HLS sessions).
    pub dash_availability_start_time: Option<String>,
    /// Always `null`: times are seconds from the session's first segment.
    pub hls_anchor_media_sequence_number: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingAvail {
    pub avail_id: String,
    /// ISO 8601 (`PT30S`).
    pub duration: String,
    pub duration_in_seconds: f64,
    /// ISO 8601, from the session's first segment.
    pub start_time: String,
    pub start_time_in_seconds: f64,
    pub ads: Vec<TrackingAd>,
    /// Break-level events (`breakStart`/`breakEnd`): VAST gives none, so empty.
    pub ad_break_tracking_events: Vec<TrackingEvent>,
    /// Always empty: no overlays.
    pub non_linear_ads_list: Vec<serde_json::Value>,
    pub ad_marker_duration: Option<String>,
    pub avail_program_date_time: Option<String>,
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingAd {
    pub ad_id: String,
    /// The creative lineup plays (conditioned or HLS), `creativeId` in MediaTailor's terms.
    pub creative_id: String,
    /// Position in the break, from 1.
    pub creative_sequence: String,
    pub ad_system: String,
    pub ad_title: String,
    pub ad_parameters: String,
    pub vast_ad_id: String,
    pub duration: String,
    pub duration_in_seconds: f64,
    pub start_time: String,
    pub start_time_in_seconds: f64,
    pub tracking_events: Vec<TrackingEvent>,
    pub ad_program_date_time: Option<String>,
    pub skip_offset: Option<String>,
    pub ad_verifications: Vec<serde_json::Value>,
    pub companion_ads: Vec<serde_json::Value>,
    pub extensions: Vec<serde_json::Value>,
    pub media_files: TrackingMediaFiles,
}

/// `mediaFiles`: empty, as MediaTailor answers for ads it stitched itself.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingMediaFiles {
    pub media_files_list: Vec<serde_json::Value>,
    pub mezzanine: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingEvent {
    pub event_id: String,
    pub event_type: String,
    pub beacon_urls: Vec<String>,
    pub duration: String,
    pub duration_in_seconds: f64,
    pub start_time: String,
    pub start_time_in_seconds: f64,
    pub event_program_date_time: Option<String>,
}

/// Seconds as an ISO 8601 duration, millisecond precision: `PT30S`, `PT7.5S`.
pub fn iso_seconds(secs: f64) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    if ms.is_multiple_of(1000) {
        format!("PT{}S", ms / 1000)
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        format!("PT{}S", s.trim_end_matches('0'))
    }
}

/// The tracking document of a session: every avail it still keeps.
pub fn tracking_doc(timeline: &Timeline, decisions: &BTreeMap<u64, Decision>) -> TrackingDoc {
    let mut avails = Vec::new();
    for b in &timeline.breaks {
        let Some(d) = decisions.get(&b.key) else {
            continue;
        };
        let ads = d
            .ads
            .iter()
            .enumerate()
            .map(|(i, ad)| tracking_ad(d, i, ad, b.start_time + ad.offset))
            .collect();
        avails.push(TrackingAvail {
            avail_id: d.avail_id.clone(),
            duration: iso_seconds(d.duration),
            duration_in_seconds: d.duration,
            start_time: iso_seconds(b.start_time),
            start_time_in_seconds: b.start_time,
            ads,
            ad_break_tracking_events: Vec::new(),
            non_linear_ads_list: Vec::new(),
            ad_marker_duration: None,
            avail_program_date_time: None,
            meta: None,
        });
    }
    TrackingDoc {
        avails,
        non_linear_avails: Vec::new(),
        next_token: None,
        dash_availability_start_time: None,
        hls_anchor_media_sequence_number: None,
    }
}

/// Ad `i` of `d`, starting `start` seconds into the session.
fn tracking_ad(d: &Decision, i: usize, ad: &super::policy::DecidedAd, start: f64) -> TrackingAd {
    let tracking_events = EVENTS
        .iter()
        .enumerate()
        .map(|(n, (event, frac))| {
            let at = start + ad.duration * frac;
            TrackingEvent {
                event_id: format!("{}-{i}-{n}", d.avail_id),
                event_type: event.to_string(),
                beacon_urls: ad
                    .vast
                    .beacons
                    .iter()
                    .filter(|(e, _)| e == event)
                    .map(|(_, u)| u.clone())
                    .collect(),
                duration: iso_seconds(ad.duration),
                duration_in_seconds: ad.duration,
                start_time: iso_seconds(at),
                start_time_in_seconds: at,
                event_program_date_time: None,
            }
        })
        .collect();
    TrackingAd {
        ad_id: ad.vast.ad_id.clone(),
        creative_id: ad.creative.clone(),
        creative_sequence: (i + 1).to_string(),
        ad_system: String::new(),
        ad_title: String::new(),
        ad_parameters: String::new(),
        vast_ad_id: String::new(),
        duration: iso_seconds(ad.duration),
        duration_in_seconds: ad.duration,
        start_time: iso_seconds(start),
        start_time_in_seconds: start,
        tracking_events,
        ad_program_date_time: None,
        skip_offset: None,
        ad_verifications: Vec::new(),
        companion_ads: Vec::new(),
        extensions: Vec::new(),
        media_files: TrackingMediaFiles::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::iso_seconds;

    #[test]
    fn iso_durations_as_mediatailor_writes_them() {
        assert_eq!(iso_seconds(30.0), "PT30S");
        assert_eq!(iso_seconds(7.5), "PT7.5S");
        assert_eq!(iso_seconds(0.04), "PT0.04S");
        assert_eq!(iso_seconds(10.0004), "PT10S");
        assert_eq!(iso_seconds(-1.0), "PT0S");
    }
}
