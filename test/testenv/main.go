package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Main is the TestMain of a test package whose tests share one control plane (test/integration, test/reliability,
// test/chart). They all need the same frame around m.Run, written once here: controller-runtime's logger quietened
// to warnings on stderr, a temporary directory, the control plane started before the tests or on first use and
// stopped after them, and a setup failure printed with the package's name as a failed run (exit 1) before any test
// starts, never a panic or a skip. setup runs before the tests; the cleanups it (or a test) registers run after
// them, last registered first, and so does the control plane's Stop. Main exits the process: with m.Run's code, or
// 1 when setup or a cleanup failed.
//
//	func TestMain(m *testing.M) {
//		testenv.Main(m, "integration", func(s *testenv.Suite) (err error) {
//			env, err = s.ControlPlane()
//			return err
//		})
//	}
func Main(m *testing.M, name string, setup func(*Suite) error) {
	os.Exit(runMain(m, name, setup))
}

func runMain(m *testing.M, name string, setup func(*Suite) error) (code int) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	s := &Suite{name: name}
	var err error
	if s.dir, err = os.MkdirTemp("", "ha-webhook-"+name+"-"); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer os.RemoveAll(s.dir)
	defer func() {
		if !s.runCleanups() {
			code = 1
		}
	}()
	if err := setup(s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return m.Run()
}

// Suite is what Main gives a package's setup: a temporary directory, the shared control plane and cleanups.
type Suite struct {
	name string
	dir  string

	mu       sync.Mutex
	cleanups []func() error

	envOnce sync.Once
	env     *Env
	envErr  error
}

// Dir is a temporary directory for the package's files, removed after the tests.
func (s *Suite) Dir() string { return s.dir }

// Cleanup registers f to run after the tests (or after a failed setup), before the cleanups registered earlier. An
// error from f is printed and fails the run.
func (s *Suite) Cleanup(f func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// ControlPlane starts kube-apiserver and etcd (Start) on its first call and returns the same Env, or the same
// error, on every later one: call it from setup to start before the tests, or from the tests to start only when one
// needs it. The control plane is stopped after the tests; an error stopping it is printed but fails nothing.
func (s *Suite) ControlPlane() (*Env, error) {
	s.envOnce.Do(func() {
		if s.env, s.envErr = Start(); s.envErr != nil {
			return
		}
		s.Cleanup(func() error {
			if err := s.env.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: stopping the control plane: %v\n", s.name, err)
			}
			return nil
		})
	})
	return s.env, s.envErr
}

// BuildWebhook builds the ha-webhook binary into Dir (see BuildWebhook).
func (s *Suite) BuildWebhook(build Build) (string, error) {
	return BuildWebhook(context.Background(), s.dir, build)
}

// runCleanups runs the registered cleanups, last first, and reports whether all succeeded.
func (s *Suite) runCleanups() bool {
	s.mu.Lock()
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	ok := true
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i](); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
			ok = false
		}
	}
	return ok
}
