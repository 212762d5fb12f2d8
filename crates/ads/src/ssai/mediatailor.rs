//! The MediaTailor front door: `PutPlaybackConfiguration`, `GetPlaybackConfiguration`,
//! `ListPlaybackConfigurations`, `DeletePlaybackConfiguration` and the tag operations with
//! the routes, JSON shapes and error types of AWS Elemental MediaTailor
//! (`mediatailor/2018-04-23/service-2.json` in botocore), so the AWS SDKs and CLI
//! (`--endpoint-url <ads service>/ads`) manage the proxy's configurations. Every request
//! must carry a SigV4 signature for service `mediatailor` by one of the configured keys.
//!
//! One core, two doors: a configuration put here is the same value
//! `PUT /api/v1/playbackConfigurations/{name}` stores ([`Proxy::put_config`], which
//! validates); MediaTailor's field names are the lineup API's already (PascalCase), so a
//! field lineup does not offer (`LivePreRollConfiguration`, `InsertionMode`, ...) is
//! refused by name (400 `BadRequestException`), never dropped. `CdnConfiguration` moves
//! segment URIs of session playlists under its prefixes (see `config::CdnConfiguration`).
//!
//! ```text
//! PUT             /playbackConfiguration           PutPlaybackConfiguration
//! GET/DELETE      /playbackConfiguration/{Name}    Get / DeletePlaybackConfiguration
//! GET             /playbackConfigurations          ListPlaybackConfigurations
//! POST/GET/DELETE /tags/{ResourceArn}              TagResource / ListTagsForResource / UntagResource
//! ```
//! Answers add `PlaybackConfigurationArn`
//! (`arn:aws:mediatailor:<region>:000000000000:playbackConfiguration/<name>`),
//! `PlaybackEndpointPrefix` (this service's base URL), `HlsConfiguration.ManifestEndpointPrefix`
//! (`<base>/v1/master/<name>/`) and `SessionInitializationEndpointPrefix`
//! (`<base>/v1/session/<name>/`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Map, Value};
use web::aws_error::AwsError;
use web::sigv4::{Verifier, require_sigv4};

use super::Proxy;
use super::config::PlaybackConfiguration;
use crate::error::AdsError;

/// The account id in the ARNs lineup answers with.
pub const ACCOUNT: &str = "000000000000";

type Answer = Result<Response, AwsError>;

/// The MediaTailor routes behind SigV4 (relative to the proxy's root).
pub(crate) fn routes(p: &Proxy) -> Router<Proxy> {
    let cfg = &p.inner.cfg;
    let verifier = Verifier::new(
        cfg.aws_keys.clone(),
        "mediatailor",
        cfg.aws_region.clone(),
        "ForbiddenException",
    );
    Router::new()
        .route("/playbackConfiguration", put(put_configuration))
        .route(
            "/playbackConfiguration/{name}",
            get(get_configuration).delete(delete_configuration),
        )
        .route("/playbackConfigurations", get(list_configurations))
        .route("/tags/{arn}", get(list_tags).post(tag).delete(untag))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(verifier),
            require_sigv4,
        ))
}

fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NotFoundException", message)
}

fn from_ads(e: AdsError) -> AwsError {
    match e {
        AdsError::UnknownConfig(name) => {
            not_found(format!("playback configuration {name:?} not found"))
        }
        AdsError::BadField { .. } => bad_request(e.to_string()),
        e => AwsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
            e.to_string(),
        ),
    }
}

/// Where this service is reached: the configured public URL, else the request's host and
/// the prefix the proxy is nested under.
fn base_url(p: &Proxy, headers: &HeaderMap, uri: &axum::http::Uri, route: &str) -> String {
    if let Some(u) = &p.inner.cfg.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.path();
    let prefix = path.find(route).map_or("", |at| &path[..at]);
    format!("http://{host}{prefix}")
}

/// A configuration as MediaTailor answers it.
fn answer(p: &Proxy, c: &PlaybackConfiguration, base: &str) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Value::Object(m) = &mut v {
        let name = &c.name;
        m.insert("PlaybackConfigurationArn".into(), arn(p, name).into());
        m.insert("PlaybackEndpointPrefix".into(), base.into());
        m.insert(
            "HlsConfiguration".into(),
            serde_json::json!({ "ManifestEndpointPrefix": format!("{base}/v1/master/{name}/") }),
        );
        m.insert(
            "SessionInitializationEndpointPrefix".into(),
            format!("{base}/v1/session/{name}/").into(),
        );
        m.entry("tags").or_insert_with(|| Value::Object(Map::new()));
    }
    v
}

