//! The pure model of one destination media playlist (sans-I/O): which source segments are
//! new, what they are called at the destination, which are stored, what the destination
//! playlist says now, and what left the window. The fetcher does the I/O around it.
//!
//! Invariants:
//! - Destination media sequence numbers are our own counter: strictly increasing by one per
//!   segment, never reset (not by a source restart, not by a pullpush restart, which
//!   resumes from [`TrackState`]).
//! - [`TrackModel::render`] lists only a prefix of the known segments that are all stored
//!   (with their init segment and key): a playlist never names an object the destination
//!   does not have.
//! - A segment that could not be delivered at all is skipped and the next listed segment
//!   carries a discontinuity.

use std::collections::{HashMap, VecDeque};

use hls::{Key, Map, MediaPlaylist, PlaylistType, Segment};
use url::Url;

/// One object to copy from the source to the destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// Destination-relative path.
    pub path: String,
    pub source: Url,
    /// Byte range of the source to fetch (`offset`, `length`), if the source uses ranges.
    pub range: Option<(u64, u64)>,
    /// The destination sequence of the segment that waits for this transfer.
    pub dest_seq: u64,
    /// A media segment (not an init section or key file).
    pub segment: bool,
}

/// A segment at the destination (listed or waiting).
#[derive(Debug, Clone)]
pub struct DestSegment {
    pub dest_seq: u64,
    pub source_seq: Option<u64>,
    pub source_uri: Option<String>,
    /// The segment with destination URIs; `map` and `keys` hold the EFFECTIVE values.
    pub seg: Segment,
    /// Transfers still outstanding for this segment (the segment, a new init, a new key).
    pub pending: u32,
    /// A transfer failed for good: the segment is skipped.
    pub failed: bool,
}

impl DestSegment {
    fn ready(&self) -> bool {
        self.pending == 0
    }
}

/// What survives a restart of pullpush (persisted as JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct TrackState {
    /// The last destination playlist written (the listed window).
    pub playlist: String,
    pub next_dest_seq: u64,
    pub last_source_seq: Option<u64>,
    pub last_source_uri: Option<String>,
    pub ended: bool,
}

/// One destination media playlist.
#[derive(Debug)]
pub struct TrackModel {
    /// File name without extension, e.g. `channel_800000`.
    pub name: String,
    /// Sliding window in seconds; `None` keeps everything (EVENT).
    pub window: Option<f64>,
    pub next_dest_seq: u64,
    pub discontinuity_seq: u64,
    pub last_source_seq: Option<u64>,
    pub last_source_uri: Option<String>,
    /// Source seq and uri of the last LISTED segment (what a restart resumes from).
    listed_source: (Option<u64>, Option<String>),
    pub segments: VecDeque<DestSegment>,
    pub target_duration: u64,
    pub version: Option<u64>,
    pub independent_segments: bool,
    /// The source said ENDLIST.
    pub source_ended: bool,
    /// Source segments newer than the last listed, as of the last poll (for the lag).
    maps: HashMap<String, String>,
    keys: HashMap<String, String>,
    current_map: Option<String>,
    current_keys: Vec<Key>,
    pending_discontinuity: bool,
    byte_offsets: HashMap<String, u64>,
    /// Number of segments listed in the last render (to know when it changed).
    last_rendered: Option<(u64, usize, bool)>,
    pub trailing: Option<Segment>,
}

fn extension_of(url: &Url, default: &str) -> String {
    let last = url.path().rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext))
            if matches!(
                ext.to_ascii_lowercase().as_str(),
                "ts" | "m4s"
                    | "mp4"
                    | "m4v"
                    | "m4a"
                    | "aac"
                    | "vtt"
                    | "webvtt"
                    | "cmfv"
                    | "cmfa"
                    | "mp3"
                    | "ac3"
                    | "ec3"
                    | "key"
            ) =>
        {
            ext.to_ascii_lowercase()
        }
        _ => default.to_string(),
    }
}

impl TrackModel {
    pub fn new(name: impl Into<String>, window: Option<f64>) -> Self {
        Self {
            name: name.into(),
            window,
            next_dest_seq: 0,
            discontinuity_seq: 0,
            last_source_seq: None,
            last_source_uri: None,
            listed_source: (None, None),
            segments: VecDeque::new(),
            target_duration: 1,
            version: None,
            independent_segments: false,
            source_ended: false,
            maps: HashMap::new(),
            keys: HashMap::new(),
            current_map: None,
            current_keys: Vec::new(),
            pending_discontinuity: false,
            byte_offsets: HashMap::new(),
            last_rendered: None,
            trailing: None,
        }
    }

