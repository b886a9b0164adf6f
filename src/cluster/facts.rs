//! From API objects to the plain facts of the decision core (`crate::policy::cluster`), and the
//! pruning that keeps watched Pods and workloads small (issue 4, point 4). Pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, EphemeralContainer, Node, Pod, PodSpec, PodTemplateSpec,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::api::{FipsImageReport, FipsStatus, ImagePhase};
use crate::inspect::{Day, ModuleRegistry, Validation};
use crate::policy::cluster::{ContainerFacts, ImageVerdict, NodeFacts, PodFacts};
use crate::policy::ImagePolicy;

/// The probe DaemonSet the controller applies in the operator's namespace.
pub const PROBE_DAEMONSET: &str = "fips-operator-probe";

/// How far ahead of our clock a probe's time may be (clock skew) before it proves nothing.
const MAX_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// A node is in FIPS mode when its probe said so recently (rules H1–H3, docs/verdicts.md): the kernel flag
/// (H1) and the boot flag (H2) are on, and the crypto policy is FIPS where the distribution
/// has one (H3). `Some(false)` when the probe shows one of them off; `None` when nothing is
/// proven: no FipsStatus, a stale or future-dated one, or facts missing from it.
pub fn node_fips(
    status: Option<&FipsStatus>,
    now: Timestamp,
    stale_after: SignedDuration,
) -> Option<bool> {
    if !reported(status, now, stale_after) {
        return None;
    }
    let status = status?.status.as_ref()?;
    let policy_ok = status
        .crypto_policy
        .as_deref()
        .is_none_or(|p| p == "FIPS" || p.starts_with("FIPS:"));
    match (status.kernel_fips_enabled, status.cmdline_fips) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(policy_ok),
        _ => None,
    }
}

/// True when the node's probe wrote its FipsStatus recently (and not in the future).
pub fn reported(status: Option<&FipsStatus>, now: Timestamp, stale_after: SignedDuration) -> bool {
    let seen = status
        .and_then(|s| s.status.as_ref())
        .and_then(|s| s.probe_time.parse::<Timestamp>().ok());
    seen.is_some_and(|seen| {
        now.duration_since(seen) <= stale_after && seen.duration_since(now) <= MAX_SKEW
    })
}

/// The nodes on which a pod of the probe DaemonSet (in `namespace`) is pending or running: a
/// probe that is starting (its image being pulled) is not reported as missing.
pub fn probe_nodes(pods: &[std::sync::Arc<Pod>], namespace: &str) -> HashSet<String> {
    pods.iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace))
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| o.kind == "DaemonSet" && o.name == PROBE_DAEMONSET)
        })
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Failed" | "Succeeded"))
        })
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
        .collect()
}

/// Why no probe runs, as far as the operator's namespace tells: a Pod Security level that
/// refuses the probe's privileged pod, or where to look.
pub fn probe_not_running_hint(namespace: &str, labels: &BTreeMap<String, String>) -> String {
    const ENFORCE: &str = "pod-security.kubernetes.io/enforce";
    let describe = format!(
        "`kubectl -n {namespace} describe daemonset {}` says why",
        PROBE_DAEMONSET
    );
    match labels.get(ENFORCE).map(String::as_str) {
        Some(level) if level != "privileged" => format!(
            "namespace {namespace} enforces Pod Security level {level:?}, which refuses the \
             probe's pods (they need hostPID, host paths and added capabilities): `kubectl \
             label namespace {namespace} {ENFORCE}=privileged --overwrite`; {describe}"
        ),
        _ => format!(
            "no probe pod runs there: {describe} (a Pod Security level that refuses \
             privileged pods, a node the probe's image cannot be pulled on, a taint or a \
             non-Linux node)"
        ),
    }
}

