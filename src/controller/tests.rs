//! Pure parts of the controller: facts from API objects, node decisions, report statuses,
//! and the HTTP endpoints (routed directly and over a real socket).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper::{Method, StatusCode};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::facts::{digest_of_image_id, node_fips, pod_facts, prune_pod, report_verdict};
use super::metrics::Metrics;
use super::namespaces::{published, wanted_label, Published};
use super::nodes::{node_patch, node_wanted, NodeWanted};
use super::server::{route, serve, Health};
use crate::api::{FipsImageReport, FipsPolicy, FipsPolicySpec, FipsStatus, Mode};
use crate::cluster::reports::{failed_status, scanned_status};
use crate::image::ScanReport;
use crate::inspect::ModuleRegistry;
use crate::policy::cluster::{admission_mode, ImageVerdict, NamespaceFacts};
use crate::policy::ImagePolicy;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object")
}

const NOW: &str = "2026-11-26T10:00:00Z";

#[test]
fn image_ids_in_every_runtime_shape_give_the_digest() {
    let hex = "ab".repeat(32);
    for id in [
        format!("docker.io/library/nginx@sha256:{hex}"),
        format!("docker-pullable://nginx@sha256:{hex}"),
        format!("sha256:{hex}"),
    ] {
        assert_eq!(
            digest_of_image_id(&id),
            Some(format!("sha256:{hex}")),
            "{id}"
        );
    }
    for bad in ["", "nginx:1.25", "sha256:abc", &format!("sha512:{hex}")] {
        assert_eq!(digest_of_image_id(bad), None, "{bad}");
    }
}

#[test]
fn a_node_is_fips_only_on_a_fresh_probe_report_that_says_so() {
    let now: Timestamp = NOW.parse().expect("time");
    let stale = SignedDuration::from_mins(15);
    let status = |kernel: Option<bool>,
                  cmdline: Option<bool>,
                  policy: Option<&str>,
                  at: &str|
     -> FipsStatus {
        from(
            json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
            "metadata": {"name": "n"}, "spec": {"nodeName": "n"},
            "status": {"kernelFipsEnabled": kernel, "cmdlineFips": cmdline, "cryptoPolicy": policy, "probeTime": at}}),
        )
    };
    let fresh = "2026-11-26T09:50:00Z";
    let f = |s: FipsStatus| node_fips(Some(&s), now, stale);
    assert_eq!(node_fips(None, now, stale), None);
    assert_eq!(f(status(Some(true), Some(true), None, fresh)), Some(true));
    assert_eq!(
        f(status(Some(true), Some(true), Some("FIPS"), fresh)),
        Some(true)
    );
    assert_eq!(
        f(status(Some(true), Some(true), Some("FIPS:OSPP"), fresh)),
        Some(true)
    );
    // H3 where the distribution has crypto-policies.
    assert_eq!(
        f(status(Some(true), Some(true), Some("DEFAULT"), fresh)),
        Some(false)
    );
    // H1 and H2 both.
    assert_eq!(f(status(Some(true), Some(false), None, fresh)), Some(false));
    assert_eq!(f(status(Some(false), Some(true), None, fresh)), Some(false));
    assert_eq!(f(status(Some(true), None, None, fresh)), None);
    assert_eq!(f(status(None, Some(true), None, fresh)), None);
    // Stale, from the future, or unreadable times prove nothing.
    assert_eq!(
        f(status(Some(true), Some(true), None, "2026-11-26T09:40:00Z")),
        None
    );
    assert_eq!(
        f(status(Some(true), Some(true), None, "2027-01-01T00:00:00Z")),
        None
    );
    assert_eq!(
        f(status(Some(true), Some(true), None, "2026-11-26T10:03:00Z")),
        Some(true),
        "small skew"
    );
    assert_eq!(f(status(Some(true), Some(true), None, "not a time")), None);
}

