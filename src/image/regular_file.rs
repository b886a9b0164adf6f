//! Opening files of trees we do not control (scan targets, root filesystems, a container's
//! `/proc/<pid>/root`): only regular files are opened. The type is checked before opening (a
//! FIFO blocks `open`, `/dev/zero` never ends), the open itself is non-blocking (a file swapped
//! for a FIFO after the check cannot hang it) and the opened file is checked again.

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// A path that is there but is not a regular file.
#[derive(Debug, thiserror::Error)]
#[error("not a regular file ({kind})")]
pub struct NotRegular {
    pub kind: &'static str,
}

/// What a file is, in words: `fifo`, `device node`, `socket`, `directory`, `symlink`.
pub fn kind(ft: FileType) -> &'static str {
    if ft.is_file() {
        "regular file"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device node"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

fn check(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = kind(meta.file_type());
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegular { kind },
    ))
}

/// The `NotRegular` inside an error of this module, if that is what it is.
pub fn not_regular(e: &io::Error) -> Option<&NotRegular> {
    e.get_ref()?.downcast_ref::<NotRegular>()
}

/// Opens `path` (links followed) for reading, only when it is a regular file.
pub fn open(path: &Path) -> io::Result<File> {
    check(&std::fs::metadata(path)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    check(&file.metadata()?)?;
    Ok(file)
}

/// The whole content of a regular file.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The whole content of a regular file, as text (invalid UTF-8 replaced).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on another thread and fails the test if it does not return within 5 s.
    fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening did not return within 5 s (it blocked)")
    }

    #[test]
    fn only_regular_files_open_and_nothing_blocks() {
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils)");
        assert!(made.success());
        let file = dir.path().join("file");
        std::fs::write(&file, "text").expect("write");
        for (path, want) in [
            (fifo.clone(), "fifo"),
            ("/dev/zero".into(), "device node"),
            ("/dev/null".into(), "device node"),
            (dir.path().to_path_buf(), "directory"),
        ] {
            let e = within_5s(move || read(&path)).expect_err("refused");
            assert_eq!(not_regular(&e).map(|n| n.kind), Some(want), "{e}");
            assert_eq!(e.to_string(), format!("not a regular file ({want})"));
        }
        assert_eq!(
            within_5s(move || read_to_string(&file)).expect("read"),
            "text"
        );
    }

    #[test]
    fn a_missing_file_keeps_its_error_kind() {
        let e = read(Path::new("/nonexistent/x")).expect_err("missing");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(not_regular(&e).is_none());
    }
}
