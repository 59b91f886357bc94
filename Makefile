# Entry points; each is a thin wrapper around a script or a go command, so nothing here needs more than Go and bash.
# `make help` lists them. The root module holds ha-webhook and the tests against a real kube-apiserver; test/bench,
# test/e2e and test/monitoring are Go modules of their own (their dependencies stay out of the root go.mod), so they
# are run from there.
.PHONY: help test unit integration e2e monitoring fuzz demo build certs testbin fmt

FUZZ_TIME ?= 15s
export FUZZ_TIME

## test: everything CI runs (unit, integration and chart tests against a real kube-apiserver, test/bench, test/e2e, test/monitoring, bounded fuzzing)
test:
	hack/test.sh

## help: this list: each target with its description
help:
	@awk '/^## [a-z][a-z0-9-]*:/ { sub(/^## /, ""); i = index($$0, ":"); printf "  %-12s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' $(MAKEFILE_LIST)

## unit: the fast inner loop, go test -race of internal/ and cmd/ (no control plane; under a minute warm)
unit:
	go test -race ./internal/... ./cmd/...

## integration: test/integration, test/audit, test/chart and test/reliability against a real kube-apiserver (binaries from hack/testbin.sh)
integration:
	assets=$$(hack/testbin.sh kube-apiserver etcd kubectl helm) && \
	KUBEBUILDER_ASSETS=$$assets go test -count=1 -timeout 45m ./test/integration/... ./test/audit/... ./test/chart/... ./test/reliability/...

## e2e: the test/e2e module (the upgrade drill) and the test/bench module's tests (the benchmark program on a tiny load)
e2e:
	assets=$$(hack/testbin.sh kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kwok) && \
	cd test/e2e && KUBEBUILDER_ASSETS=$$assets go test -count=1 -timeout 45m ./... && \
	cd ../bench && KUBEBUILDER_ASSETS=$$assets go test -count=1 -timeout 45m ./...

## monitoring: the test/monitoring module: the chart's alerts under promtool, its dashboard's queries, the metrics of a live serve
monitoring:
	assets=$$(hack/testbin.sh kube-apiserver etcd kubectl helm) && \
	cd test/monitoring && KUBEBUILDER_ASSETS=$$assets go test -count=1 -timeout 20m ./...

## fuzz: every fuzz target, in the module that holds it, for FUZZ_TIME each (default 15s)
fuzz:
	hack/fuzz.sh

## demo: a local control plane, ha-webhook serving, examples/ applied, and what happened printed
demo:
	go run ./hack/demo

## build: the ha-webhook binary into bin/
build:
	CGO_ENABLED=0 go build -trimpath -o bin/ha-webhook ./cmd/webhook

## certs: a development CA and serving certificate in certs/ for running `serve` outside a cluster
certs:
	go run ./hack/devcerts -dir certs -hosts 127.0.0.1,localhost

## testbin: build (or reuse) kube-apiserver, etcd, kubectl, kube-controller-manager, kube-scheduler, kwok and helm in the cache
testbin:
	hack/testbin.sh all

## fmt: gofmt every Go file of every module
fmt:
	gofmt -w $$(find . -name '*.go' -not -path './.git/*')
