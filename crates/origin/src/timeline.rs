//! One channel's ingest state and its per-variant timelines. Pure: no I/O, time comes in
//! as an argument; the HTTP layer moves bytes to and from the [`crate::store::Store`].
//!
//! Invariants:
//! - One timeline per variant, keyed by the source media sequence number. Both ingest URLs
//!   feed the same timelines: a sequence already present is skipped (dedupe), a missing one
//!   is filled by whichever ingest delivers it first.
//! - A segment enters a timeline only when both its bytes and a playlist entry naming it
//!   have arrived (in either order); half-arrived items wait in `pending`/`awaiting` for at
//!   most [`PENDING_TTL_SECS`].
//! - Wall-clock time of a segment: its EXT-X-PROGRAM-DATE-TIME (carried forward over
//!   EXTINFs as RFC 8216 says), else the end of the previous sequence already on the
//!   timeline, else arrival time (the playlist's last segment ends "now").
//! - Timelines keep `retention` seconds behind their newest segment; older segments are
//!   returned by [`ChannelData::evict`] for deletion from the store.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use hls::{DateRange, Marker, MasterPlaylist, MediaPlaylist};

use crate::adbreak::ad_mark;
pub use crate::adbreak::{AdBreak, AdMark};
use crate::disc::{disc_numbers, fit_disc};
use crate::model::EndpointSpec;

/// Items waiting for their other half (bytes or playlist entry) are dropped after this.
pub const PENDING_TTL_SECS: i64 = 120;
/// At most this many half-arrived items per channel.
pub const PENDING_MAX: usize = 2000;
/// At most this many bytes of segments waiting for their playlist entry per channel
/// (unless [`ChannelData::pending_budget`] says otherwise).
pub const PENDING_MAX_BYTES: usize = 256 * 1024 * 1024;

/// One stored segment's metadata (its bytes are in the store under [`SegMeta::key`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SegMeta {
    pub seq: u64,
    pub start: DateTime<Utc>,
    pub duration: f64,
    pub discontinuity: bool,
    /// Discontinuity sequence number of this segment.
    pub disc_seq: u64,
    /// True when `start` came from an ingested PROGRAM-DATE-TIME.
    pub pdt: bool,
    pub markers: Vec<Marker>,
    pub dateranges: Vec<DateRange>,
    pub size: usize,
    /// File extension of the ingested segment (`ts`, `aac`, `m4s`, ...).
    pub ext: String,
    pub ad: Option<AdMark>,
    pub key: String,
    /// Keyframes found in a TS segment: (byte offset, byte length, seconds from the
    /// segment start). Empty for other containers or when the TS did not parse.
    pub keyframes: Vec<(u64, u64, f64)>,
    /// The PAT+PMT byte range (offset, length) of a TS segment, for `EXT-X-MAP`.
    pub pat_pmt: Option<(u64, u64)>,
}

impl SegMeta {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + secs(self.duration)
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::microseconds((s * 1e6).round() as i64)
}

/// A variant (media playlist) timeline.
#[derive(Debug, Default)]
pub struct Variant {
    /// The ingest path without `.m3u8` (e.g. `channel_1`).
    pub key: String,
    /// URL-safe name used on output (`/out/<ch>/<ep>/<slug>.m3u8`).
    pub slug: String,
    pub segments: BTreeMap<u64, SegMeta>,
    pub target_duration: u64,
    /// Bumped on every change; output caches key on it.
    pub version: u64,
    /// Rendered live playlists: endpoint id -> (version, bytes).
    pub live_cache: HashMap<String, (u64, Bytes)>,
    /// Remuxed fMP4 of the segments CMAF endpoints asked for (bounded by `segments`).
    pub cmaf: crate::cmaf::CmafCache,
}

