//! One viewer's session: its timeline, the ads decided per break, and the async shell
//! around the pure rewrite (ask the ADS, load creatives, plan, advance, render).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use hls::{MediaPlaylist, Segment};
use serde::Serialize;
use utoipa::ToSchema;

use super::config::{PlaybackConfiguration, TemplateVars, fill_template};
use super::loader::{CreativeCache, LoadedCreative, VastAd, parse_vast};
use super::rewrite::{BreakStart, BreakState, Plan, Slot, Timeline};
use crate::error::{AdsError, Result};

/// A variant (or alternative rendition) of the origin master, by index.
#[derive(Debug, Clone)]
pub struct VariantRef {
    pub url: String,
    pub bandwidth: u64,
}

/// An ad placed in a break.
#[derive(Debug)]
pub struct DecidedAd {
    pub vast: VastAd,
    pub creative: Arc<LoadedCreative>,
    /// Seconds from the break's start.
    pub offset: f64,
    /// Its duration as played (the reference rendition's segments).
    pub duration: f64,
}

/// What was decided for one break, once.
#[derive(Debug)]
pub struct Decision {
    pub avail_index: u32,
    pub avail_id: String,
    pub duration: f64,
    pub ads: Vec<DecidedAd>,
    pub slate: Option<Arc<LoadedCreative>>,
}

/// Whether beacons are sent by the proxy (`SERVER`, default) or left to the player
/// through the tracking URL (`CLIENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    Server,
    Client,
}

/// A fetched ad segment (kept for inspection, newest 1000).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdFetch {
    pub avail_index: u32,
    pub ad_id: String,
    pub segment: u16,
    pub rendition: usize,
}

/// A beacon the proxy fired.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FiredBeacon {
    pub avail_index: u32,
    pub ad_id: String,
    pub event: String,
    pub url: String,
}

#[derive(Default)]
pub struct SessionState {
    pub timeline: Timeline,
    pub variants: Vec<VariantRef>,
    pub decisions: HashMap<u64, Arc<Decision>>,
    /// (break, ad, event index) already fired.
    pub fired: HashSet<(u64, u16, u8)>,
    pub fetched: Vec<AdFetch>,
    pub beacons: Vec<FiredBeacon>,
    /// Last rendered text per variant, with the origin window and the timeline position
    /// it was rendered from (the same inputs render the same text).
    pub rendered: HashMap<usize, RenderedCache>,
}

/// A rendered playlist and its inputs.
pub struct RenderedCache {
    pub origin: Arc<super::loader::Fetched>,
    pub at: (u64, usize),
    pub text: Arc<str>,
}

pub struct Session {
    pub id: String,
    pub config: Arc<PlaybackConfiguration>,
    /// Path under the configuration's content source (`a/b/master.m3u8`).
    pub path: String,
    pub player_params: Vec<(String, String)>,
    pub reporting: Reporting,
    pub last_access_ms: AtomicU64,
    /// Duration of the origin window last seen, ms (idle expiry is ten times it).
    pub manifest_ms: AtomicU64,
    pub state: tokio::sync::Mutex<SessionState>,
}

/// The quartile events and their position in an ad (fraction of its duration).
pub const EVENTS: [(&str, f64); 7] = [
    ("impression", 0.0),
    ("start", 0.0),
    ("firstQuartile", 0.25),
    ("midpoint", 0.5),
    ("thirdQuartile", 0.75),
    ("complete", 1.0),
    ("breakEnd", 2.0),
];

/// Everything a decision needs besides the session.
pub struct DecideCtx<'a> {
    pub http: &'a reqwest::Client,
    pub creatives: &'a CreativeCache,
    /// Target duration of the origin: ads with longer segments are not playable here.
    pub target: u64,
    pub first_window: bool,
}

