use std::collections::HashMap;

use super::*;
use k8s_openapi::api::core::v1::{Container, EphemeralContainer};

struct Known(HashMap<&'static str, ImageKnowledge>);

impl ImageVerdicts for Known {
    fn lookup(&self, image: &str, policy: ImagePolicy) -> ImageKnowledge {
        // An in-process module: refused only by policies that do not accept them.
        if image == "reg/inprocess:1" {
            return if policy.accept_in_process {
                ImageKnowledge::Compliant
            } else {
                ImageKnowledge::NonCompliant {
                    reasons: vec!["usr/bin/app: module go-native v1.26.0 is in-process".into()],
                    details: "kubectl get fir sha256-ip -o yaml".into(),
                }
            };
        }
        self.0
            .get(image)
            .cloned()
            .unwrap_or(ImageKnowledge::NotJudged)
    }
}

fn known() -> Known {
    Known(HashMap::from([
        ("reg/good:1", ImageKnowledge::Compliant),
        (
            "reg/bad:1",
            ImageKnowledge::NonCompliant {
                reasons: vec!["usr/bin/legacy: Go standard crypto without a FIPS module".into()],
                details: "kubectl get fir sha256-bad -o yaml".into(),
            },
        ),
        (
            "reg/broken:1",
            ImageKnowledge::Unknown {
                why: "scan failed: registry said 401".into(),
                details: "kubectl get fir sha256-broken -o yaml".into(),
            },
        ),
    ]))
}

fn spec(mode: Mode) -> FipsPolicySpec {
    crate::policy::test_spec(mode)
}

#[derive(Clone, Copy)]
enum Slot {
    Init,
    Main,
    Ephemeral,
}

fn pod(image: &str, slot: Slot) -> PodSpec {
    let c = |name: &str, image: &str| Container {
        name: name.into(),
        image: Some(image.into()),
        ..Default::default()
    };
    let mut p = PodSpec {
        containers: vec![c("main", "reg/good:1")],
        ..Default::default()
    };
    match slot {
        Slot::Init => p.init_containers = Some(vec![c("setup", image)]),
        Slot::Main => p.containers.push(c("app", image)),
        Slot::Ephemeral => {
            p.ephemeral_containers = Some(vec![EphemeralContainer {
                name: "debug".into(),
                image: Some(image.into()),
                ..Default::default()
            }])
        }
    }
    p
}

fn run(
    policies: &[(&str, FipsPolicySpec)],
    ns: &str,
    spec: &PodSpec,
    nodes: &[NodeFacts],
) -> Decision {
    let named: Vec<NamedPolicy> = policies
        .iter()
        .map(|(n, s)| NamedPolicy { name: n, spec: s })
        .collect();
    let labels = BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())]);
    let ctx = Context {
        policies: &named,
        namespace_labels: &labels,
        operator_namespace: "fips-operator",
        nodes,
        no_verdict: NoVerdict::ScanRequested,
    };
    decide(
        Subject {
            kind: "Pod",
            namespace: ns,
            name: "p",
            spec,
            unreadable: None,
        },
        &ctx,
        &known(),
    )
}

