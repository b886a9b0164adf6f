//! Function names from the Go pclntab, which survives `-s -w` stripping. Located by section
//! name, else (PIE up to Go 1.25, or no sections) by magic and header in `.data.rel.ro` and
//! the read-only `PT_LOAD`s.

use super::elf::ElfView;

const MAGIC_12: u32 = 0xffff_fffb;
const MAGIC_116: u32 = 0xffff_fffa;
const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Go12,
    Go116,
    Go118,
}

/// A located, header-checked pclntab.
pub(crate) struct PcLnTab<'a> {
    data: &'a [u8],
    layout: Layout,
    ptr_size: usize,
    big_endian: bool,
}

impl<'a> PcLnTab<'a> {
    /// Finds the table. `None`: there is none that parses (callers fall back to a raw search).
    /// Go 1.19 PIE names the section `.data.rel.ro.gopclntab`; without sections the header
    /// is searched in `.data.rel.ro`, then in every `PT_LOAD`, read-only ones first.
    pub fn find(elf: &ElfView<'a>) -> Option<Self> {
        if let Some(s) = elf
            .sections
            .iter()
            .find(|s| s.name.ends_with(b".gopclntab"))
        {
            if let Some(t) = Self::parse(elf.section_data(s)) {
                return Some(t);
            }
        }
        let mut regions: Vec<&'a [u8]> = Vec::new();
        if let Some(s) = elf.section(".data.rel.ro") {
            regions.push(elf.section_data(s));
        }
        let loads = || elf.segments.iter().filter(|s| s.is_load());
        regions.extend(
            loads()
                .filter(|s| !s.writable())
                .map(|s| elf.segment_data(s)),
        );
        regions.extend(
            loads()
                .filter(|s| s.writable())
                .map(|s| elf.segment_data(s)),
        );
        regions.into_iter().find_map(search_region)
    }