    /// Resume from persisted state: the listed window comes back as stored segments and the
    /// destination sequence continues. The next new segment gets a discontinuity unless the
    /// source still continues exactly where we left.
    pub fn resume(name: impl Into<String>, window: Option<f64>, state: &TrackState) -> Self {
        let mut t = Self::new(name, window);
        t.next_dest_seq = state.next_dest_seq;
        t.last_source_seq = state.last_source_seq;
        t.last_source_uri = state.last_source_uri.clone();
        t.listed_source = (state.last_source_seq, state.last_source_uri.clone());
        t.source_ended = state.ended;
        if let Ok(p) = hls::parse_media(&state.playlist) {
            t.discontinuity_seq = p.discontinuity_sequence;
            t.target_duration = p.target_duration.unwrap_or(1);
            t.version = p.version;
            t.independent_segments = p.independent_segments;
            for (i, s) in p.segments.iter().enumerate() {
                let mut seg = s.clone();
                seg.map = p.effective_map(i).cloned();
                seg.keys = p.effective_keys(i).to_vec();
                t.segments.push_back(DestSegment {
                    dest_seq: p.media_sequence + i as u64,
                    source_seq: None,
                    source_uri: None,
                    seg,
                    pending: 0,
                    failed: false,
                });
            }
            if let Some(last) = t.segments.back() {
                t.next_dest_seq = t.next_dest_seq.max(last.dest_seq + 1);
            }
        }
        t
    }

    /// Snapshot for persistence: consistent with what the destination has published.
    pub fn state(&self, rendered: &MediaPlaylist) -> TrackState {
        let next = rendered
            .segments
            .len()
            .checked_sub(1)
            .map(|i| rendered.media_sequence + i as u64 + 1)
            .unwrap_or(
                self.next_dest_seq.min(
                    self.segments
                        .front()
                        .map(|s| s.dest_seq)
                        .unwrap_or(self.next_dest_seq),
                ),
            );
        TrackState {
            playlist: String::from_utf8_lossy(&rendered.to_bytes()).into_owned(),
            next_dest_seq: next,
            last_source_seq: self.listed_source.0,
            last_source_uri: self.listed_source.1.clone(),
            ended: rendered.end_list,
        }
    }

    /// Take a freshly polled source playlist (fetched from `base`); returns the transfers
    /// for what is new. `stem` names the destination files.
    pub fn ingest(&mut self, src: &MediaPlaylist, base: &Url) -> Vec<Transfer> {
        self.target_duration = self
            .target_duration
            .max(src.target_duration.unwrap_or(0))
            .max(src.computed_target_duration());
        self.version = src.version.max(self.version);
        self.independent_segments |= src.independent_segments;
        let mut transfers = Vec::new();
        let n = src.segments.len();
        if n == 0 {
            self.source_ended = src.end_list;
            return transfers;
        }
        let src_last = src.sequence_of(n - 1);
        // Where do new segments start in `src`?
        let start_index = self.new_from(src, src_last);
        for i in start_index..n {
            let s = &src.segments[i];
            let Ok(url) = hls::uri::resolve(base, &s.uri) else {
                continue;
            };
            let dest_seq = self.next_dest_seq;
            self.next_dest_seq += 1;
            let mut seg = s.clone();
            seg.discontinuity |= std::mem::take(&mut self.pending_discontinuity);
            let mut pending = 1;
            // Init section.
            seg.map = self.dest_map(src, i, base, dest_seq, &mut transfers, &mut pending);
            let keys = self.dest_keys(src, i, base, dest_seq, &mut transfers, &mut pending);
            self.current_keys = keys.clone();
            seg.keys = keys;
            // Byte ranges become whole objects at the destination.
            let range = s.byte_range.map(|r| {
                let off = r
                    .offset
                    .unwrap_or_else(|| *self.byte_offsets.get(url.as_str()).unwrap_or(&0));
                self.byte_offsets.insert(url.to_string(), off + r.length);
                (off, r.length)
            });
            seg.byte_range = None;
            let ext = extension_of(&url, "ts");
            let path = format!("{}_{dest_seq}.{ext}", self.name);
            seg.uri = path.clone();
            transfers.push(Transfer {
                path,
                source: url,
                range,
                dest_seq,
                segment: true,
            });
            self.segments.push_back(DestSegment {
                dest_seq,
                source_seq: Some(src.sequence_of(i)),
                source_uri: Some(s.uri.clone()),
                seg,
                pending,
                failed: false,
            });
        }
        self.last_source_seq = Some(src_last);
        self.last_source_uri = Some(src.segments[n - 1].uri.clone());
        self.source_ended = src.end_list;
        self.trailing = src.trailing.as_deref().cloned();
        transfers
    }

