use std::fmt;
use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// How often the polling helpers look again.
const POLL: Duration = Duration::from_millis(25);

/// A condition did not come true within its deadline.
#[derive(Debug, Clone)]
pub struct WaitTimeout {
    pub what: String,
    pub after: Duration,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}",
            self.after, self.what
        )
    }
}

impl std::error::Error for WaitTimeout {}

/// Polls `cond` (every 25 ms) until it returns true or `timeout` passes.
///
/// ```no_run
/// # async fn t(dir: std::path::PathBuf) {
/// use std::time::Duration;
/// testkit::wait_until(Duration::from_secs(10), "playlist", || {
///     let p = dir.join("index.m3u8");
///     async move { p.exists() }
/// })
/// .await
/// .unwrap();
/// # }
/// ```
pub async fn wait_until<F, Fut>(
    timeout: Duration,
    what: &str,
    mut cond: F,
) -> Result<(), WaitTimeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(timeout, what, || {
        let fut = cond();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `probe` until it returns `Some(value)` (returned) or `timeout` passes.
pub async fn wait_for<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut probe: F,
) -> Result<T, WaitTimeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(WaitTimeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A currently free TCP port on 127.0.0.1 (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// True if something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}