fn report(outcome: &str, phase: &str, modules: &[&str], truncated: bool) -> FipsImageReport {
    let capable: Vec<_> = modules
        .iter()
        .map(|m| json!({"path": "usr/bin/app", "verdict": "fips-capable", "module": m}))
        .collect();
    from(
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
        "metadata": {"name": "r"}, "spec": {"digest": "sha256:x"},
        "status": {"phase": phase, "outcome": outcome, "fipsCapable": capable,
                   "reasons": ["usr/bin/x: not FIPS"], "truncated": truncated}}),
    )
}

#[test]
fn a_compliant_verdict_from_a_running_container_is_not_taken_on_a_probes_word() {
    let registry = ModuleRegistry::built_in();
    let today = super::status::today(NOW.parse().expect("time"));
    let mut r = report("compliant", "Scanned", &[], false);
    let v = |r: &FipsImageReport| report_verdict(r, ImagePolicy::default(), &registry, today);
    r.status.as_mut().expect("status").scanner_version = crate::image::SCANNER_VERSION.into();
    assert_eq!(v(&r), ImageVerdict::Compliant);
    let probe = format!(
        "{}{}",
        crate::image::SCANNER_VERSION,
        crate::image::RUNNING_CONTAINER_MARK
    );
    r.status.as_mut().expect("status").scanner_version = probe.clone();
    assert_eq!(v(&r), ImageVerdict::Unknown);
    // Its non-compliant verdict stands.
    let mut bad = report("non-compliant", "Scanned", &[], false);
    bad.status.as_mut().expect("status").scanner_version = probe;
    assert!(matches!(v(&bad), ImageVerdict::NonCompliant(_)));
}

#[test]
fn report_verdicts_derive_validation_when_read() {
    let registry = ModuleRegistry::built_in();
    let today = super::status::today(NOW.parse().expect("time"));
    let all = ImagePolicy::default();
    let strict = ImagePolicy {
        accept_in_process: false,
        accept_historical: false,
    };
    let v = |r: &FipsImageReport, p| report_verdict(r, p, &registry, today);
    let certified = report(
        "compliant",
        "Scanned",
        &["go-native v1.0.0-c2097c7c default-on"],
        false,
    );
    assert_eq!(v(&certified, strict), ImageVerdict::Compliant);
    // openssl 3.0.9's certificate went historical on 2026-09-21: fine by default, refused
    // by a policy that does not accept historical modules.
    let historical = report(
        "compliant",
        "Scanned",
        &["openssl 3.0.9 host-driven"],
        false,
    );
    assert_eq!(v(&historical, all), ImageVerdict::Compliant);
    assert!(
        matches!(v(&historical, strict), ImageVerdict::NonCompliant(r) if r.contains("openssl 3.0.9 is historical"))
    );
    let in_process = report(
        "compliant",
        "Scanned",
        &["go-native v1.26.0 default-on"],
        false,
    );
    assert_eq!(v(&in_process, all), ImageVerdict::Compliant);
    assert!(matches!(
        v(&in_process, strict),
        ImageVerdict::NonCompliant(_)
    ));
    let dev = report(
        "compliant",
        "Scanned",
        &["go-native latest default-on"],
        false,
    );
    assert!(matches!(v(&dev, all), ImageVerdict::NonCompliant(r) if r.contains("unvalidated")));
    let unknown_module = report("compliant", "Scanned", &["mystery-fips 1.0 always"], false);
    assert_eq!(v(&unknown_module, all), ImageVerdict::Unknown);
    // Cut lists cannot be re-derived: never compliant.
    let cut = report(
        "compliant",
        "Scanned",
        &["go-native v1.0.0-c2097c7c default-on"],
        true,
    );
    assert_eq!(v(&cut, all), ImageVerdict::Unknown);
    assert_eq!(
        v(&report("compliant", "Pending", &[], false), all),
        ImageVerdict::Unknown
    );
    assert_eq!(
        v(&report("unknown", "Failed", &[], false), all),
        ImageVerdict::Unknown
    );
    assert_eq!(
        v(&report("non-compliant", "Scanned", &[], false), all),
        ImageVerdict::NonCompliant("usr/bin/x: not FIPS".into())
    );
}

