package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// Env is a running control plane plus what a webhook server needs to be reachable from it.
type Env struct {
	envtest *envtest.Environment
	// Config is an admin (system:masters) REST config.
	Config *rest.Config
	Client client.Client
	// Kubeconfig is a file for kubectl, admin user.
	Kubeconfig string
	// Assets holds kube-apiserver, etcd, kubectl (and whatever else was requested).
	Assets string
	// WebhookHost and WebhookPort are where the API server calls the webhook; CertDir holds a serving certificate
	// for that host, signed by CAData.
	WebhookHost string
	WebhookPort int
	CertDir     string
	CAData      []byte
	dir         string
	// restarted are the kube-apiservers RestartAPIServer started; apiServerLog the latest one's output.
	restarted    []restartedProc
	apiServerLog *SyncBuffer
}

// Start builds (or reuses) the binaries and starts etcd and kube-apiserver on loopback.
func Start(extraComponents ...string) (*Env, error) {
	assets, err := Assets(append([]string{"kube-apiserver", "etcd", "kubectl"}, extraComponents...)...)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1", LocalServingPort: port},
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	e := &Env{envtest: te, Config: cfg, Assets: assets, WebhookHost: "127.0.0.1", WebhookPort: port,
		CertDir: te.WebhookInstallOptions.LocalServingCertDir, CAData: te.WebhookInstallOptions.LocalServingCAData}
	if e.Client, err = client.New(cfg, client.Options{Scheme: server.NewScheme()}); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if e.dir, err = os.MkdirTemp("", "ha-webhook-testenv-"); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	user, err := te.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}

// Stop ends the control plane and removes temporary files.
func (e *Env) Stop() error {
	err := errors.Join(e.stopRestarted(), e.envtest.Stop())
	if e.dir != "" {
		err = errors.Join(err, os.RemoveAll(e.dir))
	}
	return err
}

// Kubectl is the path of the kubectl binary built with the control plane.
func (e *Env) Kubectl() string { return filepath.Join(e.Assets, "kubectl") }

// WebhookOptions are the chart's defaults pointed at this Env's local webhook server.
func (e *Env) WebhookOptions() webhookconfig.Options {
	o := webhookconfig.DefaultOptions()
	base := "https://" + net.JoinHostPort(e.WebhookHost, strconv.Itoa(e.WebhookPort))
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		url := base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: e.CAData}
	}
	return o
}

// ServerConfig is the default `serve` configuration bound to this Env's certificate and port, with free ports for
// health and metrics.
func (e *Env) ServerConfig() (server.Config, error) {
	cfg := server.DefaultConfig()
	cfg.WebhookHost, cfg.WebhookPort, cfg.CertDir = e.WebhookHost, e.WebhookPort, e.CertDir
	health, err := FreePort()
	if err != nil {
		return cfg, err
	}
	cfg.HealthAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(health))
	cfg.MetricsAddr = "0"
	cfg.ShutdownDelay = 0
	cfg.ClientIdleTimeout = 0 // tests stop servers at once; test/reliability measures the drain
	return cfg, nil
}

// RunServer starts ha-webhook's server (the code path of `serve`) in this process and waits until /readyz passes.
// Cancel ctx to stop it; the returned channel yields Run's result.
func (e *Env) RunServer(ctx context.Context, cfg server.Config) (<-chan error, error) {
	srv, err := server.New(e.Config, cfg)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if err := WaitReady(ctx, "http://"+cfg.HealthAddr+"/readyz", done); err != nil {
		return nil, err
	}
	return done, nil
}

// WaitReady polls a readiness URL until it answers 200, the server exits, or 60 s pass.
func WaitReady(ctx context.Context, url string, exited <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after 60s", url)
}

// Register creates (or replaces) the webhook configurations and waits until the API server calls the webhook.
func (e *Env) Register(ctx context.Context, o webhookconfig.Options) error {
	for _, obj := range []client.Object{webhookconfig.Mutating(o), webhookconfig.Validating(o)} {
		_ = e.Client.Delete(ctx, obj)
		if err := e.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("registering %s: %w", obj.GetName(), err)
		}
	}
	return e.waitForMutation(ctx)
}

// waitForMutation dry-runs a pod in an opted-in namespace until the API server's webhook configuration cache has
// caught up and the pod comes back mutated.
func (e *Env) waitForMutation(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ha-webhook-probe", Labels: map[string]string{names.LabelEnabled: "true"}}}
	if err := e.Client.Create(ctx, ns); client.IgnoreAlreadyExists(err) != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns.Name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "probe",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
		}
		if err := e.Client.Create(ctx, pod, client.DryRunAll); err == nil && pod.Annotations[names.AnnotationInjected] != "" {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the API server did not call the mutating webhook within 30s")
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