impl Variant {
    pub fn newest_end(&self) -> Option<DateTime<Utc>> {
        self.segments.values().next_back().map(SegMeta::end)
    }
    pub fn oldest_start(&self) -> Option<DateTime<Utc>> {
        self.segments.values().next().map(|s| s.start)
    }
    /// Average bit rate over the stored segments, bits per second.
    pub fn bandwidth(&self) -> u64 {
        let (bytes, secs) = self
            .segments
            .values()
            .fold((0usize, 0f64), |(b, d), s| (b + s.size, d + s.duration));
        if secs <= 0.0 {
            return 0;
        }
        (bytes as f64 * 8.0 / secs) as u64
    }
}

/// A segment ready to be stored and committed.
#[derive(Debug)]
pub struct Ready {
    pub variant: String,
    pub meta: SegMeta,
    pub data: Bytes,
}

/// Per-channel ingest state.
#[derive(Debug, Default)]
pub struct ChannelData {
    pub description: Option<String>,
    pub endpoints: Vec<EndpointSpec>,
    /// Tags (MediaPackage's `Tags`), kept with the definition.
    pub tags: BTreeMap<String, String>,
    /// The last master playlist ingested, and its path.
    pub master: Option<(String, MasterPlaylist)>,
    pub variants: BTreeMap<String, Variant>,
    /// Segment bytes whose playlist entry has not arrived: (ingest, path) -> bytes.
    pending: HashMap<(u8, String), (Bytes, DateTime<Utc>)>,
    /// Playlist entries whose bytes have not arrived: (ingest, path) -> (variant, meta).
    awaiting: HashMap<(u8, String), (String, SegMeta, DateTime<Utc>)>,
    pub last_arrival: Option<DateTime<Utc>>,
    /// Bumped when the master playlist changes (see [`ChannelData::index_version`]).
    pub master_version: u64,
    /// Byte budget of `pending` (0: [`PENDING_MAX_BYTES`]); the oldest go first.
    pub pending_budget: usize,
    /// Bytes held in `pending`.
    pending_bytes: usize,
}

/// `a/b/c.m3u8` + `seg.ts` -> `a/b/seg.ts`; `None` for absolute URIs or ones leaving the
/// ingest folder (they cannot name something we received).
pub fn join_relative(playlist_path: &str, uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next().unwrap_or(uri);
    if uri.is_empty() || uri.starts_with('/') || uri.contains("://") || uri.contains('\\') {
        return None;
    }
    let dir = playlist_path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in uri.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn ext_of(path: &str) -> String {
    path.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "ts".into())
}

impl ChannelData {
    /// The longest retention any endpoint needs (at least two minutes).
    pub fn retention_seconds(&self) -> u64 {
        self.endpoints
            .iter()
            .map(EndpointSpec::retention_seconds)
            .max()
            .unwrap_or(0)
            .max(120)
    }

    /// Segment bytes arrived at `path` on `ingest`.
    pub fn on_segment(
        &mut self,
        ingest: u8,
        path: &str,
        data: Bytes,
        now: DateTime<Utc>,
    ) -> Option<Ready> {
        self.last_arrival = Some(now);
        let k = (ingest, path.to_string());
        if let Some((variant, mut meta, _)) = self.awaiting.remove(&k) {
            let already = self
                .variants
                .get(&variant)
                .is_some_and(|v| v.segments.contains_key(&meta.seq));
            if already {
                return None;
            }
            meta.size = data.len();
            return Some(Ready {
                variant,
                meta,
                data,
            });
        }
        if self.pending.len() + self.awaiting.len() >= PENDING_MAX {
            self.expire_pending(now, true);
        }
        self.pending_bytes += data.len();
        if let Some((old, _)) = self.pending.insert(k, (data, now)) {
            self.pending_bytes -= old.len();
        }
        let budget = match self.pending_budget {
            0 => PENDING_MAX_BYTES,
            b => b,
        };
        while self.pending_bytes > budget {
            let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.take_pending(&oldest);
        }
        None
    }

    /// Remove a pending item, keeping the byte count.
    fn take_pending(&mut self, k: &(u8, String)) -> Option<(Bytes, DateTime<Utc>)> {
        let v = self.pending.remove(k)?;
        self.pending_bytes -= v.0.len();
        Some(v)
    }

