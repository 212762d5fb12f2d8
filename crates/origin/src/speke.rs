//! The SPEKE v2 client: keys of DRM endpoints whose `speke_key_provider` is set, asked of
//! the key provider the way MediaPackage asks (CPIX 2.3, `X-Speke-Version: 2.0`).
//!
//! ```text
//!  KeySource::keys(req) --provider set?--> SpekeKeys        else DerivedKeys
//!    cache (url, content id, scheme, period): Ready keys / a fetch in flight / failed until
//!    miss -> fetch task: POST CPIX (kids of the period, systems, usage rules), retried
//!            with backoff (3 attempts, 3 s each) -> check the answer -> Ready
//!    got keys for period p (rotation on) -> fetch p+1 in the background (ahead of time)
//!    the fetch failed or is slow (the caller waits at most WAIT) ->
//!       the last good keys of the same content (highest period < p) serve p
//!       none -> KeysUnavailable (503 for the endpoint, never clear content)
//! ```
//! Key ids are derived from (content id, scheme, period, track kind), so every replica
//! asks for the same key ids. Presets: `SHARED` (one key, `intendedTrackType="ALL"`) or
//! `PRESET-VIDEO-1` + `PRESET-AUDIO-1` (one key each); others are refused when the
//! endpoint is configured. The answer is checked: a key for every key id asked and for
//! none other, 16 bytes each, whole `pssh` boxes, an `EXT-X-KEY` for at least one system.
//! The provider's credential is sent as the header it names and never logged or echoed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use lineup_keys::cpix::{self, Block};

use crate::drm::{DrmMethod, HlsSignal, KeyRequest, KeySource, PeriodKeys, TrackKey};
use crate::error::OriginError;
use crate::model::SpekeKeyProvider;

/// How long a request for keys waits for the provider before the fallback (or a 503).
const WAIT: Duration = Duration::from_secs(4);
/// One attempt's timeout.
const ATTEMPT: Duration = Duration::from_secs(3);
/// Attempts per fetch.
const ATTEMPTS: u32 = 3;
/// Back-off after a failed fetch: doubles from this up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Periods kept per cache before the oldest go.
const MAX_ENTRIES: usize = 4096;
/// The largest answer read.
const MAX_ANSWER: usize = 1 << 20;

/// `SHARED`: one key for video and audio.
pub const SHARED: &str = "SHARED";
pub const PRESET_VIDEO_1: &str = "PRESET-VIDEO-1";
pub const PRESET_AUDIO_1: &str = "PRESET-AUDIO-1";

/// Check an endpoint's provider block (`f` names a field under it); `ts`: a TS endpoint,
/// whose segments carry video and audio under one key.
pub fn validate_provider(
    p: &SpekeKeyProvider,
    ts: bool,
    f: &dyn Fn(&str) -> String,
) -> Result<(), OriginError> {
    for (i, id) in p.system_ids.iter().enumerate() {
        if cpix::normalize_system_id(id).is_none() {
            return Err(OriginError::bad(
                f(&format!("speke_key_provider.system_ids[{i}]")),
                format!("{id:?} is not a UUID"),
            ));
        }
    }
    if let Some(c) = &p.credential {
        let name_ok = axum::http::HeaderName::from_bytes(c.header.as_bytes()).is_ok();
        if !name_ok {
            return Err(OriginError::bad(
                f("speke_key_provider.credential.header"),
                "not an HTTP header name",
            ));
        }
        if c.value.expose() == crate::model::MASKED
            || axum::http::HeaderValue::from_str(c.value.expose()).is_err()
        {
            return Err(OriginError::bad(
                f("speke_key_provider.credential.value"),
                "give the credential itself (answers show it as ***), as header text",
            ));
        }
    }
    let shared = match presets(p) {
        Ok(shared) => shared,
        Err(message) => {
            return Err(OriginError::bad(
                f("speke_key_provider.encryption_contract_configuration"),
                message,
            ));
        }
    };
    if ts && !shared {
        return Err(OriginError::bad(
            f("speke_key_provider.encryption_contract_configuration"),
            "TS segments carry video and audio under one key: use SHARED for both",
        ));
    }
    Ok(())
}

