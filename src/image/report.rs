//! The result of scanning one target, in DESIGN §5's JSON shape.

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
