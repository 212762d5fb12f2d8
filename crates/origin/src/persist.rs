//! Channel state that outlives a process and is shared between replicas: with
//! `--store disk` or `--store s3`, each channel is written as two objects next to its
//! segments, through `object_store` (a local folder or any S3-compatible bucket):
//!
//! - `<channel>.channel.json`, the definition: ingest users (HA1 only, never a password),
//!   description, endpoints. Written by whichever replica the control API changed it on.
//! - `<channel>.index.json`, the timeline index: the ingested master, every variant's
//!   segment metadata (times, tags, keyframe ranges, store keys). Written by the replica
//!   that ingests, after each commit that changed it (awaited before the ingest PUT is
//!   answered, so a 201 means the segment is listed durably), and after sweeps that evict.
//!
//! A replica starting on the store restores every channel from these objects, and
//! [`crate::Origin`] re-lists them every `--follow-interval-ms`: a definition written by
//! another replica is applied at once; an index is applied unless this replica ingested
//! into the channel recently (then it is the writer, see [`INGEST_QUIET`]). So any number of
//! replicas serve one channel, with one of them (or each in turn) receiving the ingest.
//!
//! - Writes per channel are ordered by an async lock held across snapshot and PUT; a write
//!   whose content version is already stored is skipped. The index is bounded by the
//!   startover window (about 300 bytes a segment) and rewritten whole.
//! - Channel ids are `[A-Za-z0-9_-]`, so these names never clash with a channel's
//!   segment folder.
//! - Segment tags (ad markers, DATERANGE) are kept as HLS tag text and re-parsed with
//!   `hls`; ad-break state is re-derived by replaying the segments in order. Half-arrived
//!   items and the CMAF/playlist caches are not persisted: they rebuild on demand.
//! - An object that does not parse is skipped with a warning (that channel is not
//!   restored; the origin still starts).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};

use crate::digest::Ha1;
use crate::error::{OriginError, Result};
use crate::model::EndpointSpec;
use crate::timeline::{ChannelData, SegMeta, Variant};

/// How long after its last local ingest a replica keeps treating itself as the channel's
/// index writer (and ignores indexes other replicas write for it).
pub const INGEST_QUIET: std::time::Duration = std::time::Duration::from_secs(30);

const DEF_SUFFIX: &str = ".channel.json";
const INDEX_SUFFIX: &str = ".index.json";

