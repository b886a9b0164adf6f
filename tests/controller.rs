//! The reconcilers against kube's mocked API service (tower-test): the exact writes each one
//! sends for a cluster state, and that an unchanged state sends nothing.

mod support;

use fips_operator::controller::{
    daemonset, nodes, status, Context, Settings, StoreWriters, Stores,
};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use support::mock_api::{self, ApiServer};

const NOW: &str = "2026-11-26T10:00:00Z";
const D_WEB: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const D_LEGACY: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const D_INPROC: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn now() -> Timestamp {
    NOW.parse().expect("time")
}

fn obj<K: DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("object")
}

fn put<K>(w: &mut Writer<K>, v: Value)
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned + Clone,
{
    w.apply_watcher_event(&watcher::Event::Apply(obj(v)));
}

fn context() -> (Context, StoreWriters, ApiServer) {
    let (client, server) = mock_api::client();
    let (stores, writers) = Stores::new();
    let settings = Settings {
        namespace: "fips-operator".into(),
        probe_image: "registry.example/fips-operator:0.1.0".into(),
        ..Settings::default()
    };
    (
        Context::new(client, stores, settings, "test-replica".into()),
        writers,
        server,
    )
}

fn node(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "7", "labels": labels}})
}

/// A running pod of the probe DaemonSet on `node`: the node's probe runs (it may not have
/// reported yet).
fn probe_pod(node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("fips-operator-probe-{node}"), "namespace": "fips-operator",
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                             "name": "fips-operator-probe", "uid": "ds"}]},
           "spec": {"nodeName": node, "containers": []}, "status": {"phase": "Running"}})
}

fn fips_status(node: &str, enabled: bool, probe_time: &str) -> Value {
    json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
           "metadata": {"name": node}, "spec": {"nodeName": node},
           "status": {"kernelFipsEnabled": enabled, "cmdlineFips": enabled, "probeVersion": "0.1.0", "probeTime": probe_time}})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
}

fn pod(ns: &str, name: &str, image: &str, digest: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "main", "image": image}], "nodeName": "n1"}});
    if let Some(d) = digest {
        let repo = image.split(':').next().expect("repo");
        p["status"] = json!({"containerStatuses": [{"name": "main", "image": image,
            "imageID": format!("{repo}@{d}"), "ready": true, "restartCount": 0}]});
    }
    p
}

fn report(digest: &str, outcome: &str, capable: Value, reasons: Value) -> Value {
    json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
           "metadata": {"name": digest.replace(':', "-")}, "spec": {"digest": digest},
           "status": {"phase": "Scanned", "outcome": outcome, "scannerVersion": fips_operator::image::SCANNER_VERSION,
                      "reasons": reasons, "fipsCapable": capable,
                      "summary": {"binaries": 1, "fipsCapable": 0, "notFipsCapable": 0, "noCrypto": 0, "unknown": 0}}})
}

fn policy(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
           "metadata": {"name": name, "uid": format!("uid-{name}"), "generation": 3}, "spec": spec})
}

/// A small cluster: n1 in FIPS mode (probe a minute ago), n2 not; in `apps`, a compliant pod,
/// a non-compliant one, one whose image has no verdict yet, and one on an in-process module;
/// a pod in kube-system that policies exclude by default.
fn cluster(w: &mut StoreWriters) {
    put(&mut w.nodes, node("n1", json!({"pool": "fips"})));
    put(&mut w.nodes, node("n2", json!({"pool": "legacy"})));
    put(
        &mut w.statuses,
        fips_status("n1", true, "2026-11-26T09:59:00Z"),
    );
    put(
        &mut w.statuses,
        fips_status("n2", false, "2026-11-26T09:59:00Z"),
    );
    for ns in ["apps", "kube-system", "fips-operator"] {
        put(&mut w.namespaces, namespace(ns));
    }
    put(
        &mut w.pods,
        pod("apps", "web", "reg.example/web:1", Some(D_WEB)),
    );
    put(
        &mut w.pods,
        pod("apps", "legacy", "reg.example/legacy:2", Some(D_LEGACY)),
    );
    put(
        &mut w.pods,
        pod("apps", "fresh", "reg.example/fresh:1", None),
    );
    put(
        &mut w.pods,
        pod("apps", "preview", "reg.example/preview:1", Some(D_INPROC)),
    );
    put(
        &mut w.pods,
        pod("kube-system", "dns", "reg.example/legacy:2", Some(D_LEGACY)),
    );
    put(
        &mut w.pods,
        pod(
            "fips-operator",
            "self",
            "reg.example/legacy:2",
            Some(D_LEGACY),
        ),
    );
    put(
        &mut w.reports,
        report(
            D_WEB,
            "compliant",
            json!([{"path": "usr/bin/web", "verdict": "fips-capable", "module": "go-native v1.0.0-c2097c7c default-on"}]),
            json!([]),
        ),
    );
    put(&mut w.reports, report(D_LEGACY, "non-compliant", json!([]),
        json!(["usr/bin/legacy: Go standard crypto without a FIPS module (pclntab crypto/sha256.block)"])));
    put(
        &mut w.reports,
        report(
            D_INPROC,
            "compliant",
            json!([{"path": "usr/bin/preview", "verdict": "fips-capable", "module": "go-native v1.26.0 default-on"}]),
            json!([]),
        ),
    );
}

/// A reconcile that must send nothing: with no API server answering, a request would hang,
/// so it is bounded to one second.
async fn quiet<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(1), f)
        .await
        .expect("the reconciler sent a request although nothing changed")
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} condition in {status:#}"))
}