/// Whether the provider block asks for one shared key (`true`) or one key per track
/// kind; the presets this origin does not offer are an error.
fn presets(p: &SpekeKeyProvider) -> Result<bool, String> {
    let Some(c) = &p.encryption_contract_configuration else {
        return Ok(true);
    };
    match (
        c.preset_speke20_video.as_str(),
        c.preset_speke20_audio.as_str(),
    ) {
        (SHARED, SHARED) => Ok(true),
        (PRESET_VIDEO_1, PRESET_AUDIO_1) => Ok(false),
        (v, a) => Err(format!(
            "{v:?} / {a:?}: this origin offers SHARED / SHARED (one key) and \
             PRESET-VIDEO-1 / PRESET-AUDIO-1 (a key for video, one for audio)"
        )),
    }
}

/// Keys from the provider an endpoint names, else from `derived`.
pub struct ProviderOrDerived {
    derived: Arc<dyn KeySource>,
    speke: Arc<SpekeKeys>,
}

impl ProviderOrDerived {
    pub fn new(derived: Arc<dyn KeySource>) -> Self {
        Self {
            derived,
            speke: Arc::new(SpekeKeys::new()),
        }
    }
}

impl KeySource for ProviderOrDerived {
    fn keys(&self, req: KeyRequest) -> BoxFuture<'static, Result<Arc<PeriodKeys>, OriginError>> {
        if req.provider.is_some() {
            self.speke.keys(req)
        } else {
            self.derived.keys(req)
        }
    }
}

/// What one content's keys are cached under (the period aside).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Content {
    url: String,
    content_id: String,
    scheme: &'static str,
}

type Fetch = Shared<BoxFuture<'static, Result<Arc<PeriodKeys>, String>>>;

enum Slot {
    Ready(Arc<PeriodKeys>),
    Fetching(Fetch),
    /// The last fetch failed: none before this instant; `backoff` is the next wait.
    Failed {
        until: Instant,
        backoff: Duration,
    },
}

/// The SPEKE v2 client with its cache (see the module docs).
pub struct SpekeKeys {
    http: reqwest::Client,
    cache: Mutex<HashMap<Content, HashMap<u64, Slot>>>,
}

impl Default for SpekeKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl SpekeKeys {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(ATTEMPT)
                .build()
                .unwrap_or_default(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn content(req: &KeyRequest, p: &SpekeKeyProvider) -> Content {
        Content {
            url: p.url.clone(),
            content_id: req.content_id.clone(),
            scheme: scheme(req.method),
        }
    }

    /// What to do for (content, period) now: the keys, a fetch to wait for (started if
    /// need be), or nothing until the back-off ends.
    fn plan(self: &Arc<Self>, req: &KeyRequest, p: &SpekeKeyProvider, now: Instant) -> Plan {
        let content = Self::content(req, p);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let periods = cache.entry(content.clone()).or_default();
        let backoff = match periods.get(&req.period) {
            Some(Slot::Ready(k)) => return Plan::Ready(k.clone()),
            Some(Slot::Fetching(f)) => return Plan::Wait(f.clone()),
            Some(Slot::Failed { until, .. }) if *until > now => return Plan::Fallback,
            Some(Slot::Failed { backoff, .. }) => *backoff,
            None => FIRST_BACKOFF,
        };
        let fetch = self.start_fetch(content, req.clone(), p.clone(), backoff);
        periods.insert(req.period, Slot::Fetching(fetch.clone()));
        if periods.len() > MAX_ENTRIES
            && let Some(oldest) = periods.keys().min().copied()
        {
            periods.remove(&oldest);
        }
        Plan::Wait(fetch)
    }

    /// A fetch task (it runs to its end even when nobody waits any more) whose outcome
    /// lands in the cache.
    fn start_fetch(
        self: &Arc<Self>,
        content: Content,
        req: KeyRequest,
        p: SpekeKeyProvider,
        backoff: Duration,
    ) -> Fetch {
        let this = self.clone();
        let period = req.period;
        let task = tokio::spawn(async move {
            let got = this.fetch_with_retries(&req, &p).await;
            let mut cache = this.cache.lock().unwrap_or_else(|e| e.into_inner());
            let periods = cache.entry(content).or_default();
            let decided = matches!(periods.get(&period), Some(Slot::Ready(_)));
            match &got {
                // A period the fallback already decided keeps its keys (its segments and
                // playlists were served with them).
                Ok(_) if decided => {}
                Ok(k) => {
                    periods.insert(period, Slot::Ready(k.clone()));
                }
                Err(_) if decided => {}
                Err(e) => {
                    tracing::warn!(
                        content_id = %req.content_id, period, error = %e,
                        "SPEKE key provider failed"
                    );
                    periods.insert(
                        period,
                        Slot::Failed {
                            until: Instant::now() + backoff,
                            backoff: (backoff * 2).min(MAX_BACKOFF),
                        },
                    );
                }
            }
            got
        });
        async move {
            task.await
                .unwrap_or_else(|e| Err(format!("key fetch task: {e}")))
        }
        .boxed()
        .shared()
    }

    /// The keys of the highest period below `period` already had for the same content.
    fn last_good(&self, content: &Content, period: u64) -> Option<(u64, Arc<PeriodKeys>)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(content)?
            .iter()
            .filter_map(|(p, s)| match s {
                Slot::Ready(k) if *p < period => Some((*p, k.clone())),
                _ => None,
            })
            .max_by_key(|(p, _)| *p)
    }

