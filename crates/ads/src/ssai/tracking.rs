//! Reporting: server-side beacons on ad segment fetches, and the client-side tracking JSON
//! in MediaTailor's shape.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::session::{AdFetch, EVENTS, FiredBeacon, Reporting, Session, SessionState};

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
pub fn tracking_doc(state: &SessionState) -> TrackingDoc {
    let mut avails = Vec::new();
    for b in &state.timeline.breaks {
        let Some(d) = state.decisions.get(&b.key) else {
            continue;
        };
        let ads = d
            .ads
            .iter()
            .map(|ad| {
                let start = b.start_time + ad.offset;
                let tracking_events = EVENTS
                    .iter()
                    .filter(|(e, _)| *e != "breakEnd")
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

/// Beacon sending settings.
#[derive(Debug, Clone, Copy)]
pub struct BeaconPolicy {
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for BeaconPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            attempts: 3,
        }
    }
}

/// A viewer fetched segment `seg` of ad `ad` in break `brk`: record it and fire the
/// events whose position the segment reached (impression and start on the first fetch,
/// quartiles by position, complete with the last segment), each at most once.
/// Returns the ad segment's real URL.
pub fn on_ad_fetch(
    session: &Session,
    state: &mut SessionState,
    brk: u64,
    slot: u16,
    rendition: usize,
    http: &reqwest::Client,
    policy: BeaconPolicy,
) -> Option<String> {
    let b = state.timeline.break_state(brk)?;
    let super::rewrite::Plan::Replace(slots) = &b.plan else {
        return None;
    };
    let sl = *slots.get(slot as usize)?;
    let ad_idx = sl.ad?;
    let d = state.decisions.get(&brk)?.clone();
    let ad = d.ads.get(ad_idx as usize)?;
    let r = ad
        .creative
        .renditions
        .get(rendition)
        .unwrap_or(ad.creative.reference());
    let (url, _) = r
        .segments
        .get(sl.seg as usize)
        .or_else(|| ad.creative.reference().segments.get(sl.seg as usize))?
        .clone();
    let segs = &ad.creative.reference().segments;
    let seg_start: f64 = segs.iter().take(sl.seg as usize).map(|s| s.1).sum();
    let seg_end = seg_start + segs.get(sl.seg as usize).map(|s| s.1).unwrap_or(0.0);
    let last = sl.seg as usize + 1 >= segs.len();
    if state.fetched.len() >= 1000 {
        state.fetched.remove(0);
    }
    state.fetched.push(AdFetch {
        avail_index: d.avail_index,
        ad_id: ad.vast.ad_id.clone(),
        segment: sl.seg,
        rendition,
    });
    if session.reporting == Reporting::Client {
        return Some(url);
    }
    for (i, (event, frac)) in EVENTS.iter().enumerate() {
        let due = match *event {
            "complete" => last,
            "breakEnd" => false,
            _ => ad.duration * frac < seg_end - 1e-6,
        };
        if !due || !state.fired.insert((brk, ad_idx, i as u8)) {
            continue;
        }
        for (_, beacon) in ad.vast.beacons.iter().filter(|(e, _)| e == event) {
            if state.beacons.len() >= 1000 {
                state.beacons.remove(0);
            }
            state.beacons.push(FiredBeacon {
                avail_index: d.avail_index,
                ad_id: ad.vast.ad_id.clone(),
                event: event.to_string(),
                url: beacon.clone(),
            });
            tokio::spawn(send_beacon(http.clone(), beacon.clone(), policy));
        }
    }
    Some(url)
}

/// GET a beacon URL: `attempts` tries, each with `timeout`, backing off between them.
pub async fn send_beacon(http: reqwest::Client, url: String, policy: BeaconPolicy) -> bool {
    for attempt in 0..policy.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
        }
        let ok = matches!(
            tokio::time::timeout(policy.timeout, http.get(&url).send()).await,
            Ok(Ok(r)) if r.status().is_success()
        );
        if ok {
            metrics::counter!("ssai_beacons_sent_total").increment(1);
            return true;
        }
    }
    metrics::counter!("ssai_beacons_failed_total").increment(1);
    tracing::warn!(url, "beacon failed");
    false
}
