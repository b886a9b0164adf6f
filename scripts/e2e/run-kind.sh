#!/usr/bin/env bash
# The whole end-to-end run on a local kind cluster, as .github/workflows/e2e.yml does it:
# cluster and registry, images, the suite (diagnostics on failure). Needs docker, kind,
# kubectl, helm and cargo. Delete the cluster afterwards with
#   kind delete cluster --name fips-e2e && docker rm -f kind-registry
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/e2e/kind-with-registry.sh
eval "$(scripts/e2e/build-images.sh)"
export FIPS_E2E_KUBECONFIG="${FIPS_E2E_KUBECONFIG:-$HOME/.kube/config}"
if ! cargo test --test e2e -- --nocapture; then
  scripts/e2e/dump.sh
  exit 1
fi
