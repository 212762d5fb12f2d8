//! The live switch: a live source's open entry, grown from the source's polls and shared
//! with other replicas through the store's chunks (see the crate doc's *Live switch*).

use std::sync::Arc;

use super::{Engine, Scope};
use crate::error::{Error, Result};
use crate::plan;
use crate::plan::feed::LiveFeed;
use crate::profile::{Profile, live_snapshot};
use crate::timeline::{EntryMedia, Item, Millis};

/// Segments a live entry starts behind the source's newest one, so the next source segment
/// is normally fetched before the timeline needs to publish it.
pub(super) const LIVE_HOLD_BACK: u64 = 1;

/// Least time between two looks at a live source (engine clock).
pub(super) const LIVE_POLL_MS: Millis = 500;

impl Engine {
    /// Join a live source at `at`: its newest segments but [`LIVE_HOLD_BACK`], matched to
    /// the profile's slots.
    pub(super) async fn start_live(
        &self,
        profile: &Profile,
        item: &Item,
        at: Millis,
    ) -> Result<(EntryMedia, LiveFeed)> {
        let Item::Live { url, end_ms, .. } = item else {
            return Err(Error::Unusable("not a live item".into()));
        };
        if *end_ms <= at {
            return Err(Error::Unusable(format!("live event {url} is already over")));
        }
        let snap = live_snapshot(profile, &self.inner.vods.live(url).await?)?;
        let newest = snap
            .first()
            .filter(|s| !s.segments.is_empty())
            .map(|s| s.first_seq + s.segments.len() as u64 - 1)
            .ok_or_else(|| Error::Unusable(format!("live source {url} has no segments")))?;
        let mut feed = LiveFeed {
            url: url.clone(),
            end_ms: *end_ms,
            next_seq: newest.saturating_sub(LIVE_HOLD_BACK),
            segments: vec![Vec::new(); snap.len()],
            last_poll_ms: self.now_ms(),
            chunks: 0,
        };
        if feed.take(&snap, (end_ms - at) as u64) == 0 {
            return Err(Error::Unusable(format!(
                "live source {url}: no segment fits before the event ends"
            )));
        }
        metrics::counter!("engine_live_switches_total").increment(1);
        tracing::info!(url = %url, from_seq = feed.next_seq, "switching to live");
        Ok((feed.media()?, feed))
    }

