//! The service: the fetcher registry ([`PullPush`]) and its REST API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use clock::Clock;
use tokio::sync::watch;
use utoipa::OpenApi;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fetcher::{self, FetcherSpec, FetcherState, FetcherStats, Shared};
use crate::outputs::{Output, OutputRegistry};
use crate::store::Store;
use crate::track::TrackState;

/// `POST /api/v1/fetchers` body.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFetcher {
    /// A label for people.
    pub name: String,
    /// The source: an HLS master (multivariant) or media playlist, http(s).
    pub url: String,
    /// Output plugin name (`mediapackage`, `s3`, `dir`, `void`, or a registered one).
    pub output: String,
    /// The output's options, e.g. for `mediapackage`:
    /// `{"ingestUrls": [{"url", "username", "password"}]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Concurrent segment transfers (default 4).
    #[serde(default)]
    pub concurrency: Option<i64>,
    /// Sliding window, seconds (default 120); -1 keeps everything (EVENT).
    #[serde(default, alias = "windowSize")]
    pub window_size: Option<i64>,
}

/// A fetcher as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FetcherInfo {
    pub id: String,
    pub name: String,
    pub url: String,
    pub output: String,
    /// Where it writes (the conflict key; no credentials).
    pub destination: String,
    pub state: FetcherState,
    pub last_error: Option<String>,
    pub segments_pushed: u64,
    pub bytes_pushed: u64,
    /// Media seconds between the source's edge and the destination's.
    pub lag_seconds: f64,
    pub concurrency: usize,
    pub window_size: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

struct Entry {
    spec: FetcherSpec,
    destination: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    output: Arc<dyn Output>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Inner {
    config: Config,
    registry: RwLock<OutputRegistry>,
    store: Store,
    fetchers: Mutex<BTreeMap<String, Entry>>,
    /// Destinations a `start_fetcher` has checked and is still creating: a second request
    /// for the same destination in that time gets the 409 too.
    claims: Mutex<std::collections::HashSet<String>>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// Holds a destination claim until the fetcher is registered (or creation failed).
struct Claim<'a> {
    claims: &'a Mutex<std::collections::HashSet<String>>,
    destination: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims.lock().unwrap().remove(&self.destination);
    }
}

/// The pull/push service: start, list and stop fetchers; serve the REST API.
#[derive(Clone)]
pub struct PullPush {
    inner: Arc<Inner>,
}