    /// Bytes of segments waiting for their playlist entry.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// A segment was deleted on `ingest`: forget it if it is still half-arrived. Segments
    /// already on a timeline stay (the DVR window owns them, not the pusher).
    pub fn on_delete(&mut self, ingest: u8, path: &str) {
        let k = (ingest, path.to_string());
        self.take_pending(&k);
        self.awaiting.remove(&k);
    }

    /// A master playlist arrived.
    pub fn on_master(&mut self, path: &str, master: MasterPlaylist, now: DateTime<Utc>) {
        self.last_arrival = Some(now);
        if self
            .master
            .as_ref()
            .is_none_or(|(p, m)| p != path || *m != master)
        {
            self.master_version += 1;
        }
        self.master = Some((path.to_string(), master));
    }

    /// Changes whenever what the persisted index holds changes (segments committed or
    /// evicted, variants added, master replaced); equal values mean nothing to write.
    pub fn index_version(&self) -> u64 {
        self.variants
            .values()
            .map(|v| v.version + 1)
            .sum::<u64>()
            .wrapping_add(self.master_version << 32)
    }

    /// A media playlist arrived at `path` on `ingest`: returns the segments that are now
    /// complete. `channel` builds store keys.
    pub fn on_media(
        &mut self,
        channel: &str,
        ingest: u8,
        path: &str,
        playlist: &MediaPlaylist,
        now: DateTime<Utc>,
    ) -> Vec<Ready> {
        self.last_arrival = Some(now);
        self.expire_pending(now, false);
        let key = path.strip_suffix(".m3u8").unwrap_or(path).to_string();
        let slug = key.replace('/', "-");
        let variant = self.variants.entry(key.clone()).or_insert_with(|| Variant {
            key: key.clone(),
            slug: slug.clone(),
            ..Default::default()
        });
        let td = playlist
            .target_duration
            .unwrap_or_else(|| playlist.computed_target_duration());
        variant.target_duration = variant.target_duration.max(td);

        // Wall-clock starts: PDT carried forward; else anchored on the timeline or on now.
        let n = playlist.segments.len();
        let mut starts: Vec<Option<(DateTime<Utc>, bool)>> = vec![None; n];
        let mut carry: Option<DateTime<Utc>> = None;
        for (i, s) in playlist.segments.iter().enumerate() {
            if let Some(pdt) = s.program_date_time {
                carry = Some(pdt.with_timezone(&Utc));
                starts[i] = Some((carry.unwrap_or(now), true));
            } else if let Some(c) = carry {
                starts[i] = Some((c, true));
            }
            if let Some(c) = carry.as_mut() {
                *c += secs(s.duration);
            }
        }
        if starts.first().is_some_and(Option::is_none) {
            // Find an anchor: a segment of this playlist already on the timeline, else now.
            let anchor = playlist.segments.iter().enumerate().find_map(|(i, _)| {
                let seq = playlist.sequence_of(i);
                variant.segments.get(&seq).map(|m| (i, m.start))
            });
            let (mut t, from) = match anchor {
                Some((i, start)) => (start, i),
                None => {
                    let total: f64 = playlist.segments.iter().map(|s| s.duration).sum();
                    (now - secs(total), 0)
                }
            };
            // Walk back from the anchor, then forward.
            let mut back = t;
            for i in (0..from).rev() {
                back -= secs(playlist.segments[i].duration);
                if starts[i].is_none() {
                    starts[i] = Some((back, false));
                }
            }
            for (start, seg) in starts.iter_mut().zip(&playlist.segments).skip(from) {
                if start.is_none() {
                    *start = Some((t, false));
                }
                t += secs(seg.duration);
            }
        }

        let disc = disc_numbers(variant, playlist);
        let mut ready = Vec::new();
        for (i, s) in playlist.segments.iter().enumerate() {
            let seq = playlist.sequence_of(i);
            if variant.segments.contains_key(&seq) {
                continue;
            }
            let (disc_seq, discontinuity) = disc[i];
            let Some(seg_path) = join_relative(path, &s.uri) else {
                tracing::warn!(uri = %s.uri, "segment URI outside the ingest folder ignored");
                continue;
            };
            let (start, pdt) = starts[i].unwrap_or((now, false));
            let meta = SegMeta {
                seq,
                start,
                duration: s.duration,
                discontinuity,
                disc_seq,
                pdt,
                markers: s.markers.clone(),
                dateranges: s.dateranges.clone(),
                size: 0,
                ext: ext_of(&seg_path),
                ad: None,
                key: format!("{channel}/{slug}/{seq}"),
                keyframes: Vec::new(),
                pat_pmt: None,
            };
            let k = (ingest, seg_path);
            if let Some((data, _)) = self.pending.remove(&k) {
                self.pending_bytes -= data.len();
                let mut meta = meta;
                meta.size = data.len();
                ready.push(Ready {
                    variant: key.clone(),
                    meta,
                    data,
                });
            } else {
                self.awaiting.insert(k, (key.clone(), meta, now));
            }
        }
        ready
    }

