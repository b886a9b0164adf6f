//! Step 7: uninstall everything the suite installed, on every path, and list what is left.

use fips_operator::api::{
    FipsImageReport, FipsPolicy, FipsStatus, NODE_FIPS_LABEL, NODE_TAINT_KEY,
};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::cluster::{delete_quietly, get_opt, helm, not_found, step, wait_for};
use crate::settings::Settings;
use crate::{CHART_LABELS, OPERATOR_NS, POLICY, RELEASE, TEST_NS, WEBHOOK_CONFIG};

/// Nodes that still carry the operator's label or taint.
async fn marked_nodes(nodes: &Api<Node>) -> Result<Vec<Node>, String> {
    Ok(nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("listing nodes: {e}"))?
        .items
        .into_iter()
        .filter(|n| {
            n.labels().contains_key(NODE_FIPS_LABEL)
                || n.spec
                    .iter()
                    .flat_map(|s| s.taints.iter().flatten())
                    .any(|t| t.key == NODE_TAINT_KEY)
        })
        .collect())
}

/// Objects of kind `K` with the chart's labels.
async fn labelled<K>(api: &Api<K>) -> Result<Vec<String>, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    Ok(api
        .list(&ListParams::default().labels(CHART_LABELS))
        .await
        .map_err(|e| format!("listing {}: {e}", K::kind(&())))?
        .items
        .iter()
        .map(|o| o.name_any())
        .collect())
}

/// Objects of a custom kind that are left; none when the kind itself is gone (404).
async fn custom_left<K>(api: &Api<K>) -> Result<Vec<String>, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Resource<DynamicType = ()>,
{
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items.iter().map(|o| o.name_any()).collect()),
        Err(e) if not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(format!("listing {}: {e}", K::kind(&()))),
    }
}

fn note(what: String, left: &mut Vec<String>) {
    step(format!("  LEFT: {what}"));
    left.push(what);
}

