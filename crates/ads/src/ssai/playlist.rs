//! The driver: what one request does, step by step, each step a call into a pure core
//! ([`rewrite`](super::rewrite), [`policy`](super::policy), [`tracking`](super::tracking))
//! or one I/O edge (origin, ad server, creatives, session store).
//!
//! [`Proxy::media_playlist`] `(session, rendition, now)`: origin window (shared cache) ->
//! rendered before from the same window and state? answer that -> the break starts not
//! planned yet -> decide each (ad server, creatives; once per session and break in this
//! process) -> apply to a copy of the state -> save it if nobody saved first (else load and
//! apply again) -> render.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls::{MasterPlaylist, Playlist};
use tokio::sync::OnceCell;

use super::Proxy;
use super::decide::{Conditioning, DecideCtx, decide};
use super::loader::Fetched;
use super::policy::BreakOutcome;
use super::rewrite::{BreakStart, BreakState};
use super::session::{MediaRef, Planned, Reporting, SessionState, VariantRef};
use super::store::Loaded;
use super::tracking::{self, FiredBeacon, TrackingDoc};
use crate::error::{AdsError, Result};

/// A rendered playlist and what it was rendered from (the same inputs render the same
/// text).
pub struct Rendered {
    version: u64,
    origin: Arc<Fetched>,
    text: Arc<str>,
}

type Decided = (Instant, Arc<OnceCell<Arc<BreakOutcome>>>);

/// Break decisions by (session, break key), with when they started: concurrent requests
/// share one, and so do requests that loaded the session before the decision was saved
/// (kept [`DECIDED_KEPT`] after it was made).
pub type Inflight = Mutex<HashMap<(String, u64), Decided>>;

/// How long a made decision stays shared (longer than any request's view of a session).
pub const DECIDED_KEPT: Duration = Duration::from_secs(30);

/// Forget decisions made longer than [`DECIDED_KEPT`] ago (kept while under way).
pub fn sweep_inflight(inflight: &Inflight, now: Instant) {
    lock(inflight)
        .retain(|_, (at, cell)| cell.get().is_none() || now.duration_since(*at) < DECIDED_KEPT);
}

/// Bound of the per-process maps (rendered playlists, decisions under way).
const MAP_CAP: usize = 200_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The session's master: the origin's, every variant and rendition pointing at the
/// session's own media playlists (`manifest_uri(n)`), and the origin URLs behind them.
/// Content segment and init segment URIs under `source` (`VideoContentSourceUrl`) moved
/// under `CdnConfiguration.ContentSegmentUrlPrefix`; keys and everything else stay.
fn to_cdn(out: &mut hls::MediaPlaylist, cdn: &super::config::CdnConfiguration, source: &str) {
    for seg in &mut out.segments {
        if let Some(u) = cdn.content_uri(source, &seg.uri) {
            seg.uri = u;
        }
        if let Some(map) = &mut seg.map
            && let Some(u) = map.uri().and_then(|u| cdn.content_uri(source, u))
        {
            map.attrs.set_quoted("URI", u);
        }
    }
}

pub fn session_master(
    origin: &Playlist,
    origin_url: &str,
    manifest_uri: &dyn Fn(usize) -> String,
) -> (MasterPlaylist, Vec<VariantRef>) {
    let mut variants = Vec::new();
    let out = match origin {
        Playlist::Master(m) => {
            let mut out = MasterPlaylist {
                version: m.version,
                independent_segments: m.independent_segments,
                start: m.start.clone(),
                session_data: m.session_data.clone(),
                ..Default::default()
            };
            for v in &m.variants {
                let mut v = v.clone();
                variants.push(VariantRef {
                    url: v.uri.clone(),
                    bandwidth: v.bandwidth().unwrap_or(0),
                    media: None,
                });
                v.uri = manifest_uri(variants.len() - 1);
                out.variants.push(v);
            }
            let mut audio = 0;
            for r in &m.media {
                let mut r = r.clone();
                if let Some(u) = r.uri().map(str::to_string) {
                    let media = match r.media_type() {
                        Some(hls::MediaType::Audio) => {
                            audio += 1;
                            MediaRef::Audio(audio - 1)
                        }
                        Some(hls::MediaType::Subtitles) => MediaRef::Subtitles,
                        _ => MediaRef::Other,
                    };
                    variants.push(VariantRef {
                        url: u,
                        bandwidth: 0,
                        media: Some(media),
                    });
                    r.attrs.set_quoted("URI", manifest_uri(variants.len() - 1));
                }
                out.media.push(r);
            }
            out
        }
        Playlist::Media(_) => {
            // A media playlist as "master": one variant, answered through a master.
            variants.push(VariantRef {
                url: origin_url.to_string(),
                bandwidth: 0,
                media: None,
            });
            let mut out = MasterPlaylist::default();
            out.variants.push(hls::VariantStream {
                uri: manifest_uri(0),
                attrs: hls::AttributeList::new().unquoted("BANDWIDTH", 1_000_000),
            });
            out
        }
    };
    (out, variants)
}

