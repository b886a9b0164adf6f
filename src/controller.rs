//! `fips-operator controller`: keeps FipsPolicy status, Node labels and taints,
//! the probe DaemonSet and the FipsImageReports true. Every replica keeps the caches warm; only
//! the Lease holder writes.
//!
//! The reconcilers are level-based: each takes the whole cached state, works out what the
//! cluster should look like, and writes only the differences. Any change seen by a watch (and a
//! periodic resync) triggers a pass; the decision core is fast enough to re-evaluate everything
//! (see `benches/policy.rs`).

pub mod certs;
pub mod daemonset;
pub use crate::cluster::facts;
pub mod metrics;
pub mod namespaces;
pub mod nodes;
mod run;
pub mod scan_queue;
pub mod server;
pub mod status;
#[cfg(test)]
mod tests;
pub mod uninstall;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{store, ObjectRef, Store};
use kube::{Client, ResourceExt};

use crate::api::{FipsImageReport, FipsPolicy, FipsStatus};
use crate::inspect::ModuleRegistry;
use crate::policy::cluster::{ClusterFacts, NamespaceFacts};
use crate::policy::ImagePolicy;

pub(crate) use run::signal;
pub use run::{
    admission_snapshot, kube_client, lease_held, reconcile_all, request_scans, run, RunOptions,
    WebhookCerts, WebhookOptions,
};

/// The field manager of every write the controller makes.
pub const MANAGER: &str = "fips-operator-controller";
/// Written into FipsImageReports: a report from another scanner version is rescanned.
pub use crate::image::SCANNER_VERSION;

/// The controller's own configuration (command-line flags; the Helm chart sets them).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The namespace the operator runs in: always exempt, home of the probe DaemonSet.
    pub namespace: String,
    /// The image of the probe DaemonSet (normally the controller's own image).
    pub probe_image: String,
    pub probe_service_account: String,
    pub probe_interval: Duration,
    /// How the probe's pods are placed and confined on the nodes.
    pub probe_pod: ProbePod,
    /// A FipsStatus older than this no longer proves that its node is in FIPS mode.
    pub node_stale_after: Duration,
    pub scan_concurrency: usize,
    /// Attempts per image before its report records the failure.
    pub scan_attempts: u32,
    pub scan_backoff: Duration,
    /// Registries that may be reached over plain HTTP (loopback ones always may).
    pub insecure_registries: Vec<String>,
    /// The platform scanned when the node of a pod is not known.
    pub default_platform: String,
    /// Resync everything at least this often, even without watch events.
    pub resync: Duration,
    /// The webhook's certificates are made and rotated by the operator (else: files).
    pub self_managed_certs: Option<SelfManagedCerts>,
    /// How reviews reach the webhook: the namespace label that routes them (`None`: the
    /// controller labels no namespace).
    pub admission_routing: Option<AdmissionRouting>,
}

/// `--admission-label`: the webhook configuration calls the webhook only for namespaces that
/// carry this label, which the controller keeps set to the strictest mode of the policies
/// judging each namespace (`enforce`, `warn` or `audit`) once the configuration's caBundle is
/// published, and removes where no policy judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRouting {
    /// The label key, e.g. `admission.fips.operator.dev/fips-operator` (one per install).
    pub label: String,
    /// The ValidatingWebhookConfiguration whose webhooks select on the label.
    pub webhook_config: String,
}

/// What the probe's pods need from the nodes' confinement, and their priority (chart values
/// `probe.priorityClassName`, `probe.seLinuxType`, `probe.appArmorProfile`; `None`: unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePod {
    /// `system-node-critical` by default: a probe is not evicted before the workloads it
    /// judges. Some managed clusters refuse that class outside kube-system.
    pub priority_class: Option<String>,
    /// `spc_t` by default: on SELinux-enforcing nodes (RHEL, RHCOS) a container of the
    /// default type cannot read other containers' `/proc/<pid>/root`.
    pub selinux_type: Option<String>,
    /// `Unconfined` by default: the container runtime's default AppArmor profile denies the
    /// ptrace read of other processes that `/proc/<pid>/root` needs.
    pub apparmor_profile: Option<String>,
}

