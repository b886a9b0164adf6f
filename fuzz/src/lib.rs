//! The inspector's own source (`src/inspect.rs` and `src/inspect/`), compiled on its own: it
//! depends on nothing else in the operator, so the fuzz build instruments four small crates
//! instead of the operator's whole dependency tree (kube, tokio, rustls, ...), which keeps the
//! fuzz smoke step of `scripts/test.sh` to a few minutes on a fresh machine.
#[path = "../../src"]
mod operator {
    #[allow(dead_code, unused_imports)]
    pub mod inspect;
}

pub use operator::inspect;
