//! Rendering endpoint playlists from a timeline. Pure: the caller picks the segments
//! (by time) and passes the endpoint's settings.

use chrono::{DateTime, SecondsFormat, Utc};
use hls::{
    AttributeList, DateRange, Key, Marker, MasterPlaylist, MediaPlaylist, PlaylistType, Segment,
};

use crate::cmaf::CmafCache;
use crate::drm::{Drm, DrmMethod, PeriodKeys, constant_iv, key_attrs};
use crate::keys::Keys;
use crate::model::{AdMarkers, Encryption, EndpointSpec, Packaging};
use crate::timeline::{AdMark, SegMeta, Variant, secs};

/// What a media playlist request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    /// The live window.
    Live,
    /// From `start` to the live edge, growing (EVENT).
    From(DateTime<Utc>),
    /// From `start` to `end`: VOD (ENDLIST) once `end` is behind the live edge.
    Between(DateTime<Utc>, DateTime<Utc>),
}

/// The live edge of a variant for an endpoint: newest segment end minus the time delay.
pub fn live_edge(v: &Variant, ep: &EndpointSpec) -> Option<DateTime<Utc>> {
    Some(v.newest_end()? - chrono::Duration::seconds(ep.time_delay_seconds as i64))
}

/// Select the segments of `span`. Returns the segments and whether the playlist is closed.
pub fn select<'a>(v: &'a Variant, ep: &EndpointSpec, span: Span) -> (Vec<&'a SegMeta>, bool) {
    let Some(edge) = live_edge(v, ep) else {
        return (Vec::new(), false);
    };
    let eps = secs(0.001);
    let upto: Vec<&SegMeta> = v
        .segments
        .values()
        .filter(|s| s.end() <= edge + eps)
        .collect();
    match span {
        Span::Live => {
            let from = edge - chrono::Duration::seconds(ep.manifest_window_seconds as i64);
            let mut n = upto.iter().filter(|s| s.end() > from + eps).count();
            n = n.max(3).min(upto.len());
            (upto[upto.len() - n..].to_vec(), false)
        }
        Span::From(start) => (
            upto.into_iter().filter(|s| s.end() > start + eps).collect(),
            false,
        ),
        Span::Between(start, end) => {
            let segs = upto
                .into_iter()
                .filter(|s| s.end() > start + eps && s.start < end - eps)
                .collect();
            (segs, end <= edge)
        }
    }
}

/// Per-request context for rendering.
pub struct Ctx<'a> {
    pub channel: &'a str,
    pub endpoint: &'a EndpointSpec,
    pub keys: &'a Keys,
    /// A DRM-encrypted endpoint: its settings and the keys of every period listed.
    pub drm: Option<(&'a Drm, &'a PeriodMap)>,
}

/// Keys by key period.
pub type PeriodMap = std::collections::BTreeMap<u64, std::sync::Arc<PeriodKeys>>;

fn pdt(t: DateTime<Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    t.fixed_offset()
}