    /// Serve `period` with the last good keys from now on (so its segments and playlists
    /// agree), or fail.
    fn fall_back(
        &self,
        req: &KeyRequest,
        p: &SpekeKeyProvider,
        why: &str,
    ) -> Result<Arc<PeriodKeys>, OriginError> {
        let content = Self::content(req, p);
        let Some((from, keys)) = self.last_good(&content, req.period) else {
            return Err(OriginError::KeysUnavailable(format!(
                "the key provider gave no keys for this content yet: {why}"
            )));
        };
        tracing::warn!(
            content_id = %req.content_id, period = req.period, from,
            "SPEKE key provider unavailable; the last good keys serve this period"
        );
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(content)
            .or_default()
            .insert(req.period, Slot::Ready(keys.clone()));
        Ok(keys)
    }

    /// The keys the cache holds for the request's period.
    fn decided(&self, req: &KeyRequest, p: &SpekeKeyProvider) -> Option<Arc<PeriodKeys>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&Self::content(req, p))?.get(&req.period)? {
            Slot::Ready(k) => Some(k.clone()),
            _ => None,
        }
    }

    /// Fetch the next period in the background when rotation is on.
    fn prefetch_next(self: &Arc<Self>, req: &KeyRequest, p: &SpekeKeyProvider) {
        if req.rotation_seconds == 0 {
            return;
        }
        let mut next = req.clone();
        next.period = req.period + 1;
        let content = Self::content(&next, p);
        let known = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(&content)
                .is_some_and(|m| m.contains_key(&next.period))
        };
        if !known {
            drop(self.plan(&next, p, Instant::now()));
        }
    }

    fn keys(
        self: &Arc<Self>,
        req: KeyRequest,
    ) -> BoxFuture<'static, Result<Arc<PeriodKeys>, OriginError>> {
        let this = self.clone();
        async move {
            let Some(p) = req.provider.clone() else {
                return Err(OriginError::KeysUnavailable("no key provider".into()));
            };
            let got = match this.plan(&req, &p, Instant::now()) {
                Plan::Ready(k) => Ok(k),
                Plan::Fallback => Err("the key provider failed lately; retrying later".to_string()),
                Plan::Wait(f) => match tokio::time::timeout(WAIT, f).await {
                    Ok(r) => r,
                    Err(_) => Err("the key provider is slow".to_string()),
                },
            };
            match got {
                Ok(k) => {
                    this.prefetch_next(&req, &p);
                    // The cache is the authority (a fallback may have decided the period).
                    Ok(this.decided(&req, &p).unwrap_or(k))
                }
                Err(why) => this.fall_back(&req, &p, &why),
            }
        }
        .boxed()
    }

    async fn fetch_with_retries(
        &self,
        req: &KeyRequest,
        p: &SpekeKeyProvider,
    ) -> Result<Arc<PeriodKeys>, String> {
        let mut wait = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.fetch_once(req, p).await {
                Ok(k) => return Ok(Arc::new(k)),
                Err(e) => last = e,
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(last)
    }

    async fn fetch_once(
        &self,
        req: &KeyRequest,
        p: &SpekeKeyProvider,
    ) -> Result<PeriodKeys, String> {
        let ask = Ask::new(req, p);
        let mut post = self
            .http
            .post(&p.url)
            .header("x-speke-version", "2.0")
            .header("content-type", "application/xml")
            .body(cpix::write(&ask.document()));
        if let Some(c) = &p.credential {
            post = post.header(c.header.as_str(), c.value.expose());
        }
        let answer = post.send().await.map_err(|e| e.without_url().to_string())?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("the key provider answered {status}"));
        }
        let body = read_capped(answer).await?;
        let text = std::str::from_utf8(&body).map_err(|_| "the answer is not UTF-8".to_string())?;
        ask.keys_of(text).map_err(|e| e.to_string())
    }
}

