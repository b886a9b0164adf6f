use super::*;
use crate::api::Mode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

fn t(s: &str) -> Timestamp {
    s.parse().expect("time")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn spec(mode: Mode) -> FipsPolicySpec {
    crate::policy::test_spec(mode)
}

fn node(name: &str, fips: Option<bool>, l: &[(&str, &str)]) -> NodeFacts {
    NodeFacts {
        name: name.into(),
        labels: labels(l),
        fips_enabled: fips,
        probe_not_running: false,
    }
}

fn pod(ns: &str, name: &str, images: &[(&str, Option<&str>)]) -> PodFacts {
    PodFacts {
        namespace: ns.into(),
        name: name.into(),
        containers: images
            .iter()
            .enumerate()
            .map(|(i, (image, digest))| ContainerFacts {
                name: format!("c{i}"),
                image: image.to_string(),
                digest: digest.map(str::to_string),
            })
            .collect(),
    }
}

fn facts() -> ClusterFacts {
    let mut images = HashMap::new();
    images.insert("sha256:good".to_string(), ImageVerdict::Compliant);
    images.insert(
        "sha256:bad".to_string(),
        ImageVerdict::NonCompliant("usr/bin/app: crypto/sha256".into()),
    );
    images.insert(
        "registry.example/tagged:1".to_string(),
        ImageVerdict::Compliant,
    );
    ClusterFacts {
        nodes: vec![
            node("n1", Some(true), &[("role", "worker")]),
            node("n2", Some(false), &[("role", "worker")]),
            node("cp", None, &[("role", "control")]),
        ],
        namespaces: ["default", "kube-system", "fips-operator", "team"]
            .iter()
            .map(|n| NamespaceFacts {
                name: n.to_string(),
                labels: labels(&[("compliance", if *n == "team" { "fips" } else { "none" })]),
            })
            .collect(),
        pods: vec![
            pod(
                "default",
                "web",
                &[
                    ("registry.example/web:1", Some("sha256:good")),
                    ("registry.example/sidecar:2", Some("sha256:bad")),
                ],
            ),
            pod("default", "tagged", &[("registry.example/tagged:1", None)]),
            pod(
                "team",
                "new",
                &[("registry.example/new:1", Some("sha256:unscanned"))],
            ),
            pod(
                "kube-system",
                "dns",
                &[("registry.example/dns:1", Some("sha256:bad"))],
            ),
            pod(
                "fips-operator",
                "controller",
                &[("registry.example/op:1", Some("sha256:bad"))],
            ),
        ],
        images,
        operator_namespace: "fips-operator".into(),
        probe_hint: "namespace fips-operator enforces Pod Security level \"baseline\"".into(),
    }
}

const T0: &str = "2026-11-26T00:00:00Z";

#[test]
fn counts_nodes_workloads_and_exemptions() {
    let s = evaluate_policy(
        &spec(Mode::Enforce),
        &facts(),
        &FipsPolicyStatus::default(),
        Some(3),
        t(T0),
    );
    assert_eq!(
        s.nodes,
        NodeCounts {
            total: 3,
            fips_enabled: 1,
            summary: "1/3".into()
        }
    );
    // kube-system is excluded and the operator's namespace is always exempt.
    assert_eq!(
        s.workloads,
        WorkloadCounts {
            total: 4,
            compliant: 2,
            non_compliant: 1,
            unknown: 1
        }
    );
    assert_eq!(s.violation_count, 1);
    assert_eq!(s.violations[0].pod, "web");
    assert_eq!(s.violations[0].container, "c1");
    assert_eq!(s.observed_generation, Some(3));
    let cond = |ty: &str| {
        s.conditions
            .iter()
            .find(|c| c.type_ == ty)
            .map(|c| c.status.clone())
    };
    assert_eq!(cond("NodesCompliant").as_deref(), Some("False"));
    assert_eq!(cond("WorkloadsCompliant").as_deref(), Some("False"));
    assert_eq!(cond("Ready").as_deref(), Some("False"));
    assert_eq!(cond("Stalled").as_deref(), Some("False"));
}

#[test]
fn selectors_narrow_nodes_and_namespaces() {
    let mut p = spec(Mode::Warn);
    p.node_selector = Some(LabelSelector {
        match_labels: Some(labels(&[("role", "worker")])),
        ..Default::default()
    });
    p.namespace_selector = Some(LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "compliance".into(),
            operator: "In".into(),
            values: Some(vec!["fips".into()]),
        }]),
        ..Default::default()
    });
    let s = evaluate_policy(&p, &facts(), &FipsPolicyStatus::default(), None, t(T0));
    assert_eq!(s.nodes.summary, "1/2");
    assert_eq!(
        s.workloads,
        WorkloadCounts {
            total: 1,
            compliant: 0,
            non_compliant: 0,
            unknown: 1
        }
    );
    let ready = s
        .conditions
        .iter()
        .find(|c| c.type_ == "WorkloadsCompliant")
        .expect("condition");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("Unknown", "ImagesNotJudged")
    );
}

