//! FIPS-RULES §4: binaries that are not Go, and the C libraries inside Go binaries.
//! Order: module routes, non-FIPS markers, constant tables, `no-crypto`; crypto libraries
//! themselves are judged as modules (§2).

use std::collections::{BTreeMap, BTreeSet};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;
use std::sync::OnceLock;

use super::elf::ElfView;
use super::findings::{Activation, Findings, ModuleRoute, Reader, Role};
use super::own_crypto::{self, Class};
use super::rust_crates;

const AWS_LC_FIPS: &[u8] = b"AWS-LC FIPS ";

/// Sonames of libraries whose crypto is outside any module (nettle only outside GnuTLS).
const NON_FIPS_SONAMES: &[(&str, &str)] = &[
    ("libmbedcrypto.so", "mbedTLS"),
    ("libmbedtls.so", "mbedTLS"),
    ("libsodium.so", "libsodium"),
    ("libnettle.so", "nettle"),
    ("libhogweed.so", "nettle"),
    ("libhcrypto.so", "Heimdal hcrypto"),
    ("libtomcrypt.so", "libtomcrypt"),
];

/// Distro libraries that are FIPS modules when their distro package is registered (I5).
const DISTRO_MODULE_SONAMES: &[(&str, &str)] = &[
    ("libgcrypt.so", "libgcrypt"),
    ("libgnutls.so", "gnutls"),
    ("libnss3.so", "nss"),
    ("libsoftokn3.so", "nss"),
    ("libssl3.so", "nss"),
    ("libsymcrypt.so", "symcrypt"),
];

/// `name` matches `base` followed by nothing or `.N…` (anchored, so `libk5crypto.so.3` is
/// not `libcrypto.so`).
pub(crate) fn soname_is(name: &str, base: &str) -> bool {
    match name.strip_prefix(base) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('.').is_some_and(|v| {
            v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        }),
        None => false,
    }
}

pub(crate) fn is_openssl_soname(name: &str) -> bool {
    soname_is(name, "libcrypto.so") || soname_is(name, "libssl.so")
}

