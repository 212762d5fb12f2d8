//! The origin's MediaPackage door driven by clients nobody here wrote: boto3 for every
//! operation (channels, ingest credential rotation, origin endpoints with HLS, CMAF and
//! DASH packages, tags, harvest jobs into a moto bucket), the AWS CLI with a key pair from a credentials file, and SigV4
//! refusals from botocore's signer and a hand-written one. What the door stores is what
//! the lineup API shows (one core), and the lineup API still wants its bearer token.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{Value, json};
use testkit::aws::{Sdk, assert_sigv4_cases, sigv4_cases};

const KEY: &str = "AKIAORIGINTEST";
const SECRET: &str = "origin/secret+key";
const FILE_KEY: &str = "AKIAFROMFILE";
const FILE_SECRET: &str = "file-secret";
const TOKEN: &str = "lineup-token";

async fn origin_with_keys() -> (Running, tempfile::TempDir) {
    origin_with(Arc::new(clock::SystemClock), |c| c).await
}

/// An origin taking `KEY`/`SECRET` (and the credentials file's pair) on `clock`, with
/// `more` applied to its configuration.
async fn origin_with(
    clock: Arc<dyn clock::Clock>,
    more: impl FnOnce(origin::Config) -> origin::Config,
) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        format!("[ci]\naws_access_key_id = {FILE_KEY}\naws_secret_access_key = {FILE_SECRET}\n"),
    )
    .unwrap();
    let r = start(|mut c| {
        c.api_token = Some(TOKEN.into());
        c.aws.aws_api_key = vec![format!("{KEY}:{SECRET}").parse().unwrap()];
        c.aws.aws_api_credentials = Some(creds);
        origin::Origin::with_parts(
            more(c),
            clock,
            Arc::new(origin::store::MemoryStore::new()),
            None,
        )
    })
    .await;
    (r, dir)
}

fn speke(url: &str) -> Value {
    json!({"Url": url, "ResourceId": "r1", "SystemIds": ["81376844-f976-481e-a84e-cc25d39b0b33"],
           "RoleArn": "arn:aws:iam::000000000000:role/x"})
}

