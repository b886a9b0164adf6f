//! Registry images: anonymous, basic and token auth (credentials from a Docker `config.json`
//! or a Kubernetes `dockerconfigjson` secret), plain HTTP only for loopback or
//! `--insecure-registry` hosts (a redirect cannot downgrade to it), retries with backoff on
//! 5xx, 429 and timeouts.
//!
//! `oci-client` does the authentication (the token dance of the distribution spec); manifests
//! and blobs are fetched here with its HTTP client's crate, because its pull functions verify
//! digests with the pure-Rust `sha2` crate: every digest this binary computes goes through
//! aws-lc-rs (README: the operator's FIPS build), so the `fips` build has no SHA-256 outside the validated module.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::source::{source_error, Descriptor, ImageError, ImageStore};

const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const TIMEOUT: Duration = Duration::from_secs(60);
/// The whole of one tag resolution ([`manifest_digest`]), authentication included: a registry
/// that trickles its answer must not hold the webhook's thread for longer.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed per request (reqwest's default).
const MAX_REDIRECTS: usize = 10;
/// Manifests and indexes larger than this are refused (registries cap them at 4 MiB).
const MAX_MANIFEST: usize = 4 << 20;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) that may be reached over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// A Docker `config.json`; else `REGISTRY_AUTH_FILE`, then `$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json`.
    pub auth_file: Option<PathBuf>,
    /// Pull secrets (`namespace/name` and the `.dockerconfigjson` value), as the kubelet would
    /// use them for a pod. When set, only these are consulted (then anonymous access): never
    /// the files above.
    pub pull_secrets: Option<Vec<(String, Vec<u8>)>>,
}

/// Credentials for `registry` from a Docker `config.json` or a Kubernetes
/// `.dockerconfigjson` secret value (the same format). `None` when it has none for it.
pub fn auth_from_docker_config(
    json: &[u8],
    registry: &str,
) -> Result<Option<RegistryAuth>, String> {
    let config: Value =
        serde_json::from_slice(json).map_err(|e| format!("not a Docker config.json: {e}"))?;
    let Some(auths) = config["auths"].as_object() else {
        return Ok(None);
    };
    let wanted = normalize_host(registry);
    for (key, entry) in auths {
        if normalize_host(key) != wanted {
            continue;
        }
        if let Some(token) = entry["identitytoken"].as_str() {
            return Ok(Some(RegistryAuth::Bearer(token.to_string())));
        }
        if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
            return Ok(Some(RegistryAuth::Basic(u.into(), p.into())));
        }
        if let Some(encoded) = entry["auth"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("auths.{key}.auth is not base64: {e}"))?;
            let text =
                String::from_utf8(decoded).map_err(|_| format!("auths.{key}.auth is not UTF-8"))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| format!("auths.{key}.auth is not user:password"))?;
            return Ok(Some(RegistryAuth::Basic(u.into(), p.into())));
        }
    }
    Ok(None)
}

/// `https://index.docker.io/v1/` -> `docker.io`; `http://host:5000/` -> `host:5000`.
fn normalize_host(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => host,
    }
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Where credentials come from, for messages.
fn auth_for(
    registry: &str,
    options: &RegistryOptions,
) -> Result<(RegistryAuth, String), ImageError> {
    if let Some(secrets) = &options.pull_secrets {
        for (name, secret) in secrets {
            let found = auth_from_docker_config(secret, registry)
                .map_err(|e| source_error(format!("image pull secret {name}: {e}")))?;
            if let Some(auth) = found {
                return Ok((auth, format!("image pull secret {name}")));
            }
        }
        return Ok((RegistryAuth::Anonymous, "anonymous access".into()));
    }
    let candidates: Vec<PathBuf> = match &options.auth_file {
        Some(f) => vec![f.clone()],
        None => {
            let mut c = Vec::new();
            if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
                c.push(PathBuf::from(f));
            }
            if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
                c.push(PathBuf::from(d).join("config.json"));
            } else if let Some(h) = std::env::var_os("HOME") {
                c.push(PathBuf::from(h).join(".docker/config.json"));
            }
            c
        }
    };
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else {
            if options.auth_file.is_some() {
                return Err(source_error(format!(
                    "--registry-config {}: cannot read it",
                    path.display()
                )));
            }
            continue;
        };
        let found = auth_from_docker_config(&bytes, registry)
            .map_err(|e| source_error(format!("{}: {e}", path.display())))?;
        if let Some(auth) = found {
            return Ok((auth, format!("credentials from {}", path.display())));
        }
    }
    Ok((RegistryAuth::Anonymous, "anonymous access".into()))
}

