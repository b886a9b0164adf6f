//! fips-operator: makes FIPS 140 mode a property of the whole Kubernetes cluster.
//!
//! Modules: `inspect` judges one ELF file (pure), `policy` turns verdicts into
//! outcomes (pure), `image` walks root filesystems and images, `controller` keeps the cluster
//! true, `cli` wires the subcommands.

pub mod api;
pub mod cli;
pub mod cluster;
pub mod controller;
pub mod host;
pub mod image;
pub mod inspect;
pub mod listen;
pub mod policy;
pub mod probe;
pub mod webhook;

/// Every TLS connection of the process (registries, the API server, the webhook) runs rustls
/// on aws-lc-rs. Idempotent: called by `main` and by anything that builds a TLS client, so
/// the library works the same when embedded (or tested) without `main`.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed.
    let _ = crypto_provider().install_default();
}

/// The process's rustls provider. In the `fips` build: the AWS-LC FIPS module's provider with
/// its approved suites, and key exchange restricted to P-256 and P-384 (README: the operator's FIPS build).
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "fips")]
    {
        use rustls::crypto::aws_lc_rs::kx_group;
        let mut p = rustls::crypto::default_fips_provider();
        p.kx_groups = vec![kx_group::SECP256R1, kx_group::SECP384R1];
        p
    }
    #[cfg(not(feature = "fips"))]
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Whether this binary was built on the FIPS module (`--features fips`).
pub const FIPS_BUILD: bool = cfg!(feature = "fips");

/// `--version`: the release and which build this is.
pub const VERSION: &str = if FIPS_BUILD {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (fips build: AWS-LC FIPS module)"
    )
} else {
    concat!(env!("CARGO_PKG_VERSION"), " (plain build, not FIPS)")
};

/// The start-up self-check of the `fips` build: the AWS-LC module must report FIPS mode (its
/// power-on self tests and integrity check passed) and the installed rustls provider must be
/// FIPS-approved throughout. The plain build has nothing to check and says so.
pub fn fips_self_check() -> Result<&'static str, String> {
    if !FIPS_BUILD {
        return Ok("plain build (not FIPS): build with `--features fips` for the FIPS module");
    }
    aws_lc_rs::try_fips_mode().map_err(|e| {
        format!("the AWS-LC FIPS module is not in FIPS mode ({e}); refusing to start")
    })?;
    // The provider every TLS connection of the process will use: the installed default.
    install_crypto_provider();
    let fips = rustls::crypto::CryptoProvider::get_default().is_some_and(|p| p.fips());
    if !fips {
        return Err("the installed rustls provider is not FIPS-approved; refusing to start".into());
    }
    Ok("FIPS build: AWS-LC FIPS module in FIPS mode, TLS key exchange P-256/P-384 only")
}
