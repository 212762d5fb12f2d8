//! [`ScheduleAdapter`]: channels that play a schedule service's programmes on the clock.
//!
//! It reads lineup's schedule service (or Eyevinn's schedule-service: the same JSON and
//! paths) over HTTP: `GET {schedule}/api/v1/channels` lists the channels,
//! `GET {schedule}/api/v1/channels/{id}/schedule?start=&end=` their events (ISO 8601
//! instants; lineup's service lists the events overlapping the range, Eyevinn's those
//! starting in it, so when no event in the answer is running at the instant asked the
//! adapter also reads the `read_behind` before it), and
//! `GET {catalog}/api/v1/assets?houseAds=true` the house ads that fill ad breaks. What
//! plays when is decided by the pure [`crate::slots::item_at`] (programme boundaries kept
//! to within one segment, ad breaks, gaps, live events); this file only fetches.
//!
//! Replicas: only the replica that appends an entry asks; the others read the item from
//! the store's log, so every replica renders the same bytes even if the schedule changes
//! in between (or this replica planned from its last read, below).
//!
//! An unreachable schedule service (down, or slower than half the timeout): the channel
//! list keeps its channels as last listed (an engine starting then serves its other
//! channels and adds these when the service answers), and items are planned from the
//! channel's last schedule read while that covers the instant asked (`read_ahead`, 15
//! minutes), so programmes keep their times. House ads are read at most every 30 s, with a
//! quarter of the timeout; failing, the last list (or the slate) fills the break. The
//! answer thus comes within the timeout the engine waits for it.
//!
//! Channels the schedule service does not know are passed to the inner adapters (a
//! channels file, an HTTP asset manager), so both kinds can run in one engine.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use clock::Clock;

use futures::future::BoxFuture;
use serde::Deserialize;

use super::{AssetManager, ChannelConfig, ChannelManager, NextItemRequest};
use crate::error::{Error, Result};
use crate::slots::{self, Ask, Slot, SlotKind};
use crate::timeline::{Item, Millis};

/// Where the schedule lives.
#[derive(Debug, Clone)]
pub struct ScheduleAdapterConfig {
    /// The schedule service's root (`http://host:8090`, or `.../schedule` in the demo).
    pub schedule_url: String,
    /// The catalog's root, for house ads (none: breaks are filled with the slate).
    pub catalog_url: Option<String>,
    /// Bearer token for both (their `/api/v1` routes may need one).
    pub token: Option<String>,
    /// Bound on an answer (give the engine's load timeout): the schedule read gets half of
    /// it, house ads a quarter.
    pub timeout: Duration,
    /// How far past the instant asked about the events are read (a longer gap plays the
    /// default slate until the next event is this close; keep it short: each entry
    /// appended reads this much of the schedule).
    pub read_ahead: Duration,
    /// How far before the instant asked events are looked for when the service lists only
    /// the events starting in a range (Eyevinn's): the longest event joined in its middle.
    pub read_behind: Duration,
    /// A channel's schedule read this recently (and still reaching half the read-ahead past
    /// the instant asked) is used again without asking: the entries a channel appends in a
    /// row, and its sessions', make one request.
    pub reuse_for: Duration,
}

impl ScheduleAdapterConfig {
    pub fn new(schedule_url: impl Into<String>) -> Self {
        Self {
            schedule_url: schedule_url.into().trim_end_matches('/').to_string(),
            catalog_url: None,
            token: None,
            timeout: Duration::from_secs(5),
            read_ahead: Duration::from_secs(15 * 60),
            read_behind: Duration::from_secs(24 * 3600),
            reuse_for: Duration::from_secs(2),
        }
    }
}

/// Channels and items from a schedule service; other channels from `inner`.
pub struct ScheduleAdapter {
    cfg: ScheduleAdapterConfig,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    inner_assets: Arc<dyn AssetManager>,
    inner_channels: Arc<dyn ChannelManager>,
    /// The channels the schedule service listed last time.
    ours: RwLock<HashSet<String>>,
    /// ... as channel configurations (kept while the service is unreachable).
    listed: RwLock<Vec<ChannelConfig>>,
    /// Each channel's last schedule read.
    read: Mutex<HashMap<String, Read>>,
    /// House ads as last read, and when.
    ads: Mutex<Option<(Instant, Vec<String>)>>,
}

