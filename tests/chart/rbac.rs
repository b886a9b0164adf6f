//! RBAC: each ServiceAccount gets exactly what its code calls, and nothing that escalates.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

use crate::render::{find, render, NS};
use crate::{controller, flag};

/// What the controller's code calls: `scope group resources verbs [resourceNames]`, lists
/// comma-separated, `core` for the core group.
const CONTROLLER_NEEDS: &[&str] = &[
    // src/controller/run.rs spawn_watch: Api::all watches that fill the caches.
    "cluster fips.operator.dev fipspolicies,fipsstatuses,fipsimagereports list,watch",
    "cluster core nodes,namespaces,pods list,watch",
    "cluster apps deployments,statefulsets,daemonsets,replicasets list,watch",
    "cluster batch jobs,cronjobs list,watch",
    // status.rs: patch_status (apply) of FipsPolicy.
    "cluster fips.operator.dev fipspolicies/status patch",
    // scan_queue.rs write_report (and the webhook's Pending reports, run.rs request_scans):
    // apply that creates the report (authorized as create), then its status.
    "cluster fips.operator.dev fipsimagereports create,patch",
    "cluster fips.operator.dev fipsimagereports/status patch",
    // nodes.rs: merge patch of labels and taints.
    "cluster core nodes patch",
    // nodes.rs: the FipsStatus of a node no probe runs on (server-side apply).
    "cluster fips.operator.dev fipsstatuses create,patch",
    "cluster fips.operator.dev fipsstatuses/status patch",
    // namespaces.rs: merge patch of the admission routing label.
    "cluster core namespaces patch",
    // scan_queue.rs pull_secrets: get_opt of a ServiceAccount and of each named Secret.
    "cluster core secrets,serviceaccounts get",
    // kube::runtime::events::Recorder: create, then a merge patch for a series.
    "cluster events.k8s.io events create,patch",
    // Self-managed certificates: the webhook configuration's caBundle, this one only.
    "cluster admissionregistration.k8s.io validatingwebhookconfigurations get,list,watch",
    "cluster admissionregistration.k8s.io validatingwebhookconfigurations patch \
     fips-operator",
    // kube-lease-manager (get, create, patch); daemonset.rs apply of the probe DaemonSet;
    // the self-managed certificate Secret.
    "NS coordination.k8s.io leases get,create,patch",
    "NS apps daemonsets create,patch",
    "NS core secrets get,list,watch,create,update",
];

/// src/probe.rs: its Node (get), the pods of its node (list with a field selector), image
/// reports (get_opt, then write_report's apply and status), its FipsStatus (apply, status).
const PROBE_NEEDS: &[&str] = &[
    "cluster core nodes get",
    "cluster core pods list",
    "cluster fips.operator.dev fipsimagereports get,create,patch",
    "cluster fips.operator.dev fipsimagereports/status patch",
    "cluster fips.operator.dev fipsstatuses create,patch",
    "cluster fips.operator.dev fipsstatuses/status patch",
];

/// An RBAC rule and where it applies (`None`: cluster-wide).
pub struct Grant {
    namespace: Option<String>,
    rule: PolicyRule,
}

/// Every rule bound to the ServiceAccount `sa` of the release namespace.
pub fn grants_of(docs: &[Value], sa: &str) -> Vec<Grant> {
    let mut out = Vec::new();
    let bindings = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding");
    for binding in bindings {
        let subjects = binding["subjects"].as_array().expect("subjects");
        if !subjects
            .iter()
            .any(|s| s["kind"] == "ServiceAccount" && s["name"] == sa && s["namespace"] == NS)
        {
            continue;
        }
        let role_ref = &binding["roleRef"];
        let role = find(
            docs,
            role_ref["kind"].as_str().expect("kind"),
            role_ref["name"].as_str().expect("name"),
        );
        let namespace = binding["metadata"]["namespace"].as_str().map(String::from);
        let rules: Vec<PolicyRule> = serde_json::from_value(role["rules"].clone()).expect("rules");
        out.extend(rules.into_iter().map(|rule| Grant {
            namespace: namespace.clone(),
            rule,
        }));
    }
    out
}

/// Whether `grants` allow `verb` on `(group, resource)` (object `name`, when given) in
/// `namespace` (`None`: cluster-wide, which only cluster-wide grants give).
pub fn allows(
    grants: &[Grant],
    namespace: Option<&str>,
    (group, resource): (&str, &str),
    verb: &str,
    name: Option<&str>,
) -> bool {
    let has = |list: &Option<Vec<String>>, item: &str| {
        list.iter().flatten().any(|x| x == item || x == "*")
    };
    grants.iter().any(|g| {
        (g.namespace.is_none() || g.namespace.as_deref() == namespace)
            && has(&g.rule.api_groups, group)
            && has(&g.rule.resources, resource)
            && g.rule.verbs.iter().any(|v| v == verb || v == "*")
            && match &g.rule.resource_names {
                Some(names) if !names.is_empty() => name.is_some_and(|n| names.contains(&n.into())),
                _ => true,
            }
    })
}