    fn expire_pending(&mut self, now: DateTime<Utc>, force_half: bool) {
        let cutoff = now - Duration::seconds(PENDING_TTL_SECS);
        self.pending.retain(|_, (_, t)| *t >= cutoff);
        self.pending_bytes = self.pending.values().map(|(b, _)| b.len()).sum();
        self.awaiting.retain(|_, (_, _, t)| *t >= cutoff);
        if force_half {
            // Still over the cap: drop the oldest half of the pending bytes.
            let mut times: Vec<DateTime<Utc>> = self.pending.values().map(|(_, t)| *t).collect();
            times.sort();
            if let Some(mid) = times.get(times.len() / 2).copied() {
                self.pending.retain(|_, (_, t)| *t > mid);
                self.pending_bytes = self.pending.values().map(|(b, _)| b.len()).sum();
            }
            self.awaiting.clear();
        }
    }

    /// Put a stored segment on its timeline (after its bytes are in the store). Returns
    /// false if another ingest got there first.
    pub fn commit(&mut self, variant: &str, mut meta: SegMeta) -> bool {
        let Some(v) = self.variants.get_mut(variant) else {
            return false;
        };
        if v.segments.contains_key(&meta.seq) {
            return false;
        }
        let prev = v
            .segments
            .get(&meta.seq.wrapping_sub(1))
            .and_then(|p| p.ad.clone().map(|a| (a, p.duration)));
        meta.ad = ad_mark(&meta, prev);
        fit_disc(v, &mut meta);
        v.segments.insert(meta.seq, meta);
        v.version += 1;
        metrics::counter!("origin_segments_ingested_total").increment(1);
        true
    }

    /// Put a segment read back from the persisted index on its timeline (ad-break state
    /// re-derived from its predecessor, as [`ChannelData::commit`] does).
    pub fn restore_segment(&mut self, variant: &str, mut meta: SegMeta) {
        let Some(v) = self.variants.get_mut(variant) else {
            return;
        };
        let prev = v
            .segments
            .get(&meta.seq.wrapping_sub(1))
            .and_then(|p| p.ad.clone().map(|a| (a, p.duration)));
        meta.ad = ad_mark(&meta, prev);
        v.segments.insert(meta.seq, meta);
        v.version += 1;
    }