#[tokio::test]
async fn policy_status_is_applied_with_counts_violations_and_conditions() {
    let (ctx, mut w, mut server) = context();
    cluster(&mut w);
    let enforce = policy("enforce", json!({"mode": "Enforce"}));
    let strict = policy(
        "strict",
        json!({"mode": "Audit",
        "nodeSelector": {"matchLabels": {"pool": "fips"}},
        "images": {"acceptInProcessModules": false}}),
    );
    put(&mut w.policies, enforce.clone());
    put(&mut w.policies, strict.clone());

    let (written, seen) = tokio::join!(status::reconcile_policies(&ctx, now()), async {
        let a = server.apply_onto(&enforce).await;
        let b = server.apply_onto(&strict).await;
        (a, b)
    });
    assert_eq!(written.expect("reconcile"), 2);

    let (enforce, strict) = seen;
    assert_eq!(enforce.method, "PATCH");
    assert_eq!(
        enforce.path,
        "/apis/fips.operator.dev/v1alpha1/fipspolicies/enforce/status"
    );
    assert!(
        enforce
            .query
            .contains("fieldManager=fips-operator-controller"),
        "{}",
        enforce.query
    );
    assert!(enforce.query.contains("force=true"), "{}", enforce.query);
    assert_eq!(enforce.content_type, "application/apply-patch+yaml");
    assert_eq!(enforce.body["apiVersion"], "fips.operator.dev/v1alpha1");
    assert_eq!(enforce.body["kind"], "FipsPolicy");
    let s = &enforce.body["status"];
    assert_eq!(s["observedGeneration"], 3);
    assert_eq!(
        s["nodes"],
        json!({"total": 2, "fipsEnabled": 1, "summary": "1/2"})
    );
    assert_eq!(
        s["workloads"],
        json!({"total": 4, "compliant": 2, "nonCompliant": 1, "unknown": 1})
    );
    assert_eq!(s["violationCount"], 1);
    assert_eq!(
        s["violations"],
        json!([{"namespace": "apps", "pod": "legacy", "container": "main",
        "image": "reg.example/legacy:2",
        "reason": "usr/bin/legacy: Go standard crypto without a FIPS module (pclntab crypto/sha256.block)",
        "since": NOW}])
    );
    assert_eq!(condition(s, "Ready")["status"], "False");
    assert_eq!(condition(s, "Ready")["reason"], "NodesNotFips");
    assert_eq!(
        condition(s, "NodesCompliant")["message"],
        "1 of 2 selected nodes are not in FIPS mode"
    );
    assert_eq!(condition(s, "WorkloadsCompliant")["status"], "False");
    // kstatus: still reconciling while an image waits for its verdict.
    assert_eq!(condition(s, "Reconciling")["status"], "True");
    assert_eq!(condition(s, "Reconciling")["reason"], "ScansPending");
    assert_eq!(condition(s, "Stalled")["status"], "False");

    // The policy that refuses in-process modules: only n1 is selected (and in FIPS mode), and
    // the go-native v1.26.0 image is non-compliant for it, derived when the report is read.
    assert_eq!(
        strict.path,
        "/apis/fips.operator.dev/v1alpha1/fipspolicies/strict/status"
    );
    let s = &strict.body["status"];
    assert_eq!(s["nodes"]["summary"], "1/1");
    assert_eq!(s["workloads"]["nonCompliant"], 2);
    let reasons: Vec<&str> = s["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["reason"].as_str().expect("reason"))
        .collect();
    assert!(reasons.contains(&"usr/bin/preview: module go-native v1.26.0 is in-process today, and the policy does not accept it"), "{reasons:?}");
    assert_eq!(condition(s, "NodesCompliant")["status"], "True");
}

#[tokio::test]
async fn an_unchanged_policy_status_is_not_written_again() {
    let (ctx, mut w, mut server) = context();
    cluster(&mut w);
    let enforce = policy("enforce", json!({"mode": "Enforce"}));
    put(&mut w.policies, enforce.clone());
    let (r, first) = tokio::join!(
        status::reconcile_policies(&ctx, now()),
        server.apply_onto(&enforce)
    );
    r.expect("first pass");
    // The watch brings the written status back into the cache.
    let mut with_status = policy("enforce", json!({"mode": "Enforce"}));
    with_status["status"] = first.body["status"].clone();
    put(&mut w.policies, with_status);

    // A minute later nothing changed: no request at all, and transition times stay.
    let later: Timestamp = "2026-11-26T10:01:00Z".parse().expect("time");
    assert_eq!(
        quiet(status::reconcile_policies(&ctx, later))
            .await
            .expect("second pass"),
        0
    );

    // n2 enters FIPS mode: the status is written again; NodesCompliant moves (with a new
    // transition time), WorkloadsCompliant keeps its time and the violation its `since`.
    put(
        &mut w.statuses,
        fips_status("n2", true, "2026-11-26T10:01:30Z"),
    );
    let at: Timestamp = "2026-11-26T10:02:00Z".parse().expect("time");
    let (r, again) = tokio::join!(
        status::reconcile_policies(&ctx, at),
        server.apply_onto(&enforce)
    );
    assert_eq!(r.expect("third pass"), 1);
    let (old, new) = (&first.body["status"], &again.body["status"]);
    assert_eq!(new["nodes"]["summary"], "2/2");
    assert_eq!(condition(new, "NodesCompliant")["status"], "True");
    assert_eq!(
        condition(new, "NodesCompliant")["lastTransitionTime"],
        "2026-11-26T10:02:00Z"
    );
    assert_eq!(
        condition(new, "WorkloadsCompliant")["lastTransitionTime"],
        condition(old, "WorkloadsCompliant")["lastTransitionTime"]
    );
    assert_eq!(new["violations"][0]["since"], NOW);
}

#[tokio::test]
async fn a_stale_probe_report_does_not_count_as_fips() {
    let (ctx, mut w, mut server) = context();
    put(&mut w.nodes, node("n1", json!({})));
    // Probed 20 minutes ago; the default allows 15.
    put(
        &mut w.statuses,
        fips_status("n1", true, "2026-11-26T09:40:00Z"),
    );
    let p = policy("p", json!({"mode": "Warn"}));
    put(&mut w.policies, p.clone());
    let (r, seen) = tokio::join!(
        status::reconcile_policies(&ctx, now()),
        server.apply_onto(&p)
    );
    r.expect("reconcile");
    assert_eq!(seen.body["status"]["nodes"]["summary"], "0/1");
}

#[tokio::test]
async fn nodes_get_the_label_and_the_taint_the_strictest_policy_asks_for() {
    let (ctx, mut w, mut server) = context();
    put(&mut w.nodes, node("a-fips", json!({"pool": "fips"})));
    put(&mut w.nodes, node("b-off", json!({"pool": "fips"})));
    put(&mut w.nodes, node("c-unprobed", json!({"pool": "fips"})));
    put(&mut w.pods, probe_pod("c-unprobed"));
    put(
        &mut w.nodes,
        node(
            "d-other",
            json!({"pool": "batch", "fips.operator.dev/enabled": "true"}),
        ),
    );
    let mut labelled = node(
        "e-done",
        json!({"pool": "fips", "fips.operator.dev/enabled": "true"}),
    );
    labelled["spec"] = json!({"taints": []});
    put(&mut w.nodes, labelled);
    let mut was_fips = node(
        "f-left",
        json!({"pool": "fips", "fips.operator.dev/enabled": "true"}),
    );
    was_fips["spec"] =
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]});
    put(&mut w.nodes, was_fips);
    put(
        &mut w.statuses,
        fips_status("a-fips", true, "2026-11-26T09:59:00Z"),
    );
    put(
        &mut w.statuses,
        fips_status("b-off", false, "2026-11-26T09:59:00Z"),
    );
    put(
        &mut w.statuses,
        fips_status("e-done", true, "2026-11-26T09:59:00Z"),
    );
    put(
        &mut w.statuses,
        fips_status("f-left", false, "2026-11-26T09:59:00Z"),
    );
    // Label everywhere in the fips pool; one policy asks for the taint: the strictest wins.
    put(
        &mut w.policies,
        policy(
            "label",
            json!({"mode": "Audit", "nodeSelector": {"matchLabels": {"pool": "fips"}}}),
        ),
    );
    put(
        &mut w.policies,
        policy(
            "taint",
            json!({"mode": "Enforce", "nodeAction": "Taint",
        "nodeSelector": {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["fips"]}]}}),
        ),
    );

    let (r, seen) = tokio::join!(nodes::reconcile_nodes(&ctx, now()), async {
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(server.echo().await);
        }
        seen
    });
    assert_eq!(r.expect("reconcile"), 5, "e-done is already right");
    let patch = |i: usize, name: &str| {
        let s: &support::mock_api::Seen = &seen[i];
        assert_eq!(
            (s.method.as_str(), s.path.as_str()),
            ("PATCH", format!("/api/v1/nodes/{name}").as_str())
        );
        assert_eq!(s.content_type, "application/merge-patch+json");
        s.body.clone()
    };
    assert_eq!(
        patch(0, "a-fips"),
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "true"}}})
    );
    assert_eq!(
        patch(1, "b-off"),
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "false"}},
        "spec": {"taints": [{"key": "fips.operator.dev/not-fips", "effect": "NoSchedule"}]}})
    );
    // A node proven not FIPS gets an event.
    assert_eq!(seen[2].method, "POST");
    assert_eq!(
        seen[2].path,
        "/apis/events.k8s.io/v1/namespaces/default/events"
    );
    assert_eq!(seen[2].body["reason"], "NodeNotFips");
    assert_eq!(seen[2].body["type"], "Warning");
    assert_eq!(seen[2].body["regarding"]["name"], "b-off");
    assert_eq!(
        seen[2].body["note"],
        "node b-off is not in FIPS mode: the probe at 2026-11-26T09:59:00Z found the kernel FIPS \
         flag off, fips=1 on the command line off, crypto policy none; boot it with fips=1; \
         tainted fips.operator.dev/not-fips:NoSchedule"
    );
    // Not probed yet: labelled false, but not tainted (it may simply be new).
    assert_eq!(
        patch(3, "c-unprobed"),
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "false"}}})
    );
    // No policy selects it any more: the operator's label goes.
    assert_eq!(
        patch(4, "d-other"),
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": null}}})
    );
    // Left FIPS mode: label flips, the taint joins the taints someone else set, and an event.
    assert_eq!(
        patch(5, "f-left"),
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "false"}},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                            {"key": "fips.operator.dev/not-fips", "effect": "NoSchedule"}]}})
    );
    assert_eq!(seen[6].body["regarding"]["name"], "f-left");
    assert_eq!(seen[6].body["reason"], "NodeNotFips");
}

