//! From a channel's timelines to an [`Mpd`]. Pure: the caller remuxes what [`wanted`]
//! names first (the fragments' presentation times are the timeline's `t`/`d`), then
//! passes the channel's variants, the endpoint and the time.
//!
//! Periods come from one reference variant (the first video one): a new Period at the
//! channel's first retained segment, at each discontinuity (each VOD change of the
//! engine), with the `ads` trigger at each SCTE-35 ad avail (the break's first
//! segment, with the splice as an `EventStream`, and the return) and, on an encrypted
//! endpoint, at each key rotation (the first segment of a new key period). A Period is named and
//! placed by its first segment: `@id` = `p<media sequence>`, `@start` = that segment's
//! programme date-time minus `availabilityStartTime` (the Unix epoch, fixed for the
//! channel's life and the same on every replica), so neither changes across updates; the
//! next Period's `@start` ends it (contiguous). Each Representation's
//! `presentationTimeOffset` is the earliest presentation time of its first segment in the
//! Period; `$Number$` is the HLS media sequence number, so `<slug>/<N>.m4s` is the
//! fragment the CMAF endpoint serves at media sequence N.
//!
//! Encrypted endpoints (`sample_aes`: `cbcs`, `aes_ctr`: `cenc`): every AdaptationSet
//! carries the `urn:mpeg:dash:mp4protection:2011` `ContentProtection` with
//! `cenc:default_KID` (its Period's key), then one `ContentProtection` per DRM system
//! asked of the key provider with the `pssh` it gave (ClearKey: `ClearKey1.0` without a
//! `pssh`, the W3C common one under the common system's descriptor; see
//! [`content_protection`]); the init segment is the one protected for the Period's key
//! period (`init_<id>_<period>.mp4`, as the HLS endpoints name it), the fragments are the
//! encrypted ones the CMAF DRM endpoints serve.
//!
//! Limit: a Period whose first segment left the retention window (a source without a
//! discontinuity for longer than the endpoint's retention) is named and placed by the
//! oldest retained segment, so its `@id` and `@start` change once that segment goes.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hls::{MasterPlaylist, MediaType};

use super::mpd::{self, AdaptationSet, DashEvent, EventStream, Mpd, Period, Representation};
use crate::cmaf::{CmafSeg, SegTiming};
use crate::drm::{DrmMethod, PeriodKeys};
use crate::model::{EndpointSpec, PeriodTrigger, UtcTiming};
use crate::render::{self, Span};
use crate::timeline::{AdBreak, AdMark, SegMeta, Variant};

/// What an MPD request asks for, with the time and where the origin's clock is.
pub struct Request<'a> {
    pub endpoint: &'a EndpointSpec,
    pub master: Option<&'a (String, MasterPlaylist)>,
    pub span: Span,
    pub now: DateTime<Utc>,
    /// Absolute URL of the origin's `/time`.
    pub time_url: &'a str,
    /// The keys, on an encrypted endpoint.
    pub drm: Option<&'a DashDrm>,
}

/// What an encrypted endpoint's MPD needs: the method, the key period length, the DRM
/// systems to signal and the keys of every key period the MPD lists (see [`key_periods`]).
pub struct DashDrm {
    pub method: DrmMethod,
    /// `key_rotation_interval_seconds` (0: one key period).
    pub rotation_seconds: u64,
    /// DRM system ids (lower-case UUIDs) asked of the key provider; the W3C common system
    /// for keys the origin derives.
    pub systems: Vec<String>,
    pub keys: BTreeMap<u64, Arc<PeriodKeys>>,
}

/// `availabilityStartTime` of every dynamic MPD.
pub const AVAILABILITY_START: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The variant Periods are cut on: the first one with video, else the first non-empty.
pub fn reference(variants: &BTreeMap<String, Variant>) -> Option<&Variant> {
    let live = || variants.values().filter(|v| !v.segments.is_empty());
    live()
        .find(|v| codecs(v).is_some_and(|c| c.iter().any(|c| c.starts_with("avc"))))
        .or_else(|| live().next())
}

