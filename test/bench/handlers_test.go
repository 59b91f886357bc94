package main

import (
	"context"
	"testing"

	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Go benchmarks of the admission handlers without HTTP, on the benchmark program's objects, for profiling a change
// in isolation, from this directory: go test -run '^$' -bench . -benchmem [-cpuprofile cpu.out]

func benchHandler(b *testing.B, h cradmission.Handler, body []byte) {
	req := decodeRequest(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp := h.Handle(context.Background(), req)
		if err := resp.Complete(req); err != nil {
			b.Fatal(err)
		}
	}
}

func enforceEverywhere(context.Context, string) (policy.Mode, error) { return policy.ModeEnforce, nil }

func mutateHandler() cradmission.Handler {
	opts := mutate.DefaultOptions()
	return admission.NewPodHandler(func() mutate.Options { return opts }, enforceEverywhere, nopRecorder{})
}

func BenchmarkMutateHandler(b *testing.B) {
	benchHandler(b, mutateHandler(), podReview(admittedPod(nsMutate)))
}

func BenchmarkMutateHandler64k(b *testing.B) {
	benchHandler(b, mutateHandler(), podReview(bigPod(nsMutate, size64k)))
}

func BenchmarkValidateHandler(b *testing.B) {
	c := filledCluster("ns", 10)
	h := admission.NewWorkloadHandler(validate.DefaultOptions(), enforceEverywhere,
		func(context.Context, string) (validate.Cluster, error) { return c, nil }, nopRecorder{})
	benchHandler(b, h, deploymentReview(deployment("ns", validateApp(10))))
}
