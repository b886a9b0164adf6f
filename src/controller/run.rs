//! Wiring: the watches that fill the caches, leader election, the reconcile loop, the scan
//! workers, the HTTP endpoints, and a graceful shutdown on SIGTERM / Ctrl-C.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::TryStreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use kube_lease_manager::LeaseManagerBuilder;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::facts::{prune_pod, prune_workload};
use super::scan_queue::{scan_requests, ScanQueue};
use super::server::{serve, Health};
use super::{certs, daemonset, namespaces, nodes, status, Context, Error, Settings, Stores};
use crate::cluster::reports::{write_report, Overwrite};
use crate::webhook::tags::TagResolver;
use crate::webhook::{server as webhook_server, Admission, ReportVerdicts};

/// How `fips-operator controller` runs besides [`Settings`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub metrics_addr: SocketAddr,
    /// Name of the Lease (in the operator's namespace) that elects the writer.
    pub lease_name: String,
    /// This replica's identity in the Lease (the pod name).
    pub identity: String,
    /// Seconds a Lease is held without renewal.
    pub lease_seconds: u64,
    /// Serve the admission webhook (every replica, from its own caches).
    pub webhook: Option<WebhookOptions>,
    /// After SIGTERM: how long the replica reports not ready while it keeps serving, so that
    /// the Service's endpoints forget it before its listeners close.
    pub drain: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookOptions {
    pub addr: SocketAddr,
    pub certs: WebhookCerts,
}

/// Where the webhook's serving certificate comes from.
#[derive(Debug, Clone)]
pub enum WebhookCerts {
    /// Files (e.g. a cert-manager Secret mounted into the pod), re-read when they change.
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
    /// The Secret of `Settings::self_managed_certs`, as this replica's watch sees it.
    SelfManaged,
}

/// The webhook's view of this replica's caches.
pub fn admission_snapshot(
    ctx: &Context,
    requested: Arc<std::sync::Mutex<Vec<String>>>,
    tags: Option<Arc<TagResolver>>,
    now: Timestamp,
) -> Admission {
    let stores = &ctx.stores;
    let facts = stores.cluster_facts(
        &ctx.settings,
        &ctx.registry,
        crate::policy::ImagePolicy::default(),
        now,
    );
    Admission {
        policies: stores
            .policies
            .state()
            .iter()
            .map(|p| (p.name_any(), p.spec.clone()))
            .collect(),
        verdicts: Box::new(ReportVerdicts {
            reports: stores
                .reports
                .state()
                .iter()
                .map(|r| (**r).clone())
                .collect(),
            registry: (*ctx.registry).clone(),
            today: super::status::today(now),
            platforms: crate::webhook::node_platforms(&facts.nodes),
        }),
        nodes: facts.nodes,
        namespaces: facts
            .namespaces
            .into_iter()
            .map(|n| (n.name, n.labels))
            .collect(),
        operator_namespace: ctx.settings.namespace.clone(),
        requested,
        tags,
    }
}

/// Creates a `Pending` FipsImageReport for each image a review met without a verdict (any
/// replica may; the lease holder's queue scans it). Only digests can name a report: an image
/// known by tag alone is left to the queue, which sees it in its pod or workload.
pub async fn request_scans(ctx: &Context, images: Vec<String>) {
    let reports = ctx.stores.reports.state();
    for image in images {
        let Some((_, digest)) = image.split_once('@') else {
            continue;
        };
        let known = reports.iter().any(|r| {
            r.spec.digest == digest
                || r.status
                    .as_ref()
                    .is_some_and(|s| s.index_digests.iter().any(|d| d == digest))
        });
        if known {
            continue;
        }
        let status = crate::api::FipsImageReportStatus {
            phase: crate::api::ImagePhase::Pending,
            images: vec![image.clone()],
            ..Default::default()
        };
        // Created only where no report is: a cache that missed a verdict never turns it back
        // into Pending.
        if let Err(e) = write_report(&ctx.client, digest, &status, Overwrite::Absent).await {
            tracing::warn!(%image, error = %e, "could not request a scan");
        }
    }
}

/// The first wait after a failed pass; it doubles up to the resync period.
const FIRST_RETRY: Duration = Duration::from_secs(2);

/// True when `lease` names `identity` as holder and its last renewal has not expired.
pub fn lease_held(lease: &Lease, identity: &str, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else {
        return false;
    };
    let (Some(holder), Some(renewed), Some(seconds)) = (
        spec.holder_identity.as_deref(),
        spec.renew_time.as_ref(),
        spec.lease_duration_seconds,
    ) else {
        return false;
    };
    let until = renewed
        .0
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(i64::from(
            seconds,
        )))
        .ok();
    holder == identity && until.is_some_and(|u| u > now)
}

