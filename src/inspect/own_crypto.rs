//! Crypto compiled into a file, found by the constants every implementation carries (the
//! rules reference, "Own implementations" and "Constant tables"): no library to name, only
//! tables, round constants and curve parameters.
//!
//! Each marker is 16 bytes or more (a table's first entries, a run of limbs), or a 4-byte
//! round constant that only counts together with the rest of its set: one 4-byte value is a
//! number any program may hold (glibc's `libm.so.6` carries SHA-512 K[0] as a double).
//! The patterns are written here as hex text and decoded when the search is built, so this
//! scanner's own binary does not carry the tables it looks for.

use std::collections::BTreeMap;

/// How a marker counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// One of the rules' four last-resort constant tables: crypto alone, a warning beside a
    /// module route.
    Table,
    /// Any hit is an implementation of its family.
    Own,
    /// A word of a set: the family is an implementation only when every word of the set is
    /// in the file (data or instruction immediates).
    Word,
    /// An initial hash value: an implementation with its family's K table (SHA-2) or with
    /// BLAKE2's message schedule; alone a warning (libxcrypt's SHA-crypt carries it).
    Iv,
    /// BLAKE2's message schedule (sigma row 1): an implementation with a SHA-2/BLAKE2 IV.
    Sigma,
    /// A word of a set counted only in executable code: unrolled rounds carry their
    /// constants as instruction immediates (x86's `add`/`lea` imm32, `movabs` imm64), where
    /// table-driven code keeps a table (`Table`). Every word of the set is needed.
    Immediate,
    /// A name in the file (`argon2id`): an implementation with the SHA-512/BLAKE2b IV.
    Hint,
    /// An initial hash value as instruction immediates (all words of the set, in code).
    IvImmediate,
}

pub(crate) struct Marker {
    pub family: &'static str,
    pub name: &'static str,
    /// Little-endian bytes as hex text, as they sit in the file.
    hex: &'static str,
    pub class: Class,
}

const fn m(family: &'static str, name: &'static str, class: Class, hex: &'static str) -> Marker {
    Marker {
        family,
        name,
        hex,
        class,
    }
}