#[tokio::test]
async fn a_node_back_in_fips_mode_loses_the_taint() {
    let (ctx, mut w, mut server) = context();
    let mut n = node("n1", json!({"fips.operator.dev/enabled": "false"}));
    n["spec"] = json!({"taints": [{"key": "fips.operator.dev/not-fips", "effect": "NoSchedule"}]});
    put(&mut w.nodes, n);
    put(
        &mut w.statuses,
        fips_status("n1", true, "2026-11-26T09:59:00Z"),
    );
    put(
        &mut w.policies,
        policy("taint", json!({"mode": "Enforce", "nodeAction": "Taint"})),
    );
    let (r, seen) = tokio::join!(nodes::reconcile_nodes(&ctx, now()), server.echo());
    assert_eq!(r.expect("reconcile"), 1);
    assert_eq!(
        seen.body,
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "true"}}, "spec": {"taints": []}})
    );
}

#[tokio::test]
async fn a_node_without_a_running_probe_is_labelled_unknown_and_its_status_says_why() {
    let (ctx, mut w, mut server) = context();
    put(&mut w.nodes, node("n1", json!({})));
    put(
        &mut w.namespaces,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fips-operator",
               "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
    );
    put(
        &mut w.policies,
        policy("taint", json!({"mode": "Enforce", "nodeAction": "Taint"})),
    );
    let (r, seen) = tokio::join!(nodes::reconcile_nodes(&ctx, now()), async {
        let object = server.echo().await;
        let status = server.apply_onto(&object.body).await;
        vec![object, status, server.echo().await]
    });
    assert_eq!(r.expect("reconcile"), 1);
    let apply = "application/apply-patch+yaml";
    assert_eq!(
        (
            seen[0].method.as_str(),
            seen[0].path.as_str(),
            seen[0].content_type.as_str()
        ),
        (
            "PATCH",
            "/apis/fips.operator.dev/v1alpha1/fipsstatuses/n1",
            apply
        )
    );
    assert_eq!(
        seen[0].body["metadata"]["ownerReferences"][0]["kind"],
        "Node"
    );
    assert_eq!(seen[0].body["spec"]["nodeName"], "n1");
    assert_eq!(
        seen[1].path,
        "/apis/fips.operator.dev/v1alpha1/fipsstatuses/n1/status"
    );
    let condition = &seen[1].body["status"]["conditions"][0];
    assert_eq!(
        (
            &condition["type"],
            &condition["status"],
            &condition["reason"]
        ),
        (
            &json!("Compliant"),
            &json!("Unknown"),
            &json!("ProbeNotRunning")
        )
    );
    let message = condition["message"].as_str().expect("message");
    assert!(
        message.starts_with("the probe is not running on node n1, so its FIPS mode is not known: namespace fips-operator enforces Pod Security level \"restricted\""),
        "{message}"
    );
    // Unknown, and not tainted: nothing is proven.
    assert_eq!(seen[2].path, "/api/v1/nodes/n1");
    assert_eq!(
        seen[2].body,
        json!({"metadata": {"resourceVersion": "7",
        "labels": {"fips.operator.dev/enabled": "unknown"}}})
    );
}