pub(crate) struct RegistryStore {
    runtime: tokio::runtime::Runtime,
    /// Authentication only (see the module docs).
    client: Client,
    http: reqwest::Client,
    plain_http: Vec<String>,
    reference: Reference,
    auth: RegistryAuth,
    auth_source: String,
    /// The `Authorization` value in use (`None` inside: anonymous); unset until first needed.
    authorization: Mutex<Option<Option<String>>>,
    spool: tempfile::TempDir,
    /// Tries per request (5xx and 429 answers and timeouts are retried with backoff).
    attempts: u32,
    /// Bounds each registry call as a whole, authentication and retries included; `None`:
    /// only the connect and per-read timeouts.
    total_timeout: Option<Duration>,
}

impl RegistryStore {
    pub fn open(image: &str, options: &RegistryOptions) -> Result<Self, ImageError> {
        RegistryStore::open_with(image, options, None)
    }

    /// [`RegistryStore::open`] with every request, and every call as a whole (authentication
    /// and retries included), bounded by `total_timeout`.
    pub(crate) fn open_with(
        image: &str,
        options: &RegistryOptions,
        total_timeout: Option<Duration>,
    ) -> Result<Self, ImageError> {
        let reference: Reference = image
            .parse()
            .map_err(|e| source_error(format!("{image:?} is not an image reference ({e}); expected registry/repository:tag[@sha256:…]")))?;
        let registry = reference.resolve_registry().to_string();
        let mut plain_http: Vec<String> = options.insecure.clone();
        if is_loopback(&registry) {
            plain_http.push(registry.clone());
        }
        crate::install_crypto_provider();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain_http.clone()),
            read_timeout: Some(TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            ..ClientConfig::default()
        };
        // HTTPS only, unless the registry itself may be reached over plain HTTP; even then a
        // redirect may lead to plain HTTP only on a host allowed it.
        let mut http = reqwest::Client::builder()
            .read_timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .https_only(!plain_http.contains(&registry))
            .redirect(redirect_policy(plain_http.clone()))
            .user_agent(concat!("fips-operator/", env!("CARGO_PKG_VERSION")));
        if let Some(total) = total_timeout {
            http = http.timeout(total);
        }
        let http = http
            .build()
            .map_err(|e| source_error(format!("cannot set up the HTTP client: {e}")))?;
        let client = Client::new(config);
        let (auth, auth_source) = auth_for(reference.registry(), options)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(RegistryStore {
            runtime,
            client,
            http,
            plain_http,
            reference,
            auth,
            auth_source,
            authorization: Mutex::new(None),
            spool: tempfile::tempdir()?,
            attempts: ATTEMPTS,
            total_timeout,
        })
    }

    /// `…/v2/<repository>/<kind>/<name>` on the registry, over plain HTTP only where allowed.
    fn url(&self, kind: &str, name: &str) -> String {
        let registry = self.reference.resolve_registry();
        let scheme = if self.plain_http.iter().any(|h| h == registry) {
            "http"
        } else {
            "https"
        };
        let ns = self
            .reference
            .namespace()
            .map(|ns| format!("?ns={ns}"))
            .unwrap_or_default();
        let repository = self.reference.repository();
        format!("{scheme}://{registry}/v2/{repository}/{kind}/{name}{ns}")
    }

    /// The `Authorization` header for pulls: a bearer token from the registry's token service
    /// (through oci-client), else the basic credentials, else none. `renew` asks again.
    async fn authorization(&self, renew: bool) -> Result<Option<String>, OciDistributionError> {
        if !renew {
            if let Some(known) = self.lock_authorization().clone() {
                return Ok(known);
            }
        }
        let token = self
            .client
            .auth(&self.reference, &self.auth, RegistryOperation::Pull)
            .await?;
        let header = match (token, &self.auth) {
            (Some(token), _) => Some(format!("Bearer {token}")),
            (None, RegistryAuth::Basic(user, password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            (None, _) => None,
        };
        *self.lock_authorization() = Some(header.clone());
        Ok(header)
    }

    fn lock_authorization(&self) -> std::sync::MutexGuard<'_, Option<Option<String>>> {
        self.authorization
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One authenticated GET; a 401 (an expired token) gets a fresh authorization and one
    /// more try. Any other failure is the registry's error.
    async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, OciDistributionError> {
        let mut renew = false;
        loop {
            let mut request = self.http.get(url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(value) = self.authorization(renew).await? {
                request = request.header(AUTHORIZATION, value);
            }
            let response = request.send().await?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !renew {
                renew = true;
                continue;
            }
            let body = response.bytes().await.unwrap_or_default();
            return Err(registry_error(status, &body, url));
        }
    }

    /// Runs a registry call, retrying 5xx and 429 answers and timeouts with backoff, all of it
    /// within the total timeout when there is one (oci-client's authentication has no such
    /// setting of its own).
    fn call<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, ImageError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let deadline = self
            .total_timeout
            .map(|t| (t, std::time::Instant::now() + t));
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let result = match deadline {
                None => self.runtime.block_on(f()),
                Some((total, at)) => {
                    let left = at.saturating_duration_since(std::time::Instant::now());
                    self.runtime
                        .block_on(async { tokio::time::timeout(left, f()).await })
                        .unwrap_or_else(|_| {
                            Err(OciDistributionError::GenericError(Some(format!(
                                "the registry did not answer within {} s",
                                total.as_secs_f32()
                            ))))
                        })
                }
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e)
                    if attempt < self.attempts
                        && transient(&e)
                        && deadline
                            .is_none_or(|(_, at)| std::time::Instant::now() + backoff < at) =>
                {
                    std::thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(self.explain(what, e)),
            }
        }
    }

    fn explain(&self, what: &str, e: OciDistributionError) -> ImageError {
        let image = self.reference.whole();
        let registry = self.reference.registry();
        let msg = match &e {
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => format!(
                "{registry} refused {what} of {image} (401/403) with {}: log in (docker login / skopeo login) or pass --registry-config with credentials for {registry}",
                self.auth_source
            ),
            OciDistributionError::ImageManifestNotFoundError(_) => {
                format!("{image}: not found (404): check the repository name and tag")
            }
            OciDistributionError::ServerError { code: 404, .. } => format!("{image}: {what} not found (404): check the repository name and tag"),
            OciDistributionError::ServerError { code, .. } if *code == 401 || *code == 403 => format!(
                "{registry} refused {what} of {image} ({code}) with {}: check the credentials (--registry-config)",
                self.auth_source
            ),
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::BlobUnknown
                    )
                }) =>
            {
                format!("{image}: {what} not found: check the repository name and tag")
            }
            OciDistributionError::RegistryError { envelope, .. }
                if envelope
                    .errors
                    .iter()
                    .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
            {
                format!(
                    "{registry} refused {what} of {image} with {}: check the credentials (--registry-config)",
                    self.auth_source
                )
            }
            OciDistributionError::RequestError(re) if re.is_connect() => {
                unreachable(registry, &image, &error_chain(re))
            }
            OciDistributionError::RequestError(re) => {
                format!("{image}: {what}: {}", error_chain(re))
            }
            OciDistributionError::GenericError(Some(why)) => format!("{image}: {what}: {why}"),
            other => format!("{image}: {what}: {other}"),
        };
        source_error(msg)
    }

    /// A manifest or index by tag or digest, with its digest computed here (aws-lc-rs).
    fn pull_manifest(&self, name: &str) -> Result<(Vec<u8>, String), ImageError> {
        let url = self.url("manifests", name);
        let accept = MANIFEST_TYPES.join(", ");
        let bytes = self.call("manifest", || async {
            let mut response = self.get(&url, Some(&accept)).await?;
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_MANIFEST {
                    return Err(OciDistributionError::ManifestParsingError(format!(
                        "{url}: the manifest is larger than {MAX_MANIFEST} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        })?;
        let digest = super::digest::sha256(&bytes);
        Ok((bytes, digest))
    }
}

/// The digest of the manifest (or index) `image` names now: one manifest request, no retry,
/// all of it (authentication included) within 10 s (the admission webhook resolves tags with
/// it, in a blocking thread, inside its time budget).
pub fn manifest_digest(image: &str, options: &RegistryOptions) -> Result<String, ImageError> {
    manifest_digest_within(image, options, RESOLVE_TIMEOUT)
}

fn manifest_digest_within(
    image: &str,
    options: &RegistryOptions,
    total: Duration,
) -> Result<String, ImageError> {
    let mut store = RegistryStore::open_with(image, options, Some(total))?;
    store.attempts = 1;
    let result = store.top();
    // Nor is the thread held by blocking work left in the store's runtime (a DNS lookup that
    // outlived the deadline): dropping the runtime would wait for it.
    let RegistryStore { runtime, .. } = store;
    runtime.shutdown_background();
    let (_, digest) = result?;
    digest.ok_or_else(|| source_error(format!("{image}: the registry named no digest")))
}

/// Redirects: at most [`MAX_REDIRECTS`], and to plain HTTP only on a loopback host or one in
/// `plain_http` (with `https_only` set, reqwest refuses plain HTTP anyway).
fn redirect_policy(plain_http: Vec<String>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let url = attempt.url();
        if url.scheme() != "https" && !plain_http_allowed(url, &plain_http) {
            let refused = format!(
                "refused a redirect to {url}: plain HTTP only for loopback or --insecure-registry hosts"
            );
            return attempt.error(refused);
        }
        attempt.follow()
    })
}

fn plain_http_allowed(url: &reqwest::Url, plain_http: &[String]) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    is_loopback(&host) || plain_http.iter().any(|h| h.eq_ignore_ascii_case(&host))
}

/// An error and its causes, for messages (reqwest's own message leaves out its cause); a
/// cause the text already carries is not repeated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Registries that serve HTTPS only: never worth a plain-HTTP hint.
const HTTPS_REGISTRIES: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "registry.k8s.io",
    "mcr.microsoft.com",
    "public.ecr.aws",
    "registry.access.redhat.com",
    "registry.redhat.io",
];

/// Why `registry` could not be reached, with its cause and the hint that fits the cause:
/// `--insecure-registry` only when a TLS handshake met an answer that is not TLS (a registry
/// serving plain HTTP), and never for the public HTTPS registries.
fn unreachable(registry: &str, image: &str, cause: &str) -> String {
    let lower = cause.to_ascii_lowercase();
    let plain_http = lower.contains("invalidcontenttype") || lower.contains("corrupt message");
    let hint = if plain_http && !HTTPS_REGISTRIES.contains(&registry) {
        format!(
            "{registry} did not answer in TLS: if it serves plain HTTP, pass --insecure-registry {registry}"
        )
    } else if lower.contains("dns error") || lower.contains("lookup address") {
        format!("check the name {registry} and this machine's DNS and network (or its proxy: HTTPS_PROXY)")
    } else {
        "check the address and the network (or the proxy: HTTPS_PROXY)".to_string()
    };
    format!("cannot reach registry {registry} for {image}: {cause}; {hint}")
}

/// The registry's error answer as oci-client reports it, so that one place explains them.
fn registry_error(status: StatusCode, body: &[u8], url: &str) -> OciDistributionError {
    let url = url.to_string();
    if status == StatusCode::UNAUTHORIZED {
        return OciDistributionError::UnauthorizedError { url };
    }
    match serde_json::from_slice::<OciEnvelope>(body) {
        Ok(envelope) if status.is_client_error() => {
            OciDistributionError::RegistryError { envelope, url }
        }
        _ => OciDistributionError::ServerError {
            code: status.as_u16(),
            url,
            message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        },
    }
}

/// Worth another try after a while: 5xx, 429 (rate limited) and timeouts.
fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
        OciDistributionError::RequestError(re) => re.is_timeout(),
        _ => false,
    }
}