    /// Drop segments older than the retention behind each variant's newest one, and
    /// everything when nothing arrived for the retention time. Returns store keys to delete.
    pub fn evict(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let keep = Duration::seconds(self.retention_seconds() as i64);
        let idle = self.last_arrival.is_none_or(|t| now - t > keep);
        let mut gone = Vec::new();
        for v in self.variants.values_mut() {
            let Some(newest) = v.newest_end() else {
                continue;
            };
            let before = v.segments.len();
            v.segments.retain(|_, s| {
                let keep_it = !idle && s.end() >= newest - keep;
                if !keep_it {
                    gone.push(s.key.clone());
                }
                keep_it
            });
            if v.segments.len() != before {
                v.version += 1;
                let segments = &v.segments;
                v.cmaf.retain(|seq| segments.contains_key(&seq));
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_relative_stays_inside() {
        assert_eq!(
            join_relative("channel_1.m3u8", "channel_1_5.ts").unwrap(),
            "channel_1_5.ts"
        );
        assert_eq!(join_relative("a/b.m3u8", "c/d.ts").unwrap(), "a/c/d.ts");
        assert_eq!(join_relative("a/b.m3u8", "../d.ts").unwrap(), "d.ts");
        assert!(join_relative("b.m3u8", "../d.ts").is_none());
        assert!(join_relative("b.m3u8", "/etc/passwd").is_none());
        assert!(join_relative("b.m3u8", "http://x/y.ts").is_none());
    }

    fn playlist(seq: u64, n: usize, pdt: Option<DateTime<Utc>>) -> MediaPlaylist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
        );
        for i in 0..n as u64 {
            if i == 0
                && let Some(p) = pdt
            {
                text.push_str(&format!(
                    "#EXT-X-PROGRAM-DATE-TIME:{}\n",
                    p.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                ));
            }
            text.push_str(&format!("#EXTINF:2.0,\nchannel_1_{}.ts\n", seq + i));
        }
        hls::parse_media(&text).unwrap()
    }

    #[test]
    fn both_orders_dedupe_and_fill() {
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let mut c = ChannelData::default();
        // Bytes first on ingest 1.
        assert!(
            c.on_segment(1, "channel_1_10.ts", Bytes::from_static(b"a"), now)
                .is_none()
        );
        let ready = c.on_media("ch", 1, "channel_1.m3u8", &playlist(10, 2, Some(now)), now);
        assert_eq!(ready.len(), 1);
        for r in ready {
            assert!(c.commit(&r.variant, r.meta));
        }
        // Playlist first on ingest 2, with seq 10 (dup) and 11 (gap fill).
        let ready = c.on_media("ch", 2, "channel_1.m3u8", &playlist(10, 2, Some(now)), now);
        assert!(ready.is_empty());
        assert!(
            c.on_segment(2, "channel_1_10.ts", Bytes::from_static(b"a"), now)
                .is_none()
        );
        let r = c
            .on_segment(2, "channel_1_11.ts", Bytes::from_static(b"b"), now)
            .unwrap();
        assert_eq!(r.meta.seq, 11);
        assert_eq!(r.meta.start, now + secs(2.0));
        assert!(r.meta.pdt);
        assert!(c.commit(&r.variant, r.meta));
        let v = &c.variants["channel_1"];
        assert_eq!(v.segments.keys().copied().collect::<Vec<_>>(), vec![10, 11]);
    }

    #[test]
    fn no_pdt_anchors_on_arrival_and_timeline() {
        let now = Utc::now();
        let mut c = ChannelData::default();
        for i in 0..3 {
            c.on_segment(
                1,
                &format!("channel_1_{i}.ts"),
                Bytes::from_static(b"x"),
                now,
            );
        }
        for r in c.on_media("ch", 1, "channel_1.m3u8", &playlist(0, 3, None), now) {
            c.commit(&r.variant, r.meta);
        }
        let v = &c.variants["channel_1"];
        assert_eq!(v.newest_end().unwrap(), now);
        let later = now + Duration::seconds(5);
        c.on_segment(1, "channel_1_3.ts", Bytes::from_static(b"x"), later);
        let r = c.on_media("ch", 1, "channel_1.m3u8", &playlist(1, 3, None), later);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].meta.start, now, "seq 3 follows seq 2 on the timeline");
    }
}