    /// True when `data` starts with a pclntab header (magic, padding, quantum, pointer
    /// size), whether or not the rest of the table parses: the mark of a Go binary.
    pub fn header_at(data: &[u8]) -> bool {
        data.len() >= 8
            && data[4] == 0
            && data[5] == 0
            && matches!(data[6], 1 | 2 | 4)
            && matches!(data[7], 4 | 8)
            && (is_magic(u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
                || is_magic(u32::from_be_bytes([data[0], data[1], data[2], data[3]])))
    }

    /// Parses a table that starts at `data[0]` (fuzzing entry point).
    pub fn parse_bytes(data: &'a [u8]) -> Option<Self> {
        Self::parse(data)
    }

    fn parse(data: &'a [u8]) -> Option<Self> {
        if data.len() < 16 || data[4] != 0 || data[5] != 0 {
            return None;
        }
        let quantum = data[6];
        let ptr_size = data[7] as usize;
        if !matches!(quantum, 1 | 2 | 4) || !matches!(ptr_size, 4 | 8) {
            return None;
        }
        let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let (magic, big_endian) = if is_magic(le) {
            (le, false)
        } else {
            (be, true)
        };
        let layout = match magic {
            MAGIC_12 => Layout::Go12,
            MAGIC_116 => Layout::Go116,
            MAGIC_118 | MAGIC_120 => Layout::Go118,
            _ => return None,
        };
        let table = PcLnTab {
            data,
            layout,
            ptr_size,
            big_endian,
        };
        // A header whose offsets do not hold up is not a pclntab (or is corrupt).
        match layout {
            Layout::Go12 => {
                let n = table.word(8)?;
                (n > 0 && n.checked_mul(2 * ptr_size as u64)? < data.len() as u64).then_some(table)
            }
            _ => table.funcname_range().map(|_| table),
        }
    }

    fn word(&self, off: usize) -> Option<u64> {
        let b = self.data.get(off..off.checked_add(self.ptr_size)?)?;
        let mut v = 0u64;
        for i in 0..self.ptr_size {
            let byte = if self.big_endian {
                b[i]
            } else {
                b[self.ptr_size - 1 - i]
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Go 1.16+: the function-name table is one run of NUL-terminated names between the
    /// funcname offset and the cu offset of the header.
    fn funcname_range(&self) -> Option<(usize, usize)> {
        let (name_field, cu_field) = match self.layout {
            Layout::Go116 => (2, 3),
            Layout::Go118 => (3, 4),
            Layout::Go12 => return None,
        };
        let start = self.word(8 + name_field * self.ptr_size)?;
        let end = self.word(8 + cu_field * self.ptr_size)?;
        let len = self.data.len() as u64;
        (start >= 8 && start < end && end <= len).then_some((start as usize, end as usize))
    }

    /// Calls `f` with every function name in the table.
    pub fn for_each_name(&self, mut f: impl FnMut(&'a [u8])) {
        if let Some((start, end)) = self.funcname_range() {
            for name in self.data[start..end].split(|&b| b == 0) {
                if !name.is_empty() {
                    f(name);
                }
            }
            return;
        }
        // Go 1.2-1.15: walk the function table: (pc, funcoff) pairs, then func{entry, nameoff}.
        let ps = self.ptr_size;
        let Some(nfunc) = self.word(8) else { return };
        for i in 0..usize::try_from(nfunc).unwrap_or(0) {
            let Some(funcoff) = self.word(8 + ps + (2 * i + 1) * ps) else {
                return;
            };
            let Some(nameoff) = usize::try_from(funcoff)
                .ok()
                .and_then(|o| o.checked_add(ps))
                .and_then(|o| self.u32_at(o))
            else {
                continue;
            };
            if let Some(tail) = self.data.get(nameoff as usize..) {
                let end = memchr::memchr(0, tail).unwrap_or(tail.len());
                f(&tail[..end]);
            }
        }
    }
}

fn is_magic(v: u32) -> bool {
    matches!(v, MAGIC_12 | MAGIC_116 | MAGIC_118 | MAGIC_120)
}

fn search_region(region: &[u8]) -> Option<PcLnTab<'_>> {
    let patterns: [[u8; 4]; 8] = [
        MAGIC_120.to_le_bytes(),
        MAGIC_118.to_le_bytes(),
        MAGIC_116.to_le_bytes(),
        MAGIC_12.to_le_bytes(),
        MAGIC_120.to_be_bytes(),
        MAGIC_118.to_be_bytes(),
        MAGIC_116.to_be_bytes(),
        MAGIC_12.to_be_bytes(),
    ];
    for pattern in patterns {
        let mut pos = 0;
        while let Some(i) = memchr::memmem::find(&region[pos..], &pattern) {
            let at = pos + i;
            if at % 4 == 0 {
                if let Some(t) = PcLnTab::parse(&region[at..]) {
                    return Some(t);
                }
            }
            pos = at + 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_118(names: &[&str]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&MAGIC_120.to_le_bytes());
        t.extend_from_slice(&[0, 0, 1, 8]);
        let header_len = 8 + 8 * 8;
        let blob: Vec<u8> = names.iter().flat_map(|n| n.bytes().chain([0])).collect();
        let words = [
            names.len() as u64,
            0,
            0,
            header_len,
            header_len + blob.len() as u64,
            header_len + blob.len() as u64,
            header_len + blob.len() as u64,
            header_len + blob.len() as u64,
        ];
        for w in words {
            t.extend_from_slice(&w.to_le_bytes());
        }
        t.extend_from_slice(&blob);
        t
    }

    #[test]
    fn reads_names_from_a_118_table() {
        let data = table_118(&["main.main", "crypto/sha256.Sum256"]);
        let t = PcLnTab::parse(&data).expect("parses");
        let mut seen = Vec::new();
        t.for_each_name(|n| seen.push(String::from_utf8_lossy(n).into_owned()));
        assert_eq!(seen, vec!["main.main", "crypto/sha256.Sum256"]);
    }

    #[test]
    fn a_go12_table_with_huge_offsets_does_not_overflow() {
        let mut t = MAGIC_12.to_le_bytes().to_vec();
        t.extend_from_slice(&[0, 0, 1, 8]);
        t.extend_from_slice(&1u64.to_le_bytes()); // nfunc
        t.extend_from_slice(&0u64.to_le_bytes()); // pc
        t.extend_from_slice(&u64::MAX.to_le_bytes()); // funcoff
        t.extend_from_slice(&[0u8; 32]);
        let table = PcLnTab::parse(&t).expect("header parses");
        let mut n = 0;
        table.for_each_name(|_| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn a_huge_claim_is_rejected() {
        let mut data = table_118(&["main.main"]);
        data[8 + 4 * 8..8 + 5 * 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(PcLnTab::parse(&data).is_none());
        let mut old = Vec::new();
        old.extend_from_slice(&MAGIC_12.to_le_bytes());
        old.extend_from_slice(&[0, 0, 1, 8]);
        old.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(PcLnTab::parse(&old).is_none());
    }
}