#[test]
fn the_decision_table() {
    use Outcome::*;
    // (mode, image, expected outcome)
    let table = [
        (Mode::Enforce, "reg/good:1", Allowed),
        (Mode::Enforce, "reg/bad:1", Denied),
        (Mode::Enforce, "reg/broken:1", Denied),
        (Mode::Enforce, "reg/new:1", Denied),
        (Mode::Warn, "reg/good:1", Allowed),
        (Mode::Warn, "reg/bad:1", Warned),
        (Mode::Warn, "reg/broken:1", Warned),
        (Mode::Warn, "reg/new:1", Warned),
        (Mode::Audit, "reg/good:1", Allowed),
        (Mode::Audit, "reg/bad:1", Allowed),
        (Mode::Audit, "reg/new:1", Allowed),
    ];
    for slot in [Slot::Init, Slot::Main, Slot::Ephemeral] {
        for (mode, image, want) in table {
            let d = run(&[("p", spec(mode))], "apps", &pod(image, slot), &[]);
            assert_eq!(d.outcome, want, "{mode:?} {image}");
            match want {
                Denied => assert!(!d.messages.is_empty() && d.warnings.is_empty()),
                Warned => assert!(d.messages.is_empty() && !d.warnings.is_empty()),
                Allowed => assert!(d.messages.is_empty() && d.warnings.is_empty()),
            }
            if mode == Mode::Audit && image != "reg/good:1" {
                assert_eq!(d.audit.len(), 1, "{image}: audit annotation");
            }
            assert_eq!(
                d.scan,
                if image == "reg/new:1" {
                    vec![image.to_string()]
                } else {
                    vec![]
                }
            );
        }
    }
}

#[test]
fn a_denial_names_the_container_image_binaries_and_fix() {
    let d = run(
        &[("enforce", spec(Mode::Enforce))],
        "apps",
        &pod("reg/bad:1", Slot::Init),
        &[],
    );
    assert_eq!(d.messages.len(), 1);
    let m = &d.messages[0];
    for want in [
        "Pod apps/p",
        "init container \"setup\"",
        "image reg/bad:1 is not FIPS-capable",
        "usr/bin/legacy: Go standard crypto without a FIPS module",
        "fix: rebuild it",
        "kubectl get fir sha256-bad",
        "[FipsPolicy enforce]",
    ] {
        assert!(m.contains(want), "{want} missing from {m}");
    }
    let d = run(
        &[("enforce", spec(Mode::Enforce))],
        "apps",
        &pod("reg/new:1", Slot::Main),
        &[],
    );
    assert!(
        d.messages[0].contains("scan is in progress, retry shortly"),
        "{:?}",
        d.messages
    );
}

#[test]
fn unknown_action_overrides_the_mode_default() {
    let mut allow = spec(Mode::Enforce);
    allow.images.unknown_action = Some(UnknownAction::Allow);
    let d = run(&[("p", allow)], "apps", &pod("reg/new:1", Slot::Main), &[]);
    assert_eq!(d.outcome, Outcome::Allowed);
    assert_eq!(
        d.scan,
        vec!["reg/new:1".to_string()],
        "a scan is requested whatever the action"
    );
    let mut warn = spec(Mode::Enforce);
    warn.images.unknown_action = Some(UnknownAction::Warn);
    assert_eq!(
        run(&[("p", warn)], "apps", &pod("reg/new:1", Slot::Main), &[]).outcome,
        Outcome::Warned
    );
    let mut deny = spec(Mode::Warn);
    deny.images.unknown_action = Some(UnknownAction::Deny);
    // Warn mode never denies: the "deny" becomes a warning.
    assert_eq!(
        run(&[("p", deny)], "apps", &pod("reg/new:1", Slot::Main), &[]).outcome,
        Outcome::Warned
    );
}

