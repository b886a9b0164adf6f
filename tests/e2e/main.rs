//! End-to-end against a real cluster (kind, k3d, or any kubeconfig). Runs only when
//! `FIPS_E2E_KUBECONFIG` names a kubeconfig; without it the suite prints that it has nothing
//! to run against and passes (there is no API server on the CI machines). With it,
//! it changes the cluster: it installs the operator with its Helm chart, enforces a policy,
//! checks admission, the node probe and the controller, then uninstalls everything and checks
//! that nothing is left behind. It refuses to start on a cluster where fips-operator is
//! already installed.
//!
//! Steps (each prints an `e2e: [n/7]` line):
//! 1. `helm install fips-operator charts/fips-operator -n fips-operator --create-namespace
//!    --wait` with the image under test (the namespace labelled for Pod Security `privileged`,
//!    as the chart's NOTES ask); the webhook configuration gets its caBundle from the
//!    controller (self-managed certificates) and the controller Deployment becomes available.
//! 2. An Enforce FipsPolicy selecting namespaces labelled `fips.operator.dev/e2e=enforce`,
//!    and such a namespace.
//! 3. A pod with a non-FIPS image is denied, naming the image, the offending binary and the
//!    policy (after "a scan is in progress, retry shortly" while the image is scanned); the
//!    same image in a Deployment is denied too, and in a namespace the policy does not select
//!    it is admitted.
//! 4. A pod with a FIPS-capable image (the operator's own by default) is admitted.
//! 5. Every node has a FipsStatus written by the probe DaemonSet.
//! 6. The controller keeps the policy status (node counts, conditions), the node labels and
//!    the probe DaemonSet (owned by the policy, least privilege) true.
//! 7. Uninstall (the policy, the test namespace, `helm uninstall`, the CRDs, the namespace),
//!    also when a step failed (after printing diagnostics), and check that no FipsPolicy,
//!    FipsStatus or FipsImageReport, no webhook configuration, no cluster RBAC of the chart,
//!    no node label or taint and no namespace is left.
//!
//! Environment: `FIPS_E2E_KUBECONFIG` (the cluster), `FIPS_E2E_IMAGE` (the operator image the
//! cluster pulls, a full reference; required with a cluster), `FIPS_E2E_NONFIPS_IMAGE` (an
//! image that is not FIPS-capable, by digest or by a tag the webhook resolves through the
//! registry; required), `FIPS_E2E_NONFIPS_BINARY` (the offending binary's path in that image,
//! which the denial must name; optional), `FIPS_E2E_FIPS_IMAGE` (default: `FIPS_E2E_IMAGE`),
//! `FIPS_E2E_INSECURE_REGISTRY` (a registry host the controller pulls from over plain HTTP,
//! passed as `--insecure-registry`), `FIPS_E2E_HELM` (default `helm`), `FIPS_E2E_KEEP=1`
//! (skip the uninstall, for debugging).
//!
//! On kind with a local registry, as `.github/workflows/e2e.yml` runs it:
//!
//! ```sh
//! scripts/e2e/kind-with-registry.sh
//! eval "$(scripts/e2e/build-images.sh)"
//! FIPS_E2E_KUBECONFIG=$HOME/.kube/config cargo test --test e2e -- --nocapture
//! ```
//!
//! (`scripts/e2e/run-kind.sh` runs the three, and `scripts/e2e/dump.sh` on failure.)

mod cleanup;
mod cluster;
mod settings;

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use fips_operator::api::{
    condition, FipsImageReport, FipsPolicy, FipsStatus, ImagePhase, NODE_FIPS_LABEL, NODE_TAINT_KEY,
};
use fips_operator::cluster::facts::node_fips;
use futures::FutureExt;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use cluster::{
    create_pod, digest_in_denial, dump_diagnostics, eventually, get_opt, helm, refusal,
    report_line, reports_for, step, test_pod, Answer, Refusal,
};
use settings::{chart_image, digest, Settings};

