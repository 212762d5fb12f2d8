//! `lineup validate <FILE|URL>`: the I/O around `hls::validate` (and, for an MPD, around
//! the `dash` crate's checks: see `validate_dash`).
//!
//! Loads a playlist (and for a master every playlist it names), runs the static rules, and
//! with `--follow SECONDS` reloads every media playlist at half its target duration and runs
//! the live rules across reloads. `--check-segments` fetches the head of every new segment
//! and checks the status and that the bytes look like media (TS sync byte, MP4 box, WebVTT,
//! ADTS/ID3). For a master, the media playlists it names are also checked against each
//! other once (`hls::validate::check_variants`, RFC 8216 6.2.4). One line per problem, or
//! `--json`; exit code 1 on any error.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use hls::validate::{LiveTracker, Problem, Severity, check_text, check_variants};
use hls::{MediaPlaylist, Playlist};
use serde_json::json;
use url::Url;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A playlist file or an http(s) URL (master or media), or a DASH MPD (`.mpd`).
    pub target: String,
    /// Keep reloading live media playlists for this many seconds and check the live rules.
    #[arg(long, value_name = "SECONDS")]
    pub follow: Option<f64>,
    /// Fetch the start of every segment and check that it answers 200 with media bytes.
    #[arg(long)]
    pub check_segments: bool,
    /// Print a JSON report instead of one line per problem.
    #[arg(long)]
    pub json: bool,
    /// Give up on one fetch after this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
}

/// A problem and the playlist it was found in.
#[derive(Debug, Clone)]
pub struct Finding {
    pub url: String,
    pub problem: Problem,
}

impl Finding {
    fn json(&self) -> serde_json::Value {
        json!({
            "severity": self.problem.severity.as_str(),
            "rule": self.problem.rule,
            "url": self.url,
            "line": self.problem.line,
            "sequence": self.problem.sequence,
            "message": self.problem.message,
        })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.problem;
        write!(f, "{}[{}] {}", p.severity.as_str(), p.rule, self.url)?;
        if let Some(l) = p.line {
            write!(f, ":{l}")?;
        }
        if let Some(s) = p.sequence {
            write!(f, " (segment {s})")?;
        }
        write!(f, ": {}", p.message)
    }
}

fn finding(url: &Url, rule: &'static str, severity: Severity, message: String) -> Finding {
    Finding {
        url: display_url(url),
        problem: Problem {
            rule,
            severity,
            line: None,
            sequence: None,
            message,
        },
    }
}

pub(crate) fn display_url(url: &Url) -> String {
    if url.scheme() == "file" {
        url.to_file_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| url.to_string())
    } else {
        url.to_string()
    }
}

/// Turn the command-line target into a URL (files become `file://` URLs so relative URIs
/// inside them resolve against their folder).
pub fn target_url(target: &str) -> anyhow::Result<Url> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return Url::parse(target).with_context(|| format!("{target}: not a valid URL"));
    }
    let path = Path::new(target);
    let abs = std::fs::canonicalize(path).with_context(|| format!("{target}: cannot open"))?;
    Url::from_file_path(&abs).map_err(|_| anyhow::anyhow!("{target}: not a usable path"))
}

struct Loader {
    client: reqwest::Client,
}

impl Loader {
    async fn text(&self, url: &Url) -> Result<String, String> {
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|_| format!("{url}: not a file path"))?;
            return std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
        }
        let resp = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {status}"));
        }
        resp.text()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))
    }

    /// Fetch the first bytes of a segment; check status and that they look like media.
    async fn check_segment(
        &self,
        url: &Url,
        range: Option<hls::ByteRange>,
        encrypted: bool,
    ) -> Result<(), String> {
        let head: Vec<u8> = if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|_| "not a file path".to_string())?;
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let start = range.and_then(|r| r.offset).unwrap_or(0) as usize;
            bytes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take(1024)
                .copied()
                .collect()
        } else {
            let mut req = self.client.get(url.clone());
            let start = range.and_then(|r| r.offset).unwrap_or(0);
            if let Some(r) = range {
                req = req.header(
                    reqwest::header::RANGE,
                    format!("bytes={}-{}", start, start + r.length.max(1) - 1),
                );
            }
            let mut resp = req
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = resp.status();
            if !(status == 200 || (range.is_some() && status == 206)) {
                return Err(format!("answered HTTP {status}"));
            }
            let mut head = Vec::new();
            while head.len() < 1024 {
                match resp.chunk().await.map_err(|e| format!("body: {e}"))? {
                    Some(c) => head.extend_from_slice(&c),
                    None => break,
                }
            }
            head
        };
        if head.is_empty() {
            return Err("is empty".into());
        }
        if encrypted || looks_like_media(&head) {
            Ok(())
        } else {
            Err(format!(
                "does not look like media (starts with {:02x?})",
                &head[..head.len().min(8)]
            ))
        }
    }
}

