//! The store's open-entry (live) log: compare-and-set growth and close, identical on
//! [`MemoryStore`] and a real Redis, and replicas racing to extend converge on one list.

use std::sync::Arc;

use engine::store::LogHeader;
use engine::timeline::{Counts, Entry, Item};
use engine::{LiveChunk, MemoryStore, OpenState, RedisStore, Store};

fn live_entry(index: u64) -> Entry {
    Entry {
        index,
        start_ms: 0,
        duration_ms: 4_000,
        item: Item::Live {
            url: "http://127.0.0.1:1/live.m3u8".into(),
            start_ms: 0,
            end_ms: 60_000,
            programme: None,
        },
        counts: vec![
            Counts {
                segments: 2,
                discontinuities: 1,
                seq_before: 0,
                disc_before: 0,
            };
            2
        ],
        target_duration: 2,
        cue_in: None,
        open: true,
        media: None,
    }
}

fn chunk(from: u64, n: u64, tag: &str) -> LiveChunk {
    LiveChunk {
        first_source_seq: from,
        next_source_seq: from + n,
        renditions: vec![
            format!("{tag}:v0:{from}+{n}"),
            format!("{tag}:a:{from}+{n}"),
        ],
    }
}

/// A fresh log `name`: two renditions, target duration 2, epoch 0.
async fn init_log(store: &Arc<dyn Store>, name: &str) {
    let header = LogHeader {
        epoch_ms: 0,
        renditions: 2,
        min_target: 2,
    };
    store.init_log(name, header).await.unwrap();
}

