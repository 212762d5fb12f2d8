//! `lineup demo` driven through its AWS-shaped doors by boto3 and the AWS CLI, end to end:
//! a MediaPackage channel created with the SDK, the engine's channel pushed to its ingest
//! URLs by a pull/push fetcher with the credentials the SDK answered, an HLS origin
//! endpoint (start-over, I-frames, a manifest name), a CMAF and a DASH one followed by
//! `lineup validate`, the HLS one's
//! window updated and the playlist following, ingest credentials rotated (old ones 401, a
//! fetcher given the new ones carries on), a MediaTailor playback configuration on that
//! endpoint (segment URIs under its CdnConfiguration prefixes) played through the prefixes
//! it answers, deletes answered with
//! `NotFoundException`, and the banner's `aws mediapackage list-channels` line run as
//! printed.

mod common;
use common::lineup;

use std::time::Duration;

use serde_json::{Value, json};
use testkit::aws::Sdk;

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

/// The first media playlist a master names, as an absolute URL.
async fn first_media(master_url: &str) -> Option<String> {
    let master = get(master_url).await?;
    let uri = master
        .lines()
        .find(|l| !l.starts_with('#') && l.ends_with(".m3u8"))?;
    let base = url::Url::parse(master_url).ok()?;
    Some(base.join(uri).ok()?.to_string())
}

/// (media sequence, seconds listed) of a media playlist.
async fn window(media_url: &str) -> Option<(u64, f64)> {
    let text = get(media_url).await?;
    let pl = hls::parse_media(&text).ok()?;
    let secs = pl.segments.iter().map(|s| s.duration).sum();
    Some((pl.media_sequence, secs))
}

fn ingest_urls(channel: &Value) -> Value {
    let eps = channel["HlsIngest"]["IngestEndpoints"].as_array().unwrap();
    json!({ "ingestUrls": eps.iter().map(|e| json!({
        "url": e["Url"], "username": e["Username"], "password": e["Password"],
    })).collect::<Vec<_>>() })
}

