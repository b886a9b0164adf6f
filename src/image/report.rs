//! The result of scanning one target, in the JSON shape of the README.

use serde::{Deserialize, Serialize};

use crate::inspect::BinaryVerdict;
use crate::policy::Outcome;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    pub target: String,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    /// Image metadata; `null` for file and directory targets.
    pub image: Option<serde_json::Value>,
    pub binaries: Vec<BinaryVerdict>,
    pub skipped: Vec<Skipped>,
}
