//! Pure modules do no I/O, and `unsafe` lives only in the one mmap module (STYLE.md).

use std::path::{Path, PathBuf};

const PURE: &[&str] = &[
    "src/api",
    "src/api.rs",
    "src/inspect",
    "src/inspect.rs",
    "src/policy",
    "src/policy.rs",
];
const BANNED: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "File::open",
    "tokio",
    "kube::Client",
    "kube::Api",
    "kube::runtime",
    "kube::client",
    "reqwest",
    "SystemTime",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).expect("read_dir").flatten() {
            rust_files(&e.path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

fn scan_sources(roots: &[&str], banned: &[&str], skip_tests: bool) -> Vec<String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for r in roots {
        rust_files(&repo.join(r), &mut files);
    }
    let mut hits = Vec::new();
    for f in files {
        if skip_tests && f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read");
        let mut in_tests = false;
        for (i, line) in text.lines().enumerate() {
            if skip_tests && line.trim_start().starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                continue;
            }
            for b in banned {
                if line.contains(b) && !line.trim_start().starts_with("//") {
                    hits.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    hits
}

#[test]
fn pure_modules_do_no_io() {
    let hits = scan_sources(PURE, BANNED, true);
    assert!(
        hits.is_empty(),
        "I/O in a pure module:\n{}",
        hits.join("\n")
    );
}

/// The probe and the webhook take what they share with the controller from `src/cluster`,
/// below all three, never from the controller; `src/cluster` imports none of them.
#[test]
fn the_probe_and_the_webhook_do_not_import_the_controller() {
    let writers = [
        "src/probe.rs",
        "src/webhook.rs",
        "src/webhook",
        "src/cluster.rs",
        "src/cluster",
    ];
    let hits = scan_sources(&writers, &["crate::controller"], false);
    assert!(
        hits.is_empty(),
        "imports the controller:\n{}",
        hits.join("\n")
    );
    let hits = scan_sources(
        &["src/cluster.rs", "src/cluster"],
        &["crate::webhook", "crate::probe"],
        false,
    );
    assert!(
        hits.is_empty(),
        "src/cluster imports a writer:\n{}",
        hits.join("\n")
    );
}

#[test]
fn unsafe_only_in_the_mmap_module() {
    let hits: Vec<String> = scan_sources(&["src"], &["unsafe"], false)
        .into_iter()
        .filter(|h| !h.starts_with(&format!("{}/src/image/mmap.rs", env!("CARGO_MANIFEST_DIR"))))
        .filter(|h| !h.contains("unsafe_code"))
        .collect();
    assert!(
        hits.is_empty(),
        "unsafe outside src/image/mmap.rs:\n{}",
        hits.join("\n")
    );
}

/// Rule codes the output may print: H1–H3, I1–I7, P1–P3.
fn rule_codes() -> Vec<String> {
    let ranges = [("H", 3), ("I", 7), ("P", 3)];
    ranges
        .iter()
        .flat_map(|(letter, n)| (1..=*n).map(move |i| format!("{letter}{i}")))
        .collect()
}

/// What users read cites only documents they have: no DESIGN or FIPS-RULES sections, no bare
/// rule codes; every `rule XN, docs/verdicts.md` is explained there.
#[test]
fn output_and_docs_cite_only_our_own_docs() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut banned: Vec<String> = vec!["DESIGN §".into(), "FIPS-RULES".into()];
    banned.extend(rule_codes().iter().map(|c| format!("({c})")));
    let banned: Vec<&str> = banned.iter().map(String::as_str).collect();
    let hits = scan_sources(&["src"], &banned, false);
    assert!(
        hits.is_empty(),
        "cite docs/verdicts.md (`rule H1, docs/verdicts.md`) instead:\n{}",
        hits.join("\n")
    );
    for doc in ["README.md", "docs/verdicts.md"] {
        let text = std::fs::read_to_string(repo.join(doc)).expect("doc");
        for b in ["DESIGN §", "FIPS-RULES"] {
            assert!(
                !text.contains(b),
                "{doc} cites {b}, which users do not have"
            );
        }
    }
    let reference = std::fs::read_to_string(repo.join("docs/verdicts.md")).expect("doc");
    for code in rule_codes() {
        let cited = format!("rule {code}, docs/verdicts.md");
        if !scan_sources(&["src"], &[&cited], false).is_empty() {
            assert!(
                reference.contains(&format!("**{code}: ")),
                "the output cites rule {code}, which docs/verdicts.md does not explain"
            );
        }
    }
}

/// Cargo.toml declares Apache-2.0: the license text ships with the source.
#[test]
fn the_declared_license_is_in_the_repository() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::fs::read_to_string(repo.join("Cargo.toml")).expect("Cargo.toml");
    assert!(cargo.contains("license = \"Apache-2.0\""));
    let license = std::fs::read_to_string(repo.join("LICENSE")).expect("LICENSE is missing");
    assert!(
        license.contains("Apache License") && license.contains("Version 2.0, January 2004"),
        "LICENSE is not the Apache License 2.0 text"
    );
    assert!(
        license.contains("END OF TERMS AND CONDITIONS"),
        "LICENSE is cut short"
    );
}
