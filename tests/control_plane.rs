//! The operator against a real control plane: `scripts/dev-cluster.sh up` starts etcd,
//! kube-apiserver, kube-controller-manager and kube-scheduler built from Kubernetes' Go
//! modules, installs the chart server-side and runs this build's controllers and probes under
//! the chart's own ServiceAccounts. Every assertion reads what a user reads: `kubectl`'s
//! answers from the real API server.
//!
//! One cluster serves the whole file (it takes a while to start), so the steps run in order in
//! one test; the cluster is stopped by process id when the test ends, also when it fails.
//! The control plane is built (or taken from its cache) by the script: a missing tool fails
//! the test, it never skips.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const NS: &str = "fips-operator";
const ENFORCED: &str = "fips-cp-enforced";
const WARNED: &str = "fips-cp-warned";
/// A namespace no policy selects, for pods that lend image pull secrets.
const LENDERS: &str = "fips-cp-lenders";
/// The chart's `--admission-label` for release fips-operator.
const ROUTING_LABEL: &str = "admission.fips.operator.dev/fips-operator";
const NODES: [&str; 3] = ["dev-amd64-fips", "dev-amd64-plain", "dev-arm64-plain"];

struct Cluster {
    dir: PathBuf,
    kubeconfig: String,
    registry: String,
    kubectl: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.down();
    }
}

/// `scripts/dev-cluster.sh down` for a state directory.
struct Stopper(PathBuf);

