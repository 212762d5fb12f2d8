//! `GET /out/{channel}/{endpoint}/...`: master, media (live / start-over / time-shift) and
//! I-frame playlists, and segments; `GET /keys/...` for AES-128 keys.

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use web::{ApiError, cache};

use crate::drm::{Drm, DrmMethod};
use crate::model::{Encryption, EndpointSpec, Packaging};
use crate::out_path::{OutFile, OutPathError, OutRequest};
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

pub(crate) fn respond(body: Bytes, content_type: &'static str, cache_control: String) -> Response {
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
/// The path is parsed once ([`OutRequest`]). Hot path: no header copy, no `String`s for
/// the path parts; a live media playlist without a query, and a time-shifted one
/// (`?start=`, `?start=&end=`) already rendered since the channel last changed, are
/// answered from the channel's ready snapshot ([`crate::Channel::live_playlist`]) without
/// taking the channel lock or parsing the query. Anything else, or a snapshot miss, goes
/// through [`out_inner`].
pub async fn out(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let r = match OutRequest::parse(parts.uri.path()) {
        Ok(r) => r,
        Err(OutPathError::NotFound) => {
            return ApiError::not_found(format!("{:?} not found", parts.uri.path()))
                .into_response();
        }
        Err(OutPathError::BadEncoding) => {
            return ApiError::bad_field("path", "percent-encoding is not UTF-8").into_response();
        }
    };
    // A time-shifted playlist's snapshot key: `<slug>.m3u8?<query>` exactly as requested
    // (the tail of the request's path and query, where the two are contiguous).
    let shift_key = match (&r.file, parts.uri.query()) {
        (f, Some(query)) if f.is_media_playlist() => {
            let all = pq(&parts.uri);
            all.len()
                .checked_sub(r.raw_file.len() + 1 + query.len())
                .map(|at| &all[at..])
                .filter(|k| k.starts_with(r.raw_file))
        }
        _ => None,
    };
    if let Some(key) = shift_key
        && let Some(pl) = s.live_playlist(&r.channel, &r.endpoint, key)
    {
        return live_response(&pl);
    }
    if let (OutFile::Media { slug }, None) = (&r.file, parts.uri.query())
        && let Some(pl) = s.live_playlist(&r.channel, &r.endpoint, slug)
    {
        return live_response(&pl);
    }
    let q: HashMap<String, String> = match parts.uri.query() {
        None => HashMap::new(),
        Some(_) => match Query::try_from_uri(&parts.uri) {
            Ok(Query(q)) => q,
            Err(rejection) => return rejection.into_response(),
        },
    };
    match out_inner(&s, &r, &q, shift_key, &parts.headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The request's path and query as sent (relative to the router's nesting prefix).
fn pq(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or("", |pq| pq.as_str())
}

fn live_response(pl: &LivePlaylist) -> Response {
    let mut r = Response::new(Body::from(pl.body.clone()));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(cache::M3U8));
    h.insert(header::CACHE_CONTROL, pl.cache_control.clone());
    r
}

/// Dispatches a parsed request: one arm per kind of file.
async fn out_inner(
    s: &Shared,
    r: &OutRequest<'_>,
    q: &HashMap<String, String>,
    shift_key: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let ch = s.channel(&r.channel)?;
    let (channel, endpoint) = (r.channel.as_ref(), r.endpoint.as_ref());
    let dash = find_ep(&ch.lock().endpoints, endpoint)?.packaging == Packaging::Dash;
    match r.file {
        OutFile::Mpd if dash => crate::dash::serve::mpd(s, &ch, endpoint, q).await,
        OutFile::Mpd => Err(ApiError::not_found(
            "this endpoint serves HLS (index.m3u8); MPDs are on dash endpoints",
        )),
        OutFile::Master | OutFile::Media { .. } | OutFile::IFrames { .. } if dash => Err(
            ApiError::not_found("this endpoint serves DASH (index.mpd), not HLS playlists"),
        ),
        OutFile::Master => master(s, &ch, channel, endpoint, q).await,
        // The endpoint's `manifest_name` (MediaPackage's `ManifestName`) names its master too.
        OutFile::Media { slug } if is_manifest_name(&ch, endpoint, slug) => {
            master(s, &ch, channel, endpoint, q).await
        }
        OutFile::Media { slug } => {
            media(s, &ch, channel, endpoint, slug, false, q, shift_key).await
        }
        OutFile::IFrames { slug } => media(s, &ch, channel, endpoint, slug, true, q, None).await,
        OutFile::Init { slug, name } => {
            init_segment(s, &ch, channel, endpoint, slug, name, headers).await
        }
        OutFile::Segment { slug, seq, ext } => {
            segment(s, &ch, channel, endpoint, slug, seq, ext, headers).await
        }
    }
}

fn is_manifest_name(ch: &crate::Channel, endpoint: &str, slug: &str) -> bool {
    slug != crate::model::DEFAULT_MANIFEST_NAME
        && ch
            .lock()
            .endpoints
            .iter()
            .any(|e| e.id == endpoint && e.manifest_name.as_deref() == Some(slug))
}

/// `index.m3u8` (or `<manifest_name>.m3u8`).
async fn master(
    s: &Shared,
    ch: &crate::Channel,
    channel: &str,
    endpoint: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    {
        let session_keys = session_keys(s, ch, channel, endpoint, q).await?;
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
            s.ensure_cmaf(ch, &variant, vec![(seq, key)]).await?;
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
        let text = render::master_playlist(
            data.master.as_ref(),
            &data.variants,
            ep,
            &query_of(q)?,
            session_keys,
        );
        Ok(respond(
            Bytes::from(text),
            cache::M3U8,
            cache::live_playlist(td),
        ))
    }
}

/// The `EXT-X-SESSION-KEY` attributes of an encrypted endpoint's master: the keys of the
/// period the playlists it names start in (the live window's oldest segment, or `start`).
async fn session_keys(
    s: &Shared,
    ch: &crate::Channel,
    channel: &str,
    endpoint: &str,
    q: &HashMap<String, String>,
) -> Result<Vec<hls::AttributeList>, ApiError> {
    let start = q.get("start").map(|v| parse_time("start", v)).transpose()?;
    let (drm, at) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let Some(drm) = Drm::of(ep) else {
            return Ok(Vec::new());
        };
        let first = data.variants.values().find_map(|v| {
            let (segs, _) = render::select(v, ep, render::Span::Live);
            segs.first().map(|m| m.start)
        });
        (drm, start.or(first))
    };
    let Some(at) = at else {
        return Ok(Vec::new());
    };
    let period = drm.period(at);
    let keys = s
        .period_keys(channel, endpoint, &drm, period)
        .await
        .map_err(ApiError::from)?;
    let iv = (drm.method == DrmMethod::TsSampleAes)
        .then(|| crate::drm::constant_iv(&drm.settings, &keys));
    Ok(crate::drm::key_attrs(drm.method, &keys, iv))
}

