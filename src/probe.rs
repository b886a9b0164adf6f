//! `fips-operator probe` (the DaemonSet role): on an interval with jitter, read this
//! node's FIPS facts and its processes, match them to the pods the API server says run here,
//! judge each container's image through `/proc/<pid>/root` once per digest (creating a
//! FipsImageReport when none from this scanner version exists), and write
//! `FipsStatus/<node>` by server-side apply.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::api::{
    image_report_name, set_condition, ConditionStatus, ContainerEntry, FipsImageReport,
    FipsStatusStatus, ImagePhase, NodeSummary, TlsEndpointStatus,
};
use crate::cluster::facts::{container_statuses, digest_of_image_id};
use crate::cluster::reports::{scanned_status, write_report, Overwrite};
use crate::host::cgroup::strip_runtime;
use crate::host::process::{scan_processes_with, Cache, ProcessEvidence, State};
use crate::host::{host_facts, host_reasons, HostFacts};
use crate::image::{scan_running_root, ScanContext, SCANNER_VERSION};

/// The probe's field manager.
pub const MANAGER: &str = "fips-operator-probe";
/// At most this many containers are listed in a FipsStatus (the counts stay complete).
const MAX_CONTAINERS: usize = 500;

#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub node: String,
    /// Where the host's `/proc` and `/etc` are (`/host` in the DaemonSet, `/` on a host).
    pub host_root: PathBuf,
    pub interval: Duration,
    /// Each wait is the interval times a random factor in [1 - jitter, 1 + jitter].
    pub jitter: f64,
    /// TLS endpoints audited on every node (the kubelet, or what `--tls` names).
    pub tls_endpoints: Vec<String>,
    /// Audited too when the node is labelled a control-plane node (API server, etcd).
    pub control_plane_endpoints: Vec<String>,
    /// How often they are audited (each audit is a few dozen handshakes the endpoint logs).
    pub tls_every: Duration,
}

/// What a container's image is, as the probe knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// fips-capable, not-fips-capable, no-crypto or unknown.
    pub verdict: String,
    pub evidence: Vec<String>,
}

/// The image verdict of a report's status (an image is judged as a whole).
pub fn image_facts(outcome: Option<&str>, fips_capable: i64, reasons: &[String]) -> ImageFacts {
    let verdict = match outcome {
        Some("compliant") if fips_capable > 0 => "fips-capable",
        Some("compliant") => "no-crypto",
        Some("non-compliant") => "not-fips-capable",
        _ => "unknown",
    };
    ImageFacts {
        verdict: verdict.into(),
        evidence: reasons.iter().take(3).cloned().collect(),
    }
}

fn rank(s: State) -> u8 {
    match s {
        State::NoCrypto => 0,
        State::FipsActive => 1,
        State::FipsInactive => 2,
        State::Unknown => 3,
        State::NotFips => 4,
    }
}

