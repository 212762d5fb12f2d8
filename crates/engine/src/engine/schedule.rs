//! Scheduling: keeping a scope's schedule ahead of need (catching up with the store, asking
//! for and resolving the next items, appending them by compare-and-set), pruning and
//! trimming what left every window.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::live::chunk_segments;
use super::{Engine, Scope, Target};
use crate::adapters::NextItemRequest;
use crate::error::{Error, Result};
use crate::plan;
use crate::store::{LiveChunk, LogHeader};
use crate::timeline::{EntryMedia, Item, Millis, RenditionMedia, Schedule, fresh_epoch};

/// How long after leaving the window an entry is kept (pruned locally, trimmed from the
/// store after that).
pub(super) const HORIZON_MARGIN_MS: Millis = 60_000;

/// Entries trimmed from the store log at a time.
pub(super) const TRIM_BATCH: u64 = 32;

impl Engine {
    /// Where the scope's schedule ends (`None` before it is initialised or holds its first
    /// entry: an instant before the first entry still renders from it, so every replica
    /// must have read or appended that entry before rendering anything).
    pub(super) fn schedule_end(scope: &Scope) -> Option<Millis> {
        scope
            .schedule
            .read()
            .expect("schedule lock")
            .as_ref()
            .filter(|s| s.len_total() > 0)
            .map(|s| s.end_ms())
    }

    pub(super) fn covered(scope: &Scope, until: Millis) -> bool {
        Self::schedule_end(scope).is_some_and(|end| end > until)
    }

