//! The registry scan queue: every `Pending` FipsImageReport, and every image a Pod
//! or a workload template refers to without a report from this scanner version, is scanned
//! from its registry with the pull secrets the pod would use. Deduplicated by digest (by
//! reference until a tag is resolved, then remembered), bounded concurrency, retries with
//! backoff; a scan that keeps failing is recorded in the report as `Failed` (outcome unknown).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Secret, ServiceAccount};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::ResourceExt;
use tokio::sync::{Notify, Semaphore};

use super::facts::{digest_of_image_id, pod_image_ids, spec_images, PodTemplated};
use super::{Context, Stores, SCANNER_VERSION};
use crate::api::{FipsImageReport, ImagePhase};
use crate::cluster::reports::{failed_status, scanned_status, write_report, Overwrite};
use crate::image::layers::Limits;
use crate::image::registry::RegistryOptions;
use crate::image::source::Platform;
use crate::image::{scan_image, ImageOptions, ImageTarget, ScanContext, ScanReport};
use crate::inspect::ModuleRegistry;
use crate::policy::cluster::repository;
use crate::policy::ImagePolicy;

/// One image to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// Deduplication key: the digest when known, else the reference.
    pub key: String,
    /// What is pulled: `repository@sha256:…` when the digest is known, else the tag.
    pub reference: String,
    pub digest: Option<String>,
    /// The references seen pointing at it.
    pub images: BTreeSet<String>,
    /// Where pull secrets come from.
    pub namespace: Option<String>,
    pub pull_secrets: Vec<String>,
    pub service_account: Option<String>,
    /// `linux/amd64`, `linux/arm64`: the platform of the node the pod runs on.
    pub platform: String,
}

/// Which (digest, platform) pairs a report from this scanner version answers, scanned or
/// failed. A platform manifest digest answers for any platform (it is one already); an index
/// digest only for the platform its report was scanned for.
struct Answered(HashSet<(String, Option<String>)>);

impl Answered {
    fn new(reports: &[Arc<FipsImageReport>]) -> Self {
        let mut out = HashSet::new();
        for r in reports {
            let Some(s) = &r.status else { continue };
            if s.phase == ImagePhase::Pending || s.scanner_version != SCANNER_VERSION {
                continue;
            }
            out.insert((r.spec.digest.clone(), None));
            for d in &s.index_digests {
                out.insert((d.clone(), s.platform.clone()));
            }
        }
        Answered(out)
    }

    fn contains(&self, digest: &str, platform: &str) -> bool {
        self.0.contains(&(digest.to_string(), None))
            || self
                .0
                .contains(&(digest.to_string(), Some(platform.to_string())))
    }
}