/// The Helm release, its namespace and the objects the chart names after it.
pub const RELEASE: &str = "fips-operator";
pub const OPERATOR_NS: &str = "fips-operator";
pub const CONTROLLER_DEPLOYMENT: &str = "fips-operator-controller";
pub const WEBHOOK_CONFIG: &str = "fips-operator";
/// The webhook's name inside the configuration, as the API server quotes it in denials.
pub const WEBHOOK_NAME: &str = "workloads.fips.operator.dev";
/// Labels every object of the chart carries (the release is `fips-operator`).
pub const CHART_LABELS: &str =
    "app.kubernetes.io/name=fips-operator,app.kubernetes.io/instance=fips-operator";
/// The namespace the policy selects, by this label.
pub const TEST_NS: &str = "fips-e2e-enforced";
pub const TEST_NS_LABEL: (&str, &str) = ("fips.operator.dev/e2e", "enforce");
pub const POLICY: &str = "e2e-enforce";
/// The field manager of the suite's own writes.
pub const MANAGER: &str = "fips-operator-e2e";

/// How long an image may take to be scanned before its pod gets its final answer.
const ADMISSION_SECS: u64 = 300;
/// The chart's probe interval (300 s) times three: the controller's `--node-stale-after`.
const NODE_STALE_AFTER: SignedDuration = SignedDuration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_operator_enforces_reports_and_uninstalls_cleanly() {
    let settings = match Settings::from_env(|k| std::env::var(k).ok()) {
        Ok(None) => {
            eprintln!(
                "e2e: FIPS_E2E_KUBECONFIG is not set; nothing to run against (see the README)"
            );
            return;
        }
        Ok(Some(s)) => s,
        Err(e) => panic!("e2e: {e}"),
    };
    let client = cluster::client(&settings.kubeconfig).await;
    let nodes = preflight(&settings, &client).await;

    let run = AssertUnwindSafe(run_steps(&settings, &client, &nodes))
        .catch_unwind()
        .await;
    if let Err(panic) = &run {
        step(format!("FAILED: {}", panic_text(panic.as_ref())));
        dump_diagnostics(&client).await;
    }
    if settings.keep {
        step("FIPS_E2E_KEEP is set: leaving the operator, the policy and the test namespace installed");
        if let Err(panic) = run {
            std::panic::resume_unwind(panic);
        }
        return;
    }
    let leftovers = cleanup::uninstall_and_verify(&settings, &client).await;
    match run {
        Err(panic) => {
            if !leftovers.is_empty() {
                step(format!(
                    "the cleanup after the failure also left:\n  {}",
                    leftovers.join("\n  ")
                ));
            }
            std::panic::resume_unwind(panic);
        }
        Ok(()) => assert!(
            leftovers.is_empty(),
            "the uninstall left things behind:\n  {}",
            leftovers.join("\n  ")
        ),
    }
    step("passed: installed, enforced, reported, uninstalled cleanly");
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Checks that Helm runs and that the cluster has no fips-operator yet (the suite installs and
/// removes it, and must never touch an installation it did not make). Returns the nodes.
async fn preflight(settings: &Settings, client: &Client) -> Vec<String> {
    let version = helm(settings, vec!["version".into(), "--short".into()])
        .await
        .unwrap_or_else(|e| panic!("e2e: Helm is needed: {e}"));
    step(format!(
        "cluster from {}, helm {}, operator image {}",
        settings.kubeconfig,
        version.trim(),
        settings.image
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("e2e: cannot list the cluster's nodes: {e}"))
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(!names.is_empty(), "e2e: the cluster has no nodes");
    step(format!("nodes: {}", names.join(", ")));

    let mut present = Vec::new();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [OPERATOR_NS, TEST_NS] {
        if get_opt(&namespaces, ns)
            .await
            .expect("namespaces")
            .is_some()
        {
            present.push(format!("namespace {ns}"));
        }
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fips_operator::api::crds() {
        let name = crd.name_any();
        if get_opt(&crds, &name).await.expect("CRDs").is_some() {
            present.push(format!("CRD {name}"));
        }
    }
    let vwc: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    if get_opt(&vwc, WEBHOOK_CONFIG)
        .await
        .expect("webhook configurations")
        .is_some()
    {
        present.push(format!("ValidatingWebhookConfiguration {WEBHOOK_CONFIG}"));
    }
    assert!(
        present.is_empty(),
        "e2e: the cluster already has fips-operator objects ({}). The suite installs and removes \
         the operator itself and never touches an installation it did not make: use a cluster \
         without it, or remove it first (helm uninstall {RELEASE} -n {OPERATOR_NS}; kubectl \
         delete crd fipspolicies.fips.operator.dev fipsstatuses.fips.operator.dev \
         fipsimagereports.fips.operator.dev; kubectl delete namespace {OPERATOR_NS} {TEST_NS})",
        present.join(", ")
    );
    names
}

async fn run_steps(settings: &Settings, client: &Client, nodes: &[String]) {
    install(settings, client).await;
    apply_policy(client).await;
    nonfips_denied(settings, client).await;
    fips_admitted(settings, client).await;
    node_statuses(client, nodes).await;
    controller_checks(settings, client, nodes).await;
}

/// Step 1: the chart, its webhook certificate and the controller.
async fn install(settings: &Settings, client: &Client) {
    let (repository, tag) = chart_image(&settings.image).expect("checked in Settings");
    step(format!(
        "[1/7] helm install {RELEASE} charts/fips-operator -n {OPERATOR_NS} (image.repository={repository}, image.tag={tag}{})",
        settings
            .insecure_registry
            .as_deref()
            .map(|r| format!(", extraArgs=[--insecure-registry, {r}]"))
            .unwrap_or_default()
    ));
    // The chart's NOTES: the probe DaemonSet needs hostPID, read-only host paths and
    // SYS_PTRACE, so where Pod Security Admission enforces baseline or restricted the
    // namespace must be labelled privileged. Created here with the label, before the chart.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            OPERATOR_NS,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": OPERATOR_NS, "labels": {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "privileged",
                    "pod-security.kubernetes.io/audit": "privileged",
                }},
            })),
        )
        .await
        .unwrap_or_else(|e| panic!("creating namespace {OPERATOR_NS}: {e}"));

    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fips-operator");
    let mut args: Vec<String> = [
        "install",
        RELEASE,
        &chart.to_string_lossy(),
        "--namespace",
        OPERATOR_NS,
        "--create-namespace",
        "--wait",
        "--timeout",
        "5m0s",
        "--set-string",
        &format!("image.repository={repository}"),
        "--set-string",
        &format!("image.tag={tag}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(registry) = &settings.insecure_registry {
        args.push("--set-string".into());
        args.push(format!("extraArgs={{--insecure-registry,{registry}}}"));
    }
    let started = Instant::now();
    let out = helm(settings, args)
        .await
        .unwrap_or_else(|e| panic!("helm install: {e}"));
    step(format!(
        "  installed in {} s; helm says:\n{}",
        started.elapsed().as_secs(),
        out.trim_end()
    ));

    // The chart's crds/ are installed by Helm before the templates.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fips_operator::api::crds() {
        let name = crd.name_any();
        eventually(60, &format!("CRD {name} established"), || {
            let (crds, name) = (crds.clone(), name.clone());
            async move {
                let c = get_opt(&crds, &name).await?.ok_or("not there")?;
                let established = c
                    .status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established
                    .then_some(())
                    .ok_or_else(|| format!("conditions {:?}", c.status))
            }
        })
        .await;
    }

    // Self-managed certificates: the controller writes the caBundle.
    let vwc: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let cfg = eventually(
        180,
        &format!("a caBundle in ValidatingWebhookConfiguration {WEBHOOK_CONFIG}"),
        || {
            let vwc = vwc.clone();
            async move {
                let c = get_opt(&vwc, WEBHOOK_CONFIG)
                    .await?
                    .ok_or("the configuration does not exist")?;
                let webhooks = c.webhooks.clone().unwrap_or_default();
                let empty: Vec<&str> = webhooks
                    .iter()
                    .filter(|w| {
                        w.client_config
                            .ca_bundle
                            .as_ref()
                            .is_none_or(|b| b.0.is_empty())
                    })
                    .map(|w| w.name.as_str())
                    .collect();
                if webhooks.is_empty() || !empty.is_empty() {
                    return Err(format!(
                        "webhooks without a caBundle: {empty:?} of {}",
                        webhooks.len()
                    ));
                }
                Ok(c)
            }
        },
    )
    .await;
    let webhooks = cfg.webhooks.unwrap_or_default();
    assert!(
        webhooks.iter().any(|w| w.name == WEBHOOK_NAME),
        "the configuration has no webhook {WEBHOOK_NAME}: {:?}",
        webhooks.iter().map(|w| &w.name).collect::<Vec<_>>()
    );
    step(format!(
        "  webhook configuration {WEBHOOK_CONFIG}: caBundle written ({} bytes)",
        webhooks[0]
            .client_config
            .ca_bundle
            .as_ref()
            .map_or(0, |b| b.0.len())
    ));

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NS);
    let chart_image_ref = format!("{repository}:{tag}");
    let d = eventually(
        180,
        &format!("Deployment {OPERATOR_NS}/{CONTROLLER_DEPLOYMENT} available"),
        || {
            let deployments = deployments.clone();
            async move {
                let d = get_opt(&deployments, CONTROLLER_DEPLOYMENT)
                    .await?
                    .ok_or("the Deployment does not exist")?;
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let status = d.status.clone().unwrap_or_default();
                let available = status
                    .conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Available" && c.status == "True");
                if available
                    && status.available_replicas == Some(want)
                    && status.updated_replicas == Some(want)
                {
                    Ok(d)
                } else {
                    Err(format!(
                        "want {want} replicas, status {}",
                        serde_json::to_string(&status).unwrap_or_default()
                    ))
                }
            }
        },
    )
    .await;
    let images: Vec<String> = d
        .spec
        .iter()
        .flat_map(|s| s.template.spec.iter())
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| c.image.clone())
        .collect();
    assert_eq!(
        images,
        vec![chart_image_ref.clone()],
        "the controller runs the image under test"
    );
    step(format!(
        "  controller available: {} replicas of {chart_image_ref}",
        d.status.and_then(|s| s.available_replicas).unwrap_or(0)
    ));
}

