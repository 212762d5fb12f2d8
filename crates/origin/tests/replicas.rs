//! `--store s3`: several origin replicas on one S3 bucket (a real moto server) serve one
//! channel. A channel created on one replica appears on the others; what one ingests, the
//! others list and serve byte for byte (segments read back from the bucket, CMAF remuxed
//! from them); an endpoint added on a follower reaches the ingesting replica; when the
//! ingesting replica dies, ingest continues on another with the same credentials and the
//! timeline goes on; a replica started later restores everything; a delete on one replica
//! removes the channel everywhere and leaves nothing in the bucket.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use object_store::ObjectStore;
use origin::{Config, StoreKind};
use testkit::{Moto, wait_until};

const PREFIX: &str = "replicas";

fn s3_config(mut c: Config, moto: &Moto) -> Config {
    let (key, secret) = moto.credentials();
    c.store = StoreKind::S3;
    c.store_url = Some(format!("s3://origin/{PREFIX}"));
    c.s3_endpoint = Some(moto.endpoint());
    c.s3_region = moto.region().into();
    c.s3_access_key_id = Some(key.into());
    c.s3_secret_access_key = Some(secret.into());
    c.follow_interval_ms = 100;
    c.secret = Some("shared by every replica".into());
    c
}

/// A replica with its background sweep and follow loops, and a handle to stop serving.
struct Replica {
    run: Running,
    server: tokio::task::JoinHandle<()>,
}

async fn replica(moto: &Moto) -> Replica {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = s3_config(
        Config {
            listen: addr,
            public_url: Some(base.clone()),
            ..Default::default()
        },
        moto,
    );
    let origin = origin::build(config).await.unwrap();
    let router = origin.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Replica {
        run: Running {
            origin,
            base,
            http: reqwest::Client::new(),
        },
        server,
    }
}

async fn get(r: &Running, path: &str) -> (u16, bytes::Bytes) {
    let resp = r
        .http
        .get(format!("{}{path}", r.base))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap())
}

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ts/vod1/360p")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A sliding media playlist of segments `first..=last` (PDT of `first` given).
fn media_playlist(first: u64, last: u64, pdt: chrono::DateTime<chrono::Utc>) -> String {
    let mut pl = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-PROGRAM-DATE-TIME:{}\n",
        pdt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    for i in first..=last {
        pl += &format!("#EXTINF:2.000,\nchannel_1_{i}.ts\n");
    }
    pl
}

