//! Bad input never panics: each case is `unknown` with evidence saying what was wrong.

use object::write::{Object, StandardSection};
use object::{Architecture, BinaryFormat, Endianness, SectionKind};
use proptest::prelude::*;

use super::*;

fn small_elf(extra: Option<(&[u8], &[u8])>) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let ro = obj.section_id(StandardSection::ReadOnlyData);
    obj.append_section_data(ro, b"hello\0", 1);
    if let Some((name, data)) = extra {
        let s = obj.add_section(Vec::new(), name.to_vec(), SectionKind::Data);
        obj.append_section_data(s, data, 16);
    }
    obj.write().expect("write")
}

fn unknown_reason(data: &[u8]) -> String {
    let f = analyze(data, "x");
    f.unknown
        .clone()
        .map(|u| u.reason)
        .unwrap_or_else(|| panic!("expected unknown, got {f:?}"))
}

#[test]
fn empty_file() {
    assert_eq!(unknown_reason(&[]), "empty file");
}

#[test]
fn truncated_headers() {
    let elf = small_elf(None);
    for len in [4, 16, 40, 63] {
        let reason = unknown_reason(&elf[..len]);
        assert!(reason.starts_with("elf:"), "{len}: {reason}");
    }
}

#[test]
fn section_past_the_end_of_the_file() {
    let elf = small_elf(None);
    // Cut the file just after the section header table's start: headers now point past EOF.
    let cut = &elf[..elf.len() - 8];
    let reason = unknown_reason(cut);
    assert!(reason.starts_with("elf:"), "{reason}");
}

#[test]
fn unsupported_class_and_machine() {
    let mut elf = small_elf(None);
    elf[4] = 9;
    assert!(unknown_reason(&elf).contains("unsupported ELF class 9"));
    let mut elf = small_elf(None);
    elf[18] = 0x99; // e_machine
    elf[19] = 0x99;
    assert!(unknown_reason(&elf).contains("unsupported machine"));
}

#[test]
fn bogus_buildinfo_varints() {
    let mut bi = b"\xff Go buildinf:\x08\x02".to_vec();
    bi.resize(32, 0);
    bi.extend_from_slice(&[0xff; 11]);
    let reason = unknown_reason(&small_elf(Some((b".go.buildinfo", &bi))));
    assert!(reason.contains("buildinfo: bad version varint"), "{reason}");
    let mut bi = b"\xff Go buildinf:\x08\x02".to_vec();
    bi.resize(32, 0);
    bi.extend_from_slice(&[0xf0, 0xff, 0xff, 0x7f, b'g']);
    let reason = unknown_reason(&small_elf(Some((b".go.buildinfo", &bi))));
    assert!(reason.contains("buildinfo"), "{reason}");
}