/// Step 2: the Enforce policy and the namespace it selects, known to the controller.
async fn apply_policy(client: &Client) {
    step(format!(
        "[2/7] FipsPolicy {POLICY} (Enforce, unknownAction Deny) selecting namespaces labelled {}={}, and namespace {TEST_NS}",
        TEST_NS_LABEL.0, TEST_NS_LABEL.1
    ));
    let apply = PatchParams::apply(MANAGER).force();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            TEST_NS,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": TEST_NS, "labels": {TEST_NS_LABEL.0: TEST_NS_LABEL.1}},
            })),
        )
        .await
        .unwrap_or_else(|e| panic!("creating namespace {TEST_NS}: {e}"));
    let policies: Api<FipsPolicy> = Api::all(client.clone());
    policies
        .patch(
            POLICY,
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
                "metadata": {"name": POLICY},
                "spec": {
                    "mode": "Enforce",
                    "namespaceSelector": {"matchLabels": {TEST_NS_LABEL.0: TEST_NS_LABEL.1}},
                    "nodeAction": "Label",
                    "images": {"unknownAction": "Deny"},
                },
            })),
        )
        .await
        .unwrap_or_else(|e| panic!("applying FipsPolicy {POLICY}: {e}"));

    // The lease holder has seen the policy and the namespace it selects.
    eventually(
        120,
        &format!("a status on FipsPolicy {POLICY} that selects {TEST_NS}"),
        || {
            let policies = policies.clone();
            async move {
                let p = get_opt(&policies, POLICY)
                    .await?
                    .ok_or("the policy is gone")?;
                let status = p.status.clone().ok_or("no status yet")?;
                let workloads = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == condition::WORKLOADS_COMPLIANT);
                let selected = workloads.is_some_and(|c| c.reason != "NoNamespacesSelected");
                if status.observed_generation == p.metadata.generation && selected {
                    Ok(())
                } else {
                    Err(format!(
                        "observedGeneration {:?} (generation {:?}), {}: {:?}",
                        status.observed_generation,
                        p.metadata.generation,
                        condition::WORKLOADS_COMPLIANT,
                        workloads
                    ))
                }
            }
        },
    )
    .await;
    step("  the controller reports on the policy");
}

