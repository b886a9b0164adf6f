//! `fips-operator check`: this host's FIPS state, the runtime evidence of its processes, and
//! TLS endpoint audits.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::output::OutputFormat;
use super::scan::registry_and_day;
use super::{EXIT_COMPLIANT, EXIT_ERROR, EXIT_NOT_COMPLIANT};
use crate::host::process::{scan_processes, ProcessEvidence, State};
use crate::host::tls::{audit, TlsAudit};
use crate::host::{host_facts, host_reasons, HostFacts};
use crate::image::ScanContext;
use crate::policy::ImagePolicy;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Read the host under this directory (`DIR/proc`, `DIR/etc`): a node's root mounted in a
    /// container, or a fixture tree.
    #[arg(long, default_value = "/", value_name = "DIR")]
    pub root: PathBuf,
    /// Output format: a table for people, JSON for machines.
    #[arg(long, short, value_enum, default_value = "table", env = "FIPS_OUTPUT")]
    pub output: OutputFormat,
    /// Audit the TLS endpoint at HOST:PORT (repeatable): which protocols, suites and groups it
    /// accepts, and which are not FIPS-approved.
    #[arg(long = "tls", value_name = "HOST:PORT")]
    pub tls: Vec<String>,
    /// Seconds each TLS probe connection may take.
    #[arg(long, default_value_t = 5)]
    pub tls_timeout: u64,
    /// A module registry JSON file to use instead of the built-in one.
    #[arg(long, env = "FIPS_MODULE_REGISTRY", value_name = "FILE")]
    pub module_registry: Option<PathBuf>,
    /// Judge certificate dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, env = "FIPS_AS_OF", value_name = "DAY")]
    pub as_of: Option<String>,
}

/// The `check` document (README: `fips-operator check`).
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub outcome: &'static str,
    /// Why the host is not compliant (empty when it is).
    pub reasons: Vec<String>,
    /// What could not be looked at (e.g. processes hidden for lack of privilege).
    pub warnings: Vec<String>,
    pub host: HostFacts,
    pub processes: Vec<ProcessEvidence>,
    pub tls: Vec<TlsAudit>,
}

/// The host is compliant when H1 and H2 (and H3 where it applies) hold, every process that
/// uses cryptography is `fips-active`, every process could be inspected, and every audited
/// endpoint accepts only approved protocols, suites and groups.
pub fn evaluate(
    host: HostFacts,
    processes: Vec<ProcessEvidence>,
    unreadable: usize,
    warnings: Vec<String>,
    tls: Vec<TlsAudit>,
) -> CheckReport {
    let mut reasons = host_reasons(&host);
    for p in &processes {
        if !matches!(p.state, State::FipsActive | State::NoCrypto) {
            reasons.push(format!(
                "pid {} {}: {} ({})",
                p.pid,
                p.exe,
                p.state.as_str(),
                p.verdict.as_str()
            ));
        }
    }
    if unreadable > 0 {
        reasons.push(format!(
            "{} could not be inspected",
            crate::host::process::processes(unreadable)
        ));
    }
    for t in &tls {
        if let Some(e) = &t.error {
            reasons.push(format!("TLS {}: {e}", t.endpoint));
        }
        for a in t.accepted.iter().filter(|a| !a.approved) {
            reasons.push(format!(
                "TLS {} accepts {} {}, not approved",
                t.endpoint, a.protocol, a.suite
            ));
        }
        for g in t.groups.iter().filter(|g| !g.approved) {
            reasons.push(format!(
                "TLS {} accepts group {} ({}), not approved",
                t.endpoint, g.group, g.protocol
            ));
        }
    }
    CheckReport {
        outcome: if reasons.is_empty() {
            "compliant"
        } else {
            "non-compliant"
        },
        reasons,
        warnings,
        host,
        processes,
        tls,
    }
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let (registry, today) =
        registry_and_day(args.module_registry.as_deref(), args.as_of.as_deref())?;
    let ctx = ScanContext {
        registry,
        today,
        policy: ImagePolicy::default(),
    };
    // Bad endpoints are a usage error, said before any work is done.
    for e in &args.tls {
        let port = e
            .rsplit_once(':')
            .and_then(|(h, p)| (!h.is_empty()).then_some(p));
        if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
            anyhow::bail!("--tls {e:?}: expected HOST:PORT, e.g. 127.0.0.1:6443 or [::1]:10250");
        }
    }
    let proc_dir = args.root.join("proc");
    if !proc_dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory: --root must hold the host's proc (and etc) tree",
            proc_dir.display()
        );
    }
    let host = host_facts(&args.root, &ctx);
    let scan = scan_processes(&proc_dir, &host, &ctx, Some(std::process::id()))
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", proc_dir.display()))?;
    let timeout = Duration::from_secs(args.tls_timeout.max(1));
    let tls: Vec<TlsAudit> = args.tls.iter().map(|e| audit(e, timeout)).collect();
    let unreachable = tls.iter().any(|t| t.error.is_some());
    let report = evaluate(host, scan.processes, scan.unreadable, scan.warnings, tls);
    match print(&report, args.output) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    for t in report.tls.iter().filter_map(|t| t.error.as_ref()) {
        eprintln!("fips-operator: TLS audit failed: {t}; check the address and that the endpoint speaks TLS");
    }
    Ok(if unreachable {
        EXIT_ERROR
    } else if report.outcome == "compliant" {
        EXIT_COMPLIANT
    } else {
        EXIT_NOT_COMPLIANT
    })
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not present",
    }
}