impl Stopper {
    fn stop(&self) {
        let out = Command::new(support::repo().join("scripts/dev-cluster.sh"))
            .arg("down")
            .env("FIPS_DEV_DIR", &self.0)
            .output()
            .expect("run dev-cluster.sh down");
        if !out.status.success() {
            eprintln!(
                "control-plane: down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Cluster {
    fn down(&self) {
        Stopper(self.dir.clone()).stop();
    }
}

fn step(text: &str) {
    eprintln!("control-plane: {text}");
}

impl Cluster {
    /// A fresh cluster: one left over by an aborted run (another binary, old data) is
    /// stopped first.
    fn up() -> Cluster {
        let dir = support::repo().join("target/dev-cluster-test");
        Stopper(dir.clone()).stop();
        Cluster::up_in(&dir)
    }

    fn up_in(dir: &Path) -> Cluster {
        let dir = dir.to_path_buf();
        let out = Command::new(support::repo().join("scripts/dev-cluster.sh"))
            .arg("up")
            .env("FIPS_DEV_DIR", &dir)
            .env("FIPS_OPERATOR_BIN", env!("CARGO_BIN_EXE_fips-operator"))
            .output()
            .expect("run scripts/dev-cluster.sh up");
        if !out.status.success() {
            // Whatever `up` started before it failed is stopped.
            Stopper(dir.clone()).stop();
        }
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "dev-cluster.sh up failed:\n{}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "up must print exactly two lines of shell: {stdout}"
        );
        let kubeconfig = lines[0]
            .strip_prefix("export KUBECONFIG=")
            .expect("first line exports KUBECONFIG")
            .to_string();
        let registry = lines[1]
            .strip_prefix("export FIPS_DEV_REGISTRY=")
            .expect("second line exports FIPS_DEV_REGISTRY")
            .to_string();
        assert!(registry.starts_with("127.0.0.1:"), "{registry}");
        let state: Value = serde_json::from_slice(
            &std::fs::read(dir.join("state.json")).expect("read the dev cluster state"),
        )
        .expect("as the control plane answers");
        let kubectl =
            Path::new(state["bin"].as_str().expect("as the control plane answers")).join("kubectl");
        Cluster {
            dir,
            kubeconfig,
            registry,
            kubectl,
        }
    }

    fn state(&self) -> Value {
        serde_json::from_slice(
            &std::fs::read(self.dir.join("state.json")).expect("read the dev cluster state"),
        )
        .expect("as the control plane answers")
    }

    fn kubectl_in(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if stdin.is_some() {
            cmd.stdin(std::process::Stdio::piped());
        }
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(s) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("as the control plane answers")
                .write_all(s.as_bytes())
                .expect("as the control plane answers");
        }
        child
            .wait_with_output()
            .expect("as the control plane answers")
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_in(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl -o json")
    }

    fn apply(&self, manifest: &Value) -> Output {
        self.kubectl_in(
            &[
                "apply",
                "--server-side",
                "--field-manager=control-plane-test",
                "-f",
                "-",
            ],
            Some(&manifest.to_string()),
        )
    }

    /// A server-side dry run of `manifest` (judged by admission, stored nowhere).
    fn dry_run(&self, manifest: &Value) -> Output {
        self.kubectl_in(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&manifest.to_string()),
        )
    }

    /// Pushes a one-binary image to the cluster's registry; `REGISTRY/NAME` by tag.
    fn push(&self, name: &str, fixture: &str, dest: &str) -> String {
        let out = Command::new("python3")
            .arg(support::repo().join("scripts/dev_cluster.py"))
            .args([
                "push",
                name,
                support::fixture(fixture)
                    .to_str()
                    .expect("as the control plane answers"),
                dest,
            ])
            .env("FIPS_DEV_DIR", &self.dir)
            .output()
            .expect("as the control plane answers");
        assert!(
            out.status.success(),
            "push {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{}/{name}", self.registry)
    }

    fn logs(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(self.dir.join("logs")).expect("as the control plane answers") {
            let p = e.expect("as the control plane answers").path();
            let name = p
                .file_name()
                .expect("as the control plane answers")
                .to_string_lossy()
                .to_string();
            if name.starts_with("controller-") || name.starts_with("probe-") {
                all.push((name, std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
        all
    }

    fn pid(&self, process: &str) -> Option<i32> {
        self.state()["processes"][process]["pid"]
            .as_i64()
            .map(|p| p as i32)
    }
}

fn eventually<T>(secs: u64, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {secs} s waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Waits until the FipsPolicy's status was written for its current generation; the policy.
fn observed(c: &Cluster, name: &str, secs: u64) -> Value {
    eventually(secs, &format!("{name}'s status for its generation"), || {
        let p = c.json(&["get", "fipspolicy", name]);
        if p["status"]["observedGeneration"] == p["metadata"]["generation"] {
            Ok(p)
        } else {
            Err(p["status"].to_string())
        }
    })
}

/// Applies an edited FipsPolicy (a new generation) and waits until the operator observed it.
fn edit_observed(c: &Cluster, edited: &Value, secs: u64) {
    let name = edited["metadata"]["name"].as_str().expect("name");
    let before = c.json(&["get", "fipspolicy", name])["metadata"]["generation"].clone();
    let out = c.apply(edited);
    assert!(out.status.success(), "{}", text(&out));
    let after = observed(c, name, secs);
    assert_ne!(
        after["metadata"]["generation"], before,
        "the edit changed nothing"
    );
}

/// Repeats `attempt` until the API server refuses it with a message containing `needle`.
/// The value of the admission routing label the controller keeps on namespace `ns`.
fn routing(c: &Cluster, ns: &str) -> Option<String> {
    let namespace = c.json(&["get", "namespace", ns]);
    namespace["metadata"]["labels"][ROUTING_LABEL]
        .as_str()
        .map(String::from)
}

fn until_refused(secs: u64, what: &str, needle: &str, mut attempt: impl FnMut() -> Output) {
    eventually(secs, what, || {
        let out = attempt();
        let t = text(&out);
        if !out.status.success() && t.contains(needle) {
            Ok(())
        } else {
            Err(t)
        }
    });
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": labels}})
}

fn policy(name: &str, mode: &str, ns_label: (&str, &str), node_action: &str) -> Value {
    json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
           "metadata": {"name": name},
           "spec": {"mode": mode,
                    "namespaceSelector": {"matchLabels": {ns_label.0: ns_label.1}},
                    "nodeAction": node_action}})
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim().starts_with('Z'))
        .unwrap_or(false)
}

fn signal(pid: i32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("as the control plane answers")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn operator_on_a_real_control_plane() {
    let c = Cluster::up();
    step(&format!(
        "up: KUBECONFIG={} registry {}",
        c.kubeconfig, c.registry
    ));

    crds_and_schema(&c);
    let (legacy, fips) = images(&c);
    admission(&c, &legacy, &fips);
    node_statuses(&c);
    leader_failover(&c);
    api_server_restart(&c, &legacy);
    probe_not_running(&c);
    webhook_down(&c, &legacy);
    rbac_matches_use(&c);
    uninstall(&c, &legacy);
    up_again_and_down(&c);
    step("passed");
}

/// The CRDs are Established, `kubectl explain` reads their schemas, the printer columns
/// resolve, and the API server refuses an invalid FipsPolicy naming the field.
fn crds_and_schema(c: &Cluster) {
    for crd in ["fipspolicies", "fipsstatuses", "fipsimagereports"] {
        let crd = c.json(&["get", "crd", &format!("{crd}.fips.operator.dev")]);
        let established = crd["status"]["conditions"]
            .as_array()
            .expect("as the control plane answers")
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        assert!(established, "{crd}");
    }
    let explained = c.ok(&["explain", "fipspolicy.spec.mode"]);
    assert!(explained.contains("Enforce"), "{explained}");
    let explained = c.ok(&["explain", "fipsstatus.status"]);
    assert!(explained.contains("FIELDS"), "{explained}");

    let bad = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
                     "metadata": {"name": "bad-mode"}, "spec": {"mode": "Block"}});
    let out = c.apply(&bad);
    assert!(!out.status.success(), "an invalid mode was accepted");
    let msg = text(&out);
    assert!(
        msg.contains("spec.mode"),
        "the refusal names the field: {msg}"
    );
    // A selector the probe DaemonSet's node affinity could not use is refused at apply, not
    // at every later DaemonSet apply: an operator typo, and values that do not fit.
    for (name, requirement, field) in [
        (
            "bad-operator",
            json!({"key": "pool", "operator": "Equals", "values": ["fips"]}),
            "spec.nodeSelector.matchExpressions[0].operator",
        ),
        (
            "bad-values",
            json!({"key": "pool", "operator": "In"}),
            "values must be non-empty for the operators In and NotIn",
        ),
    ] {
        let bad = json!({"apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
                         "metadata": {"name": name},
                         "spec": {"mode": "Audit", "nodeSelector": {"matchExpressions": [requirement]}}});
        let out = c.apply(&bad);
        assert!(!out.status.success(), "{name} was accepted");
        let msg = text(&out);
        assert!(
            msg.contains(field),
            "{name}: the refusal names the field: {msg}"
        );
    }

    // The kustomize base of the same objects applies server-side (dry run: the chart owns them).
    let kustomized = c.ok(&[
        "kustomize",
        support::repo()
            .join("config/default")
            .to_str()
            .expect("as the control plane answers"),
    ]);
    let out = c.kubectl_in(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&kustomized),
    );
    let shown = text(&out);
    assert!(out.status.success(), "config/default: {shown}");
    assert!(
        !shown.to_lowercase().contains("warning"),
        "config/default warned: {shown}"
    );
    step("CRDs established, schema explained, invalid policies refused (mode, selector operator and values), config/default applies");
}

/// A non-FIPS and a FIPS image, built from source, in the cluster's registry.
fn images(c: &Cluster) -> (String, String) {
    let legacy = c.push("cp/legacy:1", "go119-std", "usr/bin/legacy");
    let fips = c.push("cp/fips-app:1", "go127-fips-certified", "usr/bin/app");
    (legacy, fips)
}

fn pod(ns: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "app", "image": image,
             "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true,
                                 "capabilities": {"drop": ["ALL"]},
                                 "seccompProfile": {"type": "RuntimeDefault"}}}]}})
}

/// Retries while the webhook says the image is still being scanned.
fn final_answer(c: &Cluster, manifest: &Value, what: &str) -> Output {
    eventually(180, what, || {
        let out = c.apply(manifest);
        let t = text(&out);
        if !out.status.success() && t.contains("scan") && t.contains("retry") {
            return Err(t);
        }
        Ok(out)
    })
}