/// Every webhook replica decides from its own caches: before a real attempt counts, the
/// policy and the namespace's labels must have reached them. Server-side dry runs (decided
/// the same, without requesting scans) until our webhook refuses several in a row.
async fn webhook_knows_the_policy(pods: &Api<Pod>, pod: &Pod) {
    const IN_A_ROW: u32 = 4;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut streak = 0;
    loop {
        let answer = create_pod(pods, pod, true).await;
        let ours = matches!(&answer, Answer::Refused { message, .. }
            if matches!(refusal(message), Refusal::Scanning | Refusal::NotFips | Refusal::CannotJudge));
        streak = if ours { streak + 1 } else { 0 };
        if streak >= IN_A_ROW {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 120 s waiting for the webhook to apply FipsPolicy {POLICY} in {TEST_NS} (dry runs); last answer: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(if ours { 500 } else { 2000 })).await;
    }
}

/// Creates `pod` until `done` says the answer is final (`Some(Ok)`: expected, `Some(Err)`:
/// wrong), printing every new kind of answer; fails at the deadline with the last answer.
async fn admission_until<T>(
    pods: &Api<Pod>,
    pod: &Pod,
    what: &str,
    hint: &str,
    mut done: impl FnMut(&Answer) -> Option<Result<T, String>>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(ADMISSION_SECS);
    let started = Instant::now();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    loop {
        let answer = create_pod(pods, pod, false).await;
        let kind = match &answer {
            Answer::Admitted => "admitted".to_string(),
            Answer::Refused { message, .. } => format!("{:?}", refusal(message)),
            Answer::Failed(_) => "no answer".to_string(),
        };
        if seen.insert(kind) {
            step(format!(
                "  after {} s: {answer}",
                started.elapsed().as_secs()
            ));
        }
        match done(&answer) {
            Some(Ok(v)) => return v,
            Some(Err(e)) => panic!("{what}: {e}"),
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no final answer within {ADMISSION_SECS} s; last answer: {answer}{hint}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

async fn delete_pod(pods: &Api<Pod>, name: &str) {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    match pods.delete(name, &params).await {
        Ok(_) => {}
        Err(e) if cluster::not_found(&e) => {}
        Err(e) => step(format!("  could not delete pod {name}: {e}")),
    }
}

/// The reports that answer for `image` (pinned, or `digest` as its tag resolved), printed;
/// the first that is scanned.
async fn scanned_report(
    client: &Client,
    image: &str,
    digest: Option<&str>,
) -> Option<FipsImageReport> {
    let reports: Api<FipsImageReport> = Api::all(client.clone());
    let list = reports
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("listing FipsImageReports: {e}"));
    let pinned = match digest {
        Some(d) if !image.contains('@') => format!("{image}@{d}"),
        _ => image.to_string(),
    };
    let found: Vec<FipsImageReport> = reports_for(&list.items, &pinned).cloned().collect();
    if found.is_empty() {
        step(format!("  no FipsImageReport answers for {pinned}"));
    }
    for r in &found {
        step(format!("  FipsImageReport {}", report_line(r)));
    }
    found.into_iter().find(|r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.phase == ImagePhase::Scanned)
    })
}

