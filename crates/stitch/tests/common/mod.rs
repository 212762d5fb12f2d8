//! Shared by the stitch tests: the fixtures and the service on ephemeral ports, payload
//! URLs, and fetching + validating every playlist of a stitched VOD.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hls::validate::{Severity, check_text};
use hls::{MasterPlaylist, MediaPlaylist, Playlist};
use serde_json::{Value, json};

pub struct Env {
    pub fixtures: testkit::ServeHandle,
    pub base: String,
    pub client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Env {
    /// The fixtures served by `serve_dir`, and the stitch service nested under `/stitch`.
    pub async fn start() -> Env {
        let (_, fixtures) = testkit::serve_dir(testkit::fixtures_dir()).await;
        let source = stitch::HttpSource::new(
            Duration::from_secs(60),
            Duration::from_secs(5),
            clock::system(),
        );
        let stitcher = stitch::Stitcher::new(Arc::new(source), None, None);
        let app = axum::Router::new().nest("/stitch", stitcher.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Env {
            fixtures,
            base: format!("http://{addr}/stitch"),
            client: reqwest::Client::new(),
            _server: server,
        }
    }

    /// URL of a fixture's multivariant playlist, e.g. `fixture("ts/vod1")`.
    pub fn fixture(&self, name: &str) -> String {
        self.fixtures.url(&format!("/{name}/master.m3u8"))
    }

    /// `master.m3u8?payload=<base64url(payload)>` plus `extra` (e.g. `&i=1`).
    pub fn master_url(&self, payload: &Value, extra: &str) -> String {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
        format!("{}/master.m3u8?payload={p}{extra}", self.base)
    }

    /// Fetch a stitched VOD: the master and every media playlist it names, each checked by
    /// `hls::validate` (no errors).
    pub async fn stitched(&self, url: &str) -> Stitched {
        let master_text = self.valid_text(url).await;
        let master = match hls::parse(&master_text).unwrap() {
            Playlist::Master(m) => m,
            Playlist::Media(_) => panic!("{url} is not a multivariant playlist"),
        };
        let base = url::Url::parse(url).unwrap();
        let mut uris: Vec<(String, String)> = master
            .variants
            .iter()
            .map(|v| ("variant".to_string(), v.uri.clone()))
            .collect();
        uris.extend(
            master
                .media
                .iter()
                .filter_map(|r| Some((r.attrs.get("TYPE")?.to_string(), r.uri()?.to_string()))),
        );
        let mut media = Vec::new();
        for (kind, uri) in uris {
            let abs = hls::uri::resolve(&base, &uri).unwrap().to_string();
            let text = self.valid_text(&abs).await;
            let playlist = hls::parse_media(&text).unwrap();
            for s in &playlist.segments {
                assert!(
                    s.uri.starts_with("http://"),
                    "relative segment URI {} in {text}",
                    s.uri
                );
            }
            media.push(Media {
                kind,
                url: abs,
                text,
                playlist,
            });
        }
        Stitched {
            master,
            master_text,
            media,
        }
    }

    /// GET `url` (200), check it with `hls::validate::check_text`, return the text.
    pub async fn valid_text(&self, url: &str) -> String {
        let (status, text) = testkit::http::get_text(&self.client, url).await;
        assert_eq!(status, 200, "{url}: {text}");
        let (_, problems) = check_text(&text);
        let errors: Vec<_> = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{url}: {errors:?}\n{text}");
        text
    }
}

pub struct Media {
    /// `variant`, `AUDIO` or `SUBTITLES`.
    pub kind: String,
    pub url: String,
    pub text: String,
    pub playlist: MediaPlaylist,
}

pub struct Stitched {
    pub master: MasterPlaylist,
    pub master_text: String,
    pub media: Vec<Media>,
}

impl Stitched {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Media> + 'a {
        self.media.iter().filter(move |m| m.kind == kind)
    }
}

/// A payload with one break per `(pos ms, ad url)`.
pub fn payload(uri: &str, breaks: &[(u64, &str)]) -> Value {
    json!({
        "uri": uri,
        "breaks": breaks.iter().map(|(pos, url)| json!({"pos": pos, "duration": 10000, "url": url})).collect::<Vec<_>>(),
    })
}

/// Segment URIs of a playlist.
pub fn uris(p: &MediaPlaylist) -> Vec<&str> {
    p.segments.iter().map(|s| s.uri.as_str()).collect()
}

/// Decode `url` with ffmpeg (every stream) and assert no decode errors. `-http_persistent 0`:
/// ads and content come from different servers, and ffmpeg's HLS demuxer otherwise reports
/// each switch of host as "Cannot reuse HTTP connection for different host".
pub async fn assert_decodes(url: &str) {
    let d = testkit::ffmpeg_decode(
        &["-http_persistent", "0", "-i", url, "-map", "0"],
        Duration::from_secs(120),
    )
    .await;
    d.assert_clean(url);
}

/// (command name, out_of_network, break_duration) of a SCTE-35 hex as threefive reads it.
pub fn threefive(hex: &str) -> (String, bool, Option<f64>) {
    let script = "import sys, threefive\ncue = threefive.Cue(sys.argv[1])\ncue.decode()\nc = cue.command\nprint(c.name + '|' + str(c.out_of_network_indicator) + '|' + str(c.break_duration if c.duration_flag else None))";
    let o = std::process::Command::new("python3")
        .args(["-c", script, hex])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "threefive: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let parts: Vec<&str> = text.split('|').collect();
    assert_eq!(parts.len(), 3, "{text}");
    (
        parts[0].to_string(),
        parts[1] == "True",
        parts[2].parse().ok(),
    )
}
