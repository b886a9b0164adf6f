//! A read-only view of one ELF file: headers, segments, sections, dynamic entries and symbols.
//! Everything is borrowed from the mapped bytes; nothing is copied but the small tables.

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader, Sym};
use object::Endianness;

/// Machines whose binaries the rules cover. Others are judged `unknown`.
const SUPPORTED_MACHINES: &[(u16, &str)] = &[
    (elf::EM_X86_64, "x86_64"),
    (elf::EM_AARCH64, "aarch64"),
    (elf::EM_386, "i386"),
    (elf::EM_ARM, "arm"),
    (elf::EM_PPC64, "ppc64"),
    (elf::EM_S390, "s390x"),
    (elf::EM_RISCV, "riscv64"),
    (elf::EM_LOONGARCH, "loongarch64"),
    (elf::EM_MIPS, "mips"),
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub vaddr: u64,
}

impl Segment {
    pub fn is_load(&self) -> bool {
        self.p_type == elf::PT_LOAD
    }
    pub fn writable(&self) -> bool {
        self.flags & elf::PF_W != 0
    }
    pub fn executable(&self) -> bool {
        self.flags & elf::PF_X != 0
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Section<'a> {
    pub name: &'a [u8],
    pub sh_type: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
}

impl Section<'_> {
    pub fn has_file_data(&self) -> bool {
        self.sh_type != elf::SHT_NOBITS && self.sh_type != elf::SHT_NULL
    }
}

/// One symbol name and whether the file defines it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SymbolName<'a> {
    pub name: &'a [u8],
    pub defined: bool,
}

#[derive(Debug)]
pub(crate) struct ElfView<'a> {
    pub data: &'a [u8],
    pub machine: &'static str,
    pub segments: Vec<Segment>,
    pub sections: Vec<Section<'a>>,
    pub interp: Option<&'a [u8]>,
    pub has_dynamic: bool,
    pub needed: Vec<&'a [u8]>,
    pub runpath: Vec<&'a [u8]>,
    pub soname: Option<&'a [u8]>,
    pub flags_1: u64,
    /// `.symtab` then `.dynsym` entries with a name.
    pub symbols: Vec<SymbolName<'a>>,
    pub has_symtab: bool,
    /// Addresses from `PT_DYNAMIC`, for reading `.dynsym` when there are no section headers.
    dyn_tables: DynTables,
}

#[derive(Debug, Default, Clone, Copy)]
struct DynTables {
    symtab: Option<u64>,
    strtab: Option<u64>,
    hash: Option<u64>,
    gnu_hash: Option<u64>,
}

/// Why a file could not be read as ELF. The message becomes `unknown` evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("elf: {0}")]
pub(crate) struct ElfError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ElfError> {
    Err(ElfError(msg.into()))
}

/// True when the bytes start with the ELF magic.
pub(crate) fn is_elf(data: &[u8]) -> bool {
    data.starts_with(&elf::ELFMAG)
}

