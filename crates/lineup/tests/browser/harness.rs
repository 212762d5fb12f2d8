//! The browser tests' harness: `lineup demo` as a process on an ephemeral port, and the
//! page state the tests poll (`window.lineup.state()` on the demo page,
//! `window.check.state()` on the player check page).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the demo may take to print its banner.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `lineup demo --listen 127.0.0.1:0`, killed on drop.
pub struct DemoProcess {
    pub base: String,
    _child: Child,
    stderr: Arc<Mutex<String>>,
}

impl DemoProcess {
    pub async fn start() -> DemoProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lineup"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn lineup demo");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut s = sink.lock().expect("stderr lock");
                if s.len() < 64 * 1024 {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        // The banner's first line names the address it bound.
        let mut out_lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let banner = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = out_lines.next_line().await {
                if let Some(base) = line.strip_prefix("lineup demo is running on ") {
                    return Some(base.trim().to_string());
                }
            }
            None
        })
        .await;
        let Ok(Some(base)) = banner else {
            panic!(
                "lineup demo printed no banner: {}",
                stderr.lock().expect("stderr lock")
            );
        };
        // Keep reading stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = out_lines.next_line().await {} });
        DemoProcess {
            base,
            _child: child,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// The demo's log so far (warnings and errors), for failure messages.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// The URI of the first variant the endpoint's master names (e.g. `channel_106000.m3u8`).
    pub async fn first_variant(&self, endpoint: &str) -> String {
        let master = self.url(&format!("origin/out/demo/{endpoint}/index.m3u8"));
        let (_, text) = testkit::http::get_text(&reqwest::Client::new(), &master).await;
        let master = hls::parse_master(&text).unwrap_or_else(|e| panic!("{master}: {e}"));
        master.variants.first().expect("a variant").uri.clone()
    }

    /// Waits until the origin endpoint's first media playlist lists at least `seconds` of
    /// media, and returns the programme date-time of its first segment (ms since the epoch).
    pub async fn wait_for_dvr(&self, endpoint: &str, seconds: f64, deadline: Duration) -> i64 {
        let master = self.url(&format!("origin/out/demo/{endpoint}/index.m3u8"));
        let client = reqwest::Client::new();
        testkit::wait_for(deadline, "origin DVR window", || {
            let (client, master) = (client.clone(), master.clone());
            async move {
                let (_, text) = testkit::http::get_text(&client, &master).await;
                let uri = text
                    .lines()
                    .find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))?;
                let media_url = master.replace("index.m3u8", uri);
                let (status, media) = testkit::http::get_text(&client, &media_url).await;
                (status == 200).then_some(())?;
                let pl = hls::parse_media(&media).ok()?;
                let total: f64 = pl.segments.iter().map(|s| s.duration).sum();
                let first = pl.segments.first()?.program_date_time?;
                (total >= seconds).then_some(first.timestamp_millis())
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}; demo log:\n{}", self.log()))
    }
}

/// What the monitor in the page saw (assets/monitor.js), plus the page's own fields. Every
/// field shows in failure messages (`Debug`), not all are asserted on.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayState {
    pub started: bool,
    pub played_seconds: f64,
    pub stalls: u32,
    pub max_stall_ms: f64,
    pub waiting_events: u32,
    pub rebuffers: u32,
    pub fatal: Vec<String>,
    pub errors: Vec<String>,
    pub current_time: f64,
    pub playhead_date: Option<f64>,
    /// Demo page only.
    #[serde(default)]
    pub live_edge_date: Option<f64>,
    #[serde(default)]
    pub at_live: Option<bool>,
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default)]
    pub ad_breaks: Option<u32>,
    #[serde(default)]
    pub in_ad_break: Option<bool>,
    #[serde(default)]
    pub source: Option<String>,
    /// Player check page only.
    #[serde(default)]
    pub version: Option<String>,
    /// Player check page, dash.js only: the ids of the Periods it switched to.
    #[serde(default)]
    pub periods: Option<Vec<String>>,
    /// Player check page with `mediatailor=1`: Shaka's ad events, counted by name.
    #[serde(default)]
    pub ads: std::collections::BTreeMap<String, f64>,
    /// Player check page with `mediatailor=1`: the manifest URL the session answered.
    #[serde(default)]
    pub manifest: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Window {
    pub start: f64,
    pub end: f64,
}

impl PlayState {
    /// Seconds between the live edge's programme date-time and the playhead's.
    pub fn behind_live(&self) -> Option<f64> {
        Some((self.live_edge_date? - self.playhead_date?) / 1000.0)
    }
}

/// Reads the page's state with `expr` (e.g. `lineup.state()`).
pub async fn state(browser: &testkit::Browser, expr: &str) -> PlayState {
    let v: Value = browser
        .execute(&format!("return {expr};"), json!([]))
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{expr} = {v}: {e}"))
}

/// Every player's state on the player check page (`check.states()`), in page order.
#[allow(dead_code)] // not every test binary that includes the harness uses it
pub async fn states(browser: &testkit::Browser) -> Vec<PlayState> {
    let v = browser
        .execute("return check.states();", json!([]))
        .await
        .expect("check.states()");
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

#[allow(dead_code)]
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The player check page with one player per `(player, path on the demo, licence URL)`;
/// `key`: the `identity` key URL for hls.js (`&keyurl=`).
#[allow(dead_code)] // not every test binary that includes the harness uses it
pub fn players_page(
    demo: &DemoProcess,
    players: &[(&str, &str, Option<&str>)],
    key: Option<&str>,
) -> String {
    let mut q = String::new();
    for (player, playlist, licence) in players {
        q.push_str(&format!(
            "&player={player}&src={}&licence={}",
            enc(&demo.url(playlist)),
            enc(licence.unwrap_or("-"))
        ));
    }
    if let Some(k) = key {
        q.push_str(&format!("&keyurl={}", enc(k)));
    }
    format!("{}?{}", demo.url("player.html"), &q[1..])
}

/// Polls the page until it has played `seconds` of media since the monitor's last reset
/// (or a fatal error shows), then returns the state. Panics if that takes longer than
/// `seconds` plus `slack`.
pub async fn play_for(
    browser: &testkit::Browser,
    expr: &str,
    seconds: f64,
    slack: Duration,
) -> PlayState {
    let deadline = Duration::from_secs_f64(seconds) + slack;
    let last = Arc::new(Mutex::new(None::<PlayState>));
    let result = testkit::wait_for(deadline, "playback progress", || {
        let last = last.clone();
        async move {
            let s = state(browser, expr).await;
            let done = s.played_seconds >= seconds || !s.fatal.is_empty();
            *last.lock().expect("lock") = Some(s.clone());
            done.then_some(s)
        }
    })
    .await;
    result.unwrap_or_else(|e| panic!("{e}: last state {:?}", last.lock().expect("lock")))
}

/// The viewer-visible quality bar: no fatal error, no stall longer than a second.
pub fn assert_smooth(what: &str, s: &PlayState) {
    assert!(s.fatal.is_empty(), "{what}: fatal player errors: {s:?}");
    assert!(
        s.max_stall_ms <= 1000.0,
        "{what}: a stall of {} ms: {s:?}",
        s.max_stall_ms
    );
}
