//! fips-operator: makes FIPS 140 mode a property of the whole Kubernetes cluster.
//!
//! Modules (DESIGN §2): `inspect` judges one ELF file (pure), `policy` turns verdicts into
//! outcomes (pure), `image` walks root filesystems and images, `controller` keeps the cluster
//! true, `cli` wires the subcommands.

pub mod api;
pub mod cli;
pub mod controller;
pub mod host;
pub mod image;
pub mod inspect;
pub mod policy;
pub mod probe;
pub mod webhook;

/// Every TLS connection of the process (registries, the API server, the webhook) runs rustls
/// on aws-lc-rs. Idempotent: called by `main` and by anything that builds a TLS client, so
/// the library works the same when embedded (or tested) without `main`.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