/// Step 3: a non-FIPS image is denied, with a message naming what is wrong.
async fn nonfips_denied(settings: &Settings, client: &Client) {
    let image = &settings.nonfips_image;
    step(format!(
        "[3/7] a pod with the non-FIPS image {image} is denied in {TEST_NS} (retried while the image is scanned, up to {ADMISSION_SECS} s)"
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), TEST_NS);
    let name = "e2e-nonfips";
    let pod = test_pod(TEST_NS, name, image);
    webhook_knows_the_policy(&pods, &pod).await;
    let hint = if digest(image).is_none() {
        format!(
            "\nhint: {image} is named by tag: the webhook resolves it to a digest through the \
             registry (anonymously; FIPS_E2E_INSECURE_REGISTRY for a plain-HTTP one) before it \
             can request a scan; pinning FIPS_E2E_NONFIPS_IMAGE by digest takes the registry \
             out of the admission path"
        )
    } else {
        String::new()
    };
    // An admitted pod fails the test at once (the cleanup deletes it with its namespace).
    let (code, message) = admission_until(&pods, &pod, "the non-FIPS pod", &hint, |a| match a {
        Answer::Admitted => Some(Err(format!(
            "{image} was admitted in {TEST_NS} under the Enforce policy {POLICY}"
        ))),
        Answer::Refused { code, message } if refusal(message) == Refusal::NotFips => {
            Some(Ok((*code, message.clone())))
        }
        _ => None,
    })
    .await;
    // `…: container "app" image IMAGE is not FIPS-capable: REASONS; fix: … (details: kubectl
    // get fir sha256-… -o yaml) [FipsPolicy …]`; a tag is named as the webhook resolved it,
    // `IMAGE@sha256:…`.
    let resolved = digest_in_denial(&message, image);
    let named = match (&resolved, digest(image)) {
        (Some(d), None) => format!("{image}@{d}"),
        _ => image.clone(),
    };
    let mut expect = vec![
        format!("Pod {TEST_NS}/{name}: container \"app\" image {named} is not FIPS-capable: "),
        format!("[FipsPolicy {POLICY}]"),
        "kubectl get fir sha256-".to_string(),
    ];
    if let Some(binary) = &settings.nonfips_binary {
        expect.push(format!("{binary}: "));
    }
    for part in &expect {
        assert!(
            message.contains(part.as_str()),
            "the denial does not say {part:?}:\n{message}"
        );
    }
    assert_eq!(code, 403, "a denial is 403 Forbidden: {message}");
    step("  denied, naming the container, the image, the offending binary and the policy");

    let report = scanned_report(client, image, resolved.as_deref())
        .await
        .unwrap_or_else(|| panic!("no scanned FipsImageReport for {named}"));
    let status = report.status.clone().unwrap_or_default();
    assert_eq!(
        status.outcome.as_deref(),
        Some("non-compliant"),
        "{}",
        report_line(&report)
    );
    if let Some(binary) = &settings.nonfips_binary {
        assert!(
            status.non_compliant.iter().any(|b| &b.path == binary),
            "the report does not list {binary} as non-compliant: {}",
            report_line(&report)
        );
    }

    // Workload templates are judged as pods are (dry run: nothing is created).
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), TEST_NS);
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": TEST_NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": pod.spec.clone(),
            },
        },
    }))
    .expect("a valid Deployment");
    let params = PostParams {
        dry_run: true,
        field_manager: Some(MANAGER.into()),
    };
    match deployments.create(&params, &deployment).await {
        Err(kube::Error::Api(s)) if refusal(&s.message) == Refusal::NotFips => {
            assert!(
                s.message.contains(&format!("Deployment {TEST_NS}/{name}: ")),
                "{}",
                s.message
            );
            step("  a Deployment with it is denied too (dry run)");
        }
        Err(e) => panic!("a Deployment with {image} in {TEST_NS} (dry run) is refused, but not as not FIPS-capable: {e}"),
        Ok(_) => panic!("a Deployment with {image} in {TEST_NS} is admitted (dry run)"),
    }

    // A namespace the policy does not select is not its business.
    let elsewhere: Api<Pod> = Api::namespaced(client.clone(), "default");
    let answer = create_pod(&elsewhere, &test_pod("default", name, image), true).await;
    assert_eq!(
        answer,
        Answer::Admitted,
        "{image} in namespace default, which {POLICY} does not select (dry run)"
    );
    step("  in namespace default, which the policy does not select, it is admitted (dry run)");
}