#[test]
fn pruned_pods_keep_what_decisions_need() {
    let hex = "cd".repeat(32);
    let mut pod: Pod = from(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "apps", "annotations": {"big": "x".repeat(10_000)},
                     "managedFields": [{"manager": "kubectl"}]},
        "spec": {"nodeName": "n1", "serviceAccountName": "sa", "imagePullSecrets": [{"name": "regcred"}],
                 "initContainers": [{"name": "init", "image": "reg/init:1", "command": ["sh"]}],
                 "containers": [{"name": "main", "image": "reg/app:1", "env": [{"name": "A", "value": "b"}],
                                 "args": ["--x"], "ports": [{"containerPort": 80}]}],
                 "ephemeralContainers": [{"name": "debug", "image": "reg/debug:1"}],
                 "volumes": [{"name": "v", "emptyDir": {}}]},
        "status": {"containerStatuses": [{"name": "main", "image": "reg/app:1", "imageID": format!("reg/app@sha256:{hex}"),
                   "ready": true, "restartCount": 0, "state": {"running": {}}}],
                   "conditions": [{"type": "Ready", "status": "True"}]}}));
    prune_pod(&mut pod);
    let text = serde_json::to_string(&pod).expect("json");
    for gone in [
        "big",
        "managedFields",
        "command",
        "env",
        "ports",
        "volumes",
        "conditions",
        "running",
    ] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
    let facts = pod_facts(&pod);
    let seen: Vec<_> = facts
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image.as_str(), c.digest.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("init", "reg/init:1", None),
            ("main", "reg/app:1", Some(format!("sha256:{hex}"))),
            ("debug", "reg/debug:1", None),
        ]
    );
    let spec = pod.spec.expect("spec");
    assert_eq!(spec.node_name.as_deref(), Some("n1"));
    assert_eq!(spec.service_account_name.as_deref(), Some("sa"));
    assert_eq!(spec.image_pull_secrets.expect("secrets")[0].name, "regcred");
}

#[test]
fn node_actions_combine_strictest_first() {
    let node: Node = from(json!({"metadata": {"name": "n", "labels": {"pool": "a"}}}));
    let policy = |action: &str, pool: &str| -> Arc<FipsPolicy> {
        Arc::new(from(
            json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
            "metadata": {"name": format!("{action}-{pool}")},
            "spec": {"mode": "Audit", "nodeAction": action, "nodeSelector": {"matchLabels": {"pool": pool}}}}),
        ))
    };
    let none = NodeWanted {
        label: None,
        taint: false,
    };
    assert_eq!(node_wanted(&node, Some(false), false, &[]), none);
    assert_eq!(
        node_wanted(&node, Some(false), false, &[policy("Taint", "b")]),
        none,
        "not selected"
    );
    assert_eq!(
        node_wanted(&node, Some(false), false, &[policy("None", "a")]),
        none
    );
    let label = [policy("Label", "a"), policy("None", "a")];
    assert_eq!(
        node_wanted(&node, Some(true), false, &label),
        NodeWanted {
            label: Some("true"),
            taint: false
        }
    );
    assert_eq!(
        node_wanted(&node, None, false, &label),
        NodeWanted {
            label: Some("false"),
            taint: false
        }
    );
    let taint = [policy("Label", "a"), policy("Taint", "a")];
    assert_eq!(
        node_wanted(&node, Some(false), false, &taint),
        NodeWanted {
            label: Some("false"),
            taint: true
        }
    );
    assert_eq!(
        node_wanted(&node, None, false, &taint),
        NodeWanted {
            label: Some("false"),
            taint: false
        },
        "unprobed: no taint"
    );
    assert_eq!(
        node_wanted(&node, Some(true), false, &taint),
        NodeWanted {
            label: Some("true"),
            taint: false
        }
    );
    // No fresh report and no probe running: unknown, never tainted.
    assert_eq!(
        node_wanted(&node, None, true, &taint),
        NodeWanted {
            label: Some("unknown"),
            taint: false
        }
    );
    // A fresh report decides, running probe or not.
    assert_eq!(
        node_wanted(&node, Some(false), true, &taint),
        NodeWanted {
            label: Some("false"),
            taint: true
        }
    );
    // Already in line: no patch.
    let done: Node =
        from(json!({"metadata": {"name": "n", "labels": {"fips.operator.dev/enabled": "true"}}}));
    assert_eq!(
        node_patch(
            &done,
            NodeWanted {
                label: Some("true"),
                taint: false
            }
        ),
        None
    );
}