/// The decision core's view of the nodes. `running`: nodes where a probe pod runs.
pub fn node_facts(
    nodes: &[std::sync::Arc<Node>],
    statuses: &HashMap<String, std::sync::Arc<FipsStatus>>,
    running: &HashSet<String>,
    now: Timestamp,
    stale_after: SignedDuration,
) -> Vec<NodeFacts> {
    nodes
        .iter()
        .map(|n| {
            let name = n.name_any();
            let status = statuses.get(&name).map(|s| &**s);
            NodeFacts {
                labels: n.labels().clone(),
                fips_enabled: node_fips(status, now, stale_after),
                probe_not_running: !reported(status, now, stale_after) && !running.contains(&name),
                name,
            }
        })
        .collect()
}

/// `docker.io/library/nginx@sha256:…`, `docker-pullable://…@sha256:…` or `sha256:…` -> the digest.
pub fn digest_of_image_id(image_id: &str) -> Option<String> {
    let digest = image_id.rsplit('@').next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_string())
}

/// The runtime status of every container of a pod: init, regular and ephemeral.
pub fn container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    pod.status.iter().flat_map(|status| {
        [
            &status.init_container_statuses,
            &status.container_statuses,
            &status.ephemeral_container_statuses,
        ]
        .into_iter()
        .flatten()
        .flatten()
    })
}

/// Container name -> the image ID its runtime reported, for every kind of container.
pub fn pod_image_ids(pod: &Pod) -> HashMap<&str, &str> {
    container_statuses(pod)
        .map(|s| (s.name.as_str(), s.image_id.as_str()))
        .collect()
}

/// Every container of a pod (init, regular, ephemeral) with the digest its runtime reported.
pub fn pod_facts(pod: &Pod) -> PodFacts {
    let image_ids = pod_image_ids(pod);
    let containers = spec_images(pod.spec.as_ref())
        .map(|(name, image)| ContainerFacts {
            name: name.to_string(),
            image: image.to_string(),
            digest: image_ids.get(name).and_then(|id| digest_of_image_id(id)),
        })
        .collect();
    PodFacts {
        namespace: pod.namespace().unwrap_or_default(),
        name: pod.name_any(),
        containers,
    }
}

/// (container name, image) of every container of a pod spec, init and ephemeral included.
pub fn spec_images(spec: Option<&PodSpec>) -> impl Iterator<Item = (&str, &str)> {
    let spec = spec.into_iter();
    spec.flat_map(|s| {
        let init = s
            .init_containers
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.image.as_deref()));
        let main = s
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c.image.as_deref()));
        let eph = s
            .ephemeral_containers
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.image.as_deref()));
        init.chain(main).chain(eph)
    })
    .filter_map(|(n, i)| i.map(|i| (n, i)))
}

/// An image verdict for the decision core, from what a report says. A report that is pending,
/// failed, or has no outcome is `Unknown` — never compliant. Validation is derived now, from
/// the module registry and the day, not taken from the time of the scan: a module whose
/// certificate has lapsed, or one the policy does not accept, makes the image non-compliant.
pub fn report_verdict(
    report: &FipsImageReport,
    policy: ImagePolicy,
    registry: &ModuleRegistry,
    today: Day,
) -> ImageVerdict {
    let Some(status) = &report.status else {
        return ImageVerdict::Unknown;
    };
    match (status.phase, status.outcome.as_deref()) {
        (ImagePhase::Scanned, Some("compliant")) => {
            let overrides = status.fips_capable.iter().flat_map(|b| {
                b.module
                    .iter()
                    .chain(&b.other_modules)
                    .filter_map(|m| module_override(&b.path, m, policy, registry, today))
            });
            // A refusal beats an unknown module.
            if let Some(worst) = overrides.max_by_key(rank) {
                return worst;
            }
            if status.truncated {
                // Modules that were cut from the list cannot be re-derived.
                return ImageVerdict::Unknown;
            }
            if status
                .scanner_version
                .ends_with(crate::image::RUNNING_CONTAINER_MARK)
            {
                // Only a node's probe vouches for it, and any node's probe may write reports:
                // a compromised node must not make an image compliant for the whole cluster.
                // The registry scan that replaces it decides; a probe's non-compliant verdict
                // stands meanwhile.
                return ImageVerdict::Unknown;
            }
            ImageVerdict::Compliant
        }
        (ImagePhase::Scanned, Some("non-compliant")) => ImageVerdict::NonCompliant(
            status
                .reasons
                .first()
                .cloned()
                .unwrap_or_else(|| "image is not FIPS-capable".into()),
        ),
        _ => ImageVerdict::Unknown,
    }
}

