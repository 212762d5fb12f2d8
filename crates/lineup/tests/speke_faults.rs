//! The origin's SPEKE v2 client against the real `lineup keys` process (the built binary):
//! the keys it asks for encrypt the endpoint (ffmpeg decrypts with the key the key
//! server's ClearKey licence gives, to the clear endpoint's frames; a wrong key does not),
//! and when the key provider is slow, answers garbage or keys for other key ids, is
//! stopped (SIGSTOP) or killed, an encrypted endpoint keeps serving the last good key or
//! answers 503 (a channel that never got a key), never clear segments, and recovers by
//! itself once the provider is back.

#[path = "../../origin/tests/common/mod.rs"]
mod origin_common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use origin_common::pusher::FixturePusher;
use origin_common::{Running, create, start_default};

const TOKEN: &str = "fault-token";

struct KeyServer {
    child: tokio::process::Child,
    port: u16,
}

impl KeyServer {
    async fn spawn(port: u16) -> Self {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lineup"))
            .args(["keys", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--seed", "speke-faults", "--api-token", TOKEN])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/healthz");
        testkit::wait_until(Duration::from_secs(30), "lineup keys up", || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
        .unwrap();
        Self { child, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = self.child.id().expect("running") as libc::pid_t;
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    async fn fault(&self, mode: &str, delay_ms: u64) {
        let r = reqwest::Client::new()
            .put(format!("{}/api/v1/fault", self.base()))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"mode": mode, "delay_ms": delay_ms}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// The key of `kid` from the ClearKey licence, as a CDM asks for it.
    async fn licence(&self, kid: &[u8], path: &str) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base()))
            .json(&serde_json::json!({"kids": [b64.encode(kid)], "type": "temporary"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let j: serde_json::Value = r.json().await.unwrap();
        b64.decode(j["keys"][0]["k"].as_str().unwrap()).unwrap()
    }
}

fn endpoint(
    id: &str,
    resource: &str,
    method: &str,
    keys_url: &str,
    rotation: u64,
    presets: (&str, &str),
) -> serde_json::Value {
    serde_json::json!({"id": id, "packaging": "cmaf", "encryption": {method: {
    "key_rotation_interval_seconds": rotation,
    "speke_key_provider": {
        "url": format!("{keys_url}/speke/v2"),
        "resource_id": resource,
        "system_ids": ["e2719d58-a985-b3c9-781a-b030af78d30e"],
        "encryption_contract_configuration": {
            "preset_speke20_video": presets.0, "preset_speke20_audio": presets.1},
        "credential": {"value": "Bearer provider-secret"}
    }}}})
}

/// One segment of a media playlist as served now.
#[derive(Debug)]
struct Served {
    seq: u64,
    /// `KEYID` of its `EXT-X-KEY`.
    kid: Vec<u8>,
    init: Vec<u8>,
    segment: Vec<u8>,
}

async fn get(r: &Running, url: &str) -> (u16, Vec<u8>) {
    let resp = tokio::time::timeout(Duration::from_secs(20), r.http.get(url).send())
        .await
        .unwrap_or_else(|_| panic!("GET {url} hung"))
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// The last segment of an encrypted endpoint's playlist, or the 503 it answers. Every
/// answer is checked: a playlist signals `EXT-X-KEY` on every segment; an init segment is
/// `encv`-protected; a fragment differs from the clear endpoint's.
async fn last_served(r: &Running, ch: &str, ep: &str) -> Result<Served, u16> {
    let url = format!("{}/out/{ch}/{ep}/channel_1.m3u8", r.base);
    let (status, body) = get(r, &url).await;
    if status != 200 {
        assert_eq!(status, 503, "{ep} playlist");
        return Err(status);
    }
    let pl = hls::parse_media(std::str::from_utf8(&body).unwrap()).unwrap();
    let n = pl.segments.len();
    assert!(n > 0);
    for i in 0..n {
        let keys = pl.effective_keys(i);
        assert!(
            keys.iter()
                .any(|k| k.method() == Some("SAMPLE-AES") || k.method() == Some("SAMPLE-AES-CTR")),
            "{ep}: segment {i} without an EXT-X-KEY:\n{}",
            String::from_utf8_lossy(&body)
        );
    }
    let key = &pl.effective_keys(n - 1)[0];
    assert_eq!(key.keyformat(), Some("org.w3.clearkey"));
    let kid = hex::decode(key.attrs.get("KEYID").unwrap().trim_start_matches("0x")).unwrap();
    let abs = |u: &str| hls::uri::resolve_str(&url, u).unwrap().to_string();
    let init_url = pl
        .segments
        .iter()
        .rev()
        .find_map(|s| s.map.as_ref().and_then(|m| m.uri()))
        .map(abs)
        .unwrap();
    let seg_url = abs(&pl.segments[n - 1].uri);
    let (s1, init) = get(r, &init_url).await;
    let (s2, segment) = get(r, &seg_url).await;
    if s1 != 200 || s2 != 200 {
        assert!(s1 == 503 || s2 == 503, "{ep}: {s1} {s2}");
        return Err(503);
    }
    assert!(
        init.windows(4).any(|w| w == b"encv"),
        "{ep}: a clear init segment"
    );
    assert!(
        init.windows(16).any(|w| w == kid.as_slice()),
        "{ep}: the init names another key"
    );
    let seq = pl.media_sequence + n as u64 - 1;
    let clear = clear_fragment(r, ch, seq).await;
    assert_ne!(segment, clear, "{ep}: a clear fragment");
    Ok(Served {
        seq,
        kid,
        init,
        segment,
    })
}

async fn clear_fragment(r: &Running, ch: &str, seq: u64) -> Vec<u8> {
    let url = format!("{}/out/{ch}/clear/channel_1.m3u8", r.base);
    let pl = testkit::http::get_media_playlist(&r.http, &url).await;
    let i = (seq - pl.media_sequence) as usize;
    let u = hls::uri::resolve_str(&url, &pl.segments[i].uri)
        .unwrap()
        .to_string();
    get(r, &u).await.1
}

fn frames(init: &[u8], segment: &[u8], key: Option<&[u8]>, stream: &str) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.mp4");
    std::fs::write(&file, [init, segment].concat()).unwrap();
    let mut c = std::process::Command::new("ffmpeg");
    c.args(["-v", "error"]);
    if let Some(k) = key {
        c.args(["-decryption_key", &hex::encode(k)]);
    }
    c.arg("-i")
        .arg(&file)
        .args(["-map", &format!("0:{stream}")]);
    c.args(["-f", "framemd5", "-"]);
    let out = c.output().unwrap();
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
            .collect()
    })
}

async fn clear_frames(r: &Running, ch: &str, seq: u64, stream: &str) -> Vec<String> {
    let url = format!("{}/out/{ch}/clear/channel_1.m3u8", r.base);
    let pl = testkit::http::get_media_playlist(&r.http, &url).await;
    let i = (seq - pl.media_sequence) as usize;
    let init = pl.segments[..=i]
        .iter()
        .rev()
        .find_map(|s| s.map.as_ref().and_then(|m| m.uri()))
        .unwrap();
    let init = get(r, hls::uri::resolve_str(&url, init).unwrap().as_ref())
        .await
        .1;
    frames(&init, &clear_fragment(r, ch, seq).await, None, stream).unwrap()
}

/// The tenc default key id of each track of an init segment, in order.
fn tenc_kids(init: &[u8]) -> Vec<Vec<u8>> {
    init.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"tenc")
        .map(|(i, _)| init[i + 12..i + 28].to_vec())
        .collect()
}

async fn channel(r: &Running, id: &str, endpoints: Vec<serde_json::Value>) -> FixturePusher {
    let mut all = vec![serde_json::json!({"id": "clear", "packaging": "cmaf"})];
    all.extend(endpoints);
    let view = create(r, serde_json::json!({"id": id, "endpoints": all})).await;
    // The credential is write-only.
    let shown = serde_json::to_string(&view.endpoints).unwrap();
    assert!(
        !shown.contains("provider-secret") && shown.contains("***"),
        "{shown}"
    );
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() / 4 * 4, 0).unwrap();
    let pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    pusher
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speke_keys_encrypt_what_the_licence_decrypts() {
    testkit::require_peer!("ffmpeg");
    let keys = KeyServer::spawn(testkit::free_port()).await;
    let r = start_default().await;
    let mut pusher = channel(
        &r,
        "k",
        vec![
            endpoint(
                "cbcs",
                "k-cbcs",
                "sample_aes",
                &keys.base(),
                0,
                ("SHARED", "SHARED"),
            ),
            endpoint(
                "cenc",
                "k-cenc",
                "aes_ctr",
                &keys.base(),
                4,
                ("PRESET-VIDEO-1", "PRESET-AUDIO-1"),
            ),
        ],
    )
    .await;
    for _ in 0..6 {
        pusher.step().await;
    }
    for ep in ["cbcs", "cenc"] {
        let s = last_served(&r, "k", ep)
            .await
            .unwrap_or_else(|e| panic!("{ep}: {e}"));
        let kids = tenc_kids(&s.init);
        assert_eq!(kids.len(), 2, "{ep}: a tenc per track");
        if ep == "cbcs" {
            assert_eq!(kids[0], kids[1], "SHARED: one key");
        } else {
            assert_ne!(
                kids[0], kids[1],
                "PRESET-VIDEO-1 / PRESET-AUDIO-1: a key each"
            );
        }
        for (stream, kid) in [("v", &kids[0]), ("a", &kids[1])] {
            let key = keys.licence(kid, "/clearkey/license").await;
            let want = clear_frames(&r, "k", s.seq, stream).await;
            assert!(want.len() > 10);
            assert_eq!(
                frames(&s.init, &s.segment, Some(&key), stream).as_ref(),
                Some(&want),
                "{ep} {stream}"
            );
            // The negative control, on video: the fixture's audio packets are silent AAC
            // frames under 16 bytes, which CENC leaves clear (only whole blocks are
            // encrypted), so no key changes them.
            if stream == "v" {
                let wrong = keys.licence(kid, "/clearkey/wrong/license").await;
                assert_ne!(
                    frames(&s.init, &s.segment, Some(&wrong), stream),
                    Some(want),
                    "{ep} wrong key"
                );
            }
        }
    }
}

/// Steps the channel until the endpoint serves a period whose key id is not in `seen`
/// (the provider's keys are back), within a deadline; returns that key id.
async fn until_new_kid(
    r: &Running,
    pusher: &mut FixturePusher,
    ch: &str,
    seen: &BTreeSet<Vec<u8>>,
) -> Vec<u8> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        pusher.step().await;
        if let Ok(s) = last_served(r, ch, "drm").await
            && !seen.contains(&s.kid)
        {
            return s.kid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{ch}: never recovered"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A served segment decrypts, with the key `oracle` (another `lineup keys` with the same
/// seed, never faulted) gives for the key id its playlist signals, to the clear frames.
async fn decrypts(r: &Running, oracle: &KeyServer, ch: &str, s: &Served) {
    let key = oracle.licence(&s.kid, "/clearkey/license").await;
    let want = clear_frames(r, ch, s.seq, "v").await;
    assert_eq!(
        frames(&s.init, &s.segment, Some(&key), "v").as_ref(),
        Some(&want),
        "{ch} seq {}",
        s.seq
    );
}

/// A fault while the channel crosses key periods: every answer is encrypted with a key the
/// provider gave (the last good one once it fails) or a 503, never clear.
async fn through_fault(
    r: &Running,
    oracle: &KeyServer,
    pusher: &mut FixturePusher,
    ch: &str,
    seen: &mut BTreeSet<Vec<u8>>,
    what: &str,
) {
    let mut kids = Vec::new();
    for _ in 0..4 {
        pusher.step().await;
        match last_served(r, ch, "drm").await {
            Ok(s) => {
                decrypts(r, oracle, ch, &s).await;
                kids.push((pusher.start_of(s.seq).timestamp() / 4, s.kid.clone()));
                seen.insert(s.kid);
            }
            Err(status) => assert_eq!(status, 503, "{what}"),
        }
    }
    // Four segments span two or three key periods; the first new one may have been
    // fetched ahead before the fault, the next one is served with the last good key.
    let fallback = kids
        .windows(2)
        .any(|w| w[0].0 != w[1].0 && w[0].1 == w[1].1);
    assert!(
        kids.len() == 4 && fallback,
        "{what}: (period, key id) served: {kids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_faults_keep_the_last_key_or_503_never_clear() {
    testkit::require_peer!("ffmpeg");
    let port = testkit::free_port();
    let mut keys = KeyServer::spawn(port).await;
    let oracle = KeyServer::spawn(testkit::free_port()).await;
    let r = start_default().await;
    let drm = |res: &str, url: &str| {
        vec![endpoint(
            "drm",
            res,
            "sample_aes",
            url,
            4,
            ("SHARED", "SHARED"),
        )]
    };
    let mut pusher = channel(&r, "f", drm("f", &keys.base())).await;
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        pusher.step().await;
    }
    let first = last_served(&r, "f", "drm")
        .await
        .expect("keys while the provider is up");
    seen.insert(first.kid.clone());

    for (mode, delay) in [
        ("garbage", 0),
        ("other_kids", 0),
        ("slow", 10_000),
        ("error", 0),
    ] {
        keys.fault(mode, delay).await;
        through_fault(&r, &oracle, &mut pusher, "f", &mut seen, mode).await;
        keys.fault("none", 0).await;
        let kid = until_new_kid(&r, &mut pusher, "f", &seen).await;
        seen.insert(kid);
    }

    // Stopped: requests do not hang on it; the last key serves.
    keys.signal(libc::SIGSTOP);
    through_fault(&r, &oracle, &mut pusher, "f", &mut seen, "SIGSTOP").await;
    keys.signal(libc::SIGCONT);
    let kid = until_new_kid(&r, &mut pusher, "f", &seen).await;
    seen.insert(kid);

    // Killed: the last key serves; a channel that never got a key answers 503.
    keys.child.kill().await.unwrap();
    let mut never = channel(&r, "n", drm("n", &keys.base())).await;
    for _ in 0..3 {
        never.step().await;
    }
    through_fault(&r, &oracle, &mut pusher, "f", &mut seen, "killed").await;
    for _ in 0..2 {
        assert_eq!(last_served(&r, "n", "drm").await.unwrap_err(), 503);
        never.step().await;
    }
    // Back on the same port: both recover by themselves.
    keys = KeyServer::spawn(port).await;
    let kid = until_new_kid(&r, &mut pusher, "f", &seen).await;
    seen.insert(kid);
    until_new_kid(&r, &mut never, "n", &seen).await;
    let s = last_served(&r, "n", "drm").await.unwrap();
    decrypts(&r, &keys, "n", &s).await;
}

/// Keys never reach the key server's logs, even at `RUST_LOG=debug`: a SPEKE answer and a
/// licence are served, and neither key appears in any form in what it printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_appear_in_the_key_servers_logs() {
    let port = testkit::free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args([
            "keys",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--seed",
            "logs",
        ])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    testkit::wait_until(Duration::from_secs(30), "lineup keys up", || {
        let (http, url) = (http.clone(), format!("{base}/healthz"));
        async move {
            http.get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
    .unwrap();
    let kid = "0f083e4e-b831-4a3d-917e-ce78076e54aa";
    let cpix = format!(
        r#"<cpix:CPIX contentId="logs" version="2.3" xmlns:cpix="urn:dashif:org:cpix">
<cpix:ContentKeyList><cpix:ContentKey kid="{kid}" commonEncryptionScheme="cbcs"/></cpix:ContentKeyList>
<cpix:DRMSystemList><cpix:DRMSystem kid="{kid}" systemId="e2719d58-a985-b3c9-781a-b030af78d30e"><cpix:PSSH/>
<cpix:HLSSignalingData playlist="media"/></cpix:DRMSystem></cpix:DRMSystemList>
<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid="{kid}" intendedTrackType="ALL">
<cpix:VideoFilter/><cpix:AudioFilter/></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList></cpix:CPIX>"#
    );
    let r = http
        .post(format!("{base}/speke/v2"))
        .header("x-speke-version", "2.0")
        .body(cpix)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer = r.text().await.unwrap();
    let server = KeyServer { child, port };
    let key = server
        .licence(
            &hex::decode(kid.replace('-', "")).unwrap(),
            "/clearkey/license",
        )
        .await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&key);
    assert!(answer.contains(&b64), "the SPEKE answer carries the key");
    child = server.child;
    child.kill().await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logs.contains("SPEKE keys answered"), "{logs}");
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
    for form in [
        b64.clone(),
        b64url,
        hex::encode(&key),
        hex::encode_upper(&key),
    ] {
        assert!(!logs.contains(&form), "a key in the logs: {logs}");
    }
}