/// Every `scope group/resource verb [names]` the grants give.
fn flatten(grants: &[Grant]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for g in grants {
        let scope = g.namespace.as_deref().unwrap_or("cluster");
        let names = g.rule.resource_names.clone().unwrap_or_default().join(",");
        for group in g.rule.api_groups.iter().flatten() {
            for resource in g.rule.resources.iter().flatten() {
                for verb in &g.rule.verbs {
                    out.insert(format!("{scope} {group}/{resource} {verb} [{names}]"));
                }
            }
        }
    }
    out
}

/// The table lines in the form of [`flatten`].
fn expand(needs: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in needs {
        let f: Vec<&str> = line.split_whitespace().collect();
        let scope = if f[0] == "NS" { NS } else { f[0] };
        let group = if f[1] == "core" { "" } else { f[1] };
        let names = f.get(4).copied().unwrap_or_default();
        for resource in f[2].split(',') {
            for verb in f[3].split(',') {
                out.insert(format!("{scope} {group}/{resource} {verb} [{names}]"));
            }
        }
    }
    out
}

#[test]
fn rbac_grants_each_role_what_its_code_calls_and_nothing_more() {
    let docs = render(&[]);
    let grants = grants_of(&docs, "fips-operator-controller");
    assert_eq!(
        flatten(&grants),
        expand(CONTROLLER_NEEDS),
        "controller RBAC"
    );
    let (_, c) = controller(&docs);
    let probe_sa = flag(&c, "--probe-service-account").expect("--probe-service-account");
    let probe = grants_of(&docs, &probe_sa);
    assert_eq!(flatten(&probe), expand(PROBE_NEEDS), "probe RBAC");

    // Nothing that could escalate, whatever the role.
    let roles = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role");
    for role in roles {
        let name = &role["metadata"]["name"];
        let rules: Vec<PolicyRule> = serde_json::from_value(role["rules"].clone()).expect("rules");
        for r in &rules {
            let words: Vec<&String> = [&r.api_groups, &r.resources]
                .into_iter()
                .flatten()
                .flatten()
                .chain(&r.verbs)
                .collect();
            assert!(
                !words.iter().any(|w| *w == "*"),
                "wildcard in {name}: {r:?}"
            );
            assert!(r.non_resource_urls.is_none(), "{name}: {r:?}");
            let rbac = [
                "clusterroles",
                "clusterrolebindings",
                "roles",
                "rolebindings",
            ];
            assert!(
                !words.iter().any(|w| rbac.contains(&w.as_str())),
                "{name}: {r:?}"
            );
            let verbs = ["escalate", "bind", "impersonate"];
            assert!(
                !words.iter().any(|w| verbs.contains(&w.as_str())),
                "{name}: {r:?}"
            );
        }
    }
    for binding in docs.iter().filter(|d| d["kind"] == "ClusterRoleBinding") {
        assert_ne!(binding["roleRef"]["name"], "cluster-admin");
    }
    // Secrets are read one by one, never listed or watched cluster-wide; the certificate
    // Secret's writes stay in the release namespace.
    for (sa, g) in [("controller", &grants), ("probe", &probe)] {
        for verb in ["list", "watch", "create", "update", "patch", "delete"] {
            let secrets = ("", "secrets");
            assert!(
                !allows(g, None, secrets, verb, None),
                "{sa}: {verb} secrets anywhere"
            );
            assert!(
                !allows(g, Some("kube-system"), secrets, verb, None),
                "{sa}: {verb}"
            );
        }
    }
    assert!(allows(&grants, Some(NS), ("", "secrets"), "create", None));
    let vwc = (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    );
    assert!(allows(&grants, None, vwc, "patch", Some("fips-operator")));
    assert!(!allows(&grants, None, vwc, "patch", Some("someone-elses")));
    let daemonsets = ("apps", "daemonsets");
    assert!(!allows(
        &grants,
        Some("kube-system"),
        daemonsets,
        "create",
        None
    ));
    assert!(!allows(&probe, None, ("", "nodes"), "patch", None));
}

/// The probe's writes to FipsStatus are bound to its own node by an admission policy (the
/// real API server evaluates it in tests/control_plane.rs), which `probe.ownNodeOnly=false`
/// leaves out.
#[test]
fn each_probe_may_write_only_its_own_nodes_status() {
    let docs = render(&[]);
    let policy = find(
        &docs,
        "ValidatingAdmissionPolicy",
        "fips-operator-probe-own-node",
    );
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Fail");
    let rules = &spec["matchConstraints"]["resourceRules"][0];
    assert_eq!(
        rules["resources"],
        serde_json::json!(["fipsstatuses", "fipsstatuses/status"])
    );
    assert_eq!(
        spec["matchConditions"][0]["expression"],
        "request.userInfo.username == \"system:serviceaccount:fips-operator:fips-operator-probe\""
    );
    let binding = find(
        &docs,
        "ValidatingAdmissionPolicyBinding",
        "fips-operator-probe-own-node",
    );
    assert_eq!(
        binding["spec"]["policyName"],
        "fips-operator-probe-own-node"
    );
    let actions = binding["spec"]["validationActions"]
        .as_array()
        .expect("actions");
    assert!(actions.iter().any(|a| a == "Deny"), "{actions:?}");

    let docs = render(&["--set", "probe.ownNodeOnly=false"]);
    assert!(!docs.iter().any(|d| d["kind"]
        .as_str()
        .is_some_and(|k| k.starts_with("ValidatingAdmissionPolicy"))));
}