/// The route a `DT_NEEDED` entry opens, or the non-FIPS library it names.
pub(crate) enum NeededKind {
    OpenSsl,
    DistroModule(&'static str),
    WolfSsl,
    NonFips(&'static str),
    Libxcrypt,
    Other,
}

pub(crate) fn classify_needed(soname: &str) -> NeededKind {
    if is_openssl_soname(soname) {
        return NeededKind::OpenSsl;
    }
    if let Some((_, m)) = DISTRO_MODULE_SONAMES
        .iter()
        .find(|(b, _)| soname_is(soname, b))
    {
        return NeededKind::DistroModule(m);
    }
    if soname.starts_with("libwolfssl.so") {
        return NeededKind::WolfSsl;
    }
    if let Some((_, l)) = NON_FIPS_SONAMES.iter().find(|(b, _)| soname_is(soname, b)) {
        return NeededKind::NonFips(l);
    }
    if soname_is(soname, "libcrypt.so") {
        return NeededKind::Libxcrypt;
    }
    NeededKind::Other
}

/// Applies the route a needed library opens. `via` names the chain for inherited entries.
pub(crate) fn apply_needed(soname: &str, via: &str, f: &mut Findings) {
    let ev = format!("DT_NEEDED {via}{soname}");
    match classify_needed(soname) {
        NeededKind::OpenSsl => {
            f.evidence(ev);
            if soname.ends_with(".so.1.1") || soname.ends_with(".so.10") {
                f.warn(format!(
                    "{soname}: OpenSSL 1.x has FIPS only in distro builds"
                ));
            }
            f.route(dynamic_route("openssl (dynamic)"));
        }
        NeededKind::DistroModule(module) => {
            f.evidence(ev);
            f.route(dynamic_route(module));
        }
        NeededKind::WolfSsl => {
            f.evidence(ev);
            f.route(dynamic_route("wolfcrypt-fips"));
        }
        NeededKind::NonFips(lib) => f.not_fips(format!("{ev} ({lib}: no FIPS module)")),
        NeededKind::Libxcrypt => f.evidence(format!("{ev} (password hashing, evidence only)")),
        NeededKind::Other => {}
    }
}

fn dynamic_route(name: &str) -> ModuleRoute {
    ModuleRoute {
        name: name.into(),
        version: None,
        activation: Activation::HostDriven,
        resolved_at_image_level: true,
    }
}

/// The crypto library family a file name says it is (§2), for judging it as a module.
pub(crate) fn module_library(file_name: &str) -> Option<&'static str> {
    let checks: &[(&str, &str)] = &[
        ("libcrypto.so", "openssl"),
        ("libssl.so", "openssl"),
        ("libgcrypt.so", "libgcrypt"),
        ("libgnutls.so", "gnutls"),
        ("libsoftokn3.so", "nss"),
        ("libsymcrypt.so", "symcrypt"),
        ("symcryptprovider.so", "symcrypt"),
        ("libwolfssl.so", "wolfssl"),
    ];
    if file_name == "fips.so" {
        return Some("openssl-provider");
    }
    if file_name.starts_with("libaws-lc") {
        return Some("aws-lc");
    }
    checks
        .iter()
        .find(|(base, _)| {
            soname_is(file_name, base) || (file_name.starts_with(base) && *base == "libwolfssl.so")
        })
        .map(|(_, family)| *family)
}

/// Symbol and string markers, gathered in one pass each.
#[derive(Default)]
struct Markers {
    aws_lc_fips_prefix: Option<String>,
    aws_lc_prefix: Option<String>,
    aws_lc_fips_string: Option<String>,
    /// `aws-lc-sys-<v>/` (the non-FIPS build's registry path).
    aws_lc_sys_path: Option<String>,
    /// `aws-lc-fips-sys-<v>/`.
    aws_lc_fips_sys_path: Option<String>,
    bcm_self_test: bool,
    ring_prefix: Option<String>,
    ring_path: Option<String>,
    openssl_defined: Vec<String>,
    openssl_version: Option<String>,
    openssl_source_path: bool,
    openssl_dirs: Vec<String>,
    fips_provider_name: bool,
    ubuntu_module: bool,
    wolf_fips: bool,
    /// Libraries outside any module found by their API: whether it is defined here (linked
    /// statically) or only called.
    defined_libs: BTreeMap<&'static str, bool>,
    rust_crates: BTreeSet<String>,
    rust_rng: bool,
    registry_crates: BTreeSet<String>,
    /// Own-implementation and constant-table markers, by first file offset.
    own: own_crypto::Seen,
    /// Defines CPython's built-in hash modules (`PyInit__sha1`, ...): their hashes are not
    /// what hashlib uses in FIPS mode (evidence only).
    cpython_hashes: Vec<String>,
}

/// Judges the non-Go markers of a file. `is_go` skips what only applies to non-Go files
/// (constant tables: Go's own crypto is judged by the Go rules).
pub(crate) fn judge(elf: &ElfView<'_>, file_name: &str, is_go: bool, f: &mut Findings) {
    let mut m = Markers::default();
    scan_symbols(elf, &mut m);
    let regions = elf.data_regions(is_go);
    // Round constants also sit in code as instruction immediates; Go's code is Go's own
    // crypto, judged by the Go rules.
    let code = if is_go {
        Vec::new()
    } else {
        elf.code_regions()
    };
    // Go's own crypto is judged by the Go rules: constant tables decide nothing there.
    scan_strings(elf.data, &regions, &code, is_go, &mut m);
    if !elf.has_symtab && !is_go {
        if let Some(s) = elf.section(".dep-v0") {
            match rust_crates::auditable_packages(elf.section_data(s)) {
                Ok(pkgs) => m.registry_crates.extend(pkgs),
                Err(e) => f.warn(e),
            }
        }
    }
    if let Some(family) = module_library(file_name) {
        f.role = Some(Role::Module);
        judge_module(family, file_name, elf, &m, f);
        return;
    }
    f.role = Some(Role::Consumer);
    judge_consumer(elf, &m, f);
    if is_go && !f.has_crypto() && f.unknown.is_none() {
        go_constants_guard(elf, f);
    }
}

/// A Go binary whose function names show no crypto but whose bytes carry crypto constant
/// tables has hidden names (an obfuscator such as garble): it cannot be judged `no-crypto`.
fn go_constants_guard(elf: &ElfView<'_>, f: &mut Findings) {
    let tables: Vec<String> = own_crypto::MARKERS
        .iter()
        .filter(|mk| mk.class == Class::Table)
        .filter(|mk| memmem::find(elf.data, &own_crypto::bytes(mk)).is_some())
        .map(|mk| format!("{} {}", mk.family, mk.name))
        .collect();
    if !tables.is_empty() {
        let why = format!(
            "Go function names show no crypto but the file carries constant tables {} (obfuscated names?)",
            tables.join(", ")
        );
        f.cannot_judge(Reader::GoFunctionTable, why);
    }
}

fn scan_symbols(elf: &ElfView<'_>, m: &mut Markers) {
    for sym in &elf.symbols {
        let Ok(name) = std::str::from_utf8(sym.name) else {
            continue;
        };
        if let Some(rest) = name.strip_prefix("aws_lc_fips_") {
            // Only the versioned API prefix (`aws_lc_fips_0_14_4_`): a file symbol such as
            // the crate's codegen unit `aws_lc_fips_sys.<hash>-cgu.0` names no module.
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                m.aws_lc_fips_prefix
                    .get_or_insert_with(|| version_prefix(rest));
            }
        } else if let Some(rest) = name.strip_prefix("aws_lc_") {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                m.aws_lc_prefix.get_or_insert_with(|| version_prefix(rest));
            }
        } else if let Some(rest) = name.strip_prefix("ring_core_") {
            m.ring_prefix.get_or_insert_with(|| version_prefix(rest));
        } else if name == "BORINGSSL_bcm_power_on_self_test" || name == "BORINGSSL_integrity_test" {
            m.bcm_self_test = true;
        } else if sym.defined {
            match name {
                "EVP_DigestInit_ex" | "RAND_bytes" | "OPENSSL_init_crypto" => {
                    m.openssl_defined.push(name.to_string());
                }
                "wolfCrypt_GetStatus_fips" => m.wolf_fips = true,
                "sodium_init" | "crypto_secretbox_easy" | "crypto_sign_ed25519_detached" => {
                    m.defined_libs.insert("libsodium", true);
                }
                "argon2_hash" | "argon2_ctx" | "argon2_verify" => {
                    m.defined_libs.insert("Argon2", true);
                }
                "PyInit__md5" | "PyInit__sha1" | "PyInit__sha256" | "PyInit__sha512"
                | "PyInit__sha2" | "PyInit__sha3" | "PyInit__blake2" => {
                    m.cpython_hashes.push(name.to_string())
                }
                _ if name.starts_with("mbedtls_") => {
                    m.defined_libs.insert("mbedTLS", true);
                }
                _ => {}
            }
        }
        match name {
            // libtomcrypt's API, linked statically (defined) or from its library (imported).
            "register_cipher" | "register_hash" | "find_cipher" | "find_hash" | "crypt_argchk"
            | "cipher_descriptor" | "hash_descriptor" | "sha256_process" | "chacha_crypt"
            | "ecc_make_key_ex" => {
                let defined = m.defined_libs.get("libtomcrypt").copied().unwrap_or(false);
                m.defined_libs.insert("libtomcrypt", defined || sym.defined);
            }
            // nettle called directly: outside GnuTLS, whose module it is part of.
            _ if !sym.defined && name.starts_with("nettle_") => {
                m.defined_libs.entry("nettle").or_insert(false);
            }
            _ => {}
        }
        if name.starts_with("_ZN") || name.starts_with("_R") {
            scan_rust_symbol(name, m);
        }
    }
}