/// One pass of every reconciler; each is timed and counted on its own, and one failing does
/// not stop the others. Returns the first error.
pub async fn reconcile_all(ctx: &Context, queue: &ScanQueue, now: Timestamp) -> Result<(), Error> {
    let mut first_error = None;
    let mut record = |name: &str, started: Instant, result: Result<(), Error>| {
        ctx.metrics
            .observe_reconcile(name, started.elapsed(), result.is_err());
        if let Err(e) = result {
            tracing::warn!(reconciler = name, error = %e, "reconcile failed; retrying on the next pass");
            first_error.get_or_insert(e);
        }
    };
    if let Some(cfg) = &ctx.settings.self_managed_certs {
        let t = Instant::now();
        let r = certs::reconcile_certificates(ctx, cfg, now.as_second())
            .await
            .map(drop);
        record("webhook-certificates", t, r);
    }
    let t = Instant::now();
    let r = status::reconcile_policies(ctx, now).await.map(drop);
    record("policy-status", t, r);
    let t = Instant::now();
    let r = namespaces::reconcile_namespaces(ctx).await.map(drop);
    record("admission-routing", t, r);
    let t = Instant::now();
    let r = nodes::reconcile_nodes(ctx, now).await.map(drop);
    record("nodes", t, r);
    let t = Instant::now();
    let r = daemonset::reconcile_daemonset(ctx).await.map(drop);
    record("probe-daemonset", t, r);
    let t = Instant::now();
    let added = queue.offer(scan_requests(
        &ctx.stores,
        &ctx.settings.default_platform,
        &queue.tags(),
    ));
    if added > 0 {
        tracing::info!(added, depth = queue.depth(), "images queued for scanning");
    }
    ctx.metrics.scan_queue_depth.set(queue.depth() as i64);
    record("scan-queue", t, Ok(()));
    first_error.map_or(Ok(()), Err)
}

/// Watches `api` into `writer`, pruning each object with `prune`, and pokes `changed` on
/// every event.
fn spawn_watch<K>(
    api: Api<K>,
    writer: Writer<K>,
    prune: fn(&mut K),
    changed: Arc<Notify>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let config = watcher::Config::default().any_semantic();
    spawn_watch_with(api, config, writer, prune, changed)
}

/// [`spawn_watch`] of the objects `config` selects.
fn spawn_watch_with<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: Writer<K>,
    prune: fn(&mut K),
    changed: Arc<Notify>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api, config)
            .default_backoff()
            .modify(prune)
            .reflect(writer)
            .touched_objects();
        futures::pin_mut!(stream);
        loop {
            match stream.try_next().await {
                Ok(Some(_)) => changed.notify_one(),
                Ok(None) => return,
                Err(e) => tracing::warn!(kind = %K::kind(&()), error = %e, "watch error; retrying"),
            }
        }
    })
}

fn keep<K>(_: &mut K) {}

/// Watches the one object `name`: `on_object` sees it at every event (deletions included),
/// then `changed` is poked (no cache: the reconcilers read what they need).
fn spawn_named_watch<K>(
    api: Api<K>,
    name: &str,
    mut on_object: impl FnMut(&K) + Send + 'static,
    changed: Arc<Notify>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let name = name.to_string();
    tokio::spawn(async move {
        let stream = watcher(api, config).default_backoff().touched_objects();
        futures::pin_mut!(stream);
        loop {
            match stream.try_next().await {
                Ok(Some(object)) => {
                    on_object(&object);
                    changed.notify_one();
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&()), %name, error = %e, "watch error; retrying")
                }
            }
        }
    })
}

