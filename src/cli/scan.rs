//! `fips-operator scan TARGET…`: files and root filesystem directories.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::output::{self, OutputFormat};
use super::{EXIT_COMPLIANT, EXIT_ERROR, EXIT_NOT_COMPLIANT};
use crate::image::{self, rootfs::Progress, ScanContext, ScanReport};
use crate::inspect::{Day, ModuleRegistry};
use crate::policy::{ImagePolicy, Outcome};

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// ELF files or root filesystem directories to judge.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Output format: a table for people, JSON (always an array, one element per target).
    #[arg(long, short, value_enum, default_value = "table", env = "FIPS_OUTPUT")]
    pub output: OutputFormat,
    /// Fail modules that are only on NIST's modules-in-process list.
    #[arg(long, env = "FIPS_REJECT_IN_PROCESS")]
    pub reject_in_process: bool,
    /// Fail modules whose certificate moved to NIST's historical list.
    #[arg(long, env = "FIPS_REJECT_HISTORICAL")]
    pub reject_historical: bool,
    /// A module registry JSON file to use instead of the built-in one.
    #[arg(long, env = "FIPS_MODULE_REGISTRY", value_name = "FILE")]
    pub module_registry: Option<PathBuf>,
    /// Judge certificate dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, env = "FIPS_AS_OF", value_name = "DAY")]
    pub as_of: Option<String>,
}

pub fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let registry = match &args.module_registry {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading module registry {}", path.display()))?;
            ModuleRegistry::from_json(&text)?
        }
        None => ModuleRegistry::built_in(),
    };
    let today = match &args.as_of {
        Some(d) => Day::parse(d).with_context(|| format!("--as-of {d:?}: expected YYYY-MM-DD"))?,
        None => today(),
    };
    let ctx = ScanContext {
        registry,
        today,
        policy: ImagePolicy {
            accept_in_process: !args.reject_in_process,
            accept_historical: !args.reject_historical,
        },
    };
    let mut reports = Vec::new();
    let mut failed = false;
    let tty = std::io::stderr().is_terminal();
    for target in &args.targets {
        match scan_target(target, &ctx, tty) {
            Ok(r) => reports.push(r),
            Err(e) => {
                failed = true;
                eprintln!("fips-operator: scan {target}: {e:#}");
            }
        }
    }
    output::print_reports(&reports, args.output)?;
    Ok(if failed {
        EXIT_ERROR
    } else if reports.iter().all(|r| r.outcome == Outcome::Compliant) {
        EXIT_COMPLIANT
    } else {
        EXIT_NOT_COMPLIANT
    })
}

fn scan_target(target: &str, ctx: &ScanContext, tty: bool) -> anyhow::Result<ScanReport> {
    let path = Path::new(target);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && looks_like_image(target) => {
            anyhow::bail!(
                "image targets (oci:, docker-archive:, docker://, registry references) are not supported yet; \
                 unpack the image to a directory (umoci unpack, or skopeo copy to dir: and extract the layers) \
                 and scan that directory"
            )
        }
        Err(e) => {
            return Err(e).with_context(|| format!("{target}: no such file or directory; pass an ELF file or a root filesystem directory"))
        }
    };
    if meta.is_dir() {
        let mut progress = |p: Progress| {
            if tty {
                eprint!(
                    "\r\x1b[Kscanning {target}: {} files, {} binaries judged",
                    p.files_seen, p.binaries_judged
                );
            }
        };
        let report = image::scan_dir(path, target, ctx, &mut progress);
        if tty {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
        Ok(report?)
    } else {
        Ok(image::scan_file(path, target, ctx)?)
    }
}

fn looks_like_image(target: &str) -> bool {
    ["oci:", "docker-archive:", "docker://", "oci-archive:"]
        .iter()
        .any(|p| target.starts_with(p))
        || (!target.starts_with('.') && !target.starts_with('/') && target.contains(':')
            || target.contains('@'))
}

fn today() -> Day {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Day::from_unix_days((secs / 86_400) as i64)
}
