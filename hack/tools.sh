#!/usr/bin/env bash
# Builds the real tools the tests run against (Kubernetes control plane, etcd, helm, kustomize, kwok,
# grpcurl, dex, and the test-only gotemplate-oracle) from the Go module proxy at pinned versions, into a cache outside the
# repository keyed by tool and version. Idempotent: a tool whose binary is already cached is skipped,
# so a warm run takes seconds. Each build uses a private Go build cache that is removed afterwards
# (a Kubernetes build leaves several GB there); the module cache is kept so a pin change re-downloads
# little. Nothing is downloaded from anywhere but the Go module proxy.
#
# Usage: hack/tools.sh [tool...]      (default: every tool the test tiers need)
#        hack/tools.sh --print-bin    (prints the directory holding the binaries)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.21.4}
KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.8.1}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
GRPCURL_VERSION=${GRPCURL_VERSION:-v1.9.3}
# dex tag v2.44.0 as a pseudo-version: the module path lacks /v2, so tags are no valid versions, and the
# proxy here serves pseudo-versions it knows but resolves no commit hashes or branch names
DEX_REF=${DEX_REF:-v0.0.0-20250829100637-2dce75009acf}
DEX_VERSION=${DEX_VERSION:-v2.44.0}
DEX_API_VERSION=${DEX_API_VERSION:-v2.4.0}   # github.com/dexidp/dex/api/v2, tagged on the same commit
BUF_VERSION=${BUF_VERSION:-1.75.0}     # protobuf linter, from npm (its own registry is unreachable here)
NODE_GRPC_VERSION=${NODE_GRPC_VERSION:-1.14.7}  # @grpc/grpc-js: the other-language client of the contract tests
PROTO_LOADER_VERSION=${PROTO_LOADER_VERSION:-0.8.1}
# gotemplate-oracle (test only): Go text/template + sprig as Argo CD calls them, the reference that
# tests/integration/ferry/gotemplate compares ferry/gotemplate with. Versions are Argo CD's go.mod pins.
SPRIG_VERSION=${SPRIG_VERSION:-v3.3.0}
SIGS_YAML_VERSION=${SIGS_YAML_VERSION:-v1.6.0}
SLUG_VERSION=${SLUG_VERSION:-v1.15.0}

CACHE=${FERRY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-tools}
BIN=$CACHE/bin                         # symlinks to the versioned binaries: what PATH and tests use
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
export GOMODCACHE=${GOMODCACHE:-$CACHE/gomod}

if [ "${1:-}" = "--print-bin" ]; then echo "$BIN"; exit 0; fi
mkdir -p "$BIN"

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# versioned_dir NAME VERSION -> the directory holding that tool's binaries
versioned_dir() { echo "$CACHE/$1-$2/bin"; }

# link_tool NAME VERSION BINARY...: point $BIN/BINARY at the versioned build
link_tool() {
  local name=$1 version=$2; shift 2
  for b in "$@"; do ln -sfn "$(versioned_dir "$name" "$version")/$b" "$BIN/$b"; done
}

# have NAME VERSION BINARY...: true when every binary of that tool version is cached
have() {
  local name=$1 version=$2; shift 2
  for b in "$@"; do [ -x "$(versioned_dir "$name" "$version")/$b" ] || return 1; done
}

# with_scratch: run "$@" in a throw-away module directory with a private build cache, removed after
with_scratch() {
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-tools.XXXXXX")
  local rc=0
  ( cd "$dir" && export GOCACHE="$dir/.gocache" && "$@" ) || rc=$?
  chmod -R u+w "$dir" 2>/dev/null || true
  rm -rf "$dir"
  return $rc
}

timed() {
  local name=$1; shift
  local start=$SECONDS
  log "building $name"
  "$@"
  log "built $name in $((SECONDS - start))s"
}

build_k8s() {
  local out; out=$(versioned_dir kubernetes "$K8S_VERSION"); mkdir -p "$out"
  go mod init harness.invalid/k8s >/dev/null 2>&1
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local folders;
  # replaces are ignored outside the main module, so point each at its published v0.MINOR.PATCH tag.
  local staging_version="v0.${K8S_VERSION#v1.}"
  local m
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace="$m=$m@$staging_version"
  done
  grep -m1 '^godebug ' "$gomod" >> go.mod || true
  local pkgs="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  local p gets=""
  for p in $pkgs; do gets+="$p@$K8S_VERSION "; done
  # shellcheck disable=SC2086
  go get $gets
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  # shellcheck disable=SC2086
  go build -ldflags "$ldflags" -o "$out/" $pkgs
}

