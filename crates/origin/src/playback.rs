//! `GET /out/{channel}/{endpoint}/...`: master, media (live / start-over / time-shift) and
//! I-frame playlists, and segments; `GET /keys/...` for AES-128 keys.

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    body::Body,
    extract::{FromRequestParts, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use web::{ApiError, cache};

use crate::model::{Encryption, EndpointSpec, Packaging};
use crate::render::{self, Ctx, Span};
use crate::{LivePlaylist, Shared};

/// Parse `start` / `end`: epoch seconds (integer or decimal) or ISO 8601 / RFC 3339.
pub fn parse_time(field: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Utc
            .timestamp_millis_opt((secs * 1000.0) as i64)
            .single()
            .ok_or_else(|| ApiError::bad_field(field, "time out of range"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y%m%dT%H%M%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), f) {
            return Ok(t.and_utc());
        }
    }
    Err(ApiError::bad_field(
        field,
        format!("{v:?} is neither epoch seconds nor an ISO 8601 time"),
    ))
}

/// `Cache-Control` of a live playlist as a ready header value.
fn live_cache_control(td: u64) -> HeaderValue {
    HeaderValue::from_str(&cache::live_playlist(td))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=1"))
}

fn respond(body: Bytes, content_type: &'static str, cache_control: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    r
}

/// Everything under an endpoint.
///
/// Hot path: the request is taken whole (no header copy, no `String`s for the path
/// parameters); a live media playlist without a query, and a time-shifted one (`?start=`,
/// `?start=&end=`) already rendered since the channel last changed, are answered from the
/// channel's ready snapshot ([`crate::Channel::live_playlist`]) without taking the channel
/// lock or parsing the query. Anything else, or a snapshot miss, goes through
/// [`out_inner`].
pub async fn out(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    // The route is `/out/{channel}/{endpoint}/{*path}` (relative to any nesting prefix,
    // which axum strips). Percent-encoded paths take the decoding extractor.
    let raw = parts
        .uri
        .path()
        .strip_prefix("/out/")
        .filter(|p| !p.contains('%'))
        .and_then(|p| {
            let (channel, rest) = p.split_once('/')?;
            let (endpoint, path) = rest.split_once('/')?;
            Some((channel, endpoint, path))
        });
    // A time-shifted playlist's snapshot key: `<slug>.m3u8?<query>` exactly as requested
    // (the tail of the request's path and query, where the two are contiguous), kept as
    // its offset there.
    let shift_at = match (raw, parts.uri.query()) {
        (Some((_, _, path)), Some(query)) if is_media_playlist(path) => {
            let all = pq(&parts.uri);
            all.len()
                .checked_sub(path.len() + 1 + query.len())
                .filter(|at| all[*at..].starts_with(path))
        }
        _ => None,
    };
    if let (Some(at), Some((channel, endpoint, _))) = (shift_at, raw)
        && let Some(pl) = s.live_playlist(channel, endpoint, &pq(&parts.uri)[at..])
    {
        return live_response(&pl);
    }
    let owned;
    let (channel, endpoint, path) = match raw {
        Some(r) => r,
        None => match Path::<(String, String, String)>::from_request_parts(&mut parts, &s).await {
            Ok(Path(p)) => {
                owned = p;
                (owned.0.as_str(), owned.1.as_str(), owned.2.as_str())
            }
            Err(rejection) => return rejection.into_response(),
        },
    };
    let q: HashMap<String, String> = match parts.uri.query() {
        None => HashMap::new(),
        Some(_) => match Query::try_from_uri(&parts.uri) {
            Ok(Query(q)) => q,
            Err(rejection) => return rejection.into_response(),
        },
    };
    if q.is_empty()
        && let Some(slug) = path.strip_suffix(".m3u8")
        && !slug.ends_with("_iframes")
        && slug != "index"
        && let Some(pl) = s.live_playlist(channel, endpoint, slug)
    {
        return live_response(&pl);
    }
    let shift_key = shift_at.map(|at| &pq(&parts.uri)[at..]);
    match out_inner(&s, channel, endpoint, path, &q, shift_key, &parts.headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The request's path and query as sent (relative to the router's nesting prefix).
fn pq(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or("", |pq| pq.as_str())
}

/// A media playlist's file name (not the master `index.m3u8`, not an I-frame playlist).
fn is_media_playlist(path: &str) -> bool {
    path.strip_suffix(".m3u8")
        .is_some_and(|slug| !slug.ends_with("_iframes") && slug != "index")
}

fn live_response(pl: &LivePlaylist) -> Response {
    let mut r = Response::new(Body::from(pl.body.clone()));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(cache::M3U8));
    h.insert(header::CACHE_CONTROL, pl.cache_control.clone());
    r
}

