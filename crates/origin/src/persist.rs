//! Restart safety for `--store disk`: each channel's definition (ingest users as HA1 only,
//! endpoints, description) and its timeline index (segment metadata per variant, the
//! ingested master) are written to `<store>/<channel>.channel.json` next to the segment
//! folders, and read back when an origin starts on the same folder.
//!
//! - The file is rewritten whole (temp file + rename, under a per-channel lock so writes
//!   land in order) after every commit that added or evicted segments, after every sweep
//!   that evicted, and on every channel/endpoint change; deleted with the channel. Its size
//!   is bounded by the startover window like the index itself (about 300 bytes a segment).
//! - Channel ids are `[A-Za-z0-9_-]`, so `<id>.channel.json` can never be a channel folder.
//! - Segment tags (ad markers, DATERANGE) are kept as HLS tag text and re-parsed with
//!   `hls`; ad-break state is re-derived by replaying the segments in order; keyframe
//!   ranges are stored. Half-arrived items (bytes without playlist entry or the reverse)
//!   and the CMAF/playlist caches are not persisted: they rebuild on the next requests.
//! - A file that does not parse is skipped with a warning (the channel is lost, the
//!   origin still starts).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Ha1;
use crate::model::EndpointSpec;
use crate::timeline::{ChannelData, SegMeta, Variant};

const SUFFIX: &str = ".channel.json";

#[derive(Serialize, Deserialize)]
struct ChannelFile {
    id: String,
    /// (username, HA1 MD5, HA1 SHA-256) of ingest 1 and 2.
    users: Vec<(String, String, String)>,
    description: Option<String>,
    endpoints: Vec<EndpointSpec>,
    /// (ingest path, playlist text).
    master: Option<(String, String)>,
    last_arrival: Option<DateTime<Utc>>,
    variants: Vec<VariantFile>,
}

#[derive(Serialize, Deserialize)]
struct VariantFile {
    key: String,
    slug: String,
    target_duration: u64,
    segments: Vec<SegFile>,
}

#[derive(Serialize, Deserialize)]
struct SegFile {
    seq: u64,
    start: DateTime<Utc>,
    duration: f64,
    discontinuity: bool,
    disc_seq: u64,
    pdt: bool,
    /// Ad markers and DATERANGEs as HLS tag lines.
    tags: String,
    size: usize,
    ext: String,
    key: String,
    keyframes: Vec<(u64, u64, f64)>,
    pat_pmt: Option<(u64, u64)>,
}

/// Where a channel's file lives.
pub fn path_of(root: &Path, channel: &str) -> PathBuf {
    root.join(format!("{channel}{SUFFIX}"))
}

/// Serialize a channel (called under its lock).
pub fn snapshot(id: &str, users: &[(String, Ha1); 2], data: &ChannelData) -> Vec<u8> {
    let file = ChannelFile {
        id: id.to_string(),
        users: users
            .iter()
            .map(|(u, h)| (u.clone(), h.md5.clone(), h.sha256.clone()))
            .collect(),
        description: data.description.clone(),
        endpoints: data.endpoints.clone(),
        master: data.master.as_ref().map(|(p, m)| {
            let mut s = String::new();
            m.write_to(&mut s);
            (p.clone(), s)
        }),
        last_arrival: data.last_arrival,
        variants: data
            .variants
            .values()
            .map(|v| VariantFile {
                key: v.key.clone(),
                slug: v.slug.clone(),
                target_duration: v.target_duration,
                segments: v.segments.values().map(seg_file).collect(),
            })
            .collect(),
    };
    serde_json::to_vec(&file).unwrap_or_default()
}

fn seg_file(s: &SegMeta) -> SegFile {
    let mut tags = String::new();
    if !s.markers.is_empty() || !s.dateranges.is_empty() {
        let mut seg = hls::Segment::new("x", s.duration);
        seg.markers = s.markers.clone();
        seg.dateranges = s.dateranges.clone();
        seg.write_tags(&mut tags);
    }
    SegFile {
        seq: s.seq,
        start: s.start,
        duration: s.duration,
        discontinuity: s.discontinuity,
        disc_seq: s.disc_seq,
        pdt: s.pdt,
        tags,
        size: s.size,
        ext: s.ext.clone(),
        key: s.key.clone(),
        keyframes: s.keyframes.clone(),
        pat_pmt: s.pat_pmt,
    }
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A channel read back from disk.
pub struct Restored {
    pub id: String,
    pub users: [(String, Ha1); 2],
    pub data: ChannelData,
}

/// Read every `<id>.channel.json` under `root`.
pub fn load_all(root: &Path) -> Vec<Restored> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(SUFFIX) {
            continue;
        }
        match std::fs::read(e.path())
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<ChannelFile>(&b).map_err(|e| e.to_string()))
            .and_then(restore)
        {
            Ok(r) => out.push(r),
            Err(err) => tracing::warn!(file = %name, error = %err, "channel index not restored"),
        }
    }
    out
}

fn restore(f: ChannelFile) -> Result<Restored, String> {
    crate::model::validate_id(&f.id, "id").map_err(|e| e.to_string())?;
    let users: Vec<(String, Ha1)> = f
        .users
        .into_iter()
        .map(|(u, md5, sha256)| (u, Ha1 { md5, sha256 }))
        .collect();
    let users: [(String, Ha1); 2] = users
        .try_into()
        .map_err(|_| "expected two ingest users".to_string())?;
    let mut data = ChannelData::default();
    data.description = f.description;
    data.endpoints = f.endpoints;
    data.last_arrival = f.last_arrival;
    if let Some((path, text)) = f.master
        && let Ok(m) = hls::parse_master(&text)
    {
        data.master = Some((path, m));
    }
    for v in f.variants {
        let key = v.key.clone();
        data.variants.insert(
            key.clone(),
            Variant {
                key: key.clone(),
                slug: v.slug,
                target_duration: v.target_duration,
                ..Default::default()
            },
        );
        // Replay in sequence order so ad-break state is derived as on ingest.
        let mut segs: Vec<SegFile> = v.segments;
        segs.sort_by_key(|s| s.seq);
        for s in segs {
            let (markers, dateranges) = parse_tags(&s.tags);
            let meta = SegMeta {
                seq: s.seq,
                start: s.start,
                duration: s.duration,
                discontinuity: s.discontinuity,
                disc_seq: s.disc_seq,
                pdt: s.pdt,
                markers,
                dateranges,
                size: s.size,
                ext: s.ext,
                ad: None,
                key: s.key,
                keyframes: s.keyframes,
                pat_pmt: s.pat_pmt,
            };
            data.restore_segment(&key, meta);
        }
    }
    Ok(Restored {
        id: f.id,
        users,
        data,
    })
}

fn parse_tags(tags: &str) -> (Vec<hls::Marker>, Vec<hls::DateRange>) {
    if tags.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n{tags}#EXTINF:1,\nx\n");
    match hls::parse_media(&text) {
        Ok(mut pl) if !pl.segments.is_empty() => {
            let s = pl.segments.swap_remove(0);
            (s.markers, s.dateranges)
        }
        _ => (Vec::new(), Vec::new()),
    }
}