/// Step 4: a FIPS-capable image is admitted.
async fn fips_admitted(settings: &Settings, client: &Client) {
    let image = &settings.fips_image;
    step(format!(
        "[4/7] a pod with the FIPS image {image} is admitted in {TEST_NS} (retried while the image is scanned, up to {ADMISSION_SECS} s)"
    ));
    let pods: Api<Pod> = Api::namespaced(client.clone(), TEST_NS);
    let name = "e2e-fips";
    let pod = test_pod(TEST_NS, name, image);
    admission_until(&pods, &pod, "the FIPS pod", "", |a| match a {
        Answer::Admitted => Some(Ok(())),
        Answer::Refused { message, .. } if refusal(message) == Refusal::NotFips => Some(Err(
            format!("{image} is judged not FIPS-capable:\n{message}"),
        )),
        _ => None,
    })
    .await;
    delete_pod(&pods, name).await;
    // By tag, the reports that have seen it (the controller's pods run the same image).
    if let Some(report) = scanned_report(client, image, None).await {
        assert_eq!(
            report.status.as_ref().and_then(|s| s.outcome.as_deref()),
            Some("compliant"),
            "{}",
            report_line(&report)
        );
    }
    step("  admitted");
}

/// Step 5: the probe DaemonSet writes a FipsStatus per node (`kubectl get fipsstatus`).
async fn node_statuses(client: &Client, nodes: &[String]) {
    step(format!(
        "[5/7] a FipsStatus for each of the {} nodes, written by the probe DaemonSet (up to 300 s)",
        nodes.len()
    ));
    let statuses: Api<FipsStatus> = Api::all(client.clone());
    let found = eventually(300, "a FipsStatus for every node", || {
        let statuses = statuses.clone();
        async move {
            let list = statuses
                .list(&ListParams::default())
                .await
                .map_err(|e| format!("listing FipsStatuses: {e}"))?;
            let missing: Vec<&String> = nodes
                .iter()
                .filter(|n| {
                    !list.items.iter().any(|s| {
                        &s.name_any() == *n
                            && s.status
                                .as_ref()
                                .is_some_and(|st| !st.probe_time.is_empty())
                    })
                })
                .collect();
            if missing.is_empty() {
                Ok(list.items)
            } else {
                Err(format!("no probed status for {missing:?}"))
            }
        }
    })
    .await;
    for n in nodes {
        let s = found
            .iter()
            .find(|s| &s.name_any() == n)
            .expect("found above");
        assert_eq!(&s.spec.node_name, n, "FipsStatus {n} names its node");
        assert!(
            s.owner_references()
                .iter()
                .any(|o| o.kind == "Node" && &o.name == n),
            "FipsStatus {n} is owned by its Node: {:?}",
            s.owner_references()
        );
        let st = s.status.clone().unwrap_or_default();
        assert!(
            !st.probe_version.is_empty(),
            "FipsStatus {n} has a probe version"
        );
        let compliant = st
            .conditions
            .iter()
            .find(|c| c.type_ == condition::COMPLIANT)
            .map(|c| format!("{} ({})", c.status, c.reason))
            .unwrap_or_else(|| "-".into());
        step(format!(
            "  {n}: kernel FIPS {:?}, fips=1 {:?}, crypto policy {}, {} containers ({} non-compliant), Compliant {compliant}, probe {} at {}",
            st.kernel_fips_enabled,
            st.cmdline_fips,
            st.crypto_policy.as_deref().unwrap_or("-"),
            st.containers.len(),
            st.summary.non_compliant,
            st.probe_version,
            st.probe_time
        ));
    }
}

