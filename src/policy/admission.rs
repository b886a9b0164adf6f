//! The admission decision, pure: a pod spec
//! under review, the policies, what is known about its images and nodes -> allowed, warned or
//! denied, with messages that name the container, the image, the offending binaries and the
//! fix. The webhook and `fips-operator admit` both call it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;

use super::cluster::{image_exempt, selector_matches, NodeFacts};
use super::ImagePolicy;
use crate::api::{FipsPolicySpec, Mode, UnknownAction};

/// What is known about one image, under one policy's acceptance of module validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageKnowledge {
    Compliant,
    /// Not FIPS-capable: why, and where the details are (a command to run).
    NonCompliant {
        reasons: Vec<String>,
        details: String,
    },
    /// Scanned but not judged (failed, cut short, a module the registry does not know).
    Unknown {
        why: String,
        details: String,
    },
    /// No verdict yet: a scan is requested.
    NotJudged,
}

/// Looks an image up: `image` as the pod names it; the answer may depend on the policy's
/// acceptance of in-process and historical modules.
pub trait ImageVerdicts {
    fn lookup(&self, image: &str, policy: ImagePolicy) -> ImageKnowledge;
}

/// One object under review: a Pod, or the pod template of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub spec: &'a PodSpec,
    /// Why the object's pod spec could not be read (`spec` is then empty): judged as an image
    /// that cannot be judged, under each policy's `unknownAction`, never let through unseen.
    pub unreadable: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Allowed,
    Warned,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Warned => "warned",
            Outcome::Denied => "denied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Why it is denied (Enforce): one line per problem.
    pub messages: Vec<String>,
    /// AdmissionResponse warnings (Warn, and denials of policies in Warn mode).
    pub warnings: Vec<String>,
    /// Audit annotations (Audit mode), `fips.operator.dev/<n>` -> text.
    pub audit: BTreeMap<String, String>,
    /// Images without a verdict: a `Pending` FipsImageReport is requested for each.
    pub scan: Vec<String>,
    /// Why no policy applies: `not selected by FipsPolicy X: …`, the operator's namespace.
    pub notes: Vec<String>,
}

/// What happens to an image that has no verdict yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoVerdict {
    /// The cluster scans it: a `Pending` report is requested.
    ScanRequested,
    /// A server-side dry run: decided the same, but it requests no scan.
    DryRun,
    /// `fips-operator admit`: verdicts come from report files and `--scan` only.
    Offline,
}

/// A policy and its name, as the decision sees it.
#[derive(Debug, Clone)]
pub struct NamedPolicy<'a> {
    pub name: &'a str,
    pub spec: &'a FipsPolicySpec,
}

/// Everything around the subject.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub policies: &'a [NamedPolicy<'a>],
    pub namespace_labels: &'a BTreeMap<String, String>,
    /// Always exempt, whatever a policy says.
    pub operator_namespace: &'a str,
    /// Nodes as the controller knows them; empty when unknown (offline): placement is then
    /// not checked.
    pub nodes: &'a [NodeFacts],
    /// What becomes of an image without a verdict, for the message that says so.
    pub no_verdict: NoVerdict,
}

fn containers(spec: &PodSpec) -> Vec<(&'static str, &str, &str)> {
    let mut out = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        out.push((
            "init container",
            c.name.as_str(),
            c.image.as_deref().unwrap_or(""),
        ));
    }
    for c in &spec.containers {
        out.push((
            "container",
            c.name.as_str(),
            c.image.as_deref().unwrap_or(""),
        ));
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        out.push((
            "ephemeral container",
            c.name.as_str(),
            c.image.as_deref().unwrap_or(""),
        ));
    }
    out
}

const FIX_IMAGE: &str =
    "rebuild it with a validated module (Go: GOFIPS140=v1.0.0-c2097c7c; C/C++: \
    OpenSSL 3 with its FIPS provider activated in the image; Rust: aws-lc-rs with the fips \
    feature) or use a FIPS base image, or exempt it in the policy's images.exempt (a module \
    the policy refuses as in process or historical: acceptInProcessModules, \
    acceptHistoricalModules)";

