//! The scheduling policy, as pure functions: (programmes, existing events, instant) -> events.
//!
//! No I/O and no clock: the caller passes `now`. The service stores what these return;
//! tests drive them with a fake clock.
//!
//! Invariants of every event list returned here (checked by [`check`]):
//! - sorted by `start_time`, every event `start_time < end_time`, no two events overlap;
//! - events that started before `now` are never moved (a running auto event may only be
//!   cut short by a manual event placed after `now`); manual events are never moved;
//! - from `now` (or the end of the running event) to `now + horizon` there is no gap between
//!   events in LOOP mode while there are programmes; in LINEAR mode gaps appear only where a
//!   programme did not fit before a manual event, or after the feed is used up.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::model::{
    AdBreak, EventSource, EventType, FillConfig, FillOrder, Millis, PlaybackMode, Programme,
    ScheduleEvent,
};

/// Why a manual event cannot go into the schedule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the event must end after it starts")]
    Empty,
    #[error("the event must not start in the past")]
    Past,
    #[error("the event overlaps manual event {0}")]
    Conflict(String),
    #[error("there is already an event with id {0}")]
    Duplicate(String),
}

/// The id of the auto event with sequence number `seq` on `channel`.
pub fn auto_id(channel: &str, seq: u64) -> String {
    format!("{channel}-auto-{seq}")
}

/// The order of one pass over the programmes (indices into `programmes`), pass number `pass`.
fn pass_order(order: &FillOrder, programmes: &[Programme], pass: u64) -> Vec<usize> {
    match order {
        FillOrder::InOrder => (0..programmes.len()).collect(),
        FillOrder::Shuffle { seed } => {
            let mut idx: Vec<usize> = (0..programmes.len()).collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(
                seed.wrapping_add(pass.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            );
            idx.shuffle(&mut rng);
            idx
        }
        FillOrder::Category { categories } => {
            let lists: Vec<Vec<usize>> = categories
                .iter()
                .map(|c| {
                    (0..programmes.len())
                        .filter(|&i| programmes[i].category.as_deref() == Some(c.as_str()))
                        .collect()
                })
                .collect();
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            let mut out = Vec::new();
            for round in 0..longest {
                for list in &lists {
                    if let Some(&i) = list.get(round) {
                        out.push(i);
                    }
                }
            }
            out
        }
    }
}

/// The programme at position `seq` of the auto-fill sequence, or `None` when there is none
/// (no programmes, or LINEAR mode past the first pass).
pub fn programme_at<'a>(
    config: &FillConfig,
    programmes: &'a [Programme],
    seq: u64,
) -> Option<&'a Programme> {
    let pass_len = pass_order(&config.order, programmes, 0).len() as u64;
    if pass_len == 0 {
        return None;
    }
    let pass = seq / pass_len;
    if config.mode == PlaybackMode::Linear && pass > 0 {
        return None;
    }
    let order = pass_order(&config.order, programmes, pass);
    order
        .get((seq % pass_len) as usize)
        .and_then(|&i| programmes.get(i))
}

/// Whether an ad policy's `every` or `duration` (seconds) is usable: finite, in (0, 3600]
/// (the service refuses others; a stored one is ignored, see [`ad_breaks`], [`ad_after`]).
pub fn policy_secs_ok(s: f64) -> bool {
    s.is_finite() && s > 0.0 && s <= 3600.0
}

