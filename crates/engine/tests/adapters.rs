//! Built-in adapters: the channels file (TOML), deterministic shuffle, ad breaks, and the
//! HTTP asset manager against a real HTTP server.

mod common;

use std::time::Duration;

use engine::adapters::{FileAdapter, NextItemRequest};
use engine::timeline::Item;
use engine::{AssetManager, ChannelManager, HttpAssetManager};

fn req(channel: &str, position: u64) -> NextItemRequest {
    NextItemRequest {
        channel: channel.into(),
        session: None,
        category: None,
        playlist: None,
        position,
        at_ms: None,
        target_ms: None,
    }
}

#[tokio::test]
async fn toml_channels_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channels.toml");
    std::fs::write(
        &path,
        r#"
[[channels]]
id = "news"
title = "News"
vods = ["http://o/a.m3u8", { id = "b", title = "B", uri = "http://o/b.m3u8" }, "http://o/c.m3u8"]
order = "shuffle"
seed = 3
ad_every = 3
ad_duration_secs = 15

[channels.profile]
variants = [{ bandwidth = 400000, resolution = [640, 360], codecs = "avc1.64001e,mp4a.40.2" }]
"#,
    )
    .unwrap();
    let f = FileAdapter::from_path(&path).unwrap();
    let chans = f.channels().await.unwrap();
    assert_eq!(chans[0].id, "news");
    assert_eq!(
        chans[0].profile.as_ref().unwrap().variants[0].bandwidth,
        400_000
    );
    let mut first_cycle = Vec::new();
    for p in 0..8 {
        let item = f.next_item(req("news", p)).await.unwrap();
        // Deterministic: asking again gives the same item.
        assert_eq!(item, f.next_item(req("news", p)).await.unwrap());
        if p % 4 == 3 {
            assert_eq!(
                item,
                Item::AdBreak {
                    duration_ms: 15_000,
                    filler: None
                }
            );
        } else if p < 3 {
            first_cycle.push(item);
        }
    }
    // A shuffle plays every VOD once per cycle.
    let mut urls: Vec<String> = first_cycle
        .iter()
        .map(|i| match i {
            Item::Vod { url, .. } => url.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        ["http://o/a.m3u8", "http://o/b.m3u8", "http://o/c.m3u8"]
    );
    assert!(f.next_item(req("nope", 0)).await.is_err());

    std::fs::write(&path, "[[channels]]\nid = \"bad id!\"\nvods = [\"x\"]\n").unwrap();
    assert!(FileAdapter::from_path(&path).is_err());
}

#[tokio::test]
async fn http_asset_manager() {
    use axum::{Json, Router, extract::Query, routing::get};
    use std::collections::HashMap;
    let app = Router::new().route(
        "/next",
        get(|Query(q): Query<HashMap<String, String>>| async move {
            let pos: u64 = q["position"].parse().unwrap();
            if q.get("category").map(String::as_str) == Some("ads") {
                Json(serde_json::json!({"type": "ad_break", "duration_ms": 5000}))
            } else {
                Json(serde_json::json!({"id": format!("v{pos}"), "title": "T", "uri": format!("http://o/{}/{pos}.m3u8", q["channel"])}))
            }
        }),
    );
    let base = common::serve(app).await;
    let m = HttpAssetManager::new(&format!("{base}next"), Duration::from_secs(2)).unwrap();
    let item = m.next_item(req("one", 4)).await.unwrap();
    assert_eq!(
        item,
        Item::Vod {
            id: "v4".into(),
            title: Some("T".into()),
            url: "http://o/one/4.m3u8".into()
        }
    );
    let mut r = req("one", 5);
    r.category = Some("ads".into());
    assert_eq!(
        m.next_item(r).await.unwrap(),
        Item::AdBreak {
            duration_ms: 5000,
            filler: None
        }
    );
    let bad = HttpAssetManager::new(&format!("{base}nothing"), Duration::from_secs(2)).unwrap();
    assert!(bad.next_item(req("one", 0)).await.is_err());
}
