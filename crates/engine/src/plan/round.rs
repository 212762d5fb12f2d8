//! One scheduling round of a scope, sans I/O: what `Engine::ensure` drives.
//!
//! A [`Round`] is given the instant and what the scope needs ([`RoundInput`]), and then the
//! outcome of each [`Action`] it asked for as an [`Event`]; it answers the next action. It
//! holds the round's own state (the item waiting behind a slate, a session's first item, a
//! live feed between joining its source and appending its entry, how many appends in a row
//! lost) and makes every decision on the scope's [`Schedule`], which the driver lends it for
//! each step (under the schedule's write lock, never across an await). The driver performs
//! the actions: the asset manager, VOD and live source fetches, the store's reads and
//! compare-and-sets, the scope's live feed, metrics and logs. So the whole policy (store
//! catch-up, horizon skip, live chunks, plan steps, compare-and-set append, re-seed, trim)
//! runs in tests on a made-up clock, without tasks, stores or sleeps.
//!
//! A round, in order:
//! 1. a scope without a schedule writes its log header first (a session asks for its first
//!    item before, to place its epoch);
//! 2. catch-up: bring the open live entry up to the store, read the entries other replicas
//!    appended, skip those that ended before the horizon, replay the rest;
//! 3. [`super::step`]: poll the open live entry, stop, or schedule one more item
//!    ([`super::place`]: resolved, live joined, or the slate first), append it by
//!    compare-and-set, and catch up again (a lost append with nothing to catch up with
//!    re-seeds a log the store lost, once);
//! 4. prune what left every window and trim the store's log in batches.

use std::collections::VecDeque;
use std::sync::Arc;

use super::feed::{LiveFeed, chunk_segments};
use super::{AfterLostAppend, Placement, Step, View, after_lost_append, fallback, place, step};
use crate::error::{Error, Result};
use crate::store::{LiveChunk, LogHeader, OpenState};
use crate::timeline::{Entry, EntryMedia, Item, Millis, RenditionMedia, Schedule, fresh_epoch};

/// How long after leaving the window an entry is kept (pruned locally, trimmed from the
/// store after that).
pub const HORIZON_MARGIN_MS: Millis = 60_000;

/// Entries trimmed from the store log at a time.
pub const TRIM_BATCH: u64 = 32;

/// What a round is given when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundInput {
    /// The instant the round plans at (not after `until`: a request renders at the instant
    /// it read before asking, and an epoch after it would leave that render empty).
    pub now: Millis,
    /// The instant the schedule must cover (exclusive end).
    pub until: Millis,
    /// The live window's length.
    pub window_ms: Millis,
    /// How much already-elapsed schedule a new channel starts with.
    pub prefill_ms: Millis,
    /// A session's scope (its first item places its epoch), not a channel's.
    pub session: bool,
    /// The profile's target duration, seconds, if it sets one.
    pub min_target: Option<u64>,
    /// The profile's rendition slots.
    pub slots: usize,
    /// Entries below this index were trimmed from the store already (by this process).
    pub trimmed: u64,
}

/// What the driver does next; each answers with the [`Event`] named.
#[derive(Debug)]
pub enum Action {
    /// Ask the asset manager for the scope's next item: [`Event::NextItem`].
    AskNextItem,
    /// Resolve an item to its media: [`Event::Resolved`].
    Resolve(Item),
    /// `failed` cannot be used (`error`): count and log it, resolve `slate` instead:
    /// [`Event::Resolved`].
    Fallback {
        failed: Item,
        error: String,
        slate: Item,
    },
    /// Write the scope's log header (the first writer wins): [`Event::LogInit`].
    InitLog(LogHeader),
    /// Bring the open live entry up to the store: [`Event::Performed`].
    SyncOpen,
    /// Read the store's entries from this index on: [`Event::Entries`].
    ReadEntries(u64),
    /// Read the open entry at this index from its chunk 0 on: [`Event::OpenState`].
    ReadOpen(u64),
    /// Drop the scope's live feed; `skipped`: it is dropped because the schedule skipped
    /// to the store's entries, this many of them (count them): [`Event::Performed`].
    DropFeed { skipped: Option<u64> },
    /// Grow or close the open live entry: [`Event::Performed`].
    PollLive,
    /// Join the live source of `item` at `at`: [`Event::Joined`].
    JoinLive { item: Item, at: Millis },
    /// Compare-and-append `entry` to the store's log (a live entry with its chunk 0, in one
    /// step): [`Event::Appended`].
    Append {
        entry: Entry,
        chunk0: Option<LiveChunk>,
    },
    /// Re-seed the store's log (it lost it) to continue at `next`: [`Event::Restored`].
    Restore { header: LogHeader, next: u64 },
    /// Keep this feed as the scope's live feed: [`Event::Performed`].
    KeepFeed(LiveFeed),
    /// Trim the store's log below this index (on success the driver records it as trimmed;
    /// a failure is only logged): [`Event::Performed`].
    Trim(u64),
    /// The round is over.
    Finished,
}

