//! Where an image comes from (a registry, an OCI layout, a docker archive) and how its
//! platform manifest is found: indexes resolved by platform, every document checked against
//! its digest.

use std::io::Read;

use serde_json::Value;

use super::digest;

/// Largest manifest, index or config accepted.
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 8 << 20;

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Source(String),
    #[error("{what} {digest}: content does not match its digest (got {actual})")]
    DigestMismatch {
        what: String,
        digest: String,
        actual: String,
    },
    #[error("{what} {digest}: descriptor says {expected} bytes, the blob has {actual}")]
    SizeMismatch {
        what: String,
        digest: String,
        expected: i64,
        actual: u64,
    },
    #[error("platform {wanted} is not in the image index; it has {available}: pass --platform")]
    PlatformMissing { wanted: String, available: String },
    #[error(
        "platform {wanted} is not in the image: it is a single-platform image for {has}; \
         pass --platform {has}, or drop --platform"
    )]
    PlatformMismatch { wanted: String, has: String },
    #[error("layer {index} ({digest}): {source}")]
    Layer {
        index: usize,
        digest: String,
        #[source]
        source: super::layers::LayerError,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub(crate) fn source_error(msg: impl Into<String>) -> ImageError {
    ImageError::Source(msg.into())
}

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "--platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"
            )),
        }
    }

    /// Linux and this machine's architecture, in Go's names.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    fn matches(&self, p: &Value) -> bool {
        p["os"] == self.os.as_str()
            && p["architecture"] == self.architecture.as_str()
            && self.variant.as_deref().is_none_or(|v| p["variant"] == v)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

impl Descriptor {
    pub(crate) fn from_json(v: &Value, what: &str) -> Result<Descriptor, ImageError> {
        let digest = v["digest"]
            .as_str()
            .ok_or_else(|| source_error(format!("{what} descriptor has no digest")))?;
        digest::validate(digest).map_err(|e| source_error(format!("{what}: {e}")))?;
        Ok(Descriptor {
            media_type: v["mediaType"].as_str().unwrap_or_default().to_string(),
            digest: digest.to_string(),
            size: v["size"].as_i64().unwrap_or(-1),
        })
    }
}

/// How a layer's digest is computed: over the blob as stored (OCI, registries) or over the
/// uncompressed tar (docker archives, whose config lists `diff_ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerDigest {
    Blob,
    Uncompressed,
}

/// Where blobs and manifests are read from.
pub(crate) trait ImageStore {
    /// The document the target names (manifest or index) and its digest, when it has one.
    fn top(&mut self) -> Result<(Vec<u8>, Option<String>), ImageError>;
    /// A manifest or index by digest.
    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>, ImageError>;
    /// A blob as a stream.
    fn blob(&mut self, desc: &Descriptor) -> Result<Box<dyn Read + '_>, ImageError>;
    fn layer_digest(&self) -> LayerDigest {
        LayerDigest::Blob
    }
}

/// The platform manifest an image target resolves to.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub digest: String,
    pub index_digest: Option<String>,
    pub platform: String,
    pub layers: Vec<Descriptor>,
    pub config: Value,
}

fn verify_document(bytes: &[u8], expected: &str, what: &str) -> Result<(), ImageError> {
    let actual = digest::sha256(bytes);
    if actual != expected {
        return Err(ImageError::DigestMismatch {
            what: what.into(),
            digest: expected.into(),
            actual,
        });
    }
    Ok(())
}

fn parse_json(bytes: &[u8], what: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| source_error(format!("{what} is not valid JSON: {e}")))
}

fn is_index(doc: &Value) -> bool {
    doc["mediaType"]
        .as_str()
        .is_some_and(|m| INDEX_TYPES.contains(&m))
        || (doc["manifests"].is_array() && doc["layers"].is_null())
}

/// Follows the target to one platform manifest and reads its config. `platform` picks from an
/// index; with `require_platform`, a single-platform image must be for it too.
pub(crate) fn resolve(
    store: &mut dyn ImageStore,
    platform: &Platform,
    require_platform: bool,
) -> Result<ResolvedImage, ImageError> {
    let (bytes, mut digest) = store.top()?;
    if let Some(d) = &digest {
        verify_document(&bytes, d, "manifest")?;
    }
    let mut doc = parse_json(&bytes, "manifest")?;
    let mut index_digest = None;
    let mut chosen_platform = None;
    for _ in 0..4 {
        if !is_index(&doc) {
            break;
        }
        index_digest = digest.clone().or(index_digest);
        let entries = doc["manifests"].as_array().cloned().unwrap_or_default();
        let entry = entries
            .iter()
            .find(|e| platform.matches(&e["platform"]))
            .ok_or_else(|| ImageError::PlatformMissing {
                wanted: platform.to_string(),
                available: available_platforms(&entries),
            })?;
        let desc = Descriptor::from_json(entry, "index entry")?;
        let bytes = store.manifest(&desc.digest)?;
        verify_document(&bytes, &desc.digest, "manifest")?;
        chosen_platform = Some(platform.to_string());
        doc = parse_json(&bytes, "manifest")?;
        digest = Some(desc.digest);
    }
    if doc["schemaVersion"].as_i64() == Some(1) {
        return Err(source_error("Docker schema 1 manifests are not supported: push the image again with a current client"));
    }
    let config_desc = Descriptor::from_json(&doc["config"], "config")?;
    let layers = doc["layers"]
        .as_array()
        .ok_or_else(|| source_error("manifest has no layers list"))?
        .iter()
        .map(|l| Descriptor::from_json(l, "layer"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut config_bytes = Vec::new();
    store
        .blob(&config_desc)?
        .take(MAX_DOCUMENT_BYTES)
        .read_to_end(&mut config_bytes)?;
    verify_document(&config_bytes, &config_desc.digest, "config")?;
    let config = parse_json(&config_bytes, "config")?;
    let digest = digest.unwrap_or_else(|| config_desc.digest.clone());
    let platform = match chosen_platform {
        Some(p) => p,
        None => {
            if require_platform && !platform.matches(&config) {
                return Err(ImageError::PlatformMismatch {
                    wanted: platform.to_string(),
                    has: config_platform(&config),
                });
            }
            let os = config["os"].as_str().unwrap_or("linux");
            let arch = config["architecture"].as_str().unwrap_or("unknown");
            format!("{os}/{arch}")
        }
    };
    Ok(ResolvedImage {
        digest,
        index_digest,
        platform,
        layers,
        config,
    })
}

/// `os/arch[/variant]` of an index entry's `platform`, or of an image config.
fn config_platform(p: &Value) -> String {
    let mut s = format!(
        "{}/{}",
        p["os"].as_str().unwrap_or("?"),
        p["architecture"].as_str().unwrap_or("?")
    );
    if let Some(v) = p["variant"].as_str() {
        s.push('/');
        s.push_str(v);
    }
    s
}

fn available_platforms(entries: &[Value]) -> String {
    let list: Vec<String> = entries
        .iter()
        .map(|e| config_platform(&e["platform"]))
        .collect();
    if list.is_empty() {
        "no platforms".into()
    } else {
        list.join(", ")
    }
}