async fn out_inner(
    s: &Shared,
    channel: &str,
    endpoint: &str,
    path: &str,
    q: &HashMap<String, String>,
    shift_key: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let ch = s.channel(channel)?;
    if path == "index.m3u8" {
        // CMAF: remux each variant's newest segment so CODECS names what fMP4 carries.
        let newest: Vec<(String, u64, String)> = {
            let data = ch.lock();
            let ep = find_ep(&data.endpoints, endpoint)?;
            if ep.packaging == Packaging::Cmaf {
                data.variants
                    .iter()
                    .filter_map(|(k, v)| {
                        let m = v.segments.values().next_back()?;
                        Some((k.clone(), m.seq, m.key.clone()))
                    })
                    .collect()
            } else {
                Vec::new()
            }
        };
        for (variant, seq, key) in newest {
            s.ensure_cmaf(&ch, &variant, vec![(seq, key)]).await?;
        }
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let td = data
            .variants
            .values()
            .map(|v| v.target_duration)
            .max()
            .unwrap_or(2);
        // A master never names a playlist this origin cannot serve yet (a replica that has
        // the channel's master before a variant's first segments, a variant just created).
        if data.variants.values().all(|v| v.segments.is_empty()) {
            return Err(ApiError::not_found("nothing ingested on this channel yet"));
        }
        let text = render::master_playlist(data.master.as_ref(), &data.variants, ep, &query_of(q)?);
        return Ok(respond(
            Bytes::from(text),
            cache::M3U8,
            cache::live_playlist(td),
        ));
    }
    if let Some(name) = path.strip_suffix(".m3u8") {
        let (slug, iframes) = match name.strip_suffix("_iframes") {
            Some(slug) => (slug, true),
            None => (name, false),
        };
        return media(s, &ch, channel, endpoint, slug, iframes, q, shift_key).await;
    }
    // <slug>/<seq>.<ext>
    let (slug, file) = path
        .rsplit_once('/')
        .ok_or_else(|| ApiError::not_found(format!("{path:?} not found")))?;
    if let Some(id) = file
        .strip_prefix("init_")
        .and_then(|f| f.strip_suffix(".mp4"))
    {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let init = data
            .variants
            .values()
            .find(|v| v.slug == slug)
            .filter(|_| ep.packaging == Packaging::Cmaf)
            .and_then(|v| v.cmaf.inits.get(id))
            .ok_or_else(|| ApiError::not_found(format!("init segment {file:?} not found")))?;
        let bytes = init.bytes.clone();
        drop(data);
        return Ok(with_range(bytes, cache::MP4, headers));
    }
    let (seq, ext) = file
        .split_once('.')
        .and_then(|(n, e)| Some((n.parse::<u64>().ok()?, e)))
        .ok_or_else(|| ApiError::not_found(format!("{path:?} not found")))?;
    // Under the lock: the endpoint's settings (Copy), the segment's place, and, when the
    // store can answer at once (memory), its bytes; no record is cloned.
    let (encryption, start, bytes, found) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let v = data
            .variants
            .values()
            .find(|v| v.slug == slug)
            .ok_or_else(|| ApiError::not_found(format!("variant {slug:?} not found")))?;
        let meta = v
            .segments
            .get(&seq)
            .ok_or_else(|| ApiError::not_found(format!("segment {seq} is not in the window")))?;
        let (bytes, found) = if ep.packaging == Packaging::Cmaf {
            (None, Found::Cmaf(v.key.clone(), meta.key.clone()))
        } else {
            match s.store.get_now(&meta.key) {
                Some(b) => (b, Found::Ready(meta.key.clone())),
                None => (None, Found::Fetch(meta.key.clone())),
            }
        };
        (ep.encryption, meta.start, bytes, found)
    };
    if let Found::Cmaf(variant, key) = found {
        if ext != "m4s" {
            return Err(ApiError::not_found(format!(
                "{file:?}: this endpoint serves CMAF fragments (.m4s)"
            )));
        }
        s.ensure_cmaf(&ch, &variant, vec![(seq, key)]).await?;
        let bytes = ch
            .lock()
            .variants
            .get(&variant)
            .and_then(|v| v.cmaf.segs.get(&seq).cloned().flatten())
            .map(|m| m.bytes.clone())
            .ok_or_else(|| {
                ApiError::not_found(format!("segment {seq} is not available as CMAF"))
            })?;
        s.segments_served().increment(1);
        return Ok(with_range(bytes, cache::M4S, headers));
    }
    let evicted = || ApiError::not_found(format!("segment {seq} was evicted"));
    let bytes = if let Encryption::Aes128 {
        key_rotation_seconds,
    } = encryption
    {
        // Encrypted once per (endpoint, segment) on the blocking pool; concurrent requests
        // share the run, later ones the kept result.
        let kid = crate::keys::Keys::key_id(start, key_rotation_seconds);
        let key = s.keys.key(channel, endpoint, kid);
        let iv = media::aes::iv_from_sequence(seq);
        let (store, store_key) = (s.store.clone(), found.store_key());
        let id = format!(
            "{channel}\n{endpoint}\n{store_key}\n{}\n{kid}",
            start.timestamp_micros()
        );
        s.aes
            .get_or_run(&id, async move {
                let plain = match bytes {
                    Some(b) => b,
                    None => store
                        .get(&store_key)
                        .await?
                        .ok_or_else(|| crate::OriginError::not_found(format!("segment {seq}")))?,
                };
                crate::work::blocking(move || {
                    Bytes::from(media::aes::encrypt_segment(&plain, &key, &iv))
                })
                .await
            })
            .await
            .map_err(|e| match e {
                crate::OriginError::NotFound { .. } => evicted(),
                e => ApiError::from(e),
            })?
    } else {
        let bytes = match found {
            Found::Fetch(key) => s.store.get(&key).await.map_err(ApiError::from)?,
            _ => bytes,
        };
        bytes.ok_or_else(evicted)?
    };
    s.segments_served().increment(1);
    let ct = if file.ends_with(".ts") {
        cache::TS
    } else {
        cache::content_type_for(file)
    };
    Ok(with_range(bytes, ct, headers))
}

