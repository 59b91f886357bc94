// Package testenv runs a real kube-apiserver and etcd (controller-runtime's envtest) with ha-webhook registered
// exactly as internal/webhookconfig describes it. The integration tests, the chart tests and `make demo` share it.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// RepoRoot is the repository's top directory, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Assets returns a directory holding the requested control-plane binaries (default kube-apiserver, etcd, kubectl).
// It runs hack/testbin.sh, which reuses KUBEBUILDER_ASSETS or the version-keyed cache and builds what is missing
// from the Go module proxy. It never skips: a failure says what went wrong and how to build by hand.
func Assets(components ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(RepoRoot(), "hack", "testbin.sh")}, components...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr // build progress stays visible in test output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building control-plane binaries with hack/testbin.sh %s failed: %w (run it by hand to see why)",
			strings.Join(components, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], nil
}