impl Proxy {
    /// The session `id` of configuration `config`, marked in use at `now`.
    pub async fn load_session(&self, config: &str, id: &str, now: i64) -> Result<Loaded> {
        let s = self
            .inner
            .sessions
            .load(id)
            .await?
            .filter(|s| s.meta.config == config)
            .ok_or_else(|| AdsError::UnknownSession(id.to_string()))?;
        let idle = s.state.idle_ms(
            self.inner.cfg.idle_manifests,
            self.inner.cfg.min_idle.as_millis() as u64,
        );
        self.inner.sessions.touch(id, now + idle as i64).await?;
        Ok(s)
    }

    /// Save `state` over `s`, retrying `change` on a fresh load when another request saved
    /// first. Returns the session as saved.
    async fn update(
        &self,
        mut s: Loaded,
        change: &(dyn Fn(&SessionState) -> Option<SessionState> + Sync),
    ) -> Result<Loaded> {
        for _ in 0..8 {
            let Some(next) = change(&s.state) else {
                return Ok(s);
            };
            if let Some(version) = self
                .inner
                .sessions
                .save(&s.meta.id, &next, s.version)
                .await?
            {
                return Ok(Loaded {
                    meta: s.meta,
                    state: Arc::new(next),
                    version,
                });
            }
            s = self
                .inner
                .sessions
                .load(&s.meta.id)
                .await?
                .ok_or_else(|| AdsError::UnknownSession(s.meta.id.clone()))?;
        }
        Err(AdsError::Store(format!(
            "session {}: too many concurrent updates",
            s.meta.id
        )))
    }