    /// Make sure the schedule covers `until` (fetching and appending items as needed).
    pub(super) async fn ensure(&self, scope: &Scope, until: Millis) -> Result<()> {
        if Self::covered(scope, until) {
            return Ok(());
        }
        let _guard = scope.sched_lock.lock().await;
        let ch = &scope.channel;
        let profile = self.profile(ch).await?;
        // Not after `until`: a request renders at the instant it read before calling us, and
        // an epoch after it would leave that render (a new session's first) empty.
        let now = self.now_ms().min(until);
        let opts = &self.inner.opts;
        // Entries that ended before this are not rendered again (pruned here, skipped on
        // catch-up, trimmed from the store).
        let horizon = now - opts.window.as_millis() as Millis - HORIZON_MARGIN_MS;
        let mut pending: Option<Item> = None;
        // A session's first item, asked for before its log existed (see below).
        let mut first: Option<Item> = None;
        if scope.schedule.read().expect("schedule lock").is_none() {
            let epoch_ms = match &scope.session {
                // A session starts with its first item, already listed for as long as a
                // player needs to start (see `timeline::fresh_epoch`).
                Some(_) => {
                    let item = self.next_item(scope).await;
                    let target = match item {
                        Item::Live { .. } => None,
                        _ => self
                            .resolve(ch, &profile, item.clone())
                            .await
                            .ok()
                            .map(|(_, m)| m.max_target()),
                    };
                    first = Some(item);
                    let least = profile.target_duration.unwrap_or(1);
                    fresh_epoch(now, target.unwrap_or(least).max(least))
                }
                None => now - opts.channel_prefill.unwrap_or(opts.window).as_millis() as Millis,
            };
            let header = self
                .inner
                .store
                .init_log(
                    &scope.key,
                    LogHeader {
                        epoch_ms,
                        renditions: profile.slots(),
                        min_target: profile.target_duration.unwrap_or(1),
                    },
                )
                .await?;
            *scope.schedule.write().expect("schedule lock") = Some(Schedule::new(
                header.epoch_ms,
                header.renditions,
                header.min_target,
            ));
        }
        // Rounds in a row whose append lost without anything to catch up with.
        let mut lost = 0;
        loop {
            // Catch up with what other replicas appended.
            let from = self.with_schedule(scope, |s| s.len_total());

            self.sync_open(scope).await?;
            let mut fetched = self.inner.store.entries_from(&scope.key, from).await?;
            // Entries that ended before the horizon are never rendered again: a replica
            // joining a long-running channel (or one the store trimmed past) resumes at the
            // first entry it needs instead of resolving every VOD the channel ever played.
            let keep = fetched
                .iter()
                .position(|e| e.open || e.end_ms() > horizon)
                .unwrap_or(fetched.len().saturating_sub(1));
            // An entry this replica still holds open while the store has entries after it
            // was closed elsewhere; if sync_open could not close it, its chunks and close
            // marker were trimmed: resume at the store's entries too.
            let mut stale_open = false;
            if !fetched.is_empty() && self.with_schedule(scope, |s| s.open_entry().is_some()) {
                // Read its state again (it may have been closed just after the first look).
                self.sync_open(scope).await?;
                stale_open = self.with_schedule(scope, |s| s.open_entry().is_some());
            }
            if let Some(first) = fetched.get(keep)
                && (keep > 0 || first.index != from || stale_open)
            {
                scope.live.lock().expect("live lock").take();
                self.with_schedule_mut(scope, |s| s.skip_to(first))?;
                metrics::counter!("engine_entries_skipped_total").increment(keep as u64);
                fetched.drain(..keep);
            }
            for mut e in fetched {
                let media = if e.open {
                    // Another replica's live entry: its first segments are its chunk 0, stored
                    // with the entry in one step (a log written without it cannot be read
                    // further: render what we have).
                    let st = self.inner.store.open_state(&scope.key, e.index, 0).await?;
                    let Some(c0) = st.chunks.first() else {
                        return Ok(());
                    };
                    EntryMedia::new(
                        c0.renditions
                            .iter()
                            .map(|t| chunk_segments(t).map(RenditionMedia::new))
                            .collect::<Result<_>>()?,
                    )?
                } else {
                    self.resolve(ch, &profile, e.item.clone()).await?.1
                };
                let media = Arc::new(media);
                let mut expected =
                    self.with_schedule(scope, |s| s.next_entry(e.item.clone(), media.clone()))?;
                expected.open = e.open;
                if expected != e {
                    return Err(Error::Unusable(format!(
                        "{}: entry {} resolves differently here than where it was scheduled",
                        scope.key, e.index
                    )));
                }
                e.media = Some(media);
                let open = e.open;
                self.with_schedule_mut(scope, |s| s.push(e))?;
                if open {
                    scope.live.lock().expect("live lock").take();
                    self.sync_open(scope).await?;
                }
            }
            let view = self.with_schedule(scope, |s| plan::View {
                open: s.open_entry().is_some(),
                end_ms: s.end_ms(),
                until,
            });
            match plan::step(&view) {
                plan::Step::PollLive => {
                    self.poll_live(scope, &profile).await?;
                    if self.with_schedule(scope, |s| s.open_entry().is_some()) {
                        // Nothing is scheduled past a live entry until it closes.
                        break;
                    }
                    continue;
                }
                plan::Step::Done => break,
                plan::Step::Schedule => {}
            }
            // The first item is used only at position 0 (another replica may have started
            // this session's schedule meanwhile: then ask again at the right position).
            let next = self.with_schedule(scope, |s| s.len_total());
            let first_item = first.take().filter(|_| next == 0);
            let item = match pending.take().or(first_item) {
                Some(i) => i,
                None => self.next_item(scope).await,
            };
            let at = self.with_schedule(scope, |s| s.end_ms());
            let resolved = match plan::place(&item, at) {
                plan::Placement::SlateFirst(slate) => {
                    // The slate until the live event starts, then the event.
                    let (slate, media) = self.resolve(ch, &profile, slate).await?;
                    self.append_entry(scope, slate, media, None).await?;
                    pending = Some(item);
                    continue;
                }
                plan::Placement::JoinLive => {
                    self.start_live(&profile, &item, at).await.map(|(m, f)| {
                        *scope.live.lock().expect("live lock") = Some(f);
                        (item.clone(), m)
                    })
                }
                plan::Placement::Resolve => self.resolve(ch, &profile, item.clone()).await,
            };
            let (item, media) = match resolved {
                Ok(x) => x,
                Err(e) => {
                    metrics::counter!("engine_asset_failures_total", "kind" => item.kind())
                        .increment(1);
                    tracing::warn!(scope = %scope.key, item = ?item, error = %e, "item unusable, playing slate");
                    // A failed live event is replaced by the slate until its end.
                    let slate = plan::fallback(&item, at, &e.to_string());
                    self.resolve(ch, &profile, slate).await?
                }
            };
            // A live entry goes to the store with chunk 0 (its first segments) in one step.
            let feed = match item {
                Item::Live { .. } => scope.live.lock().expect("live lock").take(),
                _ => None,
            };
            let chunk0 = feed.as_ref().map(|f| {
                let first = f.next_seq - f.segments[0].len() as u64;
                f.chunk(0, first)
            });
            let won = self
                .append_entry(scope, item, media, chunk0.as_ref())
                .await?;
            if won {
                lost = 0;
            } else if self
                .inner
                .store
                .entries_from(&scope.key, next)
                .await?
                .is_empty()
            {
                // Lost, yet nothing to catch up with: the store does not hold this log
                // (Redis restarted empty). Re-seed it from this replica's schedule once.
                lost += 1;
                let header = self.with_schedule(scope, |s| LogHeader {
                    epoch_ms: s.epoch_ms,
                    renditions: s.renditions,
                    min_target: s.min_target,
                });
                let restored = self
                    .inner
                    .store
                    .restore_log(&scope.key, header, next)
                    .await?;
                if restored {
                    tracing::warn!(scope = %scope.key, next_index = next, "the store had lost this schedule log; re-seeded it");
                    metrics::counter!("engine_log_restores_total").increment(1);
                }
                if plan::after_lost_append(restored, lost) == plan::AfterLostAppend::Fail {
                    return Err(Error::Store(format!(
                        "{}: the store's log does not continue this replica's schedule at entry {next}",
                        scope.key
                    )));
                }
            }
            if let (true, Some(mut feed), Some(c)) = (won, feed, chunk0) {
                // From here on, the stored form (what other replicas render).
                feed.segments.iter_mut().for_each(Vec::clear);
                feed.apply(&c)?;
                let media = Arc::new(feed.media()?);
                self.with_schedule_mut(scope, |s| s.extend_open(media))?;
                *scope.live.lock().expect("live lock") = Some(feed);
            }
        }
        self.with_schedule_mut(scope, |s| {
            s.prune_before(horizon);
            Ok(())
        })?;
        self.trim_store(scope).await;
        Ok(())
    }

