//! Go build information (`.go.buildinfo`), parsed natively: golang/go
//! `src/debug/buildinfo/buildinfo.go` and `src/runtime/debug/mod.go`.

use super::elf::ElfView;

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE: u8 = 2;
/// Longest version or modinfo string we accept: far above anything a linker writes.
const MAX_STRING: u64 = 16 << 20;

/// What buildinfo says about a Go binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GoBuildInfo {
    /// `go1.19.8 X:boringcrypto` as written.
    pub go_version: String,
    pub path: Option<String>,
    /// `build KEY=VALUE` settings in order, values unquoted.
    pub settings: Vec<(String, String)>,
    /// Module paths from `mod` and `dep` lines.
    pub deps: Vec<String>,
}

impl GoBuildInfo {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `X:a,b` experiments in the version string.
    pub fn version_experiments(&self) -> Vec<&str> {
        self.go_version
            .split_whitespace()
            .find_map(|w| w.strip_prefix("X:"))
            .map(|x| x.split(',').collect())
            .unwrap_or_default()
    }

    /// Comma-separated items of a setting (`-tags`, `GOEXPERIMENT`, `DefaultGODEBUG`).
    pub fn list(&self, key: &str) -> Vec<&str> {
        self.setting(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `(major, minor)` of the toolchain, from `go1.N[.P]`.
    pub fn go_minor(&self) -> Option<(u32, u32)> {
        let v = self.go_version.strip_prefix("go")?;
        let v = v
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?;
        let mut parts = v.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }
}

/// Finds and parses build info. `Ok(None)`: no buildinfo header (not a Go binary, or a
/// toolchain that writes none). `Err`: a header was found but is corrupt.
pub(crate) fn read(elf: &ElfView<'_>) -> Result<Option<GoBuildInfo>, String> {
    let (region, base) = match elf.section(".go.buildinfo") {
        Some(s) => (elf.section_data(s), 0usize),
        None => match find_in_segments(elf) {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let Some(at) = find_magic(region, base) else {
        return Ok(None);
    };
    parse_at(elf, &region[at..]).map(Some)
}

/// The first writable, non-executable `PT_LOAD` that holds the magic.
fn find_in_segments<'a>(elf: &ElfView<'a>) -> Option<(&'a [u8], usize)> {
    elf.segments
        .iter()
        .filter(|s| s.is_load() && s.writable() && !s.executable())
        .map(|s| (elf.segment_data(s), (s.vaddr % 16) as usize))
        .find(|(data, base)| find_magic(data, *base).is_some())
}

/// Offset of the magic at a 16-byte-aligned address (`base` = address mod 16 of `region[0]`).
fn find_magic(region: &[u8], base: usize) -> Option<usize> {
    let mut pos = 0;
    while let Some(i) = memchr::memmem::find(&region[pos..], MAGIC) {
        let at = pos + i;
        if (at + base).is_multiple_of(16) {
            return Some(at);
        }
        pos = at + 1;
    }
    None
}

/// File offset of a build info header anywhere in `data` (magic, a pointer size of 4 or 8,
/// known flags), for files where `read` found none where the Go linker puts it. The search
/// skips the magic's first byte: memchr ranks 0xff as rare (it is, in text), but machine code
/// is full of it, and a search led by it runs several times slower over a binary.
pub(crate) fn stray_magic(data: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(data, &MAGIC[1..])
        .filter_map(|at| at.checked_sub(1))
        .find(|&at| {
            data[at] == MAGIC[0]
                && matches!(data.get(at + 14), Some(4 | 8))
                && data
                    .get(at + 15)
                    .is_some_and(|f| f & !(FLAG_BIG_ENDIAN | FLAG_INLINE) == 0)
        })
}

fn parse_at(elf: &ElfView<'_>, data: &[u8]) -> Result<GoBuildInfo, String> {
    if data.len() < HEADER_LEN {
        return Err("buildinfo: header truncated".into());
    }
    let ptr_size = data[14] as usize;
    let flags = data[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let mut rest = &data[HEADER_LEN..];
        let version = read_varint_string(&mut rest).ok_or("buildinfo: bad version varint")?;
        let modinfo = read_varint_string(&mut rest).ok_or("buildinfo: bad modinfo varint")?;
        (version, modinfo)
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("buildinfo: pointer size {ptr_size}"));
        }
        let big = flags & FLAG_BIG_ENDIAN != 0;
        let version = read_go_string(elf, read_uint(&data[16..], ptr_size, big), ptr_size, big)?;
        let modinfo = read_go_string(
            elf,
            read_uint(&data[16 + ptr_size..], ptr_size, big),
            ptr_size,
            big,
        )?;
        (version, modinfo)
    };
    let mut info = parse_modinfo(&strip_sentinels(modinfo));
    info.go_version = String::from_utf8_lossy(version).into_owned();
    Ok(info)
}

fn read_uint(b: &[u8], size: usize, big: bool) -> u64 {
    let mut v = 0u64;
    for i in 0..size.min(b.len()) {
        let byte = if big { b[i] } else { b[size - 1 - i] };
        v = (v << 8) | u64::from(byte);
    }
    v
}

/// A Go string header `{ptr, len}` at a virtual address (pre-1.18 buildinfo).
fn read_go_string<'a>(
    elf: &ElfView<'a>,
    addr: u64,
    ptr_size: usize,
    big: bool,
) -> Result<&'a [u8], String> {
    let header = elf
        .vaddr_to_offset(addr)
        .and_then(|o| elf.data.get(o as usize..o as usize + 2 * ptr_size))
        .ok_or("buildinfo: string header outside the file")?;
    let ptr = read_uint(header, ptr_size, big);
    let len = read_uint(&header[ptr_size..], ptr_size, big);
    if len > MAX_STRING {
        return Err(format!("buildinfo: string length {len} is implausible"));
    }
    elf.vaddr_to_offset(ptr)
        .and_then(|o| elf.data.get(o as usize..(o + len) as usize))
        .ok_or_else(|| "buildinfo: string data outside the file".into())
}