/// `<slug>/<seq>.<ext>`: a TS segment or CMAF fragment, clear or encrypted.
#[allow(clippy::too_many_arguments)]
async fn segment(
    s: &Shared,
    ch: &crate::Channel,
    channel: &str,
    endpoint: &str,
    slug: &str,
    seq: u64,
    ext: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let file = format!("{seq}.{ext}");
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
        let (bytes, found) = if ep.packaging.is_fmp4() {
            (None, Found::Cmaf(v.key.clone(), meta.key.clone()))
        } else {
            match s.store.get_now(&meta.key) {
                Some(b) => (b, Found::Ready(meta.key.clone())),
                None => (None, Found::Fetch(meta.key.clone())),
            }
        };
        (ep.encryption.clone(), meta.start, bytes, found)
    };
    let drm = match &encryption {
        Encryption::SampleAes(d) | Encryption::AesCtr(d) => Some(Drm {
            method: DrmMethod::of(&encryption, matches!(found, Found::Cmaf(..)))
                .ok_or_else(|| ApiError::not_found("AES_CTR is for CMAF endpoints"))?,
            settings: d.clone(),
        }),
        _ => None,
    };
    if let Found::Cmaf(variant, key) = found {
        if ext != "m4s" {
            return Err(ApiError::not_found(format!(
                "{file:?}: this endpoint serves CMAF fragments (.m4s)"
            )));
        }
        s.ensure_cmaf(ch, &variant, vec![(seq, key)]).await?;
        let (bytes, init) = {
            let data = ch.lock();
            let v = data.variants.get(&variant);
            let seg = v
                .and_then(|v| v.cmaf.segs.get(&seq).cloned().flatten())
                .ok_or_else(|| {
                    ApiError::not_found(format!("segment {seq} is not available as CMAF"))
                })?;
            let init = v.and_then(|v| v.cmaf.inits.get(&seg.init_id).map(|i| i.bytes.clone()));
            (seg.bytes.clone(), init)
        };
        let bytes = match (&drm, init) {
            (None, _) => bytes,
            (Some(drm), Some(init)) => {
                s.encrypted_fragment(channel, endpoint, drm, drm.period(start), seq, init, bytes)
                    .await?
            }
            (Some(_), None) => return Err(ApiError::not_found("init segment evicted")),
        };
        s.segments_served().increment(1);
        return Ok(with_range(bytes, cache::M4S, headers));
    }
    let evicted = || ApiError::not_found(format!("segment {seq} was evicted"));
    let bytes = if let Some(drm) = &drm {
        let period = drm.period(start);
        s.sample_aes_ts(channel, endpoint, drm, period, found.store_key(), bytes)
            .await
            .map_err(|e| match e {
                crate::OriginError::NotFound { .. } => evicted(),
                e => ApiError::from(e),
            })?
    } else if let Encryption::Aes128 {
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
    let ct = if ext == "ts" {
        cache::TS
    } else {
        cache::content_type_for(&file)
    };
    Ok(with_range(bytes, ct, headers))
}