fn scan_report(binaries: usize) -> ScanReport {
    let b: Vec<_> = (0..binaries)
        .map(|i| json!({"path": format!("usr/bin/b{i}"), "verdict": "not-fips-capable", "role": "consumer",
                        "module": null, "evidence": vec!["e".repeat(2_000); 20], "warnings": []}))
        .collect();
    from(
        json!({"target": "reg/app:1", "outcome": "non-compliant", "reasons": ["usr/bin/b0: no"],
        "image": {"digest": "sha256:m", "index_digest": "sha256:i", "platform": "linux/amd64", "os": "Debian 12"},
        "binaries": b, "skipped": []}),
    )
}

#[test]
fn report_statuses_stay_small_and_say_when_they_were_cut() {
    let now: Timestamp = NOW.parse().expect("time");
    let images = BTreeSet::from(["reg/app:1".to_string()]);
    let s = scanned_status(&scan_report(5_000), &images, now);
    assert_eq!(s.summary.binaries, 5_000);
    assert_eq!(s.summary.not_fips_capable, 5_000);
    assert!(s.truncated);
    assert!(s.non_compliant.len() <= 200);
    let bytes = serde_json::to_vec(&s).expect("json").len();
    assert!(
        bytes < 300 * 1024,
        "{bytes} bytes: must stay far below etcd's 1.5 MiB"
    );
    assert_eq!(s.index_digests, vec!["sha256:i".to_string()]);
    assert_eq!(s.os.as_deref(), Some("Debian 12"));
    let small = scanned_status(&scan_report(3), &images, now);
    assert!(!small.truncated);
    assert_eq!(small.non_compliant.len(), 3);
    let f = failed_status("registry said 404", &images, "linux/arm64", now);
    assert_eq!(f.outcome.as_deref(), Some("unknown"));
    assert_eq!(f.reason.as_deref(), Some("registry said 404"));
}

fn health(ready: bool) -> Health {
    Health {
        metrics: Arc::new(Metrics::default()),
        ready: Arc::new(AtomicBool::new(ready)),
    }
}

#[test]
fn endpoints_answer_by_route() {
    let h = health(false);
    assert_eq!(route(&Method::GET, "/live", &h).0, StatusCode::OK);
    assert_eq!(
        route(&Method::GET, "/ready", &h).0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    h.ready.store(true, Ordering::Release);
    assert_eq!(route(&Method::GET, "/ready", &h).0, StatusCode::OK);
    assert_eq!(
        route(&Method::POST, "/ready", &h).0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(route(&Method::GET, "/nope", &h).0, StatusCode::NOT_FOUND);
    h.metrics
        .observe_reconcile("nodes", std::time::Duration::from_millis(3), true);
    h.metrics.count_scan("non-compliant");
    let (status, content_type, body) = route(&Method::GET, "/metrics", &h);
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/openmetrics-text"));
    for line in [
        "fips_operator_reconcile_errors_total{reconciler=\"nodes\"} 1",
        "fips_operator_image_scans_total{outcome=\"non-compliant\"} 1",
        "fips_operator_scan_queue_depth 0",
        "fips_operator_reconcile_duration_seconds_count{reconciler=\"nodes\"} 1",
    ] {
        assert!(body.contains(line), "{line} missing from\n{body}");
    }
}

#[tokio::test]
async fn endpoints_over_a_real_socket_and_a_graceful_stop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let h = health(false);
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn(serve(listener, h.clone(), {
        let s = stop.clone();
        async move { s.notified().await }
    }));
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    };
    assert!(get("/ready").await.starts_with("HTTP/1.1 503"));
    h.ready.store(true, Ordering::Release);
    assert!(get("/ready").await.starts_with("HTTP/1.1 200"));
    assert!(get("/metrics").await.contains("fips_operator_leader"));
    stop.notify_one();
    tokio::time::timeout(std::time::Duration::from_secs(6), server)
        .await
        .expect("stops")
        .expect("no panic");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[test]
fn an_index_digest_gets_the_worst_verdict_of_its_platforms() {
    let registry = ModuleRegistry::built_in();
    let today = super::status::today(NOW.parse().expect("time"));
    let report = |digest: &str, platform: &str, outcome: &str| -> Arc<FipsImageReport> {
        Arc::new(from(
            json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
            "metadata": {"name": "r"}, "spec": {"digest": digest},
            "status": {"phase": "Scanned", "outcome": outcome, "platform": platform,
                       "indexDigests": ["sha256:index"], "reasons": ["usr/bin/app: not FIPS"]}}),
        ))
    };
    for order in [[0, 1], [1, 0]] {
        let reports = [
            report("sha256:amd", "linux/amd64", "compliant"),
            report("sha256:arm", "linux/arm64", "non-compliant"),
        ];
        let picked = [reports[order[0]].clone(), reports[order[1]].clone()];
        let v = super::facts::image_verdicts(&picked, ImagePolicy::default(), &registry, today);
        assert_eq!(v["sha256:amd"], ImageVerdict::Compliant);
        assert!(
            matches!(v["sha256:index"], ImageVerdict::NonCompliant(_)),
            "{order:?}"
        );
    }
}

