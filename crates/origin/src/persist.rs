//! Channel state that outlives a process and is shared between replicas: with
//! `--store disk` or `--store s3`, each channel is written as two objects next to its
//! segments, through `object_store` (a local folder or any S3-compatible bucket):
//!
//! - `<channel>.channel.json`, the definition: ingest users (HA1 only, never a password),
//!   description, endpoints. Written by whichever replica the control API changed it on.
//! - `<channel>.index.json`, the timeline index head: the ingested master and, per
//!   variant, the segment metadata (times, tags, keyframe ranges, store keys) of its newest
//!   [`PAGE`] block of sequence numbers inline, plus references to the older blocks, each
//!   an object `<channel>.pages/<variant>/<block>.json` written once when its block is
//!   complete (rewritten only if a late segment fills a gap in it) and deleted when the
//!   window leaves it. So a commit writes a head of at most [`PAGE`] segments per variant,
//!   whatever the startover window. Written by the replica that ingests, after each commit
//!   that changed it (pages first, then the head; awaited before the ingest PUT is
//!   answered, so a 201 means the segment is listed durably), and after sweeps that evict.
//!
//! A replica starting on the store restores every channel from these objects, and
//! [`crate::Origin`] re-lists them every `--follow-interval-ms`: a definition written by
//! another replica is applied at once; an index is applied unless this replica ingested
//! into the channel recently (then it is the writer, see [`INGEST_QUIET`]). So any number of
//! replicas serve one channel, with one of them (or each in turn) receiving the ingest.
//!
//! - Writes per channel are ordered by an async lock held across snapshot and PUT; a write
//!   whose content version is already stored is skipped. All of a channel's index objects
//!   together are bounded by the startover window (about 300 bytes a segment).
//! - Channel ids are `[A-Za-z0-9_-]`, so these names never clash with a channel's
//!   segment folder.
//! - Segment tags (ad markers, DATERANGE) are kept as HLS tag text and re-parsed with
//!   `hls`; ad-break state is re-derived by replaying the segments in order. Half-arrived
//!   items and the CMAF/playlist caches are not persisted: they rebuild on demand.
//! - An object that does not parse is skipped with a warning (that channel is not
//!   restored; the origin still starts).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
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
/// A deleted channel's marker: followers drop a channel only when they see it, so a store
/// that lost its objects (a bucket emptied or restored from an older copy) is not taken
/// for a deletion of every channel.
const TOMBSTONE_SUFFIX: &str = ".deleted.json";

#[derive(Serialize, Deserialize)]
struct DefinitionFile {
    id: String,
    /// (username, HA1 MD5, HA1 SHA-256) of ingest 1 and 2.
    users: Vec<(String, String, String)>,
    description: Option<String>,
    endpoints: Vec<EndpointSpec>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    tags: std::collections::BTreeMap<String, String>,
}

/// Sequence numbers per index page (block `b` holds `b * PAGE .. (b + 1) * PAGE`).
pub const PAGE: u64 = 64;

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
    /// The oldest segment still on the timeline (pages may hold older, evicted ones).
    #[serde(default)]
    first_seq: Option<u64>,
    /// The older blocks, oldest first.
    #[serde(default)]
    pages: Vec<PageRef>,
    /// The newest block's segments.
    segments: Vec<SegFile>,
}

/// A reference from the head to a page object: its block and what it held when written
/// (pages only gain segments, so `count` and `last` identify a version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    pub block: u64,
    pub count: usize,
    pub last: u64,
}

#[derive(Clone, Serialize, Deserialize)]
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
    pub tags: std::collections::BTreeMap<String, String>,
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
        tags: data.tags.clone(),
    };
    serde_json::to_vec(&file).unwrap_or_default()
}

/// The pages of one channel's index this process wrote or read: per (variant slug,
/// block) the reference, the sequence numbers in the object, and (for a reader) the parsed
/// segments, reused while the head keeps referring to the same version.
#[derive(Default)]
pub struct Pages {
    map: HashMap<(String, u64), PageState>,
}

struct PageState {
    r: PageRef,
    seqs: Vec<u64>,
    segs: Option<Arc<Vec<SegFile>>>,
}

/// What this process last stored or read of a channel's index: the content version (see
/// [`ChannelData::index_version`]) and the pages.
#[derive(Default)]
pub struct Persisted {
    pub version: u64,
    pub pages: Pages,
}

/// What to store for one save of a channel's index: new or grown pages (first), the head,
/// then pages to delete.
pub struct IndexWrite {
    pub pages: Vec<PageWrite>,
    pub head: Vec<u8>,
    pub gone: Vec<(String, u64)>,
}