/// Once the node's FipsStatus says why no probe runs and its label says `unknown`, a pass
/// writes nothing: no write loop.
#[tokio::test]
async fn a_node_already_reported_without_a_probe_is_not_written_again() {
    let (ctx, mut w, server) = context();
    put(
        &mut w.nodes,
        node("n1", json!({"fips.operator.dev/enabled": "unknown"})),
    );
    put(
        &mut w.policies,
        policy("taint", json!({"mode": "Enforce", "nodeAction": "Taint"})),
    );
    let hint =
        fips_operator::cluster::facts::probe_not_running_hint("fips-operator", &Default::default());
    put(
        &mut w.statuses,
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsStatus",
               "metadata": {"name": "n1"}, "spec": {"nodeName": "n1"},
               "status": {"probeVersion": "", "probeTime": "", "conditions": [{
                   "type": "Compliant", "status": "Unknown", "reason": "ProbeNotRunning",
                   "lastTransitionTime": "2026-11-26T09:00:00Z",
                   "message": format!("the probe is not running on node n1, so its FIPS mode is not known: {hint}")}]}}),
    );
    // A write would wait for an answer the mock server never gives.
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        nodes::reconcile_nodes(&ctx, now()),
    )
    .await
    .expect("no write although nothing changed");
    assert_eq!(r.expect("reconcile"), 0);
    drop(server);
}

/// A scan request (the webhook's Pending report) never replaces a report that exists, however
/// stale the requesting replica's cache: the create meets 409 and nothing more is written.
#[tokio::test]
async fn a_scan_request_never_replaces_an_existing_report() {
    let (ctx, _w, mut server) = context();
    let digest = format!("sha256:{}", "c".repeat(64));
    let (_, seen) = tokio::join!(
        fips_operator::controller::request_scans(&ctx, vec![format!("reg.example/x@{digest}")]),
        server.answer_with(http::StatusCode::CONFLICT, |_| {
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": "AlreadyExists", "code": 409, "message": "already exists"})
        })
    );
    assert_eq!(seen.method, "POST");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), server.echo())
            .await
            .is_err(),
        "a status write followed the refused create"
    );
}

/// A verdict written from a read (the probe's) carries that read's resourceVersion: a report
/// changed since is kept (409), and the writer is told nothing was written.
#[tokio::test]
async fn a_verdict_based_on_an_older_read_is_not_written_over_a_newer_one() {
    use fips_operator::cluster::reports::{write_report, Overwrite};
    let (ctx, _w, mut server) = context();
    let digest = format!("sha256:{}", "d".repeat(64));
    let status = fips_operator::api::FipsImageReportStatus {
        phase: fips_operator::api::ImagePhase::Scanned,
        ..Default::default()
    };
    let (r, seen) = tokio::join!(
        write_report(
            &ctx.client,
            &digest,
            &status,
            Overwrite::Unchanged("41".into())
        ),
        server.answer_with(http::StatusCode::CONFLICT, |_| {
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": "Conflict", "code": 409, "message": "the object has been modified"})
        })
    );
    assert!(r.expect("a conflict is not an error").is_none());
    assert!(seen.path.ends_with("/status"), "{}", seen.path);
    assert_eq!(seen.body["metadata"]["resourceVersion"], "41");
    assert_eq!(seen.content_type, "application/apply-patch+yaml");
}

#[tokio::test]
async fn a_node_that_cannot_be_written_does_not_hold_up_the_others() {
    let (ctx, mut w, mut server) = context();
    put(&mut w.nodes, node("a", json!({})));
    put(&mut w.nodes, node("b", json!({})));
    put(&mut w.pods, probe_pod("a"));
    put(&mut w.pods, probe_pod("b"));
    put(&mut w.policies, policy("p", json!({"mode": "Audit"})));
    let conflict = |_: &support::mock_api::Seen| {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
               "code": 409, "message": "the object has been modified"})
    };
    let (r, (first, second)) = tokio::join!(nodes::reconcile_nodes(&ctx, now()), async {
        let a = server
            .answer_with(http::StatusCode::CONFLICT, conflict)
            .await;
        let b = server.echo().await;
        (a, b)
    });
    assert_eq!(first.path, "/api/v1/nodes/a");
    assert_eq!(
        second.path, "/api/v1/nodes/b",
        "b is written although a failed"
    );
    let e = r.expect_err("the failure is still reported");
    assert!(e.to_string().contains("node a"), "{e}");
}

#[tokio::test]
async fn a_conflicting_node_write_is_an_error_naming_the_node() {
    let (ctx, mut w, mut server) = context();
    put(&mut w.nodes, node("n1", json!({})));
    put(&mut w.pods, probe_pod("n1"));
    put(&mut w.policies, policy("p", json!({"mode": "Audit"})));
    let (r, _) = tokio::join!(nodes::reconcile_nodes(&ctx, now()), server.answer_with(
        http::StatusCode::CONFLICT,
        |_| json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                   "message": "the object has been modified"})));
    let e = r.expect_err("a 409 is reported");
    assert!(e.to_string().contains("node n1"), "{e}");
}