/// Whether segment `s` carries `EXT-X-PROGRAM-DATE-TIME`: always without an interval;
/// with one, on the first segment, on each discontinuity and once `interval` seconds
/// passed since the last tag.
fn pdt_due(interval: Option<u64>, last: Option<DateTime<Utc>>, s: &SegMeta) -> bool {
    match (interval, last) {
        (Some(i), Some(last)) if !s.discontinuity => {
            (s.start - last).num_milliseconds() >= (i as i64) * 1000
        }
        _ => true,
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Render a media playlist of `segs` (in sequence order).
///
/// With `cmaf` (a CMAF endpoint) segments point at `.m4s` fragments, `EXT-X-MAP` names the
/// init at the start, after each discontinuity and wherever the init changes, and a segment
/// that did not remux (or is not remuxed yet) is listed as `EXT-X-GAP`.
pub fn media_playlist(
    ctx: &Ctx<'_>,
    v: &Variant,
    segs: &[&SegMeta],
    span: Span,
    closed: bool,
    cmaf: Option<&CmafCache>,
) -> String {
    let ep = ctx.endpoint;
    let mut pl = MediaPlaylist {
        // KEYFORMAT (DRM) needs version 5 (RFC 8216 section 7).
        version: Some(if cmaf.is_some() {
            7
        } else if ctx.drm.is_some() {
            5
        } else {
            3
        }),
        independent_segments: cmaf.is_some(),
        target_duration: Some(
            v.target_duration
                .max(
                    segs.iter()
                        .map(|s| s.duration.round() as u64)
                        .max()
                        .unwrap_or(1),
                )
                .max(1),
        ),
        media_sequence: segs.first().map(|s| s.seq).unwrap_or(0),
        discontinuity_sequence: segs.first().map(|s| disc_before(s)).unwrap_or(0),
        playlist_type: match span {
            Span::Live => None,
            _ if closed => Some(PlaylistType::Vod),
            _ => Some(PlaylistType::Event),
        },
        end_list: closed,
        ..Default::default()
    };
    let mut last_key: Option<u64> = None;
    let mut last_init: Option<String> = None;
    let mut last_pdt: Option<DateTime<Utc>> = None;
    let mut expected = segs.first().map(|s| s.seq);
    for s in segs {
        // A CMAF fragment not remuxed yet ends the playlist (see `iframe_playlist`).
        if let Some(c) = cmaf
            && !c.segs.contains_key(&s.seq)
            && !pl.segments.is_empty()
        {
            break;
        }
        let ext = if cmaf.is_some() {
            "m4s"
        } else {
            s.ext.as_str()
        };
        // A hole (neither ingest delivered the sequence): keep numbering with GAP entries.
        while let Some(e) = expected.filter(|e| *e < s.seq) {
            let mut gap = Segment::new(format!("{}/{e}.{ext}", v.slug), s.duration);
            gap.gap = true;
            pl.segments.push(gap);
            expected = Some(e + 1);
        }
        expected = Some(s.seq + 1);
        let mut seg = Segment::new(format!("{}/{}.{ext}", v.slug, s.seq), s.duration);
        // Also on the first segment: its tag counts in its number (RFC 8216 4.3.3.3), and a
        // tag that stays until its segment leaves keeps every number stable (6.2.2).
        seg.discontinuity = s.discontinuity;
        // DRM: the segment's key period (a new EXT-X-KEY, and a new init, at each change).
        // A segment of a period whose keys were not fetched for this render (it arrived
        // since) ends the playlist: it is listed by the next one, never under other keys.
        let period = ctx.drm.map(|(d, _)| d.period(s.start));
        if let (Some((_, periods)), Some(p)) = (ctx.drm, period)
            && !periods.contains_key(&p)
        {
            break;
        }
        if let Some(c) = cmaf {
            match c.segs.get(&s.seq).and_then(Option::as_ref) {
                Some(m) => {
                    let file = match period {
                        Some(p) => crate::cmaf::encrypted_init_file(&m.init_id, p),
                        None => crate::cmaf::init_file(&m.init_id),
                    };
                    if seg.discontinuity || last_init.as_deref() != Some(file.as_str()) {
                        seg.map = Some(hls::Map::new(format!("{}/{file}", v.slug), None));
                        last_init = Some(file);
                    }
                }
                None => seg.gap = true,
            }
        }
        if let (Some((drm, periods)), Some(p)) = (ctx.drm, period)
            && last_key != Some(p)
            && let Some(keys) = periods.get(&p)
        {
            let iv =
                (drm.method == DrmMethod::TsSampleAes).then(|| constant_iv(&drm.settings, keys));
            for a in key_attrs(drm.method, keys, iv) {
                seg.keys.push(Key { attrs: a });
            }
            last_key = Some(p);
        }
        if pdt_due(ep.program_date_time_interval_seconds, last_pdt, s) {
            seg.program_date_time = Some(pdt(s.start));
            last_pdt = Some(s.start);
        }
        if let Encryption::Aes128 {
            key_rotation_seconds,
        } = ep.encryption
        {
            let kid = Keys::key_id(s.start, key_rotation_seconds);
            if last_key != Some(kid) {
                let token = ctx.keys.token(ctx.channel, &ep.id, kid);
                seg.keys.push(Key::aes128(
                    format!(
                        "../../../keys/{}/{}/{kid}?token={token}",
                        ctx.channel, ep.id
                    ),
                    None,
                ));
                last_key = Some(kid);
            }
        }
        ad_tags(ep.ad_markers, s, &mut seg);
        pl.segments.push(seg);
    }
    let mut out = String::with_capacity(64 + 120 * pl.segments.len());
    pl.write_to(&mut out);
    out
}

/// Render an I-frame-only playlist: one entry per segment (its first keyframe; its
/// number is the segment's number), `EXT-X-BYTERANGE` into the segment and `EXT-X-MAP` with the segment's PAT/PMT range so each range decodes alone.
///
/// With `cmaf`, ranges come from the remuxed fragment (`moof` through the keyframe's
/// sample) and `EXT-X-MAP` is the init segment.
///
/// With `enc` (a DRM endpoint), ranges are those of the encrypted segments (encryption
/// grows a `moof`, and a TS SAMPLE-AES PES), the init is the period's encrypted one, and
/// `EXT-X-KEY` is written where the key period changes, as in [`media_playlist`]; a segment
/// without an encrypted range is a GAP entry, one of a period without keys ends the list.
pub fn iframe_playlist(
    v: &Variant,
    segs: &[&SegMeta],
    span: Span,
    closed: bool,
    cmaf: Option<&CmafCache>,
    enc: Option<&EncIFrames<'_>>,
) -> String {
    let mut pl = MediaPlaylist {
        // EXT-X-MAP in an I-frames-only playlist needs version 5 (RFC 8216 section 7).
        version: Some(if cmaf.is_some() { 7 } else { 5 }),
        independent_segments: cmaf.is_some(),
        target_duration: Some(v.target_duration.max(1)),
        media_sequence: 0,
        discontinuity_sequence: 0,
        i_frames_only: true,
        playlist_type: match span {
            Span::Live => None,
            _ if closed => Some(PlaylistType::Vod),
            _ => Some(PlaylistType::Event),
        },
        end_list: closed,
        ..Default::default()
    };
    let mut last_init: Option<String> = None;
    let mut expected: Option<u64> = None;
    let ext = |s: &SegMeta| {
        if cmaf.is_some() {
            "m4s".to_string()
        } else {
            s.ext.clone()
        }
    };
    // A segment without an entry after the first one keeps its number as an `EXT-X-GAP`
    // entry (so do holes in the timeline).
    let gap = |seq: u64, ext: &str, duration: f64, discontinuity: bool| {
        let mut g = Segment::new(format!("{}/{seq}.{ext}", v.slug), duration.max(0.001));
        g.byte_range = Some(hls::ByteRange {
            length: 1,
            offset: Some(0),
        });
        g.gap = true;
        g.discontinuity = discontinuity;
        g
    };
    let mut last_key: Option<u64> = None;
    for s in segs {
        // A CMAF fragment not remuxed yet (its segment was committed after the remux this
        // request waited for) ends the playlist: listing it as a gap now and as an entry on
        // the next reload would change a segment under its number (RFC 8216 6.2.1).
        if let Some(c) = cmaf
            && !c.segs.contains_key(&s.seq)
            && !pl.segments.is_empty()
        {
            break;
        }
        let period = enc.map(|e| e.drm.period(s.start));
        if let (Some(e), Some(p)) = (enc, period)
            && !e.periods.contains_key(&p)
        {
            break;
        }
        // Encrypted: the ranges of the encrypted bytes (none: a GAP entry). A segment not
        // encrypted for this render (it arrived since) ends the list, as above.
        let ranges = match enc.map(|e| e.ranges.get(&s.seq).copied()) {
            Some(None) if pl.segments.is_empty() => continue,
            Some(None) => break,
            r => r.flatten(),
        };
        let entry = match cmaf {
            Some(c) => c.segs.get(&s.seq).and_then(Option::as_ref).and_then(|m| {
                let (mut off, mut len, at) = *m.keyframes.first()?;
                let file = match period {
                    Some(p) => crate::cmaf::encrypted_init_file(&m.init_id, p),
                    None => crate::cmaf::init_file(&m.init_id),
                };
                if let Some(r) = ranges {
                    (off, len) = r?.keyframe;
                }
                let map_uri = format!("{}/{file}", v.slug);
                let map = (last_init.as_deref() != Some(map_uri.as_str()) || s.discontinuity)
                    .then(|| hls::Map::new(map_uri.clone(), None));
                last_init = Some(map_uri);
                Some((format!("{}/{}.m4s", v.slug, s.seq), (off, len, at), map))
            }),
            None => s.pat_pmt.and_then(|pat_pmt| {
                let mut kf = *s.keyframes.first()?;
                let (mut map_off, mut map_len) = pat_pmt;
                if let Some(r) = ranges {
                    let r = r?;
                    (kf.0, kf.1) = r.keyframe;
                    (map_off, map_len) = r.pat_pmt?;
                }
                let uri = format!("{}/{}.{}", v.slug, s.seq, s.ext);
                let map = hls::Map::new(
                    uri.clone(),
                    Some(hls::ByteRange {
                        length: map_len,
                        offset: Some(map_off),
                    }),
                );
                Some((uri, kf, Some(map)))
            }),
        };
        if pl.segments.is_empty() {
            if entry.is_none() {
                continue;
            }
            pl.media_sequence = s.seq;
            pl.discontinuity_sequence = disc_before(s);
        }
        while let Some(e) = expected.filter(|e| *e < s.seq) {
            pl.segments.push(gap(e, &ext(s), s.duration, false));
            expected = Some(e + 1);
        }
        expected = Some(s.seq + 1);
        let Some((uri, (off, len, at), map)) = entry else {
            pl.segments
                .push(gap(s.seq, &ext(s), s.duration, s.discontinuity));
            // The next entry states its init again.
            last_init = None;
            continue;
        };
        let mut seg = Segment::new(uri, s.duration.max(0.001));
        seg.byte_range = Some(hls::ByteRange {
            length: len,
            offset: Some(off),
        });
        seg.discontinuity = s.discontinuity;
        seg.program_date_time = Some(pdt(s.start + secs(at)));
        seg.map = map;
        if let (Some(e), Some(p)) = (enc, period)
            && last_key != Some(p)
            && let Some(keys) = e.periods.get(&p)
        {
            let iv = (e.drm.method == DrmMethod::TsSampleAes)
                .then(|| constant_iv(&e.drm.settings, keys));
            for a in key_attrs(e.drm.method, keys, iv) {
                seg.keys.push(Key { attrs: a });
            }
            last_key = Some(p);
        }
        pl.segments.push(seg);
    }
    let mut out = String::with_capacity(64 + 160 * pl.segments.len());
    pl.write_to(&mut out);
    out
}

/// The byte ranges of one encrypted segment an I-frame playlist names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncRanges {
    /// (offset, length) of the first keyframe: `moof` through its sample (CMAF), its PES
    /// packets (TS).
    pub keyframe: (u64, u64),
    /// TS: (offset, length) of the PAT and PMT, the `EXT-X-MAP` of the entry.
    pub pat_pmt: Option<(u64, u64)>,
}

/// What an encrypted endpoint's I-frame playlist needs: the keys of the periods listed and
/// the ranges of the encrypted segments, by media sequence number.
pub struct EncIFrames<'a> {
    pub drm: &'a Drm,
    pub periods: &'a PeriodMap,
    /// By media sequence number: the ranges, or `None` when the segment could not be
    /// encrypted (a GAP entry); a segment missing here was not tried (it ends the list).
    pub ranges: std::collections::BTreeMap<u64, Option<EncRanges>>,
}