fn admission(c: &Cluster, legacy: &str, fips: &str) {
    c.apply(&namespace(ENFORCED, json!({"fips-cp": "enforce"})));
    c.apply(&namespace(WARNED, json!({"fips-cp": "warn"})));
    let out = c.apply(&policy(
        "cp-enforce",
        "Enforce",
        ("fips-cp", "enforce"),
        "Taint",
    ));
    assert!(out.status.success(), "{}", text(&out));
    let out = c.apply(&policy("cp-warn", "Warn", ("fips-cp", "warn"), "Label"));
    assert!(out.status.success(), "{}", text(&out));

    // A policy reaches every webhook replica through its watch, a moment after it is
    // written: wait until the leader has observed both and a dry run is judged by it,
    // several times in a row (each request goes to either replica).
    for name in ["cp-enforce", "cp-warn"] {
        observed(c, name, 60);
    }
    let mut in_a_row = 0;
    eventually(120, "every replica to judge by cp-enforce", || {
        let out = c.dry_run(&pod(ENFORCED, "probe", legacy));
        let t = text(&out);
        if !out.status.success() && t.contains("cp-enforce") {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
        if in_a_row >= 6 {
            Ok(())
        } else {
            Err(t)
        }
    });

    // Admission routing: the controller labels the namespaces the policies judge with the
    // strictest mode, which is how the webhook configuration selects them.
    eventually(30, "the judged namespaces to be routed", || {
        let routed = [ENFORCED, WARNED].map(|ns| routing(c, ns));
        match routed {
            [Some(e), Some(w)] if e == "enforce" && w == "warn" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // Enforce: the API server refuses the non-FIPS pod with our message.
    let out = final_answer(
        c,
        &pod(ENFORCED, "legacy", legacy),
        "a final answer for legacy",
    );
    let msg = text(&out);
    assert!(
        !out.status.success(),
        "the non-FIPS pod was admitted: {msg}"
    );
    for needle in [
        "denied the request",
        "not FIPS-capable",
        "cp/legacy:1@sha256:",
        "usr/bin/legacy",
        "crypto/",
        "fix:",
        "cp-enforce",
    ] {
        assert!(msg.contains(needle), "denial lacks {needle:?}: {msg}");
    }
    // `kubectl run` too, as a user types it.
    let out = c.kubectl_in(
        &[
            "-n",
            ENFORCED,
            "run",
            "legacy-run",
            "--image",
            legacy,
            "--restart=Never",
        ],
        None,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not FIPS-capable"), "{}", text(&out));
    // A Deployment is refused at its own creation, and a server-side dry run is judged too.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "legacy", "namespace": ENFORCED},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "legacy"}},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": pod(ENFORCED, "x", legacy)["spec"].clone()}}});
    let out = c.apply(&deploy);
    assert!(!out.status.success(), "Deployment admitted: {}", text(&out));
    assert!(text(&out).contains("usr/bin/legacy"), "{}", text(&out));
    let out = c.dry_run(&deploy);
    assert!(!out.status.success(), "dry run admitted: {}", text(&out));

    // The FIPS image is admitted and runs (the stand-in kubelet reports it by digest).
    let out = final_answer(
        c,
        &pod(ENFORCED, "fips-app", fips),
        "a final answer for fips-app",
    );
    assert!(
        out.status.success(),
        "the FIPS pod was refused: {}",
        text(&out)
    );

    // A FIPS pod held by a scheduling gate: the webhook-down step moves it to a node.
    let mut gated = pod(ENFORCED, "gated", fips);
    gated["spec"]["schedulingGates"] = json!([{"name": "example.com/hold"}]);
    let out = c.apply(&gated);
    assert!(out.status.success(), "gated pod refused: {}", text(&out));
    // A FIPS Deployment: the webhook-down step scales it with no controller running.
    let mut deploy = deploy.clone();
    deploy["metadata"]["name"] = json!("fips-deploy");
    deploy["spec"]["selector"]["matchLabels"]["app"] = json!("fips-deploy");
    deploy["spec"]["template"] = json!({"metadata": {"labels": {"app": "fips-deploy"}},
        "spec": pod(ENFORCED, "x", fips)["spec"].clone()});
    let out = c.apply(&deploy);
    assert!(
        out.status.success(),
        "FIPS Deployment refused: {}",
        text(&out)
    );

    // Warn: admitted, and kubectl prints the warning.
    let out = final_answer(c, &pod(WARNED, "legacy", legacy), "a warned legacy pod");
    let t = text(&out);
    assert!(out.status.success(), "Warn refused: {t}");
    assert!(
        t.contains("Warning:") && t.contains("usr/bin/legacy"),
        "no warning shown: {t}"
    );

    // kube-system and the operator's namespace are never judged.
    for ns in ["kube-system", NS] {
        let out = c.apply(&pod(ns, "legacy-exempt", legacy));
        assert!(out.status.success(), "{ns} blocked: {}", text(&out));
    }

    // The policy's status follows: Ready, observedGeneration, and the violation is counted.
    let status = observed(c, "cp-enforce", 120);
    assert!(status["status"]["conditions"].is_array(), "{status}");
    // nodeAction Taint: the nodes the probes prove not in FIPS mode are tainted, the FIPS one not.
    eventually(90, "not-FIPS nodes tainted", || {
        let tainted = tainted_nodes(c);
        if tainted == ["dev-amd64-plain", "dev-arm64-plain"] {
            Ok(())
        } else {
            Err(format!("{tainted:?}"))
        }
    });
    // An edit is observed.
    let mut edited = policy("cp-enforce", "Enforce", ("fips-cp", "enforce"), "Label");
    edited["spec"]["images"] = json!({"exempt": ["example.invalid/*"]});
    edit_observed(c, &edited, 60);
    // The printer columns resolve.
    let table = c.ok(&["get", "fipspolicies"]);
    let header = table.lines().next().unwrap_or_default().to_string();
    for col in ["MODE", "READY", "NODES", "VIOLATIONS", "AGE"] {
        assert!(header.contains(col), "{table}");
    }
    assert!(
        table.contains("cp-enforce") && table.contains("Enforce"),
        "{table}"
    );
    let table = c.ok(&["get", "fipsimagereports"]);
    let outcome_of = |image: &str| {
        table
            .lines()
            .find(|l| l.contains(image))
            .and_then(|l| l.split_whitespace().nth(2))
            .map(String::from)
    };
    assert_eq!(
        outcome_of("cp/legacy:1").as_deref(),
        Some("non-compliant"),
        "{table}"
    );
    assert_eq!(
        outcome_of("cp/fips-app:1").as_deref(),
        Some("compliant"),
        "{table}"
    );
    // A pod lending an image pull secret: the controller scans its image with it (reading the
    // Secret in the pod's namespace, which the audit check below wants to see). In a namespace
    // no policy selects, so the webhook asks for no scan of its own (which would read no
    // secret) before the controller sees the running pod.
    c.apply(&namespace(LENDERS, json!({})));
    let auth = base64_of(&format!(
        "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
        c.registry,
        base64_of("puller:secret")
    ));
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "regcred", "namespace": LENDERS},
        "data": {".dockerconfigjson": auth}});
    let out = c.apply(&secret);
    assert!(out.status.success(), "{}", text(&out));
    let private = c.push("cp/private:1", "go127-nocrypto", "usr/bin/app");
    let mut lending = pod(LENDERS, "private", &private);
    lending["spec"]["imagePullSecrets"] = json!([{"name": "regcred"}]);
    let out = c.apply(&lending);
    assert!(out.status.success(), "{}", text(&out));
    // And a workload template whose ServiceAccount lends it: read from the template's
    // namespace. (A pod never needs that read on a real API server: ServiceAccount admission
    // copies the account's pull secrets into the pod.) A suspended CronJob makes no pod.
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "lender", "namespace": LENDERS},
        "imagePullSecrets": [{"name": "regcred"}]});
    let out = c.apply(&sa);
    assert!(out.status.success(), "{}", text(&out));
    let via_sa = c.push("cp/via-sa:1", "go127-nocrypto", "usr/local/bin/app");
    let mut template = pod(LENDERS, "via-sa", &via_sa)["spec"].clone();
    template["serviceAccountName"] = json!("lender");
    template["restartPolicy"] = json!("Never");
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "via-sa", "namespace": LENDERS},
        "spec": {"schedule": "0 0 1 1 *", "suspend": true,
                 "jobTemplate": {"spec": {"template": {"spec": template}}}}});
    let out = c.apply(&cronjob);
    assert!(out.status.success(), "{}", text(&out));
    for image in ["cp/private", "cp/via-sa"] {
        eventually(120, &format!("{image} to be scanned"), || {
            let table = c.ok(&["get", "fipsimagereports"]);
            match table.lines().find(|l| l.contains(image)) {
                Some(l) if l.contains("compliant") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
    }
    assert_eq!(
        routing(c, LENDERS),
        None,
        "a namespace no policy judges is routed"
    );
    step(
        "admission: namespaces routed by their policies' mode, Enforce refused, FIPS admitted, \
         Warn warned, exemptions held, status observed",
    );
}

fn node_statuses(c: &Cluster) {
    let statuses = eventually(120, "a FipsStatus per node", || {
        let list = c.json(&["get", "fipsstatuses", "--show-managed-fields"]);
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let names: Vec<String> = items
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect();
        if NODES.iter().all(|n| names.iter().any(|m| m == n)) {
            Ok(items)
        } else {
            Err(format!("{names:?}"))
        }
    });
    for s in &statuses {
        let name = s["metadata"]["name"]
            .as_str()
            .expect("as the control plane answers");
        let owner = &s["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Node", "{s}");
        assert_eq!(owner["name"], name, "{s}");
        // Written by that node's probe (its field manager), under the probe's own identity
        // (the API server let the probe's ServiceAccount token write it: see the RBAC check).
        let managers: Vec<&str> = s["metadata"]["managedFields"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["manager"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            managers.iter().any(|m| m.contains("probe")),
            "{name}: written by {managers:?}"
        );
        let fips = s["status"]["kernelFipsEnabled"].as_bool();
        assert_eq!(
            fips,
            Some(name == "dev-amd64-fips"),
            "{name}: {}",
            s["status"]
        );
    }
    probe_own_node_only(c);
    let table = c.ok(&["get", "fipsstatuses"]);
    assert!(
        table
            .lines()
            .next()
            .expect("as the control plane answers")
            .contains("NODE-FIPS"),
        "{table}"
    );

    // No policy asks for taints any more (cp-enforce was edited to Label): they are gone.
    eventually(90, "taints taken back after the edit", || {
        let tainted = tainted_nodes(c);
        if tainted.is_empty() {
            Ok(())
        } else {
            Err(format!("{tainted:?}"))
        }
    });
    // Node labels and taints follow the policies.
    eventually(120, "node labels", || {
        let nodes = c.json(&["get", "nodes"]);
        let mut seen = Vec::new();
        for n in nodes["items"]
            .as_array()
            .expect("as the control plane answers")
        {
            let name = n["metadata"]["name"]
                .as_str()
                .expect("as the control plane answers");
            let label = n["metadata"]["labels"]["fips.operator.dev/enabled"].as_str();
            let want = if name == "dev-amd64-fips" {
                "true"
            } else {
                "false"
            };
            seen.push(format!("{name}={label:?}"));
            if label != Some(want) {
                return Err(seen.join(", "));
            }
        }
        Ok(())
    });

    probe_daemonset(c);

    // Deleting a Node removes its FipsStatus through the garbage collector (its probe stopped
    // first, as a node that is gone has no probe).
    let pid = c.pid("probe-dev-arm64-plain").expect("probe pid");
    signal(pid, "TERM");
    c.ok(&["delete", "node", "dev-arm64-plain", "--wait=true"]);
    eventually(60, "the deleted node's FipsStatus to be collected", || {
        let out = c.kubectl_in(&["get", "fipsstatus", "dev-arm64-plain"], None);
        if out.status.success() {
            Err("still there".into())
        } else {
            Ok(())
        }
    });
    step("FipsStatus per node, owned by its Node, collected with it; labels follow");
}

/// With the operator's namespace at Pod Security `baseline`, a node that joins gets no probe
/// pod (Pod Security refuses it): the node is reported as not probed, on its FipsStatus and in
/// the policy's condition naming the level, and labelled `unknown`, not judged not-FIPS.
fn probe_not_running(c: &Cluster) {
    const LATE: &str = "dev-amd64-late";
    const LEVEL: &str = "pod-security.kubernetes.io/enforce";
    c.ok(&[
        "label",
        "namespace",
        NS,
        &format!("{LEVEL}=baseline"),
        "--overwrite",
    ]);
    let node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": LATE, "labels": {"kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": LATE}}});
    let out = c.apply(&node);
    assert!(out.status.success(), "{}", text(&out));
    let (status, condition) = eventually(90, "the late node to be reported as not probed", || {
        let node = c.json(&["get", "node", LATE]);
        let label = node["metadata"]["labels"]["fips.operator.dev/enabled"].clone();
        let status = c.kubectl_in(&["get", "fipsstatus", LATE, "-o", "json"], None);
        let status: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
        let policy = c.json(&["get", "fipspolicy", "cp-enforce"]);
        let condition = policy["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "NodesCompliant")
            .cloned()
            .unwrap_or_default();
        let named = condition["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("the probe is not running on node {LATE}")));
        if label == "unknown" && status["status"]["conditions"].is_array() && named {
            Ok((status, condition))
        } else {
            Err(format!(
                "label {label}, status {status}, condition {condition}"
            ))
        }
    });
    let compliant = &status["status"]["conditions"][0];
    assert_eq!(compliant["type"], "Compliant", "{status}");
    assert_eq!(compliant["status"], "Unknown", "{status}");
    assert_eq!(compliant["reason"], "ProbeNotRunning", "{status}");
    for text in [&compliant["message"], &condition["message"]] {
        let text = text.as_str().unwrap_or_default();
        assert!(
            text.contains("enforces Pod Security level \"baseline\"")
                && text.contains(&format!("kubectl label namespace {NS} {LEVEL}=privileged")),
            "{text}"
        );
    }
    assert_eq!(
        status["metadata"]["ownerReferences"][0]["name"], LATE,
        "{status}"
    );
    // Not judged: no taint, and the other nodes keep their verdicts.
    let late = c.json(&["get", "node", LATE]);
    assert!(
        !taints(&late).any(|t| t["key"] == "fips.operator.dev/not-fips"),
        "{late}"
    );
    c.ok(&[
        "label",
        "namespace",
        NS,
        &format!("{LEVEL}=privileged"),
        "--overwrite",
    ]);
    c.ok(&["delete", "node", LATE, "--wait=true"]);
    step("probe refused by Pod Security on a new node: reported as not running (FipsStatus, policy condition naming the level), labelled unknown, not judged");
}

/// A node's probe writes its own node's FipsStatus and no other (the chart's
/// ValidatingAdmissionPolicy against the node its token is bound to), and a probe token bound
/// to no node writes none.
fn probe_own_node_only(c: &Cluster) {
    // As the probe writes it (a merge patch of the status; the probe cannot even read a
    // FipsStatus, so this goes around kubectl, which reads first), with the token of `node`'s
    // probe or the one given.
    let patch_as = |node: &str, token: Option<&str>, target: &str| -> (String, String) {
        let kubeconfig = c.dir.join(format!("probe-{node}.kubeconfig"));
        let kubeconfig: Value = serde_json::from_str(
            &std::fs::read_to_string(&kubeconfig).expect("the probe's kubeconfig"),
        )
        .expect("a JSON kubeconfig");
        let server = kubeconfig["clusters"][0]["cluster"]["server"]
            .as_str()
            .expect("server");
        let token = token.unwrap_or_else(|| {
            kubeconfig["users"][0]["user"]["token"]
                .as_str()
                .expect("token")
        });
        let out = Command::new("curl")
            .args(["-sS", "-X", "PATCH", "-w", "\n%{http_code}", "--cacert"])
            .arg(c.dir.join("pki/ca.crt"))
            .args([
                "-H",
                "Content-Type: application/merge-patch+json",
                "-H",
                &format!("Authorization: Bearer {token}"),
                "--data",
                r#"{"status":{"kernelFipsEnabled":true,"cmdlineFips":true}}"#,
                &format!("{server}/apis/fips.operator.dev/v1alpha1/fipsstatuses/{target}/status"),
            ])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
        (code.to_string(), body.to_string())
    };
    // The FIPS node's probe says what it says anyway: allowed.
    let (code, body) = patch_as("dev-amd64-fips", None, "dev-amd64-fips");
    assert_eq!(code, "200", "own node refused: {body}");
    // A compromised node reporting another node in FIPS mode: refused, naming both.
    let (code, body) = patch_as("dev-amd64-fips", None, "dev-amd64-plain");
    assert!(
        code == "403"
            && body.contains(
                "the node probe of node dev-amd64-fips may write only its own node's \
                 FipsStatus, not dev-amd64-plain"
            ),
        "a probe wrote another node's status: {code} {body}"
    );
    // The probe's ServiceAccount with a token bound to no node: refused.
    let unbound = c.ok(&["-n", NS, "create", "token", "fips-operator-probe"]);
    let (code, body) = patch_as("dev-amd64-fips", Some(unbound.trim()), "dev-amd64-fips");
    assert!(
        code == "403" && body.contains("its token is bound to no node"),
        "an unbound probe token wrote a status: {code} {body}"
    );
    let status = c.json(&["get", "fipsstatus", "dev-amd64-plain"]);
    assert_eq!(status["status"]["kernelFipsEnabled"], false, "{status}");
}

/// The nodes carrying the operator's `fips.operator.dev/not-fips:NoSchedule` taint, sorted.
fn tainted_nodes(c: &Cluster) -> Vec<String> {
    node_names(c, |n| {
        taints(n).any(|t| t["key"] == "fips.operator.dev/not-fips" && t["effect"] == "NoSchedule")
    })
}

fn taints(node: &Value) -> impl Iterator<Item = &Value> {
    node["spec"]["taints"].as_array().into_iter().flatten()
}

/// The names of the Nodes `keep` keeps, sorted.
fn node_names(c: &Cluster, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let nodes = c.json(&["get", "nodes"]);
    let mut out: Vec<String> = nodes["items"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| keep(n))
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect();
    out.sort();
    out
}

fn lease_holder(c: &Cluster) -> String {
    let lease = c.json(&["-n", NS, "get", "lease", "fips-operator-controller"]);
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn leader_failover(c: &Cluster) {
    let holder = eventually(60, "a lease holder", || {
        let h = lease_holder(c);
        if h.is_empty() {
            Err("none".into())
        } else {
            Ok(h)
        }
    });
    let index = holder
        .rsplit('-')
        .next()
        .expect("as the control plane answers")
        .to_string();
    let pid = c
        .pid(&format!("controller-{index}"))
        .expect("the holder's pid");
    let stopped = Instant::now();
    signal(pid, "KILL");
    let next = eventually(60, "another replica to take the lease", || {
        let h = lease_holder(c);
        if h != holder && !h.is_empty() {
            Ok(h)
        } else {
            Err(h)
        }
    });
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(15 + 10),
        "took {took:?} (lease duration 15 s)"
    );
    // The new holder writes: an edit of a policy is observed.
    let mut edited = policy("cp-warn", "Warn", ("fips-cp", "warn"), "None");
    edited["spec"]["images"] = json!({"exempt": ["example.invalid/after-failover"]});
    edit_observed(c, &edited, 60);
    step(&format!(
        "leader {holder} killed; {next} took over in {took:?}"
    ));
}

/// With no replica answering, the chart's failurePolicy (Fail) refuses pods in judged
/// namespaces; kube-system is never sent to the webhook.
fn webhook_down(c: &Cluster, legacy: &str) {
    let state = c.state();
    let stopping = Instant::now();
    let (mut pids, mut names) = (Vec::new(), Vec::new());
    for (name, info) in state["processes"]
        .as_object()
        .expect("as the control plane answers")
    {
        let pid = info["pid"].as_i64().expect("as the control plane answers") as i32;
        if name.starts_with("controller-") && alive(pid) {
            signal(pid, "TERM");
            pids.push(pid);
            names.push(name.clone());
        }
    }
    // The drain (--shutdown-delay, 10 s by the chart): not ready at once, the webhook still
    // answering with the policy's own refusal, not the API server's "failed calling webhook".
    let metrics_ports: Vec<u16> = names
        .iter()
        .filter_map(|name| state["ports"][format!("{name}-metrics")].as_u64())
        .map(|p| p as u16)
        .collect();
    assert!(!metrics_ports.is_empty(), "{state}");
    for port in &metrics_ports {
        eventually(
            3,
            "a draining replica to report not ready",
            || match http_status(*port, "/ready") {
                Some(503) => Ok(()),
                other => Err(format!("port {port}: {other:?}")),
            },
        );
    }
    let out = c.apply(&pod(ENFORCED, "while-draining", legacy));
    let said = text(&out);
    assert!(
        !out.status.success() && said.contains("FipsPolicy") && !said.contains("failed calling"),
        "draining replicas still judge: {said}"
    );
    let drained_in = stopping.elapsed();
    assert!(
        pids.iter().all(|p| alive(*p)),
        "a replica exited before its drain ended ({drained_in:?})"
    );
    exited(&pids, "the controllers to exit after SIGTERM");
    step(&format!(
        "SIGTERM: replicas not ready and still judging {drained_in:?} in, exited after {:?}",
        stopping.elapsed()
    ));
    until_refused(
        30,
        "the webhook to refuse while down",
        "failed calling webhook",
        || c.apply(&pod(ENFORCED, "while-down", legacy)),
    );
    let out = c.apply(&pod("kube-system", "while-down", legacy));
    assert!(out.status.success(), "kube-system blocked: {}", text(&out));
    // Only Enforce namespaces are refused: one no policy judges is never sent to the
    // webhook, and Warn ones go to the webhook that ignores its failures.
    for ns in [LENDERS, WARNED] {
        let out = c.apply(&pod(ns, "while-down", legacy));
        assert!(out.status.success(), "{ns} blocked: {}", text(&out));
    }
    // An UPDATE that brings no new image is not sent either: a controller's or a user's
    // metadata edit, a Deployment scaled by editing its spec.
    let out = c.kubectl_in(
        &["-n", ENFORCED, "label", "pod", "fips-app", "touched=yes"],
        None,
    );
    assert!(out.status.success(), "label refused: {}", text(&out));
    let out = c.kubectl_in(
        &[
            "-n",
            ENFORCED,
            "patch",
            "deployment",
            "fips-deploy",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":2}}"#,
        ],
        None,
    );
    assert!(out.status.success(), "scaling refused: {}", text(&out));
    // Placing a gated pod is sent (and so refused while down): its node decides FIPS.
    let out = c.kubectl_in(
        &[
            "-n",
            ENFORCED,
            "patch",
            "pod",
            "gated",
            "--type=merge",
            "-p",
            r#"{"spec":{"nodeSelector":{"kubernetes.io/hostname":"dev-amd64-plain"}}}"#,
        ],
        None,
    );
    let t = text(&out);
    assert!(
        !out.status.success() && t.contains("failed calling webhook"),
        "placement change admitted unjudged: {t}"
    );
    // One that does bring an image is.
    let out = c.kubectl_in(
        &[
            "-n",
            ENFORCED,
            "set",
            "image",
            "pod/fips-app",
            &format!("app={legacy}"),
        ],
        None,
    );
    let t = text(&out);
    assert!(
        !out.status.success() && t.contains("failed calling webhook"),
        "image change admitted: {t}"
    );
    step("webhook down: Fail policy refuses judged Enforce namespaces; kube-system, unjudged and Warn namespaces and UPDATEs without new images work");
}

/// The probe DaemonSet the controller applies is accepted by Pod Security Admission in the
/// chart's namespace: the DaemonSet controller creates a pod for every node.
fn probe_daemonset(c: &Cluster) {
    eventually(60, "a probe pod on every node", || {
        let ds = c.json(&["-n", NS, "get", "daemonset", "fips-operator-probe"]);
        let want = ds["status"]["desiredNumberScheduled"]
            .as_i64()
            .unwrap_or(-1);
        let created = ds["status"]["currentNumberScheduled"]
            .as_i64()
            .unwrap_or(-2);
        if want == NODES.len() as i64 && created == want {
            Ok(())
        } else {
            let events = c.ok(&[
                "-n",
                NS,
                "get",
                "events",
                "--field-selector",
                "reason=FailedCreate",
            ]);
            Err(format!("{}\n{events}", ds["status"]))
        }
    });
    let ds = c.json(&["-n", NS, "get", "daemonset", "fips-operator-probe"]);
    let owners: Vec<&str> = ds["metadata"]["ownerReferences"]
        .as_array()
        .map(|o| o.iter().filter_map(|o| o["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !owners.is_empty() && owners.iter().all(|k| *k == "FipsPolicy"),
        "{owners:?}"
    );
    // The API server kept what SELinux and AppArmor nodes need, and Linux-only placement.
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux", "{pod}");
    assert_eq!(
        pod["securityContext"]["seLinuxOptions"]["type"], "spc_t",
        "{pod}"
    );
    assert_eq!(
        pod["containers"][0]["securityContext"]["appArmorProfile"]["type"], "Unconfined",
        "{pod}"
    );
    assert_eq!(pod["priorityClassName"], "system-node-critical", "{pod}");
    step("probe DaemonSet admitted by Pod Security (spc_t, AppArmor Unconfined, Linux nodes), a pod per node, owned by the policies");
}

/// The status code of `GET path` on 127.0.0.1:`port` (plain HTTP), `None` if nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = String::new();
    conn.read_to_string(&mut head).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Sends `sig` to every live process whose name starts with one of `prefixes`; their pids.
fn set_running(c: &Cluster, prefixes: &[&str], sig: &str) -> Vec<i32> {
    let state = c.state();
    let mut signalled = Vec::new();
    for (name, info) in state["processes"].as_object().expect("processes") {
        let pid = info["pid"].as_i64().expect("pid") as i32;
        if prefixes.iter().any(|p| name.starts_with(p)) && alive(pid) {
            signal(pid, sig);
            signalled.push(pid);
        }
    }
    signalled
}

/// Waits until none of `pids` runs (a SIGTERMed controller drains for 10 s first).
fn exited(pids: &[i32], what: &str) {
    eventually(45, what, || match pids.iter().find(|p| alive(**p)) {
        Some(p) => Err(format!("{p} still running")),
        None => Ok(()),
    });
}

/// The API server restarts while the operator's processes are paused (their watches then
/// resume from resource versions the new server's watch cache no longer has: 410 Gone), and
/// the operator carries on without a restart of its own.
fn api_server_restart(c: &Cluster, legacy: &str) {
    let before: Vec<(String, usize)> = c.logs().into_iter().map(|(n, l)| (n, l.len())).collect();
    set_running(c, &["controller-", "probe-"], "STOP");
    let out = Command::new("python3")
        .arg(support::repo().join("scripts/dev_cluster.py"))
        .args(["restart", "kube-apiserver"])
        .env("FIPS_DEV_DIR", &c.dir)
        .output()
        .expect("restart the API server");
    set_running(c, &["controller-", "probe-"], "CONT");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Written while the operator could not watch.
    let mut edited = policy("cp-enforce", "Enforce", ("fips-cp", "enforce"), "Label");
    edited["spec"]["images"] = json!({"exempt": ["example.invalid/after-restart"]});
    edit_observed(c, &edited, 90);
    until_refused(
        60,
        "the webhook to judge after the restart",
        "not FIPS-capable",
        || c.dry_run(&pod(ENFORCED, "after-restart", legacy)),
    );
    // The resumed watches were answered 410 Gone (Expired), and re-listed.
    let expired = c.logs().iter().any(|(name, log)| {
        let from = before
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, len)| *len);
        name.starts_with("controller-")
            && log
                .get(from..)
                .is_some_and(|l| l.contains("too old resource version"))
    });
    assert!(
        expired,
        "no watch of the controllers met 410 Gone: the step proved nothing"
    );
    step("API server restarted under paused watches (410 Gone): the operator recovered on its own");
}

/// Over the whole run, the audit log of the API server holds every request of the operator's
/// ServiceAccounts: none was refused, and every grant of the chart was used.
fn rbac_matches_use(c: &Cluster) {
    let audit = std::fs::read_to_string(c.dir.join("logs/audit.log")).expect("audit log");
    let mut used = std::collections::BTreeSet::new();
    // Requests outside the operator's namespace (or cluster-scoped): what a ClusterRole's
    // grants on namespaced resources must be used for, or a Role would do.
    let mut used_outside = std::collections::BTreeSet::new();
    let mut refused = Vec::new();
    for line in audit.lines() {
        let Ok(e) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let user = e["user"]["username"].as_str().unwrap_or_default();
        let Some(sa) = user.strip_prefix(&format!("system:serviceaccount:{NS}:")) else {
            continue;
        };
        let o = &e["objectRef"];
        let resource = match o["subresource"].as_str() {
            Some(sub) => format!("{}/{sub}", o["resource"].as_str().unwrap_or_default()),
            None => o["resource"].as_str().unwrap_or_default().to_string(),
        };
        let group = o["apiGroup"].as_str().unwrap_or_default().to_string();
        let verb = e["verb"].as_str().unwrap_or_default().to_string();
        // Refused, other than the forged writes of probe_own_node_only, which the chart's
        // admission policy (not RBAC) refuses on purpose.
        let forged = e["userAgent"]
            .as_str()
            .is_some_and(|a| a.starts_with("curl/"))
            && e["annotations"].as_object().is_some_and(|a| {
                a.keys()
                    .any(|k| k.starts_with("validation.policy.admission.k8s.io"))
            });
        if e["responseStatus"]["code"] == 403 && !forged {
            refused.push(format!("{sa}: {verb} {group}/{resource}"));
        }
        let mut verbs = vec![verb];
        // A server-side apply that creates the object is authorized as create too.
        if verbs[0] == "patch" && e["responseStatus"]["code"] == 201 {
            verbs.push("create".into());
        }
        let outside = o["namespace"].as_str().is_none_or(|ns| ns != NS);
        for verb in verbs {
            let key = (sa.to_string(), group.clone(), resource.clone(), verb);
            if outside {
                used_outside.insert(key.clone());
            }
            used.insert(key);
        }
    }
    // Grants for paths this run does not reach, each exercised elsewhere.
    let elsewhere = [
        // The certificate Secret is replaced when it rotates (tests/webhook_certs.rs,
        // tests/controller.rs); a run this short never rotates.
        ("fips-operator-controller", "", "secrets", "update"),
        // The probe writes reports of the containers running on its node (tests/probe.rs);
        // the dev cluster's nodes run no container processes.
        (
            "fips-operator-probe",
            "fips.operator.dev",
            "fipsimagereports",
            "create",
        ),
        (
            "fips-operator-probe",
            "fips.operator.dev",
            "fipsimagereports",
            "patch",
        ),
        (
            "fips-operator-probe",
            "fips.operator.dev",
            "fipsimagereports/status",
            "patch",
        ),
    ];
    for (sa, group, resource, verb) in elsewhere {
        used.insert((sa.into(), group.into(), resource.into(), verb.into()));
        used_outside.insert((sa.into(), group.into(), resource.into(), verb.into()));
    }
    assert!(refused.is_empty(), "refused by RBAC: {refused:#?}");
    assert!(used.len() > 10, "the audit log saw too little: {used:?}");

    let mut unused = Vec::new();
    for (sa, kind, name, namespaced) in [
        (
            "fips-operator-controller",
            "clusterrole",
            "fips-operator-controller",
            false,
        ),
        (
            "fips-operator-controller",
            "role",
            "fips-operator-controller",
            true,
        ),
        (
            "fips-operator-probe",
            "clusterrole",
            "fips-operator-probe",
            false,
        ),
    ] {
        let role = if namespaced {
            c.json(&["-n", NS, "get", kind, name])
        } else {
            c.json(&["get", kind, name])
        };
        for rule in role["rules"].as_array().expect("rules") {
            let strings = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for group in strings("apiGroups") {
                for resource in strings("resources") {
                    for verb in strings("verbs") {
                        let key = (
                            sa.to_string(),
                            group.clone(),
                            resource.clone(),
                            verb.clone(),
                        );
                        let seen = if namespaced { &used } else { &used_outside };
                        if !seen.contains(&key) {
                            unused.push(format!("{sa} {kind}/{name}: {verb} {group}/{resource}"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        unused.is_empty(),
        "granted by the chart but never used: {unused:#?}"
    );
    step(&format!(
        "RBAC: {} kinds of request, none refused, every grant used",
        used.len()
    ));
}

/// Uninstall as the README says: delete the policies (the controller takes its labels and
/// taints back, the DaemonSet goes with its owners), then the chart's objects. Nothing of
/// ours is left, and no webhook blocks the cluster afterwards.
fn uninstall(c: &Cluster, legacy: &str) {
    // The controllers were stopped by the webhook-down step: start them again first.
    let again = Cluster::up_in(&c.dir);
    std::mem::forget(again);
    // A policy deleted: the controller takes its namespace's routing back.
    c.ok(&["delete", "fipspolicy", "cp-warn", "--wait=true"]);
    eventually(
        60,
        "the warned namespace's routing to be taken back",
        || match routing(c, WARNED) {
            None => Ok(()),
            Some(v) => Err(v),
        },
    );
    // `helm uninstall` with a policy left: the Deployment goes (its processes stop), then the
    // chart's other objects; Helm leaves the CRDs, so the policy, the DaemonSet it owns, the
    // node labels, the routing label and the reports stay behind.
    let stopping = set_running(c, &["controller-", "probe-"], "TERM");
    exited(&stopping, "the operator's processes to exit after SIGTERM");
    let instance = "app.kubernetes.io/instance=fips-operator";
    c.ok(&[
        "-n",
        NS,
        "delete",
        "deployment,service,serviceaccount,role,rolebinding,poddisruptionbudget,\
         validatingwebhookconfiguration,validatingadmissionpolicy,\
         validatingadmissionpolicybinding,clusterrole,clusterrolebinding",
        "-l",
        instance,
        "--wait=true",
    ]);
    let ds = c.kubectl_in(&["-n", NS, "get", "daemonset", "fips-operator-probe"], None);
    assert!(
        ds.status.success(),
        "nothing left behind to take back: {}",
        text(&ds)
    );
    assert_eq!(routing(c, ENFORCED).as_deref(), Some("enforce"));
    let marked = |c: &Cluster| {
        node_names(c, |n| {
            n["metadata"]["labels"]["fips.operator.dev/enabled"].is_string()
                || taints(n).any(|t| {
                    t["key"]
                        .as_str()
                        .is_some_and(|k| k.starts_with("fips.operator.dev/"))
                })
        })
    };
    assert!(!marked(c).is_empty(), "no node label left behind");

    // `fips-operator uninstall` takes the rest back; run again (with --delete-crds), it finds
    // nothing more of that to do. The DaemonSet goes with its policy (the garbage collector
    // may be first) or by the command.
    let uninstall = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fips-operator"))
            .args(["uninstall", "--namespace", NS])
            .args(extra)
            .env("KUBECONFIG", &c.kubeconfig)
            .output()
            .expect("run fips-operator uninstall")
    };
    let out = uninstall(&[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for needle in [
        "deleted FipsPolicy cp-enforce",
        "removed the label fips.operator.dev/enabled",
        &format!("namespace {ENFORCED}: removed the label {ROUTING_LABEL}"),
        "the CRDs stay",
    ] {
        assert!(
            said.contains(needle),
            "uninstall did not say {needle:?}: {said}"
        );
    }
    assert!(!said.contains("CustomResourceDefinition"), "{said}");
    let out = uninstall(&["--delete-crds"]);
    let said = text(&out);
    assert!(out.status.success(), "again: {said}");
    assert!(
        said.contains("deleted CustomResourceDefinition fipspolicies.fips.operator.dev"),
        "{said}"
    );
    for needle in ["deleted FipsPolicy", "removed the label"] {
        assert!(!said.contains(needle), "done twice: {said}");
    }

    assert_eq!(
        marked(c),
        Vec::<String>::new(),
        "node labels or taints left"
    );
    let routed = c.ok(&["get", "namespaces", "-o", "name", "-l", ROUTING_LABEL]);
    assert!(routed.trim().is_empty(), "routing left: {routed}");
    eventually(60, "the probe DaemonSet to be gone", || {
        let out = c.kubectl_in(&["-n", NS, "get", "daemonset", "fips-operator-probe"], None);
        if out.status.success() {
            Err("still there".into())
        } else {
            Ok(())
        }
    });
    let left = c.ok(&[
        "get",
        "validatingwebhookconfigurations,validatingadmissionpolicies,\
         validatingadmissionpolicybindings,clusterroles,clusterrolebindings",
        "-o",
        "name",
    ]);
    let ours: Vec<&str> = left
        .lines()
        .filter(|l| l.contains("fips-operator"))
        .collect();
    assert!(ours.is_empty(), "left after uninstall: {ours:?}");
    let left = c.ok(&[
        "-n",
        NS,
        "get",
        "all,secrets,serviceaccounts,roles,rolebindings",
        "-l",
        instance,
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "left after uninstall: {left}");
    eventually(60, "the CRDs to be gone", || {
        let crds = c.ok(&["get", "crd", "-o", "name"]);
        if crds.contains("fips.operator.dev") {
            Err(crds)
        } else {
            Ok(())
        }
    });
    let out = c.apply(&pod(ENFORCED, "after-uninstall", legacy));
    assert!(
        out.status.success(),
        "blocked after uninstall: {}",
        text(&out)
    );
    step("uninstall with a policy left (helm's objects, then `fips-operator uninstall`): nothing of ours left, no webhook blocks");
}

/// `up` on a running cluster starts what is missing (here: the stopped controllers) and prints
/// the same two lines; `down` stops every process it started.
fn up_again_and_down(c: &Cluster) {
    let again = Cluster::up_in(&c.dir);
    assert_eq!(again.kubeconfig, c.kubeconfig);
    assert_eq!(again.registry, c.registry);
    std::mem::forget(again);
    let pids: Vec<i32> = c.state()["processes"]
        .as_object()
        .expect("as the control plane answers")
        .values()
        .map(|p| p["pid"].as_i64().expect("as the control plane answers") as i32)
        .collect();
    assert!(pids.len() >= 10, "{pids:?}");
    assert!(
        pids.iter().all(|p| alive(*p)),
        "up left some stopped: {pids:?}"
    );
    c.down();
    let left: Vec<&i32> = pids.iter().filter(|p| alive(**p)).collect();
    assert!(left.is_empty(), "down left processes running: {left:?}");
    step("up again restarted what was stopped; down stopped every process");
}
