//! The pure scheduling policy on a fake clock: simulated days, manual events, LOOP vs LINEAR.

use schedule::model::*;
use schedule::plan::{self, PlanError};

const MIN: Millis = 60_000;
const HOUR: Millis = 3_600_000;
/// 2026-01-01T00:00:00Z
const T0: Millis = 1_767_225_600_000;

fn programmes() -> Vec<Programme> {
    // Odd lengths, so that programme ends never line up with the clock steps.
    [
        ("a", 1_234.5, "news"),
        ("b", 2_001.0, "film"),
        ("c", 617.25, "news"),
        ("d", 3_333.0, "film"),
    ]
    .iter()
    .map(|(id, d, c)| Programme {
        id: id.to_string(),
        title: format!("Programme {id}"),
        url: format!("http://127.0.0.1:1/{id}/master.m3u8"),
        duration: *d,
        category: Some(c.to_string()),
        description: None,
    })
    .collect()
}

fn live(id: &str, start: Millis, end: Millis) -> ScheduleEvent {
    ScheduleEvent {
        id: id.into(),
        channel_id: "ch".into(),
        title: "Live match".into(),
        start_time: start,
        end_time: end,
        start: String::new(),
        end: String::new(),
        url: String::new(),
        duration: 0.0,
        kind: EventType::Live,
        live_url: Some("http://127.0.0.1:1/live.m3u8".into()),
        source: EventSource::Manual,
        asset_id: None,
        seq: None,
        ad_breaks: vec![],
    }
}

/// Every auto event plays an existing programme for at most its length, and says so.
fn assert_on_programmes(events: &[ScheduleEvent], progs: &[Programme]) {
    for e in events.iter().filter(|e| e.source == EventSource::Auto) {
        let p = progs
            .iter()
            .find(|p| Some(&p.id) == e.asset_id.as_ref())
            .unwrap_or_else(|| panic!("event {} is on no programme", e.id));
        assert_eq!(e.url, p.url);
        assert!((e.end_time - e.start_time) as f64 <= p.duration * 1000.0 + 0.5);
        assert_eq!(e.duration, (e.end_time - e.start_time) as f64 / 1000.0);
    }
}

#[test]
fn a_simulated_day_in_loop_mode_has_no_gaps_and_no_overlaps() {
    let progs = programmes();
    let config = FillConfig::default();
    let mut events = Vec::new();
    // The service tops up every few minutes; a day of that, then check the whole day.
    let mut now = T0;
    while now <= T0 + 24 * HOUR {
        events = plan::fill("ch", &config, &progs, &events, now);
        plan::check(&events).unwrap();
        assert_on_programmes(&events, &progs);
        let horizon = now + (config.horizon_hours * HOUR as f64) as Millis;
        assert!(plan::gaps(&events, now, horizon).is_empty(), "gap at {now}");
        now += 7 * MIN + 13_000;
    }
    assert!(plan::gaps(&events, T0, T0 + 36 * HOUR).is_empty());
    // In order: a, b, c, d, a, b, ...
    let order: Vec<&str> = events
        .iter()
        .filter_map(|e| e.asset_id.as_deref())
        .collect();
    for (i, id) in order.iter().enumerate() {
        assert_eq!(*id, ["a", "b", "c", "d"][i % 4]);
    }
    // Ids are unique (the store keys on them).
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
}

#[test]
fn refilling_at_the_same_instant_changes_nothing() {
    let progs = programmes();
    let config = FillConfig::default();
    let first = plan::fill("ch", &config, &progs, &[], T0);
    let second = plan::fill("ch", &config, &progs, &first, T0 + 5 * MIN);
    // Nothing was added or moved that already existed (the horizon grew by 5 minutes).
    for e in &first {
        assert!(second.contains(e), "event {} changed", e.id);
    }
}