#[test]
fn exemptions_namespaces_and_the_operator_itself() {
    let mut exempt = spec(Mode::Enforce);
    exempt.images.exempt = vec!["reg/bad".into()];
    assert_eq!(
        run(&[("p", exempt)], "apps", &pod("reg/bad:1", Slot::Main), &[]).outcome,
        Outcome::Allowed
    );
    let mut by_digest = spec(Mode::Enforce);
    by_digest.images.exempt = vec!["sha256:abc".into()];
    assert_eq!(
        run(
            &[("p", by_digest.clone())],
            "apps",
            &pod("reg/bad@sha256:abc", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Allowed
    );
    assert_eq!(
        run(
            &[("p", spec(Mode::Enforce))],
            "kube-system",
            &pod("reg/bad:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Allowed
    );
    assert_eq!(
        run(
            &[("p", spec(Mode::Enforce))],
            "fips-operator",
            &pod("reg/bad:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Allowed,
        "the operator never locks itself out"
    );
    let mut selective = spec(Mode::Enforce);
    selective.namespace_selector = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".into(),
                "payments".into(),
            )])),
            ..Default::default()
        },
    );
    assert_eq!(
        run(
            &[("p", selective.clone())],
            "apps",
            &pod("reg/bad:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Allowed
    );
    assert_eq!(
        run(
            &[("p", selective)],
            "payments",
            &pod("reg/bad:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Denied
    );
    assert_eq!(
        run(&[], "apps", &pod("reg/bad:1", Slot::Main), &[]).outcome,
        Outcome::Allowed,
        "no policy"
    );
}

#[test]
fn the_strictest_mode_wins_and_module_acceptance_is_per_policy() {
    let policies = [
        ("audit", spec(Mode::Audit)),
        ("warn", spec(Mode::Warn)),
        ("enforce", spec(Mode::Enforce)),
    ];
    let d = run(&policies, "apps", &pod("reg/bad:1", Slot::Main), &[]);
    assert_eq!(d.outcome, Outcome::Denied);
    assert_eq!(
        (d.messages.len(), d.warnings.len(), d.audit.len()),
        (1, 1, 1)
    );
    let mut strict = spec(Mode::Enforce);
    strict.images.accept_in_process_modules = false;
    assert_eq!(
        run(
            &[("p", spec(Mode::Enforce))],
            "apps",
            &pod("reg/inprocess:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Allowed
    );
    assert_eq!(
        run(
            &[("p", strict)],
            "apps",
            &pod("reg/inprocess:1", Slot::Main),
            &[]
        )
        .outcome,
        Outcome::Denied
    );
}

#[test]
fn pods_pinned_to_nodes_that_are_not_fips_are_refused() {
    let node = |name: &str, fips: Option<bool>, pool: &str| NodeFacts {
        name: name.into(),
        labels: BTreeMap::from([("pool".to_string(), pool.to_string())]),
        fips_enabled: fips,
        probe_not_running: false,
    };
    let nodes = [
        node("n1", Some(true), "fips"),
        node("n2", Some(false), "legacy"),
        node("n3", None, "legacy"),
    ];
    let mut pinned = pod("reg/good:1", Slot::Main);
    pinned.node_name = Some("n2".into());
    let d = run(&[("p", spec(Mode::Enforce))], "apps", &pinned, &nodes);
    assert_eq!(d.outcome, Outcome::Denied);
    assert!(
        d.messages[0].contains("pinned by nodeName to node n2"),
        "{:?}",
        d.messages
    );
    pinned.node_name = Some("n1".into());
    assert_eq!(
        run(&[("p", spec(Mode::Enforce))], "apps", &pinned, &nodes).outcome,
        Outcome::Allowed
    );
    let mut selected = pod("reg/good:1", Slot::Main);
    selected.node_selector = Some(BTreeMap::from([("pool".into(), "legacy".into())]));
    let d = run(&[("p", spec(Mode::Enforce))], "apps", &selected, &nodes);
    assert_eq!(d.outcome, Outcome::Denied);
    assert!(d.messages[0].contains("n2, n3"), "{:?}", d.messages);
    selected.node_selector = Some(BTreeMap::from([("pool".into(), "fips".into())]));
    assert_eq!(
        run(&[("p", spec(Mode::Enforce))], "apps", &selected, &nodes).outcome,
        Outcome::Allowed
    );
    // Nodes the policy does not require are not its business.
    let mut only_fips_pool = spec(Mode::Enforce);
    only_fips_pool.node_selector = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some(BTreeMap::from([("pool".into(), "fips".into())])),
            ..Default::default()
        },
    );
    pinned.node_name = Some("n2".into());
    assert_eq!(
        run(&[("p", only_fips_pool)], "apps", &pinned, &nodes).outcome,
        Outcome::Allowed
    );
}
