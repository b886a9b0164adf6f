//! The registry scan queue against a real registry on 127.0.0.1 (Debian's docker-registry,
//! images pushed with skopeo) and kube's mocked API service: what it scans, with which pull
//! secret, and the FipsImageReport writes it sends — scanned, non-compliant, and failed after
//! retries.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use fips_operator::controller::scan_queue::{scan_requests, ScanQueue};
use fips_operator::controller::{Context, Settings, StoreWriters, Stores};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use support::fixture;
use support::mock_api::{self, ApiServer, Seen};
use support::oci::{file, tar_layer, Image, Layout, Registry};

fn put<K>(w: &mut Writer<K>, v: Value)
where
    K: kube::Resource<DynamicType = ()> + DeserializeOwned + Clone,
{
    w.apply_watcher_event(&watcher::Event::Apply(
        serde_json::from_value(v).expect("object"),
    ));
}

fn context() -> (Context, StoreWriters, ApiServer) {
    let (client, server) = mock_api::client();
    let (stores, writers) = Stores::new();
    let settings = Settings {
        scan_attempts: 2,
        scan_backoff: Duration::from_millis(20),
        ..Settings::default()
    };
    (
        Context::new(client, stores, settings, "test-replica".into()),
        writers,
        server,
    )
}

fn layer(fixture_name: &str) -> Vec<u8> {
    tar_layer(&[file(
        "usr/bin/app",
        std::fs::read(fixture(fixture_name)).expect("fixture"),
        0o755,
    )])
}

fn pod(ns: &str, name: &str, image: &str, digest: &str, pull_secret: Option<&str>) -> Value {
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "main", "image": image}]},
        "status": {"containerStatuses": [{"name": "main", "image": image, "ready": true,
            "restartCount": 0, "imageID": format!("{repo}@{digest}")}]}});
    if let Some(s) = pull_secret {
        p["spec"]["imagePullSecrets"] = json!([{"name": s}]);
    }
    p
}