/// `<slug>/init_<id>.mp4` (clear CMAF) or `<slug>/init_<id>_<period>.mp4` (an encrypted
/// endpoint's init for a key period).
async fn init_segment(
    s: &Shared,
    ch: &crate::Channel,
    channel: &str,
    endpoint: &str,
    slug: &str,
    name: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found(format!("init segment {name:?} not found"));
    let (bytes, drm) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let drm = Drm::of(ep);
        let id = match &drm {
            Some(_) => name
                .rsplit_once('_')
                .map(|(id, _)| id)
                .ok_or_else(missing)?,
            None => name,
        };
        let init = data
            .variants
            .values()
            .find(|v| v.slug == slug)
            .filter(|_| ep.packaging.is_fmp4())
            .and_then(|v| v.cmaf.inits.get(id))
            .ok_or_else(missing)?;
        (init.bytes.clone(), drm)
    };
    let bytes = match drm {
        None => bytes,
        Some(drm) => {
            let (id, period) = name
                .rsplit_once('_')
                .and_then(|(id, p)| Some((id, p.parse::<u64>().ok()?)))
                .ok_or_else(missing)?;
            s.encrypted_init(channel, endpoint, &drm, period, id, bytes)
                .await?
        }
    };
    Ok(with_range(bytes, cache::MP4, headers))
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

