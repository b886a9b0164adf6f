//! Reviews as the API server sends them, answered without sockets.

use std::collections::{BTreeMap, HashMap};

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::server::route;
use super::*;
use crate::api::Mode;

struct Fixed(HashMap<&'static str, ImageKnowledge>);

impl ImageVerdicts for Fixed {
    fn lookup(&self, image: &str, _: ImagePolicy) -> ImageKnowledge {
        self.0
            .get(image)
            .cloned()
            .unwrap_or(ImageKnowledge::NotJudged)
    }
}

fn admission(mode: Mode) -> Admission {
    Admission {
        policies: vec![("p".into(), crate::policy::test_spec(mode))],
        verdicts: Box::new(Fixed(HashMap::from([
            ("reg/good:1", ImageKnowledge::Compliant),
            (
                "reg/bad:1",
                ImageKnowledge::NonCompliant {
                    reasons: vec!["usr/bin/app: Go standard crypto".into()],
                    details: "kubectl get fir sha256-bad -o yaml".into(),
                },
            ),
        ]))),
        nodes: Vec::new(),
        namespaces: BTreeMap::new(),
        operator_namespace: "fips-operator".into(),
        requested: Default::default(),
        tags: None,
    }
}

/// An AdmissionReview as the API server sends it.
fn review(kind: (&str, &str, &str), operation: &str, object: Value, dry_run: bool) -> Vec<u8> {
    let (group, version, k) = kind;
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": k},
            "resource": {"group": group, "version": version, "resource": format!("{}s", k.to_lowercase())},
            "requestKind": {"group": group, "version": version, "kind": k},
            "requestResource": {"group": group, "version": version, "resource": format!("{}s", k.to_lowercase())},
            "name": object["metadata"]["name"].as_str().unwrap_or("web"),
            "namespace": "apps",
            "operation": operation,
            "userInfo": {"username": "admin", "uid": "014fbff9a07c", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    }))
    .expect("json")
}

fn pod(image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "apps"},
           "spec": {"containers": [{"name": "app", "image": image}]}})
}