/// SIGTERM (what the kubelet sends) or Ctrl-C.
pub(crate) async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A client from the kubeconfig or the pod's service account. When neither works, the error
/// names the configuration that was tried and what is wrong with it.
pub async fn kube_client() -> anyhow::Result<Client> {
    use kube::config::{Kubeconfig, KubeconfigError};
    let error = match Client::try_default().await {
        Ok(client) => return Ok(client),
        Err(e) => e,
    };
    let first_line = |e: &dyn std::fmt::Display| {
        let text = e.to_string();
        text.lines().next().unwrap_or_default().trim().to_string()
    };
    // A kubeconfig that reads but cannot be used (no current context, a bad cluster URL…).
    let unusable = match kube::Config::from_kubeconfig(&Default::default()).await {
        Err(e) => first_line(&e),
        Ok(_) => first_line(&error),
    };
    let kubeconfig = std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty());
    let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let why = match (kubeconfig, Kubeconfig::read()) {
        (Some(path), Err(e)) => format!(
            "KUBECONFIG={path}: {}; fix it, or point KUBECONFIG at a working kubeconfig",
            first_line(&e)
        ),
        (Some(path), Ok(_)) => format!("KUBECONFIG={path}: {unusable}"),
        (None, Err(KubeconfigError::FindPath | KubeconfigError::ReadConfig(..))) if !in_pod => {
            "not in a pod (KUBERNETES_SERVICE_HOST is not set) and no ~/.kube/config; run in a \
             pod, or set KUBECONFIG"
                .to_string()
        }
        (None, Err(KubeconfigError::FindPath | KubeconfigError::ReadConfig(..))) => {
            format!("in a pod, but its service account: {}", first_line(&error))
        }
        (None, Err(e)) => format!(
            "~/.kube/config: {}; fix it, or set KUBECONFIG",
            first_line(&e)
        ),
        (None, Ok(_)) => format!("~/.kube/config: {unusable}"),
    };
    Err(anyhow::anyhow!("no Kubernetes configuration: {why}"))
}