impl ImageStore for RegistryStore {
    fn top(&mut self) -> Result<(Vec<u8>, Option<String>), ImageError> {
        let reference = self.reference.clone();
        let name = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let (bytes, digest) = self.pull_manifest(&name)?;
        if let Some(pinned) = reference.digest() {
            if pinned != digest {
                return Err(ImageError::DigestMismatch {
                    what: "manifest".into(),
                    digest: pinned.into(),
                    actual: digest,
                });
            }
        }
        Ok((bytes, Some(digest)))
    }

    /// Verified here, whatever the caller does: bytes that are not `digest` are refused.
    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let (bytes, actual) = self.pull_manifest(digest)?;
        if actual != digest {
            return Err(ImageError::DigestMismatch {
                what: "manifest".into(),
                digest: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Downloads the blob to a private spool file (the caller re-verifies its digest while
    /// streaming it), so that layers are applied from disk, not memory.
    fn blob(&mut self, desc: &Descriptor) -> Result<Box<dyn Read + '_>, ImageError> {
        let path = self.spool.path().join(desc.digest.replace(':', "-"));
        let url = self.url("blobs", &desc.digest);
        // A descriptor without a size (-1) sets no bound; the digest still has to match.
        let declared = u64::try_from(desc.size).unwrap_or(u64::MAX);
        self.call("blob download", || async {
            let mut response = self.get(&url, None).await?;
            let mut file = tokio::fs::File::create(&path).await?;
            let mut written = 0u64;
            while let Some(chunk) = response.chunk().await? {
                written += chunk.len() as u64;
                if written > declared {
                    return Err(OciDistributionError::SpecViolationError(format!(
                        "{url}: the blob is larger than the {declared} bytes its descriptor says"
                    )));
                }
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        })?;
        let file = std::fs::File::open(&path)?;
        // Unlinked now: the open handle keeps the data until the layer is read.
        let _ = std::fs::remove_file(&path);
        Ok(Box::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auth_forms() {
        let json = br#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
            "127.0.0.1:5000": {"username": "u", "password": "p"},
            "ghcr.io": {"identitytoken": "tok"}
        }}"#;
        assert_eq!(
            auth_from_docker_config(json, "docker.io").expect("ok"),
            Some(RegistryAuth::Basic("user".into(), "pass".into()))
        );
        assert_eq!(
            auth_from_docker_config(json, "127.0.0.1:5000").expect("ok"),
            Some(RegistryAuth::Basic("u".into(), "p".into()))
        );
        assert_eq!(
            auth_from_docker_config(json, "ghcr.io").expect("ok"),
            Some(RegistryAuth::Bearer("tok".into()))
        );
        assert_eq!(auth_from_docker_config(json, "quay.io").expect("ok"), None);
        assert!(auth_from_docker_config(b"[]", "x")
            .expect("no auths")
            .is_none());
        assert!(auth_from_docker_config(b"{", "x").is_err());
    }

    /// A registry on 127.0.0.1 that answers each request (one a connection) with what
    /// `answer(path)` says: pieces of the raw response, each written after its pause.
    fn serve(answer: impl Fn(&str) -> Vec<(Duration, Vec<u8>)> + Send + Sync + 'static) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let answer = std::sync::Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut byte = [0u8; 1];
                    while !request.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => request.push(byte[0]),
                            _ => return,
                        }
                    }
                    let request = String::from_utf8_lossy(&request).into_owned();
                    let path = request.split(' ').nth(1).unwrap_or_default().to_string();
                    for (pause, piece) in answer(&path) {
                        std::thread::sleep(pause);
                        if stream
                            .write_all(&piece)
                            .and_then(|()| stream.flush())
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn response(status: &str, headers: &str, body: &[u8]) -> Vec<(Duration, Vec<u8>)> {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        vec![(Duration::ZERO, out)]
    }

    #[test]
    fn an_unreachable_registry_gets_the_hint_of_its_cause() {
        let tls = "error sending request for url (https://h/v2/): client error (Connect): \
                   received corrupt message of type InvalidContentType";
        let plain = unreachable("10.0.0.5:5000", "10.0.0.5:5000/app:1", tls);
        assert!(
            plain.ends_with("if it serves plain HTTP, pass --insecure-registry 10.0.0.5:5000"),
            "{plain}"
        );
        assert!(!unreachable("docker.io", "docker.io/library/a:1", tls).contains("--insecure"));
        let dns = "error sending request for url (https://index.docker.io/v2/): client error \
                   (Connect): dns error: failed to lookup address information";
        let hub = unreachable("docker.io", "docker.io/library/a:1", dns);
        assert!(
            hub.contains(dns) && hub.contains("DNS and network"),
            "{hub}"
        );
        assert!(!hub.contains("--insecure-registry"), "{hub}");
        let refused = unreachable("h:1", "h:1/a:1", "tcp connect error: Connection refused");
        assert!(refused.ends_with("check the address and the network (or the proxy: HTTPS_PROXY)"));
    }

    #[test]
    fn rate_limits_and_server_errors_are_transient() {
        let server = |code| OciDistributionError::ServerError {
            code,
            url: "u".into(),
            message: String::new(),
        };
        assert!(transient(&server(429)));
        assert!(transient(&server(503)));
        assert!(!transient(&server(404)));
        let envelope = |code: &str| OciDistributionError::RegistryError {
            envelope: serde_json::from_str(&format!(
                r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#
            ))
            .expect("envelope"),
            url: "u".into(),
        };
        assert!(transient(&envelope("TOOMANYREQUESTS")));
        assert!(!transient(&envelope("MANIFEST_UNKNOWN")));
        // As registry_error reads a 429 answer, with and without an error envelope.
        let url = "http://127.0.0.1:1/v2/app/manifests/1";
        assert!(transient(&registry_error(
            StatusCode::TOO_MANY_REQUESTS,
            b"slow down",
            url
        )));
        assert!(transient(&registry_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"m"}]}"#,
            url
        )));
    }

