//! `mediapackage`: HTTP PUT / DELETE with HTTP Digest auth (RFC 7616; MD5 and SHA-256 via
//! the `digest_auth` crate) to one or more ingest URLs, named the way AWS Elemental
//! MediaPackage's HLS ingest expects: `channel.m3u8`, `channel_<bw>.m3u8`,
//! `channel_<bw>_<seq>.ts` (`.m4s`/`.mp4` for fMP4, `channel_<bw>_init.mp4`).
//!
//! # Ingest URL rule
//! The last path segment of the ingest URL, without a trailing `.m3u8`, is the *stem* of
//! every file name; the path before it is the folder everything is PUT into:
//! `https://host/in/v2/abc/abc/channel` and `https://host/in/v2/abc/abc/channel.m3u8` both
//! mean folder `https://host/in/v2/abc/abc/` and stem `channel`. A URL ending in `/` means
//! that folder and stem `channel`.
//!
//! # Delivery
//! Every ingest gets everything, through its own ordered queue and worker: one failing
//! ingest never blocks the other. A worker retries the object at the head of its queue with
//! exponential backoff (500 ms doubling to 10 s, with jitter) until it is delivered, so a
//! playlist is never delivered before the segments put before it. The queue is bounded
//! (`queueSize`, default 1000 objects; `queueBytes`, default 256 MiB of queued segments): a newer version of a playlist replaces a queued older
//! one, a delete cancels a queued put of the same object, and when the queue is still full
//! the oldest queued segment is dropped (it is the one leaving the window first).
//! `put` collects the segment body once (both queues and the retries need it) and returns
//! when it is queued.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::{Method, StatusCode, header};
use tokio::sync::Notify;

use super::{Body, Output, OutputStatus, parse_payload};
use crate::error::{Error, Result};

/// Payload: `{ "ingestUrls": [{ "url", "username", "password" }], "queueSize"?: 1000,
/// "queueBytes"?: 268435456 }`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MediaPackageConfig {
    pub ingest_urls: Vec<IngestUrl>,
    #[serde(default, alias = "queue_size")]
    pub queue_size: Option<usize>,
    /// Bytes of queued segments per ingest before the oldest are dropped (default 256 MiB).
    #[serde(default, alias = "queue_bytes")]
    pub queue_bytes: Option<u64>,
}

/// Default bound on the bytes queued per ingest.
pub const DEFAULT_QUEUE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestUrl {
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Never printed (`Debug` shows `***`) and never returned by the API.
    #[serde(default)]
    pub password: Option<web::Secret>,
}

pub fn factory(payload: serde_json::Value) -> Result<Arc<dyn Output>> {
    let cfg: MediaPackageConfig = parse_payload(payload)?;
    Ok(Arc::new(MediaPackageOutput::new(cfg)?))
}

/// Split an ingest URL into (folder URL ending in `/`, stem). See the module doc.
pub fn split_ingest_url(raw: &str) -> std::result::Result<(url::Url, String), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host_str().is_none_or(|h| h.is_empty()) {
        return Err("must name a host".into());
    }
    let path = url.path();
    let (folder, last) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("/", path),
    };
    let stem = last.strip_suffix(".m3u8").unwrap_or(last);
    let stem = if stem.is_empty() { "channel" } else { stem };
    let mut folder_url = url.clone();
    folder_url.set_path(folder);
    folder_url.set_query(None);
    folder_url.set_fragment(None);
    Ok((folder_url, stem.to_string()))
}

pub struct MediaPackageOutput {
    ingests: Vec<Arc<Ingest>>,
    stem: String,
}