/// One page object to write.
pub struct PageWrite {
    pub slug: String,
    pub block: u64,
    pub bytes: Vec<u8>,
    r: PageRef,
    seqs: Vec<u64>,
}

impl Pages {
    /// Remember a page as stored.
    pub fn wrote(&mut self, p: &PageWrite) {
        self.map.insert(
            (p.slug.clone(), p.block),
            PageState {
                r: p.r,
                seqs: p.seqs.clone(),
                segs: None,
            },
        );
    }
    /// Forget a deleted page.
    pub fn deleted(&mut self, slug: &str, block: u64) {
        self.map.remove(&(slug.to_string(), block));
    }
}

/// Plan a save of `data`'s timeline index given the pages already stored.
pub fn index_write(data: &ChannelData, pages: &Pages) -> IndexWrite {
    let mut writes = Vec::new();
    let mut referenced = std::collections::HashSet::new();
    let variants = data
        .variants
        .values()
        .map(|v| {
            let mut blocks: BTreeMap<u64, Vec<&SegMeta>> = BTreeMap::new();
            for s in v.segments.values() {
                blocks.entry(s.seq / PAGE).or_default().push(s);
            }
            let newest = blocks.keys().next_back().copied();
            let mut refs = Vec::new();
            let mut inline = Vec::new();
            for (block, segs) in blocks {
                if Some(block) == newest {
                    inline = segs.iter().map(|s| seg_file(s)).collect();
                    continue;
                }
                referenced.insert((v.slug.clone(), block));
                let stored = pages.map.get(&(v.slug.clone(), block));
                // Both sorted (blocks come from the timeline's BTreeMap, pages are written
                // and read in sequence order): a binary search per segment.
                let covered = stored
                    .is_some_and(|p| segs.iter().all(|s| p.seqs.binary_search(&s.seq).is_ok()));
                if let (true, Some(p)) = (covered, stored) {
                    refs.push(p.r);
                    continue;
                }
                let r = PageRef {
                    block,
                    count: segs.len(),
                    last: segs.last().map_or(0, |s| s.seq),
                };
                let files: Vec<SegFile> = segs.iter().map(|s| seg_file(s)).collect();
                writes.push(PageWrite {
                    slug: v.slug.clone(),
                    block,
                    bytes: serde_json::to_vec(&files).unwrap_or_default(),
                    r,
                    seqs: segs.iter().map(|s| s.seq).collect(),
                });
                refs.push(r);
            }
            VariantFile {
                key: v.key.clone(),
                slug: v.slug.clone(),
                target_duration: v.target_duration,
                first_seq: v.segments.keys().next().copied(),
                pages: refs,
                segments: inline,
            }
        })
        .collect();
    let file = IndexFile {
        master: data.master.as_ref().map(|(p, m)| {
            let mut s = String::new();
            m.write_to(&mut s);
            (p.clone(), s)
        }),
        last_arrival: data.last_arrival,
        variants,
    };
    let gone = pages
        .map
        .keys()
        .filter(|k| !referenced.contains(*k))
        .cloned()
        .collect();
    IndexWrite {
        pages: writes,
        head: serde_json::to_vec(&file).unwrap_or_default(),
        gone,
    }
}

/// A parsed index head, waiting for its pages.
pub struct IndexHead(IndexFile);

impl IndexHead {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        serde_json::from_slice(bytes)
            .map(IndexHead)
            .map_err(|e| e.to_string())
    }
    /// The pages it refers to that `pages` does not hold in that version: (slug, ref).
    pub fn missing(&self, pages: &Pages) -> Vec<(String, PageRef)> {
        self.0
            .variants
            .iter()
            .flat_map(|v| v.pages.iter().map(move |r| (v.slug.clone(), *r)))
            .filter(|(slug, r)| {
                pages
                    .map
                    .get(&(slug.clone(), r.block))
                    .is_none_or(|p| p.r != *r || p.segs.is_none())
            })
            .collect()
    }
}

/// Keep a page read from the store for [`apply_index`].
pub fn read_page(
    pages: &mut Pages,
    slug: &str,
    r: PageRef,
    bytes: &[u8],
) -> std::result::Result<(), String> {
    let segs: Vec<SegFile> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut seqs: Vec<u64> = segs.iter().map(|s| s.seq).collect();
    seqs.sort_unstable(); // index_write binary-searches them
    pages.map.insert(
        (slug.to_string(), r.block),
        PageState {
            r,
            seqs,
            segs: Some(Arc::new(segs)),
        },
    );
    Ok(())
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
        tags: f.tags,
    })
}

