//! The admission webhook: `AdmissionReview` v1 for Pods and the pod templates
//! of workloads, decided by `policy::admission`, served over HTTPS (`server`).

pub mod certs;
pub mod server;
pub mod tags;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::PodSpec;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::api::{FipsImageReport, FipsPolicySpec, ImagePhase};
use crate::cluster::facts::{report_verdict, without_answered_pending};
use crate::inspect::{Day, ModuleRegistry};
use crate::policy::admission::{
    decide, Context, ImageKnowledge, ImageVerdicts, NamedPolicy, NoVerdict, Outcome, Subject,
};
use crate::policy::cluster::{ImageVerdict, NodeFacts};
use crate::policy::ImagePolicy;
use tags::{Resolution, TagResolver};

/// The pod spec of a Pod, or of a workload's pod template; `None` for other kinds, an error
/// naming the field when the object's spec does not decode.
pub fn pod_spec(kind: &str, obj: &Value) -> Option<Result<PodSpec, String>> {
    let (spec, path) = match kind {
        "Pod" => (&obj["spec"], "spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => (&obj["spec"]["template"]["spec"], "spec.template.spec"),
        "CronJob" => (
            &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            "spec.jobTemplate.spec.template.spec",
        ),
        _ => return None,
    };
    Some(
        serde_json::from_value(spec.clone())
            .map_err(|e| format!("{kind} {path} is not a PodSpec: {e}")),
    )
}

/// Image verdicts from FipsImageReport objects, derived under each policy when read (the
/// webhook's standalone mode, and `fips-operator admit`).
pub struct ReportVerdicts {
    pub reports: Vec<FipsImageReport>,
    pub registry: ModuleRegistry,
    pub today: Day,
    /// The cluster's node platforms (`linux/amd64`, …); empty where they are not known. An
    /// index digest is compliant only when every one of them has its platform report.
    pub platforms: Vec<String>,
}

impl ReportVerdicts {
    fn matching(&self, image: &str) -> Vec<&FipsImageReport> {
        let digest = image.split_once('@').map(|(_, d)| d);
        let found: Vec<&FipsImageReport> = self
            .reports
            .iter()
            .filter(|r| match digest {
                Some(d) => {
                    r.spec.digest == d
                        || r.status
                            .as_ref()
                            .is_some_and(|s| s.index_digests.iter().any(|x| x == d))
                }
                // A tag: the references a report has seen.
                None => r
                    .status
                    .as_ref()
                    .is_some_and(|s| s.images.iter().any(|x| x == image)),
            })
            .collect();
        without_answered_pending(found)
    }
}

fn rank(k: &ImageKnowledge) -> u8 {
    match k {
        ImageKnowledge::Compliant => 0,
        ImageKnowledge::NotJudged => 1,
        ImageKnowledge::Unknown { .. } => 2,
        ImageKnowledge::NonCompliant { .. } => 3,
    }
}

impl ImageVerdicts for ReportVerdicts {
    fn lookup(&self, image: &str, policy: ImagePolicy) -> ImageKnowledge {
        let mut worst: Option<ImageKnowledge> = None;
        for r in self.matching(image) {
            let name = r.metadata.name.clone().unwrap_or_default();
            let status = r.status.clone().unwrap_or_default();
            let k = match report_verdict(r, policy, &self.registry, self.today) {
                ImageVerdict::Compliant => ImageKnowledge::Compliant,
                ImageVerdict::NonCompliant(first) => {
                    let mut reasons = vec![first];
                    reasons.extend(status.reasons.iter().skip(1).take(4).cloned());
                    ImageKnowledge::NonCompliant {
                        reasons,
                        details: format!("kubectl get fir {name} -o yaml"),
                    }
                }
                ImageVerdict::Unknown if status.phase == ImagePhase::Pending => {
                    ImageKnowledge::NotJudged
                }
                ImageVerdict::Unknown => ImageKnowledge::Unknown {
                    why: status.reason.clone().unwrap_or_else(|| {
                        if status
                            .scanner_version
                            .ends_with(crate::image::RUNNING_CONTAINER_MARK)
                        {
                            "judged so far only from a running container by a node's probe, \
                             which cannot vouch for an image; its registry scan decides"
                                .into()
                        } else {
                            "the report has no verdict".into()
                        }
                    }),
                    details: format!("kubectl get fir {name} -o yaml"),
                },
            };
            if worst.as_ref().is_none_or(|w| rank(&k) > rank(w)) {
                worst = Some(k);
            }
        }
        if worst == Some(ImageKnowledge::Compliant) && !self.every_platform_judged(image) {
            // A pod may land on a node of a platform nobody has judged yet.
            return ImageKnowledge::NotJudged;
        }
        worst.unwrap_or(ImageKnowledge::NotJudged)
    }
}

impl ReportVerdicts {
    /// For an image pinned to an index digest: whether a scanned report answers each of the
    /// cluster's node platforms (a platform manifest digest, or unknown platforms, pass).
    fn every_platform_judged(&self, image: &str) -> bool {
        let Some((_, digest)) = image.split_once('@') else {
            return true;
        };
        let matched = self.matching(image);
        if self.platforms.is_empty() || matched.iter().any(|r| r.spec.digest == digest) {
            return true;
        }
        let covered: std::collections::HashSet<&str> = matched
            .iter()
            .filter_map(|r| r.status.as_ref())
            .filter(|s| s.phase != ImagePhase::Pending)
            .filter_map(|s| s.platform.as_deref())
            .collect();
        self.platforms.iter().all(|p| covered.contains(p.as_str()))
    }
}

/// The platforms (`os/arch`) of nodes, from their well-known labels.
pub fn node_platforms(nodes: &[NodeFacts]) -> Vec<String> {
    let mut out: Vec<String> = nodes
        .iter()
        .filter_map(|n| {
            let os = n.labels.get("kubernetes.io/os")?;
            let arch = n.labels.get("kubernetes.io/arch")?;
            Some(format!("{os}/{arch}"))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a webhook replica decides with.
pub struct Admission {
    pub policies: Vec<(String, FipsPolicySpec)>,
    pub verdicts: Box<dyn ImageVerdicts + Send + Sync>,
    pub nodes: Vec<NodeFacts>,
    /// Namespace labels as the replica's cache knows them; a namespace it does not know gets
    /// only `kubernetes.io/metadata.name`.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub operator_namespace: String,
    /// Images that met no verdict (outside dry runs): a `Pending` report is due for each.
    /// Shared by the snapshots of one replica.
    pub requested: Arc<Mutex<Vec<String>>>,
    /// Resolves the tags of a review to digests (a cluster replica, or --standalone). Without
    /// it (`fips-operator admit`), a tag is judged by the references its reports have seen.
    pub tags: Option<Arc<TagResolver>>,
}

/// Every container image of a pod spec.
fn images_mut(spec: &mut PodSpec) -> impl Iterator<Item = &mut Option<String>> {
    let init = spec
        .init_containers
        .iter_mut()
        .flatten()
        .map(|c| &mut c.image);
    let regular = spec.containers.iter_mut().map(|c| &mut c.image);
    let ephemeral = spec
        .ephemeral_containers
        .iter_mut()
        .flatten()
        .map(|c| &mut c.image);
    init.chain(regular).chain(ephemeral)
}

/// A cluster replica decides on digests: a tag its resolver could not pin now is never
/// `Compliant` on the strength of older reports that saw it (the tag may have moved).
struct PinnedOnly<'a> {
    inner: &'a (dyn ImageVerdicts + Send + Sync),
    unresolved: &'a std::collections::HashMap<String, String>,
}

impl ImageVerdicts for PinnedOnly<'_> {
    fn lookup(&self, image: &str, policy: ImagePolicy) -> ImageKnowledge {
        match self.inner.lookup(image, policy) {
            ImageKnowledge::Compliant if !image.contains('@') => {
                if let Some(why) = self.unresolved.get(image) {
                    tracing::info!(%image, reason = %why, "tag not pinned to a digest: no verdict");
                }
                ImageKnowledge::NotJudged
            }
            k => k,
        }
    }
}

/// A review that could not be read: HTTP 400 with this message.
#[derive(Debug, PartialEq, Eq)]
pub struct BadReview(pub String);

impl Admission {
    /// Answers one AdmissionReview (the request body) with the AdmissionReview to send back.
    pub fn review(&self, body: &[u8]) -> Result<Value, BadReview> {
        self.review_resolved(body, &Resolution::default())
    }

    /// [`Admission::review`] with the review's tags resolved to digests beforehand
    /// ([`Admission::tags_to_resolve`], then [`TagResolver::resolve`]).
    pub fn review_resolved(&self, body: &[u8], tags: &Resolution) -> Result<Value, BadReview> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
            .map_err(|e| BadReview(format!("not an AdmissionReview v1: {e}")))?;
        let request: AdmissionRequest<DynamicObject> = review
            .try_into()
            .map_err(|_| BadReview("the AdmissionReview has no request".into()))?;
        let response = self.respond(&request, tags);
        serde_json::to_value(response.into_review())
            .map_err(|e| BadReview(format!("encoding the response: {e}")))
    }

    /// The images of a review named by tag alone, when this replica resolves tags (a body
    /// that is not a review has none: `review_resolved` says what is wrong with it).
    pub fn tags_to_resolve(&self, body: &[u8]) -> Vec<String> {
        if self.tags.is_none() {
            return Vec::new();
        }
        let Ok(review) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let request = &review["request"];
        let kind = request["kind"]["kind"].as_str().unwrap_or_default();
        let Some(Ok(mut spec)) = pod_spec(kind, &request["object"]) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for image in images_mut(&mut spec).flatten() {
            if !image.is_empty() && !image.contains('@') && !out.contains(image) {
                out.push(image.clone());
            }
        }
        out
    }

    fn respond(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        tags: &Resolution,
    ) -> AdmissionResponse {
        let mut response = AdmissionResponse::from(request);
        if request.operation == Operation::Delete || request.operation == Operation::Connect {
            return response;
        }
        let Some(object) = &request.object else {
            return response;
        };
        let object = match serde_json::to_value(object) {
            Ok(v) => v,
            // `invalid` would answer without the request's uid, which the API server rejects.
            Err(e) => return response.deny(format!("unreadable object: {e}")),
        };
        let kind = request.kind.kind.as_str();
        let (mut spec, unreadable) = match pod_spec(kind, &object) {
            // Other kinds are not this webhook's business.
            None => return response,
            Some(Ok(spec)) => (spec, None),
            Some(Err(why)) => (PodSpec::default(), Some(why)),
        };
        if request.operation == Operation::Update {
            // An object being deleted (a finalizer removed, a status written) is let go: the
            // webhook must never keep a cluster from cleaning up.
            if object["metadata"]["deletionTimestamp"].is_string() {
                return response;
            }
            // An update judges only the images it brings: labels, replicas or a restart of a
            // workload that already runs are not refused (its status still reports it).
            let old = request
                .old_object
                .as_ref()
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|o| pod_spec(kind, &o)?.ok());
            if let Some(mut old) = old {
                let before: std::collections::HashSet<String> =
                    images_mut(&mut old).flatten().map(|i| i.clone()).collect();
                let new = |c: &Option<String>| c.as_ref().is_none_or(|i| !before.contains(i));
                spec.containers.retain(|c| new(&c.image));
                if let Some(init) = spec.init_containers.as_mut() {
                    init.retain(|c| new(&c.image));
                }
                if let Some(eph) = spec.ephemeral_containers.as_mut() {
                    eph.retain(|c| new(&c.image));
                }
            }
        }
        // Decided on digests: a tag resolved now is judged (and named) as `tag@digest`.
        for image in images_mut(&mut spec).flatten() {
            if let Some(digest) = tags.digests.get(image.as_str()) {
                *image = format!("{image}@{digest}");
            }
        }
        let pinned = PinnedOnly {
            inner: self.verdicts.as_ref(),
            unresolved: &tags.unresolved,
        };
        let verdicts: &dyn ImageVerdicts = if self.tags.is_some() {
            &pinned
        } else {
            self.verdicts.as_ref()
        };
        let namespace = request.namespace.clone().unwrap_or_default();
        let name = match request.name.as_str() {
            "" => object["metadata"]["generateName"]
                .as_str()
                .map(|g| format!("{g}*"))
                .unwrap_or_default(),
            n => n.to_string(),
        };
        let labels = self.namespaces.get(&namespace).cloned().unwrap_or_else(|| {
            BTreeMap::from([("kubernetes.io/metadata.name".to_string(), namespace.clone())])
        });
        let named: Vec<NamedPolicy> = self
            .policies
            .iter()
            .map(|(n, s)| NamedPolicy { name: n, spec: s })
            .collect();
        let ctx = Context {
            policies: &named,
            namespace_labels: &labels,
            operator_namespace: &self.operator_namespace,
            nodes: &self.nodes,
            no_verdict: if request.dry_run {
                NoVerdict::DryRun
            } else {
                NoVerdict::ScanRequested
            },
        };
        let d = decide(
            Subject {
                kind,
                namespace: &namespace,
                name: &name,
                spec: &spec,
                unreadable: unreadable.as_deref(),
            },
            &ctx,
            verdicts,
        );
        // dryRun: no side effects, so no scan is requested.
        if !request.dry_run && !d.scan.is_empty() {
            let mut requested = self.requested.lock().unwrap_or_else(|e| e.into_inner());
            for image in d.scan {
                if !requested.contains(&image) {
                    requested.push(image);
                }
            }
        }
        if !d.warnings.is_empty() {
            response.warnings = Some(d.warnings);
        }
        response.audit_annotations = d
            .audit
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("fips.operator.dev/").to_string(), v))
            .collect();
        if d.outcome == Outcome::Denied {
            response = response.deny(d.messages.join("\n"));
            response.result.code = 403;
            response.result.reason = "Forbidden".into();
        }
        response
    }
}

#[cfg(test)]
mod tests;
