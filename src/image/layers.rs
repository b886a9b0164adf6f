//! Applying image layers to a private root filesystem, streamed: gzip, zstd or plain tar,
//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`), links resolved inside the root only. ELF
//! files are kept whole (they are what gets judged); other files up to a small size are kept
//! for the image rules (os-release, openssl.cnf, java.security…), larger ones become
//! one-byte stand-ins. Memory stays bounded by the copy buffer, not the image.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::confined;
use super::rootfs::confine;

/// Non-ELF files up to this size are kept with their content.
const KEEP_CONTENT_BYTES: u64 = 256 << 10;
const MAX_LINK_HOPS: usize = 40;
/// Package databases the image rules read, kept whatever their size.
const KEEP_WHOLE: &[&str] = &["var/lib/dpkg/status", "lib/apk/db/installed"];
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Limits that stop a hostile image. Each is a `scan` flag.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes over all layers (decompression bombs).
    pub max_image_bytes: u64,
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Tar entries over all layers.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_image_bytes: 64 << 30,
            max_file_bytes: 8 << 30,
            max_entries: 2_000_000,
        }
    }
}

/// Why a layer could not be applied. Each stops the image.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("entry {path:?}: {what}")]
    Hostile { path: String, what: String },
    #[error("layer expands past --max-image-bytes ({limit} bytes): a decompression bomb?")]
    TooBig { limit: u64 },
    #[error("entry {path:?} is {size} bytes, over --max-file-bytes ({limit})")]
    FileTooBig { path: String, size: u64, limit: u64 },
    #[error("more than --max-entries ({limit}) files in the image")]
    TooManyEntries { limit: u64 },
    #[error("reading the layer: {0}")]
    Io(#[from] io::Error),
}

fn hostile(path: &Path, what: impl Into<String>) -> LayerError {
    LayerError::Hostile {
        path: path.display().to_string(),
        what: what.into(),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LayerStats {
    pub entries: u64,
    pub uncompressed_bytes: u64,
    pub elf_files: u64,
}

/// A private directory the layers are applied to.
pub(crate) struct Rootfs {
    dir: tempfile::TempDir,
    owner: HashMap<PathBuf, usize>,
    /// Layer that created each symbolic link, by its path in the root.
    link_owner: HashMap<PathBuf, usize>,
    /// The layer being applied.
    layer: usize,
    limits: Limits,
    pub stats: LayerStats,
}

/// Wraps a reader so that the image's uncompressed byte budget is enforced.
struct Budget<'a, R> {
    inner: R,
    used: &'a mut u64,
    limit: u64,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.used += n as u64;
        if *self.used > self.limit {
            return Err(io::Error::other(BOMB));
        }
        Ok(n)
    }
}

const BOMB: &str = "uncompressed size over the limit";

/// Picks the decompressor by magic bytes: gzip, zstd, or a plain tar.
pub(crate) fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 << 10, reader);
    let head = buffered.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
    } else {
        Box::new(buffered)
    })
}

