//! Helpers shared by the pullpush integration tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pullpush::{Config, PullPush};
pub use testkit::http::get_bytes;

pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Serve a PullPush router on 127.0.0.1:0; returns its base URL.
pub async fn serve(pp: &PullPush) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = pp.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), task)
}

/// A service whose `dir` outputs may write anywhere under the system temp folder, where
/// the tests' `tempfile::tempdir()`s live.
pub fn service(db: &str) -> PullPush {
    PullPush::new(Config {
        db_path: db.into(),
        outputs: pullpush::OutputPolicy {
            dir_root: std::env::temp_dir(),
            s3_allowed_buckets: Vec::new(),
        },
        ..Config::default()
    })
    .unwrap()
}

/// Records every segment a live source lists (sequence -> hash of its bytes), polling.
pub struct Recorder {
    pub seqs: Arc<Mutex<BTreeMap<u64, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub fn start(media_url: String) -> Self {
        let seqs: Arc<Mutex<BTreeMap<u64, u64>>> = Default::default();
        let s2 = seqs.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let base = url::Url::parse(&media_url).unwrap();
            loop {
                if let Ok(r) = client.get(&media_url).send().await
                    && let Ok(text) = r.text().await
                    && let Ok(p) = hls::parse_media(&text)
                {
                    for (i, seg) in p.segments.iter().enumerate() {
                        let seq = p.sequence_of(i);
                        if s2.lock().unwrap().contains_key(&seq) {
                            continue;
                        }
                        let u = hls::uri::resolve(&base, &seg.uri).unwrap();
                        if let Ok(r) = client.get(u).send().await
                            && r.status().is_success()
                            && let Ok(b) = r.bytes().await
                        {
                            s2.lock().unwrap().insert(seq, hash(&b));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        Self { seqs, task }
    }

    pub fn snapshot(&self) -> BTreeMap<u64, u64> {
        self.seqs.lock().unwrap().clone()
    }
}

/// What a check of the destination found.
#[derive(Debug)]
pub struct DestReport {
    /// Per variant: (destination media sequence of the first listed segment, source
    /// sequences matched for each listed segment in order).
    pub tracks: Vec<(String, hls::MediaPlaylist, Vec<Option<u64>>)>,
}

/// Read the destination master and every media playlist it names through `get`, assert every
/// listed object exists, no ENDLIST, and map each segment back to a source sequence by hash.
/// Tracks are the variants in order, then the `EXT-X-MEDIA` renditions with a URI (each
/// destination path once); `recorders[i]` is the source of track `i`.
pub async fn check_destination<F, Fut>(
    get: F,
    master_path: &str,
    recorders: &[&Recorder],
) -> DestReport
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Option<bytes::Bytes>>,
{
    let master = get(master_path.to_string())
        .await
        .unwrap_or_else(|| panic!("no master {master_path}"));
    let master = match hls::parse_bytes(&master).unwrap() {
        hls::Playlist::Master(m) => m,
        other => panic!("not a master: {other:?}"),
    };
    let folder = master_path
        .rsplit_once('/')
        .map(|(f, _)| format!("{f}/"))
        .unwrap_or_default();
    let mut paths: Vec<String> = Vec::new();
    for uri in master
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(master.media.iter().filter_map(|r| r.uri()))
    {
        let path = format!("{folder}{uri}");
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let mut tracks = Vec::new();
    for (i, path) in paths.into_iter().enumerate() {
        let text = get(path.clone())
            .await
            .unwrap_or_else(|| panic!("no {path}"));
        let p = hls::parse_media(std::str::from_utf8(&text).unwrap()).unwrap();
        assert!(!p.end_list, "{path} must not have ENDLIST");
        assert!(!p.segments.is_empty(), "{path} lists no segment");
        let hashes: HashMap<u64, u64> = recorders
            .get(i)
            .map(|r| r.snapshot().into_iter().map(|(s, h)| (h, s)).collect())
            .unwrap_or_default();
        let mut matched = Vec::new();
        for (k, seg) in p.segments.iter().enumerate() {
            if let Some(m) = p.effective_map(k).and_then(|m| m.uri()) {
                let mp = format!("{folder}{m}");
                assert!(get(mp.clone()).await.is_some(), "init {mp} missing");
            }
            let sp = format!("{folder}{}", seg.uri);
            let bytes = get(sp.clone()).await.unwrap_or_else(|| {
                panic!("{path} lists {sp}, which the destination does not have")
            });
            matched.push(hashes.get(&hash(&bytes)).copied());
        }
        tracks.push((path, p, matched));
    }
    DestReport { tracks }
}

/// Assert destination segments map to consecutive source sequences (none missing, none
/// doubled) wherever the recorder saw them; returns how many were matched.
pub fn assert_no_source_gap(report: &DestReport) -> usize {
    let mut total = 0;
    for (path, p, matched) in &report.tracks {
        let known: Vec<(usize, u64)> = matched
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|s| (i, s)))
            .collect();
        assert!(
            known.len() * 2 >= matched.len(),
            "{path}: only {} of {} destination segments match a source segment",
            known.len(),
            matched.len()
        );
        for w in known.windows(2) {
            let ((i0, s0), (i1, s1)) = (w[0], w[1]);
            assert_eq!(
                s1 - s0,
                (i1 - i0) as u64,
                "{path}: destination segments {i0}..{i1} (seq {}..) map to source {s0}..{s1}: a source segment is missing or doubled",
                p.media_sequence
            );
        }
        total += known.len();
    }
    total
}

/// `ffmpeg -v error` decode of (up to `secs` seconds of) a playlist URL from its first listed
/// segment (testkit's player, 40 s deadline); asserts it exits 0, returns stderr.
pub async fn ffmpeg_decode(url: &str, secs: u32) -> String {
    let secs = secs.to_string();
    let d = testkit::ffmpeg_decode(
        &[
            "-live_start_index",
            "0",
            "-allowed_extensions",
            "ALL",
            "-i",
            url,
            "-t",
            &secs,
        ],
        Duration::from_secs(40),
    )
    .await;
    assert!(d.ok, "ffmpeg failed: {}", d.stderr);
    d.stderr
}

/// Follow an HTTP output (`base` ends with `/`) with the RFC 8216 oracle.
pub fn follow_http(
    client: &reqwest::Client,
    base: String,
    master: &str,
) -> testkit::PlaylistFollower {
    let client = client.clone();
    testkit::PlaylistFollower::start(master, move |p: String| {
        let (c, u) = (client.clone(), format!("{base}{p}"));
        async move { get_bytes(&c, u).await }
    })
}