pub(crate) fn find_ep<'a>(eps: &'a [EndpointSpec], id: &str) -> Result<&'a EndpointSpec, ApiError> {
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
    // CMAF: first remux (outside the lock) what the playlist will list; DRM: the keys of
    // the periods it lists.
    let (prep, drm) = {
        let data = ch.lock();
        let ep = find_ep(&data.endpoints, endpoint)?;
        let v = data
            .variants
            .values()
            .find(|v| v.slug == slug)
            .ok_or_else(|| ApiError::not_found(format!("variant {slug:?} not found")))?;
        let drm = Drm::of(ep);
        if ep.packaging == Packaging::Cmaf || drm.is_some() {
            let span = span_of(v, ep, start, end)?;
            let cached = span == Span::Live
                && !iframes
                && v.live_cache
                    .get(&ep.id)
                    .is_some_and(|(ver, _)| *ver == v.version);
            let (segs, _) = if cached {
                (Vec::new(), false)
            } else {
                render::select(v, ep, span)
            };
            let wanted: Vec<(u64, String)> = segs.iter().map(|m| (m.seq, m.key.clone())).collect();
            let drm = drm.map(|d| {
                let periods: Vec<(u64, u64)> =
                    segs.iter().map(|m| (m.seq, d.period(m.start))).collect();
                (d, periods)
            });
            let cmaf = (ep.packaging == Packaging::Cmaf).then(|| (v.key.clone(), wanted));
            (cmaf, drm)
        } else {
            (None, None)
        }
    };
    if let Some((variant, wanted)) = prep
        && !wanted.is_empty()
    {
        s.ensure_cmaf(ch, &variant, wanted).await?;
    }
    let periods = match &drm {
        Some((d, periods)) => {
            let wanted: Vec<u64> = periods.iter().map(|p| p.1).collect();
            s.keys_of_periods(channel, endpoint, d, wanted).await?
        }
        None => Default::default(),
    };
    // An encrypted endpoint's I-frame playlist: ranges in the encrypted segments.
    let enc_ranges = match &drm {
        Some((d, wanted)) if iframes => {
            s.iframe_ranges(ch, (channel, endpoint, slug), d, wanted)
                .await
        }
        _ => Default::default(),
    };
    let mut guard = ch.lock();
    // Only `live_cache` is written below: that does not change what is served.
    let data = guard.cache_mut();
    let ep = find_ep(&data.endpoints, endpoint)?.clone();
    let v = data
        .variants
        .values_mut()
        .find(|v| v.slug == slug)
        .ok_or_else(|| ApiError::not_found(format!("variant {slug:?} not found")))?;
    if iframes && (!ep.i_frames || matches!(ep.encryption, Encryption::Aes128 { .. })) {
        return Err(ApiError::not_found(
            "this endpoint has no I-frame-only playlists (i_frames off, or AES-128)",
        ));
    }
    let span = span_of(v, &ep, start, end)?;
    let cmaf = (ep.packaging == Packaging::Cmaf).then_some(());
    let ctx = Ctx {
        channel,
        endpoint: &ep,
        keys: &s.keys,
        drm: drm.as_ref().map(|(d, _)| (d, &periods)),
    };
    let td = v.target_duration.max(1);
    if iframes {
        let (segs, closed) = render::select(v, &ep, span);
        let enc = drm.as_ref().map(|(d, _)| render::EncIFrames {
            drm: d,
            periods: &periods,
            ranges: enc_ranges,
        });
        let text =
            render::iframe_playlist(v, &segs, span, closed, cmaf.map(|_| &v.cmaf), enc.as_ref());
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
    // changes (every change bumps its version, which retires the snapshot). CMAF playlists
    // are not kept: a fragment remuxed later changes a GAP entry.
    if let Some(key) = shift_key
        && cmaf.is_none()
    {
        guard.publish(endpoint, key, pl);
    }
    Ok(resp)
}

/// What `start` / `end` ask for, checked against the endpoint's windows.
pub(crate) fn span_of(
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
        // AES-128, and DRM endpoints whose keys the origin derives itself (never keys of a
        // key provider: those go to players through the DRM system's licence server).
        let derived = ep
            .encryption
            .drm()
            .is_some_and(|d| d.speke_key_provider.is_none());
        if !matches!(ep.encryption, Encryption::Aes128 { .. }) && !derived {
            return Err(ApiError::not_found(
                "this endpoint has no keys on this origin",
            ));
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
