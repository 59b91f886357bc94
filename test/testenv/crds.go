package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// PolicyReportModule ships the wgpolicyk8s.io/v1alpha2 PolicyReport CRD that Kyverno installs, the one Policy
// Reporter and Kubescape read. It is only downloaded (into the Go module cache), never a dependency of ha-webhook.
const PolicyReportModule = "github.com/kyverno/kyverno@v1.19.1"

// PolicyReportCRD is the path of the real PolicyReport CRD, from PolicyReportModule.
func PolicyReportCRD() (string, error) {
	dir, err := ModuleDir(PolicyReportModule)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config", "crds", "policyreport", "wgpolicyk8s.io_policyreports.yaml")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the PolicyReport CRD is not where %s kept it: %w", PolicyReportModule, err)
	}
	return path, nil
}

// ModuleDir downloads module@version into the Go module cache (once) and returns its directory.
func ModuleDir(moduleAtVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", moduleAtVersion)
	cmd.Dir = os.TempDir() // outside any module, so that no go.mod is read or changed
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download %s: %w\n%s%s", moduleAtVersion, err, out.String(), stderr.String())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", moduleAtVersion, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", moduleAtVersion, info.Error)
	}
	return info.Dir, nil
}

// InstallCRDs installs the CRDs in the files and waits until the API server serves them.
func (e *Env) InstallCRDs(paths ...string) error {
	_, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true})
	return err
}
