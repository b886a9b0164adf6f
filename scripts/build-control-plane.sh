#!/usr/bin/env bash
# Builds the local control plane from Kubernetes' and etcd's own Go modules, pinned in
# tests/cluster/go.mod (k8s.io/kubernetes v1.37.2, staging modules v0.37.2) and
# tests/cluster/etcd/go.mod (etcd v3.6.x): kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and etcd.
#
# Built once per machine into a cache outside the clone keyed by the pins
# ($FIPS_CACHE_DIR, default ~/.cache/fips-operator/control-plane-<hash of go.mod/go.sum>),
# reused while the pins are unchanged. Prints the directory holding the binaries on stdout;
# progress goes to stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tests/cluster"
# The machine's own Go (1.26+); Debian's /usr/bin/go (1.19) is for the fixtures only.
GO="${FIPS_GO:-/usr/local/go/bin/go}"
[ -x "$GO" ] || GO="$(command -v go)"

version=v1.37.2
minor=37
# The cache key: the pins, and the recipe (bump it when the build commands change).
recipe="1 $version CGO_ENABLED=0 -trimpath -s -w"
pins="$( (cat "$src/go.mod" "$src/go.sum" "$src/etcd/go.mod" "$src/etcd/go.sum"; echo "$recipe") |
  sha256sum | cut -c1-16)"
cache="${FIPS_CACHE_DIR:-$HOME/.cache/fips-operator}"
out="$cache/control-plane-$pins"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)

complete=1
for b in "${bins[@]}"; do [ -x "$out/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out.partial"
start=$(date +%s)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$version \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$out.partial/$b" ] && continue
  echo "control plane: building $b $version (cold: several minutes each on 2 cores)" >&2
  # Written under a temporary name: an interrupted build never passes for a finished one.
  (cd "$src" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" \
     -o "$out.partial/$b.tmp" "k8s.io/kubernetes/cmd/$b")
  mv "$out.partial/$b.tmp" "$out.partial/$b"
done
if [ ! -x "$out.partial/etcd" ]; then
  echo "control plane: building etcd" >&2
  (cd "$src/etcd" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags "-s -w" \
     -o "$out.partial/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out.partial/etcd.tmp" "$out.partial/etcd"
fi
rm -rf "$out"
mv "$out.partial" "$out"
echo "control plane: built in $(( $(date +%s) - start )) s into $out ($(du -sh "$out" | cut -f1))" >&2
echo "$out"
