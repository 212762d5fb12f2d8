//! The MediaPackage (v1, `2017-10-12`) front door: the routes, JSON shapes, status codes
//! and error types of AWS Elemental MediaPackage's control API, so the AWS SDKs and CLI
//! (`--endpoint-url <origin>`) drive the origin. Every request must carry a Signature
//! Version 4 signature for service `mediapackage` by one of the configured access keys
//! ([`web::sigv4`]); lineup's own API keeps its bearer token.
//!
//! One core, two doors: each handler translates the request ([`convert`]) and calls the
//! same operation the lineup API calls (`Shared::create_channel`, `add_endpoint`,
//! `replace_endpoint`, `rotate_ingest`, ...), which validates and stores; errors come back
//! as MediaPackage's (`NotFoundException` 404, `UnprocessableEntityException` 422 naming
//! the field, `ServiceUnavailableException` 503).
//!
//! ```text
//! POST/GET        /channels                      CreateChannel / ListChannels
//! GET/PUT/DELETE  /channels/{id}                 DescribeChannel / UpdateChannel / DeleteChannel
//! PUT             /channels/{id}/credentials     RotateChannelCredentials (both ingests)
//! PUT             /channels/{id}/ingest_endpoints/{1|2}/credentials
//!                                                RotateIngestEndpointCredentials
//! POST/GET        /origin_endpoints              CreateOriginEndpoint / ListOriginEndpoints
//! GET/PUT/DELETE  /origin_endpoints/{id}         Describe / Update / DeleteOriginEndpoint
//! POST/GET/DELETE /tags/{arn}                    TagResource / ListTagsForResource / UntagResource
//! POST/GET        /harvest_jobs                  CreateHarvestJob / ListHarvestJobs
//! GET             /harvest_jobs/{id}             DescribeHarvestJob
//! ```
//! Origin endpoint ids are unique across channels here, as in MediaPackage. ARNs are
//! `arn:aws:mediapackage:<region>:000000000000:channels/<id>`, `.../origin_endpoints/<id>` and
//! `.../harvest_jobs/<id>`.

mod convert;
mod dash;
mod harvest;
mod shapes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use web::aws_error::AwsError;
use web::sigv4::{Verifier, require_sigv4};

use crate::model::{ChannelSpec, ChannelView, EndpointSpec, Packaging};
use crate::registry::Shared;
use convert::{from_origin, not_found, parse, unprocessable};

pub use convert::DERIVED_KEYS_URL;

/// The account id in the ARNs lineup answers with.
pub const ACCOUNT: &str = "000000000000";

type Answer = Result<Response, AwsError>;

/// The MediaPackage routes behind SigV4 (relative to the service root).
pub(crate) fn routes(verifier: Arc<Verifier>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/channels", get(list_channels).post(create_channel))
        .route(
            "/channels/{id}",
            get(describe_channel)
                .put(update_channel)
                .delete(delete_channel),
        )
        .route("/channels/{id}/credentials", put(rotate_channel))
        .route(
            "/channels/{id}/ingest_endpoints/{ingest}/credentials",
            put(rotate_ingest),
        )
        .route(
            "/origin_endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/origin_endpoints/{id}",
            get(describe_endpoint)
                .put(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/tags/{arn}", get(list_tags).post(tag).delete(untag))
        .route("/harvest_jobs", get(harvest::list).post(harvest::create))
        .route("/harvest_jobs/{id}", get(harvest::describe))
        .route_layer(axum::middleware::from_fn_with_state(
            verifier,
            require_sigv4,
        ))
}

fn region(s: &Shared) -> &str {
    &s.config.aws.aws_api_region
}

fn arn(s: &Shared, kind: &str, id: &str) -> String {
    format!("arn:aws:mediapackage:{}:{ACCOUNT}:{kind}/{id}", region(s))
}

fn ok<T: serde::Serialize>(v: T) -> Answer {
    Ok(Json(v).into_response())
}

/// MediaPackage answers a delete with 202 and an empty object.
fn accepted() -> Answer {
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response())
}

fn channel_answer(s: &Shared, v: ChannelView) -> shapes::Channel {
    shapes::Channel {
        arn: arn(s, "channels", &v.id),
        hls_ingest: shapes::HlsIngest {
            ingest_endpoints: v
                .ingest
                .into_iter()
                .enumerate()
                .map(|(i, e)| shapes::IngestEndpoint {
                    id: (i + 1).to_string(),
                    url: e.url,
                    username: e.username,
                    password: e.password,
                })
                .collect(),
        },
        id: v.id,
        description: v.description,
        tags: v.tags,
    }
}

fn package_of(spec: &EndpointSpec) -> &'static str {
    match spec.packaging {
        Packaging::Ts => "HlsPackage",
        Packaging::Cmaf => "CmafPackage.HlsManifests[0]",
        Packaging::Dash => "DashPackage",
    }
}

