//! Scanning an image: resolve the platform manifest, check the verdict cache, apply the
//! layers (digests verified while they stream), judge the root filesystem, add image facts.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::cache::VerdictCache;
use super::confined;
use super::digest::DigestReader;
use super::docker_archive::DockerArchive;
use super::layers::{decompress, Limits, Rootfs};
use super::oci_layout::OciLayout;
use super::registry::{RegistryOptions, RegistryStore};
use super::rootfs::{scan_root, Progress, ScanContext};
use super::source::{resolve, ImageError, ImageStore, LayerDigest, Platform, ResolvedImage};
use super::ScanReport;

/// FIPS-related variables of an image's `Env` (rules I7 and P1, docs/verdicts.md).
const FIPS_ENV: &[&str] = &[
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_FORCE_FIPS_MODE",
    "GODEBUG",
    "GOLANG_FIPS",
    "GOFIPS",
];

/// An image scan target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageTarget {
    Registry(String),
    OciLayout { dir: PathBuf, tag: Option<String> },
    DockerArchive(PathBuf),
}

impl ImageTarget {
    /// `oci:DIR[:TAG]`, `docker-archive:FILE`, `docker://REF`; `None` for anything else.
    pub fn parse(target: &str) -> Option<ImageTarget> {
        if let Some(rest) = target.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t.to_string())),
                _ => (rest, None),
            };
            return Some(ImageTarget::OciLayout {
                dir: dir.into(),
                tag,
            });
        }
        if let Some(file) = target.strip_prefix("docker-archive:") {
            return Some(ImageTarget::DockerArchive(file.into()));
        }
        target
            .strip_prefix("docker://")
            .map(|r| ImageTarget::Registry(r.to_string()))
    }
}

/// How images are fetched and unpacked.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub platform: Platform,
    /// The platform was asked for (`--platform`): a single-platform image for another one is
    /// refused instead of scanned. Otherwise `platform` only picks from an index.
    pub require_platform: bool,
    pub registry: RegistryOptions,
    pub limits: Limits,
    /// Verdict cache directory; `None` with `--no-cache`.
    pub cache_dir: Option<PathBuf>,
}

/// Progress of an image scan, for a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageProgress {
    pub layer: usize,
    pub layers: usize,
    pub bytes: u64,
    pub binaries_judged: u64,
}

pub fn scan_image(
    target: &ImageTarget,
    display: &str,
    ctx: &ScanContext,
    opts: &ImageOptions,
    progress: &mut dyn FnMut(ImageProgress),
) -> Result<ScanReport, ImageError> {
    let mut store: Box<dyn ImageStore> = match target {
        ImageTarget::Registry(r) => Box::new(RegistryStore::open(r, &opts.registry)?),
        ImageTarget::OciLayout { dir, tag } => Box::new(OciLayout::open(dir.clone(), tag.clone())?),
        ImageTarget::DockerArchive(f) => Box::new(DockerArchive::open(f.clone())?),
    };
    let image = resolve(store.as_mut(), &opts.platform, opts.require_platform)?;
    let cache = opts.cache_dir.as_deref().map(VerdictCache::new);
    if let Some(hit) = cache.as_ref().and_then(|c| c.load(&image.digest, ctx)) {
        let mut report = hit;
        report.target = display.to_string();
        if let Some(img) = report.image.as_mut() {
            img["index_digest"] = json!(image.index_digest);
            img["cached"] = json!(true);
        }
        return Ok(report);
    }
    let mut rootfs = Rootfs::new(opts.limits)?;
    let layers = image.layers.len();
    for (index, desc) in image.layers.iter().enumerate() {
        progress(ImageProgress {
            layer: index + 1,
            layers,
            bytes: rootfs.stats.uncompressed_bytes,
            binaries_judged: 0,
        });
        let kind = store.layer_digest();
        let blob = store.blob(desc)?;
        let layer_error = |source| ImageError::Layer {
            index,
            digest: desc.digest.clone(),
            source,
        };
        let (actual, size) = match kind {
            LayerDigest::Blob => {
                let mut counted = DigestReader::new(blob);
                let tar = decompress(&mut counted)?;
                rootfs.apply_layer(index, tar).map_err(layer_error)?;
                counted.finish()?
            }
            LayerDigest::Uncompressed => {
                let mut counted = DigestReader::new(decompress(blob)?);
                rootfs
                    .apply_layer(index, &mut counted)
                    .map_err(layer_error)?;
                counted.finish()?
            }
        };
        if actual != desc.digest {
            return Err(ImageError::DigestMismatch {
                what: format!("layer {index}"),
                digest: desc.digest.clone(),
                actual,
            });
        }
        if kind == LayerDigest::Blob && desc.size >= 0 && desc.size as u64 != size {
            return Err(ImageError::SizeMismatch {
                what: format!("layer {index}"),
                digest: desc.digest.clone(),
                expected: desc.size,
                actual: size,
            });
        }
    }
    let env = fips_env(&image.config);
    let openssl_conf = env
        .iter()
        .find_map(|e| e.strip_prefix("OPENSSL_CONF="))
        .map(str::to_string);
    let bytes = rootfs.stats.uncompressed_bytes;
    let mut on_file = |p: Progress| {
        progress(ImageProgress {
            layer: layers,
            layers,
            bytes,
            binaries_judged: p.binaries_judged,
        });
    };
    let scan = scan_root(
        rootfs.path(),
        display,
        ctx,
        &mut on_file,
        openssl_conf.as_deref(),
        false,
    )
    .map_err(|e| ImageError::Source(e.to_string()))?;
    let mut report = scan.report;
    report.image = Some(image_json(&image, rootfs.path(), &env, &scan.openssl));
    if let Some(c) = &cache {
        c.store(&image.digest, &report, &scan.image_reasons);
    }
    Ok(report)
}

