//! Which filesystem a directory is on, so that a walk of `/` stays on one filesystem and never
//! enters a pseudo-filesystem (`/proc`, `/sys`, `/dev`…), whose files are not binaries and
//! some of which never end.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Kernel filesystems that hold no programs: never walked, even with `--cross-filesystems`.
const PSEUDO: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nfsd",
    "nsfs",
    "proc",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tracefs",
];

pub(crate) fn is_pseudo(fstype: &str) -> bool {
    PSEUDO.contains(&fstype)
}

/// Filesystem types by device (`st_dev`), from `/proc/self/mountinfo`.
#[derive(Debug, Default)]
pub(crate) struct MountTable(HashMap<(u64, u64), String>);

impl MountTable {
    /// This process's mounts; empty when `/proc` is not there (types are then unknown).
    pub fn read() -> MountTable {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|text| MountTable::parse(&text))
            .unwrap_or_default()
    }

    /// `mountinfo` lines: `id parent major:minor root mountpoint options … - fstype source …`.
    pub fn parse(text: &str) -> MountTable {
        let mut types = HashMap::new();
        for line in text.lines() {
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let Some((major, minor)) = before
                .split_whitespace()
                .nth(2)
                .and_then(|d| d.split_once(':'))
            else {
                continue;
            };
            let (Ok(major), Ok(minor), Some(fstype)) = (
                major.parse(),
                minor.parse(),
                after.split_whitespace().next(),
            ) else {
                continue;
            };
            types.insert((major, minor), fstype.to_string());
        }
        MountTable(types)
    }

    /// The type of the filesystem of device `dev` (`st_dev`), if it is mounted here.
    pub fn fstype(&self, dev: u64) -> Option<&str> {
        self.0.get(&split_dev(dev)).map(String::as_str)
    }
}

/// Where a walk stops: at pseudo-filesystems always, at other filesystems mounted below the
/// root unless it may cross them.
pub(crate) struct Boundary {
    root_dev: u64,
    cross: bool,
    mounts: MountTable,
}

impl Boundary {
    pub fn new(root: &Path, cross: bool) -> std::io::Result<Boundary> {
        Ok(Boundary {
            root_dev: std::fs::metadata(root)?.dev(),
            cross,
            mounts: MountTable::read(),
        })
    }

    /// Why the walk does not enter the root itself: it is a pseudo-filesystem.
    pub fn stop_at_root(&self) -> Option<String> {
        self.pseudo(self.root_dev)
    }

    /// Why the walk does not enter a directory below the root on device `dev`, if it does not.
    pub fn stop_at(&self, dev: u64) -> Option<String> {
        if dev == self.root_dev {
            return None;
        }
        if let Some(why) = self.pseudo(dev) {
            return Some(why);
        }
        (!self.cross).then(|| {
            format!(
                "another filesystem ({}) is mounted here: not walked (scan --cross-filesystems walks it)",
                self.mounts.fstype(dev).unwrap_or("of unknown type")
            )
        })
    }

    fn pseudo(&self, dev: u64) -> Option<String> {
        let fstype = self.mounts.fstype(dev)?;
        is_pseudo(fstype).then(|| format!("{fstype} pseudo-filesystem: not walked"))
    }
}

/// Linux's encoding of `dev_t` into major and minor numbers (glibc's `gnu_dev_major/minor`).
fn split_dev(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_device() {
        let table = MountTable::parse(
            "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
             24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12335016k\n\
             27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
             28 27 0:25 / /mnt/a\\040b rw shared:1 - tmpfs tmpfs rw\n\
             garbage\n",
        );
        assert_eq!(table.fstype(21), Some("proc"));
        assert_eq!(table.fstype(6), Some("devtmpfs"));
        assert_eq!(table.fstype(254 << 8), Some("ext4"));
        assert_eq!(table.fstype(25), Some("tmpfs"));
        assert_eq!(table.fstype(99), None);
        assert!(is_pseudo("proc") && is_pseudo("cgroup2") && !is_pseudo("tmpfs"));
    }

    #[test]
    fn the_running_system_knows_proc() {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata("/proc/self").expect("/proc").dev();
        assert_eq!(MountTable::read().fstype(dev), Some("proc"));
    }
}
