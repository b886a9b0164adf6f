//! `--self-managed-certs`: the lease holder keeps the webhook's CA and serving certificate in
//! a Secret (what [`crate::webhook::certs::plan`] says it should hold) and the CA bundle in
//! every webhook of the ValidatingWebhookConfiguration (written again whenever something,
//! such as `helm upgrade`, resets it). The Secret is owned by the configuration, so removing
//! the configuration (uninstalling) removes the Secret too.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::ByteString;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use super::{Context, Error, SelfManagedCerts};
use crate::webhook::certs::{self, CertData};

/// The Secret's contents as text (keys whose values are not UTF-8 are left out: `plan` then
/// finds them missing and makes them again).
pub fn secret_data(secret: &Secret) -> CertData {
    secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.0.clone()).ok()?)))
        .collect()
}

/// What changed in one pass, for tests and logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub secret_written: bool,
    pub bundle_written: bool,
}

/// One pass: the Secret brought to what it should hold at `now` (unix seconds), then the CA
/// bundle into the webhook configuration.
pub async fn reconcile_certificates(
    ctx: &Context,
    cfg: &SelfManagedCerts,
    now: i64,
) -> Result<Outcome, Error> {
    let ns = &ctx.settings.namespace;
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(ctx.client.clone());
    let config = configs
        .get_opt(&cfg.webhook_config)
        .await
        .map_err(Error::kube(format!(
            "reading ValidatingWebhookConfiguration {}",
            cfg.webhook_config
        )))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let what = format!("Secret {ns}/{}", cfg.secret);
    let existing = secrets
        .get_opt(&cfg.secret)
        .await
        .map_err(Error::kube(format!("reading {what}")))?;
    let mut data = existing.as_ref().map(secret_data).unwrap_or_default();
    let names = certs::service_dns_names(&cfg.service, ns);
    let mut outcome = Outcome::default();
    let owner = config.as_ref().and_then(owner_of);
    let owner_missing = owner.as_ref().is_some_and(|o| {
        existing
            .as_ref()
            .is_some_and(|s| !s.owner_references().contains(o))
    });
    let plan = certs::plan(&data, &names, now, &cfg.lifetimes)
        .map_err(|e| Error::Certificates(format!("{what}: {e}")))?;
    if plan.is_some() || owner_missing {
        let reasons = plan
            .as_ref()
            .map(|p| p.reasons.join("; "))
            .unwrap_or_default();
        if let Some(p) = plan {
            data = p.data;
        }
        let mut secret = Secret {
            type_: Some("kubernetes.io/tls".into()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        };
        secret.metadata.name = Some(cfg.secret.clone());
        secret.metadata.namespace = Some(ns.clone());
        secret.metadata.labels = Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            super::MANAGER.to_string(),
        )]));
        secret.metadata.owner_references = owner.map(|o| vec![o]);
        match &existing {
            Some(old) => {
                // Replaced with the resourceVersion read: a concurrent change is a conflict,
                // retried on the next pass, never overwritten.
                secret.metadata.resource_version = old.resource_version();
                secrets
                    .replace(&cfg.secret, &PostParams::default(), &secret)
                    .await
                    .map_err(Error::kube(format!("writing {what}")))?;
            }
            None => {
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .map_err(Error::kube(format!("creating {what}")))?;
            }
        }
        tracing::info!(secret = %what, reasons = %reasons, "webhook certificates written");
        outcome.secret_written = true;
    }

    let Some(mut config) = config else {
        return Err(Error::Certificates(format!(
            "ValidatingWebhookConfiguration {} not found: the webhook's CA cannot be published \
             (install it with the chart or config/webhook, or set --webhook-config)",
            cfg.webhook_config
        )));
    };
    let bundle = ByteString(certs::ca_bundle(&data).into_bytes());
    let mut changed = false;
    for webhook in config.webhooks.iter_mut().flatten() {
        if webhook.client_config.ca_bundle.as_ref() != Some(&bundle) {
            webhook.client_config.ca_bundle = Some(bundle.clone());
            changed = true;
        }
    }
    if changed {
        configs
            .replace(&cfg.webhook_config, &PostParams::default(), &config)
            .await
            .map_err(Error::kube(format!(
                "writing the caBundle of ValidatingWebhookConfiguration {}",
                cfg.webhook_config
            )))?;
        tracing::info!(config = %cfg.webhook_config, "webhook CA bundle published");
        outcome.bundle_written = true;
    }
    Ok(outcome)
}

fn owner_of(config: &ValidatingWebhookConfiguration) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: ValidatingWebhookConfiguration::api_version(&()).into_owned(),
        kind: ValidatingWebhookConfiguration::kind(&()).into_owned(),
        name: config.name_any(),
        uid: config.uid()?,
        ..OwnerReference::default()
    })
}
