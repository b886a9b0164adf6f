//! The member names of a zip archive (a jar), read from its central directory only: the end
//! of the file and the directory, never the members themselves.

use std::io::{Read, Seek, SeekFrom};

const EOCD: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD: &[u8; 4] = b"PK\x06\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
/// The end record plus the longest comment.
const TAIL: u64 = 22 + 65_535;
const MAX_DIRECTORY: u64 = 64 << 20;

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_le_bytes(
        b.get(at..at + 4)?.try_into().ok()?,
    )))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// `(size, offset)` of the central directory an end record at `tail[at]` points to, when a
/// central directory header is really there.
fn directory_of(
    file: &mut (impl Read + Seek),
    tail: &[u8],
    at: usize,
    len: u64,
) -> Option<(u64, u64)> {
    let (mut size, mut offset) = (u32_at(tail, at + 12)?, u32_at(tail, at + 16)?);
    if size == 0xffff_ffff || offset == 0xffff_ffff {
        // Zip64: the locator sits just before the end record.
        let loc = at.checked_sub(20)?;
        (tail.get(loc..loc + 4)? == ZIP64_LOCATOR).then_some(())?;
        let record_at = u64_at(tail, loc + 8)?;
        file.seek(SeekFrom::Start(record_at)).ok()?;
        let mut record = [0u8; 56];
        file.read_exact(&mut record).ok()?;
        (&record[..4] == ZIP64_EOCD).then_some(())?;
        size = u64_at(&record, 40)?;
        offset = u64_at(&record, 48)?;
    }
    if size > MAX_DIRECTORY || offset.checked_add(size)? > len {
        return None;
    }
    if size > 0 {
        let mut sig = [0u8; 4];
        file.seek(SeekFrom::Start(offset)).ok()?;
        file.read_exact(&mut sig).ok()?;
        (&sig == CENTRAL).then_some(())?;
    }
    Some((size, offset))
}

/// Member names, or `None` when the file is not a readable zip.
pub(crate) fn names(file: &mut (impl Read + Seek)) -> Option<Vec<String>> {
    let len = file.seek(SeekFrom::End(0)).ok()?;
    let tail_start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(tail_start)).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    // The end record whose comment reaches the end of the file, as the JDK reads it (a fake
    // one can hide in a comment); else the last one whose directory really is there.
    let candidates: Vec<usize> = (0..tail.len().saturating_sub(3))
        .rev()
        .filter(|&i| &tail[i..i + 4] == EOCD)
        .collect();
    // Earliest first: a fake record inside the real one's comment comes after it.
    let exact = candidates.iter().rev().copied().filter(|&at| {
        u16_at(&tail, at + 20).is_some_and(|c| at as u64 + 22 + c == tail.len() as u64)
    });
    let (size, offset) = exact
        .chain(candidates.iter().copied())
        .find_map(|at| directory_of(file, &tail, at, len))?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut dir = Vec::new();
    file.take(size).read_to_end(&mut dir).ok()?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while dir.get(pos..pos + 4) == Some(CENTRAL) {
        let name_len = u16_at(&dir, pos + 28)? as usize;
        let extra = u16_at(&dir, pos + 30)? as usize;
        let comment = u16_at(&dir, pos + 32)? as usize;
        let name = dir.get(pos + 46..pos + 46 + name_len)?;
        out.push(String::from_utf8_lossy(name).into_owned());
        pos += 46 + name_len + extra + comment;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip written by hand: local headers, central directory, end.
    pub(crate) fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for n in names {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[
                20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]);
            out.extend_from_slice(&(n.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(n.as_bytes());
            central.extend_from_slice(CENTRAL);
            central.extend_from_slice(&[
                20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]);
            central.extend_from_slice(&(n.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(n.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(EOCD);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn lists_members_and_refuses_garbage() {
        let zip = zip_of(&[
            "META-INF/MANIFEST.MF",
            "BOOT-INF/lib/bcprov-jdk18on-1.78.jar",
        ]);
        let got = names(&mut std::io::Cursor::new(zip)).expect("zip");
        assert_eq!(
            got,
            vec![
                "META-INF/MANIFEST.MF",
                "BOOT-INF/lib/bcprov-jdk18on-1.78.jar"
            ]
        );
        assert_eq!(
            names(&mut std::io::Cursor::new(b"not a zip".to_vec())),
            None
        );
        // A fake end record hidden in the real one's comment, pointing at no members.
        let mut hidden = zip_of(&["BOOT-INF/lib/bcprov-jdk18on-1.78.jar"]);
        let mut fake = EOCD.to_vec();
        fake.extend_from_slice(&[0u8; 18]);
        let n = hidden.len();
        hidden[n - 2..].copy_from_slice(&(fake.len() as u16).to_le_bytes());
        hidden.extend_from_slice(&fake);
        let got = names(&mut std::io::Cursor::new(hidden)).expect("zip");
        assert_eq!(got, vec!["BOOT-INF/lib/bcprov-jdk18on-1.78.jar"]);
        let mut lying = zip_of(&["a"]);
        let n = lying.len();
        lying[n - 6..n - 2].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(names(&mut std::io::Cursor::new(lying)), None);
    }
}
