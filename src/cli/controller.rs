//! `fips-operator controller`: the operator's Deployment role.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::EXIT_COMPLIANT;
use crate::controller::{
    self, AdmissionRouting, ProbePod, RunOptions, SelfManagedCerts, Settings, WebhookCerts,
    WebhookOptions,
};

#[derive(clap::Args, Debug)]
pub struct ControllerArgs {
    /// The namespace the operator runs in (always exempt from policies; home of the Lease and
    /// the probe DaemonSet).
    #[arg(long, env = "POD_NAMESPACE", default_value = "fips-operator")]
    pub namespace: String,
    /// This replica's identity in the leader-election Lease.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    #[arg(long, default_value = "fips-operator-controller")]
    pub lease_name: String,
    /// Seconds the Lease is held without renewal before another replica takes over.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=300))]
    pub lease_seconds: u64,
    /// Seconds a replica keeps serving after SIGTERM while it reports not ready, so that the
    /// webhook Service's endpoints drop it before its listeners close (a rollout or a drain
    /// then refuses no request). Keep it under the pod's terminationGracePeriodSeconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub shutdown_delay: u64,
    /// Where `/metrics`, `/live` and `/ready` are served (plain HTTP). `0.0.0.0` or `[::]`:
    /// every IPv4 and IPv6 address (dual-stack; IPv4 alone where the kernel has no IPv6).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// The probe DaemonSet's image (normally this controller's own image).
    #[arg(long, env = "FIPS_OPERATOR_PROBE_IMAGE")]
    pub probe_image: Option<String>,
    #[arg(long, default_value = "fips-operator-probe")]
    pub probe_service_account: String,
    /// Seconds between two probe passes on a node.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..))]
    pub probe_interval: u64,
    /// The probe pods' PriorityClass ("" for none: some managed clusters refuse
    /// system-node-critical outside kube-system).
    #[arg(long, default_value = "system-node-critical")]
    pub probe_priority_class: String,
    /// The probe pods' SELinux type: spc_t lets them read other containers' /proc/<pid>/root
    /// on SELinux-enforcing nodes (RHEL, RHCOS); "" leaves the runtime's default.
    #[arg(long, default_value = "spc_t")]
    pub probe_selinux_type: String,
    /// The probe container's AppArmor profile: Unconfined lets it read other processes'
    /// /proc/<pid>/root where the runtime's default profile denies that ptrace read;
    /// RuntimeDefault, or "" to leave it unset.
    #[arg(long, default_value = "Unconfined", value_parser = ["Unconfined", "RuntimeDefault", ""])]
    pub probe_apparmor_profile: String,
    /// A node whose FipsStatus is older than this many seconds is no longer counted as in
    /// FIPS mode (default: three probe intervals).
    #[arg(long)]
    pub node_stale_after: Option<u64>,
    /// Images scanned at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub scan_concurrency: u64,
    /// Attempts per image before its report records the failure.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub scan_attempts: u32,
    /// Seconds before the first retry of a failed scan (doubling after each attempt).
    #[arg(long, default_value_t = 10)]
    pub scan_backoff: u64,
    /// Registries (`host[:port]`) that may be reached over plain HTTP (loopback ones always may).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Seconds between two full passes when nothing changes.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(5..))]
    pub resync: u64,
    /// No cluster: serve only the admission webhook, deciding with --policy and the
    /// FipsImageReports in --reports (local trials and benchmarks).
    #[arg(long, requires_all = ["policy", "tls_cert", "tls_key"])]
    pub standalone: bool,
    /// The FipsPolicy (YAML or JSON) of --standalone.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// FipsImageReport files or directories of --standalone.
    #[arg(long, value_name = "DIR|FILE")]
    pub reports: Vec<PathBuf>,
    /// The webhook's serving certificate chain (PEM; e.g. a mounted cert-manager Secret);
    /// re-read when it changes. With --tls-key, every replica serves the webhook.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The webhook's private key (PEM); re-read when it changes.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve the webhook with a CA and serving certificate the operator makes itself (ECDSA
    /// P-256, SHA-256), keeps in --cert-secret, rotates before expiry and publishes in the
    /// caBundle of --webhook-config. The alternative is --tls-cert/--tls-key (cert-manager).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "standalone"])]
    pub self_managed_certs: bool,
    /// The Secret (in --namespace) holding the self-managed certificates.
    #[arg(long, default_value = "fips-operator-webhook-tls")]
    pub cert_secret: String,
    /// The webhook's Service (in --namespace): the serving certificate names
    /// `<service>.<namespace>.svc` and `<service>.<namespace>.svc.cluster.local`.
    #[arg(long, default_value = "fips-operator-webhook")]
    pub webhook_service: String,
    /// The ValidatingWebhookConfiguration whose caBundle the self-managed mode keeps written,
    /// and whose published caBundle lets --admission-label route namespaces to it.
    #[arg(long, default_value = "fips-operator")]
    pub webhook_config: String,
    /// The namespace label that routes admission reviews: the controller keeps it set to the
    /// strictest mode of the policies judging each namespace (enforce, warn, audit) and
    /// removes it elsewhere; --webhook-config's webhooks select namespaces by it, so the API
    /// server calls the webhook only where a policy judges. One key per install. Empty: the
    /// controller labels no namespace.
    #[arg(long, default_value = "admission.fips.operator.dev/fips-operator", value_parser = label_key)]
    pub admission_label: String,
    /// Where the webhook listens (HTTPS). `0.0.0.0` or `[::]`: every IPv4 and IPv6 address
    /// (dual-stack; IPv4 alone where the kernel has no IPv6).
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub webhook_addr: SocketAddr,
    /// Judge certificate dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, env = "FIPS_AS_OF", value_name = "DAY")]
    pub as_of: Option<String>,
    /// Log format: text for people, json for log pipelines. RUST_LOG sets the level (info).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// A label key as Kubernetes accepts it: `[prefix/]name`, the prefix a DNS subdomain of at
/// most 253 characters, the name at most 63 of `[A-Za-z0-9._-]` that starts and ends with a
/// letter or digit. Empty is allowed (no routing).
fn label_key(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Ok(String::new());
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || "-_.".contains(c));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    if name_ok && prefix_ok {
        Ok(key.to_string())
    } else {
        Err(format!(
            "{key:?} is not a Kubernetes label key: [prefix/]name, the prefix a DNS subdomain \
             (lowercase), the name at most 63 letters, digits, '-', '_' or '.' that starts and \
             ends with a letter or digit; e.g. admission.fips.operator.dev/my-release"
        ))
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

impl ControllerArgs {
    pub fn settings(&self) -> Settings {
        let probe_interval = Duration::from_secs(self.probe_interval);
        Settings {
            namespace: self.namespace.clone(),
            probe_image: self
                .probe_image
                .clone()
                .unwrap_or_else(|| Settings::default().probe_image),
            probe_service_account: self.probe_service_account.clone(),
            probe_interval,
            probe_pod: ProbePod {
                priority_class: Some(self.probe_priority_class.clone()).filter(|s| !s.is_empty()),
                selinux_type: Some(self.probe_selinux_type.clone()).filter(|s| !s.is_empty()),
                apparmor_profile: Some(self.probe_apparmor_profile.clone())
                    .filter(|s| !s.is_empty()),
            },
            node_stale_after: self
                .node_stale_after
                .map_or(probe_interval * 3, Duration::from_secs),
            scan_concurrency: self.scan_concurrency as usize,
            scan_attempts: self.scan_attempts,
            scan_backoff: Duration::from_secs(self.scan_backoff),
            insecure_registries: self.insecure_registries.clone(),
            default_platform: "linux/amd64".into(),
            resync: Duration::from_secs(self.resync),
            self_managed_certs: self.self_managed_certs.then(|| SelfManagedCerts {
                secret: self.cert_secret.clone(),
                service: self.webhook_service.clone(),
                webhook_config: self.webhook_config.clone(),
                lifetimes: Default::default(),
            }),
            admission_routing: Some(self.admission_label.clone())
                .filter(|l| !l.is_empty())
                .map(|label| AdmissionRouting {
                    label,
                    webhook_config: self.webhook_config.clone(),
                }),
        }
    }
}

/// `--standalone`: the webhook alone, on files, until SIGTERM or Ctrl-C.
fn standalone(args: &ControllerArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    use crate::webhook::{server, tags::TagResolver, Admission, ReportVerdicts};
    let (Some(policy), Some(cert), Some(key)) = (&args.policy, &args.tls_cert, &args.tls_key)
    else {
        anyhow::bail!("--standalone needs --policy, --tls-cert and --tls-key");
    };
    let policy = super::scan::read_policy(policy)?;
    let (registry, today) = super::scan::registry_and_day(None, args.as_of.as_deref())?;
    let reports = super::admit::load_reports(&args.reports)?;
    let count = reports.len();
    let admission = std::sync::Arc::new(Admission {
        policies: vec![(
            policy
                .metadata
                .name
                .clone()
                .unwrap_or_else(|| "policy".into()),
            policy.spec,
        )],
        verdicts: Box::new(ReportVerdicts {
            reports,
            registry,
            today,
            platforms: Vec::new(),
        }),
        nodes: Vec::new(),
        namespaces: Default::default(),
        operator_namespace: args.namespace.clone(),
        requested: Default::default(),
        tags: Some(std::sync::Arc::new(TagResolver::registry(
            crate::image::RegistryOptions {
                insecure: args.insecure_registries.clone(),
                ..Default::default()
            },
        ))),
    });
    let tls = server::tls_config(server::FileCert::new(cert.clone(), key.clone())?)?;
    runtime.block_on(async {
        let listener = crate::listen::bind(args.webhook_addr)
            .with_context(|| format!("cannot listen on {} (--webhook-addr)", args.webhook_addr))?;
        tracing::info!(
            addr = %listener.local_addr().map_or(args.webhook_addr, |a| a),
            reports = count,
            "serving the admission webhook (standalone) on POST /validate"
        );
        let source: server::AdmissionSource = std::sync::Arc::new(move || Some(admission.clone()));
        let delay = Duration::from_secs(args.shutdown_delay);
        let stop = async move {
            crate::controller::signal().await;
            tracing::info!(drain = ?delay, "shutting down: serving until the drain ends");
            tokio::time::sleep(delay).await;
        };
        server::serve(listener, tls, source, stop).await;
        Ok::<_, anyhow::Error>(())
    })
}

pub fn run(args: ControllerArgs) -> anyhow::Result<u8> {
    init_logging(args.log_format);
    if args.standalone {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        standalone(&args, &runtime)?;
        return Ok(EXIT_COMPLIANT);
    }
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .context("no identity for the Lease: set --identity or POD_NAME")?;
    let opts = RunOptions {
        metrics_addr: args.metrics_addr,
        lease_name: args.lease_name.clone(),
        identity,
        lease_seconds: args.lease_seconds,
        drain: Duration::from_secs(args.shutdown_delay),
        webhook: match (&args.tls_cert, &args.tls_key, args.self_managed_certs) {
            (Some(cert), Some(key), _) => Some(WebhookOptions {
                addr: args.webhook_addr,
                certs: WebhookCerts::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
            }),
            (None, None, true) => Some(WebhookOptions {
                addr: args.webhook_addr,
                certs: WebhookCerts::SelfManaged,
            }),
            (None, None, false) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(controller::run(args.settings(), opts));
    // Scans still running in blocking threads must not hold the exit until SIGKILL.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result?;
    Ok(EXIT_COMPLIANT)
}