impl Default for ProbePod {
    fn default() -> Self {
        ProbePod {
            priority_class: Some("system-node-critical".into()),
            selinux_type: Some("spc_t".into()),
            apparmor_profile: Some("Unconfined".into()),
        }
    }
}

/// `--self-managed-certs`: where the certificates live and where their CA is published.
#[derive(Debug, Clone)]
pub struct SelfManagedCerts {
    /// The Secret in the operator's namespace.
    pub secret: String,
    /// The webhook's Service in the operator's namespace (the certificate's names).
    pub service: String,
    /// The ValidatingWebhookConfiguration whose webhooks get the caBundle.
    pub webhook_config: String,
    pub lifetimes: crate::webhook::certs::Lifetimes,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: "fips-operator".into(),
            probe_image: format!("ghcr.io/fips-operator/fips-operator:{SCANNER_VERSION}"),
            probe_service_account: "fips-operator-probe".into(),
            probe_interval: Duration::from_secs(300),
            probe_pod: ProbePod::default(),
            node_stale_after: Duration::from_secs(900),
            scan_concurrency: 2,
            scan_attempts: 3,
            scan_backoff: Duration::from_secs(10),
            insecure_registries: Vec::new(),
            default_platform: "linux/amd64".into(),
            resync: Duration::from_secs(300),
            self_managed_certs: None,
            admission_routing: None,
        }
    }
}

/// The caches every replica keeps (reflector stores).
#[derive(Clone)]
pub struct Stores {
    pub policies: Store<FipsPolicy>,
    pub nodes: Store<Node>,
    pub statuses: Store<FipsStatus>,
    pub reports: Store<FipsImageReport>,
    pub namespaces: Store<Namespace>,
    pub pods: Store<Pod>,
    pub deployments: Store<Deployment>,
    pub statefulsets: Store<StatefulSet>,
    pub daemonsets: Store<DaemonSet>,
    pub replicasets: Store<ReplicaSet>,
    pub jobs: Store<Job>,
    pub cronjobs: Store<CronJob>,
    /// The operator's own ValidatingWebhookConfiguration (watched by name; empty until seen).
    pub webhook_configs: Store<ValidatingWebhookConfiguration>,
}

/// The writing halves of [`Stores`]: the watches in `run` feed them; tests fill them by hand.
pub struct StoreWriters {
    pub policies: store::Writer<FipsPolicy>,
    pub nodes: store::Writer<Node>,
    pub statuses: store::Writer<FipsStatus>,
    pub reports: store::Writer<FipsImageReport>,
    pub namespaces: store::Writer<Namespace>,
    pub pods: store::Writer<Pod>,
    pub deployments: store::Writer<Deployment>,
    pub statefulsets: store::Writer<StatefulSet>,
    pub daemonsets: store::Writer<DaemonSet>,
    pub replicasets: store::Writer<ReplicaSet>,
    pub jobs: store::Writer<Job>,
    pub cronjobs: store::Writer<CronJob>,
    pub webhook_configs: store::Writer<ValidatingWebhookConfiguration>,
}

