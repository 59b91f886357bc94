// Package audit proves the audit inside `serve` through a real kube-apiserver: its report equals `ha-webhook report`'s
// on the same objects, its gauges, Events and PolicyReports (on the real wgpolicyk8s.io CRD) follow changes made
// through the API server.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ha-webhook/ha-webhook/internal/server"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

var (
	env *testenv.Env
	srv *server.Server
	// metricsURL is the server's /metrics.
	metricsURL string
)

func TestMain(m *testing.M) {
	testenv.Main(m, "audit", func(s *testenv.Suite) error {
		var err error
		if env, err = s.ControlPlane(); err != nil {
			return err
		}
		crd, err := testenv.PolicyReportCRD()
		if err != nil {
			return err
		}
		if err := env.InstallCRDs(crd); err != nil {
			return fmt.Errorf("installing the PolicyReport CRD: %w", err)
		}
		cfg, err := env.ServerConfig()
		if err != nil {
			return err
		}
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		cfg.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		metricsURL = "http://" + cfg.MetricsAddr + "/metrics"
		// Short, so that the tests see each change's audit within a second; the interval only backs it up.
		cfg.AuditDebounce = 200 * time.Millisecond
		cfg.AuditInterval = time.Minute
		cfg.PolicyReports = true
		if srv, err = server.New(env.Config, cfg); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		s.Cleanup(func() error {
			cancel()
			return <-done
		})
		if err := testenv.WaitReady(ctx, "http://"+cfg.HealthAddr+"/readyz", done); err != nil {
			return err
		}
		return env.Register(ctx, env.WebhookOptions())
	})
}

// eventually retries check every 100 ms until it returns nil, failing the test with its last error after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads the server's /metrics.
func scrape() (map[string]*dto.MetricFamily, string, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	return families, string(body), err
}

// gauge is the value of the series name{labels}, or an error when it is not exported.
func gauge(name string, labels map[string]string) (float64, error) {
	families, _, err := scrape()
	if err != nil {
		return 0, err
	}
	f, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("%s is not exported", name)
	}
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			return m.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("%s has no series %v", name, labels)
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// series is one gauge's expected value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// wantGauges waits until every series has its value.
func wantGauges(t *testing.T, what string, want ...series) {
	t.Helper()
	eventually(t, 20*time.Second, what, func() error {
		var errs []error
		for _, w := range want {
			got, err := gauge(w.name, w.labels)
			if err != nil {
				errs = append(errs, err)
			} else if got != w.value {
				errs = append(errs, fmt.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value))
			}
		}
		return errors.Join(errs...)
	})
}

// auditLines are the ha_webhook_audit_ series of namespace ns, as /metrics prints them.
func auditLines(ns string) string {
	_, body, err := scrape()
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "ha_webhook_audit_") && strings.Contains(line, `namespace="`+ns+`"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
