package reliability

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// Timings of the client model. The API server keeps a pool of keep-alive connections to a webhook Service; once a
// pod's readiness fails, the endpoint is removed and new requests go elsewhere, after a lag (kubelet probe period,
// EndpointSlice update, the API server's endpoint resolution or kube-proxy). The client here polls /readyz every
// readyPoll and stops sending to a backend propagationLag after it first saw it fail.
const (
	readyPoll      = 100 * time.Millisecond
	propagationLag = 500 * time.Millisecond
	// testShutdownDelay is --shutdown-delay in the tests: it must cover readyPoll + propagationLag with a margin
	// (in a cluster the default 10s covers a 5s probe period and endpoint propagation).
	testShutdownDelay = 2 * time.Second
)

// loadRate is the admissions per second of the load scenarios. Under the race detector the server is many times
// slower and two shared cores cannot carry 300/s: the race run checks concurrency, at a rate it can serve.
var loadRate = map[bool]int{false: 300, true: 60}[raceEnabled]

// TestGracefulShutdownUnderLoad: SIGTERM to a `serve` process taking ~300 admissions/s over keep-alive TLS. With a
// shutdown delay, no request sent while the backend was listed fails: readiness drops at once, the process keeps
// serving through the delay (asking clients to close their connections), and a request still in flight when the
// drain begins completes. The control, --shutdown-delay=0, makes the same client fail.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	t.Run("shutdown-delay=2s", func(t *testing.T) {
		r := shutdownUnderLoad(t, testShutdownDelay)
		if r.failed != 0 {
			t.Errorf("%d of %d admissions failed with --shutdown-delay=%s:%s", r.failed, r.sent, testShutdownDelay, firstErrors(r.outcomes, 5))
		}
		if r.sentAfterSigterm < loadRate/10 {
			t.Errorf("only %d admissions sent between SIGTERM and the client's switch-over: the scenario did not exercise the delay", r.sentAfterSigterm)
		}
		if r.readinessDrop > time.Second {
			t.Errorf("/readyz failed %s after SIGTERM, want at once", r.readinessDrop)
		}
		if r.exitAfter < testShutdownDelay {
			t.Errorf("process exited %s after SIGTERM, before the %s delay", r.exitAfter, testShutdownDelay)
		}
		if r.connClose == 0 {
			t.Errorf("no answer after SIGTERM asked the client to close its keep-alive connection")
		}
	})
	t.Run("control shutdown-delay=0 client-idle-timeout=0", func(t *testing.T) {
		r := shutdownUnderLoad(t, 0, "--client-idle-timeout", "0s")
		if r.failed == 0 {
			t.Errorf("with --shutdown-delay=0 a client that keeps its connection saw no failure in %d admissions; the control shows nothing", r.sent)
		}
	})
}

type shutdownResult struct {
	outcomes                                  []outcome
	sent, failed, sentAfterSigterm, connClose int
	failedBeforeSigterm                       int
	readinessDrop, exitAfter, unlistedAfter   time.Duration
}

// shutdownUnderLoad runs serve with --shutdown-delay=delay and args. The control turns off both protections: the
// delay, and the wait for the clients to close their connections (which alone also outlasts a client's lag).
func shutdownUnderLoad(t *testing.T, delay time.Duration, args ...string) shutdownResult {
	p := serve(t, "serve", serveOptions{shutdownDelay: delay, args: args})
	cfg := tlsConfig(t, p.caPEM)
	follower := followReadiness(p.readyzURL(), readyPoll, propagationLag)
	defer follower.close()
	url := p.webhookURL(names.PathMutatePod)
	load := (&loadGen{
		rate: loadRate, keepAlive: keepAliveClient(cfg, 16), fresh: freshClient(cfg), freshEvery: 10,
		target: func() (string, string, bool) { return url, p.name, follower.listed.Load() },
	}).start()
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)

	// A scale request whose body is still arriving when the drain begins: it must complete, and its live read of
	// the Deployment must not be cancelled by the drain.
	var inflight chan error
	if delay > 0 {
		inflight = inflightScale(t, p, cfg, delay)
	}
	sigterm := p.sigterm(t)
	readinessDrop := waitNotReady(t, p, sigterm)
	exited := p.wait(t, delay+30*time.Second)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, unlisted := follower.times(); !unlisted.IsZero() {
			break
		}
	}
	outcomes := load.finish()
	_, unlisted := follower.times()
	if unlisted.IsZero() {
		t.Fatal("the client never saw the backend become unready")
	}
	if inflight != nil {
		if err := <-inflight; err != nil {
			t.Errorf("request in flight when the drain began: %v", err)
		}
	}

	phases := []phase{
		{"steady load, before SIGTERM", start},
		{"SIGTERM → client stops sending (readiness false, still listed)", sigterm},
		{"client no longer sends (held)", unlisted},
	}
	ts := tallyPhases(outcomes, phases)
	r := shutdownResult{outcomes: outcomes, readinessDrop: readinessDrop, exitAfter: exited.Sub(sigterm), unlistedAfter: unlisted.Sub(sigterm)}
	r.sent, r.failed = totals(ts)
	r.sentAfterSigterm = ts[1].sent
	for _, o := range outcomes {
		if o.connClose && o.start.After(sigterm) {
			r.connClose++
		}
	}
	report(t, fmt.Sprintf("graceful shutdown, --shutdown-delay=%s, %d/s", delay, loadRate), ts, fmt.Sprintf(
		"readyz failed %s after SIGTERM; client stopped sending %s after SIGTERM; process exited %s after SIGTERM (code 0); "+
			"%d answers after SIGTERM carried Connection: close; %d requests held after the switch-over",
		readinessDrop.Round(time.Millisecond), r.unlistedAfter.Round(time.Millisecond), r.exitAfter.Round(time.Millisecond),
		r.connClose, load.held.Load()))
	return r
}