    /// Grow the open live entry with what the source published since the last look (at
    /// most every [`LIVE_POLL_MS`]); close it when the next segment would end after the
    /// event's end, when the event is over, or when the source has run dry for
    /// [`plan::LIVE_STALL_TARGETS`] target durations (then the slate fills until the event's end).
    pub(super) async fn poll_live(&self, scope: &Scope, profile: &Profile) -> Result<()> {
        let now = self.now_ms();
        let feed = scope.live.lock().expect("live lock").take();
        let Some(mut feed) = feed else {
            // An open entry whose chunks are not in the store yet: wait for them (sync_open).
            return Ok(());
        };
        let Some((index, start)) =
            self.with_schedule(scope, |s| s.open_entry().map(|e| (e.index, e.start_ms)))
        else {
            return Ok(());
        };
        let budget = (feed.end_ms - start).max(0) as u64;
        let mut ended = false;
        if now - feed.last_poll_ms >= LIVE_POLL_MS {
            feed.last_poll_ms = now;
            match self
                .inner
                .vods
                .live(&feed.url)
                .await
                .and_then(|l| live_snapshot(profile, &l))
            {
                Ok(snap) => {
                    let (lens, seq) = (
                        feed.segments.iter().map(Vec::len).collect::<Vec<_>>(),
                        feed.next_seq,
                    );
                    if feed.take(&snap, budget) > 0 {
                        let first = feed.next_seq - (feed.segments[0].len() - lens[0]) as u64;
                        let c = feed.chunk(lens[0], first);
                        if !self
                            .inner
                            .store
                            .extend_open(&scope.key, index, feed.chunks, &c)
                            .await?
                        {
                            // Another replica extended first: take its chunk instead.
                            metrics::counter!("engine_live_chunk_conflicts_total").increment(1);
                            for (s, n) in feed.segments.iter_mut().zip(lens) {
                                s.truncate(n);
                            }
                            feed.next_seq = seq;
                            *scope.live.lock().expect("live lock") = Some(feed);
                            return self.sync_open(scope).await;
                        }
                        // Keep what the store holds (what other replicas render), not the
                        // source's parse: the same bytes everywhere.
                        for (s, n) in feed.segments.iter_mut().zip(&lens) {
                            s.truncate(*n);
                        }
                        feed.apply(&c)?;
                        let media = Arc::new(feed.media()?);
                        self.with_schedule_mut(scope, |s| s.extend_open(media))?;
                    }
                    let newest = snap
                        .iter()
                        .map(|s| s.first_seq + s.segments.len() as u64)
                        .min()
                        .unwrap_or(0);
                    ended = snap.iter().any(|s| s.ended) && feed.next_seq >= newest;
                }
                Err(e) => {
                    metrics::counter!("engine_live_poll_errors_total").increment(1);
                    tracing::warn!(scope = %scope.key, url = %feed.url, error = %e, "live source poll failed");
                }
            }
        }
        let (end, target) = self.with_schedule(scope, |s| {
            s.open_entry()
                .map(|e| (e.end_ms(), e.target_duration))
                .unwrap_or((start, 1))
        });
        let view = plan::LiveView {
            now,
            entry_end_ms: end,
            target,
            last_segment_ms: feed.segments[0].last().map(|s| s.dur_ms).unwrap_or(1) as Millis,
            event_end_ms: feed.end_ms,
            source_ended: ended,
        };
        let plan::LiveDecision::Close { stalled, fill } = plan::live_after_poll(&view, &feed.url)
        else {
            *scope.live.lock().expect("live lock") = Some(feed);
            return Ok(());
        };
        if !self
            .inner
            .store
            .close_open(&scope.key, index, feed.chunks)
            .await?
        {
            // Extended or closed elsewhere meanwhile: follow the store.
            *scope.live.lock().expect("live lock") = Some(feed);
            return self.sync_open(scope).await;
        }
        tracing::info!(scope = %scope.key, url = %feed.url, stalled, ended, "live entry closed");
        self.with_schedule_mut(scope, |s| {
            s.close_open();
            Ok(())
        })?;
        if let Some(slate) = fill {
            let (slate, media) = self.resolve(&scope.channel, profile, slate).await?;
            self.append_entry(scope, slate, media, None).await?;
        }
        Ok(())
    }

    /// Bring the local open entry (if any) up to the store: chunks other replicas appended
    /// and its close. Without a local feed (another replica appended the entry, or a
    /// restart), the feed is rebuilt from all the entry's chunks; this process then polls the
    /// source too, and the store's compare-and-set keeps the replicas on one list.
    pub(super) async fn sync_open(&self, scope: &Scope) -> Result<()> {
        let Some((index, item, slots)) = self.with_schedule(scope, |s| {
            s.open_entry()
                .map(|e| (e.index, e.item.clone(), s.renditions))
        }) else {
            return Ok(());
        };
        let Item::Live { url, end_ms, .. } = item else {
            return Ok(());
        };
        let feed = scope.live.lock().expect("live lock").take();
        let rebuilt = feed.is_none();
        let mut feed = feed.unwrap_or_else(|| LiveFeed {
            url,
            end_ms,
            next_seq: 0,
            segments: vec![Vec::new(); slots],
            last_poll_ms: Millis::MIN / 2,
            chunks: 0,
        });
        let st = self
            .inner
            .store
            .open_state(&scope.key, index, feed.chunks)
            .await?;
        for c in &st.chunks {
            feed.apply(c)?;
        }
        if feed.chunks == 0 {
            // Chunk 0 not written yet: nothing to rebuild from.
            return Ok(());
        }
        if rebuilt || !st.chunks.is_empty() {
            let media = Arc::new(feed.media()?);
            self.with_schedule_mut(scope, |s| s.extend_open(media))?;
        }
        if st.closed_at == Some(feed.chunks) {
            self.with_schedule_mut(scope, |s| {
                s.close_open();
                Ok(())
            })?;
            return Ok(());
        }
        *scope.live.lock().expect("live lock") = Some(feed);
        Ok(())
    }
}
