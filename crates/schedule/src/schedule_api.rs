//! The schedule service's HTTP face, with Eyevinn schedule-service paths: channels,
//! schedules, the MRSS auto-scheduler (JSON under `/api/v1`, behind the optional token),
//! and the XMLTV exports (public, for EPG readers).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::error::Error;
use crate::model::{
    AdBreak, AdBreakPolicy, AutoSource, Channel, EventSource, EventType, FillConfig, FillOrder,
    Millis, PlaybackMode, Programme, ScheduleEvent,
};
use crate::service::{AutoMrss, NewEvent, Service};
use crate::xmltv;

/// The schedule router (paths relative to the service root; nest it to embed).
pub fn router(service: Service, token: Option<Arc<str>>) -> Router {
    let api = Router::new()
        .route("/api/v1/channels", get(list_channels).post(create_channel))
        .route(
            "/api/v1/channels/{id}",
            get(get_channel).delete(delete_channel),
        )
        .route(
            "/api/v1/channels/{id}/schedule",
            get(get_schedule).post(add_event),
        )
        .route(
            "/api/v1/channels/{id}/schedule/{event}",
            delete(delete_event),
        )
        .route("/api/v1/auto/mrss", post(auto_mrss).get(list_auto))
        .with_state(service.clone())
        .layer(axum::middleware::from_fn_with_state(
            token,
            web::bearer_auth,
        ));
    Router::new()
        .route("/api/v1/channels/{id}/xmltv", get(channel_xmltv))
        .route("/api/v1/xmltv", get(all_xmltv))
        .with_state(service)
        .merge(api)
        .merge(web::common_routes())
        .merge(web::docs_routes(ScheduleDoc::openapi()))
        .layer(web::cors())
}

/// Every channel.
#[utoipa::path(get, path = "/api/v1/channels", responses((status = 200, body = Vec<Channel>)))]
async fn list_channels(State(s): State<Service>) -> Result<Json<Vec<Channel>>, web::ApiError> {
    Ok(Json(s.channels().await?))
}

/// Create (or update) a channel: `{id, title, tenant}`. Updating keeps the channel's
/// auto-fill source unless the body gives one.
#[utoipa::path(post, path = "/api/v1/channels", request_body = Channel,
    responses((status = 200, body = Channel), (status = 400)))]
async fn create_channel(
    State(s): State<Service>,
    web::JsonBody(mut c): web::JsonBody<Channel>,
) -> Result<Json<Channel>, web::ApiError> {
    if c.auto.is_none()
        && let Ok(existing) = s.channel(&c.id).await
    {
        c.auto = existing.auto;
    }
    Ok(Json(s.put_channel(c).await?))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Channel), (status = 404)))]