    /// Ask the asset manager for the scope's next item (the slate when it fails).
    pub(super) async fn next_item(&self, scope: &Scope) -> Item {
        let ch = &scope.channel;
        // The item's position in the log, where it starts, and the target duration in force
        // there (the rounding a clock-driven adapter allows at a programme boundary).
        // Before the schedule exists (a session's first item is asked for to place its
        // epoch, see `ensure`): position 0 at the session's start (`fresh_epoch`).
        let least = ch
            .profile
            .get()
            .and_then(|p| p.target_duration)
            .unwrap_or(1);
        let (position, at, target) = match scope.schedule.read().expect("schedule lock").as_ref() {
            Some(s) => (
                s.len_total(),
                s.end_ms(),
                s.entries
                    .back()
                    .map_or(s.min_target, |e| e.target_duration)
                    .max(s.min_target),
            ),
            None => (0, fresh_epoch(self.now_ms(), least), least),
        };
        let req = NextItemRequest {
            channel: ch.config.id.clone(),
            session: scope.session.as_ref().map(|s| s.id.clone()),
            category: scope.session.as_ref().and_then(|s| s.category.clone()),
            playlist: scope.session.as_ref().and_then(|s| s.playlist.clone()),
            position,
            at_ms: Some(at),
            target_ms: Some(target * 1000),
        };
        let asked = tokio::time::timeout(
            self.inner.opts.load_timeout,
            self.inner.assets.next_item(req),
        )
        .await;
        match asked {
            // Bounded: an entry's media is built in memory, whatever the adapter answered.
            Ok(Ok(i)) => {
                let guard = scope.schedule.read().expect("schedule lock");
                let last = guard.as_ref().and_then(|s| {
                    s.entries.iter().rev().find_map(|e| match &e.item {
                        Item::Programme { programme, .. } => Some(programme),
                        Item::Live { programme, .. } => programme.as_ref(),
                        _ => None,
                    })
                });
                plan::announce(plan::bounded(i), last)
            }
            Ok(Err(e)) => {
                metrics::counter!("engine_adapter_errors_total").increment(1);
                tracing::warn!(scope = %scope.key, error = %e, "asset manager failed, playing slate");
                Item::Slate {
                    reason: Some(format!("asset manager: {e}")),
                    duration_ms: None,
                }
            }
            Err(_) => {
                metrics::counter!("engine_adapter_errors_total").increment(1);
                Item::Slate {
                    reason: Some("asset manager timed out".into()),
                    duration_ms: None,
                }
            }
        }
    }

