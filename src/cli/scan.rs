//! `fips-operator scan TARGET…`: files, root filesystem directories and images.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::output::{self, OutputFormat};
use super::{error_text, EXIT_COMPLIANT, EXIT_ERROR, EXIT_NOTHING_JUDGED, EXIT_NOT_COMPLIANT};
use crate::api::{FipsPolicy, ImagesSpec};
use crate::image::layers::Limits;
use crate::image::registry::RegistryOptions;
use crate::image::source::Platform;
use crate::image::{
    self, rootfs::Progress, ImageOptions, ImageProgress, ImageTarget, ScanContext, ScanReport,
};
use crate::inspect::{Day, ModuleRegistry};
use crate::policy::{ImagePolicy, Outcome};

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// What to judge: an ELF file, a root filesystem directory, oci:DIR[:TAG],
    /// docker-archive:FILE, docker://REF or a bare registry/repository:tag[@digest].
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Output format: a table for people, JSON (always an array, one element per target).
    #[arg(long, short, value_enum, default_value = "table", env = "FIPS_OUTPUT")]
    pub output: OutputFormat,
    /// Take the images settings (acceptInProcessModules, acceptHistoricalModules) of this
    /// FipsPolicy YAML file; --reject-* flags still tighten them.
    #[arg(long, env = "FIPS_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Fail modules that are only on NIST's modules-in-process list.
    #[arg(long, env = "FIPS_REJECT_IN_PROCESS")]
    pub reject_in_process: bool,
    /// Fail modules whose certificate moved to NIST's historical list.
    #[arg(long, env = "FIPS_REJECT_HISTORICAL")]
    pub reject_historical: bool,
    /// A module registry JSON file to use instead of the built-in one.
    #[arg(long, env = "FIPS_MODULE_REGISTRY", value_name = "FILE")]
    pub module_registry: Option<PathBuf>,
    /// Judge certificate dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, env = "FIPS_AS_OF", value_name = "DAY")]
    pub as_of: Option<String>,
    /// Let a file or directory with nothing to judge (no executable or library: a script, an
    /// empty or unmounted directory) pass as compliant instead of exiting 3.
    #[arg(long, env = "FIPS_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Walk every filesystem mounted below a directory target (pseudo-filesystems such as
    /// /proc, /sys and /dev never are); by default the walk stays on the target's filesystem.
    #[arg(long, env = "FIPS_CROSS_FILESYSTEMS")]
    pub cross_filesystems: bool,
    #[command(flatten)]
    pub image: ImageArgs,
}

/// How image targets are fetched and unpacked.
#[derive(clap::Args, Debug)]
pub struct ImageArgs {
    /// Platform to pick from a multi-arch index (default: linux and this machine's architecture).
    #[arg(long, env = "FIPS_PLATFORM", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Verdict cache directory (default: $XDG_CACHE_HOME/fips-operator or ~/.cache/fips-operator).
    #[arg(
        long,
        env = "FIPS_CACHE_DIR",
        value_name = "DIR",
        conflicts_with = "no_cache"
    )]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the verdict cache.
    #[arg(long, env = "FIPS_NO_CACHE")]
    pub no_cache: bool,
    /// Docker config.json with registry credentials (else REGISTRY_AUTH_FILE, then
    /// $DOCKER_CONFIG/config.json or ~/.docker/config.json).
    #[arg(long, env = "REGISTRY_AUTH_FILE", value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// A registry (host[:port]) that may be reached over plain HTTP; loopback always may.
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Stop an image whose layers expand past this many bytes (decompression bombs).
    #[arg(long, env = "FIPS_MAX_IMAGE_BYTES", default_value_t = Limits::default().max_image_bytes)]
    pub max_image_bytes: u64,
    /// Stop an image with a file larger than this many bytes.
    #[arg(long, env = "FIPS_MAX_FILE_BYTES", default_value_t = Limits::default().max_file_bytes)]
    pub max_file_bytes: u64,
    /// Stop an image with more files than this over all its layers.
    #[arg(long, env = "FIPS_MAX_ENTRIES", default_value_t = Limits::default().max_entries)]
    pub max_entries: u64,
}

