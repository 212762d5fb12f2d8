//! The local cache of conditioned ads: a folder, bounded in bytes, least recently used
//! first out, read back at start.
//!
//! ```text
//! <dir>/ready/<key>/ad.json           the ad (renditions, segments, bytes): written last
//! <dir>/ready/<key>/<v0|a0>/...       index.m3u8, s000.ts | init.mp4 + s000.m4s
//! <dir>/work/<key>-<n>/               a job's files until it succeeds (then renamed
//!                                     into ready/ in one step); removed on failure and
//!                                     at start
//! ```
//! An ad is in the cache once its `ad.json` is: a crash mid-job leaves only `work/`,
//! which the next start removes. Recency survives restarts as `ad.json`'s modification
//! time (touched at most once a minute per ad). Eviction removes the least recently used
//! ads beyond the byte bound, but never one used in the last [`Cache::GRACE`] (a viewer
//! may be in its break): the bound can be passed for that long.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::profile::Container;

/// One rendition of a conditioned ad; file names are relative to the ad's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionedRendition {
    /// `v<i>`: for content variant `i`; `a<k>`: for demuxed audio rendition `k`.
    pub name: String,
    /// The content rendition's bandwidth it was made for.
    pub bandwidth: u64,
    /// `v0/init.mp4` for fMP4.
    #[serde(default)]
    pub init: Option<String>,
    /// (`v0/s000.ts`, seconds), in order.
    pub segments: Vec<(String, f64)>,
}

/// A creative conditioned for one content profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionedAd {
    /// The cache key: digest of the creative URL and the profile key.
    pub key: String,
    pub creative_url: String,
    pub profile_key: String,
    pub container: Container,
    /// Seconds (the first rendition's segments).
    pub duration: f64,
    /// Bytes of every file.
    pub bytes: u64,
    /// One per content variant (`v<i>`, master order), then one per demuxed audio
    /// rendition (`a<k>`).
    pub renditions: Vec<ConditionedRendition>,
    /// Absolute URL of the ad's folder (`<public url>/<key>`): set when loaded.
    #[serde(skip)]
    pub base_url: String,
}

impl ConditionedAd {
    /// The absolute URL of one of its files (`v0/s000.ts`).
    pub fn url(&self, file: &str) -> String {
        format!("{}/{file}", self.base_url.trim_end_matches('/'))
    }

    /// The rendition made for content variant `i`.
    pub fn variant(&self, i: usize) -> Option<&ConditionedRendition> {
        let name = format!("v{i}");
        self.renditions.iter().find(|r| r.name == name)
    }

    /// The rendition made for demuxed audio rendition `k` (master order).
    pub fn audio(&self, k: usize) -> Option<&ConditionedRendition> {
        let name = format!("a{k}");
        self.renditions.iter().find(|r| r.name == name)
    }

    /// Its master playlist: a variant per content variant, in master order, and the
    /// demuxed audio renditions (load it like any HLS creative).
    pub fn master_url(&self) -> String {
        self.url("master.m3u8")
    }

    /// Every file of the ad, relative to its folder (`ad.json` not included).
    pub fn files(&self) -> Vec<String> {
        let mut out = vec!["master.m3u8".to_string()];
        for r in &self.renditions {
            out.push(format!("{}/index.m3u8", r.name));
            out.extend(r.init.iter().cloned());
            out.extend(r.segments.iter().map(|s| s.0.clone()));
        }
        out
    }
}

struct Entry {
    ad: Arc<ConditionedAd>,
    /// Milliseconds since the Unix epoch.
    used_ms: u64,
    /// When `ad.json`'s modification time was last set.
    touched_ms: u64,
}

/// The local cache (see the module doc).
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    public_url: String,
    entries: Mutex<HashMap<String, Entry>>,
    bytes: AtomicU64,
    work_seq: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A cache key or rendition/file name that is safe as a path part.