#[test]
fn a_manual_live_event_reflows_the_auto_events() {
    let progs = programmes();
    let config = FillConfig::default();
    let before = plan::fill("ch", &config, &progs, &[], T0);
    // A live event from +3 h 10 min for 45 minutes, decided at +1 h.
    let now = T0 + HOUR;
    let event = live("match", T0 + 3 * HOUR + 10 * MIN, T0 + 3 * HOUR + 55 * MIN);
    let with = plan::add_manual(&before, event.clone(), now).unwrap();
    let after = plan::fill("ch", &config, &progs, &with, now);
    plan::check(&after).unwrap();
    assert_on_programmes(&after, &progs);
    assert!(plan::gaps(&after, now, now + 12 * HOUR).is_empty());
    assert!(
        after
            .iter()
            .any(|e| e.id == "match" && e.kind == EventType::Live)
    );
    // What started before `now` did not move.
    for e in before.iter().filter(|e| e.start_time < now) {
        assert!(after.contains(e), "started event {} moved", e.id);
    }
    // The programme running into the live start was cut there, and the next one starts at
    // its end.
    let cut = after
        .iter()
        .find(|e| e.end_time == event.start_time)
        .expect("an event ends where the live event starts");
    assert_eq!(cut.source, EventSource::Auto);
    assert!(
        after
            .iter()
            .any(|e| e.start_time == event.end_time && e.source == EventSource::Auto)
    );
    // Deleting it reflows back to an unbroken run of whole programmes from `now`.
    let without: Vec<_> = after.into_iter().filter(|e| e.id != "match").collect();
    let back = plan::fill("ch", &config, &progs, &without, now);
    assert!(plan::gaps(&back, now, now + 12 * HOUR).is_empty());
    assert!(back.iter().filter(|e| e.start_time >= now).all(|e| {
        (e.duration
            - progs
                .iter()
                .find(|p| Some(&p.id) == e.asset_id.as_ref())
                .unwrap()
                .duration)
            .abs()
            < 0.001
    }));
}

#[test]
fn a_manual_event_starting_now_cuts_the_running_programme() {
    let progs = programmes();
    let config = FillConfig::default();
    let events = plan::fill("ch", &config, &progs, &[], T0);
    let now = T0 + 10 * MIN; // programme "a" (20.6 min) is running
    let with = plan::add_manual(&events, live("now", now, now + 5 * MIN), now).unwrap();
    let after = plan::fill("ch", &config, &progs, &with, now);
    plan::check(&after).unwrap();
    let first = &after[0];
    assert_eq!((first.start_time, first.end_time), (T0, now));
    assert!(plan::gaps(&after, T0, now + 12 * HOUR).is_empty());
}

#[test]
fn manual_events_conflict_with_each_other_not_with_auto_events() {
    let progs = programmes();
    let config = FillConfig::default();
    let events = plan::fill("ch", &config, &progs, &[], T0);
    let with = plan::add_manual(&events, live("one", T0 + HOUR, T0 + 2 * HOUR), T0).unwrap();
    let err = plan::add_manual(&with, live("two", T0 + 90 * MIN, T0 + 3 * HOUR), T0).unwrap_err();
    assert_eq!(err, PlanError::Conflict("one".into()));
    // Back to back is fine.
    plan::add_manual(&with, live("two", T0 + 2 * HOUR, T0 + 3 * HOUR), T0).unwrap();
    assert_eq!(
        plan::add_manual(&with, live("old", T0 - HOUR, T0 + MIN), T0).unwrap_err(),
        PlanError::Past
    );
    assert_eq!(
        plan::add_manual(&with, live("empty", T0 + HOUR * 5, T0 + HOUR * 5), T0).unwrap_err(),
        PlanError::Empty
    );
}

