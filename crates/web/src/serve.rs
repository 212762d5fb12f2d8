//! The listener loop every service runs: HTTP/1.1 keep-alive and HTTP/2, with the limits
//! that keep a public listener alive under hostile clients.
//!
//! - **Header-read timeout** ([`ServeOptions::header_read_timeout`]): a connection that
//!   does not send a complete request head within it is closed. hyper starts this timer
//!   whenever it waits for a request head, so it also closes idle keep-alive connections:
//!   a slowloris (many connections that never finish a request) costs at most that long.
//! - **Request timeout** ([`ServeOptions::request_timeout`]): a handler that has not
//!   produced its response head by then (a slow upload, a stuck upstream) is answered
//!   `408` and dropped. Response bodies (segments to slow players) are not cut.
//! - **Connection cap** ([`ServeOptions::max_connections`]): accepting stops at the cap
//!   (the kernel backlog holds new connections) instead of failing with "too many open
//!   files", which would refuse everyone; the default leaves room under the process's
//!   file-descriptor limit, which [`raise_fd_limit`] lifts to the hard limit at start.
//! - `TCP_NODELAY` on every connection: a response is never held back waiting for the
//!   client's ACK.
//! - **Graceful shutdown** ([`ServeOptions::shutdown_timeout`], `lineup --shutdown-timeout`):
//!   on the stop signal the listener closes at once, idle keep-alive connections are told to
//!   go, and requests in flight may finish until the deadline ([`shutdown_deadline`]: the
//!   signal's instant plus the timeout, shared by everything a service drains on the way
//!   out); whatever is still open then is cut.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use tokio::sync::Semaphore;

/// Limits of one listener. `Default` is what every lineup service uses.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// How long requests in flight may take to finish after the stop signal.
    pub shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            shutdown_timeout: shutdown_timeout(),
        }
    }
}

/// The process-wide shutdown timeout (`lineup --shutdown-timeout`), in ms.
static SHUTDOWN_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_SHUTDOWN_TIMEOUT.as_millis() as u64);
/// When the process received its stop signal (set by [`shutdown_signal`]).
static SHUTDOWN_STARTED: OnceLock<tokio::time::Instant> = OnceLock::new();

/// Default for [`ServeOptions::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Set the shutdown timeout every listener of this process uses (the binary does, from
/// `--shutdown-timeout`).
pub fn set_shutdown_timeout(timeout: Duration) {
    SHUTDOWN_TIMEOUT_MS.store(timeout.as_millis() as u64, Ordering::Relaxed);
}

/// The process-wide shutdown timeout ([`DEFAULT_SHUTDOWN_TIMEOUT`] unless set).
pub fn shutdown_timeout() -> Duration {
    Duration::from_millis(SHUTDOWN_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// The instant by which this process must have finished shutting down: when
/// [`shutdown_signal`] fired (or now, if it has not) plus [`shutdown_timeout`]. Every
/// part of a service that drains on the way out (requests in flight, pull/push fetchers,
/// state flushes) works against this one deadline.
pub fn shutdown_deadline() -> tokio::time::Instant {
    let started = SHUTDOWN_STARTED
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now);
    started + shutdown_timeout()
}

/// The file-descriptor limit minus room for files, upstream connections and stores.
fn default_max_connections() -> usize {
    let soft = fd_limit().unwrap_or(1024);
    (soft.saturating_sub(512) as usize).max(256)
}

#[cfg(unix)]
fn fd_limit() -> Option<u64> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } == 0).then_some(l.rlim_cur)
}

#[cfg(not(unix))]
fn fd_limit() -> Option<u64> {
    None
}

/// Lift the soft file-descriptor limit to the hard one (as nginx's
/// `worker_rlimit_nofile` does), so connections are bounded by the cap, not by a 1,024
/// default. Returns the new soft limit.
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<u64> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return None;
        }
        if l.rlim_cur < l.rlim_max {
            let want = libc::rlimit {
                rlim_cur: l.rlim_max,
                rlim_max: l.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return Some(want.rlim_cur);
            }
        }
    }
    Some(l.rlim_cur)
}

#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

/// Serve `router` on `listener` until Ctrl-C or SIGTERM, then stop accepting and wait for
/// the open connections to finish their requests (until [`shutdown_deadline`]).
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    serve_until(listener, router, shutdown_signal()).await
}

/// [`serve`] until `signal` resolves (for tests and embedding).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    signal: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, router, signal, ServeOptions::default()).await
}

