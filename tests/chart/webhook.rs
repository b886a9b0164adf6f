//! The ValidatingWebhookConfiguration and the two certificate modes.

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingWebhook, ValidatingWebhookConfiguration,
};

use serde_json::Value;

use crate::rbac::{allows, grants_of};
use crate::render::{find, render, typed, NS};
use crate::{args, controller, flag};

/// The configuration and its two webhooks: Enforce namespaces, then Warn and Audit ones.
fn webhook(docs: &[Value]) -> (ValidatingWebhookConfiguration, ValidatingWebhook) {
    let (vwc, hooks) = webhooks(docs);
    (vwc, hooks[0].clone())
}

fn webhooks(docs: &[Value]) -> (ValidatingWebhookConfiguration, Vec<ValidatingWebhook>) {
    let vwc: ValidatingWebhookConfiguration = typed(find(
        docs,
        "ValidatingWebhookConfiguration",
        "fips-operator",
    ));
    let hooks = vwc.webhooks.clone().expect("webhooks");
    assert_eq!(hooks.len(), 2, "two webhooks");
    let (_, c) = controller(docs);
    let label = flag(&c, "--admission-label").expect("--admission-label");
    assert_eq!(
        flag(&c, "--webhook-config").as_deref(),
        Some("fips-operator")
    );
    for (hook, modes) in hooks.iter().zip([&["enforce"][..], &["warn", "audit"][..]]) {
        let routed = routing(hook);
        assert_eq!(
            routed.0, label,
            "{}: selects on the controller's label",
            hook.name
        );
        assert_eq!(routed.1, modes, "{}", hook.name);
        // CREATE always; an UPDATE when its pod spec changes (the API server evaluates it in
        // tests/control_plane.rs).
        let conditions = hook.match_conditions.as_deref().expect("matchConditions");
        assert_eq!(conditions.len(), 1);
        let cel = &conditions[0].expression;
        assert!(cel.starts_with("request.operation != 'UPDATE' ||"), "{cel}");
        for field in [
            "object.spec != oldObject.spec",
            "object.spec.jobTemplate.spec.template.spec",
            "object.spec.template.spec != oldObject.spec.template.spec",
        ] {
            assert!(cel.contains(field), "{cel} lacks {field}");
        }
    }
    assert_eq!(hooks[1].failure_policy.as_deref(), Some("Ignore"));
    (vwc, hooks)
}

/// The label key and values a webhook selects namespaces on.
fn routing(hook: &ValidatingWebhook) -> (String, Vec<String>) {
    let sel = hook.namespace_selector.as_ref().expect("namespaceSelector");
    let exprs = sel.match_expressions.as_ref().expect("matchExpressions");
    let e = exprs
        .iter()
        .find(|e| e.operator == "In")
        .expect("an In requirement");
    (e.key.clone(), e.values.clone().expect("values"))
}

fn exempt_namespaces(hook: &ValidatingWebhook) -> Vec<String> {
    let sel = hook.namespace_selector.as_ref().expect("namespaceSelector");
    let exprs = sel.match_expressions.as_ref().expect("matchExpressions");
    assert_eq!(exprs.len(), 2);
    let e = exprs
        .iter()
        .find(|e| e.key == "kubernetes.io/metadata.name")
        .expect("exemptions by name");
    assert_eq!(e.operator, "NotIn");
    e.values.clone().expect("values")
}

#[test]
fn default_webhook_fails_closed_but_never_sees_the_system_namespaces() {
    let docs = render(&[]);
    let (vwc, hook) = webhook(&docs);
    assert!(
        vwc.metadata.annotations.is_none(),
        "no cert-manager CA injection"
    );
    let svc = hook.client_config.service.as_ref().expect("service");
    assert_eq!(
        (svc.name.as_str(), svc.namespace.as_str()),
        ("fips-operator-webhook", NS)
    );
    assert_eq!(
        (svc.path.as_deref(), svc.port),
        (Some("/validate"), Some(443))
    );
    assert!(
        hook.client_config.ca_bundle.is_none(),
        "the controller writes the caBundle"
    );
    assert!(hook.client_config.url.is_none());
    assert_eq!(hook.admission_review_versions, ["v1"]);
    assert_eq!(hook.side_effects, "NoneOnDryRun");
    assert_eq!(hook.timeout_seconds, Some(5));
    assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(hook.match_policy.as_deref(), Some("Equivalent"));
    let exempt: BTreeSet<String> = exempt_namespaces(&hook).into_iter().collect();
    let wanted = [NS, "kube-system", "kube-node-lease"];
    assert_eq!(exempt, wanted.iter().map(|s| s.to_string()).collect());
    let (_, hooks) = webhooks(&docs);
    assert_eq!(exempt_namespaces(&hooks[1]), exempt_namespaces(&hook));
    assert_eq!(hooks[1].rules, hook.rules);

    let mut covered = BTreeSet::new();
    for rule in hook.rules.iter().flatten() {
        assert_eq!(rule.api_versions.as_deref(), Some(&["v1".to_string()][..]));
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for op in rule.operations.iter().flatten() {
                    covered.insert(format!("{group}/{resource}:{op}"));
                }
            }
        }
    }
    let mut wanted = BTreeSet::from(["/pods/ephemeralcontainers:UPDATE".to_string()]);
    for (group, resources) in [
        ("", &["pods"][..]),
        (
            "apps",
            &["deployments", "statefulsets", "daemonsets", "replicasets"][..],
        ),
        ("batch", &["jobs", "cronjobs"][..]),
    ] {
        for r in resources {
            for op in ["CREATE", "UPDATE"] {
                wanted.insert(format!("{group}/{r}:{op}"));
            }
        }
    }
    assert_eq!(
        covered, wanted,
        "pods, their ephemeral containers and the six workload kinds"
    );
}

