//! The operator's API: group `fips.operator.dev`, version `v1alpha1`, all
//! cluster-scoped. Field doc comments become the CRDs' schema text: they are written for users.

mod conditions;
mod image_report;
mod node_status;
mod policy;

pub use conditions::{set_condition, ConditionStatus};
pub use image_report::{
    image_report_name, FipsImageReport, FipsImageReportSpec, FipsImageReportStatus, ImageBinary,
    ImagePhase, ImageSummary,
};
pub use node_status::{
    ContainerEntry, FipsStatus, FipsStatusSpec, FipsStatusStatus, NodeSummary, TlsEndpointStatus,
};
pub use policy::{
    FipsPolicy, FipsPolicySpec, FipsPolicyStatus, ImagesSpec, Mode, NodeAction, NodeCounts,
    UnknownAction, Violation, WorkloadCounts, MAX_VIOLATIONS,
};

pub const GROUP: &str = "fips.operator.dev";
pub const VERSION: &str = "v1alpha1";

/// Label the operator writes on every Node it judges: `true` or `false`.
pub const NODE_FIPS_LABEL: &str = "fips.operator.dev/enabled";
/// Taint for nodes that are not in FIPS mode, when a policy asks for `nodeAction: Taint`.
pub const NODE_TAINT_KEY: &str = "fips.operator.dev/not-fips";
/// Labels on a FipsImageReport that let a pod's `imageID` find it by any digest.
pub const REPORT_INDEX_DIGEST_LABEL_PREFIX: &str = "index.fips.operator.dev/";

/// Condition types.
pub mod condition {
    pub const READY: &str = "Ready";
    pub const NODES_COMPLIANT: &str = "NodesCompliant";
    pub const WORKLOADS_COMPLIANT: &str = "WorkloadsCompliant";
    pub const WEBHOOK_READY: &str = "WebhookReady";
    pub const RECONCILING: &str = "Reconciling";
    pub const STALLED: &str = "Stalled";
    pub const COMPLIANT: &str = "Compliant";
}

/// Every CRD this operator defines, in a stable order.
pub fn crds(
) -> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![FipsPolicy::crd(), FipsStatus::crd(), FipsImageReport::crd()]
}
