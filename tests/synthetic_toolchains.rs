//! Toolchains CI cannot install (Microsoft Go, Red Hat golang-fips, Chainguard), as synthetic
//! ELF files written with the `object` crate. They carry the build-info settings and function
//! names the Go rules read; each is named `synthetic-*` so nobody mistakes it for a real build.

mod support;

use support::synthetic::GoElf;
use support::{assert_evidence, only_binary, scan};

const STD_CRYPTO: &[&str] = &["crypto/sha256.Sum256", "crypto/tls.(*Conn).Handshake"];

fn judge(name: &str, elf: &GoElf) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("synthetic-{name}"));
    std::fs::write(&path, elf.build()).expect("write");
    let (_, report) = scan(&path, &[]);
    only_binary(&report).clone()
}

#[test]
fn microsoft_go_systemcrypto_loads_openssl() {
    let elf = GoElf::new("go1.25.5 X:systemcrypto")
        .setting("GOEXPERIMENT", "systemcrypto")
        .setting("microsoft_systemcrypto", "1")
        .setting("CGO_ENABLED", "1")
        .functions(STD_CRYPTO)
        .functions(&[
            "vendor/github.com/golang-fips/openssl/v2.dlopen",
            "vendor/github.com/golang-fips/openssl/v2.(*evpHash).Write",
            "crypto/internal/boring/sig.BoringCrypto",
        ]);
    let b = judge("microsoft-go-1.25", &elf);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["name"], "golang-fips-openssl (dlopen)");
    assert_eq!(b["module"]["activation"], "host-driven");
    assert_evidence(&b, "vendor/github.com/golang-fips/openssl/v2.dlopen");
    assert_evidence(&b, "buildinfo microsoft_systemcrypto=1");
}

#[test]
fn microsoft_go_requirefips_is_always_on() {
    let elf = GoElf::new("go1.26.3")
        .setting("-tags", "requirefips")
        .setting("microsoft_toolset_version", "go1.26.3-microsoft")
        .functions(STD_CRYPTO)
        .functions(&["vendor/github.com/golang-fips/openssl/v2.dlopen"]);
    let b = judge("microsoft-go-requirefips", &elf);
    assert_eq!(b["module"]["activation"], "always", "{b:#}");
}

#[test]
fn red_hat_go_with_strictfipsruntime() {
    let elf = GoElf::new("go1.21.9 (Red Hat 1.21.9-1.el9) X:strictfipsruntime")
        .setting("GOEXPERIMENT", "strictfipsruntime")
        .setting("-tags", "strictfipsruntime")
        .setting("CGO_ENABLED", "1")
        .functions(STD_CRYPTO)
        .functions(&[
            "crypto/internal/boring/sig.BoringCrypto",
            "vendor/github.com/golang-fips/openssl-fips/openssl._Cfunc__goboringcrypto_DLOPEN_OPENSSL",
            "crypto/internal/boring._Cfunc__goboringcrypto_SHA256_Init",
        ]);
    let b = judge("red-hat-go-1.21", &elf);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(
        b["module"]["name"], "golang-fips-openssl (dlopen)",
        "G3 precedes G6"
    );
    assert_eq!(b["module"]["activation"], "host-driven");
    assert_evidence(
        &b,
        "strictfipsruntime: refuses to run non-FIPS on a FIPS host",
    );
    assert_evidence(&b, "_Cfunc__goboringcrypto_DLOPEN_OPENSSL");
}

#[test]
fn red_hat_go_with_no_openssl_is_standard_crypto() {
    let elf = GoElf::new("go1.22.7 (Red Hat 1.22.7-2.el9_5)")
        .setting("-tags", "no_openssl")
        .setting("CGO_ENABLED", "1")
        .functions(STD_CRYPTO)
        .functions(&["crypto/internal/boring/sig.StandardCrypto"]);
    let b = judge("red-hat-go-no-openssl", &elf);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(
        &b,
        "-tags no_openssl: the golang-fips OpenSSL backend is opted out",
    );
}

#[test]
fn red_hat_go_127_certified_with_auto_follows_the_host() {
    let elf = GoElf::new("go1.27.1 (Red Hat 1.27.1-1.el10)")
        .setting("GOFIPS140", "v1.0.0-c2097c7c")
        .setting("DefaultGODEBUG", "fips140=auto")
        .functions(STD_CRYPTO)
        .functions(&["crypto/internal/fips140/v1.0.0-c2097c7c/sha256.Sum256"]);
    let b = judge("red-hat-go-1.27", &elf);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["name"], "go-native");
    assert_eq!(b["module"]["activation"], "host-driven");
}

