//! Rule I7 (docs/verdicts.md): the crypto module packages an image's package database lists (dpkg, apk;
//! an rpm database is noted but not read).

use std::path::Path;

use super::confined;

/// Package names that carry or activate crypto modules.
const MODULE_PACKAGES: &[&str] = &[
    "openssl",
    "libssl",
    "libcrypto",
    "fips",
    "gnutls",
    "libgcrypt",
    "nss",
    "symcrypt",
    "wolfssl",
    "boringssl",
    "aws-lc",
];

fn interesting(name: &str) -> bool {
    MODULE_PACKAGES.iter().any(|p| name.contains(p))
}

/// `name version` of the installed crypto packages, and where they were read from.
pub(crate) fn module_packages(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(status) = confined::read_to_string(root, Path::new("var/lib/dpkg/status")) {
        for stanza in status.split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                    .map(str::trim)
            };
            let installed = field("Status")
                .is_some_and(|s| s.ends_with("installed") && !s.contains("not-installed"));
            if let (true, Some(name), Some(version)) =
                (installed, field("Package"), field("Version"))
            {
                if interesting(name) {
                    out.push(format!("dpkg {name} {version}"));
                }
            }
        }
    }
    if let Some(db) = confined::read_to_string(root, Path::new("lib/apk/db/installed")) {
        for stanza in db.split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(str::trim)
            };
            if let (Some(name), Some(version)) = (field("P:"), field("V:")) {
                if interesting(name) {
                    out.push(format!("apk {name} {version}"));
                }
            }
        }
    }
    for rpmdb in [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
    ] {
        if confined::is_file(root, Path::new(rpmdb)) {
            out.push(format!("rpm database {rpmdb} (not read)"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_and_apk_databases() {
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path();
        std::fs::create_dir_all(r.join("var/lib/dpkg")).expect("mkdir");
        std::fs::write(
            r.join("var/lib/dpkg/status"),
            "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.15-1~deb12u1\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2\n\nPackage: openssl\nStatus: deinstall ok config-files\nVersion: 3.0.1\n",
        )
        .expect("write");
        std::fs::create_dir_all(r.join("lib/apk/db")).expect("mkdir");
        std::fs::write(
            r.join("lib/apk/db/installed"),
            "P:openssl-config-fipshardened\nV:3.4.0-r3\n\nP:busybox\nV:1.36\n",
        )
        .expect("write");
        assert_eq!(
            module_packages(r),
            vec![
                "dpkg libssl3 3.0.15-1~deb12u1",
                "apk openssl-config-fipshardened 3.4.0-r3"
            ]
        );
    }
}