fn endpoint_answer(s: &Shared, channel: &str, spec: &EndpointSpec) -> shapes::OriginEndpoint {
    let url = s.endpoint_view(channel, spec.clone()).url;
    convert::answer(spec, channel, arn(s, "origin_endpoints", &spec.id), url)
}

/// The query's parameters (the last value of each, except `tagKeys`, which repeats).
fn query(raw: Option<String>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

/// One page of `items` (sorted by `key`): after `nextToken`, at most `maxResults` (1 to
/// 1000, default 1000); the token of the next page is the last key of this one.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    q: &HashMap<String, Vec<String>>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let one = |k: &str| q.get(k).and_then(|v| v.last()).map(String::as_str);
    let max = match one("maxResults") {
        None => 1000,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=1000).contains(m))
            .ok_or_else(|| unprocessable("MaxResults", "must be 1 to 1000"))?,
    };
    let after = one("nextToken");
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.is_none_or(|a| key(i) > a))
        .collect();
    let next = (rest.len() > max).then(|| key(&rest[max - 1]).to_string());
    rest.truncate(max);
    Ok((rest, next))
}

async fn create_channel(State(s): State<Arc<Shared>>, body: Bytes) -> Answer {
    let req: shapes::ChannelRequest = parse(&body)?;
    let id = req
        .id
        .ok_or_else(|| unprocessable("Id", "a channel needs an Id"))?;
    let mut spec = ChannelSpec::new(id);
    // A MediaPackage channel starts without origin endpoints.
    spec.endpoints.clear();
    spec.description = req.description;
    spec.tags = req.tags.unwrap_or_default();
    let view = s
        .create_channel(spec)
        .await
        .map_err(|e| from_origin(e, ""))?;
    ok(channel_answer(&s, view))
}

async fn list_channels(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Answer {
    let (channels, next_token) = page(s.list_channels(), |c| &c.id, &query(q))?;
    ok(shapes::ChannelList {
        channels: channels
            .into_iter()
            .map(|c| channel_answer(&s, c))
            .collect(),
        next_token,
    })
}

async fn describe_channel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let view = s.channel_view(&id).map_err(|e| from_origin(e, ""))?;
    ok(channel_answer(&s, view))
}

async fn update_channel(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let req: shapes::ChannelRequest = parse(&body)?;
    if req.id.is_some() || req.tags.is_some() {
        return Err(unprocessable(
            if req.id.is_some() { "Id" } else { "Tags" },
            "UpdateChannel changes the Description only (tags: TagResource)",
        ));
    }
    let view = s
        .edit_channel(&id, |spec| {
            if req.description.is_some() {
                spec.description = req.description;
            }
        })
        .await
        .map_err(|e| from_origin(e, ""))?;
    ok(channel_answer(&s, view))
}

async fn delete_channel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    s.delete_channel(&id)
        .await
        .map_err(|e| from_origin(e, ""))?;
    accepted()
}

async fn rotate_channel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let view = s
        .rotate_ingest(&id, None)
        .await
        .map_err(|e| from_origin(e, ""))?;
    ok(channel_answer(&s, view))
}

async fn rotate_ingest(
    State(s): State<Arc<Shared>>,
    Path((id, ingest)): Path<(String, String)>,
) -> Answer {
    let n = match ingest.as_str() {
        "1" => 1,
        "2" => 2,
        _ => {
            return Err(not_found(format!(
                "ingest endpoint {ingest:?} of channel {id:?} not found (ids are 1 and 2)"
            )));
        }
    };
    let view = s
        .rotate_ingest(&id, Some(n))
        .await
        .map_err(|e| from_origin(e, ""))?;
    ok(channel_answer(&s, view))
}

/// (channel, settings) of the endpoint with this id.
fn find_endpoint(s: &Shared, id: &str) -> Result<(String, EndpointSpec), AwsError> {
    s.all_endpoints()
        .into_iter()
        .find(|(_, e)| e.id == id)
        .ok_or_else(|| not_found(format!("origin endpoint {id:?} not found")))
}

async fn create_endpoint(State(s): State<Arc<Shared>>, body: Bytes) -> Answer {
    let req: shapes::EndpointRequest = parse(&body)?;
    let id = req
        .id
        .clone()
        .ok_or_else(|| unprocessable("Id", "an origin endpoint needs an Id"))?;
    let channel = req
        .channel_id
        .clone()
        .ok_or_else(|| unprocessable("ChannelId", "an origin endpoint needs a ChannelId"))?;
    if req.hls_package.is_none() && req.cmaf_package.is_none() && req.dash_package.is_none() {
        return Err(unprocessable(
            "HlsPackage",
            "an origin endpoint needs a package: HlsPackage, CmafPackage or DashPackage",
        ));
    }
    if find_endpoint(&s, &id).is_ok() {
        return Err(unprocessable(
            "Id",
            format!("origin endpoint {id:?} already exists"),
        ));
    }
    let mut base = EndpointSpec::new(id);
    // MediaPackage's default: no start-over window.
    base.startover_window_seconds = 0;
    base.tags = req.tags.clone().unwrap_or_default();
    let spec = convert::to_spec(&req, base)?;
    let package = package_of(&spec);
    s.add_endpoint(&channel, spec.clone())
        .await
        .map_err(|e| from_origin(e, package))?;
    ok(endpoint_answer(&s, &channel, &spec))
}