    #[test]
    fn plain_http_only_for_loopback_and_insecure_hosts() {
        let insecure = vec!["reg.internal:5000".to_string()];
        let allowed = |u: &str| plain_http_allowed(&u.parse().expect("url"), &insecure);
        assert!(allowed("http://127.0.0.1:5000/v2/"));
        assert!(allowed("http://REG.internal:5000/v2/"));
        assert!(!allowed("http://reg.internal/v2/"));
        assert!(!allowed("http://cdn.example/blob"));
        assert!(!allowed("ftp://127.0.0.1/x"));
    }

    #[test]
    fn a_trickling_registry_costs_at_most_the_total_timeout() {
        let addr = serve(|path| {
            if path == "/v2/" {
                return response("200 OK", "", b"{}");
            }
            let mut pieces = vec![(
                Duration::ZERO,
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec(),
            )];
            pieces.extend((0..100).map(|_| (Duration::from_millis(200), b" ".to_vec())));
            pieces
        });
        let started = std::time::Instant::now();
        let result = manifest_digest_within(
            &format!("{addr}/app:1"),
            &RegistryOptions::default(),
            Duration::from_secs(1),
        );
        let took = started.elapsed();
        assert!(result.is_err(), "{result:?}");
        assert!(took < Duration::from_secs(4), "took {took:?}");
    }