fn ad_breaks(config: &FillConfig, length_secs: f64) -> Vec<AdBreak> {
    let Some(policy) = config.ad_breaks else {
        return Vec::new();
    };
    if !(policy_secs_ok(policy.every) && policy.every >= 1.0 && policy_secs_ok(policy.duration)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = policy.every;
    while at + policy.duration <= length_secs {
        out.push(AdBreak {
            offset: at,
            duration: policy.duration,
        });
        at += policy.every;
    }
    out
}

fn auto_event(
    channel: &str,
    config: &FillConfig,
    p: &Programme,
    seq: u64,
    start: Millis,
    end: Millis,
) -> ScheduleEvent {
    ScheduleEvent {
        id: auto_id(channel, seq),
        channel_id: channel.to_string(),
        title: p.title.clone(),
        start_time: start,
        end_time: end,
        start: String::new(),
        end: String::new(),
        url: p.url.clone(),
        duration: 0.0,
        kind: EventType::Vod,
        live_url: None,
        source: EventSource::Auto,
        asset_id: Some(p.id.clone()),
        seq: Some(seq),
        ad_breaks: ad_breaks(config, (end - start) as f64 / 1000.0),
    }
    .normalized()
}

/// The longest auto event placed for one programme (a feed claiming longer is cut).
pub const MAX_PROGRAMME_MS: Millis = 86_400_000;

/// The id of the AD event placed after auto programme `seq`.
pub fn ad_event_id(channel: &str, seq: u64) -> String {
    format!("{}-ad", auto_id(channel, seq))
}

/// Whether an AD event follows auto programme `seq` (see [`crate::AdEventPolicy`]).
fn ad_after(config: &FillConfig, seq: u64) -> Option<Millis> {
    let p = config.ad_events.filter(|p| policy_secs_ok(p.duration))?;
    let ms = (p.duration * 1000.0).round() as Millis;
    (p.every > 0 && ms > 0 && (seq + 1).is_multiple_of(u64::from(p.every))).then_some(ms)
}

fn ad_event(channel: &str, seq: u64, start: Millis, end: Millis) -> ScheduleEvent {
    ScheduleEvent {
        id: ad_event_id(channel, seq),
        channel_id: channel.to_string(),
        title: "Ad break".into(),
        start_time: start,
        end_time: end,
        start: String::new(),
        end: String::new(),
        url: String::new(),
        duration: 0.0,
        kind: EventType::Ad,
        live_url: None,
        source: EventSource::Auto,
        asset_id: None,
        seq: None,
        ad_breaks: Vec::new(),
    }
    .normalized()
}

/// Refill `channel`'s schedule at `now`: keep what started before `now` and every manual
/// event, drop the auto events that had not started, and place auto events from the end of
/// the running event (or `now`) until `now + horizon` is covered, around the manual events.
/// Past events older than the retention are dropped.
pub fn fill(
    channel: &str,
    config: &FillConfig,
    programmes: &[Programme],
    events: &[ScheduleEvent],
    now: Millis,
) -> Vec<ScheduleEvent> {
    let retention_ms = config
        .schedule_retention
        .map(|h| (h.max(0.0) * 3_600_000.0) as Millis);
    let mut manual: Vec<ScheduleEvent> = events
        .iter()
        .filter(|e| e.source == EventSource::Manual)
        .cloned()
        .collect();
    manual.sort_by_key(|e| e.start_time);
    let mut kept: Vec<ScheduleEvent> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.source == EventSource::Auto && e.start_time < now)
    {
        let mut e = e.clone();
        // A running auto event ends where a manual event begins.
        if let Some(m) = manual.iter().find(|m| m.overlaps(e.start_time, e.end_time)) {
            if m.start_time <= e.start_time {
                continue;
            }
            e.end_time = m.start_time;
            e.ad_breaks.retain(|b| {
                ((b.offset + b.duration) * 1000.0) as Millis <= m.start_time - e.start_time
            });
            e = e.normalized();
        }
        kept.push(e);
    }
    let mut cursor = kept
        .iter()
        .chain(manual.iter().filter(|m| m.start_time < now))
        .map(|e| e.end_time)
        .max()
        .unwrap_or(now)
        .max(now);
    let mut seq = kept.iter().filter_map(|e| e.seq).max().map_or(0, |s| s + 1);
    let horizon_end = now + (config.horizon_hours.max(0.0) * 3_600_000.0) as Millis;
    let mut placed = Vec::new();
    // An AD event due after the last programme placed (or kept, when its AD event had not
    // started yet).
    let mut pending_ad: Option<u64> = kept
        .iter()
        .filter(|e| e.kind == EventType::Vod)
        .max_by_key(|e| e.end_time)
        .and_then(|e| e.seq)
        .filter(|&s| {
            ad_after(config, s).is_some()
                && !kept.iter().any(|k| k.id == ad_event_id(channel, s))
                && cursor == kept.iter().map(|e| e.end_time).max().unwrap_or(cursor)
        });
    while cursor < horizon_end {
        if let Some(m) = manual
            .iter()
            .find(|m| m.start_time <= cursor && cursor < m.end_time)
        {
            cursor = m.end_time;
            pending_ad = None;
            continue;
        }
        let next_manual = manual
            .iter()
            .find(|m| m.start_time > cursor)
            .map(|m| m.start_time);
        if let Some(s) = pending_ad.take()
            && let Some(ms) = ad_after(config, s)
        {
            // An AD event that does not fit before a manual event is dropped.
            if next_manual.is_none_or(|limit| cursor + ms <= limit) {
                placed.push(ad_event(channel, s, cursor, cursor + ms));
                cursor += ms;
            }
            continue;
        }
        let Some(p) = programme_at(config, programmes, seq) else {
            break;
        };
        // A feed's duration is not trusted: at most a day (1e300 s overflowed the clock).
        let length = ((p.duration * 1000.0).round() as Millis).min(MAX_PROGRAMME_MS);
        if length <= 0 {
            seq += 1;
            // A pass of zero-length programmes would never advance: stop.
            if programmes.iter().all(|p| p.duration <= 0.0) {
                break;
            }
            continue;
        }
        match next_manual {
            Some(limit) if cursor + length > limit => match config.mode {
                PlaybackMode::Loop => {
                    placed.push(auto_event(channel, config, p, seq, cursor, limit));
                    pending_ad = ad_after(config, seq).map(|_| seq);
                    seq += 1;
                    cursor = limit;
                }
                PlaybackMode::Linear => cursor = limit,
            },
            _ => {
                placed.push(auto_event(channel, config, p, seq, cursor, cursor + length));
                pending_ad = ad_after(config, seq).map(|_| seq);
                seq += 1;
                cursor += length;
            }
        }
    }
    let mut out: Vec<ScheduleEvent> = kept.into_iter().chain(manual).chain(placed).collect();
    if let Some(r) = retention_ms {
        out.retain(|e| e.end_time >= now - r);
    }
    out.sort_by_key(|e| (e.start_time, e.end_time));
    out
}

