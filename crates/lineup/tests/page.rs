//! The web page's HTTP surface, in-process: the pages, `page.json` and the embedded assets
//! with their content types and caching (the browser tests cover what the page does).

use lineup::page::{DocLink, PageConfig, Source, routes};

async fn serve() -> String {
    let config = PageConfig {
        title: "Test channel".into(),
        sources: vec![Source {
            id: "main".into(),
            label: "Main".into(),
            url: "live/master.m3u8".into(),
            note: "the main stream".into(),
        }],
        default_source: "main".into(),
        fetchers: Some("pullpush/api/v1/fetchers".into()),
        now_playing: None,
        schedule: None,
        docs: vec![DocLink {
            name: "Engine API".into(),
            url: "engine/api/docs".into(),
        }],
        licences: vec![("main".into(), "keys/clearkey".into())],
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(listener, routes(config)));
    base
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The asset files a page references (`src="..."` / `href="..."`: `assets/<hash>/<file>`).
fn asset_urls(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|p| p.starts_with("assets/") && p.split('/').count() >= 3)
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn pages_and_assets_have_their_types_and_caching() {
    let base = serve().await;
    let client = reqwest::Client::new();
    for page in ["/", "/player.html"] {
        let r = client.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{page}"
        );
        assert_eq!(header(&r, "cache-control"), "no-cache", "{page}");
        let html = r.text().await.unwrap();
        let assets = asset_urls(&html);
        assert!(!assets.is_empty(), "{page} references no assets");
        for a in assets {
            let r = client.get(format!("{base}/{a}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{a}");
            let ct = header(&r, "content-type");
            let want = if a.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(ct.starts_with(want), "{a}: {ct}");
            let cc = header(&r, "cache-control");
            assert!(
                cc.contains("immutable") && cc.contains("max-age=31536000"),
                "{a}: {cc}"
            );
            assert!(!r.bytes().await.unwrap().is_empty(), "{a}");
        }
    }
    // The page fetches the players the page names, and nothing from elsewhere.
    let html = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/vendor/hls.min.js"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[tokio::test]
async fn page_json_describes_the_streams() {
    let base = serve().await;
    let v = testkit::http::get_json(&reqwest::Client::new(), format!("{base}/page.json")).await;
    assert_eq!(v["title"], "Test channel");
    assert_eq!(v["sources"][0]["url"], "live/master.m3u8");
    assert_eq!(v["default_source"], "main");
    assert_eq!(v["docs"][0]["url"], "engine/api/docs");
    assert!(v["schedule"].is_null());
    // A DRM source names its ClearKey licence (the page's DRM tab plays through EME).
    assert_eq!(v["licences"]["main"], "keys/clearkey");
}

#[tokio::test]
async fn unknown_or_unserved_assets_are_errors() {
    let base = serve().await;
    let client = reqwest::Client::new();
    let html = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let app = asset_urls(&html)
        .into_iter()
        .find(|a| a.ends_with("app.js"))
        .expect("app.js");
    let hash = app.split('/').nth(1).expect("hash");
    // Files that are in the folder but are not web assets, and files that are not there.
    let get = |path: &str| client.get(format!("{base}/assets/{hash}/{path}")).send();
    for path in ["README.md", "update.sh", "vendor/VERSIONS", "nope.js"] {
        testkit::http::assert_api_error(get(path).await.unwrap(), 404, "path", path).await;
    }
    let bad = "a//b.js";
    testkit::http::assert_api_error(get(bad).await.unwrap(), 400, "path", bad).await;
    // Another build's hash still gets the file, but not cached for a year.
    let r = client
        .get(format!("{base}/assets/000000000000/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), "no-cache");
}