#[tokio::test]
async fn the_probe_daemonset_is_applied_owned_by_the_policies() {
    let (ctx, mut w, mut server) = context();
    put(
        &mut w.policies,
        policy(
            "a",
            json!({"mode": "Enforce", "nodeSelector": {"matchLabels": {"pool": "fips"}}}),
        ),
    );
    put(
        &mut w.policies,
        policy(
            "b",
            json!({"mode": "Audit",
        "nodeSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}),
        ),
    );
    let (r, seen) = tokio::join!(daemonset::reconcile_daemonset(&ctx), server.echo());
    assert!(r.expect("apply"));
    assert_eq!(seen.method, "PATCH");
    assert_eq!(
        seen.path,
        "/apis/apps/v1/namespaces/fips-operator/daemonsets/fips-operator-probe"
    );
    assert!(
        seen.query.contains("fieldManager=fips-operator-controller")
            && seen.query.contains("force=true")
    );
    let ds = &seen.body;
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    assert_eq!(
        ds["metadata"]["ownerReferences"],
        json!([
        {"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy", "name": "a", "uid": "uid-a"},
        {"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy", "name": "b", "uid": "uid-b"}])
    );
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true);
    assert_eq!(pod["serviceAccountName"], "fips-operator-probe");
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    // Linux nodes only; what SELinux and AppArmor nodes need to read other containers' roots.
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    assert_eq!(
        pod["securityContext"]["seLinuxOptions"],
        json!({"type": "spc_t"})
    );
    assert_eq!(
        pod["containers"][0]["securityContext"]["appArmorProfile"],
        json!({"type": "Unconfined"})
    );
    assert_eq!(
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"],
        json!([
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["fips"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}])
    );
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.example/fips-operator:0.1.0");
    assert_eq!(c["securityContext"]["privileged"], false);
    assert_eq!(
        c["securityContext"]["capabilities"],
        json!({"add": ["SYS_PTRACE", "DAC_READ_SEARCH"], "drop": ["ALL"]})
    );
    assert!(c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .all(|m| m["readOnly"] == true));

    // Once it exists and nothing changed, it is not applied again.
    put(&mut w.daemonsets, {
        let mut d = ds.clone();
        d["metadata"]["uid"] = "ds-uid".into();
        d
    });
    assert!(!quiet(daemonset::reconcile_daemonset(&ctx))
        .await
        .expect("no-op"));

    // Someone swaps the probe image on the live DaemonSet: it is applied again.
    put(&mut w.daemonsets, {
        let mut d = ds.clone();
        d["metadata"]["uid"] = "ds-uid".into();
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example/probe:1".into();
        d
    });
    let (r, again) = tokio::join!(daemonset::reconcile_daemonset(&ctx), server.echo());
    assert!(r.expect("re-applied"));
    assert_eq!(
        again.body["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/fips-operator:0.1.0"
    );

    // A policy without a node selector means every node: no affinity at all.
    put(&mut w.policies, policy("c", json!({"mode": "Warn"})));
    let (r, seen) = tokio::join!(daemonset::reconcile_daemonset(&ctx), server.echo());
    assert!(r.expect("apply"));
    assert!(
        seen.body["spec"]["template"]["spec"]
            .get("affinity")
            .is_none(),
        "{:#}",
        seen.body
    );
    assert_eq!(
        seen.body["metadata"]["ownerReferences"]
            .as_array()
            .expect("owners")
            .len(),
        3
    );
}

#[tokio::test]
async fn without_policies_there_is_no_daemonset_to_apply() {
    let (ctx, _w, _server) = context();
    assert!(!quiet(daemonset::reconcile_daemonset(&ctx))
        .await
        .expect("nothing to do"));
}

#[tokio::test]
async fn the_webhook_decides_from_the_caches_and_requests_scans_for_new_digests() {
    let (ctx, mut w, mut server) = context();
    cluster(&mut w);
    put(
        &mut w.policies,
        policy("enforce", json!({"mode": "Enforce"})),
    );
    let requested = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let admission =
        fips_operator::controller::admission_snapshot(&ctx, requested.clone(), None, now());
    let new_digest = format!("sha256:{}", "e".repeat(64));
    let review = |image: &str| {
        serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": "p",
                "namespace": "apps", "operation": "CREATE", "userInfo": {},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
                           "spec": {"containers": [{"name": "c", "image": image}]}}}}))
        .expect("json")
    };
    let r = admission
        .review(&review(&format!("reg.example/legacy@{D_LEGACY}")))
        .expect("review");
    assert_eq!(
        r["response"]["allowed"], false,
        "the legacy report in the cache denies it"
    );
    let r = admission
        .review(&review(&format!("reg.example/web@{D_WEB}")))
        .expect("review");
    assert_eq!(r["response"]["allowed"], true);
    let r = admission
        .review(&review(&format!("reg.example/new@{new_digest}")))
        .expect("review");
    assert_eq!(
        r["response"]["allowed"], false,
        "no verdict yet under Enforce"
    );
    let images = std::mem::take(&mut *requested.lock().expect("lock"));
    assert_eq!(images, vec![format!("reg.example/new@{new_digest}")]);

    // The replica creates a Pending report for the new digest only.
    let mut all = images.clone();
    all.push(format!("reg.example/web@{D_WEB}"));
    all.push("reg.example/tag-only:1".into());
    let (_, seen) = tokio::join!(fips_operator::controller::request_scans(&ctx, all), async {
        let a = server.echo().await;
        let b = server.echo().await;
        (a, b)
    });
    let name = new_digest.replace(':', "-");
    // Created (POST), never applied over a report that may exist already.
    assert_eq!(
        (seen.0.method.as_str(), seen.0.path.as_str()),
        ("POST", "/apis/fips.operator.dev/v1alpha1/fipsimagereports")
    );
    assert_eq!(seen.0.body["metadata"]["name"], name);
    assert!(
        seen.0.query.contains("fieldManager=fips-operator-reports"),
        "{}",
        seen.0.query
    );
    assert_eq!(
        seen.1.path,
        format!("/apis/fips.operator.dev/v1alpha1/fipsimagereports/{name}/status")
    );
    assert_eq!(seen.1.body["status"]["phase"], "Pending");
    assert_eq!(
        seen.1.body["status"]["images"],
        json!([format!("reg.example/new@{new_digest}")])
    );
    // Nothing else was sent.
    assert!(tokio::time::timeout(
        std::time::Duration::from_millis(200),
        server.handle.next_request()
    )
    .await
    .is_err());
}

fn webhook_configuration(ca_bundle: Option<&Value>) -> Value {
    let mut client_config = json!({"service": {"name": "fips-operator-webhook", "namespace": "fips-operator", "path": "/validate"}});
    if let Some(b) = ca_bundle {
        client_config["caBundle"] = b.clone();
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
           "metadata": {"name": "fips-operator", "uid": "uid-vwc", "resourceVersion": "3"},
           "webhooks": [{"name": "workloads.fips.operator.dev", "admissionReviewVersions": ["v1"],
                         "sideEffects": "NoneOnDryRun", "clientConfig": client_config}]})
}

const VWC: &str =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/fips-operator";
const SECRETS: &str = "/api/v1/namespaces/fips-operator/secrets";
const SECRET: &str = "/api/v1/namespaces/fips-operator/secrets/fips-operator-webhook-tls";

fn self_managed(
    lifetimes: fips_operator::webhook::certs::Lifetimes,
) -> fips_operator::controller::SelfManagedCerts {
    fips_operator::controller::SelfManagedCerts {
        secret: "fips-operator-webhook-tls".into(),
        service: "fips-operator-webhook".into(),
        webhook_config: "fips-operator".into(),
        lifetimes,
    }
}

