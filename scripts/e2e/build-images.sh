#!/usr/bin/env bash
# Builds the images tests/e2e runs against and pushes them to the registry of
# kind-with-registry.sh:
#   - the operator, FIPS build: docker build --build-arg FLAVOR=fips (the repository's
#     Dockerfile), also loaded into the kind nodes (kind load docker-image);
#   - a non-FIPS image (scripts/e2e/nonfips: a Go program hashing with the standard
#     library's crypto/sha256, FROM scratch).
# Prints the FIPS_E2E_* variables as `export` lines on stdout (eval "$(…)") and appends them
# to $GITHUB_ENV when it is set. The references are the cluster's (kind-registry:5000/…): the
# operator and the non-FIPS image pinned by digest (the webhook requests the scan of that
# digest), the FIPS pod's image by tag (the webhook resolves the tag through the registry).
#
# Env: KIND_CLUSTER_NAME (fips-e2e), KIND (kind), REGISTRY_NAME (kind-registry),
#      REGISTRY_PORT (5001), TAG (e2e).
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster="${KIND_CLUSTER_NAME:-fips-e2e}"
kind="${KIND:-kind}"
reg_name="${REGISTRY_NAME:-kind-registry}"
reg_port="${REGISTRY_PORT:-5001}"
tag="${TAG:-e2e}"
push_host="localhost:${reg_port}"
cluster_host="${reg_name}:5000"

log() { echo "build-images: $*" >&2; }

# The digest the registry serves for REPOSITORY:TAG (an index or a manifest, as pushed).
digest_of() {
  local accept='application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
  local d
  d="$(curl -fsSI -H "Accept: ${accept}" "http://${push_host}/v2/$1/manifests/$2" |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }')"
  case "$d" in
    sha256:*) echo "$d" ;;
    *) log "no digest for ${push_host}/$1:$2 (got '${d}')"; exit 1 ;;
  esac
}

log "building the operator image (FLAVOR=fips)"
docker build --build-arg FLAVOR=fips -t "${push_host}/fips-operator:${tag}" . >&2
docker push "${push_host}/fips-operator:${tag}" >&2
# Preloaded on the nodes under the cluster's name. A reference pinned by the registry's
# digest is still pulled from the registry when the loaded copy carries another digest.
docker tag "${push_host}/fips-operator:${tag}" "${cluster_host}/fips-operator:${tag}"
"$kind" load docker-image "${cluster_host}/fips-operator:${tag}" --name "$cluster" >&2

log "building the non-FIPS image"
docker build -t "${push_host}/fips-e2e-nonfips:${tag}" scripts/e2e/nonfips >&2
docker push "${push_host}/fips-e2e-nonfips:${tag}" >&2

operator="${cluster_host}/fips-operator:${tag}@$(digest_of fips-operator "$tag")"
nonfips="${cluster_host}/fips-e2e-nonfips:${tag}@$(digest_of fips-e2e-nonfips "$tag")"

vars=(
  "FIPS_E2E_IMAGE=${operator}"
  "FIPS_E2E_NONFIPS_IMAGE=${nonfips}"
  "FIPS_E2E_NONFIPS_BINARY=usr/local/bin/nonfips-sha256"
  "FIPS_E2E_FIPS_IMAGE=${cluster_host}/fips-operator:${tag}"
  "FIPS_E2E_INSECURE_REGISTRY=${cluster_host}"
)
for v in "${vars[@]}"; do
  log "$v"
  printf 'export %q\n' "$v"
  if [ -n "${GITHUB_ENV:-}" ]; then echo "$v" >>"$GITHUB_ENV"; fi
done