    /// Trim the store's log below the first entry this replica still holds, in batches of
    /// [`TRIM_BATCH`] (every replica would prune the same entries; trimming twice is
    /// harmless). A failure is logged: the log only grows until the next success.
    pub(super) async fn trim_store(&self, scope: &Scope) {
        let Some(first) = self.with_schedule(scope, |s| s.entries.front().map(|e| e.index)) else {
            return;
        };
        if first < scope.trimmed.load(Ordering::Relaxed) + TRIM_BATCH {
            return;
        }
        match self.inner.store.trim(&scope.key, first).await {
            Ok(()) => {
                scope.trimmed.store(first, Ordering::Relaxed);
                metrics::counter!("engine_log_trims_total").increment(1);
            }
            Err(e) => {
                tracing::warn!(scope = %scope.key, error = %e, "trimming the schedule log failed")
            }
        }
    }

    /// Compare-and-append the next entry to the store log and, when it won, to the local
    /// schedule. `false`: another replica appended first (the caller catches up).
    pub(super) async fn append_entry(
        &self,
        scope: &Scope,
        item: Item,
        media: EntryMedia,
        first_chunk: Option<&LiveChunk>,
    ) -> Result<bool> {
        let mut entry = self.with_schedule(scope, |s| s.next_entry(item, Arc::new(media)))?;
        entry.open = first_chunk.is_some();
        if !self
            .inner
            .store
            .append(&scope.key, &entry, first_chunk)
            .await?
        {
            return Ok(false);
        }
        metrics::counter!("engine_items_scheduled_total", "kind" => entry.item.kind()).increment(1);
        tracing::debug!(scope = %scope.key, index = entry.index, item = ?entry.item, "scheduled");
        self.with_schedule_mut(scope, |s| s.push(entry))?;
        Ok(true)
    }

    pub(super) fn with_schedule<T>(&self, scope: &Scope, f: impl FnOnce(&Schedule) -> T) -> T {
        f(scope
            .schedule
            .read()
            .expect("schedule lock")
            .as_ref()
            .expect("initialised"))
    }

    pub(super) fn with_schedule_mut<T>(
        &self,
        scope: &Scope,
        f: impl FnOnce(&mut Schedule) -> Result<T>,
    ) -> Result<T> {
        f(scope
            .schedule
            .write()
            .expect("schedule lock")
            .as_mut()
            .expect("initialised"))
    }

    /// Prefetch in the background when the schedule runs out within the lookahead (the
    /// caller checked that it does: `until` = now + lookahead is not covered).
    pub(super) fn prefetch(&self, scope: &Arc<Scope>, until: Millis) {
        if scope.sched_lock.try_lock().is_err() {
            return;
        }
        let (engine, scope) = (self.clone(), scope.clone());
        tokio::spawn(async move {
            if let Err(e) = engine.ensure(&scope, until).await {
                tracing::warn!(scope = %scope.key, error = %e, "prefetch failed");
            }
        });
    }

    /// Start every channel's schedule now (optional; channels also start on first request).
    pub async fn warm_up(&self) {
        let now = self.now_ms();
        let until = now + self.inner.opts.lookahead.as_millis() as Millis;
        for id in self.channel_ids() {
            let r = async {
                let scope = self.scope(&Target::Channel(id.clone())).await?;
                let r = self.ensure(&scope, until).await;
                self.note_store(&r);
                r
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(channel = %id, error = %e, "could not schedule channel");
            }
        }
    }
}
