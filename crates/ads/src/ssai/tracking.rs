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

/// `{avails:[...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingDoc {
    pub avails: Vec<TrackingAvail>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingAvail {
    pub avail_id: String,
    pub duration_in_seconds: f64,
    pub start_time_in_seconds: f64,
    pub ads: Vec<TrackingAd>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingAd {
    pub ad_id: String,
    pub duration_in_seconds: f64,
    pub start_time_in_seconds: f64,
    pub tracking_events: Vec<TrackingEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackingEvent {
    pub event_type: String,
    pub beacon_urls: Vec<String>,
    pub start_time_in_seconds: f64,
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
            .map(|ad| {
                let start = b.start_time + ad.offset;
                let tracking_events = EVENTS
                    .iter()
                    .map(|(event, frac)| TrackingEvent {
                        event_type: event.to_string(),
                        beacon_urls: ad
                            .vast
                            .beacons
                            .iter()
                            .filter(|(e, _)| e == event)
                            .map(|(_, u)| u.clone())
                            .collect(),
                        start_time_in_seconds: start + ad.duration * frac,
                    })
                    .collect();
                TrackingAd {
                    ad_id: ad.vast.ad_id.clone(),
                    duration_in_seconds: ad.duration,
                    start_time_in_seconds: start,
                    tracking_events,
                }
            })
            .collect();
        avails.push(TrackingAvail {
            avail_id: d.avail_id.clone(),
            duration_in_seconds: d.duration,
            start_time_in_seconds: b.start_time,
            ads,
        });
    }
    TrackingDoc { avails }
}
