//! The async shell: reads and writes the database, reads VODs and feeds, and asks
//! [`crate::plan`] what the schedule should be. Every schedule change is one
//! [`Db::write`] (one transaction).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;

use crate::db::{Db, Op};
use crate::error::{Error, Result};
use crate::feeds;
use crate::model::{
    Asset, AutoSource, Channel, EventSource, EventType, FillConfig, Millis, Programme,
    ScheduleEvent,
};
use crate::plan;
use crate::probe;
pub use crate::requests::{AutoMrss, NewAsset, NewEvent, check_id};
use crate::requests::{id_from_url, parse_time};

/// How far back a schedule change reads (6 h): enough to find the running event and the
/// last auto sequence number, while a channel's history can grow without slowing ticks.
pub const LOOKBACK_MS: Millis = 6 * 3_600_000;

/// The catalog and schedule service state (cheap to clone).
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// One writer at a time in this process: a schedule change is read-plan-write.
    write: tokio::sync::Mutex<()>,
}

impl Service {
    /// Opens (and creates the tables of) `database`: a SQLite path, `:memory:`, or a
    /// `postgres://` URL.
    pub async fn open(database: &str) -> Result<Service> {
        let db = Db::open(database).await?;
        Ok(Service::with_db(db, clock::system()))
    }

