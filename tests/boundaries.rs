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
