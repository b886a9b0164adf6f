//! Judges one ELF file by FIPS-RULES.md: bytes in, findings out. Pure: no files, no network,
//! no clock.

mod elf;
pub mod findings;
mod go_buildinfo;
mod go_pclntab;
mod go_rules;
pub mod module_registry;
mod native_rules;
mod own_crypto;
mod rust_crates;
pub mod verdict;

pub use findings::{Activation, Findings, ModuleRoute, Reader, Role, Unread};
pub use module_registry::{Day, ModuleRegistry, Validation};
pub(crate) use native_rules::{apply_needed, classify_needed, NeededKind};
pub use verdict::{judge, registry_module, BinaryVerdict, Module, Verdict};

/// True when a file name is a crypto library judged as a module (FIPS-RULES §2).
pub fn classify_module_name(file_name: &str) -> bool {
    native_rules::module_library(file_name).is_some()
}

/// The `OpenSSL x.y.z` (or `LibreSSL x.y.z`) version string a crypto library carries.
pub fn openssl_library_version(data: &[u8]) -> Option<String> {
    native_rules::library_version(data)
}

/// Bytes at the start of every ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    elf::is_elf(data)
}

/// Analyses one ELF file. `file_name` is its base name (crypto libraries are judged as
/// modules, FIPS-RULES §2). Never panics on bad input: what cannot be read is `unknown`.
pub fn analyze(data: &[u8], file_name: &str) -> Findings {
    if data.is_empty() {
        return Findings::unreadable(Reader::File, "empty file");
    }
    let view = match elf::ElfView::parse(data) {
        Ok(v) => v,
        Err(e) => return Findings::unreadable(Reader::Elf, e.to_string()),
    };
    if let Some(why) = view.packed() {
        return Findings::unreadable(Reader::Elf, why);
    }
    let mut f = Findings {
        needed: view
            .needed
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
        runpath: view
            .runpath
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
        ..Findings::default()
    };
    let build_info = match go_buildinfo::read(&view) {
        Ok(info) => info,
        Err(e) => return Findings::unreadable(Reader::GoBuildinfo, e),
    };
    // A Go binary: build info, a section named for the pclntab, or a pclntab header at the
    // start of any section (whatever a linker named it).
    let pclntab_section = view.sections.iter().any(|s| {
        s.name.ends_with(b".gopclntab") || go_pclntab::PcLnTab::header_at(view.section_data(s))
    });
    f.is_go = build_info.is_some() || pclntab_section;
    if f.is_go {
        match go_rules::collect_names(&view, &mut f) {
            Ok(names) => go_rules::judge(build_info.as_ref(), &names, &mut f),
            // Unknown, unless the native rules below find crypto outside a module (a static
            // OpenSSL, say): that is not FIPS-capable whatever the Go side holds.
            Err(why) => f.cannot_judge(Reader::GoFunctionTable, format!("Go binary: {why}")),
        }
    } else if let Some(at) = go_buildinfo::stray_magic(data) {
        // Build info where the Go linker never puts it (not 16-byte aligned, or outside the
        // writable data): a Go program whose layout this reader does not know, or a file
        // made to look like one. Either way its Go side was not read.
        f.cannot_judge(
            Reader::GoBuildinfo,
            format!(
                "Go build info magic at file offset {at:#x}, where no Go linker this reader \
                 knows puts it: the Go side of the file was not read"
            ),
        );
    }
    native_rules::judge(&view, file_name, f.is_go, &mut f);
    f
}

#[cfg(test)]
mod tests;

/// Entry points for the fuzz targets in `fuzz/`: the parsers on raw bytes.
#[doc(hidden)]
pub mod fuzzing {
    use super::{elf, go_buildinfo, go_pclntab, Findings};

    /// Fail closed: a file that carries Go's marks (a build info header anywhere, a section
    /// named for the pclntab or starting with its header) is `no-crypto` only when its
    /// function table was read and named the runtime. `Some` says how the property broke.
    pub fn fail_closed_violation(data: &[u8], f: &Findings) -> Option<String> {
        let judged_no_crypto = !f.has_crypto() && f.unknown.is_none();
        if !judged_no_crypto {
            return None;
        }
        let section_mark = elf::ElfView::parse(data).ok().is_some_and(|view| {
            view.sections.iter().any(|s| {
                s.name.ends_with(b".gopclntab")
                    || go_pclntab::PcLnTab::header_at(view.section_data(s))
            })
        });
        let marked = section_mark || go_buildinfo::stray_magic(data).is_some();
        let read = f.evidence.iter().any(|e| {
            e.contains(" runtime functions named, no crypto package") && !e.contains(": 0 runtime")
        });
        (marked && !read).then(|| format!("no-crypto from a file with Go marks: {f:?}"))
    }

    /// Parses `data` as a pclntab and counts its function names.
    pub fn pclntab_names(data: &[u8]) -> usize {
        let mut n = 0;
        if let Some(t) = super::go_pclntab::PcLnTab::parse_bytes(data) {
            t.for_each_name(|_| n += 1);
        }
        n
    }

    /// Parses `data` as Go modinfo text.
    pub fn modinfo(data: &[u8]) -> usize {
        super::go_buildinfo::parse_modinfo(&String::from_utf8_lossy(data))
            .settings
            .len()
    }
}