fn b64(text: &str) -> Value {
    use base64::Engine;
    json!(base64::engine::general_purpose::STANDARD.encode(text))
}

fn unb64(v: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .expect("base64");
    String::from_utf8(bytes).expect("text")
}

/// The CAs (one PEM each) of a caBundle as sent (base64).
fn cas(bundle: &Value) -> Vec<String> {
    fips_operator::webhook::certs::bundle_cas(&unb64(bundle))
}

/// What the API server does with a JSON patch of `stored`: `test` ops must hold (else a 409,
/// as for a stale resourceVersion), `add` ops set the value; the resourceVersion moves on.
fn json_patched(stored: &Value, ops: &Value) -> (http::StatusCode, Value) {
    let mut out = stored.clone();
    for op in ops.as_array().expect("a JSON patch is an array") {
        let path = op["path"].as_str().expect("path");
        match op["op"].as_str().expect("op") {
            "test" => {
                if out.pointer(path) != Some(&op["value"]) {
                    return (
                        http::StatusCode::CONFLICT,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "Conflict", "code": 409, "message": format!("test of {path} failed")}),
                    );
                }
            }
            "add" => {
                let (parent, key) = path.rsplit_once('/').expect("a pointer");
                let parent = out.pointer_mut(parent).expect("the parent exists");
                parent[key] = op["value"].clone();
            }
            other => panic!("unexpected op {other}"),
        }
    }
    let rv: u64 = out["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    out["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
    (http::StatusCode::OK, out)
}

/// A JSON patch that tests the resourceVersion `rv` and sets the caBundle of the webhooks
/// `indexes`, and nothing else: its bundles.
fn assert_bundle_patch(seen: &mock_api::Seen, rv: &str, indexes: &[usize]) -> Vec<Value> {
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("PATCH", VWC));
    assert_eq!(seen.content_type, "application/json-patch+json");
    let ops = seen.body.as_array().expect("a JSON patch");
    assert_eq!(
        ops[0],
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv}),
        "{:#}",
        seen.body
    );
    assert_eq!(ops.len(), 1 + indexes.len(), "{:#}", seen.body);
    ops[1..]
        .iter()
        .zip(indexes)
        .map(|(op, i)| {
            assert_eq!(op["op"], "add");
            assert_eq!(op["path"], format!("/webhooks/{i}/clientConfig/caBundle"));
            op["value"].clone()
        })
        .collect()
}

/// The stored Secret after a create or a replace: the body sent, a new resourceVersion.
fn stored_secret(written: &mock_api::Seen, rv: &str) -> Value {
    let mut s = written.body.clone();
    s["metadata"]["resourceVersion"] = json!(rv);
    s
}

