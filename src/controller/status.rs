//! FipsPolicy status: each policy's counts, violations and conditions from the cached state.
//! Written by server-side apply on the status subresource, only when it changed.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::{Context, Error, MANAGER};
use crate::api::FipsPolicy;
use crate::inspect::Day;
use crate::policy::cluster::evaluate_policy;
use crate::policy::ImagePolicy;

pub fn today(now: Timestamp) -> Day {
    Day::from_unix_days(now.as_second().div_euclid(86_400))
}

/// Re-evaluates every policy; returns how many statuses were written.
pub async fn reconcile_policies(ctx: &Context, now: Timestamp) -> Result<usize, Error> {
    let api: Api<FipsPolicy> = Api::all(ctx.client.clone());
    let mut policies = ctx.stores.policies.state();
    policies.sort_by_key(|p| p.name_any());
    // Facts differ between policies only in how module validation is accepted: build them
    // once per combination that is in use.
    let mut facts = HashMap::new();
    let mut written = 0;
    let mut first_error = None;
    for policy in policies {
        let image_policy = ImagePolicy {
            accept_in_process: policy.spec.images.accept_in_process_modules,
            accept_historical: policy.spec.images.accept_historical_modules,
        };
        let facts = facts.entry(image_policy).or_insert_with(|| {
            ctx.stores
                .cluster_facts(&ctx.settings, &ctx.registry, image_policy, now)
        });
        let previous = policy.status.clone().unwrap_or_default();
        let status = evaluate_policy(
            &policy.spec,
            facts,
            &previous,
            policy.metadata.generation,
            now,
        );
        if status == previous {
            continue;
        }
        let name = policy.name_any();
        let patch = json!({
            "apiVersion": "fips.operator.dev/v1alpha1",
            "kind": "FipsPolicy",
            "status": status,
        });
        // One policy failing does not hold up the others.
        if let Err(e) = api
            .patch_status(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
        {
            first_error.get_or_insert(Error::Kube {
                what: format!("writing the status of FipsPolicy {name}"),
                source: e,
            });
            continue;
        }
        written += 1;
    }
    first_error.map_or(Ok(written), Err)
}
