//! The policy of one ad break, pure: what fills it (ads, slate or the original content),
//! given the break, the ad server's answer, which creatives are ready, the configuration
//! and the time. No I/O: the shell ([`super::decide`]) asks the ad server and the creative
//! caches, then calls [`plan_break`]; tests call it with values.
//!
//! Rules (MediaTailor's):
//! - **Suppression** ([`suppressed`]): with `AvailSuppression` `BEHIND_LIVE_EDGE`, a break
//!   that a new session's first window shows more than `Value` behind the live edge plays
//!   the original content, and the ad server is not asked.
//! - **Ads in order**, each only when its creative is ready and playable here (segments no
//!   longer than the content's target duration) and it fits the break's planned duration
//!   (half a second of slack); a creative that is not ready yet (being conditioned) is left
//!   out of this break without an error; one that failed fires its VAST `Error` URLs with
//!   `[ERRORCODE]` filled.
//! - **Slate** fills the unfilled time (in whole slate segments, the last one when more
//!   than half of it is still unfilled); without a slate, the break ends early.
//! - **Personalization threshold**: more unfilled seconds than
//!   `PersonalizationThresholdSeconds` play the original content instead.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::config::PlaybackConfiguration;
use super::creative::Creative;
use super::loader::VastAd;
use super::rewrite::{BreakStart, Plan, Slot};

/// VAST error codes the proxy reports.
pub mod error_code {
    /// The ad server's answer had no ad.
    pub const NO_ADS: u16 = 303;
    /// No media file of the ad can play here.
    pub const NO_SUPPORTED_MEDIA: u16 = 403;
    /// A media file could not be displayed (its conditioning failed).
    pub const MEDIA_PROBLEM: u16 = 405;
}

/// What the ad server answered for a break.
#[derive(Debug, Clone, PartialEq)]
pub enum AdAnswer {
    /// Linear ads, in play order (possibly none).
    Ads(Vec<VastAd>),
    /// No usable answer: `request` (unreachable, error status, timeout) or `invalid_vast`.
    Failed(&'static str),
}

/// Whether an ad's creative can be spliced now.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready(Arc<Creative>),
    /// Being made (conditioned): leave it out of this break, silently.
    Pending,
    /// It cannot play: leave it out and report this VAST error code.
    Failed(u16),
}

/// The inputs of [`plan_break`].
#[derive(Debug, Clone, Copy)]
pub struct BreakInput<'a> {
    pub start: &'a BreakStart,
    /// 0-based index of the break in the session.
    pub avail_index: u32,
    pub answer: &'a AdAnswer,
    /// One per ad of `answer`, in order.
    pub readiness: &'a [Readiness],
    /// The configuration's slate, when it loaded.
    pub slate: Option<&'a Arc<Creative>>,
    /// The content's target duration, seconds.
    pub target: u64,
    pub config: &'a PlaybackConfiguration,
    /// Wall time, ms since the Unix epoch.
    pub now_ms: i64,
}

/// An ad placed in a break.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecidedAd {
    pub vast: VastAd,
    /// Id of its [`Creative`].
    pub creative: String,
    /// Seconds from the break's start.
    pub offset: f64,
    /// Its duration as played (the reference rendition's segments).
    pub duration: f64,
}

/// What was decided for one break, once (kept in the session's state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub avail_index: u32,
    pub avail_id: String,
    pub duration: f64,
    pub ads: Vec<DecidedAd>,
    /// Id of the slate creative, when slate fills part of the break.
    pub slate: Option<String>,
    /// When it was decided, ms since the Unix epoch.
    pub decided_ms: i64,
}

impl Decision {
    /// The ids of every creative it plays.
    pub fn creatives(&self) -> impl Iterator<Item = &str> {
        self.ads
            .iter()
            .map(|a| a.creative.as_str())
            .chain(self.slate.as_deref())
    }
}

/// How a break was filled (the `result` label of `ssai_avails_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakResult {
    Filled,
    Slate,
    Content,
    Suppressed,
}

impl BreakResult {
    pub fn label(self) -> &'static str {
        match self {
            BreakResult::Filled => "filled",
            BreakResult::Slate => "slate",
            BreakResult::Content => "content",
            BreakResult::Suppressed => "suppressed",
        }
    }
}

