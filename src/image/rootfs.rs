//! Scanning a root filesystem on disk (a directory) or a single file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::dependencies::LibraryIndex;
use super::java_runtime;
use super::mmap::map_file;
use super::mounts::Boundary;
use super::openssl_provider::{self, OpenSslFacts};
use super::regular_file;
use super::report::{ScanReport, Skipped};
use crate::inspect::{self, BinaryVerdict, Day, ModuleRegistry};
use crate::policy::{self, ImagePolicy};

/// What every scan needs: the registry, the day, and the policy.
#[derive(Debug, Clone)]
pub struct ScanContext {
    pub registry: ModuleRegistry,
    pub today: Day,
    pub policy: ImagePolicy,
}

/// Scan errors that stop a whole target.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Progress of a long scan, for a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub files_seen: u64,
    pub binaries_judged: u64,
}

/// Judges one file on its own: its libraries are resolved on this host (as the loader would
/// when it runs here), and dynamic routes keep validation `unknown`: only an image or root
/// filesystem scan settles them.
pub fn scan_file(path: &Path, display: &str, ctx: &ScanContext) -> Result<ScanReport, ScanError> {
    let skip = |reason: String| {
        let skipped = vec![Skipped {
            path: display.to_string(),
            reason,
        }];
        Ok(report(display, ctx, Vec::new(), skipped, &[]))
    };
    let data = match map_file(path) {
        Ok(data) => data,
        Err(e) => match regular_file::not_regular(&e) {
            Some(not_regular) => return skip(not_regular.to_string()),
            None => {
                return Err(ScanError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
            }
        },
    };
    if data.is_empty() {
        return skip("empty file".into());
    }
    if !inspect::is_elf(&data) {
        return skip("not ELF".into());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let mut findings = inspect::analyze(&data, &name);
    let mut host_reasons = Vec::new();
    if let Ok(abs) = std::fs::canonicalize(path) {
        let host = Path::new("/");
        LibraryIndex::new(host).inherit(&relative(host, &abs), &mut findings, &mut host_reasons);
    }
    let binaries = vec![inspect::judge(display, &findings, &ctx.registry, ctx.today)];
    Ok(report(display, ctx, binaries, Vec::new(), &host_reasons))
}

/// Where OpenSSL 3 looks for `fips.so` (`MODULESDIR`) per distro family.
pub(crate) const MODULE_DIRS: &[&str] = &[
    "usr/lib64/ossl-modules",
    "usr/lib/x86_64-linux-gnu/ossl-modules",
    "usr/lib/aarch64-linux-gnu/ossl-modules",
    "usr/lib/ossl-modules",
    "usr/local/lib64/ossl-modules",
    "usr/local/lib/ossl-modules",
];

/// `root/rel` with every link on the way resolved inside `root` (never on the host).
pub fn resolve_in_root(root: &Path, rel: &str) -> Option<PathBuf> {
    super::confined::resolve(root, Path::new(rel), true).map(|p| root.join(p))
}

/// Judges one program as it runs inside `root` (a process's `/proc/<pid>/root`, or `/`):
/// `data` is its bytes (read through `/proc/<pid>/exe` when the file is gone), `rel` its path
/// inside the root. Its libraries are resolved in that root, and its OpenSSL routes are
/// settled like an image's (I3/I4) against the providers found in the root's module
/// directories and `extra_providers` (root-relative paths, e.g. a `fips.so` the process has
/// mapped). Returns the verdict and the tree-level reasons.
pub fn judge_program(
    root: &Path,
    rel: &str,
    data: &[u8],
    ctx: &ScanContext,
    openssl_conf: Option<&str>,
    extra_providers: &[String],
) -> (BinaryVerdict, Vec<String>) {
    let libs = LibraryIndex::new(root);
    let mut reasons = Vec::new();
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut findings = inspect::analyze(data, &name);
    libs.inherit(rel, &mut findings, &mut reasons);
    let mut binaries = vec![inspect::judge(rel, &findings, &ctx.registry, ctx.today)];
    let mut providers: Vec<String> = MODULE_DIRS
        .iter()
        .map(|d| format!("{d}/fips.so"))
        .chain(extra_providers.iter().cloned())
        .collect();
    providers.sort();
    providers.dedup();
    for p in providers {
        if p == rel {
            continue;
        }
        let Some(bytes) = super::confined::read(root, Path::new(&p)) else {
            continue;
        };
        let f = inspect::analyze(&bytes, "fips.so");
        binaries.push(inspect::judge(&p, &f, &ctx.registry, ctx.today));
    }
    openssl_provider::apply(root, &libs, &mut binaries, openssl_conf);
    (binaries.swap_remove(0), reasons)
}

/// The target's report: its outcome from the judged binaries and the tree-level reasons.
fn report(
    display: &str,
    ctx: &ScanContext,
    binaries: Vec<BinaryVerdict>,
    skipped: Vec<Skipped>,
    reasons: &[String],
) -> ScanReport {
    let o = policy::target_outcome(&binaries, reasons, ctx.policy, true);
    ScanReport {
        target: display.to_string(),
        outcome: o.outcome,
        reasons: o.reasons,
        image: None,
        binaries,
        skipped,
    }
}

/// Walks a root filesystem without leaving it, judges every selected ELF file, resolves
/// `DT_NEEDED` inside the root (I2) and applies the OpenSSL provider
/// rules (I3, I4). The walk stays on the root's filesystem unless `cross_filesystems`, and
/// never enters a pseudo-filesystem (`/proc`, `/sys`, `/dev`…).
pub fn scan_dir(
    root: &Path,
    display: &str,
    ctx: &ScanContext,
    progress: &mut dyn FnMut(Progress),
    cross_filesystems: bool,
) -> Result<ScanReport, ScanError> {
    Ok(scan_root(root, display, ctx, progress, None, !cross_filesystems)?.report)
}

/// A running container's root (`/proc/<pid>/root`): like `scan_dir`, but the walk stays on
/// the root's own filesystem, so the container's `/proc`, `/sys`, `/dev` and mounted volumes
/// are not walked (binaries inside volumes are not part of the image).
pub fn scan_running_root(
    root: &Path,
    display: &str,
    ctx: &ScanContext,
) -> Result<ScanReport, ScanError> {
    Ok(scan_root(root, display, ctx, &mut |_| {}, None, true)?.report)
}

/// A root filesystem's scan with what the image-level rules found.
pub(crate) struct RootScan {
    pub report: ScanReport,
    pub image_reasons: Vec<String>,
    pub openssl: OpenSslFacts,
}

/// `scan_dir`, for an image too: `openssl_conf` is the image's `OPENSSL_CONF`.
pub(crate) fn scan_root(
    root: &Path,
    display: &str,
    ctx: &ScanContext,
    progress: &mut dyn FnMut(Progress),
    openssl_conf: Option<&str>,
    same_fs: bool,
) -> Result<RootScan, ScanError> {
    let io = |source: std::io::Error| ScanError::Io {
        path: root.display().to_string(),
        source,
    };
    std::fs::read_dir(root).map_err(io)?;
    let boundary = Boundary::new(root, !same_fs).map_err(io)?;
    let libs = LibraryIndex::new(root);
    let mut jars = java_runtime::Jars::default();
    let mut binaries: Vec<BinaryVerdict> = Vec::new();
    let mut skipped = Vec::new();
    let mut image_reasons = Vec::new();
    let mut state = Progress::default();
    // A root that is itself a link (a container's `/proc/<pid>/root`) is entered (walkdir
    // follows root links); links below it are never followed.
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(|p| relative(root, p)).unwrap_or_default();
                skipped.push(Skipped {
                    path,
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if entry.file_type().is_dir() {
            let stop = if entry.depth() == 0 {
                boundary.stop_at_root()
            } else {
                entry
                    .metadata()
                    .ok()
                    .and_then(|m| boundary.stop_at(m.dev()))
            };
            if let Some(reason) = stop {
                let path = relative(root, entry.path());
                skipped.push(Skipped {
                    path: if path.is_empty() { ".".into() } else { path },
                    reason,
                });
                walker.skip_current_dir();
            }
            continue;
        }
        let rel = relative(root, entry.path());
        let ft = entry.file_type();
        state.files_seen += 1;
        if ft.is_symlink() {
            skipped.push(Skipped {
                reason: symlink_reason(root, entry.path()),
                path: rel,
            });
            continue;
        }
        if !ft.is_file() {
            skipped.push(Skipped {
                path: rel,
                reason: regular_file::NotRegular {
                    kind: regular_file::kind(ft),
                }
                .to_string(),
            });
            continue;
        }
        let data = match map_file(entry.path()) {
            Ok(d) => d,
            Err(e) => {
                skipped.push(Skipped {
                    path: rel,
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        jars.note(root, &rel);
        let executable = entry
            .metadata()
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        let name = entry.file_name().to_string_lossy();
        let in_loader_dir = libs.is_loader_dir(Path::new(&rel).parent().unwrap_or(Path::new("")));
        if let Some(reason) = skip_reason(&data, executable, &name, in_loader_dir) {
            skipped.push(Skipped {
                path: rel,
                reason: reason.into(),
            });
            continue;
        }
        let mut findings = inspect::analyze(&data, &name);
        drop(data);
        libs.inherit(&rel, &mut findings, &mut image_reasons);
        binaries.push(inspect::judge(&rel, &findings, &ctx.registry, ctx.today));
        state.binaries_judged += 1;
        progress(state);
    }
    let openssl = openssl_provider::apply(root, &libs, &mut binaries, openssl_conf);
    java_runtime::apply(root, &jars, &ctx.registry, ctx.today, &mut binaries);
    Ok(RootScan {
        report: report(display, ctx, binaries, skipped, &image_reasons),
        image_reasons,
        openssl,
    })
}

/// Why a regular file is not judged, or `None` when it is. Files with
/// an execute bit, every shared object outside the loader directories and crypto libraries
/// are judged. An empty file is not a binary, whatever its mode (Docker's `/.dockerenv`).
fn skip_reason(
    data: &[u8],
    executable: bool,
    name: &str,
    in_loader_dir: bool,
) -> Option<&'static str> {
    if data.is_empty() {
        return Some("empty file");
    }
    if !inspect::is_elf(data) {
        return Some("not ELF");
    }
    let selected = executable
        || (is_shared_object_name(name) && !in_loader_dir)
        || inspect::classify_module_name(name);
    match (selected, in_loader_dir) {
        (true, _) => None,
        (false, true) => Some(
            "shared library in a loader directory: resolved as a dependency of the binaries that need it",
        ),
        (false, false) => Some("ELF without an execute bit and not a shared library"),
    }
}

fn is_shared_object_name(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
}

/// `root/usr/bin/x` -> `usr/bin/x`.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn symlink_reason(root: &Path, link: &Path) -> String {
    let Ok(target) = std::fs::read_link(link) else {
        return "symlink (unreadable)".into();
    };
    let rel_dir = link
        .parent()
        .and_then(|p| p.strip_prefix(root).ok())
        .unwrap_or(Path::new(""));
    match confine(rel_dir, &target) {
        Some(_) => format!(
            "symlink to {} (its target is scanned on its own)",
            target.display()
        ),
        None => format!(
            "symlink to {} leaves the root: not followed",
            target.display()
        ),
    }
}

/// Joins a link target to the directory holding the link, lexically, inside the root.
/// Absolute targets are taken from the root (as a container runtime would). `None` when
/// `..` climbs above the root.
pub(crate) fn confine(rel_dir: &Path, target: &Path) -> Option<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = if target.is_absolute() {
        Vec::new()
    } else {
        rel_dir
            .components()
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    for c in target.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p.to_owned()),
        }
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confine_keeps_paths_inside() {
        assert_eq!(
            confine(Path::new("usr/lib"), Path::new("libx.so.1")),
            Some("usr/lib/libx.so.1".into())
        );
        assert_eq!(
            confine(Path::new("usr/bin"), Path::new("../lib/x")),
            Some("usr/lib/x".into())
        );
        assert_eq!(
            confine(Path::new("usr/bin"), Path::new("/etc/passwd")),
            Some("etc/passwd".into())
        );
        assert_eq!(
            confine(Path::new("usr"), Path::new("../../etc/passwd")),
            None
        );
    }
}