impl<'a> ElfView<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        if !is_elf(data) {
            return err("not an ELF file");
        }
        if data.len() < 16 {
            return err("truncated identification header");
        }
        match data[4] {
            elf::ELFCLASS64 => Self::parse_with::<FileHeader64<Endianness>>(data),
            elf::ELFCLASS32 => Self::parse_with::<FileHeader32<Endianness>>(data),
            other => err(format!("unsupported ELF class {other}")),
        }
    }

    fn parse_with<H: FileHeader<Endian = Endianness>>(data: &'a [u8]) -> Result<Self, ElfError> {
        let header = H::parse(data).map_err(|e| ElfError(format!("header: {e}")))?;
        let endian = header
            .endian()
            .map_err(|e| ElfError(format!("header: {e}")))?;
        let machine_id = header.e_machine(endian);
        let Some(&(_, machine)) = SUPPORTED_MACHINES.iter().find(|(m, _)| *m == machine_id) else {
            return err(format!("unsupported machine {machine_id}"));
        };
        let file_len = data.len() as u64;

        let phdrs = header
            .program_headers(endian, data)
            .map_err(|e| ElfError(format!("program headers past end of file ({e})")))?;
        let mut view = ElfView {
            data,
            machine,
            segments: Vec::with_capacity(phdrs.len()),
            sections: Vec::new(),
            interp: None,
            has_dynamic: false,
            needed: Vec::new(),
            runpath: Vec::new(),
            soname: None,
            flags_1: 0,
            symbols: Vec::new(),
            has_symtab: false,
            dyn_tables: DynTables::default(),
        };
        let mut dynamic = None;
        for ph in phdrs {
            let seg = Segment {
                p_type: ph.p_type(endian),
                flags: ph.p_flags(endian),
                offset: ph.p_offset(endian).into(),
                filesz: ph.p_filesz(endian).into(),
                memsz: ph.p_memsz(endian).into(),
                vaddr: ph.p_vaddr(endian).into(),
            };
            if seg.p_type != elf::PT_NULL && seg.offset.saturating_add(seg.filesz) > file_len {
                return err(format!(
                    "segment at offset {:#x} with size {:#x} runs past the end of the file ({file_len:#x} bytes): truncated",
                    seg.offset, seg.filesz
                ));
            }
            if seg.p_type == elf::PT_INTERP {
                view.interp = ph
                    .interpreter(endian, data)
                    .map_err(|e| ElfError(format!("PT_INTERP: {e}")))?;
            }
            if seg.p_type == elf::PT_DYNAMIC {
                dynamic = ph
                    .dynamic(endian, data)
                    .map_err(|e| ElfError(format!("PT_DYNAMIC: {e}")))?;
            }
            view.segments.push(seg);
        }

        let sections = header
            .sections(endian, data)
            .map_err(|e| ElfError(format!("section headers: {e}")))?;
        for sh in sections.iter() {
            let name = sections.section_name(endian, sh).unwrap_or(b"");
            let section = Section {
                name,
                sh_type: sh.sh_type(endian),
                flags: sh.sh_flags(endian).into(),
                offset: sh.sh_offset(endian).into(),
                size: sh.sh_size(endian).into(),
            };
            if section.flags & u64::from(elf::SHF_COMPRESSED) != 0 && !is_debug_section(name) {
                return err(format!(
                    "section {} is compressed (SHF_COMPRESSED): its bytes cannot be searched",
                    String::from_utf8_lossy(name)
                ));
            }
            if section.has_file_data() && section.offset.saturating_add(section.size) > file_len {
                return err(format!(
                    "section {} at offset {:#x} with size {:#x} runs past the end of the file ({file_len:#x} bytes)",
                    String::from_utf8_lossy(name),
                    section.offset,
                    section.size
                ));
            }
            view.sections.push(section);
        }
        view.check_overlaps()?;

        if let Some(dynamic) = dynamic {
            view.has_dynamic = true;
            view.read_dynamic::<H>(endian, dynamic)?;
            if !view.sections.iter().any(|s| s.sh_type == elf::SHT_DYNSYM) {
                view.read_dynsym_from_dynamic(endian == Endianness::Big, header.is_type_64());
            }
        }
        for kind in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
            let table = sections
                .symbols(endian, data, kind)
                .map_err(|e| ElfError(format!("symbol table: {e}")))?;
            if kind == elf::SHT_SYMTAB && !table.is_empty() {
                view.has_symtab = true;
            }
            let strings = table.strings();
            for sym in table.iter() {
                let Ok(name) = sym.name(endian, strings) else {
                    continue;
                };
                if name.is_empty() {
                    continue;
                }
                let defined = sym.st_shndx(endian) != elf::SHN_UNDEF;
                view.symbols.push(SymbolName { name, defined });
            }
        }
        Ok(view)
    }

    fn read_dynamic<H: FileHeader<Endian = Endianness>>(
        &mut self,
        endian: Endianness,
        dynamic: &[H::Dyn],
    ) -> Result<(), ElfError> {
        let mut strtab = None;
        let mut needed = Vec::new();
        let mut runpath = Vec::new();
        let mut soname = None;
        for d in dynamic {
            let tag: u64 = d.d_tag(endian).into();
            let val: u64 = d.d_val(endian).into();
            match tag as u32 {
                elf::DT_NULL if tag == 0 => break,
                elf::DT_SYMTAB => self.dyn_tables.symtab = Some(val),
                elf::DT_HASH => self.dyn_tables.hash = Some(val),
                elf::DT_GNU_HASH => self.dyn_tables.gnu_hash = Some(val),
                elf::DT_STRTAB => {
                    strtab = Some(val);
                    self.dyn_tables.strtab = Some(val);
                }
                elf::DT_NEEDED => needed.push(val),
                elf::DT_RUNPATH | elf::DT_RPATH => runpath.push(val),
                elf::DT_SONAME => soname = Some(val),
                elf::DT_FLAGS_1 => self.flags_1 = val,
                _ => {}
            }
        }
        if needed.is_empty() && runpath.is_empty() && soname.is_none() {
            return Ok(());
        }
        let Some(strtab) = strtab.and_then(|addr| self.vaddr_to_offset(addr)) else {
            return err("PT_DYNAMIC has no usable DT_STRTAB");
        };
        let strings = &self.data[strtab as usize..];
        let string_at = |off: u64| -> Result<&'a [u8], ElfError> {
            let start = usize::try_from(off).unwrap_or(usize::MAX);
            let tail = self.data[strtab as usize..]
                .get(start..)
                .ok_or_else(|| ElfError("dynamic string offset past the end of the file".into()))?;
            let end = memchr::memchr(0, tail)
                .ok_or_else(|| ElfError("unterminated dynamic string".into()))?;
            Ok(&tail[..end])
        };
        let _ = strings;
        for off in needed {
            self.needed.push(string_at(off)?);
        }
        for off in runpath {
            self.runpath.push(string_at(off)?);
        }
        if let Some(off) = soname {
            self.soname = Some(string_at(off)?);
        }
        Ok(())
    }

    /// Without section headers, `.dynsym` is found through `DT_SYMTAB`/`DT_STRTAB`, its
    /// length through `DT_HASH` or `DT_GNU_HASH` (the loader's own way). Best effort: a table
    /// that does not hold up is skipped.
    fn read_dynsym_from_dynamic(&mut self, big: bool, is64: bool) {
        let t = self.dyn_tables;
        let (Some(symtab), Some(strtab)) = (
            t.symtab.and_then(|a| self.vaddr_to_offset(a)),
            t.strtab.and_then(|a| self.vaddr_to_offset(a)),
        ) else {
            return;
        };
        let count = t
            .hash
            .and_then(|a| self.vaddr_to_offset(a))
            .and_then(|o| self.read_u32(o + 4, big))
            .map(u64::from)
            .or_else(|| self.gnu_hash_count(t.gnu_hash?, big, is64));
        let Some(count) = count else { return };
        let entsize: u64 = if is64 { 24 } else { 16 };
        let count = count.min((self.data.len() as u64).saturating_sub(symtab) / entsize);
        let data = self.data;
        for i in 0..count {
            let at = symtab + i * entsize;
            let Some(name_off) = self.read_u32(at, big) else {
                break;
            };
            let shndx_at = if is64 { at + 6 } else { at + 14 };
            let Some(shndx) = self.read_u16(shndx_at, big) else {
                break;
            };
            let start = (strtab + u64::from(name_off)) as usize;
            let Some(tail) = data.get(start..) else {
                continue;
            };
            let end = memchr::memchr(0, tail).unwrap_or(0);
            if end > 0 {
                self.symbols.push(SymbolName {
                    name: &tail[..end],
                    defined: shndx != 0,
                });
            }
        }
    }

    /// Symbol count from a GNU hash table: one past the highest index its chains reach.
    fn gnu_hash_count(&self, addr: u64, big: bool, is64: bool) -> Option<u64> {
        let off = self.vaddr_to_offset(addr)?;
        let nbuckets = u64::from(self.read_u32(off, big)?);
        let symoffset = u64::from(self.read_u32(off + 4, big)?);
        let bloom = u64::from(self.read_u32(off + 8, big)?);
        let buckets = off + 16 + bloom * if is64 { 8 } else { 4 };
        let chains = buckets + nbuckets * 4;
        let mut last = 0u64;
        for b in 0..nbuckets.min(1 << 20) {
            last = last.max(u64::from(self.read_u32(buckets + b * 4, big)?));
        }
        if last < symoffset {
            return Some(symoffset);
        }
        for _ in 0..(1u64 << 24) {
            let chain = self.read_u32(chains + (last - symoffset) * 4, big)?;
            if chain & 1 == 1 {
                return Some(last + 1);
            }
            last += 1;
        }
        None
    }

    fn read_u32(&self, off: u64, big: bool) -> Option<u32> {
        let off = usize::try_from(off).ok()?;
        let b: [u8; 4] = self.data.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn read_u16(&self, off: u64, big: bool) -> Option<u16> {
        let off = usize::try_from(off).ok()?;
        let b: [u8; 2] = self.data.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    /// File offset of a virtual address inside a `PT_LOAD` segment's file image.
    pub fn vaddr_to_offset(&self, addr: u64) -> Option<u64> {
        self.segments.iter().filter(|s| s.is_load()).find_map(|s| {
            let rel = addr.checked_sub(s.vaddr)?;
            (rel < s.filesz).then(|| s.offset + rel)
        })
    }

    pub fn section(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name.as_bytes())
    }

    pub fn section_data(&self, section: &Section<'_>) -> &'a [u8] {
        if !section.has_file_data() {
            return &[];
        }
        // Bounds were checked in parse().
        &self.data[section.offset as usize..(section.offset + section.size) as usize]
    }

    pub fn segment_data(&self, segment: &Segment) -> &'a [u8] {
        &self.data[segment.offset as usize..(segment.offset + segment.filesz) as usize]
    }

    /// Data to search for strings and constants: allocated, non-executable sections with file
    /// data; without sections, every `PT_LOAD`. For Go binaries (`go`), only the read-only
    /// sections C code uses, not Go's own tables (pclntab, types, module data).
    pub fn data_regions(&self, go: bool) -> Vec<&'a [u8]> {
        let from_sections: Vec<&'a [u8]> = self
            .sections
            .iter()
            .filter(|s| {
                s.has_file_data()
                    && s.flags & u64::from(elf::SHF_ALLOC) != 0
                    && s.flags & u64::from(elf::SHF_EXECINSTR) == 0
                    && s.sh_type == elf::SHT_PROGBITS
                    && !(go && (s.flags & u64::from(elf::SHF_WRITE) != 0 || is_go_table(s.name)))
            })
            .map(|s| self.section_data(s))
            .collect();
        if !from_sections.is_empty() {
            return from_sections;
        }
        let from_segments: Vec<&'a [u8]> = self
            .segments
            .iter()
            .filter(|s| s.is_load())
            .map(|s| self.segment_data(s))
            .collect();
        if from_segments.is_empty() {
            vec![self.data]
        } else {
            from_segments
        }
    }
}

