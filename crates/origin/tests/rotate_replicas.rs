//! Ingest credentials rotated through the MediaPackage API on one replica (`--store s3`,
//! a real moto server) reach the others: a follower refuses the old password and takes
//! the new one, and keeps the channel it had (same usernames: the same channel, not a
//! new one replacing its timeline).

mod common;

use std::time::Duration;

use common::*;
use origin::{Config, StoreKind};
use serde_json::json;
use testkit::aws::Sdk;
use testkit::{Moto, wait_for};

const KEY: &str = "AKIAREPLICAS";
const SECRET: &str = "replicas-secret";

async fn replica(moto: &Moto) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let (key, secret) = moto.credentials();
    let mut c = Config {
        listen: addr,
        public_url: Some(base.clone()),
        store: StoreKind::S3,
        store_url: Some("s3://origin/rotate".into()),
        s3_endpoint: Some(moto.endpoint()),
        s3_region: moto.region().into(),
        s3_access_key_id: Some(key.into()),
        s3_secret_access_key: Some(secret.into()),
        follow_interval_ms: 100,
        secret: Some("shared by every replica".into()),
        ..Default::default()
    };
    c.aws.aws_api_key = vec![format!("{KEY}:{SECRET}").parse().unwrap()];
    let origin = origin::build(c).await.unwrap();
    let router = origin.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Running {
        origin,
        base,
        http: reqwest::Client::new(),
    }
}

async fn ingest_delete(r: &Running, user: &str, pass: &str) -> u16 {
    testkit::digest::send(
        &r.http,
        reqwest::Method::DELETE,
        &format!("{}/in/ch1/1/channel_1_0.ts", r.base),
        user,
        pass,
        None,
    )
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_on_one_replica_reaches_the_others() {
    testkit::require_peer!("moto_server");
    testkit::require_peer!("python3:boto3");
    let moto = Moto::start().await.expect("moto");
    moto.create_bucket("origin").await;
    let a = replica(&moto).await;
    let b = replica(&moto).await;
    let mp = Sdk::new("mediapackage", &a.base, KEY, SECRET);
    let created = mp.ok("create_channel", json!({"Id": "ch1"})).await;
    let ingest = &created["HlsIngest"]["IngestEndpoints"][0];
    let user = ingest["Username"].as_str().unwrap().to_string();
    let old = ingest["Password"].as_str().unwrap().to_string();
    mp.ok(
        "create_origin_endpoint",
        json!({"ChannelId": "ch1", "Id": "ep1", "HlsPackage": {}}),
    )
    .await;
    wait_for(
        Duration::from_secs(20),
        "the follower to take the channel",
        || {
            let (b, user, old) = (&b, &user, &old);
            async move { (ingest_delete(b, user, old).await == 204).then_some(()) }
        },
    )
    .await
    .unwrap();

    let rotated = mp
        .ok(
            "rotate_ingest_endpoint_credentials",
            json!({"Id": "ch1", "IngestEndpointId": "1"}),
        )
        .await;
    let new = rotated["HlsIngest"]["IngestEndpoints"][0]["Password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ingest_delete(&a, &user, &old).await, 401);
    wait_for(
        Duration::from_secs(20),
        "the follower to take the rotation",
        || {
            let (b, user, old) = (&b, &user, &old);
            async move { (ingest_delete(b, user, old).await == 401).then_some(()) }
        },
    )
    .await
    .unwrap();
    assert_eq!(ingest_delete(&b, &user, &new).await, 204);
    // The same channel on the follower, its endpoint kept.
    let view = b.origin.channel("ch1").unwrap();
    assert_eq!(view.ingest[0].username, user);
    assert_eq!(view.endpoints.len(), 1);
    let mp_b = Sdk::new("mediapackage", &b.base, KEY, SECRET);
    let d = mp_b
        .ok("describe_origin_endpoint", json!({"Id": "ep1"}))
        .await;
    assert_eq!(d["ChannelId"], "ch1");
}