#[test]
fn failure_policy_ignore_and_more_exempt_namespaces() {
    let docs = render(&[
        "--set",
        "webhook.failurePolicy=Ignore",
        "--set",
        "webhook.exemptNamespaces={gatekeeper-system,istio-system}",
    ]);
    let (_, hook) = webhook(&docs);
    assert_eq!(hook.failure_policy.as_deref(), Some("Ignore"));
    let exempt: BTreeSet<String> = exempt_namespaces(&hook).into_iter().collect();
    let wanted = [
        NS,
        "kube-system",
        "kube-node-lease",
        "gatekeeper-system",
        "istio-system",
    ];
    assert_eq!(exempt, wanted.iter().map(|s| s.to_string()).collect());
}

#[test]
fn cert_manager_mode_mounts_its_certificate_and_injects_its_ca() {
    let docs = render(&["--set", "webhook.certificates.mode=certManager"]);
    let cert = find(&docs, "Certificate", "fips-operator-webhook");
    let spec = &cert["spec"];
    assert_eq!(spec["privateKey"]["algorithm"], "ECDSA");
    assert_eq!(spec["privateKey"]["size"], 256);
    let dns: Vec<&str> = spec["dnsNames"]
        .as_array()
        .expect("dnsNames")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    assert_eq!(
        dns,
        [
            "fips-operator-webhook.fips-operator.svc",
            "fips-operator-webhook.fips-operator.svc.cluster.local",
        ]
    );
    let issuer = find(
        &docs,
        "Issuer",
        spec["issuerRef"]["name"].as_str().expect("issuer"),
    );
    assert!(issuer["spec"]["selfSigned"].is_object());
    assert_eq!(spec["issuerRef"]["kind"], "Issuer");

    let (d, c) = controller(&docs);
    let pod = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod");
    let secret = spec["secretName"].as_str().expect("secretName");
    let vol = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some(secret))
        })
        .expect("the Certificate's Secret as a volume");
    let mount = c
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == vol.name)
        .expect("mount");
    assert_eq!(mount.mount_path, "/etc/fips-operator/tls");
    assert_eq!(mount.read_only, Some(true));
    assert_eq!(
        flag(&c, "--tls-cert").as_deref(),
        Some("/etc/fips-operator/tls/tls.crt")
    );
    assert_eq!(
        flag(&c, "--tls-key").as_deref(),
        Some("/etc/fips-operator/tls/tls.key")
    );
    assert!(!args(&c).contains(&"--self-managed-certs".into()));
    assert_eq!(flag(&c, "--cert-secret"), None);

    let (vwc, hook) = webhook(&docs);
    let annotations = vwc.metadata.annotations.expect("annotations");
    assert_eq!(
        annotations["cert-manager.io/inject-ca-from"],
        "fips-operator/fips-operator-webhook"
    );
    assert!(hook.client_config.ca_bundle.is_none());
    // cert-manager's own pods must start for the certificate to exist.
    assert!(exempt_namespaces(&hook).contains(&"cert-manager".into()));
    // cert-manager writes the Secret and the caBundle: the controller needs neither.
    let grants = grants_of(&docs, "fips-operator-controller");
    assert!(!allows(&grants, Some(NS), ("", "secrets"), "create", None));
    let vwc_res = (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    );
    assert!(!allows(
        &grants,
        None,
        vwc_res,
        "patch",
        Some("fips-operator")
    ));

    // An existing issuer instead of the self-signed one.
    let docs = render(&[
        "--set",
        "webhook.certificates.mode=certManager",
        "--set",
        "webhook.certificates.certManager.issuerRef.name=corp-ca",
        "--set",
        "webhook.certificates.certManager.issuerRef.kind=ClusterIssuer",
    ]);
    assert!(!docs.iter().any(|d| d["kind"] == "Issuer"));
    let cert = find(&docs, "Certificate", "fips-operator-webhook");
    assert_eq!(
        cert["spec"]["issuerRef"],
        serde_json::json!({"name": "corp-ca", "kind": "ClusterIssuer"})
    );
}