impl ImageArgs {
    pub(super) fn options(&self) -> anyhow::Result<ImageOptions> {
        let platform = match &self.platform {
            Some(p) => Platform::parse(p).map_err(anyhow::Error::msg)?,
            None => Platform::host(),
        };
        let require_platform = self.platform.is_some();
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(default_cache_dir)
        };
        Ok(ImageOptions {
            platform,
            require_platform,
            registry: RegistryOptions {
                insecure: self.insecure_registry.clone(),
                auth_file: self.registry_config.clone(),
                pull_secrets: None,
            },
            limits: Limits {
                max_image_bytes: self.max_image_bytes,
                max_file_bytes: self.max_file_bytes,
                max_entries: self.max_entries,
            },
            cache_dir,
        })
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("fips-operator"))
}

/// The module registry (built in, or `--module-registry FILE`) and the day certificates are
/// judged on (`--as-of`, else today): what `scan` and `check` share.
pub(super) fn registry_and_day(
    module_registry: Option<&Path>,
    as_of: Option<&str>,
) -> anyhow::Result<(ModuleRegistry, Day)> {
    let registry = match module_registry {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading module registry {}", path.display()))?;
            ModuleRegistry::from_json(&text)?
        }
        None => ModuleRegistry::built_in(),
    };
    let today = match as_of {
        Some(d) => Day::parse(d).with_context(|| format!("--as-of {d:?}: expected YYYY-MM-DD"))?,
        None => today(),
    };
    Ok((registry, today))
}

pub fn run(args: ScanArgs) -> anyhow::Result<u8> {
    let (registry, today) =
        registry_and_day(args.module_registry.as_deref(), args.as_of.as_deref())?;
    let images = match &args.policy {
        Some(path) => read_policy(path)?.spec.images,
        None => ImagesSpec::default(),
    };
    let ctx = ScanContext {
        registry,
        today,
        policy: ImagePolicy {
            accept_in_process: images.accept_in_process_modules && !args.reject_in_process,
            accept_historical: images.accept_historical_modules && !args.reject_historical,
        },
    };
    let image_opts = args.image.options()?;
    let mut reports = Vec::new();
    let mut statuses = Vec::new();
    let tty = std::io::stderr().is_terminal();
    for target in &args.targets {
        match scan_target(target, &ctx, &image_opts, &args, tty) {
            Ok(mut r) => {
                statuses.push(settle_empty(&mut r, args.allow_empty));
                reports.push(r);
            }
            Err(e) => {
                statuses.push(EXIT_ERROR);
                let message = error_text(&e);
                eprintln!("fips-operator: scan {target}: {message}");
                // JSON keeps one element per target for programs; people read the error once,
                // on stderr, and the table leaves the target out.
                if args.output == OutputFormat::Json {
                    reports.push(ScanReport {
                        target: target.clone(),
                        outcome: Outcome::Unknown,
                        reasons: vec![format!("error: {message}")],
                        image: None,
                        binaries: Vec::new(),
                        skipped: Vec::new(),
                    });
                }
            }
        }
    }
    output::print_reports(&reports, args.output)?;
    Ok(exit_status(&statuses))
}

/// A target with no judged file. A file or directory is never compliant for want of
/// evidence: it is unknown and exits 3, unless `allow_empty`. An image with no executable
/// stays compliant (an image is a definite thing: it holds no program) and says so. Returns
/// the target's exit status.
fn settle_empty(r: &mut ScanReport, allow_empty: bool) -> u8 {
    if !r.binaries.is_empty() {
        return match r.outcome {
            Outcome::Compliant => EXIT_COMPLIANT,
            _ => EXIT_NOT_COMPLIANT,
        };
    }
    let files = match r.skipped.as_slice() {
        [] => "no files".to_string(),
        // A file target, or a tree of one file: its own reason says more.
        [one] if one.path == "." || one.path == r.target => {
            format!("{}: {}", r.target, one.reason)
        }
        [one] => format!("1 file, {}: {}", one.path, one.reason),
        many => format!("{} files, none an executable or library", many.len()),
    };
    if r.image.is_some() || allow_empty {
        r.reasons.push(format!("nothing judged: {files}"));
        return EXIT_COMPLIANT;
    }
    r.outcome = Outcome::Unknown;
    r.reasons.push(format!(
        "nothing to judge: {files} (exit {EXIT_NOTHING_JUDGED}; --allow-empty lets it pass)"
    ));
    EXIT_NOTHING_JUDGED
}