async fn lineup_get(r: &Running, path: &str) -> (u16, Value) {
    let resp = r
        .http
        .get(format!("{}{path}", r.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn ingest_delete(r: &Running, n: usize, user: &str, pass: &str) -> u16 {
    testkit::digest::send(
        &r.http,
        reqwest::Method::DELETE,
        &format!("{}/in/ch1/{n}/channel_1_0.ts", r.base),
        user,
        pass,
        None,
    )
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test]
async fn channels_credentials_and_tags_through_boto3_and_the_cli() {
    testkit::require_peer!("python3:boto3");
    testkit::require_peer!("aws");
    let (r, _dir) = origin_with_keys().await;
    let mp = Sdk::new("mediapackage", &r.base, KEY, SECRET);

    let created = mp
        .ok(
            "create_channel",
            json!({"Id": "ch1", "Description": "first", "Tags": {"team": "ops"}}),
        )
        .await;
    assert_eq!(
        created["Arn"],
        "arn:aws:mediapackage:us-east-1:000000000000:channels/ch1"
    );
    let ingest = created["HlsIngest"]["IngestEndpoints"].as_array().unwrap();
    assert_eq!(ingest.len(), 2);
    for (i, e) in ingest.iter().enumerate() {
        assert_eq!(e["Id"], (i + 1).to_string());
        assert_eq!(e["Url"], format!("{}/in/ch1/{}/channel", r.base, i + 1));
        assert!(e["Password"].as_str().unwrap().len() >= 16, "{e}");
    }
    let user1 = ingest[0]["Username"].as_str().unwrap().to_string();
    let pass1 = ingest[0]["Password"].as_str().unwrap().to_string();
    let user2 = ingest[1]["Username"].as_str().unwrap().to_string();
    let pass2 = ingest[1]["Password"].as_str().unwrap().to_string();
    let e = mp.err("create_channel", json!({"Id": "ch1"})).await;
    assert_eq!(
        (e.status, e.class.as_str()),
        (422, "UnprocessableEntityException"),
        "{e:?}"
    );
    let e = mp.err("create_channel", json!({"Id": "bad id"})).await;
    assert_eq!(e.code, "UnprocessableEntityException");
    assert!(e.message.starts_with("Id:"), "{e:?}");

    // The CLI, signing with the credentials file's pair: no passwords after creation.
    let file_cli = Sdk::new("mediapackage", &r.base, FILE_KEY, FILE_SECRET);
    let (code, out, err) = file_cli.cli(&["describe-channel", "--id", "ch1"]).await;
    assert_eq!(code, 0, "{err}");
    let described: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        described["HlsIngest"]["IngestEndpoints"][0]["Username"],
        user1.as_str()
    );
    assert!(
        described["HlsIngest"]["IngestEndpoints"][0]
            .get("Password")
            .is_none()
    );
    assert_eq!(described["Tags"]["team"], "ops");

    mp.ok("create_channel", json!({"Id": "ch2"})).await;
    let page1 = mp.ok("list_channels", json!({"MaxResults": 1})).await;
    assert_eq!(page1["Channels"][0]["Id"], "ch1");
    let next = page1["NextToken"].as_str().unwrap();
    let page2 = mp
        .ok("list_channels", json!({"MaxResults": 1, "NextToken": next}))
        .await;
    assert_eq!(page2["Channels"][0]["Id"], "ch2");
    assert!(page2.get("NextToken").is_none(), "{page2}");

    let updated = mp
        .ok(
            "update_channel",
            json!({"Id": "ch1", "Description": "renamed"}),
        )
        .await;
    assert_eq!(updated["Description"], "renamed");
    // One core: the lineup API shows the same channel, and still wants its token.
    let (status, view) = lineup_get(&r, "/api/v1/channels/ch1").await;
    assert_eq!(status, 200);
    assert_eq!(view["description"], "renamed");
    assert_eq!(view["tags"]["team"], "ops");
    let anon = r
        .http
        .get(format!("{}/api/v1/channels/ch1", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // Rotation: the old password of ingest 1 is refused at once, the new one works, and
    // ingest 2 is untouched until the channel's credentials rotate.
    assert_eq!(ingest_delete(&r, 1, &user1, &pass1).await, 204);
    let rotated = mp
        .ok(
            "rotate_ingest_endpoint_credentials",
            json!({"Id": "ch1", "IngestEndpointId": "1"}),
        )
        .await;
    let eps = &rotated["HlsIngest"]["IngestEndpoints"];
    assert_eq!(eps[0]["Username"], user1.as_str());
    let new1 = eps[0]["Password"].as_str().unwrap().to_string();
    assert_ne!(new1, pass1);
    assert!(eps[1].get("Password").is_none(), "{rotated}");
    assert_eq!(ingest_delete(&r, 1, &user1, &pass1).await, 401);
    assert_eq!(ingest_delete(&r, 1, &user1, &new1).await, 204);
    assert_eq!(ingest_delete(&r, 2, &user2, &pass2).await, 204);
    let e = mp
        .err(
            "rotate_ingest_endpoint_credentials",
            json!({"Id": "ch1", "IngestEndpointId": "3"}),
        )
        .await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
    let both = mp
        .ok("rotate_channel_credentials", json!({"Id": "ch1"}))
        .await;
    let new2 = both["HlsIngest"]["IngestEndpoints"][1]["Password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ingest_delete(&r, 2, &user2, &pass2).await, 401);
    assert_eq!(ingest_delete(&r, 2, &user2, &new2).await, 204);

    // Tags on the channel.
    let arn = created["Arn"].as_str().unwrap();
    mp.ok(
        "tag_resource",
        json!({"ResourceArn": arn, "Tags": {"x": "y"}}),
    )
    .await;
    let tags = mp
        .ok("list_tags_for_resource", json!({"ResourceArn": arn}))
        .await;
    assert_eq!(tags["Tags"], json!({"team": "ops", "x": "y"}));
    mp.ok(
        "untag_resource",
        json!({"ResourceArn": arn, "TagKeys": ["team"]}),
    )
    .await;
    let tags = mp
        .ok("list_tags_for_resource", json!({"ResourceArn": arn}))
        .await;
    assert_eq!(tags["Tags"], json!({"x": "y"}));
    let e = mp
        .err(
            "list_tags_for_resource",
            json!({"ResourceArn": "arn:aws:mediapackage:us-east-1:000000000000:channels/nope"}),
        )
        .await;
    assert_eq!(e.class, "NotFoundException");

    mp.ok("delete_channel", json!({"Id": "ch2"})).await;
    let e = mp.err("describe_channel", json!({"Id": "ch2"})).await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
    let (status, _) = lineup_get(&r, "/api/v1/channels/ch2").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn origin_endpoints_through_boto3() {
    testkit::require_peer!("python3:boto3");
    let (r, _dir) = origin_with_keys().await;
    let mp = Sdk::new("mediapackage", &r.base, KEY, SECRET);
    mp.ok("create_channel", json!({"Id": "ch1"})).await;
    mp.ok("create_channel", json!({"Id": "ch2"})).await;

    let ep = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "ch1", "Id": "ep1", "ManifestName": "live",
                   "Description": "dvr", "StartoverWindowSeconds": 300, "TimeDelaySeconds": 4,
                   "Tags": {"a": "b"},
                   "HlsPackage": {"AdMarkers": "SCTE35_ENHANCED", "IncludeIframeOnlyStream": true,
                                  "PlaylistWindowSeconds": 30, "ProgramDateTimeIntervalSeconds": 10}}),
        )
        .await;
    assert_eq!(ep["Url"], format!("{}/out/ch1/ep1/live.m3u8", r.base));
    assert_eq!(ep["ChannelId"], "ch1");
    assert_eq!(ep["StartoverWindowSeconds"], 300);
    assert_eq!(ep["TimeDelaySeconds"], 4);
    assert_eq!(ep["HlsPackage"]["AdMarkers"], "SCTE35_ENHANCED");
    assert_eq!(ep["HlsPackage"]["IncludeIframeOnlyStream"], true);
    assert_eq!(ep["HlsPackage"]["PlaylistWindowSeconds"], 30);
    assert_eq!(ep["HlsPackage"]["ProgramDateTimeIntervalSeconds"], 10);
    // One core: the lineup API's endpoint is the same one.
    let (_, view) = lineup_get(&r, "/api/v1/channels/ch1/endpoints/ep1").await;
    assert_eq!(view["manifest_window_seconds"], 30);
    assert_eq!(view["startover_window_seconds"], 300);
    assert_eq!(view["i_frames"], true);
    assert_eq!(view["ad_markers"], "scte35_enhanced");
    assert_eq!(view["manifest_name"], "live");
    assert_eq!(view["url"], ep["Url"]);
    // Ids are unique across channels, as in MediaPackage.
    let e = mp
        .err(
            "create_origin_endpoint",
            json!({"ChannelId": "ch2", "Id": "ep1", "HlsPackage": {}}),
        )
        .await;
    assert_eq!(
        (e.status, e.class.as_str()),
        (422, "UnprocessableEntityException")
    );

    let cmaf = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "ch1", "Id": "cm1",
                   "CmafPackage": {"Encryption": {"EncryptionMethod": "SAMPLE_AES",
                                                   "SpekeKeyProvider": speke("lineup:derived")},
                                   "HlsManifests": [{"Id": "cm1", "PlaylistWindowSeconds": 20,
                                                     "IncludeIframeOnlyStream": true}]}}),
        )
        .await;
    let manifest = &cmaf["CmafPackage"]["HlsManifests"][0];
    assert_eq!(
        manifest["Url"],
        format!("{}/out/ch1/cm1/index.m3u8", r.base)
    );
    assert_eq!(manifest["PlaylistWindowSeconds"], 20);
    assert_eq!(
        cmaf["CmafPackage"]["Encryption"]["EncryptionMethod"],
        "SAMPLE_AES"
    );
    let (_, view) = lineup_get(&r, "/api/v1/channels/ch1/endpoints/cm1").await;
    assert_eq!(view["packaging"], "cmaf");
    assert!(view["encryption"]["sample_aes"].is_object(), "{view}");
    let aes = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "ch2", "Id": "aes1",
                   "HlsPackage": {"Encryption": {"EncryptionMethod": "AES_128",
                                                  "KeyRotationIntervalSeconds": 30,
                                                  "SpekeKeyProvider": speke("lineup:derived")}}}),
        )
        .await;
    assert_eq!(
        aes["HlsPackage"]["Encryption"]["KeyRotationIntervalSeconds"],
        30
    );
    let (_, view) = lineup_get(&r, "/api/v1/channels/ch2/endpoints/aes1").await;
    assert_eq!(view["encryption"]["aes128"]["key_rotation_seconds"], 30);

    let d = mp
        .ok("describe_origin_endpoint", json!({"Id": "ep1"}))
        .await;
    assert_eq!(d["Description"], "dvr");
    assert_eq!(d["Tags"]["a"], "b");
    let listed = mp
        .ok("list_origin_endpoints", json!({"ChannelId": "ch1"}))
        .await;
    let ids: Vec<&str> = listed["OriginEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cm1", "ep1"]);
    let page = mp
        .ok("list_origin_endpoints", json!({"MaxResults": 2}))
        .await;
    assert_eq!(page["OriginEndpoints"].as_array().unwrap().len(), 2);
    let rest = mp
        .ok(
            "list_origin_endpoints",
            json!({"MaxResults": 2, "NextToken": page["NextToken"]}),
        )
        .await;
    assert_eq!(rest["OriginEndpoints"][0]["Id"], "ep1");

    // Update: a package given replaces the package; fields left out keep their values.
    let up = mp
        .ok(
            "update_origin_endpoint",
            json!({"Id": "ep1", "HlsPackage": {"PlaylistWindowSeconds": 12,
                                                "IncludeIframeOnlyStream": true}}),
        )
        .await;
    assert_eq!(up["HlsPackage"]["PlaylistWindowSeconds"], 12);
    assert_eq!(up["HlsPackage"]["AdMarkers"], "NONE");
    assert_eq!(up["StartoverWindowSeconds"], 300);
    assert_eq!(up["ManifestName"], "live");
    let (_, view) = lineup_get(&r, "/api/v1/channels/ch1/endpoints/ep1").await;
    assert_eq!(view["manifest_window_seconds"], 12);

    // Tags on an endpoint.
    let arn = ep["Arn"].as_str().unwrap();
    assert_eq!(
        arn,
        "arn:aws:mediapackage:us-east-1:000000000000:origin_endpoints/ep1"
    );
    mp.ok(
        "tag_resource",
        json!({"ResourceArn": arn, "Tags": {"c": "d"}}),
    )
    .await;
    mp.ok(
        "untag_resource",
        json!({"ResourceArn": arn, "TagKeys": ["a"]}),
    )
    .await;
    let tags = mp
        .ok("list_tags_for_resource", json!({"ResourceArn": arn}))
        .await;
    assert_eq!(tags["Tags"], json!({"c": "d"}));

    // What lineup does not offer is a 422 naming the field, never dropped.
    for (body, field) in [
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {}, "MssPackage": {}}),
            "MssPackage",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {}, "DashPackage": {}}),
            "DashPackage",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {"SegmentDurationSeconds": 6}}),
            "HlsPackage.SegmentDurationSeconds",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {"PlaylistWindowSeconds": 0}}),
            "HlsPackage.PlaylistWindowSeconds",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {"PlaylistType": "EVENT"}}),
            "HlsPackage.PlaylistType",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "ManifestName": "channel_1", "HlsPackage": {}}),
            "ManifestName",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "HlsPackage": {"Encryption": {
                "SpekeKeyProvider": speke("https://keys.example.com/speke")}}}),
            "HlsPackage.Encryption.SpekeKeyProvider.Url",
        ),
        (
            json!({"ChannelId": "ch1", "Id": "x", "Whitelist": ["10.0.0.0/8"], "HlsPackage": {}}),
            "Whitelist",
        ),
        (json!({"ChannelId": "ch1", "Id": "x"}), "HlsPackage"),
    ] {
        let e = mp.err("create_origin_endpoint", body.clone()).await;
        assert_eq!(
            (e.status, e.class.as_str()),
            (422, "UnprocessableEntityException"),
            "{body}"
        );
        assert!(e.message.starts_with(&format!("{field}:")), "{body}: {e:?}");
    }
    let e = mp
        .err(
            "create_origin_endpoint",
            json!({"ChannelId": "nope", "Id": "x", "HlsPackage": {}}),
        )
        .await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
    let (_, view) = lineup_get(&r, "/api/v1/channels/ch1").await;
    assert_eq!(view["endpoints"].as_array().unwrap().len(), 2, "{view}");

    mp.ok("delete_origin_endpoint", json!({"Id": "ep1"})).await;
    let e = mp
        .err("describe_origin_endpoint", json!({"Id": "ep1"}))
        .await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
    let e = mp.err("delete_origin_endpoint", json!({"Id": "ep1"})).await;
    assert_eq!(e.class, "NotFoundException");
}

