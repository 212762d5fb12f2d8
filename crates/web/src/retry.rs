//! [`RetryAfter`]: every `503` a router answers says when to come back.

use axum::http::{HeaderValue, Response, StatusCode, header};

/// A layer that adds `Retry-After: <secs>` to every `503` answer that has none (the
/// session cap, a state store down). Hand-written rather than
/// `axum::middleware::map_response`, which boxes a future per request on every route.
#[derive(Debug, Clone)]
pub struct RetryAfter {
    secs: HeaderValue,
}

/// [`RetryAfter`] with `secs` (e.g. `"2"`).
pub fn retry_after_on_503(secs: &'static str) -> RetryAfter {
    RetryAfter {
        secs: HeaderValue::from_static(secs),
    }
}

impl<S> tower::Layer<S> for RetryAfter {
    type Service = RetryAfterService<S>;
    fn layer(&self, inner: S) -> RetryAfterService<S> {
        RetryAfterService {
            inner,
            secs: self.secs.clone(),
        }
    }
}

/// The service [`RetryAfter`] wraps around a route.
#[derive(Debug, Clone)]
pub struct RetryAfterService<S> {
    inner: S,
    secs: HeaderValue,
}

impl<S, Req, B> tower::Service<Req> for RetryAfterService<S>
where
    S: tower::Service<Req, Response = Response<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RetryAfterFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        RetryAfterFuture {
            inner: self.inner.call(request),
            secs: Some(self.secs.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`RetryAfterService`].
    pub struct RetryAfterFuture<F> {
        #[pin]
        inner: F,
        secs: Option<HeaderValue>,
    }
}

impl<F, B, E> std::future::Future for RetryAfterFuture<F>
where
    F: std::future::Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let Ok(r) = &mut out
            && r.status() == StatusCode::SERVICE_UNAVAILABLE
            && !r.headers().contains_key(header::RETRY_AFTER)
            && let Some(v) = this.secs.take()
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        std::task::Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, ServiceExt};

    #[tokio::test]
    async fn only_503_gets_retry_after() {
        for (status, expect) in [
            (StatusCode::SERVICE_UNAVAILABLE, Some("2")),
            (StatusCode::OK, None),
            (StatusCode::NOT_FOUND, None),
        ] {
            let svc = retry_after_on_503("2").layer(tower::service_fn(move |_: ()| async move {
                Ok::<_, std::convert::Infallible>(
                    Response::builder().status(status).body(()).unwrap(),
                )
            }));
            let r = svc.oneshot(()).await.unwrap();
            assert_eq!(
                r.headers()
                    .get(header::RETRY_AFTER)
                    .map(|v| v.to_str().unwrap()),
                expect,
                "{status}"
            );
        }
    }
}