/// The webhook asked for a scan of an index digest (a Pending report named after it); the
/// queue answered with the platform's report listing the index. The request then decides
/// nothing (it is not an unknown beside the verdict), and is not scanned again.
#[test]
fn a_pending_index_request_answered_by_its_platform_report_decides_nothing() {
    let registry = ModuleRegistry::built_in();
    let today = super::status::today(NOW.parse().expect("time"));
    let pending: Arc<FipsImageReport> = Arc::new(from(
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
        "metadata": {"name": "sha256-index"}, "spec": {"digest": "sha256:index"},
        "status": {"phase": "Pending", "images": ["reg.example/app:1@sha256:index"]}}),
    ));
    let answer: Arc<FipsImageReport> = Arc::new(from(
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
        "metadata": {"name": "sha256-amd"}, "spec": {"digest": "sha256:amd"},
        "status": {"phase": "Scanned", "outcome": "compliant", "platform": "linux/amd64",
                   "scannerVersion": crate::image::SCANNER_VERSION, "indexDigests": ["sha256:index"]}}),
    ));
    let only_pending = super::facts::image_verdicts(
        std::slice::from_ref(&pending),
        ImagePolicy::default(),
        &registry,
        today,
    );
    assert_eq!(only_pending["sha256:index"], ImageVerdict::Unknown);
    let both = [pending.clone(), answer.clone()];
    let v = super::facts::image_verdicts(&both, ImagePolicy::default(), &registry, today);
    assert_eq!(v["sha256:index"], ImageVerdict::Compliant);

    let (stores, mut w) = super::Stores::new();
    for r in [&pending, &answer] {
        w.reports
            .apply_watcher_event(&kube::runtime::watcher::Event::Apply((**r).clone()));
    }
    let requests = super::scan_queue::scan_requests(&stores, "linux/amd64", &Default::default());
    assert!(requests.is_empty(), "{requests:?}");
    // For another platform it is still a question.
    let requests = super::scan_queue::scan_requests(&stores, "linux/arm64", &Default::default());
    assert_eq!(requests.len(), 1, "{requests:?}");

    // The webhook's view: `tag@index` is compliant (the amd64 report), not "no verdict".
    let verdicts = crate::webhook::ReportVerdicts {
        reports: vec![(*pending).clone(), (*answer).clone()],
        registry: registry.clone(),
        today,
        platforms: Vec::new(),
    };
    use crate::policy::admission::{ImageKnowledge, ImageVerdicts};
    assert_eq!(
        verdicts.lookup("reg.example/app:1@sha256:index", ImagePolicy::default()),
        ImageKnowledge::Compliant
    );

    // A cluster with arm64 nodes too: the index is not judged for them yet, so it is not
    // compliant, and the pending request is scanned for arm64 only.
    let two = crate::webhook::ReportVerdicts {
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        ..verdicts
    };
    assert_eq!(
        two.lookup("reg.example/app:1@sha256:index", ImagePolicy::default()),
        ImageKnowledge::NotJudged
    );
    for (name, arch) in [("n1", "amd64"), ("n2", "arm64")] {
        w.nodes
            .apply_watcher_event(&kube::runtime::watcher::Event::Apply(from(json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"nodeInfo": {"operatingSystem": "linux", "architecture": arch,
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                "osImage": "", "containerRuntimeVersion": "", "kubeletVersion": "",
                "kubeProxyVersion": ""}}}))));
    }
    let requests = super::scan_queue::scan_requests(&stores, "linux/amd64", &Default::default());
    let platforms: Vec<&str> = requests.iter().map(|r| r.platform.as_str()).collect();
    assert_eq!(platforms, ["linux/arm64"], "{requests:?}");
}

