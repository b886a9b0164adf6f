//! fips-operator: makes FIPS 140 mode a property of the whole Kubernetes cluster.
//!
//! Modules (DESIGN §2): `inspect` judges one ELF file (pure), `policy` turns verdicts into
//! outcomes (pure), `image` walks root filesystems, `cli` wires the subcommands.

pub mod api;
pub mod cli;
pub mod controller;
pub mod image;
pub mod inspect;
pub mod policy;
