//! End-to-end against a real cluster (kind, k3d, or any kubeconfig). Runs only when
//! `FIPS_E2E_KUBECONFIG` names a kubeconfig; without it every test returns at once (there is
//! no API server on the CI machines, DESIGN §6). With it, the tests change the cluster:
//! they install the CRDs, write FipsStatus objects as a probe would, run the real
//! `fips-operator controller` against the cluster, and clean up after themselves.
//!
//! ```sh
//! kind create cluster --name fips-e2e
//! FIPS_E2E_KUBECONFIG=$HOME/.kube/config cargo test --test e2e -- --nocapture
//! ```

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fips_operator::api::{FipsPolicy, FipsStatus, NODE_FIPS_LABEL};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

const NS: &str = "fips-operator-e2e";
const MANAGER: &str = "fips-operator-e2e";

async fn client(path: &str) -> Client {
    fips_operator::install_crypto_provider();
    let kubeconfig = Kubeconfig::read_from(path).expect("FIPS_E2E_KUBECONFIG is readable");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("client")
}

/// Polls `check` until it returns `Some`, or fails after `secs` with `what`.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn write_status(api: &Api<FipsStatus>, node: &str, enabled: bool) {
    let body = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
        "metadata": {"name": node}, "spec": {"nodeName": node}});
    api.patch(
        node,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .expect("FipsStatus");
    let status = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
        "status": {"kernelFipsEnabled": enabled, "cmdlineFips": enabled, "probeVersion": "e2e",
                   "probeTime": k8s_openapi::jiff::Timestamp::now().to_string()}});
    api.patch_status(
        node,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .expect("FipsStatus status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_keeps_policy_status_and_node_labels_true() {
    let Ok(path) = std::env::var("FIPS_E2E_KUBECONFIG") else {
        eprintln!("e2e: FIPS_E2E_KUBECONFIG is not set; nothing to run against (see the README)");
        return;
    };
    let client = client(&path).await;
    let apply = PatchParams::apply(MANAGER).force();

    // 1. CRDs, established.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fips_operator::api::crds() {
        let name = crd.name_any();
        crds.patch(&name, &apply, &Patch::Apply(&crd))
            .await
            .expect("CRD applied");
        eventually(30, &format!("CRD {name} established"), || {
            let crds = crds.clone();
            let name = name.clone();
            async move {
                let c = crds.get(&name).await.ok()?;
                c.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            NS,
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
            ),
        )
        .await
        .expect("namespace");

    // 2. Every node reports FIPS mode (written here as the probe would).
    let nodes: Api<Node> = Api::all(client.clone());
    let node_names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(!node_names.is_empty());
    let statuses: Api<FipsStatus> = Api::all(client.clone());
    for n in &node_names {
        write_status(&statuses, n, true).await;
    }

    // 3. A policy, and the real controller.
    let policies: Api<FipsPolicy> = Api::all(client.clone());
    policies
        .patch(
            "e2e-audit",
            &apply,
            &Patch::Apply(json!({"apiVersion": "fips.operator.dev/v1alpha1",
            "kind": "FipsPolicy", "metadata": {"name": "e2e-audit"}, "spec": {"mode": "Audit"}})),
        )
        .await
        .expect("policy");
    let _controller = Controller(
        Command::new(env!("CARGO_BIN_EXE_fips-operator"))
            .args([
                "controller",
                "--namespace",
                NS,
                "--identity",
                "e2e",
                "--metrics-addr",
                "127.0.0.1:0",
                "--probe-image",
                "registry.invalid/fips-operator:e2e",
                "--resync",
                "5",
            ])
            .env("KUBECONFIG", &path)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the controller"),
    );

    // 4. Status and labels follow.
    let total = node_names.len();
    eventually(120, "policy status with every node in FIPS mode", || {
        let policies = policies.clone();
        async move {
            let s = policies.get("e2e-audit").await.ok()?.status?;
            (s.nodes.summary == format!("{total}/{total}")).then_some(())
        }
    })
    .await;
    for n in &node_names {
        eventually(60, &format!("label on node {n}"), || {
            let nodes = nodes.clone();
            let n = n.clone();
            async move {
                (nodes.get(&n).await.ok()?.labels().get(NODE_FIPS_LABEL)? == "true").then_some(())
            }
        })
        .await;
    }
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), NS);
    let ds = eventually(60, "the probe DaemonSet", || {
        let d = daemonsets.clone();
        async move { d.get("fips-operator-probe").await.ok() }
    })
    .await;
    assert_eq!(ds.owner_references()[0].name, "e2e-audit");

    // 5. A node leaves FIPS mode: its label and the policy's count follow.
    let first = &node_names[0];
    write_status(&statuses, first, false).await;
    eventually(60, &format!("node {first} labelled false"), || {
        let nodes = nodes.clone();
        let n = first.clone();
        async move {
            (nodes.get(&n).await.ok()?.labels().get(NODE_FIPS_LABEL)? == "false").then_some(())
        }
    })
    .await;
    eventually(60, "policy counting one node fewer", || {
        let policies = policies.clone();
        async move {
            let s = policies.get("e2e-audit").await.ok()?.status?;
            (s.nodes.fips_enabled == total as i64 - 1).then_some(())
        }
    })
    .await;

    // 6. Clean up: the policy (the DaemonSet goes with it), the statuses, the labels.
    drop(_controller);
    let _ = policies.delete("e2e-audit", &DeleteParams::default()).await;
    for n in &node_names {
        let _ = statuses.delete(n, &DeleteParams::default()).await;
        let _ = nodes
            .patch(
                n,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {NODE_FIPS_LABEL: null}}})),
            )
            .await;
    }
    let _ = namespaces.delete(NS, &DeleteParams::default()).await;
}