    /// A service over `db` reading the time from `clock` (tests pass a
    /// [`clock::ManualClock`]).
    pub fn with_db(db: Db, clock: Arc<dyn Clock>) -> Service {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Service {
            inner: Arc::new(Inner {
                db,
                http,
                clock,
                write: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn now(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    // ---- catalog ----

    pub async fn assets(&self) -> Result<Vec<Asset>> {
        self.inner.db.assets().await
    }

    /// The house ads ([`Asset::is_house_ad`]) available now, ordered by id: what fills ad
    /// breaks (the stitched feed, the engine's breaks).
    pub async fn house_ads(&self) -> Result<Vec<Asset>> {
        let now = self.now();
        let mut ads: Vec<Asset> = self
            .assets()
            .await?
            .into_iter()
            .filter(|a| a.is_house_ad() && a.available_at(now))
            .collect();
        ads.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(ads)
    }

    /// The programmes the feed named `feed` publishes now, in the order added: available
    /// assets that are not house ads, all of them (`all`) or those of category `feed`.
    pub async fn feed_assets(&self, feed: &str) -> Result<Vec<Asset>> {
        let now = self.now();
        Ok(self
            .assets()
            .await?
            .into_iter()
            .filter(|a| a.available_at(now) && !a.is_house_ad())
            .filter(|a| feed == "all" || a.category.as_deref() == Some(feed))
            .collect())
    }

    pub async fn asset(&self, id: &str) -> Result<Asset> {
        self.inner
            .db
            .asset(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("asset {id}")))
    }

    /// Stores `asset` as given (replacing one with the same id).
    pub async fn put_asset(&self, asset: Asset) -> Result<Asset> {
        check_id("id", &asset.id)?;
        if let Some(category) = &asset.category {
            check_id("category", category)?;
        }
        if url::Url::parse(&asset.url).is_err() {
            return Err(Error::field("url", "not an absolute URL"));
        }
        if !(asset.duration.is_finite() && asset.duration > 0.0) {
            return Err(Error::field(
                "duration",
                "must be a positive number of seconds",
            ));
        }
        self.inner
            .db
            .write(vec![Op::PutAsset(asset.clone(), self.now())])
            .await?;
        Ok(asset)
    }

    /// Reads the VOD at `new.url` (duration, renditions) and stores it. An asset with the
    /// same URL is updated in place, keeping the fields not given (importing twice is
    /// harmless).
    pub async fn import(&self, new: NewAsset) -> Result<Asset> {
        let existing = self.assets().await?;
        let same_url = existing.iter().find(|a| a.url == new.url);
        let id = match (&new.id, same_url) {
            (Some(id), _) => id.clone(),
            (None, Some(a)) => a.id.clone(),
            (None, None) => {
                let base = id_from_url(&new.url);
                let mut id = base.clone();
                let mut n = 2;
                while existing.iter().any(|a| a.id == id) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
                id
            }
        };
        check_id("id", &id)?;
        let (duration, renditions) = match new.duration {
            Some(d) => (d, Vec::new()),
            None => {
                let p = probe::probe(&self.inner.http, &new.url).await?;
                (p.duration, p.renditions)
            }
        };
        // Importing a URL again refreshes what the playlists say and keeps the metadata
        // that is not given this time.
        let prev = same_url.filter(|a| a.id == id);
        let asset = Asset {
            title: new
                .title
                .or_else(|| prev.map(|a| a.title.clone()))
                .unwrap_or_else(|| id.clone()),
            description: new
                .description
                .or_else(|| prev.map(|a| a.description.clone()))
                .unwrap_or_default(),
            category: new
                .category
                .or_else(|| prev.and_then(|a| a.category.clone())),
            tags: if new.tags.is_empty() {
                prev.map(|a| a.tags.clone()).unwrap_or_default()
            } else {
                new.tags
            },
            thumbnail: new
                .thumbnail
                .or_else(|| prev.and_then(|a| a.thumbnail.clone())),
            available_from: new
                .available_from
                .or_else(|| prev.and_then(|a| a.available_from)),
            available_until: new
                .available_until
                .or_else(|| prev.and_then(|a| a.available_until)),
            id,
            url: new.url,
            duration,
            renditions,
        };
        self.put_asset(asset).await
    }

    pub async fn delete_asset(&self, id: &str) -> Result<()> {
        self.asset(id).await?;
        self.inner.db.write(vec![Op::DeleteAsset(id.into())]).await
    }

    // ---- channels and schedules ----

    pub async fn channels(&self) -> Result<Vec<Channel>> {
        self.inner.db.channels().await
    }

    pub async fn channel(&self, id: &str) -> Result<Channel> {
        self.inner
            .db
            .channel(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("channel {id}")))
    }

    /// Creates or replaces a channel (its events stay; a given `auto` is refilled).
    pub async fn put_channel(&self, channel: Channel) -> Result<Channel> {
        check_id("id", &channel.id)?;
        {
            let _w = self.inner.write.lock().await;
            self.inner
                .db
                .write(vec![Op::PutChannel(channel.clone())])
                .await?;
        }
        if channel.auto.is_some() {
            self.refill(&channel.id).await?;
        }
        Ok(channel)
    }

    pub async fn delete_channel(&self, id: &str) -> Result<()> {
        self.channel(id).await?;
        let _w = self.inner.write.lock().await;
        self.inner
            .db
            .write(vec![Op::DeleteChannel(id.into())])
            .await
    }

    /// The events of `channel` overlapping `[from, to)`, by start time. What the engine
    /// adapter plays.
    pub async fn events_between(
        &self,
        channel: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<ScheduleEvent>> {
        self.channel(channel).await?;
        self.inner.db.events(channel, from, to).await
    }

    /// Stores the planned schedule `new` in place of `old`, in one transaction.
    async fn store(
        &self,
        channel: &str,
        old: &[ScheduleEvent],
        new: &[ScheduleEvent],
    ) -> Result<()> {
        plan::check(new).map_err(|e| Error::Db(format!("refusing to store a bad plan: {e}")))?;
        let before: HashMap<&str, &ScheduleEvent> =
            old.iter().map(|e| (e.id.as_str(), e)).collect();
        let after: HashMap<&str, &ScheduleEvent> = new.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut ops: Vec<Op> = old
            .iter()
            .filter(|e| !after.contains_key(e.id.as_str()))
            .map(|e| Op::DeleteEvent {
                channel: channel.into(),
                id: e.id.clone(),
            })
            .collect();
        ops.extend(
            new.iter()
                .filter(|e| before.get(e.id.as_str()) != Some(e))
                .map(|e| Op::PutEvent(e.clone())),
        );
        if ops.is_empty() {
            return Ok(());
        }
        self.inner.db.write(ops).await
    }

    fn fill_config(channel: &Channel) -> (FillConfig, Vec<Programme>) {
        match &channel.auto {
            Some(a) => (a.config.clone(), a.programmes.clone()),
            // Without auto-fill nothing is added, and nothing is dropped.
            None => (
                FillConfig {
                    horizon_hours: 0.0,
                    ..Default::default()
                },
                Vec::new(),
            ),
        }
    }

    /// The events a change at `now` may look at or rewrite: those ending after
    /// `now - LOOKBACK` (older ones are history: never read back, never rewritten).
    async fn recent(&self, channel: &str, now: Millis) -> Result<Vec<ScheduleEvent>> {
        self.inner
            .db
            .events(channel, now.saturating_sub(LOOKBACK_MS), Millis::MAX)
            .await
    }

    /// Tops up `channel`'s schedule at the current instant (see [`plan::fill`]).
    pub async fn refill(&self, channel: &str) -> Result<Vec<ScheduleEvent>> {
        let _w = self.inner.write.lock().await;
        let c = self.channel(channel).await?;
        let now = self.now();
        let old = self.recent(channel, now).await?;
        let (config, programmes) = Self::fill_config(&c);
        let new = plan::fill(channel, &config, &programmes, &old, now);
        self.store(channel, &old, &new).await?;
        if let Some(hours) = config.schedule_retention {
            let before = now - (hours.max(0.0) * 3_600_000.0) as Millis;
            self.inner
                .db
                .write(vec![Op::DeleteEventsBefore {
                    channel: channel.into(),
                    before,
                }])
                .await?;
        }
        Ok(new)
    }

    /// Adds a manual event; the auto events reflow around it. 409 if it overlaps another
    /// manual event.
    pub async fn add_event(&self, channel: &str, new: NewEvent) -> Result<ScheduleEvent> {
        let start =
            parse_time("start_time", new.start_time, new.start.as_deref())?.ok_or_else(|| {
                Error::field("start_time", "give start_time (ms) or start (ISO 8601)")
            })?;
        // Instants a date can name (1970 to 9999): the arithmetic below cannot overflow.
        const LAST: Millis = 253_402_300_799_999;
        if !(0..=LAST).contains(&start) {
            return Err(Error::field(
                "start_time",
                "must be in 1970-01-01..9999-12-31",
            ));
        }
        let end = match parse_time("end_time", new.end_time, new.end.as_deref())? {
            Some(e) => e,
            None => match new.duration {
                Some(d) if d.is_finite() && d > 0.0 && d <= 366.0 * 86_400.0 => {
                    start + (d * 1000.0).round() as Millis
                }
                Some(_) => {
                    return Err(Error::field("duration", "seconds, > 0 and at most a year"));
                }
                None => {
                    return Err(Error::field(
                        "end_time",
                        "give end_time (ms), end (ISO 8601) or duration (seconds > 0)",
                    ));
                }
            },
        };
        if !(0..=LAST).contains(&end) {
            return Err(Error::field(
                "end_time",
                "must be in 1970-01-01..9999-12-31",
            ));
        }
        let kind = new.kind.unwrap_or(EventType::Vod);
        if kind == EventType::Live && new.live_url.as_deref().is_none_or(str::is_empty) {
            return Err(Error::field("liveUrl", "a LIVE event needs liveUrl"));
        }
        // An AD event without a url is filled by the engine with the catalog's house ads.
        let url_needed = kind == EventType::Vod || (kind == EventType::Ad && !new.url.is_empty());
        if url_needed && url::Url::parse(&new.url).is_err() {
            return Err(Error::field(
                "url",
                "a VOD event needs an absolute url (an AD event: absolute or empty)",
            ));
        }
        for (i, b) in new.ad_breaks.iter().enumerate() {
            let length = (end - start) as f64 / 1000.0;
            if !(b.offset >= 0.0 && b.duration > 0.0 && b.offset + b.duration <= length) {
                return Err(Error::field(
                    format!("adBreaks[{i}]"),
                    "a break must lie inside the event",
                ));
            }
        }
        let id = new
            .id
            .unwrap_or_else(|| format!("{channel}-{}", uuid::Uuid::new_v4()));
        check_id("id", &id)?;
        let event = ScheduleEvent {
            id,
            channel_id: channel.into(),
            title: new.title.unwrap_or_else(|| match kind {
                EventType::Live => "Live".into(),
                EventType::Ad => "Advertisement".into(),
                EventType::Vod => "Programme".into(),
            }),
            start_time: start,
            end_time: end,
            start: String::new(),
            end: String::new(),
            url: new.url,
            duration: 0.0,
            kind,
            live_url: new.live_url,
            source: EventSource::Manual,
            asset_id: new.asset_id,
            seq: None,
            ad_breaks: new.ad_breaks,
        }
        .normalized();
        let _w = self.inner.write.lock().await;
        let c = self.channel(channel).await?;
        let now = self.now();
        let old = self.recent(channel, now).await?;
        let with = plan::add_manual(&old, event.clone(), now)?;
        let (config, programmes) = Self::fill_config(&c);
        let new = plan::fill(channel, &config, &programmes, &with, now);
        self.store(channel, &old, &new).await?;
        Ok(event)
    }

    /// Removes an event (a running one ends now); the auto events reflow into the space.
    pub async fn delete_event(&self, channel: &str, id: &str) -> Result<()> {
        let _w = self.inner.write.lock().await;
        let c = self.channel(channel).await?;
        let now = self.now();
        let old = self.recent(channel, now).await?;
        if !old.iter().any(|e| e.id == id) {
            return Err(Error::NotFound(format!("event {id} on channel {channel}")));
        }
        // A running event ends now (what was played stays in the record); others go.
        let without: Vec<ScheduleEvent> = old
            .iter()
            .filter_map(|e| {
                if e.id != id {
                    Some(e.clone())
                } else if e.start_time < now && now < e.end_time {
                    let mut cut = e.clone();
                    cut.end_time = now;
                    cut.ad_breaks.retain(|b| {
                        ((b.offset + b.duration) * 1000.0) as Millis <= now - e.start_time
                    });
                    Some(cut.normalized())
                } else {
                    None
                }
            })
            .collect();
        let (config, programmes) = Self::fill_config(&c);
        let new = plan::fill(channel, &config, &programmes, &without, now);
        self.store(channel, &old, &new).await
    }

    /// Reads the feed at `url` into programmes; entries without a duration are probed.
    pub async fn read_feed(&self, url: &str) -> Result<Vec<Programme>> {
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::source(url, e))?;
        if !response.status().is_success() {
            return Err(Error::source(url, format!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| Error::source(url, e))?;
        let entries = feeds::parse(&text)?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let duration = match e.duration {
                Some(d) if d > 0.0 => d,
                _ => probe::probe(&self.inner.http, &e.url).await?.duration,
            };
            out.push(e.programme(duration));
        }
        Ok(out)
    }

    /// `POST /api/v1/auto/mrss`: fill `channel_id` from a feed from now on.
    pub async fn set_auto_mrss(&self, req: AutoMrss) -> Result<Channel> {
        if !(req.config.horizon_hours.is_finite()
            && req.config.horizon_hours > 0.0
            && req.config.horizon_hours <= 24.0 * 31.0)
        {
            return Err(Error::field("config.horizonHours", "must be in (0, 744]"));
        }
        if let Some(p) = req.config.ad_events
            && !plan::policy_secs_ok(p.duration)
        {
            return Err(Error::field(
                "config.adEvents.duration",
                "must be in (0, 3600] seconds",
            ));
        }
        if let Some(p) = req.config.ad_breaks {
            if !(plan::policy_secs_ok(p.every) && p.every >= 1.0) {
                return Err(Error::field(
                    "config.adBreaks.every",
                    "must be in [1, 3600] seconds",
                ));
            }
            if !plan::policy_secs_ok(p.duration) {
                return Err(Error::field(
                    "config.adBreaks.duration",
                    "must be in (0, 3600] seconds",
                ));
            }
        }
        let mut channel = self.channel(&req.channel_id).await?;
        let programmes = self.read_feed(&req.url).await?;
        if programmes.is_empty() {
            return Err(Error::field(
                "url",
                "the feed has no entries with a video URL",
            ));
        }
        channel.auto = Some(AutoSource {
            url: req.url,
            config: req.config,
            programmes,
        });
        self.put_channel(channel).await
    }

    /// Re-reads every auto channel's feed (keeping the last programmes on failure) and
    /// tops up its schedule.
    pub async fn tick(&self, reread_feeds: bool) {
        let channels = match self.channels().await {
            Ok(c) => c,
            Err(e) => {
                metrics::counter!("schedule_errors_total", "kind" => "store").increment(1);
                tracing::warn!("schedule tick: {e}");
                return;
            }
        };
        for mut c in channels {
            let Some(auto) = c.auto.clone() else { continue };
            if reread_feeds {
                match self.read_feed(&auto.url).await {
                    Ok(p) if !p.is_empty() && p != auto.programmes => {
                        c.auto = Some(AutoSource {
                            programmes: p,
                            ..auto
                        });
                        let _w = self.inner.write.lock().await;
                        if let Err(e) = self.inner.db.write(vec![Op::PutChannel(c.clone())]).await {
                            tracing::warn!(channel = %c.id, "storing feed update: {e}");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        metrics::counter!("schedule_errors_total", "kind" => "feed").increment(1);
                        tracing::warn!(channel = %c.id, "feed {}: {e}", auto.url)
                    }
                }
            }
            let started = std::time::Instant::now();
            match self.refill(&c.id).await {
                Ok(_) => metrics::histogram!("schedule_refill_seconds")
                    .record(started.elapsed().as_secs_f64()),
                Err(e) => {
                    metrics::counter!("schedule_errors_total", "kind" => "refill").increment(1);
                    tracing::warn!(channel = %c.id, "refill: {e}");
                }
            }
        }
    }

    /// Tops up every auto channel every `every`, re-reading feeds every `feed_every`.
    pub fn spawn_background(
        &self,
        every: Duration,
        feed_every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let clock = this.inner.clock.clone();
            let mut last_feed = clock.instant();
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let now = clock.instant();
                let reread = now.saturating_duration_since(last_feed) >= feed_every;
                if reread {
                    last_feed = now;
                }
                this.tick(reread).await;
            }
        })
    }
}