fn codecs(v: &Variant) -> Option<&[String]> {
    v.cmaf.newest_codecs()
}

/// A Period as the reference variant cuts it.
#[derive(Debug, Clone)]
struct Cut {
    first: u64,
    start: DateTime<Utc>,
    /// The ad break this Period opens.
    ad: Option<Arc<AdBreak>>,
    /// Its key period (encrypted endpoints).
    key_period: u64,
}

/// Where Periods start: `ads` at ad avails, `rotation` (seconds, encrypted endpoints) at
/// each new key period.
fn cuts(reference: &Variant, ads: bool, rotation: Option<u64>) -> Vec<Cut> {
    let mut out: Vec<Cut> = Vec::new();
    for s in reference.segments.values() {
        let ad_edge = ads && matches!(s.ad, Some(AdMark::Out(_)) | Some(AdMark::In(_)));
        let key_period = rotation.map_or(0, |r| crate::drm::period_of(s.start, r));
        let rotated = out.last().is_some_and(|c| c.key_period != key_period);
        if out.is_empty() || s.discontinuity || ad_edge || rotated {
            let ad = match &s.ad {
                Some(AdMark::Out(b)) if ads => Some(b.clone()),
                _ => None,
            };
            out.push(Cut {
                first: s.seq,
                start: s.start,
                ad,
                key_period,
            });
        }
    }
    out
}

/// The segments an MPD of `span` lists (reference variant), and whether it is closed.
///
/// Live: what ends inside the time-shift buffer, `[now - window, now]` on the origin's
/// clock, up to the live edge; where the edge runs ahead of the clock (a source whose
/// programme date-times are early), the window reaches back from the edge and from now,
/// so nothing leaves the MPD while a player's time-shift buffer still holds it.
fn listed<'a>(
    reference: &'a Variant,
    ep: &EndpointSpec,
    span: Span,
    now: DateTime<Utc>,
) -> (Vec<&'a SegMeta>, bool) {
    let (segs, closed) = render::select(reference, ep, span);
    if span != Span::Live {
        return (segs, closed);
    }
    let Some(first) = segs.first() else {
        return (segs, closed);
    };
    let from = now - chrono::Duration::seconds(ep.manifest_window_seconds as i64);
    let mut earlier: Vec<&SegMeta> = reference
        .segments
        .range(..first.seq)
        .map(|(_, m)| m)
        .filter(|m| m.end() > from)
        .collect();
    earlier.extend(segs);
    (earlier, closed)
}

/// What to remux before [`build`]: per variant key, the segments listed and the first
/// segment of each Period they fall in (its presentation time is the Period's offset).
pub fn wanted(
    variants: &BTreeMap<String, Variant>,
    ep: &EndpointSpec,
    span: Span,
    now: DateTime<Utc>,
) -> Vec<(String, Vec<(u64, String)>)> {
    let Some(reference) = reference(variants) else {
        return Vec::new();
    };
    let (segs, _) = listed(reference, ep, span, now);
    let (Some(lo), Some(hi)) = (segs.first().map(|s| s.seq), segs.last().map(|s| s.seq)) else {
        return Vec::new();
    };
    let ads = ads_trigger(ep);
    let firsts: Vec<u64> = cuts(reference, ads, rotation(ep))
        .into_iter()
        .map(|c| c.first)
        .filter(|f| *f <= hi)
        .collect();
    let first_of_lo = firsts.iter().copied().filter(|f| *f <= lo).max();
    variants
        .values()
        .filter(|v| !v.segments.is_empty())
        .map(|v| {
            let want = v
                .segments
                .values()
                .filter(|m| {
                    (lo..=hi).contains(&m.seq)
                        || Some(m.seq) == first_of_lo
                        || (firsts.contains(&m.seq) && m.seq >= lo)
                })
                .map(|m| (m.seq, m.key.clone()))
                .collect();
            (v.key.clone(), want)
        })
        .collect()
}