impl<'a> ElfView<'a> {
    /// Two sections whose file bytes overlap: no linker writes that, a file crafted to show
    /// one reader bytes that another reads differently does.
    fn check_overlaps(&self) -> Result<(), ElfError> {
        let mut spans: Vec<&Section<'a>> = self
            .sections
            .iter()
            .filter(|s| s.has_file_data() && s.size > 0)
            .collect();
        spans.sort_by_key(|s| (s.offset, s.size));
        for pair in spans.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.offset < a.offset + a.size {
                return err(format!(
                    "sections {} ({:#x}..{:#x}) and {} ({:#x}..{:#x}) overlap in the file",
                    String::from_utf8_lossy(a.name),
                    a.offset,
                    a.offset + a.size,
                    String::from_utf8_lossy(b.name),
                    b.offset,
                    b.offset + b.size
                ));
            }
        }
        Ok(())
    }

    /// Why the file looks packed (a stub that unpacks the real program at run time, so its
    /// bytes show nothing of it): UPX's `UPX!` mark in the first 4 KiB, or no section headers
    /// with segments that reserve far more memory than their file data fills, or that are
    /// writable and executable at once. Section-less files from `sstrip` have neither.
    pub fn packed(&self) -> Option<String> {
        const HINT: &str = "unpack it to judge it";
        let head = &self.data[..self.data.len().min(4096)];
        if memchr::memmem::find(head, b"UPX!").is_some() {
            return Some(format!(
                "packed with UPX (UPX! mark in the first 4 KiB): {HINT}"
            ));
        }
        if !self.sections.is_empty() {
            return None;
        }
        let loads = || self.segments.iter().filter(|s| s.is_load());
        if let Some(s) = loads().find(|s| s.writable() && s.executable()) {
            return Some(format!(
                "packed: no section headers and a writable, executable segment at {:#x} \
                 (the layout of a self-unpacking program): {HINT}",
                s.vaddr
            ));
        }
        let filesz: u64 = loads().map(|s| s.filesz).fold(0, u64::saturating_add);
        let memsz: u64 = loads().map(|s| s.memsz).fold(0, u64::saturating_add);
        (memsz > filesz.saturating_mul(PACKED_MEMORY_RATIO)).then(|| {
            format!(
                "packed: no section headers and segments that reserve {memsz:#x} bytes of \
                 memory for {filesz:#x} bytes of file data (a program unpacked at run time): {HINT}"
            )
        })
    }

    /// Executable sections' bytes (round constants compiled into instruction immediates).
    /// Empty for a file without sections: `data_regions` then covers its whole segments.
    pub fn code_regions(&self) -> Vec<&'a [u8]> {
        self.sections
            .iter()
            .filter(|s| {
                s.has_file_data()
                    && s.flags & u64::from(elf::SHF_ALLOC) != 0
                    && s.flags & u64::from(elf::SHF_EXECINSTR) != 0
                    && s.sh_type == elf::SHT_PROGBITS
            })
            .map(|s| self.section_data(s))
            .collect()
    }
}

/// How much more memory than file data a section-less file's segments may reserve before it
/// counts as packed (a packer reserves room for the unpacked program, several times the
/// compressed bytes).
const PACKED_MEMORY_RATIO: u64 = 4;

/// DWARF sections, which toolchains compress (`SHF_COMPRESSED`) and no rule reads.
fn is_debug_section(name: &[u8]) -> bool {
    name.starts_with(b".debug") || name.starts_with(b".zdebug")
}

/// Sections the Go linker fills with its own tables.
fn is_go_table(name: &[u8]) -> bool {
    name.starts_with(b".go")
        || name.starts_with(b".typelink")
        || name.starts_with(b".itablink")
        || name.starts_with(b".data.rel.ro.go")
        || name.starts_with(b".noptr")
}
