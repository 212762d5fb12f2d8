//! `GET /out/{channel}/{endpoint}/index.mpd[?start=[&end=]]` and `GET /time`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use web::{ApiError, cache};

use super::build;
use crate::Shared;
use crate::playback::{find_ep, parse_time, respond, span_of};
use crate::render::Span;

/// `Content-Type` of an MPD.
pub const MPD: &str = "application/dash+xml";

/// The MPD of a `dash` endpoint: live (no query), start-over (`?start=`: dynamic, from
/// that time) or time-shifted (`?start=&end=`: static once `end` is behind the live edge).
pub async fn mpd(
    s: &Shared,
    ch: &crate::Channel,
    endpoint: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let start = q.get("start").map(|v| parse_time("start", v)).transpose()?;
    let end = q.get("end").map(|v| parse_time("end", v)).transpose()?;
    let now = s.clock.now();
    let (span, wanted, drm, key_periods) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let reference = build::reference(&data.variants)
            .ok_or_else(|| ApiError::not_found("nothing ingested on this channel yet"))?;
        let span = span_of(reference, ep, start, end)?;
        (
            span,
            build::wanted(&data.variants, ep, span, now),
            crate::drm::Drm::of(ep),
            build::key_periods(&data.variants, ep, span, now),
        )
    };
    for (variant, want) in wanted {
        if !want.is_empty() {
            s.ensure_cmaf(ch, &variant, want).await?;
        }
    }
    // An encrypted endpoint: the keys of every key period listed (no keys, no MPD: 503).
    let drm = match drm {
        None => None,
        Some(drm) => Some(dash_drm(s, &ch.id, endpoint, drm, key_periods).await?),
    };
    let time_url = format!("{}/time", s.public_url);
    let (text, td, dynamic) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let req = build::Request {
            endpoint: ep,
            master: data.master.as_ref(),
            span,
            now,
            time_url: &time_url,
            drm: drm.as_ref(),
        };
        let mpd = build::build(&data.variants, &req)
            .ok_or_else(|| ApiError::not_found("no segment of this channel is ready yet"))?;
        let td = data
            .variants
            .values()
            .map(|v| v.target_duration)
            .max()
            .unwrap_or(2);
        (mpd.to_xml(), td, mpd.dynamic)
    };
    metrics::counter!("origin_mpds_rendered_total").increment(1);
    let cc = if dynamic || span == Span::Live {
        cache::live_playlist(td)
    } else {
        cache::CLOSED_PLAYLIST.to_string()
    };
    Ok(respond(Bytes::from(text), MPD, cc))
}

/// The keys and DRM systems an encrypted endpoint's MPD signals.
async fn dash_drm(
    s: &Shared,
    channel: &str,
    endpoint: &str,
    drm: crate::drm::Drm,
    key_periods: std::collections::BTreeSet<u64>,
) -> Result<build::DashDrm, ApiError> {
    let keys = s
        .keys_of_periods(channel, endpoint, &drm, key_periods)
        .await
        .map_err(ApiError::from)?;
    let systems = match &drm.settings.speke_key_provider {
        Some(p) => p
            .system_ids
            .iter()
            .filter_map(|id| lineup_keys::cpix::normalize_system_id(id))
            .collect(),
        None => vec![build::COMMON.to_string()],
    };
    Ok(build::DashDrm {
        method: drm.method,
        rotation_seconds: drm.settings.key_rotation_interval_seconds,
        systems,
        keys,
    })
}

/// `GET /time`: the origin's clock as ISO 8601 with milliseconds (what `UTCTiming`
/// `http-iso` and `http-xsdate` read).
pub async fn time(State(s): State<Arc<Shared>>) -> Response {
    let now = s
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut r = now.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
