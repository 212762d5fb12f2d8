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
    let (span, wanted) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let reference = build::reference(&data.variants)
            .ok_or_else(|| ApiError::not_found("nothing ingested on this channel yet"))?;
        let span = span_of(reference, ep, start, end)?;
        (span, build::wanted(&data.variants, ep, span, now))
    };
    for (variant, want) in wanted {
        if !want.is_empty() {
            s.ensure_cmaf(ch, &variant, want).await?;
        }
    }
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
