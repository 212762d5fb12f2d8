//! Small HTTP helpers for tests: fetch a URL's status, text, bytes or JSON in one call, and
//! check the JSON errors every lineup API answers bad input with.
//!
//! Every helper `unwrap`s transport errors (a test talking to its own 127.0.0.1 server has no
//! business seeing one), except [`get_bytes`], which answers `None` for anything but a 2xx
//! body: it is the fetch function for pollers and followers, which retry.

use bytes::Bytes;
use serde_json::Value;

/// `GET url`; the status code.
pub async fn get_status(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

/// `GET url`; the status code and the body as text.
pub async fn get_text(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// `GET url`; the body parsed as JSON (whatever the status).
pub async fn get_json(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// `GET url`; the body of a 2xx answer, `None` for any other status or a transport error.
pub async fn get_bytes(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> Option<Bytes> {
    let r = client.get(url).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.bytes().await.ok()
}

/// Asserts `resp` is lineup's JSON API error (`web::ApiError`): status `status`, a body
/// `{"error": <non-empty text>, "field": field}`. Returns the body for further checks
/// (e.g. `detail`). `what` names the case in failure messages (a URL, a request body).
pub async fn assert_api_error(
    resp: reqwest::Response,
    status: u16,
    field: &str,
    what: &str,
) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: the error body is not JSON ({e}): {text}"));
    assert_eq!(body["field"], field, "{what}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: no error message: {body}"
    );
    body
}

/// `GET url`; the body parsed as an HLS media playlist (panics if it is not one, e.g. an
/// error answer).
pub async fn get_media_playlist(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
) -> hls::MediaPlaylist {
    let (status, text) = get_text(client, url).await;
    hls::parse_media(&text)
        .unwrap_or_else(|e| panic!("not a media playlist ({e}); status {status}: {text}"))
}
