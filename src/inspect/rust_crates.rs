//! FIPS-RULES §4 "Rust": which crates a Rust binary carries, from mangled symbols, registry
//! paths in panic strings, and cargo-auditable's `.dep-v0`.

use std::collections::BTreeSet;

use std::io::Read;

/// RustCrypto and other primitive crates: crypto outside any validated module.
pub(crate) const PRIMITIVE_CRATES: &[&str] = &[
    "sha1",
    "sha2",
    "sha3",
    "md5",
    "blake2",
    "blake3",
    "aes",
    "aes_gcm",
    "chacha20",
    "chacha20poly1305",
    "poly1305",
    "hmac",
    "hkdf",
    "pbkdf2",
    "argon2",
    "bcrypt",
    "scrypt",
    "des",
    "rsa",
    "p256",
    "p384",
    "k256",
    "ecdsa",
    "ed25519_dalek",
    "curve25519_dalek",
    "sha1_smol",
    "ripemd",
    "blake2b_simd",
    "blake2s_simd",
    "salsa20",
    "xsalsa20poly1305",
    "x25519_dalek",
    "p521",
    "sm3",
    "sm4",
    "camellia",
    "twofish",
    "blowfish",
    "cast5",
    "idea",
    "rc4",
    "md4",
    "whirlpool",
    "streebog",
    "gost94",
    "tiger",
    "crypto_box",
    "ed448_goldilocks",
    "bcrypt_pbkdf",
    "rc2",
    "cmac",
    "ghash",
    "polyval",
    "dsa",
    "yescrypt",
    "balloon_hash",
];

/// Crates that are ChaCha used only as a random number generator: evidence, not crypto.
pub(crate) const RNG_CRATES: &[&str] = &["rand_chacha"];

/// Largest `.dep-v0` we inflate (cargo-auditable keeps it tiny).
const MAX_DEP_INFO: u64 = 4 << 20;

/// Normalises a package name to its library name: `md-5` -> `md5`, `aes-gcm` -> `aes_gcm`.
pub(crate) fn lib_name(package: &str) -> String {
    match package {
        "md-5" => "md5".into(),
        "sha-1" => "sha1".into(),
        other => other.replace('-', "_"),
    }
}

/// Crate roots of a mangled symbol and of each path inside its generic arguments.
/// `None` when the symbol is not Rust-mangled.
pub(crate) fn symbol_crates(mangled: &str, out: &mut BTreeSet<String>) -> bool {
    if !(mangled.starts_with("_ZN") || mangled.starts_with("_R")) {
        return false;
    }
    let Ok(d) = rustc_demangle::try_demangle(mangled) else {
        return false;
    };
    let text = format!("{d:#}");
    for path in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if let Some((root, rest)) = path.split_once("::") {
            if !root.is_empty()
                && !rest.is_empty()
                && !root.starts_with(|c: char| c.is_ascii_digit())
            {
                out.insert(root.to_string());
            }
        }
    }
    true
}

/// True when a demangled path means ChaCha only as an RNG (`chacha20::rng::`).
pub(crate) fn is_rng_use(mangled: &str) -> bool {
    mangled.contains("chacha20") && (mangled.contains("3rng") || mangled.contains("rng::"))
}

/// `…/sha2-0.10.8/src/…` in panic strings: `(crate, version)` of the path segment before `/src/`.
pub(crate) fn registry_path_crate(data: &[u8], src_at: usize) -> Option<(String, String)> {
    let start = src_at.saturating_sub(128);
    let before = &data[start..src_at];
    let seg_start = before
        .iter()
        .rposition(|&b| b == b'/' || b == b'\\' || b == 0)?
        + 1;
    let seg = std::str::from_utf8(&before[seg_start..]).ok()?;
    // name-1.2.3 (name may contain '-'): split at the last '-' followed by a digit.
    let dash = seg
        .char_indices()
        .filter(|&(i, c)| c == '-' && seg[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)
        .next_back()?;
    let (name, version) = (&seg[..dash], &seg[dash + 1..]);
    let version_ok = version.split('.').count() >= 3
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+');
    (!name.is_empty() && version_ok).then(|| (name.to_string(), version.to_string()))
}

/// Package names from cargo-auditable's zlib-compressed JSON.
pub(crate) fn auditable_packages(section: &[u8]) -> Result<Vec<String>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(MAX_DEP_INFO)
        .read_to_end(&mut json)
        .map_err(|e| format!(".dep-v0: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| format!(".dep-v0: {e}"))?;
    Ok(value["packages"]
        .as_array()
        .map(|pkgs| {
            pkgs.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_of_legacy_symbols_include_generic_arguments() {
        let mut out = BTreeSet::new();
        let sym = "_ZN78_$LT$sha2..core_api..Sha256VarCore$u20$as$u20$digest..core_api..UpdateCore$GT$13update_blocks17h0123456789abcdefE";
        assert!(symbol_crates(sym, &mut out));
        assert!(out.contains("sha2"), "{out:?}");
        assert!(out.contains("digest"), "{out:?}");
    }

    #[test]
    fn registry_paths() {
        let data = b"\0/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sha2-0.10.8/src/sha256.rs";
        let at = memchr::memmem::find(data, b"/src/sha256").expect("present");
        assert_eq!(
            registry_path_crate(data, at),
            Some(("sha2".into(), "0.10.8".into()))
        );
        let data = b"/x/aes-gcm-0.10.3/src/lib.rs";
        let at = memchr::memmem::find(data, b"/src/lib").expect("present");
        assert_eq!(
            registry_path_crate(data, at).map(|c| lib_name(&c.0)),
            Some("aes_gcm".into())
        );
        assert_eq!(lib_name("md-5"), "md5");
    }
}