/// The playback query a master carries into the URIs it names: `?k=v&...` (sorted,
/// percent-encoded), empty without one. `start` / `end` are checked here so a bad time is
/// refused on the master, not on every playlist it names.
fn query_of(q: &HashMap<String, String>) -> Result<String, ApiError> {
    if q.is_empty() {
        return Ok(String::new());
    }
    for field in ["start", "end"] {
        if let Some(v) = q.get(field) {
            parse_time(field, v)?;
        }
    }
    if q.contains_key("end") && !q.contains_key("start") {
        return Err(ApiError::bad_field("start", "end needs start"));
    }
    let mut pairs: Vec<(&String, &String)> = q.iter().collect();
    pairs.sort();
    let mut out = url::form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    Ok(out.finish())
}

/// Where a TS/CMAF segment's bytes come from, decided under the channel lock.
enum Found {
    /// Read from the store already (`Store::get_now`) under this key.
    Ready(String),
    /// Fetch from the store under this key.
    Fetch(String),
    /// CMAF endpoint: (variant key, store key of the TS).
    Cmaf(String, String),
}

impl Found {
    fn store_key(&self) -> String {
        match self {
            Found::Ready(k) | Found::Fetch(k) | Found::Cmaf(_, k) => k.clone(),
        }
    }
}