fn read_uvarint(data: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&b, rest) = data.split_first()?;
        *data = rest;
        if i == 9 && b > 1 {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(value);
        }
    }
    None
}

fn read_varint_string<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = read_uvarint(data)?;
    if len > MAX_STRING || len as usize > data.len() {
        return None;
    }
    let (s, rest) = data.split_at(len as usize);
    *data = rest;
    Some(s)
}

/// Modinfo is framed by 16-byte sentinels (`rsc/goversion` `version/read.go`).
fn strip_sentinels(mod_info: &[u8]) -> String {
    let n = mod_info.len();
    let inner = if n >= 33 && mod_info[n - 17] == b'\n' {
        &mod_info[16..n - 16]
    } else {
        mod_info
    };
    String::from_utf8_lossy(inner).into_owned()
}

pub(crate) fn parse_modinfo(text: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo::default();
    for line in text.lines() {
        let mut fields = line.splitn(2, '\t');
        let (Some(kind), Some(rest)) = (fields.next(), fields.next()) else {
            continue;
        };
        match kind {
            "path" => info.path = Some(rest.to_string()),
            "mod" | "dep" => {
                if let Some(p) = rest.split('\t').next() {
                    info.deps.push(p.to_string());
                }
            }
            "build" => {
                if let Some((k, v)) = split_setting(rest) {
                    info.settings.push((k, v));
                }
            }
            _ => {}
        }
    }
    info
}

/// `KEY=VALUE` where either side may be Go-quoted (`-ldflags="-s -w"`).
fn split_setting(s: &str) -> Option<(String, String)> {
    let (key, rest) = if s.starts_with('"') {
        let (k, used) = unquote_prefix(s)?;
        (k, s.get(used..)?.strip_prefix('=')?)
    } else {
        let (k, v) = s.split_once('=')?;
        (k.to_string(), v)
    };
    let value = if rest.starts_with('"') {
        unquote_prefix(rest)
            .map(|(v, _)| v)
            .unwrap_or_else(|| rest.to_string())
    } else {
        rest.to_string()
    };
    Some((key, value))
}

/// Unquotes a leading Go string literal; returns it and the bytes consumed.
fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'x' => {
                    let hex: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                    out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings_with_quotes() {
        let info = parse_modinfo(
            "path\tex.com/app\nmod\tex.com/app\t(devel)\t\ndep\tgolang.org/x/crypto\tv0.1.0\th1:x\nbuild\t-ldflags=\"-s -w\"\nbuild\tGOFIPS140=v1.0.0-c2097c7c\nbuild\tDefaultGODEBUG=fips140=on,tlsmlkem=0\n",
        );
        assert_eq!(info.path.as_deref(), Some("ex.com/app"));
        assert_eq!(info.setting("-ldflags"), Some("-s -w"));
        assert_eq!(info.setting("GOFIPS140"), Some("v1.0.0-c2097c7c"));
        assert_eq!(
            info.list("DefaultGODEBUG"),
            vec!["fips140=on", "tlsmlkem=0"]
        );
        assert_eq!(info.deps, vec!["ex.com/app", "golang.org/x/crypto"]);
    }

    #[test]
    fn version_experiments_and_minor() {
        let info = GoBuildInfo {
            go_version: "go1.21.9 (Red Hat 1.21.9-1.el9) X:strictfipsruntime,boringcrypto".into(),
            ..Default::default()
        };
        assert_eq!(
            info.version_experiments(),
            vec!["strictfipsruntime", "boringcrypto"]
        );
        assert_eq!(info.go_minor(), Some((1, 21)));
    }

    #[test]
    fn bogus_varints_are_errors_not_panics() {
        let mut data: &[u8] = &[0xff; 12];
        assert_eq!(read_uvarint(&mut data), None);
        let mut data: &[u8] = &[0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(read_varint_string(&mut data), None);
    }

    #[test]
    fn sentinels_are_cut() {
        let mut raw = b"3077af0c9274080241e1c107e6d618e6"[..16].to_vec();
        raw.extend_from_slice(b"path\tx\n");
        raw.extend_from_slice(&b"f932433186182072008242104116d8f2"[..16]);
        // n - 17 must be the newline.
        assert_eq!(strip_sentinels(&raw), "path\tx\n");
    }
}