async fn get_channel(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<Channel>, web::ApiError> {
    Ok(Json(s.channel(&id).await?))
}

/// Delete a channel and its schedule.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_channel(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<StatusCode, web::ApiError> {
    s.delete_channel(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?date=YYYY-MM-DD` (that UTC day) or `?start=&end=` (ISO 8601 or epoch ms); none: all.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    date: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

fn instant(field: &str, s: &str) -> Result<Millis, Error> {
    if let Ok(ms) = s.parse::<Millis>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| Error::field(field, format!("ISO 8601 or epoch ms expected: {e}")))
}

impl Range {
    fn bounds(&self) -> Result<(Millis, Millis), Error> {
        if let Some(d) = &self.date {
            let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|e| Error::field("date", format!("YYYY-MM-DD expected: {e}")))?;
            let from = day
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis())
                .ok_or_else(|| Error::field("date", "out of range"))?;
            return Ok((from, from + 86_400_000));
        }
        let from = self
            .start
            .as_deref()
            .map(|s| instant("start", s))
            .transpose()?
            .unwrap_or(Millis::MIN);
        let to = self
            .end
            .as_deref()
            .map(|s| instant("end", s))
            .transpose()?
            .unwrap_or(Millis::MAX);
        if to <= from {
            return Err(Error::field("end", "must be after start"));
        }
        Ok((from, to))
    }
}

/// The channel's events overlapping the range, by start time (Eyevinn's event shape).
#[utoipa::path(get, path = "/api/v1/channels/{id}/schedule", params(("id" = String, Path), Range),
    responses((status = 200, body = Vec<ScheduleEvent>), (status = 400), (status = 404)))]
async fn get_schedule(
    State(s): State<Service>,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<ScheduleEvent>>, web::ApiError> {
    let (from, to) = range.bounds()?;
    Ok(Json(s.events_between(&id, from, to).await?))
}

/// Add a manual event (VOD, LIVE with `liveUrl`, or AD). Manual events take precedence:
/// auto events reflow around it. 409 when it overlaps another manual event.
#[utoipa::path(post, path = "/api/v1/channels/{id}/schedule", params(("id" = String, Path)),
    request_body = NewEvent,
    responses((status = 201, body = ScheduleEvent), (status = 400), (status = 404), (status = 409)))]
async fn add_event(
    State(s): State<Service>,
    Path(id): Path<String>,
    web::JsonBody(new): web::JsonBody<NewEvent>,
) -> Result<impl IntoResponse, web::ApiError> {
    let event = s.add_event(&id, new).await?;
    Ok((StatusCode::CREATED, Json(event)))
}

/// Remove an event; auto events reflow into its place.
#[utoipa::path(delete, path = "/api/v1/channels/{id}/schedule/{event}",
    params(("id" = String, Path), ("event" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_event(
    State(s): State<Service>,
    Path((id, event)): Path<(String, String)>,
) -> Result<StatusCode, web::ApiError> {
    s.delete_event(&id, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Fill a channel automatically from an MRSS or Atom feed (`{url, channelId, config}`),
/// keeping `config.horizonHours` (default 12) of schedule ahead.
#[utoipa::path(post, path = "/api/v1/auto/mrss", request_body = AutoMrss,
    responses((status = 200, body = Channel), (status = 400), (status = 404)))]
async fn auto_mrss(
    State(s): State<Service>,
    web::JsonBody(req): web::JsonBody<AutoMrss>,
) -> Result<Json<Channel>, web::ApiError> {
    Ok(Json(s.set_auto_mrss(req).await?))
}

/// The channels that are filled from a feed.
#[utoipa::path(get, path = "/api/v1/auto/mrss", responses((status = 200, body = Vec<Channel>)))]
async fn list_auto(State(s): State<Service>) -> Result<Json<Vec<Channel>>, web::ApiError> {
    Ok(Json(
        s.channels()
            .await?
            .into_iter()
            .filter(|c| c.auto.is_some())
            .collect(),
    ))
}

fn xml(body: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// XMLTV of one channel (range as for the schedule; default: from 1 h ago on).
#[utoipa::path(get, path = "/api/v1/channels/{id}/xmltv", params(("id" = String, Path), Range),
    responses((status = 200, content_type = "application/xml", body = String), (status = 404)))]
async fn channel_xmltv(
    State(s): State<Service>,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, web::ApiError> {
    let (from, to) = xmltv_bounds(&s, &range)?;
    let c = s.channel(&id).await?;
    let events = s.events_between(&id, from, to).await?;
    Ok(xml(xmltv::xmltv(&[(c, events)])?))
}

/// XMLTV of every channel.
#[utoipa::path(get, path = "/api/v1/xmltv", params(Range),
    responses((status = 200, content_type = "application/xml", body = String)))]
async fn all_xmltv(
    State(s): State<Service>,
    Query(range): Query<Range>,
) -> Result<Response, web::ApiError> {
    let (from, to) = xmltv_bounds(&s, &range)?;
    let mut all = Vec::new();
    for c in s.channels().await? {
        let events = s.events_between(&c.id, from, to).await?;
        all.push((c, events));
    }
    Ok(xml(xmltv::xmltv(&all)?))
}

fn xmltv_bounds(s: &Service, range: &Range) -> Result<(Millis, Millis), Error> {
    if range.date.is_none() && range.start.is_none() && range.end.is_none() {
        return Ok((s.now() - 3_600_000, Millis::MAX));
    }
    range.bounds()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup schedule",
        description = "Channels and their schedules (Eyevinn schedule-service shape), auto-fill from MRSS, XMLTV."
    ),
    paths(
        list_channels,
        create_channel,
        get_channel,
        delete_channel,
        get_schedule,
        add_event,
        delete_event,
        auto_mrss,
        list_auto,
        channel_xmltv,
        all_xmltv
    ),
    components(schemas(
        Channel,
        AutoSource,
        FillConfig,
        FillOrder,
        PlaybackMode,
        AdBreakPolicy,
        Programme,
        ScheduleEvent,
        EventType,
        EventSource,
        AdBreak,
        NewEvent,
        AutoMrss
    ))
)]
pub struct ScheduleDoc;