/// TS sync byte, an ISO-BMFF box, WebVTT, ADTS AAC or ID3 (packed audio).
pub fn looks_like_media(head: &[u8]) -> bool {
    let ts = head.first() == Some(&0x47) && (head.len() < 189 || head[188] == 0x47);
    let mp4 = head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"styp" | b"moof" | b"moov" | b"sidx" | b"emsg" | b"prft" | b"mdat" | b"free"
        );
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let vtt = text.starts_with(b"WEBVTT");
    let adts = head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF0 == 0xF0;
    let id3 = head.starts_with(b"ID3");
    ts || mp4 || vtt || adts || id3
}

/// Every playlist URI a master names: variants, renditions with URIs, I-frame playlists.
fn children(base: &Url, master: &hls::MasterPlaylist) -> Vec<Url> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let uris = master
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(master.media.iter().filter_map(|m| m.uri()))
        .chain(master.i_frame_streams.iter().filter_map(|i| i.uri()));
    for uri in uris {
        if let Ok(u) = hls::uri::resolve(base, uri)
            && seen.insert(u.clone())
        {
            out.push(u);
        }
    }
    out
}

/// What a run found, and how often each media playlist was loaded.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Media playlist URL -> loads that parsed as a media playlist (HLS only).
    pub loads: Vec<(String, usize)>,
}

/// Run the validation; returns every finding.
pub async fn run_checks(args: &Args) -> anyhow::Result<Vec<Finding>> {
    Ok(run_report(args).await?.findings)
}

/// [`run_checks`], with the loads of each media playlist.
pub async fn run_report(args: &Args) -> anyhow::Result<Report> {
    let url = target_url(&args.target)?;
    let loader = Loader {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(args.timeout.max(0.1)))
            .build()?,
    };
    let mut findings = Vec::new();
    let text = loader
        .text(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", display_url(&url)))?;
    if crate::validate_dash::is_mpd(&url, &text) {
        let findings = crate::validate_dash::check(&loader.client, &url, text, args).await;
        return Ok(Report {
            findings,
            loads: Vec::new(),
        });
    }
    let (parsed, problems) = check_text(&text);
    // A media playlist's own problems are reported by its (first) load below.
    if !matches!(parsed, Some(Playlist::Media(_))) {
        findings.extend(problems.into_iter().map(|problem| Finding {
            url: display_url(&url),
            problem,
        }));
    }
    let media_urls = match parsed {
        None => {
            return Ok(Report {
                findings,
                loads: Vec::new(),
            });
        }
        Some(Playlist::Media(_)) => vec![url.clone()],
        Some(Playlist::Master(m)) => {
            findings.extend(check_master_set(&loader, &url, &m).await);
            children(&url, &m)
        }
    };
    let follow = args.follow.map(|s| Duration::from_secs_f64(s.max(0.0)));
    // One key per resource across every playlist and reload (`segment-key-differs`).
    let keys = std::sync::Mutex::new(hls::validate::SegmentKeys::default());
    let tasks = media_urls.into_iter().map(|u| {
        let (loader, keys) = (&loader, &keys);
        async move {
            let r = check_media_playlist(loader, &u, follow, args.check_segments, keys).await;
            (display_url(&u), r)
        }
    });
    let mut loads = Vec::new();
    for (u, (mut f, n)) in futures::future::join_all(tasks).await {
        findings.append(&mut f);
        loads.push((u, n));
    }
    Ok(Report { findings, loads })
}

/// The cross-variant rules on one load of every media playlist a master names (those that
/// fail to load are reported by their own check).
async fn check_master_set(
    loader: &Loader,
    base: &Url,
    master: &hls::MasterPlaylist,
) -> Vec<Finding> {
    let uris = master
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(master.media.iter().filter_map(|m| m.uri()))
        .chain(master.i_frame_streams.iter().filter_map(|i| i.uri()));
    let mut loaded: Vec<(String, MediaPlaylist)> = Vec::new();
    for uri in uris {
        if loaded.iter().any(|(u, _)| u == uri) {
            continue;
        }
        let Ok(u) = hls::uri::resolve(base, uri) else {
            continue;
        };
        if let Ok(text) = loader.text(&u).await
            && let Some(Playlist::Media(m)) = check_text(&text).0
        {
            loaded.push((uri.to_string(), m));
        }
    }
    let refs: Vec<(&str, &MediaPlaylist)> = loaded.iter().map(|(u, p)| (u.as_str(), p)).collect();
    check_variants(master, &refs)
        .into_iter()
        .map(|problem| Finding {
            url: display_url(base),
            problem,
        })
        .collect()
}

