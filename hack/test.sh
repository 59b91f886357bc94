#!/usr/bin/env bash
# The project's one test command (`make test`), exactly what CI runs: formatting, vet, build, unit + integration +
# chart tests against a real kube-apiserver, then every fuzz target for a bounded time.
# A fresh machine needs only Go: the control-plane binaries and helm are built from the Go module proxy into a
# version-keyed cache (15–30 min cold, seconds warm); see hack/testbin.sh. A whole cold run measured 41 min.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-15s}
start=$SECONDS
step() { echo; echo "== $* ($((SECONDS - start))s)"; }

step "toolchain"
go version

step "control-plane binaries (kube-apiserver, etcd, kubectl, helm, kube-controller-manager, kube-scheduler, kwok)"
KUBEBUILDER_ASSETS=$(hack/testbin.sh all)
export KUBEBUILDER_ASSETS
echo "$KUBEBUILDER_ASSETS"

step "gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go build"
go build ./...

step "go test (unit, integration, chart)"
go test -count=1 -timeout 45m ./...

step "fuzz targets, ${FUZZ_TIME} each"
# Every `func FuzzX(f *testing.F)` in the repo, run on its own package.
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort | while read -r file; do
  pkg=./$(dirname "${file#./}")
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZ_TIME" "$pkg"
  done
done

step "done"