#[test]
fn chainguard_go_native_module() {
    let elf = GoElf::new("go1.27.2")
        .setting("GOFIPS140", "v1.0.0-c2097c7c")
        .setting("DefaultGODEBUG", "tlsmlkem=0,fips140=on")
        .setting("chainguard_go_package", "go-geomys-1.27-1.27.2-r0")
        .setting("chainguard_cryptographic_module", "geomys")
        .setting("chainguard_entropy_source", "geomys")
        .functions(STD_CRYPTO)
        .functions(&[
            "crypto/internal/fips140/v1.0.0-c2097c7c/sha256.Sum256",
            "crypto/internal/entropy/v1%2e0%2e0.Seed",
        ]);
    let b = judge("chainguard-go", &elf);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["activation"], "default-on");
    assert_evidence(&b, "buildinfo chainguard_cryptographic_module=geomys");
    assert_evidence(&b, "entropy source (ESV #E318)");
}

#[test]
fn a_snapshot_claim_over_in_tree_code_is_not_believed() {
    let elf = GoElf::new("go1.27.3")
        .setting("GOFIPS140", "v1.0.0-c2097c7c")
        .functions(STD_CRYPTO)
        .functions(&["crypto/internal/fips140/sha256.Sum256"]);
    let b = judge("forged-gofips140", &elf);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(&b, "not the snapshot");
}

#[test]
fn an_unknown_snapshot_version_is_not_listed() {
    let elf = GoElf::new("go1.28.0")
        .setting("GOFIPS140", "v9.9.9")
        .functions(STD_CRYPTO)
        .functions(&["crypto/internal/fips140/v9.9.9/sha256.Sum256"]);
    let b = judge("unknown-snapshot", &elf);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(
        &b,
        "module go-native v9.9.9 is not listed in the module registry",
    );
}

#[test]
fn third_party_go_crypto_overrides_a_module_route() {
    let elf = GoElf::new("go1.27.3")
        .setting("GOFIPS140", "v1.0.0-c2097c7c")
        .functions(STD_CRYPTO)
        .functions(&[
            "crypto/internal/fips140/v1.0.0-c2097c7c/sha256.Sum256",
            "filippo.io/edwards25519.(*Point).ScalarMult",
        ]);
    let b = judge("edwards25519", &elf);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(&b, "filippo.io/edwards25519 (non-approved primitive");
}

#[test]
fn a_go_program_named_crypto_helper_is_not_crypto() {
    let elf = GoElf::new("go1.27.3").functions(&[
        "main.main",
        "main.cryptoHelper",
        "internal/chacha8rand.block",
    ]);
    let b = judge("crypto-helper", &elf);
    assert_eq!(b["verdict"], "no-crypto", "{b:#}");
}

#[test]
fn hidden_go_names_with_crypto_constants_are_unknown_not_no_crypto() {
    let mut elf = GoElf::new("go1.27.3").functions(&["main.main", "runtime.main", "a1b2c3.Xy9"]);
    elf.rodata = vec![
        0x98, 0x2f, 0x8a, 0x42, 0x91, 0x44, 0x37, 0x71, 0xcf, 0xfb, 0xc0, 0xb5, 0xa5, 0xdb, 0xb5,
        0xe9,
    ];
    let b = judge("garbled", &elf);
    assert_eq!(b["verdict"], "unknown", "{b:#}");
    assert_evidence(&b, "constant tables SHA-256 K (obfuscated names?)");
}

#[test]
fn golang_fips_openssl_in_the_application_does_not_cover_standard_crypto() {
    // Upstream Go (no fork backend) with the application calling golang-fips/openssl itself:
    // crypto/sha256 is still the standard library's own code.
    let elf = GoElf::new("go1.22.5")
        .setting("CGO_ENABLED", "1")
        .functions(STD_CRYPTO)
        .functions(&[
            "github.com/golang-fips/openssl/v2.dlopen",
            "github.com/golang-fips/openssl/v2.(*evpHash).Write",
        ]);
    let b = judge("app-uses-golang-fips", &elf);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(&b, "(linked by the application, no fork backend)");
    assert_evidence(&b, "crypto/sha256");
}

#[test]
fn a_fork_whose_standard_library_kept_its_crypto_is_not_routed() {
    // Red Hat with -tags no_openssl, and a boringcrypto build that fell back to standard crypto,
    // each with an application that links golang-fips/openssl itself.
    let red_hat = GoElf::new("go1.22.7 (Red Hat 1.22.7-2.el9_5)")
        .setting("-tags", "no_openssl")
        .functions(STD_CRYPTO)
        .functions(&[
            "crypto/internal/backend.init",
            "github.com/golang-fips/openssl/v2.dlopen",
        ]);
    let fallback = GoElf::new("go1.22.5 X:boringcrypto")
        .setting("GOEXPERIMENT", "boringcrypto")
        .functions(STD_CRYPTO)
        .functions(&[
            "crypto/internal/boring/sig.StandardCrypto",
            "github.com/golang-fips/openssl/v2.dlopen",
        ]);
    for (name, elf) in [
        ("red-hat-no-openssl-app-dlopen", red_hat),
        ("boring-fallback-app-dlopen", fallback),
    ] {
        let b = judge(name, &elf);
        assert_eq!(b["verdict"], "not-fips-capable", "{name}: {b:#}");
    }
}