/// Serve `bytes`, honouring a single `Range: bytes=a-b` (I-frame playlists use ranges).
fn with_range(bytes: Bytes, ct: &'static str, headers: &HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .filter(|v| !v.contains(','));
    let len = bytes.len() as u64;
    let mut resp = match range.and_then(|r| r.split_once('-')) {
        Some((a, b)) => {
            let (start, end) = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
                (Some(a), Some(b)) => (a, b.min(len.saturating_sub(1))),
                (Some(a), None) => (a, len.saturating_sub(1)),
                (None, Some(n)) => (len.saturating_sub(n), len.saturating_sub(1)),
                (None, None) => (1, 0),
            };
            if start > end || start >= len {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
            let mut r = (
                StatusCode::PARTIAL_CONTENT,
                bytes.slice(start as usize..=end as usize),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        None => bytes.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache::IMMUTABLE),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    resp
}

fn find_ep<'a>(eps: &'a [EndpointSpec], id: &str) -> Result<&'a EndpointSpec, ApiError> {
    eps.iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::not_found(format!("endpoint {id:?} not found")))
}

/// A media playlist (live, start-over, time-shifted, I-frame). `shift_key`: the snapshot
/// key of a time-shifted request (see [`out`]); its render is published there.
#[allow(clippy::too_many_arguments)]
async fn media(
    s: &Shared,
    ch: &crate::Channel,
    channel: &str,
    endpoint: &str,
    slug: &str,
    iframes: bool,
    q: &HashMap<String, String>,
    shift_key: Option<&str>,
) -> Result<Response, ApiError> {
    let start = q.get("start").map(|v| parse_time("start", v)).transpose()?;
    let end = q.get("end").map(|v| parse_time("end", v)).transpose()?;
    // CMAF: first remux (outside the lock) what the playlist will list.
    let prep = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let v = data
            .variants
            .values()
            .find(|v| v.slug == slug)
            .ok_or_else(|| ApiError::not_found(format!("variant {slug:?} not found")))?;
        if ep.packaging == Packaging::Cmaf {
            let span = span_of(v, ep, start, end)?;
            let cached = span == Span::Live
                && !iframes
                && v.live_cache
                    .get(&ep.id)
                    .is_some_and(|(ver, _)| *ver == v.version);
            let (segs, _) = render::select(v, ep, span);
            let wanted: Vec<(u64, String)> = if cached {
                Vec::new()
            } else {
                segs.iter().map(|m| (m.seq, m.key.clone())).collect()
            };
            Some((v.key.clone(), wanted))
        } else {
            None
        }
    };
    if let Some((variant, wanted)) = prep
        && !wanted.is_empty()
    {
        s.ensure_cmaf(ch, &variant, wanted).await?;
    }
    let mut guard = ch.lock();
    // Only `live_cache` is written below: that does not change what is served.
    let data = guard.cache_mut();
    let ep = find_ep(&data.endpoints, endpoint)?.clone();
    let v = data
        .variants
        .values_mut()
        .find(|v| v.slug == slug)
        .ok_or_else(|| ApiError::not_found(format!("variant {slug:?} not found")))?;
    if iframes && (!ep.i_frames || !matches!(ep.encryption, Encryption::None)) {
        return Err(ApiError::not_found(
            "this endpoint has no I-frame-only playlists (i_frames off or encrypted)",
        ));
    }
    let span = span_of(v, &ep, start, end)?;
    let cmaf = (ep.packaging == Packaging::Cmaf).then_some(());
    let ctx = Ctx {
        channel,
        endpoint: &ep,
        keys: &s.keys,
    };
    let td = v.target_duration.max(1);
    if iframes {
        let (segs, closed) = render::select(v, &ep, span);
        let text = render::iframe_playlist(v, &segs, span, closed, cmaf.map(|_| &v.cmaf));
        let cc = if closed {
            cache::CLOSED_PLAYLIST.to_string()
        } else {
            cache::live_playlist(td)
        };
        return Ok(respond(Bytes::from(text), cache::M3U8, cc));
    }
    if span == Span::Live {
        if let Some((ver, bytes)) = v.live_cache.get(&ep.id)
            && *ver == v.version
        {
            let pl = Arc::new(LivePlaylist {
                body: bytes.clone(),
                cache_control: live_cache_control(td),
            });
            let resp = live_response(&pl);
            guard.publish(endpoint, slug, pl);
            return Ok(resp);
        }
        let (mut segs, _) = render::select(v, &ep, span);
        let mut complete = true;
        if cmaf.is_some() {
            // A segment that arrived after the remux pass waits for the next request
            // rather than showing up as a GAP at the live edge.
            while segs
                .last()
                .is_some_and(|m| !v.cmaf.segs.contains_key(&m.seq))
            {
                segs.pop();
                complete = false;
            }
        }
        let text = Bytes::from(render::media_playlist(
            &ctx,
            v,
            &segs,
            span,
            false,
            cmaf.map(|_| &v.cmaf),
        ));
        metrics::counter!("origin_live_playlists_rendered_total").increment(1);
        let pl = Arc::new(LivePlaylist {
            body: text,
            cache_control: live_cache_control(td),
        });
        let resp = live_response(&pl);
        if complete {
            let version = v.version;
            v.live_cache
                .insert(ep.id.clone(), (version, pl.body.clone()));
            guard.publish(endpoint, slug, pl);
        }
        return Ok(resp);
    }
    let (segs, closed) = render::select(v, &ep, span);
    let text = render::media_playlist(&ctx, v, &segs, span, closed, cmaf.map(|_| &v.cmaf));
    let pl = Arc::new(LivePlaylist {
        body: Bytes::from(text),
        cache_control: if closed {
            HeaderValue::from_static(cache::CLOSED_PLAYLIST)
        } else {
            live_cache_control(td)
        },
    });
    metrics::counter!("origin_shifted_playlists_rendered_total").increment(1);
    let resp = live_response(&pl);
    // Rendered from the data as it is under this lock, so it stays valid until the channel
    // changes (the snapshot is dropped then). CMAF playlists are not kept: a fragment
    // remuxed later changes a GAP entry without changing the channel.
    if let Some(key) = shift_key
        && cmaf.is_none()
    {
        guard.publish(endpoint, key, pl);
    }
    Ok(resp)
}

