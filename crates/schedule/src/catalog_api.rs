//! The catalog's HTTP face: `/api/v1/assets` (JSON, behind the optional token) and the
//! public feeds `/mrss/{feed}.xml` (MRSS) and `/mrss/{feed}.atom` (Atom), plus their house-ad
//! stitched variants `/mrss/stitched/{feed}.xml` / `.atom` when a stitch service is
//! configured (see [`crate::stitched`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa::OpenApi;

use crate::error::Error;
use crate::feeds::{self, FeedInfo};
use crate::model::{Asset, AssetRendition};
use crate::service::{NewAsset, Service};
use crate::stitched::StitchFeed;

/// The catalog router (paths relative to the service root; nest it to embed), without a
/// stitched feed (it answers 404).
pub fn router(service: Service, token: Option<Arc<str>>) -> Router {
    router_with(service, token, None)
}

/// The catalog router with the house-ad stitched feeds pointing at `stitch`.
pub fn router_with(
    service: Service,
    token: Option<Arc<str>>,
    stitch: Option<StitchFeed>,
) -> Router {
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
    let feeds = FeedState {
        service,
        stitch: stitch.map(Arc::new),
    };
    Router::new()
        .route("/mrss/{file}", get(feed))
        .route("/mrss/stitched/{file}", get(stitched_feed))
        .with_state(feeds)
        .merge(api)
        .merge(web::common_routes())
        .merge(web::docs_routes(CatalogDoc::openapi()))
        .layer(web::cors())
}

#[derive(Clone)]
struct FeedState {
    service: Service,
    stitch: Option<Arc<StitchFeed>>,
}

/// Every asset, in the order added. `?houseAds=true`: the house ads (category `ad` or tag
/// `house-ad`) that fill breaks now, i.e. inside their availability window, by id (what
/// `Service::house_ads` returns in-process); `?houseAds=false`: every asset that is not a
/// house ad, in the order added.
#[utoipa::path(get, path = "/api/v1/assets",
    params(("houseAds" = Option<bool>, Query, description = "true: the house ads available now, by id; false: every other asset")),
    responses((status = 200, body = Vec<Asset>), (status = 400, description = "houseAds is not true or false")))]
async fn list_assets(
    State(s): State<Service>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Asset>>, web::ApiError> {
    let house_ads = match query.get("houseAds").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(web::ApiError::bad_field(
                "houseAds",
                format!("must be true or false, got {other:?}"),
            ));
        }
    };
    Ok(Json(match house_ads {
        Some(true) => s.house_ads().await?,
        Some(false) => {
            let mut assets = s.assets().await?;
            assets.retain(|a| !a.is_house_ad());
            assets
        }
        None => s.assets().await?,
    }))
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

/// A feed of the available programmes (house ads are never listed): `all.xml` (MRSS: RSS
/// 2.0 + Media RSS), `all.atom` (Atom, the shape Eyevinn's schedule service reads),
/// `<category>.xml` / `.atom` (only that category).
#[utoipa::path(get, path = "/mrss/{file}", params(("file" = String, Path, description = "all.xml, all.atom, <category>.xml, <category>.atom")),
    responses((status = 200, content_type = "application/rss+xml", body = String), (status = 400)))]
async fn feed(
    State(s): State<FeedState>,
    Path(file): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, web::ApiError> {
    let (name, atom) = feed_file(&file)?;
    let assets = s.service.feed_assets(name).await?;
    let title = format!("lineup catalog: {name}");
    write_feed(&s.service, name, title, atom, &assets, &uri, &headers)
}

/// The house-ad stitched variant of `/mrss/{file}`: the same items, each `media:content`
/// pointing at the stitch service (`<stitch>/master.m3u8?payload=...`) with a pre-roll and
/// a mid-roll every `--stitch-every` seconds of house ads, rotating through them by asset;
/// `duration` is the content's plus the ads'. 404 without a stitch service
/// (`--stitch-url`), 409 when the catalog has no house ad; the JSON error's `detail.reason`
/// says which (`no-stitch-url`, `no-house-ads`).
#[utoipa::path(get, path = "/mrss/stitched/{file}", params(("file" = String, Path, description = "all.xml, all.atom, <category>.xml, <category>.atom")),
    responses((status = 200, content_type = "application/rss+xml", body = String), (status = 400),
        (status = 404, description = "no stitch service configured"),
        (status = 409, description = "no house ads in the catalog")))]
async fn stitched_feed(
    State(s): State<FeedState>,
    Path(file): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, web::ApiError> {
    let (name, atom) = feed_file(&file)?;
    let Some(stitch) = s.stitch.as_deref() else {
        return Err(web::ApiError::not_found(
            "no stitched feed: the catalog has no stitch service (start it with --stitch-url <stitch service URL>)",
        )
        .with_detail(serde_json::json!({"reason": "no-stitch-url"})));
    };
    let ads = s.service.house_ads().await?;
    if ads.is_empty() {
        return Err(web::ApiError::conflict(
            "no stitched feed: the catalog has no house ads (add one with category \"ad\" or tag \"house-ad\")",
        )
        .with_detail(serde_json::json!({"reason": "no-house-ads"})));
    }
    let items: Vec<Asset> = s
        .service
        .feed_assets(name)
        .await?
        .iter()
        .map(|a| stitch.item(a, &ads))
        .collect();
    let title = format!("lineup catalog: {name} (house ads stitched)");
    write_feed(&s.service, name, title, atom, &items, &uri, &headers)
}

/// `<feed>.xml` or `<feed>.atom` -> (feed, is Atom).
fn feed_file(file: &str) -> Result<(&str, bool), web::ApiError> {
    match (file.strip_suffix(".xml"), file.strip_suffix(".atom")) {
        (Some(n), _) => Ok((n, false)),
        (_, Some(n)) => Ok((n, true)),
        _ => Err(web::ApiError::bad_field(
            "file",
            "ask for <feed>.xml (MRSS) or <feed>.atom (Atom)",
        )),
    }
}

fn write_feed(
    service: &Service,
    name: &str,
    title: String,
    atom: bool,
    assets: &[Asset],
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<Response, web::ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let self_url = format!("http://{host}{}", uri.path());
    let info = FeedInfo {
        name: name.to_string(),
        title,
        link: self_url.clone(),
        self_url,
        updated: service.now(),
    };
    let (body, ct) = if atom {
        (feeds::atom(&info, assets)?, "application/atom+xml")
    } else {
        (feeds::mrss(&info, assets)?, "application/rss+xml")
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
        description = "HLS VOD assets, their MRSS / Atom feeds, and the house-ad stitched variants of the feeds."
    ),
    paths(
        list_assets,
        create_asset,
        get_asset,
        put_asset,
        delete_asset,
        feed,
        stitched_feed
    ),
    components(schemas(Asset, AssetRendition, NewAsset))
)]
pub struct CatalogDoc;
