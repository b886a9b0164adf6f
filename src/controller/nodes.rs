//! Node labels and taints: `fips.operator.dev/enabled=true|false` on every node a
//! policy selects, and the `fips.operator.dev/not-fips:NoSchedule` taint where a policy asks
//! for `nodeAction: Taint`. Several policies combine: the strictest action wins.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::facts::{node_fips, probe_nodes, probe_not_running_hint, reported};
use super::{Context, Error, MANAGER};
use crate::api::{
    condition, set_condition, ConditionStatus, FipsPolicy, FipsStatus, NodeAction, NODE_FIPS_LABEL,
    NODE_TAINT_KEY,
};
use crate::policy::cluster::selector_matches;

/// What the operator's label and taint on a node should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeWanted {
    /// `Some("true" | "false")`, or `None` to carry no label (no policy selects the node, or
    /// the strictest one says `nodeAction: None`).
    pub label: Option<&'static str>,
    pub taint: bool,
}

fn rank(action: NodeAction) -> u8 {
    match action {
        NodeAction::None => 0,
        NodeAction::Label => 1,
        NodeAction::Taint => 2,
    }
}

/// The label says `true` only when the node's probe proved FIPS mode recently; a node without
/// a (fresh) FipsStatus is labelled `false`, or `unknown` when no probe runs on it to say
/// (`probe_not_running`: it is reported, not judged). The taint is only set on a node proven
/// not to be in FIPS mode, so that a node whose probe has not reported yet stays schedulable.
pub fn node_wanted(
    node: &Node,
    fips: Option<bool>,
    probe_not_running: bool,
    policies: &[Arc<FipsPolicy>],
) -> NodeWanted {
    let action = policies
        .iter()
        .filter(|p| selector_matches(p.spec.node_selector.as_ref(), node.labels()))
        .map(|p| p.spec.node_action)
        .max_by_key(|a| rank(*a));
    match action {
        None | Some(NodeAction::None) => NodeWanted {
            label: None,
            taint: false,
        },
        Some(action) => NodeWanted {
            label: Some(match fips {
                Some(true) => "true",
                None if probe_not_running => "unknown",
                _ => "false",
            }),
            taint: action == NodeAction::Taint && fips == Some(false),
        },
    }
}

fn has_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key == NODE_TAINT_KEY))
}

/// The merge patch that moves `node` to `wanted`, or `None` when it is already there. It
/// carries the node's resourceVersion: a concurrent change to the taints makes it fail (409)
/// and the next pass retries, rather than dropping someone else's taint.
pub fn node_patch(node: &Node, wanted: NodeWanted) -> Option<serde_json::Value> {
    let current = node.labels().get(NODE_FIPS_LABEL).map(String::as_str);
    let label_ok = current == wanted.label;
    let taint_ok = has_taint(node) == wanted.taint;
    if label_ok && taint_ok {
        return None;
    }
    let mut patch = json!({"metadata": {"resourceVersion": node.resource_version()}});
    if !label_ok {
        patch["metadata"]["labels"] = json!({ NODE_FIPS_LABEL: wanted.label });
    }
    if !taint_ok {
        let mut taints: Vec<Taint> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key != NODE_TAINT_KEY)
            .collect();
        if wanted.taint {
            taints.push(Taint {
                key: NODE_TAINT_KEY.into(),
                effect: "NoSchedule".into(),
                ..Taint::default()
            });
        }
        patch["spec"] = json!({ "taints": taints });
    }
    Some(patch)
}