fn fips_env(config: &Value) -> Vec<String> {
    config["config"]["Env"]
        .as_array()
        .map(|env| {
            env.iter()
                .filter_map(Value::as_str)
                .filter(|e| {
                    FIPS_ENV
                        .iter()
                        .any(|k| e.split_once('=').is_some_and(|(name, _)| name == *k))
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `PRETTY_NAME` from `etc/os-release` (or `usr/lib/os-release`), else ID and VERSION_ID.
fn os_release(root: &Path) -> Option<String> {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| confined::read_to_string(root, Path::new(p)))?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    field("PRETTY_NAME").or_else(|| {
        Some(format!(
            "{} {}",
            field("ID")?,
            field("VERSION_ID").unwrap_or_default()
        ))
    })
}

fn image_json(
    image: &ResolvedImage,
    root: &Path,
    env: &[String],
    openssl: &super::openssl_provider::OpenSslFacts,
) -> Value {
    let redhat = confined::read_to_string(root, Path::new("etc/redhat-release"))
        .map(|s| s.trim().to_string());
    json!({
        "digest": image.digest,
        "index_digest": image.index_digest,
        "platform": image.platform,
        "os": os_release(root),
        "layers": image.layers.iter().map(|l| json!({"digest": l.digest, "size": l.size, "media_type": l.media_type})).collect::<Vec<_>>(),
        "facts": {
            "openssl_fips_provider": openssl.provider,
            "openssl_config_activates_fips": openssl.config_activates_fips,
            "redhat_release": redhat,
            "module_packages": super::packages::module_packages(root),
            "fips_env": env,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            ImageTarget::parse("oci:/tmp/layout:v1"),
            Some(ImageTarget::OciLayout {
                dir: "/tmp/layout".into(),
                tag: Some("v1".into())
            })
        );
        assert_eq!(
            ImageTarget::parse("oci:layout"),
            Some(ImageTarget::OciLayout {
                dir: "layout".into(),
                tag: None
            })
        );
        assert_eq!(
            ImageTarget::parse("docker-archive:/tmp/a.tar"),
            Some(ImageTarget::DockerArchive("/tmp/a.tar".into()))
        );
        assert_eq!(
            ImageTarget::parse("docker://127.0.0.1:5000/app:1"),
            Some(ImageTarget::Registry("127.0.0.1:5000/app:1".into()))
        );
        assert_eq!(ImageTarget::parse("/usr/bin/ls"), None);
    }
}