/// What `start` / `end` ask for, checked against the endpoint's windows.
fn span_of(
    v: &crate::timeline::Variant,
    ep: &EndpointSpec,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<Span, ApiError> {
    let edge =
        render::live_edge(v, ep).ok_or_else(|| ApiError::not_found("no segments ingested yet"))?;
    Ok(match (start, end) {
        (None, None) => Span::Live,
        (None, Some(_)) => return Err(ApiError::bad_field("start", "end needs start")),
        (Some(a), b) => {
            let window_start = edge - chrono::Duration::seconds(ep.startover_window_seconds as i64);
            let slack = chrono::Duration::seconds(v.target_duration as i64);
            if ep.startover_window_seconds == 0 {
                return Err(ApiError::bad_field(
                    "start",
                    "this endpoint has no startover window",
                ));
            }
            if a < window_start - slack {
                return Err(ApiError::bad_field(
                    "start",
                    format!(
                        "start {} is before the startover window (earliest {})",
                        a.to_rfc3339(),
                        window_start.to_rfc3339()
                    ),
                ));
            }
            if a >= edge {
                return Err(ApiError::bad_field(
                    "start",
                    format!(
                        "start {} is after the live edge {}",
                        a.to_rfc3339(),
                        edge.to_rfc3339()
                    ),
                ));
            }
            match b {
                None => Span::From(a),
                Some(b) if b <= a => {
                    return Err(ApiError::bad_field("end", "end must be after start"));
                }
                Some(b) if b - a > chrono::Duration::hours(24) => {
                    return Err(ApiError::bad_field(
                        "end",
                        "a time-shifted span is at most 24 hours",
                    ));
                }
                Some(b) => Span::Between(a, b),
            }
        }
    })
}

/// `GET /keys/{channel}/{endpoint}/{kid}?token=...`: the 16-byte AES-128 key.
pub async fn key(
    State(s): State<Arc<Shared>>,
    Path((channel, endpoint, kid)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ch = s.channel(&channel)?;
    {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, &endpoint)?;
        if !matches!(ep.encryption, Encryption::Aes128 { .. }) {
            return Err(ApiError::not_found("this endpoint is not encrypted"));
        }
    }
    let kid: u64 = kid
        .parse()
        .map_err(|_| ApiError::bad_field("key_id", "not a key id"))?;
    let token = q.get("token").ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "token required").with_field("token")
    })?;
    if !s.keys.check_token(&channel, &endpoint, kid, token) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong token").with_field("token"));
    }
    let key = s.keys.key(&channel, &endpoint, kid);
    Ok(respond(
        Bytes::copy_from_slice(&key),
        cache::KEY,
        "private, max-age=300".into(),
    ))
}
