//! The CLI contract (README, docs/verdicts.md): JSON shape, exit codes, errors that say what to do.

mod support;

use std::collections::BTreeSet;

use support::synthetic::GoElf;
use support::{fips_operator, fips_operator_within, AS_OF};

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
fn a_non_elf_file_is_skipped_and_judges_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("script.sh");
    std::fs::write(&p, "#!/bin/sh\n").expect("write");
    let run = fips_operator(&["scan", "-o", "json", &p.to_string_lossy()]);
    let json = run.json();
    assert_eq!(json[0]["binaries"], serde_json::json!([]));
    assert_eq!(json[0]["skipped"][0]["reason"], "not ELF");
    assert_eq!(run.code, 3, "nothing judged is not compliant");
}

/// A script, a text file, an empty directory: nothing is judged, so nothing is compliant.
#[test]
fn nothing_to_judge_exits_3_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("wrapper.sh");
    std::fs::write(&script, "#!/bin/sh\nexec app\n").expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello\n").expect("write");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("bin")).expect("mkdir");
    std::fs::copy(&script, tree.join("bin/a")).expect("copy");
    std::fs::copy(&text, tree.join("b.txt")).expect("copy");
    for (target, says) in [
        (&script, "wrapper.sh: not ELF"),
        (&text, "notes.txt: not ELF"),
        (&empty, "nothing to judge: no files"),
        (
            &tree,
            "nothing to judge: 2 files, none an executable or library",
        ),
    ] {
        let t = target.to_string_lossy();
        let run = fips_operator(&["scan", "-o", "json", &t]);
        assert_eq!(run.code, 3, "{t}: {}", run.stdout);
        let r = &run.json()[0];
        assert_eq!(r["outcome"], "unknown", "{t}");
        let reason = r["reasons"][0].as_str().expect("reason");
        assert!(
            reason.starts_with("nothing to judge: ") && reason.contains(says),
            "{reason}"
        );
        assert!(reason.contains("--allow-empty"), "{reason}");

        let run = fips_operator(&["scan", "--allow-empty", &t]);
        assert_eq!(run.code, 0, "{t}: {}", run.stdout);
        assert!(
            run.stdout.contains(&format!("{t}: COMPLIANT")),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("note: nothing judged: "),
            "{}",
            run.stdout
        );
    }
    let table = fips_operator(&["scan", &empty.to_string_lossy()]);
    assert!(
        table.stdout.contains("UNKNOWN")
            && table.stdout.contains("reason: nothing to judge: no files"),
        "{}",
        table.stdout
    );
    // A judged failure outranks nothing judged; nothing judged outranks a pass.
    let std = std_go(dir.path());
    let run = fips_operator(&["scan", "-o", "json", &std, &empty.to_string_lossy()]);
    assert_eq!(run.code, 1);
    let good = certified_go(dir.path());
    let run = fips_operator(&[
        "scan",
        "-o",
        "json",
        "--as-of",
        AS_OF,
        &good,
        &empty.to_string_lossy(),
    ]);
    assert_eq!(run.code, 3);
    let help = fips_operator(&["scan", "--help"]);
    assert!(
        help.stdout.contains("3  nothing judged") && help.stdout.contains("--allow-empty"),
        "{}",
        help.stdout
    );
}

/// Docker puts an empty `/.dockerenv` with mode 0755 in every container it runs.
#[test]
fn an_empty_executable_is_skipped_not_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join(".dockerenv");
    std::fs::write(&p, "").expect("write");
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let run = fips_operator(&["scan", "-o", "json", &p.to_string_lossy()]);
    let r = &run.json()[0];
    assert_eq!(r["binaries"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["skipped"][0]["reason"], "empty file");
    assert_eq!(run.code, 3);
    let app = certified_go(dir.path());
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let (code, r) = support::scan(dir.path(), &[]);
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("compliant")),
        "{r:#}"
    );
    assert_eq!(r["skipped"][0]["path"], ".dockerenv");
    assert_eq!(r["skipped"][0]["reason"], "empty file");
}

/// Only regular files are opened: a FIFO would block `open`, `/dev/zero` never ends.
#[test]
fn special_files_are_skipped_and_a_fifo_never_hangs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    support::mkfifo(&fifo);
    let fifo = fifo.to_string_lossy().into_owned();
    for (target, kind) in [
        (fifo.as_str(), "fifo"),
        ("/dev/zero", "device node"),
        ("/dev/null", "device node"),
    ] {
        let run = fips_operator_within(&["scan", "-o", "json", target], 20);
        assert_eq!(run.code, 3, "{target}: {}{}", run.stdout, run.stderr);
        let r = &run.json()[0];
        assert_eq!(r["binaries"], serde_json::json!([]), "{r:#}");
        assert_eq!(
            r["skipped"][0]["reason"],
            format!("not a regular file ({kind})")
        );
    }
    let run = fips_operator_within(&["scan", &format!("docker-archive:{fifo}")], 20);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a regular file (fifo)"),
        "{}",
        run.stderr
    );
}

