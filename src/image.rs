//! Root filesystems (and, later, OCI images): walking, selecting and judging their binaries,
//! and the image-level rules of FIPS-RULES §5.

mod dependencies;
mod digest;
mod java_runtime;
pub mod layers;
pub mod mmap;
mod openssl_provider;
pub mod report;
pub mod rootfs;

pub use report::{ScanReport, Skipped};
pub use rootfs::{scan_dir, scan_file, ScanContext};