/// The outcome of the last [`Action`] (or the round's start).
#[derive(Debug)]
pub enum Event {
    Start,
    /// The action had no result to report.
    Performed,
    NextItem(Item),
    Resolved(Result<(Item, EntryMedia)>),
    LogInit(LogHeader),
    Entries(Vec<Entry>),
    OpenState(OpenState),
    Joined(Result<(EntryMedia, LiveFeed)>),
    Appended(bool),
    Restored(bool),
}

/// What the round waits for.
#[derive(Debug)]
enum Phase {
    Start,
    /// A session's first item, then its target duration.
    FirstItem,
    FirstTarget(Item),
    InitLog,
    /// Catch-up: the open entry synced, then the store's entries from `from`.
    Synced {
        from: u64,
    },
    Fetched {
        from: u64,
    },
    /// The open entry synced again before deciding on a skip.
    StaleSynced {
        from: u64,
        fetched: Vec<Entry>,
        keep: usize,
    },
    /// Replaying the store's entries: the one waiting for its media, then the rest.
    ReplayOpen {
        entry: Entry,
        rest: VecDeque<Entry>,
    },
    ReplayResolved {
        entry: Entry,
        rest: VecDeque<Entry>,
    },
    /// After the skip's feed drop, or an open entry's.
    Replay {
        rest: VecDeque<Entry>,
        sync: bool,
    },
    Polled,
    Asked,
    SlateResolved {
        pending: Item,
    },
    SlateAppended {
        entry: Entry,
        pending: Item,
    },
    Joined {
        item: Item,
        at: Millis,
    },
    Resolved {
        item: Item,
        at: Millis,
    },
    FellBack,
    Appended {
        entry: Entry,
        feed: Option<(LiveFeed, LiveChunk)>,
        next: u64,
    },
    LostRead {
        next: u64,
    },
    Restored {
        next: u64,
    },
    FeedKept,
    Trimmed,
    Finished,
}

/// One scheduling round (see the module doc).
#[derive(Debug)]
pub struct Round {
    input: RoundInput,
    phase: Phase,
    /// A live item waiting behind its slate.
    pending: Option<Item>,
    /// A session's first item, asked for before its log existed.
    first: Option<Item>,
    /// Rounds in a row whose append lost without anything to catch up with.
    lost: u32,
}

fn unexpected(phase: &Phase, ev: &Event) -> Error {
    Error::Internal(format!(
        "scheduling round: {ev:?} while waiting in {phase:?}"
    ))
}

fn initialised(sched: &mut Option<Schedule>) -> &mut Schedule {
    sched.as_mut().expect("initialised")
}

impl Round {
    pub fn new(input: RoundInput) -> Self {
        Self {
            input,
            phase: Phase::Start,
            pending: None,
            first: None,
            lost: 0,
        }
    }

    /// Entries that ended before this are not rendered again (pruned here, skipped on
    /// catch-up, trimmed from the store).
    pub fn horizon(&self) -> Millis {
        self.input.now - self.input.window_ms - HORIZON_MARGIN_MS
    }

    /// The next action after `ev`, on the scope's schedule `sched` (`None` until the log
    /// header is read). An error ends the round.
    pub fn handle(&mut self, ev: Event, sched: &mut Option<Schedule>) -> Result<Action> {
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (phase, ev) {
            (Phase::Start, Event::Start) => Ok(self.start(sched)),
            (Phase::FirstItem, Event::NextItem(item)) => Ok(match item {
                Item::Live { .. } => self.init_log(item, None),
                _ => {
                    self.phase = Phase::FirstTarget(item.clone());
                    Action::Resolve(item)
                }
            }),
            (Phase::FirstTarget(item), Event::Resolved(r)) => {
                Ok(self.init_log(item, r.ok().map(|(_, m)| m.max_target())))
            }
            (Phase::InitLog, Event::LogInit(h)) => {
                *sched = Some(Schedule::new(h.epoch_ms, h.renditions, h.min_target));
                Ok(self.catch_up(initialised(sched)))
            }
            (Phase::Synced { from }, Event::Performed) => {
                self.phase = Phase::Fetched { from };
                Ok(Action::ReadEntries(from))
            }
            (Phase::Fetched { from }, Event::Entries(fetched)) => {
                self.fetched(initialised(sched), from, fetched)
            }
            (
                Phase::StaleSynced {
                    from,
                    fetched,
                    keep,
                },
                Event::Performed,
            ) => {
                let s = initialised(sched);
                let stale_open = s.open_entry().is_some();
                self.skip(s, from, fetched, keep, stale_open)
            }
            (Phase::Replay { rest, sync }, Event::Performed) => {
                if sync {
                    self.phase = Phase::Replay { rest, sync: false };
                    return Ok(Action::SyncOpen);
                }
                self.replay(initialised(sched), rest)
            }
            (Phase::ReplayOpen { entry, rest }, Event::OpenState(st)) => {
                // Another replica's live entry: its first segments are its chunk 0, stored
                // with the entry in one step (a log written without it cannot be read
                // further: render what we have).
                let Some(c0) = st.chunks.first() else {
                    return Ok(Action::Finished);
                };
                let media = EntryMedia::new(
                    c0.renditions
                        .iter()
                        .map(|t| chunk_segments(t).map(RenditionMedia::new))
                        .collect::<Result<_>>()?,
                )?;
                self.replayed(initialised(sched), entry, media, rest)
            }
            (Phase::ReplayResolved { entry, rest }, Event::Resolved(r)) => {
                self.replayed(initialised(sched), entry, r?.1, rest)
            }
            (phase, ev) => self.handle_scheduling(phase, ev, sched),
        }
    }