#[test]
fn every_module_of_a_binary_is_rederived() {
    let registry = ModuleRegistry::built_in();
    let today = super::status::today(NOW.parse().expect("time"));
    let r: FipsImageReport = from(
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
        "metadata": {"name": "r"}, "spec": {"digest": "sha256:x"},
        "status": {"phase": "Scanned", "outcome": "compliant", "fipsCapable": [{"path": "usr/bin/app",
            "verdict": "fips-capable", "module": "go-native v1.0.0-c2097c7c default-on",
            "otherModules": ["go-native v1.26.0 default-on"]}]}}),
    );
    let strict = ImagePolicy {
        accept_in_process: false,
        accept_historical: true,
    };
    assert_eq!(
        report_verdict(&r, ImagePolicy::default(), &registry, today),
        ImageVerdict::Compliant
    );
    assert!(
        matches!(report_verdict(&r, strict, &registry, today), ImageVerdict::NonCompliant(m) if m.contains("v1.26.0"))
    );
}

#[test]
fn a_lease_is_held_only_by_its_holder_until_it_expires() {
    use k8s_openapi::api::coordination::v1::Lease;
    let now: Timestamp = NOW.parse().expect("time");
    let lease = |holder: &str, renewed: &str, seconds: i32| -> Lease {
        from(
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": holder,
            "renewTime": renewed, "leaseDurationSeconds": seconds}}),
        )
    };
    assert!(super::lease_held(
        &lease("me", "2026-11-26T09:59:50.000000Z", 15),
        "me",
        now
    ));
    assert!(!super::lease_held(
        &lease("other", "2026-11-26T09:59:50.000000Z", 15),
        "me",
        now
    ));
    assert!(
        !super::lease_held(&lease("me", "2026-11-26T09:59:40.000000Z", 15), "me", now),
        "expired"
    );
    assert!(!super::lease_held(
        &from(json!({"metadata": {"name": "l"}, "spec": {}})),
        "me",
        now
    ));
    assert!(!super::lease_held(
        &from(json!({"metadata": {"name": "l"}})),
        "me",
        now
    ));
}

