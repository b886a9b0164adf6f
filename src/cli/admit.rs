//! `fips-operator admit --policy FILE --reports DIR MANIFEST…`: would these objects be
//! admitted, and why not? Offline: the webhook's decision on files.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::output::OutputFormat;
use super::scan::{read_policy, registry_and_day};
use super::{EXIT_COMPLIANT, EXIT_NOT_COMPLIANT};
use crate::api::FipsImageReport;
use crate::policy::admission::{
    decide, Context as AdmissionContext, ImageKnowledge, ImageVerdicts, NamedPolicy, NoVerdict,
    Outcome, Subject,
};
use crate::webhook::{pod_spec, ReportVerdicts};

#[derive(clap::Args, Debug)]
pub struct AdmitArgs {
    /// The FipsPolicy (YAML or JSON) to evaluate against.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// FipsImageReport objects (files or a directory of them, as `kubectl get fir -o yaml`
    /// prints them): the image verdicts. Images without one are "not judged yet".
    #[arg(long, value_name = "DIR|FILE")]
    pub reports: Vec<PathBuf>,
    /// Judge the images now, from their registries (as `scan` would), instead of (or besides)
    /// report files.
    #[arg(long)]
    pub scan: bool,
    #[command(flatten)]
    pub image: super::scan::ImageArgs,
    /// Output format: a table for people, JSON (an array, one element per object).
    #[arg(long, short, value_enum, default_value = "table", env = "FIPS_OUTPUT")]
    pub output: OutputFormat,
    /// The operator's namespace, always admitted.
    #[arg(long, default_value = "fips-operator")]
    pub operator_namespace: String,
    /// A module registry JSON file to use instead of the built-in one.
    #[arg(long, env = "FIPS_MODULE_REGISTRY", value_name = "FILE")]
    pub module_registry: Option<PathBuf>,
    /// Judge certificate dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, env = "FIPS_AS_OF", value_name = "DAY")]
    pub as_of: Option<String>,
    /// Manifests: YAML or JSON files (several documents and `List`s allowed), `-` for stdin.
    #[arg(required = true, value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,
}

/// One evaluated object.
#[derive(Debug, Serialize)]
pub struct AdmitResult {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub decision: &'static str,
    pub messages: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the policy does not apply (`not selected by FipsPolicy X: …`).
    pub notes: Vec<String>,
}

/// Verdicts for `admit`: the images judged by `--scan` from their scan (details: the scan
/// command, as no cluster object holds them), the others from the report files.
struct AdmitVerdicts {
    files: ReportVerdicts,
    scanned: ReportVerdicts,
    scanned_images: std::collections::HashSet<String>,
}

impl ImageVerdicts for AdmitVerdicts {
    fn lookup(&self, image: &str, policy: crate::policy::ImagePolicy) -> ImageKnowledge {
        if !self.scanned_images.contains(image) {
            return self.files.lookup(image, policy);
        }
        let details = format!("fips-operator scan docker://{image}");
        match self.scanned.lookup(image, policy) {
            ImageKnowledge::NonCompliant { reasons, .. } => {
                ImageKnowledge::NonCompliant { reasons, details }
            }
            ImageKnowledge::Unknown { why, .. } => ImageKnowledge::Unknown { why, details },
            other => other,
        }
    }
}

/// Documents of a YAML/JSON text, `List`s expanded.
fn documents(text: &str, origin: &str) -> anyhow::Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| anyhow::anyhow!("{origin}: not YAML or JSON ({e})"))?;
    let mut out = Vec::new();
    for d in docs {
        if d.is_null() {
            continue;
        }
        match d["items"].as_array() {
            Some(items) if d["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                out.extend(items.iter().cloned())
            }
            _ => out.push(d),
        }
    }
    Ok(out)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read it", path.display()))
}

fn report_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(path).sort_by_file_name() {
        let e = e.with_context(|| format!("--reports {}", path.display()))?;
        let name = e.file_name().to_string_lossy();
        if e.file_type().is_file() && [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)) {
            out.push(e.path().to_path_buf());
        }
    }
    Ok(out)
}

/// Every FipsImageReport in these files and directories.
pub(super) fn load_reports(paths: &[PathBuf]) -> anyhow::Result<Vec<FipsImageReport>> {
    let mut reports = Vec::new();
    for path in paths {
        for file in report_files(path)? {
            let origin = file.display().to_string();
            for doc in documents(&read_text(&file)?, &origin)? {
                if doc["kind"] != "FipsImageReport" {
                    continue;
                }
                let r: FipsImageReport = serde_json::from_value(doc).map_err(|e| {
                    anyhow::anyhow!("{origin}: a FipsImageReport that does not parse ({e})")
                })?;
                reports.push(r);
            }
        }
    }
    Ok(reports)
}