/// What needs scanning now. `tags` holds the tag -> digest resolutions already made.
pub fn scan_requests(
    stores: &Stores,
    default_platform: &str,
    tags: &HashMap<String, String>,
) -> Vec<ScanRequest> {
    let reports = stores.reports.state();
    let done = Answered::new(&reports);
    let platforms: HashMap<String, String> = stores
        .nodes
        .state()
        .iter()
        .filter_map(|n| {
            let info = n.status.as_ref()?.node_info.as_ref()?;
            Some((
                n.name_any(),
                format!("{}/{}", info.operating_system, info.architecture),
            ))
        })
        .collect();
    let mut node_platforms: Vec<String> = platforms.values().cloned().collect();
    node_platforms.sort();
    node_platforms.dedup();
    let mut out: Vec<ScanRequest> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut add = |req: ScanRequest| {
        if let Some(&i) = index.get(&req.key) {
            let have = &mut out[i];
            have.images.extend(req.images);
            // A pending report knows no pull secrets: take the first pod's.
            if have.namespace.is_none() && req.namespace.is_some() {
                have.namespace = req.namespace;
                have.pull_secrets = req.pull_secrets;
                have.service_account = req.service_account;
            }
            return;
        }
        index.insert(req.key.clone(), out.len());
        out.push(req);
    };

    for r in &reports {
        let pending = r
            .status
            .as_ref()
            .is_none_or(|s| s.phase == ImagePhase::Pending);
        let stale = r.status.as_ref().is_some_and(|s| {
            s.phase != ImagePhase::Pending && s.scanner_version != SCANNER_VERSION
        });
        if !(pending || stale) {
            continue;
        }
        // The platform it names, else every platform the cluster's nodes run (an index digest
        // gets a report per platform); a platform already answered (by a report named after
        // the platform manifest's digest, listing the index) is not scanned again.
        let wanted: Vec<String> = match r.status.as_ref().and_then(|s| s.platform.clone()) {
            Some(p) => vec![p],
            None if node_platforms.is_empty() => vec![default_platform.to_string()],
            None => node_platforms.clone(),
        };
        let images: BTreeSet<String> = r
            .status
            .as_ref()
            .map(|s| s.images.iter().cloned().collect())
            .unwrap_or_default();
        let Some(first) = images.iter().next() else {
            tracing::warn!(report = %r.name_any(), "pending FipsImageReport names no image reference: cannot pull it");
            continue;
        };
        for platform in wanted {
            if done.contains(&r.spec.digest, &platform) {
                continue;
            }
            add(ScanRequest {
                key: format!("{} {platform}", r.spec.digest),
                reference: format!("{}@{}", repository(first), r.spec.digest),
                digest: Some(r.spec.digest.clone()),
                images: images.clone(),
                namespace: None,
                pull_secrets: Vec::new(),
                service_account: None,
                platform,
            });
        }
    }

    let mut consider =
        |ns: Option<String>, spec: &PodSpec, image_ids: &HashMap<&str, &str>, platform: &str| {
            let secrets: Vec<String> = spec
                .image_pull_secrets
                .iter()
                .flatten()
                .map(|s| s.name.clone())
                .filter(|n| !n.is_empty())
                .collect();
            for (container, image) in spec_images(Some(spec)) {
                let digest = image_ids
                    .get(container)
                    .and_then(|id| digest_of_image_id(id))
                    .or_else(|| image.split_once('@').map(|(_, d)| d.to_string()))
                    .or_else(|| tags.get(image).cloned());
                if digest.as_ref().is_some_and(|d| done.contains(d, platform)) {
                    continue;
                }
                let (key, reference) = match &digest {
                    // One scan per digest and platform: an index digest means a different image
                    // on each platform.
                    Some(d) => (
                        format!("{d} {platform}"),
                        format!("{}@{d}", repository(image)),
                    ),
                    None => (image.to_string(), image.to_string()),
                };
                add(ScanRequest {
                    key,
                    reference,
                    digest,
                    images: BTreeSet::from([image.to_string()]),
                    namespace: ns.clone(),
                    pull_secrets: secrets.clone(),
                    service_account: spec.service_account_name.clone(),
                    platform: platform.to_string(),
                });
            }
        };

    let mut pods = stores.pods.state();
    pods.sort_by_key(|p| (p.namespace(), p.name_any()));
    for pod in &pods {
        let Some(spec) = &pod.spec else { continue };
        let platform = spec
            .node_name
            .as_ref()
            .and_then(|n| platforms.get(n))
            .map_or(default_platform, String::as_str);
        consider(pod.namespace(), spec, &pod_image_ids(pod), platform);
    }
    let none = HashMap::new();
    let mut templates = |ns: Option<String>, t: Option<&PodTemplateSpec>| {
        if let Some(spec) = t.and_then(|t| t.spec.as_ref()) {
            consider(ns, spec, &none, default_platform);
        }
    };
    for w in stores.deployments.state() {
        templates(w.namespace(), w.pod_template());
    }
    for w in stores.statefulsets.state() {
        templates(w.namespace(), w.pod_template());
    }
    for w in stores.daemonsets.state() {
        templates(w.namespace(), w.pod_template());
    }
    for w in stores.replicasets.state() {
        templates(w.namespace(), w.pod_template());
    }
    for w in stores.jobs.state() {
        templates(w.namespace(), w.pod_template());
    }
    for w in stores.cronjobs.state() {
        templates(w.namespace(), w.pod_template());
    }
    out
}

#[derive(Default)]
struct QueueState {
    queued: VecDeque<ScanRequest>,
    /// Keys queued or being scanned.
    busy: HashSet<String>,
    /// Keys whose scan failed without a digest to name a report after: not retried before
    /// the instant given.
    cooling: HashMap<String, Instant>,
}

/// The queue the lease holder's workers drain.
pub struct ScanQueue {
    state: Mutex<QueueState>,
    notify: Notify,
    /// Tag -> platform manifest digest, resolved once and remembered.
    tags: Mutex<HashMap<String, String>>,
}

