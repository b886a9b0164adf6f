//! FipsImageReports as every writer writes them (the lease holder's scan queue, the webhook's
//! scan requests, the node probe's verdicts from running containers): the status of a scan,
//! capped far below etcd's object limit, and the one write path with its field manager and
//! preconditions.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use crate::api::{
    image_report_name, FipsImageReport, FipsImageReportStatus, ImageBinary, ImagePhase,
    ImageSummary,
};
use crate::image::{ScanReport, SCANNER_VERSION};
use crate::inspect::{registry_module, BinaryVerdict, Module, Verdict};

/// Caps that keep a report far below etcd's 1.5 MiB object limit.
const MAX_LISTED_BINARIES: usize = 200;
/// Bytes of listed binaries (paths, modules, evidence) in one report.
const MAX_LISTED_BYTES: usize = 256 * 1024;
const MAX_EVIDENCE: usize = 8;
const MAX_TEXT: usize = 512;
const MAX_IMAGES: usize = 50;

/// A report write the API server refused, and which.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct ReportError {
    pub what: String,
    #[source]
    pub source: kube::Error,
}

impl ReportError {
    fn at(what: String) -> impl FnOnce(kube::Error) -> ReportError {
        move |source| ReportError { what, source }
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `registry-name version activation`: what validation is re-derived from on read.
fn module_text(m: &Module) -> String {
    format!(
        "{} {} {}",
        registry_module(&m.name),
        m.version.as_deref().unwrap_or("-"),
        serde_json::to_value(m.activation)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    )
}

fn listed(b: &BinaryVerdict) -> ImageBinary {
    ImageBinary {
        path: cut(&b.path),
        verdict: b.verdict.as_str().into(),
        module: b.module.as_ref().map(module_text),
        other_modules: b.other_modules.iter().map(module_text).collect(),
        evidence: b
            .evidence
            .iter()
            .take(MAX_EVIDENCE)
            .map(|e| cut(e))
            .collect(),
    }
}

/// A finished scan as a report status: counts complete, lists capped (`truncated` says so).
pub fn scanned_status(
    scan: &ScanReport,
    images: &BTreeSet<String>,
    now: Timestamp,
) -> FipsImageReportStatus {
    let mut summary = ImageSummary::default();
    let mut non_compliant = Vec::new();
    let mut fips_capable = Vec::new();
    let mut budget = MAX_LISTED_BYTES;
    let mut truncated = false;
    for b in &scan.binaries {
        summary.binaries += 1;
        let list = match b.verdict {
            Verdict::FipsCapable => {
                summary.fips_capable += 1;
                &mut fips_capable
            }
            Verdict::NotFipsCapable => {
                summary.not_fips_capable += 1;
                &mut non_compliant
            }
            Verdict::Unknown => {
                summary.unknown += 1;
                &mut non_compliant
            }
            Verdict::NoCrypto => {
                summary.no_crypto += 1;
                continue;
            }
        };
        let entry = listed(b);
        let size = entry.path.len()
            + entry.module.as_ref().map_or(0, String::len)
            + entry.evidence.iter().map(|e| e.len() + 4).sum::<usize>()
            + 64;
        if list.len() >= MAX_LISTED_BINARIES || size > budget {
            truncated = true;
            continue;
        }
        budget -= size;
        list.push(entry);
    }
    let field = |k: &str| {
        scan.image
            .as_ref()
            .and_then(|i| i[k].as_str())
            .map(String::from)
    };
    FipsImageReportStatus {
        phase: ImagePhase::Scanned,
        reason: None,
        images: images.iter().take(MAX_IMAGES).cloned().collect(),
        index_digests: field("index_digest").into_iter().collect(),
        platform: field("platform"),
        os: field("os"),
        outcome: Some(scan.outcome.as_str().into()),
        scanner_version: SCANNER_VERSION.into(),
        scanned_at: Some(now.to_string()),
        reasons: scan.reasons.iter().take(20).map(|r| cut(r)).collect(),
        summary,
        non_compliant,
        fips_capable,
        truncated,
    }
}

/// A scan that kept failing: the outcome is unknown, the reason says why.
pub fn failed_status(
    reason: &str,
    images: &BTreeSet<String>,
    platform: &str,
    now: Timestamp,
) -> FipsImageReportStatus {
    FipsImageReportStatus {
        phase: ImagePhase::Failed,
        reason: Some(cut(reason)),
        images: images.iter().take(MAX_IMAGES).cloned().collect(),
        platform: Some(platform.to_string()),
        outcome: Some("unknown".into()),
        scanner_version: SCANNER_VERSION.into(),
        scanned_at: Some(now.to_string()),
        ..FipsImageReportStatus::default()
    }
}

/// The one field manager of every FipsImageReport write (the scan queue, the webhook's scan
/// requests, the probe's running-container verdicts): each write replaces the whole status
/// the last one wrote, so no field of an earlier writer lingers.
pub const REPORT_MANAGER: &str = "fips-operator-reports";

/// What a report write may replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overwrite {
    /// Whatever is there: the lease holder's registry scan, the authority on a digest.
    Any,
    /// Nothing: the report is created, or the write is dropped (a scan request never replaces
    /// a verdict, however stale the requester's cache).
    Absent,
    /// The report as read at this resourceVersion, provided nothing was written since (a
    /// verdict that landed meanwhile is never replaced by the one based on the older read).
    Unchanged(String),
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 || s.code == 404)
}