/// `--scan`: each image judged from its registry, as a report would record it. An image that
/// cannot be scanned gets a `Failed` report (its verdict: unknown) and a warning on stderr.
fn scan_images(
    images: &[String],
    image_args: &super::scan::ImageArgs,
    registry: &crate::inspect::ModuleRegistry,
    today: crate::inspect::Day,
) -> anyhow::Result<Vec<FipsImageReport>> {
    use crate::api::{FipsImageReportSpec, FipsImageReportStatus, ImagePhase};
    use crate::image::{scan_image, ImageTarget, ScanContext};
    let opts = image_args.options()?;
    let ctx = ScanContext {
        registry: registry.clone(),
        today,
        policy: crate::policy::ImagePolicy::default(),
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut out = Vec::new();
    for image in images {
        if tty {
            eprintln!("scanning {image}…");
        }
        let seen = std::collections::BTreeSet::from([image.clone()]);
        let now = k8s_openapi::jiff::Timestamp::now();
        // Always a registry reference: a manifest must not make `admit` read local files
        // (`oci:` or `docker-archive:` prefixes are not image names Kubernetes pulls).
        let target = ImageTarget::Registry(image.clone());
        let (digest, status) = match scan_image(&target, image, &ctx, &opts, &mut |_| {}) {
            Ok(scan) => {
                let digest = scan
                    .image
                    .as_ref()
                    .and_then(|i| i["digest"].as_str())
                    .unwrap_or_default()
                    .to_string();
                (
                    digest,
                    crate::cluster::reports::scanned_status(&scan, &seen, now),
                )
            }
            Err(e) => {
                eprintln!("fips-operator: warning: {image}: cannot scan it ({e}); judged unknown");
                let status = FipsImageReportStatus {
                    phase: ImagePhase::Failed,
                    reason: Some(format!("scan failed: {e}")),
                    images: seen.into_iter().collect(),
                    outcome: Some("unknown".into()),
                    ..Default::default()
                };
                (String::new(), status)
            }
        };
        // A name for the report in memory: no cluster object holds it (messages point to
        // `fips-operator scan` instead).
        let name = if digest.is_empty() {
            "failed-scan".to_string()
        } else {
            crate::api::image_report_name(&digest)
        };
        let mut report = FipsImageReport::new(&name, FipsImageReportSpec { digest });
        report.status = Some(status);
        out.push(report);
    }
    Ok(out)
}

pub fn run(args: AdmitArgs) -> anyhow::Result<u8> {
    let policy = read_policy(&args.policy)?;
    let (registry, today) =
        registry_and_day(args.module_registry.as_deref(), args.as_of.as_deref())?;
    let reports = load_reports(&args.reports)?;
    let mut objects = Vec::new();
    for m in &args.manifests {
        let origin = m.display().to_string();
        objects.extend(documents(&read_text(m)?, &origin)?);
    }
    let mut scanned = Vec::new();
    let mut scanned_images = std::collections::HashSet::new();
    if args.scan {
        let mut images: Vec<String> = objects
            .iter()
            .filter_map(|o| pod_spec(o["kind"].as_str()?, o)?.ok())
            .flat_map(|spec| {
                crate::cluster::facts::spec_images(Some(&spec))
                    .map(|(_, image)| image.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        images.sort();
        images.dedup();
        scanned = scan_images(&images, &args.image, &registry, today)?;
        scanned_images = images.into_iter().collect();
    }
    let verdicts = AdmitVerdicts {
        files: ReportVerdicts {
            reports,
            registry: registry.clone(),
            today,
            platforms: Vec::new(),
        },
        scanned: ReportVerdicts {
            reports: scanned,
            registry,
            today,
            platforms: Vec::new(),
        },
        scanned_images,
    };
    let mut namespace_labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for o in objects.iter().filter(|o| o["kind"] == "Namespace") {
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut labels: BTreeMap<String, String> =
            serde_json::from_value(o["metadata"]["labels"].clone()).unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".into(), name.clone());
        namespace_labels.insert(name, labels);
    }
    let name = policy
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| "policy".into());
    let named = [NamedPolicy {
        name: &name,
        spec: &policy.spec,
    }];
    let mut results = Vec::new();
    for o in &objects {
        let (spec, unreadable) = match o["kind"].as_str().and_then(|k| pod_spec(k, o)) {
            None => continue,
            Some(Ok(spec)) => (spec, None),
            Some(Err(why)) => (Default::default(), Some(why)),
        };
        let namespace = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let labels = namespace_labels
            .get(&namespace)
            .cloned()
            .unwrap_or_else(|| {
                BTreeMap::from([("kubernetes.io/metadata.name".to_string(), namespace.clone())])
            });
        let ctx = AdmissionContext {
            policies: &named,
            namespace_labels: &labels,
            operator_namespace: &args.operator_namespace,
            nodes: &[],
            no_verdict: NoVerdict::Offline,
        };
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let obj_name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let d = decide(
            Subject {
                kind: &kind,
                namespace: &namespace,
                name: &obj_name,
                spec: &spec,
                unreadable: unreadable.as_deref(),
            },
            &ctx,
            &verdicts,
        );
        results.push(AdmitResult {
            kind,
            namespace,
            name: obj_name,
            decision: d.outcome.as_str(),
            messages: d.messages,
            warnings: d
                .warnings
                .into_iter()
                .chain(d.audit.into_values())
                .collect(),
            notes: d.notes,
        });
    }
    let denied = results
        .iter()
        .any(|r| r.decision == Outcome::Denied.as_str());
    match print(&results, args.output) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(if denied {
        EXIT_NOT_COMPLIANT
    } else {
        EXIT_COMPLIANT
    })
}

fn print(results: &[AdmitResult], format: OutputFormat) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if format == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut out, results)?;
        return writeln!(out);
    }
    if results.is_empty() {
        writeln!(out, "no Pod or workload template in the manifests")?;
    }
    for r in results {
        writeln!(
            out,
            "{:<8} {} {}/{}",
            r.decision.to_uppercase(),
            r.kind,
            r.namespace,
            r.name
        )?;
        for m in &r.messages {
            writeln!(out, "  denied: {m}")?;
        }
        for w in &r.warnings {
            writeln!(out, "  warning: {w}")?;
        }
        for n in &r.notes {
            writeln!(out, "  note: {n}")?;
        }
    }
    Ok(())
}