async fn objects(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    use futures::TryStreamExt;
    let prefix = object_store::path::Path::from(PREFIX);
    store
        .list(Some(&prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

/// Poll `path` on `r` until it answers 200 with a body for which `ok` holds; the body.
async fn wait_body(r: &Running, path: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = get(r, path).await;
        let body = String::from_utf8_lossy(&body).into_owned();
        if status == 200 && ok(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: last answer {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn replicas_share_channels_through_s3() {
    testkit::require_peer!("moto_server");
    let moto = Moto::start().await.expect("moto_server");
    moto.create_bucket("origin").await;

    let a = replica(&moto).await;
    let b = replica(&moto).await;

    // A channel created on A appears on B.
    let view = create(
        &a.run,
        serde_json::json!({"id": "news", "endpoints": [
            {"id": "default"},
            {"id": "cmaf", "packaging": "cmaf"}
        ]}),
    )
    .await;
    wait_body(
        &b.run,
        "/api/v1/channels/news",
        "B to list the channel",
        |_| true,
    )
    .await;
    // B refuses to create it again: the bucket knows it even before B lists it.
    let again = b
        .run
        .http
        .post(format!("{}/api/v1/channels", b.run.base))
        .json(&serde_json::json!({"id": "news"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Ingest four real segments into A, the way an encoder does.
    let put = DigestPut::from_view(&view, 0);
    let url = view.ingest[0].url.clone();
    let t0 =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() - chrono::Duration::seconds(8), 3);
    for i in 0..4u64 {
        let seg = fixture(&format!("seg{i:03}.ts"));
        put.put_created(&format!("{url}_1_{i}.ts"), seg).await;
    }
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.64001e,mp4a.40.2\"\nchannel_1.m3u8\n";
    put.put_created(&format!("{url}.m3u8"), master.into()).await;
    put.put_created(&format!("{url}_1.m3u8"), media_playlist(0, 3, t0).into())
        .await;

    // B serves the same timeline and the same bytes, read back from the bucket.
    let (status, on_a) = get(&a.run, "/out/news/default/channel_1.m3u8").await;
    assert_eq!(status, 200);
    let on_a = hls::parse_media(std::str::from_utf8(&on_a).unwrap()).unwrap();
    assert_eq!(on_a.segments.len(), 4);
    let want_uris: Vec<String> = on_a.segments.iter().map(|s| s.uri.clone()).collect();
    let text = wait_body(
        &b.run,
        "/out/news/default/channel_1.m3u8",
        "B to list A's four segments",
        |t| hls::parse_media(t).is_ok_and(|p| p.segments.len() == 4),
    )
    .await;
    let on_b = hls::parse_media(&text).unwrap();
    let uris: Vec<String> = on_b.segments.iter().map(|s| s.uri.clone()).collect();
    assert_eq!(uris, want_uris);
    assert_eq!(on_b.media_sequence, on_a.media_sequence);
    let pdts = |p: &hls::MediaPlaylist| {
        p.segments
            .iter()
            .map(|s| s.program_date_time)
            .collect::<Vec<_>>()
    };
    assert_eq!(pdts(&on_b), pdts(&on_a));
    for (i, uri) in want_uris.iter().enumerate() {
        let path = format!("/out/news/default/{uri}");
        let (sa, bytes_a) = get(&a.run, &path).await;
        let (sb, bytes_b) = get(&b.run, &path).await;
        assert_eq!((sa, sb), (200, 200), "{path}");
        assert_eq!(bytes_b, bytes_a, "{path}");
        assert_eq!(
            bytes_b.as_ref(),
            fixture(&format!("seg{i:03}.ts")),
            "{path}"
        );
    }
    let (status, master_b) = get(&b.run, "/out/news/default/index.m3u8").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&master_b).contains("channel_1.m3u8"));
    // CMAF on B: remuxed from segments it read from the bucket.
    let (status, cmaf) = get(&b.run, "/out/news/cmaf/channel_1.m3u8").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&cmaf));
    let cmaf = hls::parse_media(std::str::from_utf8(&cmaf).unwrap()).unwrap();
    let init = cmaf.segments[0]
        .map
        .as_ref()
        .expect("EXT-X-MAP")
        .uri()
        .expect("URI")
        .to_string();
    let (status, init) = get(&b.run, &format!("/out/news/cmaf/{init}")).await;
    assert_eq!(status, 200);
    assert_eq!(&init[4..8], b"ftyp");
    let (status, frag) = get(&b.run, &format!("/out/news/cmaf/{}", cmaf.segments[0].uri)).await;
    assert_eq!(status, 200);
    assert!(frag.windows(4).any(|w| w == b"moof"));

    // An endpoint added on B reaches A (which is ingesting, so it keeps its own index).
    let resp = b
        .run
        .http
        .post(format!("{}/api/v1/channels/news/endpoints", b.run.base))
        .json(&serde_json::json!({"id": "late", "time_delay_seconds": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    wait_body(
        &a.run,
        "/out/news/late/channel_1.m3u8",
        "A to serve B's endpoint",
        |_| true,
    )
    .await;

    // A dies. Ingest goes on into B with the same credentials (the bucket holds them).
    a.server.abort();
    drop(a);
    let url_b = format!("{}/in/news/1/channel", b.run.base);
    let seg = fixture("seg000.ts"); // any real TS segment
    put.put_created(&format!("{url_b}_1_4.ts"), seg.clone())
        .await;
    let pl = media_playlist(1, 4, t0 + chrono::Duration::seconds(2));
    put.put_created(&format!("{url_b}_1.m3u8"), pl.into()).await;
    let (_, text) = get(&b.run, "/out/news/default/channel_1.m3u8").await;
    let after = hls::parse_media(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(
        after.segments.len(),
        5,
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(after.media_sequence, on_a.media_sequence);
    let last = after.segments.last().unwrap();
    assert_eq!(
        last.program_date_time.unwrap().to_utc(),
        t0 + chrono::Duration::seconds(8),
        "segment 4 follows segment 3 on the timeline"
    );

    // A replica started now restores the channel with B's timeline, and serves segment 4.
    let c = replica(&moto).await;
    let (status, text_c) = get(&c.run, "/out/news/default/channel_1.m3u8").await;
    assert_eq!(status, 200);
    let on_c = hls::parse_media(std::str::from_utf8(&text_c).unwrap()).unwrap();
    let uris =
        |p: &hls::MediaPlaylist| p.segments.iter().map(|s| s.uri.clone()).collect::<Vec<_>>();
    assert_eq!(uris(&on_c), uris(&after));
    let (status, bytes_c) = get(&c.run, &format!("/out/news/default/{}", last.uri)).await;
    assert_eq!((status, bytes_c.as_ref()), (200, seg.as_slice()));
    assert!(
        c.run
            .origin
            .channel("news")
            .unwrap()
            .endpoints
            .iter()
            .any(|e| e.spec.id == "late")
    );

    // Deleting on C removes the channel from B and every object from the bucket.
    let store = moto.object_store("origin");
    assert!(
        objects(&store).await.len() >= 7,
        "definition, index and segments are stored"
    );
    let resp = c
        .run
        .http
        .delete(format!("{}/api/v1/channels/news", c.run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Only the tombstone is left: what tells the other replicas it was deleted, where a
    // store that lost the definition (next test) would not.
    assert_eq!(
        objects(&store).await,
        [format!("{PREFIX}/news.deleted.json")],
    );
    let gone = wait_until(Duration::from_secs(15), "B to drop the channel", || {
        let fut = get(&b.run, "/api/v1/channels/news");
        async move { fut.await.0 == 404 }
    })
    .await;
    assert!(gone.is_ok());

    // Created again under the same id (new ingest users): B takes the new definition,
    // starts from an empty timeline, and accepts the new credentials (it kept the old
    // HA1s before, so the PUT below never succeeded).
    let view2 = create(&c.run, serde_json::json!({"id": "news"})).await;
    let put2 = DigestPut::from_view(&view2, 0);
    wait_body(
        &b.run,
        "/api/v1/channels/news",
        "B to list the new channel",
        |_| true,
    )
    .await;
    let url_b2 = format!("{}/in/news/1/channel", b.run.base);
    let seg0 = fixture("seg000.ts");
    let new_users = wait_until(Duration::from_secs(15), "B to take the new users", || {
        let (put2, url, seg) = (&put2, &url_b2, &seg0);
        async move {
            put2.put(&format!("{url}_1_0.ts"), seg.clone())
                .await
                .status()
                == 201
        }
    })
    .await;
    assert!(new_users.is_ok());
    let (status, text) = get(&b.run, "/out/news/default/channel_1.m3u8").await;
    assert_eq!(
        status,
        404,
        "no old timeline: {}",
        String::from_utf8_lossy(&text)
    );
    b.server.abort();
    c.server.abort();
}

#[tokio::test]
async fn s3_store_config_errors_name_the_field() {
    let mut c = Config {
        store: StoreKind::S3,
        ..Default::default()
    };
    let field = |e: origin::OriginError| match e {
        origin::OriginError::BadField { field, message } => (field, message),
        other => panic!("want a bad field, got {other}"),
    };
    let (f, msg) = field(origin::build(c.clone()).await.err().expect("no URL"));
    assert_eq!(f, "store_url");
    assert!(msg.contains("--store-url"), "{msg}");
    c.store_url = Some("http://bucket/x".into());
    let (f, msg) = field(origin::build(c).await.err().expect("not s3://"));
    assert_eq!(f, "store_url");
    assert!(msg.contains("s3://bucket"), "{msg}");
}

/// A store that loses a channel's definition (a bucket emptied or restored from an older
/// copy) is not a deletion: without the tombstone a delete writes, replicas keep serving
/// the channel and write its definition again.
#[tokio::test]
async fn a_lost_definition_is_written_again_not_taken_for_a_delete() {
    testkit::require_peer!("moto_server");
    let moto = Moto::start().await.expect("moto_server");
    moto.create_bucket("origin").await;
    let a = replica(&moto).await;
    let b = replica(&moto).await;
    create(&a.run, serde_json::json!({"id": "kept"})).await;
    wait_body(
        &b.run,
        "/api/v1/channels/kept",
        "B to list the channel",
        |_| true,
    )
    .await;

    let store = moto.object_store("origin");
    let definition = format!("{PREFIX}/kept.channel.json");
    store
        .delete(&object_store::path::Path::from(definition.as_str()))
        .await
        .unwrap();
    let back = wait_until(
        Duration::from_secs(15),
        "the definition to be written again",
        || {
            let store = &store;
            let definition = &definition;
            async move { objects(store).await.contains(definition) }
        },
    )
    .await;
    assert!(back.is_ok(), "{:?}", objects(&store).await);
    // Both replicas listed the store without the definition meanwhile and kept the channel.
    for r in [&a.run, &b.run] {
        assert_eq!(get(r, "/api/v1/channels/kept").await.0, 200);
    }
    assert!(
        !objects(&store)
            .await
            .iter()
            .any(|o| o.ends_with(".deleted.json"))
    );
    a.server.abort();
    b.server.abort();
}
