//! The control API: `/api/v1/channels` and their endpoints.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use web::{ApiError, JsonBody};

use crate::Shared;
use crate::error::OriginError;
use crate::model::{ChannelSpec, ChannelView, EndpointSpec, EndpointView, validate_id};

type ApiResult<T> = Result<T, ApiError>;

/// Create a channel. The answer holds the two ingest URLs with their generated
/// credentials; the passwords are shown only here.
#[utoipa::path(post, path = "/api/v1/channels", request_body = ChannelSpec,
    responses((status = 201, body = ChannelView), (status = 400, description = "bad field"), (status = 409, description = "exists")),
    tag = "channels")]
pub async fn create_channel(
    State(s): State<Arc<Shared>>,
    JsonBody(spec): JsonBody<ChannelSpec>,
) -> ApiResult<impl IntoResponse> {
    let view = s.create_channel(spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List channels.
#[utoipa::path(get, path = "/api/v1/channels", responses((status = 200, body = [ChannelView])), tag = "channels")]
pub async fn list_channels(State(s): State<Arc<Shared>>) -> Json<Vec<ChannelView>> {
    Json(s.list_channels())
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{channel}", params(("channel" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404)), tag = "channels")]
pub async fn get_channel(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(s.channel_view(&channel)?))
}

/// Delete a channel and its stored segments.
#[utoipa::path(delete, path = "/api/v1/channels/{channel}", params(("channel" = String, Path)),
    responses((status = 204), (status = 404)), tag = "channels")]
pub async fn delete_channel(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_channel(&channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an output endpoint.
#[utoipa::path(post, path = "/api/v1/channels/{channel}/endpoints", params(("channel" = String, Path)),
    request_body = EndpointSpec,
    responses((status = 201, body = EndpointView), (status = 400), (status = 404), (status = 409)), tag = "channels")]
pub async fn create_endpoint(
    State(s): State<Arc<Shared>>,
    Path(channel): Path<String>,
    JsonBody(spec): JsonBody<EndpointSpec>,
) -> ApiResult<impl IntoResponse> {
    let view = s.add_endpoint(&channel, spec).await.map_err(|e| match e {
        OriginError::Conflict(_) => ApiError::from(e).with_field("id"),
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/channels/{channel}/endpoints/{endpoint}",
    params(("channel" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404)), tag = "channels")]
pub async fn get_endpoint(
    State(s): State<Arc<Shared>>,
    Path((channel, endpoint)): Path<(String, String)>,
) -> ApiResult<Json<EndpointView>> {
    let spec = s.endpoint(&channel, &endpoint)?;
    Ok(Json(s.endpoint_view(&channel, spec)))
}

/// Replace an endpoint's settings (the body's `id` must match the path).
#[utoipa::path(put, path = "/api/v1/channels/{channel}/endpoints/{endpoint}",
    params(("channel" = String, Path), ("endpoint" = String, Path)), request_body = EndpointSpec,
    responses((status = 200, body = EndpointView), (status = 400), (status = 404)), tag = "channels")]
pub async fn put_endpoint(
    State(s): State<Arc<Shared>>,
    Path((channel, endpoint)): Path<(String, String)>,
    JsonBody(spec): JsonBody<EndpointSpec>,
) -> ApiResult<Json<EndpointView>> {
    validate_id(&endpoint, "endpoint")?;
    spec.validate("")?;
    if spec.id != endpoint {
        return Err(ApiError::bad_field(
            "id",
            "must equal the endpoint id in the path",
        ));
    }
    Ok(Json(s.replace_endpoint(&channel, spec).await?))
}

/// Remove an endpoint.
#[utoipa::path(delete, path = "/api/v1/channels/{channel}/endpoints/{endpoint}",
    params(("channel" = String, Path), ("endpoint" = String, Path)),
    responses((status = 204), (status = 404)), tag = "channels")]
pub async fn delete_endpoint(
    State(s): State<Arc<Shared>>,
    Path((channel, endpoint)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.remove_endpoint(&channel, &endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}