async fn check_media_playlist(
    loader: &Loader,
    url: &Url,
    follow: Option<Duration>,
    check_segments: bool,
    keys: &std::sync::Mutex<hls::validate::SegmentKeys>,
) -> (Vec<Finding>, usize) {
    let mut findings: Vec<Finding> = Vec::new();
    let mut loads = 0;
    let mut reported: HashSet<(&'static str, Option<u64>, Option<usize>)> = HashSet::new();
    let mut push = |findings: &mut Vec<Finding>, problem: Problem| {
        if reported.insert((problem.rule, problem.sequence, problem.line)) {
            findings.push(Finding {
                url: display_url(url),
                problem,
            });
        }
    };
    let started = Instant::now();
    let deadline = follow.map(|f| started + f);
    let mut tracker = LiveTracker::new();
    let mut checked_segments: HashSet<String> = HashSet::new();
    let mut consecutive_failures = 0;
    loop {
        let loaded_at = Instant::now();
        let mut next_wait = Duration::from_secs(1);
        match loader.text(url).await {
            Err(e) => {
                consecutive_failures += 1;
                push(
                    &mut findings,
                    finding(url, "fetch-failed", Severity::Error, e).problem,
                );
                if follow.is_none() || consecutive_failures > 5 {
                    return (findings, loads);
                }
            }
            Ok(text) => {
                consecutive_failures = 0;
                let (parsed, problems) = check_text(&text);
                for p in problems {
                    // Static problems are reported once per (rule, segment, line).
                    push(&mut findings, p);
                }
                match parsed {
                    Some(Playlist::Media(m)) => {
                        loads += 1;
                        let now_ms = started.elapsed().as_millis() as u64;
                        for p in tracker.observe(&m, now_ms) {
                            push(&mut findings, p);
                        }
                        let differs = keys
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .observe(url.as_str(), &m);
                        for p in differs {
                            push(&mut findings, p);
                        }
                        if check_segments {
                            for p in
                                check_new_segments(loader, url, &m, &mut checked_segments).await
                            {
                                push(&mut findings, p);
                            }
                        }
                        if m.end_list || follow.is_none() {
                            return (findings, loads);
                        }
                        let target = m.target_duration.unwrap_or(2).max(1);
                        next_wait = Duration::from_millis(target * 500);
                    }
                    Some(Playlist::Master(_)) => {
                        push(
                            &mut findings,
                            finding(
                                url,
                                "wrong-playlist-kind",
                                Severity::Error,
                                "a master playlist names another master playlist".into(),
                            )
                            .problem,
                        );
                        return (findings, loads);
                    }
                    None => {
                        if follow.is_none() {
                            return (findings, loads);
                        }
                    }
                }
            }
        }
        let Some(deadline) = deadline else {
            return (findings, loads);
        };
        let wake = loaded_at + next_wait;
        if wake >= deadline {
            return (findings, loads);
        }
        tokio::time::sleep_until(wake.into()).await;
    }
}

async fn check_new_segments(
    loader: &Loader,
    base: &Url,
    m: &MediaPlaylist,
    checked: &mut HashSet<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, s) in m.segments.iter().enumerate() {
        let key = format!("{}#{:?}", s.uri, s.byte_range);
        if !checked.insert(key) {
            continue;
        }
        let seq = m.sequence_of(i);
        let Ok(url) = hls::uri::resolve(base, &s.uri) else {
            out.push(Problem {
                rule: "segment-unreachable",
                severity: Severity::Error,
                line: None,
                sequence: Some(seq),
                message: format!("segment URI '{}' does not resolve", s.uri),
            });
            continue;
        };
        let encrypted = m
            .effective_keys(i)
            .iter()
            .any(|k| k.method().is_some_and(|x| x != "NONE"));
        // A sub-range without an offset continues the previous one: compute it.
        let range = s.byte_range.map(|r| hls::ByteRange {
            length: r.length,
            offset: r.offset.or_else(|| implied_offset(m, i)),
        });
        if let Err(e) = loader.check_segment(&url, range, encrypted).await {
            out.push(Problem {
                rule: "segment-unreachable",
                severity: Severity::Error,
                line: None,
                sequence: Some(seq),
                message: format!("segment {url} {e}"),
            });
        }
        if let Some(map) = s.map.as_ref().and_then(|m| m.uri())
            && let Ok(map_url) = hls::uri::resolve(base, map)
            && checked.insert(map_url.to_string())
            && let Err(e) = loader.check_segment(&map_url, None, false).await
        {
            out.push(Problem {
                rule: "segment-unreachable",
                severity: Severity::Error,
                line: None,
                sequence: Some(seq),
                message: format!("init section {map_url} {e}"),
            });
        }
    }
    out
}

fn implied_offset(m: &MediaPlaylist, i: usize) -> Option<u64> {
    let prev = i.checked_sub(1)?;
    let p = m.segments[prev].byte_range?;
    Some(p.offset.or_else(|| implied_offset(m, prev))? + p.length)
}

/// The command: print findings, exit 1 on errors.
pub async fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let Report { findings, loads } = run_report(&args).await?;
    let errors = findings
        .iter()
        .filter(|f| f.problem.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if args.json {
        let report = json!({
            "target": args.target,
            "errors": errors,
            "warnings": warnings,
            "problems": findings.iter().map(Finding::json).collect::<Vec<_>>(),
            "playlists": loads
                .iter()
                .map(|(url, n)| json!({"url": url, "loads": n}))
                .collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in &findings {
            println!("{f}");
        }
        eprintln!("{}: {errors} error(s), {warnings} warning(s)", args.target);
    }
    Ok(if errors > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}
