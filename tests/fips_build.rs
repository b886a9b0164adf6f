//! The operator's own FIPS build (DESIGN §8), made by `scripts/build-fips.sh`: judged by our
//! own scanner under the same rules as every other binary, and checked at start-up.
//! (Its webhook's TLS is audited in `tests/webhook.rs`.)

mod support;

use std::path::Path;

use support::{fips_build, only_binary, scan};

#[test]
fn the_fips_build_scans_as_fips_capable_on_aws_lc_fips() {
    let bin = fips_build();
    let (code, report) = scan(&bin, &[]);
    let b = only_binary(&report);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["name"], "aws-lc-fips", "{b:#}");
    assert_eq!(b["module"]["activation"], "always", "{b:#}");
    let version = b["module"]["version"].as_str().unwrap_or_default();
    assert!(version.starts_with(char::is_numeric), "{b:#}");
    // No primitive outside the module: no RustCrypto hash (oci-client's sha2 is not linked),
    // no non-FIPS aws-lc, no ring.
    let evidence = support::evidence(b).join("\n");
    for outside in [
        "crate sha2",
        "aws-lc-sys-",
        "aws_lc_0_",
        "ring_core_",
        "/ring-",
        "outside",
    ] {
        assert!(!evidence.contains(outside), "{outside}: {evidence}");
    }
    assert_eq!(report["outcome"], "compliant", "{report:#}");
    assert_eq!(code, 0);
}

/// The image carries the binary stripped (Dockerfile): still judged fips-capable, from the
/// module's version string and its crate's path, which survive `strip`.
#[test]
fn the_stripped_fips_build_is_still_fips_capable() {
    let dir = tempfile::tempdir().expect("tmp");
    let stripped = dir.path().join("fips-operator");
    std::fs::copy(fips_build(), &stripped).expect("copy");
    let out = std::process::Command::new("strip")
        .arg(&stripped)
        .output()
        .expect("strip (binutils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, report) = scan(&stripped, &[]);
    let b = only_binary(&report);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["name"], "aws-lc-fips", "{b:#}");
    support::assert_evidence(b, "AWS-LC FIPS");
    assert_eq!(code, 0, "{report:#}");
}

/// The Dockerfile builds with the command these tests build with, and checks its own binary.
#[test]
fn the_dockerfile_builds_what_the_tests_check() {
    let dockerfile =
        std::fs::read_to_string(support::repo().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains("scripts/build-fips.sh --release"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("/fips-operator scan /fips-operator"),
        "{dockerfile}"
    );
    let last_from = dockerfile.rfind("\nFROM ").expect("stages");
    let runtime = &dockerfile[last_from..];
    assert!(runtime.starts_with("\nFROM scratch"), "{runtime}");
    assert!(runtime.contains("USER 65532:65532"), "non-root: {runtime}");
}

/// The same scanner tells the plain build apart: aws-lc without its FIPS module.
#[test]
fn the_plain_build_is_not_fips_capable() {
    let (code, report) = scan(Path::new(env!("CARGO_BIN_EXE_fips-operator")), &[]);
    let b = only_binary(&report);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert!(
        support::evidence(b)
            .iter()
            .any(|e| e.contains("aws_lc_0_") || e.contains("aws-lc-sys-")),
        "{b:#}"
    );
    assert_eq!(code, 1);
}

/// The start-up self-check ran (the module reported FIPS mode) and the build says what it is.
#[test]
fn the_fips_build_says_so_and_starts() {
    let out = std::process::Command::new(fips_build())
        .arg("--version")
        .output()
        .expect("run the FIPS build");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("fips build: AWS-LC FIPS module"), "{text}");
    let plain = support::fips_operator(&["--version"]);
    assert!(
        plain.stdout.contains("plain build, not FIPS"),
        "{}",
        plain.stdout
    );
}
