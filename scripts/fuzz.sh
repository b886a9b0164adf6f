#!/usr/bin/env bash
# Fuzzes the inspector with cargo-fuzz (libFuzzer) on the stable toolchain.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 300)
# Seeds: small real ELF files from target/fixtures (scripts/build-fixtures.sh) and the host,
# and the .gopclntab / .go.buildinfo sections of a real Go binary. Crashes land in
# fuzz/artifacts/<target>/; reproduce one with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

seed() { mkdir -p "fuzz/corpus/$1"; cp "$2" "fuzz/corpus/$1/$(basename "$2")${3:-}"; }
for f in target/fixtures/c-nocrypto-dynamic target/fixtures/c-openssl-dynamic /usr/bin/true; do
  [ -f "$f" ] && seed inspect "$f"
done
if [ -f target/fixtures/go119-nocrypto ]; then
  for s in .gopclntab .go.buildinfo; do
    objcopy -O binary --only-section="$s" target/fixtures/go119-nocrypto "fuzz/corpus/pclntab/go119$s" 2>/dev/null \
      || { mkdir -p fuzz/corpus/pclntab && objcopy -O binary --only-section="$s" target/fixtures/go119-nocrypto "fuzz/corpus/pclntab/go119$s"; }
  done
fi

for target in inspect pclntab; do
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s" >&2
  cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
done