/// Only symbols that name a crate of interest anywhere (also inside generic arguments, as in
/// `_$LT$chacha20..ChaChaCore$u20$as$u20$cipher..StreamCipherCore$GT$`) are demangled.
fn scan_rust_symbol(mangled: &str, m: &mut Markers) {
    static NAMES: OnceLock<AhoCorasick> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let crates = rust_crates::PRIMITIVE_CRATES
            .iter()
            .chain(rust_crates::RNG_CRATES)
            .chain(&["cipher"]);
        AhoCorasick::new(crates).expect("the crate names build")
    });
    if !names.is_match(mangled) {
        return;
    }
    rust_crates::symbol_crates(mangled, &mut m.rust_crates);
    m.rust_rng |= rust_crates::is_rng_use(mangled);
}

/// `0_47_0_FIPS_mode` -> `0.47.0`.
fn version_prefix(rest: &str) -> String {
    rest.split('_')
        .take_while(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .take(3)
        .collect::<Vec<_>>()
        .join(".")
}

/// Every string and constant marker, found in one pass per region (leftmost-longest: the
/// provider name wins over the bare `OpenSSL ` prefix at the same place).
#[derive(Clone, Copy)]
enum Pattern {
    AwsLcFips,
    AwsLcSysPath,
    AwsLcFipsSysPath,
    RingPath,
    OpenSslVersion,
    OpenSslSource,
    OpenSslDir,
    FipsProviderName,
    UbuntuModule,
    SrcPath,
    /// `own_crypto::MARKERS[i]`.
    Own(usize),
}

const PATTERNS: &[(&[u8], Pattern)] = &[
    (AWS_LC_FIPS, Pattern::AwsLcFips),
    (b"aws-lc-sys-", Pattern::AwsLcSysPath),
    (b"aws-lc-fips-sys-", Pattern::AwsLcFipsSysPath),
    (b"/ring-", Pattern::RingPath),
    (b"OpenSSL ", Pattern::OpenSslVersion),
    (b"crypto/evp/digest.c", Pattern::OpenSslSource),
    (b"OPENSSLDIR: \"", Pattern::OpenSslDir),
    (b"MODULESDIR: \"", Pattern::OpenSslDir),
    (b"OpenSSL FIPS Provider", Pattern::FipsProviderName),
    (b"OpenSSL Cryptographic Module", Pattern::UbuntuModule),
    (b"/src/", Pattern::SrcPath),
];

/// The markers in three automata. Data sections get one pass for the strings, the tables and
/// one word of each set of 4-byte constants that counts in data (its anchor); code gets one
/// pass for the anchors alone (round constants sit there as instruction immediates). The rest
/// of a set is looked up only around its anchor's hits. Go files, whose own crypto
/// the Go rules judge, get the strings alone. Few short patterns keep each search on its SIMD
/// prefilter: one automaton holding every word is several times slower.
struct Automata {
    data: AhoCorasick,
    data_kinds: Vec<Pattern>,
    code: AhoCorasick,
    /// The `own_crypto::MARKERS` index of each code pattern; the one pattern after them is
    /// `AWS_LC_FIPS`.
    code_markers: Vec<usize>,
}

fn build_automaton(patterns: &[Vec<u8>]) -> AhoCorasick {
    // A contiguous NFA: its search runs as fast as a DFA's behind the prefilter, and it builds
    // in a fraction of the time (once per process, which a short scan notices).
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(patterns)
        .expect("the marker patterns build")
}

fn string_patterns() -> (Vec<Vec<u8>>, Vec<Pattern>) {
    PATTERNS.iter().map(|(p, k)| (p.to_vec(), *k)).unzip()
}

/// The strings alone, for Go files (`PATTERNS`' kinds name its hits).
fn strings_automaton() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| build_automaton(&string_patterns().0))
}