/// Creates the report if absent and applies its status (server-side apply, field manager
/// [`REPORT_MANAGER`]), as far as `overwrite` allows. Returns the object as stored, or `None`
/// when the write was dropped because the report is not what `overwrite` requires.
pub async fn write_report(
    client: &kube::Client,
    digest: &str,
    status: &FipsImageReportStatus,
    overwrite: Overwrite,
) -> Result<Option<FipsImageReport>, ReportError> {
    let api: Api<FipsImageReport> = Api::all(client.clone());
    let name = image_report_name(digest);
    let object = json!({
        "apiVersion": "fips.operator.dev/v1alpha1",
        "kind": "FipsImageReport",
        "metadata": {"name": name},
        "spec": {"digest": digest},
    });
    let precondition = match overwrite {
        Overwrite::Any => {
            let params = PatchParams::apply(REPORT_MANAGER).force();
            api.patch(&name, &params, &Patch::Apply(&object))
                .await
                .map_err(ReportError::at(format!("creating FipsImageReport {name}")))?;
            None
        }
        Overwrite::Absent => {
            let report: FipsImageReport =
                serde_json::from_value(object).map_err(|e| ReportError {
                    what: format!("encoding FipsImageReport {name}"),
                    source: kube::Error::SerdeError(e),
                })?;
            let params = kube::api::PostParams {
                field_manager: Some(REPORT_MANAGER.into()),
                ..Default::default()
            };
            match api.create(&params, &report).await {
                Ok(created) => created.resource_version(),
                Err(e) if conflict(&e) => return Ok(None),
                Err(e) => {
                    return Err(ReportError {
                        what: format!("creating FipsImageReport {name}"),
                        source: e,
                    })
                }
            }
        }
        Overwrite::Unchanged(version) => Some(version),
    };
    let mut body = json!({
        "apiVersion": "fips.operator.dev/v1alpha1",
        "kind": "FipsImageReport",
        "status": status,
    });
    if let Some(version) = precondition {
        body["metadata"] = json!({"resourceVersion": version});
    }
    let params = PatchParams::apply(REPORT_MANAGER).force();
    match api.patch_status(&name, &params, &Patch::Apply(&body)).await {
        Ok(report) => Ok(Some(report)),
        Err(e) if body.get("metadata").is_some() && conflict(&e) => {
            tracing::info!(report = %name, "the report changed since it was read: not replaced");
            Ok(None)
        }
        Err(e) => Err(ReportError {
            what: format!("writing the status of FipsImageReport {name}"),
            source: e,
        }),
    }
}