impl Rootfs {
    pub fn new(limits: Limits) -> io::Result<Self> {
        Ok(Rootfs {
            dir: tempfile::Builder::new()
                .prefix("fips-operator-rootfs-")
                .tempdir()?,
            owner: HashMap::new(),
            link_owner: HashMap::new(),
            layer: 0,
            limits,
            stats: LayerStats::default(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Applies one uncompressed tar stream as layer number `layer`.
    pub fn apply_layer(&mut self, layer: usize, tar_stream: impl Read) -> Result<(), LayerError> {
        self.layer = layer;
        let limit = self.limits.max_image_bytes;
        let mut used = self.stats.uncompressed_bytes;
        let result = {
            let budget = Budget {
                inner: tar_stream,
                used: &mut used,
                limit,
            };
            let mut archive = tar::Archive::new(budget);
            self.apply_entries(layer, &mut archive)
        };
        self.stats.uncompressed_bytes = used;
        match result {
            Err(LayerError::Io(e)) if e.to_string().contains(BOMB) => {
                Err(LayerError::TooBig { limit })
            }
            other => other,
        }
    }

    fn apply_entries<R: Read>(
        &mut self,
        layer: usize,
        archive: &mut tar::Archive<R>,
    ) -> Result<(), LayerError> {
        for entry in archive.entries()? {
            let mut entry = entry?;
            self.stats.entries += 1;
            if self.stats.entries > self.limits.max_entries {
                return Err(LayerError::TooManyEntries {
                    limit: self.limits.max_entries,
                });
            }
            let raw = entry.path_bytes().into_owned();
            let Some(rel) = normalize(&raw)? else {
                continue;
            };
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
            if name == OPAQUE {
                self.opaque(&parent, layer)?;
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.contains('/') {
                    return Err(hostile(&rel, "whiteout of no single name"));
                }
                self.remove(&parent.join(hidden), layer)?;
                continue;
            }
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Directory => {
                    let dir = self.resolve(&rel, true)?;
                    let real_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
                    if !real_dir {
                        remove_any(&dir)?;
                        std::fs::create_dir(&dir)?;
                    }
                    set_mode(&dir, entry.header().mode().unwrap_or(0o755) | 0o700)?;
                }
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => self.write_file(&rel, &mut entry)?,
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| PathBuf::from(String::from_utf8_lossy(&t).into_owned()))
                        .ok_or_else(|| hostile(&rel, "symlink without a target"))?;
                    if confine(&parent, &target).is_none() {
                        return Err(hostile(
                            &rel,
                            format!("symlink to {} leaves the image root", target.display()),
                        ));
                    }
                    let at = self.resolve(&rel, true)?;
                    remove_any(&at)?;
                    std::os::unix::fs::symlink(&target, &at)?;
                    if let Ok(physical) = at.strip_prefix(self.dir.path()) {
                        self.link_owner.insert(physical.to_path_buf(), layer);
                    }
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| hostile(&rel, "hardlink without a target"))?
                        .into_owned();
                    let target =
                        normalize(&target)?.ok_or_else(|| hostile(&rel, "hardlink to the root"))?;
                    let source = match self.resolve(&target, false) {
                        Err(LayerError::Io(_)) => PathBuf::new(),
                        other => other?,
                    };
                    // symlink_metadata: a link named as the target is not followed to the host.
                    if !std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
                        return Err(hostile(
                            &rel,
                            format!(
                                "hardlink to {}, which is not a file in the image",
                                target.display()
                            ),
                        ));
                    }
                    let at = self.resolve(&rel, true)?;
                    remove_any(&at)?;
                    std::fs::hard_link(&source, &at)
                        .or_else(|_| std::fs::copy(&source, &at).map(|_| ()))?;
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    return Err(hostile(&rel, "device node or fifo in a layer"));
                }
                tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink => continue,
                other => {
                    return Err(hostile(
                        &rel,
                        format!("unsupported tar entry type {:?}", other.as_byte() as char),
                    ));
                }
            }
            self.owner.insert(rel, layer);
        }
        Ok(())
    }

    fn write_file(
        &mut self,
        rel: &Path,
        entry: &mut tar::Entry<'_, impl Read>,
    ) -> Result<(), LayerError> {
        let size = entry.header().size()?;
        if size > self.limits.max_file_bytes {
            return Err(LayerError::FileTooBig {
                path: rel.display().to_string(),
                size,
                limit: self.limits.max_file_bytes,
            });
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let mut head = [0u8; 4];
        let mut got = 0;
        while got < head.len() {
            match entry.read(&mut head[got..])? {
                0 => break,
                n => got += n,
            }
        }
        let is_elf = got == 4 && head == *b"\x7fELF";
        // Java archives are kept whole too: the Java rule lists the jars packed inside them.
        let name = rel.to_string_lossy();
        let keep = is_elf
            || [".jar", ".war", ".ear"].iter().any(|e| name.ends_with(e))
            || KEEP_WHOLE.iter().any(|p| name == *p);
        let at = self.resolve(rel, true)?;
        remove_any(&at)?;
        let mut out = std::fs::File::create(&at)?;
        if keep || size <= KEEP_CONTENT_BYTES {
            out.write_all(&head[..got])?;
            io::copy(entry, &mut out)?;
            self.stats.elf_files += u64::from(is_elf);
        } else {
            // A large non-ELF file: its content decides nothing; keep a stand-in.
            out.write_all(b"\0")?;
            io::copy(entry, &mut io::sink())?;
        }
        drop(out);
        set_mode(&at, (mode & 0o777) | 0o600)?;
        Ok(())
    }

    /// The host path for `rel`, with every parent directory resolved inside the root
    /// (symlinks followed lexically, never through the host). With `create`, missing parent
    /// directories are made, and a file in the way of a directory is replaced.
    fn resolve(&self, rel: &Path, create: bool) -> Result<PathBuf, LayerError> {
        let root = self.dir.path();
        let mut hops = 0;
        let mut cur = PathBuf::new();
        let mut queue = std::collections::VecDeque::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => queue.push_back(p.to_owned()),
                _ => return Err(hostile(rel, "path component that is not a plain name")),
            }
        }
        while let Some(part) = queue.pop_front() {
            let last = queue.is_empty();
            let candidate = cur.join(&part);
            if last {
                cur = candidate;
                break;
            }
            let host = root.join(&candidate);
            match std::fs::symlink_metadata(&host) {
                Ok(m)
                    if m.file_type().is_symlink()
                        && create
                        && self
                            .link_owner
                            .get(&candidate)
                            .is_some_and(|&l| l < self.layer) =>
                {
                    // Overlay semantics: a directory of an upper layer replaces a link that a
                    // lower layer put there; it is never written through.
                    std::fs::remove_file(&host)?;
                    std::fs::create_dir(&host)?;
                    cur = candidate;
                }
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(hostile(rel, "too many levels of symbolic links"));
                    }
                    let target = std::fs::read_link(&host)?;
                    let joined = confine(&cur, &target).ok_or_else(|| {
                        hostile(
                            rel,
                            format!("a parent links to {} outside the root", target.display()),
                        )
                    })?;
                    confined::restart_at(&joined, &mut queue);
                    cur = PathBuf::new();
                }
                Ok(m) if m.is_dir() => cur = candidate,
                Ok(_) if create => {
                    std::fs::remove_file(&host)?;
                    std::fs::create_dir(&host)?;
                    cur = candidate;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    std::fs::create_dir(&host)?;
                    cur = candidate;
                }
                Ok(_) => return Err(hostile(rel, "a parent is not a directory")),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(root.join(cur))
    }

    /// `.wh.NAME`: hide what lower layers put at `rel`.
    fn remove(&mut self, rel: &Path, layer: usize) -> Result<(), LayerError> {
        if self.owner.get(rel).is_some_and(|&l| l == layer) {
            return Ok(());
        }
        let at = self.resolve(rel, true).or_else(|e| match e {
            LayerError::Io(ref io) if io.kind() == io::ErrorKind::NotFound => Ok(PathBuf::new()),
            other => Err(other),
        })?;
        if !at.as_os_str().is_empty() {
            remove_any(&at)?;
        }
        self.owner.retain(|p, _| !p.starts_with(rel));
        Ok(())
    }

    /// `.wh..wh..opq`: hide everything lower layers put under `dir`.
    fn opaque(&mut self, dir: &Path, layer: usize) -> Result<(), LayerError> {
        let host = self.resolve(&dir.join("x"), true)?;
        let host_dir = host.parent().unwrap_or(self.dir.path()).to_path_buf();
        let Ok(children) = std::fs::read_dir(&host_dir) else {
            return Ok(());
        };
        for child in children.flatten() {
            let rel = dir.join(child.file_name());
            if self.owner.get(&rel) != Some(&layer) {
                remove_any(&child.path())?;
                self.owner.retain(|p, _| !p.starts_with(&rel));
            }
        }
        Ok(())
    }
}

/// Removes a file, link or directory tree; missing is fine. Never follows a link.
fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// A tar entry name as a path inside the root: `./` and trailing `/` dropped; absolute
/// names and `..` that climbs out are hostile. `None` for the root itself.
fn normalize(raw: &[u8]) -> Result<Option<PathBuf>, LayerError> {
    let text = String::from_utf8_lossy(raw);
    let path = Path::new(text.as_ref());
    if path.is_absolute() {
        return Err(hostile(path, "absolute entry name"));
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                if !out.pop() {
                    return Err(hostile(
                        path,
                        "entry name climbs out of the image root with ..",
                    ));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(hostile(path, "absolute entry name"))
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

#[cfg(test)]
mod tests;
