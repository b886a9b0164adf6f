//! The local verdict cache: one file per platform manifest digest and scanner version, the
//! same key a FipsImageReport uses. Module validation is never trusted from the cache: it is
//! derived again from the module registry, on the day and with the policy of the read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::ScanReport;
use super::rootfs::ScanContext;
use crate::inspect::verdict::{registry_module, validation_warning, VALIDATION_WARNING_PREFIX};
use crate::inspect::{Validation, Verdict};
use crate::policy;

/// Bumped with every release: a new scanner version rescans.
pub const SCANNER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Appended to the scanner version of a verdict the node probe drew from a running
/// container's root rather than from the image in its registry.
pub const RUNNING_CONTAINER_MARK: &str = "+running-container";

#[derive(Serialize, Deserialize)]
struct Entry {
    report: ScanReport,
    binary_reasons: Vec<Option<String>>,
    binary_pending: Vec<Vec<String>>,
    binary_other_modules: Vec<Vec<crate::inspect::Module>>,
    image_reasons: Vec<String>,
}

pub(crate) struct VerdictCache {
    dir: PathBuf,
}

impl VerdictCache {
    pub fn new(dir: &Path) -> Self {
        VerdictCache {
            dir: dir.join(format!("v{SCANNER_VERSION}")),
        }
    }

    fn file(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}.json", digest.replace(':', "-")))
    }

    pub fn load(&self, digest: &str, ctx: &ScanContext) -> Option<ScanReport> {
        let bytes = std::fs::read(self.file(digest)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        Some(rederive(entry, ctx))
    }

    /// Best effort: a cache that cannot be written only costs a rescan next time.
    pub fn store(&self, digest: &str, report: &ScanReport, image_reasons: &[String]) {
        let entry = Entry {
            report: report.clone(),
            binary_reasons: report.binaries.iter().map(|b| b.reason.clone()).collect(),
            binary_pending: report
                .binaries
                .iter()
                .map(|b| b.pending_routes.clone())
                .collect(),
            binary_other_modules: report
                .binaries
                .iter()
                .map(|b| b.other_modules.clone())
                .collect(),
            image_reasons: image_reasons.to_vec(),
        };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            serde_json::to_writer(&tmp, &entry)?;
            tmp.persist(self.file(digest)).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            eprintln!(
                "fips-operator: warning: verdict cache {}: {e}",
                self.dir.display()
            );
        }
    }
}

fn rederive(entry: Entry, ctx: &ScanContext) -> ScanReport {
    let mut report = entry.report;
    let flags = entry
        .binary_reasons
        .into_iter()
        .zip(entry.binary_pending)
        .zip(entry.binary_other_modules);
    for (b, ((reason, pending), others)) in report.binaries.iter_mut().zip(flags) {
        b.reason = reason;
        b.pending_routes = pending;
        b.other_modules = others;
        let Some(first) = b.module.take() else {
            continue;
        };
        b.warnings
            .retain(|w| !w.starts_with(VALIDATION_WARNING_PREFIX));
        let mut modules = vec![first];
        modules.append(&mut b.other_modules);
        let mut lost = None;
        for m in modules.iter_mut() {
            let Some(version) = m.version.clone() else {
                continue;
            };
            if b.pending_routes.contains(&m.name) {
                continue;
            }
            let resolved = ctx
                .registry
                .resolve(registry_module(&m.name), &version, ctx.today);
            // A registry without the row: the module is not validated any more (as judge() says).
            m.validation = resolved
                .as_ref()
                .map_or(Validation::Unknown, |r| r.validation);
            m.certificate = resolved.and_then(|r| r.certificate);
            if !m.validation.is_usable() {
                lost.get_or_insert(format!(
                    "module {} {version} is no longer validated in the module registry",
                    m.name
                ));
            }
        }
        if let Some(why) = lost {
            b.verdict = Verdict::NotFipsCapable;
            b.evidence.push(why.clone());
            b.reason = Some(why);
            continue;
        }
        b.warnings
            .extend(modules.iter().filter_map(validation_warning));
        let mut modules = modules.into_iter();
        b.module = modules.next();
        b.other_modules = modules.collect();
    }
    let o = policy::target_outcome(&report.binaries, &entry.image_reasons, ctx.policy, true);
    report.outcome = o.outcome;
    report.reasons = o.reasons;
    report
}
