//! The `fips-operator` command line: argument parsing and wiring. Exit codes (DESIGN §5):
//! 0 compliant, 1 not compliant, 2 usage or operational error.

mod admit;
mod check;
pub mod controller;
pub mod crd;
mod output;
mod probe;
mod scan;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use scan::ScanArgs;

#[derive(Parser, Debug)]
#[command(
    name = "fips-operator",
    version = crate::VERSION,
    about = "FIPS 140 compliance for binaries, images and Kubernetes clusters"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Judge files and root filesystems: is every binary's cryptography inside a validated
    /// FIPS 140 module?
    Scan(Box<ScanArgs>),
    /// This host's FIPS state: kernel and boot flags, crypto policy, the runtime evidence of
    /// every process, and TLS endpoint audits. Exit 0 compliant, 1 not, 2 error.
    Check(Box<check::CheckArgs>),
    /// The node probe (the DaemonSet role): this node's FIPS facts and its containers'
    /// runtime evidence, written to FipsStatus/<node> on an interval.
    Probe(Box<probe::ProbeArgs>),
    /// Would these manifests be admitted, and why not? Evaluates every Pod and workload
    /// template against a FipsPolicy with the verdicts of FipsImageReport files, offline.
    /// Exit 0 all admitted (warnings included), 1 any denied, 2 error.
    Admit(Box<admit::AdmitArgs>),
    /// Print the CustomResourceDefinitions (FipsPolicy, FipsStatus, FipsImageReport) as YAML:
    /// `fips-operator crd | kubectl apply -f -`.
    Crd(crd::CrdArgs),
    /// Run the operator: keep FipsPolicy status, Node labels and taints, the probe DaemonSet
    /// and FipsImageReports true (the Deployment role; needs a cluster).
    Controller(Box<controller::ControllerArgs>),
}

/// Exit codes shared by `scan`, `check` and `admit`.
pub const EXIT_COMPLIANT: u8 = 0;
pub const EXIT_NOT_COMPLIANT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

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
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("fips-operator: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