#[tokio::test]
async fn sigv4_refusals_from_botocore_and_a_hand_written_signer() {
    testkit::require_peer!("python3:botocore");
    let (r, _dir) = origin_with_keys().await;
    let mp = Sdk::new("mediapackage", &r.base, KEY, SECRET);
    let cases = sigv4_cases(&mp, "/channels", "/channels", r#"{"id": "sigv4"}"#).await;
    assert_sigv4_cases(&cases, "ForbiddenException");
    // The changed body did not create a channel either.
    let (_, list) = lineup_get(&r, "/api/v1/channels").await;
    assert_eq!(list, json!([]));
    // A bearer token is not a signature (a 403 with AWS's type for a malformed one).
    let resp = r
        .http
        .get(format!("{}/channels", r.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "IncompleteSignatureException"
    );
}

/// A channel created through the SDK, fed by the fixture pusher through the ingest URLs
/// and credentials the SDK answered, on an origin whose clock runs 4x (one 2 s segment
/// every 500 ms).
async fn fed_channel(
    mp: &Sdk,
    id: &str,
    clock: &Arc<clock::ScaledClock>,
) -> common::pusher::FixturePusher {
    let created = mp.ok("create_channel", json!({"Id": id})).await;
    let ingest: Vec<Value> = created["HlsIngest"]["IngestEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!({"url": e["Url"], "username": e["Username"], "password": e["Password"]}))
        .collect();
    let view: origin::ChannelView = serde_json::from_value(json!({
        "id": id, "description": null, "ingest": ingest, "endpoints": [], "variants": []
    }))
    .unwrap();
    let now = clock::Clock::now(clock.as_ref());
    let t0 = chrono::DateTime::from_timestamp((now - chrono::Duration::seconds(4)).timestamp(), 0)
        .unwrap();
    let pusher = common::pusher::FixturePusher::new(&view, t0);
    pusher.push_master().await;
    pusher
}

const STEP: std::time::Duration = std::time::Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dash_endpoint_through_boto3_answers_mpds_the_dash_checker_passes() {
    testkit::require_peer!("python3:boto3");
    let clock = Arc::new(clock::ScaledClock::new(4.0));
    let (r, _dir) = origin_with(clock.clone(), |c| c).await;
    let mp = Sdk::new("mediapackage", &r.base, KEY, SECRET);
    let mut pusher = fed_channel(&mp, "live", &clock).await;
    pusher.ad_breaks = Some((9, 2));
    let ep = mp
        .ok(
            "create_origin_endpoint",
            json!({"ChannelId": "live", "Id": "live-dash", "StartoverWindowSeconds": 100,
                   "DashPackage": {"ManifestWindowSeconds": 12, "MinBufferTimeSeconds": 4,
                                   "MinUpdatePeriodSeconds": 1,
                                   "SuggestedPresentationDelaySeconds": 6,
                                   "PeriodTriggers": ["ADS"],
                                   "SegmentTemplateFormat": "NUMBER_WITH_TIMELINE",
                                   "UtcTiming": "HTTP-ISO", "ManifestLayout": "FULL",
                                   "Profile": "NONE"}}),
        )
        .await;
    let url = ep["Url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/out/live/live-dash/index.mpd", r.base));
    let d = &ep["DashPackage"];
    assert_eq!(d["ManifestWindowSeconds"], 12);
    assert_eq!(d["MinUpdatePeriodSeconds"], 1);
    assert_eq!(d["SuggestedPresentationDelaySeconds"], 6);
    assert_eq!(d["PeriodTriggers"], json!(["ADS"]));
    assert_eq!(d["SegmentTemplateFormat"], "NUMBER_WITH_TIMELINE");
    assert!(ep.get("HlsPackage").is_none(), "{ep}");
    // One core: the lineup API shows the same DASH settings.
    let (_, view) = lineup_get(&r, "/api/v1/channels/live/endpoints/live-dash").await;
    assert_eq!(view["packaging"], "dash");
    assert_eq!(view["manifest_window_seconds"], 12);
    assert_eq!(view["dash"]["min_update_period_seconds"], 1);
    assert_eq!(view["dash"]["suggested_presentation_delay_seconds"], 6);
    assert_eq!(view["dash"]["period_triggers"], json!(["ads"]));
    assert_eq!(view["url"], url.as_str());

    // The returned Url followed with the DASH checker `lineup validate` runs.
    for _ in 0..4 {
        pusher.step().await;
    }
    let mut tracker = dash::LiveTracker::new();
    let (mut problems, mut ads) = (Vec::new(), 0);
    let mut last = String::new();
    for _ in 0..22 {
        pusher.step().await;
        let (status, text) = testkit::http::get_text(&r.http, &url).await;
        assert_eq!(status, 200, "{text}");
        problems.extend(dash::check_text(&text).1);
        problems.extend(tracker.update(&text));
        ads += usize::from(text.contains("urn:scte:scte35:2013:xml"));
        last = text;
        tokio::time::sleep(STEP).await;
    }
    assert!(problems.is_empty(), "{problems:#?}\n{last}");
    assert!(ads > 0, "no ad avail Period (PeriodTriggers ADS):\n{last}");
    assert!(last.contains("timeShiftBufferDepth=\"PT12S\""), "{last}");
    assert!(last.contains("minimumUpdatePeriod=\"PT1S\""), "{last}");

    // Updated: a shorter window and no ad Periods; the MPD follows.
    let up = mp
        .ok(
            "update_origin_endpoint",
            json!({"Id": "live-dash", "DashPackage": {"ManifestWindowSeconds": 6,
                                                       "PeriodTriggers": []}}),
        )
        .await;
    assert_eq!(up["DashPackage"]["ManifestWindowSeconds"], 6);
    assert_eq!(up["DashPackage"]["PeriodTriggers"], json!([]));
    assert_eq!(up["StartoverWindowSeconds"], 100);
    pusher.step().await;
    let (_, text) = testkit::http::get_text(&r.http, &url).await;
    assert!(text.contains("timeShiftBufferDepth=\"PT6S\""), "{text}");
    assert!(dash::check_text(&text).1.is_empty(), "{text}");
    let d = mp
        .ok("describe_origin_endpoint", json!({"Id": "live-dash"}))
        .await;
    assert_eq!(d["DashPackage"]["ManifestWindowSeconds"], 6);

    // What the MPD does not offer: the AWS error class, naming the field.
    for (package, field) in [
        (
            json!({"SegmentTemplateFormat": "TIME_WITH_TIMELINE"}),
            "DashPackage.SegmentTemplateFormat",
        ),
        (
            json!({"PeriodTriggers": ["SCTE"]}),
            "DashPackage.PeriodTriggers",
        ),
        (
            json!({"ManifestLayout": "COMPACT"}),
            "DashPackage.ManifestLayout",
        ),
        (json!({"Profile": "HBBTV_1_5"}), "DashPackage.Profile"),
        (
            json!({"MinUpdatePeriodSeconds": 0}),
            "DashPackage.MinUpdatePeriodSeconds",
        ),
        (
            json!({"SegmentDurationSeconds": 6}),
            "DashPackage.SegmentDurationSeconds",
        ),
    ] {
        let body = json!({"ChannelId": "live", "Id": "bad-dash", "DashPackage": package});
        let e = mp.err("create_origin_endpoint", body.clone()).await;
        assert_eq!(
            (e.status, e.class.as_str()),
            (422, "UnprocessableEntityException"),
            "{body}"
        );
        assert!(e.message.starts_with(&format!("{field}:")), "{body}: {e:?}");
    }
    let e = mp
        .err(
            "update_origin_endpoint",
            json!({"Id": "live-dash", "DashPackage": {"UtcTiming": "NONE"}}),
        )
        .await;
    assert!(e.message.starts_with("DashPackage.UtcTiming:"), "{e:?}");
}

/// Every object under `prefix` of `store`, written under `dir` (their keys as paths).
async fn download(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    dir: &std::path::Path,
) -> Vec<String> {
    use futures::TryStreamExt;
    let listed: Vec<_> = store
        .list(Some(&object_store::path::Path::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut keys = Vec::new();
    for meta in listed {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let path = dir.join(meta.location.as_ref());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        keys.push(meta.location.to_string());
    }
    keys.sort();
    keys
}

/// The problems `lineup validate` fails on.
fn errors(problems: Vec<hls::validate::Problem>) -> Vec<hls::validate::Problem> {
    problems
        .into_iter()
        .filter(|p| p.severity == hls::validate::Severity::Error)
        .collect()
}

async fn job_status(mp: &Sdk, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = mp.ok("describe_harvest_job", json!({"Id": id})).await;
        if job["Status"] == want || std::time::Instant::now() > deadline {
            assert_eq!(job["Status"], want, "{job}");
            return job;
        }
        assert_eq!(job["Status"], "IN_PROGRESS", "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harvest_jobs_through_boto3_export_a_vod_package_into_a_moto_bucket() {
    testkit::require_peer!("python3:boto3");
    testkit::require_peer!("moto_server");
    testkit::require_peer!("ffprobe");
    let moto = testkit::Moto::start().await.expect("moto_server");
    moto.create_bucket("vod-archive").await;
    let clock = Arc::new(clock::ScaledClock::new(4.0));
    let (mkey, msecret) = moto.credentials();
    let (endpoint, region) = (moto.endpoint(), moto.region());
    let (r, _dir) = origin_with(clock.clone(), move |mut c| {
        c.harvest_s3 = true;
        c.s3_endpoint = Some(endpoint);
        c.s3_region = region.into();
        c.s3_access_key_id = Some(mkey.into());
        c.s3_secret_access_key = Some(msecret.into());
        c
    })
    .await;
    let mp = Sdk::new("mediapackage", &r.base, KEY, SECRET);
    let mut pusher = fed_channel(&mp, "news", &clock).await;
    mp.ok(
        "create_origin_endpoint",
        json!({"ChannelId": "news", "Id": "news-hls", "StartoverWindowSeconds": 7200,
               "HlsPackage": {"PlaylistWindowSeconds": 12, "IncludeIframeOnlyStream": true}}),
    )
    .await;
    for _ in 0..18 {
        pusher.step().await;
        tokio::time::sleep(STEP).await;
    }
    // Segments 4 to 13 (two VOD changes inside): 20 s.
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (start, end) = (iso(pusher.start_of(4)), iso(pusher.start_of(14)));
    let dest = json!({"BucketName": "vod-archive", "ManifestKey": "catchup/news/index.m3u8",
                      "RoleArn": "arn:aws:iam::000000000000:role/harvest"});
    let job = mp
        .ok(
            "create_harvest_job",
            json!({"Id": "news-1", "OriginEndpointId": "news-hls", "StartTime": start,
                   "EndTime": end, "S3Destination": dest}),
        )
        .await;
    assert_eq!(
        job["Arn"],
        "arn:aws:mediapackage:us-east-1:000000000000:harvest_jobs/news-1"
    );
    assert_eq!(job["ChannelId"], "news");
    assert_eq!(job["S3Destination"], dest);
    assert_eq!(job["StartTime"], start.as_str());
    assert!(
        job["Status"] == "IN_PROGRESS" || job["Status"] == "SUCCEEDED",
        "{job}"
    );
    job_status(&mp, "news-1", "SUCCEEDED").await;

    // The package, read back from the bucket: a VOD master and media playlists the
    // validator passes, and ffprobe plays the whole window from it.
    let local = tempfile::tempdir().unwrap();
    let store = moto.object_store("vod-archive");
    let keys = download(store.as_ref(), "catchup/news", local.path()).await;
    assert!(
        keys.contains(&"catchup/news/index.m3u8".to_string()),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.ends_with(".ts")), "{keys:?}");
    let pkg = local.path().join("catchup/news");
    let master_text = std::fs::read_to_string(pkg.join("index.m3u8")).unwrap();
    let (master, problems) = hls::validate::check_text(&master_text);
    let problems = errors(problems);
    assert!(problems.is_empty(), "{problems:?}\n{master_text}");
    let Some(hls::Playlist::Master(master)) = master else {
        panic!("not a master: {master_text}")
    };
    assert!(
        master_text.contains("#EXT-X-I-FRAME-STREAM-INF"),
        "{master_text}"
    );
    let mut medias = Vec::new();
    for v in &master.variants {
        assert!(!v.uri.contains('?') && !v.uri.contains("://"), "{}", v.uri);
        let text = std::fs::read_to_string(pkg.join(&v.uri)).unwrap();
        let (pl, problems) = hls::validate::check_text(&text);
        let problems = errors(problems);
        assert!(problems.is_empty(), "{}: {problems:?}\n{text}", v.uri);
        let Some(hls::Playlist::Media(pl)) = pl else {
            panic!("{}", v.uri)
        };
        assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{text}");
        let secs: f64 = pl.segments.iter().map(|s| s.duration).sum();
        assert!((secs - 20.0).abs() <= 2.1, "{secs} s harvested:\n{text}");
        assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
        medias.push((v.uri.clone(), pl));
    }
    let refs: Vec<(&str, &hls::MediaPlaylist)> =
        medias.iter().map(|(u, p)| (u.as_str(), p)).collect();
    let problems = errors(hls::validate::check_variants(&master, &refs));
    assert!(problems.is_empty(), "{problems:?}");
    let master_path = pkg.join("index.m3u8");
    let probed = testkit::player::ffprobe_duration(master_path.to_str().unwrap()).await;
    assert!((probed - 20.0).abs() <= 2.5, "ffprobe: {probed} s");

    // Listing, by channel and by status.
    let listed = mp
        .ok("list_harvest_jobs", json!({"IncludeStatus": "SUCCEEDED"}))
        .await;
    assert_eq!(listed["HarvestJobs"][0]["Id"], "news-1", "{listed}");
    let none = mp
        .ok("list_harvest_jobs", json!({"IncludeChannelId": "other"}))
        .await;
    assert_eq!(none["HarvestJobs"], json!([]));

    // A bucket that does not exist: the job fails, as in AWS.
    let missing = json!({"BucketName": "no-such-bucket", "ManifestKey": "x/index.m3u8",
                         "RoleArn": "arn:aws:iam::000000000000:role/harvest"});
    mp.ok(
        "create_harvest_job",
        json!({"Id": "news-2", "OriginEndpointId": "news-hls", "StartTime": start,
               "EndTime": end, "S3Destination": missing}),
    )
    .await;
    job_status(&mp, "news-2", "FAILED").await;
    let failed = mp
        .ok("list_harvest_jobs", json!({"IncludeStatus": "FAILED"}))
        .await;
    assert_eq!(failed["HarvestJobs"][0]["Id"], "news-2", "{failed}");

    // Refusals: the AWS error classes, naming the field.
    let future = iso(chrono::Utc::now() + chrono::Duration::hours(1));
    for (body, status, class, field) in [
        (
            json!({"Id": "j", "OriginEndpointId": "news-hls", "StartTime": start,
                   "EndTime": future, "S3Destination": dest}),
            422,
            "UnprocessableEntityException",
            "EndTime:",
        ),
        (
            json!({"Id": "j", "OriginEndpointId": "news-hls", "StartTime": end,
                   "EndTime": start, "S3Destination": dest}),
            422,
            "UnprocessableEntityException",
            "EndTime:",
        ),
        (
            json!({"Id": "j", "OriginEndpointId": "news-hls", "StartTime": "yesterday",
                   "EndTime": end, "S3Destination": dest}),
            422,
            "UnprocessableEntityException",
            "StartTime:",
        ),
        (
            json!({"Id": "j", "OriginEndpointId": "news-hls", "StartTime": start,
                   "EndTime": end, "S3Destination": {"BucketName": "vod-archive",
                   "ManifestKey": "../index.m3u8", "RoleArn": "r"}}),
            422,
            "UnprocessableEntityException",
            "S3Destination.ManifestKey:",
        ),
        (
            json!({"Id": "news-1", "OriginEndpointId": "news-hls", "StartTime": start,
                   "EndTime": end, "S3Destination": dest}),
            422,
            "UnprocessableEntityException",
            "",
        ),
        (
            json!({"Id": "j", "OriginEndpointId": "nope", "StartTime": start,
                   "EndTime": end, "S3Destination": dest}),
            404,
            "NotFoundException",
            "",
        ),
    ] {
        let e = mp.err("create_harvest_job", body.clone()).await;
        assert_eq!(
            (e.status, e.class.as_str()),
            (status, class),
            "{body}: {e:?}"
        );
        assert!(e.message.starts_with(field), "{body}: {e:?}");
    }
    let e = mp.err("describe_harvest_job", json!({"Id": "nope"})).await;
    assert_eq!((e.status, e.class.as_str()), (404, "NotFoundException"));
}
