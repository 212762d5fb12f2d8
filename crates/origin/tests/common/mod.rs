//! Test helpers: an origin on 127.0.0.1:0, a Digest client (digest_auth, like pullpush),
//! an ffmpeg decode with this crate's deadline.
#![allow(dead_code)]

pub mod pusher;

use std::sync::{Arc, Mutex};

use origin::{ChannelSpec, ChannelView, Config, Origin};

/// One TS packet (sync byte, then stuffing): the smallest body ingest accepts as a segment.
pub const TS_PACKET: [u8; 188] = {
    let mut p = [0xffu8; 188];
    p[0] = 0x47;
    p
};

pub struct Running {
    pub origin: Origin,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start(origin_of: impl FnOnce(Config) -> Origin) -> Running {
    start_async(async |c| origin_of(c)).await
}

/// [`start`] for origins built asynchronously (`Origin::open`).
pub async fn start_async(origin_of: impl AsyncFnOnce(Config) -> Origin) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = Config {
        listen: addr,
        public_url: Some(base.clone()),
        max_body_bytes: 4 * 1024 * 1024,
        ..Default::default()
    };
    let origin = origin_of(config).await;
    let router = origin.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Running {
        origin,
        base,
        http: reqwest::Client::new(),
    }
}

pub async fn start_default() -> Running {
    start(|c| {
        Origin::with_parts(
            c,
            Arc::new(clock::SystemClock),
            Arc::new(origin::store::MemoryStore::new()),
            None,
        )
    })
    .await
}

/// Digest client: caches the challenge, increments nc, re-challenges on 401.
pub struct DigestPut {
    pub http: reqwest::Client,
    pub user: String,
    pub pass: String,
    prompt: Mutex<Option<digest_auth::WwwAuthenticateHeader>>,
    /// Prefer this algorithm among the offered challenges ("SHA-256" or "MD5").
    pub algorithm: &'static str,
}

impl DigestPut {
    pub fn new(user: &str, pass: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            user: user.into(),
            pass: pass.into(),
            prompt: Mutex::new(None),
            algorithm: "SHA-256",
        }
    }

    pub fn from_view(view: &ChannelView, n: usize) -> Self {
        let i = &view.ingest[n];
        Self::new(&i.username, i.password.as_deref().unwrap())
    }

    fn header(&self, method: &str, url: &str) -> Option<String> {
        let mut guard = self.prompt.lock().unwrap();
        let prompt = guard.as_mut()?;
        let u = reqwest::Url::parse(url).unwrap();
        let uri = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let ctx = digest_auth::AuthContext::new_with_method(
            self.user.as_str(),
            self.pass.as_str(),
            uri,
            Option::<&[u8]>::None,
            digest_auth::HttpMethod::from(method.to_string()),
        );
        prompt.respond(&ctx).ok().map(|h| h.to_string())
    }

    pub fn learn(&self, resp: &reqwest::Response) {
        let want = format!("algorithm={}", self.algorithm);
        let all: Vec<String> = resp
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let pick = all.iter().find(|c| c.contains(&want)).or(all.first());
        if let Some(c) = pick {
            *self.prompt.lock().unwrap() = digest_auth::parse(c).ok();
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        for _ in 0..3 {
            let mut rb = self.http.request(method.clone(), url).body(body.clone());
            if let Some(h) = self.header(method.as_str(), url) {
                rb = rb.header(reqwest::header::AUTHORIZATION, h);
            }
            let resp = rb.send().await.unwrap();
            if resp.status() == 401 {
                self.learn(&resp);
                continue;
            }
            return resp;
        }
        panic!("digest auth kept failing for {url}");
    }

    pub async fn put(&self, url: &str, body: Vec<u8>) -> reqwest::Response {
        self.send(reqwest::Method::PUT, url, body).await
    }

    /// PUT that must answer 201 Created.
    pub async fn put_created(&self, url: &str, body: Vec<u8>) {
        let resp = self.put(url, body).await;
        assert_eq!(resp.status(), 201, "PUT {url}");
    }
}

/// `POST /api/v1/channels` with `spec`; the answer, whatever it is.
pub async fn post_channel(r: &Running, spec: &serde_json::Value) -> reqwest::Response {
    r.http
        .post(format!("{}/api/v1/channels", r.base))
        .json(spec)
        .send()
        .await
        .unwrap()
}

/// Creates a channel (asserts 201); its view, with the ingest passwords.
pub async fn create(r: &Running, spec: serde_json::Value) -> ChannelView {
    let resp = post_channel(r, &spec).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

pub fn spec(id: &str) -> ChannelSpec {
    ChannelSpec::new(id)
}

/// `ffmpeg -v error <args> -f null -` (testkit's player, 90 s deadline): exit ok and stderr.
pub async fn ffmpeg_decode(args: &[&str]) -> (bool, String) {
    let d = testkit::ffmpeg_decode(args, std::time::Duration::from_secs(90)).await;
    (d.ok, d.stderr)
}

/// ffprobe's count of the video frames it decodes in `path`: the JSON of
/// `-select_streams v:0 -count_frames -show_entries stream=nb_read_frames`
/// (the count is `["streams"][0]["nb_read_frames"]`, as text).
pub async fn probe_video_frames(path: &std::path::Path) -> serde_json::Value {
    testkit::ffprobe_json(&[
        "-select_streams",
        "v:0",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
        path.to_str().unwrap(),
    ])
    .await
}
