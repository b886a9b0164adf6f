//! `fips-operator probe` against kube's mocked API service: a fixture host tree (a FIPS node
//! whose container runs a real Go FIPS binary), the pod list the API server would return,
//! and the exact writes — the FipsImageReport created from the container's root, and the
//! FipsStatus applied with its owner and facts.

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use fips_operator::image::ScanContext;
use fips_operator::inspect::{Day, ModuleRegistry};
use fips_operator::policy::ImagePolicy;
use fips_operator::probe::{Probe, ProbeSettings};
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use support::fixture;
use support::mock_api::{self, Seen};

const CONTAINER: &str = "3f1c0aa1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d";
const OTHER: &str = "9999999999999999999999999999999999999999999999999999999999999999";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

fn host(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("host");
    write(&root, "proc/sys/crypto/fips_enabled", b"1\n");
    write(&root, "proc/cmdline", b"ro fips=1\n");
    write(
        &root,
        "etc/os-release",
        b"PRETTY_NAME=\"Fixture Linux 9\"\n",
    );
    // Container 1 runs a certified Go FIPS binary; its root is a fixture root filesystem.
    let rootfs = dir.join("rootfs");
    write(
        &rootfs,
        "usr/bin/app",
        &std::fs::read(fixture("go127-fips-certified")).expect("fixture"),
    );
    std::fs::set_permissions(
        rootfs.join("usr/bin/app"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let p = root.join("proc/100");
    std::fs::create_dir_all(&p).expect("mkdir");
    symlink(rootfs.join("usr/bin/app"), p.join("exe")).expect("exe");
    symlink(&rootfs, p.join("root")).expect("root");
    std::fs::write(p.join("environ"), b"PATH=/usr/bin\0").expect("environ");
    std::fs::write(p.join("maps"), b"").expect("maps");
    std::fs::write(
        p.join("cgroup"),
        format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{CONTAINER}.scope\n"),
    )
    .expect("cgroup");
    root
}

fn pods(digest: &str, other_digest: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
        {"metadata": {"name": "web", "namespace": "apps"},
         "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "reg.example/web:1"}]},
         "status": {"containerStatuses": [{"name": "main", "image": "reg.example/web:1", "ready": true,
            "restartCount": 0, "imageID": format!("reg.example/web@{digest}"),
            "containerID": format!("containerd://{CONTAINER}")}]}},
        {"metadata": {"name": "gone", "namespace": "apps"},
         "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "reg.example/old:1"}]},
         "status": {"containerStatuses": [{"name": "main", "image": "reg.example/old:1", "ready": false,
            "restartCount": 0, "imageID": format!("reg.example/old@{other_digest}"),
            "containerID": format!("containerd://{OTHER}")}]}}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_judges_the_container_image_and_applies_the_node_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = host(dir.path());
    let digest = format!("sha256:{}", "a".repeat(64));
    let other = format!("sha256:{}", "b".repeat(64));
    let (client, mut server) = mock_api::client();
    let closed = support::free_addr();
    let ctx = ScanContext {
        registry: ModuleRegistry::built_in(),
        today: Day::parse(support::AS_OF).expect("day"),
        policy: ImagePolicy::default(),
    };
    let mut probe = Probe::new(
        ProbeSettings {
            node: "node-a".into(),
            host_root: root,
            interval: Duration::from_secs(300),
            jitter: 0.1,
            tls_endpoints: Vec::new(),
            // Audited because the node is labelled control-plane; nothing listens there.
            control_plane_endpoints: vec![closed.clone()],
            tls_every: Duration::from_secs(3600),
        },
        ctx,
    );
    let now: Timestamp = "2026-11-26T10:00:00Z".parse().expect("time");
    let list = pods(&digest, &other);
    let api = async {
        let mut seen: Vec<Seen> = Vec::new();
        loop {
            let s = server
                .respond(|s| {
                    if s.path == "/api/v1/pods" {
                        return (http::StatusCode::OK, list.clone());
                    }
                    if s.method == "GET" && s.path.contains("fipsimagereports") {
                        return (http::StatusCode::NOT_FOUND, json!({"kind": "Status", "apiVersion": "v1",
                            "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}));
                    }
                    if s.path == "/api/v1/nodes/node-a" {
                        return (http::StatusCode::OK, json!({"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": "node-a", "uid": "node-uid",
                                         "labels": {"node-role.kubernetes.io/control-plane": ""}}}));
                    }
                    let mut body = mock_api::echoed(s);
                    if body.get("spec").is_none() {
                        body["spec"] = if s.path.contains("fipsstatuses") { json!({"nodeName": "node-a"}) } else { json!({"digest": "x"}) };
                    }
                    (http::StatusCode::OK, body)
                })
                .await;
            let done = s.path.ends_with("/fipsstatuses/node-a/status");
            seen.push(s);
            if done {
                return seen;
            }
        }
    };
    let (status, seen) = tokio::join!(probe.pass(&client, now), api);
    let status = status.expect("pass");
    let paths: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let report_path = format!(
        "/apis/fips.operator.dev/v1alpha1/fipsimagereports/{}",
        digest.replace(':', "-")
    );
    assert_eq!(
        paths,
        vec![
            ("GET".into(), "/api/v1/nodes/node-a".into()),
            ("GET".into(), "/api/v1/pods".into()),
            ("GET".into(), report_path.clone()),
            // No report yet: created, never replacing one that landed meanwhile.
            (
                "POST".into(),
                "/apis/fips.operator.dev/v1alpha1/fipsimagereports".into()
            ),
            ("PATCH".into(), format!("{report_path}/status")),
            // The other container's process is not visible: its image is looked up, not scanned.
            (
                "GET".into(),
                format!(
                    "/apis/fips.operator.dev/v1alpha1/fipsimagereports/{}",
                    other.replace(':', "-")
                )
            ),
            (
                "PATCH".into(),
                "/apis/fips.operator.dev/v1alpha1/fipsstatuses/node-a".into()
            ),
            (
                "PATCH".into(),
                "/apis/fips.operator.dev/v1alpha1/fipsstatuses/node-a/status".into()
            ),
        ],
        "{seen:#?}"
    );
    assert_eq!(seen[1].query, "&fieldSelector=spec.nodeName%3Dnode-a");
    // The image report, from the running container's root.
    assert!(seen[3].query.contains("fieldManager=fips-operator-reports"));
    assert!(seen[4].query.contains("fieldManager=fips-operator-reports"));
    let report = &seen[4].body["status"];
    assert_eq!(report["phase"], "Scanned");
    // Marked as judged from a running container: the controller still scans the image.
    assert_eq!(
        report["scannerVersion"],
        format!(
            "{}+running-container",
            fips_operator::image::SCANNER_VERSION
        )
    );
    assert_eq!(report["outcome"], "compliant");
    assert_eq!(report["images"], json!(["reg.example/web:1"]));
    assert_eq!(
        report["fipsCapable"][0]["module"],
        "go-native v1.0.0-c2097c7c default-on"
    );
    // The FipsStatus: owned by its Node, server-side applied by the probe's field manager.
    let object = &seen[6].body;
    assert!(seen[6].query.contains("fieldManager=fips-operator-probe"));
    assert_eq!(
        object["metadata"]["ownerReferences"],
        json!([{"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "node-uid"}])
    );
    assert_eq!(object["spec"], json!({"nodeName": "node-a"}));
    let s = &seen[7].body["status"];
    assert_eq!(s["kernelFipsEnabled"], true);
    assert_eq!(s["cmdlineFips"], true);
    assert_eq!(s["os"], "Fixture Linux 9");
    assert_eq!(s["probeTime"], "2026-11-26T10:00:00Z");
    assert_eq!(
        s["summary"],
        json!({"containers": 2, "compliant": 1, "nonCompliant": 0, "unknown": 1})
    );
    let web = &s["containers"][1];
    assert_eq!(
        (
            web["pod"].as_str(),
            web["verdict"].as_str(),
            web["state"].as_str()
        ),
        (Some("web"), Some("fips-capable"), Some("fips-active"))
    );
    assert_eq!(web["imageDigest"], digest.as_str());
    // A container whose processes are not visible (and whose image nobody judged) is unknown.
    let gone = &s["containers"][0];
    assert_eq!(
        (gone["verdict"].as_str(), gone["state"].as_str()),
        (Some("unknown"), Some("unknown"))
    );
    let compliant = s["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Compliant")
        .expect("Compliant");
    // The control-plane node's API server endpoint could not be audited: not compliant.
    assert_eq!(compliant["status"], "False");
    assert_eq!(compliant["reason"], "TlsNotApproved");
    assert_eq!(s["tls"][0]["endpoint"], closed.as_str());
    assert_eq!(s["tls"][0]["outcome"], "non-compliant");
    assert!(
        s["tls"][0]["error"]
            .as_str()
            .expect("error")
            .contains("refused"),
        "{s:#}"
    );
    assert_eq!(status.summary.containers, 2);
}