/// Serves the mocked API until `n` report-status writes and `events` events were seen;
/// answers pull-secret reads
/// from `secrets` and echoes everything else (a service account read gets one without
/// pull secrets).
async fn serve(server: &mut ApiServer, secrets: &Value, n: usize, events: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    let (mut statuses, mut events_seen) = (0, 0);
    while statuses < n || events_seen < events {
        let s = server
            .answer_with(http::StatusCode::OK, |s| {
                if s.path.contains("/secrets/") {
                    let name = s.path.rsplit('/').next().unwrap_or_default();
                    return secrets[name].clone();
                }
                let mut body = mock_api::echoed(s);
                if body.get("spec").is_none() && s.path.contains("fipsimagereports") {
                    body["spec"] = json!({"digest": "sha256:unused"});
                }
                body
            })
            .await;
        if s.path.ends_with("/status") {
            statuses += 1;
        }
        if s.path.ends_with("/events") {
            events_seen += 1;
        }
        seen.push(s);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_images_are_scanned_once_per_digest_with_their_pull_secret() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    let good = layout.tag("good", &Image::new(vec![layer("go127-fips-certified")]));
    let bad = layout.tag("bad", &Image::new(vec![layer("go119-std")]));
    let registry = Registry::start(Some(("puller", "s3cret")));
    let good_ref = registry.push(&layout, "good", "team/app", Some("puller:s3cret"));
    let bad_ref = registry.push(&layout, "bad", "team/legacy", Some("puller:s3cret"));

    let (ctx, mut w, mut server) = context();
    // Two pods on the same image (one digest: one scan), one on a non-compliant image.
    put(
        &mut w.pods,
        pod("apps", "a", &good_ref, &good, Some("regcred")),
    );
    put(
        &mut w.pods,
        pod("apps", "b", &good_ref, &good, Some("regcred")),
    );
    put(
        &mut w.pods,
        pod("apps", "c", &bad_ref, &bad, Some("regcred")),
    );
    let requests = scan_requests(&ctx.stores, "linux/amd64", &Default::default());
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[0].digest.as_deref(), Some(good.as_str()));
    assert_eq!(
        requests[0].reference,
        format!("{}/team/app@{good}", registry.addr)
    );

    let queue = Arc::new(ScanQueue::default());
    assert_eq!(queue.offer(requests.clone()), 2);
    assert_eq!(queue.offer(requests), 0, "queued keys are not queued twice");
    let config = json!({"auths": {registry.addr.clone(): {"auth":
        base64::engine::general_purpose::STANDARD.encode("puller:s3cret")}}});
    let secrets = json!({"regcred": {"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "apps"}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config.to_string())}}});
    let workers = tokio::spawn(queue.clone().run(ctx.clone(), std::future::pending()));
    let seen = tokio::time::timeout(Duration::from_secs(120), serve(&mut server, &secrets, 2, 1))
        .await
        .expect("both images scanned and recorded within 2 minutes");

    let secret_reads = seen
        .iter()
        .filter(|s| s.path == "/api/v1/namespaces/apps/secrets/regcred")
        .count();
    assert_eq!(secret_reads, 2, "one read per scan");
    let status = |digest: &str| -> Value {
        let name = digest.replace(':', "-");
        let creates: Vec<&Seen> = seen
            .iter()
            .filter(|s| {
                s.path == format!("/apis/fips.operator.dev/v1alpha1/fipsimagereports/{name}")
            })
            .collect();
        assert_eq!(creates.len(), 1, "{seen:#?}");
        assert_eq!(creates[0].method, "PATCH");
        assert_eq!(creates[0].content_type, "application/apply-patch+yaml");
        assert_eq!(creates[0].body["spec"], json!({"digest": digest}));
        let s = seen
            .iter()
            .find(|s| {
                s.path == format!("/apis/fips.operator.dev/v1alpha1/fipsimagereports/{name}/status")
            })
            .expect("status write");
        assert!(s.query.contains("fieldManager=fips-operator-reports"));
        s.body["status"].clone()
    };
    let g = status(&good);
    assert_eq!(g["phase"], "Scanned");
    assert_eq!(g["outcome"], "compliant");
    assert_eq!(g["scannerVersion"], fips_operator::image::SCANNER_VERSION);
    assert_eq!(g["images"], json!([good_ref]));
    assert_eq!(g["platform"], "linux/amd64");
    assert_eq!(g["summary"]["fipsCapable"], 1);
    assert_eq!(g["fipsCapable"][0]["path"], "usr/bin/app");
    assert_eq!(
        g["fipsCapable"][0]["module"],
        "go-native v1.0.0-c2097c7c default-on"
    );
    let b = status(&bad);
    assert_eq!(b["outcome"], "non-compliant");
    assert_eq!(b["summary"]["notFipsCapable"], 1);
    assert_eq!(b["nonCompliant"][0]["verdict"], "not-fips-capable");
    assert!(
        b["reasons"][0]
            .as_str()
            .expect("reason")
            .starts_with("usr/bin/app"),
        "{b:#}"
    );
    // A new non-compliant image is an event on its report.
    let event = seen
        .iter()
        .find(|s| s.path.ends_with("/events"))
        .expect("an event");
    assert_eq!(event.body["reason"], "NonCompliantImage");
    assert_eq!(event.body["regarding"]["kind"], "FipsImageReport");
    assert!(event.body["note"]
        .as_str()
        .expect("note")
        .contains("team/legacy"));

    // Once the reports are in the cache, nothing is asked for again.
    for (digest, st) in [(&good, &g), (&bad, &b)] {
        put(
            &mut w.reports,
            json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
            "metadata": {"name": digest.replace(':', "-")}, "spec": {"digest": digest}, "status": st}),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(queue.depth(), 0);
    assert!(scan_requests(&ctx.stores, "linux/amd64", &queue.tags()).is_empty());
    workers.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_keeps_failing_is_recorded_as_failed_with_the_reason() {
    let registry = Registry::start(None);
    let (ctx, mut w, mut server) = context();
    let missing = format!("sha256:{}", "d".repeat(64));
    let image = format!("{}/team/gone:1", registry.addr);
    put(&mut w.pods, pod("apps", "a", &image, &missing, None));
    let queue = Arc::new(ScanQueue::default());
    queue.offer(scan_requests(
        &ctx.stores,
        "linux/amd64",
        &Default::default(),
    ));
    let workers = tokio::spawn(queue.clone().run(ctx.clone(), std::future::pending()));
    let started = std::time::Instant::now();
    let seen = tokio::time::timeout(
        Duration::from_secs(60),
        serve(&mut server, &json!({}), 1, 0),
    )
    .await
    .expect("the failure is recorded");
    // The service account was asked for its pull secrets (none).
    assert_eq!(
        seen[0].path,
        "/api/v1/namespaces/apps/serviceaccounts/default"
    );
    let s = &seen.last().expect("status").body["status"];
    assert_eq!(s["phase"], "Failed");
    assert_eq!(s["outcome"], "unknown");
    let reason = s["reason"].as_str().expect("reason");
    assert!(reason.contains("team/gone"), "{reason}");
    // Two attempts, 20 ms apart at least.
    assert!(started.elapsed() >= Duration::from_millis(20));
    workers.abort();
}

#[tokio::test]
async fn pending_reports_stale_versions_and_workload_templates_are_queued() {
    let (ctx, mut w, _server) = context();
    let d1 = format!("sha256:{}", "1".repeat(64));
    let d2 = format!("sha256:{}", "2".repeat(64));
    let d3 = format!("sha256:{}", "3".repeat(64));
    let report = |d: &str, phase: &str, version: &str| {
        json!({"apiVersion": "fips.operator.dev/v1alpha1",
        "kind": "FipsImageReport", "metadata": {"name": d.replace(':', "-")}, "spec": {"digest": d},
        "status": {"phase": phase, "scannerVersion": version, "images": ["reg.example/app:1"], "outcome": "compliant"}})
    };
    put(&mut w.reports, report(&d1, "Pending", ""));
    put(&mut w.reports, report(&d2, "Scanned", "0.0.1-old"));
    put(
        &mut w.reports,
        report(&d3, "Scanned", fips_operator::image::SCANNER_VERSION),
    );
    put(
        &mut w.deployments,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"selector": {}, "template": {"spec": {"serviceAccountName": "web",
            "initContainers": [{"name": "init", "image": "reg.example/init:2"}],
            "containers": [{"name": "main", "image": format!("reg.example/app@{d3}")}]}}}}),
    );
    put(
        &mut w.cronjobs,
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "ops"},
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "job", "image": "reg.example/init:2"}]}}}}}}),
    );
    // An arm64 node: its pods are scanned for arm64.
    put(
        &mut w.nodes,
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "arm"},
        "status": {"nodeInfo": {"architecture": "arm64", "operatingSystem": "linux", "bootID": "", "containerRuntimeVersion": "",
            "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "", "osImage": "", "systemUUID": ""}}}),
    );
    let mut p = pod(
        "apps",
        "on-arm",
        "reg.example/arm:1",
        &format!("sha256:{}", "4".repeat(64)),
        None,
    );
    p["spec"]["nodeName"] = "arm".into();
    put(&mut w.pods, p);

    let reqs = scan_requests(&ctx.stores, "linux/amd64", &Default::default());
    let keys: Vec<&str> = reqs.iter().filter_map(|r| r.digest.as_deref()).collect();
    assert!(keys.contains(&d1.as_str()), "pending: {keys:?}");
    assert!(keys.contains(&d2.as_str()), "older scanner: {keys:?}");
    assert!(
        reqs.iter()
            .all(|r| r.digest.as_deref() != Some(d3.as_str())),
        "current report, pinned by digest: {keys:?}"
    );
    // The tag is one request for both workloads, with the Deployment's service account.
    let init: Vec<_> = reqs
        .iter()
        .filter(|r| r.key == "reg.example/init:2")
        .collect();
    assert_eq!(init.len(), 1, "{reqs:#?}");
    assert_eq!(init[0].digest, None);
    let arm = reqs
        .iter()
        .find(|r| r.images.contains("reg.example/arm:1"))
        .expect("arm pod");
    assert_eq!(arm.platform, "linux/arm64");
    assert_eq!(
        reqs.iter()
            .find(|r| r.digest.as_deref() == Some(d1.as_str()))
            .expect("pending")
            .reference,
        format!("reg.example/app@{d1}")
    );

    // A pending report names no platform: it is scanned for each platform the nodes run
    // (here arm64 only). A pod on the same image and platform: one scan, with the pod's pull
    // secrets.
    let mut private = pod("apps", "private", "reg.example/app:1", &d1, Some("regcred"));
    private["spec"]["nodeName"] = "arm".into();
    put(&mut w.pods, private);
    let reqs = scan_requests(&ctx.stores, "linux/amd64", &Default::default());
    let pending: Vec<_> = reqs
        .iter()
        .filter(|r| r.digest.as_deref() == Some(d1.as_str()))
        .collect();
    assert_eq!(pending.len(), 1, "{reqs:#?}");
    let pending = pending[0];
    assert_eq!(pending.namespace.as_deref(), Some("apps"));
    assert_eq!(pending.pull_secrets, vec!["regcred".to_string()]);

    // A tag resolved once (to a digest with a current report) is not queued again.
    let tags = [("reg.example/init:2".to_string(), d3.clone())].into();
    let reqs = scan_requests(&ctx.stores, "linux/amd64", &tags);
    assert!(
        reqs.iter().all(|r| r.key != "reg.example/init:2"),
        "{reqs:#?}"
    );
}