#[derive(Serialize, Deserialize)]
struct DefinitionFile {
    id: String,
    /// (username, HA1 MD5, HA1 SHA-256) of ingest 1 and 2.
    users: Vec<(String, String, String)>,
    description: Option<String>,
    endpoints: Vec<EndpointSpec>,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
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

/// A channel definition read back from the store.
pub struct Definition {
    pub id: String,
    pub users: [(String, Ha1); 2],
    pub description: Option<String>,
    pub endpoints: Vec<EndpointSpec>,
}

/// Serialize a channel's definition.
pub fn definition_bytes(id: &str, users: &[(String, Ha1); 2], data: &ChannelData) -> Vec<u8> {
    let file = DefinitionFile {
        id: id.to_string(),
        users: users
            .iter()
            .map(|(u, h)| (u.clone(), h.md5.clone(), h.sha256.clone()))
            .collect(),
        description: data.description.clone(),
        endpoints: data.endpoints.clone(),
    };
    serde_json::to_vec(&file).unwrap_or_default()
}

/// Serialize a channel's timeline index.
pub fn index_bytes(data: &ChannelData) -> Vec<u8> {
    let file = IndexFile {
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

/// Parse a definition object.
pub fn parse_definition(bytes: &[u8]) -> std::result::Result<Definition, String> {
    let f: DefinitionFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    crate::model::validate_id(&f.id, "id").map_err(|e| e.to_string())?;
    let users: Vec<(String, Ha1)> = f
        .users
        .into_iter()
        .map(|(u, md5, sha256)| (u, Ha1 { md5, sha256 }))
        .collect();
    let users: [(String, Ha1); 2] = users
        .try_into()
        .map_err(|_| "expected two ingest users".to_string())?;
    Ok(Definition {
        id: f.id,
        users,
        description: f.description,
        endpoints: f.endpoints,
    })
}

/// Replace `data`'s timeline (master, variants, last arrival) with the one in an index
/// object. Definition fields and half-arrived items are left alone; each variant's CMAF
/// cache is kept for the segments still listed.
pub fn apply_index(bytes: &[u8], data: &mut ChannelData) -> std::result::Result<(), String> {
    let f: IndexFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    data.last_arrival = f.last_arrival;
    let master = f
        .master
        .and_then(|(path, text)| hls::parse_master(&text).ok().map(|m| (path, m)));
    if master != data.master {
        data.master_version += 1;
        data.master = master;
    }
    let mut old = std::mem::take(&mut data.variants);
    for v in f.variants {
        let key = v.key.clone();
        let prior = old.remove(&key);
        data.variants.insert(
            key.clone(),
            Variant {
                key: key.clone(),
                slug: v.slug,
                target_duration: v.target_duration,
                // Keep versions moving forward so output caches never match stale entries.
                version: prior.as_ref().map_or(0, |p| p.version + 1),
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
        if let (Some(mut prior), Some(v)) = (prior, data.variants.get_mut(&key)) {
            let segments = &v.segments;
            prior.cmaf.retain(|seq| segments.contains_key(&seq));
            v.cmaf = prior.cmaf;
        }
    }
    Ok(())
}

/// What kind of object a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Definition,
    Index,
}

/// One listed channel object: the channel id, its part and its version tag.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub part: Part,
    pub tag: String,
}

/// The channel objects of one store, and what this process last wrote or read of each.
pub struct Index {
    store: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    /// Object name -> (version tag, stamp when recorded, written by us).
    seen: Mutex<HashMap<String, (String, u64, bool)>>,
    stamp: AtomicU64,
}

impl Index {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Option<Path>) -> Self {
        Self {
            store,
            prefix,
            seen: Mutex::default(),
            stamp: AtomicU64::new(1),
        }
    }

    fn name(id: &str, part: Part) -> String {
        match part {
            Part::Definition => format!("{id}{DEF_SUFFIX}"),
            Part::Index => format!("{id}{INDEX_SUFFIX}"),
        }
    }

    fn path(&self, name: &str) -> Path {
        match &self.prefix {
            Some(p) => p.child(name),
            None => Path::from(name),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64, bool)>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stamp that orders [`Index::record`] calls against the start of a listing.
    pub fn now_stamp(&self) -> u64 {
        self.stamp.fetch_add(1, Ordering::SeqCst)
    }

    fn record(&self, name: String, tag: String, ours: bool) {
        let stamp = self.now_stamp();
        self.seen().insert(name, (tag, stamp, ours));
    }

    /// Store one part of a channel.
    pub async fn put(&self, id: &str, part: Part, bytes: Vec<u8>) -> Result<()> {
        let name = Self::name(id, part);
        let r = self
            .store
            .put(&self.path(&name), PutPayload::from(bytes))
            .await
            .map_err(|e| OriginError::Store(format!("write {name}: {e}")))?;
        self.record(name, r.e_tag.unwrap_or_default(), true);
        Ok(())
    }

    /// Remove both parts of a channel.
    pub async fn delete(&self, id: &str) -> Result<()> {
        for part in [Part::Definition, Part::Index] {
            let name = Self::name(id, part);
            self.seen().remove(&name);
            match self.store.delete(&self.path(&name)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(OriginError::Store(format!("delete {name}: {e}"))),
            }
        }
        Ok(())
    }

    /// Read one part (`None`: not there).
    pub async fn get(&self, id: &str, part: Part) -> Result<Option<Vec<u8>>> {
        let name = Self::name(id, part);
        let got = match self.store.get(&self.path(&name)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(OriginError::Store(format!("read {name}: {e}"))),
        };
        let tag = got.meta.e_tag.clone().unwrap_or_default();
        let bytes = got
            .bytes()
            .await
            .map_err(|e| OriginError::Store(format!("read {name}: {e}")))?;
        self.record(name, tag, false);
        Ok(Some(bytes.to_vec()))
    }

    /// Every channel object in the store.
    pub async fn list(&self) -> Result<Vec<Listed>> {
        let objects: Vec<object_store::ObjectMeta> = match &self.prefix {
            Some(p) => self.store.list_with_delimiter(Some(p)).await,
            None => self.store.list_with_delimiter(None).await,
        }
        .map(|r| r.objects)
        .or_else(|e| match e {
            object_store::Error::NotFound { .. } => Ok(Vec::new()),
            e => Err(e),
        })
        .map_err(|e| OriginError::Store(format!("list channels: {e}")))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                let name = o.location.filename()?.to_string();
                let (id, part) = if let Some(id) = name.strip_suffix(DEF_SUFFIX) {
                    (id, Part::Definition)
                } else {
                    (name.strip_suffix(INDEX_SUFFIX)?, Part::Index)
                };
                crate::model::validate_id(id, "id").ok()?;
                let tag = o
                    .e_tag
                    .clone()
                    .unwrap_or_else(|| format!("{}:{}", o.last_modified, o.size));
                Some(Listed {
                    id: id.to_string(),
                    part,
                    tag,
                })
            })
            .collect())
    }

    /// Whether a listed object differs from what this process last wrote or read of it.
    pub fn changed(&self, l: &Listed) -> bool {
        self.seen()
            .get(&Self::name(&l.id, l.part))
            .is_none_or(|(tag, _, _)| *tag != l.tag)
    }

    /// Whether the stored index of `id` was last written by this process.
    pub fn index_is_ours(&self, id: &str) -> bool {
        self.seen()
            .get(&Self::name(id, Part::Index))
            .is_some_and(|(_, _, ours)| *ours)
    }

    /// Whether this process recorded the definition of `id` before `stamp` (so a listing
    /// started at `stamp` that lacks it means another replica deleted the channel).
    pub fn definition_known_before(&self, id: &str, stamp: u64) -> bool {
        self.seen()
            .get(&Self::name(id, Part::Definition))
            .is_some_and(|(_, s, _)| *s < stamp)
    }

    /// Forget what was recorded of `id` (after another replica deleted it).
    pub fn forget(&self, id: &str) {
        let mut seen = self.seen();
        seen.remove(&Self::name(id, Part::Definition));
        seen.remove(&Self::name(id, Part::Index));
    }
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