/// `/proc`, `/sys` and `/dev` hold no programs, and some of their files never end.
#[test]
fn pseudo_filesystems_are_not_walked() {
    let run = fips_operator_within(&["scan", "-o", "json", "--cross-filesystems", "/proc"], 20);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let r = &run.json()[0];
    assert_eq!(
        r["skipped"][0]["reason"], "proc pseudo-filesystem: not walked",
        "{r:#}"
    );
}

/// Runs `script` (sh) in a new mount namespace, so that it may mount a tmpfs.
fn in_mount_namespace(script: &str) -> std::process::Output {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut cmd = std::process::Command::new("unshare");
    cmd.arg("--mount");
    if !root {
        cmd.arg("--map-root-user");
    }
    let out = cmd
        .args(["sh", "-c", script])
        .output()
        .expect("unshare (util-linux)");
    assert!(
        out.status.success(),
        "cannot mount in a new mount namespace (unshare --mount): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A directory scan stays on its filesystem, as `scan /` must not wander into every mount.
#[test]
fn a_directory_scan_stays_on_one_filesystem_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("mnt")).expect("mkdir");
    let app = std_go(dir.path());
    std::fs::copy(&app, tree.join("app")).expect("copy");
    let bin = env!("CARGO_BIN_EXE_fips-operator");
    let t = tree.to_string_lossy();
    let script = format!(
        "set -e; mount -t tmpfs none '{t}/mnt'; cp '{app}' '{t}/mnt/mounted'; chmod 755 '{t}/mnt/mounted' '{t}/app'; \
         '{bin}' scan -o json '{t}' > '{t}.one.json' || true; \
         '{bin}' scan -o json --cross-filesystems '{t}' > '{t}.all.json' || true"
    );
    in_mount_namespace(&script);
    let read = |suffix: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(format!("{t}.{suffix}.json")).expect("output");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")[0].clone()
    };
    let paths = |r: &serde_json::Value| -> Vec<String> {
        r["binaries"]
            .as_array()
            .expect("binaries")
            .iter()
            .map(|b| b["path"].as_str().expect("path").to_string())
            .collect()
    };
    let one = read("one");
    assert_eq!(paths(&one), ["app"], "{one:#}");
    let skipped = one["skipped"].as_array().expect("skipped");
    assert!(
        skipped.iter().any(|s| s["path"] == "mnt"
            && s["reason"]
                .as_str()
                .is_some_and(|r| r.contains("another filesystem (tmpfs) is mounted here")
                    && r.contains("--cross-filesystems"))),
        "{one:#}"
    );
    assert_eq!(paths(&read("all")), ["app", "mnt/mounted"]);
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

/// stdout carries only the result: an error is said once, on stderr, without repeating its
/// cause.
#[test]
fn errors_are_said_once_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = certified_go(dir.path());
    let run = fips_operator(&["scan", "--as-of", AS_OF, &good, "/nonexistent/file"]);
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains("/nonexistent"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("{good}: COMPLIANT")),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr.trim(),
        "fips-operator: scan /nonexistent/file: no such file or directory; pass an ELF file, a \
         root filesystem directory, oci:DIR, docker-archive:FILE or docker://REF"
    );
    let run = fips_operator(&["scan", "/nonexistent/file"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
}

/// Each bad input a newcomer tries gets a message that names it and says what to do.
#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("image.tar");
    std::fs::write(&text, "not a tar file\n").expect("write");
    let run = fips_operator(&["scan", &format!("docker-archive:{}", text.display())]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "fips-operator: scan docker-archive:{0}: {0}: not a docker archive (a tar file from \
             docker save or skopeo copy … docker-archive:): failed to read entire block",
            text.display()
        )
    );

    // A Docker Hub reference is not read as a path, and nothing is pulled on a typo.
    let run = fips_operator(&["scan", "alpine:3.20"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("to scan the image, write docker://alpine:3.20"),
        "{}",
        run.stderr
    );

    // An unresolvable registry: the cause is said, and no plain-HTTP hint for a name lookup.
    let run = fips_operator(&["scan", "--no-cache", "docker://registry.invalid/app:1"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot reach registry registry.invalid")
            && !run
                .stderr
                .contains("error sending request for url (https://registry.invalid/v2/);")
            && !run.stderr.contains("--insecure-registry"),
        "{}",
        run.stderr
    );

    let missing = dir.path().join("missing/dir");
    let run = fips_operator(&["crd", "--out", &missing.to_string_lossy()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    assert!(!missing.exists() && !dir.path().join("missing").exists());

    // A routing label the API server would refuse is refused at start, naming the flag.
    let run = fips_operator(&["controller", "--admission-label", "Admission/x y"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--admission-label")
            && run.stderr.contains("is not a Kubernetes label key"),
        "{}",
        run.stderr
    );

    // A KUBECONFIG that is set but not a kubeconfig: said so, not "set KUBECONFIG".
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fips-operator"))
        .args(["probe", "--node", "n1"])
        .env("KUBECONFIG", &text)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "KUBECONFIG={}: failed to parse kubeconfig",
            text.display()
        )) && !stderr.contains("set KUBECONFIG"),
        "{stderr}"
    );
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