impl Default for ScanQueue {
    fn default() -> Self {
        ScanQueue {
            state: Mutex::new(QueueState::default()),
            notify: Notify::new(),
            tags: Mutex::new(HashMap::new()),
        }
    }
}

impl ScanQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn tags(&self) -> HashMap<String, String> {
        self.tags.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds what is not queued, in flight or cooling down. Returns how many were added.
    pub fn offer(&self, requests: Vec<ScanRequest>) -> usize {
        let mut st = self.lock();
        let now = Instant::now();
        st.cooling.retain(|_, until| *until > now);
        let mut added = 0;
        for r in requests {
            if st.busy.contains(&r.key) || st.cooling.contains_key(&r.key) {
                continue;
            }
            st.busy.insert(r.key.clone());
            st.queued.push_back(r);
            added += 1;
        }
        drop(st);
        if added > 0 {
            self.notify.notify_waiters();
        }
        added
    }

    pub fn depth(&self) -> usize {
        self.lock().busy.len()
    }

    /// Forgets everything queued (not what is in flight): on losing the Lease.
    pub fn clear(&self) {
        let mut st = self.lock();
        let dropped: Vec<ScanRequest> = st.queued.drain(..).collect();
        for r in dropped {
            st.busy.remove(&r.key);
        }
    }

    fn take(&self) -> Option<ScanRequest> {
        self.lock().queued.pop_front()
    }

    fn finish(&self, key: &str, cool_for: Option<Duration>) {
        let mut st = self.lock();
        st.busy.remove(key);
        if let Some(d) = cool_for {
            st.cooling.insert(key.to_string(), Instant::now() + d);
        }
    }

    /// Runs the workers until `stop` resolves; at most `settings.scan_concurrency` scans at
    /// once. Each finished scan is written before the next one of that worker starts.
    pub async fn run(self: Arc<Self>, ctx: Context, stop: impl std::future::Future<Output = ()>) {
        let permits = Arc::new(Semaphore::new(ctx.settings.scan_concurrency.max(1)));
        let mut scans = tokio::task::JoinSet::new();
        let work = async {
            loop {
                while scans.try_join_next().is_some() {}
                let notified = self.notify.notified();
                let Some(req) = self.take() else {
                    ctx.metrics.scan_queue_depth.set(self.depth() as i64);
                    notified.await;
                    continue;
                };
                ctx.metrics.scan_queue_depth.set(self.depth() as i64);
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (queue, ctx) = (self.clone(), ctx.clone());
                scans.spawn(async move {
                    let cool = process(&queue, &ctx, &req).await;
                    queue.finish(&req.key, cool);
                    ctx.metrics.scan_queue_depth.set(queue.depth() as i64);
                    drop(permit);
                });
            }
        };
        tokio::select! {
            _ = work => {}
            _ = stop => {}
        }
        // Scans in flight are abandoned (their blocking part ends on its own; nothing is
        // written once the caller has stopped leading).
        scans.abort_all();
    }
}

