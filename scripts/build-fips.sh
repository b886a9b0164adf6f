#!/usr/bin/env bash
# The operator's own FIPS build (README): rustls, kube and every digest on the AWS-LC FIPS
# module (aws-lc-fips-sys, built from source: needs cmake, Go and a C compiler, which
# scripts/install-test-deps.sh installs). A release build (Cargo profile `fips`, its own
# directory), exactly what the Dockerfile runs and ships, so the tests judge the binary the
# image carries (not stripped: its symbols are part of the evidence that ties the module's
# name string to the module).
#   scripts/build-fips.sh   ->  target/fips/fips-operator
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --profile fips --features fips --bin fips-operator
target/fips/fips-operator --version