// waitNotReady polls /readyz every 5 ms after SIGTERM and returns how long it took to fail.
func waitNotReady(t *testing.T, p *serveProc, since time.Time) time.Duration {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if httpStatus(p.readyzURL()) != http.StatusOK {
			return time.Since(since)
		}
	}
	t.Fatal("/readyz still passes 5s after SIGTERM")
	return 0
}

// inflightScale sends a deployments/scale admission by hand on its own TLS connection: headers and half the body
// shortly before the shutdown delay ends, the rest once the drain has begun (the listener is closed). It returns
// the outcome: nil when the answer is a proper, allowed AdmissionReview.
func inflightScale(t *testing.T, p *serveProc, cfg *tls.Config, delay time.Duration) chan error {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "reliability-inflight-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"inflight-1",`+
		`"kind":{"group":"autoscaling","version":"v1","kind":"Scale"},"resource":{"group":"apps","version":"v1","resource":"deployments"},`+
		`"subResource":"scale","namespace":%q,"name":"web","operation":"UPDATE",`+
		`"object":{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":%q},"spec":{"replicas":4}},`+
		`"oldObject":{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":%q},"spec":{"replicas":3}}}}`,
		ns.Name, ns.Name, ns.Name)
	head := fmt.Sprintf("POST %s?timeout=10s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		names.PathValidateScale, p.webhookAddr, len(body))

	result := make(chan error, 1)
	go func() {
		result <- func() error {
			// Headers and the first half 400 ms before the delay ends (the SIGTERM follows this call at once).
			time.Sleep(delay - 400*time.Millisecond)
			conn, err := tls.Dial("tcp", p.webhookAddr, cfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			half := len(body) / 2
			if _, err := conn.Write([]byte(head + body[:half])); err != nil {
				return err
			}
			firstHalf := time.Now()
			// The rest once the listener is closed, i.e. the drain has begun.
			drainSeen, drainAfter := false, time.Duration(0)
			for deadline := time.Now().Add(delay + 5*time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if c, err := net.DialTimeout("tcp", p.webhookAddr, 200*time.Millisecond); err != nil {
					drainSeen = true
					drainAfter = time.Since(firstHalf)
					break
				} else {
					c.Close()
				}
			}
			if !drainSeen {
				return fmt.Errorf("the listener was never closed")
			}
			if _, err := conn.Write([]byte(body[half:])); err != nil {
				return fmt.Errorf("writing the rest of the body after the drain began: %w", err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return fmt.Errorf("reading the answer: %w", err)
			}
			defer resp.Body.Close()
			var review admissionv1.AdmissionReview
			if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Response == nil {
				return fmt.Errorf("not an AdmissionReview (%v)", err)
			}
			if !review.Response.Allowed {
				return fmt.Errorf("refused: %+v", review.Response.Result)
			}
			if !resp.Close {
				return fmt.Errorf("answer during the drain without Connection: close")
			}
			t.Logf("in-flight deployments/scale request: headers and half the body written %s before the listener closed "+
				"(drain begun), the rest after; answered allowed with Connection: close",
				drainAfter.Round(time.Millisecond))
			return nil
		}()
	}()
	return result
}