fn automata() -> &'static Automata {
    static AC: OnceLock<Automata> = OnceLock::new();
    AC.get_or_init(|| {
        let (mut data, mut data_kinds) = string_patterns();
        let mut code = Vec::new();
        let mut code_markers = Vec::new();
        for (i, marker) in own_crypto::MARKERS.iter().enumerate() {
            let anchor = own_crypto::is_anchor(i);
            // Immediates count only in code.
            let in_data = !own_crypto::is_word(marker) || (anchor && marker.class == Class::Word);
            if in_data {
                data.push(own_crypto::bytes(marker));
                data_kinds.push(Pattern::Own(i));
            }
            if anchor {
                code.push(own_crypto::bytes(marker));
                code_markers.push(i);
            }
        }
        // The aws-lc FIPS module keeps its constants inside its own code (the module boundary
        // is integrity-checked), so its name string lives in .text: the last code pattern.
        code.push(AWS_LC_FIPS.to_vec());
        Automata {
            data: build_automaton(&data),
            data_kinds,
            code: build_automaton(&code),
            code_markers,
        }
    })
}

/// The markers over each data region (the strings alone in a Go file), the anchors over each
/// code region, then the rest of each set near an anchor that was found.
fn scan_strings(file: &[u8], regions: &[&[u8]], code: &[&[u8]], is_go: bool, m: &mut Markers) {
    let base = |region: &[u8]| (region.as_ptr() as usize).saturating_sub(file.as_ptr() as usize);
    let mut anchors = AnchorHits::default();
    for region in code {
        let ac = automata();
        for hit in ac.code.find_iter(*region) {
            let Some(&i) = ac.code_markers.get(hit.pattern().as_usize()) else {
                if versioned(region, hit.end()) {
                    m.aws_lc_fips_string
                        .get_or_insert_with(|| word_after(region, hit.end()));
                }
                continue;
            };
            m.own.record(i, base(region) + hit.start(), true);
            anchors.push(i, region, hit.start(), true);
        }
    }
    scan_data(regions, is_go, &base, &mut anchors, m);
    // The rest of each set whose anchor was found, in the bytes around each of the anchor's
    // hits: a set's words sit together (one table, one unrolled function).
    for &(i, region, at, in_code) in &anchors.hits {
        let from = at.saturating_sub(SET_WINDOW);
        let window = &region[from..(at + SET_WINDOW).min(region.len())];
        let found: Vec<(usize, usize)> = own_crypto::set_of(i)
            .map_while(|j| {
                let offset = memmem::find(window, &own_crypto::bytes(&own_crypto::MARKERS[j]))?;
                Some((j, base(region) + from + offset))
            })
            .collect();
        if found.len() == own_crypto::set_of(i).count() {
            for (j, offset) in found {
                m.own.record(j, offset, in_code);
            }
        }
    }
    // An anchor with more hits than are kept (a file full of one value): its set anywhere in
    // the file, as if every word stood alone.
    for &i in &anchors.crowded {
        for j in own_crypto::set_of(i) {
            let marker = &own_crypto::MARKERS[j];
            let word = memmem::Finder::new(&own_crypto::bytes(marker)).into_owned();
            // Immediates count only in code; the other words in data too.
            let data_regions = regions
                .iter()
                .filter(|_| marker.class == Class::Word)
                .map(|r| (false, r));
            for (is_code, region) in code.iter().map(|r| (true, r)).chain(data_regions) {
                if let Some(at) = word.find(region) {
                    m.own.record(j, base(region) + at, is_code);
                    break;
                }
            }
        }
    }
}