    /// [`Round::handle`] from the plan step on: scheduling one item and appending it.
    fn handle_scheduling(
        &mut self,
        phase: Phase,
        ev: Event,
        sched: &mut Option<Schedule>,
    ) -> Result<Action> {
        match (phase, ev) {
            (Phase::Polled, Event::Performed) => {
                let s = initialised(sched);
                // Nothing is scheduled past a live entry until it closes.
                Ok(if s.open_entry().is_some() {
                    self.finish(s)
                } else {
                    self.catch_up(s)
                })
            }
            (Phase::Asked, Event::NextItem(item)) => Ok(self.place(initialised(sched), item)),
            (Phase::SlateResolved { pending }, Event::Resolved(r)) => {
                let (slate, media) = r?;
                let mut entry = initialised(sched).next_entry(slate, Arc::new(media))?;
                entry.open = false;
                self.phase = Phase::SlateAppended {
                    entry: entry.clone(),
                    pending,
                };
                Ok(Action::Append {
                    entry,
                    chunk0: None,
                })
            }
            (Phase::SlateAppended { entry, pending }, Event::Appended(won)) => {
                let s = initialised(sched);
                if won {
                    s.push(entry)?;
                }
                self.pending = Some(pending);
                Ok(self.catch_up(s))
            }
            (Phase::Joined { item, at }, Event::Joined(r)) => match r {
                Ok((media, feed)) => self.append(initialised(sched), item, media, Some(feed)),
                Err(e) => Ok(self.fall_back(item, at, e)),
            },
            (Phase::Resolved { item, at }, Event::Resolved(r)) => match r {
                Ok((item, media)) => self.append(initialised(sched), item, media, None),
                Err(e) => Ok(self.fall_back(item, at, e)),
            },
            (Phase::FellBack, Event::Resolved(r)) => {
                let (item, media) = r?;
                self.append(initialised(sched), item, media, None)
            }
            (Phase::Appended { entry, feed, next }, Event::Appended(won)) => {
                self.appended(initialised(sched), entry, feed, next, won)
            }
            (Phase::LostRead { next }, Event::Entries(v)) => {
                let s = initialised(sched);
                if !v.is_empty() {
                    return Ok(self.catch_up(s));
                }
                // Lost, yet nothing to catch up with: the store does not hold this log
                // (Redis restarted empty). Re-seed it from this replica's schedule once.
                self.lost += 1;
                self.phase = Phase::Restored { next };
                let header = LogHeader {
                    epoch_ms: s.epoch_ms,
                    renditions: s.renditions,
                    min_target: s.min_target,
                };
                Ok(Action::Restore { header, next })
            }
            (Phase::Restored { next }, Event::Restored(restored)) => {
                if after_lost_append(restored, self.lost) == AfterLostAppend::Fail {
                    return Err(Error::Store(format!(
                        "the store's log does not continue this replica's schedule at entry {next}"
                    )));
                }
                Ok(self.catch_up(initialised(sched)))
            }
            (Phase::FeedKept, Event::Performed) => Ok(self.catch_up(initialised(sched))),
            (Phase::Trimmed, Event::Performed) => Ok(Action::Finished),
            (phase, ev) => {
                let e = unexpected(&phase, &ev);
                self.phase = phase;
                Err(e)
            }
        }
    }

    fn start(&mut self, sched: &mut Option<Schedule>) -> Action {
        match sched {
            Some(s) => self.catch_up(s),
            // A session starts with its first item, already listed for as long as a player
            // needs to start (see `timeline::fresh_epoch`).
            None if self.input.session => {
                self.phase = Phase::FirstItem;
                Action::AskNextItem
            }
            None => {
                let epoch_ms = self.input.now - self.input.prefill_ms;
                self.phase = Phase::InitLog;
                Action::InitLog(self.header(epoch_ms))
            }
        }
    }

