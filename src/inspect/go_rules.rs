//! FIPS-RULES §3: Go binaries. Function names (pclntab, else a raw search) and build info
//! decide; G2-G8 in order, G9 overrides, G10-G12 add evidence.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use memchr::memmem;

use super::elf::ElfView;
use super::findings::{Activation, Findings, ModuleRoute};
use super::go_buildinfo::GoBuildInfo;
use super::go_pclntab::PcLnTab;

const SIG: &str = "crypto/internal/boring/sig.";
const BORING_CGO: &str = "crypto/internal/boring._Cfunc__goboringcrypto_";
const DLOPEN_OPENSSL: &str = "_Cfunc__goboringcrypto_DLOPEN_OPENSSL";
const GOLANG_FIPS_OPENSSL: &str = "github.com/golang-fips/openssl";
const FIPS140_PKG: &str = "crypto/internal/fips140/";

/// `golang.org/x/crypto` packages that implement primitives outside any module (G9).
const XCRYPTO_NON_APPROVED: &[&str] = &[
    "chacha20",
    "chacha20poly1305",
    "salsa20",
    "internal/poly1305",
    "poly1305",
    "blake2b",
    "blake2s",
    "argon2",
    "bcrypt",
    "blowfish",
    "scrypt",
    "twofish",
    "cast5",
    "tea",
    "xtea",
    "md4",
    "ripemd160",
    "nacl",
    "openpgp",
    "xts",
];

/// Third-party Go crypto implementations (G9).
const THIRD_PARTY_NON_APPROVED: &[&str] = &[
    "github.com/minio/sha256-simd",
    "filippo.io/edwards25519",
    "github.com/cloudflare/circl",
    "github.com/ProtonMail/go-crypto",
];

/// amd64 code patterns of the sig markers (`sig_amd64.s`), for binaries whose pclntab will
/// not parse.
const SIG_PATTERNS: &[(&str, [u8; 32])] = &[
    (
        "BoringCrypto",
        hex32("EB1DF448F44BF4B332F52813A3B450D441CC2485F001454E92101B1D2F1950C3"),
    ),
    (
        "StandardCrypto",
        hex32("EB1DF448F44BF4BAEE4DFA9851CA56A91145E83E99C59CF911CB8E80DAF12FC3"),
    ),
    (
        "FIPSOnly",
        hex32("EB1DF448F44BF4363CB9CE9D68047D31F28D325D5CA5873F5D80CAF6D6151BC3"),
    ),
];

/// Name prefixes worth collecting in a raw search.
const RAW_PREFIXES: &[&str] = &[
    "crypto/",
    "vendor/golang.org/x/crypto/",
    "golang.org/x/crypto/",
    "vendor/github.com/golang-fips/openssl",
    "github.com/golang-fips/openssl",
    "filippo.io/edwards25519",
    "github.com/minio/sha256-simd",
    "github.com/cloudflare/circl",
    "github.com/ProtonMail/go-crypto",
    // Not crypto: the runtime's functions show that the names were there to be found.
    "runtime.",
];

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'F' => c - b'A' + 10,
        _ => c - b'a' + 10,
    }
}

/// What the function names say, gathered in one pass.
#[derive(Debug, Default)]
pub(crate) struct GoNames {
    pub crypto_packages: BTreeSet<String>,
    pub sig: BTreeSet<&'static str>,
    pub boring_cgo: bool,
    pub dlopen: Option<String>,
    pub fips140_versions: BTreeSet<String>,
    pub fips140_in_tree: bool,
    pub non_approved: BTreeSet<String>,
    pub std_vendored_xcrypto: BTreeSet<String>,
    pub other_xcrypto: BTreeSet<String>,
    pub tls_fips_only: Option<String>,
    pub jitter_entropy: bool,
    /// Functions of `crypto/internal/backend`: a Microsoft or Red Hat fork routes the standard
    /// library's crypto to its OpenSSL backend.
    pub fork_backend: bool,
    /// Functions of the Go runtime seen: every Go program links it, so a table that yields
    /// none was not read (fail closed: never "no crypto" from a table we could not read).
    pub runtime_functions: usize,
    pub source: &'static str,
}