/// Idle keep-alive connections kept per source/destination host (shared by all fetchers).
pub const POOL_MAX_IDLE_PER_HOST: usize = 16;
/// How long an idle keep-alive connection is kept.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl PullPush {
    /// Open the state store and register the built-in outputs. Call [`PullPush::resume`]
    /// to restart the fetchers the store remembers.
    pub fn new(config: Config) -> Result<Self> {
        Self::with_clock(config, clock::system())
    }

    /// [`PullPush::new`] reading the time from `clock` (poll pacing, retries, grace
    /// periods, creation times).
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        let store = Store::open(&config.db_path)?;
        // One client for every fetcher. Its idle pool is bounded per host: 1,000 fetchers on
        // one source otherwise keep one idle keep-alive connection per concurrent request
        // ever made (3,065 open fds at N=1000 in bench/pullpush).
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| Error::Source(e.to_string()))?;
        let registry = RwLock::new(OutputRegistry::with_builtin(&config.outputs));
        let inner = Arc::new(Inner {
            config,
            registry,
            store,
            fetchers: Mutex::new(BTreeMap::new()),
            claims: Mutex::new(Default::default()),
            client,
            clock,
        });
        // `pullpush_fetchers{state}`, counted when /metrics is read.
        let weak = Arc::downgrade(&inner);
        web::on_scrape(move || {
            let Some(inner) = weak.upgrade() else {
                return false;
            };
            let mut counts: BTreeMap<&'static str, usize> = [
                FetcherState::Running,
                FetcherState::Failing,
                FetcherState::Stopped,
                FetcherState::Ended,
            ]
            .into_iter()
            .map(|s| (s.as_str(), 0))
            .collect();
            for e in inner.fetchers.lock().unwrap().values() {
                *counts
                    .entry(e.shared.stats.lock().unwrap().state.as_str())
                    .or_default() += 1;
            }
            for (state, n) in counts {
                metrics::gauge!("pullpush_fetchers", "state" => state).set(n as f64);
            }
            true
        });
        Ok(Self { inner })
    }

    /// `new` + `resume`.
    pub async fn open(config: Config) -> Result<Self> {
        let pp = Self::new(config)?;
        pp.resume().await?;
        Ok(pp)
    }

    /// Register (or replace) an output plugin.
    pub fn register_output<F>(&self, name: &str, factory: F)
    where
        F: Fn(serde_json::Value) -> Result<Arc<dyn Output>> + Send + Sync + 'static,
    {
        self.inner.registry.write().unwrap().register(name, factory);
    }

    /// Restart every stored fetcher that had not ended, continuing its destination sequence.
    pub async fn resume(&self) -> Result<usize> {
        let stored = self.inner.store.load().await?;
        let mut n = 0;
        for f in stored {
            if self.inner.fetchers.lock().unwrap().contains_key(&f.spec.id) {
                continue;
            }
            let output = match self.build_output(&f.spec.output, f.spec.payload.clone()) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(id = f.spec.id, error = %e, "cannot resume fetcher");
                    continue;
                }
            };
            let state = if f.state == FetcherState::Ended {
                FetcherState::Ended
            } else {
                FetcherState::Running
            };
            self.spawn(f.spec, output, f.tracks, state);
            n += 1;
        }
        Ok(n)
    }

    fn build_output(&self, name: &str, payload: serde_json::Value) -> Result<Arc<dyn Output>> {
        self.inner.registry.read().unwrap().build(name, payload)
    }

    /// Validate a request into a spec (without starting anything).
    fn validate(&self, req: &NewFetcher) -> Result<(FetcherSpec, Arc<dyn Output>)> {
        if !web::is_valid_name(&req.name) {
            return Err(Error::field("name", web::name_problem(&req.name)));
        }
        let url = url::Url::parse(&req.url)
            .map_err(|e| Error::field("url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::field("url", "must be an http:// or https:// URL"));
        }
        let concurrency = match req.concurrency {
            None => self.inner.config.default_concurrency,
            Some(c) if (1..=256).contains(&c) => c as usize,
            Some(_) => return Err(Error::field("concurrency", "must be between 1 and 256")),
        };
        let window_size = match req.window_size {
            None => self.inner.config.default_window,
            Some(w) if w == -1 || w > 0 => w,
            Some(_) => {
                return Err(Error::field(
                    "window_size",
                    "must be -1 (keep everything) or a positive number of seconds",
                ));
            }
        };
        let output = self.build_output(&req.output, req.payload.clone())?;
        let spec = FetcherSpec {
            id: uuid::Uuid::new_v4().to_string(),
            name: req.name.clone(),
            url: req.url.clone(),
            output: req.output.clone(),
            payload: req.payload.clone(),
            concurrency,
            window_size,
            created_at: self.inner.clock.now(),
        };
        Ok((spec, output))
    }

    /// Validate and start a fetcher; 409-style [`Error::Conflict`] if another live fetcher
    /// writes to the same destination.
    pub async fn start_fetcher(&self, req: NewFetcher) -> Result<FetcherInfo> {
        let (spec, output) = self.validate(&req)?;
        let destination = output.describe_destination();
        let _claim = {
            // Check and claim under one lock, so two concurrent requests for one
            // destination give one 201 and one 409.
            let fetchers = self.inner.fetchers.lock().unwrap();
            let mut claims = self.inner.claims.lock().unwrap();
            let running = fetchers.values().find(|e| {
                e.destination == destination
                    && !matches!(
                        e.shared.stats.lock().unwrap().state,
                        FetcherState::Ended | FetcherState::Stopped
                    )
            });
            if let Some(existing) = running {
                return Err(Error::Conflict {
                    destination,
                    existing: existing.spec.id.clone(),
                });
            }
            if !claims.insert(destination.clone()) {
                return Err(Error::Conflict {
                    destination,
                    existing: "(being created by another request)".into(),
                });
            }
            Claim {
                claims: &self.inner.claims,
                destination: destination.clone(),
            }
        };
        self.inner
            .store
            .save_fetcher(&spec, FetcherState::Running)
            .await?;
        let id = spec.id.clone();
        self.spawn(spec, output, Default::default(), FetcherState::Running);
        self.get(&id).ok_or(Error::NotFound(id))
    }

    fn spawn(
        &self,
        spec: FetcherSpec,
        output: Arc<dyn Output>,
        tracks: std::collections::HashMap<String, TrackState>,
        state: FetcherState,
    ) {
        let shared = Arc::new(Shared {
            stats: Mutex::new(FetcherStats {
                state,
                ..Default::default()
            }),
        });
        let (stop, stop_rx) = watch::channel(false);
        let destination = output.describe_destination();
        let task = if state == FetcherState::Ended {
            tokio::spawn(async {})
        } else {
            let run = fetcher::run(
                fetcher::Ctx {
                    spec: spec.clone(),
                    output: output.clone(),
                    shared: shared.clone(),
                    store: Some(self.inner.store.clone()),
                    resume: tracks,
                    client: self.inner.client.clone(),
                    clock: self.inner.clock.clone(),
                },
                stop_rx,
            );
            let (shared, id) = (shared.clone(), spec.id.clone());
            tokio::spawn(async move {
                // A fetcher task that dies must say so, not leave "running" behind.
                use futures::FutureExt;
                if let Err(panic) = std::panic::AssertUnwindSafe(run).catch_unwind().await {
                    let cause = fetcher::panic_message(&panic);
                    tracing::error!(fetcher = %id, cause, "fetcher task failed");
                    let mut s = shared.stats.lock().unwrap();
                    s.state = FetcherState::Failing;
                    s.last_error = Some(format!("internal error, the fetcher stopped: {cause}"));
                }
            })
        };
        self.inner.fetchers.lock().unwrap().insert(
            spec.id.clone(),
            Entry {
                spec,
                destination,
                shared,
                stop,
                task,
                output,
            },
        );
    }

    /// Stop a fetcher and forget it (the store too). Destination objects stay.
    pub async fn stop_fetcher(&self, id: &str) -> Result<()> {
        let entry = self
            .inner
            .fetchers
            .lock()
            .unwrap()
            .remove(id)
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        entry.shared.stats.lock().unwrap().state = FetcherState::Stopped;
        let _ = entry.stop.send(true);
        self.inner.store.delete_fetcher(id).await?;
        drop(entry);
        Ok(())
    }

    /// Stop every fetcher task at once but keep them in the store (they resume on the next
    /// start); transfers in flight are abandoned. Asks the store to commit the queued track
    /// states without waiting; prefer [`PullPush::close`] where an `.await` is possible.
    pub fn shutdown(&self) {
        let entries = std::mem::take(&mut *self.inner.fetchers.lock().unwrap());
        for (_, e) in entries {
            let _ = e.stop.send(true);
        }
        self.inner.store.flush_soon();
    }

    /// [`PullPush::close_within`] the process's shutdown deadline
    /// ([`web::shutdown_deadline`]: the stop signal plus `--shutdown-timeout`).
    pub async fn close(&self) -> Result<()> {
        self.close_within(web::shutdown_deadline()).await
    }

    /// Stop every fetcher gracefully, keeping them in the store (they resume on the next
    /// start): each finishes the transfers it has in flight, publishes the playlists they
    /// complete and lets its output deliver what it queued; a fetcher still at it at
    /// `deadline` is stopped where it is. Then wait until the store has committed every
    /// track state, so a restart continues exactly where this run stopped.
    pub async fn close_within(&self, deadline: tokio::time::Instant) -> Result<()> {
        let entries = std::mem::take(&mut *self.inner.fetchers.lock().unwrap());
        for e in entries.values() {
            let _ = e.stop.send(true);
        }
        for (id, mut e) in entries {
            if tokio::time::timeout_at(deadline, &mut e.task)
                .await
                .is_err()
            {
                tracing::warn!(fetcher = %id, name = %e.spec.name, "still draining at the shutdown deadline: stopped where it was");
            }
            // Dropping the entry aborts a task that is still running.
        }
        self.inner.store.flush().await
    }

    fn info(e: &Entry) -> FetcherInfo {
        let s = e.shared.stats.lock().unwrap();
        let out = e.output.status();
        FetcherInfo {
            id: e.spec.id.clone(),
            name: e.spec.name.clone(),
            url: e.spec.url.clone(),
            output: e.spec.output.clone(),
            destination: e.destination.clone(),
            state: s.state,
            last_error: s.last_error.clone().or(out.last_error),
            segments_pushed: s.segments_pushed,
            bytes_pushed: s.bytes_pushed,
            lag_seconds: s.lag_seconds,
            concurrency: e.spec.concurrency,
            window_size: e.spec.window_size,
            created_at: e.spec.created_at,
        }
    }

    pub fn get(&self, id: &str) -> Option<FetcherInfo> {
        self.inner.fetchers.lock().unwrap().get(id).map(Self::info)
    }

    /// Every fetcher, failing ones included, oldest first.
    pub fn list(&self) -> Vec<FetcherInfo> {
        let mut v: Vec<FetcherInfo> = self
            .inner
            .fetchers
            .lock()
            .unwrap()
            .values()
            .map(Self::info)
            .collect();
        v.sort_by_key(|f| f.created_at);
        v
    }

    /// Highest source media sequence seen per track (diagnostics/tests).
    pub fn source_sequences(&self, id: &str) -> Option<std::collections::HashMap<String, u64>> {
        self.inner
            .fetchers
            .lock()
            .unwrap()
            .get(id)
            .map(|e| e.shared.stats.lock().unwrap().last_source_seq.clone())
    }

    /// The OpenAPI document of the REST API.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    /// The REST API, `/healthz`, `/metrics` and `/api/docs`, with paths relative to the
    /// service root (nest it under `/pullpush` to embed).
    pub fn router(&self) -> Router {
        let token: Option<Arc<str>> = self
            .inner
            .config
            .api_token
            .as_ref()
            .map(|t| Arc::from(t.expose()));
        let api = Router::new()
            .route("/api/v1/fetchers", get(list_fetchers).post(create_fetcher))
            .route("/api/v1/fetcher", get(list_fetchers).post(create_fetcher))
            .route(
                "/api/v1/fetchers/{id}",
                get(get_fetcher).delete(delete_fetcher),
            )
            .route(
                "/api/v1/fetcher/{id}",
                get(get_fetcher).delete(delete_fetcher),
            )
            .with_state(self.clone())
            .layer(axum::middleware::from_fn_with_state(
                token,
                web::bearer_auth,
            ));
        Router::new()
            .merge(api)
            .merge(web::common_routes())
            .merge(web::docs_routes(self.openapi()))
            .layer(web::cors())
    }
}

