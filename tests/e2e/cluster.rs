//! Helpers around the cluster: the client, waiting with deadlines, Helm, admission attempts
//! and their answers, and the diagnostics printed when a step fails.

use std::future::Future;
use std::time::{Duration, Instant};

use fips_operator::api::{FipsImageReport, FipsPolicy, FipsStatus};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};

use crate::settings::Settings;
use crate::{CONTROLLER_DEPLOYMENT, OPERATOR_NS, TEST_NS, WEBHOOK_CONFIG, WEBHOOK_NAME};

pub async fn client(path: &str) -> Client {
    fips_operator::install_crypto_provider();
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("FIPS_E2E_KUBECONFIG={path} is not a readable kubeconfig: {e}"));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("FIPS_E2E_KUBECONFIG={path} is not usable: {e}"));
    Client::try_from(config).expect("a client for the kubeconfig")
}

/// Prints one progress line; CI logs read as a sequence of these.
pub fn step(text: impl AsRef<str>) {
    eprintln!("e2e: {}", text.as_ref());
}

/// Polls `check` every 2 s until it returns `Ok`, for at most `secs`. On timeout, `Err` with
/// the last thing `check` saw (its `Err`).
pub async fn wait_for<T, F, Fut>(secs: u64, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// [`wait_for`], failing the test on timeout with `what` and the last state seen.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    match wait_for(secs, check).await {
        Ok(v) => v,
        Err(last) => panic!("timed out after {secs} s waiting for {what}; last seen: {last}"),
    }
}

/// True for a 404 from the API server (the object, or its kind, does not exist).
pub fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// `get` that reads a 404 as `None`; other errors as text.
pub async fn get_opt<K>(api: &Api<K>, name: &str) -> Result<Option<K>, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(format!("reading {name}: {e}")),
    }
}

/// Deletes `name`, quietly when it is already gone; other errors are returned as text.
pub async fn delete_quietly<K>(api: &Api<K>, name: &str) -> Result<(), String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(format!("deleting {name}: {e}")),
    }
}

/// Runs Helm with the suite's kubeconfig, off the async workers. `Err` carries the command
/// line and Helm's output.
pub async fn helm(settings: &Settings, args: Vec<String>) -> Result<String, String> {
    let program = settings.helm.clone();
    let kubeconfig = settings.kubeconfig.clone();
    tokio::task::spawn_blocking(move || {
        let shown = format!("{program} {}", args.join(" "));
        let out = std::process::Command::new(&program)
            .args(&args)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run `{shown}`: {e} (install Helm 3, or set FIPS_E2E_HELM to its path)"
                )
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "`{shown}` failed ({}):\n{stdout}{stderr}",
                out.status
            ))
        }
    })
    .await
    .map_err(|e| format!("the helm task failed: {e}"))?
}

/// How the API server answered a pod creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Admitted,
    /// Refused (by the webhook, or by anything else on the way), with the API server's
    /// message and code.
    Refused {
        code: u16,
        message: String,
    },
    /// No answer from the API server at all (connection, TLS, timeout).
    Failed(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Admitted => write!(f, "admitted"),
            Answer::Refused { code, message } => write!(f, "refused ({code}): {message}"),
            Answer::Failed(e) => write!(f, "no answer: {e}"),
        }
    }
}

/// What a refusal says, by the stable parts of the messages in `src/policy/admission.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// "… has no FIPS verdict yet: a scan is in progress, retry shortly" (unknownAction Deny).
    Scanning,
    /// "… is not FIPS-capable: <reasons>; fix: …".
    NotFips,
    /// "… cannot be judged: <why> …" (a failed or partial scan).
    CannotJudge,
    /// The API server could not call the webhook (not ready yet, certificate not trusted yet).
    WebhookUnreachable,
    Other,
}

pub fn refusal(message: &str) -> Refusal {
    let ours = message.contains(WEBHOOK_NAME) && message.contains("denied the request");
    if ours && message.contains("a scan is in progress, retry shortly") {
        Refusal::Scanning
    } else if ours && message.contains("is not FIPS-capable") {
        Refusal::NotFips
    } else if ours && message.contains("cannot be judged") {
        Refusal::CannotJudge
    } else if message.contains("failed calling webhook") {
        Refusal::WebhookUnreachable
    } else {
        Refusal::Other
    }
}

