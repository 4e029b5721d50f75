#!/usr/bin/env bash
# rapflow on a local kind cluster: the operators (cert-manager, Strimzi, K8ssandra, Argo Workflows,
# Argo Events) from pinned charts, then Kafka and Cassandra (strimzi/, k8ssandra/), the rapflow
# chart with a locally built image and its dev MinIO, and one run of the rap-ingest workflow.
# Needs: docker, kubectl, Go (builds kind; scripts/k8s/tools.sh builds helm and argo), Node 24 (or 22.22+), and
# a network that reaches the chart and image registries. About 8 GiB of memory for the cluster.
#   bash scripts/k8s/cluster.sh up       # cluster, operators, Kafka, Cassandra, rapflow (idempotent)
#   bash scripts/k8s/cluster.sh submit   # upload data/ into the inbox and run rap-ingest once, watching it
#   bash scripts/k8s/cluster.sh down     # delete the cluster
set -euo pipefail
cd "$(dirname "$0")/../.."

readonly CLUSTER=${RAPFLOW_CLUSTER:-rapflow}
readonly NAMESPACE=rapflow
readonly IMAGE_REPOSITORY=ghcr.io/dok-community/rapflow
readonly IMAGE_TAG=dev

# Pinned versions. The operators match the CRD schemas the manifests are validated against
# (RAPFLOW_K8S_SCHEMAS, docs/kubernetes.md): Strimzi 1.2.0, K8ssandra operator v1.32.5, Argo Workflows v4.1.2,
# Argo Events v1.9.11. Where a chart release ships an older patch of the app, its image tag is set.
readonly KIND_VERSION=v0.29.0
readonly KIND_NODE_IMAGE=kindest/node:v1.33.1
readonly CERT_MANAGER_CHART=v1.17.2
readonly STRIMZI_CHART=1.2.0
readonly K8SSANDRA_CHART=1.32.5
readonly ARGO_WORKFLOWS_CHART=2.0.1
readonly ARGO_WORKFLOWS_IMAGE=v4.1.2
readonly ARGO_EVENTS_CHART=2.4.22
readonly ARGO_EVENTS_IMAGE=v1.9.11

say() { echo "cluster: $*" >&2; }

bash scripts/k8s/tools.sh install
tools="$(bash scripts/k8s/tools.sh dir)/bin"
helm() { "$tools/helm" "$@"; }
argo() { "$tools/argo" "$@"; }

kind() {
  local bin="$tools/kind-$KIND_VERSION"
  if [[ ! -x "$bin" ]]; then
    say "building kind $KIND_VERSION from the Go module proxy"
    GOBIN="$tools" go install "sigs.k8s.io/kind@$KIND_VERSION"
    mv "$tools/kind" "$bin"
  fi
  "$bin" "$@"
}

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { say "$tool is needed on PATH"; exit 78; }
  done
}

# chart RELEASE NAMESPACE CHART VERSION [helm args...]: install or upgrade, waiting for it.
chart() {
  local release=$1 namespace=$2 name=$3 version=$4
  shift 4
  say "$release: $name $version"
  helm upgrade --install "$release" "$name" --version "$version" --namespace "$namespace" --create-namespace --wait --timeout 10m "$@"
}

up() {
  require docker kubectl go node
  if ! kind get clusters | grep -qx "$CLUSTER"; then
    kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --wait 120s
  fi
  kubectl config use-context "kind-$CLUSTER" >/dev/null
  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -

  # K8ssandra's webhooks need cert-manager's certificates.
  chart cert-manager cert-manager cert-manager "$CERT_MANAGER_CHART" --repo https://charts.jetstack.io --set crds.enabled=true
  chart strimzi strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator "$STRIMZI_CHART" --set "watchNamespaces={$NAMESPACE}"
  chart k8ssandra-operator k8ssandra-operator k8ssandra-operator "$K8SSANDRA_CHART" --repo https://helm.k8ssandra.io/stable --set global.clusterScoped=true
  chart argo-workflows argo argo-workflows "$ARGO_WORKFLOWS_CHART" --repo https://argoproj.github.io/argo-helm \
    --set images.tag="$ARGO_WORKFLOWS_IMAGE" --set "controller.workflowNamespaces={$NAMESPACE}" --set "server.authModes={server}"
  chart argo-events argo-events argo-events "$ARGO_EVENTS_CHART" --repo https://argoproj.github.io/argo-helm \
    --set global.image.tag="$ARGO_EVENTS_IMAGE"

  say "Kafka (strimzi/) and Cassandra with Stargate (k8ssandra/)"
  kubectl apply -n "$NAMESPACE" -f strimzi/kafka.yaml -f strimzi/topics.yaml -f strimzi/users.yaml -f k8ssandra/cluster.yaml
  kubectl wait -n "$NAMESPACE" kafka/rapflow --for=condition=Ready --timeout=15m
  kubectl wait -n "$NAMESPACE" kafkatopic,kafkauser --all --for=condition=Ready --timeout=5m
  # The operator creates the datacenter resource a little after the cluster resource.
  until kubectl get -n "$NAMESPACE" cassandradatacenter/dc1 >/dev/null 2>&1; do sleep 5; done
  kubectl wait -n "$NAMESPACE" cassandradatacenter/dc1 --for=condition=Ready --timeout=20m

  say "the rapflow image, built here and loaded into the cluster"
  docker build -t "$IMAGE_REPOSITORY:$IMAGE_TAG" .
  kind load docker-image "$IMAGE_REPOSITORY:$IMAGE_TAG" --name "$CLUSTER"

  say "rapflow (helm/rapflow, with the dev MinIO)"
  helm upgrade --install rapflow helm/rapflow --namespace "$NAMESPACE" --wait --timeout 10m \
    --set image.repository="$IMAGE_REPOSITORY" --set image.tag="$IMAGE_TAG" --set devMinio.enabled=true
  say "up: kubectl -n $NAMESPACE get pods; then bash scripts/k8s/cluster.sh submit"
}

# The port-forward to the dev MinIO while submit runs (global: the EXIT trap reads it).
forward=""

submit() {
  require kubectl node curl
  kubectl config use-context "kind-$CLUSTER" >/dev/null
  local port=19000 key secret
  kubectl -n "$NAMESPACE" port-forward svc/rapflow-minio "$port:9000" >/dev/null &
  forward=$!
  trap '[[ -z "$forward" ]] || kill "$forward" 2>/dev/null || true' EXIT
  key=$(kubectl -n "$NAMESPACE" get secret rapflow-s3 -o jsonpath='{.data.accessKey}' | base64 -d)
  secret=$(kubectl -n "$NAMESPACE" get secret rapflow-s3 -o jsonpath='{.data.secretKey}' | base64 -d)
  until curl -fsS "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1; do sleep 1; done
  npm run -s build
  say "uploading data/ into s3://rap-inbox/incoming/ (the Sensor may start a run of its own too)"
  S3_ENDPOINT="http://127.0.0.1:$port" S3_ACCESS_KEY="$key" S3_SECRET_KEY="$secret" node dist/cli/main.js upload data/
  argo submit --namespace "$NAMESPACE" --from workflowtemplate/rap-ingest --watch
}

case "${1:-}" in
  up) up ;;
  submit) submit ;;
  down) kind delete cluster --name "$CLUSTER" ;;
  *)
    echo "usage: $0 up|submit|down" >&2
    exit 64
    ;;
esac