#[tokio::test]
async fn self_managed_certificates_are_created_published_and_kept_published() {
    use fips_operator::controller::certs::{reconcile_certificates, Outcome};
    let (ctx, _w, mut server) = context();
    let cfg = self_managed(Default::default());
    let at = now().as_second();

    // First pass: no Secret. Its CA is published first (a JSON patch of the caBundle only,
    // conditional on the resourceVersion read), then the Secret is created, owned by the
    // configuration.
    let vwc0 = webhook_configuration(None);
    let api = async {
        let vwc = server.ok(&vwc0).await;
        let secret = server.not_found().await;
        let patch = server.respond(|s| json_patched(&vwc0, &s.body)).await;
        let created = server.echo().await;
        (vwc, secret, patch, created)
    };
    let (r, (vwc, secret, patch, created)) =
        tokio::join!(reconcile_certificates(&ctx, &cfg, at), api);
    assert_eq!(
        r.expect("pass"),
        Outcome {
            secret_written: true,
            bundle_written: true
        }
    );
    assert_eq!((vwc.method.as_str(), vwc.path.as_str()), ("GET", VWC));
    assert_eq!(
        (secret.method.as_str(), secret.path.as_str()),
        ("GET", SECRET)
    );
    let bundle = assert_bundle_patch(&patch, "3", &[0]).remove(0);
    assert_eq!(
        (created.method.as_str(), created.path.as_str()),
        ("POST", SECRETS)
    );
    let s = &created.body;
    assert_eq!(s["type"], "kubernetes.io/tls");
    let keys: Vec<&String> = s["data"].as_object().expect("data").keys().collect();
    assert_eq!(keys, ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    assert_eq!(s["metadata"]["ownerReferences"][0]["uid"], "uid-vwc");
    assert_eq!(
        s["metadata"]["ownerReferences"][0]["kind"],
        "ValidatingWebhookConfiguration"
    );
    assert_eq!(
        s["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "fips-operator-controller"
    );
    assert_eq!(
        bundle, s["data"]["ca.crt"],
        "the caBundle is the Secret's CA"
    );

    // Second pass, nothing changed: two reads, no write.
    let stored = stored_secret(&created, "11");
    let published = json_patched(&vwc0, &patch.body).1;
    assert_eq!(published["webhooks"][0]["clientConfig"]["caBundle"], bundle);
    let api = async {
        server.ok(&published).await;
        server.ok(&stored).await;
    };
    let (r, ()) =
        quiet(async { tokio::join!(reconcile_certificates(&ctx, &cfg, at + 60), api) }).await;
    assert_eq!(r.expect("pass"), Outcome::default());

    // `helm upgrade` wrote the configuration back without a caBundle (and added a webhook):
    // the caBundle of both is written again, and only that.
    let mut reset = webhook_configuration(None);
    reset["metadata"]["resourceVersion"] = json!("20");
    let mut second = reset["webhooks"][0].clone();
    second["name"] = json!("other.fips.operator.dev");
    reset["webhooks"]
        .as_array_mut()
        .expect("webhooks")
        .push(second);
    let api = async {
        server.ok(&reset).await;
        server.ok(&stored).await;
        server.respond(|s| json_patched(&reset, &s.body)).await
    };
    let (r, patch) = tokio::join!(reconcile_certificates(&ctx, &cfg, at + 120), api);
    assert_eq!(
        r.expect("pass"),
        Outcome {
            secret_written: false,
            bundle_written: true
        }
    );
    assert_eq!(
        assert_bundle_patch(&patch, "20", &[0, 1]),
        [bundle.clone(), bundle.clone()]
    );

    // The configuration changed between the read and the write: a conflict, an error naming
    // it, nothing overwritten.
    let mut moved = reset.clone();
    moved["metadata"]["resourceVersion"] = json!("21");
    let api = async {
        server.ok(&reset).await;
        server.ok(&stored).await;
        server.respond(|s| json_patched(&moved, &s.body)).await
    };
    let (r, _) = tokio::join!(reconcile_certificates(&ctx, &cfg, at + 150), api);
    let e = r.expect_err("conflict").to_string();
    assert!(
        e.contains("writing the caBundle of ValidatingWebhookConfiguration fips-operator"),
        "{e}"
    );

    // No configuration at all: said, naming it and the fix; the Secret is left alone.
    let api = async {
        server.not_found().await;
        server.ok(&stored).await;
    };
    let (r, ()) = tokio::join!(reconcile_certificates(&ctx, &cfg, at + 180), api);
    let e = r.expect_err("no configuration").to_string();
    assert!(
        e.contains("ValidatingWebhookConfiguration fips-operator not found"),
        "{e}"
    );
    assert!(tokio::time::timeout(
        std::time::Duration::from_millis(200),
        server.handle.next_request()
    )
    .await
    .is_err());
}

#[tokio::test]
async fn self_managed_rotation_follows_the_live_bundle_and_publishes_before_the_secret_changes() {
    use fips_operator::controller::certs::{reconcile_certificates, Outcome};
    use fips_operator::webhook::certs::Lifetimes;
    const DAY: i64 = 86400;
    let (ctx, _w, mut server) = context();
    let cfg = self_managed(Lifetimes {
        ca: std::time::Duration::from_secs(30 * DAY as u64),
        serving: std::time::Duration::from_secs(3 * DAY as u64),
        publish_before_use: std::time::Duration::from_secs(3600),
        backdate: std::time::Duration::from_secs(3600),
    });
    let at = now().as_second();

    // A Secret made at `at`, others' metadata on it, and its CA published.
    let vwc0 = webhook_configuration(None);
    let api = async {
        server.ok(&vwc0).await;
        server.not_found().await;
        let patch = server.respond(|s| json_patched(&vwc0, &s.body)).await;
        (patch, server.echo().await)
    };
    let (r, (patch, created)) = tokio::join!(reconcile_certificates(&ctx, &cfg, at), api);
    r.expect("first pass");
    let mut stored = stored_secret(&created, "11");
    stored["metadata"]["labels"]["team"] = json!("platform");
    stored["metadata"]["annotations"] = json!({"backup.example/skip": "true"});
    stored["metadata"]["finalizers"] = json!(["example.com/keep"]);
    stored["metadata"]["ownerReferences"]
        .as_array_mut()
        .expect("owners")
        .push(json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "uid-other"}));
    stored["data"]["extra"] = b64("someone else's");
    let live = json_patched(&vwc0, &patch.body).1;
    let ca1 = unb64(&stored["data"]["ca.crt"]);

    // Step 2 (a third of the CA's life left): the next CA goes into the caBundle first,
    // beside the current one, then into the Secret (others' metadata and keys kept).
    let t2 = at + 20 * DAY + 60;
    let api = async {
        server.ok(&live).await;
        server.ok(&stored).await;
        let patch = server.respond(|s| json_patched(&live, &s.body)).await;
        (patch, server.echo().await)
    };
    let (r, (patch, put)) = tokio::join!(reconcile_certificates(&ctx, &cfg, t2), api);
    assert_eq!(
        r.expect("step 2"),
        Outcome {
            secret_written: true,
            bundle_written: true
        }
    );
    let extended = cas(&assert_bundle_patch(&patch, "4", &[0]).remove(0));
    assert_eq!((put.method.as_str(), put.path.as_str()), ("PUT", SECRET));
    let m = &put.body["metadata"];
    assert_eq!(m["resourceVersion"], "11");
    assert_eq!(m["labels"]["team"], "platform");
    assert_eq!(
        m["labels"]["app.kubernetes.io/managed-by"],
        "fips-operator-controller"
    );
    assert_eq!(m["annotations"]["backup.example/skip"], "true");
    assert_eq!(m["finalizers"], json!(["example.com/keep"]));
    assert_eq!(m["ownerReferences"].as_array().expect("owners").len(), 2);
    assert_eq!(unb64(&put.body["data"]["extra"]), "someone else's");
    assert_eq!(
        unb64(&put.body["data"]["ca.crt"]),
        ca1,
        "the CA still signs"
    );
    let next = unb64(&put.body["data"]["next-ca.crt"]);
    assert_eq!(extended, cas(&b64(&format!("{ca1}{next}"))));
    let with_next = stored_secret(&put, "12");
    let published_both = json_patched(&live, &patch.body).1;

    // Hours later, but the caBundle was reset to the current CA alone (`kubectl replace`):
    // the next CA does not sign; the caBundle is written again, the Secret is not.
    let mut reset = live.clone();
    reset["metadata"]["resourceVersion"] = json!("30");
    let t3 = t2 + 3 * 3600;
    let api = async {
        server.ok(&reset).await;
        server.ok(&with_next).await;
        server.respond(|s| json_patched(&reset, &s.body)).await
    };
    let (r, patch) = tokio::join!(reconcile_certificates(&ctx, &cfg, t3), api);
    assert_eq!(
        r.expect("no promotion"),
        Outcome {
            secret_written: false,
            bundle_written: true
        }
    );
    assert_eq!(
        cas(&assert_bundle_patch(&patch, "30", &[0]).remove(0)),
        extended
    );

    // No configuration: nothing can be published, so nothing is promoted.
    let api = async {
        server.not_found().await;
        server.ok(&with_next).await;
    };
    let (r, ()) = tokio::join!(reconcile_certificates(&ctx, &cfg, t3 + 60), api);
    r.expect_err("no configuration");

    // Every webhook has the next CA: it signs; the caBundle has what the Secret publishes
    // already (the next CA and the old one as previous), so only the Secret is written.
    let api = async {
        server.ok(&published_both).await;
        server.ok(&with_next).await;
        server.echo().await
    };
    let (r, put) = tokio::join!(reconcile_certificates(&ctx, &cfg, t3 + 120), api);
    assert_eq!(
        r.expect("promotion"),
        Outcome {
            secret_written: true,
            bundle_written: false
        }
    );
    assert_eq!((put.method.as_str(), put.path.as_str()), ("PUT", SECRET));
    assert_eq!(unb64(&put.body["data"]["ca.crt"]), next);
    assert_eq!(unb64(&put.body["data"]["previous-ca.crt"]), ca1);
    assert!(put.body["data"].get("next-ca.crt").is_none());
    assert!(tokio::time::timeout(
        std::time::Duration::from_millis(200),
        server.handle.next_request()
    )
    .await
    .is_err());
}