/// A container's entry: its image verdict and what its processes do (the worst of them; a
/// container whose processes cannot be seen is `unknown`).
pub fn container_entries(
    pods: &[Pod],
    processes: &[ProcessEvidence],
    images: &HashMap<String, ImageFacts>,
) -> Vec<ContainerEntry> {
    let mut by_container: HashMap<&str, Vec<&ProcessEvidence>> = HashMap::new();
    for p in processes {
        if let Some(id) = &p.container_id {
            by_container.entry(id.as_str()).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    for pod in pods {
        for c in container_statuses(pod) {
            let Some(id) = c.container_id.as_deref().map(strip_runtime) else {
                continue;
            };
            let procs = by_container.get(id).map(Vec::as_slice).unwrap_or_default();
            let digest = digest_of_image_id(&c.image_id).unwrap_or_default();
            let image = images.get(&digest).cloned().unwrap_or(ImageFacts {
                verdict: "unknown".into(),
                evidence: vec!["image not judged yet".into()],
            });
            let state = procs
                .iter()
                .map(|p| p.state)
                .max_by_key(|s| rank(*s))
                .unwrap_or(State::Unknown);
            let mut evidence = image.evidence.clone();
            for p in procs.iter().filter(|p| p.state != State::NoCrypto) {
                evidence.push(format!("pid {} {}: {}", p.pid, p.exe, p.state.as_str()));
                evidence.extend(
                    p.evidence
                        .iter()
                        .filter(|e| e.starts_with("maps ") || e.starts_with("env "))
                        .cloned(),
                );
            }
            if procs.is_empty() {
                evidence.push("no process of this container is visible on the node".into());
            }
            evidence.truncate(12);
            out.push(ContainerEntry {
                namespace: pod.namespace().unwrap_or_default(),
                pod: pod.name_any(),
                container: c.name.clone(),
                image: c.image.clone(),
                image_digest: digest,
                verdict: image.verdict,
                state: state.as_str().into(),
                evidence,
            });
        }
    }
    out.sort_by(|a, b| {
        (&a.namespace, &a.pod, &a.container).cmp(&(&b.namespace, &b.pod, &b.container))
    });
    out
}

/// The FipsStatus a probe pass writes. `previous` keeps the condition's transition time.
pub fn node_status(
    host: &HostFacts,
    mut containers: Vec<ContainerEntry>,
    tls: &[TlsEndpointStatus],
    previous: &[Condition],
    now: Timestamp,
) -> FipsStatusStatus {
    let mut summary = NodeSummary::default();
    for c in &containers {
        summary.containers += 1;
        let good_image = matches!(c.verdict.as_str(), "fips-capable" | "no-crypto");
        let good_state = matches!(c.state.as_str(), "fips-active" | "no-crypto");
        if c.verdict == "not-fips-capable"
            || matches!(c.state.as_str(), "not-fips" | "fips-inactive")
        {
            summary.non_compliant += 1;
        } else if good_image && good_state {
            summary.compliant += 1;
        } else {
            summary.unknown += 1;
        }
    }
    let host_problems = host_reasons(host);
    let mut conditions = previous.to_vec();
    let (status, reason, message) = if !host_problems.is_empty() {
        (
            ConditionStatus::False,
            "NodeNotFips",
            host_problems.join("; "),
        )
    } else if summary.non_compliant > 0 {
        (
            ConditionStatus::False,
            "NonCompliantContainers",
            format!("{} containers are not in FIPS mode", summary.non_compliant),
        )
    } else if let Some(t) = tls.iter().find(|t| t.outcome != "compliant") {
        (
            ConditionStatus::False,
            "TlsNotApproved",
            format!(
                "TLS endpoint {} {}",
                t.endpoint,
                t.error
                    .clone()
                    .unwrap_or_else(|| format!("accepts {}", t.not_approved.join(", ")))
            ),
        )
    } else if summary.unknown > 0 {
        (
            ConditionStatus::Unknown,
            "ContainersNotJudged",
            format!("{} containers cannot be judged yet", summary.unknown),
        )
    } else {
        (ConditionStatus::True, "Compliant", String::new())
    };
    set_condition(
        &mut conditions,
        crate::api::condition::COMPLIANT,
        status,
        reason,
        &message,
        None,
        now,
    );
    containers.truncate(MAX_CONTAINERS);
    FipsStatusStatus {
        kernel_fips_enabled: host.kernel_fips_enabled,
        cmdline_fips: host.cmdline_fips,
        crypto_policy: host.crypto_policy.clone(),
        openssl_fips_provider: host.openssl_fips_provider.clone(),
        os: host.os.clone(),
        probe_version: SCANNER_VERSION.into(),
        probe_time: now.to_string(),
        containers,
        summary,
        tls: tls.to_vec(),
        conditions,
    }
}

/// A TLS audit as the FipsStatus records it.
pub fn tls_status(a: &crate::host::tls::TlsAudit, now: Timestamp) -> TlsEndpointStatus {
    let mut not_approved: Vec<String> = a
        .accepted
        .iter()
        .filter(|x| !x.approved)
        .map(|x| format!("{} {}", x.protocol, x.suite))
        .collect();
    not_approved.extend(
        a.groups
            .iter()
            .filter(|g| !g.approved)
            .map(|g| format!("{} group {}", g.protocol, g.group)),
    );
    TlsEndpointStatus {
        endpoint: a.endpoint.clone(),
        outcome: if a.error.is_some() {
            "non-compliant".into()
        } else {
            a.outcome.into()
        },
        not_approved,
        error: a.error.clone(),
        audited_at: now.to_string(),
    }
}

/// The scanner version a probe writes into the reports it makes from running containers.
pub fn running_root_version() -> String {
    format!("{SCANNER_VERSION}{}", crate::image::RUNNING_CONTAINER_MARK)
}

/// `linux/amd64`-style platform of this machine.
fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// The probe's state across passes.
pub struct Probe {
    pub settings: ProbeSettings,
    pub ctx: Arc<ScanContext>,
    exe_cache: Cache,
    /// Digests whose verdict is known, with it.
    images: HashMap<String, ImageFacts>,
    previous: Vec<Condition>,
    warned: Vec<String>,
    tls: Vec<TlsEndpointStatus>,
    tls_at: Option<std::time::Instant>,
}

impl Probe {
    pub fn new(settings: ProbeSettings, ctx: ScanContext) -> Probe {
        Probe {
            settings,
            ctx: Arc::new(ctx),
            exe_cache: Cache::default(),
            images: HashMap::new(),
            previous: Vec::new(),
            warned: Vec::new(),
            tls: Vec::new(),
            tls_at: None,
        }
    }

    /// One pass: facts, processes, pods, image verdicts (scanning what no report answers),
    /// and the FipsStatus write. Returns the status written.
    pub async fn pass(
        &mut self,
        client: &Client,
        now: Timestamp,
    ) -> anyhow::Result<FipsStatusStatus> {
        let node = self.node(client).await?;
        let control_plane = node.labels().keys().any(|k| {
            k == "node-role.kubernetes.io/control-plane" || k == "node-role.kubernetes.io/master"
        });
        let (host, scan) = self.local()?;
        let pods: Api<Pod> = Api::all(client.clone());
        let pods = pods
            .list(&ListParams::default().fields(&format!("spec.nodeName={}", self.settings.node)))
            .await
            .map_err(|e| anyhow::anyhow!("listing the pods of node {}: {e}", self.settings.node))?
            .items;
        self.judge_images(client, &pods, &scan.processes, now).await;
        let entries = container_entries(&pods, &scan.processes, &self.images);
        self.audit_tls(control_plane, now).await;
        let status = node_status(&host, entries, &self.tls, &self.previous, now);
        self.write(client, &node.uid().unwrap_or_default(), &status)
            .await?;
        self.previous = status.conditions.clone();
        Ok(status)
    }

    /// Audits the TLS endpoints when due (first pass, then every `tls_every`).
    async fn audit_tls(&mut self, control_plane: bool, now: Timestamp) {
        let mut endpoints = self.settings.tls_endpoints.clone();
        if control_plane {
            endpoints.extend(self.settings.control_plane_endpoints.iter().cloned());
        }
        if endpoints.is_empty()
            || self
                .tls_at
                .is_some_and(|t| t.elapsed() < self.settings.tls_every)
        {
            return;
        }
        let audits = tokio::task::spawn_blocking(move || {
            endpoints
                .iter()
                .map(|e| crate::host::tls::audit(e, Duration::from_secs(5)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        self.tls = audits.iter().map(|a| tls_status(a, now)).collect();
        self.tls_at = Some(std::time::Instant::now());
    }

    /// The node's own facts and its processes (judgments cached from pass to pass).
    pub fn local(&mut self) -> anyhow::Result<(HostFacts, crate::host::process::ProcessScan)> {
        let root = self.settings.host_root.clone();
        let host = host_facts(&root, &self.ctx);
        let scan = scan_processes_with(
            &root.join("proc"),
            &host,
            &self.ctx,
            Some(std::process::id()),
            &mut self.exe_cache,
        )
        .map_err(|e| anyhow::anyhow!("reading {}/proc: {e}", root.display()))?;
        // Said once, and again only when it changes.
        if scan.warnings != self.warned {
            for w in &scan.warnings {
                tracing::warn!("{w}");
            }
            self.warned = scan.warnings.clone();
        }
        Ok((host, scan))
    }

    /// A pass without the API server (`--dry-run`): no pods, so no container entries, and
    /// nothing written; the status is returned for printing.
    pub fn dry_pass(&mut self, now: Timestamp) -> anyhow::Result<FipsStatusStatus> {
        let (host, _scan) = self.local()?;
        // No Node to read: the control-plane endpoints are not audited.
        if self.tls_at.is_none() {
            let endpoints = self.settings.tls_endpoints.clone();
            self.tls = endpoints
                .iter()
                .map(|e| tls_status(&crate::host::tls::audit(e, Duration::from_secs(5)), now))
                .collect();
            self.tls_at = Some(std::time::Instant::now());
        }
        let status = node_status(&host, Vec::new(), &self.tls, &self.previous, now);
        self.previous = status.conditions.clone();
        Ok(status)
    }

    /// Verdicts for the digests of the node's containers: from a FipsImageReport of this
    /// scanner version, else by scanning a running container's root and creating the report.
    async fn judge_images(
        &mut self,
        client: &Client,
        pods: &[Pod],
        processes: &[ProcessEvidence],
        now: Timestamp,
    ) {
        let reports: Api<FipsImageReport> = Api::all(client.clone());
        let mut wanted: BTreeMap<String, (String, Option<u32>)> = BTreeMap::new();
        let pid_of: HashMap<&str, u32> = processes
            .iter()
            .filter_map(|p| Some((p.container_id.as_deref()?, p.pid)))
            .collect();
        for pod in pods {
            // Init and ephemeral containers' images are judged too.
            for c in container_statuses(pod) {
                let Some(digest) = digest_of_image_id(&c.image_id) else {
                    continue;
                };
                if self.images.contains_key(&digest) {
                    continue;
                }
                let pid = c
                    .container_id
                    .as_deref()
                    .map(strip_runtime)
                    .and_then(|id| pid_of.get(id).copied());
                let e = wanted.entry(digest).or_insert((c.image.clone(), None));
                e.1 = e.1.or(pid);
            }
        }
        let mut tried = HashSet::new();
        for (digest, (image, pid)) in wanted {
            if !tried.insert(digest.clone()) {
                continue;
            }
            // What the write below may replace: the report as read here, or none.
            let overwrite;
            match reports.get_opt(&image_report_name(&digest)).await {
                Ok(Some(r)) => {
                    overwrite = r
                        .resource_version()
                        .map_or(Overwrite::Absent, Overwrite::Unchanged);
                    if let Some(s) = r.status.as_ref().filter(|s| {
                        s.phase != ImagePhase::Pending
                            && (s.scanner_version == SCANNER_VERSION
                                || s.scanner_version == running_root_version())
                    }) {
                        self.images.insert(
                            digest,
                            image_facts(s.outcome.as_deref(), s.summary.fips_capable, &s.reasons),
                        );
                        continue;
                    }
                }
                Ok(None) => overwrite = Overwrite::Absent,
                Err(e) => {
                    tracing::warn!(%digest, error = %e, "cannot read FipsImageReport");
                    continue;
                }
            }
            let Some(pid) = pid else { continue };
            let container_root = self.settings.host_root.join(format!("proc/{pid}/root"));
            let ctx = self.ctx.clone();
            let display = image.clone();
            let scanned = tokio::task::spawn_blocking(move || {
                scan_running_root(&container_root, &display, &ctx)
            })
            .await;
            let scan = match scanned {
                Ok(Ok(scan)) => scan,
                Ok(Err(e)) => {
                    tracing::warn!(%digest, pid, error = %e, "cannot scan the container's root");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%digest, error = %e, "scan task failed");
                    continue;
                }
            };
            let mut status = scanned_status(&scan, &BTreeSet::from([image.clone()]), now);
            status.platform = Some(platform());
            // Judged from a running container, which may differ from the image (files
            // deleted at run time, paths under a volume): marked, so that the controller's
            // queue still scans the image from its registry and replaces it.
            status.scanner_version = running_root_version();
            match write_report(client, &digest, &status, overwrite).await {
                Ok(None) => {
                    tracing::info!(%digest, %image, "a verdict landed while the container was judged: kept");
                }
                Ok(Some(_)) => {
                    tracing::info!(%digest, %image, outcome = scan.outcome.as_str(), "image judged from a running container");
                }
                Err(e) => tracing::warn!(%digest, error = %e, "cannot write FipsImageReport"),
            }
            self.images.insert(
                digest,
                image_facts(
                    status.outcome.as_deref(),
                    status.summary.fips_capable,
                    &status.reasons,
                ),
            );
        }
    }

    async fn node(&self, client: &Client) -> anyhow::Result<Node> {
        let node = &self.settings.node;
        Api::<Node>::all(client.clone())
            .get(node)
            .await
            .map_err(|e| anyhow::anyhow!("reading Node {node}: {e}"))
    }

    /// `FipsStatus/<node>`, owned by its Node, by server-side apply.
    async fn write(
        &self,
        client: &Client,
        uid: &str,
        status: &FipsStatusStatus,
    ) -> anyhow::Result<()> {
        let node = &self.settings.node;
        let api: Api<crate::api::FipsStatus> = Api::all(client.clone());
        let params = PatchParams::apply(MANAGER).force();
        let object = json!({
            "apiVersion": "fips.operator.dev/v1alpha1",
            "kind": "FipsStatus",
            "metadata": {"name": node, "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]},
            "spec": {"nodeName": node},
        });
        api.patch(node, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| anyhow::anyhow!("applying FipsStatus {node}: {e}"))?;
        let body = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus", "status": status});
        api.patch_status(node, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| anyhow::anyhow!("writing the status of FipsStatus {node}: {e}"))?;
        Ok(())
    }

    /// The wait before the next pass: the interval with jitter, so that the probes of a
    /// large cluster do not all write at once.
    pub fn next_wait(&self) -> Duration {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let unit = f64::from(nanos % 1_000_000) / 1_000_000.0;
        let factor = 1.0 + self.settings.jitter.clamp(0.0, 0.9) * (2.0 * unit - 1.0);
        self.settings.interval.mul_f64(factor)
    }
}
