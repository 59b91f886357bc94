# Entry points; each is a thin wrapper around a script or a go command, so nothing here needs more than Go and bash.
.PHONY: test demo build certs testbin fmt bench

## test: everything CI runs (unit, integration and chart tests against a real kube-apiserver, bounded fuzzing)
test:
	hack/test.sh

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

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './.git/*')