/// Replace `data`'s timeline (master, variants, last arrival) with the one in an index
/// head and its pages (all of which must be in `pages`: see [`IndexHead::missing`]).
/// Definition fields and half-arrived items are left alone; each variant's CMAF cache is
/// kept for the segments still listed. Pages the head no longer refers to are forgotten.
pub fn apply_index(
    head: IndexHead,
    pages: &mut Pages,
    data: &mut ChannelData,
) -> std::result::Result<(), String> {
    if let Some((slug, r)) = head.missing(pages).first() {
        return Err(format!("page {slug}/{} not read", r.block));
    }
    let f = head.0;
    let referenced: std::collections::HashSet<(String, u64)> = f
        .variants
        .iter()
        .flat_map(|v| v.pages.iter().map(|r| (v.slug.clone(), r.block)))
        .collect();
    pages.map.retain(|k, _| referenced.contains(k));
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
                slug: v.slug.clone(),
                target_duration: v.target_duration,
                // Keep versions moving forward so output caches never match stale entries.
                version: prior.as_ref().map_or(0, |p| p.version + 1),
                ..Default::default()
            },
        );
        // Replay in sequence order so ad-break state is derived as on ingest; pages may
        // still hold segments older than the variant's first one (evicted since).
        let mut segs: Vec<SegFile> = v
            .pages
            .iter()
            .filter_map(|r| pages.map.get(&(v.slug.clone(), r.block)))
            .filter_map(|p| p.segs.as_deref())
            .flatten()
            .cloned()
            .chain(v.segments)
            .filter(|s| v.first_seq.is_none_or(|f| s.seq >= f))
            .collect();
        segs.sort_by_key(|s| s.seq);
        segs.dedup_by_key(|s| s.seq);
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
    /// Written by [`Index::bury`] before a channel's objects are removed; removed by
    /// [`Index::unbury`] when a channel of that id is created again.
    Tombstone,
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
            Part::Tombstone => format!("{id}{TOMBSTONE_SUFFIX}"),
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

    fn page_path(&self, id: &str, slug: &str, block: u64) -> Path {
        self.path(&format!("{id}.pages"))
            .child(slug)
            .child(format!("{block}.json"))
    }

    /// Store one index page.
    pub async fn put_page(&self, id: &str, slug: &str, block: u64, bytes: Vec<u8>) -> Result<()> {
        let path = self.page_path(id, slug, block);
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| OriginError::Store(format!("write {path}: {e}")))
    }

    /// Read one index page (`None`: not there).
    pub async fn get_page(&self, id: &str, slug: &str, block: u64) -> Result<Option<Vec<u8>>> {
        let path = self.page_path(id, slug, block);
        match self.store.get(&path).await {
            Ok(g) => g
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| OriginError::Store(format!("read {path}: {e}"))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(OriginError::Store(format!("read {path}: {e}"))),
        }
    }

    /// Delete one index page (gone already is fine).
    pub async fn delete_page(&self, id: &str, slug: &str, block: u64) -> Result<()> {
        let path = self.page_path(id, slug, block);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(OriginError::Store(format!("delete {path}: {e}"))),
        }
    }

    /// Delete a channel for every replica: its tombstone first (what followers act on),
    /// then its objects ([`Index::delete`]).
    pub async fn bury(&self, id: &str) -> Result<()> {
        let name = Self::name(id, Part::Tombstone);
        self.store
            .put(&self.path(&name), PutPayload::from(b"{}".to_vec()))
            .await
            .map_err(|e| OriginError::Store(format!("write {name}: {e}")))?;
        self.delete(id).await
    }

    /// Remove a channel's tombstone (it is created again; gone already is fine).
    pub async fn unbury(&self, id: &str) -> Result<()> {
        let name = Self::name(id, Part::Tombstone);
        match self.store.delete(&self.path(&name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(OriginError::Store(format!("delete {name}: {e}"))),
        }
    }

    /// Remove both parts of a channel and its index pages (not its tombstone).
    pub async fn delete(&self, id: &str) -> Result<()> {
        let pages = self.path(&format!("{id}.pages"));
        let listed: Vec<Path> = self
            .store
            .list(Some(&pages))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| OriginError::Store(format!("list {pages}: {e}")))?;
        for p in listed {
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(OriginError::Store(format!("delete {p}: {e}"))),
            }
        }
        for part in [Part::Definition, Part::Index] {
            let name = Self::name(id, part);
            match self.store.delete(&self.path(&name)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(OriginError::Store(format!("delete {name}: {e}"))),
            }
            // After the object is gone: a listing made before still matches what was
            // recorded, so a concurrent refresh does not take the channel back.
            self.seen().remove(&name);
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
                } else if let Some(id) = name.strip_suffix(TOMBSTONE_SUFFIX) {
                    (id, Part::Tombstone)
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
    /// started at `stamp` that lacks it means the channel was deleted, with a tombstone,
    /// or the store lost it, without one).
    pub fn definition_known_before(&self, id: &str, stamp: u64) -> bool {
        self.seen()
            .get(&Self::name(id, Part::Definition))
            .is_some_and(|(_, s, _)| *s < stamp)
    }

    /// Forget what was recorded of one part of `id`, so the next refresh reads it again
    /// (after applying it failed).
    pub fn unsee(&self, id: &str, part: Part) {
        self.seen().remove(&Self::name(id, part));
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::Duration;

    /// A channel with `n` two-second segments (seq 0..n) on variant `v`, one with an ad
    /// marker, evicting as it goes with a 10-minute retention.
    fn channel(n: u64) -> ChannelData {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = ChannelData::default();
        c.endpoints = vec![EndpointSpec {
            startover_window_seconds: 600,
            ..EndpointSpec::new("e")
        }];
        for seq in 0..n {
            let now = t0 + Duration::seconds(2 * seq as i64);
            c.on_segment(1, &format!("s{seq}.ts"), Bytes::from_static(b"x"), now);
            let cue = if seq == 70 { "#EXT-X-CUE-OUT:4\n" } else { "" };
            let text = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{seq}\n{cue}#EXTINF:2,\ns{seq}.ts\n"
            );
            for r in c.on_media("c", 1, "v.m3u8", &hls::parse_media(&text).unwrap(), now) {
                c.commit(&r.variant, r.meta);
            }
            c.evict(now);
        }
        c
    }

    fn seqs(c: &ChannelData) -> Vec<u64> {
        c.variants["v"].segments.keys().copied().collect()
    }

    /// Write `data` as a writer would, then read it back as a replica would.
    fn round_trip(data: &ChannelData, writer: &mut Pages, reader: &mut Pages) -> ChannelData {
        let plan = index_write(data, writer);
        let mut objects: HashMap<(String, u64), Vec<u8>> = HashMap::new();
        for p in &plan.pages {
            writer.wrote(p);
            objects.insert((p.slug.clone(), p.block), p.bytes.clone());
        }
        for (slug, block) in &plan.gone {
            writer.deleted(slug, *block);
        }
        let head = IndexHead::parse(&plan.head).unwrap();
        for (slug, r) in head.missing(reader) {
            read_page(reader, &slug, r, &objects[&(slug.clone(), r.block)]).unwrap();
        }
        let mut out = ChannelData::default();
        apply_index(head, reader, &mut out).unwrap();
        out
    }

    #[test]
    fn index_pages_round_trip_and_bound_the_head() {
        let (mut writer, mut reader) = (Pages::default(), Pages::default());
        let data = channel(200);
        let plan = index_write(&data, &writer);
        // Blocks 0..=2 become pages; block 3 (seq 192..199) stays in the head.
        assert_eq!(plan.pages.len(), 3);
        let inline = IndexHead::parse(&plan.head).unwrap().0.variants[0]
            .segments
            .len();
        assert_eq!(inline, 8);
        let back = round_trip(&data, &mut writer, &mut reader);
        assert_eq!(seqs(&back), seqs(&data));
        let v = &back.variants["v"];
        assert!(!v.segments[&70].markers.is_empty(), "tags survive");
        assert!(v.segments[&71].ad.is_some(), "ad-break state is re-derived");

        // Nothing new: no page to write. One more segment: only the head changes.
        assert!(index_write(&data, &writer).pages.is_empty());
        let more = channel(201);
        assert!(index_write(&more, &writer).pages.is_empty());
        let back = round_trip(&more, &mut writer, &mut reader);
        assert_eq!(seqs(&back), seqs(&more));
    }

    #[test]
    fn evicted_pages_are_deleted_and_partly_evicted_ones_filtered() {
        let (mut writer, mut reader) = (Pages::default(), Pages::default());
        round_trip(&channel(200), &mut writer, &mut reader);
        // 10-minute retention of 2 s segments: after 500, about 300 remain (seq ~200..).
        let later = channel(500);
        let plan = index_write(&later, &writer);
        assert!(
            plan.gone.iter().any(|(_, b)| *b == 0),
            "block 0 left the window: {:?}",
            plan.gone
        );
        let back = round_trip(&later, &mut writer, &mut reader);
        assert_eq!(seqs(&back), seqs(&later));
        assert!(
            !seqs(&later)[0].is_multiple_of(PAGE),
            "the test needs a partly evicted page"
        );
    }
}