/// [`serve_until`] with explicit limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    signal: impl std::future::Future<Output = ()> + Send,
    options: ServeOptions,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use tower::ServiceExt;

    // The recorder must exist before the first request: route handles are taken once.
    crate::metrics_handle();
    // Each `Router::layer` wraps every route in one more boxed service, cloned on every
    // request: only the metrics layer needs the matched route; the timeout wraps the router
    // once, outside routing.
    let router = tower::Layer::layer(
        &tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ),
        router.layer(TrackRequests),
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(options.header_read_timeout)
        .keep_alive_timeout(options.header_read_timeout);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut signal => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone().map_request(
            |r: axum::http::Request<hyper::body::Incoming>| r.map(axum::body::Body::new),
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_bytes = options.header_read_timeout;
        tokio::spawn(async move {
            // The protocol sniffing of the auto builder waits for the first bytes with no
            // timer of its own: a connection that never speaks is closed here.
            let mut probe = [0u8; 1];
            if !matches!(
                tokio::time::timeout(first_bytes, stream.peek(&mut probe)).await,
                Ok(Ok(1))
            ) {
                drop(permit);
                return;
            }
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::trace!("connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    // The deadline counts from the signal (a service may have drained other work first).
    let deadline = SHUTDOWN_STARTED
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now)
        + options.shutdown_timeout;
    if tokio::time::timeout_at(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        let open = options
            .max_connections
            .max(1)
            .saturating_sub(slots.available_permits());
        tracing::warn!(
            open,
            timeout = ?options.shutdown_timeout,
            "requests still in flight at the shutdown deadline; closing their connections"
        );
    }
    Ok(())
}

/// The request metrics layer [`serve_with`] puts around every route: counts each request
/// by route (the matched route pattern, e.g. `/origin/out/{channel}/{endpoint}/{*path}`, so
/// ids never become label values) and status class, and times it:
/// `http_requests_total{route,status}` and `http_request_duration_seconds{route}` on
/// `/metrics`.
///
/// Hand-written rather than `axum::middleware::from_fn`: that one clones and boxes the
/// inner service and boxes two futures per request, and the `metrics` macros build a key
/// (label strings) and look it up in the registry on every call. Here the handles of a
/// route are looked up once per route and thread ([`RouteMetrics::get`]) and the future is
/// the inner one plus an instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackRequests;

impl<S> tower::Layer<S> for TrackRequests {
    type Service = TrackService<S>;
    fn layer(&self, inner: S) -> TrackService<S> {
        TrackService { inner }
    }
}

/// The service [`TrackRequests`] wraps around a route.
#[derive(Debug, Clone)]
pub struct TrackService<S> {
    inner: S,
}

/// The metric handles of one route: its duration histogram and one request counter per
/// status class.
struct RouteMetrics {
    duration: metrics::Histogram,
    by_class: [metrics::Counter; 5],
}

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

impl RouteMetrics {
    fn new(route: &str) -> Self {
        Self {
            duration: metrics::histogram!("http_request_duration_seconds", "route" => route.to_string()),
            by_class: STATUS_CLASSES.map(|class| {
                metrics::counter!("http_requests_total", "route" => route.to_string(), "status" => class)
            }),
        }
    }

    /// The handles of `route`: one per route for the process (leaked: routes are the
    /// router's patterns, a fixed set), found through a per-thread map so the hot path takes
    /// no lock.
    fn get(route: &str) -> &'static RouteMetrics {
        use std::cell::RefCell;
        use std::collections::HashMap;
        use std::sync::Mutex;
        static ALL: Mutex<Option<HashMap<String, &'static RouteMetrics>>> = Mutex::new(None);
        thread_local! {
            static MINE: RefCell<HashMap<String, &'static RouteMetrics>> = RefCell::new(HashMap::new());
        }
        MINE.with(|mine| {
            if let Some(m) = mine.borrow().get(route) {
                return *m;
            }
            let m = *ALL
                .lock()
                .expect("route metrics lock")
                .get_or_insert_with(HashMap::new)
                .entry(route.to_string())
                .or_insert_with(|| Box::leak(Box::new(RouteMetrics::new(route))));
            mine.borrow_mut().insert(route.to_string(), m);
            m
        })
    }

    fn record(&self, status: axum::http::StatusCode, started: std::time::Instant) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].increment(1);
        self.duration.record(started.elapsed().as_secs_f64());
    }
}

impl<S, B, ResBody> tower::Service<axum::http::Request<B>> for TrackService<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or("unmatched", |p| p.as_str());
        let metrics = RouteMetrics::get(route);
        TrackFuture {
            inner: self.inner.call(request),
            metrics,
            started: std::time::Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`TrackService`].
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        metrics: &'static RouteMetrics,
        started: std::time::Instant,
    }
}

impl<F, ResBody, E> std::future::Future for TrackFuture<F>
where
    F: std::future::Future<Output = Result<axum::http::Response<ResBody>, E>>,
{
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Ok(r) = &out {
            this.metrics.record(r.status(), *this.started);
        }
        std::task::Poll::Ready(out)
    }
}

