#!/usr/bin/env bash
# Builds the control-plane binaries the tests and the demo need, from the Go module proxy, into a cache outside the
# repository keyed by version. Idempotent: a binary already in the cache is not rebuilt.
#
#   hack/testbin.sh [COMPONENT...]     components: kube-apiserver etcd kubectl (default),
#                                      kube-controller-manager kube-scheduler kwok helm, or "all"
#
# Prints progress on stderr and the directory holding the binaries on stdout (use it as KUBEBUILDER_ASSETS).
# If KUBEBUILDER_ASSETS is already set and holds every requested binary, that directory is used as it is.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v4.3.1}
CACHE_ROOT=${HA_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ha-webhook}
BIN_DIR=${CACHE_ROOT}/testbin/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}

log() { echo "testbin: $*" >&2; }

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver etcd kubectl)
if [ "${components[0]}" = all ]; then
  components=(kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kwok helm)
fi

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  ok=1
  for c in "${components[@]}"; do [ -x "$KUBEBUILDER_ASSETS/$c" ] || ok=0; done
  if [ $ok = 1 ]; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks some of: ${components[*]}; building into the cache instead"
fi

mkdir -p "$BIN_DIR"
# One build at a time per cache: two test processes starting together must not race on the same files.
exec 9>"$BIN_DIR/.lock"
flock 9

missing() { [ ! -x "$BIN_DIR/$1" ]; }

# wrapper_module DIR: a module that requires k8s.io/kubernetes and replaces its ./staging modules with published ones.
kube_wrapper() {
  local dir=$CACHE_ROOT/build/kubernetes-$K8S_VERSION
  if [ ! -f "$dir/go.sum.done" ]; then
    log "preparing the k8s.io/kubernetes $K8S_VERSION wrapper module in $dir"
    mkdir -p "$dir"
    local gomod
    gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    local staging_version=v0${K8S_VERSION#v1}
    {
      echo "module testbin/kubernetes"
      echo
      grep -E '^go ' "$gomod"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      echo "replace ("
      grep -E '=> \./staging/' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } >"$dir/go.mod"
    touch "$dir/go.sum.done"
  fi
  echo "$dir"
}

build_kube() {
  local pkgs=()
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  [ ${#pkgs[@]} -gt 0 ] || return 0
  local dir minor
  dir=$(kube_wrapper)
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  log "building $* (Kubernetes $K8S_VERSION; several minutes on 2 cores)"
  local start=$SECONDS
  (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$BIN_DIR/" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
    "${pkgs[@]}")
  log "built $* in $((SECONDS - start))s"
}

# build_simple NAME MODULE@VERSION PACKAGE: a wrapper module requiring one module, then go build of one package.
build_simple() {
  local name=$1 module=$2 version=$3 pkg=$4
  local dir=$CACHE_ROOT/build/$name-$version
  mkdir -p "$dir"
  log "building $name $version"
  local start=$SECONDS
  if [ ! -f "$dir/go.mod" ]; then
    (cd "$dir" && go mod init "testbin/$name" >/dev/null 2>&1 && GOFLAGS=-mod=mod go get "$module@$version" >&2)
  fi
  (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/$name" "$pkg")
  log "built $name in $((SECONDS - start))s"
}

kube=()
for c in "${components[@]}"; do
  case $c in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) missing "$c" && kube+=("$c") ;;
    etcd) missing etcd && build_simple etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ;;
    kwok) missing kwok && build_simple kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok ;;
    helm) missing helm && build_simple helm helm.sh/helm/v4 "$HELM_VERSION" helm.sh/helm/v4/cmd/helm ;;
    *) log "unknown component $c"; exit 2 ;;
  esac
done
build_kube "${kube[@]+"${kube[@]}"}"

for c in "${components[@]}"; do
  [ -x "$BIN_DIR/$c" ] || { log "$c is missing from $BIN_DIR after the build"; exit 1; }
done
log "binaries ready in $BIN_DIR"
echo "$BIN_DIR"