/// Every marker, searched in one pass with the string markers (`native_rules`).
#[rustfmt::skip]
pub(crate) const MARKERS: &[Marker] = &[
    // The last-resort tables (first 16 bytes: 8 alone match libm's polynomial coefficients).
    m("SHA-256", "K", Class::Table, "982f8a4291443771cffbc0b5a5dbb5e9"),
    m("SHA-512", "K", Class::Table, "22ae28d7982f8a42cd65ef2391443771"),
    m("AES", "S-box", Class::Table, "637c777bf26b6fc53001672bfed7ab76"),
    m("MD5", "T", Class::Table, "78a46ad756b7c7e8db702024eecebdc1"),
    // The same constants unrolled into code: the first eight words of each (four for SHA-512).
    m("SHA-256", "K[0] immediate", Class::Immediate, "982f8a42"),
    m("SHA-256", "K[1] immediate", Class::Immediate, "91443771"),
    m("SHA-256", "K[2] immediate", Class::Immediate, "cffbc0b5"),
    m("SHA-256", "K[3] immediate", Class::Immediate, "a5dbb5e9"),
    m("SHA-256", "K[4] immediate", Class::Immediate, "5bc25639"),
    m("SHA-256", "K[5] immediate", Class::Immediate, "f111f159"),
    m("SHA-256", "K[6] immediate", Class::Immediate, "a4823f92"),
    m("SHA-256", "K[7] immediate", Class::Immediate, "d55e1cab"),
    m("SHA-512", "K[0] immediate", Class::Immediate, "22ae28d7982f8a42"),
    m("SHA-512", "K[1] immediate", Class::Immediate, "cd65ef2391443771"),
    m("SHA-512", "K[2] immediate", Class::Immediate, "2f3b4deccffbc0b5"),
    m("SHA-512", "K[3] immediate", Class::Immediate, "bcdb8981a5dbb5e9"),
    m("MD5", "T[0] immediate", Class::Immediate, "78a46ad7"),
    m("MD5", "T[1] immediate", Class::Immediate, "56b7c7e8"),
    m("MD5", "T[2] immediate", Class::Immediate, "db702024"),
    m("MD5", "T[3] immediate", Class::Immediate, "eecebdc1"),
    m("MD5", "T[4] immediate", Class::Immediate, "af0f7cf5"),
    m("MD5", "T[5] immediate", Class::Immediate, "2ac68747"),
    m("MD5", "T[6] immediate", Class::Immediate, "134630a8"),
    m("MD5", "T[7] immediate", Class::Immediate, "019546fd"),
    // AES: decryption S-box and the 32-bit T-tables of table-driven implementations
    // (Te0[0..4] = c66363a5 f87c7c84 ee777799 f67b7b8d; Td0[0..4] = 51f4a750 7e416553 ...).
    m("AES", "inverse S-box", Class::Own, "52096ad53036a538bf40a39e81f3d7fb"),
    m("AES", "T-table Te0", Class::Own, "a56363c6847c7cf8997777ee8d7b7bf6"),
    m("AES", "T-table Td0", Class::Own, "50a7f4515365417ec3a4171a965e273a"),
    // Blowfish: P-array and S-box 1 (hex digits of pi, 243f6a88 85a308d3 ... and d1310ba6
    // 98dfb5ac ...); pi's digits alone also start other constants, so both are needed. bcrypt
    // and OpenBSD's bcrypt_pbkdf encrypt these strings.
    m("Blowfish", "P-array", Class::Word, "886a3f24d308a3852e8a191344737003"),
    m("Blowfish", "S-box 1", Class::Word, "a60b31d1acb5df98db72fd2fb7df1ad0"),
    m("Blowfish", "bcrypt string \"OrpheanBeholderScryDoubt\"", Class::Own, "4f72706865616e4265686f6c64657253637279446f756274"),
    m("Blowfish", "bcrypt_pbkdf string \"OxychromaticBlowfishSwatDynamite\"", Class::Own, "4f78796368726f6d61746963426c6f77666973685377617444796e616d697465"),
    // SHA-1 round constants, as a table or as instruction immediates: all four.
    m("SHA-1", "constant 5a827999", Class::Word, "9979825a"),
    m("SHA-1", "constant 6ed9eba1", Class::Word, "a1ebd96e"),
    m("SHA-1", "constant 8f1bbcdc", Class::Word, "dcbc1b8f"),
    m("SHA-1", "constant ca62c1d6", Class::Word, "d6c162ca"),
    // RIPEMD-160 right-line constants: all four.
    m("RIPEMD-160", "constant 50a28be6", Class::Word, "e68ba250"),
    m("RIPEMD-160", "constant 5c4dd124", Class::Word, "24d14d5c"),
    m("RIPEMD-160", "constant 6d703ef3", Class::Word, "f33e706d"),
    m("RIPEMD-160", "constant 7a6d76e9", Class::Word, "e9766d7a"),
    // SHA-2 initial hash values (BLAKE2s and BLAKE2b start from the same words).
    m("SHA-256", "IV", Class::Iv, "67e6096a85ae67bb72f36e3c3af54fa5"),
    m("SHA-512", "IV", Class::Iv, "08c9bcf367e6096a3ba7ca8485ae67bb"),
    m("SHA-256", "IV[0] immediate", Class::IvImmediate, "67e6096a"),
    m("SHA-256", "IV[1] immediate", Class::IvImmediate, "85ae67bb"),
    m("SHA-256", "IV[2] immediate", Class::IvImmediate, "72f36e3c"),
    m("SHA-256", "IV[3] immediate", Class::IvImmediate, "3af54fa5"),
    m("SHA-256", "IV[4] immediate", Class::IvImmediate, "7f520e51"),
    m("SHA-256", "IV[5] immediate", Class::IvImmediate, "8c68059b"),
    m("SHA-256", "IV[6] immediate", Class::IvImmediate, "abd9831f"),
    m("SHA-256", "IV[7] immediate", Class::IvImmediate, "19cde05b"),
    m("SHA-512", "IV[0] immediate", Class::IvImmediate, "08c9bcf367e6096a"),
    m("SHA-512", "IV[1] immediate", Class::IvImmediate, "3ba7ca8485ae67bb"),
    m("SHA-512", "IV[2] immediate", Class::IvImmediate, "2bf894fe72f36e3c"),
    m("SHA-512", "IV[3] immediate", Class::IvImmediate, "f1361d5f3af54fa5"),
    // SHA-3: Keccak's round constants RC[1..3] as u64 (RC[0] is 1: too common a start).
    m("SHA-3", "Keccak round constants", Class::Own, "82800000000000008a800000000000800080008000000080"),
    m("BLAKE2", "message schedule sigma[1]", Class::Sigma, "0e0a0408090f0d06010c00020b070503"),
    // Argon2 hashes with BLAKE2b; its encoded hashes name the variant.
    m("Argon2", "string \"argon2id\"", Class::Hint, "6172676f6e326964"),
    // Tiger's S-box t1 and Whirlpool's table C0, as little-endian u64.
    m("Tiger", "S-box t1", Class::Own, "5e0ce9f77cb1aa02eca843e2034b42ac"),
    m("Whirlpool", "table C0", Class::Own, "d83078c0186018182646af05238c2323"),
    m("Whirlpool", "table C0 big-endian", Class::Own, "18186018c07830d823238c2305af4626"),
    // Ed25519's d = -121665/121666 mod 2^255-19, in the encodings implementations use.
    m("Ed25519", "d as 32 bytes", Class::Own, "a3785913ca4deb75abd841414d0a7000"),
    m("Ed25519", "d as one byte per u32", Class::Own, "a3000000780000005900000013000000"),
    m("Ed25519", "d as 16-bit limbs in i64", Class::Own, "a3780000000000005913000000000000"),
    m("Ed25519", "d as signed radix-2^25.5 limbs", Class::Own, "b67859ff8572d300bd6e15ff0f0a6a00"),
    m("Ed25519", "d as radix-2^25.5 limbs", Class::Own, "a37859038472d300bd6e15030e0a6a00"),
    m("Ed25519", "d as 51-bit limbs", Class::Own, "a3785913ca4d0300bd6e153b28a80100"),
    // 2d, which implementations that never decompress a point keep instead of d.
    m("Ed25519", "2d as 32 bytes", Class::Own, "59f1b226949bd6eb56b183829a14e000"),
    m("Ed25519", "2d as signed radix-2^25.5 limbs", Class::Own, "59f1b2fe0ae5a6ff7bdd2afe1e14d400"),
    m("Ed25519", "2d as 51-bit limbs", Class::Own, "59f1b226949b06007add2a7650500300"),
    m("Ed25519", "2d as radix-2^25.5 limbs", Class::Own, "59f1b20209e5a6017add2a021d14d400"),
];