impl MediaPackageOutput {
    pub fn new(cfg: MediaPackageConfig) -> Result<Self> {
        if cfg.ingest_urls.is_empty() {
            return Err(Error::field("ingestUrls", "needs at least one ingest URL"));
        }
        if cfg.ingest_urls.len() > 2 {
            return Err(Error::field(
                "ingestUrls",
                "at most two ingest URLs (MediaPackage has two per channel)",
            ));
        }
        let queue_size = cfg.queue_size.unwrap_or(1000);
        if queue_size == 0 {
            return Err(Error::field("queueSize", "must be > 0"));
        }
        let queue_bytes = cfg.queue_bytes.unwrap_or(DEFAULT_QUEUE_BYTES);
        if queue_bytes < 1024 * 1024 {
            return Err(Error::field(
                "queueBytes",
                "must be at least 1 MiB (1048576)",
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(crate::service::POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(crate::service::POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| Error::Output(e.to_string()))?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Output("mediapackage output needs a tokio runtime".into()))?;
        let mut ingests = Vec::new();
        let mut stem = None;
        for (i, ingest) in cfg.ingest_urls.iter().enumerate() {
            let (folder, s) = split_ingest_url(&ingest.url)
                .map_err(|m| Error::field(format!("ingestUrls[{i}].url"), m))?;
            if ingest.username.is_some() != ingest.password.is_some() {
                let missing = if ingest.username.is_none() {
                    "username"
                } else {
                    "password"
                };
                return Err(Error::field(
                    format!("ingestUrls[{i}].{missing}"),
                    "username and password go together",
                ));
            }
            match &stem {
                None => stem = Some(s),
                Some(prev) if *prev != s => {
                    return Err(Error::field(
                        format!("ingestUrls[{i}].url"),
                        format!("file stem {s:?} differs from the first ingest's {prev:?}"),
                    ));
                }
                _ => {}
            }
            let ingest = Arc::new(Ingest {
                index: i,
                folder,
                auth: DigestClient::new(
                    client.clone(),
                    ingest.username.clone(),
                    ingest.password.as_ref().map(|p| p.expose().to_string()),
                ),
                queue: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                closed: AtomicBool::new(false),
                busy: AtomicBool::new(false),
                last_error: Mutex::new(None),
                capacity: queue_size,
                capacity_bytes: queue_bytes,
            });
            handle.spawn(ingest.clone().run());
            ingests.push(ingest);
        }
        Ok(Self {
            ingests,
            stem: stem.unwrap_or_else(|| "channel".into()),
        })
    }
}

impl Drop for MediaPackageOutput {
    fn drop(&mut self) {
        for i in &self.ingests {
            i.closed.store(true, Ordering::SeqCst);
            i.notify.notify_one();
        }
    }
}

impl Output for MediaPackageOutput {
    fn put<'a>(
        &'a self,
        path: &'a str,
        content_type: &'a str,
        body: Body,
        _len: Option<u64>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let bytes = body
                .collect()
                .await
                .map_err(|e| Error::Source(e.to_string()))?;
            let n = bytes.len() as u64;
            for ingest in &self.ingests {
                ingest.push(Op::Put {
                    path: path.to_string(),
                    content_type: content_type.to_string(),
                    body: bytes.clone(),
                });
            }
            Ok(n)
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for ingest in &self.ingests {
                ingest.push(Op::Delete {
                    path: path.to_string(),
                });
            }
            Ok(())
        })
    }

    fn describe_destination(&self) -> String {
        let mut urls: Vec<String> = self
            .ingests
            .iter()
            .map(|i| format!("{}{}", i.folder, self.stem))
            .collect();
        urls.sort();
        format!("mediapackage:{}", urls.join(" "))
    }

    fn stem(&self) -> String {
        self.stem.clone()
    }

    /// Until every ingest's queue is empty and its worker idle (an ingest that keeps
    /// failing keeps this waiting: the caller bounds it).
    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let idle = self
                    .ingests
                    .iter()
                    .all(|i| !i.busy.load(Ordering::SeqCst) && i.queue.lock().unwrap().is_empty());
                if idle {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    }

    fn status(&self) -> OutputStatus {
        let mut errors = Vec::new();
        let mut queued = 0;
        for i in &self.ingests {
            queued += i.queue.lock().unwrap().len();
            if let Some(e) = i.last_error.lock().unwrap().clone() {
                errors.push(format!("ingest {}: {e}", i.index));
            }
        }
        OutputStatus {
            last_error: (!errors.is_empty()).then(|| errors.join("; ")),
            queued,
        }
    }
}

enum Op {
    Put {
        path: String,
        content_type: String,
        body: Bytes,
    },
    Delete {
        path: String,
    },
}

impl Op {
    fn path(&self) -> &str {
        match self {
            Op::Put { path, .. } | Op::Delete { path } => path,
        }
    }
    /// Bytes this op holds in memory.
    fn bytes(&self) -> u64 {
        match self {
            Op::Put { body, .. } => body.len() as u64,
            Op::Delete { .. } => 0,
        }
    }

    fn is_playlist_put(&self) -> bool {
        matches!(self, Op::Put { path, .. } if path.ends_with(".m3u8"))
    }
}

struct Ingest {
    index: usize,
    folder: url::Url,
    auth: DigestClient,
    queue: Mutex<VecDeque<Op>>,
    notify: Notify,
    closed: AtomicBool,
    /// An op was taken from the queue and is not delivered yet.
    busy: AtomicBool,
    last_error: Mutex<Option<String>>,
    capacity: usize,
    capacity_bytes: u64,
}