pub async fn run(settings: Settings, opts: RunOptions) -> anyhow::Result<()> {
    let client = kube_client().await?;
    let (stores, w) = Stores::new();
    let ctx = Context::new(
        client.clone(),
        stores.clone(),
        settings,
        opts.identity.clone(),
    );
    let changed = Arc::new(Notify::new());
    let c = &changed;
    let mut watches = vec![
        spawn_watch(Api::all(client.clone()), w.policies, keep, c.clone()),
        spawn_watch(
            Api::all(client.clone()),
            w.nodes,
            |n: &mut k8s_openapi::api::core::v1::Node| {
                n.metadata.managed_fields = None;
                n.metadata.annotations = None;
                if let Some(s) = n.status.as_mut() {
                    s.images = None;
                    s.conditions = None;
                    s.volumes_attached = None;
                    s.volumes_in_use = None;
                }
            },
            c.clone(),
        ),
        spawn_watch(Api::all(client.clone()), w.statuses, keep, c.clone()),
        spawn_watch(Api::all(client.clone()), w.reports, keep, c.clone()),
        spawn_watch(
            Api::all(client.clone()),
            w.namespaces,
            |n: &mut k8s_openapi::api::core::v1::Namespace| {
                n.metadata.managed_fields = None;
                n.metadata.annotations = None;
            },
            c.clone(),
        ),
        spawn_watch(Api::all(client.clone()), w.pods, prune_pod, c.clone()),
        spawn_watch(
            Api::all(client.clone()),
            w.deployments,
            prune_workload,
            c.clone(),
        ),
        spawn_watch(
            Api::all(client.clone()),
            w.statefulsets,
            prune_workload,
            c.clone(),
        ),
        spawn_watch(
            Api::all(client.clone()),
            w.daemonsets,
            prune_workload,
            c.clone(),
        ),
        spawn_watch(
            Api::all(client.clone()),
            w.replicasets,
            prune_workload,
            c.clone(),
        ),
        spawn_watch(Api::all(client.clone()), w.jobs, prune_workload, c.clone()),
        spawn_watch(
            Api::all(client.clone()),
            w.cronjobs,
            prune_workload,
            c.clone(),
        ),
    ];

    // The webhook configuration: its caBundle decides whether namespaces are routed to it
    // (admission routing), and a reset caBundle (helm upgrade) starts a pass that writes it
    // again (self-managed certificates).
    let webhook_config = ctx
        .settings
        .admission_routing
        .as_ref()
        .map(|r| r.webhook_config.clone())
        .or_else(|| {
            let certs = ctx.settings.self_managed_certs.as_ref();
            certs.map(|c| c.webhook_config.clone())
        });
    if let Some(name) = &webhook_config {
        watches.push(spawn_watch_with(
            Api::all(client.clone()),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
            w.webhook_configs,
            keep,
            changed.clone(),
        ));
    }

    let ready = Arc::new(AtomicBool::new(false));
    // `/ready`: the caches synced and, with self-managed certificates, one loaded.
    let self_managed = matches!(
        &opts.webhook,
        Some(WebhookOptions {
            certs: WebhookCerts::SelfManaged,
            ..
        })
    );
    let readiness = super::server::Readiness::new(1 + usize::from(self_managed));
    {
        let (stores, ready, changed) = (stores.clone(), ready.clone(), changed.clone());
        let readiness = readiness.clone();
        let watch_config = webhook_config.is_some();
        watches.push(tokio::spawn(async move {
            let s = &stores;
            let all = [
                s.policies.wait_until_ready().await,
                s.nodes.wait_until_ready().await,
                s.statuses.wait_until_ready().await,
                s.reports.wait_until_ready().await,
                s.namespaces.wait_until_ready().await,
                s.pods.wait_until_ready().await,
                s.deployments.wait_until_ready().await,
                s.statefulsets.wait_until_ready().await,
                s.daemonsets.wait_until_ready().await,
                s.replicasets.wait_until_ready().await,
                s.jobs.wait_until_ready().await,
                s.cronjobs.wait_until_ready().await,
            ];
            let config_synced = match watch_config {
                true => s.webhook_configs.wait_until_ready().await.is_ok(),
                false => true,
            };
            if all.iter().all(Result::is_ok) && config_synced {
                ready.store(true, Ordering::Release);
                readiness.met();
                tracing::info!("caches synced; ready");
                // The first pass, whatever the watches do next.
                changed.notify_one();
            }
        }));
    }

    let shutdown = Arc::new(Notify::new());
    let listener = crate::listen::bind(opts.metrics_addr)
        .with_context(|| format!("cannot listen on {} (--metrics-addr)", opts.metrics_addr))?;
    tracing::info!(addr = %opts.metrics_addr, "serving /metrics, /live and /ready");
    let server = tokio::spawn(serve(
        listener,
        Health {
            metrics: ctx.metrics.clone(),
            ready: readiness.flag(),
        },
        {
            let s = shutdown.clone();
            async move { s.notified().await }
        },
    ));

    let snapshot: Arc<std::sync::RwLock<Option<Arc<Admission>>>> = Arc::default();
    let requested: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    // Tags in reviews are resolved anonymously (the webhook does not read pull secrets per
    // request); an image it cannot pin is judged once its pod's scan has a digest.
    let tags = Arc::new(TagResolver::registry(crate::image::RegistryOptions {
        insecure: ctx.settings.insecure_registries.clone(),
        auth_file: None,
        pull_secrets: Some(Vec::new()),
    }));
    let webhook = match &opts.webhook {
        None => None,
        Some(w) => {
            let resolver: Arc<dyn rustls::server::ResolvesServerCert> = match &w.certs {
                WebhookCerts::Files { cert, key } => {
                    webhook_server::FileCert::new(cert.clone(), key.clone())?
                }
                WebhookCerts::SelfManaged => {
                    let cfg = ctx
                        .settings
                        .self_managed_certs
                        .as_ref()
                        .context("self-managed certificates without their settings")?;
                    let ns = &ctx.settings.namespace;
                    let serving = Arc::new(webhook_server::SharedCert::default());
                    // Every replica serves what the Secret holds, loaded as its watch sees
                    // it change (the lease holder writes it); `/ready` waits for the first.
                    let what = format!("Secret {ns}/{}", cfg.secret);
                    let mut loader =
                        certs::ServingLoader::new(what.clone(), serving.clone(), readiness.clone());
                    watches.push(spawn_named_watch(
                        Api::<Secret>::namespaced(client.clone(), ns),
                        &cfg.secret,
                        move |secret| match loader.load(secret) {
                            Ok(true) => {
                                tracing::info!(secret = %what, "serving certificate loaded")
                            }
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "keeping the serving certificate in use")
                            }
                        },
                        changed.clone(),
                    ));
                    serving
                }
            };
            let tls = webhook_server::tls_config(resolver)?;
            let listener = crate::listen::bind(w.addr)
                .with_context(|| format!("cannot listen on {} (--webhook-addr)", w.addr))?;
            tracing::info!(addr = %w.addr, "serving the admission webhook on POST /validate");
            let slot = snapshot.clone();
            let source: webhook_server::AdmissionSource =
                Arc::new(move || slot.read().unwrap_or_else(|e| e.into_inner()).clone());
            let s = shutdown.clone();
            Some(tokio::spawn(webhook_server::serve(
                listener,
                tls,
                source,
                async move { s.notified().await },
            )))
        }
    };
    if opts.webhook.is_some() {
        // Pending reports for images the webhook met without a verdict, once a second.
        let (ctx, requested) = (ctx.clone(), requested.clone());
        watches.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let images =
                    std::mem::take(&mut *requested.lock().unwrap_or_else(|e| e.into_inner()));
                if !images.is_empty() {
                    request_scans(&ctx, images).await;
                }
            }
        }));
    }

    let lease = LeaseManagerBuilder::new(client.clone(), &opts.lease_name)
        .with_namespace(&ctx.settings.namespace)
        .with_identity(&opts.identity)
        .with_duration(opts.lease_seconds)
        .with_grace(opts.lease_seconds.div_ceil(3).max(1))
        .build()
        .await
        .with_context(|| format!("lease {}/{}", ctx.settings.namespace, opts.lease_name))?;
    let (mut leader, lease_task) = lease.watch().await;
    ctx.leader.store(*leader.borrow(), Ordering::Release);

    let queue = Arc::new(ScanQueue::default());
    let workers = tokio::spawn(queue.clone().run(ctx.clone(), {
        let s = shutdown.clone();
        async move { s.notified().await }
    }));

    let stop = signal();
    futures::pin_mut!(stop);
    let mut resync = tokio::time::interval(ctx.settings.resync);
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ctx.settings.namespace);
    let mut retry: Option<tokio::time::Instant> = None;
    let mut backoff = FIRST_RETRY;
    loop {
        let retry_due = async {
            match retry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = changed.notified() => {}
            _ = retry_due => retry = None,
            _ = resync.tick() => {
                // Re-apply the DaemonSet at least once per resync: an edit to the live
                // object is undone.
                ctx.forget_applied_daemonset();
            }
            r = leader.changed() => {
                if r.is_err() {
                    tracing::error!("leader election stopped; exiting so that another replica takes over");
                    break;
                }
                let is = *leader.borrow();
                ctx.leader.store(is, Ordering::Release);
                ctx.metrics.leader.set(i64::from(is));
                ctx.forget_applied_daemonset();
                if !is {
                    queue.clear();
                }
                tracing::info!(leader = is, identity = %opts.identity, "leadership changed");
            }
        }
        // Let a burst of watch events settle into one pass; a stop still wins.
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if !ready.load(Ordering::Acquire) {
            continue;
        }
        // Every replica: the webhook decides from a fresh snapshot of the caches.
        if opts.webhook.is_some() {
            let fresh = admission_snapshot(
                &ctx,
                requested.clone(),
                Some(tags.clone()),
                Timestamp::now(),
            );
            *snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(fresh));
        }
        if !*leader.borrow() {
            continue;
        }
        // The lease library keeps saying "leader" while its renewals fail: before writing,
        // check that the Lease itself is still ours and not expired.
        match leases.get_opt(&opts.lease_name).await {
            Ok(Some(l)) if lease_held(&l, &opts.identity, Timestamp::now()) => {
                ctx.leader.store(true, Ordering::Release);
            }
            other => {
                ctx.leader.store(false, Ordering::Release);
                queue.clear();
                tracing::warn!(lease = %opts.lease_name, error = ?other.err(), "the Lease is not (or no longer provably) ours: not writing");
                retry = Some(tokio::time::Instant::now() + backoff);
                continue;
            }
        }
        match reconcile_all(&ctx, &queue, Timestamp::now()).await {
            Ok(()) => backoff = FIRST_RETRY,
            Err(_) => {
                retry = Some(tokio::time::Instant::now() + backoff);
                backoff = (backoff * 2).min(ctx.settings.resync);
            }
        }
    }

    // Drain: not ready at once (the Service's endpoints drop this replica), the lease released
    // (another replica writes), the webhook and /metrics served on until the endpoints have
    // forgotten this replica, then the listeners close and requests in flight finish.
    let draining = Instant::now();
    readiness.stop();
    tracing::info!(drain = ?opts.drain, "shutting down: not ready, releasing the lease, serving until the drain ends");
    // Stop writing first: scans still in flight drop their results.
    ctx.leader.store(false, Ordering::Release);
    drop(leader);
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), lease_task).await {
        tracing::warn!(error = %e, "could not release the lease; it expires on its own");
    }
    tokio::time::sleep(opts.drain.saturating_sub(draining.elapsed())).await;
    tracing::info!("drained: closing the listeners, finishing requests in flight");
    shutdown.notify_waiters();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    if let Some(w) = webhook {
        let _ = tokio::time::timeout(Duration::from_secs(11), w).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), workers).await;
    for w in watches {
        w.abort();
    }
    Ok(())
}