    /// Where the new segments of `src` start (at 0, after a discontinuity, when the
    /// source restarted, jumped past what we took, or lost the overlap).
    fn new_from(&mut self, src: &MediaPlaylist, src_last: u64) -> usize {
        let n = src.segments.len();
        match self.last_source_seq {
            None => 0,
            Some(last) => {
                let idx_of_last = last.checked_sub(src.media_sequence).map(|d| d as usize);
                match idx_of_last {
                    Some(i) if i < n => {
                        let same = self
                            .last_source_uri
                            .as_deref()
                            .is_none_or(|u| u == src.segments[i].uri);
                        if same {
                            i + 1
                        } else {
                            // Same numbers, other content: the source restarted.
                            self.pending_discontinuity = true;
                            0
                        }
                    }
                    Some(_) => {
                        // The source jumped past our last segment (we missed some).
                        self.pending_discontinuity = true;
                        0
                    }
                    None => {
                        if src_last < last {
                            // The media sequence went back: the source restarted.
                            self.pending_discontinuity = true;
                            0
                        } else {
                            // `last` is before the window's start: overlap lost.
                            self.pending_discontinuity = true;
                            0
                        }
                    }
                }
            }
        }
    }

    /// The destination init section of segment `i` (a transfer the first time it is seen).
    fn dest_map(
        &mut self,
        src: &MediaPlaylist,
        i: usize,
        base: &Url,
        dest_seq: u64,
        transfers: &mut Vec<Transfer>,
        pending: &mut u32,
    ) -> Option<Map> {
        match src.effective_map(i).and_then(|m| m.uri().map(|u| (m, u))) {
            Some((m, uri)) => match hls::uri::resolve(base, uri) {
                Ok(map_url) => {
                    let range = m.byte_range().map(|r| (r.offset.unwrap_or(0), r.length));
                    let key = format!("{map_url}#{range:?}");
                    let name = match self.maps.get(&key) {
                        Some(n) => n.clone(),
                        None => {
                            let ext = extension_of(&map_url, "mp4");
                            let name = if self.maps.is_empty() && self.current_map.is_none() {
                                format!("{}_init.{ext}", self.name)
                            } else {
                                format!("{}_init_{dest_seq}.{ext}", self.name)
                            };
                            self.maps.insert(key, name.clone());
                            transfers.push(Transfer {
                                path: name.clone(),
                                source: map_url,
                                range,
                                dest_seq,
                                segment: false,
                            });
                            *pending += 1;
                            name
                        }
                    };
                    self.current_map = Some(name.clone());
                    Some(Map::new(name, None))
                }
                Err(_) => None,
            },
            None => None,
        }
    }

    /// The destination keys of segment `i`: AES-128 key files are copied (a transfer the
    /// first time each is seen); other key URIs (skd://, data:) are kept as they are.
    fn dest_keys(
        &mut self,
        src: &MediaPlaylist,
        i: usize,
        base: &Url,
        dest_seq: u64,
        transfers: &mut Vec<Transfer>,
        pending: &mut u32,
    ) -> Vec<Key> {
        // Keys: copy AES-128 key files; keep other key URIs (skd://, data:) as they are.
        let mut keys = Vec::new();
        for k in src.effective_keys(i) {
            let mut k = k.clone();
            if let Some(uri) = k.uri().map(str::to_string)
                && let Ok(key_url) = hls::uri::resolve(base, &uri)
                && matches!(key_url.scheme(), "http" | "https")
            {
                let name = match self.keys.get(key_url.as_str()) {
                    Some(n) => n.clone(),
                    None => {
                        let name = format!("{}_{dest_seq}.key", self.name);
                        self.keys.insert(key_url.to_string(), name.clone());
                        transfers.push(Transfer {
                            path: name.clone(),
                            source: key_url,
                            range: None,
                            dest_seq,
                            segment: false,
                        });
                        *pending += 1;
                        name
                    }
                };
                k.attrs.set_quoted("URI", name);
            }
            keys.push(k);
        }
        keys
    }

