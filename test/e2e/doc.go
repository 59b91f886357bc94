// Package e2e is the upgrade drill: a whole local control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, and kwok playing the kubelet of fake nodes) with ha-webhook serving, a fleet of Deployments and a
// StatefulSet (PDBs of their own, and one PDB shared by two Deployments), real HTTP traffic through a Kong-like
// proxy, and a simulated GKE surge upgrade of every node. It shows that the GETs to opted-in services never fail
// while every pod is replaced, and counts those that fail in a control group and with the webhook in audit mode. See
// docs/drill.md. test/e2e is a Go module of its own (test/e2e/go.mod); run the drill from this directory with
//
//	go test -run Drill -v
//	go test -run Drill -v -args -drill.plot=../../docs/drill.png   # also draw the timeline (plot.go)
//
// Only loopback addresses are ever dialed: the pods' IPs that kwok assigns are bookkeeping; each pod's "process" is
// an HTTP listener on 127.0.0.1 that the drill's runtime (runtime.go) opens and closes.
package e2e
