package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"go.uber.org/zap/zapcore"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// The benchmark's webhook process: this same program, started again with childEnv set, runs ha-webhook's server
// (server.New and Run, the code path of `ha-webhook serve`) with the null webhook and the patching null webhook
// registered on its webhook server. Pods through the API server are measured against it, so that the CPU time of the
// webhook — ha-webhook's paths and the null ones alike, on one HTTP stack — is read from its own /proc/PID/stat,
// apart from the load generator's.

// childEnv holds the child's configuration (childConfig as JSON); when set, the program is the webhook process.
const childEnv = "HA_WEBHOOK_BENCH_WEBHOOK"

type childConfig struct {
	Kubeconfig  string `json:"kubeconfig"`
	WebhookPort int    `json:"webhook_port"`
	CertDir     string `json:"cert_dir"`
	HealthAddr  string `json:"health_addr"`
	MetricsAddr string `json:"metrics_addr"`
	// PprofAddr serves Go's /debug/pprof, for -api-cpuprofile.
	PprofAddr string `json:"pprof_addr"`
	// Patch is ha-webhook's own JSON patch for the benchmark pod (nullPatch), which the patching null webhook answers
	// with.
	Patch []byte `json:"patch"`
}

// isChild reports whether this process is the webhook process (main and TestMain run childMain then).
func isChild() bool { return os.Getenv(childEnv) != "" }

// childMain serves until SIGTERM; its exit code is the process's.
func childMain() int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	var c childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, "bench webhook process:", err)
		return 2
	}
	// As `ha-webhook serve` does (cmd/webhook/serve.go): the garbage collector's CPU is part of what an admission
	// costs, so the two processes must collect alike.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench webhook process:", err)
		return 2
	}
	cfg := server.DefaultConfig()
	cfg.WebhookHost, cfg.WebhookPort, cfg.CertDir = "127.0.0.1", c.WebhookPort, c.CertDir
	cfg.HealthAddr, cfg.MetricsAddr, cfg.ShutdownDelay = c.HealthAddr, c.MetricsAddr, 0
	cfg.PprofAddr = c.PprofAddr
	srv, err := server.New(restCfg, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench webhook process:", err)
		return 1
	}
	registerNull(srv)
	registerNullPatch(srv, c.Patch)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench webhook process:", err)
		return 1
	}
	return 0
}

// registerNull registers the null webhook on ha-webhook's webhook server: controller-runtime's admission.Webhook
// decodes the AdmissionReview and the handler answers allowed. Same listener, TLS, HTTP server and instrumentation as
// ha-webhook's paths (but not ha-webhook's own HTTP wrappers, which are part of what ha-webhook costs).
func registerNull(srv *server.Server) {
	srv.WebhookServer().Register(pathNull, &admission.Webhook{Handler: admission.HandlerFunc(
		func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })})
}

// registerNullPatch registers the patching null webhook: it answers every request with patch, the bytes ha-webhook
// answered for the benchmark pod, without reading the request's object. The API server then does exactly what it does
// for ha-webhook's answer (apply the same patch, decode the pod again, re-run the in-tree mutating admission), so
// ha-webhook against it is ha-webhook's own work, on the same HTTP stack. The patch is set as bytes (PatchType set,
// no Patches), which controller-runtime passes through as they are: not even re-marshalled.
func registerNullPatch(srv *server.Server, patch []byte) {
	srv.WebhookServer().Register(pathNullPatch, &admission.Webhook{Handler: admission.HandlerFunc(
		func(context.Context, admission.Request) admission.Response {
			pt := admissionv1.PatchTypeJSONPatch
			resp := admission.Allowed("")
			resp.Patch, resp.PatchType = patch, &pt
			return resp
		})})
}

// startBenchWebhook starts the webhook process (this program again, with childEnv) on free ports, its metrics on,
// and waits until it is ready.
func (b *bench) startBenchWebhook(ctx context.Context, patch []byte) (*webhookProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	a, err := freeAddrs(true)
	if err != nil {
		return nil, err
	}
	pprofPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	pprofAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pprofPort))
	conf, err := json.Marshal(childConfig{Kubeconfig: b.env.Kubeconfig, WebhookPort: a.webhookPort, CertDir: b.env.CertDir,
		HealthAddr: a.health, MetricsAddr: a.metrics, PprofAddr: pprofAddr, Patch: patch})
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(conf))
	p, err := launchReady(ctx, cmd, a)
	if p != nil {
		p.pprof = pprofAddr
	}
	return p, err
}

// haWebhookPatch is ha-webhook's own JSON patch for the pod the clients create through the API server, computed
// once by ha-webhook itself: the pod as the API server hands it to webhooks (a dry-run create while no webhook is
// registered returns it defaulted and through the in-tree admission plugins) is sent, as an AdmissionReview, to the
// in-process ha-webhook's pod mutating path, and the patch of its answer is taken byte for byte. The api phase
// checks that the API server turns it into the same pod as ha-webhook's own answer does.
func (b *bench) haWebhookPatch(ctx context.Context) ([]byte, error) {
	pod := manifestPod(nsAPI)
	if err := b.env.Client.Create(ctx, pod, client.DryRunAll); err != nil {
		return nil, fmt.Errorf("dry-run create of the benchmark pod: %w", err)
	}
	if pod.Annotations[names.AnnotationInjected] != "" {
		return nil, fmt.Errorf("the benchmark pod was mutated before any webhook is registered")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+names.PathMutatePod, bytes.NewReader(podReview(pod)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := newClient(b.tlsConf, 1, nil)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var a reviewAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Response == nil || !a.Response.Allowed || len(a.Response.Patch) == 0 {
		return nil, fmt.Errorf("ha-webhook's answer for the benchmark pod has no patch (HTTP %d, %v): %s", resp.StatusCode, err, body)
	}
	return a.Response.Patch, nil
}
