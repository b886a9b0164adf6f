//! `oci:DIR[:TAG]`: an OCI image layout on disk (`oci-layout`, `index.json`, `blobs/`).

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use super::digest;
use super::regular_file;
use super::source::{source_error, Descriptor, ImageError, ImageStore, MAX_DOCUMENT_BYTES};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub(crate) struct OciLayout {
    dir: PathBuf,
    tag: Option<String>,
}

impl OciLayout {
    pub fn open(dir: PathBuf, tag: Option<String>) -> Result<Self, ImageError> {
        if !dir.join("oci-layout").is_file() {
            return Err(source_error(format!(
                "{}: not an OCI image layout (no oci-layout file); create one with `skopeo copy … oci:{}`",
                dir.display(),
                dir.display()
            )));
        }
        Ok(OciLayout { dir, tag })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let hex = digest::validate(digest).map_err(source_error)?;
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    fn read_document(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let mut bytes = Vec::new();
        regular_file::open(&path)
            .map_err(|e| source_error(format!("{}: blob {digest}: {e}", self.dir.display())))?
            .take(MAX_DOCUMENT_BYTES)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

impl ImageStore for OciLayout {
    fn top(&mut self) -> Result<(Vec<u8>, Option<String>), ImageError> {
        let index: Value =
            serde_json::from_slice(&regular_file::read(&self.dir.join("index.json"))?)
                .map_err(|e| source_error(format!("{}/index.json: {e}", self.dir.display())))?;
        let entries = index["manifests"].as_array().cloned().unwrap_or_default();
        let name = |e: &Value| e["annotations"][REF_NAME].as_str().map(str::to_string);
        let chosen = match &self.tag {
            Some(tag) => entries
                .iter()
                .find(|e| name(e).as_deref() == Some(tag.as_str())),
            None if entries.len() == 1 => entries.first(),
            None => None,
        };
        let Some(entry) = chosen else {
            let tags: Vec<String> = entries.iter().filter_map(name).collect();
            return Err(source_error(format!(
                "{}: {} in index.json; name one as oci:{}:TAG (tags: {})",
                self.dir.display(),
                self.tag
                    .as_deref()
                    .map_or("several images".to_string(), |t| format!(
                        "no image tagged {t:?}"
                    )),
                self.dir.display(),
                if tags.is_empty() {
                    "none".into()
                } else {
                    tags.join(", ")
                }
            )));
        };
        let desc = Descriptor::from_json(entry, "index.json entry")?;
        Ok((self.read_document(&desc.digest)?, Some(desc.digest)))
    }

    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>, ImageError> {
        self.read_document(digest)
    }

    fn blob(&mut self, desc: &Descriptor) -> Result<Box<dyn Read + '_>, ImageError> {
        let path = self.blob_path(&desc.digest)?;
        let file = regular_file::open(&path).map_err(|e| {
            source_error(format!("{}: blob {}: {e}", self.dir.display(), desc.digest))
        })?;
        Ok(Box::new(file))
    }
}
