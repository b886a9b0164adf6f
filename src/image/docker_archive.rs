//! `docker-archive:FILE`: the tarball `docker save` and `skopeo copy … docker-archive:` write
//! (`manifest.json`, a config, one tar per layer; layers identified by the config's
//! `rootfs.diff_ids`, the digests of the uncompressed layers).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::digest;
use super::regular_file;
use super::source::{
    source_error, Descriptor, ImageError, ImageStore, LayerDigest, MAX_DOCUMENT_BYTES,
};

pub(crate) struct DockerArchive {
    file: PathBuf,
    /// Member name -> (offset of its data, size).
    members: HashMap<String, (u64, u64)>,
    /// Digest -> member name, for the config and the layers.
    by_digest: HashMap<String, String>,
    manifest: Vec<u8>,
}

impl DockerArchive {
    pub fn open(file: PathBuf) -> Result<Self, ImageError> {
        let (members, manifest_json) = list_members(&file).map_err(|e| {
            let why = match e.kind() {
                // tar's errors for what is not a tar file.
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::InvalidData
                | std::io::ErrorKind::Other => {
                    format!("not a docker archive (a tar file from docker save or skopeo copy … docker-archive:): {e}")
                }
                _ => e.to_string(),
            };
            source_error(format!("{}: {why}", file.display()))
        })?;
        let manifest_json = manifest_json.ok_or_else(|| {
            source_error(format!(
                "{}: no manifest.json: not a docker archive (docker save / skopeo docker-archive:)",
                file.display()
            ))
        })?;
        let mut archive = DockerArchive {
            file,
            members,
            by_digest: HashMap::new(),
            manifest: Vec::new(),
        };
        archive.manifest = archive.synthesize(&manifest_json)?;
        Ok(archive)
    }

    fn member(&self, name: &str) -> Result<Box<dyn Read>, ImageError> {
        let &(offset, size) = self.members.get(name).ok_or_else(|| {
            source_error(format!(
                "{}: member {name} named in manifest.json is missing",
                self.file.display()
            ))
        })?;
        let mut f = regular_file::open(&self.file)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f.take(size)))
    }

    /// An OCI-shaped manifest for the first image of the archive.
    fn synthesize(&mut self, manifest_json: &[u8]) -> Result<Vec<u8>, ImageError> {
        let list: Value = serde_json::from_slice(manifest_json)
            .map_err(|e| source_error(format!("manifest.json: {e}")))?;
        let image = list
            .get(0)
            .ok_or_else(|| source_error("manifest.json lists no image"))?;
        let config_name = image["Config"]
            .as_str()
            .ok_or_else(|| source_error("manifest.json: no Config"))?;
        let mut config = Vec::new();
        self.member(config_name)?
            .take(MAX_DOCUMENT_BYTES)
            .read_to_end(&mut config)?;
        let config_digest = digest::sha256(&config);
        let config_json: Value = serde_json::from_slice(&config)
            .map_err(|e| source_error(format!("{config_name}: {e}")))?;
        let diff_ids = config_json["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let layer_names = image["Layers"].as_array().cloned().unwrap_or_default();
        if diff_ids.len() != layer_names.len() {
            return Err(source_error(format!(
                "manifest.json lists {} layers but the config has {} diff_ids",
                layer_names.len(),
                diff_ids.len()
            )));
        }
        self.by_digest
            .insert(config_digest.clone(), config_name.to_string());
        let mut layers = Vec::new();
        for (name, diff_id) in layer_names.iter().zip(&diff_ids) {
            let (name, diff_id) = (
                name.as_str().unwrap_or_default(),
                diff_id.as_str().unwrap_or_default(),
            );
            self.by_digest.insert(diff_id.to_string(), name.to_string());
            layers.push(serde_json::json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "digest": diff_id, "size": -1}));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layers,
        });
        serde_json::to_vec(&manifest).map_err(|e| source_error(e.to_string()))
    }
}

/// The tar's members (name -> offset of its data, size) and its `manifest.json`, if any.
type Members = (HashMap<String, (u64, u64)>, Option<Vec<u8>>);

fn list_members(file: &Path) -> std::io::Result<Members> {
    let mut members = HashMap::new();
    let mut manifest_json = None;
    let mut archive = tar::Archive::new(regular_file::open(file)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let size = entry.header().size()?;
        if name == "manifest.json" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_DOCUMENT_BYTES)
                .read_to_end(&mut bytes)?;
            manifest_json = Some(bytes);
        }
        members.insert(name, (entry.raw_file_position(), size));
    }
    Ok((members, manifest_json))
}

impl ImageStore for DockerArchive {
    fn top(&mut self) -> Result<(Vec<u8>, Option<String>), ImageError> {
        Ok((self.manifest.clone(), None))
    }

    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>, ImageError> {
        Err(source_error(format!(
            "docker archives have no index (asked for {digest})"
        )))
    }

    fn blob(&mut self, desc: &Descriptor) -> Result<Box<dyn Read + '_>, ImageError> {
        let name = self
            .by_digest
            .get(&desc.digest)
            .cloned()
            .ok_or_else(|| source_error(format!("no member for {}", desc.digest)))?;
        self.member(&name)
    }

    fn layer_digest(&self) -> LayerDigest {
        LayerDigest::Uncompressed
    }
}
