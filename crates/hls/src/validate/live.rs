//! Rules across reloads of one live media playlist (RFC 8216 6.2.1, 6.2.2, 6.2.3).

use std::collections::BTreeMap;

use super::{Problem, media::short_window};
use crate::model::*;

/// Rules across reloads of one live media playlist. Feed it every reload with the time it
/// was fetched (milliseconds on any monotonic clock).
#[derive(Debug, Default)]
pub struct LiveTracker {
    prev: Option<Snapshot>,
    /// Sequence number -> URI of every segment seen (bounded to the recent past).
    seen: BTreeMap<u64, String>,
    /// When a reload last showed a new segment.
    changed_at_ms: Option<u64>,
}

/// What a reload says about one segment: everything the server must not change while the
/// segment stays listed (RFC 8216 6.2.1), including the KEY and MAP that apply to it.
#[derive(Debug, Clone, PartialEq)]
struct Seg {
    uri: String,
    duration: f64,
    discontinuity: bool,
    /// Its Discontinuity Sequence Number.
    disc_no: u64,
    byte_range: Option<ByteRange>,
    /// The EXT-X-PROGRAM-DATE-TIME tag on the segment itself, in ms since 1970.
    date_ms: Option<i64>,
    /// The EXT-X-KEY tags in effect, as text ("" when none).
    key: String,
    /// The EXT-X-MAP in effect, as text ("" when none).
    map: String,
}

#[derive(Debug, Clone)]
struct Snapshot {
    media_sequence: u64,
    discontinuity_sequence: u64,
    target_duration: Option<u64>,
    playlist_type: Option<PlaylistType>,
    end_list: bool,
    segments: Vec<Seg>,
}