/// The exit status of a run from its targets': an error first, then a target found
/// non-compliant or unknown, then one with nothing to judge.
fn exit_status(statuses: &[u8]) -> u8 {
    [EXIT_ERROR, EXIT_NOT_COMPLIANT, EXIT_NOTHING_JUDGED]
        .into_iter()
        .find(|s| statuses.contains(s))
        .unwrap_or(EXIT_COMPLIANT)
}

fn scan_target(
    target: &str,
    ctx: &ScanContext,
    opts: &ImageOptions,
    args: &ScanArgs,
    tty: bool,
) -> anyhow::Result<ScanReport> {
    if let Some(image) = ImageTarget::parse(target) {
        return scan_image_target(&image, target, ctx, opts, tty);
    }
    let path = Path::new(target);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && looks_like_reference(target) => {
            let image = ImageTarget::Registry(target.to_string());
            return scan_image_target(&image, target, ctx, opts, tty);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hint = if is_short_reference(target) {
                format!("to scan the image, write docker://{target}")
            } else {
                "pass an ELF file, a root filesystem directory, oci:DIR, docker-archive:FILE or \
                 docker://REF"
                    .to_string()
            };
            anyhow::bail!("no such file or directory; {hint}")
        }
        Err(e) => anyhow::bail!("{e}"),
    };
    if meta.is_dir() {
        let mut progress = |p: Progress| {
            if tty {
                eprint!(
                    "\r\x1b[Kscanning {target}: {} files, {} binaries judged",
                    p.files_seen, p.binaries_judged
                );
            }
        };
        let report = image::scan_dir(path, target, ctx, &mut progress, args.cross_filesystems);
        clear_progress(tty);
        Ok(report?)
    } else {
        Ok(image::scan_file(path, target, ctx)?)
    }
}

fn scan_image_target(
    image: &ImageTarget,
    target: &str,
    ctx: &ScanContext,
    opts: &ImageOptions,
    tty: bool,
) -> anyhow::Result<ScanReport> {
    let mut progress = |p: ImageProgress| {
        if tty {
            eprint!(
                "\r\x1b[Kscanning {target}: layer {}/{}, {} MiB unpacked, {} binaries judged",
                p.layer,
                p.layers,
                p.bytes >> 20,
                p.binaries_judged
            );
        }
    };
    let report = image::scan_image(image, target, ctx, opts, &mut progress);
    clear_progress(tty);
    Ok(report?)
}

fn clear_progress(tty: bool) {
    if tty {
        eprint!("\r\x1b[K");
        let _ = std::io::stderr().flush();
    }
}

/// A bare `registry/repository:tag[@digest]` that is not an existing path.
fn looks_like_reference(target: &str) -> bool {
    !target.starts_with('.')
        && !target.starts_with('/')
        && target.contains('/')
        && (target.contains(':') || target.contains('@'))
}

/// `name:tag` or `name@digest` without a registry (`alpine:3.20`): an image reference that is
/// also a plausible file name, so it is not pulled from Docker Hub on a typo; the error
/// suggests `docker://`.
fn is_short_reference(target: &str) -> bool {
    !target.contains('/')
        && (target.contains(':') || target.contains('@'))
        && target.parse::<oci_client::Reference>().is_ok()
}

pub(super) fn read_policy(path: &Path) -> anyhow::Result<FipsPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--policy {}: cannot read it", path.display()))?;
    serde_saphyr::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "--policy {}: not a FipsPolicy ({e}); see config/samples/ for the format",
            path.display()
        )
    })
}

fn today() -> Day {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Day::from_unix_days((secs / 86_400) as i64)
}
