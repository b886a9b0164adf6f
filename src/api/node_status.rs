//! FipsStatus: one per node, written by the node probe.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A node's FIPS state and the runtime evidence of the containers running on it. Named after
/// the node, owned by it (garbage-collected with it), written by the node probe.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "fips.operator.dev",
    version = "v1alpha1",
    kind = "FipsStatus",
    plural = "fipsstatuses",
    shortname = "fst",
    status = "FipsStatusStatus",
    printcolumn = r#"{"name":"Node-FIPS","type":"boolean","jsonPath":".status.kernelFipsEnabled"}"#,
    printcolumn = r#"{"name":"Compliant","type":"string","jsonPath":".status.conditions[?(@.type==\"Compliant\")].status"}"#,
    printcolumn = r#"{"name":"Containers","type":"integer","jsonPath":".status.summary.containers"}"#,
    printcolumn = r#"{"name":"Non-Compliant","type":"integer","jsonPath":".status.summary.nonCompliant"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FipsStatusSpec {
    /// The node this status describes.
    pub node_name: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FipsStatusStatus {
    /// /proc/sys/crypto/fips_enabled is 1; null when the file is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_fips_enabled: Option<bool>,
    /// fips=1 on the kernel command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline_fips: Option<bool>,
    /// /etc/crypto-policies/state/current, where the distribution has crypto-policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_policy: Option<String>,
    /// The host's OpenSSL FIPS provider and its version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openssl_fips_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default)]
    pub probe_version: String,
    /// When the probe last looked (RFC 3339).
    #[serde(default)]
    pub probe_time: String,
    #[serde(default)]
    pub containers: Vec<ContainerEntry>,
    #[serde(default)]
    pub summary: NodeSummary,
    /// TLS audits of the node's endpoints (kubelet; API server and etcd on control-plane
    /// nodes): what each accepts that is not FIPS-approved.
    #[serde(default)]
    pub tls: Vec<TlsEndpointStatus>,
    /// Compliant: the node is in FIPS mode, every container's crypto is FIPS-active, and its
    /// audited TLS endpoints accept only approved protocols, suites and groups.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsEndpointStatus {
    pub endpoint: String,
    /// compliant or non-compliant.
    pub outcome: String,
    /// Protocol versions, suites and groups accepted that are not approved.
    #[serde(default)]
    pub not_approved: Vec<String>,
    /// Why the endpoint could not be audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was audited (RFC 3339).
    #[serde(default)]
    pub audited_at: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEntry {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub image: String,
    #[serde(default)]
    pub image_digest: String,
    /// fips-capable, not-fips-capable, no-crypto or unknown (the image's verdict).
    pub verdict: String,
    /// fips-active, fips-inactive, not-fips, no-crypto or unknown (what the process does).
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    pub containers: i64,
    pub compliant: i64,
    pub non_compliant: i64,
    pub unknown: i64,
}
