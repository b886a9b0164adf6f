//! The webhook over real TLS on loopback: `fips-operator controller --standalone` answering
//! real AdmissionReview JSON sent by curl (HTTP/1.1 and HTTP/2), malformed and oversized
//! bodies, its TLS endpoint audited by our own `check --tls`, and a certificate rotation.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::{fips_operator, AS_OF};

const BAD: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

/// A P-256 certificate for 127.0.0.1 (CN names the generation, to tell rotations apart).
fn certificate(dir: &Path, cn: &str) {
    let (key, cert) = (dir.join("key.new"), dir.join("cert.new"));
    support::p256_certificate(cn, Some("IP:127.0.0.1"), &key, &cert);
    // Key first, then the certificate, each replaced atomically.
    std::fs::rename(dir.join("key.new"), dir.join("key.pem")).expect("rename");
    std::fs::rename(dir.join("cert.new"), dir.join("cert.pem")).expect("rename");
}

struct Webhook {
    child: Child,
    addr: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Webhook {
    start_binary(dir, Path::new(env!("CARGO_BIN_EXE_fips-operator")))
}

fn start_binary(dir: &Path, binary: &Path) -> Webhook {
    start_with_reports(dir, binary, &[report(BAD, "non-compliant", &[])])
}

/// A FipsImageReport as the controller writes it: `outcome` for `digest`, having seen `images`.
fn report(digest: &str, outcome: &str, images: &[&str]) -> String {
    let name = digest.replace(':', "-");
    format!(
        "apiVersion: fips.operator.dev/v1alpha1\nkind: FipsImageReport\nmetadata: {{name: {name}}}\nspec: {{digest: \"{digest}\"}}\nstatus:\n  phase: Scanned\n  outcome: {outcome}\n  scannerVersion: \"0.1.0\"\n  images: {images:?}\n  reasons: [\"usr/bin/legacy: Go standard crypto without a FIPS module\"]\n"
    )
}

fn start_with_reports(dir: &Path, binary: &Path, reports: &[String]) -> Webhook {
    let policy = write(dir, "policy.yaml", "apiVersion: fips.operator.dev/v1alpha1\nkind: FipsPolicy\nmetadata: {name: enforce}\nspec: {mode: Enforce}\n");
    let reports = write(dir, "reports.yaml", &reports.join("---\n"));
    certificate(dir, "gen1");
    let addr = support::free_addr();
    let child = Command::new(binary)
        .args([
            "controller",
            "--standalone",
            "--as-of",
            AS_OF,
            "--policy",
            &policy,
            "--reports",
            &reports,
            "--webhook-addr",
            &addr,
        ])
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the webhook");
    support::wait_listening(&addr, "the webhook", 20);
    Webhook { child, addr }
}

fn review(image: &str) -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "b0b3", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "web", "namespace": "apps", "operation": "CREATE",
            "userInfo": {"username": "admin"},
            "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
                       "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "web", "image": image}]}}}},
            "dryRun": false
        }
    })
    .to_string()
}

/// curl against the webhook: (HTTP status, body).
fn curl(dir: &Path, addr: &str, extra: &[&str], body: &str) -> (u16, String) {
    let data = dir.join("body.json");
    std::fs::write(&data, body).expect("write");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-H",
            "Content-Type: application/json",
            "--max-time",
            "10",
        ])
        .args(extra)
        .arg("--cacert")
        .arg(dir.join("cert.pem"))
        .arg("--data-binary")
        .arg(format!("@{}", data.display()))
        .arg(format!("https://{addr}/validate"))
        .output()
        .expect("curl (Debian package curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn reviews_over_tls_with_http1_and_http2() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = start(dir.path());
    for proto in ["--http1.1", "--http2"] {
        let (code, body) = curl(
            dir.path(),
            &w.addr,
            &[proto],
            &review(&format!("reg.example/legacy@{BAD}")),
        );
        assert_eq!(code, 200, "{proto}: {body}");
        let r: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(r["response"]["uid"], "b0b3");
        assert_eq!(r["response"]["allowed"], false, "{proto}");
        let msg = r["response"]["status"]["message"]
            .as_str()
            .expect("message");
        assert!(
            msg.contains("Deployment apps/web: container \"web\""),
            "{msg}"
        );
        assert!(
            msg.contains("usr/bin/legacy: Go standard crypto without a FIPS module"),
            "{msg}"
        );
    }
    let (code, body) = curl(dir.path(), &w.addr, &[], "{not json");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not an AdmissionReview"), "{body}");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(4 << 20));
    // Refused with 413 once 3 MiB are read; curl, still sending, may see the connection
    // close before it reads the answer (code 0). Either way it is not processed.
    let (code, body) = curl(dir.path(), &w.addr, &[], &big);
    assert!(code == 413 || code == 0, "{code}: {body}");
    assert!(!body.contains("\"response\""), "{body}");
    // Still serving after all that.
    let (code, _) = curl(dir.path(), &w.addr, &[], &review("reg.example/new:1"));
    assert_eq!(code, 200);
}

