//! Node facts (rules H1–H3 and P1–P3 of docs/verdicts.md): the host's FIPS state (H1–H3)
//! and the runtime evidence of its processes (P1–P3), all read under an injectable root so
//! that tests can use fixture trees. Missing files are facts ("not present"), not errors.

pub mod cgroup;
pub mod process;
pub mod tls;

use std::path::Path;

use serde::Serialize;

use crate::image::regular_file;
use crate::image::rootfs::{judge_program, ScanContext};
use crate::inspect::Verdict;

/// H1–H3 and what else an auditor asks about a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// H1: `/proc/sys/crypto/fips_enabled` is 1; `None` when the file is not there (a kernel
    /// built without it, or not Linux).
    pub kernel_fips_enabled: Option<bool>,
    /// H2: `fips=1` on the kernel command line; `None` when `/proc/cmdline` is not readable.
    pub cmdline_fips: Option<bool>,
    /// H3: `/etc/crypto-policies/state/current`, where the distribution has crypto-policies.
    pub crypto_policy: Option<String>,
    /// The host's OpenSSL FIPS provider (`path (OpenSSL FIPS Provider version)`), if any.
    pub openssl_fips_provider: Option<String>,
    /// `PRETTY_NAME` of os-release.
    pub os: Option<String>,
}

fn read_trimmed(root: &Path, rel: &str) -> Option<String> {
    regular_file::read_to_string(&root.join(rel))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `fips=1` as a word of the command line (the last `fips=` wins, as in the kernel).
pub fn cmdline_fips(cmdline: &str) -> bool {
    cmdline
        .split_ascii_whitespace()
        .filter_map(|w| w.strip_prefix("fips="))
        .next_back()
        == Some("1")
}

/// Reads the host facts under `root` (`/` on the host, `/host` in the probe).
pub fn host_facts(root: &Path, ctx: &ScanContext) -> HostFacts {
    let kernel_fips_enabled = read_trimmed(root, "proc/sys/crypto/fips_enabled").map(|v| v == "1");
    let cmdline_fips = read_trimmed(root, "proc/cmdline").map(|c| cmdline_fips(&c));
    let crypto_policy = read_trimmed(root, "etc/crypto-policies/state/current");
    let os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| regular_file::read_to_string(&root.join(p)).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim().trim_matches('"').to_string())
        });
    HostFacts {
        kernel_fips_enabled,
        cmdline_fips,
        crypto_policy,
        openssl_fips_provider: openssl_provider(root, ctx),
        os,
    }
}

/// The FIPS provider OpenSSL 3 on the host would load, judged like an image's.
fn openssl_provider(root: &Path, ctx: &ScanContext) -> Option<String> {
    for dir in crate::image::rootfs::MODULE_DIRS {
        let rel = format!("{dir}/fips.so");
        let Ok(data) = regular_file::read(&root.join(&rel)) else {
            continue;
        };
        let (v, _) = judge_program(root, &rel, &data, ctx, None, &[]);
        let version = v
            .module
            .as_ref()
            .and_then(|m| m.version.clone())
            .unwrap_or_else(|| "unknown version".into());
        let judged = if v.verdict == Verdict::FipsCapable {
            String::new()
        } else {
            format!(", {}", v.verdict.as_str())
        };
        return Some(format!("/{rel} (OpenSSL FIPS Provider {version}{judged})"));
    }
    None
}

/// Why the host itself (not its processes) is not in FIPS mode; empty when it is. H1 and H2
/// must hold, and H3 where the distribution has crypto-policies.
pub fn host_reasons(h: &HostFacts) -> Vec<String> {
    let mut out = Vec::new();
    match h.kernel_fips_enabled {
        Some(true) => {}
        Some(false) => {
            out.push("kernel not in FIPS mode: /proc/sys/crypto/fips_enabled is 0 (rule H1, docs/verdicts.md)".into())
        }
        None => out.push(
            "kernel FIPS flag not present: /proc/sys/crypto/fips_enabled is missing (rule H1, docs/verdicts.md)".into(),
        ),
    }
    if h.cmdline_fips != Some(true) {
        out.push("fips=1 is not on the kernel command line (rule H2, docs/verdicts.md)".into());
    }
    if let Some(p) = &h.crypto_policy {
        if p != "FIPS" && !p.starts_with("FIPS:") {
            out.push(format!(
                "crypto policy is {p}, not FIPS (rule H3, docs/verdicts.md)"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
