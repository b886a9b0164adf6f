//! I2: `DT_NEEDED` resolved inside the root, transitively, so that a binary that loads
//! `libcurl.so.4` inherits the crypto library below it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::confined;
use super::mmap::map_file;
use super::rootfs::confine;
use crate::inspect::{
    self, apply_needed, classify_needed, Findings, ModuleRoute, NeededKind, Reader, Unread,
};

/// Deepest dependency chain followed.
const MAX_DEPTH: usize = 16;

/// What a library tells its users.
#[derive(Debug, Clone, Default)]
struct LibraryFacts {
    needed: Vec<String>,
    runpath: Vec<String>,
    /// Its own non-FIPS findings (its DT_NEEDED ones are derived again, with the chain).
    non_fips: Vec<String>,
    /// Why it cannot be judged, if it cannot.
    unknown: Option<Unread>,
    /// Modules linked into it (aws-lc-fips, BoringSSL…): its users go through them too.
    static_routes: Vec<ModuleRoute>,
}

pub(crate) struct LibraryIndex {
    root: PathBuf,
    loader_dirs: Vec<PathBuf>,
    facts: RefCell<HashMap<PathBuf, LibraryFacts>>,
}

impl LibraryIndex {
    pub fn new(root: &Path) -> Self {
        let mut loader_dirs: Vec<PathBuf> = Vec::new();
        for base in [
            "lib",
            "usr/lib",
            "lib64",
            "usr/lib64",
            "usr/local/lib",
            "usr/local/lib64",
        ] {
            loader_dirs.push(base.into());
            if base.ends_with("lib") {
                let (_, names) = confined::list_dir(root, Path::new(base));
                loader_dirs.extend(
                    names
                        .iter()
                        .filter(|n| n.to_string_lossy().contains("-linux-"))
                        .map(|n| Path::new(base).join(n)),
                );
            }
        }
        for dir in ld_so_conf_dirs(root) {
            if !loader_dirs.contains(&dir) {
                loader_dirs.push(dir);
            }
        }
        LibraryIndex {
            root: root.to_path_buf(),
            loader_dirs,
            facts: RefCell::new(HashMap::new()),
        }
    }

    pub fn is_loader_dir(&self, rel_dir: &Path) -> bool {
        self.loader_dirs.iter().any(|d| d == rel_dir)
    }

    /// Finds `soname` for a file at `origin_dir` with the given run paths, then in the loader
    /// directories. Returns the root-relative path of the real file.
    pub fn resolve(&self, soname: &str, runpath: &[String], origin_dir: &Path) -> Option<PathBuf> {
        if soname.contains('/') {
            return self.real_file(&confine(origin_dir, Path::new(soname))?);
        }
        let from_runpath = runpath.iter().flat_map(|r| r.split(':')).filter_map(|dir| {
            let dir = dir.replace("${ORIGIN}", "$ORIGIN");
            match dir.strip_prefix("$ORIGIN") {
                Some(rest) => confine(origin_dir, Path::new(rest.trim_start_matches('/'))),
                None => confine(Path::new(""), Path::new(&dir)),
            }
        });
        let candidates: Vec<PathBuf> = from_runpath
            .chain(self.loader_dirs.iter().cloned())
            .collect();
        candidates
            .iter()
            .find_map(|dir| self.real_file(&dir.join(soname)))
    }

    /// Follows symlinks inside the root to a regular file.
    fn real_file(&self, rel: &Path) -> Option<PathBuf> {
        let real = confined::resolve(&self.root, rel, true)?;
        std::fs::symlink_metadata(self.root.join(&real))
            .ok()?
            .is_file()
            .then_some(real)
    }

    fn facts(&self, rel: &Path) -> LibraryFacts {
        if let Some(f) = self.facts.borrow().get(rel) {
            return f.clone();
        }
        let facts = match map_file(&self.root.join(rel)) {
            Ok(data) => {
                let name = rel
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                let f = inspect::analyze(&data, &name);
                LibraryFacts {
                    non_fips: f
                        .non_fips
                        .into_iter()
                        .filter(|e| !e.starts_with("DT_NEEDED "))
                        .collect(),
                    unknown: f.unknown,
                    static_routes: f
                        .routes
                        .into_iter()
                        .filter(|r| !r.resolved_at_image_level)
                        .collect(),
                    needed: f.needed,
                    runpath: f.runpath,
                }
            }
            Err(e) => LibraryFacts {
                unknown: Some(Unread {
                    reader: Reader::File,
                    reason: format!("cannot read: {e}"),
                }),
                ..LibraryFacts::default()
            },
        };
        self.facts
            .borrow_mut()
            .insert(rel.to_path_buf(), facts.clone());
        facts
    }

