//! `fips-operator admit`: manifests evaluated offline against a policy and report files, with
//! the webhook's messages and the exit codes of docs/verdicts.md.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{fips_operator, AS_OF};

const GOOD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const BAD: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const PENDING: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const INPROC: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

fn reports(dir: &Path) -> String {
    // As `kubectl get fir -o yaml` prints them: one List.
    write(
        dir,
        "reports/all.yaml",
        &format!(
            r#"apiVersion: v1
kind: List
items:
- apiVersion: fips.operator.dev/v1alpha1
  kind: FipsImageReport
  metadata: {{name: sha256-1111}}
  spec: {{digest: "{GOOD}"}}
  status:
    phase: Scanned
    outcome: compliant
    scannerVersion: "0.1.0"
    images: ["reg.example/good:1"]
    fipsCapable:
    - {{path: usr/bin/app, verdict: fips-capable, module: "go-native v1.0.0-c2097c7c default-on"}}
- apiVersion: fips.operator.dev/v1alpha1
  kind: FipsImageReport
  metadata: {{name: sha256-2222}}
  spec: {{digest: "{BAD}"}}
  status:
    phase: Scanned
    outcome: non-compliant
    scannerVersion: "0.1.0"
    images: ["reg.example/legacy:2"]
    reasons: ["usr/bin/legacy: pclntab crypto/sha256.block (Go standard crypto, no FIPS module)"]
- apiVersion: fips.operator.dev/v1alpha1
  kind: FipsImageReport
  metadata: {{name: sha256-3333}}
  spec: {{digest: "{PENDING}"}}
  status: {{phase: Pending, images: ["reg.example/new:1"]}}
- apiVersion: fips.operator.dev/v1alpha1
  kind: FipsImageReport
  metadata: {{name: sha256-4444}}
  spec: {{digest: "{INPROC}"}}
  status:
    phase: Scanned
    outcome: compliant
    scannerVersion: "0.1.0"
    fipsCapable:
    - {{path: usr/bin/preview, verdict: fips-capable, module: "go-native v1.26.0 default-on"}}
"#
        ),
    );
    dir.join("reports").to_string_lossy().into_owned()
}

fn policy(dir: &Path, mode: &str, extra: &str) -> String {
    write(dir, &format!("policy-{mode}.yaml"), &format!(
        "apiVersion: fips.operator.dev/v1alpha1\nkind: FipsPolicy\nmetadata: {{name: {}}}\nspec:\n  mode: {mode}\n{extra}",
        mode.to_lowercase()
    ))
}

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {compliance: fips}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: [{name: migrate, image: "reg.example/legacy@GOODBAD"}]
      containers: [{name: web, image: "reg.example/good:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: apps}
spec:
  containers: [{name: app, image: "reg.example/app@GOOD"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: apps}
spec:
  schedule: "@daily"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: job, image: "reg.example/new:1"}]}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: system, namespace: kube-system}
spec:
  containers: [{name: app, image: "reg.example/legacy:2"}]
"#;

fn manifests(dir: &Path) -> String {
    write(
        dir,
        "manifests.yaml",
        &MANIFESTS.replace("GOODBAD", BAD).replace("GOOD", GOOD),
    )
}

fn admit(args: &[&str]) -> (support::Run, Value) {
    let mut all = vec!["admit", "-o", "json", "--as-of", AS_OF];
    all.extend_from_slice(args);
    let run = fips_operator(&all);
    let json = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run, json)
}

fn result<'a>(r: &'a Value, kind: &str, name: &str) -> &'a Value {
    r.as_array()
        .expect("array")
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {r:#}"))
}

#[test]
fn enforce_denies_with_the_offending_binary_and_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let (p, rep, m) = (
        policy(dir.path(), "Enforce", ""),
        reports(dir.path()),
        manifests(dir.path()),
    );
    let (run, r) = admit(&["--policy", &p, "--reports", &rep, &m]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        r.as_array().expect("array").len(),
        4,
        "Pods and workload templates only: {r:#}"
    );
    let web = result(&r, "Deployment", "web");
    assert_eq!(web["decision"], "denied");
    assert_eq!(web["namespace"], "apps");
    let m = web["messages"][0].as_str().expect("message");
    for want in [
        "init container \"migrate\"",
        "is not FIPS-capable",
        "usr/bin/legacy: pclntab crypto/sha256.block",
        "fix: rebuild",
        "kubectl get fir sha256-2222",
    ] {
        assert!(m.contains(want), "{want} missing from {m}");
    }
    assert_eq!(result(&r, "Pod", "ok")["decision"], "allowed");
    let nightly = result(&r, "CronJob", "nightly");
    assert_eq!(
        nightly["decision"], "denied",
        "a pending image is denied under Enforce"
    );
    // Offline, nothing will scan it: say what gives it a verdict, not "retry shortly".
    let m = nightly["messages"][0].as_str().expect("m");
    assert!(
        m.contains("no verdict for this image: pass --scan, or a report") && !m.contains("retry"),
        "{m}"
    );
    let system = result(&r, "Pod", "system");
    assert_eq!(system["decision"], "allowed", "kube-system is excluded");
    assert_eq!(
        system["notes"][0],
        "not selected by FipsPolicy enforce: namespace kube-system is in its excludedNamespaces"
    );
}