/// `EXT-X-DISCONTINUITY-SEQUENCE` of a playlist starting at `s`: its number without its
/// own tag (which is written on it).
fn disc_before(s: &SegMeta) -> u64 {
    s.disc_seq.saturating_sub(u64::from(s.discontinuity))
}

fn ad_tags(mode: AdMarkers, s: &SegMeta, seg: &mut Segment) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    match mode {
        AdMarkers::None => {}
        AdMarkers::Passthrough => {
            seg.markers = s.markers.clone();
            seg.dateranges = s.dateranges.clone();
        }
        AdMarkers::Scte35Enhanced => match &s.ad {
            Some(AdMark::Out(b)) => {
                seg.markers
                    .push(Marker::OatclsScte35(b64.encode(&b.scte35_out)));
                seg.markers.push(Marker::CueOut {
                    raw: Some(fmt_secs(b.duration)),
                });
            }
            Some(AdMark::Cont(b, elapsed)) => {
                seg.markers.push(Marker::CueOutCont {
                    raw: Some(format!(
                        "ElapsedTime={},Duration={},SCTE35={}",
                        fmt_secs(*elapsed),
                        fmt_secs(b.duration),
                        b64.encode(&b.scte35_out)
                    )),
                });
            }
            Some(AdMark::In(_)) => seg.markers.push(Marker::CueIn),
            None => {}
        },
        AdMarkers::Daterange => match &s.ad {
            Some(AdMark::Out(b)) => {
                let mut a = AttributeList::new()
                    .quoted("ID", b.event_id.to_string())
                    .quoted("START-DATE", iso(b.start));
                if b.duration > 0.0 {
                    a.set_unquoted("PLANNED-DURATION", fmt_secs(b.duration));
                }
                a.set_unquoted(
                    "SCTE35-OUT",
                    format!("0x{}", hex::encode_upper(&b.scte35_out)),
                );
                seg.dateranges.push(DateRange { attrs: a });
            }
            Some(AdMark::In(b)) => {
                let back = media::scte35::SpliceInsert::back_in(b.event_id, None);
                let dur = (s.start - b.start).num_milliseconds() as f64 / 1000.0;
                let a = AttributeList::new()
                    .quoted("ID", b.event_id.to_string())
                    .quoted("START-DATE", iso(b.start))
                    .quoted("END-DATE", iso(s.start))
                    .unquoted("DURATION", fmt_secs(dur))
                    .unquoted("SCTE35-IN", back.to_hex());
                seg.dateranges.push(DateRange { attrs: a });
            }
            _ => {}
        },
    }
}

