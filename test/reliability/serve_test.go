package reliability

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// serveOptions configure one `ha-webhook serve` process; zero values take the defaults below.
type serveOptions struct {
	// certDir holds tls.crt and tls.key; empty: a fresh development CA and certificate for 127.0.0.1.
	certDir string
	// caPEM is the CA of certDir's certificate (set together with certDir).
	caPEM []byte
	// port of the webhook server; 0: a free one.
	port int
	// kubeconfig of the user the server runs as; empty: the control plane's admin.
	kubeconfig string
	// shutdownDelay is passed as --shutdown-delay.
	shutdownDelay time.Duration
	args          []string
}

// serveProc is a running `ha-webhook serve`.
type serveProc struct {
	name        string
	cmd         *exec.Cmd
	webhookAddr string
	healthAddr  string
	metricsAddr string
	caPEM       []byte
	certDir     string
	log         *testenv.SyncBuffer
	done        chan struct{}
	exitErr     error
	exitedAt    time.Time
}

// startServe starts `ha-webhook serve` on loopback ports and returns without waiting for readiness. The process is
// killed (by its pid) at the end of the test if it is still running.
func startServe(t *testing.T, name string, o serveOptions) *serveProc {
	t.Helper()
	if o.certDir == "" {
		o.certDir = filepath.Join(t.TempDir(), "certs")
		ca, err := devcert.Write(o.certDir, []string{"127.0.0.1"}, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		o.caPEM = ca
	}
	if o.port == 0 {
		o.port = freePort(t)
	}
	if o.kubeconfig == "" {
		o.kubeconfig = env.Kubeconfig
	}
	p := &serveProc{
		name:        name,
		webhookAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)),
		healthAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		metricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		caPEM:       o.caPEM,
		certDir:     o.certDir,
		log:         &testenv.SyncBuffer{},
		done:        make(chan struct{}),
	}
	args := append([]string{"serve",
		"--kubeconfig", o.kubeconfig,
		"--webhook-host", "127.0.0.1",
		"--webhook-port", strconv.Itoa(o.port),
		"--webhook-cert-path", o.certDir,
		"--health-probe-bind-address", p.healthAddr,
		"--metrics-bind-address", p.metricsAddr,
		"--shutdown-delay", o.shutdownDelay.String(),
		"--client-idle-timeout", testClientIdle.String(),
	}, o.args...)
	p.cmd = exec.Command(webhookBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if log := p.log.String(); strings.Contains(log, "WARNING: DATA RACE") {
			i := strings.Index(log, "WARNING: DATA RACE")
			t.Errorf("the race detector reported a data race in %s:\n%s", name, log[i:min(len(log), i+6000)])
		} else if t.Failed() {
			t.Logf("log of %s (last 4 KB):\n%s", name, testenv.Tail(log, 4096))
		}
	})
	return p
}

// serve starts a process and waits until its /readyz passes.
func serve(t *testing.T, name string, o serveOptions) *serveProc {
	t.Helper()
	p := startServe(t, name, o)
	p.waitReady(t)
	return p
}

func (p *serveProc) waitReady(t *testing.T) {
	t.Helper()
	exited := make(chan error, 1)
	go func() {
		<-p.done
		exited <- p.exitErr
	}()
	if err := testenv.WaitReady(context.Background(), p.readyzURL(), exited); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

func (p *serveProc) readyzURL() string { return "http://" + p.healthAddr + "/readyz" }

// sigterm starts the graceful shutdown, as the kubelet does.
func (p *serveProc) sigterm(t *testing.T) time.Time {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to %s: %v", p.name, err)
	}
	return time.Now()
}

// wait waits for the process to exit, fails unless it exits 0 within timeout, and returns when it exited.
func (p *serveProc) wait(t *testing.T, timeout time.Duration) time.Time {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running %s after SIGTERM", p.name, timeout)
	}
	if p.exitErr != nil {
		t.Errorf("%s exited with %v, want 0", p.name, p.exitErr)
	}
	return p.exitedAt
}

func (p *serveProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// webhookURL is the URL of a webhook path on this process.
func (p *serveProc) webhookURL(path string) string { return "https://" + p.webhookAddr + path }

// tlsConfig trusts the given CAs, as the API server trusts a webhook configuration's caBundle.
func tlsConfig(t *testing.T, cas ...[]byte) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	for _, ca := range cas {
		if !pool.AppendCertsFromPEM(ca) {
			t.Fatal("no CA certificate in PEM")
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// requestBudget is how long one admission may take, dial and TLS handshake included, before it counts as failed.
// The API server gives a webhook call timeoutSeconds (the chart sets 5, the maximum is 30); the budget here is 10 s
// because the test machine is two cores shared with other jobs, where a process can stall for seconds: a request
// delayed that way is slow, not failed. Latencies are reported with the figures.
const requestBudget = 10 * time.Second

// testClientIdle is the idle-connection timeout of the tests' keep-alive clients, passed to every server as
// --client-idle-timeout: the API server's is 90 s, which the tests shorten so that a drain waiting for the clients to
// close their idle connections takes seconds.
const testClientIdle = 3 * time.Second

// keepAliveClient keeps a pool of HTTP/1.1 keep-alive connections, like the API server's webhook client.
func keepAliveClient(cfg *tls.Config, idlePerHost int) *http.Client {
	return &http.Client{
		Timeout: requestBudget,
		Transport: &http.Transport{
			TLSClientConfig:     cfg,
			MaxIdleConns:        idlePerHost,
			MaxIdleConnsPerHost: idlePerHost,
			IdleConnTimeout:     testClientIdle,
			DialContext:         (&net.Dialer{Timeout: requestBudget}).DialContext,
			TLSHandshakeTimeout: requestBudget,
		},
	}
}

// freshClient opens a new TLS connection for every request.
func freshClient(cfg *tls.Config) *http.Client {
	c := keepAliveClient(cfg, 1)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	return c
}

// metric reads one unlabelled sample (or the sum over its labels) from a Prometheus text endpoint.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("reading metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Fatalf("metric %s not exposed on %s", name, addr)
	}
	return sum
}

// httpStatus GETs a URL and returns the status code (0 when the request failed).
func httpStatus(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
