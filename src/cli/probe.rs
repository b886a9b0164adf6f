//! `fips-operator probe`: the node probe (the DaemonSet role).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::jiff::Timestamp;

use super::controller::{init_logging, LogFormat};
use super::scan::registry_and_day;
use super::EXIT_COMPLIANT;
use crate::image::ScanContext;
use crate::policy::ImagePolicy;
use crate::probe::{Probe, ProbeSettings};

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The node this probe runs on (the DaemonSet passes spec.nodeName).
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    /// Where the host's /proc and /etc are mounted (read-only).
    #[arg(long, default_value = "/", value_name = "DIR")]
    pub host_root: PathBuf,
    /// Time between passes: seconds, or with a unit (300s, 5m).
    #[arg(long, default_value = "300s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Spread passes over ±this fraction of the interval.
    #[arg(long, default_value_t = 0.1)]
    pub jitter: f64,
    /// TLS endpoints to audit (repeatable). Default: the kubelet at $HOST_IP:10250, and on
    /// nodes labelled node-role.kubernetes.io/control-plane the API server ($HOST_IP:6443)
    /// and etcd ($HOST_IP:2379).
    #[arg(long = "tls", value_name = "HOST:PORT")]
    pub tls: Vec<String>,
    /// The node's IP (the DaemonSet passes status.hostIP).
    #[arg(long, env = "HOST_IP")]
    pub host_ip: Option<String>,
    /// Minutes between two TLS audits.
    #[arg(long, default_value_t = 60)]
    pub tls_every: u64,
    /// One pass, then exit (for a Job, or a try on one node).
    #[arg(long)]
    pub once: bool,
    /// No API server: read the node's facts and processes, print the FipsStatus it would
    /// write as JSON, and exit after `--passes` passes back to back (for trials and the
    /// resource benchmark, scripts/bench-probe.sh).
    #[arg(long)]
    pub dry_run: bool,
    /// Passes of a `--dry-run`.
    #[arg(long, default_value_t = 1, requires = "dry_run")]
    pub passes: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// A module registry JSON file to use instead of the built-in one.
    #[arg(long, env = "FIPS_MODULE_REGISTRY", value_name = "FILE")]
    pub module_registry: Option<PathBuf>,
}

fn host(args: &ProbeArgs) -> Option<String> {
    let ip = args.host_ip.as_ref()?;
    Some(if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.clone()
    })
}

/// `--tls`, else the kubelet on the node's IP.
fn tls_endpoints(args: &ProbeArgs) -> Vec<String> {
    if !args.tls.is_empty() {
        return args.tls.clone();
    }
    host(args)
        .map(|h| vec![format!("{h}:10250")])
        .unwrap_or_default()
}

/// The API server and etcd on the node's IP, audited on control-plane nodes (unless `--tls`
/// names the endpoints).
fn control_plane_endpoints(args: &ProbeArgs) -> Vec<String> {
    if !args.tls.is_empty() {
        return Vec::new();
    }
    host(args)
        .map(|h| vec![format!("{h}:6443"), format!("{h}:2379")])
        .unwrap_or_default()
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected seconds, e.g. 300 or 300s or 5m"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: the unit must be s, m or h")),
    };
    if secs < 10 {
        return Err(format!("{s:?}: at least 10 seconds"));
    }
    Ok(Duration::from_secs(secs))
}

pub fn run(args: ProbeArgs) -> anyhow::Result<u8> {
    init_logging(args.log_format);
    let (registry, today) = registry_and_day(args.module_registry.as_deref(), None)?;
    let ctx = ScanContext {
        registry,
        today,
        policy: ImagePolicy::default(),
    };
    let settings = ProbeSettings {
        node: args.node.clone(),
        host_root: args.host_root.clone(),
        interval: args.interval,
        jitter: args.jitter,
        tls_endpoints: tls_endpoints(&args),
        control_plane_endpoints: control_plane_endpoints(&args),
        tls_every: Duration::from_secs(args.tls_every.max(1) * 60),
    };
    if args.dry_run {
        let mut probe = Probe::new(settings, ctx);
        let mut last = None;
        for pass in 1..=args.passes.max(1) {
            let started = std::time::Instant::now();
            last = Some(probe.dry_pass(Timestamp::now())?);
            eprintln!(
                "pass {pass}: {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&last).context("encoding the status")?
        );
        return Ok(EXIT_COMPLIANT);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let client = crate::controller::kube_client().await?;
        let mut probe = Probe::new(settings, ctx);
        loop {
            match probe.pass(&client, Timestamp::now()).await {
                Ok(s) => tracing::info!(
                    node = %args.node,
                    containers = s.summary.containers,
                    non_compliant = s.summary.non_compliant,
                    unknown = s.summary.unknown,
                    "FipsStatus written"
                ),
                Err(e) if args.once => return Err(e),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "probe pass failed; retrying next interval"),
            }
            if args.once {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(probe.next_wait()) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = sigterm() => return Ok(()),
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    result?;
    Ok(EXIT_COMPLIANT)
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_interval("5").is_err());
        assert!(parse_interval("5d").is_err());
        assert!(parse_interval("abc").is_err());
    }
}
