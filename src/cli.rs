//! The `fips-operator` command line: argument parsing and wiring. Exit codes: 0 compliant,
//! 1 not compliant, 2 usage or input error, 3 nothing judged (`EXIT_CODES`).

mod admit;
mod check;
pub mod controller;
pub mod crd;
mod output;
mod probe;
mod scan;
mod uninstall;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use scan::ScanArgs;

/// The exit-code table of `--help` (also in docs/verdicts.md).
const EXIT_CODES: &str = "\
Exit codes (scan, check, admit):
  0  compliant (admit: every object admitted)
  1  not compliant: a target non-compliant or unknown (admit: an object denied)
  2  usage or input error: a bad flag, a target that cannot be read (said on stderr)
  3  nothing judged (scan): a file or directory with no executable or library; --allow-empty
     lets it pass

Verdicts, outcomes and the rules the output cites: docs/verdicts.md";

#[derive(Parser, Debug)]
#[command(
    name = "fips-operator",
    version = crate::VERSION,
    about = "FIPS 140 compliance for binaries, images and Kubernetes clusters",
    after_help = EXIT_CODES
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Judge files and root filesystems: is every binary's cryptography inside a validated
    /// FIPS 140 module?
    #[command(after_help = EXIT_CODES)]
    Scan(Box<ScanArgs>),
    /// This host's FIPS state: kernel and boot flags, crypto policy, the runtime evidence of
    /// every process, and TLS endpoint audits. Exit 0 compliant, 1 not, 2 error.
    #[command(after_help = EXIT_CODES)]
    Check(Box<check::CheckArgs>),
    /// The node probe (the DaemonSet role): this node's FIPS facts and its containers'
    /// runtime evidence, written to FipsStatus/<node> on an interval.
    Probe(Box<probe::ProbeArgs>),
    /// Would these manifests be admitted, and why not? Evaluates every Pod and workload
    /// template against a FipsPolicy with the verdicts of FipsImageReport files, offline.
    /// Exit 0 all admitted (warnings included), 1 any denied, 2 error.
    #[command(after_help = EXIT_CODES)]
    Admit(Box<admit::AdmitArgs>),
    /// Print the CustomResourceDefinitions (FipsPolicy, FipsStatus, FipsImageReport) as YAML:
    /// `fips-operator crd | kubectl apply -f -`.
    Crd(crd::CrdArgs),
    /// Run the operator: keep FipsPolicy status, Node labels and taints, the probe DaemonSet
    /// and FipsImageReports true (the Deployment role; needs a cluster).
    Controller(Box<controller::ControllerArgs>),
    /// Take back what the operator wrote into the cluster beyond the chart's objects: the
    /// FipsPolicies and their probe DaemonSet, node labels and taints, namespace routing
    /// labels, FipsImageReports and FipsStatuses (and with --delete-crds the CRDs). Run it
    /// after `helm uninstall`.
    Uninstall(uninstall::UninstallArgs),
}

/// Exit codes shared by `scan`, `check` and `admit`.
pub const EXIT_COMPLIANT: u8 = 0;
pub const EXIT_NOT_COMPLIANT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;
/// `scan`: a file or directory target yielded no file to judge.
pub const EXIT_NOTHING_JUDGED: u8 = 3;

/// An error and its causes on one line, each cause said once: a cause whose text the message
/// already carries (`{path}: {source}` messages) is not repeated.
pub(crate) fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
    }
    text
}

pub fn run() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_COMPLIANT
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match args.command {
        Command::Scan(a) => scan::run(*a),
        Command::Crd(a) => crd::run(a),
        Command::Check(a) => check::run(*a),
        Command::Admit(a) => admit::run(*a),
        Command::Probe(a) => probe::run(*a),
        Command::Controller(a) => controller::run(*a),
        Command::Uninstall(a) => uninstall::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("fips-operator: {}", error_text(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