/// Whether a marker is a 4- or 8-byte word (searched apart from the long markers, in code too).
pub(crate) fn is_word(marker: &Marker) -> bool {
    matches!(
        marker.class,
        Class::Word | Class::Immediate | Class::IvImmediate
    ) && marker.hex.len() <= 16
}

/// Whether `MARKERS[i]` is the word the automata search for its set (the last of the set):
/// the other words are looked up only in a file where it was found.
pub(crate) fn is_anchor(i: usize) -> bool {
    let mk = &MARKERS[i];
    is_word(mk) && !set_of(i).any(|j| j > i)
}

/// The other words of `MARKERS[i]`'s set.
pub(crate) fn set_of(i: usize) -> impl Iterator<Item = usize> {
    let mk = &MARKERS[i];
    MARKERS
        .iter()
        .enumerate()
        .filter(move |(j, o)| *j != i && o.family == mk.family && o.class == mk.class && is_word(o))
        .map(|(j, _)| j)
}

/// A marker's bytes.
pub(crate) fn bytes(marker: &Marker) -> Vec<u8> {
    let hex = marker.hex.as_bytes();
    hex.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).expect("marker hex is ASCII");
            u8::from_str_radix(text, 16).expect("marker hex is valid")
        })
        .collect()
}

/// The first file offset of each marker seen.
#[derive(Default, Debug)]
pub(crate) struct Seen {
    first: BTreeMap<usize, usize>,
}

impl Seen {
    /// A hit of `MARKERS[marker]` at a file offset, in code (`in_code`) or data.
    pub(crate) fn record(&mut self, marker: usize, offset: usize, in_code: bool) {
        if matches!(MARKERS[marker].class, Class::Immediate | Class::IvImmediate) && !in_code {
            return;
        }
        self.first.entry(marker).or_insert(offset);
    }

    fn offset(&self, marker: usize) -> Option<usize> {
        self.first.get(&marker).copied()
    }

