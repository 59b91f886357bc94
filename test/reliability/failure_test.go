package reliability

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestWebhookDown: the webhook process stops while pods keep being created. With failurePolicy Ignore (the chart's
// default) they are admitted, each without the ha-webhook.io/injected record, so an audit finds exactly them; with
// Fail the API server refuses them with a message naming the webhook and the cause; once the webhook is back,
// pods are mutated again.
func TestWebhookDown(t *testing.T) {
	p := serve(t, "serve", serveOptions{})
	reg := registration{name: "down", base: "https://" + p.webhookAddr, caBundle: p.caPEM,
		policy: admissionregistrationv1.Ignore, timeout: 5}
	register(t, reg)
	ns := scenarioNamespace(t, reg.name)
	mutatedByWebhook(t, ns)
	before := createPods(t, ns, "before-outage", 1)
	if got := unmutated(t, ns); len(got) != 0 {
		t.Fatalf("pods created while the webhook is up lack the record: %v", got)
	}

	p.sigterm(t)
	p.wait(t, 30*time.Second)
	during := createPods(t, ns, "during-outage", 3)
	if d := lonelyDeployment(ns, "lonely"); env.Client.Create(context.Background(), d) != nil {
		t.Errorf("with failurePolicy Ignore a Deployment must be admitted while the webhook is down")
	}
	audit := unmutated(t, ns)
	slices.Sort(audit)
	if !slices.Equal(audit, during) {
		t.Errorf("audit found unmutated pods %v, want exactly those created during the outage %v", audit, during)
	}

	setPolicy(t, reg, admissionregistrationv1.Fail)
	denial := deniedWith(t, ns, `failed calling webhook "`+names.WebhookMutatePod+`"`, "connection refused")
	err := env.Client.Create(context.Background(), lonelyDeployment(ns, "lonely-2"), client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), `failed calling webhook "`+names.WebhookValidateDeployment+`"`) {
		t.Errorf("Deployment with failurePolicy Fail and the webhook down: %v", err)
	}

	// Back up on the same address: mutation resumes.
	serve(t, "serve-again", serveOptions{port: portOf(t, p.webhookAddr), certDir: p.certDir, caPEM: p.caPEM})
	mutatedByWebhook(t, ns)
	t.Logf("FIGURES webhook down: Ignore → %d pods created during the outage (%v), %d before it mutated (%v); audit by missing %s finds %v; "+
		"Deployment admitted unvalidated; Fail → pod refused: %v", len(during), during, len(before), before, names.AnnotationInjected, audit, denial)
}