/// Scans one image with retries and records the result. Returns a cool-down when the failure
/// could not be recorded in a report (no digest to name it after).
async fn process(queue: &ScanQueue, ctx: &Context, req: &ScanRequest) -> Option<Duration> {
    let started = Instant::now();
    let secrets = pull_secrets(ctx, req).await;
    let mut attempt = 1;
    let result = loop {
        match scan_blocking(ctx, req, secrets.clone()).await {
            Ok(scan) => break Ok(scan),
            Err(e) if attempt < ctx.settings.scan_attempts => {
                let wait = ctx.settings.scan_backoff * 2u32.saturating_pow(attempt - 1);
                tracing::info!(image = %req.reference, attempt, error = %e, retry_in = ?wait, "scan failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => break Err(e),
        }
    };
    ctx.metrics
        .scan_seconds
        .observe(started.elapsed().as_secs_f64());
    if !ctx.leader.load(Ordering::Acquire) {
        // Leadership moved during the scan: the new holder scans it again.
        tracing::info!(image = %req.reference, "no longer the lease holder; scan result dropped");
        return None;
    }
    let now = Timestamp::now();
    match result {
        Ok(scan) => {
            let Some(digest) = scan
                .image
                .as_ref()
                .and_then(|i| i["digest"].as_str())
                .map(String::from)
            else {
                tracing::error!(image = %req.reference, "scan returned no digest");
                return Some(ctx.settings.scan_backoff);
            };
            if req.digest.is_none() {
                for image in &req.images {
                    queue
                        .tags
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(image.clone(), digest.clone());
                }
            }
            let status = scanned_status(&scan, &req.images, now);
            ctx.metrics.count_scan(scan.outcome.as_str());
            match write_report(&ctx.client, &digest, &status, Overwrite::Any).await {
                Ok(report) => {
                    tracing::info!(image = %req.reference, %digest, outcome = scan.outcome.as_str(), "image scanned");
                    if scan.outcome == crate::policy::Outcome::NonCompliant {
                        let note = format!(
                            "{} is not FIPS-capable: {}",
                            req.reference,
                            status
                                .reasons
                                .first()
                                .map_or("see the report", String::as_str)
                        );
                        if let Some(report) = &report {
                            super::nodes::publish(ctx, report, "NonCompliantImage", "Scan", note)
                                .await;
                        }
                    }
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record a scan");
                    Some(ctx.settings.scan_backoff)
                }
            }
        }
        Err(reason) => {
            ctx.metrics.count_scan("failed");
            tracing::warn!(image = %req.reference, %reason, "scan failed for good");
            let Some(digest) = &req.digest else {
                // No digest, no report name: try again later.
                return Some(ctx.settings.scan_backoff * 10);
            };
            let status = failed_status(&reason, &req.images, &req.platform, now);
            if let Err(e) = write_report(&ctx.client, digest, &status, Overwrite::Any).await {
                tracing::error!(error = %e, "could not record a failed scan");
                return Some(ctx.settings.scan_backoff);
            }
            None
        }
    }
}

async fn scan_blocking(
    ctx: &Context,
    req: &ScanRequest,
    secrets: Vec<(String, Vec<u8>)>,
) -> Result<ScanReport, String> {
    let platform =
        Platform::parse(&req.platform).map_err(|e| format!("platform {}: {e}", req.platform))?;
    let opts = ImageOptions {
        platform,
        require_platform: false,
        registry: RegistryOptions {
            insecure: ctx.settings.insecure_registries.clone(),
            auth_file: None,
            pull_secrets: Some(secrets),
        },
        limits: Limits::default(),
        cache_dir: None,
    };
    let scan_ctx = ScanContext {
        registry: ModuleRegistry::clone(&ctx.registry),
        today: super::status::today(Timestamp::now()),
        // Reports store what was found; policies' acceptance is applied when they are read.
        policy: ImagePolicy::default(),
    };
    let reference = req.reference.clone();
    tokio::task::spawn_blocking(move || {
        scan_image(
            &ImageTarget::Registry(reference.clone()),
            &reference,
            &scan_ctx,
            &opts,
            &mut |_| {},
        )
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("scan task: {e}"))?
}

/// The `.dockerconfigjson` of the pull secrets the pod names, else those of its service
/// account (as the kubelet would use them). A secret that cannot be read is logged and
/// skipped: the pull may still work anonymously.
async fn pull_secrets(ctx: &Context, req: &ScanRequest) -> Vec<(String, Vec<u8>)> {
    let Some(ns) = &req.namespace else {
        return Vec::new();
    };
    let mut names = req.pull_secrets.clone();
    if names.is_empty() {
        let sa_name = req.service_account.as_deref().unwrap_or("default");
        let sas: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), ns);
        match sas.get_opt(sa_name).await {
            Ok(Some(sa)) => names.extend(
                sa.image_pull_secrets
                    .into_iter()
                    .flatten()
                    .map(|r| r.name)
                    .filter(|n| !n.is_empty()),
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(namespace = %ns, service_account = sa_name, error = %e, "cannot read the service account's image pull secrets")
            }
        }
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let mut out = Vec::new();
    for name in names {
        match api.get_opt(&name).await {
            Ok(Some(secret)) => {
                let data = secret.data.unwrap_or_default();
                let value = data
                    .get(".dockerconfigjson")
                    .or_else(|| data.get(".dockercfg"));
                match value {
                    Some(v) => out.push((format!("{ns}/{name}"), v.0.clone())),
                    None => {
                        tracing::warn!(secret = %format!("{ns}/{name}"), "image pull secret has no .dockerconfigjson")
                    }
                }
            }
            Ok(None) => {
                tracing::warn!(secret = %format!("{ns}/{name}"), "image pull secret not found")
            }
            Err(e) => {
                tracing::warn!(secret = %format!("{ns}/{name}"), error = %e, "cannot read image pull secret")
            }
        }
    }
    out
}