    #[test]
    fn a_hanging_token_exchange_costs_at_most_the_total_timeout() {
        // oci-client's authentication (GET /v2/) has only a per-read timeout of its own.
        let addr = serve(|_| vec![(Duration::from_secs(120), Vec::new())]);
        let started = std::time::Instant::now();
        let result = manifest_digest_within(
            &format!("{addr}/app:1"),
            &RegistryOptions::default(),
            Duration::from_secs(1),
        );
        let took = started.elapsed();
        let message = result.expect_err("no answer").to_string();
        assert!(message.contains("did not answer within 1 s"), "{message}");
        assert!(took < Duration::from_secs(4), "took {took:?}");
    }

    #[test]
    fn a_redirect_to_plain_http_elsewhere_is_refused() {
        let addr = serve(|path| match path {
            "/v2/" => response("200 OK", "", b"{}"),
            _ => response(
                "307 Temporary Redirect",
                "Location: http://registry.invalid/v2/app/manifests/1\r\n",
                b"",
            ),
        });
        let message = manifest_digest_within(
            &format!("{addr}/app:1"),
            &RegistryOptions::default(),
            Duration::from_secs(5),
        )
        .expect_err("refused")
        .to_string();
        assert!(
            message.contains("refused a redirect to http://registry.invalid/"),
            "{message}"
        );
    }

    #[test]
    fn a_manifest_by_digest_is_verified_by_the_store() {
        let addr = serve(|path| match path {
            "/v2/" => response("200 OK", "", b"{}"),
            _ => response("200 OK", "", br#"{"schemaVersion":2}"#),
        });
        let wanted = format!("sha256:{}", "a".repeat(64));
        let mut store = RegistryStore::open(&format!("{addr}/app:1"), &RegistryOptions::default())
            .expect("open");
        match store.manifest(&wanted) {
            Err(ImageError::DigestMismatch { digest, actual, .. }) => {
                assert_eq!(digest, wanted);
                assert_eq!(
                    actual,
                    super::super::digest::sha256(br#"{"schemaVersion":2}"#)
                );
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("127.example.com"));
    }
}
