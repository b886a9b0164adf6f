#!/usr/bin/env bash
# A local Kubernetes control plane with fips-operator installed, on this machine only.
#
#   scripts/dev-cluster.sh up     start it (idempotent); prints exactly two lines of shell:
#                                   export KUBECONFIG=…            (an admin kubeconfig)
#                                   export FIPS_DEV_REGISTRY=127.0.0.1:PORT
#                                 so `eval "$(scripts/dev-cluster.sh up)"` points kubectl at it.
#   scripts/dev-cluster.sh down   stop everything `up` started, by process id; the cluster's
#                                 data goes with it, the logs stay.
#   scripts/dev-cluster.sh demo   `up`, then push a non-FIPS and a FIPS image that the
#                                 repository builds, enforce the sample policy on a labelled
#                                 namespace, and show the API server refusing the one and
#                                 admitting the other.
#
# What runs (all on 127.0.0.1, free ports): etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler of Kubernetes v1.37.2 built from its Go modules (scripts/build-control-plane.sh,
# cached under ~/.cache/fips-operator), Debian's docker-registry, three Nodes (two
# linux/amd64, one linux/arm64; dev-amd64-fips boots in FIPS mode, the others do not) kept
# Ready by a stand-in kubelet that also gives scheduled pods a running status, the chart
# charts/fips-operator applied server-side, two controller replicas and one probe per Node
# running as the chart's ServiceAccounts. Logs: target/dev-cluster/logs/ ($FIPS_DEV_DIR).
#
# Environment: FIPS_DEV_DIR (state and logs, default target/dev-cluster), FIPS_OPERATOR_BIN
# (the operator binary to run; default: `cargo build --release`), FIPS_DEV_CONTROLLERS
# (controller replicas, default 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

usage() {
  echo "usage: scripts/dev-cluster.sh up|down|demo" >&2
  exit 2
}

need_tools() {
  # skopeo, docker-registry, openssl and the chart renderer (helm-python-sdk).
  scripts/install-test-deps.sh >/dev/null
}

demo() {
  need_tools
  local exports
  exports="$(python3 scripts/dev_cluster.py up)" || exit 1
  eval "$exports"
  echo "# The cluster: export KUBECONFIG=$KUBECONFIG"
  local bins kc
  bins="$(scripts/build-control-plane.sh 2>/dev/null)"
  kc=(--kubeconfig "$KUBECONFIG")
  k() { echo "\$ kubectl $*"; "$bins/kubectl" "${kc[@]}" "$@"; }

  echo "# Building two images from source: a Go 1.19 program using crypto/tls (not FIPS-capable)"
  echo "# and a Go 1.27 program built with GOFIPS140=v1.0.0-c2097c7c (the native FIPS module)."
  scripts/build-fixtures.sh go119-std go127-fips-certified >&2
  local legacy fips
  legacy="$(python3 scripts/dev_cluster.py push demo/legacy:1 target/fixtures/go119-std usr/bin/legacy)"
  fips="$(python3 scripts/dev_cluster.py push demo/fips-app:1 target/fixtures/go127-fips-certified usr/bin/app)"
  legacy="${legacy%@*}:1"
  fips="${fips%@*}:1"
  echo "# pushed $legacy and $fips"

  echo
  echo "# An Enforce policy (config/samples/fipspolicy-enforce.yaml) on namespaces labelled compliance=fips."
  k apply --server-side -f config/samples/fipspolicy-enforce.yaml
  echo "\$ kubectl create namespace fips-demo"
  "$bins/kubectl" "${kc[@]}" create namespace fips-demo --dry-run=client -o yaml |
    "$bins/kubectl" "${kc[@]}" apply --server-side -f - >/dev/null
  k label namespace fips-demo compliance=fips --overwrite

  # Pods of an earlier demo go, so it can run again on the same cluster.
  "$bins/kubectl" "${kc[@]}" -n fips-demo delete pod legacy fips-app --ignore-not-found --wait=true >/dev/null

  echo
  echo "# A policy applies at admission once the controllers have seen it (a moment after it is"
  echo "# written); its status says when the lease holder has:"
  k wait --for=jsonpath='{.status.observedGeneration}'=1 fipspolicy/production-fips --timeout=120s
  # Every controller replica serves the webhook from its own watch: wait until server-side
  # dry runs (which request no scan) are judged by the policy, three times in a row.
  local out i judged=0
  for i in $(seq 1 60); do
    out="$("$bins/kubectl" "${kc[@]}" -n fips-demo run legacy --image="$legacy" --restart=Never \
      --dry-run=server 2>&1 || true)"
    case "$out" in
      *"FipsPolicy production-fips"*) judged=$((judged + 1)) ;;
      *) judged=0 ;;
    esac
    [ "$judged" -ge 3 ] && break
    sleep 1
  done

  echo
  echo "# A pod with the non-FIPS image is refused by the API server (its first admission asks for"
  echo "# a scan: retried while the image is scanned):"
  for i in $(seq 1 90); do
    if out="$("$bins/kubectl" "${kc[@]}" -n fips-demo run legacy --image="$legacy" --restart=Never 2>&1)"; then
      echo "$out"
      echo "demo: the non-FIPS pod was admitted: this is a bug (logs: target/dev-cluster/logs/)" >&2
      exit 1
    fi
    case "$out" in
      *"not FIPS-capable"*) break ;;
    esac
    sleep 2
  done
  echo "\$ kubectl -n fips-demo run legacy --image=$legacy --restart=Never"
  echo "$out"
  case "$out" in *"not FIPS-capable"*) ;; *) echo "demo: no final answer for $legacy" >&2; exit 1 ;; esac

  echo
  echo "# A pod with the FIPS image is admitted:"
  local admitted=0
  for i in $(seq 1 90); do
    if out="$("$bins/kubectl" "${kc[@]}" -n fips-demo run fips-app --image="$fips" --restart=Never 2>&1)"; then
      admitted=1
      break
    fi
    sleep 2
  done
  echo "\$ kubectl -n fips-demo run fips-app --image=$fips --restart=Never"
  echo "$out"
  if [ "$admitted" != 1 ]; then
    echo "demo: the FIPS pod was not admitted (logs: target/dev-cluster/logs/)" >&2
    exit 1
  fi

  echo
  sleep 3
  k get fipspolicy,fipsstatus,fipsimagereports
  echo
  echo "# Try it yourself:  export KUBECONFIG=$KUBECONFIG"
  echo "# Stop it:          scripts/dev-cluster.sh down"
}

case "${1:-}" in
  up)
    need_tools
    exec python3 scripts/dev_cluster.py up
    ;;
  down) exec python3 scripts/dev_cluster.py down ;;
  demo) demo ;;
  *) usage ;;
esac
