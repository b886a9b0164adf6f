#!/usr/bin/env bash
# What the cluster holds after a failed e2e run: the operator's objects, the controller's and
# the probes' logs, events. The suite prints its own diagnostics before it uninstalls; this
# shows what is left (a cleanup that failed, a run that was cut short). Never fails.
set -uo pipefail

ns="${FIPS_E2E_OPERATOR_NAMESPACE:-fips-operator}"

section() {
  echo "::group::$*"
  "$@" 2>&1
  echo "::endgroup::"
}

section kubectl get nodes -o wide --show-labels
section kubectl get fipspolicy,fipsstatus,fipsimagereports -o wide
section kubectl get fipspolicy,fipsstatus,fipsimagereports -o yaml
section kubectl get validatingwebhookconfiguration fips-operator -o yaml
section kubectl get all,secrets,leases -n "$ns" -o wide
section kubectl logs -n "$ns" -l app.kubernetes.io/name=fips-operator,app.kubernetes.io/component=controller \
  --all-containers --prefix --tail=1000 --max-log-requests=10
section kubectl logs -n "$ns" -l app.kubernetes.io/name=fips-operator,app.kubernetes.io/component=probe \
  --all-containers --prefix --tail=500 --max-log-requests=10
section kubectl get events -A --sort-by=.lastTimestamp
exit 0