/// The events overlapping `[from, to)`, as read at some point.
struct Read {
    from: Millis,
    to: Millis,
    when: Instant,
    slots: Vec<Slot>,
}

/// How long a house ad list is used before it is read again.
const HOUSE_ADS_TTL: Duration = Duration::from_secs(30);

/// A schedule event as the service answers it (Eyevinn schedule-service JSON).
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(default)]
    title: String,
    start_time: Millis,
    end_time: Millis,
    #[serde(default)]
    url: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "liveUrl", default)]
    live_url: Option<String>,
    #[serde(rename = "adBreaks", default)]
    ad_breaks: Vec<EventBreak>,
}

#[derive(Debug, Deserialize)]
struct EventBreak {
    offset: f64,
    duration: f64,
}

#[derive(Debug, Deserialize)]
struct ListedChannel {
    id: String,
    #[serde(default)]
    title: String,
}

#[derive(Debug, Deserialize)]
struct CatalogAsset {
    url: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

impl CatalogAsset {
    /// The catalog's rule (`schedule::Asset::is_house_ad`): category `ad` or tag
    /// `house-ad`. Checked here too, so a catalog that ignores `?houseAds=true` does not
    /// turn programmes into ads.
    fn is_house_ad(&self) -> bool {
        self.category.as_deref() == Some("ad") || self.tags.iter().any(|t| t == "house-ad")
    }
}

fn secs_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round() as u64
    } else {
        0
    }
}

impl Event {
    /// The planner's view (`None`: an event that cannot play, e.g. LIVE without a URL).
    fn slot(self) -> Option<Slot> {
        let kind = match self.kind.to_ascii_uppercase().as_str() {
            "AD" => SlotKind::Ad {
                url: Some(self.url).filter(|u| !u.is_empty()),
            },
            "LIVE" => match self.live_url.filter(|u| !u.is_empty()) {
                Some(url) => SlotKind::Live { url },
                None if !self.url.is_empty() => SlotKind::Vod { url: self.url },
                None => return None,
            },
            _ if self.url.is_empty() => return None,
            _ => SlotKind::Vod { url: self.url },
        };
        if self.end_time <= self.start_time {
            return None;
        }
        let mut breaks: Vec<(u64, u64)> = self
            .ad_breaks
            .iter()
            .map(|b| (secs_to_ms(b.offset), secs_to_ms(b.duration)))
            .filter(|&(_, d)| d > 0)
            .collect();
        breaks.sort_unstable();
        Some(Slot {
            id: self.id,
            title: self.title,
            start_ms: self.start_time,
            end_ms: self.end_time,
            kind,
            breaks,
        })
    }
}

impl ScheduleAdapter {
    /// `clock` is the engine's: it ages the reads kept and places a content probe.
    pub fn new(
        cfg: ScheduleAdapterConfig,
        clock: Arc<dyn Clock>,
        inner_assets: Arc<dyn AssetManager>,
        inner_channels: Arc<dyn ChannelManager>,
    ) -> Result<Self> {
        url::Url::parse(&cfg.schedule_url)
            .map_err(|e| Error::Config(format!("schedule URL {:?}: {e}", cfg.schedule_url)))?;
        if let Some(c) = &cfg.catalog_url {
            url::Url::parse(c).map_err(|e| Error::Config(format!("catalog URL {c:?}: {e}")))?;
        }
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(cfg.timeout)
                .build()
                .map_err(|e| Error::Config(e.to_string()))?,
            cfg,
            clock,
            inner_assets,
            inner_channels,
            ours: RwLock::new(HashSet::new()),
            listed: RwLock::new(Vec::new()),
            read: Mutex::new(HashMap::new()),
            ads: Mutex::new(None),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut req = self.http.get(url).query(query);
        if let Some(t) = &self.cfg.token {
            req = req.bearer_auth(t);
        }
        super::get_json(req, url).await
    }