#[test]
fn namespaces_are_routed_by_their_strictest_policy_once_the_ca_is_published() {
    let spec = |mode: &str, selector: serde_json::Value| -> FipsPolicySpec {
        from(json!({"mode": mode, "namespaceSelector": selector}))
    };
    let ns = |name: &str, team: &str| NamespaceFacts {
        name: name.into(),
        labels: [("team".to_string(), team.to_string())].into(),
    };
    let policies = [
        spec("Audit", json!({})),
        spec("Warn", json!({"matchLabels": {"team": "a"}})),
        spec(
            "Enforce",
            json!({"matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]}),
        ),
    ];
    let mode = |n: &NamespaceFacts| admission_mode(&policies, n, "fips-operator");
    assert_eq!(mode(&ns("x", "c")), Some(Mode::Audit));
    assert_eq!(mode(&ns("x", "a")), Some(Mode::Warn));
    assert_eq!(mode(&ns("x", "b")), Some(Mode::Enforce));
    // The operator's own namespace and the default excludedNamespaces: never routed.
    assert_eq!(mode(&ns("fips-operator", "b")), None);
    assert_eq!(mode(&ns("kube-system", "b")), None);
    assert_eq!(mode(&ns("kube-node-lease", "b")), None);
    // No policy: no namespace.
    assert_eq!(admission_mode(&[], &ns("x", "b"), "fips-operator"), None);

    let config = |bundles: &[&str]| -> k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration {
        from(json!({"metadata": {"name": "fips-operator"}, "webhooks": bundles.iter().enumerate().map(|(i, b)| json!({
            "name": format!("w{i}.fips.operator.dev"), "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "clientConfig": if b.is_empty() { json!({"url": "https://x"}) } else { json!({"url": "https://x", "caBundle": b}) }
        })).collect::<Vec<_>>()}))
    };
    assert_eq!(published(None), Published::Absent);
    assert_eq!(published(Some(&config(&[]))), Published::NoCaBundle);
    assert_eq!(
        published(Some(&config(&["Y2E=", ""]))),
        Published::NoCaBundle
    );
    assert_eq!(
        published(Some(&config(&["Y2E=", "Y2E="]))),
        Published::Ready
    );

    let enforce = Some(Mode::Enforce);
    assert_eq!(
        wanted_label(enforce, None, Published::Ready),
        Some("enforce")
    );
    assert_eq!(
        wanted_label(Some(Mode::Audit), Some("enforce"), Published::Ready),
        Some("audit")
    );
    assert_eq!(wanted_label(None, Some("warn"), Published::Ready), None);
    // Before the caBundle: nothing newly routed, what is routed stays (a reset bundle is
    // written again); without the configuration, nothing is routed.
    assert_eq!(wanted_label(enforce, None, Published::NoCaBundle), None);
    assert_eq!(
        wanted_label(enforce, Some("warn"), Published::NoCaBundle),
        Some("enforce")
    );
    assert_eq!(
        wanted_label(None, Some("warn"), Published::NoCaBundle),
        None
    );
    assert_eq!(
        wanted_label(enforce, Some("enforce"), Published::Absent),
        None
    );
}

#[test]
fn a_probe_runs_where_its_daemonset_pod_runs_and_a_namespace_level_is_named() {
    let pod = |ns: &str, owner: &str, node: &str, phase: &str| -> Arc<Pod> {
        Arc::new(from(
            json!({"metadata": {"name": format!("{owner}-{node}"), "namespace": ns,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": owner, "uid": "u"}]},
            "spec": {"nodeName": node, "containers": []}, "status": {"phase": phase}}),
        ))
    };
    let pods = [
        pod("fips-operator", "fips-operator-probe", "a", "Running"),
        pod("fips-operator", "fips-operator-probe", "b", "Pending"),
        pod("fips-operator", "fips-operator-probe", "e", "Failed"),
        pod("fips-operator", "other", "c", "Running"),
        pod("elsewhere", "fips-operator-probe", "d", "Running"),
    ];
    let running = super::facts::probe_nodes(&pods, "fips-operator");
    assert_eq!(running, ["a".to_string(), "b".to_string()].into());

    let level = |v: Option<&str>| {
        let labels = v
            .map(|v| {
                [(
                    "pod-security.kubernetes.io/enforce".to_string(),
                    v.to_string(),
                )]
                .into()
            })
            .unwrap_or_default();
        super::facts::probe_not_running_hint("fips-operator", &labels)
    };
    assert!(level(Some("baseline")).starts_with(
        "namespace fips-operator enforces Pod Security level \"baseline\", which refuses"
    ));
    assert!(level(Some("baseline")).contains(
        "kubectl label namespace fips-operator pod-security.kubernetes.io/enforce=privileged --overwrite"
    ));
    for v in [Some("privileged"), None] {
        assert!(level(v).starts_with("no probe pod runs there: `kubectl -n fips-operator describe daemonset fips-operator-probe`"));
    }
}
