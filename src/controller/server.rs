//! The controller's plain-HTTP endpoints: `/metrics`, `/live` (the process answers) and
//! `/ready` (caches synced and, with self-managed certificates, a serving certificate loaded:
//! see [`Readiness`]). The admission webhook is served elsewhere, over TLS.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// True once every cache has listed its objects (and, with self-managed certificates, a
    /// serving certificate is loaded: see [`Readiness`]).
    pub ready: Arc<AtomicBool>,
}

/// A readiness flag made of conditions that each turn true once and stay so: the caches
/// synced and, when the webhook serves self-managed certificates, a serving certificate
/// loaded (until then every TLS handshake fails). The flag turns true with the last one.
#[derive(Clone)]
pub struct Readiness {
    flag: Arc<AtomicBool>,
    left: Arc<AtomicUsize>,
}

impl Readiness {
    /// `conditions` conditions, none met yet (none: ready at once).
    pub fn new(conditions: usize) -> Readiness {
        Readiness {
            flag: Arc::new(AtomicBool::new(conditions == 0)),
            left: Arc::new(AtomicUsize::new(conditions)),
        }
    }

    /// The flag to report ([`Health::ready`]).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Not ready from now on, whatever conditions are met later (shutting down).
    pub fn stop(&self) {
        self.left.store(usize::MAX, Ordering::Release);
        self.flag.store(false, Ordering::Release);
    }

    /// One condition met: call it once per condition.
    pub fn met(&self) {
        let left = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if left == Ok(1) {
            self.flag.store(true, Ordering::Release);
        }
    }
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
                    "not ready: caches not synced yet, no serving certificate loaded yet \
                     (self-managed certificates), or shutting down\n"
                        .into(),
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

#[cfg(test)]
mod readiness_tests {
    use super::*;

    #[test]
    fn ready_once_every_condition_is_met() {
        let r = Readiness::new(2);
        let flag = r.flag();
        assert!(!flag.load(Ordering::Acquire));
        r.met();
        assert!(
            !flag.load(Ordering::Acquire),
            "caches synced, no certificate yet"
        );
        r.clone().met();
        assert!(flag.load(Ordering::Acquire));
        r.met();
        assert!(flag.load(Ordering::Acquire), "stays ready");
        assert!(Readiness::new(0).flag().load(Ordering::Acquire));
    }

    #[test]
    fn not_ready_is_a_503_saying_why() {
        let r = Readiness::new(2);
        let health = Health {
            metrics: Arc::new(Metrics::default()),
            ready: r.flag(),
        };
        r.met();
        let (status, _, body) = route(&Method::GET, "/ready", &health);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("no serving certificate loaded"), "{body}");
        r.met();
        assert_eq!(route(&Method::GET, "/ready", &health).0, StatusCode::OK);
    }
}