#[tokio::test]
async fn losing_the_lease_forgets_the_queue() {
    let (ctx, mut w, _server) = context();
    put(
        &mut w.pods,
        pod(
            "apps",
            "a",
            "reg.example/a:1",
            &format!("sha256:{}", "5".repeat(64)),
            None,
        ),
    );
    put(
        &mut w.pods,
        pod(
            "apps",
            "b",
            "reg.example/b:1",
            &format!("sha256:{}", "6".repeat(64)),
            None,
        ),
    );
    let queue = ScanQueue::default();
    let requests = scan_requests(&ctx.stores, "linux/amd64", &Default::default());
    assert_eq!(queue.offer(requests.clone()), 2);
    assert_eq!(queue.depth(), 2);
    queue.clear();
    assert_eq!(queue.depth(), 0);
    assert_eq!(
        queue.offer(requests),
        2,
        "the next holder (or this one, later) queues them again"
    );
}

#[tokio::test]
async fn an_index_digest_is_answered_per_platform() {
    let (ctx, mut w, _server) = context();
    let index = format!("sha256:{}", "7".repeat(64));
    let amd = format!("sha256:{}", "8".repeat(64));
    // The amd64 image of an index was scanned; pods report the index digest.
    put(
        &mut w.reports,
        json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsImageReport",
        "metadata": {"name": amd.replace(':', "-")}, "spec": {"digest": amd},
        "status": {"phase": "Scanned", "scannerVersion": fips_operator::image::SCANNER_VERSION,
                   "indexDigests": [index], "platform": "linux/amd64", "outcome": "compliant"}}),
    );
    for (node, arch) in [("amd", "amd64"), ("arm", "arm64")] {
        put(
            &mut w.nodes,
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
            "status": {"nodeInfo": {"architecture": arch, "operatingSystem": "linux", "bootID": "",
                "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "",
                "machineID": "", "osImage": "", "systemUUID": ""}}}),
        );
        let mut p = pod(
            "apps",
            &format!("on-{node}"),
            "reg.example/multi:1",
            &index,
            None,
        );
        p["spec"]["nodeName"] = node.into();
        put(&mut w.pods, p);
    }
    let reqs = scan_requests(&ctx.stores, "linux/amd64", &Default::default());
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_eq!(reqs[0].platform, "linux/arm64");
    assert_eq!(reqs[0].reference, format!("reg.example/multi@{index}"));
}
