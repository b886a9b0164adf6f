//! Root filesystems and OCI images: walking, selecting and judging their binaries, and the
//! image-level rules (docs/verdicts.md, I1–I7).

mod cache;
mod confined;
mod dependencies;
mod digest;
mod docker_archive;
mod java_runtime;
pub mod layers;
pub mod mmap;
mod mounts;
mod oci_layout;
mod openssl_provider;
mod packages;
pub mod registry;
pub mod regular_file;
pub mod report;
pub mod rootfs;
mod scan_image;
pub mod source;
mod zip_names;

pub use cache::{RUNNING_CONTAINER_MARK, SCANNER_VERSION};
pub use registry::{manifest_digest, RegistryOptions};
pub use report::{ScanReport, Skipped};
pub use rootfs::{scan_dir, scan_file, scan_running_root, ScanContext};
pub use scan_image::{scan_image, ImageOptions, ImageProgress, ImageTarget};