/// How far from its anchor the other words of a set are looked for, each way: an unrolled
/// SHA-512 is a few KiB of code, a table of round constants a few hundred bytes.
const SET_WINDOW: usize = 64 * 1024;

/// Where the anchors of the word sets were found, in code or data.
#[derive(Default)]
struct AnchorHits<'a> {
    /// `(marker, region, offset in the region, in code)`, the first few of each anchor.
    hits: Vec<(usize, &'a [u8], usize, bool)>,
    /// Anchors with more hits than are kept.
    crowded: BTreeSet<usize>,
}

impl<'a> AnchorHits<'a> {
    /// Hits kept per anchor: a 4-byte word occurs by chance about once in 4 GiB of bytes.
    const PER_ANCHOR: usize = 16;

    fn push(&mut self, marker: usize, region: &'a [u8], at: usize, in_code: bool) {
        if self.crowded.contains(&marker) {
            return;
        }
        if self.hits.iter().filter(|h| h.0 == marker).count() < Self::PER_ANCHOR {
            self.hits.push((marker, region, at, in_code));
        } else {
            self.crowded.insert(marker);
        }
    }
}

fn scan_data<'a>(
    regions: &[&'a [u8]],
    is_go: bool,
    base: &dyn Fn(&[u8]) -> usize,
    anchors: &mut AnchorHits<'a>,
    m: &mut Markers,
) {
    let ac = if is_go {
        strings_automaton()
    } else {
        &automata().data
    };
    // The strings come first in both automata, the markers after them in the data automaton.
    let kind = |pattern: usize| match PATTERNS.get(pattern) {
        Some((_, kind)) => *kind,
        None => automata().data_kinds[pattern],
    };
    for region in regions {
        for hit in ac.find_iter(*region) {
            let (at, end) = (hit.start(), hit.end());
            match kind(hit.pattern().as_usize()) {
                // Each of these names a module only with the version it carries in real
                // builds ("AWS-LC FIPS 4.2.0", `aws-lc-sys-0.47.0/`): the bare words are what
                // any tool that looks for them (this scanner included) holds as literals.
                Pattern::AwsLcFips if versioned(region, end) => {
                    m.aws_lc_fips_string
                        .get_or_insert_with(|| word_after(region, end));
                }
                Pattern::AwsLcSysPath if versioned(region, end) => {
                    m.aws_lc_sys_path
                        .get_or_insert_with(|| path_segment(region, at));
                }
                Pattern::AwsLcFipsSysPath if versioned(region, end) => {
                    m.aws_lc_fips_sys_path
                        .get_or_insert_with(|| path_segment(region, at));
                }
                Pattern::RingPath if versioned(region, end) => {
                    m.ring_path
                        .get_or_insert_with(|| path_segment(region, at + 1));
                }
                Pattern::OpenSslVersion if dotted_version(region, end) => {
                    m.openssl_version
                        .get_or_insert_with(|| format!("OpenSSL {}", word_after(region, end)));
                }
                // C strings of the library itself (`__FILE__`, `OpenSSL_version(OPENSSL_DIR)`):
                // whole NUL-terminated strings, not words inside other text.
                Pattern::OpenSslSource if c_string(region, at, end, true) => {
                    m.openssl_source_path = true;
                }
                Pattern::OpenSslDir if c_string(region, at, end, false) => {
                    let len = region[end..]
                        .iter()
                        .position(|&b| b == b'"' || b == 0)
                        .unwrap_or(0);
                    let stop = (end + len + 1).min(region.len());
                    let text = String::from_utf8_lossy(&region[at..stop]).into_owned();
                    if !m.openssl_dirs.contains(&text) {
                        m.openssl_dirs.push(text);
                    }
                }
                Pattern::AwsLcFips
                | Pattern::AwsLcSysPath
                | Pattern::AwsLcFipsSysPath
                | Pattern::RingPath
                | Pattern::OpenSslVersion
                | Pattern::OpenSslSource
                | Pattern::OpenSslDir => {}
                Pattern::FipsProviderName => m.fips_provider_name = true,
                Pattern::UbuntuModule => m.ubuntu_module = true,
                Pattern::SrcPath => {
                    // Go's paths are Go modules (the Go rules read them from build info).
                    if !is_go {
                        if let Some((name, _)) = rust_crates::registry_path_crate(region, at) {
                            m.registry_crates.insert(name);
                        }
                    }
                }
                Pattern::Own(i) => {
                    m.own.record(i, base(region) + at, false);
                    if own_crypto::is_anchor(i) {
                        anchors.push(i, region, at, false);
                    }
                }
            }
        }
    }
}