    /// Adds to `f` (the findings of the file at `rel`) what its libraries bring, and to
    /// `reasons` every crypto library it needs that the root does not have.
    pub fn inherit(&self, rel: &str, f: &mut Findings, reasons: &mut Vec<String>) {
        let origin = Path::new(rel)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut visited = HashSet::new();
        let direct: Vec<String> = f.needed.clone();
        let runpath = f.runpath.clone();
        for soname in direct {
            self.walk(
                rel,
                &soname,
                &runpath,
                &origin,
                String::new(),
                0,
                &mut visited,
                f,
                reasons,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        rel: &str,
        soname: &str,
        runpath: &[String],
        origin: &Path,
        via: String,
        depth: usize,
        visited: &mut HashSet<PathBuf>,
        f: &mut Findings,
        reasons: &mut Vec<String>,
    ) {
        if depth > 0 {
            apply_needed(soname, &via, f);
        }
        let kind = classify_needed(soname);
        if matches!(kind, NeededKind::Libxcrypt) {
            // Password hashing: evidence only, not judged as a dependency.
            return;
        }
        let is_crypto = !matches!(kind, NeededKind::Other);
        let Some(path) = self.resolve(soname, runpath, origin) else {
            if is_crypto {
                reasons.push(format!(
                    "{rel}: needs {via}{soname}, which is not in the root filesystem (rule I2, docs/verdicts.md)"
                ));
            } else {
                f.warn(format!("DT_NEEDED {via}{soname} not found in the root"));
            }
            return;
        };
        if matches!(kind, NeededKind::OpenSsl) {
            let lib = path.to_string_lossy().into_owned();
            if !f.openssl_libs.contains(&lib) {
                f.openssl_libs.push(lib);
            }
        }
        // Crypto libraries are judged as modules on their own; nothing to inherit below them.
        if is_crypto {
            // libssl needs libcrypto: follow it so the libcrypto a consumer loads is known.
            if soname.starts_with("libssl.so") {
                let facts = self.facts(&path);
                let lib_origin = path.parent().unwrap_or(Path::new("")).to_path_buf();
                for next in facts
                    .needed
                    .iter()
                    .filter(|n| n.starts_with("libcrypto.so"))
                {
                    self.walk(
                        rel,
                        next,
                        &facts.runpath,
                        &lib_origin,
                        format!("{via}{soname} -> "),
                        depth + 1,
                        visited,
                        f,
                        reasons,
                    );
                }
            }
            return;
        }
        if depth >= MAX_DEPTH {
            f.cannot_judge(
                Reader::Dependencies,
                format!("{via}{soname}: library chain deeper than {MAX_DEPTH}, not followed"),
            );
            return;
        }
        if !visited.insert(path.clone()) {
            return;
        }
        let facts = self.facts(&path);
        for finding in &facts.non_fips {
            f.not_fips(format!("{via}{soname}: {finding}"));
        }
        if let Some(unread) = &facts.unknown {
            // The library's own reader is in the reason; the file's is the dependencies'.
            f.cannot_judge(
                Reader::Dependencies,
                format!("{via}{soname} cannot be judged: {}", unread.reason),
            );
        }
        for route in &facts.static_routes {
            f.evidence(format!("{via}{soname} links the {} module", route.name));
            f.route(route.clone());
        }
        let chain = format!("{via}{soname} -> ");
        let lib_origin = path.parent().unwrap_or(Path::new("")).to_path_buf();
        for next in &facts.needed {
            self.walk(
                rel,
                next,
                &facts.runpath,
                &lib_origin,
                chain.clone(),
                depth + 1,
                visited,
                f,
                reasons,
            );
        }
    }
}

/// Directories from `etc/ld.so.conf` and its `include` files, inside the root.
fn ld_so_conf_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut files = vec![PathBuf::from("etc/ld.so.conf")];
    let mut seen = HashSet::new();
    while let Some(file) = files.pop() {
        if !seen.insert(file.clone()) || seen.len() > 64 {
            continue;
        }
        let Some(text) = confined::read_to_string(root, &file) else {
            continue;
        };
        for line in text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
        {
            if let Some(pattern) = line.strip_prefix("include") {
                files.extend(expand_include(root, pattern.trim()));
            } else if !line.is_empty() {
                if let Some(d) = confine(Path::new(""), Path::new(line)) {
                    dirs.push(d);
                }
            }
        }
    }
    dirs
}

/// `include /etc/ld.so.conf.d/*.conf`: files of that directory matching the name pattern.
fn expand_include(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let Some(rel) = confine(Path::new("etc"), Path::new(pattern)) else {
        return Vec::new();
    };
    let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let (real_dir, names) = confined::list_dir(root, dir);
    names
        .iter()
        .filter(|n| inspect::module_registry::glob_match(&name, &n.to_string_lossy()))
        .map(|n| real_dir.join(n))
        .collect()
}
