//! Tests of the kit itself: each peer starts and answers one real request.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use testkit::{
    Apache, Fault, FfmpegLive, LiveOptions, Moto, Redis, require_peer, wait_for, wait_until,
};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[test]
fn fixtures_are_there() {
    let dir = testkit::fixtures_dir();
    assert!(dir.is_absolute());
    for f in [
        "ts/vod1/master.m3u8",
        "ts/vod2/master.m3u8",
        "ts/vod3/master.m3u8",
        "ts/slate/master.m3u8",
        "cmaf/vod1/360p/init.mp4",
        "cmaf/vod2/master.m3u8",
        "demuxed/vod1/audio_sv/index.m3u8",
        "subs/vod1/subs_en/seg000.vtt",
        "aes/vod1/360p/key.bin",
        "ads/vod1/180p/index.m3u8",
        "corpus/rfc8216-8.1-simple-media.m3u8",
        "broken/missing-extm3u.m3u8",
    ] {
        assert!(testkit::fixture(f).is_file(), "{f}");
    }
    let broken = std::fs::read_dir(dir.join("broken")).unwrap().count();
    assert!(broken >= 20, "{broken} broken playlists");
}

#[test]
fn missing_peer_is_none() {
    assert!(testkit::peer("no-such-program-lineup").is_none());
    assert!(testkit::peer("python3:no_such_module_lineup").is_none());
}