build_etcd() {
  local out; out=$(versioned_dir etcd "$ETCD_VERSION"); mkdir -p "$out"
  # server/go.mod has local replaces, so `go install` refuses; a wrapper module ignores them.
  go mod init harness.invalid/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

build_dex() {
  local out; out=$(versioned_dir dex "$DEX_VERSION"); mkdir -p "$out"
  go mod init harness.invalid/dex >/dev/null 2>&1
  # dex's go.mod replaces its api/v2 module with ./api/v2 and requires an older api/v2 (v2.3.0, which
  # lacks ListClient); replaces are ignored outside the main module, so require the api/v2 tag made
  # on the same commit instead.
  go get "github.com/dexidp/dex/cmd/dex@$DEX_REF" "github.com/dexidp/dex/api/v2@$DEX_API_VERSION"
  go build -ldflags "-s -w -X main.version=$DEX_VERSION" -o "$out/dex" github.com/dexidp/dex/cmd/dex
}

# go_install NAME VERSION PACKAGE [LDFLAGS]: a plain `go install` into the versioned directory
go_install() {
  local name=$1 version=$2 pkg=$3 ldflags=${4:-"-s -w"}
  GOBIN=$(versioned_dir "$name" "$version") go install -ldflags "$ldflags" "$pkg@$version"
}

build_helm() {
  # Like helm's Makefile: the default Capabilities.KubeVersion follows the client-go helm builds
  # with (without it, `helm template` assumes Kubernetes v1.20 and refuses charts needing newer).
  go mod init harness.invalid/helm >/dev/null 2>&1
  local gomod client_go major minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  client_go=$(sed -n 's#^[[:space:]]*k8s.io/client-go v\([0-9.]*\).*#\1#p' "$gomod")
  major=$((${client_go%%.*} + 1)); minor=$(echo "$client_go" | cut -d. -f2)
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done
  go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$ldflags"
}
build_kustomize() { go_install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5; }
build_kwok() { go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok; }
build_grpcurl() { go_install grpcurl "$GRPCURL_VERSION" github.com/fullstorydev/grpcurl/cmd/grpcurl; }

build_buf() {
  local out; out=$(versioned_dir buf "$BUF_VERSION"); mkdir -p "$out"
  npm install --silent --no-save --no-audit --no-fund --prefix "$CACHE/buf-$BUF_VERSION/npm" "@bufbuild/buf@$BUF_VERSION"
  ln -sfn "$CACHE/buf-$BUF_VERSION/npm/node_modules/.bin/buf" "$out/buf"
}

build_node_grpc() {
  local dir="$CACHE/node-grpc-$NODE_GRPC_VERSION"
  mkdir -p "$dir/bin"
  npm install --silent --no-save --no-audit --no-fund --prefix "$dir" \
    "@grpc/grpc-js@$NODE_GRPC_VERSION" "@grpc/proto-loader@$PROTO_LOADER_VERSION"
  # a marker "binary" so the cache logic can see the tool is present; NODE_PATH is its node_modules
  printf '#!/bin/sh\necho %s\n' "$dir/node_modules" > "$dir/bin/node-grpc-path"
  chmod +x "$dir/bin/node-grpc-path"
}

# The oracle's cache key includes a hash of its source, so editing main.go rebuilds it.
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
oracle_version() {
  echo "sprig-$SPRIG_VERSION-$(sha256sum "$HACK_DIR/gotemplate-oracle/main.go" | cut -c1-12)"
}
build_gotemplate_oracle() {
  local out; out=$(versioned_dir gotemplate-oracle "$(oracle_version)"); mkdir -p "$out"
  go mod init harness.invalid/gotemplate-oracle >/dev/null 2>&1
  cp "$HACK_DIR/gotemplate-oracle/main.go" .
  go get "github.com/Masterminds/sprig/v3@$SPRIG_VERSION" "sigs.k8s.io/yaml@$SIGS_YAML_VERSION" \
    "github.com/gosimple/slug@$SLUG_VERSION"
  go build -ldflags "-s -w" -o "$out/gotemplate-oracle" .
}

# kwok has no built-in stages; they ship in its module source. Render the "fast" set once.
build_kwok_stages() {
  local out; out=$(versioned_dir kwok "$KWOK_VERSION")
  go mod init harness.invalid/kwokstages >/dev/null 2>&1
  go mod download "sigs.k8s.io/kwok@$KWOK_VERSION"
  "$BIN/kustomize" build "$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage/fast" > "$out/kwok-stages.yaml.tmp"
  mv "$out/kwok-stages.yaml.tmp" "$out/kwok-stages.yaml"
}

ensure() {
  local tool=$1
  case $tool in
    kubernetes)
      local bins="kube-apiserver kube-controller-manager kube-scheduler kubectl"
      # shellcheck disable=SC2086
      have kubernetes "$K8S_VERSION" $bins || timed "kubernetes $K8S_VERSION" with_scratch build_k8s
      # shellcheck disable=SC2086
      link_tool kubernetes "$K8S_VERSION" $bins ;;
    etcd)
      have etcd "$ETCD_VERSION" etcd || timed "etcd $ETCD_VERSION" with_scratch build_etcd
      link_tool etcd "$ETCD_VERSION" etcd ;;
    helm)
      have helm "$HELM_VERSION" helm || timed "helm $HELM_VERSION" with_scratch build_helm
      link_tool helm "$HELM_VERSION" helm ;;
    kustomize)
      have kustomize "$KUSTOMIZE_VERSION" kustomize || timed "kustomize $KUSTOMIZE_VERSION" with_scratch build_kustomize
      link_tool kustomize "$KUSTOMIZE_VERSION" kustomize ;;
    kwok)
      have kwok "$KWOK_VERSION" kwok || timed "kwok $KWOK_VERSION" with_scratch build_kwok
      [ -s "$(versioned_dir kwok "$KWOK_VERSION")/kwok-stages.yaml" ] || { ensure kustomize; with_scratch build_kwok_stages; }
      link_tool kwok "$KWOK_VERSION" kwok kwok-stages.yaml ;;
    grpcurl)
      have grpcurl "$GRPCURL_VERSION" grpcurl || timed "grpcurl $GRPCURL_VERSION" with_scratch build_grpcurl
      link_tool grpcurl "$GRPCURL_VERSION" grpcurl ;;
    buf)
      have buf "$BUF_VERSION" buf || timed "buf $BUF_VERSION" build_buf
      link_tool buf "$BUF_VERSION" buf ;;
    node-grpc)
      have node-grpc "$NODE_GRPC_VERSION" node-grpc-path || timed "node grpc-js $NODE_GRPC_VERSION" build_node_grpc
      link_tool node-grpc "$NODE_GRPC_VERSION" node-grpc-path ;;
    gotemplate-oracle)
      have gotemplate-oracle "$(oracle_version)" gotemplate-oracle ||
        timed "gotemplate-oracle $(oracle_version)" with_scratch build_gotemplate_oracle
      link_tool gotemplate-oracle "$(oracle_version)" gotemplate-oracle ;;
    dex)
      have dex "$DEX_VERSION" dex || timed "dex $DEX_VERSION" with_scratch build_dex
      link_tool dex "$DEX_VERSION" dex ;;
    *) echo "unknown tool: $tool" >&2; exit 2 ;;
  esac
}