fn print(r: &CheckReport, format: OutputFormat) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if format == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut out, r)?;
        return writeln!(out);
    }
    let h = &r.host;
    writeln!(out, "HOST")?;
    writeln!(
        out,
        "  kernel FIPS flag (fips_enabled)  {}",
        yes_no(h.kernel_fips_enabled)
    )?;
    writeln!(
        out,
        "  fips=1 on the command line       {}",
        yes_no(h.cmdline_fips)
    )?;
    writeln!(
        out,
        "  crypto policy                    {}",
        h.crypto_policy.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "  OpenSSL FIPS provider            {}",
        h.openssl_fips_provider.as_deref().unwrap_or("none")
    )?;
    writeln!(
        out,
        "  OS                               {}",
        h.os.as_deref().unwrap_or("-")
    )?;
    let crypto: Vec<&ProcessEvidence> = r
        .processes
        .iter()
        .filter(|p| p.state != State::NoCrypto)
        .collect();
    writeln!(
        out,
        "\nPROCESSES ({} using cryptography; {} without are not listed)",
        crypto.len(),
        r.processes.len() - crypto.len()
    )?;
    if !crypto.is_empty() {
        writeln!(
            out,
            "  {:>7}  {:<13}  {:<16}  {:<12}  {:<40}  MODULE",
            "PID", "STATE", "VERDICT", "CONTAINER", "EXE"
        )?;
    }
    for p in crypto {
        let module = p.module.as_ref().map_or("-".to_string(), |m| {
            format!("{} {}", m.name, m.version.as_deref().unwrap_or(""))
        });
        writeln!(
            out,
            "  {:>7}  {:<13}  {:<16}  {:<12}  {:<40}  {module}",
            p.pid,
            p.state.as_str(),
            p.verdict.as_str(),
            p.container_id
                .as_deref()
                .map_or("-", |c| &c[..12.min(c.len())]),
            p.exe,
        )?;
    }
    if !r.tls.is_empty() {
        writeln!(out, "\nTLS")?;
        for t in &r.tls {
            writeln!(
                out,
                "  {}  {}",
                t.endpoint,
                t.error.as_deref().unwrap_or(t.outcome)
            )?;
            for a in &t.accepted {
                writeln!(
                    out,
                    "    {:<8} {:<48} {}",
                    a.protocol,
                    a.suite,
                    if a.approved {
                        "approved"
                    } else {
                        "NOT APPROVED"
                    }
                )?;
            }
            for g in &t.groups {
                writeln!(
                    out,
                    "    {:<8} group {:<42} {}",
                    g.protocol,
                    g.group,
                    if g.approved {
                        "approved"
                    } else {
                        "NOT APPROVED"
                    }
                )?;
            }
        }
    }
    writeln!(out, "\nRESULT: {}", r.outcome)?;
    for reason in &r.reasons {
        writeln!(out, "  - {reason}")?;
    }
    for w in &r.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}
