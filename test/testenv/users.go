package testenv

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AddUser creates a user of the control plane with the given groups (none: a user RBAC grants nothing beyond
// discovery) and returns its REST config and a kubeconfig file for it. The reliability tests run `serve` as such a
// user to show that caches which cannot sync make requests fail rather than pass.
func (e *Env) AddUser(name string, groups ...string) (*rest.Config, string, error) {
	user, err := e.envtest.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, "", fmt.Errorf("adding user %s: %w", name, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(e.dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return nil, "", err
	}
	return user.Config(), path, nil
}