/// An `accept` error: a connection that went away before we took it is nothing; anything
/// else (out of file descriptors, ...) is logged and waited out, as `axum::serve` does.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Resolves on Ctrl-C or SIGTERM, and records the instant ([`shutdown_deadline`] counts
/// from it).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    SHUTDOWN_STARTED.get_or_init(tokio::time::Instant::now);
    tracing::info!(
        timeout = ?shutdown_timeout(),
        "stop signal: finishing in-flight work, then exiting"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(
        options: ServeOptions,
    ) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = crate::common_routes().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        tokio::spawn(serve_with(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            options,
        ));
        (addr, stop)
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// A connection that sends nothing, or stops half-way through its head, or idles after
    /// a request, is closed by the header-read timeout.
    #[tokio::test]
    async fn silent_and_idle_connections_are_closed() {
        let (addr, _stop) = start(ServeOptions {
            header_read_timeout: Duration::from_millis(300),
            ..Default::default()
        })
        .await;
        let deadline = Duration::from_secs(5);
        // Silent.
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(deadline, silent.read(&mut buf))
            .await
            .expect("a silent connection must be closed by the server");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        // Half a head.
        let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let r = tokio::time::timeout(deadline, half.read_to_end(&mut out)).await;
        assert!(r.is_ok(), "a half-sent head must be cut off");
        // Idle after one keep-alive request.
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = vec![0u8; 1024];
        let n = idle.read(&mut first).await.unwrap();
        assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
        let mut rest = Vec::new();
        let r = tokio::time::timeout(deadline, idle.read_to_end(&mut rest)).await;
        assert!(r.is_ok(), "an idle keep-alive connection must be closed");
        // The server still answers.
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn slow_handlers_get_408() {
        let (addr, _stop) = start(ServeOptions {
            request_timeout: Duration::from_millis(200),
            ..Default::default()
        })
        .await;
        let answer = tokio::time::timeout(Duration::from_secs(5), get(addr, "/slow"))
            .await
            .expect("the request timeout must answer");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }

    /// At the cap, new connections wait in the backlog and are served once a slot frees.
    #[tokio::test]
    async fn connection_cap_queues_instead_of_failing() {
        let (addr, _stop) = start(ServeOptions {
            header_read_timeout: Duration::from_millis(500),
            max_connections: 2,
            ..Default::default()
        })
        .await;
        let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Both slots are held by silent connections until their header timeout.
        let answer = tokio::time::timeout(Duration::from_secs(5), get(addr, "/healthz"))
            .await
            .expect("a queued connection must be served once a slot frees");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Requests are counted by route pattern and status class on /metrics.
    #[tokio::test]
    async fn requests_are_counted_by_route_and_status() {
        let (addr, _stop) = start(ServeOptions::default()).await;
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/nope/123").await.starts_with("HTTP/1.1 404"));
        let metrics = get(addr, "/metrics").await;
        let has = |needle: &str| metrics.lines().any(|l| l.contains(needle));
        assert!(
            has(r#"http_requests_total{route="/healthz",status="2xx"}"#),
            "{metrics}"
        );
        assert!(
            has(r#"http_requests_total{route="unmatched",status="4xx"}"#),
            "{metrics}"
        );
        assert!(
            !has("/nope/123"),
            "raw paths must not become labels: {metrics}"
        );
        assert!(has("http_request_duration_seconds"), "{metrics}");
    }

    /// A router whose `/hold` handler says when it has started and answers only when
    /// released.
    fn holding_router() -> (Router, Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>) {
        let entered = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(tokio::sync::Notify::new());
        let (e, r) = (entered.clone(), release.clone());
        let router = crate::common_routes().route(
            "/hold",
            axum::routing::get(move || {
                let (e, r) = (e.clone(), r.clone());
                async move {
                    e.notify_one();
                    r.notified().await;
                    "done"
                }
            }),
        );
        (router, entered, release)
    }

    /// After the stop signal the listener closes, and a request already in the handler
    /// still gets its answer; then `serve_with` returns.
    #[tokio::test]
    async fn in_flight_requests_finish_after_the_stop_signal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (router, entered, release) = holding_router();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            ServeOptions {
                shutdown_timeout: Duration::from_secs(30),
                ..Default::default()
            },
        ));
        let client = tokio::spawn(get(addr, "/hold"));
        entered.notified().await;
        stop.send(()).unwrap();
        // The listener goes away: new connections are refused.
        wait_refused(addr).await;
        assert!(
            !server.is_finished(),
            "the server must wait for the request in flight"
        );
        release.notify_one();
        let answer = client.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server returns once the request is answered")
            .unwrap()
            .unwrap();
    }

    /// A request that does not finish by the deadline is cut, and the server returns.
    #[tokio::test]
    async fn stuck_requests_are_cut_at_the_shutdown_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (router, entered, _release) = holding_router();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            ServeOptions {
                shutdown_timeout: Duration::from_millis(200),
                ..Default::default()
            },
        ));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /hold HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        entered.notified().await;
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server gives up on the stuck request at the deadline")
            .unwrap()
            .unwrap();
    }

    /// Polls until connecting to `addr` fails.
    async fn wait_refused(addr: std::net::SocketAddr) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the listener still accepts after the stop signal"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn fd_limit_is_raised_to_the_hard_limit() {
        let after = raise_fd_limit().unwrap();
        assert_eq!(Some(after), fd_limit());
        assert!(default_max_connections() >= 256);
    }
}