impl Ingest {
    fn push(&self, op: Op) {
        {
            let mut q = self.queue.lock().unwrap();
            match &op {
                Op::Put { path, .. } if op.is_playlist_put() => {
                    q.retain(|o| !(o.is_playlist_put() && o.path() == path));
                    q.push_back(op);
                }
                Op::Delete { path } => {
                    let before = q.len();
                    q.retain(|o| !(matches!(o, Op::Put { .. }) && o.path() == path));
                    if q.len() == before {
                        q.push_back(op);
                    }
                }
                Op::Put { .. } => q.push_back(op),
            }
            let queued_bytes = |q: &VecDeque<Op>| -> u64 { q.iter().map(Op::bytes).sum() };
            while q.len() > self.capacity
                || (queued_bytes(&q) > self.capacity_bytes
                    && q.iter().filter(|o| o.bytes() > 0).count() > 1)
            {
                let victim = q
                    .iter()
                    .position(|o| matches!(o, Op::Put { .. }) && !o.is_playlist_put())
                    .or_else(|| q.iter().position(|o| matches!(o, Op::Delete { .. })))
                    .unwrap_or(0);
                if let Some(dropped) = q.remove(victim) {
                    tracing::warn!(
                        ingest = self.index,
                        path = dropped.path(),
                        "ingest queue full: dropped"
                    );
                    metrics::counter!("pullpush_ingest_dropped_total").increment(1);
                }
            }
        }
        self.notify.notify_one();
    }

    async fn run(self: Arc<Self>) {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let op = {
                let mut q = self.queue.lock().unwrap();
                let op = q.pop_front();
                self.busy.store(op.is_some(), Ordering::SeqCst);
                op
            };
            let Some(op) = op else {
                self.notify.notified().await;
                continue;
            };
            let mut attempt = 0u32;
            loop {
                match super::timed_push("mediapackage", self.deliver(&op)).await {
                    Ok(()) => {
                        *self.last_error.lock().unwrap() = None;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(ingest = self.index, path = op.path(), error = %e, "ingest delivery failed; retrying");
                        metrics::counter!("pullpush_ingest_errors_total").increment(1);
                        *self.last_error.lock().unwrap() = Some(e);
                        if self.closed.load(Ordering::SeqCst) {
                            return;
                        }
                        // Capped at 2 s: a live ingest that comes back should be current
                        // again within a segment or so, not after a 10 s back-off (a 20 s
                        // outage test saw the destination stay stale ~8 s after recovery).
                        tokio::time::sleep(crate::backoff(attempt, 250, 2_000)).await;
                        attempt = attempt.saturating_add(1);
                    }
                }
            }
        }
    }

    /// MKCOL every folder from the host root down to `url`'s parent (WebDAV origins).
    async fn make_folders(&self, url: &url::Url) {
        let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
        let mut folder = url.clone();
        let mut path = String::from("/");
        for s in &segments[..segments.len().saturating_sub(1)] {
            path.push_str(s);
            path.push('/');
            folder.set_path(&path);
            let mkcol = Method::from_bytes(b"MKCOL").expect("valid method");
            let _ = self.auth.send(mkcol, &folder, None).await;
        }
    }

    async fn deliver(&self, op: &Op) -> std::result::Result<(), String> {
        let url = self
            .folder
            .join(op.path())
            .map_err(|e| format!("bad path {}: {e}", op.path()))?;
        match op {
            Op::Put {
                content_type, body, ..
            } => {
                let mut status = self
                    .auth
                    .send(Method::PUT, &url, Some((body.clone(), content_type)))
                    .await?;
                if status == StatusCode::CONFLICT {
                    // A WebDAV origin (Apache mod_dav) wants the folder first.
                    self.make_folders(&url).await;
                    status = self
                        .auth
                        .send(Method::PUT, &url, Some((body.clone(), content_type)))
                        .await?;
                }
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("PUT {url}: {status}"))
                }
            }
            Op::Delete { .. } => {
                let status = self.auth.send(Method::DELETE, &url, None).await?;
                if status.is_success()
                    || status == StatusCode::NOT_FOUND
                    || status == StatusCode::GONE
                {
                    Ok(())
                } else {
                    Err(format!("DELETE {url}: {status}"))
                }
            }
        }
    }
}

/// An HTTP client that answers Digest challenges. The last challenge is cached and reused
/// for later requests (nonce count incremented by `digest_auth`), so a steady stream of PUTs
/// costs one round trip each; a 401 (expired or `stale` nonce) refreshes the challenge and
/// the request is sent once more.
pub struct DigestClient {
    client: reqwest::Client,
    username: Option<String>,
    password: Option<String>,
    challenge: Mutex<Option<digest_auth::WwwAuthenticateHeader>>,
}

