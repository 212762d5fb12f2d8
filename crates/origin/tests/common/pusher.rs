//! A live encoder stand-in built from the TS fixtures: it plays `vod1`, `slate`, `vod2`,
//! `vod3` round and round (real ffmpeg-made segments whose timestamps restart at each
//! VOD, so every VOD boundary is an `EXT-X-DISCONTINUITY`, as the engine's output has) and
//! pushes two renditions MediaPackage-style to both ingest URLs with Digest auth.
//!
//! The two ingests are fed like two encoders: each segment goes to one of them or to both,
//! and each counts discontinuities from its own base (`EXT-X-DISCONTINUITY-SEQUENCE` of
//! ingest 2 is 7 higher than ingest 1's), with a short sliding window that keeps the tag
//! of a discontinuity on its segment while it is the first one (RFC 8216 6.2.2).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::DigestPut;

/// Rendition name on ingest (`channel_<n>`), fixture folder.
pub const RENDITIONS: [(&str, &str); 2] = [("channel_1", "360p"), ("channel_2", "180p")];

pub const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:3\n\
#EXT-X-STREAM-INF:BANDWIDTH=417000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360\nchannel_1.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=225000,CODECS=\"avc1.64000c,mp4a.40.2\",RESOLUTION=320x180\nchannel_2.m3u8\n";

/// Segments in the pushed window.
const WINDOW: usize = 4;
/// Ingest 2 numbers discontinuities from a different base.
const INGEST2_DISC_OFFSET: u64 = 7;

struct Seg {
    seq: u64,
    start: DateTime<Utc>,
    discontinuity: bool,
}

pub struct FixturePusher {
    ingest: [DigestPut; 2],
    urls: [String; 2],
    /// One entry per fixture segment in play order: (discontinuity, [bytes per rendition]).
    material: Vec<(bool, [Vec<u8>; 2])>,
    /// (fixture, segment index) of each material entry.
    order: Vec<(&'static str, usize)>,
    next: u64,
    t0: DateTime<Utc>,
    window: VecDeque<Seg>,
    /// Discontinuities that left the window (ingest 1's numbering).
    disc_seq: u64,
    /// SCTE-35 ad avails as `EXT-X-CUE-OUT:<secs>` / `EXT-X-CUE-IN`: `(every, length)`, a
    /// break of `length` segments starting at each sequence `n` with `n % every == 1`.
    pub ad_breaks: Option<(u64, u64)>,
}

impl FixturePusher {
    pub fn new(view: &origin::ChannelView, t0: DateTime<Utc>) -> Self {
        let mut material = Vec::new();
        let mut order = Vec::new();
        for (vod, n) in [("vod1", 4), ("slate", 3), ("vod2", 4), ("vod3", 4)] {
            for i in 0..n {
                order.push((vod, i));
                let read = |folder: &str| {
                    std::fs::read(testkit::fixture(&format!("ts/{vod}/{folder}/seg{i:03}.ts")))
                        .expect("TS fixture")
                };
                material.push((i == 0, [read("360p"), read("180p")]));
            }
        }
        Self {
            ingest: [DigestPut::from_view(view, 0), DigestPut::from_view(view, 1)],
            urls: [view.ingest[0].url.clone(), view.ingest[1].url.clone()],
            material,
            order,
            next: 0,
            t0,
            window: VecDeque::new(),
            disc_seq: 0,
            ad_breaks: None,
        }
    }

    /// The wall-clock start (PROGRAM-DATE-TIME) of segment `seq`.
    pub fn start_of(&self, seq: u64) -> DateTime<Utc> {
        self.t0 + chrono::Duration::seconds(2 * seq as i64)
    }

    /// The fixture file segment `seq` of rendition `r` (index in [`RENDITIONS`]) came from,
    /// and whether it starts a discontinuity.
    pub fn source_of(&self, seq: u64, r: usize) -> (std::path::PathBuf, bool) {
        let (vod, i) = self.order[(seq as usize) % self.order.len()];
        let path = testkit::fixture(&format!("ts/{vod}/{}/seg{i:03}.ts", RENDITIONS[r].1));
        (path, i == 0 && seq > 0)
    }

    /// Segments pushed so far.
    pub fn pushed(&self) -> u64 {
        self.next
    }

    pub async fn push_master(&self) {
        for t in 0..2 {
            self.ingest[t]
                .put_created(&format!("{}.m3u8", self.urls[t]), MASTER.into())
                .await;
        }
    }

    /// Push the next segment of both renditions, then both playlists to both ingests.
    pub async fn step(&mut self) {
        let seq = self.next;
        self.next += 1;
        let (disc, bytes) = &self.material[(seq as usize) % self.material.len()];
        let discontinuity = *disc && seq > 0;
        let targets: &[usize] = match seq % 3 {
            0 => &[1],
            1 => &[0],
            _ => &[0, 1],
        };
        for (r, (name, _)) in RENDITIONS.iter().enumerate() {
            for &t in targets {
                self.ingest[t]
                    .put_created(
                        &format!("{}_{}_{seq}.ts", self.urls[t], &name["channel_".len()..]),
                        bytes[r].clone(),
                    )
                    .await;
            }
        }
        self.window.push_back(Seg {
            seq,
            start: self.start_of(seq),
            discontinuity,
        });
        while self.window.len() > WINDOW {
            if let Some(gone) = self.window.pop_front()
                && gone.discontinuity
            {
                self.disc_seq += 1;
            }
        }
        for t in 0..2 {
            for (name, _) in RENDITIONS {
                let body = self.playlist(name, t);
                self.ingest[t]
                    .put_created(
                        &format!("{}_{}.m3u8", self.urls[t], &name["channel_".len()..]),
                        body.into_bytes(),
                    )
                    .await;
            }
        }
    }

    fn playlist(&self, name: &str, ingest: usize) -> String {
        let disc = self.disc_seq + if ingest == 1 { INGEST2_DISC_OFFSET } else { 0 };
        let first = self.window.front().map(|s| s.seq).unwrap_or(0);
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-DISCONTINUITY-SEQUENCE:{disc}\n"
        );
        for s in &self.window {
            if s.discontinuity {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some((every, len)) = self.ad_breaks {
                match s.seq % every {
                    1 => text.push_str(&format!("#EXT-X-CUE-OUT:{}\n", 2 * len)),
                    n if n == 1 + len => text.push_str("#EXT-X-CUE-IN\n"),
                    _ => {}
                }
            }
            text.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:2.000,\n{name}_{}.ts\n",
                s.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                s.seq
            ));
        }
        text
    }
}
