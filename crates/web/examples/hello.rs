//! A minimal HTTP server, the ceiling reference for `bench/ceiling/run.sh`: what the HTTP
//! stack alone costs on this machine, with no lineup code in the request path.
//!
//! `cargo run --release -p web --example hello -- <mode> <addr>`; every mode answers `GET /`
//! with a 12-byte body:
//! - `hyper`: a bare hyper http1 connection loop (`service_fn`, no router, no tower),
//!   multi-thread runtime: the floor for any hyper-based server;
//! - `axum`: one axum route served by `axum::serve` (multi-thread runtime);
//! - `serve`: the same route on `web::serve` and `web::runtime()`;
//! - `web`: the same route with `web::cors()` and `web::common_routes()` on `web::serve`:
//!   what every lineup service pays per request before its own handler;
//! - `percore` / `shared`: `web`, but on one current-thread runtime per core, accepting on
//!   one SO_REUSEPORT socket each / on one shared socket (the nginx-like design; measured
//!   no better than the multi-thread runtime here, see bench/README.md).

use std::convert::Infallible;

use axum::{Router, routing::get};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;

const BODY: &[u8] = b"hello world\n";

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "axum".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    let app = || Router::new().route("/", get(|| async { Bytes::from_static(BODY) }));
    match mode.as_str() {
        "axum" => tokio::runtime::Runtime::new()?.block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            axum::serve(listener, app()).await
        }),
        "web" => web::runtime()?.block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            let router = app().merge(web::common_routes()).layer(web::cors());
            web::serve(listener, router).await
        }),
        "serve" => web::runtime()?.block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            web::serve(listener, app()).await
        }),
        "hyper" => tokio::runtime::Runtime::new()?.block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = service_fn(|_req: Request<Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }),
        "percore" | "shared" => {
            let addr: std::net::SocketAddr = addr.parse().map_err(std::io::Error::other)?;
            let n = std::thread::available_parallelism().map_or(2, |n| n.get());
            // `shared`: one listening socket, accepted on by every thread; `percore`: one
            // SO_REUSEPORT socket per thread, the kernel spreads connections over them.
            let std_listener = if mode == "shared" {
                let l = std::net::TcpListener::bind(addr)?;
                l.set_nonblocking(true)?;
                Some(l)
            } else {
                None
            };
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    let shared = std_listener.as_ref().map(|l| l.try_clone());
                    let mode = mode.clone();
                    std::thread::spawn(move || -> std::io::Result<()> {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?;
                        rt.block_on(async move {
                            let listener = if mode == "shared" {
                                let l = shared
                                    .ok_or_else(|| std::io::Error::other("no listener"))??;
                                tokio::net::TcpListener::from_std(l)?
                            } else {
                                let s = tokio::net::TcpSocket::new_v4()?;
                                s.set_reuseport(true)?;
                                s.set_reuseaddr(true)?;
                                s.bind(addr)?;
                                s.listen(1024)?
                            };
                            let router = app().merge(web::common_routes()).layer(web::cors());
                            web::serve_until(listener, router, std::future::pending()).await
                        })
                    })
                })
                .collect();
            for t in threads {
                t.join()
                    .map_err(|_| std::io::Error::other("thread panicked"))??;
            }
            Ok(())
        }
        other => Err(std::io::Error::other(format!(
            "unknown mode {other:?}: axum | web | hyper"
        ))),
    }
}
