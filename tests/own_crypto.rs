//! Issue 19: a file that carries its own crypto implementation is `not-fips-capable` and its
//! report names the family. Every fixture here is built from real sources by
//! `scripts/build-fixtures.sh`: our small C programs linked with Debian's static libtomcrypt,
//! libsodium, libargon2 and libmbedcrypto archives, two Ed25519 C implementations from PyPI
//! sdists (SUPERCOP ref and ref10), and Rust crates from crates.io. The "-stripped" twins
//! have no symbol table, so only constant tables and instruction immediates can name them.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{evidence, fixture, only_binary, scan};

/// Fixture and the names its report's `reasons` must all contain (case-sensitive, as whole
/// words). Families: the constants each build carries; libraries and Rust crates: symbols
/// (and, for Rust, the registry paths that stripping keeps in panic locations).
const OWN_CRYPTO: &[(&str, &[&str])] = &[
    // libtomcrypt 1.18.2, one family per program (-ffunction-sections -Wl,--gc-sections).
    ("c-tomcrypt-aes", &["AES", "libtomcrypt"]),
    ("c-tomcrypt-aes-stripped", &["AES"]),
    ("c-tomcrypt-blowfish", &["Blowfish", "libtomcrypt"]),
    ("c-tomcrypt-blowfish-stripped", &["Blowfish"]),
    ("c-tomcrypt-sha1", &["SHA-1", "libtomcrypt"]),
    ("c-tomcrypt-sha1-stripped", &["SHA-1"]),
    ("c-tomcrypt-tiger", &["Tiger", "libtomcrypt"]),
    ("c-tomcrypt-tiger-stripped", &["Tiger"]),
    ("c-tomcrypt-whirlpool", &["Whirlpool", "libtomcrypt"]),
    ("c-tomcrypt-whirlpool-stripped", &["Whirlpool"]),
    ("c-tomcrypt-rmd160", &["RIPEMD-160", "libtomcrypt"]),
    ("c-tomcrypt-rmd160-stripped", &["RIPEMD-160"]),
    // libsodium 1.0.18 (x86_64: Ed25519 field elements as 51-bit limbs in u64).
    ("c-sodium-ed25519", &["Ed25519", "libsodium"]),
    ("c-sodium-ed25519-stripped", &["Ed25519"]),
    ("c-sodium-pwhash", &["Argon2", "libsodium"]),
    // Argon2 hashes with BLAKE2b: its IV and the variant's name stay in the stripped file.
    ("c-sodium-pwhash-stripped", &["Argon2"]),
    // The reference Argon2 (libargon2), whose BLAKE2b keeps its message schedule as u32.
    ("c-argon2", &["Argon2"]),
    ("c-argon2-stripped", &["Argon2", "BLAKE2"]),
    // mbed TLS 2.28: SHA-256's K table; AES tables are computed at run time (no
    // MBEDTLS_AES_ROM_TABLES), so that program is named by its symbols only.
    ("c-mbedtls-sha256", &["SHA-256", "mbedTLS"]),
    ("c-mbedtls-sha256-stripped", &["SHA-256"]),
    ("c-mbedtls-aes", &["mbedTLS"]),
    // SUPERCOP ref (d as one byte per u32) and ref10 (d as radix-2^25.5 i32 limbs).
    ("c-ed25519-supercop-ref", &["Ed25519"]),
    ("c-ed25519-supercop-ref-stripped", &["Ed25519"]),
    ("c-ed25519-ref10", &["Ed25519"]),
    ("c-ed25519-ref10-stripped", &["Ed25519"]),
    // Rust crates.
    ("rust-bcrypt", &["crate bcrypt"]),
    ("rust-bcrypt-stripped", &["crate bcrypt"]),
    ("rust-blowfish", &["crate blowfish"]),
    ("rust-bcrypt-pbkdf", &["crate bcrypt_pbkdf"]),
    ("rust-argon2", &["crate argon2"]),
    ("rust-ripemd", &["crate ripemd"]),
    ("rust-whirlpool", &["crate whirlpool"]),
    ("rust-tiger", &["crate tiger"]),
    ("rust-md4", &["crate md4"]),
    // ed25519-dalek's signing inlines into the binary; its field arithmetic (and 2d, as
    // 51-bit limbs) is curve25519-dalek's.
    ("rust-ed25519-dalek", &["crate curve25519_dalek", "Ed25519"]),
    (
        "rust-ed25519-dalek-stripped",
        &["crate curve25519_dalek", "Ed25519"],
    ),
    // TweetNaCl's C source compiled by the tweetnacl-sys build script (d as 16-bit limbs in
    // i64): no Rust crate of interest, only the constants.
    ("rust-tweetnacl-sys", &["Ed25519"]),
];

