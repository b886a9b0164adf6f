//! Host facts from fixture trees, and the state rules of docs/verdicts.md.

use std::collections::BTreeMap;
use std::path::Path;

use super::process::{crypto_maps, process_state, scan_processes, State};
use super::*;
use crate::inspect::{Activation, BinaryVerdict, Day, Module, ModuleRegistry, Role, Validation};
use crate::policy::ImagePolicy;

fn ctx() -> ScanContext {
    ScanContext {
        registry: ModuleRegistry::built_in(),
        today: Day::parse("2026-11-26").expect("day"),
        policy: ImagePolicy::default(),
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn host_facts_from_a_fips_tree_and_a_plain_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let fips = dir.path().join("fips");
    write(&fips, "proc/sys/crypto/fips_enabled", "1\n");
    write(
        &fips,
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/sda1 fips=1 quiet\n",
    );
    write(&fips, "etc/crypto-policies/state/current", "FIPS\n");
    write(
        &fips,
        "etc/os-release",
        "NAME=\"RHEL\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n",
    );
    let h = host_facts(&fips, &ctx());
    assert_eq!(h.kernel_fips_enabled, Some(true));
    assert_eq!(h.cmdline_fips, Some(true));
    assert_eq!(h.crypto_policy.as_deref(), Some("FIPS"));
    assert_eq!(h.os.as_deref(), Some("Red Hat Enterprise Linux 9.4 (Plow)"));
    assert_eq!(h.openssl_fips_provider, None);
    assert!(host_reasons(&h).is_empty(), "{:?}", host_reasons(&h));

    let plain = dir.path().join("plain");
    write(&plain, "proc/sys/crypto/fips_enabled", "0\n");
    write(&plain, "proc/cmdline", "quiet fips=0\n");
    write(&plain, "etc/crypto-policies/state/current", "DEFAULT\n");
    let h = host_facts(&plain, &ctx());
    assert_eq!(
        (h.kernel_fips_enabled, h.cmdline_fips),
        (Some(false), Some(false))
    );
    let reasons = host_reasons(&h);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[2].contains("DEFAULT"));

    // Nothing there at all: facts say "not present", and that is not FIPS.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let h = host_facts(&empty, &ctx());
    assert_eq!(h, HostFacts::default());
    assert!(host_reasons(&h)[0].contains("missing"));
}

#[test]
fn the_boot_flag_is_a_whole_word_and_the_last_one_wins() {
    assert!(cmdline_fips("fips=1"));
    assert!(cmdline_fips("a=b fips=1 c"));
    assert!(!cmdline_fips("fips=1 fips=0"));
    assert!(!cmdline_fips("nofips=1"));
    assert!(!cmdline_fips("fips=10"));
    assert!(!cmdline_fips(""));
}

fn capable(activation: Activation) -> BinaryVerdict {
    BinaryVerdict {
        path: "usr/bin/app".into(),
        verdict: Verdict::FipsCapable,
        role: Role::Consumer,
        module: Some(Module {
            name: "go-native".into(),
            version: Some("v1.0.0-c2097c7c".into()),
            validation: Validation::Certified,
            activation,
            certificate: None,
        }),
        evidence: vec![],
        warnings: vec![],
        reader: None,
        reason: None,
        routes: vec![],
        other_modules: vec![],
        pending_routes: vec![],
        openssl_libs: vec![],
    }
}

