//! The shell around the break policy: ask the ad server (wrapper chains followed), find
//! which creatives are ready (HLS creatives loaded; MP4 mezzanines conditioned to the
//! content's profile, in the background), load the slate, call [`policy::plan_break`],
//! count and report. No session state is locked or held here: the answer is applied to
//! the session afterwards. Nothing here waits for ffmpeg: an ad being conditioned is
//! `Pending` and the policy leaves it out of this break.

use std::sync::Arc;
use std::time::Instant;

use super::beacons::{self, BeaconPolicy};
use super::config::{PlaybackConfiguration, TemplateVars, fill_template};
use super::creative::{Creative, CreativeCache};
use super::loader::VastAd;
use super::policy::{self, AdAnswer, BreakInput, BreakOutcome, BreakResult, Readiness};
use super::rewrite::BreakStart;
use super::session::{Reporting, SessionMeta};
use crate::condition::{self, Conditioner, ContentProfile, ProfileCache};
use crate::error::AdsError;
use crate::vast::{self, LinearAd, ResolveOptions};

/// Conditioning, when the proxy has it: the conditioner and the content profiles.
#[derive(Clone, Copy)]
pub struct Conditioning<'a> {
    pub conditioner: &'a Conditioner,
    pub profiles: &'a ProfileCache,
    /// The content's master playlist URL (its profile is what ads are made for).
    pub content_url: &'a str,
}

/// Everything a decision needs besides the break.
pub struct DecideCtx<'a> {
    pub http: &'a reqwest::Client,
    pub creatives: &'a CreativeCache,
    pub conditioning: Option<Conditioning<'a>>,
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
        let (answer, wrapper_errors) = ask(ctx, start, avail_index).await;
        if ctx.session.reporting == Reporting::Server {
            beacons::fire(ctx.http, wrapper_errors, ctx.beacons);
        }
        let profile = content_profile(ctx).await;
        let mut readiness = Vec::new();
        if let AdAnswer::Ads(ads) = &answer {
            for ad in ads {
                readiness.push(ready(ctx, profile.as_ref(), &ad.media_url, ad.mezzanine).await);
            }
        }
        let slate = match &cfg.slate_ad_url {
            Some(u) => match ready(ctx, profile.as_ref(), u, !is_hls_url(u)).await {
                Readiness::Ready(c) => Some(c),
                _ => None,
            },
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

/// The content's profile, when conditioning is on and it can be read within the ADS
/// timeout (read once per content and shared; `None`: MP4 creatives wait for a later break).
async fn content_profile(ctx: &DecideCtx<'_>) -> Option<Arc<ContentProfile>> {
    let c = ctx.conditioning?;
    if let Some(p) = c.profiles.peek(c.content_url) {
        return Some(p);
    }
    let read = c.profiles.get(ctx.http, c.content_url);
    match tokio::time::timeout(ctx.config.ads_timeout(), read).await {
        Ok(Ok(p)) => Some(p),
        Ok(Err(e)) => {
            tracing::warn!(url = c.content_url, error = %e, "content profile not read; MP4 ads left out");
            None
        }
        Err(_) => None,
    }
}

/// Whether the creative at `url` can be spliced now: an HLS creative when it loads; any
/// other media file (an MP4 mezzanine) when it has been conditioned for this content
/// (started now otherwise, and `Pending` meanwhile).
async fn ready(
    ctx: &DecideCtx<'_>,
    profile: Option<&Arc<ContentProfile>>,
    url: &str,
    mezzanine: bool,
) -> Readiness {
    if !mezzanine {
        return match ctx.creatives.get(url).await {
            Some(c) => Readiness::Ready(c),
            None => Readiness::Failed(policy::error_code::NO_SUPPORTED_MEDIA),
        };
    }
    let (Some(c), Some(profile)) = (ctx.conditioning, profile) else {
        return match ctx.conditioning {
            // Conditioning is on but the content's profile is not known yet.
            Some(_) => Readiness::Pending,
            None => Readiness::Failed(policy::error_code::NO_SUPPORTED_MEDIA),
        };
    };
    match c.conditioner.request(url, profile) {
        condition::Readiness::Ready(ad) => {
            let creative = Creative::from_conditioned(&ad);
            if creative.renditions.is_empty() {
                return Readiness::Failed(policy::error_code::MEDIA_PROBLEM);
            }
            Readiness::Ready(ctx.creatives.insert(Arc::new(creative)))
        }
        condition::Readiness::Pending | condition::Readiness::Absent => Readiness::Pending,
        condition::Readiness::Failed(why) => {
            tracing::debug!(url, reason = %why, "creative not conditioned");
            Readiness::Failed(policy::error_code::MEDIA_PROBLEM)
        }
    }
}

/// A URL that names an HLS playlist (a slate URL: anything else is a file to condition).
fn is_hls_url(url: &str) -> bool {
    url.split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .ends_with(".m3u8")
}

/// A resolved linear ad as the policy takes it: its HLS playlist when it has one, else
/// the mezzanine to condition; `None` (VAST error 403 fired) when it has neither.
fn to_policy_ad(ad: LinearAd) -> Result<VastAd, Vec<String>> {
    let file = ad.hls().or_else(|| ad.mezzanine());
    let Some(file) = file else {
        return Err(ad.error_urls(vast::ErrorCode::NoSupportedMedia));
    };
    Ok(VastAd {
        media_url: file.url.clone(),
        mezzanine: !file.is_hls(),
        ad_id: ad.ad_id,
        duration: ad.duration,
        beacons: ad.beacons,
    })
}

/// The ad server's answer for a break (wrappers followed), and the error URLs to fire for
/// what was dropped on the way (wrapper failures, ads without a playable media file).
async fn ask(ctx: &DecideCtx<'_>, start: &BreakStart, avail_index: u32) -> (AdAnswer, Vec<String>) {
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
    let opts = ResolveOptions {
        timeout: ctx.config.ads_timeout(),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let answer = match vast::resolve(ctx.http, &url, opts).await {
        Ok(resolved) => {
            errors = resolved.errors;
            let mut ads = Vec::new();
            for ad in resolved.ads {
                match to_policy_ad(ad) {
                    Ok(a) => ads.push(a),
                    Err(urls) => errors.extend(urls),
                }
            }
            AdAnswer::Ads(ads)
        }
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
    (answer, errors)
}
