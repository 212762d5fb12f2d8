//! `/api/docs`: every service's API reference, readable without a network.
//!
//! The page is Scalar's API reference, whose bundle (`assets/`, pinned) is served by the
//! service itself at `/api/docs/scalar.js`, so a machine with no internet (a studio network,
//! CI) sees the same page as one with it.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{Html, IntoResponse},
    routing::get,
};

/// Scalar's standalone bundle, pinned (see `assets/README.md`).
const SCALAR_JS: &[u8] = include_bytes!("../assets/scalar-api-reference-1.46.4.js");

/// The page: the spec inline, the bundle from this service (relative to `/api/docs`, so a
/// service mounted under a prefix works too), no web fonts.
const PAGE: &str = r#"<!doctype html>
<html>
<head>
  <title>API reference</title>
  <meta charset="utf-8"/>
  <meta name="viewport" content="width=device-width, initial-scale=1"/>
</head>
<body>
<script id="api-reference" type="application/json" data-configuration='{"withDefaultFonts":false}'>
$spec
</script>
<script src="docs/scalar.js"></script>
</body>
</html>
"#;

/// `GET /api/docs` (Scalar UI), `GET /api/docs/scalar.js` and `GET /api/docs/openapi.json`.
pub fn docs_routes<S: Clone + Send + Sync + 'static>(api: utoipa::openapi::OpenApi) -> Router<S> {
    let json = serde_json::to_string_pretty(&api).unwrap_or_else(|_| "{}".into());
    // `</script>` inside the spec would end the inline script early.
    let page = PAGE.replace("$spec", &json.replace("</", "<\\/"));
    Router::new()
        .route(
            "/api/docs",
            get(move || {
                let page = page.clone();
                async move { Html(page) }
            }),
        )
        .route(
            "/api/docs/scalar.js",
            get(|| async {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/javascript; charset=utf-8"),
                        ),
                        (
                            header::CACHE_CONTROL,
                            HeaderValue::from_static("public, max-age=86400"),
                        ),
                    ],
                    SCALAR_JS,
                )
                    .into_response()
            }),
        )
        .route(
            "/api/docs/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], json) }
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get_text(app: &Router, path: &str) -> (u16, String, usize) {
        let resp = app
            .clone()
            .oneshot(
                axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into(), body.len())
    }

    /// The page loads nothing from elsewhere: its one script is the service's own.
    #[tokio::test]
    async fn the_page_needs_no_network() {
        let mut api = utoipa::openapi::OpenApi::default();
        api.info.title = "</script><b>x".into();
        let app: Router = docs_routes(api);
        let (status, page, _) = get_text(&app, "/api/docs").await;
        assert_eq!(status, 200);
        let srcs: Vec<&str> = page.split("src=\"").skip(1).collect();
        assert_eq!(srcs.len(), 1, "{page}");
        assert!(srcs[0].starts_with("docs/scalar.js\""), "{page}");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "the spec ends no script"
        );
        let (status, _, len) = get_text(&app, "/api/docs/scalar.js").await;
        assert_eq!(status, 200);
        assert_eq!(len, SCALAR_JS.len());
        let (status, json, _) = get_text(&app, "/api/docs/openapi.json").await;
        assert_eq!(status, 200);
        assert!(json.contains("</script>"), "the JSON itself is unchanged");
    }
}