impl Session {
    /// Ask the ADS for one break and plan it. Never fails: any ADS or creative failure
    /// leaves the break to slate (or to the original content).
    pub async fn decide(
        &self,
        start: &BreakStart,
        avail_index: u32,
        ctx: &DecideCtx<'_>,
    ) -> (Plan, Option<Arc<Decision>>) {
        let cfg = &self.config;
        let planned = start.planned.unwrap_or(0.0);
        let avail_id = format!("{avail_index}");
        if ctx.first_window
            && let Some(limit) = cfg.suppress_behind()
            && start.behind_live_edge > limit
        {
            metrics::counter!("ssai_avails_total", "result" => "suppressed").increment(1);
            return (Plan::Passthrough, None);
        }
        let vars = TemplateVars {
            session_id: &self.id,
            avail_duration_secs: planned,
            avail_index,
            avail_random: rand::random::<u32>() as u64,
            scte_event_id: start.event_id.as_deref(),
            player_params: &self.player_params,
        };
        let url = fill_template(&cfg.ad_decision_server_url, &vars);
        let started = Instant::now();
        let vast_ads = match ask_ads(ctx.http, &url, cfg.ads_timeout()).await {
            Ok(ads) => ads,
            Err(e) => {
                let kind = match &e {
                    AdsError::Vast(_) => "invalid_vast",
                    _ => "request",
                };
                metrics::counter!("ssai_ads_errors_total", "kind" => kind).increment(1);
                tracing::warn!(session = %self.id, url, error = %e, "ad decision failed; slate");
                Vec::new()
            }
        };
        metrics::histogram!("ssai_ads_latency_seconds").record(started.elapsed().as_secs_f64());
        if vast_ads.is_empty() {
            metrics::counter!("ssai_ads_empty_total").increment(1);
        }
        // Load the creatives; leave out what cannot play here.
        let mut ads = Vec::new();
        let mut offset = 0.0;
        let budget = if planned > 0.0 { planned } else { f64::MAX };
        for ad in vast_ads {
            let playable = match ctx.creatives.get(&ad.media_url).await {
                Some(c) if c.longest_segment() <= ctx.target.max(1) => Some(c),
                Some(_) => {
                    tracing::warn!(
                        url = ad.media_url,
                        "creative segments exceed the target duration; skipped"
                    );
                    None
                }
                None => None,
            };
            let Some(creative) = playable else {
                // VAST error 403 (no supported media file found), `[ERRORCODE]` filled.
                if self.reporting == Reporting::Server {
                    for (_, url) in ad.beacons.iter().filter(|(e, _)| e == "error") {
                        tokio::spawn(super::tracking::send_beacon(
                            ctx.http.clone(),
                            url.replace("[ERRORCODE]", "403"),
                            super::tracking::BeaconPolicy::default(),
                        ));
                    }
                }
                continue;
            };
            let duration = creative.duration();
            if offset + duration > budget + 0.5 {
                continue;
            }
            ads.push(DecidedAd {
                vast: ad,
                creative,
                offset,
                duration,
            });
            offset += duration;
        }
        let duration = if planned > 0.0 { planned } else { offset };
        let unfilled = (duration - offset).max(0.0);
        metrics::counter!("ssai_avail_seconds_total").increment(duration.round() as u64);
        metrics::counter!("ssai_filled_seconds_total").increment(offset.round() as u64);
        if let Some(th) = cfg.personalization_threshold_seconds
            && unfilled > th
        {
            metrics::counter!("ssai_avails_total", "result" => "content").increment(1);
            return (Plan::Passthrough, None);
        }
        let slate = match &cfg.slate_ad_url {
            Some(u) if unfilled > 0.0 => ctx
                .creatives
                .get(u)
                .await
                .filter(|s| s.longest_segment() <= ctx.target.max(1)),
            _ => None,
        };
        let mut slots = Vec::new();
        for (i, ad) in ads.iter().enumerate() {
            for (s, seg) in ad.creative.reference().segments.iter().enumerate() {
                slots.push(Slot {
                    ad: Some(i as u16),
                    seg: s as u16,
                    dur: seg.1 as f32,
                });
            }
        }
        if let Some(slate) = &slate {
            let segs = &slate.reference().segments;
            let mut left = unfilled;
            let mut k = 0;
            while left > segs[k % segs.len()].1 / 2.0 && slots.len() < 2000 {
                let d = segs[k % segs.len()].1;
                slots.push(Slot {
                    ad: None,
                    seg: (k % segs.len()) as u16,
                    dur: d as f32,
                });
                left -= d;
                k += 1;
            }
        }
        if slots.is_empty() {
            metrics::counter!("ssai_avails_total", "result" => "content").increment(1);
            return (Plan::Passthrough, None);
        }
        let result = if ads.is_empty() { "slate" } else { "filled" };
        metrics::counter!("ssai_avails_total", "result" => result).increment(1);
        let decision = Decision {
            avail_index,
            avail_id,
            duration,
            ads,
            slate,
        };
        (Plan::Replace(slots), Some(Arc::new(decision)))
    }
}