    /// The session's master playlist (its content at `content_url`); remembers the origin
    /// renditions behind the session's media playlists.
    pub async fn master_playlist(
        &self,
        s: Loaded,
        content_url: &str,
        manifest_uri: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<String> {
        let fetched = self
            .inner
            .origin
            .get(content_url, Duration::from_secs(30))
            .await?;
        let (master, variants) = session_master(&fetched.playlist, content_url, manifest_uri);
        self.update(s, &|st| {
            (st.variants != variants).then(|| SessionState {
                variants: variants.clone(),
                ..st.clone()
            })
        })
        .await?;
        Ok(Playlist::Master(master).to_string())
    }

    /// The session's media playlist for rendition `n` at `now`.
    pub async fn media_playlist(&self, s: Loaded, n: usize, now: i64) -> Result<Arc<str>> {
        let cfg = self.config(&s.meta.config).await?;
        let variant = s
            .state
            .variants
            .get(n)
            .cloned()
            .ok_or_else(|| AdsError::UnknownSession(format!("{} (variant {n})", s.meta.id)))?;
        // Last good playlist for up to ~3 target durations when the origin fails.
        let stale = Duration::from_millis((s.state.manifest_ms / 3).clamp(6_000, 60_000));
        let fetched = self.inner.origin.get(&variant.url, stale).await?;
        let Playlist::Media(window) = &fetched.playlist else {
            return Err(AdsError::Origin(format!(
                "{}: not a media playlist",
                variant.url
            )));
        };
        let key = (s.meta.id.clone(), n);
        if let Some(r) = lock(&self.inner.rendered).get(&key)
            && r.version == s.version
            && Arc::ptr_eq(&r.origin, &fetched)
        {
            return Ok(r.text.clone());
        }
        let target = window
            .target_duration
            .unwrap_or(0)
            .max(window.computed_target_duration());
        // The timeline (breaks, discontinuities) advances from the variants' windows; an
        // alternative rendition (audio, subtitles) only renders it, except to start it:
        // its playlists need not mark breaks or lag the same way.
        let drives = variant.media.is_none() || s.state.timeline.is_new();
        let starts = if drives {
            s.state.unplanned(window)
        } else {
            Vec::new()
        };
        let mut outcomes = Vec::new();
        for (i, b) in starts.iter().enumerate() {
            let index = s.state.timeline.avails + i as u32;
            let first = s.state.timeline.is_new();
            outcomes.push(self.decide_once(&s, &cfg, b, index, first, target, now));
        }
        let outcomes: HashMap<u64, Arc<BreakOutcome>> = starts
            .iter()
            .map(|b| b.key)
            .zip(futures::future::join_all(outcomes).await)
            .collect();
        let sid = s.meta.id.clone();
        let s = self
            .update(s, &|st| {
                let planned: Vec<Planned> = st
                    .unplanned(window)
                    .iter()
                    .filter_map(|b| {
                        let o = outcomes.get(&b.key)?;
                        Some(Planned {
                            key: b.key,
                            plan: o.plan.clone(),
                            decision: o.decision.clone(),
                        })
                    })
                    .collect();
                if !drives {
                    return None;
                }
                let mut next = st.clone();
                next.apply(window, &planned);
                (next != *st).then_some(next)
            })
            .await?;
        let creatives = self.inner.creatives.resolve(s.state.creatives()).await;
        let config = &s.meta.config;
        let cdn = cfg.cdn_configuration.as_ref();
        // `CdnConfiguration.AdSegmentUrlPrefix` stands for this service's base URL.
        let ad_base = match cdn.and_then(|c| c.ad_segment_url_prefix.as_deref()) {
            Some(p) => format!("{}/v1/", p.trim_end_matches('/')),
            None => "../../../".to_string(),
        };
        let ad_uri = |b: &BreakState, slot: u16, ri: usize, ext: &str| match ext {
            "vtt" => "../../../empty.vtt".to_string(),
            _ => format!(
                "{ad_base}segment/{config}/{sid}/{}/{ri}/{slot}.{ext}",
                b.key
            ),
        };
        let mut out = s.state.render(
            window,
            cfg.marker_passthrough(),
            &variant,
            &creatives,
            &ad_uri,
        );
        if let Some(cdn) = cdn {
            to_cdn(&mut out, cdn, &cfg.video_content_source_url);
        }
        let text: Arc<str> = Arc::from(out.to_string());
        let mut rendered = lock(&self.inner.rendered);
        if rendered.len() >= MAP_CAP {
            rendered.clear();
        }
        rendered.insert(
            key,
            Rendered {
                version: s.version,
                origin: fetched.clone(),
                text: text.clone(),
            },
        );
        Ok(text)
    }

    /// Decide break `b` of session `s`, once in this process however many requests ask.
    #[allow(clippy::too_many_arguments)]
    async fn decide_once(
        &self,
        s: &Loaded,
        cfg: &super::PlaybackConfiguration,
        b: &BreakStart,
        avail_index: u32,
        first_window: bool,
        target: u64,
        now: i64,
    ) -> Arc<BreakOutcome> {
        let cell = {
            let mut inflight = lock(&self.inner.inflight);
            if inflight.len() >= MAP_CAP {
                inflight.clear();
            }
            inflight
                .entry((s.meta.id.clone(), b.key))
                .or_insert_with(|| (Instant::now(), Arc::default()))
                .1
                .clone()
        };
        let content_url = cfg.content_url(&s.meta.path).ok();
        cell.get_or_init(|| async {
            let conditioning = self
                .inner
                .cfg
                .conditioner
                .as_ref()
                .zip(content_url.as_deref())
                .map(|(conditioner, content_url)| Conditioning {
                    conditioner,
                    profiles: &self.inner.profiles,
                    content_url,
                });
            let ctx = DecideCtx {
                http: &self.inner.http,
                creatives: &self.inner.creatives,
                conditioning,
                config: cfg,
                session: &s.meta,
                target,
                first_window,
                beacons: self.inner.cfg.beacons,
                now_ms: now,
            };
            Arc::new(decide(&ctx, b, avail_index).await)
        })
        .await
        .clone()
    }

    /// A viewer fetched slot `slot` of break `brk` in creative rendition `rendition`: the
    /// creative segment's URL; records the fetch and fires the beacons it makes due, each
    /// once per session (server-side reporting).
    pub async fn ad_segment(
        &self,
        s: &Loaded,
        brk: u64,
        slot: u16,
        rendition: usize,
    ) -> Result<String> {
        let (d, ad, sl) = tracking::ad_slot(&s.state.timeline, &s.state.decisions, brk, slot)
            .ok_or(AdsError::NoSuchSegment)?;
        let creative = self
            .inner
            .creatives
            .get(&d.ads[ad as usize].creative)
            .await
            .ok_or(AdsError::NoSuchSegment)?;
        let hit =
            tracking::ad_hit(d, ad, sl, &creative, rendition).ok_or(AdsError::NoSuchSegment)?;
        let id = &s.meta.id;
        let store = &self.inner.sessions;
        store.log_fetch(id, hit.fetch.clone()).await?;
        if s.meta.reporting == Reporting::Server {
            for event in hit.due {
                if !store.claim(id, (brk, ad, event)).await? {
                    continue;
                }
                let urls = tracking::beacon_urls(d, ad, event);
                for url in &urls {
                    store
                        .log_beacon(
                            id,
                            FiredBeacon {
                                avail_index: d.avail_index,
                                ad_id: hit.fetch.ad_id.clone(),
                                event: tracking::EVENTS[event as usize].0.to_string(),
                                url: url.clone(),
                            },
                        )
                        .await?;
                }
                super::beacons::fire(&self.inner.http, urls, self.inner.cfg.beacons);
            }
        }
        Ok(hit.url)
    }

    /// The session's client-side tracking document.
    pub fn tracking_doc(&self, s: &Loaded) -> TrackingDoc {
        tracking::tracking_doc(&s.state.timeline, &s.state.decisions)
    }
}