/// An Enforce policy that does not select the namespace admits, and says why.
#[test]
fn a_namespace_the_policy_does_not_select_is_admitted_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(
        dir.path(),
        "Enforce",
        "  namespaceSelector: {matchLabels: {compliance: fips}}\n",
    );
    let pod = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec:\n  containers: [{name: app, image: \"reg.example/legacy:2\"}]\n",
    );
    let run = fips_operator(&["admit", "--as-of", AS_OF, "--policy", &p, &pod]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "ALLOWED  Pod team/web\n  note: not selected by FipsPolicy enforce: the labels of \
             namespace team do not match its namespaceSelector"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn warn_and_audit_admit_with_warnings_and_strict_module_acceptance() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rep, m) = (reports(dir.path()), manifests(dir.path()));
    let (run, r) = admit(&[
        "--policy",
        &policy(dir.path(), "Warn", ""),
        "--reports",
        &rep,
        &m,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let web = result(&r, "Deployment", "web");
    assert_eq!(web["decision"], "warned");
    assert!(web["warnings"][0]
        .as_str()
        .expect("w")
        .contains("not FIPS-capable"));
    let (run, r) = admit(&[
        "--policy",
        &policy(dir.path(), "Audit", ""),
        "--reports",
        &rep,
        &m,
    ]);
    assert_eq!(run.code, 0);
    assert_eq!(result(&r, "Deployment", "web")["decision"], "allowed");

    // An in-process module: admitted by default, denied by a policy that refuses them.
    let pod = write(
        dir.path(),
        "preview.json",
        &format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "preview", "namespace": "apps"}},
            "spec": {{"containers": [{{"name": "app", "image": "reg.example/preview@{INPROC}"}}]}}}}"#
        ),
    );
    let (run, _) = admit(&[
        "--policy",
        &policy(dir.path(), "Enforce", ""),
        "--reports",
        &rep,
        &pod,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let strict = policy(
        dir.path(),
        "Enforce",
        "  images: {acceptInProcessModules: false}\n",
    );
    let (run, r) = admit(&["--policy", &strict, "--reports", &rep, &pod]);
    assert_eq!(run.code, 1);
    assert!(
        r[0]["messages"][0]
            .as_str()
            .expect("m")
            .contains("in-process"),
        "{r:#}"
    );

    // The table for people.
    let run = fips_operator(&[
        "admit",
        "--as-of",
        AS_OF,
        "--policy",
        &strict,
        "--reports",
        &rep,
        &m,
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("DENIED   Deployment apps/web"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = policy(dir.path(), "Enforce", "");
    let broken = write(dir.path(), "broken.yaml", "kind: [unclosed");
    let run = fips_operator(&["admit", "--policy", &p, &broken]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.yaml"), "{}", run.stderr);
    let run = fips_operator(&["admit", "--policy", &broken, &broken]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a FipsPolicy"), "{}", run.stderr);
}

#[test]
fn scan_judges_the_images_from_their_registry() {
    use support::oci::{file, tar_layer, Image, Layout, Registry};
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    let layer = |name: &str| {
        tar_layer(&[file(
            "usr/bin/app",
            std::fs::read(support::fixture(name)).expect("fixture"),
            0o755,
        )])
    };
    layout.tag("good", &Image::new(vec![layer("go127-fips-certified")]));
    layout.tag("bad", &Image::new(vec![layer("go119-std")]));
    let registry = Registry::start(None);
    let good = registry.push(&layout, "good", "team/app", None);
    let bad = registry.push(&layout, "bad", "team/legacy", None);
    let gone = format!("{}/team/gone:1", registry.addr);
    let manifests = write(dir.path(), "deploy.yaml", &format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: apps}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: web, image: \"{good}\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: legacy, namespace: apps}}\nspec:\n  containers:\n  - {{name: app, image: \"{bad}\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: gone, namespace: apps}}\nspec:\n  containers:\n  - {{name: app, image: \"{gone}\"}}\n"));
    let p = policy(dir.path(), "Enforce", "");
    let (run, r) = admit(&["--policy", &p, "--scan", "--no-cache", &manifests]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        result(&r, "Deployment", "web")["decision"],
        "allowed",
        "{r:#}"
    );
    let legacy = result(&r, "Pod", "legacy");
    assert_eq!(legacy["decision"], "denied");
    assert!(
        legacy["messages"][0]
            .as_str()
            .expect("m")
            .contains("usr/bin/app: pclntab crypto/"),
        "{legacy:#}"
    );
    // An image that cannot be scanned is unknown (denied under Enforce), with a warning.
    let gone_result = result(&r, "Pod", "gone");
    assert_eq!(gone_result["decision"], "denied");
    let m = gone_result["messages"][0].as_str().expect("m");
    assert!(
        m.contains("cannot be judged: scan failed")
            && m.contains(&format!("(fips-operator scan docker://{gone})"))
            && !m.contains("kubectl get fir"),
        "no cluster object holds an offline scan: {m}"
    );
    assert!(
        !legacy["messages"][0]
            .as_str()
            .expect("m")
            .contains("kubectl get fir"),
        "{legacy:#}"
    );
    assert!(
        run.stderr.contains("team/gone:1: cannot scan it"),
        "{}",
        run.stderr
    );
}