/// The key periods of the segments an MPD of `span` lists (an encrypted endpoint's; none
/// for a clear one): the keys to fetch before [`build`].
pub fn key_periods(
    variants: &BTreeMap<String, Variant>,
    ep: &EndpointSpec,
    span: Span,
    now: DateTime<Utc>,
) -> std::collections::BTreeSet<u64> {
    let (Some(reference), Some(r)) = (reference(variants), rotation(ep)) else {
        return Default::default();
    };
    let (segs, _) = listed(reference, ep, span, now);
    segs.iter()
        .map(|s| crate::drm::period_of(s.start, r))
        .collect()
}

/// The key period length of an encrypted endpoint (0: one period), `None` when clear.
fn rotation(ep: &EndpointSpec) -> Option<u64> {
    crate::drm::Drm::of(ep).map(|d| d.settings.key_rotation_interval_seconds)
}

fn ads_trigger(ep: &EndpointSpec) -> bool {
    ep.dash_settings()
        .period_triggers
        .contains(&PeriodTrigger::Ads)
}

/// A variant as a Representation source: what it carries and how the master names it.
struct Rendition<'a> {
    v: &'a Variant,
    audio_only: bool,
    lang: Option<String>,
    default: bool,
    bandwidth: Option<u64>,
}

/// The variants in master order (video/muxed variants, then audio renditions), each
/// classified by what its fMP4 carries.
fn renditions<'a>(
    variants: &'a BTreeMap<String, Variant>,
    master: Option<&'a (String, MasterPlaylist)>,
) -> Vec<Rendition<'a>> {
    let key_of = |path: &str, uri: &str| {
        crate::timeline::join_relative(path, uri)
            .map(|p| p.strip_suffix(".m3u8").unwrap_or(&p).to_string())
    };
    let mut out: Vec<Rendition<'a>> = Vec::new();
    let mut push = |key: Option<String>, lang: Option<String>, default, bandwidth| {
        let Some(v) = key.and_then(|k| variants.get(&k)) else {
            return;
        };
        if v.segments.is_empty() || out.iter().any(|r| std::ptr::eq(r.v, v)) {
            return;
        }
        let audio_only = codecs(v).is_some_and(|c| c.iter().all(|c| c.starts_with("mp4a")));
        out.push(Rendition {
            v,
            audio_only,
            lang,
            default,
            bandwidth,
        });
    };
    if let Some((path, m)) = master {
        for vs in &m.variants {
            push(key_of(path, &vs.uri), None, false, vs.bandwidth());
        }
        for r in m
            .media
            .iter()
            .filter(|r| r.media_type() == Some(MediaType::Audio))
        {
            let key = r.uri().and_then(|u| key_of(path, u));
            push(key, r.language().map(str::to_string), r.is_default(), None);
        }
    }
    for v in variants.values() {
        push(Some(v.key.clone()), None, false, None);
    }
    out
}

/// The MPD of `req` over `variants`; `None` when nothing is listable yet.
pub fn build(variants: &BTreeMap<String, Variant>, req: &Request<'_>) -> Option<Mpd> {
    let ep = req.endpoint;
    let reference = reference(variants)?;
    let (segs, closed) = listed(reference, ep, req.span, req.now);
    let lo = segs.first()?.seq;
    let rends = renditions(variants, req.master);
    // The live edge every Representation has reached (remuxed, or failed for good).
    let hi = rends
        .iter()
        .map(|r| {
            let done = r.v.cmaf.segs.range(lo..).map(|(s, _)| *s);
            done.take_while(|s| *s <= segs.last().map_or(0, |m| m.seq))
                .last()
                .unwrap_or(0)
        })
        .min()?;
    if hi < lo {
        return None;
    }
    let cuts = cuts(reference, ads_trigger(ep), rotation(ep));
    let static_base = (closed && !matches!(req.span, Span::Live))
        .then(|| segs.first().map(|s| s.start))
        .flatten();
    let mut periods = Vec::new();
    for (i, cut) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(u64::MAX, |n| n.first - 1);
        let (from, to) = (cut.first.max(lo), end.min(hi));
        if from > to {
            continue;
        }
        if let Some(p) = period(&rends, cut, (from, to), static_base, req.drm) {
            periods.push(p);
        }
    }
    if periods.is_empty() {
        return None;
    }
    Some(mpd_of(req, reference, periods, static_base, &segs, hi))
}

