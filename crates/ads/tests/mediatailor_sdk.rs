//! The ads service's MediaTailor door driven by boto3 and the AWS CLI: every playback
//! configuration operation and the tag operations, on the same store as
//! `/ads/api/v1/playbackConfigurations`; fields lineup does not offer refused by name;
//! SigV4 refusals from botocore's signer and a hand-written one.

use serde_json::{Value, json};
use testkit::aws::{Sdk, assert_sigv4_cases, sigv4_cases};

const KEY: &str = "AKIAADSTEST";
const SECRET: &str = "ads/secret";

async fn ads_with_keys() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listen = listener.local_addr().unwrap();
    let mut aws = web::sigv4::SigV4Args {
        aws_api_region: "us-east-1".into(),
        ..Default::default()
    };
    aws.aws_api_key = vec![format!("{KEY}:{SECRET}").parse().unwrap()];
    let args = ads::AdsArgs {
        listen,
        public_url: None,
        creatives_base: "http://127.0.0.1:9/vod".into(),
        catalog: None,
        seed: 1,
        max_sessions: 100,
        api_token: None,
        aws,
        condition_dir: None,
        condition_max_bytes: 1 << 30,
        condition_jobs: 1,
        no_condition: true,
        redis_url: None,
    };
    let (ad_server, proxy) = ads::build(&args).unwrap();
    let router = ads::router(&ad_server, &proxy);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{listen}")
}

#[tokio::test]
async fn playback_configurations_through_boto3_and_the_cli() {
    testkit::require_peer!("python3:boto3");
    testkit::require_peer!("aws");
    let base = ads_with_keys().await;
    let mt = Sdk::new("mediatailor", &format!("{base}/ads"), KEY, SECRET);
    let put = mt
        .ok(
            "put_playback_configuration",
            json!({"Name": "live", "VideoContentSourceUrl": "http://127.0.0.1:9/origin/out",
                   "AdDecisionServerUrl": "http://127.0.0.1:9/vast?d=[session.avail_duration_secs]",
                   "SlateAdUrl": "http://127.0.0.1:9/slate/master.m3u8",
                   "PersonalizationThresholdSeconds": 2,
                   "AvailSuppression": {"Mode": "BEHIND_LIVE_EDGE", "Value": "00:00:30"},
                   "ManifestProcessingRules": {"AdMarkerPassthrough": {"Enabled": true}},
                   "CdnConfiguration": {"ContentSegmentUrlPrefix": "https://cdn.example.com/content",
                                        "AdSegmentUrlPrefix": "https://ads-cdn.example.com"},
                   "Tags": {"team": "ops"}}),
        )
        .await;
    let prefix = format!("{base}/ads");
    assert_eq!(put["PlaybackEndpointPrefix"], prefix.as_str());
    assert_eq!(
        put["HlsConfiguration"]["ManifestEndpointPrefix"],
        format!("{prefix}/v1/master/live/")
    );
    assert_eq!(
        put["SessionInitializationEndpointPrefix"],
        format!("{prefix}/v1/session/live/")
    );
    assert_eq!(
        put["PlaybackConfigurationArn"],
        "arn:aws:mediatailor:us-east-1:000000000000:playbackConfiguration/live"
    );
    assert_eq!(put["AvailSuppression"]["Value"], "00:00:30");
    assert_eq!(put["Tags"]["team"], "ops");
    assert_eq!(
        put["CdnConfiguration"]["ContentSegmentUrlPrefix"],
        "https://cdn.example.com/content"
    );

    // One store: the lineup API shows it.
    let mine: Value = reqwest::get(format!("{base}/ads/api/v1/playbackConfigurations/live"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["SlateAdUrl"], "http://127.0.0.1:9/slate/master.m3u8");
    assert_eq!(mine["tags"]["team"], "ops");

    let (code, out, err) = mt
        .cli(&["get-playback-configuration", "--name", "live"])
        .await;
    assert_eq!(code, 0, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["PersonalizationThresholdSeconds"], 2);
    assert_eq!(
        got["ManifestProcessingRules"]["AdMarkerPassthrough"]["Enabled"],
        true
    );

    mt.ok(
        "put_playback_configuration",
        json!({"Name": "other", "VideoContentSourceUrl": "http://127.0.0.1:9/a",
               "AdDecisionServerUrl": "http://127.0.0.1:9/vast"}),
    )
    .await;
    let page = mt
        .ok("list_playback_configurations", json!({"MaxResults": 1}))
        .await;
    assert_eq!(page["Items"][0]["Name"], "live");
    let rest = mt
        .ok(
            "list_playback_configurations",
            json!({"MaxResults": 1, "NextToken": page["NextToken"]}),
        )
        .await;
    assert_eq!(rest["Items"][0]["Name"], "other");
    assert!(rest.get("NextToken").is_none());

    let arn = put["PlaybackConfigurationArn"].as_str().unwrap();
    mt.ok(
        "tag_resource",
        json!({"ResourceArn": arn, "Tags": {"x": "y"}}),
    )
    .await;
    mt.ok(
        "untag_resource",
        json!({"ResourceArn": arn, "TagKeys": ["team"]}),
    )
    .await;
    let tags = mt
        .ok("list_tags_for_resource", json!({"ResourceArn": arn}))
        .await;
    assert_eq!(tags["Tags"], json!({"x": "y"}));

    // Not offered: refused by name, nothing stored.
    for (field, value) in [
        (
            "CdnConfiguration",
            json!({"ContentSegmentUrlPrefix": "ftp://cdn.example.com"}),
        ),
        (
            "LivePreRollConfiguration",
            json!({"MaxDurationSeconds": 30}),
        ),
        ("InsertionMode", json!("PLAYER_SELECT")),
    ] {
        let mut body = json!({"Name": "bad", "VideoContentSourceUrl": "http://127.0.0.1:9/a",
                              "AdDecisionServerUrl": "http://127.0.0.1:9/vast"});
        body[field] = value;
        let e = mt.err("put_playback_configuration", body).await;
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "BadRequestException"),
            "{e:?}"
        );
        assert!(e.message.contains(field), "{e:?}");
    }
    let e = mt
        .err(
            "put_playback_configuration",
            json!({"Name": "bad", "VideoContentSourceUrl": "ftp://x", "AdDecisionServerUrl": "http://a/"}),
        )
        .await;
    assert_eq!(e.class, "BadRequestException");
    assert!(e.message.contains("VideoContentSourceUrl"), "{e:?}");
    let e = mt
        .err("get_playback_configuration", json!({"Name": "bad"}))
        .await;
    assert_eq!((e.status, e.code.as_str()), (404, "NotFoundException"));

    mt.ok("delete_playback_configuration", json!({"Name": "other"}))
        .await;
    let e = mt
        .err("get_playback_configuration", json!({"Name": "other"}))
        .await;
    assert_eq!(e.code, "NotFoundException");
    let status = reqwest::get(format!("{base}/ads/api/v1/playbackConfigurations/other"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sigv4_refusals_from_botocore_and_a_hand_written_signer() {
    testkit::require_peer!("python3:botocore");
    let base = ads_with_keys().await;
    let mt = Sdk::new("mediatailor", &format!("{base}/ads"), KEY, SECRET);
    let cases = sigv4_cases(
        &mt,
        "/playbackConfigurations",
        "/tags/arn%3Aaws%3Amediatailor%3Aus-east-1%3A000000000000%3AplaybackConfiguration%2Fx",
        r#"{"tags": {"k": "sigv4"}}"#,
    )
    .await;
    assert_sigv4_cases(&cases, "ForbiddenException");
}
