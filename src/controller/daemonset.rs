//! The probe DaemonSet: one probe per node a policy selects, built from the
//! controller's own settings, owned by the policies so it is garbage-collected with the last
//! of them. Applied server-side by the lease holder only.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, AppArmorProfile, Capabilities, Container, EnvVar, EnvVarSource, HostPathVolumeSource,
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SELinuxOptions,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::{Context, Error, Settings, MANAGER};
use crate::api::FipsPolicy;

pub const NAME: &str = crate::cluster::facts::PROBE_DAEMONSET;

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "fips-operator".into()),
        ("app.kubernetes.io/component".into(), "probe".into()),
    ])
}

/// A policy's node selector as a node-affinity term. `None`: the policy selects every node.
fn selector_term(selector: Option<&LabelSelector>) -> Option<NodeSelectorTerm> {
    let sel = selector?;
    let mut exprs: Vec<NodeSelectorRequirement> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| NodeSelectorRequirement {
            key: k.clone(),
            operator: "In".into(),
            values: Some(vec![v.clone()]),
        })
        .collect();
    exprs.extend(
        sel.match_expressions
            .iter()
            .flatten()
            .map(|e| NodeSelectorRequirement {
                key: e.key.clone(),
                operator: e.operator.clone(),
                values: e.values.clone(),
            }),
    );
    (!exprs.is_empty()).then_some(NodeSelectorTerm {
        match_expressions: Some(exprs),
        match_fields: None,
    })
}

/// The DaemonSet the policies call for; `None` when there is no policy (the garbage collector
/// removes it with its last owner).
pub fn probe_daemonset(settings: &Settings, policies: &[Arc<FipsPolicy>]) -> Option<DaemonSet> {
    if policies.is_empty() {
        return None;
    }
    let mut policies = policies.to_vec();
    policies.sort_by_key(|p| p.name_any());
    let owners: Vec<OwnerReference> = policies
        .iter()
        .filter_map(|p| p.controller_owner_ref(&()))
        .map(|mut o| {
            // Several policies own it: none of them is "the" controller.
            o.controller = None;
            o
        })
        .collect();
    // Terms are ORed: a node any policy selects gets a probe. One policy without a node
    // selector means every node.
    let terms: Option<Vec<NodeSelectorTerm>> = policies
        .iter()
        .map(|p| selector_term(p.spec.node_selector.as_ref()))
        .collect();
    let affinity = terms.map(|terms| Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let host_path = |name: &str, path: &str| Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    };
    let quantity = |q: &str| Quantity(q.into());
    let options = &settings.probe_pod;
    let container = Container {
        name: "probe".into(),
        image: Some(settings.probe_image.clone()),
        args: Some(vec![
            "probe".into(),
            "--host-root".into(),
            "/host".into(),
            "--interval".into(),
            format!("{}s", settings.probe_interval.as_secs()),
        ]),
        env: Some(
            [("NODE_NAME", "spec.nodeName"), ("HOST_IP", "status.hostIP")]
                .into_iter()
                .map(|(name, path)| EnvVar {
                    name: name.into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: path.into(),
                            api_version: None,
                        }),
                        ..Default::default()
                    }),
                    value: None,
                })
                .collect(),
        ),
        volume_mounts: Some(vec![
            mount("host-proc", "/host/proc"),
            mount("host-etc", "/host/etc"),
            mount("host-usr", "/host/usr"),
        ]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".into(), quantity("10m")),
                ("memory".into(), quantity("32Mi")),
            ])),
            limits: Some(BTreeMap::from([("memory".into(), quantity("128Mi"))])),
            ..Default::default()
        }),
        // Least privilege: no privileged mode; SYS_PTRACE to read other
        // processes' /proc/<pid>/root and environ, DAC_READ_SEARCH to read their files.
        security_context: Some(SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_user: Some(0),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: Some(vec!["SYS_PTRACE".into(), "DAC_READ_SEARCH".into()]),
            }),
            app_armor_profile: options.apparmor_profile.as_ref().map(|p| AppArmorProfile {
                type_: p.clone(),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Some(DaemonSet {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels()),
            owner_references: Some(owners),
            ..Default::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(settings.probe_service_account.clone()),
                    host_pid: Some(true),
                    affinity,
                    // The probe must run on the nodes that are not in FIPS mode too, tainted
                    // ones included: tolerate every taint.
                    tolerations: Some(vec![Toleration {
                        operator: Some("Exists".into()),
                        ..Default::default()
                    }]),
                    priority_class_name: options.priority_class.clone(),
                    // Linux nodes only: the probe reads Linux's /proc (a probe on a Windows
                    // node would never become ready).
                    node_selector: Some(BTreeMap::from([(
                        "kubernetes.io/os".into(),
                        "linux".into(),
                    )])),
                    security_context: options.selinux_type.as_ref().map(|t| PodSecurityContext {
                        se_linux_options: Some(SELinuxOptions {
                            type_: Some(t.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    // /usr: the host's OpenSSL FIPS provider and os-release.
                    volumes: Some(vec![
                        host_path("host-proc", "/proc"),
                        host_path("host-etc", "/etc"),
                        host_path("host-usr", "/usr"),
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Applies the DaemonSet the policies call for. Server-side apply is idempotent: an unchanged
/// DaemonSet is a no-op on the API server, and fields it does not own stay.
pub async fn reconcile_daemonset(ctx: &Context) -> Result<bool, Error> {
    let Some(ds) = probe_daemonset(&ctx.settings, &ctx.stores.policies.state()) else {
        return Ok(false);
    };
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ctx.settings.namespace);
    let mut body = serde_json::to_value(&ds).map_err(|e| Error::Encode(e.to_string()))?;
    body["apiVersion"] = "apps/v1".into();
    body["kind"] = "DaemonSet".into();
    // Present, and still running our probe image (the cache keeps container images).
    let present = ctx
        .stores
        .daemonsets
        .get(&ObjectRef::new(NAME).within(&ctx.settings.namespace))
        .is_some_and(|live| {
            live.spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.as_deref())
                == Some(ctx.settings.probe_image.as_str())
        });
    let applied = || {
        ctx.applied_daemonset
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    };
    if present && applied().as_ref() == Some(&body) {
        return Ok(false);
    }
    api.patch(
        NAME,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(Error::kube(format!(
        "applying DaemonSet {}/{NAME}",
        ctx.settings.namespace
    )))?;
    *applied() = Some(body);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ProbePod;

    /// Options set to "" in the chart leave the fields to the cluster's defaults.
    #[test]
    fn unset_probe_pod_options_are_left_out() {
        let settings = Settings {
            probe_pod: ProbePod {
                priority_class: None,
                selinux_type: None,
                apparmor_profile: None,
            },
            ..Settings::default()
        };
        let mut policy = FipsPolicy::new("a", crate::policy::test_spec(crate::api::Mode::Audit));
        policy.metadata.uid = Some("uid-a".into());
        let ds = probe_daemonset(&settings, &[Arc::new(policy)]).expect("a DaemonSet");
        let pod = ds.spec.and_then(|s| s.template.spec).expect("pod spec");
        assert_eq!(pod.priority_class_name, None);
        assert_eq!(pod.security_context, None);
        assert_eq!(
            pod.containers[0]
                .security_context
                .as_ref()
                .and_then(|c| c.app_armor_profile.clone()),
            None
        );
        // Linux nodes whatever the options.
        assert_eq!(
            pod.node_selector,
            Some(BTreeMap::from([(
                "kubernetes.io/os".into(),
                "linux".into()
            )]))
        );
    }
}