/// `lineup pullpush` in the shell every service shares: on the stop signal the fetchers
/// drain ([`PullPush::close`]: transfers in flight finish, state is persisted) before the
/// listener closes, all within the process's shutdown deadline.
impl web::ServiceConfig for crate::PullPushArgs {
    const NAME: &'static str = "pullpush";

    fn listen(&self) -> String {
        self.listen.to_string()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(self, _local: SocketAddr) -> std::result::Result<web::Service, web::BoxError> {
        let service = PullPush::open(Config::from(&self)).await?;
        Ok(service.shell())
    }
}

impl PullPush {
    /// This service in the shared shell: its router, and its fetchers drained on the way
    /// out (mount it in a [`web::Process`]).
    pub fn shell(&self) -> web::Service {
        let this = self.clone();
        web::Service::new("pullpush", self.router())
            .on_drain(async move {
                if let Err(e) = this.close().await {
                    tracing::error!(error = %e, "pullpush: persisting fetcher state on the way out failed");
                }
            })
            .banner("fetchers: {base}/api/v1/fetchers  API docs: {base}/api/docs")
    }
}

/// Start a fetcher.
#[utoipa::path(post, path = "/api/v1/fetchers", request_body = NewFetcher,
    responses((status = 201, body = FetcherInfo), (status = 400, description = "invalid field"),
               (status = 409, description = "destination already in use")))]
