//! Splicing ads into one media playlist, and marking them as HLS Interstitials instead.
//! Pure functions over the `hls` model: no I/O, no clock.
//!
//! # Timeline rules
//! - Break positions are snapped once, on the reference rendition ([`snap`]): pos 0 is a
//!   pre-roll, a mid-roll moves to the first segment boundary at or after `pos`, and a `pos`
//!   at or past the end is a post-roll. Every rendition then breaks at its boundary nearest
//!   to that time ([`nearest_boundary`]), so renditions whose segments differ slightly (AAC
//!   audio at 2.005 s beside 2 s video) still break together.
//! - Ads at the same boundary form one break: `EXT-X-DISCONTINUITY` before each ad and
//!   before the content that resumes, `EXT-X-CUE-OUT:DURATION=<total>` and a DATERANGE with
//!   `SCTE35-OUT` on the first ad segment, `EXT-X-CUE-IN` and the DATERANGE's closing tag
//!   (same ID, `DURATION`, `SCTE35-IN`) on the content segment after it (after the last
//!   segment for a post-roll).
//! - The stitched timeline is new, so the sources' own `EXT-X-PROGRAM-DATE-TIME`, DATERANGE
//!   and ad markers are dropped; a PROGRAM-DATE-TIME is written on the first segment and
//!   after every discontinuity, from the content's first PROGRAM-DATE-TIME (or the epoch).
//! - fMP4: an ad's first segment carries its `EXT-X-MAP` (after the discontinuity) and the
//!   content that resumes carries the content's map again. Keys likewise (`METHOD=NONE`
//!   when one side is clear and the other encrypted).

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, SecondsFormat};
use hls::{AttributeList, DateRange, Key, Marker, MediaPlaylist, PlaylistType, Segment};
use media::scte35::SpliceInsert;

/// Seconds a boundary may miss a time and still be "at" it (float sums of EXTINFs).
const EPSILON: f64 = 0.001;

/// The ad material spliced into one rendition.
#[derive(Debug, Clone, Copy)]
pub enum AdMedia<'a> {
    /// The ad's matching rendition (URIs absolute).
    Playlist(&'a MediaPlaylist),
    /// No matching rendition (an ad without subtitles): one empty WebVTT segment per
    /// duration, all at `uri`.
    Empty { durations: &'a [f64], uri: &'a str },
}

impl AdMedia<'_> {
    fn duration(&self) -> f64 {
        match self {
            AdMedia::Playlist(p) => p.duration(),
            AdMedia::Empty { durations, .. } => durations.iter().sum(),
        }
    }
}

/// One ad placed at `at` seconds (a snapped time, see [`snap`]).
#[derive(Debug, Clone, Copy)]
pub struct Insert<'a> {
    pub at: f64,
    pub ad: AdMedia<'a>,
}

/// Segment boundaries of `p`: 0, d0, d0+d1, ..., total (n + 1 values).
pub fn boundaries(p: &MediaPlaylist) -> Vec<f64> {
    let mut t = 0.0;
    let mut out = Vec::with_capacity(p.segments.len() + 1);
    out.push(0.0);
    for s in &p.segments {
        t += s.duration;
        out.push(t);
    }
    out
}

/// Snap `pos_ms` to the first boundary of `reference` at or after it; past the end it is
/// the end (post-roll). Seconds.
pub fn snap(reference: &MediaPlaylist, pos_ms: f64) -> f64 {
    let pos = pos_ms / 1000.0;
    let b = boundaries(reference);
    b.iter()
        .copied()
        .find(|t| *t + 1e-6 >= pos)
        .unwrap_or_else(|| b.last().copied().unwrap_or(0.0))
}

/// Index of the boundary of `p` nearest to `t` seconds (0 = before the first segment,
/// `segments.len()` = after the last).
pub fn nearest_boundary(p: &MediaPlaylist, t: f64) -> usize {
    let b = boundaries(p);
    let mut best = 0;
    for (i, x) in b.iter().enumerate() {
        if (x - t).abs() < (b[best] - t).abs() - EPSILON {
            best = i;
        }
    }
    best
}