fn arn(p: &Proxy, name: &str) -> String {
    format!(
        "arn:aws:mediatailor:{}:{ACCOUNT}:playbackConfiguration/{name}",
        p.inner.cfg.aws_region
    )
}

fn json(v: Value) -> Answer {
    Ok(axum::Json(v).into_response())
}

async fn put_configuration(
    State(p): State<Proxy>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut fields: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("the body is not a JSON object: {e}")))?;
    let name = match fields.remove("Name") {
        Some(Value::String(n)) => n,
        _ => return Err(bad_request("Name: a playback configuration needs a Name")),
    };
    // Everything else is the lineup configuration's own field names: what it does not
    // know is refused by serde, naming the field.
    let c: PlaybackConfiguration = serde_json::from_value(Value::Object(fields))
        .map_err(|e| bad_request(format!("PutPlaybackConfiguration: {e}")))?;
    let c = p.put_config(&name, c).await.map_err(from_ads)?;
    let base = base_url(&p, &headers, &uri, "/playbackConfiguration");
    json(answer(&p, &c, &base))
}

async fn get_configuration(
    State(p): State<Proxy>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Answer {
    let c = p.config(&name).await.map_err(from_ads)?;
    let base = base_url(&p, &headers, &uri, "/playbackConfiguration");
    json(answer(&p, &c, &base))
}

async fn delete_configuration(State(p): State<Proxy>, Path(name): Path<String>) -> Answer {
    p.delete_config(&name).await.map_err(from_ads)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn query(raw: Option<String>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

async fn list_configurations(
    State(p): State<Proxy>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = query(q);
    let one = |k: &str| q.get(k).and_then(|v| v.last()).cloned();
    let max = match one("MaxResults") {
        None => 100,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=100).contains(m))
            .ok_or_else(|| bad_request("MaxResults: must be 1 to 100"))?,
    };
    let after = one("NextToken");
    let all = p.configs().await.map_err(from_ads)?;
    let mut rest: Vec<_> = all
        .into_iter()
        .filter(|c| after.as_ref().is_none_or(|a| &c.name > a))
        .collect();
    let next = (rest.len() > max).then(|| rest[max - 1].name.clone());
    rest.truncate(max);
    let base = base_url(&p, &headers, &uri, "/playbackConfigurations");
    let mut out = serde_json::json!({
        "Items": rest.iter().map(|c| answer(&p, c, &base)).collect::<Vec<_>>(),
    });
    if let Some(n) = next {
        out["NextToken"] = n.into();
    }
    json(out)
}

/// The configuration an ARN names.
async fn resource(p: &Proxy, arn: &str) -> Result<Arc<PlaybackConfiguration>, AwsError> {
    let prefix = format!(
        "arn:aws:mediatailor:{}:{ACCOUNT}:playbackConfiguration/",
        p.inner.cfg.aws_region
    );
    let name = arn
        .strip_prefix(&prefix)
        .ok_or_else(|| bad_request(format!("ResourceArn: {arn:?} names no resource here")))?;
    p.config(name).await.map_err(from_ads)
}

async fn retag(
    p: &Proxy,
    arn: &str,
    edit: impl FnOnce(&mut BTreeMap<String, String>),
) -> Result<(), AwsError> {
    let c = resource(p, arn).await?;
    let mut c = PlaybackConfiguration::clone(&c);
    edit(&mut c.tags);
    let name = c.name.clone();
    p.put_config(&name, c).await.map_err(from_ads)?;
    Ok(())
}

async fn list_tags(State(p): State<Proxy>, Path(arn): Path<String>) -> Answer {
    let c = resource(&p, &arn).await?;
    json(serde_json::json!({ "tags": c.tags }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tags: BTreeMap<String, String>,
}

async fn tag(State(p): State<Proxy>, Path(arn): Path<String>, body: Bytes) -> Answer {
    let b: TagBody =
        serde_json::from_slice(&body).map_err(|e| bad_request(format!("TagResource: {e}")))?;
    retag(&p, &arn, |tags| tags.extend(b.tags)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn untag(State(p): State<Proxy>, Path(arn): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let keys = query(q).remove("tagKeys").unwrap_or_default();
    if keys.is_empty() {
        return Err(bad_request("TagKeys: name at least one tag key"));
    }
    retag(&p, &arn, |tags| {
        for k in &keys {
            tags.remove(k);
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
