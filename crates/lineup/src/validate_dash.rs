//! `lineup validate <.mpd>`: the I/O around the `dash` crate's checks.
//!
//! Loads the MPD (file or URL), runs the structural rules, and with `--follow SECONDS`
//! reloads a dynamic MPD every `minimumUpdatePeriod` (at least 0.5 s, at most 10 s) and
//! runs the live rules across updates (`dash::LiveTracker`). `--check-segments` fetches
//! every initialization and media segment the MPD names (each once), resolved against the
//! MPD's URL, and checks that it answers 200 with ISO-BMFF bytes (`segment-unavailable`).
//! Problems are reported like the HLS ones, one line each or `--json`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hls::validate::{Problem, Severity};
use url::Url;

use crate::validate::{Args, Finding, display_url, looks_like_media};

/// Whether a loaded target is an MPD (by its name, else by its first element).
pub fn is_mpd(url: &Url, text: &str) -> bool {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    url.path().ends_with(".mpd")
        || head.starts_with("<MPD")
        || (head.starts_with("<?xml") && text.contains("<MPD"))
}

async fn load(client: &reqwest::Client, url: &Url) -> Result<String, String> {
    if url.scheme() == "file" {
        let path = url
            .to_file_path()
            .map_err(|_| "not a file path".to_string())?;
        return std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    }
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("answered HTTP {}", resp.status()));
    }
    resp.text().await.map_err(|e| format!("body: {e}"))
}

fn problem(rule: &'static str, number: Option<u64>, message: String) -> Problem {
    Problem {
        rule,
        severity: Severity::Error,
        line: None,
        sequence: number,
        message,
    }
}

/// Check the MPD at `url` whose first text is `text`.
pub async fn check(client: &reqwest::Client, url: &Url, text: String, args: &Args) -> Vec<Finding> {
    let mut tracker = dash::LiveTracker::new();
    let mut findings = Vec::new();
    let mut reported: HashSet<(&'static str, Option<u64>, String)> = HashSet::new();
    let mut push = |findings: &mut Vec<Finding>, p: Problem| {
        // One report per rule and segment (per message without a segment).
        let key = (
            p.rule,
            p.sequence,
            p.sequence.map_or(p.message.clone(), |_| String::new()),
        );
        if reported.insert(key) {
            findings.push(Finding {
                url: display_url(url),
                problem: p,
            });
        }
    };
    let deadline = args
        .follow
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut checked: HashSet<Url> = HashSet::new();
    let mut text = Some(text);
    loop {
        if let Some(t) = text.take() {
            for p in tracker.update(&t) {
                push(&mut findings, p);
            }
            if args.check_segments
                && let Some(snap) = tracker.last()
            {
                for p in check_segments(client, url, snap, &mut checked).await {
                    push(&mut findings, p);
                }
            }
        }
        let Some(deadline) = deadline else { break };
        let Some(snap) = tracker.last().filter(|s| s.dynamic) else {
            break;
        };
        let wait =
            Duration::from_secs_f64(snap.minimum_update_period.unwrap_or(2.0).clamp(0.5, 10.0));
        if Instant::now() + wait > deadline {
            break;
        }
        tokio::time::sleep(wait).await;
        match load(client, url).await {
            Ok(t) => text = Some(t),
            Err(e) => push(
                &mut findings,
                problem("mpd-unavailable", None, format!("reloading the MPD: {e}")),
            ),
        }
    }
    findings
}

/// `$RepresentationID$`, `$Number$` (also `$Number%0Nd$`), `$Bandwidth$`, `$Time$`.
pub fn expand(template: &str, rep_id: &str, number: u64, bandwidth: u64, time: u64) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('$') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let (name, fmt) = after[..j].split_once('%').unwrap_or((&after[..j], ""));
        let width: usize = fmt
            .strip_prefix('0')
            .and_then(|f| f.strip_suffix('d'))
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        match name {
            "" => out.push('$'),
            "RepresentationID" => out.push_str(rep_id),
            "Number" => out.push_str(&format!("{number:0width$}")),
            "Bandwidth" => out.push_str(&format!("{bandwidth:0width$}")),
            "Time" => out.push_str(&format!("{time:0width$}")),
            _ => out.push_str(&rest[i..i + j + 2]),
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

/// Fetch what `snap` names that was not fetched before.
async fn check_segments(
    client: &reqwest::Client,
    base: &Url,
    snap: &dash::Snapshot,
    checked: &mut HashSet<Url>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for rep in snap.periods.iter().flat_map(|p| &p.reps) {
        let id = rep
            .key
            .split_once('/')
            .map_or(rep.key.as_str(), |(_, id)| id);
        let bw = rep.bandwidth.unwrap_or(0);
        let mut wanted: Vec<(Option<u64>, String)> = Vec::new();
        if let Some(init) = &rep.initialization {
            wanted.push((None, expand(init, id, 0, bw, 0)));
        }
        if let Some(media) = &rep.media {
            for s in &rep.segments {
                wanted.push((Some(s.number), expand(media, id, s.number, bw, s.t)));
            }
        }
        for (number, rel) in wanted {
            let Ok(u) = base.join(&rel) else {
                out.push(problem(
                    "segment-unavailable",
                    number,
                    format!("{rel}: not a URL"),
                ));
                continue;
            };
            if !checked.insert(u.clone()) {
                continue;
            }
            if let Err(e) = fetch_head(client, &u).await {
                out.push(problem(
                    "segment-unavailable",
                    number,
                    format!("{}: {e}", display_url(&u)),
                ));
            }
        }
    }
    out
}

async fn fetch_head(client: &reqwest::Client, u: &Url) -> Result<(), String> {
    let head = if u.scheme() == "file" {
        let path = u
            .to_file_path()
            .map_err(|_| "not a file path".to_string())?;
        std::fs::read(&path).map_err(|e| e.to_string())?
    } else {
        let resp = client
            .get(u.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if resp.status() != 200 {
            return Err(format!("answered HTTP {}", resp.status()));
        }
        resp.bytes()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_vec()
    };
    if looks_like_media(&head) {
        Ok(())
    } else {
        Err("does not look like ISO-BMFF media".into())
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn templates_expand() {
        assert_eq!(expand("v/$Number$.m4s", "a", 42, 1, 0), "v/42.m4s");
        assert_eq!(
            expand(
                "$RepresentationID$/$Number%05d$-$Time$-$Bandwidth$$$.m4s",
                "r1",
                7,
                800,
                90
            ),
            "r1/00007-90-800$.m4s"
        );
        assert_eq!(expand("x$Unknown$y", "a", 1, 1, 1), "x$Unknown$y");
    }
}
