// Package reliability proves that ha-webhook itself never becomes the outage: zero failed admissions through its own
// SIGTERM, a rolling restart of two replicas and certificate rotations, all under load; a corpus of hostile requests
// answered without harm; the failure modes (webhook down, too slow, caches that cannot sync) handled per
// failurePolicy through a real kube-apiserver; and the TLS and port hardening of `serve`.
//
// The server runs as a real `ha-webhook serve` process built from ./cmd/webhook, so SIGTERM, flags and exit codes
// are the product's. Everything dials loopback only. Figures: docs/reliability.md (run with -v to print them).
package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

var (
	// env is the control plane every `serve` process connects to (its caches) and the failure-mode tests go through.
	env *testenv.Env
	// webhookBin is ha-webhook built from this checkout.
	webhookBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	tmp, err := os.MkdirTemp("", "ha-webhook-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	webhookBin = filepath.Join(tmp, "ha-webhook")
	args := []string{"build", "-o", webhookBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/webhook")...)
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: building ha-webhook from ./cmd/webhook: %v\n%s", err, out)
		return 1
	}
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	defer env.Stop()
	return m.Run()
}