/// Brings every node's label and taint in line. Returns how many nodes were patched.
pub async fn reconcile_nodes(ctx: &Context, now: Timestamp) -> Result<usize, Error> {
    let policies = ctx.stores.policies.state();
    let statuses = ctx.stores.statuses_by_node();
    let stale = SignedDuration::try_from(ctx.settings.node_stale_after)
        .unwrap_or(SignedDuration::from_hours(24));
    let api: Api<Node> = Api::all(ctx.client.clone());
    let mut patched = 0;
    let mut first_error = None;
    let running = probe_nodes(&ctx.stores.pods.state(), &ctx.settings.namespace);
    let mut nodes = ctx.stores.nodes.state();
    nodes.sort_by_key(|n| n.name_any());
    for node in nodes {
        let name = node.name_any();
        let status = statuses.get(&name);
        let fips = node_fips(status.map(|s| &**s), now, stale);
        let not_running = !reported(status.map(|s| &**s), now, stale) && !running.contains(&name);
        let wanted = node_wanted(&node, fips, not_running, &policies);
        if not_running && wanted.label.is_some() {
            if let Err(e) = report_probe_not_running(ctx, &node, status.map(|s| &**s), now).await {
                first_error.get_or_insert(e);
            }
        }
        let Some(patch) = node_patch(&node, wanted) else {
            continue;
        };
        // One node failing (a conflict, a webhook) does not hold up the others.
        if let Err(e) = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            first_error.get_or_insert(Error::Kube {
                what: format!("patching labels/taints of node {name}"),
                source: e,
            });
            continue;
        }
        patched += 1;
        let was = node.labels().get(NODE_FIPS_LABEL).map(String::as_str);
        if fips == Some(false) && was != Some("false") {
            let facts = status.and_then(|s| s.status.as_ref());
            let word = |v: Option<bool>| match v {
                Some(true) => "on",
                Some(false) => "off",
                None => "not reported",
            };
            let note = format!(
                "node {name} is not in FIPS mode: the probe at {} found the kernel FIPS flag \
                 {}, fips=1 on the command line {}, crypto policy {}; boot it with fips=1{}",
                facts.map_or("?", |s| s.probe_time.as_str()),
                word(facts.and_then(|s| s.kernel_fips_enabled)),
                word(facts.and_then(|s| s.cmdline_fips)),
                facts
                    .and_then(|s| s.crypto_policy.as_deref())
                    .unwrap_or("none"),
                if wanted.taint {
                    "; tainted fips.operator.dev/not-fips:NoSchedule"
                } else {
                    ""
                }
            );
            publish(ctx, &*node, "NodeNotFips", "Label", note).await;
        }
    }
    first_error.map_or(Ok(patched), Err)
}

/// On the node's FipsStatus (created if absent, owned by the Node): `Compliant` is Unknown
/// because no probe runs there, and why. The probe's next write replaces it.
async fn report_probe_not_running(
    ctx: &Context,
    node: &Node,
    status: Option<&FipsStatus>,
    now: Timestamp,
) -> Result<(), Error> {
    let name = node.name_any();
    let namespace = &ctx.settings.namespace;
    let labels = ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(namespace))
        .map(|n| n.labels().clone())
        .unwrap_or_default();
    let message = format!(
        "the probe is not running on node {name}, so its FIPS mode is not known: {}",
        probe_not_running_hint(namespace, &labels)
    );
    let said = status
        .and_then(|s| s.status.as_ref())
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == condition::COMPLIANT)
        })
        .is_some_and(|c| c.reason == PROBE_NOT_RUNNING && c.message == message);
    if said {
        return Ok(());
    }
    let api: Api<FipsStatus> = Api::all(ctx.client.clone());
    let params = PatchParams::apply(MANAGER).force();
    let object = json!({
        "apiVersion": "fips.operator.dev/v1alpha1",
        "kind": "FipsStatus",
        "metadata": {"name": name, "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node.uid()}]},
        "spec": {"nodeName": name},
    });
    api.patch(&name, &params, &Patch::Apply(&object))
        .await
        .map_err(Error::kube(format!("applying FipsStatus {name}")))?;
    let mut conditions = Vec::new();
    set_condition(
        &mut conditions,
        condition::COMPLIANT,
        ConditionStatus::Unknown,
        PROBE_NOT_RUNNING,
        &message,
        None,
        now,
    );
    let body = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
                      "status": {"conditions": conditions}});
    api.patch_status(&name, &params, &Patch::Apply(&body))
        .await
        .map_err(Error::kube(format!(
            "writing the status of FipsStatus {name}"
        )))?;
    tracing::warn!(node = %name, "{message}");
    Ok(())
}

/// The reason of a FipsStatus condition written for a node without a running probe.
pub const PROBE_NOT_RUNNING: &str = "ProbeNotRunning";

/// Events are best effort: a failure to record one is logged, never fails a reconcile.
pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(reason, error = %e, "could not record event");
    }
}