/// Rewrite `#EXT-X-PROGRAM-DATE-TIME` offsets written without a colon (`+0000`, as ffmpeg
/// writes them) to RFC 3339 (`+00:00`), which `hls::parse` requires. Other lines are
/// untouched. (Reported to the hls owner; remove when the parser accepts both.)
pub fn normalize_pdt(text: &str) -> std::borrow::Cow<'_, str> {
    const TAG: &str = "#EXT-X-PROGRAM-DATE-TIME:";
    let needs = text
        .lines()
        .any(|l| l.starts_with(TAG) && fix_offset(l).is_some());
    if !needs {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        match line.starts_with(TAG).then(|| fix_offset(line)).flatten() {
            Some(fixed) => out.push_str(&fixed),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    std::borrow::Cow::Owned(out)
}

fn fix_offset(line: &str) -> Option<String> {
    let b = line.as_bytes();
    let n = b.len();
    if n < 5 {
        return None;
    }
    let (sign, digits) = (b[n - 5], &b[n - 4..]);
    ((sign == b'+' || sign == b'-')
        && digits.iter().all(u8::is_ascii_digit)
        && b[n - 6].is_ascii_digit())
    .then(|| format!("{}:{}", &line[..n - 2], &line[n - 2..]))
}

#[cfg(test)]
mod normalize_tests {
    #[test]
    fn ffmpeg_offsets() {
        let t =
            "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T16:08:03.579+0000\n#EXTINF:1,\na.ts\n";
        let n = super::normalize_pdt(t);
        assert!(n.contains("2026-11-25T16:08:03.579+00:00"));
        assert!(hls::parse_media(&n).is_ok());
        let ok = "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T16:08:03.579Z\n";
        assert!(matches!(
            super::normalize_pdt(ok),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

/// Fill `keyframes` / `pat_pmt` of a TS segment from its bytes (`media::ts::inspect`).
pub fn index_keyframes(meta: &mut SegMeta, data: &[u8]) {
    if meta.ext != "ts" {
        return;
    }
    let Ok(info) = media::ts::inspect(data) else {
        return;
    };
    let first = info.first_pts.unwrap_or(0);
    meta.keyframes = info
        .keyframes
        .iter()
        .map(|k| {
            (
                k.byte_offset as u64,
                k.byte_len as u64,
                k.pts.saturating_sub(first) as f64 / 90_000.0,
            )
        })
        .collect();
    meta.pat_pmt = info.pat_pmt_range.map(|r| (r.offset as u64, r.len as u64));
}

#[cfg(test)]
mod evict_tests {
    use super::*;

    #[test]
    fn pending_bytes_are_bounded_oldest_first() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = ChannelData {
            pending_budget: 1000,
            ..Default::default()
        };
        for i in 0..50i64 {
            let body = Bytes::from(vec![0x47u8; 300]);
            c.on_segment(1, &format!("s{i}.ts"), body, t0 + Duration::seconds(i));
            assert!(c.pending_bytes() <= 1000, "{}", c.pending_bytes());
        }
        // The newest three are the ones kept.
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:47\n#EXTINF:2,\ns47.ts\n#EXTINF:2,\ns48.ts\n#EXTINF:2,\ns49.ts\n";
        let ready = c.on_media("c", 1, "v.m3u8", &hls::parse_media(text).unwrap(), t0);
        assert_eq!(ready.len(), 3);
        assert_eq!(c.pending_bytes(), 0);
    }

    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn memory_is_bounded_by_the_window_not_uptime() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = ChannelData::default();
        c.endpoints = vec![EndpointSpec {
            startover_window_seconds: 10,
            manifest_window_seconds: 4,
            ..EndpointSpec::new("e")
        }];
        let mut gone = 0;
        for seq in 0..1000u64 {
            let now = t0 + Duration::seconds(2 * seq as i64);
            c.on_segment(1, &format!("s{seq}.ts"), Bytes::from_static(b"x"), now);
            let text = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{seq}\n#EXTINF:2,\ns{seq}.ts\n"
            );
            for r in c.on_media("c", 1, "v.m3u8", &hls::parse_media(&text).unwrap(), now) {
                c.commit(&r.variant, r.meta);
            }
            gone += c.evict(now).len();
        }
        // Retention is max(window, 120 s): 120 s of 2 s segments.
        let kept = c.variants["v"].segments.len();
        assert!((60..=62).contains(&kept), "{kept}");
        assert_eq!(gone + kept, 1000);
        // Ingest stops: the sweep drops everything after the retention time.
        let later = t0 + Duration::seconds(2000 + 500);
        assert_eq!(c.evict(later).len(), kept);
    }
}