/// The first `OpenSSL <digit>…` or `LibreSSL <digit>…` version string in a library.
pub(crate) fn library_version(data: &[u8]) -> Option<String> {
    for prefix in [&b"OpenSSL "[..], b"LibreSSL "] {
        for at in memmem::find_iter(data, prefix) {
            let end = at + prefix.len();
            if dotted_version(data, end) {
                let name = String::from_utf8_lossy(&prefix[..prefix.len() - 1]).into_owned();
                return Some(format!("{name} {}", word_after(data, end)));
            }
        }
    }
    None
}

/// The printable word starting at `at` (a version number).
/// Whether a version number starts at `at`.
fn versioned(data: &[u8], at: usize) -> bool {
    data.get(at).is_some_and(u8::is_ascii_digit)
}

/// Whether a dotted version (`3.0.15`, `1.1.1w`) starts at `at`, as in every OpenSSL and
/// LibreSSL version string; `OpenSSL 3 with its provider` in a message is not one.
fn dotted_version(data: &[u8], at: usize) -> bool {
    let digits = data
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    digits > 0
        && data.get(at + digits) == Some(&b'.')
        && data.get(at + digits + 1).is_some_and(u8::is_ascii_digit)
}

/// Whether `data[at..end]` begins a C string: at the start of the region or after a NUL (or,
/// for a path, after `/`: a longer path that ends the same way), and — for a whole string
/// such as a source path — ends at a NUL. Rust string literals are packed without NULs.
fn c_string(data: &[u8], at: usize, end: usize, whole: bool) -> bool {
    let starts = at == 0 || data[at - 1] == 0 || (whole && data[at - 1] == b'/');
    starts && (!whole || data.get(end) == Some(&0))
}