/// Step 6: what the installed controller keeps true from the probes' statuses.
async fn controller_checks(settings: &Settings, client: &Client, nodes: &[String]) {
    step("[6/7] the controller keeps the policy status, the node labels and the probe DaemonSet true");
    let statuses: Api<FipsStatus> = Api::all(client.clone());
    let policies: Api<FipsPolicy> = Api::all(client.clone());
    let node_api: Api<Node> = Api::all(client.clone());
    let total = nodes.len() as i64;

    // Which nodes the probes prove in FIPS mode, by the controller's own rule.
    let expected = || {
        let statuses = statuses.clone();
        async move {
            let list = statuses
                .list(&ListParams::default())
                .await
                .map_err(|e| format!("listing FipsStatuses: {e}"))?;
            let now = Timestamp::now();
            Ok::<Vec<(String, bool)>, String>(
                nodes
                    .iter()
                    .map(|n| {
                        let s = list.items.iter().find(|s| &s.name_any() == n);
                        (n.clone(), node_fips(s, now, NODE_STALE_AFTER) == Some(true))
                    })
                    .collect(),
            )
        }
    };

    eventually(
        180,
        &format!("FipsPolicy {POLICY} counting every node"),
        || {
            let policies = policies.clone();
            async move {
                let fips = expected().await?.iter().filter(|(_, f)| *f).count() as i64;
                let p = get_opt(&policies, POLICY)
                    .await?
                    .ok_or("the policy is gone")?;
                let s = p.status.clone().ok_or("no status")?;
                let nodes_compliant = s
                    .conditions
                    .iter()
                    .find(|c| c.type_ == condition::NODES_COMPLIANT)
                    .map(|c| c.status.clone());
                let want = if fips == total { "True" } else { "False" };
                if s.nodes.total == total
                    && s.nodes.fips_enabled == fips
                    && s.nodes.summary == format!("{fips}/{total}")
                    && nodes_compliant.as_deref() == Some(want)
                    && s.observed_generation == p.metadata.generation
                {
                    Ok(())
                } else {
                    Err(format!(
                        "want nodes {fips}/{total} and {} {want}; status {}",
                        condition::NODES_COMPLIANT,
                        serde_json::to_string(&s).unwrap_or_default()
                    ))
                }
            }
        },
    )
    .await;
    step("  policy status: every node counted, NodesCompliant as the probes say");

    for (n, fips) in expected().await.unwrap_or_else(|e| panic!("{e}")) {
        let want = if fips { "true" } else { "false" };
        eventually(
            120,
            &format!("{NODE_FIPS_LABEL}={want} on node {n}"),
            || {
                let (node_api, n) = (node_api.clone(), n.clone());
                async move {
                    let node = get_opt(&node_api, &n).await?.ok_or("the node is gone")?;
                    let label = node.labels().get(NODE_FIPS_LABEL).cloned();
                    let tainted = node
                        .spec
                        .iter()
                        .flat_map(|s| s.taints.iter().flatten())
                        .any(|t| t.key == NODE_TAINT_KEY);
                    if label.as_deref() == Some(want) && !tainted {
                        Ok(())
                    } else {
                        Err(format!(
                            "label {label:?}, taint {tainted} (nodeAction Label: none)"
                        ))
                    }
                }
            },
        )
        .await;
        step(format!("  node {n}: {NODE_FIPS_LABEL}={want}, not tainted"));
    }

    let (repository, tag) = chart_image(&settings.image).expect("checked in Settings");
    let probe_image = format!("{repository}:{tag}");
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), OPERATOR_NS);
    let probe = fips_operator::controller::daemonset::NAME;
    let ds = eventually(
        180,
        &format!("DaemonSet {OPERATOR_NS}/{probe} ready on every node"),
        || {
            let daemonsets = daemonsets.clone();
            async move {
                let ds = get_opt(&daemonsets, probe).await?.ok_or("not there")?;
                let s = ds.status.clone().unwrap_or_default();
                if s.desired_number_scheduled as i64 == total
                    && s.number_ready == s.desired_number_scheduled
                {
                    Ok(ds)
                } else {
                    Err(format!(
                        "status {}",
                        serde_json::to_string(&s).unwrap_or_default()
                    ))
                }
            }
        },
    )
    .await;
    assert!(
        ds.owner_references()
            .iter()
            .any(|o| o.kind == "FipsPolicy" && o.name == POLICY),
        "the probe DaemonSet is owned by FipsPolicy {POLICY}: {:?}",
        ds.owner_references()
    );
    let spec = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .expect("a pod template");
    assert_eq!(
        spec.host_pid,
        Some(true),
        "the probe sees the node's processes"
    );
    for c in &spec.containers {
        assert_eq!(
            c.image.as_deref(),
            Some(probe_image.as_str()),
            "the probe runs the chart's image"
        );
        let sc = c.security_context.clone().unwrap_or_default();
        assert_ne!(sc.privileged, Some(true), "the probe is not privileged");
        assert_eq!(
            sc.allow_privilege_escalation,
            Some(false),
            "no privilege escalation"
        );
    }
    step(format!(
        "  probe DaemonSet owned by {POLICY}, ready on {total} nodes, hostPID, not privileged"
    ));
}
