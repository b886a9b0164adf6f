//! Reading a root filesystem (an unpacked image, or a directory target) without ever leaving
//! it: every symbolic link on the way is resolved lexically inside the root, absolute targets
//! from the root, as a container runtime would. The OS never follows a link of the tree, so a
//! link to `/etc/ssl/openssl.cnf` reads the image's file, not the host's.

use std::path::{Component, Path, PathBuf};

const MAX_LINK_HOPS: usize = 40;

/// The physical root-relative path of `rel`: no component of it is a link (the last one
/// neither, with `follow_last`). `..` that would climb out stops at the root. `None` when
/// links loop or a component is missing.
pub(crate) fn resolve(root: &Path, rel: &Path, follow_last: bool) -> Option<PathBuf> {
    let mut queue: std::collections::VecDeque<std::ffi::OsString> =
        std::collections::VecDeque::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => queue.push_back(p.to_owned()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    let mut cur = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = queue.pop_front() {
        let candidate = cur.join(&part);
        let meta = std::fs::symlink_metadata(root.join(&candidate)).ok()?;
        let last = queue.is_empty();
        if meta.file_type().is_symlink() && (!last || follow_last) {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return None;
            }
            let target = std::fs::read_link(root.join(&candidate)).ok()?;
            restart_at(&join_clamped(&cur, &target), &mut queue);
            cur = PathBuf::new();
        } else {
            cur = candidate;
        }
    }
    Some(cur)
}

/// After a link: resolution restarts from the root with the link's (root-relative) target in
/// front of the components still to walk.
pub(crate) fn restart_at(
    target: &Path,
    queue: &mut std::collections::VecDeque<std::ffi::OsString>,
) {
    let mut rest: std::collections::VecDeque<_> = target
        .components()
        .map(|c| c.as_os_str().to_owned())
        .collect();
    rest.extend(queue.drain(..));
    *queue = rest;
}

/// Joins a link target to the directory holding the link; `..` at the root stays at the root,
/// as the kernel resolves it for a process whose root is this tree.
fn join_clamped(dir: &Path, target: &Path) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = if target.is_absolute() {
        Vec::new()
    } else {
        dir.components().map(|c| c.as_os_str().to_owned()).collect()
    };
    for c in target.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_owned()),
            _ => {}
        }
    }
    parts.iter().collect()
}

/// A regular file's content, read through `resolve` (anything else is not opened).
pub(crate) fn read(root: &Path, rel: &Path) -> Option<Vec<u8>> {
    let real = resolve(root, rel, true)?;
    let path = root.join(real);
    std::fs::symlink_metadata(&path)
        .ok()?
        .is_file()
        .then_some(())?;
    super::regular_file::read(&path).ok()
}

pub(crate) fn read_to_string(root: &Path, rel: &Path) -> Option<String> {
    read(root, rel).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// True when `rel` resolves to a regular file inside the root.
pub(crate) fn is_file(root: &Path, rel: &Path) -> bool {
    resolve(root, rel, true)
        .and_then(|r| std::fs::symlink_metadata(root.join(r)).ok())
        .is_some_and(|m| m.is_file())
}

/// The names in a directory inside the root, sorted; empty when it is not one.
pub(crate) fn list_dir(root: &Path, rel: &Path) -> (PathBuf, Vec<std::ffi::OsString>) {
    let Some(real) = resolve(root, rel, true) else {
        return (rel.to_path_buf(), Vec::new());
    };
    let is_dir = std::fs::symlink_metadata(root.join(&real)).is_ok_and(|m| m.is_dir());
    let mut names: Vec<_> = if is_dir {
        std::fs::read_dir(root.join(&real))
            .map(|it| it.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    names.sort();
    (real, names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_links_resolve_inside_the_root() {
        let host = tempfile::tempdir().expect("tmp");
        std::fs::write(host.path().join("secret"), "host").expect("write");
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path();
        std::fs::create_dir_all(r.join("etc/ssl")).expect("mkdir");
        std::fs::write(r.join("etc/ssl/openssl.cnf"), "image").expect("write");
        std::fs::create_dir_all(r.join("usr/lib/ssl")).expect("mkdir");
        symlink("/etc/ssl/openssl.cnf", r.join("usr/lib/ssl/openssl.cnf")).expect("link");
        symlink(host.path().join("secret"), r.join("escape")).expect("link");
        symlink("../../..", r.join("usr/lib/up")).expect("link");
        assert_eq!(
            read_to_string(r, Path::new("usr/lib/ssl/openssl.cnf")).as_deref(),
            Some("image")
        );
        assert_eq!(
            read(r, Path::new("escape")),
            None,
            "an absolute link to a host path is looked up in the root"
        );
        assert_eq!(
            resolve(r, Path::new("usr/lib/up/x"), true),
            None,
            "climbing out is refused"
        );
        assert!(is_file(r, Path::new("etc/ssl/openssl.cnf")));
    }
}