/// Put manual event `new` into `events` (which are then refilled by [`fill`]): it must not
/// be empty, must not start before `now`, and must not overlap another manual event.
pub fn add_manual(
    events: &[ScheduleEvent],
    mut new: ScheduleEvent,
    now: Millis,
) -> Result<Vec<ScheduleEvent>, PlanError> {
    if new.end_time <= new.start_time {
        return Err(PlanError::Empty);
    }
    if new.start_time < now {
        return Err(PlanError::Past);
    }
    if events.iter().any(|e| e.id == new.id) {
        return Err(PlanError::Duplicate(new.id));
    }
    if let Some(m) = events
        .iter()
        .find(|e| e.source == EventSource::Manual && e.overlaps(new.start_time, new.end_time))
    {
        return Err(PlanError::Conflict(m.id.clone()));
    }
    new.source = EventSource::Manual;
    new.seq = None;
    let mut out = events.to_vec();
    out.push(new.normalized());
    out.sort_by_key(|e| (e.start_time, e.end_time));
    Ok(out)
}

/// Check the invariants: sorted, non-empty events, no overlaps. Returns the first problem.
pub fn check(events: &[ScheduleEvent]) -> Result<(), String> {
    for e in events {
        if e.end_time <= e.start_time {
            return Err(format!("event {} is empty or reversed", e.id));
        }
    }
    for w in events.windows(2) {
        if w[1].start_time < w[0].end_time {
            return Err(format!(
                "events {} and {} overlap ({} < {})",
                w[0].id, w[1].id, w[1].start_time, w[0].end_time
            ));
        }
    }
    Ok(())
}

/// The gaps (start, end) between consecutive events inside `[from, to)`.
pub fn gaps(events: &[ScheduleEvent], from: Millis, to: Millis) -> Vec<(Millis, Millis)> {
    let mut out = Vec::new();
    let mut cursor = from;
    for e in events
        .iter()
        .filter(|e| e.end_time > from && e.start_time < to)
    {
        if e.start_time > cursor {
            out.push((cursor, e.start_time));
        }
        cursor = cursor.max(e.end_time);
    }
    if cursor < to {
        out.push((cursor, to));
    }
    out
}
