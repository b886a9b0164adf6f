#!/usr/bin/env bash
# A kind cluster with a local registry, for tests/e2e (the "local registry" pattern of the kind
# documentation, https://kind.sigs.k8s.io/docs/user/local-registry/):
#   - a registry:2 container named kind-registry, published on 127.0.0.1:5001 for pushes from
#     this host;
#   - containerd on every node reads registry hosts from /etc/containerd/certs.d, where
#     localhost:5001 and kind-registry:5000 both lead to that container over plain HTTP;
#   - the registry joins the `kind` network, so nodes and pods reach it as kind-registry:5000.
#     Pods must use that name: the controller pulls images from inside the cluster to scan
#     them (FIPS_E2E_INSECURE_REGISTRY=kind-registry:5000), where localhost is the pod itself.
#
# Env: KIND_CLUSTER_NAME (fips-e2e), KIND_WORKERS (1), KIND_NODE_IMAGE (kind's default),
#      KIND (kind), REGISTRY_NAME (kind-registry), REGISTRY_PORT (5001).
set -euo pipefail

cluster="${KIND_CLUSTER_NAME:-fips-e2e}"
workers="${KIND_WORKERS:-1}"
kind="${KIND:-kind}"
reg_name="${REGISTRY_NAME:-kind-registry}"
reg_port="${REGISTRY_PORT:-5001}"

log() { echo "kind-with-registry: $*" >&2; }

# 1. The registry.
if [ "$(docker inspect -f '{{.State.Running}}' "$reg_name" 2>/dev/null || true)" != true ]; then
  log "starting registry:2 as $reg_name on 127.0.0.1:$reg_port"
  docker run -d --restart=always -p "127.0.0.1:${reg_port}:5000" --network bridge \
    --name "$reg_name" registry:2 >/dev/null
fi

# 2. The cluster: a control plane and $workers workers (the probe DaemonSet then runs on
#    tainted and untainted nodes alike), containerd reading /etc/containerd/certs.d.
if "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "cluster $cluster exists; reusing it"
else
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  {
    echo 'kind: Cluster'
    echo 'apiVersion: kind.x-k8s.io/v1alpha4'
    echo 'containerdConfigPatches:'
    echo '- |-'
    echo '  [plugins."io.containerd.grpc.v1.cri".registry]'
    echo '    config_path = "/etc/containerd/certs.d"'
    echo 'nodes:'
    echo '- role: control-plane'
    for _ in $(seq 1 "$workers"); do echo '- role: worker'; done
  } >"$config"
  image_args=()
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then image_args=(--image "$KIND_NODE_IMAGE"); fi
  log "creating cluster $cluster (1 control plane, $workers workers)"
  "$kind" create cluster --name "$cluster" "${image_args[@]}" --config "$config" --wait 180s
fi

# 3. Registry hosts on every node: localhost:5001 (the name pushed to from this host) and
#    kind-registry:5000 (the name pods and the controller use), both plain HTTP.
for node in $("$kind" get nodes --name "$cluster"); do
  for host in "localhost:${reg_port}" "${reg_name}:5000"; do
    dir="/etc/containerd/certs.d/${host}"
    docker exec "$node" mkdir -p "$dir"
    printf 'server = "http://%s:5000"\n\n[host."http://%s:5000"]\n  capabilities = ["pull", "resolve"]\n' \
      "$reg_name" "$reg_name" | docker exec -i "$node" cp /dev/stdin "$dir/hosts.toml"
  done
done

# 4. The registry on the cluster's network.
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$reg_name")" = null ]; then
  docker network connect kind "$reg_name"
fi

# 5. Document the local registry (KEP-1755), as the kind documentation does.
kubectl --context "kind-${cluster}" apply -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${reg_port}"
    hostFromClusterNetwork: "${reg_name}:5000"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML

curl -fsS "http://127.0.0.1:${reg_port}/v2/" >/dev/null
log "ready: push to localhost:${reg_port}/…, use ${reg_name}:5000/… in the cluster"