impl DigestClient {
    pub fn new(
        client: reqwest::Client,
        username: Option<String>,
        password: Option<String>,
    ) -> Self {
        Self {
            client,
            username,
            password,
            challenge: Mutex::new(None),
        }
    }

    fn authorization(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&[u8]>,
    ) -> Option<String> {
        let (user, pass) = (self.username.as_deref()?, self.password.as_deref()?);
        let mut guard = self.challenge.lock().unwrap();
        let challenge = guard.as_mut()?;
        let mut uri = url.path().to_string();
        if let Some(q) = url.query() {
            uri.push('?');
            uri.push_str(q);
        }
        let ctx = digest_auth::AuthContext::new_with_method(
            user,
            pass,
            uri,
            body,
            digest_auth::HttpMethod(method.as_str().to_string().into()),
        );
        challenge.respond(&ctx).ok().map(|h| h.to_header_string())
    }

    /// Send a request (answering a Digest challenge if needed) and return the final status.
    pub async fn send(
        &self,
        method: Method,
        url: &url::Url,
        body: Option<(Bytes, &str)>,
    ) -> std::result::Result<StatusCode, String> {
        for _ in 0..2 {
            let mut req = self.client.request(method.clone(), url.clone());
            if let Some((bytes, ct)) = &body {
                req = req
                    .header(header::CONTENT_TYPE, *ct)
                    .header(header::CONTENT_LENGTH, bytes.len())
                    .body(bytes.clone());
            }
            if let Some(auth) = self.authorization(&method, url, body.as_ref().map(|(b, _)| &b[..]))
            {
                req = req.header(header::AUTHORIZATION, auth);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("{method} {url}: {e}"))?;
            let status = resp.status();
            if status != StatusCode::UNAUTHORIZED || self.username.is_none() {
                return Ok(status);
            }
            let challenge = resp
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.trim_start().to_ascii_lowercase().starts_with("digest"))
                .and_then(|v| digest_auth::parse(v).ok());
            let Some(challenge) = challenge else {
                return Err(format!("{method} {url}: 401 without a Digest challenge"));
            };
            *self.challenge.lock().unwrap() = Some(challenge);
        }
        Err(format!(
            "{method} {url}: 401 Unauthorized (wrong username or password?)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ingest_url_rule() {
        let (f, s) = split_ingest_url("https://h/in/v2/a/b/channel").unwrap();
        assert_eq!(
            (f.as_str(), s.as_str()),
            ("https://h/in/v2/a/b/", "channel")
        );
        let (f, s) = split_ingest_url("https://h/in/v2/a/b/channel.m3u8").unwrap();
        assert_eq!(
            (f.as_str(), s.as_str()),
            ("https://h/in/v2/a/b/", "channel")
        );
        let (f, s) = split_ingest_url("http://h/live/").unwrap();
        assert_eq!((f.as_str(), s.as_str()), ("http://h/live/", "channel"));
        assert!(split_ingest_url("ftp://h/x").is_err());
    }

    /// A SHA-256 challenge is answered with SHA-256, and the cached challenge is reused with
    /// an incremented nonce count (one 401 for several requests).
    #[tokio::test]
    async fn digest_sha256_challenge_is_cached_with_nc_increment() {
        use axum::http::{HeaderMap, StatusCode as S};
        let seen: Arc<Mutex<Vec<Option<String>>>> = Default::default();
        let s2 = seen.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let seen = s2.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                seen.lock().unwrap().push(auth.clone());
                match auth {
                    Some(a) if a.contains("algorithm=SHA-256") => S::CREATED.into_response(),
                    _ => (
                        S::UNAUTHORIZED,
                        [(
                            "www-authenticate",
                            "Digest realm=\"r\", qop=\"auth\", algorithm=SHA-256, nonce=\"abc\", opaque=\"o\"",
                        )],
                    )
                        .into_response(),
                }
            }
        });
        use axum::response::IntoResponse;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let c = DigestClient::new(reqwest::Client::new(), Some("u".into()), Some("p".into()));
        let url = url::Url::parse(&format!("http://{addr}/in/channel.m3u8")).unwrap();
        for _ in 0..3 {
            let st = c
                .send(
                    Method::PUT,
                    &url,
                    Some((Bytes::from_static(b"x"), "text/plain")),
                )
                .await
                .unwrap();
            assert_eq!(st, StatusCode::CREATED);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.len(),
            4,
            "one challenge, then three authorized requests"
        );
        assert!(seen[0].is_none());
        assert!(seen[1].as_deref().unwrap().contains("nc=00000001"));
        assert!(seen[3].as_deref().unwrap().contains("nc=00000003"));
    }
}