# Cold build seconds measured on the 2-core development machine (a first-run estimate only).
declare -A ESTIMATE=( [kubernetes]=335 [kwok]=113 [helm]=92 [dex]=67 [etcd]=53 [grpcurl]=42 [kustomize]=30
                      [gotemplate-oracle]=17 [buf]=2 [node-grpc]=2 )
# cached TOOL: whether ensure would skip building it
cached() {
  case $1 in
    kubernetes) have kubernetes "$K8S_VERSION" kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
    etcd) have etcd "$ETCD_VERSION" etcd ;;
    helm) have helm "$HELM_VERSION" helm ;;
    kustomize) have kustomize "$KUSTOMIZE_VERSION" kustomize ;;
    kwok) have kwok "$KWOK_VERSION" kwok && [ -s "$(versioned_dir kwok "$KWOK_VERSION")/kwok-stages.yaml" ] ;;
    grpcurl) have grpcurl "$GRPCURL_VERSION" grpcurl ;;
    buf) have buf "$BUF_VERSION" buf ;;
    node-grpc) have node-grpc "$NODE_GRPC_VERSION" node-grpc-path ;;
    gotemplate-oracle) have gotemplate-oracle "$(oracle_version)" gotemplate-oracle ;;
    dex) have dex "$DEX_VERSION" dex ;;
    *) return 1 ;;
  esac
}

start=$SECONDS
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(buf node-grpc etcd kustomize helm kwok grpcurl dex gotemplate-oracle kubernetes)
# Say up front what will be built and about how long it takes, then one line per step with the
# time elapsed and what remains. Builds run one after another: each go build already uses every core.
todo=()
remaining=0
for t in "${tools[@]}"; do
  if ! cached "$t"; then todo+=("$t"); remaining=$((remaining + ${ESTIMATE[$t]:-60})); fi
done
if [ ${#todo[@]} -gt 0 ]; then
  log "to build: ${todo[*]} (first run: about $(( (remaining + 59) / 60 )) min on 2 cores; cached afterwards)"
fi
done_count=0
for t in "${tools[@]}"; do
  ensure "$t"
  done_count=$((done_count + 1))
  if [[ " ${todo[*]:-} " == *" $t "* ]]; then
    remaining=$((remaining - ${ESTIMATE[$t]:-60}))
    log "$done_count/${#tools[@]} ready after $((SECONDS - start))s; about $(( (remaining + 59) / 60 )) min to go"
  fi
done
log "tools ready in $BIN ($((SECONDS - start))s); module cache $(du -sh "$GOMODCACHE" 2>/dev/null | cut -f1)"
