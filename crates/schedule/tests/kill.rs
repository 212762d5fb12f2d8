//! Kill the schedule service while it writes (SQLite and PostgreSQL): on restart the
//! schedule is intact, nothing half-written. And the service's flow on PostgreSQL.
//!
//! The writer is a child process: this test binary re-run with `LINEUP_SCHEDULE_WRITER`
//! set, running the real `Service` against the shared database, reflowing thousands of
//! events per change. The parent SIGKILLs it at a random moment after a few changes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use schedule::model::*;
use schedule::{NewEvent, Service, plan};

const CHANNEL: &str = "k";

fn programmes() -> Vec<Programme> {
    [7.3, 11.1, 5.9, 13.7]
        .iter()
        .enumerate()
        .map(|(i, d)| Programme {
            id: format!("p{i}"),
            title: format!("P{i}"),
            url: format!("http://127.0.0.1:1/p{i}/master.m3u8"),
            duration: *d,
            category: None,
            description: None,
        })
        .collect()
}

/// The child: writes schedule changes forever, printing one line per committed change.
#[tokio::test]
async fn writer_child() {
    let Ok(target) = std::env::var("LINEUP_SCHEDULE_WRITER") else {
        return; // only runs as the child of the kill tests
    };
    let service = Service::open(&target).await.unwrap();
    if service.channel(CHANNEL).await.is_err() {
        service
            .put_channel(Channel {
                id: CHANNEL.into(),
                tenant: String::new(),
                title: "kill".into(),
                auto: Some(AutoSource {
                    url: "http://127.0.0.1:1/feed.xml".into(),
                    config: FillConfig {
                        horizon_hours: 6.0,
                        ..Default::default()
                    },
                    programmes: programmes(),
                }),
            })
            .await
            .unwrap();
    }
    println!("ready");
    let mut rng = rand::rng();
    for i in 0u64.. {
        let now = service.now();
        let start = now + rng.random_range(60_000..5 * 3_600_000);
        let added = service
            .add_event(
                CHANNEL,
                NewEvent {
                    id: Some(format!("m{}-{i}", std::process::id())),
                    url: "http://127.0.0.1:1/m/master.m3u8".into(),
                    start_time: Some(start),
                    duration: Some(rng.random_range(30.0..900.0)),
                    ..Default::default()
                },
            )
            .await;
        if i % 3 == 2 {
            let events = service
                .events_between(CHANNEL, now, i64::MAX)
                .await
                .unwrap();
            if let Some(m) = events.iter().find(|e| e.source == EventSource::Manual) {
                service.delete_event(CHANNEL, &m.id).await.unwrap();
            }
        }
        service.refill(CHANNEL).await.unwrap();
        println!("change {i} {}", added.is_ok());
    }
}

/// The schedule as stored is one the planner could have produced: no overlaps, no gaps
/// from its first event to the horizon, auto sequence numbers without holes, and no auto
/// event overlapping a manual one.
async fn assert_intact(target: &str) -> usize {
    let db = schedule::Db::open(target).await.unwrap();
    let events = db.all_events(CHANNEL).await.unwrap();
    assert!(!events.is_empty());
    plan::check(&events).unwrap();
    let first = events[0].start_time;
    let last = events.iter().map(|e| e.end_time).max().unwrap();
    assert_eq!(
        plan::gaps(&events, first, last),
        vec![],
        "gaps in the stored schedule"
    );
    let mut seqs: Vec<u64> = events.iter().filter_map(|e| e.seq).collect();
    seqs.sort();
    for w in seqs.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "auto sequence has a hole: half a reflow stored?"
        );
    }
    for e in &events {
        let ok = e.source == EventSource::Manual
            || programmes()
                .iter()
                .any(|p| Some(&p.id) == e.asset_id.as_ref());
        assert!(ok, "event {} is on no programme", e.id);
    }
    events.len()
}

async fn kill_during_writes(target: &str) {
    let exe = std::env::current_exe().unwrap();
    for round in 0..3 {
        let mut child = Command::new(&exe)
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env("LINEUP_SCHEDULE_WRITER", target)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("change") && tx.send(line).is_err() {
                    break;
                }
            }
        });
        // A few committed changes, then SIGKILL at a random moment of the next ones.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut changes = 0;
        while changes < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("round {round}: the writer made {changes} changes in 120 s")
            });
            changes += 1;
        }
        let pause = rand::rng().random_range(0..40);
        std::thread::sleep(Duration::from_millis(pause));
        child.kill().unwrap();
        child.wait().unwrap();
        let n = assert_intact(target).await;
        eprintln!("round {round}: killed after {changes}+ changes; {n} events intact");
    }
}

#[tokio::test]
async fn sqlite_survives_a_kill_during_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lineup.db");
    kill_during_writes(db.to_str().unwrap()).await;
}

#[tokio::test]
async fn postgres_survives_a_kill_during_writes() {
    testkit::require_peer!("postgres");
    let pg = testkit::Postgres::start().await.unwrap();
    kill_during_writes(&pg.url()).await;
}

#[tokio::test]
async fn the_service_on_postgres() {
    testkit::require_peer!("postgres");
    let pg = testkit::Postgres::start().await.unwrap();
    let service = Service::open(&pg.url()).await.unwrap();
    let asset = service
        .import(schedule::NewAsset {
            url: "http://127.0.0.1:1/a/master.m3u8".into(),
            duration: Some(42.5),
            category: Some("news".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(service.asset("a").await.unwrap(), asset);
    service
        .put_channel(Channel {
            id: CHANNEL.into(),
            tenant: String::new(),
            title: "pg".into(),
            auto: Some(AutoSource {
                url: "http://127.0.0.1:1/feed.xml".into(),
                config: FillConfig {
                    horizon_hours: 1.0,
                    ..Default::default()
                },
                programmes: programmes(),
            }),
        })
        .await
        .unwrap();
    let now = service.now();
    let live = service
        .add_event(
            CHANNEL,
            NewEvent {
                id: Some("live".into()),
                kind: Some(EventType::Live),
                live_url: Some("http://127.0.0.1:1/live.m3u8".into()),
                start_time: Some(now + 600_000),
                duration: Some(120.0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let conflict = service
        .add_event(
            CHANNEL,
            NewEvent {
                url: "http://127.0.0.1:1/x.m3u8".into(),
                start_time: Some(now + 660_000),
                duration: Some(120.0),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(conflict, Err(schedule::Error::Conflict(_))),
        "{conflict:?}"
    );
    let events = service
        .events_between(CHANNEL, now, now + 3_600_000)
        .await
        .unwrap();
    plan::check(&events).unwrap();
    assert!(events.contains(&live));
    assert!(plan::gaps(&events, events[0].start_time, now + 3_600_000).is_empty());
    assert_intact(&pg.url()).await;
    // The same rows read back through a second connection (another replica).
    let other = Service::open(&pg.url()).await.unwrap();
    assert_eq!(
        other
            .events_between(CHANNEL, now, now + 3_600_000)
            .await
            .unwrap(),
        events
    );
    service.delete_asset("a").await.unwrap();
    assert!(other.assets().await.unwrap().is_empty());
}