fn fmt_secs(s: f64) -> String {
    let v = (s * 1000.0).round() / 1000.0;
    format!("{v}")
}

/// The master playlist of an endpoint: the ingested master with variant URIs pointing at
/// this endpoint's media playlists, or one synthesized from the variants seen.
///
/// `query` is the playback query the master was asked with (`start`, `end`, ...; empty for
/// none, else `?a=b&...`): it is carried into every URI the master names (renditions,
/// `EXT-X-MEDIA`, I-frame playlists), as MediaPackage does, so a player given a
/// time-shifted master plays that time.
///
/// `session_keys`: the `EXT-X-SESSION-KEY` attributes of an encrypted endpoint (those of
/// the `EXT-X-KEY` of the period at the playlists' start, so players can set up
/// decryption before the first media playlist).
pub fn master_playlist(
    ingested: Option<&(String, MasterPlaylist)>,
    variants: &std::collections::BTreeMap<String, Variant>,
    ep: &EndpointSpec,
    query: &str,
    session_keys: Vec<AttributeList>,
) -> String {
    let cmaf = ep.packaging == Packaging::Cmaf;
    let variant_of = |master_path: &str, uri: &str| -> Option<&Variant> {
        let p = crate::timeline::join_relative(master_path, uri)?;
        let key = p.strip_suffix(".m3u8").unwrap_or(&p);
        variants.get(key).filter(|v| !v.segments.is_empty())
    };
    let slug_of = |master_path: &str, uri: &str| -> Option<String> {
        variant_of(master_path, uri).map(|v| format!("{}.m3u8{query}", v.slug))
    };
    // CMAF: CODECS from the remuxed init (what the fMP4 really carries), keeping ingested
    // entries of other kinds (e.g. the audio of a separate rendition).
    let fix_codecs = |vs: &mut hls::VariantStream, v: &Variant| {
        let Some(remuxed) = v.cmaf.newest_codecs().filter(|c| !c.is_empty()) else {
            return;
        };
        let kind = |c: &str| c.split('.').next().unwrap_or("").to_string();
        let kinds: Vec<String> = remuxed.iter().map(|c| kind(c)).collect();
        let mut all: Vec<String> = remuxed.to_vec();
        if let Some(ingested) = vs.codecs() {
            all.extend(
                ingested
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty() && !kinds.contains(&kind(c)))
                    .map(str::to_string),
            );
        }
        vs.attrs.set_quoted("CODECS", all.join(","));
    };
    let mut out = MasterPlaylist {
        // KEYFORMAT (of EXT-X-SESSION-KEY) needs version 5.
        version: Some(if cmaf {
            7
        } else if session_keys.is_empty() {
            3
        } else {
            5
        }),
        independent_segments: cmaf,
        session_keys,
        ..Default::default()
    };
    match ingested {
        Some((path, m)) => {
            for r in &m.media {
                let mut r = r.clone();
                if let Some(uri) = r.uri().map(str::to_string) {
                    match slug_of(path, &uri) {
                        Some(s) => {
                            r.attrs.set_quoted("URI", s);
                        }
                        None => continue,
                    }
                }
                out.media.push(r);
            }
            for vs in &m.variants {
                if let Some(v) = variant_of(path, &vs.uri) {
                    let mut vs = vs.clone();
                    vs.uri = format!("{}.m3u8{query}", v.slug);
                    if cmaf {
                        fix_codecs(&mut vs, v);
                    }
                    out.variants.push(vs);
                }
            }
        }
        None => {
            for v in variants.values().filter(|v| !v.segments.is_empty()) {
                let mut vs = hls::VariantStream {
                    uri: format!("{}.m3u8{query}", v.slug),
                    attrs: AttributeList::new().unquoted("BANDWIDTH", v.bandwidth().max(1)),
                };
                if cmaf {
                    fix_codecs(&mut vs, v);
                }
                out.variants.push(vs);
            }
        }
    }
    // AES-128 encrypts whole segments: a byte range of one does not decrypt alone.
    if ep.i_frames && !matches!(ep.encryption, Encryption::Aes128 { .. }) {
        let streams: Vec<hls::IFrameStream> = out
            .variants
            .iter()
            .filter(|vs| {
                vs.resolution().is_some()
                    || vs
                        .codecs()
                        .is_none_or(|c| c.contains("avc") || c.contains("hvc") || c.contains("hev"))
            })
            .map(|vs| {
                let mut a = AttributeList::new()
                    .unquoted("BANDWIDTH", (vs.bandwidth().unwrap_or(100_000) / 10).max(1));
                if let Some(c) = vs.codecs() {
                    let video: Vec<&str> = c
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.starts_with("mp4a"))
                        .collect();
                    a.set_quoted("CODECS", video.join(","));
                }
                if let Some((w, h)) = vs.resolution() {
                    a.set_unquoted("RESOLUTION", format!("{w}x{h}"));
                }
                let slug = vs
                    .uri
                    .strip_suffix(query)
                    .unwrap_or(&vs.uri)
                    .trim_end_matches(".m3u8");
                a.set_quoted("URI", format!("{slug}_iframes.m3u8{query}"));
                hls::IFrameStream { attrs: a }
            })
            .collect();
        out.i_frame_streams = streams;
    }
    let mut s = String::new();
    out.write_to(&mut s);
    s
}

