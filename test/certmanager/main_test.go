// Package certmanager proves the chart's tls.mode=certManager chain with real cert-manager controllers: the
// chart's Issuers and Certificates issued by cert-manager's own controllers (package controllers, in this test
// process), caBundle injected by cert-manager's cainjector, `ha-webhook serve` reading the issued Secret from a
// directory laid out as the kubelet lays out a Secret volume, and kube-apiserver calling it over that chain, through
// a renewal of the serving certificate and a renewal of the CA under continuous pod creations.
//
// It is its own Go module so that cert-manager's dependency tree stays out of the root go.mod. Everything dials
// loopback only; nothing skips (the control-plane binaries and helm are built by hack/testbin.sh when missing).
package certmanager

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// controllerLog receives everything cert-manager's controllers (klog) and the cainjector (controller-runtime's
// logger) write: at their info level it is a few hundred lines a run, too many for the test output, so the test
// prints the lines about issuance and injection from it, and all of it when it fails.
var controllerLog = &testenv.SyncBuffer{}

func TestMain(m *testing.M) {
	// klog: cert-manager's controllers log through it. Info is cert-manager's level 2 (pkg/logs InfoLevel), where
	// "Updated object" (cainjector) and issuance messages are; one_output keeps an error from being written thrice.
	fs := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL",
		"one_output": "true", "v": "2"} {
		if err := fs.Set(k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	klog.SetOutput(controllerLog)
	// controller-runtime's logger: the cainjector logs through ctrl.Log; zap level -2 is logr V(2), the same level.
	ctrl.SetLogger(zap.New(zap.WriteTo(controllerLog), zap.Level(zapcore.Level(-2))))
	code := m.Run()
	klog.Flush()
	if dir := os.Getenv("CERTMANAGER_TEST_LOG_DIR"); dir != "" {
		// For reading the whole controller log after a passing run.
		_ = os.WriteFile(filepath.Join(dir, "cert-manager-controllers.log"), []byte(controllerLog.String()), 0o600)
	}
	os.Exit(code)
}