pub async fn create_pod(pods: &Api<Pod>, pod: &Pod, dry_run: bool) -> Answer {
    let params = PostParams {
        dry_run,
        field_manager: Some(crate::MANAGER.into()),
    };
    match pods.create(&params, pod).await {
        Ok(_) => Answer::Admitted,
        Err(kube::Error::Api(s)) if s.is_already_exists() => Answer::Admitted,
        Err(kube::Error::Api(s)) => Answer::Refused {
            code: s.code,
            message: s.message.clone(),
        },
        Err(e) => Answer::Failed(e.to_string()),
    }
}

/// A pod that runs `image` once, as restricted as any image allows.
pub fn test_pod(namespace: &str, name: &str, image: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": crate::MANAGER},
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "app",
                "image": image,
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    }))
    .expect("a valid Pod")
}

/// The reports that answer for `image`: by its digest (named after it, or listing it as an
/// index digest) when it is pinned, else those that have seen the tag (as written, or as the
/// webhook names a resolved tag: `tag@sha256:…`).
pub fn reports_for<'a>(
    reports: &'a [FipsImageReport],
    image: &'a str,
) -> impl Iterator<Item = &'a FipsImageReport> + 'a {
    let digest = image.split_once('@').map(|(_, d)| d);
    reports.iter().filter(move |r| {
        let status = r.status.as_ref();
        match digest {
            Some(d) => {
                r.spec.digest == d || status.is_some_and(|s| s.index_digests.iter().any(|x| x == d))
            }
            None => status.is_some_and(|s| {
                s.images.iter().any(|x| {
                    x == image
                        || x.strip_prefix(image)
                            .is_some_and(|rest| rest.starts_with('@'))
                })
            }),
        }
    })
}

/// The digest a denial names `image` with: the image itself when it is pinned, else the
/// webhook's resolution of its tag (`container "app" image repo:tag@sha256:… is not …`).
pub fn digest_in_denial(message: &str, image: &str) -> Option<String> {
    if let Some((_, d)) = image.split_once('@') {
        return Some(d.to_string());
    }
    let at = message.find(&format!(" image {image}@sha256:"))? + " image ".len() + image.len() + 1;
    let hex: String = message[at + "sha256:".len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() == 64).then(|| format!("sha256:{hex}"))
}

pub fn report_line(r: &FipsImageReport) -> String {
    let s = r.status.clone().unwrap_or_default();
    format!(
        "{} images={:?} phase={:?} outcome={} scanner={} reason={} reasons={:?} binaries={}/{} capable, {} not",
        r.name_any(),
        s.images,
        s.phase,
        s.outcome.as_deref().unwrap_or("-"),
        s.scanner_version,
        s.reason.as_deref().unwrap_or("-"),
        s.reasons.iter().take(3).collect::<Vec<_>>(),
        s.summary.fips_capable,
        s.summary.binaries,
        s.summary.not_fips_capable,
    )
}