/// What `binary`'s module makes of a compliant image today under `policy`: `None` when the
/// module is still acceptable, else the verdict the image gets instead (non-compliant for a
/// refused or lapsed module, unknown for a module the registry no longer knows).
fn module_override(
    path: &str,
    module: &str,
    policy: ImagePolicy,
    registry: &ModuleRegistry,
    today: Day,
) -> Option<ImageVerdict> {
    let mut words = module.split_whitespace();
    let (name, version) = (words.next()?, words.next()?);
    if version == "-" {
        // No version to look up (as in the verdict cache): judged at scan time only.
        return None;
    }
    let Some(resolved) = registry.resolve(name, version, today) else {
        return Some(ImageVerdict::Unknown);
    };
    let refused = match resolved.validation {
        Validation::Certified => false,
        Validation::Historical => !policy.accept_historical,
        Validation::InProcess => !policy.accept_in_process,
        Validation::Unvalidated | Validation::Unknown => true,
    };
    refused.then(|| {
        let word = serde_json::to_value(resolved.validation)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        ImageVerdict::NonCompliant(format!(
            "{path}: module {name} {version} is {word} today, and the policy does not accept it"
        ))
    })
}

/// Verdicts keyed by every digest that leads to a report: the platform manifest digest and the
/// index digests. Image references (tags) are not keys: a tag can move, a digest cannot.
pub fn image_verdicts(
    reports: &[std::sync::Arc<FipsImageReport>],
    policy: ImagePolicy,
    registry: &ModuleRegistry,
    today: Day,
) -> HashMap<String, ImageVerdict> {
    let reports = without_answered_pending(reports.iter().map(|r| &**r).collect());
    let mut out: HashMap<String, ImageVerdict> = HashMap::new();
    let mut merge = |key: &str, verdict: &ImageVerdict| match out.get(key) {
        Some(prev) if rank(prev) >= rank(verdict) => {}
        _ => {
            out.insert(key.to_string(), verdict.clone());
        }
    };
    for r in reports {
        let verdict = report_verdict(r, policy, registry, today);
        // An index digest leads to one report per platform, and a probe may have named a
        // report after the digest its runtime reported: wherever two reports meet on one
        // digest, the worst verdict counts, never another image's "compliant" alone.
        if let Some(status) = &r.status {
            for d in &status.index_digests {
                merge(d, &verdict);
            }
        }
        merge(&r.spec.digest, &verdict);
    }
    out
}

/// Drops a `Pending` report whose digest a scanned (or failed) report already answers: the
/// webhook asks for a scan of an index digest, and the queue answers with a report per platform
/// manifest that lists the index among its `indexDigests` — the request then decides nothing.
pub fn without_answered_pending(reports: Vec<&FipsImageReport>) -> Vec<&FipsImageReport> {
    let answered: std::collections::HashSet<&str> = reports
        .iter()
        .filter_map(|r| r.status.as_ref())
        .filter(|s| s.phase != ImagePhase::Pending)
        .flat_map(|s| s.index_digests.iter().map(String::as_str))
        .collect();
    reports
        .into_iter()
        .filter(|r| {
            let pending = r
                .status
                .as_ref()
                .is_none_or(|s| s.phase == ImagePhase::Pending);
            !(pending && answered.contains(r.spec.digest.as_str()))
        })
        .collect()
}

fn rank(v: &ImageVerdict) -> u8 {
    match v {
        ImageVerdict::Compliant => 0,
        ImageVerdict::Unknown => 1,
        ImageVerdict::NonCompliant(_) => 2,
    }
}