    /// A session's log header, placed by its first item (`target`: the item's target
    /// duration, when it resolved).
    fn init_log(&mut self, first: Item, target: Option<u64>) -> Action {
        let least = self.input.min_target.unwrap_or(1);
        let epoch_ms = fresh_epoch(self.input.now, target.unwrap_or(least).max(least));
        self.first = Some(first);
        self.phase = Phase::InitLog;
        Action::InitLog(self.header(epoch_ms))
    }

    fn header(&self, epoch_ms: Millis) -> LogHeader {
        LogHeader {
            epoch_ms,
            renditions: self.input.slots,
            min_target: self.input.min_target.unwrap_or(1),
        }
    }

    /// Catch up with what other replicas appended: the open entry first.
    fn catch_up(&mut self, s: &Schedule) -> Action {
        self.phase = Phase::Synced {
            from: s.len_total(),
        };
        Action::SyncOpen
    }

    fn fetched(&mut self, s: &mut Schedule, from: u64, fetched: Vec<Entry>) -> Result<Action> {
        // Entries that ended before the horizon are never rendered again: a replica joining
        // a long-running channel (or one the store trimmed past) resumes at the first entry
        // it needs instead of resolving every VOD the channel ever played.
        let horizon = self.horizon();
        let keep = fetched
            .iter()
            .position(|e| e.open || e.end_ms() > horizon)
            .unwrap_or(fetched.len().saturating_sub(1));
        // An entry this replica still holds open while the store has entries after it was
        // closed elsewhere; if sync_open could not close it, its chunks and close marker
        // were trimmed: resume at the store's entries too. Its state is read again first
        // (it may have been closed just after the first look).
        if !fetched.is_empty() && s.open_entry().is_some() {
            self.phase = Phase::StaleSynced {
                from,
                fetched,
                keep,
            };
            return Ok(Action::SyncOpen);
        }
        self.skip(s, from, fetched, keep, false)
    }

    /// Resume at the store's entry `keep` when entries before it left every window, it
    /// does not follow this replica's schedule, or this replica's open entry is stale.
    fn skip(
        &mut self,
        s: &mut Schedule,
        from: u64,
        mut fetched: Vec<Entry>,
        keep: usize,
        stale_open: bool,
    ) -> Result<Action> {
        if let Some(first) = fetched.get(keep)
            && (keep > 0 || first.index != from || stale_open)
        {
            s.skip_to(first)?;
            fetched.drain(..keep);
            self.phase = Phase::Replay {
                rest: fetched.into(),
                sync: false,
            };
            return Ok(Action::DropFeed {
                skipped: Some(keep as u64),
            });
        }
        self.replay(s, fetched.into())
    }

    /// Replay the next of the store's entries (another replica's live entry from its
    /// chunk 0, any other resolved here), or go on to the plan step.
    fn replay(&mut self, s: &mut Schedule, mut rest: VecDeque<Entry>) -> Result<Action> {
        let Some(entry) = rest.pop_front() else {
            return Ok(self.plan(s));
        };
        Ok(if entry.open {
            let index = entry.index;
            self.phase = Phase::ReplayOpen { entry, rest };
            Action::ReadOpen(index)
        } else {
            let item = entry.item.clone();
            self.phase = Phase::ReplayResolved { entry, rest };
            Action::Resolve(item)
        })
    }

    /// A replayed entry with its media: it must be what this replica's schedule would
    /// append (the same item resolving to the same media); an open one drops the local feed
    /// and syncs with the store.
    fn replayed(
        &mut self,
        s: &mut Schedule,
        mut entry: Entry,
        media: EntryMedia,
        rest: VecDeque<Entry>,
    ) -> Result<Action> {
        let media = Arc::new(media);
        let mut expected = s.next_entry(entry.item.clone(), media.clone())?;
        expected.open = entry.open;
        if expected != entry {
            return Err(Error::Unusable(format!(
                "entry {} resolves differently here than where it was scheduled",
                entry.index
            )));
        }
        entry.media = Some(media);
        let open = entry.open;
        s.push(entry)?;
        if !open {
            return self.replay(s, rest);
        }
        self.phase = Phase::Replay { rest, sync: true };
        Ok(Action::DropFeed { skipped: None })
    }

    /// The plan step: poll the open live entry, stop, or schedule one more item.
    fn plan(&mut self, s: &mut Schedule) -> Action {
        let view = View {
            open: s.open_entry().is_some(),
            end_ms: s.end_ms(),
            until: self.input.until,
        };
        match step(&view) {
            Step::PollLive => {
                self.phase = Phase::Polled;
                Action::PollLive
            }
            Step::Done => self.finish(s),
            Step::Schedule => {
                // The first item is used only at position 0 (another replica may have
                // started this session's schedule meanwhile: then ask again at the right
                // position).
                let first = self.first.take().filter(|_| s.len_total() == 0);
                match self.pending.take().or(first) {
                    Some(item) => self.place(s, item),
                    None => {
                        self.phase = Phase::Asked;
                        Action::AskNextItem
                    }
                }
            }
        }
    }

