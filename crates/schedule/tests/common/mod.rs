//! Shared by the schedule tests: the catalog and schedule routers on one ephemeral port.
#![allow(dead_code)]

use schedule::Service;

/// Serves `/catalog` and `/schedule` for `service` on 127.0.0.1:<ephemeral>; returns the base.
pub async fn serve(service: &Service, token: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token: Option<std::sync::Arc<str>> = token.map(Into::into);
    let router = axum::Router::new()
        .nest(
            "/catalog",
            schedule::catalog_api::router(service.clone(), token.clone()),
        )
        .nest(
            "/schedule",
            schedule::schedule_api::router(service.clone(), token),
        );
    tokio::spawn(web::serve_until(listener, router, std::future::pending()));
    base
}

/// Runs a Python snippet; returns its stdout, panicking with stderr on failure.
pub async fn python(py: &std::path::Path, script: &str, arg: &str) -> String {
    let out = tokio::process::Command::new(py)
        .args(["-c", script, arg])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