    /// A transfer for `dest_seq` finished (`ok`) or failed for good.
    pub fn complete(&mut self, dest_seq: u64, ok: bool) {
        if let Some(s) = self.segments.iter_mut().find(|s| s.dest_seq == dest_seq) {
            s.pending = s.pending.saturating_sub(1);
            if !ok {
                s.failed = true;
            }
        }
    }

    /// Number of leading segments that are ready (stored or failed for good).
    fn ready_prefix(&self) -> usize {
        self.segments.iter().take_while(|s| s.ready()).count()
    }

    /// Drop listed segments that left the window; returns the destination paths to delete
    /// (after a grace period, by the caller).
    pub fn trim(&mut self) -> Vec<String> {
        let Some(window) = self.window else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        loop {
            let ready = self.ready_prefix();
            if ready < 2 {
                break;
            }
            let after_first: f64 = self
                .segments
                .iter()
                .take(ready)
                .skip(1)
                .filter(|s| !s.failed)
                .map(|s| s.seg.duration)
                .sum();
            let listed_after_first = self
                .segments
                .iter()
                .take(ready)
                .skip(1)
                .filter(|s| !s.failed)
                .count();
            if after_first < window || listed_after_first < 3 {
                break;
            }
            let s = self.segments.pop_front().expect("ready >= 2");
            if s.seg.discontinuity && !s.failed {
                self.discontinuity_seq += 1;
            }
            if !s.failed {
                removed.push(s.seg.uri);
            }
        }
        removed
    }

    /// The destination playlist as it may be published now, or `None` if nothing is ready.
    pub fn render(&self) -> Option<MediaPlaylist> {
        let ready = self.ready_prefix();
        let mut out = MediaPlaylist {
            version: self.version,
            target_duration: Some(self.target_duration),
            discontinuity_sequence: self.discontinuity_seq,
            playlist_type: self.window.is_none().then_some(PlaylistType::Event),
            independent_segments: self.independent_segments,
            ..Default::default()
        };
        let mut prev_map: Option<&Map> = None;
        let mut prev_keys: &[Key] = &[];
        let mut skip_disc = false;
        for s in self.segments.iter().take(ready) {
            if s.failed {
                skip_disc = true;
                continue;
            }
            if out.segments.is_empty() {
                out.media_sequence = s.dest_seq;
            }
            let mut seg = s.seg.clone();
            seg.discontinuity |= std::mem::take(&mut skip_disc) && !out.segments.is_empty();
            if seg.map.as_ref() == prev_map {
                seg.map = None;
            }
            prev_map = s.seg.map.as_ref();
            if seg.keys.as_slice() == prev_keys {
                seg.keys.clear();
            } else if seg.keys.is_empty() {
                seg.keys = vec![Key::none()];
            }
            prev_keys = &s.seg.keys;
            out.segments.push(seg);
        }
        if out.segments.is_empty() {
            return None;
        }
        let all_listed = ready == self.segments.len();
        if all_listed {
            out.trailing = self.trailing.clone().map(Box::new);
            out.end_list = self.source_ended;
        }
        Some(out)
    }

    /// Call after a render was published: remembers what was listed.
    pub fn published(&mut self, rendered: &MediaPlaylist) {
        let ready = self.ready_prefix();
        if let Some(last) = self.segments.iter().take(ready).rev().find(|s| !s.failed)
            && last.source_seq.is_some()
        {
            self.listed_source = (last.source_seq, last.source_uri.clone());
        }
        self.last_rendered = Some((
            rendered.media_sequence,
            rendered.segments.len(),
            rendered.end_list,
        ));
    }

    /// True when a render now would differ from the last published one.
    pub fn changed(&self) -> bool {
        match self.render() {
            None => false,
            Some(r) => self.last_rendered != Some((r.media_sequence, r.segments.len(), r.end_list)),
        }
    }

    /// Seconds of media the destination edge is behind the source edge.
    pub fn lag_seconds(&self) -> f64 {
        let ready = self.ready_prefix();
        self.segments
            .iter()
            .skip(ready)
            .map(|s| s.seg.duration)
            .sum()
    }

