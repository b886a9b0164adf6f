#!/usr/bin/env bash
# Runs every check and test of the project, on a fresh Debian 12 machine too:
# installs the toolchains the fixtures need, builds the fixture binaries from source (cached
# under target/fixtures), the local Kubernetes control plane from Kubernetes' Go modules (cached
# under ~/.cache/fips-operator, keyed by the pins in tests/cluster) and the operator's own FIPS
# build (target/fips), then fmt, clippy -D warnings (plain and fips) and the whole test suite,
# which includes tests/control_plane.rs against a real kube-apiserver (scripts/dev-cluster.sh),
# and a fuzz smoke step (scripts/fuzz.sh: 45 s per target, a crash or a fail-closed violation
# fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
scripts/build-fixtures.sh
scripts/fetch-third-party.sh
scripts/build-control-plane.sh >/dev/null
scripts/build-fips.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --lib --bins --locked --features fips -- -D warnings
cargo test --locked
scripts/fuzz.sh 45
