package main

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// allocResult is allocations per admission: the pure functions, and the admission handlers (decode, rules, answer)
// without HTTP. internal/mutate and internal/validate gate the pure functions with testing.AllocsPerRun budgets.
type allocResult struct {
	MutatePod          float64 `json:"mutate_pod"`
	MutatePod64k       float64 `json:"mutate_pod_64k"`
	ValidateDeployment float64 `json:"validate_deployment"`
	// ValidateDeploymentNS is validate.Deployment on a filled namespace (its PDBs, HPAs and workloads, one PDB
	// selecting it).
	ValidateDeploymentNS float64 `json:"validate_deployment_filled_namespace"`
	MutateHandler        float64 `json:"mutate_handler"`
	MutateHandler64k     float64 `json:"mutate_handler_64k"`
	ValidateHandler      float64 `json:"validate_handler"`
	ValidateHandlerNS    float64 `json:"validate_handler_filled_namespace"`
}

type nopRecorder struct{}

func (nopRecorder) Mutated(string, policy.Mode)   {}
func (nopRecorder) Violation(string, policy.Mode) {}
func (nopRecorder) Exempted()                     {}

const allocRuns = 200

// measureAllocs runs testing.AllocsPerRun on the same objects the webhook cases send.
func measureAllocs(perNamespace int) allocResult {
	var r allocResult
	opts := mutate.DefaultOptions()
	podAllocs := func(proto *corev1.Pod) float64 {
		pods := make([]*corev1.Pod, allocRuns+1) // a fresh pod per call: Pod mutates in place
		for i := range pods {
			pods[i] = proto.DeepCopy()
		}
		i := 0
		return testing.AllocsPerRun(allocRuns, func() { mutate.Pod(pods[i], opts); i++ })
	}
	r.MutatePod = podAllocs(admittedPod(nsMutate))
	big := bigPod(nsMutate, size64k)
	r.MutatePod64k = podAllocs(big)

	rules := validate.DefaultOptions()
	empty := validate.Cluster{}
	filled := filledCluster("ns", perNamespace)
	dEmpty, dFilled := deployment(nsValidate, validateApp(perNamespace)), deployment("ns", validateApp(perNamespace))
	r.ValidateDeployment = testing.AllocsPerRun(allocRuns, func() { validate.Deployment(dEmpty, empty, rules) })
	r.ValidateDeploymentNS = testing.AllocsPerRun(allocRuns, func() { validate.Deployment(dFilled, filled, rules) })

	enforce := func(context.Context, string) (policy.Mode, error) { return policy.ModeEnforce, nil }
	mh := admission.NewPodHandler(func() mutate.Options { return opts }, enforce, nopRecorder{})
	handlerAllocs := func(h cradmission.Handler, body []byte) float64 {
		req := decodeRequest(body)
		return testing.AllocsPerRun(allocRuns, func() { h.Handle(context.Background(), req) })
	}
	r.MutateHandler = handlerAllocs(mh, podReview(admittedPod(nsMutate)))
	r.MutateHandler64k = handlerAllocs(mh, podReview(big))
	lookup := func(c validate.Cluster) admission.ClusterLookup {
		return func(context.Context, string) (validate.Cluster, error) { return c, nil }
	}
	r.ValidateHandler = handlerAllocs(admission.NewWorkloadHandler(rules, enforce, lookup(empty), nopRecorder{}),
		deploymentReview(dEmpty))
	r.ValidateHandlerNS = handlerAllocs(admission.NewWorkloadHandler(rules, enforce, lookup(filled), nopRecorder{}),
		deploymentReview(dFilled))
	return r
}

// filledCluster is what the cache returns for one filled namespace: its PDBs, HPAs and workloads.
func filledCluster(ns string, n int) validate.Cluster {
	var c validate.Cluster
	for i := range n {
		app, kind := appName(i), filledKind(i, n)
		c.PDBs = append(c.PDBs, pdbFor(ns, app))
		c.HPAs = append(c.HPAs, hpaFor(ns, app, kind))
		if kind == validate.KindStatefulSet {
			c.Workloads = append(c.Workloads, validate.StatefulSetWorkload(filledStatefulSet(ns, app)))
		} else {
			c.Workloads = append(c.Workloads, validate.DeploymentWorkload(filledDeployment(ns, app)))
		}
	}
	return c
}

// decodeRequest is the cradmission.Request of an AdmissionReview body, as controller-runtime's webhook decodes it.
func decodeRequest(body []byte) cradmission.Request {
	var review struct {
		Request cradmission.Request `json:"request"`
	}
	if err := json.Unmarshal(body, &review); err != nil {
		panic(err)
	}
	return review.Request
}
