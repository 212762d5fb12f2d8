//! Validation against the RFC 8216 rules a player depends on. Pure: the caller fetches.
//!
//! Three layers, each returning [`Problem`]s with a stable rule id:
//! - [`check_text`]: syntax (the parser's errors, with their rule ids) and then the static
//!   rules of the parsed playlist, with line numbers found by a scan of the text;
//! - [`check_media`] / [`check_master`]: static rules on a parsed playlist;
//! - [`LiveTracker`]: rules across reloads of one live media playlist (media sequence,
//!   segment identity, discontinuity sequence, staleness, window length).
//!
//! Rule ids are part of the interface: tests, `lineup validate --json` and the fixtures in
//! `tests/fixtures/broken/` name them.

use std::collections::{BTreeMap, HashSet};

use crate::model::*;
use crate::parse::parse;

/// How bad a problem is. Errors fail validation (non-zero exit); warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One broken rule and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule: &'static str,
    pub severity: Severity,
    /// 1-based line in the playlist text, when known.
    pub line: Option<usize>,
    /// Media sequence number of the segment concerned, when there is one.
    pub sequence: Option<u64>,
    pub message: String,
}

impl Problem {
    fn error(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            line: None,
            sequence: None,
            message: message.into(),
        }
    }
    fn warning(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, message)
        }
    }
    fn at(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
    fn seq(mut self, sequence: u64) -> Self {
        self.sequence = Some(sequence);
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.severity.as_str(), self.rule)?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        if let Some(s) = self.sequence {
            write!(f, " (segment {s})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where things are in the text: line numbers of tags and segment URIs, found by a scan.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    /// Line of each segment's `#EXTINF`, by segment index.
    pub extinf: Vec<usize>,
    /// First line of each tag name.
    pub first_tag: BTreeMap<String, usize>,
    /// Lines of each `EXT-X-STREAM-INF`, `EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`, in order.
    pub stream_inf: Vec<usize>,
    pub media: Vec<usize>,
    pub i_frame_stream_inf: Vec<usize>,
    /// Lines of `EXT-X-KEY` and `EXT-X-MAP`, in order.
    pub keys: Vec<usize>,
    pub maps: Vec<usize>,
}

impl LineIndex {
    pub fn scan(text: &str) -> Self {
        let mut idx = LineIndex::default();
        for (i, line) in text.split('\n').enumerate() {
            let no = i + 1;
            let line = line.trim();
            let Some(tag) = line.strip_prefix('#') else {
                continue;
            };
            let name = tag.split(':').next().unwrap_or(tag);
            if !name.starts_with("EXT") {
                continue;
            }
            idx.first_tag.entry(name.to_string()).or_insert(no);
            match name {
                "EXTINF" => idx.extinf.push(no),
                "EXT-X-STREAM-INF" => idx.stream_inf.push(no),
                "EXT-X-MEDIA" => idx.media.push(no),
                "EXT-X-I-FRAME-STREAM-INF" => idx.i_frame_stream_inf.push(no),
                "EXT-X-KEY" => idx.keys.push(no),
                "EXT-X-MAP" => idx.maps.push(no),
                _ => {}
            }
        }
        idx
    }
    fn tag(&self, name: &str) -> Option<usize> {
        self.first_tag.get(name).copied()
    }
}

/// Parse and check a playlist's text. Returns the playlist when it parsed.
pub fn check_text(text: &str) -> (Option<Playlist>, Vec<Problem>) {
    match parse(text) {
        Err(e) => (
            None,
            vec![Problem::error(e.rule, e.message).at(Some(e.line))],
        ),
        Ok(p) => {
            let idx = LineIndex::scan(text);
            let problems = match &p {
                Playlist::Media(m) => check_media(m, &idx),
                Playlist::Master(m) => check_master(m, &idx),
            };
            (Some(p), problems)
        }
    }
}

/// The `EXT-X-VERSION` a media playlist needs for the features it uses (RFC 8216 7).
pub fn required_version(p: &MediaPlaylist) -> (u64, &'static str) {
    let mut need = (1, "");
    let mut bump = |v: u64, why: &'static str| {
        if v > need.0 {
            need = (v, why);
        }
    };
    for s in &p.segments {
        if s.duration.fract() != 0.0 {
            bump(3, "a decimal EXTINF duration");
        }
        if s.byte_range.is_some() {
            bump(4, "EXT-X-BYTERANGE");
        }
        for k in &s.keys {
            if k.attrs.contains("IV") {
                bump(2, "the IV attribute of EXT-X-KEY");
            }
            if k.attrs.contains("KEYFORMAT") || k.attrs.contains("KEYFORMATVERSIONS") {
                bump(5, "KEYFORMAT in EXT-X-KEY");
            }
        }
        if s.map.is_some() {
            if p.i_frames_only {
                bump(5, "EXT-X-MAP in an I-frames-only playlist");
            } else {
                bump(6, "EXT-X-MAP in a playlist that is not I-frames only");
            }
        }
    }
    if p.i_frames_only {
        bump(4, "EXT-X-I-FRAMES-ONLY");
    }
    need
}

/// Static rules of a media playlist.
pub fn check_media(p: &MediaPlaylist, idx: &LineIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    let line_of = |i: usize| idx.extinf.get(i).copied();

    match p.target_duration {
        None => out.push(Problem::error(
            "missing-targetduration",
            "a media playlist must have #EXT-X-TARGETDURATION",
        )),
        Some(target) => {
            for (i, s) in p.segments.iter().enumerate() {
                let rounded = s.duration.round() as u64;
                if rounded > target {
                    out.push(
                        Problem::error(
                            "extinf-over-target",
                            format!(
                                "EXTINF {} rounds to {rounded}, over EXT-X-TARGETDURATION {target}",
                                s.duration
                            ),
                        )
                        .at(line_of(i))
                        .seq(p.sequence_of(i)),
                    );
                }
            }
        }
    }

    let (need, why) = required_version(p);
    let have = p.version.unwrap_or(1);
    if have < need {
        out.push(
            Problem::error(
                "version-too-low",
                format!("EXT-X-VERSION is {have} but {why} needs version {need}"),
            )
            .at(idx.tag("EXT-X-VERSION")),
        );
    }

    if p.playlist_type == Some(PlaylistType::Vod) && !p.end_list {
        out.push(
            Problem::error(
                "vod-missing-endlist",
                "EXT-X-PLAYLIST-TYPE:VOD needs #EXT-X-ENDLIST",
            )
            .at(idx.tag("EXT-X-PLAYLIST-TYPE")),
        );
    }

    // MAP: if any segment has one, the first must (else it has no initialization section).
    if let Some(first_map) = p.segments.iter().position(|s| s.map.is_some())
        && first_map > 0
    {
        out.push(
            Problem::error(
                "map-after-segment",
                "the first #EXT-X-MAP comes after a segment, which then has no media initialization section",
            )
            .at(idx.maps.first().copied())
            .seq(p.sequence_of(first_map)),
        );
    }

    // KEY
    let mut key_no = 0;
    for (i, s) in p.segments.iter().enumerate() {
        for k in &s.keys {
            let line = idx.keys.get(key_no).copied();
            key_no += 1;
            match k.method() {
                Some("NONE") => {
                    if k.uri().is_some() {
                        out.push(
                            Problem::error("key-none-with-uri", "METHOD=NONE must not have a URI")
                                .at(line),
                        );
                    }
                }
                Some("AES-128") | Some("SAMPLE-AES") | Some("SAMPLE-AES-CTR") => {
                    if k.uri().is_none() {
                        out.push(
                            Problem::error(
                                "key-missing-uri",
                                format!(
                                    "#EXT-X-KEY METHOD={} needs a URI",
                                    k.method().unwrap_or("")
                                ),
                            )
                            .at(line)
                            .seq(p.sequence_of(i)),
                        );
                    }
                    if k.attrs.contains("IV") && k.iv().is_none() {
                        out.push(
                            Problem::error("key-bad-iv", "IV must be a 128-bit 0x-hexadecimal")
                                .at(line),
                        );
                    }
                }
                Some(other) => out.push(
                    Problem::error(
                        "key-bad-method",
                        format!("METHOD={other} is not NONE, AES-128 or SAMPLE-AES"),
                    )
                    .at(line),
                ),
                None => {
                    out.push(Problem::error("key-bad-method", "#EXT-X-KEY without METHOD").at(line))
                }
            }
        }
    }

    // BYTERANGE without offset must follow a sub-range of the same resource.
    for (i, s) in p.segments.iter().enumerate() {
        if let Some(r) = s.byte_range
            && r.offset.is_none()
        {
            let prev_same =
                i > 0 && p.segments[i - 1].byte_range.is_some() && p.segments[i - 1].uri == s.uri;
            if !prev_same {
                out.push(
                    Problem::error(
                        "byterange-without-offset-first",
                        "EXT-X-BYTERANGE without an offset must follow a sub-range of the same URI",
                    )
                    .at(line_of(i))
                    .seq(p.sequence_of(i)),
                );
            }
        }
    }

    if p.i_frames_only && p.segments.iter().any(|s| s.byte_range.is_none()) {
        out.push(Problem::warning(
            "i-frames-only-without-byterange",
            "an I-frames-only playlist whose segments are whole resources: players expect EXT-X-BYTERANGE per I-frame",
        ).at(idx.tag("EXT-X-I-FRAMES-ONLY")));
    }

    // DATERANGE
    let mut ids = HashSet::new();
    for (i, s) in p.segments.iter().enumerate() {
        for d in &s.dateranges {
            // A later tag with the ID of an earlier one may omit START-DATE: it updates that
            // range (the RFC's own example 8.10 does so for the SCTE35-IN).
            let continues_earlier = d.id().is_some_and(|id| ids.contains(id));
            if d.id().is_none() || (d.attrs.get("START-DATE").is_none() && !continues_earlier) {
                out.push(
                    Problem::error(
                        "daterange-missing-attribute",
                        "EXT-X-DATERANGE needs ID and START-DATE",
                    )
                    .at(line_of(i)),
                );
            } else if d.attrs.contains("START-DATE") && d.start_date().is_none() {
                out.push(
                    Problem::error(
                        "daterange-bad-date",
                        "EXT-X-DATERANGE START-DATE is not ISO 8601",
                    )
                    .at(line_of(i)),
                );
            }
            if d.attrs.get_bool("END-ON-NEXT") && d.class().is_none() {
                out.push(
                    Problem::error(
                        "daterange-end-on-next-without-class",
                        "END-ON-NEXT=YES needs CLASS",
                    )
                    .at(line_of(i)),
                );
            }
            if let Some(id) = d.id() {
                ids.insert(id.to_string());
            }
            for which in ["SCTE35-CMD", "SCTE35-OUT", "SCTE35-IN"] {
                if d.attrs.contains(which) && d.scte35(which).is_none() {
                    out.push(
                        Problem::error(
                            "daterange-bad-scte35",
                            format!("{which} must be 0x-hexadecimal"),
                        )
                        .at(line_of(i)),
                    );
                }
            }
        }
        if !s.dateranges.is_empty() && !p.segments.iter().any(|s| s.program_date_time.is_some()) {
            out.push(
                Problem::error(
                    "daterange-without-program-date-time",
                    "a playlist with EXT-X-DATERANGE needs at least one EXT-X-PROGRAM-DATE-TIME",
                )
                .at(line_of(i)),
            );
            break;
        }
    }

    // Live playlists should hold three target durations (RFC 8216 6.2.2). Statically it is
    // a warning (a stream that just started is shorter, as in the RFC's own example 8.2);
    // the live tracker makes it an error when the server removed segments to get there.
    if let Some(short) = short_window(p) {
        out.push(Problem::warning("window-too-short", short));
    }
    out
}

fn short_window(p: &MediaPlaylist) -> Option<String> {
    if p.end_list || p.playlist_type.is_some() {
        return None;
    }
    let target = p.target_duration?;
    let total = p.duration();
    (total + 1e-6 < 3.0 * target as f64).then(|| {
        format!(
            "live playlist holds {total:.3} s, less than three target durations ({} s)",
            3 * target
        )
    })
}

/// Static rules of a master playlist.
pub fn check_master(p: &MasterPlaylist, idx: &LineIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut groups: BTreeMap<(&str, MediaType), Vec<&Rendition>> = BTreeMap::new();
    for (i, m) in p.media.iter().enumerate() {
        let line = idx.media.get(i).copied();
        let Some(kind) = m.media_type() else {
            out.push(
                Problem::error(
                    "media-bad-type",
                    "EXT-X-MEDIA TYPE must be AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS",
                )
                .at(line),
            );
            continue;
        };
        let Some(group) = m.group_id() else {
            out.push(
                Problem::error("media-missing-group-id", "EXT-X-MEDIA needs GROUP-ID").at(line),
            );
            continue;
        };
        if m.name().is_none() {
            out.push(Problem::error("media-missing-name", "EXT-X-MEDIA needs NAME").at(line));
        }
        match kind {
            MediaType::ClosedCaptions => {
                if m.uri().is_some() {
                    out.push(
                        Problem::error(
                            "media-closed-captions-uri",
                            "CLOSED-CAPTIONS must not have a URI",
                        )
                        .at(line),
                    );
                }
                if !m.attrs.contains("INSTREAM-ID") {
                    out.push(
                        Problem::error(
                            "media-missing-instream-id",
                            "CLOSED-CAPTIONS needs INSTREAM-ID",
                        )
                        .at(line),
                    );
                }
            }
            MediaType::Subtitles if m.uri().is_none() => {
                out.push(
                    Problem::error("media-subtitles-without-uri", "SUBTITLES needs a URI").at(line),
                );
            }
            _ => {}
        }
        let same = groups.entry((group, kind)).or_default();
        if let Some(name) = m.name()
            && same.iter().any(|o| o.name() == Some(name))
        {
            out.push(
                Problem::error(
                    "media-duplicate-name",
                    format!("two renditions named '{name}' in group '{group}'"),
                )
                .at(line),
            );
        }
        same.push(m);
    }
    for (i, v) in p.variants.iter().enumerate() {
        let line = idx.stream_inf.get(i).copied();
        if v.bandwidth().is_none() {
            out.push(
                Problem::error(
                    "stream-inf-missing-bandwidth",
                    format!("EXT-X-STREAM-INF for '{}' needs a numeric BANDWIDTH", v.uri),
                )
                .at(line),
            );
        }
        if v.codecs().is_none() {
            out.push(Problem::warning("codecs-missing", format!("EXT-X-STREAM-INF for '{}' should have CODECS (RFC 8216 4.3.4.2 SHOULD; players pick variants by it)", v.uri)).at(line));
        }
        if v.attrs.contains("RESOLUTION") && v.resolution().is_none() {
            out.push(
                Problem::error("resolution-bad", "RESOLUTION must be <width>x<height>").at(line),
            );
        }
        for (attr, kind) in [
            ("AUDIO", MediaType::Audio),
            ("VIDEO", MediaType::Video),
            ("SUBTITLES", MediaType::Subtitles),
            ("CLOSED-CAPTIONS", MediaType::ClosedCaptions),
        ] {
            if let Some(group) = v.attrs.get(attr) {
                if attr == "CLOSED-CAPTIONS"
                    && matches!(v.attrs.get_value(attr), Some(crate::AttrValue::Unquoted(s)) if s == "NONE")
                {
                    continue;
                }
                if !groups.contains_key(&(group, kind)) {
                    out.push(
                        Problem::error(
                            "media-group-undefined",
                            format!(
                                "{attr}=\"{group}\" names a group no EXT-X-MEDIA TYPE={} defines",
                                kind.as_str()
                            ),
                        )
                        .at(line),
                    );
                }
            }
        }
    }
    for (i, f) in p.i_frame_streams.iter().enumerate() {
        let line = idx.i_frame_stream_inf.get(i).copied();
        if f.uri().is_none() {
            out.push(
                Problem::error("iframe-missing-uri", "EXT-X-I-FRAME-STREAM-INF needs URI").at(line),
            );
        }
        if f.bandwidth().is_none() {
            out.push(
                Problem::error(
                    "iframe-missing-bandwidth",
                    "EXT-X-I-FRAME-STREAM-INF needs BANDWIDTH",
                )
                .at(line),
            );
        }
    }
    if p.variants.is_empty() && p.i_frame_streams.is_empty() {
        out.push(Problem::error(
            "master-without-variants",
            "a master playlist needs at least one EXT-X-STREAM-INF",
        ));
    }
    out
}

/// Rules across reloads of one live media playlist. Feed it every reload with the time it
/// was fetched (milliseconds on any monotonic clock).
#[derive(Debug, Default)]
pub struct LiveTracker {
    prev: Option<Snapshot>,
    /// Sequence number -> URI of every segment seen (bounded to the recent past).
    seen: BTreeMap<u64, String>,
    /// When the playlist last changed.
    changed_at_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct Snapshot {
    media_sequence: u64,
    discontinuity_sequence: u64,
    target_duration: Option<u64>,
    playlist_type: Option<PlaylistType>,
    end_list: bool,
    /// (uri, duration, discontinuity) per segment.
    segments: Vec<(String, f64, bool)>,
}

impl Snapshot {
    fn of(p: &MediaPlaylist) -> Self {
        Self {
            media_sequence: p.media_sequence,
            discontinuity_sequence: p.discontinuity_sequence,
            target_duration: p.target_duration,
            playlist_type: p.playlist_type,
            end_list: p.end_list,
            segments: p
                .segments
                .iter()
                .map(|s| (s.uri.clone(), s.duration, s.discontinuity))
                .collect(),
        }
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
            let changed = !prev.same_content(&cur);
            if changed {
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
                            "the playlist has not changed for {:.1} s, over 1.5 x target duration ({} s)",
                            stale_ms as f64 / 1000.0,
                            target
                        ),
                    ));
                    // Report once per stale period.
                    self.changed_at_ms = Some(now_ms);
                }
            }
            if prev.end_list && !cur.end_list {
                out.push(Problem::error(
                    "endlist-removed",
                    "#EXT-X-ENDLIST disappeared between reloads",
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
                    // The discontinuity sequence grows by the discontinuities that left the head.
                    let dropped = prev.segments[..removed].iter().filter(|s| s.2).count() as u64;
                    let expected = prev.discontinuity_sequence + dropped;
                    if cur.discontinuity_sequence != expected {
                        out.push(Problem::error(
                            "discontinuity-sequence-wrong",
                            format!(
                                "EXT-X-DISCONTINUITY-SEQUENCE is {} but {} discontinuities left the window since it was {} (expected {expected})",
                                cur.discontinuity_sequence, dropped, prev.discontinuity_sequence
                            ),
                        ));
                    }
                    // Segments still present must be unchanged under the same number.
                    for (i, (uri, dur, disc)) in cur.segments.iter().enumerate() {
                        let Some(old) = prev.segments.get(removed + i) else {
                            break;
                        };
                        let seq = cur.media_sequence + i as u64;
                        if &old.0 != uri {
                            out.push(
                                Problem::error(
                                    "segment-uri-changed",
                                    format!("segment {seq} was '{}' and is now '{uri}'", old.0),
                                )
                                .seq(seq),
                            );
                        } else if (old.1 - dur).abs() > 1e-3 || old.2 != *disc {
                            out.push(Problem::error(
                                "segment-changed",
                                format!("segment {seq} ('{uri}') changed its duration or discontinuity"),
                            ).seq(seq));
                        }
                    }
                }
            }
        } else {
            self.changed_at_ms = Some(now_ms);
        }
        // Identity over a longer memory than one reload.
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
        let keep_from = p.media_sequence.saturating_sub(1000);
        self.seen = self.seen.split_off(&keep_from);
        self.prev = Some(cur);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let back = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\nd.ts\n#EXTINF:2,\ne.ts\n#EXTINF:2,\nf.ts\n",
        );
        let rules: Vec<_> = t.observe(&back, 4000).iter().map(|p| p.rule).collect();
        assert!(rules.contains(&"media-sequence-decreased"), "{rules:?}");
    }
}