/// The decision for `subject` under every policy that selects its namespace; the strictest
/// mode wins.
pub fn decide(subject: Subject, ctx: &Context, images: &dyn ImageVerdicts) -> Decision {
    let mut d = Decision {
        outcome: Outcome::Allowed,
        messages: Vec::new(),
        warnings: Vec::new(),
        audit: BTreeMap::new(),
        scan: Vec::new(),
        notes: Vec::new(),
    };
    if subject.namespace == ctx.operator_namespace {
        d.notes.push(format!(
            "namespace {} is the operator's own: always admitted",
            subject.namespace
        ));
        return d;
    }
    let mut applicable: Vec<&NamedPolicy> = Vec::new();
    for p in ctx.policies {
        match not_selected(p, subject.namespace, ctx.namespace_labels) {
            Some(why) => d.notes.push(why),
            None => applicable.push(p),
        }
    }
    let what = format!("{} {}/{}", subject.kind, subject.namespace, subject.name);
    for p in &applicable {
        let mode = p.spec.mode;
        let policy = ImagePolicy {
            accept_in_process: p.spec.images.accept_in_process_modules,
            accept_historical: p.spec.images.accept_historical_modules,
        };
        let mut problems: Vec<(bool, String)> = Vec::new(); // (is a hard problem, text)
        if let Some(why) = subject.unreadable {
            let action = p.spec.images.unknown_action(mode);
            if action != UnknownAction::Allow {
                problems.push((
                    action == UnknownAction::Deny,
                    format!(
                        "its pod spec cannot be read, so its images cannot be judged: {why}; \
                         fix the object"
                    ),
                ));
            }
        }
        for (kind, name, image) in containers(subject.spec) {
            let digest = image.split_once('@').map(|(_, d)| d);
            if image_exempt(&p.spec.images.exempt, image, digest) {
                continue;
            }
            match images.lookup(image, policy) {
                ImageKnowledge::Compliant => {}
                ImageKnowledge::NonCompliant { reasons, details } => problems.push((
                    true,
                    format!(
                        "{kind} {name:?} image {image} is not FIPS-capable: {}; fix: {FIX_IMAGE} \
                         (details: {details})",
                        reasons.join("; ")
                    ),
                )),
                ImageKnowledge::Unknown { why, details } => {
                    if p.spec.images.unknown_action(mode) != UnknownAction::Allow {
                        problems.push((
                            p.spec.images.unknown_action(mode) == UnknownAction::Deny,
                            format!(
                                "{kind} {name:?} image {image} cannot be judged: {why} \
                                 ({details}); fix the image, or exempt it"
                            ),
                        ));
                    }
                }
                ImageKnowledge::NotJudged => {
                    if !d.scan.iter().any(|s| s == image) {
                        d.scan.push(image.to_string());
                    }
                    let action = p.spec.images.unknown_action(mode);
                    if action != UnknownAction::Allow {
                        problems.push((
                            action == UnknownAction::Deny,
                            no_verdict(ctx.no_verdict, kind, name, image),
                        ));
                    }
                }
            }
        }
        if let Some(problem) =
            placement(subject.spec, p.spec, ctx.nodes).filter(|_| subject.unreadable.is_none())
        {
            problems.push((true, problem));
        }
        for (hard, text) in problems {
            let line = format!("{what}: {text} [FipsPolicy {}]", p.name);
            match mode {
                Mode::Enforce if hard => {
                    d.outcome = Outcome::Denied;
                    d.messages.push(line);
                }
                Mode::Enforce | Mode::Warn => {
                    d.outcome = d.outcome.max(Outcome::Warned);
                    d.warnings.push(line);
                }
                Mode::Audit => {
                    let key = format!("fips.operator.dev/{}", d.audit.len() + 1);
                    d.audit.insert(key, line);
                }
            }
        }
    }
    d
}

/// Why `p` does not apply to objects in `namespace`, or `None` when it does.
fn not_selected(
    p: &NamedPolicy,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    let why = if p.spec.excluded_namespaces.iter().any(|n| n == namespace) {
        format!("namespace {namespace} is in its excludedNamespaces")
    } else if !selector_matches(p.spec.namespace_selector.as_ref(), labels) {
        format!("the labels of namespace {namespace} do not match its namespaceSelector")
    } else {
        return None;
    };
    Some(format!("not selected by FipsPolicy {}: {why}", p.name))
}

/// The problem of an image without a verdict, by what becomes of it.
fn no_verdict(how: NoVerdict, kind: &str, name: &str, image: &str) -> String {
    match how {
        NoVerdict::ScanRequested => format!(
            "{kind} {name:?} image {image} has no FIPS verdict yet: a scan is in progress, \
             retry shortly"
        ),
        NoVerdict::DryRun => format!(
            "{kind} {name:?} image {image} has no FIPS verdict yet, and a dry run requests no \
             scan: create the object without --dry-run, or judge the image first with \
             `fips-operator scan {image}`"
        ),
        NoVerdict::Offline => format!(
            "{kind} {name:?} image {image}: no verdict for this image: pass --scan, or a report \
             that judges it (--reports)"
        ),
    }
}

/// A pod pinned (by `nodeName`, or a `nodeSelector` every matching node of which is selected
/// by the policy) to nodes that are not in FIPS mode.
fn placement(spec: &PodSpec, policy: &FipsPolicySpec, nodes: &[NodeFacts]) -> Option<String> {
    if nodes.is_empty() {
        return None;
    }
    let required = |n: &NodeFacts| selector_matches(policy.node_selector.as_ref(), &n.labels);
    if let Some(name) = &spec.node_name {
        let node = nodes.iter().find(|n| &n.name == name)?;
        return (required(node) && node.fips_enabled != Some(true)).then(|| {
            format!("pinned by nodeName to node {name}, which is not in FIPS mode; schedule it on a FIPS node (label fips.operator.dev/enabled=true)")
        });
    }
    let selector = spec.node_selector.as_ref().filter(|s| !s.is_empty())?;
    let candidates: Vec<&NodeFacts> = nodes
        .iter()
        .filter(|n| selector.iter().all(|(k, v)| n.labels.get(k) == Some(v)))
        .collect();
    (!candidates.is_empty()
        && candidates
            .iter()
            .all(|n| required(n) && n.fips_enabled != Some(true)))
    .then(|| {
        format!(
            "its nodeSelector only matches nodes that are not in FIPS mode ({}); add fips.operator.dev/enabled: \"true\" to it",
            candidates.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

#[cfg(test)]
mod tests;
