//! One viewer's session as a value: what it was started with ([`SessionMeta`], fixed) and
//! where it is ([`SessionState`]: its timeline, the origin renditions it plays, the ads
//! decided per break). Both serialize, so a session lives in a process's memory or in
//! Redis alike ([`super::store`]). No I/O here.

use std::collections::{BTreeMap, HashMap};

use hls::{MediaPlaylist, Segment};
use serde::{Deserialize, Serialize};

use super::creative::Creatives;
use super::policy::Decision;
use super::rewrite::{BreakStart, BreakState, Plan, Slot, Timeline};

/// Whether beacons are sent by the proxy (`SERVER`, default) or left to the player
/// through the tracking URL (`CLIENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Reporting {
    Server,
    Client,
}

/// A variant (or alternative rendition) of the origin master, by index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRef {
    pub url: String,
    pub bandwidth: u64,
    /// What an `EXT-X-MEDIA` rendition carries (`None`: a variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
}

/// An alternative rendition of the origin master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaRef {
    /// The `k`-th audio rendition with a URI (master order): ads play the creative's
    /// matching audio rendition.
    Audio(usize),
    /// Subtitles: empty cues while ads play.
    Subtitles,
    /// Anything else (video angles, closed captions with a URI): as a variant.
    Other,
}

/// What a session was started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: String,
    /// Name of its playback configuration.
    pub config: String,
    /// Path under the configuration's content source (`a/b/master.m3u8`).
    pub path: String,
    pub player_params: Vec<(String, String)>,
    pub reporting: Reporting,
    pub created_ms: i64,
}

/// Where a session is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    pub timeline: Timeline,
    /// The origin master's renditions, in the order of the session's master.
    pub variants: Vec<VariantRef>,
    /// The decision of each break still kept, by break key.
    pub decisions: BTreeMap<u64, Decision>,
    /// Duration of the origin window last seen, ms (idle expiry is a multiple of it).
    pub manifest_ms: u64,
}

/// A break planned by the policy, to apply.
#[derive(Debug, Clone)]
pub struct Planned {
    pub key: u64,
    pub plan: Plan,
    pub decision: Option<Decision>,
}

impl SessionState {
    /// The break starts of `window` not planned yet.
    pub fn unplanned(&self, window: &MediaPlaylist) -> Vec<BreakStart> {
        self.timeline.new_breaks(window)
    }

    /// Apply an origin window with the breaks planned for it: advance the timeline, keep
    /// the decisions of the breaks it started (a break already started, by another
    /// request or replica, keeps its own), forget those of breaks it no longer keeps.
    pub fn apply(&mut self, window: &MediaPlaylist, planned: &[Planned]) {
        let existed: Vec<u64> = planned
            .iter()
            .filter(|p| self.timeline.break_state(p.key).is_some())
            .map(|p| p.key)
            .collect();
        let plans: HashMap<u64, Plan> = planned.iter().map(|p| (p.key, p.plan.clone())).collect();
        self.timeline.advance(window, &plans);
        for p in planned {
            if existed.contains(&p.key) || self.timeline.break_state(p.key).is_none() {
                continue;
            }
            if let Some(d) = &p.decision {
                self.decisions.entry(p.key).or_insert_with(|| d.clone());
            }
        }
        let timeline = &self.timeline;
        self.decisions
            .retain(|k, _| timeline.break_state(*k).is_some());
        self.manifest_ms = (window.duration() * 1000.0) as u64;
    }

    /// Every creative its decisions play.
    pub fn creatives(&self) -> impl Iterator<Item = &str> {
        self.decisions.values().flat_map(Decision::creatives)
    }

    /// How long it may stay idle: `factor` manifest durations, at least `min_ms`.
    pub fn idle_ms(&self, factor: u32, min_ms: u64) -> u64 {
        (self.manifest_ms * u64::from(factor)).max(min_ms)
    }

    /// Render one rendition (see [`Timeline::render`]): ads in the creative rendition
    /// nearest `bandwidth`, their URIs `ad_uri(break, slot index, creative rendition,
    /// extension: `ts`, or `m4s` for an fMP4 creative)` (so
    /// the proxy sees the fetch); slate segments at the creative's own URIs.
    pub fn render(
        &self,
        window: &MediaPlaylist,
        passthrough: bool,
        variant: &VariantRef,
        creatives: &Creatives,
        ad_uri: &dyn Fn(&BreakState, u16, usize, &str) -> String,
    ) -> MediaPlaylist {
        self.timeline.render(
            window,
            passthrough,
            &|b: &BreakState, slot: &Slot, idx: u16| {
                let d = self.decisions.get(&b.key)?;
                slot_segment(d, slot, variant, creatives, &|ri, ext| {
                    ad_uri(b, idx, ri, ext)
                })
            },
        )
    }
}

/// The segment a slot plays in the creative rendition for `variant` (with its init
/// segment as `map`, for fMP4 creatives); in a subtitles rendition, an empty WebVTT
/// segment (`ad_uri(_, "vtt")`).
fn slot_segment(
    d: &Decision,
    slot: &Slot,
    variant: &VariantRef,
    creatives: &Creatives,
    ad_uri: &dyn Fn(usize, &str) -> String,
) -> Option<Segment> {
    if variant.media == Some(MediaRef::Subtitles) {
        // No cues while the ad plays.
        return Some(Segment::new(ad_uri(0, "vtt"), f64::from(slot.dur)));
    }
    let (c, uri) = match slot.ad {
        Some(a) => (creatives.get(&d.ads.get(a as usize)?.creative)?, None),
        None => (creatives.get(d.slate.as_deref()?)?, Some(())),
    };
    let (ri, r) = match variant.media {
        Some(MediaRef::Audio(k)) => c
            .audio_for(k)
            .unwrap_or_else(|| c.rendition_for(variant.bandwidth)),
        _ => c.rendition_for(variant.bandwidth),
    };
    let (own, dur) = c.segment(ri, slot.seg as usize)?;
    let mut s = match uri {
        // Ads through the proxy (it sees the fetch); slate at its own URI.
        None => Segment::new(ad_uri(ri, if r.init.is_some() { "m4s" } else { "ts" }), dur),
        Some(()) => Segment::new(own.to_string(), dur),
    };
    s.map = r.init.as_ref().map(|u| hls::Map::new(u.clone(), None));
    Some(s)
}