enum Plan {
    Ready(Arc<PeriodKeys>),
    Wait(Fetch),
    Fallback,
}

async fn read_capped(mut answer: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("the answer is over {MAX_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn scheme(method: DrmMethod) -> &'static str {
    match method {
        DrmMethod::Cenc => "cenc",
        DrmMethod::Cbcs | DrmMethod::TsSampleAes => "cbcs",
    }
}

/// One period's request: its key ids and what to ask for them.
struct Ask {
    content_id: String,
    scheme: &'static str,
    period: u64,
    video: Block,
    audio: Block,
    systems: Vec<String>,
}

/// The key id of (content, scheme, period, track kind): the same on every replica.
fn derive_kid(content_id: &str, scheme: &str, period: u64, track: &str) -> Block {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!(
        "lineup speke kid\0{content_id}\0{scheme}\0{period}\0{track}"
    ));
    let mut kid = [0u8; 16];
    kid.copy_from_slice(&d[..16]);
    // A version 4 / RFC 4122 variant UUID, as key ids usually are.
    kid[6] = (kid[6] & 0x0f) | 0x40;
    kid[8] = (kid[8] & 0x3f) | 0x80;
    kid
}

impl Ask {
    fn new(req: &KeyRequest, p: &SpekeKeyProvider) -> Self {
        let scheme = scheme(req.method);
        let shared = presets(p).unwrap_or(true);
        let video = derive_kid(
            &req.content_id,
            scheme,
            req.period,
            if shared { "all" } else { "video" },
        );
        let audio = if shared {
            video
        } else {
            derive_kid(&req.content_id, scheme, req.period, "audio")
        };
        Self {
            content_id: req.content_id.clone(),
            scheme,
            period: req.period,
            video,
            audio,
            systems: p
                .system_ids
                .iter()
                .filter_map(|s| cpix::normalize_system_id(s))
                .collect(),
        }
    }

    fn kids(&self) -> Vec<Block> {
        if self.video == self.audio {
            vec![self.video]
        } else {
            vec![self.video, self.audio]
        }
    }

    fn period_id(&self) -> String {
        format!("keyPeriod_{}", self.period)
    }

    /// The CPIX request.
    fn document(&self) -> cpix::Cpix {
        use lineup_keys::cpix::*;
        let kids = self.kids();
        let keys = kids
            .iter()
            .map(|k| ContentKey {
                kid: Some(kid_string(k)),
                common_encryption_scheme: Some(self.scheme.into()),
                ..Default::default()
            })
            .collect();
        let mut systems = Vec::new();
        for s in &self.systems {
            for k in &kids {
                systems.push(DrmSystem {
                    kid: Some(kid_string(k)),
                    system_id: Some(s.clone()),
                    pssh: Some(Text::default()),
                    hls_signaling_data: ["media", "master"]
                        .iter()
                        .map(|p| HlsSignalingData {
                            playlist: Some((*p).into()),
                            value: String::new(),
                        })
                        .collect(),
                    ..Default::default()
                });
            }
        }
        let period_filter = vec![KeyPeriodFilter {
            period_id: Some(self.period_id()),
        }];
        let rule = |kid: &Block, track: &str, video: bool, audio: bool| ContentKeyUsageRule {
            kid: Some(kid_string(kid)),
            intended_track_type: Some(track.into()),
            key_period_filters: period_filter.clone(),
            video_filters: if video {
                vec![VideoFilter::default()]
            } else {
                vec![]
            },
            audio_filters: if audio {
                vec![AudioFilter::default()]
            } else {
                vec![]
            },
        };
        let rules = if self.video == self.audio {
            vec![rule(&self.video, "ALL", true, true)]
        } else {
            vec![
                rule(&self.video, "VIDEO", true, false),
                rule(&self.audio, "AUDIO", false, true),
            ]
        };
        Cpix {
            content_id: Some(self.content_id.clone()),
            version: Some(VERSION.into()),
            content_keys: Some(ContentKeyList { keys }),
            drm_systems: Some(DrmSystemList { systems }),
            periods: Some(ContentKeyPeriodList {
                periods: vec![ContentKeyPeriod {
                    id: Some(self.period_id()),
                    index: Some(self.period.to_string()),
                    ..Default::default()
                }],
            }),
            usage_rules: Some(ContentKeyUsageRuleList { rules }),
            ..Default::default()
        }
    }

