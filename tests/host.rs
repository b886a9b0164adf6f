//! `fips-operator check`: fixture trees for /proc and /etc shapes, real processes read through
//! the real /proc (a C program linked to libcrypto, Go binaries with and without
//! `GODEBUG=fips140=…`, processes that exit while being read), and TLS audits against real
//! `openssl s_server` instances on loopback.

mod support;

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::{fips_operator, fixture, AS_OF};

const CONTAINER: &str = "3f1c0aa1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

/// A host tree: `fips` decides the kernel flag, boot flag and crypto policy.
fn host_tree(dir: &Path, fips: bool) -> PathBuf {
    let root = dir.join("host");
    let flag = if fips { "1" } else { "0" };
    write(
        &root,
        "proc/sys/crypto/fips_enabled",
        format!("{flag}\n").as_bytes(),
    );
    write(
        &root,
        "proc/cmdline",
        format!("BOOT_IMAGE=/vmlinuz ro fips={flag}\n").as_bytes(),
    );
    write(
        &root,
        "etc/crypto-policies/state/current",
        if fips { b"FIPS\n" } else { b"DEFAULT\n" },
    );
    write(
        &root,
        "etc/os-release",
        b"PRETTY_NAME=\"Fixture Linux 9\"\n",
    );
    root
}