    /// Place `item` at the schedule's end.
    fn place(&mut self, s: &Schedule, item: Item) -> Action {
        let at = s.end_ms();
        match place(&item, at) {
            // The slate until the live event starts, then the event.
            Placement::SlateFirst(slate) => {
                self.phase = Phase::SlateResolved { pending: item };
                Action::Resolve(slate)
            }
            Placement::JoinLive => {
                self.phase = Phase::Joined {
                    item: item.clone(),
                    at,
                };
                Action::JoinLive { item, at }
            }
            Placement::Resolve => {
                self.phase = Phase::Resolved {
                    item: item.clone(),
                    at,
                };
                Action::Resolve(item)
            }
        }
    }

    /// `item` could not be used: the slate instead (a failed live event until its end).
    fn fall_back(&mut self, item: Item, at: Millis, e: Error) -> Action {
        let error = e.to_string();
        let slate = fallback(&item, at, &error);
        self.phase = Phase::FellBack;
        Action::Fallback {
            failed: item,
            error,
            slate,
        }
    }

    /// Append the entry `item` becomes (a live entry goes to the store with chunk 0, its
    /// first segments, in one step).
    fn append(
        &mut self,
        s: &Schedule,
        item: Item,
        media: EntryMedia,
        feed: Option<LiveFeed>,
    ) -> Result<Action> {
        let feed = feed.map(|f| {
            let first = f.next_seq - f.segments[0].len() as u64;
            let c = f.chunk(0, first);
            (f, c)
        });
        let next = s.len_total();
        let mut entry = s.next_entry(item, Arc::new(media))?;
        entry.open = feed.is_some();
        let chunk0 = feed.as_ref().map(|(_, c)| c.clone());
        self.phase = Phase::Appended {
            entry: entry.clone(),
            feed,
            next,
        };
        Ok(Action::Append { entry, chunk0 })
    }

    fn appended(
        &mut self,
        s: &mut Schedule,
        entry: Entry,
        feed: Option<(LiveFeed, LiveChunk)>,
        next: u64,
        won: bool,
    ) -> Result<Action> {
        if !won {
            self.phase = Phase::LostRead { next };
            return Ok(Action::ReadEntries(next));
        }
        s.push(entry)?;
        self.lost = 0;
        let Some((mut feed, c)) = feed else {
            return Ok(self.catch_up(s));
        };
        // From here on, the stored form (what other replicas render).
        feed.segments.iter_mut().for_each(Vec::clear);
        feed.apply(&c)?;
        s.extend_open(Arc::new(feed.media()?))?;
        self.phase = Phase::FeedKept;
        Ok(Action::KeepFeed(feed))
    }

    /// Prune what left every window and trim the store's log below the first entry this
    /// replica still holds, in batches of [`TRIM_BATCH`] (every replica would prune the
    /// same entries; trimming twice is harmless).
    fn finish(&mut self, s: &mut Schedule) -> Action {
        s.prune_before(self.horizon());
        match s.entries.front().map(|e| e.index) {
            Some(first) if first >= self.input.trimmed + TRIM_BATCH => {
                self.phase = Phase::Trimmed;
                Action::Trim(first)
            }
            _ => Action::Finished,
        }
    }
}

