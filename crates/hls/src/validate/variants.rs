//! Rules across the media playlists one master names (RFC 8216 6.2.4, 4.3.4.3, 4.3.4.5,
//! 4.3.5): what makes switching between variant streams and renditions seamless.
//!
//! The caller loads the master and every media playlist it names (at about the same time)
//! and passes each with the URI exactly as the master writes it. Rules that compare whole
//! windows (durations, date ranges) run only on playlists that have `EXT-X-ENDLIST`: live
//! windows loaded a moment apart legitimately differ.

use std::collections::BTreeMap;

use super::Problem;
use crate::model::*;

/// What a URI is in the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Variant,
    Rendition(MediaType),
    IFrame,
}

fn role(master: &MasterPlaylist, uri: &str) -> Option<Role> {
    if master.variants.iter().any(|v| v.uri == uri) {
        return Some(Role::Variant);
    }
    if let Some(m) = master.media.iter().find(|m| m.uri() == Some(uri)) {
        return m.media_type().map(Role::Rendition);
    }
    master
        .i_frame_streams
        .iter()
        .any(|f| f.uri() == Some(uri))
        .then_some(Role::IFrame)
}

fn show(t: Option<u64>) -> String {
    t.map_or("(none)".to_string(), |t| t.to_string())
}

/// Check the media playlists of one master against each other and against the master.
/// `media` holds `(uri as written in the master, playlist)`; URIs the master does not name
/// are ignored.
pub fn check_variants(master: &MasterPlaylist, media: &[(&str, &MediaPlaylist)]) -> Vec<Problem> {
    let mut out = Vec::new();
    let all: Vec<(&str, &MediaPlaylist, Role)> = media
        .iter()
        .filter_map(|(u, p)| role(master, u).map(|r| (*u, *p, r)))
        .collect();

    iframe_rules(&all, &mut out);
    shared_header_rules(&all, &mut out);
    discontinuity_rules(&all, &mut out);
    finished_rules(&all, &mut out);
    master_rules(master, &all, &mut out);
    out
}

/// A media playlist of the master: its URI as written there, the playlist, its role.
type Entry<'a> = (&'a str, &'a MediaPlaylist, Role);

