#!/usr/bin/env bash
# The project's one test command (`make test`), exactly what CI runs: formatting, vet, build, unit + integration +
# chart tests against a real kube-apiserver, the nested test modules (test/bench: the benchmark program on a tiny
# load; test/e2e: the upgrade drill; test/monitoring: the chart's alerts, dashboard and metrics), then every fuzz
# target for a bounded time.
# A fresh machine needs only Go: the control-plane binaries and helm are built from the Go module proxy into a
# version-keyed cache (15–30 min cold, seconds warm); see hack/testbin.sh. A whole cold run measured 41 min (before the test modules split); a warm one 1,360 s (2026-12-02: test/reliability alone 409 s, its TestOverload 4.5 min of that).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-15s}
export FUZZ_TIME
start=$SECONDS
step() { echo; echo "== $* ($((SECONDS - start))s)"; }

# The Go modules: the root (ha-webhook, test/integration, test/chart, test/reliability, test/testenv, hack/) and the
# nested test modules, which keep their own dependencies (vegeta, gonum/plot, Prometheus) out of the root go.mod.
# `./...` of one module does not reach into another, so each is vetted, built and tested on its own.
modules=(. test/bench test/e2e test/monitoring test/certmanager)

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
for mod in "${modules[@]}"; do
  echo "-- $mod"
  (cd "$mod" && go vet ./...)
done

step "go build"
for mod in "${modules[@]}"; do
  echo "-- $mod"
  (cd "$mod" && go build -o /dev/null ./...) # -o: test/bench is one main package, which go build would write out
done

step "go test (unit, integration, chart)"
# Packages run two at a time; test/reliability is left to the next step.
go test -count=1 -timeout 45m $(go list ./... | grep -v '/test/reliability$')

step "go test test/reliability (alone: its scenarios hold a load of hundreds of admissions/s through a kube-apiserver of their own, which a package testing beside it on these 2 cores starves)"
go test -count=1 -timeout 45m ./test/reliability/...

step "go test test/bench (the benchmark program on a tiny load)"
(cd test/bench && go test -count=1 -timeout 45m ./...)

step "go test test/e2e (the upgrade drill)"
(cd test/e2e && go test -count=1 -timeout 45m ./...)

step "go test test/monitoring (the chart's alerts under promtool, its dashboard's queries, the metrics of a live serve)"
(cd test/monitoring && go test -count=1 -timeout 20m ./...)

step "go test test/certmanager (the chart's TLS chain with real cert-manager controllers, renewals under load)"
(cd test/certmanager && go test -count=1 -timeout 20m ./...)

step "fuzz targets, ${FUZZ_TIME} each"
hack/fuzz.sh

step "done"
