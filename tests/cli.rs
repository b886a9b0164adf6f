//! The CLI contract of DESIGN §5: JSON shape, exit codes, errors that say what to do.

mod support;

use std::collections::BTreeSet;

use support::synthetic::GoElf;
use support::{fips_operator, AS_OF};

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn certified_go(dir: &std::path::Path) -> String {
    let elf = GoElf::new("go1.27.3")
        .setting("GOFIPS140", "v1.0.0-c2097c7c")
        .setting("DefaultGODEBUG", "fips140=on")
        .functions(&[
            "crypto/sha256.Sum256",
            "crypto/internal/fips140/v1.0.0-c2097c7c/sha256.Sum256",
        ]);
    let p = dir.join("synthetic-certified");
    std::fs::write(&p, elf.build()).expect("write");
    p.to_string_lossy().into_owned()
}

fn std_go(dir: &std::path::Path) -> String {
    let p = dir.join("synthetic-std");
    std::fs::write(
        &p,
        GoElf::new("go1.27.3")
            .functions(&["crypto/sha256.Sum256"])
            .build(),
    )
    .expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn json_has_exactly_the_designed_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = fips_operator(&[
        "scan",
        "--output",
        "json",
        "--as-of",
        AS_OF,
        &certified_go(dir.path()),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let report = &json[0];
    assert_eq!(
        keys(report),
        set(&["target", "outcome", "reasons", "image", "binaries", "skipped"])
    );
    let b = &report["binaries"][0];
    assert_eq!(
        keys(b),
        set(&["path", "verdict", "role", "module", "evidence", "warnings"])
    );
    assert_eq!(
        keys(&b["module"]),
        set(&["name", "version", "validation", "activation", "certificate"])
    );
    assert_eq!(b["module"]["certificate"], "5247");
    assert_eq!(b["role"], "consumer");
    assert!(
        run.stderr.is_empty(),
        "no progress when stderr is not a terminal: {}",
        run.stderr
    );
}

#[test]
fn one_element_per_target_and_the_worst_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = fips_operator(&[
        "scan",
        "-o",
        "json",
        &certified_go(dir.path()),
        &std_go(dir.path()),
    ]);
    assert_eq!(run.code, 1);
    let json = run.json();
    let outcomes: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["outcome"].as_str().expect("str"))
        .collect();
    assert_eq!(outcomes, ["compliant", "non-compliant"]);
}

#[test]
fn a_target_that_fails_still_has_its_element() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = certified_go(dir.path());
    let run = fips_operator(&["scan", "-o", "json", &good, "/nonexistent/file"]);
    assert_eq!(run.code, 2);
    let json = run.json();
    let reports = json.as_array().expect("array");
    assert_eq!(reports.len(), 2, "one element per target");
    assert_eq!(reports[1]["target"], "/nonexistent/file");
    assert_eq!(reports[1]["outcome"], "unknown");
    assert!(reports[1]["reasons"][0]
        .as_str()
        .expect("reason")
        .starts_with("error: "));
}

#[test]
fn a_non_elf_file_is_skipped_not_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("script.sh");
    std::fs::write(&p, "#!/bin/sh\n").expect("write");
    let run = fips_operator(&["scan", "-o", "json", &p.to_string_lossy()]);
    let json = run.json();
    assert_eq!(json[0]["binaries"], serde_json::json!([]));
    assert_eq!(json[0]["skipped"][0]["reason"], "not ELF");
    assert_eq!(run.code, 0);
}

#[test]
fn the_table_names_the_verdict_and_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = std_go(dir.path());
    let run = fips_operator(&["scan", &target]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!("{target}: NON-COMPLIANT")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("not-fips-capable"), "{}", run.stdout);
    assert!(
        run.stdout.contains("reason: ") && run.stdout.contains("crypto/sha256"),
        "{}",
        run.stdout
    );
}

#[test]
fn errors_exit_2_and_say_what_to_do() {
    let run = fips_operator(&["scan", "/nonexistent/file"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("pass an ELF file, a root filesystem directory, oci:DIR"),
        "{}",
        run.stderr
    );

    // Nothing listens on port 1 of loopback: a clear connection error, no retries to wait for.
    let run = fips_operator(&["scan", "--no-cache", "docker://127.0.0.1:1/app:1.2"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot reach registry 127.0.0.1:1"),
        "{}",
        run.stderr
    );

    let run = fips_operator(&["scan", "oci:/nonexistent/layout"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not an OCI image layout"),
        "{}",
        run.stderr
    );

    let run = fips_operator(&["scan", "--platform", "amd64", "oci:/x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected os/arch"), "{}", run.stderr);

    let run = fips_operator(&["scan", "--as-of", "yesterday", "/"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected YYYY-MM-DD"), "{}", run.stderr);

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("registry.json");
    std::fs::write(&bad, "{\"modules\": [{\"module\": \"x\"}]}").expect("write");
    let run = fips_operator(&[
        "scan",
        "--module-registry",
        &bad.to_string_lossy(),
        "/bin/sh",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("drop --module-registry"),
        "{}",
        run.stderr
    );

    let run = fips_operator(&["scan"]);
    assert_eq!(run.code, 2, "usage error");
    let run = fips_operator(&["--help"]);
    assert_eq!(run.code, 0);
}

#[test]
fn a_registry_override_changes_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = dir.path().join("registry.json");
    std::fs::write(
        &reg,
        r#"{"modules": [{"module": "go-native", "version": "v1.0.0-c2097c7c", "validation": "unvalidated"}]}"#,
    )
    .expect("write");
    let run = fips_operator(&[
        "scan",
        "-o",
        "json",
        "--module-registry",
        &reg.to_string_lossy(),
        &certified_go(dir.path()),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()[0]["binaries"][0]["verdict"], "not-fips-capable");
}