#[tokio::test]
async fn serve_dir_serves_and_fails_on_demand() {
    let (addr, srv) = testkit::serve_dir(testkit::fixtures_dir()).await;
    assert!(addr.ip().is_loopback());
    let c = client();
    let url = srv.url("ts/vod1/master.m3u8");
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().starts_with("#EXTM3U"));

    srv.fail("ts/vod1/master.m3u8", Fault::Status(404));
    assert_eq!(
        c.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    srv.fail("ts/vod1/*", Fault::Status(500));
    let seg = srv.url("ts/vod1/360p/seg000.ts");
    assert_eq!(
        c.get(&seg).send().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // The longest pattern wins.
    assert_eq!(
        c.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    srv.clear_all();
    assert_eq!(c.get(&seg).send().await.unwrap().status(), StatusCode::OK);

    srv.fail_times("ts/vod2/master.m3u8", Fault::Status(503), 2);
    let url2 = srv.url("ts/vod2/master.m3u8");
    for want in [503, 503, 200] {
        assert_eq!(c.get(&url2).send().await.unwrap().status().as_u16(), want);
    }
    assert_eq!(srv.hits("ts/vod2/master.m3u8"), 3);

    srv.fail("ts/vod3/master.m3u8", Fault::Timeout);
    let url3 = srv.url("ts/vod3/master.m3u8");
    let err = c
        .get(&url3)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // A parked request is released when the fault is cleared.
    let pending = tokio::spawn({
        let c = c.clone();
        let url3 = url3.clone();
        async move { c.get(&url3).send().await.map(|r| r.status()) }
    });
    wait_until(Duration::from_secs(5), "request to park", || async {
        srv.hits("ts/vod3/master.m3u8") >= 2
    })
    .await
    .unwrap();
    srv.clear("ts/vod3/master.m3u8");
    assert_eq!(pending.await.unwrap().unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn apache_put_with_digest_then_get() {
    require_peer!("apache2");
    let mut apache = Apache::start().await.expect("start apache");
    let (user, pass) = apache.credentials();
    let c = client();
    let url = format!("{}hello.m3u8", apache.url());
    let body = b"#EXTM3U\n#EXT-X-ENDLIST\n".to_vec();

    // Without credentials: 401 with a Digest challenge.
    let r = c.put(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()[reqwest::header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Digest") && challenge.contains(apache.realm()),
        "{challenge}"
    );
    // Wrong password: still 401.
    let r = testkit::digest::send(&c, Method::PUT, &url, user, "wrong", Some(body.clone()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = testkit::digest::send(&c, Method::PUT, &url, user, pass, Some(body.clone()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", apache.error_log());
    let got = c.get(&url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), body.as_slice());
    assert_eq!(
        std::fs::read(apache.docroot().join("hello.m3u8")).unwrap(),
        body
    );

    // Nested paths need MKCOL first (plain WebDAV); then PUT and DELETE work.
    let dir = format!("{}live/", apache.url());
    let r = testkit::digest::send(
        &c,
        Method::from_bytes(b"MKCOL").unwrap(),
        &dir,
        user,
        pass,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let seg = format!("{dir}seg1.ts");
    let r = testkit::digest::send(&c, Method::PUT, &seg, user, pass, Some(vec![0x47; 188]))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = testkit::digest::send(&c, Method::DELETE, &seg, user, pass, None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(&seg).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // Fault injection: down for a while, then back on the same port with the same files.
    apache.stop();
    assert!(c.get(&url).send().await.is_err());
    apache
        .restart(Duration::from_millis(200))
        .await
        .expect("restart");
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn redis_answers_ping() {
    require_peer!("redis-server");
    let mut redis = Redis::start().await.expect("start redis");
    assert!(redis.url().starts_with("redis://127.0.0.1:"));
    assert!(redis.ping().await);
    redis.stop();
    assert!(!redis.ping().await);
    redis.resume().await.unwrap();
    assert!(redis.ping().await);
}

#[tokio::test]
async fn moto_creates_a_bucket() {
    require_peer!("moto_server");
    let moto = Moto::start().await.expect("start moto");
    moto.create_bucket("lineup-test").await;
    let (status, list) = testkit::http::get_text(&client(), format!("{}/", moto.endpoint())).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("<Name>lineup-test</Name>"), "{list}");
    // Objects go through the SigV4-signing object_store client (moto 5.2 stores an empty
    // body for an unsigned plain-HTTP object PUT).
    let store = moto.object_store("lineup-test");
    let path = object_store::path::Path::from("a/b.ts");
    store.put(&path, b"segment".to_vec().into()).await.unwrap();
    let back = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&back[..], b"segment");
}

/// The body of a `GET url` that answers 200 (through testkit's own HTTP helper).
async fn ok_text(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    let (status, text) = testkit::http::get_text(c, url).await;
    assert_eq!(status, 200, "{text}");
    text
}

async fn live_grows(opts: LiveOptions) {
    let live = FfmpegLive::start(opts.clone()).await.expect("start ffmpeg");
    let c = client();
    let master = ok_text(&c, live.playlist_url()).await;
    assert_eq!(
        master.matches("#EXT-X-STREAM-INF").count(),
        live.renditions(),
        "{master}"
    );
    let url = live.media_playlist_url(live.renditions() - 1);
    let first = ok_text(&c, &url).await;
    assert!(first.contains("#EXTINF"), "{first}");
    assert_eq!(first.contains("#EXT-X-MAP"), opts.fmp4, "{first}");
    let seq0 = live.media_sequence(0).unwrap();
    // The window slides: media sequence advances past the window size.
    wait_until(
        Duration::from_secs(30),
        "media sequence to advance",
        || async { live.media_sequence(0).is_some_and(|s| s > seq0 + 1) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", live.log()));
    let text = ok_text(&c, &url).await;
    let segs = text.lines().filter(|l| l.starts_with("#EXTINF")).count();
    assert!(segs <= opts.list_size as usize, "{text}");
    // The newest segment is served.
    let last = text
        .lines()
        .rev()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_string();
    let seg_url = url.replace("index.m3u8", &last);
    let status = wait_for(Duration::from_secs(5), "segment", || {
        let req = c.get(&seg_url).send();
        async move { req.await.ok().map(|r| r.status()) }
    })
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ffmpeg_live_ts_playlist_appears_and_grows() {
    require_peer!("ffmpeg");
    live_grows(LiveOptions {
        list_size: 3,
        ..Default::default()
    })
    .await;
}

#[tokio::test]
async fn ffmpeg_live_fmp4_two_renditions() {
    require_peer!("ffmpeg");
    live_grows(LiveOptions {
        fmp4: true,
        two_renditions: true,
        list_size: 3,
        ..Default::default()
    })
    .await;
}

/// The master names `kind` with a URI, and that playlist is served and lists segments.
async fn rendition_served(live: &FfmpegLive, kind: &str, url: &str) -> String {
    let c = client();
    let master = ok_text(&c, live.playlist_url()).await;
    let rel = url.rsplit_once("/stream_").unwrap().1;
    assert!(
        master.lines().any(|l| l.starts_with("#EXT-X-MEDIA:")
            && l.contains(&format!("TYPE={kind}"))
            && l.contains(&format!("URI=\"stream_{rel}\""))),
        "{master}"
    );
    let text = ok_text(&c, url).await;
    assert!(text.contains("#EXTINF"), "{text}");
    text
}

#[tokio::test]
async fn ffmpeg_live_demuxed_audio() {
    require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions {
        demuxed_audio: true,
        ..Default::default()
    })
    .await
    .expect("start ffmpeg");
    let audio = live.audio_playlist_url().unwrap();
    assert!(audio.ends_with("stream_1/index.m3u8"), "{audio}");
    rendition_served(&live, "AUDIO", &audio).await;
    assert!(live.subtitle_playlist_url().is_none());
}

#[tokio::test]
async fn ffmpeg_live_subtitles_with_muxed_audio() {
    require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions {
        subtitles: true,
        ..Default::default()
    })
    .await
    .expect("start ffmpeg");
    let url = live.subtitle_playlist_url().unwrap();
    let text = rendition_served(&live, "SUBTITLES", &url).await;
    let seg = text.lines().rev().find(|l| l.ends_with(".vtt")).unwrap();
    let vtt = ok_text(&client(), url.replace("index_vtt.m3u8", seg)).await;
    assert!(vtt.starts_with("WEBVTT") && vtt.contains("cue "), "{vtt}");
    assert!(live.audio_playlist_url().is_none());
}