    /// The channel's playable events overlapping `[from, to)`, by start time.
    async fn slots(&self, channel: &str, from: Millis, to: Millis) -> Result<Vec<Slot>> {
        let url = format!(
            "{}/api/v1/channels/{}/schedule",
            self.cfg.schedule_url,
            urlencode(channel)
        );
        let events: Vec<serde_json::Value> = self
            .get_json(&url, &[("start", iso(from)), ("end", iso(to))])
            .await?;
        Ok(events_to_slots(channel, events))
    }

    /// The channel's events overlapping `[at, at + read_ahead)`; when the service does not
    /// answer (in half the timeout), the last read if it covers `at`.
    async fn slots_at(&self, channel: &str, at: Millis) -> Result<Vec<Slot>> {
        let ahead = self.cfg.read_ahead.as_millis() as Millis;
        let to = at.saturating_add(ahead);
        if let Some(r) = self.read.lock().expect("read lock").get(channel)
            && self.clock.instant().saturating_duration_since(r.when) < self.cfg.reuse_for
            && r.from <= at
            && at <= r.to - ahead / 2
        {
            return Ok(r.slots.clone());
        }
        let budget = self.cfg.timeout / 2;
        let read = async {
            let mut slots = self.slots(channel, at, to).await?;
            if !slots.iter().any(|s| s.start_ms <= at && at < s.end_ms) {
                // A service listing the events that start in the range leaves out the one
                // running now: look back for it.
                let from = at.saturating_sub(self.cfg.read_behind.as_millis() as Millis);
                slots.extend(self.slots(channel, from, at).await?);
                slots.sort_by_key(|s| s.start_ms);
                slots.dedup_by(|a, b| a.id == b.id && a.start_ms == b.start_ms);
                slots = slots::normalized(slots);
            }
            Ok(slots)
        };
        let fetched = match tokio::time::timeout(budget, read).await {
            Ok(r) => r,
            Err(_) => Err(Error::Adapter(format!(
                "schedule of {channel}: no answer within {budget:?}"
            ))),
        };
        let mut read = self.read.lock().expect("read lock");
        match fetched {
            Ok(slots) => {
                let r = Read {
                    from: at,
                    to,
                    when: self.clock.instant(),
                    slots: slots.clone(),
                };
                read.insert(channel.to_string(), r);
                Ok(slots)
            }
            Err(e) => {
                metrics::counter!("engine_schedule_errors_total", "what" => "schedule")
                    .increment(1);
                match read.get(channel) {
                    Some(r) if r.from <= at && at < r.to => {
                        tracing::warn!(channel, error = %e, "schedule service unreachable; planning from its last answer");
                        Ok(r.slots.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// House ads' URLs (empty without a catalog; the last list, or empty, when it fails:
    /// breaks get the slate).
    async fn house_ads(&self) -> Vec<String> {
        let Some(base) = &self.cfg.catalog_url else {
            return Vec::new();
        };
        let last = self.ads.lock().expect("ads lock").clone();
        if let Some((when, ads)) = &last
            && self.clock.instant().saturating_duration_since(*when) < HOUSE_ADS_TTL
        {
            return ads.clone();
        }
        let url = format!("{}/api/v1/assets", base.trim_end_matches('/'));
        let budget = self.cfg.timeout / 4;
        let got = tokio::time::timeout(
            budget,
            self.get_json::<Vec<CatalogAsset>>(&url, &[("houseAds", "true".into())]),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Error::Adapter(format!(
                "{url}: no answer within {budget:?}"
            )))
        });
        match got {
            Ok(list) => {
                let ads: Vec<String> = list
                    .into_iter()
                    .filter(CatalogAsset::is_house_ad)
                    .map(|a| a.url)
                    .collect();
                *self.ads.lock().expect("ads lock") = Some((self.clock.instant(), ads.clone()));
                ads
            }
            Err(e) => {
                metrics::counter!("engine_schedule_errors_total", "what" => "house_ads")
                    .increment(1);
                tracing::warn!(error = %e, "house ads unavailable; breaks get the last list or the slate");
                last.map(|(_, ads)| ads).unwrap_or_default()
            }
        }
    }

    async fn scheduled_item(&self, req: &NextItemRequest) -> Result<Item> {
        let read_ahead = self.cfg.read_ahead.as_millis() as Millis;
        let Some(at) = req.at_ms else {
            // A probe for content (the channel's profile): the position-th upcoming VOD or
            // live source.
            let now = self.clock.now_ms();
            let slots = self.slots(&req.channel, now, now + read_ahead).await?;
            return Ok(
                match slots::content_urls(&slots, now).nth(req.position as usize) {
                    Some(url) => Item::Vod {
                        id: url.to_string(),
                        title: None,
                        url: url.to_string(),
                    },
                    None => Item::Slate {
                        reason: Some("nothing scheduled".into()),
                        duration_ms: None,
                    },
                },
            );
        };
        let slots = self.slots_at(&req.channel, at).await?;
        let mut ask = Ask {
            at,
            snap_ms: req.target_ms.unwrap_or(2_000).max(1),
            first: req.position == 0,
            house_ads: &[],
            pick: req.position,
        };
        let item = slots::item_at(&slots, &ask);
        if !matches!(item, Item::AdBreak { .. }) {
            return Ok(item);
        }
        let ads = self.house_ads().await;
        ask.house_ads = &ads;
        Ok(slots::item_at(&slots, &ask))
    }
}

/// The listed channels the engine can serve: ids of 1 to 128 letters, digits, `.`, `_`
/// and `-` (the schedule service's own rule; the ids become URL path segments and store
/// keys). Others are skipped, logged.
fn listed_configs(listed: Vec<ListedChannel>) -> Vec<ChannelConfig> {
    listed
        .into_iter()
        .filter(|c| {
            let ok = (1..=128).contains(&c.id.len())
                && c.id != "."
                && c.id != ".."
                && c.id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
            if !ok {
                tracing::warn!(id = %c.id, "schedule channel skipped: unusable id");
            }
            ok
        })
        .map(|c| ChannelConfig {
            id: c.id,
            title: (!c.title.is_empty()).then_some(c.title),
            profile: None,
            slate: None,
        })
        .collect()
}

/// The playable events, by start time, overlaps cut ([`slots::normalized`]). An event that
/// does not parse is skipped (logged and
/// counted): one bad event must not turn the whole schedule into the slate.
fn events_to_slots(channel: &str, events: Vec<serde_json::Value>) -> Vec<Slot> {
    let slots: Vec<Slot> = events
        .into_iter()
        .filter_map(|v| match serde_json::from_value::<Event>(v) {
            Ok(e) => e.slot(),
            Err(e) => {
                metrics::counter!("engine_schedule_errors_total", "what" => "event").increment(1);
                tracing::warn!(channel, error = %e, "schedule event skipped: malformed");
                None
            }
        })
        .collect();
    slots::normalized(slots)
}

/// An instant as the schedule APIs read it (ISO 8601, UTC, milliseconds).
fn iso(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl AssetManager for ScheduleAdapter {
    fn next_item(&self, req: NextItemRequest) -> BoxFuture<'_, Result<Item>> {
        Box::pin(async move {
            let ours = self.ours.read().expect("ours lock").contains(&req.channel);
            if ours {
                self.scheduled_item(&req).await
            } else {
                self.inner_assets.next_item(req).await
            }
        })
    }
}

impl ChannelManager for ScheduleAdapter {
    /// The inner adapter's channels, then the schedule service's (a channel both list
    /// keeps the inner configuration, e.g. its profile and slate, and plays the schedule).
    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelConfig>>> {
        Box::pin(async move {
            let mut list = self.inner_channels.channels().await?;
            let url = format!("{}/api/v1/channels", self.cfg.schedule_url);
            // Half the timeout, as for a schedule read: the engine's background loop waits.
            let budget = self.cfg.timeout / 2;
            let listed = tokio::time::timeout(budget, self.get_json(&url, &[]))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Adapter(format!(
                        "{url}: no answer within {budget:?}"
                    )))
                });
            match listed {
                Ok(listed) => {
                    let configs = listed_configs(listed);
                    let ids: HashSet<String> = configs.iter().map(|c| c.id.clone()).collect();
                    *self.listed.write().expect("listed lock") = configs;
                    *self.ours.write().expect("ours lock") = ids;
                }
                Err(e) => {
                    // Dropping its channels would end them mid-air (and an engine could not
                    // start while the service is down): keep them as last listed.
                    metrics::counter!("engine_schedule_errors_total", "what" => "channels")
                        .increment(1);
                    tracing::warn!(error = %e, "schedule service unreachable; keeping its channels as last listed");
                }
            }
            for c in self.listed.read().expect("listed lock").iter() {
                if !list.iter().any(|l| l.id == c.id) {
                    list.push(c.clone());
                }
            }
            Ok(list)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_slots() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "id": "e1", "channelId": "c", "title": "News", "start_time": 1000,
            "end_time": 61000, "start": "", "end": "", "url": "http://v/1.m3u8",
            "duration": 60, "type": "VOD", "adBreaks": [{"offset": 20.0, "duration": 5.5}]
        }))
        .unwrap();
        let s = e.slot().unwrap();
        assert_eq!(s.breaks, vec![(20_000, 5_500)]);
        assert_eq!(
            s.kind,
            SlotKind::Vod {
                url: "http://v/1.m3u8".into()
            }
        );
        let live: Event = serde_json::from_value(serde_json::json!({
            "id": "e2", "start_time": 0, "end_time": 10, "url": "", "type": "LIVE",
            "liveUrl": "http://l/x.m3u8"
        }))
        .unwrap();
        assert!(matches!(live.slot().unwrap().kind, SlotKind::Live { .. }));
        let empty: Event = serde_json::from_value(serde_json::json!({
            "id": "e3", "start_time": 0, "end_time": 10, "url": "", "type": "LIVE"
        }))
        .unwrap();
        assert!(empty.slot().is_none());
    }

