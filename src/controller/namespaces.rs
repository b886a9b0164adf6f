//! Admission routing: the label on each namespace that tells the API server which of the
//! webhook configuration's webhooks to call for it (`--admission-label`). The label says the
//! strictest mode of the policies judging the namespace; a namespace no policy judges carries
//! none, and the API server never calls the webhook for it, so a fresh install, an install
//! without policies or a webhook outage cannot refuse anything there.

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::{AdmissionRouting, Context, Error};
use crate::api::Mode;
use crate::policy::cluster::{admission_mode, NamespaceFacts};

/// The label value for a mode.
pub fn label_value(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Warn => "warn",
        Mode::Audit => "audit",
    }
}

/// Where the webhook configuration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Not there (not installed, or uninstalled): no namespace is routed.
    Absent,
    /// There, but a webhook has no caBundle yet: the API server could not call it, so no
    /// namespace is newly routed to it (those already routed stay, while a reset caBundle is
    /// written again).
    NoCaBundle,
    /// Every webhook carries a caBundle.
    Ready,
}

pub fn published(config: Option<&ValidatingWebhookConfiguration>) -> Published {
    let Some(config) = config else {
        return Published::Absent;
    };
    let webhooks = config.webhooks.as_deref().unwrap_or_default();
    let all_carry = !webhooks.is_empty()
        && webhooks.iter().all(|w| {
            w.client_config
                .ca_bundle
                .as_ref()
                .is_some_and(|b| !b.0.is_empty())
        });
    if all_carry {
        Published::Ready
    } else {
        Published::NoCaBundle
    }
}

/// The label value `ns` should carry, given what it carries now.
pub fn wanted_label(
    mode: Option<Mode>,
    current: Option<&str>,
    published: Published,
) -> Option<&'static str> {
    let wanted = mode.map(label_value);
    match published {
        Published::Absent => None,
        Published::NoCaBundle => wanted.filter(|_| current.is_some()),
        Published::Ready => wanted,
    }
}

/// Brings every namespace's admission label in line with the policies. Returns how many
/// namespaces were patched.
pub async fn reconcile_namespaces(ctx: &Context) -> Result<usize, Error> {
    let Some(AdmissionRouting {
        label,
        webhook_config,
    }) = &ctx.settings.admission_routing
    else {
        return Ok(0);
    };
    let configs = ctx.stores.webhook_configs.state();
    let config = configs.iter().find(|c| &c.name_any() == webhook_config);
    let published = published(config.map(|c| &**c));
    let policies = ctx.stores.policies.state();
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let mut namespaces = ctx.stores.namespaces.state();
    namespaces.sort_by_key(|n| n.name_any());
    let (mut patched, mut first_error) = (0, None);
    for ns in namespaces {
        let facts = NamespaceFacts {
            name: ns.name_any(),
            labels: ns.labels().clone(),
        };
        let mode = admission_mode(
            policies.iter().map(|p| &p.spec),
            &facts,
            &ctx.settings.namespace,
        );
        let current = facts.labels.get(label).map(String::as_str);
        let wanted = wanted_label(mode, current, published);
        if current == wanted {
            continue;
        }
        let patch = json!({"metadata": {"labels": {label.as_str(): wanted}}});
        // One namespace failing (being deleted, say) does not hold up the others.
        match api
            .patch(&facts.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                patched += 1;
                tracing::info!(namespace = %facts.name, label = %label, value = ?wanted, "admission routing changed");
            }
            Err(e) => {
                first_error.get_or_insert(Error::Kube {
                    what: format!("labelling namespace {} ({label})", facts.name),
                    source: e,
                });
            }
        }
    }
    first_error.map_or(Ok(patched), Err)
}
