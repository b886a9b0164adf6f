//! The operator's own FIPS build (README), made by `scripts/build-fips.sh`: judged by our
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

/// Stripping removes what ties the module's name string to the module (its symbols): a
/// stripped copy is then not taken as FIPS, by the same rule that keeps any binary merely
/// holding the words "AWS-LC FIPS 4.2.0" from passing. The image ships it unstripped.
#[test]
fn a_stripped_copy_is_not_taken_as_fips() {
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
    assert_ne!(b["verdict"], "fips-capable", "{b:#}");
    assert!(
        b["warnings"]
            .to_string()
            .contains("without any other aws-lc FIPS marker"),
        "{b:#}"
    );
    assert_eq!(code, 1, "{report:#}");
}

/// The Dockerfile builds with the command these tests build with, and checks its own binary.
#[test]
fn the_dockerfile_builds_what_the_tests_check() {
    let dockerfile =
        std::fs::read_to_string(support::repo().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains("scripts/build-fips.sh &&"),
        "{dockerfile}"
    );
    assert!(
        !dockerfile.contains("strip "),
        "the image keeps the symbols: {dockerfile}"
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

/// The image's root filesystem, assembled with the Dockerfile's own commands from this
/// machine's files (no container engine here): the binary, the C library `ldd` names and the
/// CA bundle. It scans compliant as a whole.
#[test]
fn the_image_root_filesystem_scans_compliant() {
    let root = tempfile::tempdir().expect("tmp");
    let script = r#"set -e
mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/tmp"
cp "$BIN" "$ROOT/fips-operator"
for lib in $(ldd "$BIN" | awk '$2 == "=>" {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
  cp --parents -L "$lib" "$ROOT"
done
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
"#;
    let dockerfile =
        std::fs::read_to_string(support::repo().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile.contains(r#"awk '$2 == "=>" {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'"#),
        "the Dockerfile collects libraries as this test does"
    );
    let out = std::process::Command::new("sh")
        .args(["-c", script])
        .env("ROOT", root.path())
        .env("BIN", fips_build())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root
        .path()
        .join("etc/ssl/certs/ca-certificates.crt")
        .is_file());
    let (code, report) = scan(root.path(), &[]);
    assert_eq!(report["outcome"], "compliant", "{report:#}");
    let binaries = report["binaries"].as_array().expect("binaries");
    assert!(
        binaries
            .iter()
            .any(|b| b["path"] == "fips-operator" && b["verdict"] == "fips-capable"),
        "{report:#}"
    );
    assert!(
        binaries
            .iter()
            .any(|b| b["path"].as_str().unwrap_or_default().contains("libc.so.6")),
        "{report:#}"
    );
    assert_eq!(code, 0);
}