fn deployment(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
           "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

fn answer(a: &Admission, body: &[u8]) -> Value {
    let r = a.review(body).expect("a review");
    assert_eq!(r["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(r["kind"], "AdmissionReview");
    assert_eq!(r["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    r["response"].clone()
}

#[test]
fn pods_and_workload_templates_are_judged() {
    let a = admission(Mode::Enforce);
    let r = answer(
        &a,
        &review(("", "v1", "Pod"), "CREATE", pod("reg/bad:1"), false),
    );
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().expect("message");
    assert!(msg.contains("container \"app\" image reg/bad:1 is not FIPS-capable: usr/bin/app: Go standard crypto"), "{msg}");
    assert_eq!(r["status"]["code"], 403);
    let r = answer(
        &a,
        &review(
            ("apps", "v1", "Deployment"),
            "CREATE",
            deployment("reg/bad:1"),
            false,
        ),
    );
    assert_eq!(r["allowed"], false, "a Deployment fails fast");
    let r = answer(
        &a,
        &review(
            ("apps", "v1", "Deployment"),
            "UPDATE",
            deployment("reg/good:1"),
            false,
        ),
    );
    assert_eq!(r["allowed"], true);
    // Other kinds and deletions are allowed.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "reg/bad:1"}});
    assert_eq!(
        answer(&a, &review(("", "v1", "ConfigMap"), "CREATE", cm, false))["allowed"],
        true
    );
    let del = review(("", "v1", "Pod"), "DELETE", Value::Null, false);
    assert_eq!(answer(&a, &del)["allowed"], true);
}

#[test]
fn warn_mode_admits_with_warnings_and_unknown_images_request_scans() {
    let a = admission(Mode::Warn);
    let r = answer(
        &a,
        &review(("", "v1", "Pod"), "CREATE", pod("reg/bad:1"), false),
    );
    assert_eq!(r["allowed"], true);
    assert!(r["warnings"][0]
        .as_str()
        .expect("warning")
        .contains("not FIPS-capable"));
    let e = admission(Mode::Enforce);
    // dryRun: decided the same, but no side effect (no scan requested).
    let r = answer(
        &e,
        &review(("", "v1", "Pod"), "CREATE", pod("reg/new:1"), true),
    );
    assert_eq!(r["allowed"], false);
    assert!(e.requested.lock().expect("lock").is_empty());
    // ... and it does not tell the user to retry a scan nobody requested.
    let m = r["status"]["message"].as_str().expect("m");
    assert!(
        m.contains("dry run requests no scan") && !m.contains("retry"),
        "{m}"
    );
    let r = answer(
        &e,
        &review(("", "v1", "Pod"), "CREATE", pod("reg/new:1"), false),
    );
    assert!(r["status"]["message"]
        .as_str()
        .expect("m")
        .contains("retry shortly"));
    assert_eq!(
        *e.requested.lock().expect("lock"),
        vec!["reg/new:1".to_string()]
    );
    // Audit: admitted, with audit annotations.
    let au = admission(Mode::Audit);
    let r = answer(
        &au,
        &review(("", "v1", "Pod"), "CREATE", pod("reg/bad:1"), false),
    );
    assert_eq!(r["allowed"], true);
    assert!(
        r["auditAnnotations"]["1"]
            .as_str()
            .expect("annotation")
            .contains("not FIPS-capable"),
        "{r:#}"
    );
}

#[test]
fn malformed_reviews_are_400_and_routes_are_checked() {
    let a = admission(Mode::Enforce);
    for bad in [
        &b"not json"[..],
        b"{}",
        b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
        b"[1,2]",
    ] {
        let (status, _, body) = route(&Method::POST, "/validate", Ok(bad), Some(&a));
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert!(!body.is_empty());
    }
    assert_eq!(
        route(&Method::POST, "/validate", Err("too big"), Some(&a)).0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        route(&Method::GET, "/validate", Ok(b""), Some(&a)).0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        route(&Method::GET, "/nope", Ok(b""), Some(&a)).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        route(&Method::GET, "/ready", Ok(b""), Some(&a)).0,
        StatusCode::OK
    );
    let ok = review(("", "v1", "Pod"), "CREATE", pod("reg/good:1"), false);
    let (status, ct, body) = route(&Method::POST, "/validate", Ok(&ok), Some(&a));
    assert_eq!((status, ct), (StatusCode::OK, "application/json"));
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["response"]["allowed"], true);
    // Before the caches are synced: 503, so the API server's failurePolicy decides.
    assert_eq!(
        route(&Method::POST, "/validate", Ok(&ok), None).0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        route(&Method::GET, "/ready", Ok(b""), None).0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        route(&Method::GET, "/live", Ok(b""), None).0,
        StatusCode::OK
    );
}

/// With a tag resolver (a cluster replica), the decision is on `tag@digest`; a tag that could
/// not be pinned now is not compliant on older knowledge, and is asked for by digest.
#[test]
fn resolved_tags_are_decided_on_digests_and_unresolved_ones_are_not_compliant() {
    const D: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
    let mut a = admission(Mode::Enforce);
    a.tags = Some(std::sync::Arc::new(tags::TagResolver::new(
        std::sync::Arc::new(|_: &str| Err("unused".to_string())),
    )));
    let mut known = HashMap::from([
        ("reg/good:1", ImageKnowledge::Compliant),
        (
            "reg/good:1@sha256:4444444444444444444444444444444444444444444444444444444444444444",
            ImageKnowledge::NonCompliant {
                reasons: vec!["usr/bin/app: ring".into()],
                details: "kubectl get fir sha256-4444 -o yaml".into(),
            },
        ),
    ]);
    a.verdicts = Box::new(Fixed(std::mem::take(&mut known)));
    let body = review(("", "v1", "Pod"), "CREATE", pod("reg/good:1"), false);
    assert_eq!(a.tags_to_resolve(&body), vec!["reg/good:1".to_string()]);

    // The tag moved to a non-FIPS digest: denied, named by digest.
    let resolved = tags::Resolution {
        digests: HashMap::from([("reg/good:1".to_string(), D.to_string())]),
        unresolved: HashMap::new(),
    };
    let r = a.review_resolved(&body, &resolved).expect("review");
    let msg = r["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains(&format!("reg/good:1@{D} is not FIPS-capable")),
        "{msg}"
    );

    // Not resolvable now: the older "compliant" does not count; a scan is asked for.
    let unresolved = tags::Resolution {
        digests: HashMap::new(),
        unresolved: HashMap::from([("reg/good:1".to_string(), "timeout".to_string())]),
    };
    let r = a.review_resolved(&body, &unresolved).expect("review");
    assert_eq!(r["response"]["allowed"], false, "{r:#}");
    let msg = r["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("no FIPS verdict yet"), "{msg}");

    // Without a resolver (offline `admit`), the tag is judged by the reports that saw it.
    a.tags = None;
    assert!(a.tags_to_resolve(&body).is_empty());
    assert_eq!(answer(&a, &body)["allowed"], true);
}

fn update(old: Value, new: Value) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&review(("apps", "v1", "Deployment"), "UPDATE", new, false))
            .expect("json");
    body["request"]["oldObject"] = old;
    serde_json::to_vec(&body).expect("json")
}

/// An update judges only the images it brings, and an object being deleted is let go: the
/// webhook never keeps a running workload from being scaled, relabelled or cleaned up.
#[test]
fn updates_judge_only_new_images_and_deletions_pass() {
    let a = admission(Mode::Enforce);
    let mut relabelled = deployment("reg/bad:1");
    relabelled["metadata"]["labels"] = json!({"team": "a"});
    let r = answer(&a, &update(deployment("reg/bad:1"), relabelled));
    assert_eq!(r["allowed"], true, "{r:#}");

    // A new image in the update is judged.
    let mut two = deployment("reg/bad:1");
    two["spec"]["template"]["spec"]["initContainers"] =
        json!([{"name": "init", "image": "reg/new-bad:1"}]);
    let mut known = admission(Mode::Enforce);
    known.verdicts = Box::new(Fixed(HashMap::from([(
        "reg/new-bad:1",
        ImageKnowledge::NonCompliant {
            reasons: vec!["usr/bin/init: ring".into()],
            details: "kubectl get fir sha256-nb -o yaml".into(),
        },
    )])));
    let r = answer(&known, &update(deployment("reg/bad:1"), two.clone()));
    assert_eq!(r["allowed"], false, "{r:#}");
    let msg = r["status"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("init container \"init\" image reg/new-bad:1"),
        "{msg}"
    );
    assert!(
        !msg.contains("reg/bad:1 "),
        "the unchanged image is not judged: {msg}"
    );

    // Being deleted: let go, whatever it carries.
    two["metadata"]["deletionTimestamp"] = json!("2026-11-26T10:00:00Z");
    let r = answer(&known, &update(deployment("reg/bad:1"), two));
    assert_eq!(r["allowed"], true, "{r:#}");
}

/// A pod spec that does not decode is never let through unseen: denied under Enforce (with
/// the request's uid, which the API server requires of every answer), a warning under Warn.
#[test]
fn an_unreadable_pod_spec_is_judged_not_allowed_unseen() {
    let broken = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "apps"},
                        "spec": {"containers": "not a list"}});
    let r = answer(
        &admission(Mode::Enforce),
        &review(("", "v1", "Pod"), "CREATE", broken.clone(), false),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().expect("message");
    assert!(
        msg.contains("Pod spec is not a PodSpec") && msg.contains("cannot be judged"),
        "{msg}"
    );
    let r = answer(
        &admission(Mode::Warn),
        &review(("", "v1", "Pod"), "CREATE", broken, false),
    );
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("cannot be read")));
}