/// The scheduling policy on a made-up clock: every test drives a [`Round`] by hand, playing
/// the store, the asset manager and the sources (no tasks, no sleeps, no I/O).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::MediaSeg;

    fn input(now: Millis, until: Millis) -> RoundInput {
        RoundInput {
            now,
            until,
            window_ms: 60_000,
            prefill_ms: 60_000,
            session: false,
            min_target: Some(2),
            slots: 1,
            trimmed: 0,
        }
    }

    /// `n` two-second segments in one rendition.
    fn media(n: usize) -> EntryMedia {
        let segs = (0..n)
            .map(|i| MediaSeg::new(format!("http://v/s{i}.ts"), 2.0))
            .collect();
        EntryMedia::new(vec![RenditionMedia::new(segs)]).unwrap()
    }

    fn vod(id: &str) -> Item {
        Item::Vod {
            id: id.into(),
            title: None,
            url: format!("http://v/{id}.m3u8"),
        }
    }

    fn live(start_ms: Millis, end_ms: Millis) -> Item {
        Item::Live {
            url: "http://src/live.m3u8".into(),
            start_ms,
            end_ms,
            programme: None,
        }
    }

    fn header(epoch_ms: Millis) -> LogHeader {
        LogHeader {
            epoch_ms,
            renditions: 1,
            min_target: 2,
        }
    }

    /// Entries as another replica appended them: `items` from `epoch`, each `n` segments
    /// long, as the store hands them out (without media).
    fn stored(epoch: Millis, items: &[(Item, usize)]) -> Vec<Entry> {
        let mut s = Schedule::new(epoch, 1, 2);
        items
            .iter()
            .map(|(i, n)| {
                let mut e = s.append(i.clone(), Arc::new(media(*n))).unwrap().clone();
                e.media = None;
                e
            })
            .collect()
    }

    struct Drive {
        round: Round,
        sched: Option<Schedule>,
    }

    impl Drive {
        fn new(input: RoundInput) -> Self {
            Self {
                round: Round::new(input),
                sched: None,
            }
        }
        fn on(&mut self, ev: Event) -> Action {
            self.round.handle(ev, &mut self.sched).unwrap()
        }
        fn sched(&self) -> &Schedule {
            self.sched.as_ref().unwrap()
        }
        /// Catch-up with nothing new in the store: sync, read, nothing.
        fn nothing_new(&mut self, sync: Action) -> Action {
            assert!(matches!(sync, Action::SyncOpen), "{sync:?}");
            let from = self.sched().len_total();
            match self.on(Event::Performed) {
                Action::ReadEntries(f) => assert_eq!(f, from),
                a => panic!("{a:?}"),
            }
            self.on(Event::Entries(vec![]))
        }
        /// Resolve and win the append of `item` (`n` segments); the next action.
        fn schedule(&mut self, a: Action, item: Item, n: usize) -> Action {
            match a {
                Action::Resolve(i) => assert_eq!(i, item),
                a => panic!("{a:?}"),
            }
            let a = self.on(Event::Resolved(Ok((item, media(n)))));
            let Action::Append { entry, chunk0 } = a else {
                panic!("{a:?}")
            };
            assert!(chunk0.is_none() && !entry.open);
            assert_eq!(entry.index, self.sched().len_total());
            assert_eq!(entry.start_ms, self.sched().end_ms());
            self.on(Event::Appended(true))
        }
    }

    /// A new channel starts a full window back (the prefill) and schedules item after item
    /// until its schedule passes the instant asked for; then the round is over (nothing to
    /// prune, nothing to trim).
    #[test]
    fn a_new_channel_starts_a_window_back_and_schedules_until_covered() {
        let mut d = Drive::new(input(100_000, 100_000));
        let a = d.on(Event::Start);
        assert!(
            matches!(a, Action::InitLog(h) if h == header(40_000)),
            "{a:?}"
        );
        let mut a = d.on(Event::LogInit(header(40_000)));
        for id in ["a", "b", "c"] {
            let ask = d.nothing_new(a);
            assert!(matches!(ask, Action::AskNextItem), "{ask:?}");
            let next = d.on(Event::NextItem(vod(id)));
            a = d.schedule(next, vod(id), 15);
        }
        assert!(matches!(d.nothing_new(a), Action::Finished));
        assert_eq!(d.sched().end_ms(), 130_000);
        assert_eq!(d.sched().entries.len(), 3);
    }

    /// The log header another replica wrote first wins: the schedule starts at its epoch.
    #[test]
    fn the_stores_header_wins() {
        let mut d = Drive::new(input(100_000, 100_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(7_000)));
        assert!(matches!(a, Action::SyncOpen));
        assert_eq!(d.sched().epoch_ms, 7_000);
    }

    /// A session's first item is asked for before its log exists: its target duration
    /// places the epoch, and it is scheduled at position 0 without asking again.
    #[test]
    fn a_session_starts_with_its_first_item() {
        let mut d = Drive::new(RoundInput {
            session: true,
            ..input(100_000, 100_000)
        });
        assert!(matches!(d.on(Event::Start), Action::AskNextItem));
        let a = d.on(Event::NextItem(vod("first")));
        assert!(
            matches!(a, Action::Resolve(ref i) if *i == vod("first")),
            "{a:?}"
        );
        let mut six = media(1);
        six.renditions[0] = RenditionMedia::new(vec![MediaSeg::new("http://v/x.ts", 6.0)]);
        let a = d.on(Event::Resolved(Ok((vod("first"), six))));
        let epoch = fresh_epoch(100_000, 6);
        assert!(
            matches!(a, Action::InitLog(h) if h == header(epoch)),
            "{a:?}"
        );
        let a = d.on(Event::LogInit(header(epoch)));
        let a = d.nothing_new(a);
        let a = d.schedule(a, vod("first"), 30);
        assert!(matches!(d.nothing_new(a), Action::Finished));
        assert_eq!(d.sched().entries[0].item, vod("first"));
    }

    /// A replica joining a long-running channel resumes at the first entry still inside
    /// the window plus the horizon margin: the entries before it are skipped (counted),
    /// not resolved; the rest are resolved and checked against what was scheduled.
    #[test]
    fn a_joining_replica_skips_what_left_the_horizon() {
        let items: Vec<_> = (0..10).map(|i| (vod(&format!("v{i}")), 15)).collect();
        let entries = stored(0, &items);
        // horizon = 400_000 - 60_000 - 60_000 = 280_000: entry 9 (270-300 s) is the first kept.
        let mut d = Drive::new(input(400_000, 400_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(0)));
        assert!(matches!(a, Action::SyncOpen));
        assert!(matches!(d.on(Event::Performed), Action::ReadEntries(0)));
        let a = d.on(Event::Entries(entries.clone()));
        assert!(matches!(a, Action::DropFeed { skipped: Some(9) }), "{a:?}");
        let a = d.on(Event::Performed);
        assert!(
            matches!(a, Action::Resolve(ref i) if *i == vod("v9")),
            "{a:?}"
        );
        let a = d.on(Event::Resolved(Ok((vod("v9"), media(15)))));
        assert!(matches!(a, Action::AskNextItem), "{a:?}");
        assert_eq!(d.sched().len_total(), 10);
        assert_eq!(d.sched().entries.len(), 1);
    }

    /// An entry that resolves to other media here than where it was scheduled ends the
    /// round with an error (the replicas would render different playlists).
    #[test]
    fn an_entry_that_resolves_differently_is_refused() {
        let entries = stored(0, &[(vod("a"), 15)]);
        let mut d = Drive::new(input(10_000, 10_000));
        d.on(Event::Start);
        d.on(Event::LogInit(header(0)));
        d.on(Event::Performed);
        d.on(Event::Entries(entries));
        let r = d
            .round
            .handle(Event::Resolved(Ok((vod("a"), media(14)))), &mut d.sched);
        assert!(
            matches!(r, Err(Error::Unusable(ref m)) if m.contains("resolves differently")),
            "{r:?}"
        );
    }

    /// A lost append catches up with the winner's entry; a lost append with nothing to
    /// catch up with re-seeds the store's log, once: the second time in a row fails.
    #[test]
    fn a_lost_log_is_reseeded_once() {
        let mut d = Drive::new(input(100_000, 100_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(40_000)));
        d.nothing_new(a);
        d.on(Event::NextItem(vod("a")));
        d.on(Event::Resolved(Ok((vod("a"), media(15)))));
        // Lost to another replica: read what it appended.
        assert!(matches!(
            d.on(Event::Appended(false)),
            Action::ReadEntries(0)
        ));
        let won = stored(40_000, &[(vod("b"), 15)]);
        assert!(matches!(
            d.on(Event::Entries(won.clone())),
            Action::SyncOpen
        ));
        assert!(matches!(d.on(Event::Performed), Action::ReadEntries(0)));
        let a = d.on(Event::Entries(won));
        assert!(
            matches!(a, Action::Resolve(ref i) if *i == vod("b")),
            "{a:?}"
        );
        let a = d.on(Event::Resolved(Ok((vod("b"), media(15)))));
        assert!(matches!(a, Action::AskNextItem));
        d.on(Event::NextItem(vod("c")));
        d.on(Event::Resolved(Ok((vod("c"), media(15)))));
        // Lost with nothing to read: the store lost the log.
        assert!(matches!(
            d.on(Event::Appended(false)),
            Action::ReadEntries(1)
        ));
        let a = d.on(Event::Entries(vec![]));
        assert!(
            matches!(a, Action::Restore { header: h, next: 1 } if h == header(40_000)),
            "{a:?}"
        );
        let a = d.on(Event::Restored(true));
        // The lost item is not kept: the asset manager is asked again.
        assert!(matches!(d.nothing_new(a), Action::AskNextItem));
        d.on(Event::NextItem(vod("c")));
        d.on(Event::Resolved(Ok((vod("c"), media(15)))));
        let a = d.on(Event::Appended(true));
        assert!(matches!(d.nothing_new(a), Action::AskNextItem));
        d.on(Event::NextItem(vod("d")));
        d.on(Event::Resolved(Ok((vod("d"), media(15)))));
        assert!(matches!(
            d.on(Event::Appended(false)),
            Action::ReadEntries(2)
        ));
        assert!(matches!(
            d.on(Event::Entries(vec![])),
            Action::Restore { next: 2, .. }
        ));
        // Won once since: the count started again, so this re-seed is retried.
        assert!(matches!(d.on(Event::Restored(true)), Action::SyncOpen));
    }

    /// Two lost appends in a row with the log re-seeded each time: the store's log does
    /// not continue this replica's schedule; the round fails.
    #[test]
    fn two_lost_appends_in_a_row_fail() {
        let mut d = Drive::new(input(100_000, 100_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(40_000)));
        d.nothing_new(a);
        let mut last = None;
        for _ in 0..2 {
            d.on(Event::NextItem(vod("a")));
            d.on(Event::Resolved(Ok((vod("a"), media(15)))));
            d.on(Event::Appended(false));
            d.on(Event::Entries(vec![]));
            last = Some(d.round.handle(Event::Restored(true), &mut d.sched));
            if let Some(Ok(a)) = &last {
                assert!(matches!(a, Action::SyncOpen));
                d.on(Event::Performed);
                let a = d.on(Event::Entries(vec![]));
                assert!(matches!(a, Action::AskNextItem));
            }
        }
        assert!(matches!(last, Some(Err(Error::Store(_)))), "{last:?}");
    }

    /// A live event that starts later gets the slate until its start, then is joined; a
    /// source that cannot be joined is the slate until the event's end (counted and
    /// logged by the driver).
    #[test]
    fn a_live_event_waits_behind_the_slate_then_falls_back() {
        let mut d = Drive::new(input(100_000, 100_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(40_000)));
        d.nothing_new(a);
        let event = live(50_000, 200_000);
        let a = d.on(Event::NextItem(event.clone()));
        let slate = Item::Slate {
            reason: Some("waiting for a live event".into()),
            duration_ms: Some(10_000),
        };
        let a = d.schedule(a, slate, 5);
        let a = d.nothing_new(a);
        assert!(
            matches!(a, Action::JoinLive { ref item, at: 50_000 } if *item == event),
            "{a:?}"
        );
        let a = d.on(Event::Joined(Err(Error::Unusable("down".into()))));
        let Action::Fallback {
            failed,
            error,
            slate,
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(failed, event);
        assert!(error.contains("down"));
        assert_eq!(slate, fallback(&event, 50_000, &error));
        let a = d.on(Event::Resolved(Ok((slate, media(75)))));
        assert!(matches!(a, Action::Append { .. }));
        let a = d.on(Event::Appended(true));
        assert!(matches!(d.nothing_new(a), Action::Finished));
        assert_eq!(d.sched().end_ms(), 200_000);
    }

    /// A joined live source goes to the store as an open entry with its chunk 0 in one
    /// append; once won, the feed is kept as stored and the entry is polled, not followed.
    #[test]
    fn a_joined_live_entry_is_appended_open_and_polled() {
        let mut d = Drive::new(input(100_000, 100_000));
        d.on(Event::Start);
        let a = d.on(Event::LogInit(header(40_000)));
        d.nothing_new(a);
        let event = live(0, 200_000);
        let a = d.on(Event::NextItem(event.clone()));
        assert!(matches!(a, Action::JoinLive { at: 40_000, .. }), "{a:?}");
        let segs: Vec<_> = (0..3)
            .map(|i| MediaSeg::new(format!("http://src/l{i}.ts"), 2.0))
            .collect();
        let feed = LiveFeed {
            url: "http://src/live.m3u8".into(),
            end_ms: 200_000,
            next_seq: 13,
            segments: vec![segs],
            last_poll_ms: 100_000,
            chunks: 0,
        };
        let m = feed.media().unwrap();
        let a = d.on(Event::Joined(Ok((m, feed))));
        let Action::Append { entry, chunk0 } = a else {
            panic!("{a:?}")
        };
        assert!(entry.open);
        let c = chunk0.unwrap();
        assert_eq!((c.first_source_seq, c.next_source_seq), (10, 13));
        let Action::KeepFeed(feed) = d.on(Event::Appended(true)) else {
            panic!()
        };
        assert_eq!((feed.chunks, feed.next_seq), (1, 13));
        assert_eq!(d.sched().open_entry().unwrap().duration_ms, 6_000);
        let a = d.on(Event::Performed);
        assert!(matches!(d.nothing_new(a), Action::PollLive));
        // Still open after the poll: nothing is scheduled past it.
        assert!(matches!(d.on(Event::Performed), Action::Finished));
    }

    /// Pruning keeps the window and the margin; the store's log is trimmed below the
    /// first entry kept once a batch has accumulated since the last trim.
    #[test]
    fn the_log_is_trimmed_in_batches() {
        let run = |trimmed| {
            let items: Vec<_> = (0..40).map(|i| (vod(&format!("v{i}")), 5)).collect();
            let mut s = Schedule::new(0, 1, 2);
            for (i, n) in &items {
                s.append(i.clone(), Arc::new(media(*n))).unwrap();
            }
            // 40 entries of 10 s to 400 s; horizon 520 - 120 = 400: all but the last go.
            let mut d = Drive::new(RoundInput {
                trimmed,
                ..input(520_000, 300_000)
            });
            d.sched = Some(s);
            let a = d.on(Event::Start);
            let a = d.nothing_new(a);
            (a, d.sched().entries.len())
        };
        let (a, kept) = run(0);
        assert!(matches!(a, Action::Trim(39)), "{a:?}");
        assert_eq!(kept, 1);
        assert!(matches!(run(8).0, Action::Finished));
    }

    /// Driven out of order, a round says so (a driver bug) instead of guessing.
    #[test]
    fn an_unexpected_event_is_an_error() {
        let mut d = Drive::new(input(0, 0));
        let r = d.round.handle(Event::Appended(true), &mut d.sched);
        assert!(matches!(r, Err(Error::Internal(_))), "{r:?}");
    }
}
