//! The cluster decision core (README: API and CRDs, Performance): a FipsPolicy's status from plain facts about
//! nodes, namespaces, pods and image verdicts. Pure: no client, no clock (`now` comes in).

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    condition, set_condition, ConditionStatus, FipsPolicySpec, FipsPolicyStatus, Mode, NodeCounts,
    Violation, WorkloadCounts, MAX_VIOLATIONS,
};
use crate::inspect::module_registry::glob_match;

/// What the controller knows about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// From its FipsStatus (kernel flag and boot flag); `None` until the probe reported.
    pub fips_enabled: Option<bool>,
    /// No recent FipsStatus and no probe pod running on the node: nothing is known of it, and
    /// it is reported as such rather than judged.
    pub probe_not_running: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: String,
    pub image: String,
    /// `sha256:…` of the image the runtime resolved (from the pod's `imageID`), if known.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub namespace: String,
    pub name: String,
    /// Init, regular and ephemeral containers alike.
    pub containers: Vec<ContainerFacts>,
}

/// An image verdict as the FipsImageReports say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    Compliant,
    NonCompliant(String),
    Unknown,
}

/// Everything a policy is evaluated against. Image verdicts are keyed by digest and by
/// reference, so a pod finds its image whichever the runtime reports.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    pub nodes: Vec<NodeFacts>,
    pub namespaces: Vec<NamespaceFacts>,
    pub pods: Vec<PodFacts>,
    pub images: HashMap<String, ImageVerdict>,
    /// Always exempt, whatever a policy says.
    pub operator_namespace: String,
    /// Why a probe may not be running, for nodes with `probe_not_running`.
    pub probe_hint: String,
}

/// True when `labels` satisfy the selector (`None` selects everything).
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(sel) = selector else { return true };
    let by_labels = sel
        .match_labels
        .as_ref()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let by_expressions = sel.match_expressions.as_ref().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                // An operator the API server would reject: select nothing rather than all.
                _ => false,
            }
        })
    });
    by_labels && by_expressions
}

/// True when `spec` judges namespace `ns`: selected by its namespaceSelector, not in its
/// excludedNamespaces, and not the operator's own namespace (always exempt).
pub fn selects_namespace(spec: &FipsPolicySpec, ns: &NamespaceFacts, operator_ns: &str) -> bool {
    ns.name != operator_ns
        && !spec.excluded_namespaces.contains(&ns.name)
        && selector_matches(spec.namespace_selector.as_ref(), &ns.labels)
}

/// The strictest mode of the policies that judge `ns`, or `None` when no policy does: what
/// the namespace's admission label says, and so which webhook of the configuration the API
/// server calls for it (none at all without a policy).
pub fn admission_mode<'a>(
    policies: impl IntoIterator<Item = &'a FipsPolicySpec>,
    ns: &NamespaceFacts,
    operator_ns: &str,
) -> Option<Mode> {
    policies
        .into_iter()
        .filter(|spec| selects_namespace(spec, ns, operator_ns))
        .map(|spec| spec.mode)
        .max()
}

/// `registry/repo:tag@sha256:…` -> `registry/repo`.
pub fn repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => no_digest,
    }
}

/// `images.exempt`: repository globs or exact digests.
pub fn image_exempt(exempt: &[String], image: &str, digest: Option<&str>) -> bool {
    exempt.iter().any(|pattern| {
        if pattern.starts_with("sha256:") {
            digest == Some(pattern.as_str()) || image.ends_with(&format!("@{pattern}"))
        } else {
            glob_match(pattern, repository(image))
        }
    })
}

