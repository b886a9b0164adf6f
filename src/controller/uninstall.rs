//! `fips-operator uninstall`: takes back everything the operator wrote into a cluster that the
//! chart does not own, so that `helm uninstall` (which deletes only the chart's objects) leaves
//! nothing behind (run after it: a controller still running would write reports again): the FipsPolicies (and with them the probe
//! DaemonSet they own), the node labels and taints, the namespaces' admission routing label,
//! the FipsImageReports and FipsStatuses, and on request the CRDs.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::nodes::{node_patch, NodeWanted};
use crate::api::{FipsImageReport, FipsPolicy, FipsStatus, NODE_FIPS_LABEL, NODE_TAINT_KEY};

/// What to take back.
#[derive(Debug, Clone)]
pub struct Uninstall {
    /// The operator's namespace (home of the probe DaemonSet).
    pub namespace: String,
    /// The release's admission routing label (`--admission-label` of its controller).
    pub admission_label: String,
    /// Delete the three CRDs as well (and with them any object of theirs left).
    pub delete_crds: bool,
}

fn gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

/// Runs every step, reporting each done step through `say`. A step that fails stops the run
/// with an error naming the object; running again resumes (every step is idempotent).
pub async fn uninstall(
    client: &Client,
    what: &Uninstall,
    say: &mut dyn FnMut(String),
) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let installed = crds
        .get_opt(&format!("fipspolicies.{}", crate::api::GROUP))
        .await
        .map_err(|e| anyhow::anyhow!("reading the FipsPolicy CRD: {e}"))?
        .is_some();
    if installed {
        // First the policies: a controller still running then wants no label, taint or
        // DaemonSet any more, and writes none while the rest is taken back.
        let policies: Api<FipsPolicy> = Api::all(client.clone());
        for p in list(&policies, ListParams::default(), "the FipsPolicies").await? {
            let name = p.name_any();
            match policies.delete(&name, &DeleteParams::default()).await {
                Ok(_) => say(format!("deleted FipsPolicy {name}")),
                Err(e) if gone(&e) => {}
                Err(e) => anyhow::bail!("deleting FipsPolicy {name}: {e}"),
            }
        }
    }
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), &what.namespace);
    let ds = super::daemonset::NAME;
    match daemonsets.delete(ds, &DeleteParams::background()).await {
        Ok(_) => say(format!("deleted DaemonSet {}/{ds}", what.namespace)),
        Err(e) if gone(&e) => {}
        Err(e) => anyhow::bail!("deleting DaemonSet {}/{ds}: {e}", what.namespace),
    }

    let nodes: Api<Node> = Api::all(client.clone());
    for node in list(&nodes, ListParams::default(), "the nodes").await? {
        let name = node.name_any();
        let none = NodeWanted {
            label: None,
            taint: false,
        };
        let Some(patch) = node_patch(&node, none) else {
            continue;
        };
        // With the node's resourceVersion: a concurrent change fails, never loses a taint.
        nodes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| anyhow::anyhow!("removing {NODE_FIPS_LABEL} and {NODE_TAINT_KEY} from node {name}: {e}; run uninstall again"))?;
        let mut removed = Vec::new();
        if node.labels().contains_key(NODE_FIPS_LABEL) {
            removed.push(format!("the label {NODE_FIPS_LABEL}"));
        }
        if patch.get("spec").is_some() {
            removed.push(format!("the taint {NODE_TAINT_KEY}"));
        }
        say(format!("node {name}: removed {}", removed.join(" and ")));
    }

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let label = &what.admission_label;
    let labelled = format!("the namespaces labelled {label}");
    for ns in list(&namespaces, ListParams::default().labels(label), &labelled).await? {
        let name = ns.name_any();
        let patch = json!({"metadata": {"labels": {label.as_str(): null}}});
        namespaces
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| {
                anyhow::anyhow!("removing the label {label} from namespace {name}: {e}")
            })?;
        say(format!("namespace {name}: removed the label {label}"));
    }

    if installed {
        let reports: Api<FipsImageReport> = Api::all(client.clone());
        let n = delete_all(&reports, "FipsImageReports").await?;
        say(format!("deleted {n} FipsImageReports"));
        let statuses: Api<FipsStatus> = Api::all(client.clone());
        let n = delete_all(&statuses, "FipsStatuses").await?;
        say(format!("deleted {n} FipsStatuses"));
    }
    if what.delete_crds {
        for crd in crate::api::crds() {
            let name = crd.name_any();
            match crds.delete(&name, &DeleteParams::default()).await {
                Ok(_) => say(format!("deleted CustomResourceDefinition {name}")),
                Err(e) if gone(&e) => {}
                Err(e) => anyhow::bail!("deleting CustomResourceDefinition {name}: {e}"),
            }
        }
    }
    Ok(())
}

async fn delete_all<K>(api: &Api<K>, what: &str) -> anyhow::Result<usize>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let n = list(api, ListParams::default(), what).await?.len();
    if n > 0 {
        api.delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .map_err(|e| anyhow::anyhow!("deleting {what}: {e}"))?;
    }
    Ok(n)
}

async fn list<K>(api: &Api<K>, params: ListParams, what: &str) -> anyhow::Result<Vec<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api
        .list(&params)
        .await
        .map_err(|e| anyhow::anyhow!("listing {what}: {e}"))?;
    Ok(list.items)
}