/// 4.3.4.3: an I-frame stream's URI names an I-frames-only playlist.
fn iframe_rules(all: &[Entry<'_>], out: &mut Vec<Problem>) {
    // 4.3.4.3: an I-frame stream's URI names an I-frames-only playlist.
    for (uri, p, r) in all {
        if *r == Role::IFrame && !p.i_frames_only {
            out.push(Problem::error(
                "iframe-playlist-not-i-frames-only",
                format!(
                    "'{uri}' is named by EXT-X-I-FRAME-STREAM-INF but has no EXT-X-I-FRAMES-ONLY"
                ),
            ));
        }
    }
}

/// 6.2.4: one target duration, one PLAYLIST-TYPE, PROGRAM-DATE-TIME in all or none.
fn shared_header_rules(all: &[Entry<'_>], out: &mut Vec<Problem>) {
    // 6.2.4: one target duration (SUBTITLES and I-frame playlists may differ when VOD).
    let exempt = |p: &MediaPlaylist, r: Role| {
        (r == Role::Rendition(MediaType::Subtitles) || p.i_frames_only)
            && p.playlist_type == Some(PlaylistType::Vod)
    };
    let bound: Vec<_> = all.iter().filter(|(_, p, r)| !exempt(p, *r)).collect();
    if let Some((first_uri, first, _)) = bound.first() {
        for (uri, p, _) in &bound[1..] {
            if p.target_duration != first.target_duration {
                out.push(Problem::error(
                    "variant-target-duration-mismatch",
                    format!(
                        "'{uri}' has EXT-X-TARGETDURATION {} but '{first_uri}' has {}",
                        show(p.target_duration),
                        show(first.target_duration)
                    ),
                ));
            }
        }
    }

    // 6.2.4: PLAYLIST-TYPE in one means the same PLAYLIST-TYPE in all.
    if let Some((typed_uri, typed, _)) = all.iter().find(|(_, p, _)| p.playlist_type.is_some()) {
        for (uri, p, _) in all {
            if p.playlist_type != typed.playlist_type {
                out.push(Problem::error(
                    "variant-playlist-type-mismatch",
                    format!(
                        "'{uri}' has EXT-X-PLAYLIST-TYPE {} but '{typed_uri}' has {}",
                        p.playlist_type.map_or("(none)", |t| t.as_str()),
                        typed.playlist_type.map_or("(none)", |t| t.as_str())
                    ),
                ));
            }
        }
    }

    // 6.2.4: PROGRAM-DATE-TIME in one means PROGRAM-DATE-TIME in all.
    let has_pdt = |p: &MediaPlaylist| p.segments.iter().any(|s| s.program_date_time.is_some());
    if let Some((dated_uri, _, _)) = all.iter().find(|(_, p, _)| has_pdt(p)) {
        for (uri, p, _) in all {
            if !has_pdt(p) && !p.segments.is_empty() {
                out.push(Problem::error(
                    "variant-program-date-time-missing",
                    format!("'{dated_uri}' has EXT-X-PROGRAM-DATE-TIME but '{uri}' has none"),
                ));
            }
        }
    }
}

/// 6.2.4: matching content has matching discontinuity sequence numbers.
fn discontinuity_rules(all: &[Entry<'_>], out: &mut Vec<Problem>) {
    // 6.2.4: matching content has matching discontinuity sequence numbers. Matching content
    // is found by date: segments whose EXT-X-PROGRAM-DATE-TIME tags give the same instant.
    let mut by_date: BTreeMap<i64, (&str, u64)> = BTreeMap::new();
    'playlists: for (uri, p, _) in all {
        let mut dseq = p.discontinuity_sequence;
        for s in &p.segments {
            if s.discontinuity {
                dseq += 1;
            }
            let Some(t) = s.program_date_time else {
                continue;
            };
            let ms = t.timestamp_millis();
            match by_date.get(&ms) {
                Some((other, d)) if *d != dseq => {
                    out.push(Problem::error(
                        "variant-discontinuity-mismatch",
                        format!(
                            "the segment dated {t} is in discontinuity {dseq} in '{uri}' but in discontinuity {d} in '{other}'"
                        ),
                    ));
                    continue 'playlists;
                }
                Some(_) => {}
                None => {
                    by_date.insert(ms, (uri, dseq));
                }
            }
        }
    }
}

/// Whole-presentation rules, for finished playlists only: durations and date ranges.
fn finished_rules(all: &[Entry<'_>], out: &mut Vec<Problem>) {
    // Whole-presentation rules, for finished playlists only.
    let done: Vec<_> = all.iter().filter(|(_, p, _)| p.end_list).collect();
    // 6.2.4: content in one variant but not another is at most one target duration at the
    // start and one at the end.
    let mut longest: Option<(&str, f64)> = None;
    let mut shortest: Option<(&str, f64)> = None;
    for (uri, p, _) in &done {
        let d = p.duration();
        if longest.is_none_or(|(_, l)| d > l) {
            longest = Some((uri, d));
        }
        if shortest.is_none_or(|(_, s)| d < s) {
            shortest = Some((uri, d));
        }
    }
    if let (Some((lu, l)), Some((su, s))) = (longest, shortest) {
        let target = done
            .iter()
            .filter_map(|(_, p, _)| p.target_duration)
            .max()
            .unwrap_or(0) as f64;
        if l - s > 2.0 * target + 1e-3 {
            out.push(Problem::error(
                "variant-duration-mismatch",
                format!(
                    "'{lu}' lasts {l:.3} s and '{su}' {s:.3} s: content missing from one may be at most one target duration ({target} s) at each end"
                ),
            ));
        }
    }
    // 6.2.4: every variant stream has the same date ranges (compared among EXT-X-STREAM-INF
    // playlists).
    let ranges = |p: &MediaPlaylist| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in p.segments.iter().chain(p.trailing.as_deref()) {
            for d in &s.dateranges {
                m.entry(d.id().unwrap_or("").to_string())
                    .or_default()
                    .push(d.attrs.to_string());
            }
        }
        m
    };
    let variants: Vec<_> = done
        .iter()
        .filter(|(_, _, r)| *r == Role::Variant)
        .collect();
    if let Some((first_uri, first, _)) = variants.first() {
        let want = ranges(first);
        for (uri, p, _) in &variants[1..] {
            if ranges(p) != want {
                out.push(Problem::error(
                    "variant-dateranges-mismatch",
                    format!("'{uri}' and '{first_uri}' do not carry the same EXT-X-DATERANGE tags"),
                ));
            }
        }
    }
}

/// SESSION-KEY, one key per resource, and EXT-X-START against the master.
fn master_rules(master: &MasterPlaylist, all: &[Entry<'_>], out: &mut Vec<Problem>) {
    // 4.3.4.5: a SESSION-KEY matches every EXT-X-KEY with its URI.
    for sk in &master.session_keys {
        let Some(uri) = sk.get("URI") else { continue };
        for (puri, p, _) in all {
            for k in p.segments.iter().flat_map(|s| &s.keys) {
                if k.uri() != Some(uri) {
                    continue;
                }
                let differs = ["METHOD", "KEYFORMAT", "KEYFORMATVERSIONS"]
                    .into_iter()
                    .find(|a| k.attrs.get(a) != sk.get(a));
                if let Some(a) = differs {
                    out.push(Problem::error(
                        "session-key-mismatch",
                        format!("EXT-X-KEY URI=\"{uri}\" in '{puri}' has another {a} than the master's EXT-X-SESSION-KEY"),
                    ));
                    break;
                }
            }
        }
    }

    // 6.2.3: one key per resource, in the variants and the I-frame playlists pointing into
    // their segments alike (one report per playlist).
    let mut keys = super::SegmentKeys::default();
    for (uri, p, _) in all {
        out.extend(keys.observe(uri, p).into_iter().take(1));
    }

    // 4.3.5: EXT-X-START in both the master and a media playlist must have the same value.
    if let Some(ms) = &master.start {
        for (uri, p, _) in all {
            if let Some(s) = &p.start
                && s != ms
            {
                out.push(Problem::error(
                    "start-mismatch",
                    format!("EXT-X-START in '{uri}' differs from the master's"),
                ));
            }
        }
    }
}
