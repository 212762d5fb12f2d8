//! The catalog's HTTP face: `/api/v1/assets` (JSON, behind the optional token) and the
//! public feeds `/mrss/{feed}.xml` (MRSS) and `/mrss/{feed}.atom` (Atom).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{OriginalUri, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa::OpenApi;

use crate::error::Error;
use crate::feeds::{self, FeedInfo};
use crate::model::{Asset, AssetRendition};
use crate::service::{NewAsset, Service};

/// The catalog router (paths relative to the service root; nest it to embed).
pub fn router(service: Service, token: Option<Arc<str>>) -> Router {
    let api = Router::new()
        .route("/api/v1/assets", get(list_assets).post(create_asset))
        .route(
            "/api/v1/assets/{id}",
            get(get_asset).put(put_asset).delete(delete_asset),
        )
        .with_state(service.clone())
        .layer(axum::middleware::from_fn_with_state(
            token,
            web::bearer_auth,
        ));
    Router::new()
        .route("/mrss/{file}", get(feed))
        .with_state(service)
        .merge(api)
        .merge(web::common_routes())
        .merge(web::docs_routes(CatalogDoc::openapi()))
        .layer(web::cors())
}

/// Every asset, in the order added.
#[utoipa::path(get, path = "/api/v1/assets", responses((status = 200, body = Vec<Asset>)))]
async fn list_assets(State(s): State<Service>) -> Result<Json<Vec<Asset>>, web::ApiError> {
    Ok(Json(s.assets().await?))
}

/// Import an HLS VOD: its playlists are read for duration and renditions (unless
/// `duration` is given). The same URL again updates the asset.
#[utoipa::path(post, path = "/api/v1/assets", request_body = NewAsset,
    responses((status = 201, body = Asset), (status = 400, description = "invalid field or unreadable VOD")))]
async fn create_asset(
    State(s): State<Service>,
    web::JsonBody(new): web::JsonBody<NewAsset>,
) -> Result<impl IntoResponse, web::ApiError> {
    let asset = s.import(new).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

/// One asset.
#[utoipa::path(get, path = "/api/v1/assets/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Asset), (status = 404)))]
async fn get_asset(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<Asset>, web::ApiError> {
    Ok(Json(s.asset(&id).await?))
}

/// Create or replace an asset as given (nothing is read).
#[utoipa::path(put, path = "/api/v1/assets/{id}", params(("id" = String, Path)), request_body = Asset,
    responses((status = 200, body = Asset), (status = 400)))]
async fn put_asset(
    State(s): State<Service>,
    Path(id): Path<String>,
    web::JsonBody(asset): web::JsonBody<Asset>,
) -> Result<Json<Asset>, web::ApiError> {
    if asset.id != id {
        return Err(Error::field("id", "must match the path").into());
    }
    Ok(Json(s.put_asset(asset).await?))
}

/// Remove an asset from the catalog (schedules already made keep their events).
#[utoipa::path(delete, path = "/api/v1/assets/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_asset(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<StatusCode, web::ApiError> {
    s.delete_asset(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A feed of the available assets: `all.xml` (MRSS: RSS 2.0 + Media RSS), `all.atom`
/// (Atom, the shape Eyevinn's schedule service reads), `<category>.xml` / `.atom` (only
/// that category).
#[utoipa::path(get, path = "/mrss/{file}", params(("file" = String, Path, description = "all.xml, all.atom, <category>.xml, <category>.atom")),
    responses((status = 200, content_type = "application/rss+xml", body = String), (status = 400)))]
async fn feed(
    State(s): State<Service>,
    Path(file): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, web::ApiError> {
    let (name, atom) = match (file.strip_suffix(".xml"), file.strip_suffix(".atom")) {
        (Some(n), _) => (n, false),
        (_, Some(n)) => (n, true),
        _ => {
            return Err(web::ApiError::bad_field(
                "file",
                "ask for <feed>.xml (MRSS) or <feed>.atom (Atom)",
            ));
        }
    };
    let now = s.now();
    let assets: Vec<Asset> = s
        .assets()
        .await?
        .into_iter()
        .filter(|a| a.available_at(now))
        .filter(|a| name == "all" || a.category.as_deref() == Some(name))
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let self_url = format!("http://{host}{}", uri.path());
    let info = FeedInfo {
        name: name.to_string(),
        title: format!("lineup catalog: {name}"),
        link: self_url.clone(),
        self_url,
        updated: now,
    };
    let (body, ct) = if atom {
        (feeds::atom(&info, &assets)?, "application/atom+xml")
    } else {
        (feeds::mrss(&info, &assets)?, "application/rss+xml")
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup catalog",
        description = "HLS VOD assets and their MRSS / Atom feeds."
    ),
    paths(list_assets, create_asset, get_asset, put_asset, delete_asset, feed),
    components(schemas(Asset, AssetRendition, NewAsset))
)]
pub struct CatalogDoc;
