//! What the inspector found in one file, before any registry or policy is applied.

use serde::{Deserialize, Serialize};

/// How a FIPS module gets switched on (FIPS-RULES §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    Always,
    DefaultOn,
    EnvSwitch,
    HostDriven,
}

/// A route through a FIPS module, as found in the file: no validation status here, that is
/// derived from the module registry when the finding is judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRoute {
    pub name: String,
    /// `None` when the file does not say: the version is then resolved at image level
    /// (dynamic routes) or the module counts as unvalidated (static ones).
    pub version: Option<String>,
    pub activation: Activation,
    /// A dynamic route (libcrypto, a golang-fips dlopen, a distro library): the module lives in
    /// another file of the image, so a file judged alone carries validation `unknown`.
    pub resolved_at_image_level: bool,
}

/// Whether the file is an ordinary program or library, or a crypto library judged as a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Consumer,
    Module,
}

/// The part of the inspector that could not read a file (`reader` in the JSON of an `unknown`
/// binary): a blind spot of one reader is never taken for an absence of crypto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reader {
    /// The file itself (empty).
    File,
    /// ELF headers, sections and segments: truncated, overlapping, compressed, packed, an
    /// unsupported machine.
    Elf,
    /// Go's build information (`.go.buildinfo`).
    GoBuildinfo,
    /// Go's function table (`.gopclntab`), or function names that hide the crypto.
    GoFunctionTable,
    /// A library the file loads, or the chain of them.
    Dependencies,
}

/// Why a file cannot be judged, and which reader said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub reader: Reader,
    pub reason: String,
}

/// Everything one file told the inspector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Module routes, the most specific first.
    pub routes: Vec<ModuleRoute>,
    /// Evidence of cryptography outside any validated module: any entry makes the file
    /// `not-fips-capable`, whatever routes it also has.
    pub non_fips: Vec<String>,
    /// Every finding, in the order found (`non_fips` entries included).
    pub evidence: Vec<String>,
    pub warnings: Vec<String>,
    /// Set when the file cannot be judged (corrupt, truncated, packed, unsupported), with the
    /// reader that gave up.
    pub unknown: Option<Unread>,
    /// `DT_NEEDED` entries, for dependency resolution at image level.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` / `DT_RPATH` entries, unexpanded.
    pub runpath: Vec<String>,
    pub role: Option<Role>,
    pub is_go: bool,
    /// The only non-FIPS finding is a constant table (a weak signal, not inherited by the
    /// binaries that load this file as a library).
    pub constant_tables_only: bool,
    /// Root-relative paths of the OpenSSL libraries the file loads, once resolved in a tree.
    pub openssl_libs: Vec<String>,
}

impl Findings {
    pub(crate) fn evidence(&mut self, line: impl Into<String>) {
        let line = line.into();
        if !self.evidence.contains(&line) {
            self.evidence.push(line);
        }
    }

    pub(crate) fn not_fips(&mut self, line: impl Into<String>) {
        let line = line.into();
        if !self.non_fips.contains(&line) {
            self.non_fips.push(line.clone());
        }
        self.evidence(line);
    }

    pub(crate) fn warn(&mut self, line: impl Into<String>) {
        let line = line.into();
        if !self.warnings.contains(&line) {
            self.warnings.push(line);
        }
    }

    pub(crate) fn route(&mut self, route: ModuleRoute) {
        if !self.routes.contains(&route) {
            self.routes.push(route);
        }
    }

    /// Findings of a file that `reader` could not read at all.
    pub(crate) fn unreadable(reader: Reader, reason: impl Into<String>) -> Self {
        let mut f = Findings::default();
        f.cannot_judge(reader, reason);
        f
    }

    /// Marks the file `unknown` (the first reason stands) and records the reason as evidence.
    pub(crate) fn cannot_judge(&mut self, reader: Reader, reason: impl Into<String>) {
        let reason = reason.into();
        self.evidence(reason.clone());
        self.unknown.get_or_insert(Unread { reader, reason });
    }

    /// True when any cryptography at all was seen: a route or a non-FIPS finding.
    pub fn has_crypto(&self) -> bool {
        !self.routes.is_empty() || !self.non_fips.is_empty()
    }
}