async fn list_endpoints(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q);
    let channel = q.get("channelId").and_then(|v| v.last()).cloned();
    let all: Vec<(String, EndpointSpec)> = s
        .all_endpoints()
        .into_iter()
        .filter(|(c, _)| channel.as_ref().is_none_or(|want| want == c))
        .collect();
    let mut all = all;
    all.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    let (items, next_token) = page(all, |(_, e)| &e.id, &q)?;
    ok(shapes::EndpointList {
        origin_endpoints: items
            .iter()
            .map(|(c, e)| endpoint_answer(&s, c, e))
            .collect(),
        next_token,
    })
}

async fn describe_endpoint(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let (channel, spec) = find_endpoint(&s, &id)?;
    ok(endpoint_answer(&s, &channel, &spec))
}

async fn update_endpoint(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let req: shapes::EndpointRequest = parse(&body)?;
    if req.id.as_deref().is_some_and(|i| i != id) || req.channel_id.is_some() {
        return Err(unprocessable(
            "ChannelId",
            "an origin endpoint's Id and ChannelId do not change",
        ));
    }
    let (channel, current) = find_endpoint(&s, &id)?;
    let mut spec = convert::to_spec(&req, current)?;
    if let Some(tags) = &req.tags {
        spec.tags = tags.clone();
    }
    let package = package_of(&spec);
    s.replace_endpoint(&channel, spec.clone())
        .await
        .map_err(|e| from_origin(e, package))?;
    ok(endpoint_answer(&s, &channel, &spec))
}

async fn delete_endpoint(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let (channel, _) = find_endpoint(&s, &id)?;
    s.remove_endpoint(&channel, &id)
        .await
        .map_err(|e| from_origin(e, ""))?;
    accepted()
}

/// What an ARN names here.
enum Resource {
    Channel(String),
    Endpoint(String, Box<EndpointSpec>),
}

fn resource(s: &Shared, arn: &str) -> Result<Resource, AwsError> {
    let unknown = || not_found(format!("resource {arn:?} not found"));
    let prefix = format!("arn:aws:mediapackage:{}:{ACCOUNT}:", region(s));
    let rest = arn.strip_prefix(&prefix).ok_or_else(unknown)?;
    if let Some(id) = rest.strip_prefix("channels/") {
        s.channel(id).map_err(|_| unknown())?;
        return Ok(Resource::Channel(id.to_string()));
    }
    if let Some(id) = rest.strip_prefix("origin_endpoints/") {
        let (channel, spec) = find_endpoint(s, id).map_err(|_| unknown())?;
        return Ok(Resource::Endpoint(channel, Box::new(spec)));
    }
    Err(unknown())
}

/// Change the tags of what `arn` names.
async fn retag(
    s: &Shared,
    arn: &str,
    edit: impl FnOnce(&mut std::collections::BTreeMap<String, String>),
) -> Result<(), AwsError> {
    match resource(s, arn)? {
        Resource::Channel(id) => {
            s.edit_channel(&id, |spec| edit(&mut spec.tags))
                .await
                .map_err(|e| from_origin(e, ""))?;
        }
        Resource::Endpoint(channel, mut spec) => {
            edit(&mut spec.tags);
            s.replace_endpoint(&channel, *spec)
                .await
                .map_err(|e| from_origin(e, ""))?;
        }
    }
    Ok(())
}

async fn list_tags(State(s): State<Arc<Shared>>, Path(arn): Path<String>) -> Answer {
    let tags = match resource(&s, &arn)? {
        Resource::Channel(id) => s.channel_view(&id).map_err(|e| from_origin(e, ""))?.tags,
        Resource::Endpoint(_, spec) => spec.tags,
    };
    ok(shapes::Tags { tags })
}

async fn tag(State(s): State<Arc<Shared>>, Path(arn): Path<String>, body: Bytes) -> Answer {
    let req: shapes::TagRequest =
        serde_json::from_slice(&body).map_err(|e| unprocessable("Tags", e))?;
    retag(&s, &arn, |tags| tags.extend(req.tags)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn untag(
    State(s): State<Arc<Shared>>,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let keys = query(q).remove("tagKeys").unwrap_or_default();
    if keys.is_empty() {
        return Err(unprocessable("TagKeys", "name at least one tag key"));
    }
    retag(&s, &arn, |tags| {
        for k in &keys {
            tags.remove(k);
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