/// The policy's answer for one break.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakOutcome {
    pub plan: Plan,
    /// `None` when the break plays the original content.
    pub decision: Option<Decision>,
    pub result: BreakResult,
    /// Seconds of the break, and of it filled with ads.
    pub avail_secs: f64,
    pub filled_secs: f64,
    /// VAST `Error` URLs to fire (`[ERRORCODE]` filled), for ads left out.
    pub errors: Vec<String>,
}

impl BreakOutcome {
    /// The original content plays.
    pub fn content(result: BreakResult) -> Self {
        Self {
            plan: Plan::Passthrough,
            decision: None,
            result,
            avail_secs: 0.0,
            filled_secs: 0.0,
            errors: Vec::new(),
        }
    }
}

/// Whether a break is suppressed (the ad server is not asked): `AvailSuppression`
/// `BEHIND_LIVE_EDGE` and a break more than `Value` behind the live edge of a session's
/// first window.
pub fn suppressed(start: &BreakStart, first_window: bool, config: &PlaybackConfiguration) -> bool {
    first_window
        && config
            .suppress_behind()
            .is_some_and(|limit| start.behind_live_edge > limit)
}

fn error_urls(ad: &VastAd, code: u16) -> impl Iterator<Item = String> + '_ {
    ad.beacons
        .iter()
        .filter(|(e, _)| e == "error")
        .map(move |(_, u)| u.replace("[ERRORCODE]", &code.to_string()))
}

