use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

/// What a failing path does instead of serving the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status code and an empty body (404, 500, 503, ...).
    Status(u16),
    /// Accept the request and never answer (until the fault is cleared or the server drops).
    Timeout,
    /// Serve normally, after this delay.
    Delay(Duration),
}

#[derive(Default)]
struct Faults {
    /// path pattern -> (fault, remaining count; None = forever)
    rules: HashMap<String, (Fault, Option<usize>)>,
    hits: HashMap<String, usize>,
}

struct Shared {
    faults: Mutex<Faults>,
    /// Flips to true on clear/drop so requests parked by `Fault::Timeout` re-check.
    wake: watch::Sender<u64>,
}

/// Handle to a running [`serve_dir`] server; the server stops when it is dropped.
pub struct ServeHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// Serves `dir` (static files, tower-http `ServeDir`) on `127.0.0.1:<ephemeral>`.
/// Chosen paths can be made to fail with [`ServeHandle::fail`]. Needs a tokio runtime.
pub async fn serve_dir(dir: impl AsRef<Path>) -> (SocketAddr, ServeHandle) {
    let (wake, _) = watch::channel(0u64);
    let shared = Arc::new(Shared {
        faults: Mutex::new(Faults::default()),
        wake,
    });
    let app = Router::new()
        .fallback_service(ServeDir::new(dir.as_ref()).append_index_html_on_directories(false))
        .layer(middleware::from_fn_with_state(shared.clone(), inject));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, ServeHandle { addr, shared, task })
}

fn norm(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

async fn inject(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let fault = {
        let mut f = shared.faults.lock().unwrap();
        *f.hits.entry(path.clone()).or_default() += 1;
        let key = f
            .rules
            .keys()
            .filter(|k| matches(k, &path))
            .max_by_key(|k| k.len())
            .cloned();
        match key {
            Some(key) => {
                let (fault, left) = f.rules.get_mut(&key).unwrap();
                let fault = fault.clone();
                if let Some(n) = left {
                    *n -= 1;
                    if *n == 0 {
                        f.rules.remove(&key);
                    }
                }
                Some(fault)
            }
            None => None,
        }
    };
    match fault {
        None => next.run(req).await,
        Some(Fault::Status(code)) => {
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, Body::empty()).into_response()
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(Fault::Timeout) => {
            // Park until the rule for this path is gone (cleared) or the server drops.
            let mut rx = shared.wake.subscribe();
            loop {
                if rx.changed().await.is_err() {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                let still = {
                    let f = shared.faults.lock().unwrap();
                    f.rules
                        .iter()
                        .any(|(k, (fault, _))| *fault == Fault::Timeout && matches(k, &path))
                };
                if !still {
                    return next.run(req).await;
                }
            }
        }
    }
}

impl ServeHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, norm(path))
    }

    /// Every request to `path` fails with `fault` until [`clear`](Self::clear)ed.
    /// `path` is relative to the served folder (leading `/` optional); a trailing `*`
    /// makes it a prefix (`"ts/vod1/360p/*"`). The longest matching pattern wins.
    pub fn fail(&self, path: &str, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .rules
            .insert(norm(path), (fault, None));
    }

    /// The next `times` requests to `path` fail with `fault`, then it serves normally again.
    pub fn fail_times(&self, path: &str, fault: Fault, times: usize) {
        if times > 0 {
            self.shared
                .faults
                .lock()
                .unwrap()
                .rules
                .insert(norm(path), (fault, Some(times)));
        }
    }

    /// Stops failing `path` (exactly the pattern given to `fail`).
    pub fn clear(&self, path: &str) {
        self.shared.faults.lock().unwrap().rules.remove(&norm(path));
        self.shared.wake.send_modify(|n| *n += 1);
    }

    pub fn clear_all(&self) {
        self.shared.faults.lock().unwrap().rules.clear();
        self.shared.wake.send_modify(|n| *n += 1);
    }

    /// How many requests (failed or not) reached `path` (exact path, leading `/` optional).
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .faults
            .lock()
            .unwrap()
            .hits
            .get(&norm(path))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.task.abort();
        // Release requests parked by Fault::Timeout.
        self.shared.faults.lock().unwrap().rules.clear();
        self.shared.wake.send_modify(|n| *n += 1);
    }
}