/// A process in the tree: its own root filesystem with `binary` at /usr/bin/app, the given
/// environment, and a containerd cgroup when `in_container`.
fn process(host: &Path, pid: u32, binary: &str, env: &[&str], in_container: bool) {
    let rootfs = host.join(format!("containers/{pid}"));
    write(
        &rootfs,
        "usr/bin/app",
        &std::fs::read(fixture(binary)).expect("fixture"),
    );
    let dir = host.join(format!("proc/{pid}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    // As the kernel shows it to a reader outside the process's root: the path from the
    // reader's root to the file the process runs.
    symlink(rootfs.join("usr/bin/app"), dir.join("exe")).expect("exe link");
    symlink(&rootfs, dir.join("root")).expect("root link");
    let mut environ = b"PATH=/usr/bin\0HOME=/\0".to_vec();
    for e in env {
        environ.extend_from_slice(e.as_bytes());
        environ.push(0);
    }
    std::fs::write(dir.join("environ"), environ).expect("environ");
    std::fs::write(
        dir.join("maps"),
        "00400000-00401000 r-xp 00000000 fd:01 1 /usr/bin/app\n",
    )
    .expect("maps");
    let cgroup = if in_container {
        format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{CONTAINER}.scope\n")
    } else {
        "0::/system.slice/app.service\n".to_string()
    };
    std::fs::write(dir.join("cgroup"), cgroup).expect("cgroup");
}

fn check(args: &[&str]) -> (support::Run, Value) {
    let mut all = vec!["check", "-o", "json", "--as-of", AS_OF];
    all.extend_from_slice(args);
    let run = fips_operator(&all);
    let json = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run, json)
}

fn by_pid(report: &Value, pid: u32) -> &Value {
    report["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("no pid {pid} in {report:#}"))
}

#[test]
fn a_fips_host_whose_crypto_runs_in_fips_mode_is_compliant() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = host_tree(dir.path(), true);
    process(&host, 100, "go127-fips-certified", &[], true);
    process(&host, 101, "go127-nocrypto", &[], false);
    let root = host.to_string_lossy().into_owned();
    let (run, r) = check(&["--root", &root]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(r["outcome"], "compliant");
    assert_eq!(r["reasons"], serde_json::json!([]));
    assert_eq!(r["host"]["kernel_fips_enabled"], true);
    assert_eq!(r["host"]["cmdline_fips"], true);
    assert_eq!(r["host"]["crypto_policy"], "FIPS");
    let app = by_pid(&r, 100);
    assert_eq!(app["exe"], "/usr/bin/app");
    assert_eq!(app["container_id"], CONTAINER);
    assert_eq!(app["verdict"], "fips-capable");
    assert_eq!(app["state"], "fips-active");
    assert_eq!(app["module"]["name"], "go-native");
    assert_eq!(app["module"]["validation"], "certified");
    let plain = by_pid(&r, 101);
    assert_eq!(plain["state"], "no-crypto");
    assert_eq!(plain["container_id"], Value::Null);
}

#[test]
fn switched_off_or_non_fips_processes_and_a_plain_kernel_are_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = host_tree(dir.path(), false);
    process(
        &host,
        200,
        "go127-fips-certified",
        &["GODEBUG=fips140=off"],
        true,
    );
    process(&host, 201, "go119-std", &[], true);
    process(&host, 202, "go127-fips-certified", &[], false);
    // A process that exited between the listing and the read: only its directory is left.
    std::fs::create_dir_all(host.join("proc/203")).expect("mkdir");
    let root = host.to_string_lossy().into_owned();
    let (run, r) = check(&["--root", &root]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(r["outcome"], "non-compliant");
    let off = by_pid(&r, 200);
    assert_eq!(off["state"], "fips-inactive");
    assert!(
        off["evidence"]
            .to_string()
            .contains("env GODEBUG=fips140=off"),
        "{off:#}"
    );
    assert_eq!(off["env"]["GODEBUG"], "fips140=off");
    assert_eq!(by_pid(&r, 201)["state"], "not-fips");
    assert_eq!(by_pid(&r, 201)["verdict"], "not-fips-capable");
    assert_eq!(by_pid(&r, 202)["state"], "fips-active");
    assert_eq!(
        r["processes"].as_array().expect("processes").len(),
        3,
        "203 is skipped quietly"
    );
    let reasons = r["reasons"].to_string();
    for want in [
        "fips_enabled is 0 (rule H1, docs/verdicts.md)",
        "fips=1 is not on the kernel command line (rule H2, docs/verdicts.md)",
        "crypto policy is DEFAULT",
        "pid 200 /usr/bin/app: fips-inactive",
        "pid 201 /usr/bin/app: not-fips",
    ] {
        assert!(reasons.contains(want), "{want} missing from {reasons}");
    }
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // The table says the same for people.
    let run = fips_operator(&["check", "--root", &root, "--as-of", AS_OF]);
    assert_eq!(run.code, 1);
    for want in [
        "kernel FIPS flag (fips_enabled)  no",
        "fips-inactive",
        "not-fips",
        "RESULT: non-compliant",
    ] {
        assert!(
            run.stdout.contains(want),
            "{want} missing from\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_root_without_proc_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = fips_operator(&["check", "--root", &dir.path().to_string_lossy()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--root must hold the host's proc"),
        "{}",
        run.stderr
    );
}

/// A fixture started with stdin piped: it runs until the pipe closes.
struct Running(Child);

impl Running {
    fn start(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut cmd = Command::new(fixture(binary));
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start fixture");
        // Wait for its first line: the crypto has run by then.
        let mut out = child.stdout.take().expect("stdout");
        let mut byte = [0u8; 1];
        let _ = std::io::Read::read(&mut out, &mut byte);
        std::mem::forget(out);
        Running(child)
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_processes_through_the_real_proc() {
    let c = Running::start("c-openssl-dynamic", &["x", "--wait"], &[]);
    let on = Running::start(
        "go127-fips-certified",
        &["wait"],
        &[("GODEBUG", "fips140=on")],
    );
    let off = Running::start(
        "go127-fips-certified",
        &["wait"],
        &[("GODEBUG", "fips140=off")],
    );
    let (run, r) = check(&[]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);

    let c = by_pid(&r, c.pid());
    assert!(
        c["exe"]
            .as_str()
            .expect("exe")
            .ends_with("target/fixtures/c-openssl-dynamic"),
        "{c:#}"
    );
    let evidence = c["evidence"].to_string();
    assert!(
        evidence.contains("maps /") && evidence.contains("libcrypto.so.3"),
        "{c:#}"
    );
    // This Debian host has no OpenSSL FIPS provider: the program cannot be in FIPS mode.
    assert_eq!(c["verdict"], "not-fips-capable", "{c:#}");
    assert_eq!(c["state"], "not-fips");

    let on = by_pid(&r, on.pid());
    assert_eq!(on["verdict"], "fips-capable");
    assert_eq!(on["state"], "fips-active");
    assert_eq!(on["env"]["GODEBUG"], "fips140=on");
    assert_eq!(on["module"]["name"], "go-native");
    let off = by_pid(&r, off.pid());
    assert_eq!(off["state"], "fips-inactive");
    assert_eq!(off["container_id"], Value::Null);
}

#[test]
fn check_does_not_judge_itself() {
    let child = Command::new(env!("CARGO_BIN_EXE_fips-operator"))
        .args(["check", "-o", "json", "--as-of", AS_OF])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("check");
    let pid = child.id();
    let out = child.wait_with_output().expect("check output");
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    let processes = r["processes"].as_array().expect("processes");
    assert!(!processes.is_empty());
    assert!(
        processes.iter().all(|p| p["pid"] != pid),
        "pid {pid} listed"
    );
}

#[test]
fn processes_exiting_while_being_read_are_skipped() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut started = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(mut c) = Command::new(fixture("go127-nocrypto"))
                    .stdout(Stdio::null())
                    .spawn()
                {
                    let _ = c.wait();
                    started += 1;
                }
            }
            started
        })
    };
    for _ in 0..5 {
        let (run, r) = check(&[]);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        assert!(r["processes"].is_array());
        assert!(!run.stderr.contains("error"), "{}", run.stderr);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(churn.join().expect("churn") > 0);
}

/// `openssl s_server` on a free loopback port with an ECDSA P-256 certificate.
struct TlsServer {
    child: Child,
    addr: String,
}

impl TlsServer {
    fn start(dir: &Path, extra: &[&str]) -> TlsServer {
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        if !cert.exists() {
            support::p256_certificate("localhost", None, &key, &cert);
        }
        let addr = support::free_addr();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept", &addr])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        support::wait_listening(&addr, "openssl s_server", 10);
        TlsServer { child, addr }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(mut i) = self.child.stdin.take() {
            let _ = i.write_all(b"Q\n");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn accepted(audit: &Value) -> Vec<(String, String, bool)> {
    audit["accepted"]
        .as_array()
        .expect("accepted")
        .iter()
        .map(|a| {
            (
                a["protocol"].as_str().unwrap_or("").to_string(),
                a["suite"].as_str().unwrap_or("").to_string(),
                a["approved"] == true,
            )
        })
        .collect()
}

fn groups(audit: &Value) -> Vec<(String, String)> {
    audit["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["protocol"].as_str().unwrap_or("").to_string(),
                g["group"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn tls_endpoints_with_approved_and_non_approved_suites() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = host_tree(dir.path(), true);
    let root = host.to_string_lossy().into_owned();
    let strict = TlsServer::start(
        dir.path(),
        &[
            "-no_tls1",
            "-no_tls1_1",
            "-cipher",
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
            "-groups",
            "P-256:P-384",
        ],
    );
    let loose = TlsServer::start(
        dir.path(),
        &[
            "-cipher",
            "ALL:@SECLEVEL=0",
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
            "-groups",
            "X25519:P-256",
        ],
    );

    let (run, r) = check(&["--root", &root, "--tls", &strict.addr]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let audit = &r["tls"][0];
    assert_eq!(audit["endpoint"], strict.addr.as_str());
    assert_eq!(audit["outcome"], "compliant");
    let mut got = accepted(audit);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "TLSv1.2".into(),
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
                true
            ),
            (
                "TLSv1.2".into(),
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".into(),
                true
            ),
            ("TLSv1.3".into(), "TLS_AES_128_GCM_SHA256".into(), true),
            ("TLSv1.3".into(), "TLS_AES_256_GCM_SHA384".into(), true),
        ]
    );
    let mut g = groups(audit);
    g.sort();
    assert_eq!(
        g,
        vec![
            ("TLSv1.2".into(), "secp256r1".into()),
            ("TLSv1.2".into(), "secp384r1".into()),
            ("TLSv1.3".into(), "secp256r1".into()),
            ("TLSv1.3".into(), "secp384r1".into()),
        ]
    );

    let (run, r) = check(&["--root", &root, "--tls", &loose.addr]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let audit = &r["tls"][0];
    assert_eq!(audit["outcome"], "non-compliant");
    let got = accepted(audit);
    assert!(
        got.contains(&(
            "TLSv1.3".into(),
            "TLS_CHACHA20_POLY1305_SHA256".into(),
            false
        )),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            "TLSv1.2".into(),
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256".into(),
            false
        )),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(p, _, a)| p == "TLSv1.0" && !a),
        "TLS 1.0 accepted and flagged: {got:?}"
    );
    assert!(
        got.contains(&(
            "TLSv1.2".into(),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
            true
        )),
        "{got:?}"
    );
    assert!(
        groups(audit).contains(&("TLSv1.3".into(), "x25519".into())),
        "{audit:#}"
    );
    assert!(
        groups(audit).contains(&("TLSv1.2".into(), "x25519".into())),
        "{audit:#}"
    );
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("TLS_CHACHA20_POLY1305_SHA256, not approved"),
        "{reasons}"
    );
    assert!(reasons.contains("group x25519"), "{reasons}");

    // Not HOST:PORT: a usage error, said at once.
    let run = fips_operator(&["check", "--root", &root, "--tls", "nonsense"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected HOST:PORT"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    // Nothing listening: an operational error (exit 2) that says what failed.
    let closed = support::free_addr();
    let (run, r) = check(&["--root", &root, "--tls", &closed]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains(&closed), "{}", run.stderr);
    assert!(
        r["tls"][0]["error"]
            .as_str()
            .expect("error")
            .contains("refused"),
        "{r:#}"
    );
}

#[test]
fn a_decoy_inside_a_chroot_is_not_what_gets_judged() {
    let dir = tempfile::tempdir().expect("tmp");
    let host = host_tree(dir.path(), true);
    // The process runs jail/app (Go without a FIPS module) chrooted in jail; the kernel shows
    // its exe as /…/jail/app. A FIPS binary planted at jail/…/jail/app must not stand in for it.
    let jail = host.join("jail");
    write(
        &jail,
        "app",
        &std::fs::read(fixture("go119-std")).expect("fixture"),
    );
    let decoy = jail
        .join(jail.strip_prefix("/").expect("absolute"))
        .join("app");
    write(
        decoy.parent().expect("parent"),
        "app",
        &std::fs::read(fixture("go127-fips-certified")).expect("fixture"),
    );
    let p = host.join("proc/300");
    std::fs::create_dir_all(&p).expect("mkdir");
    symlink(jail.join("app"), p.join("exe")).expect("exe");
    symlink(&jail, p.join("root")).expect("root");
    std::fs::write(p.join("environ"), b"").expect("environ");
    std::fs::write(p.join("cgroup"), b"0::/\n").expect("cgroup");
    let (run, r) = check(&["--root", &host.to_string_lossy()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let proc300 = by_pid(&r, 300);
    assert_eq!(proc300["exe"], "/app");
    assert_eq!(proc300["verdict"], "not-fips-capable", "{proc300:#}");
    assert_eq!(proc300["state"], "not-fips");
}
