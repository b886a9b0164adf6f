//! `crds/` is the output of `fips-operator crd`, and the samples are valid FipsPolicies.

mod support;

use std::collections::BTreeMap;

use support::{fips_operator, fixture, repo};

fn files(dir: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).expect("read"),
            )
        })
        .collect()
}

#[test]
fn crds_are_current() {
    let out = tempfile::tempdir().expect("tmp");
    let run = fips_operator(&["crd", "--out", &out.path().to_string_lossy()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let generated = files(out.path());
    let committed = files(&repo().join("crds"));
    assert_eq!(generated.len(), 3);
    assert!(
        generated == committed,
        "crds/ is stale: run `cargo run -- crd --out crds/`"
    );
    let printed = fips_operator(&["crd"]);
    assert_eq!(
        printed
            .stdout
            .matches("kind: CustomResourceDefinition")
            .count(),
        3
    );
    assert!(printed.stdout.contains("shortNames:\n    - fp"));
}

#[test]
fn samples_are_fips_policies_and_scan_takes_them() {
    let dir = repo().join("config/samples");
    let samples = files(&dir);
    assert_eq!(samples.len(), 3);
    for (name, text) in &samples {
        let policy: fips_operator::api::FipsPolicy =
            serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            name.contains(&format!("{:?}", policy.spec.mode).to_lowercase()),
            "{name}"
        );
    }
    // The Enforce sample refuses in-process modules: scan --policy follows it.
    let go = fixture("go127-fips-inprocess");
    let enforce = dir.join("fipspolicy-enforce.yaml");
    let run = fips_operator(&[
        "scan",
        "--policy",
        &enforce.to_string_lossy(),
        &go.to_string_lossy(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let warn = dir.join("fipspolicy-warn.yaml");
    let run = fips_operator(&[
        "scan",
        "--policy",
        &warn.to_string_lossy(),
        &go.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let bad = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(bad.path(), "kind: FipsPolicy\nspec: {}\n").expect("write");
    let run = fips_operator(&["scan", "--policy", &bad.path().to_string_lossy(), "/bin/sh"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a FipsPolicy"), "{}", run.stderr);
}
