//! Synthetic ELF files written with the `object` crate, for toolchains CI cannot install
//! (Microsoft Go, Red Hat golang-fips, Chainguard) and for provider stand-ins. They carry the
//! exact build-info settings and function names the Go rules read; tests name them `synthetic-*`.

use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

const BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const PCLNTAB_MAGIC_120: u32 = 0xffff_fff1;
/// A few of the runtime functions every Go binary carries.
const RUNTIME_FUNCTIONS: &[&str] = &["runtime.rt0_go", "runtime.main", "runtime.goexit"];

/// A Go binary as the linker would lay out its build info and function names.
#[derive(Debug, Clone, Default)]
pub struct GoElf {
    pub go_version: String,
    pub settings: Vec<(String, String)>,
    pub functions: Vec<String>,
    /// Extra `.symtab` entries (C symbols from cgo or a linked syso).
    pub symbols: Vec<String>,
    pub rodata: Vec<u8>,
}

impl GoElf {
    pub fn new(go_version: &str) -> Self {
        GoElf {
            go_version: go_version.into(),
            ..Default::default()
        }
    }

    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    pub fn functions(mut self, names: &[&str]) -> Self {
        self.functions.extend(names.iter().map(|s| s.to_string()));
        self
    }

    pub fn symbols(mut self, names: &[&str]) -> Self {
        self.symbols.extend(names.iter().map(|s| s.to_string()));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let buildinfo = obj.add_section(Vec::new(), b".go.buildinfo".to_vec(), SectionKind::Data);
        obj.append_section_data(buildinfo, &self.buildinfo(), 16);
        let pclntab = obj.add_section(
            Vec::new(),
            b".gopclntab".to_vec(),
            SectionKind::ReadOnlyData,
        );
        // Every Go program links the runtime: its functions come first, as the linker lays them.
        let mut functions: Vec<String> = RUNTIME_FUNCTIONS.iter().map(|f| f.to_string()).collect();
        functions.extend(self.functions.iter().cloned());
        obj.append_section_data(pclntab, &pclntab_bytes(&functions), 8);
        if !self.rodata.is_empty() {
            let rodata = obj.section_id(StandardSection::ReadOnlyData);
            obj.append_section_data(rodata, &self.rodata, 1);
        }
        add_symbols(&mut obj, &self.symbols);
        obj.write().expect("write synthetic ELF")
    }

    fn buildinfo(&self) -> Vec<u8> {
        let mut out = BUILDINFO_MAGIC.to_vec();
        out.push(8); // pointer size
        out.push(2); // inline strings, little-endian
        out.resize(32, 0);
        let mut modinfo =
            String::from("path\texample.com/synthetic\nmod\texample.com/synthetic\t(devel)\t\n");
        for (k, v) in &self.settings {
            let v = if v.contains(' ') {
                format!("{v:?}")
            } else {
                v.clone()
            };
            modinfo.push_str(&format!("build\t{k}={v}\n"));
        }
        let mut framed = vec![0x30u8; 16];
        framed.extend_from_slice(modinfo.as_bytes());
        framed.extend_from_slice(&[0xf9u8; 16]);
        // The reader cuts the sentinels when byte len-17 is the newline that ends modinfo.
        put_string(&mut out, self.go_version.as_bytes());
        put_string(&mut out, &framed);
        out
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(s);
}

/// A Go 1.20+ pclntab holding only a header and the function-name table.
pub fn pclntab_bytes(names: &[String]) -> Vec<u8> {
    let mut t = PCLNTAB_MAGIC_120.to_le_bytes().to_vec();
    t.extend_from_slice(&[0, 0, 1, 8]);
    let header_len = 8 + 8 * 8u64;
    let blob: Vec<u8> = names.iter().flat_map(|n| n.bytes().chain([0])).collect();
    let end = header_len + blob.len() as u64;
    for w in [names.len() as u64, 0, 0, header_len, end, end, end, end] {
        t.extend_from_slice(&w.to_le_bytes());
    }
    t.extend_from_slice(&blob);
    t
}

fn add_symbols(obj: &mut Object<'_>, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &[0xc3; 16], 16);
    for name in names {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 1,
            kind: SymbolKind::Text,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    }
}

/// A non-Go ELF with the given read-only strings and defined symbols (e.g. an OpenSSL FIPS
/// provider stand-in).
pub fn plain_elf(rodata: &[&[u8]], symbols: &[&str]) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let section = obj.section_id(StandardSection::ReadOnlyData);
    for s in rodata {
        obj.append_section_data(section, s, 1);
        obj.append_section_data(section, &[0], 1);
    }
    let names: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    add_symbols(&mut obj, &names);
    obj.write().expect("write synthetic ELF")
}