/// The MPD element around its Periods.
fn mpd_of(
    req: &Request<'_>,
    reference: &Variant,
    periods: Vec<Period>,
    static_base: Option<DateTime<Utc>>,
    segs: &[&SegMeta],
    hi: u64,
) -> Mpd {
    let d = req.endpoint.dash_settings();
    let dynamic = static_base.is_none();
    let depth = match req.span {
        Span::Live => req.endpoint.manifest_window_seconds,
        _ => req.endpoint.startover_window_seconds,
    };
    let last_end = segs.iter().rev().find(|s| s.seq <= hi).map(|s| s.end());
    let utc = match d.utc_timing {
        UtcTiming::HttpIso => "urn:mpeg:dash:utc:http-iso:2014",
        UtcTiming::HttpXsdate => "urn:mpeg:dash:utc:http-xsdate:2014",
    };
    Mpd {
        dynamic,
        availability_start_time: dynamic.then_some(AVAILABILITY_START),
        publish_time: Some(req.now),
        minimum_update_period: dynamic.then_some(d.min_update_period_seconds),
        time_shift_buffer_depth: dynamic.then_some(depth),
        suggested_presentation_delay: dynamic.then_some(d.suggested_presentation_delay_seconds),
        min_buffer_time: d.min_buffer_time_seconds,
        max_segment_duration_us: Some(reference.target_duration.max(1) as i64 * 1_000_000),
        media_presentation_duration_us: static_base
            .zip(last_end)
            .map(|(base, end)| (end - base).num_microseconds().unwrap_or(0)),
        periods,
        utc_timing: Some((utc, req.time_url.to_string())),
    }
}

