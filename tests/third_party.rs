//! Verdicts on real third-party files (issue 19): programs and libraries that carry their own
//! crypto must be `not-fips-capable` with each family named in its findings, and programs
//! without crypto must stay `no-crypto`. The files, their sources and the truth (taken from
//! upstream source, not from the scanner) are in tests/third_party/manifest.tsv;
//! scripts/fetch-third-party.sh puts each at target/third-party/<label>. Every row is checked
//! and all failures are reported together.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{repo, scan};

/// The family names a row may require (besides `crate:NAME`).
const FAMILIES: &[&str] = &[
    "AES",
    "Blowfish",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SHA-3",
    "MD5",
    "BLAKE2",
    "Tiger",
    "Whirlpool",
    "RIPEMD-160",
    "Ed25519",
    "Argon2",
    "libtomcrypt",
    "libsodium",
    "mbedTLS",
    "nettle",
];

struct Row {
    line: usize,
    text: String,
    label: String,
    verdict: String,
    families: Vec<String>,
}

/// The manifest's rows; malformed ones are failures, not rows.
fn manifest(failures: &mut Vec<String>) -> Vec<Row> {
    let path = repo().join("tests/third_party/manifest.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if !header {
            assert_eq!(
                cols,
                ["label", "source", "verdict", "families", "evidence"],
                "manifest header (line {line_no})"
            );
            header = true;
            continue;
        }
        if cols.len() != 5 || cols.iter().any(|c| c.trim().is_empty()) {
            failures.push(format!(
                "manifest line {line_no}: expected 5 non-empty tab-separated columns\n  row: {line}"
            ));
            continue;
        }
        let verdict = cols[2].to_string();
        if verdict != "not-fips-capable" && verdict != "no-crypto" {
            failures.push(format!(
                "manifest line {line_no}: verdict {verdict:?} is neither not-fips-capable nor no-crypto\n  row: {line}"
            ));
            continue;
        }
        let families: Vec<String> = if cols[3] == "-" {
            Vec::new()
        } else {
            cols[3].split(',').map(|f| f.trim().to_string()).collect()
        };
        let unknown: Vec<&String> = families
            .iter()
            .filter(|f| {
                !(FAMILIES.contains(&f.as_str())
                    || f.strip_prefix("crate:").is_some_and(|c| {
                        !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                    }))
            })
            .collect();
        if !unknown.is_empty() {
            failures.push(format!(
                "manifest line {line_no}: unknown families {unknown:?}\n  row: {line}"
            ));
            continue;
        }
        if verdict == "no-crypto" && !families.is_empty() {
            failures.push(format!(
                "manifest line {line_no}: a no-crypto row names families\n  row: {line}"
            ));
            continue;
        }
        rows.push(Row {
            line: line_no,
            text: line.to_string(),
            label: cols[0].to_string(),
            verdict,
            families,
        });
    }
    assert!(header, "manifest {} has no header line", path.display());
    rows
}

/// What the scan said, for failure messages.
fn summary(binary: &Value, reasons: &[String]) -> String {
    format!(
        "  got: verdict {}, reasons {:?}, evidence {}",
        binary["verdict"], reasons, binary["evidence"]
    )
}

/// Checks one row; returns why it failed, if it did.
fn check(row: &Row, file: &Path) -> Option<String> {
    let scanned = std::panic::catch_unwind(|| scan(file, &[]));
    let (_, report) = match scanned {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Some(format!("the scan failed: {msg}"));
        }
    };
    let binaries = report["binaries"].as_array().cloned().unwrap_or_default();
    if binaries.len() != 1 {
        return Some(format!("expected one binary in the report: {report}"));
    }
    let binary = &binaries[0];
    // The outcome's reason names a file's first finding; its evidence lists every one.
    let reasons: Vec<String> = report["reasons"]
        .as_array()
        .into_iter()
        .chain(binary["evidence"].as_array())
        .flatten()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect();
    let mut why = Vec::new();
    if binary["verdict"] != row.verdict.as_str() {
        why.push(format!(
            "verdict {} instead of {}",
            binary["verdict"], row.verdict
        ));
    }
    if row.verdict == "not-fips-capable" {
        let missing: Vec<String> = row
            .families
            .iter()
            .map(|f| match f.strip_prefix("crate:") {
                Some(c) => format!("crate {c}"),
                None => f.clone(),
            })
            .filter(|needle| !reasons.iter().any(|r| r.contains(needle.as_str())))
            .collect();
        if !missing.is_empty() {
            why.push(format!("findings do not name {missing:?}"));
        }
    }
    if why.is_empty() {
        None
    } else {
        Some(format!("{}\n{}", why.join("; "), summary(binary, &reasons)))
    }
}

#[test]
fn third_party_files_get_their_verdicts_and_families() {
    let mut failures = Vec::new();
    let rows = manifest(&mut failures);
    assert!(!rows.is_empty(), "the manifest has no rows");
    let dir = repo().join("target/third-party");
    let mut passed = 0;
    for row in &rows {
        let file = dir.join(&row.label);
        let why = if file.is_file() {
            check(row, &file)
        } else {
            Some(format!(
                "{} is missing: run scripts/fetch-third-party.sh (scripts/test.sh does)",
                file.display()
            ))
        };
        match why {
            None => passed += 1,
            Some(why) => failures.push(format!(
                "{} (manifest line {}): {why}\n  row: {}",
                row.label, row.line, row.text
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, {passed} of {} third-party rows passed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}
