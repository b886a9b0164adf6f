//! The controller's plain-HTTP endpoints: `/metrics`, `/live` (the process answers) and
//! `/ready` (caches synced). The admission webhook is served elsewhere, over TLS.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::metrics::Metrics;

/// What the endpoints report on.
#[derive(Clone)]
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// True once every cache has listed its objects.
    pub ready: Arc<AtomicBool>,
}

/// The answer for one request: status, content type, body.
pub fn route(method: &Method, path: &str, health: &Health) -> (StatusCode, &'static str, String) {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET and HEAD\n".into(),
        );
    }
    match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            health.metrics.encode(),
        ),
        "/live" | "/healthz" => (StatusCode::OK, "text/plain", "ok\n".into()),
        "/ready" | "/readyz" => {
            if health.ready.load(Ordering::Acquire) {
                (StatusCode::OK, "text/plain", "ok\n".into())
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "caches not synced yet\n".into(),
                )
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /live or /ready\n".into(),
        ),
    }
}

/// Serves until `stop` resolves; connections in flight are finished first.
pub async fn serve(listener: TcpListener, health: Health, stop: impl Future<Output = ()>) {
    // Each connection task holds a clone: the count tells how many are in flight.
    let connections = Arc::new(());
    let accept = async {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let health = health.clone();
            let guard = connections.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (status, content_type, body) =
                        route(req.method(), req.uri().path(), &health);
                    let response = Response::builder()
                        .status(status)
                        .header("content-type", content_type)
                        .body(Full::new(Bytes::from(body)));
                    async move { Ok::<_, Infallible>(response.unwrap_or_default()) }
                });
                let conn = http1::Builder::new()
                    .header_read_timeout(std::time::Duration::from_secs(5))
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service);
                let _ = conn.await;
                drop(guard);
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stop => {}
    }
    // Wait (briefly) for connections in flight.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while Arc::strong_count(&connections) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
