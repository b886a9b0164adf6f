//! Pure decisions: the outcome of a scan target from judged binaries (rule I1, docs/verdicts.md), and
//! a FipsPolicy's status from cluster facts (`cluster`).

pub mod admission;
pub mod cluster;

use serde::{Deserialize, Serialize};

use crate::inspect::{BinaryVerdict, Validation, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Compliant,
    Unknown,
    NonCompliant,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Compliant => "compliant",
            Outcome::Unknown => "unknown",
            Outcome::NonCompliant => "non-compliant",
        }
    }
}

/// The `images` settings of a FipsPolicy that bear on a scan. Defaults accept in-process and
/// historical modules (each still reported as a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImagePolicy {
    pub accept_in_process: bool,
    pub accept_historical: bool,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        ImagePolicy {
            accept_in_process: true,
            accept_historical: true,
        }
    }
}

/// A target's outcome and the reasons behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOutcome {
    pub outcome: Outcome,
    pub reasons: Vec<String>,
}

/// I1: non-compliant if any binary is `not-fips-capable`, an image-level rule failed
/// (`image_reasons`) or the policy refuses a module; else unknown if any binary is unknown or
/// still waits for image-level validation (`standalone`: a file judged without its image);
/// else compliant (also with no ELF at all).
pub fn target_outcome(
    binaries: &[BinaryVerdict],
    image_reasons: &[String],
    policy: ImagePolicy,
    standalone: bool,
) -> TargetOutcome {
    let mut bad = image_reasons.to_vec();
    let mut unsure = Vec::new();
    for b in binaries {
        match b.verdict {
            Verdict::NotFipsCapable => bad.push(format!("{}: {}", b.path, first_problem(b))),
            Verdict::Unknown => unsure.push(format!(
                "{}: cannot be judged: {}",
                b.path,
                b.evidence.first().map_or("no evidence", String::as_str)
            )),
            Verdict::FipsCapable => {
                let Some(m) = &b.module else { continue };
                let refused =
                    std::iter::once(m)
                        .chain(&b.other_modules)
                        .find(|m| match m.validation {
                            Validation::InProcess => !policy.accept_in_process,
                            Validation::Historical => !policy.accept_historical,
                            _ => false,
                        });
                if let Some(r) = refused {
                    bad.push(format!(
                        "{}: module {} {} is {} and the policy refuses it",
                        b.path,
                        r.name,
                        r.version.as_deref().unwrap_or(""),
                        serde_json::to_value(r.validation)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    ));
                } else if standalone && b.validation_pending() {
                    unsure.push(format!(
                        "{}: {} is a dynamic route: its validation is resolved at image level; scan the image or root filesystem that contains it",
                        b.path, m.name
                    ));
                }
            }
            Verdict::NoCrypto => {}
        }
    }
    let outcome = if !bad.is_empty() {
        Outcome::NonCompliant
    } else if !unsure.is_empty() {
        Outcome::Unknown
    } else {
        Outcome::Compliant
    };
    bad.extend(unsure);
    TargetOutcome {
        outcome,
        reasons: bad,
    }
}

/// Why a binary is not FIPS-capable, for the target's reasons.
fn first_problem(b: &BinaryVerdict) -> &str {
    b.reason
        .as_deref()
        .or(b.evidence.first().map(String::as_str))
        .unwrap_or("not FIPS-capable")
}

#[cfg(test)]
mod tests;

/// The policy the unit tests start from: `mode`, every namespace but kube-system, every node,
/// label action, default image rules.
#[cfg(test)]
pub(crate) fn test_spec(mode: crate::api::Mode) -> crate::api::FipsPolicySpec {
    crate::api::FipsPolicySpec {
        mode,
        namespace_selector: None,
        excluded_namespaces: vec!["kube-system".into()],
        node_selector: None,
        node_action: crate::api::NodeAction::Label,
        images: crate::api::ImagesSpec::default(),
    }
}
