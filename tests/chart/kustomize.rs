//! config/default, rendered by `kubectl kustomize`, against the chart's default render.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::render::{check_typed, first_difference, render, venv_tool, yaml_docs, NS};
use crate::support::repo;

/// Labels only a Helm release carries; config/ leaves them out.
const HELM_ONLY_LABELS: [&str; 2] = ["helm.sh/chart", "app.kubernetes.io/managed-by"];

fn strip_helm_labels(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(labels)) = map.get_mut("labels") {
                for key in HELM_ONLY_LABELS {
                    labels.remove(key);
                }
            }
            map.values_mut().for_each(strip_helm_labels);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_helm_labels),
        _ => {}
    }
}

fn by_identity(docs: Vec<Value>) -> BTreeMap<String, Value> {
    docs.into_iter()
        .map(|d| {
            let key = format!(
                "{} {} {}/{}",
                d["apiVersion"],
                d["kind"],
                d["metadata"]["namespace"].as_str().unwrap_or("-"),
                d["metadata"]["name"]
            );
            (key, d)
        })
        .collect()
}

#[test]
fn kustomize_default_renders_the_charts_defaults() {
    let out = Command::new(venv_tool("kubectl"))
        .args([
            "kustomize",
            &repo().join("config/default").to_string_lossy(),
        ])
        .output()
        .expect("run kubectl kustomize");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl kustomize config/default: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut kustomized = yaml_docs(&stdout, "kubectl kustomize config/default");
    kustomized.iter().for_each(check_typed);
    // kubectl's kustomize does not know the admission policy kinds as cluster-scoped and gives
    // them the namespace; the API server drops the namespace of a cluster-scoped object (the
    // real server applies config/default in tests/control_plane.rs).
    for d in &mut kustomized {
        let kind = d["kind"].as_str().unwrap_or_default();
        if kind.starts_with("ValidatingAdmissionPolicy") {
            if let Some(meta) = d["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
        }
    }
    let ns = kustomized
        .iter()
        .position(|d| d["kind"] == "Namespace")
        .expect("config/default creates the Namespace");
    assert_eq!(kustomized.remove(ns)["metadata"]["name"], NS);

    let mut chart = render(&["--include-crds"]);
    chart.iter_mut().for_each(strip_helm_labels);
    let (kustomized, chart) = (by_identity(kustomized), by_identity(chart));
    assert_eq!(
        kustomized.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "config/default and the chart's defaults render different objects"
    );
    let stale = "config/ is stale: run scripts/render-chart.py --write-config config";
    for (key, k) in &kustomized {
        if let Some(diff) = first_difference(&chart[key], k, "") {
            panic!("{key}: {diff}\n{stale}");
        }
    }
    // Spelled out: the controller's arguments, the webhook and the RBAC rules are the chart's.
    let pick = |m: &BTreeMap<String, Value>, kind: &str, name: &str| -> Value {
        m.values()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .cloned()
            .expect(name)
    };
    let deployment = |m| {
        pick(m, "Deployment", "fips-operator-controller")["spec"]["template"]["spec"]["containers"]
            [0]["args"]
            .clone()
    };
    assert!(deployment(&kustomized)
        .as_array()
        .is_some_and(|a| a.contains(&"--self-managed-certs".into())));
    assert_eq!(deployment(&kustomized), deployment(&chart));
    let hooks = |m| pick(m, "ValidatingWebhookConfiguration", "fips-operator")["webhooks"].clone();
    assert_eq!(hooks(&kustomized), hooks(&chart));
    for (kind, name) in [
        ("ClusterRole", "fips-operator-controller"),
        ("ClusterRole", "fips-operator-probe"),
        ("Role", "fips-operator-controller"),
    ] {
        assert_eq!(
            pick(&kustomized, kind, name)["rules"],
            pick(&chart, kind, name)["rules"],
            "{kind} {name}"
        );
    }
}
