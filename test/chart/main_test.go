// Package chart tests the Helm chart charts/ha-webhook: `helm lint`, invariants of what `helm template` renders
// (compared with internal/webhookconfig and internal/names, and with the real `ha-webhook serve` flag set),
// server-side dry-run of every rendered set against a real kube-apiserver with cert-manager's CRDs, and the rendered
// webhook configurations registered with that API server in front of ha-webhook's server.
//
// Nothing here skips: helm, kube-apiserver, etcd and kubectl are built by hack/testbin.sh when missing (or the test
// fails saying how to build them), and the ha-webhook binary is built from ./cmd/webhook.
package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// kubeVersion is what `helm template` assumes; it is the version of the API server testenv builds.
const kubeVersion = "v1.37.2"

// certManagerModule holds the cert-manager CRDs (deploy/crds) the chart's Issuer and Certificate must satisfy.
const certManagerModule = "github.com/cert-manager/cert-manager@v1.21.2"

var (
	chartDir = filepath.Join(testenv.RepoRoot(), "charts", "ha-webhook")
	// helmBin is helm v4 from hack/testbin.sh; webhookBin is ha-webhook built from this checkout.
	helmBin    string
	webhookBin string
	tmpDir     string

	// suite starts the control plane on first use, so the render-only tests do not wait for it.
	suite   *testenv.Suite
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
)

func TestMain(m *testing.M) {
	testenv.Main(m, "chart", func(s *testenv.Suite) error {
		suite, tmpDir = s, s.Dir()
		assets, err := testenv.Assets("helm")
		if err != nil {
			return fmt.Errorf("helm is needed (hack/testbin.sh helm builds it from the Go module proxy): %w", err)
		}
		helmBin = filepath.Join(assets, "helm")
		webhookBin, err = s.BuildWebhook(testenv.BuildDev)
		return err
	})
}

// controlPlane starts kube-apiserver and etcd once for the package, with cert-manager's CRDs installed.
func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	envOnce.Do(func() {
		start := time.Now()
		if env, envErr = suite.ControlPlane(); envErr != nil {
			return
		}
		envErr = installCertManagerCRDs()
		fmt.Fprintf(os.Stderr, "chart: control plane with cert-manager CRDs ready in %s\n", time.Since(start).Round(time.Millisecond))
	})
	if envErr != nil {
		t.Fatalf("control plane: %v", envErr)
	}
	return env
}

// installCertManagerCRDs applies deploy/crds of the cert-manager module (plain CustomResourceDefinitions, not
// templated) and waits until they are established.
func installCertManagerCRDs() error {
	download := exec.Command("go", "mod", "download", "-json", certManagerModule)
	download.Dir = tmpDir // outside this module: go.mod and go.sum stay untouched
	download.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := download.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", certManagerModule, err)
	}
	var mod struct{ Dir, Error string }
	if err := jsonUnmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no module directory in %s (%v)", certManagerModule, out, err)
	}
	crds := filepath.Join(mod.Dir, "deploy", "crds")
	// Server-side apply: the Issuer CRDs are larger than the last-applied annotation allows.
	if _, stderr, err := kubectl("", "apply", "--server-side", "-f", crds); err != nil {
		return fmt.Errorf("applying cert-manager CRDs from %s: %w\n%s", crds, err, stderr)
	}
	if _, stderr, err := kubectl("", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io"); err != nil {
		return fmt.Errorf("waiting for cert-manager CRDs: %w\n%s", err, stderr)
	}
	return nil
}

// kubectl runs the control plane's kubectl as admin, with a discovery cache of its own.
func kubectl(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(env.Kubectl(), append([]string{"--kubeconfig", env.Kubeconfig,
		"--cache-dir", filepath.Join(tmpDir, "kube-cache")}, args...)...)
	cmd.Stdin = bytes.NewBufferString(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