// TestWebhookSlowerThanTimeout: a webhook that answers after the configuration's timeoutSeconds (a stub TLS server
// that sleeps 3 s, registered with timeoutSeconds 1). With Ignore the pod is admitted unmutated after ~1 s; with
// Fail it is refused with a timeout message.
func TestWebhookSlowerThanTimeout(t *testing.T) {
	certDir := t.TempDir()
	ca, err := devcert.Write(certDir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, devcert.CertFile), filepath.Join(certDir, devcert.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	stub := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"late","allowed":true}}`))
	}))
	stub.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	stub.StartTLS()
	defer stub.Close()

	reg := registration{name: "slow", base: stub.URL, caBundle: ca, policy: admissionregistrationv1.Fail, timeout: 1}
	register(t, reg)
	ns := scenarioNamespace(t, reg.name)
	denial := deniedWith(t, ns, `failed calling webhook "`+names.WebhookMutatePod+`"`)
	if !strings.Contains(denial.Error(), "deadline exceeded") && !strings.Contains(denial.Error(), "timeout") {
		t.Errorf("denial does not say the webhook timed out: %v", denial)
	}

	setPolicy(t, reg, admissionregistrationv1.Ignore)
	var took time.Duration
	waitUntil(t, 30*time.Second, "pod admitted with Ignore", func() error {
		start := time.Now()
		if err := env.Client.Create(context.Background(), servingPod(ns, "admitted-late")); err != nil {
			return err
		}
		took = time.Since(start)
		return nil
	})
	if got := unmutated(t, ns); !slices.Equal(got, []string{"admitted-late"}) {
		t.Errorf("unmutated pods %v, want the one admitted past the slow webhook", got)
	}
	if took < time.Second {
		t.Errorf("pod admitted after %s, before the 1s timeout: was the webhook called?", took)
	}
	t.Logf("FIGURES webhook slower than timeoutSeconds=1: Fail → refused: %v; Ignore → admitted unmutated after %s",
		denial, took.Round(time.Millisecond))
}

// TestCachesNotSynced: `serve` running as a user RBAC grants nothing, so its informers never sync. /readyz keeps
// failing (no Service would route to it), and a request that reaches it anyway is an error, never allowed=true:
// the HTTP status is 500 with the cause, so that the API server applies the failurePolicy — Fail refuses with the cause, Ignore
// admits (fail-open is the administrator's choice, and the API server records it).
func TestCachesNotSynced(t *testing.T) {
	_, kubeconfig, err := env.AddUser("reliability-nobody")
	if err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "unsynced", serveOptions{kubeconfig: kubeconfig})
	waitListening(t, p)

	// Readiness never passes, and says why.
	for range 10 {
		if code := httpStatus(p.readyzURL()); code == http.StatusOK {
			t.Fatal("/readyz passes although the caches cannot sync")
		}
		time.Sleep(300 * time.Millisecond)
	}
	verbose := readBody(t, "http://"+p.healthAddr+"/readyz?verbose")
	if !strings.Contains(verbose, "[-]caches failed") {
		t.Errorf("/readyz?verbose does not blame the caches:\n%s", verbose)
	}

	// Direct requests: an error, never allowed.
	hc := keepAliveClient(tlsConfig(t, p.caPEM), 2)
	ns := scenarioNamespace(t, "unsynced")
	deployment := lonelyDeployment(ns, "web")
	object, _ := json.Marshal(deployment)
	review := fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"unsynced-1",`+
		`"kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},`+
		`"namespace":%q,"name":"web","operation":"CREATE","object":%s}}`, ns, object)
	status, body := postJSON(t, hc, p.webhookURL(names.PathValidateDeployment), review)
	directDeployment := checkServerError(t, "Deployment", status, body)
	status, body = postJSON(t, hc, p.webhookURL(names.PathMutatePod), fmt.Sprintf(podReview, "unsynced-2"))
	directPod := checkServerError(t, "Pod", status, body)

	// Through the API server.
	reg := registration{name: "unsynced", base: "https://" + p.webhookAddr, caBundle: p.caPEM,
		policy: admissionregistrationv1.Fail, timeout: 5}
	register(t, reg)
	var refused error
	waitUntil(t, 30*time.Second, "Deployment refused with failurePolicy Fail", func() error {
		refused = env.Client.Create(context.Background(), lonelyDeployment(ns, "web"), client.DryRunAll)
		if refused == nil {
			return errors.New("admitted")
		}
		return nil
	})
	for _, want := range []string{`failed calling webhook "` + names.WebhookValidateDeployment + `"`, "sync"} {
		if !strings.Contains(refused.Error(), want) {
			t.Errorf("refusal lacks %q: %v", want, refused)
		}
	}
	setPolicy(t, reg, admissionregistrationv1.Ignore)
	waitUntil(t, 30*time.Second, "Deployment admitted with failurePolicy Ignore", func() error {
		return env.Client.Create(context.Background(), lonelyDeployment(ns, "web"), client.DryRunAll)
	})
	t.Logf("FIGURES caches not synced: /readyz failing for 3s+ (%q); direct Deployment → %s; direct Pod → %s; "+
		"through the API server, Fail → %v; Ignore → admitted", firstLine(verbose, "caches"), directDeployment, directPod, refused)
}

// checkServerError: a request the server cannot judge is answered with HTTP 500 and the cause, never an
// AdmissionReview that allows it.
func checkServerError(t *testing.T, what string, status int, body string) string {
	t.Helper()
	var review admissionv1.AdmissionReview
	if json.Unmarshal([]byte(body), &review) == nil && review.Response != nil && review.Response.Allowed {
		t.Errorf("%s admitted by a server whose caches have not synced: %s", what, body)
	}
	if status != http.StatusInternalServerError || !strings.Contains(body, "sync") {
		t.Errorf("%s: HTTP %d %q, want 500 naming the unsynced cache", what, status, body)
	}
	return fmt.Sprintf("HTTP %d %q", status, strings.TrimSpace(body))
}

func postJSON(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(url+"?timeout=10s", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func firstLine(s, containing string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, containing) {
			return l
		}
	}
	return ""
}

// waitListening waits until the webhook port completes a TLS handshake.
func waitListening(t *testing.T, p *serveProc) {
	t.Helper()
	waitUntil(t, 30*time.Second, p.name+" listening", func() error {
		if !p.running() {
			t.Fatalf("%s exited: %v", p.name, p.exitErr)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", p.webhookAddr, tlsConfig(t, p.caPEM))
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(port, &n)
	return n
}