    /// True when the source ended and everything is listed.
    pub fn finished(&self) -> bool {
        self.source_ended && self.ready_prefix() == self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(first: u64, n: u64, prefix: &str) -> MediaPlaylist {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
        for i in first..first + n {
            text.push_str(&format!("#EXTINF:2.0,\n{prefix}{i}.ts\n"));
        }
        hls::parse_media(&text).unwrap()
    }

    fn base() -> Url {
        Url::parse("http://src/live/index.m3u8").unwrap()
    }

    fn store_all(t: &mut TrackModel, transfers: &[Transfer]) {
        for tr in transfers {
            t.complete(tr.dest_seq, true);
        }
    }

    #[test]
    fn new_segments_by_sequence_and_window() {
        let mut t = TrackModel::new("channel_1", Some(6.0));
        let tr = t.ingest(&src(10, 5, "s"), &base());
        assert_eq!(tr.len(), 5);
        assert_eq!(tr[0].path, "channel_1_0.ts");
        assert_eq!(tr[0].source.as_str(), "http://src/live/s10.ts");
        // Nothing stored yet: nothing to publish.
        assert!(t.render().is_none());
        t.complete(1, true);
        assert!(t.render().is_none(), "a prefix only");
        store_all(&mut t, &tr);
        assert_eq!(t.render().unwrap().segments.len(), 5);
        let tr = t.ingest(&src(11, 5, "s"), &base());
        assert_eq!(tr.len(), 1);
        assert_eq!(tr[0].dest_seq, 5);
        store_all(&mut t, &tr);
        let removed = t.trim();
        // 6 s window of 2 s segments: the last three stay.
        assert_eq!(
            removed,
            vec!["channel_1_0.ts", "channel_1_1.ts", "channel_1_2.ts"]
        );
        let r = t.render().unwrap();
        assert_eq!(r.media_sequence, 3);
        assert_eq!(r.segments.len(), 3);
    }

    #[test]
    fn source_restart_continues_destination_sequence_with_discontinuity() {
        let mut t = TrackModel::new("c", Some(60.0));
        let tr = t.ingest(&src(100, 3, "a"), &base());
        store_all(&mut t, &tr);
        let tr = t.ingest(&src(0, 2, "b"), &base());
        assert_eq!(
            tr.iter().map(|t| t.dest_seq).collect::<Vec<_>>(),
            vec![3, 4]
        );
        store_all(&mut t, &tr);
        let r = t.render().unwrap();
        assert!(r.segments[3].discontinuity);
        assert!(!r.segments[4].discontinuity);
        // Same numbers but other URIs: restart too.
        let tr = t.ingest(&src(0, 2, "c"), &base());
        assert_eq!(tr.len(), 2);
    }

    #[test]
    fn resume_keeps_sequence() {
        let mut t = TrackModel::new("c", Some(60.0));
        let tr = t.ingest(&src(100, 3, "a"), &base());
        store_all(&mut t, &tr);
        let r = t.render().unwrap();
        t.published(&r);
        let state = t.state(&r);
        let mut t2 = TrackModel::resume("c", Some(60.0), &state);
        let tr = t2.ingest(&src(101, 4, "a"), &base());
        assert_eq!(tr.len(), 2);
        assert_eq!(tr[0].dest_seq, 3);
        store_all(&mut t2, &tr);
        let r2 = t2.render().unwrap();
        assert_eq!(r2.media_sequence, 0);
        assert_eq!(r2.segments.len(), 5);
        assert!(!r2.segments[3].discontinuity);
    }

    #[test]
    fn failed_segment_is_skipped_with_discontinuity() {
        let mut t = TrackModel::new("c", Some(60.0));
        let tr = t.ingest(&src(0, 3, "a"), &base());
        t.complete(0, true);
        t.complete(1, false);
        t.complete(2, true);
        let r = t.render().unwrap();
        assert_eq!(r.segments.len(), 2);
        assert!(r.segments[1].discontinuity);
        let _ = tr;
    }

    #[test]
    fn fmp4_map_named_and_waited_for() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\nseg1.m4s\n#EXTINF:2,\nseg2.m4s\n";
        let p = hls::parse_media(text).unwrap();
        let mut t = TrackModel::new("channel_5", None);
        let tr = t.ingest(&p, &base());
        assert_eq!(tr[0].path, "channel_5_init.mp4");
        assert_eq!(tr[1].path, "channel_5_0.m4s");
        t.complete(0, true);
        t.complete(0, true);
        t.complete(1, true);
        let r = t.render().unwrap();
        assert_eq!(r.playlist_type, Some(PlaylistType::Event));
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            text.contains("#EXT-X-MAP:URI=\"channel_5_init.mp4\""),
            "{text}"
        );
        assert_eq!(text.matches("EXT-X-MAP").count(), 1);
    }
}