    /// The period's keys from the provider's answer, checked (see the module docs).
    fn keys_of(&self, text: &str) -> Result<PeriodKeys, cpix::CpixError> {
        let bad = |field: &str, message: String| cpix::CpixError {
            field: field.into(),
            message,
        };
        let doc = cpix::parse(text)?;
        if doc.content_id.as_deref() != Some(self.content_id.as_str()) {
            return Err(bad(
                "CPIX@contentId",
                format!("{:?} is not the content asked for", doc.content_id),
            ));
        }
        let keys = doc.check_answer(&self.kids())?;
        let mut pssh: Vec<Vec<u8>> = Vec::new();
        let mut hls = Vec::new();
        for (i, d) in doc.systems().iter().enumerate() {
            let field = format!("DRMSystemList/DRMSystem[{}]", i + 1);
            let kid = d.kid.as_deref().and_then(cpix::parse_kid);
            let system = d.system_id.as_deref().and_then(cpix::normalize_system_id);
            let (Some(kid), Some(system)) = (kid, system) else {
                return Err(bad(&field, "kid or systemId missing or not a UUID".into()));
            };
            if !keys.contains_key(&kid) || !self.systems.contains(&system) {
                return Err(bad(
                    &field,
                    format!("{system} / {} was not asked for", cpix::kid_string(&kid)),
                ));
            }
            if let Some(b) = d.pssh.as_ref().filter(|t| !t.value.trim().is_empty()) {
                let b = cpix::unb64(&b.value)
                    .filter(|b| is_pssh_box(b))
                    .ok_or_else(|| bad(&format!("{field}/PSSH"), "not a base64 pssh box".into()))?;
                if !pssh.contains(&b) {
                    pssh.push(b);
                }
            }
            if kid == self.video
                && let Some(h) = d
                    .hls_signaling_data
                    .iter()
                    .find(|h| h.playlist.as_deref() != Some("master"))
                && !h.value.trim().is_empty()
            {
                hls.push(
                    hls_signal(&h.value)
                        .map_err(|m| bad(&format!("{field}/HLSSignalingData"), m))?,
                );
            }
        }
        if hls.is_empty() {
            return Err(bad(
                "DRMSystemList",
                "no HLSSignalingData for any DRM system".into(),
            ));
        }
        let track = |kid: &Block| TrackKey {
            kid: *kid,
            key: keys[kid],
        };
        Ok(PeriodKeys {
            video: track(&self.video),
            audio: track(&self.audio),
            pssh,
            hls,
        })
    }
}

/// A whole `pssh` box: its size field is its length.
fn is_pssh_box(b: &[u8]) -> bool {
    b.len() >= 32
        && &b[4..8] == b"pssh"
        && u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize == b.len()
}