async fn start_fetcher(demo: &lineup::demo::Demo, name: &str, payload: Value) -> String {
    demo.pullpush
        .start_fetcher(pullpush::NewFetcher {
            name: name.into(),
            url: demo.engine_master.clone(),
            output: "mediapackage".into(),
            payload,
            concurrency: None,
            window_size: None,
        })
        .await
        .expect("fetcher starts")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_and_cli_drive_the_demo_end_to_end() {
    testkit::require_peer!("python3:boto3");
    testkit::require_peer!("aws");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = lineup::demo::start(&args, listener)
        .await
        .expect("demo starts");
    let key = demo
        .aws_key
        .clone()
        .expect("a loopback demo has a key pair");
    let b = &demo.base;
    let mp = Sdk::new(
        "mediapackage",
        &lineup::demo_aws::mediapackage_url(b),
        &key.access_key_id,
        key.secret.expose(),
    );
    let mt = Sdk::new(
        "mediatailor",
        &lineup::demo_aws::mediatailor_url(b),
        &key.access_key_id,
        key.secret.expose(),
    );

    // The banner's line works as printed.
    let line = lineup::demo_aws::cli_line(b, &key);
    let out = tokio::process::Command::new("sh")
        .args(["-c", &line])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{line}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["Channels"][0]["Id"], "demo", "{stdout}");

    // A channel from the SDK; the engine's channel pushed to its ingest URLs.
    let channel = mp
        .ok(
            "create_channel",
            json!({"Id": "aws1", "Description": "from boto3"}),
        )
        .await;
    let fetcher = start_fetcher(&demo, "aws1", ingest_urls(&channel)).await;
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ep = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "aws1", "Id": "aws1-hls", "ManifestName": "live",
                   "StartoverWindowSeconds": 300,
                   "HlsPackage": {"PlaylistWindowSeconds": 20, "IncludeIframeOnlyStream": true,
                                  "AdMarkers": "DATERANGE"}}),
        )
        .await;
    let url = ep["Url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{b}/origin/out/aws1/aws1-hls/live.m3u8"));
    let media = testkit::wait_for(Duration::from_secs(90), "the endpoint's playlist", || {
        let url = url.clone();
        async move {
            let media = first_media(&url).await?;
            let (_, secs) = window(&media).await?;
            (secs >= 12.0).then_some(media)
        }
    })
    .await
    .unwrap();
    let master = get(&url).await.unwrap();
    assert!(master.contains("#EXT-X-I-FRAME-STREAM-INF"), "{master}");
    let (code, out) = lineup(&["validate", "--follow", "12", &url]).await;
    assert_eq!(code, 0, "live endpoint:\n{out}");
    let (code, out) = lineup(&["validate", &format!("{url}?start={started}")]).await;
    assert_eq!(code, 0, "start-over:\n{out}");

    // A CMAF endpoint and a PROGRAM-DATE-TIME interval, both from the SDK, followed too.
    let cmaf = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "aws1", "Id": "aws1-cmaf", "StartoverWindowSeconds": 60,
                   "CmafPackage": {"HlsManifests": [{"Id": "aws1-cmaf", "PlaylistWindowSeconds": 20,
                                                     "ProgramDateTimeIntervalSeconds": 6}]}}),
        )
        .await;
    let cmaf_url = cmaf["CmafPackage"]["HlsManifests"][0]["Url"]
        .as_str()
        .unwrap()
        .to_string();
    let cmaf_media = testkit::wait_for(Duration::from_secs(60), "the CMAF playlist", || {
        let url = cmaf_url.clone();
        async move {
            let media = first_media(&url).await?;
            let text = get(&media).await?;
            (text.matches("#EXTINF").count() >= 4).then_some(text)
        }
    })
    .await
    .unwrap();
    assert!(cmaf_media.contains("#EXT-X-MAP"), "{cmaf_media}");
    let pdts = cmaf_media.matches("#EXT-X-PROGRAM-DATE-TIME").count();
    assert!(
        pdts >= 1 && pdts < cmaf_media.matches("#EXTINF").count(),
        "one PROGRAM-DATE-TIME per 6 s, not per segment:\n{cmaf_media}"
    );
    let (code, out) = lineup(&["validate", "--follow", "6", &cmaf_url]).await;
    assert_eq!(code, 0, "CMAF endpoint:\n{out}");

    // A DASH endpoint from the SDK: its Url is an MPD `lineup validate` follows clean.
    let dash = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "aws1", "Id": "aws1-dash", "StartoverWindowSeconds": 60,
                   "DashPackage": {"ManifestWindowSeconds": 20, "MinUpdatePeriodSeconds": 2,
                                   "PeriodTriggers": ["ADS"]}}),
        )
        .await;
    let dash_url = dash["Url"].as_str().unwrap().to_string();
    assert_eq!(dash_url, format!("{b}/origin/out/aws1/aws1-dash/index.mpd"));
    assert_eq!(dash["DashPackage"]["ManifestWindowSeconds"], 20);
    testkit::wait_for(Duration::from_secs(60), "the MPD", || {
        let url = dash_url.clone();
        async move { get(&url).await.filter(|t| t.contains("<S ")) }
    })
    .await
    .unwrap();
    let (code, out) = lineup(&["validate", "--follow", "6", &dash_url]).await;
    assert_eq!(code, 0, "DASH endpoint:\n{out}");

    // The window, updated with the CLI, and the playlist following it.
    let (code, _, err) = mp
        .cli(&[
            "update-origin-endpoint",
            "--id",
            "aws1-hls",
            "--hls-package",
            "PlaylistWindowSeconds=6,IncludeIframeOnlyStream=true,AdMarkers=DATERANGE",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, secs) = window(&media).await.unwrap();
    assert!(
        secs <= 6.0 + 4.0,
        "{secs} s listed after the window became 6 s"
    );
    let d = mp
        .ok("describe_origin_endpoint", json!({"Id": "aws1-hls"}))
        .await;
    assert_eq!(d["HlsPackage"]["PlaylistWindowSeconds"], 6);
    assert_eq!(d["StartoverWindowSeconds"], 300);

    // Rotation: the old credentials are refused, a fetcher given the new ones carries on.
    let old = &channel["HlsIngest"]["IngestEndpoints"];
    let mut fresh = channel.clone();
    for (i, n) in ["1", "2"].into_iter().enumerate() {
        let rotated = mp
            .ok(
                "rotate_ingest_endpoint_credentials",
                json!({"Id": "aws1", "IngestEndpointId": n}),
            )
            .await;
        let now = &rotated["HlsIngest"]["IngestEndpoints"][i];
        assert_eq!(now["Username"], old[i]["Username"]);
        assert_ne!(now["Password"], old[i]["Password"]);
        fresh["HlsIngest"]["IngestEndpoints"][i]["Password"] = now["Password"].clone();
    }
    let refused = testkit::digest::send(
        &reqwest::Client::new(),
        reqwest::Method::PUT,
        &format!("{}_1.m3u8", old[0]["Url"].as_str().unwrap()),
        old[0]["Username"].as_str().unwrap(),
        old[0]["Password"].as_str().unwrap(),
        Some(b"#EXTM3U\n".to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 401);
    demo.pullpush.stop_fetcher(&fetcher).await.unwrap();
    let (seq_before, _) = window(&media).await.unwrap();
    start_fetcher(&demo, "aws1-rotated", ingest_urls(&fresh)).await;
    testkit::wait_for(Duration::from_secs(60), "the playlist to advance", || {
        let media = media.clone();
        async move { (window(&media).await?.0 >= seq_before + 2).then_some(()) }
    })
    .await
    .unwrap();

    // MediaTailor in front of the endpoint: a session through the answered prefixes.
    // Its CdnConfiguration: `localhost` stands for a CDN in front of the demo.
    let content = url.rsplit_once('/').unwrap().0.to_string();
    let cdn = b.replace("127.0.0.1", "localhost");
    let cdn_content = content.replace("127.0.0.1", "localhost");
    let config = mt
        .ok(
            "put_playback_configuration",
            json!({"Name": "aws1", "VideoContentSourceUrl": content,
                   "AdDecisionServerUrl": format!("{b}/adserver/api/v1/vast?dur=[session.avail_duration_secs]&uid=[session.id]"),
                   "SlateAdUrl": format!("{b}/vod/ts/slate/master.m3u8"),
                   "CdnConfiguration": {"ContentSegmentUrlPrefix": cdn_content,
                                        "AdSegmentUrlPrefix": format!("{cdn}/ads")}}),
        )
        .await;
    let prefix = config["HlsConfiguration"]["ManifestEndpointPrefix"]
        .as_str()
        .unwrap();
    let ssai = format!("{prefix}live.m3u8");
    let (code, out) = lineup(&["validate", "--follow", "8", "--check-segments", &ssai]).await;
    assert_eq!(code, 0, "SSAI session:\n{out}");
    let session_media = first_media(&ssai).await.unwrap();
    let text = get(&session_media).await.unwrap();
    let segments: Vec<&str> = text.lines().filter(|l| l.ends_with(".ts")).collect();
    assert!(!segments.is_empty(), "{text}");
    for s in &segments {
        assert!(
            s.starts_with(&format!("{cdn_content}/"))
                || s.starts_with(&format!("{cdn}/ads/v1/segment/")),
            "{s} is not under the CDN prefixes:\n{text}"
        );
    }
    let first = segments[0].to_string();
    assert!(
        reqwest::get(&first).await.unwrap().status().is_success(),
        "{first} through the CDN prefix"
    );
    let session: Value = reqwest::Client::new()
        .post(format!(
            "{}live.m3u8",
            config["SessionInitializationEndpointPrefix"]
                .as_str()
                .unwrap()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let manifest = url::Url::parse(b)
        .unwrap()
        .join(session["manifestUrl"].as_str().unwrap())
        .unwrap();
    assert!(get(manifest.as_str()).await.is_some(), "{session}");
    mt.ok("delete_playback_configuration", json!({"Name": "aws1"}))
        .await;
    let e = mt
        .err("get_playback_configuration", json!({"Name": "aws1"}))
        .await;
    assert_eq!(e.code, "NotFoundException");

    // Deletes.
    mp.ok("delete_origin_endpoint", json!({"Id": "aws1-hls"}))
        .await;
    let e = mp
        .err("describe_origin_endpoint", json!({"Id": "aws1-hls"}))
        .await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
    assert!(get(&url).await.is_none());
    mp.ok("delete_channel", json!({"Id": "aws1"})).await;
    let e = mp.err("describe_channel", json!({"Id": "aws1"})).await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
}