/// Uninstalls in the order that lets the operator clean up after itself, then checks that
/// nothing is left. Never panics: returns what is left (or could not be checked).
pub async fn uninstall_and_verify(settings: &Settings, client: &Client) -> Vec<String> {
    step(
        "[7/7] uninstalling: the policy, the test namespace, the release, the CRDs, the namespace",
    );
    let mut left: Vec<String> = Vec::new();

    // The policy first, while the controller still runs: it takes its label off every node
    // no policy selects any more, and the probe DaemonSet (owned by the policy) is collected.
    let policies: Api<FipsPolicy> = Api::all(client.clone());
    if let Err(e) = delete_quietly(&policies, POLICY).await {
        note(format!("FipsPolicy {POLICY}: {e}"), &mut left);
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), OPERATOR_NS);
    let probe = fips_operator::controller::daemonset::NAME;
    let settled = wait_for(120, || {
        let (nodes, daemonsets) = (nodes.clone(), daemonsets.clone());
        async move {
            let marked: Vec<String> = marked_nodes(&nodes)
                .await?
                .iter()
                .map(|n| n.name_any())
                .collect();
            let ds = get_opt(&daemonsets, probe).await?.is_some();
            if marked.is_empty() && !ds {
                Ok(())
            } else {
                Err(format!(
                    "nodes still labelled or tainted: {marked:?}; probe DaemonSet present: {ds}"
                ))
            }
        }
    })
    .await;
    match settled {
        Ok(()) => {
            step("  the controller took its labels off the nodes; the probe DaemonSet is gone")
        }
        Err(e) => {
            note(format!("120 s after deleting the policy: {e}"), &mut left);
            // Leave the nodes clean all the same.
            for n in marked_nodes(&nodes).await.unwrap_or_default() {
                let taints: Vec<_> = n
                    .spec
                    .iter()
                    .flat_map(|s| s.taints.iter().flatten())
                    .filter(|t| t.key != NODE_TAINT_KEY)
                    .cloned()
                    .collect();
                let patch = json!({
                    "metadata": {"labels": {NODE_FIPS_LABEL: null}},
                    "spec": {"taints": taints},
                });
                if let Err(e) = nodes
                    .patch(
                        &n.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    step(format!("  could not clean node {}: {e}", n.name_any()));
                }
            }
        }
    }

    let namespaces: Api<Namespace> = Api::all(client.clone());
    if let Err(e) = delete_quietly(&namespaces, TEST_NS).await {
        note(format!("namespace {TEST_NS}: {e}"), &mut left);
    }

    let uninstall = helm(
        settings,
        [
            "uninstall",
            RELEASE,
            "--namespace",
            OPERATOR_NS,
            "--wait",
            "--timeout",
            "3m0s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    match uninstall {
        Ok(out) => step(format!("  helm uninstall: {}", out.trim())),
        Err(e) if e.contains("not found") => step("  helm uninstall: no release to uninstall"),
        Err(e) => note(format!("helm uninstall failed: {e}"), &mut left),
    }

    // Helm never deletes the CRDs of a chart's crds/: deleting them deletes every object of
    // their kinds (FipsStatuses, FipsImageReports).
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd_names: Vec<String> = fips_operator::api::crds()
        .iter()
        .map(|c| c.name_any())
        .collect();
    for name in &crd_names {
        if let Err(e) = delete_quietly(&crds, name).await {
            note(format!("CRD {name}: {e}"), &mut left);
        }
    }
    if let Err(e) = delete_quietly(&namespaces, OPERATOR_NS).await {
        note(format!("namespace {OPERATOR_NS}: {e}"), &mut left);
    }

    for name in &crd_names {
        if let Err(e) = wait_for(180, || {
            let (crds, name) = (crds.clone(), name.clone());
            async move {
                match get_opt(&crds, &name).await? {
                    None => Ok(()),
                    Some(c) => Err(format!(
                        "still there (deletion {:?}, conditions {:?})",
                        c.metadata.deletion_timestamp,
                        c.status.and_then(|s| s.conditions)
                    )),
                }
            }
        })
        .await
        {
            note(format!("CRD {name}: {e}"), &mut left);
        }
    }
    for ns in [TEST_NS, OPERATOR_NS] {
        if let Err(e) = wait_for(180, || {
            let namespaces = namespaces.clone();
            async move {
                match get_opt(&namespaces, ns).await? {
                    None => Ok(()),
                    Some(n) => Err(format!(
                        "still there: {}",
                        serde_json::to_string(&n.status).unwrap_or_default()
                    )),
                }
            }
        })
        .await
        {
            note(format!("namespace {ns}: {e}"), &mut left);
        }
    }

    // What must not be left, whatever happened above.
    let checks: Vec<(&str, Result<Vec<String>, String>)> = vec![
        (
            "FipsPolicy",
            custom_left(&Api::<FipsPolicy>::all(client.clone())).await,
        ),
        (
            "FipsStatus",
            custom_left(&Api::<FipsStatus>::all(client.clone())).await,
        ),
        (
            "FipsImageReport",
            custom_left(&Api::<FipsImageReport>::all(client.clone())).await,
        ),
        (
            "ValidatingWebhookConfiguration (chart labels)",
            labelled(&Api::<ValidatingWebhookConfiguration>::all(client.clone())).await,
        ),
        (
            "ClusterRole (chart labels)",
            labelled(&Api::<ClusterRole>::all(client.clone())).await,
        ),
        (
            "ClusterRoleBinding (chart labels)",
            labelled(&Api::<ClusterRoleBinding>::all(client.clone())).await,
        ),
        (
            "Node with the operator's label or taint",
            marked_nodes(&nodes)
                .await
                .map(|ns| ns.iter().map(|n| n.name_any()).collect()),
        ),
    ];
    for (kind, found) in checks {
        match found {
            Ok(names) if names.is_empty() => {}
            Ok(names) => note(format!("{kind}: {}", names.join(", ")), &mut left),
            Err(e) => note(format!("{kind}: cannot check: {e}"), &mut left),
        }
    }
    let vwc: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    match get_opt(&vwc, WEBHOOK_CONFIG).await {
        Ok(None) => {}
        Ok(Some(_)) => note(
            format!("ValidatingWebhookConfiguration {WEBHOOK_CONFIG}"),
            &mut left,
        ),
        Err(e) => note(
            format!("ValidatingWebhookConfiguration {WEBHOOK_CONFIG}: cannot check: {e}"),
            &mut left,
        ),
    }
    if left.is_empty() {
        step("  nothing left: no FipsPolicy, FipsStatus or FipsImageReport, no CRD, no webhook configuration, no cluster RBAC of the chart, no node label or taint, no namespace");
    }
    left
}
