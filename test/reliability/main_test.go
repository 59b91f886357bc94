// Package reliability proves that ha-webhook itself never becomes the outage: zero failed admissions through its own
// SIGTERM, a rolling restart of two replicas and certificate rotations, all under load; a corpus of hostile requests
// answered without harm; the failure modes (webhook down, too slow, caches that cannot sync) handled per
// failurePolicy through a real kube-apiserver; and the TLS and port hardening of `serve`.
//
// The server runs as a real `ha-webhook serve` process built from ./cmd/webhook, so SIGTERM, flags and exit codes
// are the product's. Everything dials loopback only. Figures: docs/reliability.md (run with -v to print them).
package reliability

import (
	"testing"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

var (
	// env is the control plane every `serve` process connects to (its caches) and the failure-mode tests go through.
	env *testenv.Env
	// webhookBin is ha-webhook built from this checkout (with -race under `go test -race`).
	webhookBin string
)

func TestMain(m *testing.M) {
	testenv.Main(m, "reliability", func(s *testenv.Suite) error {
		build := testenv.BuildDev
		if raceEnabled {
			build = testenv.BuildRace
		}
		var err error
		if webhookBin, err = s.BuildWebhook(build); err != nil {
			return err
		}
		env, err = s.ControlPlane()
		return err
	})
}
