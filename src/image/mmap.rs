//! The one place that maps files: a binary is read once, through the page cache, and only
//! the pages the inspector touches are faulted in.
#![allow(unsafe_code)]

use std::ops::Deref;
use std::path::Path;

/// A read-only view of a whole file.
pub enum Mapped {
    Map(memmap2::Mmap),
    /// Zero-length files cannot be mapped.
    Empty,
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m,
            Mapped::Empty => &[],
        }
    }
}

/// Maps a regular file (anything else is refused unopened: see `regular_file`).
pub fn map_file(path: &Path) -> std::io::Result<Mapped> {
    let file = super::regular_file::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(Mapped::Empty);
    }
    // SAFETY: the map is read-only and private to this process. If another process truncates
    // the file while it is mapped, reads past the new end fault (SIGBUS); scanned files are
    // image layers or container root filesystems that are not written during a scan.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Mapped::Map(map))
}
