// Package integration proves ha-webhook's admission behaviour through a real kube-apiserver: objects are created
// through the API server and read back from it.
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// env is the control plane shared by every test of this package, with ha-webhook serving and registered.
var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: ", err)
		return 1
	}
	defer env.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := env.ServerConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: ", err)
		return 1
	}
	done, err := env.RunServer(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: starting ha-webhook: ", err)
		return 1
	}
	if err := env.Register(ctx, env.WebhookOptions()); err != nil {
		fmt.Fprintln(os.Stderr, "integration: ", err)
		return 1
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "integration: server stopped with error: ", err)
		return 1
	}
	return code
}