impl GoNames {
    fn add(&mut self, raw: &[u8]) {
        if raw.starts_with(b"runtime.") {
            self.runtime_functions += 1;
            return;
        }
        // Cheap tests on raw bytes first: only names that can matter are decoded.
        const PREFIXES: &[&[u8]] = &[
            b"crypto/",
            b"vendor/",
            b"golang.org/",
            b"github.com/",
            b"filippo.io/",
        ];
        static FINDERS: OnceLock<[memmem::Finder<'static>; 2]> = OnceLock::new();
        let [cgo_finder, vendor_finder] = FINDERS.get_or_init(|| {
            [
                memmem::Finder::new(b"_Cfunc__goboringcrypto_"),
                memmem::Finder::new(b"/vendor/"),
            ]
        });
        let cgo = cgo_finder.find(raw).is_some();
        if !(cgo
            || PREFIXES.iter().any(|p| raw.starts_with(p))
            || vendor_finder.find(raw).is_some())
        {
            return;
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            return;
        };
        let name = name.strip_suffix(".abi0").unwrap_or(name);
        if let Some(marker) = name.strip_prefix(SIG) {
            for m in ["BoringCrypto", "StandardCrypto", "FIPSOnly"] {
                if marker == m {
                    self.sig.insert(m);
                }
            }
        }
        if cgo {
            if name.contains(DLOPEN_OPENSSL)
                && (name.contains(GOLANG_FIPS_OPENSSL)
                    || name.starts_with("crypto/internal/boring."))
            {
                self.dlopen = Some(name.to_string());
            } else if name.starts_with(BORING_CGO) {
                self.boring_cgo = true;
            }
        }
        let pkg = package_path(name);
        let unvendored = pkg.strip_prefix("vendor/").unwrap_or(pkg);
        if unvendored.starts_with("github.com/golang-fips/openssl/v")
            && name[pkg.len()..].to_ascii_lowercase().contains("dlopen")
        {
            self.dlopen.get_or_insert_with(|| name.to_string());
        }
        if let Some(rest) = pkg.strip_prefix(FIPS140_PKG) {
            let first = rest.split('/').next().unwrap_or("");
            let version = first.replace("%2e", ".");
            if is_module_version(&version) {
                if !self.fips140_versions.contains(&version) {
                    self.fips140_versions.insert(version);
                }
            } else {
                self.fips140_in_tree = true;
            }
        }
        if name == "crypto/tls/fipsonly.init.0" {
            self.tls_fips_only = Some(name.to_string());
        }
        if pkg.starts_with("crypto/internal/backend") {
            self.fork_backend = true;
        }
        if name.starts_with("crypto/internal/entropy/v1%2e0%2e0.Seed") {
            self.jitter_entropy = true;
        }
        self.classify_package(name, pkg);
    }

    fn insert(set: &mut BTreeSet<String>, item: &str) {
        if !set.contains(item) {
            set.insert(item.to_string());
        }
    }

    fn classify_package(&mut self, name: &str, pkg: &str) {
        if pkg.starts_with("crypto/") {
            Self::insert(&mut self.crypto_packages, pkg);
            return;
        }
        if let Some(sub) = pkg.strip_prefix("vendor/golang.org/x/crypto/") {
            // The standard library's own vendored copy: used by crypto/tls, evidence only.
            Self::insert(&mut self.std_vendored_xcrypto, sub);
            Self::insert(&mut self.crypto_packages, pkg);
            return;
        }
        if pkg.starts_with("vendor/github.com/golang-fips/openssl")
            || pkg.starts_with(GOLANG_FIPS_OPENSSL)
        {
            Self::insert(&mut self.crypto_packages, pkg);
            return;
        }
        // Module or GOPATH paths, possibly vendored by the application (`app/vendor/...`).
        let bare = pkg.rsplit_once("/vendor/").map_or(pkg, |(_, p)| p);
        if let Some(sub) = bare.strip_prefix("golang.org/x/crypto/") {
            self.crypto_packages.insert(bare.to_string());
            let func = &name[pkg.len()..];
            let bad = XCRYPTO_NON_APPROVED
                .iter()
                .any(|p| sub == *p || sub.starts_with(&format!("{p}/")))
                || (sub == "sha3" && func.starts_with(".keccakF1600"));
            if bad {
                self.non_approved.insert(bare.to_string());
            } else {
                self.other_xcrypto.insert(bare.to_string());
            }
            return;
        }
        if let Some(p) = THIRD_PARTY_NON_APPROVED
            .iter()
            .find(|p| bare.starts_with(**p))
        {
            self.crypto_packages.insert(bare.to_string());
            self.non_approved.insert(p.to_string());
        }
    }

    fn any_crypto(&self) -> bool {
        !self.crypto_packages.is_empty()
            || !self.sig.is_empty()
            || self.boring_cgo
            || self.dlopen.is_some()
            || !self.non_approved.is_empty()
    }
}

/// `crypto/sha256.(*digest).Write` -> `crypto/sha256`; the package ends at the first `.` after
/// the last `/` of the leading path (method receivers may contain `/`).
pub(crate) fn package_path(name: &str) -> &str {
    let head_end = name.find(['(', '[']).unwrap_or(name.len());
    let head = &name[..head_end];
    let last_slash = head.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find('.') {
        Some(dot) => &name[..last_slash + dot],
        None => name,
    }
}

/// `v1.0.0-c2097c7c`, `v1.26.0`.
pub(crate) fn is_module_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let (nums, hash) = match rest.split_once('-') {
        Some((n, h)) => (n, Some(h)),
        None => (rest, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && hash.is_none_or(|h| {
            h.len() == 8 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// Collects names from the pclntab, the symbol table and, when the pclntab will not parse,
/// a raw search of the file. `Err` says why the function names could not be read: a Go
/// binary whose names were not read is never judged to have no crypto.
pub(crate) fn collect_names<'a>(
    elf: &ElfView<'a>,
    findings: &mut Findings,
) -> Result<GoNames, String> {
    let mut names = GoNames::default();
    let table = PcLnTab::find(elf);
    if let Some(t) = &table {
        names.source = "pclntab";
        t.for_each_name(|n| names.add(n));
    }
    for sym in &elf.symbols {
        names.add(sym.name);
    }
    if table.is_none() {
        findings.evidence("pclntab not found or corrupt: raw search of function names");
        names.source = "raw";
        raw_search(elf.data, &mut names);
        if !raw_is_complete(elf, &names) {
            return Err(format!(
                "function table not read: no pclntab parses and a raw search of an {} binary \
                 without symbols cannot see its markers",
                elf.machine
            ));
        }
    }
    if table.is_none() && !names.any_crypto() {
        // Names found by a raw search show what is there, never what is not.
        return Err(
            "function table not read: no pclntab parses, and a raw search that finds no crypto \
             names does not show there are none"
                .to_string(),
        );
    }
    if names.runtime_functions == 0 {
        return Err(match table {
            Some(_) => "function table not read: the pclntab parsed but named no runtime \
                        function (every Go program has them): its layout is not one this \
                        reader knows"
                .to_string(),
            None => "function table not read: no pclntab parses and a raw search finds no \
                     runtime function names"
                .to_string(),
        });
    }
    Ok(names)
}

fn raw_search(data: &[u8], names: &mut GoNames) {
    for prefix in RAW_PREFIXES {
        let finder = memchr::memmem::Finder::new(prefix.as_bytes());
        for at in finder.find_iter(data) {
            if at > 0 && data[at - 1] != 0 {
                continue;
            }
            let end = memchr::memchr(0, &data[at..]).map_or(data.len(), |e| at + e);
            if end - at <= 512 {
                names.add(&data[at..end]);
            }
        }
    }
    for (marker, pattern) in SIG_PATTERNS {
        if memchr::memmem::find(data, pattern).is_some() {
            names.sig.insert(marker);
        }
    }
}

/// Without a pclntab, a decision needs at least one marker a raw search can see on this
/// machine type: names, or the amd64 sig code patterns.
fn raw_is_complete(elf: &ElfView<'_>, names: &GoNames) -> bool {
    names.any_crypto() || elf.machine == "x86_64" || elf.has_symtab
}

/// Applies G2-G12 to one Go binary.
pub(crate) fn judge(info: Option<&GoBuildInfo>, names: &GoNames, f: &mut Findings) {
    let empty = GoBuildInfo::default();
    let info = info.unwrap_or(&empty);
    if info.go_version.is_empty() {
        f.evidence("buildinfo absent (go test -c, Bazel or gccgo): function names decide");
    } else {
        f.evidence(format!("buildinfo {}", info.go_version));
    }
    for key in [
        "GOFIPS140",
        "GOEXPERIMENT",
        "CGO_ENABLED",
        "-tags",
        "DefaultGODEBUG",
    ] {
        if let Some(v) = info.setting(key) {
            f.evidence(format!("buildinfo {key}={v}"));
        }
    }
    add_fork_evidence(info, names, f);

    // G2: no crypto at all, said with what was read (the fail-closed check reads this line).
    if !names.any_crypto() {
        f.evidence(format!(
            "{}: {} runtime functions named, no crypto package",
            names.source, names.runtime_functions
        ));
        return;
    }
    if !names.std_vendored_xcrypto.is_empty() {
        f.evidence(format!(
            "{} vendor/golang.org/x/crypto/{{{}}} (the standard library's copy, evidence only)",
            names.source,
            summarize(&names.std_vendored_xcrypto)
        ));
    }
    for pkg in &names.other_xcrypto {
        f.evidence(format!(
            "{} {pkg} (x/crypto, no primitive of its own)",
            names.source
        ));
    }
    let godebug_fips = last_fips140_item(info);
    let gofips140 = info.setting("GOFIPS140");

    let std_crypto: Vec<&str> = names
        .crypto_packages
        .iter()
        .map(String::as_str)
        .filter(|p| p.starts_with("crypto/") && !p.starts_with("crypto/internal/boring"))
        .collect();
    if let (Some(dlopen), false) = (
        &names.dlopen,
        fork_routes_std(info, names) || std_crypto.is_empty(),
    ) {
        // golang-fips/openssl linked by the application itself: the standard library's own
        // crypto is not routed to it (no fork backend), so it stays outside any module.
        f.evidence(format!(
            "{} {dlopen} (linked by the application, no fork backend)",
            names.source
        ));
        f.not_fips(format!(
            "{} {} (Go standard library crypto outside a validated module)",
            names.source,
            std_crypto.join(", ")
        ));
    } else if let Some(dlopen) = &names.dlopen {
        // G3: golang-fips/openssl loads the system libcrypto.
        f.evidence(format!("{} {dlopen}", names.source));
        let activation = if info.list("-tags").contains(&"requirefips") {
            Activation::Always
        } else if matches!(godebug_fips, Some("on" | "only")) {
            Activation::DefaultOn
        } else {
            Activation::HostDriven
        };
        f.route(ModuleRoute {
            name: "golang-fips-openssl (dlopen)".into(),
            version: None,
            activation,
            resolved_at_image_level: true,
        });
        if let Some(v) = gofips140.filter(|v| is_module_version(v)) {
            f.evidence(format!(
                "buildinfo GOFIPS140={v}: go-native snapshot linked too"
            ));
        }
    } else if let Some(version) = gofips140.filter(|v| is_module_version(v)) {
        judge_native_snapshot(version, godebug_fips, names, f);
    } else if gofips140 == Some("latest") {
        // G5
        f.not_fips("buildinfo GOFIPS140=latest: go-native latest is unvalidated");
    } else if names.sig.contains("BoringCrypto") || names.boring_cgo {
        // G6
        let marker = if names.sig.contains("BoringCrypto") {
            format!("{} {SIG}BoringCrypto", names.source)
        } else {
            format!("{} {BORING_CGO}*", names.source)
        };
        f.evidence(marker);
        let version = boringcrypto_version(info);
        f.evidence(format!(
            "go-boringcrypto syso {version} (the BoringSSL FIPS module Go {} links)",
            info.go_version
                .split_whitespace()
                .next()
                .unwrap_or("toolchain")
        ));
        f.warn("go-boringcrypto is unsupported outside Google; a policy may refuse it");
        f.route(ModuleRoute {
            name: "go-boringcrypto".into(),
            version: Some(version.into()),
            activation: Activation::Always,
            resolved_at_image_level: false,
        });
    } else if experiments(info).contains(&"boringcrypto") {
        // G7
        let sig = if names.sig.contains("StandardCrypto") {
            format!("; {} {SIG}StandardCrypto", names.source)
        } else {
            String::new()
        };
        f.not_fips(format!(
            "buildinfo GOEXPERIMENT=boringcrypto but no BoringCrypto code{sig}: standard Go crypto (silent fallback, e.g. CGO_ENABLED=0)"
        ));
    } else {
        // G8
        let packages: Vec<&str> = names.crypto_packages.iter().map(String::as_str).collect();
        f.not_fips(format!(
            "{} {} (Go standard library crypto outside a validated module)",
            names.source,
            packages.join(", ")
        ));
        if info.list("-tags").contains(&"no_openssl") {
            f.evidence("buildinfo -tags no_openssl: the golang-fips OpenSSL backend is opted out");
        }
        if matches!(godebug_fips, Some("on" | "only")) && gofips140.is_none() {
            f.evidence("DefaultGODEBUG fips140 without GOFIPS140: the in-tree module, unvalidated");
        }
    }

    // G9 overrides any route.
    for pkg in &names.non_approved {
        f.not_fips(format!(
            "{} {pkg} (non-approved primitive outside the FIPS module)",
            names.source
        ));
    }
    // G10, G11.
    if let Some(name) = &names.tls_fips_only {
        f.evidence(format!(
            "{} {name}: TLS limited to FIPS settings",
            names.source
        ));
    } else if names.sig.contains("FIPSOnly") {
        f.evidence(format!(
            "{} {SIG}FIPSOnly: TLS limited to FIPS settings",
            names.source
        ));
    }
}

fn judge_native_snapshot(
    version: &str,
    godebug_fips: Option<&str>,
    names: &GoNames,
    f: &mut Findings,
) {
    // G4
    let activation = match godebug_fips {
        Some("on" | "only") => Activation::DefaultOn,
        Some("auto") => Activation::HostDriven,
        _ => Activation::EnvSwitch,
    };
    if names.fips140_versions.contains(version) {
        f.evidence(format!("{} {FIPS140_PKG}{version}/", names.source));
    } else if names.fips140_in_tree {
        f.not_fips(format!(
            "buildinfo GOFIPS140={version} but the code is the in-tree {FIPS140_PKG} module, not the snapshot"
        ));
        return;
    } else {
        f.warn(format!(
            "GOFIPS140={version} but no function under {FIPS140_PKG}{version}/ was found"
        ));
    }
    f.route(ModuleRoute {
        name: "go-native".into(),
        version: Some(version.into()),
        activation,
        resolved_at_image_level: false,
    });
}

/// A Red Hat or Microsoft toolchain whose standard library crypto goes through the
/// golang-fips/openssl backend.
fn fork_routes_std(info: &GoBuildInfo, names: &GoNames) -> bool {
    // sig.StandardCrypto or the no_openssl tag: the standard library kept its own crypto.
    if names.sig.contains("StandardCrypto") || info.list("-tags").contains(&"no_openssl") {
        return false;
    }
    let exps = experiments(info);
    names.fork_backend
        || names.sig.contains("BoringCrypto")
        || ["systemcrypto", "opensslcrypto", "strictfipsruntime"]
            .iter()
            .any(|e| exps.contains(e))
        || info.setting("microsoft_systemcrypto").is_some()
        || info.setting("microsoft_toolset_version").is_some()
}

/// The last exact `fips140=` item of DefaultGODEBUG.
fn last_fips140_item(info: &GoBuildInfo) -> Option<&str> {
    info.list("DefaultGODEBUG")
        .into_iter()
        .rev()
        .find_map(|item| item.strip_prefix("fips140="))
}

fn experiments(info: &GoBuildInfo) -> Vec<&str> {
    let mut all = info.list("GOEXPERIMENT");
    all.extend(info.version_experiments());
    all
}

/// Go's BoringCrypto syso: fips-20210429 up to Go 1.21, fips-20220613 from Go 1.22
/// (golang/go `src/crypto/internal/boring/Dockerfile`, #64717).
fn boringcrypto_version(info: &GoBuildInfo) -> &'static str {
    match info.go_minor() {
        Some((1, minor)) if minor >= 22 => "fips-20220613",
        _ => "fips-20210429",
    }
}

fn add_fork_evidence(info: &GoBuildInfo, names: &GoNames, f: &mut Findings) {
    let tags = info.list("-tags");
    let exps = experiments(info);
    if tags.contains(&"strictfipsruntime") || exps.contains(&"strictfipsruntime") {
        f.evidence("strictfipsruntime: refuses to run non-FIPS on a FIPS host");
    }
    for key in [
        "microsoft_systemcrypto",
        "microsoft_toolset_version",
        "chainguard_go_package",
        "chainguard_cryptographic_module",
        "jitter_entropy_source",
    ] {
        if let Some(v) = info.setting(key) {
            f.evidence(format!("buildinfo {key}={v}"));
        }
    }
    if exps.contains(&"systemcrypto") {
        f.evidence("GOEXPERIMENT systemcrypto (Microsoft Go)");
    }
    if names.jitter_entropy {
        f.evidence(
            "crypto/internal/entropy/v1%2e0%2e0.Seed: CPU jitter entropy source (ESV #E318)",
        );
    }
}

fn summarize(set: &BTreeSet<String>) -> String {
    const SHOWN: usize = 6;
    let mut out: Vec<&str> = set.iter().take(SHOWN).map(String::as_str).collect();
    let more = set.len().saturating_sub(SHOWN);
    if more > 0 {
        out.push("…");
        return format!("{} (+{more} more packages)", out.join(", "));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths() {
        assert_eq!(
            package_path("crypto/sha256.(*digest).Write"),
            "crypto/sha256"
        );
        assert_eq!(
            package_path("golang.org/x/crypto/chacha20poly1305.(*chacha20poly1305).Seal"),
            "golang.org/x/crypto/chacha20poly1305"
        );
        assert_eq!(package_path("main.cryptoHelper"), "main");
        assert_eq!(
            package_path("crypto/internal/fips140/v1.0.0-c2097c7c/sha256.Sum"),
            "crypto/internal/fips140/v1.0.0-c2097c7c/sha256"
        );
        assert_eq!(
            package_path("crypto/internal/entropy/v1%2e0%2e0.Seed"),
            "crypto/internal/entropy/v1%2e0%2e0"
        );
    }

    #[test]
    fn module_versions() {
        assert!(is_module_version("v1.0.0-c2097c7c"));
        assert!(is_module_version("v1.26.0"));
        assert!(!is_module_version("latest"));
        assert!(!is_module_version("v1.0"));
        assert!(!is_module_version("v1.0.0-XYZ"));
    }

    #[test]
    fn crypto_prefix_is_anchored() {
        let mut n = GoNames::default();
        n.add(b"main.cryptoHelper");
        n.add(b"internal/chacha8rand.block");
        assert!(!n.any_crypto());
        n.add(b"crypto/sha256.Sum256");
        assert!(n.any_crypto());
    }

    #[test]
    fn xcrypto_primitives_are_flagged_but_parsers_are_not() {
        let mut n = GoNames::default();
        n.add(b"golang.org/x/crypto/cryptobyte.(*String).ReadUint8");
        assert!(n.non_approved.is_empty());
        n.add(b"vendor/golang.org/x/crypto/chacha20poly1305.(*chacha20poly1305).Seal");
        assert!(
            n.non_approved.is_empty(),
            "the std's vendored copy is evidence only"
        );
        n.add(b"golang.org/x/crypto/sha3.(*state).Write");
        assert!(n.non_approved.is_empty());
        n.add(b"golang.org/x/crypto/sha3.keccakF1600");
        assert!(n.non_approved.contains("golang.org/x/crypto/sha3"));
        n.add(b"example.com/app/vendor/golang.org/x/crypto/blake2b.Sum256");
        assert!(n.non_approved.contains("golang.org/x/crypto/blake2b"));
    }
}