async fn create_fetcher(
    State(pp): State<PullPush>,
    web::JsonBody(req): web::JsonBody<NewFetcher>,
) -> Result<impl IntoResponse, web::ApiError> {
    let info = pp.start_fetcher(req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Every fetcher, including failing and ended ones.
#[utoipa::path(get, path = "/api/v1/fetchers", responses((status = 200, body = Vec<FetcherInfo>)))]
async fn list_fetchers(State(pp): State<PullPush>) -> Json<Vec<FetcherInfo>> {
    Json(pp.list())
}

/// One fetcher.
#[utoipa::path(get, path = "/api/v1/fetchers/{id}", params(("id" = String, Path)),
    responses((status = 200, body = FetcherInfo), (status = 404)))]
async fn get_fetcher(
    State(pp): State<PullPush>,
    Path(id): Path<String>,
) -> Result<Json<FetcherInfo>, web::ApiError> {
    pp.get(&id)
        .map(Json)
        .ok_or_else(|| Error::NotFound(id).into())
}

/// Stop and remove a fetcher.
#[utoipa::path(delete, path = "/api/v1/fetchers/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_fetcher(
    State(pp): State<PullPush>,
    Path(id): Path<String>,
) -> Result<StatusCode, web::ApiError> {
    pp.stop_fetcher(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup pullpush",
        description = "Pull live HLS, push to origins."
    ),
    paths(create_fetcher, list_fetchers, get_fetcher, delete_fetcher),
    components(schemas(NewFetcher, FetcherInfo, FetcherState))
)]
struct ApiDoc;