/// The start of the stitched timeline: the content's first PROGRAM-DATE-TIME, or the epoch.
pub fn base_date(content: &MediaPlaylist) -> DateTime<FixedOffset> {
    content
        .segments
        .first()
        .and_then(|s| s.program_date_time)
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

fn at(base: DateTime<FixedOffset>, secs: f64) -> DateTime<FixedOffset> {
    base + ChronoDuration::milliseconds((secs * 1000.0).round() as i64)
}

fn iso(d: DateTime<FixedOffset>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A source segment without the tags that belong to the source's own timeline.
fn bare(s: &Segment) -> Segment {
    Segment {
        program_date_time: None,
        dateranges: Vec::new(),
        markers: Vec::new(),
        map: None,
        keys: Vec::new(),
        ..s.clone()
    }
}

/// DATERANGE ID of break `n` (1-based).
pub fn break_id(n: usize) -> String {
    format!("stitch-break-{n}")
}

/// Splice `inserts` into `content`. The result is a complete VOD media playlist.
pub fn splice(content: &MediaPlaylist, inserts: &[Insert<'_>]) -> MediaPlaylist {
    let base = base_date(content);
    let n = content.segments.len();
    // Group the ads by the content boundary they go to, keeping payload order within one.
    let mut groups: Vec<(usize, Vec<AdMedia<'_>>)> = Vec::new();
    let mut sorted: Vec<(usize, usize, AdMedia<'_>)> = inserts
        .iter()
        .enumerate()
        .map(|(k, i)| (nearest_boundary(content, i.at), k, i.ad))
        .collect();
    sorted.sort_by_key(|(b, k, _)| (*b, *k));
    for (b, _, ad) in sorted {
        match groups.last_mut() {
            Some((gb, ads)) if *gb == b => ads.push(ad),
            _ => groups.push((b, vec![ad])),
        }
    }

    let mut out = MediaPlaylist {
        segments: Vec::with_capacity(n),
        trailing: None,
        playlist_type: Some(PlaylistType::Vod),
        end_list: true,
        ..content.clone()
    };
    out.segments.clear();
    let mut t = 0.0;
    let mut encrypted = false;
    let mut pending_in: Option<(usize, f64, f64)> = None; // (break no, start, duration)
    let mut group_iter = groups.into_iter().peekable();
    let mut break_no = 0;
    for i in 0..=n {
        while let Some((_, ads)) = group_iter.next_if(|(b, _)| *b == i) {
            break_no += 1;
            let total: f64 = ads.iter().map(AdMedia::duration).sum();
            let start = t;
            for (k, ad) in ads.iter().enumerate() {
                let segs = ad_segments(ad);
                for (j, mut s) in segs.into_iter().enumerate() {
                    if j == 0 {
                        s.discontinuity = !out.segments.is_empty();
                        s.program_date_time = Some(at(base, t));
                        if let AdMedia::Playlist(p) = ad {
                            s.map = p.effective_map(0).cloned();
                            s.keys = p.effective_keys(0).to_vec();
                        }
                        if s.keys.is_empty() && encrypted {
                            s.keys = vec![Key::none()];
                        }
                        encrypted = s.keys.iter().any(|k| k.method() != Some("NONE"));
                        if k == 0 {
                            s.markers.push(Marker::cue_out(round3(total)));
                            s.dateranges
                                .push(out_range(break_no, at(base, start), total));
                        }
                    }
                    t += s.duration;
                    out.segments.push(s);
                }
            }
            pending_in = Some((break_no, start, total));
        }
        if i == n {
            break;
        }
        let src = &content.segments[i];
        let mut s = bare(src);
        if let Some((no, start, total)) = pending_in.take() {
            s.discontinuity = true;
            s.map = content.effective_map(i).cloned();
            s.keys = content.effective_keys(i).to_vec();
            if s.keys.is_empty() && encrypted {
                s.keys = vec![Key::none()];
            }
            s.markers.push(Marker::CueIn);
            s.dateranges.push(in_range(no, at(base, start), total));
        } else {
            s.map = src.map.clone();
            s.keys = src.keys.clone();
        }
        if !s.keys.is_empty() {
            encrypted = s.keys.iter().any(|k| k.method() != Some("NONE"));
        }
        if out.segments.is_empty() || s.discontinuity {
            s.program_date_time = Some(at(base, t));
        }
        t += s.duration;
        out.segments.push(s);
    }
    if let Some((no, start, total)) = pending_in {
        out.trailing = Some(Box::new(Segment {
            markers: vec![Marker::CueIn],
            dateranges: vec![in_range(no, at(base, start), total)],
            ..Default::default()
        }));
    }
    finish(&mut out, content);
    out
}

fn ad_segments(ad: &AdMedia<'_>) -> Vec<Segment> {
    match ad {
        AdMedia::Playlist(p) => p.segments.iter().map(bare).collect(),
        AdMedia::Empty { durations, uri } => {
            durations.iter().map(|d| Segment::new(*uri, *d)).collect()
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ticks(secs: f64) -> u64 {
    (secs * 90_000.0).round() as u64
}

fn out_range(no: usize, start: DateTime<FixedOffset>, total: f64) -> DateRange {
    let cue = SpliceInsert::out(no as u32, None, Some(ticks(total)));
    DateRange {
        attrs: AttributeList::new()
            .quoted("ID", break_id(no))
            .quoted("START-DATE", iso(start))
            .unquoted("PLANNED-DURATION", round3(total))
            .unquoted("SCTE35-OUT", cue.to_hex()),
    }
}

fn in_range(no: usize, start: DateTime<FixedOffset>, total: f64) -> DateRange {
    let cue = SpliceInsert::back_in(no as u32, None);
    let end = start + ChronoDuration::milliseconds((total * 1000.0).round() as i64);
    DateRange {
        attrs: AttributeList::new()
            .quoted("ID", break_id(no))
            .quoted("START-DATE", iso(start))
            .quoted("END-DATE", iso(end))
            .unquoted("DURATION", round3(total))
            .unquoted("SCTE35-IN", cue.to_hex()),
    }
}

/// Target duration and version that hold what was spliced in.
fn finish(out: &mut MediaPlaylist, content: &MediaPlaylist) {
    let target = out
        .computed_target_duration()
        .max(content.target_duration.unwrap_or(1));
    out.target_duration = Some(target);
    let need = hls::validate::required_version(out).0.max(3);
    out.version = Some(out.version.unwrap_or(need).max(need));
}

/// Where an Interstitial points.
#[derive(Debug, Clone, Copy)]
pub enum Asset<'a> {
    /// `X-ASSET-URI`: one HLS asset.
    Uri(&'a str),
    /// `X-ASSET-LIST`: a JSON asset list.
    List(&'a str),
}

/// One Interstitial at `at` seconds (snapped), lasting `duration` seconds when known.
#[derive(Debug, Clone, Copy)]
pub struct Interstitial<'a> {
    pub at: f64,
    pub duration: Option<f64>,
    pub asset: Asset<'a>,
}

/// `content` with one `CLASS="com.apple.hls.interstitial"` DATERANGE per break instead of
/// spliced segments (players such as hls.js and AVPlayer fetch and play the asset). The
/// content keeps its segments; a PROGRAM-DATE-TIME anchors the DATERANGE dates.
pub fn interstitials(content: &MediaPlaylist, marks: &[Interstitial<'_>]) -> MediaPlaylist {
    let base = base_date(content);
    let mut out = MediaPlaylist {
        trailing: None,
        playlist_type: Some(PlaylistType::Vod),
        end_list: true,
        ..content.clone()
    };
    out.segments = content
        .segments
        .iter()
        .map(|s| Segment {
            map: s.map.clone(),
            keys: s.keys.clone(),
            ..bare(s)
        })
        .collect();
    let n = out.segments.len();
    if n == 0 {
        return out;
    }
    out.segments[0].program_date_time = Some(base);
    for (k, m) in marks.iter().enumerate() {
        let b = nearest_boundary(content, m.at);
        let when = boundaries(content)[b];
        let mut attrs = AttributeList::new()
            .quoted("ID", format!("stitch-ad-{}", k + 1))
            .quoted("CLASS", "com.apple.hls.interstitial")
            .quoted("START-DATE", iso(at(base, when)));
        if let Some(d) = m.duration {
            attrs.set_unquoted("DURATION", round3(d));
        }
        match m.asset {
            Asset::Uri(u) => attrs.set_quoted("X-ASSET-URI", u),
            Asset::List(u) => attrs.set_quoted("X-ASSET-LIST", u),
        };
        attrs.set_unquoted("X-RESUME-OFFSET", 0);
        if b == 0 {
            attrs.set_quoted("CUE", "PRE");
        } else if b == n {
            attrs.set_quoted("CUE", "POST");
        }
        // The tag goes before the segment it starts at (the last one for a post-roll).
        out.segments[b.min(n - 1)]
            .dateranges
            .push(DateRange { attrs });
    }
    finish(&mut out, content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playlist(durations: &[f64], prefix: &str) -> MediaPlaylist {
        MediaPlaylist {
            target_duration: Some(2),
            version: Some(3),
            segments: durations
                .iter()
                .enumerate()
                .map(|(i, d)| Segment::new(format!("http://h/{prefix}{i}.ts"), *d))
                .collect(),
            end_list: true,
            ..Default::default()
        }
    }

    #[test]
    fn snapping() {
        let p = playlist(&[2.0, 2.0, 2.0, 2.0], "c");
        assert_eq!(snap(&p, 0.0), 0.0);
        assert_eq!(snap(&p, 2000.0), 2.0);
        assert_eq!(snap(&p, 2001.0), 4.0);
        assert_eq!(snap(&p, 7999.0), 8.0);
        assert_eq!(snap(&p, 60_000.0), 8.0);
        let audio = playlist(&[2.005, 2.005, 2.005, 1.985], "a");
        assert_eq!(nearest_boundary(&audio, 4.0), 2);
        assert_eq!(nearest_boundary(&audio, 8.0), 4);
    }

    #[test]
    fn pre_mid_post_markers() {
        let c = playlist(&[2.0, 2.0, 2.0], "c");
        let ad = playlist(&[2.0, 1.5], "ad");
        let ins = |at| Insert {
            at,
            ad: AdMedia::Playlist(&ad),
        };
        let out = splice(&c, &[ins(6.0), ins(0.0), ins(2.0), ins(2.0)]);
        let uris: Vec<_> = out.segments.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "http://h/ad0.ts",
                "http://h/ad1.ts",
                "http://h/c0.ts",
                "http://h/ad0.ts",
                "http://h/ad1.ts",
                "http://h/ad0.ts",
                "http://h/ad1.ts",
                "http://h/c1.ts",
                "http://h/c2.ts",
                "http://h/ad0.ts",
                "http://h/ad1.ts"
            ]
        );
        let disc: Vec<_> = out.segments.iter().map(|s| s.discontinuity).collect();
        assert_eq!(
            disc,
            [
                false, false, true, true, false, true, false, true, false, true, false
            ]
        );
        let cue_outs: Vec<_> = out
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.markers.iter().any(|m| m.duration().is_some()))
            .map(|(i, s)| (i, s.markers[0].duration()))
            .collect();
        assert_eq!(cue_outs, [(0, Some(3.5)), (3, Some(7.0)), (9, Some(3.5))]);
        assert!(
            out.trailing
                .as_ref()
                .unwrap()
                .markers
                .contains(&Marker::CueIn)
        );
        assert_eq!(out.target_duration, Some(2));
        assert!(out.end_list);
        let text = out.to_string();
        let (_, problems) = hls::validate::check_text(&text);
        let errors: Vec<_> = problems
            .iter()
            .filter(|p| p.severity == hls::validate::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{text}");
    }
}