/// GET the ADS URL (with a timeout) and read its VAST.
pub async fn ask_ads(
    http: &reqwest::Client,
    url: &str,
    timeout: std::time::Duration,
) -> Result<Vec<VastAd>> {
    let fut = async {
        let resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| AdsError::AdServer(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(AdsError::AdServer(format!("HTTP {}", resp.status())));
        }
        resp.text()
            .await
            .map_err(|e| AdsError::AdServer(e.to_string()))
    };
    let text = tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| AdsError::AdServer(format!("no answer within {timeout:?}")))??;
    parse_vast(&text)
}

/// The segment a slot plays in the rendition nearest `bandwidth`; its URI is
/// `ad_uri(slot index, rendition index)` for ads (so the proxy sees the fetch) and the
/// creative's own for slate.
pub fn slot_segment(
    decision: &Decision,
    slot: &Slot,
    bandwidth: u64,
    ad_uri: &dyn Fn(usize) -> Option<String>,
) -> Option<Segment> {
    match slot.ad {
        Some(a) => {
            let ad = decision.ads.get(a as usize)?;
            let (ri, r) = rendition_index(&ad.creative, bandwidth);
            let seg = r
                .segments
                .get(slot.seg as usize)
                .or_else(|| ad.creative.reference().segments.get(slot.seg as usize))?;
            let uri = ad_uri(ri).unwrap_or_else(|| seg.0.clone());
            Some(Segment::new(uri, seg.1))
        }
        None => {
            let slate = decision.slate.as_ref()?;
            let r = slate.rendition_for(bandwidth);
            let seg = r
                .segments
                .get(slot.seg as usize)
                .or_else(|| slate.reference().segments.get(slot.seg as usize))?;
            Some(Segment::new(seg.0.clone(), seg.1))
        }
    }
}

pub fn rendition_index(
    c: &LoadedCreative,
    bandwidth: u64,
) -> (usize, &super::loader::CreativeRendition) {
    c.renditions
        .iter()
        .enumerate()
        .min_by_key(|(_, r)| r.bandwidth.abs_diff(bandwidth))
        .unwrap_or((0, &c.renditions[0]))
}

impl SessionState {
    /// Apply a window and render one rendition (see [`Timeline`]).
    pub fn render(
        &self,
        window: &MediaPlaylist,
        passthrough: bool,
        bandwidth: u64,
        ad_uri: &dyn Fn(&BreakState, u16, usize) -> String,
        track_ads: bool,
    ) -> MediaPlaylist {
        self.timeline.render(
            window,
            passthrough,
            &|b: &BreakState, slot: &Slot, idx: u16| {
                let d = self.decisions.get(&b.key)?;
                slot_segment(d, slot, bandwidth, &|ri| {
                    track_ads.then(|| ad_uri(b, idx, ri))
                })
            },
        )
    }

    /// Forget decisions of breaks the timeline no longer keeps.
    pub fn prune(&mut self) {
        let keep: HashSet<u64> = self.timeline.breaks.iter().map(|b| b.key).collect();
        self.decisions.retain(|k, _| keep.contains(k));
        self.fired.retain(|(k, _, _)| keep.contains(k));
    }
}
