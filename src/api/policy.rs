//! FipsPolicy: what the cluster must satisfy, and how strictly.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Violations kept in a policy's status, newest first.
pub const MAX_VIOLATIONS: usize = 20;

/// A FIPS requirement for nodes and workloads. Several policies may exist: every policy whose
/// selectors match applies, the strictest mode wins, and each reports its own status.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "fips.operator.dev",
    version = "v1alpha1",
    kind = "FipsPolicy",
    plural = "fipspolicies",
    shortname = "fp",
    status = "FipsPolicyStatus",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Nodes","type":"string","jsonPath":".status.nodes.summary"}"#,
    printcolumn = r#"{"name":"Violations","type":"integer","jsonPath":".status.violationCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FipsPolicySpec {
    /// Enforce denies non-compliant workloads at admission; Warn admits them with a warning;
    /// Audit only reports.
    pub mode: Mode,
    /// Namespaces this policy applies to (default: all, less `excludedNamespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector_schema")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespaces never checked. The operator's own namespace is always exempt, whatever this
    /// says, so the operator cannot lock itself out.
    #[serde(default = "default_excluded_namespaces")]
    pub excluded_namespaces: Vec<String>,
    /// Nodes that must run in FIPS mode (default: all nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector_schema")]
    pub node_selector: Option<LabelSelector>,
    /// What to do with a selected node that is not in FIPS mode: Label (default) sets
    /// fips.operator.dev/enabled=false, Taint also adds fips.operator.dev/not-fips:NoSchedule,
    /// None only reports.
    #[serde(default)]
    pub node_action: NodeAction,
    /// Which images are checked, and how unjudged or partly validated images are treated.
    #[serde(default)]
    pub images: ImagesSpec,
}

/// A label selector whose requirements the API server checks as Kubernetes evaluates them: an
/// operator other than In, NotIn, Exists or DoesNotExist, or values that do not fit the
/// operator, is refused when the policy is applied, naming the field, instead of failing
/// later at every use of the selector (the probe DaemonSet's node affinity, for one).
fn label_selector_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Option<LabelSelector>>();
    let requirement = schema
        .pointer_mut("/properties/matchExpressions/items")
        .and_then(|v| v.as_object_mut());
    if let Some(requirement) = requirement {
        if let Some(operator) = requirement
            .get_mut("properties")
            .and_then(|p| p.get_mut("operator"))
            .and_then(|o| o.as_object_mut())
        {
            operator.insert(
                "enum".into(),
                serde_json::json!(["In", "NotIn", "Exists", "DoesNotExist"]),
            );
        }
        requirement.insert(
            "x-kubernetes-validations".into(),
            serde_json::json!([{
                "rule": "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
                "message": "values must be non-empty for the operators In and NotIn, and empty for Exists and DoesNotExist"
            }]),
        );
    }
    schema
}

fn default_excluded_namespaces() -> Vec<String> {
    ["kube-system", "kube-public", "kube-node-lease"]
        .map(String::from)
        .to_vec()
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum Mode {
    Audit,
    Warn,
    Enforce,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NodeAction {
    #[default]
    Label,
    Taint,
    None,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum UnknownAction {
    Deny,
    Warn,
    Allow,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagesSpec {
    /// Images never checked: glob patterns over repository names (registry.example/team/*)
    /// or exact digests (sha256:…).
    #[serde(default)]
    pub exempt: Vec<String>,
    /// What admission does while an image has no verdict yet (it always requests a scan).
    /// Unset: Deny under Enforce, Warn otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_action: Option<UnknownAction>,
    /// Accept modules on NIST's modules-in-process list (reported as warnings).
    #[serde(default = "yes")]
    pub accept_in_process_modules: bool,
    /// Accept modules whose certificate is on NIST's historical list (reported as warnings).
    #[serde(default = "yes")]
    pub accept_historical_modules: bool,
}

fn yes() -> bool {
    true
}

impl Default for ImagesSpec {
    fn default() -> Self {
        ImagesSpec {
            exempt: Vec::new(),
            unknown_action: None,
            accept_in_process_modules: true,
            accept_historical_modules: true,
        }
    }
}

impl ImagesSpec {
    /// `unknownAction`, with its mode-dependent default.
    pub fn unknown_action(&self, mode: Mode) -> UnknownAction {
        self.unknown_action.unwrap_or(match mode {
            Mode::Enforce => UnknownAction::Deny,
            Mode::Warn | Mode::Audit => UnknownAction::Warn,
        })
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FipsPolicyStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, NodesCompliant, WorkloadsCompliant, WebhookReady, and kstatus Reconciling/Stalled.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub nodes: NodeCounts,
    #[serde(default)]
    pub workloads: WorkloadCounts,
    /// The most recent violations, newest first (at most 20).
    #[serde(default)]
    #[schemars(length(max = 20))]
    pub violations: Vec<Violation>,
    /// All violations, also those not listed.
    #[serde(default)]
    pub violation_count: i64,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeCounts {
    /// Nodes this policy requires to run in FIPS mode.
    pub total: i64,
    /// Of those, the ones whose kernel and boot flag say FIPS.
    pub fips_enabled: i64,
    /// `fipsEnabled/total`, for `kubectl get`.
    pub summary: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCounts {
    /// Containers (init and ephemeral included) of pods in selected namespaces.
    pub total: i64,
    pub compliant: i64,
    pub non_compliant: i64,
    /// Containers whose image has no verdict yet.
    pub unknown: i64,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub image: String,
    /// What is wrong, and the evidence (a binary and its finding, or the node's FIPS state).
    pub reason: String,
    /// When the violation was first seen (RFC 3339).
    pub since: String,
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    /// Both selectors carry the operator enum and the values rule in the generated CRD (the
    /// schema is patched by path: a change in how schemars lays it out must not drop them).
    #[test]
    fn selectors_check_their_operators_and_values() {
        let crd = serde_json::to_value(super::FipsPolicy::crd()).expect("crd as JSON");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"];
        for selector in ["namespaceSelector", "nodeSelector"] {
            let requirement = &spec[selector]["properties"]["matchExpressions"]["items"];
            assert_eq!(
                requirement["properties"]["operator"]["enum"],
                serde_json::json!(["In", "NotIn", "Exists", "DoesNotExist"]),
                "{selector}: {requirement}"
            );
            let rule = requirement["x-kubernetes-validations"][0]["rule"]
                .as_str()
                .unwrap_or_default();
            assert!(
                rule.contains("size(self.values) > 0"),
                "{selector}: {requirement}"
            );
        }
    }
}