/// Slots of `slate` for `unfilled` seconds: whole slate segments, looping, the last one
/// when more than half of it is still unfilled.
fn slate_slots(slate: &Creative, unfilled: f64, slots: &mut Vec<Slot>) {
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

/// Plan one break (see the module doc).
pub fn plan_break(input: BreakInput<'_>) -> BreakOutcome {
    let planned = input.start.planned.unwrap_or(0.0);
    let target = input.target.max(1);
    let budget = if planned > 0.0 { planned } else { f64::MAX };
    let vast_ads: &[VastAd] = match input.answer {
        AdAnswer::Ads(ads) => ads,
        AdAnswer::Failed(_) => &[],
    };
    let mut errors = Vec::new();
    let mut ads = Vec::new();
    let mut chosen: Vec<&Arc<Creative>> = Vec::new();
    let mut offset = 0.0;
    for (i, ad) in vast_ads.iter().enumerate() {
        let creative = match input.readiness.get(i) {
            Some(Readiness::Ready(c)) if c.longest_segment() <= target => c,
            Some(Readiness::Pending) => continue,
            Some(Readiness::Failed(code)) => {
                errors.extend(error_urls(ad, *code));
                continue;
            }
            // Segments longer than the content's, or nothing known: not playable here.
            Some(Readiness::Ready(_)) | None => {
                errors.extend(error_urls(ad, error_code::NO_SUPPORTED_MEDIA));
                continue;
            }
        };
        let duration = creative.duration();
        if offset + duration > budget + 0.5 {
            continue;
        }
        ads.push(DecidedAd {
            vast: ad.clone(),
            creative: creative.id.clone(),
            offset,
            duration,
        });
        chosen.push(creative);
        offset += duration;
    }
    let duration = if planned > 0.0 { planned } else { offset };
    let unfilled = (duration - offset).max(0.0);
    let content = |errors| BreakOutcome {
        avail_secs: duration,
        filled_secs: offset,
        errors,
        ..BreakOutcome::content(BreakResult::Content)
    };
    if input
        .config
        .personalization_threshold_seconds
        .is_some_and(|th| unfilled > th)
    {
        return content(errors);
    }
    let slate = input
        .slate
        .filter(|s| unfilled > 0.0 && s.longest_segment() <= target);
    let mut slots = Vec::new();
    for (i, c) in chosen.iter().enumerate() {
        for (s, seg) in c.reference().segments.iter().enumerate() {
            slots.push(Slot {
                ad: Some(i as u16),
                seg: s as u16,
                dur: seg.1 as f32,
            });
        }
    }
    if let Some(slate) = slate {
        slate_slots(slate, unfilled, &mut slots);
    }
    if slots.is_empty() {
        return content(errors);
    }
    let result = if ads.is_empty() {
        BreakResult::Slate
    } else {
        BreakResult::Filled
    };
    BreakOutcome {
        plan: Plan::Replace(slots),
        decision: Some(Decision {
            avail_index: input.avail_index,
            avail_id: input.avail_index.to_string(),
            duration,
            ads,
            slate: slate.map(|s| s.id.clone()),
            decided_ms: input.now_ms,
        }),
        result,
        avail_secs: duration,
        filled_secs: offset,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssai::creative::CreativeRendition;

    fn creative(id: &str, segs: &[f64]) -> Arc<Creative> {
        Arc::new(Creative {
            id: id.into(),
            renditions: vec![CreativeRendition {
                bandwidth: 1,
                audio: None,
                init: None,
                segments: segs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (format!("{id}/{i}.ts"), *d))
                    .collect(),
            }],
        })
    }

    fn ad(id: &str) -> VastAd {
        VastAd {
            ad_id: id.into(),
            duration: 4.0,
            media_url: format!("{id}.m3u8"),
            mezzanine: false,
            beacons: vec![(
                "error".into(),
                format!("http://ads/err?ad={id}&c=[ERRORCODE]"),
            )],
        }
    }

    fn config(threshold: Option<f64>) -> PlaybackConfiguration {
        PlaybackConfiguration {
            personalization_threshold_seconds: threshold,
            ..serde_json::from_value(serde_json::json!({
                "VideoContentSourceUrl": "http://o/",
                "AdDecisionServerUrl": "http://a/"
            }))
            .unwrap()
        }
    }

    fn start(planned: f64) -> BreakStart {
        BreakStart {
            key: 10,
            planned: Some(planned),
            event_id: None,
            behind_live_edge: 0.0,
        }
    }

    #[test]
    fn pending_ads_are_left_out_and_the_next_ready_one_or_slate_fills() {
        let answer = AdAnswer::Ads(vec![ad("a"), ad("b"), ad("c")]);
        let ready = [
            Readiness::Pending,
            Readiness::Ready(creative("b", &[2.0, 2.0])),
            Readiness::Failed(error_code::MEDIA_PROBLEM),
        ];
        let slate = creative("slate", &[2.0]);
        let cfg = config(None);
        let out = plan_break(BreakInput {
            start: &start(8.0),
            avail_index: 0,
            answer: &answer,
            readiness: &ready,
            slate: Some(&slate),
            target: 2,
            config: &cfg,
            now_ms: 5,
        });
        assert_eq!(out.result, BreakResult::Filled);
        let d = out.decision.unwrap();
        assert_eq!(d.ads.len(), 1);
        assert_eq!(d.ads[0].creative, "b");
        assert_eq!(d.slate.as_deref(), Some("slate"));
        assert_eq!(d.decided_ms, 5);
        let Plan::Replace(slots) = out.plan else {
            panic!()
        };
        assert_eq!(slots.iter().filter(|s| s.ad == Some(0)).count(), 2);
        assert_eq!(slots.iter().filter(|s| s.ad.is_none()).count(), 2);
        // Pending: silent; failed: its error URL with the code.
        assert_eq!(out.errors, vec!["http://ads/err?ad=c&c=405".to_string()]);
    }

    #[test]
    fn threshold_long_segments_and_suppression() {
        let answer = AdAnswer::Ads(vec![ad("a")]);
        let ready = [Readiness::Ready(creative("a", &[6.0]))];
        let cfg = config(Some(1.0));
        let out = plan_break(BreakInput {
            start: &start(8.0),
            avail_index: 1,
            answer: &answer,
            readiness: &ready,
            slate: None,
            target: 2,
            config: &cfg,
            now_ms: 0,
        });
        assert_eq!(out.result, BreakResult::Content);
        assert_eq!(out.plan, Plan::Passthrough);
        assert_eq!(out.errors, vec!["http://ads/err?ad=a&c=403".to_string()]);

        let failed = AdAnswer::Failed("request");
        let slate = creative("slate", &[2.0, 2.0]);
        let out = plan_break(BreakInput {
            start: &start(6.0),
            avail_index: 1,
            answer: &failed,
            readiness: &[],
            slate: Some(&slate),
            target: 2,
            config: &config(None),
            now_ms: 0,
        });
        assert_eq!(out.result, BreakResult::Slate);
        let Plan::Replace(slots) = out.plan else {
            panic!()
        };
        assert_eq!(slots.len(), 3);

        let mut cfg = config(None);
        cfg.avail_suppression = Some(crate::ssai::config::AvailSuppression {
            mode: "BEHIND_LIVE_EDGE".into(),
            value: Some("00:00:10".into()),
        });
        let mut behind = start(6.0);
        behind.behind_live_edge = 12.0;
        assert!(suppressed(&behind, true, &cfg));
        assert!(!suppressed(&behind, false, &cfg));
        behind.behind_live_edge = 8.0;
        assert!(!suppressed(&behind, true, &cfg));
    }
}
