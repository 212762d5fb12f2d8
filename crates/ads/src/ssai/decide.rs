//! The shell around the break policy: ask the ad server, find which creatives are ready,
//! load the slate, call [`policy::plan_break`], count and report. No session state is
//! locked or held here: the answer is applied to the session afterwards.

use std::time::Instant;

use super::beacons::{self, BeaconPolicy};
use super::config::{PlaybackConfiguration, TemplateVars, fill_template};
use super::creative::CreativeCache;
use super::loader::ask_ads;
use super::policy::{self, AdAnswer, BreakInput, BreakOutcome, BreakResult, Readiness};
use super::rewrite::BreakStart;
use super::session::{Reporting, SessionMeta};
use crate::error::AdsError;

/// Everything a decision needs besides the break.
pub struct DecideCtx<'a> {
    pub http: &'a reqwest::Client,
    pub creatives: &'a CreativeCache,
    pub config: &'a PlaybackConfiguration,
    pub session: &'a SessionMeta,
    /// The content's target duration, seconds.
    pub target: u64,
    /// The break was seen in the session's first window.
    pub first_window: bool,
    pub beacons: BeaconPolicy,
    pub now_ms: i64,
}

/// Decide one break (never fails: the ad server's and the creatives' failures become
/// slate or the original content).
pub async fn decide(ctx: &DecideCtx<'_>, start: &BreakStart, avail_index: u32) -> BreakOutcome {
    let cfg = ctx.config;
    let out = if policy::suppressed(start, ctx.first_window, cfg) {
        BreakOutcome::content(BreakResult::Suppressed)
    } else {
        let answer = ask(ctx, start, avail_index).await;
        let mut readiness = Vec::new();
        if let AdAnswer::Ads(ads) = &answer {
            for ad in ads {
                readiness.push(match ctx.creatives.get(&ad.media_url).await {
                    Some(c) => Readiness::Ready(c),
                    None => Readiness::Failed(policy::error_code::NO_SUPPORTED_MEDIA),
                });
            }
        }
        let slate = match &cfg.slate_ad_url {
            Some(u) => ctx.creatives.get(u).await,
            None => None,
        };
        policy::plan_break(BreakInput {
            start,
            avail_index,
            answer: &answer,
            readiness: &readiness,
            slate: slate.as_ref(),
            target: ctx.target,
            config: cfg,
            now_ms: ctx.now_ms,
        })
    };
    metrics::counter!("ssai_avails_total", "result" => out.result.label()).increment(1);
    metrics::counter!("ssai_avail_seconds_total").increment(out.avail_secs.round() as u64);
    metrics::counter!("ssai_filled_seconds_total").increment(out.filled_secs.round() as u64);
    if ctx.session.reporting == Reporting::Server {
        beacons::fire(ctx.http, out.errors.iter().cloned(), ctx.beacons);
    }
    out
}

/// The ad server's answer for a break.
async fn ask(ctx: &DecideCtx<'_>, start: &BreakStart, avail_index: u32) -> AdAnswer {
    let vars = TemplateVars {
        session_id: &ctx.session.id,
        avail_duration_secs: start.planned.unwrap_or(0.0),
        avail_index,
        avail_random: rand::random::<u32>() as u64,
        scte_event_id: start.event_id.as_deref(),
        player_params: &ctx.session.player_params,
    };
    let url = fill_template(&ctx.config.ad_decision_server_url, &vars);
    let started = Instant::now();
    let answer = match ask_ads(ctx.http, &url, ctx.config.ads_timeout()).await {
        Ok(ads) => AdAnswer::Ads(ads),
        Err(e) => {
            let kind = match &e {
                AdsError::Vast(_) => "invalid_vast",
                _ => "request",
            };
            metrics::counter!("ssai_ads_errors_total", "kind" => kind).increment(1);
            tracing::warn!(session = %ctx.session.id, url, error = %e, "ad decision failed; slate");
            AdAnswer::Failed(kind)
        }
    };
    metrics::histogram!("ssai_ads_latency_seconds").record(started.elapsed().as_secs_f64());
    if matches!(&answer, AdAnswer::Ads(a) if a.is_empty()) {
        metrics::counter!("ssai_ads_empty_total").increment(1);
    }
    answer
}
