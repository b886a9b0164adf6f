//! `--self-managed-certs`: the lease holder keeps the webhook's CA and serving certificate in
//! a Secret (what [`crate::webhook::certs::plan`] says it should hold) and the CA bundle in
//! every webhook of the ValidatingWebhookConfiguration (written again whenever something,
//! such as `helm upgrade`, resets it). The Secret is owned by the configuration, so removing
//! the configuration (uninstalling) removes the Secret too.
//!
//! Order: a pass that changes the Secret first adds what it will hold to the caBundle of every
//! webhook (beside what is live), then writes the Secret; CAs are only taken out of the
//! caBundle by a later pass that leaves the Secret alone. So the API server always trusts the
//! certificate that replicas serve, before and after they load the new one. The caBundle is
//! written with a JSON patch that touches only `webhooks[i].clientConfig.caBundle` and tests
//! the resourceVersion read: a concurrent change is a conflict, retried on the next pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingWebhook, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};

use super::server::Readiness;
use super::{Context, Error, SelfManagedCerts};
use crate::webhook::certs::{self, CertData};
use crate::webhook::server::{certified_key, SharedCert};

/// The type the Secret must have (and the one it is created with).
pub const SECRET_TYPE: &str = "kubernetes.io/tls";

/// The content type of a JSON patch (RFC 6902).
pub const JSON_PATCH: &str = "application/json-patch+json";

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

/// What every replica does with the Secret its watch sees: the serving certificate in it is
/// loaded into what the webhook serves, and the first one loaded meets the readiness
/// condition it was given (`/ready` waits for it: until then every handshake fails).
pub struct ServingLoader {
    what: String,
    serving: Arc<SharedCert>,
    first: Option<Readiness>,
}

impl ServingLoader {
    /// `what` names the Secret in messages.
    pub fn new(what: String, serving: Arc<SharedCert>, readiness: Readiness) -> ServingLoader {
        ServingLoader {
            what,
            serving,
            first: Some(readiness),
        }
    }

    /// Loads the Secret's serving certificate: `Ok(false)` when it holds none, an error
    /// (and the certificate in use kept) when it cannot be used.
    pub fn load(&mut self, secret: &Secret) -> anyhow::Result<bool> {
        let data = secret_data(secret);
        let (Some(cert), Some(key)) = (data.get(certs::TLS_CERT), data.get(certs::TLS_KEY)) else {
            return Ok(false);
        };
        let what = &self.what;
        let ck = certified_key(
            cert.as_bytes(),
            key.as_bytes(),
            &format!("{what} {}", certs::TLS_CERT),
            &format!("{what} {}", certs::TLS_KEY),
        )?;
        self.serving.set(ck);
        if let Some(r) = self.first.take() {
            r.met();
        }
        Ok(true)
    }
}

/// What changed in one pass, for tests and logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub secret_written: bool,
    pub bundle_written: bool,
}

/// The caBundle a webhook holds now, as text.
fn live_bundle(webhook: &ValidatingWebhook) -> String {
    webhook
        .client_config
        .ca_bundle
        .as_ref()
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .unwrap_or_default()
}

/// One pass: the caBundle and the Secret brought to what they should hold at `now` (unix
/// seconds), in the order the module documentation gives.
pub async fn reconcile_certificates(
    ctx: &Context,
    cfg: &SelfManagedCerts,
    now: i64,
) -> Result<Outcome, Error> {
    let ns = &ctx.settings.namespace;
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(ctx.client.clone());
    let config_what = format!("ValidatingWebhookConfiguration {}", cfg.webhook_config);
    let mut config = configs
        .get_opt(&cfg.webhook_config)
        .await
        .map_err(Error::kube(format!("reading {config_what}")))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let what = format!("Secret {ns}/{}", cfg.secret);
    let existing = secrets
        .get_opt(&cfg.secret)
        .await
        .map_err(Error::kube(format!("reading {what}")))?;
    if let Some(s) = &existing {
        let type_ = s.type_.as_deref().unwrap_or("Opaque");
        if type_ != SECRET_TYPE {
            return Err(Error::Certificates(format!(
                "{what} exists with type {type_}, not {SECRET_TYPE}, and the type of a Secret \
                 cannot be changed: delete it (the operator then creates it) or choose another \
                 name with --cert-secret"
            )));
        }
    }
    let mut data = existing.as_ref().map(secret_data).unwrap_or_default();
    let names = certs::service_dns_names(&cfg.service, ns);

    // What every webhook's live caBundle trusts: a next CA signs only once it is in there.
    let live: Vec<String> = config
        .iter()
        .flat_map(|c| c.webhooks.iter().flatten())
        .map(live_bundle)
        .collect();
    let published = certs::published_in_all(&live.iter().map(String::as_str).collect::<Vec<_>>());

    let owner = config.as_ref().and_then(owner_of);
    let owner_missing = owner.as_ref().is_some_and(|o| {
        existing
            .as_ref()
            .is_some_and(|s| !s.owner_references().iter().any(|r| r.uid == o.uid))
    });
    let plan = certs::plan(&data, &names, now, &cfg.lifetimes, &published)
        .map_err(|e| Error::Certificates(format!("{what}: {e}")))?;
    let write_secret = plan.is_some() || owner_missing;
    let reasons = plan
        .as_ref()
        .map(|p| p.reasons.join("; "))
        .unwrap_or_default();
    if let Some(p) = plan {
        data = p.data;
    }
    let bundle = certs::ca_bundle(&data);
    let mut outcome = Outcome::default();

    if write_secret {
        // First every webhook trusts what replicas serve now and what they will serve.
        let mut held_back = None;
        if let Some(c) = &config {
            let added = publish(ctx, c, &config_what, |live| {
                (!certs::bundle_contains(live, &bundle)).then(|| certs::bundle_union(live, &bundle))
            })
            .await;
            match added {
                Ok(Some(written)) => {
                    tracing::info!(config = %cfg.webhook_config, "webhook CA bundle extended before the Secret changes");
                    config = Some(written);
                    outcome.bundle_written = true;
                }
                Ok(None) => {}
                Err(e) => {
                    let signer_published = data
                        .get(certs::CA_CERT)
                        .is_some_and(|ca| certs::is_published(&published, ca));
                    if !signer_published {
                        // Replicas would serve a certificate the API server does not trust.
                        return Err(e);
                    }
                    // The signer is trusted already (a serving certificate renewed, a next
                    // CA made): the Secret may change; the error is still reported.
                    held_back = Some(e);
                }
            }
        }
        let target = (&secrets, cfg.secret.as_str(), what.as_str());
        write_secret_object(ctx, target, existing.as_ref(), &data, owner).await?;
        tracing::info!(secret = %what, reasons = %reasons, "webhook certificates written");
        outcome.secret_written = true;
        if let Some(e) = held_back {
            return Err(e);
        }
    }

    let Some(config) = config else {
        return Err(Error::Certificates(format!(
            "{config_what} not found: the webhook's CA cannot be published \
             (install it with the chart or config/webhook, or set --webhook-config)"
        )));
    };
    if !write_secret {
        // The Secret is as it should be (and replicas had a pass to load it): the caBundle
        // is exactly its CAs, whatever was written there since.
        let exact = publish(ctx, &config, &config_what, |live| {
            (live != bundle).then(|| bundle.clone())
        })
        .await?;
        if exact.is_some() {
            tracing::info!(config = %cfg.webhook_config, "webhook CA bundle published");
            outcome.bundle_written = true;
        }
    }
    Ok(outcome)
}