pub fn safe_key(key: &str) -> bool {
    key.len() == 32
        && key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Cache {
    /// An ad used this recently is not evicted.
    pub const GRACE: Duration = Duration::from_secs(120);

    /// Opens (or creates) the cache folder, removes unfinished work and reads every
    /// conditioned ad back.
    pub fn open(dir: &Path, max_bytes: u64, public_url: &str) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir.join("ready"))?;
        let work = dir.join("work");
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(&work)?;
        let cache = Cache {
            dir: dir.to_path_buf(),
            max_bytes,
            public_url: public_url.trim_end_matches('/').to_string(),
            entries: Mutex::default(),
            bytes: AtomicU64::new(0),
            work_seq: AtomicU64::new(0),
        };
        for item in std::fs::read_dir(dir.join("ready"))? {
            let path = item?.path();
            let key = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let manifest = path.join("ad.json");
            let loaded = std::fs::read(&manifest)
                .ok()
                .and_then(|b| serde_json::from_slice::<ConditionedAd>(&b).ok())
                .filter(|ad| ad.key == key && safe_key(&key));
            match loaded {
                Some(ad) => {
                    let used = std::fs::metadata(&manifest)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(0);
                    cache.insert_entry(ad, used);
                }
                None => {
                    tracing::warn!(path = %path.display(), "conditioned ad without a readable ad.json; removed");
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
        cache.publish_bytes();
        Ok(cache)
    }

    fn publish_bytes(&self) {
        metrics::gauge!("ssai_condition_cache_bytes")
            .set(self.bytes.load(Ordering::Relaxed) as f64);
    }

    fn insert_entry(&self, mut ad: ConditionedAd, used_ms: u64) -> Arc<ConditionedAd> {
        ad.base_url = format!("{}/{}", self.public_url, ad.key);
        let ad = Arc::new(ad);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = map.insert(
            ad.key.clone(),
            Entry {
                ad: ad.clone(),
                used_ms,
                touched_ms: used_ms,
            },
        ) {
            self.bytes.fetch_sub(old.ad.bytes, Ordering::Relaxed);
        }
        self.bytes.fetch_add(ad.bytes, Ordering::Relaxed);
        ad
    }

    /// The folder of a ready ad.
    pub fn ad_dir(&self, key: &str) -> PathBuf {
        self.dir.join("ready").join(key)
    }

    /// A new, empty work folder for a job on `key`.
    pub fn work_dir(&self, key: &str) -> std::io::Result<PathBuf> {
        let n = self.work_seq.fetch_add(1, Ordering::Relaxed);
        let p = self.dir.join("work").join(format!("{key}-{n}"));
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// The ad, if ready here; marks it used.
    pub fn get(&self, key: &str) -> Option<Arc<ConditionedAd>> {
        let now = now_ms();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.get_mut(key)?;
        e.used_ms = now;
        if now.saturating_sub(e.touched_ms) > 60_000 {
            e.touched_ms = now;
            let manifest = self.ad_dir(key).join("ad.json");
            // Off the caller's thread: recency on disk is best effort.
            std::thread::spawn(move || {
                if let Ok(f) = std::fs::File::options().append(true).open(&manifest) {
                    let _ = f.set_modified(SystemTime::now());
                }
            });
        }
        Some(e.ad.clone())
    }

    /// The ad without marking it used.
    pub fn peek(&self, key: &str) -> Option<Arc<ConditionedAd>> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).map(|e| e.ad.clone())
    }

    /// Moves a finished job's folder (holding every file of `ad`) into the cache, writes
    /// its `ad.json` and evicts beyond the bound. Returns the ad as served.
    pub fn commit(&self, work: &Path, ad: ConditionedAd) -> std::io::Result<Arc<ConditionedAd>> {
        let json = serde_json::to_vec_pretty(&ad).map_err(std::io::Error::other)?;
        std::fs::write(work.join("ad.json"), json)?;
        let dest = self.ad_dir(&ad.key);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::rename(work, &dest)?;
        let ad = self.insert_entry(ad, now_ms());
        self.evict();
        self.publish_bytes();
        Ok(ad)
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Removes the least recently used ads (outside [`Self::GRACE`]) while over the
    /// bound; returns the keys removed.
    pub fn evict(&self) -> Vec<String> {
        let now = now_ms();
        let grace = Self::GRACE.as_millis() as u64;
        let mut removed = Vec::new();
        {
            let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let mut order: Vec<(u64, String)> = map
                .iter()
                .filter(|(_, e)| now.saturating_sub(e.used_ms) > grace)
                .map(|(k, e)| (e.used_ms, k.clone()))
                .collect();
            order.sort();
            for (_, key) in order {
                if self.bytes.load(Ordering::Relaxed) <= self.max_bytes {
                    break;
                }
                if let Some(e) = map.remove(&key) {
                    self.bytes.fetch_sub(e.ad.bytes, Ordering::Relaxed);
                    removed.push(key);
                }
            }
        }
        for key in &removed {
            let _ = std::fs::remove_dir_all(self.ad_dir(key));
            metrics::counter!("ssai_condition_evictions_total").increment(1);
        }
        self.publish_bytes();
        removed
    }

    /// Forgets an ad whose files went missing (removed by hand, or by another process).
    pub fn forget(&self, key: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.remove(key) {
            self.bytes.fetch_sub(e.ad.bytes, Ordering::Relaxed);
        }
        drop(map);
        self.publish_bytes();
    }

    /// Sets an ad's last use (tests of eviction order).
    #[doc(hidden)]
    pub fn set_used(&self, key: &str, used_ms: u64) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(key) {
            e.used_ms = used_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(key: &str, bytes: u64) -> ConditionedAd {
        ConditionedAd {
            key: key.into(),
            creative_url: "http://a/x.mp4".into(),
            profile_key: "p".into(),
            container: Container::Ts,
            duration: 2.0,
            bytes,
            renditions: vec![ConditionedRendition {
                name: "v0".into(),
                bandwidth: 1,
                init: None,
                segments: vec![("v0/s000.ts".into(), 2.0)],
            }],
            base_url: String::new(),
        }
    }

    fn key(n: u8) -> String {
        format!("{n:032x}")
    }

    fn job(cache: &Cache, k: &str, bytes: u64) {
        let work = cache.work_dir(k).unwrap();
        std::fs::create_dir_all(work.join("v0")).unwrap();
        std::fs::write(work.join("master.m3u8"), b"#EXTM3U\n").unwrap();
        std::fs::write(work.join("v0/s000.ts"), vec![0u8; bytes as usize]).unwrap();
        cache.commit(&work, ad(k, bytes)).unwrap();
    }

    #[test]
    fn survives_a_restart_and_evicts_least_recently_used_beyond_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), 250, "http://h/c").unwrap();
        job(&cache, &key(1), 100);
        job(&cache, &key(2), 100);
        assert_eq!(cache.bytes(), 200);
        let old = now_ms() - 3_600_000;
        cache.set_used(&key(1), old);
        cache.set_used(&key(2), old + 1000);
        // Half-done work is left behind by a "crash".
        let stale = cache.work_dir(&key(9)).unwrap();
        std::fs::write(stale.join("partial.ts"), b"x").unwrap();
        // Over the bound: the least recently used (1) goes; 3 is new and within its grace.
        job(&cache, &key(3), 100);
        assert!(cache.peek(&key(1)).is_none());
        assert!(!cache.ad_dir(&key(1)).exists());
        assert_eq!(cache.bytes(), 200);
        drop(cache);
        let again = Cache::open(tmp.path(), 250, "http://h/c/").unwrap();
        assert!(!stale.exists(), "work of a dead job is removed at start");
        let two = again.get(&key(2)).unwrap();
        assert_eq!(
            two.url("v0/s000.ts"),
            format!("http://h/c/{}/v0/s000.ts", key(2))
        );
        assert!(again.get(&key(3)).is_some());
        assert_eq!(again.bytes(), 200);
        assert!(safe_key(&key(0xab)) && !safe_key("../x") && !safe_key(&key(0xab).to_uppercase()));
    }
}