/// Prints what a failing run needs to be understood from its log alone: the operator's
/// objects, its pods and their logs, events. Best effort: every error is printed, none fails.
pub async fn dump_diagnostics(client: &Client) {
    eprintln!("e2e: ---------------- diagnostics (before cleanup) ----------------");
    let policies: Api<FipsPolicy> = Api::all(client.clone());
    match policies.list(&ListParams::default()).await {
        Ok(l) => {
            for p in l.items {
                eprintln!(
                    "e2e: FipsPolicy {} spec={} status={}",
                    p.name_any(),
                    serde_json::to_string(&p.spec).unwrap_or_default(),
                    serde_json::to_string_pretty(&p.status).unwrap_or_default()
                );
            }
        }
        Err(e) => eprintln!("e2e: FipsPolicies: {e}"),
    }
    let statuses: Api<FipsStatus> = Api::all(client.clone());
    match statuses.list(&ListParams::default()).await {
        Ok(l) => {
            for s in l.items {
                let st = s.status.clone().unwrap_or_default();
                eprintln!(
                    "e2e: FipsStatus {} kernel={:?} cmdline={:?} cryptoPolicy={:?} probe={} at {} containers={} summary={} conditions={}",
                    s.name_any(),
                    st.kernel_fips_enabled,
                    st.cmdline_fips,
                    st.crypto_policy,
                    st.probe_version,
                    st.probe_time,
                    st.containers.len(),
                    serde_json::to_string(&st.summary).unwrap_or_default(),
                    serde_json::to_string(&st.conditions).unwrap_or_default()
                );
            }
        }
        Err(e) => eprintln!("e2e: FipsStatuses: {e}"),
    }
    let reports: Api<FipsImageReport> = Api::all(client.clone());
    match reports.list(&ListParams::default()).await {
        Ok(l) => {
            for r in &l.items {
                eprintln!("e2e: FipsImageReport {}", report_line(r));
            }
        }
        Err(e) => eprintln!("e2e: FipsImageReports: {e}"),
    }
    let vwc: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    match vwc.get(WEBHOOK_CONFIG).await {
        Ok(c) => {
            for w in c.webhooks.iter().flatten() {
                eprintln!(
                    "e2e: ValidatingWebhookConfiguration {WEBHOOK_CONFIG} webhook {} caBundle {} bytes, failurePolicy {:?}",
                    w.name,
                    w.client_config.ca_bundle.as_ref().map_or(0, |b| b.0.len()),
                    w.failure_policy
                );
            }
        }
        Err(e) => eprintln!("e2e: ValidatingWebhookConfiguration {WEBHOOK_CONFIG}: {e}"),
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), OPERATOR_NS);
    match deployments.get(CONTROLLER_DEPLOYMENT).await {
        Ok(d) => eprintln!(
            "e2e: Deployment {CONTROLLER_DEPLOYMENT} status={}",
            serde_json::to_string(&d.status).unwrap_or_default()
        ),
        Err(e) => eprintln!("e2e: Deployment {CONTROLLER_DEPLOYMENT}: {e}"),
    }
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), OPERATOR_NS);
    match daemonsets.list(&ListParams::default()).await {
        Ok(l) => {
            for d in l.items {
                eprintln!(
                    "e2e: DaemonSet {} status={}",
                    d.name_any(),
                    serde_json::to_string(&d.status).unwrap_or_default()
                );
            }
        }
        Err(e) => eprintln!("e2e: DaemonSets: {e}"),
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), OPERATOR_NS);
    match pods.list(&ListParams::default()).await {
        Ok(l) => {
            for p in l.items {
                let name = p.name_any();
                let status = p.status.clone().unwrap_or_default();
                eprintln!(
                    "e2e: Pod {OPERATOR_NS}/{name} on {} phase {} containers {}",
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_default(),
                    status.phase.unwrap_or_default(),
                    serde_json::to_string(&status.container_statuses).unwrap_or_default()
                );
                for c in p.spec.iter().flat_map(|s| &s.containers) {
                    let params = LogParams {
                        container: Some(c.name.clone()),
                        tail_lines: Some(150),
                        ..LogParams::default()
                    };
                    match pods.logs(&name, &params).await {
                        Ok(log) => {
                            eprintln!("e2e: --- logs of {name}/{} (last 150 lines)", c.name);
                            eprintln!("{log}");
                        }
                        Err(e) => eprintln!("e2e: logs of {name}/{}: {e}", c.name),
                    }
                }
            }
        }
        Err(e) => eprintln!("e2e: Pods in {OPERATOR_NS}: {e}"),
    }
    for ns in [OPERATOR_NS, TEST_NS, "default"] {
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        match events.list(&ListParams::default()).await {
            Ok(l) => {
                let n = l.items.len();
                for e in l.items.iter().skip(n.saturating_sub(60)) {
                    eprintln!(
                        "e2e: Event {ns} {} {} {}/{}: {}",
                        e.type_.as_deref().unwrap_or("-"),
                        e.reason.as_deref().unwrap_or("-"),
                        e.involved_object.kind.as_deref().unwrap_or("-"),
                        e.involved_object.name.as_deref().unwrap_or("-"),
                        e.message.as_deref().unwrap_or("").trim()
                    );
                }
            }
            Err(e) => eprintln!("e2e: Events in {ns}: {e}"),
        }
    }
    eprintln!("e2e: ---------------- end of diagnostics ----------------");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(text: &str) -> String {
        format!("admission webhook \"{WEBHOOK_NAME}\" denied the request: {text}")
    }

    #[test]
    fn refusals_are_told_apart_by_the_stable_parts_of_the_messages() {
        let image = "kind-registry:5000/nonfips:e2e@sha256:00";
        assert_eq!(
            refusal(&denied(&format!(
                "Pod fips-e2e-enforced/e2e-nonfips: container \"app\" image {image} has no FIPS \
                 verdict yet: a scan is in progress, retry shortly [FipsPolicy e2e-enforce]"
            ))),
            Refusal::Scanning
        );
        assert_eq!(
            refusal(&denied(&format!(
                "Pod fips-e2e-enforced/e2e-nonfips: container \"app\" image {image} is not \
                 FIPS-capable: usr/local/bin/nonfips-sha256: pclntab crypto/sha256 (Go standard \
                 library crypto outside a validated module); fix: rebuild it (details: kubectl \
                 get fir sha256-00 -o yaml) [FipsPolicy e2e-enforce]"
            ))),
            Refusal::NotFips
        );
        assert_eq!(
            refusal(&denied(&format!(
                "Pod x/y: container \"app\" image {image} cannot be judged: pull failed \
                 (kubectl get fir sha256-00 -o yaml); fix the image, or exempt it [FipsPolicy p]"
            ))),
            Refusal::CannotJudge
        );
        assert_eq!(
            refusal(
                "Internal error occurred: failed calling webhook \"workloads.fips.operator.dev\": \
                 failed to call webhook: Post \"https://fips-operator-webhook.fips-operator.svc:443/validate?timeout=5s\": \
                 tls: failed to verify certificate"
            ),
            Refusal::WebhookUnreachable
        );
        // Another admission plugin's refusal is not ours, whatever it says.
        assert_eq!(
            refusal("pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\""),
            Refusal::Other
        );
    }

    #[test]
    fn denials_name_the_digest_of_a_pinned_or_resolved_image() {
        let hex = "ab".repeat(32);
        let pinned = format!("r:5000/nf:e2e@sha256:{hex}");
        assert_eq!(
            digest_in_denial("anything", &pinned),
            Some(format!("sha256:{hex}"))
        );
        let message = format!(
            "Pod a/b: container \"app\" image r:5000/nf:e2e@sha256:{hex} is not FIPS-capable: x"
        );
        assert_eq!(
            digest_in_denial(&message, "r:5000/nf:e2e"),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_in_denial(&message, "r:5000/nf"), None);
        assert_eq!(
            digest_in_denial("image r:5000/nf:e2e is not FIPS-capable", "r:5000/nf:e2e"),
            None
        );
    }

    #[test]
    fn reports_are_found_by_digest_or_by_the_tags_they_have_seen() {
        let hex = "cd".repeat(32);
        let report: FipsImageReport = serde_json::from_value(serde_json::json!({
            "apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
            "metadata": {"name": format!("sha256-{hex}")},
            "spec": {"digest": format!("sha256:{hex}")},
            "status": {"phase": "Scanned", "images": [format!("r:5000/op:e2e@sha256:{hex}")],
                       "indexDigests": ["sha256:ffff"]},
        }))
        .expect("a report");
        let reports = vec![report];
        let found = |image: &str| reports_for(&reports, image).count();
        assert_eq!(found(&format!("r:5000/op:e2e@sha256:{hex}")), 1);
        assert_eq!(found(&format!("elsewhere/op@sha256:{hex}")), 1);
        assert_eq!(found("r:5000/op:e2e@sha256:ffff"), 1);
        assert_eq!(found("r:5000/op:e2e"), 1);
        assert_eq!(found("r:5000/op:e2"), 0);
        assert_eq!(found("r:5000/op:other"), 0);
    }

    #[test]
    fn test_pods_are_valid_and_restricted() {
        let pod = test_pod("ns", "p", "r:5000/app:1");
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.containers[0].image.as_deref(), Some("r:5000/app:1"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        let sc = spec.containers[0].security_context.clone().expect("sc");
        assert_eq!(sc.allow_privilege_escalation, Some(false));
    }
}
