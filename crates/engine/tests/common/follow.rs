//! The RFC 8216 oracle as a test harness: follow every media playlist of a master the way
//! `lineup validate --follow` does (reload at half the target duration, `check_text` on every
//! reload, one `hls::validate::LiveTracker` per rendition fed the engine clock's ms), check
//! every new segment answers 200 with media bytes, and record what the windows crossed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use hls::Playlist;
use hls::validate::{LiveTracker, Severity, check_text};
use url::Url;

/// What one rendition's window showed across its reloads.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every segment ever in the window: sequence -> (URI, discontinuity, CUE-OUT, CUE-IN).
    pub segments: BTreeMap<u64, (String, bool, bool, bool)>,
    /// Sequence numbers present in the first reload.
    pub initial: HashSet<u64>,
    pub reloads: usize,
    pub media_sequences: Vec<u64>,
}

impl Seen {
    /// Segments that entered the window after the first reload.
    pub fn crossed(&self) -> impl Iterator<Item = &(String, bool, bool, bool)> {
        self.segments
            .iter()
            .filter(|(s, _)| !self.initial.contains(s))
            .map(|(_, v)| v)
    }
    pub fn crossed_discontinuities(&self) -> usize {
        self.crossed().filter(|s| s.1).count()
    }
    pub fn crossed_cue_outs(&self) -> usize {
        self.crossed().filter(|s| s.2).count()
    }
    pub fn crossed_cue_ins(&self) -> usize {
        self.crossed().filter(|s| s.3).count()
    }
    pub fn crossed_uri_containing(&self, needle: &str) -> usize {
        self.crossed().filter(|s| s.0.contains(needle)).count()
    }
}

/// The outcome of following a master.
#[derive(Debug, Default)]
pub struct Report {
    /// `rule url: message` of every error (static, live or segment).
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Per media playlist URL.
    pub renditions: BTreeMap<String, Seen>,
}

impl Report {
    pub fn assert_clean(&self) {
        assert!(
            self.errors.is_empty(),
            "{} validator errors:\n{}",
            self.errors.len(),
            self.errors.join("\n")
        );
    }
    pub fn rendition(&self, suffix: &str) -> &Seen {
        self.renditions
            .iter()
            .find(|(u, _)| u.ends_with(suffix))
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no rendition {suffix}: {:?}", self.renditions.keys()))
    }
}

fn looks_like_media(head: &[u8]) -> bool {
    let ts = head.first() == Some(&0x47);
    let mp4 = head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"styp" | b"moof" | b"moov" | b"sidx" | b"mdat"
        );
    ts || mp4 || head.starts_with(b"WEBVTT")
}

/// Follow `master_url` (every variant and rendition it names) until the engine clock has
/// advanced `media_ms`. `speed` is how much faster than wall time `clock` runs (reloads are
/// every half target duration of *engine* time).
pub async fn follow_master(
    master_url: &str,
    clock: Arc<dyn Clock>,
    speed: f64,
    media_ms: i64,
) -> Report {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut report = Report::default();
    let base = Url::parse(master_url).unwrap();
    let text = client
        .get(base.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (parsed, problems) = check_text(&text);
    for p in problems {
        let line = format!("{} {master_url}: {}", p.rule, p.message);
        match p.severity {
            Severity::Error => report.errors.push(line),
            Severity::Warning => report.warnings.push(line),
        }
    }
    let Some(Playlist::Master(m)) = parsed else {
        report.errors.push(format!("{master_url}: not a master"));
        return report;
    };
    let mut urls: Vec<Url> = Vec::new();
    for u in m
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(m.media.iter().filter_map(|r| r.uri()))
    {
        let u = hls::uri::resolve(&base, u).unwrap();
        if !urls.contains(&u) {
            urls.push(u);
        }
    }
    let deadline = clock.now_ms() + media_ms;
    let tasks = urls.into_iter().map(|u| {
        let (client, clock) = (client.clone(), clock.clone());
        async move { follow_media(&client, &u, clock, speed, deadline).await }
    });
    for (url, seen, errors, warnings) in futures::future::join_all(tasks).await {
        report.errors.extend(errors);
        report.warnings.extend(warnings);
        report.renditions.insert(url, seen);
    }
    report
}

async fn follow_media(
    client: &reqwest::Client,
    url: &Url,
    clock: Arc<dyn Clock>,
    speed: f64,
    deadline: i64,
) -> (String, Seen, Vec<String>, Vec<String>) {
    let mut tracker = LiveTracker::new();
    let mut seen = Seen::default();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let mut reported = HashSet::new();
    let mut checked = HashSet::new();
    let mut report = |p: hls::validate::Problem, errors: &mut Vec<String>, w: &mut Vec<String>| {
        let line = format!("{} {url} (seq {:?}): {}", p.rule, p.sequence, p.message);
        if reported.insert((p.rule, p.sequence, p.line)) {
            match p.severity {
                Severity::Error => errors.push(line),
                Severity::Warning => w.push(line),
            }
        }
    };
    loop {
        let now = clock.now_ms();
        let text = match client.get(url.clone()).send().await {
            Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
            Ok(r) => {
                errors.push(format!("fetch-failed {url}: HTTP {}", r.status()));
                String::new()
            }
            Err(e) => {
                errors.push(format!("fetch-failed {url}: {e}"));
                String::new()
            }
        };
        let (parsed, problems) = check_text(&text);
        for p in problems {
            report(p, &mut errors, &mut warnings);
        }
        let mut target = 2;
        if let Some(Playlist::Media(m)) = parsed {
            for p in tracker.observe(&m, now.max(0) as u64) {
                report(p, &mut errors, &mut warnings);
            }
            target = m.target_duration.unwrap_or(2).max(1);
            let first = seen.reloads == 0;
            seen.reloads += 1;
            seen.media_sequences.push(m.media_sequence);
            for (i, s) in m.segments.iter().enumerate() {
                let seq = m.media_sequence + i as u64;
                if first {
                    seen.initial.insert(seq);
                }
                let cue_out = s
                    .markers
                    .iter()
                    .any(|k| matches!(k, hls::Marker::CueOut { .. }));
                let cue_in = s.markers.iter().any(|k| matches!(k, hls::Marker::CueIn));
                seen.segments.entry(seq).or_insert((
                    s.uri.clone(),
                    s.discontinuity,
                    cue_out,
                    cue_in,
                ));
                // Every new segment answers 200 with media bytes.
                let abs = hls::uri::resolve(url, &s.uri).unwrap();
                if checked.insert(abs.to_string()) {
                    match client.get(abs.clone()).send().await {
                        Ok(r) if r.status().is_success() => {
                            let body = r.bytes().await.unwrap_or_default();
                            if !looks_like_media(&body[..body.len().min(16)]) {
                                errors.push(format!("segment-not-media {abs}"));
                            }
                        }
                        Ok(r) => errors.push(format!("segment-unreachable {abs}: {}", r.status())),
                        Err(e) => errors.push(format!("segment-unreachable {abs}: {e}")),
                    }
                }
            }
        }
        if clock.now_ms() >= deadline {
            break;
        }
        // Reload every half target duration of engine time (a polling period, not a wait for
        // a condition).
        let wall = (target as f64 * 500.0 / speed) as u64;
        let next = now + (target * 500) as i64;
        let remaining = ((next - clock.now_ms()).max(0) as f64 / speed) as u64;
        tokio::time::sleep(Duration::from_millis(remaining.min(wall))).await;
    }
    (url.to_string(), seen, errors, warnings)
}