#[test]
fn linear_plays_each_programme_once_and_moves_what_does_not_fit() {
    let progs = programmes();
    let config = FillConfig {
        mode: PlaybackMode::Linear,
        ..Default::default()
    };
    // A manual event 30 min in: "a" (20.6 min) fits, "b" (33.4 min) does not and moves after.
    let with = plan::add_manual(&[], live("m", T0 + 30 * MIN, T0 + 40 * MIN), T0).unwrap();
    let events = plan::fill("ch", &config, &progs, &with, T0);
    plan::check(&events).unwrap();
    let autos: Vec<&ScheduleEvent> = events
        .iter()
        .filter(|e| e.source == EventSource::Auto)
        .collect();
    let ids: Vec<&str> = autos.iter().filter_map(|e| e.asset_id.as_deref()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"], "each once, in order");
    for (e, p) in autos.iter().zip(&progs) {
        assert_eq!(e.duration, p.duration, "LINEAR never cuts");
    }
    assert_eq!(
        autos[1].start_time,
        T0 + 40 * MIN,
        "b moved after the manual event"
    );
    // The slate gap before the manual event, and nothing after the feed is used up.
    let gaps = plan::gaps(&events, T0, T0 + 12 * HOUR);
    assert_eq!(gaps[0], (autos[0].end_time, T0 + 30 * MIN));
    assert_eq!(gaps.last().unwrap().0, autos[3].end_time);
    // Later refills add nothing more.
    let later = plan::fill("ch", &config, &progs, &events, T0 + 6 * HOUR);
    assert_eq!(
        later
            .iter()
            .filter(|e| e.source == EventSource::Auto)
            .count(),
        4
    );
}

#[test]
fn loop_cuts_what_does_not_fit_instead_of_leaving_a_gap() {
    let progs = programmes();
    let config = FillConfig::default();
    let with = plan::add_manual(&[], live("m", T0 + 30 * MIN, T0 + 40 * MIN), T0).unwrap();
    let events = plan::fill("ch", &config, &progs, &with, T0);
    assert!(plan::gaps(&events, T0, T0 + 12 * HOUR).is_empty());
    assert_eq!(events[1].asset_id.as_deref(), Some("b"));
    assert_eq!(events[1].end_time, T0 + 30 * MIN);
    assert_eq!(
        events[3].asset_id.as_deref(),
        Some("c"),
        "the sequence continues after"
    );
}

#[test]
fn shuffle_is_seeded_and_each_pass_plays_everything() {
    let progs = programmes();
    let config = |seed| FillConfig {
        order: FillOrder::Shuffle { seed },
        ..Default::default()
    };
    let a = plan::fill("ch", &config(7), &progs, &[], T0);
    let b = plan::fill("ch", &config(7), &progs, &[], T0);
    assert_eq!(a, b, "same seed, same schedule");
    let ids = |evs: &[ScheduleEvent]| -> Vec<String> {
        evs.iter().filter_map(|e| e.asset_id.clone()).collect()
    };
    let mut passes_differ = false;
    for pass in ids(&a).chunks(4).filter(|c| c.len() == 4) {
        let mut sorted = pass.to_vec();
        sorted.sort();
        assert_eq!(sorted, ["a", "b", "c", "d"]);
        passes_differ |= pass != &ids(&a)[..4];
    }
    assert!(passes_differ, "passes are reshuffled");
    let other = (0..20).any(|s| ids(&plan::fill("ch", &config(s), &progs, &[], T0)) != ids(&a));
    assert!(other, "another seed gives another order");
}

#[test]
fn by_category_takes_one_of_each_in_turn() {
    let progs = programmes();
    let config = FillConfig {
        order: FillOrder::Category {
            categories: vec!["film".into(), "news".into()],
        },
        ..Default::default()
    };
    let events = plan::fill("ch", &config, &progs, &[], T0);
    let cats: Vec<&str> = events
        .iter()
        .filter_map(|e| progs.iter().find(|p| Some(&p.id) == e.asset_id.as_ref()))
        .filter_map(|p| p.category.as_deref())
        .collect();
    for (i, c) in cats.iter().enumerate() {
        assert_eq!(*c, ["film", "news"][i % 2]);
    }
    let ids: Vec<&str> = events
        .iter()
        .take(4)
        .filter_map(|e| e.asset_id.as_deref())
        .collect();
    assert_eq!(ids, ["b", "a", "d", "c"]);
}

#[test]
fn ad_breaks_sit_inside_their_programme() {
    let progs = programmes();
    let config = FillConfig {
        ad_breaks: Some(AdBreakPolicy {
            every: 600.0,
            duration: 30.0,
        }),
        ..Default::default()
    };
    let events = plan::fill("ch", &config, &progs, &[], T0);
    let b = events
        .iter()
        .find(|e| e.asset_id.as_deref() == Some("b"))
        .unwrap();
    let offsets: Vec<f64> = b.ad_breaks.iter().map(|x| x.offset).collect();
    assert_eq!(offsets, [600.0, 1200.0, 1800.0]); // 2001 s long
    for e in &events {
        for br in &e.ad_breaks {
            assert!(br.offset > 0.0 && br.offset + br.duration <= e.duration);
        }
    }
}

#[test]
fn retention_drops_old_events_and_no_programmes_means_no_events() {
    let progs = programmes();
    let config = FillConfig {
        schedule_retention: Some(1.0),
        ..Default::default()
    };
    let day = plan::fill("ch", &config, &progs, &[], T0);
    let later = plan::fill("ch", &config, &progs, &day, T0 + 5 * HOUR);
    assert!(later.iter().all(|e| e.end_time >= T0 + 4 * HOUR));
    assert!(plan::fill("ch", &FillConfig::default(), &[], &[], T0).is_empty());
}

/// AD events follow every second programme, survive refills at any instant (also while the
/// programme before them runs), and reflow around a manual event like the programmes.
#[test]
fn ad_events_follow_every_nth_programme_across_refills() {
    let progs = programmes();
    let config = FillConfig {
        ad_events: Some(AdEventPolicy {
            every: 2,
            duration: 30.0,
        }),
        ..Default::default()
    };
    let mut events = Vec::new();
    let mut now = T0;
    while now <= T0 + 24 * HOUR {
        events = plan::fill("ch", &config, &progs, &events, now);
        plan::check(&events).unwrap();
        let horizon = now + (config.horizon_hours * HOUR as f64) as Millis;
        assert!(plan::gaps(&events, now, horizon).is_empty(), "gap at {now}");
        now += 7 * MIN + 13_000;
    }
    let day: Vec<&ScheduleEvent> = events.iter().filter(|e| e.start_time >= T0).collect();
    let mut programmes_since_ad = 0;
    for e in &day {
        match e.kind {
            EventType::Ad => {
                assert_eq!(
                    programmes_since_ad, 2,
                    "AD event {} after {programmes_since_ad}",
                    e.id
                );
                assert_eq!(e.end_time - e.start_time, 30_000);
                assert!(e.url.is_empty() && e.asset_id.is_none());
                programmes_since_ad = 0;
            }
            _ => programmes_since_ad += 1,
        }
    }
    assert!(day.iter().filter(|e| e.kind == EventType::Ad).count() > 20);
    // A manual event reflows them: still no overlaps, and AD events keep their shape.
    let start = events
        .iter()
        .find(|e| e.start_time > now + HOUR)
        .unwrap()
        .start_time
        + 1_000;
    let with_live = plan::add_manual(&events, live("match", start, start + HOUR), now).unwrap();
    let refilled = plan::fill("ch", &config, &progs, &with_live, now);
    plan::check(&refilled).unwrap();
    assert!(refilled.iter().any(|e| e.id == "match"));
    assert!(
        refilled
            .iter()
            .filter(|e| e.kind == EventType::Ad)
            .all(|e| e.end_time - e.start_time == 30_000)
    );
}

/// A stored policy out of range (the service refuses new ones) is ignored, not planned: an
/// AD event of 1e300 s overflowed the clock, a break every 1e-300 s never ended.
#[test]
fn ad_policies_out_of_range_are_ignored() {
    let config = FillConfig {
        ad_events: Some(AdEventPolicy {
            every: 1,
            duration: 1e300,
        }),
        ad_breaks: Some(AdBreakPolicy {
            every: 1e-300,
            duration: 10.0,
        }),
        ..Default::default()
    };
    let events = plan::fill("ch", &config, &programmes(), &[], T0);
    plan::check(&events).unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e.kind == EventType::Vod && e.ad_breaks.is_empty())
    );
}

/// A feed's programme claiming an absurd duration (1e300 s) does not overflow the fill's
/// clock: it is cut to a day (`plan::MAX_PROGRAMME_MS`), longer than the horizon here.
#[test]
fn an_absurd_programme_duration_does_not_overflow() {
    let mut progs = programmes();
    progs[0].duration = 1e300;
    let config = FillConfig::default();
    let events = plan::fill("ch", &config, &progs, &[], T0);
    plan::check(&events).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].end_time, T0 + plan::MAX_PROGRAMME_MS);
    // Refilled later, still running: kept, nothing placed after it.
    let later = plan::fill("ch", &config, &progs, &events, T0 + HOUR);
    assert_eq!(later, events);
}