#[test]
fn process_states_follow_activation_environment_and_maps() {
    let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let fips_host = HostFacts {
        kernel_fips_enabled: Some(true),
        ..HostFacts::default()
    };
    let plain_host = HostFacts::default();
    let fips_so = vec!["/usr/lib64/ossl-modules/fips.so".to_string()];
    let named = |name: &str, a: Activation| {
        let mut b = capable(a);
        if let Some(m) = b.module.as_mut() {
            m.name = name.into();
        }
        b
    };
    let s = |a, e: &BTreeMap<String, String>, m: &[String], h: &HostFacts| {
        process_state(&capable(a), e, m, h).0
    };
    use Activation::*;
    assert_eq!(s(Always, &env(&[]), &[], &plain_host), State::FipsActive);
    assert_eq!(s(DefaultOn, &env(&[]), &[], &plain_host), State::FipsActive);
    let off = env(&[("GODEBUG", "http2debug=1,fips140=off")]);
    assert_eq!(s(DefaultOn, &off, &[], &plain_host), State::FipsInactive);
    let last = env(&[("GODEBUG", "fips140=off,fips140=on")]);
    assert_eq!(
        s(DefaultOn, &last, &[], &plain_host),
        State::FipsActive,
        "last wins"
    );
    // go-native reads GODEBUG only, exactly as Go parses it.
    assert_eq!(
        s(EnvSwitch, &env(&[]), &[], &fips_host),
        State::FipsInactive
    );
    let on = env(&[("GODEBUG", "fips140=on")]);
    assert_eq!(s(EnvSwitch, &on, &[], &plain_host), State::FipsActive);
    let only = env(&[("GODEBUG", "fips140=only")]);
    assert_eq!(s(EnvSwitch, &only, &[], &plain_host), State::FipsActive);
    let spaced = env(&[("GODEBUG", " fips140=on")]);
    assert_eq!(
        s(EnvSwitch, &spaced, &[], &plain_host),
        State::FipsInactive,
        "Go does not trim"
    );
    let gofips = env(&[("GOFIPS", "1")]);
    assert_eq!(
        s(EnvSwitch, &gofips, &[], &plain_host),
        State::FipsInactive,
        "not go-native's switch"
    );
    let force = env(&[("OPENSSL_FORCE_FIPS_MODE", "1")]);
    assert_eq!(s(EnvSwitch, &force, &[], &plain_host), State::FipsInactive);
    // golang-fips reads GOLANG_FIPS / GOFIPS (and GODEBUG); OpenSSL reads OPENSSL_FORCE_FIPS_MODE.
    let fork = |e: &BTreeMap<String, String>, m: &[String], h: &HostFacts| {
        process_state(&named("golang-fips-openssl (dlopen)", HostDriven), e, m, h).0
    };
    assert_eq!(
        fork(&env(&[("GOLANG_FIPS", "1")]), &fips_so, &plain_host),
        State::FipsActive
    );
    assert_eq!(fork(&gofips, &fips_so, &plain_host), State::FipsActive);
    assert_eq!(fork(&force, &fips_so, &plain_host), State::FipsInactive);
    assert_eq!(fork(&env(&[]), &fips_so, &fips_host), State::FipsActive);
    assert_eq!(
        fork(&env(&[]), &[], &fips_host),
        State::FipsInactive,
        "no provider mapped"
    );
    let c = |e: &BTreeMap<String, String>, m: &[String], h: &HostFacts| {
        process_state(&named("openssl (dynamic)", HostDriven), e, m, h).0
    };
    assert_eq!(c(&env(&[]), &fips_so, &plain_host), State::FipsInactive);
    assert_eq!(c(&env(&[]), &[], &fips_host), State::FipsInactive);
    assert_eq!(c(&env(&[]), &fips_so, &fips_host), State::FipsActive);
    assert_eq!(c(&force, &fips_so, &plain_host), State::FipsActive);
    assert_eq!(
        c(&env(&[("GOLANG_FIPS", "1")]), &fips_so, &plain_host),
        State::FipsInactive
    );
    let symcrypt = vec!["/usr/lib/libsymcrypt.so.103".to_string()];
    assert_eq!(c(&env(&[]), &symcrypt, &fips_host), State::FipsActive);
    // Red Hat Go panics with both switches: said in the evidence.
    let both = env(&[("GOLANG_FIPS", "1"), ("GODEBUG", "fips140=on")]);
    let (_, why) = process_state(
        &named("golang-fips-openssl (dlopen)", HostDriven),
        &both,
        &fips_so,
        &fips_host,
    );
    assert!(why.iter().any(|w| w.contains("panics")), "{why:?}");
    // A file without crypto that maps a crypto library at run time is not judged.
    let mut plain_file = capable(Always);
    plain_file.verdict = Verdict::NoCrypto;
    plain_file.module = None;
    let libcrypto = vec!["/usr/lib/x86_64-linux-gnu/libcrypto.so.3".to_string()];
    assert_eq!(
        process_state(&plain_file, &env(&[]), &libcrypto, &fips_host).0,
        State::Unknown
    );
    assert_eq!(
        process_state(&plain_file, &env(&[]), &[], &fips_host).0,
        State::NoCrypto
    );
    // The verdict decides first.
    for (v, want) in [
        (Verdict::NotFipsCapable, State::NotFips),
        (Verdict::Unknown, State::Unknown),
    ] {
        let mut b = capable(Always);
        b.verdict = v;
        assert_eq!(process_state(&b, &env(&[]), &fips_so, &fips_host).0, want);
    }
}

#[test]
fn crypto_libraries_are_read_from_maps() {
    let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 123 /usr/bin/app
7f1c00000000-7f1c00100000 r--p 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f1c00100000-7f1c00200000 r-xp 00100000 fd:01 456 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f1c00300000-7f1c00400000 r--p 00000000 fd:01 789 /usr/lib64/ossl-modules/fips.so
7f1c00500000-7f1c00600000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
";
    assert_eq!(
        crypto_maps(maps),
        vec![
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3".to_string(),
            "/usr/lib64/ossl-modules/fips.so".to_string()
        ]
    );
    assert!(crypto_maps("garbage\n\n").is_empty());
}

#[test]
fn processes_that_are_gone_are_skipped_quietly() {
    let dir = tempfile::tempdir().expect("tmp");
    let proc_dir = dir.path().join("proc");
    // An exited process (no exe link any more), a kernel thread's shape, and non-pid entries.
    write(&proc_dir, "41/cmdline", "");
    write(&proc_dir, "42/stat", "42 (kthreadd) S");
    write(&proc_dir, "self/cmdline", "");
    write(&proc_dir, "sys/kernel/x", "");
    let scan = scan_processes(&proc_dir, &HostFacts::default(), &ctx(), None).expect("scan");
    assert!(scan.processes.is_empty());
    assert_eq!(scan.unreadable, 0);
    assert!(scan.warnings.is_empty());
}

#[test]
fn the_privilege_hint_fits_who_we_are() {
    use super::process::{privilege_hint, processes};
    let status = |uid: &str, caps: &str| {
        format!("Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nCapEff:\t{caps}\n")
    };
    let user = privilege_hint(&status("1000", "0000000000000000"));
    assert!(
        user.starts_with("run as root with CAP_SYS_PTRACE"),
        "{user}"
    );
    // Root in a container with Docker's default capabilities: no CAP_SYS_PTRACE (bit 19) nor
    // CAP_DAC_READ_SEARCH (bit 2).
    let dropped = privilege_hint(&status("0", "00000000a80425fb"));
    assert!(
        dropped.contains(
            "runs as root but without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (a container or \
             sandbox dropped them): add CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"
        ),
        "{dropped}"
    );
    assert!(!dropped.contains("run as root"), "{dropped}");
    let full = privilege_hint(&status("0", "000001ffffffffff"));
    assert!(full.contains("more privileged sandbox"), "{full}");
    assert!(!full.contains("run as root"), "{full}");
    assert_eq!(processes(1), "1 process");
    assert_eq!(processes(3), "3 processes");
}
