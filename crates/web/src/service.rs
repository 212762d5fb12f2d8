//! The one shell every lineup service runs in.
//!
//! A service is a value: its configuration ([`ServiceConfig`], the subcommand's arguments)
//! turns into a [`Service`] (routes, background tasks, and what to do on the way out), and
//! a [`Process`] serves one or several of them on one listener. The rules every service
//! shares are written here once:
//!
//! - **The token rule** ([`bind`]): a listener beyond loopback needs the service's
//!   `--api-token` unless the operator passes `--insecure-no-auth` ([`require_token`]).
//! - **The listener** ([`bind`]): an address in use is an error that names it and says
//!   how to choose another (`--listen`).
//! - **Metrics and health**: a [`Process`] answers `/healthz` and `/metrics` at its root
//!   (unless a service mounted at the root already does).
//! - **Shutdown** ([`Process::serve_until`]): on the stop signal every service's *drain*
//!   runs while the listener still accepts (pull/push fetchers finish their transfers to an
//!   origin that may be in this same process), then the listener closes and requests in
//!   flight finish (until [`crate::shutdown_deadline`]), then every *flush* runs (the
//!   origin writes its index) and the background tasks are stopped.
//!
//! [`run`] is the whole life of a standalone `lineup <service>`; `lineup demo` composes a
//! [`Process`] of every service under its path prefix.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use tokio::task::JoinHandle;

use crate::require_token;

/// Any error a service's construction can end in (each crate keeps its own type).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One service as a process runs it: routes (relative to the service root), background
/// tasks, and what it does on the way out.
pub struct Service {
    name: String,
    router: Router,
    banner: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
    drains: Vec<Work>,
    flushes: Vec<Work>,
}

impl Service {
    /// A service named `name` (the subcommand: `engine`, `origin`, ...) serving `router`.
    pub fn new(name: impl Into<String>, router: Router) -> Self {
        Self {
            name: name.into(),
            router,
            banner: Vec::new(),
            tasks: Vec::new(),
            drains: Vec::new(),
            flushes: Vec::new(),
        }
    }

    /// A line for the banner a standalone service prints when it is up (`{base}` stands
    /// for its URL, e.g. `feed: {base}/mrss/all.xml`).
    pub fn banner(mut self, line: impl Into<String>) -> Self {
        self.banner.push(line.into());
        self
    }

    /// A background task of the service, stopped after the shutdown.
    pub fn task(mut self, task: JoinHandle<()>) -> Self {
        self.tasks.push(task);
        self
    }

    /// Work to do on the stop signal while the listener still accepts (drain what this
    /// service sends to others).
    pub fn on_drain(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.drains.push(Box::pin(work));
        self
    }

    /// Work to do once requests in flight have finished (persist what is left).
    pub fn on_flush(mut self, work: impl Future<Output = ()> + Send + 'static) -> Self {
        self.flushes.push(Box::pin(work));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service's routes.
    pub fn router(&self) -> Router {
        self.router.clone()
    }
}

/// A subcommand's configuration: what the shell needs to know before building the
/// service (where it listens, its token), and how to build it.
pub trait ServiceConfig: Sized + Send + 'static {
    /// The subcommand (`engine`, `origin`, ...).
    const NAME: &'static str;
    /// `--listen` as given (`127.0.0.1:8000`, `localhost:8000`, `0.0.0.0:8000`).
    fn listen(&self) -> String;
    /// `--api-token`, if one was given.
    fn api_token(&self) -> Option<&str>;
    /// The service, built on the address its listener is bound to (the real port when
    /// `--listen` said port 0).
    fn build(self, local: SocketAddr) -> impl Future<Output = Result<Service, BoxError>> + Send;
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] crate::OpenControlPlane),
    #[error("--listen {listen}: {message}")]
    Listen { listen: String, message: String },
    #[error("{service}: {source}")]
    Build {
        service: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{service}: serving on {local}: {source}")]
    Serve {
        service: &'static str,
        local: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Check the token rule for `service` and bind `listen`: an address in use names itself
/// and how to pick another.
pub async fn bind(
    service: &str,
    listen: &str,
    token: Option<&str>,
    insecure_no_auth: bool,
) -> Result<tokio::net::TcpListener, StartError> {
    let listen_error = |message: String| StartError::Listen {
        listen: listen.to_string(),
        message,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| listen_error(e.to_string()))?
        .collect();
    require_token(
        &format!("lineup {service}"),
        &addrs,
        token,
        "--api-token",
        insecure_no_auth,
    )?;
    tokio::net::TcpListener::bind(addrs.as_slice())
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => listen_error(format!(
                "{e}: another program (another lineup service?) holds this port; \
                 choose another with --listen or LINEUP_{}_LISTEN",
                service.to_ascii_uppercase()
            )),
            _ => listen_error(e.to_string()),
        })
}

