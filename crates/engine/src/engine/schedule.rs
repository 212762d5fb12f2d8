//! Scheduling: the driver of a scope's scheduling round (the policy is the pure
//! [`crate::plan::round::Round`]; this file performs what it asks: the asset manager, VOD and
//! live source fetches, the store's reads and compare-and-sets), and the helpers it shares
//! with the live switch.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Engine, Scope, Target};
use crate::adapters::NextItemRequest;
use crate::error::Result;
use crate::plan;
use crate::plan::round::{Action, Event, Round, RoundInput};
use crate::profile::Profile;
use crate::store::LiveChunk;
use crate::timeline::{Entry, EntryMedia, Item, Millis, Schedule, fresh_epoch};

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

    /// Make sure the schedule covers `until`: drive one [`Round`] (the policy), performing
    /// each action it asks for and handing it the outcome. The round steps under the
    /// schedule's write lock, never held across an await.
    pub(super) async fn ensure(&self, scope: &Scope, until: Millis) -> Result<()> {
        if Self::covered(scope, until) {
            return Ok(());
        }
        let _guard = scope.sched_lock.lock().await;
        let profile = self.profile(&scope.channel).await?;
        let opts = &self.inner.opts;
        let mut round = Round::new(RoundInput {
            // Not after `until` (see `RoundInput::now`).
            now: self.now_ms().min(until),
            until,
            window_ms: opts.window.as_millis() as Millis,
            prefill_ms: opts.channel_prefill.unwrap_or(opts.window).as_millis() as Millis,
            session: scope.session.is_some(),
            min_target: profile.target_duration,
            slots: profile.slots(),
            trimmed: scope.trimmed.load(Ordering::Relaxed),
        });
        let mut event = Event::Start;
        loop {
            let action = round.handle(event, &mut scope.schedule.write().expect("schedule lock"));
            event = match action? {
                Action::Finished => return Ok(()),
                action => self.perform(scope, &profile, action).await?,
            };
        }
    }

    /// Perform one of a round's actions; the outcome is the round's next event.
    async fn perform(&self, scope: &Scope, profile: &Profile, action: Action) -> Result<Event> {
        let (ch, store, key) = (&scope.channel, &self.inner.store, &scope.key);
        Ok(match action {
            Action::AskNextItem => Event::NextItem(self.next_item(scope).await),
            Action::Resolve(item) => Event::Resolved(self.resolve(ch, profile, item).await),
            Action::Fallback {
                failed,
                error,
                slate,
            } => {
                metrics::counter!("engine_asset_failures_total", "kind" => failed.kind())
                    .increment(1);
                tracing::warn!(scope = %key, item = ?failed, error = %error, "item unusable, playing slate");
                Event::Resolved(self.resolve(ch, profile, slate).await)
            }
            Action::InitLog(header) => Event::LogInit(store.init_log(key, header).await?),
            Action::ReadEntries(from) => Event::Entries(store.entries_from(key, from).await?),
            Action::ReadOpen(index) => Event::OpenState(store.open_state(key, index, 0).await?),
            Action::JoinLive { item, at } => {
                Event::Joined(self.start_live(profile, &item, at).await)
            }
            Action::Append { entry, chunk0 } => {
                Event::Appended(self.store_append(scope, &entry, chunk0.as_ref()).await?)
            }
            Action::Restore { header, next } => {
                let restored = store.restore_log(key, header, next).await?;
                if restored {
                    tracing::warn!(scope = %key, next_index = next, "the store had lost this schedule log; re-seeded it");
                    metrics::counter!("engine_log_restores_total").increment(1);
                }
                Event::Restored(restored)
            }
            Action::SyncOpen => self.sync_open(scope).await.map(|()| Event::Performed)?,
            Action::PollLive => self
                .poll_live(scope, profile)
                .await
                .map(|()| Event::Performed)?,
            Action::DropFeed { skipped } => {
                scope.live.lock().expect("live lock").take();
                if let Some(n) = skipped {
                    metrics::counter!("engine_entries_skipped_total").increment(n);
                }
                Event::Performed
            }
            Action::KeepFeed(feed) => {
                *scope.live.lock().expect("live lock") = Some(feed);
                Event::Performed
            }
            Action::Trim(before) => {
                match store.trim(key, before).await {
                    Ok(()) => {
                        scope.trimmed.store(before, Ordering::Relaxed);
                        metrics::counter!("engine_log_trims_total").increment(1);
                    }
                    Err(e) => {
                        tracing::warn!(scope = %key, error = %e, "trimming the schedule log failed")
                    }
                }
                Event::Performed
            }
            Action::Finished => Event::Performed,
        })
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
        if !self.store_append(scope, &entry, first_chunk).await? {
            return Ok(false);
        }
        self.with_schedule_mut(scope, |s| s.push(entry))?;
        Ok(true)
    }

    /// Compare-and-append `entry` to the store log (counted and logged when it won).
    async fn store_append(
        &self,
        scope: &Scope,
        entry: &Entry,
        first_chunk: Option<&LiveChunk>,
    ) -> Result<bool> {
        if !self
            .inner
            .store
            .append(&scope.key, entry, first_chunk)
            .await?
        {
            return Ok(false);
        }
        metrics::counter!("engine_items_scheduled_total", "kind" => entry.item.kind()).increment(1);
        tracing::debug!(scope = %scope.key, index = entry.index, item = ?entry.item, "scheduled");
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