    /// One malformed event (a foreign service's, or a half-written one) is skipped, not a
    /// failure of the whole schedule (every item would be the slate); unsorted events are
    /// put in order.
    #[test]
    fn a_malformed_event_does_not_hide_the_others() {
        let events = vec![
            serde_json::json!({"id": "late", "start_time": 60_000, "end_time": 90_000,
                               "url": "http://v/2.m3u8", "type": "vod"}),
            serde_json::json!({"id": "bad", "start_time": null, "end_time": 10}),
            serde_json::json!({"id": 7, "start_time": 0, "end_time": 10, "url": "http://v/x"}),
            serde_json::json!({"id": "early", "start_time": 0, "end_time": 60_000,
                               "url": "http://v/1.m3u8", "type": "vod"}),
        ];
        let slots = events_to_slots("c", events);
        let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["early", "late"]);
    }

    /// Channel ids become URL path segments and store keys: a foreign service's id that is
    /// empty, too long or has other characters than the schedule service allows is skipped.
    #[test]
    fn odd_channel_ids_are_skipped() {
        let listed: Vec<ListedChannel> = serde_json::from_value(serde_json::json!([
            {"id": "news.hd", "title": "News"}, {"id": ""}, {"id": "a/b"},
            {"id": "x{y}"}, {"id": ".."}, {"id": "z".repeat(200)}, {"id": "ok_1-2"}
        ]))
        .unwrap();
        let ids: Vec<String> = listed_configs(listed).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["news.hd", "ok_1-2"]);
    }

    #[test]
    fn house_ads_follow_the_catalog_rule() {
        let a = |category: Option<&str>, tags: &[&str]| CatalogAsset {
            url: "u".into(),
            category: category.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        assert!(a(Some("ad"), &[]).is_house_ad());
        assert!(a(None, &["x", "house-ad"]).is_house_ad());
        assert!(!a(Some("news"), &["ad"]).is_house_ad());
    }
}