#[test]
fn a_huge_pclntab_claim_with_nothing_readable_left_is_unknown_never_no_crypto() {
    let mut tab = 0xffff_fff1u32.to_le_bytes().to_vec();
    tab.extend_from_slice(&[0, 0, 1, 8]);
    for _ in 0..8 {
        tab.extend_from_slice(&u64::MAX.to_le_bytes());
    }
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let s = obj.add_section(
        Vec::new(),
        b".gopclntab".to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.append_section_data(s, &tab, 8);
    let elf = obj.write().expect("write");
    let f = analyze(&elf, "x");
    // The table is rejected and a raw search finds nothing: that shows no absence of crypto,
    // so the file cannot be judged (fail closed).
    let reason = f.unknown.clone().map(|u| u.reason).unwrap_or_default();
    assert!(reason.contains("function table not read"), "{f:?}");
}

#[test]
fn a_pclntab_that_names_no_runtime_function_is_unknown() {
    // A well-formed Go 1.20 header whose name table holds one non-runtime name: read, but
    // not a table a Go program has.
    let names = b"main.main\0";
    let mut tab = 0xffff_fff1u32.to_le_bytes().to_vec();
    tab.extend_from_slice(&[0, 0, 1, 8]);
    let header_len = 8 + 8 * 8;
    let funcname = header_len as u64;
    let cu = funcname + names.len() as u64;
    for w in [1u64, 1, 0, funcname, cu, cu, cu, cu] {
        tab.extend_from_slice(&w.to_le_bytes());
    }
    tab.extend_from_slice(names);
    tab.resize(tab.len() + 64, 0);
    let elf_with = |section: &[u8]| {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let s = obj.add_section(Vec::new(), section.to_vec(), SectionKind::ReadOnlyData);
        obj.append_section_data(s, &tab, 8);
        obj.write().expect("write")
    };
    let f = analyze(&elf_with(b".gopclntab"), "x");
    let reason = f.unknown.clone().map(|u| u.reason).unwrap_or_default();
    assert!(reason.contains("named no runtime function"), "{f:?}");
    // Whatever the linker named the section, a pclntab header at its start marks a Go binary.
    let f = analyze(&elf_with(b".rodata.other"), "x");
    let reason = f.unknown.clone().map(|u| u.reason).unwrap_or_default();
    assert!(reason.contains("function table not read"), "{f:?}");
}

#[test]
fn upx_packed() {
    let mut elf = small_elf(None);
    elf.extend_from_slice(b"UPX!");
    let n = elf.len();
    elf.copy_within(n - 4..n, 200);
    assert!(unknown_reason(&elf).contains("UPX"));
}

#[test]
fn non_elf_bytes_are_not_elf() {
    assert!(!is_elf(b"#!/bin/sh\necho hi\n"));
    assert!(unknown_reason(b"#!/bin/sh\n").contains("not an ELF file"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_corruption_never_panics(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..24), cut in 0usize..5000) {
        let mut elf = small_elf(Some((b".go.buildinfo", b"\xff Go buildinf:\x08\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05go1.x\x00")));
        for (at, b) in flips {
            let n = elf.len();
            elf[at % n] = b;
        }
        elf.truncate(cut.max(4));
        let _ = analyze(&elf, "libcrypto.so.3");
    }

    /// Fail closed under random corruption: a file with Go's marks (build info, a pclntab
    /// section) is never `no-crypto` unless its function table named the runtime.
    #[test]
    fn go_marks_are_never_no_crypto_unread(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 0..24), cut in 64usize..5000) {
        let mut elf = small_elf(Some((b".go.buildinfo", b"\xff Go buildinf:\x08\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05go1.x\x00")));
        for (at, b) in flips {
            let n = elf.len();
            elf[at % n] = b;
        }
        elf.truncate(cut);
        let f = analyze(&elf, "app");
        prop_assert_eq!(fuzzing::fail_closed_violation(&elf, &f), None);
    }
}

#[test]
fn compressed_sections_are_unknown_unless_debug_info() {
    use object::write::SectionFlags;
    let with_flags = |name: &[u8], kind: SectionKind, sh_flags: u64| {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let s = obj.add_section(Vec::new(), name.to_vec(), kind);
        obj.append_section_data(s, b"compressed bytes here\0", 1);
        obj.section_mut(s).flags = SectionFlags::Elf { sh_flags };
        obj.write().expect("write")
    };
    let alloc_compressed = u64::from(object::elf::SHF_ALLOC | object::elf::SHF_COMPRESSED);
    let f = analyze(
        &with_flags(b".rodata", SectionKind::ReadOnlyData, alloc_compressed),
        "x",
    );
    let unread = f.unknown.clone().unwrap_or_else(|| panic!("{f:?}"));
    assert_eq!(unread.reader, Reader::Elf);
    assert!(
        unread.reason.contains(".rodata is compressed"),
        "{unread:?}"
    );
    let debug = u64::from(object::elf::SHF_COMPRESSED);
    let f = analyze(&with_flags(b".debug_info", SectionKind::Debug, debug), "x");
    assert_eq!(f.unknown, None, "{f:?}");
}

/// A file that holds the markers' bare words (as this scanner does, as any scanner's rule
/// table does) but no versioned module string or path names no module and no crypto.
#[test]
fn unversioned_marker_words_name_nothing() {
    // As a Rust program holds them: NUL-separated, and packed into other text.
    let words: &[u8] = b"AWS-LC FIPS \0aws-lc-sys-\0aws-lc-fips-sys-\0/ring-\0OpenSSL \0\
        OPENSSL_init_cryptocrypto/evp/digest.cOPENSSLDIR: \"MODULESDIR: \"image: OpenSSL 3 with \
        its FIPS provider\0";
    let f = analyze(&small_elf(Some((b".rodata.words", words))), "scanner");
    assert!(!f.has_crypto(), "{f:?}");
    assert!(f.evidence.is_empty(), "{f:?}");

    // With the versioned forms after them, the versions are read, not the bare words.
    let mut both = words.to_vec();
    both.extend_from_slice(b"/cargo/registry/src/x/aws-lc-sys-0.47.0/src/lib.rs\0");
    let f = analyze(&small_elf(Some((b".rodata.words", &both))), "app");
    assert!(
        f.non_fips.iter().any(|e| e.contains("aws-lc-sys-0.47.0")),
        "{f:?}"
    );
}

/// The rules' 8-byte signature alone is a number (glibc's libm holds SHA-512 K[0] as a
/// double); the table needs the entries after it too.
#[test]
fn a_constant_table_is_more_than_its_first_entry() {
    let sha512_k0_as_double: &[u8] = &[
        0x22, 0xae, 0x28, 0xd7, 0x98, 0x2f, 0x8a, 0x42, 0xff, 0x3f, 0xc5, 0x3d, 0xb4, 0x9a, 0x99,
        0x05,
    ];
    let f = analyze(
        &small_elf(Some((b".rodata.math", sha512_k0_as_double))),
        "libm",
    );
    assert!(!f.has_crypto(), "{f:?}");

    let sha512_k: &[u8] = &[
        0x22, 0xae, 0x28, 0xd7, 0x98, 0x2f, 0x8a, 0x42, 0xcd, 0x65, 0xef, 0x23, 0x91, 0x44, 0x37,
        0x71,
    ];
    let f = analyze(&small_elf(Some((b".rodata.k", sha512_k))), "hasher");
    assert_eq!(
        f.non_fips,
        vec!["constant tables SHA-512 K (crypto code outside a module)".to_string()],
        "{f:?}"
    );
}

/// A set of words counts where its words sit together: all of SHA-1's round constants in one
/// table are an implementation, the same four scattered over 200 KiB are chance; and a file
/// that holds the set's anchor more often than the scanner keeps hits of it is searched whole.
#[test]
fn word_sets_count_where_their_words_sit_together() {
    let word = |v: u32| v.to_le_bytes();
    let (k0, k1, k2, k3) = (0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6);
    let sha1 = |rodata: Vec<u8>| {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let ro = obj.section_id(StandardSection::ReadOnlyData);
        obj.append_section_data(ro, &rodata, 16);
        let f = analyze(&obj.write().expect("write"), "x");
        f.non_fips.iter().any(|e| e.contains("own SHA-1"))
    };
    let gap = vec![0u8; 200 * 1024];
    let together = [word(k0), word(k1), word(k2), word(k3)].concat();
    assert!(sha1([&gap[..], &together].concat()));
    let scattered = [&word(k0)[..], &word(k1), &word(k2), &gap, &word(k3)].concat();
    assert!(!sha1(scattered.clone()));
    // The anchor (the set's last word) 20 times: more hits than are kept.
    let crowded = [scattered, word(k3).repeat(20)].concat();
    assert!(sha1(crowded));
}