/// Whether `text` holds `word` with no letter, digit or `_` right before or after it, so
/// that "crate bcrypt" is not found in "crate bcrypt_pbkdf".
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Everything wrong with the report on `name` (empty when it is right): verdict
/// `not-fips-capable`, outcome non-compliant, exit code 1, and each of `needles` in the
/// findings (the outcome's reason names the first; the binary's evidence lists all; the
/// file's own path is taken out of them first: fixture names spell families).
fn problems(name: &str, needles: &[&str]) -> Vec<String> {
    let path = fixture(name);
    let (code, report) = scan(&path, &[]);
    let mut out = Vec::new();
    let b = only_binary(&report);
    if b["verdict"] != "not-fips-capable" {
        out.push(format!("verdict {} (want not-fips-capable)", b["verdict"]));
    }
    if report["outcome"] != "non-compliant" {
        out.push(format!(
            "outcome {} (want non-compliant)",
            report["outcome"]
        ));
    }
    if code != 1 {
        out.push(format!("exit code {code} (want 1)"));
    }
    let mut reasons = reason_texts(&report, &path);
    reasons.extend(evidence(b));
    for n in needles {
        if !reasons.iter().any(|r| has_word(r, n)) {
            out.push(format!("no reason names {n:?}"));
        }
    }
    if !out.is_empty() {
        out.push(format!("reasons: {reasons:?}"));
    }
    out
}

fn reason_texts(report: &Value, path: &Path) -> Vec<String> {
    let p = path.to_string_lossy();
    report["reasons"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r.as_str().unwrap_or("").replace(&*p, "<file>"))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs every case and fails once, listing every fixture that is wrong.
fn check_all(cases: &[(&str, &[&str])]) {
    let mut failures = Vec::new();
    for (name, needles) in cases {
        let p = problems(name, needles);
        if !p.is_empty() {
            failures.push(format!("{name}:\n    {}", p.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} own-crypto fixtures are judged wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn own_crypto_implementations_are_not_fips_capable_and_named() {
    check_all(OWN_CRYPTO);
}

/// A program that links OpenSSL's libcrypto.so (a module route) and also carries Blowfish
/// from libtomcrypt.a, stripped: the route does not cover the Blowfish compiled in.
#[test]
fn dynamic_libcrypto_beside_own_blowfish_is_not_fips_capable() {
    let name = "c-openssl-dynamic-tomcrypt-blowfish-stripped";
    let bytes = std::fs::read(fixture(name)).expect("read fixture");
    assert!(
        bytes.windows(14).any(|w| w == b"libcrypto.so.3"),
        "{name} must link libcrypto dynamically"
    );
    let (_, report) = scan(&fixture(name), &[]);
    assert_ne!(
        only_binary(&report)["verdict"],
        "fips-capable",
        "{name}: {report:#}"
    );
    check_all(&[(name, &["Blowfish"])]);
}

/// The premise of the stripped twins: no symbol table (a `.symtab` section name would be in
/// `.shstrtab`), and every fixture of the table is on disk.
#[test]
fn stripped_fixtures_have_no_symbol_table() {
    let mut failures = Vec::new();
    let stripped = OWN_CRYPTO
        .iter()
        .map(|(n, _)| *n)
        .chain(["c-openssl-dynamic-tomcrypt-blowfish-stripped"])
        .filter(|n| n.ends_with("-stripped"));
    for name in stripped {
        let bytes = std::fs::read(fixture(name)).expect("read fixture");
        if bytes.windows(8).any(|w| w == b".symtab\0") {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "symbol table left in {failures:?}");
}

#[test]
fn whole_word_match() {
    assert!(has_word("symbol crate bcrypt (primitive)", "crate bcrypt"));
    assert!(!has_word(
        "symbol crate bcrypt_pbkdf (primitive)",
        "crate bcrypt"
    ));
    assert!(has_word("constant tables AES S-box", "AES"));
    assert!(!has_word("MAES", "AES"));
    assert!(has_word("Ed25519 d (ref10)", "Ed25519"));
}