    fn family_hits(&self, family: &str, class: Class) -> Vec<(usize, usize)> {
        MARKERS
            .iter()
            .enumerate()
            .filter(|(_, mk)| mk.family == family && mk.class == class)
            .filter_map(|(i, _)| self.offset(i).map(|at| (i, at)))
            .collect()
    }
}

/// What the markers say about a file.
#[derive(Default, Debug, PartialEq)]
pub(crate) struct Assessment {
    /// `(family, evidence)` for each family implemented in the file.
    pub implementations: Vec<(&'static str, String)>,
    /// Last-resort tables seen with nothing that makes them an implementation.
    pub tables: Vec<&'static str>,
    /// Markers that decide nothing alone.
    pub warnings: Vec<String>,
}

/// `P-array at 0x8fea0, S-box 1 at 0x8eea0`; sets of words in one phrase.
fn describe(hits: &[(usize, usize)]) -> String {
    let first = |class: Class| {
        hits.iter()
            .filter(|(i, _)| MARKERS[*i].class == class)
            .map(|(_, at)| *at)
            .min()
    };
    let mut parts = Vec::new();
    if let Some(at) = first(Class::Immediate) {
        let n = hits
            .iter()
            .filter(|(i, _)| MARKERS[*i].class == Class::Immediate)
            .count();
        parts.push(format!(
            "{n} round constants as instruction immediates (first at 0x{at:x})"
        ));
    }
    if let Some(at) = first(Class::IvImmediate) {
        parts.push(format!(
            "initial values as instruction immediates (first at 0x{at:x})"
        ));
    }
    let constants: Vec<&str> = hits
        .iter()
        .filter_map(|(i, _)| MARKERS[*i].name.strip_prefix("constant "))
        .collect();
    if let (false, Some(at)) = (constants.is_empty(), first(Class::Word)) {
        parts.push(format!(
            "constants {} (first at 0x{at:x})",
            constants.join(" ")
        ));
    }
    for (i, at) in hits {
        let mk = &MARKERS[*i];
        if !matches!(mk.class, Class::Immediate | Class::IvImmediate)
            && !mk.name.starts_with("constant ")
        {
            parts.push(format!("{} at 0x{at:x}", mk.name));
        }
    }
    parts.join(", ")
}

/// Every marker of `family` and `class` when all of them were seen, else none.
fn complete_set(seen: &Seen, family: &str, class: Class) -> Vec<(usize, usize)> {
    let hits = seen.family_hits(family, class);
    let wanted = MARKERS
        .iter()
        .filter(|mk| mk.family == family && mk.class == class)
        .count();
    if wanted > 0 && hits.len() == wanted {
        hits
    } else {
        Vec::new()
    }
}

/// A SHA-2 family's initial values: as a table, or all of them as immediates.
fn initial_values(seen: &Seen, family: &str) -> Vec<(usize, usize)> {
    let mut hits = seen.family_hits(family, Class::Iv);
    hits.extend(complete_set(seen, family, Class::IvImmediate));
    hits
}

pub(crate) fn assess(seen: &Seen) -> Assessment {
    let mut out = Assessment::default();
    let mut families: Vec<&'static str> = Vec::new();
    for mk in MARKERS {
        if !families.contains(&mk.family) {
            families.push(mk.family);
        }
    }
    // A SHA-2 initial value with none of its round constants anywhere (no table, not one
    // immediate) is BLAKE2's: it starts from the same words and has no K.
    let sha2 = ["SHA-256", "SHA-512"];
    let no_k = |w: &str| {
        seen.family_hits(w, Class::Table).is_empty()
            && seen.family_hits(w, Class::Immediate).is_empty()
    };
    for family in families {
        let table = seen.family_hits(family, Class::Table);
        let iv = initial_values(seen, family);
        let mut hits = seen.family_hits(family, Class::Own);
        hits.extend(complete_set(seen, family, Class::Word));
        hits.extend(complete_set(seen, family, Class::Immediate));
        let mut note = "";
        if !table.is_empty() && !iv.is_empty() {
            // A SHA-2 K table with its own initial values: the whole hash function.
            hits.extend(table.iter().chain(&iv));
        }
        match family {
            "Argon2" => {
                let blake2b_iv = initial_values(seen, "SHA-512");
                let hint = seen.family_hits(family, Class::Hint);
                if !hint.is_empty() && !blake2b_iv.is_empty() {
                    hits.extend(hint.iter().chain(&blake2b_iv));
                }
            }
            "BLAKE2" => {
                let ivs: Vec<_> = sha2.iter().flat_map(|w| initial_values(seen, w)).collect();
                let sigma = seen.family_hits(family, Class::Sigma);
                if !sigma.is_empty() && !ivs.is_empty() {
                    hits.extend(sigma.iter().chain(&ivs));
                } else {
                    for w in sha2 {
                        let iv = initial_values(seen, w);
                        if !iv.is_empty() && no_k(w) {
                            hits.extend(&iv);
                            note = " (SHA-2 initial values with none of SHA-2's round constants)";
                        }
                    }
                }
            }
            _ => {}
        }
        if !hits.is_empty() {
            out.implementations
                .push((family, format!("{}{note}", describe(&hits))));
            continue;
        }
        if !table.is_empty() {
            out.tables.extend(table.iter().map(|(i, _)| table_name(*i)));
        }
        if !iv.is_empty() && !no_k(family) {
            out.warnings.push(format!(
                "{family} initial hash values with only some of its round constants at 0x{:x} (decides nothing alone)",
                iv[0].1
            ));
        }
    }
    out
}

/// The old evidence names of the last-resort tables ("SHA-256 K", "AES S-box").
fn table_name(i: usize) -> &'static str {
    match (MARKERS[i].family, MARKERS[i].name) {
        ("SHA-256", _) => "SHA-256 K",
        ("SHA-512", _) => "SHA-512 K",
        ("AES", _) => "AES S-box",
        _ => "MD5 T",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(names: &[(&str, &str)]) -> Seen {
        let mut s = Seen::default();
        for (family, name) in names {
            let i = MARKERS
                .iter()
                .position(|mk| mk.family == *family && mk.name == *name)
                .expect("a marker of that name");
            s.record(i, 0x100 * (i + 1), true);
        }
        s
    }

    #[test]
    fn argon2_is_its_name_beside_the_blake2b_iv() {
        let name = assess(&seen(&[("Argon2", "string \"argon2id\"")]));
        assert!(name.implementations.is_empty());
        let both = assess(&seen(&[
            ("Argon2", "string \"argon2id\""),
            ("SHA-512", "IV"),
        ]));
        let families: Vec<&str> = both.implementations.iter().map(|(f, _)| *f).collect();
        assert_eq!(families, ["BLAKE2", "Argon2"], "{both:?}");
    }

    #[test]
    fn markers_decode_to_the_documented_values() {
        let find = |family: &str, name: &str| {
            bytes(
                MARKERS
                    .iter()
                    .find(|mk| mk.family == family && mk.name == name)
                    .expect("marker"),
            )
        };
        // Independent sources for a few: the words as numbers, the string as text.
        assert_eq!(
            find("SHA-1", "constant ca62c1d6"),
            0xca62c1d6u32.to_le_bytes()
        );
        assert_eq!(
            find("Blowfish", "P-array")[..8],
            [0x243f6a88u32.to_le_bytes(), 0x85a308d3u32.to_le_bytes()].concat()[..]
        );
        assert_eq!(
            find("Tiger", "S-box t1")[..8],
            0x02AAB17CF7E90C5Eu64.to_le_bytes()
        );
        assert_eq!(
            find("Ed25519", "d as signed radix-2^25.5 limbs"),
            [-10913610i32, 13857413, -15372611, 6949391]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            find("Ed25519", "2d as 51-bit limbs"),
            [1859910466990425u64, 932731440258426]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            find("Ed25519", "d as 51-bit limbs"),
            [929955233495203u64, 466365720129213]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            find("SHA-512", "K[3] immediate"),
            0xe9b5dba58189dbbcu64.to_le_bytes()
        );
        assert_eq!(find("MD5", "T[7] immediate"), 0xfd469501u32.to_le_bytes());
        assert_eq!(
            find("SHA-256", "K[6] immediate"),
            0x923f82a4u32.to_le_bytes()
        );
        let bcrypt = find("Blowfish", "bcrypt string \"OrpheanBeholderScryDoubt\"");
        assert_eq!(bcrypt, b"OrpheanBeholderScryDoubt");
        for mk in MARKERS {
            let len = bytes(mk).len();
            match mk.class {
                Class::Word | Class::Immediate | Class::IvImmediate => {
                    assert_eq!(len % 4, 0, "{}", mk.name)
                }
                Class::Hint => assert!(len >= 8, "{}", mk.name),
                _ => assert!(len >= 16, "{} {} is {len} bytes", mk.family, mk.name),
            }
        }
    }

    #[test]
    fn every_word_set_has_one_anchor() {
        for (i, mk) in MARKERS.iter().enumerate().filter(|(_, mk)| is_word(mk)) {
            let anchors = std::iter::once(i)
                .chain(set_of(i))
                .filter(|&j| is_anchor(j))
                .count();
            assert_eq!(anchors, 1, "{} {}", mk.family, mk.name);
        }
    }

    #[test]
    fn words_count_only_as_a_whole_set() {
        let three = seen(&[
            ("SHA-1", "constant 5a827999"),
            ("SHA-1", "constant 6ed9eba1"),
            ("SHA-1", "constant 8f1bbcdc"),
        ]);
        assert_eq!(assess(&three), Assessment::default());
        let mut four = three;
        four.record(
            MARKERS
                .iter()
                .position(|mk| mk.name == "constant ca62c1d6")
                .expect("marker"),
            0x40,
            false,
        );
        let a = assess(&four);
        assert_eq!(a.implementations.len(), 1);
        assert_eq!(a.implementations[0].0, "SHA-1");
        assert_eq!(
            a.implementations[0].1,
            "constants 5a827999 6ed9eba1 8f1bbcdc ca62c1d6 (first at 0x40)"
        );
    }

    #[test]
    fn k_tables_alone_stay_last_resort_and_with_their_iv_are_an_implementation() {
        let k = seen(&[("SHA-256", "K")]);
        let a = assess(&k);
        assert_eq!(a.tables, vec!["SHA-256 K"]);
        assert!(a.implementations.is_empty());
        let a = assess(&seen(&[("SHA-256", "K"), ("SHA-256", "IV")]));
        assert_eq!(a.implementations[0].0, "SHA-256");
        // An initial value with none of its round constants is BLAKE2's.
        let a = assess(&seen(&[("SHA-512", "IV")]));
        assert_eq!(a.implementations.len(), 1, "{a:?}");
        assert_eq!(a.implementations[0].0, "BLAKE2");
        assert!(a.implementations[0]
            .1
            .contains("none of SHA-2's round constants"));
        // With some of them it decides nothing.
        let a = assess(&seen(&[("SHA-512", "IV"), ("SHA-512", "K[1] immediate")]));
        assert!(a.implementations.is_empty() && a.tables.is_empty(), "{a:?}");
        assert!(a.warnings[0].contains("decides nothing alone"));
        let a = assess(&seen(&[
            ("SHA-512", "IV"),
            ("BLAKE2", "message schedule sigma[1]"),
        ]));
        assert_eq!(a.implementations.len(), 1, "{a:?}");
        assert_eq!(a.implementations[0].0, "BLAKE2");
    }

    #[test]
    fn immediates_count_only_in_code_and_as_a_whole_set() {
        let md5: Vec<usize> = MARKERS
            .iter()
            .enumerate()
            .filter(|(_, mk)| mk.family == "MD5" && mk.class == Class::Immediate)
            .map(|(i, _)| i)
            .collect();
        let mut data = Seen::default();
        for &i in &md5 {
            data.record(i, 0x10 * i, false);
        }
        assert_eq!(assess(&data), Assessment::default());
        let mut code = Seen::default();
        for &i in &md5[1..] {
            code.record(i, 0x10 * i, true);
        }
        assert_eq!(assess(&code), Assessment::default());
        code.record(md5[0], 0x8, true);
        assert_eq!(assess(&code).implementations[0].0, "MD5");
    }

    #[test]
    fn blowfish_needs_both_tables_or_a_bcrypt_string() {
        assert!(assess(&seen(&[("Blowfish", "P-array")]))
            .implementations
            .is_empty());
        let both = assess(&seen(&[("Blowfish", "P-array"), ("Blowfish", "S-box 1")]));
        assert_eq!(both.implementations[0].0, "Blowfish");
        let s = assess(&seen(&[(
            "Blowfish",
            "bcrypt_pbkdf string \"OxychromaticBlowfishSwatDynamite\"",
        )]));
        assert_eq!(s.implementations[0].0, "Blowfish");
    }
}