#[tokio::test]
async fn a_new_signer_is_published_before_the_secret_and_old_cas_leave_a_pass_later() {
    use fips_operator::controller::certs::{reconcile_certificates, Outcome};
    let (ctx, _w, mut server) = context();
    let cfg = self_managed(Default::default());
    let at = now().as_second();

    // The Secret was deleted; the caBundle still holds the CA replicas serve from.
    let old = fips_operator::webhook::certs::plan(
        &Default::default(),
        &["x.svc".to_string()],
        at,
        &Default::default(),
        &[],
    )
    .expect("plan")
    .expect("a CA")
    .data["ca.crt"]
        .clone();
    let live = webhook_configuration(Some(&b64(&old)));

    // The caBundle refuses the write: the Secret waits (its signer would not be trusted).
    let api = async {
        server.ok(&live).await;
        server.not_found().await;
        server
            .answer_with(http::StatusCode::FORBIDDEN, |_| {
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "Forbidden", "code": 403, "message": "forbidden"})
            })
            .await
    };
    let (r, patch) = tokio::join!(reconcile_certificates(&ctx, &cfg, at), api);
    r.expect_err("forbidden");
    assert_eq!(patch.method, "PATCH");
    assert!(
        tokio::time::timeout(
            std::time::Duration::from_millis(200),
            server.handle.next_request()
        )
        .await
        .is_err(),
        "the Secret was written although its CA could not be published"
    );

    // Allowed: the new CA joins the old one in the caBundle, then the Secret is created.
    let api = async {
        server.ok(&live).await;
        server.not_found().await;
        let patch = server.respond(|s| json_patched(&live, &s.body)).await;
        (patch, server.echo().await)
    };
    let (r, (patch, created)) = tokio::join!(reconcile_certificates(&ctx, &cfg, at + 60), api);
    assert_eq!(
        r.expect("pass"),
        Outcome {
            secret_written: true,
            bundle_written: true
        }
    );
    let union = assert_bundle_patch(&patch, "3", &[0]).remove(0);
    assert_eq!(created.method, "POST");
    let new = unb64(&created.body["data"]["ca.crt"]);
    assert_ne!(new, old);
    assert_eq!(cas(&union), cas(&b64(&format!("{new}{old}"))));

    // The next pass (the Secret unchanged): the caBundle is exactly the Secret's CA.
    let stored = stored_secret(&created, "11");
    let extended = json_patched(&live, &patch.body).1;
    let api = async {
        server.ok(&extended).await;
        server.ok(&stored).await;
        server.respond(|s| json_patched(&extended, &s.body)).await
    };
    let (r, patch) = tokio::join!(reconcile_certificates(&ctx, &cfg, at + 120), api);
    assert_eq!(
        r.expect("pass"),
        Outcome {
            secret_written: false,
            bundle_written: true
        }
    );
    assert_eq!(
        assert_bundle_patch(&patch, "4", &[0]),
        [stored["data"]["ca.crt"].clone()]
    );
}

#[tokio::test]
async fn a_secret_of_another_type_is_an_error_naming_it_and_the_fix() {
    use fips_operator::controller::certs::reconcile_certificates;
    let (ctx, _w, mut server) = context();
    let cfg = self_managed(Default::default());
    let api = async {
        server.ok(&webhook_configuration(None)).await;
        server
            .answer_with(http::StatusCode::OK, |_| {
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                       "metadata": {"name": "fips-operator-webhook-tls", "namespace": "fips-operator", "resourceVersion": "5"},
                       "data": {"password": b64("hunter2")}})
            })
            .await;
    };
    let (r, ()) = tokio::join!(reconcile_certificates(&ctx, &cfg, now().as_second()), api);
    let e = r.expect_err("wrong type").to_string();
    for part in [
        "Secret fips-operator/fips-operator-webhook-tls",
        "type Opaque",
        "kubernetes.io/tls",
        "delete it",
        "--cert-secret",
    ] {
        assert!(e.contains(part), "{part}: {e}");
    }
    assert!(tokio::time::timeout(
        std::time::Duration::from_millis(200),
        server.handle.next_request()
    )
    .await
    .is_err());
}

#[test]
fn self_managed_readiness_waits_for_a_loaded_serving_certificate() {
    use fips_operator::controller::certs::ServingLoader;
    use fips_operator::controller::server::Readiness;
    use std::sync::atomic::Ordering;
    fips_operator::install_crypto_provider();
    let readiness = Readiness::new(2);
    let ready = readiness.flag();
    let serving = std::sync::Arc::new(fips_operator::webhook::server::SharedCert::default());
    let mut loader = ServingLoader::new(
        "Secret fips-operator/tls".into(),
        serving,
        readiness.clone(),
    );
    readiness.met(); // the caches synced
    assert!(
        !ready.load(Ordering::Acquire),
        "no certificate yet: every handshake fails"
    );

    let secret = |data: Value| -> k8s_openapi::api::core::v1::Secret {
        obj(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "data": data}),
        )
    };
    assert!(!loader.load(&secret(json!({}))).expect("nothing to load"));
    assert!(!ready.load(Ordering::Acquire));
    let e = loader
        .load(&secret(
            json!({"tls.crt": b64("garbage"), "tls.key": b64("garbage")}),
        ))
        .expect_err("unusable");
    assert!(
        e.to_string().contains("Secret fips-operator/tls tls.crt"),
        "{e}"
    );
    assert!(!ready.load(Ordering::Acquire));

    let data = fips_operator::webhook::certs::plan(
        &Default::default(),
        &["x.svc".to_string()],
        now().as_second(),
        &Default::default(),
        &[],
    )
    .expect("plan")
    .expect("certificates")
    .data;
    let tls = json!({"tls.crt": b64(&data["tls.crt"]), "tls.key": b64(&data["tls.key"])});
    assert!(loader.load(&secret(tls.clone())).expect("loaded"));
    assert!(ready.load(Ordering::Acquire));
    assert!(loader.load(&secret(tls)).expect("loaded again"));
    assert!(ready.load(Ordering::Acquire));
}