/// `#EXT-X-KEY:...` (base64) as the attributes after `METHOD` (the origin writes the
/// endpoint's own `METHOD`).
fn hls_signal(b64: &str) -> Result<HlsSignal, String> {
    let text = cpix::unb64(b64)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or("not base64 text")?;
    let attrs = text
        .trim()
        .strip_prefix("#EXT-X-KEY:")
        .ok_or("not an #EXT-X-KEY line")?;
    let list = hls::AttributeList::parse(attrs).map_err(|e| format!("EXT-X-KEY: {}", e.0))?;
    if list.get("METHOD").is_none_or(|m| m == "NONE") {
        return Err("EXT-X-KEY without a METHOD".into());
    }
    let mut signal = HlsSignal { attrs: Vec::new() };
    for (name, value) in list.0 {
        if name == "METHOD" {
            continue;
        }
        let quoted = matches!(value, hls::AttrValue::Quoted(_));
        signal = signal.attr(&name, value.as_str(), quoted);
    }
    Ok(signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EncryptionContractConfiguration, ProviderCredential, SecretText};

    fn provider(video: &str, audio: &str) -> SpekeKeyProvider {
        SpekeKeyProvider {
            url: "http://127.0.0.1:1/speke/v2".into(),
            resource_id: "res".into(),
            system_ids: vec![lineup_keys::signal::CLEARKEY.into()],
            encryption_contract_configuration: Some(EncryptionContractConfiguration {
                preset_speke20_video: video.into(),
                preset_speke20_audio: audio.into(),
            }),
            credential: Some(ProviderCredential {
                header: "Authorization".into(),
                value: SecretText::new("Bearer s3cret"),
            }),
        }
    }

    fn request(p: &SpekeKeyProvider, method: DrmMethod) -> KeyRequest {
        KeyRequest {
            channel: "c".into(),
            endpoint: "e".into(),
            content_id: p.resource_id.clone(),
            period: 7,
            rotation_seconds: 60,
            method,
            provider: Some(p.clone()),
        }
    }

    fn f(n: &str) -> String {
        format!("encryption.sample_aes.{n}")
    }

    #[test]
    fn presets_and_credentials_are_checked_when_configured() {
        let p = provider(PRESET_VIDEO_1, PRESET_AUDIO_1);
        assert!(validate_provider(&p, false, &f).is_ok());
        let e = validate_provider(&p, true, &f).unwrap_err();
        assert!(e.to_string().contains("SHARED"), "{e}");
        let e =
            validate_provider(&provider("PRESET-VIDEO-2", PRESET_AUDIO_1), false, &f).unwrap_err();
        assert!(
            matches!(e, OriginError::BadField { ref field, .. } if field.ends_with("encryption_contract_configuration"))
        );
        let mut masked = provider(SHARED, SHARED);
        masked.credential.as_mut().unwrap().value = SecretText::new(crate::model::MASKED);
        assert!(validate_provider(&masked, true, &f).is_err());
        assert!(!format!("{:?}", provider(SHARED, SHARED)).contains("s3cret"));
    }

    /// The request the client sends passes the rules a SPEKE v2 provider enforces (the
    /// AWS verification suite's, in `keys`), with one rule per key and the period named.
    #[test]
    fn the_request_is_what_a_provider_accepts() {
        for (v, a, kids) in [(SHARED, SHARED, 1), (PRESET_VIDEO_1, PRESET_AUDIO_1, 2)] {
            let p = provider(v, a);
            let ask = Ask::new(&request(&p, DrmMethod::Cenc), &p);
            let text = cpix::write(&ask.document());
            let asked = cpix::parse(&text).unwrap().check_request().unwrap();
            assert_eq!(asked.kids.len(), kids);
            assert_eq!(asked.content_id, "res");
            assert!(text.contains("commonEncryptionScheme=\"cenc\""), "{text}");
            assert!(text.contains("keyPeriod_7"), "{text}");
            // Same request, same key ids (every replica asks the same).
            assert_eq!(
                Ask::new(&request(&p, DrmMethod::Cenc), &p).kids(),
                ask.kids()
            );
        }
    }

    fn answer(ask: &Ask, kids: &[Block], hls: &str) -> String {
        let mut doc = ask.document();
        for (k, kid) in doc.content_keys.as_mut().unwrap().keys.iter_mut().zip(kids) {
            k.kid = Some(cpix::kid_string(kid));
            k.data = Some(cpix::KeyData {
                secret: Some(cpix::KeySecret {
                    plain_value: Some(cpix::b64(&[5u8; 16])),
                    encrypted_value: None,
                }),
            });
        }
        for d in &mut doc.drm_systems.as_mut().unwrap().systems {
            d.pssh = None;
            for h in &mut d.hls_signaling_data {
                h.value = cpix::b64(hls.as_bytes());
            }
        }
        cpix::write(&doc)
    }

    #[test]
    fn answers_are_checked() {
        let p = provider(SHARED, SHARED);
        let ask = Ask::new(&request(&p, DrmMethod::Cbcs), &p);
        let line = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,AA==\",KEYFORMAT=\"org.w3.clearkey\"";
        let keys = ask.keys_of(&answer(&ask, &ask.kids(), line)).unwrap();
        assert_eq!(keys.video.key, [5u8; 16]);
        assert_eq!(keys.video, keys.audio);
        let attrs: Vec<&str> = keys.hls[0]
            .attrs
            .iter()
            .map(|(n, _, _)| n.as_str())
            .collect();
        assert_eq!(attrs, ["URI", "KEYFORMAT"], "METHOD is the endpoint's own");
        // Keys for other key ids, no signalling, garbage, another content.
        assert!(
            ask.keys_of(&answer(&ask, &[[9u8; 16]], line))
                .unwrap_err()
                .message
                .contains("not asked")
        );
        assert!(ask.keys_of(&answer(&ask, &ask.kids(), "")).is_err());
        assert!(
            ask.keys_of(&answer(&ask, &ask.kids(), "#EXTINF:4,"))
                .is_err()
        );
        assert!(ask.keys_of("<html/>").is_err());
        let other = answer(&ask, &ask.kids(), line).replace("contentId=\"res\"", "contentId=\"x\"");
        assert!(ask.keys_of(&other).is_err());
    }
}
