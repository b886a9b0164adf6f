//! Shared helpers for the integration tests: fixtures built by `scripts/build-fixtures.sh`
//! and runs of the real `fips-operator` binary.
#![allow(dead_code)]

pub mod mock_api;
pub mod oci;
pub mod synthetic;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The day every test judges certificates on, so results do not move with the calendar.
pub const AS_OF: &str = "2026-11-26";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture binary built from source by `scripts/build-fixtures.sh`.
pub fn fixture(name: &str) -> PathBuf {
    let path = repo().join("target/fixtures").join(name);
    assert!(
        path.is_file(),
        "fixture {name} is missing: run scripts/install-test-deps.sh && scripts/build-fixtures.sh \
         (scripts/test.sh does both)"
    );
    path
}

/// The operator's own FIPS build, made by `scripts/build-fips.sh`.
#[allow(dead_code)]
pub fn fips_build() -> PathBuf {
    let path = repo().join("target/fips/fips-operator");
    assert!(
        path.is_file(),
        "the FIPS build is missing: run scripts/install-test-deps.sh && scripts/build-fips.sh \
         (scripts/test.sh does both)"
    );
    path
}

/// A self-signed P-256/SHA-256 certificate for `cn` (valid a day), made by openssl: the key
/// and certificate PEM files `key` and `cert`; `san` is an extra subjectAltName if any.
#[allow(dead_code)]
pub fn p256_certificate(cn: &str, san: Option<&str>, key: &Path, cert: &Path) {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-sha256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        &format!("/CN={cn}"),
    ]);
    if let Some(san) = san {
        cmd.args(["-addext", &format!("subjectAltName={san}")]);
    }
    let out = cmd
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("openssl (Debian package openssl; scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a FIFO at `path` (mkfifo from coreutils).
pub fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils)");
    assert!(made.success(), "mkfifo {}", path.display());
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn fips_operator(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_fips-operator"))
        .args(args)
        .env_remove("FIPS_OUTPUT")
        .output()
        .expect("run fips-operator");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `fips_operator`, failing the test if the run takes more than `secs` seconds (it is killed).
pub fn fips_operator_within(args: &[&str], secs: u64) -> Run {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fips-operator"))
        .args(args)
        .env_remove("FIPS_OUTPUT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fips-operator");
    // Read both pipes while waiting, so a large output cannot block the child.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fips-operator {args:?} did not finish within {secs} s (killed)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// `scan -o json --as-of AS_OF TARGET`, returning the exit code and the one report.
pub fn scan(target: &Path, extra: &[&str]) -> (i32, Value) {
    let t = target.to_string_lossy();
    let mut args = vec!["scan", "-o", "json"];
    if !extra.contains(&"--as-of") {
        args.extend(["--as-of", AS_OF]);
    }
    args.extend_from_slice(extra);
    args.push(&t);
    let run = fips_operator(&args);
    let json = run.json();
    let reports = json.as_array().expect("an array");
    assert_eq!(reports.len(), 1, "one report per target");
    (run.code, reports[0].clone())
}

/// The binary at `path` in a tree or image report.
pub fn binary<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["binaries"]
        .as_array()
        .expect("binaries")
        .iter()
        .find(|b| b["path"] == path)
        .unwrap_or_else(|| panic!("no binary {path} in {report:#}"))
}

/// The one binary of a file target's report.
pub fn only_binary(report: &Value) -> &Value {
    let bins = report["binaries"].as_array().expect("binaries");
    assert_eq!(bins.len(), 1, "{report:#}");
    &bins[0]
}

pub fn evidence(binary: &Value) -> Vec<String> {
    binary["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e.as_str().expect("string").to_string())
        .collect()
}

pub fn assert_evidence(binary: &Value, needle: &str) {
    let ev = evidence(binary);
    assert!(
        ev.iter().any(|e| e.contains(needle)),
        "no evidence containing {needle:?} in {:#}",
        binary
    );
}

/// A loopback `127.0.0.1:PORT` nothing listens on (the port was free a moment ago).
pub fn free_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .to_string()
}

/// Waits until something accepts connections on `addr`, or fails naming `what`.
pub fn wait_listening(addr: &str, what: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen on {addr} within {secs} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