impl Stores {
    pub fn new() -> (Stores, StoreWriters) {
        let (policies, policies_w) = store();
        let (nodes, nodes_w) = store();
        let (statuses, statuses_w) = store();
        let (reports, reports_w) = store();
        let (namespaces, namespaces_w) = store();
        let (pods, pods_w) = store();
        let (deployments, deployments_w) = store();
        let (statefulsets, statefulsets_w) = store();
        let (daemonsets, daemonsets_w) = store();
        let (replicasets, replicasets_w) = store();
        let (jobs, jobs_w) = store();
        let (cronjobs, cronjobs_w) = store();
        let (webhook_configs, webhook_configs_w) = store();
        (
            Stores {
                policies,
                nodes,
                statuses,
                reports,
                namespaces,
                pods,
                deployments,
                statefulsets,
                daemonsets,
                replicasets,
                jobs,
                cronjobs,
                webhook_configs,
            },
            StoreWriters {
                policies: policies_w,
                nodes: nodes_w,
                statuses: statuses_w,
                reports: reports_w,
                namespaces: namespaces_w,
                pods: pods_w,
                deployments: deployments_w,
                statefulsets: statefulsets_w,
                daemonsets: daemonsets_w,
                replicasets: replicasets_w,
                jobs: jobs_w,
                cronjobs: cronjobs_w,
                webhook_configs: webhook_configs_w,
            },
        )
    }

    /// FipsStatus objects by node name: a FipsStatus is named after its node, so
    /// the name decides, never a field someone else could set.
    pub fn statuses_by_node(&self) -> HashMap<String, Arc<FipsStatus>> {
        self.statuses
            .state()
            .into_iter()
            .map(|s| (s.name_any(), s))
            .collect()
    }

    /// The plain facts the decision core evaluates policies against.
    pub fn cluster_facts(
        &self,
        settings: &Settings,
        registry: &ModuleRegistry,
        image_policy: ImagePolicy,
        now: Timestamp,
    ) -> ClusterFacts {
        let stale = SignedDuration::try_from(settings.node_stale_after)
            .unwrap_or(SignedDuration::from_hours(24));
        let pods = self.pods.state();
        let running = facts::probe_nodes(&pods, &settings.namespace);
        let operator_ns = self.namespaces.get(&ObjectRef::new(&settings.namespace));
        ClusterFacts {
            nodes: facts::node_facts(
                &self.nodes.state(),
                &self.statuses_by_node(),
                &running,
                now,
                stale,
            ),
            probe_hint: facts::probe_not_running_hint(
                &settings.namespace,
                operator_ns
                    .as_ref()
                    .map_or(&BTreeMap::new(), |n| n.labels()),
            ),
            namespaces: self
                .namespaces
                .state()
                .iter()
                .map(|ns| NamespaceFacts {
                    name: ns.name_any(),
                    labels: ns.labels().clone(),
                })
                .collect(),
            pods: pods.iter().map(|p| facts::pod_facts(p)).collect(),
            images: facts::image_verdicts(
                &self.reports.state(),
                image_policy,
                registry,
                status::today(now),
            ),
            operator_namespace: settings.namespace.clone(),
        }
    }
}

/// Everything a reconciler needs.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub stores: Stores,
    pub settings: Arc<Settings>,
    pub metrics: Arc<metrics::Metrics>,
    pub recorder: Recorder,
    /// Module validation is derived from it whenever a report is read.
    pub registry: Arc<ModuleRegistry>,
    /// The probe DaemonSet as last applied: not applied again while unchanged and present.
    pub applied_daemonset: Arc<std::sync::Mutex<Option<serde_json::Value>>>,
    /// Whether this replica may write (it holds the Lease). `run` keeps it current; a
    /// context built by hand (tests, one-shot tools) may write.
    pub leader: Arc<std::sync::atomic::AtomicBool>,
}

impl Context {
    pub fn new(client: Client, stores: Stores, settings: Settings, instance: String) -> Context {
        crate::install_crypto_provider();
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: Some(instance),
            },
        );
        Context {
            client,
            stores,
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::default()),
            recorder,
            registry: Arc::new(ModuleRegistry::built_in()),
            applied_daemonset: Arc::default(),
            leader: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }
}

impl Context {
    /// Makes the next pass apply the probe DaemonSet again, even if unchanged.
    pub fn forget_applied_daemonset(&self) {
        *self
            .applied_daemonset
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A failed write, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("encoding an object: {0}")]
    Encode(String),
    #[error("{0}")]
    Certificates(String),
}

impl Error {
    pub fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Kube { what, source }
    }
}
