//! The webhook's HTTPS server: rustls on aws-lc-rs, TLS 1.2 and 1.3 with FIPS-approved suites
//! and P-256/P-384 key exchange only, HTTP/1.1 and HTTP/2, a request size limit, header-read
//! and handshake timeouts, certificate files re-read when they change, and a graceful drain.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::crypto::aws_lc_rs as provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;

use super::tags::Resolution;
use super::{Admission, BadReview};

/// The API server sends at most 3 MiB.
pub const MAX_BODY: usize = 3 << 20;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where each request finds the decision data: the current snapshot of the replica's caches,
/// or `None` until they are synced (answered 503, so the API server's failurePolicy applies).
pub type AdmissionSource = Arc<dyn Fn() -> Option<Arc<Admission>> + Send + Sync>;

/// The answer to one request: status, content type, body.
pub fn route(
    method: &Method,
    path: &str,
    body: Result<&[u8], &str>,
    admission: Option<&Admission>,
) -> (StatusCode, &'static str, Vec<u8>) {
    route_resolved(method, path, body, admission, &Resolution::default())
}

/// [`route`] with the review's tags resolved to digests beforehand.
pub fn route_resolved(
    method: &Method,
    path: &str,
    body: Result<&[u8], &str>,
    admission: Option<&Admission>,
    tags: &Resolution,
) -> (StatusCode, &'static str, Vec<u8>) {
    let text = |status, msg: &str| (status, "text/plain", format!("{msg}\n").into_bytes());
    match (method, path, admission) {
        (&Method::POST, "/validate", None) | (&Method::GET, "/ready", None) => {
            text(StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
        }
        (&Method::POST, "/validate", Some(admission)) => match body {
            Err(why) => text(StatusCode::PAYLOAD_TOO_LARGE, why),
            Ok(body) => match admission.review_resolved(body, tags) {
                Ok(review) => (
                    StatusCode::OK,
                    "application/json",
                    serde_json::to_vec(&review).unwrap_or_default(),
                ),
                Err(BadReview(msg)) => text(StatusCode::BAD_REQUEST, &msg),
            },
        },
        (&Method::GET, "/live" | "/ready", _) => text(StatusCode::OK, "ok"),
        (_, "/validate", _) => text(StatusCode::METHOD_NOT_ALLOWED, "POST an AdmissionReview"),
        _ => text(StatusCode::NOT_FOUND, "not found: POST /validate"),
    }
}

/// Serves the certificate and key files, read again whenever either changes (a rotation is
/// picked up by the next handshake; connections keep the one they started with).
#[derive(Debug)]
pub struct FileCert {
    cert: PathBuf,
    key: PathBuf,
    loaded: Mutex<Option<(SystemTime, SystemTime, Arc<CertifiedKey>)>>,
}

impl FileCert {
    pub fn new(cert: PathBuf, key: PathBuf) -> anyhow::Result<Arc<FileCert>> {
        let c = Arc::new(FileCert {
            cert,
            key,
            loaded: Mutex::new(None),
        });
        c.current()?;
        Ok(c)
    }

    fn current(&self) -> anyhow::Result<Arc<CertifiedKey>> {
        let mtime = |p: &PathBuf| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        };
        let (cm, km) = (mtime(&self.cert)?, mtime(&self.key)?);
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, k, ck)) = loaded.as_ref() {
            if *c == cm && *k == km {
                return Ok(ck.clone());
            }
        }
        let read =
            |p: &PathBuf| std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
        let ck = certified_key(
            &read(&self.cert)?,
            &read(&self.key)?,
            &self.cert.display().to_string(),
            &self.key.display().to_string(),
        )?;
        *loaded = Some((cm, km, ck.clone()));
        Ok(ck)
    }
}

/// A certificate chain and its private key (PEM) as rustls serves them; `cert_name` and
/// `key_name` say where they came from in errors.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
    key_name: &str,
) -> anyhow::Result<Arc<CertifiedKey>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{cert_name}: not a PEM certificate chain ({e})"))?;
    if certs.is_empty() {
        anyhow::bail!("{cert_name}: no certificate in it");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("{key_name}: not a PEM private key ({e})"))?;
    let signer = provider::sign::any_supported_type(&key)
        .map_err(|e| anyhow::anyhow!("{key_name}: unusable key ({e})"))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| {
        anyhow::anyhow!("{key_name} does not belong to the certificate in {cert_name} ({e})")
    })?;
    Ok(Arc::new(ck))
}

/// A certificate held in memory and replaced as a whole (the self-managed mode: every replica
/// loads it from the Secret its watch sees). Until the first one, handshakes fail.
#[derive(Debug, Default)]
pub struct SharedCert {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl SharedCert {
    pub fn set(&self, cert: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(cert);
    }
}

impl ResolvesServerCert for SharedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if current.is_none() {
            tracing::warn!("no serving certificate yet (the Secret has not been seen)");
        }
        current
    }
}

impl ResolvesServerCert for FileCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot load the serving certificate");
                None
            }
        }
    }
}

/// TLS 1.2 and 1.3, AES-GCM suites with ECDHE, P-256 and P-384 only (SP 800-52r2).
pub fn tls_config(cert: Arc<dyn ResolvesServerCert>) -> anyhow::Result<rustls::ServerConfig> {
    let mut p = crate::crypto_provider();
    p.cipher_suites.retain(|s| {
        use rustls::CipherSuite::*;
        matches!(
            s.suite(),
            TLS13_AES_128_GCM_SHA256
                | TLS13_AES_256_GCM_SHA384
                | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                | TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        )
    });
    p.kx_groups = vec![provider::kx_group::SECP256R1, provider::kx_group::SECP384R1];
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| anyhow::anyhow!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

async fn handle(
    req: Request<Incoming>,
    source: AdmissionSource,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await;
    let bytes = match body {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(_)) => Err("request body over 3 MiB, or cut short"),
        Err(_) => Err("request body not received within 10 s"),
    };
    let admission = source();
    // Tags to digests first, within the resolver's budget (a hanging registry costs a review
    // the budget, never the API server's timeout).
    let mut tags = Resolution::default();
    if let (Some(a), Ok(body), &Method::POST) = (&admission, &bytes, &parts.method) {
        if let Some(resolver) = &a.tags {
            let wanted = a.tags_to_resolve(body);
            if !wanted.is_empty() {
                tags = resolver.resolve(&wanted).await;
            }
        }
    }
    let (status, content_type, out) = route_resolved(
        &parts.method,
        parts.uri.path(),
        bytes.as_deref().map_err(|e| *e),
        admission.as_deref(),
        &tags,
    );
    let response = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(out)))
        .unwrap_or_default();
    Ok(response)
}

/// Serves HTTPS on `listener` until `stop` resolves, then lets connections in flight finish
/// (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    source: AdmissionSource,
    stop: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let open = Arc::new(AtomicUsize::new(0));
    let accept = async {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (acceptor, source, open) = (acceptor.clone(), source.clone(), open.clone());
            open.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                {
                    let service =
                        hyper::service::service_fn(move |req| handle(req, source.clone()));
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    builder
                        .http1()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT);
                    builder.http2().timer(TokioTimer::new());
                    let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                }
                open.fetch_sub(1, Ordering::AcqRel);
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stop => {}
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while open.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