/// One Period: segments `from..=to` of every rendition.
fn period(
    rends: &[Rendition<'_>],
    cut: &Cut,
    (from, to): (u64, u64),
    static_base: Option<DateTime<Utc>>,
    drm: Option<&DashDrm>,
) -> Option<Period> {
    // An encrypted endpoint lists nothing whose keys it does not have.
    let keys = match drm {
        Some(d) => Some(d.keys.get(&cut.key_period)?),
        None => None,
    };
    let init_period = keys.map(|_| cut.key_period);
    // A static MPD starts at its first segment: a Period cut before it starts there.
    let (start, zero) = match static_base {
        Some(base) => (cut.start.max(base), base),
        None => (cut.start, AVAILABILITY_START),
    };
    let shift = start - cut.start;
    let mut main = Vec::new();
    let mut audio: Vec<(Option<String>, bool, Representation)> = Vec::new();
    for r in rends {
        let Some(rep) = representation(r, cut, (from, to), shift, init_period) else {
            continue;
        };
        if r.audio_only {
            audio.push((r.lang.clone(), r.default, rep));
        } else {
            main.push(rep);
        }
    }
    let protection = |kid| match (drm, keys) {
        (Some(d), Some(k)) => content_protection(d, k, kid),
        _ => Vec::new(),
    };
    let mut sets = Vec::new();
    if !main.is_empty() {
        let muxed = main.iter().any(|r| r.codecs.contains("mp4a"));
        sets.push(AdaptationSet {
            id: 0,
            content_type: (!muxed).then_some("video"),
            mime_type: "video/mp4",
            lang: None,
            protection: protection(keys.map(|k| k.video.kid)),
            role: Some("main"),
            representations: main,
        });
    }
    for (lang, default, rep) in audio {
        match sets
            .iter_mut()
            .find(|s| s.content_type == Some("audio") && s.lang == lang)
        {
            Some(set) => set.representations.push(rep),
            None => sets.push(AdaptationSet {
                id: sets.len() as u32 + 1,
                content_type: Some("audio"),
                mime_type: "audio/mp4",
                protection: protection(keys.map(|k| k.audio.kid)),
                role: Some(if default { "main" } else { "alternate" }),
                lang,
                representations: vec![rep],
            }),
        }
    }
    if sets.is_empty() {
        return None;
    }
    Some(Period {
        id: format!("p{}", cut.first),
        start_us: (start - zero).num_microseconds().unwrap_or(0),
        event_streams: cut
            .ad
            .as_ref()
            .map(|b| scte35_stream(b))
            .into_iter()
            .collect(),
        adaptation_sets: sets,
    })
}

/// The `ContentProtection` elements of an AdaptationSet whose key is `kid`: the common
/// encryption scheme with `cenc:default_KID`, then each DRM system with the `pssh` box the
/// provider gave for it. ClearKey as DASH-IF signals it: its own descriptor
/// (`ClearKey1.0`) carries no `pssh` (players build `keyids` init data from
/// `default_KID`; dash.js hands a `cenc:pssh` found there to EME as `keyids` and fails),
/// and the W3C common `pssh` the provider gives for it goes under the common system's
/// descriptor (`urn:uuid:1077efec-...`). FairPlay has no place in DASH and is left out.
fn content_protection(
    drm: &DashDrm,
    keys: &PeriodKeys,
    kid: Option<crate::drm::Block>,
) -> Vec<mpd::ContentProtection> {
    let scheme = match drm.method {
        DrmMethod::Cenc => "cenc",
        _ => "cbcs",
    };
    let mut out = vec![mpd::ContentProtection {
        scheme_id_uri: "urn:mpeg:dash:mp4protection:2011".into(),
        value: Some(scheme.into()),
        default_kid: kid.map(|k| uuid(&k)),
        pssh: None,
    }];
    let pssh_of = |system: &str| {
        keys.pssh
            .iter()
            .find(|b| b.get(12..28).map(uuid).as_deref() == Some(system))
            .map(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            })
    };
    let mut systems: Vec<&str> = drm.systems.iter().map(String::as_str).collect();
    if systems.contains(&CLEARKEY) && !systems.contains(&COMMON) {
        systems.push(COMMON);
    }
    for system in systems {
        let (value, pssh) = match system {
            FAIRPLAY => continue,
            CLEARKEY => (Some("ClearKey1.0"), None),
            WIDEVINE => (Some("Widevine"), pssh_of(system)),
            PLAYREADY => (Some("MSPR 2.0"), pssh_of(system)),
            _ => (None, pssh_of(system)),
        };
        out.push(mpd::ContentProtection {
            scheme_id_uri: format!("urn:uuid:{system}"),
            value: value.map(str::to_string),
            default_kid: None,
            pssh,
        });
    }
    out
}

/// DRM system ids (lower-case UUIDs).
pub const CLEARKEY: &str = "e2719d58-a985-b3c9-781a-b030af78d30e";
pub const COMMON: &str = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b";
const WIDEVINE: &str = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
const PLAYREADY: &str = "9a04f079-9840-4286-ab92-e65be0885f95";
const FAIRPLAY: &str = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2";

