//! Judging findings: the registry and the day turn routes into a verdict and a module.

use serde::{Deserialize, Serialize};

use super::findings::{Activation, Findings, Reader, Role};
use super::module_registry::{Day, ModuleRegistry, Validation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    FipsCapable,
    NotFipsCapable,
    NoCrypto,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::FipsCapable => "fips-capable",
            Verdict::NotFipsCapable => "not-fips-capable",
            Verdict::NoCrypto => "no-crypto",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The module a `fips-capable` binary goes through, as DESIGN §5 prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub version: Option<String>,
    pub validation: Validation,
    pub activation: Activation,
    pub certificate: Option<String>,
}

/// One judged binary, in DESIGN §5's shape. Fields marked `skip` carry what image-level
/// rules need and are not part of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryVerdict {
    pub path: String,
    pub verdict: Verdict,
    pub role: Role,
    pub module: Option<Module>,
    pub evidence: Vec<String>,
    pub warnings: Vec<String>,
    /// For an `unknown` binary: the reader that could not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<Reader>,
    /// Why the file is not `fips-capable` (the first non-FIPS finding), for target reasons.
    #[serde(skip)]
    pub reason: Option<String>,
    /// Names of every module route, the first being `module`.
    #[serde(skip)]
    pub routes: Vec<String>,
    /// The modules of the routes after the first (`module`), for the policy.
    #[serde(skip)]
    pub other_modules: Vec<Module>,
    /// Dynamic routes still waiting for image-level validation.
    #[serde(skip)]
    pub pending_routes: Vec<String>,
    /// Root-relative paths of the OpenSSL libraries the file loads (resolved in its tree).
    #[serde(skip)]
    pub openssl_libs: Vec<String>,
}

impl BinaryVerdict {
    /// True when a module's validation could not be settled from this file alone.
    pub fn validation_pending(&self) -> bool {
        !self.pending_routes.is_empty()
            || self
                .module
                .as_ref()
                .is_some_and(|m| m.validation == Validation::Unknown)
    }
}

pub(crate) const RESOLVED_AT_IMAGE_LEVEL: &str = "validation resolved at image level";

/// Turns findings into a verdict. `today` decides which certificates are historical. Every
/// route must be usable: one unvalidated static module makes the file `not-fips-capable`.
pub fn judge(path: &str, f: &Findings, registry: &ModuleRegistry, today: Day) -> BinaryVerdict {
    let mut out = BinaryVerdict {
        path: path.to_string(),
        verdict: Verdict::NoCrypto,
        role: f.role.unwrap_or(Role::Consumer),
        module: None,
        evidence: f.evidence.clone(),
        warnings: f.warnings.clone(),
        reader: None,
        reason: f
            .non_fips
            .first()
            .cloned()
            .or_else(|| f.unknown.as_ref().map(|u| u.reason.clone())),
        routes: f.routes.iter().map(|r| r.name.clone()).collect(),
        other_modules: Vec::new(),
        pending_routes: f
            .routes
            .iter()
            .filter(|r| r.resolved_at_image_level)
            .map(|r| r.name.clone())
            .collect(),
        openssl_libs: f.openssl_libs.clone(),
    };
    if let (Some(unread), true) = (&f.unknown, f.non_fips.is_empty()) {
        out.verdict = Verdict::Unknown;
        out.reader = Some(unread.reader);
        return out;
    }
    if f.routes.is_empty() || !f.non_fips.is_empty() {
        out.verdict = if f.non_fips.is_empty() {
            Verdict::NoCrypto
        } else {
            Verdict::NotFipsCapable
        };
        return out;
    }
    for extra in &f.routes[1..] {
        out.evidence
            .push(format!("also routes through {}", extra.name));
    }
    if !out.pending_routes.is_empty() {
        out.evidence.push(RESOLVED_AT_IMAGE_LEVEL.into());
    }
    let mut modules = Vec::new();
    for route in &f.routes {
        let (validation, certificate) = if route.resolved_at_image_level {
            (Validation::Unknown, None)
        } else {
            match route
                .version
                .as_deref()
                .filter(|v| !v.is_empty())
                .and_then(|v| registry.resolve(&route.name, v, today))
            {
                Some(r) => (r.validation, r.certificate),
                None => (Validation::Unknown, None),
            }
        };
        if !route.resolved_at_image_level && !validation.is_usable() {
            let version = route.version.as_deref().unwrap_or("(version unknown)");
            let why = format!(
                "module {} {version} is {} in the module registry",
                route.name,
                match validation {
                    Validation::Unvalidated => "unvalidated",
                    _ => "not listed",
                }
            );
            out.evidence.push(why.clone());
            out.reason.get_or_insert(why);
        }
        modules.push(Module {
            name: route.name.clone(),
            version: route.version.clone(),
            validation,
            activation: route.activation,
            certificate,
        });
    }
    let unusable = modules
        .iter()
        .zip(&f.routes)
        .any(|(m, r)| !r.resolved_at_image_level && !m.validation.is_usable());
    if !f.non_fips.is_empty() || unusable {
        out.verdict = Verdict::NotFipsCapable;
        return out;
    }
    for m in &modules {
        out.warnings.extend(validation_warning(m));
    }
    out.verdict = Verdict::FipsCapable;
    let mut modules = modules.into_iter();
    out.module = modules.next();
    out.other_modules = modules.collect();
    out
}

/// Every warning `validation_warning` writes starts with this.
pub const VALIDATION_WARNING_PREFIX: &str = "module ";

/// The warning an accepted but not fully certified module carries.
pub fn validation_warning(m: &Module) -> Option<String> {
    let version = m.version.as_deref().unwrap_or("");
    match m.validation {
        Validation::InProcess => Some(format!(
            "module {} {version} is in process, not yet certified",
            m.name
        )),
        Validation::Historical => Some(format!(
            "module {} {version} has a historical certificate (#{})",
            m.name,
            m.certificate.as_deref().unwrap_or("?")
        )),
        _ => None,
    }
}

/// The registry module a route's validation comes from: OpenSSL routes resolve to the
/// image's OpenSSL FIPS provider.
pub fn registry_module(route: &str) -> &str {
    match route {
        "openssl (dynamic)" | "golang-fips-openssl (dlopen)" => "openssl",
        other => other,
    }
}