async fn semantics(store: Arc<dyn Store>) {
    let scope = "channel:live";
    init_log(&store, scope).await;
    assert_eq!(
        store.open_state(scope, 3, 0).await.unwrap(),
        OpenState::default()
    );
    // Chunk 0 (the initial segments), then a race on chunk 1: one wins. A gap in chunk
    // numbers is refused.
    for (n, c, wins) in [
        (0, chunk(10, 2, "a"), true),
        (0, chunk(10, 2, "b"), false),
        (1, chunk(12, 1, "a"), true),
        (1, chunk(12, 1, "b"), false),
        (5, chunk(13, 1, "a"), false),
    ] {
        let won = store.extend_open(scope, 3, n, &c).await.unwrap();
        assert_eq!(won, wins, "extend chunk {n} with {c:?}");
    }
    let st = store.open_state(scope, 3, 1).await.unwrap();
    assert_eq!(st.chunks, vec![chunk(12, 1, "a")]);
    assert_eq!(st.closed_at, None);
    // Close only at the current count; idempotent; nothing grows after.
    assert!(!store.close_open(scope, 3, 1).await.unwrap());
    assert!(store.close_open(scope, 3, 2).await.unwrap());
    assert!(store.close_open(scope, 3, 2).await.unwrap());
    assert!(!store.close_open(scope, 3, 3).await.unwrap());
    assert!(
        !store
            .extend_open(scope, 3, 2, &chunk(13, 1, "a"))
            .await
            .unwrap()
    );
    let st = store.open_state(scope, 3, 0).await.unwrap();
    assert_eq!(st.chunks, vec![chunk(10, 2, "a"), chunk(12, 1, "a")]);
    assert_eq!(st.closed_at, Some(2));
    // Another entry and another scope are independent.
    assert_eq!(
        store.open_state(scope, 4, 0).await.unwrap(),
        OpenState::default()
    );
    assert!(
        store
            .extend_open("session:x", 3, 0, &chunk(1, 1, "x"))
            .await
            .unwrap()
    );

    // Two replicas polling the same source: each extends from what it knows, a loser reads
    // the winner's chunks back and resumes from its next_source_seq.
    let replica = |tag: &'static str, store: Arc<dyn Store>| async move {
        let mut known: Vec<LiveChunk> = Vec::new();
        let mut next_seq = 100;
        while next_seq < 140 {
            let c = chunk(next_seq, 1 + (next_seq % 3), tag);
            if store
                .extend_open(scope, 7, known.len() as u64, &c)
                .await
                .unwrap()
            {
                known.push(c);
            } else {
                let st = store
                    .open_state(scope, 7, known.len() as u64)
                    .await
                    .unwrap();
                known.extend(st.chunks);
            }
            next_seq = known.last().map(|c| c.next_source_seq).unwrap_or(100);
            tokio::task::yield_now().await;
        }
        known
    };
    let (x, y) = tokio::join!(
        tokio::spawn(replica("a", store.clone())),
        tokio::spawn(replica("b", store.clone()))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    let all = store.open_state(scope, 7, 0).await.unwrap().chunks;
    assert_eq!(&x[..], &all[..x.len()]);
    assert_eq!(&y[..], &all[..y.len()]);
    for w in all.windows(2) {
        assert_eq!(w[0].next_source_seq, w[1].first_source_seq, "{all:?}");
    }

    // An open entry is appended with its chunk 0 in one step; a losing append leaves both
    // the log and the chunk list as the winner wrote them.
    let log = "channel:atomic";
    init_log(&store, log).await;
    assert!(
        store
            .append(log, &live_entry(0), Some(&chunk(50, 2, "w")))
            .await
            .unwrap()
    );
    assert!(
        !store
            .append(log, &live_entry(0), Some(&chunk(51, 2, "l")))
            .await
            .unwrap()
    );
    let entries = store.entries_from(log, 0).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].open);
    let st = store.open_state(log, 0, 0).await.unwrap();
    assert_eq!(st.chunks, vec![chunk(50, 2, "w")]);
    assert!(
        store
            .extend_open(log, 0, 1, &chunk(52, 1, "w"))
            .await
            .unwrap()
    );
    store.delete_log(log).await.unwrap();
    assert_eq!(
        store.open_state(log, 0, 0).await.unwrap(),
        OpenState::default()
    );

    // Trimming drops old entries (and their chunks), keeps the last one, and appends go
    // on at the right index.
    let log = "channel:trim";
    init_log(&store, log).await;
    for i in 0..5 {
        let mut e = live_entry(i);
        e.open = i == 1;
        let c = chunk(i, 1, "t");
        let first_chunk = (i == 1).then_some(&c);
        assert!(store.append(log, &e, first_chunk).await.unwrap());
    }
    let indexes = |v: Vec<Entry>| v.iter().map(|e| e.index).collect::<Vec<_>>();
    store.trim(log, 3).await.unwrap();
    assert_eq!(indexes(store.entries_from(log, 0).await.unwrap()), [3, 4]);
    assert_eq!(indexes(store.entries_from(log, 4).await.unwrap()), [4]);
    assert_eq!(
        store.open_state(log, 1, 0).await.unwrap(),
        OpenState::default()
    );
    assert!(!store.append(log, &live_entry(4), None).await.unwrap());
    let mut e5 = live_entry(5);
    e5.open = false;
    assert!(store.append(log, &e5, None).await.unwrap());
    store.trim(log, 2).await.unwrap(); // behind the trim: nothing happens
    store.trim(log, 100).await.unwrap(); // the last entry always stays
    assert_eq!(indexes(store.entries_from(log, 0).await.unwrap()), [5]);
    store.delete_log(log).await.unwrap();
    assert!(store.entries_from(log, 0).await.unwrap().is_empty());

    // delete_log removes the open entries' chunks too.
    store.delete_log(scope).await.unwrap();
    assert_eq!(
        store.open_state(scope, 3, 0).await.unwrap(),
        OpenState::default()
    );
    assert_eq!(
        store.open_state(scope, 7, 0).await.unwrap(),
        OpenState::default()
    );
    assert_eq!(
        store
            .open_state("session:x", 3, 0)
            .await
            .unwrap()
            .chunks
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_open_entries() {
    semantics(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_open_entries() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let store = RedisStore::connect(&redis.url(), "t:").await.unwrap();
    semantics(Arc::new(store)).await;
}
