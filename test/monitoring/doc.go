// Package monitoring tests the chart's monitoring (issue 12): the PrometheusRule's alerts evaluated by promtool on
// series the tests write (TestAlertRules), the Grafana dashboard's queries parsed and evaluated by the PromQL engine
// (TestDashboardQueries), and every metric they name compared with what a live `ha-webhook serve` exports
// (TestMetricsExist).
//
// It is a Go module of its own, so that Prometheus (promtool, the PromQL engine) stays out of ha-webhook's go.mod;
// the root module comes from this checkout (replace ../..). Nothing skips: helm, kube-apiserver and etcd are built
// by hack/testbin.sh when missing, promtool by `go tool` from this module's tool directive, and ha-webhook from
// ./cmd/webhook.
//
// It is run from this directory (its own module): go test ./... (KUBEBUILDER_ASSETS, or hack/testbin.sh builds the
// binaries); `make monitoring` does that.
package monitoring