#[test]
fn image_exemptions_by_glob_and_digest() {
    assert!(image_exempt(
        &["registry.example/web*".into()],
        "registry.example/web:1",
        None
    ));
    assert!(image_exempt(
        &["sha256:bad".into()],
        "x/y:1",
        Some("sha256:bad")
    ));
    assert!(!image_exempt(
        &["registry.example/web".into()],
        "registry.example/webapp:1",
        None
    ));
    let mut p = spec(Mode::Enforce);
    p.images.exempt = vec!["registry.example/sidecar".into()];
    let s = evaluate_policy(&p, &facts(), &FipsPolicyStatus::default(), None, t(T0));
    assert_eq!(s.workloads.non_compliant, 0);
}

#[test]
fn violations_are_capped_keep_their_time_and_list_the_newest_first() {
    let bad_pods = |n: usize| {
        (0..n).map(|i| {
            pod(
                "default",
                &format!("p{i:02}"),
                &[("registry.example/bad:1", Some("sha256:bad"))],
            )
        })
    };
    let mut f = facts();
    f.pods = bad_pods(30).collect();
    let many = evaluate_policy(
        &spec(Mode::Enforce),
        &f,
        &FipsPolicyStatus::default(),
        None,
        t(T0),
    );
    assert_eq!(many.violation_count, 30, "the count is complete");
    assert_eq!(many.violations.len(), MAX_VIOLATIONS, "the list is capped");

    f.pods = bad_pods(10).collect();
    let first = evaluate_policy(
        &spec(Mode::Enforce),
        &f,
        &FipsPolicyStatus::default(),
        None,
        t(T0),
    );
    f.pods.push(pod(
        "default",
        "zz-new",
        &[("registry.example/bad:1", Some("sha256:bad"))],
    ));
    let later = evaluate_policy(
        &spec(Mode::Enforce),
        &f,
        &first,
        None,
        t("2026-11-26T01:00:00Z"),
    );
    assert_eq!(later.violations[0].pod, "zz-new", "newest first");
    assert_eq!(later.violations[0].since, "2026-11-26T01:00:00Z");
    assert!(
        later.violations[1..].iter().all(|v| v.since == T0),
        "older ones keep their time"
    );
}

#[test]
fn conditions_keep_transition_times_across_evaluations() {
    let mut f = facts();
    f.nodes.retain(|n| n.fips_enabled == Some(true));
    f.pods.retain(|p| p.name == "tagged");
    let first = evaluate_policy(
        &spec(Mode::Audit),
        &f,
        &FipsPolicyStatus::default(),
        Some(1),
        t(T0),
    );
    let ready = |s: &FipsPolicyStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .cloned()
            .expect("ready")
    };
    assert_eq!(ready(&first).status, "True");
    let again = evaluate_policy(
        &spec(Mode::Audit),
        &f,
        &first,
        Some(1),
        t("2026-11-26T05:00:00Z"),
    );
    assert_eq!(
        ready(&again).last_transition_time,
        ready(&first).last_transition_time
    );
    f.nodes[0].fips_enabled = Some(false);
    let broken = evaluate_policy(
        &spec(Mode::Audit),
        &f,
        &again,
        Some(1),
        t("2026-11-26T06:00:00Z"),
    );
    assert_eq!(ready(&broken).status, "False");
    assert_eq!(ready(&broken).reason, "NodesNotFips");
    assert_ne!(
        ready(&broken).last_transition_time,
        ready(&first).last_transition_time
    );
}