/// The life of a standalone `lineup <service>`: the token rule, the listener, the build,
/// the banner, serving until Ctrl-C / SIGTERM and the shutdown.
pub async fn run<C: ServiceConfig>(config: C, insecure_no_auth: bool) -> Result<(), StartError> {
    let listener = bind(
        C::NAME,
        &config.listen(),
        config.api_token(),
        insecure_no_auth,
    )
    .await?;
    let local = listener.local_addr().map_err(|source| StartError::Listen {
        listen: config.listen(),
        message: source.to_string(),
    })?;
    let service = config
        .build(local)
        .await
        .map_err(|source| StartError::Build {
            service: C::NAME,
            source,
        })?;
    let base = format!("http://{local}");
    println!("lineup {} on {base}", C::NAME);
    for line in &service.banner {
        println!("  {}", line.replace("{base}", &base));
    }
    tracing::info!(addr = %local, "{} listening", C::NAME);
    Process::new()
        .mount("", service)
        .serve(listener)
        .await
        .map_err(|source| StartError::Serve {
            service: C::NAME,
            local,
            source,
        })
}

/// Services sharing one listener, each under its path prefix.
pub struct Process {
    router: Router,
    root_taken: bool,
    tasks: Vec<JoinHandle<()>>,
    drains: Vec<Work>,
    flushes: Vec<Work>,
}

impl Default for Process {
    fn default() -> Self {
        Self::new()
    }
}

impl Process {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            root_taken: false,
            tasks: Vec::new(),
            drains: Vec::new(),
            flushes: Vec::new(),
        }
    }

    /// Serve `service` under `prefix` (`/engine`), or at the root (`""` or `"/"`).
    pub fn mount(mut self, prefix: &str, service: Service) -> Self {
        let prefix = prefix.trim_end_matches('/');
        self.router = if prefix.is_empty() {
            self.root_taken = true;
            self.router.merge(service.router)
        } else {
            self.router.nest(prefix, service.router)
        };
        self.tasks.extend(service.tasks);
        self.drains.extend(service.drains);
        self.flushes.extend(service.flushes);
        self
    }

    /// Routes that belong to no service (the demo's page and bundled files).
    pub fn routes(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    /// Serve until Ctrl-C / SIGTERM ([`crate::shutdown_signal`]).
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, crate::shutdown_signal()).await
    }

    /// Serve until `signal`; then drain, close, flush (see the module doc).
    pub async fn serve_until(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut router = self.router.fallback(crate::not_found);
        if !self.root_taken {
            router = router.merge(crate::common_routes()).layer(crate::cors());
        }
        let drains = self.drains;
        let served = crate::serve_until(listener, router, async move {
            signal.await;
            all(drains).await;
        })
        .await;
        all(self.flushes).await;
        for task in self.tasks {
            task.abort();
        }
        served
    }
}

/// Run every piece of work at once and wait for all of them.
async fn all(work: Vec<Work>) {
    let handles: Vec<_> = work.into_iter().map(tokio::spawn).collect();
    for h in handles {
        if let Err(e) = h.await {
            tracing::error!("shutdown work failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Drains run while the listener still answers; flushes after it closed.
    #[tokio::test]
    async fn drains_run_before_the_listener_closes_and_flushes_after() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let (o1, o2, a) = (order.clone(), order.clone(), answered.clone());
        let service = Service::new("test", Router::new())
            .on_drain(async move {
                // The listener still answers during a drain.
                let r = reqwest_free_get(addr, "/healthz").await;
                if r.starts_with("HTTP/1.1 200") {
                    a.fetch_add(1, Ordering::SeqCst);
                }
                o1.lock().unwrap().push("drain");
            })
            .on_flush(async move {
                o2.lock().unwrap().push("flush");
            });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(Process::new().mount("/test", service).serve_until(
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        assert!(
            reqwest_free_get(addr, "/healthz")
                .await
                .starts_with("HTTP/1.1 200")
        );
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert_eq!(*order.lock().unwrap(), ["drain", "flush"]);
        assert_eq!(answered.load(Ordering::SeqCst), 1);
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn an_address_in_use_names_itself_and_the_way_out() {
        let held = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = held.local_addr().unwrap().to_string();
        let e = bind("schedule", &listen, None, false).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&listen), "{text}");
        assert!(text.contains("LINEUP_SCHEDULE_LISTEN"), "{text}");
        let e = bind("schedule", "0.0.0.0:0", None, false)
            .await
            .unwrap_err();
        assert!(matches!(e, StartError::Open(_)), "{e}");
    }

    async fn reqwest_free_get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
}