/// The status a FipsPolicy should have. `previous` keeps violation times and condition
/// transition times stable.
pub fn evaluate_policy(
    spec: &FipsPolicySpec,
    facts: &ClusterFacts,
    previous: &FipsPolicyStatus,
    generation: Option<i64>,
    now: Timestamp,
) -> FipsPolicyStatus {
    let selected_nodes: Vec<&NodeFacts> = facts
        .nodes
        .iter()
        .filter(|n| selector_matches(spec.node_selector.as_ref(), &n.labels))
        .collect();
    let fips_nodes = selected_nodes
        .iter()
        .filter(|n| n.fips_enabled == Some(true))
        .count();
    let nodes = NodeCounts {
        total: selected_nodes.len() as i64,
        fips_enabled: fips_nodes as i64,
        summary: format!("{fips_nodes}/{}", selected_nodes.len()),
    };

    let namespaces: HashSet<&str> = facts
        .namespaces
        .iter()
        .filter(|ns| selects_namespace(spec, ns, &facts.operator_namespace))
        .map(|ns| ns.name.as_str())
        .collect();
    let since: HashMap<(&str, &str, &str, &str), &str> = previous
        .violations
        .iter()
        .map(|v| {
            (
                (
                    v.namespace.as_str(),
                    v.pod.as_str(),
                    v.container.as_str(),
                    v.image.as_str(),
                ),
                v.since.as_str(),
            )
        })
        .collect();
    let now_text = now.to_string();
    let mut workloads = WorkloadCounts::default();
    let mut violations = Vec::new();
    for pod in facts
        .pods
        .iter()
        .filter(|p| namespaces.contains(p.namespace.as_str()))
    {
        for c in &pod.containers {
            if image_exempt(&spec.images.exempt, &c.image, c.digest.as_deref()) {
                continue;
            }
            workloads.total += 1;
            let verdict = c
                .digest
                .as_deref()
                .and_then(|d| facts.images.get(d))
                .or_else(|| facts.images.get(&c.image));
            match verdict {
                Some(ImageVerdict::Compliant) => workloads.compliant += 1,
                Some(ImageVerdict::NonCompliant(reason)) => {
                    workloads.non_compliant += 1;
                    let key = (
                        pod.namespace.as_str(),
                        pod.name.as_str(),
                        c.name.as_str(),
                        c.image.as_str(),
                    );
                    violations.push(Violation {
                        namespace: pod.namespace.clone(),
                        pod: pod.name.clone(),
                        container: c.name.clone(),
                        image: c.image.clone(),
                        reason: reason.clone(),
                        since: since
                            .get(&key)
                            .map_or_else(|| now_text.clone(), |s| s.to_string()),
                    });
                }
                Some(ImageVerdict::Unknown) | None => workloads.unknown += 1,
            }
        }
    }
    let violation_count = violations.len() as i64;
    // Newest first; ties in a stable order so that the status does not churn.
    violations.sort_by(|a, b| {
        b.since.cmp(&a.since).then_with(|| {
            (&a.namespace, &a.pod, &a.container).cmp(&(&b.namespace, &b.pod, &b.container))
        })
    });
    violations.truncate(MAX_VIOLATIONS);

    let mut conditions = previous.conditions.clone();
    // A policy that selects no node proves nothing (a typo in a selector must not read as
    // "compliant").
    let nodes_ok = fips_nodes == selected_nodes.len() && !selected_nodes.is_empty();
    let (nodes_status, nodes_reason, nodes_msg) = if nodes_ok {
        (ConditionStatus::True, "AllNodesFips", String::new())
    } else if selected_nodes.is_empty() {
        (
            ConditionStatus::Unknown,
            "NoNodesSelected",
            "the nodeSelector matches no node".to_string(),
        )
    } else {
        let unprobed: Vec<&str> = selected_nodes
            .iter()
            .filter(|n| n.probe_not_running)
            .map(|n| n.name.as_str())
            .collect();
        let missing = selected_nodes
            .iter()
            .filter(|n| n.fips_enabled != Some(true) && !n.probe_not_running)
            .count();
        let unprobed_note = (!unprobed.is_empty()).then(|| {
            const SHOWN: usize = 5;
            let more = unprobed.len().saturating_sub(SHOWN);
            format!(
                "the probe is not running on node{} {}{}, so {} not judged: {}",
                if unprobed.len() == 1 { "" } else { "s" },
                unprobed[..unprobed.len().min(SHOWN)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                if unprobed.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
                facts.probe_hint
            )
        });
        if missing > 0 {
            let mut msg = format!(
                "{missing} of {} selected nodes are not in FIPS mode",
                selected_nodes.len()
            );
            if let Some(note) = unprobed_note {
                msg = format!("{msg}; {note}");
            }
            (ConditionStatus::False, "NodesNotFips", msg)
        } else {
            (
                ConditionStatus::Unknown,
                "ProbeNotRunning",
                unprobed_note.unwrap_or_default(),
            )
        }
    };
    set_condition(
        &mut conditions,
        condition::NODES_COMPLIANT,
        nodes_status,
        nodes_reason,
        &nodes_msg,
        generation,
        now,
    );
    let (wl_status, wl_reason, wl_msg) = if namespaces.is_empty() {
        (
            ConditionStatus::Unknown,
            "NoNamespacesSelected",
            "the namespaceSelector and excludedNamespaces leave no namespace".to_string(),
        )
    } else if workloads.non_compliant > 0 {
        (
            ConditionStatus::False,
            "NonCompliantWorkloads",
            format!(
                "{} containers run images that are not FIPS-capable",
                workloads.non_compliant
            ),
        )
    } else if workloads.unknown > 0 {
        (
            ConditionStatus::Unknown,
            "ImagesNotJudged",
            format!(
                "{} containers run images without a verdict yet",
                workloads.unknown
            ),
        )
    } else {
        (
            ConditionStatus::True,
            "AllWorkloadsCompliant",
            String::new(),
        )
    };
    set_condition(
        &mut conditions,
        condition::WORKLOADS_COMPLIANT,
        wl_status,
        wl_reason,
        &wl_msg,
        generation,
        now,
    );
    let ready = nodes_ok && wl_status == ConditionStatus::True;
    let (ready_status, ready_reason) = if ready {
        (ConditionStatus::True, "Compliant")
    } else {
        (
            ConditionStatus::False,
            if nodes_ok { wl_reason } else { nodes_reason },
        )
    };
    set_condition(
        &mut conditions,
        condition::READY,
        ready_status,
        ready_reason,
        "",
        generation,
        now,
    );
    // kstatus: still working while images wait for a verdict.
    let (rec_status, rec_reason, rec_msg) = if workloads.unknown > 0 {
        (
            ConditionStatus::True,
            "ScansPending",
            format!("{} containers wait for an image verdict", workloads.unknown),
        )
    } else {
        (ConditionStatus::False, "Reconciled", String::new())
    };
    set_condition(
        &mut conditions,
        condition::RECONCILING,
        rec_status,
        rec_reason,
        &rec_msg,
        generation,
        now,
    );
    set_condition(
        &mut conditions,
        condition::STALLED,
        ConditionStatus::False,
        "Reconciled",
        "",
        generation,
        now,
    );

    FipsPolicyStatus {
        observed_generation: generation,
        conditions,
        nodes,
        workloads,
        violations,
        violation_count,
    }
}

#[cfg(test)]
mod tests;