#[test]
fn an_unknown_selector_operator_selects_nothing() {
    let sel = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "a".into(),
            operator: "Like".into(),
            values: None,
        }]),
        ..Default::default()
    };
    assert!(!selector_matches(Some(&sel), &labels(&[("a", "b")])));
    assert!(selector_matches(None, &labels(&[])));
}

#[test]
fn a_policy_that_selects_nothing_is_not_ready() {
    let now = t("2026-11-26T10:00:00Z");
    let cond = |s: &FipsPolicyStatus, kind: &str| {
        s.conditions
            .iter()
            .find(|c| c.type_ == kind)
            .cloned()
            .expect("condition")
    };
    // A selector with a typo: no node, and no namespace, is selected.
    let mut typo = spec(Mode::Enforce);
    typo.node_selector = Some(LabelSelector {
        match_labels: Some(labels(&[("rol", "worker")])),
        ..Default::default()
    });
    typo.namespace_selector = Some(LabelSelector {
        match_labels: Some(labels(&[("compliance", "fisp")])),
        ..Default::default()
    });
    let s = evaluate_policy(&typo, &facts(), &FipsPolicyStatus::default(), Some(1), now);
    assert_eq!(s.nodes.summary, "0/0");
    assert_eq!(cond(&s, "NodesCompliant").status, "Unknown");
    assert_eq!(cond(&s, "NodesCompliant").reason, "NoNodesSelected");
    assert_eq!(cond(&s, "WorkloadsCompliant").status, "Unknown");
    assert_eq!(
        cond(&s, "WorkloadsCompliant").reason,
        "NoNamespacesSelected"
    );
    assert_eq!(cond(&s, "Ready").status, "False");
}

#[test]
fn reconciling_while_images_wait_for_a_verdict() {
    let now = t("2026-11-26T10:00:00Z");
    let mut f = facts();
    f.nodes.retain(|n| n.fips_enabled == Some(true));
    f.pods = vec![pod("team", "new", &[("registry.example/new:1", None)])];
    let s = evaluate_policy(
        &spec(Mode::Warn),
        &f,
        &FipsPolicyStatus::default(),
        Some(1),
        now,
    );
    let rec = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Reconciling")
        .expect("Reconciling");
    assert_eq!(
        (rec.status.as_str(), rec.reason.as_str()),
        ("True", "ScansPending")
    );
    f.pods = vec![pod(
        "team",
        "old",
        &[("registry.example/web:1", Some("sha256:good"))],
    )];
    let s = evaluate_policy(&spec(Mode::Warn), &f, &s, Some(1), now);
    let rec = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Reconciling")
        .expect("Reconciling");
    assert_eq!(rec.status, "False");
    assert_eq!(
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .expect("Ready")
            .status,
        "True"
    );
}

#[test]
fn a_node_without_a_running_probe_is_reported_not_judged() {
    let mut f = facts();
    f.nodes = vec![
        node("n1", Some(true), &[]),
        NodeFacts {
            probe_not_running: true,
            ..node("n2", None, &[])
        },
    ];
    let condition = |f: &ClusterFacts| {
        let status = evaluate_policy(&spec(Mode::Audit), f, &Default::default(), Some(1), t(T0));
        status
            .conditions
            .into_iter()
            .find(|c| c.type_ == crate::api::condition::NODES_COMPLIANT)
            .expect("NodesCompliant")
    };
    let c = condition(&f);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("Unknown", "ProbeNotRunning")
    );
    assert_eq!(
        c.message,
        "the probe is not running on node n2, so it is not judged: namespace fips-operator \
         enforces Pod Security level \"baseline\""
    );
    // A node proven not FIPS still makes the condition False, and the unprobed one is named.
    f.nodes.push(node("n3", Some(false), &[]));
    let c = condition(&f);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "NodesNotFips")
    );
    assert!(
        c.message.starts_with(
            "1 of 3 selected nodes are not in FIPS mode; the probe is not running on node n2"
        ),
        "{}",
        c.message
    );
}