impl Snapshot {
    fn of(p: &MediaPlaylist) -> Self {
        let mut disc_no = p.discontinuity_sequence;
        Self {
            media_sequence: p.media_sequence,
            discontinuity_sequence: p.discontinuity_sequence,
            target_duration: p.target_duration,
            playlist_type: p.playlist_type,
            end_list: p.end_list,
            segments: p
                .segments
                .iter()
                .enumerate()
                .map(|(i, s)| Seg {
                    disc_no: {
                        disc_no += u64::from(s.discontinuity);
                        disc_no
                    },
                    uri: s.uri.clone(),
                    duration: s.duration,
                    discontinuity: s.discontinuity,
                    byte_range: s.byte_range,
                    date_ms: s.program_date_time.map(|t| t.timestamp_millis()),
                    key: p
                        .effective_keys(i)
                        .iter()
                        .map(|k| k.attrs.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    map: p
                        .effective_map(i)
                        .map(|m| m.attrs.to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
    /// Sequence number after the last segment.
    fn end(&self) -> u64 {
        self.media_sequence + self.segments.len() as u64
    }
    fn same_content(&self, o: &Snapshot) -> bool {
        self.media_sequence == o.media_sequence
            && self.segments == o.segments
            && self.end_list == o.end_list
    }
}

impl LiveTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Check one reload against the previous ones.
    pub fn observe(&mut self, p: &MediaPlaylist, now_ms: u64) -> Vec<Problem> {
        let mut out = Vec::new();
        let cur = Snapshot::of(p);
        if let Some(prev) = self.prev.take() {
            self.staleness(&prev, &cur, now_ms, &mut out);
            header_changes(&prev, &cur, &mut out);
            window_changes(&prev, &cur, p, &mut out);
        } else {
            self.changed_at_ms = Some(now_ms);
        }
        self.identity(p, &mut out);
        let keep_from = p.media_sequence.saturating_sub(1000);
        self.seen = self.seen.split_off(&keep_from);
        self.prev = Some(cur);
        out
    }

    /// 6.2.1: a new segment within 1.5 target durations.
    fn staleness(&mut self, prev: &Snapshot, cur: &Snapshot, now_ms: u64, out: &mut Vec<Problem>) {
        // 6.2.1: a playlist without ENDLIST must show a new segment within 1.5 target
        // durations of the previous version (measured from the reload that saw it, so
        // never earlier than the server published it: no false alarms).
        if cur.end() > prev.end() {
            self.changed_at_ms = Some(now_ms);
        } else if !cur.end_list
            && let (Some(target), Some(since)) = (cur.target_duration, self.changed_at_ms)
        {
            // RFC 8216 6.2.1 asks the server to publish a new playlist at least every
            // target duration; we allow one and a half before calling it stale.
            let stale_ms = now_ms.saturating_sub(since);
            if stale_ms > target * 1500 {
                out.push(Problem::error(
                    "playlist-stale",
                    format!(
                        "no new segment for {:.1} s, over 1.5 x target duration ({} s)",
                        stale_ms as f64 / 1000.0,
                        target
                    ),
                ));
                // Report once per stale period.
                self.changed_at_ms = Some(now_ms);
            }
        }
    }

    /// Segments keep their URI under one number over a longer memory than one reload.
    fn identity(&mut self, p: &MediaPlaylist, out: &mut Vec<Problem>) {
        for (i, s) in p.segments.iter().enumerate() {
            let seq = p.media_sequence + i as u64;
            if let Some(old) = self.seen.get(&seq) {
                if old != &s.uri && !out.iter().any(|x| x.sequence == Some(seq)) {
                    out.push(
                        Problem::error(
                            "segment-uri-changed",
                            format!("segment {seq} was '{old}' and is now '{}'", s.uri),
                        )
                        .seq(seq),
                    );
                }
            } else {
                self.seen.insert(seq, s.uri.clone());
            }
        }
    }
}

/// ENDLIST, PLAYLIST-TYPE and TARGETDURATION between two reloads.
fn header_changes(prev: &Snapshot, cur: &Snapshot, out: &mut Vec<Problem>) {
    let changed = !prev.same_content(cur);
    if prev.end_list && !cur.end_list {
        out.push(Problem::error(
            "endlist-removed",
            "#EXT-X-ENDLIST disappeared between reloads",
        ));
    }
    if prev.end_list && cur.end() > prev.end() {
        out.push(Problem::error(
            "segment-added-after-endlist",
            format!(
                "segments {} to {} were added after #EXT-X-ENDLIST said no more would be",
                prev.end(),
                cur.end() - 1
            ),
        ));
    }
    if prev.playlist_type != cur.playlist_type && prev.playlist_type != Some(PlaylistType::Vod) {
        out.push(Problem::error(
            "playlist-type-changed",
            format!(
                "EXT-X-PLAYLIST-TYPE changed from {} to {} between reloads",
                prev.playlist_type.map_or("none", |t| t.as_str()),
                cur.playlist_type.map_or("none", |t| t.as_str())
            ),
        ));
    }
    if prev.playlist_type == Some(PlaylistType::Vod) && changed {
        out.push(Problem::error(
            "playlist-type-vod-changed",
            "a PLAYLIST-TYPE:VOD playlist changed between reloads",
        ));
    }
    if prev.target_duration != cur.target_duration {
        out.push(Problem::error(
            "target-duration-changed",
            format!(
                "EXT-X-TARGETDURATION changed from {:?} to {:?}",
                prev.target_duration, cur.target_duration
            ),
        ));
    }
}

/// The window's head between two reloads: MEDIA-SEQUENCE, removed segments, and the
/// segments still listed.
fn window_changes(prev: &Snapshot, cur: &Snapshot, p: &MediaPlaylist, out: &mut Vec<Problem>) {
    if cur.media_sequence < prev.media_sequence {
        out.push(Problem::error(
            "media-sequence-decreased",
            format!(
                "EXT-X-MEDIA-SEQUENCE went back from {} to {}",
                prev.media_sequence, cur.media_sequence
            ),
        ));
    } else {
        let removed = (cur.media_sequence - prev.media_sequence) as usize;
        if removed > 0
            && let Some(short) = short_window(p)
        {
            out.push(Problem::error(
                "window-too-short",
                format!("segments were removed and now the {short}"),
            ));
        }
        if prev.playlist_type == Some(PlaylistType::Event) && removed > 0 {
            out.push(Problem::error(
                "event-segments-removed",
                "an EVENT playlist removed segments from its head",
            ));
        }
        if removed > prev.segments.len() {
            out.push(Problem::warning(
                "reload-gap",
                format!(
                    "{} segments were published and removed between two reloads (sequence {} to {})",
                    removed - prev.segments.len(),
                    prev.media_sequence + prev.segments.len() as u64,
                    cur.media_sequence
                ),
            ));
        } else {
            listed_unchanged(prev, cur, removed, out);
        }
    }
}

/// The segments listed in both reloads keep their discontinuity number and are unchanged
/// under the same media sequence number.
fn listed_unchanged(prev: &Snapshot, cur: &Snapshot, removed: usize, out: &mut Vec<Problem>) {
    // A listed segment keeps its Discontinuity Sequence Number (DISCONTINUITY-
    // SEQUENCE plus the DISCONTINUITY tags up to and including its own, RFC
    // 8216 4.3.3.3): the sequence grows by the discontinuities that left.
    // Servers either keep the tag on the new head segment or drop it and
    // count it in DISCONTINUITY-SEQUENCE; both give every segment the same
    // number, which is what players use, so both pass.
    let moved = cur.segments.iter().enumerate().find_map(|(i, new)| {
        let old = prev.segments.get(removed + i)?;
        (old.disc_no != new.disc_no).then_some((
            cur.media_sequence + i as u64,
            old.disc_no,
            new.disc_no,
        ))
    });
    if let Some((seq, was, now)) = moved {
        out.push(
            Problem::error(
                "discontinuity-sequence-wrong",
                format!(
                    "segment {seq} was in discontinuity {was} and is now in {now} (EXT-X-DISCONTINUITY-SEQUENCE {} -> {})",
                    prev.discontinuity_sequence, cur.discontinuity_sequence
                ),
            )
            .seq(seq),
        );
    }
    // Segments still present must be unchanged under the same number.
    for (i, new) in cur.segments.iter().enumerate() {
        let Some(old) = prev.segments.get(removed + i) else {
            break;
        };
        let seq = cur.media_sequence + i as u64;
        let uri = &new.uri;
        if old.uri != new.uri {
            out.push(
                Problem::error(
                    "segment-uri-changed",
                    format!("segment {seq} was '{}' and is now '{uri}'", old.uri),
                )
                .seq(seq),
            );
        } else if (old.duration - new.duration).abs() > 1e-3
            // The head segment's DISCONTINUITY may be folded into the
            // DISCONTINUITY-SEQUENCE (checked by number above).
            || (old.discontinuity != new.discontinuity && i > 0)
            || old.byte_range != new.byte_range
            // A date tag may appear on the new head segment (its date was
            // implied before); a date both reloads state must not move.
            || matches!((old.date_ms, new.date_ms), (Some(a), Some(b)) if (a - b).abs() > 1)
        {
            out.push(Problem::error(
                "segment-changed",
                format!("segment {seq} ('{uri}') changed its duration, discontinuity, byte range or date"),
            ).seq(seq));
        } else if old.key != new.key {
            out.push(
                Problem::error(
                    "segment-key-changed",
                    format!(
                        "the EXT-X-KEY of segment {seq} ('{uri}') changed from [{}] to [{}] (an EXT-X-KEY that applies to a listed segment must stay)",
                        old.key, new.key
                    ),
                )
                .seq(seq),
            );
        } else if old.map != new.map {
            out.push(
                Problem::error(
                    "segment-map-changed",
                    format!(
                        "the EXT-X-MAP of segment {seq} ('{uri}') changed from [{}] to [{}]",
                        old.map, new.map
                    ),
                )
                .seq(seq),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::validate::check_text;

    fn media(text: &str) -> MediaPlaylist {
        match parse(text).unwrap() {
            Playlist::Media(m) => m,
            _ => panic!(),
        }
    }

    #[test]
    fn clean_vod_has_no_problems() {
        let (_, problems) = check_text(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:5.5,\na.ts\n#EXTINF:6.0,\nb.ts\n#EXT-X-ENDLIST\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn over_target_names_line_and_sequence() {
        let (_, problems) = check_text(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:10\n#EXTINF:6,\na.ts\n#EXTINF:6.6,\nb.ts\n#EXT-X-ENDLIST\n",
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].rule, "extinf-over-target");
        assert_eq!(problems[0].line, Some(7));
        assert_eq!(problems[0].sequence, Some(11));
    }

    #[test]
    fn live_rules() {
        let a = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n",
        );
        let good = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n#EXTINF:2,\ne.ts\n",
        );
        let mut t = LiveTracker::new();
        assert!(t.observe(&a, 0).is_empty());
        assert_eq!(t.observe(&good, 2000), vec![]);
        // Unchanged for 3.1 s with target 2: stale.
        let p = t.observe(&good, 5100);
        assert_eq!(
            p.iter().map(|p| p.rule).collect::<Vec<_>>(),
            ["playlist-stale"]
        );

        let mut t = LiveTracker::new();
        t.observe(&a, 0);
        let bad = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\nX.ts\n#EXTINF:2,\nd.ts\n#EXTINF:2,\ne.ts\n",
        );
        let rules: Vec<_> = t.observe(&bad, 2000).iter().map(|p| p.rule).collect();
        assert!(rules.contains(&"discontinuity-sequence-wrong"), "{rules:?}");
        assert!(rules.contains(&"segment-uri-changed"), "{rules:?}");

        // The new head segment's DISCONTINUITY folded into DISCONTINUITY-SEQUENCE, or kept:
        // both keep segment 6 in discontinuity 1.
        for next in [
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n",
        ] {
            let mut t = LiveTracker::new();
            t.observe(&a, 0);
            assert_eq!(t.observe(&media(next), 2000), vec![], "{next}");
        }
        // Dropped without counting it: segment 6 moved from discontinuity 1 to 0.
        let mut t2 = LiveTracker::new();
        t2.observe(&a, 0);
        let lost = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n",
        );
        let rules: Vec<_> = t2.observe(&lost, 2000).iter().map(|p| p.rule).collect();
        assert_eq!(rules, ["discontinuity-sequence-wrong"]);

        let back = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\nd.ts\n#EXTINF:2,\ne.ts\n#EXTINF:2,\nf.ts\n",
        );
        let rules: Vec<_> = t.observe(&back, 4000).iter().map(|p| p.rule).collect();
        assert!(rules.contains(&"media-sequence-decreased"), "{rules:?}");
    }
}
