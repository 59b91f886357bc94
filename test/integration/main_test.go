// Package integration proves ha-webhook's admission behaviour through a real kube-apiserver: objects are created
// through the API server and read back from it.
package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// env is the control plane shared by every test of this package, with ha-webhook serving and registered.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, "integration", func(s *testenv.Suite) error {
		var err error
		if env, err = s.ControlPlane(); err != nil {
			return err
		}
		cfg, err := env.ServerConfig()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done, err := env.RunServer(ctx, cfg)
		if err != nil {
			cancel()
			return fmt.Errorf("starting ha-webhook: %w", err)
		}
		s.Cleanup(func() error {
			cancel()
			if err := <-done; err != nil {
				return fmt.Errorf("server stopped with error: %w", err)
			}
			return nil
		})
		return env.Register(ctx, env.WebhookOptions())
	})
}