fn word_after(data: &[u8], at: usize) -> String {
    let tail = &data[at.min(data.len())..];
    let end = tail
        .iter()
        .position(|&b| b == 0 || b == b' ' || b == b'"' || !b.is_ascii_graphic())
        .unwrap_or(tail.len())
        .min(64);
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

/// The path segment (between `/`s) that starts at `at`.
fn path_segment(data: &[u8], at: usize) -> String {
    let tail = &data[at..];
    let end = tail
        .iter()
        .position(|&b| b == b'/' || b == 0 || !b.is_ascii_graphic())
        .unwrap_or(tail.len())
        .min(80);
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

fn judge_consumer(elf: &ElfView<'_>, m: &Markers, f: &mut Findings) {
    // A Go BoringCrypto syso is BoringSSL: its OpenSSL-named symbols are the module's own.
    let mut static_module = f.routes.iter().any(|r| r.name == "go-boringcrypto");
    // aws-lc FIPS (most specific first: aws_lc_ prefixes aws_lc_fips_). The name string alone
    // is not enough: it needs the prefixed symbols, the module's self-test or its crate's path.
    let version = m.aws_lc_fips_string.clone().filter(|v| !v.is_empty());
    let second_marker =
        m.aws_lc_fips_prefix.is_some() || m.bcm_self_test || m.aws_lc_fips_sys_path.is_some();
    if m.aws_lc_fips_prefix.is_some() || (version.is_some() && second_marker) {
        static_module = true;
        if let Some(p) = &m.aws_lc_fips_prefix {
            f.evidence(format!("symbol aws_lc_fips_{}_", p.replace('.', "_")));
        }
        if m.bcm_self_test {
            f.evidence("symbol BORINGSSL_bcm_power_on_self_test");
        }
        if let Some(path) = &m.aws_lc_fips_sys_path {
            f.evidence(format!("string \"{path}\""));
        }
        match &version {
            Some(v) => f.evidence(format!("string \"AWS-LC FIPS {v}\"")),
            None => f.warn("aws-lc-fips symbols without an \"AWS-LC FIPS\" version string: module version unknown"),
        }
        f.route(ModuleRoute {
            name: "aws-lc-fips".into(),
            version,
            activation: Activation::Always,
            resolved_at_image_level: false,
        });
    } else if let Some(v) = &version {
        f.warn(format!("string \"AWS-LC FIPS {v}\" without any other aws-lc FIPS marker: not taken as a module"));
    }
    if let Some(p) = &m.aws_lc_prefix {
        let path = m
            .aws_lc_sys_path
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        f.not_fips(format!(
            "symbol aws_lc_{}_ (aws-lc without FIPS{path})",
            p.replace('.', "_")
        ));
    } else if let Some(path) = &m.aws_lc_sys_path {
        f.not_fips(format!("string \"{path}\" (aws-lc without FIPS)"));
    }
    if m.bcm_self_test && !static_module {
        // BoringSSL FIPS: the module is known but its validation needs metadata naming the tag.
        static_module = true;
        f.evidence("symbol BORINGSSL_bcm_power_on_self_test (BoringSSL FIPS)");
        f.route(ModuleRoute {
            name: "boringssl-fips".into(),
            version: None,
            activation: Activation::Always,
            resolved_at_image_level: false,
        });
    }
    if m.ring_prefix.is_some() || m.ring_path.is_some() {
        let what = match (&m.ring_prefix, &m.ring_path) {
            (Some(p), _) => format!("symbol ring_core_{}_", p.replace('.', "_")),
            (None, Some(path)) => format!("string \"{path}\""),
            (None, None) => unreachable!("checked above"),
        };
        f.not_fips(format!("{what} (ring: no FIPS module)"));
    }
    // OpenSSL, static (O2): only when no other BoringSSL-family library explains the symbols.
    let aws_or_boring = static_module
        || m.aws_lc_prefix.is_some()
        || m.aws_lc_sys_path.is_some()
        || m.aws_lc_fips_sys_path.is_some();
    let dynamic_openssl = elf
        .needed
        .iter()
        .any(|n| is_openssl_soname(&String::from_utf8_lossy(n)));
    if !aws_or_boring {
        let by_symbols = !m.openssl_defined.is_empty();
        let by_strings = !dynamic_openssl
            && (m.openssl_source_path
                || (m.openssl_version.is_some() && !m.openssl_dirs.is_empty()));
        if by_symbols || by_strings {
            let mut what = if by_symbols {
                format!("defines {}", m.openssl_defined.join(", "))
            } else {
                "string \"crypto/evp/digest.c\"".to_string()
            };
            if let Some(v) = &m.openssl_version {
                what.push_str(&format!("; string \"{v}\""));
            }
            f.not_fips(format!(
                "{what} (OpenSSL linked statically: no FIPS provider attached)"
            ));
            for d in &m.openssl_dirs {
                f.evidence(format!("string {d}"));
            }
        }
    }
    for soname in &elf.needed {
        apply_needed(&String::from_utf8_lossy(soname), "", f);
    }
    for (lib, defined) in &m.defined_libs {
        if *defined {
            f.not_fips(format!("defines {lib} functions (no FIPS module)"));
        } else {
            f.not_fips(format!("calls {lib} functions directly (no FIPS module)"));
        }
    }
    judge_rust(m, f);
    judge_own_crypto(m, static_module || !f.routes.is_empty(), static_module, f);
}

/// Crypto compiled into the file (`own_crypto`). An implementation is crypto outside any
/// module also beside a dynamic module route (a program that links libcrypto and carries its
/// own Blowfish uses both); beside a statically linked module its tables cannot be told from
/// the module's own, so they are a warning there. The last-resort tables keep their old
/// weight: crypto alone, a warning beside any module route.
fn judge_own_crypto(m: &Markers, any_route: bool, static_module: bool, f: &mut Findings) {
    let own = own_crypto::assess(&m.own);
    for (family, what) in &own.implementations {
        if static_module {
            f.warn(format!(
                "own {family} implementation beside a statically linked module: {what}"
            ));
        } else if is_cpython_hash(family, m) {
            f.evidence(format!(
                "{family} in CPython's built-in hash module ({}: hashlib uses OpenSSL in FIPS mode): {what}",
                m.cpython_hashes.join(", ")
            ));
        } else {
            f.not_fips(format!(
                "own {family} implementation: {what} (crypto outside any module)"
            ));
        }
    }
    let tables: Vec<&str> = own
        .tables
        .iter()
        .copied()
        .filter(|t| !is_cpython_hash(t.split(' ').next().unwrap_or(""), m))
        .collect();
    if !tables.is_empty() {
        let tables = tables.join(", ");
        if any_route {
            f.warn(format!("constant tables {tables} beside a module route"));
        } else if f.non_fips.is_empty() {
            f.not_fips(format!(
                "constant tables {tables} (crypto code outside a module)"
            ));
            f.constant_tables_only = true;
        } else {
            f.evidence(format!("constant tables {tables}"));
        }
    }
    for w in own.warnings {
        f.warn(w);
    }
}

/// CPython's built-in `_md5`, `_sha1`, `_sha2`/`_sha256`/`_sha512`, `_sha3` and `_blake2` modules
/// (evidence only: in FIPS mode hashlib takes its hashes from OpenSSL).
fn is_cpython_hash(family: &str, m: &Markers) -> bool {
    !m.cpython_hashes.is_empty()
        && matches!(
            family,
            "MD5" | "SHA-1" | "SHA-256" | "SHA-512" | "SHA-3" | "BLAKE2"
        )
}

fn judge_rust(m: &Markers, f: &mut Findings) {
    let registry: BTreeSet<String> = m
        .registry_crates
        .iter()
        .map(|p| rust_crates::lib_name(p))
        .collect();
    let all: BTreeSet<&str> = m
        .rust_crates
        .iter()
        .chain(&registry)
        .map(String::as_str)
        .collect();
    // ChaCha as an RNG (rand 0.10's StdRng is chacha20::rng) is evidence; as a cipher (the
    // `cipher` traits, chacha20poly1305) it is a primitive.
    let chacha_rng_only = all.contains("chacha20")
        && !all.contains("cipher")
        && !all.contains("chacha20poly1305")
        && (m.rust_rng || all.contains("rand"));
    for c in &all {
        let how = if m.rust_crates.contains(*c) {
            "symbol crate"
        } else {
            "registry path crate"
        };
        if *c == "chacha20" && chacha_rng_only {
            f.evidence(format!(
                "{how} chacha20 (ChaCha as a random number generator only)"
            ));
        } else if rust_crates::PRIMITIVE_CRATES.contains(c) {
            f.not_fips(format!("{how} {c} (primitive outside a validated module)"));
        } else if rust_crates::RNG_CRATES.contains(c) {
            f.evidence(format!(
                "{how} {c} (ChaCha as a random number generator only)"
            ));
        }
    }
}

fn judge_module(family: &str, file_name: &str, elf: &ElfView<'_>, m: &Markers, f: &mut Findings) {
    match family {
        "openssl" | "aws-lc"
            if m.aws_lc_fips_string.is_some() || m.aws_lc_prefix.is_some() || m.bcm_self_test =>
        {
            // An aws-lc or BoringSSL libcrypto: judged by what it is, not by its name.
            f.role = Some(Role::Module);
            judge_consumer(elf, m, f);
        }
        "openssl" => {
            let version = m.openssl_version.clone();
            f.evidence(format!(
                "module library {file_name}{}",
                version
                    .as_deref()
                    .map(|v| format!(" (\"{v}\")"))
                    .unwrap_or_default()
            ));
            f.route(dynamic_route("openssl (dynamic)"));
        }
        "openssl-provider" => {
            if !m.fips_provider_name && !m.ubuntu_module {
                f.not_fips("fips.so without the \"OpenSSL FIPS Provider\" name string");
                return;
            }
            let version = m
                .openssl_version
                .as_deref()
                .and_then(|v| v.strip_prefix("OpenSSL "))
                .map(str::to_string);
            f.evidence(format!(
                "string \"OpenSSL FIPS Provider\"{}",
                version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ));
            f.route(ModuleRoute {
                name: "openssl".into(),
                version,
                activation: Activation::HostDriven,
                resolved_at_image_level: false,
            });
        }
        "wolfssl" => {
            if m.wolf_fips {
                f.evidence("defines wolfCrypt_GetStatus_fips");
                f.route(dynamic_route("wolfcrypt-fips"));
            } else {
                f.not_fips(format!(
                    "{file_name}: wolfSSL without wolfCrypt_GetStatus_fips (not a FIPS build)"
                ));
            }
        }
        other => {
            f.evidence(format!("module library {file_name}"));
            f.route(dynamic_route(other));
        }
    }
}
