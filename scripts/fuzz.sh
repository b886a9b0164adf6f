#!/usr/bin/env bash
# Fuzzes the inspector with cargo-fuzz (libFuzzer) on the stable toolchain.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 300; scripts/test.sh runs it for 45 s as
#                                           its fuzz smoke step)
# The fuzz crate compiles the inspector's own source alone (fuzz/src/lib.rs), so the build
# takes a minute or two. The `inspect` target asserts, besides "never panics", that a file
# with Go's marks (build info, a pclntab section) is never `no-crypto` unless its function
# table was read. Seeds: small real ELF files from target/fixtures (scripts/build-fixtures.sh)
# and the host, one with a Go build info header appended, and the .gopclntab / .go.buildinfo
# sections of a real Go binary. A crash fails the script; its input lands in
# fuzz/artifacts/<target>/: reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-300}
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked -q
fi
export RUSTC_BOOTSTRAP=1

mkdir -p fuzz/corpus/inspect fuzz/corpus/pclntab
seed() { cp "$2" "fuzz/corpus/$1/$(basename "$2")${3:-}"; }
for f in target/fixtures/c-nocrypto-dynamic target/fixtures/c-openssl-dynamic /usr/bin/true; do
  [ -f "$f" ] && seed inspect "$f"
done
if [ -f target/fixtures/c-nocrypto-dynamic ]; then
  # A C program carrying a Go build info header where no Go linker puts it: `unknown`.
  { cat target/fixtures/c-nocrypto-dynamic; printf '\377 Go buildinf:\010\002'; } \
    > fuzz/corpus/inspect/c-nocrypto-dynamic.go-buildinfo
fi
if [ -f target/fixtures/go119-nocrypto ]; then
  for s in .gopclntab .go.buildinfo; do
    objcopy -O binary --only-section="$s" target/fixtures/go119-nocrypto "fuzz/corpus/pclntab/go119$s"
  done
fi

for target in inspect pclntab; do
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s" >&2
  cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
done