#[test]
fn the_webhook_endpoint_passes_our_own_tls_audit() {
    let dir = tempfile::tempdir().expect("tmp");
    audit_webhook(dir.path(), start(dir.path()));
}

/// The FIPS build's webhook, on the FIPS module's provider: the same approved suites, and key
/// exchange on P-256/P-384 only.
#[test]
fn the_fips_builds_webhook_passes_our_own_tls_audit() {
    let dir = tempfile::tempdir().expect("tmp");
    audit_webhook(dir.path(), start_binary(dir.path(), &support::fips_build()));
}

fn audit_webhook(dir: &Path, w: Webhook) {
    let root = dir.join("host");
    for (rel, text) in [
        ("proc/sys/crypto/fips_enabled", "1\n"),
        ("proc/cmdline", "fips=1\n"),
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let run = fips_operator(&[
        "check",
        "-o",
        "json",
        "--root",
        &root.to_string_lossy(),
        "--tls",
        &w.addr,
    ]);
    let r: Value = serde_json::from_str(&run.stdout).expect("json");
    let audit = &r["tls"][0];
    assert_eq!(audit["outcome"], "compliant", "{audit:#}");
    let column = |list: &str, field: &str| -> Vec<String> {
        audit[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list}: {audit:#}"))
            .iter()
            .map(|a| a[field].as_str().unwrap_or("").to_string())
            .collect()
    };
    let suites = column("accepted", "suite");
    assert!(
        suites.iter().any(|s| s == "TLS_AES_256_GCM_SHA384")
            && suites
                .iter()
                .any(|s| s == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        "{suites:?}"
    );
    let groups = column("groups", "group");
    assert!(
        groups.iter().all(|g| g == "secp256r1" || g == "secp384r1"),
        "{groups:?}"
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_client_keeps_succeeding_across_a_certificate_rotation() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = start(dir.path());
    let subject = || {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &w.addr, "-servername", "127.0.0.1"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(subject().contains("CN = gen1"));
    let (code, _) = curl(dir.path(), &w.addr, &[], &review("reg.example/new:1"));
    assert_eq!(code, 200);
    // Rotate: new key and certificate on disk; the next handshake serves them, and a client
    // that trusts the new certificate keeps succeeding.
    std::thread::sleep(Duration::from_millis(20));
    certificate(dir.path(), "gen2");
    assert!(subject().contains("CN = gen2"), "rotated");
    for _ in 0..5 {
        let (code, body) = curl(dir.path(), &w.addr, &[], &review("reg.example/new:1"));
        assert_eq!(code, 200, "{body}");
    }
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    certificate(dir.path(), "one");
    std::fs::rename(dir.path().join("cert.pem"), dir.path().join("one.pem")).expect("rename");
    certificate(dir.path(), "two");
    let policy = write(dir.path(), "policy.yaml", "apiVersion: fips.operator.dev/v1alpha1\nkind: FipsPolicy\nmetadata: {name: p}\nspec: {mode: Enforce}\n");
    let cert = dir.path().join("one.pem").to_string_lossy().into_owned();
    let key = dir.path().join("key.pem").to_string_lossy().into_owned();
    let run = fips_operator(&[
        "controller",
        "--standalone",
        "--policy",
        &policy,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--webhook-addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not belong to the certificate"),
        "{}",
        run.stderr
    );
}

/// Decisions are made on digests: a tag is resolved with one request to its (real) registry,
/// the denial names `tag@digest`; a registry that accepts connections and never answers costs
/// a review the resolver's budget, and an older report that saw the tag does not make it
/// compliant (the tag may have moved).
#[test]
fn tags_are_resolved_to_digests_within_the_time_budget() {
    use support::oci::{file, tar_layer, Image, Layout, Registry};
    let dir = tempfile::tempdir().expect("tmp");
    let registry = Registry::start(None);
    let mut layout = Layout::new(&dir.path().join("layout"));
    let digest = layout.tag(
        "v1",
        &Image::new(vec![tar_layer(&[file(
            "usr/bin/legacy",
            b"x".to_vec(),
            0o755,
        )])]),
    );
    let reference = registry.push(&layout, "v1", "legacy", None);

    let hanging = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stale = format!("{}/app:1", hanging.local_addr().expect("addr"));
    let moved = format!("sha256:{}", "3".repeat(64));
    let w = start_with_reports(
        dir.path(),
        Path::new(env!("CARGO_BIN_EXE_fips-operator")),
        &[
            // Known by digest only: the tag must be resolved to find it.
            report(&digest, "non-compliant", &[]),
            // Compliant once, under a tag that cannot be resolved now.
            report(&moved, "compliant", &[&stale]),
        ],
    );

    let (code, body) = curl(dir.path(), &w.addr, &[], &review(&reference));
    assert_eq!(code, 200, "{body}");
    let r: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(r["response"]["allowed"], false, "{r:#}");
    let message = r["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(&format!("{reference}@{digest}")),
        "{message}"
    );
    assert!(message.contains("usr/bin/legacy"), "{message}");

    let started = std::time::Instant::now();
    let (code, body) = curl(dir.path(), &w.addr, &[], &review(&stale));
    let took = started.elapsed();
    assert_eq!(code, 200, "{body}");
    let r: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(r["response"]["allowed"], false, "{r:#}");
    let message = r["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("no FIPS verdict yet"), "{message}");
    // Well within the API server's 5 s webhook timeout (the budget is 1.5 s).
    assert!(took < Duration::from_secs(4), "took {took:?}");
    drop(hanging);
}

/// Slow clients hold nothing up: one that never starts its TLS handshake and one that never
/// finishes its request headers are cut off by the server's timeouts (5 s), and reviews from
/// others are answered meanwhile.
#[test]
fn slow_clients_are_cut_off_and_do_not_hold_up_others() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tmp");
    let w = start(dir.path());
    let started = std::time::Instant::now();

    let mut silent = std::net::TcpStream::connect(&w.addr).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut trickle = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &w.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    // Watchdog: a server that never cuts it off fails the test instead of hanging it.
    let pid = trickle.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(15));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let mut stdin = trickle.stdin.take().expect("stdin");
    stdin
        .write_all(b"POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Length: 100\r\n")
        .expect("partial headers");
    stdin.flush().expect("flush");

    // Others are served meanwhile.
    let (code, _) = curl(dir.path(), &w.addr, &[], &review("reg.example/new:1"));
    assert_eq!(code, 200);
    assert!(started.elapsed() < Duration::from_secs(4));

    // The silent one is closed by the server (end of stream, or a reset), not by its own
    // read timeout.
    let mut buf = [0u8; 16];
    let read = silent.read(&mut buf);
    let closed = match &read {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(
        closed,
        "the silent connection was not closed by the server: {read:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    // The trickling one sees its connection end although its stdin stays open.
    let mut out = Vec::new();
    trickle
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(14), "cut off after {waited:?}");
    let _ = trickle.kill();
    let _ = trickle.wait();
    drop(stdin);
}
