#!/usr/bin/env bash
# The operator's own FIPS build (DESIGN §8): rustls, kube and every digest on the AWS-LC FIPS
# module (aws-lc-fips-sys, built from source: needs cmake, Go and a C compiler, which
# scripts/install-test-deps.sh installs). The Dockerfile runs the same command with --release.
#   scripts/build-fips.sh [--release]   ->  target/fips/fips-operator
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
args=(--locked --features fips --bin fips-operator)
if [ "${1:-}" = "--release" ]; then
  profile=release
  args+=(--release)
fi
cargo build "${args[@]}"
install -D -m 0755 "target/$profile/fips-operator" target/fips/fips-operator
target/fips/fips-operator --version