/// 16 bytes as a lower-case UUID (`cenc:default_KID`, `urn:uuid:`).
fn uuid(b: &[u8]) -> String {
    let h = hex::encode(b);
    if h.len() != 32 {
        return h;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The EventStream announcing the ad break a Period opens, at the Period's start.
fn scte35_stream(b: &AdBreak) -> EventStream {
    let duration = (b.duration > 0.0).then(|| (b.duration * 90_000.0).round() as u64);
    let splice = media::scte35::SpliceInsert::parse(&b.scte35_out)
        .ok()
        .filter(|s| s.out_of_network)
        .unwrap_or_else(|| media::scte35::SpliceInsert::out(b.event_id, None, duration));
    EventStream {
        scheme_id_uri: "urn:scte:scte35:2013:xml",
        timescale: 90_000,
        events: vec![DashEvent {
            id: b.event_id,
            presentation_time: 0,
            duration,
            splice,
        }],
    }
}

/// One rendition's Representation in a Period: `from..=to`, offset `shift` into the
/// Period (a static MPD's first Period); `key_period`: the init protected for it.
fn representation(
    r: &Rendition<'_>,
    cut: &Cut,
    (from, to): (u64, u64),
    shift: chrono::Duration,
    key_period: Option<u64>,
) -> Option<Representation> {
    let v = r.v;
    let seg = |seq: u64| -> Option<&CmafSeg> { v.cmaf.segs.get(&seq)?.as_deref() };
    let (first_seq, first) = (from..=to).find_map(|s| Some((s, seg(s)?)))?;
    let timing = first.timing?;
    let ts = i64::from(timing.timescale);
    let ticks =
        |d: chrono::Duration| d.num_microseconds().unwrap_or(0) as i128 * ts as i128 / 1_000_000;
    // The Period's offset: its first segment's earliest presentation time; derived from
    // the first one listed when that one is gone.
    let pto = match seg(cut.first).and_then(|s| s.timing) {
        Some(t) => t.earliest as i128,
        None => {
            let at = v.segments.get(&first_seq)?.start;
            timing.earliest as i128 - ticks(at - cut.start)
        }
    };
    let pto = u64::try_from(pto + ticks(shift)).ok()?;
    let entries = entries(v, first_seq, to, timing, &seg);
    let init = v.cmaf.inits.get(&first.init_id)?;
    let tracks = media::fmp4::inspect(&init.bytes)
        .map(|i| i.tracks)
        .unwrap_or_default();
    let video = tracks.iter().find(|t| t.handler == "vide");
    let sound = tracks.iter().find(|t| t.handler == "soun");
    let only_audio = video.is_none();
    Some(Representation {
        id: v.slug.clone(),
        bandwidth: r.bandwidth.unwrap_or_else(|| v.bandwidth()),
        codecs: init.codecs.join(","),
        width: video.map(|t| u32::from(t.width)),
        height: video.map(|t| u32::from(t.height)),
        audio_sampling_rate: sound.filter(|_| only_audio).map(|t| t.sample_rate),
        audio_channels: sound.filter(|_| only_audio).map(|t| t.channels),
        template: mpd::SegmentTemplate {
            timescale: timing.timescale,
            presentation_time_offset: pto,
            start_number: first_seq,
            initialization: format!(
                "{}/{}",
                v.slug,
                match key_period {
                    Some(p) => crate::cmaf::encrypted_init_file(&first.init_id, p),
                    None => crate::cmaf::init_file(&first.init_id),
                }
            ),
            media: format!("{}/$Number$.m4s", v.slug),
            timeline: mpd::timeline(entries),
        },
    })
}

/// `(t, d)` of segments `from..=to`: each remuxed one's presentation time; a hole (not
/// ingested, or not remuxable) keeps its number with its playlist duration after the
/// previous one.
fn entries<'a>(
    v: &'a Variant,
    from: u64,
    to: u64,
    first: SegTiming,
    seg: &impl Fn(u64) -> Option<&'a CmafSeg>,
) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity((to - from + 1) as usize);
    let mut next = first.earliest;
    for seq in from..=to {
        let (t, d) = match seg(seq).and_then(|s| s.timing) {
            Some(t) if t.timescale == first.timescale => (t.earliest, t.duration),
            _ => {
                let secs = v.segments.get(&seq).map_or(0.0, |m| m.duration);
                (next, (secs * f64::from(first.timescale)).round() as u64)
            }
        };
        out.push((t, d));
        next = t + d;
    }
    out
}