#[cfg(test)]
mod cmaf_tests {
    use super::*;
    use crate::cmaf::{CmafCache, CmafInit, CmafSeg};
    use crate::timeline::Variant;

    #[test]
    fn map_at_start_after_discontinuity_and_on_init_change() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut v = Variant {
            slug: "v".into(),
            target_duration: 2,
            ..Default::default()
        };
        let mut cache = CmafCache::default();
        // seq 0,1: init a; 2: discontinuity, init a; 3: init b; 4: not remuxable.
        for (seq, disc, init) in [
            (0, false, "a"),
            (1, false, "a"),
            (2, true, "a"),
            (3, false, "b"),
        ] {
            cache.insert(
                seq,
                Some((
                    CmafSeg {
                        bytes: bytes::Bytes::new(),
                        init_id: init.into(),
                        keyframes: vec![(0, 10, 0.0)],
                        timing: None,
                    },
                    CmafInit {
                        bytes: bytes::Bytes::new(),
                        codecs: vec![],
                    },
                )),
            );
            v.segments.insert(seq, meta(seq, disc, t0));
        }
        cache.insert(4, None);
        v.segments.insert(4, meta(4, false, t0));
        let ep = EndpointSpec {
            packaging: Packaging::Cmaf,
            ..EndpointSpec::new("e")
        };
        let keys = Keys::new([0; 32]);
        let ctx = Ctx {
            channel: "c",
            endpoint: &ep,
            keys: &keys,
            drm: None,
        };
        let segs: Vec<&SegMeta> = v.segments.values().collect();
        let text = media_playlist(&ctx, &v, &segs, Span::Live, false, Some(&cache));
        let pl = hls::parse_media(&text).unwrap();
        let maps: Vec<Option<&str>> = pl
            .segments
            .iter()
            .map(|s| s.map.as_ref().and_then(|m| m.uri()))
            .collect();
        assert_eq!(
            maps,
            [
                Some("v/init_a.mp4"),
                None,
                Some("v/init_a.mp4"),
                Some("v/init_b.mp4"),
                None
            ],
            "{text}"
        );
        assert!(pl.segments[4].gap && pl.independent_segments && pl.version == Some(7));
        assert!(pl.segments.iter().all(|s| s.uri.ends_with(".m4s")));
        // Retain drops entries and unused inits with the window.
        cache.retain(|seq| seq >= 3);
        assert_eq!(cache.inits.len(), 1);
        assert!(cache.inits.contains_key("b"));
    }

    /// A segment committed after the remux a request waited for is not listed yet, in
    /// the media and the I-frame playlist alike: listing it as a GAP now and as a fragment
    /// on the next reload would change it under its number.
    #[test]
    fn a_fragment_not_remuxed_yet_ends_the_playlist() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut v = Variant {
            slug: "v".into(),
            target_duration: 2,
            ..Default::default()
        };
        let mut cache = CmafCache::default();
        for seq in 0..3 {
            v.segments.insert(seq, meta(seq, false, t0));
            if seq < 2 {
                cache.insert(
                    seq,
                    Some((
                        CmafSeg {
                            bytes: bytes::Bytes::new(),
                            init_id: "a".into(),
                            keyframes: vec![(0, 10, 0.0)],
                            timing: None,
                        },
                        CmafInit {
                            bytes: bytes::Bytes::new(),
                            codecs: vec![],
                        },
                    )),
                );
            }
        }
        let ep = EndpointSpec {
            packaging: Packaging::Cmaf,
            i_frames: true,
            ..EndpointSpec::new("e")
        };
        let keys = Keys::new([0; 32]);
        let ctx = Ctx {
            channel: "c",
            endpoint: &ep,
            keys: &keys,
            drm: None,
        };
        let segs: Vec<&SegMeta> = v.segments.values().collect();
        let media = media_playlist(&ctx, &v, &segs, Span::Live, false, Some(&cache));
        let iframes = iframe_playlist(&v, &segs, Span::Live, false, Some(&cache), None);
        for text in [media, iframes] {
            let pl = hls::parse_media(&text).unwrap();
            let uris: Vec<&str> = pl.segments.iter().map(|s| s.uri.as_str()).collect();
            assert_eq!(uris, ["v/0.m4s", "v/1.m4s"], "{text}");
            assert!(pl.segments.iter().all(|s| !s.gap), "{text}");
        }
    }

    fn meta(seq: u64, discontinuity: bool, t0: DateTime<Utc>) -> SegMeta {
        SegMeta {
            seq,
            start: t0 + chrono::Duration::seconds(2 * seq as i64),
            duration: 2.0,
            discontinuity,
            disc_seq: 0,
            pdt: true,
            markers: vec![],
            dateranges: vec![],
            size: 1,
            ext: "ts".into(),
            ad: None,
            key: format!("c/v/{seq}"),
            keyframes: vec![],
            pat_pmt: None,
        }
    }
}