/// Keeps only what decisions and scans need from a Pod: name, namespace, labels, owner,
/// container names and images, pull secrets, service account, node, and container image IDs.
pub fn prune_pod(pod: &mut Pod) {
    let meta = &mut pod.metadata;
    meta.annotations = None;
    meta.managed_fields = None;
    meta.finalizers = None;
    if let Some(spec) = pod.spec.as_mut() {
        prune_pod_spec(spec);
    }
    if let Some(status) = pod.status.as_mut() {
        status.conditions = None;
        status.pod_ips = None;
        status.host_ips = None;
        status.resource_claim_statuses = None;
        for s in [
            &mut status.init_container_statuses,
            &mut status.container_statuses,
            &mut status.ephemeral_container_statuses,
        ]
        .into_iter()
        .flatten()
        {
            for c in s.iter_mut() {
                c.last_state = None;
                c.state = None;
                c.resources = None;
                c.volume_mounts = None;
                c.allocated_resources = None;
                c.user = None;
                c.allocated_resources_status = None;
            }
        }
    }
}

/// Keeps container names and images, pull secrets, service account, node name and selector.
pub fn prune_pod_spec(spec: &mut PodSpec) {
    let slim = |c: Container| Container {
        name: c.name,
        image: c.image,
        ..Default::default()
    };
    let keep = PodSpec {
        containers: std::mem::take(&mut spec.containers)
            .into_iter()
            .map(slim)
            .collect(),
        init_containers: spec
            .init_containers
            .take()
            .map(|cs| cs.into_iter().map(slim).collect()),
        ephemeral_containers: spec.ephemeral_containers.take().map(|cs| {
            cs.into_iter()
                .map(|c| EphemeralContainer {
                    name: c.name,
                    image: c.image,
                    ..Default::default()
                })
                .collect()
        }),
        image_pull_secrets: spec.image_pull_secrets.take(),
        service_account_name: spec.service_account_name.take(),
        node_name: spec.node_name.take(),
        node_selector: spec.node_selector.take(),
        ..Default::default()
    };
    *spec = keep;
}

/// Workloads whose pod template the scan queue looks at.
pub trait PodTemplated {
    fn pod_template(&self) -> Option<&PodTemplateSpec>;
    fn pod_template_mut(&mut self) -> Option<&mut PodTemplateSpec>;
}

macro_rules! templated {
    ($kind:ty, |$s:ident| $get:expr, |$m:ident| $get_mut:expr) => {
        impl PodTemplated for $kind {
            fn pod_template(&self) -> Option<&PodTemplateSpec> {
                let $s = self.spec.as_ref()?;
                $get
            }
            fn pod_template_mut(&mut self) -> Option<&mut PodTemplateSpec> {
                let $m = self.spec.as_mut()?;
                $get_mut
            }
        }
    };
}

templated!(Deployment, |s| Some(&s.template), |s| Some(&mut s.template));
templated!(StatefulSet, |s| Some(&s.template), |s| Some(
    &mut s.template
));
templated!(DaemonSet, |s| Some(&s.template), |s| Some(&mut s.template));
templated!(ReplicaSet, |s| s.template.as_ref(), |s| s.template.as_mut());
templated!(Job, |s| Some(&s.template), |s| Some(&mut s.template));
templated!(
    CronJob,
    |s| s.job_template.spec.as_ref().map(|j| &j.template),
    |s| s.job_template.spec.as_mut().map(|j| &mut j.template)
);

/// Prunes a workload to its pod template's images and pull secrets.
pub fn prune_workload<K: PodTemplated + kube::Resource>(w: &mut K) {
    let meta = w.meta_mut();
    meta.annotations = None;
    meta.managed_fields = None;
    if let Some(t) = w.pod_template_mut() {
        t.metadata = None;
        if let Some(spec) = t.spec.as_mut() {
            prune_pod_spec(spec);
        }
    }
}