/// The Secret created, or replaced from what was read (with its resourceVersion: a concurrent
/// change is a conflict): labels, annotations, finalizers, owners and data keys that others
/// set are kept.
async fn write_secret_object(
    ctx: &Context,
    (secrets, name, what): (&Api<Secret>, &str, &str),
    existing: Option<&Secret>,
    data: &CertData,
    owner: Option<OwnerReference>,
) -> Result<(), Error> {
    let ours = data
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())));
    let label = (
        "app.kubernetes.io/managed-by".to_string(),
        super::MANAGER.to_string(),
    );
    match existing {
        Some(old) => {
            let mut secret = old.clone();
            let mut all = old.data.clone().unwrap_or_default();
            all.retain(|k, _| !certs::KEYS.contains(&k.as_str()));
            all.extend(ours);
            secret.data = Some(all);
            secret.string_data = None;
            secret.metadata.managed_fields = None;
            secret
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend([label]);
            if let Some(o) = owner {
                let owners = secret
                    .metadata
                    .owner_references
                    .get_or_insert_with(Vec::new);
                if !owners.iter().any(|r| r.uid == o.uid) {
                    owners.push(o);
                }
            }
            secrets
                .replace(name, &PostParams::default(), &secret)
                .await
                .map_err(Error::kube(format!("writing {what}")))?;
        }
        None => {
            let mut secret = Secret {
                type_: Some(SECRET_TYPE.into()),
                data: Some(ours.collect()),
                ..Secret::default()
            };
            secret.metadata.name = Some(name.to_string());
            secret.metadata.namespace = Some(ctx.settings.namespace.clone());
            secret.metadata.labels = Some(BTreeMap::from([label]));
            secret.metadata.owner_references = owner.map(|o| vec![o]);
            secrets
                .create(&PostParams::default(), &secret)
                .await
                .map_err(Error::kube(format!("creating {what}")))?;
        }
    }
    Ok(())
}

/// The caBundle of each webhook for which `wanted(live bundle)` gives one, in one JSON patch
/// that tests the resourceVersion read and touches nothing else: the configuration as
/// written, or `None` when no webhook needed a change.
async fn publish(
    ctx: &Context,
    config: &ValidatingWebhookConfiguration,
    what: &str,
    wanted: impl Fn(&str) -> Option<String>,
) -> Result<Option<ValidatingWebhookConfiguration>, Error> {
    let ops = bundle_patch(config, wanted);
    if ops.is_empty() {
        return Ok(None);
    }
    let failed = || Error::kube(format!("writing the caBundle of {what}"));
    // kube's `Patch::Json` needs its `jsonpatch` feature: the same request, built by hand.
    let mut request = kube::core::Request::new(ValidatingWebhookConfiguration::url_path(&(), None))
        .patch(
            &config.name_any(),
            &PatchParams::default(),
            &Patch::Merge(Value::Array(ops)),
        )
        .map_err(|e| failed()(kube::Error::BuildRequest(e)))?;
    request.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(JSON_PATCH),
    );
    let written = ctx
        .client
        .request::<ValidatingWebhookConfiguration>(request)
        .await
        .map_err(failed())?;
    Ok(Some(written))
}

/// The JSON patch (RFC 6902) operations that set the caBundle of each webhook for which
/// `wanted` gives one, after a `test` of the resourceVersion; empty when none does.
pub fn bundle_patch(
    config: &ValidatingWebhookConfiguration,
    wanted: impl Fn(&str) -> Option<String>,
) -> Vec<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ops: Vec<Value> = config
        .webhooks
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, w)| {
            let value = wanted(&live_bundle(w))?;
            Some(
                json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"),
                        "value": b64.encode(value)}),
            )
        })
        .collect();
    if !ops.is_empty() {
        if let Some(rv) = config.resource_version() {
            ops.insert(
                0,
                json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv}),
            );
        }
    }
    ops
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
