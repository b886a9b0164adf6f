//! Self-managed webhook certificates over real TLS: the certificates `plan` makes at each
//! step of a rotation (told which CAs the live caBundle holds: the bundle of the step before)
//! are served by the real webhook server (as every replica loads them from the Secret), and a
//! real client (curl, OpenSSL) keeps succeeding whether it trusts the CA bundle published one
//! step earlier (an API server that has not seen the latest caBundle yet) or the union the
//! controller publishes before it writes the Secret, before and after replicas load it.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fips_operator::webhook::certs::{self, CertData, Lifetimes, TLS_CERT, TLS_KEY};
use fips_operator::webhook::server::{self, AdmissionSource, SharedCert};

const SERVICE: &str = "fips-operator-webhook";
const NAMESPACE: &str = "fips-operator";
const MIN: i64 = 60;

/// Minutes instead of days, and a day of backdating so that every certificate a plan makes
/// for a moment up to a few hours ahead is already valid on the real clock curl checks.
fn lifetimes() -> Lifetimes {
    Lifetimes {
        ca: Duration::from_secs(180 * 60),
        serving: Duration::from_secs(60 * 60),
        publish_before_use: Duration::from_secs(10 * 60),
        backdate: Duration::from_secs(86400),
    }
}

/// GET /live over HTTPS by the Service's name, trusting only `bundle`.
fn client_succeeds(dir: &Path, port: u16, bundle: &str) -> bool {
    let ca = dir.join("bundle.pem");
    std::fs::write(&ca, bundle).expect("write bundle");
    let host = format!("{SERVICE}.{NAMESPACE}.svc");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(&ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg(format!("https://{host}:{port}/live"))
        .output()
        .expect("curl (scripts/install-test-deps.sh installs it)");
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok"
}

#[test]
fn a_client_keeps_succeeding_across_serving_and_ca_rotations() {
    fips_operator::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tmp");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let serving = Arc::new(SharedCert::default());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let tls = server::tls_config(serving.clone()).expect("tls config");
    let source: AdmissionSource = Arc::new(|| None);
    runtime.spawn(server::serve(listener, tls, source, std::future::pending()));

    let names = certs::service_dns_names(SERVICE, NAMESPACE);
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut data = CertData::new();
    let mut published: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    // Fresh, serving renewal, next CA published, next CA signs, previous CA expired.
    for at in [0, 41 * MIN, 121 * MIN, 135 * MIN, 181 * MIN] {
        let now = t0 + at;
        // What the API server trusts now: the bundle published at the step before.
        let live = published.last().cloned().unwrap_or_default();
        let trusted = certs::bundle_cas(&live);
        if at == 135 * MIN {
            // Long enough after it was made, but not in the live bundle (the step before
            // never reached the configuration): the next CA does not sign.
            let stale = certs::bundle_cas(&published[1]);
            let held = certs::plan(&data, &names, now, &lifetimes(), &stale).expect("plan");
            assert!(held.is_none(), "promoted unpublished: {held:?}");
        }
        let Some(plan) = certs::plan(&data, &names, now, &lifetimes(), &trusted).expect("plan")
        else {
            panic!("nothing to do at +{}m: {data:?}", at / MIN);
        };
        steps.push(plan.reasons.join("; "));
        let bundle = certs::ca_bundle(&plan.data);
        // The controller publishes first what is live and what the Secret will hold, then
        // writes the Secret: the certificate served before and the one served after are
        // both trusted by that bundle.
        let extended = certs::bundle_union(&live, &bundle);
        if !live.is_empty() {
            assert!(
                client_succeeds(dir.path(), port, &extended),
                "+{}m before the Secret changes",
                at / MIN
            );
        }
        data = plan.data;
        // What every replica does when its watch sees the Secret.
        serving.set(
            server::certified_key(
                data[TLS_CERT].as_bytes(),
                data[TLS_KEY].as_bytes(),
                "tls.crt",
                "tls.key",
            )
            .expect("usable certificate"),
        );
        assert!(
            client_succeeds(dir.path(), port, &extended),
            "+{}m after the Secret changed",
            at / MIN
        );
        if !live.is_empty() {
            assert!(
                client_succeeds(dir.path(), port, &live),
                "a client trusting the bundle of the step before fails at +{}m ({})",
                at / MIN,
                steps.last().map(String::as_str).unwrap_or_default()
            );
        }
        assert!(client_succeeds(dir.path(), port, &bundle), "+{}m", at / MIN);
        published.push(bundle);
    }
    let all = steps.join("\n");
    for expected in [
        "new CA: none yet",
        "serving certificate expires",
        "next CA published",
        "now signs",
        "previous CA expired",
    ] {
        assert!(all.contains(expected), "{expected}: {all}");
    }
    // The check can fail: a client that still trusts only the first CA is refused once the
    // second one signs.
    assert!(!client_succeeds(dir.path(), port, &published[0]));
}
