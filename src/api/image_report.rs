//! FipsImageReport: the shared verdict cache, one per platform manifest digest.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The verdict of one image (one platform manifest), named `sha256-<hex>` after its digest and
/// labelled with the index digests and repositories that lead to it. Reports store what was
/// found (modules and evidence); validation is derived from the module registry when a report
/// is read, so a certificate moving to the historical list needs no rescan.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "fips.operator.dev",
    version = "v1alpha1",
    kind = "FipsImageReport",
    plural = "fipsimagereports",
    shortname = "fir",
    status = "FipsImageReportStatus",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".status.images[0]"}"#,
    printcolumn = r#"{"name":"Outcome","type":"string","jsonPath":".status.outcome"}"#,
    printcolumn = r#"{"name":"Binaries","type":"integer","jsonPath":".status.summary.binaries"}"#,
    printcolumn = r#"{"name":"Non-Compliant","type":"integer","jsonPath":".status.summary.notFipsCapable"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FipsImageReportSpec {
    /// The platform manifest digest that was (or will be) scanned.
    pub digest: String,
}

/// `sha256:abc…` -> `sha256-abc…` (a valid object name).
pub fn image_report_name(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ImagePhase {
    /// A scan is requested and not done yet.
    #[default]
    Pending,
    Scanned,
    /// The scan failed; `reason` says why. The outcome is unknown.
    Failed,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FipsImageReportStatus {
    pub phase: ImagePhase,
    /// Why the scan failed (phase Failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Image references seen pointing at this digest.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub images: Vec<String>,
    /// Index (multi-arch) digests that lead to this manifest.
    #[serde(default)]
    pub index_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// compliant, non-compliant or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The scanner version that wrote the verdict: a report from another version is rescanned.
    #[serde(default)]
    pub scanner_version: String,
    /// When the scan finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<String>,
    /// Why the image is not compliant (capped).
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub summary: ImageSummary,
    /// Binaries that are not FIPS-capable or cannot be judged, with their evidence in full.
    #[serde(default)]
    pub non_compliant: Vec<ImageBinary>,
    /// FIPS-capable binaries and the module each goes through.
    #[serde(default)]
    pub fips_capable: Vec<ImageBinary>,
    /// True when lists were cut to keep the object small; the counts in summary are complete.
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary {
    pub binaries: i64,
    pub fips_capable: i64,
    pub not_fips_capable: i64,
    pub no_crypto: i64,
    pub unknown: i64,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageBinary {
    pub path: String,
    pub verdict: String,
    /// Module name, version and activation, e.g. `go-native v1.0.0-c2097c7c default-on`
    /// (no validation: that is derived when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Further modules the binary also routes through, in the same form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_modules: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
}
